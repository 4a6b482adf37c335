//! Storage behind a trait: the coalition, users and tokens, reports, and the release index.
//!
//! Every method is one transaction. Writes that depend on decisions (a submission, an `apply`, a
//! policy change, a re-index) carry the `expected_version` of the hub state the caller decided
//! with; the store refuses with [`StoreError::Stale`] when the state has moved on meanwhile, so the
//! release index can never be computed from a coalition that is no longer in force.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use tearline_ledger::Hash;
use tearline_model::{
    Agreement, Classification, Code, Collection, Embargo, Group, Party, PortionSet, ReleaseEntry, ReleaseFacts, Report,
    User, UserName,
};
use time::OffsetDateTime;

mod sql;

pub use sql::{Backend, SqlStore, MOST_TEXTS_PER_HASH, SQLITE_FILE};

/// Everything decisions depend on, as stored, with the version it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct HubState {
    /// Incremented by every change of coalition, users, policies or index.
    pub version: i64,
    pub declared: Declared,
    /// Parties and users once declared and no longer: they receive nothing. (Groups no longer
    /// declared are deleted.)
    pub retired_parties: Vec<Code>,
    pub retired_users: Vec<UserName>,
    /// Agreements no longer declared, with their `revoked_at` set.
    pub revoked_agreements: Vec<Agreement>,
    pub policies: PolicySource,
    /// The release index holds until then (the next agreement start or end), when known.
    pub index_valid_until: Option<OffsetDateTime>,
}

/// What an `apply` file declares, and what is in force.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declared {
    pub parties: Vec<Party>,
    pub groups: Vec<Group>,
    /// Active agreements (not revoked).
    pub agreements: Vec<Agreement>,
    pub embargoes: Vec<Embargo>,
    pub users: Vec<User>,
    /// TAXII collections (the built-in feeds are not stored).
    pub collections: Vec<Collection>,
    /// How activities are deconflicted.
    pub deconfliction: tearline_deconflict::Settings,
}

/// Operator policies in force: file name to Cedar text, and a digest naming the set.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicySource {
    pub digest: String,
    pub files: BTreeMap<String, String>,
}

/// Computes the release index of one object version under the state being written.
pub trait Reindexer: Send + Sync {
    fn entries(&self, facts: &ReleaseFacts) -> Vec<ReleaseEntry>;
}

/// A version of a STIX object to store (a report in Tearline's form is one too).
#[derive(Debug, Clone)]
pub struct NewObject {
    pub id: String,
    /// `modified` (or `created`); `None` versions it by the date it is added (SCOs).
    pub version: Option<OffsetDateTime>,
    pub object_type: String,
    pub spec_version: String,
    /// The TAXII collection it is added to; `None` for reports submitted in Tearline's form.
    pub collection: Option<String>,
    pub facts: ReleaseFacts,
    pub report: Option<Report>,
    /// Its STIX JSON, stored as this text.
    pub stix: String,
    /// The marking definitions it uses; those stored are released with the portions using them.
    pub markings: Vec<MarkingUse>,
    pub entries: Vec<ReleaseEntry>,
    /// Storage positions of the object versions it derives from (declared or detected).
    pub sources: Vec<i64>,
    /// The sketch hashes of each text portion (portion index, hashes), for copied-text lookups.
    pub sketches: Vec<(usize, Vec<u64>)>,
    /// Onward events its submission gives rise to (derived or copied content).
    pub events: Vec<OnwardEvent>,
}

/// Something an originator's audit shows: a recipient passing content on (or trying to), a
/// submission derived from or copying its content, an approval asked or decided, a recall.
#[derive(Debug, Clone, PartialEq)]
pub struct OnwardEvent {
    pub at: OffsetDateTime,
    /// The originator whose content it concerns (one event per originator concerned).
    pub originator: Code,
    /// The party that acted, and its user.
    pub party: Code,
    pub user: UserName,
    pub kind: OnwardKind,
    pub object_id: String,
    pub object_version: OffsetDateTime,
    /// What happened: targets, outcome per target and portion, passages (JSON, by kind).
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnwardKind {
    /// A recipient passed an object version on (REST, CLI, or TAXII into a collection).
    Share,
    /// A submission declared a source of another party.
    Derived,
    /// A submission reused text released to its submitter without declaring it.
    Copied,
    ApprovalRequest,
    ApprovalDecision,
    Recall,
}

impl OnwardKind {
    pub const ALL: [OnwardKind; 6] = [
        OnwardKind::Share,
        OnwardKind::Derived,
        OnwardKind::Copied,
        OnwardKind::ApprovalRequest,
        OnwardKind::ApprovalDecision,
        OnwardKind::Recall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OnwardKind::Share => "share",
            OnwardKind::Derived => "derived",
            OnwardKind::Copied => "copied",
            OnwardKind::ApprovalRequest => "approval-request",
            OnwardKind::ApprovalDecision => "approval-decision",
            OnwardKind::Recall => "recall",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One delivery of an object version to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub at: OffsetDateTime,
    pub party: Code,
    pub user: UserName,
    /// The object version delivered, by id and version.
    pub object_id: String,
    pub object_version: OffsetDateTime,
    /// The portions the rendering held.
    pub portions: PortionSet,
    /// `rest`, `taxii`, ...
    pub channel: String,
    /// SHA-256 of the rendering given (`tearline_ledger::rendering_digest`).
    pub rendering: [u8; 32],
    /// The fingerprint of each text of the rendering, by field: the party's variant at each
    /// variation point (`tearline_fingerprint::Marked::choices`). Kept once per object version
    /// and party.
    pub marks: Vec<(String, String)>,
}

/// A delivery with the facts of the object version it delivered, for audits.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub delivery: Delivery,
    pub facts: ReleaseFacts,
    /// The ledger entry that records it (none for deliveries made before the ledger existed).
    pub ledger_index: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
        }
    }
}

/// A request for onward release of one object version to one party, and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    pub id: String,
    pub object_seq: i64,
    /// The party whose approval it needs.
    pub originator: Code,
    pub requester: Code,
    pub requested_by: UserName,
    pub recipient: Code,
    pub requested_at: OffsetDateTime,
    pub reason: Option<String>,
    pub status: ApprovalStatus,
    pub decided_by: Option<UserName>,
    pub decided_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

/// A change of stored object versions' onward-control facts, written in one transaction with its
/// events: each version's facts are replaced (only if still `previous`: otherwise
/// [`StoreError::ObjectChanged`]) and its release entries with them.
#[derive(Debug, Clone, Default)]
pub struct OnwardChange {
    pub objects: Vec<FactsUpdate>,
    pub events: Vec<OnwardEvent>,
    /// Approvals to store (inserted, or replaced by id). An approved one with an expiry brings
    /// the index's validity forward to it.
    pub approvals: Vec<ApprovalRecord>,
    /// Ledger entries (canonical bytes) recording the change, appended in its transaction.
    pub ledger: Vec<Vec<u8>>,
    /// Object versions passed on into a TAXII collection, listed there from now on:
    /// (collection id, storage position).
    pub collection_shares: Vec<(String, i64)>,
}

#[derive(Debug, Clone)]
pub struct FactsUpdate {
    pub seq: i64,
    pub previous: ReleaseFacts,
    pub facts: ReleaseFacts,
    pub entries: Vec<ReleaseEntry>,
}

/// A marking definition used by some portions of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkingUse {
    pub id: String,
    pub portions: PortionSet,
    /// The lowest classification among those portions: a user below it sees none of them.
    pub min_classification: Classification,
}

/// A TAXII status resource to store with an add, readable by `party`: `render` makes its JSON
/// text from the outcomes.
pub struct StatusWrite<'a> {
    pub id: &'a str,
    pub party: &'a Code,
    pub render: &'a (dyn Fn(&[Added]) -> String + Send + Sync),
}

/// What became of one object of an add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Stored {
        date_added: OffsetDateTime,
    },
    /// The same version was already stored, identical: nothing changed.
    Duplicate {
        date_added: OffsetDateTime,
    },
    /// A different object is stored under the same id and version.
    Conflict,
}

/// A stored object version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// Storage order, strictly increasing with `date_added`.
    pub seq: i64,
    pub id: String,
    pub version: OffsetDateTime,
    pub date_added: OffsetDateTime,
    pub object_type: String,
    pub spec_version: String,
    pub collection: Option<String>,
    pub facts: ReleaseFacts,
    pub report: Option<Report>,
    pub stix: serde_json::Value,
}

/// An object version a party may receive, with its release entry and its place in the party's
/// listings. `object.date_added` is the party's: when it could first receive the version.
#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    pub object: StoredObject,
    pub entry: ReleaseEntry,
    pub position: ListingPosition,
}

/// Where a party finds an object version in its listings. A version released with its storing is
/// at (its `seq`, 0). One the party could receive only later (a new agreement, a lifted embargo, a
/// share) comes after every object stored before that: after `after_seq`, in the order the hub
/// found such versions (`order`, from 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListingPosition {
    pub after_seq: i64,
    pub order: i64,
}

/// Which versions of each object a query selects (TAXII `match[version]`); several may be set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFilter {
    pub all: bool,
    pub first: bool,
    pub last: bool,
    pub at: Vec<OffsetDateTime>,
}

/// A query for the object versions one party may receive, in the order of its listings.
#[derive(Debug, Clone)]
pub struct ObjectQuery {
    pub party: Code,
    pub clearance: Classification,
    /// `None`: everything released to the party.
    pub collection: Option<String>,
    /// Only after this place in the party's listings.
    pub after: ListingPosition,
    pub added_after: Option<OffsetDateTime>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub spec_versions: Vec<String>,
    /// `first`/`last` are among the versions the party may receive.
    pub versions: VersionFilter,
    pub limit: u32,
}

/// A report as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    pub id: String,
    pub originator: Code,
    pub title: String,
    pub created: OffsetDateTime,
}

/// A planned activity a party registered for deconfliction, as stored: its body is opaque JSON
/// (the store knows no geometry), with the columns the hub queries by.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    pub id: String,
    pub party: Code,
    /// The user who registered it, or made its latest amendment or withdrawal.
    pub author: UserName,
    /// 1 at registration, one more per amendment.
    pub revision: i64,
    /// JSON.
    pub body: String,
    /// When the activity's last time window ends.
    pub window_end: OffsetDateTime,
    pub registered: OffsetDateTime,
    pub updated: OffsetDateTime,
    pub withdrawn: Option<OffsetDateTime>,
    /// Moves with every change of the row (strictly increasing over all activities): the hub's
    /// index syncs from it. Set by the store; ignored on write.
    pub change_seq: i64,
}

/// A registration or amendment of an activity, with where and how large it was (rate limits and
/// the detection of sweeps read them).
#[derive(Debug, Clone, PartialEq)]
pub struct SubmissionRecord {
    pub party: Code,
    pub activity_id: String,
    pub revision: i64,
    pub at: OffsetDateTime,
    pub centre_lat: f64,
    pub centre_lon: f64,
    pub extent_m: f64,
}

/// One side of a conflict: an activity revision and its party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictSide {
    pub activity: String,
    pub revision: i64,
    pub party: Code,
}

/// A conflict found between activities of two parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictRecord {
    /// Storage order: 0 when new, set by the store on read.
    pub seq: i64,
    pub id: String,
    /// The deconfliction line it was found under (a reference).
    pub line: String,
    pub created: OffsetDateTime,
    pub a: ConflictSide,
    pub b: ConflictSide,
    /// JSON.
    pub overlap: String,
}

/// Something the hub flagged about a party's submissions (a sweep, ...), for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagRecord {
    /// Storage order: 0 when new, set by the store on read.
    pub seq: i64,
    pub party: Code,
    pub at: OffsetDateTime,
    pub reason: String,
    /// The ids of the activities concerned.
    pub activities: Vec<String>,
}

/// A registration, amendment or withdrawal of an activity, written in one transaction with what
/// it gave rise to, only if the activities are still those it was decided on (see
/// [`Store::change_activity`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityChange {
    /// The highest `change_seq` of the activities the change was decided on (0 when none).
    pub expected_change_seq: i64,
    /// The activity as it is to be stored (its `change_seq` is ignored: the store sets it).
    pub activity: ActivityRecord,
    /// The submission, for registrations and amendments.
    pub submission: Option<SubmissionRecord>,
    /// Conflicts found (their `seq` is ignored).
    pub conflicts: Vec<ConflictRecord>,
    /// Flags raised (their `seq` is ignored).
    pub flags: Vec<FlagRecord>,
    /// Ledger entries (canonical bytes) recording the change, appended in its transaction.
    pub ledger: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the hub state changed while deciding (expected version {expected}, found {found})")]
    Stale { expected: i64, found: i64 },
    /// Another change of the activities was stored since the caller's index was read: re-sync and
    /// decide again.
    #[error("the activities changed while deciding (expected change {expected}, found {found})")]
    StaleActivities { expected: i64, found: i64 },
    #[error("an object with id {0} is already stored")]
    Duplicate(String),
    #[error("a token with this hash is already stored")]
    DuplicateToken,
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    /// A report's originator or a release entry names a party the store does not hold.
    #[error("unknown party `{0}`")]
    UnknownParty(String),
    /// Another writer changed the object version's facts first: decide again.
    #[error("object version {0} changed while deciding")]
    ObjectChanged(i64),
    #[error("a marking definition used by an object is not stored: {0}")]
    UnknownMarking(String),
    #[error("the listing cursor does not name a report the caller may see")]
    UnknownCursor,
    #[error("the store is not initialised: run `tearline init` first")]
    NotInitialised,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A value the schema cannot hold (a timestamp outside the years 0 to 9999, ...).
    #[error("cannot store {what}: {reason}")]
    Unstorable { what: &'static str, reason: String },
    /// Holds only the URL's scheme: the rest may carry a password.
    #[error("a database URL of scheme `{scheme}` is not supported (expected postgres://...)")]
    UnsupportedUrl { scheme: String },
    #[error("creating the data directory {}: {source}", path.display())]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    /// The ledger's tree could not be extended or read (a stored hash missing, an entry too big).
    #[error("the ledger: {0}")]
    Ledger(#[from] tearline_ledger::LedgerError),
    #[error("migrating the schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait Store: Send + Sync {
    /// Creates or upgrades the schema (versioned migrations). Idempotent.
    async fn migrate(&self) -> Result<()>;

    /// Whether `migrate` has run on this database.
    async fn is_initialised(&self) -> Result<bool>;

    /// A value of the hub's own settings (`signing_key`, ...).
    async fn meta(&self, key: &str) -> Result<Option<String>>;

    /// Sets a setting only when it is absent; returns the value in force afterwards.
    async fn init_meta(&self, key: &str, value: &str) -> Result<String>;

    async fn state(&self) -> Result<HubState>;

    /// The current state version, cheaply (checked on every request).
    async fn version(&self) -> Result<i64>;

    /// Makes the stored coalition and users match `declared` (what it no longer declares is
    /// retired or revoked at `now`), and rebuilds the release index with `reindexer`; appends the
    /// `ledger` entries recording the change in the same transaction.
    async fn apply(
        &self,
        expected_version: i64,
        declared: &Declared,
        now: OffsetDateTime,
        index_valid_until: Option<OffsetDateTime>,
        reindexer: &dyn Reindexer,
        ledger: &[Vec<u8>],
    ) -> Result<i64>;

    /// Replaces the operator policies in force and rebuilds the index; appends the `ledger`
    /// entries recording the change in the same transaction.
    async fn set_policies(
        &self,
        expected_version: i64,
        policies: &PolicySource,
        index_valid_until: Option<OffsetDateTime>,
        reindexer: &dyn Reindexer,
        ledger: &[Vec<u8>],
    ) -> Result<i64>;

    /// Rebuilds the whole release index (after time passed an agreement boundary).
    async fn reindex(
        &self,
        expected_version: i64,
        index_valid_until: Option<OffsetDateTime>,
        reindexer: &dyn Reindexer,
    ) -> Result<i64>;

    /// Stores object versions with their release entries in one transaction, in the order given
    /// (their storage order), each added at `now` or just after the last one added, so that
    /// dates added strictly increase. An identical version already stored (or given earlier in
    /// the batch) is a [`Added::Duplicate`], a different one under the same id and version a
    /// [`Added::Conflict`]; with `all_new`, either refuses the whole batch with
    /// [`StoreError::Duplicate`]. Marking definitions an object uses that are stored are released
    /// to every party that receives the object. A stale `expected_version` or an unknown
    /// originator refuses the whole batch. With `status`, the status resource of the add is
    /// written in the same transaction: no objects without their status, and one commit.
    async fn insert_objects(
        &self,
        expected_version: i64,
        objects: &[NewObject],
        now: OffsetDateTime,
        all_new: bool,
        status: Option<&StatusWrite<'_>>,
    ) -> Result<Vec<Added>>;

    /// Stores a report, its STIX form and its release index entries, atomically; an id already
    /// stored is [`StoreError::Duplicate`].
    async fn insert_report(
        &self,
        expected_version: i64,
        report: &Report,
        stix: &serde_json::Value,
        entries: &[ReleaseEntry],
    ) -> Result<()> {
        self.insert_reports(expected_version, &[(report.clone(), stix.clone(), entries.to_vec())]).await
    }

    /// Stores several reports, each with its STIX form and release index entries, in one
    /// transaction: all or nothing, with the checks of [`Store::insert_report`] (a stale
    /// `expected_version`, an id already stored or given twice in the batch, an unknown party
    /// refuse the whole batch). Their storage order is the order given. For imports and bulk
    /// loads, where one commit per report is too slow.
    async fn insert_reports(
        &self,
        expected_version: i64,
        reports: &[(Report, serde_json::Value, Vec<ReleaseEntry>)],
    ) -> Result<()> {
        let objects: Vec<NewObject> = reports
            .iter()
            .map(|(report, stix, entries)| NewObject {
                id: report.id.clone(),
                version: Some(report.created),
                object_type: "report".to_string(),
                spec_version: "2.1".to_string(),
                collection: None,
                facts: ReleaseFacts::of_report(report),
                report: Some(report.clone()),
                stix: stix.to_string(),
                markings: Vec::new(),
                entries: entries.clone(),
                sources: Vec::new(),
                sketches: Vec::new(),
                events: Vec::new(),
            })
            .collect();
        let now = reports.iter().map(|(report, _, _)| report.created).max().unwrap_or(OffsetDateTime::UNIX_EPOCH);
        self.insert_objects(expected_version, &objects, now, true, None).await.map(|_| ())
    }

    /// The object versions a party may receive that match `query`, in storage order, at most
    /// `query.limit`.
    async fn released_objects(&self, query: &ObjectQuery) -> Result<Vec<Released>>;

    /// Which of `ids` name an object of which a version is released to `party` at `clearance`.
    async fn released_ids(
        &self,
        party: &Code,
        clearance: Classification,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>>;

    /// Every stored version of an object, oldest first.
    async fn object_versions(&self, id: &str) -> Result<Vec<StoredObject>>;

    /// Stored marking-definition objects by id (the latest version of each).
    async fn marking_definitions(&self, ids: &[String]) -> Result<Vec<StoredObject>>;

    /// Deletes object versions by storage position, with their release entries; the marking
    /// definitions they used are re-released from the objects left.
    async fn delete_objects(&self, seqs: &[i64]) -> Result<()>;

    /// Every stored object version, a page at a time in storage order, after `after_seq`.
    async fn objects_page(&self, after_seq: i64, limit: u32) -> Result<Vec<StoredObject>>;

    /// The release entries of an object version, and those it should have when it is a marking
    /// definition released with the objects using it (for checks).
    async fn release_entries_of(&self, seq: i64) -> Result<(Vec<ReleaseEntry>, Option<Vec<ReleaseEntry>>)>;

    /// A status resource, when `party` may read it.
    async fn status(&self, id: &str, party: &Code) -> Result<Option<serde_json::Value>>;

    async fn report(&self, id: &str) -> Result<Option<Report>>;

    /// The stored STIX form of a report.
    async fn report_stix(&self, id: &str) -> Result<Option<serde_json::Value>>;

    async fn release_entry(&self, party: &Code, report_id: &str) -> Result<Option<ReleaseEntry>>;

    /// Every release entry of a report (for explanations and checks).
    async fn release_entries(&self, report_id: &str) -> Result<Vec<ReleaseEntry>>;

    /// Reports `party` may receive at `clearance`, oldest first, after the report `after`.
    /// An `after` the caller may not see is [`StoreError::UnknownCursor`].
    async fn list_reports(
        &self,
        party: &Code,
        clearance: Classification,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ReportSummary>>;

    /// All stored reports in storage order, a page at a time, after the report `after`.
    async fn reports_page(&self, after: Option<&str>, limit: u32) -> Result<Vec<Report>>;

    async fn count_reports(&self) -> Result<u64>;

    /// Stores the hash of a new API token of an active user.
    async fn insert_token(&self, user: &UserName, token_hash: &[u8], now: OffsetDateTime) -> Result<()>;

    /// The active user (of an active party) holding the token with this hash.
    async fn user_for_token(&self, token_hash: &[u8]) -> Result<Option<User>>;

    async fn user(&self, name: &UserName) -> Result<Option<User>>;

    /// The originators of the stored versions of each of `ids` that is stored.
    async fn stored_originators(&self, ids: &[String]) -> Result<std::collections::HashMap<String, Vec<Code>>>;

    /// One stored object version by storage position.
    async fn object_at(&self, seq: i64) -> Result<Option<StoredObject>>;

    /// The object versions declared or found to derive from any of `seqs` (one generation).
    async fn derived_from(&self, seqs: &[i64]) -> Result<Vec<i64>>;

    /// Text portions released to `party` that share sketch hashes with `hashes`: (object
    /// version, portion, how many hashes shared), most shared first, at most `limit`. A hash
    /// found in more than [`MOST_TEXTS_PER_HASH`] texts counts for none (boilerplate).
    async fn sketch_matches(&self, party: &Code, hashes: &[u64], limit: u32) -> Result<Vec<(i64, usize, usize)>>;

    /// Text portions of `originator`'s objects that share sketch hashes with `hashes`: (object
    /// version, portion, how many hashes shared), most shared first, at most `limit`. What a
    /// leak is traced against. A hash found in more than [`MOST_TEXTS_PER_HASH`] of the
    /// originator's texts counts for none.
    async fn originator_sketch_matches(
        &self,
        originator: &Code,
        hashes: &[u64],
        limit: u32,
    ) -> Result<Vec<(i64, usize, usize)>>;

    /// The parties an object version was delivered to, with the portions each received.
    async fn recipients_of(&self, seq: i64) -> Result<Vec<(Code, PortionSet)>>;

    /// The fingerprints recorded of an object version's texts: (party, field, choices).
    async fn fingerprints_of(&self, seq: i64) -> Result<Vec<(Code, String, String)>>;

    /// The earliest expiry after `after` of an approval in force: the release index changes then.
    async fn next_approval_expiry(&self, after: OffsetDateTime) -> Result<Option<OffsetDateTime>>;

    /// Applies an [`OnwardChange`] atomically, under the state version the entries were decided
    /// with.
    async fn change_onward(&self, expected_version: i64, change: &OnwardChange) -> Result<()>;

    /// Records deliveries, each with its ledger entry (`ledger[i]` records `deliveries[i]`), in
    /// one transaction; returns the index of the first entry (`None` when there was nothing).
    async fn record_deliveries(&self, deliveries: &[Delivery], ledger: &[Vec<u8>]) -> Result<Option<u64>>;

    /// What `party` was delivered since `since`, oldest first.
    async fn deliveries(&self, party: &Code, since: OffsetDateTime) -> Result<Vec<DeliveryRecord>>;

    /// Onward events concerning `originator`'s content, by `party` when given, since `since`,
    /// oldest first.
    async fn onward_events(
        &self,
        originator: &Code,
        party: Option<&Code>,
        since: OffsetDateTime,
    ) -> Result<Vec<OnwardEvent>>;

    async fn approval(&self, id: &str) -> Result<Option<ApprovalRecord>>;

    /// Approvals that `originator` decides (or, with `requester`, that party asked for), newest
    /// first; only pending ones with `pending_only`.
    async fn approvals(&self, party: &Code, as_requester: bool, pending_only: bool) -> Result<Vec<ApprovalRecord>>;

    // The ledger (tearline-ledger): entries, the tree's stored hashes, checkpoints, witnessing.

    /// Appends entries on their own, in one transaction; returns the index of the first.
    async fn append_ledger(&self, entries: &[Vec<u8>]) -> Result<u64>;

    /// The log's size and root, as of the last append.
    async fn ledger_head(&self) -> Result<LedgerHead>;

    /// The stored hashes at these stored hash indexes (missing ones are absent from the map).
    async fn ledger_hashes(&self, indexes: &[u64]) -> Result<HashMap<u64, Hash>>;

    /// Stored hashes with stored index in `from..to`, ascending.
    async fn ledger_hash_range(&self, from: u64, to: u64) -> Result<Vec<(u64, Hash)>>;

    /// Entries with index in `from..to`, ascending, as stored.
    async fn ledger_entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>>;

    /// Keeps a signed checkpoint (one per size; a second of the same size is ignored).
    async fn add_checkpoint(&self, size: u64, note: &str, at: OffsetDateTime) -> Result<()>;

    /// The checkpoint of the largest size, with the cosignature lines received for it.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>>;

    /// Every checkpoint kept, by size.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;

    /// Keeps a witness's cosignature line on the checkpoint of `size` (replacing its earlier one).
    async fn add_cosignature(&self, size: u64, witness: &str, line: &str, at: OffsetDateTime) -> Result<()>;

    /// As a witness: the verifier key and last checkpoint kept of the log `origin`.
    async fn witnessed(&self, origin: &str) -> Result<Option<(String, String)>>;

    /// As a witness: keeps `note` as the last checkpoint of `origin`, signed by `verifier_key`.
    async fn keep_witnessed(&self, origin: &str, verifier_key: &str, note: &str, at: OffsetDateTime) -> Result<()>;

    /// As a witness: records two inconsistent checkpoints of one origin.
    async fn record_fork(&self, fork: &Fork) -> Result<()>;

    /// Every fork recorded, oldest first.
    async fn forks(&self) -> Result<Vec<Fork>>;

    // Deconfliction: planned activities, their submissions, conflicts and flags.

    /// Registers, amends or withdraws an activity in one transaction under the hub-state write
    /// lock: refused with [`StoreError::StaleActivities`] (nothing written) unless the highest
    /// stored `change_seq` (0 when there is no activity) is still `change.expected_change_seq`;
    /// otherwise the activity is inserted (registration) or its body, revision, window end,
    /// update time, withdrawal and author replaced (amendment, withdrawal; its party and
    /// registration time stay), with the next `change_seq`, and the submission, conflicts, flags
    /// and ledger entries are written with it. Returns the activity's new `change_seq`. The hub
    /// state's version does not move.
    async fn change_activity(&self, change: &ActivityChange) -> Result<i64>;

    /// Every activity changed after `after_change_seq` (withdrawn ones included), as it is now,
    /// by `change_seq`.
    async fn activity_changes(&self, after_change_seq: i64) -> Result<Vec<ActivityRecord>>;

    async fn activity(&self, id: &str) -> Result<Option<ActivityRecord>>;

    /// The activities `party` registered (withdrawn ones included), by registration time, then id.
    async fn activities_of(&self, party: &Code) -> Result<Vec<ActivityRecord>>;

    /// `party`'s submissions at or after `since`, oldest first.
    async fn submissions_since(&self, party: &Code, since: OffsetDateTime) -> Result<Vec<SubmissionRecord>>;

    /// The conflicts `party` is on either side of, stored after `after_seq`, in storage order.
    async fn conflicts_of(&self, party: &Code, after_seq: i64) -> Result<Vec<ConflictRecord>>;

    /// Every deconfliction flag, in storage order.
    async fn deconfliction_flags(&self) -> Result<Vec<FlagRecord>>;
}

/// The ledger's size and root.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LedgerHead {
    pub size: u64,
    pub root: Hash,
}

/// A signed checkpoint kept by the hub, with the witnesses' cosignature lines on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub note: String,
    pub cosignatures: Vec<String>,
}

/// Two checkpoints of one origin that are not consistent: the evidence, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    pub origin: String,
    pub kept: String,
    pub seen: String,
    pub reason: String,
    pub found_at: OffsetDateTime,
}

/// An active user of an active party, by name, from a state.
pub fn find_user<'a>(state: &'a HubState, name: &UserName) -> Option<&'a User> {
    state.declared.users.iter().find(|u| &u.name == name)
}

/// The coalition in force in a state.
pub fn coalition_of(state: &HubState) -> tearline_model::Coalition {
    tearline_model::Coalition::new(
        state.declared.parties.iter().cloned(),
        state.declared.groups.iter().cloned(),
        state.declared.agreements.iter().cloned(),
        state.declared.embargoes.iter().cloned(),
    )
}
