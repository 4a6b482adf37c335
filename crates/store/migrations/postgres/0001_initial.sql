-- Tearline's schema on PostgreSQL. The SQLite twin (../sqlite) has the same tables and columns;
-- only the types differ. Conventions shared by both:
--   * timestamps are RFC 3339 text in UTC with nine fraction digits, so text order is time order;
--   * flags are integers 0/1 (the `Any` driver decodes integers the same way on both backends);
--   * classifications are ranks, 0 (U) to 3 (TS);
--   * JSON is stored as text.

-- The single row every decision depends on: its version moves with every state change.
CREATE TABLE hub_state (
    id                BIGINT PRIMARY KEY CHECK (id = 1),
    version           BIGINT NOT NULL,
    policies          TEXT NOT NULL,
    index_valid_until TEXT
);
INSERT INTO hub_state (id, version, policies, index_valid_until)
VALUES (1, 0, '{"digest":"","files":{}}', NULL);

-- The hub's own settings (signing key, ...).
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Parties are never deleted (objects and users refer to them): no longer declared means inactive.
CREATE TABLE parties (
    code   TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    active BIGINT NOT NULL CHECK (active IN (0, 1))
);

CREATE TABLE coalition_groups (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE group_members (
    group_code TEXT NOT NULL REFERENCES coalition_groups (code) ON DELETE CASCADE,
    party      TEXT NOT NULL REFERENCES parties (code),
    PRIMARY KEY (group_code, party)
);

CREATE TABLE users (
    name      TEXT PRIMARY KEY,
    party     TEXT NOT NULL REFERENCES parties (code),
    clearance BIGINT NOT NULL CHECK (clearance BETWEEN 0 AND 3),
    active    BIGINT NOT NULL CHECK (active IN (0, 1))
);

-- Only the SHA-256 of a token is kept.
CREATE TABLE tokens (
    hash      BYTEA PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name),
    created   TEXT NOT NULL
);
CREATE INDEX tokens_by_user ON tokens (user_name);

-- `declared` says whether the last `apply` declared the agreement; one that is not declared any
-- more keeps the `revoked_at` it got when it stopped being declared.
CREATE TABLE agreements (
    from_party         TEXT NOT NULL REFERENCES parties (code),
    id                 TEXT NOT NULL,
    recipients         TEXT NOT NULL,
    max_classification BIGINT NOT NULL CHECK (max_classification BETWEEN 0 AND 3),
    topics             TEXT,
    onward             BIGINT NOT NULL CHECK (onward IN (0, 1)),
    valid_from         TEXT,
    valid_until        TEXT,
    revoked_at         TEXT,
    declared           BIGINT NOT NULL CHECK (declared IN (0, 1)),
    PRIMARY KEY (from_party, id)
);

CREATE TABLE embargoes (
    from_party TEXT NOT NULL REFERENCES parties (code),
    against    TEXT NOT NULL,
    PRIMARY KEY (from_party, against)
);

-- `seq` is the storage order, and the listing cursor inside the store.
CREATE TABLE objects (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    stix_type  TEXT NOT NULL,
    originator TEXT NOT NULL REFERENCES parties (code),
    title      TEXT NOT NULL,
    created    TEXT NOT NULL,
    report     TEXT NOT NULL,
    stix       TEXT NOT NULL
);

-- One row per (party, object) the party may receive. Keyed by party first, so that a listing is
-- a range scan over that party's rows and never touches objects the party cannot see. No foreign
-- keys: checking them would slow a rebuild of millions of rows; the store checks that every
-- entry names a stored party (so the entries of one object are one lookup per party).
CREATE TABLE release_index (
    party         TEXT NOT NULL,
    object_seq    BIGINT NOT NULL,
    portions      BYTEA NOT NULL,
    min_clearance BIGINT NOT NULL,
    -- Carrying the clearance in the index lets a listing filter without visiting the table.
    PRIMARY KEY (party, object_seq) INCLUDE (min_clearance)
);
