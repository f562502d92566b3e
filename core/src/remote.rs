//! Bundles pulled from a URL (`[bundle] url`): a conditional GET of the
//! archive (`If-None-Match`, `If-Modified-Since`), its detached signature at
//! `URL.sig`, verification before anything is activated, and a cache of the
//! last verified bundle on disk so an engine restarts without the server.

use crate::archive::{self, BundleKeys, VerifiedBundle};
use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Default seconds between polls.
pub const DEFAULT_POLL_SECONDS: u64 = 30;

pub use crate::bundle::BundleUrlConfig;

/// Where a bundle comes from and what it is checked with.
#[derive(Debug, Clone)]
pub struct RemoteBundle {
    pub url: String,
    pub keys: BundleKeys,
    pub poll: std::time::Duration,
    pub cache_dir: PathBuf,
    pub allow_http: bool,
}

impl RemoteBundle {
    /// From `[bundle]`; relative paths (cache, key files) against `dir`.
    pub fn from_config(c: &BundleUrlConfig, dir: Option<&Path>) -> Result<Option<RemoteBundle>> {
        let Some(url) = &c.url else {
            return Ok(None);
        };
        let base = dir.map(Path::to_path_buf).unwrap_or_default();
        let cache = c.cache_dir.as_deref().unwrap_or("bundle-cache");
        let remote = RemoteBundle {
            url: url.clone(),
            keys: BundleKeys::from_map(&c.public_keys, dir)?,
            poll: std::time::Duration::from_secs(c.poll_seconds.unwrap_or(DEFAULT_POLL_SECONDS)),
            cache_dir: base.join(cache),
            allow_http: c.allow_http,
        };
        remote.check()?;
        Ok(Some(remote))
    }

    /// `https://` (or `http://` to loopback, or with `allow_http`), and keys.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| {
            Err(Error::new(
                ErrorCode::ConfigInvalid,
                format!("[bundle] {m}"),
            ))
        };
        if self.keys.is_empty() {
            return bad(
                "url needs public_keys: a bundle is activated only once its signature verifies"
                    .into(),
            );
        }
        if let Some(rest) = self.url.strip_prefix("http://") {
            if !self.allow_http && !is_loopback(rest) {
                return bad(format!(
                    "url {}: plain http only to 127.0.0.1, [::1] or localhost (or allow_http = true)",
                    self.url
                ));
            }
        } else if !self.url.starts_with("https://") {
            return bad(format!("url {}: not an https:// URL", self.url));
        }
        Ok(())
    }
}

fn is_loopback(rest: &str) -> bool {
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What the last poll found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BundleStatus {
    pub url: String,
    /// The revision of the active bundle (content hash of its archive).
    pub revision: Option<String>,
    /// Key id that signed the active bundle.
    pub kid: Option<String>,
    /// `network` or `cache` (started from the cached copy).
    pub source: Option<String>,
    /// RFC 3339 time of the last poll.
    pub last_poll: Option<String>,
    /// `updated`, `not_modified`, `unchanged` (a new ETag, the same
    /// revision) or `error`.
    pub last_result: Option<String>,
    /// The error code and message of the last failed poll.
    pub last_error: Option<String>,
    pub polls: u64,
    pub failures: u64,
}

/// Validators the server gave with the active archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheMeta {
    pub url: String,
    pub revision: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A fetched, verified bundle with its validators.
#[derive(Debug, Clone)]
pub struct Download {
    pub verified: VerifiedBundle,
    pub archive: Vec<u8>,
    pub signature: Vec<u8>,
    pub meta: CacheMeta,
}

/// What one poll found.
#[derive(Debug)]
pub enum Fetched {
    NotModified,
    New(Box<Download>),
}

const ARCHIVE: &str = "bundle.tar.gz";
const SIGNATURE: &str = "bundle.tar.gz.sig";
const META: &str = "meta.json";

/// The last verified bundle on disk, verified again (the disk is not trusted more than the network).
pub fn read_cache(remote: &RemoteBundle) -> Result<Download> {
    let dir = &remote.cache_dir;
    let read = |n: &str| {
        std::fs::read(dir.join(n)).map_err(|e| {
            Error::new(
                ErrorCode::BundleUnavailable,
                format!("no cached bundle in {}: {e}", dir.display()),
            )
        })
    };
    let archive_bytes = read(ARCHIVE)?;
    let signature = read(SIGNATURE)?;
    let meta: CacheMeta = serde_json::from_slice(&read(META)?).map_err(|e| {
        Error::new(
            ErrorCode::BundleUnavailable,
            format!("cache meta.json: {e}"),
        )
    })?;
    let verified = archive::verify(&archive_bytes, &signature, &remote.keys)?;
    Ok(Download {
        verified,
        archive: archive_bytes,
        signature,
        meta,
    })
}

/// Keeps a verified bundle: each file written to a temporary name and
/// renamed (never a half-written file), the metadata last.
pub fn write_cache(remote: &RemoteBundle, d: &Download) -> Result<()> {
    let dir = &remote.cache_dir;
    let io = |e: std::io::Error| {
        Error::new(
            ErrorCode::Io,
            format!("bundle cache {}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let meta =
        serde_json::to_vec(&d.meta).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
    // A crash between two renames leaves a mismatched pair: read_cache
    // verifies archive and signature together, so such a pair is refused, never used.
    for (name, bytes) in [
        (ARCHIVE, &d.archive),
        (SIGNATURE, &d.signature),
        (META, &meta),
    ] {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, dir.join(name)).map_err(io)?;
    }
    Ok(())
}

#[cfg(not(target_arch = "wasm32"))]
pub use fetch::fetch;

#[cfg(not(target_arch = "wasm32"))]
mod fetch {
    use super::{CacheMeta, Download, Fetched, RemoteBundle};
    use crate::archive::{self, MAX_ARCHIVE_BYTES, MAX_SIGNATURE_BYTES};
    use crate::error::{Error, ErrorCode, Result};
    use crate::http::{self, Validators};
    use std::time::Duration;

    const TIMEOUT: Duration = Duration::from_secs(30);

    fn unavailable(m: String) -> Error {
        Error::new(ErrorCode::BundleUnavailable, m)
    }

    /// One poll: `NotModified` on a 304, else the archive and its signature,
    /// verified. Nothing is activated or cached here.
    pub fn fetch(remote: &RemoteBundle, validators: Option<&CacheMeta>) -> Result<Fetched> {
        let agent = http::agent(TIMEOUT);
        let validators = validators.map(|m| Validators {
            etag: m.etag.as_deref(),
            last_modified: m.last_modified.as_deref(),
        });
        let Some(archive) = http::get(
            &agent,
            &remote.url,
            None,
            MAX_ARCHIVE_BYTES as u64,
            validators,
        )
        .map_err(unavailable)?
        else {
            return Ok(Fetched::NotModified);
        };
        let sig_url = format!("{}.sig", remote.url);
        let signature = http::get(&agent, &sig_url, None, MAX_SIGNATURE_BYTES as u64, None)
            .map_err(unavailable)?
            .ok_or_else(|| unavailable(format!("{sig_url}: no signature")))?
            .bytes;
        let verified = archive::verify(&archive.bytes, &signature, &remote.keys)?;
        Ok(Fetched::New(Box::new(Download {
            meta: CacheMeta {
                url: remote.url.clone(),
                revision: verified.revision.clone(),
                etag: archive.etag,
                last_modified: archive.last_modified,
            },
            verified,
            archive: archive.bytes,
            signature,
        })))
    }
}
