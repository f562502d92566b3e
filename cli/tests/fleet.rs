//! `--store` and `--bundle-url` on the commands that load a bundle, each
//! run as its own process: an offboarding made with `offboard --store` is
//! what `check`, `posture` and `inventory` with `--store` see; a bundle
//! pulled with `--bundle-url` from a real nginx decides, a tampered one is
//! refused with its code. PostgreSQL and nginx are started by the tests
//! (core/tests/common); without them the tests skip loudly, unless
//! AGENTAUTHZ_REQUIRE_SERVERS is set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;
#[path = "../../core/tests/common/nginx.rs"]
mod nginx;
#[path = "../../core/tests/common/pg.rs"]
mod pg;

use common::{coding_agent, repo, run_cli, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const NOW: &str = "2026-11-29T10:00:00Z";

/// ci-bot reads a platform repository from the build network: allowed
/// while it is active.
const READ: &str = r#"{"agent":"ci-bot","action":"github:read","resource":{"type":"Repo","id":"acme/api"},"task":"T-42","credential":"ci-bot-key","context":{"source_ip":"10.20.3.14"}}"#;

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {} stderr {}", stdout(o), stderr(o)))
}

/// The findings of `posture` (JSON) as `RULE ENTITY` lines.
fn findings(o: &Output) -> Vec<String> {
    json(o)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["rule"].as_str().unwrap(),
                f["entity"].as_str().unwrap()
            )
        })
        .collect()
}

fn status_of(inventory: &Value, agent: &str) -> String {
    inventory["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == agent)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_offboarding_through_the_store_reaches_check_posture_and_inventory() {
    let Some(pg) =
        pg::Pg::start("an_offboarding_through_the_store_reaches_check_posture_and_inventory")
    else {
        return;
    };
    let dir = coding_agent("fleet", "offboard", "");
    let env = [("AGENTAUTHZ_TEST_PG", pg.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str], stdin: Option<&str>| run_cli(&dir, args, stdin, &env);
    let store = ["--store", "env:AGENTAUTHZ_TEST_PG"];
    // TLS settings reach `store init`: this server has none, so `require`
    // is refused, and `verify-full` without a CA is a configuration error.
    let init = |sslmode: &str| {
        run(
            &[
                "store",
                "init",
                "--postgres",
                "env:AGENTAUTHZ_TEST_PG",
                "--sslmode",
                sslmode,
            ],
            None,
        )
    };
    for (sslmode, says) in [("require", "TLS"), ("verify-full", "config_invalid")] {
        let o = init(sslmode);
        assert_eq!(o.status.code(), Some(2), "{sslmode}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{sslmode}: {}", stderr(&o));
    }
    let o = init("disable");
    assert!(o.status.success(), "{}", stderr(&o));

    let check = |with_store: bool| {
        let mut args = vec!["check", "--bundle", ".", "--request", "-", "--now", NOW];
        if with_store {
            args.extend(store);
        }
        run(&args, Some(READ))
    };
    let posture = |with_store: bool| {
        let mut args = vec!["posture", "--bundle", ".", "--format", "json", "--now", NOW];
        if with_store {
            args.extend(store);
        }
        run(&args, None)
    };
    let o = check(true);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let nightly = "AAZ002 Agent::\"nightly-bot\"".to_string();
    assert!(findings(&posture(true)).contains(&nightly));

    // Another process offboards two agents through the store.
    for agent in ["ci-bot", "nightly-bot"] {
        let mut args = vec![
            "offboard", "--bundle", ".", "--agent", agent, "--by", "alice",
        ];
        args.extend(store);
        let o = run(&args, None);
        assert!(o.status.success(), "offboard {agent}: {}", stderr(&o));
        assert_eq!(json(&o)["op"], "offboard", "{}", stdout(&o));
    }

    // `check --store` in a new process denies, with the lifecycle reason.
    let o = check(true);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let d = json(&o);
    assert_eq!(d["decision"], "deny");
    assert!(
        d["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "baseline/agent-active" || r == "baseline/task-revoked"),
        "{d}"
    );
    // Without the store, the bundle alone still allows: the flag is what
    // brings the fleet's state in.
    assert_eq!(check(false).status.code(), Some(0));

    // `posture --store`: the offboarded agent needs no owner any more.
    let with = findings(&posture(true));
    assert!(!with.contains(&nightly), "{with:?}");
    assert!(findings(&posture(false)).contains(&nightly));

    // `inventory --store` lists them as offboarded.
    let mut args = vec![
        "inventory",
        "--bundle",
        ".",
        "--format",
        "json",
        "--now",
        NOW,
    ];
    args.extend(store);
    let o = run(&args, None);
    assert!(o.status.success(), "{}", stderr(&o));
    let inv = json(&o);
    assert_eq!(status_of(&inv, "ci-bot"), "offboarded");
    assert_eq!(status_of(&inv, "nightly-bot"), "offboarded");

    // `store status` agrees, and `--journal` with `--store` is refused.
    let mut args = vec!["store", "status", "--bundle", "."];
    args.extend(store);
    let o = run(&args, None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["last_applied_seq"], 2);
    let mut args = vec!["grants", "--bundle", ".", "--journal", "j.jsonl"];
    args.extend(store);
    let o = run(&args, None);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("--journal"), "{}", stderr(&o));
}

fn fixtures() -> PathBuf {
    repo().join("tests/vectors/bundles")
}

/// Builds and signs `dir` into `out` with the fixture key.
fn build_signed(dir: &Path, out: &Path) {
    let o = run_cli(
        dir,
        &["bundle", "build", ".", "-o", out.to_str().unwrap()],
        None,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let secret = format!(
        "file:{}",
        fixtures().join("fixture.secret.paserk").display()
    );
    let o = run_cli(
        dir,
        &[
            "bundle",
            "sign",
            out.to_str().unwrap(),
            "--key",
            &secret,
            "--key-id",
            "fixture",
        ],
        None,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn check_with_bundle_url_decides_on_a_signed_bundle_and_refuses_a_tampered_one() {
    let Some(n) = nginx::Nginx::start("check_with_bundle_url") else {
        return;
    };
    let work = common::fresh_dir("fleet", "url");
    let good = coding_agent("fleet", "url-good", "");
    build_signed(&good, &work.join("good.tar.gz"));
    // The tampered bundle lets every agent push anywhere.
    let evil = coding_agent("fleet", "url-evil", "");
    std::fs::write(
        evil.join("policies/zz.cedar"),
        "@id(\"evil\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    build_signed(&evil, &work.join("evil.tar.gz"));
    let public = format!(
        "fixture=file:{}",
        fixtures().join("fixture.public.paserk").display()
    );
    let url = n.url("bundle.tar.gz");
    let push = r#"{"agent":"docs-bot","action":"github:push","resource":{"type":"Repo","id":"acme/web"},"context":{"branch":"main","source_ip":"10.20.3.14"}}"#;
    let check = |cache: &str, request: &str| {
        run_cli(
            &work,
            &[
                "check",
                "--bundle-url",
                &url,
                "--bundle-public-key",
                &public,
                "--bundle-cache",
                cache,
                "--request",
                "-",
                "--now",
                NOW,
            ],
            Some(request),
            &[],
        )
    };

    n.publish(
        "bundle.tar.gz",
        &std::fs::read(work.join("good.tar.gz")).unwrap(),
    );
    n.publish(
        "bundle.tar.gz.sig",
        &std::fs::read(work.join("good.tar.gz.sig")).unwrap(),
    );
    let o = check("cache-a", READ);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(json(&o)["decision"], "allow");
    let o = check("cache-a", push);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    // Other commands pull it the same way.
    for args in [
        vec!["validate"],
        vec!["posture", "--now", NOW],
        vec!["inventory", "--now", NOW],
    ] {
        let mut args = args;
        args.extend(["--bundle-url", &url, "--bundle-public-key", &public]);
        args.extend(["--bundle-cache", "cache-a"]);
        let o = run_cli(&work, &args, None, &[]);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }

    // The tampered archive under the good signature.
    n.publish(
        "bundle.tar.gz",
        &std::fs::read(work.join("evil.tar.gz")).unwrap(),
    );
    let o = check("cache-b", push);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("bundle_signature_invalid"),
        "{}",
        stderr(&o)
    );
    // With a verified copy cached, the last verified bundle decides.
    let o = check("cache-a", push);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(json(&o)["decision"], "deny");
}

#[test]
fn help_names_store_and_bundle_url_where_they_apply() {
    let dir = common::fresh_dir("fleet", "help");
    let help = |cmd: &[&str]| {
        let mut args = cmd.to_vec();
        args.push("--help");
        stdout(&run_cli(&dir, &args, None, &[]))
    };
    for cmd in [
        &["check"][..],
        &["posture"],
        &["inventory"],
        &["grant"],
        &["revoke"],
        &["grants"],
        &["suspend"],
        &["reactivate"],
        &["offboard"],
        &["lockdown"],
        &["lift-lockdown"],
        &["rotate"],
        &["approve"],
        &["session", "issue"],
        &["session", "verify"],
        &["mcp", "proxy"],
        &["store", "status"],
    ] {
        let h = help(cmd);
        for flag in [
            "--store <URL>",
            "--bundle-url <URL>",
            "--bundle-public-key",
            "--bundle-cache",
        ] {
            assert!(h.contains(flag), "{cmd:?} lacks {flag}:\n{h}");
        }
    }
    // Static checks of a bundle take a URL but no store.
    let h = help(&["validate"]);
    assert!(
        h.contains("--bundle-url <URL>") && !h.contains("--store"),
        "{h}"
    );
}
