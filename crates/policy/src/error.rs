//! The crate's one error type: policy files that cannot be used, with the file they came from.

/// Why a set of policies cannot be loaded. Every variant names the file, so an operator can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the shipped Cedar schema does not parse: {message}")]
    Schema { message: String },
    #[error("policy file `{file}`: {message}")]
    Parse { file: String, message: String },
    #[error("policy file `{file}`: templates (policies with `?principal` or `?resource`) are not supported")]
    Template { file: String },
    #[error("policy file `{file}`: policy `{id}` does not validate against the schema: {message}")]
    Invalid { file: String, id: String, message: String },
    #[error("policy file `{file}`: the policy id `{id}` is already used by {used_by}")]
    DuplicateId { file: String, id: String, used_by: String },
}
