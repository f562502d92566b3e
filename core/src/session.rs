//! Short-lived, signed agent sessions: PASETO v4.public tokens (Ed25519).
//!
//! A session token names an agent (and optionally a task) for an audience and
//! a time window. [`issue`] signs [`SessionClaims`] with the active signing key
//! of a [`SessionKeys`]; [`verify`] checks the header, the key id, the
//! signature, the required claims, the audience and the window against an
//! injected `now`, and returns the claims. Revocation (suspended or offboarded
//! agents, revoked tasks or session ids) is the engine's job: it checks the
//! returned [`SessionClaims`].
//!
//! # Token format
//!
//! `v4.public.<base64url(payload || signature)>.<base64url(footer)>`
//! ([PASETO v4.public](https://github.com/paseto-standard/paseto-spec/blob/master/docs/01-Protocol-Versions/Version4.md)).
//! The version and purpose are fixed by the header, so there is no algorithm
//! to choose and no `alg: none`. The footer is `{"kid":"<key id>"}` and is
//! covered by the signature. The payload is JSON with the registered claims
//! `sub` (agent id), `aud`, `jti` (session id), `iat`, `nbf`, `exp` (RFC 3339,
//! UTC, millisecond precision), optionally `iss`, and the custom claim `task`.
//!
//! # Keys
//!
//! Keys are text in one of two encodings:
//! - [PASERK](https://github.com/paseto-standard/paserk): `k4.secret.…`
//!   (64 bytes: seed then public key) and `k4.public.…` (32 bytes);
//! - PEM: `-----BEGIN PRIVATE KEY-----` (PKCS#8 Ed25519, as written by
//!   `openssl genpkey -algorithm ed25519`) and `-----BEGIN PUBLIC KEY-----`
//!   (SubjectPublicKeyInfo, `openssl pkey -pubout`).
//!
//! Text comes from a string, a file or an environment variable ([`KeySource`]).
//! Verification needs only public keys passed as strings, so it works in WASM.
//! Errors name the source (path, variable, key id) and what is wrong, never
//! key material or a token.

use crate::engine::format_millis;
use crate::error::{Error, ErrorCode, Result};
use ct_codecs::{Base64, Base64UrlSafeNoPadding, Decoder, Encoder};
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use pasetors::Public;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use time::OffsetDateTime;

/// The fixed header of every session token.
pub const TOKEN_HEADER: &str = "v4.public.";

/// Default cap on a session's lifetime: 15 minutes.
pub const DEFAULT_MAX_TTL_MS: i64 = 15 * 60 * 1000;

/// How far in the future a token's `iat` may lie (clock skew between issuer
/// and verifier): 60 seconds.
pub const MAX_CLOCK_SKEW_MS: i64 = 60 * 1000;

/// Tokens longer than this are rejected before any decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Key ids longer than this are rejected.
pub const MAX_KID_LEN: usize = 128;

const MAX_FOOTER_LEN: usize = 512;
/// Latest instant a token may carry: 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: i64 = 253_402_300_799_999;

const PASERK_SECRET: &str = "k4.secret.";
const PASERK_PUBLIC: &str = "k4.public.";
const PEM_PRIVATE: &str = "PRIVATE KEY";
const PEM_PUBLIC: &str = "PUBLIC KEY";
/// DER prefix of a PKCS#8 v1 Ed25519 private key (RFC 8410); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// What a verified session token says, and what [`issue`] signs.
///
/// Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct SessionClaims {
    /// Unique id of this session (`jti`): 26 Crockford base32 characters,
    /// 48 bits of issue time then 80 random bits. Revoke a session by this id.
    pub session_id: String,
    /// The agent the session acts as (`sub`).
    pub agent: String,
    /// The task the session is scoped to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Who the token is for (`aud`); [`verify`] requires an exact match.
    pub audience: String,
    /// Who issued the token (`iss`), if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `iat`.
    #[cfg_attr(test, ts(type = "number"))]
    pub issued_at: i64,
    /// `nbf`: the token is rejected while `now < not_before`.
    #[cfg_attr(test, ts(type = "number"))]
    pub not_before: i64,
    /// `exp`: the token is rejected once `now >= expires_at`.
    #[cfg_attr(test, ts(type = "number"))]
    pub expires_at: i64,
}

/// Issuing policy: lifetime cap, default audience, issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// Longest lifetime a session may get, in milliseconds (default 15 minutes).
    /// A longer requested TTL is clamped to it (see [`SessionConfig::claims`]).
    pub max_ttl_ms: i64,
    /// Audience used when a request names none.
    pub default_audience: Option<String>,
    /// `iss` written into issued tokens.
    pub issuer: Option<String>,
    /// Other audiences a call may name instead of the default (see
    /// [`SessionConfig::audience`]); none by default.
    pub allowed_audiences: Vec<String>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_ttl_ms: DEFAULT_MAX_TTL_MS,
            default_audience: None,
            issuer: None,
            allowed_audiences: Vec::new(),
        }
    }
}

impl SessionConfig {
    /// The audience a session is issued for or checked against: the default
    /// (`[sessions] audience`) when the caller names none; one the caller
    /// names only if it is the default or listed in
    /// [`allowed_audiences`](Self::allowed_audiences). A caller can narrow
    /// the configured audience to one the configuration allows, never
    /// widen it (`session_invalid` otherwise).
    pub fn audience<'a>(&'a self, requested: Option<&'a str>) -> Result<&'a str> {
        match (requested, self.default_audience.as_deref()) {
            (None, Some(default)) => Ok(default),
            (None, None) => Err(invalid(
                "no audience to issue or check the session for (none given, no [sessions] audience)",
            )),
            (Some(a), default) => {
                if default == Some(a) || self.allowed_audiences.iter().any(|x| x == a) {
                    Ok(a)
                } else {
                    Err(invalid(format!(
                        "audience {} is not the configured one and not in [sessions] allowed_audiences",
                        shorten(a)
                    )))
                }
            }
        }
    }

    /// Claims for a new session of `agent` starting at `now_ms`, with a fresh
    /// session id.
    ///
    /// `ttl_ms`: `None` means the cap; a value above [`max_ttl_ms`](Self::max_ttl_ms)
    /// is **clamped** to the cap (the returned `expires_at` shows the effective
    /// expiry). Clamping cannot lengthen a session beyond the configured cap,
    /// so it is as safe as rejecting, and a caller asking for "an hour" still
    /// gets a working (shorter) session. A TTL ≤ 0 is an error.
    /// `audience`: `None` means [`default_audience`](Self::default_audience);
    /// neither is an error.
    pub fn claims(
        &self,
        agent: &str,
        task: Option<&str>,
        ttl_ms: Option<i64>,
        audience: Option<&str>,
        now_ms: i64,
    ) -> Result<SessionClaims> {
        if self.max_ttl_ms <= 0 {
            return Err(invalid(format!(
                "session max_ttl_ms must be positive, got {}",
                self.max_ttl_ms
            )));
        }
        let ttl = match ttl_ms {
            Some(t) if t <= 0 => {
                return Err(invalid(format!("session TTL must be positive, got {t} ms")))
            }
            Some(t) => t.min(self.max_ttl_ms),
            None => self.max_ttl_ms,
        };
        let audience = audience
            .or(self.default_audience.as_deref())
            .ok_or_else(|| invalid("a session needs an audience (none given, none configured)"))?;
        let claims = SessionClaims {
            session_id: new_session_id(now_ms)?,
            agent: agent.to_string(),
            task: task.map(str::to_string),
            audience: audience.to_string(),
            issuer: self.issuer.clone(),
            issued_at: now_ms,
            not_before: now_ms,
            expires_at: now_ms.saturating_add(ttl),
        };
        check_claims(&claims)?;
        Ok(claims)
    }
}

/// Where key text comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The key text itself (PASERK or PEM).
    Text(String),
    /// A file holding the key text.
    File(PathBuf),
    /// An environment variable holding the key text.
    Env(String),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Text(_) => f.write_str("KeySource::Text(<redacted>)"),
            KeySource::File(p) => write!(f, "KeySource::File({p:?})"),
            KeySource::Env(v) => write!(f, "KeySource::Env({v:?})"),
        }
    }
}

impl KeySource {
    /// Reads the key text. Errors (`key_invalid`) name the file or variable, never the content.
    pub fn read(&self) -> Result<String> {
        match self {
            KeySource::Text(t) => Ok(t.clone()),
            KeySource::File(path) => std::fs::read_to_string(path).map_err(|e| {
                key_err(format!(
                    "cannot read key file {}: {}",
                    path.display(),
                    e.kind()
                ))
            }),
            KeySource::Env(name) => std::env::var(name).map_err(|e| match e {
                std::env::VarError::NotPresent => {
                    key_err(format!("environment variable {name} is not set"))
                }
                std::env::VarError::NotUnicode(_) => {
                    key_err(format!("environment variable {name} is not valid UTF-8"))
                }
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            KeySource::Text(_) => "key text".to_string(),
            KeySource::File(p) => format!("key file {}", p.display()),
            KeySource::Env(v) => format!("environment variable {v}"),
        }
    }
}

struct SigningKey {
    kid: String,
    secret: AsymmetricSecretKey<V4>,
}

/// The keys of a session issuer or verifier: at most one active signing key
/// and any number of verification keys, each under a key id (`kid`).
///
/// Rotation: add the new key pair as the signing key under a new kid; keep the
/// old kid's public key while tokens signed with it may still be alive (at
/// most the TTL cap), then remove it.
#[derive(Clone, Default)]
pub struct SessionKeys {
    signing: Option<std::sync::Arc<SigningKey>>,
    verifying: BTreeMap<String, AsymmetricPublicKey<V4>>,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("signing_kid", &self.signing_kid())
            .field("verifying_kids", &self.verifying_kids())
            .finish()
    }
}

impl SessionKeys {
    /// No keys: verifies nothing, signs nothing.
    pub fn new() -> SessionKeys {
        SessionKeys::default()
    }

    /// A fresh random Ed25519 key pair under `kid`, as the signing key (and
    /// its public key as a verification key). Needs the platform's randomness.
    pub fn generate(kid: &str) -> Result<SessionKeys> {
        check_kid(kid)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("no randomness: {e}")))?;
        let mut keys = SessionKeys::new();
        let result = keys.install_seed(kid, &seed, "generated key");
        seed.fill(0);
        result.map(|()| keys)
    }

    /// Sets the signing key (replacing any previous one) from PASERK
    /// `k4.secret.…` or PKCS#8 PEM text, and adds its public key as a
    /// verification key under the same kid.
    pub fn set_signing_key(&mut self, kid: &str, source: &KeySource) -> Result<()> {
        check_kid(kid)?;
        let text = source.read()?;
        let what = format!("{} (kid {kid})", source.describe());
        let seed = parse_secret(text.trim(), &what)?;
        let result = self.install_seed(kid, &seed, &what);
        let mut seed = seed;
        seed.fill(0);
        result
    }

    /// Adds (or replaces) the verification key `kid` from PASERK
    /// `k4.public.…` or SubjectPublicKeyInfo PEM text.
    pub fn add_verifying_key(&mut self, kid: &str, source: &KeySource) -> Result<()> {
        check_kid(kid)?;
        let text = source.read()?;
        let what = format!("{} (kid {kid})", source.describe());
        let public = parse_public(text.trim(), &what)?;
        if let Some(signing) = &self.signing {
            if signing.kid == kid && !self.verifying.get(kid).is_some_and(|pk| *pk == public) {
                return Err(key_err(format!(
                    "{what}: kid {kid} is the signing key's id and names a different public key"
                )));
            }
        }
        self.verifying.insert(kid.to_string(), public);
        Ok(())
    }

    /// [`set_signing_key`](Self::set_signing_key) in builder form.
    pub fn with_signing_key(mut self, kid: &str, source: &KeySource) -> Result<SessionKeys> {
        self.set_signing_key(kid, source)?;
        Ok(self)
    }

    /// [`add_verifying_key`](Self::add_verifying_key) in builder form.
    pub fn with_verifying_key(mut self, kid: &str, source: &KeySource) -> Result<SessionKeys> {
        self.add_verifying_key(kid, source)?;
        Ok(self)
    }

    /// Stops accepting tokens signed under `kid`. If `kid` is the signing
    /// key, the signing key is removed too. Returns whether `kid` was known.
    pub fn remove_key(&mut self, kid: &str) -> bool {
        if self.signing.as_ref().is_some_and(|s| s.kid == kid) {
            self.signing = None;
        }
        self.verifying.remove(kid).is_some()
    }

    /// The same verification keys, without the signing key (to hand to a
    /// verifier, e.g. a WASM page).
    pub fn verifying_only(&self) -> SessionKeys {
        SessionKeys {
            signing: None,
            verifying: self.verifying.clone(),
        }
    }

    /// The kid new tokens are signed under.
    pub fn signing_kid(&self) -> Option<&str> {
        self.signing.as_ref().map(|s| s.kid.as_str())
    }

    /// The kids tokens are accepted under, sorted.
    pub fn verifying_kids(&self) -> Vec<&str> {
        self.verifying.keys().map(String::as_str).collect()
    }

    /// The public key `kid` as PASERK `k4.public.…`.
    pub fn public_key_paserk(&self, kid: &str) -> Option<String> {
        self.verifying
            .get(kid)
            .and_then(|pk| encode_b64url(pk.as_bytes()))
            .map(|b| format!("{PASERK_PUBLIC}{b}"))
    }

    /// The signing key as PASERK `k4.secret.…` (to store a generated key).
    /// This is secret material: never log it.
    pub fn secret_key_paserk(&self) -> Option<String> {
        self.signing
            .as_ref()
            .and_then(|s| encode_b64url(s.secret.as_bytes()))
            .map(|b| format!("{PASERK_SECRET}{b}"))
    }

    fn install_seed(&mut self, kid: &str, seed: &[u8; 32], what: &str) -> Result<()> {
        let (secret, public) = keypair_from_seed(seed, what)?;
        if self.verifying.get(kid).is_some_and(|pk| *pk != public)
            && self.signing.as_ref().is_none_or(|s| s.kid != kid)
        {
            return Err(key_err(format!(
                "{what}: kid {kid} already names a different verification key"
            )));
        }
        self.verifying.insert(kid.to_string(), public);
        self.signing = Some(std::sync::Arc::new(SigningKey {
            kid: kid.to_string(),
            secret,
        }));
        Ok(())
    }
}

/// The JSON payload of a token.
#[derive(Serialize, Deserialize)]
struct Payload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    sub: String,
    aud: String,
    jti: String,
    iat: String,
    nbf: String,
    exp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Footer {
    kid: String,
}

/// Signs `claims` with the active signing key. The claims must be well formed
/// (non-empty ids, `not_before < expires_at`, years 1970–9999); the TTL cap
/// is applied by [`SessionConfig::claims`], which builds them.
pub fn issue(keys: &SessionKeys, claims: &SessionClaims) -> Result<String> {
    let signing = keys
        .signing
        .as_ref()
        .ok_or_else(|| key_err("no session signing key is configured"))?;
    check_claims(claims)?;
    let payload = Payload {
        iss: claims.issuer.clone(),
        sub: claims.agent.clone(),
        aud: claims.audience.clone(),
        jti: claims.session_id.clone(),
        iat: format_millis(claims.issued_at),
        nbf: format_millis(claims.not_before),
        exp: format_millis(claims.expires_at),
        task: claims.task.clone(),
    };
    let payload = serde_json::to_vec(&payload).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("session claims do not serialize: {e}"),
        )
    })?;
    let footer = serde_json::to_vec(&Footer {
        kid: signing.kid.clone(),
    })
    .map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("session footer does not serialize: {e}"),
        )
    })?;
    PublicToken::sign(&signing.secret, &payload, Some(&footer), None)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("signing failed: {e:?}")))
}

/// Verifies a session token at instant `now_ms` for `expected_audience`.
///
/// Errors: `session_invalid` for anything malformed (not `v4.public.`, bad
/// base64, no or malformed footer, missing or ill-typed claims), an unknown
/// kid, a signature that does not verify, or another audience;
/// `session_expired` when `now_ms >= expires_at` or `now_ms < not_before`.
/// Never reads the system clock. Revocation is left to the caller. The
/// claims are bounded as by [`verify_within`] with the default cap
/// ([`DEFAULT_MAX_TTL_MS`]).
pub fn verify(
    keys: &SessionKeys,
    token: &str,
    now_ms: i64,
    expected_audience: &str,
) -> Result<SessionClaims> {
    verify_within(keys, token, now_ms, expected_audience, DEFAULT_MAX_TTL_MS)
}

/// [`verify`], with the claims bounded even when the signature is good: a
/// token issued more than [`MAX_CLOCK_SKEW_MS`] in the future, or whose
/// lifetime (from the earlier of `iat` and `nbf` to `exp`) is longer than
/// `max_ttl_ms`, is `session_invalid` — no issuer following the
/// configuration signs such a token.
pub fn verify_within(
    keys: &SessionKeys,
    token: &str,
    now_ms: i64,
    expected_audience: &str,
    max_ttl_ms: i64,
) -> Result<SessionClaims> {
    if token.is_empty() {
        return Err(invalid("session token is empty"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid(format!(
            "session token is longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    if !token.starts_with(TOKEN_HEADER) {
        return Err(invalid(format!(
            "session token is not a PASETO v4.public token (header must be `{TOKEN_HEADER}`)"
        )));
    }
    let untrusted = UntrustedToken::<Public, V4>::try_from(token).map_err(|e| {
        invalid(format!(
            "session token is malformed ({})",
            match e {
                pasetors::errors::Error::Base64 => "bad base64url",
                _ => "bad structure or length",
            }
        ))
    })?;
    let footer = untrusted.untrusted_footer();
    if footer.is_empty() {
        return Err(invalid("session token has no key id footer"));
    }
    if footer.len() > MAX_FOOTER_LEN {
        return Err(invalid("session token footer is too long"));
    }
    let footer: Footer = serde_json::from_slice(footer)
        .map_err(|_| invalid("session token footer is not {\"kid\": \"...\"}"))?;
    let public = keys.verifying.get(&footer.kid).ok_or_else(|| {
        invalid(format!(
            "session token is signed under unknown key id {}",
            shorten(&footer.kid)
        ))
    })?;
    let trusted = PublicToken::verify(public, &untrusted, None, None).map_err(|_| {
        invalid(format!(
            "session token signature does not verify (key id {})",
            shorten(&footer.kid)
        ))
    })?;
    let payload: Payload = serde_json::from_str(trusted.payload())
        .map_err(|e| invalid(format!("session token claims are malformed: {e}")))?;
    let claims = SessionClaims {
        session_id: payload.jti,
        agent: payload.sub,
        task: payload.task,
        audience: payload.aud,
        issuer: payload.iss,
        issued_at: parse_time(&payload.iat, "iat")?,
        not_before: parse_time(&payload.nbf, "nbf")?,
        expires_at: parse_time(&payload.exp, "exp")?,
    };
    check_claims(&claims)?;
    if claims.audience != expected_audience {
        return Err(invalid(format!(
            "session token is for audience {}, not {}",
            shorten(&claims.audience),
            shorten(expected_audience)
        )));
    }
    if now_ms < claims.not_before {
        return Err(Error::new(
            ErrorCode::SessionExpired,
            format!(
                "session {} is not valid before {}",
                claims.session_id,
                format_millis(claims.not_before)
            ),
        ));
    }
    if now_ms >= claims.expires_at {
        return Err(Error::new(
            ErrorCode::SessionExpired,
            format!(
                "session {} expired at {}",
                claims.session_id,
                format_millis(claims.expires_at)
            ),
        ));
    }
    // Inside its window, a token must still be one a configured issuer signs.
    if claims.issued_at > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(invalid(format!(
            "session {} claims to be issued in the future ({})",
            shorten(&claims.session_id),
            format_millis(claims.issued_at)
        )));
    }
    let start = claims.issued_at.min(claims.not_before);
    if claims.expires_at.saturating_sub(start) > max_ttl_ms {
        return Err(invalid(format!(
            "session {} lives longer than the {} s the configuration allows",
            shorten(&claims.session_id),
            max_ttl_ms / 1000
        )));
    }
    Ok(claims)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::SessionInvalid, message)
}

fn key_err(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::KeyInvalid, message)
}

/// Untrusted text for a message: at most 64 characters, quoted and escaped.
fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(64).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    format!("{s:?}")
}

fn check_kid(kid: &str) -> Result<()> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if ok {
        Ok(())
    } else {
        Err(key_err(format!(
            "key id {} is not 1-{MAX_KID_LEN} characters of A-Z a-z 0-9 . _ - :",
            shorten(kid)
        )))
    }
}

fn check_claims(c: &SessionClaims) -> Result<()> {
    for (name, value) in [
        ("session id (jti)", &c.session_id),
        ("agent (sub)", &c.agent),
        ("audience (aud)", &c.audience),
    ] {
        if value.is_empty() {
            return Err(invalid(format!("session {name} is empty")));
        }
    }
    for (name, t) in [
        ("iat", c.issued_at),
        ("nbf", c.not_before),
        ("exp", c.expires_at),
    ] {
        if !(0..=MAX_MILLIS).contains(&t) {
            return Err(invalid(format!(
                "session {name} is outside years 1970-9999"
            )));
        }
    }
    if c.not_before >= c.expires_at {
        return Err(invalid("session nbf is not before its exp"));
    }
    Ok(())
}

fn parse_time(text: &str, claim: &str) -> Result<i64> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok())
        .ok_or_else(|| {
            invalid(format!(
                "session token claim {claim} is not an RFC 3339 time"
            ))
        })
}

/// 26 Crockford base32 characters: 48 bits of milliseconds, 80 random bits.
fn new_session_id(now_ms: i64) -> Result<String> {
    let mut random = [0u8; 10];
    getrandom::fill(&mut random)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("no randomness: {e}")))?;
    let mut value: u128 = (u128::from(now_ms.max(0).unsigned_abs()) & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    Ok((0..26)
        .rev()
        .map(|i| char::from(ALPHABET[((value >> (i * 5)) & 0x1F) as usize]))
        .collect())
}

fn encode_b64url(bytes: &[u8]) -> Option<String> {
    let mut buf = vec![0u8; Base64UrlSafeNoPadding::encoded_len(bytes.len()).ok()?];
    Base64UrlSafeNoPadding::encode_to_str(&mut buf, bytes)
        .ok()
        .map(str::to_string)
}

fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; text.len()];
    Base64UrlSafeNoPadding::decode(&mut buf, text, None)
        .ok()
        .map(<[u8]>::to_vec)
}

/// The base64 body of a PEM block labelled `label`, decoded.
fn pem_body(text: &str, label: &str, what: &str) -> Result<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text
        .strip_prefix(&begin)
        .and_then(|rest| rest.trim_end().strip_suffix(&end))
        .ok_or_else(|| {
            key_err(format!(
                "{what}: not a single PEM block `{begin}` … `{end}`"
            ))
        })?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut buf = vec![0u8; b64.len()];
    Base64::decode(&mut buf, &b64, None)
        .map(<[u8]>::to_vec)
        .map_err(|_| key_err(format!("{what}: PEM body is not valid base64")))
}

/// The PASERK kind (`k4.public`, `k3.secret`, …) or a PEM label, for messages.
fn describe_text(text: &str) -> String {
    if let Some(rest) = text.strip_prefix("-----BEGIN ") {
        let label: String = rest.chars().take_while(|c| *c != '-').take(40).collect();
        return format!("a PEM `{label}` block");
    }
    let mut parts = text.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(v), Some(kind), Some(_))
            if v.len() == 2 && v.starts_with('k') && kind.len() <= 10 =>
        {
            format!("a PASERK {v}.{kind} key")
        }
        _ => "text in no known key format".to_string(),
    }
}

/// The 32-byte Ed25519 seed from `k4.secret.` or PKCS#8 PEM text.
fn parse_secret(text: &str, what: &str) -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    if let Some(b64) = text.strip_prefix(PASERK_SECRET) {
        let mut bytes = decode_b64url(b64)
            .ok_or_else(|| key_err(format!("{what}: k4.secret key is not valid base64url")))?;
        let result = if bytes.len() != 64 {
            Err(key_err(format!(
                "{what}: k4.secret key must be 64 bytes, got {}",
                bytes.len()
            )))
        } else {
            seed.copy_from_slice(&bytes[..32]);
            let public = AsymmetricPublicKey::<V4>::from(&bytes[32..])
                .map_err(|_| key_err(format!("{what}: bad public half")))?;
            keypair_from_seed(&seed, what).and_then(|(_, derived)| {
                if derived == public {
                    Ok(())
                } else {
                    Err(key_err(format!(
                        "{what}: k4.secret key's public half does not match its seed"
                    )))
                }
            })
        };
        bytes.fill(0);
        return result.map(|()| seed);
    }
    if text.starts_with(&format!("-----BEGIN {PEM_PRIVATE}-----")) {
        let mut der = pem_body(text, PEM_PRIVATE, what)?;
        // PKCS#8 v1 (RFC 8410 §7): prefix then the seed. v2 adds the public key.
        let result = match der.strip_prefix(PKCS8_ED25519_PREFIX.as_slice()) {
            Some(rest) if rest.len() == 32 => {
                seed.copy_from_slice(rest);
                Ok(())
            }
            _ => Err(key_err(format!(
                "{what}: PEM private key is not an unencrypted PKCS#8 v1 Ed25519 key"
            ))),
        };
        der.fill(0);
        return result.map(|()| seed);
    }
    Err(key_err(format!(
        "{what}: expected a signing key (PASERK `k4.secret.…` or PEM `PRIVATE KEY`), got {}",
        describe_text(text)
    )))
}

fn parse_public(text: &str, what: &str) -> Result<AsymmetricPublicKey<V4>> {
    let bytes = if let Some(b64) = text.strip_prefix(PASERK_PUBLIC) {
        decode_b64url(b64)
            .ok_or_else(|| key_err(format!("{what}: k4.public key is not valid base64url")))?
    } else if text.starts_with(&format!("-----BEGIN {PEM_PUBLIC}-----")) {
        let der = pem_body(text, PEM_PUBLIC, what)?;
        match der.strip_prefix(SPKI_ED25519_PREFIX.as_slice()) {
            Some(rest) => rest.to_vec(),
            None => {
                return Err(key_err(format!(
                    "{what}: PEM public key is not an Ed25519 SubjectPublicKeyInfo"
                )))
            }
        }
    } else {
        return Err(key_err(format!(
            "{what}: expected a public key (PASERK `k4.public.…` or PEM `PUBLIC KEY`), got {}",
            describe_text(text)
        )));
    };
    if bytes.len() != 32 {
        return Err(key_err(format!(
            "{what}: an Ed25519 public key is 32 bytes, got {}",
            bytes.len()
        )));
    }
    ed25519_compact::PublicKey::from_slice(&bytes)
        .and_then(|pk| pk.validate().map(|()| pk))
        .map_err(|_| key_err(format!("{what}: not a valid Ed25519 public key")))?;
    AsymmetricPublicKey::<V4>::from(&bytes)
        .map_err(|_| key_err(format!("{what}: not a valid Ed25519 public key")))
}

fn keypair_from_seed(
    seed: &[u8; 32],
    what: &str,
) -> Result<(AsymmetricSecretKey<V4>, AsymmetricPublicKey<V4>)> {
    // `KeyPair::from_seed` (and pasetors on top of it) panics on an all-zero seed.
    let kp = ed25519_compact::Seed::from_slice(seed)
        .and_then(ed25519_compact::KeyPair::try_from_seed)
        .map_err(|_| key_err(format!("{what}: not a usable Ed25519 seed")))?;
    let secret = AsymmetricSecretKey::<V4>::from(kp.sk.as_ref())
        .map_err(|_| key_err(format!("{what}: not a usable Ed25519 key")))?;
    let public = AsymmetricPublicKey::<V4>::from(kp.pk.as_ref())
        .map_err(|_| key_err(format!("{what}: not a usable Ed25519 key")))?;
    Ok((secret, public))
}
