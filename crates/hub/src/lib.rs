//! Tearline's domain operations, shared by the CLI and the HTTP server: initialise a hub, apply a
//! coalition file, issue tokens, submit reports, and give each user exactly its rendering.
//!
//! Every read goes through the release index (computed by `tearline-policy`, stored by
//! `tearline-store`); explanations re-run the Cedar decision. Operations take `now` from the
//! caller, so tests pass time in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tearline_model::{
    stix, Coalition, Code, Marking, ReleaseFacts, Rendering, Report, ReportDraft, ReportError, User, UserName,
};
use tearline_policy::{Decider, Policies, PolicyError, PortionFacts, Reason};
use tearline_store::{
    coalition_of, Added, HubState, MarkingUse, NewObject, PolicySource, Reindexer, ReportSummary, Store, StoreError,
};
use time::OffsetDateTime;
use tokio::sync::RwLock;

pub mod coalition_file;
pub mod deconfliction;
mod deliveries;
pub mod fingerprint;
pub mod ledger;
pub mod onward;
mod provenance;
pub mod taxii;

pub use coalition_file::ApplyError;
pub use fingerprint::{TraceReport, TracedParty, TracedPoint, TracedSource};
pub use ledger::{LedgerVerification, Proof, Receipt, Witnessed};
pub use onward::{ApprovalView, OnwardRecord, RecallOutcome, ReceivedRecord, ShareOutcome, ShareRequest};
pub use provenance::{DerivedNote, PassageNote};
pub use tearline_store::{Backend, SqlStore};

/// How often a write retries after the hub state changed under it.
const STALE_RETRIES: usize = 8;

/// Runs a write decided on the state it reads, and runs it again while that state changed under
/// it (at most [`STALE_RETRIES`] times, then [`HubError::Busy`]). `attempt` answers `None` when
/// its write found the state stale (see [`fresh`]). (A closure returning a future rather than an
/// async closure: the futures of async closures are not yet known to be `Send` for any borrow.)
pub(crate) async fn until_fresh<T, Attempt>(attempt: impl Fn() -> Attempt) -> Result<T>
where
    Attempt: std::future::Future<Output = Result<Option<T>>>,
{
    for _ in 0..STALE_RETRIES {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
    }
    Err(HubError::Busy)
}

/// A store write's outcome for [`until_fresh`]: `None` when the state it was decided on (the hub
/// state, an object's facts, the activities) changed before it could be written.
pub(crate) fn fresh<T>(written: std::result::Result<T, StoreError>) -> Result<Option<T>> {
    match written {
        Err(StoreError::Stale { .. } | StoreError::ObjectChanged(_) | StoreError::StaleActivities { .. }) => Ok(None),
        other => Ok(Some(other?)),
    }
}

/// Largest page of a listing.
pub const MAX_PAGE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Withheld and non-existent are one error, so that no answer tells them apart.
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error("the report is not accepted: {0}")]
    Report(#[from] ReportError),
    #[error("the report is not accepted: {0}")]
    Rejected(String),
    /// A request that is malformed as a whole (an envelope without objects, ...).
    #[error("{0}")]
    Invalid(String),
    #[error("the coalition file is not applied: {0}")]
    Apply(#[from] ApplyError),
    #[error("policies: {0}")]
    Policy(#[from] PolicyError),
    #[error("unknown or disabled user `{0}`")]
    UnknownUser(String),
    #[error("the listing cursor is not valid")]
    BadCursor,
    #[error("the hub state kept changing during the operation; try again")]
    Busy,
    #[error("storage: {0}")]
    Store(StoreError),
    /// Well formed, but outside what the hub accepts (a tiny activity, a window too long, ...).
    #[error("refused: {0}")]
    Refused(String),
    /// Over a rate limit: try again after `retry_after_s` seconds.
    #[error("too many requests: {reason}; try again in {retry_after_s} s")]
    TooManyRequests { retry_after_s: u64, reason: String },
    /// A fault of the hub itself (a task that failed), not of the request.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for HubError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UnknownCursor => HubError::BadCursor,
            StoreError::UnknownUser(name) => HubError::UnknownUser(name),
            other => HubError::Store(other),
        }
    }
}

pub type Result<T, E = HubError> = std::result::Result<T, E>;

/// The state decisions are made from, with its parsed policies and a decider whose memo lives
/// as long as the state does.
pub(crate) struct Snapshot {
    state: HubState,
    coalition: Coalition,
    policies: Arc<Policies>,
    /// Decides as of when the snapshot was loaded: valid until `state.index_valid_until`, after
    /// which the index is rebuilt and a new snapshot loaded.
    decider: Decider,
}

/// A hub over a store.
pub struct Hub {
    store: Arc<dyn Store>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Seals TAXII paging cursors; made once per hub and kept in the store.
    paging_key: tokio::sync::OnceCell<Vec<u8>>,
    ledger: ledger::Ledger,
    deliveries: deliveries::DeliveryWriter,
    /// Marks every text a party receives, and traces leaks (see `fingerprint`).
    fingerprinter: Arc<tearline_fingerprint::Fingerprinter>,
    /// The active activities and the notice streams' wake-up (see `deconfliction`).
    deconfliction: deconfliction::Deconfliction,
}

/// A report accepted: its id, and the sources it was found or declared to derive from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Submitted {
    pub id: String,
    pub derived_from: Vec<DerivedNote>,
}

/// What `apply` changed (empty: nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub changes: Vec<String>,
}

/// Per portion of a report, for one viewer: shown or withheld, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortionExplanation {
    /// 0 is the title, `i + 1` paragraph `i + 1` of the report (1-based for people).
    pub portion: usize,
    pub label: String,
    pub marking: String,
    pub shown: bool,
    pub reasons: Vec<Reason>,
}

/// A report explained for one user (`explain --as`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserExplanation {
    pub report: String,
    pub user: String,
    pub party: String,
    /// The report exists for the user: it may see the title and at least one paragraph.
    pub visible: bool,
    pub portions: Vec<PortionExplanation>,
}

/// A report explained for every party (the originator's view).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartyExplanation {
    pub party: String,
    pub visible: bool,
    /// The clearance a user of the party needs to see the report, when it may.
    pub min_clearance: Option<String>,
    pub portions: Vec<PortionExplanation>,
}

/// Makes the schema, the hub's signing key and its ledger's origin line (`origin`, or one made
/// from the key); returns the public key (hex). Idempotent: a second run keeps both.
pub async fn init(store: &dyn Store, origin: Option<&str>) -> Result<String> {
    store.migrate().await?;
    let mut secret = [0u8; 32];
    getrandom::getrandom(&mut secret).map_err(|e| HubError::Rejected(format!("no randomness: {e}")))?;
    let stored = store.init_meta("signing_key", &hex::encode(secret)).await?;
    let key = ed25519_dalek::SigningKey::from_bytes(&signing_seed(&stored)?);
    let public = hex::encode(key.verifying_key().as_bytes());
    let origin = match origin {
        Some(origin) => origin.to_string(),
        None => format!("tearline/{}", &public[..16]),
    };
    // Checked now, so that a bad origin stops `init` rather than every later start.
    let stored_origin = store.init_meta(ledger::ORIGIN_KEY, &origin).await?;
    ledger::Ledger::new(signing_seed(&stored)?, &stored_origin)?;
    Ok(public)
}

fn signing_seed(stored: &str) -> Result<[u8; 32]> {
    hex::decode(stored)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| HubError::Store(StoreError::Corrupt("signing key".into())))
}

/// SHA-256 of an API token: the only form in which tokens are stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn policy_digest(files: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, text) in files {
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The release index of a report under one decider.
struct Indexer<'a>(&'a Decider);

impl Reindexer for Indexer<'_> {
    fn entries(&self, facts: &ReleaseFacts) -> Vec<tearline_model::ReleaseEntry> {
        self.0.release_entries_for_coalition(facts)
    }
}

impl Hub {
    /// Opens an initialised hub, upgrading its schema. With `operator_policies`, they are
    /// validated (an invalid one stops the start, naming it) and, when they differ from those in
    /// force, put in force and the index rebuilt.
    pub async fn open(
        store: Arc<dyn Store>,
        operator_policies: Option<BTreeMap<String, String>>,
        now: OffsetDateTime,
    ) -> Result<Hub> {
        if !store.is_initialised().await? {
            return Err(HubError::Store(StoreError::NotInitialised));
        }
        // A newer binary brings its schema migrations; they run before anything is read.
        store.migrate().await?;
        let snapshot = Arc::new(load_snapshot(store.as_ref(), None, now).await?);
        let seed = signing_seed(&store.meta("signing_key").await?.ok_or(StoreError::NotInitialised)?)?;
        // Hubs initialised before the ledger existed get the default origin now.
        let public = hex::encode(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().as_bytes());
        let origin = store.init_meta(ledger::ORIGIN_KEY, &format!("tearline/{}", &public[..16])).await?;
        let ledger = ledger::Ledger::new(seed, &origin)?;
        let fingerprinter = Arc::new(fingerprint::fingerprinter(&seed)?);
        let deliveries = deliveries::DeliveryWriter::start(Arc::clone(&store));
        let paging_key = tokio::sync::OnceCell::new();
        let hub = Hub {
            store,
            snapshot: RwLock::new(snapshot),
            paging_key,
            ledger,
            deliveries,
            fingerprinter,
            deconfliction: deconfliction::Deconfliction::new(),
        };
        if let Some(files) = operator_policies {
            let policies = Policies::load(&files)?;
            let source = PolicySource { digest: policy_digest(&files), files };
            hub.set_policies(policies, source, now).await?;
        }
        Ok(hub)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    async fn set_policies(&self, policies: Policies, source: PolicySource, now: OffsetDateTime) -> Result<()> {
        let (policies, source) = (&policies, &source);
        until_fresh(|| async move {
            let snapshot = self.current(now).await?;
            if snapshot.state.policies.digest == source.digest {
                return Ok(Some(()));
            }
            let decider = Decider::new(policies, &snapshot.coalition, now);
            let valid_until = self.index_valid_until(&snapshot.coalition, now).await?;
            let recorded = ledger::entry(
                now,
                tearline_ledger::Event::Policies {
                    digest: source.digest.clone(),
                    files: source.files.keys().cloned().collect(),
                },
            )?;
            let indexer = Indexer(&decider);
            let recorded = std::slice::from_ref(&recorded);
            fresh(self.store.set_policies(snapshot.state.version, source, valid_until, &indexer, recorded).await)
                .map(|written| written.map(|_| ()))
        })
        .await
    }

    /// The state in force now: reloaded when another process changed it, and the index rebuilt
    /// when time has passed an agreement's start or end.
    pub(crate) async fn current(&self, now: OffsetDateTime) -> Result<Arc<Snapshot>> {
        until_fresh(|| async move {
            let version = self.store.version().await?;
            let cached = self.snapshot.read().await.clone();
            let snapshot = if cached.state.version == version {
                cached
            } else {
                let loaded = Arc::new(load_snapshot(self.store.as_ref(), Some(&cached), now).await?);
                *self.snapshot.write().await = loaded.clone();
                loaded
            };
            if snapshot.state.index_valid_until.is_none_or(|until| until > now) {
                return Ok(Some(snapshot));
            }
            // Time passed an agreement's start or end: the index is rebuilt, then read again.
            let decider = Decider::new(&snapshot.policies, &snapshot.coalition, now);
            let valid_until = self.index_valid_until(&snapshot.coalition, now).await?;
            fresh(self.store.reindex(snapshot.state.version, valid_until, &Indexer(&decider)).await)?;
            Ok(None)
        })
        .await
    }

    /// Until when an index computed now holds: the next agreement start or end, or approval
    /// expiry.
    async fn index_valid_until(&self, coalition: &Coalition, now: OffsetDateTime) -> Result<Option<OffsetDateTime>> {
        let approval = self.store.next_approval_expiry(now).await?;
        Ok(match (coalition.next_change_after(now), approval) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// The snapshot in force, as last loaded (callers that already went through `current`).
    pub(crate) async fn current_snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().await.clone()
    }

    /// Makes the hub match an `apply` file; lists what changed.
    pub async fn apply(&self, text: &str, now: OffsetDateTime) -> Result<Applied> {
        let declared = &coalition_file::parse(text)?;
        until_fresh(|| async move {
            let snapshot = self.current(now).await?;
            let changes = coalition_file::changes(&snapshot.state.declared, declared);
            if changes.is_empty() {
                return Ok(Some(Applied { changes }));
            }
            let coalition = Coalition::new(
                declared.parties.iter().cloned(),
                declared.groups.iter().cloned(),
                declared.agreements.iter().cloned(),
                declared.embargoes.iter().cloned(),
            );
            let decider = Decider::new(&snapshot.policies, &coalition, now);
            let valid_until = self.index_valid_until(&coalition, now).await?;
            // The file declares the whole coalition: its digest names the state after the change.
            let state = tearline_ledger::digest_text(&Sha256::digest(text.as_bytes()).into());
            let recorded = changes
                .iter()
                .map(|change| {
                    ledger::entry(
                        now,
                        tearline_ledger::Event::Coalition { change: change.clone(), state: state.clone() },
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let indexer = Indexer(&decider);
            let written =
                fresh(self.store.apply(snapshot.state.version, declared, now, valid_until, &indexer, &recorded).await)?;
            Ok(written.map(|_| Applied { changes }))
        })
        .await
    }

    /// A new random API token (256 bits) for an active user; only its hash is stored.
    pub async fn issue_token(&self, user: &str, now: OffsetDateTime) -> Result<String> {
        let name = UserName::new(user).map_err(|_| HubError::UnknownUser(user.to_string()))?;
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|e| HubError::Rejected(format!("no randomness: {e}")))?;
        use base64::Engine;
        let token = format!("tl_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret));
        self.store.insert_token(&name, &token_hash(&token), now).await?;
        Ok(token)
    }

    /// The active user holding `token`, if any.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>> {
        Ok(self.store.user_for_token(&token_hash(token)).await?)
    }

    /// An active user by name.
    pub async fn user(&self, name: &str) -> Result<User> {
        let unknown = || HubError::UnknownUser(name.to_string());
        let name = UserName::new(name).map_err(|_| unknown())?;
        self.store.user(&name).await?.ok_or_else(unknown)
    }

    /// Stores a portion-marked report written by `author`: its id, and what it derives from
    /// (declared `SOURCES:`, or released text of another party it reuses). Atomic.
    pub async fn submit_report(&self, author: &User, text: &str, now: OffsetDateTime) -> Result<Submitted> {
        let mut submitted = self.submit_all(author, &[text.to_string()], now).await.map_err(|error| match error {
            HubError::Rejected(message) => {
                HubError::Rejected(message.trim_start_matches("report 0 of the batch: ").to_string())
            }
            other => other,
        })?;
        submitted.pop().ok_or(HubError::Busy)
    }

    /// Stores several portion-marked reports written by `author`, all or nothing, in one
    /// transaction (for imports); returns their ids in the order of `texts`, which is also their
    /// storage order. Every text is checked before anything is stored: one that is not accepted
    /// refuses the whole batch, and the error names its index in `texts` (from 0). The marking
    /// definitions of their portions are stored with them, so TAXII clients can read them.
    pub async fn submit_reports(&self, author: &User, texts: &[String], now: OffsetDateTime) -> Result<Vec<String>> {
        Ok(self.submit_all(author, texts, now).await?.into_iter().map(|s| s.id).collect())
    }

    async fn submit_all(&self, author: &User, texts: &[String], now: OffsetDateTime) -> Result<Vec<Submitted>> {
        let ids: &Vec<String> = &texts.iter().map(|_| format!("report--{}", uuid::Uuid::new_v4())).collect();
        until_fresh(|| async move {
            let snapshot = self.current(now).await?;
            let mut parsed = Vec::with_capacity(texts.len());
            for (index, (text, id)) in texts.iter().zip(ids).enumerate() {
                let (report, declared) =
                    parse_report(&snapshot, author, text, id.clone(), now).map_err(|error| in_batch(index, error))?;
                let sources = self.declared_sources(author, &declared).await.map_err(|error| in_batch(index, error))?;
                parsed.push((report, sources));
            }
            let portion_texts: Vec<Vec<(usize, String)>> = parsed
                .iter()
                .map(|(report, _)| report.portions().enumerate().map(|(i, p)| (i, p.text.clone())).collect())
                .collect();
            // Copied text is looked up once for the whole batch.
            let copied = self.copied_sources(&snapshot, author, &portion_texts).await?;
            let mut reports = Vec::with_capacity(parsed.len());
            for (((report, mut sources), copied), portion_texts) in parsed.into_iter().zip(copied).zip(portion_texts) {
                let declared: BTreeSet<i64> = sources.iter().map(|s| s.object.seq).collect();
                sources.extend(copied.into_iter().filter(|c| !declared.contains(&c.object.seq)));
                reports.push((report, sources, portion_texts));
            }
            let mut objects = Vec::new();
            for (report, _, _) in &reports {
                objects.extend(report_marking_definitions(report)?);
            }
            let first_report = objects.len();
            let mut notes = Vec::with_capacity(reports.len());
            for (mut report, sources, portion_texts) in reports {
                let own = ReleaseFacts::of_report(&report);
                let derivation = provenance::derive(&own, &sources);
                let tried = snapshot.decider.release_entries_for_coalition(&own);
                if derivation.inherited.is_some() {
                    // The rendering shows each portion under the restrictions it now carries.
                    for (portion, marking) in report.portions_mut().zip(&derivation.facts.portions) {
                        portion.marking = marking.clone();
                    }
                }
                let facts = derivation.facts;
                let entries = snapshot.decider.release_entries_for_coalition(&facts);
                let events =
                    provenance::derivation_events(author, &report.id, report.created, &sources, &tried, &entries, now);
                notes.push(derivation.notes);
                let stix = stix::report_to_stix(&report).to_string();
                objects.push(NewObject {
                    id: report.id.clone(),
                    version: Some(report.created),
                    object_type: "report".to_string(),
                    spec_version: "2.1".to_string(),
                    collection: None,
                    entries,
                    markings: report_marking_uses(&report),
                    facts,
                    report: Some(report),
                    stix,
                    sources: derivation.sources,
                    sketches: provenance::sketches(&portion_texts),
                    events,
                });
            }
            // Derived portions may carry markings of their own: their definitions go with them.
            let mut seen: BTreeSet<String> = objects[..first_report].iter().map(|o| o.id.clone()).collect();
            let mut extra = Vec::new();
            for object in &objects[first_report..] {
                if let Some(report) = &object.report {
                    extra.extend(report_marking_definitions(report)?.into_iter().filter(|d| seen.insert(d.id.clone())));
                }
            }
            let first_report = first_report + extra.len();
            objects.splice(0..0, extra);
            let Some(added) =
                fresh(self.store.insert_objects(snapshot.state.version, &objects, now, false, None).await)?
            else {
                return Ok(None);
            };
            // Report ids are fresh UUIDs: anything but a new row means a broken store.
            if let Some(object) = added[first_report..].iter().position(|a| !matches!(a, Added::Stored { .. })) {
                return Err(HubError::Store(StoreError::Duplicate(ids[object].clone())));
            }
            Ok(Some(ids.iter().cloned().zip(notes).map(|(id, derived_from)| Submitted { id, derived_from }).collect()))
        })
        .await
    }

    /// The rendering `viewer` gets, from the release index; withheld is [`HubError::NotFound`].
    /// The delivery is recorded for the originators' audit, with its ledger entry.
    pub async fn view(&self, viewer: &User, id: &str, now: OffsetDateTime) -> Result<Rendering> {
        Ok(self.view_with_receipt(viewer, id, now).await?.0)
    }

    /// [`Hub::view`], with the receipt of the release (the ledger entry binds the digest of
    /// [`rendering_json`]; the other forms of a rendering present the same content).
    pub async fn view_with_receipt(
        &self,
        viewer: &User,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<(Rendering, Receipt)> {
        let mut rendering = self.render_report(viewer, id, now).await?;
        let mut marker = self.marker(&viewer.party);
        marker.rendering(&mut rendering);
        let marks = marker.marks;
        let shown = std::iter::once(0).chain(rendering.paragraphs.iter().map(|(i, _)| i + 1)).collect();
        let json = rendering_json(&rendering);
        let given = ledger::Given {
            object_id: &rendering.id,
            version: rendering.created,
            portions: shown,
            rendering: &json,
            marks,
        };
        let receipt = self.deliver(viewer, &[given], "rest", now).await?.ok_or(HubError::NotFound)?;
        Ok((rendering, receipt))
    }

    async fn render_report(&self, viewer: &User, id: &str, now: OffsetDateTime) -> Result<Rendering> {
        self.current(now).await?;
        let entry = self.store.release_entry(&viewer.party, id).await?.ok_or(HubError::NotFound)?;
        if viewer.clearance < entry.min_clearance {
            return Err(HubError::NotFound);
        }
        let report = self.store.report(id).await?.ok_or(HubError::NotFound)?;
        let classification = |i: usize| report.portions().nth(i).map(|p| p.marking.classification());
        report
            .render(|i| entry.portions.contains(i) && classification(i).is_some_and(|c| c <= viewer.clearance))
            .ok_or(HubError::NotFound)
    }

    /// The reports `viewer` may see, oldest first, after the report `after`. Each title shown
    /// is a delivery of the report's portion 0.
    pub async fn list(
        &self,
        viewer: &User,
        after: Option<&str>,
        limit: u32,
        now: OffsetDateTime,
    ) -> Result<Vec<ReportSummary>> {
        Ok(self.list_with_receipt(viewer, after, limit, now).await?.0)
    }

    /// [`Hub::list`], with the receipt of the release (none for an empty page); each entry binds
    /// the digest of the report's [`summary_json`].
    pub async fn list_with_receipt(
        &self,
        viewer: &User,
        after: Option<&str>,
        limit: u32,
        now: OffsetDateTime,
    ) -> Result<(Vec<ReportSummary>, Option<Receipt>)> {
        self.current(now).await?;
        let limit = limit.clamp(1, MAX_PAGE);
        let mut page = self.store.list_reports(&viewer.party, viewer.clearance, after, limit).await?;
        let mut marks = Vec::with_capacity(page.len());
        for summary in &mut page {
            let mut marker = self.marker(&viewer.party);
            summary.title = marker.title(&summary.originator, &summary.id, summary.created, &summary.title);
            marks.push(marker.marks);
        }
        let renderings: Vec<serde_json::Value> = page.iter().map(summary_json).collect();
        let given: Vec<ledger::Given> = page
            .iter()
            .zip(&renderings)
            .zip(marks)
            .map(|((summary, rendering), marks)| ledger::Given {
                object_id: &summary.id,
                version: summary.created,
                portions: std::iter::once(0).collect(),
                rendering,
                marks,
            })
            .collect();
        let receipt = self.deliver(viewer, &given, "rest", now).await?;
        Ok((page, receipt))
    }

    /// Why each portion is shown to or withheld from `viewer` (Cedar's decision, re-run).
    pub async fn explain_for_user(&self, viewer: &User, id: &str, now: OffsetDateTime) -> Result<UserExplanation> {
        let snapshot = self.current(now).await?;
        let (report, facts) = self.stored_report(id).await?;
        let originators = facts.originators();
        let topics = facts.decision_topics();
        let decider = &snapshot.decider;
        let entries = decider.release_entries_for_coalition(&facts);
        let entry = entries.iter().find(|e| e.party == viewer.party);
        let portions: Vec<PortionExplanation> = report
            .portions()
            .enumerate()
            .map(|(index, portion)| {
                let portion_facts = PortionFacts::new(&originators, &topics, &portion.marking);
                let decision = decider.user_decision(viewer, &portion_facts);
                let received = entry.is_some_and(|e| facts.portion_shown(e, viewer.clearance, index));
                if !decision.allowed && received {
                    let reason = passed_on(&snapshot.coalition, &facts, &viewer.party, index);
                    return explanation(index, &portion.marking, true, vec![reason]);
                }
                explanation(index, &portion.marking, decision.allowed, decision.reasons)
            })
            .collect();
        let visible = report.render(|i| portions.get(i).is_some_and(|p| p.shown)).is_some();
        Ok(UserExplanation {
            report: report.id.clone(),
            user: viewer.name.to_string(),
            party: viewer.party.to_string(),
            visible,
            portions,
        })
    }

    /// For the originator's users: the decision for every party and portion, with reasons.
    pub async fn explain_for_parties(
        &self,
        caller: &User,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<PartyExplanation>> {
        let snapshot = self.current(now).await?;
        let (report, facts) = self.stored_report(id).await?;
        if report.originator != caller.party {
            // Whether the caller may see the report decides between "absent" and "not yours".
            return match self.render_report(caller, id, now).await {
                Ok(_) => {
                    Err(HubError::Forbidden("only the originator's users may see why a report is released".into()))
                }
                Err(e) => Err(e),
            };
        }
        let decider = &snapshot.decider;
        let entries = decider.release_entries_for_coalition(&facts);
        let originators = facts.originators();
        let topics = facts.decision_topics();
        Ok(snapshot
            .coalition
            .parties()
            .map(|party| {
                let entry = entries.iter().find(|e| e.party == party.code);
                let portions: Vec<PortionExplanation> = report
                    .portions()
                    .enumerate()
                    .map(|(index, portion)| {
                        let portion_facts = PortionFacts::new(&originators, &topics, &portion.marking);
                        let decision = decider.party_decision(&party.code, &portion_facts);
                        if !decision.allowed && entry.is_some_and(|e| e.portions.contains(index)) {
                            let reason = passed_on(&snapshot.coalition, &facts, &party.code, index);
                            return explanation(index, &portion.marking, true, vec![reason]);
                        }
                        explanation(index, &portion.marking, decision.allowed, decision.reasons)
                    })
                    .collect();
                PartyExplanation {
                    party: party.code.to_string(),
                    visible: entry.is_some(),
                    min_clearance: entry.map(|e| e.min_clearance.to_string()),
                    portions,
                }
            })
            .collect())
    }

    /// A stored report and the facts its release index is computed from.
    async fn stored_report(&self, id: &str) -> Result<(Report, ReleaseFacts)> {
        let stored = self.store.object_versions(id).await?.pop().ok_or(HubError::NotFound)?;
        let report = stored.report.ok_or(HubError::NotFound)?;
        Ok((report, stored.facts))
    }

    /// Recomputes the release index of every object version and lists where the stored one
    /// differs.
    pub async fn verify_index(&self, now: OffsetDateTime) -> Result<IndexCheck> {
        let snapshot = self.current(now).await?;
        let decider = &snapshot.decider;
        let mut check = IndexCheck::default();
        let mut after = 0;
        loop {
            let page = self.store.objects_page(after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for object in &page {
                check.objects += 1;
                let (mut stored, derived) = self.store.release_entries_of(object.seq).await?;
                let mut expected = match derived {
                    Some(derived) => derived,
                    None => decider.release_entries_for_coalition(&object.facts),
                };
                expected.sort_by(|a, b| a.party.cmp(&b.party));
                stored.sort_by(|a, b| a.party.cmp(&b.party));
                if expected != stored {
                    check.mismatches.push(object.id.clone());
                }
            }
        }
        Ok(check)
    }

    /// The STIX bundle of a rendering: the report as the viewer gets it, with the marking and
    /// extension definitions it uses.
    pub fn stix_bundle(rendering: &Rendering) -> serde_json::Value {
        let mut objects = vec![stix::rendering_to_stix(rendering)];
        objects.extend(stix::marking_definitions_of(rendering));
        objects.extend(stix::extension_definitions());
        serde_json::json!({
            "type": "bundle",
            "id": format!("bundle--{}", uuid::Uuid::new_v4()),
            "objects": objects,
        })
    }

    /// Active parties, for listings of who could receive.
    pub async fn parties(&self, now: OffsetDateTime) -> Result<Vec<Code>> {
        let snapshot = self.current(now).await?;
        Ok(snapshot.coalition.parties().map(|p| p.code.clone()).collect())
    }
}

/// The outcome of [`Hub::verify_index`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexCheck {
    /// Object versions checked (reports, their marking definitions, TAXII objects).
    pub objects: u64,
    pub mismatches: Vec<String>,
}

/// Why `party` has portion `index` that its own agreements do not give it: a recipient passed
/// it on (`tearline share`), with the originators' approval where one was needed.
fn passed_on(coalition: &Coalition, facts: &ReleaseFacts, party: &Code, index: usize) -> Reason {
    let by: BTreeSet<&str> = facts
        .shares
        .iter()
        .filter(|share| share.portions.contains(index) && share.to.iter().any(|to| coalition.includes(to, party)))
        .map(|share| share.by.as_str())
        .collect();
    let approved: BTreeSet<&str> =
        facts.approvals.iter().filter(|a| a.party == *party).map(|a| a.by.as_str()).collect();
    let mut explanation = format!("passed on by {}", by.into_iter().collect::<Vec<_>>().join(", "));
    if !approved.is_empty() {
        let by: Vec<&str> = approved.into_iter().collect();
        explanation.push_str(&format!(", with the approval of {} for {party}", by.join(", ")));
    }
    Reason::new("passed-on", explanation)
}

fn explanation(index: usize, marking: &Marking, shown: bool, reasons: Vec<Reason>) -> PortionExplanation {
    PortionExplanation {
        portion: index,
        label: if index == 0 { "title".to_string() } else { format!("paragraph {index}") },
        marking: marking.banner(),
        shown,
        reasons,
    }
}

/// A report as `author` submits it under the state of `snapshot`: its text parsed against the
/// coalition, and no portion above the author's clearance.
fn parse_report(
    snapshot: &Snapshot,
    author: &User,
    text: &str,
    id: String,
    now: OffsetDateTime,
) -> Result<(Report, Vec<String>)> {
    let draft = ReportDraft::parse(text, &author.party, &snapshot.coalition)?;
    if let Some(above) = std::iter::once(&draft.title)
        .chain(&draft.paragraphs)
        .map(|p| p.marking.classification())
        .find(|c| *c > author.clearance)
    {
        return Err(HubError::Rejected(format!(
            "a portion is marked {above}, above the author's clearance {}",
            author.clearance
        )));
    }
    let report = Report {
        id,
        originator: author.party.clone(),
        created: now,
        title: draft.title,
        topics: draft.topics,
        paragraphs: draft.paragraphs,
    };
    Ok((report, draft.sources))
}

/// The marking-definition objects of a report's portions, stored with it. They are released
/// only with the objects using them (their own facts release nothing).
fn report_marking_definitions(report: &Report) -> Result<Vec<NewObject>> {
    marking_definitions_of(report.portions().map(|p| &p.marking), &report.originator)
}

/// Tearline's marking-definition objects for `markings` set by `originator`, once each, to be
/// stored with the objects that use them.
pub(crate) fn marking_definitions_of<'a>(
    markings: impl Iterator<Item = &'a Marking>,
    originator: &Code,
) -> Result<Vec<NewObject>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut objects = Vec::new();
    for marking in markings {
        let Some(definition) = stix::marking_definition(marking, originator) else { continue };
        let id = definition["id"].as_str().unwrap_or_default().to_string();
        if !seen.insert(id.clone()) {
            continue;
        }
        let created = definition["created"].as_str().unwrap_or_default();
        let version = OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .map_err(|e| HubError::Rejected(format!("a marking definition's creation time: {e}")))?;
        objects.push(NewObject {
            id,
            version: Some(version),
            object_type: "marking-definition".to_string(),
            spec_version: "2.1".to_string(),
            collection: None,
            facts: ReleaseFacts::released_with_users(originator),
            report: None,
            stix: definition.to_string(),
            markings: Vec::new(),
            entries: Vec::new(),
            sources: Vec::new(),
            sketches: Vec::new(),
            events: Vec::new(),
        });
    }
    Ok(objects)
}

/// Each portion of a report uses the marking definitions of its own marking.
fn report_marking_uses(report: &Report) -> Vec<MarkingUse> {
    report
        .portions()
        .enumerate()
        .flat_map(|(index, portion)| {
            stix::marking_refs(&portion.marking, &report.originator).into_iter().map(move |id| MarkingUse {
                id,
                portions: std::iter::once(index).collect(),
                min_classification: portion.marking.classification(),
            })
        })
        .collect()
}

/// An error about the report at `index` of a batch, saying which one it is.
fn in_batch(index: usize, error: HubError) -> HubError {
    match error {
        HubError::Report(error) => HubError::Rejected(format!("report {index} of the batch: {error}")),
        HubError::Rejected(message) => HubError::Rejected(format!("report {index} of the batch: {message}")),
        other => other,
    }
}

/// A rendering as the REST API gives it: `{"id", "title", "banner", "portions": [{"marking",
/// "text"}]}` and a little more. Its digest is what the ledger records of a view.
pub fn rendering_json(rendering: &Rendering) -> serde_json::Value {
    serde_json::json!({
        "id": rendering.id,
        "title": rendering.title.text,
        "title_marking": rendering.title.marking.portion_mark(),
        "banner": rendering.banner.banner(),
        "originator": rendering.originator.as_str(),
        "created": stix::timestamp(rendering.created),
        "topics": rendering.topics.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "portions": rendering.paragraphs.iter().map(|(_, p)| serde_json::json!({
            "marking": p.marking.portion_mark(),
            "text": p.text,
        })).collect::<Vec<_>>(),
    })
}

/// A report as a listing gives it; its digest is what the ledger records of a listed title.
pub fn summary_json(summary: &ReportSummary) -> serde_json::Value {
    serde_json::json!({
        "id": summary.id,
        "title": summary.title,
        "originator": summary.originator.as_str(),
        "created": stix::timestamp(summary.created),
    })
}

async fn load_snapshot(store: &dyn Store, previous: Option<&Snapshot>, now: OffsetDateTime) -> Result<Snapshot> {
    let state = store.state().await?;
    let policies = match previous {
        Some(p) if p.state.policies.digest == state.policies.digest => p.policies.clone(),
        _ => Arc::new(Policies::load(&state.policies.files)?),
    };
    let coalition = coalition_of(&state);
    let decider = Decider::new(&policies, &coalition, now);
    Ok(Snapshot { coalition, state, policies, decider })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_write_is_tried_again_while_stale_and_busy_after_the_last_try() {
        let tries = AtomicUsize::new(0);
        let written = until_fresh(|| async {
            let n = tries.fetch_add(1, Ordering::SeqCst);
            fresh(if n < 3 { Err(StoreError::Stale { expected: 0, found: 1 }) } else { Ok(n) })
        })
        .await;
        assert_eq!((written.ok(), tries.load(Ordering::SeqCst)), (Some(3), 4));

        tries.store(0, Ordering::SeqCst);
        let never = until_fresh(|| async {
            tries.fetch_add(1, Ordering::SeqCst);
            fresh::<()>(Err(StoreError::ObjectChanged(7)))
        })
        .await;
        assert!(matches!(never, Err(HubError::Busy)), "{never:?}");
        assert_eq!(tries.load(Ordering::SeqCst), STALE_RETRIES);
    }

    #[tokio::test]
    async fn any_other_failure_ends_the_write_at_once() {
        let tries = AtomicUsize::new(0);
        let failed = until_fresh(|| async {
            tries.fetch_add(1, Ordering::SeqCst);
            fresh::<()>(Err(StoreError::UnknownParty("XYZ".into())))
        })
        .await;
        assert!(matches!(failed, Err(HubError::Store(StoreError::UnknownParty(_)))), "{failed:?}");
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }
}
