-- Objects become versions of STIX 2.1 objects of any type, kept exactly as sent, with their
-- TAXII collection and the facts their release index is computed from; TAXII collections,
-- statuses and the marking definitions each object uses join them.

-- SQLite cannot drop a UNIQUE constraint: the table is rebuilt, keeping every `seq`.
CREATE TABLE objects_v2 (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL,
    -- `modified` (or `created` where a type has no `modified`), else when it was added.
    version      TEXT NOT NULL,
    stix_type    TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    originator   TEXT NOT NULL REFERENCES parties (code),
    -- The TAXII collection it was posted to; NULL for reports submitted in Tearline's own form.
    collection   TEXT,
    -- Strictly increasing with `seq`: the TAXII date added.
    date_added   TEXT NOT NULL,
    -- JSON of tearline_model::ReleaseFacts.
    facts        TEXT NOT NULL,
    -- The portion-marked report, its title and creation time, for reports submitted in Tearline's
    -- own form (NULL otherwise).
    report       TEXT,
    title        TEXT,
    created      TEXT,
    stix         TEXT NOT NULL,
    UNIQUE (id, version)
);

INSERT INTO objects_v2 (seq, id, version, stix_type, spec_version, originator, collection, date_added, facts, report, title, created, stix)
SELECT o.seq, o.id, o.created, o.stix_type, '2.1', o.originator, NULL, o.created,
       json_object(
           'originator', o.originator,
           'topics', json(json_extract(o.report, '$.topics')),
           'portions', (SELECT json_group_array(json(m.marking) ORDER BY m.k)
                        FROM (SELECT -1 AS k, json_extract(o.report, '$.title.marking') AS marking
                              UNION ALL
                              SELECT CAST(p.key AS INTEGER), json_extract(p.value, '$.marking')
                              FROM json_each(o.report, '$.paragraphs') p) m),
           'required', json_array(0),
           'at_least_one_of', json_array(
               (SELECT json_group_array(CAST(p.key AS INTEGER) + 1 ORDER BY CAST(p.key AS INTEGER))
                FROM json_each(o.report, '$.paragraphs') p))),
       o.report, o.title, o.created, o.stix
FROM objects o;

DROP TABLE objects;
ALTER TABLE objects_v2 RENAME TO objects;

-- Which marking-definition objects an object uses: a marking definition is released to its
-- originator and to every party that receives a portion using it.
CREATE TABLE object_markings (
    object_seq  INTEGER NOT NULL,
    marking_seq INTEGER NOT NULL,
    -- The portions of the object that use the marking, and the lowest classification among them.
    portions    BLOB NOT NULL,
    min_classification INTEGER NOT NULL,
    PRIMARY KEY (object_seq, marking_seq)
) WITHOUT ROWID;
CREATE INDEX object_markings_by_marking ON object_markings (marking_seq);

-- TAXII collections declared by `apply`. `readers`/`writers`: JSON lists of party codes (NULL
-- readers: every party).
CREATE TABLE collections (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT,
    owner       TEXT NOT NULL REFERENCES parties (code),
    readers     TEXT,
    writers     TEXT NOT NULL,
    declared    INTEGER NOT NULL CHECK (declared IN (0, 1))
);

-- The outcome of each TAXII add, for the status endpoint; visible to the adding party only.
CREATE TABLE taxii_statuses (
    id      TEXT PRIMARY KEY,
    party   TEXT NOT NULL,
    created TEXT NOT NULL,
    status  TEXT NOT NULL
);
