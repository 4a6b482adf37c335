//! Leak attribution. Every copy of a text released to a recipient party is rendered with
//! meaning-preserving variations chosen for that party, so that a leaked copy, or a fragment of
//! one, retyped and partly changed, names the party it was released to. Pure: no I/O.
//!
//! # How
//!
//! 1. **Variation points** ([`Template`]), found from the text alone: wording alternations
//!    from the curated table that ships with the crate (`alternations.txt`), spelling and
//!    hyphenation variants, number and date formats, optional commas (after sentence openers,
//!    the serial comma), an optional "that" after verbs taking a clause, and the order of
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
//!    it covers are read, and every recipient of those texts is scored by two tests: the
//!    symmetric score (with a Chernoff bound on an innocent recipient's), for a lone leaker, and
//!    a partner test (a likelihood ratio over the sentences the best other scorer's copy does not
//!    explain), for colluders mixing sentences. A recipient's evidence is the stronger of the
//!    two, in nats of the bound; the threshold, `ln(n / epsilon)` for `n` recipients scored, is
//!    such that a trace accuses any innocent recipient with probability at most `epsilon`
//!    (default 10⁻⁶), whatever the colluders did.
//!
//! The table and the rules that find the points are a numbered marking scheme
//! ([`SCHEME_VERSION`]); a copy's recorded choices name the scheme it was marked with, and the
//! tracer reads each copy with its own (earlier schemes are kept, frozen).
//!
//! `docs/fingerprinting.md` gives the parameters, the measured capacity and the limits.

mod code;
mod points;
mod read;
mod table;
mod text;

use std::collections::BTreeMap;

pub use code::CodeParams;

/// The marking scheme copies are marked with now: the alternation table and the rules that find
/// variation points in a text. A copy must be traced with the scheme it was marked with (its
/// points follow from the scheme), so [`Marked::choices`] names the scheme and the tracer reads
/// each recipient's copy with the scheme of its recorded choices.
///
/// Scheme 1 is the scheme of every copy released before schemes were numbered (its recorded
/// choices are bare digits); it is frozen, kept so that those copies can still be traced.
pub const SCHEME_VERSION: u32 = 2;
/// Every scheme this crate marks and traces with.
pub const SCHEMES: [u32; 2] = [1, 2];
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
    #[error("marking scheme {0} is not one this version knows (it knows {SCHEMES:?})")]
    Scheme(u32),
}

/// Texts shorter than this (in words) carry no invisible tag: titles and names stay byte-exact
/// apart from their variation points.
const INVISIBLE_MIN_WORDS: usize = 20;
const INVISIBLE_START: char = '\u{2060}';
const INVISIBLE_ZERO: char = '\u{200B}';
const INVISIBLE_ONE: char = '\u{200C}';
const INVISIBLE_BITS: usize = 32;

/// One recipient's evidence while a trace reads the texts: its symmetric score, its agreeing
/// points, the probabilities read in the texts it received (its innocence distribution), and
/// whether it agrees at each point read (by index among all points read).
#[derive(Default)]
struct Tally {
    score: f64,
    agreeing: usize,
    probabilities: Vec<f64>,
    marks: Vec<(usize, bool)>,
}

/// Recipients of a text marked with one scheme, with their recorded choices if any.
type Members<'a> = Vec<(&'a String, Option<Vec<usize>>)>;

/// Recipients and their variants at the points read in one text.
type Codewords<'a> = Vec<(&'a str, Vec<usize>)>;

/// Marks texts for recipients and traces leaks, under one secret.
pub struct Fingerprinter {
    prf: code::Prf,
    /// The table of the current scheme, and of the earlier schemes of [`SCHEMES`].
    current: table::Table,
    earlier: Vec<table::Table>,
    params: CodeParams,
}

/// A text as rendered for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub text: String,
    /// What the hub records: the recipient's variant at each point, one digit per point,
    /// after `v<scheme>:` for schemes from 2 on (`v2:0120…`); bare digits are scheme 1.
    pub choices: String,
    /// The scheme the copy was marked with.
    pub scheme: u32,
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
    /// The evidence against the party, in nats: an innocent recipient reaches `t` with
    /// probability at most `e^-t` (the stronger of the symmetric score and the partner test).
    pub score: f64,
    /// Accused at or above this: `ln(n / epsilon)` for the `n` recipients scored.
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
    /// The scheme its points were read with (the copies' recorded choices name it).
    pub scheme: u32,
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
        let shipped = |scheme| table::Table::shipped(scheme).unwrap_or(Err(FingerprintError::Scheme(scheme)));
        let earlier = SCHEMES
            .iter()
            .filter(|&&scheme| scheme != SCHEME_VERSION)
            .map(|&scheme| shipped(scheme))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Fingerprinter { prf: code::Prf::new(secret), current: shipped(SCHEME_VERSION)?, earlier, params })
    }

    /// The current scheme, [`SCHEME_VERSION`].
    pub const SCHEME_VERSION: u32 = SCHEME_VERSION;

    fn table(&self, scheme: u32) -> Result<&table::Table, FingerprintError> {
        if scheme == self.current.scheme {
            return Ok(&self.current);
        }
        self.earlier.iter().find(|t| t.scheme == scheme).ok_or(FingerprintError::Scheme(scheme))
    }

    pub fn params(&self) -> CodeParams {
        self.params
    }

    /// The variation points of `text` under the current scheme.
    pub fn template(&self, text: &str) -> Template {
        points::template(&self.current, text)
    }

    /// The variation points of `text` under `scheme`.
    pub fn template_as(&self, scheme: u32, text: &str) -> Result<Template, FingerprintError> {
        Ok(points::template(self.table(scheme)?, text))
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

    /// `text` as released to `recipient` under `text_id` (an object version and field), with
    /// the current scheme.
    pub fn mark(&self, text_id: &str, recipient: &str, text: &str) -> Marked {
        let template = self.template(text);
        self.mark_template(text_id, recipient, &template)
    }

    /// [`Fingerprinter::mark`] with another scheme of [`SCHEMES`].
    pub fn mark_as(&self, scheme: u32, text_id: &str, recipient: &str, text: &str) -> Result<Marked, FingerprintError> {
        let template = self.template_as(scheme, text)?;
        Ok(self.mark_template(text_id, recipient, &template))
    }

    fn mark_template(&self, text_id: &str, recipient: &str, template: &Template) -> Marked {
        let codeword = self.codeword(text_id, recipient, template);
        let mut marked = template.render(&codeword);
        if template.text().split_whitespace().count() >= INVISIBLE_MIN_WORDS {
            marked = self.with_invisible_tag(text_id, recipient, &marked);
        }
        let scheme = template.scheme();
        Marked { text: marked, choices: recorded_choices(scheme, &codeword), scheme }
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
        let mut parties: BTreeMap<&str, Tally> = BTreeMap::new();
        let mut read: Vec<code::ReadPoint> = Vec::new();
        let mut segments = 0;
        let mut texts = Vec::new();
        // Per text evidence: each recipient's variants at the points read.
        let mut codewords: Vec<(usize, Codewords)> = Vec::new();
        for source in sources {
            for recipient in source.recipients {
                if tags.contains(&self.invisible_tag(source.text_id, recipient)) {
                    invisible.push((source.text_id.to_string(), recipient.clone()));
                }
            }
            // Each copy is read with the scheme it was marked with, which its recorded choices
            // name (no record: the current scheme). A scheme this version does not know is not
            // read, and its recipients are not scored.
            let mut groups: BTreeMap<u32, Members> = BTreeMap::new();
            for recipient in source.recipients {
                let record = source.recorded.iter().find(|(party, _)| party == recipient);
                let (scheme, choices) = match record {
                    Some((_, choices)) => parse_choices(choices).map_or((0, None), |(s, c)| (s, Some(c))),
                    None => (SCHEME_VERSION, None),
                };
                groups.entry(scheme).or_default().push((recipient, choices));
            }
            for (scheme, members) in groups {
                let Ok(template) = self.template_as(scheme, source.text) else { continue };
                let reading = read::read(&template, &leak_tokens);
                if reading.reads.is_empty() {
                    continue;
                }
                let biases: Vec<Vec<f64>> = reading
                    .reads
                    .iter()
                    .map(|r| {
                        code::bias(&self.prf, &self.params, source.text_id, r.point, template.points[r.point].arity)
                    })
                    .collect();
                let points: Vec<(usize, &[f64])> =
                    reading.reads.iter().zip(&biases).map(|(r, b)| (r.point, b.as_slice())).collect();
                let probabilities: Vec<f64> = reading.reads.iter().zip(&biases).map(|(r, b)| b[r.variant]).collect();
                // Colluders mixing copies take whole sentences: a point's segment is its sentence,
                // and a text-wide point (read from several places) is a segment of its own.
                let ends = sentence_ends(source.text);
                let first = read.len();
                for (r, &probability) in reading.reads.iter().zip(&probabilities) {
                    let segment = if template.points[r.point].sites.len() > 1 {
                        segments + ends.len() + 1 + r.point
                    } else {
                        segments + ends.partition_point(|&end| end <= template.sites[r.site].range.start)
                    };
                    read.push(code::ReadPoint { probability, segment });
                }
                segments += ends.len() + 1 + template.points.len();
                let mut words = Vec::new();
                for (recipient, recorded) in members {
                    // A record that does not fit the text's points (a copy of an older table
                    // within scheme 1) is not used: the copy is recomputed.
                    let recorded = recorded.filter(|all| all.len() == template.points.len());
                    let symbols = match recorded {
                        Some(all) => reading.reads.iter().map(|r| all[r.point]).collect(),
                        None => code::symbols(&self.prf, source.text_id, recipient, &points),
                    };
                    let entry = parties.entry(recipient.as_str()).or_default();
                    for (k, ((r, symbol), &p)) in reading.reads.iter().zip(&symbols).zip(&probabilities).enumerate() {
                        let agrees = *symbol == r.variant;
                        entry.score += code::term(p, agrees);
                        entry.agreeing += usize::from(agrees);
                        entry.marks.push((first + k, agrees));
                    }
                    entry.probabilities.extend_from_slice(&probabilities);
                    words.push((recipient.as_str(), symbols));
                }
                codewords.push((texts.len(), words));
                texts.push(TextEvidence {
                    text_id: source.text_id.to_string(),
                    scheme,
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
        }
        let scored = parties.len();
        let threshold = (scored.max(1) as f64 / epsilon).ln();
        // Each party's agreement at every point read (None: a text it did not receive).
        let agreement: Vec<Vec<Option<bool>>> = parties
            .values()
            .map(|tally| {
                let mut all = vec![None; read.len()];
                for &(k, agrees) in &tally.marks {
                    all[k] = Some(agrees);
                }
                all
            })
            .collect();
        // The partner of a party is the best scorer among the others: chosen without its copy.
        let symmetric: Vec<f64> = parties.values().map(|tally| tally.score).collect();
        // The best symmetric scorers, best first (ties by name): a party's partner is the first of
        // them that is not itself, chosen from the other copies and the leak alone.
        let mut ranked: Vec<usize> = (0..symmetric.len()).collect();
        ranked.sort_by(|&a, &b| symmetric[b].total_cmp(&symmetric[a]).then(a.cmp(&b)));
        let mut scores: Vec<PartyScore> = parties
            .into_iter()
            .enumerate()
            .map(|(j, (party, Tally { score, agreeing, probabilities, .. }))| {
                let tail = code::tail_bound(&probabilities, score);
                let partner = ranked.iter().find(|&&k| k != j).map(|&k| agreement[k].as_slice());
                let ratio = partner.map_or(1.0, |partner| code::partner_ratio(&read, &agreement[j], &[partner]));
                let evidence = code::evidence(tail, ratio);
                let bound = (scored as f64 * (-evidence).exp()).min(1.0);
                PartyScore {
                    party: party.to_string(),
                    score: evidence,
                    threshold,
                    bound,
                    points: probabilities.len(),
                    agreeing,
                }
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

/// The choices recorded for a copy marked with `scheme`: one base-36 digit per point, after
/// `v<scheme>:` from scheme 2 on (scheme 1's records, made before schemes were numbered, are
/// bare digits).
fn recorded_choices(scheme: u32, codeword: &[usize]) -> String {
    let digits: String = codeword.iter().map(|&c| char::from_digit(c as u32, 36).unwrap_or('?')).collect();
    if scheme == 1 || digits.is_empty() {
        digits
    } else {
        format!("v{scheme}:{digits}")
    }
}

/// The scheme and the choices of a record ([`Marked::choices`]); None when it is not one.
fn parse_choices(recorded: &str) -> Option<(u32, Vec<usize>)> {
    let (scheme, digits) = match recorded.strip_prefix('v').and_then(|rest| rest.split_once(':')) {
        Some((scheme, digits)) => (scheme.parse::<u32>().ok().filter(|&s| s >= 2)?, digits),
        None => (1, recorded),
    };
    let choices = digits.chars().map(|c| c.to_digit(36).map(|d| d as usize)).collect::<Option<Vec<_>>>()?;
    Some((scheme, choices))
}

/// Byte offsets where the sentences of `text` end: after `.`, `!` or `?` before whitespace, and
/// at line breaks.
fn sentence_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut previous = ' ';
    for (at, c) in text.char_indices() {
        if c == '\n' || c.is_whitespace() && matches!(previous, '.' | '!' | '?') {
            ends.push(at);
        }
        previous = c;
    }
    ends
}

#[cfg(test)]
mod tests;
