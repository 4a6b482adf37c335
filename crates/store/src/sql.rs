//! [`Store`] on SQLite (embedded, the default) or PostgreSQL (several hub processes on one
//! database), through sqlx's `Any` driver.
//!
//! One SQL text serves both backends wherever it can (`$N` parameters, `ON CONFLICT`,
//! `RETURNING`); [`Backend`] holds the few statements that differ: how a transaction begins, how a
//! writer locks the hub state, how the schema is found, and which migrations apply.
//!
//! Conventions of the schema (see `migrations/`): timestamps are RFC 3339 text in UTC with nine
//! fraction digits (so text order is time order, and every date the model can serialise fits);
//! flags are integers 0/1; classifications are ranks; JSON is text.
//!
//! Locking. A write that depends on the hub state reads `hub_state.version` under a lock held
//! until it commits, so no other write can slip between the check and the commit:
//! - PostgreSQL: `SELECT ... FOR UPDATE` on the single `hub_state` row, in READ COMMITTED. Writers
//!   of every process queue on that row; after the wait the row is read afresh, so a stale writer
//!   is refused, and an index rebuild reads every report committed before it. `insert_report`
//!   takes the same exclusive lock rather than a shared one: report sequence numbers are then
//!   committed in increasing order, so a listing cursor can never pass a report whose transaction
//!   commits later (which a client paging with that cursor would never be shown).
//! - SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the first read. A deferred
//!   transaction would read under a shared lock and could then fail to upgrade it when another
//!   writer got in first. Writers of this process also queue on a mutex rather than in SQLite's
//!   busy handler, which only waits `busy_timeout`.
//!
//! Reads of more than one statement see one snapshot: a deferred transaction on SQLite (WAL), a
//! REPEATABLE READ, READ ONLY transaction on PostgreSQL.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Decode, Executor, Row, Transaction, Type};
use tearline_model::{
    Agreement, Classification, Code, Collection, Embargo, Group, Party, PortionSet, ReleaseEntry, ReleaseFacts, Report,
    User, UserName,
};
use time::format_description::well_known::Rfc3339;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::{
    ActivityChange, ActivityRecord, Added, ApprovalRecord, ConflictRecord, Declared, Delivery, DeliveryRecord,
    FlagRecord, Fork, HubState, LedgerHead, NewObject, ObjectQuery, OnwardChange, OnwardEvent, PolicySource, Reindexer,
    Released, ReportSummary, Result, StatusWrite, Store, StoreError, StoredCheckpoint, StoredObject, SubmissionRecord,
};
use std::collections::HashMap;
use tearline_ledger::Hash;

mod deconfliction;
mod ledger;
mod listing;
mod objects;
mod onward;

pub use onward::MOST_TEXTS_PER_HASH;

use objects::{decode_object, OBJECT_COLUMNS};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database file inside the data directory.
pub const SQLITE_FILE: &str = "tearline.db";

/// Set on every SQLite connection. `synchronous = FULL`: in WAL mode NORMAL may lose the last
/// commits on a power cut, and a hub must not forget a report or token it has acknowledged; the
/// cost is one fsync per commit, and an index rebuild is one commit. `journal_mode` persists in
/// the file, so after the first connection it is a no-op that needs no lock. `temp_store =
/// MEMORY`: a multi-row insert keeps its statement journal (the pages it would roll back) in
/// memory rather than spilling it to a temporary file past 64 KiB.
const SQLITE_PRAGMAS: [&str; 5] = [
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = FULL",
    "PRAGMA journal_mode = WAL",
    "PRAGMA temp_store = MEMORY",
];

/// Reports read per page while rebuilding the release index (bounds memory, whatever the size).
const REINDEX_PAGE: i64 = 1000;

/// Release-index rows per INSERT: 4 parameters each, well under both backends' limits.
const ENTRIES_PER_INSERT: usize = 500;

/// RFC 3339 in UTC with a fixed number of fraction digits, so that text order is time order.
const TIMESTAMP: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");

/// The database behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// Begins a transaction that writes.
    fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Begins a transaction that only reads, in one snapshot.
    fn begin_read(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        }
    }

    /// Reads the state version, holding it until commit (on SQLite `BEGIN IMMEDIATE` already does).
    fn lock_version(self) -> &'static str {
        match self {
            Backend::Sqlite => "SELECT version FROM hub_state WHERE id = 1",
            Backend::Postgres => "SELECT version FROM hub_state WHERE id = 1 FOR UPDATE",
        }
    }

    /// `first`-numbered parameters, `count` of them, each used once. SQLite gets anonymous `?`:
    /// sqlx looks every named parameter up by name, in time quadratic in their number, which
    /// dominated multi-row inserts.
    fn parameter_list(self, first: usize, count: usize) -> String {
        match self {
            Backend::Sqlite => vec!["?"; count].join(", "),
            Backend::Postgres => (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", "),
        }
    }

    /// `{column}_hash IN (…) AND {column} IN (…)`: ids found by their hash, then compared, with
    /// `count` ids from parameter `first` on, bound by [`bind_ids`].
    fn ids_in(self, column: &str, first: usize, count: usize) -> String {
        let hashes = self.parameter_list(first, count);
        let ids = self.parameter_list(first + count, count);
        format!("{column}_hash IN ({hashes}) AND {column} IN ({ids})")
    }

    /// `(…), (…)`: `rows` tuples of `width` parameters, for a multi-row `VALUES` with no other
    /// parameter before them.
    fn tuples(self, width: usize, rows: usize) -> String {
        (0..rows).map(|row| format!("({})", self.parameter_list(row * width + 1, width))).collect::<Vec<_>>().join(", ")
    }

    /// SQL for the lower of two values.
    fn lower_of(self, a: &str, b: &str) -> String {
        match self {
            Backend::Sqlite => format!("MIN({a}, {b})"),
            Backend::Postgres => format!("LEAST({a}, {b})"),
        }
    }

    fn count_schema_tables(self) -> &'static str {
        match self {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'hub_state'",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'hub_state'"
            }
        }
    }
}

/// The store on SQLite or PostgreSQL. Cloning shares the connection pool.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: this process's writers take turns here.
    writers: Option<Arc<Mutex<()>>>,
}

/// A write transaction, with this process's turn to write on SQLite.
struct Write {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl SqlStore {
    /// The embedded store: `tearline.db` in `dir`, both created when missing.
    pub async fn open_sqlite(dir: &Path) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let data_dir = |source| StoreError::DataDir { path: dir.to_path_buf(), source };
        create_private_dir(dir).map_err(data_dir)?;
        // An absolute path, so that the URL built below cannot read a relative one as a host.
        let dir = std::fs::canonicalize(dir).map_err(data_dir)?;
        let url = SqliteConnectOptions::new().filename(dir.join(SQLITE_FILE)).create_if_missing(true).to_url_lossy();
        let options = AnyConnectOptions::from_url(&url).map_err(db("reading the SQLite file name"))?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in SQLITE_PRAGMAS {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(db("opening the SQLite database"))?;
        Ok(SqlStore { pool, backend: Backend::Sqlite, writers: Some(Arc::new(Mutex::new(()))) })
    }

    /// The scale-out store on a PostgreSQL database (`postgres://user@host/db`).
    pub async fn open_postgres(url: &str) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        if scheme != "postgres" && scheme != "postgresql" {
            return Err(StoreError::UnsupportedUrl { scheme: scheme.to_string() });
        }
        let pool = AnyPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(db("connecting to PostgreSQL"))?;
        Ok(SqlStore { pool, backend: Backend::Postgres, writers: None })
    }

    /// PostgreSQL when a database URL is given, else the embedded store in `data_dir`.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<SqlStore> {
        match database_url {
            Some(url) => SqlStore::open_postgres(url).await,
            None => SqlStore::open_sqlite(data_dir).await,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection; the store is unusable afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn begin_write(&self) -> Result<Write> {
        let turn = match &self.writers {
            Some(writers) => Some(Arc::clone(writers).lock_owned().await),
            None => None,
        };
        let tx = self.pool.begin_with(self.backend.begin_write()).await.map_err(db("beginning a write"))?;
        Ok(Write { tx, _turn: turn })
    }

    async fn begin_read(&self) -> Result<Transaction<'static, Any>> {
        self.pool.begin_with(self.backend.begin_read()).await.map_err(db("beginning a read"))
    }

    /// Locks the state and checks it is still the one the caller decided with.
    async fn check_version(&self, conn: &mut AnyConnection, expected: i64) -> Result<()> {
        let row = sqlx::query(self.backend.lock_version())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("locking the hub state"))?
            .ok_or(StoreError::NotInitialised)?;
        let found: i64 = get(&row, 0)?;
        if found == expected {
            Ok(())
        } else {
            Err(StoreError::Stale { expected, found })
        }
    }

    /// Ends a write that changed the state: the next version, and how long the index holds.
    async fn commit_state_change(
        &self,
        mut write: Write,
        expected: i64,
        index_valid_until: Option<OffsetDateTime>,
    ) -> Result<i64> {
        let version = expected + 1;
        sqlx::query("UPDATE hub_state SET version = $1, index_valid_until = $2 WHERE id = 1")
            .bind(version)
            .bind(index_valid_until.map(timestamp).transpose()?)
            .execute(&mut *write.tx)
            .await
            .map_err(db("updating the hub state"))?;
        write.tx.commit().await.map_err(db("committing"))?;
        Ok(version)
    }

    /// Fills `objects.id_hash` for rows stored before migration 0008 left it empty, a page per
    /// transaction. Called with the writers' turn held, so it begins its writes itself.
    async fn fill_id_hashes(&self) -> Result<()> {
        loop {
            let mut tx = self.pool.begin_with(self.backend.begin_write()).await.map_err(db("beginning a write"))?;
            let rows = sqlx::query("SELECT seq, id FROM objects WHERE id_hash IS NULL LIMIT 1000")
                .fetch_all(&mut *tx)
                .await
                .map_err(db("reading objects without an id hash"))?;
            if rows.is_empty() {
                return tx.commit().await.map_err(db("committing"));
            }
            for row in &rows {
                sqlx::query("UPDATE objects SET id_hash = $1 WHERE seq = $2")
                    .bind(id_hash(&get::<String>(row, 1)?))
                    .bind(get::<i64>(row, 0)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("filling an id hash"))?;
            }
            tx.commit().await.map_err(db("committing id hashes"))?;
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> Result<()> {
        // SQLite's migrations write; let them take their turn like any writer.
        let _turn = match &self.writers {
            Some(writers) => Some(writers.lock().await),
            None => None,
        };
        self.backend.migrator().run(&self.pool).await?;
        self.fill_id_hashes().await
    }

    async fn is_initialised(&self) -> Result<bool> {
        let count: i64 = sqlx::query_scalar(self.backend.count_schema_tables())
            .fetch_one(&self.pool)
            .await
            .map_err(db("looking for the schema"))?;
        Ok(count > 0)
    }

    async fn meta(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a setting"))
    }

    async fn init_meta(&self, key: &str, value: &str) -> Result<String> {
        let mut write = self.begin_write().await?;
        sqlx::query("INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&mut *write.tx)
            .await
            .map_err(db("initialising a setting"))?;
        let in_force: String = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
            .bind(key)
            .fetch_one(&mut *write.tx)
            .await
            .map_err(db("reading a setting"))?;
        write.tx.commit().await.map_err(db("committing a setting"))?;
        Ok(in_force)
    }

    async fn state(&self) -> Result<HubState> {
        let mut tx = self.begin_read().await?;
        let state = read_state(&mut tx).await?;
        tx.commit().await.map_err(db("ending a read"))?;
        Ok(state)
    }

    async fn version(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT version FROM hub_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the state version"))?
            .ok_or(StoreError::NotInitialised)
    }

    async fn apply(
        &self,
        expected_version: i64,
        declared: &Declared,
        now: OffsetDateTime,
        index_valid_until: Option<OffsetDateTime>,
        reindexer: &dyn Reindexer,
        ledger: &[Vec<u8>],
    ) -> Result<i64> {
        let mut write = self.begin_write().await?;
        self.check_version(&mut write.tx, expected_version).await?;
        write_coalition(&mut write.tx, declared, now).await?;
        rebuild_index(self, &mut write.tx, reindexer).await?;
        ledger::append(self.backend, &mut write.tx, ledger).await?;
        self.commit_state_change(write, expected_version, index_valid_until).await
    }

    async fn set_policies(
        &self,
        expected_version: i64,
        policies: &PolicySource,
        index_valid_until: Option<OffsetDateTime>,
        reindexer: &dyn Reindexer,
        ledger: &[Vec<u8>],
    ) -> Result<i64> {
        let mut write = self.begin_write().await?;
        self.check_version(&mut write.tx, expected_version).await?;
        ledger::append(self.backend, &mut write.tx, ledger).await?;
        let text = serde_json::to_string(policies)
            .map_err(|e| StoreError::Unstorable { what: "the policies", reason: e.to_string() })?;
        sqlx::query("UPDATE hub_state SET policies = $1 WHERE id = 1")
            .bind(text)
            .execute(&mut *write.tx)
            .await
            .map_err(db("storing the policies"))?;
        rebuild_index(self, &mut write.tx, reindexer).await?;
        self.commit_state_change(write, expected_version, index_valid_until).await
    }

    async fn reindex(
        &self,
        expected_version: i64,
        index_valid_until: Option<OffsetDateTime>,
        reindexer: &dyn Reindexer,
    ) -> Result<i64> {
        let mut write = self.begin_write().await?;
        self.check_version(&mut write.tx, expected_version).await?;
        rebuild_index(self, &mut write.tx, reindexer).await?;
        self.commit_state_change(write, expected_version, index_valid_until).await
    }

    async fn insert_objects(
        &self,
        expected_version: i64,
        objects: &[NewObject],
        now: OffsetDateTime,
        all_new: bool,
        status: Option<&StatusWrite<'_>>,
    ) -> Result<Vec<Added>> {
        self.add_objects(expected_version, objects, now, all_new, status).await
    }

    async fn released_objects(&self, query: &ObjectQuery) -> Result<Vec<Released>> {
        self.query_released(query).await
    }

    async fn released_ids(&self, party: &Code, clearance: Classification, ids: &[String]) -> Result<HashSet<String>> {
        self.query_released_ids(party, clearance, ids).await
    }

    async fn object_versions(&self, id: &str) -> Result<Vec<StoredObject>> {
        let sql = format!(
            "SELECT {OBJECT_COLUMNS} FROM objects o WHERE o.id_hash = $2 AND o.id = $1 ORDER BY o.version, o.seq"
        );
        let rows = sqlx::query(&sql)
            .bind(id)
            .bind(id_hash(id))
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading object versions"))?;
        rows.iter().map(decode_object).collect()
    }

    async fn marking_definitions(&self, ids: &[String]) -> Result<Vec<StoredObject>> {
        let mut found = Vec::new();
        for id in ids {
            let sql = format!(
                "SELECT {OBJECT_COLUMNS} FROM objects o \
                 WHERE o.id_hash = $2 AND o.id = $1 AND o.stix_type = 'marking-definition' \
                 ORDER BY o.seq DESC LIMIT 1"
            );
            let row = sqlx::query(&sql)
                .bind(id)
                .bind(id_hash(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a marking"))?;
            found.extend(row.as_ref().map(decode_object).transpose()?);
        }
        Ok(found)
    }

    async fn delete_objects(&self, seqs: &[i64]) -> Result<()> {
        self.delete_versions(seqs).await
    }

    async fn objects_page(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredObject>> {
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM objects o WHERE o.seq > $1 ORDER BY o.seq LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading objects"))?;
        rows.iter().map(decode_object).collect()
    }

    async fn release_entries_of(&self, seq: i64) -> Result<(Vec<ReleaseEntry>, Option<Vec<ReleaseEntry>>)> {
        let mut tx = self.begin_read().await?;
        let stored = sqlx::query(
            "SELECT r.party, r.portions, r.min_clearance FROM parties p CROSS JOIN release_index r \
             WHERE r.party = p.code AND r.object_seq = $1 ORDER BY r.party",
        )
        .bind(seq)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading release entries"))?;
        let is_marking: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM objects WHERE seq = $1 AND stix_type = 'marking-definition'")
                .bind(seq)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading an object's type"))?;
        let derived = match is_marking {
            None => None,
            Some(_) => Some(objects::derived_marking_entries(&mut tx, seq).await?),
        };
        tx.commit().await.map_err(db("ending a read"))?;
        Ok((stored.iter().map(decode_entry).collect::<Result<Vec<_>>>()?, derived))
    }

    async fn status(&self, id: &str, party: &Code) -> Result<Option<serde_json::Value>> {
        let text: Option<String> = sqlx::query_scalar("SELECT status FROM taxii_statuses WHERE id = $1 AND party = $2")
            .bind(id)
            .bind(party.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a status"))?;
        text.map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("status {id}: {e}"))))
            .transpose()
    }

    async fn report(&self, id: &str) -> Result<Option<Report>> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT report FROM objects WHERE id_hash = $2 AND id = $1 AND report IS NOT NULL")
                .bind(id)
                .bind(id_hash(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a report"))?;
        text.map(|text| decode_report(&text)).transpose()
    }

    async fn report_stix(&self, id: &str) -> Result<Option<serde_json::Value>> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT stix FROM objects WHERE id_hash = $2 AND id = $1 AND report IS NOT NULL")
                .bind(id)
                .bind(id_hash(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a report's STIX form"))?;
        text.map(|text| {
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("STIX form of report {id}: {e}")))
        })
        .transpose()
    }

    async fn release_entry(&self, party: &Code, report_id: &str) -> Result<Option<ReleaseEntry>> {
        let row = sqlx::query(
            "SELECT r.party, r.portions, r.min_clearance \
             FROM objects o JOIN release_index r ON r.object_seq = o.seq \
             WHERE o.id_hash = $3 AND o.id = $1 AND r.party = $2 AND o.report IS NOT NULL",
        )
        .bind(report_id)
        .bind(party.as_str())
        .bind(id_hash(report_id))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a release entry"))?;
        row.as_ref().map(decode_entry).transpose()
    }

    async fn release_entries(&self, report_id: &str) -> Result<Vec<ReleaseEntry>> {
        // One primary-key lookup per party: the index is keyed by party, and every entry names a
        // stored party (checked on insert). CROSS JOIN makes SQLite keep parties as the outer
        // loop; without it, it may scan the whole index.
        let rows = sqlx::query(
            "SELECT r.party, r.portions, r.min_clearance \
             FROM parties p CROSS JOIN release_index r \
             WHERE r.party = p.code AND r.object_seq = (SELECT MAX(seq) FROM objects WHERE id_hash = $2 AND id = $1) \
             ORDER BY r.party",
        )
        .bind(report_id)
        .bind(id_hash(report_id))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading release entries"))?;
        rows.iter().map(decode_entry).collect()
    }

    async fn list_reports(
        &self,
        party: &Code,
        clearance: Classification,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ReportSummary>> {
        let clearance = i64::from(clearance.rank());
        let mut tx = self.begin_read().await?;
        let after_seq = match after {
            None => 0,
            Some(id) => sqlx::query_scalar(
                "SELECT r.object_seq FROM objects o JOIN release_index r ON r.object_seq = o.seq \
                 WHERE o.id_hash = $4 AND o.id = $1 AND r.party = $2 AND r.min_clearance <= $3 \
                 AND o.report IS NOT NULL",
            )
            .bind(id)
            .bind(party.as_str())
            .bind(clearance)
            .bind(id_hash(id))
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading a listing cursor"))?
            .ok_or(StoreError::UnknownCursor)?,
        };
        // Only reports in Tearline's form are listed here (TAXII lists every object).
        let rows = sqlx::query(
            "SELECT o.id, o.originator, o.title, o.created \
             FROM release_index r JOIN objects o ON o.seq = r.object_seq \
             WHERE r.party = $1 AND r.min_clearance <= $2 AND r.object_seq > $3 AND o.report IS NOT NULL \
             ORDER BY r.object_seq LIMIT $4",
        )
        .bind(party.as_str())
        .bind(clearance)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db("listing reports"))?;
        tx.commit().await.map_err(db("ending a read"))?;
        rows.iter()
            .map(|row| {
                Ok(ReportSummary {
                    id: get(row, 0)?,
                    originator: decode_code(&get::<String>(row, 1)?)?,
                    title: get(row, 2)?,
                    created: parse_timestamp(&get::<String>(row, 3)?)?,
                })
            })
            .collect()
    }

    async fn reports_page(&self, after: Option<&str>, limit: u32) -> Result<Vec<Report>> {
        let mut tx = self.begin_read().await?;
        let after_seq = match after {
            None => 0,
            Some(id) => {
                sqlx::query_scalar("SELECT seq FROM objects WHERE id_hash = $2 AND id = $1 AND report IS NOT NULL")
                    .bind(id)
                    .bind(id_hash(id))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("reading a page cursor"))?
                    .ok_or(StoreError::UnknownCursor)?
            }
        };
        let texts: Vec<String> = sqlx::query_scalar(
            "SELECT report FROM objects WHERE seq > $1 AND report IS NOT NULL ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db("reading reports"))?;
        tx.commit().await.map_err(db("ending a read"))?;
        texts.iter().map(|text| decode_report(text)).collect()
    }

    async fn count_reports(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM objects WHERE report IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(db("counting reports"))?;
        u64::try_from(count).map_err(|_| StoreError::Corrupt(format!("negative report count {count}")))
    }

    async fn insert_token(&self, user: &UserName, token_hash: &[u8], now: OffsetDateTime) -> Result<()> {
        let created = timestamp(now)?;
        let mut write = self.begin_write().await?;
        let active: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM users u JOIN parties p ON p.code = u.party \
             WHERE u.name = $1 AND u.active = 1 AND p.active = 1",
        )
        .bind(user.as_str())
        .fetch_optional(&mut *write.tx)
        .await
        .map_err(db("looking up a user"))?;
        if active.is_none() {
            return Err(StoreError::UnknownUser(user.to_string()));
        }
        let inserted = sqlx::query(
            "INSERT INTO tokens (hash, user_name, created) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
        )
        .bind(token_hash)
        .bind(user.as_str())
        .bind(created)
        .execute(&mut *write.tx)
        .await
        .map_err(db("storing a token"))?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::DuplicateToken);
        }
        write.tx.commit().await.map_err(db("committing a token"))?;
        Ok(())
    }

    async fn user_for_token(&self, token_hash: &[u8]) -> Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.name, u.party, u.clearance FROM tokens t \
             JOIN users u ON u.name = t.user_name JOIN parties p ON p.code = u.party \
             WHERE t.hash = $1 AND u.active = 1 AND p.active = 1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("looking up a token"))?;
        row.as_ref().map(decode_user).transpose()
    }

    /// A declared (active) user, whether or not its party is still active.
    async fn object_at(&self, seq: i64) -> Result<Option<StoredObject>> {
        let sql = format!("SELECT {OBJECT_COLUMNS} FROM objects o WHERE o.seq = $1");
        let row = sqlx::query(&sql).bind(seq).fetch_optional(&self.pool).await.map_err(db("reading an object"))?;
        row.as_ref().map(decode_object).transpose()
    }

    async fn stored_originators(&self, ids: &[String]) -> Result<std::collections::HashMap<String, Vec<Code>>> {
        self.query_stored_originators(ids).await
    }

    async fn derived_from(&self, seqs: &[i64]) -> Result<Vec<i64>> {
        self.query_derived_from(seqs).await
    }

    async fn sketch_matches(&self, party: &Code, hashes: &[u64], limit: u32) -> Result<Vec<(i64, usize, usize)>> {
        self.query_sketch_matches(party, hashes, limit).await
    }

    async fn originator_sketch_matches(
        &self,
        originator: &Code,
        hashes: &[u64],
        limit: u32,
    ) -> Result<Vec<(i64, usize, usize)>> {
        self.query_originator_sketch_matches(originator, hashes, limit).await
    }

    async fn recipients_of(&self, seq: i64) -> Result<Vec<(Code, PortionSet)>> {
        self.query_recipients_of(seq).await
    }

    async fn fingerprints_of(&self, seq: i64) -> Result<Vec<(Code, String, String)>> {
        self.query_fingerprints_of(seq).await
    }

    async fn next_approval_expiry(&self, after: OffsetDateTime) -> Result<Option<OffsetDateTime>> {
        let next: Option<String> =
            sqlx::query_scalar("SELECT MIN(expires_at) FROM approvals WHERE status = 'approved' AND expires_at > $1")
                .bind(timestamp(after)?)
                .fetch_one(&self.pool)
                .await
                .map_err(db("reading approval expiries"))?;
        next.as_deref().map(parse_timestamp).transpose()
    }

    async fn change_onward(&self, expected_version: i64, change: &OnwardChange) -> Result<()> {
        self.apply_onward_change(expected_version, change).await
    }

    async fn record_deliveries(&self, deliveries: &[Delivery], ledger: &[Vec<u8>]) -> Result<Option<u64>> {
        self.insert_deliveries(deliveries, ledger).await
    }

    async fn deliveries(&self, party: &Code, since: OffsetDateTime) -> Result<Vec<DeliveryRecord>> {
        self.query_deliveries(party, since).await
    }

    async fn onward_events(
        &self,
        originator: &Code,
        party: Option<&Code>,
        since: OffsetDateTime,
    ) -> Result<Vec<OnwardEvent>> {
        self.query_events(originator, party, since).await
    }

    async fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>> {
        self.query_approval(id).await
    }

    async fn approvals(&self, party: &Code, as_requester: bool, pending_only: bool) -> Result<Vec<ApprovalRecord>> {
        self.query_approvals(party, as_requester, pending_only).await
    }

    async fn append_ledger(&self, entries: &[Vec<u8>]) -> Result<u64> {
        self.append_entries(entries).await
    }

    async fn ledger_head(&self) -> Result<LedgerHead> {
        self.query_ledger_head().await
    }

    async fn ledger_hashes(&self, indexes: &[u64]) -> Result<HashMap<u64, Hash>> {
        self.query_ledger_hashes(indexes).await
    }

    async fn ledger_hash_range(&self, from: u64, to: u64) -> Result<Vec<(u64, Hash)>> {
        self.query_ledger_hash_range(from, to).await
    }

    async fn ledger_entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        self.query_ledger_entries(from, to).await
    }

    async fn add_checkpoint(&self, size: u64, note: &str, at: OffsetDateTime) -> Result<()> {
        self.insert_checkpoint(size, note, at).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        Ok(self.query_checkpoints(true).await?.pop())
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        self.query_checkpoints(false).await
    }

    async fn add_cosignature(&self, size: u64, witness: &str, line: &str, at: OffsetDateTime) -> Result<()> {
        self.insert_cosignature(size, witness, line, at).await
    }

    async fn witnessed(&self, origin: &str) -> Result<Option<(String, String)>> {
        self.query_witnessed(origin).await
    }

    async fn keep_witnessed(&self, origin: &str, verifier_key: &str, note: &str, at: OffsetDateTime) -> Result<()> {
        self.upsert_witnessed(origin, verifier_key, note, at).await
    }

    async fn record_fork(&self, fork: &Fork) -> Result<()> {
        self.insert_fork(fork).await
    }

    async fn forks(&self) -> Result<Vec<Fork>> {
        self.query_forks().await
    }

    async fn change_activity(&self, change: &ActivityChange) -> Result<i64> {
        self.write_activity_change(change).await
    }

    async fn activity_changes(&self, after_change_seq: i64) -> Result<Vec<ActivityRecord>> {
        self.query_activity_changes(after_change_seq).await
    }

    async fn activity(&self, id: &str) -> Result<Option<ActivityRecord>> {
        self.query_activity(id).await
    }

    async fn activities_of(&self, party: &Code) -> Result<Vec<ActivityRecord>> {
        self.query_activities_of(party).await
    }

    async fn submissions_since(&self, party: &Code, since: OffsetDateTime) -> Result<Vec<SubmissionRecord>> {
        self.query_submissions_since(party, since).await
    }

    async fn conflicts_of(&self, party: &Code, after_seq: i64) -> Result<Vec<ConflictRecord>> {
        self.query_conflicts_of(party, after_seq).await
    }

    async fn deconfliction_flags(&self) -> Result<Vec<FlagRecord>> {
        self.query_deconfliction_flags().await
    }

    async fn user(&self, name: &UserName) -> Result<Option<User>> {
        let row = sqlx::query("SELECT name, party, clearance FROM users WHERE name = $1 AND active = 1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("looking up a user"))?;
        row.as_ref().map(decode_user).transpose()
    }
}

/// Creates `dir` (and its parents) when missing; on Unix only its owner may enter it: the
/// database holds the hub's signing key.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes the stored coalition and users match `declared`: what it no longer declares is retired
/// (parties, users), revoked at `now` (agreements, once) or deleted (groups, embargoes).
/// The `meta` row holding the declared deconfliction settings (JSON), written with the coalition.
const DECONFLICTION_META: &str = "deconfliction";

async fn write_coalition(conn: &mut AnyConnection, declared: &Declared, now: OffsetDateTime) -> Result<()> {
    // Everything is first marked as not declared, then what is declared is upserted back.
    execute(conn, "UPDATE parties SET active = 0", "retiring parties").await?;
    for party in &declared.parties {
        sqlx::query(
            "INSERT INTO parties (code, name, active) VALUES ($1, $2, 1) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, active = 1",
        )
        .bind(party.code.as_str())
        .bind(party.name.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db("storing a party"))?;
    }

    execute(conn, "DELETE FROM group_members", "replacing groups").await?;
    execute(conn, "DELETE FROM coalition_groups", "replacing groups").await?;
    for group in &declared.groups {
        sqlx::query("INSERT INTO coalition_groups (code, name) VALUES ($1, $2)")
            .bind(group.code.as_str())
            .bind(group.name.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db("storing a group"))?;
        for member in &group.members {
            sqlx::query("INSERT INTO group_members (group_code, party) VALUES ($1, $2)")
                .bind(group.code.as_str())
                .bind(member.as_str())
                .execute(&mut *conn)
                .await
                .map_err(db("storing a group member"))?;
        }
    }

    execute(conn, "UPDATE users SET active = 0", "retiring users").await?;
    for user in &declared.users {
        sqlx::query(
            "INSERT INTO users (name, party, clearance, active) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (name) DO UPDATE SET party = excluded.party, clearance = excluded.clearance, active = 1",
        )
        .bind(user.name.as_str())
        .bind(user.party.as_str())
        .bind(i64::from(user.clearance.rank()))
        .execute(&mut *conn)
        .await
        .map_err(db("storing a user"))?;
    }

    execute(conn, "UPDATE agreements SET declared = 0", "revoking agreements").await?;
    for agreement in &declared.agreements {
        let recipients = to_json(&agreement.to, "an agreement's recipients")?;
        let topics = agreement.topics.as_ref().map(|topics| to_json(topics, "an agreement's topics")).transpose()?;
        sqlx::query(
            "INSERT INTO agreements (from_party, id, recipients, max_classification, topics, onward, \
                                     valid_from, valid_until, revoked_at, declared) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1) \
             ON CONFLICT (from_party, id) DO UPDATE SET recipients = excluded.recipients, \
                 max_classification = excluded.max_classification, topics = excluded.topics, \
                 onward = excluded.onward, valid_from = excluded.valid_from, \
                 valid_until = excluded.valid_until, revoked_at = excluded.revoked_at, declared = 1",
        )
        .bind(agreement.from.as_str())
        .bind(agreement.id.as_str())
        .bind(recipients)
        .bind(i64::from(agreement.max_classification.rank()))
        .bind(topics)
        .bind(i64::from(agreement.onward))
        .bind(agreement.valid_from.map(timestamp).transpose()?)
        .bind(agreement.valid_until.map(timestamp).transpose()?)
        .bind(agreement.revoked_at.map(timestamp).transpose()?)
        .execute(&mut *conn)
        .await
        .map_err(db("storing an agreement"))?;
    }
    // Only those not revoked yet: an agreement is revoked once, when it stops being declared.
    sqlx::query("UPDATE agreements SET revoked_at = $1 WHERE declared = 0 AND revoked_at IS NULL")
        .bind(timestamp(now)?)
        .execute(&mut *conn)
        .await
        .map_err(db("revoking agreements"))?;

    execute(conn, "DELETE FROM embargoes", "replacing embargoes").await?;
    for embargo in &declared.embargoes {
        sqlx::query("INSERT INTO embargoes (from_party, against) VALUES ($1, $2)")
            .bind(embargo.from.as_str())
            .bind(embargo.against.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db("storing an embargo"))?;
    }

    sqlx::query(
        "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(DECONFLICTION_META)
    .bind(to_json(&declared.deconfliction, "the deconfliction settings")?)
    .execute(&mut *conn)
    .await
    .map_err(db("storing the deconfliction settings"))?;

    // A collection no longer declared is kept (its objects stay in the parties' feeds) but
    // neither listed nor written.
    execute(conn, "UPDATE collections SET declared = 0", "retiring collections").await?;
    for collection in &declared.collections {
        let readers = collection.readers.as_ref().map(|r| to_json(r, "a collection's readers")).transpose()?;
        sqlx::query(
            "INSERT INTO collections (id, title, description, owner, readers, writers, declared) \
             VALUES ($1, $2, $3, $4, $5, $6, 1) \
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, description = excluded.description, \
                 owner = excluded.owner, readers = excluded.readers, writers = excluded.writers, declared = 1",
        )
        .bind(collection.id.as_str())
        .bind(collection.title.as_str())
        .bind(collection.description.as_deref())
        .bind(collection.owner.as_str())
        .bind(readers)
        .bind(to_json(&collection.writers, "a collection's writers")?)
        .execute(&mut *conn)
        .await
        .map_err(db("storing a collection"))?;
    }
    Ok(())
}

/// Replaces the whole release index with what `reindexer` computes for every stored object
/// version, a page at a time in storage order. Rows that stay keep their listing positions; the
/// parties that receive a version from now on find it late (`listing`).
async fn rebuild_index(store: &SqlStore, conn: &mut AnyConnection, reindexer: &dyn Reindexer) -> Result<()> {
    let parties = stored_parties(conn).await?;
    let mut after = 0_i64;
    let mut definitions = Vec::new();
    loop {
        let rows = sqlx::query("SELECT seq, facts, stix_type FROM objects WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(REINDEX_PAGE)
            .fetch_all(&mut *conn)
            .await
            .map_err(db("reading reports to index"))?;
        let Some(last) = rows.last() else { break };
        after = get(last, 0)?;
        let mut computed = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = get(row, 0)?;
            // A marking definition's entries follow from the objects that use it (below).
            if get::<String>(row, 2)? == "marking-definition" {
                definitions.push(seq);
                continue;
            }
            let facts: ReleaseFacts = serde_json::from_str(&get::<String>(row, 1)?)
                .map_err(|e| StoreError::Corrupt(format!("release facts of object {seq}: {e}")))?;
            computed.push((seq, reindexer.entries(&facts)));
        }
        let seqs: Vec<i64> = computed.iter().map(|(seq, _)| *seq).collect();
        let before = listing::indexed_pairs(store.backend, conn, &parties, &seqs).await?;
        // Naming every party lets each page's delete search the index's key (party first).
        for chunk in seqs.chunks(ENTRIES_PER_INSERT) {
            let sql = format!(
                "DELETE FROM release_index WHERE party IN (SELECT code FROM parties) AND object_seq IN ({})",
                store.backend.parameter_list(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for seq in chunk {
                query = query.bind(*seq);
            }
            query.execute(&mut *conn).await.map_err(db("clearing release entries"))?;
        }
        let entries: Vec<(i64, &ReleaseEntry)> =
            computed.iter().flat_map(|(seq, entries)| entries.iter().map(move |entry| (*seq, entry))).collect();
        insert_entries(store.backend, conn, &parties, &entries).await?;
        let now: listing::Pairs = entries.iter().map(|(seq, entry)| (entry.party.to_string(), *seq)).collect();
        listing::relist(store.backend, conn, &before, &now, i64::MAX).await?;
    }
    // Marking definitions go to their originator and every party receiving an object using them.
    for seq in definitions {
        store.rederive_marking(conn, seq, i64::MAX).await?;
    }
    Ok(())
}

/// Inserts release-index rows, several per statement.
async fn insert_entries(
    backend: Backend,
    conn: &mut AnyConnection,
    parties: &HashSet<String>,
    entries: &[(i64, &ReleaseEntry)],
) -> Result<()> {
    if let Some((_, entry)) = entries.iter().find(|(_, entry)| !parties.contains(entry.party.as_str())) {
        return Err(StoreError::UnknownParty(entry.party.to_string()));
    }
    for chunk in entries.chunks(ENTRIES_PER_INSERT) {
        let sql = format!(
            "INSERT INTO release_index (party, object_seq, portions, min_clearance) VALUES {}",
            backend.tuples(4, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for (seq, entry) in chunk {
            query = query
                .bind(entry.party.as_str())
                .bind(*seq)
                .bind(entry.portions.as_bytes())
                .bind(i64::from(entry.min_clearance.rank()));
        }
        query.execute(&mut *conn).await.map_err(db("storing release entries"))?;
    }
    Ok(())
}

async fn stored_parties(conn: &mut AnyConnection) -> Result<HashSet<String>> {
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT code FROM parties").fetch_all(&mut *conn).await.map_err(db("reading parties"))?;
    Ok(codes.into_iter().collect())
}

async fn read_state(conn: &mut AnyConnection) -> Result<HubState> {
    let row = sqlx::query("SELECT version, policies, index_valid_until FROM hub_state WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading the hub state"))?
        .ok_or(StoreError::NotInitialised)?;
    let version: i64 = get(&row, 0)?;
    let policies: PolicySource = serde_json::from_str(&get::<String>(&row, 1)?)
        .map_err(|e| StoreError::Corrupt(format!("stored policies: {e}")))?;
    let index_valid_until = get::<Option<String>>(&row, 2)?.as_deref().map(parse_timestamp).transpose()?;

    let mut declared = Declared::default();
    let settings: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE name = $1")
        .bind(DECONFLICTION_META)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading the deconfliction settings"))?;
    if let Some(settings) = settings {
        declared.deconfliction = serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(format!("stored deconfliction settings: {e}")))?;
    }
    let mut retired_parties = Vec::new();
    for row in fetch_all(conn, "SELECT code, name, active FROM parties ORDER BY code", "reading parties").await? {
        let code = decode_code(&get::<String>(&row, 0)?)?;
        if get::<i64>(&row, 2)? == 1 {
            declared.parties.push(Party { code, name: get(&row, 1)? });
        } else {
            retired_parties.push(code);
        }
    }

    let mut groups = BTreeMap::new();
    for row in fetch_all(conn, "SELECT code, name FROM coalition_groups ORDER BY code", "reading groups").await? {
        let code = decode_code(&get::<String>(&row, 0)?)?;
        groups.insert(code.clone(), Group { code, name: get(&row, 1)?, members: BTreeSet::new() });
    }
    for row in fetch_all(conn, "SELECT group_code, party FROM group_members", "reading group members").await? {
        let code = decode_code(&get::<String>(&row, 0)?)?;
        let member = decode_code(&get::<String>(&row, 1)?)?;
        if let Some(group) = groups.get_mut(&code) {
            group.members.insert(member);
        }
    }
    declared.groups = groups.into_values().collect();

    let mut revoked_agreements = Vec::new();
    let agreements = fetch_all(
        conn,
        "SELECT from_party, id, recipients, max_classification, topics, onward, \
                valid_from, valid_until, revoked_at, declared \
         FROM agreements ORDER BY from_party, id",
        "reading agreements",
    )
    .await?;
    for row in agreements {
        let agreement = decode_agreement(&row)?;
        if get::<i64>(&row, 9)? == 1 {
            declared.agreements.push(agreement);
        } else {
            revoked_agreements.push(agreement);
        }
    }

    for row in
        fetch_all(conn, "SELECT from_party, against FROM embargoes ORDER BY from_party, against", "reading embargoes")
            .await?
    {
        declared.embargoes.push(Embargo {
            from: decode_code(&get::<String>(&row, 0)?)?,
            against: decode_code(&get::<String>(&row, 1)?)?,
        });
    }

    let mut retired_users = Vec::new();
    for row in
        fetch_all(conn, "SELECT name, party, clearance, active FROM users ORDER BY name", "reading users").await?
    {
        let user = decode_user(&row)?;
        if get::<i64>(&row, 3)? == 1 {
            declared.users.push(user);
        } else {
            retired_users.push(user.name);
        }
    }

    for row in fetch_all(
        conn,
        "SELECT id, title, description, owner, readers, writers FROM collections WHERE declared = 1 ORDER BY id",
        "reading collections",
    )
    .await?
    {
        let id: String = get(&row, 0)?;
        let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("{what} of collection {id}: {e}"));
        let readers = get::<Option<String>>(&row, 4)?
            .map(|text| serde_json::from_str(&text).map_err(|e| corrupt("readers", e)))
            .transpose()?;
        let writers = serde_json::from_str(&get::<String>(&row, 5)?).map_err(|e| corrupt("writers", e))?;
        declared.collections.push(Collection {
            title: get(&row, 1)?,
            description: get(&row, 2)?,
            owner: decode_code(&get::<String>(&row, 3)?)?,
            readers,
            writers,
            is_feed: false,
            id,
        });
    }

    Ok(HubState { version, declared, retired_parties, retired_users, revoked_agreements, policies, index_valid_until })
}

async fn execute(conn: &mut AnyConnection, sql: &'static str, context: &'static str) -> Result<()> {
    sqlx::query(sql).execute(&mut *conn).await.map_err(db(context))?;
    Ok(())
}

async fn fetch_all(conn: &mut AnyConnection, sql: &'static str, context: &'static str) -> Result<Vec<AnyRow>> {
    sqlx::query(sql).fetch_all(&mut *conn).await.map_err(db(context))
}

/// Wraps a driver error with what the store was doing; a missing table means no `migrate` yet.
fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| {
        let missing_table = match &source {
            // 42P01: PostgreSQL's undefined_table; SQLite only says it in words.
            sqlx::Error::Database(error) => {
                error.code().as_deref() == Some("42P01") || error.message().starts_with("no such table")
            }
            _ => false,
        };
        if missing_table {
            StoreError::NotInitialised
        } else {
            StoreError::Database { context, source }
        }
    }
}

fn get<'r, T>(row: &'r AnyRow, index: usize) -> Result<T>
where
    T: Decode<'r, Any> + Type<Any>,
{
    row.try_get(index).map_err(db("decoding a stored value"))
}

fn decode_code(text: &str) -> Result<Code> {
    Code::new(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode_classification(rank: i64) -> Result<Classification> {
    Classification::from_rank(rank).ok_or_else(|| StoreError::Corrupt(format!("{rank} is not a classification rank")))
}

fn decode_user(row: &AnyRow) -> Result<User> {
    let name: String = get(row, 0)?;
    Ok(User {
        name: UserName::new(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        party: decode_code(&get::<String>(row, 1)?)?,
        clearance: decode_classification(get(row, 2)?)?,
    })
}

fn decode_entry(row: &AnyRow) -> Result<ReleaseEntry> {
    decode_entry_at(row, 0)
}

/// A release entry from the three columns (party, portions, min_clearance) starting at `first`.
fn decode_entry_at(row: &AnyRow, first: usize) -> Result<ReleaseEntry> {
    Ok(ReleaseEntry {
        party: decode_code(&get::<String>(row, first)?)?,
        portions: PortionSet::from_bytes(get(row, first + 1)?),
        min_clearance: decode_classification(get(row, first + 2)?)?,
    })
}

fn decode_agreement(row: &AnyRow) -> Result<Agreement> {
    let from = decode_code(&get::<String>(row, 0)?)?;
    let id: String = get(row, 1)?;
    let corrupt =
        |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("{what} of agreement {from}/{id}: {e}"));
    let to = serde_json::from_str(&get::<String>(row, 2)?).map_err(|e| corrupt("recipients", e))?;
    let topics = get::<Option<String>>(row, 4)?
        .map(|text| serde_json::from_str(&text).map_err(|e| corrupt("topics", e)))
        .transpose()?;
    let optional_time = |index| -> Result<Option<OffsetDateTime>> {
        get::<Option<String>>(row, index)?.as_deref().map(parse_timestamp).transpose()
    };
    Ok(Agreement {
        max_classification: decode_classification(get(row, 3)?)?,
        topics,
        onward: get::<i64>(row, 5)? == 1,
        valid_from: optional_time(6)?,
        valid_until: optional_time(7)?,
        revoked_at: optional_time(8)?,
        to,
        from,
        id,
    })
}

fn decode_report(text: &str) -> Result<Report> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored report: {e}")))
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds the parameters of [`Backend::ids_in`]: the ids' hashes, then the ids.
fn bind_ids<'q>(mut query: AnyQuery<'q>, ids: &[&'q str]) -> AnyQuery<'q> {
    for id in ids {
        query = query.bind(id_hash(id));
    }
    for id in ids {
        query = query.bind(*id);
    }
    query
}

/// The 64-bit FNV-1a hash of an object id. `objects` is indexed by it: a compact integer index in
/// place of one on random text ids. Every lookup by id compares the id itself too.
pub(super) fn id_hash(id: &str) -> i64 {
    let hash = id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    i64::from_be_bytes(hash.to_be_bytes())
}

fn to_json(value: &impl serde::Serialize, what: &'static str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Unstorable { what, reason: e.to_string() })
}

/// `2026-01-01T00:00:00.000000000Z`: UTC, nine fraction digits, years 0 to 9999.
fn timestamp(at: OffsetDateTime) -> Result<String> {
    let utc = at.to_offset(UtcOffset::UTC);
    let unstorable = |reason: String| StoreError::Unstorable { what: "a timestamp", reason };
    if !(0..=9999).contains(&utc.year()) {
        return Err(unstorable(format!("the year {} is outside 0 to 9999", utc.year())));
    }
    utc.format(TIMESTAMP).map_err(|e| unstorable(e.to_string()))
}

fn parse_timestamp(text: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| StoreError::Corrupt(format!("timestamp `{text}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_are_fixed_width_utc_and_round_trip() {
        let at = datetime!(2026-03-01 12:30:05.5 +02:00);
        let text = timestamp(at).unwrap();
        assert_eq!(text, "2026-03-01T10:30:05.500000000Z");
        assert_eq!(parse_timestamp(&text).unwrap(), at);
        // Text order is time order.
        assert!(timestamp(datetime!(2026-03-01 10:30:05 UTC)).unwrap() < text);
    }

    #[test]
    fn multi_row_values_have_a_parameter_per_value() {
        assert_eq!(Backend::Postgres.tuples(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(Backend::Sqlite.tuples(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Backend::Postgres.parameter_list(3, 2), "$3, $4");
    }
}
