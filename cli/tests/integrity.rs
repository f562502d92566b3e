//! One writer per journal and decision log across processes, strict
//! report/export, keyed verify, and a kill -9 loop: no acknowledged change
//! lost, no change without its record.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{stderr, CLI};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "0123456789abcdef0123456789abcdef-test-key";

fn bundle(name: &str, toml: &str) -> PathBuf {
    common::coding_agent("int", name, toml)
}

fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(CLI);
    c.args(args)
        .current_dir(dir)
        .env("AGENTAUTHZ_LOG_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    cmd(dir, args).output().unwrap()
}

const KEYED: &str = "[journal]\npath = \"journal.jsonl\"\n\n[integrity]\nkey_env = \"AGENTAUTHZ_LOG_KEY\"\nkey_id = \"k1\"\n";

fn grant_args(until: &str) -> Vec<&str> {
    vec![
        "grant",
        "--bundle",
        ".",
        "--recover",
        "--decision-log",
        "decisions.jsonl",
        "--agent",
        "docs-bot",
        "--action",
        "github:push",
        "--resource",
        r#"Repo::"acme/web""#,
        "--starts",
        "2030-01-01T10:00:00Z",
        "--until",
        until,
        "--reason",
        "docs migration",
        "--by",
        "alice",
        "--now",
        "2030-01-01T10:00:00Z",
    ]
}

/// Run by `a_second_writer_is_refused_and_a_dead_ones_lock_is_gone` in a
/// child process: holds the journal and the decision log, then waits.
#[test]
fn child_holds_the_journal_and_the_log() {
    let Ok(dir) = std::env::var("AGENTAUTHZ_HOLD_BUNDLE") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let bundle = agentauthz::Bundle::read_dir(&dir).unwrap();
    let keys = agentauthz::IntegrityKeys::for_bundle(&bundle).unwrap();
    let log = agentauthz::DecisionLog::file_with(
        agentauthz::audit::FileOptions::new(dir.join("decisions.jsonl")).keys(keys),
    )
    .unwrap();
    let _engine = agentauthz::Engine::builder()
        .bundle(bundle)
        .decision_log(log)
        .build()
        .unwrap();
    println!("HOLDING");
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn a_second_writer_is_refused_and_a_dead_ones_lock_is_gone() {
    let dir = bundle("two-writers", KEYED);
    // A first change, so there is a journal and a log to protect.
    let out = run(&dir, &grant_args("2030-01-01T11:00:00Z"));
    assert!(out.status.success(), "{}", stderr(&out));
    let journal_before = std::fs::read(dir.join("journal.jsonl")).unwrap();

    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_holds_the_journal_and_the_log",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AGENTAUTHZ_HOLD_BUNDLE", &dir)
        .env("AGENTAUTHZ_LOG_KEY", KEY)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = holder.stdout.take().unwrap();
    for line in std::io::BufReader::new(stdout).lines() {
        if line.unwrap().contains("HOLDING") {
            break;
        }
    }
    // A second writer of the journal: refused at open, with its code.
    let out = run(
        &dir,
        &[
            "suspend", "--bundle", ".", "--agent", "docs-bot", "--by", "alice",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[journal_locked]"),
        "{}",
        stderr(&out)
    );
    // And of the decision log (opened first when given on the command line).
    let out = run(&dir, &grant_args("2030-01-01T11:00:00Z"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("[log_locked]"), "{}", stderr(&out));
    // A second writer of the decision log (no journal): refused too.
    let out = cmd(
        &dir,
        &[
            "check",
            "--bundle",
            ".",
            "--request",
            "-",
            "--decision-log",
            "decisions.jsonl",
        ],
    )
    .stdin(Stdio::piped())
    .spawn()
    .and_then(|mut c| {
        use std::io::Write;
        let req = r#"{"agent":"docs-bot","action":"github:push","resource":{"type":"Repo","id":"acme/web"},"context":{"branch":"main","source_ip":"10.20.3.14"}}"#;
        c.stdin.take().unwrap().write_all(req.as_bytes())?;
        c.wait_with_output()
    })
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // The journal is refused first when the bundle has one; either way a lock.
    assert!(
        stderr(&out).contains("[log_locked]") || stderr(&out).contains("[journal_locked]"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(dir.join("journal.jsonl")).unwrap(),
        journal_before,
        "the refused writer wrote nothing"
    );
    // kill -9: the OS drops the dead holder's locks; recover is not blocked.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = run(
        &dir,
        &[
            "grants",
            "--bundle",
            ".",
            "--recover",
            "--now",
            "2030-01-01T10:30:00Z",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&dir, &grant_args("2030-01-01T11:00:00Z"));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&dir, &["log", "verify", "--bundle", ".", "decisions.jsonl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_log_check_without_lock_conflict_is_a_log_locked_error() {
    // No journal here: the decision log is the contested file.
    let dir = bundle(
        "log-lock",
        "[integrity]\nkey_env = \"AGENTAUTHZ_LOG_KEY\"\n",
    );
    let log = dir.join("decisions.jsonl");
    let _held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("decisions.jsonl.lock"))
        .unwrap();
    _held.try_lock().unwrap();
    // The lock is per open file: a different process cannot take it.
    let out = cmd(
        &dir,
        &[
            "check",
            "--bundle",
            ".",
            "--request",
            "-",
            "--decision-log",
            log.to_str().unwrap(),
        ],
    )
    .stdin(Stdio::piped())
    .spawn()
    .and_then(|mut c| {
        use std::io::Write;
        let req = r#"{"agent":"docs-bot","action":"github:push","resource":{"type":"Repo","id":"acme/web"},"context":{"branch":"main","source_ip":"10.20.3.14"}}"#;
        c.stdin.take().unwrap().write_all(req.as_bytes())?;
        c.wait_with_output()
    })
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("[log_locked]"), "{}", stderr(&out));
}

#[test]
fn report_and_export_fail_on_a_duplicated_decision_key_unless_told_to_skip() {
    let dir = bundle("dup-key", "");
    let log = dir.join("decisions.jsonl");
    let mut c = cmd(
        &dir,
        &[
            "check",
            "--bundle",
            ".",
            "--request",
            "-",
            "--decision-log",
            log.to_str().unwrap(),
            "--now",
            "2030-01-01T10:30:00Z",
        ],
    );
    let out = c
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            let req = r#"{"agent":"docs-bot","action":"github:push","resource":{"type":"Repo","id":"acme/web"},"context":{"branch":"main","source_ip":"10.20.3.14"}}"#;
            c.stdin.take().unwrap().write_all(req.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a deny: {}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(
        &log,
        text.replace(
            r#""decision":"deny""#,
            r#""decision":"allow","decision":"deny""#,
        ),
    )
    .unwrap();
    let path = log.to_str().unwrap();
    for args in [
        vec!["log", "verify", path],
        vec!["log", "report", path],
        vec!["log", "export", "--format", "ocsf", path],
    ] {
        let out = run(&dir, &args);
        assert_ne!(out.status.code(), Some(0), "{args:?} must fail");
        assert!(out.stdout.is_empty() || args[1] == "verify", "{args:?}");
    }
    let out = run(&dir, &["log", "report", "--skip-invalid", "--json", path]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("skipped 1"), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["records"], 0);
    assert_eq!(
        report["decisions"]["allow"], 0,
        "the forged allow is not counted"
    );
    let out = run(
        &dir,
        &["log", "export", "--format", "ocsf", "--skip-invalid", path],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("skipped 1"), "{}", stderr(&out));
}

/// kill -9 at random points of `grant` processes: every acknowledged grant
/// is in the journal, and after the next load every journaled change has
/// its record in the decision log, which verifies.
#[test]
fn kill_9_loop_loses_no_acknowledged_change_and_leaves_none_unrecorded() {
    let dir = bundle("kill-loop", KEYED);
    let started = Instant::now();
    let mut acknowledged = BTreeSet::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    let mut kills = 0;
    for i in 0..40 {
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let until = format!("2030-01-01T{:02}:00:00Z", 11 + i % 12);
        let mut child = cmd(&dir, &grant_args(&until)).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(seed % 150_000));
        let killed = matches!(child.try_wait(), Ok(None));
        if killed {
            let _ = child.kill();
            kills += 1;
        }
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            let grant: Value = serde_json::from_slice(&out.stdout).unwrap();
            acknowledged.insert(grant["id"].as_str().unwrap().to_string());
        } else if !killed {
            panic!("grant failed: {}", stderr(&out));
        }
    }
    // The next load (with recover) continues both files.
    let out = run(
        &dir,
        &[
            "grants",
            "--bundle",
            ".",
            "--recover",
            "--decision-log",
            "decisions.jsonl",
            "--now",
            "2030-01-01T10:30:00Z",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let live: Value = serde_json::from_slice(&out.stdout).unwrap();
    let live: BTreeSet<String> = live
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<_> = acknowledged.difference(&live).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    let journaled = journal.lines().count() as u64;
    assert_eq!(journaled as usize, live.len());
    let mut recorded: Vec<u64> = std::fs::read_to_string(dir.join("decisions.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["action"] == "agentauthz:grant")
        .filter_map(|r| r["context"]["journal_seq"].as_u64())
        .collect();
    recorded.sort_unstable();
    let expected: Vec<u64> = (1..=journaled).collect();
    assert_eq!(
        recorded, expected,
        "every journaled change has exactly one record"
    );
    let out = run(&dir, &["log", "verify", "--bundle", ".", "decisions.jsonl"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!(
        "kill loop: {kills} kills, {} acknowledged, {journaled} journaled, {:?}",
        acknowledged.len(),
        started.elapsed()
    );
}
