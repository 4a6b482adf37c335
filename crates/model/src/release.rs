//! What the release index records: for a party and an object version, which portions that party
//! may receive, and the clearance a user of the party needs to see the object at all.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Classification, Code, Marking, Report, Topic};

/// A set of portion indexes (0 is a report's title), as a little-endian bitset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortionSet(Vec<u8>);

impl PortionSet {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let mut set = PortionSet(bytes);
        set.trim();
        set
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn insert(&mut self, index: usize) {
        let (byte, bit) = (index / 8, index % 8);
        if self.0.len() <= byte {
            self.0.resize(byte + 1, 0);
        }
        self.0[byte] |= 1 << bit;
    }

    pub fn contains(&self, index: usize) -> bool {
        self.0.get(index / 8).is_some_and(|b| b & (1 << (index % 8)) != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.0.len() * 8).filter(|i| self.contains(*i))
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }
}

impl FromIterator<usize> for PortionSet {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> Self {
        let mut set = PortionSet::default();
        for index in iter {
            set.insert(index);
        }
        set
    }
}

/// One row of the release index: `party` may receive `portions` of the object; a user of the
/// party sees the object when its clearance is at least `min_clearance` (the title's
/// classification, and that of the lowest-classified paragraph the party may receive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEntry {
    pub party: Code,
    pub portions: PortionSet,
    pub min_clearance: Classification,
}

/// What the release index of one object version is computed from, whatever the object's form
/// (a portion-marked report, any STIX object): its originator and topics, the marking of each
/// portion, and which portions the object cannot be shown without.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseFacts {
    pub originator: Code,
    pub topics: BTreeSet<Topic>,
    /// The marking of portion `i` at index `i`; portion 0 is the object itself (a report's title).
    pub portions: Vec<Marking>,
    /// A recipient receives the object only with every one of these portions...
    pub required: BTreeSet<usize>,
    /// ...and at least one portion of each of these groups (a report's paragraphs; a required
    /// list whose every element carries its own marking).
    pub at_least_one_of: Vec<BTreeSet<usize>>,
    /// Originators of the content it derives from, transitively (provenance): each of them must
    /// allow a release as if it were the originator, and each is an originator for reading.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub ancestors: BTreeSet<Code>,
    /// Recipients passing it on, each into its own agreements (decided per hop).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<Share>,
    /// The originator's approvals of onward release of this version to one party each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<Approval>,
    /// The restriction its sources passed on (every portion is already restricted by it): kept so
    /// that a later version of the object carries it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherited: Option<Marking>,
    /// Some source had no topics: topic-scoped agreements cover none of it (see
    /// [`ReleaseFacts::decision_topics`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untagged_source: bool,
    /// Recalled by an originator (its own, or one of its sources): released to originators only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recalled: bool,
}

/// A recipient passing an object version on: `by` passes the `portions` it holds to the parties
/// and groups `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub by: Code,
    pub to: BTreeSet<Code>,
    pub portions: PortionSet,
}

/// An originator's (`by`) approval of onward release of one object version to `party`, until
/// `until`. Onward release needs one from every originator other than the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub party: Code,
    pub by: Code,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub until: Option<OffsetDateTime>,
}

impl Approval {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

impl ReleaseFacts {
    /// A STIX object: portion 0 (the object itself) is required; no provenance or onward control
    /// yet.
    pub fn of_object(originator: Code, topics: BTreeSet<Topic>, portions: Vec<Marking>) -> Self {
        ReleaseFacts {
            originator,
            topics,
            portions,
            required: BTreeSet::from([0]),
            at_least_one_of: Vec::new(),
            ancestors: BTreeSet::new(),
            shares: Vec::new(),
            approvals: Vec::new(),
            inherited: None,
            untagged_source: false,
            recalled: false,
        }
    }

    /// A report: the title is required, and at least one paragraph.
    pub fn of_report(report: &Report) -> Self {
        let portions = report.portions().map(|p| p.marking.clone()).collect();
        ReleaseFacts {
            at_least_one_of: vec![(1..=report.paragraphs.len()).collect()],
            ..ReleaseFacts::of_object(report.originator.clone(), report.topics.clone(), portions)
        }
    }

    /// Every originator: the object's own, then those of its provenance.
    pub fn originators(&self) -> Vec<Code> {
        std::iter::once(self.originator.clone())
            .chain(self.ancestors.iter().filter(|a| **a != self.originator).cloned())
            .collect()
    }

    pub fn is_originator(&self, party: &Code) -> bool {
        self.originator == *party || self.ancestors.contains(party)
    }

    /// Whether every originator other than `holder` approved onward release to `recipient`, and
    /// the approvals hold at `now`.
    pub fn is_approved(&self, holder: &Code, recipient: &Code, now: OffsetDateTime) -> bool {
        self.originators().iter().filter(|o| *o != holder).all(|originator| {
            self.approvals.iter().any(|a| a.party == *recipient && a.by == *originator && a.is_active(now))
        })
    }

    /// The restrictions content derived from the `received` portions of `source` carries: the
    /// combination of their markings (highest classification, `REL TO` intersected, caveats
    /// united, most restrictive TLP). `None` when no portion was received.
    pub fn inherited_marking(source: &ReleaseFacts, received: impl IntoIterator<Item = usize>) -> Option<Marking> {
        received.into_iter().filter_map(|index| source.portions.get(index)).map(Marking::standalone).fold(
            None,
            |acc: Option<Marking>, marking| {
                Some(acc.map_or_else(|| marking.clone(), |acc| acc.restricted_by(&marking)))
            },
        )
    }

    /// Makes this object derived from `source`: its originators become ancestors, its topics
    /// are added, and every portion is restricted by `inherited` (see
    /// [`ReleaseFacts::inherited_marking`]). Restrictions only ever grow.
    pub fn derive_from(&mut self, source: &ReleaseFacts, inherited: &Marking) {
        for originator in source.originators() {
            if originator != self.originator {
                self.ancestors.insert(originator);
            }
        }
        self.topics.extend(source.topics.iter().cloned());
        self.untagged_source |= source.topics.is_empty() || source.untagged_source;
        self.restrict(inherited);
        self.recalled |= source.recalled;
    }

    /// The topics decisions see: the object's, and [`Topic::untagged`] when some source had none,
    /// since a union of topics would otherwise let a scoped agreement cover untagged content.
    pub fn decision_topics(&self) -> std::borrow::Cow<'_, BTreeSet<Topic>> {
        if self.untagged_source {
            let mut topics = self.topics.clone();
            topics.insert(Topic::untagged());
            std::borrow::Cow::Owned(topics)
        } else {
            std::borrow::Cow::Borrowed(&self.topics)
        }
    }

    /// Makes a new version of an object carry the provenance of its previous version: a party
    /// cannot shed its sources' restrictions by writing the object again.
    pub fn carry_provenance(&mut self, previous: &ReleaseFacts) {
        self.ancestors.extend(previous.ancestors.iter().filter(|a| **a != self.originator).cloned());
        self.untagged_source |= previous.untagged_source;
        if let Some(inherited) = &previous.inherited {
            self.topics.extend(previous.topics.iter().cloned());
            self.restrict(inherited);
        }
    }

    fn restrict(&mut self, inherited: &Marking) {
        let inherited = inherited.standalone();
        for portion in &mut self.portions {
            *portion = portion.standalone().restricted_by(&inherited);
        }
        self.inherited = Some(match &self.inherited {
            Some(before) => before.restricted_by(&inherited),
            None => inherited,
        });
    }

    /// The release entry of a party that may receive `allowed`, when that is enough to receive
    /// the object: the clearance a user needs is the highest of the required portions' and of
    /// the lowest allowed portion of each group.
    pub fn entry(&self, party: &Code, allowed: PortionSet) -> Option<ReleaseEntry> {
        let classification = |index: &usize| self.portions.get(*index).map(Marking::classification);
        let mut min_clearance = Classification::Unclassified;
        for index in &self.required {
            min_clearance = min_clearance.max(classification(index).filter(|_| allowed.contains(*index))?);
        }
        for group in &self.at_least_one_of {
            let lowest = group.iter().filter(|i| allowed.contains(**i)).filter_map(classification).min()?;
            min_clearance = min_clearance.max(lowest);
        }
        Some(ReleaseEntry { party: party.clone(), portions: allowed, min_clearance })
    }

    /// The facts of a marking definition: it releases nothing on its own, and goes with the
    /// objects that use it (the store keeps that relation).
    pub fn released_with_users(originator: &Code) -> Self {
        ReleaseFacts::of_object(originator.clone(), BTreeSet::new(), Vec::new())
    }

    /// Whether a user cleared `clearance`, of the party of `entry`, may read portion `index`. An
    /// object released with its users (no portions of its own) is read whole when released.
    pub fn portion_shown(&self, entry: &ReleaseEntry, clearance: Classification, index: usize) -> bool {
        let cleared = match self.portions.get(index) {
            Some(marking) => marking.classification() <= clearance,
            None => self.portions.is_empty() && index == 0,
        };
        cleared && entry.portions.contains(index)
    }

    /// Whether a user who may read the portions for which `shown` holds receives the object.
    pub fn is_shown(&self, shown: impl Fn(usize) -> bool) -> bool {
        self.required.iter().all(|i| shown(*i)) && self.at_least_one_of.iter().all(|g| g.iter().any(|i| shown(*i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_derived_from_untagged_content_is_never_covered_by_a_topic_scope() {
        let code = |c: &str| Code::new(c).unwrap();
        let facts = |originator: &str, topics: &[&str]| {
            let topics = topics.iter().map(|t| Topic::new(t).unwrap()).collect();
            ReleaseFacts::of_object(code(originator), topics, vec![Marking::classified(Classification::Unclassified)])
        };
        let unclassified = Marking::classified(Classification::Unclassified);
        let mut derived = facts("DDD", &["alpha"]);
        derived.derive_from(&facts("EEE", &[]), &unclassified);
        assert!(derived.decision_topics().contains(&Topic::untagged()));
        assert_eq!(derived.topics, BTreeSet::from([Topic::new("alpha").unwrap()]), "never stored");
        // Transitively, and through a new version.
        let mut next = facts("CCC", &["alpha"]);
        next.derive_from(&derived, &unclassified);
        let mut rewritten = facts("CCC", &["alpha"]);
        rewritten.carry_provenance(&next);
        assert!(rewritten.decision_topics().contains(&Topic::untagged()));
        // A tagged source adds its topics and nothing else.
        let mut tagged = facts("DDD", &["alpha"]);
        tagged.derive_from(&facts("EEE", &["beta"]), &unclassified);
        assert_eq!(tagged.decision_topics().len(), 2);
        assert!(Topic::new("(untagged)").is_err(), "no scope can name it");
    }

    #[test]
    fn portion_sets_hold_what_was_inserted() {
        let set: PortionSet = [0, 3, 9].into_iter().collect();
        assert!(set.contains(0) && set.contains(3) && set.contains(9));
        assert!(!set.contains(1) && !set.contains(8) && !set.contains(100));
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 3, 9]);
        assert_eq!(PortionSet::from_bytes(set.as_bytes().to_vec()), set);
        assert_eq!(PortionSet::from_bytes(vec![0, 0]), PortionSet::default());
        assert!(PortionSet::default().is_empty());
    }
}
