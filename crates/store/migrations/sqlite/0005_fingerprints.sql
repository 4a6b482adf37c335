-- Tracing a leak asks who received an object version: deliveries by object, not only by party.
CREATE INDEX deliveries_by_object ON deliveries (object_seq);

-- What each party's copy of each text was: its variant at each variation point (one digit per
-- point, tearline-fingerprint's `Marked::choices`), recorded at its first delivery.
CREATE TABLE fingerprints (
    object_seq INTEGER NOT NULL,
    party      TEXT NOT NULL,
    field      TEXT NOT NULL,
    choices    TEXT NOT NULL,
    PRIMARY KEY (object_seq, party, field)
);
