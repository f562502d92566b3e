//! A fleet sharing run-time changes through a real PostgreSQL (started by
//! the test, see common/pg.rs): hostile rows first (garbage, a change for
//! an unknown agent, a duplicated notification, a sequence gap, the server
//! going away mid-transaction), staleness failing closed, then eight engine
//! processes making 10,000 mixed changes through a `kill -9` of one engine
//! and a PostgreSQL crash, ending with identical state hashes, and the
//! propagation latency of an offboarding from one process to another.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

#[path = "common/pg.rs"]
mod pg;

use agentauthz::{AgentRequest, Change, Engine, EntityRef, ErrorCode, Grant, Request, TaskSpec};
use pg::Pg;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SCHEMA: &str = r#"
entity Repo;
action "read" appliesTo { principal: [Agent], resource: [Repo] };
"#;

const POLICIES: &str = r#"
@id("read")
permit (principal, action == Action::"read", resource);
"#;

const AGENTS: usize = 200;
/// Agents the random changes never touch: the latency test offboards them.
const RANDOM_AGENTS: u64 = 150;

fn inventory() -> String {
    let mut s = String::from("users:\n");
    for u in 0..10 {
        s += &format!("  - {{id: user-{u}}}\n");
    }
    s += "agents:\n";
    for a in 0..AGENTS {
        s += &format!("  - {{id: agent-{a}, owner: user-{}}}\n", a % 10);
    }
    s += "credentials:\n";
    for a in 0..AGENTS {
        s += &format!(
            "  - {{id: cred-{a}, agent: agent-{a}, kind: service_account_key, issued: \"2026-01-01T00:00:00Z\", expires: \"2030-01-01T00:00:00Z\"}}\n"
        );
    }
    s += "resources:\n  - {type: Repo, id: r1}\n";
    s
}

/// The tests here run one at a time: their timing windows (staleness)
/// must not depend on how busy the other tests keep the two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn engine(url: &str, name: &str, max_staleness: Option<u64>) -> Engine {
    let mut b = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(inventory())
        .postgres(url)
        .store_writer(name)
        .store_poll_ms(100);
    if let Some(s) = max_staleness {
        b = b.max_staleness_seconds(s);
    }
    b.build().unwrap()
}

fn read(engine: &Engine, agent: &str) -> (bool, Vec<String>) {
    let d = engine
        .check(&Request::Agent(AgentRequest {
            agent: agent.into(),
            action: "read".into(),
            resource: EntityRef::new("Repo", "r1"),
            task: None,
            on_behalf_of: None,
            credential: None,
            context: Default::default(),
            now: None,
        }))
        .unwrap();
    (d.allowed(), d.reasons().to_vec())
}

fn init(url: &str) {
    agentauthz::store::postgres::init(
        &agentauthz::store::postgres::Target::parse(
            url,
            agentauthz::store::postgres::SslMode::Disable,
        )
        .unwrap(),
    )
    .unwrap();
}

/// Waits until `engine` applied change `seq` (or panics after `limit`).
fn wait_for(engine: &Engine, seq: u64, limit: Duration) {
    let start = Instant::now();
    while engine.store_status().last_applied_seq < seq {
        assert!(
            start.elapsed() < limit,
            "engine stuck at {:?}, waiting for {seq}",
            engine.store_status()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn max_seq(client: &mut postgres::Client) -> u64 {
    let row = client
        .query_one("SELECT coalesce(max(seq), 0) FROM agentauthz_changes", &[])
        .unwrap();
    u64::try_from(row.get::<_, i64>(0)).unwrap()
}

fn raw_insert(client: &mut postgres::Client, change: &str) -> u64 {
    let row = client
        .query_one(
            "INSERT INTO agentauthz_changes (at, by_id, writer, change) VALUES ('2026-12-01T00:00:00Z', 'peer', 'hostile-peer', $1) RETURNING seq",
            &[&change],
        )
        .unwrap();
    u64::try_from(row.get::<_, i64>(0)).unwrap()
}

#[test]
fn hostile_rows_are_skipped_alike_and_a_gap_fails_closed() {
    let _serial = serial();
    let Some(pg) = Pg::start("hostile_rows_are_skipped_alike_and_a_gap_fails_closed") else {
        return;
    };
    let url = pg.url();
    // Without `store init` an engine does not start (no silent empty fleet).
    let e = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(inventory())
        .postgres(&url)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("store init"), "{e}");
    init(&url);
    init(&url); // idempotent
    let a = engine(&url, "a", Some(1));
    let b = engine(&url, "b", Some(1));
    let mut peer = pg.client();

    a.suspend("agent-1", "ops").unwrap();
    let garbage = raw_insert(&mut peer, "this is not a change");
    let extra = raw_insert(
        &mut peer,
        r#"{"op":"suspend","agent":"agent-2","extra":true}"#,
    );
    let ghost = raw_insert(&mut peer, r#"{"op":"offboard","agent":"ghost"}"#);
    // A peer cannot pick its sequence number, nor rewrite or delete history.
    let chosen = peer
        .query_one(
            "INSERT INTO agentauthz_changes (seq, at, by_id, writer, change) VALUES (1000, '2026-12-01T00:00:00Z', 'peer', 'p', '{\"op\":\"suspend\",\"agent\":\"agent-3\"}') RETURNING seq",
            &[],
        )
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(chosen, 5, "the database numbers rows, not the writer");
    assert!(peer
        .execute("DELETE FROM agentauthz_changes WHERE seq = 1", &[])
        .is_err());
    assert!(peer
        .execute("UPDATE agentauthz_changes SET change = 'x'", &[])
        .is_err());
    assert!(peer.execute("TRUNCATE agentauthz_changes", &[]).is_err());
    // Duplicated deliveries: notifications for old and future numbers.
    for _ in 0..20 {
        peer.batch_execute("NOTIFY agentauthz_changes, '1'; NOTIFY agentauthz_changes, '99'")
            .unwrap();
    }
    let last = max_seq(&mut peer);
    assert_eq!(last, 5);
    for e in [&a, &b] {
        wait_for(e, last, Duration::from_secs(10));
        let skipped = e.skipped_changes().join("\n");
        for seq in [garbage, extra, ghost] {
            assert!(
                skipped.contains(&format!("seq {seq})")),
                "seq {seq} not listed: {skipped}"
            );
        }
        assert!(!read(e, "agent-1").0, "agent-1 suspended");
        assert!(
            !read(e, "agent-3").0,
            "agent-3 suspended by the peer's valid row"
        );
        assert!(read(e, "agent-2").0, "the malformed row changed nothing");
    }
    assert_eq!(a.state_hash().unwrap(), b.state_hash().unwrap());
    // A late joiner reads the same history to the same state.
    let c = engine(&url, "c", None);
    assert_eq!(c.state_hash().unwrap(), a.state_hash().unwrap());
    assert_eq!(c.skipped_changes(), a.skipped_changes());

    // A gap: a superuser writes around the counter and the triggers. Every
    // engine stops before it (nothing past it applies), says so, and fails
    // closed once that lasts longer than max_staleness_seconds.
    peer.batch_execute(
        "BEGIN; SET LOCAL session_replication_role = replica;
         INSERT INTO agentauthz_changes (seq, at, by_id, writer, change)
           VALUES (7, '2026-12-01T00:00:00Z', 'peer', 'p', '{\"op\":\"offboard\",\"agent\":\"agent-4\"}');
         UPDATE agentauthz_seq SET last = 7; COMMIT;",
    )
    .unwrap();
    let start = Instant::now();
    loop {
        let s = a.store_status();
        if s.gap_after == Some(5) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no gap reported: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(a.store_status().last_applied_seq, 5);
    // A write meanwhile is stored but does not apply past the gap.
    let e = a.suspend("agent-5", "ops").unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    std::thread::sleep(Duration::from_millis(1300));
    for e in [&a, &b] {
        let (allowed, reasons) = read(e, "agent-4");
        assert!(!allowed);
        assert_eq!(reasons, vec!["store/stale".to_string()]);
        assert!(e.store_status().stale);
        // Every agent, not only the one the missing change might be about.
        assert_eq!(read(e, "agent-9").1, vec!["store/stale".to_string()]);
    }
    // Without max_staleness_seconds the last state keeps deciding.
    assert!(read(&c, "agent-9").0);
    assert!(c.store_status().gap_after.is_some() || c.store_status().last_applied_seq == 5);
}

#[test]
fn the_server_going_away_loses_nothing_acknowledged_and_staleness_fails_closed() {
    let _serial = serial();
    let Some(pg) = Pg::start("the_server_going_away_loses_nothing_acknowledged") else {
        return;
    };
    let url = pg.url();
    init(&url);
    let a = Arc::new(engine(&url, "a", Some(2)));
    let b = engine(&url, "b", Some(2));
    // A writes in a loop while the server crashes and comes back.
    let restarted = Arc::new(AtomicBool::new(false));
    let writer = {
        let a = a.clone();
        let restarted = restarted.clone();
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut failed = 0;
            let mut after = 0;
            let start = Instant::now();
            let mut i = 0u64;
            while after < 100 && start.elapsed() < Duration::from_secs(60) {
                i += 1;
                let agent = format!("agent-{}", i.div_ceil(2) % 100);
                let change = if i % 2 == 1 {
                    Change::Suspend { agent }
                } else {
                    Change::Reactivate { agent }
                };
                match a.apply(change, "ops") {
                    Ok(entry) => {
                        acked.push(entry.seq);
                        if restarted.load(Ordering::Acquire) {
                            after += 1;
                        }
                    }
                    Err(e) => {
                        // Io: the store was out of reach (not acknowledged).
                        if e.code() == ErrorCode::Io {
                            failed += 1;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            (acked, failed)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    pg.stop_server("immediate");
    // Checks go on, on the last state, while within max_staleness.
    assert_eq!(read(&b, "agent-150"), (true, vec!["read".to_string()]));
    std::thread::sleep(Duration::from_millis(2600));
    let status = b.store_status();
    assert!(status.stale && !status.connected, "{status:?}");
    assert!(status.last_error.is_some(), "{status:?}");
    assert_eq!(
        read(&b, "agent-150"),
        (false, vec!["store/stale".to_string()])
    );
    // An engine that cannot reach the store does not start.
    assert!(Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .postgres(&url)
        .build()
        .is_err());
    pg.start_server();
    restarted.store(true, Ordering::Release);
    let (acked, failed) = writer.join().unwrap();
    assert!(
        acked.len() >= 100,
        "{} acknowledged, {failed} refused",
        acked.len()
    );
    assert!(
        failed > 0,
        "the crash refused no write: it did not happen mid-stream"
    );
    let mut client = pg.client();
    let last = max_seq(&mut client);
    wait_for(&b, last, Duration::from_secs(20));
    wait_for(&a, last, Duration::from_secs(20));
    // Every acknowledged change is in the store and applied everywhere.
    for seq in &acked {
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM agentauthz_changes WHERE seq = $1",
                &[&i64::try_from(*seq).unwrap()],
            )
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "acknowledged change {seq} lost");
    }
    assert_eq!(a.state_hash().unwrap(), b.state_hash().unwrap());
    assert_eq!(read(&b, "agent-150"), (true, vec!["read".to_string()]));
    assert!(!b.store_status().stale);
}

// ------------------------------------------------------------ 8 processes

/// The child side: an engine process driven over stdin/stdout. Runs only
/// when the parent test starts this binary with AGENTAUTHZ_FLEET_CHILD.
#[test]
fn fleet_child_process() {
    let Ok(name) = std::env::var("AGENTAUTHZ_FLEET_CHILD") else {
        return;
    };
    let url = std::env::var("AGENTAUTHZ_FLEET_URL").unwrap();
    let started = Instant::now();
    let engine = engine(&url, &name, None);
    let say = |v: serde_json::Value| println!("@@ {v}");
    say(
        serde_json::json!({"ready": started.elapsed().as_secs_f64(), "applied": engine.store_status().last_applied_seq}),
    );
    let stdin = std::io::stdin();
    let mut grants: Vec<String> = Vec::new();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["apply", n, seed] => {
                let (acked, refused) = mixed(
                    &engine,
                    &name,
                    n.parse().unwrap(),
                    seed.parse().unwrap(),
                    &mut grants,
                );
                say(serde_json::json!({"acked": acked, "refused": refused}));
            }
            ["wait", seq] => {
                wait_for(&engine, seq.parse().unwrap(), Duration::from_secs(120));
                say(serde_json::json!({"ok": true}));
            }
            ["hash"] => say(serde_json::json!({
                "hash": engine.state_hash().unwrap(),
                "skipped": engine.skipped_changes().len(),
            })),
            ["offboard", agent] => {
                let t = now_us();
                engine.offboard(agent, "ops").unwrap();
                say(serde_json::json!({"start_us": t, "acked_us": now_us()}));
            }
            ["watch", agent] => {
                let start = Instant::now();
                while read(&engine, agent).0 {
                    assert!(
                        start.elapsed() < Duration::from_secs(10),
                        "{agent} never denied"
                    );
                    std::thread::sleep(Duration::from_micros(100));
                }
                say(serde_json::json!({"denied_us": now_us()}));
            }
            ["quit"] => break,
            other => panic!("unknown command {other:?}"),
        }
    }
}

fn now_us() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// `n` acknowledged mixed changes (a refused one is retried with another).
fn mixed(
    engine: &Engine,
    name: &str,
    n: usize,
    mut seed: u64,
    grants: &mut Vec<String>,
) -> (Vec<u64>, usize) {
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    let mut acked = Vec::new();
    let mut refused = 0;
    let mut i = 0;
    while acked.len() < n {
        i += 1;
        assert!(refused < 20 * n + 1000, "too many refusals");
        let a = rnd() % RANDOM_AGENTS;
        let agent = format!("agent-{a}");
        let soon = agentauthz::format_millis(
            i64::try_from(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_millis(),
            )
            .unwrap()
                + 3_600_000,
        );
        let change = match rnd() % 100 {
            0..=19 => Change::Suspend { agent },
            20..=39 => Change::Reactivate { agent },
            40..=59 => {
                let id = format!("G-{name}-{i}");
                grants.push(id.clone());
                Change::Grant(Grant {
                    id,
                    agent,
                    actions: vec!["read".into()],
                    resource: EntityRef::new("Repo", "r1"),
                    starts: "2026-01-01T00:00:00Z".into(),
                    expires: soon,
                    task: None,
                    reason: "test".into(),
                    granted_by: "ops".into(),
                })
            }
            60..=69 => match grants.pop() {
                Some(grant) => Change::Revoke { grant },
                None => Change::Suspend { agent },
            },
            70..=79 => Change::AddTask(TaskSpec {
                id: format!("T-{name}-{i}"),
                agent,
                not_before: "2026-01-01T00:00:00Z".into(),
                not_after: soon,
                purpose: None,
                on_behalf_of: None,
            }),
            80..=87 => Change::RotateCredential {
                credential: format!("cred-{a}"),
                expires: soon,
            },
            88..=95 => Change::TransferOwner {
                agent,
                owner: format!("user-{}", rnd() % 10),
            },
            96..=98 => Change::RevokeSession {
                session: format!("S-{name}-{i}"),
            },
            _ => Change::Offboard { agent },
        };
        match engine.apply(change, "ops") {
            Ok(entry) => acked.push(entry.seq),
            Err(e) => {
                refused += 1;
                if e.code() == ErrorCode::Io {
                    // The store is out of reach: nothing was acknowledged.
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
    (acked, refused)
}

struct Proc {
    child: Child,
    stdin: ChildStdin,
    out: std::sync::mpsc::Receiver<serde_json::Value>,
}

impl Proc {
    fn spawn(name: &str, url: &str) -> Proc {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "fleet_child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AGENTAUTHZ_FLEET_CHILD", name)
            .env("AGENTAUTHZ_FLEET_URL", url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, out) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may print `test NAME ... ` before it on the line.
                if let Some(json) = line.split_once("@@ ").map(|(_, j)| j) {
                    if tx.send(serde_json::from_str(json).unwrap()).is_err() {
                        break;
                    }
                }
            }
        });
        Proc { child, stdin, out }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn recv(&self, limit: Duration) -> serde_json::Value {
        self.out
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("no answer from an engine process: {e}"))
    }

    fn ask(&mut self, command: &str, limit: Duration) -> serde_json::Value {
        self.send(command);
        self.recv(limit)
    }
}

fn take(acked: &mut Vec<u64>, v: serde_json::Value) {
    acked.extend(
        v["acked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_u64().unwrap()),
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn eight_processes_share_10000_changes_through_a_crash_and_a_kill() {
    if std::env::var_os("AGENTAUTHZ_FLEET_CHILD").is_some() {
        return;
    }
    let _serial = serial();
    let Some(pg) = Pg::start("eight_processes_share_10000_changes") else {
        return;
    };
    let url = pg.url();
    init(&url);
    let t0 = Instant::now();
    let minute = Duration::from_secs(120);
    let mut procs: Vec<Proc> = (0..8)
        .map(|i| Proc::spawn(&format!("e{i}"), &url))
        .collect();
    for p in &procs {
        assert!(p.recv(minute).get("ready").is_some());
    }
    let mut acked: Vec<u64> = Vec::new();
    // Round 1: 8 x 625 changes at once; engine e7 is killed (-9) mid-stream.
    for (i, p) in procs.iter_mut().enumerate() {
        p.send(&format!("apply 625 {}", i + 1));
    }
    std::thread::sleep(Duration::from_millis(700));
    procs[7].child.kill().unwrap(); // SIGKILL
    procs[7].child.wait().unwrap();
    for p in &procs[..7] {
        take(&mut acked, p.recv(minute));
    }
    // Its replacement catches up from the store.
    let restart = Instant::now();
    procs[7] = Proc::spawn("e7", &url);
    let ready = procs[7].recv(minute);
    let catch_up = restart.elapsed();
    eprintln!(
        "fleet: restarted engine caught up {} changes in {:?} (process start included)",
        ready["applied"], catch_up
    );
    // Round 2: the rest, with PostgreSQL crashing (immediate stop) mid-stream.
    let have = acked.len();
    let rest = 10_000 - have;
    for (i, p) in procs.iter_mut().enumerate() {
        let n = rest / 8 + usize::from(i < rest % 8);
        p.send(&format!("apply {n} {}", i + 100));
    }
    std::thread::sleep(Duration::from_millis(800));
    pg.stop_server("immediate");
    std::thread::sleep(Duration::from_millis(500));
    pg.start_server();
    for p in &procs {
        take(&mut acked, p.recv(Duration::from_secs(300)));
    }
    assert!(acked.len() >= 10_000, "{} acknowledged", acked.len());
    let mut client = pg.client();
    let last = max_seq(&mut client);
    let mut hashes = Vec::new();
    for p in procs.iter_mut() {
        p.ask(&format!("wait {last}"), minute);
        hashes.push(p.ask("hash", minute));
    }
    // Nothing acknowledged is missing, nothing is twice.
    let mut sorted = acked.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        acked.len(),
        "two acknowledgements of one change"
    );
    let stored: Vec<i64> = client
        .query("SELECT seq FROM agentauthz_changes ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for s in &sorted {
        assert!(
            stored.binary_search(&i64::try_from(*s).unwrap()).is_ok(),
            "acknowledged change {s} lost"
        );
    }
    let first = &hashes[0]["hash"];
    for h in &hashes {
        assert_eq!(&h["hash"], first, "engines disagree: {hashes:?}");
    }
    // A fresh engine replaying the whole store lands on the same state.
    let fresh = engine(&url, "fresh", None);
    assert_eq!(Some(fresh.state_hash().unwrap().as_str()), first.as_str());
    let converged = t0.elapsed();

    // Offboarding in one process: how soon another one denies.
    let mut latencies = Vec::new();
    for k in 0..40u64 {
        let agent = format!("agent-{}", RANDOM_AGENTS + k);
        let watcher = 1 + usize::try_from(k % 7).unwrap();
        procs[watcher].send(&format!("watch {agent}"));
        std::thread::sleep(Duration::from_millis(30));
        let off = procs[0].ask(&format!("offboard {agent}"), minute);
        let denied = procs[watcher].recv(minute);
        let start = off["start_us"].as_u64().unwrap();
        let at = denied["denied_us"].as_u64().unwrap();
        latencies.push(at.saturating_sub(start) as f64 / 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    eprintln!(
        "fleet: 8 processes, {} changes ({} stored incl. refused-then-unknown), converged in {converged:?}; \
         offboarding propagation p50 {p50:.2} ms, p99 {p99:.2} ms (from the call in A to a deny in B)",
        acked.len(),
        last
    );
    assert!(p99 < 1000.0, "p99 propagation {p99} ms");
    for p in procs.iter_mut() {
        p.send("quit");
    }
    for mut p in procs {
        let _ = p.child.wait();
    }
}

// ---------------------------------------------------------------- TLS

/// `openssl` in `dir`: a CA, and certificates it signs.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_ca(dir: &std::path::Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
}

/// A server certificate signed by `ca` for the names in `san`.
fn make_cert(dir: &std::path::Path, ca: &str, name: &str, san: &str) {
    std::fs::write(
        dir.join(format!("{name}.ext")),
        format!("subjectAltName={san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

/// Restarts the server with TLS on, serving certificate `name` from `certs`.
fn serve_tls(pg: &Pg, certs: &std::path::Path, name: &str) {
    pg.stop_server("fast");
    pg.put_file(
        "server.crt",
        &std::fs::read(certs.join(format!("{name}.crt"))).unwrap(),
    );
    pg.put_file(
        "server.key",
        &std::fs::read(certs.join(format!("{name}.key"))).unwrap(),
    );
    pg.start_server_with("-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
}

fn tls_engine(url: &str, mode: &str, ca: Option<&std::path::Path>) -> agentauthz::Result<Engine> {
    let mut b = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(inventory())
        .postgres(url)
        .store_writer(format!("tls-{mode}"))
        .store_poll_ms(100)
        .store_sslmode(mode);
    if let Some(ca) = ca {
        b = b.store_ca_file(ca.to_str().unwrap());
    }
    b.build()
}

fn store_findings(engine: &Engine) -> Vec<agentauthz::posture::Finding> {
    agentauthz::posture::posture(
        engine,
        &agentauthz::posture::PostureOptions {
            now_millis: i64::try_from(now_us() / 1000).unwrap(),
            logs: vec![],
            access_logs: vec![],
        },
    )
    .unwrap()
    .findings
}

#[test]
fn tls_verify_full_checks_the_ca_and_the_host_and_require_refuses_plain_tcp() {
    let _serial = serial();
    let Some(pg) = Pg::start("tls") else { return };
    init(&pg.url());
    let certs = pg.dir().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_ca(&certs, "ca");
    make_ca(&certs, "other-ca");
    make_cert(&certs, "ca", "right", "IP:127.0.0.1,DNS:localhost");
    make_cert(&certs, "ca", "wrong-host", "DNS:db.example");
    let ca = certs.join("ca.crt");
    let url = pg.url();

    // A server without TLS: `require` and `verify-full` refuse it.
    for (mode, ca) in [("require", None), ("verify-full", Some(ca.as_path()))] {
        let e = tls_engine(&url, mode, ca).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Io, "{mode}: {e}");
        assert!(e.to_string().contains("TLS"), "{mode}: {e}");
    }
    // Settings that protect nothing are configuration errors.
    for (mode, ca) in [
        ("verify-full", None),
        ("require", Some(ca.as_path())),
        ("disable", Some(ca.as_path())),
        ("verify-ca", Some(ca.as_path())),
        ("prefer", None),
    ] {
        let e = tls_engine(&url, mode, ca).unwrap_err();
        assert_eq!(e.code(), ErrorCode::ConfigInvalid, "{mode}: {e}");
    }
    let e = tls_engine(&url, "verify-full", Some(&certs.join("missing.crt"))).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConfigInvalid, "{e}");
    // `store init` takes the same settings: a server without TLS is refused.
    let ca_text = ca.to_str().unwrap();
    let e = agentauthz::ffi::store_init(&url, Some("verify-full"), Some(ca_text)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Io, "{e}");
    let e = agentauthz::ffi::store_init(&url, Some("verify-full"), None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::ConfigInvalid, "{e}");

    serve_tls(&pg, &certs, "right");
    // Over TLS, checked against the CA: initialised (again: it is idempotent);
    // against another CA: refused.
    agentauthz::ffi::store_init(&url, Some("verify-full"), Some(ca_text)).unwrap();
    agentauthz::ffi::store_init(&url, Some("require"), None).unwrap();
    let other = certs.join("other-ca.crt");
    let e = agentauthz::ffi::store_init(&url, Some("verify-full"), other.to_str()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Io, "{e}");
    let a = tls_engine(&url, "verify-full", Some(&ca)).unwrap();
    let b = tls_engine(&url, "require", None).unwrap();
    let plain = engine(&url, "plain", None);
    a.offboard("agent-1", "user-1").unwrap();
    wait_for(&b, 1, Duration::from_secs(10));
    wait_for(&plain, 1, Duration::from_secs(10));
    assert_eq!(
        read(&b, "agent-1").1,
        vec!["baseline/agent-active".to_string()]
    );
    // Every connection of the TLS engines is encrypted.
    let mut client = pg.client();
    let rows = client
        .query(
            "SELECT a.application_name, s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'agentauthz'",
            &[],
        )
        .unwrap();
    let encrypted = rows.iter().filter(|r| r.get::<_, bool>(1)).count();
    assert!(
        encrypted >= 2,
        "{encrypted} of {} connections encrypted",
        rows.len()
    );

    assert!(!store_findings(&a).iter().any(|f| f.rule == "AAZ017"));

    // The wrong CA: refused, with the reason.
    let e = tls_engine(&url, "verify-full", Some(&certs.join("other-ca.crt"))).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Io, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");

    // The server comes back with a certificate for another host name: the
    // running engine keeps its last state, reports why, and refuses writes.
    let before = a.state_hash().unwrap();
    serve_tls(&pg, &certs, "wrong-host");
    let start = Instant::now();
    loop {
        let status = a.store_status();
        if !status.connected
            && status
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("certificate"))
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{status:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let e = a.suspend("agent-2", "user-2").unwrap_err();
    assert_eq!(e.code(), ErrorCode::Io, "{e}");
    assert_eq!(a.state_hash().unwrap(), before);
    // Posture reports it: AAZ017, high, with the reason as evidence.
    let findings = store_findings(&a);
    let f = findings.iter().find(|f| f.rule == "AAZ017").unwrap();
    assert_eq!(f.severity, agentauthz::posture::Severity::High);
    assert_eq!(f.entity, "Engine::\"store\"");
    assert!(
        f.evidence.iter().any(|e| e.contains("certificate")),
        "{:?}",
        f.evidence
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.contains("no [store] max_staleness_seconds")),
        "{:?}",
        f.evidence
    );
    assert!(read(&a, "agent-2").0);
    assert_eq!(
        read(&a, "agent-1").1,
        vec!["baseline/agent-active".to_string()]
    );
    let e = tls_engine(&url, "verify-full", Some(&ca)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Io, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
    // `require` does not check the name: it still connects (encrypted).
    let c = tls_engine(&url, "require", None).unwrap();
    assert_eq!(c.store_status().last_applied_seq, 1);
}

/// The offboarding propagation figure of `make bench`: process A offboards,
/// process B (polling its checks) denies; 48 samples. With
/// `AGENTAUTHZ_BENCH_FLEET_OUT` set, the figures (or why there are none) go
/// to that file as JSON for bench/report.py.
#[test]
fn offboarding_propagates_from_one_process_to_another() {
    if std::env::var_os("AGENTAUTHZ_FLEET_CHILD").is_some() {
        return;
    }
    let _serial = serial();
    let out = std::env::var_os("AGENTAUTHZ_BENCH_FLEET_OUT");
    let Some(pg) = Pg::start("offboarding_propagates_from_one_process_to_another") else {
        if let Some(out) = out {
            std::fs::write(
                out,
                r#"{"skipped": "PostgreSQL is not installed (Debian package postgresql)"}"#,
            )
            .unwrap();
        }
        return;
    };
    let url = pg.url();
    init(&url);
    let minute = Duration::from_secs(120);
    let mut a = Proc::spawn("a", &url);
    let mut b = Proc::spawn("b", &url);
    assert!(a.recv(minute).get("ready").is_some());
    assert!(b.recv(minute).get("ready").is_some());
    let mut latencies = Vec::new();
    for k in 0..48u64 {
        let agent = format!("agent-{}", RANDOM_AGENTS + k);
        b.send(&format!("watch {agent}"));
        std::thread::sleep(Duration::from_millis(20));
        let off = a.ask(&format!("offboard {agent}"), minute);
        let denied = b.recv(minute);
        let start = off["start_us"].as_u64().unwrap();
        let at = denied["denied_us"].as_u64().unwrap();
        latencies.push(at.saturating_sub(start) as f64 / 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    eprintln!(
        "offboarding propagation, process A to process B through PostgreSQL: \
         p50 {p50:.2} ms, p99 {p99:.2} ms, max {:.2} ms over {} samples",
        latencies[latencies.len() - 1],
        latencies.len()
    );
    if let Some(out) = out {
        let doc = serde_json::json!({
            "samples": latencies.len(),
            "p50_ms": p50,
            "p99_ms": p99,
            "max_ms": latencies[latencies.len() - 1],
        });
        std::fs::write(out, doc.to_string()).unwrap();
    }
    // Every offboarding reached B (`watch` fails after 10 s); whether p99
    // meets the 1 s target is the bench's verdict (this machine's load
    // decides the tail), and the 8-process test above asserts it.
    for p in [&mut a, &mut b] {
        p.send("quit");
    }
    let _ = a.child.wait();
    let _ = b.child.wait();
}

// ------------------------------------------------------------ close

/// Threads of this process named as the store follower.
fn followers() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "agentauthz-foll")
        .count()
}

/// Client connections to the server other than `client`'s own.
fn other_connections(client: &mut postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_closed_fleet_engine_reports_its_store_goes_stale_and_denies() {
    let _serial = serial();
    let Some(pg) = Pg::start("a_closed_fleet_engine_reports_its_store_goes_stale_and_denies")
    else {
        return;
    };
    let url = pg.url();
    init(&url);
    let a = engine(&url, "a", Some(1));
    let b = engine(&url, "b", None);
    assert_eq!(read(&a, "agent-160"), (true, vec!["read".to_string()]));
    a.close();
    let s = a.store_status();
    assert_eq!(s.backend, "postgres", "{s:?}");
    assert!(s.location.starts_with("postgres "), "{s:?}");
    assert!(!s.connected, "{s:?}");
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("closed")),
        "{s:?}"
    );
    assert_eq!(s.max_staleness_ms, Some(1000));
    let first = s.staleness_ms.unwrap();
    // Within the bound: the last state still decides.
    assert!(!s.stale, "{s:?}");
    assert_eq!(read(&a, "agent-160"), (true, vec!["read".to_string()]));
    // Another engine offboards the agent: the closed one never learns it...
    let seq = b
        .apply(
            Change::Offboard {
                agent: "agent-160".into(),
            },
            "ops",
        )
        .unwrap()
        .seq;
    std::thread::sleep(Duration::from_millis(1300));
    let s = a.store_status();
    assert!(s.last_applied_seq < seq, "{s:?}");
    assert!(s.staleness_ms.unwrap() >= first + 1000, "{s:?}");
    assert!(s.stale && !s.connected, "{s:?}");
    // ...so past the bound it denies, exactly as with the store out of reach.
    assert_eq!(
        read(&a, "agent-160"),
        (false, vec!["store/stale".to_string()])
    );
    assert_eq!(
        read(&a, "agent-161"),
        (false, vec!["store/stale".to_string()])
    );
    // Without a bound it keeps reporting how stale it is, and decides on.
    b.close();
    std::thread::sleep(Duration::from_millis(50));
    let s = b.store_status();
    assert_eq!(s.backend, "postgres");
    assert!(
        !s.stale && !s.connected && s.staleness_ms.unwrap() >= 50,
        "{s:?}"
    );
    assert!(!read(&b, "agent-160").0);
}

#[test]
fn close_ends_the_follower_and_its_connections() {
    let _serial = serial();
    let Some(pg) = Pg::start("close_ends_the_follower_and_its_connections") else {
        return;
    };
    let url = pg.url();
    init(&url);
    let mut client = pg.client();
    // More changes than one catch-up page: a follower that reads from the
    // start after close would never finish.
    client
        .batch_execute(
            "INSERT INTO agentauthz_changes (at, by_id, writer, change) SELECT '2026-12-01T00:00:00Z', 'peer', 'seed', '{\"op\":\"suspend\",\"agent\":\"agent-' || (g % 100) || '\"}' FROM generate_series(1, 2100) g",
        )
        .unwrap();
    let settle = Instant::now();
    while followers() > 0 {
        assert!(
            settle.elapsed() < Duration::from_secs(10),
            "stray followers"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A long poll: a follower that ends only at its next poll holds on.
    let e = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(inventory())
        .postgres(&url)
        .store_poll_ms(60_000)
        .build()
        .unwrap();
    assert_eq!(e.store_status().last_applied_seq, 2100);
    // The thread names itself once it runs.
    let start = Instant::now();
    while followers() < 1 || other_connections(&mut client) < 1 {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    let start = Instant::now();
    e.close();
    let took = start.elapsed();
    assert_eq!(followers(), 0, "the follower outlived close()");
    assert!(took < Duration::from_secs(2), "close took {took:?}");
    // The server notices the closed sockets shortly after.
    let start = Instant::now();
    while other_connections(&mut client) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the engine's connections outlived close()"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // And nothing opens one again while the (closed) engine lives on.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(other_connections(&mut client), 0);
    assert_eq!(followers(), 0);
    drop(e);
}
