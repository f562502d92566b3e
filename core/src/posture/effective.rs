//! Effective permissions, computed with Cedar's own evaluator.
//!
//! The `partial-eval` feature of `cedar-policy` (which would give residuals)
//! is experimental and not enabled, so the method is enumeration:
//! for every agent, every schema action that applies to `Agent`, and every
//! resource of the action's resource types that the inventory declares (plus
//! one stand-in for "a resource of that type the inventory does not know"),
//! 1. the *scope* of every policy (its conditions removed) is evaluated by
//!    Cedar's `Authorizer` against the real entity store: this gives the
//!    policies that can apply to that (agent, action, resource);
//! 2. a policy whose conditions never read `context` is then evaluated in
//!    full (entity attributes and hierarchy decide it exactly);
//! 3. a policy whose conditions read `context` cannot be decided offline:
//!    a permit of that kind makes the permission `conditional`, a forbid of
//!    that kind is listed in `restricted_by`.
//!
//! A permission is `allowed` when a permit holds without context and no
//! context-free forbid holds; `conditional` when only context-dependent
//! permits can grant it. Over-approximation is on the safe side: a
//! `conditional` permission may, in practice, never be granted. The
//! context-dependent baseline guardrails (task window, credentials) only
//! apply when a request names a task or credential and are not listed.

use super::view::InventoryView;
use crate::engine::Engine;
use crate::error::{Error, ErrorCode, Result};
use cedar_policy::{
    Authorizer, Context, Decision, Effect, Entities, EntityId, EntityTypeName, EntityUid, Policy,
    PolicyId, PolicySet, Request, Schema,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// The id used for "a resource of this type the inventory does not declare".
pub(crate) const ANY_RESOURCE: &str = "*";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionStatus {
    /// Granted whatever the request context: a permit holds on entity data alone.
    Allowed,
    /// Granted only for some request contexts (time, task, IP, input, ...).
    Conditional,
}

impl PermissionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionStatus::Allowed => "allowed",
            PermissionStatus::Conditional => "conditional",
        }
    }
}

/// One (action, resource) an agent's policies can permit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Permission {
    /// The action id as written in agent-form requests (`github:push`).
    pub action: String,
    pub resource_type: String,
    /// The resource id, or `*`: any resource of this type the inventory does not declare.
    pub resource: String,
    pub status: PermissionStatus,
    /// Permit policies that can grant it.
    pub policies: Vec<String>,
    /// Forbid policies that may deny it, depending on the request context.
    pub restricted_by: Vec<String>,
}

/// Whether a policy's conditions read `context` anywhere.
fn reads_context(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.get("Var").and_then(Value::as_str) == Some("context") || m.values().any(reads_context)
        }
        Value::Array(a) => a.iter().any(reads_context),
        _ => false,
    }
}

fn agent_uid(agent: &str) -> Result<EntityUid> {
    Ok(EntityUid::from_type_name_and_id(
        EntityTypeName::from_str("Agent").map_err(internal)?,
        EntityId::new(agent),
    ))
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::Internal, format!("effective permissions: {e}"))
}

/// The policy sets the enumeration evaluates.
#[derive(Debug)]
pub(crate) struct Analyzer {
    schema: Schema,
    entities: Entities,
    scope_permits: PolicySet,
    scope_forbids: PolicySet,
    /// Full permits / forbids whose conditions do not read context.
    exact_permits: PolicySet,
    exact_forbids: PolicySet,
    /// Ids of policies whose conditions read context.
    contextual: BTreeSet<String>,
    /// Ids of policies with no condition at all.
    pub unconditional: BTreeSet<String>,
    /// (action uid, action id, resource types) for actions that apply to agents.
    actions: Vec<(EntityUid, String, Vec<EntityTypeName>)>,
    /// Declared resources per type.
    resources: BTreeMap<String, Vec<EntityUid>>,
}

impl Analyzer {
    pub fn new(engine: &Engine) -> Result<Analyzer> {
        let schema = engine
            .schema()
            .ok_or_else(|| Error::new(ErrorCode::BundleInvalid, "posture needs a schema"))?;
        let entities = engine.entities();
        let mut a = Analyzer {
            schema,
            entities,
            scope_permits: PolicySet::new(),
            scope_forbids: PolicySet::new(),
            exact_permits: PolicySet::new(),
            exact_forbids: PolicySet::new(),
            contextual: BTreeSet::new(),
            unconditional: BTreeSet::new(),
            actions: Vec::new(),
            resources: BTreeMap::new(),
        };
        for p in engine.policy_set().policies() {
            let id = p.id().to_string();
            let mut est = p.to_json().map_err(internal)?;
            let conditions = est.get("conditions").cloned().unwrap_or(Value::Null);
            if conditions.as_array().is_none_or(Vec::is_empty) {
                a.unconditional.insert(id.clone());
            }
            if reads_context(&conditions) {
                a.contextual.insert(id.clone());
            }
            if let Some(obj) = est.as_object_mut() {
                obj.insert("conditions".into(), Value::Array(Vec::new()));
            }
            let scope = Policy::from_json(Some(PolicyId::new(&id)), est).map_err(internal)?;
            let exact = !a.contextual.contains(&id);
            match p.effect() {
                Effect::Permit => {
                    a.scope_permits.add(scope).map_err(internal)?;
                    if exact {
                        a.exact_permits.add(p.clone()).map_err(internal)?;
                    }
                }
                Effect::Forbid => {
                    a.scope_forbids.add(scope).map_err(internal)?;
                    if exact {
                        a.exact_forbids.add(p.clone()).map_err(internal)?;
                    }
                }
            }
        }
        let agent_type = EntityTypeName::from_str("Agent").map_err(internal)?;
        for uid in a.schema.actions() {
            let applies = a
                .schema
                .principals_for_action(uid)
                .is_some_and(|mut ps| ps.any(|t| *t == agent_type));
            if !applies {
                continue;
            }
            let types: Vec<EntityTypeName> = a
                .schema
                .resources_for_action(uid)
                .map(|rs| rs.cloned().collect())
                .unwrap_or_default();
            a.actions
                .push((uid.clone(), uid.id().unescaped().to_string(), types));
        }
        a.actions.sort_by(|x, y| x.1.cmp(&y.1));
        for e in a.entities.iter() {
            a.resources
                .entry(e.uid().type_name().to_string())
                .or_default()
                .push(e.uid());
        }
        for v in a.resources.values_mut() {
            v.sort_by_key(|u| u.to_string());
        }
        Ok(a)
    }

    /// The ids of the actions that apply to agents, in order.
    pub fn action_ids(&self) -> Vec<String> {
        self.actions.iter().map(|a| a.1.clone()).collect()
    }

    /// Whether the inventory declares this resource.
    pub fn is_declared(&self, type_name: &str, id: &str) -> bool {
        self.resources
            .get(type_name)
            .is_some_and(|v| v.iter().any(|u| u.id().unescaped() == id))
    }

    /// The schema uid of an action id.
    pub fn action_uid(&self, id: &str) -> Option<EntityUid> {
        self.actions.iter().find(|a| a.1 == id).map(|a| a.0.clone())
    }

    fn satisfied(&self, set: &PolicySet, request: &Request) -> BTreeSet<String> {
        if set.is_empty() {
            return BTreeSet::new();
        }
        let r = Authorizer::new().is_authorized(request, set, &self.entities);
        if r.decision() == Decision::Deny && set.policies().all(|p| p.effect() == Effect::Permit) {
            // No permit satisfied.
            return BTreeSet::new();
        }
        r.diagnostics().reason().map(|p| p.to_string()).collect()
    }

    /// Every (action, resource) the agent's policies can permit.
    pub fn permissions(&self, agent: &str) -> Result<Vec<Permission>> {
        let principal = agent_uid(agent)?;
        let mut out = Vec::new();
        for (action, action_id, types) in &self.actions {
            for ty in types {
                let mut candidates: Vec<EntityUid> = self
                    .resources
                    .get(&ty.to_string())
                    .cloned()
                    .unwrap_or_default();
                candidates.push(EntityUid::from_type_name_and_id(
                    ty.clone(),
                    EntityId::new(ANY_RESOURCE),
                ));
                for resource in candidates {
                    out.extend(self.permission(&principal, action, action_id, ty, resource)?);
                }
            }
        }
        Ok(out)
    }

    /// Whether the agent's policies can permit `action_id` on the one
    /// resource `resource_type::resource_id` (declared or not): `None` when no
    /// permit's scope can apply or a context-free forbid always denies.
    pub fn permission_on(
        &self,
        agent: &str,
        action_id: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<Option<Permission>> {
        let Some((action, _, types)) = self.actions.iter().find(|a| a.1 == action_id) else {
            return Ok(None);
        };
        let Some(ty) = types.iter().find(|t| t.to_string() == resource_type) else {
            return Ok(None);
        };
        let resource = EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(resource_id));
        self.permission(&agent_uid(agent)?, action, action_id, ty, resource)
    }

    fn permission(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        action_id: &str,
        ty: &EntityTypeName,
        resource: EntityUid,
    ) -> Result<Option<Permission>> {
        let request = Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            Context::empty(),
            None,
        )
        .map_err(internal)?;
        let permits = self.satisfied(&self.scope_permits, &request);
        if permits.is_empty() {
            return Ok(None);
        }
        let forbids = self.satisfied(&self.scope_forbids, &request);
        let exact_forbid = forbids.iter().any(|f| !self.contextual.contains(f))
            && !self.satisfied(&self.exact_forbids, &request).is_empty();
        if exact_forbid {
            return Ok(None);
        }
        let exact_permits = if permits.iter().any(|p| !self.contextual.contains(p)) {
            self.satisfied(&self.exact_permits, &request)
        } else {
            BTreeSet::new()
        };
        let conditional: BTreeSet<String> = permits
            .iter()
            .filter(|p| self.contextual.contains(*p))
            .cloned()
            .collect();
        let status = if !exact_permits.is_empty() {
            PermissionStatus::Allowed
        } else if !conditional.is_empty() {
            PermissionStatus::Conditional
        } else {
            return Ok(None);
        };
        let policies = exact_permits.union(&conditional).cloned().collect();
        let restricted_by = forbids
            .iter()
            .filter(|f| self.contextual.contains(*f) && !f.starts_with("baseline/"))
            .cloned()
            .collect();
        Ok(Some(Permission {
            action: action_id.to_string(),
            resource_type: ty.to_string(),
            resource: resource.id().unescaped().to_string(),
            status,
            policies,
            restricted_by,
        }))
    }

    /// Permissions of every agent in the inventory.
    pub fn all(&self, inv: &InventoryView) -> Result<BTreeMap<String, Vec<Permission>>> {
        inv.agents
            .keys()
            .map(|a| Ok((a.clone(), self.permissions(a)?)))
            .collect()
    }
}
