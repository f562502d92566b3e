//! `agentauthz schema from-mcp` end to end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{fresh_dir, repo, run_cli};

fn fixture(name: &str) -> String {
    repo()
        .join("cli/tests/fixtures/mcp")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn prints_the_fragment_and_lists_warnings_on_stderr() {
    let dir = fresh_dir("mcp-schema", "print");
    let out = run_cli(
        &dir,
        &[
            "schema",
            "from-mcp",
            &fixture("fetch.tools.json"),
            "--server",
            "fetch",
        ],
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains(r#"action "fetch:fetch" appliesTo"#),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning: tool \"fetch\" at input.timeout: `number`"),
        "{stderr}"
    );
    // stdin, and a bad server name (exit 2, coded).
    let text = std::fs::read_to_string(fixture("git.tools.json")).unwrap();
    let out = run_cli(
        &dir,
        &["schema", "from-mcp", "-", "--server", "git"],
        Some(&text),
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let out = run_cli(
        &dir,
        &["schema", "from-mcp", "-", "--server", "a:b"],
        Some(&text),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[schema_invalid]"));
    // Duplicate keys in the tools/list are refused, not read "last one wins".
    let dup = r#"{"tools": [{"name": "a", "name": "b"}]}"#;
    let out = run_cli(&dir, &["schema", "from-mcp", "-"], Some(dup), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate key"));
}

#[test]
fn into_merges_and_the_bundle_validates() {
    let dir = fresh_dir("mcp-schema", "into");
    let src = repo().join("policies-examples/mcp-workspace");
    std::fs::copy(src.join("inventory.yaml"), dir.join("inventory.yaml")).unwrap();
    common::copy_dir(&src.join("policies"), &dir.join("policies"));
    std::fs::write(dir.join("schema.cedarschema"), "// hand-written\n").unwrap();
    for s in ["fs", "git", "fetch"] {
        let tools = src.join(format!("mcp/{s}.tools.json"));
        let out = run_cli(
            &dir,
            &[
                "schema",
                "from-mcp",
                &tools.to_string_lossy(),
                "--server",
                s,
                "--into",
                "schema.cedarschema",
            ],
            None,
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run_cli(&dir, &["validate", "--bundle", "."], None, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schema = std::fs::read_to_string(dir.join("schema.cedarschema")).unwrap();
    assert!(schema.starts_with("// hand-written\n"));
    // Running again changes nothing.
    let tools = src.join("mcp/fs.tools.json");
    run_cli(
        &dir,
        &[
            "schema",
            "from-mcp",
            &tools.to_string_lossy(),
            "--server",
            "fs",
            "--into",
            "schema.cedarschema",
        ],
        None,
        &[],
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("schema.cedarschema")).unwrap(),
        schema
    );
}
