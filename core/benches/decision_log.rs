//! What decision logging adds to `Engine::check`, per decision.
//!
//! `cargo bench -p agentauthz --bench decision_log` (release profile). The
//! logging cost is the difference between `check/file-log` (or the other
//! sinks) and `check/no-log`, measured in one run on the same requests: the
//! coding-agent example bundle and a cycle of allowed, denied and
//! guardrail-denied tool calls with small contexts.
//!
//! Every benchmark runs twice: with wall-clock time (criterion's default)
//! and with the benchmark thread's own CPU time (`cpu/…`, read from
//! `/proc/thread-self/schedstat` on Linux), which a busy machine disturbs
//! far less than wall-clock time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

use agentauthz::audit::{FileOptions, Outgoing, SpoolOptions, Transport};
use agentauthz::{DecisionLog, Engine, Request};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

fn bundle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies-examples/coding-agent")
}

fn requests() -> Vec<Request> {
    let push = |branch: &str, task: &str, cred: &str, ip: &str, now: &str| {
        Request::from_json_value(json!({
            "agent": "ci-bot", "action": "github:push",
            "resource": {"type": "Repo", "id": "acme/api"},
            "task": task, "credential": cred,
            "context": {"branch": branch, "source_ip": ip},
            "now": now
        }))
        .unwrap()
    };
    vec![
        push(
            "feature/login",
            "T-42",
            "ci-bot-key",
            "10.20.3.14",
            "2026-11-29T10:20:00Z",
        ),
        push(
            "main",
            "T-42",
            "ci-bot-key",
            "10.20.3.14",
            "2026-11-29T10:41:00Z",
        ),
        push(
            "release/2.4",
            "REL-7",
            "ci-bot-key",
            "10.20.3.14",
            "2026-11-29T14:05:00Z",
        ),
        push(
            "release/2.4",
            "REL-7",
            "ci-bot-key",
            "192.168.1.20",
            "2026-11-29T14:30:00Z",
        ),
        Request::from_json_value(json!({
            "agent": "ci-bot", "action": "github:read",
            "resource": {"type": "Repo", "id": "acme/api"},
            "task": "T-42", "credential": "ci-bot-key",
            "context": {"source_ip": "10.20.3.14"}, "now": "2026-11-29T09:58:00Z"
        }))
        .unwrap(),
        Request::from_json_value(json!({
            "agent": "shadow-ai", "action": "github:read",
            "resource": {"type": "Repo", "id": "acme/api"},
            "context": {"source_ip": "10.20.3.99"}, "now": "2026-11-29T16:45:00Z"
        }))
        .unwrap(),
    ]
}

fn engine(log: Option<DecisionLog>, config: Option<&str>) -> Engine {
    let mut bundle = agentauthz::Bundle::read_dir(bundle_dir()).unwrap();
    if let Some(c) = config {
        bundle.config = Some(agentauthz::Source::new("agentauthz.toml", c));
    }
    let b = Engine::builder().bundle(bundle).trust_caller_time(true);
    match log {
        Some(l) => b.decision_log(l).build().unwrap(),
        None => b.build().unwrap(),
    }
}

fn bench<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let dir = std::env::temp_dir().join(format!("agentauthz-bench-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let requests = requests();
    // Thread CPU time advances in scheduler ticks (a few ms): fewer, longer samples.
    let (samples, secs) = if prefix.is_empty() { (40, 4) } else { (10, 8) };
    let mut group = c.benchmark_group(format!("{prefix}check"));
    group
        .measurement_time(Duration::from_secs(secs))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(samples);

    let mut run = |name: &str, engine: &Engine| {
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % requests.len();
                black_box(engine.check(black_box(&requests[i])).unwrap())
            })
        });
        engine.flush_decision_log().unwrap();
    };

    run("no-log", &engine(None, None));
    let file = DecisionLog::file_with(
        FileOptions::new(dir.join("decisions.jsonl")).max_bytes(64 * 1024 * 1024),
    )
    .unwrap();
    run("file-log", &engine(Some(file), None));
    let redacting = DecisionLog::file_with(
        FileOptions::new(dir.join("redacted.jsonl")).max_bytes(64 * 1024 * 1024),
    )
    .unwrap();
    run(
        "file-log+redact",
        &engine(
            Some(redacting),
            Some("[log]\nredact = [\"source_ip\", \"branch\"]\n"),
        ),
    );
    run(
        "callback-log",
        &engine(
            Some(DecisionLog::callback(|r| {
                black_box(r);
            })),
            None,
        ),
    );
    run(
        "file-log+log-only-mode",
        &engine(
            Some(DecisionLog::file(dir.join("log-only.jsonl")).unwrap()),
            Some("[engine]\nmode = \"log-only\"\n"),
        ),
    );
    group.finish();

    // The logging path alone: a request whose action the schema does not
    // know is denied before any context is built or Cedar runs (≈ 1 µs), so
    // the difference between the two is the record (context copy, owner
    // lookup, serialization, SHA-256, buffered write) and little else.
    let unknown_action = Request::from_json_value(json!({
        "agent": "ci-bot", "action": "github:force-delete",
        "resource": {"type": "Repo", "id": "acme/api"},
        "task": "T-42", "credential": "ci-bot-key",
        "context": {"branch": "feature/login", "source_ip": "10.20.3.14"},
        "now": "2026-11-29T10:20:00Z"
    }))
    .unwrap();
    let mut group = c.benchmark_group(format!("{prefix}pre-cedar-deny"));
    group
        .measurement_time(Duration::from_secs(secs))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(samples);
    let mut run = |name: &str, engine: &Engine| {
        group.bench_function(name, |b| {
            b.iter(|| black_box(engine.check(black_box(&unknown_action)).unwrap()))
        });
        engine.flush_decision_log().unwrap();
    };
    run("no-log", &engine(None, None));
    let file = DecisionLog::file_with(
        FileOptions::new(dir.join("pre-cedar.jsonl")).max_bytes(64 * 1024 * 1024),
    )
    .unwrap();
    run("file-log", &engine(Some(file), None));
    run(
        "callback-log",
        &engine(
            Some(DecisionLog::callback(|r| {
                black_box(r);
            })),
            None,
        ),
    );
    // Exporting sinks: the check thread spools (durable: one write per
    // record; buffered: a memory copy), the sender thread delivers to a
    // receiver that acknowledges at once.
    for (name, durable) in [("export-durable", true), ("export-buffered", false)] {
        let mut o = SpoolOptions::new(dir.join(name));
        o.durable = durable;
        o.max_bytes = 1 << 30;
        let log = DecisionLog::export(o, Box::new(Ack)).unwrap();
        run(name, &engine(Some(log), None));
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A receiver that acknowledges every batch at once.
#[derive(Debug)]
struct Ack;

impl Transport for Ack {
    fn send(&mut self, batch: &[Outgoing]) -> Result<(), String> {
        black_box(batch);
        Ok(())
    }
}

/// CPU time consumed by the calling thread, in nanoseconds (Linux).
#[derive(Debug, Clone, Copy)]
struct ThreadCpu;

fn thread_cpu_nanos() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

static WALL: WallTime = WallTime;

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_nanos()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_nanos().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}

fn wall(c: &mut Criterion) {
    bench(c, "");
}

fn cpu(c: &mut Criterion<ThreadCpu>) {
    if thread_cpu_nanos() > 0 {
        bench(c, "cpu/");
    }
}

criterion_group!(wall_time, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = cpu
}
criterion_main!(wall_time, cpu_time);
