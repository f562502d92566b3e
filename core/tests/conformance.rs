//! Cedar's own integration-test corpus (tests/cedar-conformance), run through
//! `agentauthz::Engine` — not Cedar's Authorizer — with equal decisions,
//! reasons and errors required for every request. The engines run with
//! `on_error = "skip"` (Cedar's rule); the default, fail closed, is proven
//! against Cedar in `differential.rs` and `fail_closed.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{
    Bundle, BundleOptions, CedarRequest, Engine, EntityRef, OnError, Request, Source,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The one documented difference between the corpus (Cedar 4.10 nightly) and
/// the current cedar-policy crate. Cedar PR #2545 (merged 2026-09-01) turned
/// "invalid action application" (a policy whose actions apply to no principal or
/// resource type the scope allows) from a validation error into the warning
/// `InvalidActionApplication`, so such policies validate now. A file counts as
/// this difference only if Cedar's validator reports exactly that warning for it.
const ACTION_APPLICATION_NOW_A_WARNING: &str =
    "cedar-policy/cedar#2545: invalid action application is a warning, no longer an error";

fn is_action_application_warning_only(bundle: &Bundle) -> bool {
    let schema = bundle.schema.as_ref().unwrap();
    let (schema, _) = cedar_policy::Schema::from_cedarschema_str(&schema.text).unwrap();
    let policies: cedar_policy::PolicySet = bundle.policies[0].text.parse().unwrap();
    let result = cedar_policy::Validator::new(schema)
        .validate(&policies, cedar_policy::ValidationMode::Strict);
    result.validation_passed()
        && result.validation_warnings().any(|w| {
            matches!(
                w,
                cedar_policy::ValidationWarning::InvalidActionApplication(_)
            )
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestFile {
    policies: String,
    entities: String,
    schema: String,
    should_validate: bool,
    requests: Vec<TestRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestRequest {
    description: String,
    principal: EntityRef,
    action: EntityRef,
    resource: EntityRef,
    context: Map<String, Value>,
    #[serde(default = "yes")]
    validate_request: bool,
    decision: String,
    reason: Vec<String>,
    errors: Vec<String>,
}

fn yes() -> bool {
    true
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cedar-conformance")
}

/// Unpacks the corpus under the target dir once.
fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cedar-conformance");
    let marker = dir.join(".unpacked");
    if !marker.exists() {
        let file = std::fs::File::open(root().join("corpus-tests.tar.gz")).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        std::fs::create_dir_all(&dir).unwrap();
        archive.unpack(&dir).unwrap();
        std::fs::write(&marker, "").unwrap();
    }
    dir
}

fn read(base: &Path, rel: &str) -> Source {
    let path = base.join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Source::new(rel, text)
}

struct Outcome {
    checked: usize,
    mismatches: Vec<String>,
    /// Files that differ only by a documented Cedar change.
    documented: Vec<String>,
}

fn run_file(base: &Path, file: &Path) -> Outcome {
    let test: TestFile = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let bundle = Bundle {
        schema: Some(read(base, &test.schema)),
        policies: vec![read(base, &test.policies)],
        inventory: Some(read(base, &test.entities)),
        ..Bundle::default()
    };
    let options = |validate_policies: bool, validate_requests: bool| BundleOptions {
        validate_policies,
        validate_requests,
        ..BundleOptions::plain_cedar()
    };
    let mut out = Outcome {
        checked: 0,
        mismatches: Vec::new(),
        documented: Vec::new(),
    };
    // Strict validation must agree with the corpus' `shouldValidate`.
    let strict = Engine::from_bundle(bundle.clone().with_options(options(true, true)));
    match (&strict, test.should_validate) {
        (Ok(_), false) if is_action_application_warning_only(&bundle) => out
            .documented
            .push(format!("{name}: {ACTION_APPLICATION_NOW_A_WARNING}")),
        (Ok(_), false) => out.mismatches.push(format!(
            "{name}: policies validated, corpus expects a validation error"
        )),
        (Err(e), true) => out.mismatches.push(format!(
            "{name}: corpus expects the policies to validate: {e}"
        )),
        (Err(e), false) if e.code != agentauthz::ErrorCode::PolicyInvalid => out
            .mismatches
            .push(format!("{name}: expected policy_invalid, got {e}")),
        _ => {}
    }
    // Cedar's exact rule for erroring policies (the engine's default denies on an erroring forbid).
    let cedar_engine = |b: Bundle| Engine::builder().bundle(b).on_error(OnError::Skip).build();
    let validating = cedar_engine(bundle.clone().with_options(options(false, true)));
    let lenient = cedar_engine(bundle.with_options(options(false, false)));
    for req in test.requests {
        out.checked += 1;
        let engine = if req.validate_request {
            &validating
        } else {
            &lenient
        };
        let engine = match engine {
            Ok(e) => e,
            Err(e) => {
                out.mismatches
                    .push(format!("{name}: engine failed to build: {e}"));
                continue;
            }
        };
        let request = Request::Cedar(CedarRequest {
            principal: req.principal,
            action: req.action,
            resource: req.resource,
            context: req.context,
        });
        let decision = match engine.check(&request) {
            Ok(d) => d,
            Err(e) => {
                out.mismatches
                    .push(format!("{name} / {}: check failed: {e}", req.description));
                continue;
            }
        };
        let want_reasons: BTreeSet<&str> = req.reason.iter().map(String::as_str).collect();
        let got_reasons: BTreeSet<&str> = decision.reasons.iter().map(String::as_str).collect();
        let want_errors: BTreeSet<&str> = req.errors.iter().map(String::as_str).collect();
        let got_errors: BTreeSet<&str> =
            decision.errors.iter().map(|e| e.policy.as_str()).collect();
        if decision.decision.as_str() != req.decision
            || want_reasons != got_reasons
            || want_errors != got_errors
        {
            {
                out.mismatches.push(format!(
                    "{name} / {}: expected {} {want_reasons:?} errors {want_errors:?}, got {} {got_reasons:?} errors {got_errors:?}",
                    req.description,
                    req.decision,
                    decision.decision.as_str(),
                ));
            }
        }
    }
    out
}

/// Test files under `dir` (entity files and sample data excluded).
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && !path.to_string_lossy().ends_with(".entities.json")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn run_all(base: &Path, files: Vec<PathBuf>) -> Outcome {
    let queue = Mutex::new(files);
    let total = Mutex::new(Outcome {
        checked: 0,
        mismatches: Vec::new(),
        documented: Vec::new(),
    });
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some(file) = queue.lock().unwrap().pop() else {
                    break;
                };
                let o = run_file(base, &file);
                let mut t = total.lock().unwrap();
                t.checked += o.checked;
                t.mismatches.extend(o.mismatches);
                t.documented.extend(o.documented);
            });
        }
    });
    total.into_inner().unwrap()
}

fn report(label: &str, outcome: &Outcome, expected_requests: usize) {
    println!(
        "{label}: {} requests checked, {} mismatches, {} files with a documented Cedar change",
        outcome.checked,
        outcome.mismatches.len(),
        outcome.documented.len()
    );
    for d in &outcome.documented {
        println!("  DOCUMENTED {d}");
    }
    for m in &outcome.mismatches {
        println!("  MISMATCH {m}");
    }
    assert_eq!(outcome.checked, expected_requests, "{label}: request count");
    assert!(
        outcome.mismatches.is_empty(),
        "{label}: {} mismatches",
        outcome.mismatches.len()
    );
}

#[test]
fn cedar_corpus_through_engine() {
    let base = corpus_dir();
    let files = test_files(&base.join("corpus-tests"));
    assert_eq!(files.len(), 7809, "corpus test files");
    let outcome = run_all(&base, files);
    report("cedar corpus", &outcome, 62_472);
}

#[test]
fn cedar_handwritten_tests_through_engine() {
    let base = root();
    let files = test_files(&base.join("tests"));
    assert_eq!(files.len(), 22, "hand-written test files");
    let outcome = run_all(&base, files);
    report("cedar hand-written", &outcome, 74);
}
