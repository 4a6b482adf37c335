//! Traffic Light Protocol 2.0, with the official OASIS marking-definition ids (TLP 1.0 on input).

use std::fmt;

use serde::{Deserialize, Serialize};

/// TLP 2.0 levels, ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tlp {
    #[serde(rename = "CLEAR")]
    Clear,
    #[serde(rename = "GREEN")]
    Green,
    #[serde(rename = "AMBER")]
    Amber,
    #[serde(rename = "AMBER+STRICT")]
    AmberStrict,
    #[serde(rename = "RED")]
    Red,
}

/// The OASIS TLP 2.0 marking definitions (cti-stix-common-objects).
const TLP2_IDS: [(Tlp, &str); 5] = [
    (Tlp::Clear, "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"),
    (Tlp::Green, "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"),
    (Tlp::Amber, "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"),
    (Tlp::AmberStrict, "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"),
    (Tlp::Red, "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"),
];

/// The STIX 2.1 built-in TLP 1.0 marking definitions, accepted on input (WHITE is CLEAR).
const TLP1_IDS: [(Tlp, &str); 4] = [
    (Tlp::Clear, "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
    (Tlp::Green, "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"),
    (Tlp::Amber, "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"),
    (Tlp::Red, "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"),
];

/// The extension under which the TLP 2.0 marking definitions are published.
pub const TLP2_EXTENSION_ID: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

impl Tlp {
    pub const ALL: [Tlp; 5] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red];

    /// Parses the level after `TLP:`; `WHITE` (TLP 1.0) is read as `CLEAR`.
    pub fn parse_level(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "CLEAR" | "WHITE" => Some(Tlp::Clear),
            "GREEN" => Some(Tlp::Green),
            "AMBER" => Some(Tlp::Amber),
            "AMBER+STRICT" => Some(Tlp::AmberStrict),
            "RED" => Some(Tlp::Red),
            _ => None,
        }
    }

    pub fn level(self) -> &'static str {
        match self {
            Tlp::Clear => "CLEAR",
            Tlp::Green => "GREEN",
            Tlp::Amber => "AMBER",
            Tlp::AmberStrict => "AMBER+STRICT",
            Tlp::Red => "RED",
        }
    }

    /// The official TLP 2.0 marking-definition id.
    pub fn marking_definition_id(self) -> &'static str {
        TLP2_IDS.iter().find(|(tlp, _)| *tlp == self).map_or(TLP2_IDS[4].1, |(_, id)| id)
    }

    /// Reads a TLP 2.0 or TLP 1.0 marking-definition id.
    pub fn from_marking_definition_id(id: &str) -> Option<Self> {
        TLP2_IDS.iter().chain(TLP1_IDS.iter()).find(|(_, known)| *known == id).map(|(tlp, _)| *tlp)
    }

    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        Tlp::ALL.into_iter().find(|t| i64::from(t.rank()) == rank)
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLP:{}", self.level())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_tlp1_maps_onto_tlp2() {
        for tlp in Tlp::ALL {
            assert_eq!(Tlp::from_marking_definition_id(tlp.marking_definition_id()), Some(tlp));
            assert_eq!(Tlp::from_rank(i64::from(tlp.rank())), Some(tlp));
        }
        assert_eq!(
            Tlp::from_marking_definition_id("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Some(Tlp::Clear)
        );
        assert_eq!(Tlp::Red.marking_definition_id(), "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1");
        assert_eq!(Tlp::parse_level("white"), Some(Tlp::Clear));
        assert!(Tlp::Clear < Tlp::AmberStrict && Tlp::AmberStrict < Tlp::Red);
    }
}
