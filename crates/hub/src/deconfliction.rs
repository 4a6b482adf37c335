//! Deconfliction: parties register planned activities; each conflict between two parties'
//! activities gives both a notice that discloses only where and when, coarsened
//! (`tearline-deconflict`).
//!
//! The active activities live in memory in a [`Theatre`], kept in step with the store's
//! `activities` table by its change sequence: every write names the sequence the theatre was
//! synced to, and the store refuses it if another process wrote since, so a check is never made
//! against a stale theatre. Registrations, amendments and conflicts are entered in the ledger
//! under blinded references.

use std::collections::HashMap;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tearline_deconflict::sweep::{sweep, Footprint};
use tearline_deconflict::{overlap, Activity, ActivityDraft, DeconflictError, Notice, Registered, Settings, Theatre};
use tearline_model::{Code, User};
use tearline_store::{ActivityChange, ActivityRecord, ConflictRecord, ConflictSide, FlagRecord, SubmissionRecord};
use time::{Duration, OffsetDateTime};
use tokio::sync::{broadcast, Mutex};

use crate::{fresh, ledger, until_fresh, Hub, HubError, Result};

/// The theatre and the store change it reflects.
#[derive(Default)]
struct Synced {
    theatre: Theatre,
    /// The highest `change_seq` applied; `None` before the first load.
    change_seq: Option<i64>,
    /// Current revision of each activity in the theatre.
    revisions: HashMap<String, i64>,
}

/// The hub's deconfliction state: the theatre, and a wake-up for notice streams.
pub(crate) struct Deconfliction {
    synced: Mutex<Synced>,
    notified: broadcast::Sender<()>,
}

impl Deconfliction {
    pub(crate) fn new() -> Self {
        let (notified, _) = broadcast::channel(16);
        Deconfliction { synced: Mutex::new(Synced::default()), notified }
    }
}

/// An activity as its own party sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ActivityView {
    pub id: String,
    pub revision: i64,
    /// `active`, `withdrawn` or `ended`.
    pub status: &'static str,
    pub author: String,
    #[serde(with = "time::serde::rfc3339")]
    pub registered: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    pub activity: Value,
    /// Ids of the current conflicts this activity is in (the notices say more).
    pub conflicts: Vec<String>,
}

/// A sweep reported to the operators.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepFlag {
    pub party: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub reason: String,
    pub activities: Vec<String>,
}

impl From<DeconflictError> for HubError {
    fn from(error: DeconflictError) -> Self {
        match error {
            DeconflictError::Invalid { .. } => HubError::Invalid(format!("the activity is not valid: {error}")),
            DeconflictError::Refused(reason) => HubError::Refused(reason),
            DeconflictError::Settings { .. } | DeconflictError::Grid(_) => HubError::Internal(error.to_string()),
        }
    }
}

fn parse_draft(body: &Value) -> Result<ActivityDraft> {
    serde_json::from_value(body.clone()).map_err(|e| HubError::Invalid(format!("the activity is not valid: {e}")))
}

fn stored_draft(record: &ActivityRecord) -> Result<ActivityDraft> {
    serde_json::from_str(&record.body)
        .map_err(|e| HubError::Internal(format!("stored activity {} does not parse: {e}", record.id)))
}

/// RFC 7396 JSON merge patch: what an amendment sends.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// The ledger's digest (`sha256:…`) of length-prefixed parts.
fn digest_hex(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    tearline_ledger::digest_text(&hash.finalize().into())
}

fn status_of(record: &ActivityRecord, now: OffsetDateTime) -> &'static str {
    if record.withdrawn.is_some() {
        "withdrawn"
    } else if record.window_end <= now {
        "ended"
    } else {
        "active"
    }
}

/// What one write changes, before the theatre check fills in the conflicts.
struct Change {
    id: String,
    revision: i64,
    party: Code,
    author: User,
    activity: Activity,
    registered: OffsetDateTime,
    kind: &'static str,
}

impl Hub {
    fn deconfliction_settings(snapshot: &crate::Snapshot) -> &Settings {
        &snapshot.state.declared.deconfliction
    }

    /// Registers a planned activity of the user's party and notifies both sides of every
    /// conflict it is in.
    pub async fn register_activity(&self, author: &User, body: &Value, now: OffsetDateTime) -> Result<ActivityView> {
        let snapshot = self.current(now).await?;
        let settings = Self::deconfliction_settings(&snapshot);
        let activity = Activity::register(parse_draft(body)?, settings, now)?;
        let change = Change {
            id: format!("activity--{}", uuid::Uuid::new_v4()),
            revision: 1,
            party: author.party.clone(),
            author: author.clone(),
            activity,
            registered: now,
            kind: "registered",
        };
        self.write_activity(change, settings, now).await
    }

    /// Amends an activity of the user's party with a JSON merge patch of what was registered;
    /// it is checked again as if new.
    pub async fn amend_activity(
        &self,
        author: &User,
        id: &str,
        patch: &Value,
        now: OffsetDateTime,
    ) -> Result<ActivityView> {
        let snapshot = self.current(now).await?;
        let settings = Self::deconfliction_settings(&snapshot);
        let record = self.own_activity(author, id).await?;
        match status_of(&record, now) {
            "withdrawn" => return Err(HubError::Invalid("the activity was withdrawn".into())),
            "ended" => return Err(HubError::Invalid("the activity's window has ended".into())),
            _ => {}
        }
        let mut draft = serde_json::to_value(stored_draft(&record)?)
            .map_err(|e| HubError::Internal(format!("activity {id}: {e}")))?;
        merge_patch(&mut draft, patch);
        let activity = Activity::register(parse_draft(&draft)?, settings, now)?;
        let change = Change {
            id: record.id.clone(),
            revision: record.revision + 1,
            party: record.party.clone(),
            author: author.clone(),
            activity,
            registered: record.registered,
            kind: "amended",
        };
        self.write_activity(change, settings, now).await
    }

    /// Withdraws an activity of the user's party: it conflicts with nothing from now on.
    pub async fn withdraw_activity(&self, author: &User, id: &str, now: OffsetDateTime) -> Result<ActivityView> {
        let record = self.own_activity(author, id).await?;
        if record.withdrawn.is_some() {
            return self.activity_view(record, now).await;
        }
        let digest = digest_hex(&[record.party.as_str().as_bytes(), record.body.as_bytes()]);
        let event = tearline_ledger::Event::Activity {
            activity: self.ledger.deconfliction_ref(&record.id, "activity"),
            revision: u64::try_from(record.revision).unwrap_or_default(),
            change: "withdrawn".into(),
            digest,
        };
        let entry = ledger::entry(now, event)?;
        let withdrawn = &ActivityRecord { withdrawn: Some(now), updated: now, author: author.name.clone(), ..record };
        let entry = &entry;
        until_fresh(|| async move {
            let mut synced = self.deconfliction.synced.lock().await;
            self.sync(&mut synced, now).await?;
            let change = ActivityChange {
                expected_change_seq: synced.change_seq.unwrap_or_default(),
                activity: withdrawn.clone(),
                submission: None,
                conflicts: vec![],
                flags: vec![],
                ledger: vec![entry.clone()],
            };
            let Some(seq) = fresh(self.store.change_activity(&change).await)? else { return Ok(None) };
            synced.theatre.remove(&withdrawn.id);
            synced.revisions.remove(&withdrawn.id);
            synced.change_seq = Some(seq);
            Ok(Some(()))
        })
        .await?;
        let stored = self.store.activity(id).await?.ok_or(HubError::NotFound)?;
        self.activity_view(stored, now).await
    }

    /// The user's party's activities, newest registration last.
    pub async fn activities(&self, viewer: &User, now: OffsetDateTime) -> Result<Vec<ActivityView>> {
        let records = self.store.activities_of(&viewer.party).await?;
        let current = self.current_conflicts(&viewer.party, now).await?;
        records.into_iter().map(|record| Ok(view_of(record, &current, now))).collect::<Result<Vec<_>>>()
    }

    /// One activity of the user's party; another party's is not found, like a missing one.
    pub async fn activity(&self, viewer: &User, id: &str, now: OffsetDateTime) -> Result<ActivityView> {
        let record = self.own_activity(viewer, id).await?;
        self.activity_view(record, now).await
    }

    /// The user's party's notices: current conflicts only, or every one ever notified.
    pub async fn conflict_notices(&self, viewer: &User, all: bool, now: OffsetDateTime) -> Result<Vec<Notice>> {
        let records = if all {
            self.store.conflicts_of(&viewer.party, 0).await?
        } else {
            self.current_conflicts(&viewer.party, now).await?
        };
        let snapshot = self.current(now).await?;
        let settings = Self::deconfliction_settings(&snapshot);
        records.iter().map(|record| notice_for(record, &viewer.party, settings)).collect()
    }

    /// Notices of the user's party after `after_seq` (a stream's last event id), with their
    /// sequence numbers.
    pub async fn notices_after(
        &self,
        viewer: &User,
        after_seq: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<(i64, Notice)>> {
        let snapshot = self.current(now).await?;
        let settings = Self::deconfliction_settings(&snapshot);
        let records = self.store.conflicts_of(&viewer.party, after_seq).await?;
        records.iter().map(|record| Ok((record.seq, notice_for(record, &viewer.party, settings)?))).collect()
    }

    /// Wakes when this hub records a new conflict (streams then read what is new for them).
    pub fn conflict_wakeups(&self) -> broadcast::Receiver<()> {
        self.deconfliction.notified.subscribe()
    }

    /// The sweeps reported to the operators.
    pub async fn sweep_flags(&self) -> Result<Vec<SweepFlag>> {
        Ok(self
            .store
            .deconfliction_flags()
            .await?
            .into_iter()
            .map(|flag| SweepFlag {
                party: flag.party.to_string(),
                at: flag.at,
                reason: flag.reason,
                activities: flag.activities,
            })
            .collect())
    }

    async fn own_activity(&self, viewer: &User, id: &str) -> Result<ActivityRecord> {
        match self.store.activity(id).await? {
            Some(record) if record.party == viewer.party => Ok(record),
            _ => Err(HubError::NotFound),
        }
    }

    async fn activity_view(&self, record: ActivityRecord, now: OffsetDateTime) -> Result<ActivityView> {
        let current = self.current_conflicts(&record.party, now).await?;
        Ok(view_of(record, &current, now))
    }

    /// The party's conflicts whose two activity revisions are both still active.
    async fn current_conflicts(&self, party: &Code, now: OffsetDateTime) -> Result<Vec<ConflictRecord>> {
        let records = self.store.conflicts_of(party, 0).await?;
        let mut synced = self.deconfliction.synced.lock().await;
        self.sync(&mut synced, now).await?;
        Ok(records
            .into_iter()
            .filter(|record| {
                [&record.a, &record.b].iter().all(|side| synced.revisions.get(&side.activity) == Some(&side.revision))
            })
            .collect())
    }

    /// Brings the theatre up to the store's latest change and drops what has ended.
    async fn sync(&self, synced: &mut Synced, now: OffsetDateTime) -> Result<()> {
        let snapshot = self.current(now).await?;
        let settings = Self::deconfliction_settings(&snapshot);
        let after = synced.change_seq.unwrap_or_default();
        for record in self.store.activity_changes(after).await? {
            synced.change_seq = Some(synced.change_seq.unwrap_or_default().max(record.change_seq));
            if record.withdrawn.is_some() || record.window_end <= now {
                synced.theatre.remove(&record.id);
                synced.revisions.remove(&record.id);
                continue;
            }
            let activity = Activity::restore(stored_draft(&record)?)?;
            synced.revisions.insert(record.id.clone(), record.revision);
            synced.theatre.insert(Registered { id: record.id, party: record.party.to_string(), activity }, settings);
        }
        synced.change_seq.get_or_insert(0);
        for id in synced.theatre.expire(now) {
            synced.revisions.remove(&id);
        }
        Ok(())
    }

    /// The rate limit: registrations and amendments of the party in the last hour.
    async fn check_rate(&self, party: &Code, settings: &Settings, now: OffsetDateTime) -> Result<()> {
        let recent = self.store.submissions_since(party, now - Duration::hours(1)).await?;
        let limit = settings.registrations_per_hour as usize;
        if recent.len() >= limit {
            let oldest = recent[recent.len() - limit].at;
            let retry_after = (oldest + Duration::hours(1) - now).whole_seconds().max(1);
            return Err(HubError::TooManyRequests {
                retry_after_s: u64::try_from(retry_after).unwrap_or(1),
                reason: format!("at most {limit} registrations and amendments per hour"),
            });
        }
        Ok(())
    }

    /// A sweep completed by this submission, as a flag for the operators (once per window).
    async fn sweep_flag(
        &self,
        change: &Change,
        settings: &Settings,
        now: OffsetDateTime,
    ) -> Result<Option<FlagRecord>> {
        let window = Duration::hours(i64::from(settings.sweep.window_hours));
        let earlier = self.store.submissions_since(&change.party, now - window).await?;
        let mut footprints: Vec<Footprint> = earlier
            .iter()
            .map(|s| Footprint {
                at: s.at,
                centre: tearline_deconflict::geometry::LonLat::new(s.centre_lon, s.centre_lat),
                extent_m: s.extent_m,
            })
            .collect();
        footprints.push(Footprint {
            at: now,
            centre: change.activity.shape.centre,
            extent_m: change.activity.shape.extent_m,
        });
        let Some(indexes) = sweep(&footprints, &settings.sweep) else {
            return Ok(None);
        };
        let flagged_lately =
            self.store.deconfliction_flags().await?.iter().any(|f| f.party == change.party && f.at > now - window);
        if flagged_lately {
            return Ok(None);
        }
        let activities: Vec<String> = indexes
            .iter()
            .map(|&i| earlier.get(i).map_or_else(|| change.id.clone(), |s| s.activity_id.clone()))
            .collect();
        tracing::warn!(party = %change.party, count = activities.len(), "deconfliction: registrations sweep a region");
        Ok(Some(FlagRecord {
            seq: 0,
            party: change.party.clone(),
            at: now,
            reason: format!(
                "{} registrations or amendments at distinct positions within {} km in {} h",
                activities.len(),
                settings.sweep.radius_km,
                settings.sweep.window_hours
            ),
            activities,
        }))
    }

    async fn write_activity(&self, change: Change, settings: &Settings, now: OffsetDateTime) -> Result<ActivityView> {
        self.check_rate(&change.party, settings, now).await?;
        let flag = self.sweep_flag(&change, settings, now).await?;
        let body = change.activity.body().to_string();
        let record = ActivityRecord {
            id: change.id.clone(),
            party: change.party.clone(),
            author: change.author.name.clone(),
            revision: change.revision,
            body: body.clone(),
            window_end: change.activity.window.end,
            registered: change.registered,
            updated: now,
            withdrawn: None,
            change_seq: 0,
        };
        let submission = SubmissionRecord {
            party: change.party.clone(),
            activity_id: change.id.clone(),
            revision: change.revision,
            at: now,
            centre_lat: change.activity.shape.centre.lat,
            centre_lon: change.activity.shape.centre.lon,
            extent_m: change.activity.shape.extent_m,
        };
        let activity_ref = self.ledger.deconfliction_ref(&change.id, "activity");
        let registered_entry = ledger::entry(
            now,
            tearline_ledger::Event::Activity {
                activity: activity_ref.clone(),
                revision: u64::try_from(change.revision).unwrap_or_default(),
                change: change.kind.into(),
                digest: digest_hex(&[change.party.as_str().as_bytes(), body.as_bytes()]),
            },
        )?;
        let (change, record, submission, flag) = (&change, &record, &submission, &flag);
        let (registered_entry, activity_ref) = (&registered_entry, &activity_ref);
        let conflicted = until_fresh(|| async move {
            let mut synced = self.deconfliction.synced.lock().await;
            self.sync(&mut synced, now).await?;
            let others = synced.theatre.conflicts(&change.activity, change.party.as_str(), Some(&change.id), settings);
            let mut conflicts = Vec::new();
            let mut entries = vec![registered_entry.clone()];
            for other_id in others {
                let (Some(other), Some(&other_revision)) =
                    (synced.theatre.get(&other_id), synced.revisions.get(&other_id))
                else {
                    continue;
                };
                let other_party =
                    other.party.parse::<Code>().map_err(|e| HubError::Internal(format!("party of {other_id}: {e}")))?;
                let found = overlap(&change.activity, &other.activity, settings)?;
                let id = format!("conflict--{}", uuid::Uuid::new_v4());
                let overlap_json =
                    serde_json::to_string(&found).map_err(|e| HubError::Internal(format!("conflict {id}: {e}")))?;
                let line = format!("DCL-{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase());
                entries.push(ledger::entry(
                    now,
                    tearline_ledger::Event::Conflict {
                        conflict: self.ledger.deconfliction_ref(&id, "conflict"),
                        activities: vec![activity_ref.clone(), self.ledger.deconfliction_ref(&other_id, "activity")],
                        digest: digest_hex(&[id.as_bytes(), line.as_bytes(), overlap_json.as_bytes()]),
                    },
                )?);
                conflicts.push(ConflictRecord {
                    seq: 0,
                    id,
                    line,
                    created: now,
                    a: ConflictSide {
                        activity: change.id.clone(),
                        revision: change.revision,
                        party: change.party.clone(),
                    },
                    b: ConflictSide { activity: other_id.clone(), revision: other_revision, party: other_party },
                    overlap: overlap_json,
                });
            }
            let write = ActivityChange {
                expected_change_seq: synced.change_seq.unwrap_or_default(),
                activity: record.clone(),
                submission: Some(submission.clone()),
                conflicts: conflicts.clone(),
                flags: flag.clone().into_iter().collect(),
                ledger: entries,
            };
            let Some(seq) = fresh(self.store.change_activity(&write).await)? else { return Ok(None) };
            synced.theatre.insert(
                Registered {
                    id: change.id.clone(),
                    party: change.party.to_string(),
                    activity: change.activity.clone(),
                },
                settings,
            );
            synced.revisions.insert(change.id.clone(), change.revision);
            synced.change_seq = Some(seq);
            Ok(Some(!conflicts.is_empty()))
        })
        .await?;
        if conflicted {
            // No receiver is fine: nobody is streaming.
            let _ = self.deconfliction.notified.send(());
        }
        let stored = self.store.activity(&change.id).await?.ok_or(HubError::NotFound)?;
        self.activity_view(stored, now).await
    }
}

fn view_of(record: ActivityRecord, current: &[ConflictRecord], now: OffsetDateTime) -> ActivityView {
    let conflicts = current
        .iter()
        .filter(|c| c.a.activity == record.id || c.b.activity == record.id)
        .map(|c| c.id.clone())
        .collect();
    let activity = serde_json::from_str(&record.body).unwrap_or(Value::Null);
    ActivityView {
        status: status_of(&record, now),
        id: record.id,
        revision: record.revision,
        author: record.author.to_string(),
        registered: record.registered,
        updated: record.updated,
        activity,
        conflicts,
    }
}

/// One side's notice of a stored conflict: its own activity, the other party only if that
/// party lets itself be named.
fn notice_for(record: &ConflictRecord, party: &Code, settings: &Settings) -> Result<Notice> {
    let (own, other) = if &record.a.party == party { (&record.a, &record.b) } else { (&record.b, &record.a) };
    let overlap = serde_json::from_str(&record.overlap)
        .map_err(|e| HubError::Internal(format!("stored conflict {}: {e}", record.id)))?;
    let named = settings.identify.iter().any(|code| code == other.party.as_str());
    Ok(Notice {
        id: record.id.clone(),
        line: record.line.clone(),
        activity: own.activity.clone(),
        other_party: named.then(|| other.party.to_string()),
        overlap,
        notified: record.created,
    })
}

/// Notices as a GeoJSON feature collection.
pub fn notices_geojson(notices: &[Notice]) -> Value {
    json!({ "type": "FeatureCollection", "features": notices.iter().map(Notice::to_feature).collect::<Vec<_>>() })
}
