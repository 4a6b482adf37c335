-- Onward control: where derived content comes from, the sketches copied text is looked up by,
-- originators' approvals, and the record of every delivery and of every onward event.

-- Object versions derived from others (declared, or detected by text reuse): a recall of the
-- source reaches them.
CREATE TABLE object_sources (
    object_seq INTEGER NOT NULL,
    source_seq INTEGER NOT NULL,
    PRIMARY KEY (object_seq, source_seq)
) WITHOUT ROWID;
CREATE INDEX object_sources_by_source ON object_sources (source_seq);

-- The sketch hashes (tearline-reuse) of each text portion of each object version, with its
-- originator: a party's own text is never a source of its copying, and the key skips it.
CREATE TABLE text_sketches (
    hash       INTEGER NOT NULL,
    originator TEXT NOT NULL,
    object_seq INTEGER NOT NULL,
    portion    INTEGER NOT NULL,
    PRIMARY KEY (hash, originator, object_seq, portion)
) WITHOUT ROWID;

-- Requests for onward release of an ORCON (or otherwise held back) object version to one party.
CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    object_seq   INTEGER NOT NULL,
    originator   TEXT NOT NULL,
    requester    TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    reason       TEXT,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    decided_by   TEXT,
    decided_at   TEXT,
    expires_at   TEXT
);
CREATE INDEX approvals_by_originator ON approvals (originator, status);

-- Every delivery of an object version to a user: what an originator's audit answers from.
CREATE TABLE deliveries (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TEXT NOT NULL,
    party      TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    object_seq INTEGER NOT NULL,
    portions   BLOB NOT NULL,
    channel    TEXT NOT NULL
);
CREATE INDEX deliveries_by_party ON deliveries (party, at);

-- Shares, derived and copied submissions, approval requests and decisions, recalls: one row per
-- originator concerned, so that each originator's audit is a range scan. `detail` is JSON.
CREATE TABLE onward_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    originator     TEXT NOT NULL,
    party          TEXT NOT NULL,
    user_name      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    object_version TEXT NOT NULL,
    detail         TEXT NOT NULL
);
CREATE INDEX onward_events_by_originator ON onward_events (originator, party, at);
