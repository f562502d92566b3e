//! `Engine::metrics`: decision counters match the decisions made, by outcome,
//! action and first reason; hostile label floods stay bounded; the latency
//! histogram counts every check; counters are exact under concurrent checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{Bundle, DecisionCount, Engine, EngineMetrics, Request, MAX_METRIC_SERIES};
use serde_json::{json, Value};
use std::sync::Arc;

const SCHEMA: &str = r#"
entity Repo;
action "repo:read" appliesTo { principal: [Agent], resource: [Repo], context: { n?: Long } };
action "repo:push" appliesTo { principal: [Agent], resource: [Repo], context: { n?: Long } };
"#;
const POLICIES: &str = r#"
@id("read-ok") permit (principal, action == Action::"repo:read", resource);
@id("no-push") forbid (principal, action == Action::"repo:push", resource);
@id("push-all") permit (principal, action == Action::"repo:push", resource);
"#;
const INVENTORY: &str = r#"
users: [{id: alice}]
agents: [{id: ci-bot, owner: alice}]
resources: [{type: Repo, id: api}]
"#;

fn engine_with(schema: &str, policies: &str) -> Engine {
    Engine::builder()
        .bundle(Bundle::from_strings(schema, policies, Some(INVENTORY)))
        .trust_caller_time(true)
        .build()
        .unwrap()
}

fn request(action: &str, context: Value) -> Request {
    Request::from_json_value(json!({
        "agent": "ci-bot", "action": action, "resource": {"type": "Repo", "id": "api"},
        "context": context, "now": "2026-11-29T10:00:00Z",
    }))
    .unwrap()
}

fn count(m: &EngineMetrics, decision: &str, action: &str, reason: &str) -> u64 {
    m.decisions
        .iter()
        .filter(|c| c.decision == decision && c.action == action && c.reason == reason)
        .map(|c| c.count)
        .sum()
}

fn total(m: &EngineMetrics) -> u64 {
    m.decisions.iter().map(|c| c.count).sum()
}

#[test]
fn counters_match_the_decisions_made() {
    let engine = engine_with(SCHEMA, POLICIES);
    let mut made: Vec<(String, String)> = Vec::new();
    for _ in 0..3 {
        let d = engine.check(&request("repo:read", json!({}))).unwrap();
        made.push((d.decision.as_str().into(), d.reasons[0].clone()));
    }
    for _ in 0..2 {
        let d = engine.check(&request("repo:push", json!({}))).unwrap();
        made.push((d.decision.as_str().into(), d.reasons[0].clone()));
    }
    // A context field of the wrong type raises: counted as an error by code.
    let err = engine
        .check(&request("repo:read", json!({"n": "not a number"})))
        .unwrap_err();
    let m = engine.metrics();
    assert_eq!(made[0], ("allow".into(), "read-ok".into()));
    assert_eq!(made[3], ("deny".into(), "no-push".into()));
    assert_eq!(count(&m, "allow", "repo:read", "read-ok"), 3, "{m:?}");
    assert_eq!(count(&m, "deny", "repo:push", "no-push"), 2, "{m:?}");
    assert_eq!(count(&m, "error", "other", err.code().as_str()), 1, "{m:?}");
    assert_eq!(total(&m), 6);
    assert_eq!(m.check_latency.count, 6);
    assert_eq!(
        m.check_latency.counts.len(),
        m.check_latency.bounds_us.len() + 1
    );
    assert_eq!(m.check_latency.counts.iter().sum::<u64>(), 6);
    assert!(m.check_latency.sum_us > 0.0);
    // No exporting sink, no store: those gauges are absent.
    assert_eq!(m.log_queue_depth, None);
    assert_eq!(m.spool_bytes, None);
    assert_eq!(m.store_staleness_seconds, None);
    let wire = serde_json::to_value(&m).unwrap();
    assert!(wire.get("log_queue_depth").is_none());
    assert_eq!(wire["decisions"][0]["decision"], "allow");
}

/// A request refused before any policy is evaluated (a forged session or
/// token, an over-deep tool call) is still counted: a flood of forged tokens
/// shows on the dashboard instead of vanishing from it.
#[test]
fn refusals_before_the_decision_are_counted_by_code() {
    let engine = engine_with(SCHEMA, POLICIES);
    let session: agentauthz::SessionRequest = serde_json::from_value(json!({
        "session": "v4.public.forged", "action": "repo:read",
        "resource": {"type": "Repo", "id": "api"},
    }))
    .unwrap();
    let session_err = engine.check_session(&session).unwrap_err();
    let token: agentauthz::TokenRequest = serde_json::from_value(json!({
        "token": "eyJhbGciOiJub25lIn0.e30.", "action": "repo:read",
        "resource": {"type": "Repo", "id": "api"},
    }))
    .unwrap();
    let token_err = engine.check_token(&token).unwrap_err();
    let mut deep = json!(1);
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let call: agentauthz::ToolCall = serde_json::from_value(json!({
        "tool": "read", "action": "repo:read", "agent": "ci-bot",
        "resource": {"type": "Repo", "id": "api"}, "input": deep,
    }))
    .unwrap();
    let call_err = engine.check_tool_call(&call).unwrap_err();
    let m = engine.metrics();
    for e in [&session_err, &token_err, &call_err] {
        assert!(
            count(&m, "error", "other", e.code().as_str()) >= 1,
            "{e}: {m:?}"
        );
    }
    // Each refusal counted once, never twice.
    assert_eq!(total(&m), 3, "{m:?}");
    // A forged token reaching the session path of a tool call is counted once too.
    let call: agentauthz::ToolCall = serde_json::from_value(json!({
        "tool": "read", "action": "repo:read", "session": "v4.public.forged",
        "resource": {"type": "Repo", "id": "api"},
    }))
    .unwrap();
    engine.check_tool_call(&call).unwrap_err();
    assert_eq!(total(&engine.metrics()), 4);
}

/// An attacker who sends many distinct action names gets them all folded
/// into one `other` series: the labels never echo undeclared names.
#[test]
fn a_flood_of_unknown_action_names_adds_one_series() {
    let engine = engine_with(SCHEMA, POLICIES);
    let n = 20_000;
    for i in 0..n {
        let d = engine
            .check(&request(
                &format!("evil:{i}:{}", "x".repeat(i % 300)),
                json!({}),
            ))
            .unwrap();
        assert!(!d.allowed());
    }
    let m = engine.metrics();
    assert_eq!(
        m.decisions.len(),
        1,
        "{:?}",
        &m.decisions[..3.min(m.decisions.len())]
    );
    assert_eq!(
        m.decisions[0],
        DecisionCount {
            decision: "deny".into(),
            action: "other".into(),
            reason: "baseline/unknown-action".into(),
            count: n as u64,
        }
    );
}

/// Beyond the cap, new label sets fold into (`other`, `other`); nothing is
/// lost from the totals and the snapshot stays bounded.
#[test]
fn label_sets_beyond_the_cap_fold_into_other() {
    let actions = MAX_METRIC_SERIES + 200;
    let mut schema = String::from("entity Repo;\n");
    for i in 0..actions {
        schema.push_str(&format!(
            "action \"a{i}\" appliesTo {{ principal: [Agent], resource: [Repo] }};\n"
        ));
    }
    let engine = engine_with(
        &schema,
        r#"@id("all") permit (principal, action, resource);"#,
    );
    for round in 0..2 {
        for i in 0..actions {
            assert!(engine
                .check(&request(&format!("a{i}"), json!({})))
                .unwrap()
                .allowed());
        }
        let m = engine.metrics();
        assert_eq!(total(&m), (actions * (round + 1)) as u64);
        assert_eq!(m.decisions.len(), MAX_METRIC_SERIES + 1);
        assert_eq!(
            count(&m, "allow", "other", "other"),
            (200 * (round + 1)) as u64
        );
        assert_eq!(count(&m, "allow", "a0", "all"), (round + 1) as u64);
    }
}

#[test]
fn counters_are_exact_under_concurrent_checks() {
    let engine = Arc::new(engine_with(SCHEMA, POLICIES));
    let per_thread = 5_000;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let action = if t % 2 == 0 { "repo:read" } else { "repo:push" };
                let r = request(action, json!({}));
                for _ in 0..per_thread {
                    engine.check(&r).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let m = engine.metrics();
    assert_eq!(count(&m, "allow", "repo:read", "read-ok"), 2 * per_thread);
    assert_eq!(count(&m, "deny", "repo:push", "no-push"), 2 * per_thread);
    assert_eq!(m.check_latency.count, 4 * per_thread);
}

#[test]
fn an_exporting_sink_reports_queue_depth_and_spool_size() {
    let dir = std::env::temp_dir().join(format!("agentauthz-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = format!(
        "[log.otlp]\nendpoint = \"http://127.0.0.1:9/v1/logs\"\nspool = \"{}\"\n",
        dir.join("spool").display()
    );
    let mut bundle = Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY));
    bundle.config = Some(agentauthz::Source::new("agentauthz.toml", config));
    let engine = Engine::builder()
        .bundle(bundle)
        .trust_caller_time(true)
        .build()
        .unwrap();
    for _ in 0..5 {
        engine.check(&request("repo:read", json!({}))).unwrap();
    }
    engine.flush_decision_log().unwrap();
    let m = engine.metrics();
    // Nothing listens on port 9: every record (the load record too) waits.
    assert!(m.log_queue_depth.unwrap() >= 5, "{m:?}");
    assert!(m.spool_bytes.unwrap() > 0, "{m:?}");
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
}
