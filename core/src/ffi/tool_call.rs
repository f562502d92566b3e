//! Tool calls: a framework's tool call decided by the one mapper
//! ([`Engine::check_tool_call`]).

use super::convert::{to_text, to_value};
use crate::engine::Engine;
use crate::error::Result;
use crate::model::{Decision, ToolCall};
use serde_json::Value;

/// Decides a tool call ([`Engine::check_tool_call`]).
pub fn check_tool_call(engine: &Engine, call: &ToolCall) -> Result<Decision> {
    engine.check_tool_call(call)
}

/// [`check_tool_call`] over `{tool, action, resource, agent | session,
/// audience?, input?, context?, task?, on_behalf_of?, credential?, now?}`
/// (bounded by the engine's limits); returns the Decision.
pub fn check_tool_call_value(engine: &Engine, input: Value) -> Result<Value> {
    let call = ToolCall::from_json_value_with(input, &engine.limits())?;
    check_tool_call(engine, &call).map(|d| to_value(&d))
}

/// [`check_tool_call_value`] over JSON text, read by the strict, bounded reader.
pub fn check_tool_call_json(engine: &Engine, input: &str) -> Result<String> {
    let call = ToolCall::from_json_str_with(input, &engine.limits())?;
    to_text(&check_tool_call(engine, &call)?)
}
