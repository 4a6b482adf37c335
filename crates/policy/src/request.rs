//! The Cedar form of a question: principal `Party::"IRQ"` (a member of its groups), action
//! `Action::"read"`, resource a `Portion` with the marking's attributes, and the context facts.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request, RestrictedExpression};
use tearline_model::{Code, Coalition};

use crate::facts::Standing;
use crate::{Policies, PortionFacts};

/// Names parsed once per decider rather than once per request.
#[derive(Debug, Clone)]
pub(crate) struct CedarNames {
    party: EntityTypeName,
    group: EntityTypeName,
    read: EntityUid,
    portion: EntityUid,
}

impl CedarNames {
    pub fn new() -> Result<Self, String> {
        let type_name = |name: &str| EntityTypeName::from_str(name).map_err(|e| e.to_string());
        let read = EntityUid::from_type_name_and_id(type_name("Action")?, EntityId::new("read"));
        let portion = EntityUid::from_type_name_and_id(type_name("Portion")?, EntityId::new("portion"));
        Ok(CedarNames { party: type_name("Party")?, group: type_name("Group")?, read, portion })
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

    /// The request and the entities it needs, both checked against the schema.
    pub fn request(
        &self,
        policies: &Policies,
        coalition: &Coalition,
        party: &Code,
        facts: &PortionFacts<'_>,
        standing: &Standing<'_>,
    ) -> Result<(Request, Entities), String> {
        let schema = policies.schema();
        let principal = self.party(party);
        let groups: HashSet<EntityUid> = coalition.groups_of(party).map(|g| self.group(g)).collect();
        let mut entities: Vec<Entity> =
            groups.iter().map(|g| Entity::new_no_attrs(g.clone(), HashSet::new())).collect();
        entities.push(Entity::new_no_attrs(principal.clone(), groups));
        entities.push(self.portion(facts)?);
        let entities = Entities::from_entities(entities, Some(schema)).map_err(|e| e.to_string())?;

        let mut context = vec![
            ("is_originator".to_string(), RestrictedExpression::new_bool(standing.is_originator)),
            ("embargoed".to_string(), RestrictedExpression::new_bool(!standing.embargoes.is_empty())),
        ];
        if let Some(ceiling) = standing.agreement_ceiling() {
            context.push(("agreement_ceiling".to_string(), RestrictedExpression::new_long(ceiling.rank().into())));
        }
        let context = Context::from_pairs(context).map_err(|e| e.to_string())?;
        let request = Request::new(principal, self.read.clone(), self.portion.clone(), context, Some(schema))
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
