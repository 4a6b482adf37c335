-- The dissemination ledger: an append-only Merkle tree (RFC 6962 hashing) of canonical entries
-- (tearline-ledger), written in the transaction of the change each entry records.

-- The log's size and root, one row: appends lock it (on SQLite the write transaction does), so
-- every process appends to one sequence.
CREATE TABLE ledger_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    root BYTEA NOT NULL
);
INSERT INTO ledger_head (id, size, root)
VALUES (1, 0, '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

-- Entry `idx` of the log, as its canonical bytes.
CREATE TABLE ledger_entries (
    idx   BIGINT PRIMARY KEY,
    entry BYTEA NOT NULL
);

-- The tree's stored hashes (Go sumdb / tlog layout: leaves and every complete subtree), by
-- stored hash index: proofs and tiles read O(log n) of them.
CREATE TABLE ledger_hashes (
    idx  BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);

-- Signed checkpoints (C2SP tlog-checkpoint as signed notes), one per size.
CREATE TABLE ledger_checkpoints (
    size    BIGINT PRIMARY KEY,
    made_at TEXT NOT NULL,
    note    TEXT NOT NULL
);

-- Witnesses' cosignature lines (C2SP tlog-cosignature) on the checkpoint of a size.
CREATE TABLE ledger_cosignatures (
    size        BIGINT NOT NULL,
    witness     TEXT NOT NULL,
    line        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (size, witness)
);

-- As a witness: the last checkpoint kept of each log watched, and every fork seen.
CREATE TABLE witnessed_logs (
    origin       TEXT PRIMARY KEY,
    verifier_key TEXT NOT NULL,
    note         TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE TABLE witness_forks (
    seq      BIGSERIAL PRIMARY KEY,
    origin   TEXT NOT NULL,
    kept     TEXT NOT NULL,
    seen     TEXT NOT NULL,
    reason   TEXT NOT NULL,
    found_at TEXT NOT NULL
);

-- Each delivery's ledger entry and the digest of the rendering given.
ALTER TABLE deliveries ADD COLUMN ledger_index BIGINT;
ALTER TABLE deliveries ADD COLUMN rendering BYTEA;
