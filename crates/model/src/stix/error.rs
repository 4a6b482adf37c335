//! What is wrong with a STIX object or a marking definition; shown to API callers (422 bodies),
//! so each variant names the property or the definition at fault.

use crate::Code;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StixError {
    #[error("a STIX object must be a JSON object")]
    NotAnObject,
    #[error("`{object_type}` objects require the property `{property}`")]
    MissingProperty { object_type: String, property: String },
    #[error("`{object_type}` objects require one of: {choices}")]
    MissingOneOf { object_type: String, choices: String },
    #[error("property `{property}`: {reason}")]
    InvalidProperty { property: String, reason: String },
    #[error("`modified` ({modified}) is earlier than `created` ({created})")]
    ModifiedBeforeCreated { created: String, modified: String },
    #[error("granular marking selector `{selector}`: {reason}")]
    InvalidSelector { selector: String, reason: String },
    #[error("marking definition `{0}` is unknown")]
    UnknownMarking(String),
    #[error("marking definition `{id}` is not supported: {reason}")]
    UnsupportedMarking { id: String, reason: String },
    #[error("marking definition `{marking}` names `{code}`, which is neither a party nor a group")]
    UnknownCode { marking: String, code: Code },
}

impl StixError {
    pub(crate) fn invalid(property: impl Into<String>, reason: impl Into<String>) -> Self {
        StixError::InvalidProperty { property: property.into(), reason: reason.into() }
    }
}
