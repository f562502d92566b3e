//! Criterion benchmarks: `Engine::check` against Cedar's `Authorizer::is_authorized`
//! with a prebuilt policy set, entities and requests, on the generated workloads
//! at 200, 1,000 and 10,000 policies; and loading each bundle.
//!
//! The workloads come from `agentauthz-bench gen` (bench/); run
//! `make -C bench criterion`, which generates them first. By hand:
//!   AGENTAUTHZ_BENCH_WORKLOADS=target/bench-workloads cargo bench -p agentauthz --bench check
//! `AGENTAUTHZ_BENCH_SIZES=s200,s1k` picks sizes (default: every one generated).
//! Each iteration decides the next request of the workload, round robin, so a
//! sample averages over the request mix.

use agentauthz::{Engine, Request};
use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicyId, PolicySet, Schema};
use criterion::{BatchSize, Criterion};
use serde_json::Value;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

type Res<T> = Result<T, String>;

fn read(path: &Path) -> Res<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn lines(path: &Path) -> Res<Vec<String>> {
    Ok(read(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect())
}

fn uid(v: &Value) -> Res<EntityUid> {
    EntityUid::from_json(v.clone()).map_err(|e| format!("{v}: {e}"))
}

/// The plain Cedar side of a workload, everything parsed once.
struct Cedar {
    policies: PolicySet,
    entities: Entities,
    requests: Vec<cedar_policy::Request>,
}

fn load_cedar(dir: &Path) -> Res<Cedar> {
    let (schema, _) = Schema::from_cedarschema_str(&read(&dir.join("cedar/schema.cedarschema"))?)
        .map_err(|e| e.to_string())?;
    let parsed = PolicySet::from_str(&read(&dir.join("cedar/policies.cedar"))?)
        .map_err(|e| e.to_string())?;
    let mut policies = PolicySet::new();
    for p in parsed.policies() {
        let id = p.annotation("id").ok_or("policy without @id")?.to_string();
        policies
            .add(p.new_id(PolicyId::new(id)))
            .map_err(|e| e.to_string())?;
    }
    let entities = Entities::from_json_str(&read(&dir.join("cedar/entities.json"))?, Some(&schema))
        .map_err(|e| e.to_string())?;
    let mut requests = Vec::new();
    for line in lines(&dir.join("requests-cedar.jsonl"))? {
        let v: Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let action = uid(&v["action"])?;
        let context = Context::from_json_value(v["context"].clone(), Some((&schema, &action)))
            .map_err(|e| e.to_string())?;
        requests.push(
            cedar_policy::Request::new(
                uid(&v["principal"])?,
                action,
                uid(&v["resource"])?,
                context,
                Some(&schema),
            )
            .map_err(|e| e.to_string())?,
        );
    }
    Ok(Cedar {
        policies,
        entities,
        requests,
    })
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn bench_size(c: &mut Criterion, name: &str, dir: &Path) -> Res<()> {
    let rss_before = rss_kb();
    let engine = agentauthz::ffi::engine_load(&dir.join("bundle").to_string_lossy(), None, true)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "{name}: {} policies; RSS grew by {:.1} MiB loading the engine (bench/RESULTS.md has exact heap figures)",
        engine.policies().len(),
        (rss_kb().saturating_sub(rss_before)) as f64 / 1024.0
    );
    let requests = lines(&dir.join("requests.jsonl"))?
        .iter()
        .map(|l| Request::from_json_str(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let cedar = load_cedar(dir)?;
    let authorizer = Authorizer::new();

    let mut group = c.benchmark_group(format!("check/{name}"));
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut i = 0usize;
    group.bench_function("agentauthz Engine::check", |b| {
        b.iter(|| {
            i = (i + 1) % requests.len();
            black_box(engine.check(black_box(&requests[i])))
        })
    });
    let mut j = 0usize;
    group.bench_function("cedar Authorizer::is_authorized", |b| {
        b.iter(|| {
            j = (j + 1) % cedar.requests.len();
            black_box(authorizer.is_authorized(
                black_box(&cedar.requests[j]),
                &cedar.policies,
                &cedar.entities,
            ))
        })
    });
    group.finish();
    drop(engine);

    let mut group = c.benchmark_group(format!("load/{name}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(10));
    let bundle = dir.join("bundle");
    group.bench_function("Engine::load", |b| {
        b.iter_batched(
            || bundle.clone(),
            |path| black_box(Engine::load(path).map(|e| e.policies().len())),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    Ok(())
}

fn workloads_dir() -> PathBuf {
    match std::env::var_os("AGENTAUTHZ_BENCH_WORKLOADS") {
        Some(d) => PathBuf::from(d),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
            target.join("bench-workloads")
        }
    }
}

fn main() {
    let dir = workloads_dir();
    let wanted = std::env::var("AGENTAUTHZ_BENCH_SIZES").unwrap_or_else(|_| "s200,s1k,s10k".into());
    let mut c = Criterion::default().configure_from_args();
    let mut ran = 0;
    for name in wanted.split(',').filter(|s| !s.is_empty()) {
        let w = dir.join(name);
        if !w.join("workload.json").is_file() {
            eprintln!(
                "{name}: no workload in {} (make -C bench workloads)",
                w.display()
            );
            continue;
        }
        match bench_size(&mut c, name, &w) {
            Ok(()) => ran += 1,
            Err(e) => {
                eprintln!("{name}: {e}");
                std::process::exit(1);
            }
        }
    }
    if ran == 0 {
        eprintln!(
            "no workloads found under {}: run `make -C bench criterion` (it generates them)",
            dir.display()
        );
        std::process::exit(1);
    }
    c.final_summary();
}
