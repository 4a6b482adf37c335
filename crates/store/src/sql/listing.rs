//! Where each party finds an object version in its listings, and since when.
//!
//! A release-index row stored with its object is listed at the object's position, dated when the
//! object was stored. A row that appears later (a new agreement, a lifted embargo, a share, a
//! marking definition another object now uses) gets a line in `late_releases`: the party finds
//! the version after everything stored before, dated when it could first receive it, so a TAXII
//! client polling with `added_after` sees it come.

use std::collections::HashSet;

use sqlx::AnyConnection;
use time::{Duration, OffsetDateTime};

use super::{db, get, parse_timestamp, timestamp, Backend};
use crate::Result;

/// (party, object position) pairs of the release index.
pub(super) type Pairs = HashSet<(String, i64)>;

/// Dates added are distinct to the microsecond: TAXII clients page with `added_after`.
pub(super) const DATE_ADDED_STEP: Duration = Duration::microseconds(1);

/// Objects per lookup of their index rows, times the parties: within both backends' limits.
const OBJECTS_PER_LOOKUP: usize = 200;

/// Late lines per insert: 4 parameters each.
const LINES_PER_INSERT: usize = 500;

/// The index rows of the objects at `seqs`, for every stored party (found by the index's key).
pub(super) async fn indexed_pairs(
    backend: Backend,
    conn: &mut AnyConnection,
    parties: &HashSet<String>,
    seqs: &[i64],
) -> Result<Pairs> {
    let parties: Vec<&str> = parties.iter().map(String::as_str).collect();
    let mut pairs = Pairs::new();
    for chunk in seqs.chunks(OBJECTS_PER_LOOKUP) {
        let sql = format!(
            "SELECT party, object_seq FROM release_index WHERE party IN ({}) AND object_seq IN ({})",
            backend.parameter_list(1, parties.len()),
            backend.parameter_list(1 + parties.len(), chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for party in &parties {
            query = query.bind(*party);
        }
        for seq in chunk {
            query = query.bind(*seq);
        }
        for row in query.fetch_all(&mut *conn).await.map_err(db("reading release-index rows"))? {
            pairs.insert((get(&row, 0)?, get(&row, 1)?));
        }
    }
    Ok(pairs)
}

/// After the index rows `before` became `after`: the new rows of objects stored before this
/// write (positions below `stored_from`) are listed late, now; rows gone lose their late line,
/// so a version released again later comes again.
pub(super) async fn relist(
    backend: Backend,
    conn: &mut AnyConnection,
    before: &Pairs,
    after: &Pairs,
    stored_from: i64,
) -> Result<()> {
    let mut changed: Vec<&(String, i64)> = before.symmetric_difference(after).collect();
    changed.sort();
    for (party, seq) in &changed {
        sqlx::query("DELETE FROM late_releases WHERE object_seq = $1 AND party = $2")
            .bind(*seq)
            .bind(party.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db("forgetting a late release"))?;
    }
    // In position order within each party, so that a party receives them in storage order.
    let mut late: Vec<(&str, i64)> = changed
        .iter()
        .filter(|pair| after.contains(**pair) && pair.1 < stored_from)
        .map(|(p, s)| (p.as_str(), *s))
        .collect();
    if late.is_empty() {
        return Ok(());
    }
    late.sort();
    let after_seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM objects")
        .fetch_one(&mut *conn)
        .await
        .map_err(db("reading the last position"))?;
    let mut date = next_date_added(conn, OffsetDateTime::now_utc()).await?;
    for chunk in late.chunks(LINES_PER_INSERT) {
        let sql = format!(
            "INSERT INTO late_releases (party, object_seq, after_seq, listed_at) VALUES {}",
            backend.tuples(4, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for (party, seq) in chunk {
            query = query.bind(*party).bind(*seq).bind(after_seq).bind(timestamp(date)?);
            date += DATE_ADDED_STEP;
        }
        query.execute(&mut *conn).await.map_err(db("listing late releases"))?;
    }
    Ok(())
}

/// The next date added: `now`, unless an object or late release is already dated at or after
/// it, so dates increase with listing positions.
pub(super) async fn next_date_added(conn: &mut AnyConnection, now: OffsetDateTime) -> Result<OffsetDateTime> {
    let mut date = truncate_to_micros(now);
    // The last rows of each, found by their keys, hold the latest dates.
    for sql in [
        "SELECT date_added FROM objects ORDER BY seq DESC LIMIT 1",
        "SELECT listed_at FROM late_releases ORDER BY id DESC LIMIT 1",
    ] {
        let last: Option<String> =
            sqlx::query_scalar(sql).fetch_optional(&mut *conn).await.map_err(db("reading the last date added"))?;
        if let Some(last) = last.as_deref().map(parse_timestamp).transpose()? {
            date = date.max(last + DATE_ADDED_STEP);
        }
    }
    Ok(date)
}

fn truncate_to_micros(at: OffsetDateTime) -> OffsetDateTime {
    let micros = at.nanosecond() / 1000 * 1000;
    at.replace_nanosecond(micros).unwrap_or(at)
}
