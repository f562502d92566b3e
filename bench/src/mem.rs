//! agentauthz-bench-mem: load time, heap and resident memory of a loaded engine.
//!
//!   agentauthz-bench-mem --bundle DIR [--variant full|policies|entities|empty] [--loads N]
//!
//! Variants separate what policies and entities cost: `policies` drops the
//! inventory, `entities` replaces the policies with one trivial permit, `empty`
//! does both. Prints one JSON object. Heap is counted by a wrapping global
//! allocator (bytes live while the engine is, after the bundle texts read for
//! it are dropped); RSS is read from /proc/self/status.

use agentauthz::{Bundle, Engine, Source};
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::process::ExitCode;
use std::time::Instant;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const TRIVIAL: &str =
    "@id(\"bench/trivial\")\npermit (principal, action, resource) when { false };\n";

fn status_kb(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn bundle(dir: &str, variant: &str) -> Result<Bundle, String> {
    let mut b = Bundle::read_dir(dir).map_err(|e| e.to_string())?;
    match variant {
        "full" => {}
        "policies" => b.inventory = None,
        "entities" => b.policies = vec![Source::new("trivial.cedar", TRIVIAL)],
        "empty" => {
            b.inventory = None;
            b.policies = vec![Source::new("trivial.cedar", TRIVIAL)];
        }
        other => return Err(format!("unknown --variant {other}")),
    }
    Ok(b)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agentauthz-bench-mem: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |k: &str| {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let dir = opt("--bundle").ok_or("missing --bundle")?;
    let variant = opt("--variant").unwrap_or_else(|| "full".into());
    let loads: usize = opt("--loads")
        .map(|s| s.parse().map_err(|_| format!("--loads: {s}")))
        .transpose()?
        .unwrap_or(1);

    let rss_before = status_kb("VmRSS:").unwrap_or(0);
    let region = Region::new(GLOBAL);
    let b = bundle(&dir, &variant)?;
    let t0 = Instant::now();
    let engine = Engine::from_bundle(b).map_err(|e| e.to_string())?;
    let first_ms = t0.elapsed().as_secs_f64() * 1e3;
    let stats = region.change();
    let heap = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
    let rss_after = status_kb("VmRSS:").unwrap_or(0);
    let hwm = status_kb("VmHWM:").unwrap_or(0);

    // More loads (file reading included), for a load time less noisy than one.
    let mut load_ms = vec![first_ms];
    for _ in 1..loads {
        let t = Instant::now();
        let b = bundle(&dir, &variant)?;
        let e = Engine::from_bundle(b).map_err(|e| e.to_string())?;
        load_ms.push(t.elapsed().as_secs_f64() * 1e3);
        drop(e);
    }
    load_ms.sort_by(f64::total_cmp);
    let median = load_ms[load_ms.len() / 2];
    let policies = engine.policies().len();
    drop(engine);
    println!(
        "{}",
        json!({
            "bundle": dir,
            "variant": variant,
            "policies": policies,
            "heap_bytes": heap,
            "rss_delta_kb": rss_after.saturating_sub(rss_before),
            "rss_kb": rss_after,
            "peak_rss_kb": hwm,
            "load_ms": median,
            "load_ms_all": load_ms,
        })
    );
    Ok(())
}
