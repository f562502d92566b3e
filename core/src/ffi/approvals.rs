//! Human approval: approve or reject a request held back by `@approval`,
//! and the requests waiting for a human.

use super::convert::{from_value, parse_text, to_value};
use crate::approval::{Approval, ApprovalRequest, ApprovalTarget};
use crate::engine::Engine;
use crate::error::{Error, ErrorCode, Result};
use crate::model::AgentRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What every binding's `approve` / `reject` takes: exactly one of
/// `decision_id` (a waiting `needs_approval` decision) and `request` (agent
/// form), who approves (`by`), and for `approve` the uses (default 1) and
/// lifetime in seconds (default 900).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct ApprovalArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<AgentRequest>,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "number"))]
    pub ttl_seconds: Option<u64>,
}

impl ApprovalArgs {
    fn target(self) -> Result<(ApprovalTarget, String, Option<u32>, Option<u64>)> {
        let target = match (self.decision_id, self.request) {
            (Some(id), None) => ApprovalTarget::DecisionId(id),
            (None, Some(r)) => ApprovalTarget::Request(Box::new(r)),
            _ => {
                return Err(Error::new(
                    ErrorCode::ApprovalInvalid,
                    "give exactly one of `decision_id` and `request`",
                ))
            }
        };
        Ok((target, self.by, self.uses, self.ttl_seconds))
    }
}

/// Approves a waiting request (see [`Engine::approve`]); returns the approval.
pub fn approve(engine: &Engine, args: ApprovalArgs) -> Result<Approval> {
    let (target, by, uses, ttl) = args.target()?;
    engine.approve(target, &by, uses.unwrap_or(1), ttl)
}

/// `{decision_id | request, by, uses?, ttl_seconds?}` → the approval
/// `{id, agent, action, resource, request_digest, policies, uses, expires, approved_by, decision_id?}`.
pub fn approve_value(engine: &Engine, args: Value) -> Result<Value> {
    let args = from_value(args, ErrorCode::ApprovalInvalid, "approval")?;
    approve(engine, args).map(|a| to_value(&a))
}

/// [`approve_value`] over JSON text.
pub fn approve_json(engine: &Engine, args: &str) -> Result<String> {
    let args = parse_text(args, "approval", ErrorCode::ApprovalInvalid)?;
    approve_value(engine, args).map(|a| a.to_string())
}

/// Rejects a waiting request (see [`Engine::reject`]); returns it.
pub fn reject(engine: &Engine, args: ApprovalArgs) -> Result<ApprovalRequest> {
    let (target, by, uses, ttl) = args.target()?;
    if uses.is_some() || ttl.is_some() {
        return Err(Error::new(
            ErrorCode::ApprovalInvalid,
            "`uses` and `ttl_seconds` go with approve, not reject",
        ));
    }
    engine.reject(target, &by)
}

/// `{decision_id | request, by}` → the rejected request.
pub fn reject_value(engine: &Engine, args: Value) -> Result<Value> {
    let args = from_value(args, ErrorCode::ApprovalInvalid, "rejection")?;
    reject(engine, args).map(|r| to_value(&r))
}

/// [`reject_value`] over JSON text.
pub fn reject_json(engine: &Engine, args: &str) -> Result<String> {
    let args = parse_text(args, "rejection", ErrorCode::ApprovalInvalid)?;
    reject_value(engine, args).map(|r| r.to_string())
}

/// Requests waiting for approval, of one agent or all, oldest first.
pub fn approvals(engine: &Engine, agent: Option<&str>) -> Vec<ApprovalRequest> {
    engine.approvals(agent)
}

/// [`approvals`] as a JSON array.
pub fn approvals_value(engine: &Engine, agent: Option<&str>) -> Value {
    Value::Array(approvals(engine, agent).iter().map(to_value).collect())
}

/// [`approvals`] as JSON text.
pub fn approvals_json(engine: &Engine, agent: Option<&str>) -> String {
    approvals_value(engine, agent).to_string()
}

/// New waiting requests kept for a binding whose callback cannot run inside
/// `check` (JavaScript): the hook queues them, the binding takes them right
/// after the call. Bounded: beyond [`ApprovalRequestQueue::MAX`] untaken
/// requests the newest are dropped (they stay listed by `approvals()`).
#[derive(Debug, Clone, Default)]
pub struct ApprovalRequestQueue(std::sync::Arc<std::sync::Mutex<Vec<ApprovalRequest>>>);

impl ApprovalRequestQueue {
    /// The most requests kept between two takes.
    pub const MAX: usize = 1024;

    /// Installs a queue as the engine's `on_approval_request` hook.
    pub fn install(engine: &Engine) -> ApprovalRequestQueue {
        let queue = ApprovalRequestQueue::default();
        let q = queue.0.clone();
        engine.on_approval_request(Some(std::sync::Arc::new(move |r: &ApprovalRequest| {
            let mut q = q.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if q.len() < Self::MAX {
                q.push(r.clone());
            }
        })));
        queue
    }

    /// The requests queued since the last take, oldest first, as a JSON array text.
    pub fn take_json(&self) -> String {
        let taken = std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        Value::Array(taken.iter().map(to_value).collect()).to_string()
    }
}
