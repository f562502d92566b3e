//! The decision-log exporter under load: decisions at a fixed offered rate
//! for a fixed time into an exporting sink (durable disk spool, the real
//! OTLP/HTTP protobuf transport), delivered to a receiver in this process
//! that decodes each request with the official OpenTelemetry protobuf types
//! and checks that every record arrives exactly once and in order.

use agentauthz::audit::{Otlp, OtlpOptions, SpoolOptions};
use agentauthz::{Bundle, DecisionLog, Engine, Request};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;

const SCHEMA: &str = r#"
entity Repo;
action "repo:read" appliesTo { principal: [Agent], resource: [Repo], context: { n: Long } };
"#;
const POLICIES: &str =
    "@id(\"read\")\npermit (principal, action == Action::\"repo:read\", resource) when { context.n >= 0 };\n";
const INVENTORY: &str =
    "users:\n  - {id: alice}\nagents:\n  - {id: bot, owner: alice}\nresources:\n  - {type: Repo, id: api}\n";

/// What the receiver saw: records in arrival order by `seq`.
#[derive(Default)]
pub struct Seen {
    pub records: u64,
    pub requests: u64,
    /// `seq` equal to or below one seen before (a duplicate or a reordering).
    pub not_after_previous: u64,
    /// Records skipped over (a gap in `seq`).
    pub gaps: u64,
    pub last_seq: u64,
}

/// An OTLP/HTTP logs receiver on 127.0.0.1 (keep-alive, one thread per connection).
pub struct Receiver {
    pub port: u16,
    pub seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start() -> Res<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(conn) = conn {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        let _ = serve(conn, &s);
                    });
                }
            }
        });
        Ok(Receiver { port, seen, stop })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/v1/logs", self.port)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Seen>) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    loop {
        let mut length = None;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let mut body = vec![0; length.unwrap_or(0)];
        reader.read_exact(&mut body)?;
        let status = match ExportLogsServiceRequest::decode(body.as_slice()) {
            Ok(request) => {
                let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
                s.requests += 1;
                for record in request
                    .resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .flat_map(|s| &s.log_records)
                {
                    let seq = record
                        .attributes
                        .iter()
                        .find(|kv| kv.key == "agentauthz.seq")
                        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                        .and_then(|v| match v {
                            any_value::Value::IntValue(n) => u64::try_from(*n).ok(),
                            _ => None,
                        })
                        .unwrap_or(0);
                    s.records += 1;
                    if seq <= s.last_seq {
                        s.not_after_previous += 1;
                    } else {
                        s.gaps += seq - s.last_seq - 1;
                        s.last_seq = seq;
                    }
                }
                "200 OK"
            }
            Err(_) => "400 Bad Request",
        };
        out.write_all(
            format!("HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )?;
    }
}

fn engine(log: Option<DecisionLog>) -> Res<Engine> {
    let mut b = Engine::builder()
        .bundle(Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY)))
        .trust_caller_time(true);
    if let Some(log) = log {
        b = b.decision_log(log);
    }
    b.build().map_err(|e| e.to_string())
}

fn request(i: u64) -> Res<Request> {
    Request::from_json_value(json!({
        "agent": "bot", "action": "repo:read", "resource": {"type": "Repo", "id": "api"},
        "context": {"n": i}, "now": "2026-11-29T10:00:00Z",
    }))
    .map_err(|e| e.to_string())
}

/// An exporting sink (spool in `dir`: `durable`, each record written before
/// the check returns, or buffered in memory) to `receiver`.
pub fn otlp_log(dir: &std::path::Path, receiver: &Receiver, durable: bool) -> Res<DecisionLog> {
    let mut options = SpoolOptions::new(dir);
    options.batch = 1000;
    options.durable = durable;
    let transport = Otlp::new(OtlpOptions::new(receiver.endpoint())).map_err(|e| e.to_string())?;
    DecisionLog::export(options, Box::new(transport)).map_err(|e| e.to_string())
}

/// `rate` decisions per second, offered by two threads for `seconds`, into
/// the exporter; then waits for the receiver to have every record.
pub fn load(rate: u64, seconds: f64) -> Res<Value> {
    let tmp =
        std::env::temp_dir().join(format!("agentauthz-bench-exporter-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let receiver = Receiver::start()?;
    let log = otlp_log(&tmp.join("spool"), &receiver, true)?;
    let max_spool = SpoolOptions::new(&tmp).max_bytes;
    let engine = Arc::new(engine(Some(log.clone()))?);
    let threads = 2u64;
    let per_thread = rate / threads;
    let total = Duration::from_secs_f64(seconds);
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let monitor = {
        let (log, done, peak) = (log.clone(), done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(s) = log.export_stats() {
                    peak.fetch_max(s.spool_bytes, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let started = Instant::now();
    let producers: Vec<_> = (0..threads)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || -> Res<(u64, u64)> {
                let (mut made, mut behind) = (0u64, 0u64);
                let start = Instant::now();
                let interval = Duration::from_secs_f64(1.0 / per_thread as f64);
                loop {
                    let due = interval.mul_f64(made as f64);
                    if due >= total {
                        break;
                    }
                    let now = start.elapsed();
                    if now < due {
                        std::thread::sleep(due - now);
                    } else if now - due > Duration::from_millis(10) {
                        behind += 1;
                    }
                    engine
                        .check(&request(made * threads + t)?)
                        .map_err(|e| e.to_string())?;
                    made += 1;
                }
                Ok((made, behind))
            })
        })
        .collect();
    let mut made = 0;
    let mut behind = 0;
    for p in producers {
        let (m, b) = p.join().map_err(|_| "a producer panicked".to_string())??;
        made += m;
        behind += b;
    }
    let produced = started.elapsed();
    let drained = log.wait_exported(Duration::from_secs(120));
    let delivered_in = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = monitor.join();
    let stats = log.export_stats().unwrap_or_default();
    let seen = receiver.seen.lock().unwrap_or_else(|e| e.into_inner());
    let out = json!({
        "impl": "agentauthz-rust-exporter",
        "offered_per_sec": rate,
        "seconds": seconds,
        "decisions": made,
        "achieved_per_sec": made as f64 / produced.as_secs_f64(),
        "late_by_10ms": behind,
        "drained": drained,
        "delivered_after_s": delivered_in.as_secs_f64(),
        "delivered_per_sec": seen.records as f64 / delivered_in.as_secs_f64(),
        "received": seen.records,
        "requests": seen.requests,
        "duplicates_or_reordered": seen.not_after_previous,
        "gaps": seen.gaps,
        "last_seq": seen.last_seq,
        "dropped": stats.dropped,
        "failures": stats.failures,
        "spool_peak_bytes": peak.load(Ordering::Relaxed),
        "spool_max_bytes": max_spool,
    });
    drop(seen);
    drop(engine);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(out)
}
