//! `agentauthz mcp proxy` end to end with stand-in servers (the real SDK
//! server is driven by the Python suite): crashes, refusals, no hang.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::{fresh_dir, repo, CLI};
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn proxy(dir: &std::path::Path, server: &[&str], input: &str) -> (Option<i32>, Vec<Value>, String) {
    let bundle = repo().join("policies-examples/mcp-workspace");
    let log = dir.join("proxy.log");
    let mut args = vec![
        "mcp".to_string(),
        "proxy".into(),
        "--bundle".into(),
        bundle.to_string_lossy().into_owned(),
        "--agent".into(),
        "dev-agent".into(),
        "--server".into(),
        "fs".into(),
        "--log".into(),
        log.to_string_lossy().into_owned(),
        "--".into(),
    ];
    args.extend(server.iter().map(|s| s.to_string()));
    let mut child = Command::new(CLI)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    // The client is done: the proxy closes the server's input in turn.
    drop(stdin);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "proxy hangs");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let replies = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (out.status.code(), replies, log)
}

#[test]
fn a_server_that_exits_mid_call_answers_with_a_code() {
    let dir = fresh_dir("mcp-proxy", "crash");
    // Reads one request (the allowed call), then dies without answering.
    let call = r#"{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"read_file","arguments":{"path":"/workspace/a"}}}"#;
    let (code, replies, log) = proxy(
        &dir,
        &["sh", "-c", "read line; exit 3"],
        &format!("{call}\n"),
    );
    assert_eq!(code, Some(2));
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["id"], "c1");
    assert_eq!(replies[0]["error"]["data"]["code"], "io");
    assert!(
        log.contains(r#""event":"decision""#) && log.contains(r#""event":"server_exit""#),
        "{log}"
    );
}

#[test]
fn a_denied_call_never_reaches_the_server() {
    let dir = fresh_dir("mcp-proxy", "denied");
    let seen = dir.join("seen.txt");
    // The server records every line it gets; it answers nothing.
    let script = format!("cat > '{}'", seen.display());
    let deny = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"/etc/passwd","content":"x"}}}"#;
    let ping = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let (code, replies, _) = proxy(&dir, &["sh", "-c", &script], &format!("{deny}\n{ping}\n"));
    assert_eq!(code, Some(0));
    assert_eq!(replies[0]["id"], 1);
    assert_eq!(replies[0]["result"]["isError"], true);
    let seen = std::fs::read_to_string(seen).unwrap();
    assert_eq!(seen.trim(), ping, "the server saw: {seen}");
}

#[test]
fn a_server_that_cannot_start_is_a_coded_error() {
    let dir = fresh_dir("mcp-proxy", "nostart");
    let (code, replies, _) = proxy(&dir, &["/nonexistent/server"], "");
    assert_eq!(code, Some(2));
    assert!(replies.is_empty());
}
