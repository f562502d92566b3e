//! Human approval as a policy outcome: the `@approval("…")` annotation of a
//! `forbid` (who may approve), an approval as the API takes it and the
//! journal stores it, and a pending request as applications see it.
//!
//! A request whose only determining forbids carry `@approval` — and that the
//! permits would allow without them — is decided `needs_approval`. An
//! approval is bound to the request's digest (see `engine::approvals`).

use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentRequest, EntityRef};
use serde::{Deserialize, Serialize};

/// Prefix of the reason an approved decision carries: `approval/<id>`.
pub const APPROVAL_REASON_PREFIX: &str = "approval/";

/// The annotation a `forbid` carries to make its denial approvable.
pub const APPROVAL_ANNOTATION: &str = "approval";

/// Who may approve a request a forbid holds back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Approver {
    /// The agent's owner, while that user is active.
    Owner,
    /// Any active user in the team (directly or through nested teams).
    Team(String),
    /// One named user, while active.
    User(String),
}

impl Approver {
    /// The annotation form: `owner`, `team:ID`, `user:ID`.
    pub fn as_text(&self) -> String {
        match self {
            Approver::Owner => "owner".to_string(),
            Approver::Team(id) => format!("team:{id}"),
            Approver::User(id) => format!("user:{id}"),
        }
    }
}

/// Parses an `@approval` value: a comma-separated list of `owner`,
/// `team:ID` and `user:ID`; empty (or a bare `@approval`) means `owner`.
/// Anything else is an `approval_annotation_invalid` message.
pub fn parse_approvers(value: &str) -> std::result::Result<Vec<Approver>, String> {
    if value.trim().is_empty() {
        return Ok(vec![Approver::Owner]);
    }
    let mut out = Vec::new();
    for part in value.split(',') {
        let part = part.trim();
        let approver = match part.split_once(':') {
            None if part == "owner" => Approver::Owner,
            Some(("team", id)) if valid_id(id) => Approver::Team(id.to_string()),
            Some(("user", id)) if valid_id(id) => Approver::User(id.to_string()),
            _ => {
                return Err(format!(
                    "@approval({value:?}): {part:?} is not an approver; use a comma-separated list of `owner`, `team:ID`, `user:ID`"
                ))
            }
        };
        if !out.contains(&approver) {
            out.push(approver);
        }
    }
    out.sort();
    Ok(out)
}

/// An id in an approver: non-empty, no whitespace, no quotes or commas.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && !id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | ','))
}

/// An approval as the journal stores it: `uses` checks of the request with
/// digest `request_digest` by `agent` are allowed until `expires`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct Approval {
    pub id: String,
    pub agent: String,
    pub action: String,
    pub resource: EntityRef,
    /// `sha256:<hex>` of the approved request (see [`crate::Engine::request_digest`]).
    pub request_digest: String,
    /// The `@approval` policies it answers.
    pub policies: Vec<String>,
    pub uses: u32,
    /// RFC 3339 UTC.
    pub expires: String,
    pub approved_by: String,
    /// The `needs_approval` decision it answers, when approved by decision id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
}

/// What to approve or reject: a pending request's `decision_id`, or the
/// request itself (agent form).
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalTarget {
    DecisionId(String),
    Request(Box<AgentRequest>),
}

/// The application's callback for new pending requests.
pub type ApprovalHook = std::sync::Arc<dyn Fn(&ApprovalRequest) + Send + Sync>;

/// A request waiting for a human: what `approvals()` lists and the
/// `on_approval_request` callback receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct ApprovalRequest {
    /// The decision that asked for approval (the first, when asked again).
    pub decision_id: String,
    pub request_digest: String,
    /// The request as the agent made it (its arguments are what is approved).
    pub request: AgentRequest,
    /// The `@approval` policies that hold it back.
    pub policies: Vec<String>,
    /// Who may approve (`owner`, `team:ID`, `user:ID`).
    pub approvers: Vec<String>,
    /// RFC 3339 UTC of the first request.
    pub requested_at: String,
}

/// The bounds on `approve`'s arguments.
pub const MAX_APPROVAL_USES: u32 = 1000;
/// Default lifetime of an approval: 15 minutes.
pub const DEFAULT_APPROVAL_TTL_SECONDS: u64 = 900;
/// The longest an approval may last: 30 days.
pub const MAX_APPROVAL_TTL_SECONDS: u64 = 30 * 24 * 3600;

/// Checks `uses` and `ttl_seconds`; returns the lifetime in milliseconds.
pub(crate) fn approval_window(uses: u32, ttl_seconds: Option<u64>) -> Result<i64> {
    if uses == 0 || uses > MAX_APPROVAL_USES {
        return Err(Error::new(
            ErrorCode::ApprovalInvalid,
            format!("`uses` must be 1 to {MAX_APPROVAL_USES}, not {uses}"),
        ));
    }
    let ttl = ttl_seconds.unwrap_or(DEFAULT_APPROVAL_TTL_SECONDS);
    if ttl == 0 || ttl > MAX_APPROVAL_TTL_SECONDS {
        return Err(Error::new(
            ErrorCode::ApprovalInvalid,
            format!("`ttl` must be 1 to {MAX_APPROVAL_TTL_SECONDS} seconds, not {ttl}"),
        ));
    }
    i64::try_from(ttl.saturating_mul(1000))
        .map_err(|_| Error::new(ErrorCode::ApprovalInvalid, "`ttl` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approver_forms() {
        assert_eq!(parse_approvers(""), Ok(vec![Approver::Owner]));
        assert_eq!(
            parse_approvers(" user:bob , owner,team:fin, owner"),
            Ok(vec![
                Approver::Owner,
                Approver::Team("fin".into()),
                Approver::User("bob".into())
            ])
        );
        for bad in [
            "owners", "team:", "user", "group:x", "owner,", "user:a b", "Owner", "team:\"x",
        ] {
            assert!(parse_approvers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn window_bounds() {
        assert!(approval_window(0, None).is_err());
        assert!(approval_window(1001, None).is_err());
        assert!(approval_window(1, Some(0)).is_err());
        assert!(approval_window(1, Some(MAX_APPROVAL_TTL_SECONDS + 1)).is_err());
        assert_eq!(approval_window(1, None), Ok(900_000));
    }
}
