//! Deconfliction: planned activities (opaque JSON bodies with the columns queries need), every
//! submission of one, the conflicts found between parties' activities and the flags raised.
//!
//! Activities change under the hub-state write lock, one at a time, each taking the next
//! `change_seq`: a change decided on activities that are no longer the latest is refused, so the
//! hub's in-memory index, synced by `change_seq`, never decides on a stale picture.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use tearline_model::{Code, UserName};
use time::OffsetDateTime;

use super::{db, decode_code, get, parse_timestamp, timestamp, to_json, SqlStore};
use crate::{
    ActivityChange, ActivityRecord, ConflictRecord, ConflictSide, FlagRecord, Result, StoreError, SubmissionRecord,
};

const ACTIVITY_COLUMNS: &str =
    "id, party, author, revision, body, window_end, registered, updated, withdrawn, change_seq";

const SUBMISSION_COLUMNS: &str = "party, activity_id, revision, at, centre_lat, centre_lon, extent_m";

const CONFLICT_COLUMNS: &str =
    "seq, id, line, created, activity_a, revision_a, party_a, activity_b, revision_b, party_b, overlap";

impl SqlStore {
    pub(super) async fn write_activity_change(&self, change: &ActivityChange) -> Result<i64> {
        let mut write = self.begin_write().await?;
        let conn: &mut AnyConnection = &mut write.tx;
        // The hub-state lock orders this writer with every other (on SQLite `BEGIN IMMEDIATE`
        // already holds the database): the highest change read below is then the latest.
        sqlx::query(self.backend.lock_version())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("locking the hub state"))?
            .ok_or(StoreError::NotInitialised)?;
        let found: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(change_seq), 0) FROM activities")
            .fetch_one(&mut *conn)
            .await
            .map_err(db("reading the latest activity change"))?;
        if found != change.expected_change_seq {
            return Err(StoreError::StaleActivities { expected: change.expected_change_seq, found });
        }
        let change_seq = found + 1;
        upsert_activity(conn, &change.activity, change_seq).await?;
        if let Some(submission) = &change.submission {
            insert_submission(conn, submission).await?;
        }
        for conflict in &change.conflicts {
            insert_conflict(conn, conflict).await?;
        }
        for flag in &change.flags {
            sqlx::query("INSERT INTO deconfliction_flags (party, at, reason, activities) VALUES ($1, $2, $3, $4)")
                .bind(flag.party.as_str())
                .bind(timestamp(flag.at)?)
                .bind(flag.reason.as_str())
                .bind(to_json(&flag.activities, "a flag's activities")?)
                .execute(&mut *conn)
                .await
                .map_err(db("recording a deconfliction flag"))?;
        }
        super::ledger::append(self.backend, conn, &change.ledger).await?;
        write.tx.commit().await.map_err(db("committing an activity change"))?;
        Ok(change_seq)
    }

    pub(super) async fn query_activity_changes(&self, after_change_seq: i64) -> Result<Vec<ActivityRecord>> {
        let sql = format!("SELECT {ACTIVITY_COLUMNS} FROM activities WHERE change_seq > $1 ORDER BY change_seq");
        let rows = sqlx::query(&sql)
            .bind(after_change_seq)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading activity changes"))?;
        rows.iter().map(decode_activity).collect()
    }

    pub(super) async fn query_activity(&self, id: &str) -> Result<Option<ActivityRecord>> {
        let sql = format!("SELECT {ACTIVITY_COLUMNS} FROM activities WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await.map_err(db("reading an activity"))?;
        row.as_ref().map(decode_activity).transpose()
    }

    pub(super) async fn query_activities_of(&self, party: &Code) -> Result<Vec<ActivityRecord>> {
        let sql = format!("SELECT {ACTIVITY_COLUMNS} FROM activities WHERE party = $1 ORDER BY registered, id");
        let rows =
            sqlx::query(&sql).bind(party.as_str()).fetch_all(&self.pool).await.map_err(db("reading activities"))?;
        rows.iter().map(decode_activity).collect()
    }

    pub(super) async fn query_submissions_since(
        &self,
        party: &Code,
        since: OffsetDateTime,
    ) -> Result<Vec<SubmissionRecord>> {
        let sql = format!(
            "SELECT {SUBMISSION_COLUMNS} FROM activity_submissions WHERE party = $1 AND at >= $2 ORDER BY at, seq"
        );
        let rows = sqlx::query(&sql)
            .bind(party.as_str())
            .bind(timestamp(since)?)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading activity submissions"))?;
        rows.iter()
            .map(|row| {
                Ok(SubmissionRecord {
                    party: decode_code(&get::<String>(row, 0)?)?,
                    activity_id: get(row, 1)?,
                    revision: get(row, 2)?,
                    at: parse_timestamp(&get::<String>(row, 3)?)?,
                    centre_lat: get(row, 4)?,
                    centre_lon: get(row, 5)?,
                    extent_m: get(row, 6)?,
                })
            })
            .collect()
    }

    pub(super) async fn query_conflicts_of(&self, party: &Code, after_seq: i64) -> Result<Vec<ConflictRecord>> {
        let sql = format!(
            "SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE (party_a = $1 OR party_b = $1) AND seq > $2 ORDER BY seq"
        );
        let rows = sqlx::query(&sql)
            .bind(party.as_str())
            .bind(after_seq)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading conflicts"))?;
        rows.iter().map(decode_conflict).collect()
    }

    pub(super) async fn query_deconfliction_flags(&self) -> Result<Vec<FlagRecord>> {
        let rows = sqlx::query("SELECT seq, party, at, reason, activities FROM deconfliction_flags ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading deconfliction flags"))?;
        rows.iter()
            .map(|row| {
                let seq: i64 = get(row, 0)?;
                let activities = serde_json::from_str(&get::<String>(row, 4)?)
                    .map_err(|e| StoreError::Corrupt(format!("activities of deconfliction flag {seq}: {e}")))?;
                Ok(FlagRecord {
                    seq,
                    party: decode_code(&get::<String>(row, 1)?)?,
                    at: parse_timestamp(&get::<String>(row, 2)?)?,
                    reason: get(row, 3)?,
                    activities,
                })
            })
            .collect()
    }
}

/// Inserts a registered activity, or replaces what an amendment or withdrawal changes of a stored
/// one (its party and registration time stay). An activity of another party under the same id is
/// refused.
async fn upsert_activity(conn: &mut AnyConnection, activity: &ActivityRecord, change_seq: i64) -> Result<()> {
    let stored: Option<String> = sqlx::query_scalar("SELECT party FROM activities WHERE id = $1")
        .bind(activity.id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("reading an activity's party"))?;
    if let Some(party) = stored.filter(|party| party != activity.party.as_str()) {
        return Err(StoreError::Unstorable {
            what: "an activity",
            reason: format!("activity {} belongs to party {party}, not {}", activity.id, activity.party),
        });
    }
    let sql = format!(
        "INSERT INTO activities ({ACTIVITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET author = excluded.author, revision = excluded.revision, \
             body = excluded.body, window_end = excluded.window_end, updated = excluded.updated, \
             withdrawn = excluded.withdrawn, change_seq = excluded.change_seq"
    );
    sqlx::query(&sql)
        .bind(activity.id.as_str())
        .bind(activity.party.as_str())
        .bind(activity.author.as_str())
        .bind(activity.revision)
        .bind(activity.body.as_str())
        .bind(timestamp(activity.window_end)?)
        .bind(timestamp(activity.registered)?)
        .bind(timestamp(activity.updated)?)
        .bind(activity.withdrawn.map(timestamp).transpose()?)
        .bind(change_seq)
        .execute(&mut *conn)
        .await
        .map_err(db("storing an activity"))?;
    Ok(())
}

async fn insert_submission(conn: &mut AnyConnection, submission: &SubmissionRecord) -> Result<()> {
    // SQLite keeps a NaN as NULL: refuse what could not be read back, on both backends alike.
    for value in [submission.centre_lat, submission.centre_lon, submission.extent_m] {
        if !value.is_finite() {
            return Err(StoreError::Unstorable {
                what: "an activity submission",
                reason: format!("{value} is not a finite number"),
            });
        }
    }
    let sql = format!("INSERT INTO activity_submissions ({SUBMISSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    sqlx::query(&sql)
        .bind(submission.party.as_str())
        .bind(submission.activity_id.as_str())
        .bind(submission.revision)
        .bind(timestamp(submission.at)?)
        .bind(submission.centre_lat)
        .bind(submission.centre_lon)
        .bind(submission.extent_m)
        .execute(&mut *conn)
        .await
        .map_err(db("recording an activity submission"))?;
    Ok(())
}

async fn insert_conflict(conn: &mut AnyConnection, conflict: &ConflictRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO conflicts (id, line, created, activity_a, revision_a, party_a, \
                                activity_b, revision_b, party_b, overlap) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(conflict.id.as_str())
    .bind(conflict.line.as_str())
    .bind(timestamp(conflict.created)?)
    .bind(conflict.a.activity.as_str())
    .bind(conflict.a.revision)
    .bind(conflict.a.party.as_str())
    .bind(conflict.b.activity.as_str())
    .bind(conflict.b.revision)
    .bind(conflict.b.party.as_str())
    .bind(conflict.overlap.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db("recording a conflict"))?;
    Ok(())
}

fn decode_activity(row: &AnyRow) -> Result<ActivityRecord> {
    let author: String = get(row, 2)?;
    Ok(ActivityRecord {
        id: get(row, 0)?,
        party: decode_code(&get::<String>(row, 1)?)?,
        author: UserName::new(&author).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        revision: get(row, 3)?,
        body: get(row, 4)?,
        window_end: parse_timestamp(&get::<String>(row, 5)?)?,
        registered: parse_timestamp(&get::<String>(row, 6)?)?,
        updated: parse_timestamp(&get::<String>(row, 7)?)?,
        withdrawn: get::<Option<String>>(row, 8)?.as_deref().map(parse_timestamp).transpose()?,
        change_seq: get(row, 9)?,
    })
}

fn decode_conflict(row: &AnyRow) -> Result<ConflictRecord> {
    Ok(ConflictRecord {
        seq: get(row, 0)?,
        id: get(row, 1)?,
        line: get(row, 2)?,
        created: parse_timestamp(&get::<String>(row, 3)?)?,
        a: ConflictSide {
            activity: get(row, 4)?,
            revision: get(row, 5)?,
            party: decode_code(&get::<String>(row, 6)?)?,
        },
        b: ConflictSide {
            activity: get(row, 7)?,
            revision: get(row, 8)?,
            party: decode_code(&get::<String>(row, 9)?)?,
        },
        overlap: get(row, 10)?,
    })
}
