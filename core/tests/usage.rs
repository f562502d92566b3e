//! Rate and budget limits (`context.usage`) and the emergency stop
//! (`lockdown`): hostile callers first (forged counters, overflowing units,
//! unknown agents, concurrent checks, a lockdown racing checks), then window
//! edges on a manual clock, reloads, restarts and the journal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{Decision, Engine, ErrorCode, ManualClock, Request, MAX_UNITS_PER_RECORD};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const SCHEMA: &str = r#"
entity Mailbox;
action "email:send", "crm:read", "ping" appliesTo { principal: [Agent], resource: [Mailbox] };
"#;

const POLICIES: &str = r#"
@id("agents-may")
permit (principal is Agent, action, resource);

@id("email-hourly-cap")
forbid (principal, action == Action::"email:send", resource)
when { context.usage.action.calls_1h >= 3 };

@id("read-daily-cap")
forbid (principal, action == Action::"crm:read", resource)
when { context.usage.action.calls_1d >= 100 };

@id("token-budget")
forbid (principal, action, resource)
when { context.usage.units_1h.tokens > 1000 };

@id("no-secret-box")
forbid (principal, action, resource == Mailbox::"secret");
"#;

const INVENTORY: &str = r#"
users:
  - {id: alice}
agents:
  - {id: bot, owner: alice}
  - {id: bot2, owner: alice}
resources:
  - {type: Mailbox, id: inbox}
  - {type: Mailbox, id: secret}
"#;

/// A minute-bucket edge (2027-01-15T08:00:00Z).
const T0: i64 = 1_800_000_000_000 / 60_000 * 60_000;
const MIN: i64 = 60_000;

fn engine(clock: &Arc<ManualClock>) -> Engine {
    Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn req(agent: &str, action: &str) -> Request {
    Request::from_json_value(json!({
        "agent": agent, "action": action, "resource": {"type": "Mailbox", "id": "inbox"}
    }))
    .unwrap()
}

fn check(e: &Engine, agent: &str, action: &str) -> Decision {
    e.check(&req(agent, action)).unwrap()
}

fn reasons(d: &Decision) -> Vec<&str> {
    d.reasons.iter().map(String::as_str).collect()
}

// --- hostile input --------------------------------------------------------

#[test]
fn a_caller_cannot_supply_or_reset_its_counters() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    for _ in 0..3 {
        assert!(check(&e, "bot", "email:send").allowed());
    }
    // Agent form: `usage` in the context is refused, whatever it says.
    for forged in [
        json!({"calls_1h": 0}),
        json!(0),
        json!({"action": {"calls_1h": 0}}),
    ] {
        let r = Request::from_json_value(json!({
            "agent": "bot", "action": "email:send",
            "resource": {"type": "Mailbox", "id": "inbox"},
            "context": {"usage": forged}
        }))
        .unwrap();
        assert_eq!(e.check(&r).unwrap_err().code, ErrorCode::RequestInvalid);
    }
    // Cedar form: the same.
    let cedar = Request::from_json_value(json!({
        "principal": {"type": "Agent", "id": "bot"},
        "action": {"type": "Action", "id": "email:send"},
        "resource": {"type": "Mailbox", "id": "inbox"},
        "context": {"usage": {"calls_1m": 0, "calls_1h": 0, "calls_1d": 0,
            "action": {"calls_1m": 0, "calls_1h": 0, "calls_1d": 0},
            "units_1h": {"tokens": 0, "usd_cents": 0}, "units_1d": {"tokens": 0, "usd_cents": 0}}}
    }))
    .unwrap();
    assert_eq!(e.check(&cedar).unwrap_err().code, ErrorCode::RequestInvalid);
    // The Cedar form without it is counted and capped like the agent form.
    let cedar = Request::from_json_value(json!({
        "principal": {"type": "Agent", "id": "bot"},
        "action": {"type": "Action", "id": "email:send"},
        "resource": {"type": "Mailbox", "id": "inbox"},
        "context": {}
    }))
    .unwrap();
    let d = e.check(&cedar).unwrap();
    assert_eq!(reasons(&d), ["email-hourly-cap"]);
    // Still capped: the errors did not reset anything.
    assert_eq!(
        reasons(&check(&e, "bot", "email:send")),
        ["email-hourly-cap"]
    );
}

#[test]
fn every_spelling_of_an_action_counts_as_one() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    for action in ["email:send", r#"Action::"email:send""#, "email:send"] {
        assert!(check(&e, "bot", action).allowed(), "{action}");
    }
    assert!(!check(&e, "bot", r#"Action::"email:send""#).allowed());
}

#[test]
fn units_are_validated_and_never_overflow() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    let code = |r: agentauthz::Result<()>| r.unwrap_err().code;
    assert_eq!(
        code(e.record_usage("bot", 5, "gold")),
        ErrorCode::UsageInvalid
    );
    assert_eq!(code(e.record_usage("bot", 5, "")), ErrorCode::UsageInvalid);
    assert_eq!(
        code(e.record_usage("bot", MAX_UNITS_PER_RECORD + 1, "tokens")),
        ErrorCode::UsageInvalid
    );
    assert_eq!(
        code(e.record_usage("bot", u64::MAX, "tokens")),
        ErrorCode::UsageInvalid
    );
    assert_eq!(
        code(e.record_usage("ghost", 5, "tokens")),
        ErrorCode::UsageInvalid
    );
    for bad in [-1.0, 0.5, f64::NAN, f64::NEG_INFINITY, 1e300] {
        assert_eq!(
            agentauthz::units_of_f64(bad).unwrap_err().code,
            ErrorCode::UsageInvalid,
            "{bad}"
        );
    }
    // Nothing was recorded by the refused calls.
    assert_eq!(e.usage("bot", None).unwrap().units_1h.tokens, 0);
    // Many maximal records add up (no 32-bit wrap), and saturate rather than wrap.
    for _ in 0..5000 {
        e.record_usage("bot", MAX_UNITS_PER_RECORD, "tokens")
            .unwrap();
    }
    let u = e.usage("bot", None).unwrap();
    assert!(
        u.units_1h.tokens >= 1_000_000_000_000,
        "{}",
        u.units_1h.tokens
    );
    assert!(i64::try_from(u.units_1d.tokens).is_ok());
    assert_eq!(reasons(&check(&e, "bot", "ping")), ["token-budget"]);
}

#[test]
fn a_token_budget_caps_the_next_calls_and_recovers_after_the_hour() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    e.record_usage("bot", 600, "tokens").unwrap();
    assert!(check(&e, "bot", "ping").allowed());
    e.record_usage("bot", 401, "tokens").unwrap();
    e.record_usage("bot", 3, "usd_cents").unwrap();
    assert_eq!(reasons(&check(&e, "bot", "ping")), ["token-budget"]);
    // Another agent's budget is its own.
    assert!(check(&e, "bot2", "ping").allowed());
    let u = e.usage("bot", Some("ping")).unwrap();
    assert_eq!(
        (u.units_1h.tokens, u.units_1d.tokens, u.units_1h.usd_cents),
        (1001, 1001, 3)
    );
    clock.set(T0 + 61 * MIN);
    assert!(check(&e, "bot", "ping").allowed());
    assert_eq!(e.usage("bot", None).unwrap().units_1d.tokens, 1001);
}

#[test]
fn an_unknown_agent_gets_no_counters() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    for _ in 0..10 {
        let d = check(&e, "ghost", "email:send");
        assert_eq!(reasons(&d), ["baseline/unknown-agent"]);
    }
    assert_eq!(
        e.usage("ghost", None).unwrap_err().code,
        ErrorCode::UsageInvalid
    );
    assert_eq!(
        e.usage("bot", Some("nope")).unwrap_err().code,
        ErrorCode::UsageInvalid
    );
    // An unknown action denies without counting against the agent.
    assert!(!check(&e, "bot", "nope").allowed());
    assert_eq!(e.usage("bot", None).unwrap().calls_1h, 0);
}

#[test]
fn only_allowed_calls_count() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    let secret = Request::from_json_value(json!({
        "agent": "bot", "action": "email:send", "resource": {"type": "Mailbox", "id": "secret"}
    }))
    .unwrap();
    for _ in 0..5 {
        assert_eq!(reasons(&e.check(&secret).unwrap()), ["no-secret-box"]);
    }
    let u = e.usage("bot", Some("email:send")).unwrap();
    assert_eq!((u.calls_1m, u.action.calls_1h), (0, 0));
    // check_batch counts each allowed call.
    let batch: Vec<Request> = (0..4).map(|_| req("bot", "email:send")).collect();
    let allowed: Vec<bool> = e
        .check_batch(&batch)
        .into_iter()
        .map(|d| d.unwrap().allowed())
        .collect();
    assert_eq!(allowed, [true, true, true, false]);
    let u = e.usage("bot", Some("email:send")).unwrap();
    assert_eq!(
        (u.calls_1m, u.calls_1h, u.calls_1d, u.action.calls_1h),
        (3, 3, 3, 3)
    );
}

#[test]
fn summing_only_the_windows_policies_read_decides_as_summing_them_all() {
    // The engine sums (and puts into `context.usage`) only the windows the
    // policies name, and leaves out a policy whose leading usage comparison
    // the counts make false. A policy using the whole record makes it sum
    // them all, and `true && …` makes no comparison leading, so Cedar
    // evaluates every cap: every decision must be the same, through caps,
    // budgets and windows sliding, in both request forms.
    let clock = Arc::new(ManualClock::new(T0));
    let some = engine(&clock);
    let unfiltered = POLICIES.replace("when { context.usage", "when { true && context.usage");
    assert_eq!(unfiltered.matches("true && context.usage").count(), 3);
    let all = Engine::builder()
        .schema(SCHEMA)
        .policies(format!(
            "{unfiltered}\n@id(\"whole\") forbid (principal, action, resource) unless {{ context.usage == context.usage }};"
        ))
        .inventory(INVENTORY)
        .clock(clock.clone())
        .build()
        .unwrap();
    let cedar = |agent: &str, action: &str| {
        Request::from_json_value(json!({
            "principal": {"type": "Agent", "id": agent},
            "action": {"type": "Action", "id": action},
            "resource": {"type": "Mailbox", "id": "inbox"}
        }))
        .unwrap()
    };
    let actions = ["email:send", "crm:read", "ping"];
    let mut seen = std::collections::BTreeSet::new();
    for step in 0..400usize {
        let agent = if step % 7 == 0 { "bot2" } else { "bot" };
        let action = actions[step % 3];
        if step % 11 == 0 {
            for e in [&some, &all] {
                e.record_usage(agent, 97, "tokens").unwrap();
            }
        }
        if step % 50 == 49 {
            clock.set(T0 + (step as i64 / 50) * 23 * MIN);
        }
        let request = if step % 2 == 0 {
            req(agent, action)
        } else {
            cedar(agent, action)
        };
        let (a, b) = (some.check(&request).unwrap(), all.check(&request).unwrap());
        assert_eq!(
            (a.allowed(), reasons(&a)),
            (b.allowed(), reasons(&b)),
            "step {step}"
        );
        seen.insert((step % 2, a.reasons.join(",")));
    }
    // Each cap bit in each form, and calls were allowed between.
    for form in [0, 1] {
        for reason in ["agents-may", "email-hourly-cap", "token-budget"] {
            assert!(seen.contains(&(form, reason.to_string())), "{seen:?}");
        }
    }
}

// --- concurrency ----------------------------------------------------------

#[test]
fn concurrent_checks_lose_no_counts_and_a_cap_holds_exactly() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = Arc::new(engine(&clock));
    let allowed = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let e = Arc::clone(&e);
            let allowed = Arc::clone(&allowed);
            std::thread::spawn(move || {
                for _ in 0..250 {
                    if check(&e, "bot", "crm:read").allowed() {
                        allowed.fetch_add(1, Ordering::Relaxed);
                    }
                    assert!(check(&e, "bot2", "ping").allowed());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // 2,000 racing reads against a cap of 100: exactly 100 went ahead.
    assert_eq!(allowed.load(Ordering::Relaxed), 100);
    assert_eq!(
        e.usage("bot", Some("crm:read")).unwrap().action.calls_1d,
        100
    );
    // 2,000 uncapped pings: every one counted.
    let u = e.usage("bot2", Some("ping")).unwrap();
    assert_eq!(
        (u.calls_1m, u.calls_1d, u.action.calls_1h),
        (2000, 2000, 2000)
    );
}

#[test]
fn concurrent_unit_records_add_up() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = Arc::new(engine(&clock));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let e = Arc::clone(&e);
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    e.record_usage("bot", 3, "usd_cents").unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(e.usage("bot", None).unwrap().units_1h.usd_cents, 12_000);
}

// --- windows and time -----------------------------------------------------

#[test]
fn the_hour_window_edges_on_a_manual_clock() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    for _ in 0..3 {
        assert!(check(&e, "bot", "email:send").allowed());
    }
    assert!(!check(&e, "bot", "email:send").allowed());
    // Just under an hour later: still capped.
    clock.set(T0 + 60 * MIN - 1);
    assert!(!check(&e, "bot", "email:send").allowed());
    // The window covers at least the hour, at most one minute-bucket more.
    clock.set(T0 + 60 * MIN);
    assert!(!check(&e, "bot", "email:send").allowed());
    clock.set(T0 + 61 * MIN);
    assert!(check(&e, "bot", "email:send").allowed());
    let u = e.usage("bot", Some("email:send")).unwrap();
    assert_eq!(
        (u.action.calls_1h, u.action.calls_1d, u.action.calls_1m),
        (1, 4, 1)
    );
}

#[test]
fn the_minute_and_day_windows_slide() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    check(&e, "bot", "ping");
    clock.set(T0 + 30_000);
    check(&e, "bot", "ping");
    let u = e.usage("bot", None).unwrap();
    assert_eq!((u.calls_1m, u.calls_1h, u.calls_1d), (2, 2, 2));
    clock.set(T0 + 65_000);
    assert_eq!(e.usage("bot", None).unwrap().calls_1m, 1);
    clock.set(T0 + 100_000);
    assert_eq!(e.usage("bot", None).unwrap().calls_1m, 0);
    clock.set(T0 + 24 * 60 * MIN - 1);
    assert_eq!(e.usage("bot", None).unwrap().calls_1d, 2);
    clock.set(T0 + 24 * 60 * MIN + 31 * MIN);
    assert_eq!(e.usage("bot", None).unwrap().calls_1d, 0);
}

#[test]
fn a_clock_going_back_neither_resets_nor_forgets() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    for _ in 0..3 {
        assert!(check(&e, "bot", "email:send").allowed());
    }
    clock.set(T0 - 5 * 60 * MIN);
    assert_eq!(
        reasons(&check(&e, "bot", "email:send")),
        ["email-hourly-cap"]
    );
    // Forward again: the windows ran on the latest time seen.
    clock.set(T0 + 61 * MIN);
    assert!(check(&e, "bot", "email:send").allowed());
}

#[test]
fn a_reload_keeps_counters_and_a_restart_starts_from_zero() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    for _ in 0..3 {
        check(&e, "bot", "email:send");
    }
    e.reload(e.bundle()).unwrap();
    assert!(!check(&e, "bot", "email:send").allowed());
    // A reload whose inventory drops an agent drops its counters.
    let mut bundle = e.bundle();
    bundle.inventory = Some(agentauthz::Source::new(
        "inventory.yaml",
        INVENTORY.replace("  - {id: bot, owner: alice}\n", ""),
    ));
    e.reload(bundle).unwrap();
    e.reload({
        let mut b = e.bundle();
        b.inventory = Some(agentauthz::Source::new("inventory.yaml", INVENTORY));
        b
    })
    .unwrap();
    assert!(check(&e, "bot", "email:send").allowed());
    // Counters are in memory: a new engine (a restart) starts from zero.
    let restarted = engine(&clock);
    assert_eq!(restarted.usage("bot", None).unwrap().calls_1h, 0);
}

// --- lockdown -------------------------------------------------------------

#[test]
fn lockdown_denies_every_agent_request_form_until_lifted() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    assert!(e.lockdown_status().is_none());
    assert_eq!(
        e.lockdown("  ", "alice").unwrap_err().code,
        ErrorCode::LifecycleInvalid
    );
    assert_eq!(
        e.lockdown("x", "").unwrap_err().code,
        ErrorCode::LifecycleInvalid
    );
    assert_eq!(
        e.lift_lockdown("alice").unwrap_err().code,
        ErrorCode::LifecycleInvalid
    );
    e.lockdown("prompt injection in the wild", "alice").unwrap();
    let status = e.lockdown_status().unwrap();
    assert_eq!(status.reason, "prompt injection in the wild");
    assert_eq!(status.by, "alice");
    for agent in ["bot", "bot2"] {
        let d = check(&e, agent, "ping");
        assert_eq!(reasons(&d), ["baseline/lockdown"]);
    }
    // An unknown agent is denied for both reasons.
    assert_eq!(
        reasons(&check(&e, "ghost", "ping")),
        ["baseline/lockdown", "baseline/unknown-agent"]
    );
    let cedar = Request::from_json_value(json!({
        "principal": {"type": "Agent", "id": "bot"},
        "action": {"type": "Action", "id": "ping"},
        "resource": {"type": "Mailbox", "id": "inbox"},
        "context": {}
    }))
    .unwrap();
    assert_eq!(reasons(&e.check(&cedar).unwrap()), ["baseline/lockdown"]);
    // Bad input is still an error, not hidden behind the lockdown deny.
    let bad = Request::from_json_value(json!({
        "agent": "bot", "action": "ping", "resource": {"type": "Mailbox", "id": "inbox"},
        "context": {"undeclared": 1}
    }))
    .unwrap();
    assert!(e.check(&bad).is_err());
    // Denied calls do not count.
    assert_eq!(e.usage("bot", None).unwrap().calls_1h, 0);
    // Locking down again replaces the reason, keeps the start.
    clock.set(T0 + MIN);
    e.lockdown("still investigating", "bob").unwrap();
    let again = e.lockdown_status().unwrap();
    assert_eq!(
        (again.reason.as_str(), again.by.as_str()),
        ("still investigating", "bob")
    );
    assert_eq!(again.since, status.since);
    e.lift_lockdown("alice").unwrap();
    assert!(e.lockdown_status().is_none());
    assert!(check(&e, "bot", "ping").allowed());
    assert!(e.check(&cedar).unwrap().allowed());
}

#[test]
fn lockdown_is_journaled_and_survives_a_restart_and_a_reload() {
    let dir = std::env::temp_dir().join(format!("agentauthz-lockdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal.jsonl");
    let _ = std::fs::remove_file(&journal);
    let clock = Arc::new(ManualClock::new(T0));
    let open = || {
        Engine::builder()
            .schema(SCHEMA)
            .policies(POLICIES)
            .inventory(INVENTORY)
            .clock(clock.clone())
            .journal(&journal)
            .build()
            .unwrap()
    };
    {
        let e = open();
        e.lockdown("incident 42", "alice").unwrap();
        e.reload(e.bundle()).unwrap();
        assert_eq!(reasons(&check(&e, "bot", "ping")), ["baseline/lockdown"]);
    }
    let text = std::fs::read_to_string(&journal).unwrap();
    let line = text.lines().find(|l| l.contains("\"lockdown\"")).unwrap();
    let entry: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        (entry["op"].as_str(), entry["reason"].as_str()),
        (Some("lockdown"), Some("incident 42"))
    );
    {
        let e = open();
        assert_eq!(reasons(&check(&e, "bot", "ping")), ["baseline/lockdown"]);
        assert_eq!(e.lockdown_status().unwrap().by, "alice");
        e.lift_lockdown("alice").unwrap();
    }
    let e = open();
    assert!(check(&e, "bot", "ping").allowed());
    // The state (for another process) carries it too.
    e.lockdown("copy me", "alice").unwrap();
    let restored = Engine::restore(e.state().unwrap(), Some(clock.clone())).unwrap();
    assert_eq!(
        reasons(&check(&restored, "bot", "ping")),
        ["baseline/lockdown"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_suspended_agent_stays_suspended_across_a_lockdown() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    e.suspend("bot", "alice").unwrap();
    e.lockdown("stop", "alice").unwrap();
    e.lift_lockdown("alice").unwrap();
    assert!(!check(&e, "bot", "ping").allowed());
    assert!(check(&e, "bot2", "ping").allowed());
}

#[test]
fn a_lockdown_racing_checks_denies_every_check_that_starts_after_it() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = Arc::new(engine(&clock));
    let locked = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (e, locked, stop) = (Arc::clone(&e), Arc::clone(&locked), Arc::clone(&stop));
            std::thread::spawn(move || {
                let agent = if i % 2 == 0 { "bot" } else { "bot2" };
                let mut after = 0;
                while !stop.load(Ordering::Acquire) {
                    let was_locked = locked.load(Ordering::Acquire);
                    let d = check(&e, agent, "ping");
                    if was_locked {
                        assert_eq!(
                            reasons(&d),
                            ["baseline/lockdown"],
                            "a check after the lockdown"
                        );
                        after += 1;
                    }
                }
                after
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    e.lockdown("race", "alice").unwrap();
    locked.store(true, Ordering::Release);
    std::thread::sleep(std::time::Duration::from_millis(20));
    stop.store(true, Ordering::Release);
    let after: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(after > 0, "no check ran after the lockdown");
}

#[test]
fn lockdown_is_in_the_decision_log() {
    let clock = Arc::new(ManualClock::new(T0));
    let e = engine(&clock);
    let records = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let sink = Arc::clone(&records);
    e.set_decision_log(Some(agentauthz::DecisionLog::callback(move |r| {
        sink.lock().unwrap().push(serde_json::to_value(r).unwrap());
    })));
    e.lockdown("incident", "alice").unwrap();
    check(&e, "bot", "ping");
    e.lift_lockdown("alice").unwrap();
    e.flush_decision_log().unwrap();
    let records = records.lock().unwrap();
    let text = serde_json::to_string(&*records).unwrap();
    assert!(text.contains("lockdown"), "{text}");
    assert!(text.contains("baseline/lockdown"), "{text}");
    assert!(text.contains("lift_lockdown"), "{text}");
}
