//! Fetching a JWKS over HTTP(S) with the crate's one HTTP client setup
//! ([`crate::http`]): bounded in time and size, no redirects, no proxy.

use crate::error::{Error, ErrorCode, Result};
use crate::http;
use std::time::Duration;

/// A JWKS is a few kilobytes; more is refused.
const MAX_JWKS_BYTES: u64 = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

/// The body of `GET url` (2xx only); errors are `jwks_unavailable`.
pub(super) fn get(url: &str, what: &str) -> Result<String> {
    let unavailable = |m: String| Error::new(ErrorCode::JwksUnavailable, format!("{what}: {m}"));
    let accept = "application/jwk-set+json, application/json";
    let body = http::get(
        &http::agent(TIMEOUT),
        url,
        Some(accept),
        MAX_JWKS_BYTES,
        None,
    )
    .map_err(unavailable)?
    .ok_or_else(|| unavailable(format!("{url} answered 304 to an unconditional request")))?;
    String::from_utf8(body.bytes).map_err(|_| unavailable(format!("{url}: the body is not UTF-8")))
}
