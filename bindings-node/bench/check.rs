//! The Rust half of `bench/check.js`: times the same `check` the addon makes,
//! on the same bundle and request, and prints the medians as JSON.
//!
//! `cargo run --release -p agentauthz-node --example check-bench -- BUNDLE_DIR REQUEST_JSON SAMPLES BATCH`

use agentauthz::{ffi, Engine, Request};
use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

/// The mean time of one call in a batch of `batch` calls, over `samples` batches,
/// in ns: (median, minimum).
fn time_ns(samples: usize, batch: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..batch * 10 {
        f();
    }
    let mut means: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let median = means.get(means.len() / 2).copied().unwrap_or(f64::NAN);
    let min = means.first().copied().unwrap_or(f64::NAN);
    (median, min)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, bundle, request, samples, batch] = args.as_slice() else {
        return Err("usage: check-bench BUNDLE_DIR REQUEST_JSON SAMPLES BATCH".into());
    };
    let samples: usize = samples.parse()?;
    let batch: usize = batch.parse()?;
    let engine = Engine::load(bundle)?;
    let request_text = std::fs::read_to_string(request)?;
    let typed = Request::from_json_str(&request_text)?;
    let decision = engine.check(&typed)?;

    // What the addon's `check` calls: JSON text in, JSON text out.
    let check_json = time_ns(samples, batch, || {
        black_box(ffi::check_json(&engine, black_box(&request_text)).ok());
    });
    // The typed API, request already parsed: the engine alone.
    let check_typed = time_ns(samples, batch, || {
        black_box(engine.check(black_box(&typed)).ok());
    });
    println!(
        "{}",
        serde_json::json!({
            "decision": decision.decision.as_str(),
            "reasons": decision.reasons,
            "check_json_ns": check_json.0,
            "check_json_min_ns": check_json.1,
            "check_typed_ns": check_typed.0,
            "check_typed_min_ns": check_typed.1,
        })
    );
    Ok(())
}
