//! What the CLI integration tests share: fresh directories, bundle copies and
//! one way to run the binary.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const CLI: &str = env!("CARGO_BIN_EXE_agentauthz");

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An empty directory of its own for one test (`suite` and `name` keep
/// parallel tests and processes apart).
pub fn fresh_dir(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "agentauthz-cli-{suite}-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the coding-agent example's schema, inventory and policies (not
/// its tests) with `config` as its agentauthz.toml.
pub fn coding_agent(suite: &str, name: &str, config: &str) -> PathBuf {
    let src = repo().join("policies-examples/coding-agent");
    let dir = fresh_dir(suite, name);
    for f in ["schema.cedarschema", "inventory.yaml"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    copy_dir(&src.join("policies"), &dir.join("policies"));
    std::fs::write(dir.join("agentauthz.toml"), config).unwrap();
    dir
}

/// Runs the CLI in `dir` with `env` set and `stdin` piped in (closed when
/// `None`), and waits for it.
pub fn run_cli(dir: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(CLI)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh Ed25519 session signing key (PASERK), from `session keygen`.
pub fn session_key() -> String {
    let out = Command::new(CLI)
        .args(["session", "keygen", "--kid", "k1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "keygen: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["secret"].as_str().unwrap().to_string()
}
