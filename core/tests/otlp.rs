//! `[log.otlp]` against an OTLP/HTTP receiver written on the official
//! protobuf definitions (PyPI `opentelemetry-proto`, in the venv `make
//! test-deps` makes): records arrive as log records with their fields as
//! attributes, every one exactly once and in order through a stop and
//! restart of the receiver; receivers that hang, answer garbage or refuse are
//! bounded; header values (API keys) never show in errors or Debug output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod receivers;

use agentauthz::audit::{Otlp, OtlpOptions, Outgoing, Transport};
use agentauthz::{
    AgentRequest, Bundle, DecisionLog, Engine, EntityRef, ErrorCode, FixedClock, Request,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCHEMA: &str = r#"
entity Repo;
action "github:push" appliesTo { principal: [Agent], resource: [Repo], context: { branch: String } };
"#;
const POLICIES: &str = r#"
@id("push-feature")
permit (principal, action == Action::"github:push", resource) when { context.branch like "feature/*" };
"#;
const INVENTORY: &str = "users:\n  - {id: alice}\nagents:\n  - {id: ci-bot, owner: alice}\n";
const SECRET: &str = "sk-test-very-secret-9f8e7d";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn temp_dir(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir =
        std::env::temp_dir().join(format!("agentauthz-otlp-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn builder(config: &str) -> agentauthz::EngineBuilder {
    Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(Arc::new(FixedClock::at("2026-11-29T10:00:00Z").unwrap()))
        .config(config)
}

fn push(i: usize, branch: &str) -> Request {
    Request::Agent(AgentRequest {
        agent: "ci-bot".into(),
        action: "github:push".into(),
        resource: EntityRef::new("Repo", "acme/api"),
        task: None,
        on_behalf_of: Some("alice".into()),
        credential: None,
        context: json!({"branch": format!("{branch}/{i}")})
            .as_object()
            .unwrap()
            .clone(),
        now: None,
    })
}

/// The Python receiver on 127.0.0.1:`port`.
struct Receiver {
    child: Child,
}

impl Receiver {
    fn start(port: u16, out: &Path, args: &[&str]) -> Receiver {
        let python = receivers::python();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/otlp/receiver.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .arg(out)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ready"), "receiver: {line:?}");
        Receiver { child }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn received(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn seq_of(v: &Value) -> u64 {
    v["attributes"]["agentauthz.seq"].as_u64().unwrap()
}

fn config(port: u16, spool: &Path, extra: &str) -> String {
    format!(
        "[log.otlp]\nendpoint = \"http://127.0.0.1:{port}/v1/logs\"\nspool = \"{}\"\ntimeout_ms = 2000\n{extra}",
        spool.display()
    )
}

#[test]
fn records_arrive_as_otlp_log_records_with_attributes() {
    let dir = temp_dir("fields");
    let port = free_port();
    let out = dir.join("out.jsonl");
    let receiver = Receiver::start(port, &out, &[]);
    let engine = builder(&config(
        port,
        &dir.join("spool"),
        &format!("headers = {{ \"x-api-key\" = \"{SECRET}\" }}\n"),
    ))
    .build()
    .unwrap();
    engine.check(&push(1, "feature")).unwrap();
    engine.check(&push(2, "main")).unwrap();
    let log = engine.decision_log().unwrap();
    assert!(log.wait_exported(Duration::from_secs(20)));
    receiver.stop();
    let got = received(&out);
    assert_eq!(got.len(), 2);
    let a = &got[0];
    assert_eq!(a["resource"]["service.name"], "agentauthz");
    assert_eq!(a["event_name"], "agentauthz.decision");
    assert_eq!(a["severity_text"], "INFO");
    assert_eq!(a["severity_number"], 9);
    assert_eq!(a["time_unix_nano"], 1_795_946_400_000_000_000u64);
    let attrs = &a["attributes"];
    assert_eq!(attrs["gen_ai.agent.id"], "ci-bot");
    assert_eq!(attrs["enduser.id"], "alice");
    assert_eq!(attrs["agentauthz.decision"], "allow");
    assert_eq!(attrs["agentauthz.action"], "github:push");
    assert_eq!(attrs["agentauthz.resource.id"], "acme/api");
    assert_eq!(attrs["agentauthz.reasons"], json!(["push-feature"]));
    assert_eq!(attrs["agentauthz.seq"], 1);
    let body: Value = serde_json::from_str(a["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["hash"], attrs["agentauthz.hash"]);
    assert_eq!(a["headers"]["x-api-key"], SECRET);
    assert_eq!(a["headers"]["content-type"], "application/x-protobuf");
    assert_eq!(got[1]["severity_text"], "WARN");
    assert_eq!(got[1]["attributes"]["agentauthz.decision"], "deny");
}

#[test]
fn the_body_can_be_the_ocsf_event() {
    let dir = temp_dir("ocsf");
    let port = free_port();
    let out = dir.join("out.jsonl");
    let _receiver = Receiver::start(port, &out, &[]);
    let engine = builder(&config(port, &dir.join("spool"), "body = \"ocsf\"\n"))
        .build()
        .unwrap();
    engine.check(&push(1, "feature")).unwrap();
    assert!(engine
        .decision_log()
        .unwrap()
        .wait_exported(Duration::from_secs(20)));
    let got = received(&out);
    let body: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["class_uid"], 6003);
}

#[test]
fn every_record_exactly_once_and_in_order_through_a_receiver_restart() {
    let dir = temp_dir("restart");
    let port = free_port();
    let out = dir.join("out.jsonl");
    let receiver = Receiver::start(port, &out, &[]);
    let engine = builder(&config(port, &dir.join("spool"), "batch = 100"))
        .build()
        .unwrap();
    let log = engine.decision_log().unwrap();
    for i in 0..1500 {
        engine.check(&push(i, "feature")).unwrap();
    }
    receiver.stop();
    for i in 1500..3000 {
        engine.check(&push(i, "feature")).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let during = log.export_stats().unwrap();
    let receiver = Receiver::start(port, &out, &[]);
    for i in 3000..4000 {
        engine.check(&push(i, "feature")).unwrap();
    }
    assert!(
        log.wait_exported(Duration::from_secs(60)),
        "{:?}",
        log.export_stats()
    );
    receiver.stop();
    let stats = log.export_stats().unwrap();
    let seqs: Vec<u64> = received(&out).iter().map(seq_of).collect();
    let last = log.head().0;
    // A receiver killed between writing and answering may see a batch twice;
    // dedup by seq (or decision_id) makes that exactly once.
    let mut max = 0;
    let mut duplicates = 0;
    for &s in &seqs {
        if s <= max {
            duplicates += 1;
        } else {
            assert_eq!(s, max + 1, "a gap or reorder at {s}");
            max = s;
        }
    }
    assert_eq!(max, last);
    assert!(duplicates <= 100, "{duplicates}");
    assert!(during.acked_seq < during.spooled_seq, "{during:?}");
    eprintln!(
        "otlp restart: {last} records logged, {} received, {duplicates} duplicates; during the outage {} spooled / {} acknowledged; {} failed deliveries",
        seqs.len(),
        during.spooled_seq,
        during.acked_seq,
        stats.failures
    );
}

#[test]
fn otlp_throughput() {
    let dir = temp_dir("throughput");
    let port = free_port();
    let out = dir.join("out.jsonl");
    let receiver = Receiver::start(port, &out, &[]);
    // A log of its own: the exporter alone, without the engine's check cost.
    let mut o = agentauthz::audit::SpoolOptions::new(dir.join("spool"));
    o.batch = 1000;
    let transport =
        Otlp::new(OtlpOptions::new(format!("http://127.0.0.1:{port}/v1/logs"))).unwrap();
    let log = DecisionLog::export(o, Box::new(transport)).unwrap();
    let engine = builder("").decision_log(log.clone()).build().unwrap();
    let n = 20_000;
    let start = Instant::now();
    for i in 0..n {
        engine.check(&push(i, "feature")).unwrap();
    }
    let checked = start.elapsed();
    assert!(log.wait_exported(Duration::from_secs(120)));
    let all = start.elapsed();
    receiver.stop();
    assert_eq!(received(&out).len(), n);
    eprintln!(
        "otlp: {n} decisions checked and spooled in {checked:?} ({:.0}/s), delivered (python receiver decoding protobuf) in {all:?} ({:.0}/s)",
        n as f64 / checked.as_secs_f64(),
        n as f64 / all.as_secs_f64()
    );
}

fn sample() -> Vec<Outgoing> {
    let (log, queue) = DecisionLog::queue();
    let engine = builder("").decision_log(log).build().unwrap();
    engine.check(&push(1, "feature")).unwrap();
    let record = queue.take().pop().unwrap();
    vec![Outgoing {
        line: serde_json::to_vec(&record).unwrap(),
        record,
    }]
}

fn options(port: u16, timeout: Duration) -> OtlpOptions {
    let mut o = OtlpOptions::new(format!("http://127.0.0.1:{port}/v1/logs?token={SECRET}"));
    o.headers = vec![("authorization".into(), format!("Bearer {SECRET}"))];
    o.timeout = timeout;
    o
}

#[test]
fn a_hanging_receiver_times_out_without_leaking_the_key() {
    let dir = temp_dir("hang");
    let port = free_port();
    let _r = Receiver::start(port, &dir.join("out"), &["--hang"]);
    let mut t = Otlp::new(options(port, Duration::from_millis(500))).unwrap();
    let start = Instant::now();
    let err = t.send(&sample()).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(err.contains("timed out"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    let debug = format!("{t:?} {:?}", options(port, Duration::ZERO));
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("authorization"));
}

#[test]
fn a_receiver_answering_garbage_or_errors_is_a_failed_delivery() {
    let dir = temp_dir("garbage");
    let port = free_port();
    let r = Receiver::start(port, &dir.join("out"), &["--status", "503"]);
    let err = Otlp::new(options(port, Duration::from_secs(3)))
        .unwrap()
        .send(&sample())
        .unwrap_err();
    assert!(err.contains("503") && !err.contains(SECRET), "{err}");
    r.stop();
    // 200 with a large non-protobuf body: accepted (2xx), read bounded.
    let port = free_port();
    let _r = Receiver::start(port, &dir.join("out2"), &["--garbage"]);
    let mut t = Otlp::new(options(port, Duration::from_secs(3))).unwrap();
    t.send(&sample()).unwrap();
}

#[test]
fn otlp_config_is_checked_and_secrets_stay_out_of_errors() {
    let dir = temp_dir("config");
    let spool = dir.join("spool");
    let bad = [
        format!("[log.otlp]\nendpoint = \"https://x/v1/logs\"\nspool = \"{}\"\n", spool.display()),
        format!("[log.otlp]\nendpoint = \"http://x/v1/logs\"\nspool = \"{}\"\nbody = \"xml\"\n", spool.display()),
        format!("[log.otlp]\nendpoint = \"http://x/v1/logs\"\nspool = \"{}\"\nheaders = {{ \"bad name\" = \"{SECRET}\" }}\n", spool.display()),
        format!("[log.otlp]\nendpoint = \"http://x/v1/logs\"\nspool = \"{}\"\nheaders_from_env = {{ \"x-api-key\" = \"AGENTAUTHZ_TEST_UNSET_VAR\" }}\n", spool.display()),
        format!("[log.otlp]\nendpoint = \"http://x/v1/logs\"\nspool = \"{}\"\nheaders = {{ \"k\" = \"{SECRET}\\n\" }}\n", spool.display()),
    ];
    for c in &bad {
        let err = builder(c).build().unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigInvalid, "{c}: {err}");
        assert!(!format!("{err} {err:?}").contains(SECRET), "{err:?}");
    }
    let config = agentauthz::Config::parse(&agentauthz::Source::new(
        "agentauthz.toml",
        format!("[log.otlp]\nendpoint = \"http://x/v1/logs\"\nspool = \"s\"\nheaders = {{ \"x-api-key\" = \"{SECRET}\" }}\n"),
    ))
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains(SECRET) && debug.contains("x-api-key"),
        "{debug}"
    );
}

fn metrics_config(log_port: u16, metrics_port: u16, spool: &Path, extra: &str) -> String {
    format!(
        "{}\n[metrics.otlp]\nendpoint = \"http://127.0.0.1:{metrics_port}/v1/metrics\"\ninterval_ms = 100\n{extra}",
        config(log_port, spool, "")
    )
}

fn metric_exports(out: &Path) -> Vec<Value> {
    let path = PathBuf::from(format!("{}.metrics", out.display()));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn metric<'a>(export: &'a Value, name: &str) -> Option<&'a Value> {
    export["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
}

/// `[metrics.otlp]`: counters arrive (decoded by the official protobuf
/// types) and match the decisions made, cumulative from one start time.
#[test]
fn metrics_arrive_over_otlp_and_match_the_decisions_made() {
    let dir = temp_dir("metrics");
    let port = free_port();
    let out = dir.join("out.jsonl");
    let _receiver = Receiver::start(port, &out, &[]);
    let engine = builder(&metrics_config(port, port, &dir.join("spool"), ""))
        .build()
        .unwrap();
    let mut allowed = 0;
    for i in 0..7 {
        let branch = if i % 3 == 0 { "main" } else { "feature" };
        if engine.check(&push(i, branch)).unwrap().allowed() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 4);
    let want = |export: &Value| {
        let Some(d) = metric(export, "agentauthz.decisions") else {
            return false;
        };
        let count = |decision: &str| -> u64 {
            d["points"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| {
                    p["attributes"]["agentauthz.decision"] == decision
                        && p["attributes"]["agentauthz.action"] == "github:push"
                })
                .map(|p| p["value"].as_u64().unwrap())
                .sum()
        };
        count("allow") == 4 && count("deny") == 3
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let export = loop {
        if let Some(e) = metric_exports(&out).into_iter().rev().find(|e| want(e)) {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}",
            metric_exports(&out).last()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let d = metric(&export, "agentauthz.decisions").unwrap();
    assert_eq!(d["kind"], "sum");
    assert_eq!(d["temporality"], 2, "cumulative");
    assert_eq!(d["monotonic"], true);
    assert_eq!(d["resource"]["service.name"], "agentauthz");
    let allow = d["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["attributes"]["agentauthz.decision"] == "allow")
        .unwrap();
    assert_eq!(allow["attributes"]["agentauthz.reason"], "push-feature");
    let h = metric(&export, "agentauthz.check.duration").unwrap();
    assert_eq!(h["kind"], "histogram");
    assert_eq!(h["unit"], "s");
    let point = &h["points"][0];
    assert_eq!(point["count"], 7);
    let buckets: u64 = point["bucket_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .sum();
    assert_eq!(buckets, 7);
    assert_eq!(
        point["bucket_counts"].as_array().unwrap().len(),
        point["explicit_bounds"].as_array().unwrap().len() + 1
    );
    // The log sink's gauges are there too.
    assert!(metric(&export, "agentauthz.log.queue.size").is_some());
    assert!(metric(&export, "agentauthz.log.spool.size").is_some());
    // Cumulative: every export of this engine has the same start time.
    let starts: std::collections::BTreeSet<u64> = metric_exports(&out)
        .iter()
        .filter_map(|e| metric(e, "agentauthz.decisions"))
        .flat_map(|d| d["points"].as_array().unwrap().clone())
        .map(|p| p["start"].as_u64().unwrap())
        .collect();
    assert_eq!(starts.len(), 1, "{starts:?}");
}

/// A metrics receiver that hangs does not slow checks down, and dropping the
/// engine does not wait for it.
#[test]
fn a_hung_metrics_receiver_blocks_no_check() {
    let dir = temp_dir("metrics-hang");
    let (log_port, metrics_port) = (free_port(), free_port());
    let log_out = dir.join("log.jsonl");
    let _logs = Receiver::start(log_port, &log_out, &[]);
    let _hung = Receiver::start(metrics_port, &dir.join("hung.jsonl"), &["--hang"]);
    let engine = builder(&metrics_config(
        log_port,
        metrics_port,
        &dir.join("spool"),
        "timeout_ms = 30000\n",
    ))
    .build()
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    for i in 0..2_000 {
        engine.check(&push(i, "feature")).unwrap();
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let m = engine.metrics();
    assert_eq!(m.check_latency.count, 2_000);
    let started = Instant::now();
    drop(engine);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_metrics_endpoint_must_be_http() {
    let e = builder("[metrics.otlp]\nendpoint = \"https://collector:4318/v1/metrics\"\n")
        .build()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConfigInvalid);
    assert!(e.to_string().contains("[metrics.otlp]"), "{e}");
}

/// A reload that changes `[metrics.otlp]` moves the exports to the new
/// endpoint, with the counters carried on; one that cannot start (a header
/// from an unset variable) fails and leaves the running exporter as it was;
/// one that removes the section stops the exports.
#[test]
fn a_reload_applies_a_changed_metrics_section_or_keeps_the_old_one() {
    let dir = temp_dir("metrics-reload");
    let (log_port, first, second) = (free_port(), free_port(), free_port());
    let (first_out, second_out) = (dir.join("first.jsonl"), dir.join("second.jsonl"));
    let _logs = Receiver::start(log_port, &dir.join("log.jsonl"), &[]);
    let _first = Receiver::start(first, &first_out, &[]);
    let _second = Receiver::start(second, &second_out, &[]);
    let spool = dir.join("spool");
    let engine = builder(&metrics_config(log_port, first, &spool, ""))
        .build()
        .unwrap();
    let bundle = |metrics_port: u16, extra: &str| {
        let mut b = Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY));
        b.config = Some(agentauthz::Source::new(
            "agentauthz.toml",
            metrics_config(log_port, metrics_port, &spool, extra),
        ));
        b
    };
    let decisions = |out: &Path| -> u64 {
        metric_exports(out)
            .last()
            .and_then(|e| metric(e, "agentauthz.decisions").cloned())
            .map_or(0, |d| {
                d["points"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["value"].as_u64().unwrap())
                    .sum()
            })
    };
    let wait_for = |out: &Path, n: u64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while decisions(out) != n {
            assert!(Instant::now() < deadline, "{out:?}: {}", decisions(out));
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for i in 0..3 {
        engine.check(&push(i, "feature")).unwrap();
    }
    wait_for(&first_out, 3);

    engine.reload(bundle(second, "")).unwrap();
    engine.check(&push(3, "feature")).unwrap();
    wait_for(&second_out, 4);
    let before = metric_exports(&first_out).len();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        metric_exports(&first_out).len() <= before + 1,
        "the old exporter ends after a last export"
    );

    let e = engine
        .reload(bundle(
            first,
            "headers_from_env = { k = \"AGENTAUTHZ_TEST_UNSET_VAR\" }\n",
        ))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConfigInvalid, "{e}");
    engine.check(&push(4, "feature")).unwrap();
    wait_for(&second_out, 5);

    let mut plain = Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY));
    plain.config = Some(agentauthz::Source::new(
        "agentauthz.toml",
        config(log_port, &spool, ""),
    ));
    engine.reload(plain).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let stopped = metric_exports(&second_out).len();
    engine.check(&push(5, "feature")).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        metric_exports(&second_out).len(),
        stopped,
        "no exports after the section is gone"
    );
    assert_eq!(
        engine
            .metrics()
            .decisions
            .iter()
            .map(|d| d.count)
            .sum::<u64>(),
        6
    );
}
