//! A deliberately simple second implementation of the release decision (DESIGN.md section 3),
//! written straight from the brief and used only to check the real one.

use std::collections::BTreeSet;

use tearline_model::{Coalition, Code, Marking, Report, Tlp, Topic, User};
use time::OffsetDateTime;

/// Whether `party` is `code` or a member of the group `code`.
fn is_or_in(coalition: &Coalition, code: &Code, party: &Code) -> bool {
    code == party || coalition.groups().any(|g| &g.code == code && g.members.contains(party))
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
    if party == originator {
        return true;
    }
    if coalition.party(party).is_none() {
        return false;
    }
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
            && a.max_classification >= marking.classification()
            && a.to.iter().any(|code| is_or_in(coalition, code, party))
    });
    if !covered || marking.is_noforn() {
        return false;
    }
    if let Some(list) = marking.rel_to() {
        let listed = list.parties().any(|p| p == party) || list.groups().any(|g| is_or_in(coalition, g, party));
        if !listed {
            return false;
        }
    }
    if marking.tlp() == Some(Tlp::Red) {
        return marking.rel_to().is_some_and(|list| list.parties().any(|p| p == party));
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
