//! Codes naming parties and groups (`USA`, `IRQ`, `FVEY`, `BIC`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An upper-case code of 3 to 8 ASCII letters: a party (`USA`) or a group (`FVEY`).
///
/// Input is accepted in any case and stored upper-case, so `irq` and `IRQ` are one code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

/// Why a text is not a valid [`Code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a party or group code (3 to 8 letters A-Z)")]
pub struct CodeError {
    pub text: String,
}

impl Code {
    pub fn new(text: &str) -> Result<Self, CodeError> {
        let trimmed = text.trim();
        let valid = (3..=8).contains(&trimmed.len()) && trimmed.bytes().all(|b| b.is_ascii_alphabetic());
        if valid {
            Ok(Code(trimmed.to_ascii_uppercase()))
        } else {
            Err(CodeError { text: text.to_string() })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Code {
    type Error = CodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Code::new(&value)
    }
}

impl From<Code> for String {
    fn from(code: Code) -> String {
        code.0
    }
}

impl std::str::FromStr for Code {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_upper_case_letters_of_three_to_eight() {
        assert_eq!(Code::new("irq").map(|c| c.to_string()), Ok("IRQ".to_string()));
        assert!(Code::new("FVEY").is_ok());
        assert!(Code::new("ABCDEFGH").is_ok());
        assert!(Code::new("AB").is_err());
        assert!(Code::new("ABCDEFGHI").is_err());
        assert!(Code::new("US1").is_err());
        assert!(Code::new("").is_err());
    }
}
