//! The request path: build a schema-validated Cedar request, evaluate it,
//! and turn Cedar's response into a Decision.

use super::approvals;
use super::authority;
use super::authority::{
    LOCKDOWN, TASK_REVOKED, UNKNOWN_ACTION, UNKNOWN_AGENT, UNKNOWN_CREDENTIAL, UNKNOWN_TASK,
    UNKNOWN_USER,
};
use super::context::{extension_value, AttrType, EntityType, Extension};
use super::decide::{authorize, Compiled, Outcome};
use super::guards;
use super::index::Known;
use super::snapshot::{entity_uid, grants_of, Snapshot};
use super::usage::{Reservation, Usage, UsageCounts, UsageReads};
use crate::bundle::OnError;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentRequest, CedarRequest, Decision, Effect, EntityRef, Request};
use crate::schema::STANDARD_CONTEXT_FIELDS;
use crate::time::{format_millis, rfc3339_to_cedar_fast};
use cedar_policy::{Context, EntityId, EntityUid, PolicyId};
use cedar_policy_core::ast;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// A decided request: the decision, the log-only outcome, for a
/// `needs_approval` decision the permits that allow it once approved, and the
/// request's call, counted in `usage` before evaluation (the caller commits it
/// when the final decision allows).
pub(crate) struct Decided {
    pub decision: Decision,
    pub log_only: Option<Outcome>,
    pub permits: Vec<String>,
    pub reservation: Reservation,
}

pub(crate) fn decide(
    snapshot: &Snapshot,
    request: &Request,
    now_millis: i64,
    mapped: bool,
    usage: &Usage,
    next_id: impl FnOnce() -> String,
) -> Result<Decided> {
    let mut log_only = None;
    let mut permits = Vec::new();
    let (built, reservation) = match request {
        Request::Agent(r) => agent_request(snapshot, r, now_millis, mapped, usage)?,
        Request::Cedar(r) => cedar_request(snapshot, r, now_millis, usage)?,
    };
    let (decision, reasons, errors) = match built {
        Built::Denied(reasons) => (Effect::Deny, reasons, Vec::new()),
        Built::Cedar(req, usage) => {
            let mut verdict = None;
            let candidates = match (req.principal(), req.action(), req.resource()) {
                (Some(p), Some(a), Some(r)) => {
                    let known = Known {
                        has: |name: &str| context_has(snapshot, request, name),
                        usage: usage.map(|counts| (counts, snapshot.usage_reads)),
                    };
                    let indexed = snapshot.index.candidates(p, a, r, snapshot.base(), &known);
                    verdict = snapshot.guards.verdict(p);
                    let guards = if verdict.is_none() {
                        snapshot.guards.unsettled(p)
                    } else {
                        &[]
                    };
                    Candidates {
                        indexed,
                        guards,
                        grants: grants_of(snapshot, p),
                    }
                }
                (Some(p), _, _) => Candidates {
                    indexed: snapshot.policies.policies().map(Compiled::new).collect(),
                    guards: &[],
                    grants: grants_of(snapshot, p),
                },
                _ => Candidates {
                    indexed: snapshot.policies.policies().map(Compiled::new).collect(),
                    guards: &[],
                    grants: &[],
                },
            };
            let entities = snapshot.store.for_request(&req)?;
            let mut outcome = authorize(&req, candidates.iter(), &entities);
            if let Some(fired) = verdict {
                outcome = guards::merge(outcome, fired);
            }
            let deny_on_error = snapshot.on_error == OnError::Deny;
            let is_permit = |c: &Compiled, id: &str| c.id() == id && !c.is_forbid();
            if deny_on_error {
                fail_closed(&mut outcome, |id| {
                    candidates.iter().any(|c| is_permit(c, id))
                });
            }
            // Human approval (not in Cedar-exact mode, agent form only): held
            // back only by `@approval` forbids, and allowed without them.
            if deny_on_error
                && matches!(request, Request::Agent(_))
                && !snapshot.approvals.is_empty()
                && approvals::approvable(
                    &snapshot.approvals,
                    outcome.decision,
                    &outcome.reasons,
                    &outcome.errors,
                )
            {
                let without: Vec<&Compiled> = candidates
                    .iter()
                    .filter(|c| !outcome.reasons.iter().any(|r| r == c.id()))
                    .collect();
                let mut lifted = authorize(&req, without.iter().copied(), &entities);
                if let Some(fired) = verdict {
                    lifted = guards::merge(lifted, fired);
                }
                fail_closed(&mut lifted, |id| without.iter().any(|c| is_permit(c, id)));
                if lifted.decision == Effect::Allow {
                    outcome.decision = Effect::NeedsApproval;
                    permits = lifted.reasons;
                }
            }
            // Log-only policies: evaluated beside the enforced set, recorded, not enforced.
            log_only = snapshot.log_only.evaluate(&req, &entities);
            if let (true, Some(s), Some(set)) =
                (deny_on_error, &mut log_only, &snapshot.log_only.policies)
            {
                fail_closed(s, |id| {
                    set.policy(&PolicyId::new(id))
                        .is_some_and(|p| p.effect() == cedar_policy::Effect::Permit)
                });
            }
            (outcome.decision, outcome.reasons, outcome.errors)
        }
    };
    let needs_approval = decision == Effect::NeedsApproval;
    let decision = Decision {
        decision,
        approvers: if needs_approval {
            snapshot.approvals.approvers(&reasons)
        } else {
            Vec::new()
        },
        reasons,
        errors,
        decision_id: next_id(),
        policy_revision: snapshot.revision.clone(),
        requires_approval: needs_approval,
        request_digest: match request {
            Request::Agent(r) if needs_approval => Some(approvals::request_digest(r)),
            _ => None,
        },
    };
    Ok(Decided {
        decision,
        log_only,
        permits,
        reservation,
    })
}

/// The engine's one difference from Cedar (`[engine] on_error = "deny"`):
/// a `forbid` whose evaluation errored denies, as a satisfied one would; it
/// joins the reasons and stays in the errors. A permit that errored does not
/// permit, as in Cedar (`is_permit`: whether the evaluated policies have a
/// permit of that id). Costs nothing when nothing errored.
fn fail_closed(outcome: &mut Outcome, is_permit: impl Fn(&str) -> bool) {
    if outcome.errors.is_empty() {
        return;
    }
    let mut forbids = outcome
        .errors
        .iter()
        // Deny on doubt: only an error of a known permit is left to Cedar's rule.
        .filter(|e| !is_permit(&e.policy))
        .map(|e| e.policy.clone())
        .peekable();
    if forbids.peek().is_none() {
        return;
    }
    if outcome.decision == Effect::Allow {
        outcome.reasons.clear();
    }
    outcome.reasons.extend(forbids);
    outcome.reasons.sort();
    outcome.reasons.dedup();
    outcome.decision = Effect::Deny;
}

/// The policies a check evaluates: the index's candidates, then the guards
/// without a verdict and the principal's grants, borrowed from the snapshot
/// (never copied per check). Their ids are reserved (`baseline/`, `grant/`),
/// so they cannot collide with the candidates'.
struct Candidates<'s> {
    indexed: Arc<[Compiled]>,
    guards: &'s [Compiled],
    grants: &'s [Compiled],
}

impl Candidates<'_> {
    fn iter(&self) -> impl Iterator<Item = &Compiled> {
        self.indexed.iter().chain(self.guards).chain(self.grants)
    }
}

/// Whether the context of the Cedar request built from `request` has
/// attribute `name`: it has exactly the request's context fields, and for the
/// agent form the standard fields the request fills in (and `now` for the
/// Cedar form of a bundle with the base types, which the engine fills in).
fn context_has(snapshot: &Snapshot, request: &Request, name: &str) -> bool {
    match request {
        Request::Agent(r) => match name {
            "now" | "usage" => true,
            "task" => r.task.is_some(),
            "credential" => r.credential.is_some(),
            "on_behalf_of" => r.on_behalf_of.is_some(),
            _ => r.context.contains_key(name),
        },
        Request::Cedar(r) => {
            r.context.contains_key(name)
                || ((name == "now" || name == "usage") && snapshot.screen.enabled)
        }
    }
}

enum Built {
    /// The request, and the counts its `context.usage` holds when the engine
    /// filled it in.
    Cedar(Box<cedar_policy::Request>, Option<UsageCounts>),
    Denied(Vec<String>),
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::RequestInvalid, message)
}

/// `entity_uid`, with the entity type looked up when the bundle knows it.
fn request_uid(snapshot: &Snapshot, r: &EntityRef) -> Result<EntityUid> {
    match snapshot.index.type_name(&r.type_name) {
        Some(t) => Ok(EntityUid::from_type_name_and_id(
            t.clone(),
            EntityId::new(&r.id),
        )),
        None => entity_uid(r),
    }
}

fn base_uid(snapshot: &Snapshot, type_name: &str, id: &str) -> Result<EntityUid> {
    match snapshot.index.type_name(type_name) {
        Some(t) => Ok(EntityUid::from_type_name_and_id(
            t.clone(),
            EntityId::new(id),
        )),
        None => entity_uid(&EntityRef::new(type_name, id)),
    }
}

/// `mapped: false`: a tool call the caller found no action for, denied as an
/// unknown action whatever its `action` (the tool name) names.
fn agent_request(
    snapshot: &Snapshot,
    r: &AgentRequest,
    now_millis: i64,
    mapped: bool,
    usage: &Usage,
) -> Result<(Built, Reservation)> {
    if !snapshot.bundle.options.base_schema {
        return Err(invalid(
            "agent-form requests need a bundle with agentauthz's base types; use the Cedar form (principal/action/resource)",
        ));
    }
    for field in STANDARD_CONTEXT_FIELDS {
        if r.context.contains_key(field) {
            return Err(invalid(format!(
                "context field `{field}` is filled in by agentauthz; pass it as the request's `{field}` instead"
            )));
        }
    }
    let mut unknown = Vec::new();
    let action = snapshot.actions.get(&r.action).filter(|_| mapped).cloned();
    if action.is_none() {
        unknown.push(UNKNOWN_ACTION);
    }
    let principal = base_uid(snapshot, "Agent", &r.agent)?;
    match snapshot.store.get(&principal) {
        None => unknown.push(UNKNOWN_AGENT),
        Some(agent) => unknown.extend(authority::standing(snapshot, &principal, agent)),
    }
    let now = match &r.now {
        Some(now) => rfc3339_to_cedar_fast(now)
            .ok_or_else(|| invalid(format!("`now` is not an RFC 3339 timestamp: {now:?}")))?,
        None => format_millis(now_millis),
    };
    let mut standard = vec![now_field(now)];
    let refs = [
        ("task", "Task", &r.task, UNKNOWN_TASK),
        (
            "credential",
            "Credential",
            &r.credential,
            UNKNOWN_CREDENTIAL,
        ),
        ("on_behalf_of", "User", &r.on_behalf_of, UNKNOWN_USER),
    ];
    for (field, type_name, id, reason) in refs {
        if let Some(id) = id {
            let uid = base_uid(snapshot, type_name, id)?;
            if snapshot.store.get(&uid).is_none() {
                unknown.push(reason);
            }
            let ty = Cow::Owned(AttrType::Entity(Some(EntityType::new(
                uid.type_name().clone(),
            ))));
            standard.push((
                field,
                Json::Value(json!({"__entity": {"type": type_name, "id": id}})),
                Some(ast::Value::from(ast::EntityUID::from(uid))),
                ty,
            ));
        }
    }
    if r.task
        .as_ref()
        .is_some_and(|t| snapshot.runtime.revoked_tasks.contains(t))
    {
        unknown.push(TASK_REVOKED);
    }
    if snapshot.runtime.lockdown.is_some() {
        unknown.push(LOCKDOWN);
    }
    let resource = request_uid(snapshot, &r.resource)?;
    unknown.sort_unstable();
    let Some(action) = action else {
        return Ok((
            Built::Denied(unknown.into_iter().map(String::from).collect()),
            Reservation::none(),
        ));
    };
    // Counted only when nothing denies it yet: an unknown agent or action
    // never gets counters.
    let (counts, reservation) = if unknown.is_empty() {
        usage.reserve(&r.agent, &action, now_millis, snapshot.usage_reads)
    } else {
        (UsageCounts::default(), Reservation::none())
    };
    standard.push(usage_field(counts, snapshot.usage_reads));
    // Build and validate even when denying, so malformed input is always reported.
    let (context, verified) = context(snapshot, &action, &r.context, standard)?;
    let request = build(snapshot, principal, action, resource, context, verified)?;
    authority::context(snapshot, request.context(), &mut unknown);
    unknown.sort_unstable();
    unknown.dedup();
    if unknown.is_empty() {
        Ok((Built::Cedar(Box::new(request), Some(counts)), reservation))
    } else {
        Ok((
            Built::Denied(unknown.into_iter().map(String::from).collect()),
            reservation,
        ))
    }
}

/// The Cedar form: evaluated as given, except in a bundle with the base
/// types, where the engine fills in `now` when the context has none and the
/// entities the request names get the same checks as in the agent form.
fn cedar_request(
    snapshot: &Snapshot,
    r: &CedarRequest,
    now_millis: i64,
    usage: &Usage,
) -> Result<(Built, Reservation)> {
    let action = request_uid(snapshot, &r.action)?;
    let principal = request_uid(snapshot, &r.principal)?;
    let mut standard = Vec::new();
    let mut reservation = Reservation::none();
    let mut usage_counts = None;
    if snapshot.screen.enabled {
        if !r.context.contains_key("now") {
            standard.push(now_field(format_millis(now_millis)));
        }
        if r.context.contains_key("usage") {
            return Err(invalid(
                "context field `usage` is filled in by agentauthz (the agent's counted calls and units)",
            ));
        }
        // An agent's calls count in this form too; other principals have none.
        let counted = is_agent(&principal)
            && snapshot.store.get(&principal).is_some()
            && snapshot.runtime.lockdown.is_none()
            && known_action(snapshot, &action);
        let counts = if counted {
            let (counts, r) = usage.reserve(
                principal.id().unescaped(),
                &action,
                now_millis,
                snapshot.usage_reads,
            );
            reservation = r;
            counts
        } else {
            UsageCounts::default()
        };
        usage_counts = Some(counts);
        standard.push(usage_field(counts, snapshot.usage_reads));
    }
    let (context, verified) = context(snapshot, &action, &r.context, standard)?;
    let request = build(
        snapshot,
        principal.clone(),
        action,
        request_uid(snapshot, &r.resource)?,
        context,
        verified,
    )?;
    if !snapshot.screen.enabled {
        return Ok((Built::Cedar(Box::new(request), usage_counts), reservation));
    }
    let mut denied = Vec::new();
    authority::principal(snapshot, &principal, &mut denied);
    authority::context(snapshot, request.context(), &mut denied);
    if snapshot.runtime.lockdown.is_some() && is_agent(&principal) {
        denied.push(LOCKDOWN);
    }
    if denied.is_empty() {
        return Ok((Built::Cedar(Box::new(request), usage_counts), reservation));
    }
    denied.sort_unstable();
    denied.dedup();
    Ok((
        Built::Denied(denied.into_iter().map(String::from).collect()),
        reservation,
    ))
}

/// Whether the schema declares action `uid` (so counters are made only for
/// actions that exist).
fn known_action(snapshot: &Snapshot, uid: &EntityUid) -> bool {
    snapshot.actions.get(uid.id().unescaped()) == Some(uid)
        || snapshot.actions.get(&uid.to_string()) == Some(uid)
}

/// Whether `uid` is a base-type `Agent` (empty namespace).
fn is_agent(uid: &EntityUid) -> bool {
    let t = uid.type_name();
    t.basename() == "Agent" && t.namespace_components().next().is_none()
}

/// A standard context field the engine adds: name, JSON form, typed form
/// (`None` when Cedar rejects it: the JSON form then gives Cedar's error), its type.
type StandardField = (
    &'static str,
    Json,
    Option<ast::Value>,
    Cow<'static, AttrType>,
);

/// A standard field's JSON form, made only when Cedar's parser needs it.
enum Json {
    Value(Value),
    /// The counts, and whether the typed form holds only the fields policies
    /// read (so it conforms to no declared type: never validated).
    Usage(UsageCounts, bool),
}

impl Json {
    fn into_value(self) -> Value {
        match self {
            Json::Value(v) => v,
            Json::Usage(u, _) => u.json(),
        }
    }
}

fn now_field(now: String) -> StandardField {
    let typed = extension_value(Extension::Datetime, &now);
    (
        "now",
        Json::Value(Value::String(now)),
        typed,
        Cow::Owned(AttrType::Extension(Extension::Datetime)),
    )
}

/// `context.usage`: typed, only the fields policies read (`reads`).
fn usage_field(counts: UsageCounts, reads: UsageReads) -> StandardField {
    let zero = counts == UsageCounts::default();
    let typed = if zero {
        super::context::zero_usage().clone()
    } else {
        counts.value(reads)
    };
    (
        "usage",
        Json::Usage(counts, !zero && reads != UsageReads::ALL),
        Some(typed),
        Cow::Borrowed(super::context::usage_type()),
    )
}

/// The request context: the fast typed path when the action's context type is
/// known and the values fit it; otherwise Cedar's JSON parser, which gives the
/// authoritative value or error. Also whether the context is known to conform
/// to the action's context type (only ever from the typed path).
fn context(
    snapshot: &Snapshot,
    action: &EntityUid,
    values: &Map<String, Value>,
    standard: Vec<StandardField>,
) -> Result<(Context, bool)> {
    let names: Vec<&str> = standard.iter().map(|(n, _, _, _)| *n).collect();
    if let Some(record) = snapshot.context_types.get(action) {
        let fits = names
            .iter()
            .all(|n| record.attrs.contains_key(*n) && !values.contains_key(*n));
        if fits {
            if let Some(mut pairs) = super::context::fields(record, values, &names) {
                let mut verified = true;
                let mut typed_all = true;
                let mut partial = false;
                for (n, json, typed, ty) in &standard {
                    verified &= super::context::declares(record, n, ty);
                    partial |= matches!(json, Json::Usage(_, true));
                    match typed {
                        Some(v) => pairs.push((n.to_string(), v.clone())),
                        None => typed_all = false,
                    }
                }
                // Cedar validates an unverified context: only a whole usage
                // record conforms, which the JSON form gives.
                if let Some(context) = (typed_all && (verified || !partial))
                    .then(|| super::context::context_of(pairs))
                    .flatten()
                {
                    return Ok((context, verified));
                }
            }
        }
    }
    let mut json = values.clone();
    for (name, value, _, _) in standard {
        json.insert(name.to_string(), value.into_value());
    }
    let schema = snapshot.schema.as_ref();
    Context::from_json_value(Value::Object(json), schema.map(|s| (s, action)))
        .map(|c| (c, false))
        .map_err(|e| invalid(format!("context: {e}")))
}

/// The Cedar request, validated against the schema when the bundle asks for
/// it. A `verified` context conforms to the action's context type already, so
/// only the principal, action and resource are checked (Cedar's own check of
/// them); anything that fails there, or any unverified context, goes through
/// Cedar's full validation, which gives the error.
fn build(
    snapshot: &Snapshot,
    principal: EntityUid,
    action: EntityUid,
    resource: EntityUid,
    context: Context,
    verified: bool,
) -> Result<cedar_policy::Request> {
    let schema = snapshot.schema.as_ref();
    let validation_schema = match schema {
        Some(s) if snapshot.bundle.options.validate_requests => {
            let valid_scope = verified
                && cedar_policy::validate_scope_variables(&principal, &action, &resource, s)
                    .is_ok();
            (!valid_scope).then_some(s)
        }
        _ => None,
    };
    cedar_policy::Request::new(principal, action, resource, context, validation_schema)
        .map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;
    use crate::model::PolicyError;

    fn allowed_by_permit_with(errors: &[&str]) -> Outcome {
        Outcome {
            decision: Effect::Allow,
            reasons: vec!["p".into()],
            errors: errors
                .iter()
                .map(|id| PolicyError {
                    policy: id.to_string(),
                    message: "overflow".into(),
                })
                .collect(),
        }
    }

    fn set() -> Vec<Compiled> {
        let mut set = Vec::new();
        for (id, text) in [
            ("p", "permit(principal, action, resource);"),
            (
                "f",
                "forbid(principal, action, resource) when { context.n + 1 > 0 };",
            ),
            (
                "q",
                "permit(principal, action, resource) when { context.n + 1 > 0 };",
            ),
        ] {
            let policy = cedar_policy::Policy::parse(Some(PolicyId::new(id)), text).unwrap();
            set.push(Compiled::new(&policy));
        }
        set
    }

    fn is_permit(id: &str) -> bool {
        set().iter().any(|c| c.id() == id && !c.is_forbid())
    }

    // An attacker who makes a forbid error must not turn it into an allow.
    #[test]
    fn an_erroring_forbid_denies() {
        let mut outcome = allowed_by_permit_with(&["f"]);
        fail_closed(&mut outcome, is_permit);
        assert_eq!(outcome.decision, Effect::Deny);
        assert_eq!(outcome.reasons, ["f"]);
    }

    // Deny on doubt: an error whose policy the evaluated set does not know
    // (e.g. an id that changed between evaluation and this step) denies too.
    #[test]
    fn an_error_of_an_unknown_policy_denies() {
        let mut outcome = allowed_by_permit_with(&["not-in-the-set"]);
        fail_closed(&mut outcome, is_permit);
        assert_eq!(outcome.decision, Effect::Deny);
        assert_eq!(outcome.reasons, ["not-in-the-set"]);
    }

    // Cedar's rule stays for permits: an erroring permit just does not permit.
    #[test]
    fn an_erroring_permit_leaves_the_decision() {
        let mut outcome = allowed_by_permit_with(&["q"]);
        fail_closed(&mut outcome, is_permit);
        assert_eq!(outcome.decision, Effect::Allow);
        assert_eq!(outcome.reasons, ["p"]);
    }
}
