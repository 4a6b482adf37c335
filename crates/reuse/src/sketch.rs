//! Shingle hashes, the winnowed sketch the store indexes, and an in-memory index over sketches.

use std::hash::{BuildHasherDefault, Hasher};

use crate::words::{words, Word};
use crate::{SHINGLE_WORDS, WINNOW_WINDOW};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The hash of a shingle: FNV-1a 64 over its words' UTF-8 bytes, each word after the first
/// preceded by a space (words hold none, so this is unambiguous), then MurmurHash3's 64-bit
/// finaliser so that every bit depends on every input byte (winnowing compares whole values).
///
/// Persisted by the store: it must never change.
pub fn shingle_hash(shingle: &[Word]) -> u64 {
    let mut hash = FNV_OFFSET;
    for (i, word) in shingle.iter().enumerate() {
        let space = (i > 0).then_some(b' ');
        for byte in space.into_iter().chain(word.text.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    }
    fmix64(hash)
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hashes of every run of `k` consecutive words, in order.
pub(crate) fn shingle_hashes(words: &[Word], k: usize) -> Vec<u64> {
    words.windows(k).map(shingle_hash).collect()
}

/// The least hash of every window of `window` consecutive shingles (of all of them when there
/// are fewer), sorted and deduplicated.
pub(crate) fn winnow(hashes: &[u64], window: usize) -> Vec<u64> {
    let mut picked: Vec<u64> = if hashes.len() <= window {
        hashes.iter().min().copied().into_iter().collect()
    } else {
        hashes.windows(window).filter_map(|w| w.iter().min().copied()).collect()
    };
    picked.sort_unstable();
    picked.dedup();
    picked
}

pub(crate) fn sketch_of(words: &[Word], k: usize, window: usize) -> Vec<u64> {
    winnow(&shingle_hashes(words, k), window)
}

/// The hashes the store indexes for a text: the winnowed selection of its shingle hashes
/// (see the crate documentation for the guarantee), sorted and deduplicated.
///
/// Empty for a text of fewer than [`SHINGLE_WORDS`] words: such a text is never matched.
pub fn sketch(text: &str) -> Vec<u64> {
    sketch_of(&words(text), SHINGLE_WORDS, WINNOW_WINDOW)
}

/// Hashes keys that are already uniform hashes as they are: SipHash over them would only cost.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

/// A map keyed by shingle hashes.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<PassThrough>>;

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// An in-memory inverted index from sketch hash to the texts that have it: the candidate
/// lookup the hub does in SQL, for tests and the benchmark.
pub struct ReuseIndex<K> {
    keys: Vec<K>,
    postings: HashMap<u64, Vec<usize>>,
}

impl<K> Default for ReuseIndex<K> {
    fn default() -> Self {
        Self { keys: Vec::new(), postings: HashMap::default() }
    }
}

impl<K: Clone> ReuseIndex<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes a released text under `key` (keys are not deduplicated).
    pub fn insert(&mut self, key: K, text: &str) {
        let id = self.keys.len();
        self.keys.push(key);
        for hash in sketch(text) {
            self.postings.entry(hash).or_default().push(id);
        }
    }

    /// The texts sharing at least `min_shared` (at least 1) sketch hashes with `text`, with how
    /// many they share, most first.
    pub fn candidates(&self, text: &str, min_shared: usize) -> Vec<(K, usize)> {
        let mut shared: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        for hash in sketch(text) {
            for &id in self.postings.get(&hash).into_iter().flatten() {
                *shared.entry(id).or_default() += 1;
            }
        }
        let mut found: Vec<(usize, usize)> = shared.into_iter().filter(|&(_, n)| n >= min_shared.max(1)).collect();
        found.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        found.into_iter().filter_map(|(id, n)| Some((self.keys.get(id)?.clone(), n))).collect()
    }

    /// The number of texts inserted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of (hash, text) entries: the store's rows for these texts.
    pub fn entries(&self) -> usize {
        self.postings.values().map(Vec::len).sum()
    }
}
