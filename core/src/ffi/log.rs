//! The decision log as bindings see it: sinks named by a path, records
//! handed to a callback, the chain's head.

use super::to_text;
use crate::audit::{DecisionLog, DecisionRecord, FileOptions};
use crate::engine::Engine;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The sink a binding's path argument names: `"-"` is standard output, any
/// other text a JSON-lines file (rotated at `max_bytes` when given). (A path
/// in, a sink out: this entry has no JSON layers.)
pub fn decision_log_path(path: &str, max_bytes: Option<u64>) -> Result<DecisionLog> {
    if path == "-" {
        return Ok(DecisionLog::stdout());
    }
    let mut options = FileOptions::new(path);
    options.max_bytes = max_bytes;
    DecisionLog::file_with(options)
}

/// A file decision log (`-`: standard output) for `engine`: keyed with its
/// bundle's `[integrity]` key; `recover` cuts a torn last line off instead
/// of refusing (`log_corrupt`).
pub fn decision_log_path_for(
    engine: &Engine,
    path: &str,
    max_bytes: Option<u64>,
    recover: bool,
) -> Result<DecisionLog> {
    if path == "-" {
        return Ok(DecisionLog::stdout());
    }
    let keys = crate::integrity::IntegrityKeys::for_bundle(&engine.bundle())?;
    let mut options = FileOptions::new(path).keys(keys).recover(recover);
    options.max_bytes = max_bytes;
    DecisionLog::file_with(options)
}

/// Records as a JSON array (the form bindings hand to a callback).
pub fn records_to_value(records: &[DecisionRecord]) -> Value {
    Value::Array(records.iter().map(DecisionRecord::to_value).collect())
}

/// [`records_to_value`] as JSON text.
pub fn records_to_json(records: &[DecisionRecord]) -> String {
    records_to_value(records).to_string()
}

/// The last record logged: its sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHead {
    pub seq: u64,
    pub hash: String,
}

/// The engine's decision-log head, or `None` without a sink.
pub fn decision_log_head(engine: &Engine) -> Option<LogHead> {
    engine.decision_log().map(|log| {
        let (seq, hash) = log.head();
        LogHead { seq, hash }
    })
}

/// [`decision_log_head`] as `{seq, hash}`, or `null` without a sink.
pub fn decision_log_head_value(engine: &Engine) -> Value {
    match decision_log_head(engine) {
        Some(head) => json!({"seq": head.seq, "hash": head.hash}),
        None => Value::Null,
    }
}

/// [`decision_log_head`] as JSON text (`null` without a sink).
pub fn decision_log_head_json(engine: &Engine) -> Result<String> {
    to_text(&decision_log_head(engine))
}
