//! Incremental changes ≡ a full rebuild: random sequences of lifecycle
//! operations applied to a running engine decide every request exactly as an
//! engine freshly built from an inventory that already contains the changes,
//! whether the changes are kept beside the compiled entities or folded in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{AgentRequest, Engine, EntityRef, FixedClock, Request, TaskSpec};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

const SCHEMA: &str = r#"
entity Folder in [Agent];
entity Doc in [Folder];
action "read" appliesTo { principal: [Agent], resource: [Doc] };
"#;

const POLICIES: &str = r#"
@id("own-docs")
permit (principal, action == Action::"read", resource)
when { resource in principal && principal.status == "active" };

@id("read-with-owner")
permit (principal, action == Action::"read", resource)
when { principal has owner && principal.owner.active };

@id("no-reads-for-u1-agents")
forbid (principal, action == Action::"read", resource == Doc::"secret")
when { principal has owner && principal.owner == User::"u1" };

@id("backfill-tasks-read-secret")
permit (principal, action == Action::"read", resource == Doc::"secret")
when { context has task && context.task has purpose && context.task.purpose == "backfill" };
"#;

const NOW: &str = "2026-11-29T10:00:00Z";
const AGENTS: usize = 4;
const USERS: [&str; 3] = ["u0", "u1", "u2"];

#[derive(Debug, Clone)]
enum Op {
    Suspend(usize),
    Reactivate(usize),
    Offboard(usize),
    Rotate(usize, i64),
    Transfer(usize, usize),
    AddTask(usize, i64, i64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..AGENTS).prop_map(Op::Suspend),
        (0..AGENTS).prop_map(Op::Reactivate),
        (0..AGENTS).prop_map(Op::Offboard),
        (0..AGENTS, -3i64..3).prop_map(|(a, d)| Op::Rotate(a, d)),
        (0..AGENTS, 0..USERS.len()).prop_map(|(a, u)| Op::Transfer(a, u)),
        (0..AGENTS, -3i64..3, 1i64..4, any::<bool>())
            .prop_map(|(a, s, l, b)| Op::AddTask(a, s, l, b)),
    ]
}

#[derive(Debug, Clone)]
struct Task {
    agent: usize,
    start: i64,
    end: i64,
    backfill: bool,
    revoked: bool,
}

/// The inventory as the test understands it.
#[derive(Debug, Clone)]
struct Model {
    status: Vec<&'static str>,
    owner: Vec<Option<usize>>,
    cred_expires: Vec<i64>,
    cred_revoked: Vec<bool>,
    tasks: BTreeMap<String, Task>,
}

fn hours(h: i64) -> String {
    agentauthz::format_millis(FixedClock::at(NOW).unwrap().0 + h * 3_600_000)
}

impl Model {
    fn new() -> Model {
        let mut tasks = BTreeMap::new();
        for a in 0..AGENTS {
            tasks.insert(
                format!("t{a}"),
                Task {
                    agent: a,
                    start: -1,
                    end: 1,
                    backfill: a % 2 == 0,
                    revoked: false,
                },
            );
        }
        Model {
            status: vec!["active", "active", "suspended", "active"],
            owner: vec![Some(0), Some(1), Some(0), None],
            cred_expires: vec![24, -24, 24, 24],
            cred_revoked: vec![false, false, false, true],
            tasks,
        }
    }

    /// Applies `op` if the engine should accept it; says whether it did.
    fn apply(&mut self, op: &Op, next_task: usize) -> bool {
        match *op {
            // Offboarding is final: every later change naming the agent is refused.
            Op::Suspend(a)
            | Op::Reactivate(a)
            | Op::Offboard(a)
            | Op::Rotate(a, _)
            | Op::Transfer(a, _)
            | Op::AddTask(a, ..)
                if self.status[a] == "offboarded" =>
            {
                false
            }
            Op::Suspend(a) => {
                self.status[a] = "suspended";
                true
            }
            Op::Reactivate(a) => {
                self.status[a] = "active";
                true
            }
            Op::Offboard(a) => {
                self.status[a] = "offboarded";
                self.cred_revoked[a] = true;
                for t in self.tasks.values_mut().filter(|t| t.agent == a) {
                    t.revoked = true;
                }
                true
            }
            Op::Rotate(a, d) => {
                if self.cred_revoked[a] || d <= 0 {
                    return false;
                }
                self.cred_expires[a] = d * 24;
                true
            }
            Op::Transfer(a, u) => {
                self.owner[a] = Some(u);
                true
            }
            Op::AddTask(a, s, l, backfill) => {
                self.tasks.insert(
                    format!("n{next_task}"),
                    Task {
                        agent: a,
                        start: s,
                        end: s + l,
                        backfill,
                        revoked: false,
                    },
                );
                true
            }
        }
    }

    fn inventory(&self) -> String {
        let mut y = String::from(
            "users:\n  - {id: u0}\n  - {id: u1}\n  - {id: u2, active: false}\nagents:\n",
        );
        for a in 0..AGENTS {
            let owner = self.owner[a]
                .map(|u| format!(", owner: {}", USERS[u]))
                .unwrap_or_default();
            y += &format!("  - {{id: a{a}, status: {}{owner}}}\n", self.status[a]);
        }
        y += "credentials:\n";
        for a in 0..AGENTS {
            y += &format!(
                "  - {{id: c{a}, agent: a{a}, kind: api_token, issued: \"{}\", expires: \"{}\", revoked: {}}}\n",
                hours(0),
                hours(self.cred_expires[a]),
                self.cred_revoked[a]
            );
        }
        let live = self.tasks.iter().filter(|(_, t)| !t.revoked);
        y += if live.clone().next().is_some() {
            "tasks:\n"
        } else {
            "tasks: []\n"
        };
        for (id, t) in live {
            let purpose = if t.backfill { "backfill" } else { "feature" };
            y += &format!(
                "  - {{id: {id}, agent: a{}, purpose: {purpose}, not_before: \"{}\", not_after: \"{}\"}}\n",
                t.agent,
                hours(t.start),
                hours(t.end)
            );
        }
        // `mine` descends from an agent (through a folder): a change to a0 must keep it `in` a0.
        y += "resources:\n  - {type: Doc, id: public}\n  - {type: Doc, id: secret}\n  - {type: Folder, id: f, parents: [{type: Agent, id: a0}]}\n  - {type: Doc, id: mine, parents: [{type: Folder, id: f}]}\n";
        y
    }
}

fn run(engine: &Engine, op: &Op, model: &Model, next_task: usize) -> bool {
    let by = "admin";
    let r = match *op {
        Op::Suspend(a) => engine.suspend(&format!("a{a}"), by),
        Op::Reactivate(a) => engine.reactivate(&format!("a{a}"), by),
        Op::Offboard(a) => engine.offboard(&format!("a{a}"), by),
        Op::Rotate(a, d) => engine.rotate_credential(&format!("c{a}"), &hours(d * 24), by),
        Op::Transfer(a, u) => engine.transfer_owner(&format!("a{a}"), USERS[u], by),
        Op::AddTask(a, s, l, backfill) => engine.add_task(
            TaskSpec {
                id: format!("n{next_task}"),
                agent: format!("a{a}"),
                not_before: hours(s),
                not_after: hours(s + l),
                purpose: Some(if backfill { "backfill" } else { "feature" }.into()),
                on_behalf_of: None,
            },
            by,
        ),
    };
    let _ = model;
    r.is_ok()
}

fn decisions(engine: &Engine, tasks: &[String]) -> Vec<(bool, Vec<String>)> {
    let mut out = Vec::new();
    for a in 0..AGENTS {
        for doc in ["public", "secret", "mine"] {
            for cred in [None, Some(format!("c{a}"))] {
                for task in std::iter::once(None).chain(tasks.iter().cloned().map(Some)) {
                    let r = AgentRequest {
                        agent: format!("a{a}"),
                        action: "read".into(),
                        resource: EntityRef::new("Doc", doc),
                        task,
                        on_behalf_of: None,
                        credential: cred.clone(),
                        context: Default::default(),
                        // The engines' clocks are fixed at NOW.
                        now: None,
                    };
                    let d = engine.check(&Request::Agent(r)).unwrap();
                    // A revoked task is denied by name; the rebuild does not know it.
                    let reasons = d
                        .reasons()
                        .iter()
                        .map(|r| r.replace("baseline/task-revoked", "baseline/unknown-task"))
                        .collect();
                    out.push((d.allowed(), reasons));
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn incremental_changes_equal_a_full_rebuild(ops in proptest::collection::vec(op(), 1..12)) {
        let clock = Arc::new(FixedClock::at(NOW).unwrap());
        let mut model = Model::new();
        let build = |inventory: String, automatic: bool| {
            Engine::builder()
                .schema(SCHEMA)
                .policies(POLICIES)
                .inventory(inventory)
                .clock(clock.clone())
                .compaction(automatic)
                .build()
                .unwrap()
        };
        // Changes folded into the compiled entities at once, and kept beside them.
        let engine = build(model.inventory(), true);
        let beside = build(model.inventory(), false);
        for (i, op) in ops.iter().enumerate() {
            let engine_ok = run(&engine, op, &model, i);
            let beside_ok = run(&beside, op, &model, i);
            let model_ok = model.apply(op, i);
            prop_assert_eq!(engine_ok, model_ok, "{:?}", op);
            prop_assert_eq!(beside_ok, model_ok, "{:?}", op);
        }
        let rebuilt = build(model.inventory(), true);
        let tasks: Vec<String> = model.tasks.keys().cloned().collect();
        let want = decisions(&rebuilt, &tasks);
        prop_assert_eq!(&decisions(&engine, &tasks), &want);
        prop_assert_eq!(&decisions(&beside, &tasks), &want);
        beside.compact().unwrap();
        prop_assert_eq!(&decisions(&beside, &tasks), &want);
        prop_assert!(beside.entities().deep_eq(&engine.entities()));
    }
}
