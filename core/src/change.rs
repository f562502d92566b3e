//! Run-time changes as the API takes them and the journal stores them:
//! just-in-time grants and agent lifecycle operations. Applying one is the
//! engine's job (`engine::lifecycle`).

use crate::approval::Approval;
use crate::model::EntityRef;
use serde::{Deserialize, Serialize};

/// Prefix of the policy id of every grant: `grant/<id>`.
pub const GRANT_POLICY_PREFIX: &str = "grant/";

/// One run-time change, as the API takes it and the journal stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub enum Change {
    /// A just-in-time grant (its id and window already fixed).
    Grant(Grant),
    /// Ends a grant before its expiry.
    Revoke { grant: String },
    /// The agent may not act until reactivated (status `suspended`).
    Suspend { agent: String },
    /// A suspended agent may act again (status `active`).
    Reactivate { agent: String },
    /// Final: status `offboarded`; its grants, tasks and sessions revoked, its
    /// credentials marked revoked.
    Offboard { agent: String },
    /// A credential was rotated: issued now, valid until `expires`.
    RotateCredential { credential: String, expires: String },
    /// The agent's accountable owner changes.
    TransferOwner { agent: String, owner: String },
    /// A new task (a just-in-time scope with a time window) for an agent.
    AddTask(TaskSpec),
    /// A session token may no longer be used.
    RevokeSession { session: String },
    /// Emergency stop: every agent request is denied (`baseline/lockdown`)
    /// until lifted. Again while in force: the reason is replaced.
    Lockdown { reason: String },
    /// Ends the emergency stop.
    LiftLockdown {},
    /// A human approved one exact request (by its digest) for some uses.
    Approve(Approval),
    /// A check used one use of an approval.
    ConsumeApproval { approval: String },
}

impl Change {
    /// The operation's name: `grant`, `offboard`, ...
    pub fn op(&self) -> &'static str {
        match self {
            Change::Grant(_) => "grant",
            Change::Revoke { .. } => "revoke",
            Change::Suspend { .. } => "suspend",
            Change::Reactivate { .. } => "reactivate",
            Change::Offboard { .. } => "offboard",
            Change::RotateCredential { .. } => "rotate_credential",
            Change::TransferOwner { .. } => "transfer_owner",
            Change::AddTask(_) => "add_task",
            Change::RevokeSession { .. } => "revoke_session",
            Change::Lockdown { .. } => "lockdown",
            Change::LiftLockdown {} => "lift_lockdown",
            Change::Approve(_) => "approve",
            Change::ConsumeApproval { .. } => "consume_approval",
        }
    }

    /// The agent the change is about, when there is one.
    pub fn agent(&self) -> Option<&str> {
        match self {
            Change::Grant(g) => Some(&g.agent),
            Change::Suspend { agent }
            | Change::Reactivate { agent }
            | Change::Offboard { agent }
            | Change::TransferOwner { agent, .. } => Some(agent),
            Change::AddTask(t) => Some(&t.agent),
            Change::Approve(a) => Some(&a.agent),
            Change::Revoke { .. }
            | Change::ConsumeApproval { .. }
            | Change::RotateCredential { .. }
            | Change::RevokeSession { .. }
            | Change::Lockdown { .. }
            | Change::LiftLockdown {} => None,
        }
    }

    /// The entity the change is about, for the decision log.
    pub fn subject(&self) -> EntityRef {
        match self {
            Change::Grant(g) => EntityRef::new("Grant", g.id.as_str()),
            Change::Revoke { grant } => EntityRef::new("Grant", grant.as_str()),
            Change::Suspend { agent }
            | Change::Reactivate { agent }
            | Change::Offboard { agent }
            | Change::TransferOwner { agent, .. } => EntityRef::new("Agent", agent.as_str()),
            Change::RotateCredential { credential, .. } => {
                EntityRef::new("Credential", credential.as_str())
            }
            Change::AddTask(t) => EntityRef::new("Task", t.id.as_str()),
            Change::RevokeSession { session } => EntityRef::new("Session", session.as_str()),
            Change::Lockdown { .. } | Change::LiftLockdown {} => {
                EntityRef::new("Engine", "lockdown")
            }
            Change::Approve(a) => EntityRef::new("Approval", a.id.as_str()),
            Change::ConsumeApproval { approval } => EntityRef::new("Approval", approval.as_str()),
        }
    }
}

/// A just-in-time grant: `agent` may do `actions` on `resource` (and anything
/// in it) from `starts` until `expires` (RFC 3339, UTC), optionally only
/// within `task`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct Grant {
    pub id: String,
    pub agent: String,
    pub actions: Vec<String>,
    pub resource: EntityRef,
    pub starts: String,
    pub expires: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    pub reason: String,
    pub granted_by: String,
}

impl Grant {
    /// The grant's policy id, as it appears in reasons.
    pub fn policy_id(&self) -> String {
        format!("{GRANT_POLICY_PREFIX}{}", self.id)
    }
}

/// A grant as asked for; the engine fixes its id and window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct GrantRequest {
    pub agent: String,
    pub actions: Vec<String>,
    pub resource: EntityRef,
    /// Seconds from `starts` (or now); give this or `until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "number"))]
    pub ttl_seconds: Option<u64>,
    /// RFC 3339 expiry; give this or `ttl_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// RFC 3339 start; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    pub reason: String,
    pub granted_by: String,
}

/// A task to add at run time (the inventory's `tasks:` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct TaskSpec {
    pub id: String,
    pub agent: String,
    pub not_before: String,
    pub not_after: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}
