//! The conversions every facade layer shares: JSON text ↔ values ↔ types,
//! each failure a coded error.

use crate::error::{Error, ErrorCode, Result};
use serde_json::Value;

/// A JSON value as `T`; a mismatch is `code`, its message led by `what`.
pub(super) fn from_value<T: serde::de::DeserializeOwned>(
    value: Value,
    code: ErrorCode,
    what: &str,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::new(code, format!("{what}: {e}")))
}

/// `T` as a JSON value (`null` if it cannot be: never for the facade's types).
pub(super) fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `T` as JSON text.
pub(super) fn to_text<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
}

/// JSON text as a value; bad text is `code` ("`what` is not valid JSON").
pub(super) fn parse_text(text: &str, what: &str, code: ErrorCode) -> Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| Error::new(code, format!("{what} is not valid JSON: {e}")))
}
