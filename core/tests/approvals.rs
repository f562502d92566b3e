//! Human approval as a policy outcome: `@approval` forbids decide
//! `needs_approval`, an approval is bound to the request's digest, checked
//! by Cedar (who may approve), consumed on use, expires by the engine clock,
//! survives restarts through the journal, and is recorded. Hostile cases
//! first: each tries to turn a needs_approval or a deny into an allow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{
    AgentRequest, ApprovalTarget, Bundle, Change, DecisionLog, Effect, Engine, EntityRef,
    ErrorCode, ManualClock, OnError, Request,
};
use serde_json::json;
use std::sync::{Arc, Mutex};

const SCHEMA: &str = r#"
entity Order;
action "billing:refund" appliesTo {
  principal: [Agent],
  resource: [Order],
  context: { input: { amount: Long, note?: String } },
};
"#;

const POLICIES: &str = r#"
@id("refund-permit")
permit (principal in AgentGroup::"payers", action == Action::"billing:refund", resource);

@id("refund-limit")
@approval("owner, team:finance")
forbid (principal, action == Action::"billing:refund", resource)
when { context.input.amount > 100 };

@id("refund-hard-cap")
forbid (principal, action == Action::"billing:refund", resource)
when { context.input.amount > 10000 && context.input.amount < 1000000 };

// Errors (overflow) for amounts above 922337: fails closed, never approvable.
@id("refund-overflow")
@approval("team:finance, owner")
forbid (principal, action == Action::"billing:refund", resource)
when { context.input.amount > 100 && context.input.amount * 10000000000000 > 0 };
"#;

const INVENTORY: &str = r#"
teams:
  - {id: finance}
users:
  - {id: alice}
  - {id: bob}
  - {id: fin, teams: [finance]}
  - {id: fin-off, teams: [finance], active: false}
  - {id: mallory}
agent_groups:
  - {id: payers}
agents:
  - {id: bot, owner: alice, groups: [payers]}
  - {id: bot-b, owner: bob, groups: [payers]}
  - {id: loner, owner: alice}
resources:
  - {type: Order, id: o1}
  - {type: Order, id: o2}
"#;

const T0: &str = "2026-11-29T10:00:00Z";

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(T0).unwrap())
}

fn engine(clock: Arc<ManualClock>) -> Engine {
    Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock)
        .build()
        .unwrap()
}

fn refund(agent: &str, order: &str, amount: i64) -> AgentRequest {
    let context = json!({"input": {"amount": amount}});
    AgentRequest {
        agent: agent.into(),
        action: "billing:refund".into(),
        resource: EntityRef::new("Order", order),
        task: None,
        on_behalf_of: None,
        credential: None,
        context: context.as_object().unwrap().clone(),
        now: None,
    }
}

fn check(e: &Engine, r: &AgentRequest) -> agentauthz::Decision {
    e.check(&Request::Agent(r.clone())).unwrap()
}

fn by_id(d: &agentauthz::Decision) -> ApprovalTarget {
    ApprovalTarget::DecisionId(d.decision_id.clone())
}

#[test]
fn only_approval_forbids_over_an_allowing_permit_need_approval() {
    let e = engine(clock());
    let small = check(&e, &refund("bot", "o1", 50));
    assert_eq!(small.decision, Effect::Allow);
    assert!(!small.requires_approval);

    let big = check(&e, &refund("bot", "o1", 500));
    assert_eq!(big.decision, Effect::NeedsApproval);
    assert!(!big.allowed());
    assert!(big.requires_approval());
    assert_eq!(big.reasons, vec!["refund-limit", "refund-overflow"]);
    assert_eq!(big.approvers, vec!["owner", "team:finance"]);
    let digest = big.request_digest.clone().unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(Engine::request_digest(&refund("bot", "o1", 500)), digest);
    let wire = serde_json::to_value(&big).unwrap();
    assert_eq!(wire["decision"], "needs_approval");
    assert_eq!(wire["requires_approval"], true);

    // Another satisfied forbid: a plain deny, whatever the approval forbids say.
    let capped = check(&e, &refund("bot", "o1", 20000));
    assert_eq!(capped.decision, Effect::Deny);
    assert!(!capped.requires_approval && capped.request_digest.is_none());
    assert!(capped.reasons.contains(&"refund-hard-cap".to_string()));

    // No permit: nothing for a human to lift.
    let loner = check(&e, &refund("loner", "o1", 500));
    assert_eq!(loner.decision, Effect::Deny);
    assert!(!loner.requires_approval);

    // An erroring approval forbid fails closed: a deny, not an approvable one.
    let overflow = check(&e, &refund("bot", "o1", 1_000_000));
    assert_eq!(overflow.decision, Effect::Deny);
    assert!(overflow.fail_closed());
    assert!(!overflow.requires_approval);
    assert!(e
        .approve(by_id(&overflow), "alice", 1, None)
        .is_err_and(|x| x.code() == ErrorCode::ApprovalInvalid));

    // Without the base guards' standing (unknown agent): plain deny.
    let ghost = check(&e, &refund("ghost", "o1", 500));
    assert_eq!(ghost.decision, Effect::Deny);
}

#[test]
fn an_approval_covers_exactly_one_call_of_one_agent_once() {
    let e = engine(clock());
    let r = refund("bot", "o1", 500);
    let d = check(&e, &r);
    let approval = e.approve(by_id(&d), "alice", 1, None).unwrap();
    assert_eq!(approval.agent, "bot");
    assert_eq!(
        approval.decision_id.as_deref(),
        Some(d.decision_id.as_str())
    );

    // Other arguments, another resource, another agent: not approved.
    for other in [
        refund("bot", "o1", 501),
        refund("bot", "o2", 500),
        refund("bot-b", "o1", 500),
    ] {
        let x = check(&e, &other);
        assert_eq!(x.decision, Effect::NeedsApproval, "{other:?}");
    }
    let mut noted = r.clone();
    noted.context = json!({"input": {"amount": 500, "note": "x"}})
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(check(&e, &noted).decision, Effect::NeedsApproval);

    // The call itself: allowed once, with the approval as a reason.
    let ok = check(&e, &r);
    assert_eq!(ok.decision, Effect::Allow, "{ok:?}");
    assert_eq!(
        ok.reasons,
        vec![format!("approval/{}", approval.id), "refund-permit".into()]
    );
    // Replayed: consumed.
    assert_eq!(check(&e, &r).decision, Effect::NeedsApproval);
    assert!(e.approvals_in_force(None).is_empty());
}

/// `changes_made` moves with each change the engine makes, including the
/// approval a check uses up, and with nothing else: a host that persists the
/// engine's state (the WASM package) saves it exactly when it moved.
#[test]
fn changes_made_counts_an_approval_used_up_by_a_check_and_nothing_else() {
    let e = engine(clock());
    let r = refund("bot", "o1", 500);
    assert_eq!(e.changes_made(), 0);
    let d = check(&e, &r);
    assert_eq!(e.changes_made(), 0, "a waiting request changes no state");
    e.approve(by_id(&d), "alice", 1, None).unwrap();
    assert_eq!(e.changes_made(), 1);
    // A refused approval and checks that use nothing leave it alone.
    assert!(e.approve(by_id(&d), "mallory", 1, None).is_err());
    check(&e, &refund("bot", "o1", 501));
    assert_eq!(e.changes_made(), 1);
    assert_eq!(check(&e, &r).decision, Effect::Allow);
    assert_eq!(e.changes_made(), 2, "the check used up the approval");
    assert_eq!(check(&e, &r).decision, Effect::NeedsApproval);
    assert_eq!(e.changes_made(), 2);
}

#[test]
fn who_may_approve_is_a_cedar_check() {
    let e = engine(clock());
    let d = check(&e, &refund("bot", "o1", 500));
    for (user, code) in [
        ("mallory", ErrorCode::ApprovalRefused), // not an approver
        ("bob", ErrorCode::ApprovalRefused),     // owner of another agent
        ("fin-off", ErrorCode::ApprovalRefused), // in the team, inactive
        ("ghost", ErrorCode::ApprovalRefused),   // not a user at all
        ("", ErrorCode::ApprovalInvalid),
    ] {
        let err = e.approve(by_id(&d), user, 1, None).unwrap_err();
        assert_eq!(err.code(), code, "{user}: {err}");
    }
    // Still waiting after the refusals; a finance member may approve.
    assert_eq!(e.approvals(Some("bot")).len(), 1);
    e.approve(by_id(&d), "fin", 1, None).unwrap();
    assert!(e.approvals(None).is_empty());
    assert!(check(&e, &refund("bot", "o1", 500)).allowed());

    // Held back by two approval policies: the approver must be one for each.
    // (An empty @approval means the owner.)
    let owner_only = format!(
        "{POLICIES}\n@id(\"big\")\n@approval\nforbid (principal, action == Action::\"billing:refund\", resource) when {{ context.input.amount > 1000 }};\n"
    );
    let e = Engine::builder()
        .schema(SCHEMA)
        .policies(&owner_only)
        .inventory(INVENTORY)
        .clock(clock())
        .build()
        .unwrap();
    let d = check(&e, &refund("bot", "o1", 5000));
    assert_eq!(d.approvers, vec!["owner", "team:finance"]);
    let err = e.approve(by_id(&d), "fin", 1, None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ApprovalRefused);
    assert!(err.message().contains("`big`"), "{err}");
    e.approve(by_id(&d), "alice", 1, None).unwrap();
}

#[test]
fn an_owner_who_is_no_longer_active_or_no_longer_owner_may_not_approve() {
    let e = engine(clock());
    let d = check(&e, &refund("bot", "o1", 500));
    // The owner changes: the former owner is refused.
    e.transfer_owner("bot", "bob", "admin").unwrap();
    let err = e.approve(by_id(&d), "alice", 1, None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ApprovalRefused);
    e.transfer_owner("bot", "alice", "admin").unwrap();
    // The inventory marks the owner inactive: refused too (and the agent's
    // requests are denied outright by baseline/owner-required).
    let inactive = INVENTORY.replace("- {id: alice}", "- {id: alice, active: false}");
    e.reload(Bundle::from_strings(SCHEMA, POLICIES, Some(&inactive)))
        .unwrap();
    let err = e.approve(by_id(&d), "alice", 1, None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ApprovalRefused);
    let denied = check(&e, &refund("bot", "o1", 500));
    assert_eq!(denied.decision, Effect::Deny);
}

#[test]
fn approving_needs_a_waiting_request_or_one_that_needs_approval() {
    let e = engine(clock());
    let allowed = check(&e, &refund("bot", "o1", 50));
    for target in [
        ApprovalTarget::DecisionId("01NOTAREALID".into()),
        by_id(&allowed),
        ApprovalTarget::Request(Box::new(refund("bot", "o1", 50))),
        ApprovalTarget::Request(Box::new(refund("bot", "o1", 20000))),
        ApprovalTarget::Request(Box::new(refund("loner", "o1", 500))),
    ] {
        let err = e.approve(target.clone(), "alice", 1, None).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ApprovalInvalid, "{target:?}: {err}");
    }
    for (uses, ttl) in [(0, None), (1001, None), (1, Some(0))] {
        let err = e
            .approve(
                ApprovalTarget::Request(Box::new(refund("bot", "o1", 500))),
                "alice",
                uses,
                ttl,
            )
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::ApprovalInvalid);
    }
    // Approving ahead of the call, by the request itself: no decision id needed.
    let a = e
        .approve(
            ApprovalTarget::Request(Box::new(refund("bot", "o1", 500))),
            "alice",
            2,
            None,
        )
        .unwrap();
    assert_eq!(a.decision_id, None);
    assert!(check(&e, &refund("bot", "o1", 500)).allowed());
    assert!(check(&e, &refund("bot", "o1", 500)).allowed());
    assert!(!check(&e, &refund("bot", "o1", 500)).allowed());
    // An approval is never applied as a raw change.
    let raw = Change::Approve(a);
    assert_eq!(
        e.apply(raw, "alice").unwrap_err().code(),
        ErrorCode::ApprovalInvalid
    );
    let consume = Change::ConsumeApproval {
        approval: "x".into(),
    };
    assert_eq!(
        e.apply(consume, "alice").unwrap_err().code(),
        ErrorCode::ApprovalInvalid
    );
}

#[test]
fn an_approval_expires_by_the_engine_clock_and_the_expiry_is_recorded() {
    let clock = clock();
    let (log, queue) = DecisionLog::queue();
    let e = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock.clone())
        .decision_log(log)
        .build()
        .unwrap();
    let r = refund("bot", "o1", 500);
    let d = check(&e, &r);
    e.approve(by_id(&d), "alice", 1, Some(60)).unwrap();
    clock.advance(60_000);
    assert_eq!(check(&e, &r).decision, Effect::NeedsApproval);
    assert_eq!(check(&e, &r).decision, Effect::NeedsApproval);
    let records = queue.take();
    let actions: Vec<&str> = records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "billing:refund",
            "agentauthz:approve",
            "agentauthz:approval_expired",
            "billing:refund",
            "billing:refund"
        ]
    );
    assert_eq!(
        records[0].decision,
        agentauthz::audit::RecordDecision::NeedsApproval
    );
    assert_eq!(records[1].principal, EntityRef::new("User", "alice"));
    // A caller's own time cannot bring it back.
    let mut early = r.clone();
    early.now = Some(T0.into());
    assert!(e.check(&Request::Agent(early)).is_err());
}

#[test]
fn the_decision_log_records_request_approval_use_rejection_and_refusal() {
    let (log, queue) = DecisionLog::queue();
    let e = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock())
        .decision_log(log)
        .build()
        .unwrap();
    let r = refund("bot", "o1", 500);
    let d = check(&e, &r);
    assert!(e.approve(by_id(&d), "mallory", 1, None).is_err());
    let a = e.approve(by_id(&d), "alice", 1, None).unwrap();
    assert!(check(&e, &r).allowed());
    let d2 = check(&e, &refund("bot", "o2", 700));
    e.reject(by_id(&d2), "fin").unwrap();
    assert!(e.approvals(None).is_empty());
    assert_eq!(
        e.reject(by_id(&d2), "fin").unwrap_err().code(),
        ErrorCode::ApprovalInvalid
    );
    let records = queue.take();
    let got: Vec<(String, String, Vec<String>)> = records
        .iter()
        .map(|r| {
            (
                r.action.clone(),
                r.decision.as_str().to_string(),
                r.reasons.clone(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        vec![
            (
                s("billing:refund"),
                s("needs_approval"),
                vec![s("refund-limit"), s("refund-overflow")]
            ),
            (
                s("agentauthz:approve"),
                s("deny"),
                vec![s("approval/refused")]
            ),
            (
                s("agentauthz:approve"),
                s("allow"),
                vec![s("lifecycle/approve")]
            ),
            (
                s("agentauthz:consume_approval"),
                s("allow"),
                vec![s("lifecycle/consume_approval")]
            ),
            (
                s("billing:refund"),
                s("allow"),
                vec![format!("approval/{}", a.id), s("refund-permit")]
            ),
            (
                s("billing:refund"),
                s("needs_approval"),
                vec![s("refund-limit"), s("refund-overflow")]
            ),
            (
                s("agentauthz:reject"),
                s("deny"),
                vec![s("approval/rejected")]
            ),
        ]
    );
    assert_eq!(
        records[2].context["request_digest"],
        d.request_digest.clone().unwrap()
    );
    assert_eq!(records[6].context["by"], "fin");
}

#[test]
fn concurrent_checks_take_exactly_the_uses_an_approval_has() {
    for uses in [1u32, 3] {
        let e = Arc::new(engine(clock()));
        let r = refund("bot", "o1", 500);
        e.approve(
            ApprovalTarget::Request(Box::new(r.clone())),
            "alice",
            uses,
            None,
        )
        .unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let e = Arc::clone(&e);
                let r = r.clone();
                std::thread::spawn(move || (0..4).filter(|_| check(&e, &r).allowed()).count())
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, uses as usize);
    }
}

#[test]
fn approvals_survive_restart_and_reload_through_the_journal_and_stay_consumed() {
    let dir = std::env::temp_dir().join(format!("agentauthz-approvals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal.jsonl");
    let c = clock();
    let open = || {
        Engine::builder()
            .schema(SCHEMA)
            .policies(POLICIES)
            .inventory(INVENTORY)
            .clock(c.clone())
            .journal(&journal)
            .build()
            .unwrap()
    };
    let r1 = refund("bot", "o1", 500);
    let r2 = refund("bot", "o2", 600);
    {
        let e = open();
        e.approve(
            ApprovalTarget::Request(Box::new(r1.clone())),
            "alice",
            1,
            None,
        )
        .unwrap();
        e.approve(
            ApprovalTarget::Request(Box::new(r2.clone())),
            "alice",
            2,
            None,
        )
        .unwrap();
        assert!(check(&e, &r1).allowed());
        assert!(check(&e, &r2).allowed());
    }
    let e = open();
    // Consumed before the restart: still consumed.
    assert_eq!(check(&e, &r1).decision, Effect::NeedsApproval);
    e.reload(Bundle::from_strings(SCHEMA, POLICIES, Some(INVENTORY)))
        .unwrap();
    assert_eq!(e.approvals_in_force(Some("bot")).len(), 1);
    assert_eq!(e.approvals_in_force(Some("bot"))[0].uses, 1);
    assert!(check(&e, &r2).allowed());
    assert!(!check(&e, &r2).allowed());
    drop(e);
    // Expired after the restart, by the engine clock.
    let e = open();
    e.approve(
        ApprovalTarget::Request(Box::new(r1.clone())),
        "alice",
        1,
        Some(10),
    )
    .unwrap();
    drop(e);
    c.advance(11_000);
    let e = open();
    assert_eq!(check(&e, &r1).decision, Effect::NeedsApproval);
}

#[test]
fn offboarding_ends_an_agents_approvals() {
    let e = engine(clock());
    let r = refund("bot", "o1", 500);
    e.approve(
        ApprovalTarget::Request(Box::new(r.clone())),
        "alice",
        5,
        None,
    )
    .unwrap();
    e.suspend("bot", "admin").unwrap();
    assert_eq!(check(&e, &r).decision, Effect::Deny);
    e.reactivate("bot", "admin").unwrap();
    e.offboard("bot", "admin").unwrap();
    assert!(e.approvals_in_force(None).is_empty());
    assert_eq!(check(&e, &r).decision, Effect::Deny);
}

#[test]
fn the_callback_hears_of_each_new_waiting_request_once() {
    let e = engine(clock());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    e.on_approval_request(Some(Arc::new(move |r: &agentauthz::ApprovalRequest| {
        s.lock().unwrap().push(r.clone());
    })));
    let a = check(&e, &refund("bot", "o1", 500));
    check(&e, &refund("bot", "o1", 500));
    check(&e, &refund("bot-b", "o1", 500));
    check(&e, &refund("bot", "o1", 50));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].decision_id, a.decision_id);
    assert_eq!(seen[0].request.context["input"]["amount"], 500);
    assert_eq!(seen[0].approvers, vec!["owner", "team:finance"]);
    assert_eq!(e.approvals(Some("bot-b")).len(), 1);
    assert_eq!(e.approvals(None).len(), 2);
    // The second decision id of the same request approves it too.
    let again = check(&e, &refund("bot", "o1", 500));
    e.approve(by_id(&again), "alice", 1, None).unwrap();
    assert_eq!(e.approvals(None).len(), 1);
}

#[test]
fn the_digest_is_key_order_independent_and_duplicate_keys_are_refused() {
    let a = Request::from_json_str(
        r#"{"agent": "bot", "action": "billing:refund", "resource": {"type": "Order", "id": "o1"}, "context": {"input": {"note": "n", "amount": 500}}}"#,
    )
    .unwrap();
    let b = Request::from_json_str(
        r#"{"context": {"input": {"amount": 500, "note": "n"}}, "resource": {"id": "o1", "type": "Order"}, "action": "billing:refund", "agent": "bot"}"#,
    )
    .unwrap();
    let (Request::Agent(a), Request::Agent(b)) = (a, b) else {
        panic!()
    };
    assert_eq!(Engine::request_digest(&a), Engine::request_digest(&b));
    let dup = Request::from_json_str(
        r#"{"agent": "bot", "action": "billing:refund", "resource": {"type": "Order", "id": "o1"}, "context": {"input": {"amount": 1, "amount": 500}}}"#,
    );
    assert_eq!(dup.unwrap_err().code(), ErrorCode::RequestParse);
}

#[test]
fn cedar_exact_and_log_only_modes_have_no_approvals() {
    let exact = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .on_error(OnError::Skip)
        .build()
        .unwrap();
    let d = check(&exact, &refund("bot", "o1", 500));
    assert_eq!(d.decision, Effect::Deny);
    assert!(!d.requires_approval);
    let log_only = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .config("[engine]\nmode = \"log-only\"\n")
        .build()
        .unwrap();
    let d = check(&log_only, &refund("bot", "o1", 500));
    assert_eq!(d.decision, Effect::Allow);
    assert!(!d.requires_approval && d.request_digest.is_none());
}

#[test]
fn a_malformed_approval_annotation_refuses_the_bundle_with_its_location() {
    for (policy, needle) in [
        (
            "@id(\"x\")\n@approval(\"boss\")\nforbid (principal, action, resource);",
            "boss",
        ),
        (
            "@id(\"x\")\n@approval(\"team:\")\nforbid (principal, action, resource);",
            "team:",
        ),
        (
            "@id(\"x\")\n@approval(\"owner\")\npermit (principal, action, resource);",
            "forbid",
        ),
    ] {
        let policies = format!("{POLICIES}\n{policy}\n");
        let err = Engine::builder()
            .schema(SCHEMA)
            .policies(&policies)
            .inventory(INVENTORY)
            .build()
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::ApprovalAnnotationInvalid, "{err}");
        assert!(err.message().contains(needle), "{err}");
        let loc = err.location().expect("a location");
        assert_eq!(loc.file, "policies.cedar");
        assert_eq!(loc.line as usize, POLICIES.lines().count() + 2, "{err}");
    }
}

/// `cargo test --release -p agentauthz --test approvals -- --ignored --nocapture`:
/// the cost of approval support on a check, against the same bundle without
/// `@approval` (allow path), and of the needs_approval path itself.
#[test]
#[ignore = "a measurement, not a test"]
fn measure_the_cost_of_approval_lookups() {
    fn per_check(e: &Engine, r: &AgentRequest, n: u32) -> f64 {
        let req = Request::Agent(r.clone());
        for _ in 0..n / 10 {
            let _ = e.check(&req).unwrap();
        }
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(e.check(&req).unwrap());
            }
            best = best.min(t.elapsed().as_nanos() as f64 / f64::from(n));
        }
        best
    }
    let plain_policies: String = POLICIES
        .lines()
        .filter(|l| !l.starts_with("@approval"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!plain_policies.contains("@approval"));
    let plain = Engine::builder()
        .schema(SCHEMA)
        .policies(&plain_policies)
        .inventory(INVENTORY)
        .clock(clock())
        .build()
        .unwrap();
    let with = engine(clock());
    let small = refund("bot", "o1", 50);
    let n = 200_000;
    let a = per_check(&plain, &small, n);
    let b = per_check(&with, &small, n);
    let c = per_check(&plain, &refund("bot", "o1", 500), n);
    let d = per_check(&with, &refund("bot", "o1", 500), n);
    println!(
        "allow path: plain {a:.0} ns, with @approval forbids {b:.0} ns, difference {:.0} ns",
        b - a
    );
    println!(
        "forbidden path: plain deny {c:.0} ns, needs_approval {d:.0} ns, difference {:.0} ns",
        d - c
    );
}
