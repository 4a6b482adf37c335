//! The TAXII 2.1 benchmark of issue 3: Tearline's TAXII interface side by side, in one run, with
//! the OASIS reference server (medallion 3.0.0, memory backend, from the repository's `.venv`)
//! and with a baseline that serves the same stored objects with no release check at all.
//!
//! `cargo bench -p tearline --bench taxii` (add `-- --million` for the 1,000,000-object case).
//!
//! Each server gets the same client code (reqwest, one request at a time, on 127.0.0.1):
//! 1. Ingest: `POST …/collections/<Coalition indicators>/objects/` as us-analyst, envelopes of
//!    1,000 STIX 2.1 indicators marked TLP:GREEN, each until its status is `complete` (polling
//!    the status endpoint when the answer is not complete yet) → objects per second. The bodies
//!    are serialised before the clock starts.
//! 2. Read back as iq-analyst (who receives them): `limit=1000`, following `next` → objects per
//!    second (the median of several reads). Medallion's read is bounded by a time budget; when it runs out the rate measured
//!    so far is reported, and said to be partial.
//! 3. Single-object reads of random loaded ids, `GET …/objects/?match[id]=<id>`, then
//!    `GET …/objects/<id>/` → per second, median, p99 (each series stops at a time budget).
//! 4. Resident memory of the server process (VmRSS and VmHWM from `/proc/PID/status`).
//!
//! The baseline: after Tearline's server is stopped, this process opens the same store and serves
//! `GET /api/collections/{collection}/objects/?limit=&next=` straight from
//! `Store::objects_page`: the stored STIX JSON in a TAXII envelope (`more`, `next`), with no
//! authentication, no release index and no rendering. The same reading client reads it; Tearline's
//! read rate is reported as a share of the baseline's.
//!
//! With `--million`: a fresh hub loaded with 1,000,000 indicators (TAXII POST in envelopes of
//! 1,000 when the rate measured on 10,000 says that takes under 15 minutes, else
//! `Hub::taxii_add` in process on the same store before `serve`, said so), then `match[id]` reads
//! of random ids and the server's memory.
//!
//! Settings (environment):
//! - `TEARLINE_BENCH_OBJECTS`: objects of the side-by-side comparison, default 10000.
//! - `TEARLINE_BENCH_READS`: complete paged reads of Tearline and of the baseline, each; the
//!   one of median time is reported, default 5.
//! - `TEARLINE_BENCH_MATCH_SAMPLES`: `match[id]` reads on Tearline, default 2000.
//! - `TEARLINE_BENCH_LOOKUP_BUDGET`: seconds after which each series of single-object reads
//!   stops, default 120.
//! - `TEARLINE_BENCH_MEDALLION_MATCH_SAMPLES`: on medallion, default 20.
//! - `TEARLINE_BENCH_MEDALLION_READ_BUDGET`: seconds for medallion's paged read, default 240.
//! - `TEARLINE_BENCH_MEDALLION`: `0` skips medallion.
//! - `TEARLINE_BENCH_POSTGRES_URL`: also run Tearline on PostgreSQL (a fresh database on this
//!   server; the role must be allowed to CREATE DATABASE).
//! - `TEARLINE_BENCH_MILLION_OBJECTS`: the size of the `--million` case, default 1000000.
//! - `TEARLINE_BENCH_MILLION_LOAD`: `taxii` or `library` forces how the million are loaded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark whose setup fails should stop at once, saying where"
)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use common::{env_number, machine, memory, ms, now, percentiles, postgres_backend, tearline, Backend, Random, Server};
use serde_json::{json, Value};
use tearline_hub::Hub;
use tearline_store::Store;

const COLLECTION: &str = "2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01";
const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const TAXII: &str = "application/taxii+json;version=2.1";
const ENVELOPE: usize = 1000;
const PAGE: usize = 1000;
/// Past this, the million are loaded in process rather than over TAXII.
const MILLION_TAXII_LIMIT: Duration = Duration::from_secs(15 * 60);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------------------------
// The objects

/// SplitMix64 of `x`: the bits of indicator ids.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Indicator `i`'s id: a version 4 UUID drawn from `i`, the same in every run.
fn indicator_id(i: usize) -> String {
    let (a, b) = (mix(2 * i as u64), mix(2 * i as u64 + 1));
    format!(
        "indicator--{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// Indicator `i`: a valid STIX 2.1 indicator marked TLP:GREEN.
fn indicator(i: usize) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": indicator_id(i),
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": format!("Benchmark indicator {i}"),
        "description": "A host seen in route clearance reporting.",
        "indicator_types": ["malicious-activity"],
        "pattern": format!("[ipv4-addr:value = '10.{}.{}.{}']", (i >> 16) & 255, (i >> 8) & 255, i & 255),
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": [TLP_GREEN],
    })
}

fn envelope(objects: std::ops::Range<usize>) -> Value {
    json!({ "objects": objects.map(indicator).collect::<Vec<_>>() })
}

// ---------------------------------------------------------------------------------------------
// The client

#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic(String, String),
    None,
}

/// A TAXII server as the client sees it.
struct Target {
    base: String,
    writer: Auth,
    reader: Auth,
}

impl Target {
    fn objects_url(&self) -> String {
        format!("{}/api/collections/{COLLECTION}/objects/", self.base)
    }
}

fn get(client: &reqwest::Client, url: &str, auth: &Auth) -> reqwest::RequestBuilder {
    authorised(client.get(url), auth).header("Accept", TAXII)
}

fn authorised(request: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
        Auth::None => request,
    }
}

async fn json_of(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {}", &text[..text.len().min(2000)]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", &text[..text.len().min(2000)]))
}

/// POSTs objects `range` in envelopes of [`ENVELOPE`], each until its status is complete.
/// Returns the time it took and how many statuses had to be polled.
async fn ingest(
    client: &reqwest::Client,
    target: &Target,
    range: std::ops::Range<usize>,
    label: &str,
) -> (Duration, usize) {
    let url = target.objects_url();
    let mut polled = 0;
    let total = range.len();
    // The bodies are made before the clock starts: the client's JSON building is not the server's
    // ingest, and on two cores it would run in series with it.
    let bodies: Vec<(usize, usize, String)> = range
        .clone()
        .step_by(ENVELOPE)
        .map(|first| {
            let last = range.end.min(first + ENVELOPE);
            (first, last, envelope(first..last).to_string())
        })
        .collect();
    let started = Instant::now();
    for (first, last, body) in bodies {
        let response = authorised(client.post(&url), &target.writer)
            .header("Accept", TAXII)
            .header("Content-Type", TAXII)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202, "POST {url}");
        let mut status = json_of(response, "POST objects").await;
        while status["status"] != "complete" {
            polled += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            let id = status["id"].as_str().unwrap().to_string();
            let status_url = format!("{}/api/status/{id}/", target.base);
            status = json_of(get(client, &status_url, &target.writer).send().await.unwrap(), "GET status").await;
        }
        assert_eq!(status["success_count"].as_u64(), Some((last - first) as u64), "{status}");
        let done = last - range.start;
        if done % 100_000 == 0 && total >= 100_000 {
            let rate = done as f64 / started.elapsed().as_secs_f64();
            eprintln!("{label}: {done} of {total} posted ({rate:.0} objects/s)");
        }
    }
    (started.elapsed(), polled)
}

/// A paged read.
struct Read {
    objects: usize,
    pages: usize,
    elapsed: Duration,
    /// Whether it read to the end (`more` false) rather than stopping at the budget.
    complete: bool,
}

impl Read {
    fn rate(&self) -> f64 {
        self.objects as f64 / self.elapsed.as_secs_f64()
    }
}

/// `reads` complete reads one after the other: the one of median time, and every time.
async fn read_median(
    client: &reqwest::Client,
    target: &Target,
    reads: usize,
    expected: &HashSet<String>,
) -> (Read, Vec<Duration>) {
    let mut all = Vec::with_capacity(reads);
    for _ in 0..reads {
        all.push(read_all(client, target, None, expected).await);
    }
    let times: Vec<Duration> = all.iter().map(|read| read.elapsed).collect();
    all.sort_by_key(|read| read.elapsed);
    let median = all.swap_remove(all.len() / 2);
    (median, times)
}

/// Reads every object of the collection as the reader, `limit=1000`, following `next`, within
/// `budget` when one is given (a page that would end after it is abandoned).
async fn read_all(
    client: &reqwest::Client,
    target: &Target,
    budget: Option<Duration>,
    expected: &HashSet<String>,
) -> Read {
    let url = target.objects_url();
    let mut next: Option<String> = None;
    let mut seen = HashSet::new();
    let mut pages = 0;
    let started = Instant::now();
    let complete = loop {
        let mut request = get(client, &url, &target.reader).query(&[("limit", PAGE.to_string())]);
        if let Some(next) = &next {
            request = request.query(&[("next", next)]);
        }
        if let Some(budget) = budget {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                break false;
            }
            request = request.timeout(left);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => break false,
            Err(e) => panic!("GET {url}: {e}"),
        };
        let body = match response.text().await {
            Ok(text) => serde_json::from_str::<Value>(&text).unwrap(),
            Err(e) if e.is_timeout() => break false,
            Err(e) => panic!("GET {url}: {e}"),
        };
        pages += 1;
        for object in body["objects"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let id = object["id"].as_str().unwrap();
            assert!(expected.contains(id), "read an object that was not loaded: {id}");
            seen.insert(id.to_string());
        }
        match body["next"].as_str() {
            Some(token) if body["more"] == true => next = Some(token.to_string()),
            _ => break true,
        }
    };
    let elapsed = match budget {
        Some(budget) if !complete => budget,
        _ => started.elapsed(),
    };
    if complete {
        assert_eq!(seen.len(), expected.len(), "the paged read did not return every loaded object");
    }
    Read { objects: seen.len(), pages, elapsed, complete }
}

/// Single-object reads of random loaded ids, one at a time.
struct Lookups {
    samples: usize,
    elapsed: Duration,
    median: Duration,
    p99: Duration,
    /// Whether it stopped at the time budget before the samples asked.
    cut: bool,
}

impl Lookups {
    fn rate(&self) -> f64 {
        self.samples as f64 / self.elapsed.as_secs_f64()
    }

    fn cell(&self) -> String {
        format!(
            "{} in {:.2} s: {:.1}/s{}",
            self.samples,
            self.elapsed.as_secs_f64(),
            self.rate(),
            if self.cut { " (stopped at the time budget)" } else { "" }
        )
    }
}

/// Which single-object request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Single {
    /// `GET …/objects/?match[id]=<id>`
    Match,
    /// `GET …/objects/<id>/`
    Path,
}

/// Up to `samples` single-object reads of random loaded ids, one at a time, stopping once
/// `budget` has passed.
async fn lookups(
    client: &reqwest::Client,
    target: &Target,
    single: Single,
    loaded: usize,
    samples: usize,
    budget: Duration,
    seed: u64,
) -> Lookups {
    let url = target.objects_url();
    let mut random = Random(seed);
    let mut times = Vec::with_capacity(samples);
    let started = Instant::now();
    let mut cut = false;
    for _ in 0..samples {
        if started.elapsed() > budget {
            cut = true;
            break;
        }
        let id = indicator_id(random.below(loaded));
        let begun = Instant::now();
        let request = match single {
            Single::Match => get(client, &url, &target.reader).query(&[("match[id]", id.as_str())]),
            Single::Path => get(client, &format!("{url}{id}/"), &target.reader),
        };
        let body = json_of(request.send().await.unwrap(), "GET one object").await;
        times.push(begun.elapsed());
        let objects = body["objects"].as_array().unwrap_or_else(|| panic!("{id}: {body}"));
        assert!(objects.len() == 1 && objects[0]["id"] == id.as_str(), "{id}: {body}");
    }
    let elapsed = started.elapsed();
    let samples = times.len();
    let (median, p99) = percentiles(times);
    Lookups { samples, elapsed, median, p99, cut }
}

// ---------------------------------------------------------------------------------------------
// The servers

/// One server's figures in the side-by-side comparison.
struct Figures {
    server: String,
    objects: usize,
    ingest: Duration,
    polled: usize,
    read: Read,
    lookups: Lookups,
    by_path: Lookups,
    rss_kb: u64,
    hwm_kb: u64,
    /// The baseline's read of the same store (Tearline only).
    baseline: Option<Read>,
    /// Every read's time (Tearline and the baseline: the median is reported).
    read_times: Vec<Duration>,
    baseline_times: Vec<Duration>,
}

fn seconds(times: &[Duration]) -> String {
    times.iter().map(|t| format!("{:.3} s", t.as_secs_f64())).collect::<Vec<_>>().join(", ")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(900)).build().unwrap()
}

/// Runs a `tearline` command to its end; its standard output.
fn run(mut command: Command) -> String {
    let output = command.stderr(Stdio::inherit()).output().unwrap();
    assert!(output.status.success(), "{command:?} failed: {}", output.status);
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// `tearline init`, `apply examples/coalition.toml` and tokens for us-analyst (writer) and
/// iq-analyst (reader).
fn set_up_hub(backend: &Backend) -> (String, String) {
    let mut command = tearline(backend);
    command.arg("init");
    run(command);
    let mut command = tearline(backend);
    command.arg("apply").arg(repository().join("examples/coalition.toml"));
    run(command);
    let token = |user: &str| {
        let mut command = tearline(backend);
        command.args(["token", "issue", "--user", user]);
        run(command)
    };
    (token("us-analyst"), token("iq-analyst"))
}

fn serve(backend: &Backend) -> Server {
    let mut command = tearline(backend);
    command.args(["serve", "--listen", "127.0.0.1:0"]);
    Server::start(command)
}

async fn run_tearline(
    backend: Backend,
    objects: usize,
    samples: usize,
    reads: usize,
    lookup_budget: Duration,
) -> Figures {
    let name = format!("Tearline ({})", backend.name());
    eprintln!("\n== {name}: {objects} objects");
    let (writer, reader) = set_up_hub(&backend);
    let mut server = serve(&backend);
    let target = Target { base: server.base.clone(), writer: Auth::Bearer(writer), reader: Auth::Bearer(reader) };
    let client = client();
    let expected: HashSet<String> = (0..objects).map(indicator_id).collect();

    let (ingest_time, polled) = ingest(&client, &target, 0..objects, &name).await;
    eprintln!("{name}: ingested {objects} in {:.2} s", ingest_time.as_secs_f64());
    let (read, read_times) = read_median(&client, &target, reads, &expected).await;
    eprintln!("{name}: read {} in {} pages, times {}", read.objects, read.pages, seconds(&read_times));
    let lookups = lookups(&client, &target, Single::Match, objects, samples, lookup_budget, 0x7A11_0001).await;
    eprintln!("{name}: match[id] median {} p99 {}", ms(lookups.median), ms(lookups.p99));
    let by_path = self::lookups(&client, &target, Single::Path, objects, samples, lookup_budget, 0x7A11_0005).await;
    eprintln!("{name}: objects/<id>/ median {} p99 {}", ms(by_path.median), ms(by_path.p99));
    let (rss_kb, hwm_kb) = memory(server.pid());
    server.kill();

    // The baseline: the same store, served with no release check.
    let store: Arc<dyn Store> = Arc::new(backend.open().await);
    let baseline = Baseline::start(store.clone()).await;
    let target = Target { base: baseline.base.clone(), writer: Auth::None, reader: Auth::None };
    let (baseline_read, baseline_times) = read_median(&client, &target, reads, &expected).await;
    eprintln!(
        "{name}: baseline read {} in {} pages, times {}",
        baseline_read.objects,
        baseline_read.pages,
        seconds(&baseline_times)
    );
    baseline.stop().await;
    backend.finish().await;
    Figures {
        server: name,
        objects,
        ingest: ingest_time,
        polled,
        read,
        lookups,
        by_path,
        rss_kb,
        hwm_kb,
        baseline: Some(baseline_read),
        read_times,
        baseline_times,
    }
}

/// The baseline server: `Store::objects_page` as a TAXII envelope, no release check.
struct Baseline {
    base: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Baseline {
    async fn start(store: Arc<dyn Store>) -> Baseline {
        let app = axum::Router::new()
            .route("/api/collections/{collection}/objects/", axum::routing::get(baseline_objects))
            .with_state(store);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Baseline { base, shutdown, task }
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.await.unwrap();
    }
}

async fn baseline_objects(
    State(store): State<Arc<dyn Store>>,
    Query(params): Query<HashMap<String, String>>,
) -> axum::response::Response {
    let limit = params.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(PAGE).clamp(1, PAGE);
    let after = params.get("next").and_then(|n| n.parse::<i64>().ok()).unwrap_or(-1);
    let mut page = store.objects_page(after, limit as u32 + 1).await.unwrap();
    let more = page.len() > limit;
    page.truncate(limit);
    let mut body = serde_json::Map::new();
    body.insert("more".into(), json!(more));
    if let (true, Some(last)) = (more, page.last()) {
        body.insert("next".into(), json!(last.seq.to_string()));
    }
    let objects: Vec<Value> = page.into_iter().map(|object| object.stix).collect();
    if !objects.is_empty() {
        body.insert("objects".into(), Value::Array(objects));
    }
    ([(CONTENT_TYPE, TAXII)], Value::Object(body).to_string()).into_response()
}

/// Medallion 3.0.0 (memory backend) as `tests/taxii/run_medallion.py` starts it, with
/// `max_page_size` raised from 100 to 1000 so that `limit=1000` pages are what they ask.
struct Medallion {
    wrapper: std::process::Child,
    pid: u32,
    base: String,
    tokens: HashMap<String, String>,
}

const MEDALLION_LAUNCHER: &str = r#"
import json, signal, sys, tempfile
sys.path.insert(0, sys.argv[1])
import run_medallion
shaped = run_medallion.config
def config(url, tokens):
    c = shaped(url, tokens)
    c["taxii"]["max_page_size"] = 1000
    return c
run_medallion.config = config
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
with tempfile.TemporaryDirectory(prefix="medallion-bench.") as workdir:
    proc, url, tokens = run_medallion.start(workdir)
    try:
        print(json.dumps({"url": url, "tokens": tokens, "pid": proc.pid}), flush=True)
        proc.wait()
    finally:
        proc.kill()
        proc.wait()
"#;

impl Medallion {
    fn python() -> PathBuf {
        repository().join(".venv/bin/python")
    }

    fn start() -> Medallion {
        let mut wrapper = Command::new(Self::python())
            .arg("-c")
            .arg(MEDALLION_LAUNCHER)
            .arg(repository().join("tests/taxii"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(wrapper.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let started: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("medallion did not start ({e}): {line}"));
        Medallion {
            pid: started["pid"].as_u64().unwrap() as u32,
            base: started["url"].as_str().unwrap().to_string(),
            tokens: serde_json::from_value(started["tokens"].clone()).unwrap(),
            wrapper,
        }
    }

    fn stop(mut self) {
        // Ends medallion (a process this bench started, through its launcher); the launcher
        // then exits.
        let _ = Command::new("kill").arg("-KILL").arg(self.pid.to_string()).status();
        let _ = self.wrapper.wait();
    }
}

async fn run_medallion(objects: usize, samples: usize, budget: Duration, lookup_budget: Duration) -> Figures {
    let name = "medallion 3.0.0 (memory)".to_string();
    eprintln!("\n== {name}: {objects} objects");
    let medallion = Medallion::start();
    let target = Target {
        base: medallion.base.clone(),
        writer: Auth::Basic("us-analyst".into(), medallion.tokens["us-analyst"].clone()),
        reader: Auth::Basic("iq-analyst".into(), medallion.tokens["iq-analyst"].clone()),
    };
    let client = client();
    let expected: HashSet<String> = (0..objects).map(indicator_id).collect();
    let (ingest_time, polled) = ingest(&client, &target, 0..objects, &name).await;
    eprintln!("{name}: ingested {objects} in {:.2} s ({polled} status polls)", ingest_time.as_secs_f64());
    let lookups = lookups(&client, &target, Single::Match, objects, samples, lookup_budget, 0x7A11_0002).await;
    eprintln!("{name}: match[id] median {} p99 {}", ms(lookups.median), ms(lookups.p99));
    let by_path = self::lookups(&client, &target, Single::Path, objects, samples, lookup_budget, 0x7A11_0006).await;
    eprintln!("{name}: objects/<id>/ median {} p99 {}", ms(by_path.median), ms(by_path.p99));
    let read = read_all(&client, &target, Some(budget), &expected).await;
    eprintln!(
        "{name}: read {} in {} pages in {:.2} s{}",
        read.objects,
        read.pages,
        read.elapsed.as_secs_f64(),
        if read.complete { "" } else { " (stopped at the time budget)" }
    );
    let (rss_kb, hwm_kb) = memory(medallion.pid);
    medallion.stop();
    Figures {
        server: name,
        objects,
        ingest: ingest_time,
        polled,
        read,
        lookups,
        by_path,
        rss_kb,
        hwm_kb,
        baseline: None,
        read_times: Vec::new(),
        baseline_times: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// A million

struct Million {
    backend: &'static str,
    objects: usize,
    /// How the objects were loaded, and how long it took.
    how: &'static str,
    load: Duration,
    lookups: Lookups,
    by_path: Lookups,
    /// VmRSS once loaded and serving, before the reads.
    rss_start_kb: u64,
    rss_kb: u64,
    hwm_kb: u64,
}

async fn run_million(
    backend: Backend,
    objects: usize,
    samples: usize,
    lookup_budget: Duration,
    ten_thousand_rate: Option<f64>,
) -> Million {
    let name = backend.name();
    let forced = std::env::var("TEARLINE_BENCH_MILLION_LOAD").unwrap_or_default();
    let over_taxii = match forced.as_str() {
        "taxii" => true,
        "library" => false,
        _ => ten_thousand_rate.is_none_or(|rate| Duration::from_secs_f64(objects as f64 / rate) <= MILLION_TAXII_LIMIT),
    };
    eprintln!(
        "\n== Tearline ({name}): {objects} objects, loaded {}",
        if over_taxii { "over TAXII" } else { "in process (Hub::taxii_add)" }
    );
    let (writer, reader) = set_up_hub(&backend);
    let client = client();
    let (how, load, server) = if over_taxii {
        let server = serve(&backend);
        let target = Target { base: server.base.clone(), writer: Auth::Bearer(writer.clone()), reader: Auth::None };
        let (load, _) = ingest(&client, &target, 0..objects, &format!("Tearline ({name})")).await;
        ("TAXII POST, envelopes of 1,000", load, server)
    } else {
        let store = backend.open().await;
        let hub = Hub::open(Arc::new(store.clone()), None, now()).await.unwrap();
        let user = hub.user("us-analyst").await.unwrap();
        let started = Instant::now();
        for first in (0..objects).step_by(ENVELOPE) {
            let envelope = envelope(first..objects.min(first + ENVELOPE));
            let status = hub.taxii_add(&user, COLLECTION, envelope, now()).await.unwrap();
            assert_eq!(status["status"], "complete");
            if (first + ENVELOPE) % 100_000 == 0 {
                eprintln!("{name}: {} of {objects} added in process", first + ENVELOPE);
            }
        }
        let load = started.elapsed();
        drop(hub);
        store.close().await;
        ("Hub::taxii_add in process, envelopes of 1,000", load, serve(&backend))
    };
    eprintln!(
        "{name}: loaded {objects} in {:.1} s ({:.0} objects/s)",
        load.as_secs_f64(),
        objects as f64 / load.as_secs_f64()
    );
    let mut server = server;
    let rss_start_kb = memory(server.pid()).0;
    let target = Target { base: server.base.clone(), writer: Auth::Bearer(writer), reader: Auth::Bearer(reader) };
    // A warm-up of 50 reads, then the measured ones.
    lookups(&client, &target, Single::Match, objects, 10, lookup_budget, 0x7A11_0003).await;
    let lookups = lookups(&client, &target, Single::Match, objects, samples, lookup_budget, 0x7A11_0004).await;
    let by_path = self::lookups(&client, &target, Single::Path, objects, samples, lookup_budget, 0x7A11_0007).await;
    let (rss_kb, hwm_kb) = memory(server.pid());
    eprintln!(
        "{name}: match[id] median {} p99 {}; VmRSS {rss_kb} kB, VmHWM {hwm_kb} kB",
        ms(lookups.median),
        ms(lookups.p99)
    );
    server.kill();
    backend.finish().await;
    Million { backend: name, objects, how, load, lookups, by_path, rss_start_kb, rss_kb, hwm_kb }
}

// ---------------------------------------------------------------------------------------------

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn print_tables(all: &[Figures], million: &[Million]) {
    println!();
    println!("machine: {}", machine());
    println!();
    println!(
        "| server | objects | ingest (POST, envelopes of {ENVELOPE}) | paged read (limit={PAGE}) | match[id] | median | p99 | objects/<id>/ | median | p99 | VmRSS | VmHWM |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for f in all {
        println!(
            "| {} | {} | {:.2} s: {:.0} objects/s{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.server,
            f.objects,
            f.ingest.as_secs_f64(),
            f.objects as f64 / f.ingest.as_secs_f64(),
            if f.polled > 0 { format!(" ({} status polls)", f.polled) } else { String::new() },
            read_cell(&f.read),
            f.lookups.cell(),
            ms(f.lookups.median),
            ms(f.lookups.p99),
            f.by_path.cell(),
            ms(f.by_path.median),
            ms(f.by_path.p99),
            mb(f.rss_kb),
            mb(f.hwm_kb),
        );
        if let Some(baseline) = &f.baseline {
            eprintln!("{}: read times {}; baseline {}", f.server, seconds(&f.read_times), seconds(&f.baseline_times));
            println!(
                "| baseline: same store, no release check | {} | | {} | | | | | | | | |",
                baseline.objects,
                read_cell(baseline)
            );
        }
    }
    println!();
    let medallion = all.iter().find(|f| f.baseline.is_none());
    for f in all.iter().filter(|f| f.baseline.is_some()) {
        let baseline = f.baseline.as_ref().unwrap();
        println!(
            "{}: read rate {:.2} of the baseline's (baseline / Tearline {:.2}x)",
            f.server,
            f.read.rate() / baseline.rate(),
            baseline.rate() / f.read.rate()
        );
        if let Some(m) = medallion {
            let read = if m.read.objects == 0 {
                // No page within the budget: medallion read under one page in that time.
                format!(
                    "over {:.0}x (medallion returned no page in {:.0} s, under {:.1} objects/s)",
                    f.read.rate() / (PAGE as f64 / m.read.elapsed.as_secs_f64()),
                    m.read.elapsed.as_secs_f64(),
                    PAGE as f64 / m.read.elapsed.as_secs_f64()
                )
            } else if m.read.complete {
                format!("{:.0}x", f.read.rate() / m.read.rate())
            } else {
                format!("{:.0}x (medallion's rate is from a partial read)", f.read.rate() / m.read.rate())
            };
            println!(
                "{}: against medallion: ingest {:.2}x, read {read}, match[id] median {:.0}x faster",
                f.server,
                (f.objects as f64 / f.ingest.as_secs_f64()) / (m.objects as f64 / m.ingest.as_secs_f64()),
                m.lookups.median.as_secs_f64() / f.lookups.median.as_secs_f64()
            );
        }
    }
    if !million.is_empty() {
        println!();
        println!(
            "| backend | objects | load | match[id] | median | p99 | objects/<id>/ | median | p99 | VmRSS before the reads (after the load) | VmRSS after reads | VmHWM |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for m in million {
            println!(
                "| Tearline ({}) | {} | {}: {:.1} s, {:.0} objects/s | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                m.backend,
                m.objects,
                m.how,
                m.load.as_secs_f64(),
                m.objects as f64 / m.load.as_secs_f64(),
                m.lookups.cell(),
                ms(m.lookups.median),
                ms(m.lookups.p99),
                m.by_path.cell(),
                ms(m.by_path.median),
                ms(m.by_path.p99),
                mb(m.rss_start_kb),
                mb(m.rss_kb),
                mb(m.hwm_kb),
            );
        }
    }
}

fn read_cell(read: &Read) -> String {
    format!(
        "{} in {} pages, {:.2} s: {:.0} objects/s{}",
        read.objects,
        read.pages,
        read.elapsed.as_secs_f64(),
        read.rate(),
        if read.complete { "" } else { " (partial: stopped at the time budget)" }
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        return;
    }
    if !args.iter().any(|arg| arg == "--bench") {
        eprintln!("taxii: a benchmark, not a test: run it with `cargo bench -p tearline --bench taxii`");
        return;
    }
    let million = args.iter().any(|arg| arg == "--million");
    let lookup_budget = Duration::from_secs(env_number("TEARLINE_BENCH_LOOKUP_BUDGET", 120) as u64);
    let reads = env_number("TEARLINE_BENCH_READS", 5).max(1);
    let objects = env_number("TEARLINE_BENCH_OBJECTS", 10_000);
    let samples = env_number("TEARLINE_BENCH_MATCH_SAMPLES", 2000).max(1);
    let medallion_samples = env_number("TEARLINE_BENCH_MEDALLION_MATCH_SAMPLES", 20).max(1);
    let budget = Duration::from_secs(env_number("TEARLINE_BENCH_MEDALLION_READ_BUDGET", 240) as u64);
    let with_medallion = std::env::var("TEARLINE_BENCH_MEDALLION").map_or(true, |v| v != "0");
    let million_objects = env_number("TEARLINE_BENCH_MILLION_OBJECTS", 1_000_000);
    let postgres = std::env::var("TEARLINE_BENCH_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    if with_medallion {
        assert!(
            Medallion::python().exists(),
            "{} is missing: scripts/test makes it (or TEARLINE_BENCH_MEDALLION=0)",
            Medallion::python().display()
        );
    }
    eprintln!("machine: {}", machine());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let mut figures = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        figures.push(run_tearline(Backend::Sqlite { dir }, objects, samples, reads, lookup_budget).await);
        if let Some(url) = &postgres {
            figures.push(run_tearline(postgres_backend(url).await, objects, samples, reads, lookup_budget).await);
        }
        if with_medallion {
            figures.push(run_medallion(objects, medallion_samples, budget, lookup_budget).await);
        }
        print_tables(&figures, &[]);
        let mut millions = Vec::new();
        if million {
            let rate = |server: &str| {
                figures.iter().find(|f| f.server.contains(server)).map(|f| f.objects as f64 / f.ingest.as_secs_f64())
            };
            let dir = tempfile::tempdir().unwrap();
            millions.push(
                run_million(Backend::Sqlite { dir }, million_objects, samples, lookup_budget, rate("SQLite")).await,
            );
            if let Some(url) = &postgres {
                let backend = postgres_backend(url).await;
                millions.push(run_million(backend, million_objects, samples, lookup_budget, rate("PostgreSQL")).await);
            }
            print_tables(&figures, &millions);
        }
    });
}
