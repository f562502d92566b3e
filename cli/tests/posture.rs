//! `agentauthz inventory` and `posture` end to end: formats and --fail-on exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::process::Command;

fn cli(args: &[&str]) -> (i32, String) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new(env!("CARGO_BIN_EXE_agentauthz"))
        .current_dir(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

const NOW: &str = "--now=2026-11-29T10:00:00Z";

#[test]
fn fail_on_exit_codes() {
    let b = "policies-examples/coding-agent";
    assert_eq!(
        cli(&["posture", "--bundle", b, NOW, "--fail-on", "high"]).0,
        1
    );
    assert_eq!(
        cli(&["posture", "--bundle", b, NOW, "--fail-on", "critical"]).0,
        0
    );
    assert_eq!(cli(&["posture", "--bundle", b, NOW]).0, 0);
    assert_eq!(
        cli(&["posture", "--bundle", b, NOW, "--fail-on", "severe"]).0,
        2
    );
    assert_eq!(cli(&["posture", "--bundle", "no/such/dir", NOW]).0, 2);
}

#[test]
fn formats() {
    let b = "policies-examples/coding-agent";
    let (code, sarif) = cli(&["posture", "--bundle", b, NOW, "--format", "sarif"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["runs"][0]["results"]
        .as_array()
        .is_some_and(|r| !r.is_empty()));
    let (_, json) = cli(&["posture", "--bundle", b, NOW, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "AAZ001"));
    let (_, md) = cli(&["posture", "--bundle", b, NOW, "--format", "markdown"]);
    assert!(md.starts_with("# agentauthz posture report"));
    let (code, table) = cli(&["inventory", "--bundle", b, NOW]);
    assert_eq!(code, 0);
    assert!(table.contains("ci-bot") && table.contains("can github:read Repo: acme/api, acme/web"));
    let (_, csv) = cli(&["inventory", "--bundle", b, NOW, "--format", "csv"]);
    assert!(csv.lines().next().unwrap().starts_with("agent,owner"));
    assert!(csv.contains("ci-bot,alice,true,active,build"));
    let (_, json) = cli(&["inventory", "--bundle", b, NOW, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["agents"].as_array().unwrap().len(), 6);
}
