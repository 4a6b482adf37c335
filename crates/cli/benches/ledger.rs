//! The dissemination ledger at scale (DESIGN.md: over 20,000 appended entries per second; an
//! inclusion proof in under 1 ms at 10 million entries). Entries are canonical `release` entries
//! as the hub writes them (a blinded object reference, a version, portions, a rendering digest),
//! different for every index. Measured, on SQLite and PostgreSQL:
//!
//! 1. Appends per second through `Store::append_ledger` (one transaction: the entries, the tree's
//!    new stored hashes, the head): one entry per call in sequence, one entry per call from 8
//!    concurrent tasks, and 1,000 entries per call. The peer, in the same run and database: the
//!    same entries in the same transactions into a plain table `bench_plain (idx, entry)` with
//!    multi-row INSERTs and no tree, so that the ratio is what the Merkle tree costs.
//! 2. Releases through the hub (`Hub::view_with_receipt` of the brief's report): one viewer,
//!    whose answers each commit alone, against 8 concurrent viewers, whose answers share commits
//!    (the deliveries' group commit).
//! 3. The log loaded to each size (batches of 10,000): at each, `Hub::inclusion_proof` for random
//!    entries in the tree of the log's size and `Hub::consistency_proof` from random earlier
//!    sizes (p50, p99), proof sizes (hashes, bytes of the proof as JSON), checking a proof in
//!    memory (`check_inclusion`, `check_consistency`), and storage per entry (SQLite: pages of
//!    the file after a WAL checkpoint; PostgreSQL: `ledger_entries` and `ledger_hashes` with their
//!    indexes and TOAST).
//! 4. `Hub::verify_ledger` over the whole log at each size.
//!
//! `cargo bench -p tearline --bench ledger` (sizes 1,000,000 and 10,000,000 on SQLite; 1,000,000
//! on PostgreSQL, then 10,000,000 if loading the first million took under 3 minutes);
//! `-- --quick` for 10,000 and 100,000; `-- --appends-only` for 1 and 2 alone. PostgreSQL: a fresh database on
//! `TEARLINE_BENCH_POSTGRES_URL` (a role that may CREATE DATABASE), else a throwaway cluster
//! started with scripts/postgres-cluster.
//!
//! Settings (environment):
//! - `TEARLINE_BENCH_BACKENDS`: `sqlite,postgres` (default), or one of them.
//! - `TEARLINE_BENCH_SINGLES`: one-entry appends per single-entry case, default 2000 (200 quick).
//! - `TEARLINE_BENCH_BATCHES`: calls of 1,000 entries in the batched case, default 100 (5 quick).
//! - `TEARLINE_BENCH_SAMPLES`: proofs of each kind per size, default 1000.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark whose setup fails should stop at once, saying where"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_number, machine, ms, now, percentiles, postgres_backend, Backend, Cluster, Random};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Executor};
use tearline_hub::{Hub, Proof};
use tearline_ledger::{Entry, Event, Hash};
use tearline_store::Store;
use tokio::sync::Mutex;

/// Entries per `append_ledger` call while loading the log.
const LOAD_BATCH: usize = 10_000;
/// Entries per call in the batched append case.
const BATCH: usize = 1000;
/// Concurrent tasks in the concurrent single-entry case.
const TASKS: usize = 8;
/// Rows per multi-row INSERT of the peer (as the store's `ROWS_PER_INSERT`).
const ROWS_PER_INSERT: usize = 400;
/// PostgreSQL goes on to 10 million only if loading the first million took less than this.
const POSTGRES_BIG_LIMIT: Duration = Duration::from_secs(180);

/// The canonical bytes of entry `i`: a release to IRQ's analyst over TAXII, its object
/// reference, version, rendering digest and time different for every `i`.
fn entry(i: u64) -> Vec<u8> {
    let object = hex::encode(Sha256::digest(format!("object {i}")));
    let rendering = hex::encode(Sha256::digest(format!("rendering {i}")));
    let time = time::OffsetDateTime::from_unix_timestamp(1_778_300_000).unwrap()
        + time::Duration::milliseconds(i64::try_from(i).unwrap());
    let version = format!(
        "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        1 + i % 4,
        1 + i % 28,
        i % 24,
        (i / 24) % 60,
        i % 60,
        i % 1_000_000
    );
    Entry {
        time,
        event: Event::Release {
            object: format!("ref:{object}"),
            version,
            portions: vec![0, 1, 2],
            rendering: format!("sha256:{rendering}"),
            party: "IRQ".into(),
            user: "iq-analyst".into(),
            channel: "taxii".into(),
        },
    }
    .encode()
    .unwrap()
}

fn entries(from: u64, count: usize) -> Vec<Vec<u8>> {
    (from..from + count as u64).map(entry).collect()
}

// ---------------------------------------------------------------------------------------------
// The peer: the same entries in a plain table, no tree

/// `bench_plain` in the store's database, written with the store's transaction pattern (on
/// SQLite the same pragmas, `BEGIN IMMEDIATE` and this process's writers taking turns).
#[derive(Clone)]
struct Plain {
    pool: AnyPool,
    sqlite: bool,
    writers: Arc<Mutex<()>>,
}

impl Plain {
    async fn open(backend: &Backend) -> Plain {
        let (pool, sqlite) = match backend.database_url() {
            None => {
                let file = std::fs::canonicalize(backend.data_dir()).unwrap().join(tearline_store::SQLITE_FILE);
                let url = SqliteConnectOptions::new().filename(file).to_url_lossy();
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            for pragma in
                                ["PRAGMA busy_timeout = 5000", "PRAGMA synchronous = FULL", "PRAGMA journal_mode = WAL"]
                            {
                                conn.execute(pragma).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(AnyConnectOptions::from_url(&url).unwrap())
                    .await
                    .unwrap();
                (pool, true)
            }
            Some(url) => (AnyPoolOptions::new().max_connections(10).connect(&url).await.unwrap(), false),
        };
        // INTEGER PRIMARY KEY on SQLite, as the ledger's tables (the rowid, no separate index).
        let create = if sqlite {
            "CREATE TABLE bench_plain (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL)"
        } else {
            "CREATE TABLE bench_plain (idx BIGINT PRIMARY KEY, entry BYTEA NOT NULL)"
        };
        pool.execute(create).await.unwrap();
        Plain { pool, sqlite, writers: Arc::new(Mutex::new(())) }
    }

    /// One transaction: `entries` at `first..`.
    async fn insert(&self, first: usize, entries: &[Vec<u8>]) {
        let _turn = if self.sqlite { Some(self.writers.lock().await) } else { None };
        let mut tx = self.pool.begin_with(if self.sqlite { "BEGIN IMMEDIATE" } else { "BEGIN" }).await.unwrap();
        for (chunk_number, chunk) in entries.chunks(ROWS_PER_INSERT).enumerate() {
            let tuples: Vec<String> =
                (0..chunk.len())
                    .map(|row| {
                        if self.sqlite {
                            "(?, ?)".to_string()
                        } else {
                            format!("(${}, ${})", 2 * row + 1, 2 * row + 2)
                        }
                    })
                    .collect();
            let sql = format!("INSERT INTO bench_plain (idx, entry) VALUES {}", tuples.join(", "));
            let mut query = sqlx::query(&sql);
            for (row, bytes) in chunk.iter().enumerate() {
                let idx = first + chunk_number * ROWS_PER_INSERT + row;
                query = query.bind(i64::try_from(idx).unwrap()).bind(bytes.clone());
            }
            query.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }

    async fn drop_table(self) {
        self.pool.execute("DROP TABLE bench_plain").await.unwrap();
        self.pool.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// The measures

/// One append case: entries, calls, wall time through the ledger and into the plain table.
struct Appends {
    case: String,
    entries: usize,
    calls: usize,
    ledger: Duration,
    plain: Duration,
}

/// `entries` in calls of `per_call`, the calls dealt round-robin to `tasks` tasks, each making
/// its calls in turn: wall time through `append_ledger`, then into the plain table.
async fn append_case(
    case: &str,
    store: &Arc<dyn Store>,
    plain: &Plain,
    plain_next: &mut usize,
    entries: Vec<Vec<u8>>,
    per_call: usize,
    tasks: usize,
) -> Appends {
    let total = entries.len();
    let calls: Arc<Vec<Vec<Vec<u8>>>> = Arc::new(entries.chunks(per_call).map(<[Vec<u8>]>::to_vec).collect());
    let count = calls.len();

    let head = store.ledger_head().await.unwrap().size;
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = store.clone();
        let calls = calls.clone();
        handles.push(tokio::spawn(async move {
            for call in (task..calls.len()).step_by(tasks) {
                store.append_ledger(&calls[call]).await.unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let ledger = started.elapsed();
    assert_eq!(store.ledger_head().await.unwrap().size, head + total as u64);

    let first = *plain_next;
    *plain_next += total;
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let plain = plain.clone();
        let calls = calls.clone();
        handles.push(tokio::spawn(async move {
            for call in (task..calls.len()).step_by(tasks) {
                plain.insert(first + call * per_call, &calls[call]).await;
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let plain_time = started.elapsed();
    let appends = Appends { case: case.to_string(), entries: total, calls: count, ledger, plain: plain_time };
    eprintln!(
        "  {case}: ledger {:.0} entries/s, plain table {:.0} entries/s",
        total as f64 / ledger.as_secs_f64(),
        total as f64 / plain_time.as_secs_f64()
    );
    appends
}

/// Figures at one size of the log.
struct AtSize {
    size: u64,
    /// Entries appended to reach this size, and the time in `append_ledger`.
    loaded: u64,
    load: Duration,
    inclusion: (Duration, Duration),
    inclusion_hashes: (f64, usize),
    inclusion_json: f64,
    check_inclusion: Duration,
    consistency: (Duration, Duration),
    consistency_hashes: (f64, usize),
    consistency_json: f64,
    check_consistency: Duration,
    samples: usize,
    storage: u64,
    /// SQLite: pages on the free list (counted in `storage`).
    free_pages: Option<u64>,
    verify: Duration,
    checkpoint: Duration,
}

/// Releases through the hub (`Hub::view_with_receipt`: the index, the rendering, the delivery
/// and its entry, the signed receipt) by `viewers` concurrent viewers.
struct Releases {
    viewers: usize,
    count: usize,
    time: Duration,
}

const COALITION: &str = include_str!("../../../examples/coalition.toml");
const REPORT: &str = include_str!("../../../examples/route-clearance.md");

/// `count` views of the brief's report by iq-analyst, dealt to `viewers` tasks.
async fn release_case(hub: &Arc<Hub>, id: &str, count: usize, viewers: usize) -> Releases {
    let viewer = hub.user("iq-analyst").await.unwrap();
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..viewers {
        let (hub, viewer, id) = (hub.clone(), viewer.clone(), id.to_string());
        handles.push(tokio::spawn(async move {
            for _ in (task..count).step_by(viewers) {
                hub.view_with_receipt(&viewer, &id, now()).await.unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let time = started.elapsed();
    eprintln!("  hub releases, {viewers} viewers: {:.0} releases/s", count as f64 / time.as_secs_f64());
    Releases { viewers, count, time }
}

struct Figures {
    backend: &'static str,
    settings: String,
    appends: Vec<Appends>,
    releases: Vec<Releases>,
    sizes: Vec<AtSize>,
}

fn hashes(proof: &Proof) -> Vec<Hash> {
    proof.proof.iter().map(|text| Hash::parse_hash(text).unwrap()).collect()
}

fn parse(text: Option<&String>) -> Hash {
    Hash::parse_hash(text.unwrap()).unwrap()
}

fn mean_max(counts: &[usize]) -> (f64, usize) {
    (counts.iter().sum::<usize>() as f64 / counts.len() as f64, counts.iter().copied().max().unwrap_or(0))
}

fn bar(len: u64, message: String) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap(),
    );
    bar.set_message(message);
    bar
}

/// Storage of the log: SQLite, the file's pages after a WAL checkpoint (and its free pages);
/// PostgreSQL, both ledger tables with their indexes and TOAST.
async fn storage(backend: &Backend) -> (u64, Option<u64>) {
    let pool = match backend.database_url() {
        None => {
            let file = std::fs::canonicalize(backend.data_dir()).unwrap().join(tearline_store::SQLITE_FILE);
            let url = SqliteConnectOptions::new().filename(file).to_url_lossy();
            AnyPoolOptions::new().max_connections(1).connect_with(AnyConnectOptions::from_url(&url).unwrap()).await
        }
        Some(url) => AnyPoolOptions::new().max_connections(1).connect(&url).await,
    }
    .unwrap();
    let result = if backend.database_url().is_none() {
        let busy: i64 = sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&pool).await.unwrap();
        assert_eq!(busy, 0, "the WAL checkpoint was blocked");
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&pool).await.unwrap();
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&pool).await.unwrap();
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(&pool).await.unwrap();
        ((pages * page_size) as u64, Some(free as u64))
    } else {
        let bytes: i64 = sqlx::query_scalar(
            "SELECT (pg_total_relation_size('ledger_entries') + pg_total_relation_size('ledger_hashes'))::BIGINT",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        (bytes as u64, None)
    };
    pool.close().await;
    result
}

/// Loads the log to `target` entries, then measures proofs, storage and verification.
async fn at_size(backend: &Backend, hub: &Hub, store: &Arc<dyn Store>, target: u64, samples: usize) -> AtSize {
    let name = backend.name();
    let start = store.ledger_head().await.unwrap().size;
    assert!(start <= target);
    let progress = bar(target, format!("{name}: loading to {target}"));
    progress.set_position(start);
    let mut load = Duration::ZERO;
    let mut size = start;
    while size < target {
        let batch = entries(size, LOAD_BATCH.min((target - size) as usize));
        let started = Instant::now();
        let first = store.append_ledger(&batch).await.unwrap();
        load += started.elapsed();
        assert_eq!(first, size);
        size += batch.len() as u64;
        progress.set_position(size);
    }
    progress.finish_and_clear();
    let loaded = target - start;
    eprintln!(
        "{name}: loaded {loaded} entries to {target} in {:.1} s in append_ledger ({:.0} entries/s)",
        load.as_secs_f64(),
        loaded as f64 / load.as_secs_f64()
    );
    let started = Instant::now();
    hub.make_checkpoint(now()).await.unwrap();
    let checkpoint = started.elapsed();
    backend.settle().await;
    let (bytes, free_pages) = storage(backend).await;

    let head = store.ledger_head().await.unwrap();
    assert_eq!(head.size, target);
    let mut random = Random(0x1ED6_E500 ^ target);

    // Inclusion proofs of random entries in the tree of the log's size.
    for _ in 0..20 {
        hub.inclusion_proof(random.below(target as usize) as u64, target).await.unwrap();
    }
    let mut times = Vec::with_capacity(samples);
    let mut proofs = Vec::with_capacity(samples);
    for _ in 0..samples {
        let index = random.below(target as usize) as u64;
        let started = Instant::now();
        let proof = hub.inclusion_proof(index, target).await.unwrap();
        times.push(started.elapsed());
        proofs.push(proof);
    }
    let inclusion = percentiles(times);
    let inclusion_hashes = mean_max(&proofs.iter().map(|p| p.proof.len()).collect::<Vec<_>>());
    let inclusion_json =
        proofs.iter().map(|p| serde_json::to_string(p).unwrap().len()).sum::<usize>() as f64 / samples as f64;
    // In memory: the proofs decoded first, then checked against the head's root.
    let decoded: Vec<(u64, Hash, Vec<Hash>)> =
        proofs.iter().map(|p| (p.index.unwrap(), parse(p.leaf.as_ref()), hashes(p))).collect();
    let root = Hash::parse_hash(&proofs[0].root).unwrap();
    assert_eq!(root, head.root);
    let started = Instant::now();
    for (index, leaf, proof) in &decoded {
        tearline_ledger::check_inclusion(proof, target, root, *index, *leaf).unwrap();
    }
    let check_inclusion = started.elapsed() / samples as u32;
    // The leaf of one proof is the hash of the entry stored at its index.
    let (index, leaf, _) = &decoded[0];
    let stored = store.ledger_entries(*index, index + 1).await.unwrap();
    assert_eq!(tearline_ledger::leaf_hash(&stored[0].1), *leaf);
    assert_eq!(stored[0].1, entry(*index));

    // Consistency proofs from random earlier sizes to the log's size.
    for _ in 0..20 {
        hub.consistency_proof(1 + random.below(target as usize - 1) as u64, target).await.unwrap();
    }
    let mut times = Vec::with_capacity(samples);
    let mut proofs = Vec::with_capacity(samples);
    for _ in 0..samples {
        let from = 1 + random.below(target as usize - 1) as u64;
        let started = Instant::now();
        let proof = hub.consistency_proof(from, target).await.unwrap();
        times.push(started.elapsed());
        proofs.push(proof);
    }
    let consistency = percentiles(times);
    let consistency_hashes = mean_max(&proofs.iter().map(|p| p.proof.len()).collect::<Vec<_>>());
    let consistency_json =
        proofs.iter().map(|p| serde_json::to_string(p).unwrap().len()).sum::<usize>() as f64 / samples as f64;
    let decoded: Vec<(u64, Hash, Vec<Hash>)> =
        proofs.iter().map(|p| (p.from.unwrap(), parse(p.from_root.as_ref()), hashes(p))).collect();
    let started = Instant::now();
    for (from, from_root, proof) in &decoded {
        tearline_ledger::check_consistency(proof, target, root, *from, *from_root).unwrap();
    }
    let check_consistency = started.elapsed() / samples as u32;
    eprintln!(
        "{name} at {target}: inclusion p50 {} p99 {}; consistency p50 {} p99 {}",
        ms(inclusion.0),
        ms(inclusion.1),
        ms(consistency.0),
        ms(consistency.1)
    );

    // The whole log, verified.
    let progress = bar(target, format!("{name}: verifying {target}"));
    let started = Instant::now();
    let verification = hub.verify_ledger(&|done, _| progress.set_position(done)).await.unwrap();
    let verify = started.elapsed();
    progress.finish_and_clear();
    assert_eq!(verification.finding, None);
    assert_eq!(verification.size, target);
    assert_eq!(verification.root, head.root);
    eprintln!(
        "{name}: verified {target} entries in {:.1} s ({:.0} entries/s)",
        verify.as_secs_f64(),
        target as f64 / verify.as_secs_f64()
    );

    AtSize {
        size: target,
        loaded,
        load,
        inclusion,
        inclusion_hashes,
        inclusion_json,
        check_inclusion,
        consistency,
        consistency_hashes,
        consistency_json,
        check_consistency,
        samples,
        storage: bytes,
        free_pages,
        verify,
        checkpoint,
    }
}

#[derive(Clone, Copy)]
struct Settings {
    sizes: [u64; 2],
    /// `--appends-only`: the append and release cases, not the large logs.
    appends_only: bool,
    singles: usize,
    batches: usize,
    samples: usize,
}

async fn run_backend(backend: &Backend, settings: Settings) -> Figures {
    let name = backend.name();
    eprintln!("\n== {name}");
    let sql_store = backend.open().await;
    let store: Arc<dyn Store> = Arc::new(sql_store.clone());
    tearline_hub::init(store.as_ref(), None).await.unwrap();
    let hub = Arc::new(Hub::open(store.clone(), None, now()).await.unwrap());
    let plain = Plain::open(backend).await;
    let settings_text = if plain.sqlite {
        "WAL, synchronous = FULL (the product's settings)".to_string()
    } else {
        let mut shown = Vec::new();
        for setting in ["fsync", "synchronous_commit", "full_page_writes", "shared_buffers"] {
            let value: String = sqlx::query_scalar(&format!("SHOW {setting}")).fetch_one(&plain.pool).await.unwrap();
            shown.push(format!("{setting} = {value}"));
        }
        shown.join(", ")
    };
    eprintln!("{name}: {settings_text}");

    // 1. Appends, on a log of a few entries, each case with its peer.
    let mut next = store.ledger_head().await.unwrap().size;
    let mut plain_next = 0;
    let mut take = |count: usize| {
        let batch = entries(next, count);
        next += count as u64;
        batch
    };
    let cases = [
        ("one entry per call, sequential", take(settings.singles), 1, 1),
        ("one entry per call, 8 concurrent tasks", take(settings.singles), 1, TASKS),
        ("1,000 entries per call, sequential", take(settings.batches * BATCH), BATCH, 1),
    ];
    let mut appends = Vec::new();
    for (case, batch, per_call, tasks) in cases {
        appends.push(append_case(case, &store, &plain, &mut plain_next, batch, per_call, tasks).await);
    }
    plain.drop_table().await;

    // Releases through the hub: one viewer (each answer commits alone) against 8 concurrent
    // viewers (answers given together share a commit: the deliveries' group commit).
    hub.apply(COALITION, now()).await.unwrap();
    let author = hub.user("us-analyst").await.unwrap();
    let report = hub.submit_report(&author, REPORT, now()).await.unwrap().id;
    let releases = vec![
        release_case(&hub, &report, settings.singles, 1).await,
        release_case(&hub, &report, settings.singles, TASKS).await,
    ];
    if settings.appends_only {
        drop(hub);
        sql_store.close().await;
        return Figures { backend: name, settings: settings_text, appends, releases, sizes: Vec::new() };
    }

    // 2. and 3. At each size.
    let mut sizes = Vec::new();
    for (number, target) in settings.sizes.into_iter().enumerate() {
        if number > 0 && !go_on(backend, sizes.first()) {
            eprintln!(
                "{name}: loading to {} skipped: the first {} took {:.0} s (over {} s)",
                target,
                settings.sizes[0],
                sizes.first().map_or(0.0, |s: &AtSize| s.load.as_secs_f64()),
                POSTGRES_BIG_LIMIT.as_secs()
            );
            continue;
        }
        sizes.push(at_size(backend, &hub, &store, target, settings.samples).await);
    }
    drop(hub);
    sql_store.close().await;
    Figures { backend: name, settings: settings_text, appends, releases, sizes }
}

/// Whether to go on to the larger size: always on SQLite; on PostgreSQL if the first load took
/// under [`POSTGRES_BIG_LIMIT`].
fn go_on(backend: &Backend, first: Option<&AtSize>) -> bool {
    match backend {
        Backend::Sqlite { .. } => true,
        Backend::Postgres { .. } => first.is_some_and(|s| s.load < POSTGRES_BIG_LIMIT),
    }
}

fn rate(count: u64, time: Duration) -> String {
    format!("{:.0}", count as f64 / time.as_secs_f64())
}

fn us(duration: Duration) -> String {
    format!("{:.1} µs", duration.as_secs_f64() * 1e6)
}

fn print_tables(all: &[Figures], machine: &str, mean_entry: f64, load_end: &str) {
    println!();
    println!("machine: {machine}");
    println!("load average at end: {load_end}");
    for f in all {
        println!("{}: {}", f.backend, f.settings);
    }
    println!("entries: canonical `release` entries, mean {mean_entry:.1} bytes");
    println!();
    println!("Appends (Store::append_ledger; peer: the same entries and transactions into a plain table, no tree)");
    println!();
    println!("| backend | case | entries | transactions | ledger: entries/s | plain table: entries/s | ledger rate / plain rate |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        for a in &f.appends {
            println!(
                "| {} | {} | {} | {} | {} | {} | {:.2} |",
                f.backend,
                a.case,
                a.entries,
                a.calls,
                rate(a.entries as u64, a.ledger),
                rate(a.entries as u64, a.plain),
                a.plain.as_secs_f64() / a.ledger.as_secs_f64()
            );
        }
    }
    println!();
    println!("Releases through the hub (Hub::view_with_receipt of the brief's report by iq-analyst; peer: one viewer)");
    println!();
    println!("| backend | viewers | releases | time | releases/s | rate / one viewer's rate |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        let alone = f.releases.first().map(|r| r.count as f64 / r.time.as_secs_f64()).unwrap_or(f64::NAN);
        for r in &f.releases {
            let per_second = r.count as f64 / r.time.as_secs_f64();
            println!(
                "| {} | {} | {} | {:.2} s | {:.0} | {:.2} |",
                f.backend,
                r.viewers,
                r.count,
                r.time.as_secs_f64(),
                per_second,
                per_second / alone
            );
        }
    }
    println!();
    println!("Loading (append_ledger, {LOAD_BATCH} entries per call; time inside the calls)");
    println!();
    println!(
        "| backend | to size | entries appended | time | entries/s | storage | bytes per entry | make_checkpoint |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        for s in &f.sizes {
            let free = match s.free_pages {
                Some(free) if free > 0 => format!(" ({free} free pages)"),
                _ => String::new(),
            };
            println!(
                "| {} | {} | {} | {:.1} s | {} | {:.1} MB{free} | {:.0} | {} |",
                f.backend,
                s.size,
                s.loaded,
                s.load.as_secs_f64(),
                rate(s.loaded, s.load),
                s.storage as f64 / 1e6,
                s.storage as f64 / s.size as f64,
                ms(s.checkpoint)
            );
        }
    }
    println!();
    let samples = all.iter().flat_map(|f| f.sizes.first()).map(|s| s.samples).next().unwrap_or(0);
    println!(
        "Proofs ({samples} of each kind per size: inclusion of a random entry in the tree of the log's size, \
         consistency from a random earlier size; hashes mean / max; JSON: the `Proof` as served, mean bytes; \
         check: in memory, per proof)"
    );
    println!();
    println!(
        "| backend | entries | inclusion p50 | inclusion p99 | hashes | JSON | check_inclusion | consistency p50 | consistency p99 | hashes | JSON | check_consistency |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        for s in &f.sizes {
            println!(
                "| {} | {} | {} | {} | {:.1} / {} | {:.0} B | {} | {} | {} | {:.1} / {} | {:.0} B | {} |",
                f.backend,
                s.size,
                ms(s.inclusion.0),
                ms(s.inclusion.1),
                s.inclusion_hashes.0,
                s.inclusion_hashes.1,
                s.inclusion_json,
                us(s.check_inclusion),
                ms(s.consistency.0),
                ms(s.consistency.1),
                s.consistency_hashes.0,
                s.consistency_hashes.1,
                s.consistency_json,
                us(s.check_consistency)
            );
        }
    }
    println!();
    println!("Whole-log verification (Hub::verify_ledger)");
    println!();
    println!("| backend | entries | time | entries/s |");
    println!("| --- | ---: | ---: | ---: |");
    for f in all {
        for s in &f.sizes {
            println!("| {} | {} | {:.1} s | {} |", f.backend, s.size, s.verify.as_secs_f64(), rate(s.size, s.verify));
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Test runners list a bench target's tests (`--list`) or run it without `--bench`: it has none.
    if args.iter().any(|arg| arg == "--list") {
        return;
    }
    if !args.iter().any(|arg| arg == "--bench") {
        eprintln!("ledger: a benchmark, not a test: run it with `cargo bench -p tearline --bench ledger`");
        return;
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    let settings = Settings {
        sizes: if quick { [10_000, 100_000] } else { [1_000_000, 10_000_000] },
        appends_only: args.iter().any(|arg| arg == "--appends-only"),
        singles: env_number("TEARLINE_BENCH_SINGLES", if quick { 200 } else { 2000 }).max(TASKS),
        batches: env_number("TEARLINE_BENCH_BATCHES", if quick { 5 } else { 100 }).max(1),
        samples: env_number("TEARLINE_BENCH_SAMPLES", 1000).max(1),
    };
    assert!(
        (4 * settings.singles + settings.batches * BATCH) as u64 + 100 < settings.sizes[0],
        "the append cases must leave room below the first size, {}",
        settings.sizes[0]
    );
    let backends = std::env::var("TEARLINE_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let machine = machine();
    eprintln!("machine: {machine}");
    let sample: Vec<Vec<u8>> = entries(0, 10_000);
    let mean_entry = sample.iter().map(Vec::len).sum::<usize>() as f64 / sample.len() as f64;
    eprintln!("entry: {} ({mean_entry:.1} bytes on average)", String::from_utf8_lossy(&sample[0]));

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let mut figures = Vec::new();
        for backend in backends.split(',').map(str::trim) {
            match backend {
                "sqlite" => {
                    let dir = tempfile::tempdir().unwrap();
                    let backend = Backend::Sqlite { dir };
                    figures.push(run_backend(&backend, settings).await);
                }
                "postgres" => {
                    let given = std::env::var("TEARLINE_BENCH_POSTGRES_URL").ok().filter(|url| !url.is_empty());
                    let cluster = given.is_none().then(Cluster::start);
                    let admin_url =
                        given.unwrap_or_else(|| cluster.as_ref().map(|c| c.url.clone()).unwrap_or_default());
                    let backend = postgres_backend(&admin_url).await;
                    figures.push(run_backend(&backend, settings).await);
                    backend.finish().await;
                    drop(cluster);
                }
                other => panic!("unknown backend `{other}` in TEARLINE_BENCH_BACKENDS (sqlite, postgres)"),
            }
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load_end = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        print_tables(&figures, &machine, mean_entry, &load_end);
    });
}
