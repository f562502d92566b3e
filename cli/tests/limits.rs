//! Hostile bundles, requests and test files through the CLI: each is a coded
//! error (exit 2), never a crash; the repro of the issue (1,000 nested
//! parentheses aborted the CLI with a stack overflow) included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::{Path, PathBuf};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../policies-examples/coding-agent"
);

fn cli(args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let out = common::run_cli(Path::new("."), args, stdin, &[]);
    (
        out.status.code(),
        common::stdout(&out),
        common::stderr(&out),
    )
}

/// A copy of the example bundle with `file` replaced by `text`.
fn bundle_with(name: &str, file: &str, text: &str) -> PathBuf {
    let dir = common::fresh_dir("limits", name);
    common::copy_dir(Path::new(EXAMPLE), &dir);
    std::fs::write(dir.join(file), text).unwrap();
    dir
}

fn parens(n: usize) -> String {
    format!(
        "@id(\"deep\")\nforbid(principal, action, resource) when {{ {}true{} }};",
        "(".repeat(n),
        ")".repeat(n)
    )
}

#[test]
fn pathological_bundles_are_coded_errors() {
    let schema = std::fs::read_to_string(format!("{EXAMPLE}/schema.cedarschema")).unwrap();
    let inventory = std::fs::read_to_string(format!("{EXAMPLE}/inventory.yaml")).unwrap();
    let cases = [
        (
            "p1000",
            "policies/hostile.cedar",
            parens(1_000),
            "input_too_deep",
            "hostile.cedar:2:",
        ),
        (
            "p50k",
            "policies/hostile.cedar",
            parens(50_000),
            "input_too_deep",
            "hostile.cedar:2:",
        ),
        (
            "set",
            "schema.cedarschema",
            format!(
                "{schema}\nentity Deep {{ x: {}String{} }};",
                "Set<".repeat(20_000),
                ">".repeat(20_000)
            ),
            "input_too_deep",
            "schema.cedarschema:",
        ),
        (
            "yaml",
            "inventory.yaml",
            format!("{inventory}extra: {}1\n", "- ".repeat(100_000)),
            "input_too_deep",
            "inventory.yaml:",
        ),
        (
            "dup",
            "inventory.yaml",
            inventory.replace(
                "    status: suspended\n",
                "    status: suspended\n    status: active\n",
            ),
            "inventory_parse",
            "duplicate key `status`",
        ),
        (
            "toml",
            "agentauthz.toml",
            format!("x = {}", "[".repeat(100_000)),
            "input_too_deep",
            "agentauthz.toml:1:",
        ),
    ];
    for (name, file, text, code, needle) in cases {
        let dir = bundle_with(name, file, &text);
        let started = std::time::Instant::now();
        let (status, _, err) = cli(&["validate", "--bundle", dir.to_str().unwrap()], None);
        assert_eq!(status, Some(2), "{name}: {err}");
        assert!(err.contains(&format!("[{code}]")), "{name}: {err}");
        assert!(err.contains(needle), "{name}: {err}");
        assert!(
            started.elapsed().as_secs() < 10,
            "{name} took {:?}",
            started.elapsed()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn hostile_requests_are_coded_errors() {
    let deep = format!(
        r#"{{"agent":"ci-bot","action":"github:read","resource":{{"type":"Repo","id":"acme/api"}},"context":{{"source_ip":"10.20.0.7","x":{}1{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let (status, _, err) = cli(
        &["check", "--bundle", EXAMPLE, "--request", "-"],
        Some(&deep),
    );
    assert_eq!(status, Some(2), "{err}");
    assert!(err.contains("[input_too_deep] request:1:"), "{err}");
    let dup = r#"{"agent":"paused-bot","agent":"ci-bot","action":"github:read","resource":{"type":"Repo","id":"acme/api"},"context":{"source_ip":"10.20.0.7"},"now":"2026-11-29T10:00:00Z"}"#;
    let (status, out, err) = cli(&["check", "--bundle", EXAMPLE, "--request", "-"], Some(dup));
    assert_eq!(status, Some(2), "{out}{err}");
    assert!(
        err.contains("[request_parse]") && err.contains("duplicate key `agent`"),
        "{err}"
    );
}

#[test]
fn hostile_test_files_are_coded_errors() {
    let dir = bundle_with(
        "tests",
        "tests/dup.yaml",
        "cases:\n  - name: a\n    request: {agent: ci-bot, agent: paused-bot, action: \"github:read\", resource: {type: Repo, id: acme/api}}\n    expect: allow\n",
    );
    let (status, out, err) = cli(&["test", "--bundle", dir.to_str().unwrap()], None);
    assert_eq!(status, Some(2), "{out}{err}");
    assert!(
        err.contains("[test_invalid]") && err.contains("duplicate key `agent`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
