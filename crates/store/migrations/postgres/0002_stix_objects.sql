-- Objects become versions of STIX 2.1 objects of any type, kept exactly as sent, with their
-- TAXII collection and the facts their release index is computed from; TAXII collections,
-- statuses and the marking definitions each object uses join them. (The SQLite twin documents
-- each column.)

ALTER TABLE objects DROP CONSTRAINT objects_id_key;
ALTER TABLE objects
    ADD COLUMN version      TEXT,
    ADD COLUMN spec_version TEXT,
    ADD COLUMN collection   TEXT,
    ADD COLUMN date_added   TEXT,
    ADD COLUMN facts        TEXT;

UPDATE objects o SET
    version = o.created,
    spec_version = '2.1',
    date_added = o.created,
    facts = jsonb_build_object(
        'originator', o.originator,
        'topics', o.report::jsonb -> 'topics',
        'portions', (SELECT jsonb_agg(m.marking ORDER BY m.k)
                     FROM (SELECT 0::bigint AS k, o.report::jsonb -> 'title' -> 'marking' AS marking
                           UNION ALL
                           SELECT p.k, p.value -> 'marking'
                           FROM jsonb_array_elements(o.report::jsonb -> 'paragraphs') WITH ORDINALITY AS p(value, k)) m),
        'required', jsonb_build_array(0),
        'at_least_one_of', jsonb_build_array(
            (SELECT COALESCE(jsonb_agg(p.k ORDER BY p.k), '[]'::jsonb)
             FROM jsonb_array_elements(o.report::jsonb -> 'paragraphs') WITH ORDINALITY AS p(value, k)))
    )::text;

ALTER TABLE objects
    ALTER COLUMN version SET NOT NULL,
    ALTER COLUMN spec_version SET NOT NULL,
    ALTER COLUMN date_added SET NOT NULL,
    ALTER COLUMN facts SET NOT NULL,
    ALTER COLUMN report DROP NOT NULL,
    ALTER COLUMN title DROP NOT NULL,
    ALTER COLUMN created DROP NOT NULL,
    ADD CONSTRAINT objects_id_version_key UNIQUE (id, version);

CREATE TABLE object_markings (
    object_seq  BIGINT NOT NULL,
    marking_seq BIGINT NOT NULL,
    -- The portions of the object that use the marking, and the lowest classification among them.
    portions    BYTEA NOT NULL,
    min_classification BIGINT NOT NULL,
    PRIMARY KEY (object_seq, marking_seq)
);
CREATE INDEX object_markings_by_marking ON object_markings (marking_seq);

CREATE TABLE collections (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT,
    owner       TEXT NOT NULL REFERENCES parties (code),
    readers     TEXT,
    writers     TEXT NOT NULL,
    declared    BIGINT NOT NULL CHECK (declared IN (0, 1))
);

CREATE TABLE taxii_statuses (
    id      TEXT PRIMARY KEY,
    party   TEXT NOT NULL,
    created TEXT NOT NULL,
    status  TEXT NOT NULL
);
