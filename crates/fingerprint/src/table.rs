//! The curated alternation table (`alternations.txt`, documented in the file itself).

use std::collections::HashMap;

use crate::text::{tokens, Token};
use crate::{Channel, FingerprintError};

/// The table of the current scheme ([`crate::SCHEME_VERSION`]).
pub(crate) const SHIPPED: &str = include_str!("alternations.txt");
/// The table of scheme 1, frozen: copies marked with it are read against it.
const SHIPPED_V1: &str = include_str!("alternations-v1.txt");

/// Endings of the -ise/-ize spelling classes generated from an `ise*:` stem.
const ISE_ENDINGS: [(&str, &str); 6] = [
    ("ise", "ize"),
    ("ised", "ized"),
    ("ises", "izes"),
    ("ising", "izing"),
    ("isation", "ization"),
    ("isations", "izations"),
];

/// Interchangeable forms.
#[derive(Debug)]
pub(crate) struct Class {
    pub channel: Channel,
    /// One choice per text rather than per occurrence.
    pub tied: bool,
    /// Only at the start of a sentence.
    pub sentence_start: bool,
    /// Only before a number.
    pub before_number: bool,
    /// Only as a verb: not after a determiner or a form of "be" ("the said vehicle", "it is said
    /// that" are not "stated").
    pub verb: bool,
    pub forms: Vec<Form>,
}

#[derive(Debug)]
pub(crate) struct Form {
    /// As rendered (lower case; capitalised at the start of a sentence).
    pub text: String,
    /// Its retyped tokens, what a text is matched against.
    pub tokens: Vec<Token>,
    /// Found in texts, not only offered.
    pub source: bool,
}

#[derive(Debug)]
pub(crate) struct Table {
    /// The marking scheme the table belongs to: the scanners of `points.rs` follow it too.
    pub scheme: u32,
    pub classes: Vec<Class>,
    /// (class, form) of each source form, by its first token.
    by_first: HashMap<String, Vec<(usize, usize)>>,
}

impl Table {
    /// The table shipped for `scheme`, if the crate knows that scheme.
    pub fn shipped(scheme: u32) -> Option<Result<Table, FingerprintError>> {
        match scheme {
            1 => Some(Table::parse_as(SHIPPED_V1, 1)),
            crate::SCHEME_VERSION => Some(Table::parse(SHIPPED)),
            _ => None,
        }
    }

    /// A table for the current scheme.
    pub fn parse(text: &str) -> Result<Table, FingerprintError> {
        Table::parse_as(text, crate::SCHEME_VERSION)
    }

    pub fn parse_as(text: &str, scheme: u32) -> Result<Table, FingerprintError> {
        let mut classes = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| FingerprintError::Table { line: number + 1, reason: reason.to_string() };
            let (head, body) = line.split_once(':').ok_or_else(|| bad("no `channel:`"))?;
            let (name, tied) = match head.strip_suffix('*') {
                Some(name) => (name, true),
                None => (head, false),
            };
            if name == "ise" {
                for stem in body.split_whitespace() {
                    for (british, american) in ISE_ENDINGS {
                        let forms = [format!("{stem}{british}"), format!("{stem}{american}")];
                        classes.push(
                            class(Channel::Spelling, true, forms.iter().map(String::as_str)).map_err(|e| bad(&e))?,
                        );
                    }
                }
                continue;
            }
            let channel = match name {
                "wording" => Channel::Wording,
                "spelling" => Channel::Spelling,
                "hyphenation" => Channel::Hyphenation,
                _ => return Err(bad("unknown channel")),
            };
            classes.push(class(channel, tied, body.split('|')).map_err(|e| bad(&e))?);
        }
        let mut by_first: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        for (c, class) in classes.iter().enumerate() {
            for (f, form) in class.forms.iter().enumerate() {
                if let (true, Some(first)) = (form.source, form.tokens.first()) {
                    by_first.entry(first.text.clone()).or_default().push((c, f));
                }
            }
        }
        // Longest forms first, so "in order to" wins over a shorter form it starts with.
        for candidates in by_first.values_mut() {
            candidates.sort_by_key(|&(c, f)| std::cmp::Reverse(classes[c].forms[f].tokens.len()));
        }
        Ok(Table { scheme, classes, by_first })
    }

    /// Source forms whose first token is `first`, longest first.
    pub fn starting_with(&self, first: &str) -> &[(usize, usize)] {
        self.by_first.get(first).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn class<'a>(channel: Channel, tied: bool, forms: impl Iterator<Item = &'a str>) -> Result<Class, String> {
    let mut sentence_start = false;
    let mut before_number = false;
    let mut verb = false;
    let mut parsed: Vec<Form> = Vec::new();
    for raw in forms {
        let mut text = raw.trim();
        let mut source = true;
        if let Some(rest) = text.strip_prefix('~') {
            source = false;
            text = rest;
        }
        if let Some(rest) = text.strip_prefix('^') {
            sentence_start = true;
            text = rest;
        }
        if let Some(rest) = text.strip_suffix("{v}") {
            verb = true;
            text = rest.trim_end();
        }
        if let Some(rest) = text.strip_suffix("{n}") {
            before_number = true;
            text = rest.trim_end();
        }
        if text.is_empty() || text != text.to_lowercase() {
            return Err(format!("form {raw:?} is empty or not lower case"));
        }
        let tokens = tokens(text);
        if parsed.iter().any(|f| f.tokens == tokens) {
            return Err(format!("form {raw:?} repeats another once retyped"));
        }
        parsed.push(Form { text: text.to_string(), tokens, source });
    }
    if parsed.len() < 2 || !parsed.iter().any(|f| f.source) {
        return Err("a class needs two forms, one of them a source".to_string());
    }
    Ok(Class { channel, tied, sentence_start, before_number, verb, forms: parsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses() {
        let table = Table::parse(SHIPPED).unwrap();
        assert!(table.classes.len() > 100, "{} classes", table.classes.len());
        assert!(!table.starting_with("approximately").is_empty());
        assert!(table.starting_with("about").is_empty(), "output-only forms are never matched");
    }

    #[test]
    fn ise_stems_make_both_spellings_of_each_ending() {
        let table = Table::parse("ise*: organ").unwrap();
        let forms: Vec<(&str, &str)> =
            table.classes.iter().map(|c| (c.forms[0].text.as_str(), c.forms[1].text.as_str())).collect();
        assert!(forms.contains(&("organisation", "organization")));
        assert!(forms.iter().all(|_| table.classes.iter().all(|c| c.tied && c.channel == Channel::Spelling)));
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        for (text, line) in
            [("wording: a | a", 1), ("\nwording: only", 2), ("# c\nnoise: a | b", 2), ("wording: A | b", 1)]
        {
            match Table::parse(text) {
                Err(FingerprintError::Table { line: found, .. }) => assert_eq!(found, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
