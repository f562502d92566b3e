//! Run-time changes: just-in-time grants (windows, forbids, tasks), lifecycle
//! operations, the journal (durability, torn lines), concurrency, and the
//! decision-log record of each change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use agentauthz::{
    AgentRequest, Change, DecisionLog, Engine, EntityRef, ErrorCode, GrantRequest, ManualClock,
    Request, TaskSpec,
};
use common::{POLICIES, SCHEMA};
use std::sync::Arc;

const INVENTORY: &str = r#"
users:
  - {id: alice}
  - {id: carol}
agents:
  - {id: etl, owner: alice}
  - {id: orphan}
  - {id: other, owner: alice}
credentials:
  - {id: etl-key, agent: etl, kind: service_account_key, issued: "2026-01-01T00:00:00Z", expires: "2026-06-01T00:00:00Z"}
tasks:
  - {id: T1, agent: etl, not_before: "2026-11-29T00:00:00Z", not_after: "2026-11-30T00:00:00Z"}
  - {id: T-other, agent: other, not_before: "2026-11-29T00:00:00Z", not_after: "2026-11-30T00:00:00Z"}
resources:
  - {type: Bucket, id: public}
  - {type: Bucket, id: reports}
  - {type: Object, id: reports/q3.csv, parents: [{type: Bucket, id: reports}]}
  - {type: Object, id: public/readme, parents: [{type: Bucket, id: public}]}
"#;

const T0: &str = "2026-11-29T10:00:00Z";
const HOUR: i64 = 3_600_000;

fn at(rfc3339: &str) -> i64 {
    agentauthz::FixedClock::at(rfc3339).unwrap().0
}

fn engine_at(clock: Arc<ManualClock>) -> Engine {
    Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock)
        .build()
        .unwrap()
}

fn put(agent: &str, object: &str) -> AgentRequest {
    AgentRequest {
        agent: agent.into(),
        action: "s3:PutObject".into(),
        resource: EntityRef::new("Object", object),
        task: None,
        on_behalf_of: None,
        credential: None,
        context: Default::default(),
        now: None,
    }
}

fn decide(engine: &Engine, r: &AgentRequest) -> (bool, Vec<String>) {
    let d = engine.check(&Request::Agent(r.clone())).unwrap();
    (d.allowed(), d.reasons().to_vec())
}

fn grant_request(agent: &str, ttl: u64) -> GrantRequest {
    GrantRequest {
        agent: agent.into(),
        actions: vec!["s3:PutObject".into()],
        resource: EntityRef::new("Bucket", "reports"),
        ttl_seconds: Some(ttl),
        until: None,
        starts: None,
        task: None,
        reason: "quarterly export".into(),
        granted_by: "alice".into(),
    }
}

#[test]
fn a_grant_applies_inside_its_window_only_and_expires_by_itself() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock.clone());
    let r = put("etl", "reports/q3.csv");
    assert_eq!(decide(&engine, &r), (false, vec![]));

    let grant = engine.grant(grant_request("etl", 3600)).unwrap();
    assert_eq!(grant.starts, "2026-11-29T10:00:00.000Z");
    assert_eq!(grant.expires, "2026-11-29T11:00:00.000Z");
    let reason = format!("grant/{}", grant.id);

    // The engine clock moves; no call is made at expiry.
    for (offset, allowed) in [
        (-1_000, false),
        (0, true),
        (HOUR - 1_000, true),
        (HOUR, false),
        (HOUR + 1_000, false),
    ] {
        clock.set(at(T0) + offset);
        let expected = if allowed {
            vec![reason.clone()]
        } else {
            vec![]
        };
        assert_eq!(
            decide(&engine, &r),
            (allowed, expected),
            "offset {offset} ms"
        );
    }
    // The engine clock is what the window is checked against: a request's own
    // `now` is refused (this engine does not trust callers' time).
    let mut early = r.clone();
    early.now = Some(T0.into());
    let refused = engine.check(&Request::Agent(early)).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::RequestInvalid);
    clock.set(at("2026-11-29T11:00:00Z"));
    assert_eq!(decide(&engine, &r), (false, vec![]));
    clock.set(at(T0));

    // The grant covers the bucket and what is in it, not other buckets or actions.
    let mut other = r.clone();
    other.resource = EntityRef::new("Object", "public/readme");
    assert!(!decide(&engine, &other).0);
    let mut read = r.clone();
    read.action = "s3:GetObject".into();
    assert!(!decide(&engine, &read).0);
    assert!(!decide(&engine, &put("other", "reports/q3.csv")).0);

    assert_eq!(engine.grants(Some("etl")), vec![grant.clone()]);
    assert!(engine.grants(Some("other")).is_empty());
    clock.set(at(T0) + HOUR);
    assert!(
        engine.grants(None).is_empty(),
        "an expired grant is not listed"
    );
}

#[test]
fn a_forbid_wins_over_a_grant() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock);
    engine.grant(grant_request("etl", 600)).unwrap();
    let mut big = put("etl", "reports/q3.csv");
    big.context.insert("bytes".into(), 5000.into());
    assert_eq!(
        decide(&engine, &big),
        (false, vec!["no-big-uploads".into()])
    );
}

#[test]
fn a_task_scoped_grant_needs_its_task() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock);
    let mut req = grant_request("etl", 600);
    req.task = Some("T1".into());
    let g = engine.grant(req).unwrap();
    let mut r = put("etl", "reports/q3.csv");
    assert!(!decide(&engine, &r).0, "no task named");
    r.task = Some("T1".into());
    assert_eq!(decide(&engine, &r), (true, vec![format!("grant/{}", g.id)]));

    let mut wrong = grant_request("etl", 600);
    wrong.task = Some("T-other".into());
    assert_eq!(
        engine.grant(wrong).unwrap_err().code(),
        ErrorCode::GrantInvalid
    );
}

#[test]
fn revoke_ends_a_grant_and_unknown_grants_are_errors() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock);
    let g = engine.grant(grant_request("etl", 600)).unwrap();
    let r = put("etl", "reports/q3.csv");
    assert!(decide(&engine, &r).0);
    engine.revoke(&g.id, "alice").unwrap();
    assert!(!decide(&engine, &r).0);
    assert!(engine.grants(None).is_empty());
    let e = engine.revoke(&g.id, "alice").unwrap_err();
    assert_eq!(e.code(), ErrorCode::LifecycleInvalid);
}

#[test]
fn bad_grants_are_refused_with_grant_invalid() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock);
    let mut cases: Vec<(&str, GrantRequest)> = Vec::new();
    cases.push(("unknown agent", grant_request("ghost", 60)));
    let mut r = grant_request("etl", 60);
    r.actions = vec!["s3:DeleteBucket".into()];
    cases.push(("unknown action", r));
    let mut r = grant_request("etl", 60);
    r.actions.clear();
    cases.push(("no action", r));
    let mut r = grant_request("etl", 60);
    r.resource = EntityRef::new("Bucket", "nope");
    cases.push(("unknown resource", r));
    let mut r = grant_request("etl", 60);
    r.until = Some("2026-11-29T09:00:00Z".into());
    r.ttl_seconds = None;
    cases.push(("expired already", r));
    let mut r = grant_request("etl", 60);
    r.until = Some("2026-11-29T12:00:00Z".into());
    cases.push(("ttl and until", r));
    let mut r = grant_request("etl", 60);
    r.reason = " ".into();
    cases.push(("no reason", r));
    let mut r = grant_request("etl", 60);
    r.starts = Some("yesterday".into());
    cases.push(("bad start", r));
    for (what, req) in cases {
        let e = engine.grant(req).unwrap_err();
        assert_eq!(e.code(), ErrorCode::GrantInvalid, "{what}: {e}");
    }
    engine.suspend("etl", "alice").unwrap();
    let e = engine.grant(grant_request("etl", 60)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::GrantInvalid);
    assert!(engine.grants(None).is_empty());
}

#[test]
fn suspend_reactivate_offboard() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock);
    let g = engine.grant(grant_request("etl", 600)).unwrap();
    let mut r = put("etl", "reports/q3.csv");
    r.task = Some("T1".into());
    assert!(decide(&engine, &r).0);

    engine.suspend("etl", "alice").unwrap();
    assert_eq!(
        decide(&engine, &r),
        (false, vec!["baseline/agent-active".into()])
    );
    engine.reactivate("etl", "alice").unwrap();
    assert_eq!(decide(&engine, &r), (true, vec![format!("grant/{}", g.id)]));

    engine.offboard("etl", "alice").unwrap();
    assert!(engine.grants(Some("etl")).is_empty());
    let (allowed, reasons) = decide(&engine, &r);
    assert!(!allowed);
    assert!(
        reasons.contains(&"baseline/task-revoked".to_string()),
        "{reasons:?}"
    );
    let mut no_task = r.clone();
    no_task.task = None;
    assert_eq!(
        decide(&engine, &no_task),
        (false, vec!["baseline/agent-active".into()])
    );
    // Its credentials are marked revoked.
    let creds = engine.entities();
    let key = creds
        .iter()
        .find(|e| e.uid().id().unescaped() == "etl-key")
        .unwrap();
    assert_eq!(
        key.attr("revoked").unwrap().unwrap(),
        cedar_policy::EvalResult::Bool(true)
    );
    for e in [
        engine.reactivate("etl", "alice").unwrap_err(),
        engine.suspend("etl", "alice").unwrap_err(),
        engine.suspend("ghost", "alice").unwrap_err(),
        engine.offboard("ghost", "alice").unwrap_err(),
    ] {
        assert_eq!(e.code(), ErrorCode::LifecycleInvalid, "{e}");
    }
    assert_eq!(
        engine.suspend("other", " ").unwrap_err().code(),
        ErrorCode::LifecycleInvalid,
        "who made a change is required"
    );
}

#[test]
fn rotate_credential_and_transfer_owner() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock);
    let mut read = put("etl", "public/readme");
    read.action = "s3:GetObject".into();
    read.credential = Some("etl-key".into());
    assert_eq!(
        decide(&engine, &read),
        (false, vec!["baseline/credential-expired".into()])
    );
    engine
        .rotate_credential("etl-key", "2027-01-01T00:00:00Z", "alice")
        .unwrap();
    assert_eq!(decide(&engine, &read), (true, vec!["read-public".into()]));
    let e = engine
        .rotate_credential("etl-key", "2026-01-01T00:00:00Z", "alice")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::LifecycleInvalid);

    let mut orphan = read.clone();
    orphan.agent = "orphan".into();
    orphan.credential = None;
    assert_eq!(
        decide(&engine, &orphan),
        (false, vec!["baseline/owner-required".into()])
    );
    engine.transfer_owner("orphan", "carol", "alice").unwrap();
    assert_eq!(decide(&engine, &orphan), (true, vec!["read-public".into()]));
    let e = engine
        .transfer_owner("orphan", "nobody", "alice")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::LifecycleInvalid);
}

#[test]
fn add_task_makes_a_new_task_usable() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock.clone());
    let mut r = put("etl", "public/readme");
    r.action = "s3:GetObject".into();
    r.task = Some("T9".into());
    assert_eq!(
        decide(&engine, &r),
        (false, vec!["baseline/unknown-task".into()])
    );
    let task = TaskSpec {
        id: "T9".into(),
        agent: "etl".into(),
        not_before: "2026-11-29T09:00:00Z".into(),
        not_after: "2026-11-29T12:00:00Z".into(),
        purpose: Some("backfill".into()),
        on_behalf_of: Some("carol".into()),
    };
    engine.add_task(task.clone(), "alice").unwrap();
    assert_eq!(decide(&engine, &r), (true, vec!["read-public".into()]));
    clock.set(at("2026-11-29T12:00:00Z"));
    assert_eq!(
        decide(&engine, &r),
        (false, vec!["baseline/task-window".into()])
    );
    assert_eq!(
        engine.add_task(task, "alice").unwrap_err().code(),
        ErrorCode::LifecycleInvalid
    );
}

#[test]
fn every_change_is_recorded_in_the_decision_log_chain() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let (log, queue) = DecisionLog::queue();
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock)
        .decision_log(log)
        .build()
        .unwrap();
    let g = engine.grant(grant_request("etl", 600)).unwrap();
    decide(&engine, &put("etl", "reports/q3.csv"));
    engine.offboard("etl", "carol").unwrap();
    let records = queue.take();
    assert_eq!(records.len(), 3);
    let grant = &records[0];
    assert_eq!(grant.action, "agentauthz:grant");
    assert_eq!(grant.principal, EntityRef::new("User", "alice"));
    assert_eq!(grant.resource, EntityRef::new("Grant", g.id.as_str()));
    assert_eq!(grant.agent.as_deref(), Some("etl"));
    assert_eq!(grant.reasons, vec!["lifecycle/grant".to_string()]);
    assert_eq!(grant.context["reason"], "quarterly export");
    assert_eq!(records[1].reasons, vec![format!("grant/{}", g.id)]);
    let off = &records[2];
    assert_eq!(off.action, "agentauthz:offboard");
    assert_eq!(off.principal, EntityRef::new("User", "carol"));
    assert_eq!(off.prev_hash, records[1].hash, "one chain");
    for r in &records {
        assert_eq!(r.hash, r.compute_hash());
    }
}

#[test]
fn grant_policies_are_reserved_and_decisions_equal_cedar() {
    let bad = "@id(\"grant/x\") permit(principal, action, resource);";
    let e = Engine::from_strings(SCHEMA, bad, Some(INVENTORY)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::PolicyIdDuplicate);

    // The engine with grants decides as Cedar does over its policies plus the grants' text.
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock.clone());
    let mut req = grant_request("etl", 600);
    req.actions.push("s3:GetObject".into());
    engine.grant(req).unwrap();
    let mut scoped = grant_request("other", 900);
    scoped.task = Some("T-other".into());
    scoped.resource = EntityRef::new("Object", "reports/q3.csv");
    engine.grant(scoped).unwrap();
    let entries: Vec<_> = engine.grants(None);
    assert_eq!(entries.len(), 2);
    // Cedar's own answer over every policy, grants included (`Engine::policy_set` + grant text).
    let mut all = engine.policy_set();
    for g in &entries {
        let text = engine.grant_policy_text(&g.id).unwrap();
        all.add(
            cedar_policy::Policy::parse(Some(cedar_policy::PolicyId::new(g.policy_id())), text)
                .unwrap(),
        )
        .unwrap();
    }
    let entities = engine.entities();
    let schema = engine.schema().unwrap();
    for agent in ["etl", "other", "orphan"] {
        for action in ["s3:PutObject", "s3:GetObject"] {
            for (ty, id) in [
                ("Object", "reports/q3.csv"),
                ("Object", "public/readme"),
                ("Bucket", "reports"),
            ] {
                for task in [None, Some("T1"), Some("T-other")] {
                    for minutes in [0, 5, 10, 14, 15, 20] {
                        let now = agentauthz::format_millis(at(T0) + minutes * 60_000);
                        let mut r = put(agent, id);
                        r.action = action.into();
                        r.resource = EntityRef::new(ty, id);
                        r.task = task.map(String::from);
                        clock.set(at(T0) + minutes * 60_000);
                        let ours = engine.check(&Request::Agent(r.clone())).unwrap();
                        if ours
                            .reasons()
                            .iter()
                            .any(|x| x.starts_with("baseline/unknown"))
                        {
                            continue;
                        }
                        let mut ctx = serde_json::Map::new();
                        ctx.insert(
                            "now".into(),
                            serde_json::json!({"__extn": {"fn": "datetime", "arg": now}}),
                        );
                        // The engine fills `usage` in; no policy here reads it.
                        ctx.insert(
                            "usage".into(),
                            serde_json::to_value(agentauthz::UsageCounts::default()).unwrap(),
                        );
                        if let Some(t) = task {
                            ctx.insert(
                                "task".into(),
                                serde_json::json!({"__entity": {"type": "Task", "id": t}}),
                            );
                        }
                        let action_uid: cedar_policy::EntityUid =
                            format!("Action::\"{action}\"").parse().unwrap();
                        let context = cedar_policy::Context::from_json_value(
                            serde_json::Value::Object(ctx),
                            Some((&schema, &action_uid)),
                        )
                        .unwrap();
                        let request = cedar_policy::Request::new(
                            format!("Agent::\"{agent}\"").parse().unwrap(),
                            action_uid,
                            format!("{ty}::\"{id}\"").parse().unwrap(),
                            context,
                            Some(&schema),
                        )
                        .unwrap();
                        let cedar = cedar_policy::Authorizer::new()
                            .is_authorized(&request, &all, &entities);
                        let mut reasons: Vec<String> = cedar
                            .diagnostics()
                            .reason()
                            .map(|p| p.to_string())
                            .collect();
                        reasons.sort();
                        assert_eq!(
                            ours.allowed(),
                            cedar.decision() == cedar_policy::Decision::Allow,
                            "{r:?}"
                        );
                        assert_eq!(ours.reasons(), reasons.as_slice(), "{r:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn apply_takes_changes_in_journal_form() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = engine_at(clock);
    let change: Change =
        serde_json::from_value(serde_json::json!({"op": "suspend", "agent": "etl"})).unwrap();
    let entry = engine.apply(change, "alice").unwrap();
    assert_eq!(entry.seq, 1);
    assert_eq!(entry.by, "alice");
    let (allowed, reasons) = decide(&engine, &put("etl", "public/readme"));
    assert!(!allowed);
    assert_eq!(reasons, vec!["baseline/agent-active".to_string()]);
}

// ---------------------------------------------------------------- journal

fn journaled(
    clock: Arc<ManualClock>,
    path: &std::path::Path,
    recover: bool,
) -> agentauthz::Result<Engine> {
    Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .clock(clock)
        .journal(path)
        .recover_journal(recover)
        .build()
}

fn temp_journal(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("agentauthz-journal-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journal.jsonl")
}

#[test]
fn the_journal_is_replayed_on_load() {
    let path = temp_journal("replay");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock.clone(), &path, false).unwrap();
    let g = engine.grant(grant_request("etl", 3600)).unwrap();
    engine.suspend("other", "alice").unwrap();
    engine.transfer_owner("orphan", "carol", "alice").unwrap();
    drop(engine);

    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'));
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["op"], "grant");
    assert_eq!(first["seq"], 1);
    assert_eq!(first["by"], "alice");

    // Later: the grant is still there, and still expires at its time.
    clock.set(at(T0) + HOUR / 2);
    let engine = journaled(clock.clone(), &path, false).unwrap();
    assert_eq!(engine.grants(None), vec![g.clone()]);
    assert!(decide(&engine, &put("etl", "reports/q3.csv")).0);
    let mut read = put("other", "public/readme");
    read.action = "s3:GetObject".into();
    assert_eq!(
        decide(&engine, &read),
        (false, vec!["baseline/agent-active".into()])
    );
    let mut orphan = read.clone();
    orphan.agent = "orphan".into();
    assert!(decide(&engine, &orphan).0);
    // A reload applies the journal on top of the new bundle too.
    engine.reload(engine.bundle()).unwrap();
    assert!(decide(&engine, &put("etl", "reports/q3.csv")).0);
    assert_eq!(
        decide(&engine, &read),
        (false, vec!["baseline/agent-active".into()])
    );
    // New entries continue the sequence.
    let change = Change::Reactivate {
        agent: "other".into(),
    };
    assert_eq!(engine.apply(change, "alice").unwrap().seq, 4);
    clock.set(at(T0) + HOUR);
    assert!(!decide(&engine, &put("etl", "reports/q3.csv")).0);
}

#[test]
fn a_torn_last_line_needs_an_explicit_recover() {
    let path = temp_journal("torn");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock.clone(), &path, false).unwrap();
    engine.grant(grant_request("etl", 3600)).unwrap();
    drop(engine);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"seq":2,"at":"2026-11-29T10:00:00.000Z","by":"alice","op":"suspe"#);
    std::fs::write(&path, &text).unwrap();

    let e = journaled(clock.clone(), &path, false).unwrap_err();
    assert_eq!(e.code(), ErrorCode::JournalCorrupt);
    let location = e.details[0].location.as_ref().unwrap();
    assert_eq!(location.line, 2);
    assert!(e.to_string().contains("torn"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "nothing changed without recover"
    );

    let engine = journaled(clock.clone(), &path, true).unwrap();
    assert_eq!(engine.grants(None).len(), 1);
    assert!(decide(&engine, &put("etl", "reports/q3.csv")).0);
    engine.suspend("other", "alice").unwrap();
    drop(engine);
    let lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains(r#""seq":2"#));
    journaled(clock, &path, false).unwrap();
}

#[test]
fn a_malformed_line_before_the_last_is_never_recovered() {
    let path = temp_journal("middle");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock.clone(), &path, false).unwrap();
    engine.suspend("other", "alice").unwrap();
    engine.reactivate("other", "alice").unwrap();
    drop(engine);
    let text = std::fs::read_to_string(&path).unwrap();
    let damaged = text.replacen(r#""op":"suspend""#, r#""op":"suspendd""#, 1);
    std::fs::write(&path, &damaged).unwrap();
    for recover in [false, true] {
        let e = journaled(clock.clone(), &path, recover).unwrap_err();
        assert_eq!(e.code(), ErrorCode::JournalCorrupt);
        assert_eq!(e.details[0].location.as_ref().unwrap().line, 1);
    }
    // A gap in the sequence is corruption too.
    let gap = text.replacen(r#""seq":2"#, r#""seq":3"#, 1);
    std::fs::write(&path, &gap).unwrap();
    assert_eq!(
        journaled(clock, &path, true).unwrap_err().code(),
        ErrorCode::JournalCorrupt
    );
}

#[test]
fn a_journal_line_whose_time_is_not_rfc_3339_is_corrupt() {
    // An edited time must not be read as some default time (a grant's window
    // or a suspension's order hangs on it): the journal is refused, as engine
    // state with such a time is.
    let path = temp_journal("time");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock.clone(), &path, false).unwrap();
    engine.grant(grant_request("etl", 3600)).unwrap();
    drop(engine);
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text
        .split(r#""at":""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    for bad in ["yesterday", "", "2026-13-01T00:00:00Z"] {
        std::fs::write(&path, text.replacen(at, bad, 1)).unwrap();
        for recover in [false, true] {
            let e = journaled(clock.clone(), &path, recover).unwrap_err();
            assert_eq!(e.code(), ErrorCode::JournalCorrupt, "{bad:?}: {e}");
            assert_eq!(e.details[0].location.as_ref().unwrap().line, 1);
        }
    }
}

#[test]
fn a_refused_change_is_not_journaled() {
    let path = temp_journal("refused");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock, &path, false).unwrap();
    assert!(engine.suspend("ghost", "alice").is_err());
    assert!(engine.grant(grant_request("ghost", 60)).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
}

#[test]
fn changes_that_no_longer_apply_after_a_bundle_change_are_skipped_and_reported() {
    let path = temp_journal("skipped");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock.clone(), &path, false).unwrap();
    engine.suspend("other", "alice").unwrap();
    engine.grant(grant_request("etl", 3600)).unwrap();
    drop(engine);
    let inventory = INVENTORY.replace("  - {id: other, owner: alice}\n", "").replace(
        "  - {id: T-other, agent: other, not_before: \"2026-11-29T00:00:00Z\", not_after: \"2026-11-30T00:00:00Z\"}\n",
        "",
    );
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(inventory)
        .clock(clock)
        .journal(&path)
        .build()
        .unwrap();
    let skipped = engine.skipped_changes();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].starts_with("suspend skipped"), "{skipped:?}");
    assert_eq!(engine.grants(None).len(), 1);
}

/// Run by `a_killed_process_loses_nothing` in a child process: grants,
/// reports the id, then waits to be killed.
#[test]
fn child_grants_then_waits_to_be_killed() {
    let Ok(path) = std::env::var("AGENTAUTHZ_KILL_TEST_JOURNAL") else {
        return;
    };
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock, std::path::Path::new(&path), false).unwrap();
    let g = engine.grant(grant_request("etl", 3600)).unwrap();
    println!("GRANTED {}", g.id);
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(120));
}

#[test]
fn a_killed_process_loses_nothing() {
    use std::io::BufRead;
    let path = temp_journal("kill");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_grants_then_waits_to_be_killed",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AGENTAUTHZ_KILL_TEST_JOURNAL", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut id = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        // libtest may print `test name ... ` before it on the same line.
        if let Some(at) = line.find("GRANTED ") {
            id = Some(line[at + "GRANTED ".len()..].trim().to_string());
            break;
        }
    }
    // SIGKILL right after the call returned: no destructor, no flush runs.
    child.kill().unwrap();
    child.wait().unwrap();
    let id = id.expect("the child reported its grant");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock, &path, false).unwrap();
    let grants = engine.grants(None);
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].id, id);
    assert_eq!(
        decide(&engine, &put("etl", "reports/q3.csv")),
        (true, vec![format!("grant/{id}")])
    );
}

#[test]
fn changes_during_checks_are_atomic_and_never_block_checks() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = Arc::new(engine_at(clock));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Checkers that have made 20 checks: changes go on until all three have,
    // so checks overlap changes however the threads are scheduled.
    let warmed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut checkers = Vec::new();
    for _ in 0..3 {
        let engine = engine.clone();
        let stop = stop.clone();
        let warmed = warmed.clone();
        checkers.push(std::thread::spawn(move || {
            let r = put("etl", "reports/q3.csv");
            let mut read = put("other", "public/readme");
            read.action = "s3:GetObject".into();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let (allowed, reasons) = decide(&engine, &r);
                // Either no grant (no reasons) or exactly one grant decided it.
                assert!(
                    (!allowed && reasons.is_empty())
                        || (allowed && reasons.len() == 1 && reasons[0].starts_with("grant/")),
                    "{reasons:?}"
                );
                let (allowed, reasons) = decide(&engine, &read);
                assert!(
                    (allowed && reasons == ["read-public"])
                        || (!allowed && reasons == ["baseline/agent-active"]),
                    "{reasons:?}"
                );
                n += 1;
                if n == 20 {
                    warmed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
            n
        }));
    }
    let mut rounds = 0;
    while rounds < 40 || warmed.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        let g = engine.grant(grant_request("etl", 600)).unwrap();
        engine.suspend("other", "alice").unwrap();
        engine.reactivate("other", "alice").unwrap();
        engine.revoke(&g.id, "alice").unwrap();
        rounds += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in checkers {
        assert!(c.join().unwrap() >= 20);
    }
    assert!(engine.grants(None).is_empty());
}

// ---------------------------------------------------------------- sessions

fn session_engine(clock: Arc<ManualClock>) -> Engine {
    let config = "[sessions]\naudience = \"tools\"\nmax_ttl_seconds = 600\n";
    Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .config(config)
        .clock(clock)
        .session_keys(agentauthz::session::SessionKeys::generate("k1").unwrap())
        .build()
        .unwrap()
}

fn session_read(token: &str) -> agentauthz::SessionRequest {
    agentauthz::SessionRequest {
        session: token.into(),
        action: "s3:GetObject".into(),
        resource: EntityRef::new("Object", "public/readme"),
        on_behalf_of: None,
        credential: None,
        context: Default::default(),
        now: None,
        audience: None,
    }
}

#[test]
fn a_session_names_the_agent_and_task_and_expires() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = session_engine(clock.clone());
    let (token, claims) = engine
        .issue_session("etl", Some("T1"), Some(3_600_000), None)
        .unwrap();
    assert_eq!(
        claims.expires_at - claims.issued_at,
        600_000,
        "capped by the configuration"
    );
    assert_eq!(claims.audience, "tools");
    let d = engine.check_session(&session_read(&token)).unwrap();
    assert_eq!(d.reasons(), ["read-public"]);
    // The token decides who acts: the grant of `etl` applies, with its task.
    let mut g = grant_request("etl", 300);
    g.task = Some("T1".into());
    let g = engine.grant(g).unwrap();
    let mut put = session_read(&token);
    put.action = "s3:PutObject".into();
    put.resource = EntityRef::new("Object", "reports/q3.csv");
    assert_eq!(
        engine.check_session(&put).unwrap().reasons(),
        [format!("grant/{}", g.id)]
    );

    clock.set(claims.expires_at - 1_000);
    assert!(engine.check_session(&session_read(&token)).is_ok());
    clock.set(claims.expires_at);
    assert_eq!(
        engine
            .check_session(&session_read(&token))
            .unwrap_err()
            .code(),
        ErrorCode::SessionExpired
    );
    clock.set(at(T0));
    let mut other_audience = session_read(&token);
    other_audience.audience = Some("billing".into());
    assert_eq!(
        engine.check_session(&other_audience).unwrap_err().code(),
        ErrorCode::SessionInvalid
    );
}

#[test]
fn sessions_of_suspended_or_offboarded_agents_and_revoked_sessions_are_rejected() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = session_engine(clock);
    let (token, claims) = engine.issue_session("etl", Some("T1"), None, None).unwrap();
    let (other, _) = engine.issue_session("other", None, None, None).unwrap();
    engine.suspend("etl", "alice").unwrap();
    let e = engine.check_session(&session_read(&token)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::SessionRevoked, "{e}");
    engine.reactivate("etl", "alice").unwrap();
    assert!(engine.check_session(&session_read(&token)).is_ok());

    engine.revoke_session(&claims.session_id, "alice").unwrap();
    assert_eq!(
        engine
            .check_session(&session_read(&token))
            .unwrap_err()
            .code(),
        ErrorCode::SessionRevoked
    );
    assert!(engine.check_session(&session_read(&other)).is_ok());
    engine.offboard("other", "alice").unwrap();
    assert_eq!(
        engine
            .check_session(&session_read(&other))
            .unwrap_err()
            .code(),
        ErrorCode::SessionRevoked
    );
    // No session for an agent that may not act, or for a task of another agent.
    for e in [
        engine.issue_session("other", None, None, None).unwrap_err(),
        engine.issue_session("ghost", None, None, None).unwrap_err(),
        engine
            .issue_session("etl", Some("T-other"), None, None)
            .unwrap_err(),
    ] {
        assert_eq!(e.code(), ErrorCode::LifecycleInvalid, "{e}");
    }
}

#[test]
fn a_verifier_with_public_keys_only_accepts_tokens_and_cannot_issue() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let issuer = session_engine(clock.clone());
    let (token, _) = issuer.issue_session("etl", None, None, None).unwrap();
    let public = agentauthz::ffi::session_public_keys_value(&issuer);
    let keys =
        agentauthz::ffi::session_keys_from_value(serde_json::json!({"verifying": public})).unwrap();
    let verifier = session_engine(clock);
    verifier.set_session_keys(keys);
    assert!(verifier.check_session(&session_read(&token)).is_ok());
    let e = verifier.issue_session("etl", None, None, None).unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeyInvalid, "{e}");
    // A token from an unknown key is refused.
    let stranger = session_engine(Arc::new(ManualClock::at(T0).unwrap()));
    let (foreign, _) = stranger.issue_session("etl", None, None, None).unwrap();
    let e = verifier.check_session(&session_read(&foreign)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::SessionInvalid);
}

#[test]
fn refused_session_tokens_are_logged_without_the_token_or_the_claimed_agent() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let (log, queue) = DecisionLog::queue();
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .config("[sessions]\naudience = \"tools\"\n")
        .clock(clock)
        .session_keys(agentauthz::session::SessionKeys::generate("k1").unwrap())
        .decision_log(log)
        .build()
        .unwrap();
    let (token, _) = engine.issue_session("etl", None, None, None).unwrap();
    engine.check_session(&session_read(&token)).unwrap();
    engine.suspend("etl", "alice").unwrap();
    let e = engine.check_session(&session_read(&token)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::SessionRevoked);
    let records = queue.take();
    assert_eq!(records.len(), 3, "the check, the suspension, the refusal");
    assert_eq!(records[0].agent.as_deref(), Some("etl"));
    let refused = &records[2];
    assert_eq!(refused.decision, agentauthz::audit::RecordDecision::Error);
    assert_eq!(refused.principal, EntityRef::new("Session", "unverified"));
    assert_eq!(refused.agent, None);
    assert_eq!(refused.error.as_ref().unwrap().code, "session_revoked");
    assert_eq!(refused.prev_hash, records[1].hash);
    let text = serde_json::to_string(&refused.to_value()).unwrap();
    assert!(!text.contains(&token), "the token is never logged");
}

/// A token's verified claims are kept (no signature check on every use), but
/// every use is still judged in full: revocation, the agent's standing, the
/// token's window, the audience; a token differing in any byte (a forged
/// signature over the same claims) is verified again, and so is every token
/// once the keys change.
#[test]
fn a_verified_session_is_still_judged_on_every_use() {
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = session_engine(clock.clone());
    let (token, claims) = engine.issue_session("etl", Some("T1"), None, None).unwrap();
    let code = |t: &str| {
        engine
            .check_session(&session_read(t))
            .map(|d| d.decision.as_str().to_string())
            .map_err(|e| e.code())
    };
    assert_eq!(code(&token), Ok("allow".into()));

    // The same claims under a forged signature: one base64url character of
    // the signature changed (a whole 6-bit group, never padding bits).
    let (head, footer) = token.rsplit_once('.').unwrap();
    let mut body: Vec<char> = head.chars().collect();
    let i = body.len() - 20;
    body[i] = if body[i] == 'A' { 'B' } else { 'A' };
    let forged = format!("{}.{footer}", body.into_iter().collect::<String>());
    assert_ne!(forged, token);
    assert_eq!(code(&forged), Err(ErrorCode::SessionInvalid));
    assert_eq!(code(&token), Ok("allow".into()));

    // Another audience than the token's, after the token was verified.
    let mut other_audience = session_read(&token);
    other_audience.audience = Some("billing".into());
    assert_eq!(
        engine.check_session(&other_audience).unwrap_err().code(),
        ErrorCode::SessionInvalid
    );

    // The agent suspended, then reactivated.
    engine.suspend("etl", "alice").unwrap();
    assert_eq!(code(&token), Err(ErrorCode::SessionRevoked));
    engine.reactivate("etl", "alice").unwrap();
    assert_eq!(code(&token), Ok("allow".into()));

    // The token's expiry passes.
    clock.set(claims.expires_at);
    assert_eq!(code(&token), Err(ErrorCode::SessionExpired));
    clock.set(at(T0));
    assert_eq!(code(&token), Ok("allow".into()));

    // New keys: the token (signed under the old ones) no longer verifies.
    let old_keys = engine.session_keys();
    engine.set_session_keys(agentauthz::session::SessionKeys::generate("k2").unwrap());
    assert_eq!(code(&token), Err(ErrorCode::SessionInvalid));
    engine.set_session_keys(old_keys);
    assert_eq!(code(&token), Ok("allow".into()));

    // The session revoked.
    engine.revoke_session(&claims.session_id, "alice").unwrap();
    assert_eq!(code(&token), Err(ErrorCode::SessionRevoked));

    // A new session of the agent, then the agent offboarded (its task revoked).
    let (token2, _) = engine.issue_session("etl", Some("T1"), None, None).unwrap();
    assert_eq!(code(&token2), Ok("allow".into()));
    engine.offboard("etl", "alice").unwrap();
    assert_eq!(code(&token2), Err(ErrorCode::SessionRevoked));
}

/// Replay applies each change at its own time, as it was applied live: a
/// revoke of a grant that had expired by then (but was still held) applies
/// live, so it must apply on replay too, and the state after a restart is
/// the state before it.
#[test]
fn replay_applies_each_change_at_its_own_time() {
    use agentauthz::Clock;
    let path = temp_journal("own-time");
    let clock = Arc::new(ManualClock::at(T0).unwrap());
    let engine = journaled(clock.clone(), &path, false).unwrap();
    let short = engine.grant(grant_request("etl", 60)).unwrap();
    let long = engine.grant(grant_request("other", 3600)).unwrap();
    clock.advance(120_000);
    // `short` expired a minute ago; the revoke still names a held grant.
    engine.revoke(&short.id, "alice").unwrap();
    clock.advance(1_000);
    engine.suspend("orphan", "alice").unwrap();
    // Live, that change pruned `short2` (expired by then): its id is free
    // again. Replayed at the last change's time instead of each change's,
    // `short2` was still held here and the grant below was skipped.
    let short2 = engine.grant(grant_request("etl", 60)).unwrap();
    clock.advance(120_000);
    engine.suspend("other", "alice").unwrap();
    clock.advance(1_000);
    let mut reused = short2.clone();
    reused.starts = clock_now(&clock);
    reused.expires = agentauthz::format_millis(clock.now_millis() + HOUR);
    engine
        .apply(Change::Grant(reused.clone()), "alice")
        .unwrap();
    let before = engine.state_hash().unwrap();
    let skipped_before = engine.skipped_changes();
    let decisions = |e: &Engine| {
        [put("etl", "reports/q3.csv"), put("other", "reports/q3.csv")]
            .iter()
            .map(|r| decide(e, r))
            .collect::<Vec<_>>()
    };
    let decided = decisions(&engine);
    assert_eq!(engine.grants(None), vec![long.clone(), reused.clone()]);
    drop(engine);

    let engine = journaled(clock.clone(), &path, false).unwrap();
    assert_eq!(engine.skipped_changes(), skipped_before);
    assert!(
        engine.skipped_changes().is_empty(),
        "{:?}",
        engine.skipped_changes()
    );
    assert_eq!(engine.state_hash().unwrap(), before);
    assert_eq!(decisions(&engine), decided);
    assert_eq!(engine.grants(None), vec![long, reused]);
}

fn clock_now(clock: &ManualClock) -> String {
    use agentauthz::Clock;
    agentauthz::format_millis(clock.now_millis())
}
