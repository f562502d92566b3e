//! Fail closed: a `forbid` whose evaluation errors denies (Cedar would skip
//! it and let a permit allow). One test per attack class of issue #13, each
//! showing a deny (or a coded error), never an allow; `on_error = "skip"`
//! keeps Cedar's rule; log-only paths record the would-be deny; load
//! warnings and `strict`; dangling references in the inventory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{
    Bundle, BundleOptions, CedarRequest, DecisionLog, DecisionRecord, Engine, EntityRef, ErrorCode,
    GrantRequest, OnError, Request,
};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = r#"
entity Org;
entity Repo in [Org] { classification: String, owner?: User };
entity Approver { active: Bool };
action "repo:read" appliesTo { principal: [Agent], resource: [Repo],
  context: { reviewer?: User, approver?: Approver } };
action "upload" appliesTo { principal: [Agent], resource: [Repo],
  context: { input: { bytes: Long, parts: Long } } };
"#;

const INVENTORY: &str = r#"
users: [{id: alice}]
agents: [{id: ci-bot, owner: alice}]
resources:
  - {type: Repo, id: acme/api, attrs: {classification: public, owner: {type: User, id: alice}}}
"#;

const BROAD_PERMIT: &str = r#"@id("allow-all") permit (principal, action, resource);"#;
const RESTRICTED: &str = r#"@id("no-restricted") forbid (principal, action, resource)
when { resource.classification == "restricted" };"#;
const UPLOAD_LIMIT: &str = r#"@id("upload-limit") forbid (principal, action == Action::"upload", resource)
when { context.input.bytes * context.input.parts > 5368709120 };"#;
const REVIEWER_ACTIVE: &str = r#"@id("reviewer-active") forbid (principal, action, resource)
when { context has reviewer && !context.reviewer.active };"#;

fn engine(policies: &[&str], config: Option<&str>) -> Engine {
    let mut bundle = Bundle::from_strings(SCHEMA, &policies.join("\n"), Some(INVENTORY));
    bundle.config = config.map(|c| agentauthz::Source::new("agentauthz.toml", c));
    trusted(bundle).unwrap()
}

fn agent(action: &str, resource: &str, context: Value) -> Request {
    Request::from_json_value(json!({
        "agent": "ci-bot", "action": action,
        "resource": {"type": "Repo", "id": resource},
        "context": context, "now": "2026-11-29T10:00:00Z",
    }))
    .unwrap()
}

/// Asserts a fail-closed deny: denied, the erroring forbid a reason and an error.
fn assert_fail_closed(engine: &Engine, request: &Request, forbid: &str) {
    let d = engine.check(request).unwrap();
    assert!(!d.allowed(), "allowed: {d:?}");
    assert!(d.reasons.iter().any(|r| r == forbid), "{d:?}");
    assert!(d.errors.iter().any(|e| e.policy == forbid), "{d:?}");
    assert!(d.fail_closed(), "{d:?}");
}

const HUGE: i64 = 1 << 62;

#[test]
fn forbid_reading_a_required_attribute_of_an_unknown_resource_denies() {
    let e = engine(&[BROAD_PERMIT, RESTRICTED], None);
    assert_fail_closed(
        &e,
        &agent("repo:read", "acme/ghost", json!({})),
        "no-restricted",
    );
    // A known resource: no error, the permit allows.
    let d = e.check(&agent("repo:read", "acme/api", json!({}))).unwrap();
    assert!(d.allowed() && d.errors.is_empty(), "{d:?}");
}

#[test]
fn integer_overflow_on_tool_input_denies() {
    let e = engine(&[BROAD_PERMIT, UPLOAD_LIMIT], None);
    let r = agent(
        "upload",
        "acme/api",
        json!({"input": {"bytes": HUGE, "parts": 4}}),
    );
    assert_fail_closed(&e, &r, "upload-limit");
    let d = e
        .check(&agent(
            "upload",
            "acme/api",
            json!({"input": {"bytes": 10, "parts": 4}}),
        ))
        .unwrap();
    assert!(d.allowed(), "{d:?}");
}

#[test]
fn entity_typed_context_field_naming_an_unknown_entity_denies() {
    // Agent form: denied, by the evaluation error or by an unknown-entity guard.
    let e = engine(&[BROAD_PERMIT, REVIEWER_ACTIVE], None);
    let r = agent(
        "repo:read",
        "acme/api",
        json!({"reviewer": {"type": "User", "id": "mallory"}}),
    );
    let d = e.check(&r).unwrap();
    assert!(!d.allowed(), "{d:?}");
    assert!(
        d.reasons
            .iter()
            .any(|r| r == "reviewer-active" || r.starts_with("baseline/unknown")),
        "{d:?}"
    );
    // The evaluation error alone denies: a plain Cedar bundle (no base types,
    // no unknown-entity guards) with an app entity type.
    let bundle = Bundle::from_strings(
        "entity P; entity R; entity A { active: Bool };\n\
         action go appliesTo { principal: [P], resource: [R], context: { approver?: A } };",
        "permit (principal, action, resource);\n\
         forbid (principal, action, resource) when { context has approver && !context.approver.active };",
        Some(r#"[{"uid": {"type": "P", "id": "p"}, "attrs": {}, "parents": []}]"#),
    )
    .with_options(BundleOptions::plain_cedar());
    let plain = trusted(bundle).unwrap();
    let cedar = |approver: &str| {
        Request::Cedar(CedarRequest {
            principal: EntityRef::new("P", "p"),
            action: EntityRef::new("Action", "go"),
            resource: EntityRef::new("R", "r"),
            context: json!({"approver": {"type": "A", "id": approver}})
                .as_object()
                .unwrap()
                .clone(),
        })
    };
    assert_fail_closed(&plain, &cedar("ghost"), "policy1");
}

#[test]
fn just_in_time_grant_loses_to_an_erroring_forbid() {
    let e = engine(&[UPLOAD_LIMIT], None);
    let grant: GrantRequest = serde_json::from_value(json!({
        "agent": "ci-bot", "actions": ["upload"], "resource": {"type": "Repo", "id": "acme/api"},
        "ttl_seconds": 3600, "reason": "migration", "granted_by": "alice",
    }))
    .unwrap();
    e.grant(grant).unwrap();
    let ok = Request::from_json_value(json!({
        "agent": "ci-bot", "action": "upload", "resource": {"type": "Repo", "id": "acme/api"},
        "context": {"input": {"bytes": 1, "parts": 1}},
    }))
    .unwrap();
    assert!(e.check(&ok).unwrap().allowed(), "the grant permits");
    let hostile = Request::from_json_value(json!({
        "agent": "ci-bot", "action": "upload", "resource": {"type": "Repo", "id": "acme/api"},
        "context": {"input": {"bytes": HUGE, "parts": 4}},
    }))
    .unwrap();
    assert_fail_closed(&e, &hostile, "upload-limit");
}

/// ~2,000 `||` terms: validates, but Cedar's evaluator runs out of stack on
/// a 2 MiB thread ("recursion limit reached").
fn deny_list(terms: usize) -> String {
    let list: Vec<String> = (0..terms)
        .map(|i| format!("resource.classification == \"c{i}\""))
        .collect();
    format!(
        "@id(\"deny-list\") forbid (principal, action, resource) when {{ {} }};",
        list.join(" || ")
    )
}

#[test]
fn long_deny_list_that_errors_at_evaluation_denies() {
    let policy = deny_list(2000);
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let e = engine(&[BROAD_PERMIT, &policy], None);
            let d = e.check(&agent("repo:read", "acme/api", json!({}))).unwrap();
            let w = e.warnings();
            (d, w)
        })
        .unwrap();
    let (d, warnings) = handle.join().unwrap();
    assert!(!d.allowed(), "{d:?}");
    assert_eq!(d.reasons, vec!["deny-list"], "{d:?}");
    assert!(
        d.errors
            .iter()
            .any(|e| e.message.contains("recursion limit")),
        "{d:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.policy == "deny-list" && w.kind == "depth"),
        "{warnings:?}"
    );
}

#[test]
fn an_erroring_permit_simply_does_not_permit() {
    let permit = r#"@id("restricted-read") permit (principal, action, resource)
        when { resource.classification == "public" };"#;
    let e = engine(&[permit], None);
    let d = e
        .check(&agent("repo:read", "acme/ghost", json!({})))
        .unwrap();
    assert!(!d.allowed());
    assert!(d.reasons.is_empty(), "a default deny: {d:?}");
    assert_eq!(d.errors.len(), 1);
    assert!(!d.fail_closed());
}

#[test]
fn satisfied_and_erroring_forbids_are_all_reasons() {
    let always = r#"@id("always") forbid (principal, action, resource);"#;
    let e = engine(&[BROAD_PERMIT, RESTRICTED, always], None);
    let d = e
        .check(&agent("repo:read", "acme/ghost", json!({})))
        .unwrap();
    assert!(!d.allowed());
    assert_eq!(d.reasons, vec!["always", "no-restricted"]);
}

#[test]
fn on_error_skip_keeps_cedars_rule() {
    for e in [
        engine(
            &[BROAD_PERMIT, RESTRICTED],
            Some("[engine]\non_error = \"skip\"\n"),
        ),
        Engine::builder()
            .trust_caller_time(true)
            .bundle(Bundle::from_strings(
                SCHEMA,
                &[BROAD_PERMIT, RESTRICTED].join("\n"),
                Some(INVENTORY),
            ))
            .on_error(OnError::Skip)
            .build()
            .unwrap(),
    ] {
        assert_eq!(e.on_error(), OnError::Skip);
        let d = e
            .check(&agent("repo:read", "acme/ghost", json!({})))
            .unwrap();
        assert!(d.allowed(), "Cedar skips the erroring forbid: {d:?}");
        assert_eq!(d.errors.len(), 1);
        assert!(!d.fail_closed());
    }
    assert_eq!(engine(&[BROAD_PERMIT], None).on_error(), OnError::Deny);
    let bad = trusted({
        let mut b = Bundle::from_strings(SCHEMA, BROAD_PERMIT, Some(INVENTORY));
        b.config = Some(agentauthz::Source::new(
            "agentauthz.toml",
            "[engine]\non_error = \"allow\"\n",
        ));
        b
    });
    assert_eq!(bad.unwrap_err().code(), ErrorCode::ConfigInvalid);
}

#[test]
fn builder_on_error_survives_a_reload() {
    let bundle = Bundle::from_strings(
        SCHEMA,
        &[BROAD_PERMIT, RESTRICTED].join("\n"),
        Some(INVENTORY),
    );
    let e = Engine::builder()
        .trust_caller_time(true)
        .bundle(bundle.clone())
        .on_error(OnError::Skip)
        .build()
        .unwrap();
    e.reload(bundle).unwrap();
    assert_eq!(e.on_error(), OnError::Skip);
}

type Records = Arc<Mutex<Vec<DecisionRecord>>>;

fn logged(policies: &[&str], config: Option<&str>) -> (Engine, Records) {
    let records: Records = Arc::default();
    let sink = records.clone();
    let mut bundle = Bundle::from_strings(SCHEMA, &policies.join("\n"), Some(INVENTORY));
    bundle.config = config.map(|c| agentauthz::Source::new("agentauthz.toml", c));
    let e = Engine::builder()
        .trust_caller_time(true)
        .bundle(bundle)
        .decision_log(DecisionLog::callback(move |r| {
            sink.lock().unwrap().push(r.clone())
        }))
        .build()
        .unwrap();
    (e, records)
}

#[test]
fn the_record_marks_a_fail_closed_deny() {
    let (e, records) = logged(&[BROAD_PERMIT, RESTRICTED], None);
    e.check(&agent("repo:read", "acme/ghost", json!({})))
        .unwrap();
    e.check(&agent("repo:read", "acme/api", json!({}))).unwrap();
    let r = records.lock().unwrap();
    assert_eq!(r[0].decision.as_str(), "deny");
    assert!(r[0].fail_closed);
    assert_eq!(r[0].schema_version, agentauthz::audit::SCHEMA_VERSION);
    assert_eq!(r[0].to_value()["fail_closed"], json!(true));
    assert_eq!(r[0].reasons, vec!["no-restricted"]);
    assert!(!r[1].fail_closed);
    assert!(
        r[1].to_value().get("fail_closed").is_none(),
        "absent when false"
    );
}

#[test]
fn an_erroring_log_only_forbid_does_not_change_enforcement() {
    let log_only = r#"@id("shadow-restricted") @mode("log-only") forbid (principal, action, resource)
        when { resource.classification == "restricted" };"#;
    let (e, records) = logged(&[BROAD_PERMIT, log_only], None);
    let d = e
        .check(&agent("repo:read", "acme/ghost", json!({})))
        .unwrap();
    assert!(
        d.allowed(),
        "a log-only policy never changes the decision: {d:?}"
    );
    let r = records.lock().unwrap();
    assert_eq!(r[0].decision.as_str(), "allow");
    assert_eq!(r[0].would_decision, Some(agentauthz::Effect::Deny));
    assert_eq!(
        r[0].would_reasons.as_deref(),
        Some(&["shadow-restricted".to_string()][..])
    );
    assert!(r[0].fail_closed);
}

#[test]
fn engine_log_only_mode_records_the_would_be_fail_closed_deny() {
    let (e, records) = logged(
        &[BROAD_PERMIT, RESTRICTED],
        Some("[engine]\nmode = \"log-only\"\n"),
    );
    let d = e
        .check(&agent("repo:read", "acme/ghost", json!({})))
        .unwrap();
    assert!(d.allowed(), "log-only mode always allows: {d:?}");
    let r = records.lock().unwrap();
    assert_eq!(r[0].would_decision, Some(agentauthz::Effect::Deny));
    assert_eq!(
        r[0].would_reasons.as_deref(),
        Some(&["no-restricted".to_string()][..])
    );
    assert!(r[0].fail_closed);
}

// ---------------------------------------------------------------- warnings

fn warnings_of(policies: &str) -> Vec<agentauthz::PolicyWarning> {
    trusted_strings(SCHEMA, policies, Some(INVENTORY))
        .unwrap()
        .warnings()
}

#[test]
fn warnings_name_forbids_that_may_error_with_locations() {
    let text = [RESTRICTED, UPLOAD_LIMIT, REVIEWER_ACTIVE].join("\n");
    let w = warnings_of(&text);
    let kinds: Vec<(&str, &str)> = w.iter().map(|w| (w.policy.as_str(), w.kind)).collect();
    assert!(kinds.contains(&("no-restricted", "absent_entity")), "{w:?}");
    assert!(kinds.contains(&("upload-limit", "overflow")), "{w:?}");
    assert!(
        kinds.contains(&("reviewer-active", "absent_entity")),
        "{w:?}"
    );
    let restricted = w.iter().find(|w| w.policy == "no-restricted").unwrap();
    let loc = restricted.location.as_ref().unwrap();
    assert_eq!((loc.file.as_str(), loc.line), ("policies.cedar", 2));
    assert!(loc.column > 1);
}

#[test]
fn warnings_of_many_forbids_in_one_file_point_at_each_ones_attribute() {
    // Non-ASCII text before each policy (columns count characters) and a
    // policy that repeats its neighbour's text apart from its id.
    let mut text = String::new();
    let mut want = Vec::new();
    for i in 0..300 {
        text.push_str("// Zürich ☃ déjà vu\n");
        let indent = " ".repeat(i % 7);
        text.push_str(&format!(
            "@id(\"r{i}\") forbid (principal, action, resource)\n"
        ));
        let when = format!("{indent}when {{ resource.classification == \"restricted\" }};\n");
        let line = text.lines().count() + 1;
        let column = when.find(".classification").unwrap() + 2;
        want.push((format!("r{i}"), line, column));
        text.push_str(&when);
    }
    let w = warnings_of(&text);
    assert_eq!(w.len(), 300, "{w:?}");
    for (id, line, column) in want {
        let found = w.iter().find(|w| w.policy == id).unwrap();
        let loc = found.location.as_ref().unwrap();
        assert_eq!(
            (loc.line as usize, loc.column as usize),
            (line, column),
            "{id}"
        );
    }
}

#[test]
fn guarded_and_safe_forbids_have_no_warnings() {
    let safe = r#"
@id("guarded") forbid (principal, action, resource)
when { resource has classification && resource.classification == "restricted" };
@id("principal-only") forbid (principal, action, resource) when { principal.status != "active" };
@id("task") forbid (principal, action, resource) when { context has task && context.task.not_after < context.now };
@id("permits-may-error") permit (principal, action, resource) when { resource.classification == "public" };
@id("bounded") forbid (principal, action == Action::"upload", resource)
when { context.input.bytes > 5368709120 || context.input.parts > 1000 };
@id("or-guard") forbid (principal, action, resource)
when { !(resource has classification) || resource.classification == "restricted" };
@id("if-guard") forbid (principal, action, resource)
when { if resource has classification then resource.classification == "x" else true };
"#;
    assert_eq!(warnings_of(safe), vec![]);
    // Nor do the baseline guardrails or the example bundles.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies-examples");
    let mut found = Vec::new();
    for example in ["coding-agent", "data-pipeline", "support-agent"] {
        let e = trusted(Bundle::read_dir(format!("{root}/{example}")).unwrap()).unwrap();
        found.extend(e.warnings());
    }
    assert_eq!(found, vec![]);
}

#[test]
fn an_impossible_forbid_is_a_warning() {
    let w = warnings_of(
        r#"@id("never") forbid (principal, action, resource) when { 1 == "a" && resource.classification == "x" };"#,
    );
    assert!(
        w.iter()
            .any(|w| w.policy == "never" && w.kind == "impossible"),
        "{w:?}"
    );
}

#[test]
fn strict_mode_refuses_warnings_with_policy_may_error() {
    let text = [BROAD_PERMIT, RESTRICTED].join("\n");
    let err = Engine::builder()
        .trust_caller_time(true)
        .bundle(Bundle::from_strings(SCHEMA, &text, Some(INVENTORY)))
        .strict(true)
        .build()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PolicyMayError);
    assert_eq!(err.location().unwrap().line, 3);
    let mut b = Bundle::from_strings(SCHEMA, &text, Some(INVENTORY));
    b.config = Some(agentauthz::Source::new(
        "agentauthz.toml",
        "[engine]\nstrict = true\n",
    ));
    assert_eq!(trusted(b).unwrap_err().code(), ErrorCode::PolicyMayError);
    // A bundle without warnings loads in strict mode.
    Engine::builder()
        .trust_caller_time(true)
        .bundle(Bundle::from_strings(SCHEMA, BROAD_PERMIT, Some(INVENTORY)))
        .strict(true)
        .build()
        .unwrap();
}

// ---------------------------------------------------------------- inventory

#[test]
fn dangling_references_in_resource_attributes_are_inventory_invalid() {
    let schema = r#"
entity Doc { owner: User, reviewers: Set<User>, meta: { approver: User } };
action read appliesTo { principal: [Agent], resource: [Doc] };
"#;
    let cases = [
        ("owner: {type: User, id: ghost}, reviewers: [], meta: {approver: {type: User, id: alice}}", "owner"),
        ("owner: {type: User, id: alice}, reviewers: [{type: User, id: ghost}], meta: {approver: {type: User, id: alice}}", "reviewers"),
        ("owner: {type: User, id: alice}, reviewers: [], meta: {approver: {type: User, id: ghost}}", "meta.approver"),
    ];
    for (attrs, path) in cases {
        let inventory = format!(
            "users: [{{id: alice}}]\nagents: [{{id: ci-bot, owner: alice}}]\nresources:\n  - {{type: Doc, id: d1, attrs: {{{attrs}}}}}\n"
        );
        let err = trusted_strings(
            schema,
            r#"@id("p") permit (principal, action, resource);"#,
            Some(&inventory),
        )
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InventoryInvalid, "{err}");
        assert!(
            err.message().contains(path) && err.message().contains("ghost"),
            "{err}"
        );
        assert_eq!(err.location().unwrap().line, 4, "{err}");
    }
    // The Cedar entities form too.
    let cedar = r#"[
      {"uid": {"type": "User", "id": "alice"}, "attrs": {"active": true}, "parents": []},
      {"uid": {"type": "Doc", "id": "d1"}, "attrs": {"owner": {"type": "User", "id": "ghost"},
        "reviewers": [], "meta": {"approver": {"type": "User", "id": "alice"}}}, "parents": []}
    ]"#;
    let err = trusted_strings(
        schema,
        r#"@id("p") permit (principal, action, resource);"#,
        Some(cedar),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InventoryInvalid, "{err}");
}

#[test]
fn version_1_records_still_verify_beside_version_2() {
    use agentauthz::audit::{record_hash, verify_files, VerifyOptions, GENESIS_HASH};
    let mut v1 = json!({"schema_version": 1, "seq": 1, "timestamp": "2026-11-29T10:00:00.000Z",
        "decision_id": "01J", "policy_revision": "sha256:00", "principal": {"type": "Agent", "id": "a"},
        "action": "x", "resource": {"type": "R", "id": "r"}, "decision": "allow", "reasons": [],
        "errors": [], "mode": "enforce", "context": {}, "prev_hash": GENESIS_HASH, "hash": ""});
    let h1 = record_hash(&v1).unwrap();
    v1["hash"] = json!(h1);
    let mut v2 = v1.clone();
    v2["schema_version"] = json!(2);
    v2["seq"] = json!(2);
    v2["fail_closed"] = json!(true);
    v2["decision"] = json!("deny");
    v2["prev_hash"] = json!(h1);
    v2["hash"] = json!(record_hash(&v2).unwrap());
    let path = std::env::temp_dir().join(format!("agentauthz-v1v2-{}.jsonl", std::process::id()));
    std::fs::write(&path, format!("{v1}\n{v2}\n")).unwrap();
    let report = verify_files(std::slice::from_ref(&path), &VerifyOptions::default()).unwrap();
    assert!(report.damage.is_none(), "{report:?}");
    assert_eq!(report.records, 2);
    // Dropping the mark breaks the chain: it is covered by the hash.
    v2["fail_closed"] = json!(false);
    std::fs::write(&path, format!("{v1}\n{v2}\n")).unwrap();
    let report = verify_files(std::slice::from_ref(&path), &VerifyOptions::default()).unwrap();
    assert!(report.damage.is_some());
    let _ = std::fs::remove_file(path);
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
