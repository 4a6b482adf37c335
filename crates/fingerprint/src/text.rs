//! Retyping: what a leaked text may have lost on its way out, and the tokens the tracer compares.
//!
//! A leak is read after the normalisations a person retyping or re-pasting it would cause: case,
//! curly and straight quotes, dashes, line breaks and runs of spaces, invisible characters. A
//! variation survives only if two of its variants still differ after this, so every variant the
//! marker offers is compared in this form.

/// Characters that render as nothing: the fragile channel's carriers, and what a leaker's tools
/// may add or strip.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

fn is_dash(c: char) -> bool {
    matches!(c, '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}')
}

fn is_double_quote(c: char) -> bool {
    matches!(c, '\u{201C}'..='\u{201F}' | '\u{00AB}' | '\u{00BB}' | '\u{2033}' | '\u{FF02}')
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\u{2018}'..='\u{201B}' | '\u{2032}' | '\u{2039}' | '\u{203A}' | '`')
}

/// One character of a text, retyped.
enum Retyped {
    Dropped,
    Space,
    Shown(char),
    Lower(std::char::ToLowercase),
}

fn retype_char(c: char) -> Retyped {
    match c {
        c if is_invisible(c) => Retyped::Dropped,
        c if c.is_whitespace() => Retyped::Space,
        c if is_dash(c) => Retyped::Shown('-'),
        c if is_double_quote(c) => Retyped::Shown('"'),
        c if is_single_quote(c) => Retyped::Shown('\''),
        c => Retyped::Lower(c.to_lowercase()),
    }
}

/// The text as the tracer sees any copy of it: lower case, one kind of quote and of dash, runs
/// of whitespace as one space, invisible characters gone.
pub fn retype(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        let shown = match retype_char(c) {
            Retyped::Dropped => continue,
            Retyped::Space => {
                space = true;
                continue;
            }
            shown => shown,
        };
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        match shown {
            Retyped::Shown(c) => out.push(c),
            Retyped::Lower(lower) => out.extend(lower),
            Retyped::Dropped | Retyped::Space => {}
        }
    }
    out
}

/// A token of retyped text: a run of letters, a run of digits, or one other character, and
/// whether whitespace comes before it ("12 km" and "12km" differ only there).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Token {
    pub text: String,
    pub space: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Other,
}

fn class(c: char) -> Class {
    if c.is_alphabetic() {
        Class::Letter
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Other
    }
}

/// Tokenises retyped text piece by piece, so a template's fixed text and its variants make the
/// tokens the whole rendering would.
#[derive(Default)]
pub(crate) struct Tokens {
    tokens: Vec<Token>,
    /// Bytes of each token in the text pushed, when pushed whole.
    spans: Vec<std::ops::Range<usize>>,
    space: bool,
    open: Option<Class>,
}

impl Tokens {
    pub fn push(&mut self, text: &str) {
        for (at, c) in text.char_indices() {
            match retype_char(c) {
                Retyped::Dropped => {}
                Retyped::Space => {
                    self.space = true;
                    self.open = None;
                }
                Retyped::Shown(shown) => self.push_char(shown, at..at + c.len_utf8()),
                Retyped::Lower(lower) => lower.for_each(|l| self.push_char(l, at..at + c.len_utf8())),
            }
        }
    }

    fn push_char(&mut self, c: char, bytes: std::ops::Range<usize>) {
        let class = class(c);
        match (self.open, self.tokens.last_mut(), self.spans.last_mut()) {
            (Some(open), Some(last), Some(span)) if open == class && class != Class::Other => {
                last.text.push(c);
                span.end = bytes.end;
            }
            _ => {
                self.tokens.push(Token { text: c.to_string(), space: self.space });
                self.spans.push(bytes);
                self.open = Some(class);
            }
        }
        self.space = false;
    }

    /// The tokens, and the bytes of each in the text (meaningful when it was pushed whole).
    pub fn finish_with_spans(self) -> (Vec<Token>, Vec<std::ops::Range<usize>>) {
        (self.tokens, self.spans)
    }

    pub fn finish(self) -> Vec<Token> {
        self.tokens
    }
}

/// The tokens of a whole text.
pub(crate) fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Tokens::default();
    tokens.push(text);
    tokens.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retyping_forgets_case_quotes_dashes_spacing_and_invisible_characters() {
        assert_eq!(
            retype("  The \u{201C}Convoy\u{201D}\u{00A0}\u{2014} it\u{2019}s\n\nhere\u{200B}."),
            "the \"convoy\" - it's here."
        );
    }

    #[test]
    fn tokens_split_letters_digits_and_marks_and_keep_spacing() {
        let tokens = tokens("12km, 12 km; cross-border");
        let shown: Vec<(&str, bool)> = tokens.iter().map(|t| (t.text.as_str(), t.space)).collect();
        assert_eq!(
            shown,
            [
                ("12", false),
                ("km", false),
                (",", false),
                ("12", true),
                ("km", true),
                (";", false),
                ("cross", true),
                ("-", false),
                ("border", false)
            ]
        );
    }

    #[test]
    fn tokenising_in_pieces_equals_tokenising_the_whole() {
        let whole = tokens("On 14 March 2026, the unit moved 12km north.");
        let mut pieces = Tokens::default();
        for piece in ["On 14 ", "March", " 2026", ",", " the unit moved 12", "km north."] {
            pieces.push(piece);
        }
        assert_eq!(pieces.finish(), whole);
    }
}
