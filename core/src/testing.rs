//! Policy tests: YAML files of requests with expected decisions (and
//! reasons), and Cedar CLI `run-tests` JSON files, run against a bundle.

use crate::bundle::{list_files, Bundle, Source};
use crate::engine::{Engine, UsageCounts};
use crate::error::{Error, ErrorCode, Location, Result};
use crate::limits::{self, Input};
use crate::model::{CedarRequest, Decision, Effect, EntityRef, Request};
use cedar_policy::EntityUid;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The result of one test case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseReport {
    pub name: String,
    pub passed: bool,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The determining policies of the decision, if a decision was made.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub file: String,
    pub cases: Vec<CaseReport>,
}

/// Policies no test case made a determining reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub policies: usize,
    pub covered: usize,
    pub uncovered: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestReport {
    pub files: Vec<FileReport>,
    pub coverage: Coverage,
}

impl TestReport {
    pub fn total(&self) -> usize {
        self.files.iter().map(|f| f.cases.len()).sum()
    }
    pub fn failed(&self) -> usize {
        self.files
            .iter()
            .flat_map(|f| &f.cases)
            .filter(|c| !c.passed)
            .count()
    }
    pub fn passed(&self) -> bool {
        self.failed() == 0
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    now: Option<String>,
    cases: Vec<TestCaseDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCaseDef {
    name: String,
    request: Value,
    #[serde(default)]
    expect: Option<Effect>,
    #[serde(default)]
    reasons: Option<Vec<String>>,
    #[serde(default)]
    expect_error: Option<String>,
    /// Counters as they stand before the request (agent form): the agent's
    /// calls, its calls of the request's action, its cost units. Every case
    /// starts from zero otherwise.
    #[serde(default)]
    usage: Option<UsageCounts>,
    /// The request must first need approval; this user approves it (once),
    /// and `expect` is then the decision of the same request checked again
    /// (`approval/<id>` reasons are written `approval`).
    #[serde(default)]
    approved_by: Option<String>,
}

/// One case of a Cedar CLI `run-tests` file.
#[derive(Debug, Deserialize)]
struct CedarTestCase {
    #[serde(default)]
    name: Option<String>,
    request: CedarTestRequest,
    entities: Value,
    decision: Effect,
    #[serde(default)]
    reason: Vec<String>,
    #[serde(default)]
    num_errors: usize,
}

#[derive(Debug, Deserialize)]
struct CedarTestRequest {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    context: Map<String, Value>,
}

/// The test files of a bundle: `tests/*.yaml`, `*.yml` and `*.json`.
pub fn discover(bundle_dir: &Path) -> Result<Vec<PathBuf>> {
    let dir = bundle_dir.join("tests");
    let mut files = list_files(&dir, "yaml")?;
    files.extend(list_files(&dir, "yml")?);
    files.extend(list_files(&dir, "json")?);
    files.sort();
    Ok(files)
}

/// Runs `files` (or the bundle's own tests when empty) against the bundle in `dir`.
pub fn run(dir: &Path, files: &[PathBuf]) -> Result<TestReport> {
    let bundle = Bundle::read_dir(dir)?;
    // Test cases fix their own `now`, so the engine trusts it.
    let engine = Engine::builder()
        .bundle(bundle.clone())
        .trust_caller_time(true)
        .build()?;
    let files = if files.is_empty() {
        discover(dir)?
    } else {
        files.to_vec()
    };
    let mut reports = Vec::new();
    for path in &files {
        let src = Source::read(path)?;
        reports.push(run_file(&engine, &bundle, &src)?);
    }
    let all: BTreeSet<String> = engine.policies().into_iter().map(|p| p.id).collect();
    let covered: BTreeSet<&String> = reports
        .iter()
        .flat_map(|f| &f.cases)
        .flat_map(|c| &c.reasons)
        .collect();
    let uncovered: Vec<String> = all
        .iter()
        .filter(|p| !covered.contains(p))
        .cloned()
        .collect();
    Ok(TestReport {
        coverage: Coverage {
            policies: all.len(),
            covered: all.len() - uncovered.len(),
            uncovered,
        },
        files: reports,
    })
}

/// Runs one test file: a YAML/JSON object of cases, or a Cedar `run-tests` JSON array.
pub fn run_file(engine: &Engine, bundle: &Bundle, src: &Source) -> Result<FileReport> {
    let doc = limits::parse_document(&engine.limits(), Input::Test, src)?;
    let cases = if doc.is_array() {
        run_cedar_cases(bundle, src, doc)?
    } else {
        let file: TestFile = serde_json::from_value(doc)
            .map_err(|e| Error::new(ErrorCode::TestInvalid, format!("{}: {e}", src.name)))?;
        let _ = &file.description;
        file.cases
            .iter()
            .map(|case| run_case(engine, src, file.now.as_deref(), case))
            .collect::<Result<_>>()?
    };
    Ok(FileReport {
        file: src.name.clone(),
        cases,
    })
}

fn locate_case(src: &Source, name: &str) -> String {
    src.text
        .find(name)
        .map(|off| format!("{}", Location::at_offset(&src.name, &src.text, off)))
        .unwrap_or_else(|| src.name.clone())
}

fn run_case(
    engine: &Engine,
    src: &Source,
    default_now: Option<&str>,
    case: &TestCaseDef,
) -> Result<CaseReport> {
    let invalid = |m: String| {
        Error::new(
            ErrorCode::TestInvalid,
            format!(
                "{}: case `{}`: {m}",
                locate_case(src, &case.name),
                case.name
            ),
        )
    };
    match (&case.expect, &case.expect_error) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid(
                "give exactly one of `expect` and `expect_error`".into(),
            ))
        }
        (None, Some(_)) if case.reasons.is_some() => {
            return Err(invalid(
                "`reasons` goes with `expect`, not `expect_error`".into(),
            ))
        }
        _ => {}
    }
    let mut request = case.request.clone();
    if let Some(obj) = request.as_object_mut() {
        if obj.contains_key("agent") && !obj.contains_key("now") {
            let now = default_now.ok_or_else(|| {
                invalid("no `now`: set it on the request or at the top of the file, so the test is deterministic".into())
            })?;
            obj.insert("now".into(), Value::String(now.to_string()));
        }
    }
    let preset = match &case.usage {
        None => None,
        Some(counts) => {
            let field = |name: &str| request.get(name).and_then(Value::as_str);
            match (field("agent"), field("action")) {
                (Some(agent), Some(action)) => Some((agent, action, counts)),
                _ => {
                    return Err(invalid(
                        "`usage` goes with an agent-form request (`agent` and `action`)".into(),
                    ))
                }
            }
        }
    };
    engine
        .preset_usage(preset)
        .map_err(|e| invalid(e.message().to_string()))?;
    let outcome = Request::from_json_value(request).and_then(|r| match &case.approved_by {
        None => engine.check(&r),
        Some(by) => check_approved(engine, &r, by),
    });
    Ok(judge(
        &case.name,
        outcome,
        case.expect,
        case.reasons.as_deref(),
        case.expect_error.as_deref(),
        None,
    ))
}

/// Checks `request`, has `by` approve it (it must need approval), and
/// checks it again; the reason `approval/<id>` becomes `approval`.
fn check_approved(engine: &Engine, request: &Request, by: &str) -> Result<Decision> {
    let first = engine.check(request)?;
    if !first.requires_approval {
        return Err(Error::new(
            ErrorCode::TestInvalid,
            format!(
                "`approved_by` needs a request that needs approval; it was decided {} {:?}",
                first.decision.as_str(),
                first.reasons
            ),
        ));
    }
    let target = crate::approval::ApprovalTarget::DecisionId(first.decision_id.clone());
    engine.approve(target, by, 1, None)?;
    let mut d = engine.check(request)?;
    for r in &mut d.reasons {
        if r.starts_with(crate::approval::APPROVAL_REASON_PREFIX) {
            *r = "approval".to_string();
        }
    }
    Ok(d)
}

fn judge(
    name: &str,
    outcome: Result<Decision>,
    expect: Option<Effect>,
    reasons: Option<&[String]>,
    expect_error: Option<&str>,
    num_errors: Option<usize>,
) -> CaseReport {
    let fail = |message: String, reasons: Vec<String>| CaseReport {
        name: name.to_string(),
        passed: false,
        message: Some(message),
        reasons,
    };
    match (outcome, expect_error) {
        (Err(e), Some(code)) if e.code.as_str() == code => CaseReport {
            name: name.to_string(),
            passed: true,
            message: None,
            reasons: Vec::new(),
        },
        (Err(e), Some(code)) => fail(format!("expected error `{code}`, got: {e}"), Vec::new()),
        (Err(e), None) => fail(format!("expected a decision, got error: {e}"), Vec::new()),
        (Ok(d), Some(code)) => fail(
            format!(
                "expected error `{code}`, got decision {} {:?}",
                d.decision.as_str(),
                d.reasons
            ),
            d.reasons,
        ),
        (Ok(d), None) => {
            let mut problems = Vec::new();
            if Some(d.decision) != expect {
                problems.push(format!(
                    "expected {}, got {} (reasons {:?}, errors {:?})",
                    expect.map_or("?", Effect::as_str),
                    d.decision.as_str(),
                    d.reasons,
                    d.errors.iter().map(|e| &e.message).collect::<Vec<_>>()
                ));
            }
            if let Some(expected) = reasons {
                let want: BTreeSet<&String> = expected.iter().collect();
                let got: BTreeSet<&String> = d.reasons.iter().collect();
                if want != got {
                    problems.push(format!("expected reasons {want:?}, got {got:?}"));
                }
            }
            if let Some(n) = num_errors {
                if d.errors.len() != n {
                    problems.push(format!("expected {n} errors, got {}", d.errors.len()));
                }
            }
            if problems.is_empty() {
                CaseReport {
                    name: name.to_string(),
                    passed: true,
                    message: None,
                    reasons: d.reasons,
                }
            } else {
                fail(problems.join("; "), d.reasons)
            }
        }
    }
}

fn entity_ref(text: &str) -> Result<EntityRef> {
    let uid = EntityUid::from_str(text)
        .map_err(|e| Error::new(ErrorCode::TestInvalid, format!("entity uid `{text}`: {e}")))?;
    Ok(EntityRef::new(
        uid.type_name().to_string(),
        uid.id().unescaped().to_string(),
    ))
}

fn run_cedar_cases(bundle: &Bundle, src: &Source, doc: Value) -> Result<Vec<CaseReport>> {
    let cases: Vec<CedarTestCase> = serde_json::from_value(doc).map_err(|e| {
        Error::new(
            ErrorCode::TestInvalid,
            format!("{}: not a Cedar run-tests file: {e}", src.name),
        )
    })?;
    let mut out = Vec::new();
    for (i, case) in cases.into_iter().enumerate() {
        let name = case.name.clone().unwrap_or_else(|| format!("test {i}"));
        let mut case_bundle = bundle.clone();
        case_bundle.inventory = Some(Source::new(
            format!("{}#{i}.entities.json", src.name),
            case.entities.to_string(),
        ));
        let request = CedarRequest {
            principal: entity_ref(&case.request.principal)?,
            action: entity_ref(&case.request.action)?,
            resource: entity_ref(&case.request.resource)?,
            context: case.request.context,
        };
        let outcome = Engine::builder()
            .bundle(case_bundle)
            .trust_caller_time(true)
            .build()
            .and_then(|engine| engine.check(&Request::Cedar(request)));
        out.push(judge(
            &name,
            outcome,
            Some(case.decision),
            Some(&case.reason),
            None,
            Some(case.num_errors),
        ));
    }
    Ok(out)
}
