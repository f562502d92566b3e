//! `agentauthz check --decision-log` and `agentauthz log verify|report|export`,
//! run as a user would, on the coding-agent example bundle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{copy_dir, repo, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn temp_dir(name: &str) -> PathBuf {
    common::fresh_dir("log", name)
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    // A check's scripted time goes to `--now` (the engine clock): the CLI
    // refuses a request's own `now`.
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let mut stdin = stdin.map(str::to_string);
    if let (Some("check"), Some(text)) = (args.first().map(String::as_str), stdin.as_mut()) {
        if let Ok(serde_json::Value::Object(mut request)) = serde_json::from_str(text) {
            if let Some(serde_json::Value::String(now)) = request.remove("now") {
                args.extend(["--now".to_string(), now]);
                *text = serde_json::Value::Object(request).to_string();
            }
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::run_cli(&repo(), &args, stdin.as_deref(), &[])
}

fn push(branch: &str, now: &str) -> String {
    format!(
        r#"{{"agent":"ci-bot","action":"github:push","resource":{{"type":"Repo","id":"acme/api"}},"task":"T-42","credential":"ci-bot-key","context":{{"branch":"{branch}","source_ip":"10.20.3.14"}},"now":"{now}"}}"#
    )
}

/// Five checks, one process each, appended to one log: allow, deny, deny, error, allow.
fn session(dir: &Path) -> PathBuf {
    let log = dir.join("decisions.jsonl");
    let log_arg = log.to_str().unwrap();
    let requests = [
        (push("feature/login", "2026-11-29T10:20:00Z"), 0),
        (push("main", "2026-11-29T10:41:00Z"), 1),
        (
            r#"{"agent":"shadow-ai","action":"github:read","resource":{"type":"Repo","id":"acme/api"},"context":{"source_ip":"10.20.3.99"},"now":"2026-11-29T16:45:00Z"}"#.to_string(),
            1,
        ),
        (
            r#"{"agent":"ci-bot","action":"github:read","resource":{"type":"Repo","id":"acme/api"},"task":"T-42","context":{"source_ip":"runner-7"},"now":"2026-11-29T16:50:00Z"}"#.to_string(),
            2,
        ),
        (push("feature/login", "2026-11-29T11:00:00Z"), 0),
    ];
    for (request, code) in requests {
        let out = run(
            &[
                "check",
                "--bundle",
                "policies-examples/coding-agent",
                "--request",
                "-",
                "--decision-log",
                log_arg,
            ],
            Some(&request),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    log
}

#[test]
fn check_appends_to_one_chain_and_verify_accepts_it() {
    let dir = temp_dir("verify-ok");
    let log = session(&dir);
    let out = run(&["log", "verify", log.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("ok: 5 records (seq 1..5) in 1 file, chain intact; head "),
        "{text}"
    );

    let out = run(&["log", "verify", "--json", log.to_str().unwrap()], None);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["records"], 5);
    assert_eq!(report["damage"], Value::Null);
    let head = report["head"].as_str().unwrap().to_string();

    // --expect-head: intact with the real head; truncated once the tail is cut.
    let out = run(
        &[
            "log",
            "verify",
            "--expect-head",
            &head,
            log.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    std::fs::write(&log, lines[..4].join("\n") + "\n").unwrap();
    // The checkpoint written by the last writer anchors the tail.
    let out = run(&["log", "verify", log.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("truncated"), "{}", stdout(&out));
    let out = run(
        &[
            "log",
            "verify",
            "--ignore-checkpoint",
            log.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "without any anchor a clean cut cannot be seen"
    );
    let out = run(
        &[
            "log",
            "verify",
            "--ignore-checkpoint",
            "--expect-head",
            &head,
            log.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("truncated"), "{}", stdout(&out));
}

#[test]
fn verify_reports_the_kind_and_place_of_damage() {
    let dir = temp_dir("verify-damage");
    let log = session(&dir);
    let original = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "changed",
            {
                let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                l[1] = l[1].replace("\"decision\":\"deny\"", "\"decision\":\"allow\"");
                l
            },
            "damaged: LOG:2: changed (seq 2)",
        ),
        (
            "removed",
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 2)
                .map(|(_, s)| s.to_string())
                .collect(),
            "damaged: LOG:3: removed (seq 4)",
        ),
        (
            "inserted",
            {
                let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                l.insert(3, lines[0].to_string());
                l
            },
            "damaged: LOG:4: inserted (seq 1)",
        ),
        (
            "reordered",
            {
                let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                l.swap(1, 2);
                l
            },
            "damaged: LOG:2: reordered (seq 3)",
        ),
    ];
    for (name, content, expected) in cases {
        let path = dir.join(format!("{name}.jsonl"));
        std::fs::write(&path, content.join("\n") + "\n").unwrap();
        let out = run(&["log", "verify", path.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        let text = stdout(&out);
        let expected = expected.replace("LOG", path.to_str().unwrap());
        assert!(text.starts_with(&expected), "{name}: {text}");
    }
    // Unreadable: exit 2.
    let out = run(
        &["log", "verify", dir.join("missing.jsonl").to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[io]"));
}

#[test]
fn verify_rotated_expands_the_set() {
    let dir = temp_dir("rotated");
    let log = session(&dir);
    // Pretend the first three records were rotated out.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(dir.join("decisions.1.jsonl"), lines[..3].join("\n") + "\n").unwrap();
    std::fs::write(&log, lines[3..].join("\n") + "\n").unwrap();
    let out = run(&["log", "verify", log.to_str().unwrap()], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the active file alone misses its start"
    );
    let out = run(&["log", "verify", "--rotated", log.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("5 records (seq 1..5) in 2 files"));
    // A check appending to the rotated set continues it.
    let out = run(
        &[
            "check",
            "--bundle",
            "policies-examples/coding-agent",
            "--request",
            "-",
            "--decision-log",
            log.to_str().unwrap(),
        ],
        Some(&push("feature/login", "2026-11-29T12:00:00Z")),
    );
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["log", "verify", "--rotated", log.to_str().unwrap()], None);
    assert!(
        stdout(&out).contains("6 records (seq 1..6)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn report_summarizes_per_agent_action_and_policy() {
    let dir = temp_dir("report");
    let log = session(&dir);
    let out = run(&["log", "report", log.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.starts_with("5 records: 2 allow, 2 deny, 1 error;"),
        "{text}"
    );
    assert!(text.contains("shadow-ai"), "{text}");
    assert!(text.contains("baseline/unknown-agent"), "{text}");
    let out = run(&["log", "report", "--json", log.to_str().unwrap()], None);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["by_agent"]["ci-bot"]["allow"], 2);
    assert_eq!(report["by_agent"]["ci-bot"]["error"], 1);
    assert_eq!(report["by_action"]["github:push"]["deny"], 1);
    assert_eq!(
        report["by_policy"]["coding/push-feature-branches"]["determined"],
        2
    );
    assert_eq!(report["flips"], Value::Array(vec![]));
}

#[test]
fn report_lists_log_only_flips() {
    let dir = temp_dir("flips");
    // A copy of the coding-agent bundle with one more policy, being rolled out in log-only mode.
    let bundle = dir.join("bundle");
    copy_dir(&repo().join("policies-examples/coding-agent"), &bundle);
    std::fs::write(
        bundle.join("policies/rollout.cedar"),
        "@id(\"rollout/no-pushes-after-10\")\n@mode(\"log-only\")\nforbid (principal, action == Action::\"github:push\", resource)\nwhen { context.now > datetime(\"2026-11-29T10:30:00Z\") };\n",
    )
    .unwrap();
    let log = dir.join("decisions.jsonl");
    for (now, code) in [("2026-11-29T10:20:00Z", 0), ("2026-11-29T11:00:00Z", 0)] {
        let out = run(
            &[
                "check",
                "--bundle",
                bundle.to_str().unwrap(),
                "--request",
                "-",
                "--decision-log",
                log.to_str().unwrap(),
            ],
            Some(&push("feature/login", now)),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(&["log", "report", log.to_str().unwrap()], None);
    let text = stdout(&out);
    assert!(text.contains("1 would flip"), "{text}");
    assert!(
        text.contains("seq 2") && text.contains("allow -> would deny (rollout/no-pushes-after-10)"),
        "{text}"
    );
}

#[test]
fn export_ocsf_prints_one_event_per_record() {
    let dir = temp_dir("export");
    let log = session(&dir);
    let out = run(
        &["log", "export", "--format", "ocsf", log.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let events: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 5);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["class_uid"], 6003);
        assert_eq!(e["metadata"]["sequence"], i as u64 + 1);
    }
    assert_eq!(events[0]["action_id"], 1);
    assert_eq!(events[1]["action_id"], 2);
    assert_eq!(
        events[1]["policy"]["uid"],
        "coding/no-direct-push-default-branch"
    );
    assert_eq!(events[2]["actor"]["user"]["uid"], "shadow-ai");
    assert_eq!(events[3]["api"]["response"]["error"], "request_invalid");
    let out = run(
        &["log", "export", "--format", "csv", log.to_str().unwrap()],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown formats are refused by the parser"
    );
}

#[test]
fn export_to_a_reader_that_stops_early_exits_0() {
    // `log export ... | head`: the closed pipe ends the export, it is no error.
    let dir = temp_dir("export-pipe");
    let log = session(&dir);
    let cli = std::env::var("AGENTAUTHZ_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_agentauthz")));
    let mut child = std::process::Command::new(cli)
        .args(["log", "export", "--format", "ocsf"])
        .arg(&log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn export_reads_a_stream_from_stdin_and_checks_the_chain() {
    let dir = temp_dir("export-stdin");
    let log = session(&dir);
    let text = std::fs::read_to_string(&log).unwrap();
    let out = run(&["log", "export", "--format", "ocsf", "-"], Some(&text));
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let seqs: Vec<u64> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["metadata"]["sequence"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    // A record removed from the stream: the chain breaks; refused unless skipped.
    let lines: Vec<&str> = text.lines().collect();
    let cut = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
    let out = run(&["log", "export", "--format", "ocsf", "-"], Some(&cut));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        common::stderr(&out).contains("chain breaks"),
        "{}",
        common::stderr(&out)
    );
    // An edited record: its hash no longer matches.
    let edited = text.replacen("feature/login", "feature/logon", 1);
    let out = run(&["log", "export", "--format", "ocsf", "-"], Some(&edited));
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &["log", "export", "--format", "ocsf", "--skip-invalid", "-"],
        Some(&edited),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).lines().count(), 4);
}

#[test]
fn export_follow_tails_the_log_across_rotation() {
    use std::io::{BufRead, Write};
    let dir = temp_dir("export-follow");
    let source = session(&dir);
    let lines: Vec<String> = std::fs::read_to_string(&source)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let log = dir.join("tail.jsonl");
    let append = |path: &Path, ls: &[String]| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        for l in ls {
            writeln!(f, "{l}").unwrap();
        }
    };
    append(&log, &lines[..2]);
    let cli = std::env::var("AGENTAUTHZ_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_agentauthz")));
    let mut child = std::process::Command::new(cli)
        .args(["log", "export", "--format", "ocsf", "--follow"])
        .arg(&log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::io::BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for l in reader.lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || {
        let l = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        serde_json::from_str::<Value>(&l).unwrap()["metadata"]["sequence"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((next(), next()), (1, 2));
    // Appended later; then rotated: one more line in the old file, renamed,
    // and a new active file.
    append(&log, &lines[2..3]);
    assert_eq!(next(), 3);
    append(&log, &lines[3..4]);
    std::fs::rename(&log, dir.join("tail.1.jsonl")).unwrap();
    append(&log, &lines[4..5]);
    assert_eq!((next(), next()), (4, 5));
    child.kill().unwrap();
    child.wait().unwrap();
}
