//! Rate and budget counters and the emergency stop.

use super::convert::{to_text, to_value};
use crate::engine::{units_of_f64, Engine, LockdownStatus, UsageCounts};
use crate::error::Result;
use serde_json::Value;

/// Records `units` of `kind` spent by `agent`; `units` as the bindings'
/// numbers: a whole number from 0 to the per-record bound, anything else
/// (negative, fractional, NaN, infinite, huge) is `usage_invalid`.
pub fn record_usage(engine: &Engine, agent: &str, units: f64, kind: &str) -> Result<()> {
    engine.record_usage(agent, units_of_f64(units)?, kind)
}

/// What the next check of `agent` (and `action`) sees as `context.usage`.
pub fn usage(engine: &Engine, agent: &str, action: Option<&str>) -> Result<UsageCounts> {
    engine.usage(agent, action)
}

/// [`usage`] as a JSON value.
pub fn usage_value(engine: &Engine, agent: &str, action: Option<&str>) -> Result<Value> {
    usage(engine, agent, action).map(|u| to_value(&u))
}

/// [`usage`] as JSON text.
pub fn usage_json(engine: &Engine, agent: &str, action: Option<&str>) -> Result<String> {
    usage(engine, agent, action).and_then(|u| to_text(&u))
}

/// Emergency stop (see [`Engine::lockdown`]).
pub fn lockdown(engine: &Engine, reason: &str, by: &str) -> Result<()> {
    engine.lockdown(reason, by)
}

/// Ends the emergency stop.
pub fn lift_lockdown(engine: &Engine, by: &str) -> Result<()> {
    engine.lift_lockdown(by)
}

/// The emergency stop in force, if any.
pub fn lockdown_status(engine: &Engine) -> Option<LockdownStatus> {
    engine.lockdown_status()
}

/// [`lockdown_status`] as a JSON value (`null` when none).
pub fn lockdown_status_value(engine: &Engine) -> Value {
    lockdown_status(engine).map_or(Value::Null, |s| to_value(&s))
}

/// [`lockdown_status`] as JSON text.
pub fn lockdown_status_json(engine: &Engine) -> String {
    lockdown_status_value(engine).to_string()
}
