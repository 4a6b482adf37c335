//! Decisions and their explanations.

use std::fmt;

/// The names of the rules explanations give, besides operator policy ids. The shipped policies
/// carry these as their `@id`.
pub mod rule {
    /// Permit: the party is an originator of the portion.
    pub const ORIGINATOR: &str = "originator";
    /// Permit: the party is a recipient under an agreement that covers the portion.
    pub const RECIPIENT: &str = "recipient";
    pub const EMBARGO: &str = "embargo";
    pub const NO_AGREEMENT: &str = "no-agreement";
    pub const ABOVE_AGREEMENT_CEILING: &str = "above-agreement-ceiling";
    pub const NOT_IN_REL_TO: &str = "not-in-rel-to";
    pub const NOFORN: &str = "noforn";
    pub const TLP_RED: &str = "tlp-red-needs-party-named-one-by-one";
    /// Permit: a holder passes a portion on within its own agreements.
    pub const ONWARD: &str = "onward";
    pub const ORCON_NEEDS_APPROVAL: &str = "orcon-needs-approval";
    pub const TLP_FORBIDS_ONWARD: &str = "tlp-forbids-onward";
    pub const THIRD_PARTY_RULE: &str = "third-party-rule";
    /// No policy permitted the request, and none forbade it.
    pub const DEFAULT_DENY: &str = "default-deny";
    /// The user's clearance is below the portion's classification (checked outside Cedar).
    pub const CLEARANCE: &str = "clearance";
    /// The decision could not be evaluated; it denies.
    pub const EVALUATION_ERROR: &str = "evaluation-error";
}

/// Whether a party or user may receive a portion, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// When allowed, the permits that applied; when denied, the forbids that applied (or
    /// `default-deny`), evaluation errors and the clearance check.
    pub reasons: Vec<Reason>,
}

/// One rule or policy behind a decision, with a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reason {
    /// A name from [`rule`] or an operator policy id.
    pub rule: String,
    pub explanation: String,
}

impl Reason {
    pub fn new(rule: impl Into<String>, explanation: impl Into<String>) -> Self {
        Reason { rule: rule.into(), explanation: explanation.into() }
    }
}

impl Decision {
    pub(crate) fn denied(reasons: Vec<Reason>) -> Self {
        Decision { allowed: false, reasons }
    }

    /// Whether a reason names `rule`.
    pub fn names(&self, rule: &str) -> bool {
        self.reasons.iter().any(|reason| reason.rule == rule)
    }

    /// The rules and policy ids behind the decision, in order.
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        self.reasons.iter().map(|reason| reason.rule.as_str())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.explanation)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.allowed { "allowed" } else { "denied" })?;
        for (index, reason) in self.reasons.iter().enumerate() {
            f.write_str(if index == 0 { " (" } else { "; " })?;
            write!(f, "{reason}")?;
        }
        if !self.reasons.is_empty() {
            f.write_str(")")?;
        }
        Ok(())
    }
}
