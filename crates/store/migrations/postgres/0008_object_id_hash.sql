-- Objects are found by a 64-bit hash of their id, as on SQLite (its twin says why), so that both
-- stores run the same queries. `id_hash` is computed by the store: `SqlStore::migrate` fills it
-- for rows stored before this migration. The unique (id, version) constraint stays here: it costs
-- PostgreSQL little and guards against a writer that skipped the hub's lock.
ALTER TABLE objects ADD COLUMN id_hash BIGINT;
CREATE INDEX objects_by_id_hash ON objects (id_hash);
