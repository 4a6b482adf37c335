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
    /// the most, if any. For onward release: the holder's, alone.
    pub best_agreements: Vec<(Code, Option<&'c Agreement>)>,
    /// Set when the question is onward release by a holder rather than reading.
    pub onward: Option<Onward>,
}

/// What onward release from a holder depends on besides the recipient's standing.
#[derive(Debug, Clone)]
pub(crate) struct Onward {
    pub holder: Code,
    /// Originators (other than the holder) without an active agreement with the holder that
    /// allows passing the portion on.
    pub not_allowing: Vec<Code>,
    pub approved: bool,
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
            .map(|originator| (originator.clone(), best_agreement(coalition, now, originator, party, facts.topics)))
            .collect();
        Standing { is_originator: from_originator(party), embargoes, best_agreements, onward: None }
    }

    /// The standing of `recipient` when `holder` passes the portion on to it: the originators'
    /// embargoes against the recipient, the holder's own agreements, and whether every other
    /// originator lets the holder pass it on.
    pub fn onward(
        coalition: &'c Coalition,
        now: OffsetDateTime,
        holder: &Code,
        recipient: &Code,
        facts: &PortionFacts<'_>,
        approved: bool,
    ) -> Self {
        let mut standing = Standing::of(coalition, now, recipient, facts);
        let holder_agreement = best_agreement(coalition, now, holder, recipient, facts.topics);
        standing.best_agreements = vec![(holder.clone(), holder_agreement)];
        let classification = facts.marking.classification();
        let not_allowing = facts
            .originators
            .iter()
            .filter(|originator| *originator != holder)
            .filter(|originator| {
                !coalition.agreements().iter().any(|a| {
                    a.from == **originator
                        && a.onward
                        && a.is_active(now)
                        && a.max_classification >= classification
                        && a.to.iter().any(|to| coalition.includes(to, holder))
                        && a.covers_topics(facts.topics)
                })
            })
            .cloned()
            .collect();
        standing.onward = Some(Onward { holder: holder.clone(), not_allowing, approved });
        standing
    }

    /// The highest classification every originator's agreements (for onward release, the
    /// holder's) allow the party; `None` when
    /// some originator has no agreement covering it (or there is no originator at all).
    pub fn agreement_ceiling(&self) -> Option<Classification> {
        let per_originator: Option<Vec<Classification>> =
            self.best_agreements.iter().map(|(_, best)| best.map(|a| a.max_classification)).collect();
        per_originator?.into_iter().min()
    }
}

/// The active agreement from `from` covering `party` and `topics` that allows the most.
fn best_agreement<'c>(
    coalition: &'c Coalition,
    now: OffsetDateTime,
    from: &Code,
    party: &Code,
    topics: &BTreeSet<Topic>,
) -> Option<&'c Agreement> {
    coalition
        .agreements()
        .iter()
        .filter(|a| {
            a.from == *from
                && a.is_active(now)
                && a.to.iter().any(|to| coalition.includes(to, party))
                && a.covers_topics(topics)
        })
        .max_by_key(|a| a.max_classification)
}
