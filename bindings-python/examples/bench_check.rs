//! The Rust side of `bench_check.py`: the same bundle and request, checked
//! through the typed API, timed the same way (median over chunks of calls).
//!
//! `cargo run --release -p agentauthz-python --example bench_check -- BUNDLE CHUNKS CALLS`
//! prints one JSON object of medians in nanoseconds per call.

use agentauthz::Request;
use serde_json::json;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Median over `chunks` of the mean time of `calls` runs of `f`, in ns.
fn time_per_call(chunks: usize, calls: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..calls {
        f(); // warm up
    }
    let samples = (0..chunks)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_nanos() as f64 / calls as f64
        })
        .collect();
    median(samples)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let bundle = args
        .get(1)
        .ok_or("usage: bench_check BUNDLE [CHUNKS] [CALLS]")?;
    let chunks: usize = args.get(2).map_or(Ok(200), |s| s.parse())?;
    let calls: usize = args.get(3).map_or(Ok(100), |s| s.parse())?;

    let engine = agentauthz::ffi::engine_load(bundle, None, true)?;
    let value = json!({
        "agent": "coder",
        "action": "read_file",
        "resource": {"type": "Repo", "id": "acme/api"},
        "context": {"input": {"path": "src/app.py"}},
        "now": "2026-11-29T10:00:00Z",
    });
    let request = Request::from_json_value(value.clone())?;
    let expected = engine.check(&request)?;
    if !expected.allowed() {
        return Err(format!("expected an allow, got {expected:?}").into());
    }

    let typed = time_per_call(chunks, calls, || {
        let d = engine.check(std::hint::black_box(&request));
        std::hint::black_box(d.is_ok());
    });
    let from_json = time_per_call(chunks, calls, || {
        let d = Request::from_json_value(value.clone()).and_then(|r| engine.check(&r));
        std::hint::black_box(d.is_ok());
    });
    // A request the engine denies before Cedar runs: little beyond the call itself.
    let mut unknown = value.clone();
    unknown["action"] = json!("no_such_tool");
    let unknown = Request::from_json_value(unknown)?;
    let early_deny = time_per_call(chunks, calls, || {
        let d = engine.check(std::hint::black_box(&unknown));
        std::hint::black_box(d.is_ok());
    });
    println!(
        "{}",
        json!({"rust_check_typed_ns": typed, "rust_check_from_json_ns": from_json,
               "rust_check_early_deny_ns": early_deny})
    );
    Ok(())
}
