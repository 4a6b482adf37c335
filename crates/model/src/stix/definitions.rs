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
//!
//! A definition carrying both Tearline's extension and ISA/ACS (as the hub writes them) means both:
//! the most restrictive of the two, as for content under two markings. The hub's own always agree;
//! a partner's that disagree still release nothing either entry forbids, so they need not be refused.
//!
//! The hub writes ISA/ACS 3.0 ([`acs_entry`]) beside its own extension, in the schema of OASIS
//! cti-stix-common-objects (`acs-data-markings/isa-acs-3-0.json`), saying exactly what the marking
//! says so that the reader above gives the marking back:
//!
//! - `control_set.classification`: U, C, S or TS (the schema's four, the hub's four).
//! - NOFORN: `formal_determination` `NF` and `permitted_nationalities` the originator alone, since
//!   to a US reader `NF` alone means US nationals, who are not the originator's when it is not USA.
//! - `REL TO`: `permitted_nationalities`, the originator and the listed parties, whose codes are
//!   ISO 3166-1 alpha-3 (GENC trigraphs) for national parties.
//! - ORCON: `policy_reference` `sharedefault=deny` and no `further_sharing` rule, so nobody may pass
//!   it on (the schema has no `OC` formal determination); otherwise `sharedefault=permit`. Always
//!   `privdefault=permit`: Tearline limits who reads, not what readers may do.
//! - `identifier` `isa:guide.19001.ACS3-<the definition's UUID>`, `create_date_time` the definition's
//!   fixed `created`, `responsible_entity_custodian` the hub ([`ACS_CUSTODIAN`]): the same marking
//!   always gives the same entry. No `authority_reference`: it is optional, and the hub is no ISA
//!   authority.
//!
//! No ISA/ACS entry is written when `REL TO` names a group (an ISA/ACS reader would take `FVEY` by
//! its own membership, not the coalition's) or a party whose code is not three letters (not a
//! nationality): ISA/ACS cannot say those without widening them, and saying less would no longer
//! read back to the marking. Tearline's extension still carries them.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::error::StixError;
use super::object::StixObject;
use super::{DEFINITIONS_CREATED, MARKING_EXTENSION_ID};
use crate::{Classification, Code, Dissemination, Marking, Restriction, Tlp};

/// The DHS ISA/ACS 3.0 marking extension.
pub const ACS_EXTENSION_ID: &str = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce";
/// The `responsible_entity_custodian` of the ISA/ACS entries the hub writes: the hub, which holds
/// and serves what they mark (ISA/ACS's `ORGANISATION.UNIT` form).
pub const ACS_CUSTODIAN: &str = "TEARLINE.HUB";

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
        let restrictions: Vec<&Restriction> = restricting
            .iter()
            .filter_map(|m| match m {
                MarkingMeaning::Restriction(restriction) => Some(restriction),
                _ => None,
            })
            .collect();
        match (restricting.as_slice(), meanings.is_empty()) {
            (_, true) => Err(unsupported("it has neither a definition nor an extension".into())),
            ([], false) => Ok(MarkingMeaning::Statement),
            ([one], false) => Ok(one.clone()),
            // Tearline's extension beside ISA/ACS (the only two restricting extensions): both hold.
            (_, false) if restrictions.len() == restricting.len() => {
                let combined = restrictions.into_iter().cloned().reduce(|all, next| most_restrictive(all, &next));
                combined.map(MarkingMeaning::Restriction).ok_or_else(|| unsupported("it restricts nothing".into()))
            }
            _ => Err(unsupported("it combines several markings in one definition".into())),
        }
    }
}

/// What content under both restrictions may go to: highest classification, caveats united, the
/// code-by-code intersection of the lists (NOFORN, or only the originator left, wins).
fn most_restrictive(first: Restriction, second: &Restriction) -> Restriction {
    let noforn = first.noforn || second.noforn;
    let rel_to = match (first.rel_to, &second.rel_to) {
        _ if noforn => None,
        (None, None) => None,
        (Some(list), None) => Some(list),
        (None, Some(list)) => Some(list.clone()),
        (Some(mine), Some(theirs)) => Some(mine.intersection(theirs).cloned().collect()),
    };
    Restriction {
        classification: first.classification.max(second.classification),
        orcon: first.orcon || second.orcon,
        noforn,
        rel_to,
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

/// The ISA/ACS 3.0 entry saying what `marking` says when `originator` uses it, by the table in this
/// module's documentation; `None` when ISA/ACS cannot say it without widening it. `uuid` is the
/// UUID of the marking definition that carries it, `name` its name.
pub(super) fn acs_entry(marking: &Marking, originator: &Code, uuid: &str, name: &str) -> Option<Value> {
    let nationalities: Option<Vec<&Code>> = match marking.dissemination() {
        Dissemination::Open => None,
        Dissemination::NoForn => Some(vec![originator]),
        Dissemination::RelTo(list) => {
            if list.groups().next().is_some() {
                return None;
            }
            // The originator is always releasable, as Tearline's extension reads it.
            let mut codes = vec![originator];
            codes.extend(list.parties().filter(|code| *code != originator));
            Some(codes)
        }
    };
    if nationalities.iter().flatten().any(|code| code.as_str().len() != 3) {
        return None;
    }
    let mut controls = Map::new();
    controls.insert("classification".into(), json!(marking.classification().abbreviation()));
    if marking.is_noforn() {
        controls.insert("formal_determination".into(), json!(["NF"]));
    }
    if let Some(codes) = nationalities {
        controls.insert("permitted_nationalities".into(), json!(codes.iter().map(|c| c.as_str()).collect::<Vec<_>>()));
    }
    let share_default = if marking.is_orcon() { "deny" } else { "permit" };
    Some(json!({
        "extension_type": "property-extension",
        "identifier": format!("isa:guide.19001.ACS3-{uuid}"),
        "name": name,
        "create_date_time": DEFINITIONS_CREATED,
        "responsible_entity_custodian": ACS_CUSTODIAN,
        "policy_reference": format!("urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault={share_default}"),
        "control_set": controls,
    }))
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

    const PARTIES: [&str; 5] = ["USA", "IRQ", "GBR", "SYR", "UNAMI"];

    /// Parties (UNAMI a mission, not a nation) and groups with their members.
    struct Members;

    impl Members {
        fn of(group: &str) -> &'static [&'static str] {
            match group {
                "FVEY" => &["USA", "GBR"],
                "BIC" => &["IRQ", "SYR", "UNAMI"],
                _ => &[],
            }
        }
    }

    impl crate::Directory for Members {
        fn kind_of(&self, code: &Code) -> Option<crate::CodeKind> {
            if PARTIES.contains(&code.as_str()) {
                Some(crate::CodeKind::Party)
            } else {
                (!Members::of(code.as_str()).is_empty()).then_some(crate::CodeKind::Group)
            }
        }
    }

    /// The hub's definition of `banner` by `originator`, read against [`Members`].
    fn written(banner: &str, originator: &str) -> Value {
        let originator = Code::new(originator).unwrap();
        let marking = Marking::parse(banner, &originator, &Members).unwrap();
        super::super::marking_definition(&marking, &originator).unwrap()
    }

    #[test]
    fn the_hub_writes_isa_acs_beside_its_extension_the_same_every_time() {
        let definition = written("S//OC/REL TO IRQ", "USA");
        assert_eq!(definition.to_string(), written("SECRET//ORCON/REL TO USA, IRQ", "USA").to_string());
        // Stored definitions are compared byte for byte: any change here refuses them.
        let expected = concat!(
            r#"{"type":"marking-definition","spec_version":"2.1","#,
            r#""id":"marking-definition--18534ba7-c1f2-531e-aa7d-6cbd37a4f43e","created":"2026-11-27T00:00:00.000Z","#,
            r#""created_by_ref":"identity--6f0b1f6c-6a43-5b9e-8f7c-5c1a3e0d2b4f","#,
            r#""name":"SECRET//ORCON/REL TO USA, IRQ","#,
            r#""extensions":{"extension-definition--a3c20081-d93f-4415-8b00-9b1fd0614588":{"#,
            r#""extension_type":"property-extension","originator":"USA","classification":"S","caveats":["ORCON"],"#,
            r#""rel_to":["USA","IRQ"]},"extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce":{"#,
            r#""extension_type":"property-extension","#,
            r#""identifier":"isa:guide.19001.ACS3-18534ba7-c1f2-531e-aa7d-6cbd37a4f43e","#,
            r#""name":"SECRET//ORCON/REL TO USA, IRQ","create_date_time":"2026-11-27T00:00:00.000Z","#,
            r#""responsible_entity_custodian":"TEARLINE.HUB","#,
            r#""policy_reference":"urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault=deny","#,
            r#""control_set":{"classification":"S","permitted_nationalities":["USA","IRQ"]}}}}"#,
        );
        assert_eq!(definition.to_string(), expected);
    }

    #[test]
    fn noforn_names_the_originator_as_the_only_nationality() {
        // `NF` alone would mean US nationals to an ISA/ACS reader, whoever the originator is.
        let definition = written("TS//NF", "IRQ");
        let acs = &definition["extensions"][ACS_EXTENSION_ID];
        assert_eq!(
            acs["control_set"],
            json!({ "classification": "TS", "formal_determination": ["NF"], "permitted_nationalities": ["IRQ"] })
        );
        assert_eq!(acs["policy_reference"], "urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault=permit");
        let open = written("C", "USA");
        assert_eq!(open["extensions"][ACS_EXTENSION_ID]["control_set"], json!({ "classification": "C" }));
        // The originator comes first, then the other parties as Tearline's extension lists them.
        let listed = written("U//REL TO SYR, GBR", "IRQ");
        let nationalities = &listed["extensions"][ACS_EXTENSION_ID]["control_set"]["permitted_nationalities"];
        assert_eq!(*nationalities, json!(["IRQ", "GBR", "SYR"]));
    }

    #[test]
    fn no_isa_acs_entry_for_what_it_would_widen() {
        for (banner, originator) in [("S//REL TO FVEY", "USA"), ("S//REL TO IRQ, BIC", "USA"), ("C//NF", "UNAMI")] {
            let definition = written(banner, originator);
            let extensions = definition["extensions"].as_object().unwrap();
            assert_eq!(extensions.keys().collect::<Vec<_>>(), [MARKING_EXTENSION_ID], "{banner}");
        }
        let definition = written("C//REL TO UNAMI", "USA");
        assert!(definition["extensions"].get(ACS_EXTENSION_ID).is_none());
        // Parties listed without a group still get one.
        assert!(written("S//REL TO IRQ, GBR", "USA")["extensions"].get(ACS_EXTENSION_ID).is_some());
    }

    /// Checks an ISA/ACS entry against OASIS `isa-acs-3-0.json`: its required properties, no property
    /// it does not define, and the patterns and enumerations of what the hub writes.
    fn assert_follows_the_acs_schema(acs: &Value) {
        let fields = acs.as_object().unwrap();
        for required in
            ["identifier", "create_date_time", "responsible_entity_custodian", "policy_reference", "control_set"]
        {
            assert!(fields.contains_key(required), "{required} missing from {acs}");
        }
        assert_eq!(acs["extension_type"], "property-extension");
        let defined = [
            "extension_type",
            "identifier",
            "name",
            "create_date_time",
            "responsible_entity_custodian",
            "responsible_entity_originator",
            "authority_reference",
            "policy_reference",
            "original_classification",
            "derivative_classification",
            "declassification",
            "resource_disposition",
            "public_release",
            "access_privilege",
            "further_sharing",
            "control_set",
        ];
        assert!(fields.keys().all(|k| defined.contains(&k.as_str())), "{acs}");
        let custodian = acs["responsible_entity_custodian"].as_str().unwrap();
        let parts: Vec<&str> = custodian.split('.').collect();
        assert!((2..=3).contains(&parts.len()), "{custodian}");
        assert!(parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())));
        let policy = acs["policy_reference"].as_str().unwrap();
        let (privileges, sharing) = policy
            .strip_prefix("urn:isa:policy:acs:ns:v3.0?privdefault=")
            .and_then(|rest| rest.split_once("&sharedefault="))
            .unwrap();
        assert!(["permit", "deny"].contains(&privileges) && ["permit", "deny"].contains(&sharing), "{policy}");
        assert!(time::OffsetDateTime::parse(
            acs["create_date_time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok());
        assert!(acs["identifier"].as_str().unwrap().starts_with("isa:guide.19001.ACS3-"));
        let controls = acs["control_set"].as_object().unwrap();
        let control_fields = [
            "classification",
            "sci_controls",
            "logical_authority_category",
            "formal_determination",
            "caveat",
            "sensitivity",
            "shareability",
            "entity",
            "permitted_nationalities",
            "permitted_organizations",
        ];
        assert!(controls.keys().all(|k| control_fields.contains(&k.as_str())), "{acs}");
        assert!(["U", "C", "S", "TS"].contains(&controls["classification"].as_str().unwrap()));
        let determinations = [
            "PUBREL",
            "NF",
            "AIS",
            "PII-NECESSARY-TO-UNDERSTAND-THREAT",
            "NO-PII-PRESENT",
            "FOUO",
            "INFORMATION-DIRECTLY-RELATED-TO-CYBERSECURITY-THREAT",
        ];
        for list in ["formal_determination", "permitted_nationalities"] {
            if let Some(items) = controls.get(list) {
                let items = items.as_array().unwrap();
                assert!(!items.is_empty(), "{list} is empty in {acs}");
                for item in items.iter().map(|i| i.as_str().unwrap()) {
                    let trigraph = item.len() == 3 && item.bytes().all(|b| b.is_ascii_uppercase());
                    assert!(if list == "permitted_nationalities" { trigraph } else { determinations.contains(&item) });
                }
            }
        }
    }

    #[test]
    fn isa_acs_entries_follow_the_schema() {
        for (banner, originator) in [("U", "USA"), ("TS//OC/NF", "IRQ"), ("S//REL TO IRQ, GBR//TLP:RED", "USA")] {
            assert_follows_the_acs_schema(&written(banner, originator)["extensions"][ACS_EXTENSION_ID]);
        }
    }

    #[test]
    fn both_extensions_together_mean_the_most_restrictive_of_the_two() {
        let both = |acs: Value| {
            let mut body = written("C//REL TO IRQ, GBR", "USA");
            let entry = &mut body["extensions"][ACS_EXTENSION_ID];
            for (key, value) in acs.as_object().unwrap() {
                entry[key] = value.clone();
            }
            as_marking(MarkingMeaning::of_definition(&StixObject::parse(body).unwrap()))
        };
        assert_eq!(both(json!({})), "CONFIDENTIAL//REL TO USA, GBR, IRQ");
        let higher_and_narrower = json!({
            "control_set": { "classification": "TS", "permitted_nationalities": ["USA", "GBR", "SYR"] },
            "policy_reference": "urn:isa:policy:acs:ns:v3.0?privdefault=permit&sharedefault=deny" });
        assert_eq!(both(higher_and_narrower), "TOP SECRET//ORCON/REL TO USA, GBR");
        let lower_and_wider = json!({ "control_set": { "classification": "U" } });
        assert_eq!(both(lower_and_wider), "CONFIDENTIAL//REL TO USA, GBR, IRQ");
        let noforn = json!({ "control_set": { "classification": "C", "formal_determination": ["NF"] } });
        assert_eq!(both(noforn), "CONFIDENTIAL//NOFORN");
        let disjoint = json!({ "control_set": { "classification": "C", "permitted_nationalities": ["SYR"] } });
        assert_eq!(both(disjoint), "CONFIDENTIAL//NOFORN");
        // An ISA/ACS entry the hub cannot enforce still refuses the whole definition.
        let refused = json!({ "control_set": { "classification": "C", "sci_controls": ["SI"] } });
        let mut body = written("C", "USA");
        body["extensions"][ACS_EXTENSION_ID]["control_set"] = refused["control_set"].clone();
        let read = MarkingMeaning::of_definition(&StixObject::parse(body).unwrap());
        assert!(matches!(read, Err(StixError::UnsupportedMarking { .. })));
        // A TLP beside a restriction is still two markings in one definition.
        let mut body = written("C", "USA");
        body["extensions"][crate::tlp::TLP2_EXTENSION_ID] =
            json!({ "extension_type": "property-extension", "tlp_2_0": "red" });
        let read = MarkingMeaning::of_definition(&StixObject::parse(body).unwrap());
        assert!(matches!(read, Err(StixError::UnsupportedMarking { .. })));
    }

    mod generated {
        use proptest::prelude::*;

        use super::*;

        /// Whether the marking alone lets `party` receive what it marks: the originator always,
        /// then as the dissemination control says (groups by their members).
        fn may_receive(marking: &Marking, originator: &Code, party: &Code) -> bool {
            party == originator
                || match marking.dissemination() {
                    Dissemination::Open => true,
                    Dissemination::NoForn => false,
                    Dissemination::RelTo(list) => {
                        list.names_party(party)
                            || list.groups().any(|g| Members::of(g.as_str()).contains(&party.as_str()))
                    }
                }
        }

        fn marking() -> impl Strategy<Value = (Marking, Code)> {
            let originator = prop::sample::select(vec!["USA", "IRQ", "GBR", "UNAMI"]);
            let class = prop::sample::select(vec!["U", "C", "S", "TS"]);
            let codes = prop::sample::subsequence(vec!["USA", "IRQ", "GBR", "SYR", "UNAMI", "FVEY", "BIC"], 1..5);
            let tlp = prop::option::of(prop::sample::select(vec!["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]));
            (originator, class, any::<bool>(), 0..3u8, codes, tlp).prop_map(
                |(originator, class, orcon, dissemination, codes, tlp)| {
                    let mut controls = Vec::new();
                    if orcon {
                        controls.push("OC".to_string());
                    }
                    match dissemination {
                        1 => controls.push("NF".to_string()),
                        2 => controls.push(format!("REL TO {}", codes.join(", "))),
                        _ => {}
                    }
                    let mut banner = class.to_string();
                    if !controls.is_empty() {
                        banner += &format!("//{}", controls.join("/"));
                    }
                    if let Some(tlp) = tlp {
                        banner += &format!("//TLP:{tlp}");
                    }
                    let originator = Code::new(originator).unwrap();
                    (Marking::parse(&banner, &originator, &Members).unwrap(), originator)
                },
            )
        }

        fn read(definition: Value, marking: &Marking, originator: &Code) -> Marking {
            let meaning = MarkingMeaning::of_definition(&StixObject::parse(definition).unwrap());
            Marking::from_restriction(&restriction(meaning), marking.tlp(), originator, &Members).unwrap()
        }

        proptest! {
            #[test]
            fn every_written_definition_reads_back_and_its_isa_acs_entry_never_allows_more(
                (marking, originator) in marking()
            ) {
                let Some(definition) = super::super::super::marking_definition(&marking, &originator) else {
                    // Only a bare TLP needs no definition of Tearline's.
                    prop_assert_eq!(Some(marking.banner()), marking.tlp().map(|t| t.to_string()));
                    return Ok(());
                };
                // A list naming only the originator reads back as NOFORN, which releases the same.
                let expected = match marking.rel_to() {
                    Some(list) if list.parties().count() == 1 && list.groups().next().is_none() => {
                        let noforn = Restriction {
                            classification: marking.classification(),
                            orcon: marking.is_orcon(),
                            noforn: true,
                            rel_to: None,
                        };
                        Marking::from_restriction(&noforn, marking.tlp(), &originator, &Members).unwrap()
                    }
                    _ => marking.clone(),
                };
                prop_assert_eq!(read(definition.clone(), &marking, &originator), expected.clone());
                let mut acs_only = definition.clone();
                let extensions = acs_only["extensions"].as_object_mut().unwrap();
                extensions.shift_remove(MARKING_EXTENSION_ID);
                if extensions.is_empty() {
                    // Left out only where ISA/ACS would widen the marking.
                    let codes = marking.named_codes();
                    let unsayable = codes.iter().any(|c| c.as_str().len() != 3 || !Members::of(c.as_str()).is_empty())
                        || (marking.is_noforn() && originator.as_str().len() != 3);
                    prop_assert!(unsayable, "{}", marking);
                    return Ok(());
                }
                assert_follows_the_acs_schema(&acs_only["extensions"][ACS_EXTENSION_ID]);
                let by_acs = read(acs_only, &marking, &originator);
                prop_assert!(by_acs.classification() >= marking.classification());
                prop_assert!(by_acs.is_orcon() || !marking.is_orcon());
                for party in PARTIES.map(|p| Code::new(p).unwrap()) {
                    prop_assert!(
                        !may_receive(&by_acs, &originator, &party) || may_receive(&marking, &originator, &party),
                        "ISA/ACS lets {} receive {} as {}", party, marking, by_acs
                    );
                }
                prop_assert_eq!(by_acs, expected);
            }
        }
    }
}
