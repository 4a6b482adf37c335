//! Fixtures shared by the unit tests of the STIX modules.

use serde_json::{json, Value};

use crate::{Code, CodeKind, Directory};

pub(crate) struct Coalition;

impl Directory for Coalition {
    fn kind_of(&self, code: &Code) -> Option<CodeKind> {
        match code.as_str() {
            "USA" | "IRQ" | "GBR" | "SYR" => Some(CodeKind::Party),
            "BIC" | "FVEY" => Some(CodeKind::Group),
            _ => None,
        }
    }
}

pub(crate) fn usa() -> Code {
    Code::new("USA").unwrap()
}

/// A valid id of `object_type`, distinct per `n` (UUID version 4, RFC 4122 variant).
pub(crate) fn id(object_type: &str, n: u32) -> String {
    format!("{object_type}--{}", uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | u128::from(n)))
}

pub(crate) const T0: &str = "2026-01-02T03:04:05.000Z";
pub(crate) const T1: &str = "2026-01-03T03:04:05.123Z";

/// A valid report referring to `refs` other objects.
pub(crate) fn report(refs: u32) -> Value {
    json!({
        "type": "report",
        "spec_version": "2.1",
        "id": id("report", 1),
        "created": T0,
        "modified": T1,
        "name": "Route clearance",
        "published": T0,
        "object_refs": (0..refs).map(|n| id("indicator", 100 + n)).collect::<Vec<_>>(),
    })
}

/// Sets `property` of `object` to `value`.
pub(crate) fn with(mut object: Value, property: &str, value: Value) -> Value {
    object[property] = value;
    object
}

/// Removes `property` from `object`.
pub(crate) fn without(mut object: Value, property: &str) -> Value {
    if let Some(fields) = object.as_object_mut() {
        fields.shift_remove(property);
    }
    object
}
