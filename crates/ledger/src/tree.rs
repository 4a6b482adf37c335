//! The Merkle tree: RFC 6962/9162 hashing over Go sumdb's "stored hashes" layout, via
//! `tlog_tiles`. Each operation comes in two halves so that the caller can fetch the stored
//! hashes it needs asynchronously: `*_needs` lists the stored hash indexes, the operation takes
//! them in a map.

use crate::error::{LedgerError, Result};
use crate::MAX_ENTRY_BYTES;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use tlog_tiles::{Hash, HashReader};

/// Trees are limited to 2^48 entries so that no stored-index or tile arithmetic in `tlog_tiles`
/// can overflow, whatever size an untrusted request names.
pub const MAX_TREE_SIZE: u64 = 1 << 48;

/// The RFC 6962 leaf hash, SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    tlog_tiles::record_hash(entry)
}

/// What [`append`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    /// Every new stored hash, ascending stored index (they are contiguous, starting at
    /// `stored_hash_count(old size)`).
    pub hashes: Vec<(u64, Hash)>,
    /// The tree size after the append.
    pub size: u64,
    /// The tree's root after the append.
    pub root: Hash,
}

pub(crate) fn check_size(size: u64) -> Result<()> {
    if size > MAX_TREE_SIZE {
        return Err(LedgerError::TreeTooLarge { size, max: MAX_TREE_SIZE });
    }
    Ok(())
}

/// Where a reader finds the stored hashes that came before the operation.
pub(crate) trait Stored {
    fn stored(&self, index: u64) -> Option<Hash>;
}

impl Stored for HashMap<u64, Hash> {
    fn stored(&self, index: u64) -> Option<Hash> {
        self.get(&index).copied()
    }
}

/// Answers every read with a dummy hash and remembers which were asked for: the indexes read do
/// not depend on the values.
#[derive(Default)]
pub(crate) struct Recorder {
    asked: RefCell<BTreeSet<u64>>,
}

impl Recorder {
    pub(crate) fn into_indexes(self) -> Vec<u64> {
        self.asked.into_inner().into_iter().collect()
    }
}

impl Stored for Recorder {
    fn stored(&self, index: u64) -> Option<Hash> {
        self.asked.borrow_mut().insert(index);
        Some(Hash::default())
    }
}

/// A `tlog_tiles` hash reader over the stored hashes plus those an append has just computed
/// (stored indexes `fresh_from..`), remembering the first index it could not find.
pub(crate) struct Reader<'a, S: Stored> {
    stored: &'a S,
    fresh_from: u64,
    fresh: &'a [Hash],
    missing: Cell<Option<u64>>,
}

impl<'a, S: Stored> Reader<'a, S> {
    pub(crate) fn new(stored: &'a S) -> Self {
        Reader { stored, fresh_from: u64::MAX, fresh: &[], missing: Cell::new(None) }
    }

    /// Turns a `tlog_tiles` error into ours, naming the missing stored hash if that was it.
    pub(crate) fn error(&self, operation: &str, error: tlog_tiles::Error) -> LedgerError {
        match self.missing.get() {
            Some(stored_index) => LedgerError::MissingHash { stored_index },
            None => LedgerError::Tree { operation: operation.into(), reason: error.to_string() },
        }
    }
}

impl<S: Stored> HashReader for Reader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, tlog_tiles::Error> {
        let mut hashes = Vec::with_capacity(indexes.len());
        for &index in indexes {
            let fresh = index
                .checked_sub(self.fresh_from)
                .and_then(|offset| usize::try_from(offset).ok())
                .and_then(|offset| self.fresh.get(offset).copied());
            match fresh.or_else(|| self.stored.stored(index)) {
                Some(hash) => hashes.push(hash),
                None => {
                    self.missing.set(Some(index));
                    return Err(tlog_tiles::Error::IndexesNotInTree);
                }
            }
        }
        Ok(hashes)
    }
}

fn append_leaves<S: Stored>(size: u64, leaves: &[Hash], stored: &S) -> Result<Appended> {
    let count = u64::try_from(leaves.len()).unwrap_or(u64::MAX);
    let new_size = size.saturating_add(count);
    check_size(new_size)?;
    let first = tlog_tiles::stored_hash_count(size);
    let mut fresh: Vec<Hash> = Vec::with_capacity(leaves.len() * 2);
    for (n, leaf) in (size..).zip(leaves) {
        let reader = Reader { stored, fresh_from: first, fresh: &fresh, missing: Cell::new(None) };
        let hashes = tlog_tiles::stored_hashes_for_record_hash(n, *leaf, &reader)
            .map_err(|error| reader.error(&format!("append of entry {n}"), error))?;
        fresh.extend(hashes);
    }
    let reader = Reader { stored, fresh_from: first, fresh: &fresh, missing: Cell::new(None) };
    let root = tlog_tiles::tree_hash(new_size, &reader)
        .map_err(|error| reader.error(&format!("root of size {new_size}"), error))?;
    Ok(Appended { hashes: (first..).zip(fresh).collect(), size: new_size, root })
}

/// The stored hash indexes [`append`] of `count` entries to a tree of `size` reads.
/// (Empty when the resulting tree would be too large: [`append`] refuses it anyway.)
pub fn append_needs(size: u64, count: u64) -> Vec<u64> {
    let too_large = size.checked_add(count).is_none_or(|new_size| new_size > MAX_TREE_SIZE);
    let Ok(count) = usize::try_from(count) else {
        return Vec::new();
    };
    if too_large {
        return Vec::new();
    }
    let recorder = Recorder::default();
    let leaves = vec![Hash::default(); count];
    let _ = append_leaves(size, &leaves, &recorder);
    recorder.into_indexes()
}

/// Appends `entries` to a tree of `size`: every new stored hash, the new size and root. Entries
/// above [`MAX_ENTRY_BYTES`] are refused, since they could not be served in entry bundles.
pub fn append(size: u64, entries: &[&[u8]], known: &HashMap<u64, Hash>) -> Result<Appended> {
    let mut leaves = Vec::with_capacity(entries.len());
    for (index, entry) in (size..).zip(entries) {
        if entry.len() > MAX_ENTRY_BYTES {
            return Err(LedgerError::AppendedEntryTooLarge { index, size: entry.len(), max: MAX_ENTRY_BYTES });
        }
        leaves.push(leaf_hash(entry));
    }
    append_leaves(size, &leaves, known)
}

/// The stored hash indexes [`root`] reads.
pub fn root_needs(size: u64) -> Vec<u64> {
    let recorder = Recorder::default();
    let _ = root_with(size, &recorder);
    recorder.into_indexes()
}

/// The root of the tree of `size` (the empty hash, SHA-256 of "", for size 0).
pub fn root(size: u64, known: &HashMap<u64, Hash>) -> Result<Hash> {
    root_with(size, known)
}

fn root_with<S: Stored>(size: u64, known: &S) -> Result<Hash> {
    check_size(size)?;
    let reader = Reader::new(known);
    tlog_tiles::tree_hash(size, &reader).map_err(|error| reader.error(&format!("root of size {size}"), error))
}

fn check_index(index: u64, size: u64) -> Result<()> {
    check_size(size)?;
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size });
    }
    Ok(())
}

/// The stored hash indexes [`inclusion_proof`] reads; error if `index >= size`.
pub fn inclusion_needs(index: u64, size: u64) -> Result<Vec<u64>> {
    let recorder = Recorder::default();
    inclusion_proof_with(index, size, &recorder)?;
    Ok(recorder.into_indexes())
}

/// The RFC 6962 audit path of entry `index` in the tree of `size`.
pub fn inclusion_proof(index: u64, size: u64, known: &HashMap<u64, Hash>) -> Result<Vec<Hash>> {
    inclusion_proof_with(index, size, known)
}

fn inclusion_proof_with<S: Stored>(index: u64, size: u64, known: &S) -> Result<Vec<Hash>> {
    check_index(index, size)?;
    let reader = Reader::new(known);
    tlog_tiles::prove_record(size, index, &reader)
        .map_err(|error| reader.error(&format!("inclusion proof of entry {index} in size {size}"), error))
}

fn check_sizes(from: u64, to: u64) -> Result<()> {
    check_size(to)?;
    if from == 0 || from > to {
        return Err(LedgerError::BadSizes { from, to });
    }
    Ok(())
}

/// The stored hash indexes [`consistency_proof`] reads; error unless `0 < from <= to`.
pub fn consistency_needs(from: u64, to: u64) -> Result<Vec<u64>> {
    let recorder = Recorder::default();
    consistency_proof_with(from, to, &recorder)?;
    Ok(recorder.into_indexes())
}

/// The RFC 6962 consistency proof from the tree of `from` to the tree of `to` (empty when they
/// are equal).
pub fn consistency_proof(from: u64, to: u64, known: &HashMap<u64, Hash>) -> Result<Vec<Hash>> {
    consistency_proof_with(from, to, known)
}

fn consistency_proof_with<S: Stored>(from: u64, to: u64, known: &S) -> Result<Vec<Hash>> {
    check_sizes(from, to)?;
    let reader = Reader::new(known);
    tlog_tiles::prove_tree(to, from, &reader)
        .map_err(|error| reader.error(&format!("consistency proof from size {from} to {to}"), error))
}

/// Verifies that `leaf` is entry `index` of the tree of `size` whose root is `root`.
pub fn check_inclusion(proof: &[Hash], size: u64, root: Hash, index: u64, leaf: Hash) -> Result<()> {
    check_index(index, size)?;
    tlog_tiles::check_record(&proof.to_vec(), size, root, index, leaf).map_err(|error| LedgerError::InvalidProof {
        what: format!("inclusion of entry {index} in the tree of size {size}: {error}"),
    })
}

/// Verifies that the tree of `to` (root `to_root`) extends the tree of `from` (root
/// `from_root`). With `from == to` the proof must be empty and the roots equal.
pub fn check_consistency(proof: &[Hash], to: u64, to_root: Hash, from: u64, from_root: Hash) -> Result<()> {
    check_sizes(from, to)?;
    tlog_tiles::check_tree(&proof.to_vec(), to, to_root, from, from_root).map_err(|error| LedgerError::InvalidProof {
        what: format!("consistency of size {from} with size {to}: {error}"),
    })
}
