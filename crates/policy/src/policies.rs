//! The policy set a decision is made under: the shipped schema and default policies, plus the
//! operator's own files, every policy validated strictly against the schema.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{Effect, Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;

use crate::request::CedarNames;
use crate::PolicyError;

const SCHEMA_TEXT: &str = include_str!("../policies/tearline.cedarschema");
const DEFAULT_POLICIES_TEXT: &str = include_str!("../policies/default.cedar");

/// The name the shipped policies go by in errors and explanations.
pub const SHIPPED_POLICY_FILE: &str = "default.cedar";

/// Where a policy comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// Tearline's default policies (`policies/default.cedar` in this crate).
    Shipped,
    /// An operator's policy file.
    Operator { file: String },
}

/// One policy of the set, as explanations name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The `@id` annotation, or `FILE#N` for the N-th policy (from 1) of a file that gives none.
    pub id: String,
    pub origin: PolicyOrigin,
    pub forbids: bool,
    /// The policy's `@reason("...")` annotation, quoted in explanations of operator policies.
    pub reason: Option<String>,
}

/// The shipped policies and the operator's, ready for a [`crate::Decider`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Policies(Arc<Loaded>);

#[derive(Debug)]
struct Loaded {
    schema: Schema,
    set: PolicySet,
    /// Shipped policies first, then operator files by name, each in text order.
    infos: Vec<PolicyInfo>,
    position_by_id: HashMap<String, usize>,
    names: CedarNames,
}

impl Policies {
    /// The shipped policies alone. Fails only if the shipped files are broken, which this crate's
    /// tests rule out.
    pub fn shipped() -> Result<Self, PolicyError> {
        Self::load(&BTreeMap::new())
    }

    /// The shipped policies plus the operator's files (file name to Cedar text), each policy
    /// validated strictly against the schema. Policy ids must be unique over all files.
    pub fn load(files: &BTreeMap<String, String>) -> Result<Self, PolicyError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA_TEXT).map_err(|e| PolicyError::Schema { message: e.to_string() })?;
        let names = CedarNames::new().map_err(|message| PolicyError::Schema { message })?;
        let validator = Validator::new(schema.clone());
        let mut loaded =
            Loaded { schema, set: PolicySet::new(), infos: Vec::new(), position_by_id: HashMap::new(), names };
        loaded.add_file(&validator, SHIPPED_POLICY_FILE, DEFAULT_POLICIES_TEXT, PolicyOrigin::Shipped)?;
        for (file, text) in files {
            loaded.add_file(&validator, file, text, PolicyOrigin::Operator { file: file.clone() })?;
        }
        Ok(Policies(Arc::new(loaded)))
    }

    /// The Cedar schema requests are made against, for documentation.
    pub fn schema_text() -> &'static str {
        SCHEMA_TEXT
    }

    /// The shipped default policies, for documentation.
    pub fn default_policies_text() -> &'static str {
        DEFAULT_POLICIES_TEXT
    }

    /// Every policy in force: the shipped ones first, then the operator's.
    pub fn policies(&self) -> &[PolicyInfo] {
        &self.0.infos
    }

    pub fn policy(&self, id: &str) -> Option<&PolicyInfo> {
        self.0.policy(id)
    }

    /// Where a policy stands in [`Policies::policies`]: explanations list reasons in that order.
    pub(crate) fn position(&self, id: &str) -> Option<usize> {
        self.0.position_by_id.get(id).copied()
    }

    pub(crate) fn schema(&self) -> &Schema {
        &self.0.schema
    }

    pub(crate) fn names(&self) -> &CedarNames {
        &self.0.names
    }

    pub(crate) fn set(&self) -> &PolicySet {
        &self.0.set
    }
}

impl Loaded {
    fn policy(&self, id: &str) -> Option<&PolicyInfo> {
        self.position_by_id.get(id).and_then(|at| self.infos.get(*at))
    }

    fn add_file(
        &mut self,
        validator: &Validator,
        file: &str,
        text: &str,
        origin: PolicyOrigin,
    ) -> Result<(), PolicyError> {
        let parsed = PolicySet::from_str(text).map_err(|errors| PolicyError::Parse {
            file: file.to_string(),
            message: join_diagnostics(text, errors.iter()),
        })?;
        if parsed.templates().next().is_some() {
            return Err(PolicyError::Template { file: file.to_string() });
        }
        for (index, policy) in in_text_order(&parsed).into_iter().enumerate() {
            let id = match policy.annotation("id") {
                Some(id) if !id.trim().is_empty() => id.to_string(),
                _ => format!("{file}#{}", index + 1),
            };
            if let Some(existing) = self.policy(&id) {
                let used_by = match &existing.origin {
                    PolicyOrigin::Shipped => "a shipped policy".to_string(),
                    PolicyOrigin::Operator { file } => format!("a policy of `{file}`"),
                };
                return Err(PolicyError::DuplicateId { file: file.to_string(), id, used_by });
            }
            let renamed = policy.new_id(PolicyId::new(&id));
            self.validate(validator, file, text, &id, &renamed)?;
            self.set.add(renamed).map_err(|e| PolicyError::DuplicateId {
                file: file.to_string(),
                id: id.clone(),
                used_by: e.to_string(),
            })?;
            self.position_by_id.insert(id.clone(), self.infos.len());
            self.infos.push(PolicyInfo {
                id,
                origin: origin.clone(),
                forbids: policy.effect() == Effect::Forbid,
                reason: policy.annotation("reason").map(str::to_string),
            });
        }
        Ok(())
    }

    /// Validates one policy alone, so that the error names it. Cedar's positions are in `text`,
    /// the whole file the policy was parsed from.
    fn validate(
        &self,
        validator: &Validator,
        file: &str,
        text: &str,
        id: &str,
        policy: &Policy,
    ) -> Result<(), PolicyError> {
        let invalid = |message: String| PolicyError::Invalid { file: file.to_string(), id: id.to_string(), message };
        let mut single = PolicySet::new();
        single.add(policy.clone()).map_err(|e| invalid(e.to_string()))?;
        let result = validator.validate(&single, ValidationMode::Strict);
        if result.validation_passed() {
            Ok(())
        } else {
            Err(invalid(join_diagnostics(text, result.validation_errors())))
        }
    }
}

/// Cedar names the policies of a parsed text `policy0`, `policy1`, ... in the order written.
fn in_text_order(parsed: &PolicySet) -> Vec<&Policy> {
    let mut policies: Vec<&Policy> = parsed.policies().collect();
    policies.sort_by_key(|p| {
        AsRef::<str>::as_ref(p.id()).strip_prefix("policy").and_then(|n| n.parse::<usize>().ok()).unwrap_or(usize::MAX)
    });
    policies
}

/// Cedar's messages, each with its line and column in `text` and its help when it has them.
fn join_diagnostics<'a, D: Diagnostic + 'a>(text: &str, diagnostics: impl Iterator<Item = &'a D>) -> String {
    let messages: Vec<String> = diagnostics
        .map(|diagnostic| {
            let mut message = diagnostic.to_string();
            let first_label = diagnostic.labels().and_then(|mut labels| labels.next());
            if let Some(label) = first_label {
                let before = text.get(..label.offset()).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                message = format!("line {line}, column {column}: {message}");
            }
            if let Some(help) = diagnostic.help() {
                message = format!("{message} ({help})");
            }
            message
        })
        .collect();
    messages.join("; ")
}
