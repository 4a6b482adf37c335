//! What the release index records: for a party and an object version, which portions that party
//! may receive, and the clearance a user of the party needs to see the object at all.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

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
}

impl ReleaseFacts {
    /// A report: the title is required, and at least one paragraph.
    pub fn of_report(report: &Report) -> Self {
        ReleaseFacts {
            originator: report.originator.clone(),
            topics: report.topics.clone(),
            portions: report.portions().map(|p| p.marking.clone()).collect(),
            required: BTreeSet::from([0]),
            at_least_one_of: vec![(1..=report.paragraphs.len()).collect()],
        }
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
        ReleaseFacts {
            originator: originator.clone(),
            topics: BTreeSet::new(),
            portions: Vec::new(),
            required: BTreeSet::from([0]),
            at_least_one_of: Vec::new(),
        }
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
