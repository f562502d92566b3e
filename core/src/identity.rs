//! Identity-provider tokens as agent credentials: OAuth 2.1 / OIDC access
//! tokens and SPIFFE JWT-SVIDs (JWS compact form) verified against the
//! provider's JWKS.
//!
//! - Asymmetric signatures only (RS256, PS256, ES256, EdDSA): there is no
//!   way to configure `none` or HMAC, so a token signed with HS256 using the
//!   provider's public key as the secret is refused whatever it claims.
//! - The audience must be this resource (RFC 8707); `exp` is required; `nbf`
//!   and `iat` are honoured; all against the engine clock with a leeway.
//! - Keys come from the configuration (inline JSON or a file) or from the
//!   provider's `jwks_uri`, fetched at load and again only when a token names
//!   an unknown `kid`, at most once per `refresh_min_seconds`, never per call.
//! - A verified token is cached by its SHA-256 until it expires (bounded);
//!   its window is judged again on every use.
//! - Errors never hold the token: `token_invalid`, `token_expired`,
//!   `token_audience`, `issuer_unknown`, `jwks_unavailable`.
//!
//! Signatures are checked by `jsonwebtoken` (10.x, RustCrypto backend: pure
//! Rust, so the same code runs in WASM); the header and claims are read by
//! agentauthz's strict JSON reader.

mod config;
#[cfg(not(target_arch = "wasm32"))]
mod fetch;
mod keys;
mod token;

pub use config::{AgentClaim, Algorithm, IdentityConfig, Issuer, IssuerConfig};
pub use keys::KeySet;
pub use token::{TokenClaims, MAX_ACTOR_DEPTH, MAX_TOKEN_LEN};

use crate::error::{Error, ErrorCode, Result};
use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

/// Where an issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Jwks {
    /// Inline or from a file: fixed for the engine's life.
    Fixed,
    /// Fetched from this URL.
    Url(String),
}

/// One issuer: its settings, its current keys and when they were fetched.
#[derive(Debug)]
struct IssuerState {
    config: Issuer,
    jwks: Jwks,
    keys: ArcSwap<KeySet>,
    /// The last fetch attempt (engine-clock millis) and its error; held
    /// while fetching, so concurrent checks fetch once.
    fetch: Mutex<Fetch>,
}

#[derive(Debug, Default)]
struct Fetch {
    last_attempt: Option<i64>,
    last_error: Option<Error>,
}

/// Tokens held at once in the verified cache; expired ones make room first.
const VERIFIED_CAPACITY: usize = 4096;

/// The identity providers of an engine and the tokens they verified.
#[derive(Debug, Default)]
pub struct Identity {
    issuers: Vec<IssuerState>,
    /// By SHA-256 of the whole token. Only a token whose signature verified
    /// enters, so only an issuer can fill it; a busy lock is a miss.
    verified: RwLock<HashMap<[u8; 32], Arc<TokenClaims>>>,
}

fn unknown_issuer(iss: Option<&str>) -> Error {
    Error::new(
        ErrorCode::IssuerUnknown,
        match iss {
            Some(iss) => format!("issuer {iss:?} is not configured in [identity.issuers]"),
            None => "the token has no `iss`".to_string(),
        },
    )
}

impl Identity {
    /// Reads `[identity]`; JWKS files are relative to `dir`; JWKS URLs are
    /// fetched now (a failure is kept: that issuer's tokens are
    /// `jwks_unavailable` until a later fetch succeeds).
    pub fn from_config(c: &IdentityConfig, dir: Option<&Path>, now: i64) -> Result<Identity> {
        let mut issuers = Vec::new();
        for (name, ic) in &c.issuers {
            let config = Issuer::from_config(name, ic, c.audience.as_deref())?;
            if issuers
                .iter()
                .any(|i: &IssuerState| i.config.issuer == config.issuer)
            {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    format!(
                        "[identity.issuers.{name}]: issuer {:?} is configured twice",
                        config.issuer
                    ),
                ));
            }
            let what = format!("[identity.issuers.{name}] JWKS");
            let (jwks, keys) = match (&ic.jwks, &ic.jwks_file, &ic.jwks_url) {
                (Some(text), None, None) => (Jwks::Fixed, config_keys(&what, text)?),
                (None, Some(file), None) => {
                    let path = match dir {
                        Some(d) if Path::new(file).is_relative() => d.join(file),
                        _ => Path::new(file).to_path_buf(),
                    };
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        Error::new(
                            ErrorCode::ConfigInvalid,
                            format!("{what}: cannot read {}: {}", path.display(), e.kind()),
                        )
                    })?;
                    (Jwks::Fixed, config_keys(&what, &text)?)
                }
                (None, None, Some(url)) => {
                    check_url(name, url)?;
                    (Jwks::Url(url.clone()), KeySet::default())
                }
                _ => {
                    return Err(Error::new(
                        ErrorCode::ConfigInvalid,
                        format!("[identity.issuers.{name}]: give exactly one of `jwks`, `jwks_file`, `jwks_url`"),
                    ))
                }
            };
            let state = IssuerState {
                config,
                jwks,
                keys: ArcSwap::from_pointee(keys),
                fetch: Mutex::default(),
            };
            if matches!(state.jwks, Jwks::Url(_)) {
                // A failure is recorded; the engine still loads.
                if let Ok(mut fetch) = state.fetch.lock() {
                    let _ = state.refresh(&mut fetch, now);
                }
            }
            issuers.push(state);
        }
        Ok(Identity {
            issuers,
            verified: RwLock::default(),
        })
    }

    /// `self` (just built from a reloaded `[identity]`) keeping the keys
    /// `old` holds for an issuer whose keys still come from the same URL
    /// when this build has none (the provider was unreachable, or keys are
    /// given as data, as in a browser). Verified tokens are not kept: they
    /// are judged again under the new settings.
    pub fn keeping_keys_of(self, old: &Identity) -> Identity {
        for state in &self.issuers {
            let Jwks::Url(url) = &state.jwks else {
                continue;
            };
            let before = old.issuers.iter().find(|o| {
                o.config.issuer == state.config.issuer
                    && matches!(&o.jwks, Jwks::Url(u) if u == url)
            });
            if let Some(before) = before {
                if state.keys.load().is_empty() {
                    state.keys.store(before.keys.load_full());
                }
            }
        }
        self
    }

    /// Whether any issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// The configured issuers.
    pub fn issuers(&self) -> impl Iterator<Item = &Issuer> {
        self.issuers.iter().map(|i| &i.config)
    }

    /// Replaces the keys of the issuer whose `iss` is `issuer` (rotation at
    /// run time, or keys given as data in a browser); cached tokens are
    /// verified again.
    pub fn set_jwks(&self, issuer: &str, jwks: &str) -> Result<()> {
        let state = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == issuer)
            .ok_or_else(|| unknown_issuer(Some(issuer)))?;
        let keys = KeySet::parse(
            &format!("[identity.issuers.{}] JWKS", state.config.name),
            jwks,
        )?;
        state.keys.store(Arc::new(keys));
        self.clear();
        Ok(())
    }

    fn clear(&self) {
        if let Ok(mut map) = self.verified.write() {
            map.clear();
        }
    }

    /// Verifies `token` at `now` (engine-clock millis) and maps its claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<Arc<TokenClaims>> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self
            .verified
            .try_read()
            .ok()
            .and_then(|m| m.get(&digest).cloned());
        if let Some(claims) = cached {
            if let Some(state) = self
                .issuers
                .iter()
                .find(|i| i.config.name == claims.issuer_name)
            {
                claims.current(now, state.config.leeway_ms)?;
                return Ok(claims);
            }
        }
        let parsed = token::parse(token)?;
        let state = self
            .issuers
            .iter()
            .find(|i| Some(i.config.issuer.as_str()) == parsed.issuer())
            .ok_or_else(|| unknown_issuer(parsed.issuer()))?;
        let alg = parsed.algorithm(&state.config)?;
        let keys = state.keys_for(parsed.kid.as_deref(), now)?;
        if !parsed.verify_signature(&keys, alg) {
            return Err(Error::new(
                ErrorCode::TokenInvalid,
                match &parsed.kid {
                    Some(kid) if !keys.has_kid(kid) => {
                        format!("issuer {} publishes no key {kid:?}", state.config.name)
                    }
                    _ => format!(
                        "the signature does not verify with the keys of issuer {}",
                        state.config.name
                    ),
                },
            ));
        }
        let claims = Arc::new(token::check_claims(&state.config, &parsed.claims, now)?);
        self.remember(digest, claims.clone(), now);
        Ok(claims)
    }

    fn remember(&self, digest: [u8; 32], claims: Arc<TokenClaims>, now: i64) {
        let Ok(mut map) = self.verified.try_write() else {
            return;
        };
        if map.len() >= VERIFIED_CAPACITY {
            map.retain(|_, c| c.expires_at > now);
        }
        if map.len() < VERIFIED_CAPACITY {
            map.insert(digest, claims);
        }
    }

    #[doc(hidden)]
    pub fn cached_tokens(&self) -> usize {
        self.verified.read().map(|m| m.len()).unwrap_or(0)
    }
}

fn config_keys(what: &str, text: &str) -> Result<KeySet> {
    // A bad configured JWKS refuses the bundle, not each token.
    KeySet::parse(what, text).map_err(|e| Error::new(ErrorCode::ConfigInvalid, e.message()))
}

/// `https://`, or `http://` to the loopback host only (tests).
fn check_url(name: &str, url: &str) -> Result<()> {
    let loopback = [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://localhost:",
        "http://localhost/",
        "http://[::1]:",
    ];
    if url.starts_with("https://") || loopback.iter().any(|p| url.starts_with(p)) {
        if cfg!(target_arch = "wasm32") {
            return Err(Error::new(
                ErrorCode::ConfigInvalid,
                format!("[identity.issuers.{name}]: `jwks_url` is not fetched in WASM: give the JWKS as `jwks` (data)"),
            ));
        }
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::ConfigInvalid,
        format!("[identity.issuers.{name}]: `jwks_url` must be https:// (http:// only to 127.0.0.1 or localhost)"),
    ))
}

impl IssuerState {
    /// The keys to verify a token naming `kid`: the current ones, fetched
    /// again first when `kid` is unknown (or none were fetched yet) and the
    /// last attempt is at least `refresh_min_seconds` old.
    fn keys_for(&self, kid: Option<&str>, now: i64) -> Result<Arc<KeySet>> {
        let knows = |k: &KeySet| !k.is_empty() && kid.is_none_or(|kid| k.has_kid(kid));
        let keys = self.keys.load_full();
        if knows(&keys) || self.jwks == Jwks::Fixed {
            return Ok(keys);
        }
        let Ok(mut fetch) = self.fetch.lock() else {
            return Err(Error::new(ErrorCode::Internal, "a JWKS fetch panicked"));
        };
        // Another check may have fetched while this one waited.
        let keys = self.keys.load_full();
        if knows(&keys) {
            return Ok(keys);
        }
        let due = fetch
            .last_attempt
            .is_none_or(|t| now.saturating_sub(t) >= self.config.refresh_min_ms);
        if due {
            return self
                .refresh(&mut fetch, now)
                .map(|()| self.keys.load_full())
                .or_else(|e| {
                    let keys = self.keys.load_full();
                    if keys.is_empty() {
                        Err(e)
                    } else {
                        Ok(keys)
                    }
                });
        }
        if keys.is_empty() {
            return Err(fetch.last_error.clone().unwrap_or_else(|| {
                Error::new(
                    ErrorCode::JwksUnavailable,
                    format!("issuer {}: no keys yet", self.config.name),
                )
            }));
        }
        Ok(keys)
    }

    /// Fetches the JWKS now, the fetch lock held by the caller throughout.
    fn refresh(&self, fetch: &mut Fetch, now: i64) -> Result<()> {
        let Jwks::Url(url) = &self.jwks else {
            return Ok(());
        };
        fetch.last_attempt = Some(now);
        let what = format!("issuer {} JWKS", self.config.name);
        #[cfg(not(target_arch = "wasm32"))]
        let result = fetch::get(url, &what).and_then(|text| KeySet::parse(&what, &text));
        #[cfg(target_arch = "wasm32")]
        let result: Result<KeySet> = Err(Error::new(
            ErrorCode::JwksUnavailable,
            format!("{what}: {url} is not fetched in WASM"),
        ));
        match result {
            Ok(keys) => {
                self.keys.store(Arc::new(keys));
                fetch.last_error = None;
                Ok(())
            }
            Err(e) => {
                fetch.last_error = Some(e.clone());
                Err(e)
            }
        }
    }
}
