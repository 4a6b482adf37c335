//! The dissemination ledger with the brief's coalition and report, on both stores: `iq-analyst`
//! fetches the report through REST and TAXII; each answer's receipt is signed, binds the digest
//! of exactly what was given, and its entry's inclusion proof verifies against a later signed
//! checkpoint under a small RFC 9162 verifier written here (independent of the hub's); later
//! checkpoints are consistent with earlier ones; `audit received` agrees with the log; and
//! `tearline ledger check` and `verify` accept it all and refuse a forged receipt.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{client, path_str, Backend, Server, TestHub, COALITION};

const TAXII: &str = "application/taxii+json;version=2.1";

// ---------------------------------------------------------------------------------------------
// RFC 9162 section 2.1, written from the RFC for these tests.

type Node = [u8; 32];

fn leaf_hash(entry: &[u8]) -> Node {
    Sha256::new().chain_update([0u8]).chain_update(entry).finalize().into()
}

fn node_hash(left: &Node, right: &Node) -> Node {
    Sha256::new().chain_update([1u8]).chain_update(left).chain_update(right).finalize().into()
}

/// RFC 9162 2.1.3.2: verifying an inclusion proof.
fn verify_inclusion(index: u64, size: u64, leaf: Node, proof: &[Node], root: &Node) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && &r == root
}

/// RFC 9162 2.1.4.2: verifying a consistency proof.
fn verify_consistency(first: u64, second: u64, first_root: &Node, second_root: &Node, proof: &[Node]) -> bool {
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    if first == 0 || first > second || proof.is_empty() {
        return false;
    }
    let mut path: Vec<Node> = proof.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && &fr == first_root && &sr == second_root
}

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

fn node(text: &str) -> Node {
    b64(text).try_into().unwrap()
}

/// JSON with keys sorted at every level, no whitespace: the rendering digest's form.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&map[*k]))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn rendering_digest(value: &Value) -> Node {
    Sha256::digest(canonical(value).as_bytes()).into()
}

// ---------------------------------------------------------------------------------------------
// The hub, as a client sees it.

struct Released {
    first: u64,
    count: u64,
    note: String,
    header: String,
    body: Value,
}

struct Ledger {
    hub: TestHub,
    server: Server,
    iq: String,
    liaison: String,
    report: String,
    verifier_key: String,
}

impl Ledger {
    async fn start(backend: Backend) -> Ledger {
        let hub = TestHub::new(backend);
        hub.apply(COALITION);
        let us = hub.token("us-analyst");
        let iq = hub.token("iq-analyst");
        let liaison = hub.token("us-liaison");
        let server = hub.serve(&["--checkpoint-interval", "0.1"]);
        let report = server.submit_report(&us).await;
        let identity: Value = client().get(server.url("/v1/ledger")).send().await.unwrap().json().await.unwrap();
        let verifier_key = identity["verifier_key"].as_str().unwrap().to_string();
        Ledger { hub, server, iq, liaison, report, verifier_key }
    }

    async fn release(&self, path: &str, accept: &str) -> Released {
        self.release_to(&self.iq, path, accept).await
    }

    async fn release_to(&self, token: &str, path: &str, accept: &str) -> Released {
        let response =
            client().get(self.server.url(path)).bearer_auth(token).header("accept", accept).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap().to_string();
        let (first, count, receipt) =
            (header("tearline-ledger-index"), header("tearline-ledger-count"), header("tearline-receipt"));
        let note = String::from_utf8(b64(&receipt)).unwrap();
        Released {
            first: first.parse().unwrap(),
            count: count.parse().unwrap(),
            note,
            header: receipt,
            body: response.json().await.unwrap(),
        }
    }

    async fn feed(&self) -> String {
        let response = client()
            .get(self.server.url("/api/collections/"))
            .bearer_auth(&self.iq)
            .header("accept", TAXII)
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        let feed = body["collections"].as_array().unwrap().iter().find(|c| c["title"] == "Released to IRQ").unwrap();
        feed["id"].as_str().unwrap().to_string()
    }

    /// The latest checkpoint once it covers `size` entries: (size, root, note).
    async fn checkpoint_covering(&self, size: u64) -> (u64, Node, String) {
        let note = self.server.checkpoint_covering(size).await;
        tearline_ledger::verify_checkpoint(&note, &self.verifier_key).unwrap();
        let lines: Vec<&str> = note.lines().collect();
        (lines[1].parse().unwrap(), node(lines[2]), note)
    }

    /// Entry `index`, from its C2SP entries tile (read and split here, not by the hub's code).
    async fn entry(&self, index: u64, size: u64) -> Vec<u8> {
        let tile = index / 256;
        let width = (size - tile * 256).min(256);
        self.server.entries_tile(tile, width).await[(index % 256) as usize].clone()
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = client().get(self.server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.json().await.unwrap()
    }

    /// Checks a release against the log: signed receipt, the entry it names, the entry's
    /// inclusion in a later checkpoint. Returns the entry.
    async fn check_release(&self, released: &Released, renderings: &[&Value], channel: &str) -> Value {
        assert_eq!(released.count, renderings.len() as u64);
        let receipt = tearline_ledger::verify_receipt(&released.note, &self.verifier_key).unwrap();
        assert_eq!((receipt.first, receipt.count), (released.first, released.count));
        assert_eq!((receipt.party.as_str(), receipt.user.as_str()), ("IRQ", "iq-analyst"));
        let digests: Vec<Node> = renderings.iter().map(|r| rendering_digest(r)).collect();
        let bound: Node = Sha256::digest(digests.concat()).into();
        assert_eq!(receipt.digest, bound, "the receipt binds the digests of what was given");

        let (size, root, _) = self.checkpoint_covering(released.first + released.count).await;
        let mut last = Value::Null;
        for (offset, digest) in digests.iter().enumerate() {
            let index = released.first + offset as u64;
            let bytes = self.entry(index, size).await;
            let proof = self.get_json(&format!("/v1/ledger/proof/inclusion?index={index}&size={size}")).await;
            let path: Vec<Node> =
                proof["proof"].as_array().unwrap().iter().map(|h| node(h.as_str().unwrap())).collect();
            assert_eq!(node(proof["root"].as_str().unwrap()), root);
            assert!(verify_inclusion(index, size, leaf_hash(&bytes), &path, &root), "entry {index} is in the tree");
            let mut forged = path.clone();
            forged[0][0] ^= 1;
            assert!(!verify_inclusion(index, size, leaf_hash(&bytes), &forged, &root));
            let entry: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(canonical(&entry).as_bytes(), &bytes[..], "entries are canonical JSON");
            assert_eq!(entry["kind"], "release");
            assert_eq!(entry["party"], "IRQ");
            assert_eq!(entry["user"], "iq-analyst");
            assert_eq!(entry["channel"], channel);
            assert_eq!(entry["rendering"], format!("sha256:{}", hex::encode(digest)));
            // Object versions are named by a keyed digest: the public log tells no one that an
            // object exists.
            assert!(!String::from_utf8_lossy(&bytes).contains(&self.report));
            last = entry;
        }
        last
    }
}

async fn receipts_prove_what_was_given(backend: Backend) {
    let ledger = Ledger::start(backend).await;

    // The apply was recorded before any release.
    let (size, _, _) = ledger.checkpoint_covering(1).await;
    let first: Value = serde_json::from_slice(&ledger.entry(0, size).await).unwrap();
    assert_eq!(first["kind"], "coalition");

    // REST: one report.
    let view = ledger.release(&format!("/v1/reports/{}", ledger.report), "application/json").await;
    let entry = ledger.check_release(&view, &[&view.body], "rest").await;
    // The title and the paragraphs IRQ gets; not the fourth paragraph (S//NF, portion 4).
    let portions = entry["portions"].as_array().unwrap();
    assert_eq!(portions.len(), 1 + view.body["portions"].as_array().unwrap().len());
    assert!(portions.contains(&Value::from(0)) && !portions.contains(&Value::from(4)));

    // REST: a listing, one entry per title shown.
    let listing = ledger.release("/v1/reports", "application/json").await;
    let titles: Vec<&Value> = listing.body["reports"].as_array().unwrap().iter().collect();
    ledger.check_release(&listing, &titles, "rest").await;

    // TAXII: the report object from the party's feed.
    let feed = ledger.feed().await;
    let object = ledger.release(&format!("/api/collections/{feed}/objects/{}/", ledger.report), TAXII).await;
    let objects: Vec<&Value> = object.body["objects"].as_array().unwrap().iter().collect();
    ledger.check_release(&object, &objects, "taxii").await;
    assert!(object.first > listing.first && listing.first > view.first);

    // Later checkpoints extend earlier ones.
    let (early, early_root, _) = ledger.checkpoint_covering(view.first + 1).await;
    for _ in 0..3 {
        ledger.release(&format!("/v1/reports/{}", ledger.report), "application/json").await;
    }
    let later = ledger.release(&format!("/v1/reports/{}", ledger.report), "application/json").await;
    let (size, root, _) = ledger.checkpoint_covering(later.first + 1).await;
    assert!(size > early);
    let proof = ledger.get_json(&format!("/v1/ledger/proof/consistency?from={early}&to={size}")).await;
    let path: Vec<Node> = proof["proof"].as_array().unwrap().iter().map(|h| node(h.as_str().unwrap())).collect();
    assert!(verify_consistency(early, size, &early_root, &root, &path));
    assert!(!verify_consistency(early, size, &root, &root, &path));
    // Proofs of trees the log does not hold (yet) are refused, not made up.
    for path in [
        format!("/v1/ledger/proof/inclusion?index=0&size={}", size + 1000),
        format!("/v1/ledger/proof/inclusion?index={size}&size={size}"),
        format!("/v1/ledger/proof/consistency?from=1&to={}", size + 1000),
        format!("/v1/ledger/proof/consistency?from={size}&to=1"),
    ] {
        let response = client().get(ledger.server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    }

    // `audit received` (the originator's view) agrees with the log, delivery by delivery.
    let audit = ledger.hub.ok(&["audit", "received", "--party", "IRQ", "--as", "us-analyst"]);
    let records: Vec<Value> = serde_json::from_str(&audit).unwrap();
    assert_eq!(records.len() as u64, 1 + listing.count + object.count + 4);
    for record in &records {
        let index = record["ledger_index"].as_u64().unwrap();
        let entry: Value = serde_json::from_slice(&ledger.entry(index, size).await).unwrap();
        assert_eq!(entry["kind"], "release");
        assert_eq!(entry["party"], record["party"]);
        assert_eq!(entry["user"], record["user"]);
        assert_eq!(entry["channel"], record["channel"]);
        assert_eq!(entry["rendering"], record["rendering"]);
        assert_eq!(entry["portions"], record["portions"]);
        assert_eq!(entry["version"], record["version"]);
    }

    // A client of the hub: the checkpoint, consistency with what it kept, and the receipts.
    let state = ledger.hub.dir.path().join("checked.json");
    let receipt = ledger.hub.write("receipt.txt", &view.header);
    let url = ledger.server.base.clone();
    let checked = ledger.hub.ok(&[
        "ledger",
        "check",
        "--url",
        &url,
        "--state",
        path_str(&state),
        "--receipt",
        path_str(&receipt),
    ]);
    assert!(checked.contains("entries") && checked.contains("receipt"), "{checked}");
    ledger.release(&format!("/v1/reports/{}", ledger.report), "application/json").await;
    ledger.checkpoint_covering(later.first + 2).await;
    let again = ledger.hub.ok(&["ledger", "check", "--url", &url, "--state", path_str(&state)]);
    assert!(again.contains("consistent with the checkpoint kept"), "{again}");
    // A receipt whose digest was changed does not verify.
    let forged = view.note.replacen("digest ", "digest A", 1);
    let forged = ledger.hub.write("forged.txt", &forged);
    let refused = ledger.hub.run(&[
        "ledger",
        "check",
        "--url",
        &url,
        "--state",
        path_str(&state),
        "--receipt",
        path_str(&forged),
    ]);
    assert!(!refused.status.success());

    // The operator's check of the whole stored log.
    let verified = ledger.hub.ok(&["ledger", "verify"]);
    assert!(verified.starts_with("ledger verified"), "{verified}");
}

/// Concurrent answers are committed together (group commit): each receipt still names the
/// entries of its own answer, whoever else was written in the same transaction.
async fn concurrent_answers_get_their_own_entries(backend: Backend) {
    let ledger = std::sync::Arc::new(Ledger::start(backend).await);
    let path = format!("/v1/reports/{}", ledger.report);
    let mut answers = tokio::task::JoinSet::new();
    for i in 0..60 {
        let (ledger, path) = (std::sync::Arc::clone(&ledger), path.clone());
        answers.spawn(async move {
            // Two users with different renderings of the same report, interleaved.
            let (token, user) = if i % 2 == 0 { (&ledger.iq, "iq-analyst") } else { (&ledger.liaison, "us-liaison") };
            let released = ledger.release_to(token, &path, "application/json").await;
            (user, released)
        });
    }
    let mut indexes = Vec::new();
    let mut answered = Vec::new();
    while let Some(done) = answers.join_next().await {
        answered.push(done.unwrap());
    }
    let last = answered.iter().map(|(_, r)| r.first).max().unwrap();
    let (size, _, _) = ledger.checkpoint_covering(last + 1).await;
    for (user, released) in &answered {
        assert_eq!(released.count, 1);
        let receipt = tearline_ledger::verify_receipt(&released.note, &ledger.verifier_key).unwrap();
        assert_eq!(receipt.user, *user);
        let entry: Value = serde_json::from_slice(&ledger.entry(released.first, size).await).unwrap();
        assert_eq!(entry["user"], *user, "entry {} is the answer's own", released.first);
        assert_eq!(entry["rendering"], format!("sha256:{}", hex::encode(rendering_digest(&released.body))));
        indexes.push(released.first);
    }
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 60);
    assert_eq!(indexes.last().unwrap() - indexes.first().unwrap(), 59, "one entry each, no gaps between them");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_answers_get_their_own_entries_sqlite() {
    concurrent_answers_get_their_own_entries(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_answers_get_their_own_entries_postgres() {
    concurrent_answers_get_their_own_entries(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_prove_what_was_given_sqlite() {
    receipts_prove_what_was_given(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_prove_what_was_given_postgres() {
    receipts_prove_what_was_given(Backend::Postgres).await;
}
