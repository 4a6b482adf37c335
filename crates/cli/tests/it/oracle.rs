//! A deliberately simple second implementation of the release decision (DESIGN.md section 3),
//! written straight from the brief and used only to check the real one.

use std::collections::BTreeSet;

use tearline_model::{Classification, Coalition, Code, Marking, Report, Tlp, Topic, User};
use time::OffsetDateTime;

/// Whether `party` is `code` or a member of the group `code`.
fn is_or_in(coalition: &Coalition, code: &Code, party: &Code) -> bool {
    code == party || coalition.groups().any(|g| &g.code == code && g.members.contains(party))
}

/// What a reading decision needs of a marking, as plain values, so that the oracle can also
/// combine markings by itself (provenance) without the model's `Marking::restricted_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restrictions {
    pub classification: Classification,
    pub orcon: bool,
    pub noforn: bool,
    /// Every code the `REL TO` list names (parties, the originator included, and groups).
    pub rel_to: Option<BTreeSet<Code>>,
    pub tlp: Option<Tlp>,
}

impl Restrictions {
    pub fn of(marking: &Marking) -> Self {
        Restrictions {
            classification: marking.classification(),
            orcon: marking.is_orcon(),
            noforn: marking.is_noforn(),
            rel_to: marking.rel_to().map(|list| list.parties().chain(list.groups()).cloned().collect()),
            tlp: marking.tlp(),
        }
    }

    /// Content under both (DESIGN.md section 2, provenance): the highest classification, caveats
    /// united, the literal intersection of the `REL TO` codes (a list against no list is the
    /// list), the most restrictive TLP; under TLP:RED a side without a list leaves nobody.
    pub fn and(&self, other: &Restrictions) -> Restrictions {
        let rel_to = match (&self.rel_to, &other.rel_to) {
            (None, None) => None,
            (Some(list), None) | (None, Some(list)) => Some(list.clone()),
            (Some(mine), Some(theirs)) => Some(mine.intersection(theirs).cloned().collect()),
        };
        // TLP:RED goes only to parties named one by one: a RED side without a list names nobody,
        // whatever list the other side has.
        let red_without_list = [self, other].iter().any(|r| r.tlp == Some(Tlp::Red) && r.rel_to.is_none());
        Restrictions {
            classification: self.classification.max(other.classification),
            orcon: self.orcon || other.orcon,
            noforn: self.noforn || other.noforn || red_without_list,
            rel_to,
            tlp: self.tlp.max(other.tlp),
        }
    }
}

/// May `party` receive a portion marked `marking` of an object of `originator` with `topics`?
pub fn party_may_receive(
    coalition: &Coalition,
    originator: &Code,
    topics: &BTreeSet<Topic>,
    marking: &Marking,
    party: &Code,
    now: OffsetDateTime,
) -> bool {
    party_may_receive_from(
        coalition,
        &BTreeSet::from([originator.clone()]),
        topics,
        &Restrictions::of(marking),
        party,
        now,
    )
}

/// May `party` receive a portion under `restrictions` of an object whose originators (its own
/// and every one of its provenance) are `originators`? An originator may; anyone else needs
/// every originator to allow it.
pub fn party_may_receive_from(
    coalition: &Coalition,
    originators: &BTreeSet<Code>,
    topics: &BTreeSet<Topic>,
    restrictions: &Restrictions,
    party: &Code,
    now: OffsetDateTime,
) -> bool {
    if originators.contains(party) {
        return true;
    }
    if coalition.party(party).is_none() {
        return false;
    }
    originators.iter().all(|originator| allowed_by(coalition, originator, topics, restrictions, party, now))
}

/// Whether `originator`'s embargoes, agreements and the marking let `party` (not an originator)
/// receive the portion.
fn allowed_by(
    coalition: &Coalition,
    originator: &Code,
    topics: &BTreeSet<Topic>,
    restrictions: &Restrictions,
    party: &Code,
    now: OffsetDateTime,
) -> bool {
    let embargoed =
        coalition.embargoes().iter().any(|e| &e.from == originator && is_or_in(coalition, &e.against, party));
    if embargoed {
        return false;
    }
    let covered = coalition.agreements().iter().any(|a| {
        let in_force = a.revoked_at.is_none_or(|t| now < t)
            && a.valid_from.is_none_or(|t| t <= now)
            && a.valid_until.is_none_or(|t| now < t);
        let topics_ok = match &a.topics {
            None => true,
            Some(scope) => !topics.is_empty() && topics.iter().all(|t| scope.contains(t)),
        };
        &a.from == originator
            && in_force
            && topics_ok
            && a.max_classification >= restrictions.classification
            && a.to.iter().any(|code| is_or_in(coalition, code, party))
    });
    if !covered || restrictions.noforn {
        return false;
    }
    if let Some(list) = &restrictions.rel_to {
        if !list.iter().any(|code| is_or_in(coalition, code, party)) {
            return false;
        }
    }
    if restrictions.tlp == Some(Tlp::Red) {
        // Named one by one: a party's code in the list, not a group it belongs to.
        return restrictions.rel_to.as_ref().is_some_and(|list| list.contains(party));
    }
    true
}

pub fn user_may_receive(
    coalition: &Coalition,
    report: &Report,
    index: usize,
    user: &User,
    now: OffsetDateTime,
) -> bool {
    let Some(portion) = report.portions().nth(index) else { return false };
    user.clearance >= portion.marking.classification()
        && party_may_receive(coalition, &report.originator, &report.topics, &portion.marking, &user.party, now)
}

/// The paragraph indexes `user` gets, or `None` when the report does not exist for it.
pub fn expected_paragraphs(
    coalition: &Coalition,
    report: &Report,
    user: &User,
    now: OffsetDateTime,
) -> Option<Vec<usize>> {
    if !user_may_receive(coalition, report, 0, user, now) {
        return None;
    }
    let shown: Vec<usize> =
        (0..report.paragraphs.len()).filter(|i| user_may_receive(coalition, report, i + 1, user, now)).collect();
    (!shown.is_empty()).then_some(shown)
}
