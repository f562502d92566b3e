//! `engine_state` / `engine_restore`: an engine rebuilt from its state decides
//! as the original did, its changes keep their original times (replayed as a
//! journal is), and a tampered, garbled or too deep state is a coded error,
//! never an engine that allows more.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use agentauthz::ffi::{self, EngineState};
use agentauthz::{
    AgentRequest, Change, Engine, EntityRef, ErrorCode, GrantRequest, ManualClock, Request,
    TaskSpec,
};
use common::{POLICIES, SCHEMA};
use serde_json::{json, Value};
use std::sync::Arc;

const INVENTORY: &str = r#"
users:
  - {id: alice}
  - {id: carol}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
  - {id: spare, owner: carol}
credentials:
  - {id: etl-key, agent: etl, kind: service_account_key, issued: "2026-01-01T00:00:00Z", expires: "2026-06-01T00:00:00Z"}
tasks:
  - {id: T1, agent: etl, not_before: "2026-11-29T00:00:00Z", not_after: "2026-11-30T00:00:00Z"}
resources:
  - {type: Bucket, id: public}
  - {type: Bucket, id: reports}
  - {type: Object, id: reports/q3.csv, parents: [{type: Bucket, id: reports}]}
  - {type: Object, id: public/readme, parents: [{type: Bucket, id: public}]}
"#;

/// The same inventory without the agent `spare`: changes about it no longer apply.
fn inventory_without_spare() -> String {
    INVENTORY.replace("  - {id: spare, owner: carol}\n", "")
}

const T0: &str = "2026-11-29T10:00:00Z";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

fn clock_at(offset: i64) -> Arc<ManualClock> {
    let clock = ManualClock::at(T0).unwrap();
    clock.advance(offset);
    Arc::new(clock)
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

fn request(agent: &str, action: &str, object: &str, task: Option<&str>) -> Request {
    Request::Agent(AgentRequest {
        agent: agent.into(),
        action: action.into(),
        resource: EntityRef::new("Object", object),
        task: task.map(String::from),
        on_behalf_of: None,
        credential: None,
        context: Default::default(),
        now: None,
    })
}

fn requests() -> Vec<Request> {
    let mut out = Vec::new();
    for agent in ["etl", "other", "spare", "ghost"] {
        for action in ["s3:PutObject", "s3:GetObject"] {
            for object in ["reports/q3.csv", "public/readme"] {
                for task in [None, Some("T1"), Some("T2")] {
                    out.push(request(agent, action, object, task));
                }
            }
        }
    }
    out
}

/// Each request's decision and reasons, or its error code.
fn decisions(engine: &Engine) -> Vec<Result<(bool, Vec<String>), ErrorCode>> {
    requests()
        .iter()
        .map(|r| {
            engine
                .check(r)
                .map(|d| (d.allowed(), d.reasons().to_vec()))
                .map_err(|e| e.code)
        })
        .collect()
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

/// An engine with a change of every kind, made over two hours, one of which
/// (about `spare`) no longer applies after a reload.
fn busy_engine(clock: &Arc<ManualClock>) -> Engine {
    let engine = engine_at(clock.clone());
    engine.grant(grant_request("etl", 3 * 3600)).unwrap();
    clock.advance(10 * MINUTE);
    engine.suspend("other", "alice").unwrap();
    engine
        .add_task(
            TaskSpec {
                id: "T2".into(),
                agent: "etl".into(),
                not_before: "2026-11-29T00:00:00Z".into(),
                not_after: "2026-11-29T23:00:00Z".into(),
                purpose: Some("export".into()),
                on_behalf_of: Some("carol".into()),
            },
            "alice",
        )
        .unwrap();
    clock.advance(10 * MINUTE);
    engine
        .rotate_credential("etl-key", "2027-01-01T00:00:00Z", "alice")
        .unwrap();
    engine.transfer_owner("etl", "carol", "alice").unwrap();
    engine.suspend("spare", "carol").unwrap();
    engine
        .revoke_session("01ABCDEFGHJKMNPQRSTVWXYZ00", "alice")
        .unwrap();
    let short = engine.grant(grant_request("other", 60)).err();
    assert!(short.is_some(), "a suspended agent cannot be granted");
    clock.advance(HOUR);
    engine
        .reload(agentauthz::Bundle::from_strings(
            SCHEMA,
            POLICIES,
            Some(&inventory_without_spare()),
        ))
        .unwrap();
    engine
}

fn restore_json(state: &str, clock: Arc<ManualClock>) -> agentauthz::Result<Engine> {
    ffi::engine_restore_json(state, Some(clock))
}

#[test]
fn a_restored_engine_equals_the_original() {
    let clock = clock_at(0);
    let engine = busy_engine(&clock);
    assert_eq!(
        engine.skipped_changes().len(),
        1,
        "{:?}",
        engine.skipped_changes()
    );
    let text = ffi::engine_state_json(&engine).unwrap();

    let restored = restore_json(&text, clock_at(80 * MINUTE)).unwrap();
    assert_eq!(restored.policy_revision(), engine.policy_revision());
    assert_eq!(restored.grants(None), engine.grants(None));
    assert_eq!(restored.skipped_changes(), engine.skipped_changes());
    assert_eq!(decisions(&restored), decisions(&engine));
    // Something is allowed and something denied: the comparison can fail.
    let d = decisions(&engine);
    assert!(d.iter().any(|r| matches!(r, Ok((true, _)))));
    assert!(d.iter().any(|r| matches!(r, Ok((false, _)))));
    // The state of the restored engine is the same state.
    assert_eq!(ffi::engine_state_json(&restored).unwrap(), text);
    assert_eq!(
        restored
            .entities()
            .get(&"Credential::\"etl-key\"".parse().unwrap()),
        engine
            .entities()
            .get(&"Credential::\"etl-key\"".parse().unwrap())
    );
    // The next change continues the sequence.
    let next = restored.suspend("etl", "alice");
    assert!(next.is_ok());
    let state = restored.state().unwrap();
    let seqs: Vec<u64> = state.changes.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn the_three_layers_of_state_and_restore_agree() {
    let clock = clock_at(0);
    let engine = busy_engine(&clock);
    let typed = ffi::engine_state(&engine).unwrap();
    let value = ffi::engine_state_value(&engine).unwrap();
    let text = ffi::engine_state_json(&engine).unwrap();
    assert_eq!(typed.to_value().unwrap(), value);
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    assert_eq!(value["version"], json!(1));

    let a = ffi::engine_restore(typed, Some(clock_at(80 * MINUTE))).unwrap();
    let b = ffi::engine_restore_value(value, Some(clock_at(80 * MINUTE))).unwrap();
    let c = restore_json(&text, clock_at(80 * MINUTE)).unwrap();
    for e in [&a, &b, &c] {
        assert_eq!(decisions(e), decisions(&engine));
        assert_eq!(e.skipped_changes(), engine.skipped_changes());
    }
}

#[test]
fn changes_keep_their_original_times() {
    // A one-hour grant made at t0, restored at t0+30min, ends at t0+1h (not
    // at restore+1h), and a rotated credential keeps t0 as its issue time.
    let clock = clock_at(0);
    let engine = engine_at(clock.clone());
    let grant = engine.grant(grant_request("etl", 3600)).unwrap();
    engine
        .rotate_credential("etl-key", "2027-01-01T00:00:00Z", "alice")
        .unwrap();
    clock.advance(30 * MINUTE);
    let text = ffi::engine_state_json(&engine).unwrap();

    let later = clock_at(30 * MINUTE);
    let restored = restore_json(&text, later.clone()).unwrap();
    let put = request("etl", "s3:PutObject", "reports/q3.csv", None);
    let reason = format!("grant/{}", grant.id);
    for (at, allowed) in [
        (30 * MINUTE, true),
        (59 * MINUTE, true),
        (HOUR, false),
        (HOUR + 10 * MINUTE, false),
        (HOUR + 29 * MINUTE, false),
    ] {
        later.set(clock_at(at).now_millis_for_test());
        let d = restored.check(&put).unwrap();
        assert_eq!(d.allowed(), allowed, "at t0+{}min", at / MINUTE);
        assert_eq!(d.reasons().contains(&reason), allowed);
    }
    let state = restored.state().unwrap();
    assert_eq!(state.changes[0].at, "2026-11-29T10:00:00.000Z");
    assert_eq!(state.changes[1].at, "2026-11-29T10:00:00.000Z");
    let credential = restored
        .entities()
        .get(&"Credential::\"etl-key\"".parse().unwrap())
        .cloned()
        .unwrap();
    let issued = format!("{:?}", credential.attr("issued"));
    assert!(issued.contains("2026-11-29T10:00:00"), "{issued}");
}

/// `now_millis` of a manual clock (the trait is implemented for it).
trait NowForTest {
    fn now_millis_for_test(&self) -> i64;
}

impl NowForTest for Arc<ManualClock> {
    fn now_millis_for_test(&self) -> i64 {
        agentauthz::Clock::now_millis(&**self)
    }
}

#[test]
fn a_grant_that_expired_before_the_restore_stays_expired() {
    let clock = clock_at(0);
    let engine = engine_at(clock.clone());
    engine.grant(grant_request("etl", 600)).unwrap();
    let text = ffi::engine_state_json(&engine).unwrap();
    let restored = restore_json(&text, clock_at(HOUR)).unwrap();
    // Replayed at its own time it applied: nothing is skipped, nothing allowed.
    assert!(restored.skipped_changes().is_empty());
    assert!(restored.grants(None).is_empty());
    let put = request("etl", "s3:PutObject", "reports/q3.csv", None);
    assert!(!restored.check(&put).unwrap().allowed());
}

#[test]
fn a_change_that_no_longer_applies_is_reported_never_swallowed() {
    let clock = clock_at(0);
    let engine = engine_at(clock.clone());
    engine.suspend("other", "alice").unwrap();
    let mut state = engine.state().unwrap();
    // An entry about an agent the bundle does not have, appended by hand.
    let mut ghost = state.changes[0].clone();
    ghost.seq = 2;
    ghost.change = Change::Suspend {
        agent: "ghost".into(),
    };
    state.changes.push(ghost);
    let restored = ffi::engine_restore(state, Some(clock_at(MINUTE))).unwrap();
    let skipped = restored.skipped_changes();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].contains("journal seq 2"), "{skipped:?}");
    assert!(skipped[0].starts_with("suspend skipped"), "{skipped:?}");
    // The change that applies still does.
    let get = request("other", "s3:GetObject", "public/readme", None);
    assert!(!restored.check(&get).unwrap().allowed());
}

#[test]
fn the_session_keys_and_settings_come_back() {
    let clock = clock_at(0);
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .config("[sessions]\naudience = \"api\"\nmax_ttl_seconds = 600\n")
        .clock(clock.clone())
        .trust_caller_time(true)
        .on_error(agentauthz::OnError::Skip)
        .strict(false)
        .limits(agentauthz::Limits {
            max_depth: 32,
            ..agentauthz::Limits::default()
        })
        .build()
        .unwrap();
    let keys = agentauthz::SessionKeys::generate("k1").unwrap();
    engine.set_session_keys(keys);
    let state = engine.state().unwrap();
    // Debug never shows the signing key; the state itself carries it.
    let secret = state.sessions.signing.as_ref().unwrap().key.clone();
    assert!(secret.starts_with("k4.secret."));
    assert!(!format!("{state:?}").contains(&secret));

    let restored = ffi::engine_restore(state, Some(clock_at(0))).unwrap();
    assert!(restored.trusts_caller_time());
    assert_eq!(restored.on_error(), agentauthz::OnError::Skip);
    assert_eq!(restored.limits().max_depth, 32);
    // A token the restored engine issues verifies on the original, and back.
    let (token, claims) = restored
        .issue_session("etl", None, Some(3_600_000), None)
        .unwrap();
    // `[sessions]` of the bundle still caps the lifetime and names the audience.
    assert_eq!(claims.expires_at - claims.issued_at, 600_000);
    assert_eq!(claims.audience, "api");
    assert!(engine.verify_session(&token, None).is_ok());
    let (token, _) = engine.issue_session("etl", None, None, None).unwrap();
    assert!(restored.verify_session(&token, None).is_ok());
    assert_eq!(
        ffi::session_public_keys(&restored),
        ffi::session_public_keys(&engine)
    );
}

#[test]
fn a_verifier_state_holds_no_signing_key() {
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .config("[sessions]\naudience = \"api\"\n")
        .clock(clock_at(0))
        .build()
        .unwrap();
    let keys = agentauthz::SessionKeys::generate("k1").unwrap();
    engine.set_session_keys(keys.verifying_only());
    let state = engine.state().unwrap();
    assert!(state.sessions.signing.is_none());
    assert_eq!(state.sessions.verifying.len(), 1);
    let restored = ffi::engine_restore(state, None).unwrap();
    let e = restored.issue_session("etl", None, None, None).unwrap_err();
    assert_eq!(e.code, ErrorCode::KeyInvalid, "{e}");
}

#[test]
fn a_restored_engine_opens_no_files() {
    // The original holds its journal's lock; the restore does not need it.
    let dir = std::env::temp_dir().join(format!("agentauthz-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal.jsonl");
    let _ = std::fs::remove_file(&journal);
    let bundle = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies-examples/coding-agent"
    );
    let engine =
        ffi::engine_load_journaled(bundle, Some(&journal.to_string_lossy()), false, None, true)
            .unwrap();
    engine.suspend("ci-bot", "alice").unwrap();
    let text = ffi::engine_state_json(&engine).unwrap();
    assert!(!text.contains(&dir.to_string_lossy().to_string()));
    let restored = ffi::engine_restore_json(&text, None).unwrap();
    assert!(restored.journal_path().is_none());
    assert!(restored.decision_log().is_none());
    assert_eq!(restored.policy_revision(), engine.policy_revision());
    assert_eq!(
        restored.state().unwrap().changes,
        engine.state().unwrap().changes
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- hostile states

fn state_value() -> Value {
    let clock = clock_at(0);
    let engine = engine_at(clock.clone());
    engine.grant(grant_request("etl", 3600)).unwrap();
    engine.suspend("other", "alice").unwrap();
    ffi::engine_state_value(&engine).unwrap()
}

fn code_of(value: &Value) -> ErrorCode {
    let text = value.to_string();
    let by_text = restore_json(&text, clock_at(0)).err().map(|e| e.code);
    let by_value = ffi::engine_restore_value(value.clone(), Some(clock_at(0)))
        .err()
        .map(|e| e.code);
    assert_eq!(by_text, by_value, "text and value layers disagree");
    by_text.expect("a hostile state was restored")
}

fn edited(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = state_value();
    edit(&mut v);
    v
}

#[test]
fn an_unknown_or_missing_version_is_refused() {
    for version in [json!(2), json!(0), json!("1"), json!(null), json!(1.5)] {
        let v = edited(|v| v["version"] = version.clone());
        assert_eq!(code_of(&v), ErrorCode::ConfigInvalid, "version {version}");
    }
    let v = edited(|v| {
        v.as_object_mut().unwrap().remove("version");
    });
    assert_eq!(code_of(&v), ErrorCode::ConfigInvalid);
    assert_eq!(code_of(&json!([1, 2])), ErrorCode::ConfigInvalid);
    assert_eq!(code_of(&json!("state")), ErrorCode::ConfigInvalid);
    // The typed layer checks the version too.
    let mut state: EngineState = serde_json::from_value(state_value()).unwrap();
    state.version = 7;
    let e = ffi::engine_restore(state, None).unwrap_err();
    assert_eq!(e.code, ErrorCode::ConfigInvalid);
}

#[test]
fn a_missing_or_extra_member_is_refused() {
    let removals: [&[&str]; 8] = [
        &["bundle"],
        &["settings"],
        &["sessions"],
        &["changes"],
        &["revision"],
        &["settings", "on_error"],
        &["bundle", "inventory"],
        &["bundle", "options", "limits"],
    ];
    for path in removals {
        let v = edited(|v| {
            let (last, parents) = path.split_last().unwrap();
            let mut node = v;
            for p in parents {
                node = &mut node[*p];
            }
            node.as_object_mut().unwrap().remove(*last);
        });
        assert_eq!(code_of(&v), ErrorCode::ConfigInvalid, "without {path:?}");
    }
    for path in [&["changes", "0", "at"][..], &["changes", "1", "agent"]] {
        let v = edited(|v| {
            let entry = &mut v["changes"][path[1].parse::<usize>().unwrap()];
            entry.as_object_mut().unwrap().remove(path[2]);
        });
        assert_eq!(code_of(&v), ErrorCode::ConfigInvalid, "without {path:?}");
    }
    let extra = [
        edited(|v| v["extra"] = json!(1)),
        edited(|v| v["settings"]["allow_all"] = json!(true)),
        edited(|v| v["changes"][1]["extra"] = json!("x")),
        edited(|v| v["bundle"]["options"]["limits"]["max_stuff"] = json!(1)),
    ];
    for v in extra {
        assert_eq!(code_of(&v), ErrorCode::ConfigInvalid);
    }
}

#[test]
fn texts_that_do_not_hash_to_the_revision_are_refused() {
    // The revision changed, or the texts changed under it.
    let v = edited(|v| v["revision"] = json!("sha256:00"));
    assert_eq!(code_of(&v), ErrorCode::ConfigInvalid);
    let v = edited(|v| {
        let text = v["bundle"]["policies"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        v["bundle"]["policies"][0]["text"] = json!(text.replace("> 1000", "> 1000000"));
    });
    assert_eq!(code_of(&v), ErrorCode::ConfigInvalid);
    let v = edited(|v| {
        let text = v["bundle"]["inventory"]["text"]
            .as_str()
            .unwrap()
            .to_string();
        v["bundle"]["inventory"]["text"] =
            json!(text.replace("{id: other, owner: alice}", "{id: other, owner: carol}"));
    });
    assert_eq!(code_of(&v), ErrorCode::ConfigInvalid);
    let v = edited(|v| v["bundle"]["options"]["base_schema"] = json!(false));
    assert_ne!(code_of(&v), ErrorCode::Internal);
    // Settings that do not match the bundle's limits.
    let v = edited(|v| {
        let mut limits = v["bundle"]["options"]["limits"].clone();
        limits["max_depth"] = json!(100);
        v["settings"]["limits"] = limits;
    });
    assert_eq!(code_of(&v), ErrorCode::ConfigInvalid);
    let v = edited(|v| v["settings"]["on_error"] = json!("allow"));
    assert_eq!(code_of(&v), ErrorCode::ConfigInvalid);
}

#[test]
fn changes_out_of_sequence_or_time_are_refused() {
    for edit in [
        (|v: &mut Value| v["changes"][0]["seq"] = json!(0)) as fn(&mut Value),
        |v| v["changes"][1]["seq"] = json!(3),
        |v| v["changes"][0]["seq"] = json!(2),
        |v| v["changes"][0]["at"] = json!("yesterday"),
        |v| v["changes"][1]["op"] = json!("grant_everything"),
        |v| {
            let first = v["changes"][0].clone();
            v["changes"].as_array_mut().unwrap().insert(0, first);
        },
    ] {
        let v = edited(edit);
        assert_eq!(code_of(&v), ErrorCode::ConfigInvalid, "{v}");
    }
}

#[test]
fn bad_session_keys_are_refused() {
    let v = edited(|v| v["sessions"]["verifying"] = json!({"k": "k4.public.nope"}));
    assert_eq!(code_of(&v), ErrorCode::KeyInvalid);
    let v = edited(|v| v["sessions"]["signing"] = json!({"kid": "k", "key": "k4.secret.nope"}));
    assert_eq!(code_of(&v), ErrorCode::KeyInvalid);
}

#[test]
fn garbled_duplicated_or_too_deep_text_is_a_coded_error() {
    let good = state_value().to_string();
    for text in [
        "",
        "{",
        "null",
        &good[..good.len() / 2],
        &format!("{good} trailing"),
    ] {
        let e = restore_json(text, clock_at(0)).unwrap_err();
        assert_eq!(e.code, ErrorCode::ConfigInvalid, "{text:.40}");
    }
    // A duplicate key is refused, not "last one wins".
    let dup = good.replacen("{\"version\":1,", "{\"version\":1,\"version\":1,", 1);
    assert_ne!(dup, good);
    assert_eq!(
        restore_json(&dup, clock_at(0)).unwrap_err().code,
        ErrorCode::ConfigInvalid
    );
    // Too deep, as text and as a value: refused before any recursion.
    let deep = format!(
        "{{\"version\":1,\"x\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(
        restore_json(&deep, clock_at(0)).unwrap_err().code,
        ErrorCode::InputTooDeep
    );
    let mut value = json!(1);
    for _ in 0..100 {
        value = json!([value]);
    }
    let v = edited(|v| v["extra"] = value);
    let e = ffi::engine_restore_value(v, None).unwrap_err();
    assert_eq!(e.code, ErrorCode::InputTooDeep);
}
