-- Release-index rows that appeared after their object was stored (the SQLite twin says why and
-- how listings order them).
CREATE TABLE late_releases (
    id         BIGSERIAL PRIMARY KEY,
    party      TEXT NOT NULL,
    object_seq BIGINT NOT NULL,
    after_seq  BIGINT NOT NULL,
    listed_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX late_releases_by_object ON late_releases (object_seq, party);
CREATE INDEX late_releases_in_order ON late_releases (party, after_seq, id);
