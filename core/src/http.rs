//! The one HTTP client setup (`ureq`, blocking, rustls with the webpki roots):
//! every request bounded in time, no redirects (a redirect could lead a
//! fetch of keys or policies elsewhere), no proxy from the environment, and
//! every status handed back rather than turned into an error. JWKS fetches,
//! bundle polls and the OTLP exporter all use it.

use std::time::Duration;

/// An agent with the settings above and `timeout` for each whole request.
pub(crate) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .new_agent()
}

/// Validators of a cached copy, for a conditional `GET`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Validators<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

/// A body with its `ETag` and `Last-Modified`.
#[derive(Debug)]
pub(crate) struct Body {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// `GET url`: `Ok(None)` when the server answers 304 to `validators`, the
/// body (at most `limit` bytes) on a 2xx, else an error message (for the
/// caller's own error code) naming the URL.
pub(crate) fn get(
    agent: &ureq::Agent,
    url: &str,
    accept: Option<&str>,
    limit: u64,
    validators: Option<Validators<'_>>,
) -> Result<Option<Body>, String> {
    let mut request = agent.get(url);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    if let Some(v) = validators {
        if let Some(etag) = v.etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(lm) = v.last_modified {
            request = request.header("If-Modified-Since", lm);
        }
    }
    let mut response = request
        .call()
        .map_err(|e| format!("fetching {url} failed: {e}"))?;
    let status = response.status();
    if status.as_u16() == 304 && validators.is_some() {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (etag, last_modified) = (header("etag"), header("last-modified"));
    let bytes = response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| format!("reading {url} failed: {e}"))?;
    Ok(Some(Body {
        bytes,
        etag,
        last_modified,
    }))
}
