//! An engine's state as data: what a fresh process (or a WASM instance that
//! was reset) needs to rebuild the same engine. The run-time changes come
//! back through the journal replay, each at its original time, and those that
//! no longer apply are listed by [`Engine::skipped_changes`].
//!
//! A state is for the trust domain that made it: it is not signed, and it
//! carries the session signing key when the engine holds one. Keep it where
//! the engine itself may be (the same process, or storage as protected as the
//! key); its `Debug` form never shows the key.

use super::session_state::Sessions;
use crate::bundle::{Bundle, BundleOptions, Config, OnError, SessionsConfig, Source};
use crate::error::{Error, ErrorCode, Result};
use crate::journal::JournalEntry;
use crate::limits::{self, Input, Limits};
use crate::session::{KeySource, SessionKeys};
use crate::time::parse_rfc3339_millis;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The version of the state format this build writes and reads.
pub const STATE_VERSION: u64 = 1;

/// Everything needed to rebuild an engine: `{"version": 1, "revision", "bundle",
/// "settings", "sessions", "changes"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineState {
    /// [`STATE_VERSION`].
    pub version: u64,
    /// The policy revision the bundle texts hash to; restore refuses texts
    /// that do not.
    pub revision: String,
    pub bundle: StateBundle,
    pub settings: StateSettings,
    pub sessions: StateKeys,
    /// Every run-time change since load, as journal entries (original `seq`
    /// and `at`), including those replay skipped.
    pub changes: Vec<JournalEntry>,
}

/// The texts of the active bundle, with the names they were loaded under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBundle {
    pub schema: Option<StateSource>,
    pub policies: Vec<StateSource>,
    pub inventory: Option<StateSource>,
    pub config: Option<StateSource>,
    pub options: StateOptions,
}

/// One bundle file: its name and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSource {
    pub name: String,
    pub text: String,
}

/// [`BundleOptions`] as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateOptions {
    pub base_schema: bool,
    pub require_policy_ids: bool,
    pub validate_policies: bool,
    pub validate_requests: bool,
    pub limits: Limits,
}

/// The builder settings that outlive load (they apply to reloads too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    pub trust_caller_time: bool,
    /// The builder's limits, if it was given any.
    pub limits: Option<Limits>,
    /// `deny` or `skip`, if the builder overrode `[engine] on_error`.
    pub on_error: Option<String>,
    /// If the builder overrode `[engine] strict`.
    pub strict: Option<bool>,
}

/// The session keys in force: public keys by kid (PASERK `k4.public.…`) and
/// the signing key, if the engine holds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateKeys {
    pub signing: Option<StateSigningKey>,
    pub verifying: BTreeMap<String, String>,
}

/// The signing key (PASERK `k4.secret.…`): secret; `Debug` shows its kid only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSigningKey {
    pub kid: String,
    pub key: String,
}

impl fmt::Debug for StateSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateSigningKey")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// A state that cannot be restored: `config_invalid`, led by "engine state".
pub(super) fn invalid(message: impl Into<String>) -> Error {
    Error::new(
        ErrorCode::ConfigInvalid,
        format!("engine state: {}", message.into()),
    )
}

fn source(s: &Source) -> StateSource {
    StateSource {
        name: s.name.clone(),
        text: s.text.clone(),
    }
}

fn unsource(s: StateSource) -> Source {
    Source::new(s.name, s.text)
}

impl EngineState {
    /// Reads a state from JSON text: bounded (size, depth) and strict (no
    /// duplicate keys) before anything else; see [`EngineState::from_value`].
    pub fn from_json(text: &str) -> Result<EngineState> {
        let value = limits::parse_json(&Limits::default(), Input::State, "engine state", text)?;
        EngineState::from_value(value)
    }

    /// Reads a state from a JSON value: an unknown `version`, a missing or
    /// extra member (in a change too) is `config_invalid`.
    pub fn from_value(value: Value) -> Result<EngineState> {
        let depth = Limits::default().depth();
        if nests_deeper(&value, depth) {
            return Err(Error::new(
                ErrorCode::InputTooDeep,
                format!("engine state nests deeper than {depth} levels"),
            ));
        }
        match value.get("version") {
            Some(v) if v.as_u64() == Some(STATE_VERSION) => {}
            Some(v) => {
                return Err(invalid(format!(
                    "version {v} is not supported (this build reads version {STATE_VERSION})"
                )))
            }
            None => return Err(invalid("an object with `version` is expected")),
        }
        let state: EngineState =
            serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?;
        // Every member is required (an absent one is not read as its default)
        // and none may be added: serde refuses neither everywhere (a journal
        // entry flattens its change), so compare with what the state reads as.
        let again = state.to_value()?;
        if let Some(path) = first_difference(&value, &again, String::new()) {
            return Err(invalid(format!(
                "`{path}` is missing, or is not part of an engine state"
            )));
        }
        Ok(state)
    }

    /// The state as a JSON value.
    pub fn to_value(&self) -> Result<Value> {
        serde_json::to_value(self).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
    }
}

/// The first path where `a` and `b` differ (`None` when equal).
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => first_difference(v, w, here),
                    _ => Some(here),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            "(the state)".into()
        } else {
            path
        }),
    }
}

/// Whether `value` nests deeper than `max` (walked without recursion).
fn nests_deeper(value: &Value, max: usize) -> bool {
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        let items: Vec<&Value> = match v {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            _ => continue,
        };
        if d > max {
            return true;
        }
        stack.extend(items.into_iter().map(|i| (i, d + 1)));
    }
    false
}

/// `on_error` as the state names it.
pub(super) fn on_error_name(on_error: OnError) -> String {
    on_error.as_str().to_string()
}

fn on_error_from(name: &str) -> Result<OnError> {
    match name {
        "deny" => Ok(OnError::Deny),
        "skip" => Ok(OnError::Skip),
        other => Err(invalid(format!(
            "settings.on_error is `deny` or `skip`, not {other:?}"
        ))),
    }
}

/// The session keys of a state.
fn keys_from(state: &StateKeys) -> Result<SessionKeys> {
    let mut keys = SessionKeys::new();
    if let Some(s) = &state.signing {
        keys.set_signing_key(&s.kid, &KeySource::Text(s.key.clone()))?;
    }
    for (kid, key) in &state.verifying {
        keys.add_verifying_key(kid, &KeySource::Text(key.clone()))?;
    }
    Ok(keys)
}

/// The recorded changes, checked as the journal reader checks its lines:
/// `seq` from 1 without gaps, `at` an RFC 3339 time; each with its time.
fn history(changes: Vec<JournalEntry>) -> Result<Vec<(i64, JournalEntry)>> {
    let mut out = Vec::with_capacity(changes.len());
    for (i, entry) in changes.into_iter().enumerate() {
        let expected = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
        if entry.seq != expected {
            return Err(invalid(format!(
                "changes[{i}] has seq {} where {expected} was expected",
                entry.seq
            )));
        }
        let at = parse_rfc3339_millis(&entry.at).ok_or_else(|| {
            invalid(format!(
                "changes[{i}].at is not an RFC 3339 time: {:?}",
                entry.at
            ))
        })?;
        out.push((at, entry));
    }
    Ok(out)
}

/// The signing key and public keys of `keys`, as data.
pub(super) fn keys_state(keys: &SessionKeys) -> StateKeys {
    let signing = match (keys.signing_kid(), keys.secret_key_paserk()) {
        (Some(kid), Some(key)) => Some(StateSigningKey {
            kid: kid.to_string(),
            key,
        }),
        _ => None,
    };
    let verifying = keys
        .verifying_kids()
        .into_iter()
        .filter_map(|kid| Some((kid.to_string(), keys.public_key_paserk(kid)?)))
        .collect();
    StateKeys { signing, verifying }
}

/// The texts and options of `bundle`, as data.
pub(super) fn bundle_state(bundle: &Bundle) -> StateBundle {
    let options = &bundle.options;
    StateBundle {
        schema: bundle.schema.as_ref().map(source),
        policies: bundle.policies.iter().map(source).collect(),
        inventory: bundle.inventory.as_ref().map(source),
        config: bundle.config.as_ref().map(source),
        options: StateOptions {
            base_schema: options.base_schema,
            require_policy_ids: options.require_policy_ids,
            validate_policies: options.validate_policies,
            validate_requests: options.validate_requests,
            limits: options.limits,
        },
    }
}

/// What a state rebuilds an engine from, checked.
pub(super) struct Unpacked {
    pub revision: String,
    pub bundle: Bundle,
    pub trust_caller_time: bool,
    pub limits: Option<Limits>,
    pub on_error: Option<OnError>,
    pub strict: Option<bool>,
    /// The bundle's `[sessions]` settings with the state's keys.
    pub sessions: Sessions,
    /// The changes, each with its original time.
    pub history: Vec<(i64, JournalEntry)>,
}

impl EngineState {
    /// The state's parts, checked: its version, limits that agree with the
    /// bundle's, a readable config, valid keys and a gapless history.
    pub(super) fn unpack(self) -> Result<Unpacked> {
        if self.version != STATE_VERSION {
            return Err(invalid(format!(
                "version {} is not supported (this build reads version {STATE_VERSION})",
                self.version
            )));
        }
        let settings = self.settings;
        let on_error = settings
            .on_error
            .as_deref()
            .map(on_error_from)
            .transpose()?;
        let b = self.bundle;
        if settings.limits.is_some_and(|l| l != b.options.limits) {
            return Err(invalid(
                "settings.limits differ from the limits the bundle was compiled with",
            ));
        }
        let bundle = Bundle {
            schema: b.schema.map(unsource),
            policies: b.policies.into_iter().map(unsource).collect(),
            inventory: b.inventory.map(unsource),
            config: b.config.map(unsource),
            options: BundleOptions {
                base_schema: b.options.base_schema,
                require_policy_ids: b.options.require_policy_ids,
                validate_policies: b.options.validate_policies,
                validate_requests: b.options.validate_requests,
                limits: b.options.limits,
            },
            dir: None,
        };
        let config = match &bundle.config {
            Some(src) => Config::parse_with(src, &bundle.options.limits)?,
            None => Config::default(),
        };
        // `[sessions]` limits and audiences from the bundle; the keys are the
        // state's (the engine's own, which may have been set at run time).
        let keyless = SessionsConfig {
            signing_key_file: None,
            signing_key_env: None,
            verifying_keys: BTreeMap::new(),
            ..config.sessions
        };
        let mut sessions = Sessions::from_config(&keyless, None)?;
        sessions.keys = keys_from(&self.sessions)?;
        Ok(Unpacked {
            revision: self.revision,
            bundle,
            trust_caller_time: settings.trust_caller_time,
            limits: settings.limits,
            on_error,
            strict: settings.strict,
            sessions,
            history: history(self.changes)?,
        })
    }
}
