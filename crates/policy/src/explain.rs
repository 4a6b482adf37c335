//! Sentences for the policies that applied to a decision.

use tearline_model::{Code, Topic};

use crate::facts::Standing;
use crate::{rule, PolicyInfo, PolicyOrigin, PortionFacts};

/// Why `info` applied to `party` reading the portion, in words.
pub(crate) fn sentence(info: &PolicyInfo, party: &Code, facts: &PortionFacts<'_>, standing: &Standing<'_>) -> String {
    match &info.origin {
        PolicyOrigin::Shipped => shipped_sentence(&info.id, party, facts, standing),
        PolicyOrigin::Operator { file } => {
            let effect = if info.forbids { "forbidden" } else { "permitted" };
            match &info.reason {
                Some(reason) => format!("{reason} (operator policy in `{file}`)"),
                None => format!("{effect} by an operator policy in `{file}`"),
            }
        }
    }
}

fn shipped_sentence(id: &str, party: &Code, facts: &PortionFacts<'_>, standing: &Standing<'_>) -> String {
    let marking = facts.marking;
    let classification = marking.classification();
    match id {
        rule::ORIGINATOR => format!("{party} is an originator of the portion"),
        rule::RECIPIENT => join(standing.best_agreements.iter().filter_map(|(originator, best)| {
            best.map(|a| {
                format!("{originator} shares up to {} with {party}{}", a.max_classification, agreement_name(&a.id))
            })
        })),
        rule::EMBARGO => join(standing.embargoes.iter().map(|e| {
            if e.against == *party {
                format!("{} embargoes {party}", e.from)
            } else {
                format!("{} embargoes {}, which {party} belongs to", e.from, e.against)
            }
        })),
        rule::NO_AGREEMENT => {
            if facts.originators.is_empty() {
                return "the portion names no originator, so no agreement can cover it".to_string();
            }
            let topics = topics_phrase(facts);
            join(
                standing
                    .best_agreements
                    .iter()
                    .filter(|(_, best)| best.is_none())
                    .map(|(originator, _)| format!("no active agreement from {originator} covers {party}{topics}")),
            )
        }
        rule::ABOVE_AGREEMENT_CEILING => join(standing.best_agreements.iter().filter_map(|(originator, best)| {
            best.filter(|a| a.max_classification < classification).map(|a| {
                format!(
                    "the portion is {classification}, and {originator} shares with {party} only up to {}{}",
                    a.max_classification,
                    agreement_name(&a.id)
                )
            })
        })),
        rule::NOT_IN_REL_TO => match marking.rel_to() {
            Some(list) => format!("{party} is not in {list}, neither named nor through a group"),
            None => format!("{party} is not in the portion's REL TO list"),
        },
        rule::NOFORN => format!("the portion is NOFORN: for {} only", codes(facts.originators)),
        rule::TLP_RED => {
            format!("the portion is TLP:RED, which goes only to parties named one by one in REL TO, and {party} is not")
        }
        rule::ONWARD => join(standing.best_agreements.iter().filter_map(|(holder, best)| {
            best.map(|a| {
                format!(
                    "{holder} passes it on to {party} under its own agreement up to {}{}",
                    a.max_classification,
                    agreement_name(&a.id)
                )
            })
        })),
        rule::ORCON_NEEDS_APPROVAL => {
            format!("the portion is ORCON: passing it on to {party} needs the originator's approval")
        }
        rule::TLP_FORBIDS_ONWARD => match marking.tlp() {
            Some(tlp) => format!("the portion is {tlp}: it stays with its recipients unless the originator approves"),
            None => "the portion's TLP does not allow passing it on".to_string(),
        },
        rule::THIRD_PARTY_RULE => match &standing.onward {
            Some(onward) => format!(
                "third-party rule: no agreement from {} lets {} pass on a {classification} portion (onward = false)",
                codes(&onward.not_allowing),
                onward.holder
            ),
            None => "third-party rule: the originator does not allow passing it on".to_string(),
        },
        other => format!("shipped policy `{other}` applies"),
    }
}

fn join(sentences: impl Iterator<Item = String>) -> String {
    sentences.collect::<Vec<_>>().join("; ")
}

fn agreement_name(id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!(" (agreement {id})")
    }
}

fn topics_phrase(facts: &PortionFacts<'_>) -> String {
    if facts.topics.is_empty() {
        " for an object without topics".to_string()
    } else {
        let topics: Vec<&str> = facts.topics.iter().map(Topic::as_str).collect();
        format!(" for the topics {}", topics.join(", "))
    }
}

fn codes(codes: &[Code]) -> String {
    codes.iter().map(Code::as_str).collect::<Vec<_>>().join(", ")
}
