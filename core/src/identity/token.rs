//! Verifying a JWT (JWS compact form) from an identity provider, and mapping
//! its claims to the model.
//!
//! The header and claims are read here (strict JSON, duplicate members
//! refused); `jsonwebtoken` checks only the signature, over the exact bytes,
//! with a key from the issuer's JWKS chosen by `kid` and by the algorithm's
//! key type. Keys or key URLs a token carries (`jwk`, `jku`, `x5u`, `x5c`)
//! are never used; `crit` is refused (no extension is understood).

use super::config::{AgentClaim, Algorithm, Issuer};
use super::keys::KeySet;
use crate::error::{Error, ErrorCode, Result};
use crate::limits::{parse_json_bytes, Input, Limits};
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};

/// Longer tokens are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Nested `act` claims followed at most.
pub const MAX_ACTOR_DEPTH: usize = 8;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::TokenInvalid, message)
}

/// The parts of a compact JWS, decoded but not verified. No `Debug`: it
/// holds the token's text.
pub(crate) struct Unverified<'a> {
    pub alg: String,
    pub kid: Option<String>,
    /// `header.payload`, the signed bytes.
    signing_input: &'a str,
    signature: &'a str,
    pub claims: Map<String, Value>,
}

fn b64(part: &str, what: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| invalid(format!("the token's {what} is not base64url")))
}

fn object(bytes: &[u8], what: &str) -> Result<Map<String, Value>> {
    match parse_json_bytes(&Limits::default(), Input::Request, what, bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid(format!("the token's {what} is not a JSON object"))),
        Err(e) => Err(invalid(format!("the token's {what}: {}", e.message()))),
    }
}

/// Splits and decodes a compact JWS (three parts; a JWE's five are refused).
pub(crate) fn parse(token: &str) -> Result<Unverified<'_>> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(invalid(format!(
            "the token is longer than {MAX_TOKEN_LEN} bytes"
        )));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(
            "not a JWT: a signed token has three dot-separated parts",
        ));
    };
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(invalid(
            "not a JWT: a part is empty (unsigned tokens are refused)",
        ));
    }
    let header = object(&b64(h, "header")?, "header")?;
    if header.contains_key("crit") {
        return Err(invalid(
            "the token's header has `crit`: no extension is understood",
        ));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the token's header has no `alg`"))?
        .to_string();
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(invalid("the token's `kid` is not a string")),
    };
    let claims = object(&b64(p, "payload")?, "claims")?;
    Ok(Unverified {
        alg,
        kid,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature: s,
        claims,
    })
}

impl Unverified<'_> {
    /// The (unverified) `iss`, used only to pick the issuer's settings.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    /// The accepted algorithm of the header, or `token_invalid`.
    pub fn algorithm(&self, issuer: &Issuer) -> Result<Algorithm> {
        Algorithm::parse(&self.alg)
            .filter(|a| issuer.algorithms.contains(a))
            .ok_or_else(|| {
                invalid(format!(
                    "algorithm {:?} is not accepted for issuer {} (accepted: {})",
                    self.alg,
                    issuer.name,
                    issuer
                        .algorithms
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Whether the signature verifies with one of the candidate keys.
    pub fn verify_signature(&self, keys: &KeySet, alg: Algorithm) -> bool {
        keys.candidates(self.kid.as_deref(), alg).any(|key| {
            jsonwebtoken::crypto::verify(
                self.signature,
                self.signing_input.as_bytes(),
                key,
                alg.jwt(),
            )
            .unwrap_or(false)
        })
    }
}

/// What a verified token says, mapped to the model. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenClaims {
    /// The `[identity.issuers.NAME]` that verified it.
    pub issuer_name: String,
    /// `iss`.
    pub issuer: String,
    /// `sub`, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `client_id` (or `azp`), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The agent id the token names (by `agent_claim`, or the actor of a delegated token).
    pub agent: String,
    /// The user a delegated token (RFC 8693 `act`) acts for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// The actor chain of a delegated token, the current actor first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<String>,
    /// `scope` (space-separated) or `scp`, sorted and deduplicated.
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `exp`, in milliseconds since the epoch.
    pub expires_at: i64,
    /// `nbf`, in milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// `iat`, in milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
    /// The configured further claims the token carries.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
}

/// A NumericDate claim in milliseconds: a number of seconds (fractions
/// allowed), within the range the engine's clock can express.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>> {
    let Some(v) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = v
        .as_f64()
        .filter(|s| s.is_finite() && (0.0..=253_402_300_799.0).contains(s))
        .ok_or_else(|| invalid(format!("`{name}` is not a NumericDate")))?;
    // Bounded above: the cast cannot truncate.
    let millis = (seconds * 1000.0).floor() as i64;
    Ok(Some(millis))
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<String>> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("`{name}` is not a non-empty string"))),
    }
}

fn audience_ok(claims: &Map<String, Value>, audience: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    }
}

fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>> {
    let mut out: Vec<String> = match (claims.get("scope"), claims.get("scp")) {
        (None, None) => Vec::new(),
        (Some(Value::String(s)), None) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        (None, Some(Value::Array(list))) => list
            .iter()
            .map(|s| s.as_str().map(String::from))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("`scp` is not a list of strings"))?,
        (None, Some(Value::String(s))) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        _ => {
            return Err(invalid(
                "give `scope` (a string) or `scp`, not both, of the right type",
            ))
        }
    };
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The agent of a delegated token: what its `act` says under the agent
/// claim; or, when `act` names its actor only by `sub` (RFC 8693's form, as
/// providers issue it), that `sub` if the token's own agent claim (the client
/// the token was issued to) names the same party. Anything else is refused.
fn actor_of(
    issuer: &Issuer,
    claims: &Map<String, Value>,
    act: &Map<String, Value>,
) -> Result<String> {
    let named = agent_of(issuer, act, "the token's `act`");
    let AgentClaim::Claim(name) = &issuer.agent_claim else {
        return named;
    };
    if act.contains_key(name.as_str()) {
        return named;
    }
    match (string_claim(act, "sub")?, string_claim(claims, name)?) {
        (Some(actor), Some(client)) if actor == client => Ok(actor),
        (Some(_), Some(_)) => Err(invalid(format!(
            "the token's `act` names another party than its `{name}`"
        ))),
        _ => named,
    }
}

/// The agent id of a claim set (the token's, or an `act` object's).
fn agent_of(issuer: &Issuer, claims: &Map<String, Value>, what: &str) -> Result<String> {
    match &issuer.agent_claim {
        AgentClaim::Claim(name) => string_claim(claims, name)?
            .ok_or_else(|| invalid(format!("{what} has no `{name}` to name the agent"))),
        AgentClaim::Spiffe { prefix, suffix } => {
            let id = string_claim(claims, "sub")?
                .ok_or_else(|| invalid(format!("{what} has no `sub` (SPIFFE ID)")))?;
            AgentClaim::spiffe_agent(prefix, suffix, &id)
                .map(String::from)
                .ok_or_else(|| {
                    invalid(format!(
                        "{what}: the SPIFFE ID does not match `spiffe_pattern` of issuer {}",
                        issuer.name
                    ))
                })
        }
    }
}

/// Checks the verified claims against `issuer` at `now` (milliseconds) and
/// maps them: `token_audience` for another resource, `token_expired` outside
/// `[nbf, exp)` (with the leeway), `token_invalid` for anything malformed.
pub(crate) fn check_claims(
    issuer: &Issuer,
    claims: &Map<String, Value>,
    now: i64,
) -> Result<TokenClaims> {
    let expires_at = numeric_date(claims, "exp")?
        .ok_or_else(|| invalid("the token has no `exp`: tokens without expiry are refused"))?;
    let not_before = numeric_date(claims, "nbf")?;
    let issued_at = numeric_date(claims, "iat")?;
    for name in &issuer.required_claims {
        if !claims.contains_key(name) {
            return Err(invalid(format!(
                "the token lacks the required claim `{name}`"
            )));
        }
    }
    if !audience_ok(claims, &issuer.audience) {
        return Err(Error::new(
            ErrorCode::TokenAudience,
            format!(
                "the token is not for this resource: its `aud` does not name {:?}",
                issuer.audience
            ),
        ));
    }
    let leeway = issuer.leeway_ms;
    if now >= expires_at.saturating_add(leeway) {
        return Err(Error::new(ErrorCode::TokenExpired, "the token has expired"));
    }
    if not_before.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
        return Err(Error::new(
            ErrorCode::TokenExpired,
            "the token is not valid yet (`nbf`)",
        ));
    }
    if issued_at.is_some_and(|iat| now.saturating_add(leeway) < iat) {
        return Err(Error::new(
            ErrorCode::TokenExpired,
            "the token was issued in the future (`iat`)",
        ));
    }
    let subject = string_claim(claims, "sub")?;
    let client_id = match string_claim(claims, "client_id")? {
        Some(c) => Some(c),
        None => string_claim(claims, "azp")?,
    };
    let jti = string_claim(claims, "jti")?;
    // RFC 8693: `act` names the current actor (the agent), nested `act`s
    // the earlier ones; `sub` is the user the token acts for.
    let (agent, on_behalf_of, actors) = match claims.get("act") {
        None => (agent_of(issuer, claims, "the token")?, None, Vec::new()),
        Some(Value::Object(act)) => {
            let agent = actor_of(issuer, claims, act)?;
            let mut actors = vec![agent.clone()];
            let mut next = act.get("act");
            while let Some(inner) = next {
                let Value::Object(inner) = inner else {
                    return Err(invalid("a nested `act` is not an object"));
                };
                if actors.len() >= MAX_ACTOR_DEPTH {
                    return Err(invalid(format!(
                        "the `act` chain is deeper than {MAX_ACTOR_DEPTH}"
                    )));
                }
                let id = match string_claim(inner, "sub")? {
                    Some(s) => s,
                    None => string_claim(inner, "client_id")?
                        .ok_or_else(|| invalid("a nested `act` names no `sub`"))?,
                };
                actors.push(id);
                next = inner.get("act");
            }
            let user = string_claim(claims, &issuer.user_claim)?.ok_or_else(|| {
                invalid(format!(
                    "a delegated token needs `{}` to name its user",
                    issuer.user_claim
                ))
            })?;
            (agent, Some(user), actors)
        }
        Some(_) => return Err(invalid("`act` is not an object")),
    };
    let mut selected = Map::new();
    for name in &issuer.claims {
        if let Some(v) = claims.get(name) {
            selected.insert(name.clone(), v.clone());
        }
    }
    Ok(TokenClaims {
        issuer_name: issuer.name.clone(),
        issuer: issuer.issuer.clone(),
        subject,
        client_id,
        agent,
        on_behalf_of,
        actors,
        scopes: scopes(claims)?,
        jti,
        expires_at,
        not_before,
        issued_at,
        claims: selected,
    })
}

impl TokenClaims {
    /// Whether the claims still hold at `now` (a cached token is judged again).
    pub(crate) fn current(&self, now: i64, leeway: i64) -> Result<()> {
        if now >= self.expires_at.saturating_add(leeway) {
            return Err(Error::new(ErrorCode::TokenExpired, "the token has expired"));
        }
        if self
            .not_before
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        {
            return Err(Error::new(
                ErrorCode::TokenExpired,
                "the token is not valid yet (`nbf`)",
            ));
        }
        if self
            .issued_at
            .is_some_and(|iat| now.saturating_add(leeway) < iat)
        {
            return Err(Error::new(
                ErrorCode::TokenExpired,
                "the token was issued in the future (`iat`)",
            ));
        }
        Ok(())
    }

    /// The provenance the decision record keeps: issuer, subject, client,
    /// actor chain, `jti`, scopes. Never the token.
    pub fn provenance(&self) -> Value {
        let mut m = Map::new();
        m.insert("issuer".into(), self.issuer.clone().into());
        if let Some(s) = &self.subject {
            m.insert("subject".into(), s.clone().into());
        }
        if let Some(c) = &self.client_id {
            m.insert("client_id".into(), c.clone().into());
        }
        if !self.actors.is_empty() {
            m.insert("actors".into(), self.actors.clone().into());
        }
        if let Some(j) = &self.jti {
            m.insert("jti".into(), j.clone().into());
        }
        m.insert("scopes".into(), self.scopes.clone().into());
        Value::Object(m)
    }

    /// The `context.token` record for an action whose context declares
    /// `token` with these attributes: `issuer`, `subject`, `client_id`,
    /// `jti` (strings), `scopes` (`Set<String>`), `actors` (`Set<String>`)
    /// and the configured claims. Attributes the token lacks are left out.
    pub(crate) fn context_record(&self, declared: impl Fn(&str) -> bool) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |name: &str, v: Value| {
            if declared(name) {
                m.insert(name.to_string(), v);
            }
        };
        put("issuer", self.issuer.clone().into());
        if let Some(s) = &self.subject {
            put("subject", s.clone().into());
        }
        if let Some(c) = &self.client_id {
            put("client_id", c.clone().into());
        }
        if let Some(j) = &self.jti {
            put("jti", j.clone().into());
        }
        put("scopes", self.scopes.clone().into());
        put("actors", self.actors.clone().into());
        for (k, v) in &self.claims {
            if !matches!(
                k.as_str(),
                "issuer" | "subject" | "client_id" | "jti" | "scopes" | "actors"
            ) {
                put(k, v.clone());
            }
        }
        m
    }
}
