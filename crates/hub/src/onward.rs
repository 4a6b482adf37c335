//! Onward control: recipients passing content on (shares), the provenance of submissions
//! (declared sources and copied text), originators' approvals and recalls, and the dissemination
//! audit. Every change is decided under the snapshot in force and written with its events in one
//! transaction.

use std::collections::BTreeSet;

use serde::Serialize;
use tearline_model::{stix, Approval, Coalition, Code, PortionSet, ReleaseEntry, ReleaseFacts, Share, User};
use tearline_policy::{PortionFacts, Reason};
use tearline_store::{
    ApprovalRecord, ApprovalStatus, FactsUpdate, OnwardChange, OnwardEvent, OnwardKind, StoreError, StoredObject,
};
use time::OffsetDateTime;

use crate::{fresh, until_fresh, Hub, HubError, Result, Snapshot};

/// The rule named when a party would receive some portions but not enough of the object (its
/// title, a required property) to receive it at all.
pub const INCOMPLETE: &str = "incomplete";

/// A recipient's request to pass an object version on.
#[derive(Debug, Clone)]
pub struct ShareRequest {
    pub object: String,
    /// `None`: the latest version the caller received.
    pub version: Option<OffsetDateTime>,
    /// Parties and groups.
    pub to: Vec<String>,
    /// Portion indexes; `None`: every portion the caller received.
    pub portions: Option<Vec<usize>>,
    /// The TAXII collection the object was posted into, which lists it from then on.
    pub into_collection: Option<String>,
}

/// What became of a share, per party it named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareOutcome {
    pub object: String,
    pub version: String,
    /// `released`, `partly released` or `refused`.
    pub outcome: &'static str,
    pub recipients: Vec<RecipientOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientOutcome {
    pub party: String,
    /// Portions it receives through this share.
    pub released: Vec<usize>,
    /// Portions it received already, from the originator or an earlier share.
    pub held: Vec<usize>,
    pub refused: Vec<PortionRefusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortionRefusal {
    pub portion: usize,
    pub reasons: Vec<Reason>,
}

/// An approval as its parties see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalView {
    pub id: String,
    pub object: String,
    pub version: String,
    pub originator: String,
    pub requester: String,
    pub requested_by: String,
    pub recipient: String,
    pub requested_at: String,
    pub reason: Option<String>,
    pub status: ApprovalStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub expires_at: Option<String>,
}

/// What a recall reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecallOutcome {
    pub object: String,
    pub versions: Vec<String>,
    /// Object versions derived from it (declared or copied), now released to their originators
    /// only.
    pub derived: Vec<String>,
}

/// One delivery of the caller's content, for `audit received`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedRecord {
    pub at: String,
    pub party: String,
    pub user: String,
    pub channel: String,
    pub object: String,
    pub version: String,
    pub portions: Vec<usize>,
    /// The ledger entry recording the delivery (none before the ledger existed), and the
    /// digest of the rendering given, as the entry holds it.
    pub ledger_index: Option<u64>,
    pub rendering: String,
    /// The fingerprint of each text the party's copy held (field: a report's portion number or
    /// a STIX property) as the party's variant at each variation point, one digit per point.
    pub fingerprints: std::collections::BTreeMap<String, String>,
}

/// One onward event about the caller's content, for `audit onward` and alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnwardRecord {
    pub at: String,
    pub party: String,
    pub user: String,
    pub kind: OnwardKind,
    pub object: String,
    pub version: String,
    pub detail: serde_json::Value,
}

impl Hub {
    /// Passes an object version the caller's party received on to parties and groups, within
    /// its own agreements (DESIGN.md section 3, onward release). The answer says, per party named,
    /// which portions it now receives and why the others are refused; every originator concerned
    /// gets the event. A share that releases nothing is recorded but not kept.
    pub async fn share(
        &self,
        viewer: &User,
        request: &ShareRequest,
        channel: &str,
        now: OffsetDateTime,
    ) -> Result<ShareOutcome> {
        until_fresh(|| async move {
            let snapshot = self.current(now).await?;
            let (stored, entry) = self.received_version(viewer, &request.object, request.version).await?;
            if stored.facts.is_originator(&viewer.party) {
                return Err(HubError::Invalid(
                    "the object is your party's own: it goes by your agreements, and `share` passes on what others \
                     released to you"
                        .into(),
                ));
            }
            let targets = codes_of(&snapshot.coalition, &request.to)?;
            let received: PortionSet = (0..stored.facts.portions.len().max(1))
                .filter(|i| stored.facts.portion_shown(&entry, viewer.clearance, *i))
                .collect();
            let chosen: PortionSet = match &request.portions {
                None => received.clone(),
                Some(portions) => {
                    if let Some(missing) = portions.iter().find(|p| !received.contains(**p)) {
                        return Err(HubError::Invalid(format!("portion {missing} is not one you received")));
                    }
                    portions.iter().copied().collect()
                }
            };
            let mut facts = stored.facts.clone();
            facts.shares.push(Share { by: viewer.party.clone(), to: targets.clone(), portions: chosen.clone() });
            let before = snapshot.decider.release_entries_for_coalition(&stored.facts);
            let entries = snapshot.decider.release_entries_for_coalition(&facts);
            let outcome = share_outcome(&snapshot, viewer, &stored, &facts, (&before, &entries), &targets, &chosen);
            let detail = serde_json::json!({
                "channel": channel,
                "to": targets.iter().map(Code::as_str).collect::<Vec<_>>(),
                "portions": chosen.iter().collect::<Vec<_>>(),
                "outcome": outcome.outcome,
                "recipients": outcome.recipients,
            });
            let events = events_for(&stored.facts, viewer, OnwardKind::Share, &stored, now, &detail);
            let objects = if outcome.outcome == "refused" {
                Vec::new()
            } else {
                vec![FactsUpdate { seq: stored.seq, previous: stored.facts.clone(), facts, entries }]
            };
            let ledger = share_entries(&self.ledger, &outcome, &stored, viewer, now)?;
            let collection_shares = match (&request.into_collection, objects.is_empty()) {
                (Some(collection), false) => vec![(collection.clone(), stored.seq)],
                _ => Vec::new(),
            };
            let change = OnwardChange { objects, events, approvals: Vec::new(), ledger, collection_shares };
            Ok(fresh(self.store.change_onward(snapshot.state.version, &change).await)?.map(|()| outcome))
        })
        .await
    }

    /// Asks the originators of an object version the caller's party received to approve its
    /// release to `recipient` (one request per originator other than the caller's party).
    pub async fn request_approval(
        &self,
        viewer: &User,
        object: &str,
        version: Option<OffsetDateTime>,
        recipient: &str,
        reason: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Vec<ApprovalView>> {
        let snapshot = self.current(now).await?;
        let (stored, _) = self.received_version(viewer, object, version).await?;
        if stored.facts.is_originator(&viewer.party) {
            return Err(HubError::Invalid("the object is your party's own: it needs no approval".into()));
        }
        let recipient = Code::new(recipient)
            .ok()
            .filter(|code| snapshot.coalition.party(code).is_some())
            .ok_or_else(|| HubError::Invalid(format!("`{recipient}` is not a party of the hub")))?;
        if recipient == viewer.party || stored.facts.is_originator(&recipient) {
            return Err(HubError::Invalid(format!("{recipient} holds the object already")));
        }
        let approvals: Vec<ApprovalRecord> = stored
            .facts
            .originators()
            .into_iter()
            .filter(|originator| *originator != viewer.party)
            .map(|originator| ApprovalRecord {
                id: format!("approval--{}", uuid::Uuid::new_v4()),
                object_seq: stored.seq,
                originator,
                requester: viewer.party.clone(),
                requested_by: viewer.name.clone(),
                recipient: recipient.clone(),
                requested_at: now,
                reason: reason.clone(),
                status: ApprovalStatus::Pending,
                decided_by: None,
                decided_at: None,
                expires_at: None,
            })
            .collect();
        let events = approvals
            .iter()
            .map(|approval| OnwardEvent {
                at: now,
                originator: approval.originator.clone(),
                party: viewer.party.clone(),
                user: viewer.name.clone(),
                kind: OnwardKind::ApprovalRequest,
                object_id: stored.id.clone(),
                object_version: stored.version,
                detail: serde_json::json!({ "approval": approval.id, "recipient": recipient.as_str(), "reason": reason }),
            })
            .collect();
        let views = approvals.iter().map(|a| approval_view(a, &stored)).collect();
        let ledger = approvals
            .iter()
            .map(|approval| approval_entry(&self.ledger, approval, &stored, "requested", &viewer.name, now))
            .collect::<Result<Vec<_>>>()?;
        let change = OnwardChange { objects: Vec::new(), events, approvals, ledger, collection_shares: Vec::new() };
        self.store.change_onward(snapshot.state.version, &change).await.map_err(retry_later)?;
        Ok(views)
    }

    /// Approvals the caller's party decides (`as_requester`: that it asked for), newest first.
    pub async fn approvals(&self, viewer: &User, as_requester: bool, pending_only: bool) -> Result<Vec<ApprovalView>> {
        let mut views = Vec::new();
        for record in self.store.approvals(&viewer.party, as_requester, pending_only).await? {
            if let Some(object) = self.store.object_at(record.object_seq).await? {
                views.push(approval_view(&record, &object));
            }
        }
        Ok(views)
    }

    /// Approves or denies a pending request, by a user of the originator it was made to. An
    /// approval covers that object version and that recipient only, until `until` when given.
    pub async fn decide_approval(
        &self,
        viewer: &User,
        id: &str,
        approve: bool,
        until: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ApprovalView> {
        until_fresh(|| async move {
            let snapshot = self.current(now).await?;
            let record = self.store.approval(id).await?.ok_or(HubError::NotFound)?;
            if record.originator != viewer.party {
                return Err(if record.requester == viewer.party {
                    HubError::Forbidden("only the originator's users decide an approval".into())
                } else {
                    HubError::NotFound
                });
            }
            if record.status != ApprovalStatus::Pending {
                return Err(HubError::Invalid(format!("the request is already {}", record.status.as_str())));
            }
            if until.is_some_and(|until| until <= now) {
                return Err(HubError::Invalid("the expiry is not in the future".into()));
            }
            let stored = self.store.object_at(record.object_seq).await?.ok_or(HubError::NotFound)?;
            let decided = ApprovalRecord {
                status: if approve { ApprovalStatus::Approved } else { ApprovalStatus::Denied },
                decided_by: Some(viewer.name.clone()),
                decided_at: Some(now),
                expires_at: until.filter(|_| approve),
                ..record.clone()
            };
            let mut objects = Vec::new();
            if approve {
                let mut facts = stored.facts.clone();
                facts.approvals.push(Approval { party: record.recipient.clone(), by: viewer.party.clone(), until });
                // The request was to release to the recipient: approved, the requester passes it on.
                let shared = facts.shares.iter().any(|share| {
                    share.by == record.requester
                        && share.to.iter().any(|to| snapshot.coalition.includes(to, &record.recipient))
                });
                if !shared {
                    facts.shares.push(Share {
                        by: record.requester.clone(),
                        to: BTreeSet::from([record.recipient.clone()]),
                        portions: (0..facts.portions.len()).collect(),
                    });
                }
                let entries = snapshot.decider.release_entries_for_coalition(&facts);
                objects.push(FactsUpdate { seq: stored.seq, previous: stored.facts.clone(), facts, entries });
            }
            let event = OnwardEvent {
                at: now,
                originator: viewer.party.clone(),
                party: record.requester.clone(),
                user: viewer.name.clone(),
                kind: OnwardKind::ApprovalDecision,
                object_id: stored.id.clone(),
                object_version: stored.version,
                detail: serde_json::json!({
                    "approval": record.id,
                    "recipient": record.recipient.as_str(),
                    "approved": approve,
                    "until": until.map(crate::taxii::taxii_timestamp),
                }),
            };
            let view = approval_view(&decided, &stored);
            let decision = if approve { "approved" } else { "denied" };
            let ledger = vec![approval_entry(&self.ledger, &decided, &stored, decision, &viewer.name, now)?];
            let change = OnwardChange {
                objects,
                events: vec![event],
                approvals: vec![decided],
                ledger,
                collection_shares: Vec::new(),
            };
            Ok(fresh(self.store.change_onward(snapshot.state.version, &change).await)?.map(|()| view))
        })
        .await
    }

    /// Recalls versions of an object of the caller's party (`None`: every version): from now on
    /// they, and every object version derived from them, go to their originators only.
    pub async fn recall(
        &self,
        viewer: &User,
        object: &str,
        version: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<RecallOutcome> {
        until_fresh(|| async move {
            let snapshot = self.current(now).await?;
            let versions = self.store.object_versions(object).await?;
            let own: Vec<&StoredObject> = versions
                .iter()
                .filter(|v| {
                    let same = |at: OffsetDateTime| stix::timestamp(v.version) == stix::timestamp(at);
                    // Marking definitions go with the objects using them: recalling those is enough.
                    v.object_type != "marking-definition"
                        && v.facts.originator == viewer.party
                        && version.is_none_or(same)
                })
                .collect();
            if own.is_empty() {
                let sees_it = self.received_version(viewer, object, version).await.is_ok();
                return Err(if sees_it {
                    HubError::Forbidden("only the originator's users may recall an object".into())
                } else {
                    HubError::NotFound
                });
            }
            let mut updates = Vec::new();
            let mut seen: BTreeSet<i64> = own.iter().map(|v| v.seq).collect();
            for stored in &own {
                updates.extend(recalled(&snapshot, stored));
            }
            // Everything derived from them, generation by generation.
            let mut generation: Vec<i64> = seen.iter().copied().collect();
            let mut derived = Vec::new();
            while !generation.is_empty() {
                let next: Vec<i64> =
                    self.store.derived_from(&generation).await?.into_iter().filter(|seq| seen.insert(*seq)).collect();
                for seq in &next {
                    if let Some(stored) = self.store.object_at(*seq).await? {
                        derived.push(format!("{} {}", stored.id, crate::taxii::taxii_timestamp(stored.version)));
                        updates.extend(recalled(&snapshot, &stored));
                    }
                }
                generation = next;
            }
            let outcome = RecallOutcome {
                object: object.to_string(),
                versions: own.iter().map(|v| crate::taxii::taxii_timestamp(v.version)).collect(),
                derived,
            };
            let latest = own.iter().max_by_key(|v| v.version).map(|v| v.version).unwrap_or(now);
            let event = OnwardEvent {
                at: now,
                originator: viewer.party.clone(),
                party: viewer.party.clone(),
                user: viewer.name.clone(),
                kind: OnwardKind::Recall,
                object_id: object.to_string(),
                object_version: latest,
                detail: serde_json::json!({ "versions": outcome.versions, "derived": outcome.derived }),
            };
            let ledger = own
                .iter()
                .map(|version| {
                    crate::ledger::entry(
                        now,
                        tearline_ledger::Event::Recall {
                            object: self.ledger.object_ref(&version.id, version.version),
                            version: crate::taxii::taxii_timestamp(version.version),
                            by: viewer.name.to_string(),
                        },
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let change = OnwardChange {
                objects: updates,
                events: vec![event],
                approvals: Vec::new(),
                ledger,
                collection_shares: Vec::new(),
            };
            Ok(fresh(self.store.change_onward(snapshot.state.version, &change).await)?.map(|()| outcome))
        })
        .await
    }

    /// Every delivery to `party` since `since` of content the caller's party originated (or
    /// that derives from it), oldest first.
    pub async fn audit_received(
        &self,
        viewer: &User,
        party: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<ReceivedRecord>> {
        let party = Code::new(party).map_err(|e| HubError::Invalid(e.to_string()))?;
        let records = self.store.deliveries(&party, since).await?;
        Ok(records
            .into_iter()
            .filter(|record| record.facts.is_originator(&viewer.party))
            .map(|record| ReceivedRecord {
                at: crate::taxii::taxii_timestamp(record.delivery.at),
                party: record.delivery.party.to_string(),
                user: record.delivery.user.to_string(),
                channel: record.delivery.channel,
                object: record.delivery.object_id,
                version: crate::taxii::taxii_timestamp(record.delivery.object_version),
                portions: record.delivery.portions.iter().collect(),
                ledger_index: record.ledger_index,
                rendering: match record.ledger_index {
                    Some(_) => tearline_ledger::digest_text(&record.delivery.rendering),
                    None => String::new(),
                },
                fingerprints: record.delivery.marks.into_iter().collect(),
            })
            .collect())
    }

    /// Every attempt since `since` by `party` (every party: `None`) to pass on the caller's
    /// party's content, or content derived or copied from it, with its outcome; and the
    /// approvals asked and decided, and recalls.
    pub async fn audit_onward(
        &self,
        viewer: &User,
        party: Option<&str>,
        since: OffsetDateTime,
    ) -> Result<Vec<OnwardRecord>> {
        let party = party.map(Code::new).transpose().map_err(|e| HubError::Invalid(e.to_string()))?;
        let events = self.store.onward_events(&viewer.party, party.as_ref(), since).await?;
        Ok(events.into_iter().map(onward_record).collect())
    }

    /// Alerts for the caller's party: submissions by others that reused its text without
    /// declaring it.
    pub async fn alerts(&self, viewer: &User, since: OffsetDateTime) -> Result<Vec<OnwardRecord>> {
        let events = self.store.onward_events(&viewer.party, None, since).await?;
        Ok(events.into_iter().filter(|e| e.kind == OnwardKind::Copied).map(onward_record).collect())
    }

    /// The version of `object` (the latest, or `version`) released to the caller's party and
    /// visible at its clearance, with its entry; anything else is [`HubError::NotFound`].
    pub(crate) async fn received_version(
        &self,
        viewer: &User,
        object: &str,
        version: Option<OffsetDateTime>,
    ) -> Result<(StoredObject, ReleaseEntry)> {
        let mut versions = self.store.object_versions(object).await?;
        versions.reverse();
        // Versions are compared as STIX writes them (to the millisecond): what clients see.
        let wanted = version.map(stix::timestamp);
        for stored in versions {
            if wanted.as_ref().is_some_and(|at| stix::timestamp(stored.version) != *at) {
                continue;
            }
            let (entries, derived) = self.store.release_entries_of(stored.seq).await?;
            let entry = derived.unwrap_or(entries).into_iter().find(|e| e.party == viewer.party);
            if let Some(entry) = entry.filter(|e| e.min_clearance <= viewer.clearance) {
                return Ok((stored, entry));
            }
        }
        Err(HubError::NotFound)
    }
}

/// The codes of parties and groups named by `names`; an unknown one is refused by name.
fn codes_of(coalition: &Coalition, names: &[String]) -> Result<BTreeSet<Code>> {
    if names.is_empty() {
        return Err(HubError::Invalid("name at least one party or group to share with".into()));
    }
    names
        .iter()
        .map(|name| {
            let known = Code::new(name.trim())
                .ok()
                .filter(|code| coalition.party(code).is_some() || coalition.groups().any(|g| g.code == *code));
            known.ok_or_else(|| HubError::Invalid(format!("`{name}` is neither a party nor a group")))
        })
        .collect()
}

/// Per party named by `targets`: the chosen portions it now receives, and why not the others.
fn share_outcome(
    snapshot: &Snapshot,
    viewer: &User,
    stored: &StoredObject,
    facts: &ReleaseFacts,
    (before, after): (&[ReleaseEntry], &[ReleaseEntry]),
    targets: &BTreeSet<Code>,
    chosen: &PortionSet,
) -> ShareOutcome {
    let originators = facts.originators();
    let topics = facts.decision_topics();
    let decider = &snapshot.decider;
    let recipients: Vec<RecipientOutcome> = snapshot
        .coalition
        .parties()
        .map(|p| &p.code)
        .filter(|party| **party != viewer.party && targets.iter().any(|t| snapshot.coalition.includes(t, party)))
        .map(|party| {
            let holds = |entries: &[ReleaseEntry], index: usize| {
                entries.iter().any(|e| e.party == *party && e.portions.contains(index))
            };
            let approved = facts.is_approved(&viewer.party, party, decider.now());
            let (mut released, mut held, mut refused) = (Vec::new(), Vec::new(), Vec::new());
            for index in chosen.iter() {
                if holds(before, index) {
                    held.push(index);
                    continue;
                }
                if holds(after, index) {
                    released.push(index);
                    continue;
                }
                let Some(marking) = facts.portions.get(index) else { continue };
                let portion = PortionFacts::new(&originators, &topics, marking);
                let decision = decider.onward_decision(&viewer.party, party, &portion, approved);
                let reasons = if decision.allowed {
                    vec![Reason::new(
                        INCOMPLETE,
                        format!("{party} would not receive enough of the object to receive it at all"),
                    )]
                } else {
                    decision.reasons
                };
                refused.push(PortionRefusal { portion: index, reasons });
            }
            RecipientOutcome { party: party.to_string(), released, held, refused }
        })
        .collect();
    let any = recipients.iter().any(|r| !r.released.is_empty());
    let all = recipients.iter().all(|r| r.refused.is_empty());
    ShareOutcome {
        object: stored.id.clone(),
        version: crate::taxii::taxii_timestamp(stored.version),
        // Nothing refused and nothing new (all held already) is not a refusal.
        outcome: match (any, all) {
            (_, true) => "released",
            (true, false) => "partly released",
            (false, false) => "refused",
        },
        recipients,
    }
}

/// One event per originator of `facts` other than the acting party.
/// The ledger entries of a share: per party named, what it now receives and what was refused
/// (with the rules that refused it).
fn share_entries(
    ledger: &crate::ledger::Ledger,
    outcome: &ShareOutcome,
    stored: &StoredObject,
    viewer: &User,
    now: OffsetDateTime,
) -> Result<Vec<Vec<u8>>> {
    let mut entries = Vec::new();
    for recipient in &outcome.recipients {
        if !recipient.released.is_empty() {
            entries.push(crate::ledger::entry(
                now,
                tearline_ledger::Event::Share {
                    object: ledger.object_ref(&stored.id, stored.version),
                    version: outcome.version.clone(),
                    holder: viewer.party.to_string(),
                    to: recipient.party.clone(),
                    by: viewer.name.to_string(),
                },
            )?);
        }
        if !recipient.refused.is_empty() {
            let rules: BTreeSet<&str> = recipient
                .refused
                .iter()
                .flat_map(|refusal| refusal.reasons.iter().map(|reason| reason.rule.as_str()))
                .collect();
            entries.push(crate::ledger::entry(
                now,
                tearline_ledger::Event::OnwardRefused {
                    object: ledger.object_ref(&stored.id, stored.version),
                    version: outcome.version.clone(),
                    holder: viewer.party.to_string(),
                    to: recipient.party.clone(),
                    by: viewer.name.to_string(),
                    rule: rules.into_iter().collect::<Vec<_>>().join(","),
                },
            )?);
        }
    }
    Ok(entries)
}

/// The ledger entry of an approval requested or decided.
fn approval_entry(
    ledger: &crate::ledger::Ledger,
    approval: &ApprovalRecord,
    stored: &StoredObject,
    decision: &str,
    by: &tearline_model::UserName,
    now: OffsetDateTime,
) -> Result<Vec<u8>> {
    crate::ledger::entry(
        now,
        tearline_ledger::Event::Approval {
            approval: approval.id.clone(),
            object: ledger.object_ref(&stored.id, stored.version),
            version: crate::taxii::taxii_timestamp(stored.version),
            requester: approval.requester.to_string(),
            to: approval.recipient.to_string(),
            decision: decision.to_string(),
            by: by.to_string(),
            until: approval.expires_at.map(crate::taxii::taxii_timestamp),
        },
    )
}

fn events_for(
    facts: &ReleaseFacts,
    viewer: &User,
    kind: OnwardKind,
    object: &StoredObject,
    now: OffsetDateTime,
    detail: &serde_json::Value,
) -> Vec<OnwardEvent> {
    facts
        .originators()
        .into_iter()
        .filter(|originator| *originator != viewer.party)
        .map(|originator| OnwardEvent {
            at: now,
            originator,
            party: viewer.party.clone(),
            user: viewer.name.clone(),
            kind,
            object_id: object.id.clone(),
            object_version: object.version,
            detail: detail.clone(),
        })
        .collect()
}

/// The update that recalls one object version (none when it is already recalled).
fn recalled(snapshot: &Snapshot, stored: &StoredObject) -> Option<FactsUpdate> {
    if stored.facts.recalled {
        return None;
    }
    let mut facts = stored.facts.clone();
    facts.recalled = true;
    let entries = snapshot.decider.release_entries_for_coalition(&facts);
    Some(FactsUpdate { seq: stored.seq, previous: stored.facts.clone(), facts, entries })
}

fn approval_view(record: &ApprovalRecord, object: &StoredObject) -> ApprovalView {
    let at = crate::taxii::taxii_timestamp;
    ApprovalView {
        id: record.id.clone(),
        object: object.id.clone(),
        version: at(object.version),
        originator: record.originator.to_string(),
        requester: record.requester.to_string(),
        requested_by: record.requested_by.to_string(),
        recipient: record.recipient.to_string(),
        requested_at: at(record.requested_at),
        reason: record.reason.clone(),
        status: record.status,
        decided_by: record.decided_by.as_ref().map(ToString::to_string),
        decided_at: record.decided_at.map(at),
        expires_at: record.expires_at.map(at),
    }
}

fn onward_record(event: OnwardEvent) -> OnwardRecord {
    OnwardRecord {
        at: crate::taxii::taxii_timestamp(event.at),
        party: event.party.to_string(),
        user: event.user.to_string(),
        kind: event.kind,
        object: event.object_id,
        version: crate::taxii::taxii_timestamp(event.object_version),
        detail: event.detail,
    }
}

/// A write refused because the state moved on is worth one more try by the caller.
fn retry_later(error: StoreError) -> HubError {
    match error {
        StoreError::Stale { .. } | StoreError::ObjectChanged(_) => HubError::Busy,
        other => other.into(),
    }
}

/// Records as CSV: a header of `columns`, one line per record, fields quoted where needed.
pub fn to_csv(columns: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let quote = |field: &str| {
        if field.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_string()
        }
    };
    let mut out = columns.join(",");
    out.push('\n');
    for row in rows {
        out.push_str(&row.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

impl ReceivedRecord {
    pub const COLUMNS: [&'static str; 10] = [
        "at",
        "party",
        "user",
        "channel",
        "object",
        "version",
        "portions",
        "ledger_index",
        "rendering",
        "fingerprints",
    ];

    pub fn fields(&self) -> Vec<String> {
        let portions: Vec<String> = self.portions.iter().map(ToString::to_string).collect();
        vec![
            self.at.clone(),
            self.party.clone(),
            self.user.clone(),
            self.channel.clone(),
            self.object.clone(),
            self.version.clone(),
            portions.join(" "),
            self.ledger_index.map(|index| index.to_string()).unwrap_or_default(),
            self.rendering.clone(),
            self.fingerprints.iter().map(|(field, choices)| format!("{field}:{choices}")).collect::<Vec<_>>().join(" "),
        ]
    }
}

impl OnwardRecord {
    pub const COLUMNS: [&'static str; 7] = ["at", "party", "user", "kind", "object", "version", "detail"];

    pub fn fields(&self) -> Vec<String> {
        vec![
            self.at.clone(),
            self.party.clone(),
            self.user.clone(),
            self.kind.as_str().to_string(),
            self.object.clone(),
            self.version.clone(),
            self.detail.to_string(),
        ]
    }
}
