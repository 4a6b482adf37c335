//! Entries, keys and notes (checkpoints, cosignatures, receipts) and the witness's decision.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail by panicking")]

use proptest::prelude::*;
use std::collections::HashMap;
use tearline_ledger::*;
use time::{Duration, OffsetDateTime};

// ---- entries ----

fn text() -> impl Strategy<Value = String> {
    "(?s).{0,16}"
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (text(), text(), prop::collection::vec(any::<u32>(), 0..5), any::<[u8; 32]>(), text(), text(), text())
            .prop_map(|(object, version, portions, rendering, party, user, channel)| Event::Release {
                object,
                version,
                portions,
                rendering: digest_text(&rendering),
                party,
                user,
                channel,
            }),
        (text(), text(), text(), text(), text()).prop_map(|(object, version, holder, to, by)| Event::Share {
            object,
            version,
            holder,
            to,
            by
        }),
        (text(), text(), text(), text(), text(), text()).prop_map(|(object, version, holder, to, by, rule)| {
            Event::OnwardRefused { object, version, holder, to, by, rule }
        }),
        (text(), text(), text(), text(), text(), text(), text(), prop::option::of(text())).prop_map(
            |(approval, object, version, requester, to, decision, by, until)| Event::Approval {
                approval,
                object,
                version,
                requester,
                to,
                decision,
                by,
                until,
            }
        ),
        (text(), text(), text()).prop_map(|(object, version, by)| Event::Recall { object, version, by }),
        (text(), text()).prop_map(|(change, state)| Event::Coalition { change, state }),
        (text(), prop::collection::vec(text(), 0..4)).prop_map(|(digest, files)| Event::Policies { digest, files }),
    ]
}

fn millisecond_time() -> impl Strategy<Value = OffsetDateTime> {
    // 0000-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999Z
    (-62_167_219_200i64..253_402_300_800i64, 0i64..1000)
        .prop_map(|(seconds, ms)| OffsetDateTime::from_unix_timestamp(seconds).unwrap() + Duration::milliseconds(ms))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn entries_round_trip_canonically(time in millisecond_time(), event in event()) {
        let entry = Entry { time, event };
        let bytes = entry.encode().unwrap();
        prop_assert_eq!(Entry::decode(&bytes).unwrap(), entry.clone());
        // Sorted keys at the top level, no whitespace outside strings: re-parsing and writing
        // canonically gives the same bytes.
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(canonical_json(&value).into_bytes(), bytes.clone());
        let keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        let spaced = String::from_utf8(bytes.clone()).unwrap().replacen(':', ": ", 1);
        prop_assert!(Entry::decode(spaced.as_bytes()).is_err());
        prop_assert_eq!(value["v"].as_u64(), Some(1));
        prop_assert_eq!(value["kind"].as_str(), Some(entry.event.kind()));
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does(s in "(?s).{0,40}") {
        prop_assert_eq!(canonical_json(&serde_json::Value::String(s.clone())), serde_json::to_string(&s).unwrap());
    }
}

fn sample() -> Entry {
    Entry {
        time: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap() + Duration::milliseconds(123),
        event: Event::Share {
            object: "o".into(),
            version: "1".into(),
            holder: "h".into(),
            to: "t".into(),
            by: "b".into(),
        },
    }
}

#[test]
fn non_canonical_entries_are_refused() {
    let canonical = String::from_utf8(sample().encode().unwrap()).unwrap();
    assert_eq!(
        canonical,
        r#"{"by":"b","holder":"h","kind":"share","object":"o","time":"2023-11-14T22:13:20.123Z","to":"t","v":1,"version":"1"}"#
    );
    let unsorted = format!("{{\"v\":1,{}", canonical[1..].replacen(",\"v\":1", "", 1));
    let bad = [
        canonical.replacen('{', "{ ", 1),
        format!("{canonical}\n"),
        unsorted,
        canonical.replacen("\"to\":\"t\",", "\"to\":\"t\",\"extra\":1,", 1),
        canonical.replacen("22:13:20.123Z", "22:13:20.1230Z", 1),
        canonical.replacen("22:13:20.123Z", "22:13:20.123+00:00", 1),
        canonical.replacen("\"o\"", "\"\\u006f\"", 1),
    ];
    for text in &bad {
        assert!(Entry::decode(text.as_bytes()).is_err(), "accepted {text}");
    }
    assert!(matches!(
        Entry::decode(canonical.replacen("\"v\":1", "\"v\":2", 1).as_bytes()),
        Err(LedgerError::UnknownVersion { .. })
    ));
    assert!(matches!(
        Entry::decode(canonical.replacen("\"share\"", "\"teleport\"", 1).as_bytes()),
        Err(LedgerError::UnknownKind { .. })
    ));
    assert!(Entry::decode(canonical.replacen(",\"v\":1", "", 1).as_bytes()).is_err());
    assert!(Entry::decode(b"[]").is_err());
    assert!(Entry::decode(&[0xff, 0xfe]).is_err());
}

#[test]
fn entry_size_is_limited() {
    let mut entry = sample();
    entry.event = Event::Coalition { change: "x".repeat(MAX_ENTRY_BYTES), state: String::new() };
    assert!(matches!(entry.encode(), Err(LedgerError::EntryTooLarge { .. })));
    entry.event = Event::Coalition { change: "x".repeat(MAX_ENTRY_BYTES - 200), state: String::new() };
    assert!(entry.encode().unwrap().len() <= MAX_ENTRY_BYTES);
    assert!(Entry::decode(&vec![b' '; MAX_ENTRY_BYTES + 1]).is_err());
}

#[test]
fn rendering_digest_ignores_key_order() {
    let a = serde_json::json!({"b": [1, {"y": 2, "x": "é"}], "a": null});
    let mut b = serde_json::Map::new();
    b.insert("a".into(), serde_json::Value::Null);
    b.insert("b".into(), serde_json::json!([1, {"x": "é", "y": 2}]));
    let b = serde_json::Value::Object(b);
    assert_eq!(rendering_digest(&a), rendering_digest(&b));
    use sha2::Digest;
    let want: [u8; 32] = sha2::Sha256::digest(r#"{"a":null,"b":[1,{"x":"é","y":2}]}"#.as_bytes()).into();
    assert_eq!(rendering_digest(&a), want);
}

// ---- keys and notes ----

fn log_key() -> LogKey {
    LogKey::new([7; 32], "hub.example/log").unwrap()
}

#[test]
fn key_names_are_checked() {
    for name in ["", "a b", "a+b", "a\nb"] {
        assert!(LogKey::new([1; 32], name).is_err(), "{name:?}");
    }
    let key = log_key();
    assert_eq!(key.name(), "hub.example/log");
    assert!(signed_note::StandardVerifier::new(&key.verifier_key()).is_ok());
    assert!(key.cosigner_key().starts_with("hub.example/log+"));
    assert_ne!(key.verifier_key(), key.cosigner_key());
    assert!(!format!("{key:?}").contains("0707"));
}

#[test]
fn checkpoints_round_trip_and_tampering_fails() {
    let key = log_key();
    let tree_root = leaf_hash(b"x");
    let note = key.sign_checkpoint("hub.example/log", 42, tree_root).unwrap();
    assert!(note.starts_with(&format!("hub.example/log\n42\n{tree_root}\n\n— hub.example/log ")));
    let checkpoint = verify_checkpoint(&note, &key.verifier_key()).unwrap();
    assert_eq!(
        checkpoint,
        SignedCheckpoint { origin: "hub.example/log".into(), size: 42, root: tree_root, note: note.clone() }
    );
    let body = note.split_once("\n\n").unwrap().0.to_string() + "\n";
    let parsed = tlog_tiles::Checkpoint::from_bytes(body.as_bytes()).unwrap();
    assert_eq!((parsed.origin(), parsed.size(), *parsed.hash()), ("hub.example/log", 42, tree_root));

    assert!(verify_checkpoint(&note.replacen("\n42\n", "\n43\n", 1), &key.verifier_key()).is_err());
    let mut bytes = note.clone().into_bytes();
    let at = note.find("\n\n").unwrap() - 3;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    assert!(verify_checkpoint(&String::from_utf8(bytes).unwrap(), &key.verifier_key()).is_err());
    let other = LogKey::new([8; 32], "hub.example/log").unwrap();
    assert!(verify_checkpoint(&note, &other.verifier_key()).is_err());
    assert!(verify_checkpoint(&note, "not a key").is_err());
    assert!(key.sign_checkpoint("two\nlines", 1, tree_root).is_err());
}

#[test]
fn cosignatures_round_trip() {
    let log = log_key();
    let witness_key = LogKey::new([9; 32], "witness.example/w1").unwrap();
    let note = log.sign_checkpoint("hub.example/log", 5, leaf_hash(b"y")).unwrap();
    let line = witness_key.cosign(&note, 1_679_315_147).unwrap();
    assert!(line.starts_with("— witness.example/w1 ") && line.ends_with('\n'));

    let cosigned = with_signature_lines(&note, &[line.clone(), line.clone()]).unwrap();
    assert_eq!(signature_lines(&cosigned).unwrap().len(), 2, "duplicates dropped");
    assert_eq!(with_signature_lines(&cosigned, &[line.trim_end().to_string()]).unwrap(), cosigned);
    assert_eq!(signature_lines_by(&cosigned, "witness.example/w1").unwrap(), vec![line.clone()]);
    assert_eq!(verify_cosignature(&cosigned, &witness_key.cosigner_key()).unwrap(), 1_679_315_147);
    assert!(verify_checkpoint(&cosigned, &log.verifier_key()).is_ok(), "cosignatures do not disturb the log's");
    // A bare checkpoint body is cosigned the same way.
    let body = note.split_once("\n\n").unwrap().0.to_string() + "\n";
    assert_eq!(witness_key.cosign(&body, 1_679_315_147).unwrap(), line);

    // Absent: the log's own signature is not a cosignature.
    assert!(matches!(
        verify_cosignature(&note, &witness_key.cosigner_key()),
        Err(LedgerError::MissingSignature { .. })
    ));
    // Another key under the same name: a different key ID, so absent; and its signature under
    // the right key ID does not verify.
    let impostor = LogKey::new([10; 32], "witness.example/w1").unwrap();
    let forged = impostor.cosign(&note, 1_679_315_147).unwrap();
    let with_forged = with_signature_lines(&note, std::slice::from_ref(&forged)).unwrap();
    assert!(verify_cosignature(&with_forged, &witness_key.cosigner_key()).is_err());
    use base64::Engine;
    let b64 = forged.trim_end().rsplit_once(' ').unwrap().1;
    let mut raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let good_raw =
        base64::engine::general_purpose::STANDARD.decode(line.trim_end().rsplit_once(' ').unwrap().1).unwrap();
    raw[..4].copy_from_slice(&good_raw[..4]);
    let relabelled = format!("— witness.example/w1 {}\n", base64::engine::general_purpose::STANDARD.encode(raw));
    let with_relabelled = with_signature_lines(&note, &[relabelled]).unwrap();
    assert!(matches!(
        verify_cosignature(&with_relabelled, &witness_key.cosigner_key()),
        Err(LedgerError::BadSignature { .. })
    ));
    // A cosignature of another checkpoint does not carry over.
    let other_note = log.sign_checkpoint("hub.example/log", 6, leaf_hash(b"z")).unwrap();
    let moved = with_signature_lines(&other_note, &[line]).unwrap();
    assert!(verify_cosignature(&moved, &witness_key.cosigner_key()).is_err());
    assert!(with_signature_lines(&note, &["not a signature".to_string()]).is_err());
    assert!(witness_key.cosign("not a checkpoint\n", 1).is_err());
}

#[test]
fn receipts_round_trip() {
    let key = log_key();
    let digests = [[1u8; 32], [2u8; 32], [3u8; 32]];
    let receipt = Receipt {
        origin: "hub.example/log".into(),
        party: "acme".into(),
        user: "alice".into(),
        first: 10,
        count: 3,
        digest: Receipt::digest_of(&digests),
    };
    let mut concatenated = Vec::new();
    digests.iter().for_each(|d| concatenated.extend_from_slice(d));
    use sha2::Digest;
    assert_eq!(receipt.digest, <[u8; 32]>::from(sha2::Sha256::digest(&concatenated)));

    let note = key.sign_receipt(&receipt).unwrap();
    assert!(note.starts_with("hub.example/log\ntearline-receipt/v1\nrecipient acme alice\nentries 10 3\ndigest "));
    assert_eq!(verify_receipt(&note, &key.verifier_key()).unwrap(), receipt);
    let header = receipt_header(&note);
    assert!(!header.contains('\n'));
    assert_eq!(parse_receipt_header(&header).unwrap(), note);
    assert_eq!(parse_receipt_header(&format!(" {header} ")).unwrap(), note);
    assert!(parse_receipt_header("%%%").is_err());

    assert!(verify_receipt(&note.replacen("entries 10 3", "entries 10 4", 1), &key.verifier_key()).is_err());
    assert!(verify_receipt(&note, &LogKey::new([3; 32], "hub.example/log").unwrap().verifier_key()).is_err());
    let checkpoint = key.sign_checkpoint("hub.example/log", 1, leaf_hash(b"")).unwrap();
    assert!(verify_receipt(&checkpoint, &key.verifier_key()).is_err(), "a checkpoint is not a receipt");
    let spaced = Receipt { user: "alice smith".into(), ..receipt };
    assert!(key.sign_receipt(&spaced).is_err());
}

// ---- witness ----

fn entries(n: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("e{i}").into_bytes()).collect()
}

fn stored_for(entries: &[Vec<u8>]) -> HashMap<u64, Hash> {
    let slices: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    append(0, &slices, &HashMap::new()).unwrap().hashes.into_iter().collect()
}

#[test]
fn witness_decides() {
    let key = log_key();
    let vkey = key.verifier_key();
    let log = entries(20);
    let stored = stored_for(&log);
    let note_at = |size: u64| key.sign_checkpoint("hub.example/log", size, root(size, &stored).unwrap()).unwrap();
    let (ten, twenty) = (note_at(10), note_at(20));
    let proof = consistency_proof(10, 20, &stored).unwrap();

    let first = witness(None, &ten, &[], &vkey).unwrap();
    assert!(matches!(&first, WitnessVerdict::Cosign(c) if c.size == 10));
    let grown = witness(Some(&ten), &twenty, &proof, &vkey).unwrap();
    assert!(matches!(&grown, WitnessVerdict::Cosign(c) if c.size == 20 && c.note == twenty));
    assert!(matches!(witness(Some(&twenty), &twenty, &[], &vkey).unwrap(), WitnessVerdict::Cosign(_)));
    let cosigned_twenty = with_signature_lines(&twenty, &[key.cosign(&twenty, 5).unwrap()]).unwrap();
    assert!(matches!(witness(Some(&twenty), &cosigned_twenty, &[], &vkey).unwrap(), WitnessVerdict::Cosign(_)));

    // Same size, another root: a fork, with both notes as evidence.
    let mut forked_log = log.clone();
    forked_log[3] = b"rewritten".to_vec();
    let forked_stored = stored_for(&forked_log);
    let forked_twenty = key.sign_checkpoint("hub.example/log", 20, root(20, &forked_stored).unwrap()).unwrap();
    match witness(Some(&twenty), &forked_twenty, &[], &vkey).unwrap() {
        WitnessVerdict::Fork { kept, seen, .. } => assert_eq!((kept, seen), (twenty.clone(), forked_twenty.clone())),
        other => panic!("{other:?}"),
    }
    // Smaller size than kept.
    assert!(matches!(witness(Some(&twenty), &ten, &[], &vkey).unwrap(), WitnessVerdict::Fork { .. }));
    // Growth without a valid proof, or onto a rewritten history.
    let mut bad = proof.clone();
    bad[0].0[0] ^= 1;
    assert!(matches!(witness(Some(&ten), &twenty, &bad, &vkey).unwrap(), WitnessVerdict::Fork { .. }));
    assert!(matches!(witness(Some(&ten), &twenty, &[], &vkey).unwrap(), WitnessVerdict::Fork { .. }));
    let forked_proof = consistency_proof(10, 20, &forked_stored).unwrap();
    assert!(matches!(witness(Some(&ten), &forked_twenty, &forked_proof, &vkey).unwrap(), WitnessVerdict::Fork { .. }));
    // Bad signatures are errors, not forks.
    let tampered = twenty.replacen("\n20\n", "\n21\n", 1);
    assert!(witness(Some(&ten), &tampered, &proof, &vkey).is_err());
    assert!(witness(Some(&tampered), &twenty, &proof, &vkey).is_err());
    assert!(witness(None, &twenty, &[], &LogKey::new([1; 32], "hub.example/log").unwrap().verifier_key()).is_err());
}

#[test]
fn cosigner_keys_are_read_whatever_their_base64_holds() {
    // Standard base64 uses `+`: a key's last field may hold several.
    let mut with_plus = 0;
    for seed in 0..64u8 {
        let key = LogKey::new([seed; 32], "w.example/witness").unwrap().cosigner_key();
        if key.matches('+').count() > 2 {
            with_plus += 1;
        }
        assert_eq!(cosigner_name(&key).unwrap(), "w.example/witness", "{key}");
    }
    assert!(with_plus > 0, "no key of the sample had a `+` in its base64");
    let note_key = LogKey::new([1; 32], "w.example/witness").unwrap().verifier_key();
    assert!(cosigner_name(&note_key).is_err(), "a signed-note (0x01) key is not a cosigner key");
    assert!(cosigner_name("w.example/witness").is_err());
    assert!(cosigner_name("w.example/witness+00000000+BAAA").is_err());
}
