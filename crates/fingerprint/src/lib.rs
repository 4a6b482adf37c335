//! Leak attribution. Every copy of a text released to a recipient party is rendered with
//! meaning-preserving variations chosen for that party, so that a leaked copy, or a fragment of
//! one, retyped and partly changed, names the party it was released to. Pure: no I/O.
//!
//! # How
//!
//! 1. **Variation points** ([`Template`]), found from the text alone: wording alternations
//!    from the curated table that ships with the crate (`alternations.txt`), spelling and
//!    hyphenation variants, number and date formats, optional commas (after sentence openers,
//!    the serial comma), an optional "that" after reporting verbs, and the order of two
//!    coordinated plurals. Names, quotations, indicators, identifiers, numbers' values and
//!    verbatim spans are never touched (see `points.rs`).
//! 2. **The code** (`code.rs`): each point's variant for a recipient is a symbol of a q-ary
//!    Tardos code, drawn by a keyed PRF of (hub secret, text id, point, recipient), so the
//!    same recipient always gets the same copy of a text version.
//! 3. **A fragile invisible channel**: a 32-bit tag of (text, recipient) in zero-width
//!    characters near the middle of longer texts. Tracing reports it when it survives; the
//!    accusation never depends on it.
//! 4. **Tracing** ([`Fingerprinter::trace`]): the leak is retyped (case, quotes, dashes,
//!    whitespace, invisible characters), aligned with each candidate source text, the points
//!    it covers are read, every recipient of those texts is scored with the symmetric score,
//!    and the parties above the threshold are accused. The threshold is a Chernoff bound on an
//!    innocent recipient's score, computed for the points actually read and shared among the
//!    recipients scored, so that a trace accuses any innocent recipient with probability at most
//!    `epsilon` (default 10⁻⁶).
//!
//! `docs/fingerprinting.md` gives the parameters, the measured capacity and the limits.

mod code;
mod points;
mod read;
mod table;
mod text;

use std::collections::{BTreeMap, HashMap};

pub use code::CodeParams;
pub use points::Template;
pub use text::retype;

/// Kinds of variation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Wording,
    Spelling,
    Hyphenation,
    Number,
    Date,
    Punctuation,
    Order,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Wording => "wording",
            Channel::Spelling => "spelling",
            Channel::Hyphenation => "hyphenation",
            Channel::Number => "number",
            Channel::Date => "date",
            Channel::Punctuation => "punctuation",
            Channel::Order => "order",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("alternation table, line {line}: {reason}")]
    Table { line: usize, reason: String },
    #[error("fingerprint code parameters: {0}")]
    Params(String),
}

/// Texts shorter than this (in words) carry no invisible tag: titles and names stay byte-exact
/// apart from their variation points.
const INVISIBLE_MIN_WORDS: usize = 20;
const INVISIBLE_START: char = '\u{2060}';
const INVISIBLE_ZERO: char = '\u{200B}';
const INVISIBLE_ONE: char = '\u{200C}';
const INVISIBLE_BITS: usize = 32;

/// Recipients and their variants at the points read in one text.
type Codewords<'a> = Vec<(&'a str, Vec<usize>)>;

/// Marks texts for recipients and traces leaks, under one secret.
pub struct Fingerprinter {
    prf: code::Prf,
    table: table::Table,
    params: CodeParams,
}

/// A text as rendered for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub text: String,
    /// The recipient's variant at each point, one digit per point: what the hub records.
    pub choices: String,
}

/// A released text a leak may come from.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The id the text was marked under (object version and field).
    pub text_id: &'a str,
    /// The original text.
    pub text: &'a str,
    /// The parties it was released to.
    pub recipients: &'a [String],
    /// Fingerprints recorded at release, by party ([`Marked::choices`]): what those copies
    /// were, used in place of recomputing them.
    pub recorded: &'a [(String, String)],
}

/// The answer of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// The bound on the probability that the trace accuses any innocent recipient.
    pub epsilon: f64,
    /// Recipients scored (the threshold grows with their number).
    pub recipients: usize,
    /// Parties accused, highest score first; empty when the evidence does not pass the threshold.
    pub accused: Vec<PartyScore>,
    /// Every recipient scored, highest score first.
    pub scores: Vec<PartyScore>,
    /// The texts the leak was aligned with and what was read in each.
    pub texts: Vec<TextEvidence>,
    /// Recipients whose invisible tag the leak still carries (supporting evidence only).
    pub invisible: Vec<(String, String)>,
}

/// One recipient's score.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyScore {
    pub party: String,
    pub score: f64,
    /// Accused at or above this.
    pub threshold: f64,
    /// Bound on the probability that any innocent recipient among those scored reaches this
    /// score.
    pub bound: f64,
    /// Points read in texts the party received.
    pub points: usize,
    /// Of those, points where the leak has the party's variant.
    pub agreeing: usize,
}

/// What the leak showed of one source text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextEvidence {
    pub text_id: String,
    /// Words of the source aligned with equal words of the leak.
    pub matched_tokens: usize,
    pub points: Vec<PointRead>,
}

/// A variation point read in the leak.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRead {
    pub point: usize,
    pub channel: Channel,
    /// Byte offset of the point in the source text.
    pub offset: usize,
    /// The original's variant and the leak's.
    pub original: String,
    pub read: String,
    /// The variant's index and its secret probability.
    pub choice: usize,
    pub probability: f64,
    /// Accused parties whose copy has this variant.
    pub agreeing: Vec<String>,
}

impl Fingerprinter {
    pub fn new(secret: &[u8], params: CodeParams) -> Result<Fingerprinter, FingerprintError> {
        if !(params.epsilon > 0.0 && params.epsilon < 1.0) {
            return Err(FingerprintError::Params(format!("epsilon {} is not in (0, 1)", params.epsilon)));
        }
        if !(params.kappa > 0.0 && params.kappa.is_finite()) {
            return Err(FingerprintError::Params(format!("kappa {} is not positive", params.kappa)));
        }
        if !(0.0..1.0).contains(&params.cutoff) {
            return Err(FingerprintError::Params(format!("cutoff {} is not in [0, 1)", params.cutoff)));
        }
        Ok(Fingerprinter { prf: code::Prf::new(secret), table: table::Table::parse(table::SHIPPED)?, params })
    }

    pub fn params(&self) -> CodeParams {
        self.params
    }

    /// The variation points of `text`.
    pub fn template(&self, text: &str) -> Template {
        points::template(&self.table, text)
    }

    /// `recipient`'s variant at each point of `template`, the text marked as `text_id`.
    pub fn codeword(&self, text_id: &str, recipient: &str, template: &Template) -> Vec<usize> {
        let biases = self.biases(text_id, template);
        let points: Vec<(usize, &[f64])> = biases.iter().enumerate().map(|(i, b)| (i, b.as_slice())).collect();
        code::symbols(&self.prf, text_id, recipient, &points)
    }

    fn biases(&self, text_id: &str, template: &Template) -> Vec<Vec<f64>> {
        template
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| code::bias(&self.prf, &self.params, text_id, i, p.arity))
            .collect()
    }

    /// `text` as released to `recipient` under `text_id` (an object version and field).
    pub fn mark(&self, text_id: &str, recipient: &str, text: &str) -> Marked {
        let template = self.template(text);
        let codeword = self.codeword(text_id, recipient, &template);
        let mut marked = template.render(&codeword);
        if text.split_whitespace().count() >= INVISIBLE_MIN_WORDS {
            marked = self.with_invisible_tag(text_id, recipient, &marked);
        }
        let choices = codeword.iter().map(|&c| char::from_digit(c as u32, 36).unwrap_or('?')).collect();
        Marked { text: marked, choices }
    }

    fn invisible_tag(&self, text_id: &str, recipient: &str) -> u32 {
        let bytes = self.prf.bytes("invisible", &[text_id.as_bytes(), recipient.as_bytes()]);
        u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    /// The tag after the first space at or past the middle of the text.
    fn with_invisible_tag(&self, text_id: &str, recipient: &str, text: &str) -> String {
        let tag = self.invisible_tag(text_id, recipient);
        let encoded: String = std::iter::once(INVISIBLE_START)
            .chain(
                (0..INVISIBLE_BITS).rev().map(|bit| if tag >> bit & 1 == 1 { INVISIBLE_ONE } else { INVISIBLE_ZERO }),
            )
            .collect();
        let middle = text.len() / 2;
        let at = text.char_indices().find(|&(i, c)| i >= middle && c == ' ').map(|(i, _)| i + 1).unwrap_or(text.len());
        format!("{}{encoded}{}", &text[..at], &text[at..])
    }

    /// Tags carried by a leak.
    fn invisible_tags(leak: &str) -> Vec<u32> {
        let chars: Vec<char> = leak.chars().collect();
        chars
            .iter()
            .enumerate()
            .filter(|(_, &c)| c == INVISIBLE_START)
            .filter_map(|(i, _)| {
                let bits = chars.get(i + 1..i + 1 + INVISIBLE_BITS)?;
                bits.iter().try_fold(0u32, |tag, &c| match c {
                    INVISIBLE_ZERO => Some(tag << 1),
                    INVISIBLE_ONE => Some(tag << 1 | 1),
                    _ => None,
                })
            })
            .collect()
    }

    /// Who leaked `leak`, if its evidence says so, among the recipients of `sources`.
    pub fn trace(&self, leak: &str, sources: &[Source]) -> Attribution {
        self.trace_at(leak, sources, self.params.epsilon)
    }

    /// [`Fingerprinter::trace`] with another bound on accusing an innocent recipient (it sets
    /// only the threshold, so any value in (0, 1) applies to copies already released).
    pub fn trace_at(&self, leak: &str, sources: &[Source], epsilon: f64) -> Attribution {
        let leak_tokens = text::tokens(leak);
        let tags = Self::invisible_tags(leak);
        let mut invisible = Vec::new();
        // Per party: score, points read, agreeing points, and the probabilities read in the
        // texts it received (its innocence distribution).
        let mut parties: BTreeMap<&str, (f64, usize, usize, Vec<f64>)> = BTreeMap::new();
        let mut texts = Vec::new();
        // Per text evidence: each recipient's variants at the points read.
        let mut codewords: Vec<(usize, Codewords)> = Vec::new();
        for source in sources {
            for recipient in source.recipients {
                if tags.contains(&self.invisible_tag(source.text_id, recipient)) {
                    invisible.push((source.text_id.to_string(), recipient.clone()));
                }
            }
            let template = self.template(source.text);
            let reading = read::read(&template, &leak_tokens);
            if reading.reads.is_empty() {
                continue;
            }
            let biases: Vec<Vec<f64>> = reading
                .reads
                .iter()
                .map(|r| code::bias(&self.prf, &self.params, source.text_id, r.point, template.points[r.point].arity))
                .collect();
            let points: Vec<(usize, &[f64])> =
                reading.reads.iter().zip(&biases).map(|(r, b)| (r.point, b.as_slice())).collect();
            let probabilities: Vec<f64> = reading.reads.iter().zip(&biases).map(|(r, b)| b[r.variant]).collect();
            let mut words = Vec::new();
            for recipient in source.recipients {
                let recorded = source
                    .recorded
                    .iter()
                    .find(|(party, choices)| party == recipient && choices.chars().count() == template.points.len())
                    .map(|(_, choices)| {
                        choices.chars().map(|c| c.to_digit(36).map_or(usize::MAX, |d| d as usize)).collect::<Vec<_>>()
                    });
                let symbols = match recorded {
                    Some(all) => reading.reads.iter().map(|r| all[r.point]).collect(),
                    None => code::symbols(&self.prf, source.text_id, recipient, &points),
                };
                let entry = parties.entry(recipient.as_str()).or_insert((0.0, 0, 0, Vec::new()));
                for ((read, symbol), &p) in reading.reads.iter().zip(&symbols).zip(&probabilities) {
                    let agrees = *symbol == read.variant;
                    entry.0 += code::term(p, agrees);
                    entry.1 += 1;
                    entry.2 += usize::from(agrees);
                }
                entry.3.extend_from_slice(&probabilities);
                words.push((recipient.as_str(), symbols));
            }
            codewords.push((texts.len(), words));
            texts.push(TextEvidence {
                text_id: source.text_id.to_string(),
                matched_tokens: reading.matched_tokens,
                points: reading
                    .reads
                    .iter()
                    .zip(&probabilities)
                    .map(|(r, &probability)| {
                        let site = &template.sites[r.site];
                        PointRead {
                            point: r.point,
                            channel: template.points[r.point].channel,
                            offset: site.range.start,
                            original: site.variants[site.original].clone(),
                            read: site.variants.get(r.variant).cloned().unwrap_or_default(),
                            choice: r.variant,
                            probability,
                            agreeing: Vec::new(),
                        }
                    })
                    .collect(),
            });
        }
        let scored = parties.len();
        // Parties that received the same texts share a threshold.
        let mut thresholds: HashMap<Vec<u64>, f64> = HashMap::new();
        let mut scores: Vec<PartyScore> = parties
            .into_iter()
            .map(|(party, (score, points, agreeing, probabilities))| {
                let key: Vec<u64> = probabilities.iter().map(|p| p.to_bits()).collect();
                let threshold =
                    *thresholds.entry(key).or_insert_with(|| code::threshold(&probabilities, scored, epsilon));
                let bound = (code::tail_bound(&probabilities, score) * scored as f64).min(1.0);
                PartyScore { party: party.to_string(), score, threshold, bound, points, agreeing }
            })
            .collect();
        scores.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.party.cmp(&b.party)));
        let accused: Vec<PartyScore> = scores.iter().filter(|s| s.score >= s.threshold).cloned().collect();
        for (index, words) in codewords {
            for (k, point) in texts[index].points.iter_mut().enumerate() {
                point.agreeing = words
                    .iter()
                    .filter(|(party, symbols)| symbols[k] == point.choice && accused.iter().any(|a| a.party == *party))
                    .map(|(party, _)| party.to_string())
                    .collect();
            }
        }
        Attribution { epsilon, recipients: scored, accused, scores, texts, invisible }
    }
}

#[cfg(test)]
mod tests;
