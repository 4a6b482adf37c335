//! Deconfliction through the real server and CLI, on both stores: the demo's USA and RUS air
//! activities over the Euphrates valley collide; both parties get a notice holding only what the
//! brief allows (every field inspected); amendments and withdrawals end conflicts; validation,
//! limits and the rate limit answer clearly; the notice stream delivers new notices; the ledger
//! records registrations and conflicts under blinded references; sweeps reach the operators.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::common::{client, path_str, Backend, Server, TestHub, COALITION};

const USA_AIR: &str = include_str!("../../../../examples/activities/usa-air.json");
const RUS_AIR: &str = include_str!("../../../../examples/activities/rus-air.json");

/// The example activity moved to start `hours` from the next whole hour (the files carry fixed
/// dates; the server checks windows against its own clock).
fn activity(text: &str, hours: i64) -> Value {
    let mut body: Value = serde_json::from_str(text).unwrap();
    let start = OffsetDateTime::parse(body["start"].as_str().unwrap(), &Rfc3339).unwrap();
    let end = OffsetDateTime::parse(body["end"].as_str().unwrap(), &Rfc3339).unwrap();
    let usa: Value = serde_json::from_str(USA_AIR).unwrap();
    let anchor = OffsetDateTime::parse(usa["start"].as_str().unwrap(), &Rfc3339).unwrap();
    let next_hour = (OffsetDateTime::now_utc() + time::Duration::hours(1))
        .replace_minute(0)
        .unwrap()
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap();
    let shift = next_hour + time::Duration::hours(hours) - anchor;
    body["start"] = json!((start + shift).format(&Rfc3339).unwrap());
    body["end"] = json!((end + shift).format(&Rfc3339).unwrap());
    body
}

fn seconds(value: &Value) -> i64 {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap().unix_timestamp()
}

struct Scene {
    hub: TestHub,
    server: Server,
    tokens: std::collections::HashMap<&'static str, String>,
}

impl Scene {
    fn start(backend: Backend, coalition: &str) -> Scene {
        let hub = TestHub::new(backend);
        hub.apply(coalition);
        let tokens = ["us-analyst", "ru-analyst", "sy-analyst"].into_iter().map(|u| (u, hub.token(u))).collect();
        let server = hub.serve(&[]);
        Scene { hub, server, tokens }
    }

    async fn send(&self, method: reqwest::Method, user: &str, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut request = client().request(method, self.server.url(path)).bearer_auth(&self.tokens[user]);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn register(&self, user: &str, body: &Value) -> Value {
        let (status, view) = self.send(reqwest::Method::POST, user, "/v1/activities", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        view
    }

    async fn conflicts(&self, user: &str, query: &str) -> Vec<Value> {
        let response = client()
            .get(self.server.url(&format!("/v1/conflicts{query}")))
            .bearer_auth(&self.tokens[user])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/geo+json");
        let collection: Value = response.json().await.unwrap();
        assert_eq!(collection["type"], "FeatureCollection");
        collection["features"].as_array().unwrap().clone()
    }
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Everything a notice holds, checked field by field: nothing of the other side but the
/// overlap (cells, rounded window), a line reference, and its party only when it allows it.
fn check_notice(feature: &Value, own: &Value, other: &Value, other_party: Option<&str>) {
    assert_eq!(keys(feature), BTreeSet::from(["type", "id", "geometry", "properties"]));
    assert_eq!(feature["type"], "Feature");
    let properties = &feature["properties"];
    let mut expected =
        BTreeSet::from(["conflict", "line", "activity", "start", "end", "h3_resolution", "cells", "notified"]);
    if other_party.is_some() {
        expected.insert("other_party");
    }
    assert_eq!(keys(properties), expected);
    assert_eq!(properties["conflict"], true);
    assert_eq!(properties["activity"], own["id"]);
    assert_eq!(properties["other_party"].as_str(), other_party);
    assert!(properties["line"].as_str().unwrap().starts_with("DCL-"));
    assert!(feature["id"].as_str().unwrap().starts_with("conflict--"));

    // Cells: H3 at the configured resolution, one polygon each in the geometry.
    assert_eq!(properties["h3_resolution"], 6);
    let cells = properties["cells"].as_array().unwrap();
    assert!(!cells.is_empty());
    for cell in cells {
        let cell: h3o::CellIndex = cell.as_str().unwrap().parse().unwrap();
        assert_eq!(u8::from(cell.resolution()), 6);
    }
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    assert_eq!(feature["geometry"]["coordinates"].as_array().unwrap().len(), cells.len());

    // The window: the overlap of the two windows widened by 15 minutes, rounded out to 30.
    let (start, end) = (seconds(&properties["start"]), seconds(&properties["end"]));
    assert_eq!(start % 1800, 0);
    assert_eq!(end % 1800, 0);
    let overlap_start = seconds(&own["activity"]["start"]).max(seconds(&other["activity"]["start"])) - 900;
    let overlap_end = seconds(&own["activity"]["end"]).min(seconds(&other["activity"]["end"])) + 900;
    assert!(start <= overlap_start && overlap_start - start < 1800);
    assert!(end >= overlap_end && end - overlap_end < 1800);

    // Nothing else of the other activity appears anywhere in the notice.
    let text = feature.to_string();
    for secret in [
        other["id"].as_str().unwrap(),
        other["activity"]["reference"].as_str().unwrap(),
        other["activity"]["start"].as_str().unwrap(),
        other["activity"]["end"].as_str().unwrap(),
        "altitude",
        "\"air\"",
        "4500",
        "3000",
    ] {
        assert!(!text.contains(secret), "the notice discloses `{secret}`: {text}");
    }
}

async fn notices_disclose_only_the_overlap(backend: Backend) {
    let scene = Scene::start(backend, COALITION);
    let usa_body = activity(USA_AIR, 0);
    let rus_body = activity(RUS_AIR, 0);
    let usa = scene.register("us-analyst", &usa_body).await;
    assert_eq!(usa["status"], "active");
    assert_eq!(usa["conflicts"], json!([]));
    // As registered (numbers compared as numbers: 300 and 300.0 are one altitude).
    for field in ["geometry", "start", "end", "kind", "reference"] {
        assert_eq!(usa["activity"][field], usa_body[field], "{field}");
    }
    for bound in ["lower_m", "upper_m"] {
        assert_eq!(usa["activity"]["altitude"][bound].as_f64(), usa_body["altitude"][bound].as_f64());
    }
    let rus = scene.register("ru-analyst", &rus_body).await;
    assert_eq!(rus["conflicts"].as_array().unwrap().len(), 1);

    let usa_notices = scene.conflicts("us-analyst", "").await;
    let rus_notices = scene.conflicts("ru-analyst", "").await;
    assert_eq!((usa_notices.len(), rus_notices.len()), (1, 1));
    // USA lets itself be named ([deconfliction] identify); RUS does not.
    check_notice(&usa_notices[0], &usa, &rus, None);
    check_notice(&rus_notices[0], &rus, &usa, Some("USA"));
    assert_eq!(usa_notices[0]["id"], rus_notices[0]["id"]);
    assert_eq!(usa_notices[0]["properties"]["cells"], rus_notices[0]["properties"]["cells"]);
    assert!(scene.conflicts("sy-analyst", "").await.is_empty());

    // Another party's activity is not found, exactly like one that does not exist.
    let usa_id = usa["id"].as_str().unwrap();
    let foreign = scene.send(reqwest::Method::GET, "ru-analyst", &format!("/v1/activities/{usa_id}"), None).await;
    let missing = scene.send(reqwest::Method::GET, "ru-analyst", "/v1/activities/activity--nope", None).await;
    assert_eq!(foreign, missing);
    assert_eq!(foreign.0, StatusCode::NOT_FOUND);
    let withdraw_foreign =
        scene.send(reqwest::Method::DELETE, "ru-analyst", &format!("/v1/activities/{usa_id}"), None).await;
    assert_eq!(withdraw_foreign, missing);
    let (status, listed) = scene.send(reqwest::Method::GET, "ru-analyst", "/v1/activities", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["activities"].as_array().unwrap().len(), 1);
    assert_eq!(listed["activities"][0]["id"], rus["id"]);

    // USA moves its window past RUS's: the conflict ends for both, and stays in the history.
    let later = activity(USA_AIR, 12);
    let patch = json!({ "start": later["start"], "end": later["end"] });
    let (status, amended) =
        scene.send(reqwest::Method::PATCH, "us-analyst", &format!("/v1/activities/{usa_id}"), Some(&patch)).await;
    assert_eq!(status, StatusCode::OK, "{amended}");
    assert_eq!(amended["revision"], 2);
    assert_eq!(amended["activity"]["reference"], usa_body["reference"]);
    assert_eq!(amended["conflicts"], json!([]));
    assert!(scene.conflicts("us-analyst", "").await.is_empty());
    assert!(scene.conflicts("ru-analyst", "").await.is_empty());
    assert_eq!(scene.conflicts("ru-analyst", "?all=true").await.len(), 1);

    // Back into conflict, then RUS withdraws: no current conflict is left.
    let back = json!({ "start": usa_body["start"], "end": usa_body["end"] });
    let (_, amended) =
        scene.send(reqwest::Method::PATCH, "us-analyst", &format!("/v1/activities/{usa_id}"), Some(&back)).await;
    assert_eq!(amended["conflicts"].as_array().unwrap().len(), 1);
    let rus_id = rus["id"].as_str().unwrap();
    let (status, withdrawn) =
        scene.send(reqwest::Method::DELETE, "ru-analyst", &format!("/v1/activities/{rus_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(withdrawn["status"], "withdrawn");
    assert!(scene.conflicts("us-analyst", "").await.is_empty());
    let (status, message) =
        scene.send(reqwest::Method::PATCH, "ru-analyst", &format!("/v1/activities/{rus_id}"), Some(&back)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");

    // Registrations and conflicts are in the ledger, blinded: no id, no party, no place.
    let verified = scene.hub.ok(&["ledger", "verify"]);
    assert!(verified.contains("ledger verified"), "{verified}");
    let size: u64 = verified.split("ledger verified: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let entries = ledger_entries(&scene.server, size).await;
    let deconfliction: Vec<&Value> =
        entries.iter().filter(|e| e["kind"] == "activity" || e["kind"] == "conflict").collect();
    let kinds: Vec<(&str, &str)> =
        deconfliction.iter().map(|e| (e["kind"].as_str().unwrap(), e["change"].as_str().unwrap_or(""))).collect();
    assert_eq!(
        kinds,
        [
            ("activity", "registered"),
            ("activity", "registered"),
            ("conflict", ""),
            ("activity", "amended"),
            ("activity", "amended"),
            ("conflict", ""),
            ("activity", "withdrawn"),
        ]
    );
    for entry in deconfliction {
        let text = entry.to_string();
        for secret in [usa_id, rus_id, "USA", "RUS", "40.95", "OP VALLEY", "RU-AVN"] {
            assert!(!text.contains(secret), "a ledger entry discloses `{secret}`: {text}");
        }
    }
}

/// Every entry of the served log, once a checkpoint covers `size` of them.
async fn ledger_entries(server: &Server, size: u64) -> Vec<Value> {
    server.checkpoint_covering(size).await;
    let mut entries = Vec::new();
    for tile in 0..size.div_ceil(256) {
        let width = (size - tile * 256).min(256);
        for entry in server.entries_tile(tile, width).await {
            entries.push(serde_json::from_slice(&entry).unwrap());
        }
    }
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_disclose_only_the_overlap_sqlite() {
    notices_disclose_only_the_overlap(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_disclose_only_the_overlap_postgres() {
    notices_disclose_only_the_overlap(Backend::Postgres).await;
}

/// Clear answers for what is malformed, outside the limits, or too frequent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_refused_and_rate_limited_registrations() {
    let coalition = COALITION.replace("registrations_per_hour = 20", "registrations_per_hour = 3");
    let scene = Scene::start(Backend::Sqlite, &coalition);
    let mut open_ring = activity(USA_AIR, 0);
    open_ring["geometry"]["coordinates"][0].as_array_mut().unwrap().pop();
    let (status, body) = scene.send(reqwest::Method::POST, "us-analyst", "/v1/activities", Some(&open_ring)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "invalid");
    assert!(body["message"].as_str().unwrap().contains("not closed"), "{body}");

    let mut tiny = activity(USA_AIR, 0);
    tiny["geometry"] = json!({ "type": "Point", "coordinates": [41.0, 34.4] });
    tiny["radius_m"] = json!(500.0);
    let (status, body) = scene.send(reqwest::Method::POST, "us-analyst", "/v1/activities", Some(&tiny)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "refused");
    assert!(body["message"].as_str().unwrap().contains("km²"), "{body}");

    let (status, body) =
        scene.send(reqwest::Method::POST, "us-analyst", "/v1/activities", Some(&json!({"kind": "air"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Three an hour, amendments included; refused ones do not count.
    let first = scene.register("us-analyst", &activity(USA_AIR, 0)).await;
    scene.register("us-analyst", &activity(USA_AIR, 1)).await;
    let id = first["id"].as_str().unwrap();
    let (status, _) = scene
        .send(
            reqwest::Method::PATCH,
            "us-analyst",
            &format!("/v1/activities/{id}"),
            Some(&json!({"reference": "moved"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let response = client()
        .post(scene.server.url("/v1/activities"))
        .bearer_auth(&scene.tokens["us-analyst"])
        .json(&activity(USA_AIR, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    // Another party has its own allowance.
    scene.register("ru-analyst", &activity(RUS_AIR, 0)).await;
}

/// A notice reaches a party streaming `/v1/conflicts/stream` as soon as it is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_new_notices() {
    let scene = Scene::start(Backend::Sqlite, COALITION);
    scene.register("us-analyst", &activity(USA_AIR, 0)).await;
    let mut stream = client()
        .get(scene.server.url("/v1/conflicts/stream"))
        .bearer_auth(&scene.tokens["us-analyst"])
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let rus = scene.register("ru-analyst", &activity(RUS_AIR, 0)).await;
    let conflict = rus["conflicts"][0].as_str().unwrap().to_string();
    let mut received = String::new();
    let read = async {
        while !received.contains("\n\n") || !received.contains("data:") {
            let chunk = stream.chunk().await.unwrap().unwrap();
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read).await.unwrap();
    let event = received.split("\n\n").find(|e| e.contains("data:")).unwrap();
    assert!(event.lines().any(|l| l == "event: conflict"), "{event}");
    assert!(event.lines().any(|l| l.starts_with("id: ")), "{event}");
    let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let feature: Value = serde_json::from_str(data).unwrap();
    assert_eq!(feature["id"], conflict.as_str());
    assert!(feature["properties"].get("other_party").is_none());
}

/// The CLI: add, list, conflicts (text and GeoJSON), withdraw, and the operators' sweep flags.
#[test]
fn cli_activities_conflicts_and_sweeps() {
    let coalition = COALITION.replace("[deconfliction]\n", "[deconfliction]\nsweep = { registrations = 3 }\n");
    let hub = TestHub::new(Backend::Sqlite);
    hub.apply(&coalition);
    let usa = hub.write("usa.json", &activity(USA_AIR, 0).to_string());
    let rus = hub.write("rus.json", &activity(RUS_AIR, 0).to_string());
    let added = hub.ok(&["activity", "add", path_str(&usa), "--as", "us-analyst", "--format", "json"]);
    let usa_view: Value = serde_json::from_str(&added).unwrap();
    let text = hub.ok(&["activity", "add", path_str(&rus), "--as", "ru-analyst"]);
    assert!(text.contains("CONFLICT conflict--"), "{text}");

    let notices = hub.ok(&["conflicts", "--as", "us-analyst"]);
    assert!(notices.contains("call the deconfliction line quoting DCL-"), "{notices}");
    assert!(notices.contains("other party: not disclosed"), "{notices}");
    let geojson: Value =
        serde_json::from_str(&hub.ok(&["conflicts", "--as", "ru-analyst", "--format", "geojson"])).unwrap();
    assert_eq!(geojson["features"][0]["properties"]["other_party"], "USA");

    let listed = hub.ok(&["activity", "list", "--as", "us-analyst"]);
    assert!(listed.contains(usa_view["id"].as_str().unwrap()) && listed.contains("CONFLICT"), "{listed}");
    let id = usa_view["id"].as_str().unwrap();
    assert_eq!(hub.ok(&["activity", "withdraw", id, "--as", "us-analyst"]).trim(), format!("{id} withdrawn"));
    assert_eq!(hub.ok(&["conflicts", "--as", "ru-analyst"]).trim(), "No conflict.");

    // Three registrations of RUS at distinct positions in one region within a day: a sweep.
    assert_eq!(hub.ok(&["activity", "flags"]).trim(), "No sweeps flagged.");
    for (n, lon) in [(1, 41.6), (2, 42.2)] {
        let mut moved = activity(RUS_AIR, n);
        for corner in moved["geometry"]["coordinates"][0].as_array_mut().unwrap() {
            corner[0] = json!(corner[0].as_f64().unwrap() - 40.95 + lon);
        }
        let file = hub.write(&format!("probe{n}.json"), &moved.to_string());
        hub.ok(&["activity", "add", path_str(&file), "--as", "ru-analyst"]);
    }
    let flags = hub.ok(&["activity", "flags"]);
    assert!(flags.contains("RUS: 3 registrations or amendments at distinct positions"), "{flags}");
    let unknown = hub.run(&["activity", "add", path_str(&usa), "--as", "nobody"]);
    assert!(!unknown.status.success());
}
