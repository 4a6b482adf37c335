//! Property tests of per-recipient STIX rendering against a simple oracle: random reports with
//! lists whose elements carry unique values, random granular markings over elements and
//! properties, random withheld portions and invisible references.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests fail by panicking")]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};
use tearline_model::stix::{render, MarkingMeaning, ObjectPortions, StixObject};
use tearline_model::{Code, CodeKind, Directory};

struct Coalition;

impl Directory for Coalition {
    fn kind_of(&self, _: &Code) -> Option<CodeKind> {
        None
    }
}

fn id(object_type: &str, n: u32) -> String {
    format!("{object_type}--{}", uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | u128::from(n)))
}

const T0: &str = "2026-01-02T03:04:05.000Z";

/// A generated case: list sizes, granular markings (selectors and a marking number), what is shown.
#[derive(Debug, Clone)]
struct Case {
    labels: usize,
    items: usize,
    refs: usize,
    granular: Vec<(Vec<String>, u32)>,
    shown: BTreeMap<String, bool>,
    whole_shown: bool,
    ref_visible: Vec<bool>,
    creator_visible: bool,
}

fn candidates(labels: usize, items: usize, refs: usize) -> Vec<String> {
    let mut all: Vec<String> =
        ["name", "description", "labels", "x_items", "object_refs", "created_by_ref"].map(String::from).to_vec();
    all.extend((0..labels).map(|k| format!("labels.[{k}]")));
    for k in 0..items {
        all.push(format!("x_items.[{k}]"));
        all.push(format!("x_items.[{k}].value"));
    }
    all.extend((0..refs).map(|k| format!("object_refs.[{k}]")));
    all
}

fn case() -> impl Strategy<Value = Case> {
    (1..5usize, 1..5usize, 1..5usize).prop_flat_map(|(labels, items, refs)| {
        let all = candidates(labels, items, refs);
        // Fewer "name" picks, so that most objects survive.
        let pick = prop::sample::select(all.iter().filter(|s| *s != "name").cloned().collect::<Vec<_>>());
        let selector = prop_oneof![9 => pick, 1 => Just("name".to_string())];
        let entry = (prop::collection::vec(selector, 1..4), 1..4u32);
        (
            prop::collection::vec(entry, 0..8),
            prop::collection::vec(any::<bool>(), all.len()),
            prop::bool::weighted(0.9),
            prop::collection::vec(prop::bool::weighted(0.7), refs),
            any::<bool>(),
        )
            .prop_map(move |(granular, shown, whole_shown, ref_visible, creator_visible)| Case {
                labels,
                items,
                refs,
                granular,
                shown: all.iter().cloned().zip(shown).collect(),
                whole_shown,
                ref_visible,
                creator_visible,
            })
    })
}

fn object_of(case: &Case) -> Value {
    let mut object = json!({
        "type": "report",
        "spec_version": "2.1",
        "id": id("report", 1),
        "created": T0,
        "modified": T0,
        "created_by_ref": id("identity", 900),
        "name": "name-text",
        "description": "desc-text",
        "published": T0,
        "labels": (0..case.labels).map(|k| format!("label-{k}")).collect::<Vec<_>>(),
        "x_items": (0..case.items).map(|k| json!({ "key": format!("key-{k}"),
            "value": format!("value-{k}") })).collect::<Vec<_>>(),
        "object_refs": (0..case.refs).map(|k| id("indicator", 100 + k as u32)).collect::<Vec<_>>(),
    });
    if !case.granular.is_empty() {
        object["granular_markings"] = case
            .granular
            .iter()
            .map(|(selectors, n)| json!({ "marking_ref": id("marking-definition", *n), "selectors": selectors }))
            .collect();
    }
    object
}

/// The path through `value` named by its content: property names, and for list elements the unique
/// string they carry (or their `key`).
fn witness(value: &Value, selector: &str) -> Option<Vec<String>> {
    let mut current = value;
    let mut out = Vec::new();
    for step in selector.split('.') {
        if let Some(index) = step.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            current = current.as_array()?.get(index.parse::<usize>().ok()?)?;
            let token = current.as_str().or_else(|| current.get("key").and_then(Value::as_str))?;
            out.push(token.to_string());
        } else {
            current = current.get(step)?;
            out.push(step.to_string());
        }
    }
    Some(out)
}

/// What the oracle expects to be present after rendering.
struct Expected {
    whole: bool,
    present: BTreeMap<String, bool>,
    tokens: Vec<(String, bool)>,
}

fn oracle(case: &Case) -> Expected {
    let used: Vec<&String> = case.granular.iter().flat_map(|(s, _)| s).collect();
    let withheld = |s: &str| used.iter().any(|u| *u == s) && !case.shown[s];
    let label: Vec<bool> =
        (0..case.labels).map(|k| !withheld("labels") && !withheld(&format!("labels.[{k}]"))).collect();
    let item: Vec<bool> =
        (0..case.items).map(|k| !withheld("x_items") && !withheld(&format!("x_items.[{k}]"))).collect();
    let value: Vec<bool> = (0..case.items).map(|k| item[k] && !withheld(&format!("x_items.[{k}].value"))).collect();
    let reference: Vec<bool> = (0..case.refs)
        .map(|k| !withheld("object_refs") && !withheld(&format!("object_refs.[{k}]")) && case.ref_visible[k])
        .collect();
    let creator = !withheld("created_by_ref") && case.creator_visible;
    let description = !withheld("description");
    let whole = case.whole_shown && !withheld("name") && reference.iter().any(|r| *r);
    let mut present = BTreeMap::new();
    present.insert("name".to_string(), true);
    present.insert("description".to_string(), description);
    present.insert("labels".to_string(), label.iter().any(|p| *p));
    present.insert("x_items".to_string(), item.iter().any(|p| *p));
    present.insert("object_refs".to_string(), reference.iter().any(|p| *p));
    present.insert("created_by_ref".to_string(), creator);
    let mut tokens = vec![("desc-text".to_string(), description), (id("identity", 900), creator)];
    for (k, present_label) in label.iter().enumerate() {
        present.insert(format!("labels.[{k}]"), *present_label);
        tokens.push((format!("label-{k}"), *present_label));
    }
    for k in 0..case.items {
        present.insert(format!("x_items.[{k}]"), item[k]);
        present.insert(format!("x_items.[{k}].value"), value[k]);
        tokens.push((format!("key-{k}"), item[k]));
        tokens.push((format!("value-{k}"), value[k]));
    }
    for (k, present_ref) in reference.iter().enumerate() {
        present.insert(format!("object_refs.[{k}]"), *present_ref);
        tokens.push((id("indicator", 100 + k as u32), *present_ref));
    }
    Expected { whole, present, tokens }
}

fn marked_witnesses(value: &Value) -> Vec<(String, Vec<String>)> {
    let entries = value.get("granular_markings").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out: Vec<(String, Vec<String>)> = entries
        .iter()
        .flat_map(|entry| {
            let marking = entry["marking_ref"].as_str().unwrap().to_string();
            let selectors: Vec<String> =
                entry["selectors"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
            selectors.into_iter().map(move |s| {
                let path = witness(value, &s).unwrap_or_else(|| panic!("selector `{s}` resolves to nothing"));
                (marking.clone(), path)
            })
        })
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn renderings_withhold_exactly_what_they_must(case in case()) {
        let input = object_of(&case);
        let object = StixObject::parse(input.clone()).unwrap();
        let portions =
            ObjectPortions::of(&object, &Code::new("USA").unwrap(), &Coalition,
                &|_| Some(MarkingMeaning::Statement)).unwrap();
        let selectors = portions.selectors().to_vec();
        let shown = |i: usize| if i == 0 { case.whole_shown } else { case.shown[&selectors[i - 1]] };
        let visible = |ref_id: &str| {
            if ref_id == id("identity", 900) {
                return case.creator_visible;
            }
            (0..case.refs).all(|k| ref_id != id("indicator", 100 + k as u32) || case.ref_visible[k])
        };
        let expected = oracle(&case);
        let output = render(&object, &portions, &shown, &visible);
        prop_assert_eq!(output.is_some(), expected.whole, "{:?}", output);
        let Some(output) = output else { return Ok(()) };
        let text = output.to_string();
        // (a) nothing withheld or invisible appears; (b) everything kept is there.
        for (token, present) in &expected.tokens {
            prop_assert_eq!(text.contains(&format!("\"{token}\"")), *present, "{} in {}", token, text);
        }
        // (b) every remaining selector points at the content it pointed at, under the same marking.
        let mut kept: Vec<(String, Vec<String>)> = case
            .granular
            .iter()
            .flat_map(|(selectors, n)| selectors.iter().map(move |s| (s, *n)))
            .filter(|(s, _)| expected.present[s.as_str()])
            .map(|(s, n)| (id("marking-definition", n), witness(&input, s).unwrap()))
            .collect();
        kept.sort();
        prop_assert_eq!(marked_witnesses(&output), kept);
        // (c) the rendering is valid STIX.
        prop_assert!(StixObject::parse(output.clone()).is_ok());
    }
}
