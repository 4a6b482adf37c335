//! The portions of a STIX object and the marking of each: portion 0 is the whole object under its
//! `object_marking_refs`; portion i >= 1 is the i-th distinct granular-marking selector, in order of
//! first appearance, under its own markings and those of every ancestor selector.

use std::collections::BTreeMap;

use super::definitions::{builtin_marking, MarkingMeaning};
use super::error::StixError;
use super::object::StixObject;
use super::selector::{self, Path};
use crate::{Classification, Code, Directory, Marking};

/// The markings of an object's portions, as the release index stores them (one bit per portion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPortions {
    markings: Vec<Marking>,
    selectors: Vec<String>,
    paths: Vec<Path>,
}

impl ObjectPortions {
    /// Reads the markings of `object` written by `originator`. Marking ids are looked up as the
    /// TLP built-ins first, then through `resolve` (the hub's stored definitions).
    pub fn of(
        object: &StixObject,
        originator: &Code,
        directory: &dyn Directory,
        resolve: &dyn Fn(&str) -> Option<MarkingMeaning>,
    ) -> Result<ObjectPortions, StixError> {
        let mut cache: BTreeMap<String, Marking> = BTreeMap::new();
        let mut marking_of = |id: &str| -> Result<Marking, StixError> {
            if let Some(known) = cache.get(id) {
                return Ok(known.clone());
            }
            let meaning =
                builtin_marking(id).or_else(|| resolve(id)).ok_or_else(|| StixError::UnknownMarking(id.to_string()))?;
            let marking = match meaning {
                MarkingMeaning::Tlp(tlp) => Marking::tlp_only(tlp),
                MarkingMeaning::Statement => Marking::classified(Classification::Unclassified),
                MarkingMeaning::Restriction(restriction) => {
                    Marking::from_restriction(&restriction, None, originator, directory)
                        .map_err(|e| StixError::UnknownCode { marking: id.to_string(), code: e.code })?
                }
            };
            cache.insert(id.to_string(), marking.clone());
            Ok(marking)
        };
        let mut whole = Marking::classified(Classification::Unclassified);
        for id in object.object_marking_refs() {
            whole = whole.restricted_by(&marking_of(id)?);
        }
        // Each selector with the markings applied to it directly, in order of first appearance.
        let mut selectors: Vec<(String, Path, Vec<Marking>)> = Vec::new();
        for granular in object.granular_markings() {
            let marking = granular.marking_ref.map(&mut marking_of).transpose()?;
            for text in granular.selectors {
                let position = match selectors.iter().position(|(known, _, _)| known == text) {
                    Some(position) => position,
                    None => {
                        let path = selector::parse(text)
                            .map_err(|reason| StixError::InvalidSelector { selector: text.to_string(), reason })?;
                        selectors.push((text.to_string(), path, Vec::new()));
                        selectors.len() - 1
                    }
                };
                if let (Some(marking), Some((_, _, markings))) = (&marking, selectors.get_mut(position)) {
                    markings.push(marking.clone());
                }
            }
        }
        let mut markings = vec![whole.clone()];
        for (_, path, _) in &selectors {
            let applying = selectors
                .iter()
                .filter(|(_, other, _)| selector::is_ancestor_or_self(other, path))
                .flat_map(|(_, _, direct)| direct.iter());
            markings.push(applying.fold(whole.clone(), |acc, marking| acc.restricted_by(marking)));
        }
        let (selectors, paths) = selectors.into_iter().map(|(text, path, _)| (text, path)).unzip();
        Ok(ObjectPortions { markings, selectors, paths })
    }

    /// The marking of each portion; index 0 is the whole object, index i the selector
    /// `selectors()[i - 1]`.
    pub fn markings(&self) -> &[Marking] {
        &self.markings
    }

    /// The selector of each granular portion: `selectors()[i - 1]` is portion i.
    pub fn selectors(&self) -> &[String] {
        &self.selectors
    }

    pub(crate) fn paths(&self) -> &[Path] {
        &self.paths
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::stix::test_support::*;
    use crate::{Restriction, Tlp};

    fn restriction(banner: &str) -> MarkingMeaning {
        let marking = Marking::parse(banner, &usa(), &Coalition).unwrap();
        MarkingMeaning::Restriction(Restriction {
            classification: marking.classification(),
            orcon: marking.is_orcon(),
            noforn: marking.is_noforn(),
            rel_to: marking.rel_to().map(|list| list.parties().chain(list.groups()).cloned().collect()),
        })
    }

    fn resolver(id: &str) -> Option<MarkingMeaning> {
        let n: u32 = id.rsplit('-').next()?.parse().ok()?;
        Some(match n {
            1 => restriction("S//REL TO IRQ, GBR, BIC"),
            2 => restriction("C//REL TO IRQ, BIC"),
            3 => restriction("U//OC"),
            4 => restriction("TS//REL TO GBR"),
            5 => MarkingMeaning::Statement,
            6 => MarkingMeaning::Restriction(Restriction {
                classification: Classification::Confidential,
                orcon: false,
                noforn: false,
                rel_to: Some(["SYR", "NZL"].iter().map(|c| Code::new(c).unwrap()).collect()),
            }),
            _ => return None,
        })
    }

    fn marked(object_markings: &[u32], granular: Value) -> StixObject {
        let mut object = report(3);
        object["labels"] = json!(["a", "b", "c"]);
        object["description"] = json!("text");
        object["x_items"] = json!([{ "key": "k0", "value": "v0" }, { "key": "k1", "value": "v1" }]);
        if !object_markings.is_empty() {
            object["object_marking_refs"] =
                json!(object_markings.iter().map(|n| id("marking-definition", *n)).collect::<Vec<_>>());
        }
        object["granular_markings"] = granular;
        StixObject::parse(object).unwrap()
    }

    fn banners(portions: &ObjectPortions) -> Vec<String> {
        portions.markings().iter().map(Marking::banner).collect()
    }

    #[test]
    fn selectors_are_portions_in_order_of_first_appearance_under_their_ancestors() {
        let m = |n: u32| id("marking-definition", n);
        let object = marked(
            &[1],
            json!([
                { "marking_ref": m(2), "selectors": ["x_items.[1]", "description"] },
                { "marking_ref": m(3), "selectors": ["x_items"] },
                { "marking_ref": Tlp::Amber.marking_definition_id(), "selectors": ["x_items.[1].value",
                    "x_items.[1]"] },
                { "marking_ref": m(5), "selectors": ["labels.[0]"] },
            ]),
        );
        let portions = ObjectPortions::of(&object, &usa(), &Coalition, &resolver).unwrap();
        assert_eq!(portions.selectors(), ["x_items.[1]", "description", "x_items", "x_items.[1].value", "labels.[0]"]);
        assert_eq!(
            banners(&portions),
            [
                "SECRET//REL TO USA, GBR, IRQ, BIC",
                // x_items.[1]: object, its own C//REL TO IRQ, BIC and AMBER, and x_items' ORCON.
                "SECRET//ORCON/REL TO USA, IRQ, BIC//TLP:AMBER",
                "SECRET//REL TO USA, IRQ, BIC",
                "SECRET//ORCON/REL TO USA, GBR, IRQ, BIC",
                "SECRET//ORCON/REL TO USA, IRQ, BIC//TLP:AMBER",
                "SECRET//REL TO USA, GBR, IRQ, BIC",
            ]
        );
    }

    #[test]
    fn no_object_marking_is_unclassified_and_disjoint_lists_are_noforn() {
        let object = marked(&[], json!([{ "marking_ref": id("marking-definition", 4), "selectors": ["description"] }]));
        let portions = ObjectPortions::of(&object, &usa(), &Coalition, &resolver).unwrap();
        assert_eq!(banners(&portions), ["UNCLASSIFIED", "TOP SECRET//REL TO USA, GBR"]);
        let object = marked(&[2, 4], json!([{ "marking_ref": id("marking-definition", 3), "selectors": ["name"] }]));
        let portions = ObjectPortions::of(&object, &usa(), &Coalition, &resolver).unwrap();
        assert_eq!(banners(&portions), ["TOP SECRET//NOFORN", "TOP SECRET//ORCON/NOFORN"]);
    }

    #[test]
    fn unknown_markings_and_codes_are_errors_naming_them() {
        let object = marked(&[9], json!([{ "marking_ref": id("marking-definition", 5), "selectors": ["name"] }]));
        let err = ObjectPortions::of(&object, &usa(), &Coalition, &resolver).unwrap_err();
        assert_eq!(err, StixError::UnknownMarking(id("marking-definition", 9)));
        let object = marked(&[], json!([{ "marking_ref": id("marking-definition", 6), "selectors": ["name"] }]));
        let err = ObjectPortions::of(&object, &usa(), &Coalition, &resolver).unwrap_err();
        assert_eq!(
            err,
            StixError::UnknownCode { marking: id("marking-definition", 6), code: Code::new("NZL").unwrap() }
        );
    }
}
