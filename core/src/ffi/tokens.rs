//! Identity-provider tokens: check a request made with one, verify one, and
//! replace an issuer's keys (a browser gives the JWKS as data).

use super::convert::{from_value, parse_text, to_text, to_value};
use crate::engine::Engine;
use crate::error::{ErrorCode, Result};
use crate::identity::TokenClaims;
use crate::model::{Decision, TokenRequest};
use serde_json::Value;

/// Decides a request made with an identity provider's token.
pub fn check_token(engine: &Engine, request: &TokenRequest) -> Result<Decision> {
    engine.check_token(request)
}

/// `{token, action, resource, context?, task?, credential?}` → Decision.
pub fn check_token_value(engine: &Engine, request: Value) -> Result<Value> {
    let request = from_value(request, ErrorCode::RequestParse, "token request")?;
    check_token(engine, &request).map(|d| to_value(&d))
}

/// [`check_token_value`] over JSON text.
pub fn check_token_json(engine: &Engine, request: &str) -> Result<String> {
    let request = parse_text(request, "token request", ErrorCode::RequestParse)?;
    check_token_value(engine, request).map(|d| d.to_string())
}

/// Verifies a token; its claims as mapped (never the token).
pub fn verify_token(engine: &Engine, token: &str) -> Result<TokenClaims> {
    engine.verify_token(token)
}

/// [`verify_token`] with the claims as a JSON value.
pub fn verify_token_value(engine: &Engine, token: &str) -> Result<Value> {
    verify_token(engine, token).map(|c| to_value(&c))
}

/// [`verify_token`] with the claims as JSON text.
pub fn verify_token_json(engine: &Engine, token: &str) -> Result<String> {
    to_text(&verify_token(engine, token)?)
}

/// Replaces the keys of the configured issuer `issuer` (its `iss`) with a JWKS given as JSON text.
pub fn set_issuer_jwks(engine: &Engine, issuer: &str, jwks: &str) -> Result<()> {
    engine.identity().set_jwks(issuer, jwks)
}
