//! Markings and their banners: `SECRET//ORCON/REL TO USA, IRQ`, `S//NF`, `U`, `TLP:AMBER+STRICT`.
//!
//! A [`Marking`] is built only by parsing a banner against a [`Directory`] (so every `REL TO` code
//! names a known party or group) or by combining markings that were; it cannot hold NOFORN together
//! with REL TO, an empty REL TO list, or an unknown code.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Classification, Code, Tlp};

/// What a code names, as far as markings are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    Party,
    Group,
}

/// Resolves the codes written in `REL TO` lists.
pub trait Directory {
    fn kind_of(&self, code: &Code) -> Option<CodeKind>;
}

/// Classification, dissemination controls and TLP of an object or a portion.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Marking {
    classification: Classification,
    orcon: bool,
    dissemination: Dissemination,
    tlp: Option<Tlp>,
}

/// Who besides the originator may receive: anyone the rules allow, nobody, or a list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dissemination {
    Open,
    NoForn,
    RelTo(RelTo),
}

/// A `REL TO` list: the originator (always included), then other parties, then groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "RelToFields")]
pub struct RelTo {
    originator: Code,
    parties: BTreeSet<Code>,
    groups: BTreeSet<Code>,
}

#[derive(Deserialize)]
struct RelToFields {
    originator: Code,
    parties: BTreeSet<Code>,
    groups: BTreeSet<Code>,
}

impl From<RelToFields> for RelTo {
    fn from(fields: RelToFields) -> Self {
        RelTo::new(fields.originator, fields.parties, fields.groups)
    }
}

impl RelTo {
    fn new(originator: Code, mut parties: BTreeSet<Code>, groups: BTreeSet<Code>) -> Self {
        parties.remove(&originator);
        RelTo { originator, parties, groups }
    }

    pub fn originator(&self) -> &Code {
        &self.originator
    }

    /// Parties named one by one, the originator included.
    pub fn parties(&self) -> impl Iterator<Item = &Code> {
        std::iter::once(&self.originator).chain(self.parties.iter())
    }

    pub fn groups(&self) -> impl Iterator<Item = &Code> {
        self.groups.iter()
    }

    pub fn names_party(&self, party: &Code) -> bool {
        *party == self.originator || self.parties.contains(party)
    }

    /// Only the originator is left: the list says NOFORN.
    fn is_originator_only(&self) -> bool {
        self.parties.is_empty() && self.groups.is_empty()
    }

    fn intersect(&self, other: &RelTo) -> RelTo {
        RelTo {
            originator: self.originator.clone(),
            parties: self.parties.intersection(&other.parties).cloned().collect(),
            groups: self.groups.intersection(&other.groups).cloned().collect(),
        }
    }

    fn is_subset_of(&self, other: &RelTo) -> bool {
        self.parties.is_subset(&other.parties) && self.groups.is_subset(&other.groups)
    }
}

impl fmt::Display for RelTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codes: Vec<&str> = self.parties().chain(self.groups()).map(Code::as_str).collect();
        write!(f, "REL TO {}", codes.join(", "))
    }
}

/// A banner that could not be read: what is wrong, and at which column (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("banner `{banner}`, column {column}: {problem}")]
pub struct BannerError {
    pub banner: String,
    pub column: usize,
    pub problem: BannerProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BannerProblem {
    #[error("the banner is empty")]
    Empty,
    #[error("`{0}` is not a classification (expected U, C, S, TS or their full names)")]
    UnknownClassification(String),
    #[error("`{0}` is not a TLP level (expected CLEAR, GREEN, AMBER, AMBER+STRICT or RED)")]
    UnknownTlp(String),
    #[error("`{0}` is not a dissemination control (expected ORCON, NOFORN or REL TO)")]
    UnknownControl(String),
    #[error("`{0}` is given twice")]
    Repeated(String),
    #[error("NOFORN and REL TO cannot be used together")]
    NoFornWithRelTo,
    #[error("REL TO names no party")]
    EmptyRelTo,
    #[error("empty code in the REL TO list")]
    EmptyCode,
    #[error("{0}")]
    InvalidCode(String),
    #[error("`{0}` is neither a party nor a group")]
    UnknownCode(String),
    #[error("TLP must be the last part of a banner")]
    TlpNotLast,
    #[error("dissemination controls come after a classification")]
    ControlsWithoutClassification,
}

/// Classification, caveats and `REL TO` codes read from a marking definition, before they are tied
/// to the originator of an object that uses it: codes are checked against the coalition only then.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Restriction {
    pub classification: Classification,
    pub orcon: bool,
    pub noforn: bool,
    /// Literal codes (parties or groups); `None` when the definition names no list.
    pub rel_to: Option<BTreeSet<Code>>,
}

/// A `REL TO` code that names neither a party nor a group of the coalition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{code}` is neither a party nor a group")]
pub struct UnknownCode {
    pub code: Code,
}

impl Marking {
    /// A marking with only a classification.
    pub fn classified(classification: Classification) -> Self {
        Marking { classification, orcon: false, dissemination: Dissemination::Open, tlp: None }
    }

    /// A marking with only a TLP level (an object marked `TLP:AMBER` and nothing else).
    pub fn tlp_only(tlp: Tlp) -> Self {
        Marking {
            classification: Classification::Unclassified,
            orcon: false,
            dissemination: Dissemination::Open,
            tlp: Some(tlp),
        }
    }

    /// The marking a [`Restriction`] stands for when `originator` uses it. NOFORN wins over a list
    /// (the more restrictive reading); a list naming only the originator is NOFORN.
    pub fn from_restriction(
        restriction: &Restriction,
        tlp: Option<Tlp>,
        originator: &Code,
        directory: &dyn Directory,
    ) -> Result<Self, UnknownCode> {
        let dissemination = match (&restriction.rel_to, restriction.noforn) {
            (_, true) => Dissemination::NoForn,
            (None, false) => Dissemination::Open,
            (Some(codes), false) => {
                let mut parties = BTreeSet::new();
                let mut groups = BTreeSet::new();
                for code in codes.iter().filter(|code| *code != originator) {
                    match directory.kind_of(code) {
                        Some(CodeKind::Party) => parties.insert(code.clone()),
                        Some(CodeKind::Group) => groups.insert(code.clone()),
                        None => return Err(UnknownCode { code: code.clone() }),
                    };
                }
                let list = RelTo::new(originator.clone(), parties, groups);
                if list.is_originator_only() {
                    Dissemination::NoForn
                } else {
                    Dissemination::RelTo(list)
                }
            }
        };
        Ok(Marking { classification: restriction.classification, orcon: restriction.orcon, dissemination, tlp })
    }

    /// This marking further restricted by `other`, for content under both (a portion under its
    /// object's marking, derived content under its source's): highest classification, ORCON and
    /// NOFORN if either has them, the literal intersection of two `REL TO` lists (conservative when
    /// groups are involved; only the originator left is NOFORN), the most restrictive TLP. The two
    /// may be parts of one marking (a STIX object's TLP definition beside its classification one):
    /// to combine two whole markings, take [`Marking::standalone`] of each first.
    ///
    /// Where both have lists the result keeps this marking's originator; an open side takes the
    /// other's list as it is. Originators are releasable whatever the list says.
    pub fn restricted_by(&self, other: &Marking) -> Marking {
        let dissemination = match (&self.dissemination, &other.dissemination) {
            (Dissemination::NoForn, _) | (_, Dissemination::NoForn) => Dissemination::NoForn,
            (Dissemination::Open, Dissemination::Open) => Dissemination::Open,
            (Dissemination::RelTo(list), Dissemination::Open) | (Dissemination::Open, Dissemination::RelTo(list)) => {
                Dissemination::RelTo(list.clone())
            }
            (Dissemination::RelTo(mine), Dissemination::RelTo(theirs)) => {
                let theirs_all: BTreeSet<&Code> = theirs.parties().collect();
                let parties: BTreeSet<Code> =
                    mine.parties.iter().filter(|code| theirs_all.contains(code)).cloned().collect();
                let groups: BTreeSet<Code> = mine.groups.intersection(&theirs.groups).cloned().collect();
                let common = RelTo::new(mine.originator.clone(), parties, groups);
                if common.is_originator_only() {
                    Dissemination::NoForn
                } else {
                    Dissemination::RelTo(common)
                }
            }
        };
        let tlp = self.tlp.max(other.tlp);
        Marking {
            classification: self.classification.max(other.classification),
            orcon: self.orcon || other.orcon,
            dissemination,
            tlp,
        }
    }

    /// Reads a banner or portion mark (full or abbreviated forms, any order and case).
    ///
    /// `originator` is the party writing it: it is always part of a `REL TO` list.
    pub fn parse(text: &str, originator: &Code, directory: &dyn Directory) -> Result<Self, BannerError> {
        BannerParser { text, originator, directory }.parse()
    }

    pub fn classification(&self) -> Classification {
        self.classification
    }

    pub fn is_orcon(&self) -> bool {
        self.orcon
    }

    pub fn is_noforn(&self) -> bool {
        matches!(self.dissemination, Dissemination::NoForn)
    }

    pub fn rel_to(&self) -> Option<&RelTo> {
        match &self.dissemination {
            Dissemination::RelTo(list) => Some(list),
            _ => None,
        }
    }

    pub fn dissemination(&self) -> &Dissemination {
        &self.dissemination
    }

    pub fn tlp(&self) -> Option<Tlp> {
        self.tlp
    }

    /// Every party and group code the marking names.
    pub fn named_codes(&self) -> Vec<&Code> {
        self.rel_to().map(|list| list.parties().chain(list.groups()).collect()).unwrap_or_default()
    }

    /// The canonical banner, full forms: `SECRET//ORCON/REL TO USA, IRQ`.
    pub fn banner(&self) -> String {
        self.render(false)
    }

    /// The canonical portion mark, abbreviated forms: `S//OC/REL TO USA, IRQ`.
    pub fn portion_mark(&self) -> String {
        self.render(true)
    }

    fn render(&self, abbreviated: bool) -> String {
        let mut controls = Vec::new();
        if self.orcon {
            controls.push(if abbreviated { "OC".to_string() } else { "ORCON".to_string() });
        }
        match &self.dissemination {
            Dissemination::Open => {}
            Dissemination::NoForn => controls.push(if abbreviated { "NF".to_string() } else { "NOFORN".to_string() }),
            Dissemination::RelTo(list) => controls.push(list.to_string()),
        }
        let class = if abbreviated { self.classification.abbreviation() } else { self.classification.full() };
        let mut segments = Vec::new();
        let tlp_alone = self.classification == Classification::Unclassified && controls.is_empty();
        if !(tlp_alone && self.tlp.is_some()) {
            segments.push(class.to_string());
        }
        if !controls.is_empty() {
            segments.push(controls.join("/"));
        }
        if let Some(tlp) = self.tlp {
            segments.push(tlp.to_string());
        }
        segments.join("//")
    }

    /// The banner of a rendering holding these portions (DESIGN.md section 2): the highest
    /// classification, ORCON and NOFORN if any portion has them, otherwise the intersection of the
    /// `REL TO` lists when every classified portion has one, and the most restrictive TLP.
    /// `None` when there are no portions.
    pub fn banner_of<'a>(portions: impl IntoIterator<Item = &'a Marking>) -> Option<Marking> {
        let portions: Vec<&Marking> = portions.into_iter().collect();
        let classification = portions.iter().map(|m| m.classification).max()?;
        let orcon = portions.iter().any(|m| m.orcon);
        let tlp = portions.iter().filter_map(|m| m.tlp).max();
        let dissemination = if portions.iter().any(|m| m.is_noforn()) {
            Dissemination::NoForn
        } else {
            let classified: Vec<&Marking> =
                portions.iter().copied().filter(|m| m.classification > Classification::Unclassified).collect();
            let lists: Option<Vec<&RelTo>> = classified.iter().map(|m| m.rel_to()).collect();
            match lists.as_deref() {
                Some([first, rest @ ..]) => {
                    let common = rest.iter().fold((*first).clone(), |acc, list| acc.intersect(list));
                    if common.is_originator_only() {
                        Dissemination::NoForn
                    } else {
                        Dissemination::RelTo(common)
                    }
                }
                _ => Dissemination::Open,
            }
        };
        Some(Marking { classification, orcon, dissemination, tlp })
    }

    /// This marking as the whole marking of some content: TLP:RED goes only to parties named one
    /// by one, so RED without a list is NOFORN (the same parties, the originators). Combining
    /// whole markings with [`Marking::restricted_by`] then never widens RED.
    pub fn standalone(&self) -> Marking {
        if self.tlp == Some(Tlp::Red) && self.rel_to().is_none() {
            Marking { dissemination: Dissemination::NoForn, ..self.clone() }
        } else {
            self.clone()
        }
    }

    /// Whether this marking is at least as restrictive as `other` (a banner over that portion).
    pub fn covers(&self, other: &Marking) -> bool {
        let dissemination = match (&self.dissemination, &other.dissemination) {
            (_, Dissemination::Open) => true,
            (Dissemination::NoForn, _) => true,
            (Dissemination::RelTo(mine), Dissemination::RelTo(theirs)) => mine.is_subset_of(theirs),
            _ => false,
        };
        let tlp = match (self.tlp, other.tlp) {
            (_, None) => true,
            (Some(mine), Some(theirs)) => mine >= theirs,
            (None, Some(_)) => false,
        };
        self.classification >= other.classification && (self.orcon || !other.orcon) && dissemination && tlp
    }
}

impl fmt::Display for Marking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.banner())
    }
}

struct BannerParser<'a> {
    text: &'a str,
    originator: &'a Code,
    directory: &'a dyn Directory,
}

/// A piece of the banner with its byte offset in the whole text.
#[derive(Clone, Copy)]
struct Piece<'a> {
    offset: usize,
    text: &'a str,
}

impl<'a> Piece<'a> {
    fn trimmed(self) -> Piece<'a> {
        let start = self.text.len() - self.text.trim_start().len();
        Piece { offset: self.offset + start, text: self.text.trim() }
    }

    fn split(self, separator: &'a str) -> impl Iterator<Item = Piece<'a>> + 'a {
        let base = self.offset;
        let text = self.text;
        let mut start = 0;
        text.split(separator).map(move |part| {
            let piece = Piece { offset: base + start, text: part };
            start += part.len() + separator.len();
            piece.trimmed()
        })
    }

    fn upper(self) -> String {
        self.text.to_ascii_uppercase()
    }
}

impl BannerParser<'_> {
    fn error(&self, offset: usize, problem: BannerProblem) -> BannerError {
        let column = self.text.get(..offset).map_or(offset, |prefix| prefix.chars().count()) + 1;
        BannerError { banner: self.text.to_string(), column, problem }
    }

    fn parse(&self) -> Result<Marking, BannerError> {
        let whole = Piece { offset: 0, text: self.text };
        if whole.text.trim().is_empty() {
            return Err(self.error(0, BannerProblem::Empty));
        }
        let segments: Vec<Piece> = whole.split("//").collect();
        let mut marking = Marking::classified(Classification::Unclassified);
        let mut seen_controls = false;
        for (index, segment) in segments.iter().copied().enumerate() {
            let upper = segment.upper();
            if let Some(level) = upper.strip_prefix("TLP:") {
                if index + 1 != segments.len() {
                    return Err(self.error(segment.offset, BannerProblem::TlpNotLast));
                }
                marking.tlp =
                    Some(Tlp::parse_level(level).ok_or_else(|| {
                        self.error(segment.offset, BannerProblem::UnknownTlp(level.trim().to_string()))
                    })?);
            } else if index == 0 {
                marking.classification = Classification::parse(segment.text).ok_or_else(|| {
                    let problem = if looks_like_control(&upper) {
                        BannerProblem::ControlsWithoutClassification
                    } else {
                        BannerProblem::UnknownClassification(segment.text.to_string())
                    };
                    self.error(segment.offset, problem)
                })?;
            } else if seen_controls {
                return Err(self.error(segment.offset, BannerProblem::Repeated("//".to_string())));
            } else {
                seen_controls = true;
                self.parse_controls(segment, &mut marking)?;
            }
        }
        Ok(marking)
    }

    fn parse_controls(&self, segment: Piece, marking: &mut Marking) -> Result<(), BannerError> {
        for control in segment.split("/") {
            let upper = control.upper();
            let words: Vec<&str> = upper.split_whitespace().collect();
            match words.as_slice() {
                ["ORCON"] | ["OC"] => {
                    if marking.orcon {
                        return Err(self.error(control.offset, BannerProblem::Repeated("ORCON".into())));
                    }
                    marking.orcon = true;
                }
                ["NOFORN"] | ["NF"] => match marking.dissemination {
                    Dissemination::Open => marking.dissemination = Dissemination::NoForn,
                    Dissemination::NoForn => {
                        return Err(self.error(control.offset, BannerProblem::Repeated("NOFORN".into())))
                    }
                    Dissemination::RelTo(_) => return Err(self.error(control.offset, BannerProblem::NoFornWithRelTo)),
                },
                ["REL", ..] => {
                    let list = self.parse_rel_to(control)?;
                    marking.dissemination = match marking.dissemination {
                        Dissemination::Open => Dissemination::RelTo(list),
                        Dissemination::NoForn => return Err(self.error(control.offset, BannerProblem::NoFornWithRelTo)),
                        Dissemination::RelTo(_) => {
                            return Err(self.error(control.offset, BannerProblem::Repeated("REL TO".into())))
                        }
                    };
                }
                [] => return Err(self.error(control.offset, BannerProblem::UnknownControl(String::new()))),
                _ => return Err(self.error(control.offset, BannerProblem::UnknownControl(control.text.to_string()))),
            }
        }
        Ok(())
    }

    /// `REL TO A, B, C` (also `REL A, B`): the codes after the keyword.
    fn parse_rel_to(&self, control: Piece) -> Result<RelTo, BannerError> {
        let upper = control.upper();
        let after_rel = upper.get(3..).unwrap_or_default();
        let keyword_len = if after_rel.trim_start().starts_with("TO ") || after_rel.trim() == "TO" {
            3 + (after_rel.len() - after_rel.trim_start().len()) + 2
        } else {
            3
        };
        let list =
            Piece { offset: control.offset + keyword_len, text: control.text.get(keyword_len..).unwrap_or_default() };
        if list.text.trim().is_empty() {
            return Err(self.error(control.offset, BannerProblem::EmptyRelTo));
        }
        let mut parties = BTreeSet::new();
        let mut groups = BTreeSet::new();
        for item in list.split(",") {
            if item.text.is_empty() {
                return Err(self.error(item.offset, BannerProblem::EmptyCode));
            }
            let code =
                Code::new(item.text).map_err(|e| self.error(item.offset, BannerProblem::InvalidCode(e.to_string())))?;
            if code == *self.originator {
                continue;
            }
            match self.directory.kind_of(&code) {
                Some(CodeKind::Party) => parties.insert(code),
                Some(CodeKind::Group) => groups.insert(code),
                None => return Err(self.error(item.offset, BannerProblem::UnknownCode(code.to_string()))),
            };
        }
        Ok(RelTo::new(self.originator.clone(), parties, groups))
    }
}

fn looks_like_control(upper: &str) -> bool {
    let first = upper.split('/').next().unwrap_or_default().trim();
    ["ORCON", "OC", "NOFORN", "NF"].contains(&first) || first.starts_with("REL ")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Coalition;

    impl Directory for Coalition {
        fn kind_of(&self, code: &Code) -> Option<CodeKind> {
            match code.as_str() {
                "USA" | "IRQ" | "SYR" | "RUS" | "IRN" | "GBR" => Some(CodeKind::Party),
                "BIC" | "FVEY" => Some(CodeKind::Group),
                _ => None,
            }
        }
    }

    fn usa() -> Code {
        Code::new("USA").unwrap()
    }

    fn parse(text: &str) -> Result<Marking, BannerError> {
        Marking::parse(text, &usa(), &Coalition)
    }

    fn canonical(text: &str) -> String {
        parse(text).unwrap().banner()
    }

    #[test]
    fn canonical_output_of_the_brief() {
        assert_eq!(canonical("S//NF"), "SECRET//NOFORN");
        assert_eq!(canonical("s//oc/rel to irq, usa"), "SECRET//ORCON/REL TO USA, IRQ");
        assert_eq!(canonical("TOP SECRET"), "TOP SECRET");
        assert_eq!(canonical("U"), "UNCLASSIFIED");
        assert_eq!(canonical("TLP:WHITE"), "TLP:CLEAR");
        assert_eq!(canonical("TLP:AMBER+STRICT"), "TLP:AMBER+STRICT");
        assert_eq!(canonical("S//OC/REL TO USA, IRQ"), "SECRET//ORCON/REL TO USA, IRQ");
        assert_eq!(canonical("SECRET//REL TO USA, IRQ/ORCON"), "SECRET//ORCON/REL TO USA, IRQ");
    }

    #[test]
    fn whole_markings_combined_never_widen_tlp_red() {
        let whole = |a: &str, b: &str| parse(a).unwrap().standalone().restricted_by(&parse(b).unwrap().standalone());
        // RED without a list names nobody: a list on the other side does not name anyone for it.
        assert_eq!(whole("U//TLP:RED", "U//REL TO IRQ, GBR").portion_mark(), "U//NF//TLP:RED");
        assert_eq!(whole("U//REL TO IRQ, GBR", "U//TLP:RED").portion_mark(), "U//NF//TLP:RED");
        assert_eq!(whole("U//REL TO IRQ//TLP:RED", "U//REL TO IRQ, GBR").portion_mark(), "U//REL TO USA, IRQ//TLP:RED");
        // Parts of one marking (a TLP definition beside a REL TO one) keep the list.
        assert_eq!(
            parse("U//REL TO IRQ").unwrap().restricted_by(&parse("TLP:RED").unwrap()).portion_mark(),
            "U//REL TO USA, IRQ//TLP:RED"
        );
    }

    #[test]
    fn rel_to_lists_originator_then_parties_then_groups() {
        assert_eq!(canonical("S//REL TO FVEY, IRQ, BIC, GBR"), "SECRET//REL TO USA, GBR, IRQ, BIC, FVEY");
        assert_eq!(parse("C//REL TO IRQ").unwrap().portion_mark(), "C//REL TO USA, IRQ");
    }

    #[test]
    fn abbreviated_output_round_trips() {
        for text in ["S//OC/REL TO USA, IRQ", "S//NF", "U", "TS//OC", "C//REL TO USA, BIC//TLP:RED", "TLP:GREEN"] {
            let marking = parse(text).unwrap();
            assert_eq!(marking.portion_mark(), text);
            assert_eq!(parse(&marking.banner()).unwrap(), marking);
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = parse("S//NF/REL TO USA, IRQ").unwrap_err();
        assert_eq!(err.problem, BannerProblem::NoFornWithRelTo);
        assert_eq!(err.column, 7);
        let err = parse("X//NF").unwrap_err();
        assert_eq!(err.problem, BannerProblem::UnknownClassification("X".into()));
        assert_eq!(err.column, 1);
        assert_eq!(
            err.to_string(),
            "banner `X//NF`, column 1: `X` is not a classification (expected U, C, S, TS or their full names)"
        );
        assert_eq!(parse("S//REL TO").unwrap_err().problem, BannerProblem::EmptyRelTo);
        let err = parse("S//REL TO USA,, IRQ").unwrap_err();
        assert_eq!((err.problem, err.column), (BannerProblem::EmptyCode, 15));
        let err = parse("S//REL TO USA, XYZ").unwrap_err();
        assert_eq!((err.problem, err.column), (BannerProblem::UnknownCode("XYZ".into()), 16));
        assert_eq!(parse("").unwrap_err().problem, BannerProblem::Empty);
        assert_eq!(parse("S//OC/OC").unwrap_err().problem, BannerProblem::Repeated("ORCON".into()));
        assert_eq!(parse("S//FOUO").unwrap_err().problem, BannerProblem::UnknownControl("FOUO".into()));
        assert_eq!(parse("TLP:PINK").unwrap_err().problem, BannerProblem::UnknownTlp("PINK".into()));
        assert_eq!(parse("TLP:RED//S").unwrap_err().problem, BannerProblem::TlpNotLast);
        assert_eq!(parse("NF").unwrap_err().problem, BannerProblem::ControlsWithoutClassification);
        assert!(matches!(parse("S//REL TO U1A").unwrap_err().problem, BannerProblem::InvalidCode(_)));
    }

    #[test]
    fn banner_of_the_example_report() {
        let portions: Vec<Marking> =
            ["U", "S//REL TO USA, IRQ", "S//OC/REL TO USA, IRQ", "S//NF", "C//REL TO USA, IRQ"]
                .iter()
                .map(|t| parse(t).unwrap())
                .collect();
        let banner = |picked: &[usize]| Marking::banner_of(picked.iter().map(|i| &portions[*i])).unwrap().banner();
        assert_eq!(banner(&[0, 1, 2, 3, 4]), "SECRET//ORCON/NOFORN");
        assert_eq!(banner(&[0, 1, 2, 4]), "SECRET//ORCON/REL TO USA, IRQ");
        assert_eq!(banner(&[0, 4]), "CONFIDENTIAL//REL TO USA, IRQ");
        assert_eq!(banner(&[0]), "UNCLASSIFIED");
        assert!(Marking::banner_of(std::iter::empty()).is_none());
    }

    #[test]
    fn disjoint_rel_to_lists_leave_noforn_and_unlisted_portions_leave_none() {
        let a = parse("S//REL TO IRQ").unwrap();
        let b = parse("C//REL TO GBR").unwrap();
        let open = parse("C").unwrap();
        assert_eq!(Marking::banner_of([&a, &b]).unwrap().banner(), "SECRET//NOFORN");
        assert_eq!(Marking::banner_of([&a, &open]).unwrap().banner(), "SECRET");
        let amber = parse("U//TLP:AMBER").unwrap();
        let red = parse("TLP:RED").unwrap();
        assert_eq!(Marking::banner_of([&amber, &red, &a]).unwrap().banner(), "SECRET//REL TO USA, IRQ//TLP:RED");
    }

    #[test]
    fn covers_orders_restrictiveness() {
        let full = parse("S//OC/NF").unwrap();
        let rel = parse("S//REL TO IRQ, GBR").unwrap();
        let narrower = parse("S//REL TO IRQ").unwrap();
        assert!(full.covers(&rel));
        assert!(narrower.covers(&rel));
        assert!(!rel.covers(&narrower));
        assert!(!parse("C//REL TO IRQ").unwrap().covers(&narrower));
        assert!(!parse("S").unwrap().covers(&narrower));
        assert!(!parse("S//REL TO IRQ").unwrap().covers(&parse("S//OC").unwrap()));
        assert!(!parse("S").unwrap().covers(&parse("TLP:GREEN").unwrap()));
    }

    #[test]
    fn serde_round_trip_keeps_the_marking() {
        let marking = parse("S//OC/REL TO IRQ, BIC//TLP:AMBER").unwrap();
        let json = serde_json::to_string(&marking).unwrap();
        assert_eq!(serde_json::from_str::<Marking>(&json).unwrap(), marking);
    }
}
