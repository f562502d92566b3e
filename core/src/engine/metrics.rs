//! Decision counters and a check-latency histogram, updated on the check path
//! with relaxed atomics and one lock-free table lookup; read by
//! [`crate::Engine::metrics`] and the OTLP metrics exporter.
//!
//! Cardinality is bounded: at most [`MAX_SERIES`] (action, reason) pairs get
//! their own counters; later pairs, actions the schema does not declare
//! (`baseline/unknown-action`), over-long labels and requests that raised
//! count under the action [`OTHER`]. A caller sending a million distinct
//! action names therefore adds at most one series.

use crate::audit::DecisionLog;
use crate::model::{Decision, Effect, Request};
use crate::store::Health;
use arc_swap::ArcSwapOption;
use serde::Serialize;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Distinct (action, reason) pairs with counters of their own.
pub const MAX_SERIES: usize = 1000;
/// Longer action or reason labels fold into [`OTHER`].
pub const MAX_LABEL_BYTES: usize = 128;
/// The action label of everything folded.
pub const OTHER: &str = "other";
/// Outcomes counted: the three decisions and requests that raised.
pub const OUTCOMES: [&str; 4] = ["allow", "deny", "needs_approval", "error"];
const ERROR: usize = 3;
/// Upper bounds (microseconds, inclusive) of the latency buckets; one more
/// bucket takes everything slower.
pub const LATENCY_BOUNDS_US: [u64; 16] = [
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 100_000, 1_000_000,
];
const BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

struct Series {
    hash: u64,
    action: Box<str>,
    reason: Box<str>,
    counts: [AtomicU64; 4],
}

/// Slots of the series table: a power of two, twice [`MAX_SERIES`], so a
/// probe always meets an empty slot.
const SLOTS: usize = 2048;
const _: () = assert!(SLOTS.is_power_of_two() && SLOTS >= 2 * MAX_SERIES);

/// An open-addressed table filled once per slot: a lookup is a few atomic
/// loads and never locks; an insert (at most [`MAX_SERIES`] in the engine's
/// life) takes a mutex and fills one slot, copying nothing.
struct Table {
    slots: Box<[OnceLock<Box<Series>>]>,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl Table {
    /// The series of these labels, or the empty slot where they would go.
    fn probe(
        &self,
        hash: u64,
        action: &str,
        reason: &str,
    ) -> Result<&Series, &OnceLock<Box<Series>>> {
        // `as usize` keeps the low bits, all the mask needs.
        let mut i = hash as usize & (SLOTS - 1);
        loop {
            let slot = &self.slots[i];
            match slot.get() {
                None => return Err(slot),
                Some(s) if s.hash == hash && &*s.action == action && &*s.reason == reason => {
                    return Ok(s)
                }
                Some(_) => i = (i + 1) & (SLOTS - 1),
            }
        }
    }

    fn series(&self) -> impl Iterator<Item = &Series> {
        self.slots.iter().filter_map(|s| s.get().map(|b| &**b))
    }
}

pub(crate) struct Metrics {
    table: Table,
    /// Held by inserts; the number of series so far.
    grow: Mutex<usize>,
    full: AtomicBool,
    /// Per outcome, everything folded into [`OTHER`] by the cap.
    overflow: [AtomicU64; 4],
    latency: [AtomicU64; BUCKETS],
    latency_sum_ns: AtomicU64,
}

fn key_hash(action: &str, reason: &str) -> u64 {
    // Fixed keys: the table is capped, so a chosen collision costs the
    // attacker a slot, nothing more.
    let mut h = std::hash::DefaultHasher::new();
    action.hash(&mut h);
    reason.hash(&mut h);
    h.finish()
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field(
                "series",
                &*self.grow.lock().unwrap_or_else(|e| e.into_inner()),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            table: Table::default(),
            grow: Mutex::new(0),
            full: AtomicBool::new(false),
            overflow: Default::default(),
            latency: Default::default(),
            latency_sum_ns: AtomicU64::new(0),
        }
    }
}

/// The action label of a request (before folding).
fn action_of(request: &Request) -> &str {
    match request {
        Request::Agent(r) => &r.action,
        Request::Cedar(r) => &r.action.id,
    }
}

impl Metrics {
    /// Counts one finished decision.
    pub(crate) fn decided(&self, request: &Request, decision: &Decision, unknown_action: bool) {
        let outcome = match decision.decision {
            Effect::Allow => 0,
            Effect::Deny => 1,
            Effect::NeedsApproval => 2,
        };
        let reason = decision.reasons.first().map_or("", String::as_str);
        let action = if unknown_action {
            OTHER
        } else {
            action_of(request)
        };
        self.count(outcome, action, reason);
    }

    /// Counts a request that raised, by its error code.
    pub(crate) fn raised(&self, code: &str) {
        self.count(ERROR, OTHER, code);
    }

    fn count(&self, outcome: usize, action: &str, reason: &str) {
        if action.len() > MAX_LABEL_BYTES || reason.len() > MAX_LABEL_BYTES {
            return self.count(outcome, OTHER, OTHER);
        }
        let hash = key_hash(action, reason);
        if let Ok(s) = self.table.probe(hash, action, reason) {
            s.counts[outcome].fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.full.load(Ordering::Relaxed) {
            self.overflow[outcome].fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.insert(hash, action, reason) {
            Some(s) => s.counts[outcome].fetch_add(1, Ordering::Relaxed),
            None => self.overflow[outcome].fetch_add(1, Ordering::Relaxed),
        };
    }

    /// The series of these labels, made if there is room (`None`: full).
    #[cold]
    fn insert(&self, hash: u64, action: &str, reason: &str) -> Option<&Series> {
        let mut len = self.grow.lock().unwrap_or_else(|e| e.into_inner());
        // Probed again under the lock: another thread may have made it.
        let slot = match self.table.probe(hash, action, reason) {
            Ok(s) => return Some(s),
            Err(slot) => slot,
        };
        if *len >= MAX_SERIES {
            return None;
        }
        *len += 1;
        if *len >= MAX_SERIES {
            self.full.store(true, Ordering::Relaxed);
        }
        Some(slot.get_or_init(|| {
            Box::new(Series {
                hash,
                action: action.into(),
                reason: reason.into(),
                counts: Default::default(),
            })
        }))
    }

    /// Records one check's duration.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) fn observe_ns(&self, ns: u64) {
        // Bounds inclusive, as OTLP's explicit buckets: (previous, bound].
        let i = LATENCY_BOUNDS_US.partition_point(|&b| b * 1_000 < ns);
        self.latency[i].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> (Vec<DecisionCount>, CheckLatency) {
        let mut decisions = Vec::new();
        for s in self.table.series() {
            for (i, c) in s.counts.iter().enumerate() {
                let count = c.load(Ordering::Relaxed);
                if count > 0 {
                    decisions.push(DecisionCount {
                        decision: OUTCOMES[i].to_string(),
                        action: s.action.to_string(),
                        reason: s.reason.to_string(),
                        count,
                    });
                }
            }
        }
        for (i, c) in self.overflow.iter().enumerate() {
            let count = c.load(Ordering::Relaxed);
            if count > 0 {
                decisions.push(DecisionCount {
                    decision: OUTCOMES[i].to_string(),
                    action: OTHER.to_string(),
                    reason: OTHER.to_string(),
                    count,
                });
            }
        }
        // Several series may fold into the same labels (an action named
        // `other`): merge them so every label set appears once.
        decisions.sort_by(|a, b| {
            (&a.decision, &a.action, &a.reason).cmp(&(&b.decision, &b.action, &b.reason))
        });
        decisions.dedup_by(|b, a| {
            let same = a.decision == b.decision && a.action == b.action && a.reason == b.reason;
            if same {
                a.count += b.count;
            }
            same
        });
        let counts: Vec<u64> = self
            .latency
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let latency = CheckLatency {
            bounds_us: LATENCY_BOUNDS_US.to_vec(),
            count: counts.iter().sum(),
            counts,
            sum_us: self.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1_000.0,
        };
        (decisions, latency)
    }
}

/// [`crate::Engine::metrics`] from the engine's parts.
pub(crate) fn gather(
    metrics: &Metrics,
    log: &ArcSwapOption<DecisionLog>,
    health: Option<&Health>,
    now: i64,
) -> EngineMetrics {
    let (decisions, check_latency) = metrics.snapshot();
    let stats = log.load().as_deref().and_then(DecisionLog::export_stats);
    EngineMetrics {
        decisions,
        check_latency,
        log_queue_depth: stats
            .as_ref()
            .map(|s| s.spooled_seq.saturating_sub(s.acked_seq)),
        spool_bytes: stats.as_ref().map(|s| s.spool_bytes),
        store_staleness_seconds: health
            .and_then(|h| h.status("", String::new(), now, 0).staleness_ms)
            .map(|ms| ms as f64 / 1_000.0),
    }
}

/// Checks with one outcome, action and first reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct DecisionCount {
    /// `allow`, `deny`, `needs_approval`, or `error` (the request raised).
    pub decision: String,
    /// The requested action; `other` for actions the schema does not
    /// declare, requests that raised, and label sets beyond the cap.
    pub action: String,
    /// The decision's first reason (a policy id), the error code for
    /// `error`, empty when there is none; `other` beyond the cap.
    pub reason: String,
    #[cfg_attr(test, ts(type = "number"))]
    pub count: u64,
}

/// The check-latency histogram (engine time, without the binding's own
/// argument conversion). Empty on WASM, which has no monotonic clock here.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct CheckLatency {
    /// Upper bounds of the buckets in microseconds (inclusive).
    #[cfg_attr(test, ts(type = "Array<number>"))]
    pub bounds_us: Vec<u64>,
    /// Checks per bucket: one more entry than `bounds_us` (the last counts
    /// everything slower).
    #[cfg_attr(test, ts(type = "Array<number>"))]
    pub counts: Vec<u64>,
    #[cfg_attr(test, ts(type = "number"))]
    pub count: u64,
    /// Sum of all durations, microseconds.
    pub sum_us: f64,
}

/// [`crate::Engine::metrics`]: counters since the engine was built.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct EngineMetrics {
    /// One entry per (decision, action, reason) seen, sorted.
    pub decisions: Vec<DecisionCount>,
    pub check_latency: CheckLatency,
    /// Records of an exporting decision-log sink spooled but not yet
    /// acknowledged by the receiver (`[log.otlp]`, `[log.syslog]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "number"))]
    pub log_queue_depth: Option<u64>,
    /// Bytes in that sink's spool.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "number"))]
    pub spool_bytes: Option<u64>,
    /// A fleet store's staleness in seconds (since the engine last knew it
    /// had every change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_staleness_seconds: Option<f64>,
}

/// No threads or sockets in WebAssembly: `[metrics.otlp]` is refused, at
/// build and at reload alike.
#[cfg(target_arch = "wasm32")]
pub(crate) fn refuse_otlp_in_wasm(
    config: &crate::bundle::MetricsConfig,
) -> crate::error::Result<()> {
    match config.otlp {
        Some(_) => Err(crate::error::Error::new(
            crate::error::ErrorCode::ConfigInvalid,
            "agentauthz.toml: [metrics.otlp] is not available in WebAssembly; read engine.metrics()",
        )),
        None => Ok(()),
    }
}
