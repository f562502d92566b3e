//! Fetching a JWKS over HTTP(S) with `ureq` (the client the OTLP exporter
//! uses; rustls with the webpki roots for `https`). Blocking, bounded in
//! time and size, no redirects, no proxy from the environment.

use crate::error::{Error, ErrorCode, Result};
use std::time::Duration;

/// A JWKS is a few kilobytes; more is refused.
const MAX_JWKS_BYTES: u64 = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

/// The body of `GET url` (2xx only); errors are `jwks_unavailable`.
pub(super) fn get(url: &str, what: &str) -> Result<String> {
    let unavailable = |m: String| Error::new(ErrorCode::JwksUnavailable, format!("{what}: {m}"));
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .new_agent();
    let mut response = agent
        .get(url)
        .header("Accept", "application/jwk-set+json, application/json")
        .call()
        .map_err(|e| unavailable(format!("fetching {url} failed: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(unavailable(format!("{url} answered {status}")));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_JWKS_BYTES)
        .read_to_string()
        .map_err(|e| unavailable(format!("reading {url} failed: {e}")))
}
