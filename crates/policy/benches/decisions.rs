//! Decisions per second on the example report and the scenario coalition: through Cedar every time,
//! through the memo (what re-indexing uses), and from a release index row (what listing uses).
//!
//! `cargo bench -p tearline-policy -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::expect_used, reason = "a benchmark whose fixture does not build should stop at once")]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tearline_model::{
    Agreement, Classification, Coalition, Code, Embargo, Group, Party, ReleaseFacts, Report, ReportDraft,
};
use tearline_policy::{indexed_decision, Decider, Policies, PortionFacts};
use time::macros::datetime;

const ROUTE_CLEARANCE: &str = include_str!("../../../examples/route-clearance.md");

fn code(text: &str) -> Code {
    Code::new(text).expect("a valid code")
}

/// The coalition of `shared/scenario/coalition.toml`.
fn scenario() -> Coalition {
    let parties = ["USA", "IRQ", "SYR", "RUS", "IRN"].map(|c| Party { code: code(c), name: c.to_string() });
    let bic =
        Group { code: code("BIC"), name: "centre".into(), members: ["IRQ", "SYR", "RUS", "IRN"].map(code).into() };
    let agreement = |id: &str, from: &str, to: &str| Agreement {
        id: id.into(),
        from: code(from),
        to: [code(to)].into(),
        max_classification: Classification::Secret,
        topics: None,
        onward: false,
        valid_from: None,
        valid_until: None,
        revoked_at: None,
    };
    let agreements =
        [agreement("usa-irq", "USA", "IRQ"), agreement("irq-bic", "IRQ", "BIC"), agreement("rus-bic", "RUS", "BIC")];
    let embargoes = ["SYR", "RUS", "IRN"].map(|against| Embargo { from: code("USA"), against: code(against) });
    Coalition::new(parties, [bic], agreements, embargoes)
}

fn report(coalition: &Coalition) -> Report {
    let draft = ReportDraft::parse(ROUTE_CLEARANCE, &code("USA"), coalition).expect("the example report parses");
    Report {
        id: "report--route-clearance".into(),
        originator: code("USA"),
        created: datetime!(2026-03-01 0:00 UTC),
        title: draft.title,
        topics: draft.topics,
        paragraphs: draft.paragraphs,
    }
}

fn decisions(c: &mut Criterion) {
    let coalition = scenario();
    let report = report(&coalition);
    let policies = Policies::shipped().expect("the shipped policies load");
    let decider = Decider::new(&policies, &coalition, datetime!(2026-03-01 0:00 UTC));
    let irq = code("IRQ");
    let rus = code("RUS");
    let orcon = PortionFacts::of_report(&report, &report.paragraphs[2]);
    let noforn = PortionFacts::of_report(&report, &report.paragraphs[3]);

    let mut group = c.benchmark_group("party decision");
    group.throughput(Throughput::Elements(1));
    group.bench_function("cedar, allowed (IRQ, S//OC/REL TO USA, IRQ)", |b| {
        b.iter(|| decider.party_decision_uncached(black_box(&irq), black_box(&orcon)))
    });
    group.bench_function("cedar, denied (IRQ, S//NF)", |b| {
        b.iter(|| decider.party_decision_uncached(black_box(&irq), black_box(&noforn)))
    });
    group.bench_function("cedar, embargoed (RUS, S//OC/REL TO USA, IRQ)", |b| {
        b.iter(|| decider.party_decision_uncached(black_box(&rus), black_box(&orcon)))
    });
    group.bench_function("memoized (IRQ, S//OC/REL TO USA, IRQ)", |b| {
        b.iter(|| decider.party_decision(black_box(&irq), black_box(&orcon)))
    });
    group.finish();

    // Re-indexing one report: every party of the coalition times every portion, memoized.
    let portions_per_report = (report.portions().count() * coalition.parties().count()) as u64;
    let mut group = c.benchmark_group("release entries");
    group.throughput(Throughput::Elements(portions_per_report));
    group.bench_function("one report, 5 parties x 6 portions, memoized", |b| {
        b.iter(|| decider.release_entries_for_coalition(black_box(&ReleaseFacts::of_report(&report))))
    });
    group.finish();

    // Listing: a portion decision from a release index row and the user's clearance.
    let entry =
        decider.release_entries(&ReleaseFacts::of_report(&report), [&irq]).pop().expect("IRQ receives the report");
    let classifications: Vec<Classification> = report.portions().map(|p| p.marking.classification()).collect();
    let mut group = c.benchmark_group("indexed decision");
    group.throughput(Throughput::Elements(classifications.len() as u64));
    group.bench_function("6 portions of one entry", |b| {
        b.iter(|| {
            classifications
                .iter()
                .enumerate()
                .filter(|(index, class)| {
                    indexed_decision(black_box(&entry), *index, **class, black_box(Classification::Secret))
                })
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
