//! The decision log: chain round trip, every tampering class `verify` tells
//! apart (within a file and across rotated files), rotation, redaction,
//! log-only semantics (per policy and per engine), concurrency, OCSF export.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod receivers;

use agentauthz::audit::{
    read_records, record_hash, rotated_files, to_ocsf, verify_files, DamageKind, FileOptions,
    RecordDecision, Report, VerifyOptions, VerifyReport, GENESIS_HASH,
};
use agentauthz::{
    AgentRequest, DecisionLog, DecisionRecord, Effect, Engine, EntityRef, ErrorCode, FixedClock,
    Mode, Request,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = r#"
entity Repo;
action "github:push" appliesTo {
  principal: [Agent], resource: [Repo],
  context: { branch: String, source_ip?: ipaddr, input?: { password?: String, user?: String } }
};
action "github:read" appliesTo { principal: [Agent], resource: [Repo] };
"#;

const POLICIES: &str = r#"
@id("push-feature")
permit (principal, action == Action::"github:push", resource)
when { context.branch like "feature/*" };

@id("read-all")
permit (principal, action == Action::"github:read", resource);
"#;

const INVENTORY: &str = r#"
users:
  - {id: alice}
agents:
  - {id: ci-bot, owner: alice}
  - {id: orphan}
tasks:
  - {id: T1, agent: ci-bot, not_before: "2026-11-29T00:00:00Z", not_after: "2026-11-30T00:00:00Z", on_behalf_of: alice}
"#;

const NOW: &str = "2026-11-29T10:00:00Z";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "agentauthz-audit-{}-{name}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn builder(policies: &str, config: Option<&str>) -> agentauthz::EngineBuilder {
    let b = Engine::builder()
        .schema(SCHEMA)
        .policies(policies)
        .inventory(INVENTORY)
        .clock(Arc::new(FixedClock::at("2026-11-29T10:00:00Z").unwrap()))
        // Requests here carry their own `now`.
        .trust_caller_time(true);
    match config {
        Some(c) => b.config(c),
        None => b,
    }
}

fn engine_with(log: DecisionLog, config: Option<&str>) -> Engine {
    builder(POLICIES, config).decision_log(log).build().unwrap()
}

fn push(agent: &str, branch: &str) -> Request {
    Request::Agent(AgentRequest {
        agent: agent.into(),
        action: "github:push".into(),
        resource: EntityRef::new("Repo", "acme/api"),
        task: (agent == "ci-bot").then(|| "T1".into()),
        on_behalf_of: Some("alice".into()),
        credential: None,
        context: json!({"branch": branch}).as_object().unwrap().clone(),
        now: Some(NOW.into()),
    })
}

fn request(value: Value) -> Request {
    Request::from_json_value(value).unwrap()
}

/// A mixed workload: allows, denies (policy and guardrail), and a bad request.
fn workload(engine: &Engine, n: usize) {
    for i in 0..n {
        let r = match i % 4 {
            0 => push("ci-bot", "feature/x"),
            1 => push("ci-bot", "main"),
            2 => push("orphan", "feature/y"),
            _ => request(json!({"agent": "ci-bot", "action": "github:read",
                                 "resource": {"type": "Repo", "id": "acme/api"}, "now": NOW})),
        };
        engine.check(&r).unwrap();
    }
}

fn verify(files: &[PathBuf]) -> VerifyReport {
    verify_files(files, &VerifyOptions::default()).unwrap()
}

fn damage(files: &[PathBuf]) -> (DamageKind, usize, String) {
    let report = verify(files);
    let d = report.damage.expect("damage expected");
    (d.kind, d.line, d.message)
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// A log of `n` records in `dir/decisions.jsonl`.
fn log_of(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("decisions.jsonl");
    let engine = engine_with(DecisionLog::file(&path).unwrap(), None);
    workload(&engine, n);
    engine.flush_decision_log().unwrap();
    drop(engine);
    path
}

/// Re-hashes a parsed record after editing it (what a careful forger does).
fn rehash(v: &mut Value) {
    let h = record_hash(v).unwrap();
    v["hash"] = json!(h);
}

// ---------------------------------------------------------------------------
// Round trip

#[test]
fn chain_round_trip() {
    let dir = temp_dir("roundtrip");
    let path = dir.join("decisions.jsonl");
    let seen: Arc<Mutex<Vec<DecisionRecord>>> = Arc::default();
    let seen2 = seen.clone();
    let file_engine = engine_with(DecisionLog::file(&path).unwrap(), None);
    let cb_engine = engine_with(
        DecisionLog::callback(move |r| seen2.lock().unwrap().push(r.clone())),
        None,
    );
    let requests = [
        push("ci-bot", "feature/x"),
        push("ci-bot", "main"),
        push("orphan", "feature/y"),
        request(json!({"agent": "ghost", "action": "github:read",
                       "resource": {"type": "Repo", "id": "acme/api"}, "now": NOW})),
        request(json!({"agent": "ci-bot", "action": "github:push",
                       "resource": {"type": "Repo", "id": "acme/api"},
                       "context": {"branch": 7}, "now": NOW})),
    ];
    let mut ids = Vec::new();
    for r in &requests {
        let a = file_engine.check(r);
        let b = cb_engine.check(r);
        assert_eq!(a.is_ok(), b.is_ok());
        ids.push(a.ok().map(|d| d.decision_id));
    }
    file_engine.flush_decision_log().unwrap();

    let report = verify(std::slice::from_ref(&path));
    assert!(report.intact(), "{:?}", report.damage);
    assert_eq!(report.records, 5);
    assert_eq!((report.first_seq, report.last_seq), (Some(1), Some(5)));
    let head = file_engine.decision_log().unwrap().head();
    assert_eq!(report.head.as_deref(), Some(head.1.as_str()));
    assert_eq!(head.0, 5);

    let records: Vec<DecisionRecord> = read_records(std::slice::from_ref(&path))
        .unwrap()
        .into_iter()
        .map(|(_, _, r)| r.unwrap())
        .collect();
    assert_eq!(records[0].prev_hash, GENESIS_HASH);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1);
        assert_eq!(r.schema_version, agentauthz::audit::SCHEMA_VERSION);
        assert_eq!(r.timestamp, "2026-11-29T10:00:00.000Z");
        assert_eq!(r.hash, r.compute_hash());
        if i > 0 {
            assert_eq!(r.prev_hash, records[i - 1].hash);
        }
        if let Some(id) = &ids[i] {
            assert_eq!(
                &r.decision_id, id,
                "the record carries the caller's decision_id"
            );
        }
    }
    let first = &records[0];
    assert_eq!(first.decision, RecordDecision::Allow);
    assert_eq!(first.reasons, vec!["push-feature"]);
    assert_eq!(first.agent.as_deref(), Some("ci-bot"));
    assert_eq!(first.owner.as_deref(), Some("alice"));
    assert_eq!(first.on_behalf_of.as_deref(), Some("alice"));
    assert_eq!(first.task.as_deref(), Some("T1"));
    assert_eq!(first.action, "github:push");
    assert_eq!(first.resource, EntityRef::new("Repo", "acme/api"));
    assert_eq!(
        first.context,
        *json!({"branch": "feature/x"}).as_object().unwrap()
    );
    assert_eq!(first.request_time.as_deref(), Some(NOW));
    assert_eq!(first.mode, Mode::Enforce);
    assert_eq!(
        first.would_decision, None,
        "no log-only anything: no would_*"
    );
    assert_eq!(records[1].decision, RecordDecision::Deny);
    assert_eq!(records[2].reasons, vec!["baseline/owner-required"]);
    assert_eq!(records[2].owner, None);
    assert_eq!(records[3].reasons, vec!["baseline/unknown-agent"]);
    let err = &records[4];
    assert_eq!(err.decision, RecordDecision::Error);
    assert_eq!(err.error.as_ref().unwrap().code, "request_invalid");

    // The callback saw the same records, field for field, hashes included
    // (same clock, same chain); only decision ids differ (two engines).
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), records.len());
    for (a, b) in seen.iter().zip(&records) {
        let (mut a, mut b) = (a.clone(), b.clone());
        for r in [&mut a, &mut b] {
            r.decision_id.clear();
            r.hash.clear();
            r.prev_hash.clear();
        }
        assert_eq!(a, b);
    }

    // Every line is the canonical form plus the hash as its last member.
    for line in read_lines(&path) {
        assert!(line.starts_with("{\"action\":"));
        assert!(line.contains(",\"hash\":\""));
    }
}

#[test]
fn reopening_a_log_continues_its_chain() {
    let dir = temp_dir("reopen");
    let path = log_of(&dir, 3);
    let engine = engine_with(DecisionLog::file(&path).unwrap(), None);
    workload(&engine, 2);
    drop(engine); // flushes on drop
    let report = verify(&[path]);
    assert!(report.intact(), "{:?}", report.damage);
    assert_eq!(report.records, 5);
    assert_eq!(report.last_seq, Some(5));
}

#[test]
fn a_log_shorter_than_its_checkpoint_is_not_reopened() {
    // Records removed from the end (or the whole file deleted) while the
    // checkpoint remains: appending would hide the cut behind new records and
    // carry the old log's journal position into a new one. Refused instead.
    let dir = temp_dir("reopen-cut");
    let path = log_of(&dir, 6);
    let lines = read_lines(&path);
    for kept in [4, 0] {
        let text: String = lines[..kept].iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let e = DecisionLog::file(&path).unwrap_err();
        assert_eq!(e.code(), ErrorCode::LogCorrupt, "{e}");
        assert!(e.to_string().contains("checkpoint"), "{e}");
    }
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        DecisionLog::file(&path).unwrap_err().code(),
        ErrorCode::LogCorrupt
    );
    // A new log starts once the old checkpoint is moved away with it.
    std::fs::remove_file(dir.join("decisions.jsonl.checkpoint")).unwrap();
    let engine = engine_with(DecisionLog::file(&path).unwrap(), None);
    workload(&engine, 1);
    drop(engine);
    assert!(verify(&[path]).intact());
}

#[test]
fn one_path_is_one_log_in_a_process() {
    let dir = temp_dir("same-path");
    let path = dir.join("decisions.jsonl");
    let a = engine_with(DecisionLog::file(&path).unwrap(), None);
    let b = engine_with(DecisionLog::file(&path).unwrap(), None);
    workload(&a, 3);
    workload(&b, 3);
    a.flush_decision_log().unwrap();
    let report = verify(&[path]);
    assert!(report.intact(), "{:?}", report.damage);
    assert_eq!(report.records, 6);
}

#[test]
fn engine_without_a_sink_and_set_decision_log() {
    let dir = temp_dir("set-log");
    let path = dir.join("d.jsonl");
    let engine = builder(POLICIES, None).build().unwrap();
    assert!(engine.decision_log().is_none());
    engine.check(&push("ci-bot", "feature/x")).unwrap();
    engine.flush_decision_log().unwrap();
    engine.set_decision_log(Some(DecisionLog::file(&path).unwrap()));
    workload(&engine, 2);
    engine.set_decision_log(None);
    workload(&engine, 2);
    let report = verify(&[path]);
    assert_eq!(report.records, 2);
    assert!(report.intact());
}

#[test]
fn check_batch_logs_every_decision() {
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let s = seen.clone();
    let engine = engine_with(
        DecisionLog::callback(move |r| s.lock().unwrap().push(r.seq)),
        None,
    );
    let out = engine.check_batch(&[push("ci-bot", "feature/x"), push("ci-bot", "main")]);
    assert_eq!(out.len(), 2);
    assert_eq!(*seen.lock().unwrap(), vec![1, 2]);
}

#[test]
fn flush_reports_callback_failures_and_nested_checks_do_not_deadlock() {
    let engine: Arc<Mutex<Option<Arc<Engine>>>> = Arc::default();
    let inner = engine.clone();
    let log = DecisionLog::callback(move |r| {
        if r.seq == 1 {
            if let Some(e) = inner.lock().unwrap().clone() {
                // A callback that checks on its own engine: that record is dropped, reported.
                let _ = e.check(&push("ci-bot", "feature/nested"));
            }
        }
        if r.seq == 2 {
            panic!("callback failure");
        }
    });
    let e = Arc::new(engine_with(log, None));
    *engine.lock().unwrap() = Some(e.clone());
    e.check(&push("ci-bot", "feature/x")).unwrap();
    let err = e.flush_decision_log().unwrap_err();
    assert!(err.to_string().contains("its own sink"), "{err}");
    e.check(&push("ci-bot", "feature/x")).unwrap(); // the callback panics; check does not
    let err = e.flush_decision_log().unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    e.flush_decision_log().unwrap();
    *engine.lock().unwrap() = None;
}

// ---------------------------------------------------------------------------
// Tampering, one test per class

#[test]
fn verify_intact_log() {
    let dir = temp_dir("intact");
    let path = log_of(&dir, 8);
    let report = verify(&[path]);
    assert!(report.intact());
    assert_eq!(report.records, 8);
}

#[test]
fn tamper_changed_record_content() {
    let dir = temp_dir("changed");
    let path = log_of(&dir, 6);
    let mut lines = read_lines(&path);
    lines[1] = lines[1].replace("\"decision\":\"deny\"", "\"decision\":\"allow\"");
    assert_ne!(read_lines(&path)[1], lines[1]);
    write_lines(&path, &lines);
    let (kind, line, message) = damage(&[path]);
    assert_eq!((kind, line), (DamageKind::Changed, 2));
    assert!(message.contains("does not match its hash"), "{message}");
}

#[test]
fn tamper_changed_record_with_recomputed_hash() {
    let dir = temp_dir("changed-rehash");
    let path = log_of(&dir, 6);
    let mut lines = read_lines(&path);
    let mut v: Value = serde_json::from_str(&lines[1]).unwrap();
    v["decision"] = json!("allow");
    v["reasons"] = json!([]);
    rehash(&mut v);
    lines[1] = v.to_string();
    write_lines(&path, &lines);
    let (kind, line, message) = damage(&[path]);
    assert_eq!((kind, line), (DamageKind::Changed, 2));
    assert!(message.contains("recomputed"), "{message}");
}

#[test]
fn tamper_removed_record() {
    let dir = temp_dir("removed");
    let path = log_of(&dir, 6);
    let mut lines = read_lines(&path);
    lines.remove(2);
    write_lines(&path, &lines);
    let (kind, line, message) = damage(&[path]);
    assert_eq!((kind, line), (DamageKind::Removed, 3));
    assert!(message.contains("1 record is missing"), "{message}");
    assert!(message.contains("seq 3"), "{message}");
}

#[test]
fn tamper_removed_first_records() {
    let dir = temp_dir("removed-first");
    let path = log_of(&dir, 6);
    let lines = read_lines(&path);
    write_lines(&path, &lines[2..]);
    let (kind, line, message) = damage(&[path]);
    assert_eq!((kind, line), (DamageKind::Removed, 1));
    assert!(message.contains("seq 1..2"), "{message}");
}

#[test]
fn tamper_inserted_forged_record() {
    let dir = temp_dir("inserted");
    let path = log_of(&dir, 6);
    let mut lines = read_lines(&path);
    // A forger copies record 3, makes it an allow, chains it after record 2
    // with seq 3, and hashes it properly.
    let mut v: Value = serde_json::from_str(&lines[2]).unwrap();
    v["decision"] = json!("allow");
    v["decision_id"] = json!("01FORGED0000000000000000000");
    rehash(&mut v);
    lines.insert(2, v.to_string());
    write_lines(&path, &lines);
    let (kind, line, _) = damage(&[path]);
    assert_eq!((kind, line), (DamageKind::Inserted, 3));
}

#[test]
fn tamper_inserted_replayed_record() {
    let dir = temp_dir("replayed");
    let path = log_of(&dir, 6);
    let mut lines = read_lines(&path);
    let copy = lines[1].clone();
    lines.insert(4, copy);
    write_lines(&path, &lines);
    let (kind, line, message) = damage(&[path]);
    assert_eq!((kind, line), (DamageKind::Inserted, 5));
    assert!(message.contains("copy of the record at"), "{message}");
}

#[test]
fn tamper_inserted_garbage_line() {
    let dir = temp_dir("garbage");
    let path = log_of(&dir, 4);
    let mut lines = read_lines(&path);
    lines.insert(1, "{\"note\": \"nothing to see\"}".into());
    write_lines(&path, &lines);
    let (kind, line, _) = damage(&[path]);
    assert_eq!((kind, line), (DamageKind::Inserted, 2));
}

#[test]
fn tamper_reordered_records() {
    let dir = temp_dir("reordered");
    let path = log_of(&dir, 6);
    let mut lines = read_lines(&path);
    lines.swap(2, 3);
    write_lines(&path, &lines);
    let (kind, line, message) = damage(&[path]);
    assert_eq!((kind, line), (DamageKind::Reordered, 3));
    assert!(message.contains("seq 3 comes later"), "{message}");
}

#[test]
fn tamper_truncated_tail_needs_the_expected_head() {
    let dir = temp_dir("truncated");
    let path = log_of(&dir, 6);
    let head = verify(std::slice::from_ref(&path)).head.unwrap();
    let lines = read_lines(&path);
    write_lines(&path, &lines[..4]);
    // The checkpoint written when the sink closed anchors the tail: the cut
    // is found without the caller remembering anything.
    let d = verify(std::slice::from_ref(&path)).damage.unwrap();
    assert_eq!(d.kind, DamageKind::Truncated);
    assert!(d.message.contains("names seq 6"), "{}", d.message);
    // Without any anchor a clean cut is indistinguishable from a shorter log.
    let no_checkpoint = VerifyOptions {
        ignore_checkpoint: true,
        ..VerifyOptions::default()
    };
    assert!(verify_files(std::slice::from_ref(&path), &no_checkpoint)
        .unwrap()
        .intact());
    let report = verify_files(
        std::slice::from_ref(&path),
        &VerifyOptions {
            expect_head: Some(head.clone()),
            ..no_checkpoint.clone()
        },
    )
    .unwrap();
    let d = report.damage.unwrap();
    assert_eq!(d.kind, DamageKind::Truncated);
    assert!(d.message.contains("ends at seq 4"), "{}", d.message);
    // An anchor taken earlier is fine once the log has grown past it.
    let early = read_records(std::slice::from_ref(&path)).unwrap()[1]
        .2
        .clone()
        .unwrap()
        .hash;
    let report = verify_files(
        &[path],
        &VerifyOptions {
            expect_head: Some(early),
            ..no_checkpoint
        },
    )
    .unwrap();
    assert!(report.intact());
}

#[test]
fn tamper_malformed_and_cut_off_lines() {
    let dir = temp_dir("malformed");
    let path = log_of(&dir, 4);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.truncate(text.len() - 20); // a write cut off mid-record
    std::fs::write(&path, &text).unwrap();
    let (kind, line, message) = damage(std::slice::from_ref(&path));
    assert_eq!((kind, line), (DamageKind::Malformed, 4));
    assert!(message.contains("incomplete"), "{message}");
    // And a sink refuses to continue such a log rather than bless it.
    let err = DecisionLog::file(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LogCorrupt);
}

#[test]
fn verify_segment_with_start_hash() {
    let dir = temp_dir("segment");
    let path = log_of(&dir, 6);
    let records = read_records(std::slice::from_ref(&path)).unwrap();
    let start = records[2].2.clone().unwrap().hash;
    let lines = read_lines(&path);
    let seg = dir.join("segment.jsonl");
    write_lines(&seg, &lines[3..]);
    assert_eq!(damage(std::slice::from_ref(&seg)).0, DamageKind::Removed);
    let report = verify_files(
        &[seg],
        &VerifyOptions {
            start_hash: Some(start),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert!(report.intact(), "{:?}", report.damage);
    assert_eq!((report.first_seq, report.records), (Some(4), 3));
}

#[test]
fn unreadable_file_is_an_error_not_damage() {
    let dir = temp_dir("unreadable");
    let err = verify_files(&[dir.join("missing.jsonl")], &VerifyOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Io);
}

// ---------------------------------------------------------------------------
// Rotation

fn rotated_log(dir: &Path, n: usize) -> Vec<PathBuf> {
    let path = dir.join("decisions.jsonl");
    let log = DecisionLog::file_with(FileOptions::new(&path).max_bytes(2_000)).unwrap();
    let engine = engine_with(log, None);
    workload(&engine, n);
    drop(engine);
    rotated_files(&path).unwrap()
}

#[test]
fn rotation_keeps_the_chain_across_files() {
    let dir = temp_dir("rotation");
    let files = rotated_log(&dir, 40);
    assert!(files.len() >= 4, "{files:?}");
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names[0], "decisions.1.jsonl");
    assert_eq!(names[1], "decisions.2.jsonl");
    assert_eq!(names.last().unwrap(), "decisions.jsonl");
    for f in &files {
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len <= 2_000, "{} has {len} bytes", f.display());
    }
    let report = verify(&files);
    assert!(report.intact(), "{:?}", report.damage);
    assert_eq!(report.records, 40);
    // Each file but the first starts where the previous one ended.
    let first_of_second = read_records(&files[1..2]).unwrap()[0].2.clone().unwrap();
    let records_of_first = read_records(&files[..1]).unwrap();
    let last_of_first = records_of_first.last().unwrap().2.clone().unwrap();
    assert_eq!(first_of_second.prev_hash, last_of_first.hash);

    // A sink reopened on the rotated set continues it.
    let log =
        DecisionLog::file_with(FileOptions::new(dir.join("decisions.jsonl")).max_bytes(2_000))
            .unwrap();
    let engine = engine_with(log, None);
    workload(&engine, 12);
    drop(engine);
    let files = rotated_files(dir.join("decisions.jsonl")).unwrap();
    let report = verify(&files);
    assert!(report.intact(), "{:?}", report.damage);
    assert_eq!(report.records, 52);
}

#[test]
fn rotation_tamper_removed_file() {
    let dir = temp_dir("rot-removed");
    let mut files = rotated_log(&dir, 40);
    files.remove(1);
    let report = verify(&files);
    let d = report.damage.unwrap();
    assert_eq!(d.kind, DamageKind::Removed);
    assert!(d.file.ends_with("decisions.3.jsonl"), "{}", d.file);
    assert_eq!(d.line, 1);
}

#[test]
fn rotation_tamper_files_out_of_order() {
    let dir = temp_dir("rot-order");
    let mut files = rotated_log(&dir, 40);
    files.swap(0, 1);
    let d = verify(&files).damage.unwrap();
    assert_eq!(d.kind, DamageKind::Reordered);
    assert!(d.file.ends_with("decisions.2.jsonl"), "{}", d.file);
}

#[test]
fn rotation_tamper_changed_in_rotated_file() {
    let dir = temp_dir("rot-changed");
    let files = rotated_log(&dir, 40);
    let mut lines = read_lines(&files[1]);
    let changed = lines[0].replace("acme/api", "acme/evil");
    assert_ne!(changed, lines[0]);
    lines[0] = changed;
    write_lines(&files[1], &lines);
    let d = verify(&files).damage.unwrap();
    assert_eq!((d.kind, d.line), (DamageKind::Changed, 1));
    assert!(d.file.ends_with("decisions.2.jsonl"));
}

#[test]
fn rotation_tamper_truncated_active_file() {
    let dir = temp_dir("rot-trunc");
    let files = rotated_log(&dir, 40);
    let head = verify(&files).head.unwrap();
    std::fs::write(files.last().unwrap(), "").unwrap();
    let report = verify_files(
        &files,
        &VerifyOptions {
            expect_head: Some(head),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.damage.unwrap().kind, DamageKind::Truncated);
}

// ---------------------------------------------------------------------------
// Redaction

const REDACT_CONFIG: &str = r#"
[log]
redact = ["input.password", "source_ip"]
"#;

#[test]
fn redaction_never_leaks() {
    let dir = temp_dir("redact");
    let path = dir.join("decisions.jsonl");
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    let file_engine = engine_with(DecisionLog::file(&path).unwrap(), Some(REDACT_CONFIG));
    let cb_engine = engine_with(
        DecisionLog::callback(move |r| s.lock().unwrap().push(r.to_value())),
        Some(REDACT_CONFIG),
    );
    let secret_password = "hunter2-correct-horse";
    let secret_ip = "s3cret-host.internal";
    let requests = [
        // Allowed, with a password.
        json!({"agent": "ci-bot", "action": "github:push", "resource": {"type": "Repo", "id": "acme/api"},
               "context": {"branch": "feature/a", "source_ip": "10.9.8.7",
                           "input": {"password": secret_password, "user": "bob"}}, "now": NOW}),
        // Rejected: the redacted field's value is not an address, and Cedar's
        // error message quotes it.
        json!({"agent": "ci-bot", "action": "github:push", "resource": {"type": "Repo", "id": "acme/api"},
               "context": {"branch": "feature/a", "source_ip": secret_ip,
                           "input": {"password": secret_password}}, "now": NOW}),
        // Rejected: the password has the wrong type.
        json!({"agent": "ci-bot", "action": "github:push", "resource": {"type": "Repo", "id": "acme/api"},
               "context": {"branch": "feature/a", "input": {"password": {"nested": secret_password}}}, "now": NOW}),
    ];
    let mut messages = Vec::new();
    for r in requests {
        let r = request(r);
        if let Err(e) = file_engine.check(&r) {
            messages.push(e.to_string());
        }
        let _ = cb_engine.check(&r);
    }
    file_engine.flush_decision_log().unwrap();
    // The secret does reach the caller's error (it is the caller's own
    // input), so the test would catch a log that copied it.
    assert!(
        messages.iter().any(|m| m.contains(secret_ip)),
        "{messages:?}"
    );

    let bytes = std::fs::read(&path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    for secret in [secret_password, secret_ip, "10.9.8.7"] {
        assert!(!text.contains(secret), "{secret} leaked into the file");
        let cb = serde_json::to_string(&*seen.lock().unwrap()).unwrap();
        assert!(!cb.contains(secret), "{secret} leaked into the callback");
    }
    assert!(text.contains("[redacted]"));
    assert!(text.contains("\"user\":\"bob\""), "unredacted fields stay");
    let records = read_records(std::slice::from_ref(&path)).unwrap();
    let first = records[0].2.clone().unwrap();
    assert_eq!(
        Value::Object(first.context),
        json!({"branch": "feature/a", "source_ip": "[redacted]",
               "input": {"password": "[redacted]", "user": "bob"}})
    );
    assert_eq!(
        records[1].2.clone().unwrap().decision,
        RecordDecision::Error
    );
    assert!(verify(&[path]).intact());
}

#[test]
fn bad_log_config_is_config_invalid() {
    for config in [
        "[log]\nsink = \"file\"\n",
        "[log]\nredact = [\"input..password\"]\n",
        "[log]\nsink = \"syslog\"\n",
        "[engine]\nmode = \"dry-run\"\n",
        "[log]\nsink = \"file\"\npath = \"x.jsonl\"\nmax_bytes = 0\n",
    ] {
        let err = builder(POLICIES, Some(config)).build().unwrap_err();
        assert_eq!(err.code(), ErrorCode::ConfigInvalid, "{config}: {err}");
        assert!(err.location().is_some(), "{config}: {err}");
    }
}

#[test]
fn configured_file_sink_is_relative_to_the_bundle() {
    let dir = temp_dir("configured");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("schema.cedarschema"), SCHEMA).unwrap();
    std::fs::write(dir.join("policies/main.cedar"), POLICIES).unwrap();
    std::fs::write(dir.join("inventory.yaml"), INVENTORY).unwrap();
    std::fs::write(
        dir.join("agentauthz.toml"),
        "[log]\nsink = \"file\"\npath = \"logs/decisions.jsonl\"\nmax_bytes = 1500\nredact = [\"input.password\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let engine = Engine::builder()
        .bundle(agentauthz::Bundle::read_dir(&dir).unwrap())
        .trust_caller_time(true)
        .build()
        .unwrap();
    workload(&engine, 10);
    let log = engine.decision_log().unwrap();
    assert_eq!(log.path().unwrap(), dir.join("logs/decisions.jsonl"));
    drop(log);
    drop(engine); // the last handle: buffered records are written
    let files = rotated_files(dir.join("logs/decisions.jsonl")).unwrap();
    assert!(files.len() > 1);
    let report = verify(&files);
    assert!(report.intact());
    assert_eq!(report.records, 10);
}

// ---------------------------------------------------------------------------
// Log-only

const LOG_ONLY_POLICIES: &str = r#"
@id("push-feature")
permit (principal, action == Action::"github:push", resource)
when { context.branch like "feature/*" };

@id("read-all")
permit (principal, action == Action::"github:read", resource);

// Being rolled out: would forbid pushes to feature/experimental-*.
@id("no-experimental")
@mode("log-only")
forbid (principal, action == Action::"github:push", resource)
when { context.branch like "feature/experimental-*" };

// Being rolled out: would allow release branches.
@id("push-release")
@mode("log-only")
permit (principal, action == Action::"github:push", resource)
when { context.branch like "release/*" };

@id("enforced-explicitly")
@mode("enforce")
forbid (principal, action == Action::"github:push", resource)
when { context.branch == "prod" };
"#;

fn collecting(policies: &str, config: Option<&str>) -> (Engine, Arc<Mutex<Vec<DecisionRecord>>>) {
    let seen: Arc<Mutex<Vec<DecisionRecord>>> = Arc::default();
    let s = seen.clone();
    let engine = builder(policies, config)
        .decision_log(DecisionLog::callback(move |r| {
            s.lock().unwrap().push(r.clone())
        }))
        .build()
        .unwrap();
    (engine, seen)
}

#[test]
fn log_only_policies_are_recorded_not_enforced() {
    let (engine, seen) = collecting(LOG_ONLY_POLICIES, None);
    assert_eq!(engine.mode(), Mode::Enforce);

    // A log-only forbid does not deny...
    let d = engine
        .check(&push("ci-bot", "feature/experimental-x"))
        .unwrap();
    assert_eq!(d.decision, Effect::Allow);
    assert_eq!(d.reasons, vec!["push-feature"]);
    // ...a log-only permit does not allow...
    let d = engine.check(&push("ci-bot", "release/2.0")).unwrap();
    assert_eq!(d.decision, Effect::Deny);
    assert!(d.reasons.is_empty());
    // ...and policies without @mode or with @mode("enforce") are enforced.
    let d = engine.check(&push("ci-bot", "prod")).unwrap();
    assert_eq!(d.reasons, vec!["enforced-explicitly"]);
    let d = engine.check(&push("ci-bot", "feature/ok")).unwrap();
    assert_eq!(d.decision, Effect::Allow);
    // A guardrail decision made before Cedar runs.
    let d = engine
        .check(&push("ghost", "feature/experimental-x"))
        .unwrap();
    assert_eq!(d.reasons, vec!["baseline/unknown-agent"]);

    let seen = seen.lock().unwrap();
    let r = &seen[0];
    assert_eq!(r.decision, RecordDecision::Allow);
    assert_eq!(r.reasons, vec!["push-feature"]);
    assert_eq!(r.would_decision, Some(Effect::Deny));
    assert_eq!(
        r.would_reasons.as_deref(),
        Some(&["no-experimental".to_string()][..])
    );
    let r = &seen[1];
    assert_eq!(r.decision, RecordDecision::Deny);
    assert_eq!(r.would_decision, Some(Effect::Allow));
    assert_eq!(
        r.would_reasons.as_deref(),
        Some(&["push-release".to_string()][..])
    );
    let r = &seen[2];
    assert_eq!(
        (r.decision, r.would_decision),
        (RecordDecision::Deny, Some(Effect::Deny))
    );
    let r = &seen[3];
    assert_eq!(
        (r.decision, r.would_decision),
        (RecordDecision::Allow, Some(Effect::Allow))
    );
    let r = &seen[4];
    assert_eq!(
        r.would_reasons.as_deref(),
        Some(&["baseline/unknown-agent".to_string()][..])
    );

    let report = Report::from_records(seen.iter());
    assert_eq!(report.flips.len(), 2);
    assert_eq!(report.flips[0].policies, vec!["no-experimental"]);
    assert_eq!(report.flips[0].cause, "policy");
    assert_eq!(report.flips[1].policies, vec!["push-release"]);
    assert_eq!(report.decisions.would_flip, 2);
    assert_eq!(report.by_policy["no-experimental"].flips, 1);
    assert_eq!(report.by_policy["no-experimental"].determined, 0);
    assert_eq!(report.by_agent["ci-bot"].allow, 2);
    let text = report.to_text();
    assert!(text.contains("seq 1"), "{text}");
    assert!(
        text.contains("allow -> would deny (no-experimental)"),
        "{text}"
    );
}

#[test]
fn log_only_engine_allows_and_records_the_real_decision() {
    let (engine, seen) = collecting(LOG_ONLY_POLICIES, Some("[engine]\nmode = \"log-only\"\n"));
    assert_eq!(engine.mode(), Mode::LogOnly);
    let d = engine.check(&push("ci-bot", "main")).unwrap();
    assert_eq!(d.decision, Effect::Allow);
    assert!(d.reasons.is_empty());
    let d = engine.check(&push("orphan", "feature/a")).unwrap();
    assert!(d.allowed());
    let d = engine
        .check(&push("ci-bot", "feature/experimental-1"))
        .unwrap();
    assert!(d.allowed());
    assert_eq!(d.reasons, vec!["push-feature"]);
    // Bad input still raises: there is no decision to log-only.
    let bad = request(json!({"agent": "ci-bot", "action": "github:push",
        "resource": {"type": "Repo", "id": "acme/api"}, "context": {"branch": 1}, "now": NOW}));
    assert!(engine.check(&bad).is_err());

    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|r| r.mode == Mode::LogOnly));
    assert_eq!(seen[0].decision, RecordDecision::Allow);
    assert_eq!(seen[0].would_decision, Some(Effect::Deny));
    assert_eq!(seen[0].would_reasons, Some(vec![]));
    assert_eq!(
        seen[1].would_reasons.as_deref(),
        Some(&["baseline/owner-required".to_string()][..])
    );
    assert_eq!(seen[2].would_decision, Some(Effect::Deny));
    assert_eq!(seen[3].decision, RecordDecision::Error);
    let report = Report::from_records(seen.iter());
    assert_eq!(report.flips.len(), 3);
    assert!(report.flips.iter().all(|f| f.cause == "engine"));
}

#[test]
fn invalid_mode_annotation_is_rejected_with_its_location() {
    let policies = "@id(\"p\")\n@mode(\"shadow\")\npermit (principal, action, resource);\n";
    let err = builder(policies, None).build().unwrap_err();
    assert_eq!(err.code(), ErrorCode::PolicyInvalid);
    let loc = err.location().unwrap();
    assert_eq!((loc.file.as_str(), loc.line), ("policies.cedar", 1));
}

#[test]
fn log_only_policies_must_still_validate() {
    let policies = "@id(\"p\")\n@mode(\"log-only\")\npermit (principal, action, resource) when { context.nope };\n";
    let err = builder(policies, None).build().unwrap_err();
    assert_eq!(err.code(), ErrorCode::PolicyInvalid);
}

// ---------------------------------------------------------------------------
// Concurrency

#[test]
fn concurrent_checks_produce_a_gap_free_verifiable_chain() {
    let dir = temp_dir("concurrent");
    let path = dir.join("decisions.jsonl");
    let log = DecisionLog::file_with(FileOptions::new(&path).max_bytes(50_000)).unwrap();
    let engine = Arc::new(engine_with(log, Some(REDACT_CONFIG)));
    let threads = 4;
    let per_thread = 500;
    std::thread::scope(|s| {
        for _ in 0..threads {
            let engine = engine.clone();
            s.spawn(move || workload(&engine, per_thread));
        }
    });
    engine.flush_decision_log().unwrap();
    let files = rotated_files(&path).unwrap();
    let report = verify(&files);
    assert!(report.intact(), "{:?}", report.damage);
    assert_eq!(report.records, threads * per_thread);
    let seqs: Vec<u64> = read_records(&files)
        .unwrap()
        .into_iter()
        .map(|(_, _, r)| r.unwrap().seq)
        .collect();
    assert_eq!(
        seqs,
        (1..=(threads * per_thread) as u64).collect::<Vec<_>>()
    );
}

#[test]
fn concurrent_callbacks_are_called_in_sequence_order() {
    let (engine, seen) = collecting(POLICIES, None);
    let engine = Arc::new(engine);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let engine = engine.clone();
            s.spawn(move || workload(&engine, 250));
        }
    });
    let seen = seen.lock().unwrap();
    let seqs: Vec<u64> = seen.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    for w in seen.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
}

// ---------------------------------------------------------------------------
// OCSF

#[test]
fn ocsf_events_map_the_record() {
    let (engine, seen) = collecting(LOG_ONLY_POLICIES, None);
    engine.check(&push("ci-bot", "main")).unwrap();
    engine
        .check(&push("ci-bot", "feature/experimental-2"))
        .unwrap();
    let _ = engine.check(&request(json!({"agent": "ci-bot", "action": "github:push",
        "resource": {"type": "Repo", "id": "acme/api"}, "context": {"branch": 1}, "now": NOW})));
    let seen = seen.lock().unwrap();

    let deny = to_ocsf(&seen[0]);
    assert_eq!(deny["class_uid"], 6003);
    assert_eq!(deny["category_uid"], 6);
    assert_eq!(deny["type_uid"], 600399);
    assert_eq!(deny["activity_id"], 99);
    assert_eq!(deny["time"], 1_795_946_400_000_i64);
    assert_eq!(deny["action_id"], 2);
    assert_eq!(deny["disposition_id"], 2);
    assert_eq!(deny["status_id"], 2);
    assert_eq!(deny["status_detail"], "no policy permits it");
    assert_eq!(deny["actor"]["user"]["uid"], "ci-bot");
    assert_eq!(deny["actor"]["session"]["uid"], "T1");
    assert_eq!(deny["api"]["operation"], "github:push");
    assert_eq!(deny["api"]["request"]["uid"], seen[0].decision_id.as_str());
    assert_eq!(
        deny["resources"][0],
        json!({"uid": "acme/api", "name": "acme/api", "type": "Repo"})
    );
    assert_eq!(deny["metadata"]["uid"], seen[0].decision_id.as_str());
    assert_eq!(deny["metadata"]["sequence"], 1);
    assert_eq!(
        deny["metadata"]["profiles"],
        json!(["security_control", "cloud"])
    );
    assert_eq!(deny["metadata"]["version"], "1.5.0");
    assert_eq!(deny["cloud"]["provider"], "agentauthz");
    assert_eq!(deny["unmapped"]["owner"], "alice");
    assert_eq!(deny["unmapped"]["hash"], seen[0].hash.as_str());

    let logged = to_ocsf(&seen[1]);
    assert_eq!(logged["action_id"], 1);
    assert_eq!(
        logged["disposition_id"], 17,
        "allowed only because the forbid is log-only"
    );
    assert_eq!(logged["unmapped"]["would_decision"], "deny");
    assert_eq!(logged["policy"]["uid"], "push-feature");
    assert_eq!(
        logged["actor"]["authorizations"][0]["policy"]["version"],
        seen[1].policy_revision.as_str()
    );

    let error = to_ocsf(&seen[2]);
    assert_eq!(error["status_detail"], "request_invalid");
    assert_eq!(error["api"]["response"]["error"], "request_invalid");

    // Every event validates against OCSF 1.5.0 (PyPI pydantic-ocsf's models
    // of the 1.5.0 schema, in the venv `make test-deps` makes).
    let python = receivers::python();
    let dir = temp_dir("ocsf");
    let mut text = String::new();
    for r in seen.iter() {
        text.push_str(&to_ocsf(r).to_string());
        text.push('\n');
    }
    // A record with a credential and a source address too.
    let mut extra = seen[0].clone();
    extra.credential = Some("cred-1".into());
    extra.context.insert("source_ip".into(), json!("192.0.2.7"));
    text.push_str(&to_ocsf(&extra).to_string());
    text.push('\n');
    std::fs::write(dir.join("events.jsonl"), text).unwrap();
    let out = std::process::Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ocsf/validate.py"))
        .arg(dir.join("events.jsonl"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "OCSF 1.5.0 validation: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(said.trim(), format!("{} valid", seen.len() + 1));
}

/// The child of `kill_9_never_leaves_a_checkpoint_ahead_of_the_log`: checks
/// with a checkpoint every 3 records (written by the sink's checkpoint
/// thread) until killed, printing the head after each.
#[test]
fn checkpoint_kill_child() {
    use std::io::Write;
    let Ok(path) = std::env::var("AGENTAUTHZ_CHECKPOINT_CHILD") else {
        return;
    };
    let mut options = FileOptions::new(PathBuf::from(path));
    options.checkpoint_every = 3;
    options.buffer_bytes = 4096;
    let log = DecisionLog::file_with(options).unwrap();
    let engine = engine_with(log.clone(), None);
    let out = std::io::stdout();
    loop {
        engine.check(&push("ci-bot", "feature/x")).unwrap();
        let mut out = out.lock();
        writeln!(out, "logged {}", log.head().0).unwrap();
        out.flush().unwrap();
        // A paced producer: the thread catches up between checks, so a
        // checkpoint naming a record still in the buffer would be on disk.
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn kill_9_never_leaves_a_checkpoint_ahead_of_the_log() {
    // Checkpoints due on the check path are written by a thread. A process
    // killed with checkpoints in flight must leave one the log holds: else
    // the log could not be reopened (`log_corrupt`) and verify would call
    // it truncated.
    use std::io::{BufRead, BufReader};
    let dir = temp_dir("kill9-checkpoint");
    let path = dir.join("decisions.jsonl");
    let mut checkpoints = Vec::new();
    for round in 0..10 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "checkpoint_kill_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AGENTAUTHZ_CHECKPOINT_CHILD", &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let reader = BufReader::new(child.stdout.take().unwrap());
        let stop_after = 10 + 7 * round;
        let mut seen = 0;
        for line in reader.lines() {
            if line.unwrap().starts_with("logged ") {
                seen += 1;
                if seen >= stop_after {
                    break;
                }
            }
        }
        // SIGKILL: no destructor, no final checkpoint.
        child.kill().unwrap();
        child.wait().unwrap();
        let report = verify(std::slice::from_ref(&path));
        assert!(report.intact(), "round {round}: {:?}", report.damage);
        // A child killed before the thread's first fsync leaves none yet.
        if let Some(cp) = report.checkpoint_seq {
            assert!(cp <= report.last_seq.unwrap_or(0));
            checkpoints.push(cp);
        }
        // And the chain continues from it.
        drop(DecisionLog::file(&path).unwrap());
    }
    assert!(!checkpoints.is_empty(), "no checkpoint was written");
    assert!(
        checkpoints.windows(2).all(|w| w[0] <= w[1]),
        "{checkpoints:?}"
    );
}
