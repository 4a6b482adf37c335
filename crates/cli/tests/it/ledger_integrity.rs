//! The dissemination ledger's integrity against what can go wrong around it, through the real
//! binary and the real stores:
//!
//! - tampering with the stored log (an entry changed, removed, inserted, two swapped, a
//!   checkpoint altered) is found by `tearline ledger verify`, which names the entry index or
//!   checkpoint size, and undoing the tamper exactly makes the log verify again (both stores);
//! - a witness hub cosigns a hub's checkpoints while the log grows consistently, and reports a
//!   fork, with both signed checkpoints, when a copy of the hub's data serves a different log
//!   under the same key and origin;
//! - two `serve` processes on one PostgreSQL database append releases to one gapless sequence;
//! - kill -9 during concurrent releases leaves a log that verifies, with exactly one release
//!   entry per delivery row, holding the rendering digest of that row (both stores).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{AnyConnection, Connection, Row};

use crate::common::{client, Backend, Server, TestHub, COALITION};

// ---------------------------------------------------------------------------------------------
// The store, read and changed behind the hub's back.

/// The hub's store as an sqlx URL.
fn store_url(hub: &TestHub) -> String {
    match &hub.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", hub.data().join("tearline.db").display()),
    }
}

async fn connect(hub: &TestHub) -> AnyConnection {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(&store_url(hub)).await.unwrap()
}

async fn entries(conn: &mut AnyConnection) -> Vec<(i64, Vec<u8>)> {
    let rows = sqlx::query("SELECT idx, entry FROM ledger_entries ORDER BY idx").fetch_all(&mut *conn).await.unwrap();
    rows.iter().map(|row| (row.try_get::<i64, _>(0).unwrap(), row.try_get::<Vec<u8>, _>(1).unwrap())).collect()
}

async fn head_size(conn: &mut AnyConnection) -> u64 {
    let size: i64 =
        sqlx::query_scalar("SELECT size FROM ledger_head WHERE id = 1").fetch_one(&mut *conn).await.unwrap();
    u64::try_from(size).unwrap()
}

async fn checkpoints(conn: &mut AnyConnection) -> Vec<(i64, String)> {
    let rows =
        sqlx::query("SELECT size, note FROM ledger_checkpoints ORDER BY size").fetch_all(&mut *conn).await.unwrap();
    rows.iter().map(|row| (row.try_get::<i64, _>(0).unwrap(), row.try_get::<String, _>(1).unwrap())).collect()
}

async fn execute(conn: &mut AnyConnection, sql: &str, binds: &[i64]) -> u64 {
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    query.execute(&mut *conn).await.unwrap().rows_affected()
}

async fn set_entry(conn: &mut AnyConnection, index: i64, bytes: &[u8]) {
    let changed = sqlx::query("UPDATE ledger_entries SET entry = $1 WHERE idx = $2")
        .bind(bytes.to_vec())
        .bind(index)
        .execute(&mut *conn)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(changed, 1);
}

async fn insert_entry(conn: &mut AnyConnection, index: i64, bytes: &[u8]) {
    sqlx::query("INSERT INTO ledger_entries (idx, entry) VALUES ($1, $2)")
        .bind(index)
        .bind(bytes.to_vec())
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// The same entry with one hex digit of its rendering digest changed: still a canonical entry,
/// so that only the tree can tell.
fn altered(entry: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(entry).unwrap();
    let at = text.find("\"rendering\":\"sha256:").unwrap() + "\"rendering\":\"sha256:".len();
    let mut bytes = entry.to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    bytes
}

// ---------------------------------------------------------------------------------------------
// The hub, through its binary and its API.

/// `tearline ledger verify` succeeds over `size` entries.
fn verify_passes(hub: &TestHub, size: u64) {
    let verified = hub.ok(&["ledger", "verify"]);
    assert!(verified.starts_with(&format!("ledger verified: {size} entries")), "{verified}");
}

/// `tearline ledger verify` fails, saying `finding`.
fn verify_finds(hub: &TestHub, finding: &str) {
    let output = hub.run(&["ledger", "verify"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "verify passed a tampered log, expected: {finding}");
    assert!(
        stderr.contains(&format!("error: the ledger does not verify: {finding}")),
        "expected `{finding}`, got: {stderr}"
    );
}

/// A release answer's receipt: (first entry index, count, signed note).
type Receipt = (u64, u64, String);

/// GET `url` as `token` (a release); its receipt, or `None` when the server is gone.
async fn release(url: &str, token: &str) -> Option<Receipt> {
    let response = client().get(url).bearer_auth(token).send().await.ok()?;
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap().to_string();
    let (first, count) =
        (header("tearline-ledger-index").parse().unwrap(), header("tearline-ledger-count").parse().unwrap());
    let note = tearline_ledger::parse_receipt_header(&header("tearline-receipt")).unwrap();
    Some((first, count, note))
}

/// `tasks` concurrent clients, each making `each` releases of `url` in turn.
async fn releases(url: &str, token: &str, tasks: usize, each: usize) -> Vec<Receipt> {
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (url, token) = (url.to_string(), token.to_string());
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..each {
                got.push(release(&url, &token).await.unwrap());
            }
            got
        }));
    }
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap());
    }
    all
}

/// The checkpoint's text: origin, size and root lines.
fn checkpoint_text(note: &str) -> String {
    note.split("\n\n").next().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// 1. Tampering with the stored log.

/// An index from `target` on whose entries `from..=to` around it are pairwise distinct (two
/// releases of one rendering in one millisecond have the same bytes; a tamper must change
/// something).
fn distinct_window(log: &[(i64, Vec<u8>)], target: usize, before: usize, after: usize) -> usize {
    (target..log.len() - 2 - after)
        .find(|&k| {
            let window: BTreeSet<&Vec<u8>> = log[k - before..=k + after].iter().map(|(_, bytes)| bytes).collect();
            window.len() == before + after + 1
        })
        .unwrap()
}

async fn tampering_is_named(backend: Backend) {
    let hub = TestHub::new(backend);
    hub.apply(COALITION);
    let us = hub.token("us-analyst");
    let iq = hub.token("iq-analyst");
    let server = hub.serve(&["--checkpoint-interval", "0.05"]);
    let report = server.submit_report(&us).await;
    let url = server.url(&format!("/v1/reports/{report}"));
    releases(&url, &iq, 4, 40).await;
    // A checkpoint in the middle of the log, and more releases after it.
    let middle = hub.ok(&["ledger", "checkpoint"]);
    let middle_size: i64 = middle.lines().nth(1).unwrap().parse().unwrap();
    releases(&url, &iq, 4, 40).await;
    drop(server);
    hub.ok(&["ledger", "checkpoint"]);

    let mut conn = connect(&hub).await;
    let size = head_size(&mut conn).await;
    assert!(size >= 320, "only {size} entries");
    let log = entries(&mut conn).await;
    assert_eq!(log.len() as u64, size);
    assert!(log.iter().enumerate().all(|(i, (index, _))| *index == i as i64));
    let kept = checkpoints(&mut conn).await;
    assert!(kept.len() >= 2 && kept.iter().any(|(s, _)| *s == middle_size));
    assert!(middle_size < kept.last().unwrap().0);
    verify_passes(&hub, size);
    let n = log.len();

    // One entry's bytes changed.
    let k = distinct_window(&log, n / 2, 1, 1);
    set_entry(&mut conn, k as i64, &altered(&log[k].1)).await;
    verify_finds(&hub, &format!("Entry {k} differs from what the tree recorded."));
    set_entry(&mut conn, k as i64, &log[k].1).await;
    verify_passes(&hub, size);

    // One entry row deleted.
    let k = distinct_window(&log, n / 3, 1, 1);
    assert_eq!(execute(&mut conn, "DELETE FROM ledger_entries WHERE idx = $1", &[k as i64]).await, 1);
    verify_finds(&hub, &format!("Entry {k} is missing: the entries after it are absent or shifted down by one."));
    insert_entry(&mut conn, k as i64, &log[k].1).await;
    verify_passes(&hub, size);

    // One entry inserted: the rows from k up renumbered up by one (through negative indexes,
    // so that no statement meets the primary key half-way), a new row at k.
    let k = distinct_window(&log, 2 * n / 3, 1, 1);
    let extra = altered(&log[k].1);
    assert!(log.iter().all(|(_, bytes)| *bytes != extra));
    let moved = execute(&mut conn, "UPDATE ledger_entries SET idx = -idx - 1 WHERE idx >= $1", &[k as i64]).await;
    assert_eq!(moved, (n - k) as u64);
    assert_eq!(execute(&mut conn, "UPDATE ledger_entries SET idx = -idx WHERE idx < 0", &[]).await, moved);
    insert_entry(&mut conn, k as i64, &extra).await;
    verify_finds(
        &hub,
        &format!("An extra entry is at index {k}: the entries after it are shifted up by one, or it is beyond the log's size."),
    );
    assert_eq!(execute(&mut conn, "DELETE FROM ledger_entries WHERE idx = $1", &[k as i64]).await, 1);
    assert_eq!(execute(&mut conn, "UPDATE ledger_entries SET idx = 1 - idx WHERE idx > $1", &[k as i64]).await, moved);
    assert_eq!(execute(&mut conn, "UPDATE ledger_entries SET idx = -idx WHERE idx < 0", &[]).await, moved);
    assert_eq!(entries(&mut conn).await, log);
    verify_passes(&hub, size);

    // Two entries swapped (three entries apart).
    let i = distinct_window(&log, n / 4, 0, 3);
    let j = i + 3;
    set_entry(&mut conn, i as i64, &log[j].1).await;
    set_entry(&mut conn, j as i64, &log[i].1).await;
    verify_finds(&hub, &format!("Entries {i} and {j} are swapped."));
    set_entry(&mut conn, i as i64, &log[i].1).await;
    set_entry(&mut conn, j as i64, &log[j].1).await;
    verify_passes(&hub, size);

    // A checkpoint whose root line was changed: its signature no longer holds.
    let note = &kept.iter().find(|(s, _)| *s == middle_size).unwrap().1;
    let mut lines: Vec<String> = note.split('\n').map(str::to_string).collect();
    let first = if lines[2].starts_with('A') { "B" } else { "A" };
    lines[2].replace_range(0..1, first);
    let forged = lines.join("\n");
    assert_ne!(&forged, note);
    let update = "UPDATE ledger_checkpoints SET note = $1 WHERE size = $2";
    let changed = sqlx::query(update).bind(&forged).bind(middle_size).execute(&mut conn).await.unwrap();
    assert_eq!(changed.rows_affected(), 1);
    verify_finds(&hub, &format!("The checkpoint of size {middle_size} does not carry a valid signature of the log."));
    sqlx::query(update).bind(note).bind(middle_size).execute(&mut conn).await.unwrap();
    assert_eq!(checkpoints(&mut conn).await, kept);
    verify_passes(&hub, size);
    conn.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_named_on_sqlite() {
    tampering_is_named(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_is_named_on_postgres() {
    tampering_is_named(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// 2. A witness: consistent growth cosigned, a fork reported.

/// A SQLite hub made by `init --origin origin`; with init's output.
fn hub_with_origin(origin: &str) -> (TestHub, String) {
    let hub = TestHub { dir: tempfile::tempdir().unwrap(), database_url: None };
    let said = hub.ok(&["init", "--origin", origin]);
    (hub, said)
}

fn said(output: &str, label: &str) -> String {
    output.lines().find_map(|line| line.strip_prefix(label)).unwrap().trim().to_string()
}

/// `W ledger witness --watch url --once` that cosigned: the size it cosigned.
fn witness_cosigns(witness: &TestHub, url: &str, origin: &str) -> u64 {
    let output = witness.run(&["ledger", "witness", "--watch", url, "--once"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "witness failed: {stderr}");
    let line = stdout.lines().find_map(|l| l.strip_prefix(&format!("cosigned {origin} at "))).unwrap_or_else(|| {
        panic!("the witness did not cosign: stdout {stdout} stderr {stderr}");
    });
    line.strip_suffix(" entries").unwrap().parse().unwrap()
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &to.join(item.file_name()));
        } else {
            std::fs::copy(item.path(), to.join(item.file_name())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_cosigns_consistent_growth_and_reports_a_fork() {
    let origin = "a.example/log";
    let (a, _) = hub_with_origin(origin);
    let (w, w_said) = hub_with_origin("w.example/witness");
    let w_key = said(&w_said, "witness key (as a witness of other hubs):");
    assert!(w_key.starts_with("w.example/witness+"), "{w_key}");
    let args = ["--witness", w_key.as_str(), "--checkpoint-interval", "0.05"];
    // A witness key that is not one stops the start, naming it.
    let bad =
        a.command().args(["serve", "--listen", "127.0.0.1:0", "--witness", "w.example/witness"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("witness key"), "{}", String::from_utf8_lossy(&bad.stderr));
    // A hub that cannot be reached is a failed round, not a silent one.
    let unreachable = w.run(&["ledger", "witness", "--watch", "http://127.0.0.1:9", "--once"]);
    assert_eq!(unreachable.status.code(), Some(1), "{}", String::from_utf8_lossy(&unreachable.stderr));
    a.apply(COALITION);
    let us = a.token("us-analyst");
    let iq = a.token("iq-analyst");
    let mut server = a.serve(&args);
    let report = server.submit_report(&us).await;
    let view = format!("/v1/reports/{report}");

    // First sight: cosigned, and the cosignature is served with the checkpoint.
    let got = releases(&server.url(&view), &iq, 1, 3).await;
    let covered = got.iter().map(|(first, count, _)| first + count).max().unwrap();
    let note = server.checkpoint_covering(covered).await;
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(witness_cosigns(&w, &server.base, origin), size);
    let served = client().get(server.url("/ledger/checkpoint")).send().await.unwrap().text().await.unwrap();
    assert_eq!(checkpoint_text(&served), checkpoint_text(&note));
    assert!(served.lines().any(|l| l.starts_with("— w.example/witness ")), "{served}");
    tearline_ledger::verify_cosignature(&served, &w_key).unwrap();

    // The log grows; the witness checks consistency with what it kept, and cosigns again.
    let got = releases(&server.url(&view), &iq, 1, 4).await;
    let covered = got.iter().map(|(first, count, _)| first + count).max().unwrap();
    let note = server.checkpoint_covering(covered).await;
    let grown: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    assert!(grown > size);
    assert_eq!(witness_cosigns(&w, &server.base, origin), grown);
    let served = client().get(server.url("/ledger/checkpoint")).send().await.unwrap().text().await.unwrap();
    assert!(served.lines().nth(1).unwrap() == grown.to_string(), "{served}");
    tearline_ledger::verify_cosignature(&served, &w_key).unwrap();

    // A copy of A's data: hub B, same key, same origin, same log so far.
    server.kill();
    let b = TestHub { dir: tempfile::tempdir().unwrap(), database_url: None };
    copy_dir(&a.data(), &b.data());
    let server_a = a.serve(&args);
    let server_b = b.serve(&args);
    let identity = |s: &Server| {
        let url = s.url("/v1/ledger");
        async move { client().get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(identity(&server_a).await, identity(&server_b).await);

    // Each serves different releases past what the witness kept.
    let on_a = releases(&server_a.url(&view), &iq, 1, 2).await;
    let on_b = releases(&server_b.url("/v1/reports"), &iq, 1, 5).await;
    assert_eq!(on_a[0].0, grown);
    assert_eq!(on_b[0].0, grown);
    let note_a = server_a.checkpoint_covering(grown + 2).await;
    let note_b = server_b.checkpoint_covering(grown + 5).await;
    let size_a: u64 = note_a.lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(size_a, grown + 2);
    assert_ne!(note_a.lines().nth(2), note_b.lines().nth(2));

    // A's growth is consistent: cosigned.
    assert_eq!(witness_cosigns(&w, &server_a.base, origin), size_a);
    let kept_a = client().get(server_a.url("/ledger/checkpoint")).send().await.unwrap().text().await.unwrap();
    assert_eq!(checkpoint_text(&kept_a), checkpoint_text(&note_a));

    // B's is not: a fork, with both signed checkpoints.
    let note_b = client().get(server_b.url("/ledger/checkpoint")).send().await.unwrap().text().await.unwrap();
    let output = w.run(&["ledger", "witness", "--watch", &server_b.base, "--once"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stdout {} stderr {stderr}", String::from_utf8_lossy(&output.stdout));
    assert!(stderr.contains(&format!("FORK of log {origin}")), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let shown: Vec<(&str, &str)> = (0..lines.len().saturating_sub(2))
        .filter(|&i| lines[i] == origin)
        .map(|i| (lines[i + 1], lines[i + 2]))
        .collect();
    assert_eq!(shown.len(), 2, "{stderr}");
    assert_ne!(shown[0].1, shown[1].1, "{stderr}");
    assert!(stderr.contains(&checkpoint_text(&note_a)), "the checkpoint kept (A's) is shown: {stderr}");
    assert!(stderr.contains(&checkpoint_text(&note_b)), "the checkpoint seen (B's) is shown: {stderr}");
    // The fork was recorded, and B's checkpoint was not cosigned.
    let mut conn = connect(&w).await;
    let forks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM witness_forks").fetch_one(&mut conn).await.unwrap();
    assert_eq!(forks, 1);
    let kept: String = sqlx::query_scalar("SELECT note FROM witnessed_logs WHERE origin = $1")
        .bind(origin)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(checkpoint_text(&kept), checkpoint_text(&note_a));
    conn.close().await.unwrap();
    let served_b = client().get(server_b.url("/ledger/checkpoint")).send().await.unwrap().text().await.unwrap();
    assert!(tearline_ledger::verify_cosignature(&served_b, &w_key).is_err(), "{served_b}");
}

// ---------------------------------------------------------------------------------------------
// 3. Two servers on one PostgreSQL database.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_append_one_gapless_log() {
    let hub = TestHub::new(Backend::Postgres);
    hub.apply(COALITION);
    let us = hub.token("us-analyst");
    let iq = hub.token("iq-analyst");
    let servers = [hub.serve(&[]), hub.serve(&[])];
    let report = servers[0].submit_report(&us).await;
    let mut conn = connect(&hub).await;
    let before = head_size(&mut conn).await;
    let verifier: Value = client().get(servers[0].url("/v1/ledger")).send().await.unwrap().json().await.unwrap();
    let verifier = verifier["verifier_key"].as_str().unwrap().to_string();

    let mut handles = Vec::new();
    for n in 0..80 {
        let (url, iq) = (servers[n % 2].url(&format!("/v1/reports/{report}")), iq.clone());
        handles.push(tokio::spawn(async move { release(&url, &iq).await.unwrap() }));
    }
    let mut indexes = Vec::new();
    for handle in handles {
        let (first, count, note) = handle.await.unwrap();
        assert_eq!(count, 1);
        let receipt = tearline_ledger::verify_receipt(&note, &verifier).unwrap();
        assert_eq!((receipt.first, receipt.count), (first, count));
        indexes.push(first);
    }
    let distinct: BTreeSet<u64> = indexes.iter().copied().collect();
    assert_eq!(distinct.len(), 80, "two answers name one entry: {indexes:?}");
    assert_eq!(
        distinct,
        (before..before + 80).collect::<BTreeSet<u64>>(),
        "the releases do not fill {before}..{}",
        before + 80
    );
    assert_eq!(head_size(&mut conn).await, before + 80);
    for server in &servers {
        let note = server.checkpoint_covering(before + 80).await;
        assert_eq!(note.lines().nth(1).unwrap(), (before + 80).to_string());
    }
    drop(servers);

    // Entries 0..before record the apply; the rest the releases, one per receipt.
    let log = entries(&mut conn).await;
    assert_eq!(log.len() as u64, before + 80);
    for (index, bytes) in &log {
        let entry: Value = serde_json::from_slice(bytes).unwrap();
        if (*index as u64) < before {
            assert_eq!(entry["kind"], "coalition", "entry {index}");
        } else {
            assert_eq!(
                (entry["kind"].as_str(), entry["user"].as_str()),
                (Some("release"), Some("iq-analyst")),
                "entry {index}"
            );
        }
    }
    conn.close().await.unwrap();
    verify_passes(&hub, before + 80);
}

// ---------------------------------------------------------------------------------------------
// 4. kill -9 during releases.

async fn a_crash_leaves_one_entry_per_delivery(backend: Backend) {
    let hub = TestHub::new(backend);
    hub.apply(COALITION);
    let us = hub.token("us-analyst");
    let iq = hub.token("iq-analyst");
    let mut server = hub.serve(&["--checkpoint-interval", "0.05"]);
    let report = server.submit_report(&us).await;
    let acknowledged = Arc::new(Mutex::new(Vec::<u64>::new()));
    let mut clients = Vec::new();
    for n in 0..6 {
        // Views of the report and listings, each answer recording one rendering.
        let path = if n % 3 == 0 { "/v1/reports".to_string() } else { format!("/v1/reports/{report}") };
        let (url, iq, acknowledged) = (server.url(&path), iq.clone(), acknowledged.clone());
        clients.push(tokio::spawn(async move {
            for _ in 0..300 {
                let Some((first, count, _)) = release(&url, &iq).await else { break };
                acknowledged.lock().unwrap().extend(first..first + count);
            }
        }));
    }
    for _ in 0..600 {
        if acknowledged.lock().unwrap().len() >= 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    for handle in clients {
        handle.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 100, "only {} releases before the kill", acknowledged.len());
    assert!(acknowledged.len() < 1800, "the kill came after all the releases");

    let mut conn = connect(&hub).await;
    let size = head_size(&mut conn).await;
    verify_passes(&hub, size);
    let log: BTreeMap<i64, Value> = entries(&mut conn)
        .await
        .into_iter()
        .map(|(index, bytes)| (index, serde_json::from_slice(&bytes).unwrap()))
        .collect();
    let rows = sqlx::query("SELECT ledger_index, rendering, party, user_name, channel FROM deliveries ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let mut recorded = BTreeSet::new();
    for row in &rows {
        let index: Option<i64> = row.try_get(0).unwrap();
        let rendering: Option<Vec<u8>> = row.try_get(1).unwrap();
        let index = index.expect("a delivery without its ledger index");
        let entry = log.get(&index).unwrap_or_else(|| panic!("delivery's entry {index} is not in the log"));
        assert_eq!(entry["kind"], "release", "entry {index}");
        assert_eq!(entry["rendering"], format!("sha256:{}", hex::encode(rendering.unwrap())), "entry {index}");
        assert_eq!(entry["party"], row.try_get::<String, _>(2).unwrap(), "entry {index}");
        assert_eq!(entry["user"], row.try_get::<String, _>(3).unwrap(), "entry {index}");
        assert_eq!(entry["channel"], row.try_get::<String, _>(4).unwrap(), "entry {index}");
        assert!(recorded.insert(index), "two deliveries name entry {index}");
    }
    let releases: BTreeSet<i64> = log.iter().filter(|(_, e)| e["kind"] == "release").map(|(i, _)| *i).collect();
    assert_eq!(releases, recorded, "release entries and delivery rows differ");
    for index in acknowledged {
        assert!(recorded.contains(&(index as i64)), "acknowledged release {index} was lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_leaves_one_entry_per_delivery_on_sqlite() {
    a_crash_leaves_one_entry_per_delivery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_leaves_one_entry_per_delivery_on_postgres() {
    a_crash_leaves_one_entry_per_delivery(Backend::Postgres).await;
}
