//! Turning what the engine finished (a decision, a change, an event) into a
//! record and handing it to the sink. The engine decides; this only records.

use super::record::{scrub, RecordDecision, RecordError, RecordView, Redactor, SCHEMA_VERSION};
use super::sink::{DecisionLog, FileOptions};
use super::spool::SpoolOptions;
use super::syslog::{Syslog, SyslogOptions};
use crate::bundle::{Config, ExportConfig, LogConfig, LogSink, Mode};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Decision, Effect, EntityRef, PolicyError, Request};
use crate::time::format_millis;
use cedar_policy::{Entities, EvalResult};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// The decision-log part of a snapshot.
#[derive(Debug, Default, Clone)]
pub(crate) struct SnapshotAudit {
    /// The engine's mode, as records state it.
    pub mode: Mode,
    pub redactor: Redactor,
    /// Agent id → owner id, from the inventory.
    pub owners: HashMap<String, String>,
    pub log: LogConfig,
}

impl SnapshotAudit {
    /// Reads the `[engine]` and `[log]` settings and the agents' owners.
    pub fn compile(config: &Config, entities: &Entities) -> Result<SnapshotAudit> {
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
            redactor: Redactor::new(&config.log.redact)?,
            owners,
            log: config.log.clone(),
        })
    }

    /// The sink `[log]` configures, opened relative to the bundle directory.
    pub fn open_configured_sink(
        &self,
        bundle_dir: Option<&Path>,
        keys: &crate::integrity::IntegrityKeys,
        recover: bool,
        checkpoint_every: Option<u64>,
    ) -> Result<Option<DecisionLog>> {
        let resolve = |path: &str| {
            let path = Path::new(path);
            match bundle_dir {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path.to_path_buf(),
            }
        };
        #[cfg(target_arch = "wasm32")]
        if self.log.otlp.is_some() || self.log.syslog.is_some() {
            // No sockets and no threads here: refuse rather than log nothing.
            return Err(Error::new(
                ErrorCode::ConfigInvalid,
                "agentauthz.toml: [log.otlp] and [log.syslog] are not available in WebAssembly; use a callback sink",
            ));
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(otlp) = &self.log.otlp {
            let export = otlp.export();
            let mut options = super::otlp::OtlpOptions::new(otlp.endpoint.clone());
            options.ocsf_body = otlp.body.as_deref() == Some("ocsf");
            options.headers = otlp
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (name, var) in &otlp.headers_from_env {
                let value = std::env::var(var).map_err(|_| {
                    Error::new(
                        ErrorCode::ConfigInvalid,
                        format!(
                            "[log.otlp] header {name}: the environment variable {var} is not set"
                        ),
                    )
                })?;
                options.headers.push((name.clone(), value));
            }
            if let Some(ms) = export.timeout_ms {
                options.timeout = std::time::Duration::from_millis(ms);
            }
            let transport = super::otlp::Otlp::new(options)?;
            let spool = spool_options(resolve(&otlp.spool), &export, keys);
            return DecisionLog::export(spool, Box::new(transport)).map(Some);
        }
        if let Some(syslog) = &self.log.syslog {
            let export = syslog.export();
            let mut options = SyslogOptions::new(syslog.address.clone());
            if let Some(app) = &syslog.app_name {
                options.app_name = app.clone();
            }
            if let Some(f) = syslog.facility {
                options.facility = f;
            }
            if let Some(ms) = export.timeout_ms {
                options.timeout = std::time::Duration::from_millis(ms);
            }
            let spool = spool_options(resolve(&syslog.spool), &export, keys);
            return DecisionLog::export(spool, Box::new(Syslog::new(options))).map(Some);
        }
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
                let mut options = FileOptions::new(path).keys(keys.clone()).recover(recover);
                options.max_bytes = self.log.max_bytes;
                if let Some(n) = checkpoint_every {
                    options.checkpoint_every = n;
                }
                DecisionLog::file_with(options).map(Some)
            }
        }
    }
}

/// The spool settings of an exporting sink from `[log.*]`.
fn spool_options(
    dir: std::path::PathBuf,
    export: &ExportConfig,
    keys: &crate::integrity::IntegrityKeys,
) -> SpoolOptions {
    let mut o = SpoolOptions::new(dir);
    if let Some(n) = export.max_spool_bytes {
        o.max_bytes = n;
    }
    if let Some(d) = export.durable {
        o.durable = d;
    }
    o.overflow = export.overflow;
    if let Some(ms) = export.block_ms {
        o.block = std::time::Duration::from_millis(ms);
    }
    if let Some(n) = export.batch {
        o.batch = n;
    }
    o.keys = keys.clone();
    o
}

/// Records a check that failed with an error: decision `error`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_check_error(
    audit: &SnapshotAudit,
    log: &DecisionLog,
    revision: &str,
    request: &Request,
    now_millis: i64,
    decision_id: &str,
    error: &Error,
) {
    let checked = Checked {
        decision_id,
        revision,
        decision: RecordDecision::Error,
        reasons: &[],
        errors: &[],
        error: Some(RecordError {
            code: error.code().as_str().to_string(),
            message: error.to_string(),
        }),
        would: None,
    };
    write_record(audit, log, request, now_millis, checked);
}

/// Records a finished decision and, when the engine computed it (log-only
/// mode or log-only policies), the decision it would have made.
pub(crate) fn record_check(
    audit: &SnapshotAudit,
    log: &DecisionLog,
    request: &Request,
    now_millis: i64,
    decision: &Decision,
    would: Option<WouldBe<'_>>,
) {
    let checked = Checked {
        decision_id: &decision.decision_id,
        revision: &decision.policy_revision,
        decision: decision.decision.into(),
        reasons: &decision.reasons,
        errors: &decision.errors,
        error: None,
        would,
    };
    write_record(audit, log, request, now_millis, checked);
}

/// What the engine would have decided had every policy been enforced.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WouldBe<'a> {
    pub decision: Effect,
    pub reasons: &'a [String],
    pub errors: &'a [PolicyError],
}

/// What the engine answered, for the record.
struct Checked<'a> {
    decision_id: &'a str,
    revision: &'a str,
    decision: RecordDecision,
    reasons: &'a [String],
    errors: &'a [PolicyError],
    error: Option<RecordError>,
    would: Option<WouldBe<'a>>,
}

/// Builds the record (borrowing the request), redacts it, and hands it to the sink.
fn write_record(
    audit: &SnapshotAudit,
    log: &DecisionLog,
    request: &Request,
    now_millis: i64,
    checked: Checked<'_>,
) {
    let timestamp = format_millis(now_millis);
    let cedar_action;
    let agent_principal;
    let (agent, principal, action, resource, context, on_behalf_of, task, credential, request_time) =
        match request {
            Request::Agent(r) => {
                agent_principal = EntityRef::new("Agent", r.agent.as_str());
                (
                    Some(r.agent.as_str()),
                    &agent_principal,
                    r.action.as_str(),
                    &r.resource,
                    &r.context,
                    r.on_behalf_of.as_deref(),
                    r.task.as_deref(),
                    r.credential.as_deref(),
                    r.now.as_deref(),
                )
            }
            Request::Cedar(r) => {
                cedar_action = format!("{}::{:?}", r.action.type_name, r.action.id);
                (
                    (r.principal.type_name == "Agent").then_some(r.principal.id.as_str()),
                    &r.principal,
                    cedar_action.as_str(),
                    &r.resource,
                    &r.context,
                    None,
                    None,
                    None,
                    None,
                )
            }
        };
    // Redaction: copy the context only when a configured path can apply, and
    // scrub the removed values from every message in the record.
    let (context, secrets) = audit.redactor.redacted(context);
    let context = &*context;
    let scrub_all = |errors: &[PolicyError]| -> Vec<PolicyError> {
        errors
            .iter()
            .map(|e| PolicyError {
                policy: e.policy.clone(),
                message: scrub(&e.message, &secrets),
            })
            .collect()
    };
    let (errors, would_errors, error);
    let (errors, would_errors, error) = if secrets.is_empty() {
        (
            checked.errors,
            checked.would.map(|w| w.errors),
            checked.error.as_ref(),
        )
    } else {
        errors = scrub_all(checked.errors);
        would_errors = checked.would.map(|w| scrub_all(w.errors));
        error = checked.error.as_ref().map(|e| RecordError {
            code: e.code.clone(),
            message: scrub(&e.message, &secrets),
        });
        (errors.as_slice(), would_errors.as_deref(), error.as_ref())
    };
    let view = RecordView {
        schema_version: SCHEMA_VERSION,
        timestamp: &timestamp,
        decision_id: checked.decision_id,
        policy_revision: checked.revision,
        agent,
        principal,
        owner: agent.and_then(|a| audit.owners.get(a)).map(String::as_str),
        on_behalf_of,
        task,
        credential,
        action,
        resource,
        decision: checked.decision,
        reasons: checked.reasons,
        errors,
        error,
        fail_closed: match checked.would {
            Some(w) => failed_closed(w.reasons, w.errors),
            None => failed_closed(checked.reasons, checked.errors),
        },
        mode: audit.mode,
        would_decision: checked.would.map(|w| w.decision),
        would_reasons: checked.would.map(|w| w.reasons),
        would_errors,
        context,
        request_time,
    };
    log.emit(&view);
}

/// Records something the engine did to its own state (not a check, not a
/// change): a torn line cut off by recover, a journaled change skipped on
/// replay. `action` is `agentauthz:<what>`; `decision` tells whether the
/// thing took effect (`allow`) or was refused (`deny`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_event(
    audit: &SnapshotAudit,
    log: &DecisionLog,
    revision: &str,
    now_millis: i64,
    decision_id: &str,
    action: &str,
    resource: &EntityRef,
    decision: RecordDecision,
    reason: &str,
    context: Map<String, Value>,
) {
    let timestamp = format_millis(now_millis);
    let principal = EntityRef::new("Engine", "agentauthz");
    let reasons = [reason.to_string()];
    let view = RecordView {
        schema_version: SCHEMA_VERSION,
        timestamp: &timestamp,
        decision_id,
        policy_revision: revision,
        agent: None,
        principal: &principal,
        owner: None,
        on_behalf_of: None,
        task: None,
        credential: None,
        action,
        resource,
        decision,
        reasons: &reasons,
        errors: &[],
        error: None,
        mode: audit.mode,
        would_decision: None,
        would_reasons: None,
        would_errors: None,
        context: &context,
        request_time: None,
        fail_closed: false,
    };
    log.emit(&view);
}

/// Records a run-time change (grant, lifecycle operation) in the decision
/// log, in the chain with the decisions: the actor as principal (a `User`),
/// action `agentauthz:<op>`, the changed entity as resource, reason
/// `lifecycle/<op>`, and the change's members as context. `replayed`: the
/// record is written on load, because the process that made the journaled
/// change stopped before recording it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_change(
    audit: &SnapshotAudit,
    log: &DecisionLog,
    revision: &str,
    now_millis: i64,
    decision_id: &str,
    entry: &crate::journal::JournalEntry,
    replayed: bool,
) {
    let timestamp = format_millis(now_millis);
    let change = &entry.change;
    let principal = EntityRef::new("User", entry.by.as_str());
    let action = format!("agentauthz:{}", change.op());
    let resource = change.subject();
    let reasons = [format!("lifecycle/{}", change.op())];
    let mut context = match serde_json::to_value(change) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    context.remove("op");
    context.insert("journal_seq".into(), Value::from(entry.seq));
    if replayed {
        context.insert("recorded_on_replay".into(), Value::Bool(true));
    }
    let agent = change.agent();
    let view = RecordView {
        schema_version: SCHEMA_VERSION,
        timestamp: &timestamp,
        decision_id,
        policy_revision: revision,
        agent,
        principal: &principal,
        owner: agent.and_then(|a| audit.owners.get(a)).map(String::as_str),
        on_behalf_of: None,
        task: None,
        credential: None,
        action: &action,
        resource: &resource,
        decision: RecordDecision::Allow,
        reasons: &reasons,
        errors: &[],
        error: None,
        fail_closed: false,
        mode: audit.mode,
        would_decision: None,
        would_reasons: None,
        would_errors: None,
        context: &context,
        request_time: None,
    };
    log.emit(&view);
}

/// What a refused identity (a session or IdP token that did not verify)
/// leaves in the record: never the token, nor the agent it claims.
struct Refused<'a> {
    principal: EntityRef,
    on_behalf_of: Option<&'a str>,
    task: Option<&'a str>,
    credential: Option<&'a str>,
    action: &'a str,
    resource: &'a EntityRef,
    context: &'a serde_json::Map<String, serde_json::Value>,
    request_time: Option<&'a str>,
}

/// Records a check refused because its identity did not verify: decision
/// `error` with the identity's error, the principal `<Type>::"unverified"`.
fn record_refused(
    audit: &SnapshotAudit,
    log: &DecisionLog,
    revision: &str,
    now_millis: i64,
    decision_id: &str,
    refused: Refused<'_>,
    error: &Error,
) {
    let timestamp = format_millis(now_millis);
    let (context, secrets) = audit.redactor.redacted(refused.context);
    let error = RecordError {
        code: error.code().as_str().to_string(),
        message: scrub(&error.to_string(), &secrets),
    };
    let view = RecordView {
        schema_version: SCHEMA_VERSION,
        timestamp: &timestamp,
        decision_id,
        policy_revision: revision,
        agent: None,
        principal: &refused.principal,
        owner: None,
        on_behalf_of: refused.on_behalf_of,
        task: refused.task,
        credential: refused.credential,
        action: refused.action,
        resource: refused.resource,
        decision: RecordDecision::Error,
        reasons: &[],
        errors: &[],
        error: Some(&error),
        fail_closed: false,
        mode: audit.mode,
        would_decision: None,
        would_reasons: None,
        would_errors: None,
        context: &context,
        request_time: refused.request_time,
    };
    log.emit(&view);
}

/// Records a check refused because its session token did not verify (or was
/// revoked):
/// principal `Session::"unverified"`. The token is never written, nor the
/// agent it claims: an unverified identity must not reach a SIEM as one.
pub(crate) fn record_refused_session(
    audit: &SnapshotAudit,
    log: &DecisionLog,
    revision: &str,
    now_millis: i64,
    decision_id: &str,
    request: &crate::model::SessionRequest,
    error: &Error,
) {
    let refused = Refused {
        principal: EntityRef::new("Session", "unverified"),
        on_behalf_of: request.on_behalf_of.as_deref(),
        task: None,
        credential: request.credential.as_deref(),
        action: &request.action,
        resource: &request.resource,
        context: &request.context,
        request_time: request.now.as_deref(),
    };
    record_refused(
        audit,
        log,
        revision,
        now_millis,
        decision_id,
        refused,
        error,
    );
}

/// Records a check refused because its identity-provider token did not
/// verify: principal `Token::"unverified"`. Neither the token nor anything
/// it claims is written.
pub(crate) fn record_refused_token(
    audit: &SnapshotAudit,
    log: &DecisionLog,
    revision: &str,
    now_millis: i64,
    decision_id: &str,
    request: &crate::model::TokenRequest,
    error: &Error,
) {
    let refused = Refused {
        principal: EntityRef::new("Token", "unverified"),
        on_behalf_of: None,
        task: request.task.as_deref(),
        credential: request.credential.as_deref(),
        action: &request.action,
        resource: &request.resource,
        context: &request.context,
        request_time: None,
    };
    record_refused(
        audit,
        log,
        revision,
        now_millis,
        decision_id,
        refused,
        error,
    );
}

/// Whether a deny named an erroring policy as a reason: only the engine's
/// fail-closed rule does that (a policy that errored was not satisfied).
pub(crate) fn failed_closed(reasons: &[String], errors: &[PolicyError]) -> bool {
    !errors.is_empty()
        && reasons
            .iter()
            .any(|r| errors.iter().any(|e| e.policy == *r))
}
