//! `agentauthz approve` and `agentauthz test` with approvals, run as an
//! operator would, on a copy of the support-agent bundle with a journal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn bundle(name: &str) -> PathBuf {
    let src = common::repo().join("policies-examples/support-agent");
    let dir = common::fresh_dir("approvals", name);
    common::copy_dir(&src, &dir);
    std::fs::write(
        dir.join("agentauthz.toml"),
        "[journal]\npath = \"journal.jsonl\"\n",
    )
    .unwrap();
    dir
}

fn refund(amount: &str) -> String {
    format!(
        r#"{{"agent":"helpdesk-assistant","action":"billing:refund","resource":{{"type":"Order","id":"o-5002"}},"task":"CASE-5512","on_behalf_of":"sam","context":{{"input":{{"amount":"{amount}","currency":"EUR"}}}}}}"#
    )
}

const NOW: &str = "2026-11-29T10:00:00Z";

fn run(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    common::run_cli(dir, args, stdin, &[])
}

fn check(dir: &Path, amount: &str) -> (i32, Value) {
    let out = run(
        dir,
        &["check", "--bundle", ".", "--request", "-", "--now", NOW],
        Some(&refund(amount)),
    );
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), v)
}

#[test]
fn the_owner_approves_one_refund_from_the_shell() {
    let dir = bundle("approve");
    let (code, d) = check(&dir, "450.00");
    assert_eq!(
        (code, d["decision"].as_str()),
        (1, Some("needs_approval")),
        "{d}"
    );
    assert_eq!(d["approvers"], serde_json::json!(["owner"]));

    let approve = |by: &str, amount: &str| {
        run(
            &dir,
            &[
                "approve",
                "--bundle",
                ".",
                "--request",
                "-",
                "--by",
                by,
                "--now",
                NOW,
            ],
            Some(&refund(amount)),
        )
    };
    let refused = approve("sam", "450.00");
    assert_eq!(refused.status.code(), Some(2));
    assert!(common::stderr(&refused).contains("approval_refused"));
    let not_needed = approve("dana", "50.00");
    assert_eq!(not_needed.status.code(), Some(2));
    assert!(common::stderr(&not_needed).contains("approval_invalid"));

    let ok = approve("dana", "450.00");
    assert_eq!(ok.status.code(), Some(0), "{}", common::stderr(&ok));
    let approval: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(approval["approved_by"], "dana");

    // Another process, through the journal: that refund once, not another amount.
    assert_eq!(check(&dir, "449.00").1["decision"], "needs_approval");
    let (code, d) = check(&dir, "450.00");
    assert_eq!(code, 0, "{d}");
    let id = approval["id"].as_str().unwrap();
    assert!(d["reasons"]
        .as_array()
        .unwrap()
        .contains(&Value::from(format!("approval/{id}"))));
    assert_eq!(check(&dir, "450.00").1["decision"], "needs_approval");
}

#[test]
fn the_example_bundles_policy_tests_pass_with_approval_steps() {
    // The example itself (no journal: test approvals are not kept).
    let dir = common::repo().join("policies-examples/support-agent");
    let out = run(&dir, &["test", "--bundle", "."], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        common::stdout(&out),
        common::stderr(&out)
    );
}
