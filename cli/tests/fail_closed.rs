//! Fail closed from the CLI: `check` denies where a forbid errors (exit 1,
//! never 0), `validate` warns and `validate --strict` refuses with
//! `policy_may_error`, `posture` reports log-only mode as a high finding.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::{Path, PathBuf};

const SCHEMA: &str = r#"
entity Repo { classification: String };
action "repo:read" appliesTo { principal: [Agent], resource: [Repo] };
action "upload" appliesTo { principal: [Agent], resource: [Repo],
  context: { input: { bytes: Long, parts: Long } } };
"#;
const POLICIES: &str = r#"@id("allow-all")
permit (principal, action, resource);

@id("no-restricted")
forbid (principal, action, resource)
when { resource.classification == "restricted" };

@id("upload-limit")
forbid (principal, action == Action::"upload", resource)
when { context.input.bytes * context.input.parts > 5368709120 };
"#;
const INVENTORY: &str = "users: [{id: alice}]\nagents: [{id: ci-bot, owner: alice}]\n\
resources:\n  - {type: Repo, id: acme/api, attrs: {classification: public}}\n";

fn bundle(name: &str, config: Option<&str>) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fail-closed-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("schema.cedarschema"), SCHEMA).unwrap();
    std::fs::write(dir.join("policies/main.cedar"), POLICIES).unwrap();
    std::fs::write(dir.join("inventory.yaml"), INVENTORY).unwrap();
    if let Some(c) = config {
        std::fs::write(dir.join("agentauthz.toml"), c).unwrap();
    }
    dir
}

fn cli(args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = common::run_cli(Path::new("."), args, Some(stdin), &[]);
    let code = out.status.code().unwrap_or(-1);
    (code, common::stdout(&out), common::stderr(&out))
}

fn check(dir: &Path, request: &str) -> (i32, serde_json::Value) {
    let (code, out, err) = cli(
        &[
            "check",
            "--bundle",
            dir.to_str().unwrap(),
            "--request",
            "-",
            "--now",
            "2026-11-29T10:00:00Z",
        ],
        request,
    );
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (code, serde_json::from_str(&out).unwrap())
}

#[test]
fn check_denies_where_a_forbid_errors() {
    let dir = bundle("check", None);
    let ghost =
        r#"{"agent":"ci-bot","action":"repo:read","resource":{"type":"Repo","id":"acme/ghost"}}"#;
    let (code, d) = check(&dir, ghost);
    assert_eq!(code, 1, "{d}");
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["reasons"], serde_json::json!(["no-restricted"]));
    assert_eq!(d["errors"][0]["policy"], "no-restricted");
    let overflow = r#"{"agent":"ci-bot","action":"upload","resource":{"type":"Repo","id":"acme/api"},
        "context":{"input":{"bytes":4611686018427387904,"parts":4}}}"#;
    let (code, d) = check(&dir, overflow);
    assert_eq!(code, 1, "{d}");
    assert_eq!(d["reasons"], serde_json::json!(["upload-limit"]));
    // Cedar's rule, when asked for.
    let skip = bundle("check-skip", Some("[engine]\non_error = \"skip\"\n"));
    let (code, d) = check(&skip, ghost);
    assert_eq!((code, &d["decision"]), (0, &serde_json::json!("allow")));
}

#[test]
fn validate_warns_and_strict_refuses() {
    let dir = bundle("validate", None);
    let path = dir.to_str().unwrap();
    let (code, out, err) = cli(&["validate", "--bundle", path], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 warnings"), "{out}");
    assert!(err.contains("main.cedar:6:"), "{err}");
    assert!(
        err.contains("no-restricted") && err.contains("upload-limit"),
        "{err}"
    );
    let (code, _, err) = cli(&["validate", "--bundle", path, "--strict"], "");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("[policy_may_error]") && err.contains("main.cedar:6:"),
        "{err}"
    );
    // The example bundles have no warnings.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies-examples");
    for example in ["coding-agent", "data-pipeline", "support-agent"] {
        let (code, _, err) = cli(
            &[
                "validate",
                "--strict",
                "--bundle",
                &format!("{root}/{example}"),
            ],
            "",
        );
        assert_eq!(code, 0, "{example}: {err}");
    }
}

#[test]
fn posture_reports_log_only_mode_as_high() {
    let dir = bundle("posture", Some("[engine]\nmode = \"log-only\"\n"));
    let (code, out, err) = cli(
        &[
            "posture",
            "--bundle",
            dir.to_str().unwrap(),
            "--format",
            "json",
            "--fail-on",
            "high",
            "--now",
            "2026-11-29T10:00:00Z",
        ],
        "",
    );
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "AAZ015" && f["severity"] == "high"));
}
