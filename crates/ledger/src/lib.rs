//! Tearline's transparency log of releases, pure core: no I/O, no async, no database. In the
//! style of Certificate Transparency and C2SP: RFC 6962 hashing, C2SP tlog-tiles, signed-note,
//! tlog-checkpoint and tlog-cosignature. The database and HTTP code call in; every operation
//! that reads stored tree hashes is split into a `*_needs` half (which stored hash indexes) and
//! the operation proper (given them in a map).
//!
//! # Entry encoding, version 1
//!
//! A log entry is one UTF-8 JSON object, written canonically: no whitespace anywhere, object
//! keys sorted by their UTF-8 bytes at every level, strings escaped as `serde_json` does (`"`
//! and `\` backslashed; `\b \f \n \r \t`; other characters below U+0020 as `\u00xx` with
//! lowercase hex; everything else, `/` and non-ASCII included, as plain UTF-8), integers in plain
//! decimal. [`Entry::decode`] accepts exactly these bytes: it re-encodes what it parsed and
//! refuses any difference (whitespace, key order, extra or `null` fields, other time
//! spellings), an unknown `"v"` or `"kind"`. An entry is at most [`MAX_ENTRY_BYTES`].
//!
//! Fields present in every entry:
//!
//! | key    | value |
//! |--------|-------|
//! | `v`    | `1`, the encoding version |
//! | `time` | when the hub recorded it: RFC 3339 in UTC, `YYYY-MM-DDTHH:MM:SS.mmmZ`, exactly three fractional digits (truncated to the millisecond), `Z` |
//! | `kind` | one of the kinds below |
//!
//! Beside them, the fields of the kind (all strings unless said; identifiers and digests
//! only, never content; digests are written `sha256:` + 64 lowercase hex digits):
//!
//! | `kind` | fields |
//! |--------|--------|
//! | `release` | `object`, `version`, `portions` (array of integers, the portion numbers given), `rendering` (digest of the rendering given, see [`rendering_digest`]), `party`, `user`, `channel` |
//! | `share` | `object`, `version`, `holder` (party passing it on), `to` (party receiving), `by` (user) |
//! | `onward-refused` | `object`, `version`, `holder`, `to`, `by`, `rule` (the rule that refused) |
//! | `approval` | `approval` (its identifier), `object`, `version`, `requester`, `to`, `decision` (`requested`, `approved` or `denied`), `by`, and `until` (RFC 3339) only when the approval has an end |
//! | `recall` | `object`, `version`, `by` |
//! | `coalition` | `change` (the hub's one-line description, identifiers only), `state` (digest of the coalition after it) |
//! | `policies` | `digest` (of the policy files), `files` (array of their names) |
//! | `activity` | `activity` (blinded reference), `revision` (integer), `change` (`registered`, `amended` or `withdrawn`), `digest` (of the party and the activity as written) |
//! | `conflict` | `conflict` (blinded reference), `activities` (array of the two activity revisions' blinded references), `digest` (of both notices) |
//!
//! For example (one line; broken here for reading):
//!
//! ```text
//! {"channel":"web","kind":"release","object":"obj-1","party":"acme","portions":[1,3],
//!  "rendering":"sha256:0707…07","time":"2025-03-04T05:06:07.891Z","user":"alice","v":1,"version":"v2"}
//! ```
//!
//! A rendering digest is SHA-256 of the rendering's JSON written by the same canonical rules
//! (numbers as `serde_json` prints them).
//!
//! # The tree and tiles
//!
//! Leaf hash SHA-256(0x00 || entry bytes), node hash SHA-256(0x01 || left || right) (RFC 6962
//! section 2.1 / RFC 9162 section 2.1.1); stored hashes in Go sumdb's layout
//! (`tlog_tiles::stored_hash_index`). Tiles and entry bundles follow C2SP tlog-tiles with height
//! 8: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`; a bundle is each entry as a
//! big-endian u16 length then its bytes.
//!
//! # Checkpoints
//!
//! C2SP tlog-checkpoint, `<origin>\n<size>\n<base64 root>\n`, signed as a C2SP signed note by the
//! hub's Ed25519 key (signature type 0x01, key ID SHA-256(name || "\n" || 0x01 || public
//! key)[:4]). Verifier key: `<name>+<8 hex key ID>+<base64(0x01 || public key)>`.
//!
//! # Receipts
//!
//! A receipt tells a recipient which entries record what it was given in one answer. It is a
//! signed note (same key and signature as checkpoints) whose text is exactly five lines:
//!
//! ```text
//! <origin>
//! tearline-receipt/v1
//! recipient <party> <user>
//! entries <first> <count>
//! digest <base64 of 32 bytes>
//! ```
//!
//! `first` and `count` in plain decimal name entries `first .. first+count` of the log
//! `origin`; `party` and `user` contain no spaces; the digest is SHA-256 of the 32-byte rendering
//! digests of those entries concatenated in index order ([`Receipt::digest_of`]). Over HTTP the
//! whole note travels base64-encoded (standard alphabet, padded) in a header
//! ([`receipt_header`]).
//!
//! # Cosignatures
//!
//! C2SP tlog-cosignature, Ed25519 `cosignature/v1`, for when the hub witnesses another log. The
//! witness signs `cosignature/v1\ntime <unix seconds>\n` followed by the checkpoint text (the
//! note text, without signature lines) and adds the signature line
//! `— <name> base64(key ID || u64 big-endian timestamp || 64-byte signature)`, with key ID
//! SHA-256(name || "\n" || 0x04 || public key)[:4]. The cosigner's verifier key is
//! `<name>+<8 hex key ID>+<base64(0x04 || public key)>` ([`LogKey::cosigner_key`]).

mod audit;
mod entry;
mod error;
mod notes;
mod tiles;
mod tree;
mod witness;

pub use tlog_tiles::Hash;

pub use audit::{Finding, LogAudit};
pub use entry::{
    canonical_json, digest_text, parse_digest_text, rendering_digest, Entry, Event, ENTRY_VERSION, MAX_ENTRY_BYTES,
};
pub use error::{LedgerError, Result};
pub use notes::{
    cosigner_name, parse_receipt_header, receipt_header, signature_lines, signature_lines_by, verify_checkpoint,
    verify_cosignature, verify_receipt, with_signature_lines, LogKey, Receipt, SignedCheckpoint,
};
pub use tiles::{
    entries_tile, hash_tile, hash_tile_needs, leaf_from_tiles, new_tiles, parse_entries_tile, tiles_for_size,
    tree_root_from_tiles, TileRef, TileSource, TILE_HEIGHT,
};
pub use tree::{
    append, append_needs, check_consistency, check_inclusion, consistency_needs, consistency_proof, inclusion_needs,
    inclusion_proof, leaf_hash, root, root_needs, Appended, MAX_TREE_SIZE,
};
pub use witness::{witness, WitnessVerdict};

/// The empty tree's root, SHA-256 of "".
pub const EMPTY_ROOT: Hash = tlog_tiles::EMPTY_HASH;

/// Stored hash indexes (Go sumdb layout), for callers that read stored hashes by range.
pub use tlog_tiles::{stored_hash_count, stored_hash_index};
