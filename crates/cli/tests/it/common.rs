//! Running the real binary: a hub in a temporary folder (or a fresh PostgreSQL database), the
//! CLI, and `serve` as a child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const COALITION: &str = include_str!("../../../../examples/coalition.toml");
pub const REPORT: &str = include_str!("../../../../examples/route-clearance.md");
pub const USERS: [&str; 5] = ["us-analyst", "us-liaison", "iq-analyst", "ru-analyst", "sy-analyst"];

/// Which store a test hub uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A hub made by `tearline init` in a temporary folder or database.
pub struct TestHub {
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
}

impl TestHub {
    pub fn new(backend: Backend) -> TestHub {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_database()),
        };
        let hub = TestHub { dir, database_url };
        hub.ok(&["init"]);
        hub
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tearline"));
        command.env_remove("TEARLINE_DATABASE_URL").env_remove("TEARLINE_POLICIES").arg("--data").arg(self.data());
        if let Some(url) = &self.database_url {
            command.arg("--database-url").arg(url);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "tearline {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn apply(&self, text: &str) -> String {
        let path = self.write("coalition.toml", text);
        self.ok(&["apply", path.to_str().unwrap()])
    }

    pub fn token(&self, user: &str) -> String {
        self.ok(&["token", "issue", "--user", user]).trim().to_string()
    }

    pub fn serve(&self, extra: &[&str]) -> Server {
        let mut command = self.command();
        command.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
        Server::start(command)
    }
}

/// A `tearline serve` child process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    fn start(mut command: Command) -> Server {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = line.split("listening on ").nth(1) {
                    let _ = tx.send(Ok(address.trim().to_string()));
                } else if line.starts_with("error") {
                    let _ = tx.send(Err(line));
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(base)) => Server { child, base },
            Ok(Err(line)) => panic!("serve failed: {line}"),
            Err(_) => panic!("serve did not start"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Submits the brief's report as the user of `token`; its id.
    pub async fn submit_report(&self, token: &str) -> String {
        let response = client()
            .post(self.url("/v1/reports"))
            .bearer_auth(token)
            .header("content-type", "text/markdown")
            .body(REPORT)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::CREATED);
        response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string()
    }

    /// The served ledger checkpoint once it covers at least `size` entries (the server signs
    /// one every `--checkpoint-interval`).
    pub async fn checkpoint_covering(&self, size: u64) -> String {
        for _ in 0..300 {
            let note = client().get(self.url("/ledger/checkpoint")).send().await.unwrap().text().await.unwrap();
            if note.lines().nth(1).unwrap().parse::<u64>().unwrap() >= size {
                return note;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no checkpoint covers {size} entries");
    }

    /// The entries of C2SP entries tile `tile`, `width` of them (read and split here, not by the
    /// hub's code).
    pub async fn entries_tile(&self, tile: u64, width: u64) -> Vec<Vec<u8>> {
        let mut path = format!("{:03}", tile % 1000);
        let mut rest = tile / 1000;
        while rest > 0 {
            path = format!("x{:03}/{path}", rest % 1000);
            rest /= 1000;
        }
        if width < 256 {
            path = format!("{path}.p/{width}");
        }
        let response = client().get(self.url(&format!("/ledger/tile/entries/{path}"))).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let bundle = response.bytes().await.unwrap();
        let mut at = 0;
        let mut entries = Vec::new();
        while at < bundle.len() {
            let length = u16::from_be_bytes([bundle[at], bundle[at + 1]]) as usize;
            entries.push(bundle[at + 2..at + 2 + length].to_vec());
            at += 2 + length;
        }
        assert_eq!(entries.len() as u64, width);
        entries
    }

    /// kill -9.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh database on the PostgreSQL cluster that `scripts/test` started.
pub fn fresh_postgres_database() -> String {
    let base = std::env::var("TEARLINE_TEST_POSTGRES_URL")
        .expect("TEARLINE_TEST_POSTGRES_URL is not set: run the tests with scripts/test, which starts PostgreSQL");
    let name = format!("tl_{}", uuid_like());
    let status =
        Command::new("psql").arg(&base).args(["-q", "-c", &format!("CREATE DATABASE {name}")]).status().unwrap();
    assert!(status.success(), "cannot create a test database");
    let (main, query) = base.split_once('?').unwrap_or((base.as_str(), ""));
    let (prefix, _) = main.rsplit_once('/').unwrap();
    let query = if query.is_empty() { String::new() } else { format!("?{query}") };
    format!("{prefix}/{name}{query}")
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}", std::process::id(), nanos)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}
