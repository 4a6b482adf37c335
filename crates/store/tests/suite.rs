//! The store's behaviour, written once and run against both backends: SQLite in a temporary
//! directory, PostgreSQL in a fresh database per test.
//!
//! PostgreSQL: `TEARLINE_TEST_POSTGRES_URL` names a role that may `CREATE DATABASE` (scripts/test
//! sets it); without it, each test process starts a throwaway cluster with
//! scripts/postgres-cluster, and fails saying how to run the tests if it cannot.

// Test helpers outside #[test] functions unwrap and panic too: a failure is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use serde_json::json;
use sqlx::{AnyConnection, Connection, Executor};
use tearline_model::{
    Agreement, Classification, Code, Embargo, Group, Marking, Party, Portion, PortionSet, ReleaseEntry, ReleaseFacts,
    Report, Topic, User, UserName,
};
use tearline_store::{
    Declared, ListingPosition, ObjectQuery, PolicySource, Reindexer, SqlStore, Store, StoreError, VersionFilter,
};
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------------------------------------
// Backends

/// A store on one backend, and what to clean up after the test.
struct Fixture {
    store: SqlStore,
    place: Place,
}

enum Place {
    Sqlite(TempDir),
    Postgres { admin_url: String, database: String },
}

impl Fixture {
    async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        // A directory that does not exist yet: opening creates it.
        let store = SqlStore::open_sqlite(&dir.path().join("data")).await.unwrap();
        Fixture { store, place: Place::Sqlite(dir) }
    }

    async fn postgres() -> Fixture {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let admin_url = postgres_admin_url();
        let database = format!("tearline_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        sqlx::any::install_default_drivers();
        let mut admin = AnyConnection::connect(&admin_url).await.unwrap();
        admin.execute(format!("CREATE DATABASE {database}").as_str()).await.unwrap();
        admin.close().await.unwrap();
        let store = SqlStore::open_postgres(&database_url(&admin_url, &database)).await.unwrap();
        Fixture { store, place: Place::Postgres { admin_url, database } }
    }

    async fn migrated(self) -> Fixture {
        self.store.migrate().await.unwrap();
        self
    }

    /// A plain connection to the database, below the store.
    async fn connection(&self) -> AnyConnection {
        let url = match &self.place {
            Place::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join("data").join(tearline_store::SQLITE_FILE).display())
            }
            Place::Postgres { admin_url, database } => database_url(admin_url, database),
        };
        AnyConnection::connect(&url).await.unwrap()
    }

    /// The folder of this backend's migrations.
    fn migrations(&self) -> std::path::PathBuf {
        let backend = match self.place {
            Place::Sqlite(_) => "sqlite",
            Place::Postgres { .. } => "postgres",
        };
        Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend)
    }

    /// Another handle on the same database, as another hub process would have.
    async fn another_process(&self) -> SqlStore {
        match &self.place {
            Place::Sqlite(dir) => SqlStore::open_sqlite(&dir.path().join("data")).await.unwrap(),
            Place::Postgres { admin_url, database } => {
                SqlStore::open_postgres(&database_url(admin_url, database)).await.unwrap()
            }
        }
    }

    async fn finish(self) {
        self.store.close().await;
        if let Place::Postgres { admin_url, database } = &self.place {
            let mut admin = AnyConnection::connect(admin_url).await.unwrap();
            admin.execute(format!("DROP DATABASE {database} WITH (FORCE)").as_str()).await.unwrap();
            admin.close().await.unwrap();
        }
    }
}

/// The server the PostgreSQL tests create their databases on.
fn postgres_admin_url() -> String {
    if let Ok(url) = std::env::var("TEARLINE_TEST_POSTGRES_URL") {
        if !url.is_empty() {
            return url;
        }
    }
    static CLUSTER: OnceLock<String> = OnceLock::new();
    CLUSTER.get_or_init(start_own_cluster).clone()
}

/// A throwaway cluster for this test process, removed by the script once the process has exited.
fn start_own_cluster() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("scripts/postgres-cluster");
    let dir = std::env::temp_dir().join(format!("tearline-store-tests-{}", std::process::id()));
    let output = std::process::Command::new(&script)
        .arg("start")
        .arg(&dir)
        .arg("--watch")
        .arg(std::process::id().to_string())
        .output();
    match output {
        Ok(output) if output.status.success() => String::from_utf8(output.stdout).unwrap().trim().to_string(),
        failed => panic!(
            "the PostgreSQL tests need a server. Run them with `scripts/test`, or set \
             TEARLINE_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/postgres (a role that may CREATE \
             DATABASE). Starting a throwaway cluster with {} failed: {}",
            script.display(),
            match failed {
                Ok(output) => String::from_utf8_lossy(&output.stderr).into_owned(),
                Err(error) => error.to_string(),
            }
        ),
    }
}

/// `admin` with its database replaced by `database`.
fn database_url(admin: &str, database: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    format!("{}/{database}{query}", &base[..path])
}

/// Runs each test on SQLite and on PostgreSQL; `unmigrated` tests get a store before `migrate`.
macro_rules! on_both_backends {
    (migrated: [$($test:ident),* $(,)?], unmigrated: [$($bare:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = super::Fixture::sqlite().await.migrated().await;
                    super::$test(&fixture).await;
                    fixture.finish().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $bare() {
                    let fixture = super::Fixture::sqlite().await;
                    super::$bare(&fixture).await;
                    fixture.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = super::Fixture::postgres().await.migrated().await;
                    super::$test(&fixture).await;
                    fixture.finish().await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $bare() {
                    let fixture = super::Fixture::postgres().await;
                    super::$bare(&fixture).await;
                    fixture.finish().await;
                }
            )*
        }
    };
}

on_both_backends! {
    migrated: [
        onward_changes_replace_facts_and_entries_only_from_what_was_decided,
        a_marking_definition_goes_to_the_parties_of_every_portion_using_it,
        deliveries_events_and_approvals_round_trip,
        sketches_are_found_only_in_text_released_to_the_party_by_others,
        a_hash_in_too_many_texts_counts_for_nothing,
        migrating_twice_is_fine,
        settings_are_set_only_when_absent,
        apply_then_state_round_trips,
        reapplying_the_same_declaration_changes_only_the_version,
        undeclared_parties_and_users_retire_and_agreements_are_revoked_once,
        tokens_work_only_for_active_users_of_active_parties,
        reports_are_stored_with_their_release_entries,
        a_duplicate_id_stores_nothing,
        a_stale_version_is_refused_and_nothing_is_stored,
        a_batch_is_stored_in_one_go_in_the_order_given,
        a_batch_with_a_duplicate_stores_nothing,
        a_stale_batch_stores_nothing,
        entries_for_unknown_parties_are_refused,
        listing_respects_party_and_clearance_and_pages_with_a_cursor,
        cursors_the_caller_may_not_see_are_unknown,
        apply_set_policies_and_reindex_rebuild_the_index,
        reports_page_iterates_everything,
        a_rebuild_pages_through_more_reports_than_one_batch,
        versions_released_later_are_listed_after_what_the_party_had,
        concurrent_writers_with_one_version_succeed_once,
        ledger_appends_keep_entries_tree_and_head_together,
        ledger_entries_go_with_the_change_or_not_at_all,
        concurrent_ledger_appends_make_one_log,
        checkpoints_cosignatures_and_witnessed_logs_round_trip,
        activities_register_amend_and_withdraw_round_trip,
        a_stale_activity_change_is_refused_and_writes_nothing,
        submissions_are_read_by_party_from_a_time,
        conflicts_are_read_by_either_party_after_a_seq,
        deconfliction_flags_round_trip,
        concurrent_activity_changes_from_one_picture_succeed_once,
    ],
    unmigrated: [
        an_unmigrated_store_says_so,
        reports_stored_before_stix_objects_are_carried_over,
        objects_stored_before_id_hashes_are_found_and_positions_are_not_reused,
    ],
}

// ---------------------------------------------------------------------------------------------
// Data

fn code(text: &str) -> Code {
    Code::new(text).unwrap()
}

fn name(text: &str) -> UserName {
    UserName::new(text).unwrap()
}

fn topic(text: &str) -> Topic {
    Topic::new(text).unwrap()
}

const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

fn user(user_name: &str, party: &str, clearance: Classification) -> User {
    User { name: name(user_name), party: code(party), clearance }
}

fn agreement(id: &str, to: &[&str], max: Classification) -> Agreement {
    Agreement {
        id: id.into(),
        from: code("USA"),
        to: to.iter().map(|c| code(c)).collect(),
        max_classification: max,
        topics: None,
        onward: false,
        valid_from: None,
        valid_until: None,
        revoked_at: None,
    }
}

/// The coalition of the design brief, each list in the order `state()` returns it.
fn coalition() -> Declared {
    Declared {
        // Not the defaults, so that reading the state back shows they were stored.
        deconfliction: tearline_deconflict::Settings {
            identify: vec!["USA".into()],
            h3_resolution: 7,
            ..Default::default()
        },
        collections: Vec::new(),
        parties: vec![
            Party { code: code("IRQ"), name: "Iraq".into() },
            Party { code: code("SYR"), name: "Syria".into() },
            Party { code: code("USA"), name: "United States".into() },
        ],
        groups: vec![Group {
            code: code("BIC"),
            name: "Baghdad information centre".into(),
            members: [code("IRQ"), code("SYR")].into(),
        }],
        agreements: vec![
            Agreement {
                topics: Some([topic("counter-ied")].into()),
                onward: true,
                valid_from: Some(datetime!(2026-01-01 0:00 UTC)),
                valid_until: Some(datetime!(2027-01-01 0:00:00.123456789 UTC)),
                ..agreement("usa-bic", &["BIC"], Classification::Confidential)
            },
            agreement("usa-irq", &["IRQ"], Classification::Secret),
        ],
        embargoes: vec![Embargo { from: code("USA"), against: code("SYR") }],
        users: vec![
            user("irq-analyst", "IRQ", Classification::Secret),
            user("syr-analyst", "SYR", Classification::TopSecret),
            user("us-analyst", "USA", Classification::TopSecret),
        ],
    }
}

/// The coalition without SYR: its party, its user, the BIC agreement and the embargo.
fn coalition_without_syria() -> Declared {
    let mut declared = coalition();
    declared.parties.retain(|p| p.code.as_str() != "SYR");
    declared.users.retain(|u| u.party.as_str() != "SYR");
    declared.groups[0].members.remove(&code("SYR"));
    declared.agreements.retain(|a| a.id != "usa-bic");
    declared.embargoes.clear();
    declared
}

fn report(number: u32) -> Report {
    Report {
        id: format!("report--{number:05}"),
        originator: code("USA"),
        created: NOW + Duration::seconds(i64::from(number)),
        title: Portion { marking: Marking::classified(Classification::Unclassified), text: format!("Report {number}") },
        // The number is a topic too, so that a test's reindexer can tell reports apart by their facts.
        topics: [topic("counter-ied"), topic(&format!("number-{number:05}"))].into(),
        paragraphs: vec![Portion {
            marking: Marking::classified(Classification::Secret),
            text: "Devices found.".into(),
        }],
    }
}

fn stix(report: &Report) -> serde_json::Value {
    json!({ "type": "report", "spec_version": "2.1", "id": report.id, "name": report.title.text })
}

fn entry(party: &str, min_clearance: Classification) -> ReleaseEntry {
    ReleaseEntry { party: code(party), portions: [0, 1].into_iter().collect(), min_clearance }
}

/// A release rule for tests: the entries of a report, from its number.
struct Rule(fn(u32) -> Vec<ReleaseEntry>);

impl Reindexer for Rule {
    fn entries(&self, facts: &ReleaseFacts) -> Vec<ReleaseEntry> {
        let number = facts.topics.iter().find_map(|t| t.as_str().strip_prefix("number-")).unwrap();
        (self.0)(number.parse().unwrap())
    }
}

/// USA sees everything; IRQ the even reports, those divisible by 4 only at SECRET.
fn irq_even(number: u32) -> Vec<ReleaseEntry> {
    let mut entries = vec![entry("USA", Classification::Unclassified)];
    if number % 2 == 0 {
        let min = if number % 4 == 0 { Classification::Secret } else { Classification::Confidential };
        entries.push(entry("IRQ", min));
    }
    entries
}

/// USA sees everything; IRQ the odd reports.
fn irq_odd(number: u32) -> Vec<ReleaseEntry> {
    let mut entries = vec![entry("USA", Classification::Unclassified)];
    if number % 2 == 1 {
        entries.push(entry("IRQ", Classification::Confidential));
    }
    entries
}

fn nobody(_: u32) -> Vec<ReleaseEntry> {
    Vec::new()
}

/// Applies the brief's coalition to a fresh store; returns the new version.
async fn applied(store: &SqlStore) -> i64 {
    let version = store.version().await.unwrap();
    store.apply(version, &coalition(), NOW, None, &Rule(nobody), &[]).await.unwrap()
}

/// Inserts reports `numbers` with their entries under `rule`.
async fn insert_reports(store: &SqlStore, numbers: impl IntoIterator<Item = u32>, rule: fn(u32) -> Vec<ReleaseEntry>) {
    let version = store.version().await.unwrap();
    for number in numbers {
        let report = report(number);
        store.insert_report(version, &report, &stix(&report), &rule(number)).await.unwrap();
    }
}

async fn listed(store: &SqlStore, party: &str, clearance: Classification, after: Option<&str>, limit: u32) -> Vec<u32> {
    let summaries = store.list_reports(&code(party), clearance, after, limit).await.unwrap();
    summaries.iter().map(|s| s.id.trim_start_matches("report--").parse().unwrap()).collect()
}

/// Everything `party` may list at `clearance`, a page of 3 at a time.
async fn listed_all(store: &SqlStore, party: &str, clearance: Classification) -> Vec<u32> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map(|n: &u32| format!("report--{n:05}"));
        let page = listed(store, party, clearance, after.as_deref(), 3).await;
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

/// A store migrated only up to `below` (exclusive), on a connection of the test's own, holding
/// the parties USA and IRQ: for rows written as an older schema wrote them.
async fn migrated_below(fixture: &Fixture, below: i64) -> AnyConnection {
    let mut older = sqlx::migrate::Migrator::new(fixture.migrations()).await.unwrap();
    older.migrations =
        std::borrow::Cow::Owned(older.migrations.iter().filter(|m| m.version < below).cloned().collect());
    let mut conn = fixture.connection().await;
    older.run(&mut conn).await.unwrap();
    for (code, name) in [("USA", "United States"), ("IRQ", "Iraq")] {
        sqlx::query("INSERT INTO parties (code, name, active) VALUES ($1, $2, 1)")
            .bind(code)
            .bind(name)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn
}

/// A store made by the first schema, holding a report, upgraded: the report, its release entries
/// and its release facts (computed by the migration, in SQL) are as a fresh store would have them.
async fn reports_stored_before_stix_objects_are_carried_over(fixture: &Fixture) {
    let mut conn = migrated_below(fixture, 2).await;
    let mut stored = report(7);
    stored
        .paragraphs
        .push(Portion { marking: Marking::classified(Classification::Confidential), text: "Second paragraph.".into() });
    sqlx::query(
        "INSERT INTO objects (id, stix_type, originator, title, created, report, stix) \
         VALUES ($1, 'report', 'USA', $2, '2026-03-01T12:00:07.000000000Z', $3, $4)",
    )
    .bind(stored.id.as_str())
    .bind(stored.title.text.as_str())
    .bind(serde_json::to_string(&stored).unwrap())
    .bind(stix(&stored).to_string())
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("INSERT INTO release_index (party, object_seq, portions, min_clearance) VALUES ('IRQ', 1, $1, 2)")
        .bind(vec![0b101_u8])
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let store = &fixture.store;
    store.migrate().await.unwrap();
    assert_eq!(store.report(&stored.id).await.unwrap(), Some(stored.clone()));
    let objects = store.objects_page(0, 10).await.unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].facts, ReleaseFacts::of_report(&stored));
    assert_eq!((objects[0].version, objects[0].date_added), (stored.created, stored.created));
    assert_eq!(objects[0].object_type, "report");
    let listed = store.list_reports(&code("IRQ"), Classification::Secret, None, 10).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [stored.id.as_str()]);
    let entry = store.release_entry(&code("IRQ"), &stored.id).await.unwrap().unwrap();
    assert_eq!(entry.portions.iter().collect::<Vec<_>>(), [0, 2]);
}

/// A store upgraded past the id-hash migration (0008): objects stored before it are found by id,
/// and the highest position ever used is kept, so a new object never takes a deleted one's.
async fn objects_stored_before_id_hashes_are_found_and_positions_are_not_reused(fixture: &Fixture) {
    let mut conn = migrated_below(fixture, 8).await;
    let (kept, deleted) = (report(1), report(2));
    for stored in [&kept, &deleted] {
        sqlx::query(
            "INSERT INTO objects (id, version, stix_type, spec_version, originator, date_added, facts, report, \
             title, created, stix) \
             VALUES ($1, '2026-03-01T12:00:07.000000000Z', 'report', '2.1', 'USA', '2026-03-01T12:00:07.000000000Z', \
             $2, $3, $4, '2026-03-01T12:00:07.000000000Z', $5)",
        )
        .bind(stored.id.as_str())
        .bind(serde_json::to_string(&ReleaseFacts::of_report(stored)).unwrap())
        .bind(serde_json::to_string(stored).unwrap())
        .bind(stored.title.text.as_str())
        .bind(stix(stored).to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    sqlx::query("DELETE FROM objects WHERE id = $1").bind(deleted.id.as_str()).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();

    let store = &fixture.store;
    store.migrate().await.unwrap();
    assert_eq!(store.object_versions(&kept.id).await.unwrap().len(), 1);
    assert_eq!(store.report(&kept.id).await.unwrap(), Some(kept.clone()));
    assert!(store.object_versions(&deleted.id).await.unwrap().is_empty());
    let version = store.version().await.unwrap();
    let added = report(3);
    store.insert_report(version, &added, &stix(&added), &[]).await.unwrap();
    let seqs: Vec<i64> = store.objects_page(0, 10).await.unwrap().iter().map(|o| o.seq).collect();
    assert_eq!(seqs, [1, 3]);
}

async fn an_unmigrated_store_says_so(fixture: &Fixture) {
    let store = &fixture.store;
    assert!(!store.is_initialised().await.unwrap());
    assert!(matches!(store.version().await, Err(StoreError::NotInitialised)));
    assert!(matches!(store.state().await, Err(StoreError::NotInitialised)));
    store.migrate().await.unwrap();
    assert!(store.is_initialised().await.unwrap());
    assert_eq!(store.version().await.unwrap(), 0);
}

async fn migrating_twice_is_fine(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    store.migrate().await.unwrap();
    assert!(store.is_initialised().await.unwrap());
    // Migrating again keeps what was stored.
    assert_eq!(store.version().await.unwrap(), 1);
    assert_eq!(store.state().await.unwrap().declared, coalition());
}

async fn settings_are_set_only_when_absent(fixture: &Fixture) {
    let store = &fixture.store;
    assert_eq!(store.meta("signing_key").await.unwrap(), None);
    assert_eq!(store.init_meta("signing_key", "first").await.unwrap(), "first");
    assert_eq!(store.init_meta("signing_key", "second").await.unwrap(), "first");
    assert_eq!(store.meta("signing_key").await.unwrap().as_deref(), Some("first"));
    assert_eq!(store.meta("other").await.unwrap(), None);
}

async fn apply_then_state_round_trips(fixture: &Fixture) {
    let store = &fixture.store;
    let initial = store.state().await.unwrap();
    assert_eq!(initial.version, 0);
    assert_eq!(initial.declared, Declared::default());
    assert_eq!(initial.policies, PolicySource::default());
    assert_eq!(initial.index_valid_until, None);

    let until = datetime!(2027-01-01 0:00:00.123456789 UTC);
    let version = store.apply(0, &coalition(), NOW, Some(until), &Rule(nobody), &[]).await.unwrap();
    assert_eq!(version, 1);
    let state = store.state().await.unwrap();
    assert_eq!(state.version, 1);
    assert_eq!(state.declared, coalition());
    assert!(state.retired_parties.is_empty());
    assert!(state.retired_users.is_empty());
    assert!(state.revoked_agreements.is_empty());
    assert_eq!(state.index_valid_until, Some(until));
    assert_eq!(store.version().await.unwrap(), 1);
    assert_eq!(store.user(&name("irq-analyst")).await.unwrap(), Some(coalition().users[0].clone()));
    assert_eq!(store.user(&name("nobody")).await.unwrap(), None);
}

async fn reapplying_the_same_declaration_changes_only_the_version(fixture: &Fixture) {
    let store = &fixture.store;
    store.apply(0, &coalition_without_syria(), NOW, None, &Rule(nobody), &[]).await.unwrap();
    store.apply(1, &coalition(), NOW, None, &Rule(nobody), &[]).await.unwrap();
    let before = store.state().await.unwrap();
    let version = store.apply(2, &coalition(), NOW + Duration::hours(1), None, &Rule(nobody), &[]).await.unwrap();
    assert_eq!(version, 3);
    let after = store.state().await.unwrap();
    assert_eq!(after.version, 3);
    assert_eq!(tearline_store::HubState { version: 2, ..after }, before);
}

async fn undeclared_parties_and_users_retire_and_agreements_are_revoked_once(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    let later = NOW + Duration::days(1);
    store.apply(1, &coalition_without_syria(), later, None, &Rule(nobody), &[]).await.unwrap();
    let state = store.state().await.unwrap();
    assert_eq!(state.declared, coalition_without_syria());
    assert_eq!(state.retired_parties, vec![code("SYR")]);
    assert_eq!(state.retired_users, vec![name("syr-analyst")]);
    let revoked = Agreement { revoked_at: Some(later), ..coalition().agreements[0].clone() };
    assert_eq!(state.revoked_agreements, vec![revoked.clone()]);
    assert_eq!(store.user(&name("syr-analyst")).await.unwrap(), None);

    // Revoked once: a later apply keeps the first revocation time.
    store.apply(2, &coalition_without_syria(), later + Duration::days(1), None, &Rule(nobody), &[]).await.unwrap();
    assert_eq!(store.state().await.unwrap().revoked_agreements, vec![revoked]);

    // Declared again, everything is back in force.
    store.apply(3, &coalition(), later + Duration::days(2), None, &Rule(nobody), &[]).await.unwrap();
    let state = store.state().await.unwrap();
    assert_eq!(state.declared, coalition());
    assert!(state.retired_parties.is_empty() && state.retired_users.is_empty());
    assert!(state.revoked_agreements.is_empty());
}

async fn tokens_work_only_for_active_users_of_active_parties(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    let irq_analyst = coalition().users[0].clone();
    let syr_analyst = coalition().users[1].clone();
    let (irq_token, syr_token) = ([1_u8; 32], [2_u8; 32]);
    store.insert_token(&irq_analyst.name, &irq_token, NOW).await.unwrap();
    store.insert_token(&syr_analyst.name, &syr_token, NOW).await.unwrap();
    assert_eq!(store.user_for_token(&irq_token).await.unwrap(), Some(irq_analyst.clone()));
    assert_eq!(store.user_for_token(&syr_token).await.unwrap(), Some(syr_analyst.clone()));
    assert_eq!(store.user_for_token(&[3; 32]).await.unwrap(), None);
    assert!(matches!(store.insert_token(&name("nobody"), &[4; 32], NOW).await, Err(StoreError::UnknownUser(_))));
    assert!(matches!(store.insert_token(&irq_analyst.name, &irq_token, NOW).await, Err(StoreError::DuplicateToken)));

    // SYR retired with its user: the token stops working, and no new one can be issued.
    store.apply(1, &coalition_without_syria(), NOW, None, &Rule(nobody), &[]).await.unwrap();
    assert_eq!(store.user_for_token(&syr_token).await.unwrap(), None);
    assert!(matches!(store.insert_token(&syr_analyst.name, &[5; 32], NOW).await, Err(StoreError::UnknownUser(_))));

    // A user still declared, of a party no longer declared, has no access either.
    let mut party_retired = coalition();
    party_retired.parties.retain(|p| p.code.as_str() != "IRQ");
    store.apply(2, &party_retired, NOW, None, &Rule(nobody), &[]).await.unwrap();
    assert_eq!(store.user_for_token(&irq_token).await.unwrap(), None);

    // Declared again, the old tokens work again.
    store.apply(3, &coalition(), NOW, None, &Rule(nobody), &[]).await.unwrap();
    assert_eq!(store.user_for_token(&irq_token).await.unwrap(), Some(irq_analyst));
    assert_eq!(store.user_for_token(&syr_token).await.unwrap(), Some(syr_analyst));
}

async fn reports_are_stored_with_their_release_entries(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    let report = report(4);
    let entries = vec![entry("USA", Classification::Unclassified), entry("IRQ", Classification::Secret)];
    store.insert_report(version, &report, &stix(&report), &entries).await.unwrap();
    // Inserting checks the version but does not move it.
    assert_eq!(store.version().await.unwrap(), version);

    assert_eq!(store.report(&report.id).await.unwrap(), Some(report.clone()));
    assert_eq!(store.report_stix(&report.id).await.unwrap(), Some(stix(&report)));
    assert_eq!(store.release_entry(&code("IRQ"), &report.id).await.unwrap(), Some(entries[1].clone()));
    assert_eq!(store.release_entry(&code("SYR"), &report.id).await.unwrap(), None);
    // Ordered by party.
    assert_eq!(store.release_entries(&report.id).await.unwrap(), vec![entries[1].clone(), entries[0].clone()]);
    assert_eq!(store.report("report--99999").await.unwrap(), None);
    assert_eq!(store.report_stix("report--99999").await.unwrap(), None);
    assert!(store.release_entries("report--99999").await.unwrap().is_empty());
    assert_eq!(store.count_reports().await.unwrap(), 1);

    // Portion sets keep exactly their bits.
    let sparse = ReleaseEntry {
        party: code("IRQ"),
        portions: [0, 9, 17].into_iter().collect::<PortionSet>(),
        min_clearance: Classification::Confidential,
    };
    let other = self::report(5);
    store.insert_report(version, &other, &stix(&other), std::slice::from_ref(&sparse)).await.unwrap();
    assert_eq!(store.release_entry(&code("IRQ"), &other.id).await.unwrap(), Some(sparse));
}

async fn a_duplicate_id_stores_nothing(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    let original = report(1);
    store
        .insert_report(version, &original, &stix(&original), &[entry("USA", Classification::Unclassified)])
        .await
        .unwrap();

    let mut impostor = report(1);
    impostor.title.text = "Something else".into();
    let result =
        store.insert_report(version, &impostor, &stix(&impostor), &[entry("SYR", Classification::Unclassified)]).await;
    assert!(matches!(result, Err(StoreError::Duplicate(id)) if id == original.id));
    assert_eq!(store.report(&original.id).await.unwrap(), Some(original.clone()));
    assert_eq!(store.report_stix(&original.id).await.unwrap(), Some(stix(&original)));
    assert_eq!(store.release_entry(&code("SYR"), &original.id).await.unwrap(), None);
    assert_eq!(store.count_reports().await.unwrap(), 1);
}

async fn a_stale_version_is_refused_and_nothing_is_stored(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    let stale = version - 1;
    let report = report(1);
    let stale_error = |result: Result<_, StoreError>| matches!(result, Err(StoreError::Stale { expected, found }) if expected == stale && found == version);
    assert!(stale_error(
        store
            .insert_report(stale, &report, &stix(&report), &[entry("USA", Classification::Unclassified)])
            .await
            .map(|_| 0)
    ));
    assert_eq!(store.count_reports().await.unwrap(), 0);
    assert_eq!(store.report(&report.id).await.unwrap(), None);

    let before = store.state().await.unwrap();
    assert!(stale_error(store.apply(stale, &coalition_without_syria(), NOW, None, &Rule(irq_even), &[]).await));
    let policies = PolicySource { digest: "d".into(), files: [("a.cedar".into(), "forbid(...);".into())].into() };
    assert!(stale_error(store.set_policies(stale, &policies, None, &Rule(irq_even), &[]).await));
    assert!(stale_error(store.reindex(stale, Some(NOW), &Rule(irq_even)).await));
    assert_eq!(store.state().await.unwrap(), before);
}

/// Reports `numbers` with their STIX forms and their entries under `rule`, as a batch.
fn batch(
    numbers: impl IntoIterator<Item = u32>,
    rule: fn(u32) -> Vec<ReleaseEntry>,
) -> Vec<(Report, serde_json::Value, Vec<ReleaseEntry>)> {
    numbers
        .into_iter()
        .map(|number| {
            let report = report(number);
            let stix = stix(&report);
            (report, stix, rule(number))
        })
        .collect()
}

async fn a_batch_is_stored_in_one_go_in_the_order_given(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    store.insert_reports(version, &[]).await.unwrap();
    assert_eq!(store.count_reports().await.unwrap(), 0);

    // More reports than one INSERT of objects, more entries than one INSERT of index rows; not in
    // number order, to see that storage order is the order given.
    let mut numbers: Vec<u32> = (1..=450).collect();
    numbers.swap(0, 449);
    store.insert_reports(version, &batch(numbers.iter().copied(), irq_even)).await.unwrap();
    // Inserting checks the version but does not move it.
    assert_eq!(store.version().await.unwrap(), version);
    assert_eq!(store.count_reports().await.unwrap(), 450);

    let mut stored = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.reports_page(after.as_deref(), 100).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        stored.extend(page);
    }
    assert_eq!(stored, numbers.iter().map(|n| report(*n)).collect::<Vec<_>>());
    let mut irq_expected: Vec<u32> = numbers.iter().copied().filter(|n| n % 2 == 0).collect();
    assert_eq!(listed_all(store, "IRQ", Classification::Secret).await, irq_expected);
    irq_expected.retain(|n| n % 4 != 0);
    assert_eq!(listed_all(store, "IRQ", Classification::Confidential).await, irq_expected);
    for number in [3, 4] {
        let mut expected = irq_even(number);
        expected.sort_by(|a, b| a.party.cmp(&b.party));
        assert_eq!(store.release_entries(&format!("report--{number:05}")).await.unwrap(), expected);
    }
    let last = report(1);
    assert_eq!(store.report_stix(&last.id).await.unwrap(), Some(stix(&last)));

    // A second batch goes after the first.
    store.insert_reports(version, &batch(451..=452, irq_even)).await.unwrap();
    let usa = listed(store, "USA", Classification::Unclassified, Some("report--00001"), 10).await;
    assert_eq!(usa, [451, 452]);
}

async fn a_batch_with_a_duplicate_stores_nothing(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    insert_reports(store, [7], irq_even).await;

    // The same id twice in the batch.
    let twice = batch([1, 2, 3, 2, 4], irq_even);
    let result = store.insert_reports(version, &twice).await;
    assert!(matches!(result, Err(StoreError::Duplicate(id)) if id == "report--00002"));
    // An id already stored, past the first INSERT of the batch.
    let stored_already = batch((1..=300).chain([7]), irq_even);
    let result = store.insert_reports(version, &stored_already).await;
    assert!(matches!(result, Err(StoreError::Duplicate(id)) if id == "report--00007"));
    // An entry for a party the store does not hold.
    let mut unknown_party = batch(1..=3, irq_even);
    unknown_party[2].2.push(entry("XYZ", Classification::Unclassified));
    let result = store.insert_reports(version, &unknown_party).await;
    assert!(matches!(result, Err(StoreError::UnknownParty(party)) if party == "XYZ"));

    assert_eq!(store.count_reports().await.unwrap(), 1);
    assert_eq!(store.report("report--00001").await.unwrap(), None);
    assert!(store.release_entries("report--00002").await.unwrap().is_empty());
    assert_eq!(listed_all(store, "USA", Classification::TopSecret).await, [7]);
    assert_eq!(store.release_entries("report--00007").await.unwrap(), [entry("USA", Classification::Unclassified)]);
}

async fn a_stale_batch_stores_nothing(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    let result = store.insert_reports(version - 1, &batch(1..=3, irq_even)).await;
    assert!(
        matches!(result, Err(StoreError::Stale { expected, found }) if expected == version - 1 && found == version)
    );
    assert!(matches!(store.insert_reports(version + 1, &[]).await, Err(StoreError::Stale { .. })));
    assert_eq!(store.count_reports().await.unwrap(), 0);
    assert_eq!(store.report("report--00001").await.unwrap(), None);
    assert!(listed_all(store, "USA", Classification::TopSecret).await.is_empty());
    assert_eq!(store.version().await.unwrap(), version);
}

async fn entries_for_unknown_parties_are_refused(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    let report = report(1);
    let result =
        store.insert_report(version, &report, &stix(&report), &[entry("XYZ", Classification::Unclassified)]).await;
    assert!(matches!(result, Err(StoreError::UnknownParty(party)) if party == "XYZ"));
    assert_eq!(store.count_reports().await.unwrap(), 0);

    let mut foreign = self::report(2);
    foreign.originator = code("XYZ");
    let result = store.insert_report(version, &foreign, &stix(&foreign), &[]).await;
    assert!(matches!(result, Err(StoreError::UnknownParty(party)) if party == "XYZ"));
    assert_eq!(store.count_reports().await.unwrap(), 0);
}

async fn listing_respects_party_and_clearance_and_pages_with_a_cursor(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    insert_reports(store, 1..=10, irq_even).await;
    use Classification::*;

    assert_eq!(listed(store, "IRQ", TopSecret, None, 100).await, [2, 4, 6, 8, 10]);
    assert_eq!(listed(store, "IRQ", Secret, None, 100).await, [2, 4, 6, 8, 10]);
    assert_eq!(listed(store, "IRQ", Confidential, None, 100).await, [2, 6, 10]);
    assert!(listed(store, "IRQ", Unclassified, None, 100).await.is_empty());
    assert!(listed(store, "SYR", TopSecret, None, 100).await.is_empty());
    assert!(listed(store, "XYZ", TopSecret, None, 100).await.is_empty());

    assert_eq!(listed(store, "USA", Unclassified, None, 4).await, [1, 2, 3, 4]);
    assert_eq!(listed(store, "USA", Unclassified, Some("report--00004"), 4).await, [5, 6, 7, 8]);
    assert_eq!(listed(store, "USA", Unclassified, Some("report--00008"), 4).await, [9, 10]);
    assert!(listed(store, "USA", Unclassified, Some("report--00010"), 4).await.is_empty());
    assert_eq!(listed(store, "IRQ", Secret, Some("report--00004"), 2).await, [6, 8]);
    assert_eq!(listed_all(store, "IRQ", Confidential).await, [2, 6, 10]);
    assert!(listed(store, "USA", Unclassified, None, 0).await.is_empty());

    let summaries = store.list_reports(&code("IRQ"), Secret, None, 1).await.unwrap();
    let expected = report(2);
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].id, expected.id);
    assert_eq!(summaries[0].originator, expected.originator);
    assert_eq!(summaries[0].title, expected.title.text);
    assert_eq!(summaries[0].created, expected.created);
}

async fn cursors_the_caller_may_not_see_are_unknown(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    insert_reports(store, 1..=8, irq_even).await;
    use Classification::*;
    let unknown = |result: Result<_, StoreError>| matches!(result, Err(StoreError::UnknownCursor));

    // Stored, but not released to IRQ at all.
    assert!(unknown(store.list_reports(&code("IRQ"), TopSecret, Some("report--00001"), 10).await));
    // Released to IRQ, but above this clearance.
    assert!(unknown(store.list_reports(&code("IRQ"), Confidential, Some("report--00004"), 10).await));
    assert_eq!(listed(store, "IRQ", Secret, Some("report--00004"), 10).await, [6, 8]);
    // Not stored at all: the same answer.
    assert!(unknown(store.list_reports(&code("IRQ"), TopSecret, Some("report--99999"), 10).await));
    assert!(unknown(store.list_reports(&code("SYR"), TopSecret, Some("report--00002"), 10).await));
    assert!(matches!(store.reports_page(Some("report--99999"), 10).await, Err(StoreError::UnknownCursor)));
}

async fn apply_set_policies_and_reindex_rebuild_the_index(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    insert_reports(store, 1..=6, irq_even).await;
    use Classification::*;
    assert_eq!(listed_all(store, "IRQ", TopSecret).await, [2, 4, 6]);

    let until = NOW + Duration::days(30);
    let version = store.apply(1, &coalition(), NOW, Some(until), &Rule(irq_odd), &[]).await.unwrap();
    assert_eq!(version, 2);
    assert_eq!(listed_all(store, "IRQ", TopSecret).await, [1, 3, 5]);
    assert_eq!(listed_all(store, "USA", Unclassified).await, [1, 2, 3, 4, 5, 6]);
    assert_eq!(store.release_entry(&code("IRQ"), "report--00002").await.unwrap(), None);
    assert_eq!(store.state().await.unwrap().index_valid_until, Some(until));

    let policies = PolicySource {
        digest: "sha256:abc".into(),
        files: [("local.cedar".into(), "forbid(principal, action, resource);".into())].into(),
    };
    let version = store.set_policies(version, &policies, None, &Rule(nobody), &[]).await.unwrap();
    assert_eq!(version, 3);
    assert!(listed_all(store, "IRQ", TopSecret).await.is_empty());
    assert!(listed_all(store, "USA", TopSecret).await.is_empty());
    let state = store.state().await.unwrap();
    assert_eq!(state.policies, policies);
    assert_eq!(state.index_valid_until, None);

    let version = store.reindex(version, Some(until), &Rule(irq_even)).await.unwrap();
    assert_eq!(version, 4);
    assert_eq!(listed_all(store, "IRQ", TopSecret).await, [2, 4, 6]);
    assert_eq!(store.state().await.unwrap().policies, policies);

    // A rebuild that fails stores nothing: the old index stays.
    let result = store.reindex(version, None, &Rule(|_| vec![entry("XYZ", Classification::Unclassified)])).await;
    assert!(matches!(result, Err(StoreError::UnknownParty(_))));
    assert_eq!(store.version().await.unwrap(), version);
    assert_eq!(listed_all(store, "IRQ", TopSecret).await, [2, 4, 6]);
}

/// USA and IRQ see everything.
fn irq_all(_: u32) -> Vec<ReleaseEntry> {
    vec![entry("USA", Classification::Unclassified), entry("IRQ", Classification::Unclassified)]
}

/// Every version `party` may receive at TOP SECRET, from the start of its listings, 100 at most.
fn every_version_for(party: &str) -> ObjectQuery {
    ObjectQuery {
        party: code(party),
        clearance: Classification::TopSecret,
        collection: None,
        after: ListingPosition::default(),
        added_after: None,
        ids: Vec::new(),
        types: Vec::new(),
        spec_versions: Vec::new(),
        versions: VersionFilter { all: true, ..VersionFilter::default() },
        limit: 100,
    }
}

/// What `party` finds in its listings after `added_after`: (report number or object id, listing
/// position, date added), in order.
async fn listing(
    store: &SqlStore,
    party: &str,
    added_after: Option<OffsetDateTime>,
) -> Vec<(String, ListingPosition, OffsetDateTime)> {
    let query = ObjectQuery { added_after, ..every_version_for(party) };
    let released = store.released_objects(&query).await.unwrap();
    released
        .into_iter()
        .map(|r| (r.object.id.trim_start_matches("report--").to_string(), r.position, r.object.date_added))
        .collect()
}

fn names(listed: &[(String, ListingPosition, OffsetDateTime)]) -> Vec<&str> {
    listed.iter().map(|(name, _, _)| name.as_str()).collect()
}

/// A version a party may receive only from a rebuild on is listed after everything it had,
/// dated then, so polling with `added_after` finds it; a rebuild that changes nothing moves
/// nothing; a version withdrawn and released again comes again.
async fn versions_released_later_are_listed_after_what_the_party_had(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    insert_reports(store, 1..=4, irq_even).await;
    let before = listing(store, "IRQ", None).await;
    assert_eq!(names(&before), ["00002", "00004"]);
    assert!(before.iter().all(|(_, position, _)| position.order == 0));
    let last_seen = before[1].2;

    let version = store.version().await.unwrap();
    let version = store.reindex(version, None, &Rule(irq_all)).await.unwrap();
    let after = listing(store, "IRQ", None).await;
    assert_eq!(names(&after), ["00002", "00004", "00001", "00003"]);
    assert_eq!(after[..2], before[..]);
    let seq_of_4 = stored(store, 4).await.seq;
    for pair in after.windows(2) {
        assert!(pair[0].1 < pair[1].1 && pair[0].2 < pair[1].2, "positions and dates increase: {pair:?}");
    }
    assert!(after[2..].iter().all(|(_, position, _)| position.after_seq == seq_of_4 && position.order > 0));
    // A client that saw up to report 4 finds the two it may now receive.
    assert_eq!(names(&listing(store, "IRQ", Some(last_seen)).await), ["00001", "00003"]);
    // Paging on from report 4's position finds them too.
    let query = ObjectQuery { after: after[1].1, limit: 1, ..every_version_for("IRQ") };
    let page = store.released_objects(&query).await.unwrap();
    assert_eq!(page.iter().map(|r| r.object.id.as_str()).collect::<Vec<_>>(), ["report--00001"]);
    // USA received everything from the start: nothing moved for it.
    assert!(listing(store, "USA", None).await.iter().all(|(_, position, _)| position.order == 0));

    let version = store.reindex(version, None, &Rule(irq_all)).await.unwrap();
    assert_eq!(listing(store, "IRQ", None).await, after, "a rebuild that changes nothing moves nothing");

    // Withdrawn, then released again: it comes again, after what was listed before.
    let version = store.reindex(version, None, &Rule(irq_even)).await.unwrap();
    assert_eq!(names(&listing(store, "IRQ", None).await), ["00002", "00004"]);
    let version = store.reindex(version, None, &Rule(irq_all)).await.unwrap();
    let again = listing(store, "IRQ", None).await;
    assert_eq!(names(&again), ["00002", "00004", "00001", "00003"]);
    assert!(again[2].1 > after[3].1 && again[2].2 > after[3].2);

    // An object stored from now on comes after them, dated after them.
    let added = report(5);
    store.insert_report(version, &added, &stix(&added), &irq_all(5)).await.unwrap();
    let last = listing(store, "IRQ", None).await;
    assert_eq!(names(&last), ["00002", "00004", "00001", "00003", "00005"]);
    assert!(last[4].1 > last[3].1 && last[4].2 > last[3].2);
}

async fn reports_page_iterates_everything(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    assert!(store.reports_page(None, 10).await.unwrap().is_empty());
    insert_reports(store, 1..=25, nobody).await;
    assert_eq!(store.count_reports().await.unwrap(), 25);

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let after = seen.last().map(|r: &Report| r.id.clone());
        let page = store.reports_page(after.as_deref(), 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        sizes.push(page.len());
        seen.extend(page);
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(seen, (1..=25).map(report).collect::<Vec<_>>());
}

async fn a_rebuild_pages_through_more_reports_than_one_batch(fixture: &Fixture) {
    let store = &fixture.store;
    applied(store).await;
    // More reports than one page of the rebuild (1000), more entries than one INSERT (500).
    let count = 1201;
    insert_reports(store, 1..=count, nobody).await;
    let version = store.reindex(1, None, &Rule(irq_even)).await.unwrap();
    assert_eq!(version, 2);
    let usa = store.list_reports(&code("USA"), Classification::Unclassified, None, 5000).await.unwrap();
    assert_eq!(usa.len(), 1201);
    let irq = store.list_reports(&code("IRQ"), Classification::Secret, None, 5000).await.unwrap();
    assert_eq!(irq.len(), 600);
    let last = store.list_reports(&code("IRQ"), Classification::Secret, Some("report--01196"), 10).await.unwrap();
    assert_eq!(last.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["report--01198", "report--01200"]);
}

async fn concurrent_writers_with_one_version_succeed_once(fixture: &Fixture) {
    let version = applied(&fixture.store).await;
    let other = fixture.another_process().await;

    // Several writers, in two "processes", all decided with the same version: one apply wins.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = if i % 2 == 0 { fixture.store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            store.apply(version, &coalition(), NOW, None, &Rule(irq_even), &[]).await.map(|_| ())
        }));
    }
    let mut applied_ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => applied_ok += 1,
            Err(StoreError::Stale { expected, found }) => assert_eq!((expected, found), (version, version + 1)),
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(applied_ok, 1);
    assert_eq!(fixture.store.version().await.unwrap(), version + 1);

    // Inserts decided with the current version all go in, from both processes.
    let version = version + 1;
    let mut tasks = Vec::new();
    for number in 1..=20 {
        let store = if number % 2 == 0 { fixture.store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let report = report(number);
            store.insert_report(version, &report, &stix(&report), &irq_even(number)).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(other.count_reports().await.unwrap(), 20);
    // In storage order, which is the order the inserts won the lock in.
    let mut irq = listed_all(&fixture.store, "IRQ", Classification::TopSecret).await;
    irq.sort_unstable();
    assert_eq!(irq, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    other.close().await;
}

// ---------------------------------------------------------------------------------------------
// Scale, on demand: `cargo nextest run -p tearline-store --run-ignored only -E 'test(/scale/)'`
// (TEARLINE_SCALE_REPORTS sets the number of reports, a million by default).

mod scale {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "takes minutes: rebuilds the index of a million reports"]
    async fn sqlite_rebuilds_the_index_of_a_million_reports() {
        super::rebuild_at_scale(super::Fixture::sqlite().await.migrated().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "takes minutes: rebuilds the index of a million reports"]
    async fn postgres_rebuilds_the_index_of_a_million_reports() {
        super::rebuild_at_scale(super::Fixture::postgres().await.migrated().await).await;
    }
}

impl Fixture {
    /// A connection of the test's own, beside the store, for bulk loading.
    async fn raw_connection(&self) -> AnyConnection {
        let url = match &self.place {
            Place::Sqlite(dir) => format!("sqlite://{}", dir.path().join("data/tearline.db").display()),
            Place::Postgres { admin_url, database } => database_url(admin_url, database),
        };
        AnyConnection::connect(&url).await.unwrap()
    }
}

async fn rebuild_at_scale(fixture: Fixture) {
    let count: u32 = std::env::var("TEARLINE_SCALE_REPORTS").map_or(1_000_000, |n| n.parse().unwrap());
    let store = &fixture.store;
    applied(store).await;

    // Loaded behind the store's back, in large transactions: inserting a million reports one
    // commit each is not what is measured here.
    let started = std::time::Instant::now();
    let mut conn = fixture.raw_connection().await;
    const ROWS: u32 = 500;
    let mut tx = conn.begin().await.unwrap();
    for first in (1..=count).step_by(ROWS as usize) {
        let numbers: Vec<u32> = (first..=count.min(first + ROWS - 1)).collect();
        let mut sql =
            String::from("INSERT INTO objects (id, stix_type, originator, title, created, report, stix) VALUES ");
        for (i, _) in numbers.iter().enumerate() {
            let p = i * 7;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7
            ));
        }
        let mut query = sqlx::query(&sql);
        for number in &numbers {
            let report = report(*number);
            query = query
                .bind(report.id.clone())
                .bind("report")
                .bind("USA")
                .bind(report.title.text.clone())
                .bind(report.created.format(&time::format_description::well_known::Rfc3339).unwrap())
                .bind(serde_json::to_string(&report).unwrap())
                .bind(stix(&report).to_string());
        }
        query.execute(&mut *tx).await.unwrap();
        if first % 50_000 < ROWS {
            tx.commit().await.unwrap();
            tx = conn.begin().await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    conn.close().await.unwrap();
    eprintln!("loaded {count} reports in {:.1?}", started.elapsed());

    let started = std::time::Instant::now();
    store.reindex(1, None, &Rule(irq_even)).await.unwrap();
    eprintln!("rebuilt the index of {count} reports in {:.1?}", started.elapsed());
    assert_eq!(store.count_reports().await.unwrap(), u64::from(count));

    // A page of 100 anywhere in the index, for a party that sees everything, half, or a quarter.
    for (party, clearance) in
        [("USA", Classification::Unclassified), ("IRQ", Classification::Secret), ("IRQ", Classification::Confidential)]
    {
        let mut times = Vec::new();
        for step in 0..50_u32 {
            // Numbers of the form 4k + 2 are visible to all three.
            let cursor = format!("report--{:05}", 2 + (count / 50) * step / 4 * 4);
            let started = std::time::Instant::now();
            let page = store.list_reports(&code(party), clearance, Some(&cursor), 100).await.unwrap();
            times.push(started.elapsed());
            assert!(page.len() == 100 || step > 45);
        }
        times.sort();
        eprintln!(
            "a page of 100 for {party} at {clearance}: median {:.2?}, max {:.2?}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    fixture.finish().await;
}

// --- Onward control ----------------------------------------------------------------------------

async fn stored(store: &SqlStore, number: u32) -> tearline_store::StoredObject {
    store.object_versions(&report(number).id).await.unwrap().pop().unwrap()
}

async fn onward_changes_replace_facts_and_entries_only_from_what_was_decided(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    insert_reports(store, [1], |_| vec![entry("USA", Classification::Unclassified)]).await;
    let before = stored(store, 1).await;
    let mut facts = before.facts.clone();
    facts.shares.push(tearline_model::Share {
        by: code("IRQ"),
        to: [code("SYR")].into(),
        portions: [0, 1].into_iter().collect(),
    });
    let entries = vec![entry("USA", Classification::Unclassified), entry("SYR", Classification::Secret)];
    let update = tearline_store::FactsUpdate {
        seq: before.seq,
        previous: before.facts.clone(),
        facts: facts.clone(),
        entries: entries.clone(),
    };
    let change = tearline_store::OnwardChange { objects: vec![update.clone()], ..Default::default() };
    store.change_onward(version, &change).await.unwrap();
    assert_eq!(stored(store, 1).await.facts, facts);
    assert_eq!(store.release_entries(&before.id).await.unwrap(), vec![entries[1].clone(), entries[0].clone()]);
    // Decided from facts that have changed since: refused, nothing written.
    let mut other = before.facts.clone();
    other.recalled = true;
    let stale = tearline_store::FactsUpdate { facts: other, entries: Vec::new(), ..update };
    let change = tearline_store::OnwardChange { objects: vec![stale], ..Default::default() };
    assert!(matches!(store.change_onward(version, &change).await, Err(StoreError::ObjectChanged(_))));
    assert_eq!(stored(store, 1).await.facts, facts);
    assert_eq!(store.release_entries(&before.id).await.unwrap().len(), 2);
    // And under a state that moved on.
    assert!(matches!(
        store.change_onward(version - 1, &tearline_store::OnwardChange::default()).await,
        Err(StoreError::Stale { .. })
    ));
}

/// A report names a marking definition once per portion marked with it: the definition goes to
/// every party receiving one of those portions, and to no other, when the report is stored and
/// each time it is derived again (an onward change, `verify_index`).
async fn a_marking_definition_goes_to_the_parties_of_every_portion_using_it(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    let definition = |id: &str| tearline_store::NewObject {
        id: id.into(),
        version: Some(NOW),
        object_type: "marking-definition".into(),
        spec_version: "2.1".into(),
        collection: None,
        facts: ReleaseFacts::released_with_users(&code("USA")),
        report: None,
        stix: json!({ "type": "marking-definition", "spec_version": "2.1", "id": id }).to_string(),
        markings: Vec::new(),
        entries: Vec::new(),
        sources: Vec::new(),
        sketches: Vec::new(),
        events: Vec::new(),
    };
    // `shared` marks paragraphs 1 (SECRET, withheld from IRQ) and 2 (CONFIDENTIAL, released to
    // it); `withheld` marks paragraph 1 only.
    let (shared, withheld) = ("marking-definition--shared", "marking-definition--withheld");
    let mut report = report(1);
    report
        .paragraphs
        .push(Portion { marking: Marking::classified(Classification::Confidential), text: "More.".into() });
    let uses = |id: &str, portion: usize, min_classification| tearline_store::MarkingUse {
        id: id.into(),
        portions: [portion].into_iter().collect(),
        min_classification,
    };
    let entries = vec![
        ReleaseEntry {
            party: code("USA"),
            portions: [0, 1, 2].into_iter().collect(),
            min_clearance: Classification::Unclassified,
        },
        ReleaseEntry {
            party: code("IRQ"),
            portions: [0, 2].into_iter().collect(),
            min_clearance: Classification::Confidential,
        },
    ];
    let object = tearline_store::NewObject {
        markings: vec![
            uses(shared, 1, Classification::Secret),
            uses(withheld, 1, Classification::Secret),
            uses(shared, 2, Classification::Confidential),
        ],
        ..sketched(report.clone(), entries, Vec::new())
    };
    let objects = [definition(shared), definition(withheld), object];
    store.insert_objects(version, &objects, NOW, true, None).await.unwrap();
    let seq_of = |id: &'static str| async move { store.object_versions(id).await.unwrap().pop().unwrap().seq };
    let (shared_seq, withheld_seq) = (seq_of(shared).await, seq_of(withheld).await);
    let whole: PortionSet = [0].into_iter().collect();
    let released =
        |party: &str, min_clearance| ReleaseEntry { party: code(party), portions: whole.clone(), min_clearance };
    let expected_shared =
        vec![released("IRQ", Classification::Confidential), released("USA", Classification::Unclassified)];
    let expected_withheld = vec![released("USA", Classification::Unclassified)];
    let check = |when: &'static str| {
        let expected = [(shared_seq, expected_shared.clone()), (withheld_seq, expected_withheld.clone())];
        async move {
            for (seq, expected) in expected {
                let (stored, derived) = store.release_entries_of(seq).await.unwrap();
                assert_eq!(stored, expected, "{when}: the stored entries of marking definition {seq}");
                assert_eq!(derived, Some(expected), "{when}: the derived entries of marking definition {seq}");
            }
        }
    };
    check("stored").await;
    // Stored in one add, the definitions are listed with it, not late.
    let listed = listing(store, "IRQ", None).await;
    assert_eq!(names(&listed), [shared, "00001"]);
    assert!(listed.iter().all(|(_, position, _)| position.order == 0));
    // An onward change derives the definitions' entries again, from what was recorded of their use.
    let before = stored(store, 1).await;
    let update = tearline_store::FactsUpdate {
        seq: before.seq,
        previous: before.facts.clone(),
        facts: before.facts.clone(),
        entries: objects[2].entries.clone(),
    };
    let change = tearline_store::OnwardChange { objects: vec![update], ..Default::default() };
    store.change_onward(version, &change).await.unwrap();
    check("after an onward change").await;
    assert_eq!(listing(store, "IRQ", None).await, listed, "an onward change that changes nothing moves nothing");

    // A definition stored before: the parties an object now brings it to find it late.
    let mut later = crate::report(2);
    later.paragraphs[0].marking = Marking::classified(Classification::Confidential);
    let object = tearline_store::NewObject {
        markings: vec![uses(withheld, 0, Classification::Confidential)],
        ..sketched(later, vec![entry("IRQ", Classification::Confidential)], Vec::new())
    };
    store.insert_objects(version, &[object], NOW, true, None).await.unwrap();
    let listed = listing(store, "IRQ", None).await;
    assert_eq!(names(&listed), [shared, "00001", "00002", withheld]);
    assert!(listed[3].1.order > 0 && listed[3].2 > listed[2].2);
}

async fn deliveries_events_and_approvals_round_trip(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    insert_reports(store, [1, 2], |_| vec![entry("IRQ", Classification::Unclassified)]).await;
    let (first, second) = (stored(store, 1).await, stored(store, 2).await);
    let delivery = |object: &tearline_store::StoredObject, at: OffsetDateTime| tearline_store::Delivery {
        at,
        party: code("IRQ"),
        user: UserName::new("iq-analyst").unwrap(),
        object_id: object.id.clone(),
        object_version: object.version,
        portions: [0, 2].into_iter().collect(),
        channel: "taxii".into(),
        rendering: [at.second(); 32],
        marks: vec![("0".into(), "0121".into()), ("2".into(), format!("1{}", at.hour()))],
    };
    let deliveries = [delivery(&first, NOW), delivery(&second, NOW + Duration::hours(1))];
    // A delivery without its ledger entry is refused, and nothing is stored.
    assert!(store.record_deliveries(&deliveries, &[b"one".to_vec()]).await.is_err());
    assert_eq!(store.ledger_head().await.unwrap().size, 0);
    let first_index = store.record_deliveries(&deliveries, &[b"one".to_vec(), b"two".to_vec()]).await.unwrap();
    assert_eq!(first_index, Some(0));
    let records = store.deliveries(&code("IRQ"), NOW + Duration::minutes(1)).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].delivery, delivery(&second, NOW + Duration::hours(1)));
    assert_eq!(records[0].facts, second.facts);
    assert_eq!(records[0].ledger_index, Some(1));
    assert_eq!(store.ledger_entries(1, 2).await.unwrap(), vec![(1, b"two".to_vec())]);
    assert!(store.deliveries(&code("SYR"), NOW).await.unwrap().is_empty());
    // Fingerprints are kept once per object version, party and field: a later delivery of the
    // same version does not replace what the party's copy was.
    let mut again = delivery(&first, NOW + Duration::hours(2));
    again.marks = vec![("0".into(), "2222".into())];
    store.record_deliveries(&[again], &[b"three".to_vec()]).await.unwrap();
    let kept = store.fingerprints_of(first.seq).await.unwrap();
    assert_eq!(
        kept,
        [
            (code("IRQ"), "0".to_string(), "0121".to_string()),
            (code("IRQ"), "2".to_string(), format!("1{}", NOW.hour()))
        ]
    );
    assert_eq!(store.recipients_of(first.seq).await.unwrap(), [(code("IRQ"), [0, 2].into_iter().collect())]);

    let event = |kind, party: &str, at| tearline_store::OnwardEvent {
        at,
        originator: code("USA"),
        party: code(party),
        user: UserName::new("iq-analyst").unwrap(),
        kind,
        object_id: first.id.clone(),
        object_version: first.version,
        detail: json!({ "to": ["BIC"] }),
    };
    let events = vec![
        event(tearline_store::OnwardKind::Share, "IRQ", NOW),
        event(tearline_store::OnwardKind::Copied, "SYR", NOW + Duration::hours(1)),
    ];
    let approval = tearline_store::ApprovalRecord {
        id: "approval--1".into(),
        object_seq: first.seq,
        originator: code("USA"),
        requester: code("IRQ"),
        requested_by: UserName::new("iq-analyst").unwrap(),
        recipient: code("SYR"),
        requested_at: NOW,
        reason: Some("liaison".into()),
        status: tearline_store::ApprovalStatus::Approved,
        decided_by: Some(UserName::new("us-analyst").unwrap()),
        decided_at: Some(NOW),
        expires_at: Some(NOW + Duration::days(1)),
    };
    let change = tearline_store::OnwardChange {
        objects: Vec::new(),
        events: events.clone(),
        approvals: vec![approval.clone()],
        ledger: vec![b"approved".to_vec()],
        collection_shares: Vec::new(),
    };
    store.change_onward(version, &change).await.unwrap();
    // The change's entry is in the log, after the deliveries'.
    assert_eq!(store.ledger_entries(0, 10).await.unwrap().last(), Some(&(3, b"approved".to_vec())));
    assert_eq!(store.onward_events(&code("USA"), None, NOW).await.unwrap(), events);
    assert_eq!(store.onward_events(&code("USA"), Some(&code("SYR")), NOW).await.unwrap(), events[1..]);
    assert!(store.onward_events(&code("IRQ"), None, NOW).await.unwrap().is_empty());
    assert_eq!(store.approval("approval--1").await.unwrap(), Some(approval.clone()));
    assert_eq!(store.approvals(&code("USA"), false, false).await.unwrap(), vec![approval.clone()]);
    assert!(store.approvals(&code("USA"), false, true).await.unwrap().is_empty(), "not pending");
    assert_eq!(store.approvals(&code("IRQ"), true, false).await.unwrap(), vec![approval]);
    // An approval with an expiry brings the index's validity forward, for every process.
    let state = store.state().await.unwrap();
    assert_eq!((state.version, state.index_valid_until), (version + 1, Some(NOW + Duration::days(1))));
    assert_eq!(store.next_approval_expiry(NOW).await.unwrap(), Some(NOW + Duration::days(1)));
    assert_eq!(store.next_approval_expiry(NOW + Duration::days(1)).await.unwrap(), None);
}

/// A report to store with its release entries and the sketch hashes of its portions.
fn sketched(report: Report, entries: Vec<ReleaseEntry>, sketches: Vec<(usize, Vec<u64>)>) -> tearline_store::NewObject {
    tearline_store::NewObject {
        id: report.id.clone(),
        version: Some(report.created),
        object_type: "report".into(),
        spec_version: "2.1".into(),
        collection: None,
        facts: ReleaseFacts::of_report(&report),
        stix: stix(&report).to_string(),
        report: Some(report),
        markings: Vec::new(),
        entries,
        sources: Vec::new(),
        sketches,
        events: Vec::new(),
    }
}

async fn sketches_are_found_only_in_text_released_to_the_party_by_others(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    let object = |number: u32, originator: &str, entries: Vec<ReleaseEntry>| {
        let mut report = report(number);
        report.originator = code(originator);
        sketched(report, entries, vec![(1, vec![7, u64::MAX]), (2, vec![7])])
    };
    let irq_only: ReleaseEntry = ReleaseEntry {
        party: code("IRQ"),
        portions: [0, 1].into_iter().collect(),
        min_clearance: Classification::Unclassified,
    };
    let objects = vec![
        object(1, "USA", vec![irq_only.clone()]),
        object(2, "USA", vec![entry("SYR", Classification::Unclassified)]),
        object(3, "IRQ", vec![entry("IRQ", Classification::Unclassified)]),
    ];
    store.insert_objects(version, &objects, NOW, true, None).await.unwrap();
    let first = stored(store, 1).await;
    // USA's object 1 is released to IRQ (portions 0 and 1); object 2 is not; object 3 is IRQ's own.
    assert_eq!(store.sketch_matches(&code("IRQ"), &[7, u64::MAX, 9], 10).await.unwrap(), vec![(first.seq, 1, 2)]);
    assert!(store.sketch_matches(&code("IRQ"), &[9], 10).await.unwrap().is_empty());
    assert!(store.sketch_matches(&code("USA"), &[7], 10).await.unwrap().is_empty(), "its own text");
}

async fn a_hash_in_too_many_texts_counts_for_nothing(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    let (common, at_the_bound) = (7u64, 8u64);
    let texts = u32::try_from(tearline_store::MOST_TEXTS_PER_HASH).unwrap();
    // One text more than the bound holds the common hash, as many as the bound another; the first
    // also holds three of its own.
    let objects: Vec<tearline_store::NewObject> = (0..=texts)
        .map(|number| {
            let report = report(number + 1);
            let mut own: Vec<u64> = if number == 0 { vec![common, 100, 101, 102] } else { vec![common] };
            if number < texts {
                own.push(at_the_bound);
            }
            sketched(report, vec![entry("IRQ", Classification::Unclassified)], vec![(1, own)])
        })
        .collect();
    store.insert_objects(version, &objects, NOW, true, None).await.unwrap();
    let first = stored(store, 1).await;
    assert_eq!(
        store.sketch_matches(&code("IRQ"), &[common, 100, 101, 102], 10).await.unwrap(),
        vec![(first.seq, 1, 3)]
    );
    assert!(store.sketch_matches(&code("IRQ"), &[common], 10).await.unwrap().is_empty());
    let originator = first.facts.originator.clone();
    assert_eq!(
        store.originator_sketch_matches(&originator, &[common, 101], 10).await.unwrap(),
        vec![(first.seq, 1, 1)]
    );

    // At the bound, a hash still counts.
    let matches = store.sketch_matches(&code("IRQ"), &[at_the_bound], 2000).await.unwrap();
    assert_eq!(matches.len(), tearline_store::MOST_TEXTS_PER_HASH);
}

// ---------------------------------------------------------------------------------------------
// The ledger

fn entries(from: usize, count: usize) -> Vec<Vec<u8>> {
    (from..from + count).map(|i| format!("entry {i}").into_bytes()).collect()
}

/// The root of `entries` computed from scratch, in memory, by the ledger crate.
fn root_of(entries: &[Vec<u8>]) -> tearline_ledger::Hash {
    let slices: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    tearline_ledger::append(0, &slices, &std::collections::HashMap::new()).unwrap().root
}

async fn ledger_appends_keep_entries_tree_and_head_together(fixture: &Fixture) {
    let store = &fixture.store;
    let mut all = Vec::new();
    // Batches of many sizes, crossing tile and subtree boundaries.
    for count in [1, 2, 5, 250, 13, 1, 300] {
        let batch = entries(all.len(), count);
        let first = store.append_ledger(&batch).await.unwrap();
        assert_eq!(first, all.len() as u64);
        all.extend(batch);
        let head = store.ledger_head().await.unwrap();
        assert_eq!(head.size, all.len() as u64);
        assert_eq!(head.root, root_of(&all));
    }
    let stored = store.ledger_entries(0, all.len() as u64 + 10).await.unwrap();
    assert_eq!(stored.len(), all.len());
    assert!(stored.iter().enumerate().all(|(i, (index, bytes))| *index == i as u64 && *bytes == all[i]));
    // Every stored hash of the tree is there: a root and a proof can be read at any size.
    let size = all.len() as u64;
    let count = tearline_ledger::stored_hash_count(size);
    assert_eq!(store.ledger_hash_range(0, count).await.unwrap().len() as u64, count);
    for at in [1, 7, 256, 300, size] {
        let known = store.ledger_hashes(&tearline_ledger::root_needs(at)).await.unwrap();
        assert_eq!(tearline_ledger::root(at, &known).unwrap(), root_of(&all[..at as usize]));
    }
    // Nothing to append is no change.
    assert_eq!(store.append_ledger(&[]).await.unwrap(), size);
    assert_eq!(store.ledger_head().await.unwrap().size, size);
}

async fn ledger_entries_go_with_the_change_or_not_at_all(fixture: &Fixture) {
    let store = &fixture.store;
    let version = applied(store).await;
    assert_eq!(store.ledger_head().await.unwrap().size, 0);
    // Refused changes leave the log as it was.
    let stale = tearline_store::OnwardChange { ledger: entries(0, 3), ..Default::default() };
    assert!(store.change_onward(version - 1, &stale).await.is_err());
    assert!(store.apply(version - 1, &coalition(), NOW, None, &Rule(nobody), &entries(0, 2)).await.is_err());
    let policies = PolicySource::default();
    assert!(store.set_policies(version - 1, &policies, None, &Rule(nobody), &entries(0, 2)).await.is_err());
    assert_eq!(store.ledger_head().await.unwrap().size, 0);
    assert!(store.ledger_entries(0, 100).await.unwrap().is_empty());
    // Accepted ones append theirs, in order.
    let version = store.apply(version, &coalition(), NOW, None, &Rule(nobody), &entries(0, 2)).await.unwrap();
    let version = store.set_policies(version, &policies, None, &Rule(nobody), &entries(2, 1)).await.unwrap();
    let change = tearline_store::OnwardChange { ledger: entries(3, 2), ..Default::default() };
    store.change_onward(version, &change).await.unwrap();
    let stored: Vec<Vec<u8>> = store.ledger_entries(0, 100).await.unwrap().into_iter().map(|(_, e)| e).collect();
    assert_eq!(stored, entries(0, 5));
    assert_eq!(store.ledger_head().await.unwrap().root, root_of(&entries(0, 5)));
}

async fn concurrent_ledger_appends_make_one_log(fixture: &Fixture) {
    let store = &fixture.store;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..8 {
        let store = store.clone();
        writers.spawn(async move {
            for round in 0..5 {
                store.append_ledger(&entries(writer * 1000 + round * 10, 1 + round)).await.unwrap();
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let head = store.ledger_head().await.unwrap();
    assert_eq!(head.size, 8 * (1 + 2 + 3 + 4 + 5));
    let stored: Vec<(u64, Vec<u8>)> = store.ledger_entries(0, head.size + 1).await.unwrap();
    assert!(stored.iter().enumerate().all(|(i, (index, _))| *index == i as u64), "indexes are contiguous");
    let bytes: Vec<Vec<u8>> = stored.into_iter().map(|(_, e)| e).collect();
    // Whatever the interleaving, the tree is that of the entries in index order.
    assert_eq!(head.root, root_of(&bytes));
    let mut distinct = bytes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), bytes.len());
}

async fn checkpoints_cosignatures_and_witnessed_logs_round_trip(fixture: &Fixture) {
    let store = &fixture.store;
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    store.add_checkpoint(3, "three", NOW).await.unwrap();
    store.add_checkpoint(7, "seven", NOW).await.unwrap();
    // One checkpoint per size: a second of the same size is ignored.
    store.add_checkpoint(7, "other", NOW).await.unwrap();
    store.add_checkpoint(5, "five", NOW).await.unwrap();
    store.add_cosignature(7, "witness.example", "— witness.example AAAA\n", NOW).await.unwrap();
    store.add_cosignature(7, "witness.example", "— witness.example BBBB\n", NOW).await.unwrap();
    let latest = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, 7);
    assert_eq!(latest.note, "seven");
    assert_eq!(latest.cosignatures, vec!["— witness.example BBBB\n".to_string()]);
    let sizes: Vec<u64> = store.checkpoints().await.unwrap().iter().map(|c| c.size).collect();
    assert_eq!(sizes, vec![3, 5, 7]);

    assert_eq!(store.witnessed("hub.example/log").await.unwrap(), None);
    store.keep_witnessed("hub.example/log", "key-a", "note 1", NOW).await.unwrap();
    store.keep_witnessed("hub.example/log", "key-a", "note 2", NOW).await.unwrap();
    assert_eq!(store.witnessed("hub.example/log").await.unwrap(), Some(("key-a".into(), "note 2".into())));
    let fork = tearline_store::Fork {
        origin: "hub.example/log".into(),
        kept: "note 2".into(),
        seen: "note 3".into(),
        reason: "roots differ".into(),
        found_at: NOW,
    };
    store.record_fork(&fork).await.unwrap();
    assert_eq!(store.forks().await.unwrap(), vec![fork]);
}

// ---------------------------------------------------------------------------------------------
// Deconfliction

use tearline_store::{ActivityChange, ActivityRecord, ConflictRecord, ConflictSide, FlagRecord, SubmissionRecord};

/// An activity of `party` registered at `registered` (revision 1, not withdrawn).
fn activity(id: &str, party: &str, registered: OffsetDateTime) -> ActivityRecord {
    ActivityRecord {
        id: id.into(),
        party: code(party),
        author: name(&format!("{}-planner", party.to_lowercase())),
        revision: 1,
        body: json!({ "id": id, "area": [[33.3, 44.4], [33.4, 44.5]] }).to_string(),
        window_end: registered + Duration::days(2),
        registered,
        updated: registered,
        withdrawn: None,
        change_seq: 0,
    }
}

fn submission(of: &ActivityRecord, at: OffsetDateTime, centre_lat: f64) -> SubmissionRecord {
    SubmissionRecord {
        party: of.party.clone(),
        activity_id: of.id.clone(),
        revision: of.revision,
        at,
        centre_lat,
        centre_lon: 44.361_488_123_456_7,
        extent_m: 1_500.25,
    }
}

/// A change of `activity` with its submission at its update time and nothing else.
fn activity_change(expected_change_seq: i64, activity: &ActivityRecord) -> ActivityChange {
    ActivityChange {
        expected_change_seq,
        submission: Some(submission(activity, activity.updated, 33.312_805)),
        activity: activity.clone(),
        conflicts: Vec::new(),
        flags: Vec::new(),
        ledger: Vec::new(),
    }
}

fn conflict(id: &str, a: (&str, &str), b: (&str, &str)) -> ConflictRecord {
    ConflictRecord {
        seq: 0,
        id: id.into(),
        line: "line--north".into(),
        created: NOW + Duration::minutes(5),
        a: ConflictSide { activity: a.1.into(), revision: 1, party: code(a.0) },
        b: ConflictSide { activity: b.1.into(), revision: 2, party: code(b.0) },
        overlap: json!({ "from": "2026-03-02T00:00:00Z", "km2": 1.5 }).to_string(),
    }
}

/// `record` as the store returns it: with its `change_seq`.
fn at_change(record: &ActivityRecord, change_seq: i64) -> ActivityRecord {
    ActivityRecord { change_seq, ..record.clone() }
}

async fn activities_register_amend_and_withdraw_round_trip(fixture: &Fixture) {
    let store = &fixture.store;
    assert!(store.activity_changes(0).await.unwrap().is_empty());
    assert_eq!(store.activity("activity--b").await.unwrap(), None);

    // Registrations: each takes the next change_seq, returned and stored.
    let b = activity("activity--b", "USA", NOW);
    let irq = activity("activity--irq", "IRQ", NOW + Duration::minutes(1));
    let mut change = activity_change(0, &b);
    change.ledger = vec![b"register b".to_vec()];
    assert_eq!(store.change_activity(&change).await.unwrap(), 1);
    let mut change = activity_change(1, &irq);
    change.ledger = vec![b"register irq".to_vec(), b"notice".to_vec()];
    assert_eq!(store.change_activity(&change).await.unwrap(), 2);
    assert_eq!(store.activity("activity--b").await.unwrap(), Some(at_change(&b, 1)));
    assert_eq!(store.activity_changes(0).await.unwrap(), vec![at_change(&b, 1), at_change(&irq, 2)]);

    // An amendment replaces what it changes; the party and the registration time stay.
    let amended = ActivityRecord {
        author: name("usa-second-planner"),
        revision: 2,
        body: json!({ "id": "activity--b", "area": [[34.0, 45.0], [34.1, 45.1]] }).to_string(),
        window_end: NOW + Duration::days(5),
        updated: NOW + Duration::hours(1),
        ..b.clone()
    };
    let mut change = activity_change(2, &ActivityRecord { registered: NOW + Duration::hours(1), ..amended.clone() });
    change.ledger = vec![b"amend b".to_vec()];
    assert_eq!(store.change_activity(&change).await.unwrap(), 3);
    assert_eq!(store.activity("activity--b").await.unwrap(), Some(at_change(&amended, 3)));
    // Changes come in change order, each activity once, as it is now.
    assert_eq!(store.activity_changes(0).await.unwrap(), vec![at_change(&irq, 2), at_change(&amended, 3)]);
    assert_eq!(store.activity_changes(2).await.unwrap(), vec![at_change(&amended, 3)]);

    // A withdrawal keeps the row, marked withdrawn.
    let withdrawn = ActivityRecord {
        withdrawn: Some(NOW + Duration::hours(2) + Duration::nanoseconds(123_456_789)),
        updated: NOW + Duration::hours(2),
        ..irq.clone()
    };
    let change = ActivityChange { submission: None, ..activity_change(3, &withdrawn) };
    assert_eq!(store.change_activity(&change).await.unwrap(), 4);
    assert_eq!(store.activity_changes(3).await.unwrap(), vec![at_change(&withdrawn, 4)]);
    assert!(store.activity_changes(4).await.unwrap().is_empty());
    assert_eq!(store.activity("activity--irq").await.unwrap(), Some(at_change(&withdrawn, 4)));

    // A party's activities, withdrawn ones included, by registration time then id.
    let earlier = activity("activity--c", "USA", NOW - Duration::hours(1));
    let same_time = activity("activity--a", "USA", NOW);
    assert_eq!(store.change_activity(&activity_change(4, &earlier)).await.unwrap(), 5);
    assert_eq!(store.change_activity(&activity_change(5, &same_time)).await.unwrap(), 6);
    assert_eq!(
        store.activities_of(&code("USA")).await.unwrap(),
        vec![at_change(&earlier, 5), at_change(&same_time, 6), at_change(&amended, 3)]
    );
    assert_eq!(store.activities_of(&code("IRQ")).await.unwrap(), vec![at_change(&withdrawn, 4)]);
    assert!(store.activities_of(&code("SYR")).await.unwrap().is_empty());

    // Each change's ledger entries, in order; the hub state did not move.
    let logged: Vec<Vec<u8>> = store.ledger_entries(0, 100).await.unwrap().into_iter().map(|(_, e)| e).collect();
    let expected: Vec<Vec<u8>> =
        ["register b", "register irq", "notice", "amend b"].iter().map(|e| e.as_bytes().to_vec()).collect();
    assert_eq!(logged, expected);
    assert_eq!(store.version().await.unwrap(), 0);
}

async fn a_stale_activity_change_is_refused_and_writes_nothing(fixture: &Fixture) {
    let store = &fixture.store;
    // On an empty store the latest change is 0.
    let first = activity("activity--1", "USA", NOW);
    let refused = store.change_activity(&activity_change(1, &first)).await;
    assert!(matches!(refused, Err(StoreError::StaleActivities { expected: 1, found: 0 })), "{refused:?}");
    assert_eq!(store.activity("activity--1").await.unwrap(), None);
    assert_eq!(store.change_activity(&activity_change(0, &first)).await.unwrap(), 1);

    // A change carrying everything, decided on activities that are behind (or ahead).
    let second = activity("activity--2", "IRQ", NOW + Duration::minutes(1));
    let amended_first = ActivityRecord { revision: 2, body: "{}".into(), updated: NOW + Duration::hours(1), ..first };
    let flag = FlagRecord {
        seq: 0,
        party: code("IRQ"),
        at: NOW,
        reason: "sweep".into(),
        activities: vec!["activity--2".into()],
    };
    for (expected, activity) in [(0, &second), (2, &second), (0, &amended_first)] {
        let change = ActivityChange {
            conflicts: vec![conflict("conflict--1", ("IRQ", "activity--2"), ("USA", "activity--1"))],
            flags: vec![flag.clone()],
            ledger: vec![b"stale".to_vec()],
            ..activity_change(expected, activity)
        };
        let refused = store.change_activity(&change).await;
        assert!(
            matches!(refused, Err(StoreError::StaleActivities { expected: e, found: 1 }) if e == expected),
            "{refused:?}"
        );
    }
    // An activity of another party under a stored id is refused too.
    let taken = ActivityRecord { party: code("SYR"), ..amended_first.clone() };
    let mut change = activity_change(1, &taken);
    change.ledger = vec![b"taken".to_vec()];
    assert!(matches!(store.change_activity(&change).await, Err(StoreError::Unstorable { .. })));

    assert_eq!(store.activity("activity--2").await.unwrap(), None);
    assert_eq!(store.activity_changes(0).await.unwrap(), vec![at_change(&activity("activity--1", "USA", NOW), 1)]);
    let epoch = OffsetDateTime::UNIX_EPOCH;
    assert!(store.submissions_since(&code("IRQ"), epoch).await.unwrap().is_empty());
    assert!(store.submissions_since(&code("SYR"), epoch).await.unwrap().is_empty());
    assert_eq!(store.submissions_since(&code("USA"), epoch).await.unwrap().len(), 1);
    assert!(store.conflicts_of(&code("IRQ"), 0).await.unwrap().is_empty());
    assert!(store.conflicts_of(&code("USA"), 0).await.unwrap().is_empty());
    assert!(store.deconfliction_flags().await.unwrap().is_empty());
    assert_eq!(store.ledger_head().await.unwrap().size, 0);

    // Decided again on the latest change, it goes through.
    let change = ActivityChange { ledger: vec![b"fresh".to_vec()], ..activity_change(1, &amended_first) };
    assert_eq!(store.change_activity(&change).await.unwrap(), 2);
    assert_eq!(store.ledger_head().await.unwrap().size, 1);
}

async fn submissions_are_read_by_party_from_a_time(fixture: &Fixture) {
    let store = &fixture.store;
    let usa = activity("activity--usa", "USA", NOW);
    let irq = activity("activity--irq", "IRQ", NOW);
    // Written out of time order: they are read in time order.
    let written = [
        submission(&usa, NOW + Duration::hours(3), 33.1),
        submission(&irq, NOW + Duration::hours(2), 33.2),
        submission(&usa, NOW + Duration::hours(1), -33.000_000_000_000_01),
        submission(&usa, NOW + Duration::hours(2), 89.999_999_999),
        submission(&usa, NOW, 0.1 + 0.2),
    ];
    for (i, submitted) in written.iter().enumerate() {
        let of = if submitted.party == usa.party { &usa } else { &irq };
        let change = ActivityChange { submission: Some(submitted.clone()), ..activity_change(i as i64, of) };
        store.change_activity(&change).await.unwrap();
    }
    let since = |party: &'static str, at| async move { store.submissions_since(&code(party), at).await.unwrap() };
    // At or after `since` (the boundary included), the party's only, floats exact.
    let expected = vec![written[2].clone(), written[3].clone(), written[0].clone()];
    assert_eq!(since("USA", NOW + Duration::hours(1)).await, expected);
    assert_eq!(since("USA", NOW).await.len(), 4);
    assert_eq!(since("USA", NOW + Duration::hours(1) + Duration::nanoseconds(1)).await, expected[1..]);
    assert!(since("USA", NOW + Duration::hours(4)).await.is_empty());
    assert_eq!(since("IRQ", NOW).await, vec![written[1].clone()]);
    assert!(since("SYR", NOW).await.is_empty());

    // A centre that is not a number is refused, and nothing of the change is written.
    let mut change = activity_change(5, &activity("activity--nan", "USA", NOW));
    change.submission = Some(SubmissionRecord { centre_lon: f64::NAN, ..submission(&usa, NOW, 1.0) });
    assert!(matches!(store.change_activity(&change).await, Err(StoreError::Unstorable { .. })));
    assert_eq!(store.activity("activity--nan").await.unwrap(), None);
    assert_eq!(since("USA", NOW).await.len(), 4);
}

async fn conflicts_are_read_by_either_party_after_a_seq(fixture: &Fixture) {
    let store = &fixture.store;
    let written = [
        conflict("conflict--usa-irq", ("USA", "activity--u1"), ("IRQ", "activity--i1")),
        conflict("conflict--irq-syr", ("IRQ", "activity--i1"), ("SYR", "activity--s1")),
        conflict("conflict--syr-usa", ("SYR", "activity--s1"), ("USA", "activity--u2")),
    ];
    // The first two with one change, the third with another.
    let change = ActivityChange {
        conflicts: written[..2].to_vec(),
        ..activity_change(0, &activity("activity--i1", "IRQ", NOW))
    };
    store.change_activity(&change).await.unwrap();
    let change = ActivityChange {
        conflicts: written[2..].to_vec(),
        ..activity_change(1, &activity("activity--u2", "USA", NOW))
    };
    store.change_activity(&change).await.unwrap();

    let of = |party: &'static str, after| async move { store.conflicts_of(&code(party), after).await.unwrap() };
    // Storage positions as read (checked against every other read below).
    let (irq, syr) = (of("IRQ", 0).await, of("SYR", 0).await);
    assert_eq!((irq.len(), syr.len()), (2, 2));
    let seqs = [irq[0].seq, irq[1].seq, syr[1].seq];
    assert!(seqs[0] > 0 && seqs[0] < seqs[1] && seqs[1] < seqs[2], "{seqs:?}");
    let read = |i: usize| ConflictRecord { seq: seqs[i], ..written[i].clone() };
    // Either side; only that party's; in storage order.
    assert_eq!(of("USA", 0).await, vec![read(0), read(2)]);
    assert_eq!(of("IRQ", 0).await, vec![read(0), read(1)]);
    assert_eq!(of("SYR", 0).await, vec![read(1), read(2)]);
    assert!(of("GBR", 0).await.is_empty());
    // After a seq: only later ones.
    assert_eq!(of("USA", seqs[0]).await, vec![read(2)]);
    assert_eq!(of("SYR", seqs[1]).await, vec![read(2)]);
    assert_eq!(of("IRQ", seqs[0]).await, vec![read(1)]);
    assert!(of("USA", seqs[2]).await.is_empty());
}

async fn deconfliction_flags_round_trip(fixture: &Fixture) {
    let store = &fixture.store;
    let flag = |party: &str, reason: &str, activities: &[&str], at| FlagRecord {
        seq: 0,
        party: code(party),
        at,
        reason: reason.into(),
        activities: activities.iter().map(|a| a.to_string()).collect(),
    };
    let written = [
        flag("IRQ", "sweep: 12 probes in an hour", &["activity--1", "activity--2"], NOW + Duration::hours(1)),
        flag("USA", "rate", &[], NOW),
        flag("IRQ", "sweep again", &["activity--3"], NOW + Duration::minutes(90)),
    ];
    let change =
        ActivityChange { flags: written[..2].to_vec(), ..activity_change(0, &activity("activity--1", "IRQ", NOW)) };
    store.change_activity(&change).await.unwrap();
    let change =
        ActivityChange { flags: written[2..].to_vec(), ..activity_change(1, &activity("activity--3", "IRQ", NOW)) };
    store.change_activity(&change).await.unwrap();
    let read = store.deconfliction_flags().await.unwrap();
    assert_eq!(read.len(), 3);
    assert!(read[0].seq > 0 && read[0].seq < read[1].seq && read[1].seq < read[2].seq);
    let expected: Vec<FlagRecord> =
        written.iter().zip(&read).map(|(w, r)| FlagRecord { seq: r.seq, ..w.clone() }).collect();
    assert_eq!(read, expected);
}

async fn concurrent_activity_changes_from_one_picture_succeed_once(fixture: &Fixture) {
    let other = fixture.another_process().await;
    // Writers in two "processes", all decided on no activity: one wins, the others are stale
    // (not a failed insert: the lock orders them before they read the latest change).
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = if i % 2 == 0 { fixture.store.clone() } else { other.clone() };
        let change = activity_change(0, &activity(&format!("activity--{i}"), "USA", NOW));
        tasks.push(tokio::spawn(async move { store.change_activity(&change).await }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(change_seq) => {
                assert_eq!(change_seq, 1);
                won += 1;
            }
            Err(StoreError::StaleActivities { expected, found }) => assert_eq!((expected, found), (0, 1)),
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(won, 1);

    // Writers that re-sync and retry all get through, each with its own change.
    let mut tasks = Vec::new();
    for i in 10..16 {
        let store = if i % 2 == 0 { fixture.store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let record = activity(&format!("activity--{i}"), "IRQ", NOW);
            loop {
                let latest = store.activity_changes(0).await.unwrap().last().map_or(0, |a| a.change_seq);
                match store.change_activity(&activity_change(latest, &record)).await {
                    Ok(change_seq) => return change_seq,
                    Err(StoreError::StaleActivities { .. }) => continue,
                    Err(other) => panic!("unexpected error: {other}"),
                }
            }
        }));
    }
    let mut change_seqs = Vec::new();
    for task in tasks {
        change_seqs.push(task.await.unwrap());
    }
    change_seqs.sort_unstable();
    assert_eq!(change_seqs, (2..=7).collect::<Vec<i64>>());
    assert_eq!(stored_change_seqs(&other).await, (1..=7).collect::<Vec<i64>>());
    assert_eq!(other.submissions_since(&code("IRQ"), NOW).await.unwrap().len(), 6);
    other.close().await;
}

async fn stored_change_seqs(store: &SqlStore) -> Vec<i64> {
    store.activity_changes(0).await.unwrap().iter().map(|a| a.change_seq).collect()
}
