//! Party decisions already made, so that indexing many objects evaluates Cedar once per distinct
//! (party, originators, topics, marking): there are few of those, and many objects.

use std::collections::{BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, PoisonError, RwLock};

use tearline_model::{Code, Marking, Topic};

use crate::{Decision, PortionFacts};

/// Past this many decisions the memo starts over, so that odd inputs cannot grow it without end.
const CAPACITY: usize = 100_000;

#[derive(Debug, Default)]
pub(crate) struct Memo {
    table: RwLock<Table>,
}

/// Entries are filed by a hash of the borrowed key, so a lookup clones nothing.
#[derive(Debug, Default)]
struct Table {
    buckets: HashMap<u64, Vec<Entry>>,
    len: usize,
}

#[derive(Debug)]
struct Entry {
    party: Code,
    originators: Vec<Code>,
    topics: BTreeSet<Topic>,
    marking: Marking,
    decision: Arc<Decision>,
}

impl Entry {
    fn matches(&self, party: &Code, facts: &PortionFacts<'_>) -> bool {
        self.party == *party
            && self.originators == facts.originators
            && self.topics == *facts.topics
            && self.marking == *facts.marking
    }
}

impl Memo {
    /// The remembered decision, or the one `decide` makes, remembered. `decide` runs without a
    /// lock held: two threads may both decide the same key, and one result is kept.
    pub fn get_or_decide(
        &self,
        party: &Code,
        facts: &PortionFacts<'_>,
        decide: impl FnOnce() -> Decision,
    ) -> Arc<Decision> {
        let hash = key_hash(party, facts);
        if let Some(known) = self.read().buckets.get(&hash).and_then(|bucket| find(bucket, party, facts)) {
            return known;
        }
        let decision = Arc::new(decide());
        // A poisoned lock only means another thread panicked between complete inserts.
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = table.buckets.get(&hash).and_then(|bucket| find(bucket, party, facts)) {
            return known;
        }
        if table.len >= CAPACITY {
            *table = Table::default();
        }
        table.len += 1;
        table.buckets.entry(hash).or_default().push(Entry {
            party: party.clone(),
            originators: facts.originators.to_vec(),
            topics: facts.topics.clone(),
            marking: facts.marking.clone(),
            decision: Arc::clone(&decision),
        });
        decision
    }

    pub fn len(&self) -> usize {
        self.read().len
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }
}

fn find(bucket: &[Entry], party: &Code, facts: &PortionFacts<'_>) -> Option<Arc<Decision>> {
    bucket.iter().find(|entry| entry.matches(party, facts)).map(|entry| Arc::clone(&entry.decision))
}

fn key_hash(party: &Code, facts: &PortionFacts<'_>) -> u64 {
    let mut hasher = DefaultHasher::new();
    party.hash(&mut hasher);
    facts.originators.hash(&mut hasher);
    facts.topics.hash(&mut hasher);
    facts.marking.hash(&mut hasher);
    hasher.finish()
}
