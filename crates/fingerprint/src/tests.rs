use proptest::prelude::*;

use super::*;

/// A report of some 330 words in the register the table is made for.
pub(crate) const REPORT: &str = "On 14 March 2026 a convoy of approximately 40 armoured vehicles travelled 12 km \
towards the logistics centre at Tal Afar in order to resupply the garrison. In addition, three patrols, \
two drones and a helicopter carried out a search of the area prior to the convoy's arrival. Police \
reported that the roads and bridges were closed for most of the day.\n\nSubsequently, a number of \
individuals were seen in the vicinity of the checkpoint. Sources stated that the group had obtained \
1,200 litres of fuel and several rifles from a cross-border smuggling network. The network is located \
near Rabia, and the majority of its members are currently based in the town. Meanwhile the organisation \
attempted to recruit additional fighters; recruitment began on 2 April 2026 and was carried out on a \
daily basis. The local commander, Colonel Hassan Ali, said \"we will not allow the convoy to pass\" \
and warned that the routes were mined.\n\nOn 20 April 2026 engineers found four devices, five \
command wires and a cache of batteries 3 km south of the bridge. Approximately 15% of the devices \
were pressure plates. The cell was unable to replace the devices owing to the loss of its \
workshop at 10.20.30.40, which hosted tooling with the hash \
5f2b9c1d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c. In spite of these losses, \
the organisation obtained a number of spare parts in the course of April. Previously, the cell \
had conducted two attacks in the vicinity of the market, and investigators noted that the devices \
were co-ordinated by radio. Consequently, engineers recommended more than 20 additional patrols on \
a regular basis, with the exception of the northern route, whose bridges and culverts were cleared \
on 22 April 2026. Moreover, the analysis of the devices was summarised in the report, along with \
the recognised signatures of the workshop.";

fn hub() -> Fingerprinter {
    Fingerprinter::new(b"hub secret", CodeParams::default()).unwrap()
}

fn recipients(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("P{i:04}")).collect()
}

/// What a person retyping a text changes: case, line breaks, quotes, dashes, invisible characters.
fn retyped(text: &str) -> String {
    let plain: String = text.chars().filter(|c| !text::is_invisible(*c)).collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase().replace('"', "\u{201c}")
}

fn words(text: &str, skip: usize, take: usize) -> String {
    text.split_whitespace().skip(skip).take(take).collect::<Vec<_>>().join(" ")
}

#[test]
fn the_same_recipient_always_gets_the_same_text_and_others_get_other_texts() {
    let hub = hub();
    let irq = hub.mark("report-1@v1", "IRQ", REPORT);
    assert_eq!(irq, hub.mark("report-1@v1", "IRQ", REPORT));
    assert_eq!(
        irq,
        Fingerprinter::new(b"hub secret", CodeParams::default()).unwrap().mark("report-1@v1", "IRQ", REPORT)
    );
    let copies: Vec<String> = recipients(20).iter().map(|p| hub.mark("report-1@v1", p, REPORT).text).collect();
    for (i, a) in copies.iter().enumerate() {
        assert!(copies[..i].iter().all(|b| a != b), "two recipients got the same copy");
        assert_ne!(a, REPORT);
    }
    assert_ne!(irq.text, hub.mark("report-1@v2", "IRQ", REPORT).text, "another version, another copy");
    assert_eq!(irq.choices, format!("v{SCHEME_VERSION}:{}", &irq.choices[3..]));
    assert_eq!(irq.choices.len() - 3, hub.template(REPORT).points());
}

#[test]
fn the_report_has_the_capacity_the_docs_claim() {
    let points = hub().template(REPORT).points();
    let words = REPORT.split_whitespace().count();
    assert!(points * 100 >= 10 * words, "{points} points in {words} words");
}

/// Numbers by value, in order: "1,200" and "1200" are 1200, "forty-two" and "42" are 42.
fn numbers(text: &str) -> Vec<u64> {
    const UNITS: [&str; 21] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
    let spelled = |word: &str| -> Option<u64> {
        if let Some(v) = UNITS.iter().position(|w| *w == word) {
            return Some(v as u64);
        }
        let (tens, unit) = word.split_once('-').unwrap_or((word, ""));
        let t = TENS.iter().position(|w| !w.is_empty() && *w == tens)? as u64;
        let u = if unit.is_empty() { 0 } else { UNITS[1..10].iter().position(|w| *w == unit)? as u64 + 1 };
        Some(t * 10 + u)
    };
    let mut out = Vec::new();
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == ',' || c == '-')) {
        let word = raw.trim_matches([',', '-']).to_lowercase();
        if let Some(v) = spelled(&word) {
            out.push(v);
        } else if let Ok(v) = word.replace(',', "").parse::<u64>() {
            out.push(v);
        } else {
            // Digits inside a word ("5f2b…", "10km"): each run by value.
            out.extend(word.split(|c: char| !c.is_ascii_digit()).filter_map(|d| d.parse::<u64>().ok()));
        }
    }
    out
}

/// Capitalised words not opening a sentence: names, places, units.
fn names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut opening = true;
    for word in text.split_whitespace() {
        let core = word.trim_matches(|c: char| !c.is_alphanumeric());
        if !opening && core.chars().next().is_some_and(char::is_uppercase) {
            out.push(core.to_string());
        }
        opening = word.ends_with('.') || word.ends_with('\n');
    }
    out
}

fn quotations(text: &str) -> Vec<String> {
    text.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

fn indicators(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_end_matches([',', '.', ';']))
        // A number and its unit ("14km", "0540hrs", "72nm") is a format, not an indicator.
        .filter(|w| {
            !["km", "hrs", "nm", "cm", "kg"].iter().any(|unit| {
                w.strip_suffix(unit).is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == ','))
            })
        })
        .filter(|w| w.contains('.') || (w.chars().any(char::is_alphabetic) && w.chars().any(|c| c.is_ascii_digit())))
        .map(str::to_string)
        .collect()
}

fn invariants(text: &str) -> (Vec<u64>, Vec<String>, Vec<String>, Vec<String>) {
    let visible: String = text.chars().filter(|c| !text::is_invisible(*c)).collect();
    (numbers(&visible), names(&visible), quotations(&visible), indicators(&visible))
}

const SENTENCES: [&str; 17] = [
    "On 3 May 2026 approximately 1,500 fighters of the Harak Brigade moved 14 km towards Sinjar.",
    "Colonel Ahmed Karimi said \"we carried out the attack in order to warn them\" on the radio.",
    "The beacon contacted update.example-cdn.net and 192.0.2.44 every 300 seconds.",
    "In addition, three trucks, two boats and a drone carried out surveillance prior to the raid.",
    "Analysts noted that the organisation obtained 20% of its weapons from Turkmen traders.",
    "The file `C:\\Users\\Public\\svc.exe` had the hash 44d88612fea8a8f36de82e1278abb02f.",
    "Subsequently, a number of individuals were located in the vicinity of the Mosul Dam.",
    "Meanwhile the cell, led by Abu Omar, attempted to acquire more than 40 rockets.",
    "Roads and bridges were closed for the majority of the week, with the exception of Route Tampa.",
    "The exploit for CVE-2024-3400 was used against the defence ministry on March 9, 2026.",
    "Police reported that the convoys and patrols were delayed owing to a cross-border standoff.",
    "Engineers found four devices, five wires and a battery pack 2 km north of the centre.",
    "Investigators believe the cell had received several of the 30 rifles from Abu Omar, compared with 12 in 2025.",
    "It is assessed that the network in Basra lost no more than 5% of its 1,200 members over the past year.",
    "Over the course of the day the team found several thousand rounds and a further 40 mines near Tal Afar.",
    "At 0540 hours the patrol found a cache 3 km north-east of the bridge and 12 mines to the south of Sinjar.",
    "They left at approximately 6:05 p.m. and crossed 900 metres to the west of the Rabia checkpoint.",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every copy reads as the original: the same numbers by value, names, quotations and
    /// indicators, in the same order.
    #[test]
    fn copies_keep_numbers_names_quotations_and_indicators(
        picks in proptest::collection::vec(0usize..SENTENCES.len(), 1..8),
        recipient in "[A-Z]{3}",
        version in 0u32..1000,
    ) {
        let text: String = picks.iter().map(|&i| SENTENCES[i]).collect::<Vec<_>>().join(" ");
        let marked = hub().mark(&format!("t@{version}"), &recipient, &text);
        prop_assert_eq!(invariants(&marked.text), invariants(&text), "{}", marked.text);
    }
}

#[test]
fn the_invisible_tag_is_reported_but_not_needed() {
    let hub = hub();
    let parties = recipients(10);
    let copy = hub.mark("r@1", "P0003", REPORT).text;
    let source = [Source { text_id: "r@1", text: REPORT, recipients: &parties, recorded: &[] }];
    let whole = hub.trace(&copy, &source);
    assert_eq!(whole.invisible, [("r@1".to_string(), "P0003".to_string())]);
    let stripped = hub.trace(&retyped(&copy), &source);
    assert!(stripped.invisible.is_empty());
    assert_eq!(stripped.accused.iter().map(|a| a.party.as_str()).collect::<Vec<_>>(), ["P0003"]);
}

/// Whole copies and retyped fragments of 150 words name their recipient among 2, 10 and 100.
#[test]
fn a_leaked_copy_or_retyped_fragment_names_its_recipient() {
    let hub = hub();
    for n in [2, 10, 100] {
        let parties = recipients(n);
        for leaker in [0, n / 2, n - 1] {
            let text_id = format!("report@{n}");
            let source = [Source { text_id: &text_id, text: REPORT, recipients: &parties, recorded: &[] }];
            let copy = hub.mark(&text_id, &parties[leaker], REPORT).text;
            for leak in [copy.clone(), retyped(&words(&copy, 20, 150))] {
                let found = hub.trace(&leak, &source);
                let accused: Vec<&str> = found.accused.iter().map(|a| a.party.as_str()).collect();
                assert_eq!(accused, [parties[leaker].as_str()], "{n} recipients: {:?}", &found.scores[..2]);
                assert!(found.accused[0].bound <= found.epsilon);
                assert!(found.texts[0].points.iter().all(|p| !p.agreeing.is_empty() || p.choice != p.choice + 1));
            }
        }
    }
}

/// What was recorded at release is what a recipient's copy was, whatever the key says now.
#[test]
fn recorded_fingerprints_take_the_place_of_recomputed_ones() {
    let hub = hub();
    let parties = recipients(3);
    let copy = hub.mark("r@1", "P0001", REPORT);
    // The record says P0002 received what P0001's copy is.
    let recorded = [("P0002".to_string(), copy.choices.clone())];
    let found =
        hub.trace(&copy.text, &[Source { text_id: "r@1", text: REPORT, recipients: &parties, recorded: &recorded }]);
    let accused: Vec<&str> = found.accused.iter().map(|a| a.party.as_str()).collect();
    assert_eq!(accused, ["P0001", "P0002"]);
    // A record that does not fit the text's points is ignored.
    let stale = [("P0002".to_string(), "01".to_string())];
    let found =
        hub.trace(&copy.text, &[Source { text_id: "r@1", text: REPORT, recipients: &parties, recorded: &stale }]);
    assert_eq!(found.accused.iter().map(|a| a.party.as_str()).collect::<Vec<_>>(), ["P0001"]);
}

#[test]
fn the_evidence_names_points_and_choices() {
    let hub = hub();
    let parties = recipients(5);
    let copy = hub.mark("r@1", "P0001", REPORT).text;
    let found = hub.trace(&copy, &[Source { text_id: "r@1", text: REPORT, recipients: &parties, recorded: &[] }]);
    let evidence = &found.texts[0];
    assert_eq!(evidence.points.len(), hub.template(REPORT).points());
    for point in &evidence.points {
        assert!(copy[..].contains(point.read.trim()) || point.read.is_empty(), "{point:?}");
        assert_eq!(point.agreeing, ["P0001"], "the leaker agrees everywhere in a whole copy");
    }
    let leaker = &found.accused[0];
    assert_eq!((leaker.points, leaker.agreeing), (evidence.points.len(), evidence.points.len()));
}

/// A leak that is not any recipient's copy (the original itself, or a copy marked for a party
/// that is not among the recipients) accuses nobody, over many trials.
#[test]
fn no_innocent_is_accused() {
    let hub = hub();
    let parties = recipients(100);
    let mut innocent_trials = 0;
    for trial in 0..60 {
        let text_id = format!("report@{trial}");
        let source = [Source { text_id: &text_id, text: REPORT, recipients: &parties, recorded: &[] }];
        let outsider = hub.mark(&text_id, "OUTSIDER", REPORT).text;
        for leak in [REPORT.to_string(), outsider, retyped(&words(REPORT, trial, 120))] {
            let found = hub.trace(&leak, &source);
            assert!(found.accused.is_empty(), "trial {trial}: {:?}", found.accused);
            innocent_trials += found.scores.len();
        }
    }
    assert!(innocent_trials >= 15_000, "{innocent_trials}");
}

/// Colluders mixing their copies sentence by sentence never get an innocent accused. (How often
/// one of them is caught depends on the length of the leak: the attribution benchmark measures it.)
#[test]
fn colluders_mixing_sentences_never_implicate_an_innocent() {
    let hub = hub();
    let parties = recipients(50);
    for trial in 0..20 {
        let text_id = format!("report@{trial}");
        let source = [Source { text_id: &text_id, text: REPORT, recipients: &parties, recorded: &[] }];
        let guilty = [&parties[trial], &parties[49 - trial], &parties[25]];
        let copies: Vec<String> = guilty.iter().map(|g| hub.mark(&text_id, g, REPORT).text).collect();
        let sentences: Vec<Vec<&str>> = copies.iter().map(|c| c.split_inclusive(". ").collect()).collect();
        let shortest = sentences.iter().map(Vec::len).min().unwrap();
        let mixed: String = (0..shortest).map(|i| sentences[i % 3][i]).collect();
        let found = hub.trace(&retyped(&mixed), &source);
        assert!(found.accused.iter().all(|s| guilty.contains(&&s.party)), "an innocent accused: {:?}", found.accused);
        assert!(found.texts[0].points.len() >= 20, "the mix is read: {}", found.texts[0].points.len());
    }
}

/// Two colluders mixing the sentences of a long copy: one of them is named in most trials, by
/// the partner test (the leak's sentences the best other scorer's copy does not explain are the
/// other colluder's), and never an innocent.
#[test]
fn two_colluders_mixing_sentences_are_named() {
    let hub = hub();
    let parties = recipients(20);
    let long = [REPORT, REPORT, REPORT].join("\n\n");
    let mut caught = 0;
    for trial in 0..10 {
        let text_id = format!("long@{trial}");
        let source = [Source { text_id: &text_id, text: &long, recipients: &parties, recorded: &[] }];
        let guilty = [&parties[trial], &parties[19 - trial]];
        let copies: Vec<String> = guilty.iter().map(|g| hub.mark(&text_id, g, &long).text).collect();
        let sentences: Vec<Vec<&str>> = copies.iter().map(|c| c.split_inclusive(". ").collect()).collect();
        let shortest = sentences.iter().map(Vec::len).min().unwrap();
        let mixed: String = (0..shortest).map(|i| sentences[(i * 7 + trial) % 3 % 2][i]).collect();
        let found = hub.trace(&retyped(&mixed), &source);
        assert!(found.accused.iter().all(|s| guilty.contains(&&s.party)), "an innocent accused: {:?}", found.accused);
        caught += usize::from(!found.accused.is_empty());
    }
    assert!(caught >= 7, "one of two colluders named in {caught} of 10 trials");
}

/// A smaller epsilon asks for more evidence: the same leak passes a looser bound and not a
/// tighter one.
#[test]
fn epsilon_sets_the_threshold() {
    let hub = hub();
    let parties = recipients(10);
    let copy = hub.mark("r@1", "P0004", REPORT).text;
    let leak = retyped(&words(&copy, 30, 120));
    let source = [Source { text_id: "r@1", text: REPORT, recipients: &parties, recorded: &[] }];
    let loose = hub.trace_at(&leak, &source, 1e-3);
    let tight = hub.trace_at(&leak, &source, 1e-30);
    assert!(tight.scores[0].threshold > loose.scores[0].threshold);
    assert_eq!(loose.accused.iter().map(|a| a.party.as_str()).collect::<Vec<_>>(), ["P0004"]);
    assert!(tight.accused.is_empty(), "{:?}", tight.scores[0]);
    assert_eq!((loose.epsilon, tight.epsilon), (1e-3, 1e-30));
}

#[test]
fn bad_parameters_are_refused() {
    for params in [
        CodeParams { epsilon: 0.0, ..CodeParams::default() },
        CodeParams { epsilon: 1.5, ..CodeParams::default() },
        CodeParams { kappa: -1.0, ..CodeParams::default() },
        CodeParams { cutoff: 1.0, ..CodeParams::default() },
    ] {
        assert!(matches!(Fingerprinter::new(b"k", params), Err(FingerprintError::Params(_))), "{params:?}");
    }
}

/// A digest of the variation points found in the shipped corpus and in [`REPORT`]: every site's
/// place, variants and original, and every point's channel, arity and sites.
fn points_digest(template_of: impl Fn(&str) -> Template) -> String {
    use sha2::{Digest, Sha256};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut texts: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    texts.push(REPORT.to_string());
    texts.extend(SENTENCES[..15].iter().map(|s| s.to_string()));
    let mut hash = Sha256::new();
    for text in &texts {
        let t = template_of(text);
        for site in &t.sites {
            hash.update(format!("{:?}|{:?}|{}|{}\n", site.range, site.variants, site.original, site.point));
        }
        for point in &t.points {
            hash.update(format!("{:?}|{}|{:?}\n", point.channel, point.arity, point.sites));
        }
        hash.update(b"--\n");
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Scheme 1 is what copies released before scheme versions existed were marked with: its points
/// must never move, or a leak of such a copy would be read against the wrong points.
#[test]
fn scheme_1_is_frozen() {
    let hub = hub();
    let digest = points_digest(|text| hub.template_as(1, text).unwrap());
    assert_eq!(digest, "83da4f0ee8e0c9e3a5657a1fc43a177144fbc9c1e0d83cbed75fff3a0a50aa6a");
}

/// Scheme 2, the current scheme, is pinned the same way: a change to the table or the rules that
/// moves any point of the corpus fails here, and needs a new scheme (SCHEME_VERSION 3, with
/// scheme 2's table and rules kept behind the number, as scheme 1's are).
#[test]
fn scheme_2_is_pinned() {
    let hub = hub();
    let digest = points_digest(|text| hub.template_as(2, text).unwrap());
    assert_eq!(digest, "37b191fc590fffab3d81d592429d34227b0e89cd5628c1061eecf6687aa0aad9");
}

/// A copy's recorded choices name its scheme, and a leak of a copy marked with an earlier scheme
/// is read with that scheme's points, beside copies of the current one.
#[test]
fn copies_are_traced_with_the_scheme_they_were_marked_with() {
    let hub = hub();
    assert_eq!(Fingerprinter::SCHEME_VERSION, SCHEME_VERSION);
    assert!(SCHEMES.contains(&SCHEME_VERSION) && SCHEMES.contains(&1));
    let current = hub.mark("r@1", "P0001", REPORT);
    assert_eq!(current.scheme, SCHEME_VERSION);
    assert!(current.choices.starts_with(&format!("v{SCHEME_VERSION}:")), "{}", current.choices);
    let old = hub.mark_as(1, "r@1", "P0002", REPORT).unwrap();
    assert_eq!(old.scheme, 1);
    assert!(old.choices.chars().all(|c| c.is_ascii_digit()), "scheme 1 records bare digits: {}", old.choices);
    assert!(matches!(hub.mark_as(99, "r@1", "P0002", REPORT), Err(FingerprintError::Scheme(99))));
    assert!(hub.template_as(99, REPORT).is_err());
    let parties = recipients(12);
    // P0002 and P0005 received scheme 1 copies (recorded before schemes were numbered), the
    // others the current scheme's.
    let recorded: Vec<(String, String)> = parties
        .iter()
        .map(|p| {
            let scheme = if p == "P0002" || p == "P0005" { 1 } else { SCHEME_VERSION };
            (p.clone(), hub.mark_as(scheme, "r@1", p, REPORT).unwrap().choices)
        })
        .collect();
    let source = [Source { text_id: "r@1", text: REPORT, recipients: &parties, recorded: &recorded }];
    for (leak, leaker) in [(old.text.clone(), "P0002"), (current.text.clone(), "P0001")] {
        for leak in [leak.clone(), retyped(&words(&leak, 10, 200))] {
            let found = hub.trace(&leak, &source);
            let accused: Vec<&str> = found.accused.iter().map(|a| a.party.as_str()).collect();
            assert_eq!(accused, [leaker], "{:?}", &found.scores[..3]);
            assert_eq!(found.recipients, 12, "every recipient is scored, with its own scheme");
            let schemes: Vec<u32> = found.texts.iter().map(|t| t.scheme).collect();
            assert_eq!(schemes, [1, SCHEME_VERSION]);
        }
    }
    // A record of a scheme this version does not know is not read.
    let future = [("P0003".to_string(), "v99:0101".to_string())];
    let found =
        hub.trace(&current.text, &[Source { text_id: "r@1", text: REPORT, recipients: &parties, recorded: &future }]);
    assert_eq!(found.recipients, 11);
}
