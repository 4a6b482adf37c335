//! `Hub::submit_reports`: a batch of reports goes in whole, in order, or not at all; a text that is
//! not accepted is named by its index; a batch decided under a state that moved on is decided again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use tearline_hub::{Hub, HubError, SqlStore};
use tearline_ledger::Hash;
use tearline_model::{Classification, Code, ReleaseEntry, ReleaseFacts, Report, User, UserName};
use tearline_store::{
    ActivityChange, ActivityRecord, Added, ApprovalRecord, ConflictRecord, Declared, Delivery, DeliveryRecord,
    FlagRecord, Fork, HubState, LedgerHead, NewObject, ObjectQuery, OnwardChange, OnwardEvent, PolicySource, Reindexer,
    Released, ReportSummary, Result, StatusWrite, Store, StoredCheckpoint, StoredObject, SubmissionRecord,
};
use time::macros::datetime;
use time::OffsetDateTime;

const COALITION: &str = include_str!("../../../examples/coalition.toml");
const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

/// A report whose paragraph is released to IRQ or not.
fn text(number: usize, to_irq: bool) -> String {
    let marking = if to_irq { "S//REL TO USA, IRQ" } else { "S//NF" };
    format!("TITLE: (U) Report {number}\n\n({marking}) Paragraph of report {number}.\n")
}

async fn hub_on(store: Arc<dyn Store>) -> Hub {
    tearline_hub::init(store.as_ref(), None).await.unwrap();
    let hub = Hub::open(store, None, NOW).await.unwrap();
    hub.apply(COALITION, NOW).await.unwrap();
    hub
}

async fn sqlite_hub(dir: &tempfile::TempDir) -> Hub {
    hub_on(Arc::new(SqlStore::open_sqlite(dir.path()).await.unwrap())).await
}

async fn listed(hub: &Hub, user: &User) -> Vec<String> {
    hub.list(user, None, 1000, NOW).await.unwrap().into_iter().map(|summary| summary.id).collect()
}

#[tokio::test]
async fn a_batch_is_stored_in_order_and_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = sqlite_hub(&dir).await;
    let author = hub.user("us-analyst").await.unwrap();
    let iraqi = hub.user("iq-analyst").await.unwrap();

    let texts: Vec<String> = (0..5).map(|n| text(n, n % 2 == 0)).collect();
    let ids = hub.submit_reports(&author, &texts, NOW).await.unwrap();
    assert_eq!(ids.len(), 5);
    assert_eq!(listed(&hub, &author).await, ids);
    assert_eq!(listed(&hub, &iraqi).await, [ids[0].clone(), ids[2].clone(), ids[4].clone()]);
    let rendering = hub.view(&iraqi, &ids[2], NOW).await.unwrap();
    assert!(format!("{rendering:?}").contains("Paragraph of report 2."));
    assert!(matches!(hub.view(&iraqi, &ids[1], NOW).await, Err(HubError::NotFound)));

    // An empty batch stores nothing and is no error; the next batch goes after the first.
    assert!(hub.submit_reports(&author, &[], NOW).await.unwrap().is_empty());
    let more = hub.submit_reports(&author, &[text(5, true)], NOW).await.unwrap();
    assert_eq!(listed(&hub, &author).await, [ids, more].concat());
}

#[tokio::test]
async fn a_text_not_accepted_refuses_the_batch_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let hub = sqlite_hub(&dir).await;
    let author = hub.user("us-analyst").await.unwrap();

    let unmarked = vec![text(0, true), "TITLE: (U) Report 1\n\nNo portion mark.\n".to_string(), text(2, true)];
    match hub.submit_reports(&author, &unmarked, NOW).await {
        Err(HubError::Rejected(message)) => assert!(message.starts_with("report 1 of the batch: "), "{message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Above the author's clearance (CONFIDENTIAL): the third text.
    let liaison = hub.user("us-liaison").await.unwrap();
    let above = vec!["TITLE: (U) A\n\n(U) a\n".to_string(), "TITLE: (U) B\n\n(C) b\n".to_string(), text(2, true)];
    match hub.submit_reports(&liaison, &above, NOW).await {
        Err(HubError::Rejected(message)) => {
            assert!(message.starts_with("report 2 of the batch: a portion is marked SECRET"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(hub.store().count_reports().await.unwrap(), 0);
    assert!(listed(&hub, &author).await.is_empty());
}

#[tokio::test]
async fn a_stale_batch_is_decided_again() {
    let dir = tempfile::tempdir().unwrap();
    let inner = SqlStore::open_sqlite(dir.path()).await.unwrap();
    let store = Arc::new(MovesOnOnce { inner, batches: AtomicUsize::new(0) });
    let hub = hub_on(store.clone()).await;
    let author = hub.user("us-analyst").await.unwrap();
    let version = store.version().await.unwrap();

    let texts: Vec<String> = (0..3).map(|n| text(n, true)).collect();
    let ids = hub.submit_reports(&author, &texts, NOW).await.unwrap();
    // The first attempt met a state that had moved on; the second went in, once.
    assert_eq!(store.batches.load(Ordering::SeqCst), 2);
    assert_eq!(store.version().await.unwrap(), version + 1);
    assert_eq!(store.count_reports().await.unwrap(), 3);
    assert_eq!(listed(&hub, &hub.user("iq-analyst").await.unwrap()).await, ids);
}

/// The store, except that before the first batch is written another writer moves the state on
/// (a rebuild of the index, which holds no report yet), so that batch is stale.
struct MovesOnOnce {
    inner: SqlStore,
    batches: AtomicUsize,
}

struct NoEntries;

impl Reindexer for NoEntries {
    fn entries(&self, _: &ReleaseFacts) -> Vec<ReleaseEntry> {
        Vec::new()
    }
}

#[async_trait]
impl Store for MovesOnOnce {
    async fn insert_objects(
        &self,
        expected_version: i64,
        objects: &[NewObject],
        now: OffsetDateTime,
        all_new: bool,
        status: Option<&StatusWrite<'_>>,
    ) -> Result<Vec<Added>> {
        if self.batches.fetch_add(1, Ordering::SeqCst) == 0 {
            assert_eq!(self.inner.count_reports().await?, 0);
            self.inner.reindex(expected_version, None, &NoEntries).await?;
        }
        self.inner.insert_objects(expected_version, objects, now, all_new, status).await
    }
    async fn released_objects(&self, query: &ObjectQuery) -> Result<Vec<Released>> {
        self.inner.released_objects(query).await
    }
    async fn released_ids(&self, party: &Code, clearance: Classification, ids: &[String]) -> Result<HashSet<String>> {
        self.inner.released_ids(party, clearance, ids).await
    }
    async fn object_versions(&self, id: &str) -> Result<Vec<StoredObject>> {
        self.inner.object_versions(id).await
    }
    async fn marking_definitions(&self, ids: &[String]) -> Result<Vec<StoredObject>> {
        self.inner.marking_definitions(ids).await
    }
    async fn delete_objects(&self, seqs: &[i64]) -> Result<()> {
        self.inner.delete_objects(seqs).await
    }
    async fn objects_page(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredObject>> {
        self.inner.objects_page(after_seq, limit).await
    }
    async fn release_entries_of(&self, seq: i64) -> Result<(Vec<ReleaseEntry>, Option<Vec<ReleaseEntry>>)> {
        self.inner.release_entries_of(seq).await
    }
    async fn status(&self, id: &str, party: &Code) -> Result<Option<serde_json::Value>> {
        self.inner.status(id, party).await
    }

    async fn migrate(&self) -> Result<()> {
        self.inner.migrate().await
    }
    async fn is_initialised(&self) -> Result<bool> {
        self.inner.is_initialised().await
    }
    async fn meta(&self, key: &str) -> Result<Option<String>> {
        self.inner.meta(key).await
    }
    async fn init_meta(&self, key: &str, value: &str) -> Result<String> {
        self.inner.init_meta(key, value).await
    }
    async fn state(&self) -> Result<HubState> {
        self.inner.state().await
    }
    async fn version(&self) -> Result<i64> {
        self.inner.version().await
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
        self.inner.apply(expected_version, declared, now, index_valid_until, reindexer, ledger).await
    }
    async fn set_policies(
        &self,
        expected_version: i64,
        policies: &PolicySource,
        index_valid_until: Option<OffsetDateTime>,
        reindexer: &dyn Reindexer,
        ledger: &[Vec<u8>],
    ) -> Result<i64> {
        self.inner.set_policies(expected_version, policies, index_valid_until, reindexer, ledger).await
    }
    async fn reindex(
        &self,
        expected_version: i64,
        index_valid_until: Option<OffsetDateTime>,
        reindexer: &dyn Reindexer,
    ) -> Result<i64> {
        self.inner.reindex(expected_version, index_valid_until, reindexer).await
    }
    async fn report(&self, id: &str) -> Result<Option<Report>> {
        self.inner.report(id).await
    }
    async fn report_stix(&self, id: &str) -> Result<Option<serde_json::Value>> {
        self.inner.report_stix(id).await
    }
    async fn release_entry(&self, party: &Code, report_id: &str) -> Result<Option<ReleaseEntry>> {
        self.inner.release_entry(party, report_id).await
    }
    async fn release_entries(&self, report_id: &str) -> Result<Vec<ReleaseEntry>> {
        self.inner.release_entries(report_id).await
    }
    async fn list_reports(
        &self,
        party: &Code,
        clearance: Classification,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ReportSummary>> {
        self.inner.list_reports(party, clearance, after, limit).await
    }
    async fn reports_page(&self, after: Option<&str>, limit: u32) -> Result<Vec<Report>> {
        self.inner.reports_page(after, limit).await
    }
    async fn count_reports(&self) -> Result<u64> {
        self.inner.count_reports().await
    }
    async fn insert_token(&self, user: &UserName, token_hash: &[u8], now: OffsetDateTime) -> Result<()> {
        self.inner.insert_token(user, token_hash, now).await
    }
    async fn user_for_token(&self, token_hash: &[u8]) -> Result<Option<User>> {
        self.inner.user_for_token(token_hash).await
    }
    async fn user(&self, name: &UserName) -> Result<Option<User>> {
        self.inner.user(name).await
    }
    async fn stored_originators(&self, ids: &[String]) -> Result<std::collections::HashMap<String, Vec<Code>>> {
        self.inner.stored_originators(ids).await
    }
    async fn object_at(&self, seq: i64) -> Result<Option<StoredObject>> {
        self.inner.object_at(seq).await
    }
    async fn derived_from(&self, seqs: &[i64]) -> Result<Vec<i64>> {
        self.inner.derived_from(seqs).await
    }
    async fn sketch_matches(&self, party: &Code, hashes: &[u64], limit: u32) -> Result<Vec<(i64, usize, usize)>> {
        self.inner.sketch_matches(party, hashes, limit).await
    }
    async fn originator_sketch_matches(
        &self,
        originator: &Code,
        hashes: &[u64],
        limit: u32,
    ) -> Result<Vec<(i64, usize, usize)>> {
        self.inner.originator_sketch_matches(originator, hashes, limit).await
    }
    async fn recipients_of(&self, seq: i64) -> Result<Vec<(Code, tearline_model::PortionSet)>> {
        self.inner.recipients_of(seq).await
    }
    async fn fingerprints_of(&self, seq: i64) -> Result<Vec<(Code, String, String)>> {
        self.inner.fingerprints_of(seq).await
    }
    async fn next_approval_expiry(&self, after: OffsetDateTime) -> Result<Option<OffsetDateTime>> {
        self.inner.next_approval_expiry(after).await
    }
    async fn change_onward(&self, expected_version: i64, change: &OnwardChange) -> Result<()> {
        self.inner.change_onward(expected_version, change).await
    }
    async fn record_deliveries(&self, deliveries: &[Delivery], ledger: &[Vec<u8>]) -> Result<Option<u64>> {
        self.inner.record_deliveries(deliveries, ledger).await
    }
    async fn deliveries(&self, party: &Code, since: OffsetDateTime) -> Result<Vec<DeliveryRecord>> {
        self.inner.deliveries(party, since).await
    }
    async fn onward_events(
        &self,
        originator: &Code,
        party: Option<&Code>,
        since: OffsetDateTime,
    ) -> Result<Vec<OnwardEvent>> {
        self.inner.onward_events(originator, party, since).await
    }
    async fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>> {
        self.inner.approval(id).await
    }
    async fn approvals(&self, party: &Code, as_requester: bool, pending_only: bool) -> Result<Vec<ApprovalRecord>> {
        self.inner.approvals(party, as_requester, pending_only).await
    }
    async fn append_ledger(&self, entries: &[Vec<u8>]) -> Result<u64> {
        self.inner.append_ledger(entries).await
    }
    async fn ledger_head(&self) -> Result<LedgerHead> {
        self.inner.ledger_head().await
    }
    async fn ledger_hashes(&self, indexes: &[u64]) -> Result<HashMap<u64, Hash>> {
        self.inner.ledger_hashes(indexes).await
    }
    async fn ledger_hash_range(&self, from: u64, to: u64) -> Result<Vec<(u64, Hash)>> {
        self.inner.ledger_hash_range(from, to).await
    }
    async fn ledger_entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        self.inner.ledger_entries(from, to).await
    }
    async fn add_checkpoint(&self, size: u64, note: &str, at: OffsetDateTime) -> Result<()> {
        self.inner.add_checkpoint(size, note, at).await
    }
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.inner.latest_checkpoint().await
    }
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        self.inner.checkpoints().await
    }
    async fn add_cosignature(&self, size: u64, witness: &str, line: &str, at: OffsetDateTime) -> Result<()> {
        self.inner.add_cosignature(size, witness, line, at).await
    }
    async fn witnessed(&self, origin: &str) -> Result<Option<(String, String)>> {
        self.inner.witnessed(origin).await
    }
    async fn keep_witnessed(&self, origin: &str, verifier_key: &str, note: &str, at: OffsetDateTime) -> Result<()> {
        self.inner.keep_witnessed(origin, verifier_key, note, at).await
    }
    async fn record_fork(&self, fork: &Fork) -> Result<()> {
        self.inner.record_fork(fork).await
    }
    async fn forks(&self) -> Result<Vec<Fork>> {
        self.inner.forks().await
    }
    async fn change_activity(&self, change: &ActivityChange) -> Result<i64> {
        self.inner.change_activity(change).await
    }
    async fn activity_changes(&self, after_change_seq: i64) -> Result<Vec<ActivityRecord>> {
        self.inner.activity_changes(after_change_seq).await
    }
    async fn activity(&self, id: &str) -> Result<Option<ActivityRecord>> {
        self.inner.activity(id).await
    }
    async fn activities_of(&self, party: &Code) -> Result<Vec<ActivityRecord>> {
        self.inner.activities_of(party).await
    }
    async fn submissions_since(&self, party: &Code, since: OffsetDateTime) -> Result<Vec<SubmissionRecord>> {
        self.inner.submissions_since(party, since).await
    }
    async fn conflicts_of(&self, party: &Code, after_seq: i64) -> Result<Vec<ConflictRecord>> {
        self.inner.conflicts_of(party, after_seq).await
    }
    async fn deconfliction_flags(&self) -> Result<Vec<FlagRecord>> {
        self.inner.deconfliction_flags().await
    }
}
