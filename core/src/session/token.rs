//! Session tokens: issuing and verifying PASETO v4.public tokens.

use super::keys::{key_err, shorten, SessionKeys};
use crate::error::{Error, ErrorCode, Result};
use crate::time::{format_millis, parse_rfc3339_millis, ulid};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use pasetors::Public;
use serde::{Deserialize, Serialize};

/// The fixed header of every session token.
pub const TOKEN_HEADER: &str = "v4.public.";

/// Default cap on a session's lifetime: 15 minutes.
pub const DEFAULT_MAX_TTL_MS: i64 = 15 * 60 * 1000;

/// How far in the future a token's `iat` may lie (clock skew between issuer
/// and verifier): 60 seconds.
pub const MAX_CLOCK_SKEW_MS: i64 = 60 * 1000;

/// Tokens longer than this are rejected before any decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

const MAX_FOOTER_LEN: usize = 512;
/// Latest instant a token may carry: 9999-12-31T23:59:59.999Z.
const MAX_MILLIS: i64 = 253_402_300_799_999;

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
    let claims = verify_signature(keys, token)?;
    check_window(&claims, now_ms, expected_audience, max_ttl_ms)?;
    Ok(claims)
}

/// The claims of a token signed under one of `keys`, checked for what does
/// not depend on the time or the audience asked for. What [`verify_within`]
/// checks first; [`check_window`] is the rest.
pub fn verify_signature(keys: &SessionKeys, token: &str) -> Result<SessionClaims> {
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
    Ok(claims)
}

/// The checks of [`verify_within`] after the signature: the audience, the
/// token's window at `now_ms`, and the bounds every configured issuer keeps.
pub fn check_window(
    claims: &SessionClaims,
    now_ms: i64,
    expected_audience: &str,
    max_ttl_ms: i64,
) -> Result<()> {
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
    Ok(())
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::SessionInvalid, message)
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
    parse_rfc3339_millis(text).ok_or_else(|| {
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
    let low80 = random
        .iter()
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    Ok(ulid(now_ms, low80))
}
