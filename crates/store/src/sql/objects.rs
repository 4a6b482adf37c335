//! Object versions: adding them (with their release entries and the marking definitions they
//! use), querying what a party may receive, deleting, and TAXII statuses.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use tearline_model::{Classification, Code, PortionSet, ReleaseEntry};
use time::OffsetDateTime;

use super::listing::{indexed_pairs, next_date_added, relist, Pairs, DATE_ADDED_STEP};
use super::{
    bind_ids, db, decode_entry_at, get, id_hash, insert_entries, parse_timestamp, stored_parties, timestamp, to_json,
    Backend, SqlStore,
};
use crate::{
    Added, ListingPosition, MarkingUse, NewObject, ObjectQuery, Released, Result, StatusWrite, StoreError,
    StoredObject, VersionFilter,
};

/// The columns of `objects` a [`StoredObject`] is read from, in the order [`decode_object`] wants.
pub(super) const OBJECT_COLUMNS: &str =
    "o.seq, o.id, o.version, o.date_added, o.stix_type, o.spec_version, o.collection, o.facts, o.report, o.stix";

impl SqlStore {
    pub(super) async fn add_objects(
        &self,
        expected_version: i64,
        objects: &[NewObject],
        now: OffsetDateTime,
        all_new: bool,
        status: Option<&StatusWrite<'_>>,
    ) -> Result<Vec<Added>> {
        let versions: Vec<Option<String>> =
            objects.iter().map(|o| o.version.map(timestamp).transpose()).collect::<Result<_>>()?;

        let mut write = self.begin_write().await?;
        self.check_version(&mut write.tx, expected_version).await?;
        let conn: &mut AnyConnection = &mut write.tx;
        let parties = stored_parties(conn).await?;
        if let Some(object) = objects.iter().find(|o| !parties.contains(o.facts.originator.as_str())) {
            return Err(StoreError::UnknownParty(object.facts.originator.to_string()));
        }
        let mut date_added = next_date_added(conn, now).await?;

        let ids: Vec<&str> = objects.iter().map(|o| o.id.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
        let mut known = stored_versions(self.backend, conn, &ids).await?;
        let mut outcomes = Vec::with_capacity(objects.len());
        let mut rows: Vec<Row<'_>> = Vec::new();
        for (object, version) in objects.iter().zip(&versions) {
            let stix = object.stix.as_str();
            let version = match version {
                Some(version) => version.clone(),
                // Versioned by date added: a copy of the latest version is that version again.
                None => match known.latest.get(&object.id) {
                    Some(latest) if latest.stix == *stix => {
                        outcomes.push(Added::Duplicate { date_added: latest.date_added });
                        continue;
                    }
                    _ => timestamp(date_added)?,
                },
            };
            // A marking definition has one version only: STIX gives it no `modified`.
            if object.object_type == "marking-definition" {
                if let Some(latest) = known.latest.get(&object.id) {
                    let same = latest.stix == *stix;
                    outcomes.push(if same {
                        Added::Duplicate { date_added: latest.date_added }
                    } else {
                        Added::Conflict
                    });
                    continue;
                }
            }
            let key = (object.id.clone(), version.clone());
            if let Some(stored) = known.versions.get(&key) {
                let same = stored.stix == *stix;
                outcomes.push(if same { Added::Duplicate { date_added: stored.date_added } } else { Added::Conflict });
                continue;
            }
            let stored = Version { stix: stix.to_string(), date_added };
            known.latest.insert(object.id.clone(), stored.clone());
            known.versions.insert(key, stored);
            rows.push(Row { object, version, stix, date_added });
            outcomes.push(Added::Stored { date_added });
            date_added += DATE_ADDED_STEP;
        }
        if all_new {
            if let Some(index) = outcomes.iter().position(|o| !matches!(o, Added::Stored { .. })) {
                let id = objects.get(index).map(|o| o.id.clone()).unwrap_or_default();
                return Err(StoreError::Duplicate(id));
            }
        }

        let seqs = insert_rows(self.backend, conn, &rows).await?;
        let entries: Vec<(i64, &ReleaseEntry)> =
            rows.iter().zip(&seqs).flat_map(|(row, seq)| row.object.entries.iter().map(move |e| (*seq, e))).collect();
        insert_entries(self.backend, conn, &parties, &entries).await?;
        // Index rows of objects stored before this add that it changes are listed late.
        let stored_from = seqs.iter().copied().min().unwrap_or(i64::MAX);
        for (row, seq) in rows.iter().zip(&seqs) {
            if row.object.object_type == "marking-definition" {
                self.rederive_marking(conn, *seq, stored_from).await?;
            }
        }
        self.record_marking_uses(conn, &parties, &rows, &seqs, stored_from).await?;
        let stored: Vec<(&NewObject, i64)> = rows.iter().map(|row| row.object).zip(seqs.iter().copied()).collect();
        super::onward::record_provenance(self.backend, conn, &stored).await?;
        if let Some(status) = status {
            insert_status(conn, status.id, status.party, &(status.render)(&outcomes), now).await?;
        }
        write.tx.commit().await.map_err(db("committing objects"))?;
        Ok(outcomes)
    }

    /// Records which stored marking definitions the new objects use, and releases each to the
    /// parties receiving a portion that uses it (lowering the clearance it needs where one of
    /// them needs less).
    async fn record_marking_uses(
        &self,
        conn: &mut AnyConnection,
        parties: &HashSet<String>,
        rows: &[Row<'_>],
        seqs: &[i64],
        stored_from: i64,
    ) -> Result<()> {
        let marking_ids: Vec<&str> = rows
            .iter()
            .flat_map(|row| row.object.markings.iter().map(|m| m.id.as_str()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut marking_seqs: HashMap<String, Vec<i64>> = HashMap::new();
        for chunk in marking_ids.chunks(ROWS_PER_LOOKUP) {
            let sql = format!(
                "SELECT seq, id FROM objects WHERE stix_type = 'marking-definition' AND {}",
                self.backend.ids_in("id", 1, chunk.len())
            );
            let query = bind_ids(sqlx::query(&sql), chunk);
            for row in query.fetch_all(&mut *conn).await.map_err(db("looking up marking definitions"))? {
                marking_seqs.entry(get(&row, 1)?).or_default().push(get(&row, 0)?);
            }
        }
        // One use per object and definition, as `object_markings` keeps it (and as the
        // definition's entries are derived again from it): an object may name a definition for
        // several portions separately (a report names it once per portion marked with it).
        let mut uses: BTreeMap<(i64, i64), (&Row<'_>, MarkingUse)> = BTreeMap::new();
        for (row, seq) in rows.iter().zip(seqs) {
            for marking in &row.object.markings {
                for marking_seq in marking_seqs.get(&marking.id).into_iter().flatten() {
                    let (_, merged) = uses.entry((*seq, *marking_seq)).or_insert_with(|| (row, marking.clone()));
                    for portion in marking.portions.iter() {
                        merged.portions.insert(portion);
                    }
                    merged.min_classification = merged.min_classification.min(marking.min_classification);
                }
            }
        }
        // The same computation as `derived_marking_entries`, on the same uses.
        let mut lowest: BTreeMap<(String, i64), i64> = BTreeMap::new();
        for ((_, marking_seq), (row, marking)) in &uses {
            for entry in &row.object.entries {
                if marking.portions.iter().any(|p| entry.portions.contains(p)) {
                    let needed =
                        i64::from(entry.min_clearance.rank()).max(i64::from(marking.min_classification.rank()));
                    let lowest = lowest.entry((entry.party.to_string(), *marking_seq)).or_insert(needed);
                    *lowest = (*lowest).min(needed);
                }
            }
        }
        let uses: Vec<(&(i64, i64), &MarkingUse)> = uses.iter().map(|(key, (_, marking))| (key, marking)).collect();
        for chunk in uses.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO object_markings (object_seq, marking_seq, portions, min_classification) VALUES {}",
                self.backend.tuples(4, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for ((seq, marking_seq), marking) in chunk {
                query = query
                    .bind(*seq)
                    .bind(*marking_seq)
                    .bind(marking.portions.as_bytes())
                    .bind(i64::from(marking.min_classification.rank()));
            }
            query.execute(&mut *conn).await.map_err(db("recording markings in use"))?;
        }
        let lowest: Vec<((String, i64), i64)> = lowest.into_iter().filter(|((p, _), _)| parties.contains(p)).collect();
        let definitions: Vec<i64> =
            lowest.iter().map(|((_, seq), _)| *seq).collect::<BTreeSet<_>>().into_iter().collect();
        let before = indexed_pairs(self.backend, conn, parties, &definitions).await?;
        let mut after = before.clone();
        after.extend(lowest.iter().map(|(pair, _)| pair.clone()));
        for chunk in lowest.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO release_index (party, object_seq, portions, min_clearance) VALUES {} \
                 ON CONFLICT (party, object_seq) DO UPDATE SET min_clearance = {}",
                self.backend.tuples(4, chunk.len()),
                self.backend.lower_of("release_index.min_clearance", "excluded.min_clearance")
            );
            let mut query = sqlx::query(&sql);
            for ((party, marking_seq), rank) in chunk {
                query = query.bind(party.as_str()).bind(*marking_seq).bind(WHOLE_OBJECT.to_vec()).bind(*rank);
            }
            query.execute(&mut *conn).await.map_err(db("releasing marking definitions"))?;
        }
        relist(self.backend, conn, &before, &after, stored_from).await
    }

    /// Recomputes the release entries of a marking definition: its originator's, and one for
    /// every party receiving a portion that uses it, at the lowest clearance that sees one.
    /// Parties that receive it from now on find it late if it was stored before `stored_from`.
    pub(super) async fn rederive_marking(
        &self,
        conn: &mut AnyConnection,
        marking_seq: i64,
        stored_from: i64,
    ) -> Result<()> {
        let entries = derived_marking_entries(conn, marking_seq).await?;
        let parties = stored_parties(conn).await?;
        self.replace_entries(conn, &parties, marking_seq, &entries, stored_from).await
    }

    /// Replaces the index rows of the object at `seq` with `entries`, listing late the parties
    /// that receive it from now on.
    pub(super) async fn replace_entries(
        &self,
        conn: &mut AnyConnection,
        parties: &HashSet<String>,
        seq: i64,
        entries: &[ReleaseEntry],
        stored_from: i64,
    ) -> Result<()> {
        let before = indexed_pairs(self.backend, conn, parties, &[seq]).await?;
        // The index is keyed by party first: naming every party makes this a probe per party
        // instead of a scan of the whole index (here, on delete, and deriving a definition's).
        sqlx::query("DELETE FROM release_index WHERE party IN (SELECT code FROM parties) AND object_seq = $1")
            .bind(seq)
            .execute(&mut *conn)
            .await
            .map_err(db("clearing an object's release entries"))?;
        let rows: Vec<(i64, &ReleaseEntry)> = entries.iter().map(|entry| (seq, entry)).collect();
        insert_entries(self.backend, conn, parties, &rows).await?;
        let after: Pairs = entries.iter().map(|entry| (entry.party.to_string(), seq)).collect();
        relist(self.backend, conn, &before, &after, stored_from).await
    }

    pub(super) async fn query_released(&self, query: &ObjectQuery) -> Result<Vec<Released>> {
        let mut binds: Vec<Bind> = vec![
            Bind::Text(query.party.to_string()),
            Bind::Int(i64::from(query.clearance.rank())),
            Bind::Int(query.after.after_seq),
        ];
        let mut param = |binds: &mut Vec<Bind>, value: Bind| {
            binds.push(value);
            format!("${}", binds.len())
        };
        // What both halves of the listing filter on; each half adds its own position and date.
        let mut filters = String::new();
        if let Some(collection) = &query.collection {
            let p = param(&mut binds, Bind::Text(collection.clone()));
            let shared = param(&mut binds, Bind::Text(collection.clone()));
            // Looking up ids, the collection must not draw SQLite to its index (a walk of the
            // whole collection): as an expression it is only checked on the rows found by id.
            let column = if query.ids.is_empty() { "o.collection" } else { "COALESCE(o.collection, '')" };
            // Objects passed on into the collection are listed in it too.
            filters.push_str(&format!(
                " AND ({column} = {p} OR EXISTS (SELECT 1 FROM collection_shares cs \
                 WHERE cs.collection = {shared} AND cs.object_seq = o.seq))"
            ));
        }
        let added_after =
            query.added_after.map(|after| Ok::<_, StoreError>(param(&mut binds, Bind::Text(timestamp(after)?))));
        let added_after = added_after.transpose()?;
        if !query.ids.is_empty() {
            let hashes: Vec<String> = query.ids.iter().map(|id| param(&mut binds, Bind::Int(id_hash(id)))).collect();
            filters.push_str(&format!(" AND o.id_hash IN ({})", hashes.join(", ")));
        }
        for (column, values) in
            [("o.id", &query.ids), ("o.stix_type", &query.types), ("o.spec_version", &query.spec_versions)]
        {
            if !values.is_empty() {
                let list: Vec<String> = values.iter().map(|v| param(&mut binds, Bind::Text(v.clone()))).collect();
                filters.push_str(&format!(" AND {column} IN ({})", list.join(", ")));
            }
        }
        if let Some(condition) = version_condition(&query.versions, &mut binds, &mut param)? {
            filters.push_str(&format!(" AND ({condition})"));
        }
        let limit = param(&mut binds, Bind::Int(i64::from(query.limit)));
        let after_date =
            |column: &str| added_after.as_ref().map(|p| format!(" AND {column} > {p}")).unwrap_or_default();

        // Two halves, each read in its own index order up to the limit, then merged: rows stored
        // with their object at the object's position (with ids, the objects are found by id
        // first; CROSS JOIN fixes SQLite's join order), and rows that came later
        // (`late_releases`). One UNION ALL would read the same, but PostgreSQL sorts the whole of
        // both halves for it instead of merging them.
        let (stored_from, late_from) = if query.ids.is_empty() {
            ("release_index r CROSS JOIN objects o", "late_releases l CROSS JOIN release_index r CROSS JOIN objects o")
        } else {
            ("objects o CROSS JOIN release_index r", "objects o CROSS JOIN late_releases l CROSS JOIN release_index r")
        };
        let stored = format!(
            "SELECT {OBJECT_COLUMNS}, r.party, r.portions, r.min_clearance, r.object_seq, 0, o.date_added \
             FROM {stored_from} \
             WHERE r.object_seq = o.seq AND r.party = $1 AND r.min_clearance <= $2 AND r.object_seq > $3 \
             AND NOT EXISTS (SELECT 1 FROM late_releases l WHERE l.party = r.party AND l.object_seq = r.object_seq)\
             {filters}{added_after} ORDER BY r.object_seq LIMIT {limit}",
            added_after = after_date("o.date_added"),
        );
        // The late half's cursor goes last: the stored half has no use for it.
        let order = param(&mut binds, Bind::Int(query.after.order));
        let late = format!(
            "SELECT {OBJECT_COLUMNS}, r.party, r.portions, r.min_clearance, l.after_seq, l.id, l.listed_at \
             FROM {late_from} \
             WHERE l.object_seq = o.seq AND r.party = l.party AND r.object_seq = l.object_seq \
             AND l.party = $1 AND r.min_clearance <= $2 \
             AND (l.after_seq > $3 OR (l.after_seq = $3 AND l.id > {order})){filters}{added_after} \
             ORDER BY l.after_seq, l.id LIMIT {limit}",
            added_after = after_date("l.listed_at"),
        );

        let mut halves = Vec::with_capacity(2);
        for (sql, bound) in [(&stored, binds.len() - 1), (&late, binds.len())] {
            let mut statement = sqlx::query(sql);
            for bind in &binds[..bound] {
                statement = match bind {
                    Bind::Text(text) => statement.bind(text.as_str()),
                    Bind::Int(value) => statement.bind(*value),
                };
            }
            let rows = statement.fetch_all(&self.pool).await.map_err(db("querying released objects"))?;
            let released: Vec<Released> = rows
                .iter()
                .map(|row| {
                    let mut object = decode_object(row)?;
                    let entry = decode_entry_at(row, 10)?;
                    let position = ListingPosition { after_seq: get(row, 13)?, order: get(row, 14)? };
                    object.date_added = parse_timestamp(&get::<String>(row, 15)?)?;
                    Ok(Released { object, entry, position })
                })
                .collect::<Result<_>>()?;
            halves.push(released);
        }
        let late = halves.pop().unwrap_or_default();
        let stored = halves.pop().unwrap_or_default();
        Ok(merge_by_position(stored, late, query.limit as usize))
    }

    pub(super) async fn query_released_ids(
        &self,
        party: &Code,
        clearance: Classification,
        ids: &[String],
    ) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(500) {
            let hashes: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3 + chunk.len())).collect();
            let sql = format!(
                "SELECT DISTINCT o.id FROM objects o JOIN release_index r ON r.object_seq = o.seq \
                 WHERE r.party = $1 AND r.min_clearance <= $2 AND o.id_hash IN ({}) AND o.id IN ({})",
                hashes.join(", "),
                list.join(", ")
            );
            let mut statement =
                sqlx::query_scalar::<_, String>(&sql).bind(party.as_str()).bind(i64::from(clearance.rank()));
            for id in chunk {
                statement = statement.bind(id_hash(id));
            }
            for id in chunk {
                statement = statement.bind(id.as_str());
            }
            found.extend(statement.fetch_all(&self.pool).await.map_err(db("checking released ids"))?);
        }
        Ok(found)
    }

    pub(super) async fn delete_versions(&self, seqs: &[i64]) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut write.tx;
        let mut markings = HashSet::new();
        for seq in seqs {
            let used: Vec<i64> = sqlx::query_scalar("SELECT marking_seq FROM object_markings WHERE object_seq = $1")
                .bind(*seq)
                .fetch_all(&mut *conn)
                .await
                .map_err(db("reading the markings an object uses"))?;
            markings.extend(used);
            for sql in [
                "DELETE FROM object_markings WHERE object_seq = $1 OR marking_seq = $1",
                "DELETE FROM release_index WHERE party IN (SELECT code FROM parties) AND object_seq = $1",
                "DELETE FROM late_releases WHERE object_seq = $1",
                "DELETE FROM collection_shares WHERE object_seq = $1",
                "DELETE FROM objects WHERE seq = $1",
            ] {
                sqlx::query(sql).bind(*seq).execute(&mut *conn).await.map_err(db("deleting an object"))?;
            }
        }
        for marking in markings.difference(&seqs.iter().copied().collect()) {
            self.rederive_marking(conn, *marking, i64::MAX).await?;
        }
        write.tx.commit().await.map_err(db("committing a delete"))?;
        Ok(())
    }
}

/// The first `limit` of two lists in listing order, in listing order.
fn merge_by_position(stored: Vec<Released>, late: Vec<Released>, limit: usize) -> Vec<Released> {
    let mut merged = Vec::with_capacity(limit.min(stored.len() + late.len()));
    let (mut stored, mut late) = (stored.into_iter().peekable(), late.into_iter().peekable());
    while merged.len() < limit {
        let late_first = match (stored.peek(), late.peek()) {
            (Some(a), Some(b)) => b.position < a.position,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        match if late_first { late.next() } else { stored.next() } {
            Some(next) => merged.push(next),
            None => break,
        }
    }
    merged
}

/// The release entries a marking definition at `marking_seq` should have: its originator's, and
/// one for every party whose entry for an object using it holds a portion that uses it, at the
/// lowest clearance that sees such a portion.
pub(super) async fn derived_marking_entries(conn: &mut AnyConnection, marking_seq: i64) -> Result<Vec<ReleaseEntry>> {
    let originator: Option<String> =
        sqlx::query_scalar("SELECT originator FROM objects WHERE seq = $1 AND stix_type = 'marking-definition'")
            .bind(marking_seq)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading a marking definition"))?;
    let Some(originator) = originator else { return Ok(Vec::new()) };
    let rows = sqlx::query(
        "SELECT r.party, r.portions, r.min_clearance, m.portions, m.min_classification \
         FROM object_markings m JOIN release_index r \
         ON r.object_seq = m.object_seq AND r.party IN (SELECT code FROM parties) WHERE m.marking_seq = $1",
    )
    .bind(marking_seq)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("reading the uses of a marking definition"))?;
    let mut lowest: BTreeMap<String, i64> = BTreeMap::from([(originator, 0)]);
    for row in &rows {
        let received = PortionSet::from_bytes(get(row, 1)?);
        let using = PortionSet::from_bytes(get(row, 3)?);
        if using.iter().any(|portion| received.contains(portion)) {
            let needed = get::<i64>(row, 2)?.max(get::<i64>(row, 4)?);
            let party: String = get(row, 0)?;
            let entry = lowest.entry(party).or_insert(needed);
            *entry = (*entry).min(needed);
        }
    }
    lowest
        .into_iter()
        .map(|(party, rank)| {
            Ok(ReleaseEntry {
                party: super::decode_code(&party)?,
                portions: PortionSet::from_bytes(WHOLE_OBJECT.to_vec()),
                min_clearance: super::decode_classification(rank)?,
            })
        })
        .collect()
}

/// The portion set of a marking definition: the whole object.
pub(super) const WHOLE_OBJECT: [u8; 1] = [1];

/// A value bound to a query built at run time.
enum Bind {
    Text(String),
    Int(i64),
}

/// The SQL condition of a `match[version]`, over the versions the party may receive.
fn version_condition(
    filter: &VersionFilter,
    binds: &mut Vec<Bind>,
    param: &mut impl FnMut(&mut Vec<Bind>, Bind) -> String,
) -> Result<Option<String>> {
    if filter.all {
        return Ok(None);
    }
    // Another version of the same object that the same party may receive.
    let other = |comparison: &str| {
        format!(
            "EXISTS (SELECT 1 FROM objects o2 JOIN release_index r2 ON r2.object_seq = o2.seq \
             WHERE o2.id_hash = o.id_hash AND o2.id = o.id AND r2.party = r.party AND r2.min_clearance <= $2 \
             AND (o2.collection = o.collection OR (o2.collection IS NULL AND o.collection IS NULL)) \
             AND o2.version {comparison} o.version)"
        )
    };
    let mut conditions = Vec::new();
    if filter.last {
        conditions.push(format!("NOT {}", other(">")));
    }
    if filter.first {
        conditions.push(format!("NOT {}", other("<")));
    }
    for at in &filter.at {
        let p = param(binds, Bind::Text(timestamp(*at)?));
        conditions.push(format!("o.version = {p}"));
    }
    Ok((!conditions.is_empty()).then(|| conditions.join(" OR ")))
}

async fn insert_status(
    conn: &mut AnyConnection,
    id: &str,
    party: &Code,
    status: &str,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query("INSERT INTO taxii_statuses (id, party, created, status) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(party.as_str())
        .bind(timestamp(now)?)
        .bind(status)
        .execute(&mut *conn)
        .await
        .map_err(db("storing a status"))?;
    Ok(())
}

/// A new row of `objects`.
struct Row<'a> {
    object: &'a NewObject,
    version: String,
    stix: &'a str,
    date_added: OffsetDateTime,
}

/// A stored version, as far as adding needs to know it.
#[derive(Clone)]
struct Version {
    stix: String,
    date_added: OffsetDateTime,
}

/// The stored versions of some objects, and the latest of each.
#[derive(Default)]
struct KnownVersions {
    versions: HashMap<(String, String), Version>,
    latest: HashMap<String, Version>,
}

/// Ids per lookup, rows per multi-row insert: well under both backends' parameter limits.
const ROWS_PER_LOOKUP: usize = 500;
const ROWS_PER_INSERT: usize = 200;

async fn stored_versions(backend: Backend, conn: &mut AnyConnection, ids: &[&str]) -> Result<KnownVersions> {
    let mut known = KnownVersions::default();
    for chunk in ids.chunks(ROWS_PER_LOOKUP) {
        let sql = format!(
            "SELECT id, version, stix, date_added FROM objects WHERE {} ORDER BY seq",
            backend.ids_in("id", 1, chunk.len())
        );
        let query = bind_ids(sqlx::query(&sql), chunk);
        for row in query.fetch_all(&mut *conn).await.map_err(db("reading stored versions"))? {
            let id: String = get(&row, 0)?;
            let version = Version { stix: get(&row, 2)?, date_added: parse_timestamp(&get::<String>(&row, 3)?)? };
            known.latest.insert(id.clone(), version.clone());
            known.versions.insert((id, get(&row, 1)?), version);
        }
    }
    Ok(known)
}

/// Inserts rows in order, several per statement; their storage positions, in the same order.
async fn insert_rows(backend: Backend, conn: &mut AnyConnection, rows: &[Row<'_>]) -> Result<Vec<i64>> {
    let mut seqs = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO objects (id, id_hash, version, stix_type, spec_version, originator, collection, date_added, \
                                  facts, report, title, created, stix) VALUES {} RETURNING seq, id, version",
            backend.tuples(13, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            let object = row.object;
            let report = object.report.as_ref();
            query = query
                .bind(object.id.as_str())
                .bind(id_hash(&object.id))
                .bind(row.version.as_str())
                .bind(object.object_type.as_str())
                .bind(object.spec_version.as_str())
                .bind(object.facts.originator.as_str())
                .bind(object.collection.as_deref())
                .bind(timestamp(row.date_added)?)
                .bind(to_json(&object.facts, "release facts")?)
                .bind(report.map(|r| to_json(r, "the report")).transpose()?)
                .bind(report.map(|r| r.title.text.clone()))
                .bind(report.map(|r| timestamp(r.created)).transpose()?)
                .bind(row.stix);
        }
        let returned = query.fetch_all(&mut *conn).await.map_err(db("storing objects"))?;
        // RETURNING does not promise the order of the rows: match them by id and version.
        let mut by_key: HashMap<(String, String), i64> = HashMap::with_capacity(returned.len());
        for row in &returned {
            by_key.insert((get(row, 1)?, get(row, 2)?), get(row, 0)?);
        }
        for row in chunk {
            let seq = by_key
                .get(&(row.object.id.clone(), row.version.clone()))
                .ok_or_else(|| StoreError::Corrupt(format!("{} was stored without a position", row.object.id)))?;
            seqs.push(*seq);
        }
    }
    Ok(seqs)
}

pub(super) fn decode_object(row: &AnyRow) -> Result<StoredObject> {
    let id: String = get(row, 1)?;
    let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("{what} of {id}: {e}"));
    let facts = serde_json::from_str(&get::<String>(row, 7)?).map_err(|e| corrupt("release facts", e))?;
    let report = get::<Option<String>>(row, 8)?
        .map(|text| serde_json::from_str(&text).map_err(|e| corrupt("report", e)))
        .transpose()?;
    let stix = serde_json::from_str(&get::<String>(row, 9)?).map_err(|e| corrupt("STIX form", e))?;
    Ok(StoredObject {
        seq: get(row, 0)?,
        version: parse_timestamp(&get::<String>(row, 2)?)?,
        date_added: parse_timestamp(&get::<String>(row, 3)?)?,
        object_type: get(row, 4)?,
        spec_version: get(row, 5)?,
        collection: get(row, 6)?,
        facts,
        report,
        stix,
        id,
    })
}
