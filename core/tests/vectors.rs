//! Runs the shared request/decision vectors (`tests/vectors/*.json`) through
//! the Rust engine. The Python, Node and WASM suites run the same files.
//!
//! A file names a bundle (a directory relative to the repository root, or a
//! `fromStrings` object); a vector may override it with its own object. Each
//! vector expects a decision with its exact set of reasons, or an error code
//! raised while loading its bundle or checking its request.
//!
//! `AGENTAUTHZ_VECTORS_VERBOSE=1 cargo test --release -p agentauthz --test vectors -- --nocapture`
//! prints every vector's outcome, with the error message for error vectors.

use agentauthz::{ffi, Engine, Error, Request};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Error codes a bundle given as strings, or a request, can raise. Each must be
/// expected by at least one vector.
const REACHABLE_CODES: [&str; 13] = [
    "bundle_invalid",
    "config_invalid",
    "schema_parse",
    "schema_invalid",
    "policy_parse",
    "policy_id_missing",
    "policy_id_duplicate",
    "policy_invalid",
    "policy_may_error",
    "inventory_parse",
    "inventory_invalid",
    "request_parse",
    "request_invalid",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn vector_files() -> Result<Vec<PathBuf>, String> {
    let dir = repo_root().join("tests").join("vectors");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn load_bundle(spec: &Value) -> Result<Engine, Error> {
    match spec {
        // Vectors fix their own `now`: the engine trusts callers' time.
        Value::String(dir) => {
            ffi::engine_load(&repo_root().join(dir).to_string_lossy(), None, true)
        }
        other => ffi::engine_from_strings(other.clone(), None, true),
    }
}

/// What one vector produced, in the shape of its `expect`.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Decision {
        decision: String,
        reasons: BTreeSet<String>,
    },
    Error(String),
}

impl Outcome {
    fn from_expect(expect: &Value) -> Result<Outcome, String> {
        if let Some(code) = expect.get("error").and_then(Value::as_str) {
            return Ok(Outcome::Error(code.to_string()));
        }
        let decision = expect
            .get("decision")
            .and_then(Value::as_str)
            .ok_or("expect has neither `error` nor `decision`")?;
        let reasons = expect
            .get("reasons")
            .and_then(Value::as_array)
            .ok_or("expect.reasons must be an array")?
            .iter()
            .map(|r| r.as_str().map(String::from).ok_or("reasons are strings"))
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(Outcome::Decision {
            decision: decision.to_string(),
            reasons,
        })
    }
}

/// A request names its time: `now` in the agent form, `context.now` in the Cedar form.
fn has_explicit_now(request: &Value) -> bool {
    match request.as_object() {
        Some(obj) if obj.contains_key("principal") => obj
            .get("context")
            .and_then(Value::as_object)
            .is_some_and(|c| c.contains_key("now")),
        Some(obj) => obj.contains_key("now"),
        None => false,
    }
}

#[derive(Default)]
struct Run {
    checked: usize,
    failures: Vec<String>,
    /// Error codes the vectors expect.
    codes: BTreeSet<String>,
    unsorted: Vec<String>,
    verbose: bool,
}

impl Run {
    fn vector(
        &mut self,
        file_engine: &Result<Engine, Error>,
        file: &str,
        vector: &Map<String, Value>,
    ) -> Result<(), String> {
        let name = vector
            .get("name")
            .and_then(Value::as_str)
            .ok_or(format!("{file}: a vector without a name"))?;
        let label = format!("{file}: {name}");
        let expect = vector.get("expect").ok_or(format!("{label}: no expect"))?;
        let expected = Outcome::from_expect(expect).map_err(|e| format!("{label}: {e}"))?;
        if let Outcome::Error(code) = &expected {
            self.codes.insert(code.clone());
        }
        let request = vector.get("request");
        // A decision depends on the time: it must not depend on the machine's clock.
        if let (Some(request), Outcome::Decision { .. }) = (request, &expected) {
            if !has_explicit_now(request) {
                return Err(format!("{label}: the request must carry an explicit `now`"));
            }
        }

        let own_engine;
        let engine = match vector.get("bundle") {
            Some(spec) => {
                own_engine = load_bundle(spec);
                &own_engine
            }
            None => file_engine,
        };
        let mut detail = String::new();
        let mut error = |e: &Error| {
            detail = e.to_string();
            Outcome::Error(e.code().as_str().to_string())
        };
        let actual = match (engine, request) {
            (Err(e), _) => error(e),
            (Ok(_), None) => {
                return Err(format!(
                    "{label}: the vector has no request and its bundle loaded"
                ))
            }
            (Ok(engine), Some(request)) => {
                match Request::from_json_value(request.clone()).and_then(|r| engine.check(&r)) {
                    Err(e) => error(&e),
                    Ok(decision) => {
                        let reasons = decision.reasons().to_vec();
                        if !reasons.windows(2).all(|w| w[0] <= w[1]) {
                            self.unsorted.push(format!("{label}: {reasons:?}"));
                        }
                        Outcome::Decision {
                            decision: decision.decision.as_str().to_string(),
                            reasons: reasons.into_iter().collect(),
                        }
                    }
                }
            }
        };
        self.checked += 1;
        if self.verbose {
            println!("{label}\n    -> {actual:?} {detail}");
        }
        if actual != expected {
            self.failures.push(format!(
                "{label}\n    expected {expected:?}\n    got      {actual:?} {detail}"
            ));
        }
        Ok(())
    }
}

#[test]
fn shared_vectors() -> Result<(), String> {
    let files = vector_files()?;
    assert!(!files.is_empty(), "no tests/vectors/*.json files");
    let mut run = Run {
        verbose: std::env::var_os("AGENTAUTHZ_VECTORS_VERBOSE").is_some(),
        ..Run::default()
    };
    let mut per_file = BTreeMap::new();
    for path in &files {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
        let bundle = doc
            .get("bundle")
            .ok_or(format!("{file}: no top-level bundle"))?;
        let engine = load_bundle(bundle);
        let vectors = doc
            .get("vectors")
            .and_then(Value::as_array)
            .ok_or(format!("{file}: no vectors array"))?;
        let before = run.checked;
        for vector in vectors {
            let vector = vector
                .as_object()
                .ok_or(format!("{file}: a vector is not an object"))?;
            run.vector(&engine, &file, vector)?;
        }
        per_file.insert(file, run.checked - before);
    }

    for (file, n) in &per_file {
        println!("{file}: {n} vectors");
    }
    println!(
        "checked {} vectors in {} files, {} failed",
        run.checked,
        per_file.len(),
        run.failures.len()
    );
    assert!(
        run.failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        run.failures.len(),
        run.checked,
        run.failures.join("\n")
    );
    assert!(
        run.checked >= 60,
        "expected at least 60 vectors, found {}",
        run.checked
    );

    let missing: Vec<&str> = REACHABLE_CODES
        .iter()
        .copied()
        .filter(|c| !run.codes.contains(*c))
        .collect();
    assert!(missing.is_empty(), "no vector expects {missing:?}");
    for code in &run.codes {
        assert!(
            agentauthz::ErrorCode::ALL
                .iter()
                .any(|c| c.as_str() == code),
            "vectors expect `{code}`, which is not a stable error code"
        );
    }

    // Decision reasons are documented as sorted.
    assert!(
        run.unsorted.is_empty(),
        "reasons not sorted: {:?}",
        run.unsorted
    );
    Ok(())
}
