//! Run-time changes: just-in-time grants, tasks and lifecycle operations, in
//! their journal form.

use super::{from_value, parse_text, to_value};
use crate::engine::{Change, Engine, Grant, GrantRequest, TaskSpec};
use crate::error::{ErrorCode, Result};
use crate::journal::JournalEntry;
use serde_json::Value;

/// Grants actions on a resource to an agent for a window; returns the grant
/// with its id and fixed window.
pub fn grant(engine: &Engine, request: GrantRequest) -> Result<Grant> {
    engine.grant(request)
}

/// `{agent, actions, resource: {type, id}, ttl_seconds | until, starts?, task?,
/// reason, granted_by}` → the grant `{id, agent, actions, resource, starts,
/// expires, task?, reason, granted_by}`.
pub fn grant_value(engine: &Engine, request: Value) -> Result<Value> {
    let request = from_value(request, ErrorCode::GrantInvalid, "grant request")?;
    grant(engine, request).map(|g| to_value(&g))
}

/// [`grant_value`] over JSON text.
pub fn grant_json(engine: &Engine, request: &str) -> Result<String> {
    let request = parse_text(request, "grant request", ErrorCode::GrantInvalid)?;
    grant_value(engine, request).map(|g| g.to_string())
}

/// The grants in force, of one agent or all, by id.
pub fn grants(engine: &Engine, agent: Option<&str>) -> Vec<Grant> {
    engine.grants(agent)
}

/// [`grants`] as a JSON array.
pub fn grants_value(engine: &Engine, agent: Option<&str>) -> Value {
    Value::Array(grants(engine, agent).iter().map(to_value).collect())
}

/// [`grants`] as JSON text.
pub fn grants_json(engine: &Engine, agent: Option<&str>) -> String {
    grants_value(engine, agent).to_string()
}

/// Adds a task (a just-in-time scope with a window) for an agent.
pub fn add_task(engine: &Engine, task: TaskSpec, by: &str) -> Result<()> {
    engine.add_task(task, by)
}

/// `{id, agent, not_before, not_after, purpose?, on_behalf_of?}` → adds the task.
pub fn add_task_value(engine: &Engine, task: Value, by: &str) -> Result<()> {
    add_task(
        engine,
        from_value(task, ErrorCode::LifecycleInvalid, "task")?,
        by,
    )
}

/// [`add_task_value`] over JSON text.
pub fn add_task_json(engine: &Engine, task: &str, by: &str) -> Result<()> {
    add_task_value(
        engine,
        parse_text(task, "task", ErrorCode::LifecycleInvalid)?,
        by,
    )
}

/// Applies any change made by `by`; returns its journal entry.
pub fn apply_change(engine: &Engine, change: Change, by: &str) -> Result<JournalEntry> {
    engine.apply(change, by)
}

/// Any change in its journal form (`{"op": "suspend", "agent": "..."}`, ...);
/// returns the journal entry `{seq, at, by, op, ...}`.
pub fn apply_change_value(engine: &Engine, change: Value, by: &str) -> Result<Value> {
    let change = from_value(change, ErrorCode::LifecycleInvalid, "change")?;
    apply_change(engine, change, by).map(|e| to_value(&e))
}

/// [`apply_change_value`] over JSON text.
pub fn apply_change_json(engine: &Engine, change: &str, by: &str) -> Result<String> {
    let change = parse_text(change, "change", ErrorCode::LifecycleInvalid)?;
    apply_change_value(engine, change, by).map(|e| e.to_string())
}

/// Changes that no longer applied when the bundle was last loaded, reloaded
/// or restored, each with its reason and journal seq.
pub fn skipped_changes(engine: &Engine) -> Vec<String> {
    engine.skipped_changes()
}

/// [`skipped_changes`] as a JSON array of strings.
pub fn skipped_changes_value(engine: &Engine) -> Value {
    to_value(&skipped_changes(engine))
}

/// [`skipped_changes`] as JSON text.
pub fn skipped_changes_json(engine: &Engine) -> String {
    skipped_changes_value(engine).to_string()
}
