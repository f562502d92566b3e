//! Agent sessions: issue, verify and check with signed tokens; session keys.

use super::{from_value, parse_text, to_text, to_value};
use crate::engine::Engine;
use crate::error::{ErrorCode, Result};
use crate::model::{Decision, SessionRequest};
use crate::session::{KeySource, SessionClaims, SessionKeys};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// What to issue a session for: `{agent, task?, ttl_seconds?, audience?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueSession {
    pub agent: String,
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    #[serde(default)]
    pub audience: Option<String>,
}

/// An issued session: `{token, claims}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedSession {
    pub token: String,
    pub claims: SessionClaims,
}

/// Session keys as text (PASERK or PEM): `{signing?: {kid, key}, verifying?: {kid: key}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionKeysSpec {
    #[serde(default)]
    pub signing: Option<SigningKeySpec>,
    #[serde(default)]
    pub verifying: BTreeMap<String, String>,
}

/// A signing key as text; `Debug` shows its kid only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeySpec {
    pub kid: String,
    pub key: String,
}

impl fmt::Debug for SigningKeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeySpec")
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// A new key pair `{kid, secret, public}` (PASERK); `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedKey {
    pub kid: String,
    pub secret: Option<String>,
    pub public: Option<String>,
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .field("secret", &"[redacted]")
            .field("public", &self.public)
            .finish()
    }
}

/// Issues a signed session token for an active agent (and a task of its own).
pub fn issue_session(engine: &Engine, input: IssueSession) -> Result<IssuedSession> {
    let ttl_ms = input
        .ttl_seconds
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000));
    let (token, claims) = engine.issue_session(
        &input.agent,
        input.task.as_deref(),
        ttl_ms,
        input.audience.as_deref(),
    )?;
    Ok(IssuedSession { token, claims })
}

/// `{agent, task?, ttl_seconds?, audience?}` → `{token, claims}`.
pub fn issue_session_value(engine: &Engine, input: Value) -> Result<Value> {
    let input = from_value(input, ErrorCode::SessionInvalid, "issue_session")?;
    issue_session(engine, input).map(|s| to_value(&s))
}

/// [`issue_session_value`] over JSON text.
pub fn issue_session_json(engine: &Engine, input: &str) -> Result<String> {
    let input = parse_text(input, "issue input", ErrorCode::SessionInvalid)?;
    issue_session_value(engine, input).map(|v| v.to_string())
}

/// The verified claims of a token, or the reason it is refused.
pub fn verify_session(
    engine: &Engine,
    token: &str,
    audience: Option<&str>,
) -> Result<SessionClaims> {
    engine.verify_session(token, audience)
}

/// [`verify_session`] with the claims as JSON.
pub fn verify_session_value(engine: &Engine, token: &str, audience: Option<&str>) -> Result<Value> {
    verify_session(engine, token, audience).map(|c| to_value(&c))
}

/// [`verify_session`] with the claims as JSON text.
pub fn verify_session_json(engine: &Engine, token: &str, audience: Option<&str>) -> Result<String> {
    to_text(&verify_session(engine, token, audience)?)
}

/// Decides a request made with a session token.
pub fn check_session(engine: &Engine, request: &SessionRequest) -> Result<Decision> {
    engine.check_session(request)
}

/// `{session, action, resource, context?, credential?, on_behalf_of?, now?, audience?}` → Decision.
pub fn check_session_value(engine: &Engine, request: Value) -> Result<Value> {
    let request = from_value(request, ErrorCode::RequestParse, "session request")?;
    check_session(engine, &request).map(|d| to_value(&d))
}

/// [`check_session_value`] over JSON text.
pub fn check_session_json(engine: &Engine, request: &str) -> Result<String> {
    let request = parse_text(request, "session request", ErrorCode::RequestParse)?;
    check_session_value(engine, request).map(|d| d.to_string())
}

/// Session keys from their texts; a verifier passes only `verifying`.
pub fn session_keys_from(input: SessionKeysSpec) -> Result<SessionKeys> {
    let mut keys = SessionKeys::new();
    if let Some(s) = input.signing {
        keys.set_signing_key(&s.kid, &KeySource::Text(s.key))?;
    }
    for (kid, key) in input.verifying {
        keys.add_verifying_key(&kid, &KeySource::Text(key))?;
    }
    Ok(keys)
}

/// [`session_keys_from`] over `{signing?: {kid, key}, verifying?: {kid: key}}` as a value.
pub fn session_keys_from_value(input: Value) -> Result<SessionKeys> {
    session_keys_from(from_value(input, ErrorCode::KeyInvalid, "session keys")?)
}

/// [`session_keys_from`] over JSON text.
pub fn session_keys_from_json(input: &str) -> Result<SessionKeys> {
    session_keys_from_value(parse_text(input, "session keys", ErrorCode::KeyInvalid)?)
}

/// The engine's public session keys by kid (PASERK `k4.public.…`), to hand to verifiers.
pub fn session_public_keys(engine: &Engine) -> BTreeMap<String, String> {
    let keys = engine.session_keys();
    keys.verifying_kids()
        .into_iter()
        .filter_map(|kid| Some((kid.to_string(), keys.public_key_paserk(kid)?)))
        .collect()
}

/// [`session_public_keys`] as a JSON object.
pub fn session_public_keys_value(engine: &Engine) -> Value {
    to_value(&session_public_keys(engine))
}

/// [`session_public_keys`] as JSON text.
pub fn session_public_keys_json(engine: &Engine) -> String {
    session_public_keys_value(engine).to_string()
}

/// A new key pair for tests and `agentauthz session keygen`.
pub fn generate_session_key(kid: &str) -> Result<GeneratedKey> {
    let keys = SessionKeys::generate(kid)?;
    Ok(GeneratedKey {
        kid: kid.to_string(),
        secret: keys.secret_key_paserk(),
        public: keys.public_key_paserk(kid),
    })
}

/// [`generate_session_key`] as `{kid, secret, public}`.
pub fn generate_session_key_value(kid: &str) -> Result<Value> {
    generate_session_key(kid).map(|k| to_value(&k))
}

/// [`generate_session_key`] as JSON text.
pub fn generate_session_key_json(kid: &str) -> Result<String> {
    to_text(&generate_session_key(kid)?)
}
