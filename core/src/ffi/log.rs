//! The decision log as bindings see it: sinks named by a path, records
//! handed to a callback, the chain's head.

use super::convert::to_text;
use crate::audit::{parse_line, to_ocsf, DecisionLog, DecisionRecord, ExportStats, FileOptions};
use crate::engine::{Engine, EngineMetrics};
use crate::error::{Error, ErrorCode, Result};
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

/// One decision record as its OCSF 1.5.0 API Activity event: the mapping
/// `log export --format ocsf` and the OTLP exporter's `body = "ocsf"` use.
pub fn record_to_ocsf(record: &DecisionRecord) -> Value {
    to_ocsf(record)
}

/// [`record_to_ocsf`] from a record as JSON text (the form a callback sink
/// receives), read as strictly as a log line: anything that is not a
/// decision record is `log_corrupt`.
pub fn record_to_ocsf_json(record: &str) -> Result<String> {
    let (_, record) = parse_line(record.as_bytes())
        .map_err(|e| Error::new(ErrorCode::LogCorrupt, format!("not a decision record: {e}")))?;
    Ok(record_to_ocsf(&record).to_string())
}

/// [`record_to_ocsf_json`] from and to values.
pub fn record_to_ocsf_value(record: &Value) -> Result<Value> {
    let text = record_to_ocsf_json(&record.to_string())?;
    serde_json::from_str(&text)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("OCSF event: {e}")))
}

/// The counters of the engine's exporting sink (`[log.otlp]`, `[log.syslog]`):
/// records spooled, acknowledged, sent, dropped, set aside as damaged,
/// failed deliveries, spool bytes, the last failure. `None` for any other
/// sink or none.
pub fn decision_log_stats(engine: &Engine) -> Option<ExportStats> {
    engine.decision_log().and_then(|log| log.export_stats())
}

/// [`decision_log_stats`] as an object, or `null`.
pub fn decision_log_stats_value(engine: &Engine) -> Result<Value> {
    serde_json::to_value(decision_log_stats(engine))
        .map_err(|e| Error::new(ErrorCode::Internal, format!("export stats: {e}")))
}

/// [`decision_log_stats`] as JSON text (`null` without an exporting sink).
pub fn decision_log_stats_json(engine: &Engine) -> Result<String> {
    to_text(&decision_log_stats(engine))
}

/// [`Engine::metrics`]: decision counters, check latency, log queue depth,
/// spool size, store staleness.
pub fn metrics(engine: &Engine) -> EngineMetrics {
    engine.metrics()
}

/// [`metrics`] as an object.
pub fn metrics_value(engine: &Engine) -> Result<Value> {
    serde_json::to_value(metrics(engine))
        .map_err(|e| Error::new(ErrorCode::Internal, format!("metrics: {e}")))
}

/// [`metrics`] as JSON text.
pub fn metrics_json(engine: &Engine) -> Result<String> {
    to_text(&metrics(engine))
}
