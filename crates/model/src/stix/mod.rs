//! The STIX 2.1 form of reports and markings, and any STIX 2.1 object as the hub keeps, marks and
//! renders it per recipient ([`StixObject`], [`MarkingMeaning`], [`ObjectPortions`], [`render`]).
//!
//! TLP uses the official OASIS marking definitions. Classification, caveats and `REL TO` use
//! Tearline's marking-definition extension, with the DHS ISA/ACS 3.0 extension beside it in the same
//! definition wherever ISA/ACS can say the same thing (the mapping both ways is documented in
//! `definitions.rs`, which reads both); a report's paragraphs live in Tearline's report
//! extension, one list element per paragraph, so that each is addressed by a granular-marking
//! selector (`extensions.<id>.paragraphs.[i]`) like the title is by `name`.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Code, Marking, Portion, Rendering, Report, Topic};

mod definitions;
mod error;
mod object;
mod portions;
mod render;
mod selector;
mod spec;
#[cfg(test)]
mod test_support;

pub use crate::marking::Restriction;
pub use definitions::{builtin_marking, MarkingMeaning, ACS_CUSTODIAN, ACS_EXTENSION_ID};
pub use error::StixError;
pub use object::StixObject;
pub use portions::ObjectPortions;
pub use render::render;

/// Tearline's marking-definition extension (classification, caveats, `REL TO`).
pub const MARKING_EXTENSION_ID: &str = "extension-definition--a3c20081-d93f-4415-8b00-9b1fd0614588";
/// Tearline's report extension (portion-marked paragraphs).
pub const REPORT_EXTENSION_ID: &str = "extension-definition--973390c6-34f1-41a2-9976-d583978dd9fa";
/// The hub's own identity, author of the extension definitions.
pub const HUB_IDENTITY_ID: &str = "identity--6f0b1f6c-6a43-5b9e-8f7c-5c1a3e0d2b4f";
/// Namespace of Tearline's name-based (v5) STIX ids.
const NAMESPACE: Uuid = Uuid::from_u128(0xbc7f0b84_7a5e_4b64_a80f_246dcdad3d23);
/// When Tearline's own definitions were first published; they never change.
const DEFINITIONS_CREATED: &str = "2026-11-27T00:00:00.000Z";

/// Free-text properties whose prose copied-text detection compares (not patterns, names of
/// things or identifiers: those are data, not writing).
pub const PROSE_PROPERTIES: [&str; 5] = ["description", "abstract", "content", "explanation", "summary"];

/// The prose of an object, by portion: each top-level prose property with the portion that
/// holds it (its own granular selector, else the object's portion 0).
pub fn prose_portions(object: &StixObject, portions: &ObjectPortions) -> Vec<(usize, String)> {
    PROSE_PROPERTIES
        .iter()
        .filter_map(|property| {
            let text = object.json().get(*property)?.as_str()?;
            let portion = portions.selectors().iter().position(|s| s == property).map_or(0, |i| i + 1);
            Some((portion, text.to_string()))
        })
        .collect()
}

/// Whether `text` is a STIX identifier: `<type>--<RFC 4122 UUID>`.
pub fn is_object_id(text: &str) -> bool {
    object::id_problem(text).is_none()
}

/// STIX timestamps: RFC 3339, UTC, millisecond precision.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let millis = at.millisecond();
    let seconds = at.replace_nanosecond(0).unwrap_or(at);
    let text = seconds.format(&Rfc3339).unwrap_or_default();
    format!("{}.{millis:03}Z", text.trim_end_matches('Z'))
}

/// The `identity` id of a party.
pub fn party_identity_id(party: &Code) -> String {
    format!("identity--{}", Uuid::new_v5(&NAMESPACE, format!("party:{party}").as_bytes()))
}

/// The STIX `identity` of a party.
pub fn party_identity(party: &Code, name: &str) -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": party_identity_id(party),
        "created": DEFINITIONS_CREATED,
        "modified": DEFINITIONS_CREATED,
        "name": name,
        "identity_class": "organization",
    })
}

/// Whether a marking needs Tearline's marking definition (anything beyond a bare TLP).
fn has_classified_part(marking: &Marking) -> bool {
    marking.tlp().is_none() || marking.banner() != marking.tlp().map(|t| t.to_string()).unwrap_or_default()
}

/// The id of Tearline's marking definition for `marking` written by `originator`.
pub fn marking_definition_id(marking: &Marking, originator: &Code) -> String {
    format!("marking-definition--{}", marking_definition_uuid(marking, originator))
}

fn marking_definition_uuid(marking: &Marking, originator: &Code) -> Uuid {
    let key = format!("marking:{originator}:{}", without_tlp(marking));
    Uuid::new_v5(&NAMESPACE, key.as_bytes())
}

/// The banner without its TLP part (`SECRET//REL TO USA, IRQ`).
fn without_tlp(marking: &Marking) -> String {
    let banner = marking.banner();
    match marking.tlp() {
        Some(tlp) => banner.trim_end_matches(&tlp.to_string()).trim_end_matches("//").to_string(),
        None => banner,
    }
}

/// The marking-definition ids a marking stands for: Tearline's, then the TLP one.
pub fn marking_refs(marking: &Marking, originator: &Code) -> Vec<String> {
    let mut refs = Vec::new();
    if has_classified_part(marking) {
        refs.push(marking_definition_id(marking, originator));
    }
    if let Some(tlp) = marking.tlp() {
        refs.push(tlp.marking_definition_id().to_string());
    }
    refs
}

/// Tearline's marking-definition object for `marking`, when it needs one: Tearline's extension,
/// and beside it the ISA/ACS 3.0 entry with the same meaning for ISA/ACS-aware readers, unless
/// ISA/ACS cannot say it without widening it (the mapping is in `definitions.rs`). Everything in
/// it derives from the marking and the originator, so it is the same object, byte for byte, every
/// time: STIX marking definitions never change, and the hub refuses one that differs from the
/// stored one.
pub fn marking_definition(marking: &Marking, originator: &Code) -> Option<Value> {
    if !has_classified_part(marking) {
        return None;
    }
    let mut caveats = Vec::new();
    if marking.is_orcon() {
        caveats.push("ORCON");
    }
    if marking.is_noforn() {
        caveats.push("NOFORN");
    }
    let mut extension = json!({
        "extension_type": "property-extension",
        "originator": originator.as_str(),
        "classification": marking.classification().abbreviation(),
    });
    // STIX has no empty lists: no caveats, no `caveats`.
    if let (false, Some(fields)) = (caveats.is_empty(), extension.as_object_mut()) {
        fields.insert("caveats".into(), json!(caveats));
    }
    if let (Some(list), Some(fields)) = (marking.rel_to(), extension.as_object_mut()) {
        let codes: Vec<&str> = list.parties().chain(list.groups()).map(Code::as_str).collect();
        fields.insert("rel_to".into(), json!(codes));
    }
    let uuid = marking_definition_uuid(marking, originator);
    let name = without_tlp(marking);
    let mut extensions = serde_json::Map::new();
    extensions.insert(MARKING_EXTENSION_ID.into(), extension);
    if let Some(acs) = definitions::acs_entry(marking, originator, &uuid.to_string(), &name) {
        extensions.insert(ACS_EXTENSION_ID.into(), acs);
    }
    Some(json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": format!("marking-definition--{uuid}"),
        "created": DEFINITIONS_CREATED,
        "created_by_ref": HUB_IDENTITY_ID,
        "name": name,
        "extensions": extensions,
    }))
}

/// The hub's identity and Tearline's extension definitions, served to whoever receives objects
/// that use them.
pub fn extension_definitions() -> Vec<Value> {
    let common = |id: &str, name: &str, description: &str, schema: Value| {
        json!({
            "type": "extension-definition",
            "spec_version": "2.1",
            "id": id,
            "created": DEFINITIONS_CREATED,
            "modified": DEFINITIONS_CREATED,
            "created_by_ref": HUB_IDENTITY_ID,
            "name": name,
            "description": description,
            "schema": schema.to_string(),
            "version": "1.0.0",
            "extension_types": ["property-extension"],
        })
    };
    let marking_schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Tearline marking",
        "type": "object",
        "properties": {
            "extension_type": { "const": "property-extension" },
            "originator": { "type": "string", "pattern": "^[A-Z]{3,8}$" },
            "classification": { "enum": ["U", "C", "S", "TS"] },
            "caveats": { "type": "array", "items": { "enum": ["ORCON", "NOFORN"] }, "minItems": 1, "uniqueItems": true },
            "rel_to": { "type": "array", "items": { "type": "string", "pattern": "^[A-Z]{3,8}$" }, "minItems": 1, "uniqueItems": true }
        },
        "required": ["extension_type", "originator", "classification"],
        "not": { "required": ["rel_to"], "properties": { "caveats": { "contains": { "const": "NOFORN" } } } },
        "additionalProperties": false
    });
    let report_schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Tearline portion-marked report",
        "type": "object",
        "properties": {
            "extension_type": { "const": "property-extension" },
            "paragraphs": { "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 1 }
        },
        "required": ["extension_type", "paragraphs"],
        "additionalProperties": false
    });
    vec![
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": HUB_IDENTITY_ID,
            "created": DEFINITIONS_CREATED,
            "modified": DEFINITIONS_CREATED,
            "name": "Tearline",
            "identity_class": "system",
        }),
        common(
            MARKING_EXTENSION_ID,
            "Tearline marking",
            "Classification (U, C, S, TS), caveats (ORCON, NOFORN) and REL TO list of a marking \
             definition; the originator is always releasable. NOFORN and REL TO exclude each other.",
            marking_schema,
        ),
        common(
            REPORT_EXTENSION_ID,
            "Tearline portion-marked report",
            "The paragraphs of a portion-marked report, each addressed by a granular-marking selector \
             `extensions.<this id>.paragraphs.[i]`; the title is the report's `name`.",
            report_schema,
        ),
    ]
}

fn paragraph_selector(index: usize) -> String {
    format!("extensions.{REPORT_EXTENSION_ID}.paragraphs.[{index}]")
}

/// Granular markings for the title and for paragraphs at their (possibly renumbered) positions.
fn granular_markings<'a>(
    originator: &Code,
    title: &Portion,
    paragraphs: impl Iterator<Item = &'a Portion>,
) -> Vec<Value> {
    let mut markings = Vec::new();
    let mut add = |portion: &Portion, selector: String| {
        for marking_ref in marking_refs(&portion.marking, originator) {
            markings.push(json!({ "marking_ref": marking_ref, "selectors": [selector.clone()] }));
        }
    };
    add(title, "name".to_string());
    for (index, paragraph) in paragraphs.enumerate() {
        add(paragraph, paragraph_selector(index));
    }
    markings
}

fn report_object(
    id: &str,
    originator: &Code,
    created: OffsetDateTime,
    title: &Portion,
    topics: &std::collections::BTreeSet<Topic>,
    paragraphs: &[&Portion],
    banner: Option<&Marking>,
) -> Value {
    let created = timestamp(created);
    let mut object = json!({
        "type": "report",
        "spec_version": "2.1",
        "id": id,
        "created": created,
        "modified": created,
        "created_by_ref": party_identity_id(originator),
        "name": title.text,
        "published": created,
        "report_types": ["threat-report"],
        "object_refs": [party_identity_id(originator)],
        "granular_markings": granular_markings(originator, title, paragraphs.iter().copied()),
        "extensions": {
            REPORT_EXTENSION_ID: {
                "extension_type": "property-extension",
                "paragraphs": paragraphs.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(),
            }
        },
    });
    if let Some(fields) = object.as_object_mut() {
        if !topics.is_empty() {
            fields.insert("labels".into(), json!(topics.iter().map(Topic::as_str).collect::<Vec<_>>()));
        }
        if let Some(banner) = banner {
            fields.insert("object_marking_refs".into(), json!(marking_refs(banner, originator)));
        }
    }
    object
}

/// The stored report as STIX: every portion, each with its own granular marking.
pub fn report_to_stix(report: &Report) -> Value {
    let paragraphs: Vec<&Portion> = report.paragraphs.iter().collect();
    report_object(&report.id, &report.originator, report.created, &report.title, &report.topics, &paragraphs, None)
}

/// A recipient's rendering as STIX: only the shown paragraphs, selectors renumbered to match, and
/// the rendering's banner as the object marking.
pub fn rendering_to_stix(rendering: &Rendering) -> Value {
    let paragraphs: Vec<&Portion> = rendering.paragraphs.iter().map(|(_, p)| p).collect();
    report_object(
        &rendering.id,
        &rendering.originator,
        rendering.created,
        &rendering.title,
        &rendering.topics,
        &paragraphs,
        Some(&rendering.banner),
    )
}

/// Every marking-definition object a rendering refers to (Tearline's; TLP ones are well known
/// but included too, so a bundle is self-contained).
pub fn marking_definitions_of(rendering: &Rendering) -> Vec<Value> {
    let markings = std::iter::once(&rendering.banner)
        .chain(std::iter::once(&rendering.title.marking))
        .chain(rendering.paragraphs.iter().map(|(_, p)| &p.marking));
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for marking in markings {
        if let Some(definition) = marking_definition(marking, &rendering.originator) {
            let id = definition["id"].as_str().unwrap_or_default().to_string();
            if seen.insert(id) {
                out.push(definition);
            }
        }
        if let Some(tlp) = marking.tlp() {
            if seen.insert(tlp.marking_definition_id().to_string()) {
                out.push(tlp_definition(tlp));
            }
        }
    }
    out
}

/// The official TLP 2.0 marking-definition object.
pub fn tlp_definition(tlp: crate::Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp.marking_definition_id(),
        "created": "2022-10-01T00:00:00.000Z",
        "name": tlp.to_string(),
        "extensions": {
            crate::tlp::TLP2_EXTENSION_ID: { "extension_type": "property-extension", "tlp_2_0": tlp.level().to_lowercase() }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CodeKind, Directory, ReportDraft};

    struct Coalition;

    impl Directory for Coalition {
        fn kind_of(&self, code: &Code) -> Option<CodeKind> {
            ["USA", "IRQ"].contains(&code.as_str()).then_some(CodeKind::Party)
        }
    }

    fn report() -> Report {
        let usa = Code::new("USA").unwrap();
        let draft =
            ReportDraft::parse(include_str!("../../../../examples/route-clearance.md"), &usa, &Coalition).unwrap();
        Report {
            id: "report--8e2e2d2b-17d4-4cbc-8938-098e3fdc4a6e".into(),
            originator: usa,
            created: time::macros::datetime!(2026-11-27 13:28:14.5 UTC),
            title: draft.title,
            topics: draft.topics,
            paragraphs: draft.paragraphs,
        }
    }

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(timestamp(time::macros::datetime!(2026-11-27 13:28:14.5 UTC)), "2026-11-27T13:28:14.500Z");
    }

    #[test]
    fn every_portion_is_addressed_by_a_granular_marking() {
        let stix = report_to_stix(&report());
        assert_eq!(stix["name"], "Route clearance results, third quarter");
        assert_eq!(stix["extensions"][REPORT_EXTENSION_ID]["paragraphs"].as_array().map(Vec::len), Some(5));
        let selectors: Vec<String> = stix["granular_markings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["selectors"][0].as_str().unwrap().to_string())
            .collect();
        assert_eq!(selectors[0], "name");
        assert_eq!(selectors[4], paragraph_selector(3));
        assert_eq!(selectors.len(), 6);
        assert!(stix.get("object_marking_refs").is_none());
    }

    #[test]
    fn a_rendering_renumbers_its_selectors_and_carries_its_banner() {
        let report = report();
        let rendering = report.render(|i| i != 2).unwrap();
        let stix = rendering_to_stix(&rendering);
        let paragraphs = stix["extensions"][REPORT_EXTENSION_ID]["paragraphs"].as_array().unwrap();
        assert_eq!(paragraphs.len(), 4);
        assert_eq!(paragraphs[1], report.paragraphs[2].text.as_str());
        let usa = Code::new("USA").unwrap();
        let second = &stix["granular_markings"][2];
        assert_eq!(second["selectors"][0], paragraph_selector(1).as_str());
        assert_eq!(second["marking_ref"], marking_definition_id(&report.paragraphs[2].marking, &usa).as_str());
        assert_eq!(stix["object_marking_refs"][0], marking_definition_id(&rendering.banner, &usa).as_str());
        let definitions = marking_definitions_of(&rendering);
        assert!(definitions.iter().any(|d| d["name"] == "SECRET//ORCON/NOFORN"));
    }

    #[test]
    fn markings_map_to_tearline_and_tlp_definitions() {
        let usa = Code::new("USA").unwrap();
        let both = Marking::parse("S//REL TO IRQ//TLP:AMBER", &usa, &Coalition).unwrap();
        let refs = marking_refs(&both, &usa);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[1], crate::Tlp::Amber.marking_definition_id());
        let definition = marking_definition(&both, &usa).unwrap();
        assert_eq!(definition["extensions"][MARKING_EXTENSION_ID]["rel_to"], json!(["USA", "IRQ"]));
        assert_eq!(definition["name"], "SECRET//REL TO USA, IRQ");
        let tlp_only = Marking::parse("TLP:RED", &usa, &Coalition).unwrap();
        assert_eq!(marking_refs(&tlp_only, &usa), vec![crate::Tlp::Red.marking_definition_id().to_string()]);
        assert!(marking_definition(&tlp_only, &usa).is_none());
        assert_eq!(extension_definitions().len(), 3);
    }
}
