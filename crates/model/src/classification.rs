//! Classification levels, ordered `U < C < S < TS`.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Classification {
    #[serde(rename = "UNCLASSIFIED", alias = "U")]
    Unclassified,
    #[serde(rename = "CONFIDENTIAL", alias = "C")]
    Confidential,
    #[serde(rename = "SECRET", alias = "S")]
    Secret,
    #[serde(rename = "TOP SECRET", alias = "TS")]
    TopSecret,
}

impl Classification {
    pub const ALL: [Classification; 4] =
        [Classification::Unclassified, Classification::Confidential, Classification::Secret, Classification::TopSecret];

    /// Accepts the full and the abbreviated form, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let upper = text.trim().to_ascii_uppercase();
        let words: Vec<&str> = upper.split_whitespace().collect();
        match words.as_slice() {
            ["U"] | ["UNCLASSIFIED"] => Some(Classification::Unclassified),
            ["C"] | ["CONFIDENTIAL"] => Some(Classification::Confidential),
            ["S"] | ["SECRET"] => Some(Classification::Secret),
            ["TS"] | ["TOP", "SECRET"] => Some(Classification::TopSecret),
            _ => None,
        }
    }

    pub fn full(self) -> &'static str {
        match self {
            Classification::Unclassified => "UNCLASSIFIED",
            Classification::Confidential => "CONFIDENTIAL",
            Classification::Secret => "SECRET",
            Classification::TopSecret => "TOP SECRET",
        }
    }

    pub fn abbreviation(self) -> &'static str {
        match self {
            Classification::Unclassified => "U",
            Classification::Confidential => "C",
            Classification::Secret => "S",
            Classification::TopSecret => "TS",
        }
    }

    /// Rank used in stores and policies: 0 for U up to 3 for TS.
    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        Classification::ALL.into_iter().find(|c| i64::from(c.rank()) == rank)
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.full())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_u_c_s_ts() {
        use Classification::*;
        assert!(Unclassified < Confidential && Confidential < Secret && Secret < TopSecret);
    }

    #[test]
    fn full_and_abbreviated_forms_parse() {
        for c in Classification::ALL {
            assert_eq!(Classification::parse(c.full()), Some(c));
            assert_eq!(Classification::parse(c.abbreviation()), Some(c));
            assert_eq!(Classification::parse(&c.full().to_lowercase()), Some(c));
            assert_eq!(Classification::from_rank(i64::from(c.rank())), Some(c));
        }
        assert_eq!(Classification::parse("top  secret"), Some(Classification::TopSecret));
        assert_eq!(Classification::parse("X"), None);
    }
}
