//! `[log.syslog]` against a real rsyslog (Debian's `rsyslog`; `make test`
//! installs it when missing) on 127.0.0.1: every record arrives, in order,
//! through a stop and restart of the collector mid-stream; collectors that
//! hang or talk back are bounded by the timeout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::audit::{Outgoing, Syslog, SyslogOptions, Transport};
use agentauthz::{AgentRequest, Engine, EntityRef, ErrorCode, FixedClock, Request};
use serde_json::json;
use std::io::Read;
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

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn temp_dir(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "agentauthz-syslog-{}-{name}-{n}",
        std::process::id()
    ));
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

fn push(i: usize) -> Request {
    Request::Agent(AgentRequest {
        agent: "ci-bot".into(),
        action: "github:push".into(),
        resource: EntityRef::new("Repo", "acme/api"),
        task: None,
        on_behalf_of: None,
        credential: None,
        context: json!({"branch": format!("feature/{i}")})
            .as_object()
            .unwrap()
            .clone(),
        now: None,
    })
}

/// rsyslogd on 127.0.0.1:`port`, writing each message's MSG part (the
/// record) as one line to `<dir>/out.log`; stopped by pid.
struct Rsyslog {
    child: Child,
}

impl Rsyslog {
    fn start(dir: &Path, port: u16) -> Rsyslog {
        let bin = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("rsyslogd is not installed: run `make test-deps` (Debian package rsyslog)");
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
template(name="msgonly" type="string" string="%msg%\n")
ruleset(name="agentauthz") {{
  action(type="omfile" file="{out}" template="msgonly")
}}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="agentauthz")
"#,
                work = work.display(),
                out = dir.join("out.log").display(),
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Ready when the port accepts.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "rsyslogd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Rsyslog { child }
    }

    /// SIGTERM (rsyslog writes out its queue), then wait.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn received(dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join("out.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l.trim())
                .unwrap_or_else(|e| panic!("rsyslog got a line that is not a record: {e}: {l}"));
            v["seq"].as_u64().unwrap()
        })
        .collect()
}

/// (first occurrences in arrival order, duplicates); panics on a gap or reorder.
fn check_arrivals(seqs: &[u64], last: u64) -> usize {
    let mut max = 0;
    let mut duplicates = 0;
    for &s in seqs {
        if s <= max {
            duplicates += 1;
        } else {
            assert_eq!(s, max + 1, "a gap or reorder at {s}");
            max = s;
        }
    }
    assert_eq!(max, last, "records missing at the end");
    duplicates
}

fn config(port: u16, spool: &Path, extra: &str) -> String {
    format!(
        "[log.syslog]\naddress = \"127.0.0.1:{port}\"\nspool = \"{}\"\ntimeout_ms = 2000\n{extra}",
        spool.display()
    )
}

#[test]
fn every_record_reaches_rsyslog_through_a_restart_mid_stream() {
    let dir = temp_dir("restart");
    let port = free_port();
    let collector = Rsyslog::start(&dir, port);
    let engine = builder(&config(port, &dir.join("spool"), "batch = 200"))
        .build()
        .unwrap();
    let log = engine.decision_log().unwrap();
    for i in 0..1500 {
        engine.check(&push(i)).unwrap();
    }
    collector.stop();
    for i in 1500..3000 {
        engine.check(&push(i)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let during = log.export_stats().unwrap();
    let collector = Rsyslog::start(&dir, port);
    for i in 3000..4000 {
        engine.check(&push(i)).unwrap();
    }
    assert!(
        log.wait_exported(Duration::from_secs(60)),
        "{:?}",
        log.export_stats()
    );
    let stats = log.export_stats().unwrap();
    collector.stop();
    let seqs = received(&dir);
    let last = log.head().0;
    let duplicates = check_arrivals(&seqs, last);
    assert_eq!(stats.dropped, 0);
    assert!(
        during.acked_seq < during.spooled_seq,
        "the outage held records back: {during:?}"
    );
    log.flush().unwrap();
    eprintln!(
        "rsyslog restart: {last} records logged, {} lines received, {duplicates} duplicates; \
         during the outage {} spooled / {} acknowledged, {} failed deliveries",
        seqs.len(),
        during.spooled_seq,
        during.acked_seq,
        stats.failures
    );
}

#[test]
fn syslog_throughput() {
    let dir = temp_dir("throughput");
    let port = free_port();
    let collector = Rsyslog::start(&dir, port);
    let engine = builder(&config(port, &dir.join("spool"), "batch = 1000"))
        .build()
        .unwrap();
    let log = engine.decision_log().unwrap();
    let n = 20_000;
    let start = Instant::now();
    for i in 0..n {
        engine.check(&push(i)).unwrap();
    }
    let checks = start.elapsed();
    assert!(log.wait_exported(Duration::from_secs(120)));
    let all = start.elapsed();
    collector.stop();
    check_arrivals(&received(&dir), log.head().0);
    eprintln!(
        "syslog: {n} decisions checked and spooled in {checks:?} ({:.0}/s), delivered to rsyslog in {all:?} ({:.0}/s)",
        n as f64 / checks.as_secs_f64(),
        n as f64 / all.as_secs_f64()
    );
}

fn sample() -> Outgoing {
    let dir = temp_dir("sample");
    let q = agentauthz::DecisionLog::queue();
    let engine = builder("").decision_log(q.0).build().unwrap();
    engine.check(&push(1)).unwrap();
    let _ = dir;
    let record = q.1.take().pop().unwrap();
    Outgoing {
        line: serde_json::to_vec(&record).unwrap(),
        record,
    }
}

#[test]
fn a_collector_that_never_closes_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts, reads everything, never closes.
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if s.read(&mut buf).unwrap_or(0) == 0 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    let mut o = SyslogOptions::new(format!("127.0.0.1:{port}"));
    o.timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = Syslog::new(o).send(&[sample()]).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(err.contains("in time"), "{err}");
    t.join().unwrap();
}

#[test]
fn a_collector_that_talks_back_without_end_is_cut_off() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Talks until the sender hangs up (or 10 s pass): a collector that
    // stopped talking and closed first would make the sender's own close
    // fail instead, a different failure than the one tested here.
    let t = std::thread::spawn(move || {
        use std::io::Write;
        let (mut s, _) = listener.accept().unwrap();
        let junk = vec![b'x'; 64 * 1024];
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if s.write_all(&junk).is_err() {
                break;
            }
        }
    });
    let mut o = SyslogOptions::new(format!("127.0.0.1:{port}"));
    o.timeout = Duration::from_secs(3);
    let err = Syslog::new(o).send(&[sample()]).unwrap_err();
    assert!(err.contains("unexpected data"), "{err}");
    t.join().unwrap();
}

#[test]
fn a_collector_that_is_not_there_is_a_failed_delivery() {
    let mut o = SyslogOptions::new(format!("127.0.0.1:{}", free_port()));
    o.timeout = Duration::from_millis(300);
    let err = Syslog::new(o).send(&[sample()]).unwrap_err();
    assert!(err.contains("connect"), "{err}");
}

#[test]
fn syslog_config_is_checked() {
    let dir = temp_dir("config");
    let bad = [
        "[log.syslog]\naddress = \"\"\nspool = \"s\"\n",
        "[log.syslog]\naddress = \"127.0.0.1:1\"\nspool = \"s\"\nfacility = 24\n",
        "[log.syslog]\naddress = \"127.0.0.1:1\"\nspool = \"s\"\nbatch = 0\n",
        "[log.syslog]\naddress = \"127.0.0.1:1\"\nspool = \"s\"\nunknown = 1\n",
        "[log]\nsink = \"file\"\npath = \"d.jsonl\"\n[log.syslog]\naddress = \"127.0.0.1:1\"\nspool = \"s\"\n",
    ];
    for c in bad {
        let err = builder(c).build().unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigInvalid, "{c}: {err}");
    }
    // A reload with a broken [log.syslog] is refused; the engine keeps its state and sink.
    let spool = dir.join("ok-spool");
    let engine = builder(&config(free_port(), &spool, "")).build().unwrap();
    let mut bundle = agentauthz::Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY));
    bundle.config = Some(agentauthz::Source::new("agentauthz.toml", bad[1]));
    assert_eq!(
        engine.reload(bundle).unwrap_err().code(),
        ErrorCode::ConfigInvalid
    );
    engine.check(&push(1)).unwrap();
    assert_eq!(
        engine
            .decision_log()
            .unwrap()
            .export_stats()
            .unwrap()
            .spooled_seq,
        1
    );
    // A spool that cannot be created: a coded error at load.
    std::fs::write(dir.join("file"), b"x").unwrap();
    let err = builder(&config(1, &dir.join("file").join("spool"), ""))
        .build()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io);
}
