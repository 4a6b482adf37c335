//! A vocabulary of 500 words, each with the ways it may be written, and a writer that varies
//! everything normalisation should ignore.

#![allow(dead_code, reason = "each test file uses part of this")]

use tearline_reuse::BOUND_PREFIXES;

/// Words with several written forms: hyphenated prefixes, digit grouping, apostrophes,
/// compatibility characters and marks. The first form is the plain one.
const SPECIAL: [(&str, &[&str]); 16] = [
    ("coordinate", &["coordinate", "co-ordinate", "co\u{2010}ordinate"]),
    ("cooperation", &["cooperation", "co-operation"]),
    ("reassess", &["reassess", "re-assess"]),
    ("nonlethal", &["nonlethal", "non-lethal"]),
    ("postblast", &["postblast", "post-blast"]),
    ("1000", &["1000", "1,000"]),
    ("25000", &["25000", "25,000"]),
    ("1200000", &["1200000", "1,200,000"]),
    ("0200", &["0200"]),
    ("dont", &["don't", "don’t"]),
    ("partys", &["party's", "party’s", "partyʼs"]),
    ("field", &["field", "ﬁeld"]),
    ("office", &["office", "oﬃce"]),
    ("route", &["route", "ｒｏｕｔｅ"]),
    ("cafe", &["cafe", "café", "cafe\u{301}"]),
    ("naive", &["naive", "naïve"]),
];

const SYLLABLES: [&str; 20] = [
    "ka", "ro", "mi", "tu", "le", "sa", "po", "ne", "di", "gu", "fa", "zo", "be", "ri", "mo", "ta", "vi", "lu", "pe",
    "ho",
];

pub const VOCABULARY_SIZE: usize = 500;

pub struct Entry {
    /// The word as normalised.
    pub word: String,
    pub forms: Vec<String>,
}

/// The special words, then made-up ones (none a bound prefix) up to [`VOCABULARY_SIZE`].
pub fn vocabulary() -> Vec<Entry> {
    let mut entries: Vec<Entry> = SPECIAL
        .iter()
        .map(|(word, forms)| Entry { word: word.to_string(), forms: forms.iter().map(|f| f.to_string()).collect() })
        .collect();
    'outer: for a in SYLLABLES {
        for b in SYLLABLES {
            for end in ["", "n", "st", "ra"] {
                let word = format!("{a}{b}{end}");
                if !BOUND_PREFIXES.contains(&word.as_str()) {
                    entries.push(Entry { forms: vec![word.clone()], word });
                }
                if entries.len() == VOCABULARY_SIZE {
                    break 'outer;
                }
            }
        }
    }
    entries
}

/// A tiny deterministic generator (xorshift64), so the tests and their failures replay.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Which of the changes normalisation should ignore a writer makes.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub case: bool,
    pub wrap: bool,
    pub punctuation: bool,
    pub zero_width: bool,
    pub hyphens: bool,
    /// Other written forms: hyphenated prefixes, digit grouping, apostrophes, compatibility
    /// characters, marks.
    pub forms: bool,
}

impl Style {
    pub const PLAIN: Style =
        Style { case: false, wrap: false, punctuation: false, zero_width: false, hyphens: false, forms: false };

    pub fn from_flags(flags: [bool; 6]) -> Self {
        let [case, wrap, punctuation, zero_width, hyphens, forms] = flags;
        Style { case, wrap, punctuation, zero_width, hyphens, forms }
    }
}

const ZERO_WIDTH: [char; 5] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];
const WHITESPACE: [&str; 6] = [" ", "\n", "  ", "\t", "\r\n", " \n  "];
const PUNCTUATION: [&str; 14] = [", ", ". ", "; ", ": ", " – ", " — ", "—", " “", "” ", " (", ") ", "\" ", " '", "… "];

/// Writes the words `ids` of `vocabulary` in `style`.
pub fn write(vocabulary: &[Entry], ids: &[usize], style: Style, rng: &mut Rng) -> String {
    let mut out = String::new();
    for (n, &id) in ids.iter().enumerate() {
        if n > 0 {
            let separator = if style.hyphens && rng.one_in(6) {
                "-"
            } else if style.punctuation && rng.one_in(3) {
                rng.pick(&PUNCTUATION)
            } else if style.wrap {
                rng.pick(&WHITESPACE)
            } else {
                " "
            };
            out.push_str(separator);
        }
        let entry = &vocabulary[id];
        let mut form = if style.forms { rng.pick(&entry.forms).clone() } else { entry.forms[0].clone() };
        if style.case {
            form = match rng.below(3) {
                0 => form.to_uppercase(),
                1 => form
                    .chars()
                    .enumerate()
                    .flat_map(|(i, c)| if i == 0 { c.to_uppercase().collect() } else { vec![c] })
                    .collect(),
                _ => form,
            };
        }
        if style.zero_width && rng.one_in(3) {
            let boundaries: Vec<usize> = form.char_indices().map(|(i, _)| i).chain([form.len()]).collect();
            form.insert(*rng.pick(&boundaries), *rng.pick(&ZERO_WIDTH));
        }
        out.push_str(&form);
    }
    out
}

/// `ids` with `count` words, at distinct random places, changed to other words.
pub fn substitute(ids: &[usize], count: usize, rng: &mut Rng) -> Vec<usize> {
    let mut changed = ids.to_vec();
    let mut places: Vec<usize> = (0..ids.len()).collect();
    for _ in 0..count.min(ids.len()) {
        let place = places.swap_remove(rng.below(places.len()));
        changed[place] = (changed[place] + 1 + rng.below(VOCABULARY_SIZE - 1)) % VOCABULARY_SIZE;
    }
    changed
}

/// `count` words drawn uniformly.
pub fn draw(count: usize, rng: &mut Rng) -> Vec<usize> {
    (0..count).map(|_| rng.below(VOCABULARY_SIZE)).collect()
}
