//! Who decides, from the command line: the time (`--now` sets the engine
//! clock; a request's own `now` is refused), session audiences and task
//! windows, the Cedar form's unknown-entity denials, the guardrails, the
//! inventory's vocabularies and lifecycle decisions under switched-off
//! guardrails. Every case ends in exit 1 (deny) or 2 (coded error).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const NOW: &str = "2026-11-29T10:00:00Z";
const ALL_OFF: &str = "[baseline]\nowner-required = false\nagent-active = false\ntask-window = false\nno-human-credentials = false\ncredential-expired = false\non-behalf-of-active = false\n";

/// A copy of the coding-agent bundle with `config` as its agentauthz.toml.
fn bundle(name: &str, config: &str) -> PathBuf {
    common::coding_agent("authority", name, config)
}

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let key = common::session_key();
    common::run_cli(dir, args, stdin, &[("AGENTAUTHZ_TEST_SIGNING_KEY", &key)])
}

/// `check --now NOW` on `request`: (exit code, reasons or the error code).
fn check(dir: &Path, request: &str, now: Option<&str>) -> (i32, String) {
    let mut args = vec!["check", "--bundle", ".", "--request", "-"];
    if let Some(now) = now {
        args.extend(["--now", now]);
    }
    let out = run(dir, &args, Some(request));
    let code = out.status.code().unwrap();
    let text = if code == 2 {
        String::from_utf8_lossy(&out.stderr).into_owned()
    } else {
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        d["reasons"].to_string()
    };
    (code, text)
}

fn read(extra: &str) -> String {
    format!(
        r#"{{"agent":"ci-bot","action":"github:read","resource":{{"type":"Repo","id":"acme/api"}},"context":{{"source_ip":"10.20.0.7"}}{extra}}}"#
    )
}

fn cedar(principal: &str, context: &str) -> String {
    format!(
        r#"{{"principal":{{"type":"Agent","id":"{principal}"}},"action":{{"type":"Action","id":"github:read"}},"resource":{{"type":"Repo","id":"acme/api"}},"context":{{"source_ip":"10.20.0.7"{context}}}}}"#
    )
}

#[test]
fn a_request_cannot_set_the_time_but_now_sets_the_engine_clock() {
    let dir = bundle("time", "");
    // The expired key (2026-06-30) revived by a past `now` in the request: refused.
    let (code, err) = check(
        &dir,
        &read(r#","credential":"ci-bot-key-2026h1","now":"2026-03-01T00:00:00Z""#),
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("request_invalid"), "{err}");
    // Even with --now.
    let (code, _) = check(
        &dir,
        &read(r#","credential":"ci-bot-key-2026h1","now":"2026-03-01T00:00:00Z""#),
        Some(NOW),
    );
    assert_eq!(code, 2);
    // The Cedar form's context.now likewise.
    let (code, _) = check(
        &dir,
        &cedar("ci-bot", r#","now":"2026-03-01T00:00:00Z""#),
        None,
    );
    assert_eq!(code, 2);
    // --now is the engine clock: the task window T-42 (08:00-18:00) is closed at 19:00.
    let (code, reasons) = check(
        &dir,
        &read(r#","task":"T-42""#),
        Some("2026-11-29T19:00:00Z"),
    );
    assert_eq!((code, reasons.as_str()), (1, r#"["baseline/task-window"]"#));
}

#[test]
fn the_cedar_form_gets_the_unknown_entity_denials_whatever_the_switches() {
    let dir = bundle("cedar-form", ALL_OFF);
    let (code, reasons) = check(
        &dir,
        &cedar(
            "ci-bot",
            r#","on_behalf_of":{"__entity":{"type":"User","id":"mallory"}}"#,
        ),
        Some(NOW),
    );
    assert_eq!(
        (code, reasons.as_str()),
        (1, r#"["baseline/unknown-on-behalf-of"]"#)
    );
    let (code, reasons) = check(&dir, &cedar("shadow-ai", ""), Some(NOW));
    assert_eq!(
        (code, reasons.as_str()),
        (1, r#"["baseline/unknown-agent"]"#)
    );
}

#[test]
fn guardrails_and_lifecycle_hold() {
    let dir = bundle("guardrails", ALL_OFF);
    // agent-active off: a declared offboarded agent is still denied.
    let request = read("").replace("ci-bot", "retired-bot");
    let (code, reasons) = check(&dir, &request, Some(NOW));
    assert_eq!(
        (code, reasons.as_str()),
        (1, r#"["baseline/agent-offboarded"]"#)
    );
    // An inactive on-behalf-of user (guardrail on by default).
    let dir = bundle("obo", "");
    let (code, reasons) = check(&dir, &read(r#","on_behalf_of":"bob""#), Some(NOW));
    assert_eq!(code, 1);
    assert!(
        reasons.contains("baseline/on-behalf-of-active"),
        "{reasons}"
    );
    // A credential used before it was issued (alice-pat: 2026-11-15).
    let dir = bundle("issued", "[baseline]\nno-human-credentials = false\n");
    let (code, reasons) = check(
        &dir,
        &read(r#","credential":"alice-pat""#),
        Some("2026-11-01T00:00:00Z"),
    );
    assert_eq!(
        (code, reasons.as_str()),
        (1, r#"["baseline/credential-expired"]"#)
    );
}

#[test]
fn an_inventory_kind_outside_the_vocabulary_is_refused_in_every_form() {
    let dir = bundle("kind", "");
    let mut inv = std::fs::read_to_string(dir.join("inventory.yaml")).unwrap();
    inv.push_str("  - type: Credential\n    id: sneaky\n    attrs: {agent: {__entity: {type: Agent, id: ci-bot}}, kind: Human_Token, revoked: false}\n");
    std::fs::write(dir.join("inventory.yaml"), inv).unwrap();
    let out = run(&dir, &["validate", "--bundle", "."], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inventory_invalid"));
}

#[test]
fn sessions_and_lifecycle_refusals() {
    let config = "[journal]\npath = \"journal.jsonl\"\n\n[sessions]\naudience = \"tools\"\nsigning_key_env = \"AGENTAUTHZ_TEST_SIGNING_KEY\"\n";
    let dir = bundle("sessions", config);
    let issue = |extra: &[&str]| {
        let mut args = vec![
            "session", "issue", "--bundle", ".", "--agent", "ci-bot", "--now", NOW,
        ];
        args.extend(extra);
        let out = run(&dir, &args, None);
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // An audience the configuration does not allow.
    let (code, err) = issue(&["--audience", "billing"]);
    assert_eq!(code, 2);
    assert!(err.contains("session_invalid"), "{err}");
    // A task whose window has closed (REL-6, last week).
    let (code, err) = issue(&["--task", "REL-6"]);
    assert_eq!(code, 2);
    assert!(err.contains("lifecycle_invalid"), "{err}");
    // Offboarding is final: a grant for the agent afterwards is refused.
    let by = ["--by", "alice", "--now", NOW];
    let mut args = vec!["offboard", "--bundle", ".", "--agent", "docs-bot"];
    args.extend(by);
    assert_eq!(run(&dir, &args, None).status.code(), Some(0));
    let mut args = vec![
        "grant",
        "--bundle",
        ".",
        "--agent",
        "docs-bot",
        "--action",
        "github:read",
        "--resource",
        "Repo::\"acme/web\"",
        "--ttl",
        "600",
        "--reason",
        "r",
    ];
    args.extend(by);
    let out = run(&dir, &args, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lifecycle_invalid"));
}
