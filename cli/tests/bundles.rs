//! `agentauthz bundle build|sign|verify` and `--bundle-url`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{fresh_dir, repo, CLI};
use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(CLI).args(args).output().unwrap()
}

#[test]
fn build_sign_verify_round_trip_and_tampering() {
    let dir = fresh_dir("bundles", "round-trip");
    let example = repo().join("policies-examples/coding-agent");
    let (a, b) = (dir.join("a.tar.gz"), dir.join("b.tar.gz"));
    for out in [&a, &b] {
        let o = run(&[
            "bundle",
            "build",
            example.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // The same directory, byte-identical archives.
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let fixtures = repo().join("tests/vectors/bundles");
    let secret = format!("file:{}", fixtures.join("fixture.secret.paserk").display());
    let public = format!(
        "fixture=file:{}",
        fixtures.join("fixture.public.paserk").display()
    );
    let o = run(&[
        "bundle",
        "sign",
        a.to_str().unwrap(),
        "--key",
        &secret,
        "--key-id",
        "fixture",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        "bundle",
        "verify",
        a.to_str().unwrap(),
        "--public-key",
        &public,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["verified"], true);
    assert_eq!(out["kid"], "fixture");

    // A changed archive with the old signature: exit 2, coded.
    let mut bytes = std::fs::read(&a).unwrap();
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&b, &bytes).unwrap();
    std::fs::copy(dir.join("a.tar.gz.sig"), dir.join("b.tar.gz.sig")).unwrap();
    let o = run(&[
        "bundle",
        "verify",
        b.to_str().unwrap(),
        "--public-key",
        &public,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bundle_archive_invalid"));
    // Another key under the same id.
    let o = run(&[
        "bundle",
        "verify",
        a.to_str().unwrap(),
        "--public-key",
        "fixture=k4.public.Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bundle_signature_invalid"));
}

#[test]
fn a_bundle_that_does_not_load_is_not_packed() {
    let dir = fresh_dir("bundles", "invalid");
    let bundle = dir.join("b");
    common::copy_dir(&repo().join("policies-examples/coding-agent"), &bundle);
    std::fs::write(bundle.join("policies/bad.cedar"), "permit (").unwrap();
    let out = dir.join("b.tar.gz");
    let o = run(&[
        "bundle",
        "build",
        bundle.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

#[test]
fn bundle_url_with_no_server_and_no_cache_is_bundle_unavailable() {
    let dir = fresh_dir("bundles", "url");
    let fixtures = repo().join("tests/vectors/bundles");
    let public = format!(
        "fixture=file:{}",
        fixtures.join("fixture.public.paserk").display()
    );
    let cache = dir.join("cache");
    let o = run(&[
        "validate",
        "--bundle-url",
        "http://127.0.0.1:9/bundle.tar.gz",
        "--bundle-public-key",
        &public,
        "--bundle-cache",
        cache.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bundle_unavailable"));
    // From a verified cached copy, the same command works without the server.
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(
        fixtures.join("coding-agent.tar.gz"),
        cache.join("bundle.tar.gz"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("coding-agent.tar.gz.sig"),
        cache.join("bundle.tar.gz.sig"),
    )
    .unwrap();
    std::fs::write(
        cache.join("meta.json"),
        r#"{"url":"http://127.0.0.1:9/bundle.tar.gz","revision":"x","etag":null,"last_modified":null}"#,
    )
    .unwrap();
    let o = run(&[
        "validate",
        "--bundle-url",
        "http://127.0.0.1:9/bundle.tar.gz",
        "--bundle-public-key",
        &public,
        "--bundle-cache",
        cache.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Plain http to another host is refused.
    let o = run(&[
        "validate",
        "--bundle-url",
        "http://bundles.example/b.tar.gz",
        "--bundle-public-key",
        &public,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("config_invalid"));
}
