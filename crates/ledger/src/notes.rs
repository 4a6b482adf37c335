//! Keys, signed checkpoints, receipts and cosignatures: C2SP signed-note, tlog-checkpoint and
//! tlog-cosignature (formats documented at the crate root).

use crate::error::{LedgerError, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use signed_note::{Note, Signature, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

/// signed-note signature type of an Ed25519 note signature.
const ALG_ED25519: u8 = 0x01;
/// tlog-cosignature signature type of an Ed25519 `cosignature/v1`.
const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The receipt's second line: names and versions the format.
const RECEIPT_HEADER_LINE: &str = "tearline-receipt/v1";
/// A receipt note is a few hundred bytes; refuse header values far beyond that.
const MAX_RECEIPT_HEADER: usize = 16 * 1024;

/// The hub's Ed25519 key (seed from the database) under a key name (= the log's origin).
pub struct LogKey {
    name: String,
    signing: SigningKey,
    note_id: u32,
    cosigner_id: u32,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the seed.
        f.debug_struct("LogKey").field("verifier_key", &self.verifier_key()).finish()
    }
}

fn key_material(alg: u8, key: &VerifyingKey) -> Vec<u8> {
    let mut material = vec![alg];
    material.extend_from_slice(key.as_bytes());
    material
}

impl LogKey {
    /// `name` must be a valid note key name (non-empty, no spaces, no '+').
    pub fn new(seed: [u8; 32], name: &str) -> Result<LogKey> {
        if !signed_note::is_key_name_valid(name) {
            return Err(LedgerError::BadKeyName { name: name.into() });
        }
        let signing = SigningKey::from_bytes(&seed);
        let public = signing.verifying_key();
        Ok(LogKey {
            name: name.into(),
            note_id: signed_note::key_id(name, &key_material(ALG_ED25519, &public)),
            cosigner_id: signed_note::key_id(name, &key_material(ALG_COSIGNATURE_V1, &public)),
            signing,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// signed-note verifier key "name+hexid+base64(0x01||pubkey)".
    pub fn verifier_key(&self) -> String {
        signed_note::new_ed25519_verifier_key(&self.name, &self.signing.verifying_key())
    }

    /// tlog-cosignature verifier key (alg 0x04) of the same key, for when this hub acts as a
    /// witness.
    pub fn cosigner_key(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.cosigner_id,
            BASE64.encode(key_material(ALG_COSIGNATURE_V1, &self.signing.verifying_key()))
        )
    }

    /// Signs `text` (newline-terminated) as a note with this key; the whole note text.
    fn sign_note(&self, text: &str) -> Result<String> {
        let signature = self.signing.sign(text.as_bytes());
        let line = Signature::new(self.name.clone(), self.note_id, signature.to_bytes().to_vec())
            .map_err(|error| LedgerError::BadNote { reason: error.to_string() })?;
        let note =
            Note::new(text.as_bytes(), &[line]).map_err(|error| LedgerError::BadNote { reason: error.to_string() })?;
        String::from_utf8(note.to_bytes())
            .map_err(|_| LedgerError::BadNote { reason: "signed note is not UTF-8".into() })
    }

    /// A tlog-checkpoint ("<origin>\n<size>\n<base64 root>\n") signed as a note; returns the
    /// whole note text.
    pub fn sign_checkpoint(&self, origin: &str, size: u64, root: Hash) -> Result<String> {
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(LedgerError::BadCheckpoint {
                reason: format!("origin {origin:?} is empty or has control characters"),
            });
        }
        let checkpoint = Checkpoint::new(origin, size, root, "")
            .map_err(|error| LedgerError::BadCheckpoint { reason: error.to_string() })?;
        let text = String::from_utf8(checkpoint.to_bytes())
            .map_err(|_| LedgerError::BadCheckpoint { reason: "checkpoint is not UTF-8".into() })?;
        self.sign_note(&text)
    }

    /// A receipt note (see the crate documentation), signed.
    pub fn sign_receipt(&self, receipt: &Receipt) -> Result<String> {
        self.sign_note(&receipt.text()?)
    }

    /// As a witness: cosignature/v1 of a checkpoint note (the checkpoint text, signatures
    /// ignored; a bare checkpoint is accepted too) at `time` (unix seconds): returns the
    /// signature line ("— name base64(keyid||timestamp||sig)\n").
    pub fn cosign(&self, checkpoint_note: &str, time: u64) -> Result<String> {
        if time > i64::MAX as u64 {
            return Err(LedgerError::BadNote { reason: format!("cosignature time {time} above 2^63-1") });
        }
        let text = checkpoint_text(checkpoint_note)?;
        Checkpoint::from_bytes(text.as_bytes())
            .map_err(|error| LedgerError::BadCheckpoint { reason: error.to_string() })?;
        let signature = self.signing.sign(cosigned_message(time, &text).as_bytes());
        let mut bytes = Vec::with_capacity(4 + 8 + 64);
        bytes.extend_from_slice(&self.cosigner_id.to_be_bytes());
        bytes.extend_from_slice(&time.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(format!("— {} {}\n", self.name, BASE64.encode(bytes)))
    }
}

/// What a `cosignature/v1` signs: header, time line, then the checkpoint text.
fn cosigned_message(time: u64, checkpoint_text: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{checkpoint_text}")
}

fn parse_note(note: &str) -> Result<Note> {
    Note::from_bytes(note.as_bytes()).map_err(|error| LedgerError::BadNote { reason: error.to_string() })
}

fn note_text(note: &Note) -> Result<String> {
    String::from_utf8(note.text().to_vec())
        .map_err(|_| LedgerError::BadNote { reason: "note text is not UTF-8".into() })
}

/// The text of a note, or the input itself if it is a bare checkpoint without signatures.
fn checkpoint_text(note: &str) -> Result<String> {
    match parse_note(note) {
        Ok(parsed) => note_text(&parsed),
        Err(error) => {
            if Checkpoint::from_bytes(note.as_bytes()).is_ok() {
                Ok(note.to_string())
            } else {
                Err(error)
            }
        }
    }
}

/// The signature lines of a well-formed note, without their newlines.
fn raw_signature_lines(note: &str) -> Result<Vec<&str>> {
    parse_note(note)?;
    let (_, block) =
        note.rsplit_once("\n\n").ok_or_else(|| LedgerError::BadNote { reason: "no signature block".into() })?;
    let block = block
        .strip_suffix('\n')
        .ok_or_else(|| LedgerError::BadNote { reason: "signature block does not end in a newline".into() })?;
    Ok(block.split('\n').collect())
}

/// Checks the note's signature by `verifier_key` and returns the note's text.
fn verify_note(note: &str, verifier_key: &str) -> Result<String> {
    let verifier = StandardVerifier::new(verifier_key)
        .map_err(|error| LedgerError::BadVerifierKey { key: verifier_key.into(), reason: error.to_string() })?;
    let name = signed_note::Verifier::name(&verifier).to_string();
    let parsed = parse_note(note)?;
    parsed.verify(&VerifierList::new(vec![Box::new(verifier)])).map_err(|error| match error {
        signed_note::NoteError::UnverifiedNote => LedgerError::MissingSignature { name: name.clone() },
        other => LedgerError::BadSignature { name: name.clone(), reason: other.to_string() },
    })?;
    note_text(&parsed)
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// The whole note as given, other signatures (cosignatures) included.
    pub note: String,
}

// `tlog_tiles::Hash` is a byte array with a derived `PartialEq` but no `Eq`; equality is total.
impl Eq for SignedCheckpoint {}

/// Parses a note, verifies the log's signature with `verifier_key`; other signature lines
/// (cosignatures) are kept in `note` but not required. The caller compares `origin` with the
/// log it expects.
pub fn verify_checkpoint(note: &str, verifier_key: &str) -> Result<SignedCheckpoint> {
    let text = verify_note(note, verifier_key)?;
    let checkpoint = Checkpoint::from_bytes(text.as_bytes())
        .map_err(|error| LedgerError::BadCheckpoint { reason: error.to_string() })?;
    Ok(SignedCheckpoint {
        origin: checkpoint.origin().to_string(),
        size: checkpoint.size(),
        root: *checkpoint.hash(),
        note: note.to_string(),
    })
}

/// A parsed tlog-cosignature Ed25519 verifier key.
struct CosignerKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

/// Checks a tlog-cosignature verifier key (`name+id+base64(0x04 || key)`); returns its name.
pub fn cosigner_name(text: &str) -> Result<String> {
    Ok(parse_cosigner_key(text)?.name)
}

fn parse_cosigner_key(text: &str) -> Result<CosignerKey> {
    let bad = |reason: &str| LedgerError::BadVerifierKey { key: text.into(), reason: reason.into() };
    let (name, rest) = text.split_once('+').ok_or_else(|| bad("not name+id+key"))?;
    let (id_hex, key_base64) = rest.split_once('+').ok_or_else(|| bad("not name+id+key"))?;
    if !signed_note::is_key_name_valid(name) {
        return Err(bad("invalid key name"));
    }
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("key ID is not 8 hex digits"));
    }
    let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("key ID is not hex"))?;
    let material = BASE64.decode(key_base64).map_err(|_| bad("key is not base64"))?;
    let (alg, public) = material.split_first().ok_or_else(|| bad("empty key"))?;
    if *alg != ALG_COSIGNATURE_V1 {
        return Err(bad("not a cosignature/v1 (0x04) key"));
    }
    let public: [u8; 32] = public.try_into().map_err(|_| bad("not a 32-byte Ed25519 key"))?;
    if id != signed_note::key_id(name, &material) {
        return Err(bad("key ID does not match the key"));
    }
    let key = VerifyingKey::from_bytes(&public).map_err(|_| bad("not an Ed25519 point"))?;
    Ok(CosignerKey { name: name.into(), id, key })
}

/// Verifies the cosignature of witness `cosigner_key` on a checkpoint note; returns its
/// timestamp. Error if absent or invalid.
pub fn verify_cosignature(note: &str, cosigner_key: &str) -> Result<u64> {
    let cosigner = parse_cosigner_key(cosigner_key)?;
    let text = note_text(&parse_note(note)?)?;
    let mut present = false;
    for line in raw_signature_lines(note)? {
        let signature = Signature::from_bytes(line.as_bytes())
            .map_err(|error| LedgerError::BadNote { reason: error.to_string() })?;
        if signature.name() != cosigner.name || signature.id() != cosigner.id {
            continue;
        }
        present = true;
        let Some((time, ed25519)) = signature.signature().split_first_chunk::<8>() else {
            continue;
        };
        let time = u64::from_be_bytes(*time);
        let Ok(ed25519) = ed25519_dalek::Signature::from_slice(ed25519) else {
            continue;
        };
        if time <= i64::MAX as u64 && cosigner.key.verify(cosigned_message(time, &text).as_bytes(), &ed25519).is_ok() {
            return Ok(time);
        }
    }
    if present {
        Err(LedgerError::BadSignature { name: cosigner.name, reason: "cosignature/v1 does not verify".into() })
    } else {
        Err(LedgerError::MissingSignature { name: cosigner.name })
    }
}

/// All signature lines of a note, each with its final newline, in note order.
pub fn signature_lines(note: &str) -> Result<Vec<String>> {
    Ok(raw_signature_lines(note)?.into_iter().map(|line| format!("{line}\n")).collect())
}

/// The signature lines of a note whose signer name is `name` (to pick a witness's line out of
/// a note it returned), each with its final newline.
pub fn signature_lines_by(note: &str, name: &str) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for line in raw_signature_lines(note)? {
        let signature = Signature::from_bytes(line.as_bytes())
            .map_err(|error| LedgerError::BadNote { reason: error.to_string() })?;
        if signature.name() == name {
            lines.push(format!("{line}\n"));
        }
    }
    Ok(lines)
}

/// Appends signature lines (with or without their final newline) to a note, dropping exact
/// duplicates of lines already there or given twice.
pub fn with_signature_lines(note: &str, lines: &[String]) -> Result<String> {
    let parsed = parse_note(note)?;
    let mut all: Vec<&str> = raw_signature_lines(note)?;
    for line in lines {
        let line = line.strip_suffix('\n').unwrap_or(line);
        if line.contains('\n') {
            return Err(LedgerError::BadNote { reason: "a signature line has an inner newline".into() });
        }
        Signature::from_bytes(line.as_bytes())
            .map_err(|error| LedgerError::BadNote { reason: format!("signature line {line:?}: {error}") })?;
        if !all.contains(&line) {
            all.push(line);
        }
    }
    let mut out = note_text(&parsed)?;
    out.push('\n');
    for line in all {
        out.push_str(line);
        out.push('\n');
    }
    parse_note(&out)?;
    Ok(out)
}

/// A signed statement from the hub: entries `first .. first+count` of log `origin` record what
/// `party`'s `user` was given in one answer; `digest` = SHA-256 over the concatenated 32-byte
/// rendering digests of those entries in index order ([`Receipt::digest_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub origin: String,
    pub party: String,
    pub user: String,
    pub first: u64,
    pub count: u64,
    pub digest: [u8; 32],
}

impl Receipt {
    /// SHA-256 over the concatenated rendering digests, in entry order.
    pub fn digest_of(renderings: &[[u8; 32]]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for rendering in renderings {
            hasher.update(rendering);
        }
        hasher.finalize().into()
    }

    /// The note text; refuses fields that would make it ambiguous.
    fn text(&self) -> Result<String> {
        let bad = |reason: String| LedgerError::BadReceipt { reason };
        if self.origin.is_empty() || self.origin.chars().any(char::is_control) {
            return Err(bad(format!("origin {:?} is empty or has control characters", self.origin)));
        }
        for (field, value) in [("party", &self.party), ("user", &self.user)] {
            if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad(format!("{field} {value:?} is empty or has spaces")));
            }
        }
        if self.first.checked_add(self.count).is_none() {
            return Err(bad(format!("entries {} + {} overflow", self.first, self.count)));
        }
        Ok(format!(
            "{}\n{RECEIPT_HEADER_LINE}\nrecipient {} {}\nentries {} {}\ndigest {}\n",
            self.origin,
            self.party,
            self.user,
            self.first,
            self.count,
            BASE64.encode(self.digest)
        ))
    }

    fn parse(text: &str) -> Result<Receipt> {
        let bad = |reason: &str| LedgerError::BadReceipt { reason: reason.into() };
        let body = text.strip_suffix('\n').ok_or_else(|| bad("no final newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, header, recipient, entries, digest] = lines.as_slice() else {
            return Err(bad("not five lines"));
        };
        if *header != RECEIPT_HEADER_LINE {
            return Err(bad("second line is not tearline-receipt/v1"));
        }
        let (party, user) = recipient
            .strip_prefix("recipient ")
            .and_then(|rest| rest.split_once(' '))
            .ok_or_else(|| bad("no \"recipient <party> <user>\" line"))?;
        let (first, count) = entries
            .strip_prefix("entries ")
            .and_then(|rest| rest.split_once(' '))
            .ok_or_else(|| bad("no \"entries <first> <count>\" line"))?;
        let digest = digest
            .strip_prefix("digest ")
            .and_then(|rest| BASE64.decode(rest).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| bad("no \"digest <base64 of 32 bytes>\" line"))?;
        let receipt = Receipt {
            origin: (*origin).into(),
            party: party.into(),
            user: user.into(),
            first: first.parse().map_err(|_| bad("first entry is not a number"))?,
            count: count.parse().map_err(|_| bad("entry count is not a number"))?,
            digest,
        };
        if receipt.text()? != text {
            return Err(bad("not in canonical form"));
        }
        Ok(receipt)
    }
}

/// Verifies the hub's signature on a receipt note and parses it.
pub fn verify_receipt(note: &str, verifier_key: &str) -> Result<Receipt> {
    Receipt::parse(&verify_note(note, verifier_key)?)
}

/// Header form of a receipt note: base64 (standard) of the whole note.
pub fn receipt_header(note: &str) -> String {
    BASE64.encode(note.as_bytes())
}

/// Inverse of [`receipt_header`] (surrounding whitespace ignored); the note is not verified.
pub fn parse_receipt_header(value: &str) -> Result<String> {
    let value = value.trim();
    if value.len() > MAX_RECEIPT_HEADER {
        return Err(LedgerError::BadReceipt {
            reason: format!("header is {} bytes, above {MAX_RECEIPT_HEADER}", value.len()),
        });
    }
    let bytes = BASE64
        .decode(value)
        .map_err(|error| LedgerError::BadReceipt { reason: format!("header is not base64: {error}") })?;
    String::from_utf8(bytes).map_err(|_| LedgerError::BadReceipt { reason: "header is not UTF-8".into() })
}
