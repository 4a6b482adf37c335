//! Whole-log verification (`tearline ledger verify`): streaming, pure, bounded memory.

use crate::entry::Entry;
use crate::notes::verify_checkpoint;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tlog_tiles::{node_hash, record_hash, stored_hash_index, Hash, EMPTY_HASH};

/// The first problem [`LogAudit`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Entry bytes not a canonical entry.
    Malformed { index: u64, reason: String },
    /// Entry differs from what the tree recorded.
    Changed { index: u64 },
    /// Entry missing (gap in indexes, or what follows shifted down by one).
    Removed { index: u64 },
    /// An extra entry at `index` (what follows shifted up by one), or beyond the log's size.
    Inserted { index: u64 },
    /// Entries at `index` and `with` swapped.
    Reordered { index: u64, with: u64 },
    /// A stored tree hash (above the leaves, or a missing one) differs from the recomputed one.
    HashMismatch { stored_index: u64 },
    /// A stored checkpoint whose signature does not verify.
    CheckpointSignature { size: u64 },
    /// A checkpoint whose root differs from the recomputed tree at its size.
    CheckpointRoot { size: u64 },
    /// A checkpoint larger than the stored log (entries removed at the end).
    CheckpointBeyondLog { size: u64, log_size: u64 },
    /// Fewer entries than the log's recorded size.
    Truncated { expected: u64, found: u64 },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Malformed { index, reason } => {
                write!(f, "Entry {index} is not a canonical entry ({reason}).")
            }
            Finding::Changed { index } => {
                write!(f, "Entry {index} differs from what the tree recorded.")
            }
            Finding::Removed { index } => write!(
                f,
                "Entry {index} is missing: the entries after it are absent or shifted down by one."
            ),
            Finding::Inserted { index } => write!(
                f,
                "An extra entry is at index {index}: the entries after it are shifted up by one, or it is beyond the log's size."
            ),
            Finding::Reordered { index, with } => {
                write!(f, "Entries {index} and {with} are swapped.")
            }
            Finding::HashMismatch { stored_index } => write!(
                f,
                "Stored tree hash {stored_index} is missing or differs from the one recomputed from the entries."
            ),
            Finding::CheckpointSignature { size } => write!(
                f,
                "The checkpoint of size {size} does not carry a valid signature of the log."
            ),
            Finding::CheckpointRoot { size } => write!(
                f,
                "The checkpoint of size {size} has a root that differs from the tree recomputed from the entries."
            ),
            Finding::CheckpointBeyondLog { size, log_size } => write!(
                f,
                "The checkpoint of size {size} is beyond the stored log of {log_size} entries."
            ),
            Finding::Truncated { expected, found } => write!(
                f,
                "The log records {expected} entries but only {found} are stored."
            ),
        }
    }
}

/// Where the audit stands.
#[derive(Debug, Clone)]
enum State {
    Clean,
    /// The stored leaf hash of entry `index` differs from the entry's; the entries after it tell
    /// a removal, an insertion, a swap or a change apart.
    Mismatch {
        index: u64,
        recomputed: Hash,
        stored: Hash,
        /// The entry right after was fine: looking for the other half of a swap.
        seeking_partner: bool,
    },
    /// No stored leaf hash for entry `index`: beyond the log, or a deleted stored hash (told
    /// apart by the recorded log size in `finish`).
    MissingLeaf {
        index: u64,
    },
    Found(Finding),
}

/// Fed the stored log in index order, chunk by chunk; recomputes every stored hash and compares
/// with the stored ones; names the first problem. Keeps only the tree's right edge (at most 64
/// hashes) and the roots at the checkpoint sizes it was told about.
#[derive(Debug, Clone)]
pub struct LogAudit {
    size: u64,
    /// Roots of the complete subtrees along the right edge, left to right (one per set bit of
    /// `size`).
    frontier: Vec<Hash>,
    checkpoint_sizes: BTreeSet<u64>,
    roots: BTreeMap<u64, Hash>,
    state: State,
}

impl Default for LogAudit {
    fn default() -> Self {
        LogAudit::new()
    }
}

impl LogAudit {
    pub fn new() -> LogAudit {
        LogAudit::with_checkpoints(Vec::new())
    }

    /// An audit that also records the recomputed root at each of `sizes`, so that
    /// [`LogAudit::finish`] can check the checkpoints of those sizes.
    pub fn with_checkpoints(sizes: Vec<u64>) -> LogAudit {
        LogAudit {
            size: 0,
            frontier: Vec::new(),
            checkpoint_sizes: sizes.into_iter().collect(),
            roots: BTreeMap::new(),
            state: State::Clean,
        }
    }

    /// Entries fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Recomputed root of the entries fed so far.
    pub fn root(&self) -> Hash {
        let mut hashes = self.frontier.iter().rev();
        let Some(&last) = hashes.next() else {
            return EMPTY_HASH;
        };
        hashes.fold(last, |right, &left| node_hash(left, right))
    }

    /// Recomputed root at an earlier size: known for 0, the current size and the sizes given to
    /// [`LogAudit::with_checkpoints`] once reached.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size == self.size {
            return Some(self.root());
        }
        if size == 0 {
            return Some(EMPTY_HASH);
        }
        self.roots.get(&size).copied()
    }

    /// `entries`: (index, bytes) ascending, contiguous with the previous chunk as stored (gaps
    /// are findings); `stored`: the stored hashes (stored index, hash) for exactly the
    /// stored-index range these entries' appends produced, i.e. [stored_hash_count(first),
    /// stored_hash_count(last+1)) (missing ones are findings). Returns the first finding (and
    /// keeps it; later calls return it again without work). A leaf mismatch may need later
    /// entries to be named, so it can come out of a later call or of `finish`.
    pub fn feed(&mut self, entries: &[(u64, Vec<u8>)], stored: &[(u64, Hash)]) -> Option<Finding> {
        if let State::Found(finding) = &self.state {
            return Some(finding.clone());
        }
        let stored: HashMap<u64, Hash> = stored.iter().copied().collect();
        for (index, bytes) in entries {
            if *index != self.size {
                let gap = if *index > self.size {
                    Finding::Removed { index: self.size }
                } else {
                    Finding::Inserted { index: self.size }
                };
                let finding = self.settle().unwrap_or(gap);
                self.state = State::Found(finding.clone());
                return Some(finding);
            }
            if let Some(finding) = self.feed_one(*index, bytes, &stored) {
                self.state = State::Found(finding.clone());
                return Some(finding);
            }
        }
        None
    }

    /// A pending leaf mismatch or missing leaf with no more evidence coming, as a finding.
    fn settle(&self) -> Option<Finding> {
        match self.state {
            State::Clean | State::MissingLeaf { .. } => None,
            State::Mismatch { index, .. } => Some(Finding::Changed { index }),
            State::Found(ref finding) => Some(finding.clone()),
        }
    }

    fn feed_one(&mut self, index: u64, bytes: &[u8], stored: &HashMap<u64, Hash>) -> Option<Finding> {
        let leaf = record_hash(bytes);
        let first_stored = stored_hash_index(0, index);
        let new_hashes = self.push_leaf(leaf);
        let stored_leaf = stored.get(&first_stored).copied();
        match self.state {
            State::Clean => {
                if let Err(error) = Entry::decode(bytes) {
                    return Some(Finding::Malformed { index, reason: error.to_string() });
                }
                match stored_leaf {
                    None => self.state = State::MissingLeaf { index },
                    Some(stored_leaf) if stored_leaf != leaf => {
                        self.state =
                            State::Mismatch { index, recomputed: leaf, stored: stored_leaf, seeking_partner: false }
                    }
                    Some(_) => {
                        for (stored_index, hash) in (first_stored..).zip(&new_hashes).skip(1) {
                            if stored.get(&stored_index) != Some(hash) {
                                return Some(Finding::HashMismatch { stored_index });
                            }
                        }
                    }
                }
                None
            }
            State::Mismatch { index: first, recomputed, stored: first_stored_leaf, seeking_partner } => {
                let Some(stored_here) = stored_leaf else {
                    return Some(Finding::Changed { index: first });
                };
                let swapped = stored_here == recomputed && leaf == first_stored_leaf;
                if swapped {
                    Some(Finding::Reordered { index: first, with: index })
                } else if stored_here == leaf {
                    // This entry is fine: the first one was changed, or swapped with a later one.
                    // (Checked before a shift: when two neighbouring entries are identical, as two
                    // views of one rendering in one millisecond are, a shift would explain it too.)
                    self.state =
                        State::Mismatch { index: first, recomputed, stored: first_stored_leaf, seeking_partner: true };
                    None
                } else if !seeking_partner && stored_here == recomputed {
                    Some(Finding::Removed { index: first })
                } else if !seeking_partner && leaf == first_stored_leaf {
                    Some(Finding::Inserted { index: first })
                } else {
                    Some(Finding::Changed { index: first })
                }
            }
            State::MissingLeaf { .. } => None,
            State::Found(ref finding) => Some(finding.clone()),
        }
    }

    /// Adds a leaf to the right edge; returns the stored hashes its append produces (leaf
    /// first, then each completed subtree), as `tlog_tiles::stored_hashes` would.
    fn push_leaf(&mut self, leaf: Hash) -> Vec<Hash> {
        let mut produced = vec![leaf];
        let mut hash = leaf;
        for _ in 0..self.size.trailing_ones() {
            let Some(left) = self.frontier.pop() else {
                break;
            };
            hash = node_hash(left, hash);
            produced.push(hash);
        }
        self.frontier.push(hash);
        self.size += 1;
        if self.checkpoint_sizes.contains(&self.size) {
            self.roots.insert(self.size, self.root());
        }
        produced
    }

    /// After all entries: checks each checkpoint note (signature with verifier_key, root vs the
    /// recomputed tree, size vs the log) and the recorded log size; returns the first finding
    /// overall. A checkpoint whose size was not given to [`LogAudit::with_checkpoints`] (nor is
    /// the final size) cannot be compared and is reported as [`Finding::CheckpointRoot`].
    pub fn finish(&mut self, log_size: u64, checkpoints: &[String], verifier_key: &str) -> Option<Finding> {
        let finding = self.final_finding(log_size, checkpoints, verifier_key)?;
        self.state = State::Found(finding.clone());
        Some(finding)
    }

    fn final_finding(&self, log_size: u64, checkpoints: &[String], verifier_key: &str) -> Option<Finding> {
        match self.state {
            State::Found(ref finding) => return Some(finding.clone()),
            State::Mismatch { index, .. } => return Some(Finding::Changed { index }),
            State::MissingLeaf { index } => {
                return Some(if index >= log_size {
                    Finding::Inserted { index: log_size }
                } else {
                    Finding::HashMismatch { stored_index: stored_hash_index(0, index) }
                })
            }
            State::Clean => {}
        }
        if self.size < log_size {
            return Some(Finding::Truncated { expected: log_size, found: self.size });
        }
        if self.size > log_size {
            return Some(Finding::Inserted { index: log_size });
        }
        for note in checkpoints {
            let Ok(checkpoint) = verify_checkpoint(note, verifier_key) else {
                return Some(Finding::CheckpointSignature { size: claimed_size(note) });
            };
            if checkpoint.size > self.size {
                return Some(Finding::CheckpointBeyondLog { size: checkpoint.size, log_size: self.size });
            }
            if self.root_at(checkpoint.size) != Some(checkpoint.root) {
                return Some(Finding::CheckpointRoot { size: checkpoint.size });
            }
        }
        None
    }
}

/// The size a checkpoint note claims (its second line), for naming one whose signature fails.
fn claimed_size(note: &str) -> u64 {
    note.split('\n').nth(1).and_then(|line| line.parse().ok()).unwrap_or(0)
}
