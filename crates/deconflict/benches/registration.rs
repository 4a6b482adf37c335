//! Registration check benchmark: a new activity checked against a theatre of active activities.
//!
//! `cargo bench -p tearline-deconflict --bench registration [-- --sizes 10000,100000,1000000
//! --queries N --seed S --peer-queries P --peer-max M --hotspots F --rounds R --no-scan]`
//! (defaults: those sizes, 1000 queries, seed 2026, 50 peer queries at sizes up to 100,000, 45% of
//! activities around hotspots, no extra rounds). Seeded and repeatable: the same options build the
//! same theatre and ask the same questions. `--rounds R` asks the queries R more times and prints
//! the percentiles of each query's fastest time (steady under load from other processes; and
//! work for a profiler); `--no-scan` skips the linear box scan (and so the comparison with the exact
//! answers): both only for working on the check, never for recorded figures.
//!
//! The theatre: activities of 5 parties, most in a 30°×20° box around Iraq and Syria (some around
//! hotspots, the rest spread evenly), the others elsewhere on the globe, near the antimeridian and
//! at high latitudes among them; areas 2 to 60 km across (star-shaped polygons of 4 to 12
//! vertices, discs, a few multipolygons), windows of 1 to 48 hours over 30 days, four kinds,
//! altitude bands on most air activities. Each is built from an `ActivityDraft` with
//! `Activity::restore` and inserted with `Theatre::insert` under `Settings::default()`.
//!
//! At each size: memory per activity (VmRSS growth and live heap bytes, counted by the global
//! allocator), the latency of `Theatre::conflicts` for fresh activities that are not inserted,
//! registrations per second (`conflicts` then `insert`, one thread), the candidates the index
//! box lookup yields (counted by a linear box scan) and the time their exact checks take, and,
//! up to `--peer-max`, the peer: the same check with no index, `in_conflict` against every active
//! activity of another party. The bench compares every answer of the index with the exact
//! answer and prints the number of differences.

use std::alloc::System;
use std::hint::black_box;
use std::time::Instant;

use cap::Cap;
use serde_json::{json, Value};
use tearline_deconflict::geometry::{destination, distance, LonLat};
use tearline_deconflict::{in_conflict, Activity, ActivityDraft, Band, Kind, Registered, Settings, Theatre};
use time::{Duration, OffsetDateTime};

/// Counts the live heap bytes of the whole process.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// SplitMix64: small, seeded, and enough for drawing a theatre.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }

    /// An index drawn with the given weights.
    fn pick(&mut self, weights: &[f64]) -> usize {
        let mut x = self.unit() * weights.iter().sum::<f64>();
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

const PARTIES: [&str; 5] = ["USA", "GBR", "FRA", "IRQ", "TUR"];
const PARTY_WEIGHTS: [f64; 5] = [0.30, 0.20, 0.15, 0.25, 0.10];
const KINDS: [Kind; 4] = [Kind::Air, Kind::Ground, Kind::Maritime, Kind::Other];
const KIND_WEIGHTS: [f64; 4] = [0.35, 0.35, 0.15, 0.15];
/// The theatre of operations: west, south, east, north (30° by 20° around Iraq and Syria).
const THEATRE: [f64; 4] = [29.0, 23.0, 59.0, 43.0];
/// Where activity gathers: cities, bases, straits (longitude, latitude).
const HOTSPOTS: [(f64, f64); 12] = [
    (44.4, 33.3), // Baghdad
    (43.1, 36.3), // Mosul
    (44.0, 36.2), // Erbil
    (42.4, 33.8), // Al Asad
    (47.8, 30.5), // Basra
    (40.1, 35.3), // Deir ez-Zor
    (39.0, 35.9), // Raqqa
    (37.2, 36.2), // Aleppo
    (36.3, 33.5), // Damascus
    (45.4, 35.6), // Sulaymaniyah
    (50.6, 26.2), // Bahrain
    (56.3, 26.6), // Hormuz
];
const DAYS: i64 = 30;

/// Where the activities were put and what they are, for the printout.
#[derive(Default)]
struct Tally {
    hotspot: usize,
    theatre: usize,
    antimeridian: usize,
    high_latitude: usize,
    elsewhere: usize,
    polygons: usize,
    discs: usize,
    multipolygons: usize,
    vertices: usize,
    across_km: f64,
    hours: f64,
    kinds: [usize; 4],
    bands: usize,
    refused: usize,
}

struct Generator {
    rng: Rng,
    base: OffsetDateTime,
    /// Share of the activities gathered around hotspots (of the 85% in the theatre box).
    hotspots: f64,
    tally: Tally,
}

impl Generator {
    fn new(seed: u64, hotspots: f64) -> Self {
        Generator {
            rng: Rng(seed),
            base: time::macros::datetime!(2026-12-01 00:00 UTC),
            hotspots: hotspots.clamp(0.0, 0.85),
            tally: Tally::default(),
        }
    }

    fn centre(&mut self) -> LonLat {
        let [west, south, east, north] = THEATRE;
        let rng = &mut self.rng;
        let x = rng.unit();
        if x < self.hotspots {
            self.tally.hotspot += 1;
            let (lon, lat) = HOTSPOTS[rng.below(HOTSPOTS.len())];
            let lon = (lon + 0.8 * rng.normal()).clamp(west, east);
            let lat = (lat + 0.8 * rng.normal()).clamp(south, north);
            LonLat::new(lon, lat)
        } else if x < 0.85 {
            self.tally.theatre += 1;
            LonLat::new(rng.range(west, east), rng.range(south, north))
        } else if x < 0.89 {
            // Across the Pacific, within 3 degrees of the antimeridian.
            self.tally.antimeridian += 1;
            let lon = rng.range(177.0, 183.0);
            LonLat::new(if lon > 180.0 { lon - 360.0 } else { lon }, rng.range(-50.0, 60.0))
        } else if x < 0.92 {
            self.tally.high_latitude += 1;
            let lat = rng.range(66.0, 82.0);
            LonLat::new(rng.range(-180.0, 180.0), if rng.unit() < 0.7 { lat } else { -lat })
        } else {
            self.tally.elsewhere += 1;
            LonLat::new(rng.range(-180.0, 180.0), rng.range(-60.0, 72.0))
        }
    }

    /// A closed star-shaped ring of `n` vertices around `centre`, at most `radius` metres from it,
    /// counter-clockwise.
    fn star(&mut self, centre: LonLat, radius: f64, n: usize) -> Value {
        let step = 360.0 / n as f64;
        let start = self.rng.range(0.0, 360.0);
        let mut ring: Vec<Value> = (0..n)
            .rev()
            .map(|i| {
                let azimuth = start + step * (i as f64 + self.rng.range(-0.35, 0.35));
                let p = destination(centre, azimuth, radius * self.rng.range(0.55, 1.0));
                json!([p.lon, p.lat])
            })
            .collect();
        ring.push(ring[0].clone());
        self.tally.vertices += n;
        Value::Array(vec![Value::Array(ring)])
    }

    /// A draft from the theatre's distribution, and the party registering it.
    fn draft(&mut self, reference: usize) -> (&'static str, ActivityDraft) {
        let party = PARTIES[self.rng.pick(&PARTY_WEIGHTS)];
        let centre = self.centre();
        // Log-uniform radius: 1 to 30 km, 2 to 60 km across.
        let radius = 1000.0 * (self.rng.range(0.0, 30f64.ln())).exp();
        self.tally.across_km += 2.0 * radius / 1000.0;
        let shape = self.rng.unit();
        let (geometry, radius_m) = if shape < 0.20 {
            self.tally.discs += 1;
            (json!({"type": "Point", "coordinates": [centre.lon, centre.lat]}), Some(radius))
        } else if shape < 0.95 {
            self.tally.polygons += 1;
            let n = 4 + self.rng.below(9);
            (json!({"type": "Polygon", "coordinates": self.star(centre, radius, n)}), None)
        } else {
            // Two or three parts, apart: each a third of the radius, two thirds out.
            self.tally.multipolygons += 1;
            let parts = 2 + self.rng.below(2);
            let turn = self.rng.range(0.0, 360.0);
            let polygons: Vec<Value> = (0..parts)
                .map(|k| {
                    let at = destination(centre, turn + 360.0 * k as f64 / parts as f64, radius * 2.0 / 3.0);
                    let n = 4 + self.rng.below(5);
                    self.star(at, radius / 3.0, n)
                })
                .collect();
            (json!({"type": "MultiPolygon", "coordinates": polygons}), None)
        };
        let kind_index = self.rng.pick(&KIND_WEIGHTS);
        self.tally.kinds[kind_index] += 1;
        let kind = KINDS[kind_index];
        let altitude = (kind == Kind::Air && self.rng.unit() < 0.85).then(|| {
            self.tally.bands += 1;
            let lower_m = (self.rng.range(0.0, 9_000.0) / 100.0).round() * 100.0;
            Band { lower_m, upper_m: lower_m + (self.rng.range(300.0, 6_000.0) / 100.0).round() * 100.0 }
        });
        let start = self.base + Duration::minutes(self.rng.below((DAYS * 24 * 60) as usize) as i64);
        let minutes = 60 + self.rng.below(47 * 60 + 1) as i64;
        self.tally.hours += minutes as f64 / 60.0;
        let reference = (self.rng.unit() < 0.5).then(|| format!("OP-{reference:07}"));
        let draft = ActivityDraft {
            geometry,
            radius_m,
            altitude,
            start,
            end: start + Duration::minutes(minutes),
            kind,
            reference,
        };
        (party, draft)
    }

    /// A valid activity (drafts `restore` refuses are counted and drawn again).
    fn activity(&mut self, reference: usize) -> (&'static str, Activity) {
        loop {
            let (party, draft) = self.draft(reference);
            match Activity::restore(draft) {
                Ok(activity) => return (party, activity),
                Err(e) => {
                    if self.tally.refused < 3 {
                        eprintln!("refused draft: {e}");
                    }
                    self.tally.refused += 1;
                }
            }
        }
    }
}

struct Options {
    sizes: Vec<usize>,
    queries: usize,
    seed: u64,
    peer_queries: usize,
    peer_max: usize,
    hotspots: f64,
    rounds: usize,
    scan: bool,
}

fn options() -> Option<Options> {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` and `cargo bench -- --list` must not run the benchmark.
    if !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--list") {
        return None;
    }
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1));
    let number = |name: &str, default: usize| value(name).and_then(|v| v.parse::<usize>().ok()).unwrap_or(default);
    let mut sizes: Vec<usize> = value("--sizes")
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    sizes.sort_unstable();
    sizes.dedup();
    Some(Options {
        sizes,
        queries: number("--queries", 1000).max(1),
        seed: number("--seed", 2026) as u64,
        peer_queries: number("--peer-queries", 50),
        peer_max: number("--peer-max", 100_000),
        hotspots: value("--hotspots").and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.45),
        rounds: number("--rounds", 0),
        scan: !args.iter().any(|a| a == "--no-scan"),
    })
}

/// VmRSS of this process, in bytes.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn id(i: usize) -> String {
    format!("act-{i:07}")
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Mean, p99 and greatest of per-query counts.
fn spread(samples: Vec<f64>) -> [f64; 3] {
    let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
    let samples = sorted(samples);
    [mean, percentile(&samples, 0.99), percentile(&samples, 1.0)]
}

fn sorted(mut samples: Vec<f64>) -> Vec<f64> {
    samples.sort_by(f64::total_cmp);
    samples
}

/// The index boxes of an activity, as the theatre makes them (its own buffer, the time margin,
/// hours): `[west, south, t0, east, north, t1]`.
fn boxes(activity: &Activity, settings: &Settings) -> Vec<[f64; 6]> {
    let (start, end) = activity.widened_window(settings.time_margin_s());
    let (t0, t1) = (start as f64 / 3600.0, end as f64 / 3600.0);
    activity
        .shape
        .boxes(settings.buffer(activity.kind))
        .into_iter()
        .map(|[west, south, east, north]| [west, south, t0, east, north, t1])
        .collect()
}

fn meet(a: &[[f64; 6]], b: &[[f64; 6]]) -> bool {
    a.iter().any(|x| b.iter().any(|y| (0..3).all(|i| x[i] <= y[i + 3] && y[i] <= x[i + 3])))
}

/// Where the exact checks of the candidates go: refused by window or band, or on to the geodesic
/// gap, conflicting or not; and for those not conflicting, whether a bound from the centres and
/// extents (one geodesic distance) would have refuted them.
#[derive(Default)]
struct Split {
    candidates: usize,
    checks: usize,
    cheap: usize,
    cheap_s: f64,
    gap_hit: usize,
    gap_hit_s: f64,
    gap_miss: usize,
    gap_miss_s: f64,
    refutable: usize,
    refutable_s: f64,
    bound_s: f64,
    differences: usize,
}

impl Split {
    /// `in_conflict(a, b)`, timed and sorted into the split.
    fn check(&mut self, a: &Activity, b: &Activity, settings: &Settings) -> bool {
        self.checks += 1;
        let started = Instant::now();
        let hit = in_conflict(a, b, settings);
        let took = started.elapsed().as_secs_f64();
        let margin = settings.time_margin_s();
        let ((a0, a1), (b0, b1)) = (a.widened_window(margin), b.widened_window(margin));
        let bands_apart = matches!((a.altitude, b.altitude), (Some(x), Some(y)) if !x.overlaps(&y));
        if a0 > b1 || b0 > a1 || bands_apart {
            self.cheap += 1;
            self.cheap_s += took;
        } else if hit {
            self.gap_hit += 1;
            self.gap_hit_s += took;
        } else {
            self.gap_miss += 1;
            self.gap_miss_s += took;
            let started = Instant::now();
            let apart = distance(a.shape.centre, b.shape.centre) - a.shape.extent_m - b.shape.extent_m;
            let refuted = apart > settings.buffer(a.kind) + settings.buffer(b.kind);
            let bound = started.elapsed().as_secs_f64();
            if black_box(refuted) {
                self.refutable += 1;
                self.refutable_s += took;
                self.bound_s += bound;
            }
        }
        hit
    }
}

struct Query {
    party: &'static str,
    activity: Activity,
}

/// One size's figures.
struct Row {
    size: usize,
    build_s: f64,
    insert_us: f64,
    rss_per: f64,
    heap_per: f64,
    p50: f64,
    p99: f64,
    max: f64,
    mean: f64,
    registrations_per_s: f64,
    split: Split,
    checks: [f64; 3],
    conflicts: [f64; 3],
    peer: Option<Peer>,
}

struct Peer {
    queries: usize,
    p50: f64,
    p99: f64,
    indexed_p50: f64,
    differences: usize,
}

fn main() {
    let Some(options) = options() else { return };
    let settings = Settings::default();
    println!(
        "seed {}; sizes {:?}; {} queries per size; peer: {} queries at sizes up to {}; {:.0}% around hotspots",
        options.seed,
        options.sizes,
        options.queries,
        options.peer_queries,
        options.peer_max,
        100.0 * options.hotspots
    );

    // The questions first, so that the memory measured below is the theatre's alone.
    let mut asking = Generator::new(options.seed ^ 0xA5A5_A5A5_A5A5_A5A5, options.hotspots);
    let queries: Vec<Query> = (0..options.queries)
        .map(|k| {
            let (party, activity) = asking.activity(k);
            Query { party, activity }
        })
        .collect();
    let fresh_ids: Vec<String> = (0..queries.len()).map(|k| format!("new-{k:07}")).collect();

    let mut theatre = Theatre::new();
    let mut generator = Generator::new(options.seed, options.hotspots);
    let (rss0, heap0) = (rss(), ALLOCATOR.allocated());
    let mut rows: Vec<Row> = Vec::new();
    let mut build_s = 0.0;
    let mut insert_s = 0.0;
    for &size in &options.sizes {
        let started = Instant::now();
        while theatre.len() < size {
            let i = theatre.len();
            let (party, activity) = generator.activity(i);
            let registered = Registered { id: id(i), party: party.to_string(), activity };
            let inserting = Instant::now();
            theatre.insert(registered, &settings);
            insert_s += inserting.elapsed().as_secs_f64();
        }
        build_s += started.elapsed().as_secs_f64();
        let (rss1, heap1) = (rss(), ALLOCATOR.allocated());
        eprintln!("theatre of {size} built ({build_s:.1} s so far)");

        // Latency of the check, for activities not inserted; a few first to warm up.
        for query in queries.iter().take(50) {
            black_box(theatre.conflicts(&query.activity, query.party, None, &settings));
        }
        let mut latencies = Vec::with_capacity(queries.len());
        let mut answers: Vec<Vec<String>> = Vec::with_capacity(queries.len());
        for query in &queries {
            let started = Instant::now();
            let found = theatre.conflicts(&query.activity, query.party, None, &settings);
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            answers.push(black_box(found));
        }
        if options.rounds > 0 {
            // Each query's fastest of all rounds: a figure that load from other processes
            // barely moves, for comparing versions of the check (not the recorded figures).
            let mut best = latencies.clone();
            for _ in 0..options.rounds {
                for (query, best) in queries.iter().zip(&mut best) {
                    let started = Instant::now();
                    black_box(theatre.conflicts(&query.activity, query.party, None, &settings));
                    *best = best.min(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
            let best = sorted(best);
            eprintln!(
                "fastest of {} rounds per query: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                options.rounds + 1,
                percentile(&best, 0.5),
                percentile(&best, 0.9),
                percentile(&best, 0.99),
                percentile(&best, 1.0)
            );
        }

        // Registrations: the check, then the insert; then the fresh activities leave again.
        let prepared: Vec<Registered> = queries
            .iter()
            .zip(&fresh_ids)
            .map(|(q, id)| Registered { id: id.clone(), party: q.party.to_string(), activity: q.activity.clone() })
            .collect();
        let started = Instant::now();
        for registered in prepared {
            black_box(theatre.conflicts(&registered.activity, &registered.party, None, &settings));
            theatre.insert(registered, &settings);
        }
        let registrations_per_s = queries.len() as f64 / started.elapsed().as_secs_f64();
        for id in &fresh_ids {
            theatre.remove(id);
        }

        // What the index lookup yields (a linear box scan) and what the exact checks cost.
        let active: Vec<&Registered> = (0..size).filter_map(|i| theatre.get(&id(i))).collect();
        let active_boxes: Vec<Vec<[f64; 6]>> = active.iter().map(|r| boxes(&r.activity, &settings)).collect();
        let mut split = Split::default();
        let mut per_query_checks: Vec<f64> = Vec::with_capacity(queries.len());
        let mut per_query_conflicts: Vec<f64> = Vec::with_capacity(queries.len());
        for (query, answer) in queries.iter().zip(&answers).filter(|_| options.scan) {
            let query_boxes = boxes(&query.activity, &settings);
            let mut exact: Vec<String> = Vec::new();
            let checks_before = split.checks;
            for (registered, b) in active.iter().zip(&active_boxes) {
                if !meet(&query_boxes, b) {
                    continue;
                }
                split.candidates += 1;
                if registered.party == query.party {
                    continue;
                }
                if split.check(&query.activity, &registered.activity, &settings) {
                    exact.push(registered.id.clone());
                }
            }
            exact.sort();
            per_query_checks.push((split.checks - checks_before) as f64);
            per_query_conflicts.push(answer.len() as f64);
            split.differences += usize::from(&exact != answer);
        }
        drop(active_boxes);

        // The peer: no index, the exact check against every active activity of another party.
        let peer = (size <= options.peer_max && options.peer_queries > 0).then(|| {
            let asked = options.peer_queries.min(queries.len());
            let mut times = Vec::with_capacity(asked);
            let mut differences = 0;
            for (query, answer) in queries.iter().zip(&answers).take(asked) {
                let started = Instant::now();
                let mut found: Vec<String> = active
                    .iter()
                    .filter(|r| r.party != query.party && in_conflict(&query.activity, &r.activity, &settings))
                    .map(|r| r.id.clone())
                    .collect();
                found.sort();
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                differences += usize::from(&black_box(found) != answer);
            }
            let indexed = sorted(latencies[..asked].to_vec());
            let times = sorted(times);
            Peer {
                queries: asked,
                p50: percentile(&times, 0.5),
                p99: percentile(&times, 0.99),
                indexed_p50: percentile(&indexed, 0.5),
                differences,
            }
        });
        drop(active);

        let n = queries.len() as f64;
        let mean = latencies.iter().sum::<f64>() / n;
        let latencies = sorted(latencies);
        rows.push(Row {
            size,
            build_s,
            insert_us: insert_s * 1e6 / size as f64,
            rss_per: rss1.saturating_sub(rss0) as f64 / size as f64,
            heap_per: heap1.saturating_sub(heap0) as f64 / size as f64,
            p50: percentile(&latencies, 0.5),
            p99: percentile(&latencies, 0.99),
            max: percentile(&latencies, 1.0),
            mean,
            registrations_per_s,
            checks: spread(per_query_checks),
            conflicts: spread(per_query_conflicts),
            split,
            peer,
        });
        if let Some(row) = rows.last() {
            eprintln!(
                "{size}: p50 {:.3} ms, p99 {:.3} ms, {:.1} exact checks, {:.2} conflicts a query",
                row.p50, row.p99, row.checks[0], row.conflicts[0]
            );
        }
    }

    let t = &generator.tally;
    let made = (t.polygons + t.discs + t.multipolygons).max(1) as f64;
    println!(
        "\ntheatre drawn: {:.1}% around hotspots, {:.1}% elsewhere in the theatre box, {:.1}% near the antimeridian, \
         {:.1}% at high latitudes, {:.1}% elsewhere; {:.1}% polygons ({:.1} vertices a ring on average), {:.1}% discs, \
         {:.1}% multipolygons; {:.1} km across and {:.1} h long on average; air {:.1}%, ground {:.1}%, maritime \
         {:.1}%, other {:.1}%; {:.1}% with an altitude band; {} drafts refused by restore",
        100.0 * t.hotspot as f64 / made,
        100.0 * t.theatre as f64 / made,
        100.0 * t.antimeridian as f64 / made,
        100.0 * t.high_latitude as f64 / made,
        100.0 * t.elsewhere as f64 / made,
        100.0 * t.polygons as f64 / made,
        t.vertices as f64 / (t.polygons as f64 + 2.5 * t.multipolygons as f64).max(1.0),
        100.0 * t.discs as f64 / made,
        100.0 * t.multipolygons as f64 / made,
        t.across_km / made,
        t.hours / made,
        100.0 * t.kinds[0] as f64 / made,
        100.0 * t.kinds[1] as f64 / made,
        100.0 * t.kinds[2] as f64 / made,
        100.0 * t.kinds[3] as f64 / made,
        100.0 * t.bands as f64 / made,
        t.refused,
    );

    let n = options.queries as f64;
    println!(
        "\n| active | check p50 | p99 | max | mean | registrations/s (check + insert) | index vs exact: differences |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.0} | {} |",
            r.size,
            r.p50,
            r.p99,
            r.max,
            r.mean,
            r.registrations_per_s,
            if options.scan {
                format!("{} of {}", r.split.differences, options.queries)
            } else {
                "not compared (--no-scan)".to_string()
            }
        );
    }

    println!("\n| active | candidates a query (box lookup, any party) | exact checks a query (other parties): mean, p99, max | conflicts a query: mean, p99, max |");
    println!("| ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {:.1} | {:.1}, {:.0}, {:.0} | {:.2}, {:.0}, {:.0} |",
            r.size,
            r.split.candidates as f64 / n,
            r.checks[0],
            r.checks[1],
            r.checks[2],
            r.conflicts[0],
            r.conflicts[1],
            r.conflicts[2]
        );
    }

    println!("\n| active | exact checks: time a query | refused by window or band: checks, time | geodesic gap, conflicting: checks, time | geodesic gap, not conflicting: checks, time | of these, refuted by centres and extents: checks, their time, the bound's time |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let t = &r.split;
        let ms = |seconds: f64| seconds * 1000.0 / n;
        println!(
            "| {} | {:.3} ms | {:.1}, {:.3} ms | {:.1}, {:.3} ms | {:.1}, {:.3} ms | {:.1}, {:.3} ms, {:.3} ms |",
            r.size,
            ms(t.cheap_s + t.gap_hit_s + t.gap_miss_s),
            t.cheap as f64 / n,
            ms(t.cheap_s),
            t.gap_hit as f64 / n,
            ms(t.gap_hit_s),
            t.gap_miss as f64 / n,
            ms(t.gap_miss_s),
            t.refutable as f64 / n,
            ms(t.refutable_s),
            ms(t.bound_s)
        );
    }

    println!("\n| active | VmRSS growth per activity | live heap per activity | build so far (draw, restore, insert) | insert alone, mean |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {:.0} B | {:.0} B | {:.1} s | {:.2} µs |",
            r.size, r.rss_per, r.heap_per, r.build_s, r.insert_us
        );
    }

    println!("\n| active | peer queries | peer (linear scan) p50 | peer p99 | indexed p50, same queries | scan / index (p50) | peer vs index: differences |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        if let Some(p) = &r.peer {
            println!(
                "| {} | {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.0}x | {} |",
                r.size,
                p.queries,
                p.p50,
                p.p99,
                p.indexed_p50,
                p.p50 / p.indexed_p50,
                p.differences
            );
        }
    }
}
