//! Checking one submission against many released texts: the sketch index (candidates, then the
//! exact comparison on each) against, as the peer in the same run, the exact comparison with
//! every released text. Also the index's build time and the sketch length per text (the store's
//! rows per text).
//!
//! `CARGO_TARGET_DIR=/work/target-reuse cargo bench -p tearline-reuse --bench matching`
//!
//! Released texts: 100,000 (`TEARLINE_BENCH_TEXTS` to change), 60–200 words each, drawn
//! Zipf-like (as in prose) from 4,000 made-up words, with capitals and punctuation. The
//! submission: 300 words, one released text copied into words of the submitter's own,
//! lower-cased, re-wrapped, one word in twelve changed, two inserted and two deleted.

#![allow(clippy::expect_used, clippy::panic, reason = "a benchmark whose setup fails should stop at once")]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use tearline_reuse::{find_reuse, sketch, ReuseIndex};

const VOCABULARY: usize = 4000;
const SUBMISSION_WORDS: usize = 300;

/// xorshift64: deterministic, and no dependency for it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A word id, rank r with probability about 1/r (Zipf).
    fn zipf(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((VOCABULARY as f64).powf(u) as usize).saturating_sub(1).min(VOCABULARY - 1)
    }
}

fn vocabulary() -> Vec<String> {
    const SYLLABLES: [&str; 16] =
        ["ka", "ro", "mi", "tu", "le", "sa", "po", "ne", "di", "gu", "fa", "zo", "be", "ri", "mo", "ta"];
    let mut words = Vec::with_capacity(VOCABULARY);
    'outer: for a in SYLLABLES {
        for b in SYLLABLES {
            for c in SYLLABLES {
                for end in ["", "n"] {
                    words.push(format!("{a}{b}{c}{end}"));
                    if words.len() == VOCABULARY {
                        break 'outer;
                    }
                }
            }
        }
    }
    words
}

/// Sentences of 8–20 words, capitalised, with a comma now and then.
fn released(vocabulary: &[String], ids: &[usize], rng: &mut Rng) -> String {
    let mut text = String::new();
    let mut sentence = 0;
    for &id in ids {
        let word = &vocabulary[id];
        if sentence == 0 {
            let mut chars = word.chars();
            text.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            text.push_str(chars.as_str());
            sentence = 8 + rng.below(13);
        } else {
            text.push_str(word);
        }
        sentence -= 1;
        text.push_str(if sentence == 0 {
            ". "
        } else if rng.below(10) == 0 {
            ", "
        } else {
            " "
        });
    }
    text.trim_end().to_string()
}

/// The copy: one word in twelve changed, two inserted, two deleted, between words of its own.
fn submission(vocabulary: &[String], source: &[usize], rng: &mut Rng) -> String {
    let mut copy: Vec<usize> = source
        .iter()
        .map(|&id| if rng.below(12) == 0 { (id + 1 + rng.below(VOCABULARY - 1)) % VOCABULARY } else { id })
        .collect();
    for _ in 0..2 {
        let at = rng.below(copy.len());
        copy.insert(at, rng.zipf());
        copy.remove(rng.below(copy.len()));
    }
    let own = SUBMISSION_WORDS.saturating_sub(copy.len());
    let before: Vec<usize> = (0..own / 2).map(|_| rng.zipf()).collect();
    let after: Vec<usize> = (0..own - own / 2).map(|_| rng.zipf()).collect();
    let ids = [before, copy, after].concat();
    ids.chunks(11)
        .map(|line| line.iter().map(|&id| vocabulary[id].as_str()).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn matching(c: &mut Criterion) {
    // Test runners list a bench target's tests (`--list`) or run it without `--bench`: building
    // 100,000 texts is for benchmarking only.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let count: usize = std::env::var("TEARLINE_BENCH_TEXTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let vocabulary = vocabulary();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let ids: Vec<Vec<usize>> = (0..count).map(|_| (0..60 + rng.below(141)).map(|_| rng.zipf()).collect()).collect();
    let texts: Vec<String> = ids.iter().map(|ids| released(&vocabulary, ids, &mut rng)).collect();
    let words: usize = ids.iter().map(Vec::len).sum();

    let started = Instant::now();
    let mut index = ReuseIndex::new();
    for (key, text) in texts.iter().enumerate() {
        index.insert(key, text);
    }
    let build = started.elapsed();
    let rows = index.entries();
    println!(
        "index of {count} texts ({:.1} words each): built in {:.2} s ({:.1} µs a text); sketch {:.1} hashes a text \
         ({:.3} a word), {rows} rows",
        words as f64 / count as f64,
        build.as_secs_f64(),
        build.as_secs_f64() * 1e6 / count as f64,
        rows as f64 / count as f64,
        rows as f64 / words as f64,
    );
    let sketched = Instant::now();
    let hashes: usize = texts.iter().take(10_000).map(|t| sketch(t).len()).sum();
    println!(
        "sketch alone: {:.1} µs a text ({hashes} hashes for 10,000)",
        sketched.elapsed().as_secs_f64() * 1e6 / 10_000.0
    );

    let copied = count * 7 / 10;
    let submitted = submission(&vocabulary, &ids[copied], &mut rng);
    let check = || -> Vec<usize> {
        index
            .candidates(&submitted, 1)
            .into_iter()
            .filter(|&(key, _)| find_reuse(&submitted, &texts[key]).is_some())
            .map(|(key, _)| key)
            .collect()
    };
    for min_shared in [1, 2] {
        let candidates = index.candidates(&submitted, min_shared);
        println!(
            "candidates sharing >= {min_shared}: {} (the copied text shares {})",
            candidates.len(),
            candidates.iter().find(|c| c.0 == copied).map_or(0, |c| c.1)
        );
    }
    assert_eq!(check(), [copied], "the index check finds the copied text and only it");
    let brute = || -> Vec<usize> { (0..count).filter(|&key| find_reuse(&submitted, &texts[key]).is_some()).collect() };
    assert_eq!(brute(), [copied], "the brute force finds the copied text and only it");

    let mut group = c.benchmark_group(format!("check a {SUBMISSION_WORDS}-word submission against {count} texts"));
    group.bench_function("index: candidates, then find_reuse on each", |b| b.iter(|| black_box(check())));
    group.sample_size(10);
    group.bench_function("brute force: find_reuse on every text", |b| b.iter(|| black_box(brute())));
    group.finish();

    let source = &texts[copied];
    c.bench_function("find_reuse, the submission against its source", |b| {
        b.iter(|| find_reuse(black_box(&submitted), black_box(source)))
    });
    c.bench_function("sketch of the submission", |b| b.iter(|| sketch(black_box(&submitted))));
}

criterion_group!(benches, matching);
criterion_main!(benches);
