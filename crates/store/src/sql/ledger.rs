//! The ledger's tables: entries, the tree's stored hashes, the head, checkpoints, cosignatures
//! and what the hub keeps as a witness of other logs.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use tearline_ledger::Hash;
use time::OffsetDateTime;

use super::{db, get, parse_timestamp, timestamp, Backend, SqlStore};
use crate::{Fork, LedgerHead, Result, StoreError, StoredCheckpoint};

/// Rows per multi-row insert: 2 parameters each, well under both backends' limits.
const ROWS_PER_INSERT: usize = 400;

/// Indexes per `IN (…)` list.
const INDEXES_PER_QUERY: usize = 500;

/// Locks the head until commit (on SQLite the write transaction already holds the database).
fn lock_head(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT size, root FROM ledger_head WHERE id = 1",
        Backend::Postgres => "SELECT size, root FROM ledger_head WHERE id = 1 FOR UPDATE",
    }
}

/// Appends `entries` to the log inside the caller's write transaction: the entries, the tree's
/// new stored hashes and the head, or nothing. Returns the index of the first entry.
pub(super) async fn append(backend: Backend, conn: &mut AnyConnection, entries: &[Vec<u8>]) -> Result<Option<u64>> {
    if entries.is_empty() {
        return Ok(None);
    }
    let row = sqlx::query(lock_head(backend))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db("locking the ledger head"))?
        .ok_or(StoreError::NotInitialised)?;
    let size = to_u64(get::<i64>(&row, 0)?, "ledger size")?;
    let count = u64::try_from(entries.len()).map_err(|_| corrupt("entry count"))?;
    let needs = tearline_ledger::append_needs(size, count);
    let known = read_hashes(backend, &mut *conn, &needs).await?;
    let slices: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    let appended = tearline_ledger::append(size, &slices, &known)?;
    let indexed: Vec<(i64, &[u8])> = slices
        .iter()
        .enumerate()
        .map(|(i, entry)| Ok((to_i64(size + u64::try_from(i).map_err(|_| corrupt("entry index"))?)?, *entry)))
        .collect::<Result<_>>()?;
    insert_pairs(backend, conn, "ledger_entries (idx, entry)", &indexed, "recording ledger entries").await?;
    let hashes: Vec<(i64, &[u8])> =
        appended.hashes.iter().map(|(index, hash)| Ok((to_i64(*index)?, hash.0.as_slice()))).collect::<Result<_>>()?;
    insert_pairs(backend, conn, "ledger_hashes (idx, hash)", &hashes, "recording the ledger's tree").await?;
    sqlx::query("UPDATE ledger_head SET size = $1, root = $2 WHERE id = 1")
        .bind(to_i64(appended.size)?)
        .bind(appended.root.0.to_vec())
        .execute(&mut *conn)
        .await
        .map_err(db("moving the ledger head"))?;
    Ok(Some(size))
}

async fn insert_pairs(
    backend: Backend,
    conn: &mut AnyConnection,
    table: &str,
    rows: &[(i64, &[u8])],
    context: &'static str,
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!("INSERT INTO {table} VALUES {}", backend.tuples(2, chunk.len()));
        let mut query = sqlx::query(&sql);
        for (index, bytes) in chunk {
            query = query.bind(*index).bind(bytes.to_vec());
        }
        query.execute(&mut *conn).await.map_err(db(context))?;
    }
    Ok(())
}

async fn read_hashes(backend: Backend, conn: &mut AnyConnection, indexes: &[u64]) -> Result<HashMap<u64, Hash>> {
    let mut found = HashMap::with_capacity(indexes.len());
    for chunk in indexes.chunks(INDEXES_PER_QUERY) {
        let sql =
            format!("SELECT idx, hash FROM ledger_hashes WHERE idx IN ({})", backend.parameter_list(1, chunk.len()));
        let mut query = sqlx::query(&sql);
        for index in chunk {
            query = query.bind(to_i64(*index)?);
        }
        for row in query.fetch_all(&mut *conn).await.map_err(db("reading the ledger's tree"))? {
            found.insert(to_u64(get(&row, 0)?, "stored hash index")?, decode_hash(&row, 1)?);
        }
    }
    Ok(found)
}

impl SqlStore {
    pub(super) async fn append_entries(&self, entries: &[Vec<u8>]) -> Result<u64> {
        let mut write = self.begin_write().await?;
        let first = append(self.backend, &mut write.tx, entries).await?;
        write.tx.commit().await.map_err(db("committing ledger entries"))?;
        match first {
            Some(first) => Ok(first),
            None => Ok(self.query_ledger_head().await?.size),
        }
    }

    pub(super) async fn query_ledger_head(&self) -> Result<LedgerHead> {
        let row = sqlx::query("SELECT size, root FROM ledger_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the ledger head"))?
            .ok_or(StoreError::NotInitialised)?;
        Ok(LedgerHead { size: to_u64(get(&row, 0)?, "ledger size")?, root: decode_hash(&row, 1)? })
    }

    pub(super) async fn query_ledger_hashes(&self, indexes: &[u64]) -> Result<HashMap<u64, Hash>> {
        let mut conn = self.pool.acquire().await.map_err(db("reading the ledger's tree"))?;
        read_hashes(self.backend, &mut conn, indexes).await
    }

    pub(super) async fn query_ledger_hash_range(&self, from: u64, to: u64) -> Result<Vec<(u64, Hash)>> {
        let rows = sqlx::query("SELECT idx, hash FROM ledger_hashes WHERE idx >= $1 AND idx < $2 ORDER BY idx")
            .bind(to_i64(from)?)
            .bind(to_i64(to)?)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading the ledger's tree"))?;
        rows.iter().map(|row| Ok((to_u64(get(row, 0)?, "stored hash index")?, decode_hash(row, 1)?))).collect()
    }

    pub(super) async fn query_ledger_entries(&self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let rows = sqlx::query("SELECT idx, entry FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
            .bind(to_i64(from)?)
            .bind(to_i64(to)?)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading ledger entries"))?;
        rows.iter().map(|row| Ok((to_u64(get(row, 0)?, "entry index")?, get(row, 1)?))).collect()
    }

    pub(super) async fn insert_checkpoint(&self, size: u64, note: &str, at: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO ledger_checkpoints (size, made_at, note) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING",
        )
        .bind(to_i64(size)?)
        .bind(timestamp(at)?)
        .bind(note)
        .execute(&self.pool)
        .await
        .map_err(db("keeping a checkpoint"))?;
        Ok(())
    }

    pub(super) async fn query_checkpoints(&self, latest_only: bool) -> Result<Vec<StoredCheckpoint>> {
        let sql = if latest_only {
            "SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1"
        } else {
            "SELECT size, note FROM ledger_checkpoints ORDER BY size"
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err(db("reading checkpoints"))?;
        let mut checkpoints = Vec::with_capacity(rows.len());
        for row in &rows {
            let size: i64 = get(row, 0)?;
            let cosignatures =
                sqlx::query_scalar("SELECT line FROM ledger_cosignatures WHERE size = $1 ORDER BY witness")
                    .bind(size)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db("reading cosignatures"))?;
            checkpoints.push(StoredCheckpoint {
                size: to_u64(size, "checkpoint size")?,
                note: get(row, 1)?,
                cosignatures,
            });
        }
        Ok(checkpoints)
    }

    pub(super) async fn insert_cosignature(
        &self,
        size: u64,
        witness: &str,
        line: &str,
        at: OffsetDateTime,
    ) -> Result<()> {
        let mut write = self.begin_write().await?;
        sqlx::query("DELETE FROM ledger_cosignatures WHERE size = $1 AND witness = $2")
            .bind(to_i64(size)?)
            .bind(witness)
            .execute(&mut *write.tx)
            .await
            .map_err(db("replacing a cosignature"))?;
        sqlx::query("INSERT INTO ledger_cosignatures (size, witness, line, received_at) VALUES ($1, $2, $3, $4)")
            .bind(to_i64(size)?)
            .bind(witness)
            .bind(line)
            .bind(timestamp(at)?)
            .execute(&mut *write.tx)
            .await
            .map_err(db("keeping a cosignature"))?;
        write.tx.commit().await.map_err(db("committing a cosignature"))?;
        Ok(())
    }

    pub(super) async fn query_witnessed(&self, origin: &str) -> Result<Option<(String, String)>> {
        let row = sqlx::query("SELECT verifier_key, note FROM witnessed_logs WHERE origin = $1")
            .bind(origin)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a witnessed log"))?;
        row.map(|row| Ok((get(&row, 0)?, get(&row, 1)?))).transpose()
    }

    pub(super) async fn upsert_witnessed(
        &self,
        origin: &str,
        verifier_key: &str,
        note: &str,
        at: OffsetDateTime,
    ) -> Result<()> {
        let mut write = self.begin_write().await?;
        sqlx::query("DELETE FROM witnessed_logs WHERE origin = $1")
            .bind(origin)
            .execute(&mut *write.tx)
            .await
            .map_err(db("replacing a witnessed checkpoint"))?;
        sqlx::query("INSERT INTO witnessed_logs (origin, verifier_key, note, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(origin)
            .bind(verifier_key)
            .bind(note)
            .bind(timestamp(at)?)
            .execute(&mut *write.tx)
            .await
            .map_err(db("keeping a witnessed checkpoint"))?;
        write.tx.commit().await.map_err(db("committing a witnessed checkpoint"))?;
        Ok(())
    }

    pub(super) async fn insert_fork(&self, fork: &Fork) -> Result<()> {
        sqlx::query("INSERT INTO witness_forks (origin, kept, seen, reason, found_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(fork.origin.as_str())
            .bind(fork.kept.as_str())
            .bind(fork.seen.as_str())
            .bind(fork.reason.as_str())
            .bind(timestamp(fork.found_at)?)
            .execute(&self.pool)
            .await
            .map_err(db("recording a fork"))?;
        Ok(())
    }

    pub(super) async fn query_forks(&self) -> Result<Vec<Fork>> {
        let rows = sqlx::query("SELECT origin, kept, seen, reason, found_at FROM witness_forks ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading forks"))?;
        rows.iter()
            .map(|row| {
                Ok(Fork {
                    origin: get(row, 0)?,
                    kept: get(row, 1)?,
                    seen: get(row, 2)?,
                    reason: get(row, 3)?,
                    found_at: parse_timestamp(&get::<String>(row, 4)?)?,
                })
            })
            .collect()
    }
}

fn decode_hash(row: &AnyRow, index: usize) -> Result<Hash> {
    let bytes: Vec<u8> = get(row, index)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| corrupt("a ledger hash is not 32 bytes"))?;
    Ok(Hash(bytes))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Both backends store signed 64-bit integers; indexes and sizes are never negative.
pub(super) fn to_i64(value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|e| StoreError::Unstorable { what: "a ledger index", reason: e.to_string() })
}

pub(super) fn to_u64(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}
