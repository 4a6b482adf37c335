//! Leak attribution in the hub: every text a party other than its originator receives is
//! fingerprinted for that party (tearline-fingerprint), on every release path, and an
//! originator's user can trace a leaked text or STIX object back to the parties it was released
//! to.
//!
//! A text is marked under the id `<object id>@<version>#<portion or property>`, so the same
//! party always gets the same copy of an object version, and the tracer, finding the source
//! text by its sketch (the copied-text index), marks it the same way for every recipient.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tearline_fingerprint::{Attribution, CodeParams, Fingerprinter, Source};
use tearline_model::{stix, Code, Rendering, User};
use tearline_store::StoredObject;
use time::OffsetDateTime;

use crate::{provenance, Hub, HubError, Result};

/// Candidate source texts read per trace, most sketch hashes shared first.
const TRACE_CANDIDATES: u32 = 64;
/// Longest leak traced, in words: aligning costs the product of the lengths.
const MAX_LEAK_WORDS: usize = 50_000;
/// Text properties of STIX objects that are marked besides the prose ones.
const NAMED_PROPERTIES: [&str; 1] = ["name"];

/// The fingerprinter of a hub, keyed by a secret derived from its signing seed.
pub(crate) fn fingerprinter(seed: &[u8; 32]) -> Result<Fingerprinter> {
    let secret = Sha256::new().chain_update(b"tearline fingerprint\n").chain_update(seed).finalize();
    Fingerprinter::new(&secret, CodeParams::default()).map_err(|e| HubError::Invalid(e.to_string()))
}

/// The id a text is marked under.
fn text_id(object_id: &str, version: OffsetDateTime, field: &str) -> String {
    format!("{object_id}@{}#{field}", stix::timestamp(version))
}

/// Marks what one party receives, and keeps the fingerprint of each text marked (field,
/// choices) for the delivery record.
pub(crate) struct Marker<'a> {
    fingerprinter: &'a Fingerprinter,
    party: &'a Code,
    pub marks: Vec<(String, String)>,
}

impl Marker<'_> {
    fn mark(&mut self, object_id: &str, version: OffsetDateTime, field: String, text: &str) -> String {
        let marked = self.fingerprinter.mark(&text_id(object_id, version, &field), self.party.as_str(), text);
        if !marked.choices.is_empty() {
            self.marks.push((field, marked.choices));
        }
        marked.text
    }

    /// A report's rendering: title and paragraphs, each under its portion number.
    pub fn rendering(&mut self, rendering: &mut Rendering) {
        if rendering.originator == *self.party {
            return;
        }
        let (id, created) = (rendering.id.clone(), rendering.created);
        rendering.title.text = self.mark(&id, created, "0".to_string(), &rendering.title.text);
        for (i, paragraph) in &mut rendering.paragraphs {
            paragraph.text = self.mark(&id, created, (*i + 1).to_string(), &paragraph.text);
        }
    }

    /// A report's title as a listing shows it.
    pub fn title(&mut self, originator: &Code, report_id: &str, created: OffsetDateTime, title: &str) -> String {
        if originator == self.party {
            return title.to_string();
        }
        self.mark(report_id, created, "0".to_string(), title)
    }

    /// A STIX object's name and prose properties, each under its property name.
    pub fn stix(&mut self, object: &StoredObject, value: &mut Value) {
        if object.facts.originator == *self.party {
            return;
        }
        let Some(fields) = value.as_object_mut() else { return };
        for property in NAMED_PROPERTIES.iter().chain(stix::PROSE_PROPERTIES.iter()) {
            if let Some(Value::String(text)) = fields.get_mut(*property) {
                *text = self.mark(&object.id, object.version, property.to_string(), text);
            }
        }
    }
}

/// The answer to a trace, as the API and the CLI give it.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    /// `accused`, or `not enough evidence` when no party passes the threshold.
    pub verdict: String,
    /// Bound on the probability that the trace accuses any innocent recipient.
    pub epsilon: f64,
    /// Recipients scored.
    pub recipients: usize,
    pub accused: Vec<TracedParty>,
    /// Every recipient scored, highest first.
    pub scores: Vec<TracedParty>,
    /// The released texts the leak matched, and the points read in each.
    pub sources: Vec<TracedSource>,
    /// Recipients whose invisible mark the leak still carries (supporting evidence only).
    pub invisible_marks: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TracedParty {
    pub party: String,
    pub score: f64,
    pub threshold: f64,
    /// Bound on the probability that any innocent recipient scored scores this high.
    pub bound: f64,
    pub points_read: usize,
    pub points_agreeing: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TracedSource {
    pub object_id: String,
    pub version: String,
    /// The portion number of a report, or the property of a STIX object.
    pub field: String,
    pub matched_words: usize,
    pub points: Vec<TracedPoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TracedPoint {
    pub channel: &'static str,
    /// Byte offset in the original text.
    pub offset: usize,
    pub original: String,
    pub read: String,
    /// Accused parties whose copy reads so.
    pub agreeing: Vec<String>,
}

/// An object version and the parties it was delivered to, with the portions each received.
struct Delivered {
    object: StoredObject,
    received: Vec<(Code, tearline_model::PortionSet)>,
    /// (party, field, choices).
    fingerprints: Vec<(Code, String, String)>,
}

/// A released text of the tracer's party that the leak may come from.
struct Candidate {
    text_id: String,
    object_id: String,
    version: OffsetDateTime,
    field: String,
    text: String,
    recipients: Vec<String>,
    /// Recorded fingerprints of this text: (party, choices).
    recorded: Vec<(String, String)>,
}

impl Hub {
    pub(crate) fn marker<'a>(&'a self, party: &'a Code) -> Marker<'a> {
        Marker { fingerprinter: self.fingerprinter.as_ref(), party, marks: Vec::new() }
    }

    /// Who leaked `leak` (plain text, or a STIX object or bundle), among the parties that
    /// received texts of the caller's party that it matches.
    /// `epsilon` bounds the probability of accusing any innocent recipient (default: the hub's,
    /// 10⁻⁶).
    pub async fn trace(
        &self,
        viewer: &User,
        leak: &str,
        epsilon: Option<f64>,
        now: OffsetDateTime,
    ) -> Result<TraceReport> {
        let epsilon = epsilon.unwrap_or(self.fingerprinter.params().epsilon);
        if !(epsilon > 0.0 && epsilon < 1.0) {
            return Err(HubError::Invalid(format!("epsilon {epsilon} is not between 0 and 1")));
        }
        let snapshot = self.current(now).await?;
        let text = leaked_text(leak);
        let words = text.split_whitespace().count();
        if words < tearline_reuse::MIN_PASSAGE_WORDS {
            return Err(HubError::Invalid("a leak to trace needs at least a sentence of text".into()));
        }
        if words > MAX_LEAK_WORDS {
            return Err(HubError::Invalid(format!(
                "a leak to trace has at most {MAX_LEAK_WORDS} words ({words} given): trace it in parts"
            )));
        }
        let hashes: Vec<u64> = tearline_reuse::sketch(&text).into_iter().collect::<BTreeSet<_>>().into_iter().collect();
        let matches = self.store.originator_sketch_matches(&viewer.party, &hashes, TRACE_CANDIDATES).await?;
        let mut candidates: Vec<Candidate> = Vec::new();
        let mut objects: BTreeMap<i64, Option<Delivered>> = BTreeMap::new();
        for (seq, portion, _) in matches {
            if let std::collections::btree_map::Entry::Vacant(slot) = objects.entry(seq) {
                let delivered = match self.store.object_at(seq).await? {
                    Some(object) => Some(Delivered {
                        received: self.store.recipients_of(seq).await?,
                        fingerprints: self.store.fingerprints_of(seq).await?,
                        object,
                    }),
                    None => None,
                };
                slot.insert(delivered);
            }
            let Some(Some(Delivered { object, received, fingerprints })) = objects.get(&seq) else { continue };
            let recipients: Vec<String> = received
                .iter()
                .filter(|(party, portions)| portions.contains(portion) && *party != object.facts.originator)
                .map(|(party, _)| party.as_str().to_string())
                .collect();
            for (field, text) in source_texts(&snapshot, object, portion) {
                let recorded = fingerprints
                    .iter()
                    .filter(|(_, f, _)| *f == field)
                    .map(|(party, _, choices)| (party.as_str().to_string(), choices.clone()))
                    .collect();
                candidates.push(Candidate {
                    recorded,
                    text_id: text_id(&object.id, object.version, &field),
                    object_id: object.id.clone(),
                    version: object.version,
                    field,
                    text,
                    recipients: recipients.clone(),
                });
            }
        }
        // Aligning is CPU work of milliseconds to seconds: off the async workers.
        let fingerprinter = std::sync::Arc::clone(&self.fingerprinter);
        tokio::task::spawn_blocking(move || {
            let sources: Vec<Source> = candidates
                .iter()
                .map(|c| Source {
                    text_id: &c.text_id,
                    text: &c.text,
                    recipients: &c.recipients,
                    recorded: &c.recorded,
                })
                .collect();
            let attribution = fingerprinter.trace_at(&text, &sources, epsilon);
            report(attribution, &candidates)
        })
        .await
        .map_err(|e| HubError::Internal(format!("the trace did not complete: {e}")))
    }
}

/// The texts of `object`'s portion `portion`, by the field they are marked under.
fn source_texts(snapshot: &crate::Snapshot, object: &StoredObject, portion: usize) -> Vec<(String, String)> {
    if let Some(report) = &object.report {
        return report.portions().nth(portion).map(|p| vec![(portion.to_string(), p.text.clone())]).unwrap_or_default();
    }
    let Some(texts) = provenance::object_texts(snapshot, &object.stix, &object.facts.originator) else {
        return Vec::new();
    };
    let in_portion: BTreeSet<String> = texts.into_iter().filter(|(p, _)| *p == portion).map(|(_, t)| t).collect();
    stix::PROSE_PROPERTIES
        .iter()
        .filter_map(|property| {
            let text = object.stix.get(*property)?.as_str()?;
            in_portion.contains(text).then(|| (property.to_string(), text.to_string()))
        })
        .collect()
}

/// The prose of a leak: a STIX object or bundle gives every string in it long enough to be
/// prose, anything else is taken as text.
fn leaked_text(leak: &str) -> String {
    fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::String(text) if text.split_whitespace().count() >= 3 => out.push(text),
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(fields) => fields.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(leak.trim()) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => {
            let mut out = Vec::new();
            strings(&value, &mut out);
            out.join("\n\n")
        }
        _ => leak.to_string(),
    }
}

fn report(attribution: Attribution, candidates: &[Candidate]) -> TraceReport {
    let party = |s: &tearline_fingerprint::PartyScore| TracedParty {
        party: s.party.clone(),
        score: s.score,
        threshold: s.threshold,
        bound: s.bound,
        points_read: s.points,
        points_agreeing: s.agreeing,
    };
    let sources = attribution
        .texts
        .iter()
        .filter_map(|evidence| {
            let candidate = candidates.iter().find(|c| c.text_id == evidence.text_id)?;
            Some(TracedSource {
                object_id: candidate.object_id.clone(),
                version: stix::timestamp(candidate.version),
                field: candidate.field.clone(),
                matched_words: evidence.matched_tokens,
                points: evidence
                    .points
                    .iter()
                    .map(|p| TracedPoint {
                        channel: p.channel.as_str(),
                        offset: p.offset,
                        original: p.original.clone(),
                        read: p.read.clone(),
                        agreeing: p.agreeing.clone(),
                    })
                    .collect(),
            })
        })
        .collect();
    let verdict = if attribution.accused.is_empty() { "not enough evidence" } else { "accused" };
    let invisible_marks: BTreeSet<String> = attribution.invisible.iter().map(|(_, p)| p.clone()).collect();
    TraceReport {
        verdict: verdict.to_string(),
        epsilon: attribution.epsilon,
        recipients: attribution.recipients,
        accused: attribution.accused.iter().map(party).collect(),
        scores: attribution.scores.iter().map(party).collect(),
        sources,
        invisible_marks: invisible_marks.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stix_leak_is_traced_through_its_prose() {
        let bundle = r#"{"type":"bundle","objects":[{"type":"indicator","name":"x","description":"the convoy travelled towards the centre at night"}]}"#;
        assert_eq!(leaked_text(bundle), "the convoy travelled towards the centre at night");
        assert_eq!(leaked_text("plain words here"), "plain words here");
    }
}
