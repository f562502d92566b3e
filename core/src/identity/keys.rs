//! JSON Web Key Sets: the public keys of an identity provider.

use super::config::Algorithm;
use crate::error::{Error, ErrorCode, Result};
use crate::limits::{parse_json, Input, Limits};
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};
use std::fmt;

/// RSA moduli shorter than this (bits) are refused (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;
/// Keys held from one JWKS at most.
const MAX_KEYS: usize = 64;

/// What a key can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Rsa,
    P256,
    Ed25519,
}

/// One usable signature key.
#[derive(Clone)]
struct Key {
    kid: Option<String>,
    family: Family,
    /// The `alg` the JWK pins, if any.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// The verification keys of one issuer.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| k.kid.as_deref()).collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

fn unavailable(what: &str, message: impl fmt::Display) -> Error {
    Error::new(ErrorCode::JwksUnavailable, format!("{what}: {message}"))
}

fn text<'a>(jwk: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

impl KeySet {
    /// Reads a JWKS (`{"keys": [...]}`); `what` names it in errors
    /// (`jwks_unavailable`). Keys that are not for signatures, symmetric
    /// (`oct`), of another curve or too short are left out; a set with no
    /// usable key is an error.
    pub fn parse(what: &str, json: &str) -> Result<KeySet> {
        let value = parse_json(&Limits::default(), Input::Config, what, json)
            .map_err(|e| unavailable(what, e.message()))?;
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| unavailable(what, "not a JWKS: no `keys` array"))?;
        let mut out = Vec::new();
        for jwk in keys.iter().filter_map(Value::as_object) {
            if let Some(key) = Key::from_jwk(jwk) {
                out.push(key);
            }
            if out.len() >= MAX_KEYS {
                break;
            }
        }
        if out.is_empty() {
            return Err(unavailable(
                what,
                "no usable signature key (RSA >= 2048 bits, EC P-256 or Ed25519)",
            ));
        }
        Ok(KeySet { keys: out })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The keys that may verify a token signed with `alg` under `kid`: the
    /// key with that kid (when the token names one), of the algorithm's
    /// family and not pinned to another algorithm.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a DecodingKey> + 'a {
        let family = match alg {
            Algorithm::RS256 | Algorithm::PS256 => Family::Rsa,
            Algorithm::ES256 => Family::P256,
            Algorithm::EdDSA => Family::Ed25519,
        };
        self.keys
            .iter()
            .filter(move |k| kid.is_none() || k.kid.as_deref() == kid)
            .filter(move |k| k.family == family && k.alg.is_none_or(|a| a == alg))
            .map(|k| &k.key)
    }
}

impl Key {
    fn from_jwk(jwk: &Map<String, Value>) -> Option<Key> {
        if text(jwk, "use").is_some_and(|u| u != "sig") {
            return None;
        }
        if let Some(ops) = jwk.get("key_ops").and_then(Value::as_array) {
            if !ops.iter().any(|o| o.as_str() == Some("verify")) {
                return None;
            }
        }
        let alg = match text(jwk, "alg") {
            None => None,
            // A key pinned to an algorithm the engine refuses is never used.
            Some(a) => Some(Algorithm::parse(a)?),
        };
        let kid = text(jwk, "kid").map(str::to_string);
        let (family, key) = match text(jwk, "kty")? {
            "RSA" => {
                let n = text(jwk, "n")?;
                let e = text(jwk, "e")?;
                // base64url without padding: 4 characters per 3 bytes.
                let bits = n.trim_start_matches('A').len() * 6;
                if bits < MIN_RSA_BITS {
                    return None;
                }
                (Family::Rsa, DecodingKey::from_rsa_components(n, e).ok()?)
            }
            "EC" if text(jwk, "crv") == Some("P-256") => {
                let (x, y) = (text(jwk, "x")?, text(jwk, "y")?);
                (Family::P256, DecodingKey::from_ec_components(x, y).ok()?)
            }
            "OKP" if text(jwk, "crv") == Some("Ed25519") => (
                Family::Ed25519,
                DecodingKey::from_ed_components(text(jwk, "x")?).ok()?,
            ),
            _ => return None,
        };
        if alg.is_some_and(|a| {
            !matches!(
                (a, family),
                (Algorithm::RS256 | Algorithm::PS256, Family::Rsa)
                    | (Algorithm::ES256, Family::P256)
                    | (Algorithm::EdDSA, Family::Ed25519)
            )
        }) {
            return None;
        }
        Some(Key {
            kid,
            family,
            alg,
            key,
        })
    }
}
