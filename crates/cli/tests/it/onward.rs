//! Onward control over HTTP, on both stores, with the brief's coalition and report: re-sharing
//! refused and then allowed hop by hop, approvals, text copied without a source, recall, and the
//! originator's audit checked against a count the test keeps of what each user was served.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{client, Backend, Server, TestHub, COALITION, REPORT};

const TAXII: &str = "application/taxii+json;version=2.1";
/// "Coalition indicators" of `examples/coalition.toml`: every party reads, IRQ may write.
const INDICATORS: &str = "2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01";

/// The brief's coalition, with the USA->IRQ agreement allowing onward release or not, and with
/// `JOR` (not embargoed) in `BIC` or not.
fn coalition(onward: bool, with_jordan: bool) -> String {
    let mut text = COALITION.replace(
        "max_classification = \"SECRET\"\nonward = false",
        &format!("max_classification = \"SECRET\"\nonward = {onward}"),
    );
    assert!(text.contains(&format!("onward = {onward}")));
    if with_jordan {
        text = text.replace(
            "members = [\"IRQ\", \"SYR\", \"RUS\", \"IRN\"]",
            "members = [\"IRQ\", \"SYR\", \"RUS\", \"IRN\", \"JOR\"]",
        );
        text.push_str(
            "\n[[party]]\ncode = \"JOR\"\nname = \"Jordan\"\n\n[[user]]\nname = \"jo-analyst\"\nparty = \"JOR\"\nclearance = \"SECRET\"\n",
        );
    }
    text
}

/// What the test served to each party, to compare with the originator's audit: (party,
/// object) to the portions of each delivery.
#[derive(Default)]
struct Served(BTreeMap<(String, String), Vec<Vec<u64>>>);

struct Hub {
    hub: TestHub,
    server: Server,
    tokens: BTreeMap<String, String>,
    served: std::sync::Mutex<Served>,
}

impl Hub {
    fn token(&self, user: &str) -> &str {
        &self.tokens[user]
    }

    fn issue(&mut self, user: &str) {
        let token = self.hub.token(user);
        self.tokens.insert(user.to_string(), token);
    }

    async fn get(&self, user: &str, path: &str) -> reqwest::Response {
        client().get(self.server.url(path)).bearer_auth(self.token(user)).send().await.unwrap()
    }

    async fn post(&self, user: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let response =
            client().post(self.server.url(path)).bearer_auth(self.token(user)).json(&body).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn submit(&self, user: &str, text: &str) -> (StatusCode, Value) {
        let response = client()
            .post(self.server.url("/v1/reports"))
            .bearer_auth(self.token(user))
            .header("content-type", "text/markdown")
            .body(text.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// A user's view of a report: the portion marks shown, or `None` for a 404. Counted as
    /// served to the user's party.
    async fn view(&self, user: &str, party: &str, id: &str) -> Option<Vec<String>> {
        let response = self.get(user, &format!("/v1/reports/{id}")).await;
        if response.status() == StatusCode::NOT_FOUND {
            return None;
        }
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let marks: Vec<String> =
            body["portions"].as_array().unwrap().iter().map(|p| p["marking"].as_str().unwrap().to_string()).collect();
        self.served.lock().unwrap().0.entry((party.to_string(), id.to_string())).or_default().push(Vec::new());
        Some(marks)
    }

    /// Ids in a user's listing (each listed title is served too).
    async fn listing(&self, user: &str, party: &str) -> Vec<String> {
        let body: Value = self.get(user, "/v1/reports").await.json().await.unwrap();
        let ids: Vec<String> =
            body["reports"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
        let mut served = self.served.lock().unwrap();
        for id in &ids {
            served.0.entry((party.to_string(), id.clone())).or_default().push(vec![0]);
        }
        ids
    }

    /// The id of the party's own feed, as `user` lists it.
    async fn taxii_feed(&self, user: &str, party: &str) -> String {
        let body = self.taxii_get(user, party, "/api/collections/").await;
        let title = format!("Released to {party}");
        let feed = body["collections"].as_array().unwrap().iter().find(|c| c["title"] == title.as_str()).unwrap();
        feed["id"].as_str().unwrap().to_string()
    }

    /// A TAXII GET; every object in the answer is counted as served to `party` (a manifest's
    /// records, which have no `type`, are not objects).
    async fn taxii_get(&self, user: &str, party: &str, path: &str) -> Value {
        let response = client()
            .get(self.server.url(path))
            .bearer_auth(self.token(user))
            .header("accept", TAXII)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        let body: Value = response.json().await.unwrap();
        let mut served = self.served.lock().unwrap();
        for object in body.get("objects").and_then(Value::as_array).into_iter().flatten() {
            if object.get("type").is_none() {
                continue;
            }
            let id = object["id"].as_str().unwrap().to_string();
            served.0.entry((party.to_string(), id)).or_default().push(Vec::new());
        }
        body
    }

    /// Posts an envelope to a collection; the status.
    async fn taxii_post(&self, user: &str, collection: &str, envelope: Value) -> Value {
        let response = client()
            .post(self.server.url(&format!("/api/collections/{collection}/objects/")))
            .bearer_auth(self.token(user))
            .header("accept", TAXII)
            .header("content-type", TAXII)
            .body(envelope.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        response.json().await.unwrap()
    }

    /// How many deliveries of `id` the originator's audit shows for `party`.
    async fn audited(&self, originator_user: &str, party: &str, id: &str) -> usize {
        let body: Value =
            self.get(originator_user, &format!("/v1/audit/received?party={party}")).await.json().await.unwrap();
        body["received"].as_array().unwrap().iter().filter(|r| r["object"] == id).count()
    }
}

fn refusal_rules(outcome: &Value, party: &str, portion: u64) -> Vec<String> {
    let recipient = outcome["recipients"].as_array().unwrap().iter().find(|r| r["party"] == party).unwrap();
    let refused = recipient["refused"].as_array().unwrap().iter().find(|r| r["portion"] == portion);
    refused
        .map(|r| r["reasons"].as_array().unwrap().iter().map(|x| x["rule"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn released(outcome: &Value, party: &str) -> Vec<u64> {
    let recipient = outcome["recipients"].as_array().unwrap().iter().find(|r| r["party"] == party).unwrap();
    recipient["released"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect()
}

async fn onward_control(backend: Backend) {
    let hub = TestHub::new(backend);
    hub.apply(&coalition(false, false));
    let mut tokens = BTreeMap::new();
    for user in ["us-analyst", "us-liaison", "iq-analyst", "ru-analyst", "sy-analyst"] {
        tokens.insert(user.to_string(), hub.token(user));
    }
    let server = hub.serve(&[]);
    let mut h = Hub { hub, server, tokens, served: Default::default() };

    let (status, body) = h.submit("us-analyst", REPORT).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(body["derived_from"], json!([]));
    assert_eq!(h.view("iq-analyst", "IRQ", &id).await.unwrap().len(), 4);

    // No `onward` in USA->IRQ, ORCON, and USA's embargo: nothing goes on to BIC.
    let (status, outcome) = h.post("iq-analyst", "/v1/shares", json!({ "object": id, "to": ["BIC"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{outcome}");
    assert_eq!(outcome["outcome"], "refused");
    for party in ["SYR", "RUS", "IRN"] {
        assert!(released(&outcome, party).is_empty());
        let rules = refusal_rules(&outcome, party, 1);
        assert!(rules.contains(&"embargo".to_string()) && rules.contains(&"third-party-rule".to_string()), "{rules:?}");
        assert!(refusal_rules(&outcome, party, 3).contains(&"orcon-needs-approval".to_string()));
    }
    // Any one portion alone is refused the same way, and the CLI says so with a failure.
    let (status, _) = h.post("iq-analyst", "/v1/shares", json!({ "object": id, "to": ["RUS"], "portions": [1] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let cli = h.hub.run(&["share", &id, "--to", "BIC", "--as", "iq-analyst"]);
    assert!(!cli.status.success());
    assert!(String::from_utf8_lossy(&cli.stdout).contains("third-party-rule"));
    // A portion IRQ never received cannot be named; an object it cannot see does not exist.
    let (status, _) = h.post("iq-analyst", "/v1/shares", json!({ "object": id, "to": ["BIC"], "portions": [4] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = h.post("ru-analyst", "/v1/shares", json!({ "object": id, "to": ["BIC"] })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The originator sees every attempt, with its outcome, in JSON and CSV; IRQ's party cannot.
    let audit: Value = h.get("us-analyst", "/v1/audit/onward?party=IRQ").await.json().await.unwrap();
    let shares: Vec<&Value> = audit["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "share").collect();
    assert_eq!(shares.len(), 3);
    assert!(shares.iter().all(|e| e["detail"]["outcome"] == "refused" && e["object"] == id.as_str()));
    assert_eq!(shares[1]["detail"]["channel"], "rest");
    assert_eq!(shares[2]["detail"]["channel"], "cli");
    let csv = h.get("us-analyst", "/v1/audit/onward?party=IRQ&format=csv").await.text().await.unwrap();
    assert!(csv.starts_with("at,party,user,kind,object,version,detail\n"));
    assert_eq!(csv.lines().filter(|l| l.contains(",share,")).count(), 3);
    let theirs: Value = h.get("iq-analyst", "/v1/audit/onward?party=IRQ").await.json().await.unwrap();
    assert_eq!(theirs["events"], json!([]), "only the originator's users see attempts on its content");
    let cli = h.hub.ok(&["audit", "onward", "--party", "IRQ", "--as", "us-analyst", "--format", "csv"]);
    assert_eq!(cli.lines().filter(|l| l.contains(",share,")).count(), 3);

    // Onward allowed and JOR in BIC: the (U) portions go on to JOR, never to SYR, RUS or IRN;
    // ORCON still needs the originator's approval.
    h.hub.apply(&coalition(true, true));
    h.issue("jo-analyst");
    assert_eq!(h.view("jo-analyst", "JOR", &id).await, None);
    let (status, outcome) = h.post("iq-analyst", "/v1/shares", json!({ "object": id, "to": ["BIC"] })).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["outcome"], "partly released");
    assert_eq!(released(&outcome, "JOR"), [0, 1]);
    let orcon = refusal_rules(&outcome, "JOR", 3);
    assert!(orcon.contains(&"orcon-needs-approval".to_string()) && orcon.contains(&"not-in-rel-to".to_string()));
    for party in ["SYR", "RUS", "IRN"] {
        assert!(released(&outcome, party).is_empty());
        assert!(refusal_rules(&outcome, party, 1).contains(&"embargo".to_string()));
    }
    assert_eq!(h.view("jo-analyst", "JOR", &id).await.unwrap(), ["U"]);
    for (user, party) in [("ru-analyst", "RUS"), ("sy-analyst", "SYR")] {
        assert_eq!(h.view(user, party, &id).await, None);
        assert!(!h.listing(user, party).await.contains(&id));
    }
    // JOR has no agreement of USA's letting it pass anything on.
    let (status, outcome) = h.post("jo-analyst", "/v1/shares", json!({ "object": id, "to": ["IRQ", "RUS"] })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{outcome}");

    // Approvals: an ORCON portion with no REL TO goes on to JOR once USA approves.
    let crossing =
        "TITLE: (U) Crossing points\n\n(U) The crossings are open.\n\n(C//OC) The northern crossing closes at dusk.\n";
    let (_, body) = h.submit("us-analyst", crossing).await;
    let crossing_id = body["id"].as_str().unwrap().to_string();
    let (_, outcome) = h.post("iq-analyst", "/v1/shares", json!({ "object": crossing_id, "to": ["JOR"] })).await;
    assert_eq!(released(&outcome, "JOR"), [0, 1]);
    assert_eq!(refusal_rules(&outcome, "JOR", 2), ["orcon-needs-approval"]);
    assert_eq!(h.view("jo-analyst", "JOR", &crossing_id).await.unwrap(), ["U"]);
    let (status, body) = h
        .post("iq-analyst", "/v1/approvals", json!({ "object": crossing_id, "recipient": "JOR", "reason": "liaison" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let approval = body["approvals"][0]["id"].as_str().unwrap().to_string();
    let pending: Value = h.get("us-analyst", "/v1/approvals?pending=true").await.json().await.unwrap();
    assert_eq!(pending["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(pending["approvals"][0]["recipient"], "JOR");
    let (status, _) = h.post("iq-analyst", &format!("/v1/approvals/{approval}/approve"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the requester cannot approve its own request");
    let (status, _) = h.post("ru-analyst", &format!("/v1/approvals/{approval}/approve"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = h.post("us-analyst", &format!("/v1/approvals/{approval}/approve"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(h.view("jo-analyst", "JOR", &crossing_id).await.unwrap(), ["U", "C//OC"]);
    // The originator's explanation says how JOR has it: passed on by IRQ, the ORCON portion with
    // USA's approval; RUS, embargoed, has none of it.
    let explained: Value =
        h.get("us-analyst", &format!("/v1/reports/{crossing_id}/explain")).await.json().await.unwrap();
    let party = |code: &str| explained["parties"].as_array().unwrap().iter().find(|p| p["party"] == code).unwrap();
    let jordan = party("JOR");
    assert_eq!(jordan["visible"], true, "{jordan}");
    for portion in jordan["portions"].as_array().unwrap() {
        assert_eq!(
            (portion["shown"].as_bool(), portion["reasons"][0]["rule"].as_str()),
            (Some(true), Some("passed-on"))
        );
        assert!(portion["reasons"][0]["explanation"].as_str().unwrap().starts_with("passed on by IRQ"), "{jordan}");
    }
    let orcon = jordan["portions"][2]["reasons"][0]["explanation"].as_str().unwrap();
    assert!(orcon.ends_with("with the approval of USA for JOR"), "{orcon}");
    let russia = party("RUS");
    assert_eq!(russia["visible"], false, "{russia}");
    assert!(russia["portions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["shown"] == false && p["reasons"][0]["rule"] != "passed-on"));
    // And the recipient's user is told the same.
    let told = h.hub.ok(&["explain", &crossing_id, "--as", "jo-analyst"]);
    assert!(told.contains("visible") && told.matches("passed on by IRQ").count() == 3, "{told}");
    // The approval covers JOR alone, and cannot be decided twice.
    let (status, _) = h.post("us-analyst", &format!("/v1/approvals/{approval}/deny"), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, body) = h.post("iq-analyst", "/v1/approvals", json!({ "object": crossing_id, "recipient": "RUS" })).await;
    let to_russia = body["approvals"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = h.post("us-analyst", &format!("/v1/approvals/{to_russia}/deny"), json!({})).await;
    assert_eq!((status, body["status"].clone()), (StatusCode::OK, json!("denied")));

    // Over TAXII: IRQ posts a report of USA's it received, unchanged, into a collection: it is
    // passed on to the collection's readers under the same rules. A changed copy is refused.
    let (_, body) = h.submit("us-analyst", "TITLE: (U) Market days\n\n(U) Markets open on Fridays.\n").await;
    let market = body["id"].as_str().unwrap().to_string();
    let feed = h.taxii_feed("iq-analyst", "IRQ").await;
    let copy = h.taxii_get("iq-analyst", "IRQ", &format!("/api/collections/{feed}/objects/?match[id]={market}")).await;
    let copy = copy["objects"][0].clone();
    assert_eq!(copy["id"], market.as_str());
    let in_indicators = format!("/api/collections/{INDICATORS}/objects/?match[id]={market}");
    let listed = |body: Value| body.get("objects").map_or(0, |o| o.as_array().unwrap().len());
    assert_eq!(listed(h.taxii_get("jo-analyst", "JOR", &in_indicators).await), 0);
    let status = h.taxii_post("iq-analyst", INDICATORS, json!({ "objects": [copy.clone()] })).await;
    assert_eq!((status["success_count"].as_u64(), status["failure_count"].as_u64()), (Some(1), Some(0)), "{status}");
    assert_eq!(h.view("jo-analyst", "JOR", &market).await.unwrap(), ["U"]);
    assert_eq!(h.view("ru-analyst", "RUS", &market).await, None);
    // The collection it was posted into lists it, to the readers it was passed on to only.
    assert_eq!(listed(h.taxii_get("jo-analyst", "JOR", &in_indicators).await), 1);
    let manifest = h.taxii_get("jo-analyst", "JOR", &format!("/api/collections/{INDICATORS}/manifest/")).await;
    assert!(manifest["objects"].as_array().unwrap().iter().any(|o| o["id"] == market.as_str()), "{manifest}");
    assert_eq!(listed(h.taxii_get("ru-analyst", "RUS", &in_indicators).await), 0);
    let other = format!("/api/collections/6e0a4b8c-1f2d-4e3a-8b5c-9d7e2f1a0c02/objects/?match[id]={market}");
    assert_eq!(listed(h.taxii_get("us-analyst", "USA", &other).await), 0, "only where it was posted");
    let mut changed = copy.clone();
    changed["name"] = json!("Market days, amended");
    let status = h.taxii_post("iq-analyst", INDICATORS, json!({ "objects": [changed] })).await;
    assert_eq!(status["failure_count"], 1, "{status}");
    let audit: Value = h.get("us-analyst", "/v1/audit/onward?party=IRQ").await.json().await.unwrap();
    assert!(audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["object"] == market.as_str() && e["detail"]["channel"] == "taxii"));

    // A STIX object referencing USA's report is derived from it: it carries the restrictions of
    // what IRQ received (S//REL TO USA, IRQ among them), so JOR and RUS do not get it.
    let note: Value = json!({
        "type": "note", "spec_version": "2.1", "id": "note--6b1e4f1a-2f7c-4f0e-9a6b-1c2d3e4f5a6b",
        "created": "2026-11-27T10:00:00.000Z", "modified": "2026-11-27T10:00:00.000Z",
        "content": "Patrols should vary their start times.", "object_refs": [id],
    });
    let status = h.taxii_post("iq-analyst", INDICATORS, json!({ "objects": [note] })).await;
    assert_eq!(status["success_count"], 1, "{status}");
    let message = status["successes"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(&format!("derived from {id}")), "{status}");
    for (user, party) in [("jo-analyst", "JOR"), ("ru-analyst", "RUS")] {
        let feed = h.taxii_feed(user, party).await;
        let seen = h.taxii_get(user, party, &format!("/api/collections/{feed}/objects/?match[type]=note")).await;
        assert!(seen.get("objects").is_none_or(|o| o.as_array().unwrap().is_empty()), "{user}: {seen}");
    }
    let feed = h.taxii_feed("us-analyst", "USA").await;
    let seen = h.taxii_get("us-analyst", "USA", &format!("/api/collections/{feed}/objects/?match[type]=note")).await;
    assert_eq!(seen["objects"].as_array().unwrap().len(), 1, "USA is an originator of the note");
    // Its rendering shows the restriction it inherited, under a definition served with it.
    let refs: Vec<String> = seen["objects"][0]["object_marking_refs"]
        .as_array()
        .map(|refs| refs.iter().map(|r| r.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let inherited: Vec<&String> =
        refs.iter().filter(|r| tearline_model::Tlp::from_marking_definition_id(r).is_none()).collect();
    assert_eq!(inherited.len(), 1, "{seen}");
    let inherited_definition = inherited[0].clone();
    for (user, party) in [("us-analyst", "USA"), ("iq-analyst", "IRQ")] {
        let feed = h.taxii_feed(user, party).await;
        let definition = h.taxii_get(user, party, &format!("/api/collections/{feed}/objects/{}/", inherited[0])).await;
        let extension = &definition["objects"][0]["extensions"][tearline_model::stix::MARKING_EXTENSION_ID];
        assert_eq!(extension["classification"], "S", "{user}: {definition}");
        let rel_to: Vec<&str> = extension["rel_to"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(rel_to, ["USA", "IRQ"], "{user}: {definition}");
        assert_eq!(extension["caveats"], json!(["ORCON"]), "{user}: {definition}");
    }
    let own = h
        .taxii_get(
            "iq-analyst",
            "IRQ",
            &format!("/api/collections/{INDICATORS}/objects/{}/", note["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(own["objects"][0]["object_marking_refs"], json!(refs), "the poster sees what the recipients see: {own}");
    // Copied prose in a STIX object is found the same way, and the poster is told in the status.
    let copied: Value = json!({
        "type": "note", "spec_version": "2.1", "id": "note--0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "created": "2026-11-27T10:30:00.000Z", "modified": "2026-11-27T10:30:00.000Z",
        "content": "Devices found on the main supply route were emplaced mostly between 0200 and 0500; patrols \
                    that varied start times by more than two hours met fewer of them.",
        "object_refs": ["identity--6f0b1f6c-6a43-5b9e-8f7c-5c1a3e0d2b4f"],
    });
    let status = h.taxii_post("iq-analyst", INDICATORS, json!({ "objects": [copied] })).await;
    let message = status["successes"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(&format!("copies {id}")) && message.contains("main supply route"), "{status}");
    let feed = h.taxii_feed("jo-analyst", "JOR").await;
    let seen = h
        .taxii_get(
            "jo-analyst",
            "JOR",
            &format!("/api/collections/{feed}/objects/?match[id]={}", copied["id"].as_str().unwrap()),
        )
        .await;
    assert!(seen.get("objects").is_none_or(|o| o.as_array().unwrap().is_empty()), "{seen}");

    // A new version without the reference still carries what the first took: no laundering.
    let mut rewritten = note.clone();
    rewritten["modified"] = json!("2026-11-27T11:00:00.000Z");
    rewritten.as_object_mut().unwrap().remove("object_refs");
    rewritten["object_refs"] = json!(["identity--6f0b1f6c-6a43-5b9e-8f7c-5c1a3e0d2b4f"]);
    let status = h.taxii_post("iq-analyst", INDICATORS, json!({ "objects": [rewritten] })).await;
    assert_eq!(status["success_count"], 1, "{status}");
    let feed = h.taxii_feed("jo-analyst", "JOR").await;
    let seen = h
        .taxii_get(
            "jo-analyst",
            "JOR",
            &format!("/api/collections/{feed}/objects/?match[type]=note&match[version]=all"),
        )
        .await;
    assert!(seen.get("objects").is_none_or(|o| o.as_array().unwrap().is_empty()), "{seen}");

    // Text pasted without a source: the report becomes derived, RUS never sees it, USA is told.
    let pasted = "TITLE: (U) Notes for the centre\n\n(U) Our patrols are short of fuel.\n\n\
                  (U) devices found on the main supply route were emplaced mostly between 0200 and 0500 and \
                  patrols that varied their start\ntimes by more than two hours met fewer of them\n";
    let (status, body) = h.submit("iq-analyst", pasted).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let pasted_id = body["id"].as_str().unwrap().to_string();
    let derived = &body["derived_from"][0];
    assert_eq!((derived["source"].as_str(), derived["how"].as_str()), (Some(id.as_str()), Some("copied")));
    assert_eq!(derived["inherited"], "SECRET//REL TO USA, IRQ");
    assert!(derived["passages"][0]["text"].as_str().unwrap().contains("main supply route"));
    assert_eq!(h.view("ru-analyst", "RUS", &pasted_id).await, None);
    assert_eq!(h.view("jo-analyst", "JOR", &pasted_id).await, None);
    assert_eq!(h.view("us-analyst", "USA", &pasted_id).await.unwrap().len(), 2, "USA is an originator of it now");
    let alerts: Value = h.get("us-analyst", "/v1/alerts").await.json().await.unwrap();
    let alert = alerts["events"].as_array().unwrap().iter().find(|e| e["object"] == pasted_id.as_str()).unwrap();
    assert_eq!((alert["kind"].as_str(), alert["party"].as_str()), (Some("copied"), Some("IRQ")));
    assert!(alert["detail"]["passages"][0]["text"].as_str().unwrap().contains("emplaced mostly"));
    let tried: Vec<&str> = alert["detail"]["tried"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tried.contains(&"RUS") && tried.contains(&"JOR"), "{tried:?}");
    assert!(alert["detail"]["reached"].as_array().unwrap().iter().all(|p| p == "USA"));

    // The audit of deliveries matches what the test served.
    h.listing("iq-analyst", "IRQ").await;
    let served: Vec<((String, String), usize)> =
        h.served.lock().unwrap().0.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    for ((party, object), count) in served {
        // The definition of what the note inherited is IRQ's, as the note is.
        let irq_own = object == pasted_id || object == inherited_definition;
        let originator_user = if irq_own { "iq-analyst" } else { "us-analyst" };
        assert_eq!(h.audited(originator_user, &party, &object).await, count, "{party} and {object}");
    }
    // A party asks about its own content only.
    assert_eq!(h.audited("iq-analyst", "JOR", &id).await, 0);
    let csv = h.hub.ok(&["audit", "received", "--party", "JOR", "--as", "us-analyst", "--format", "csv"]);
    assert_eq!(csv.lines().filter(|l| l.contains(&id)).count(), 1);

    // Recall: nobody but USA gets the report, on any path; what derives from it goes to its
    // originators only.
    let (status, body) = h.post("iq-analyst", "/v1/recalls", json!({ "object": id })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = h.post("us-analyst", "/v1/recalls", json!({ "object": id })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["derived"].as_array().unwrap().iter().any(|d| d.as_str().unwrap().starts_with(&pasted_id)));
    for (user, party) in [("iq-analyst", "IRQ"), ("jo-analyst", "JOR")] {
        assert_eq!(h.view(user, party, &id).await, None);
        assert!(!h.listing(user, party).await.contains(&id));
    }
    assert!(h.view("us-analyst", "USA", &id).await.is_some());
    assert!(h.view("iq-analyst", "IRQ", &pasted_id).await.is_some(), "its originator keeps its own report");
    let audit: Value = h.get("us-analyst", "/v1/audit/onward?party=USA").await.json().await.unwrap();
    assert!(audit["events"].as_array().unwrap().iter().any(|e| e["kind"] == "recall"));
    assert!(h.hub.ok(&["index", "verify"]).contains("consistent"));
}

#[tokio::test]
async fn onward_control_on_sqlite() {
    onward_control(Backend::Sqlite).await;
}

#[tokio::test]
async fn onward_control_on_postgres() {
    onward_control(Backend::Postgres).await;
}

/// An approval with an expiry holds until then and not after: the release index is rebuilt on
/// the first request past the expiry, in every process (time passed in).
#[tokio::test]
async fn an_approval_holds_until_its_expiry() {
    use time::macros::datetime;
    let start = datetime!(2026-06-01 8:00 UTC);
    let fx = crate::properties::fixture(start).await;
    let hub = &fx.hub;
    hub.apply(&coalition(false, true), start).await.unwrap();
    let (usa, irq, jor) = (
        hub.user("us-analyst").await.unwrap(),
        hub.user("iq-analyst").await.unwrap(),
        hub.user("jo-analyst").await.unwrap(),
    );
    let text = "TITLE: (U) Crossing points\n\n(U) The crossings are open.\n\n(C//OC) The north closes at dusk.\n";
    let id = hub.submit_report(&usa, text, start).await.unwrap().id;
    let request = tearline_hub::ShareRequest {
        object: id.clone(),
        version: None,
        to: vec!["JOR".into()],
        portions: None,
        into_collection: None,
    };
    // Without onward in USA->IRQ, nothing goes to JOR until USA approves.
    let outcome = hub.share(&irq, &request, "rest", start).await.unwrap();
    assert_eq!(outcome.outcome, "refused");
    let asked = hub.request_approval(&irq, &id, None, "JOR", None, start).await.unwrap();
    let until = start + time::Duration::hours(2);
    hub.decide_approval(&usa, &asked[0].id, true, Some(until), start).await.unwrap();
    let seen = hub.view(&jor, &id, start + time::Duration::hours(1)).await.unwrap();
    assert_eq!(seen.paragraphs.len(), 2, "approved: the (U) and ORCON paragraphs");
    assert!(matches!(hub.view(&jor, &id, until).await, Err(tearline_hub::HubError::NotFound)));
    assert!(hub.verify_index(until).await.unwrap().mismatches.is_empty());
}
