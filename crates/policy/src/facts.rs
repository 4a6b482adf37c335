//! What a decision is about (a portion, with its object's originators and topics), and what the
//! coalition says about a party with respect to those originators: the facts Cedar gets in the
//! request context because computing them needs to iterate over agreements and embargoes.

use std::collections::BTreeSet;

use tearline_model::{Agreement, Classification, Coalition, Code, Embargo, Marking, Portion, Report, Topic};
use time::OffsetDateTime;

/// One portion to decide on: its marking, and its object's originators and topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortionFacts<'a> {
    /// Every originator of the object, those of its provenance included.
    pub originators: &'a [Code],
    pub topics: &'a BTreeSet<Topic>,
    /// The portion's effective marking (for derived content, already combined over provenance).
    pub marking: &'a Marking,
}

impl<'a> PortionFacts<'a> {
    pub fn new(originators: &'a [Code], topics: &'a BTreeSet<Topic>, marking: &'a Marking) -> Self {
        PortionFacts { originators, topics, marking }
    }

    /// A portion of a report, whose one originator is the report's.
    pub fn of_report(report: &'a Report, portion: &'a Portion) -> Self {
        PortionFacts::new(std::slice::from_ref(&report.originator), &report.topics, &portion.marking)
    }
}

/// What the coalition, at decision time, says about one party and a portion's originators.
#[derive(Debug)]
pub(crate) struct Standing<'c> {
    pub is_originator: bool,
    /// Embargoes from an originator against the party or a group it belongs to.
    pub embargoes: Vec<&'c Embargo>,
    /// For each originator, the active agreement covering the party and the topics that allows
    /// the most, if any.
    pub best_agreements: Vec<(Code, Option<&'c Agreement>)>,
}

impl<'c> Standing<'c> {
    pub fn of(coalition: &'c Coalition, now: OffsetDateTime, party: &Code, facts: &PortionFacts<'_>) -> Self {
        let from_originator = |from: &Code| facts.originators.contains(from);
        let embargoes = coalition
            .embargoes()
            .iter()
            .filter(|e| from_originator(&e.from) && coalition.includes(&e.against, party))
            .collect();
        let best_agreements = facts
            .originators
            .iter()
            .map(|originator| {
                let best = coalition
                    .agreements()
                    .iter()
                    .filter(|a| {
                        a.from == *originator
                            && a.is_active(now)
                            && a.to.iter().any(|to| coalition.includes(to, party))
                            && a.covers_topics(facts.topics)
                    })
                    .max_by_key(|a| a.max_classification);
                (originator.clone(), best)
            })
            .collect();
        Standing { is_originator: from_originator(party), embargoes, best_agreements }
    }

    /// The highest classification every originator's agreements allow the party; `None` when
    /// some originator has no agreement covering it (or there is no originator at all).
    pub fn agreement_ceiling(&self) -> Option<Classification> {
        let per_originator: Option<Vec<Classification>> =
            self.best_agreements.iter().map(|(_, best)| best.map(|a| a.max_classification)).collect();
        per_originator?.into_iter().min()
    }
}
