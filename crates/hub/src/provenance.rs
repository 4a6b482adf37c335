//! Where a submission comes from: the sources it declares and the released texts it reuses
//! without saying so. Either way it becomes derived content (DESIGN.md section 2, provenance):
//! it carries its sources' restrictions, and their originators hear of it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tearline_model::stix::{self, MarkingMeaning, ObjectPortions, StixObject};
use tearline_model::{Code, Marking, PortionSet, ReleaseEntry, ReleaseFacts, User};
use tearline_store::{OnwardEvent, OnwardKind, StoredObject};
use time::OffsetDateTime;

use crate::{Hub, HubError, Result, Snapshot};

/// Most candidate source portions looked at per submission, best first.
const CANDIDATES: u32 = 64;

/// A source a submission derives from, and what of it the submission inherits.
#[derive(Debug, Clone)]
pub(crate) struct SourceUse {
    pub object: StoredObject,
    /// The source's portions whose restrictions the submission carries.
    pub portions: PortionSet,
    pub copied: bool,
    pub passages: Vec<PassageNote>,
}

/// How a submission derives from a source, as its submitter is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DerivedNote {
    pub source: String,
    pub version: String,
    /// `declared` (by reference or `SOURCES:`) or `copied` (text reuse found by the hub).
    pub how: &'static str,
    /// The restrictions the submission now carries from it.
    pub inherited: String,
    pub passages: Vec<PassageNote>,
}

/// A passage of the submission that matches a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassageNote {
    /// The submission's portion (0 the title or the object, then paragraphs or selectors).
    pub portion: usize,
    pub source_portion: usize,
    pub text: String,
}

/// A submission's sources applied: its facts, its notes for the submitter, and the events for
/// the sources' originators.
pub(crate) struct Derivation {
    pub facts: ReleaseFacts,
    pub sources: Vec<i64>,
    pub notes: Vec<DerivedNote>,
    /// The marking every portion is restricted by (`None`: no source).
    pub inherited: Option<Marking>,
}

impl SourceUse {
    fn inherited(&self) -> Option<Marking> {
        ReleaseFacts::inherited_marking(&self.object.facts, self.portions.iter())
    }
}

impl Hub {
    /// The declared sources: each must be an object released to the author's party.
    pub(crate) async fn declared_sources(&self, author: &User, declared: &[String]) -> Result<Vec<SourceUse>> {
        let mut sources = Vec::new();
        for id in declared.iter().collect::<BTreeSet<_>>() {
            let (object, entry) = self.received_version(author, id, None).await.map_err(|error| match error {
                HubError::NotFound => HubError::Rejected(format!("the source `{id}` is not an object released to you")),
                other => other,
            })?;
            if object.facts.is_originator(&author.party) && object.facts.ancestors.is_empty() {
                continue;
            }
            sources.push(SourceUse { portions: entry.portions, object, copied: false, passages: Vec::new() });
        }
        Ok(sources)
    }

    /// For each submission of `submissions` (its texts by portion), the released texts of other
    /// parties it reuses (tearline-reuse's threshold), one source per object version, with the
    /// matching passages. One lookup for all of them.
    pub(crate) async fn copied_sources(
        &self,
        snapshot: &Snapshot,
        author: &User,
        submissions: &[Vec<(usize, String)>],
    ) -> Result<Vec<Vec<SourceUse>>> {
        let sketched: Vec<Vec<(usize, &str, BTreeSet<u64>)>> = submissions
            .iter()
            .map(|texts| {
                texts.iter().map(|(p, text)| (*p, text.as_str(), sketch(text).into_iter().collect())).collect()
            })
            .collect();
        let hashes: Vec<u64> = sketched
            .iter()
            .flatten()
            .flat_map(|(_, _, hashes)| hashes.iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let limit = CANDIDATES.saturating_mul(u32::try_from(submissions.len()).unwrap_or(u32::MAX));
        let candidates = self.store.sketch_matches(&author.party, &hashes, limit).await?;
        let mut found: Vec<BTreeMap<i64, SourceUse>> = vec![BTreeMap::new(); submissions.len()];
        let mut objects: BTreeMap<i64, Option<StoredObject>> = BTreeMap::new();
        for (seq, source_portion, _) in candidates {
            if let std::collections::btree_map::Entry::Vacant(slot) = objects.entry(seq) {
                slot.insert(self.store.object_at(seq).await?);
            }
            let Some(Some(object)) = objects.get(&seq) else { continue };
            if object.facts.is_originator(&author.party) || object.facts.recalled {
                continue;
            }
            let Some(source_text) = portion_text(snapshot, object, source_portion) else { continue };
            let source_hashes: BTreeSet<u64> = tearline_reuse::sketch(&source_text).into_iter().collect();
            for (texts, found) in sketched.iter().zip(found.iter_mut()) {
                for (portion, text, hashes) in texts {
                    if hashes.is_disjoint(&source_hashes) {
                        continue;
                    }
                    let Some(reuse) = tearline_reuse::find_reuse(text, &source_text) else { continue };
                    let source = found.entry(seq).or_insert_with(|| SourceUse {
                        object: object.clone(),
                        portions: PortionSet::default(),
                        copied: true,
                        passages: Vec::new(),
                    });
                    source.portions.insert(source_portion);
                    source.passages.extend(reuse.passages.into_iter().map(|passage| PassageNote {
                        portion: *portion,
                        source_portion,
                        text: passage.text,
                    }));
                }
            }
        }
        Ok(found.into_iter().map(|f| f.into_values().collect()).collect())
    }
}

/// Applies `sources` to a submission's own facts: every portion restricted by what each source
/// passes on, its originators made ancestors.
pub(crate) fn derive(own: &ReleaseFacts, sources: &[SourceUse]) -> Derivation {
    let mut facts = own.clone();
    let mut notes = Vec::new();
    let mut inherited_all: Option<Marking> = None;
    for source in sources {
        let Some(inherited) = source.inherited() else { continue };
        facts.derive_from(&source.object.facts, &inherited);
        inherited_all =
            Some(inherited_all.map_or_else(|| inherited.clone(), |all| all.restricted_by(&inherited.standalone())));
        notes.push(DerivedNote {
            source: source.object.id.clone(),
            version: crate::taxii::taxii_timestamp(source.object.version),
            how: if source.copied { "copied" } else { "declared" },
            inherited: inherited.banner(),
            passages: source.passages.clone(),
        });
    }
    Derivation { facts, sources: sources.iter().map(|s| s.object.seq).collect(), notes, inherited: inherited_all }
}

/// The events a derived submission gives its sources' originators: what was taken, where the
/// submitter tried to send it (the parties its own marking would have reached) and where it goes.
pub(crate) fn derivation_events(
    author: &User,
    object_id: &str,
    version: OffsetDateTime,
    sources: &[SourceUse],
    tried: &[ReleaseEntry],
    reached: &[ReleaseEntry],
    now: OffsetDateTime,
) -> Vec<OnwardEvent> {
    let parties = |entries: &[ReleaseEntry]| -> Vec<String> {
        entries.iter().filter(|e| e.party != author.party).map(|e| e.party.to_string()).collect()
    };
    let mut events = Vec::new();
    for source in sources {
        let detail = serde_json::json!({
            "source": source.object.id,
            "source_version": crate::taxii::taxii_timestamp(source.object.version),
            "source_portions": source.portions.iter().collect::<Vec<_>>(),
            "passages": source.passages,
            "tried": parties(tried),
            "reached": parties(reached),
        });
        let originators: Vec<Code> =
            source.object.facts.originators().into_iter().filter(|o| *o != author.party).collect();
        for originator in originators {
            events.push(OnwardEvent {
                at: now,
                originator,
                party: author.party.clone(),
                user: author.name.clone(),
                kind: if source.copied { OnwardKind::Copied } else { OnwardKind::Derived },
                object_id: object_id.to_string(),
                object_version: version,
                detail: detail.clone(),
            });
        }
    }
    events
}

/// The sketch of each text portion, as the store indexes them. A text shorter than the shortest
/// passage that counts as reuse can be neither a source nor a copy: it gets none, so that short
/// stock texts (an indicator's one-line description) do not pile up under one hash.
pub(crate) fn sketches(texts: &[(usize, String)]) -> Vec<(usize, Vec<u64>)> {
    texts.iter().map(|(portion, text)| (*portion, sketch(text))).filter(|(_, hashes)| !hashes.is_empty()).collect()
}

fn sketch(text: &str) -> Vec<u64> {
    if tearline_reuse::words(text).len() < tearline_reuse::MIN_PASSAGE_WORDS {
        return Vec::new();
    }
    tearline_reuse::sketch(text)
}

/// The text of one portion of a stored object: a report's title or paragraph, or an object's
/// prose property.
fn portion_text(snapshot: &Snapshot, object: &StoredObject, portion: usize) -> Option<String> {
    if let Some(report) = &object.report {
        return report.portions().nth(portion).map(|p| p.text.clone());
    }
    let texts = object_texts(snapshot, &object.stix, &object.facts.originator)?;
    let parts: Vec<String> = texts.into_iter().filter(|(p, _)| *p == portion).map(|(_, text)| text).collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// The prose of a STIX object by portion.
pub(crate) fn object_texts(
    snapshot: &Snapshot,
    stix: &serde_json::Value,
    originator: &Code,
) -> Option<Vec<(usize, String)>> {
    let object = StixObject::parse(stix.clone()).ok()?;
    // Only where the portions are matters here: every marking may stand for nothing.
    let anything = |_: &str| Some(MarkingMeaning::Statement);
    let portions = ObjectPortions::of(&object, originator, &snapshot.coalition, &anything).ok()?;
    Some(stix::prose_portions(&object, &portions))
}
