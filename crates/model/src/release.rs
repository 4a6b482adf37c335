//! What the release index records: for a party and an object version, which portions that party
//! may receive, and the clearance a user of the party needs to see the object at all.

use serde::{Deserialize, Serialize};

use crate::{Classification, Code};

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
