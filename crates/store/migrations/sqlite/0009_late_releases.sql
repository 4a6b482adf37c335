-- Release-index rows that appeared after their object was stored: a party that may first receive
-- an object version later (a new agreement, a lifted embargo, a share, a marking definition
-- another object now uses) finds it at the end of its listings, dated when it could first
-- receive it, so a TAXII client polling with `added_after` sees it come. A row stored with its
-- object has no line here: its listing position is the object's `seq` and its date the object's
-- `date_added`.
--
-- Listings are ordered by (`after_seq`, `id`): `after_seq` is the highest object position when the
-- row appeared, `id` orders rows that appeared after the same object; a row stored with its
-- object is at (`seq`, 0).
CREATE TABLE late_releases (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    party      TEXT NOT NULL,
    object_seq INTEGER NOT NULL,
    after_seq  INTEGER NOT NULL,
    listed_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX late_releases_by_object ON late_releases (object_seq, party);
CREATE INDEX late_releases_in_order ON late_releases (party, after_seq, id);
