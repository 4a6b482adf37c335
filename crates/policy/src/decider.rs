//! Decisions under one policy set, one coalition snapshot and one instant, memoized.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cedar_policy::{Authorizer, Decision as CedarDecision};
use std::collections::BTreeMap;

use tearline_model::{Classification, Coalition, Code, PortionSet, ReleaseEntry, ReleaseFacts, User};
use time::OffsetDateTime;

use crate::explain::sentence;
use crate::facts::Standing;
use crate::memo::Memo;
use crate::{rule, Decision, Policies, PortionFacts, Reason};

/// Decides releases under fixed policies, coalition and time. Build a new one whenever any of them
/// changes (see `Coalition::next_change_after` for the time), since decisions are memoized.
/// Cheap to share between threads.
#[derive(Debug)]
pub struct Decider {
    policies: Policies,
    coalition: Coalition,
    now: OffsetDateTime,
    authorizer: Authorizer,
    memo: Memo,
    evaluations: AtomicU64,
}

impl Decider {
    pub fn new(policies: &Policies, coalition: &Coalition, now: OffsetDateTime) -> Self {
        Decider {
            policies: policies.clone(),
            coalition: coalition.clone(),
            now,
            authorizer: Authorizer::new(),
            memo: Memo::default(),
            evaluations: AtomicU64::new(0),
        }
    }

    pub fn coalition(&self) -> &Coalition {
        &self.coalition
    }

    pub fn now(&self) -> OffsetDateTime {
        self.now
    }

    /// Whether `party` may receive the portion (clearance aside), memoized by party, originators,
    /// topics and marking.
    pub fn party_decision(&self, party: &Code, facts: &PortionFacts<'_>) -> Decision {
        Decision::clone(&self.memoized(party, facts))
    }

    /// The same decision, evaluated through Cedar every time: for benchmarks and checks.
    pub fn party_decision_uncached(&self, party: &Code, facts: &PortionFacts<'_>) -> Decision {
        self.evaluate_read(party, facts)
    }

    /// Whether `user` may read the portion: its party may receive it, and its clearance is at
    /// least the portion's classification.
    pub fn user_decision(&self, user: &User, facts: &PortionFacts<'_>) -> Decision {
        let party = self.memoized(&user.party, facts);
        let classification = facts.marking.classification();
        if user.clearance >= classification {
            return Decision::clone(&party);
        }
        let mut reasons = if party.allowed { Vec::new() } else { party.reasons.clone() };
        reasons.push(Reason::new(
            rule::CLEARANCE,
            format!("{}'s clearance {} is below the portion's {classification}", user.name, user.clearance),
        ));
        Decision::denied(reasons)
    }

    /// Whether `recipient` may receive the portion when `holder`, which holds it, passes it on
    /// (DESIGN.md section 3, onward release); `approved` when the originator approved release of
    /// the object version to the recipient.
    pub fn onward_decision(
        &self,
        holder: &Code,
        recipient: &Code,
        facts: &PortionFacts<'_>,
        approved: bool,
    ) -> Decision {
        let standing = Standing::onward(&self.coalition, self.now, holder, recipient, facts, approved);
        self.evaluate(recipient, facts, &standing)
    }

    /// The release index rows of an object for each of `parties`: the portions the party may
    /// receive, for those that may receive enough of it to receive the object at all. Portions
    /// passed on by holders (`facts.shares`) are added hop by hop until nothing changes; a
    /// recalled object goes to its originators only.
    pub fn release_entries<'p>(
        &self,
        facts: &ReleaseFacts,
        parties: impl IntoIterator<Item = &'p Code>,
    ) -> Vec<ReleaseEntry> {
        let parties: Vec<&Code> = parties.into_iter().collect();
        let mut entries: BTreeMap<Code, ReleaseEntry> = parties
            .iter()
            .filter(|party| !facts.recalled || facts.is_originator(party))
            .filter_map(|party| self.release_entry(facts, party))
            .map(|entry| (entry.party.clone(), entry))
            .collect();
        if !facts.recalled && !facts.shares.is_empty() {
            self.add_onward_releases(facts, &parties, &mut entries);
        }
        entries.into_values().collect()
    }

    /// Adds to `entries` what holders pass on, until a fixed point: a party that receives
    /// through a share may pass on in turn.
    fn add_onward_releases(&self, facts: &ReleaseFacts, parties: &[&Code], entries: &mut BTreeMap<Code, ReleaseEntry>) {
        let originators = facts.originators();
        let topics = facts.decision_topics();
        let mut changed = true;
        while changed {
            changed = false;
            for share in &facts.shares {
                let Some(held) = entries.get(&share.by).map(|e| e.portions.clone()) else { continue };
                let held: PortionSet = held.iter().filter(|i| share.portions.contains(*i)).collect();
                for recipient in parties.iter().copied() {
                    let named = share.to.iter().any(|to| self.coalition.includes(to, recipient));
                    if !named || *recipient == share.by || facts.is_originator(recipient) {
                        continue;
                    }
                    let approved = facts.is_approved(&share.by, recipient, self.now);
                    let current = entries.get(recipient).map(|e| e.portions.clone()).unwrap_or_default();
                    let mut allowed = current.clone();
                    for index in held.iter().filter(|i| !current.contains(*i)) {
                        let Some(marking) = facts.portions.get(index) else { continue };
                        let portion = PortionFacts::new(&originators, &topics, marking);
                        if self.onward_decision(&share.by, recipient, &portion, approved).allowed {
                            allowed.insert(index);
                        }
                    }
                    if allowed == current {
                        continue;
                    }
                    if let Some(entry) = facts.entry(recipient, allowed) {
                        entries.insert(recipient.clone(), entry);
                        changed = true;
                    }
                }
            }
        }
    }

    /// [`Decider::release_entries`] for every party of the coalition.
    pub fn release_entries_for_coalition(&self, facts: &ReleaseFacts) -> Vec<ReleaseEntry> {
        self.release_entries(facts, self.coalition.parties().map(|p| &p.code))
    }

    /// How many times Cedar was evaluated: memoized decisions do not count.
    pub fn cedar_evaluations(&self) -> u64 {
        self.evaluations.load(Ordering::Relaxed)
    }

    /// How many distinct party decisions are memoized.
    pub fn memoized_decisions(&self) -> usize {
        self.memo.len()
    }

    fn release_entry(&self, facts: &ReleaseFacts, party: &Code) -> Option<ReleaseEntry> {
        let ancestors;
        let originators = if facts.ancestors.is_empty() {
            std::slice::from_ref(&facts.originator)
        } else {
            ancestors = facts.originators();
            &ancestors
        };
        let topics = facts.decision_topics();
        let allowed: PortionSet = facts
            .portions
            .iter()
            .enumerate()
            .filter(|(_, marking)| self.memoized(party, &PortionFacts::new(originators, &topics, marking)).allowed)
            .map(|(index, _)| index)
            .collect();
        facts.entry(party, allowed)
    }

    fn memoized(&self, party: &Code, facts: &PortionFacts<'_>) -> Arc<Decision> {
        self.memo.get_or_decide(party, facts, || self.evaluate_read(party, facts))
    }

    fn evaluate_read(&self, party: &Code, facts: &PortionFacts<'_>) -> Decision {
        self.evaluate(party, facts, &Standing::of(&self.coalition, self.now, party, facts))
    }

    fn evaluate(&self, party: &Code, facts: &PortionFacts<'_>, standing: &Standing<'_>) -> Decision {
        self.evaluations.fetch_add(1, Ordering::Relaxed);
        let cedar = self.policies.names().request(&self.policies, &self.coalition, party, facts, standing);
        let response = match cedar {
            Ok((request, entities)) => self.authorizer.is_authorized(&request, self.policies.set(), &entities),
            Err(message) => {
                let reason =
                    Reason::new(rule::EVALUATION_ERROR, format!("the Cedar request could not be built: {message}"));
                return Decision::denied(vec![reason]);
            }
        };
        let errors: Vec<Reason> = response
            .diagnostics()
            .errors()
            .map(|error| Reason::new(rule::EVALUATION_ERROR, error.to_string()))
            .collect();
        let mut applied: Vec<usize> =
            response.diagnostics().reason().filter_map(|id| self.policies.position(AsRef::<str>::as_ref(id))).collect();
        applied.sort_unstable();
        let applied: Vec<Reason> = applied
            .into_iter()
            .filter_map(|at| self.policies.policies().get(at))
            .map(|info| Reason::new(info.id.clone(), sentence(info, party, facts, standing)))
            .collect();
        match response.decision() {
            CedarDecision::Allow if errors.is_empty() => Decision { allowed: true, reasons: applied },
            // A forbid that failed to evaluate might have applied: never allow on errors.
            CedarDecision::Allow => Decision::denied(errors),
            CedarDecision::Deny => {
                let mut reasons = if applied.is_empty() {
                    vec![Reason::new(rule::DEFAULT_DENY, format!("no policy permits {party} to read the portion"))]
                } else {
                    applied
                };
                reasons.extend(errors);
                Decision::denied(reasons)
            }
        }
    }
}

/// The indexed path: whether a user of `entry.party` with `clearance` may read portion
/// `portion_index`, classified `classification`, of the object the entry is about.
pub fn indexed_decision(
    entry: &ReleaseEntry,
    portion_index: usize,
    classification: Classification,
    clearance: Classification,
) -> bool {
    entry.portions.contains(portion_index) && clearance >= classification
}
