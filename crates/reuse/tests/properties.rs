//! Properties over generated texts: copies written differently and fingerprinted are always
//! found, unrelated texts never are, and the sketch keeps its guarantee.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

mod common;

use common::{draw, substitute, vocabulary, write, Entry, Rng, Style, VOCABULARY_SIZE};
use proptest::prelude::*;
use tearline_reuse::{find_reuse, sketch, words, GUARANTEED_RUN};

fn normalised(vocabulary: &[Entry], ids: &[usize]) -> Vec<String> {
    ids.iter().map(|&id| vocabulary[id].word.clone()).collect()
}

fn texts(text: &str) -> Vec<String> {
    words(text).into_iter().map(|w| w.text).collect()
}

fn shares_a_hash(a: &str, b: &str) -> bool {
    let b = sketch(b);
    sketch(a).iter().any(|h| b.binary_search(h).is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A source of 60–150 words, copied with any combination of the changes normalisation
    /// ignores and one word in twelve substituted, is a candidate and is found to be reused.
    #[test]
    fn edited_copies_are_found(
        ids in prop::collection::vec(0..VOCABULARY_SIZE, 60..=150),
        source_flags in any::<[bool; 6]>(),
        copy_flags in any::<[bool; 6]>(),
        seed in any::<u64>(),
    ) {
        let vocabulary = vocabulary();
        let mut rng = Rng::new(seed);
        let copied = substitute(&ids, ids.len() / 12, &mut rng);
        let source = write(&vocabulary, &ids, Style::from_flags(source_flags), &mut rng);
        let copy = write(&vocabulary, &copied, Style::from_flags(copy_flags), &mut rng);

        // Normalisation undoes every change but the substitutions.
        prop_assert_eq!(texts(&source), normalised(&vocabulary, &ids));
        prop_assert_eq!(texts(&copy), normalised(&vocabulary, &copied));

        prop_assert!(shares_a_hash(&copy, &source), "not a candidate");
        let reuse = find_reuse(&copy, &source);
        prop_assert!(reuse.is_some(), "not found: {source:?} / {copy:?}");
        let reuse = reuse.unwrap();
        prop_assert!(reuse.source_share >= 0.5 && reuse.submitted_share >= 0.5, "{reuse:?}");
        for passage in &reuse.passages {
            prop_assert_eq!(&copy[passage.submitted.clone()], passage.text.as_str());
        }
        prop_assert!(reuse.passages.windows(2).all(|p| p[0].submitted.end <= p[1].submitted.start));
    }

    /// Texts drawn independently from the same vocabulary, however written, are not reuse.
    #[test]
    fn unrelated_texts_are_not_found(
        a_len in 60usize..=150,
        b_len in 60usize..=150,
        a_flags in any::<[bool; 6]>(),
        b_flags in any::<[bool; 6]>(),
        seed in any::<u64>(),
    ) {
        let vocabulary = vocabulary();
        let mut rng = Rng::new(seed);
        let a = write(&vocabulary, &draw(a_len, &mut rng), Style::from_flags(a_flags), &mut rng);
        let b = write(&vocabulary, &draw(b_len, &mut rng), Style::from_flags(b_flags), &mut rng);
        prop_assert_eq!(find_reuse(&a, &b), None);
        prop_assert_eq!(find_reuse(&b, &a), None);
    }

    /// Two texts sharing a run of GUARANTEED_RUN normalised words, written differently and
    /// anywhere in otherwise unrelated texts, share a sketch hash.
    #[test]
    fn a_shared_run_shares_a_sketch_hash(
        run in prop::collection::vec(0..VOCABULARY_SIZE, GUARANTEED_RUN),
        before in (0usize..40, 0usize..40),
        after in (0usize..40, 0usize..40),
        flags in any::<([bool; 6], [bool; 6])>(),
        seed in any::<u64>(),
    ) {
        let vocabulary = vocabulary();
        let mut rng = Rng::new(seed);
        let mut text = |before: usize, after: usize, flags: [bool; 6]| {
            let ids: Vec<usize> =
                [draw(before, &mut rng), run.clone(), draw(after, &mut rng)].concat();
            write(&vocabulary, &ids, Style::from_flags(flags), &mut rng)
        };
        let a = text(before.0, after.0, flags.0);
        let b = text(before.1, after.1, flags.1);
        prop_assert!(shares_a_hash(&a, &b), "{a:?} / {b:?}");
    }
}

/// The guarantee is tight: some pair sharing one word fewer shares no hash, so the property
/// above tests the window rather than holding for any run.
#[test]
fn a_shorter_run_may_share_no_hash() {
    let vocabulary = vocabulary();
    let mut rng = Rng::new(7);
    let missed = (0..200).any(|_| {
        let run = draw(GUARANTEED_RUN - 1, &mut rng);
        let a = [draw(10, &mut rng), run.clone(), draw(10, &mut rng)].concat();
        let b = [draw(10, &mut rng), run, draw(10, &mut rng)].concat();
        !shares_a_hash(&write(&vocabulary, &a, Style::PLAIN, &mut rng), &write(&vocabulary, &b, Style::PLAIN, &mut rng))
    });
    assert!(missed);
}
