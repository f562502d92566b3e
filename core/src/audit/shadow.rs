//! The engine's hooks: log-only policies compiled into a shadow policy set,
//! the engine-wide mode, and turning a check into a record.

use super::record::{scrub, DecisionRecord, RecordDecision, RecordError, Redactor, SCHEMA_VERSION};
use super::sink::{DecisionLog, FileOptions};
use super::Mode;
use crate::bundle::{Config, LogConfig, LogSink};
use crate::engine::{format_millis, PolicyOrigin};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Decision, Effect, EntityRef, PolicyError, Request};
use cedar_policy::{AuthorizationError, Authorizer, Entities, EvalResult, PolicySet};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

/// The annotation that sets a policy's enforcement mode.
pub const MODE_ANNOTATION: &str = "mode";

/// What one policy set decided for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub decision: Effect,
    pub reasons: Vec<String>,
    pub errors: Vec<PolicyError>,
}

/// The decision-log and enforcement-mode part of a snapshot.
#[derive(Debug, Default)]
pub(crate) struct SnapshotAudit {
    pub mode: Mode,
    /// `@mode("log-only")` policies, evaluated beside the enforced set.
    pub shadow: Option<PolicySet>,
    pub redactor: Redactor,
    /// Agent id → owner id, from the inventory.
    pub owners: HashMap<String, String>,
    pub log: LogConfig,
}

impl SnapshotAudit {
    /// Moves the `@mode("log-only")` policies out of `policies` into the
    /// shadow set, and reads the `[engine]` and `[log]` settings.
    pub fn compile(
        config: &Config,
        policies: &mut PolicySet,
        origins: &BTreeMap<String, PolicyOrigin>,
        entities: &Entities,
    ) -> Result<SnapshotAudit> {
        let mut log_only = Vec::new();
        for p in policies.policies() {
            let Some(mode) = p.annotation(MODE_ANNOTATION) else {
                continue;
            };
            match Mode::parse(mode) {
                Some(Mode::LogOnly) => log_only.push(p.id().clone()),
                Some(Mode::Enforce) => {}
                None => {
                    let id = p.id().to_string();
                    let message = format!(
                        "policy `{id}`: @mode(\"{mode}\") is not a mode; use \"enforce\" or \"log-only\""
                    );
                    return Err(match origins.get(&id) {
                        Some(o) => Error::at(ErrorCode::PolicyInvalid, o.location.clone(), message),
                        None => Error::new(ErrorCode::PolicyInvalid, message),
                    });
                }
            }
        }
        let shadow = if log_only.is_empty() {
            None
        } else {
            let mut shadow = PolicySet::new();
            for id in log_only {
                let p = policies
                    .remove_static(id)
                    .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
                shadow
                    .add(p)
                    .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
            }
            Some(shadow)
        };
        let owners = entities
            .iter()
            .filter(|e| e.uid().type_name().to_string() == "Agent")
            .filter_map(|e| match e.attr("owner") {
                Some(Ok(EvalResult::EntityUid(owner))) => Some((
                    e.uid().id().unescaped().to_string(),
                    owner.id().unescaped().to_string(),
                )),
                _ => None,
            })
            .collect();
        Ok(SnapshotAudit {
            mode: config.engine.mode,
            shadow,
            redactor: Redactor::new(&config.log.redact)?,
            owners,
            log: config.log.clone(),
        })
    }

    /// Evaluates the log-only policies alone (`None` when there are none).
    pub fn evaluate_shadow(
        &self,
        request: &cedar_policy::Request,
        entities: &Entities,
    ) -> Option<Outcome> {
        let shadow = self.shadow.as_ref()?;
        let response = Authorizer::new().is_authorized(request, shadow, entities);
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
        let errors = response
            .diagnostics()
            .errors()
            .map(|e| match e {
                AuthorizationError::PolicyEvaluationError(e) => PolicyError {
                    policy: e.policy_id().to_string(),
                    message: e.inner().to_string(),
                },
            })
            .collect();
        Some(Outcome {
            decision,
            reasons,
            errors,
        })
    }

    /// The sink `[log]` configures, opened relative to the bundle directory.
    pub fn open_configured_sink(&self, bundle_dir: Option<&Path>) -> Result<Option<DecisionLog>> {
        match self.log.sink {
            LogSink::None => Ok(None),
            LogSink::Stdout => Ok(Some(DecisionLog::stdout())),
            LogSink::File => {
                let Some(path) = &self.log.path else {
                    return Err(Error::new(
                        ErrorCode::ConfigInvalid,
                        "agentauthz.toml: [log] sink = \"file\" needs a `path`",
                    ));
                };
                let path = Path::new(path);
                let path = match bundle_dir {
                    Some(dir) if path.is_relative() => dir.join(path),
                    _ => path.to_path_buf(),
                };
                let mut options = FileOptions::new(path);
                options.max_bytes = self.log.max_bytes;
                DecisionLog::file_with(options).map(Some)
            }
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
            Effect::Deny => forbids.extend(o.reasons.iter().cloned()),
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

/// Applies the engine mode to a check's result and records it.
///
/// `result` is the enforced decision plus, when the snapshot has log-only
/// policies and Cedar ran, their outcome. In `log-only` engine mode a deny
/// is returned as an allow with no reasons; the record keeps the real
/// decision in `would_decision`.
pub(crate) fn finish_check(
    audit: &SnapshotAudit,
    revision: &str,
    log: Option<&DecisionLog>,
    request: &Request,
    now_millis: i64,
    result: Result<(Decision, Option<Outcome>)>,
    next_id: impl FnOnce() -> String,
) -> Result<Decision> {
    let (mut decision, shadow) = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(log) = log {
                let mut record = base_record(audit, request, now_millis, next_id(), revision);
                record.decision = RecordDecision::Error;
                record.error = Some(RecordError {
                    code: e.code().as_str().to_string(),
                    message: e.to_string(),
                });
                log.emit(finish_record(audit, record));
            }
            return Err(e);
        }
    };
    let plain = audit.mode == Mode::Enforce && audit.shadow.is_none();
    if plain && log.is_none() {
        return Ok(decision);
    }
    let enforced = Outcome {
        decision: decision.decision,
        reasons: decision.reasons.clone(),
        errors: decision.errors.clone(),
    };
    let would = match &shadow {
        Some(s) => combine(&enforced, s),
        None => enforced.clone(),
    };
    if audit.mode == Mode::LogOnly && decision.decision == Effect::Deny {
        decision.decision = Effect::Allow;
        decision.reasons.clear();
    }
    if let Some(log) = log {
        let mut record = base_record(
            audit,
            request,
            now_millis,
            decision.decision_id.clone(),
            &decision.policy_revision,
        );
        record.decision = decision.decision.into();
        record.reasons = decision.reasons.clone();
        record.errors = decision.errors.clone();
        if !plain {
            record.would_decision = Some(would.decision);
            record.would_reasons = Some(would.reasons);
            record.would_errors = Some(would.errors);
        }
        log.emit(finish_record(audit, record));
    }
    Ok(decision)
}

/// Redacts the context and scrubs redacted values from messages.
fn finish_record(audit: &SnapshotAudit, mut record: DecisionRecord) -> DecisionRecord {
    if audit.redactor.is_empty() {
        return record;
    }
    let secrets = audit.redactor.apply(&mut record.context);
    if secrets.is_empty() {
        return record;
    }
    for e in record
        .errors
        .iter_mut()
        .chain(record.would_errors.iter_mut().flatten())
    {
        e.message = scrub(&e.message, &secrets);
    }
    if let Some(e) = &mut record.error {
        e.message = scrub(&e.message, &secrets);
    }
    record
}

fn base_record(
    audit: &SnapshotAudit,
    request: &Request,
    now_millis: i64,
    decision_id: String,
    revision: &str,
) -> DecisionRecord {
    let mut record = DecisionRecord {
        schema_version: SCHEMA_VERSION,
        seq: 0,
        timestamp: format_millis(now_millis),
        decision_id,
        policy_revision: revision.to_string(),
        agent: None,
        principal: EntityRef::new("", ""),
        owner: None,
        on_behalf_of: None,
        task: None,
        credential: None,
        action: String::new(),
        resource: EntityRef::new("", ""),
        decision: RecordDecision::Deny,
        reasons: Vec::new(),
        errors: Vec::new(),
        error: None,
        mode: audit.mode,
        would_decision: None,
        would_reasons: None,
        would_errors: None,
        context: serde_json::Map::new(),
        request_time: None,
        prev_hash: String::new(),
        hash: String::new(),
    };
    match request {
        Request::Agent(r) => {
            record.agent = Some(r.agent.clone());
            record.principal = EntityRef::new("Agent", r.agent.clone());
            record.on_behalf_of = r.on_behalf_of.clone();
            record.task = r.task.clone();
            record.credential = r.credential.clone();
            record.action = r.action.clone();
            record.resource = r.resource.clone();
            record.context = r.context.clone();
            record.request_time = r.now.clone();
        }
        Request::Cedar(r) => {
            if r.principal.type_name == "Agent" {
                record.agent = Some(r.principal.id.clone());
            }
            record.principal = r.principal.clone();
            record.action = format!("{}::{:?}", r.action.type_name, r.action.id);
            record.resource = r.resource.clone();
            record.context = r.context.clone();
        }
    }
    record.owner = record
        .agent
        .as_ref()
        .and_then(|a| audit.owners.get(a))
        .cloned();
    record
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
