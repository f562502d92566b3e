//! Applying run-time changes (`crate::change`): just-in-time grants and agent
//! lifecycle operations.
//!
//! A change never edits the active snapshot: it is checked against it and
//! builds a new one that shares every part it does not touch. A grant is a
//! Cedar `permit` limited to its window, so it expires by itself, shows up in
//! a decision's reasons as `grant/<id>`, and loses to any `forbid`.

use super::guards::PrincipalGuards;
use super::snapshot::{agent_of, entity_uid, status_of, ActiveGrant, Lockdown, Runtime, Snapshot};
use crate::change::{Change, Grant, GrantRequest, TaskSpec};
use crate::error::{Error, ErrorCode, Result};
use crate::model::EntityRef;
use crate::time::{format_millis, parse_rfc3339_millis};
use cedar_policy::{
    Entities, Entity, EntityUid, EvalResult, Policy, PolicyId, PolicySet, RestrictedExpression,
    ValidationMode, Validator,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Longest lockdown reason, in bytes.
const MAX_LOCKDOWN_REASON: usize = 1024;

fn invalid(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

fn base_uid(type_name: &str, id: &str) -> Result<EntityUid> {
    entity_uid(&EntityRef::new(type_name, id))
}

/// Time in milliseconds from an RFC 3339 field.
fn millis(field: &str, text: &str, code: ErrorCode) -> Result<i64> {
    parse_rfc3339_millis(text).ok_or_else(|| {
        invalid(
            code,
            format!("`{field}` is not an RFC 3339 timestamp: {text:?}"),
        )
    })
}

/// Grant and task ids become part of a policy id: keep them plain.
fn check_id(kind: &str, id: &str, code: ErrorCode) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            code,
            format!("{kind} id {id:?}: use 1 to 128 of A-Z a-z 0-9 - _ . :"),
        ))
    }
}

/// Fixes a grant request's window and id at `now`.
pub(crate) fn grant_from_request(req: GrantRequest, id: String, now: i64) -> Result<Grant> {
    let code = ErrorCode::GrantInvalid;
    let starts = match &req.starts {
        Some(s) => millis("starts", s, code)?,
        None => now,
    };
    let expires = match (&req.until, req.ttl_seconds) {
        (Some(until), None) => millis("until", until, code)?,
        (None, Some(ttl)) => {
            let ttl = i64::try_from(ttl)
                .ok()
                .and_then(|t| t.checked_mul(1000))
                .ok_or_else(|| invalid(code, "`ttl_seconds` is too large"))?;
            starts
                .checked_add(ttl)
                .ok_or_else(|| invalid(code, "`ttl_seconds` is too large"))?
        }
        _ => {
            return Err(invalid(
                code,
                "give exactly one of `ttl_seconds` and `until`",
            ))
        }
    };
    Ok(Grant {
        id,
        agent: req.agent,
        actions: req.actions,
        resource: req.resource,
        starts: format_millis(starts),
        expires: format_millis(expires),
        task: req.task,
        reason: req.reason,
        granted_by: req.granted_by,
    })
}

/// The entity whose inventory statement a change overrides (status, owner,
/// credential window). Offboarding is final and never yields to the inventory;
/// grants, tasks and session revocations add to it rather than override it.
fn overridden(change: &Change) -> Option<(&'static str, &str)> {
    match change {
        Change::Suspend { agent }
        | Change::Reactivate { agent }
        | Change::TransferOwner { agent, .. } => Some(("Agent", agent)),
        Change::RotateCredential { credential, .. } => Some(("Credential", credential)),
        _ => None,
    }
}

/// What a change is made against: the content hash of the entity it
/// overrides, as the bundle's inventory states it (`absent` if it does not).
pub(crate) fn basis(snapshot: &Snapshot, change: &Change) -> Option<String> {
    let (type_name, id) = overridden(change)?;
    let uid = base_uid(type_name, id).ok()?;
    Some(match snapshot.store.as_compiled(&uid) {
        Some(e) => entity_hash(e),
        None => "absent".to_string(),
    })
}

/// SHA-256 of the entity's canonical JSON (parents sorted: they are a set).
fn entity_hash(entity: &Entity) -> String {
    use sha2::Digest;
    let mut value = entity.to_json_value().unwrap_or(serde_json::Value::Null);
    if let Some(serde_json::Value::Array(parents)) = value.get_mut("parents") {
        parents.sort_by_key(|p| p.to_string());
    }
    let digest = sha2::Sha256::digest(crate::audit::canonical_json(&value));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Why a journaled change yields to the inventory, if it does: the inventory
/// changed (or removed) the entity since the change was made.
pub(crate) fn superseded(
    snapshot: &Snapshot,
    change: &Change,
    made_against: &str,
) -> Option<String> {
    let now = basis(snapshot, change)?;
    if now == made_against {
        return None;
    }
    let (type_name, id) = overridden(change)?;
    Some(format!(
        "the inventory changed {} `{id}` after this change was made; the newest statement about an entity wins",
        type_name.to_lowercase()
    ))
}

/// Applies `changes` (each with its time) to `base`, in order, as one new
/// snapshot. Strict: the first change that does not apply is the error and
/// nothing is applied. Lenient (journal replay): such changes are skipped and
/// described in the returned list, with their index in `changes`.
pub(crate) fn apply(
    base: &Snapshot,
    changes: &[(i64, &Change)],
    strict: bool,
) -> Result<(Snapshot, Vec<(usize, String)>)> {
    let latest = changes.iter().map(|(t, _)| *t).max().unwrap_or(i64::MIN);
    // Every change applies (the usual case): one pass, nothing copied. Each
    // change is followed by the pruning its own snapshot had live (what
    // expired by its time), so the next one meets the state it met live.
    let mut work = Work::new(base);
    let mut failed = None;
    for (now, change) in changes {
        if let Err(e) = work.apply(change, *now) {
            failed = Some(e);
            break;
        }
        work.prune(*now);
    }
    match failed {
        None => return Ok((work.finish(latest)?, Vec::new())),
        Some(e) if strict => return Err(e),
        Some(_) => {}
    }
    // Replay with a change that no longer applies: each change on a copy,
    // kept only if it applies whole.
    let mut work = Work::new(base);
    let mut skipped = Vec::new();
    for (i, (now, change)) in changes.iter().enumerate() {
        let mut attempt = Work {
            base,
            edits: work.edits.clone(),
            runtime: work.runtime.clone(),
            owners: work.owners.clone(),
            agent_items: work.agent_items.clone(),
        };
        match attempt.apply(change, *now) {
            Ok(()) => {
                work = attempt;
                work.prune(*now);
            }
            Err(e) => skipped.push((i, format!("{} skipped: {e}", change.op()))),
        }
    }
    Ok((work.finish(latest)?, skipped))
}

struct Work<'a> {
    base: &'a Snapshot,
    /// New versions of entities, by uid.
    edits: HashMap<EntityUid, Entity>,
    runtime: Runtime,
    /// The agent → owner map of the decision log, when an owner changed.
    owners: Option<HashMap<String, String>>,
    /// The snapshot's credentials and tasks by agent, when a task was added.
    agent_items: Option<HashMap<EntityUid, Vec<EntityUid>>>,
}

impl<'a> Work<'a> {
    fn new(base: &'a Snapshot) -> Work<'a> {
        Work {
            base,
            edits: HashMap::new(),
            runtime: Runtime::clone(&base.runtime),
            owners: None,
            agent_items: None,
        }
    }

    fn entity(&self, uid: &EntityUid) -> Option<Entity> {
        self.edits
            .get(uid)
            .cloned()
            .or_else(|| self.base.store.get(uid).cloned())
    }

    fn require(&self, type_name: &str, id: &str, code: ErrorCode) -> Result<(EntityUid, Entity)> {
        let uid = base_uid(type_name, id)?;
        match self.entity(&uid) {
            Some(e) => Ok((uid, e)),
            None => Err(invalid(
                code,
                format!(
                    "{} `{id}` is not in the inventory",
                    type_name.to_lowercase()
                ),
            )),
        }
    }

    fn set_attrs(&mut self, entity: Entity, set: Vec<(&str, RestrictedExpression)>) -> Result<()> {
        let (uid, mut attrs, parents) = entity.into_inner();
        for (k, v) in set {
            attrs.insert(k.to_string(), v);
        }
        let updated = Entity::new(uid.clone(), attrs, parents)
            .map_err(|e| invalid(ErrorCode::Internal, e.to_string()))?;
        self.edits.insert(uid, updated);
        Ok(())
    }

    fn set_status(&mut self, entity: Entity, status: &str) -> Result<()> {
        self.set_attrs(
            entity,
            vec![("status", RestrictedExpression::new_string(status.into()))],
        )
    }

    /// Entities of `type_name` whose `agent` attribute is `agent`.
    fn owned_by(&self, type_name: &str, agent: &EntityUid) -> Vec<Entity> {
        let items = self.agent_items.as_ref().unwrap_or(&self.base.agent_items);
        let mut list: Vec<Entity> = items
            .get(agent)
            .into_iter()
            .flatten()
            .filter(|uid| uid.type_name().basename() == type_name)
            .filter_map(|uid| self.entity(uid))
            .collect();
        list.sort_by_key(|e| e.uid().to_string());
        list
    }

    /// Offboarding is final: no change may name an offboarded agent (or a
    /// credential of one) afterwards.
    fn refuse_offboarded(&self, change: &Change) -> Result<()> {
        let agent = match change {
            Change::RotateCredential { credential, .. } => {
                let uid = base_uid("Credential", credential)?;
                self.entity(&uid).and_then(|c| agent_of(&c))
            }
            other => match other.agent() {
                Some(agent) => Some(base_uid("Agent", agent)?),
                None => None,
            },
        };
        let Some(agent) = agent else {
            return Ok(());
        };
        match self.entity(&agent) {
            Some(e) if status_of(&e) == "offboarded" => Err(invalid(
                ErrorCode::LifecycleInvalid,
                format!(
                    "agent `{}` is offboarded; offboarding is final (no {} for it)",
                    agent.id().unescaped(),
                    change.op()
                ),
            )),
            _ => Ok(()),
        }
    }

    fn apply(&mut self, change: &Change, now: i64) -> Result<()> {
        let lc = ErrorCode::LifecycleInvalid;
        self.refuse_offboarded(change)?;
        match change {
            Change::Grant(g) => self.grant(g, now),
            Change::Revoke { grant } => {
                if self.runtime.grants.remove(grant).is_none() {
                    return Err(invalid(lc, format!("no grant `{grant}` is in force")));
                }
                self.runtime.index_grants();
                Ok(())
            }
            Change::Suspend { agent } => {
                let (_, e) = self.require("Agent", agent, lc)?;
                match status_of(&e).as_str() {
                    "offboarded" => Err(invalid(
                        lc,
                        format!("agent `{agent}` is offboarded; offboarding is final"),
                    )),
                    _ => {
                        self.runtime.suspended.insert(agent.clone());
                        self.set_status(e, "suspended")
                    }
                }
            }
            Change::Reactivate { agent } => {
                let (_, e) = self.require("Agent", agent, lc)?;
                match status_of(&e).as_str() {
                    "offboarded" => Err(invalid(
                        lc,
                        format!("agent `{agent}` is offboarded; offboarding is final"),
                    )),
                    _ => {
                        self.runtime.suspended.remove(agent);
                        self.set_status(e, "active")
                    }
                }
            }
            Change::Offboard { agent } => self.offboard(agent),
            Change::RotateCredential {
                credential,
                expires,
            } => {
                let (_, e) = self.require("Credential", credential, lc)?;
                let expires_ms = millis("expires", expires, lc)?;
                if expires_ms <= now {
                    return Err(invalid(
                        lc,
                        "a rotated credential must expire in the future",
                    ));
                }
                if matches!(e.attr("revoked"), Some(Ok(EvalResult::Bool(true)))) {
                    return Err(invalid(
                        lc,
                        format!("credential `{credential}` is revoked; issue a new one instead"),
                    ));
                }
                self.set_attrs(
                    e,
                    vec![("issued", datetime(now)), ("expires", datetime(expires_ms))],
                )
            }
            Change::TransferOwner { agent, owner } => {
                let (_, e) = self.require("Agent", agent, lc)?;
                let (owner_uid, _) = self.require("User", owner, lc)?;
                self.set_attrs(
                    e,
                    vec![("owner", RestrictedExpression::new_entity_uid(owner_uid))],
                )?;
                self.owners
                    .get_or_insert_with(|| self.base.audit.owners.clone())
                    .insert(agent.clone(), owner.clone());
                Ok(())
            }
            Change::AddTask(t) => self.add_task(t),
            Change::RevokeSession { session } => {
                if session.is_empty() {
                    return Err(invalid(lc, "a session id is empty"));
                }
                self.runtime.revoked_sessions.insert(session.clone());
                Ok(())
            }
            Change::Lockdown { reason } => {
                let reason = reason.trim();
                if reason.is_empty() || reason.len() > MAX_LOCKDOWN_REASON {
                    return Err(invalid(
                        lc,
                        format!("a lockdown needs a reason of 1 to {MAX_LOCKDOWN_REASON} bytes"),
                    ));
                }
                // Again while in force: a new reason, the same start.
                let since_ms = self.runtime.lockdown.as_ref().map_or(now, |l| l.since_ms);
                self.runtime.lockdown = Some(Arc::new(Lockdown {
                    reason: reason.to_string(),
                    since_ms,
                }));
                Ok(())
            }
            Change::LiftLockdown {} => match self.runtime.lockdown.take() {
                Some(_) => Ok(()),
                None => Err(invalid(lc, "no lockdown is in force")),
            },
            Change::Approve(a) => self.approve(a, now),
            Change::ConsumeApproval { approval } => {
                let code = ErrorCode::ApprovalInvalid;
                let Some(active) = self.runtime.approvals.get_mut(approval) else {
                    return Err(invalid(
                        code,
                        format!("no approval `{approval}` is in force"),
                    ));
                };
                if active.remaining == 0 || active.expires_ms <= now {
                    return Err(invalid(
                        code,
                        format!("approval `{approval}` is used up or expired"),
                    ));
                }
                active.remaining -= 1;
                if active.remaining == 0 {
                    self.runtime.approvals.remove(approval);
                }
                Ok(())
            }
        }
    }

    fn approve(&mut self, a: &crate::approval::Approval, now: i64) -> Result<()> {
        let code = ErrorCode::ApprovalInvalid;
        check_id("approval", &a.id, code)?;
        if self.runtime.approvals.contains_key(&a.id) {
            return Err(invalid(
                code,
                format!("approval id `{}` is already used", a.id),
            ));
        }
        let expires = millis("expires", &a.expires, code)?;
        if expires <= now {
            return Err(invalid(code, "an approval must expire in the future"));
        }
        if a.uses == 0 || a.uses > crate::approval::MAX_APPROVAL_USES {
            return Err(invalid(code, "an approval needs 1 to 1000 uses"));
        }
        if a.approved_by.trim().is_empty() || a.request_digest.is_empty() {
            return Err(invalid(
                code,
                "an approval needs `approved_by` and `request_digest`",
            ));
        }
        self.require("Agent", &a.agent, code)?;
        self.runtime.approvals.insert(
            a.id.clone(),
            super::approvals::ActiveApproval {
                approval: a.clone(),
                expires_ms: expires,
                remaining: a.uses,
                expiry_recorded: Arc::default(),
            },
        );
        Ok(())
    }

    fn grant(&mut self, g: &Grant, now: i64) -> Result<()> {
        let code = ErrorCode::GrantInvalid;
        check_id("grant", &g.id, code)?;
        if self.runtime.grants.contains_key(&g.id) {
            return Err(invalid(
                code,
                format!("grant id `{}` is already used", g.id),
            ));
        }
        let starts = millis("starts", &g.starts, code)?;
        let expires = millis("expires", &g.expires, code)?;
        if expires <= starts {
            return Err(invalid(code, "a grant must expire after it starts"));
        }
        if expires <= now {
            return Err(invalid(code, "a grant must expire in the future"));
        }
        for (field, text) in [("reason", &g.reason), ("granted_by", &g.granted_by)] {
            if text.trim().is_empty() {
                return Err(invalid(code, format!("a grant needs a `{field}`")));
            }
        }
        let (agent_uid, agent) = self.require("Agent", &g.agent, code)?;
        let status = status_of(&agent);
        if status != "active" {
            return Err(invalid(
                code,
                format!(
                    "agent `{}` is {status}; only an active agent can be granted access",
                    g.agent
                ),
            ));
        }
        if g.actions.is_empty() {
            return Err(invalid(code, "a grant needs at least one action"));
        }
        let mut actions = Vec::new();
        for a in &g.actions {
            let uid = self
                .base
                .actions
                .get(a)
                .ok_or_else(|| invalid(code, format!("action `{a}` is not in the schema")))?;
            actions.push(uid.to_string());
        }
        let resource = entity_uid(&g.resource).map_err(|e| invalid(code, e.to_string()))?;
        if self.entity(&resource).is_none() {
            return Err(invalid(
                code,
                format!("resource {resource} is not in the inventory"),
            ));
        }
        let mut condition = format!(
            "context.now >= datetime(\"{}\") && context.now < datetime(\"{}\")",
            format_millis(starts),
            format_millis(expires)
        );
        if let Some(task) = &g.task {
            let (task_uid, t) = self.require("Task", task, code)?;
            if agent_of(&t).as_ref() != Some(&agent_uid) {
                return Err(invalid(
                    code,
                    format!("task `{task}` does not belong to agent `{}`", g.agent),
                ));
            }
            condition.push_str(&format!(
                " && context has task && context.task == {task_uid}"
            ));
        }
        let id = g.policy_id();
        let text = format!(
            "@id(\"{id}\")\npermit(principal == {agent_uid}, action in [{}], resource in {resource})\nwhen {{ {condition} }};",
            actions.join(", ")
        );
        let policy = Policy::parse(Some(PolicyId::new(&id)), &text)
            .map_err(|e| invalid(code, format!("grant policy: {e}")))?;
        if let Some(schema) = &self.base.schema {
            let set = PolicySet::from_policies([policy.clone()])
                .map_err(|e| invalid(ErrorCode::Internal, e.to_string()))?;
            let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
            let first = result.validation_errors().next().map(|e| e.to_string());
            if let Some(err) = first {
                return Err(invalid(code, format!("grant does not validate: {err}")));
            }
        }
        self.runtime.grants.insert(
            g.id.clone(),
            ActiveGrant {
                grant: g.clone(),
                expires_ms: expires,
                policy,
            },
        );
        self.runtime.index_grants();
        Ok(())
    }

    fn offboard(&mut self, agent: &str) -> Result<()> {
        let lc = ErrorCode::LifecycleInvalid;
        let (uid, e) = self.require("Agent", agent, lc)?;
        self.set_status(e, "offboarded")?;
        self.runtime.suspended.remove(agent);
        self.runtime.grants.retain(|_, g| g.grant.agent != agent);
        self.runtime.index_grants();
        self.runtime
            .approvals
            .retain(|_, a| a.approval.agent != agent);
        for c in self.owned_by("Credential", &uid) {
            self.set_attrs(c, vec![("revoked", RestrictedExpression::new_bool(true))])?;
        }
        // Requests naming these tasks are denied (`baseline/task-revoked`).
        for t in self.owned_by("Task", &uid) {
            self.runtime
                .revoked_tasks
                .insert(t.uid().id().unescaped().to_string());
        }
        Ok(())
    }

    fn add_task(&mut self, t: &TaskSpec) -> Result<()> {
        let lc = ErrorCode::LifecycleInvalid;
        check_id("task", &t.id, lc)?;
        let uid = base_uid("Task", &t.id)?;
        if self.entity(&uid).is_some() {
            return Err(invalid(lc, format!("task `{}` already exists", t.id)));
        }
        let (agent_uid, _) = self.require("Agent", &t.agent, lc)?;
        let start = millis("not_before", &t.not_before, lc)?;
        let end = millis("not_after", &t.not_after, lc)?;
        if end <= start {
            return Err(invalid(lc, "a task must end after it starts"));
        }
        let mut attrs = HashMap::from([
            (
                "agent".to_string(),
                RestrictedExpression::new_entity_uid(agent_uid.clone()),
            ),
            ("not_before".to_string(), datetime(start)),
            ("not_after".to_string(), datetime(end)),
        ]);
        if let Some(p) = &t.purpose {
            attrs.insert(
                "purpose".into(),
                RestrictedExpression::new_string(p.clone()),
            );
        }
        if let Some(user) = &t.on_behalf_of {
            let (user_uid, _) = self.require("User", user, lc)?;
            attrs.insert(
                "on_behalf_of".into(),
                RestrictedExpression::new_entity_uid(user_uid),
            );
        }
        let entity = Entity::new(uid.clone(), attrs, HashSet::new())
            .map_err(|e| invalid(ErrorCode::Internal, e.to_string()))?;
        self.agent_items
            .get_or_insert_with(|| HashMap::clone(&self.base.agent_items))
            .entry(agent_uid)
            .or_default()
            .push(uid.clone());
        self.edits.insert(uid, entity);
        Ok(())
    }

    /// Drops what expired by `now`, as the snapshot made at `now` does.
    fn prune(&mut self, now: i64) {
        // Expired grants decide nothing any more; drop them from the state.
        let before = self.runtime.grants.len();
        self.runtime.grants.retain(|_, g| g.expires_ms > now);
        if self.runtime.grants.len() != before {
            self.runtime.index_grants();
        }
        // Expired approvals allow nothing; kept a day so a check meeting
        // one records its expiry.
        let keep_after = now.saturating_sub(86_400_000);
        self.runtime
            .approvals
            .retain(|_, a| a.expires_ms > keep_after && a.remaining > 0);
    }

    /// The new snapshot: changed entities checked against the schema and
    /// kept beside the compiled ones, everything else shared with the base.
    fn finish(mut self, prune_before: i64) -> Result<Snapshot> {
        self.prune(prune_before);
        let mut next = self.base.clone();
        // Grant conditions may name entities (a task): they are roots too.
        let grants_changed = self
            .runtime
            .grants
            .keys()
            .ne(self.base.runtime.grants.keys());
        if !self.edits.is_empty() || grants_changed {
            let edits: Vec<Entity> = self.edits.into_values().collect();
            if let Some(schema) = &self.base.schema {
                // The edits alone, validated as Cedar validates an entities file.
                Entities::from_entities(edits.iter().cloned(), Some(schema))
                    .map_err(|e| invalid(ErrorCode::LifecycleInvalid, e.to_string()))?;
            }
            let edited: Vec<EntityUid> = edits.iter().map(Entity::uid).collect();
            let grants: Vec<&Policy> = self.runtime.grants.values().map(|g| &g.policy).collect();
            next.store = self.base.store.with_changes(edits, &grants);
            if !edited.is_empty() {
                // Agents' per-snapshot guard verdicts follow their data. Changes
                // edit agents, credentials and tasks only; the guards read agents
                // and users.
                let mut guards = PrincipalGuards::clone(&self.base.guards);
                guards.refresh(edited.into_iter(), &next.store);
                next.guards = Arc::new(guards);
            }
        }
        if let Some(items) = self.agent_items {
            next.agent_items = Arc::new(items);
        }
        if let Some(owners) = self.owners {
            let mut audit = crate::audit::SnapshotAudit::clone(&self.base.audit);
            audit.owners = owners;
            next.audit = Arc::new(audit);
        }
        next.runtime = Arc::new(self.runtime);
        Ok(next)
    }
}

/// `snapshot` with its pending entity changes folded into a new compiled
/// store (Cedar's `Entities`): what keeps requests on the compiled store.
pub(crate) fn compacted(snapshot: &Snapshot) -> Result<super::store::EntityStore> {
    snapshot.store.compacted(&snapshot.with_descendants)
}

/// `current` with the compaction `folded` of `from`'s store, when `current`
/// still builds on `from`'s compiled entities.
pub(crate) fn rebase(
    current: &Snapshot,
    from: &Snapshot,
    folded: &super::store::EntityStore,
) -> Option<Snapshot> {
    let grants: Vec<&Policy> = current.runtime.grants.values().map(|g| &g.policy).collect();
    let store = current.store.rebased(&from.store, folded, &grants)?;
    let mut next = current.clone();
    next.store = store;
    Some(next)
}

fn datetime(millis: i64) -> RestrictedExpression {
    RestrictedExpression::new_datetime(format_millis(millis))
}
