//! Errors across the boundary: the coded error as data, the code list, and
//! the guard that keeps a panic from crossing.

pub use crate::error::error_codes;
use crate::error::{Error, ErrorCode, Result};
use serde_json::{json, Map, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The error as `{code, family, message, details: [{message, location?}]}`.
pub fn error_to_value(e: &Error) -> Value {
    let mut m = Map::new();
    m.insert("code".into(), json!(e.code.as_str()));
    m.insert("family".into(), json!(e.code.family().as_str()));
    m.insert("message".into(), json!(e.to_string()));
    m.insert(
        "details".into(),
        serde_json::to_value(&e.details).unwrap_or(Value::Null),
    );
    Value::Object(m)
}

/// [`error_to_value`] as JSON text.
pub fn error_to_json(e: &Error) -> String {
    error_to_value(e).to_string()
}

/// `[{code, family}]` for every stable error code.
pub fn error_codes_value() -> Value {
    Value::Array(
        error_codes()
            .into_iter()
            .map(|(code, family)| json!({"code": code, "family": family}))
            .collect(),
    )
}

/// [`error_codes_value`] as JSON text.
pub fn error_codes_json() -> String {
    error_codes_value().to_string()
}

/// Runs `f`, turning a panic into an `internal` error so none crosses an FFI boundary.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::new(
            ErrorCode::Internal,
            format!("internal error (refused, state unchanged): {what}"),
        ))
    })
}
