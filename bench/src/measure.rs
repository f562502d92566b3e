//! The timing loop every driver follows (the Python and Node drivers copy it):
//! warm up, then one pass over the requests in order, timing each call and
//! recording its decision, then more passes until the time budget is spent.
//! A slow implementation stops early in the first pass, so its decisions cover
//! a prefix of the requests; the report compares what every implementation ran.

use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Budget {
    pub seconds: f64,
    /// At least this many timed calls, even past the budget.
    pub min_calls: usize,
    /// At most this many timed calls.
    pub max_calls: usize,
}

#[derive(Debug)]
pub struct Measured {
    pub samples_ns: Vec<u64>,
    pub decisions: Vec<String>,
    pub errors: usize,
}

/// A decision as the report compares it: `allow|id1,id2` (reasons sorted).
pub fn decision_key(allow: bool, reasons: &mut [String]) -> String {
    reasons.sort();
    format!(
        "{}|{}",
        if allow { "allow" } else { "deny" },
        reasons.join(",")
    )
}

/// Runs `call(i)` for request `i` under the budget; `key` turns a result into
/// its decision key after the clock has stopped.
pub fn run<T, E>(
    n: usize,
    budget: &Budget,
    mut call: impl FnMut(usize) -> Result<T, E>,
    key: impl Fn(&T) -> String,
) -> Measured {
    let deadline = Duration::from_secs_f64(budget.seconds);
    // Warm-up: the first requests, up to a tenth of the budget.
    let warm_start = Instant::now();
    for i in 0..n.min(50) {
        let _ = std::hint::black_box(call(i));
        if warm_start.elapsed() > deadline / 10 {
            break;
        }
    }
    let mut samples_ns = Vec::with_capacity(n.min(budget.max_calls));
    let mut decisions = Vec::with_capacity(n);
    let mut errors = 0;
    let mut spent = Duration::ZERO;
    let mut i = 0;
    loop {
        if samples_ns.len() >= budget.max_calls
            || (spent >= deadline && samples_ns.len() >= budget.min_calls)
        {
            break;
        }
        let idx = i % n;
        let t0 = Instant::now();
        let out = call(idx);
        let dt = t0.elapsed();
        let out = std::hint::black_box(out);
        spent += dt;
        samples_ns.push(u64::try_from(dt.as_nanos()).unwrap_or(u64::MAX));
        if i < n {
            match &out {
                Ok(v) => decisions.push(key(v)),
                Err(_) => {
                    errors += 1;
                    decisions.push("error|".into());
                }
            }
        }
        i += 1;
    }
    Measured {
        samples_ns,
        decisions,
        errors,
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Measured {
    /// The driver output every implementation writes (see bench/README.md).
    pub fn to_value(&self, impl_name: &str, label: &str, workload: &str, setup_ms: f64) -> Value {
        let mut sorted = self.samples_ns.clone();
        sorted.sort_unstable();
        let total: u128 = sorted.iter().map(|x| u128::from(*x)).sum();
        let n = sorted.len();
        let mean = if n == 0 { 0.0 } else { total as f64 / n as f64 };
        json!({
            "impl": impl_name,
            "label": label,
            "workload": workload,
            "setup_ms": setup_ms,
            "calls": n,
            "p50_ns": percentile(&sorted, 0.50),
            "p99_ns": percentile(&sorted, 0.99),
            "mean_ns": mean,
            "per_sec": if total == 0 { 0.0 } else { n as f64 * 1e9 / total as f64 },
            "errors": self.errors,
            "decisions": self.decisions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[7], 0.99), 7);
    }

    #[test]
    fn first_pass_records_decisions_in_order() {
        let budget = Budget {
            seconds: 0.0,
            min_calls: 5,
            max_calls: 5,
        };
        let m = run(
            3,
            &budget,
            |i| if i == 1 { Err(()) } else { Ok(i) },
            |v| format!("allow|{v}"),
        );
        assert_eq!(m.samples_ns.len(), 5);
        assert_eq!(m.decisions, ["allow|0", "error|", "allow|2"]);
        assert_eq!(m.errors, 1);
    }
}
