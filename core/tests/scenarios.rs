//! Runs the shared scenarios (`tests/vectors/scenarios/*.json`) through the
//! Rust engine: sequences of run-time changes, sessions and checks on an
//! engine whose clock is a manual one. The Python, Node and WASM suites run
//! the same files; the format is in `tests/vectors/README.md`.
//!
//! The runner knows no scenario: it reads every file and fails naming the
//! scenario and the step index.

use agentauthz::{ffi, Engine, Error, ManualClock};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scenario_files() -> Result<Vec<PathBuf>, String> {
    let dir = repo_root().join("tests").join("vectors").join("scenarios");
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

/// The engine of a scenario: its bundle (a directory or strings), judged at
/// the manual clock (it does not trust callers' time).
fn load(spec: &Value, clock: Arc<ManualClock>) -> Result<Engine, Error> {
    match spec {
        Value::String(dir) => {
            ffi::engine_load(&repo_root().join(dir).to_string_lossy(), Some(clock), false)
        }
        other => ffi::engine_from_strings(other.clone(), Some(clock), false),
    }
}

/// Replaces every `${name}` inside a string by the value saved under `name`.
fn substitute(value: &Value, saved: &BTreeMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(at) = rest.find("${") {
                let end = rest[at..]
                    .find('}')
                    .ok_or(format!("unclosed ${{ in {s:?}"))?;
                let name = &rest[at + 2..at + end];
                out.push_str(&rest[..at]);
                out.push_str(
                    saved
                        .get(name)
                        .ok_or(format!("nothing saved as `{name}`"))?,
                );
                rest = &rest[at + end + 1..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute(v, saved))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute(v, saved)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
        other => other.clone(),
    })
}

fn sorted_strings(value: Option<&Value>) -> Result<Vec<String>, String> {
    let mut out = value
        .and_then(Value::as_array)
        .ok_or("expected an array of strings")?
        .iter()
        .map(|v| v.as_str().map(String::from).ok_or("expected strings"))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    Ok(out)
}

/// Compares what a step produced with its `expect`.
fn compare(expect: Option<&Value>, got: Result<Value, Error>) -> Result<(), String> {
    let want_error = expect.and_then(|e| e.get("error")).and_then(Value::as_str);
    let got = match (got, want_error) {
        (Err(e), Some(code)) if e.code().as_str() == code => return Ok(()),
        (Err(e), _) => return Err(format!("unexpected error {}: {e}", e.code().as_str())),
        (Ok(v), Some(code)) => return Err(format!("expected error {code}, got {v}")),
        (Ok(v), None) => v,
    };
    let Some(expect) = expect else { return Ok(()) };
    // A query's result (usage, lockdown status): every member named, as given.
    if let Some(value) = expect.get("value") {
        if !contains(&got, value) {
            return Err(format!("expected {value}, got {got}"));
        }
    }
    if let Some(decision) = expect.get("decision") {
        if got.get("decision") != Some(decision) {
            return Err(format!("expected {expect}, got {got}"));
        }
        let reasons = sorted_strings(got.get("reasons"))?;
        if reasons != sorted_strings(expect.get("reasons"))? {
            return Err(format!("expected {expect}, got {got}"));
        }
        if expect.get("errors").is_some() {
            let errored: BTreeSet<String> = got
                .get("errors")
                .and_then(Value::as_array)
                .ok_or("decision without errors")?
                .iter()
                .filter_map(|e| e.get("policy").and_then(Value::as_str).map(String::from))
                .collect();
            let want: BTreeSet<String> =
                sorted_strings(expect.get("errors"))?.into_iter().collect();
            if errored != want {
                return Err(format!("expected errors {want:?}, got {got}"));
            }
        }
    }
    Ok(())
}

/// Whether `got` holds every member `want` names, with the same values.
fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| contains(gv, v))),
        _ => got == want,
    }
}

/// One scenario: its engine, its clock and what its steps saved.
struct Run {
    engine: Engine,
    clock: Arc<ManualClock>,
    saved: BTreeMap<String, String>,
}

impl Run {
    fn step(&mut self, step: &Map<String, Value>) -> Result<(), String> {
        let by = step.get("by").and_then(Value::as_str).unwrap_or("scenario");
        let expect = step
            .get("expect")
            .map(|e| substitute(e, &self.saved))
            .transpose()?;
        let expect = expect.as_ref();
        let save = step.get("as").and_then(Value::as_str).map(String::from);
        let arg = |key: &str| -> Result<Option<Value>, String> {
            step.get(key)
                .map(|v| substitute(v, &self.saved))
                .transpose()
        };
        let engine = &self.engine;
        let outcome: Result<Value, Error> = if let Some(s) = arg("advance")? {
            let seconds = s.as_f64().ok_or("advance takes seconds")?;
            ffi::manual_clock_advance(&self.clock, seconds).map(|()| Value::Null)
        } else if let Some(t) = arg("set_time")? {
            let t = t.as_str().ok_or("set_time takes an RFC 3339 time")?;
            ffi::manual_clock_set(&self.clock, t).map(|()| Value::Null)
        } else if let Some(change) = arg("apply")? {
            ffi::apply_change_value(engine, change, by)
        } else if let Some(request) = arg("grant")? {
            ffi::grant_value(engine, request)
        } else if let Some(kid) = arg("generate_session_key")? {
            let kid = kid.as_str().ok_or("generate_session_key takes a key id")?;
            ffi::generate_session_key_value(kid)
                .and_then(|pair| {
                    ffi::session_keys_from_value(
                        json!({"signing": {"kid": kid, "key": pair["secret"]}}),
                    )
                })
                .map(|keys| {
                    engine.set_session_keys(keys);
                    Value::Null
                })
        } else if let Some(input) = arg("issue_session")? {
            ffi::issue_session_value(engine, input)
        } else if let Some(request) = arg("check_session")? {
            ffi::check_session_value(engine, request)
        } else if let Some(bundle) = arg("reload")? {
            match &bundle {
                Value::String(dir) => engine.reload_dir(repo_root().join(dir)),
                other => ffi::reload_from_strings(engine, other.clone()),
            }
            .map(|()| Value::Null)
        } else if let Some(mut args) = arg("approve")? {
            args["by"] = Value::from(by);
            ffi::approve_value(engine, args)
        } else if let Some(mut args) = arg("reject")? {
            args["by"] = Value::from(by);
            ffi::reject_value(engine, args)
        } else if let Some(request) = arg("check")? {
            ffi::check_value(engine, request)
        } else if let Some(r) = arg("record_usage")? {
            let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
            let units = r
                .get("units")
                .and_then(Value::as_f64)
                .ok_or("units: a number")?;
            ffi::record_usage(engine, text("agent"), units, text("kind")).map(|()| Value::Null)
        } else if let Some(r) = arg("usage")? {
            let agent = r.get("agent").and_then(Value::as_str).unwrap_or_default();
            ffi::usage_value(engine, agent, r.get("action").and_then(Value::as_str))
        } else if arg("lockdown_status")?.is_some() {
            Ok(ffi::lockdown_status_value(engine))
        } else {
            return Err(format!("unknown step {}", Value::Object(step.clone())));
        };
        // What a step saves: a grant's or approval's id; a session's token and
        // (as `name.id`) its id; a decision's id.
        if let (Some(name), Ok(value)) = (&save, &outcome) {
            let id = value
                .get("id")
                .or(value.get("claims").and_then(|c| c.get("session_id")));
            let token = value
                .get("token")
                .or(value.get("id"))
                .or(value.get("decision_id"));
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(String::from);
            let token = text(token).ok_or(format!("nothing to save as `{name}` in {value}"))?;
            self.saved.insert(name.clone(), token);
            if let Some(id) = text(id) {
                self.saved.insert(format!("{name}.id"), id);
            }
        }
        compare(expect, outcome)
    }
}

fn run_scenario(doc: &Value) -> Result<usize, String> {
    let bundle = doc.get("bundle").ok_or("no bundle")?;
    let start = doc
        .get("start")
        .and_then(Value::as_str)
        .ok_or("no start time")?;
    let clock = ffi::manual_clock(start).map_err(|e| format!("start: {e}"))?;
    let engine = load(bundle, clock.clone()).map_err(|e| format!("bundle: {e}"))?;
    let steps = doc
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("no steps array")?;
    let mut run = Run {
        engine,
        clock,
        saved: BTreeMap::new(),
    };
    for (i, step) in steps.iter().enumerate() {
        let step = step.as_object().ok_or(format!("step {i}: not an object"))?;
        let repeat = step.get("repeat").and_then(Value::as_u64).unwrap_or(1);
        for _ in 0..repeat {
            run.step(step).map_err(|e| {
                let note = step.get("note").and_then(Value::as_str).unwrap_or("");
                format!("step {i} ({note}): {e}")
            })?;
        }
    }
    Ok(steps.len())
}

#[test]
fn shared_scenarios() -> Result<(), String> {
    let files = scenario_files()?;
    let mut failures = Vec::new();
    let mut steps = 0;
    for path in &files {
        let name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        match run_scenario(&doc) {
            Ok(n) => steps += n,
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    println!(
        "{} scenarios, {steps} steps, {} failed",
        files.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        files.len() >= 8,
        "expected at least 8 scenarios, found {}",
        files.len()
    );
    Ok(())
}
