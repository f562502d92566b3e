//! `[identity]` of `agentauthz.toml`: the identity providers whose tokens
//! the engine accepts, and how their claims map to the model.

use crate::error::{Error, ErrorCode, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

/// `[identity]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// This resource (RFC 8707 resource indicator): the audience every token
    /// must carry, unless its issuer names its own.
    #[serde(default)]
    pub audience: Option<String>,
    /// `[identity.issuers.NAME]`, one per identity provider.
    #[serde(default)]
    pub issuers: BTreeMap<String, IssuerConfig>,
}

/// `[identity.issuers.NAME]`: one identity provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// The JWKS as JSON text (browsers, tests, pinned keys).
    #[serde(default)]
    pub jwks: Option<String>,
    /// A file holding the JWKS, relative to the bundle directory.
    #[serde(default)]
    pub jwks_file: Option<String>,
    /// The provider's `jwks_uri` (`https://`; `http://` only to 127.0.0.1 or
    /// localhost, for tests). Fetched at load, then again only for a token
    /// whose `kid` is unknown, at most once per `refresh_min_seconds`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Accepted signature algorithms (default all four): `RS256`, `PS256`,
    /// `ES256`, `EdDSA`. Anything else (`none`, `HS256`, ...) is refused.
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    /// The audience for this issuer's tokens (default `[identity] audience`).
    #[serde(default)]
    pub audience: Option<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds (default 60, at most 300).
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
    /// Claims a token must carry besides `iss`, `aud` and `exp` (e.g. `jti`).
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// The claim naming the agent: `client_id` (default, RFC 9068), `azp`,
    /// `sub`, or `spiffe` (`sub` is a SPIFFE ID, mapped by `spiffe_pattern`).
    #[serde(default)]
    pub agent_claim: Option<String>,
    /// For `agent_claim = "spiffe"`: e.g. `spiffe://example.org/agents/{agent}`.
    #[serde(default)]
    pub spiffe_pattern: Option<String>,
    /// The claim naming the user of a delegated token (default `sub`).
    #[serde(default)]
    pub user_claim: Option<String>,
    /// Further claims copied into `context.token` (when the action declares them).
    #[serde(default)]
    pub claims: Vec<String>,
    /// Least time between two JWKS fetches, in seconds (default 60).
    #[serde(default)]
    pub refresh_min_seconds: Option<u64>,
}

/// A signature algorithm the engine accepts: asymmetric only. There is no
/// variant for `none` or HMAC, so no configuration can accept them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RS256,
    PS256,
    ES256,
    EdDSA,
}

impl Algorithm {
    pub const ALL: [Algorithm; 4] = [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::PS256 => "PS256",
            Algorithm::ES256 => "ES256",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The algorithm named exactly `name`, if accepted at all.
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
            Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

/// How the agent is named by a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentClaim {
    /// A string claim (`client_id`, `azp`, `sub`) is the agent id.
    Claim(String),
    /// `sub` is a SPIFFE ID; the pattern's `{agent}` part is the agent id.
    Spiffe { prefix: String, suffix: String },
}

/// One issuer's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    pub name: String,
    pub issuer: String,
    pub audience: String,
    pub algorithms: Vec<Algorithm>,
    pub leeway_ms: i64,
    pub required_claims: Vec<String>,
    pub agent_claim: AgentClaim,
    pub user_claim: String,
    pub claims: Vec<String>,
    pub refresh_min_ms: i64,
}

/// Default clock skew allowed, and the most a configuration may allow.
const DEFAULT_LEEWAY_S: u64 = 60;
const MAX_LEEWAY_S: u64 = 300;
const DEFAULT_REFRESH_MIN_S: u64 = 60;

fn invalid(name: &str, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::ConfigInvalid,
        format!("[identity.issuers.{name}]: {message}"),
    )
}

impl Issuer {
    /// Checks one `[identity.issuers.NAME]` (`config_invalid` naming it).
    pub fn from_config(
        name: &str,
        c: &IssuerConfig,
        default_audience: Option<&str>,
    ) -> Result<Issuer> {
        if c.issuer.trim().is_empty() {
            return Err(invalid(name, "`issuer` is empty"));
        }
        let audience = c
            .audience
            .as_deref()
            .or(default_audience)
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| {
                invalid(
                    name,
                    "no audience: set `[identity] audience` to this resource's identifier (RFC 8707), or `audience` here",
                )
            })?;
        let algorithms = match &c.algorithms {
            None => Algorithm::ALL.to_vec(),
            Some(list) => {
                let mut out = Vec::new();
                for a in list {
                    let alg = Algorithm::parse(a).ok_or_else(|| {
                        invalid(
                            name,
                            format!("algorithm {a:?} is not accepted (only RS256, PS256, ES256, EdDSA: asymmetric, never `none` or HMAC)"),
                        )
                    })?;
                    if !out.contains(&alg) {
                        out.push(alg);
                    }
                }
                if out.is_empty() {
                    return Err(invalid(name, "`algorithms` is empty"));
                }
                out
            }
        };
        let leeway = c.leeway_seconds.unwrap_or(DEFAULT_LEEWAY_S);
        if leeway > MAX_LEEWAY_S {
            return Err(invalid(
                name,
                format!("leeway_seconds {leeway} is more than {MAX_LEEWAY_S}"),
            ));
        }
        let agent_claim = match c.agent_claim.as_deref().unwrap_or("client_id") {
            "spiffe" => {
                let pattern = c.spiffe_pattern.as_deref().ok_or_else(|| {
                    invalid(name, "agent_claim = \"spiffe\" needs a `spiffe_pattern`, e.g. \"spiffe://example.org/agents/{agent}\"")
                })?;
                spiffe_pattern(name, pattern)?
            }
            claim @ ("client_id" | "azp" | "sub") => AgentClaim::Claim(claim.to_string()),
            other => {
                return Err(invalid(
                    name,
                    format!("agent_claim {other:?} is not one of client_id, azp, sub, spiffe"),
                ))
            }
        };
        if c.spiffe_pattern.is_some() && !matches!(agent_claim, AgentClaim::Spiffe { .. }) {
            return Err(invalid(
                name,
                "`spiffe_pattern` goes with agent_claim = \"spiffe\"",
            ));
        }
        let refresh = c.refresh_min_seconds.unwrap_or(DEFAULT_REFRESH_MIN_S);
        let to_ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        Ok(Issuer {
            name: name.to_string(),
            issuer: c.issuer.clone(),
            audience: audience.to_string(),
            algorithms,
            leeway_ms: to_ms(leeway),
            required_claims: c.required_claims.clone(),
            agent_claim,
            user_claim: c.user_claim.clone().unwrap_or_else(|| "sub".to_string()),
            claims: c.claims.clone(),
            refresh_min_ms: to_ms(refresh),
        })
    }
}

/// `spiffe://trust-domain/path/{agent}[/more]`: the `{agent}` part, once.
fn spiffe_pattern(name: &str, pattern: &str) -> Result<AgentClaim> {
    let Some(rest) = pattern.strip_prefix("spiffe://") else {
        return Err(invalid(name, "`spiffe_pattern` must start with spiffe://"));
    };
    let (prefix, suffix) = pattern
        .split_once("{agent}")
        .filter(|(_, s)| !s.contains("{agent}"))
        .ok_or_else(|| invalid(name, "`spiffe_pattern` must hold `{agent}` exactly once"))?;
    if !rest.contains('/') || !prefix.ends_with('/') {
        return Err(invalid(
            name,
            "`spiffe_pattern`: `{agent}` must be a whole path segment after the trust domain",
        ));
    }
    if !(suffix.is_empty() || suffix.starts_with('/')) {
        return Err(invalid(
            name,
            "`spiffe_pattern`: `{agent}` must be a whole path segment",
        ));
    }
    Ok(AgentClaim::Spiffe {
        prefix: prefix.to_string(),
        suffix: suffix.to_string(),
    })
}

impl AgentClaim {
    /// The agent id a SPIFFE ID names, when it matches the pattern: one
    /// non-empty path segment.
    pub fn spiffe_agent<'a>(prefix: &str, suffix: &str, id: &'a str) -> Option<&'a str> {
        let agent = id.strip_prefix(prefix)?.strip_suffix(suffix)?;
        (!agent.is_empty() && !agent.contains(['/', '?', '#', '%'])).then_some(agent)
    }
}
