//! Log entries and their canonical, versioned encoding (documented at the crate root).

use crate::error::{LedgerError, Result};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use time::{format_description::BorrowedFormatItem, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The version every entry this crate writes carries in `"v"`.
pub const ENTRY_VERSION: u64 = 1;

/// Entries are refused above this size; tiles would allow up to 64 KiB, but an entry holds
/// identifiers and digests only, so anything this large is a bug upstream.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024;

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`: one spelling per instant, so that the bytes (and the leaf hash)
/// are a function of the entry.
const TIME_FORMAT: &[BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The `kind` values of version 1, so that an unknown kind is told apart from a malformed entry.
const KINDS: [&str; 9] =
    ["release", "share", "onward-refused", "approval", "recall", "coalition", "policies", "activity", "conflict"];

/// What one log entry records. Identifiers and digests only, never content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    /// An object version (or some of its portions) given to a recipient.
    Release {
        object: String,
        version: String,
        portions: Vec<u32>,
        rendering: String,
        party: String,
        user: String,
        channel: String,
    },
    /// A holder passed content on to another party (onward release allowed).
    Share { object: String, version: String, holder: String, to: String, by: String },
    /// An onward release refused, with the rule that refused it.
    OnwardRefused { object: String, version: String, holder: String, to: String, by: String, rule: String },
    /// An approval requested, approved or denied (`decision`: "requested" | "approved" |
    /// "denied"); `until` RFC 3339 or None.
    Approval {
        approval: String,
        object: String,
        version: String,
        requester: String,
        to: String,
        decision: String,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<String>,
    },
    /// An object version recalled.
    Recall { object: String, version: String, by: String },
    /// A change of parties, groups, users, agreements or embargoes: `change` is the hub's one-line
    /// description (identifiers only), `state` the digest of the coalition after it.
    Coalition { change: String, state: String },
    /// Operator policies put in force: digest of the files, their names.
    Policies { digest: String, files: Vec<String> },
    /// A planned activity registered, amended or withdrawn (`change`). `activity` is the hub's
    /// blinded reference and `digest` commits to its party and content: the log tells no one
    /// who plans what, where.
    Activity { activity: String, revision: u64, change: String, digest: String },
    /// Two activities found in conflict and both parties notified: the blinded conflict and
    /// activity references, and a digest of both notices.
    Conflict { conflict: String, activities: Vec<String>, digest: String },
}

impl Event {
    /// The `kind` value this event is written with.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Release { .. } => "release",
            Event::Share { .. } => "share",
            Event::OnwardRefused { .. } => "onward-refused",
            Event::Approval { .. } => "approval",
            Event::Recall { .. } => "recall",
            Event::Coalition { .. } => "coalition",
            Event::Policies { .. } => "policies",
            Event::Activity { .. } => "activity",
            Event::Conflict { .. } => "conflict",
        }
    }
}

/// One log entry: when, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub time: OffsetDateTime,
    pub event: Event,
}

impl Entry {
    /// Canonical bytes: UTF-8 JSON object, keys sorted (byte order) at every level, no
    /// whitespace, `"v":1`, `"time"` as RFC 3339 UTC with exactly 3 fractional digits and `Z`
    /// (time truncated to ms), the event's fields flattened beside "kind" (absent Option fields
    /// omitted, not null). Errors if larger than [`MAX_ENTRY_BYTES`].
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut value = serde_json::to_value(&self.event)
            .map_err(|error| LedgerError::EntryMalformed { reason: format!("event does not serialize: {error}") })?;
        let Value::Object(fields) = &mut value else {
            return Err(LedgerError::EntryMalformed { reason: "event does not serialize to a JSON object".into() });
        };
        fields.insert("v".into(), Value::from(ENTRY_VERSION));
        fields.insert("time".into(), Value::String(format_time(self.time)?));
        let text = canonical_json(&value);
        if text.len() > MAX_ENTRY_BYTES {
            return Err(LedgerError::EntryTooLarge { size: text.len(), max: MAX_ENTRY_BYTES });
        }
        Ok(text.into_bytes())
    }

    /// Parses canonical bytes; refuses anything that is not exactly the canonical encoding of
    /// what it parses to (re-encode and compare), an unknown version or kind.
    pub fn decode(bytes: &[u8]) -> Result<Entry> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(LedgerError::EntryTooLarge { size: bytes.len(), max: MAX_ENTRY_BYTES });
        }
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|error| LedgerError::EntryMalformed { reason: format!("not JSON: {error}") })?;
        let Value::Object(mut fields) = value else {
            return Err(malformed("not a JSON object"));
        };
        match fields.remove("v") {
            Some(Value::Number(n)) if n.as_u64() == Some(ENTRY_VERSION) => {}
            Some(other) => return Err(LedgerError::UnknownVersion { version: other.to_string() }),
            None => return Err(malformed("no \"v\" field")),
        }
        match fields.get("kind") {
            Some(Value::String(kind)) if KINDS.contains(&kind.as_str()) => {}
            Some(Value::String(kind)) => return Err(LedgerError::UnknownKind { kind: kind.clone() }),
            Some(_) => return Err(malformed("\"kind\" is not a string")),
            None => return Err(malformed("no \"kind\" field")),
        }
        let time = match fields.remove("time") {
            Some(Value::String(text)) => parse_time(&text)?,
            Some(_) => return Err(malformed("\"time\" is not a string")),
            None => return Err(malformed("no \"time\" field")),
        };
        let event: Event = serde_json::from_value(Value::Object(fields))
            .map_err(|error| LedgerError::EntryMalformed { reason: format!("event fields: {error}") })?;
        let entry = Entry { time, event };
        if entry.encode()? != bytes {
            return Err(LedgerError::NonCanonicalEntry);
        }
        Ok(entry)
    }
}

fn malformed(reason: &str) -> LedgerError {
    LedgerError::EntryMalformed { reason: reason.into() }
}

/// RFC 3339 UTC, milliseconds, `Z`; years outside 0000..=9999 have no RFC 3339 form.
fn format_time(time: OffsetDateTime) -> Result<String> {
    let utc = time.to_offset(UtcOffset::UTC);
    if !(0..=9999).contains(&utc.year()) {
        return Err(LedgerError::BadTime { time: utc.to_string(), reason: "year outside 0000..=9999".into() });
    }
    utc.format(TIME_FORMAT).map_err(|error| LedgerError::BadTime { time: utc.to_string(), reason: error.to_string() })
}

fn parse_time(text: &str) -> Result<OffsetDateTime> {
    PrimitiveDateTime::parse(text, TIME_FORMAT).map(PrimitiveDateTime::assume_utc).map_err(|error| {
        LedgerError::EntryMalformed { reason: format!("\"time\" {text:?} is not YYYY-MM-DDTHH:MM:SS.mmmZ: {error}") }
    })
}

/// SHA-256 of the canonical JSON (same canonical rules: sorted keys, compact, serde_json's
/// string escaping) of a rendering; what a Release's `rendering` field holds, as `digest_text`.
pub fn rendering_digest(value: &Value) -> [u8; 32] {
    Sha256::digest(canonical_json(value).as_bytes()).into()
}

/// "sha256:" + lowercase hex.
pub fn digest_text(digest: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(digest))
}

/// Inverse of [`digest_text`]; only the exact form it writes is accepted.
pub fn parse_digest_text(text: &str) -> Result<[u8; 32]> {
    let bad = || LedgerError::BadDigest { text: text.into() };
    let hex_part = text.strip_prefix("sha256:").ok_or_else(bad)?;
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(bad());
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut digest).map_err(|_| bad())?;
    Ok(digest)
}

/// Compact JSON with object keys sorted by bytes at every level. Written by hand rather than
/// through `serde_json::Map` because the workspace turns on `preserve_order`, which would keep
/// insertion order instead.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::with_capacity(512);
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            let _ = write!(out, "{number}");
        }
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

fn write_object(map: &Map<String, Value>, out: &mut String) {
    let mut fields: Vec<(&String, &Value)> = map.iter().collect();
    fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (position, (key, item)) in fields.into_iter().enumerate() {
        if position > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write_value(item, out);
    }
    out.push('}');
}

/// serde_json's escaping: `"` and `\`, the short escapes for \b \f \n \r \t, `\u00xx`
/// (lowercase hex) for the other control characters, everything else as UTF-8.
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    // Runs without an escape are copied whole: every character escaped is ASCII, so a run
    // always ends on a character boundary.
    let mut run_start = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            control if control < 0x20 => "",
            _ => continue,
        };
        out.push_str(&text[run_start..at]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escaped);
        }
        run_start = at + 1;
    }
    out.push_str(&text[run_start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn release() -> Entry {
        Entry {
            time: datetime!(2025-03-04 05:06:07.891234 UTC),
            event: Event::Release {
                object: "obj-1".into(),
                version: "v2".into(),
                portions: vec![1, 3],
                rendering: digest_text(&[7; 32]),
                party: "acme".into(),
                user: "alice".into(),
                channel: "web".into(),
            },
        }
    }

    #[test]
    fn encodes_the_documented_bytes() {
        let bytes = release().encode().unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!(
                "{{\"channel\":\"web\",\"kind\":\"release\",\"object\":\"obj-1\",\"party\":\"acme\",\
                 \"portions\":[1,3],\"rendering\":\"sha256:{}\",\"time\":\"2025-03-04T05:06:07.891Z\",\
                 \"user\":\"alice\",\"v\":1,\"version\":\"v2\"}}",
                "07".repeat(32)
            )
        );
    }

    #[test]
    fn time_is_truncated_and_made_utc() {
        let mut entry = release();
        entry.time = datetime!(2025-03-04 07:06:07.999999 +02:00);
        let text = String::from_utf8(entry.encode().unwrap()).unwrap();
        assert!(text.contains("\"time\":\"2025-03-04T05:06:07.999Z\""), "{text}");
        let back = Entry::decode(text.as_bytes()).unwrap();
        assert_eq!(back.time, datetime!(2025-03-04 05:06:07.999 UTC));
    }

    #[test]
    fn absent_until_is_omitted_and_null_refused() {
        let entry = Entry {
            time: datetime!(2025-01-01 00:00:00 UTC),
            event: Event::Approval {
                approval: "a1".into(),
                object: "o".into(),
                version: "1".into(),
                requester: "r".into(),
                to: "t".into(),
                decision: "requested".into(),
                by: "b".into(),
                until: None,
            },
        };
        let text = String::from_utf8(entry.encode().unwrap()).unwrap();
        assert!(!text.contains("until"));
        assert_eq!(Entry::decode(text.as_bytes()).unwrap(), entry);
        let with_null = text.replacen("\"to\"", "\"until\":null,\"to\"", 1);
        assert!(matches!(Entry::decode(with_null.as_bytes()), Err(LedgerError::NonCanonicalEntry)));
    }

    #[test]
    fn canonical_json_sorts_nested_keys_regardless_of_insertion_order() {
        let value = serde_json::json!({"b": {"z": 1, "a": [ {"y": null, "x": true} ]}, "a": "\u{1}\"\\/é"});
        assert_eq!(
            canonical_json(&value),
            "{\"a\":\"\\u0001\\\"\\\\/é\",\"b\":{\"a\":[{\"x\":true,\"y\":null}],\"z\":1}}"
        );
    }

    #[test]
    fn digest_text_round_trips_and_refuses_other_forms() {
        let digest = [0xab; 32];
        let text = digest_text(&digest);
        assert_eq!(parse_digest_text(&text).unwrap(), digest);
        assert!(parse_digest_text(&text.to_uppercase()).is_err());
        assert!(parse_digest_text(&text.replace("sha256:", "sha512:")).is_err());
        assert!(parse_digest_text(&text[..text.len() - 1]).is_err());
    }

    proptest::proptest! {
        /// Strings are written as serde_json writes them (the same escapes, the same lowercase
        /// `\u00XX`, everything else as UTF-8).
        #[test]
        fn strings_are_written_as_serde_json_writes_them(text in "(\\PC|[\\x00-\\x1f\"\\\\])*") {
            let mut out = String::new();
            write_string(&text, &mut out);
            proptest::prop_assert_eq!(out, serde_json::to_string(&text).unwrap());
        }
    }
}
