//! Human approval on the request path: the `@approval` rules compiled from
//! a bundle, who may approve (a Cedar check), the digest an approval is
//! bound to, approvals in force, and requests waiting for a human.

use super::origin::PolicyOrigin;
use super::store::EntityStore;
use crate::approval::{parse_approvers, Approval, ApprovalRequest, Approver, APPROVAL_ANNOTATION};
use crate::audit::canonical_json;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentRequest, Effect};
use cedar_policy::{
    Authorizer, Context, EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The action of the "who may approve" check.
pub(crate) const APPROVE_ACTION: &str = "agentauthz:approve";

/// One `@approval` forbid: who may approve, as Cedar permits over
/// `(User, Action::"agentauthz:approve", Agent)`.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub approvers: Vec<Approver>,
    pub policies: PolicySet,
}

/// The `@approval` forbids of a snapshot, by policy id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    pub by_policy: HashMap<String, Rule>,
}

impl Rules {
    /// Reads every `@approval` annotation; a malformed one, or one on a
    /// `permit`, is `approval_annotation_invalid` at the policy's location.
    pub fn compile(set: &PolicySet, origins: &BTreeMap<String, PolicyOrigin>) -> Result<Rules> {
        let mut by_policy = HashMap::new();
        for policy in set.policies() {
            let Some(value) = super::annotations::annotation(policy, APPROVAL_ANNOTATION) else {
                continue;
            };
            let id = policy.id().to_string();
            let fail = |message: String| match origins.get(&id) {
                Some(o) => Error::at(
                    ErrorCode::ApprovalAnnotationInvalid,
                    o.location.clone(),
                    message,
                ),
                None => Error::new(ErrorCode::ApprovalAnnotationInvalid, message),
            };
            if policy.effect() != cedar_policy::Effect::Forbid {
                return Err(fail(format!(
                    "policy `{id}`: @approval goes on a `forbid` (what a human may lift), not on a `permit`"
                )));
            }
            let approvers =
                parse_approvers(value).map_err(|m| fail(format!("policy `{id}`: {m}")))?;
            let policies = approver_policies(&id, &approvers).map_err(fail)?;
            by_policy.insert(
                id,
                Rule {
                    approvers,
                    policies,
                },
            );
        }
        Ok(Rules { by_policy })
    }

    pub fn is_empty(&self) -> bool {
        self.by_policy.is_empty()
    }

    /// Whether every reason is an `@approval` forbid (and there is one).
    pub fn all_approval(&self, reasons: &[String]) -> bool {
        !reasons.is_empty() && reasons.iter().all(|r| self.by_policy.contains_key(r))
    }

    /// The approvers of `policies`, as annotation text, sorted, once each.
    pub fn approvers(&self, policies: &[String]) -> Vec<String> {
        let mut out: Vec<String> = policies
            .iter()
            .filter_map(|p| self.by_policy.get(p))
            .flat_map(|r| r.approvers.iter().map(Approver::as_text))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

fn uid(type_name: &str, id: &str) -> std::result::Result<EntityUid, String> {
    let t = EntityTypeName::from_str(type_name).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

/// The Cedar permits that say who may approve what `policy` holds back:
/// an active user who is the agent's owner, in the team, or the named user.
fn approver_policies(
    policy: &str,
    approvers: &[Approver],
) -> std::result::Result<PolicySet, String> {
    let action = format!("action == Action::{:?}", APPROVE_ACTION);
    let active = "principal has active && principal.active == true";
    let mut set = PolicySet::new();
    for (i, a) in approvers.iter().enumerate() {
        let text = match a {
            Approver::Owner => format!(
                "permit(principal is User, {action}, resource is Agent) when {{ resource has owner && resource.owner == principal && {active} }};"
            ),
            Approver::Team(t) => format!(
                "permit(principal is User in {}, {action}, resource is Agent) when {{ {active} }};",
                uid("Team", t)?
            ),
            Approver::User(u) => format!(
                "permit(principal == {}, {action}, resource is Agent) when {{ {active} }};",
                uid("User", u)?
            ),
        };
        let id = PolicyId::new(format!("approval/{policy}/{i}"));
        let p = Policy::parse(Some(id), &text).map_err(|e| format!("approver rule: {e}"))?;
        set.add(p).map_err(|e| e.to_string())?;
    }
    Ok(set)
}

/// Whether `user` may approve (or reject) `agent`'s request held back by
/// `policies`: the `agentauthz:approve` check, against every one of them.
/// Refused: `approval_refused`, naming the policy that refused.
pub(crate) fn check_approver(
    rules: &Rules,
    store: &EntityStore,
    user: &str,
    agent: &str,
    policies: &[String],
) -> Result<()> {
    let refused = |m: String| Error::new(ErrorCode::ApprovalRefused, m);
    let internal = |e: String| Error::new(ErrorCode::Internal, e);
    let principal = uid("User", user).map_err(internal)?;
    let resource = uid("Agent", agent).map_err(internal)?;
    let action = uid("Action", APPROVE_ACTION).map_err(internal)?;
    let request = cedar_policy::Request::new(principal, action, resource, Context::empty(), None)
        .map_err(|e| internal(e.to_string()))?;
    let entities = store.for_request(&request)?;
    if policies.is_empty() {
        return Err(refused("no approval policy holds this request back".into()));
    }
    for p in policies {
        let Some(rule) = rules.by_policy.get(p) else {
            return Err(Error::new(
                ErrorCode::ApprovalInvalid,
                format!("policy `{p}` no longer asks for approval (the bundle changed); check the request again"),
            ));
        };
        let response = Authorizer::new().is_authorized(&request, &rule.policies, &entities);
        if response.decision() != cedar_policy::Decision::Allow {
            let who: Vec<String> = rule.approvers.iter().map(Approver::as_text).collect();
            return Err(refused(format!(
                "user `{user}` may not approve `{agent}`'s request held back by `{p}` (approvers: {}; an approver must be an active user)",
                who.join(", ")
            )));
        }
    }
    Ok(())
}

/// The digest an approval is bound to: `sha256:` and the hex SHA-256 of
/// `agentauthz-approval-v1\n` followed by the canonical JSON (sorted keys,
/// no whitespace) of `{agent, action, resource, context, task?,
/// on_behalf_of?, credential?}` — everything the call carries except its
/// time. Key order does not matter; strings are compared as given (no
/// Unicode normalization), numbers as written (`1` and `1.0` differ).
pub(crate) fn request_digest(r: &AgentRequest) -> String {
    let mut m = Map::new();
    m.insert("agent".into(), Value::String(r.agent.clone()));
    m.insert("action".into(), Value::String(r.action.clone()));
    let mut res = Map::new();
    res.insert("type".into(), Value::String(r.resource.type_name.clone()));
    res.insert("id".into(), Value::String(r.resource.id.clone()));
    m.insert("resource".into(), Value::Object(res));
    m.insert("context".into(), Value::Object(r.context.clone()));
    for (k, v) in [
        ("task", &r.task),
        ("on_behalf_of", &r.on_behalf_of),
        ("credential", &r.credential),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.clone()));
        }
    }
    let mut h = Sha256::new();
    h.update(b"agentauthz-approval-v1\n");
    h.update(canonical_json(&Value::Object(m)));
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// An approval in force: what is left of it.
#[derive(Debug, Clone)]
pub(crate) struct ActiveApproval {
    pub approval: Approval,
    pub expires_ms: i64,
    pub remaining: u32,
    /// Set once its expiry was recorded (shared by the snapshots that hold it).
    pub expiry_recorded: Arc<AtomicBool>,
}

impl ActiveApproval {
    /// Whether the expiry still has to be recorded (true once).
    pub fn take_expiry(&self) -> bool {
        !self.expiry_recorded.swap(true, Ordering::AcqRel)
    }
}

/// What the request path found for a request held back by `@approval`.
pub(crate) enum Found<'a> {
    /// An approval in force for this agent and digest.
    Live(&'a ActiveApproval),
    /// One for this digest, expired (its expiry not recorded yet).
    Expired(&'a ActiveApproval),
    None,
}

/// Looks up an approval of `agent` for `digest` at `now`.
pub(crate) fn find<'a>(
    approvals: &'a BTreeMap<String, ActiveApproval>,
    agent: &str,
    digest: &str,
    now: i64,
) -> Found<'a> {
    let mut expired = None;
    for a in approvals.values() {
        if a.approval.request_digest != digest || a.approval.agent != agent || a.remaining == 0 {
            continue;
        }
        if a.expires_ms > now {
            return Found::Live(a);
        }
        expired = Some(a);
    }
    match expired {
        Some(a) => Found::Expired(a),
        None => Found::None,
    }
}

/// The most requests kept waiting; the oldest is dropped beyond it.
pub(crate) const MAX_PENDING: usize = 10_000;
/// Decision ids kept per pending request (the newest).
const MAX_IDS: usize = 16;

#[derive(Debug, Clone)]
struct PendingEntry {
    request: ApprovalRequest,
    decision_ids: VecDeque<String>,
}

/// Requests waiting for a human, by digest (in memory: a restart forgets
/// them; an approval given for the request itself needs none).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    by_digest: HashMap<String, PendingEntry>,
    order: VecDeque<String>,
}

impl Pending {
    /// Adds a decision for a request; true when the request is new.
    pub fn add(&mut self, request: ApprovalRequest, decision_id: &str) -> bool {
        if let Some(e) = self.by_digest.get_mut(&request.request_digest) {
            if e.decision_ids.len() >= MAX_IDS {
                e.decision_ids.pop_front();
            }
            e.decision_ids.push_back(decision_id.to_string());
            return false;
        }
        while self.by_digest.len() >= MAX_PENDING {
            match self.order.pop_front() {
                Some(d) => {
                    self.by_digest.remove(&d);
                }
                None => break,
            }
        }
        let digest = request.request_digest.clone();
        self.order.push_back(digest.clone());
        self.by_digest.insert(
            digest,
            PendingEntry {
                request,
                decision_ids: VecDeque::from([decision_id.to_string()]),
            },
        );
        true
    }

    pub fn by_decision(&self, decision_id: &str) -> Option<&ApprovalRequest> {
        self.by_digest
            .values()
            .find(|e| e.decision_ids.iter().any(|d| d == decision_id))
            .map(|e| &e.request)
    }

    pub fn by_digest(&self, digest: &str) -> Option<&ApprovalRequest> {
        self.by_digest.get(digest).map(|e| &e.request)
    }

    pub fn remove(&mut self, digest: &str) {
        if self.by_digest.remove(digest).is_some() {
            self.order.retain(|d| d != digest);
        }
    }

    /// Waiting requests, oldest first.
    pub fn list(&self, agent: Option<&str>) -> Vec<ApprovalRequest> {
        self.order
            .iter()
            .filter_map(|d| self.by_digest.get(d))
            .filter(|e| agent.is_none_or(|a| e.request.request.agent == a))
            .map(|e| e.request.clone())
            .collect()
    }
}

/// The application's callback for new pending requests.
#[derive(Clone)]
pub(crate) struct Hook(pub Arc<dyn Fn(&ApprovalRequest) + Send + Sync>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

/// Whether an outcome's deny comes only from `@approval` forbids that did
/// not error (an erroring one fails closed: a plain deny).
pub(crate) fn approvable(
    rules: &Rules,
    decision: Effect,
    reasons: &[String],
    errors: &[crate::model::PolicyError],
) -> bool {
    decision == Effect::Deny
        && rules.all_approval(reasons)
        && !reasons
            .iter()
            .any(|r| errors.iter().any(|e| &e.policy == r))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;
    use crate::model::EntityRef;
    use serde_json::json;

    fn req(context: Value) -> AgentRequest {
        AgentRequest {
            agent: "a".into(),
            action: "refund".into(),
            resource: EntityRef::new("Order", "o1"),
            task: None,
            on_behalf_of: None,
            credential: None,
            context: match context {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            now: None,
        }
    }

    #[test]
    fn digest_ignores_key_order_and_time_only() {
        let a: Value =
            serde_json::from_str(r#"{"input": {"amount": 5, "to": "x"}, "ip": "1"}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"ip": "1", "input": {"to": "x", "amount": 5}}"#).unwrap();
        assert_eq!(request_digest(&req(a.clone())), request_digest(&req(b)));
        let mut timed = req(a.clone());
        timed.now = Some("2026-01-01T00:00:00Z".into());
        assert_eq!(request_digest(&timed), request_digest(&req(a.clone())));
        // Anything else the call carries changes it.
        let base = request_digest(&req(a.clone()));
        for other in [
            json!({"input": {"amount": 6, "to": "x"}, "ip": "1"}),
            json!({"input": {"amount": 5.0, "to": "x"}, "ip": "1"}),
            json!({"input": {"amount": "5", "to": "x"}, "ip": "1"}),
            json!({"input": {"amount": 5, "to": "x", "memo": null}, "ip": "1"}),
            json!({"input": {"amount": 5, "to": "x"}}),
            // NFC "é" and NFD "e\u{301}" are different strings.
            json!({"input": {"amount": 5, "to": "x\u{e9}"}, "ip": "1"}),
            json!({"input": {"amount": 5, "to": "xe\u{301}"}, "ip": "1"}),
        ] {
            assert_ne!(request_digest(&req(other.clone())), base, "{other}");
        }
        let mut t = req(a.clone());
        t.task = Some("T".into());
        assert_ne!(request_digest(&t), base);
        let mut r = req(a);
        r.resource.id = "o2".into();
        assert_ne!(request_digest(&r), base);
    }

    #[test]
    fn pending_is_bounded_and_deduplicated() {
        let mut p = Pending::default();
        let mk = |d: &str| ApprovalRequest {
            decision_id: d.into(),
            request_digest: d.into(),
            request: req(json!({})),
            policies: vec![],
            approvers: vec![],
            requested_at: String::new(),
        };
        assert!(p.add(mk("d1"), "x1"));
        assert!(!p.add(mk("d1"), "x2"));
        assert_eq!(p.by_decision("x2").unwrap().request_digest, "d1");
        for i in 0..MAX_PENDING + 5 {
            p.add(mk(&format!("e{i}")), &format!("y{i}"));
        }
        assert_eq!(p.list(None).len(), MAX_PENDING);
        assert!(p.by_digest("d1").is_none());
    }
}
