//! Listing at scale (DESIGN.md section 7): a page of 100 reports for a recipient in a hub of N
//! reports (a million by default), whatever share of them the recipient may see; with, as the
//! peer in the same run, the same page computed without the release index (a scan in storage
//! order, deciding each report with a memoized `Decider`). Also: the load rate of
//! `Hub::submit_reports` (against `Hub::submit_report`, one commit per report), a whole-index rebuild (`Hub::apply` here, then `tearline apply` in a
//! process of its own, with its peak memory), and the memory of `tearline serve` over the loaded
//! hub after listing requests over HTTP.
//!
//! `cargo bench -p tearline --bench listing`, on SQLite (a temporary folder) and PostgreSQL (a
//! fresh database on `TEARLINE_BENCH_POSTGRES_URL`, a role that may CREATE DATABASE; without it,
//! a throwaway cluster started with scripts/postgres-cluster). Everything listens on 127.0.0.1.
//!
//! Settings (environment):
//! - `TEARLINE_BENCH_REPORTS`: N, default 1000000.
//! - `TEARLINE_BENCH_SINGLES`: of which the last are submitted one commit each (`submit_report`,
//!   the load's peer), default 2000.
//! - `TEARLINE_BENCH_BACKENDS`: `sqlite,postgres` (default), or one of them.
//! - `TEARLINE_BENCH_SAMPLES`: indexed listings per party, default 500.
//! - `TEARLINE_BENCH_PEER_SAMPLES`: scanned listings per party, default 100.
//! - `TEARLINE_BENCH_HTTP_REQUESTS`: listing requests to the server, default 210.
//!
//! The coalition: USA shares with ONE, HALF and ALL up to SECRET. Every report is
//! `REL TO USA, ALL`, every other one also HALF, one in a hundred also ONE: ALL may see every
//! report, HALF half of them, ONE 1%. A user of each party is cleared SECRET.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark whose setup fails should stop at once, saying where"
)]

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    env_number, machine, memory, ms, now, percentiles, postgres_backend, tearline, Backend, Cluster, Random, Server,
};
use indicatif::{ProgressBar, ProgressStyle};
use tearline_hub::Hub;
use tearline_model::{ReleaseFacts, User};
use tearline_policy::{Decider, Policies};
use tearline_store::{coalition_of, ReportSummary, Store};

const PAGE: usize = 100;
const BATCH: usize = 1000;

/// Whether a recipient may see report `i` (0-based).
type Sees = fn(usize) -> bool;

/// The recipients: name of the user, of its party in tables, and which reports it may see.
const RECIPIENTS: [(&str, &str, Sees); 3] = [
    ("one-analyst", "ONE (1%)", |i| i % 100 == 0),
    ("half-analyst", "HALF (50%)", |i| i % 2 == 0),
    ("all-analyst", "ALL (100%)", |_| true),
];

fn coalition(all_ceiling: &str) -> String {
    let mut text = String::new();
    for (code, name) in [("USA", "United States"), ("ONE", "One"), ("HALF", "Half"), ("ALL", "All")] {
        text.push_str(&format!("[[party]]\ncode = \"{code}\"\nname = \"{name}\"\n\n"));
    }
    for (to, ceiling) in [("ONE", "SECRET"), ("HALF", "SECRET"), ("ALL", all_ceiling)] {
        text.push_str(&format!(
            "[[agreement]]\nid = \"usa-{}\"\nfrom = \"USA\"\nto = [\"{to}\"]\nmax_classification = \"{ceiling}\"\n\n",
            to.to_lowercase()
        ));
    }
    for (user, party) in
        [("us-analyst", "USA"), ("one-analyst", "ONE"), ("half-analyst", "HALF"), ("all-analyst", "ALL")]
    {
        text.push_str(&format!("[[user]]\nname = \"{user}\"\nparty = \"{party}\"\nclearance = \"SECRET\"\n\n"));
    }
    text
}

/// Report `i`: an unclassified title, two paragraphs released to the recipients of report `i`.
fn report_text(i: usize) -> String {
    let mut rel_to = String::from("USA, ALL");
    if i % 2 == 0 {
        rel_to.push_str(", HALF");
    }
    if i % 100 == 0 {
        rel_to.push_str(", ONE");
    }
    format!(
        "TITLE: (U) Route clearance, sector {sector}, report {i}\nTOPICS: counter-ied\n\n\
         (S//REL TO {rel_to}) Devices found on route {route} were emplaced mostly between 0200 and 0500; \
         patrols that varied their start times met fewer of them.\n\n\
         (C//REL TO {rel_to}) Partner units should report suspected emplacement activity on route {route} \
         to the liaison cell within one hour.\n",
        sector = i % 97,
        route = i % 13,
    )
}

// ---------------------------------------------------------------------------------------------
// The measures

/// One recipient's listing figures.
struct Listing {
    party: &'static str,
    visible: usize,
    indexed: (Duration, Duration),
    indexed_samples: usize,
    peer: (Duration, Duration),
    peer_samples: usize,
    scanned_per_page: f64,
}

/// A backend's figures.
struct Figures {
    backend: &'static str,
    reports: usize,
    /// Reports loaded by `submit_reports`, and how long it took.
    batched: usize,
    load: Duration,
    /// Reports loaded by `submit_report` (the peer), and how long it took.
    singles: usize,
    single: Duration,
    size: u64,
    listings: Vec<Listing>,
    rebuild: Duration,
    http: (Duration, Duration),
    http_requests: usize,
    rss_idle_kb: u64,
    rss_kb: u64,
    hwm_kb: u64,
    cli_rebuild: Duration,
    cli_rebuild_hwm_kb: u64,
}

/// The page after `after` without the release index: reports in storage order, each decided for
/// `user` (its party's release entry, memoized per distinct marking, and its clearance), until
/// `limit` visible ones are found. Returns the page and how many reports it read.
async fn scanned_page(
    store: &dyn Store,
    decider: &Decider,
    user: &User,
    after: Option<&str>,
    limit: usize,
) -> (Vec<ReportSummary>, usize) {
    let mut found = Vec::with_capacity(limit);
    let mut scanned = 0;
    let mut cursor = after.map(str::to_string);
    while found.len() < limit {
        // Asks for as many reports as the share seen so far says are needed, plus a margin.
        let wanted = if scanned == 0 {
            limit
        } else if found.is_empty() {
            1000
        } else {
            ((limit - found.len()) * scanned).div_ceil(found.len()) * 11 / 10 + 1
        };
        let page = store.reports_page(cursor.as_deref(), wanted.clamp(1, 1000) as u32).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.id.clone());
        for report in page {
            scanned += 1;
            let visible = decider
                .release_entries(&ReleaseFacts::of_report(&report), [&user.party])
                .first()
                .is_some_and(|entry| entry.min_clearance <= user.clearance);
            if visible {
                found.push(ReportSummary {
                    id: report.id,
                    originator: report.originator,
                    title: report.title.text,
                    created: report.created,
                });
                if found.len() == limit {
                    break;
                }
            }
        }
    }
    (found, scanned)
}

/// The numbers of a run.
#[derive(Clone, Copy)]
struct Settings {
    reports: usize,
    /// Of which the last ones are submitted one at a time (the load's peer).
    singles: usize,
    samples: usize,
    peer_samples: usize,
    http: usize,
}

async fn run_backend(backend: Backend, settings: Settings) -> Figures {
    let Settings { reports, singles, samples, peer_samples, http } = settings;
    let name = backend.name();
    eprintln!("\n== {name}: {reports} reports");
    let sql_store = backend.open().await;
    let store: Arc<dyn Store> = Arc::new(sql_store.clone());
    tearline_hub::init(store.as_ref(), None).await.unwrap();
    let hub = Hub::open(store.clone(), None, now()).await.unwrap();
    hub.apply(&coalition("SECRET"), now()).await.unwrap();

    // Load, a batch at a time.
    let author = hub.user("us-analyst").await.unwrap();
    let bar = ProgressBar::new(reports as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap(),
    );
    bar.set_message(format!("{name}: loading"));
    let mut ids: Vec<String> = Vec::with_capacity(reports);
    let batched = reports - singles;
    let started = Instant::now();
    for first in (0..batched).step_by(BATCH) {
        let texts: Vec<String> = (first..batched.min(first + BATCH)).map(report_text).collect();
        ids.extend(hub.submit_reports(&author, &texts, now()).await.unwrap());
        bar.set_position(ids.len() as u64);
    }
    let load = started.elapsed();
    // The peer: the last reports one commit each, as `submit_report` stores them.
    let started = Instant::now();
    for i in batched..reports {
        ids.push(hub.submit_report(&author, &report_text(i), now()).await.unwrap().id);
        bar.set_position(ids.len() as u64);
    }
    let single = started.elapsed();
    bar.finish_and_clear();
    eprintln!(
        "{name}: loaded {batched} reports in batches of {BATCH} in {:.1} s ({:.0} reports/s), then {singles} one \
         commit each in {:.1} s ({:.0} reports/s)",
        load.as_secs_f64(),
        batched as f64 / load.as_secs_f64(),
        single.as_secs_f64(),
        singles as f64 / single.as_secs_f64()
    );
    assert_eq!(store.count_reports().await.unwrap(), reports as u64);
    let size = backend.size().await;
    backend.settle().await;

    // Listing: indexed, then the peer, at the same random cursors.
    let state = store.state().await.unwrap();
    let decider = Decider::new(&Policies::shipped().unwrap(), &coalition_of(&state), now());
    let mut random = Random(0x7EA2_11E5);
    let mut listings = Vec::new();
    for (user_name, party, sees) in RECIPIENTS {
        let user = hub.user(user_name).await.unwrap();
        let visible: Vec<usize> = (0..reports).filter(|i| sees(*i)).collect();
        // Cursors with a full page after them (all of them when there are not that many).
        let eligible = visible.len().saturating_sub(PAGE).max(1);
        let mut cursors: Vec<Option<usize>> = vec![None];
        cursors.extend((1..samples).map(|_| Some(visible[random.below(eligible)])));
        let cursor_id = |cursor: Option<usize>| cursor.map(|i| ids[i].as_str());
        let expected_first = |cursor: Option<usize>| match cursor {
            None => visible.first().copied(),
            Some(i) => visible.iter().copied().find(|v| *v > i),
        };

        for cursor in cursors.iter().take(20) {
            hub.list(&user, cursor_id(*cursor), PAGE as u32, now()).await.unwrap();
        }
        let mut indexed = Vec::with_capacity(cursors.len());
        let mut pages = Vec::with_capacity(cursors.len());
        for cursor in &cursors {
            let started = Instant::now();
            let page = hub.list(&user, cursor_id(*cursor), PAGE as u32, now()).await.unwrap();
            indexed.push(started.elapsed());
            assert_eq!(page.first().map(|s| s.id.as_str()), expected_first(*cursor).map(|i| ids[i].as_str()));
            pages.push(page);
        }

        let mut peer = Vec::with_capacity(peer_samples);
        let mut scanned_total = 0;
        for (cursor, indexed_page) in cursors.iter().zip(&pages).take(peer_samples) {
            let started = Instant::now();
            let (page, scanned) = scanned_page(store.as_ref(), &decider, &user, cursor_id(*cursor), PAGE).await;
            peer.push(started.elapsed());
            scanned_total += scanned;
            // The peer computes the same page.
            assert_eq!(page, *indexed_page, "the scan and the index disagree for {user_name}");
        }
        let listing = Listing {
            party,
            visible: visible.len(),
            indexed: percentiles(indexed),
            indexed_samples: cursors.len(),
            peer: percentiles(peer),
            peer_samples: peer_samples.min(cursors.len()),
            scanned_per_page: scanned_total as f64 / peer_samples.min(cursors.len()) as f64,
        };
        eprintln!(
            "{name}: {party}: indexed median {} p99 {} ({} pages); scan median {} ({:.0} reports read per page)",
            ms(listing.indexed.0),
            ms(listing.indexed.1),
            cursors.len(),
            ms(listing.peer.0),
            listing.scanned_per_page,
        );
        listings.push(listing);
    }

    // A whole-index rebuild: an agreement changes (ALL's ceiling), every report is decided again.
    let started = Instant::now();
    let applied = hub.apply(&coalition("TOP SECRET"), now()).await.unwrap();
    let rebuild = started.elapsed();
    assert_eq!(applied.changes.len(), 1, "{:?}", applied.changes);
    eprintln!("{name}: rebuilt the index of {reports} reports in {:.1} s", rebuild.as_secs_f64());

    // The server over the same store: memory, after listing requests over HTTP.
    let tokens: Vec<(String, Vec<usize>)> = {
        let mut tokens = Vec::new();
        for (user_name, _, sees) in RECIPIENTS {
            let token = hub.issue_token(user_name, now()).await.unwrap();
            tokens.push((token, (0..reports).filter(|i| sees(*i)).collect()));
        }
        tokens
    };
    // The server opens a store of its own.
    drop(hub);
    sql_store.close().await;
    let mut command = tearline(&backend);
    command.args(["serve", "--listen", "127.0.0.1:0"]);
    let mut server = Server::start(command);
    let rss_idle_kb = memory(server.pid()).0;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let mut times = Vec::with_capacity(http);
    for request in 0..http {
        let (token, visible) = &tokens[request % tokens.len()];
        let eligible = visible.len().saturating_sub(PAGE).max(1);
        let after = &ids[visible[random.below(eligible)]];
        let url = format!("{}/v1/reports?limit={PAGE}&after={after}", server.base);
        let started = Instant::now();
        let response = client.get(&url).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        times.push(started.elapsed());
        assert!(status.is_success(), "{url}: {status} {body}");
        assert!(body["reports"].as_array().is_some_and(|page| !page.is_empty()), "{url}: {body}");
    }
    let (rss_kb, hwm_kb) = memory(server.pid());
    server.kill();

    // A whole-index rebuild in a process of its own: `tearline apply` of the first coalition.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), coalition("SECRET")).unwrap();
    let mut command = tearline(&backend);
    command.arg("apply").arg(file.path());
    let (cli_rebuild, cli_rebuild_hwm_kb) = run_watching_memory(command);
    eprintln!(
        "{name}: `tearline apply` rebuilt the index in {:.1} s, VmHWM {cli_rebuild_hwm_kb} kB",
        cli_rebuild.as_secs_f64()
    );
    let http_times = percentiles(times);
    eprintln!(
        "{name}: server: {http} listings over HTTP, median {} p99 {}; VmRSS {rss_kb} kB, VmHWM {hwm_kb} kB",
        ms(http_times.0),
        ms(http_times.1)
    );
    backend.finish().await;
    Figures {
        backend: name,
        reports,
        batched,
        load,
        singles,
        single,
        size,
        listings,
        rebuild,
        http: http_times,
        http_requests: http,
        rss_idle_kb,
        rss_kb,
        hwm_kb,
        cli_rebuild,
        cli_rebuild_hwm_kb,
    }
}

/// Runs a command to its end, reading its VmHWM every 20 ms; the last reading is its peak but
/// for what it allocated in its last 20 ms.
fn run_watching_memory(mut command: Command) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut hwm_kb = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{command:?} failed: {status}");
            return (started.elapsed(), hwm_kb);
        }
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            if let Some(kb) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                hwm_kb = hwm_kb.max(kb);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn print_table(all: &[Figures]) {
    println!();
    println!("machine: {}", machine());
    println!();
    println!(
        "| backend | reports | submit_reports (batches of {BATCH}) | submit_report (peer: one commit each, the last ones) | batch / peer | database size | index rebuild (Hub::apply) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        let batch_rate = f.batched as f64 / f.load.as_secs_f64();
        let single_rate = f.singles as f64 / f.single.as_secs_f64();
        println!(
            "| {} | {} | {} in {:.1} s: {:.0} reports/s | {} in {:.1} s: {:.0} reports/s | {:.1}x | {:.0} MB | {:.1} s |",
            f.backend,
            f.reports,
            f.batched,
            f.load.as_secs_f64(),
            batch_rate,
            f.singles,
            f.single.as_secs_f64(),
            single_rate,
            batch_rate / single_rate,
            f.size as f64 / 1e6,
            f.rebuild.as_secs_f64()
        );
    }
    println!();
    println!(
        "| backend | recipient | sees | indexed median | indexed p99 | scan (peer) median | scan p99 | reports read per scanned page | scan / indexed |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        for l in &f.listings {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.1}x |",
                f.backend,
                l.party,
                l.visible,
                ms(l.indexed.0),
                ms(l.indexed.1),
                ms(l.peer.0),
                ms(l.peer.1),
                l.scanned_per_page,
                l.peer.0.as_secs_f64() / l.indexed.0.as_secs_f64()
            );
        }
    }
    if let Some(l) = all.first().and_then(|f| f.listings.first()) {
        println!();
        println!(
            "(indexed: {} pages of {PAGE} per recipient, the first page and random cursors; scan: the first {} of them)",
            l.indexed_samples, l.peer_samples
        );
    }
    println!();
    println!(
        "| backend | tearline serve: VmRSS after start | VmRSS after requests | VmHWM | HTTP listing median | HTTP p99 | tearline apply (rebuild): time | VmHWM |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        println!(
            "| {} | {:.1} MB | {:.1} MB | {:.1} MB | {} | {} ({} requests) | {:.1} s | {:.1} MB |",
            f.backend,
            f.rss_idle_kb as f64 / 1024.0,
            f.rss_kb as f64 / 1024.0,
            f.hwm_kb as f64 / 1024.0,
            ms(f.http.0),
            ms(f.http.1),
            f.http_requests,
            f.cli_rebuild.as_secs_f64(),
            f.cli_rebuild_hwm_kb as f64 / 1024.0
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Test runners list a bench target's tests (`--list`) or run it without `--bench`: it has none.
    if args.iter().any(|arg| arg == "--list") {
        return;
    }
    if !args.iter().any(|arg| arg == "--bench") {
        eprintln!("listing: a benchmark, not a test: run it with `cargo bench -p tearline --bench listing`");
        return;
    }
    let reports = env_number("TEARLINE_BENCH_REPORTS", 1_000_000);
    let settings = Settings {
        reports,
        singles: env_number("TEARLINE_BENCH_SINGLES", 2000).clamp(1, reports / 10),
        samples: env_number("TEARLINE_BENCH_SAMPLES", 500).max(2),
        peer_samples: env_number("TEARLINE_BENCH_PEER_SAMPLES", 100).max(1),
        http: env_number("TEARLINE_BENCH_HTTP_REQUESTS", 210).max(1),
    };
    let backends = std::env::var("TEARLINE_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    assert!(reports >= 200, "TEARLINE_BENCH_REPORTS must be at least 200 (ONE sees 1% of them)");
    eprintln!("machine: {}", machine());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let mut figures = Vec::new();
        for backend in backends.split(',').map(str::trim) {
            match backend {
                "sqlite" => {
                    let dir = tempfile::tempdir().unwrap();
                    figures.push(run_backend(Backend::Sqlite { dir }, settings).await);
                }
                "postgres" => {
                    let given = std::env::var("TEARLINE_BENCH_POSTGRES_URL").ok().filter(|url| !url.is_empty());
                    let cluster = given.is_none().then(Cluster::start);
                    let admin_url =
                        given.unwrap_or_else(|| cluster.as_ref().map(|c| c.url.clone()).unwrap_or_default());
                    let backend = postgres_backend(&admin_url).await;
                    figures.push(run_backend(backend, settings).await);
                    drop(cluster);
                }
                other => panic!("unknown backend `{other}` in TEARLINE_BENCH_BACKENDS (sqlite, postgres)"),
            }
        }
        print_table(&figures);
    });
}
