//! What can be wrong with a webhook body, with the JSON path of the culprit.

use std::fmt;

/// Why a webhook body was rejected. Every variant is the sender's fault (HTTP 400): retrying the
/// same body cannot succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The body is not JSON at all, or is malformed JSON (including invalid UTF-8 in a string,
    /// trailing garbage, numbers out of range and nesting deeper than 128 levels).
    #[error("The request body is not valid JSON: {message} (line {line}, column {column}).")]
    Syntax { line: usize, column: usize, message: String },
    /// A field is missing or has the wrong JSON type.
    #[error("{}", describe_field(path, message))]
    Field { path: String, message: String },
    /// A field has the right type but a value we cannot accept: an unknown status, an empty
    /// required string, a malformed timestamp, an unsupported version.
    #[error("{}", describe(path, "has an invalid value", message))]
    Invalid { path: String, message: String },
}

/// The path used for errors about the document as a whole.
pub const ROOT_PATH: &str = ".";

/// The message of a [`PayloadError::Field`] for a required field that is absent.
pub const MISSING_FIELD: &str = "this required field is missing";

fn describe_field(path: &str, message: &str) -> String {
    if message == MISSING_FIELD {
        format!("The required field `{path}` is missing.")
    } else {
        describe(path, "has the wrong type", message)
    }
}

fn describe(path: &str, what: &str, message: &str) -> String {
    if path == ROOT_PATH || path.is_empty() {
        format!("The JSON document {what}: {message}.")
    } else {
        format!("The field `{path}` {what}: {message}.")
    }
}

impl PayloadError {
    /// The JSON path of the offending field (`alerts[0].labels`, `event_id`, `.` for the whole
    /// document), or `None` for syntax errors, which have a line and column instead.
    pub fn path(&self) -> Option<&str> {
        match self {
            PayloadError::Syntax { .. } => None,
            PayloadError::Field { path, .. } | PayloadError::Invalid { path, .. } => Some(path),
        }
    }

    /// A short machine-readable name of the variant: `"syntax"`, `"field"` or `"invalid"`.
    pub fn kind(&self) -> &'static str {
        match self {
            PayloadError::Syntax { .. } => "syntax",
            PayloadError::Field { .. } => "field",
            PayloadError::Invalid { .. } => "invalid",
        }
    }

    /// The detail message without the path.
    pub fn message(&self) -> &str {
        match self {
            PayloadError::Syntax { message, .. }
            | PayloadError::Field { message, .. }
            | PayloadError::Invalid { message, .. } => message,
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl fmt::Display) -> Self {
        PayloadError::Invalid { path: path.into(), message: message.to_string() }
    }

    pub(crate) fn empty_body() -> Self {
        PayloadError::Syntax { line: 1, column: 0, message: "the body is empty".to_owned() }
    }

    /// Classifies a serde_json error: syntax problems keep their position, data problems get the
    /// path that serde_path_to_error tracked.
    pub(crate) fn from_json(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = message_without_position(&inner);
        match inner.classify() {
            serde_json::error::Category::Data => field_error(path, message),
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                PayloadError::Syntax { line: inner.line(), column: inner.column(), message }
            }
        }
    }

    /// A syntax error found after the value (trailing characters).
    pub(crate) fn from_trailing(inner: serde_json::Error) -> Self {
        PayloadError::Syntax {
            line: inner.line(),
            column: inner.column(),
            message: message_without_position(&inner),
        }
    }
}

/// serde reports a missing field at the path of the object that lacks it; name the field itself.
fn field_error(path: String, message: String) -> PayloadError {
    if let Some(name) = message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`')) {
        let path = if path == ROOT_PATH { name.to_owned() } else { format!("{path}.{name}") };
        return PayloadError::Field { path, message: "this required field is missing".to_owned() };
    }
    PayloadError::Field { path, message }
}

/// serde_json appends " at line L column C" to its messages; we report those separately.
fn message_without_position(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match full.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => full,
    }
}
