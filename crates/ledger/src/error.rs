//! The crate's one error type.

/// Everything that can go wrong in the ledger's pure core, with enough context to say which
/// entry, size, tile, key or note it was about.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("entry is {size} bytes, more than the {max} allowed")]
    EntryTooLarge { size: usize, max: usize },
    #[error("entry {index} is {size} bytes, more than the {max} allowed")]
    AppendedEntryTooLarge { index: u64, size: usize, max: usize },
    #[error("entry is not well-formed: {reason}")]
    EntryMalformed { reason: String },
    #[error("entry has unknown version {version}")]
    UnknownVersion { version: String },
    #[error("entry has unknown kind {kind:?}")]
    UnknownKind { kind: String },
    #[error("entry bytes are not the canonical encoding of the entry they parse to")]
    NonCanonicalEntry,
    #[error("entry time {time} cannot be written as RFC 3339 UTC: {reason}")]
    BadTime { time: String, reason: String },
    #[error("digest {text:?} is not \"sha256:\" and 64 lowercase hex digits")]
    BadDigest { text: String },

    #[error("tree size {size} is above the supported maximum {max}")]
    TreeTooLarge { size: u64, max: u64 },
    #[error("entry index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("no consistency proof from size {from} to size {to}: needs 0 < from <= to")]
    BadSizes { from: u64, to: u64 },
    #[error("stored hash {stored_index} is needed but was not given")]
    MissingHash { stored_index: u64 },
    #[error("proof does not verify: {what}")]
    InvalidProof { what: String },
    #[error("tree operation {operation} failed: {reason}")]
    Tree { operation: String, reason: String },

    #[error("bad tile path {path:?}: {reason}")]
    BadTilePath { path: String, reason: String },
    #[error("tile {tile} is not valid here: {reason}")]
    BadTile { tile: String, reason: String },
    #[error("tiles do not match the checkpoint of size {size}: {reason}")]
    TileMismatch { size: u64, reason: String },
    #[error("could not read tile {tile}: {source}")]
    TileFetch {
        tile: String,
        #[source]
        source: Box<LedgerError>,
    },
    #[error("entry bundle is not well-formed: {reason}")]
    BadEntryBundle { reason: String },

    #[error("{name:?} is not a valid note key name (non-empty, no spaces, no '+')")]
    BadKeyName { name: String },
    #[error("bad verifier key {key:?}: {reason}")]
    BadVerifierKey { key: String, reason: String },
    #[error("note is not well-formed: {reason}")]
    BadNote { reason: String },
    #[error("signature of {name} does not verify: {reason}")]
    BadSignature { name: String, reason: String },
    #[error("note has no signature of {name}")]
    MissingSignature { name: String },
    #[error("checkpoint is not well-formed: {reason}")]
    BadCheckpoint { reason: String },
    #[error("receipt is not well-formed: {reason}")]
    BadReceipt { reason: String },
    #[error("checkpoints are of different logs: kept {kept:?}, seen {seen:?}")]
    OriginMismatch { kept: String, seen: String },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, LedgerError>;
