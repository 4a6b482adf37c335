//! What the benchmarks of this crate share: settings from the environment, a seeded random
//! source, percentiles, the stores (SQLite in a temporary folder, PostgreSQL on a fresh database),
//! the `tearline` binary on a store, a `tearline serve` child process and its memory.

#![allow(dead_code, reason = "each benchmark uses a part of this module")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::{AnyConnection, Connection, Executor};
use tearline_hub::SqlStore;
use time::OffsetDateTime;

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => {
            text.trim().replace('_', "").parse().unwrap_or_else(|_| panic!("{name} is not a number: {text}"))
        }
        _ => default,
    }
}

/// SplitMix64: a fixed seed, so that every run draws the same cursors.
pub struct Random(pub u64);

impl Random {
    pub fn below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % bound as u64) as usize
    }
}

/// Median and 99th percentile (nearest rank).
pub fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    assert!(!times.is_empty());
    times.sort_unstable();
    let median = times[times.len() / 2];
    let p99 = times[(times.len() * 99).div_ceil(100) - 1];
    (median, p99)
}

pub fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

// ---------------------------------------------------------------------------------------------
// Backends

pub enum Backend {
    Sqlite { dir: tempfile::TempDir },
    Postgres { admin_url: String, database: String },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "SQLite",
            Backend::Postgres { .. } => "PostgreSQL",
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        match self {
            Backend::Sqlite { dir } => dir.path().join("data"),
            Backend::Postgres { .. } => std::env::temp_dir().join("tearline-bench-unused"),
        }
    }

    pub fn database_url(&self) -> Option<String> {
        match self {
            Backend::Sqlite { .. } => None,
            Backend::Postgres { admin_url, database } => Some(database_url(admin_url, database)),
        }
    }

    pub async fn open(&self) -> SqlStore {
        SqlStore::open(self.database_url().as_deref(), &self.data_dir()).await.unwrap()
    }

    /// The database's size on disk.
    pub async fn size(&self) -> u64 {
        match self {
            Backend::Sqlite { dir } => std::fs::read_dir(dir.path().join("data"))
                .unwrap()
                .map(|entry| entry.unwrap().metadata().unwrap().len())
                .sum(),
            Backend::Postgres { admin_url, database } => {
                let mut conn = AnyConnection::connect(&database_url(admin_url, database)).await.unwrap();
                let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                size as u64
            }
        }
    }

    /// PostgreSQL: what autovacuum would do some time after a bulk load (visibility map, planner
    /// statistics), done now so that the listing measures do not depend on whether it has yet.
    pub async fn settle(&self) {
        if let Backend::Postgres { admin_url, database } = self {
            let mut conn = AnyConnection::connect(&database_url(admin_url, database)).await.unwrap();
            conn.execute("VACUUM (ANALYZE)").await.unwrap();
            conn.close().await.unwrap();
        }
    }

    pub async fn finish(self) {
        if let Backend::Postgres { admin_url, database } = &self {
            let mut admin = AnyConnection::connect(admin_url).await.unwrap();
            admin.execute(format!("DROP DATABASE {database} WITH (FORCE)").as_str()).await.unwrap();
            admin.close().await.unwrap();
        }
    }
}

/// `admin` with its database replaced by `database`.
pub fn database_url(admin: &str, database: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    format!("{}/{database}{query}", &base[..path])
}

/// A throwaway PostgreSQL cluster (scripts/postgres-cluster), stopped and removed when dropped.
pub struct Cluster {
    script: PathBuf,
    dir: PathBuf,
    pub url: String,
}

impl Cluster {
    pub fn start() -> Cluster {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres-cluster");
        let dir = std::env::temp_dir().join(format!("tearline-bench-postgres-{}", std::process::id()));
        let output = Command::new(&script)
            .arg("start")
            .arg(&dir)
            .arg("--watch")
            .arg(std::process::id().to_string())
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(output.status.success(), "starting a PostgreSQL cluster with {} failed", script.display());
        let url = String::from_utf8(output.stdout).unwrap().trim().to_string();
        Cluster { script, dir, url }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).arg("stop").arg(&self.dir).status();
    }
}

pub async fn postgres_backend(admin_url: &str) -> Backend {
    sqlx::any::install_default_drivers();
    let database = format!("tearline_bench_{}", std::process::id());
    let mut admin = AnyConnection::connect(admin_url).await.unwrap();
    admin.execute(format!("CREATE DATABASE {database}").as_str()).await.unwrap();
    admin.close().await.unwrap();
    Backend::Postgres { admin_url: admin_url.to_string(), database }
}

/// The `tearline` binary on the backend's store.
pub fn tearline(backend: &Backend) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tearline"));
    command
        .env_remove("TEARLINE_DATABASE_URL")
        .env_remove("TEARLINE_POLICIES")
        .env_remove("TEARLINE_DATA")
        .env("RUST_LOG", "warn")
        .arg("--data")
        .arg(backend.data_dir());
    if let Some(url) = backend.database_url() {
        command.arg("--database-url").arg(url);
    }
    command
}

/// VmRSS and VmHWM of a process, in kB.
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A `tearline serve` child process, killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Server {
    pub fn start(mut command: Command) -> Server {
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads stderr to its end, so that the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = line.split("tearline listening on ").nth(1) {
                    let _ = tx.send(Ok(address.trim().to_string()));
                } else if line.starts_with("error") {
                    let _ = tx.send(Err(line));
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(600)) {
            Ok(Ok(base)) => Server { child, base },
            Ok(Err(line)) => panic!("serve failed: {line}"),
            Err(_) => panic!("serve did not start"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

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

// ---------------------------------------------------------------------------------------------

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, m)| m.trim()))
        .unwrap_or("unknown CPU")
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo.lines().find(|line| line.starts_with("MemTotal:")).unwrap_or("MemTotal: ?").to_string();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{} CPUs, {model}, {}; load average at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory.split_whitespace().skip(1).collect::<Vec<_>>().join(" "),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    )
}
