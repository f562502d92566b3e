//! Drivers that measure what a feature costs rather than a peer: variants of
//! one engine timed call by call, interleaved on the same requests (a session
//! token vs the agent id, `on_error = "deny"` vs `"skip"`, a decision log with
//! and without a MAC), throughput with 1 and 2 threads, and run-time changes
//! at the workload's size.

use crate::measure::{decision_key, Budget, Measured};
use agentauthz::audit::FileOptions;
use agentauthz::integrity::{IntegrityKey, IntegrityKeys};
use agentauthz::session::SessionKeys;
use agentauthz::{
    AgentRequest, Bundle, Decision, DecisionLog, Engine, FixedClock, GrantRequest, OnError,
    Request, Result as AzResult, SessionRequest, Source,
};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;
type Call<'a> = Box<dyn FnMut(usize) -> AzResult<Decision> + 'a>;

fn key(d: &Decision) -> String {
    decision_key(d.allowed(), &mut d.reasons.clone())
}

/// Every variant on request `i`, in turn (the first variant rotating with
/// `i`, so none always runs on a cache warmed by another), until the budget
/// is spent; the first pass records decisions. Machine noise then falls on
/// every variant alike, which is what a difference of a few hundred
/// nanoseconds needs.
fn interleaved(n: usize, budget: &Budget, calls: &mut [Call<'_>]) -> Vec<Measured> {
    let k = calls.len();
    let mut out: Vec<Measured> = (0..k)
        .map(|_| Measured {
            samples_ns: Vec::new(),
            decisions: Vec::new(),
            errors: 0,
        })
        .collect();
    for i in 0..n.min(50) {
        for c in calls.iter_mut() {
            let _ = std::hint::black_box(c(i));
        }
    }
    let deadline = Duration::from_secs_f64(budget.seconds);
    let mut spent = Duration::ZERO;
    let mut i = 0;
    while !(out[0].samples_ns.len() >= budget.max_calls
        || (spent >= deadline && out[0].samples_ns.len() >= budget.min_calls))
    {
        let idx = i % n;
        for j in 0..k {
            let v = (i + j) % k;
            let t0 = Instant::now();
            let r = calls[v](idx);
            let dt = t0.elapsed();
            let r = std::hint::black_box(r);
            spent += dt;
            let m = &mut out[v];
            m.samples_ns
                .push(u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX));
            if i < n {
                match r {
                    Ok(d) => m.decisions.push(key(&d)),
                    Err(_) => {
                        m.errors += 1;
                        m.decisions.push("error|".into());
                    }
                }
            }
        }
        i += 1;
    }
    out
}

fn variants_value(
    impl_name: &str,
    workload: &str,
    setup_ms: f64,
    names: &[(&str, &str)],
    measured: &[Measured],
    extra: Value,
) -> Value {
    let rows: Vec<Value> = names
        .iter()
        .zip(measured)
        .map(|((n, l), m)| m.to_value(n, l, workload, setup_ms))
        .collect();
    json!({"impl": impl_name, "kind": "variants", "workload": workload,
           "setup_ms": setup_ms, "variants": rows, "extra": extra})
}

fn bundle(dir: &Path) -> Res<Bundle> {
    Bundle::read_dir(dir.join("bundle")).map_err(|e| e.to_string())
}

fn agent_requests(dir: &Path) -> Res<Vec<AgentRequest>> {
    let text = std::fs::read_to_string(dir.join("requests.jsonl"))
        .map_err(|e| format!("requests.jsonl: {e}"))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| e.to_string()))
        .collect()
}

/// Each engine timed on the workload's agent requests, interleaved.
fn each_on_requests(dir: &Path, budget: &Budget, engines: &[&Engine]) -> Res<Vec<Measured>> {
    let requests: Vec<Request> = agent_requests(dir)?
        .into_iter()
        .map(Request::Agent)
        .collect();
    let requests = &requests;
    let mut calls: Vec<Call<'_>> = engines
        .iter()
        .map(|e| Box::new(move |i: usize| e.check(&requests[i])) as Call<'_>)
        .collect();
    Ok(interleaved(requests.len(), budget, &mut calls))
}

/// The workload with forbids that can error, `on_error = "skip"` vs `"deny"`.
pub fn fail_closed(dir: &Path, name: &str, budget: &Budget) -> Res<Value> {
    let t0 = Instant::now();
    let build = |on_error| -> Res<Engine> {
        let mut b = bundle(dir)?;
        b.policies.push(Source::new(
            "90-fallible.cedar",
            crate::workload::FALLIBLE_POLICIES,
        ));
        Engine::builder()
            .bundle(b)
            .trust_caller_time(true)
            .on_error(on_error)
            .build()
            .map_err(|e| e.to_string())
    };
    let skip = build(OnError::Skip)?;
    let deny = build(OnError::Deny)?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3 / 2.0;
    let m = each_on_requests(dir, budget, &[&skip, &deny])?;
    Ok(variants_value(
        "agentauthz-rust-failclosed",
        name,
        setup_ms,
        &[
            (
                "on-error-skip",
                "Engine::check, on_error = \"skip\" (Cedar's rule)",
            ),
            (
                "on-error-deny",
                "Engine::check, on_error = \"deny\" (fail closed, the default)",
            ),
        ],
        &m,
        json!({"fallible_policies": 2}),
    ))
}

/// Two forbids that never hold, added to the workload: in `plain` they read
/// nothing; in `counted` they read `context.usage` (so every check sums the
/// agent's usage windows and carries them) and one is an `@approval` forbid
/// (so the engine looks for approvals when it would hold); `absent` adds
/// neither. `counted` over `absent` is what rate and budget limits and
/// approvals that are not reached cost a check.
pub fn limits(dir: &Path, name: &str, budget: &Budget) -> Res<Value> {
    const PLAIN: &str = "\
@id(\"bench/cap\") forbid (principal, action, resource) unless { true };
@id(\"bench/approval\") @approval(\"owner\") forbid (principal, action, resource) unless { true };
";
    const COUNTED: &str = "\
@id(\"bench/cap\") forbid (principal, action, resource) when { context.usage.calls_1d >= 1000000000 };
@id(\"bench/approval\") @approval(\"owner\") forbid (principal, action, resource)
when { context.usage.action.calls_1h >= 1000000000 };
";
    let t0 = Instant::now();
    let build = |policies: &str| -> Res<Engine> {
        let mut b = bundle(dir)?;
        b.policies.push(Source::new("90-limits.cedar", policies));
        Engine::builder()
            .bundle(b)
            .trust_caller_time(true)
            .build()
            .map_err(|e| e.to_string())
    };
    let absent = build("")?;
    let plain = build(PLAIN)?;
    let counted = build(COUNTED)?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3 / 3.0;
    let m = each_on_requests(dir, budget, &[&absent, &plain, &counted])?;
    Ok(variants_value(
        "agentauthz-rust-limits",
        name,
        setup_ms,
        &[
            ("limits-absent", "Engine::check, no added forbids"),
            (
                "limits-none",
                "Engine::check, two forbids that read nothing",
            ),
            (
                "limits-usage-approval",
                "Engine::check, the same forbids reading context.usage, one of them @approval",
            ),
        ],
        &m,
        json!({}),
    ))
}

/// No decision log, a file log, and a file log whose records carry a MAC
/// (an `[integrity]` HMAC key).
pub fn logging(dir: &Path, name: &str, budget: &Budget) -> Res<Value> {
    let tmp = std::env::temp_dir().join(format!("agentauthz-bench-log-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let result = (|| {
        let t0 = Instant::now();
        let build = |log: Option<DecisionLog>| -> Res<Engine> {
            let mut b = Engine::builder()
                .bundle(bundle(dir)?)
                .trust_caller_time(true);
            if let Some(log) = log {
                b = b.decision_log(log);
            }
            b.build().map_err(|e| e.to_string())
        };
        let key = IntegrityKey::new("bench", &[0x5a; 32]).map_err(|e| e.to_string())?;
        let none = build(None)?;
        let file = build(Some(
            DecisionLog::file_with(FileOptions::new(tmp.join("plain.jsonl")))
                .map_err(|e| e.to_string())?,
        ))?;
        let mac = build(Some(
            DecisionLog::file_with(
                FileOptions::new(tmp.join("mac.jsonl")).keys(IntegrityKeys::new(key)),
            )
            .map_err(|e| e.to_string())?,
        ))?;
        let receiver = crate::exporter::Receiver::start()?;
        let exporting = |dir: &str, durable: bool| -> Res<Engine> {
            build(Some(crate::exporter::otlp_log(
                &tmp.join(dir),
                &receiver,
                durable,
            )?))
        };
        let otlp = exporting("spool", true)?;
        let buffered = exporting("spool-buffered", false)?;
        let setup_ms = t0.elapsed().as_secs_f64() * 1e3 / 5.0;
        let m = each_on_requests(dir, budget, &[&none, &file, &mac, &otlp, &buffered])?;
        file.flush_decision_log().map_err(|e| e.to_string())?;
        mac.flush_decision_log().map_err(|e| e.to_string())?;
        let size = |f: &str| std::fs::metadata(tmp.join(f)).map(|m| m.len()).unwrap_or(0);
        let extra = json!({"plain_bytes": size("plain.jsonl"), "mac_bytes": size("mac.jsonl")});
        Ok(variants_value(
            "agentauthz-rust-log",
            name,
            setup_ms,
            &[
                ("log-none", "Engine::check, no decision log"),
                ("log-file", "Engine::check, decision log to a file"),
                ("log-file-mac", "Engine::check, decision log to a file with an [integrity] key (MAC per record)"),
                ("log-otlp", "Engine::check, [log.otlp] exporter (durable spool, OTLP/HTTP to a receiver in the bench)"),
                ("log-otlp-buffered", "Engine::check, [log.otlp] exporter with durable = false (spool buffered in memory)"),
            ],
            &m,
            extra,
        ))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// The same requests by agent id and with a session token issued once per
/// agent, on one engine at a fixed time on the workload's day (a session is
/// always judged at the engine clock). Requests drop their task (a token
/// carries it) and their time; those whose agent may not hold a token
/// (suspended, offboarded, no active owner) are left out.
pub fn sessions(dir: &Path, name: &str, budget: &Budget) -> Res<Value> {
    let t0 = Instant::now();
    let clock = FixedClock::at("2026-11-29T12:00:00Z").ok_or("clock")?;
    let engine = Engine::builder()
        .bundle(bundle(dir)?)
        .clock(Arc::new(clock))
        .session_keys(SessionKeys::generate("bench").map_err(|e| e.to_string())?)
        .config("[sessions]\naudience = \"bench\"\n")
        .build()
        .map_err(|e| e.to_string())?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3;
    let mut tokens = std::collections::HashMap::new();
    let mut by_id = Vec::new();
    let mut by_token = Vec::new();
    let mut refused = 0usize;
    for mut r in agent_requests(dir)? {
        r.task = None;
        r.now = None;
        let token = match tokens.get(&r.agent) {
            Some(t) => Some(Clone::clone(t)),
            None => match engine.issue_session(&r.agent, None, None, None) {
                Ok((t, _)) => {
                    tokens.insert(r.agent.clone(), t.clone());
                    Some(t)
                }
                Err(_) => None,
            },
        };
        let Some(token) = token else {
            refused += 1;
            continue;
        };
        by_token.push(SessionRequest {
            session: token,
            action: r.action.clone(),
            resource: r.resource.clone(),
            on_behalf_of: r.on_behalf_of.clone(),
            credential: r.credential.clone(),
            context: r.context.clone(),
            now: None,
            audience: None,
        });
        by_id.push(Request::Agent(r));
    }
    if by_id.is_empty() {
        return Err("no agent could hold a session token".into());
    }
    let mut calls: Vec<Call<'_>> = vec![
        Box::new(|i| engine.check(&by_id[i])),
        Box::new(|i| engine.check_session(&by_token[i])),
    ];
    let m = interleaved(by_id.len(), budget, &mut calls);
    Ok(variants_value(
        "agentauthz-rust-session",
        name,
        setup_ms,
        &[
            (
                "agent-id",
                "Engine::check by agent id (engine clock, no task)",
            ),
            (
                "session",
                "Engine::check_session with a token issued once per agent",
            ),
        ],
        &m,
        json!({"requests": by_id.len(), "left_out": refused, "tokens": tokens.len()}),
    ))
}

/// Decisions per second with 1 and 2 threads sharing one engine, each thread
/// going through the requests from its own offset for the whole budget.
pub fn threads(dir: &Path, name: &str, budget: &Budget) -> Res<Value> {
    let t0 = Instant::now();
    let engine = Engine::builder()
        .bundle(bundle(dir)?)
        .trust_caller_time(true)
        .build()
        .map_err(|e| e.to_string())?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3;
    let requests: Vec<Request> = agent_requests(dir)?
        .into_iter()
        .map(Request::Agent)
        .collect();
    let n = requests.len();
    for r in requests.iter().take(50) {
        let _ = engine.check(r);
    }
    let mut results = Vec::new();
    for threads in [1usize, 2] {
        let stop = AtomicBool::new(false);
        let total = AtomicU64::new(0);
        let errors = AtomicU64::new(0);
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let (engine, requests, stop, total, errors) =
                    (&engine, &requests, &stop, &total, &errors);
                s.spawn(move || {
                    let mut i = t * n / threads.max(1);
                    let mut calls = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if std::hint::black_box(engine.check(&requests[i % n])).is_err() {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        calls += 1;
                        i += 1;
                    }
                    total.fetch_add(calls, Ordering::Relaxed);
                });
            }
            std::thread::sleep(Duration::from_secs_f64(budget.seconds));
            stop.store(true, Ordering::Relaxed);
        });
        let secs = start.elapsed().as_secs_f64();
        let calls = total.load(Ordering::Relaxed);
        results.push(json!({"threads": threads, "calls": calls, "seconds": secs,
                            "per_sec": calls as f64 / secs, "errors": errors.load(Ordering::Relaxed)}));
    }
    Ok(json!({"impl": "agentauthz-rust-threads", "kind": "threads",
              "label": "agentauthz Rust Engine::check, one engine shared by N threads",
              "workload": name, "setup_ms": setup_ms, "results": results}))
}

fn inventory_ids(dir: &Path, list: &str, active_only: bool) -> Res<Vec<String>> {
    let text = std::fs::read_to_string(dir.join("bundle/inventory.json"))
        .map_err(|e| format!("inventory.json: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(v[list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| !active_only || x["status"] == "active")
                .filter_map(|x| x["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

/// Run-time changes through the public API on the loaded workload, each timed
/// call by call: suspend, reactivate, offboard, rotate a credential, transfer
/// an owner, grant and revoke. Each touches another agent (or credential)
/// every call, up to `--max-calls` calls or a sixth of the budget per change.
pub fn lifecycle(dir: &Path, name: &str, budget: &Budget) -> Res<Value> {
    let t0 = Instant::now();
    let engine = Engine::builder()
        .bundle(bundle(dir)?)
        .trust_caller_time(true)
        .build()
        .map_err(|e| e.to_string())?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3;
    let entities = engine.entities().iter().count();
    let agents = inventory_ids(dir, "agents", true)?;
    let credentials = inventory_ids(dir, "credentials", false)?;
    let users = inventory_ids(dir, "users", false)?;
    let first = agent_requests(dir)?
        .into_iter()
        .next()
        .ok_or("no requests")?;
    if agents.len() < 8 || credentials.is_empty() || users.is_empty() {
        return Err("too few agents, credentials or users".into());
    }
    let per_op = Duration::from_secs_f64(budget.seconds / 6.0);
    let reps = budget.max_calls.min(agents.len() / 4).max(1);
    let mut ops = Vec::new();
    let mut time_op = |op: &str, reps: usize, f: &mut dyn FnMut(usize) -> AzResult<()>| {
        let mut samples = Vec::new();
        let mut errors = 0usize;
        let start = Instant::now();
        for i in 0..reps {
            if i >= budget.min_calls && start.elapsed() >= per_op {
                break;
            }
            let t = Instant::now();
            let r = f(i);
            samples.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
            errors += usize::from(r.is_err());
        }
        let samples_len = samples.len();
        let m = Measured {
            samples_ns: samples,
            decisions: Vec::new(),
            errors,
        };
        let mut v = m.to_value(op, op, name, setup_ms);
        if let Some(o) = v.as_object_mut() {
            o.remove("decisions");
        }
        ops.push(v);
        samples_len
    };
    // Disjoint agents per change, so none acts on an agent another changed.
    let quarter = agents.len() / 4;
    let slice = |k: usize, i: usize| &agents[k * quarter + i % quarter.max(1)];
    // Reactivate exactly the agents suspended before.
    let suspended = time_op("suspend", reps, &mut |i| {
        engine.suspend(slice(0, i), "bench")
    });
    time_op("reactivate", suspended, &mut |i| {
        engine.reactivate(slice(0, i), "bench")
    });
    time_op("offboard", reps, &mut |i| {
        engine.offboard(slice(1, i), "bench")
    });
    time_op("rotate_credential", reps, &mut |i| {
        engine.rotate_credential(
            &credentials[i % credentials.len()],
            "2027-01-01T00:00:00Z",
            "bench",
        )
    });
    time_op("transfer_owner", reps, &mut |i| {
        engine.transfer_owner(slice(2, i), &users[(i * 7 + 1) % users.len()], "bench")
    });
    time_op("grant", reps, &mut |i| {
        engine
            .grant(GrantRequest {
                agent: slice(3, i).clone(),
                actions: vec![first.action.clone()],
                resource: first.resource.clone(),
                ttl_seconds: Some(600),
                until: None,
                starts: None,
                task: None,
                reason: "bench".into(),
                granted_by: "bench".into(),
            })
            .map(drop)
    });
    Ok(json!({"impl": "agentauthz-rust-lifecycle", "kind": "ops",
              "label": "agentauthz Rust run-time changes (public API)",
              "workload": name, "entities": entities, "setup_ms": setup_ms, "ops": ops}))
}
