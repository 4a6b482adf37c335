-- Object versions a recipient passed on into a TAXII collection (by posting them there): the
-- collection lists them, to those of its readers the share released them to, besides the objects
-- posted to it by their originators.
CREATE TABLE collection_shares (
    collection TEXT NOT NULL,
    object_seq INTEGER NOT NULL,
    PRIMARY KEY (collection, object_seq)
) WITHOUT ROWID;
CREATE INDEX collection_shares_by_object ON collection_shares (object_seq);
