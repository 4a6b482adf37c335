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
