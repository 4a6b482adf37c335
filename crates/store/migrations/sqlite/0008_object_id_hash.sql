-- Objects are found by a 64-bit hash of their id instead of a unique text index on (id, version):
-- random STIX ids spread a text index's inserts over many pages, and that index was half the cost
-- of storing a row. Writers are serialised (SQLite has one), and each add checks the versions
-- stored under its ids before it inserts, so the index need not enforce uniqueness itself.
--
-- `id_hash` is computed by the store (`SqlStore::migrate` fills it for rows stored before this
-- migration, which leaves it NULL). SQLite cannot drop a UNIQUE constraint: the table is rebuilt,
-- keeping every `seq` and the highest `seq` ever used, so a deleted object's position is never
-- given to another (deliveries and fingerprints name positions).
CREATE TABLE objects_v3 (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL,
    id_hash      INTEGER,
    version      TEXT NOT NULL,
    stix_type    TEXT NOT NULL,
    spec_version TEXT NOT NULL,
    originator   TEXT NOT NULL REFERENCES parties (code),
    collection   TEXT,
    date_added   TEXT NOT NULL,
    facts        TEXT NOT NULL,
    report       TEXT,
    title        TEXT,
    created      TEXT,
    stix         TEXT NOT NULL
);

INSERT INTO objects_v3 (seq, id, id_hash, version, stix_type, spec_version, originator, collection, date_added,
                        facts, report, title, created, stix)
SELECT seq, id, NULL, version, stix_type, spec_version, originator, collection, date_added,
       facts, report, title, created, stix
FROM objects;

UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'objects')
WHERE name = 'objects_v3' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'objects');

DROP TABLE objects;
ALTER TABLE objects_v3 RENAME TO objects;
CREATE INDEX objects_by_id_hash ON objects (id_hash);
