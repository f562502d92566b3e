//! A bundle pulled from a URL: the first fetch at build (or the cached copy),
//! then polls that activate a new revision through the same path as
//! `reload` — verified first, compiled, swapped; on any failure the active
//! snapshot stays and the poll's error is reported.

use super::follow;
use super::reload::{reloaded_config, reloaded_identity, replay, request_agent_exists, Overrides};
use super::snapshot::Snapshot;
use super::usage::Usage;
use super::writer::{lock, Writer};
use crate::audit::DecisionLog;
use crate::bundle::Bundle;
use crate::error::Result;
use crate::identity::Identity;
use crate::limits::Limits;
use crate::remote::{self, BundleStatus, CacheMeta, Download, RemoteBundle};
use crate::time::{format_millis, Clock, DecisionIds};
use arc_swap::{ArcSwap, ArcSwapOption};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What a reload needs of an engine, shareable with a polling thread.
#[derive(Debug, Clone)]
pub(super) struct ReloadParts {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub writer: Arc<Mutex<Writer>>,
    pub log: Arc<ArcSwapOption<DecisionLog>>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<DecisionIds>,
    pub usage: Arc<Usage>,
    pub identity: Arc<ArcSwap<Identity>>,
    pub overrides: Overrides,
    pub limits: Option<Limits>,
    /// `[metrics.otlp]`: restarted when a reload changes it.
    #[cfg(not(target_arch = "wasm32"))]
    pub metrics_export: Arc<super::metrics_otlp::Slot>,
    #[cfg(not(target_arch = "wasm32"))]
    pub metrics: Arc<super::metrics::Metrics>,
    #[cfg(not(target_arch = "wasm32"))]
    pub health: Option<Arc<crate::store::Health>>,
}

impl ReloadParts {
    /// Compiles `bundle`, applies the run-time changes again, swaps it in.
    /// On error the current snapshot stays active.
    pub fn reload(&self, mut bundle: Bundle) -> Result<()> {
        if let Some(limits) = self.limits {
            bundle.options.limits = limits;
        }
        let mut writer = lock(&self.writer)?;
        let compiled = self.overrides.compile(bundle)?;
        let config = reloaded_config(&compiled)?;
        let identity = reloaded_identity(
            &compiled,
            &config,
            &self.identity.load(),
            self.clock.now_millis(),
        )?;
        let (snapshot, skipped) = if writer.fleet.is_some() {
            follow::replay_each(&compiled, &writer.history)?
        } else {
            replay(&compiled, &writer.history)?
        };
        // Last, as it starts a thread: a section that cannot start fails the
        // reload with the old exporter still running.
        #[cfg(not(target_arch = "wasm32"))]
        let metrics_export = self
            .metrics_export
            .prepare(config.metrics.otlp.as_ref(), || {
                super::metrics_otlp::gather_from(
                    &self.metrics,
                    &self.log,
                    &self.health,
                    &self.clock,
                )
            })?;
        #[cfg(target_arch = "wasm32")]
        super::metrics::refuse_otlp_in_wasm(&config.metrics)?;
        writer.skipped = skipped.clone();
        // Counters of agents the new bundle no longer has are dropped.
        self.usage
            .retain(|agent| request_agent_exists(&snapshot, agent));
        self.snapshot.store(Arc::new(snapshot));
        self.identity.store(Arc::new(identity));
        #[cfg(not(target_arch = "wasm32"))]
        self.metrics_export.install(metrics_export);
        drop(writer);
        if let Some(log) = self.log.load_full() {
            let snapshot = self.snapshot.load();
            let now = self.clock.now_millis();
            follow::record_skips(&log, &snapshot, &self.ids, now, &skipped);
        }
        Ok(())
    }
}

/// The URL, what the last poll found, and the validators of the active archive.
#[derive(Debug)]
pub(super) struct RemoteState {
    pub remote: RemoteBundle,
    /// Where the bundle's own relative paths resolve (the local directory).
    pub dir: Option<PathBuf>,
    pub status: Mutex<BundleStatus>,
    pub meta: Mutex<Option<CacheMeta>>,
    /// One poll at a time (the thread and `poll_bundle`).
    pub polling: Mutex<()>,
}

pub(super) fn bundle_of(d: &Download, dir: Option<&Path>) -> Bundle {
    d.verified.files.to_bundle(dir)
}

/// The first bundle: fetched (conditionally, when a verified copy is
/// cached), else the cached copy; neither is `bundle_unavailable` (or the
/// verification error). Returns the bundle to build from and the state.
pub(super) fn initial(
    remote: RemoteBundle,
    dir: Option<&Path>,
    now: i64,
) -> Result<(Bundle, RemoteState)> {
    let cached = remote::read_cache(&remote).ok();
    let mut status = BundleStatus {
        url: remote.url.clone(),
        last_poll: Some(format_millis(now)),
        polls: 1,
        ..BundleStatus::default()
    };
    let validators = cached.as_ref().map(|c| &c.meta);
    let chosen = match fetch(&remote, validators) {
        Ok(remote::Fetched::New(d)) => {
            status.last_result = Some("updated".into());
            status.source = Some("network".into());
            // Kept before activation only as a candidate: read_cache verifies it again.
            remote::write_cache(&remote, &d)?;
            *d
        }
        Ok(remote::Fetched::NotModified) => {
            status.last_result = Some("not_modified".into());
            status.source = Some("cache".into());
            cached.ok_or_else(|| {
                crate::error::Error::new(
                    crate::error::ErrorCode::Internal,
                    "a 304 without a cached copy",
                )
            })?
        }
        Err(e) => match cached {
            Some(c) => {
                status.last_result = Some("error".into());
                status.last_error = Some(e.to_string());
                status.failures = 1;
                status.source = Some("cache".into());
                warn(&remote.url, &e.to_string());
                c
            }
            None => return Err(e),
        },
    };
    status.revision = Some(chosen.verified.revision.clone());
    status.kid = Some(chosen.verified.kid.clone());
    let bundle = bundle_of(&chosen, dir);
    let state = RemoteState {
        remote,
        dir: dir.map(Path::to_path_buf),
        status: Mutex::new(status),
        meta: Mutex::new(Some(chosen.meta)),
        polling: Mutex::new(()),
    };
    Ok((bundle, state))
}

#[cfg(not(target_arch = "wasm32"))]
fn fetch(r: &RemoteBundle, v: Option<&CacheMeta>) -> Result<remote::Fetched> {
    remote::fetch(r, v)
}

#[cfg(target_arch = "wasm32")]
fn fetch(_: &RemoteBundle, _: Option<&CacheMeta>) -> Result<remote::Fetched> {
    Err(crate::error::Error::new(
        crate::error::ErrorCode::BundleUnavailable,
        "no HTTP client on wasm32: fetch the bundle and verify it with verifyBundle",
    ))
}

/// Bundle poll failures go to standard error: the engine keeps deciding on
/// the active bundle, and an operator must learn why a new one did not arrive.
fn warn(url: &str, message: &str) {
    eprintln!("agentauthz: bundle {url}: the active bundle stays: {message}");
}

impl RemoteState {
    /// One poll: fetch, verify, activate through `parts`, cache. Any failure
    /// leaves the active snapshot and is reported in the status.
    pub fn poll(&self, parts: &ReloadParts) -> BundleStatus {
        let _one = self.polling.lock().unwrap_or_else(|p| p.into_inner());
        let meta = self.meta.lock().map(|m| m.clone()).unwrap_or(None);
        let result = fetch(&self.remote, meta.as_ref()).and_then(|fetched| match fetched {
            remote::Fetched::NotModified => Ok(("not_modified", None)),
            remote::Fetched::New(d) => {
                let same = meta
                    .as_ref()
                    .is_some_and(|m| m.revision == d.verified.revision);
                if !same {
                    parts.reload(bundle_of(&d, self.dir.as_deref()))?;
                }
                remote::write_cache(&self.remote, &d)?;
                if let Ok(mut m) = self.meta.lock() {
                    *m = Some(d.meta.clone());
                }
                Ok((if same { "unchanged" } else { "updated" }, Some(d)))
            }
        });
        let now = parts.clock.now_millis();
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        status.polls += 1;
        status.last_poll = Some(format_millis(now));
        match result {
            Ok((what, d)) => {
                status.last_result = Some(what.into());
                status.last_error = None;
                if let Some(d) = d {
                    status.revision = Some(d.verified.revision.clone());
                    status.kid = Some(d.verified.kid.clone());
                    status.source = Some("network".into());
                }
            }
            Err(e) => {
                status.last_result = Some("error".into());
                status.last_error = Some(e.to_string());
                status.failures += 1;
                warn(&self.remote.url, &e.to_string());
            }
        }
        status.clone()
    }
}

/// Polls every `remote.poll` until stopped (or the engine is dropped).
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn start(
    state: Arc<RemoteState>,
    parts: ReloadParts,
) -> std::io::Result<follow::StopOnDrop> {
    use std::sync::atomic::Ordering;
    let stop = follow::StopOnDrop::default();
    let flag = stop.0.clone();
    let every = state.remote.poll;
    std::thread::Builder::new()
        .name("agentauthz-bundle".into())
        .spawn(move || {
            let step = std::time::Duration::from_millis(50);
            loop {
                let mut waited = std::time::Duration::ZERO;
                while waited < every {
                    if flag.load(Ordering::Acquire) {
                        return;
                    }
                    std::thread::sleep(step.min(every - waited));
                    waited += step;
                }
                if flag.load(Ordering::Acquire) {
                    return;
                }
                state.poll(&parts);
            }
        })?;
    Ok(stop)
}
