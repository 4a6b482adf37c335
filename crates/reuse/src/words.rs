//! Normalised words: what the shingles are made of, so everything that should not count as a
//! change (case, spacing, punctuation, hyphens, digit grouping, invisible and compatibility
//! characters) is gone before hashing. Part of the persisted format, like the hash.

use std::ops::Range;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// One normalised word of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as compared: lower case, compatibility-decomposed, without marks, joiners,
    /// apostrophes, digit-group commas or the hyphen after a bound prefix.
    pub text: String,
    /// Its bytes in the original text, from its first character to its last.
    pub span: Range<usize>,
}

/// Prefixes written solid or hyphenated but never as a word of their own, so "co-ordinate"
/// reads as "coordinate". After any other word a hyphen separates, so "route-clearance" reads as
/// "route clearance".
pub const BOUND_PREFIXES: [&str; 17] = [
    "anti", "bi", "co", "de", "e", "inter", "intra", "mid", "multi", "non", "post", "pre", "re", "semi", "sub", "tri",
    "un",
];

/// A character of the normalised text, with the bytes of the original character it came from.
#[derive(Clone, Copy)]
struct Normalised {
    c: char,
    start: usize,
    end: usize,
}

/// Characters that may sit inside a word unseen: dropping them (rather than splitting there)
/// defeats zero-width insertion.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`')
}

/// Letters and digits, but not the modifier letter apostrophe (ʼ), an apostrophe here.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_apostrophe(c)
}

/// Hyphens proper; dashes (en, em) always separate.
fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}')
}

/// The text decomposed (NFKD), lower-cased and stripped of marks and invisible characters.
fn normalise(text: &str) -> Vec<Normalised> {
    let mut out = Vec::with_capacity(text.len());
    for (start, ch) in text.char_indices() {
        let end = start + ch.len_utf8();
        if ch.is_ascii() {
            // Most text: no decomposition, no marks, and a cheaper lower case.
            out.push(Normalised { c: ch.to_ascii_lowercase(), start, end });
            continue;
        }
        if is_invisible(ch) {
            continue;
        }
        decompose_compatible(ch, |d| {
            out.extend(d.to_lowercase().filter(|&l| !is_combining_mark(l)).map(|c| Normalised { c, start, end }));
        });
    }
    out
}

/// Where the current word goes on after the non-alphanumeric character at `at`, if it joins the
/// word rather than ending it. `part` is the word so far since its last joined hyphen.
fn joined(chars: &[Normalised], at: usize, part: &str) -> Option<usize> {
    let c = chars[at].c;
    let alnum_at = |i: usize| chars.get(i).is_some_and(|n| is_word_char(n.c));
    let numeric_at = |i: usize| chars.get(i).is_some_and(|n| n.c.is_numeric());
    if is_apostrophe(c) && alnum_at(at + 1) {
        return Some(at + 1);
    }
    // A comma grouping thousands: a digit before it, exactly three after.
    if c == ',' && numeric_at(at.wrapping_sub(1)) && (1..=3).all(|d| numeric_at(at + d)) && !numeric_at(at + 4) {
        return Some(at + 1);
    }
    if is_hyphen(c) && BOUND_PREFIXES.contains(&part) {
        // Directly followed by the rest of the word, or after a line break ("co-\nordinate").
        let mut next = at + 1;
        let mut newline = false;
        while let Some(n) = chars.get(next).filter(|n| n.c.is_whitespace()) {
            newline |= n.c == '\n';
            next += 1;
        }
        if (next == at + 1 || newline) && alnum_at(next) {
            return Some(next);
        }
    }
    None
}

/// Normalised words of a text, each with its byte range in the original text.
///
/// A word is a run of letters and digits after normalisation; anything else separates words,
/// except an apostrophe inside a word ("don’t" is "dont"), a comma grouping digits ("1,000" is
/// "1000") and a hyphen after one of [`BOUND_PREFIXES`].
pub fn words(text: &str) -> Vec<Word> {
    let chars = normalise(text);
    let mut words = Vec::with_capacity(chars.len() / 5 + 1);
    // Reused for every word, each copied out at its exact size: one allocation a word.
    let mut current = String::new();
    let mut span = 0..0;
    // Byte offset in `current` where the part after the last joined hyphen starts.
    let mut part = 0;
    let mut at = 0;
    while let Some(n) = chars.get(at) {
        if is_word_char(n.c) {
            if current.is_empty() {
                span = n.start..n.end;
                part = 0;
            }
            span.end = n.end;
            current.push(n.c);
            at += 1;
            continue;
        }
        if !current.is_empty() {
            if let Some(next) = joined(&chars, at, &current[part..]) {
                if is_hyphen(n.c) {
                    part = current.len();
                }
                at = next;
                continue;
            }
            words.push(Word { text: current.clone(), span: span.clone() });
            current.clear();
        }
        at += 1;
    }
    if !current.is_empty() {
        words.push(Word { text: current, span });
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        words(text).into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn separators_and_joins() {
        assert_eq!(
            texts("Don’t co-ordinate 1,000,000 route-clearance"),
            ["dont", "coordinate", "1000000", "route", "clearance"]
        );
        assert_eq!(texts("1,00 1,0000 a,b"), ["1", "00", "1", "0000", "a", "b"]);
        assert_eq!(texts("co - ordinate, co-\n  ordinate, re-"), ["co", "ordinate", "coordinate", "re"]);
        assert_eq!(texts("non-co-operative"), ["noncooperative"]);
    }

    #[test]
    fn spans_cover_the_original_characters() {
        let text = "“Ｒoute”\u{200B} ﬁeld-work";
        let found = words(text);
        assert_eq!(texts(text), ["route", "field", "work"]);
        assert_eq!(&text[found[0].span.clone()], "Ｒoute");
        assert_eq!(&text[found[1].span.clone()], "ﬁeld");
        assert_eq!(&text[found[2].span.clone()], "work");
    }
}
