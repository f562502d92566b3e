//! Engines: build from texts or a directory, reload, check, and the state
//! that rebuilds an engine elsewhere (`engine_state` / `engine_restore`).

use super::convert::{parse_text, to_text, to_value};
use crate::bundle::{Bundle, Source};
use crate::engine::{Engine, PolicyWarning};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Decision, Request};
use crate::time::Clock;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::engine::{
    EngineState, StateBundle, StateKeys, StateOptions, StateSettings, StateSigningKey, StateSource,
    STATE_VERSION,
};

/// Policies given as one text, a list of texts, or a map of file name to text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PolicyTexts {
    One(String),
    Many(Vec<String>),
    Named(BTreeMap<String, String>),
}

/// The `fromStrings` input of every binding: `{schema, policies, inventory?, config?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleStrings {
    pub schema: String,
    pub policies: PolicyTexts,
    #[serde(default)]
    pub inventory: Option<String>,
    #[serde(default)]
    pub config: Option<String>,
}

// ---------------------------------------------------------------- bundles

/// A bundle from its texts, with the product defaults.
pub fn bundle_from_texts(input: BundleStrings) -> Bundle {
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
    bundle
}

fn bundle_strings(input: Value) -> Result<BundleStrings> {
    serde_json::from_value(input).map_err(|e| {
        Error::new(
            ErrorCode::BundleInvalid,
            format!("expected {{schema, policies, inventory?, config?}} strings: {e}"),
        )
    })
}

/// [`bundle_from_texts`] over `{schema, policies, inventory?, config?}` as a value.
pub fn bundle_from_strings(input: Value) -> Result<Bundle> {
    bundle_strings(input).map(bundle_from_texts)
}

/// [`bundle_from_texts`] over JSON text.
pub fn bundle_from_strings_json(input: &str) -> Result<Bundle> {
    bundle_from_strings(parse_text(input, "bundle input", ErrorCode::BundleInvalid)?)
}

// ---------------------------------------------------------------- engines

/// An engine from a bundle's texts; `clock` overrides the system clock;
/// `trust_caller_time` lets requests carry their own `now`
/// ([`crate::EngineBuilder::trust_caller_time`]).
pub fn engine_from_texts(
    input: BundleStrings,
    clock: Option<Arc<dyn Clock>>,
    trust_caller_time: bool,
) -> Result<Engine> {
    let builder = Engine::builder()
        .bundle(bundle_from_texts(input))
        .trust_caller_time(trust_caller_time);
    match clock {
        Some(c) => builder.clock(c).build(),
        None => builder.build(),
    }
}

/// [`engine_from_texts`] over `{schema, policies, inventory?, config?}` as a value.
pub fn engine_from_strings(
    input: Value,
    clock: Option<Arc<dyn Clock>>,
    trust_caller_time: bool,
) -> Result<Engine> {
    engine_from_texts(bundle_strings(input)?, clock, trust_caller_time)
}

/// [`engine_from_texts`] over JSON text.
pub fn engine_from_strings_json(
    input: &str,
    clock: Option<Arc<dyn Clock>>,
    trust_caller_time: bool,
) -> Result<Engine> {
    let input = parse_text(input, "bundle input", ErrorCode::BundleInvalid)?;
    engine_from_strings(input, clock, trust_caller_time)
}

/// An engine from a bundle directory; `clock` overrides the system clock;
/// `trust_caller_time` as for [`engine_from_texts`]. (A path in, an engine
/// out: this entry has no JSON layers.)
pub fn engine_load(
    dir: &str,
    clock: Option<Arc<dyn Clock>>,
    trust_caller_time: bool,
) -> Result<Engine> {
    engine_load_journaled(dir, None, false, clock, trust_caller_time)
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
    let store = StoreOptions::default();
    engine_load_stored(dir, journal, recover, clock, trust_caller_time, &store)
}

/// A fleet's change store as `Engine.load` options give it (each overrides
/// `[store]` of `agentauthz.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// PostgreSQL URL, `env:VAR` or `file:PATH`.
    pub postgres: Option<String>,
    pub max_staleness_seconds: Option<u64>,
    pub poll_ms: Option<u64>,
    pub writer: Option<String>,
}

/// [`engine_load_journaled`] with a fleet's change store.
pub fn engine_load_stored(
    dir: &str,
    journal: Option<&str>,
    recover: bool,
    clock: Option<Arc<dyn Clock>>,
    trust_caller_time: bool,
    store: &StoreOptions,
) -> Result<Engine> {
    let mut builder = Engine::builder()
        .bundle(Bundle::read_dir_or_config(dir)?)
        .recover_journal(recover)
        .trust_caller_time(trust_caller_time);
    if let Some(path) = journal {
        builder = builder.journal(path);
    }
    if let Some(url) = &store.postgres {
        builder = builder.postgres(url.clone());
    }
    if let Some(s) = store.max_staleness_seconds {
        builder = builder.max_staleness_seconds(s);
    }
    if let Some(ms) = store.poll_ms {
        builder = builder.store_poll_ms(ms);
    }
    if let Some(w) = &store.writer {
        builder = builder.store_writer(w.clone());
    }
    if let Some(c) = clock {
        builder = builder.clock(c);
    }
    builder.build()
}

/// Replaces the engine's bundle with one made of texts (the run-time changes
/// are applied again); on error the current bundle stays.
pub fn reload_from_texts(engine: &Engine, input: BundleStrings) -> Result<()> {
    engine.reload(bundle_from_texts(input))
}

/// [`reload_from_texts`] over `{schema, policies, inventory?, config?}` as a value.
pub fn reload_from_strings(engine: &Engine, input: Value) -> Result<()> {
    reload_from_texts(engine, bundle_strings(input)?)
}

/// [`reload_from_texts`] over JSON text.
pub fn reload_from_strings_json(engine: &Engine, input: &str) -> Result<()> {
    reload_from_strings(
        engine,
        parse_text(input, "bundle input", ErrorCode::BundleInvalid)?,
    )
}

/// Creates (or brings up to date) a fleet's PostgreSQL change store at
/// `url` (a URL or `env:VAR`): `agentauthz store init`. Returns where.
/// `sslmode` and `ca_file` are `[store]`'s (`disable` by default; a relative
/// `ca_file` is read from the working directory).
#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
pub fn store_init(url: &str, sslmode: Option<&str>, ca_file: Option<&str>) -> Result<String> {
    use crate::store::postgres::{init, SslMode, Target};
    let url = match url.strip_prefix("env:") {
        Some(var) => std::env::var(var).map_err(|_| {
            Error::new(
                ErrorCode::ConfigInvalid,
                format!("environment variable {var} is not set"),
            )
        })?,
        None => url.to_string(),
    };
    let target = Target::parse(&url, SslMode::from_config(sslmode, ca_file, None)?)?;
    init(&target)?;
    Ok(target.location().to_string())
}

/// [`Engine::store_status`] as JSON: `{backend, location, last_applied_seq,
/// last_synced?, staleness_ms?, max_staleness_ms?, stale, connected,
/// last_error?, gap_after?, skipped}`.
pub fn store_status_value(engine: &Engine) -> Value {
    to_value(&engine.store_status())
}

/// [`store_status_value`] as JSON text.
pub fn store_status_json(engine: &Engine) -> String {
    store_status_value(engine).to_string()
}

/// [`Engine::bundle_status`] as JSON: `{url, revision?, kid?, source?,
/// last_poll?, last_result?, last_error?, polls, failures}`, or `null` when
/// the bundle does not come from a URL.
pub fn bundle_status_value(engine: &Engine) -> Value {
    engine.bundle_status().map_or(Value::Null, |s| to_value(&s))
}

/// [`Engine::poll_bundle`] (poll the bundle URL now) as JSON.
pub fn poll_bundle_value(engine: &Engine) -> Result<Value> {
    engine.poll_bundle().map(|s| to_value(&s))
}

/// Verifies a bundle archive against its detached signature with public
/// keys (`kid → k4.public.… or PEM text`), as browsers that fetch bundles
/// themselves need: `{revision, kid, files}` (`files`: path → text), or
/// `bundle_archive_invalid` / `bundle_signature_invalid` / `key_invalid`.
pub fn verify_bundle(
    archive: &[u8],
    signature: &[u8],
    public_keys: &std::collections::BTreeMap<String, String>,
) -> Result<Value> {
    let mut keys = crate::archive::BundleKeys::new();
    for (kid, text) in public_keys {
        keys.add(kid, &crate::session::KeySource::Text(text.clone()))?;
    }
    let v = crate::archive::verify(archive, signature, &keys)?;
    Ok(serde_json::json!({"revision": v.revision, "kid": v.kid, "files": v.files.files()}))
}

/// [`verify_bundle`] with the public keys as JSON text (`{"kid": "k4.public.…"}`;
/// anything else is `key_invalid`), the result as JSON text.
pub fn verify_bundle_json(archive: &[u8], signature: &[u8], public_keys: &str) -> Result<String> {
    let keys: BTreeMap<String, String> = serde_json::from_str(public_keys).map_err(|e| {
        Error::new(
            ErrorCode::KeyInvalid,
            format!("public keys must be an object of key id to key text: {e}"),
        )
    })?;
    Ok(verify_bundle(archive, signature, &keys)?.to_string())
}

/// The active bundle's load warnings (forbids that may error at run time or
/// never match).
pub fn warnings(engine: &Engine) -> Vec<PolicyWarning> {
    engine.warnings()
}

/// [`warnings`] as a JSON array of `{policy, kind, message, location?}`.
pub fn warnings_value(engine: &Engine) -> Value {
    Value::Array(warnings(engine).iter().map(to_value).collect())
}

/// [`warnings`] as JSON text.
pub fn warnings_json(engine: &Engine) -> String {
    warnings_value(engine).to_string()
}

// ---------------------------------------------------------------- state

/// What rebuilds this engine in a fresh process or WASM instance
/// ([`Engine::state`]): bundle texts, changes with their original times,
/// session keys (the signing key too, when held: keep the state as secret
/// as that key), settings.
pub fn engine_state(engine: &Engine) -> Result<EngineState> {
    engine.state()
}

/// [`engine_state`] as a JSON value (`{"version": 1, ...}`).
pub fn engine_state_value(engine: &Engine) -> Result<Value> {
    engine_state(engine)?.to_value()
}

/// [`engine_state`] as JSON text.
pub fn engine_state_json(engine: &Engine) -> Result<String> {
    to_text(&engine_state(engine)?)
}

/// An engine rebuilt from a state through the journal replay
/// ([`Engine::restore`]): changes keep their times; those that no longer
/// apply are listed by [`Engine::skipped_changes`]. `clock` defaults to the
/// system clock.
pub fn engine_restore(state: EngineState, clock: Option<Arc<dyn Clock>>) -> Result<Engine> {
    Engine::restore(state, clock)
}

/// [`engine_restore`] from a JSON value: a wrong `version`, a missing or
/// unknown member is `config_invalid`, too deep `input_too_deep`.
pub fn engine_restore_value(state: Value, clock: Option<Arc<dyn Clock>>) -> Result<Engine> {
    engine_restore(EngineState::from_value(state)?, clock)
}

/// [`engine_restore`] from JSON text, read by the strict, bounded reader.
pub fn engine_restore_json(state: &str, clock: Option<Arc<dyn Clock>>) -> Result<Engine> {
    engine_restore(EngineState::from_json(state)?, clock)
}

// ---------------------------------------------------------------- check

/// Decides one request. A deny is a decision; bad input is an error.
pub fn check(engine: &Engine, request: &Request) -> Result<Decision> {
    engine.check(request)
}

/// A decision as JSON.
pub fn decision_to_value(decision: &Decision) -> Value {
    to_value(decision)
}

/// A decision as JSON text.
pub fn decision_to_json(decision: &Decision) -> Result<String> {
    to_text(decision)
}

/// Decides one request given as JSON (bounded by the engine's limits);
/// returns the Decision as JSON.
pub fn check_value(engine: &Engine, request: Value) -> Result<Value> {
    let request = Request::from_json_value_with(request, &engine.limits())?;
    check(engine, &request).map(|d| decision_to_value(&d))
}

/// [`check`] over JSON text, read by the strict, bounded reader.
pub fn check_json(engine: &Engine, request: &str) -> Result<String> {
    let request = Request::from_json_str_with(request, &engine.limits())?;
    decision_to_json(&check(engine, &request)?)
}

/// Decides many requests against one snapshot. All or nothing: the first
/// request that fails is the error, its index in the message.
pub fn check_batch(engine: &Engine, requests: &[Request]) -> Result<Vec<Decision>> {
    engine
        .check_batch(requests)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| at_index(e, i)))
        .collect()
}

/// [`check_batch`] over a JSON array of requests.
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
    let decisions = check_batch(engine, &requests)?;
    Ok(Value::Array(
        decisions.iter().map(decision_to_value).collect(),
    ))
}

/// [`check_batch`] over JSON text of an array of requests.
pub fn check_batch_json(engine: &Engine, requests: &str) -> Result<String> {
    let requests = parse_text(requests, "requests", ErrorCode::RequestParse)?;
    Ok(check_batch_value(engine, requests)?.to_string())
}

fn at_index(mut e: Error, i: usize) -> Error {
    for d in &mut e.details {
        d.message = format!("request [{i}]: {}", d.message);
    }
    e
}
