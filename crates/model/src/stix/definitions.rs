//! What a marking definition means for release: a TLP level, a restriction (classification,
//! caveats, `REL TO`), or a statement that restricts nothing. Definitions the hub cannot read are
//! refused rather than guessed at, so nothing is released under a marking it did not understand.
//!
//! ISA/ACS 3.0 (`extension-definition--3a65884d-...`) is read conservatively, never releasing more:
//!
//! - `control_set.classification` (required): the classification.
//! - `formal_determination` `NF`/`NOFORN`: NOFORN; `OC`/`ORCON`: ORCON; `PUBREL`, `FOUO`, `AIS`, the
//!   PII notes and `INFORMATION-DIRECTLY-RELATED-TO-CYBERSECURITY-THREAT`: nothing.
//! - `caveat` `FISA`: NOFORN; `CISAPROPRIETARY`: ORCON; `POSSIBLEPII`: nothing.
//! - `sensitivity`, `shareability`, `entity` (unless all seven), `permitted_organizations`: NOFORN,
//!   since they limit readers within communities the hub cannot see; the originator's party keeps it.
//! - `permitted_nationalities` of the control set and of every permitting `access_privilege`:
//!   `REL TO` their intersection (`ALL` is no limit; only the originator left is NOFORN).
//! - `further_sharing` other than "permit ALL", or `sharedefault=deny` without it: ORCON.
//! - `sci_controls`, `logical_authority_category`, a denying `access_privilege`, or any value not
//!   listed here: refused.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::error::StixError;
use super::object::StixObject;
use super::MARKING_EXTENSION_ID;
use crate::{Classification, Code, Restriction, Tlp};

/// The DHS ISA/ACS 3.0 marking extension.
pub const ACS_EXTENSION_ID: &str = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce";

/// What a marking definition means for release.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MarkingMeaning {
    Tlp(Tlp),
    Restriction(Restriction),
    /// A `statement` marking (copyright, terms of use): understood, restricts nothing.
    Statement,
}

/// The meaning of the well-known TLP 2.0 and TLP 1.0 marking definitions (TLP 1.0 WHITE is CLEAR).
pub fn builtin_marking(id: &str) -> Option<MarkingMeaning> {
    Tlp::from_marking_definition_id(id).map(MarkingMeaning::Tlp)
}

impl MarkingMeaning {
    /// Reads a marking-definition object: TLP (1.0 `definition_type: tlp`, 2.0 extension),
    /// `statement`, Tearline's extension (as [`super::marking_definition`] writes it) and ISA/ACS 3.0.
    /// Anything else is [`StixError::UnsupportedMarking`].
    pub fn of_definition(definition: &StixObject) -> Result<MarkingMeaning, StixError> {
        let id = definition.id();
        let unsupported = |reason: String| StixError::UnsupportedMarking { id: id.to_string(), reason };
        if definition.object_type() != "marking-definition" {
            return Err(unsupported(format!("a `{}` is not a marking definition", definition.object_type())));
        }
        if let Some(meaning) = builtin_marking(id) {
            return Ok(meaning);
        }
        let fields = definition.json();
        let mut meanings = Vec::new();
        if let Some(definition_type) = fields.get("definition_type") {
            let body = fields.get("definition").and_then(Value::as_object);
            meanings.push(match (definition_type.as_str(), body) {
                (Some("statement"), Some(body)) if body.get("statement").is_some_and(Value::is_string) => {
                    MarkingMeaning::Statement
                }
                (Some("tlp"), Some(body)) => {
                    let level = body.get("tlp").and_then(Value::as_str).unwrap_or_default();
                    let tlp = match level {
                        "white" | "green" | "amber" | "red" => Tlp::parse_level(level),
                        _ => None,
                    };
                    MarkingMeaning::Tlp(tlp.ok_or_else(|| unsupported(format!("`{level}` is not a TLP 1.0 level")))?)
                }
                (Some(other @ ("statement" | "tlp")), _) => {
                    return Err(unsupported(format!("its `{other}` definition is malformed")))
                }
                _ => return Err(unsupported(format!("definition_type {definition_type} is not understood"))),
            });
        }
        if let Some(extensions) = fields.get("extensions").and_then(Value::as_object) {
            for (extension_id, body) in extensions {
                let body =
                    body.as_object().ok_or_else(|| unsupported(format!("extension `{extension_id}` is empty")))?;
                let meaning = match extension_id.as_str() {
                    MARKING_EXTENSION_ID => tearline(body).map(MarkingMeaning::Restriction),
                    ACS_EXTENSION_ID => acs(body).map(MarkingMeaning::Restriction),
                    crate::tlp::TLP2_EXTENSION_ID => tlp2(body).map(MarkingMeaning::Tlp),
                    other => Err(format!("extension `{other}` is not understood")),
                };
                meanings.push(meaning.map_err(unsupported)?);
            }
        }
        let restricting: Vec<MarkingMeaning> =
            meanings.iter().filter(|m| **m != MarkingMeaning::Statement).cloned().collect();
        match (restricting.as_slice(), meanings.is_empty()) {
            (_, true) => Err(unsupported("it has neither a definition nor an extension".into())),
            ([], false) => Ok(MarkingMeaning::Statement),
            ([one], false) => Ok(one.clone()),
            _ => Err(unsupported("it combines several markings in one definition".into())),
        }
    }
}

fn tlp2(body: &Map<String, Value>) -> Result<Tlp, String> {
    let level = body.get("tlp_2_0").and_then(Value::as_str).unwrap_or_default();
    Tlp::parse_level(level).filter(|_| level != "white").ok_or_else(|| format!("`{level}` is not a TLP 2.0 level"))
}

fn code(text: &Value, field: &str) -> Result<Code, String> {
    let text = text.as_str().ok_or_else(|| format!("`{field}` must hold codes"))?;
    Code::new(text).map_err(|e| format!("`{field}`: {e}"))
}

/// Tearline's own marking extension, exactly the fields [`super::marking_definition`] writes.
fn tearline(body: &Map<String, Value>) -> Result<Restriction, String> {
    for field in body.keys() {
        if !["extension_type", "originator", "classification", "caveats", "rel_to"].contains(&field.as_str()) {
            return Err(format!("Tearline marking field `{field}` is not understood"));
        }
    }
    let originator = code(body.get("originator").unwrap_or(&Value::Null), "originator")?;
    let classification = body.get("classification").and_then(Value::as_str).and_then(Classification::parse);
    let classification = classification.ok_or("Tearline marking needs a classification U, C, S or TS")?;
    // Absent means none: STIX (and its validator) has no empty lists.
    let no_caveats = Vec::new();
    let caveats = match body.get("caveats") {
        None => &no_caveats,
        Some(list) => list.as_array().filter(|l| !l.is_empty()).ok_or("`caveats` is not a non-empty list")?,
    };
    let mut restriction = Restriction { classification, orcon: false, noforn: false, rel_to: None };
    for caveat in caveats {
        match caveat.as_str() {
            Some("ORCON") => restriction.orcon = true,
            Some("NOFORN") => restriction.noforn = true,
            _ => return Err(format!("caveat {caveat} is not ORCON or NOFORN")),
        }
    }
    if let Some(list) = body.get("rel_to") {
        let items = list.as_array().filter(|items| !items.is_empty()).ok_or("`rel_to` must be a non-empty list")?;
        if restriction.noforn {
            return Err("NOFORN and REL TO cannot be used together".into());
        }
        let mut codes: BTreeSet<Code> = items.iter().map(|item| code(item, "rel_to")).collect::<Result<_, _>>()?;
        codes.insert(originator);
        restriction.rel_to = Some(codes);
    }
    Ok(restriction)
}

/// Strings of an ACS list field; `None` when absent or `["ALL"]` (no limit).
fn acs_list<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<Vec<&'a str>>, String> {
    let Some(value) = body.get(field) else { return Ok(None) };
    let items = value.as_array().ok_or_else(|| format!("ACS `{field}` must be a list"))?;
    let texts: Vec<&str> = items
        .iter()
        .map(|i| i.as_str().ok_or_else(|| format!("ACS `{field}` must hold strings")))
        .collect::<Result<_, _>>()?;
    Ok((texts != ["ALL"]).then_some(texts))
}

fn narrow_rel_to(restriction: &mut Restriction, nationalities: &[&str]) -> Result<(), String> {
    let codes: BTreeSet<Code> = nationalities
        .iter()
        .map(|n| Code::new(n).map_err(|e| format!("`permitted_nationalities`: {e}")))
        .collect::<Result<_, _>>()?;
    restriction.rel_to = Some(match restriction.rel_to.take() {
        Some(previous) => previous.intersection(&codes).cloned().collect(),
        None => codes,
    });
    Ok(())
}

/// The ISA/ACS 3.0 marking extension, read by the table in this module's documentation.
fn acs(body: &Map<String, Value>) -> Result<Restriction, String> {
    let controls = body.get("control_set").and_then(Value::as_object).ok_or("ACS marking needs a `control_set`")?;
    let classification = controls.get("classification").and_then(Value::as_str);
    let classification = classification
        .filter(|c| ["U", "C", "S", "TS"].contains(c))
        .and_then(Classification::parse)
        .ok_or("ACS `control_set.classification` must be U, C, S or TS")?;
    let mut restriction = Restriction { classification, orcon: false, noforn: false, rel_to: None };
    for field in ["sci_controls", "logical_authority_category"] {
        if controls.contains_key(field) {
            return Err(format!("ACS `control_set.{field}` cannot be enforced by the hub"));
        }
    }
    for value in acs_list(controls, "formal_determination")?.unwrap_or_default() {
        match value {
            "NF" | "NOFORN" => restriction.noforn = true,
            "OC" | "ORCON" => restriction.orcon = true,
            "PUBREL"
            | "AIS"
            | "FOUO"
            | "PII-NECESSARY-TO-UNDERSTAND-THREAT"
            | "NO-PII-PRESENT"
            | "INFORMATION-DIRECTLY-RELATED-TO-CYBERSECURITY-THREAT" => {}
            other => return Err(format!("ACS formal determination `{other}` is not understood")),
        }
    }
    for value in acs_list(controls, "caveat")?.unwrap_or_default() {
        match value {
            "FISA" => restriction.noforn = true,
            "CISAPROPRIETARY" => restriction.orcon = true,
            "POSSIBLEPII" => {}
            other => return Err(format!("ACS caveat `{other}` is not understood")),
        }
    }
    const ALL_ENTITIES: [&str; 7] = ["MIL", "GOV", "CTR", "SVR", "SVC", "DEV", "NET"];
    let entity_limited = |scope: &Map<String, Value>| -> Result<bool, String> {
        Ok(acs_list(scope, "entity")?.is_some_and(|listed| !ALL_ENTITIES.iter().all(|e| listed.contains(e))))
    };
    let community_limited = |scope: &Map<String, Value>| -> Result<bool, String> {
        Ok(acs_list(scope, "permitted_organizations")?.is_some()
            || acs_list(scope, "shareability")?.is_some()
            || entity_limited(scope)?)
    };
    if community_limited(controls)? || acs_list(controls, "sensitivity")?.is_some() {
        restriction.noforn = true;
    }
    if let Some(nationalities) = acs_list(controls, "permitted_nationalities")? {
        narrow_rel_to(&mut restriction, &nationalities)?;
    }
    if let Some(privileges) = body.get("access_privilege") {
        let privileges = privileges.as_array().ok_or("ACS `access_privilege` must be a list")?;
        for privilege in privileges {
            let effect = privilege.get("rule_effect").and_then(Value::as_str);
            if effect != Some("permit") {
                return Err("ACS access privileges other than `permit` cannot be enforced by the hub".into());
            }
            let scope = privilege.get("privilege_scope").and_then(Value::as_object);
            let scope = scope.ok_or("ACS access privilege needs a `privilege_scope`")?;
            if community_limited(scope)? {
                restriction.noforn = true;
            }
            if let Some(nationalities) = acs_list(scope, "permitted_nationalities")? {
                narrow_rel_to(&mut restriction, &nationalities)?;
            }
        }
    }
    let sharing = body.get("further_sharing").and_then(Value::as_array);
    let permits_all = |rule: &Value| {
        rule.get("rule_effect").and_then(Value::as_str) == Some("permit")
            && rule.get("sharing_scope").and_then(Value::as_array).is_some_and(|s| s.len() == 1 && s[0] == "ALL")
    };
    let shares_freely = sharing.is_some_and(|rules| rules.iter().all(permits_all));
    let share_default_deny =
        body.get("policy_reference").and_then(Value::as_str).is_some_and(|p| p.contains("sharedefault=deny"));
    if !shares_freely && (sharing.is_some() || share_default_deny) {
        restriction.orcon = true;
    }
    if restriction.noforn {
        restriction.rel_to = None;
    }
    Ok(restriction)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::stix::test_support::*;
    use crate::Marking;

    fn definition(body: Value) -> StixObject {
        let mut object = json!({
            "type": "marking-definition", "spec_version": "2.1", "id": id("marking-definition", 42), "created": T0,
        });
        for (key, value) in body.as_object().unwrap() {
            object[key] = value.clone();
        }
        StixObject::parse(object).unwrap()
    }

    fn acs_definition(extension: Value) -> Result<MarkingMeaning, StixError> {
        let mut body = json!({
            "extension_type": "property-extension",
            "identifier": "isa:guide.19001.ACS3-e0c28f68-5570-434a-9764-3e8498f0a59a",
            "create_date_time": T0,
            "responsible_entity_custodian": "USA.DHS.US-CERT",
            "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=permit",
        });
        for (key, value) in extension.as_object().unwrap() {
            body[key] = value.clone();
        }
        MarkingMeaning::of_definition(&definition(json!({ "extensions": { ACS_EXTENSION_ID: body } })))
    }

    fn restriction(meaning: Result<MarkingMeaning, StixError>) -> Restriction {
        match meaning {
            Ok(MarkingMeaning::Restriction(restriction)) => restriction,
            other => panic!("expected a restriction, got {other:?}"),
        }
    }

    fn as_marking(meaning: Result<MarkingMeaning, StixError>) -> String {
        Marking::from_restriction(&restriction(meaning), None, &usa(), &Coalition).unwrap().banner()
    }

    #[test]
    fn tearline_definitions_round_trip() {
        for banner in ["S//OC/REL TO IRQ, BIC", "C//NF", "TS", "U", "S//REL TO GBR//TLP:AMBER", "C//OC//TLP:RED"] {
            let marking = Marking::parse(banner, &usa(), &Coalition).unwrap();
            let written = StixObject::parse(super::super::marking_definition(&marking, &usa()).unwrap()).unwrap();
            let read = restriction(MarkingMeaning::of_definition(&written));
            let back = Marking::from_restriction(&read, marking.tlp(), &usa(), &Coalition).unwrap();
            assert_eq!(back, marking, "{banner}");
        }
    }

    #[test]
    fn tlp_and_statement_definitions() {
        assert_eq!(builtin_marking(Tlp::Amber.marking_definition_id()), Some(MarkingMeaning::Tlp(Tlp::Amber)));
        assert_eq!(
            builtin_marking("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Some(MarkingMeaning::Tlp(Tlp::Clear))
        );
        assert_eq!(builtin_marking(&id("marking-definition", 1)), None);
        let official = StixObject::parse(super::super::tlp_definition(Tlp::AmberStrict)).unwrap();
        assert_eq!(MarkingMeaning::of_definition(&official), Ok(MarkingMeaning::Tlp(Tlp::AmberStrict)));
        let tlp1 = definition(json!({ "definition_type": "tlp", "definition": { "tlp": "white" } }));
        assert_eq!(MarkingMeaning::of_definition(&tlp1), Ok(MarkingMeaning::Tlp(Tlp::Clear)));
        let tlp2 = definition(
            json!({ "extensions": { crate::tlp::TLP2_EXTENSION_ID: { "extension_type": "property-extension",
                "tlp_2_0": "red" } } }),
        );
        assert_eq!(MarkingMeaning::of_definition(&tlp2), Ok(MarkingMeaning::Tlp(Tlp::Red)));
        let statement =
            definition(json!({ "definition_type": "statement", "definition": { "statement": "Copyright ACME" } }));
        assert_eq!(MarkingMeaning::of_definition(&statement), Ok(MarkingMeaning::Statement));
    }

    #[test]
    fn anything_else_is_refused_naming_the_definition() {
        let unknown = definition(json!({ "extensions": {
                "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": { "extension_type": "property-extension" }
            } }));
        let err = MarkingMeaning::of_definition(&unknown).unwrap_err();
        assert!(matches!(&err, StixError::UnsupportedMarking { id: i, .. } if *i == id("marking-definition", 42)));
        let odd = definition(json!({ "definition_type": "iep", "definition": { "x": 1 } }));
        assert!(matches!(MarkingMeaning::of_definition(&odd), Err(StixError::UnsupportedMarking { .. })));
        let pink = definition(json!({ "definition_type": "tlp", "definition": { "tlp": "pink" } }));
        assert!(matches!(MarkingMeaning::of_definition(&pink), Err(StixError::UnsupportedMarking { .. })));
        let tearline = json!({ "extension_type": "property-extension", "originator": "USA", "classification": "S",
            "caveats": ["NOFORN"], "rel_to": ["IRQ"] });
        let both = definition(json!({ "extensions": { crate::stix::MARKING_EXTENSION_ID: tearline } }));
        assert!(matches!(MarkingMeaning::of_definition(&both), Err(StixError::UnsupportedMarking { .. })));
        let not_a_marking = StixObject::parse(report(1)).unwrap();
        assert!(matches!(MarkingMeaning::of_definition(&not_a_marking), Err(StixError::UnsupportedMarking { .. })));
    }

    #[test]
    fn acs_markings_map_conservatively() {
        let open = json!({ "control_set": { "classification": "U", "formal_determination": ["FOUO", "AIS"] },
            "access_privilege": [{ "privilege_action": "CISAUSES", "rule_effect": "permit",
                "privilege_scope": { "permitted_nationalities": ["ALL"], "permitted_organizations": ["ALL"],
                    "shareability": ["ALL"], "entity": ["ALL"] } }] });
        assert_eq!(as_marking(acs_definition(open)), "UNCLASSIFIED");
        let nf = json!({ "control_set": { "classification": "S", "formal_determination": ["NF"] } });
        assert_eq!(as_marking(acs_definition(nf)), "SECRET//NOFORN");
        let rel = json!({ "control_set": { "classification": "C", "permitted_nationalities": ["USA", "GBR", "IRQ"] },
            "access_privilege": [{ "privilege_action": "DSPLY", "rule_effect": "permit",
                "privilege_scope": { "permitted_nationalities": ["USA", "IRQ"] } }] });
        assert_eq!(as_marking(acs_definition(rel)), "CONFIDENTIAL//REL TO USA, IRQ");
        let only_us = json!({ "control_set": { "classification": "C", "permitted_nationalities": ["USA"] } });
        assert_eq!(as_marking(acs_definition(only_us)), "CONFIDENTIAL//NOFORN");
        let organisations = json!({ "control_set": { "classification": "U", "permitted_organizations": ["USA.USG"],
            "entity": ["MIL", "CTR", "GOV", "SVR", "SVC", "DEV", "NET"] } });
        assert_eq!(as_marking(acs_definition(organisations)), "UNCLASSIFIED//NOFORN");
        let all_entities = json!({ "control_set": { "classification": "U", "entity": ["MIL", "CTR", "GOV", "SVR",
            "SVC", "DEV", "NET"] } });
        assert_eq!(as_marking(acs_definition(all_entities)), "UNCLASSIFIED");
        let sensitive = json!({ "control_set": { "classification": "U", "sensitivity": ["LES"] } });
        assert_eq!(as_marking(acs_definition(sensitive)), "UNCLASSIFIED//NOFORN");
        let no_onward = json!({ "control_set": { "classification": "S", "permitted_nationalities": ["USA", "GBR"] },
            "further_sharing": [{ "sharing_scope": ["USA.USG"], "rule_effect": "permit" }] });
        assert_eq!(as_marking(acs_definition(no_onward)), "SECRET//ORCON/REL TO USA, GBR");
        let share_all = json!({ "control_set": { "classification": "U" },
            "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=deny",
            "further_sharing": [{ "sharing_scope": ["ALL"], "rule_effect": "permit" }] });
        assert_eq!(as_marking(acs_definition(share_all)), "UNCLASSIFIED");
        let deny_default = json!({ "control_set": { "classification": "U" },
            "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=deny&sharedefault=deny" });
        assert_eq!(as_marking(acs_definition(deny_default)), "UNCLASSIFIED//ORCON");
        for refused in [
            json!({ "control_set": { "classification": "TS", "sci_controls": ["SI"] } }),
            json!({ "control_set": { "classification": "R" } }),
            json!({ "control_set": { "classification": "U", "formal_determination": ["WHATEVER"] } }),
            json!({ "control_set": { "classification": "U" }, "access_privilege": [{ "privilege_action": "DSPLY",
                "rule_effect": "deny", "privilege_scope": { "permitted_nationalities": ["RUS"] } }] }),
            json!({ "control_set": { "classification": "U", "permitted_nationalities": ["U1"] } }),
        ] {
            assert!(matches!(acs_definition(refused.clone()), Err(StixError::UnsupportedMarking { .. })), "{refused}");
        }
        let unknown_nation =
            json!({ "control_set": { "classification": "C", "permitted_nationalities": ["USA", "NZL"] } });
        let read = restriction(acs_definition(unknown_nation));
        let err = Marking::from_restriction(&read, None, &usa(), &Coalition).unwrap_err();
        assert_eq!(err.code.as_str(), "NZL");
    }
}
