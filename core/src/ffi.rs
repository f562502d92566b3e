//! The JSON facade every binding and the CLI speak: typed → `serde_json::Value`
//! → `&str`. Bindings convert their native values to JSON and call one function here.

use crate::audit::{DecisionLog, DecisionRecord, FileOptions};
use crate::bundle::{Bundle, Source};
use crate::change::{Change, GrantRequest, TaskSpec};
use crate::engine::Engine;
use crate::error::{error_codes, Error, ErrorCode, Result};
use crate::model::{Decision, Request, SessionRequest};
use crate::session::{KeySource, SessionKeys};
use crate::time::Clock;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

mod clock;
pub use clock::{manual_clock, manual_clock_advance, manual_clock_now, manual_clock_set};

/// Policies given as one text, a list of texts, or a map of file name to text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PolicyTexts {
    One(String),
    Many(Vec<String>),
    Named(std::collections::BTreeMap<String, String>),
}

/// The `fromStrings` input of every binding.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StringsInput {
    schema: String,
    policies: PolicyTexts,
    #[serde(default)]
    inventory: Option<String>,
    #[serde(default)]
    config: Option<String>,
}

/// Reads `{schema, policies, inventory?, config?}` into a bundle with the product defaults.
pub fn bundle_from_strings(input: Value) -> Result<Bundle> {
    let input: StringsInput = serde_json::from_value(input).map_err(|e| {
        Error::new(
            ErrorCode::BundleInvalid,
            format!("expected {{schema, policies, inventory?, config?}} strings: {e}"),
        )
    })?;
    let mut bundle = Bundle::from_strings(&input.schema, "", input.inventory.as_deref());
    bundle.policies = match input.policies {
        PolicyTexts::One(text) => vec![Source::new("policies.cedar", text)],
        PolicyTexts::Many(texts) => texts
            .into_iter()
            .enumerate()
            .map(|(i, t)| Source::new(format!("policies-{i}.cedar"), t))
            .collect(),
        PolicyTexts::Named(map) => map.into_iter().map(|(n, t)| Source::new(n, t)).collect(),
    };
    bundle.config = input.config.map(|c| Source::new("agentauthz.toml", c));
    Ok(bundle)
}

/// An engine from `{schema, policies, inventory?, config?}`; `clock` overrides
/// the system clock; `trust_caller_time` lets requests carry their own `now`
/// ([`crate::EngineBuilder::trust_caller_time`]).
pub fn engine_from_strings(
    input: Value,
    clock: Option<Arc<dyn Clock>>,
    trust_caller_time: bool,
) -> Result<Engine> {
    let bundle = bundle_from_strings(input)?;
    let builder = Engine::builder()
        .bundle(bundle)
        .trust_caller_time(trust_caller_time);
    match clock {
        Some(c) => builder.clock(c).build(),
        None => builder.build(),
    }
}

/// An engine from a bundle directory; `clock` overrides the system clock;
/// `trust_caller_time` as for [`engine_from_strings`].
pub fn engine_load(
    dir: &str,
    clock: Option<Arc<dyn Clock>>,
    trust_caller_time: bool,
) -> Result<Engine> {
    let builder = Engine::builder()
        .bundle(Bundle::read_dir(dir)?)
        .trust_caller_time(trust_caller_time);
    match clock {
        Some(c) => builder.clock(c).build(),
        None => builder.build(),
    }
}

/// An engine from a bundle directory whose run-time changes are kept in the
/// journal at `journal` (replayed now); `recover` cuts a torn last line off.
pub fn engine_load_journaled(
    dir: &str,
    journal: Option<&str>,
    recover: bool,
    clock: Option<Arc<dyn Clock>>,
    trust_caller_time: bool,
) -> Result<Engine> {
    let mut builder = Engine::builder()
        .bundle(Bundle::read_dir(dir)?)
        .recover_journal(recover)
        .trust_caller_time(trust_caller_time);
    if let Some(path) = journal {
        builder = builder.journal(path);
    }
    if let Some(c) = clock {
        builder = builder.clock(c);
    }
    builder.build()
}

/// The active bundle's load warnings (forbids that may error at run time or
/// never match) as a JSON array of `{policy, kind, message, location?}`.
pub fn warnings_value(engine: &Engine) -> Value {
    Value::Array(engine.warnings().iter().map(to_value).collect())
}

// ---------------------------------------------------------------- run-time changes

fn from_value<T: serde::de::DeserializeOwned>(
    value: Value,
    code: ErrorCode,
    what: &str,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::new(code, format!("{what}: {e}")))
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// `{agent, actions, resource: {type, id}, ttl_seconds | until, starts?, task?,
/// reason, granted_by}` → the grant `{id, agent, actions, resource, starts,
/// expires, task?, reason, granted_by}`.
pub fn grant_value(engine: &Engine, request: Value) -> Result<Value> {
    let request: GrantRequest = from_value(request, ErrorCode::GrantInvalid, "grant request")?;
    engine.grant(request).map(|g| to_value(&g))
}

/// The grants in force, of one agent or all, as a JSON array.
pub fn grants_value(engine: &Engine, agent: Option<&str>) -> Value {
    Value::Array(engine.grants(agent).iter().map(to_value).collect())
}

/// `{id, agent, not_before, not_after, purpose?, on_behalf_of?}` → adds the task.
pub fn add_task_value(engine: &Engine, task: Value, by: &str) -> Result<()> {
    let task: TaskSpec = from_value(task, ErrorCode::LifecycleInvalid, "task")?;
    engine.add_task(task, by)
}

/// Any change in its journal form (`{"op": "suspend", "agent": "..."}`, ...);
/// returns the journal entry `{seq, at, by, op, ...}`.
pub fn apply_change_value(engine: &Engine, change: Value, by: &str) -> Result<Value> {
    let change: Change = from_value(change, ErrorCode::LifecycleInvalid, "change")?;
    engine.apply(change, by).map(|e| to_value(&e))
}

// ---------------------------------------------------------------- sessions

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueInput {
    agent: String,
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    ttl_seconds: Option<u64>,
    #[serde(default)]
    audience: Option<String>,
}

/// `{agent, task?, ttl_seconds?, audience?}` → `{token, claims}`.
pub fn issue_session_value(engine: &Engine, input: Value) -> Result<Value> {
    let input: IssueInput = from_value(input, ErrorCode::SessionInvalid, "issue_session")?;
    let ttl_ms = input
        .ttl_seconds
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000));
    let (token, claims) = engine.issue_session(
        &input.agent,
        input.task.as_deref(),
        ttl_ms,
        input.audience.as_deref(),
    )?;
    Ok(json!({"token": token, "claims": to_value(&claims)}))
}

/// The verified claims of a token, or the reason it is refused.
pub fn verify_session_value(engine: &Engine, token: &str, audience: Option<&str>) -> Result<Value> {
    engine.verify_session(token, audience).map(|c| to_value(&c))
}

/// `{session, action, resource, context?, credential?, on_behalf_of?, now?, audience?}` → Decision.
pub fn check_session_value(engine: &Engine, request: Value) -> Result<Value> {
    let request: SessionRequest = from_value(request, ErrorCode::RequestParse, "session request")?;
    engine
        .check_session(&request)
        .map(|d| decision_to_value(&d))
}

/// Session keys from `{signing?: {kid, key}, verifying?: {kid: key}}`, keys
/// as text (PASERK or PEM); a verifier passes only `verifying`.
pub fn session_keys_from_value(input: Value) -> Result<SessionKeys> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Signing {
        kid: String,
        key: String,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        #[serde(default)]
        signing: Option<Signing>,
        #[serde(default)]
        verifying: std::collections::BTreeMap<String, String>,
    }
    let input: Input = from_value(input, ErrorCode::KeyInvalid, "session keys")?;
    let mut keys = SessionKeys::new();
    if let Some(s) = input.signing {
        keys.set_signing_key(&s.kid, &KeySource::Text(s.key))?;
    }
    for (kid, key) in input.verifying {
        keys.add_verifying_key(&kid, &KeySource::Text(key))?;
    }
    Ok(keys)
}

/// The engine's public session keys `{kid: "k4.public.…"}`, to hand to verifiers.
pub fn session_public_keys_value(engine: &Engine) -> Value {
    let keys = engine.session_keys();
    let map: Map<String, Value> = keys
        .verifying_kids()
        .into_iter()
        .filter_map(|kid| Some((kid.to_string(), Value::String(keys.public_key_paserk(kid)?))))
        .collect();
    Value::Object(map)
}

/// A new key pair `{kid, secret, public}` (PASERK) for tests and `agentauthz session keygen`.
pub fn generate_session_key_value(kid: &str) -> Result<Value> {
    let keys = SessionKeys::generate(kid)?;
    Ok(json!({
        "kid": kid,
        "secret": keys.secret_key_paserk(),
        "public": keys.public_key_paserk(kid),
    }))
}

/// Replaces the engine's bundle with `{schema, policies, inventory?, config?}`.
pub fn reload_from_strings(engine: &Engine, input: Value) -> Result<()> {
    engine.reload(bundle_from_strings(input)?)
}

pub fn decision_to_value(decision: &Decision) -> Value {
    serde_json::to_value(decision).unwrap_or(Value::Null)
}

/// Decides one request given as JSON; returns the Decision as JSON.
pub fn check_value(engine: &Engine, request: Value) -> Result<Value> {
    let request = Request::from_json_value_with(request, &engine.limits())?;
    engine.check(&request).map(|d| decision_to_value(&d))
}

/// `check_value` over text, for bindings that pass strings.
pub fn check_json(engine: &Engine, request: &str) -> Result<String> {
    let request = Request::from_json_str_with(request, &engine.limits())?;
    let decision = engine.check(&request)?;
    serde_json::to_string(&decision).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
}

/// Decides an array of requests. All or nothing: the first bad request is the
/// error, its index in the message.
pub fn check_batch_value(engine: &Engine, requests: Value) -> Result<Value> {
    let limits = engine.limits();
    let Value::Array(items) = requests else {
        return Err(Error::new(
            ErrorCode::RequestParse,
            "check_batch expects an array of requests",
        ));
    };
    let requests = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| Request::from_json_value_with(v, &limits).map_err(|e| at_index(e, i)))
        .collect::<Result<Vec<_>>>()?;
    engine
        .check_batch(&requests)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map(|d| decision_to_value(&d)).map_err(|e| at_index(e, i)))
        .collect::<Result<Vec<_>>>()
        .map(Value::Array)
}

fn at_index(mut e: Error, i: usize) -> Error {
    for d in &mut e.details {
        d.message = format!("request [{i}]: {}", d.message);
    }
    e
}

// ---------------------------------------------------------------- decision log

/// The sink a binding's path argument names: `"-"` is standard output, any
/// other text a JSON-lines file (rotated at `max_bytes` when given).
pub fn decision_log_path(path: &str, max_bytes: Option<u64>) -> Result<DecisionLog> {
    if path == "-" {
        return Ok(DecisionLog::stdout());
    }
    let mut options = FileOptions::new(path);
    options.max_bytes = max_bytes;
    DecisionLog::file_with(options)
}

/// A file decision log (`-`: standard output) for `engine`: keyed with its
/// bundle's `[integrity]` key; `recover` cuts a torn last line off instead
/// of refusing (`log_corrupt`).
pub fn decision_log_path_for(
    engine: &Engine,
    path: &str,
    max_bytes: Option<u64>,
    recover: bool,
) -> Result<DecisionLog> {
    if path == "-" {
        return Ok(DecisionLog::stdout());
    }
    let keys = crate::integrity::IntegrityKeys::for_bundle(&engine.bundle())?;
    let mut options = FileOptions::new(path).keys(keys).recover(recover);
    options.max_bytes = max_bytes;
    DecisionLog::file_with(options)
}

/// Records as a JSON array (the form bindings hand to a callback).
pub fn records_to_value(records: &[DecisionRecord]) -> Value {
    Value::Array(records.iter().map(DecisionRecord::to_value).collect())
}

/// The engine's decision-log head `{seq, hash}`, or `null` without a sink.
pub fn decision_log_head_value(engine: &Engine) -> Value {
    match engine.decision_log() {
        Some(log) => {
            let (seq, hash) = log.head();
            json!({"seq": seq, "hash": hash})
        }
        None => Value::Null,
    }
}

/// The error as `{code, family, message, details: [{message, location?}]}`.
pub fn error_to_value(e: &Error) -> Value {
    let mut m = Map::new();
    m.insert("code".into(), json!(e.code.as_str()));
    m.insert("family".into(), json!(e.code.family().as_str()));
    m.insert("message".into(), json!(e.to_string()));
    m.insert(
        "details".into(),
        serde_json::to_value(&e.details).unwrap_or(Value::Null),
    );
    Value::Object(m)
}

/// `[{code, family}]` for every stable error code.
pub fn error_codes_value() -> Value {
    Value::Array(
        error_codes()
            .into_iter()
            .map(|(code, family)| json!({"code": code, "family": family}))
            .collect(),
    )
}

/// Runs `f`, turning a panic into an `internal` error so none crosses an FFI boundary.
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::new(
            ErrorCode::Internal,
            format!("internal error (refused, state unchanged): {what}"),
        ))
    })
}
