//! The brief's scenario over HTTP, on both stores: who sees what of `route-clearance.md`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{client, Backend, TestHub, COALITION, REPORT, USERS};

struct Scenario {
    hub: TestHub,
    server: crate::common::Server,
    tokens: Vec<(&'static str, String)>,
    id: String,
}

impl Scenario {
    async fn start(backend: Backend) -> Scenario {
        let hub = TestHub::new(backend);
        hub.apply(COALITION);
        let tokens: Vec<(&str, String)> = USERS.iter().map(|u| (*u, hub.token(u))).collect();
        let server = hub.serve(&[]);
        let mut scenario = Scenario { hub, server, tokens, id: String::new() };
        let response = scenario.post_report("us-analyst", REPORT, "text/markdown").await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        scenario.id = body["id"].as_str().unwrap().to_string();
        assert!(scenario.id.starts_with("report--"));
        scenario
    }

    fn token(&self, user: &str) -> &str {
        &self.tokens.iter().find(|(u, _)| *u == user).unwrap().1
    }

    async fn get(&self, user: &str, path: &str) -> reqwest::Response {
        client().get(self.server.url(path)).bearer_auth(self.token(user)).send().await.unwrap()
    }

    async fn post_report(&self, user: &str, text: &str, content_type: &str) -> reqwest::Response {
        client()
            .post(self.server.url("/v1/reports"))
            .bearer_auth(self.token(user))
            .header("content-type", content_type)
            .body(text.to_string())
            .send()
            .await
            .unwrap()
    }

    async fn view(&self, user: &str) -> (StatusCode, Vec<u8>) {
        let response = self.get(user, &format!("/v1/reports/{}", self.id)).await;
        (response.status(), response.bytes().await.unwrap().to_vec())
    }

    async fn listing(&self, user: &str) -> Vec<String> {
        let body: Value = self.get(user, "/v1/reports").await.json().await.unwrap();
        body["reports"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
    }
}

fn marks(body: &[u8]) -> (String, Vec<String>) {
    let value: Value = serde_json::from_slice(body).unwrap();
    let marks =
        value["portions"].as_array().unwrap().iter().map(|p| p["marking"].as_str().unwrap().to_string()).collect();
    (value["banner"].as_str().unwrap().to_string(), marks)
}

async fn who_sees_what(backend: Backend) {
    let s = Scenario::start(backend).await;

    let (status, body) = s.view("us-analyst").await;
    assert_eq!(status, StatusCode::OK);
    let (banner, portions) = marks(&body);
    assert_eq!(banner, "SECRET//ORCON/NOFORN");
    assert_eq!(portions, ["U", "S//REL TO USA, IRQ", "S//OC/REL TO USA, IRQ", "S//NF", "C//REL TO USA, IRQ"]);

    let (status, body) = s.view("us-liaison").await;
    assert_eq!(status, StatusCode::OK);
    let (banner, portions) = marks(&body);
    assert_eq!(banner, "CONFIDENTIAL//REL TO USA, IRQ");
    assert_eq!(portions, ["U", "C//REL TO USA, IRQ"]);

    let (status, body) = s.view("iq-analyst").await;
    assert_eq!(status, StatusCode::OK);
    let (banner, portions) = marks(&body);
    assert_eq!(banner, "SECRET//ORCON/REL TO USA, IRQ");
    assert_eq!(portions, ["U", "S//REL TO USA, IRQ", "S//OC/REL TO USA, IRQ", "C//REL TO USA, IRQ"]);
    let text = s.get("iq-analyst", &format!("/v1/reports/{}?format=text", s.id)).await.text().await.unwrap();
    assert!(text.contains("BANNER: SECRET//ORCON/REL TO USA, IRQ\n"));
    assert!(!text.contains("not released to any partner"));

    // Withheld is byte-identical to absent, for any id.
    let absent = s.get("ru-analyst", "/v1/reports/report--00000000-0000-4000-8000-000000000000").await;
    let absent = (absent.status(), absent.bytes().await.unwrap().to_vec());
    assert_eq!(absent.0, StatusCode::NOT_FOUND);
    for user in ["ru-analyst", "sy-analyst"] {
        assert_eq!(s.view(user).await, absent, "{user}");
        assert!(s.listing(user).await.is_empty(), "{user}");
        let explain = s.get(user, &format!("/v1/reports/{}/explain", s.id)).await;
        assert_eq!((explain.status(), explain.bytes().await.unwrap().to_vec()), absent);
    }
    assert_eq!(s.listing("iq-analyst").await, vec![s.id.clone()]);
    assert_eq!(s.listing("us-liaison").await, vec![s.id.clone()]);

    // The originator's users see why; others who see the report may not.
    let explain: Value = s.get("us-analyst", &format!("/v1/reports/{}/explain", s.id)).await.json().await.unwrap();
    let irq = explain["parties"].as_array().unwrap().iter().find(|p| p["party"] == "IRQ").unwrap();
    assert_eq!(irq["visible"], true);
    let shown: Vec<bool> = irq["portions"].as_array().unwrap().iter().map(|p| p["shown"].as_bool().unwrap()).collect();
    assert_eq!(shown, [true, true, true, true, false, true]);
    let rus = explain["parties"].as_array().unwrap().iter().find(|p| p["party"] == "RUS").unwrap();
    assert!(rus["portions"][0]["reasons"].to_string().contains("embargo"));
    assert_eq!(s.get("iq-analyst", &format!("/v1/reports/{}/explain", s.id)).await.status(), StatusCode::FORBIDDEN);

    // Revoking the agreement (in another process) takes effect at the next request.
    let without = COALITION.replace(
        "[[agreement]]\nfrom = \"USA\"\nto = [\"IRQ\"]\nmax_classification = \"SECRET\"\nonward = false\n",
        "",
    );
    assert_ne!(without, COALITION);
    let changes = s.hub.apply(&without);
    assert!(changes.contains("- agreement USA `IRQ`"), "{changes}");
    let (status, body) = s.view("iq-analyst").await;
    assert_eq!((status, body), absent);
    assert!(s.listing("iq-analyst").await.is_empty());
    assert_eq!(s.view("us-analyst").await.0, StatusCode::OK);
}

#[tokio::test]
async fn who_sees_what_on_sqlite() {
    who_sees_what(Backend::Sqlite).await;
}

#[tokio::test]
async fn who_sees_what_on_postgres() {
    who_sees_what(Backend::Postgres).await;
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let s = Scenario::start(Backend::Sqlite).await;
    for request in [
        client().get(s.server.url("/v1/reports")),
        client().get(s.server.url("/v1/reports")).bearer_auth("tl_not-a-token"),
        client().get(s.server.url(&format!("/v1/reports/{}", s.id))).basic_auth("iq-analyst", Some("wrong")),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenges: Vec<&str> =
            response.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap()).collect();
        assert!(challenges.iter().any(|c| c.starts_with("Bearer")), "{challenges:?}");
    }
    // HTTP Basic with the token as password, as taxii2-client sends it.
    let response = client()
        .get(s.server.url(&format!("/v1/reports/{}", s.id)))
        .basic_auth("iq-analyst", Some(s.token("iq-analyst")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A user no longer declared loses access at once.
    let without_iq =
        COALITION.replace("[[user]]\nname = \"iq-analyst\"\nparty = \"IRQ\"\nclearance = \"SECRET\"\n", "");
    assert_ne!(without_iq, COALITION);
    s.hub.apply(&without_iq);
    assert_eq!(s.get("iq-analyst", "/v1/reports").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_reports_are_refused_and_nothing_is_stored() {
    let s = Scenario::start(Backend::Sqlite).await;
    let cases = [
        ("TITLE: No mark\n\n(U) text\n", "title has no portion mark"),
        ("TITLE: (U) T\n\nNo mark.\n", "line 3"),
        ("TITLE: (U) T\nBANNER: CONFIDENTIAL\n\n(S//NF) text\n", "lower than its portions"),
        ("TITLE: (U) T\n\n(S//REL TO USA, XYZ) text\n", "`XYZ` is neither a party nor a group"),
        ("TITLE: (U) T\n\n(S//NF/REL TO USA, IRQ) text\n", "NOFORN and REL TO"),
        ("TITLE: (U) T\n\n(X//NF) text\n", "`X` is not a classification"),
    ];
    for (text, expected) in cases {
        let response = s.post_report("us-analyst", text, "text/markdown").await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{text}");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains(expected), "{text}: {body}");
    }
    // Above the author's own clearance.
    let response = s.post_report("us-liaison", "TITLE: (U) T\n\n(S) text\n", "text/markdown").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = s.post_report("us-analyst", REPORT, "application/json").await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let response = s.post_report("us-analyst", &"x".repeat(2 * 1024 * 1024), "text/markdown").await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(s.listing("us-analyst").await, vec![s.id.clone()]);
    assert!(
        s.hub.ok(&["index", "verify"]).contains("consistent with 6 object versions"),
        "the report and the marking definitions of its portions"
    );
}

#[tokio::test]
async fn listings_page_with_a_cursor_the_caller_has_seen() {
    let s = Scenario::start(Backend::Sqlite).await;
    let mut ids = vec![s.id.clone()];
    for n in 0..4 {
        let text = format!("TITLE: (U) Report {n}\n\n(U) Paragraph.\n");
        let response = s.post_report("us-analyst", &text, "text/markdown").await;
        ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string());
    }
    // One NOFORN report IRQ may not see, in the middle of the sequence.
    let hidden = s.post_report("us-analyst", "TITLE: (U//NF) Hidden\n\n(U//NF) Hidden.\n", "text/markdown").await;
    let hidden: Value = hidden.json().await.unwrap();
    let hidden = hidden["id"].as_str().unwrap();
    let mut seen = Vec::new();
    let mut path = "/v1/reports?limit=2".to_string();
    loop {
        let page: Value = s.get("iq-analyst", &path).await.json().await.unwrap();
        seen.extend(page["reports"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/reports?limit=2&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    // A cursor naming a report the caller may not see is refused exactly like a made-up one.
    let forged = s.get("iq-analyst", &format!("/v1/reports?after={hidden}")).await;
    let made_up = s.get("iq-analyst", "/v1/reports?after=report--00000000-0000-4000-8000-000000000000").await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert_eq!(forged.bytes().await.unwrap(), made_up.bytes().await.unwrap());
}

#[tokio::test]
async fn health_and_metrics_are_served() {
    let s = Scenario::start(Backend::Sqlite).await;
    let health = client().get(s.server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    s.view("iq-analyst").await;
    let metrics = client().get(s.server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("tearline_reports_submitted_total 1"), "{metrics}");
    assert!(metrics.contains("tearline_renderings_total 1"), "{metrics}");
    assert!(metrics.contains("route=\"/v1/reports/{id}\""), "{metrics}");
    assert!(!metrics.contains(&s.id), "ids never become labels");
}

#[tokio::test]
async fn the_stix_form_carries_markings_and_the_hub_serves_its_extensions() {
    let s = Scenario::start(Backend::Sqlite).await;
    let definitions: Value = s.get("iq-analyst", "/v1/stix/extension-definitions").await.json().await.unwrap();
    let ids: Vec<&str> = definitions["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&tearline_model::stix::MARKING_EXTENSION_ID));
    assert!(ids.contains(&tearline_model::stix::REPORT_EXTENSION_ID));

    let bundle: Value = s.get("iq-analyst", &format!("/v1/reports/{}?format=stix", s.id)).await.json().await.unwrap();
    let objects = bundle["objects"].as_array().unwrap();
    let report = &objects[0];
    assert_eq!(report["type"], "report");
    // Every marking the report refers to is in the bundle, and none is NOFORN.
    let refs: Vec<&str> = report["granular_markings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["marking_ref"].as_str().unwrap())
        .chain(report["object_marking_refs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()))
        .collect();
    for marking_ref in &refs {
        let definition = objects.iter().find(|o| o["id"] == *marking_ref).unwrap();
        assert!(!definition["name"].as_str().unwrap().contains("NOFORN"), "{definition}");
    }
    let selectors: Vec<&str> =
        report["granular_markings"].as_array().unwrap().iter().map(|g| g["selectors"][0].as_str().unwrap()).collect();
    assert_eq!(selectors.len(), 5);
    assert!(selectors[4].ends_with("paragraphs.[3]"));
    assert!(!bundle.to_string().contains("not released to any partner"));
}

#[tokio::test]
async fn two_servers_on_one_postgres_database_are_one_hub() {
    let s = Scenario::start(Backend::Postgres).await;
    let other = s.hub.serve(&[]);
    let text = "TITLE: (U) Second\n\n(S//REL TO USA, IRQ) Written through the second server.\n";
    let response = client()
        .post(other.url("/v1/reports"))
        .bearer_auth(s.token("us-analyst"))
        .header("content-type", "text/markdown")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    // Read back through the first server, in order, for a partner.
    assert_eq!(s.listing("iq-analyst").await, vec![s.id.clone(), id]);
    // A change applied by the CLI reaches both servers at their next request.
    s.hub.apply(&COALITION.replace(
        "max_classification = \"SECRET\"\nonward = false",
        "max_classification = \"CONFIDENTIAL\"\nonward = false",
    ));
    let through_other = client()
        .get(other.url(&format!("/v1/reports/{}", s.id)))
        .bearer_auth(s.token("iq-analyst"))
        .send()
        .await
        .unwrap();
    let (_, portions) = marks(&through_other.bytes().await.unwrap());
    assert_eq!(portions, ["U", "C//REL TO USA, IRQ"]);
    let (_, portions) = marks(&s.view("iq-analyst").await.1);
    assert_eq!(portions, ["U", "C//REL TO USA, IRQ"]);
}

/// The report submitted in Tearline's form reaches each party's TAXII feed as that party's
/// rendering, with the marking definitions of the portions it receives and no others.
#[tokio::test]
async fn the_report_reaches_each_partys_taxii_feed() {
    let s = Scenario::start(Backend::Sqlite).await;
    let feed = |user: &str, party: &str| {
        let party = tearline_model::Code::new(party).unwrap();
        let url = s.server.url(&format!("/api/collections/{}/objects/", tearline_model::Collection::feed_id(&party)));
        let token = s.token(user).to_string();
        async move {
            let response = client()
                .get(url)
                .bearer_auth(token)
                .header("accept", "application/taxii+json;version=2.1")
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, iraq) = feed("iq-analyst", "IRQ").await;
    assert_eq!(status, StatusCode::OK);
    let objects = iraq["objects"].as_array().unwrap();
    let report = objects.iter().find(|o| o["type"] == "report").unwrap();
    assert_eq!(report["id"], s.id.as_str());
    let paragraphs = report["extensions"][tearline_model::stix::REPORT_EXTENSION_ID]["paragraphs"].as_array().unwrap();
    assert_eq!(paragraphs.len(), 4, "every portion but the NOFORN one");
    let served: Vec<&str> =
        objects.iter().filter(|o| o["type"] == "marking-definition").map(|o| o["name"].as_str().unwrap()).collect();
    assert!(!served.iter().any(|name| name.contains("NOFORN")), "{served:?}");
    assert_eq!(served.len(), 4, "{served:?}");
    // Each granular marking points at a paragraph the partner received.
    for marking in report["granular_markings"].as_array().unwrap() {
        let selector = marking["selectors"][0].as_str().unwrap();
        if let Some(index) = selector.rsplit_once(".[").map(|(_, i)| i.trim_end_matches(']').parse::<usize>().unwrap())
        {
            assert!(index < paragraphs.len(), "{selector}");
        }
    }
    // Russia's feed is empty, and Iraq's feed is Iraq's alone.
    let (status, russia) = feed("ru-analyst", "RUS").await;
    assert_eq!((status, russia["objects"].as_array().map(Vec::len)), (StatusCode::OK, None));
    let (status, _) = feed("ru-analyst", "IRQ").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
