//! Leak attribution through the real server and CLI, on both stores: a report of `RUS` released
//! to the members of `BIC` reaches `IRQ` and `SYR` as different copies, each always the same;
//! a retyped copy posted to `/v1/trace` by the originator, or given to `tearline trace`, names
//! its recipient; the same leak traced by another party, or the original text, accuses no one;
//! and a STIX object fetched over TAXII is traced like text.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{client, path_str, Backend, Server, TestHub, COALITION};

const TAXII: &str = "application/taxii+json;version=2.1";
const WORKSHOP: &str = include_str!("../../../../examples/device-workshop.md");

/// The demo's long paragraph as a report of RUS, unclassified, so that RUS's agreement with
/// `BIC` releases it to IRQ, SYR and IRN.
fn russian_report() -> String {
    WORKSHOP.replace("(S//REL TO USA, IRQ)", "(U)")
}

fn original_paragraph() -> String {
    let report = russian_report();
    report.lines().find(|l| l.starts_with("(U)")).unwrap().trim_start_matches("(U) ").to_string()
}

/// What someone retyping a copy changes: case, line breaks, invisible characters.
fn retyped(text: &str) -> String {
    let visible: String = text.chars().filter(|c| !matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}')).collect();
    let words: Vec<String> = visible.split_whitespace().map(str::to_uppercase).collect();
    words.chunks(9).map(|line| line.join(" ")).collect::<Vec<_>>().join("\n")
}

struct Scene {
    hub: TestHub,
    server: Server,
    id: String,
    tokens: std::collections::HashMap<&'static str, String>,
}

impl Scene {
    async fn start(backend: Backend) -> Scene {
        let hub = TestHub::new(backend);
        hub.apply(COALITION);
        let tokens =
            ["ru-analyst", "iq-analyst", "sy-analyst", "us-analyst"].into_iter().map(|u| (u, hub.token(u))).collect();
        let server = hub.serve(&[]);
        let mut scene = Scene { hub, server, id: String::new(), tokens };
        let response = client()
            .post(scene.server.url("/v1/reports"))
            .bearer_auth(&scene.tokens["ru-analyst"])
            .header("content-type", "text/markdown")
            .body(russian_report())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        scene.id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        scene
    }

    /// The paragraph of the report as `user` receives it over REST.
    async fn paragraph(&self, user: &str) -> String {
        let response = client()
            .get(self.server.url(&format!("/v1/reports/{}", self.id)))
            .bearer_auth(&self.tokens[user])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{user}");
        let body: Value = response.json().await.unwrap();
        body["portions"][0]["text"].as_str().unwrap().to_string()
    }

    /// Posts `leak` to `/v1/trace` (with `query`, e.g. `?epsilon=…`) as `user`.
    async fn post_trace(&self, user: &str, query: &str, leak: &str) -> reqwest::Response {
        client()
            .post(self.server.url(&format!("/v1/trace{query}")))
            .bearer_auth(&self.tokens[user])
            .body(leak.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn trace(&self, user: &str, leak: &str) -> Value {
        let response = self.post_trace(user, "", leak).await;
        assert_eq!(response.status(), StatusCode::OK, "{user}");
        response.json().await.unwrap()
    }
}

fn accused(trace: &Value) -> Vec<&str> {
    trace["accused"].as_array().unwrap().iter().map(|a| a["party"].as_str().unwrap()).collect()
}

async fn copies_differ_and_name_their_recipient(backend: Backend) {
    let scene = Scene::start(backend).await;
    let iraqi = scene.paragraph("iq-analyst").await;
    let syrian = scene.paragraph("sy-analyst").await;
    let original = original_paragraph();
    assert_eq!(iraqi, scene.paragraph("iq-analyst").await, "the same recipient gets the same copy");
    assert_ne!(iraqi, syrian, "two recipients get different copies");
    assert_ne!(iraqi, original);
    assert_eq!(scene.paragraph("ru-analyst").await, original, "the originator reads its own text as written");
    for copy in [&iraqi, &syrian] {
        for kept in ["2026", "12", "15", "the partner unit has increased its patrols on the route"] {
            assert!(copy.contains(kept), "{kept:?} lost in {copy}");
        }
    }

    for (copy, party) in [(&iraqi, "IRQ"), (&syrian, "SYR")] {
        let trace = scene.trace("ru-analyst", &retyped(copy)).await;
        assert_eq!(trace["verdict"], "accused", "{trace}");
        assert_eq!(accused(&trace), [party], "{trace}");
        assert_eq!(trace["sources"][0]["object_id"], scene.id.as_str());
        assert!(trace["accused"][0]["bound"].as_f64().unwrap() <= trace["epsilon"].as_f64().unwrap());
        let points = trace["sources"][0]["points"].as_array().unwrap();
        assert!(points.iter().any(|p| p["read"] != p["original"]), "the evidence shows variants: {trace}");
    }

    // The originator's audit shows what each copy was: the same fingerprint at every delivery.
    let audit: Value = client()
        .get(scene.server.url("/v1/audit/received?party=IRQ"))
        .bearer_auth(&scene.tokens["ru-analyst"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let prints: Vec<&Value> = audit["received"].as_array().unwrap().iter().map(|r| &r["fingerprints"]["1"]).collect();
    assert_eq!(prints.len(), 2, "{audit}");
    assert!(prints[0].as_str().is_some_and(|p| p.len() >= 20), "{audit}");
    assert_eq!(prints[0], prints[1]);

    // A tighter bound asks for more evidence than a paragraph holds; a bound outside (0, 1) is
    // refused.
    let strict = scene.post_trace("ru-analyst", "?epsilon=1e-300", &retyped(&iraqi)).await;
    let strict: Value = strict.json().await.unwrap();
    assert_eq!((strict["verdict"].as_str(), strict["epsilon"].as_f64()), (Some("not enough evidence"), Some(1e-300)));
    let refused = scene.post_trace("ru-analyst", "?epsilon=2", &retyped(&iraqi)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Only the originator's users trace its texts: to anyone else the leak matches nothing.
    let elsewhere = scene.trace("iq-analyst", &retyped(&syrian)).await;
    assert_eq!(elsewhere["verdict"], "not enough evidence");
    assert!(elsewhere["sources"].as_array().unwrap().is_empty(), "{elsewhere}");
    // The original text is no recipient's copy.
    let unmarked = scene.trace("ru-analyst", &original).await;
    assert!(accused(&unmarked).is_empty(), "{unmarked}");
    // Too little text to trace, or too much to align, is refused, not answered with a verdict.
    for body in ["a few words".to_string(), "word ".repeat(50_001)] {
        let response = scene.post_trace("ru-analyst", "", &body).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    // A STIX object fetched over TAXII is traced through its text.
    let collections: Value = client()
        .get(scene.server.url("/api/collections/"))
        .bearer_auth(&scene.tokens["sy-analyst"])
        .header("accept", TAXII)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let feed = collections["collections"].as_array().unwrap().iter().find(|c| c["title"] == "Released to SYR").unwrap();
    let path = format!("/api/collections/{}/objects/{}/", feed["id"].as_str().unwrap(), scene.id);
    let response = client()
        .get(scene.server.url(&path))
        .bearer_auth(&scene.tokens["sy-analyst"])
        .header("accept", TAXII)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let envelope = response.text().await.unwrap();
    assert!(envelope.contains(&serde_json::to_string(&syrian).unwrap()[1..20]), "TAXII and REST give one copy");
    let trace = scene.trace("ru-analyst", &envelope).await;
    assert_eq!(accused(&trace), ["SYR"], "{trace}");

    // A recipient pasting its fingerprinted copy into a report of its own is still caught
    // copying: the copied-text check sees through the variations.
    let pasted = format!("TITLE: (U) Our own notes\n\n(U) {}\n", iraqi);
    let response = client()
        .post(scene.server.url("/v1/reports"))
        .bearer_auth(&scene.tokens["iq-analyst"])
        .header("content-type", "text/markdown")
        .body(pasted)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["derived_from"][0]["source"], scene.id.as_str(), "{body}");
    assert_eq!(body["derived_from"][0]["how"], "copied");

    // The CLI, on the same store.
    let file = scene.hub.write("leak.txt", &retyped(&iraqi));
    let output = scene.hub.ok(&["trace", path_str(&file), "--as", "ru-analyst", "--format", "json"]);
    let trace: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(accused(&trace), ["IRQ"]);
    let text = scene.hub.ok(&["trace", path_str(&file), "--as", "ru-analyst"]);
    assert!(text.starts_with("ACCUSED IRQ: score"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_differ_and_name_their_recipient_sqlite() {
    copies_differ_and_name_their_recipient(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_differ_and_name_their_recipient_postgres() {
    copies_differ_and_name_their_recipient(Backend::Postgres).await;
}
