//! TAXII 2.1 through the OASIS clients: the Python suite in `tests/taxii/` (taxii2-client, stix2,
//! stix2-validator, pinned) run against a real `tearline serve` on each store.

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::{Backend, TestHub, COALITION, USERS};

/// The virtual environment's interpreter, made by `scripts/test`.
fn python() -> String {
    std::env::var("TEARLINE_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python");
        assert!(
            std::path::Path::new(venv).exists(),
            "no Python virtual environment: run the tests with scripts/test, which makes it"
        );
        venv.to_string()
    })
}

fn run_suite(backend: Backend) {
    let hub = TestHub::new(backend);
    hub.apply(COALITION);
    let tokens: BTreeMap<&str, String> = USERS.iter().map(|user| (*user, hub.token(user))).collect();
    let server = hub.serve(&[]);
    let output = Command::new(python())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(["-m", "pytest", "tests/taxii", "-q", "-p", "no:cacheprovider", "-x", "--tb=short"])
        .env("TEARLINE_URL", &server.base)
        .env("TEARLINE_TOKENS", serde_json::to_string(&tokens).unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the TAXII suite failed on {backend:?}:\n{stdout}\n{stderr}");
    // The suite ran and passed: pytest says how many.
    assert!(stdout.contains(" passed"), "pytest ran no tests:\n{stdout}\n{stderr}");
}

#[test]
fn oasis_clients_on_sqlite() {
    run_suite(Backend::Sqlite);
}

#[test]
fn oasis_clients_on_postgres() {
    run_suite(Backend::Postgres);
}

/// An object a party may receive only after a coalition change comes to a client polling a
/// collection with `added_after` (from its last `X-TAXII-Date-Added-Last`), dated after what the
/// client had seen, in the listing and in the manifest.
#[tokio::test]
async fn objects_released_by_a_coalition_change_come_to_a_polling_client() {
    use reqwest::StatusCode;
    use serde_json::{json, Value};

    const TAXII: &str = "application/taxii+json;version=2.1";
    const INDICATORS: &str = "2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01";
    let agreement = "[[agreement]]\nfrom = \"USA\"\nto = [\"IRQ\"]\nmax_classification = \"SECRET\"\nonward = false\n";
    assert!(COALITION.contains(agreement));
    let hub = TestHub::new(Backend::Sqlite);
    hub.apply(&COALITION.replace(agreement, ""));
    let (us, iq) = (hub.token("us-analyst"), hub.token("iq-analyst"));
    let server = hub.serve(&[]);
    let client = crate::common::client();

    let indicator = |n: u32| {
        json!({
            "type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
            "created": "2026-03-01T12:00:00.000Z", "modified": "2026-03-01T12:00:00.000Z",
            "name": format!("indicator {n}"), "pattern": format!("[ipv4-addr:value = '198.51.100.{n}']"),
            "pattern_type": "stix", "valid_from": "2026-03-01T12:00:00.000Z",
            "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
        })
    };
    let objects = server.url(&format!("/api/collections/{INDICATORS}/objects/"));
    // The USA's first: IRQ's own, which it sees, is stored after them.
    for (token, numbers) in [(&us, vec![2, 3]), (&iq, vec![1])] {
        let envelope = json!({ "objects": numbers.into_iter().map(indicator).collect::<Vec<_>>() });
        let response = client
            .post(&objects)
            .bearer_auth(token)
            .header("accept", TAXII)
            .header("content-type", TAXII)
            .body(envelope.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    // The ids IRQ finds at `path`, and the last date added the answer gives.
    let poll = |path: String| {
        let (client, iq) = (client.clone(), iq.clone());
        async move {
            let response = client.get(path).bearer_auth(&iq).header("accept", TAXII).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let last = response.headers().get("X-TAXII-Date-Added-Last").map(|v| v.to_str().unwrap().to_string());
            let body: Value = response.json().await.unwrap();
            let items = body.get("objects").and_then(Value::as_array).cloned().unwrap_or_default();
            (items, last)
        }
    };
    let ids = |items: &[Value]| items.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (seen, last) = poll(objects.clone()).await;
    assert_eq!(ids(&seen), [indicator(1)["id"].as_str().unwrap()]);
    let last = last.unwrap();

    hub.apply(COALITION);
    let (came, _) = poll(format!("{objects}?added_after={last}")).await;
    assert_eq!(ids(&came), [indicator(2)["id"].as_str().unwrap(), indicator(3)["id"].as_str().unwrap()]);
    let manifest = server.url(&format!("/api/collections/{INDICATORS}/manifest/?added_after={last}"));
    let (records, _) = poll(manifest).await;
    assert_eq!(ids(&records), ids(&came));
    for record in &records {
        assert!(record["date_added"].as_str().unwrap() > last.as_str(), "{record} is dated after {last}");
    }
    // Read whole, the collection lists IRQ's own first and the two it came to receive after it.
    let (all, _) = poll(objects).await;
    assert_eq!(ids(&all).len(), 3);
    assert_eq!(ids(&all)[0], ids(&seen)[0]);
}
