//! Native baseline for `bench/check.mjs`: the same bundle and request, decided
//! by the core compiled for the host. Prints JSON with the median per-call time
//! of `ffi::check_json` (the path the WASM export takes) and of typed `Engine::check`.
//!
//! Usage: native_check BUNDLE_JSON REQUEST_JSON ROUNDS CALLS_PER_ROUND

use agentauthz::{ffi, Error, ErrorCode, Request};
use std::time::Instant;

fn arg(args: &[String], i: usize) -> Result<&str, Error> {
    args.get(i).map(String::as_str).ok_or_else(|| {
        Error::new(
            ErrorCode::Io,
            "usage: native_check BUNDLE_JSON REQUEST_JSON ROUNDS CALLS",
        )
    })
}

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::new(ErrorCode::Io, format!("{path}: {e}")))
}

fn number(text: &str) -> Result<usize, Error> {
    text.parse()
        .map_err(|e| Error::new(ErrorCode::Io, format!("{text}: {e}")))
}

/// Median over `rounds` of the mean time per call of `calls` calls, in nanoseconds.
fn median_ns(
    rounds: usize,
    calls: usize,
    mut f: impl FnMut() -> Result<(), Error>,
) -> Result<f64, Error> {
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..calls {
            f()?;
        }
        samples.push(start.elapsed().as_nanos() as f64 / calls as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN))
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let bundle: serde_json::Value = serde_json::from_str(&read(arg(&args, 1)?)?)
        .map_err(|e| Error::new(ErrorCode::BundleInvalid, e.to_string()))?;
    let request_text = read(arg(&args, 2)?)?;
    let rounds = number(arg(&args, 3)?)?;
    let calls = number(arg(&args, 4)?)?;
    let engine = ffi::engine_from_strings(bundle, None, true)?;
    let decision = ffi::check_json(&engine, &request_text)?;
    let request = Request::from_json_str(&request_text)?;
    let json_ns = median_ns(rounds, calls, || {
        ffi::check_json(&engine, &request_text).map(drop)
    })?;
    let typed_ns = median_ns(rounds, calls, || engine.check(&request).map(drop))?;
    println!(
        "{}",
        serde_json::json!({"check_json_ns": json_ns, "check_typed_ns": typed_ns, "decision": serde_json::from_str::<serde_json::Value>(&decision).unwrap_or_default()})
    );
    Ok(())
}
