//! Onward control: provenance links, text sketches, approvals, deliveries and onward events, and
//! the change of an object version's facts (shares, approvals, recalls) with its release entries.

use std::collections::HashSet;

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use tearline_model::PortionSet;

use super::{db, decode_code, get, parse_timestamp, stored_parties, timestamp, to_json, Backend, SqlStore};
use crate::{
    ApprovalRecord, ApprovalStatus, Delivery, DeliveryRecord, NewObject, OnwardChange, OnwardEvent, OnwardKind, Result,
    StoreError,
};

/// Rows per multi-row insert: well under both backends' parameter limits.
const ROWS_PER_INSERT: usize = 200;

/// A sketch hash found in more texts than this names no source (see `SqlStore::uncommon`).
pub const MOST_TEXTS_PER_HASH: usize = 1_000;

const APPROVAL_COLUMNS: &str = "id, object_seq, originator, requester, requested_by, recipient, requested_at, reason, \
                                status, decided_by, decided_at, expires_at";

const EVENT_COLUMNS: &str = "at, originator, party, user_name, kind, object_id, object_version, detail";

impl SqlStore {
    pub(super) async fn apply_onward_change(&self, expected_version: i64, change: &OnwardChange) -> Result<()> {
        let mut write = self.begin_write().await?;
        self.check_version(&mut write.tx, expected_version).await?;
        let conn: &mut AnyConnection = &mut write.tx;
        let parties = stored_parties(conn).await?;
        for update in &change.objects {
            let previous = to_json(&update.previous, "release facts")?;
            let stored: Option<String> = sqlx::query_scalar("SELECT facts FROM objects WHERE seq = $1")
                .bind(update.seq)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db("reading an object's facts"))?;
            // Compared as values: the text of equal facts is equal, but be exact about it.
            let unchanged = stored.as_deref().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                == serde_json::from_str::<serde_json::Value>(&previous).ok();
            if !unchanged {
                return Err(StoreError::ObjectChanged(update.seq));
            }
            sqlx::query("UPDATE objects SET facts = $1 WHERE seq = $2")
                .bind(to_json(&update.facts, "release facts")?)
                .bind(update.seq)
                .execute(&mut *conn)
                .await
                .map_err(db("updating an object's facts"))?;
            self.replace_entries(conn, &parties, update.seq, &update.entries, i64::MAX).await?;
            let markings: Vec<i64> =
                sqlx::query_scalar("SELECT marking_seq FROM object_markings WHERE object_seq = $1")
                    .bind(update.seq)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db("reading the markings an object uses"))?;
            for marking in markings {
                self.rederive_marking(conn, marking, i64::MAX).await?;
            }
        }
        insert_events(self.backend, conn, &change.events).await?;
        for (collection, seq) in &change.collection_shares {
            let sql = format!(
                "INSERT INTO collection_shares (collection, object_seq) VALUES ({}) ON CONFLICT DO NOTHING",
                self.backend.parameter_list(1, 2)
            );
            sqlx::query(&sql)
                .bind(collection.as_str())
                .bind(*seq)
                .execute(&mut *conn)
                .await
                .map_err(db("listing a shared object in a collection"))?;
        }
        super::ledger::append(self.backend, conn, &change.ledger).await?;
        for approval in &change.approvals {
            upsert_approval(conn, approval).await?;
        }
        let expiry =
            change.approvals.iter().filter(|a| a.status == ApprovalStatus::Approved).filter_map(|a| a.expires_at).min();
        if let Some(expiry) = expiry {
            // Every process reloads the state on a new version, and rebuilds the index at expiry.
            sqlx::query(
                "UPDATE hub_state SET version = version + 1, index_valid_until = CASE                  WHEN index_valid_until IS NULL OR index_valid_until > $1 THEN $1 ELSE index_valid_until END                  WHERE id = 1",
            )
            .bind(timestamp(expiry)?)
            .execute(&mut *conn)
            .await
            .map_err(db("bringing the index's validity forward"))?;
        }
        write.tx.commit().await.map_err(db("committing an onward change"))?;
        Ok(())
    }

    pub(super) async fn query_stored_originators(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<tearline_model::Code>>> {
        let mut found: std::collections::HashMap<String, Vec<tearline_model::Code>> = Default::default();
        for chunk in ids.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "SELECT DISTINCT id, originator FROM objects WHERE {}",
                self.backend.ids_in("id", 1, chunk.len())
            );
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let query = super::bind_ids(sqlx::query(&sql), &chunk);
            for row in query.fetch_all(&self.pool).await.map_err(db("reading originators"))? {
                found.entry(get(&row, 0)?).or_default().push(decode_code(&get::<String>(&row, 1)?)?);
            }
        }
        Ok(found)
    }

    pub(super) async fn query_derived_from(&self, seqs: &[i64]) -> Result<Vec<i64>> {
        let mut found = Vec::new();
        for chunk in seqs.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "SELECT DISTINCT object_seq FROM object_sources WHERE source_seq IN ({})",
                self.backend.parameter_list(1, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, i64>(&sql);
            for seq in chunk {
                query = query.bind(*seq);
            }
            found.extend(query.fetch_all(&self.pool).await.map_err(db("reading derived objects"))?);
        }
        Ok(found)
    }

    /// The hashes of `hashes` (as stored) found in at most [`MOST_TEXTS_PER_HASH`] texts (of
    /// `originator`, when given). One in more is boilerplate (a caveat line, a standard
    /// disclaimer): it names no source, and looking it up would read every text holding it. Each
    /// is counted only that far, so this costs the same however common a hash is.
    async fn uncommon(&self, hashes: &[u64], originator: Option<&str>) -> Result<Vec<i64>> {
        let mut condition = String::new();
        if originator.is_some() {
            condition = format!(" AND s.originator = {}", self.backend.parameter_list(hashes.len() + 1, 1));
        }
        let sql = format!(
            "WITH wanted (hash) AS (VALUES {}) SELECT w.hash FROM wanted w \
             WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM text_sketches s WHERE s.hash = w.hash{condition} \
             LIMIT {}) AS found) > {MOST_TEXTS_PER_HASH}",
            self.backend.tuples(1, hashes.len()),
            MOST_TEXTS_PER_HASH + 1,
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for hash in hashes {
            query = query.bind(stored_hash(*hash));
        }
        if let Some(originator) = originator {
            query = query.bind(originator);
        }
        let common: HashSet<i64> =
            query.fetch_all(&self.pool).await.map_err(db("counting texts by sketch hash"))?.into_iter().collect();
        Ok(hashes.iter().map(|h| stored_hash(*h)).filter(|h| !common.contains(h)).collect())
    }

    pub(super) async fn query_sketch_matches(
        &self,
        party: &tearline_model::Code,
        hashes: &[u64],
        limit: u32,
    ) -> Result<Vec<(i64, usize, usize)>> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let mut counts: std::collections::HashMap<(i64, usize), usize> = std::collections::HashMap::new();
        for chunk in hashes.chunks(ROWS_PER_INSERT) {
            let chunk = self.uncommon(chunk, None).await?;
            if chunk.is_empty() {
                continue;
            }
            // Text of the party's own objects is its own to reuse.
            let sql = format!(
                "SELECT s.object_seq, s.portion, r.portions FROM (SELECT CAST({party} AS TEXT) AS code) caller \
                 JOIN text_sketches s ON s.originator <> caller.code \
                 JOIN release_index r ON r.object_seq = s.object_seq AND r.party = caller.code \
                 WHERE s.hash IN ({})",
                self.backend.parameter_list(2, chunk.len()),
                party = self.backend.parameter_list(1, 1),
            );
            let mut query = sqlx::query(&sql).bind(party.as_str());
            for hash in &chunk {
                query = query.bind(*hash);
            }
            for row in query.fetch_all(&self.pool).await.map_err(db("looking up text sketches"))? {
                let Ok(portion) = usize::try_from(get::<i64>(&row, 1)?) else { continue };
                // Only text the party received counts.
                if PortionSet::from_bytes(get(&row, 2)?).contains(portion) {
                    *counts.entry((get(&row, 0)?, portion)).or_default() += 1;
                }
            }
        }
        let mut matches: Vec<(i64, usize, usize)> =
            counts.into_iter().map(|((seq, portion), shared)| (seq, portion, shared)).collect();
        matches.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        matches.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(matches)
    }

    pub(super) async fn query_originator_sketch_matches(
        &self,
        originator: &tearline_model::Code,
        hashes: &[u64],
        limit: u32,
    ) -> Result<Vec<(i64, usize, usize)>> {
        let mut counts: std::collections::HashMap<(i64, usize), usize> = std::collections::HashMap::new();
        for chunk in hashes.chunks(ROWS_PER_INSERT) {
            let chunk = self.uncommon(chunk, Some(originator.as_str())).await?;
            if chunk.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT object_seq, portion FROM text_sketches WHERE originator = {} AND hash IN ({})",
                self.backend.parameter_list(1, 1),
                self.backend.parameter_list(2, chunk.len()),
            );
            let mut query = sqlx::query(&sql).bind(originator.as_str());
            for hash in &chunk {
                query = query.bind(*hash);
            }
            for row in query.fetch_all(&self.pool).await.map_err(db("looking up text sketches"))? {
                let Ok(portion) = usize::try_from(get::<i64>(&row, 1)?) else { continue };
                *counts.entry((get(&row, 0)?, portion)).or_default() += 1;
            }
        }
        let mut matches: Vec<(i64, usize, usize)> =
            counts.into_iter().map(|((seq, portion), shared)| (seq, portion, shared)).collect();
        matches.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        matches.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(matches)
    }

    pub(super) async fn query_recipients_of(&self, seq: i64) -> Result<Vec<(tearline_model::Code, PortionSet)>> {
        let sql = format!(
            "SELECT DISTINCT party, portions FROM deliveries WHERE object_seq = {}",
            self.backend.parameter_list(1, 1)
        );
        let rows = sqlx::query(&sql).bind(seq).fetch_all(&self.pool).await.map_err(db("reading deliveries"))?;
        let mut received: std::collections::BTreeMap<tearline_model::Code, PortionSet> =
            std::collections::BTreeMap::new();
        for row in rows {
            let party = decode_code(get(&row, 0)?)?;
            let portions = PortionSet::from_bytes(get(&row, 1)?);
            let entry = received.entry(party).or_default();
            for portion in portions.iter() {
                entry.insert(portion);
            }
        }
        Ok(received.into_iter().collect())
    }

    pub(super) async fn insert_deliveries(&self, deliveries: &[Delivery], ledger: &[Vec<u8>]) -> Result<Option<u64>> {
        if deliveries.len() != ledger.len() {
            return Err(StoreError::Unstorable {
                what: "deliveries",
                reason: format!("{} deliveries but {} ledger entries", deliveries.len(), ledger.len()),
            });
        }
        if deliveries.is_empty() {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        let first = super::ledger::append(self.backend, &mut tx.tx, ledger).await?.unwrap_or_default();
        let mut index = first;
        for chunk in deliveries.chunks(ROWS_PER_INSERT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| {
                    let p = |n: usize| self.backend.parameter_list(row * 10 + n, 1);
                    format!(
                        "({}, {}, {}, (SELECT seq FROM objects WHERE id_hash = {} AND id = {} AND version = {}), \
                         {}, {}, {}, {})",
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5),
                        p(6),
                        p(7),
                        p(8),
                        p(9),
                        p(10)
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO deliveries (at, party, user_name, object_seq, portions, channel, ledger_index, rendering) \
                 VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for delivery in chunk {
                query = query
                    .bind(timestamp(delivery.at)?)
                    .bind(delivery.party.as_str())
                    .bind(delivery.user.as_str())
                    .bind(super::id_hash(&delivery.object_id))
                    .bind(delivery.object_id.as_str())
                    .bind(timestamp(delivery.object_version)?)
                    .bind(delivery.portions.as_bytes())
                    .bind(delivery.channel.as_str())
                    .bind(super::ledger::to_i64(index)?)
                    .bind(delivery.rendering.to_vec());
                index += 1;
            }
            query.execute(&mut *tx.tx).await.map_err(db("recording deliveries"))?;
        }
        let marks: Vec<(&Delivery, &(String, String))> =
            deliveries.iter().flat_map(|d| d.marks.iter().map(move |m| (d, m))).collect();
        for chunk in marks.chunks(ROWS_PER_INSERT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| {
                    let p = |n: usize| self.backend.parameter_list(row * 6 + n, 1);
                    format!(
                        "((SELECT seq FROM objects WHERE id_hash = {} AND id = {} AND version = {}), {}, {}, {})",
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5),
                        p(6)
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO fingerprints (object_seq, party, field, choices) VALUES {} ON CONFLICT DO NOTHING",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (delivery, (field, choices)) in chunk {
                query = query
                    .bind(super::id_hash(&delivery.object_id))
                    .bind(delivery.object_id.as_str())
                    .bind(timestamp(delivery.object_version)?)
                    .bind(delivery.party.as_str())
                    .bind(field.as_str())
                    .bind(choices.as_str());
            }
            query.execute(&mut *tx.tx).await.map_err(db("recording fingerprints"))?;
        }
        tx.tx.commit().await.map_err(db("committing deliveries"))?;
        Ok(Some(first))
    }

    pub(super) async fn query_deliveries(
        &self,
        party: &tearline_model::Code,
        since: time::OffsetDateTime,
    ) -> Result<Vec<DeliveryRecord>> {
        let rows = sqlx::query(
            "SELECT d.at, d.party, d.user_name, d.object_seq, d.portions, d.channel, o.id, o.version, o.facts, \
             d.ledger_index, d.rendering FROM deliveries d JOIN objects o ON o.seq = d.object_seq \
             WHERE d.party = $1 AND d.at >= $2 ORDER BY d.seq",
        )
        .bind(party.as_str())
        .bind(timestamp(since)?)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading deliveries"))?;
        let marks = self.party_fingerprints(party, &rows).await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = get(row, 3)?;
                Ok(DeliveryRecord {
                    delivery: Delivery {
                        at: parse_timestamp(&get::<String>(row, 0)?)?,
                        party: decode_code(&get::<String>(row, 1)?)?,
                        user: decode_user_name(&get::<String>(row, 2)?)?,
                        object_id: get(row, 6)?,
                        object_version: parse_timestamp(&get::<String>(row, 7)?)?,
                        portions: PortionSet::from_bytes(get(row, 4)?),
                        channel: get(row, 5)?,
                        rendering: get::<Option<Vec<u8>>>(row, 10)?
                            .map(<[u8; 32]>::try_from)
                            .transpose()
                            .map_err(|_| StoreError::Corrupt(format!("rendering digest of a delivery of {seq}")))?
                            .unwrap_or_default(),
                        marks: marks.get(&seq).cloned().unwrap_or_default(),
                    },
                    ledger_index: get::<Option<i64>>(row, 9)?
                        .map(|index| super::ledger::to_u64(index, "ledger index"))
                        .transpose()?,
                    facts: serde_json::from_str(&get::<String>(row, 8)?)
                        .map_err(|e| StoreError::Corrupt(format!("release facts of object {seq}: {e}")))?,
                })
            })
            .collect()
    }

    /// The fingerprints `party` received of the object versions of `rows` (deliveries, object
    /// version in column 3), by object version.
    async fn party_fingerprints(
        &self,
        party: &tearline_model::Code,
        rows: &[AnyRow],
    ) -> Result<std::collections::HashMap<i64, Vec<(String, String)>>> {
        let seqs: Vec<i64> = rows
            .iter()
            .map(|row| get::<i64>(row, 3))
            .collect::<Result<std::collections::BTreeSet<i64>>>()?
            .into_iter()
            .collect();
        let mut marks: std::collections::HashMap<i64, Vec<(String, String)>> = std::collections::HashMap::new();
        for chunk in seqs.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "SELECT object_seq, field, choices FROM fingerprints WHERE party = {} AND object_seq IN ({}) \
                 ORDER BY object_seq, field",
                self.backend.parameter_list(1, 1),
                self.backend.parameter_list(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(party.as_str());
            for seq in chunk {
                query = query.bind(*seq);
            }
            for row in query.fetch_all(&self.pool).await.map_err(db("reading fingerprints"))? {
                marks.entry(get(&row, 0)?).or_default().push((get(&row, 1)?, get(&row, 2)?));
            }
        }
        Ok(marks)
    }

    pub(super) async fn query_fingerprints_of(&self, seq: i64) -> Result<Vec<(tearline_model::Code, String, String)>> {
        let sql = format!(
            "SELECT party, field, choices FROM fingerprints WHERE object_seq = {} ORDER BY party, field",
            self.backend.parameter_list(1, 1)
        );
        let rows = sqlx::query(&sql).bind(seq).fetch_all(&self.pool).await.map_err(db("reading fingerprints"))?;
        rows.iter().map(|row| Ok((decode_code(&get::<String>(row, 0)?)?, get(row, 1)?, get(row, 2)?))).collect()
    }

    pub(super) async fn query_events(
        &self,
        originator: &tearline_model::Code,
        party: Option<&tearline_model::Code>,
        since: time::OffsetDateTime,
    ) -> Result<Vec<OnwardEvent>> {
        let mut conditions = vec!["at >= $1".to_string(), "originator = $2".to_string()];
        let mut binds = vec![timestamp(since)?, originator.to_string()];
        if let Some(party) = party {
            binds.push(party.to_string());
            conditions.push(format!("party = ${}", binds.len()));
        }
        let sql = format!("SELECT {EVENT_COLUMNS} FROM onward_events WHERE {} ORDER BY seq", conditions.join(" AND "));
        let mut query = sqlx::query(&sql);
        for bind in &binds {
            query = query.bind(bind.as_str());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db("reading onward events"))?;
        rows.iter().map(decode_event).collect()
    }

    pub(super) async fn query_approval(&self, id: &str) -> Result<Option<ApprovalRecord>> {
        let sql = format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(db("reading an approval"))?;
        row.as_ref().map(decode_approval).transpose()
    }

    pub(super) async fn query_approvals(
        &self,
        party: &tearline_model::Code,
        as_requester: bool,
        pending_only: bool,
    ) -> Result<Vec<ApprovalRecord>> {
        let column = if as_requester { "requester" } else { "originator" };
        let pending = if pending_only { " AND status = 'pending'" } else { "" };
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE {column} = $1{pending} ORDER BY requested_at DESC, id"
        );
        let rows =
            sqlx::query(&sql).bind(party.as_str()).fetch_all(&self.pool).await.map_err(db("reading approvals"))?;
        rows.iter().map(decode_approval).collect()
    }
}

/// What a new object brings besides its row: its sources, text sketches and onward events.
pub(super) async fn record_provenance(
    backend: Backend,
    conn: &mut AnyConnection,
    objects: &[(&NewObject, i64)],
) -> Result<()> {
    let sources: Vec<(i64, i64)> = objects
        .iter()
        .flat_map(|(object, seq)| object.sources.iter().map(move |source| (*seq, *source)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in sources.chunks(ROWS_PER_INSERT) {
        let sql =
            format!("INSERT INTO object_sources (object_seq, source_seq) VALUES {}", backend.tuples(2, chunk.len()));
        let mut query = sqlx::query(&sql);
        for (seq, source) in chunk {
            query = query.bind(*seq).bind(*source);
        }
        query.execute(&mut *conn).await.map_err(db("recording sources"))?;
    }
    let mut sketches: HashSet<(i64, &str, i64, i64)> = HashSet::new();
    for (object, seq) in objects {
        for (portion, hashes) in &object.sketches {
            let portion = i64::try_from(*portion)
                .map_err(|e| StoreError::Unstorable { what: "a portion index", reason: e.to_string() })?;
            let originator = object.facts.originator.as_str();
            sketches.extend(hashes.iter().map(|hash| (stored_hash(*hash), originator, *seq, portion)));
        }
    }
    let sketches: Vec<(i64, &str, i64, i64)> = sketches.into_iter().collect();
    for chunk in sketches.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO text_sketches (hash, originator, object_seq, portion) VALUES {}",
            backend.tuples(4, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for (hash, originator, seq, portion) in chunk {
            query = query.bind(*hash).bind(*originator).bind(*seq).bind(*portion);
        }
        query.execute(&mut *conn).await.map_err(db("recording text sketches"))?;
    }
    let events: Vec<OnwardEvent> = objects.iter().flat_map(|(object, _)| object.events.iter().cloned()).collect();
    insert_events(backend, conn, &events).await
}

async fn insert_events(backend: Backend, conn: &mut AnyConnection, events: &[OnwardEvent]) -> Result<()> {
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let sql = format!("INSERT INTO onward_events ({EVENT_COLUMNS}) VALUES {}", backend.tuples(8, chunk.len()));
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = query
                .bind(timestamp(event.at)?)
                .bind(event.originator.as_str())
                .bind(event.party.as_str())
                .bind(event.user.as_str())
                .bind(event.kind.as_str())
                .bind(event.object_id.as_str())
                .bind(timestamp(event.object_version)?)
                .bind(event.detail.to_string());
        }
        query.execute(&mut *conn).await.map_err(db("recording onward events"))?;
    }
    Ok(())
}

async fn upsert_approval(conn: &mut AnyConnection, approval: &ApprovalRecord) -> Result<()> {
    sqlx::query("DELETE FROM approvals WHERE id = $1")
        .bind(approval.id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db("replacing an approval"))?;
    sqlx::query(&format!(
        "INSERT INTO approvals ({APPROVAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(approval.id.as_str())
    .bind(approval.object_seq)
    .bind(approval.originator.as_str())
    .bind(approval.requester.as_str())
    .bind(approval.requested_by.as_str())
    .bind(approval.recipient.as_str())
    .bind(timestamp(approval.requested_at)?)
    .bind(approval.reason.as_deref())
    .bind(approval.status.as_str())
    .bind(approval.decided_by.as_ref().map(|u| u.as_str().to_string()))
    .bind(approval.decided_at.map(timestamp).transpose()?)
    .bind(approval.expires_at.map(timestamp).transpose()?)
    .execute(&mut *conn)
    .await
    .map_err(db("storing an approval"))?;
    Ok(())
}

/// Sketch hashes are u64; both backends store signed 64-bit integers: the same bits.
fn stored_hash(hash: u64) -> i64 {
    i64::from_ne_bytes(hash.to_ne_bytes())
}

fn decode_user_name(text: &str) -> Result<tearline_model::UserName> {
    tearline_model::UserName::new(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode_event(row: &AnyRow) -> Result<OnwardEvent> {
    let kind: String = get(row, 4)?;
    let detail: String = get(row, 7)?;
    Ok(OnwardEvent {
        at: parse_timestamp(&get::<String>(row, 0)?)?,
        originator: decode_code(&get::<String>(row, 1)?)?,
        party: decode_code(&get::<String>(row, 2)?)?,
        user: decode_user_name(&get::<String>(row, 3)?)?,
        kind: OnwardKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("onward event kind `{kind}`")))?,
        object_id: get(row, 5)?,
        object_version: parse_timestamp(&get::<String>(row, 6)?)?,
        detail: serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(format!("onward event: {e}")))?,
    })
}

fn decode_approval(row: &AnyRow) -> Result<ApprovalRecord> {
    let optional_time = |index| -> Result<Option<time::OffsetDateTime>> {
        get::<Option<String>>(row, index)?.as_deref().map(parse_timestamp).transpose()
    };
    let status: String = get(row, 8)?;
    Ok(ApprovalRecord {
        id: get(row, 0)?,
        object_seq: get(row, 1)?,
        originator: decode_code(&get::<String>(row, 2)?)?,
        requester: decode_code(&get::<String>(row, 3)?)?,
        requested_by: decode_user_name(&get::<String>(row, 4)?)?,
        recipient: decode_code(&get::<String>(row, 5)?)?,
        requested_at: parse_timestamp(&get::<String>(row, 6)?)?,
        reason: get(row, 7)?,
        status: match status.as_str() {
            "pending" => ApprovalStatus::Pending,
            "approved" => ApprovalStatus::Approved,
            "denied" => ApprovalStatus::Denied,
            other => return Err(StoreError::Corrupt(format!("approval status `{other}`"))),
        },
        decided_by: get::<Option<String>>(row, 9)?.as_deref().map(decode_user_name).transpose()?,
        decided_at: optional_time(10)?,
        expires_at: optional_time(11)?,
    })
}
