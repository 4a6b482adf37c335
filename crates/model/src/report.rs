//! Portion-marked reports: the text analysts write, and what a recipient's rendering holds.
//!
//! ```text
//! TITLE: (U) Route clearance results, third quarter
//! TOPICS: counter-ied
//! BANNER: SECRET//ORCON/NOFORN
//! SOURCES: report--5d0c3f4e-...
//!
//! (U) Route clearance teams ...
//!
//! (S//REL TO USA, IRQ) Devices found ...
//! ```
//! Portion 0 is the title; portion `i + 1` is paragraph `i`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{BannerProblem, Code, Directory, Marking, Topic};

/// A piece of text with its own marking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portion {
    pub marking: Marking,
    pub text: String,
}

impl Portion {
    /// `(S//REL TO USA, IRQ) text`
    pub fn marked_text(&self) -> String {
        format!("({}) {}", self.marking.portion_mark(), self.text)
    }
}

/// A report as submitted, checked against the coalition but not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDraft {
    pub title: Portion,
    pub topics: BTreeSet<Topic>,
    pub declared_banner: Option<Marking>,
    pub paragraphs: Vec<Portion>,
    /// Ids of the objects the report is built on (`SOURCES:`): it carries their restrictions.
    pub sources: Vec<String>,
}

/// A report text that cannot be accepted: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ReportError {
    pub line: usize,
    pub problem: ReportProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportProblem {
    #[error("the report has no `TITLE:` line")]
    MissingTitle,
    #[error("`{0}:` is given twice")]
    RepeatedHeader(String),
    #[error("the title has no portion mark: write it as `TITLE: (U) ...`")]
    TitleWithoutMark,
    #[error("the paragraph has no portion mark: begin it with one, such as `(U)` or `(S//REL TO USA, IRQ)`")]
    ParagraphWithoutMark,
    #[error("the portion mark `({mark}` is not closed with `)`")]
    UnclosedMark { mark: String },
    #[error("column {column}: portion mark `({mark})`: {problem}")]
    Mark { mark: String, column: usize, problem: BannerProblem },
    #[error("column {column}: banner: {problem}")]
    Banner { column: usize, problem: BannerProblem },
    #[error("{0}")]
    Topic(String),
    #[error("`{0}` is not an object id (such as `report--5d0c3f4e-8a4b-4c1e-9f0d-2b7e6a1c3d45`)")]
    Source(String),
    #[error("the portion has a mark but no text")]
    EmptyPortion,
    #[error("the report has no paragraphs")]
    NoParagraphs,
    #[error("the banner `{declared}` is lower than its portions, which need at least `{needed}`")]
    BannerBelowPortions { declared: String, needed: String },
}

impl ReportDraft {
    /// Reads a report written by `originator`, whose `REL TO` codes must be known to `directory`.
    pub fn parse(text: &str, originator: &Code, directory: &dyn Directory) -> Result<Self, ReportError> {
        let mut title = None;
        let mut topics = None;
        let mut banner = None;
        let mut sources: Option<Vec<String>> = None;
        let mut paragraphs = Vec::new();
        let mut current: Option<(usize, String)> = None;
        let mut in_header = true;

        let flush = |current: &mut Option<(usize, String)>, paragraphs: &mut Vec<Portion>| {
            if let Some((line, text)) = current.take() {
                paragraphs.push(parse_portion(
                    line,
                    0,
                    &text,
                    originator,
                    directory,
                    ReportProblem::ParagraphWithoutMark,
                )?);
            }
            Ok::<(), ReportError>(())
        };

        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if in_header {
                if let Some((key, value)) = header(trimmed) {
                    let (slot_name, value_offset) =
                        (key.to_ascii_uppercase(), raw.len() - raw.trim_start().len() + key.len() + 1);
                    let column_base = value_offset + (value.len() - value.trim_start().len());
                    let value = value.trim();
                    match slot_name.as_str() {
                        "TITLE" => {
                            if title.is_some() {
                                return Err(ReportError {
                                    line,
                                    problem: ReportProblem::RepeatedHeader("TITLE".into()),
                                });
                            }
                            title = Some(parse_portion(
                                line,
                                column_base,
                                value,
                                originator,
                                directory,
                                ReportProblem::TitleWithoutMark,
                            )?);
                        }
                        "TOPICS" => {
                            if topics.is_some() {
                                return Err(ReportError {
                                    line,
                                    problem: ReportProblem::RepeatedHeader("TOPICS".into()),
                                });
                            }
                            let parsed: Result<BTreeSet<Topic>, _> =
                                value.split(',').filter(|t| !t.trim().is_empty()).map(Topic::new).collect();
                            topics = Some(
                                parsed
                                    .map_err(|e| ReportError { line, problem: ReportProblem::Topic(e.to_string()) })?,
                            );
                        }
                        "SOURCES" => {
                            if sources.is_some() {
                                return Err(ReportError {
                                    line,
                                    problem: ReportProblem::RepeatedHeader("SOURCES".into()),
                                });
                            }
                            let ids = value.split(',').map(str::trim).filter(|id| !id.is_empty());
                            sources = Some(
                                ids.map(|id| {
                                    crate::stix::is_object_id(id).then(|| id.to_string()).ok_or_else(|| ReportError {
                                        line,
                                        problem: ReportProblem::Source(id.to_string()),
                                    })
                                })
                                .collect::<Result<_, _>>()?,
                            );
                        }
                        _ => {
                            if banner.is_some() {
                                return Err(ReportError {
                                    line,
                                    problem: ReportProblem::RepeatedHeader("BANNER".into()),
                                });
                            }
                            let marking = Marking::parse(value, originator, directory).map_err(|e| ReportError {
                                line,
                                problem: ReportProblem::Banner { column: column_base + e.column, problem: e.problem },
                            })?;
                            banner = Some((line, marking));
                        }
                    }
                    continue;
                }
                if trimmed.is_empty() {
                    continue;
                }
                in_header = false;
            }
            if trimmed.is_empty() {
                flush(&mut current, &mut paragraphs)?;
            } else if let Some((_, text)) = current.as_mut() {
                text.push(' ');
                text.push_str(trimmed);
            } else {
                current = Some((line, trimmed.to_string()));
            }
        }
        flush(&mut current, &mut paragraphs)?;

        let title = title.ok_or(ReportError { line: 1, problem: ReportProblem::MissingTitle })?;
        if paragraphs.is_empty() {
            return Err(ReportError { line: text.lines().count().max(1), problem: ReportProblem::NoParagraphs });
        }
        let draft = ReportDraft {
            title,
            topics: topics.unwrap_or_default(),
            declared_banner: banner.as_ref().map(|(_, m)| m.clone()),
            paragraphs,
            sources: sources.unwrap_or_default(),
        };
        if let Some((line, declared)) = banner {
            let needed = draft.computed_banner();
            if !declared.covers(&needed) {
                return Err(ReportError {
                    line,
                    problem: ReportProblem::BannerBelowPortions {
                        declared: declared.banner(),
                        needed: needed.banner(),
                    },
                });
            }
        }
        Ok(draft)
    }

    /// The banner over every portion (the originator's full view).
    pub fn computed_banner(&self) -> Marking {
        let portions = std::iter::once(&self.title).chain(&self.paragraphs).map(|p| &p.marking);
        Marking::banner_of(portions).unwrap_or_else(|| self.title.marking.clone())
    }
}

/// `KEY: value` for the header keys, in any case.
fn header(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    ["TITLE", "TOPICS", "BANNER", "SOURCES"].iter().any(|k| k.eq_ignore_ascii_case(key)).then_some((key, value))
}

fn parse_portion(
    line: usize,
    column_base: usize,
    text: &str,
    originator: &Code,
    directory: &dyn Directory,
    unmarked: ReportProblem,
) -> Result<Portion, ReportError> {
    let error = |problem| ReportError { line, problem };
    let rest = text.strip_prefix('(').ok_or_else(|| error(unmarked))?;
    let (mark, body) = rest
        .split_once(')')
        .ok_or_else(|| error(ReportProblem::UnclosedMark { mark: rest.chars().take(40).collect() }))?;
    let marking = Marking::parse(mark, originator, directory).map_err(|e| {
        error(ReportProblem::Mark { mark: mark.to_string(), column: column_base + 1 + e.column, problem: e.problem })
    })?;
    let body = body.trim();
    if body.is_empty() {
        return Err(error(ReportProblem::EmptyPortion));
    }
    Ok(Portion { marking, text: body.to_string() })
}

/// A stored report, with every portion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: String,
    pub originator: Code,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub title: Portion,
    pub topics: BTreeSet<Topic>,
    pub paragraphs: Vec<Portion>,
}

impl Report {
    /// Portion 0 is the title, portion `i + 1` paragraph `i`.
    pub fn portions(&self) -> impl Iterator<Item = &Portion> {
        std::iter::once(&self.title).chain(&self.paragraphs)
    }

    pub fn portions_mut(&mut self) -> impl Iterator<Item = &mut Portion> {
        std::iter::once(&mut self.title).chain(&mut self.paragraphs)
    }

    /// What a recipient gets when it may see the portions for which `shown(index)` holds: nothing
    /// unless it may see the title and at least one paragraph.
    pub fn render(&self, shown: impl Fn(usize) -> bool) -> Option<Rendering> {
        if !shown(0) {
            return None;
        }
        let paragraphs: Vec<(usize, Portion)> =
            self.paragraphs.iter().enumerate().filter(|(i, _)| shown(i + 1)).map(|(i, p)| (i, p.clone())).collect();
        let portions = std::iter::once(&self.title).chain(paragraphs.iter().map(|(_, p)| p));
        let banner = Marking::banner_of(portions.map(|p| &p.marking))?;
        (!paragraphs.is_empty()).then(|| Rendering {
            id: self.id.clone(),
            originator: self.originator.clone(),
            created: self.created,
            title: self.title.clone(),
            topics: self.topics.clone(),
            banner,
            paragraphs,
        })
    }
}

/// The report as one recipient sees it. `paragraphs` keeps each shown paragraph's index in the
/// stored report, so the STIX form can address it; the recipient's own numbering is the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendering {
    pub id: String,
    pub originator: Code,
    pub created: OffsetDateTime,
    pub title: Portion,
    pub topics: BTreeSet<Topic>,
    pub banner: Marking,
    pub paragraphs: Vec<(usize, Portion)>,
}

impl Rendering {
    /// The rendering as marked text, in the form reports are submitted in.
    pub fn marked_text(&self) -> String {
        let mut out = format!("TITLE: {}\n", self.title.marked_text());
        if !self.topics.is_empty() {
            let topics: Vec<&str> = self.topics.iter().map(Topic::as_str).collect();
            out.push_str(&format!("TOPICS: {}\n", topics.join(", ")));
        }
        out.push_str(&format!("BANNER: {}\n", self.banner.banner()));
        for (_, paragraph) in &self.paragraphs {
            out.push('\n');
            out.push_str(&paragraph.marked_text());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CodeKind;

    struct Coalition;

    impl Directory for Coalition {
        fn kind_of(&self, code: &Code) -> Option<CodeKind> {
            match code.as_str() {
                "USA" | "IRQ" | "SYR" => Some(CodeKind::Party),
                "BIC" => Some(CodeKind::Group),
                _ => None,
            }
        }
    }

    const EXAMPLE: &str = include_str!("../../../examples/route-clearance.md");

    fn usa() -> Code {
        Code::new("USA").unwrap()
    }

    fn parse(text: &str) -> Result<ReportDraft, ReportError> {
        ReportDraft::parse(text, &usa(), &Coalition)
    }

    #[test]
    fn the_example_report_parses() {
        let draft = parse(EXAMPLE).unwrap();
        assert_eq!(draft.title.text, "Route clearance results, third quarter");
        assert_eq!(draft.title.marking.banner(), "UNCLASSIFIED");
        assert_eq!(draft.topics.iter().map(Topic::as_str).collect::<Vec<_>>(), ["counter-ied"]);
        let marks: Vec<String> = draft.paragraphs.iter().map(|p| p.marking.portion_mark()).collect();
        assert_eq!(marks, ["U", "S//REL TO USA, IRQ", "S//OC/REL TO USA, IRQ", "S//NF", "C//REL TO USA, IRQ"]);
        assert!(draft.paragraphs[0].text.starts_with("Route clearance teams"));
        assert_eq!(draft.computed_banner().banner(), "SECRET//ORCON/NOFORN");
    }

    #[test]
    fn wrapped_paragraphs_are_joined_and_headers_read_in_any_case() {
        let draft = parse("title: (U) T\nBanner: S\n\n(U) one\ntwo\n\n(S) three\n").unwrap();
        assert_eq!(draft.paragraphs[0].text, "one two");
        assert_eq!(draft.paragraphs.len(), 2);
        assert_eq!(draft.declared_banner.map(|b| b.banner()), Some("SECRET".to_string()));
    }

    #[test]
    fn bad_reports_say_where_and_what() {
        let err = parse("TITLE: Route clearance\n\n(U) text\n").unwrap_err();
        assert_eq!((err.line, err.problem), (1, ReportProblem::TitleWithoutMark));
        let err = parse("TITLE: (U) T\n\n(U) fine\n\nNo mark here.\n").unwrap_err();
        assert_eq!((err.line, err.problem), (5, ReportProblem::ParagraphWithoutMark));
        let err = parse("TITLE: (U) T\nBANNER: C\n\n(S//NF) text\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(
            err.problem,
            ReportProblem::BannerBelowPortions { declared: "CONFIDENTIAL".into(), needed: "SECRET//NOFORN".into() }
        );
        let err = parse("TITLE: (U) T\n\n(S//REL TO USA, XYZ) text\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(matches!(err.problem, ReportProblem::Mark { column: 17, problem: BannerProblem::UnknownCode(_), .. }));
        assert_eq!(
            err.to_string(),
            "line 3: column 17: portion mark `(S//REL TO USA, XYZ)`: `XYZ` is neither a party nor a group"
        );
        assert_eq!(parse("(U) text\n").unwrap_err().problem, ReportProblem::MissingTitle);
        assert_eq!(parse("TITLE: (U) T\n").unwrap_err().problem, ReportProblem::NoParagraphs);
        assert_eq!(parse("\n\n(U) text\n").unwrap_err().problem, ReportProblem::MissingTitle);
        assert!(matches!(parse("TITLE: (U T\n\n(U) x").unwrap_err().problem, ReportProblem::UnclosedMark { .. }));
        assert_eq!(parse("TITLE: (U)\n\n(U) x").unwrap_err().problem, ReportProblem::EmptyPortion);
        assert!(matches!(
            parse("TITLE: (U) T\nTITLE: (U) T\n\n(U) x").unwrap_err().problem,
            ReportProblem::RepeatedHeader(_)
        ));
        assert!(matches!(parse("TITLE: (U) T\nTOPICS: a b\n\n(U) x").unwrap_err().problem, ReportProblem::Topic(_)));
    }

    fn stored() -> Report {
        let draft = parse(EXAMPLE).unwrap();
        Report {
            id: "report--1".into(),
            originator: usa(),
            created: OffsetDateTime::UNIX_EPOCH,
            title: draft.title,
            topics: draft.topics,
            paragraphs: draft.paragraphs,
        }
    }

    #[test]
    fn a_rendering_needs_the_title_and_one_paragraph() {
        let report = stored();
        assert!(report.render(|i| i != 0).is_none());
        assert!(report.render(|i| i == 0).is_none());
        let partner = report.render(|i| i != 4).unwrap();
        assert_eq!(partner.banner.banner(), "SECRET//ORCON/REL TO USA, IRQ");
        assert_eq!(partner.paragraphs.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2, 4]);
        let text = partner.marked_text();
        assert!(text.starts_with("TITLE: (U) Route clearance results, third quarter\nTOPICS: counter-ied\nBANNER: SECRET//ORCON/REL TO USA, IRQ\n"));
        assert!(!text.contains("(S//NF)"));
        // The marked text of a rendering is itself a valid report with the same portions.
        let again = parse(&text).unwrap();
        assert_eq!(again.paragraphs, partner.paragraphs.into_iter().map(|(_, p)| p).collect::<Vec<_>>());
    }
}
