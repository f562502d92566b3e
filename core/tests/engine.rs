//! The engine's contract: baseline guardrails, unknown identities, every error
//! code with its location, atomic reloads, and fail-closed request handling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{
    ffi, testing, AgentRequest, Bundle, Engine, EntityRef, ErrorCode, FixedClock, Request, Source,
};
use serde_json::json;
use std::sync::Arc;

const SCHEMA: &str = r#"
entity Repo;
action "github:push" appliesTo {
  principal: [Agent], resource: [Repo],
  context: { branch: String, source_ip?: ipaddr }
};
action "github:read" appliesTo { principal: [Agent, User], resource: [Repo] };
"#;

const POLICIES: &str = r#"
@id("push-feature")
permit (principal, action == Action::"github:push", resource)
when { context.branch like "feature/*" };

@id("read-all")
permit (principal, action == Action::"github:read", resource);
"#;

const INVENTORY: &str = r#"
users:
  - {id: alice, email: alice@acme.test}
  - {id: bob, active: false}
agents:
  - {id: ci-bot, owner: alice}
  - {id: orphan}
  - {id: bobs-bot, owner: bob}
  - {id: paused, owner: alice, status: suspended}
  - {id: gone, owner: alice, status: offboarded}
  - {id: other-bot, owner: alice}
credentials:
  - {id: key-1, agent: ci-bot, kind: service_account_key, expires: "2026-12-31T00:00:00Z"}
  - {id: old-key, agent: ci-bot, kind: api_token, expires: "2026-01-01T00:00:00Z"}
  - {id: revoked-key, agent: ci-bot, kind: api_token, revoked: true}
  - {id: alices-token, agent: ci-bot, kind: human_token}
  - {id: other-key, agent: other-bot, kind: api_token}
tasks:
  - {id: T1, agent: ci-bot, not_before: "2026-11-29T00:00:00Z", not_after: "2026-11-30T00:00:00Z", on_behalf_of: alice}
  - {id: T-other, agent: other-bot, not_before: "2026-11-29T00:00:00Z", not_after: "2026-11-30T00:00:00Z"}
"#;

const NOW: &str = "2026-11-29T10:00:00Z";

fn engine() -> Engine {
    trusted_strings(SCHEMA, POLICIES, Some(INVENTORY)).unwrap()
}

fn push(agent: &str) -> AgentRequest {
    AgentRequest {
        agent: agent.into(),
        action: "github:push".into(),
        resource: EntityRef::new("Repo", "acme/api"),
        task: None,
        on_behalf_of: None,
        credential: None,
        context: json!({"branch": "feature/x"}).as_object().unwrap().clone(),
        now: Some(NOW.into()),
    }
}

/// These tests fix `now` on each request: the engine trusts callers' time.
fn trusted(bundle: Bundle) -> agentauthz::Result<Engine> {
    Engine::builder()
        .bundle(bundle)
        .trust_caller_time(true)
        .build()
}

fn trusted_strings(
    schema: &str,
    policies: &str,
    inventory: Option<&str>,
) -> agentauthz::Result<Engine> {
    trusted(Bundle::from_strings(schema, policies, inventory))
}

fn decide(engine: &Engine, r: AgentRequest) -> (String, Vec<String>) {
    let d = engine.check(&Request::Agent(r)).unwrap();
    (d.decision.as_str().to_string(), d.reasons)
}

fn denied_by(engine: &Engine, r: AgentRequest, reason: &str) {
    let (decision, reasons) = decide(engine, r);
    assert_eq!(decision, "deny");
    assert_eq!(reasons, vec![reason.to_string()]);
}

#[test]
fn allowed_agent_push() {
    let (decision, reasons) = decide(&engine(), push("ci-bot"));
    assert_eq!(decision, "allow");
    assert_eq!(reasons, vec!["push-feature"]);
}

#[test]
fn non_matching_context_is_default_deny() {
    let mut r = push("ci-bot");
    r.context.insert("branch".into(), json!("main"));
    assert_eq!(decide(&engine(), r), ("deny".into(), vec![]));
}

#[test]
fn owner_required_guardrail() {
    let e = engine();
    denied_by(&e, push("orphan"), "baseline/owner-required");
    denied_by(&e, push("bobs-bot"), "baseline/owner-required");
}

#[test]
fn agent_active_guardrail() {
    let e = engine();
    denied_by(&e, push("paused"), "baseline/agent-active");
    denied_by(&e, push("gone"), "baseline/agent-active");
}

#[test]
fn task_window_guardrail() {
    let e = engine();
    let mut r = push("ci-bot");
    r.task = Some("T1".into());
    assert_eq!(decide(&e, r.clone()).0, "allow");
    r.now = Some("2026-11-30T00:00:00Z".into());
    denied_by(&e, r.clone(), "baseline/task-window");
    r.now = Some("2026-11-28T23:59:59Z".into());
    denied_by(&e, r, "baseline/task-window");
    let mut other = push("ci-bot");
    other.task = Some("T-other".into());
    denied_by(&e, other, "baseline/task-window");
}

#[test]
fn credential_guardrails() {
    let e = engine();
    let with = |c: &str| {
        let mut r = push("ci-bot");
        r.credential = Some(c.into());
        r
    };
    assert_eq!(decide(&e, with("key-1")).0, "allow");
    denied_by(&e, with("old-key"), "baseline/credential-expired");
    denied_by(&e, with("revoked-key"), "baseline/credential-expired");
    denied_by(&e, with("other-key"), "baseline/credential-expired");
    denied_by(&e, with("alices-token"), "baseline/no-human-credentials");
}

#[test]
fn unknown_identities_are_denied_with_a_reason() {
    let e = engine();
    denied_by(&e, push("nobody"), "baseline/unknown-agent");
    let mut r = push("ci-bot");
    r.task = Some("T-404".into());
    denied_by(&e, r, "baseline/unknown-task");
    let mut r = push("ci-bot");
    r.credential = Some("nope".into());
    denied_by(&e, r, "baseline/unknown-credential");
    let mut r = push("ci-bot");
    r.on_behalf_of = Some("mallory".into());
    denied_by(&e, r, "baseline/unknown-on-behalf-of");
    let mut r = push("ci-bot");
    r.action = "github:delete".into();
    denied_by(&e, r, "baseline/unknown-action");
}

#[test]
fn guardrails_switch_off_in_config() {
    let mut bundle = Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY));
    bundle.config = Some(Source::new(
        "agentauthz.toml",
        "[baseline]\nowner-required = false\n",
    ));
    let e = trusted(bundle).unwrap();
    assert_eq!(decide(&e, push("orphan")).0, "allow");
    // Unknown identities are not switchable.
    denied_by(&e, push("nobody"), "baseline/unknown-agent");
    assert!(e
        .policies()
        .iter()
        .all(|p| p.id != "baseline/owner-required"));
}

#[test]
fn bad_context_is_an_error_never_an_allow() {
    let e = engine();
    for context in [
        json!({}),            // missing required field
        json!({"branch": 7}), // wrong type
        json!({"branch": "feature/x", "source_ip": "not an ip"}),
        json!({"branch": "feature/x", "extra": true}), // undeclared field
        json!({"branch": "feature/x", "now": NOW}),    // reserved field
    ] {
        let mut r = push("ci-bot");
        r.context = context.as_object().unwrap().clone();
        let err = e.check(&Request::Agent(r)).unwrap_err();
        assert_eq!(err.code, ErrorCode::RequestInvalid, "{err}");
    }
    let mut r = push("ci-bot");
    r.now = Some("yesterday".into());
    assert_eq!(
        e.check(&Request::Agent(r)).unwrap_err().code,
        ErrorCode::RequestInvalid
    );
    let mut r = push("ci-bot");
    r.resource = EntityRef::new("User", "alice");
    assert_eq!(
        e.check(&Request::Agent(r)).unwrap_err().code,
        ErrorCode::RequestInvalid
    );
}

#[test]
fn injected_clock_supplies_now() {
    let clock = Arc::new(FixedClock::at("2026-11-30T12:00:00Z").unwrap());
    let e = Engine::builder()
        .bundle(Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY)))
        .trust_caller_time(true)
        .clock(clock)
        .build()
        .unwrap();
    let mut r = push("ci-bot");
    r.now = None;
    r.task = Some("T1".into());
    denied_by(&e, r, "baseline/task-window");
}

#[test]
fn cedar_form_request() {
    let e = engine();
    let r = Request::from_json_value(json!({
        "principal": {"type": "User", "id": "alice"},
        "action": {"type": "Action", "id": "github:read"},
        "resource": {"type": "Repo", "id": "x"},
        "context": {"now": NOW}
    }))
    .unwrap();
    let d = e.check(&r).unwrap();
    assert!(d.allowed());
    assert_eq!(d.reasons, vec!["read-all"]);
}

#[test]
fn decisions_carry_ids_and_revision() {
    let e = engine();
    let a = e.check(&Request::Agent(push("ci-bot"))).unwrap();
    let b = e.check(&Request::Agent(push("ci-bot"))).unwrap();
    assert_ne!(a.decision_id, b.decision_id);
    assert_eq!(a.policy_revision, e.policy_revision());
    assert!(a.policy_revision.starts_with("sha256:"));
    let other = trusted_strings(SCHEMA, "", Some(INVENTORY)).unwrap();
    assert_ne!(other.policy_revision(), e.policy_revision());
}

#[test]
fn check_batch_matches_check() {
    let e = engine();
    let requests: Vec<Request> = ["ci-bot", "orphan", "nobody"]
        .iter()
        .map(|a| Request::Agent(push(a)))
        .collect();
    let batch = e.check_batch(&requests);
    for (r, d) in requests.iter().zip(batch) {
        let single = e.check(r).unwrap();
        let d = d.unwrap();
        assert_eq!((d.decision, d.reasons), (single.decision, single.reasons));
    }
}

#[test]
fn failed_reload_keeps_the_old_snapshot() {
    let e = engine();
    let before = e.policy_revision();
    let broken = Bundle::from_strings(SCHEMA, "permit (principal, action, resource", None);
    assert_eq!(e.reload(broken).unwrap_err().code, ErrorCode::PolicyParse);
    assert_eq!(e.policy_revision(), before);
    assert_eq!(decide(&e, push("ci-bot")).0, "allow");
    let stricter = Bundle::from_strings(SCHEMA, "", Some(INVENTORY));
    e.reload(stricter).unwrap();
    assert_eq!(decide(&e, push("ci-bot")).0, "deny");
}

#[test]
fn concurrent_checks_during_reloads() {
    let e = Arc::new(engine());
    let allow_rev = e.policy_revision();
    let deny_bundle = Bundle::from_strings(SCHEMA, "", Some(INVENTORY));
    let deny_rev = trusted(deny_bundle.clone()).unwrap().policy_revision();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let e = e.clone();
            let (allow_rev, deny_rev) = (allow_rev.clone(), deny_rev.clone());
            s.spawn(move || {
                for _ in 0..300 {
                    let d = e.check(&Request::Agent(push("ci-bot"))).unwrap();
                    // Each decision is wholly from one snapshot or the other.
                    if d.allowed() {
                        assert_eq!(d.policy_revision, allow_rev);
                    } else {
                        assert_eq!(d.policy_revision, deny_rev);
                    }
                }
            });
        }
        let e = e.clone();
        s.spawn(move || {
            for i in 0..30 {
                let b = if i % 2 == 0 {
                    deny_bundle.clone()
                } else {
                    Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY))
                };
                e.reload(b).unwrap();
            }
        });
    });
}

fn load_error(schema: &str, policies: &str, inventory: Option<&str>) -> agentauthz::Error {
    trusted_strings(schema, policies, inventory).unwrap_err()
}

fn assert_located(e: &agentauthz::Error, file: &str, line: u32) {
    let loc = e.location().unwrap_or_else(|| panic!("no location: {e}"));
    assert_eq!((loc.file.as_str(), loc.line), (file, line), "{e}");
    assert!(loc.column >= 1);
}

#[test]
fn error_schema_parse() {
    let e = load_error("entity Repo;\naction \"x\" appliesTo {", POLICIES, None);
    assert_eq!(e.code, ErrorCode::SchemaParse);
    assert_eq!(e.location().unwrap().file, "schema.cedarschema");
}

#[test]
fn error_schema_invalid() {
    let e = load_error("entity Repo;\nentity Agent;\n", "", None);
    assert_eq!(e.code, ErrorCode::SchemaInvalid);
    assert_located(&e, "schema.cedarschema", 2);
    let e = load_error(
        "entity Repo;\naction \"x\" appliesTo { principal: [Agent], resource: [Repo], context: { now: String } };",
        "",
        None,
    );
    assert_eq!(e.code, ErrorCode::SchemaInvalid);
    let e = load_error("entity Repo in [Nope];", "", None);
    assert_eq!(e.code, ErrorCode::SchemaInvalid);
}

#[test]
fn error_policy_parse() {
    let e = load_error(
        SCHEMA,
        "@id(\"a\")\npermit (principal, action, resource)\nwhen { 1 + };",
        None,
    );
    assert_eq!(e.code, ErrorCode::PolicyParse);
    assert_located(&e, "policies.cedar", 3);
}

#[test]
fn error_policy_id_missing() {
    let e = load_error(SCHEMA, "@id(\"a\")\npermit (principal, action, resource);\n\npermit (principal, action, resource);", None);
    assert_eq!(e.code, ErrorCode::PolicyIdMissing);
    assert_located(&e, "policies.cedar", 4);
}

#[test]
fn error_policy_id_duplicate() {
    let e = load_error(SCHEMA, "@id(\"a\")\npermit (principal, action, resource);\n@id(\"a\")\nforbid (principal, action, resource);", None);
    assert_eq!(e.code, ErrorCode::PolicyIdDuplicate);
    assert_located(&e, "policies.cedar", 3);
    let e = load_error(
        SCHEMA,
        "@id(\"baseline/mine\")\npermit (principal, action, resource);",
        None,
    );
    assert_eq!(e.code, ErrorCode::PolicyIdDuplicate);
}

#[test]
fn error_policy_invalid() {
    let e = load_error(
        SCHEMA,
        "@id(\"a\")\npermit (principal, action == Action::\"github:push\", resource)\nwhen { context.branch > 3 };",
        None,
    );
    assert_eq!(e.code, ErrorCode::PolicyInvalid);
    assert_located(&e, "policies.cedar", 3);
}

#[test]
fn error_inventory_parse() {
    let e = load_error(SCHEMA, POLICIES, Some("agents:\n  - id: a\n   owner: [\n"));
    assert_eq!(e.code, ErrorCode::InventoryParse);
    assert_eq!(e.location().unwrap().file, "inventory.yaml");
    let e = load_error(SCHEMA, POLICIES, Some("robots: []\n"));
    assert_eq!(e.code, ErrorCode::InventoryParse);
}

#[test]
fn error_inventory_invalid() {
    let e = load_error(
        SCHEMA,
        POLICIES,
        Some("users: []\nagents:\n  - id: a\n    owner: ghost\n"),
    );
    assert_eq!(e.code, ErrorCode::InventoryInvalid);
    assert_located(&e, "inventory.yaml", 3);
    let e = load_error(
        SCHEMA,
        POLICIES,
        Some("agents:\n  - {id: a, status: sleeping}\n"),
    );
    assert_eq!(e.code, ErrorCode::InventoryInvalid);
    let e = load_error(
        SCHEMA,
        POLICIES,
        Some("tasks: []\nagents:\n  - {id: a, created: not-a-date}\n"),
    );
    assert_eq!(e.code, ErrorCode::InventoryInvalid);
    assert_located(&e, "inventory.yaml", 3);
    let e = load_error(
        SCHEMA,
        POLICIES,
        Some("resources:\n  - {type: Repo, id: r, attrs: {size: 3}}\n"),
    );
    assert_eq!(e.code, ErrorCode::InventoryInvalid);
}

/// Entities whose every value is read by its declared type, refused only by
/// Cedar's schema check afterwards: Cedar's own error, located.
#[test]
fn error_inventory_refused_by_the_schema_check() {
    let schema = format!("{SCHEMA}\nentity Doc {{ size: Long, label?: String }};\n");
    let e = load_error(
        &schema,
        POLICIES,
        Some("resources:\n  - {type: Repo, id: r}\n  - {type: Doc, id: d, attrs: {label: x}}\n"),
    );
    assert_eq!(e.code, ErrorCode::InventoryInvalid);
    assert!(e.to_string().contains("size"), "{e}");
    assert_located(&e, "inventory.yaml", 3);
}

#[test]
fn error_config_invalid() {
    let mut b = Bundle::from_strings(SCHEMA, POLICIES, None);
    b.config = Some(Source::new(
        "agentauthz.toml",
        "[baseline]\nowner_required = false\n",
    ));
    let e = trusted(b).unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigInvalid);
    assert_located(&e, "agentauthz.toml", 2);
}

#[test]
fn error_request_parse() {
    for text in [
        "not json",
        "[1]",
        "{}",
        r#"{"agent": "a"}"#,
        r#"{"agent":"a","action":"x","resource":{"type":"Repo","id":"r"},"bogus":1}"#,
    ] {
        assert_eq!(
            Request::from_json_str(text).unwrap_err().code,
            ErrorCode::RequestParse,
            "{text}"
        );
    }
}

#[test]
fn error_bundle_invalid_and_io() {
    let e = Engine::load("/nonexistent/bundle").unwrap_err();
    assert_eq!(e.code, ErrorCode::BundleInvalid);
    let dir = std::env::temp_dir().join(format!("agentauthz-io-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("schema.cedarschema"), SCHEMA).unwrap();
    let e = Engine::load(&dir).unwrap_err();
    assert_eq!(e.code, ErrorCode::BundleInvalid, "no policies: {e}");
    std::fs::write(dir.join("policies/p.cedar"), [0xff, 0xfe, 0x00]).unwrap();
    let e = Engine::load(&dir).unwrap_err();
    assert_eq!(e.code, ErrorCode::Io, "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    let e = ffi::engine_from_strings(json!({"policies": ""}), None, false).unwrap_err();
    assert_eq!(e.code, ErrorCode::BundleInvalid);
}

#[test]
fn error_test_invalid() {
    let e = engine();
    let bundle = e.bundle();
    for text in [
        "cases: [{name: x}]",
        "cases:\n  - name: no now\n    request: {agent: ci-bot, action: 'github:push', resource: {type: Repo, id: r}, context: {branch: main}}\n    expect: deny\n",
        "cases:\n  - name: both\n    request: {}\n    expect: deny\n    expect_error: request_parse\n",
        "cases: [",
    ] {
        let err = testing::run_file(&e, &bundle, &Source::new("t.yaml", text)).unwrap_err();
        assert_eq!(err.code, ErrorCode::TestInvalid, "{text}");
    }
}

#[test]
fn error_internal_from_panic() {
    let r: agentauthz::Result<()> = ffi::catch_panic(|| panic!("boom"));
    let e = r.unwrap_err();
    assert_eq!(e.code, ErrorCode::Internal);
    assert!(e.message().contains("boom"));
}

#[test]
fn every_error_code_is_listed_once() {
    let codes = agentauthz::error_codes();
    assert_eq!(codes.len(), ErrorCode::ALL.len());
    let unique: std::collections::BTreeSet<_> = codes.iter().map(|(c, _)| *c).collect();
    assert_eq!(unique.len(), codes.len());
    for (code, _) in &codes {
        assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    }
}

#[test]
fn now_accepts_any_rfc3339_form() {
    let e = engine();
    for now in [
        "2026-11-29T11:00:00+01:00",
        "2026-11-29T10:00:00.5Z",
        "2026-11-29T10:00:00.123456z",
    ] {
        let mut r = push("ci-bot");
        r.task = Some("T1".into());
        r.now = Some(now.into());
        assert_eq!(decide(&e, r).0, "allow", "{now}");
    }
    let mut r = push("ci-bot");
    r.task = Some("T1".into());
    r.now = Some("2026-11-30T00:30:00+01:00".into()); // 23:30Z, inside the window
    assert_eq!(decide(&e, r).0, "allow");
    let inv = INVENTORY.replace(
        "2026-11-30T00:00:00Z\", on_behalf_of",
        "2026-11-30T01:00:00+01:00\", on_behalf_of",
    );
    let e = trusted_strings(SCHEMA, POLICIES, Some(&inv)).unwrap();
    let mut r = push("ci-bot");
    r.task = Some("T1".into());
    r.now = Some("2026-11-29T23:59:59Z".into());
    assert_eq!(decide(&e, r).0, "allow");
}
