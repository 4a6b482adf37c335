-- Deconfliction: parties register planned activities; the hub finds conflicts between activities
-- of different parties and sends each party a notice. The store knows no geometry: an activity is
-- an opaque JSON body (tearline-deconflict's) plus the columns queries need.

-- One row per activity, amended in place. `revision` is 1 at registration and grows by one per
-- amendment; `withdrawn` is set once withdrawn (the row stays). `change_seq` moves with every
-- change of the row, and is unique: the hub's in-memory index syncs from it, and a change decided
-- on an index that is behind the highest one is refused.
CREATE TABLE activities (
    id         TEXT PRIMARY KEY,
    party      TEXT NOT NULL,
    author     TEXT NOT NULL,
    revision   BIGINT NOT NULL,
    body       TEXT NOT NULL,
    window_end TEXT NOT NULL,
    registered TEXT NOT NULL,
    updated    TEXT NOT NULL,
    withdrawn  TEXT,
    change_seq BIGINT NOT NULL
);
CREATE INDEX activities_by_party ON activities (party);
CREATE UNIQUE INDEX activities_by_change_seq ON activities (change_seq);

-- Every registration and amendment, with where and how large it was: rate limits and the
-- detection of sweeps (many probing submissions) read them.
CREATE TABLE activity_submissions (
    seq         BIGSERIAL PRIMARY KEY,
    party       TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    at          TEXT NOT NULL,
    centre_lat  DOUBLE PRECISION NOT NULL,
    centre_lon  DOUBLE PRECISION NOT NULL,
    extent_m    DOUBLE PRECISION NOT NULL
);
CREATE INDEX activity_submissions_by_party ON activity_submissions (party, at);

-- A conflict found between two activity revisions of different parties, under a deconfliction
-- line (`line`); `overlap` is JSON. Each party reads the conflicts of either side it is on, by `seq`.
CREATE TABLE conflicts (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    line       TEXT NOT NULL,
    created    TEXT NOT NULL,
    activity_a TEXT NOT NULL,
    revision_a BIGINT NOT NULL,
    party_a    TEXT NOT NULL,
    activity_b TEXT NOT NULL,
    revision_b BIGINT NOT NULL,
    party_b    TEXT NOT NULL,
    overlap    TEXT NOT NULL
);
CREATE INDEX conflicts_by_party_a ON conflicts (party_a, seq);
CREATE INDEX conflicts_by_party_b ON conflicts (party_b, seq);

-- Submissions the hub flagged for the operator (a sweep, ...): `activities` is a JSON array of ids.
CREATE TABLE deconfliction_flags (
    seq        BIGSERIAL PRIMARY KEY,
    party      TEXT NOT NULL,
    at         TEXT NOT NULL,
    reason     TEXT NOT NULL,
    activities TEXT NOT NULL
);
