//! Criterion benchmarks: the cost of run-time changes (a grant, a suspension,
//! an offboarding) and of a check with a session token, on the generated
//! workloads (2,000, 10,000 and 50,000 entities).
//!
//!   AGENTAUTHZ_BENCH_WORKLOADS=target/bench-workloads cargo bench -p agentauthz --bench lifecycle
//! `AGENTAUTHZ_BENCH_SIZES=s200,s10k` picks sizes (default: every one generated).

use agentauthz::session::SessionKeys;
use agentauthz::{AgentRequest, Engine, GrantRequest, Request, SessionRequest};
use criterion::Criterion;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn workloads() -> Vec<(String, PathBuf)> {
    let Ok(root) = std::env::var("AGENTAUTHZ_BENCH_WORKLOADS") else {
        eprintln!("set AGENTAUTHZ_BENCH_WORKLOADS (make -C bench criterion does)");
        return Vec::new();
    };
    let wanted = std::env::var("AGENTAUTHZ_BENCH_SIZES").ok();
    ["s200", "s1k", "s10k"]
        .iter()
        .filter(|s| {
            wanted
                .as_deref()
                .is_none_or(|w| w.split(',').any(|x| x == **s))
        })
        .map(|s| (s.to_string(), PathBuf::from(&root).join(s).join("bundle")))
        .filter(|(_, p)| p.is_dir())
        .collect()
}

fn bench(c: &mut Criterion) {
    for (size, dir) in workloads() {
        let Ok(engine) = Engine::builder()
            .bundle(agentauthz::Bundle::read_dir(&dir).unwrap_or_default())
            .session_keys(SessionKeys::generate("bench").unwrap_or_default())
            .build()
        else {
            eprintln!("{size}: bundle does not load");
            continue;
        };
        let requests = std::fs::read_to_string(dir.join("../requests.jsonl")).unwrap_or_default();
        let Some(first) = requests
            .lines()
            .filter_map(|l| serde_json::from_str::<AgentRequest>(l).ok())
            .find(|r| {
                engine
                    .check(&Request::Agent(r.clone()))
                    .is_ok_and(|d| d.allowed())
            })
        else {
            continue;
        };
        let agents: Vec<String> = engine
            .entities()
            .iter()
            .filter(|e| e.uid().type_name().basename() == "Agent")
            .filter(|e| matches!(e.attr("status"), Some(Ok(cedar_policy::EvalResult::String(s))) if s == "active"))
            .map(|e| e.uid().id().unescaped().to_string())
            .collect();
        let entities = engine.entities().iter().count();
        let mut group = c.benchmark_group(format!("lifecycle/{size} ({entities} entities)"));
        group
            .sample_size(20)
            .measurement_time(Duration::from_secs(8));
        group.bench_function("grant", |b| {
            b.iter(|| {
                let g = engine.grant(GrantRequest {
                    agent: first.agent.clone(),
                    actions: vec![first.action.clone()],
                    resource: first.resource.clone(),
                    ttl_seconds: Some(600),
                    until: None,
                    starts: None,
                    task: None,
                    reason: "bench".into(),
                    granted_by: "bench".into(),
                });
                if let Ok(g) = g {
                    let _ = engine.revoke(&g.id, "bench");
                }
            })
        });
        let next = AtomicUsize::new(0);
        group.bench_function("suspend", |b| {
            b.iter(|| {
                let a = &agents[next.fetch_add(1, Ordering::Relaxed) % agents.len()];
                black_box(engine.suspend(a, "bench").is_ok());
            })
        });
        group.bench_function("offboard", |b| {
            b.iter(|| {
                let a = &agents[next.fetch_add(1, Ordering::Relaxed) % agents.len()];
                black_box(engine.offboard(a, "bench").is_ok());
            })
        });
        let fresh = Engine::builder()
            .bundle(agentauthz::Bundle::read_dir(&dir).unwrap_or_default())
            .session_keys(SessionKeys::generate("bench").unwrap_or_default())
            .config("[sessions]\naudience = \"bench\"\n")
            .build();
        if let Ok(fresh) = fresh {
            if let Ok((token, _)) = fresh.issue_session(&first.agent, None, None, Some("bench")) {
                let request = SessionRequest {
                    session: token,
                    action: first.action.clone(),
                    resource: first.resource.clone(),
                    on_behalf_of: None,
                    credential: None,
                    context: first.context.clone(),
                    // A session check is always at the engine clock.
                    now: None,
                    audience: None,
                };
                group.bench_function("check_session", |b| {
                    b.iter(|| black_box(fresh.check_session(&request).is_ok()))
                });
                let mut plain = first.clone();
                plain.now = None;
                let plain = Request::Agent(plain);
                group.bench_function("check (same request, no token)", |b| {
                    b.iter(|| black_box(fresh.check(&plain).is_ok()))
                });
            }
        }
        group.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
