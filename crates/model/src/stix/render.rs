//! A STIX object as one recipient receives it: withheld portions and invisible references removed,
//! remaining selectors renumbered to point at the same content, or nothing when what is left would
//! not be a valid object of its type.

use serde_json::{Map, Value};

use super::object::{walk_refs, RefShape, StixObject};
use super::portions::ObjectPortions;
use super::selector::{self, Path, Step};

/// The paths taken out of an object; a path is gone when it or an ancestor is listed.
struct Removal {
    paths: Vec<Path>,
}

impl Removal {
    fn covers(&self, path: &[Step]) -> bool {
        self.paths.iter().any(|removed| path.starts_with(removed))
    }

    /// Adds every list or dictionary whose content is all removed (an emptied list is not valid
    /// STIX, and an emptied required list must withhold the object). Returns whether `value` is gone.
    fn expand(&mut self, value: &Value, path: &mut Path) -> bool {
        if self.covers(path) {
            return true;
        }
        let mut all_gone = true;
        let mut any = false;
        match value {
            Value::Object(fields) => {
                for (key, child) in fields {
                    if path.is_empty() && key == "granular_markings" {
                        continue;
                    }
                    any = true;
                    path.push(Step::Key(key.clone()));
                    all_gone &= self.expand(child, path);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    any = true;
                    path.push(Step::Index(index));
                    all_gone &= self.expand(item, path);
                    path.pop();
                }
            }
            _ => return false,
        }
        let gone = any && all_gone && !path.is_empty();
        if gone {
            self.paths.push(path.clone());
        }
        gone
    }

    fn copy(&self, value: &Value, path: &mut Path) -> Value {
        match value {
            Value::Object(fields) => {
                let mut out = Map::new();
                for (key, child) in fields {
                    path.push(Step::Key(key.clone()));
                    if !self.covers(path) {
                        out.insert(key.clone(), self.copy(child, path));
                    }
                    path.pop();
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    path.push(Step::Index(index));
                    if !self.covers(path) {
                        out.push(self.copy(item, path));
                    }
                    path.pop();
                }
                Value::Array(out)
            }
            other => other.clone(),
        }
    }

    /// Where the content a selector pointed at is after removal: list indices shift down by the
    /// removed elements before them. `None` when the content is gone.
    fn rewrite(&self, path: &[Step]) -> Option<Path> {
        if self.covers(path) {
            return None;
        }
        let mut prefix: Path = Vec::new();
        let mut out = Vec::new();
        for step in path {
            match step {
                Step::Key(key) => out.push(Step::Key(key.clone())),
                Step::Index(index) => {
                    let before = (0..*index)
                        .filter(|earlier| {
                            let mut sibling = prefix.clone();
                            sibling.push(Step::Index(*earlier));
                            self.covers(&sibling)
                        })
                        .count();
                    out.push(Step::Index(index - before));
                }
            }
            prefix.push(step.clone());
        }
        Some(out)
    }
}

/// Renders `object` for one recipient. `shown(i)` says whether portion i of `portions` is released
/// (0 is the whole object); `visible(id)` whether the recipient may learn that object `id` exists.
///
/// Withheld portions and references to invisible objects are removed (list elements, properties,
/// and whatever they contain); lists and dictionaries left empty go too; the remaining
/// granular-marking selectors are renumbered and markings left without selectors dropped. Marking
/// references are kept. `None` when portion 0 is withheld or when what is left is not valid STIX
/// 2.1 (a required property or a required reference withheld, a required list emptied).
pub fn render(
    object: &StixObject,
    portions: &ObjectPortions,
    shown: &dyn Fn(usize) -> bool,
    visible: &dyn Fn(&str) -> bool,
) -> Option<Value> {
    if !shown(0) {
        return None;
    }
    let withheld = portions.paths().iter().enumerate().filter(|(index, _)| !shown(index + 1));
    let mut removal = Removal { paths: withheld.map(|(_, path)| path.clone()).collect() };
    walk_refs(object.json(), &mut |path, value, shape| match (shape, value) {
        (RefShape::Single, Value::String(id)) if !visible(id) => removal.paths.push(path.clone()),
        (RefShape::List, Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                if item.as_str().is_some_and(|id| !visible(id)) {
                    let mut element = path.clone();
                    element.push(Step::Index(index));
                    removal.paths.push(element);
                }
            }
        }
        _ => {}
    });
    let root = object.to_value();
    removal.expand(&root, &mut Vec::new());
    let mut out = Map::new();
    for (key, value) in object.json() {
        if key == "granular_markings" {
            if let Some(markings) = rewrite_granular_markings(value, &removal) {
                out.insert(key.clone(), markings);
            }
            continue;
        }
        let mut path = vec![Step::Key(key.clone())];
        if !removal.covers(&path) {
            out.insert(key.clone(), removal.copy(value, &mut path));
        }
    }
    StixObject::parse(Value::Object(out)).ok().map(StixObject::into_value)
}

/// The granular markings with their selectors renumbered; `None` when none is left.
fn rewrite_granular_markings(markings: &Value, removal: &Removal) -> Option<Value> {
    let mut kept = Vec::new();
    for entry in markings.as_array()?.iter().filter_map(Value::as_object) {
        let selectors: Vec<Value> = entry
            .get("selectors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|text| selector::parse(text).ok())
            .filter_map(|path| removal.rewrite(&path))
            .map(|path| Value::String(selector::format(&path)))
            .collect();
        if selectors.is_empty() {
            continue;
        }
        let mut entry = entry.clone();
        entry.insert("selectors".into(), Value::Array(selectors));
        kept.push(Value::Object(entry));
    }
    (!kept.is_empty()).then_some(Value::Array(kept))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::stix::test_support::*;
    use crate::stix::MarkingMeaning;

    fn m(n: u32) -> String {
        id("marking-definition", n)
    }

    fn parts(object: &Value) -> (StixObject, ObjectPortions) {
        let object = StixObject::parse(object.clone()).unwrap();
        let portions = ObjectPortions::of(&object, &usa(), &Coalition, &|_| Some(MarkingMeaning::Statement)).unwrap();
        (object, portions)
    }

    /// Renders with the portions whose selectors are in `withheld` withheld and every id visible
    /// but those in `invisible`.
    fn render_without(object: &Value, withheld: &[&str], invisible: &[String]) -> Option<Value> {
        let (object, portions) = parts(object);
        let selectors = portions.selectors().to_vec();
        let shown = move |i: usize| i == 0 || !withheld.contains(&selectors[i - 1].as_str());
        render(&object, &portions, &shown, &|id| !invisible.iter().any(|i| i == id))
    }

    fn selectors_of(rendered: &Value) -> Vec<(String, String)> {
        let markings = rendered.get("granular_markings").and_then(Value::as_array).cloned().unwrap_or_default();
        markings
            .iter()
            .flat_map(|g| {
                let marking = g["marking_ref"].as_str().unwrap().to_string();
                g["selectors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |s| (s.as_str().unwrap().to_string(), marking.clone()))
            })
            .collect()
    }

    #[test]
    fn withheld_list_elements_go_and_selectors_follow_the_rest() {
        let object = with(report(1), "labels", json!(["a", "b", "c", "d"]));
        let object = with(
            object,
            "granular_markings",
            json!([
                { "marking_ref": m(1), "selectors": ["labels.[1]"] },
                { "marking_ref": m(2), "selectors": ["labels.[3]", "name"] },
                { "marking_ref": m(3), "selectors": ["labels.[2]"] },
            ]),
        );
        let everything = render_without(&object, &[], &[]).unwrap();
        assert_eq!(everything, object);
        let out = render_without(&object, &["labels.[1]"], &[]).unwrap();
        assert_eq!(out["labels"], json!(["a", "c", "d"]));
        assert_eq!(
            selectors_of(&out),
            [("labels.[2]".into(), m(2)), ("name".into(), m(2)), ("labels.[1]".into(), m(3))]
        );
        let out = render_without(&object, &["labels.[1]", "labels.[2]", "labels.[3]"], &[]).unwrap();
        assert_eq!(out["labels"], json!(["a"]));
        assert_eq!(selectors_of(&out), [("name".into(), m(2))]);
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        let original: Vec<&String> = object.as_object().unwrap().keys().collect();
        assert_eq!(keys, original, "properties keep their order");
    }

    #[test]
    fn nested_portions_and_emptied_containers() {
        let object = with(
            report(1),
            "x_items",
            json!([{ "key": "k0", "value": "v0" }, { "key": "k1", "value": "v1" }, { "key": "k2", "value": "v2" }]),
        );
        let object = with(object, "description", json!("secret words"));
        let object = with(
            object,
            "granular_markings",
            json!([
                { "marking_ref": m(1), "selectors": ["x_items.[0]"] },
                { "marking_ref": m(2), "selectors": ["x_items.[2].value", "description"] },
                { "marking_ref": m(3), "selectors": ["x_items.[1].value"] },
            ]),
        );
        let out = render_without(&object, &["x_items.[0]", "x_items.[1].value"], &[]).unwrap();
        assert_eq!(out["x_items"], json!([{ "key": "k1" }, { "key": "k2", "value": "v2" }]));
        assert_eq!(selectors_of(&out), [("x_items.[1].value".into(), m(2)), ("description".into(), m(2))]);
        let out = render_without(&object, &["description", "x_items.[2].value"], &[]).unwrap();
        assert!(out.get("description").is_none());
        assert!(!out.to_string().contains("secret words"));
        // Only the markings of x_items.[0] and x_items.[1].value are left.
        assert_eq!(selectors_of(&out), [("x_items.[0]".into(), m(1)), ("x_items.[1].value".into(), m(3))]);
        let whole_list =
            with(object.clone(), "granular_markings", json!([{ "marking_ref": m(1), "selectors": ["x_items"] }]));
        let out = render_without(&whole_list, &["x_items"], &[]).unwrap();
        assert!(out.get("x_items").is_none());
        assert!(out.get("granular_markings").is_none(), "an emptied granular_markings goes");
    }

    #[test]
    fn a_withheld_required_property_withholds_the_object() {
        let object = with(report(1), "granular_markings", json!([{ "marking_ref": m(1), "selectors": ["name"] }]));
        assert_eq!(render_without(&object, &["name"], &[]), None);
        let indicator = json!({
            "type": "indicator", "spec_version": "2.1", "id": id("indicator", 1), "created": T0, "modified": T0,
            "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": T0,
            "granular_markings": [{ "marking_ref": m(1), "selectors": ["pattern"] }],
        });
        assert_eq!(render_without(&indicator, &["pattern"], &[]), None);
        let (object, portions) = parts(&indicator);
        assert_eq!(render(&object, &portions, &|i| i != 0, &|_| true), None);
    }

    #[test]
    fn invisible_references_are_removed() {
        let object = with(report(3), "created_by_ref", json!(id("identity", 1)));
        let object =
            with(object, "granular_markings", json!([{ "marking_ref": m(1), "selectors": ["object_refs.[2]"] }]));
        let hidden = vec![id("indicator", 101), id("identity", 1)];
        let out = render_without(&object, &[], &hidden).unwrap();
        assert_eq!(out["object_refs"], json!([id("indicator", 100), id("indicator", 102)]));
        assert!(out.get("created_by_ref").is_none());
        assert_eq!(selectors_of(&out), [("object_refs.[1]".into(), m(1))]);
        assert!(hidden.iter().all(|h| !out.to_string().contains(h.as_str())));
        let all: Vec<String> = (0..3).map(|n| id("indicator", 100 + n)).collect();
        assert_eq!(render_without(&object, &[], &all), None, "a report must refer to something");
    }

    #[test]
    fn relationship_endpoints_and_optional_lists() {
        let relationship = json!({
            "type": "relationship", "spec_version": "2.1", "id": id("relationship", 1), "created": T0, "modified": T0,
            "relationship_type": "indicates", "source_ref": id("indicator", 1), "target_ref": id("malware", 1),
        });
        assert!(render_without(&relationship, &[], &[]).is_some());
        assert_eq!(render_without(&relationship, &[], &[id("malware", 1)]), None);
        let sighting = json!({
            "type": "sighting", "spec_version": "2.1", "id": id("sighting", 1), "created": T0, "modified": T0,
            "sighting_of_ref": id("indicator", 1), "where_sighted_refs": [id("identity", 1), id("identity", 2)],
            "object_marking_refs": [crate::Tlp::Amber.marking_definition_id()],
        });
        let out = render_without(&sighting, &[], &[id("identity", 1), id("identity", 2)]).unwrap();
        assert!(out.get("where_sighted_refs").is_none());
        assert_eq!(out["object_marking_refs"], json!([crate::Tlp::Amber.marking_definition_id()]));
        assert_eq!(render_without(&sighting, &[], &[id("indicator", 1)]), None);
    }
}
