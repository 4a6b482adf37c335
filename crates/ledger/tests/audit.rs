//! `LogAudit` on a ~1000-entry log: the untampered log passes, and each kind of tampering is
//! found and named with the right index, whatever the chunk sizes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::collections::HashMap;
use tearline_ledger::*;
use time::{Duration, OffsetDateTime};
use tlog_tiles::{stored_hash_count, stored_hash_index};

const N: u64 = 1000;
const ORIGIN: &str = "hub.example/log";

struct Log {
    entries: Vec<(u64, Vec<u8>)>,
    stored: HashMap<u64, Hash>,
    log_size: u64,
    checkpoints: Vec<String>,
}

fn key() -> LogKey {
    LogKey::new([42; 32], ORIGIN).unwrap()
}

fn entry(i: u64) -> Vec<u8> {
    Entry {
        time: OffsetDateTime::from_unix_timestamp(1_700_000_000 + i as i64).unwrap() + Duration::milliseconds(7),
        event: Event::Recall { object: format!("object-{i}"), version: "1".into(), by: "alice".into() },
    }
    .encode()
    .unwrap()
}

/// A deterministic xorshift, for batch sizes.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn build() -> Log {
    build_from((0..N).map(entry).collect())
}

/// A log of `N` given entries, appended in random batches, with checkpoints at 100, 500 and N.
fn build_from(bodies: Vec<Vec<u8>>) -> Log {
    assert_eq!(bodies.len() as u64, N);
    let entries: Vec<(u64, Vec<u8>)> = renumber(bodies);
    let mut stored = HashMap::new();
    let mut size = 0u64;
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut roots = HashMap::new();
    while size < N {
        let count = (next(&mut state) % 37 + 1).min(N - size);
        let known: HashMap<u64, Hash> = append_needs(size, count).iter().map(|i| (*i, stored[i])).collect();
        let slices: Vec<&[u8]> =
            entries[size as usize..(size + count) as usize].iter().map(|(_, e)| e.as_slice()).collect();
        let appended = append(size, &slices, &known).unwrap();
        stored.extend(appended.hashes);
        size = appended.size;
        roots.insert(size, appended.root);
    }
    let key = key();
    let checkpoints =
        [100u64, 500, N].iter().map(|s| key.sign_checkpoint(ORIGIN, *s, root(*s, &stored).unwrap()).unwrap()).collect();
    Log { entries, stored, log_size: N, checkpoints }
}

fn claimed_size(note: &str) -> u64 {
    note.split('\n').nth(1).and_then(|l| l.parse().ok()).unwrap_or(0)
}

/// Audits as `tearline ledger verify` would: chunks of `chunk` entries, each with the stored
/// hashes of its stored-index range.
fn audit(log: &Log, chunk: usize) -> Option<Finding> {
    let sizes = log.checkpoints.iter().map(|c| claimed_size(c)).collect();
    let mut audit = LogAudit::with_checkpoints(sizes);
    for part in log.entries.chunks(chunk) {
        let first = part[0].0;
        let last = part[part.len() - 1].0;
        let stored: Vec<(u64, Hash)> = (stored_hash_count(first)..stored_hash_count(last + 1))
            .filter_map(|i| log.stored.get(&i).map(|h| (i, *h)))
            .collect();
        audit.feed(part, &stored);
    }
    audit.finish(log.log_size, &log.checkpoints, &key().verifier_key())
}

/// The same finding for every chunking.
fn finding(log: &Log) -> Option<Finding> {
    let first = audit(log, 1);
    for chunk in [2, 7, 64, 333, N as usize] {
        assert_eq!(audit(log, chunk), first, "chunk size {chunk}");
    }
    first
}

fn renumber(entries: Vec<Vec<u8>>) -> Vec<(u64, Vec<u8>)> {
    entries.into_iter().enumerate().map(|(i, e)| (i as u64, e)).collect()
}

fn bodies(log: &Log) -> Vec<Vec<u8>> {
    log.entries.iter().map(|(_, e)| e.clone()).collect()
}

#[test]
fn untampered_log_passes() {
    let log = build();
    assert_eq!(finding(&log), None);
    let mut audit = LogAudit::with_checkpoints(vec![100, 500]);
    let stored: Vec<(u64, Hash)> = log.stored.iter().map(|(i, h)| (*i, *h)).collect();
    assert_eq!(audit.feed(&log.entries, &stored), None);
    assert_eq!(audit.size(), N);
    assert_eq!(audit.root(), root(N, &log.stored).unwrap());
    assert_eq!(audit.root_at(100), Some(root(100, &log.stored).unwrap()));
    assert_eq!(audit.root_at(0), Some(EMPTY_ROOT));
    assert_eq!(audit.root_at(101), None);
}

#[test]
fn changed_entry() {
    let mut log = build();
    log.entries[417].1 = entry(5000);
    assert_eq!(finding(&log), Some(Finding::Changed { index: 417 }));
    log.entries[417].1 = String::from_utf8(entry(417)).unwrap().replace("alice", "mallory").into_bytes();
    assert_eq!(finding(&log), Some(Finding::Changed { index: 417 }));
    // The last entry, with nothing after it to compare.
    let mut log = build();
    log.entries[999].1 = entry(5000);
    assert_eq!(finding(&log), Some(Finding::Changed { index: 999 }));
}

#[test]
fn identical_neighbours_do_not_pass_for_a_shift() {
    // Two views of one rendering in one millisecond are identical entries.
    let mut twins: Vec<Vec<u8>> = (0..N).map(entry).collect();
    twins[301] = twins[300].clone();
    let log = build_from(twins);
    assert_eq!(finding(&log), None);
    let mut changed = build_from(bodies(&log));
    changed.entries[300].1 = entry(5000);
    assert_eq!(finding(&changed), Some(Finding::Changed { index: 300 }));
    let mut swapped = build_from(bodies(&log));
    swapped.entries.swap(300, 305);
    swapped.entries[300].0 = 300;
    swapped.entries[305].0 = 305;
    assert_eq!(finding(&swapped), Some(Finding::Reordered { index: 300, with: 305 }));
}

#[test]
fn malformed_entry() {
    let mut log = build();
    log.entries[417].1.insert(1, b' ');
    assert!(matches!(finding(&log), Some(Finding::Malformed { index: 417, .. })));
}

#[test]
fn removed_entry_leaving_a_gap() {
    let mut log = build();
    log.entries.remove(417);
    assert_eq!(finding(&log), Some(Finding::Removed { index: 417 }));
    let mut log = build();
    log.entries.remove(0);
    assert_eq!(finding(&log), Some(Finding::Removed { index: 0 }));
}

#[test]
fn removed_entry_with_renumbering() {
    let mut log = build();
    let mut entries = bodies(&log);
    entries.remove(417);
    log.entries = renumber(entries);
    assert_eq!(finding(&log), Some(Finding::Removed { index: 417 }));
}

#[test]
fn inserted_entry_with_renumbering() {
    let mut log = build();
    let mut entries = bodies(&log);
    entries.insert(417, entry(5000));
    log.entries = renumber(entries);
    assert_eq!(finding(&log), Some(Finding::Inserted { index: 417 }));
    // An entry beyond the log's size, with no stored hashes.
    let mut log = build();
    log.entries.push((N, entry(N)));
    assert_eq!(finding(&log), Some(Finding::Inserted { index: N }));
}

#[test]
fn swapped_entries() {
    let mut log = build();
    let mut entries = bodies(&log);
    entries.swap(417, 600);
    log.entries = renumber(entries);
    assert_eq!(finding(&log), Some(Finding::Reordered { index: 417, with: 600 }));
    let mut log = build();
    let mut entries = bodies(&log);
    entries.swap(417, 418);
    log.entries = renumber(entries);
    assert_eq!(finding(&log), Some(Finding::Reordered { index: 417, with: 418 }));
}

#[test]
fn changed_or_missing_stored_hash() {
    let mut log = build();
    let stored_index = stored_hash_index(3, 20);
    log.stored.get_mut(&stored_index).unwrap().0[0] ^= 1;
    assert_eq!(finding(&log), Some(Finding::HashMismatch { stored_index }));
    let mut log = build();
    log.stored.remove(&stored_index);
    assert_eq!(finding(&log), Some(Finding::HashMismatch { stored_index }));
    // A stored leaf hash changed: the entry no longer matches what the tree recorded.
    let mut log = build();
    log.stored.get_mut(&stored_hash_index(0, 300)).unwrap().0[0] ^= 1;
    assert_eq!(finding(&log), Some(Finding::Changed { index: 300 }));
}

#[test]
fn truncated_log() {
    let mut log = build();
    log.entries.truncate(990);
    assert_eq!(finding(&log), Some(Finding::Truncated { expected: N, found: 990 }));
    // With the recorded size lowered too, the last checkpoint still gives it away.
    log.log_size = 990;
    assert_eq!(finding(&log), Some(Finding::CheckpointBeyondLog { size: N, log_size: 990 }));
}

#[test]
fn tampered_checkpoints() {
    let mut log = build();
    let note = &mut log.checkpoints[1];
    let at = note.find("\n\n").unwrap() - 5;
    let mut bytes = note.clone().into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    *note = String::from_utf8(bytes).unwrap();
    assert_eq!(finding(&log), Some(Finding::CheckpointSignature { size: 500 }));

    let mut log = build();
    log.checkpoints.push(key().sign_checkpoint(ORIGIN, N + 1, EMPTY_ROOT).unwrap());
    assert_eq!(finding(&log), Some(Finding::CheckpointBeyondLog { size: N + 1, log_size: N }));

    let mut log = build();
    log.checkpoints[1] = key().sign_checkpoint(ORIGIN, 500, root(499, &log.stored).unwrap()).unwrap();
    assert_eq!(finding(&log), Some(Finding::CheckpointRoot { size: 500 }));

    let mut log = build();
    log.checkpoints[0] =
        LogKey::new([1; 32], ORIGIN).unwrap().sign_checkpoint(ORIGIN, 100, root(100, &log.stored).unwrap()).unwrap();
    assert_eq!(finding(&log), Some(Finding::CheckpointSignature { size: 100 }));
}

#[test]
fn findings_read_as_sentences() {
    assert_eq!(Finding::Changed { index: 3 }.to_string(), "Entry 3 differs from what the tree recorded.");
    assert_eq!(Finding::Reordered { index: 3, with: 9 }.to_string(), "Entries 3 and 9 are swapped.");
    assert!(Finding::Truncated { expected: 5, found: 4 }.to_string().contains("5 entries"));
}

#[test]
fn a_finding_is_kept() {
    let log = build();
    let mut audit = LogAudit::new();
    let mut first_chunk = log.entries[..10].to_vec();
    first_chunk[5].1 = b"junk".to_vec();
    let stored: Vec<(u64, Hash)> = (0..stored_hash_count(10)).map(|i| (i, log.stored[&i])).collect();
    let found = audit.feed(&first_chunk, &stored);
    assert!(matches!(found, Some(Finding::Malformed { index: 5, .. })));
    assert_eq!(audit.feed(&log.entries[10..20], &[]), found);
    assert_eq!(audit.finish(N, &[], &key().verifier_key()), found);
}
