//! Attribution benchmark: how often a leak names its leaker, how often it names an innocent, and
//! how many variation points a text carries, over the shipped corpus of reports.
//!
//! `cargo bench -p tearline-fingerprint --bench attribution [-- --trials N --seed S --kappa K
//! --cutoff C --epsilon E]`. Seeded and repeatable: the same options give the same figures.
//!
//! Each trial picks a report, marks it for `n` recipients under a fresh text id, takes the
//! leaker's copy (or mixes colluders' copies sentence by sentence), cuts a fragment of the given
//! length at a random word, applies the attack and traces it against the report and its
//! recipients. A trial is correct when a leaker is accused; every recipient that did not leak
//! and is scored is one innocent trial, counted as falsely accused when accused.

use std::collections::BTreeMap;
use std::time::Instant;

use tearline_fingerprint::{Channel, CodeParams, Fingerprinter, Source};

/// SplitMix64: small, seeded, and enough for picking trials.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Attack {
    /// The fragment as cut from the copy.
    None,
    /// Retyped: upper case, one line, straight quotes, invisible characters gone.
    Retyped,
    /// Retyped, and one word in ten replaced by a word from elsewhere in the corpus.
    Replaced,
}

impl Attack {
    fn name(self) -> &'static str {
        match self {
            Attack::None => "fragment as cut",
            Attack::Retyped => "retyped",
            Attack::Replaced => "retyped, 10% words replaced",
        }
    }
}

struct Options {
    trials: usize,
    seed: u64,
    params: CodeParams,
    /// Rows to run (labels as printed, `|`-separated); all when empty. Skipping rows changes the
    /// trials drawn for later ones, so a full run is the reference.
    rows: Vec<String>,
    /// Also print, per row, what the read points could carry at best.
    diagnose: bool,
}

fn options() -> Option<Options> {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` and `cargo bench -- --list` must not run the benchmark.
    if !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--list") {
        return None;
    }
    let value = |name: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<f64>().ok())
    };
    let defaults = CodeParams::default();
    Some(Options {
        trials: value("--trials").map_or(200, |v| v as usize),
        seed: value("--seed").map_or(2026, |v| v as u64),
        params: CodeParams {
            epsilon: value("--epsilon").unwrap_or(defaults.epsilon),
            kappa: value("--kappa").unwrap_or(defaults.kappa),
            cutoff: value("--cutoff").unwrap_or(defaults.cutoff),
        },
        rows: args
            .iter()
            .position(|a| a == "--rows")
            .and_then(|i| args.get(i + 1))
            .map(|v| v.split('|').map(|r| r.trim().to_string()).collect())
            .unwrap_or_default(),
        diagnose: args.iter().any(|a| a == "--diagnose"),
    })
}

fn corpus() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        // The body: the title is a line of its own.
        .map(|text| text.split_once("\n\n").map_or(text.clone(), |(_, body)| body.to_string()))
        .collect()
}

fn retype(text: &str) -> String {
    let visible: String = text.chars().filter(|c| !matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}')).collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase().replace(['\u{201c}', '\u{201d}'], "\"")
}

fn attack(fragment: &str, attack: Attack, vocabulary: &[&str], rng: &mut Rng) -> String {
    match attack {
        Attack::None => fragment.to_string(),
        Attack::Retyped => retype(fragment),
        Attack::Replaced => {
            let words: Vec<String> =
                fragment
                    .split_whitespace()
                    .map(|w| {
                        if rng.chance(0.1) {
                            vocabulary[rng.below(vocabulary.len())].to_string()
                        } else {
                            w.to_string()
                        }
                    })
                    .collect();
            retype(&words.join(" "))
        }
    }
}

/// `words` words from a random word of `text` (None when it is shorter).
fn fragment(text: &str, words: usize, rng: &mut Rng) -> Option<String> {
    let all: Vec<&str> = text.split_whitespace().collect();
    if all.len() < words {
        return None;
    }
    let start = rng.below(all.len() - words + 1);
    Some(all[start..start + words].join(" "))
}

/// Sentences of each copy, taken in turn from a randomly chosen colluder.
fn mix(copies: &[String], rng: &mut Rng) -> String {
    let split: Vec<Vec<&str>> = copies.iter().map(|c| c.split_inclusive(['.', '\n']).collect()).collect();
    let sentences = split.iter().map(Vec::len).min().unwrap_or(0);
    (0..sentences).map(|i| split[rng.below(split.len())][i]).collect()
}

#[derive(Default)]
struct Tally {
    trials: usize,
    correct: usize,
    innocent: usize,
    falsely_accused: usize,
    points: usize,
    micros: u128,
    /// Trials where the invisible tag, the peer (a zero-width watermark alone), names a leaker.
    invisible: usize,
    /// Points read where the leak has a leaker's variant, and points read in all.
    agreeing: usize,
    read: usize,
    /// Trials where the leaker's variants at the points read are rare enough (the product of
    /// their probabilities at most epsilon / n) that an ideal single-leaker test could accuse.
    ideal: usize,
    /// Sum over trials of the best evidence against a leaker, and of the threshold (nats).
    evidence: f64,
    threshold: f64,
}

impl Tally {
    fn line(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {:.1}% | {:.1}% | {} | {} | {:.1} | {:.2} |",
            self.trials,
            100.0 * self.correct as f64 / self.trials.max(1) as f64,
            100.0 * self.invisible as f64 / self.trials.max(1) as f64,
            self.innocent,
            self.falsely_accused,
            self.points as f64 / self.trials.max(1) as f64,
            self.micros as f64 / 1000.0 / self.trials.max(1) as f64,
        )
    }

    fn diagnosis(&self) -> String {
        format!(
            "    read with a leaker's variant: {:.1}%; ideal single-leaker test could accuse: {:.1}%; \
             mean evidence against a leaker {:.2} nats (threshold {:.2})",
            100.0 * self.agreeing as f64 / self.read.max(1) as f64,
            100.0 * self.ideal as f64 / self.trials.max(1) as f64,
            self.evidence / self.trials.max(1) as f64,
            self.threshold / self.trials.max(1) as f64,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    hub: &Fingerprinter,
    reports: &[String],
    vocabulary: &[&str],
    recipients: usize,
    words: usize,
    colluders: usize,
    how: Attack,
    trials: usize,
    rng: &mut Rng,
) -> Tally {
    let parties: Vec<String> = (0..recipients).map(|i| format!("P{i:04}")).collect();
    let mut tally = Tally::default();
    let mut attempts = 0;
    while tally.trials < trials && attempts < trials * 50 {
        attempts += 1;
        let report = &reports[rng.below(reports.len())];
        if report.split_whitespace().count() < words {
            continue;
        }
        let text_id = format!("bench/{}/{attempts}", rng.next());
        let mut guilty: Vec<usize> = Vec::new();
        while guilty.len() < colluders {
            let g = rng.below(recipients);
            if !guilty.contains(&g) {
                guilty.push(g);
            }
        }
        let copies: Vec<String> = guilty.iter().map(|&g| hub.mark(&text_id, &parties[g], report).text).collect();
        let copy = if colluders == 1 { copies[0].clone() } else { mix(&copies, rng) };
        let Some(cut) = fragment(&copy, words, rng) else { continue };
        let leak = attack(&cut, how, vocabulary, rng);
        let started = Instant::now();
        let found =
            hub.trace(&leak, &[Source { text_id: &text_id, text: report, recipients: &parties, recorded: &[] }]);
        tally.micros += started.elapsed().as_micros();
        tally.trials += 1;
        tally.points += found.texts.iter().map(|t| t.points.len()).sum::<usize>();
        let is_guilty = |party: &str| guilty.iter().any(|&g| parties[g] == party);
        tally.correct += usize::from(found.accused.iter().any(|a| is_guilty(&a.party)));
        tally.falsely_accused += found.accused.iter().filter(|a| !is_guilty(&a.party)).count();
        tally.invisible += usize::from(found.invisible.iter().any(|(_, party)| is_guilty(party)));
        let best = found.scores.iter().filter(|s| is_guilty(&s.party)).map(|s| s.score).fold(0.0f64, f64::max);
        tally.evidence += best;
        tally.threshold += found.scores.first().map_or(0.0, |s| s.threshold);
        let template = hub.template(report);
        let words: Vec<Vec<usize>> = guilty.iter().map(|&g| hub.codeword(&text_id, &parties[g], &template)).collect();
        let mut rarity = 0.0;
        for point in found.texts.iter().flat_map(|t| &t.points) {
            tally.read += 1;
            tally.agreeing += usize::from(words.iter().any(|w| w[point.point] == point.choice));
            rarity += point.probability.ln();
        }
        let needed = (hub.params().epsilon / recipients as f64).ln();
        tally.ideal += usize::from(colluders == 1 && rarity <= needed);
        tally.innocent += recipients - colluders;
    }
    tally
}

fn main() {
    let Some(options) = options() else { return };
    let reports = corpus();
    let Ok(hub) = Fingerprinter::new(format!("bench {}", options.seed).as_bytes(), options.params) else {
        eprintln!("bad parameters");
        return;
    };
    let text: String = reports.join("\n");
    let vocabulary: Vec<&str> = text.split_whitespace().collect();
    let words = vocabulary.len();
    println!("corpus: {} reports, {} words; seed {}; {:?}", reports.len(), words, options.seed, options.params);

    // Capacity: variation points per 100 words, by channel.
    let mut by_channel: BTreeMap<Channel, usize> = BTreeMap::new();
    let mut points = 0;
    let started = Instant::now();
    for report in &reports {
        for (channel, _) in hub.template(report).describe() {
            *by_channel.entry(channel).or_default() += 1;
            points += 1;
        }
    }
    let template_ms = started.elapsed().as_secs_f64() * 1000.0 / reports.len().max(1) as f64;
    println!(
        "capacity: {:.2} points per 100 words ({points} points; {template_ms:.2} ms per report to find them)",
        100.0 * points as f64 / words as f64
    );
    for (channel, n) in &by_channel {
        println!("  {:<12} {:.2} per 100 words", channel.as_str(), 100.0 * *n as f64 / words as f64);
    }

    let mut rng = Rng(options.seed);
    let mut innocent = 0;
    let mut false_accusations = 0;
    println!(
        "\n| recipients, words, leakers, attack | trials | leaker accused | peer: invisible tag names a leaker | innocent trials | innocents accused | points read per trial | ms per trace |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let wanted = |label: &str| options.rows.is_empty() || options.rows.iter().any(|r| r == label);
    let mut record = |label: String, tally: Tally| {
        innocent += tally.innocent;
        false_accusations += tally.falsely_accused;
        println!("{}", tally.line(&label));
        if options.diagnose {
            println!("{}", tally.diagnosis());
        }
    };
    for recipients in [10, 100, 1000] {
        for words in [50, 100, 200, 400] {
            for how in [Attack::None, Attack::Retyped, Attack::Replaced] {
                let label = format!("{recipients}, {words}, 1, {}", how.name());
                if !wanted(&label) {
                    continue;
                }
                let tally = run(&hub, &reports, &vocabulary, recipients, words, 1, how, options.trials, &mut rng);
                record(label, tally);
            }
        }
    }
    for colluders in [2, 3] {
        for recipients in [10, 100, 1000] {
            for words in [400, 1000] {
                let label = format!("{recipients}, {words}, {colluders} mixing sentences, retyped");
                if !wanted(&label) {
                    continue;
                }
                let tally = run(
                    &hub,
                    &reports,
                    &vocabulary,
                    recipients,
                    words,
                    colluders,
                    Attack::Retyped,
                    options.trials,
                    &mut rng,
                );
                record(label, tally);
            }
        }
    }
    println!("\ninnocent trials: {innocent}; innocents accused: {false_accusations}");
}
