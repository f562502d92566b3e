//! `agentauthz grant|revoke|grants|suspend|reactivate|offboard|rotate|session`,
//! run as an operator would, on a copy of the coding-agent bundle with a journal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

fn bundle(name: &str) -> PathBuf {
    common::coding_agent(
        "lc",
        name,
        "[journal]\npath = \"journal.jsonl\"\n\n[sessions]\naudience = \"tools\"\nsigning_key_env = \"AGENTAUTHZ_TEST_SIGNING_KEY\"\n",
    )
}

fn run(dir: &Path, key: &str, args: &[&str], stdin: Option<&str>) -> Output {
    common::run_cli(dir, args, stdin, &[("AGENTAUTHZ_TEST_SIGNING_KEY", key)])
}

/// `agentauthz OP --bundle . --agent docs-bot --by alice`.
fn agent_op(dir: &Path, key: &str, op: &str) -> Output {
    let args = [op, "--bundle", ".", "--agent", "docs-bot", "--by", "alice"];
    run(dir, key, &args, None)
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn keygen() -> String {
    common::session_key()
}

/// docs-bot is not a CI agent: no policy lets it push. Its time is `--now`.
fn push_request() -> String {
    r#"{"agent":"docs-bot","action":"github:push","resource":{"type":"Repo","id":"acme/web"},"context":{"branch":"feature/docs","source_ip":"10.20.3.14"}}"#.to_string()
}

fn check(dir: &Path, key: &str, now: &str) -> (i32, Value) {
    let out = run(
        dir,
        key,
        &["check", "--bundle", ".", "--request", "-", "--now", now],
        Some(&push_request()),
    );
    (out.status.code().unwrap(), json(&out))
}

#[test]
fn grant_applies_in_its_window_and_survives_the_process() {
    let dir = bundle("grant");
    let key = keygen();
    assert_eq!(check(&dir, &key, "2030-01-01T10:30:00Z").0, 1);
    let out = run(
        &dir,
        &key,
        &[
            "grant",
            "--bundle",
            ".",
            "--agent",
            "docs-bot",
            "--action",
            "github:push",
            "--resource",
            r#"Repo::"acme/web""#,
            "--starts",
            "2030-01-01T10:00:00Z",
            "--until",
            "2030-01-01T11:00:00Z",
            "--reason",
            "docs migration",
            "--by",
            "alice",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grant = json(&out);
    let id = grant["id"].as_str().unwrap().to_string();
    assert_eq!(grant["expires"], "2030-01-01T11:00:00.000Z");

    // Another process: the journal brought the grant back.
    let (code, decision) = check(&dir, &key, "2030-01-01T10:59:59Z");
    assert_eq!(code, 0, "{decision}");
    assert_eq!(
        decision["reasons"],
        serde_json::json!([format!("grant/{id}")])
    );
    assert_eq!(
        check(&dir, &key, "2030-01-01T11:00:00Z").0,
        1,
        "expired at its time"
    );
    assert_eq!(
        check(&dir, &key, "2030-01-01T09:59:59Z").0,
        1,
        "not yet started"
    );

    let listed = json(&run(
        &dir,
        &key,
        &["grants", "--bundle", ".", "--agent", "docs-bot"],
        None,
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let out = run(
        &dir,
        &key,
        &["revoke", "--bundle", ".", "--grant", &id, "--by", "alice"],
        None,
    );
    assert!(out.status.success());
    assert_eq!(check(&dir, &key, "2030-01-01T10:30:00Z").0, 1);
    let listed = json(&run(&dir, &key, &["grants", "--bundle", "."], None));
    assert_eq!(listed, serde_json::json!([]));
}

#[test]
fn lifecycle_commands_and_sessions() {
    let dir = bundle("lifecycle");
    let key = keygen();
    let out = run(
        &dir,
        &key,
        &[
            "session", "issue", "--bundle", ".", "--agent", "docs-bot", "--ttl", "300",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = json(&out)["token"].as_str().unwrap().to_string();
    let verify = |dir: &Path| {
        run(
            dir,
            &key,
            &["session", "verify", "--bundle", ".", "--token", "-"],
            Some(&token),
        )
    };
    let out = verify(&dir);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["agent"], "docs-bot");

    let out = agent_op(&dir, &key, "suspend");
    assert!(out.status.success());
    assert_eq!(json(&out)["op"], "suspend");
    let out = verify(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["code"], "session_revoked");
    let out = agent_op(&dir, &key, "reactivate");
    assert!(out.status.success());
    assert_eq!(verify(&dir).status.code(), Some(0));
    let out = agent_op(&dir, &key, "offboard");
    assert!(out.status.success());
    let out = verify(&dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["code"], "session_revoked");

    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let out = run(
        &dir,
        &key,
        &["session", "verify", "--bundle", ".", "--token", &tampered],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["code"], "session_invalid");

    let out = run(
        &dir,
        &key,
        &[
            "rotate",
            "--bundle",
            ".",
            "--credential",
            "ci-bot-key-2026h1",
            "--expires",
            "2031-01-01T00:00:00Z",
            "--by",
            "alice",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = agent_op(&dir, &key, "reactivate");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("offboard"));
    let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), 4);
}

#[test]
fn a_torn_journal_needs_recover_and_changes_need_a_journal() {
    let dir = bundle("torn");
    let key = keygen();
    let out = agent_op(&dir, &key, "suspend");
    assert!(out.status.success());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("journal.jsonl"))
        .unwrap();
    f.write_all(br#"{"seq":2,"at":"2026"#).unwrap();
    drop(f);
    let out = run(&dir, &key, &["grants", "--bundle", "."], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("journal.jsonl:2:1"), "{err}");
    let out = run(&dir, &key, &["grants", "--bundle", ".", "--recover"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::remove_file(dir.join("agentauthz.toml")).unwrap();
    let out = agent_op(&dir, &key, "suspend");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--journal"));
}

// The emergency stop from the shell: journaled, so the next process (a check)
// denies every agent request with `baseline/lockdown` until it is lifted.
#[test]
fn lockdown_denies_every_agent_request_until_lifted() {
    let dir = bundle("lockdown");
    let key = keygen();
    let now = "2030-01-01T10:30:00Z";
    let (_, before) = check(&dir, &key, now);
    assert!(!before["reasons"]
        .as_array()
        .unwrap()
        .contains(&Value::from("baseline/lockdown")));
    // Lifting with nothing in force is a coded error, not a no-op.
    let out = run(
        &dir,
        &key,
        &["lift-lockdown", "--bundle", ".", "--by", "alice"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lifecycle_invalid"));
    let out = run(
        &dir,
        &key,
        &[
            "lockdown",
            "--bundle",
            ".",
            "--reason",
            "prompt injection seen",
            "--by",
            "alice",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entry = json(&out);
    assert_eq!(entry["op"], "lockdown");
    assert_eq!(entry["reason"], "prompt injection seen");
    let (code, decision) = check(&dir, &key, now);
    assert_eq!(code, 1);
    assert_eq!(
        decision["reasons"],
        serde_json::json!(["baseline/lockdown"])
    );
    let out = run(
        &dir,
        &key,
        &["lift-lockdown", "--bundle", ".", "--by", "alice"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, after) = check(&dir, &key, now);
    assert_eq!(after["reasons"], before["reasons"]);
}
