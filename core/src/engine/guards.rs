//! Guardrails that read nothing but the principal's own data —
//! `baseline/owner-required` and `baseline/agent-active` — decided once per
//! agent when a snapshot is built instead of on every request.
//!
//! Their conditions name only `principal` (and its owner), so for a given
//! agent Cedar's answer is the same for every action, resource and context.
//! The index leaves them out; a request merges the agent's verdict into the
//! outcome of the other candidates exactly as Cedar would have. An agent
//! without a verdict (not in the inventory, or a guard that errored for it)
//! has the guards evaluated with the candidates instead.

use super::decide::{Compiled, Outcome};
use super::store::EntityStore;
use crate::model::Effect;
use cedar_policy::{Authorizer, Context, EntityUid, Policy, PolicySet, Request};
use std::collections::HashMap;
use std::sync::Arc;

/// The guards decided per agent.
const PRINCIPAL_ONLY: [&str; 2] = ["baseline/owner-required", "baseline/agent-active"];

#[derive(Debug, Default, Clone)]
pub(crate) struct PrincipalGuards {
    /// The enabled guards of `PRINCIPAL_ONLY`.
    policies: PolicySet,
    /// The same, as a check evaluates them beside the candidates.
    compiled: Arc<[Compiled]>,
    /// Per agent: the guards that forbid it, sorted.
    verdicts: HashMap<EntityUid, Arc<[String]>>,
}

/// Whether `uid` is of the base type `Agent` (empty namespace).
fn is_agent(uid: &EntityUid) -> bool {
    let t = uid.type_name();
    t.basename() == "Agent" && t.namespace_components().next().is_none()
}

impl PrincipalGuards {
    /// Takes the enabled guards out of `policies` (returned as the set the
    /// index files) and decides them for every agent in `entities`.
    pub fn compile(policies: &PolicySet, store: &EntityStore) -> (PrincipalGuards, PolicySet) {
        let (guards, rest): (Vec<Policy>, Vec<Policy>) = policies
            .policies()
            .cloned()
            .partition(|p| PRINCIPAL_ONLY.contains(&p.id().to_string().as_str()));
        let (Ok(guard_set), Ok(rest)) = (
            PolicySet::from_policies(guards),
            PolicySet::from_policies(rest),
        ) else {
            // Ids are unique in `policies`; if splitting failed, decide nothing ahead.
            return (PrincipalGuards::default(), policies.clone());
        };
        let mut g = PrincipalGuards {
            compiled: guard_set.policies().map(Compiled::new).collect(),
            policies: guard_set,
            verdicts: HashMap::new(),
        };
        g.refresh(store.base().iter().map(|e| e.uid()), store);
        (g, rest)
    }

    /// Decides the guards again for `agents` (after their data changed).
    pub fn refresh(&mut self, agents: impl Iterator<Item = EntityUid>, store: &EntityStore) {
        if self.policies.is_empty() {
            return;
        }
        for uid in agents.filter(is_agent) {
            match self.decide(&uid, store) {
                Some(v) => self.verdicts.insert(uid, v),
                None => self.verdicts.remove(&uid),
            };
        }
    }

    /// Cedar's answer for `agent`, when it has one without errors.
    fn decide(&self, agent: &EntityUid, store: &EntityStore) -> Option<Arc<[String]>> {
        store.get(agent)?;
        // The guards' scopes leave action and resource open and their
        // conditions do not read them: any will do.
        let request = Request::new(
            agent.clone(),
            agent.clone(),
            agent.clone(),
            Context::empty(),
            None,
        )
        .ok()?;
        let entities = store.for_request(&request).ok()?;
        let response = Authorizer::new().is_authorized(&request, &self.policies, &entities);
        let outcome = Outcome::from_response(&response);
        outcome.errors.is_empty().then(|| outcome.reasons.into())
    }

    /// The agent's verdict, or `None` when the guards must be evaluated with
    /// the other candidates (see [`PrincipalGuards::add_to`]).
    pub fn verdict(&self, principal: &EntityUid) -> Option<&[String]> {
        self.verdicts.get(principal).map(|v| &**v)
    }

    /// The guards to evaluate with the candidates of a principal without a
    /// verdict (none for a principal they cannot apply to).
    pub fn unsettled(&self, principal: &EntityUid) -> &[Compiled] {
        if is_agent(principal) {
            &self.compiled
        } else {
            &[]
        }
    }
}

/// The outcome Cedar gives with the guards `fired` (satisfied forbids, which
/// cannot error) added to the evaluated set: a satisfied forbid denies, and a
/// deny's reasons are every satisfied forbid.
pub(crate) fn merge(outcome: Outcome, fired: &[String]) -> Outcome {
    if fired.is_empty() {
        return outcome;
    }
    let mut reasons = match outcome.decision {
        Effect::Deny | Effect::NeedsApproval => outcome.reasons,
        Effect::Allow => Vec::new(),
    };
    reasons.extend(fired.iter().cloned());
    reasons.sort();
    reasons.dedup();
    Outcome {
        decision: Effect::Deny,
        reasons,
        errors: outcome.errors,
    }
}
