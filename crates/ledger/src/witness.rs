//! The witness's pure decision: cosign a new checkpoint or report a fork.

use crate::error::{LedgerError, Result};
use crate::notes::{verify_checkpoint, SignedCheckpoint};
use crate::tree::check_consistency;
use tlog_tiles::Hash;

/// What a witness does with a checkpoint it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessVerdict {
    /// First sight, or consistent growth (or same size, same root): cosign and keep the new
    /// checkpoint.
    Cosign(SignedCheckpoint),
    /// Not consistent with the last one kept: the evidence is both signed notes.
    Fork { kept: String, seen: String, reason: String },
}

/// `kept`: the last checkpoint note the witness kept of this origin (None: first sight); `seen`
/// the new note; `proof` a consistency proof from kept.size to seen.size (ignored when sizes are
/// equal: then roots must be equal). A smaller size than kept is a Fork. Signature failures are
/// errors (not forks), and so are notes of two different origins.
pub fn witness(kept: Option<&str>, seen: &str, proof: &[Hash], verifier_key: &str) -> Result<WitnessVerdict> {
    let seen_checkpoint = verify_checkpoint(seen, verifier_key)?;
    let Some(kept) = kept else {
        return Ok(WitnessVerdict::Cosign(seen_checkpoint));
    };
    let kept_checkpoint = verify_checkpoint(kept, verifier_key)?;
    if kept_checkpoint.origin != seen_checkpoint.origin {
        return Err(LedgerError::OriginMismatch { kept: kept_checkpoint.origin, seen: seen_checkpoint.origin });
    }
    let fork = |reason: String| WitnessVerdict::Fork { kept: kept.to_string(), seen: seen.to_string(), reason };
    let (from, to) = (kept_checkpoint.size, seen_checkpoint.size);
    if to < from {
        return Ok(fork(format!("size went down from {from} to {to}")));
    }
    if to == from {
        if kept_checkpoint.root != seen_checkpoint.root {
            return Ok(fork(format!(
                "two different roots at size {to}: {} and {}",
                kept_checkpoint.root, seen_checkpoint.root
            )));
        }
        return Ok(WitnessVerdict::Cosign(seen_checkpoint));
    }
    if from == 0 {
        // Every tree extends the empty one.
        return Ok(WitnessVerdict::Cosign(seen_checkpoint));
    }
    match check_consistency(proof, to, seen_checkpoint.root, from, kept_checkpoint.root) {
        Ok(()) => Ok(WitnessVerdict::Cosign(seen_checkpoint)),
        Err(error) => Ok(fork(format!("size {to} is not shown consistent with size {from}: {error}"))),
    }
}
