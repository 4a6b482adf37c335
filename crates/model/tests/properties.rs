//! Property tests of the parsers: banners and reports never panic on any input, canonical output
//! reads back to the same marking, and a rendering's banner covers each of its portions.
#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

use proptest::prelude::*;
use tearline_model::{Code, CodeKind, Directory, Marking, ReportDraft};

struct Coalition;

impl Directory for Coalition {
    fn kind_of(&self, code: &Code) -> Option<CodeKind> {
        match code.as_str() {
            "USA" | "IRQ" | "GBR" | "SYR" => Some(CodeKind::Party),
            "BIC" | "FVEY" => Some(CodeKind::Group),
            _ => None,
        }
    }
}

fn usa() -> Code {
    Code::new("USA").unwrap()
}

/// Banners built from valid parts, in random order, case and form.
fn banner_text() -> impl Strategy<Value = String> {
    let class = prop::sample::select(vec!["U", "C", "S", "TS", "UNCLASSIFIED", "confidential", "Secret", "TOP SECRET"]);
    let codes = prop::sample::subsequence(vec!["USA", "irq", "GBR", "BIC", "FVEY"], 1..4);
    let tlp = prop::option::of(prop::sample::select(vec!["CLEAR", "WHITE", "green", "AMBER", "AMBER+STRICT", "RED"]));
    (class, any::<bool>(), 0..3u8, codes, tlp, any::<bool>()).prop_map(
        |(class, orcon, dissem, codes, tlp, abbreviated)| {
            let mut controls = Vec::new();
            match dissem {
                1 => controls.push(if abbreviated { "NF".to_string() } else { "NOFORN".to_string() }),
                2 => controls.push(format!("REL TO {}", codes.join(", "))),
                _ => {}
            }
            if orcon {
                controls.push(if abbreviated { "OC".to_string() } else { "ORCON".to_string() });
            }
            let mut text = class.to_string();
            if !controls.is_empty() {
                text += &format!("//{}", controls.join("/"));
            }
            if let Some(tlp) = tlp {
                text += &format!("//TLP:{tlp}");
            }
            text
        },
    )
}

proptest! {
    #[test]
    fn valid_banners_round_trip_through_both_canonical_forms(text in banner_text()) {
        let marking = Marking::parse(&text, &usa(), &Coalition).unwrap();
        prop_assert_eq!(Marking::parse(&marking.banner(), &usa(), &Coalition).unwrap(), marking.clone());
        prop_assert_eq!(Marking::parse(&marking.portion_mark(), &usa(), &Coalition).unwrap(), marking.clone());
        prop_assert!(marking.covers(&marking));
    }

    #[test]
    fn any_text_is_read_or_refused_without_panicking(text in ".{0,60}") {
        if let Ok(marking) = Marking::parse(&text, &usa(), &Coalition) {
            prop_assert_eq!(Marking::parse(&marking.banner(), &usa(), &Coalition).unwrap(), marking);
        }
    }

    #[test]
    fn banner_like_noise_is_read_or_refused_without_panicking(text in "[USTCNFOREL/ ,:+A-Z]{0,40}") {
        if let Ok(marking) = Marking::parse(&text, &usa(), &Coalition) {
            prop_assert_eq!(Marking::parse(&marking.banner(), &usa(), &Coalition).unwrap(), marking);
        } else {
            let error = Marking::parse(&text, &usa(), &Coalition).unwrap_err();
            prop_assert!(error.column >= 1 && error.column <= text.chars().count() + 1);
        }
    }

    #[test]
    fn the_banner_of_portions_covers_each_of_them(texts in prop::collection::vec(banner_text(), 1..6)) {
        let markings: Vec<Marking> = texts.iter().map(|t| Marking::parse(t, &usa(), &Coalition).unwrap()).collect();
        let banner = Marking::banner_of(&markings).unwrap();
        for marking in &markings {
            prop_assert!(banner.classification() >= marking.classification());
            prop_assert!(banner.is_orcon() || !marking.is_orcon());
            prop_assert!(banner.tlp() >= marking.tlp());
            prop_assert!(banner.is_noforn() || !marking.is_noforn());
            // A banner REL TO list is the intersection of the classified portions' lists.
            if let Some(list) = banner.rel_to() {
                if marking.classification() > tearline_model::Classification::Unclassified {
                    prop_assert!(banner.covers(marking), "{} does not cover {}", banner, marking);
                }
                prop_assert!(list.names_party(&usa()));
            }
        }
    }

    #[test]
    fn any_report_text_is_read_or_refused_without_panicking(text in "(TITLE: |TOPICS: |BANNER: |\\(|\\)|S//NF|U|\n|\n\n|text| ){0,30}") {
        let _ = ReportDraft::parse(&text, &usa(), &Coalition);
    }
}
