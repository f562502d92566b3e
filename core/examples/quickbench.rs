#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use agentauthz::{AgentRequest, Engine, EntityRef, Request};
use std::fmt::Write;
use std::time::Instant;

fn main() {
    let n_actions = 20;
    let mut schema = String::from(
        "entity Folder in [Folder];\nentity Doc in [Folder] { owner: User, level: Long };\n",
    );
    for a in 0..n_actions {
        writeln!(schema, "action \"a{a}\" appliesTo {{ principal: [Agent], resource: [Doc], context: {{ source_ip?: ipaddr, endpoint?: String, input?: {{ size?: Long }} }} }};").unwrap();
    }
    let mut pol = String::new();
    for i in 0..200 {
        let a = i % n_actions;
        let g = i % 10;
        let f = i % 40;
        if i % 10 == 9 {
            writeln!(pol, "@id(\"p{i}\")\nforbid (principal in AgentGroup::\"g{g}\", action == Action::\"a{a}\", resource in Folder::\"f{f}\") when {{ context has source_ip && !context.source_ip.isInRange(ip(\"10.0.0.0/8\")) }};").unwrap();
        } else {
            writeln!(pol, "@id(\"p{i}\")\npermit (principal in AgentGroup::\"g{g}\", action in [Action::\"a{a}\", Action::\"a{}\"], resource in Folder::\"f{f}\") when {{ principal.kind == \"ci\" && resource.level < 5 && context.now < datetime(\"2027-01-01\") }};", (a + 1) % n_actions).unwrap();
        }
    }
    let mut inv = String::from("teams: []\nusers:\n");
    for u in 0..100 {
        writeln!(inv, "  - {{id: u{u}}}").unwrap();
    }
    inv.push_str("agent_groups:\n");
    for g in 0..10 {
        writeln!(inv, "  - {{id: g{g}}}").unwrap();
    }
    inv.push_str("agents:\n");
    for a in 0..400 {
        writeln!(
            inv,
            "  - {{id: ag{a}, owner: u{}, kind: ci, groups: [g{}]}}",
            a % 100,
            a % 10
        )
        .unwrap();
    }
    inv.push_str("resources:\n");
    for f in 0..40 {
        writeln!(
            inv,
            "  - {{type: Folder, id: f{f}, parents: [{}]}}",
            if f >= 10 {
                format!("{{type: Folder, id: f{}}}", f / 4)
            } else {
                String::new()
            }
        )
        .unwrap();
    }
    for d in 0..1460 {
        writeln!(inv, "  - {{type: Doc, id: d{d}, attrs: {{owner: {{type: User, id: u{}}}, level: {}}}, parents: [{{type: Folder, id: f{}}}]}}", d % 100, d % 7, d % 40).unwrap();
    }
    let t = Instant::now();
    let engine = Engine::from_strings(&schema, &pol, Some(&inv)).unwrap();
    println!("load: {:?}", t.elapsed());
    let reqs: Vec<Request> = (0..2000).map(|i| Request::Agent(AgentRequest {
        agent: format!("ag{}", i * 7 % 400),
        action: format!("a{}", i * 3 % n_actions),
        resource: EntityRef::new("Doc", format!("d{}", i * 13 % 1460)),
        task: None, on_behalf_of: None, credential: None,
        context: serde_json::json!({"source_ip": if i % 5 == 0 { "192.168.1.1" } else { "10.1.2.3" }, "endpoint": "vpce-1", "input": {"size": i}}).as_object().unwrap().clone(),
        now: Some("2026-11-29T10:00:00Z".into()),
    })).collect();
    let mut allow = 0;
    for r in &reqs {
        if engine.check(r).unwrap().allowed() {
            allow += 1;
        }
    }
    let mut times = Vec::new();
    for _ in 0..3 {
        for r in &reqs {
            let t = Instant::now();
            let d = engine.check(r).unwrap();
            times.push(t.elapsed().as_nanos());
            std::hint::black_box(d);
        }
    }
    times.sort();
    println!(
        "check p50 {} us p99 {} us; allowed {allow}/{}",
        times[times.len() / 2] / 1000,
        times[times.len() * 99 / 100] / 1000,
        reqs.len()
    );
}
