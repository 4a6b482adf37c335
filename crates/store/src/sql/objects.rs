//! Object versions: adding them (with their release entries and the marking definitions they
//! use), querying what a party may receive, deleting, and TAXII statuses.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use tearline_model::{Classification, Code, PortionSet, ReleaseEntry};
use time::{Duration, OffsetDateTime};

use super::{db, decode_entry_at, get, insert_entries, parse_timestamp, stored_parties, timestamp, to_json, SqlStore};
use crate::{Added, MarkingUse, NewObject, ObjectQuery, Released, Result, StoreError, StoredObject, VersionFilter};

/// The columns of `objects` a [`StoredObject`] is read from, in the order [`decode_object`] wants.
pub(super) const OBJECT_COLUMNS: &str =
    "o.seq, o.id, o.version, o.date_added, o.stix_type, o.spec_version, o.collection, o.facts, o.report, o.stix";

/// Dates added are distinct to the microsecond: TAXII clients page with `added_after`.
const DATE_ADDED_STEP: Duration = Duration::microseconds(1);

impl SqlStore {
    pub(super) async fn add_objects(
        &self,
        expected_version: i64,
        objects: &[NewObject],
        now: OffsetDateTime,
        all_new: bool,
    ) -> Result<Vec<Added>> {
        let mut write = self.begin_write().await?;
        self.check_version(&mut write.tx, expected_version).await?;
        let conn: &mut AnyConnection = &mut write.tx;
        let parties = stored_parties(conn).await?;
        if let Some(object) = objects.iter().find(|o| !parties.contains(o.facts.originator.as_str())) {
            return Err(StoreError::UnknownParty(object.facts.originator.to_string()));
        }
        let last: Option<String> = sqlx::query_scalar("SELECT MAX(date_added) FROM objects")
            .fetch_one(&mut *conn)
            .await
            .map_err(db("reading the last date added"))?;
        let mut date_added = truncate_to_micros(now);
        if let Some(last) = last.as_deref().map(parse_timestamp).transpose()? {
            date_added = date_added.max(last + DATE_ADDED_STEP);
        }

        let mut outcomes = Vec::with_capacity(objects.len());
        // (id, version) -> (stix text, date added) of what this batch stored.
        let mut batch: HashMap<(String, String), (String, OffsetDateTime)> = HashMap::new();
        for object in objects {
            let stix = object.stix.to_string();
            let version = match object.version {
                Some(version) => timestamp(version)?,
                None => match latest_identical(conn, &object.id, &stix).await? {
                    Some(added) => {
                        outcomes.push(Added::Duplicate { date_added: added });
                        continue;
                    }
                    None => timestamp(date_added)?,
                },
            };
            let key = (object.id.clone(), version.clone());
            let existing = match batch.get(&key) {
                Some((text, added)) => Some((text.clone(), *added)),
                None => stored_version(conn, &object.id, &version).await?,
            };
            if let Some((text, added)) = existing {
                outcomes.push(if text == stix { Added::Duplicate { date_added: added } } else { Added::Conflict });
                continue;
            }
            let seq = insert_object(conn, object, &version, date_added, &stix).await?;
            let entries: Vec<(i64, &ReleaseEntry)> = object.entries.iter().map(|entry| (seq, entry)).collect();
            insert_entries(conn, &parties, &entries).await?;
            if object.object_type == "marking-definition" {
                self.rederive_marking(conn, seq).await?;
            }
            self.release_markings_with(conn, seq, &object.markings).await?;
            batch.insert(key, (stix, date_added));
            outcomes.push(Added::Stored { date_added });
            date_added += DATE_ADDED_STEP;
        }
        if all_new {
            if let Some(index) = outcomes.iter().position(|o| !matches!(o, Added::Stored { .. })) {
                let id = objects.get(index).map(|o| o.id.clone()).unwrap_or_default();
                return Err(StoreError::Duplicate(id));
            }
        }
        write.tx.commit().await.map_err(db("committing objects"))?;
        Ok(outcomes)
    }

    /// Records which stored marking definitions the object at `seq` uses, and releases them to
    /// the parties that receive a portion using them.
    async fn release_markings_with(&self, conn: &mut AnyConnection, seq: i64, markings: &[MarkingUse]) -> Result<()> {
        for marking in markings {
            let marking_seqs: Vec<i64> =
                sqlx::query_scalar("SELECT seq FROM objects WHERE id = $1 AND stix_type = 'marking-definition'")
                    .bind(marking.id.as_str())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db("looking up a marking definition"))?;
            for marking_seq in marking_seqs {
                sqlx::query(
                    "INSERT INTO object_markings (object_seq, marking_seq, portions, min_classification) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (object_seq, marking_seq) DO NOTHING",
                )
                .bind(seq)
                .bind(marking_seq)
                .bind(marking.portions.as_bytes())
                .bind(i64::from(marking.min_classification.rank()))
                .execute(&mut *conn)
                .await
                .map_err(db("recording a marking in use"))?;
                self.rederive_marking(conn, marking_seq).await?;
            }
        }
        Ok(())
    }

    /// Recomputes the release entries of a marking definition: its originator's, and one for
    /// every party receiving a portion that uses it, at the lowest clearance that sees one.
    pub(super) async fn rederive_marking(&self, conn: &mut AnyConnection, marking_seq: i64) -> Result<()> {
        let entries = derived_marking_entries(conn, marking_seq).await?;
        sqlx::query("DELETE FROM release_index WHERE object_seq = $1")
            .bind(marking_seq)
            .execute(&mut *conn)
            .await
            .map_err(db("clearing a marking definition's entries"))?;
        let parties = stored_parties(conn).await?;
        let rows: Vec<(i64, &ReleaseEntry)> = entries.iter().map(|entry| (marking_seq, entry)).collect();
        insert_entries(conn, &parties, &rows).await
    }

    pub(super) async fn query_released(&self, query: &ObjectQuery) -> Result<Vec<Released>> {
        let mut sql = format!(
            "SELECT {OBJECT_COLUMNS}, r.party, r.portions, r.min_clearance \
             FROM release_index r JOIN objects o ON o.seq = r.object_seq \
             WHERE r.party = $1 AND r.min_clearance <= $2 AND r.object_seq > $3"
        );
        let mut binds: Vec<Bind> = vec![
            Bind::Text(query.party.to_string()),
            Bind::Int(i64::from(query.clearance.rank())),
            Bind::Int(query.after_seq),
        ];
        let mut param = |binds: &mut Vec<Bind>, value: Bind| {
            binds.push(value);
            format!("${}", binds.len())
        };
        if let Some(collection) = &query.collection {
            let p = param(&mut binds, Bind::Text(collection.clone()));
            sql.push_str(&format!(" AND o.collection = {p}"));
        }
        if let Some(after) = query.added_after {
            let p = param(&mut binds, Bind::Text(timestamp(after)?));
            sql.push_str(&format!(" AND o.date_added > {p}"));
        }
        for (column, values) in
            [("o.id", &query.ids), ("o.stix_type", &query.types), ("o.spec_version", &query.spec_versions)]
        {
            if !values.is_empty() {
                let list: Vec<String> = values.iter().map(|v| param(&mut binds, Bind::Text(v.clone()))).collect();
                sql.push_str(&format!(" AND {column} IN ({})", list.join(", ")));
            }
        }
        if let Some(condition) = version_condition(&query.versions, &mut binds, &mut param)? {
            sql.push_str(&format!(" AND ({condition})"));
        }
        let p = param(&mut binds, Bind::Int(i64::from(query.limit)));
        sql.push_str(&format!(" ORDER BY r.object_seq LIMIT {p}"));

        let mut statement = sqlx::query(&sql);
        for bind in &binds {
            statement = match bind {
                Bind::Text(text) => statement.bind(text.as_str()),
                Bind::Int(value) => statement.bind(*value),
            };
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(db("querying released objects"))?;
        rows.iter()
            .map(|row| {
                let object = decode_object(row)?;
                let entry = decode_entry_at(row, 10)?;
                Ok(Released { object, entry })
            })
            .collect()
    }

    pub(super) async fn query_released_ids(
        &self,
        party: &Code,
        clearance: Classification,
        ids: &[String],
    ) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(500) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT DISTINCT o.id FROM objects o JOIN release_index r ON r.object_seq = o.seq \
                 WHERE r.party = $1 AND r.min_clearance <= $2 AND o.id IN ({})",
                list.join(", ")
            );
            let mut statement =
                sqlx::query_scalar::<_, String>(&sql).bind(party.as_str()).bind(i64::from(clearance.rank()));
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
                "DELETE FROM release_index WHERE object_seq = $1",
                "DELETE FROM objects WHERE seq = $1",
            ] {
                sqlx::query(sql).bind(*seq).execute(&mut *conn).await.map_err(db("deleting an object"))?;
            }
        }
        for marking in markings.difference(&seqs.iter().copied().collect()) {
            self.rederive_marking(conn, *marking).await?;
        }
        write.tx.commit().await.map_err(db("committing a delete"))?;
        Ok(())
    }
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
         FROM object_markings m JOIN release_index r ON r.object_seq = m.object_seq WHERE m.marking_seq = $1",
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
             WHERE o2.id = o.id AND r2.party = r.party AND r2.min_clearance <= $2 \
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

async fn latest_identical(conn: &mut AnyConnection, id: &str, stix: &str) -> Result<Option<OffsetDateTime>> {
    let row = sqlx::query("SELECT stix, date_added FROM objects WHERE id = $1 ORDER BY seq DESC LIMIT 1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading the latest version"))?;
    match row {
        Some(row) if get::<String>(&row, 0)? == stix => Ok(Some(parse_timestamp(&get::<String>(&row, 1)?)?)),
        _ => Ok(None),
    }
}

async fn stored_version(conn: &mut AnyConnection, id: &str, version: &str) -> Result<Option<(String, OffsetDateTime)>> {
    let row = sqlx::query("SELECT stix, date_added FROM objects WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading a stored version"))?;
    row.map(|row| Ok((get::<String>(&row, 0)?, parse_timestamp(&get::<String>(&row, 1)?)?))).transpose()
}

async fn insert_object(
    conn: &mut AnyConnection,
    object: &NewObject,
    version: &str,
    date_added: OffsetDateTime,
    stix: &str,
) -> Result<i64> {
    let report = object.report.as_ref().map(|r| to_json(r, "the report")).transpose()?;
    let created = object.report.as_ref().map(|r| timestamp(r.created)).transpose()?;
    sqlx::query_scalar(
        "INSERT INTO objects (id, version, stix_type, spec_version, originator, collection, date_added, facts, \
                              report, title, created, stix) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq",
    )
    .bind(object.id.as_str())
    .bind(version)
    .bind(object.object_type.as_str())
    .bind(object.spec_version.as_str())
    .bind(object.facts.originator.as_str())
    .bind(object.collection.as_deref())
    .bind(timestamp(date_added)?)
    .bind(to_json(&object.facts, "release facts")?)
    .bind(report)
    .bind(object.report.as_ref().map(|r| r.title.text.clone()))
    .bind(created)
    .bind(stix)
    .fetch_one(&mut *conn)
    .await
    .map_err(db("storing an object"))
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

fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let micros = at.nanosecond() / 1000 * 1000;
    at.replace_nanosecond(micros).unwrap_or(at)
}
