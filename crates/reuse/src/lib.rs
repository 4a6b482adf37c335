//! Text-reuse detection: whether a submitted text reuses text that another party released to
//! the submitter without saying so, and which passages. Pure: no I/O.
//!
//! # How
//!
//! 1. **Words** ([`words`]): compatibility-decomposed (NFKD), lower-cased, without marks or
//!    zero-width characters; punctuation and dashes separate words, a hyphen too except after a
//!    bound prefix ([`BOUND_PREFIXES`]: "co-ordinate" is "coordinate", "route-clearance" is
//!    "route clearance"); apostrophes and digit-group commas inside a word go ("1,000" is "1000").
//!    So re-wrapping, case, quotes, dashes, the serial comma, hyphenation, digit grouping,
//!    zero-width characters and compatibility forms change nothing.
//! 2. **Shingles**: every run of [`SHINGLE_WORDS`] (k = 4) consecutive words, hashed by
//!    [`shingle_hash`] (FNV-1a 64 and a fixed finaliser).
//! 3. **Sketch** ([`sketch`]): winnowing (Schleimer, Wilkerson and Aiken, 2003) keeps the least
//!    hash of every [`WINNOW_WINDOW`] (w = 5) consecutive shingles, about 2/(w+1) of them: some
//!    40 hashes, the store's rows, for a text of 130 words.
//!    **Guarantee: two texts that share a run of at least [`GUARANTEED_RUN`] = k + w − 1 = 8
//!    consecutive normalised words share at least one sketch hash**, whatever surrounds the run
//!    (the window inside the run is the same in both, and so is its least hash). A text of fewer
//!    than k words has an empty sketch and is never matched.
//! 4. **Candidates**: the released texts sharing a sketch hash with the submitted one (the
//!    hub's SQL lookup; [`ReuseIndex`] in memory).
//! 5. **Exact comparison** ([`find_reuse`]): equal shingles (compared word for word, not by hash)
//!    seed an alignment of the two texts, grown word by word along it; a passage goes on across
//!    up to [`MAX_GAP_WORDS`] = 3 unmatched words (changed, inserted, or a shift of the alignment
//!    by deleted words), so a fingerprinted or edited word neither splits it nor costs more than
//!    itself.
//!
//! # The threshold
//!
//! A submitted text reuses a source ([`Reuse::is_reuse`], the rule by which [`find_reuse`]
//! returns `Some`) when a passage has at least [`MIN_PASSAGE_WORDS`] = 8 matched words, and
//! either text lies at least half ([`MIN_SHARE`]) in passages or one passage has at least
//! [`LONG_PASSAGE_WORDS`] = 20 matched words. Why:
//!
//! - Eight words in a row is beyond titles and stock phrases ("(U) Route clearance results",
//!   "in the vicinity of the"), so these never count, however short the texts.
//! - An eight-word phrase in common is reuse when it is most of one text, not when it is one
//!   phrase of two long ones: hence the half share.
//! - Twenty matched words in one passage are neither chance nor idiom at any length: they catch a
//!   paragraph lifted from a long report into another long report, where neither share is half.
//!
//! # Why k = 4 and w = 5
//!
//! Measured on 2,000 texts of 60–150 words for each setting, each word changed with
//! probability 1/8, 1/10, 1/12 or 1/20 (the fingerprint) plus 3 random word edits (the copier):
//! with k = 4 every copy was found, with at least 0.65 of the source in passages at 1/8; k = 5
//! missed copies at 1/8. With words drawn Zipf-like, as in prose, 2.6–3.9% of pairs of
//! unrelated texts shared a sketch hash at k = 3 (w = 5) against at most 0.2% at k = 4: fewer
//! needless candidates.
//! w = 5 makes the guaranteed run 8 words, so a fingerprint changing one word in ten (runs of 9
//! unchanged words) cannot hide a copy from the candidate lookup; w = 6 would save 15% of the
//! rows for a guarantee of 9.
//!
//! # Stability
//!
//! The store persists sketches, so the hash and the normalisation must never change: the hash
//! is spelled out here (not `DefaultHasher`) and pinned by a test; decompositions of assigned
//! characters are fixed by Unicode's stability policy. Hashes are `u64`: a store of signed
//! 64-bit integers keeps them bit-cast (`hash as i64`).

mod sketch;
mod words;

use std::ops::Range;

use sketch::HashMap;
pub use sketch::{shingle_hash, sketch, ReuseIndex};
pub use words::{words, Word, BOUND_PREFIXES};

/// Words per shingle (k).
pub const SHINGLE_WORDS: usize = 4;
/// Consecutive shingles of which the sketch keeps the least hash (w).
pub const WINNOW_WINDOW: usize = 5;
/// Any run of this many normalised words shared by two texts yields a hash in both sketches.
pub const GUARANTEED_RUN: usize = SHINGLE_WORDS + WINNOW_WINDOW - 1;
/// Unmatched words a passage bridges, so that a changed word does not split it.
pub const MAX_GAP_WORDS: usize = 3;
/// Matched words a passage needs to count.
pub const MIN_PASSAGE_WORDS: usize = 8;
/// Share of either text in passages that makes them reuse.
pub const MIN_SHARE: f64 = 0.5;
/// Matched words that make one passage reuse whatever the shares.
pub const LONG_PASSAGE_WORDS: usize = 20;

/// How `submitted` reuses `source`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reuse {
    /// Share of the source's words lying in passages found in the submitted text (0..=1).
    pub source_share: f64,
    /// Share of the submitted text's words lying in passages from the source (0..=1).
    pub submitted_share: f64,
    /// Maximal passages of the submitted text that match the source, in order.
    pub passages: Vec<Passage>,
}

/// A passage of the submitted text and where it comes from in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passage {
    /// Bytes of the submitted text.
    pub submitted: Range<usize>,
    /// Bytes of the source.
    pub source: Range<usize>,
    /// Submitted words equal to the source's on the passage's alignment (changed words not
    /// counted): what the thresholds count.
    pub matched_words: usize,
    /// The submitted text's slice.
    pub text: String,
}

impl Reuse {
    /// The threshold rule (see the crate documentation): a passage of [`MIN_PASSAGE_WORDS`], and
    /// either text at least [`MIN_SHARE`] in passages or one passage of [`LONG_PASSAGE_WORDS`].
    pub fn is_reuse(&self) -> bool {
        let longest = self.passages.iter().map(|p| p.matched_words).max().unwrap_or(0);
        longest >= MIN_PASSAGE_WORDS
            && (self.source_share >= MIN_SHARE || self.submitted_share >= MIN_SHARE || longest >= LONG_PASSAGE_WORDS)
    }
}

/// Exact comparison: whether `submitted` reuses `source` ([`Reuse::is_reuse`]), and where.
pub fn find_reuse(submitted: &str, source: &str) -> Option<Reuse> {
    let reuse = compare(submitted, &words(submitted), &words(source), SHINGLE_WORDS);
    reuse.is_reuse().then_some(reuse)
}

/// A passage being built, in word positions.
struct Run {
    sub: Range<usize>,
    src: Range<usize>,
    /// Source position minus submitted position of the last match: its alignment.
    diagonal: isize,
    /// Submitted words equal to the source word on the alignment.
    matched: usize,
}

fn diagonal(i: usize, j: usize) -> isize {
    j as isize - i as isize
}

/// Pairs (submitted position, source position) of equal shingles, one per submitted shingle,
/// preferring the source occurrence that keeps the alignment of the previous pair.
fn seeds(sub: &[Word], src: &[Word], k: usize) -> Vec<(usize, usize)> {
    // Where each source shingle first occurs, and from each occurrence the next one.
    let hashes: Vec<u64> = src.windows(k).map(shingle_hash).collect();
    let mut first: HashMap<u64, usize> = HashMap::with_capacity_and_hasher(hashes.len(), Default::default());
    let mut next = vec![usize::MAX; hashes.len()];
    for (j, &hash) in hashes.iter().enumerate().rev() {
        if let Some(later) = first.insert(hash, j) {
            next[j] = later;
        }
    }
    let mut found: Vec<(usize, usize)> = Vec::new();
    for (i, shingle) in sub.windows(k).enumerate() {
        let Some(&j) = first.get(&shingle_hash(shingle)) else { continue };
        let occurrences = std::iter::successors(Some(j), |&j| next.get(j).copied().filter(|&n| n != usize::MAX));
        // Compare the words too: the comparison is exact, not up to hash collisions.
        let equal = occurrences.filter(|&j| src[j..j + k].iter().zip(shingle).all(|(a, b)| a.text == b.text));
        let best = match found.last() {
            Some(&(li, lj)) => equal.min_by_key(|&j| (diagonal(i, j) - diagonal(li, lj)).abs()),
            None => equal.min(),
        };
        if let Some(j) = best {
            found.push((i, j));
        }
    }
    found
}

/// Aligns the submitted words to the source's: seeds of equal shingles, grown into runs along
/// their alignment word by word, so that a changed word costs one word, not a shingle's worth.
struct Aligner<'a> {
    sub: &'a [Word],
    src: &'a [Word],
}

impl Aligner<'_> {
    /// Whether submitted word `x` equals the source word on alignment `d`.
    fn same(&self, x: usize, d: isize) -> bool {
        let y = x as isize + d;
        y >= 0 && self.src.get(y as usize).is_some_and(|w| self.sub.get(x).is_some_and(|v| v.text == w.text))
    }

    /// Walks submitted positions from `positions`, along `d`, while at most [`MAX_GAP_WORDS`]
    /// are unmatched: the position past the last matched word and how many matched.
    fn extend(&self, positions: impl Iterator<Item = usize>, d: isize) -> Option<(usize, usize)> {
        let (mut last, mut matched, mut unmatched) = (None, 0, 0);
        for x in positions {
            if self.same(x, d) {
                last = Some(x);
                matched += 1;
            } else {
                unmatched += 1;
                if unmatched > MAX_GAP_WORDS {
                    break;
                }
            }
        }
        last.map(|x| (x, matched))
    }

    /// Words matched between a run's end and the next seed at `to`, on either alignment, or
    /// `None` when more than [`MAX_GAP_WORDS`] are not.
    fn bridge(&self, from: usize, to: usize, before: isize, after: isize) -> Option<usize> {
        let matched = (from..to).filter(|&x| self.same(x, before) || self.same(x, after)).count();
        (to - from - matched <= MAX_GAP_WORDS).then_some(matched)
    }

    /// Grows a finished run forwards, up to `limit`.
    fn close(&self, run: &mut Run, limit: usize) {
        if let Some((last, matched)) = self.extend(run.sub.end..limit, run.diagonal) {
            run.sub.end = last + 1;
            run.src.end = run.src.end.max((last as isize + run.diagonal + 1) as usize);
            run.matched += matched;
        }
    }

    /// A run from the seed at (`i`, `j`), from `floor` at the earliest (where the previous one
    /// ends), grown backwards down to it.
    fn open(&self, i: usize, j: usize, k: usize, floor: usize) -> Run {
        let d = diagonal(i, j);
        let start = i.max(floor);
        let mut run = Run { sub: start..i + k, src: j + (start - i)..j + k, diagonal: d, matched: i + k - start };
        if let Some((first, matched)) = self.extend((floor..start).rev(), d) {
            run.sub.start = first;
            run.src.start = (first as isize + d) as usize;
            run.matched += matched;
        }
        run
    }

    /// The runs of equal words, in order and apart: a seed continues the current run when it
    /// keeps its alignment within [`MAX_GAP_WORDS`] and at most that many words between them
    /// are unmatched.
    fn runs(&self, seeds: &[(usize, usize)], k: usize) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for &(i, j) in seeds {
            let d = diagonal(i, j);
            if let Some(run) = runs.last_mut() {
                if (d - run.diagonal).unsigned_abs() <= MAX_GAP_WORDS {
                    let gap = if i < run.sub.end { Some(0) } else { self.bridge(run.sub.end, i, run.diagonal, d) };
                    if let Some(gap) = gap {
                        run.matched += gap + (i + k).saturating_sub(run.sub.end.max(i));
                        run.sub.end = run.sub.end.max(i + k);
                        run.src.start = run.src.start.min(j);
                        run.src.end = run.src.end.max(j + k);
                        run.diagonal = d;
                        continue;
                    }
                } else if i + k <= run.sub.end {
                    // The same words elsewhere in the source, inside this passage: not a new one.
                    continue;
                }
                self.close(run, i);
            }
            let floor = runs.last().map_or(0, |run| run.sub.end);
            runs.push(self.open(i, j, k, floor));
        }
        if let Some(run) = runs.last_mut() {
            self.close(run, self.sub.len());
        }
        runs
    }
}

/// Share of `len` words inside the given ranges (which may overlap).
fn share(len: usize, ranges: impl Iterator<Item = Range<usize>>) -> f64 {
    let mut covered = vec![false; len];
    for range in ranges {
        covered[range].fill(true);
    }
    let count = covered.iter().filter(|&&c| c).count();
    if len == 0 {
        0.0
    } else {
        count as f64 / len as f64
    }
}

/// The comparison with shingles of `k` words, whatever the threshold says.
fn compare(submitted: &str, sub: &[Word], src: &[Word], k: usize) -> Reuse {
    let kept: Vec<Run> = Aligner { sub, src }
        .runs(&seeds(sub, src, k), k)
        .into_iter()
        .filter(|run| run.matched >= MIN_PASSAGE_WORDS)
        .collect();
    let span = |words: &[Word], range: &Range<usize>| words[range.start].span.start..words[range.end - 1].span.end;
    let passages = kept
        .iter()
        .map(|run| {
            let submitted_span = span(sub, &run.sub);
            Passage {
                text: submitted[submitted_span.clone()].to_string(),
                submitted: submitted_span,
                source: span(src, &run.src),
                matched_words: run.matched,
            }
        })
        .collect();
    Reuse {
        source_share: share(src.len(), kept.iter().map(|r| r.src.clone())),
        submitted_share: share(sub.len(), kept.iter().map(|r| r.sub.clone())),
        passages,
    }
}
