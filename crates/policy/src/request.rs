//! The Cedar form of a question: principal `Party::"IRQ"` (a member of its groups), action
//! `Action::"read"`, resource a `Portion` with the marking's attributes, and the context facts.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression};
use tearline_model::{Coalition, Code};

use crate::facts::Standing;
use crate::{Policies, PortionFacts};

/// Requests are built here in one fixed shape: debug builds (the tests) check every one against the
/// schema, release builds skip that check, a third of a decision's time. A request that did not
/// fit would still deny, since evaluation errors deny.
const CHECK_AGAINST_SCHEMA: bool = cfg!(debug_assertions);

/// Names parsed once per decider rather than once per request.
#[derive(Debug, Clone)]
pub(crate) struct CedarNames {
    party: EntityTypeName,
    group: EntityTypeName,
    read: EntityUid,
    onward: EntityUid,
    portion: EntityUid,
}

impl CedarNames {
    pub fn new() -> Result<Self, String> {
        let type_name = |name: &str| EntityTypeName::from_str(name).map_err(|e| e.to_string());
        let read = EntityUid::from_type_name_and_id(type_name("Action")?, EntityId::new("read"));
        let onward = EntityUid::from_type_name_and_id(type_name("Action")?, EntityId::new("onward"));
        let portion = EntityUid::from_type_name_and_id(type_name("Portion")?, EntityId::new("portion"));
        Ok(CedarNames { party: type_name("Party")?, group: type_name("Group")?, read, onward, portion })
    }

    fn party(&self, code: &Code) -> EntityUid {
        EntityUid::from_type_name_and_id(self.party.clone(), EntityId::new(code.as_str()))
    }

    fn group(&self, code: &Code) -> EntityUid {
        EntityUid::from_type_name_and_id(self.group.clone(), EntityId::new(code.as_str()))
    }

    fn parties<'a>(&self, codes: impl IntoIterator<Item = &'a Code>) -> RestrictedExpression {
        RestrictedExpression::new_set(codes.into_iter().map(|c| RestrictedExpression::new_entity_uid(self.party(c))))
    }

    fn groups<'a>(&self, codes: impl IntoIterator<Item = &'a Code>) -> RestrictedExpression {
        RestrictedExpression::new_set(codes.into_iter().map(|c| RestrictedExpression::new_entity_uid(self.group(c))))
    }

    /// The request and the entities it needs.
    pub fn request(
        &self,
        policies: &Policies,
        coalition: &Coalition,
        party: &Code,
        facts: &PortionFacts<'_>,
        standing: &Standing<'_>,
    ) -> Result<(Request, Entities), String> {
        self.request_checked(CHECK_AGAINST_SCHEMA, policies, coalition, party, facts, standing)
    }

    fn request_checked(
        &self,
        check: bool,
        policies: &Policies,
        coalition: &Coalition,
        party: &Code,
        facts: &PortionFacts<'_>,
        standing: &Standing<'_>,
    ) -> Result<(Request, Entities), String> {
        let schema = check.then(|| policies.schema());
        let principal = self.party(party);
        let groups: HashSet<EntityUid> = coalition.groups_of(party).map(|g| self.group(g)).collect();
        let mut entities: Vec<Entity> =
            groups.iter().map(|g| Entity::new_no_attrs(g.clone(), HashSet::new())).collect();
        entities.push(Entity::new_no_attrs(principal.clone(), groups));
        entities.push(self.portion(facts)?);
        let entities = Entities::from_entities(entities, schema).map_err(|e| e.to_string())?;

        let mut context = vec![
            ("is_originator".to_string(), RestrictedExpression::new_bool(standing.is_originator)),
            ("embargoed".to_string(), RestrictedExpression::new_bool(!standing.embargoes.is_empty())),
        ];
        if let Some(ceiling) = standing.agreement_ceiling() {
            context.push(("agreement_ceiling".to_string(), RestrictedExpression::new_long(ceiling.rank().into())));
        }
        let action = match &standing.onward {
            None => &self.read,
            Some(onward) => {
                context.push((
                    "holder_may_pass_on".to_string(),
                    RestrictedExpression::new_bool(onward.not_allowing.is_empty()),
                ));
                context.push(("approved".to_string(), RestrictedExpression::new_bool(onward.approved)));
                &self.onward
            }
        };
        let context = Context::from_pairs(context).map_err(|e| e.to_string())?;
        let request = Request::new(principal, action.clone(), self.portion.clone(), context, schema)
            .map_err(|e| e.to_string())?;
        Ok((request, entities))
    }

    fn portion(&self, facts: &PortionFacts<'_>) -> Result<Entity, String> {
        let marking = facts.marking;
        let rel_to = marking.rel_to();
        let mut attributes = HashMap::from([
            ("classification".to_string(), RestrictedExpression::new_long(marking.classification().rank().into())),
            (
                "topics".to_string(),
                RestrictedExpression::new_set(
                    facts.topics.iter().map(|t| RestrictedExpression::new_string(t.as_str().to_string())),
                ),
            ),
            ("orcon".to_string(), RestrictedExpression::new_bool(marking.is_orcon())),
            ("noforn".to_string(), RestrictedExpression::new_bool(marking.is_noforn())),
            ("has_rel_to".to_string(), RestrictedExpression::new_bool(rel_to.is_some())),
            ("rel_to_parties".to_string(), self.parties(rel_to.into_iter().flat_map(|list| list.parties()))),
            ("rel_to_groups".to_string(), self.groups(rel_to.into_iter().flat_map(|list| list.groups()))),
            ("originators".to_string(), self.parties(facts.originators)),
        ]);
        if let Some(tlp) = marking.tlp() {
            attributes.insert("tlp".to_string(), RestrictedExpression::new_long(tlp.rank().into()));
        }
        Entity::new(self.portion.clone(), attributes, HashSet::new()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use cedar_policy::Authorizer;
    use tearline_model::{Agreement, Classification, Embargo, Group, Marking, Party, Topic};
    use time::OffsetDateTime;

    use super::*;

    fn code(text: &str) -> Code {
        Code::new(text).unwrap()
    }

    /// Release builds skip the schema check: the answers must be the same without it.
    #[test]
    fn requests_decide_the_same_with_and_without_the_schema_check() {
        let parties = ["USA", "IRQ", "RUS", "GBR"].map(|c| Party { code: code(c), name: c.into() });
        let bic = Group { code: code("BIC"), name: "centre".into(), members: [code("IRQ"), code("RUS")].into() };
        let agreement = Agreement {
            id: "usa-bic".into(),
            from: code("USA"),
            to: [code("BIC")].into(),
            max_classification: Classification::Confidential,
            topics: None,
            onward: false,
            valid_from: None,
            valid_until: None,
            revoked_at: None,
        };
        let embargo = Embargo { from: code("USA"), against: code("RUS") };
        let coalition = Coalition::new(parties, [bic], [agreement], [embargo]);
        let policies = Policies::shipped().unwrap();
        let topics: BTreeSet<Topic> = [Topic::new("counter-ied").unwrap()].into();
        let originators = [code("USA")];
        for mark in ["U", "S", "C//NF", "C//REL TO BIC", "C//REL TO IRQ//TLP:RED", "C//REL TO BIC//TLP:RED", "C//OC"] {
            let marking = Marking::parse(mark, &originators[0], &coalition).unwrap();
            let facts = PortionFacts::new(&originators, &topics, &marking);
            for party in ["USA", "IRQ", "RUS", "GBR"].map(code) {
                let standing = Standing::of(&coalition, OffsetDateTime::UNIX_EPOCH, &party, &facts);
                let answer = |check| {
                    let names = policies.names();
                    let (request, entities) =
                        names.request_checked(check, &policies, &coalition, &party, &facts, &standing).unwrap();
                    let response = Authorizer::new().is_authorized(&request, policies.set(), &entities);
                    assert_eq!(response.diagnostics().errors().count(), 0);
                    let mut reasons: Vec<String> = response.diagnostics().reason().map(ToString::to_string).collect();
                    reasons.sort();
                    (response.decision(), reasons)
                };
                assert_eq!(answer(true), answer(false), "{party} reading {mark}");
            }
        }
    }
}
