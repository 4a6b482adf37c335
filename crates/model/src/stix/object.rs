//! A STIX 2.1 object of any type, checked against what the specification requires and kept exactly
//! as sent, custom properties and extensions included.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::StixError;
use super::selector::{self, Path, Step};
use super::spec::{self, Class, Kind};

/// A validated STIX 2.1 object. Its JSON is never rewritten, so it serialises back as it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct StixObject {
    fields: Map<String, Value>,
    created: Option<OffsetDateTime>,
    modified: Option<OffsetDateTime>,
}

/// How a reference property holds its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefShape {
    /// `*_ref`: one id.
    Single,
    /// `*_refs`: a list of ids.
    List,
}

/// One granular marking as written: its selectors and its marking (absent for `lang` markings).
pub(crate) struct Granular<'a> {
    pub(crate) selectors: Vec<&'a str>,
    pub(crate) marking_ref: Option<&'a str>,
}

impl StixObject {
    /// Checks `value` against STIX 2.1: common properties, the properties its type requires,
    /// references, marking references and granular-marking selectors. Unknown (custom) types get the
    /// common checks only.
    pub fn parse(value: Value) -> Result<Self, StixError> {
        let Value::Object(fields) = value else { return Err(StixError::NotAnObject) };
        let object_type = required_str(&fields, "STIX", "type")?;
        check_type(object_type)?;
        let id = required_str(&fields, object_type, "id")?;
        check_id("id", id)?;
        if id.rsplit_once("--").map(|(prefix, _)| prefix) != Some(object_type) {
            return Err(StixError::invalid(
                "id",
                format!("`{id}` does not start with the object's type `{object_type}--`"),
            ));
        }
        let spec = spec::lookup(object_type);
        let class = spec.map(|s| s.class);
        match fields.get("spec_version") {
            None if matches!(class, Some(Class::Versioned | Class::MarkingDefinition)) => {
                return Err(missing(object_type, "spec_version"))
            }
            Some(version) if version.as_str() != Some("2.1") => {
                return Err(StixError::invalid("spec_version", format!("is {version}, expected \"2.1\"")))
            }
            _ => {}
        }
        if matches!(class, Some(Class::Versioned | Class::MarkingDefinition)) && !fields.contains_key("created") {
            return Err(missing(object_type, "created"));
        }
        if class == Some(Class::Versioned) && !fields.contains_key("modified") {
            return Err(missing(object_type, "modified"));
        }
        for (property, kind) in spec::KINDS {
            if let Some(value) = fields.get(*property) {
                check_kind(property, *kind, value)?;
            }
        }
        if let Some(spec) = spec {
            check_type_specific(&fields, spec)?;
        }
        let created = fields.get("created").map(|v| timestamp("created", v)).transpose()?;
        let modified = fields.get("modified").map(|v| timestamp("modified", v)).transpose()?;
        if let (Some(created_at), Some(modified_at)) = (created, modified) {
            if modified_at < created_at {
                return Err(StixError::ModifiedBeforeCreated {
                    created: fields.get("created").and_then(Value::as_str).unwrap_or_default().to_string(),
                    modified: fields.get("modified").and_then(Value::as_str).unwrap_or_default().to_string(),
                });
            }
        }
        check_common(&fields)?;
        Ok(StixObject { fields, created, modified })
    }

    pub fn id(&self) -> &str {
        self.str_field("id")
    }

    pub fn object_type(&self) -> &str {
        self.str_field("type")
    }

    pub fn spec_version(&self) -> Option<&str> {
        self.fields.get("spec_version").and_then(Value::as_str)
    }

    pub fn created(&self) -> Option<OffsetDateTime> {
        self.created
    }

    pub fn modified(&self) -> Option<OffsetDateTime> {
        self.modified
    }

    /// Which version this is: `modified`, else `created` (marking definitions never change), else
    /// `None` (observables are unversioned; the hub then versions them by date added).
    pub fn version(&self) -> Option<OffsetDateTime> {
        self.modified.or(self.created)
    }

    /// Whether this is one of the STIX 2.1 cyber-observable types.
    pub fn is_sco(&self) -> bool {
        spec::lookup(self.object_type()).is_some_and(|s| s.class == Class::Observable)
    }

    /// The object exactly as sent.
    pub fn json(&self) -> &Map<String, Value> {
        &self.fields
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.fields.clone())
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.fields)
    }

    pub fn labels(&self) -> Vec<&str> {
        let labels = self.fields.get("labels").and_then(Value::as_array);
        labels.map(|items| items.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    }

    /// Every marking-definition id the object uses, object-level first, then granular, each once.
    pub fn marking_refs(&self) -> Vec<&str> {
        let object_level = self.object_marking_refs();
        let granular = self.granular_markings().into_iter().filter_map(|g| g.marking_ref);
        let mut seen = std::collections::BTreeSet::new();
        object_level.into_iter().chain(granular).filter(|id| seen.insert(*id)).collect()
    }

    /// Every other id the object refers to through a `*_ref` or `*_refs` property, at any depth
    /// (extensions and nested structures included), each once, in order of appearance.
    pub fn references(&self) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        walk_refs(&self.fields, &mut |_, value, _| {
            let ids: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for id in ids.into_iter().filter_map(Value::as_str) {
                if !found.contains(&id) {
                    found.push(id);
                }
            }
        });
        found
    }

    pub(crate) fn object_marking_refs(&self) -> Vec<&str> {
        let refs = self.fields.get("object_marking_refs").and_then(Value::as_array);
        refs.map(|items| items.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    }

    pub(crate) fn granular_markings(&self) -> Vec<Granular<'_>> {
        let entries = self.fields.get("granular_markings").and_then(Value::as_array);
        let entries = entries.map(|e| e.iter().filter_map(Value::as_object).collect::<Vec<_>>()).unwrap_or_default();
        entries
            .into_iter()
            .map(|entry| Granular {
                selectors: entry
                    .get("selectors")
                    .and_then(Value::as_array)
                    .map(|s| s.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default(),
                marking_ref: entry.get("marking_ref").and_then(Value::as_str),
            })
            .collect()
    }

    fn str_field(&self, name: &str) -> &str {
        self.fields.get(name).and_then(Value::as_str).unwrap_or_default()
    }
}

impl TryFrom<Value> for StixObject {
    type Error = StixError;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        StixObject::parse(value)
    }
}

impl From<StixObject> for Value {
    fn from(object: StixObject) -> Value {
        object.into_value()
    }
}

/// Calls `visit` with the path and value of every `*_ref` / `*_refs` property, at any depth, except
/// the marking references (`object_marking_refs`, `granular_markings`).
pub(crate) fn walk_refs<'a>(fields: &'a Map<String, Value>, visit: &mut dyn FnMut(&Path, &'a Value, RefShape)) {
    fn walk<'a>(value: &'a Value, path: &mut Path, visit: &mut dyn FnMut(&Path, &'a Value, RefShape)) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if path.is_empty() && (key == "granular_markings" || key == "object_marking_refs") {
                        continue;
                    }
                    path.push(Step::Key(key.clone()));
                    if key.ends_with("_ref") {
                        visit(path, child, RefShape::Single);
                    } else if key.ends_with("_refs") {
                        visit(path, child, RefShape::List);
                    } else {
                        walk(child, path, visit);
                    }
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    path.push(Step::Index(index));
                    walk(item, path, visit);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut path = Vec::new();
    for (key, child) in fields {
        if key == "granular_markings" || key == "object_marking_refs" {
            continue;
        }
        path.push(Step::Key(key.clone()));
        if key.ends_with("_ref") {
            visit(&path, child, RefShape::Single);
        } else if key.ends_with("_refs") {
            visit(&path, child, RefShape::List);
        } else {
            walk(child, &mut path, visit);
        }
        path.pop();
    }
}

fn missing(object_type: &str, property: &str) -> StixError {
    StixError::MissingProperty { object_type: object_type.to_string(), property: property.to_string() }
}

fn required_str<'a>(fields: &'a Map<String, Value>, object_type: &str, property: &str) -> Result<&'a str, StixError> {
    match fields.get(property) {
        None => Err(missing(object_type, property)),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(StixError::invalid(property, format!("must be a string, not {other}"))),
    }
}

fn check_type(object_type: &str) -> Result<(), StixError> {
    let valid_chars = object_type.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !(3..=250).contains(&object_type.len()) || !valid_chars {
        return Err(StixError::invalid(
            "type",
            format!("`{object_type}` is not a STIX type (3 to 250 characters among a-z, 0-9 and '-')"),
        ));
    }
    Ok(())
}

/// Whether `text` is a STIX identifier: `<type>--<RFC 4122 UUID>`.
pub(crate) fn id_problem(text: &str) -> Option<String> {
    let Some((object_type, uuid)) = text.rsplit_once("--") else {
        return Some(format!("`{text}` is not a STIX id (`<type>--<UUID>`)"));
    };
    if check_type(object_type).is_err() {
        return Some(format!("`{text}` does not start with a STIX type"));
    }
    let parsed = uuid::Uuid::try_parse(uuid).ok().filter(|_| uuid.len() == 36);
    match parsed {
        Some(parsed) if parsed.get_variant() == uuid::Variant::RFC4122 => None,
        _ => Some(format!("`{text}` does not end with an RFC 4122 UUID")),
    }
}

fn check_id(property: &str, text: &str) -> Result<(), StixError> {
    id_problem(text).map_or(Ok(()), |reason| Err(StixError::invalid(property, reason)))
}

/// Reads a STIX timestamp: RFC 3339, UTC written `Z`, optional fraction of a second.
fn timestamp(property: &str, value: &Value) -> Result<OffsetDateTime, StixError> {
    let bad = || StixError::invalid(property, format!("{value} is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)"));
    let text = value.as_str().ok_or_else(bad)?;
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    let at = |index: usize, byte: u8| bytes.get(index) == Some(&byte);
    let head = digits(0..4)
        && at(4, b'-')
        && digits(5..7)
        && at(7, b'-')
        && digits(8..10)
        && at(10, b'T')
        && digits(11..13)
        && at(13, b':')
        && digits(14..16)
        && at(16, b':')
        && digits(17..19);
    let tail = match bytes.get(19..) {
        Some(b"Z") => true,
        Some([b'.', rest @ ..]) => {
            rest.len() >= 2 && rest.last() == Some(&b'Z') && rest[..rest.len() - 1].iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    if !(head && tail) {
        return Err(bad());
    }
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| bad())
}

fn check_kind(property: &str, kind: Kind, value: &Value) -> Result<(), StixError> {
    let ok = match kind {
        Kind::Str => value.is_string(),
        Kind::Bool => value.is_boolean(),
        Kind::Int => value.is_i64() || value.is_u64(),
        Kind::List => value.as_array().is_some_and(|items| !items.is_empty()),
        Kind::Dict => value.as_object().is_some_and(|map| !map.is_empty()),
        Kind::Time => return timestamp(property, value).map(|_| ()),
        Kind::Any => true,
    };
    if ok {
        return Ok(());
    }
    let expected = match kind {
        Kind::Str => "a string",
        Kind::Bool => "a boolean",
        Kind::Int => "an integer",
        Kind::List => "a non-empty list",
        Kind::Dict => "a non-empty dictionary",
        Kind::Time | Kind::Any => "valid",
    };
    Err(StixError::invalid(property, format!("must be {expected}")))
}

fn check_type_specific(fields: &Map<String, Value>, spec: &spec::TypeSpec) -> Result<(), StixError> {
    for (property, kind) in spec.required {
        let value = fields.get(*property).ok_or_else(|| missing(spec.name, property))?;
        check_kind(property, *kind, value)?;
    }
    if !spec.any_of.is_empty() && !spec.any_of.iter().any(|set| set.iter().all(|p| fields.contains_key(*p))) {
        let choices: Vec<String> = spec
            .any_of
            .iter()
            .map(|set| set.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(" and "))
            .collect();
        return Err(StixError::MissingOneOf { object_type: spec.name.to_string(), choices: choices.join(", ") });
    }
    if spec.name == "malware" && fields.get("is_family") == Some(&Value::Bool(true)) && !fields.contains_key("name") {
        return Err(StixError::MissingProperty { object_type: "malware".into(), property: "name".into() });
    }
    Ok(())
}

/// Checks shared by every object: lists, references, markings and selectors.
fn check_common(fields: &Map<String, Value>) -> Result<(), StixError> {
    for (property, value) in fields {
        if value.as_array().is_some_and(Vec::is_empty) {
            return Err(StixError::invalid(property, "a list must not be empty"));
        }
    }
    if let Some(creator) = fields.get("created_by_ref").and_then(Value::as_str) {
        if !creator.starts_with("identity--") {
            return Err(StixError::invalid("created_by_ref", format!("`{creator}` is not an identity")));
        }
    }
    let mut problem = None;
    walk_refs(fields, &mut |path, value, shape| {
        if problem.is_some() {
            return;
        }
        let property = selector::format(path);
        problem = match (shape, value) {
            (RefShape::Single, Value::String(id)) => id_problem(id).map(|reason| StixError::invalid(&property, reason)),
            (RefShape::Single, _) => Some(StixError::invalid(&property, "must be a STIX id")),
            (RefShape::List, Value::Array(items)) if !items.is_empty() => items.iter().find_map(|item| match item {
                Value::String(id) => id_problem(id).map(|reason| StixError::invalid(&property, reason)),
                _ => Some(StixError::invalid(&property, "must hold STIX ids only")),
            }),
            (RefShape::List, _) => Some(StixError::invalid(&property, "must be a non-empty list of STIX ids")),
        };
    });
    if let Some(problem) = problem {
        return Err(problem);
    }
    if let Some(refs) = fields.get("object_marking_refs") {
        let items = refs.as_array().ok_or_else(|| StixError::invalid("object_marking_refs", "must be a list"))?;
        for item in items {
            check_marking_ref("object_marking_refs", item)?;
        }
    }
    check_list_entries(fields, "labels", |item| item.is_string().then_some(()).ok_or("labels must be strings"))?;
    check_list_entries(fields, "external_references", |item| {
        item.get("source_name").filter(|v| v.is_string()).map(|_| ()).ok_or("each needs a `source_name` string")
    })?;
    check_list_entries(fields, "kill_chain_phases", |item| {
        let has = |name: &str| item.get(name).is_some_and(Value::is_string);
        (has("kill_chain_name") && has("phase_name"))
            .then_some(())
            .ok_or("each needs `kill_chain_name` and `phase_name`")
    })?;
    if let Some(extensions) = fields.get("extensions").and_then(Value::as_object) {
        for (name, extension) in extensions {
            if !extension.is_object() {
                return Err(StixError::invalid(format!("extensions.{name}"), "an extension must be a dictionary"));
            }
        }
    }
    check_granular_markings(fields)
}

fn check_list_entries(
    fields: &Map<String, Value>,
    property: &str,
    check: impl Fn(&Value) -> Result<(), &'static str>,
) -> Result<(), StixError> {
    let Some(items) = fields.get(property).and_then(Value::as_array) else { return Ok(()) };
    for (index, item) in items.iter().enumerate() {
        check(item).map_err(|reason| StixError::invalid(format!("{property}.[{index}]"), reason))?;
    }
    Ok(())
}

fn check_marking_ref(property: &str, value: &Value) -> Result<(), StixError> {
    let id = value.as_str().ok_or_else(|| StixError::invalid(property, "must hold marking-definition ids"))?;
    check_id(property, id)?;
    if !id.starts_with("marking-definition--") {
        return Err(StixError::invalid(property, format!("`{id}` is not a marking-definition id")));
    }
    Ok(())
}

fn check_granular_markings(fields: &Map<String, Value>) -> Result<(), StixError> {
    let Some(entries) = fields.get("granular_markings") else { return Ok(()) };
    let entries = entries.as_array().ok_or_else(|| StixError::invalid("granular_markings", "must be a list"))?;
    let object = Value::Object(fields.clone());
    for (index, entry) in entries.iter().enumerate() {
        let property = format!("granular_markings.[{index}]");
        let entry = entry.as_object().ok_or_else(|| StixError::invalid(&property, "must be a dictionary"))?;
        match (entry.get("marking_ref"), entry.get("lang")) {
            (Some(marking_ref), None) => check_marking_ref(&format!("{property}.marking_ref"), marking_ref)?,
            (None, Some(Value::String(_))) => {}
            (None, Some(_)) => return Err(StixError::invalid(format!("{property}.lang"), "must be a string")),
            (Some(_), Some(_)) => return Err(StixError::invalid(&property, "has both `marking_ref` and `lang`")),
            (None, None) => return Err(StixError::invalid(&property, "needs `marking_ref` or `lang`")),
        }
        let selectors = entry.get("selectors").and_then(Value::as_array).filter(|s| !s.is_empty());
        let selectors =
            selectors.ok_or_else(|| StixError::invalid(format!("{property}.selectors"), "must be a non-empty list"))?;
        for selector in selectors {
            let text = selector
                .as_str()
                .ok_or_else(|| StixError::invalid(format!("{property}.selectors"), "must be strings"))?;
            let bad = |reason: String| StixError::InvalidSelector { selector: text.to_string(), reason };
            let path = selector::parse(text).map_err(bad)?;
            if path.first() == Some(&Step::Key("granular_markings".into())) {
                return Err(bad("cannot select the granular markings themselves".into()));
            }
            if selector::resolve(&object, &path).is_none() {
                return Err(bad("selects nothing in this object".into()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::stix::test_support::*;

    fn problem(value: Value) -> StixError {
        StixObject::parse(value).unwrap_err()
    }

    fn missing_of(value: Value) -> String {
        match problem(value) {
            StixError::MissingProperty { property, .. } => property,
            other => panic!("expected a missing property, got {other}"),
        }
    }

    fn invalid_property(value: Value) -> String {
        match problem(value) {
            StixError::InvalidProperty { property, .. } => property,
            other => panic!("expected an invalid property, got {other}"),
        }
    }

    fn sdo(object_type: &str, extra: Value) -> Value {
        let mut object = json!({
            "type": object_type, "spec_version": "2.1", "id": id(object_type, 7), "created": T0, "modified": T1,
        });
        for (key, value) in extra.as_object().unwrap() {
            object[key] = value.clone();
        }
        object
    }

    #[test]
    fn an_object_is_kept_exactly_as_sent() {
        let sent = with(
            report(2),
            "extensions",
            json!({ "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": {
                "extension_type": "property-extension", "x": [1, 2.5, {"deep": null}]
            } }),
        );
        let sent = with(sent, "x_custom", json!({ "z": 1, "a": "b" }));
        let text = serde_json::to_string(&sent).unwrap();
        let object = StixObject::parse(sent.clone()).unwrap();
        assert_eq!(object.to_value(), sent);
        assert_eq!(serde_json::to_string(&object).unwrap(), text);
        let back: StixObject = serde_json::from_str(&text).unwrap();
        assert_eq!(back, object);
        assert_eq!(object.id(), id("report", 1));
        assert_eq!(object.object_type(), "report");
        assert_eq!(object.spec_version(), Some("2.1"));
        assert_eq!(object.version(), Some(time::macros::datetime!(2026-01-03 03:04:05.123 UTC)));
        assert!(!object.is_sco());
    }

    #[test]
    fn every_type_family_needs_its_properties() {
        let families = [
            ("indicator", json!({"pattern": "[x:y = 'z']", "pattern_type": "stix", "valid_from": T0}), "pattern"),
            ("indicator", json!({"pattern": "[x:y = 'z']", "pattern_type": "stix", "valid_from": T0}), "valid_from"),
            (
                "relationship",
                json!({"relationship_type": "uses", "source_ref": id("malware", 1), "target_ref": id("tool", 2)}),
                "target_ref",
            ),
            ("sighting", json!({"sighting_of_ref": id("indicator", 1)}), "sighting_of_ref"),
            ("grouping", json!({"context": "x", "object_refs": [id("tool", 1)]}), "context"),
            ("note", json!({"content": "x", "object_refs": [id("tool", 1)]}), "content"),
            ("opinion", json!({"opinion": "agree", "object_refs": [id("tool", 1)]}), "object_refs"),
            (
                "observed-data",
                json!({"first_observed": T0, "last_observed": T0, "number_observed": 1, "object_refs": [id("file",
                    1)]}),
                "number_observed",
            ),
            ("malware", json!({"is_family": false}), "is_family"),
            ("identity", json!({"name": "x"}), "name"),
            ("campaign", json!({"name": "x"}), "name"),
            ("vulnerability", json!({"name": "x"}), "name"),
            ("malware-analysis", json!({"product": "x", "result": "malicious"}), "product"),
            ("language-content", json!({"object_ref": id("report", 1), "contents": {"de": {"name": "x"}}}), "contents"),
            (
                "extension-definition",
                json!({"created_by_ref": id("identity", 1), "name": "x", "schema": "x", "version": "1",
                    "extension_types": ["new-sdo"]}),
                "extension_types",
            ),
        ];
        for (object_type, extra, dropped) in families {
            let valid = sdo(object_type, extra);
            StixObject::parse(valid.clone()).unwrap_or_else(|e| panic!("{object_type}: {e}"));
            assert_eq!(missing_of(without(valid, dropped)), dropped, "{object_type}");
        }
        for (object_type, property, value) in [
            ("report", "published", json!(T0)),
            ("report", "object_refs", json!([id("tool", 1)])),
            ("tool", "name", json!("x")),
        ] {
            let valid = if object_type == "report" { report(1) } else { sdo(object_type, json!({ property: value })) };
            assert_eq!(missing_of(without(valid, property)), property);
        }
        assert_eq!(missing_of(without(report(1), "modified")), "modified");
        assert_eq!(missing_of(without(report(1), "created")), "created");
        assert_eq!(missing_of(without(report(1), "spec_version")), "spec_version");
        assert_eq!(invalid_property(report(0)), "object_refs");
        let family = sdo("malware", json!({"is_family": true}));
        assert_eq!(missing_of(family), "name");
        let nowhere = sdo("location", json!({"latitude": 1.5}));
        assert!(matches!(problem(nowhere), StixError::MissingOneOf { .. }));
        assert!(StixObject::parse(sdo("location", json!({"latitude": 1.5, "longitude": 2.0}))).is_ok());
        assert!(matches!(
            problem(sdo("observed-data", json!({"first_observed": T0, "last_observed": T0, "number_observed": 1}))),
            StixError::MissingOneOf { .. }
        ));
        assert_eq!(invalid_property(sdo("malware", json!({"is_family": "yes"}))), "is_family");
    }

    #[test]
    fn observables_and_marking_definitions_have_their_own_common_properties() {
        let domain = json!({"type": "domain-name", "id": id("domain-name", 1), "value": "example.com"});
        let object = StixObject::parse(domain.clone()).unwrap();
        assert!(object.is_sco());
        assert_eq!(object.version(), None);
        assert_eq!(missing_of(without(domain.clone(), "value")), "value");
        assert_eq!(invalid_property(with(domain, "spec_version", json!("2.0"))), "spec_version");
        let file = json!({"type": "file", "id": id("file", 1)});
        assert!(matches!(problem(file.clone()), StixError::MissingOneOf { .. }));
        assert!(StixObject::parse(with(file, "hashes", json!({"SHA-256": "ab"}))).is_ok());
        let traffic = json!({"type": "network-traffic", "id": id("network-traffic", 1), "protocols": ["tcp"]});
        assert!(matches!(problem(traffic.clone()), StixError::MissingOneOf { .. }));
        assert!(StixObject::parse(with(traffic, "src_ref", json!(id("ipv4-addr", 1)))).is_ok());
        let statement = json!({
            "type": "marking-definition", "spec_version": "2.1", "id": id("marking-definition", 1), "created": T0,
            "definition_type": "statement", "definition": {"statement": "Copyright"},
        });
        let definition = StixObject::parse(statement.clone()).unwrap();
        assert_eq!(definition.version(), Some(time::macros::datetime!(2026-01-02 03:04:05 UTC)));
        assert_eq!(missing_of(without(statement.clone(), "created")), "created");
        assert!(matches!(problem(without(statement, "definition")), StixError::MissingOneOf { .. }));
        let custom = json!({"type": "x-acme-widget", "id": id("x-acme-widget", 1), "anything": 1});
        assert!(StixObject::parse(custom).is_ok());
    }

    #[test]
    fn types_ids_and_timestamps_are_checked() {
        assert_eq!(problem(json!([1])), StixError::NotAnObject);
        assert_eq!(invalid_property(with(report(1), "type", json!("Report"))), "type");
        assert_eq!(invalid_property(with(report(1), "type", json!("ab"))), "type");
        assert_eq!(invalid_property(with(report(1), "id", json!(id("note", 1)))), "id");
        assert_eq!(invalid_property(with(report(1), "id", json!("report--1234"))), "id");
        // Variant bits `c`: a Microsoft GUID, not RFC 4122.
        assert_eq!(
            invalid_property(with(report(1), "id", json!("report--00000000-0000-4000-c000-000000000001"))),
            "id"
        );
        for bad in
            ["2026-01-02T03:04:05+00:00", "2026-01-02 03:04:05Z", "2026-01-02T03:04:05.Z", "2026-13-02T03:04:05Z", "x"]
        {
            assert_eq!(invalid_property(with(report(1), "published", json!(bad))), "published", "{bad}");
        }
        assert!(StixObject::parse(with(report(1), "published", json!("2026-01-02T03:04:05Z"))).is_ok());
        let backwards = with(report(1), "modified", json!("2025-01-01T00:00:00Z"));
        assert!(matches!(problem(backwards), StixError::ModifiedBeforeCreated { .. }));
        let err = problem(with(report(1), "created", json!(7)));
        assert_eq!(err.to_string(), "property `created`: 7 is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)");
    }

    #[test]
    fn references_and_markings_are_checked() {
        assert_eq!(invalid_property(with(report(1), "created_by_ref", json!(id("tool", 1)))), "created_by_ref");
        assert_eq!(invalid_property(with(report(1), "object_refs", json!(["nope"]))), "object_refs");
        assert_eq!(invalid_property(with(report(1), "x_sample_ref", json!(5))), "x_sample_ref");
        let nested =
            json!({ "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": { "items": [{"host_ref": "bad"}] } });
        let err = problem(with(report(1), "extensions", nested));
        assert_eq!(err.to_string(), "property `extensions.extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e.items.[0].host_ref`: `bad` is not a STIX id (`<type>--<UUID>`)");
        assert_eq!(
            invalid_property(with(report(1), "object_marking_refs", json!([id("identity", 1)]))),
            "object_marking_refs"
        );
        assert_eq!(invalid_property(with(report(1), "labels", json!([]))), "labels");
        let marking = id("marking-definition", 9);
        let granular = |selectors: Value| {
            with(report(2), "granular_markings", json!([{ "marking_ref": marking, "selectors": selectors }]))
        };
        assert!(StixObject::parse(granular(json!(["name", "object_refs.[1]"]))).is_ok());
        for (selector, fault) in [
            ("object_refs.[2]", "selects nothing"),
            ("title", "selects nothing"),
            ("name.", "empty step"),
            ("[0]", "list index"),
        ] {
            match problem(granular(json!([selector]))) {
                StixError::InvalidSelector { selector: s, reason } => {
                    assert_eq!(s, selector);
                    assert!(reason.contains(fault), "{reason}");
                }
                other => panic!("{selector}: {other}"),
            }
        }
        assert_eq!(invalid_property(granular(json!([]))), "granular_markings.[0].selectors");
        let no_marking = with(report(1), "granular_markings", json!([{ "selectors": ["name"] }]));
        assert_eq!(invalid_property(no_marking), "granular_markings.[0]");
        let lang = with(report(1), "granular_markings", json!([{ "lang": "en", "selectors": ["name"] }]));
        assert!(StixObject::parse(lang).is_ok());
        let wrong =
            with(report(1), "granular_markings", json!([{ "marking_ref": id("tool", 1), "selectors": ["name"] }]));
        assert_eq!(invalid_property(wrong), "granular_markings.[0].marking_ref");
    }

    #[test]
    fn accessors_list_labels_markings_and_references() {
        let tlp = crate::Tlp::Green.marking_definition_id();
        let other = id("marking-definition", 3);
        let object = json!({
            "type": "report", "spec_version": "2.1", "id": id("report", 1), "created": T0, "modified": T0,
            "name": "n", "published": T0, "object_refs": [id("tool", 1), id("tool", 2), id("tool", 1)],
            "created_by_ref": id("identity", 1), "labels": ["a", "b"],
            "object_marking_refs": [tlp],
            "granular_markings": [{ "marking_ref": other, "selectors": ["name"] }, { "marking_ref": tlp,
                "selectors": ["labels"] }],
            "extensions": { "x-ext": { "sample_ref": id("file", 1) } },
        });
        let object = StixObject::parse(object).unwrap();
        assert_eq!(object.labels(), ["a", "b"]);
        assert_eq!(object.marking_refs(), [tlp, other.as_str()]);
        let references = object.references();
        assert_eq!(references, [id("tool", 1), id("tool", 2), id("identity", 1), id("file", 1)]);
    }
}
