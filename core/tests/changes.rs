//! Run-time changes at the edges of how they are stored: an edited entity
//! reached only through an attribute, a policy literal or the context; an
//! offboarded agent's group and team edges; readers racing a writer; refused
//! changes. Each test runs with changes kept beside the loaded entities
//! (`compaction(false)`) and folded in (`compact`), which must decide alike.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{AgentRequest, CedarRequest, Engine, EntityRef, FixedClock, Request, TaskSpec};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const SCHEMA: &str = r#"
entity Doc { creator?: Agent };
action "read" appliesTo { principal: [Agent], resource: [Doc], context: { peer?: Agent } };
action "write" appliesTo { principal: [Agent], resource: [Doc] };
"#;

const POLICIES: &str = r#"
@id("ops-team-writes")
permit (principal in Team::"ops", action == Action::"write", resource);

@id("creator-active")
permit (principal, action == Action::"read", resource)
when { resource has creator && resource.creator.status == "active" };

@id("peer-active")
permit (principal, action == Action::"read", resource == Doc::"peer")
when { context has peer && context.peer.status == "active" };

@id("while-a3-active")
permit (principal, action == Action::"read", resource == Doc::"plain")
when { Agent::"a3".status == "active" };
"#;

const INVENTORY: &str = r#"
teams:
  - {id: ops}
  - {id: sub, parents: [ops]}
users:
  - {id: alice}
  - {id: bob, active: false}
agent_groups:
  - {id: g, teams: [sub]}
agents:
  - {id: a1, owner: alice, teams: [ops]}
  - {id: a2, owner: alice}
  - {id: a3, owner: alice}
  - {id: a4, owner: alice, groups: [g]}
credentials:
  - {id: c1, agent: a1, kind: api_token, issued: "2026-11-01T00:00:00Z", expires: "2027-01-01T00:00:00Z"}
tasks:
  - {id: t1, agent: a1, not_before: "2026-11-29T00:00:00Z", not_after: "2026-11-30T00:00:00Z"}
resources:
  - {type: Doc, id: plain}
  - {type: Doc, id: peer}
  - {type: Doc, id: by-a2, attrs: {creator: {__entity: {type: Agent, id: a2}}}}
"#;

const NOW: &str = "2026-11-29T10:00:00Z";

/// Both ways of keeping changes: beside the loaded entities, and folded in.
fn engines() -> [(Engine, bool); 2] {
    let build = |compact: bool| {
        let engine = Engine::builder()
            .schema(SCHEMA)
            .policies(POLICIES)
            .inventory(INVENTORY)
            .clock(Arc::new(FixedClock::at(NOW).unwrap()))
            .compaction(false)
            .build()
            .unwrap();
        (engine, compact)
    };
    [build(false), build(true)]
}

/// Folds pending changes in when the test asks for it.
fn settle(engine: &Engine, compact: bool) {
    if compact {
        engine.compact().unwrap();
    }
}

fn req(agent: &str, action: &str, doc: &str) -> AgentRequest {
    AgentRequest {
        agent: agent.into(),
        action: action.into(),
        resource: EntityRef::new("Doc", doc),
        task: None,
        on_behalf_of: None,
        credential: None,
        context: Default::default(),
        now: None,
    }
}

fn decide(engine: &Engine, r: &AgentRequest) -> (bool, Vec<String>) {
    let d = engine.check(&Request::Agent(r.clone())).unwrap();
    let mut reasons = d.reasons().to_vec();
    reasons.sort();
    (d.allowed(), reasons)
}

fn allowed(engine: &Engine, r: &AgentRequest) -> bool {
    decide(engine, r).0
}

#[test]
fn an_offboarded_team_member_is_denied() {
    for (engine, compact) in engines() {
        let direct = req("a1", "write", "plain");
        let nested = req("a4", "write", "plain");
        assert!(allowed(&engine, &direct));
        assert!(allowed(&engine, &nested), "a4 is in ops through g and sub");
        engine.offboard("a1", "admin").unwrap();
        engine.offboard("a4", "admin").unwrap();
        settle(&engine, compact);
        for r in [&direct, &nested] {
            let (ok, reasons) = decide(&engine, r);
            assert!(!ok, "offboarded {} still allowed: {reasons:?}", r.agent);
            assert!(!reasons.iter().any(|x| x == "ops-team-writes"));
        }
        // The team edges are not what denies: another member still writes.
        engine.reactivate("a2", "admin").unwrap();
        assert!(!allowed(&engine, &req("a2", "write", "plain")));
    }
}

#[test]
fn an_edit_reached_only_through_an_attribute_is_seen() {
    for (engine, compact) in engines() {
        // a1 reads a document whose creator is a2: a2's status decides.
        let r = req("a1", "read", "by-a2");
        assert!(allowed(&engine, &r));
        engine.suspend("a2", "admin").unwrap();
        settle(&engine, compact);
        assert!(!allowed(&engine, &r), "a2's suspension is not seen");
        engine.reactivate("a2", "admin").unwrap();
        settle(&engine, compact);
        assert!(allowed(&engine, &r));
        engine.offboard("a2", "admin").unwrap();
        settle(&engine, compact);
        assert!(!allowed(&engine, &r));
    }
}

#[test]
fn an_edit_reached_only_through_a_policy_literal_is_seen() {
    for (engine, compact) in engines() {
        let r = req("a1", "read", "plain");
        assert!(allowed(&engine, &r));
        engine.suspend("a3", "admin").unwrap();
        settle(&engine, compact);
        assert!(!allowed(&engine, &r), "Agent::\"a3\" in a policy is stale");
    }
}

#[test]
fn an_edit_reached_only_through_the_context_is_seen() {
    for (engine, compact) in engines() {
        let mut r = req("a1", "read", "peer");
        r.context.insert(
            "peer".into(),
            json!({"__entity": {"type": "Agent", "id": "a2"}}),
        );
        assert!(allowed(&engine, &r));
        engine.suspend("a2", "admin").unwrap();
        settle(&engine, compact);
        assert!(!allowed(&engine, &r), "the context's agent is stale");
    }
}

/// The Cedar form builds its context from typed values, not through Cedar's
/// JSON parser: an entity it names must still reach the request's entities.
#[test]
fn an_edit_reached_only_through_a_cedar_form_context_is_seen() {
    let peers = [
        json!({"__entity": {"type": "Agent", "id": "a2"}}),
        json!({"type": "Agent", "id": "a2"}),
    ];
    for peer in peers {
        for (engine, compact) in engines() {
            let r = Request::Cedar(CedarRequest {
                principal: EntityRef::new("Agent", "a1"),
                action: EntityRef::new("Action", "read"),
                resource: EntityRef::new("Doc", "peer"),
                context: [("peer".to_string(), peer.clone())].into_iter().collect(),
            });
            assert!(engine.check(&r).unwrap().allowed(), "{peer}");
            engine.suspend("a2", "admin").unwrap();
            settle(&engine, compact);
            let d = engine.check(&r).unwrap();
            assert!(!d.allowed(), "the context's agent is stale: {peer}");
        }
    }
}

#[test]
fn a_task_added_at_run_time_is_found_before_and_after_folding() {
    for (engine, compact) in engines() {
        let mut r = req("a1", "read", "by-a2");
        r.task = Some("t-new".into());
        assert!(!allowed(&engine, &r), "an unknown task is denied");
        engine
            .add_task(
                TaskSpec {
                    id: "t-new".into(),
                    agent: "a1".into(),
                    not_before: "2026-11-29T00:00:00Z".into(),
                    not_after: "2026-11-30T00:00:00Z".into(),
                    purpose: None,
                    on_behalf_of: None,
                },
                "admin",
            )
            .unwrap();
        settle(&engine, compact);
        assert!(allowed(&engine, &r));
        assert!(engine
            .entities()
            .iter()
            .any(|e| e.uid().id().unescaped() == "t-new"));
    }
}

/// A refused change leaves everything as it was: decisions, entities, revision.
#[test]
fn a_refused_change_changes_nothing() {
    for (engine, _) in engines() {
        engine.suspend("a2", "admin").unwrap();
        let requests = [
            req("a1", "write", "plain"),
            req("a1", "read", "by-a2"),
            req("a2", "read", "plain"),
        ];
        let before: Vec<_> = requests.iter().map(|r| decide(&engine, r)).collect();
        let entities = engine.entities();
        let revision = engine.policy_revision();
        engine.offboard("a3", "admin").unwrap();
        let after_a3: Vec<_> = requests.iter().map(|r| decide(&engine, r)).collect();
        let entities_a3 = engine.entities();
        let refused = [
            engine.offboard("nobody", "admin"),
            engine.suspend("a3", "admin"),
            engine.rotate_credential("c1", "2020-01-01T00:00:00Z", "admin"),
            engine.transfer_owner("a1", "nobody", "admin"),
            engine.reactivate("a3", "admin"),
            engine.add_task(
                TaskSpec {
                    id: "t1".into(),
                    agent: "a1".into(),
                    not_before: "2026-11-29T00:00:00Z".into(),
                    not_after: "2026-11-30T00:00:00Z".into(),
                    purpose: None,
                    on_behalf_of: None,
                },
                "admin",
            ),
        ];
        for r in refused {
            assert!(r.is_err());
        }
        let after: Vec<_> = requests.iter().map(|r| decide(&engine, r)).collect();
        assert_eq!(after, after_a3);
        assert!(engine.entities().deep_eq(&entities_a3));
        assert!(!entities.deep_eq(&entities_a3), "the offboarding applied");
        assert_eq!(before.len(), after.len());
        assert_eq!(engine.policy_revision(), revision);
    }
}

/// Readers racing a writer see the state before a change or after it, never
/// part of one: an offboarding revokes the credential and ends the agent in
/// one step, a suspension and a reactivation flip the agent.
#[test]
fn readers_see_a_change_whole_or_not_at_all() {
    for (engine, compact) in engines() {
        let mut with_cred = req("a1", "write", "plain");
        with_cred.credential = Some("c1".into());
        with_cred.task = Some("t1".into());
        let active = decide(&engine, &with_cred);
        assert!(active.0);
        engine.suspend("a1", "admin").unwrap();
        let suspended = decide(&engine, &with_cred);
        engine.reactivate("a1", "admin").unwrap();
        let stop = AtomicBool::new(false);
        let engine = &engine;
        let mut seen = std::collections::BTreeSet::new();
        std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    seen.push(decide(engine, &with_cred));
                }
                seen.push(decide(engine, &with_cred));
                seen
            });
            for i in 0..200 {
                if i % 2 == 0 {
                    engine.suspend("a1", "admin").unwrap();
                } else {
                    engine.reactivate("a1", "admin").unwrap();
                }
                if compact && i % 50 == 0 {
                    engine.compact().unwrap();
                }
            }
            engine.offboard("a1", "admin").unwrap();
            stop.store(true, Ordering::Relaxed);
            seen.extend(reader.join().unwrap());
        });
        let offboarded = decide(engine, &with_cred);
        assert!(!offboarded.0);
        for d in &seen {
            assert!(
                *d == active || *d == suspended || *d == offboarded,
                "a torn state: {d:?}"
            );
        }
        assert!(seen.contains(&offboarded), "the reader saw the last change");
    }
}
