//! Tearline's release decision (DESIGN.md section 3): who may receive which portion, expressed in
//! Cedar, with an explanation for every decision and the rows of the release index.
//!
//! The decision is made at two levels. The **party decision** is Cedar's: principal a `Party`
//! (member of its groups at decision time), action `Action::"read"`, resource a `Portion` with its
//! marking's attributes, and a context computed here from the coalition over every originator of
//! the object (is the party an originator, is it embargoed, what is the lowest agreement ceiling).
//! The **user decision** is the party decision and `user.clearance >= classification` (rule
//! `clearance`), outside Cedar. Deny by default; an evaluation error denies.
//!
//! The shipped schema and policies are in this crate's `policies/` folder
//! ([`Policies::schema_text`], [`Policies::default_policies_text`]). Operators add Cedar files of
//! their own; they are validated strictly against the schema and evaluated exactly like the
//! shipped policies, so an operator `forbid` binds originators too unless it says
//! `unless { context.is_originator }`. Operator `permit`s cannot override a shipped `forbid`.
//!
//! ```cedar
//! @id("ied-fvey-only")
//! @reason("counter-IED reporting stays within FVEY")
//! forbid (principal, action, resource)
//! when { resource.topics.contains("counter-ied") && !(principal in Group::"FVEY") }
//! unless { context.is_originator };
//! ```
//!
//! # Public API
//!
//! - [`Policies`]: `shipped() -> Result<Policies, PolicyError>`,
//!   `load(&BTreeMap<String, String>) -> Result<Policies, PolicyError>` (file name to Cedar text),
//!   `schema_text()`, `default_policies_text()`, `policies() -> &[PolicyInfo]`, `policy(id)`.
//! - [`Decider`]: `new(&Policies, &Coalition, OffsetDateTime)`,
//!   `party_decision(&Code, &PortionFacts) -> Decision` (memoized),
//!   `party_decision_uncached(..)`, `user_decision(&User, &PortionFacts) -> Decision`,
//!   `release_entries(&ReleaseFacts, parties) -> Vec<ReleaseEntry>`,
//!   `release_entries_for_coalition(&ReleaseFacts)`,
//!   `cedar_evaluations()`, `memoized_decisions()`.
//! - [`PortionFacts`]: `new(originators, topics, marking)`, `of_report(&Report, &Portion)`.
//! - [`Decision`] `{ allowed, reasons }` and [`Reason`] `{ rule, explanation }`; rule names in [`rule`].
//! - [`indexed_decision`]: a portion decision from a [`tearline_model::ReleaseEntry`] alone.
//! - [`PolicyError`]: the crate's one error type.

mod decider;
mod decision;
mod error;
mod explain;
mod facts;
mod memo;
mod policies;
mod request;

pub use decider::{indexed_decision, Decider};
pub use decision::{rule, Decision, Reason};
pub use error::PolicyError;
pub use facts::PortionFacts;
pub use policies::{Policies, PolicyInfo, PolicyOrigin, SHIPPED_POLICY_FILE};
