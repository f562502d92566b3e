//! The decision algebra: Cedar's response as an outcome, the outcome had
//! log-only policies been enforced, and the engine mode applied to a
//! finished check. The engine decides here; `audit` only records.

use crate::bundle::Mode;
use crate::model::{Decision, Effect, PolicyError};
use cedar_policy::{AuthorizationError, Entities, Policy};
use cedar_policy_core::ast;
use cedar_policy_core::evaluator::Evaluator;
use cedar_policy_core::extensions::Extensions;
use std::collections::BTreeSet;

/// A policy as a check evaluates it: Cedar's condition (scope, `when`s and
/// negated `unless`es) built once, not on every evaluation, and its id as
/// Cedar prints it.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    id: String,
    forbid: bool,
    condition: ast::Expr,
    env: ast::SlotEnv,
}

impl Compiled {
    pub fn new(policy: &Policy) -> Compiled {
        let p: &ast::Policy = policy.as_ref();
        Compiled {
            id: p.id().to_string(),
            forbid: p.effect() == ast::Effect::Forbid,
            condition: p.condition(),
            env: p.env().clone(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn is_forbid(&self) -> bool {
        self.forbid
    }
}

/// Cedar's authorization of `request` by `policies`, with Cedar's own
/// evaluator: each policy's condition is evaluated as Cedar's authorizer
/// evaluates it, and the result follows its rule (a satisfied forbid denies,
/// with the satisfied forbids as reasons; else a satisfied permit allows,
/// with the satisfied permits; else deny with none; an erroring policy is
/// not satisfied and its error is reported). Without Cedar's
/// partial-evaluation response, which costs more than the evaluation itself
/// for a few candidates. The differential tests and the Cedar corpus check
/// it against `Authorizer::is_authorized`.
pub(crate) fn authorize<'a>(
    request: &cedar_policy::Request,
    policies: impl IntoIterator<Item = &'a Compiled>,
    entities: &Entities,
) -> Outcome {
    let q: &ast::Request = request.as_ref();
    let eval = Evaluator::new(q.clone(), entities.as_ref(), Extensions::all_available());
    let mut forbids = Vec::new();
    let mut permits = Vec::new();
    let mut errors = Vec::new();
    for p in policies {
        // A condition is an `&&` chain: its value is a boolean or an error.
        let satisfied = eval
            .interpret(&p.condition, &p.env)
            .map_err(|e| e.to_string())
            .and_then(|v| match v.value_kind() {
                ast::ValueKind::Lit(ast::Literal::Bool(b)) => Ok(*b),
                _ => Err(format!("the condition is not a boolean: {v}")),
            });
        match satisfied {
            Ok(true) if p.forbid => forbids.push(p.id.clone()),
            Ok(true) => permits.push(p.id.clone()),
            Ok(false) => {}
            Err(message) => errors.push(PolicyError {
                policy: p.id.clone(),
                message,
            }),
        }
    }
    let (decision, mut reasons) = if !forbids.is_empty() {
        (Effect::Deny, forbids)
    } else if !permits.is_empty() {
        (Effect::Allow, permits)
    } else {
        (Effect::Deny, Vec::new())
    };
    reasons.sort();
    reasons.dedup();
    errors.sort_by(|a, b| a.policy.cmp(&b.policy));
    Outcome {
        decision,
        reasons,
        errors,
    }
}

/// What one policy set decided for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub decision: Effect,
    pub reasons: Vec<String>,
    pub errors: Vec<PolicyError>,
}

impl Outcome {
    /// Cedar's response as a decision: reasons sorted, errors sorted by policy.
    pub fn from_response(response: &cedar_policy::Response) -> Outcome {
        let decision = match response.decision() {
            cedar_policy::Decision::Allow => Effect::Allow,
            cedar_policy::Decision::Deny => Effect::Deny,
        };
        let mut reasons: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        reasons.sort();
        let mut errors: Vec<PolicyError> = response
            .diagnostics()
            .errors()
            .map(|e| match e {
                AuthorizationError::PolicyEvaluationError(e) => PolicyError {
                    policy: e.policy_id().to_string(),
                    message: e.inner().to_string(),
                },
            })
            .collect();
        errors.sort_by(|a, b| a.policy.cmp(&b.policy));
        Outcome {
            decision,
            reasons,
            errors,
        }
    }
}

impl Outcome {
    /// The view the decision record takes of it.
    pub fn as_would(&self) -> crate::audit::WouldBe<'_> {
        crate::audit::WouldBe {
            decision: self.decision,
            reasons: &self.reasons,
            errors: &self.errors,
        }
    }
}

/// The decision had the enforced and the log-only policies all been enforced.
/// Cedar's rule on the union: any satisfied forbid denies (its reasons: the
/// satisfied forbids); otherwise any satisfied permit allows (the permits);
/// otherwise deny with no reasons. Each side's reasons tell which kind they
/// are: a deny with reasons lists forbids, an allow lists permits.
pub(crate) fn combine(enforced: &Outcome, shadow: &Outcome) -> Outcome {
    let mut forbids = BTreeSet::new();
    let mut permits = BTreeSet::new();
    for o in [enforced, shadow] {
        match o.decision {
            Effect::Deny | Effect::NeedsApproval => forbids.extend(o.reasons.iter().cloned()),
            Effect::Allow => permits.extend(o.reasons.iter().cloned()),
        }
    }
    let mut errors: Vec<PolicyError> = enforced
        .errors
        .iter()
        .chain(shadow.errors.iter())
        .cloned()
        .collect();
    errors.sort_by(|a, b| a.policy.cmp(&b.policy));
    let (decision, reasons) = if !forbids.is_empty() {
        (Effect::Deny, forbids)
    } else if !permits.is_empty() {
        (Effect::Allow, permits)
    } else {
        (Effect::Deny, BTreeSet::new())
    };
    Outcome {
        decision,
        reasons: reasons.into_iter().collect(),
        errors,
    }
}

/// Applies the engine mode to a check's result.
///
/// `decision` is the enforced decision and `log_only` the log-only policies'
/// outcome (when the snapshot has some and Cedar ran). In `log-only` engine
/// mode a deny is returned as an allow with no reasons. Unless the check is
/// a plain enforce-mode one, also returns the decision had every policy been
/// enforced (the record's `would_decision`).
pub(crate) fn finish(
    mode: Mode,
    has_log_only_policies: bool,
    mut decision: Decision,
    log_only: Option<Outcome>,
) -> (Decision, Option<Outcome>) {
    let plain = mode == Mode::Enforce && !has_log_only_policies;
    if plain {
        return (decision, None);
    }
    let enforced = Outcome {
        decision: decision.decision,
        reasons: decision.reasons.clone(),
        errors: decision.errors.clone(),
    };
    let would = match &log_only {
        Some(s) => combine(&enforced, s),
        None => enforced,
    };
    if mode == Mode::LogOnly && decision.decision != Effect::Allow {
        decision.decision = Effect::Allow;
        decision.reasons.clear();
        decision.requires_approval = false;
        decision.approvers.clear();
        decision.request_digest = None;
    }
    (decision, Some(would))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(decision: Effect, reasons: &[&str]) -> Outcome {
        Outcome {
            decision,
            reasons: reasons.iter().map(|s| s.to_string()).collect(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn combine_follows_cedar_on_the_union() {
        use Effect::{Allow, Deny};
        // A log-only forbid would flip an allow.
        assert_eq!(
            combine(&o(Allow, &["p"]), &o(Deny, &["f"])),
            o(Deny, &["f"])
        );
        // A log-only permit would flip a default deny.
        assert_eq!(
            combine(&o(Deny, &[]), &o(Allow, &["p2"])),
            o(Allow, &["p2"])
        );
        // Permits on both sides: all of them.
        assert_eq!(
            combine(&o(Allow, &["b"]), &o(Allow, &["a"])),
            o(Allow, &["a", "b"])
        );
        // An enforced forbid stays; a log-only permit does not override it.
        assert_eq!(
            combine(&o(Deny, &["f"]), &o(Allow, &["p"])),
            o(Deny, &["f"])
        );
        // Forbids on both sides: all of them.
        assert_eq!(
            combine(&o(Deny, &["f2"]), &o(Deny, &["f1"])),
            o(Deny, &["f1", "f2"])
        );
        // Nothing applies anywhere.
        assert_eq!(combine(&o(Deny, &[]), &o(Deny, &[])), o(Deny, &[]));
    }
}
