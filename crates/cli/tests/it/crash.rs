//! kill -9 during a batch of submissions: every submission is wholly present or wholly absent,
//! and the release index agrees with the stored reports.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::{client, Backend, TestHub, COALITION};

fn big_report(n: usize) -> String {
    let marks = ["U", "S//REL TO USA, IRQ", "S//OC/REL TO USA, IRQ", "S//NF", "C//REL TO USA, IRQ"];
    let mut text = format!("TITLE: (U) Batch report {n}\nTOPICS: counter-ied\n");
    for p in 0..40 {
        text += &format!(
            "\n({}) Paragraph {p} of report {n}, {}\n",
            marks[p % marks.len()],
            "with some words. ".repeat(20)
        );
    }
    text
}

async fn crash_during_submissions(backend: Backend) {
    let hub = TestHub::new(backend);
    hub.apply(COALITION);
    let token = hub.token("us-analyst");
    let mut server = hub.serve(&[]);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (url, token, acknowledged) = (server.url("/v1/reports"), token.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..200 {
                let sent = client()
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "text/markdown")
                    .body(big_report(w * 1000 + n))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == StatusCode::CREATED => {
                        let body: serde_json::Value = response.json().await.unwrap();
                        acknowledged.lock().unwrap().push(body["id"].as_str().unwrap().to_string());
                    }
                    Ok(response) => panic!("unexpected answer {}", response.status()),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Kill the server in the middle of the batch.
    for _ in 0..600 {
        if acknowledged.lock().unwrap().len() >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 30, "only {} submissions before the kill", acknowledged.len());
    assert!(acknowledged.len() < 800, "the kill came after the whole batch");

    // After a restart: the index is consistent, and every acknowledged report is whole.
    let verified = hub.ok(&["index", "verify"]);
    assert!(verified.starts_with("release index consistent with"), "{verified}");
    let stored: usize = verified.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(stored >= acknowledged.len());
    let server = hub.serve(&[]);
    let iraq = hub.token("iq-analyst");
    for id in acknowledged.iter().step_by(5) {
        let response = client().get(server.url(&format!("/v1/reports/{id}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["portions"].as_array().unwrap().len(), 40);
        let response = client().get(server.url(&format!("/v1/reports/{id}"))).bearer_auth(&iraq).send().await.unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["portions"].as_array().unwrap().len(), 32);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_leaves_submissions_whole_on_sqlite() {
    crash_during_submissions(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_leaves_submissions_whole_on_postgres() {
    crash_during_submissions(Backend::Postgres).await;
}
