//! Who decides: hostile requests against the time rule, session claims and
//! audiences, the checks every request form gets, the guardrails and the
//! inventory's vocabularies, and lifecycle decisions under switched-off
//! guardrails. Every case ends in a deny or a coded error, never an allow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::session::{self, SessionClaims};
use agentauthz::{
    AgentRequest, CedarRequest, Engine, EntityRef, ErrorCode, GrantRequest, ManualClock, Request,
    SessionKeys, SessionRequest, TaskSpec,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;

const NOW: &str = "2026-11-29T10:00:00Z";

const SCHEMA: &str = r#"
entity Doc;
entity Ticket;
action "read" appliesTo {
  principal: [Agent], resource: [Doc],
  context: { ticket?: Ticket, reviewer?: User, input?: { refs?: Set<Ticket> } }
};
"#;

const POLICIES: &str = r#"
@id("read-all")
permit (principal, action == Action::"read", resource);
"#;

const INVENTORY: &str = r#"
users:
  - {id: alice}
  - {id: bob, active: false}
agents:
  - {id: ci-bot, owner: alice}
  - {id: old-bot, owner: alice, status: offboarded}
  - {id: paused-bot, owner: alice, status: suspended}
credentials:
  - {id: ci-key, agent: ci-bot, kind: api_token, issued: "2026-11-01T00:00:00Z", expires: "2026-11-29T09:00:00Z"}
  - {id: future-key, agent: ci-bot, kind: api_token, issued: "2026-12-01T00:00:00Z", expires: "2027-06-01T00:00:00Z"}
  - {id: live-key, agent: ci-bot, kind: api_token, issued: "2026-11-01T00:00:00Z", expires: "2027-06-01T00:00:00Z"}
  - {id: old-key, agent: old-bot, kind: api_token, issued: "2026-11-01T00:00:00Z", expires: "2027-06-01T00:00:00Z"}
tasks:
  - {id: T-1, agent: ci-bot, not_before: "2026-11-29T09:00:00Z", not_after: "2026-11-29T09:30:00Z"}
  - {id: T-2, agent: ci-bot, not_before: "2026-11-29T09:00:00Z", not_after: "2026-11-29T18:00:00Z"}
  - {id: T-bob, agent: ci-bot, on_behalf_of: bob, not_before: "2026-11-29T09:00:00Z", not_after: "2026-11-29T18:00:00Z"}
resources:
  - {type: Doc, id: readme}
  - {type: Ticket, id: TK-1}
"#;

const SESSIONS: &str = "[sessions]\naudience = \"tools\"\nallowed_audiences = [\"tools/github\"]\nmax_ttl_seconds = 600\n";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(NOW).unwrap())
}

fn engine_with(config: &str, inventory: &str, trust: bool, clock: Arc<ManualClock>) -> Engine {
    Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(inventory)
        .config(config)
        .clock(clock)
        .session_keys(SessionKeys::generate("k1").unwrap())
        .trust_caller_time(trust)
        .build()
        .unwrap()
}

fn engine() -> Engine {
    engine_with(SESSIONS, INVENTORY, false, clock())
}

fn read(agent: &str) -> AgentRequest {
    AgentRequest {
        agent: agent.into(),
        action: "read".into(),
        resource: EntityRef::new("Doc", "readme"),
        task: None,
        on_behalf_of: None,
        credential: None,
        context: Map::new(),
        now: None,
    }
}

fn cedar(principal: &str, context: Value) -> Request {
    Request::Cedar(CedarRequest {
        principal: EntityRef::new("Agent", principal),
        action: EntityRef::new("Action", "read"),
        resource: EntityRef::new("Doc", "readme"),
        context: context.as_object().unwrap().clone(),
    })
}

/// The decision must be a deny with exactly `reasons`.
fn denied(engine: &Engine, request: &Request, reasons: &[&str]) {
    let d = engine.check(request).unwrap();
    assert!(!d.allowed(), "allowed: {request:?}");
    assert_eq!(d.reasons(), reasons, "{request:?}");
}

fn error_code(r: agentauthz::Result<impl std::fmt::Debug>) -> ErrorCode {
    r.unwrap_err().code()
}

// ---------------------------------------------------------------- time

#[test]
fn a_caller_cannot_set_the_time_unless_the_engine_trusts_it() {
    let e = engine();
    // Past `now` would revive the expired credential and the closed task window.
    let mut r = read("ci-bot");
    r.credential = Some("ci-key".into());
    r.task = Some("T-1".into());
    r.now = Some("2026-11-29T09:10:00Z".into());
    assert_eq!(
        error_code(e.check(&Request::Agent(r.clone()))),
        ErrorCode::RequestInvalid
    );
    // At the engine clock, both are past.
    r.now = None;
    denied(
        &e,
        &Request::Agent(r),
        &["baseline/credential-expired", "baseline/task-window"],
    );
    // The Cedar form's `context.now` is the caller's time too.
    let past =
        json!({"now": "2026-11-29T09:10:00Z", "task": {"__entity": {"type": "Task", "id": "T-1"}}});
    assert_eq!(
        error_code(e.check(&cedar("ci-bot", past))),
        ErrorCode::RequestInvalid
    );
    // Without it, the engine fills in its own clock.
    let at_engine_time = json!({"task": {"__entity": {"type": "Task", "id": "T-1"}}});
    denied(
        &e,
        &cedar("ci-bot", at_engine_time),
        &["baseline/task-window"],
    );
    // Batches follow the same rule.
    let mut batch = read("ci-bot");
    batch.now = Some("2020-01-01T00:00:00Z".into());
    let results = e.check_batch(&[Request::Agent(batch)]);
    assert_eq!(
        results[0].as_ref().unwrap_err().code(),
        ErrorCode::RequestInvalid
    );
}

#[test]
fn a_trusting_engine_judges_expiry_at_the_callers_time_and_the_engine_clock_moves_the_rest() {
    let c = clock();
    let e = engine_with(SESSIONS, INVENTORY, true, c.clone());
    assert!(e.trusts_caller_time());
    // The caller's later `now` is the one time every guardrail sees.
    let mut r = read("ci-bot");
    r.credential = Some("live-key".into());
    r.task = Some("T-2".into());
    r.now = Some("2026-11-29T19:00:00Z".into());
    denied(&e, &Request::Agent(r), &["baseline/task-window"]);
    // A grant expires at the engine clock even with no caller time.
    let g = e
        .grant(GrantRequest {
            agent: "ci-bot".into(),
            actions: vec!["read".into()],
            resource: EntityRef::new("Doc", "readme"),
            ttl_seconds: Some(60),
            until: None,
            starts: None,
            task: None,
            reason: "test".into(),
            granted_by: "alice".into(),
        })
        .unwrap();
    c.advance(120_000);
    assert!(e.grants(None).iter().all(|x| x.id != g.id));
}

#[test]
fn a_session_check_is_always_at_the_engine_clock() {
    let c = clock();
    // Even an engine that trusts callers' time refuses `now` with a session.
    let e = engine_with(SESSIONS, INVENTORY, true, c.clone());
    let (token, _) = e.issue_session("ci-bot", None, None, None).unwrap();
    let mut request = SessionRequest {
        session: token,
        action: "read".into(),
        resource: EntityRef::new("Doc", "readme"),
        on_behalf_of: None,
        credential: Some("ci-key".into()),
        context: Map::new(),
        now: Some("2026-11-29T08:00:00Z".into()),
        audience: None,
    };
    assert_eq!(
        error_code(e.check_session(&request)),
        ErrorCode::RequestInvalid
    );
    // At the engine clock, the credential has expired.
    request.now = None;
    let d = e.check_session(&request).unwrap();
    assert!(!d.allowed());
    assert_eq!(d.reasons(), ["baseline/credential-expired"]);
    // And the token expires at the engine clock.
    c.advance(601_000);
    request.credential = None;
    assert_eq!(
        error_code(e.check_session(&request)),
        ErrorCode::SessionExpired
    );
}

// ---------------------------------------------------------------- sessions

#[test]
fn a_caller_cannot_pick_an_audience_the_configuration_does_not_allow() {
    let e = engine();
    let (token, claims) = e.issue_session("ci-bot", None, None, None).unwrap();
    assert_eq!(claims.audience, "tools");
    // Another audience is refused when verifying, checking and issuing.
    assert_eq!(
        error_code(e.verify_session(&token, Some("billing"))),
        ErrorCode::SessionInvalid
    );
    assert_eq!(
        error_code(e.issue_session("ci-bot", None, None, Some("billing"))),
        ErrorCode::SessionInvalid
    );
    // A token issued for an allowed narrower audience is not good for the default.
    let (narrow, _) = e
        .issue_session("ci-bot", None, None, Some("tools/github"))
        .unwrap();
    assert_eq!(
        error_code(e.verify_session(&narrow, None)),
        ErrorCode::SessionInvalid
    );
    let request = SessionRequest {
        session: narrow,
        action: "read".into(),
        resource: EntityRef::new("Doc", "readme"),
        on_behalf_of: None,
        credential: None,
        context: Map::new(),
        now: None,
        audience: Some("billing".into()),
    };
    assert_eq!(
        error_code(e.check_session(&request)),
        ErrorCode::SessionInvalid
    );
    // With no configured audience, a caller's audience is not enough.
    let bare = engine_with("", INVENTORY, false, clock());
    assert_eq!(
        error_code(bare.issue_session("ci-bot", None, None, Some("tools"))),
        ErrorCode::SessionInvalid
    );
}

fn forged(e: &Engine, issued_at: i64, expires_at: i64) -> String {
    let claims = SessionClaims {
        session_id: "01JZZZZZZZZZZZZZZZZZZZZZZZ".into(),
        agent: "ci-bot".into(),
        task: None,
        audience: "tools".into(),
        issuer: None,
        issued_at,
        not_before: issued_at.min(expires_at - 1),
        expires_at,
    };
    session::issue(&e.session_keys(), &claims).unwrap()
}

#[test]
fn session_claims_signed_with_the_real_key_are_still_bounded() {
    let e = engine();
    let now = agentauthz::FixedClock::at(NOW).unwrap().0;
    // Expiry in year 9999.
    let forever = forged(&e, now, 253_402_300_799_000);
    assert_eq!(
        error_code(e.verify_session(&forever, None)),
        ErrorCode::SessionInvalid
    );
    // Lifetime just over the configured 600 s.
    let long = forged(&e, now, now + 601_000);
    assert_eq!(
        error_code(e.verify_session(&long, None)),
        ErrorCode::SessionInvalid
    );
    // Issued a day from now (not before: now).
    let claims = SessionClaims {
        session_id: "01JZZZZZZZZZZZZZZZZZZZZZZY".into(),
        agent: "ci-bot".into(),
        task: None,
        audience: "tools".into(),
        issuer: None,
        issued_at: now + 86_400_000,
        not_before: now,
        expires_at: now + 300_000,
    };
    let future = session::issue(&e.session_keys(), &claims).unwrap();
    assert_eq!(
        error_code(e.verify_session(&future, None)),
        ErrorCode::SessionInvalid
    );
    // The public `verify` bounds claims too (default cap).
    assert_eq!(
        session::verify(&e.session_keys(), &forever, now, "tools")
            .unwrap_err()
            .code(),
        ErrorCode::SessionInvalid
    );
}

#[test]
fn a_session_is_refused_for_a_task_outside_its_window_and_never_outlives_it() {
    let c = clock();
    let e = engine_with(SESSIONS, INVENTORY, false, c.clone());
    // T-1 closed at 09:30.
    assert_eq!(
        error_code(e.issue_session("ci-bot", Some("T-1"), None, None)),
        ErrorCode::LifecycleInvalid
    );
    // T-2 closes at 18:00: a session at 17:55 ends with it.
    c.set(
        agentauthz::FixedClock::at("2026-11-29T17:55:00Z")
            .unwrap()
            .0,
    );
    let (_, claims) = e.issue_session("ci-bot", Some("T-2"), None, None).unwrap();
    assert_eq!(
        claims.expires_at,
        agentauthz::FixedClock::at("2026-11-29T18:00:00Z")
            .unwrap()
            .0
    );
    // Not yet open either.
    c.set(
        agentauthz::FixedClock::at("2026-11-29T08:00:00Z")
            .unwrap()
            .0,
    );
    assert_eq!(
        error_code(e.issue_session("ci-bot", Some("T-2"), None, None)),
        ErrorCode::LifecycleInvalid
    );
}

// ---------------------------------------------------------------- every request form

const ALL_OFF: &str = "[baseline]\nowner-required = false\nagent-active = false\ntask-window = false\nno-human-credentials = false\ncredential-expired = false\non-behalf-of-active = false\n";

fn entity(ty: &str, id: &str) -> Value {
    json!({"__entity": {"type": ty, "id": id}})
}

#[test]
fn the_cedar_form_gets_the_unknown_entity_denials_whatever_the_switches() {
    for config in ["", ALL_OFF] {
        let e = engine_with(config, INVENTORY, false, clock());
        denied(
            &e,
            &cedar("ci-bot", json!({"on_behalf_of": entity("User", "mallory")})),
            &["baseline/unknown-on-behalf-of"],
        );
        denied(
            &e,
            &cedar("ghost-bot", json!({})),
            &["baseline/unknown-agent"],
        );
        denied(
            &e,
            &cedar("ci-bot", json!({"task": entity("Task", "T-404")})),
            &["baseline/unknown-task"],
        );
        denied(
            &e,
            &cedar(
                "ci-bot",
                json!({"credential": entity("Credential", "stolen")}),
            ),
            &["baseline/unknown-credential"],
        );
        // Any other entity-typed field, however deep.
        denied(
            &e,
            &cedar("ci-bot", json!({"ticket": entity("Ticket", "TK-404")})),
            &["baseline/unknown-entity"],
        );
        denied(
            &e,
            &cedar(
                "ci-bot",
                json!({"input": {"refs": [entity("Ticket", "TK-1"), entity("Ticket", "TK-404")]}}),
            ),
            &["baseline/unknown-entity"],
        );
    }
}

#[test]
fn the_agent_form_denies_unknown_entities_in_its_own_context_fields() {
    let e = engine_with(ALL_OFF, INVENTORY, false, clock());
    let mut r = read("ci-bot");
    r.context
        .insert("ticket".into(), json!({"type": "Ticket", "id": "TK-404"}));
    denied(&e, &Request::Agent(r.clone()), &["baseline/unknown-entity"]);
    r.context.clear();
    r.context
        .insert("reviewer".into(), entity("User", "mallory"));
    denied(&e, &Request::Agent(r), &["baseline/unknown-entity"]);
}

#[test]
fn the_cedar_form_denies_a_task_revoked_by_offboarding() {
    let inventory = INVENTORY
        .replace(
            "agents:\n",
            "agents:\n  - {id: temp-bot, owner: alice}\n",
        )
        .replace(
            "tasks:\n",
            "tasks:\n  - {id: T-temp, agent: temp-bot, not_before: \"2026-11-29T09:00:00Z\", not_after: \"2026-11-29T18:00:00Z\"}\n",
        );
    let e = engine_with(ALL_OFF, &inventory, false, clock());
    e.offboard("temp-bot", "alice").unwrap();
    let r = cedar("ci-bot", json!({"task": entity("Task", "T-temp")}));
    denied(&e, &r, &["baseline/task-revoked"]);
}

// ---------------------------------------------------------------- guardrails

#[test]
fn an_inactive_on_behalf_of_user_is_denied_directly_or_through_the_task() {
    let e = engine();
    let mut r = read("ci-bot");
    r.on_behalf_of = Some("bob".into());
    denied(&e, &Request::Agent(r), &["baseline/on-behalf-of-active"]);
    let mut r = read("ci-bot");
    r.task = Some("T-bob".into());
    denied(&e, &Request::Agent(r), &["baseline/on-behalf-of-active"]);
    denied(
        &e,
        &cedar("ci-bot", json!({"on_behalf_of": entity("User", "bob")})),
        &["baseline/on-behalf-of-active"],
    );
}

#[test]
fn a_credential_used_before_it_was_issued_is_denied() {
    let e = engine();
    let mut r = read("ci-bot");
    r.credential = Some("future-key".into());
    denied(&e, &Request::Agent(r), &["baseline/credential-expired"]);
}

fn inventory_error(inventory: &str) -> ErrorCode {
    Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(inventory)
        .build()
        .unwrap_err()
        .code()
}

#[test]
fn credential_kind_and_agent_status_are_checked_in_every_inventory_form() {
    // A Cedar entities array.
    let array = json!([
        {"uid": {"type": "User", "id": "alice"}, "attrs": {"active": true}, "parents": []},
        {"uid": {"type": "Agent", "id": "ci-bot"}, "attrs": {"owner": {"__entity": {"type": "User", "id": "alice"}}, "kind": "ci", "status": "active"}, "parents": []},
        {"uid": {"type": "Credential", "id": "k"}, "attrs": {"agent": {"__entity": {"type": "Agent", "id": "ci-bot"}}, "kind": "Human_Token", "revoked": false}, "parents": []}
    ]);
    assert_eq!(
        inventory_error(&array.to_string()),
        ErrorCode::InventoryInvalid
    );
    let array = array
        .to_string()
        .replace("Human_Token", "human_token")
        .replace("\"status\":\"active\"", "\"status\":\"Active\"");
    assert_eq!(inventory_error(&array), ErrorCode::InventoryInvalid);
    // `resources:` entries of the base types.
    let resources = "users: [{id: alice}]\nagents: [{id: ci-bot, owner: alice}]\nresources:\n  - {type: Credential, id: k, attrs: {agent: {__entity: {type: Agent, id: ci-bot}}, kind: Human_Token, revoked: false}}\n";
    assert_eq!(inventory_error(resources), ErrorCode::InventoryInvalid);
    let resources = "users: [{id: alice}]\nresources:\n  - {type: Agent, id: x-bot, attrs: {kind: ci, status: ACTIVE, owner: {__entity: {type: User, id: alice}}}}\n";
    assert_eq!(inventory_error(resources), ErrorCode::InventoryInvalid);
}

// ---------------------------------------------------------------- lifecycle

#[test]
fn no_lifecycle_change_may_name_an_offboarded_agent() {
    let e = engine();
    e.offboard("ci-bot", "alice").unwrap();
    let task = TaskSpec {
        id: "T-new".into(),
        agent: "ci-bot".into(),
        not_before: "2026-11-29T09:00:00Z".into(),
        not_after: "2026-11-29T18:00:00Z".into(),
        purpose: None,
        on_behalf_of: None,
    };
    let grant = GrantRequest {
        agent: "ci-bot".into(),
        actions: vec!["read".into()],
        resource: EntityRef::new("Doc", "readme"),
        ttl_seconds: Some(60),
        until: None,
        starts: None,
        task: None,
        reason: "r".into(),
        granted_by: "alice".into(),
    };
    let codes = [
        error_code(e.add_task(task, "alice")),
        error_code(e.grant(grant)),
        error_code(e.reactivate("ci-bot", "alice")),
        error_code(e.suspend("ci-bot", "alice")),
        error_code(e.rotate_credential("live-key", "2027-12-01T00:00:00Z", "alice")),
        error_code(e.transfer_owner("ci-bot", "alice", "alice")),
        error_code(e.offboard("ci-bot", "alice")),
        // Declared offboarded in the inventory: the same.
        error_code(e.rotate_credential("old-key", "2027-12-01T00:00:00Z", "alice")),
        error_code(e.transfer_owner("old-bot", "alice", "alice")),
    ];
    assert!(
        codes.iter().all(|c| *c == ErrorCode::LifecycleInvalid),
        "{codes:?}"
    );
}

#[test]
fn offboarding_and_suspension_hold_with_agent_active_switched_off() {
    let e = engine_with(ALL_OFF, INVENTORY, false, clock());
    // Declared offboarded.
    denied(
        &e,
        &Request::Agent(read("old-bot")),
        &["baseline/agent-offboarded"],
    );
    denied(
        &e,
        &cedar("old-bot", json!({})),
        &["baseline/agent-offboarded"],
    );
    // Suspended and offboarded at run time.
    e.suspend("ci-bot", "alice").unwrap();
    denied(
        &e,
        &Request::Agent(read("ci-bot")),
        &["baseline/agent-suspended"],
    );
    denied(
        &e,
        &cedar("ci-bot", json!({})),
        &["baseline/agent-suspended"],
    );
    e.offboard("ci-bot", "alice").unwrap();
    denied(
        &e,
        &Request::Agent(read("ci-bot")),
        &["baseline/agent-offboarded"],
    );
    // The journal-less reload replays the changes: still denied.
    e.reload(e.bundle()).unwrap();
    denied(
        &e,
        &Request::Agent(read("ci-bot")),
        &["baseline/agent-offboarded"],
    );
}
