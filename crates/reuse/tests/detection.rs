//! The comparison on hand-written texts, the index, and the persisted hash.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

mod common;

use common::{draw, substitute, vocabulary, write, Rng, Style};
use tearline_reuse::{find_reuse, sketch, words, ReuseIndex, MIN_PASSAGE_WORDS};

/// The paragraph "(S//REL TO USA, IRQ) Devices found …", as released (without its portion mark).
const SOURCE: &str = "Devices found on the main supply route were emplaced mostly between 0200 and 0500, and \
                      patrols that varied their start times by more than two hours met fewer of them.";

fn texts(text: &str) -> Vec<String> {
    words(text).into_iter().map(|w| w.text).collect()
}

#[test]
fn an_edited_paste_is_found_with_its_passage() {
    let own = "(S//REL TO USA) Our own patrols saw the same pattern in March. ";
    let copied = "devices found on the\nmain supply route were placed mostly between 0200 and 0500, and\npatrols \
                  that varied their start times by more than two hours encountered fewer of them.";
    let submitted = format!("{own}{copied}");
    let reuse = find_reuse(&submitted, SOURCE).expect("found");
    assert_eq!(reuse.passages.len(), 1, "{reuse:?}");
    let passage = &reuse.passages[0];
    assert_eq!(passage.submitted, own.len()..submitted.len() - 1);
    assert_eq!(passage.text, copied.trim_end_matches('.'));
    assert_eq!(passage.source, 0..SOURCE.len() - 1);
    assert_eq!(passage.matched_words, 28);
    assert_eq!(reuse.source_share, 1.0);
    assert!((reuse.submitted_share - 30.0 / 43.0).abs() < 1e-9, "{}", reuse.submitted_share);
}

#[test]
fn reordered_sentences_are_two_passages_mapped_to_their_sources() {
    let first = "Devices found on the main supply route were emplaced mostly between 0200 and 0500.";
    let second = "Patrols that varied their start times by more than two hours met fewer of them.";
    let source = format!("{first} {second}");
    let submitted = format!("{second}\n\n{first}");
    let reuse = find_reuse(&submitted, &source).expect("found");
    let spans: Vec<_> = reuse.passages.iter().map(|p| (p.submitted.clone(), p.source.clone())).collect();
    let (second_at, first_at) = (first.len() + 1, second.len() + 2);
    assert_eq!(
        spans,
        [(0..second.len() - 1, second_at..source.len() - 1), (first_at..submitted.len() - 1, 0..first.len() - 1),]
    );
}

#[test]
fn changes_normalisation_ignores_change_no_word() {
    let pairs = [
        ("Route  clearance,\r\nthen\tpatrols", "route clearance then PATROLS"),
        ("“quoted” ‘text’ \"again\" 'and'", "quoted text again and"),
        ("a – b — c - d—e", "a b c d e"),
        ("red, white, and blue", "red white and blue"),
        ("co-ordinate re-assess non-lethal", "coordinate reassess nonlethal"),
        ("route-clearance team", "route clearance team"),
        ("1,000 rounds and 25,000,000 more", "1000 rounds and 25000000 more"),
        ("zero\u{200B}width\u{200C} jo\u{200D}in\u{2060}ers\u{FEFF}", "zerowidth joiners"),
        ("ＦＵＬＬ width ﬁeld oﬃce ²", "full width field office 2"),
        ("café naïve", "cafe naive"),
        ("don’t the party’s partyʼs", "don't the party's party's"),
    ];
    for (changed, plain) in pairs {
        assert_eq!(texts(changed), texts(plain), "{changed:?}");
    }
}

#[test]
fn titles_and_common_phrases_do_not_trigger() {
    let paragraph = "Route clearance results for the period show that devices on the main supply route \
                     were emplaced at night, in the vicinity of the main supply route junctions.";
    for title in [
        "(U) Route clearance results",
        "Route clearance results",
        "(U) Route clearance results for the period",
        "(U) Devices on the main supply route",
    ] {
        assert_eq!(find_reuse(title, paragraph), None, "{title:?}");
        assert_eq!(find_reuse(paragraph, title), None, "{title:?}");
    }
    // Even a text identical to a source is not reuse below MIN_PASSAGE_WORDS words.
    let seven = "main supply route clearance results this week";
    assert_eq!(words(seven).len(), MIN_PASSAGE_WORDS - 1);
    assert_eq!(find_reuse(seven, seven), None);
    let eight = "the main supply route clearance results this week";
    assert!(find_reuse(eight, eight).is_some());

    // One stock phrase of eight words in common, in two otherwise different paragraphs.
    let other = "Patrols reported small-arms fire in the vicinity of the main supply route near the \
                 northern checkpoint, and the unit requested air support before withdrawing to base.";
    let source = "Two devices were found in the vicinity of the main supply route during the night, both \
                  of them pressure-plate types that local forces later cleared without loss.";
    let reuse = find_reuse(other, source);
    assert_eq!(reuse, None);
}

#[test]
fn a_lifted_paragraph_is_found_between_long_texts() {
    let vocabulary = vocabulary();
    let mut rng = Rng::new(11);
    let lifted = draw(25, &mut rng);
    let source = [draw(200, &mut rng), lifted.clone(), draw(200, &mut rng)].concat();
    let submitted = [draw(150, &mut rng), lifted, draw(150, &mut rng)].concat();
    let source = write(&vocabulary, &source, Style::PLAIN, &mut rng);
    let submitted = write(&vocabulary, &submitted, Style::PLAIN, &mut rng);
    let reuse = find_reuse(&submitted, &source).expect("found");
    assert!(reuse.source_share < 0.1 && reuse.submitted_share < 0.1, "{reuse:?}");
    assert_eq!(reuse.passages.len(), 1);
    assert_eq!(reuse.passages[0].matched_words, 25);
}

#[test]
fn the_index_finds_the_source_among_many() {
    let vocabulary = vocabulary();
    let mut rng = Rng::new(3);
    let released: Vec<String> = (0..2000)
        .map(|_| {
            let len = 60 + rng.below(91);
            write(&vocabulary, &draw(len, &mut rng), Style::PLAIN, &mut rng)
        })
        .collect();
    let mut index = ReuseIndex::new();
    for (key, text) in released.iter().enumerate() {
        index.insert(key, text);
    }
    assert_eq!(index.len(), 2000);

    let ids = words(&released[1234]).len();
    let source_ids: Vec<usize> =
        texts(&released[1234]).iter().map(|w| vocabulary.iter().position(|e| &e.word == w).unwrap()).collect();
    assert_eq!(source_ids.len(), ids);
    let copied = substitute(&source_ids, ids / 12, &mut rng);
    let flags = Style { case: true, wrap: true, punctuation: true, zero_width: true, hyphens: true, forms: true };
    let submitted = write(&vocabulary, &copied, flags, &mut rng);

    let candidates = index.candidates(&submitted, 1);
    assert_eq!(candidates.first().map(|c| c.0), Some(1234), "{candidates:?}");
    let found: Vec<usize> =
        candidates.iter().filter(|(key, _)| find_reuse(&submitted, &released[*key]).is_some()).map(|c| c.0).collect();
    assert_eq!(found, [1234]);
    // Every candidate shares at least what was asked.
    assert!(index.candidates(&submitted, 3).iter().all(|&(_, shared)| shared >= 3));
    assert!(index.candidates("(U) Route clearance results", 1).is_empty());
}

/// The store persists sketches: a change of hash or normalisation must fail here.
#[test]
fn sketches_are_stable() {
    assert_eq!(
        sketch(SOURCE),
        [
            672101448612441109,
            675360140535719755,
            927394238452933256,
            2342615650150595472,
            2433633687687479232,
            4238534347302427825,
            5549560216368471741,
            5857134555509282798,
            7017045745977297844,
        ]
    );
    // Written differently, the same words: the same sketch.
    let rewritten = "DEVICES found on the main-supply route were\nemplaced mostly between 0200 and 0500 – and \
                     patrols that varied their start times by more than two hours met fewer of “them”";
    assert_eq!(sketch(rewritten), sketch(SOURCE));
    assert_eq!(sketch("Route clearance results"), Vec::<u64>::new());
}
