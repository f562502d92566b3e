//! `[metrics.otlp]`: a thread that sends the engine's metrics as an OTLP/HTTP
//! `ExportMetricsServiceRequest` every interval, cumulative since the engine
//! was built. Checks never wait for it: it reads the same atomics
//! [`Engine::metrics`](crate::Engine::metrics) reads.

use super::metrics::{EngineMetrics, LATENCY_BOUNDS_US};
use crate::audit::{DecisionLog, Otlp, OtlpOptions};
use crate::bundle::MetricsOtlpConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::store::Health;
use crate::time::Clock;
use arc_swap::ArcSwapOption;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Reads the metrics to send (the engine's counters and gauges).
pub(crate) type Gather = Box<dyn Fn() -> EngineMetrics + Send>;

/// The exporting thread; dropping it makes the thread send a last export
/// and end (not waited for: a hung receiver must not hang the host).
pub(crate) struct Exporter {
    stop: Arc<(Mutex<bool>, Condvar)>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What the thread reads: [`crate::Engine::metrics`] from shared handles
/// (the engine itself is not shared with the thread).
pub(crate) fn gather_from(
    metrics: &Arc<super::metrics::Metrics>,
    log: &Arc<ArcSwapOption<DecisionLog>>,
    health: &Option<Arc<Health>>,
    clock: &Arc<dyn Clock>,
) -> Gather {
    let (m, log, health, clock) = (metrics.clone(), log.clone(), health.clone(), clock.clone());
    Box::new(move || super::metrics::gather(&m, &log, health.as_deref(), clock.now_millis()))
}

/// The running exporter and the section it runs with. A reload that changes
/// `[metrics.otlp]` starts the new exporter before its snapshot is swapped in
/// ([`Slot::prepare`]) and installs it after ([`Slot::install`]); the old one
/// sends a last export and ends. Counters carry on: they live in the engine.
pub(crate) struct Slot {
    /// When the engine was built: the start of every cumulative series.
    start: u64,
    running: Mutex<Option<(MetricsOtlpConfig, Exporter)>>,
}

/// What a reload does with the exporter.
pub(crate) enum Next {
    Keep,
    Replace(Option<(MetricsOtlpConfig, Exporter)>),
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

impl Slot {
    pub(crate) fn new() -> Slot {
        Slot {
            start: now_nanos(),
            running: Mutex::new(None),
        }
    }

    /// Starts an exporter for `config` unless the running one already has it.
    pub(crate) fn prepare(
        &self,
        config: Option<&MetricsOtlpConfig>,
        gather: impl FnOnce() -> Gather,
    ) -> Result<Next> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.as_ref().map(|(c, _)| c) == config {
            return Ok(Next::Keep);
        }
        drop(running);
        Ok(Next::Replace(match config {
            Some(c) => Some((c.clone(), Exporter::start(c, gather(), self.start)?)),
            None => None,
        }))
    }

    pub(crate) fn install(&self, next: Next) {
        if let Next::Replace(next) = next {
            let old = std::mem::replace(
                &mut *self.running.lock().unwrap_or_else(PoisonError::into_inner),
                next,
            );
            // Dropped outside the lock: it only signals its thread.
            drop(old);
        }
    }
}

impl Exporter {
    fn start(config: &MetricsOtlpConfig, gather: Gather, start: u64) -> Result<Exporter> {
        let mut options = OtlpOptions::new(config.endpoint.clone());
        options.headers = config
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, var) in &config.headers_from_env {
            let value = std::env::var(var).map_err(|_| {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!(
                        "[metrics.otlp] header {name}: the environment variable {var} is not set"
                    ),
                )
            })?;
            options.headers.push((name.clone(), value));
        }
        options.timeout = Duration::from_millis(config.timeout_ms.unwrap_or(5_000));
        let client = Otlp::new(options)?;
        let interval = Duration::from_millis(config.interval_ms.unwrap_or(10_000));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("agentauthz-metrics".into())
                .spawn(move || loop {
                    let stopping = {
                        let (lock, cv) = &*stop;
                        let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
                        let (guard, _) = cv
                            .wait_timeout_while(guard, interval, |s| !*s)
                            .unwrap_or_else(PoisonError::into_inner);
                        *guard
                    };
                    // A failed export is made good by the next (cumulative).
                    let _ = client.post(&encode(&gather(), start, now_nanos()));
                    if stopping {
                        return;
                    }
                })
                .map_err(|e| Error::new(ErrorCode::Io, format!("metrics thread: {e}")))?;
        }
        Ok(Exporter { stop })
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cv.notify_all();
    }
}

fn text(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(text(value)),
        ..Default::default()
    }
}

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

fn gauge(name: &str, description: &str, unit: &str, value: f64, now: u64) -> Metric {
    Metric {
        name: name.into(),
        description: description.into(),
        unit: unit.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                time_unix_nano: now,
                value: Some(number_data_point::Value::AsDouble(value)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    }
}

/// The protobuf request: `agentauthz.decisions` (monotonic sum by
/// `agentauthz.decision`, `agentauthz.action`, `agentauthz.reason`),
/// `agentauthz.check.duration` (histogram, seconds, as OpenTelemetry's
/// duration conventions ask), and the gauges that have a value.
pub(crate) fn encode(m: &EngineMetrics, start: u64, now: u64) -> Vec<u8> {
    let decisions = m
        .decisions
        .iter()
        .map(|c| NumberDataPoint {
            attributes: vec![
                kv("agentauthz.decision", &c.decision),
                kv("agentauthz.action", &c.action),
                kv("agentauthz.reason", &c.reason),
            ],
            start_time_unix_nano: start,
            time_unix_nano: now,
            value: Some(number_data_point::Value::AsInt(
                i64::try_from(c.count).unwrap_or(i64::MAX),
            )),
            ..Default::default()
        })
        .collect();
    let l = &m.check_latency;
    let mut metrics = vec![
        Metric {
            name: "agentauthz.decisions".into(),
            description: "Checks decided, by decision, action and first reason".into(),
            unit: "{decision}".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: decisions,
                aggregation_temporality: CUMULATIVE,
                is_monotonic: true,
            })),
            ..Default::default()
        },
        Metric {
            name: "agentauthz.check.duration".into(),
            description: "Time the engine took to decide a check".into(),
            unit: "s".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    count: l.count,
                    sum: Some(l.sum_us / 1e6),
                    bucket_counts: l.counts.clone(),
                    explicit_bounds: LATENCY_BOUNDS_US.iter().map(|&b| b as f64 / 1e6).collect(),
                    ..Default::default()
                }],
                aggregation_temporality: CUMULATIVE,
            })),
            ..Default::default()
        },
    ];
    if let Some(d) = m.log_queue_depth {
        metrics.push(gauge(
            "agentauthz.log.queue.size",
            "Decision records spooled, not yet acknowledged by the receiver",
            "{record}",
            d as f64,
            now,
        ));
    }
    if let Some(b) = m.spool_bytes {
        metrics.push(gauge(
            "agentauthz.log.spool.size",
            "Bytes in the decision log's spool",
            "By",
            b as f64,
            now,
        ));
    }
    if let Some(s) = m.store_staleness_seconds {
        metrics.push(gauge(
            "agentauthz.store.staleness",
            "Time since the engine last had every change of its fleet store",
            "s",
            s,
            now,
        ));
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "agentauthz"),
                    kv("service.version", crate::model::VERSION),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "agentauthz".into(),
                    version: crate::model::VERSION.into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}
