//! Who decides what a request is judged against: the time (the engine clock
//! unless the engine trusts callers' time) and the entities it names (each
//! must be in the inventory). These checks run for every request form, before
//! Cedar, and no baseline switch turns them off.

use super::snapshot::{status_of, Snapshot};
use crate::error::{Error, ErrorCode, Result};
use crate::model::Request;
use crate::schema::BASE_TYPES;
use cedar_policy::EntityUid;
use cedar_policy_core::ast;
use cedar_policy_core::entities::Dereference;

/// Reasons for denials the engine decides before Cedar runs: the request names
/// something the inventory does not know. These are not switchable.
pub const UNKNOWN_AGENT: &str = "baseline/unknown-agent";
pub const UNKNOWN_ACTION: &str = "baseline/unknown-action";
pub const UNKNOWN_TASK: &str = "baseline/unknown-task";
pub const UNKNOWN_CREDENTIAL: &str = "baseline/unknown-credential";
pub const UNKNOWN_USER: &str = "baseline/unknown-on-behalf-of";
/// A request names a task that was revoked at run time (its agent was offboarded).
pub const TASK_REVOKED: &str = "baseline/task-revoked";
/// A request's context names an entity (outside the standard fields) that
/// the inventory does not know.
pub const UNKNOWN_ENTITY: &str = "baseline/unknown-entity";
/// The agent is offboarded. Offboarding is final: no switch undoes it.
pub const AGENT_OFFBOARDED: &str = "baseline/agent-offboarded";
/// The agent was suspended at run time (`suspend`) and not reactivated.
pub const AGENT_SUSPENDED: &str = "baseline/agent-suspended";
/// An emergency stop (`lockdown`) is in force: every agent request is denied.
pub const LOCKDOWN: &str = "baseline/lockdown";

fn invalid(message: &str) -> Error {
    Error::new(ErrorCode::RequestInvalid, message)
}

/// The time rule: a request may carry its own `now` (the agent form's `now`,
/// or `context.now` in the Cedar form of a bundle with the base types) only
/// when the engine trusts callers' time.
pub(crate) fn caller_time(snapshot: &Snapshot, request: &Request, trusted: bool) -> Result<()> {
    if trusted {
        return Ok(());
    }
    let carries = match request {
        Request::Agent(r) => r.now.is_some(),
        Request::Cedar(r) => snapshot.screen.enabled && r.context.contains_key("now"),
    };
    if carries {
        Err(invalid(
            "this engine does not trust callers' time: leave `now` out (the engine clock decides), \
             or build the engine with trust_caller_time for tests and replays",
        ))
    } else {
        Ok(())
    }
}

/// A session check always runs at the engine clock.
pub(crate) fn session_time_refused() -> Error {
    invalid("a session check is judged at the engine clock: leave `now` out")
}

/// Whether `uid` is of one of the base types (empty namespace).
fn base_type(uid: &EntityUid) -> Option<&'static str> {
    let t = uid.type_name();
    if t.namespace_components().next().is_some() {
        return None;
    }
    let name = t.basename();
    BASE_TYPES.iter().find(|b| **b == name).copied()
}

/// The principal of a request: a base-type principal must be in the
/// inventory, and an agent must not be offboarded or suspended at run time
/// when `agent-active` does not already say so.
pub(crate) fn principal(snapshot: &Snapshot, uid: &EntityUid, out: &mut Vec<&'static str>) {
    let Some(kind) = base_type(uid) else {
        return;
    };
    match snapshot.store.get(uid) {
        None if kind == "Agent" => out.push(UNKNOWN_AGENT),
        None => out.push(UNKNOWN_ENTITY),
        Some(entity) if kind == "Agent" => {
            if let Some(reason) = standing(snapshot, uid, entity) {
                out.push(reason);
            }
        }
        Some(_) => {}
    }
}

/// Lifecycle decisions that hold whatever the switches say. With
/// `agent-active` on, that guardrail already denies these agents (and is the
/// reason given), so nothing is looked up here.
pub(crate) fn standing(
    snapshot: &Snapshot,
    uid: &EntityUid,
    entity: &cedar_policy::Entity,
) -> Option<&'static str> {
    if !snapshot.screen.lifecycle_status {
        return None;
    }
    if status_of(entity) == "offboarded" {
        return Some(AGENT_OFFBOARDED);
    }
    let id = uid.id().unescaped();
    snapshot
        .runtime
        .suspended
        .contains(id)
        .then_some(AGENT_SUSPENDED)
}

/// Every entity in the context must be in the inventory (action entities
/// and enumerated types excepted): the standard fields give their own
/// reasons, any other field `baseline/unknown-entity`; a task revoked at run
/// time is `baseline/task-revoked` wherever it appears.
pub(crate) fn context(
    snapshot: &Snapshot,
    context: Option<&cedar_policy::Context>,
    out: &mut Vec<&'static str>,
) {
    let Some(context) = context else {
        return;
    };
    let ast::Context::Value(fields) = AsRef::<ast::Context>::as_ref(context) else {
        // Contexts with unknowns (partial evaluation) are never built here.
        return;
    };
    let entities = AsRef::<cedar_policy_core::entities::Entities>::as_ref(snapshot.store.base());
    for (name, value) in fields.iter() {
        let unknown = match name.as_str() {
            "task" => UNKNOWN_TASK,
            "credential" => UNKNOWN_CREDENTIAL,
            "on_behalf_of" => UNKNOWN_USER,
            _ => UNKNOWN_ENTITY,
        };
        // An explicit stack: context values may nest deeply.
        let mut stack: Vec<&ast::Value> = vec![value];
        while let Some(v) = stack.pop() {
            match &v.value {
                ast::ValueKind::Lit(ast::Literal::EntityUID(uid)) => {
                    if let Some(reason) = entity(snapshot, entities, uid, unknown) {
                        out.push(reason);
                    }
                }
                ast::ValueKind::Set(set) => stack.extend(set.iter()),
                ast::ValueKind::Record(record) => stack.extend(record.values()),
                _ => {}
            }
        }
    }
}

fn entity(
    snapshot: &Snapshot,
    entities: &cedar_policy_core::entities::Entities,
    uid: &ast::EntityUID,
    unknown: &'static str,
) -> Option<&'static str> {
    if uid.is_action() {
        return None;
    }
    // Entities are never removed; tasks added at run time are not compiled.
    let known = matches!(entities.entity(uid), Dereference::Data(_))
        || (snapshot.store.pending() > 0
            && snapshot
                .store
                .get(&cedar_policy::EntityUid::from(ast::EntityUID::clone(uid)))
                .is_some());
    let ty = uid.entity_type();
    if known {
        let is_task = ty.name().is_unqualified()
            && AsRef::<str>::as_ref(ty.name().basename_as_ref()) == "Task";
        let revoked = is_task
            && snapshot
                .runtime
                .revoked_tasks
                .contains(AsRef::<str>::as_ref(uid.eid()));
        return revoked.then_some(TASK_REVOKED);
    }
    if snapshot.screen.enums.contains(&ty.to_string()) {
        return None;
    }
    Some(unknown)
}
