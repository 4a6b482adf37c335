//! The dissemination ledger (tearline-ledger) as the hub keeps it: entries for every release and
//! every change releases depend on, written in the change's transaction; receipts for release
//! answers; signed checkpoints; proofs and C2SP tiles; cosignatures from witnesses; verification
//! of the whole stored log; and the witness's side of watching another hub's log.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tearline_ledger::{
    digest_text, Entry, Event, Finding, Hash, LogAudit, LogKey, SignedCheckpoint, TileRef, WitnessVerdict,
};
use tearline_model::{PortionSet, User};
use tearline_store::{Delivery, Fork, StoreError};
use time::OffsetDateTime;

use crate::{Hub, HubError, Result};

/// Settings key of the log's origin line (set by `init`).
pub const ORIGIN_KEY: &str = "ledger_origin";

/// Entries read per step by `verify_ledger`: bounds memory whatever the log's size.
const VERIFY_CHUNK: u64 = 10_000;

/// The hub's side of the log: its key (named by the origin), the key that blinds object ids
/// in entries, and the witnesses it accepts.
pub(crate) struct Ledger {
    key: LogKey,
    /// HMAC-SHA-256 keyed with the blinding key, ready to clone: keying it costs two of the four
    /// SHA-256 blocks of a reference, and every object served names one.
    blinding: Hmac<Sha256>,
    /// tlog-cosignature verifier keys of the witnesses whose cosignatures are kept.
    witnesses: Vec<String>,
}

impl Ledger {
    pub(crate) fn new(seed: [u8; 32], origin: &str) -> Result<Ledger> {
        let key = LogKey::new(seed, origin).map_err(|e| HubError::Invalid(format!("ledger origin `{origin}`: {e}")))?;
        let blinding_key =
            Sha256::new().chain_update(b"tearline ledger object reference\n").chain_update(seed).finalize();
        // HMAC pads a key shorter than the block with zeros: the same MAC, with no error case.
        let mut key_block = [0u8; 64];
        key_block[..32].copy_from_slice(&blinding_key);
        let blinding = <Hmac<Sha256> as KeyInit>::new(&key_block.into());
        Ok(Ledger { key, blinding, witnesses: Vec::new() })
    }

    /// How entries name an object version: HMAC-SHA-256 under a hub secret of its id and
    /// version, so that the public log tells no one that an object withheld from them exists
    /// (ids of STIX cyber-observables are guessable digests of their content), while the hub
    /// can say which entry records which delivery.
    pub(crate) fn object_ref(&self, id: &str, version: OffsetDateTime) -> String {
        self.blinded(id, &version_text(version))
    }

    /// How entries name an activity or a conflict (`what`: "activity", "conflict"): blinded the
    /// same way, so the log shows neither who plans what nor who collided with whom.
    pub(crate) fn deconfliction_ref(&self, id: &str, what: &str) -> String {
        self.blinded(id, what)
    }

    fn blinded(&self, id: &str, detail: &str) -> String {
        let mut mac = self.blinding.clone();
        mac.update(id.as_bytes());
        mac.update(b"\n");
        mac.update(detail.as_bytes());
        format!("ref:{}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// A signed receipt for one release answer: entries `first .. first + count` record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub first: u64,
    pub count: u64,
    /// The signed note (tearline-ledger's receipt format).
    pub note: String,
}

impl Receipt {
    /// The note as one header value (base64).
    pub fn header(&self) -> String {
        tearline_ledger::receipt_header(&self.note)
    }
}

/// One rendering given to a user, as the ledger records it.
pub(crate) struct Given<'a> {
    pub object_id: &'a str,
    pub version: OffsetDateTime,
    pub portions: PortionSet,
    pub rendering: &'a serde_json::Value,
    /// The fingerprints of its texts (field, choices).
    pub marks: Vec<(String, String)>,
}

/// An inclusion or consistency proof, with the tree it is for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Proof {
    pub size: u64,
    /// Base64 of the root of the tree of `size` entries.
    pub root: String,
    /// Base64 hashes, in the order RFC 9162 gives them.
    pub proof: Vec<String>,
    /// Inclusion proofs: the entry's index and its leaf hash (base64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf: Option<String>,
    /// Consistency proofs: the smaller tree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_root: Option<String>,
}

/// What `verify_ledger` found.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerVerification {
    pub size: u64,
    pub root: Hash,
    pub checkpoints: usize,
    /// The first problem, if any.
    pub finding: Option<Finding>,
}

/// What a witness did with a checkpoint it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Witnessed {
    /// Consistent with what it kept (or first sight): the cosignature line to give back.
    Cosigned { checkpoint: SignedCheckpoint, line: String },
    /// Not consistent: recorded, with both signed checkpoints.
    Fork(Fork),
}

/// The canonical bytes of an entry of `event` at `now`.
pub(crate) fn entry(now: OffsetDateTime, event: Event) -> Result<Vec<u8>> {
    Entry { time: now, event }.encode().map_err(|e| HubError::Invalid(format!("a ledger entry: {e}")))
}

/// A version as the ledger names it (RFC 3339, as TAXII does).
pub(crate) fn version_text(version: OffsetDateTime) -> String {
    crate::taxii::taxii_timestamp(version)
}

fn ledger_error(error: tearline_ledger::LedgerError) -> HubError {
    HubError::Store(StoreError::Ledger(error))
}

/// A proof for a tree larger than the log reads a stored hash that does not exist (the last
/// subtree of that tree is not complete): the caller asked for too much.
fn beyond_the_log(error: tearline_ledger::LedgerError, size: u64) -> HubError {
    match error {
        tearline_ledger::LedgerError::MissingHash { .. } => {
            HubError::Invalid(format!("the log holds fewer than {size} entries"))
        }
        other => ledger_error(other),
    }
}

impl Hub {
    /// The log's origin line and the signed-note verifier key of the hub's signature on it.
    pub fn ledger_identity(&self) -> (String, String) {
        (self.ledger.key.name().to_string(), self.ledger.key.verifier_key())
    }

    /// The tlog-cosignature verifier key of this hub acting as a witness.
    pub fn witness_key(&self) -> String {
        self.ledger.key.cosigner_key()
    }

    /// Accepts cosignatures from these witnesses (tlog-cosignature verifier keys); a key that is
    /// not one is refused here, at start.
    pub fn with_witnesses(mut self, keys: Vec<String>) -> Result<Hub> {
        for key in &keys {
            tearline_ledger::cosigner_name(key).map_err(|e| HubError::Invalid(format!("witness key: {e}")))?;
        }
        self.ledger.witnesses = keys;
        Ok(self)
    }

    /// Records renderings given to `viewer` (deliveries and their ledger entries, one
    /// transaction) and signs the receipt of the answer; `None` when nothing was given.
    pub(crate) async fn deliver(
        &self,
        viewer: &User,
        given: &[Given<'_>],
        channel: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Receipt>> {
        if given.is_empty() {
            return Ok(None);
        }
        let mut deliveries = Vec::with_capacity(given.len());
        let mut entries = Vec::with_capacity(given.len());
        let mut digests = Vec::with_capacity(given.len());
        for item in given {
            let rendering = tearline_ledger::rendering_digest(item.rendering);
            entries.push(entry(
                now,
                Event::Release {
                    object: self.ledger.object_ref(item.object_id, item.version),
                    version: version_text(item.version),
                    portions: item.portions.iter().filter_map(|p| u32::try_from(p).ok()).collect(),
                    rendering: digest_text(&rendering),
                    party: viewer.party.to_string(),
                    user: viewer.name.to_string(),
                    channel: channel.to_string(),
                },
            )?);
            digests.push(rendering);
            deliveries.push(Delivery {
                at: now,
                party: viewer.party.clone(),
                user: viewer.name.clone(),
                object_id: item.object_id.to_string(),
                object_version: item.version,
                portions: item.portions.clone(),
                channel: channel.to_string(),
                rendering,
                marks: item.marks.clone(),
            });
        }
        let Some(first) = self.deliveries.record(deliveries, entries).await? else { return Ok(None) };
        let count = u64::try_from(given.len()).map_err(|_| HubError::Invalid("too many renderings".into()))?;
        let receipt = tearline_ledger::Receipt {
            origin: self.ledger.key.name().to_string(),
            party: viewer.party.to_string(),
            user: viewer.name.to_string(),
            first,
            count,
            digest: tearline_ledger::Receipt::digest_of(&digests),
        };
        let note = self.ledger.key.sign_receipt(&receipt).map_err(ledger_error)?;
        Ok(Some(Receipt { first, count, note }))
    }

    /// Signs and keeps a checkpoint of the log as it is, unless the last one is of that size;
    /// returns the latest checkpoint as served.
    pub async fn make_checkpoint(&self, now: OffsetDateTime) -> Result<String> {
        let head = self.store.ledger_head().await?;
        let latest = self.store.latest_checkpoint().await?;
        if latest.as_ref().is_none_or(|c| c.size < head.size) {
            let note =
                self.ledger.key.sign_checkpoint(self.ledger.key.name(), head.size, head.root).map_err(ledger_error)?;
            self.store.add_checkpoint(head.size, &note, now).await?;
        }
        self.served_checkpoint().await?.ok_or(HubError::NotFound)
    }

    /// The latest checkpoint with the cosignatures received for it; `None` before the first.
    pub async fn served_checkpoint(&self) -> Result<Option<String>> {
        let Some(latest) = self.store.latest_checkpoint().await? else { return Ok(None) };
        let note = tearline_ledger::with_signature_lines(&latest.note, &latest.cosignatures).map_err(ledger_error)?;
        Ok(Some(note))
    }

    /// Proof that entry `index` is in the tree of `size` entries (at most the log's size).
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Proof> {
        if index >= size {
            return Err(HubError::Invalid(format!("no entry {index} in a tree of {size} entries")));
        }
        let mut needs = tearline_ledger::inclusion_needs(index, size).map_err(ledger_error)?;
        needs.extend(tearline_ledger::root_needs(size));
        needs.push(tearline_ledger::stored_hash_index(0, index));
        // One query: a tree larger than the log lacks the stored hash of its last subtree.
        let known = self.store.ledger_hashes(&needs).await?;
        let beyond = |e| beyond_the_log(e, size);
        let proof = tearline_ledger::inclusion_proof(index, size, &known).map_err(beyond)?;
        let root = tearline_ledger::root(size, &known).map_err(beyond)?;
        let leaf = known
            .get(&tearline_ledger::stored_hash_index(0, index))
            .copied()
            .ok_or_else(|| HubError::Store(StoreError::Corrupt(format!("the leaf hash of entry {index}"))))?;
        Ok(Proof {
            size,
            root: root.to_string(),
            proof: proof.iter().map(ToString::to_string).collect(),
            index: Some(index),
            leaf: Some(leaf.to_string()),
            from: None,
            from_root: None,
        })
    }

    /// Proof that the tree of `from` entries is a prefix of the tree of `to` entries.
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Proof> {
        if from == 0 || from > to {
            return Err(HubError::Invalid(format!("no consistency proof from {from} to {to} (0 < from <= to)")));
        }
        let mut needs = tearline_ledger::consistency_needs(from, to).map_err(ledger_error)?;
        needs.extend(tearline_ledger::root_needs(from));
        needs.extend(tearline_ledger::root_needs(to));
        let known = self.store.ledger_hashes(&needs).await?;
        let beyond = |e| beyond_the_log(e, to);
        let proof = tearline_ledger::consistency_proof(from, to, &known).map_err(beyond)?;
        Ok(Proof {
            size: to,
            root: tearline_ledger::root(to, &known).map_err(beyond)?.to_string(),
            proof: proof.iter().map(ToString::to_string).collect(),
            index: None,
            leaf: None,
            from: Some(from),
            from_root: Some(tearline_ledger::root(from, &known).map_err(beyond)?.to_string()),
        })
    }

    /// A C2SP tlog-tiles tile (`tile/…` or `tile/entries/…`); a tile beyond the log is
    /// [`HubError::NotFound`].
    pub async fn ledger_tile(&self, path: &str) -> Result<Vec<u8>> {
        let tile = TileRef::parse(path).map_err(|_| HubError::NotFound)?;
        let head = self.store.ledger_head().await?;
        if tile.needs_size() > head.size {
            return Err(HubError::NotFound);
        }
        match tile {
            TileRef::Entries { .. } => {
                let range = tile.entry_range().map_err(ledger_error)?;
                let entries = self.store.ledger_entries(range.start, range.end).await?;
                if u64::try_from(entries.len()).ok() != Some(range.end - range.start) {
                    return Err(HubError::Store(StoreError::Corrupt(format!(
                        "entries {}..{} are not all stored",
                        range.start, range.end
                    ))));
                }
                let slices: Vec<&[u8]> = entries.iter().map(|(_, bytes)| bytes.as_slice()).collect();
                tearline_ledger::entries_tile(&slices).map_err(ledger_error)
            }
            TileRef::Hashes { .. } => {
                let needs = tearline_ledger::hash_tile_needs(&tile).map_err(ledger_error)?;
                let known = self.store.ledger_hashes(&needs).await?;
                tearline_ledger::hash_tile(&tile, &known).map_err(ledger_error)
            }
        }
    }

    /// Keeps the cosignatures on a checkpoint this hub signed from the witnesses it accepts;
    /// returns how many were kept. A note this hub did not sign, or with no accepted cosignature,
    /// is refused.
    pub async fn accept_cosignatures(&self, note: &str, now: OffsetDateTime) -> Result<usize> {
        let (_, verifier) = self.ledger_identity();
        let checkpoint = tearline_ledger::verify_checkpoint(note, &verifier)
            .map_err(|e| HubError::Invalid(format!("not a checkpoint of this hub: {e}")))?;
        // The checkpoint's text with no signature: each witness line is checked on it alone.
        let bare = checkpoint.note.split("\n\n").next().map(|text| format!("{text}\n")).unwrap_or_default();
        let mut kept = 0;
        for witness in &self.ledger.witnesses {
            let name = tearline_ledger::cosigner_name(witness).map_err(ledger_error)?;
            let lines =
                tearline_ledger::signature_lines_by(note, &name).map_err(|e| HubError::Invalid(e.to_string()))?;
            for line in lines {
                let alone = format!("{bare}\n{line}");
                if tearline_ledger::verify_cosignature(&alone, witness).is_ok() {
                    self.store.add_cosignature(checkpoint.size, &name, &line, now).await?;
                    kept += 1;
                    break;
                }
            }
        }
        if kept == 0 {
            return Err(HubError::Forbidden("no cosignature of a witness this hub accepts".into()));
        }
        Ok(kept)
    }

    /// Recomputes the whole tree from the stored entries, chunk by chunk, compares every stored
    /// hash, checks every stored checkpoint; `progress` is told how many entries are done.
    pub async fn verify_ledger(&self, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<LedgerVerification> {
        let head = self.store.ledger_head().await?;
        let checkpoints = self.store.checkpoints().await?;
        let mut audit = LogAudit::with_checkpoints(checkpoints.iter().map(|c| c.size).collect());
        // Rows just beyond the recorded size are read too: an entry inserted at the end is a finding.
        let mut from = 0;
        loop {
            let entries = self.store.ledger_entries(from, from.saturating_add(VERIFY_CHUNK)).await?;
            let Some(&(last, _)) = entries.last() else {
                if from < head.size {
                    // A whole chunk missing inside the log: its first entry was removed.
                    let finding = Some(Finding::Removed { index: from });
                    return Ok(LedgerVerification {
                        size: head.size,
                        root: head.root,
                        checkpoints: checkpoints.len(),
                        finding,
                    });
                }
                break;
            };
            let stored_from = tearline_ledger::stored_hash_count(from);
            let stored_to = tearline_ledger::stored_hash_count(last + 1);
            let stored = self.store.ledger_hash_range(stored_from, stored_to).await?;
            if let Some(finding) = audit.feed(&entries, &stored) {
                return Ok(LedgerVerification {
                    size: head.size,
                    root: head.root,
                    checkpoints: checkpoints.len(),
                    finding: Some(finding),
                });
            }
            progress(audit.size(), head.size);
            from = last + 1;
        }
        let notes: Vec<String> = checkpoints.iter().map(|c| c.note.clone()).collect();
        let (_, verifier) = self.ledger_identity();
        let mut finding = audit.finish(head.size, &notes, &verifier);
        if finding.is_none() && audit.root() != head.root {
            finding = Some(Finding::HashMismatch { stored_index: tearline_ledger::stored_hash_count(head.size) });
        }
        Ok(LedgerVerification { size: head.size, root: audit.root(), checkpoints: checkpoints.len(), finding })
    }

    /// Entry `index` as stored, decoded.
    pub async fn ledger_entry(&self, index: u64) -> Result<(Vec<u8>, Entry)> {
        let entries = self.store.ledger_entries(index, index + 1).await?;
        let (_, bytes) = entries.into_iter().next().ok_or(HubError::NotFound)?;
        let entry = Entry::decode(&bytes).map_err(ledger_error)?;
        Ok((bytes, entry))
    }

    /// As a witness: decides on a checkpoint `seen` of another log (its signer's verifier key,
    /// a consistency proof from the last one kept), keeps it and cosigns, or records a fork.
    /// The first key seen for an origin is kept; another key for it is refused.
    pub async fn witness(
        &self,
        seen: &str,
        verifier_key: &str,
        proof: &[Hash],
        now: OffsetDateTime,
    ) -> Result<Witnessed> {
        let checkpoint = tearline_ledger::verify_checkpoint(seen, verifier_key)
            .map_err(|e| HubError::Invalid(format!("the checkpoint does not verify: {e}")))?;
        let kept = self.store.witnessed(&checkpoint.origin).await?;
        if let Some((key, _)) = &kept {
            if key != verifier_key {
                return Err(HubError::Invalid(format!(
                    "log `{}` was witnessed under key {key}, not {verifier_key}",
                    checkpoint.origin
                )));
            }
        }
        let verdict = tearline_ledger::witness(kept.as_ref().map(|(_, note)| note.as_str()), seen, proof, verifier_key)
            .map_err(|e| HubError::Invalid(format!("the checkpoint does not verify: {e}")))?;
        match verdict {
            WitnessVerdict::Cosign(checkpoint) => {
                let time = u64::try_from(now.unix_timestamp()).unwrap_or_default();
                let line = self.ledger.key.cosign(&checkpoint.note, time).map_err(ledger_error)?;
                self.store.keep_witnessed(&checkpoint.origin, verifier_key, &checkpoint.note, now).await?;
                Ok(Witnessed::Cosigned { checkpoint, line })
            }
            WitnessVerdict::Fork { kept, seen, reason } => {
                let fork = Fork { origin: checkpoint.origin, kept, seen, reason, found_at: now };
                let known = self.store.forks().await?;
                if !known.iter().any(|f| f.origin == fork.origin && f.kept == fork.kept && f.seen == fork.seen) {
                    self.store.record_fork(&fork).await?;
                }
                Ok(Witnessed::Fork(fork))
            }
        }
    }

    /// As a witness: the verifier key kept for the log `origin` and the size of its last
    /// checkpoint kept, if any.
    pub async fn witnessed(&self, origin: &str) -> Result<Option<(String, u64)>> {
        let Some((key, note)) = self.store.witnessed(origin).await? else { return Ok(None) };
        // The size line of a checkpoint that was verified when it was kept.
        let size = note.lines().nth(1).and_then(|line| line.parse().ok()).unwrap_or_default();
        Ok(Some((key, size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference is HMAC-SHA-256 of "id\nversion" under the blinding key derived from the seed,
    /// as logs already written name their objects: the prepared MAC must not change it.
    #[test]
    fn object_refs_are_the_hmac_of_id_and_version_under_the_blinding_key() {
        let seed = [9u8; 32];
        let ledger = Ledger::new(seed, "hub.example/log").unwrap();
        let version = time::macros::datetime!(2026-03-01 12:00:07.5 UTC);
        let blinding_key =
            Sha256::new().chain_update(b"tearline ledger object reference\n").chain_update(seed).finalize();
        let mut expected = <Hmac<Sha256> as Mac>::new_from_slice(&blinding_key).unwrap();
        expected.update(format!("indicator--1\n{}", version_text(version)).as_bytes());
        let expected = format!("ref:{}", hex::encode(expected.finalize().into_bytes()));
        assert_eq!(ledger.object_ref("indicator--1", version), expected);
        assert_eq!(ledger.object_ref("indicator--1", version), expected, "the prepared MAC is reused unchanged");
        assert_ne!(ledger.object_ref("indicator--2", version), expected);
    }
}
