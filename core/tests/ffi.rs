//! The facade's three layers (typed, `serde_json::Value`, JSON text) agree,
//! topic by topic: on every shared vector (`tests/vectors/*.json`) for
//! engines and checks, and on a small bundle for changes, sessions, the
//! decision log and errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::ffi::{self, BundleStrings};
use agentauthz::{
    Change, DecisionLog, Engine, ErrorCode, GrantRequest, ManualClock, Request, SessionRequest,
    TaskSpec,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A decision without its per-call id.
fn comparable(mut decision: Value) -> Value {
    if let Some(m) = decision.as_object_mut() {
        m.remove("decision_id");
    }
    decision
}

/// What one layer produced: the decision (without id) or the error code.
type Outcome = Result<Value, ErrorCode>;

fn typed_engine(spec: &Value) -> agentauthz::Result<Engine> {
    match spec {
        Value::String(dir) => {
            ffi::engine_load(&repo_root().join(dir).to_string_lossy(), None, true)
        }
        other => {
            let input: BundleStrings = serde_json::from_value(other.clone())
                .map_err(|e| agentauthz::Error::new(ErrorCode::BundleInvalid, e.to_string()))?;
            ffi::engine_from_texts(input, None, true)
        }
    }
}

/// The same bundle built through each layer (a directory has one layer).
fn engines(spec: &Value) -> Vec<agentauthz::Result<Engine>> {
    match spec {
        Value::String(_) => vec![typed_engine(spec)],
        other => vec![
            typed_engine(other),
            ffi::engine_from_strings(other.clone(), None, true),
            ffi::engine_from_strings_json(&other.to_string(), None, true),
        ],
    }
}

fn check_three(engine: &Engine, request: &Value) -> [Outcome; 3] {
    let typed = Request::from_json_value_with(request.clone(), &engine.limits())
        .and_then(|r| ffi::check(engine, &r))
        .map(|d| comparable(serde_json::to_value(d).unwrap()))
        .map_err(|e| e.code);
    let value = ffi::check_value(engine, request.clone())
        .map(comparable)
        .map_err(|e| e.code);
    let text = ffi::check_json(engine, &request.to_string())
        .map(|t| comparable(serde_json::from_str(&t).unwrap()))
        .map_err(|e| e.code);
    [typed, value, text]
}

#[test]
fn engines_and_checks_agree_on_every_shared_vector() {
    let dir = repo_root().join("tests").join("vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let (mut checked, mut allowed, mut denied, mut errors) = (0, 0, 0, 0);
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let file_bundle = doc["bundle"].clone();
        for vector in doc["vectors"].as_array().unwrap() {
            let label = format!("{name}: {}", vector["name"]);
            let spec = vector.get("bundle").unwrap_or(&file_bundle);
            let built = engines(spec);
            let codes: Vec<Option<ErrorCode>> = built
                .iter()
                .map(|e| e.as_ref().err().map(|e| e.code))
                .collect();
            assert!(codes.windows(2).all(|w| w[0] == w[1]), "{label}: {codes:?}");
            let Some(request) = vector.get("request") else {
                continue;
            };
            let mut revisions = Vec::new();
            let mut outcomes = Vec::new();
            for engine in built.iter().flatten() {
                revisions.push(engine.policy_revision());
                outcomes.extend(check_three(engine, request));
            }
            assert!(revisions.windows(2).all(|w| w[0] == w[1]), "{label}");
            assert!(
                outcomes.windows(2).all(|w| w[0] == w[1]),
                "{label}: {outcomes:#?}"
            );
            match outcomes.first() {
                Some(Ok(d)) if d["decision"] == "allow" => allowed += 1,
                Some(Ok(_)) => denied += 1,
                Some(Err(_)) => errors += 1,
                None => {}
            }
            checked += 1;
        }
    }
    // The vectors cover all three outcomes: the comparison can fail.
    assert!(checked > 150, "{checked}");
    assert!(
        allowed > 10 && denied > 10 && errors > 10,
        "{allowed} {denied} {errors}"
    );
}

#[test]
fn batches_agree_with_single_checks_in_every_layer() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/vectors/coding-agent.json")).unwrap(),
    )
    .unwrap();
    let engine = typed_engine(&doc["bundle"]).unwrap();
    let requests: Vec<Value> = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["expect"].get("decision").is_some() && v.get("bundle").is_none())
        .map(|v| v["request"].clone())
        .collect();
    assert!(requests.len() > 20);
    let typed: Vec<Request> = requests
        .iter()
        .map(|r| Request::from_json_value(r.clone()).unwrap())
        .collect();
    let typed: Vec<Value> = ffi::check_batch(&engine, &typed)
        .unwrap()
        .into_iter()
        .map(|d| comparable(ffi::decision_to_value(&d)))
        .collect();
    let value: Vec<Value> =
        match ffi::check_batch_value(&engine, Value::Array(requests.clone())).unwrap() {
            Value::Array(items) => items.into_iter().map(comparable).collect(),
            other => panic!("{other}"),
        };
    let text: Vec<Value> = serde_json::from_str::<Vec<Value>>(
        &ffi::check_batch_json(&engine, &Value::Array(requests.clone()).to_string()).unwrap(),
    )
    .unwrap()
    .into_iter()
    .map(comparable)
    .collect();
    let single: Vec<Value> = requests
        .iter()
        .map(|r| comparable(ffi::check_value(&engine, r.clone()).unwrap()))
        .collect();
    assert_eq!(typed, single);
    assert_eq!(value, single);
    assert_eq!(text, single);
    // One bad request fails the batch in every layer, with its index.
    let mut bad = requests.clone();
    bad.insert(3, json!({"agent": 7}));
    let e = ffi::check_batch_value(&engine, Value::Array(bad.clone())).unwrap_err();
    assert_eq!(e.code, ErrorCode::RequestParse);
    assert!(e.to_string().contains("request [3]"), "{e}");
    let e = ffi::check_batch_json(&engine, &Value::Array(bad).to_string()).unwrap_err();
    assert!(e.to_string().contains("request [3]"), "{e}");
    assert_eq!(
        ffi::check_batch_json(&engine, "{").unwrap_err().code,
        ErrorCode::RequestParse
    );
}

// ---------------------------------------------------------------- changes, sessions, log

const SCHEMA: &str = r#"
entity Bucket;
entity Object in [Bucket];
action "s3:PutObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
"#;
const POLICIES: &str = r#"@id("never") forbid (principal, action, resource) when { false };"#;
const INVENTORY: &str = r#"
users:
  - {id: alice}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
resources:
  - {type: Bucket, id: reports}
  - {type: Object, id: reports/q3.csv, parents: [{type: Bucket, id: reports}]}
"#;
const CONFIG: &str = "[sessions]\naudience = \"api\"\n";
const T0: &str = "2026-11-29T10:00:00Z";

/// Three engines over the same bundle and time, one per layer.
fn three() -> [Engine; 3] {
    let input =
        json!({"schema": SCHEMA, "policies": POLICIES, "inventory": INVENTORY, "config": CONFIG});
    let clock =
        || -> Option<Arc<dyn agentauthz::Clock>> { Some(Arc::new(ManualClock::at(T0).unwrap())) };
    [
        ffi::engine_from_texts(
            serde_json::from_value(input.clone()).unwrap(),
            clock(),
            false,
        )
        .unwrap(),
        ffi::engine_from_strings(input.clone(), clock(), false).unwrap(),
        ffi::engine_from_strings_json(&input.to_string(), clock(), false).unwrap(),
    ]
}

/// A value without the members that differ per engine (random ids).
fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

#[test]
fn changes_agree_in_every_layer() {
    let [a, b, c] = three();
    let grant = json!({"agent": "etl", "actions": ["s3:PutObject"], "resource": {"type": "Bucket", "id": "reports"},
                       "ttl_seconds": 3600, "reason": "export", "granted_by": "alice"});
    let typed = ffi::grant(
        &a,
        serde_json::from_value::<GrantRequest>(grant.clone()).unwrap(),
    )
    .unwrap();
    let value = ffi::grant_value(&b, grant.clone()).unwrap();
    let text: Value =
        serde_json::from_str(&ffi::grant_json(&c, &grant.to_string()).unwrap()).unwrap();
    let typed = without(serde_json::to_value(typed).unwrap(), &["id"]);
    assert_eq!(typed, without(value, &["id"]));
    assert_eq!(typed, without(text, &["id"]));
    assert_eq!(typed["expires"], "2026-11-29T11:00:00.000Z");

    let strip = |v: Value| match v {
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|g| without(g, &["id"])).collect())
        }
        other => other,
    };
    let grants_a = strip(serde_json::to_value(ffi::grants(&a, Some("etl"))).unwrap());
    assert_eq!(grants_a, strip(ffi::grants_value(&b, Some("etl"))));
    assert_eq!(
        grants_a,
        strip(serde_json::from_str(&ffi::grants_json(&c, Some("etl"))).unwrap())
    );
    assert_eq!(grants_a.as_array().unwrap().len(), 1);

    let task = json!({"id": "T9", "agent": "etl", "not_before": "2026-11-29T00:00:00Z", "not_after": "2026-11-30T00:00:00Z"});
    ffi::add_task(
        &a,
        serde_json::from_value::<TaskSpec>(task.clone()).unwrap(),
        "alice",
    )
    .unwrap();
    ffi::add_task_value(&b, task.clone(), "alice").unwrap();
    ffi::add_task_json(&c, &task.to_string(), "alice").unwrap();

    let change = json!({"op": "suspend", "agent": "other"});
    let typed = ffi::apply_change(
        &a,
        serde_json::from_value::<Change>(change.clone()).unwrap(),
        "alice",
    )
    .unwrap();
    let value = ffi::apply_change_value(&b, change.clone(), "alice").unwrap();
    let text: Value =
        serde_json::from_str(&ffi::apply_change_json(&c, &change.to_string(), "alice").unwrap())
            .unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), value);
    assert_eq!(value, text);
    assert_eq!(value["seq"], 3);

    // Each layer refuses the same bad input with the same code.
    let bad = json!({"op": "suspend", "agent": "ghost"});
    let codes = [
        ffi::apply_change(
            &a,
            serde_json::from_value::<Change>(bad.clone()).unwrap(),
            "alice",
        )
        .unwrap_err()
        .code,
        ffi::apply_change_value(&b, bad.clone(), "alice")
            .unwrap_err()
            .code,
        ffi::apply_change_json(&c, &bad.to_string(), "alice")
            .unwrap_err()
            .code,
    ];
    assert_eq!(codes, [ErrorCode::LifecycleInvalid; 3]);
    assert_eq!(
        ffi::grant_value(&a, json!({"agent": 1})).unwrap_err().code,
        ErrorCode::GrantInvalid
    );
    assert_eq!(
        ffi::grant_json(&a, "{").unwrap_err().code,
        ErrorCode::GrantInvalid
    );
    assert_eq!(
        ffi::add_task_json(&a, "[", "alice").unwrap_err().code,
        ErrorCode::LifecycleInvalid
    );

    let skipped = [
        serde_json::to_value(ffi::skipped_changes(&a)).unwrap(),
        ffi::skipped_changes_value(&b),
        serde_json::from_str(&ffi::skipped_changes_json(&c)).unwrap(),
    ];
    assert!(skipped.iter().all(|s| *s == json!([])));
}

#[test]
fn sessions_agree_in_every_layer() {
    let key = ffi::generate_session_key("k1").unwrap();
    let value = ffi::generate_session_key_value("k2").unwrap();
    let text: Value = serde_json::from_str(&ffi::generate_session_key_json("k3").unwrap()).unwrap();
    for (v, kid) in [
        (serde_json::to_value(&key).unwrap(), "k1"),
        (value, "k2"),
        (text, "k3"),
    ] {
        assert_eq!(v["kid"], kid);
        assert!(v["secret"].as_str().unwrap().starts_with("k4.secret."));
        assert!(v["public"].as_str().unwrap().starts_with("k4.public."));
    }
    assert!(!format!("{key:?}").contains("k4.secret."));

    let spec = json!({"signing": {"kid": "k1", "key": key.secret.clone().unwrap()}});
    let [a, b, c] = three();
    a.set_session_keys(
        ffi::session_keys_from(serde_json::from_value(spec.clone()).unwrap()).unwrap(),
    );
    b.set_session_keys(ffi::session_keys_from_value(spec.clone()).unwrap());
    c.set_session_keys(ffi::session_keys_from_json(&spec.to_string()).unwrap());
    let public = serde_json::to_value(ffi::session_public_keys(&a)).unwrap();
    assert_eq!(public, ffi::session_public_keys_value(&b));
    assert_eq!(
        public,
        serde_json::from_str::<Value>(&ffi::session_public_keys_json(&c)).unwrap()
    );
    assert_eq!(public["k1"], json!(key.public));

    let issue = json!({"agent": "etl", "ttl_seconds": 60});
    let typed = ffi::issue_session(&a, serde_json::from_value(issue.clone()).unwrap()).unwrap();
    let value = ffi::issue_session_value(&b, issue.clone()).unwrap();
    let text: Value =
        serde_json::from_str(&ffi::issue_session_json(&c, &issue.to_string()).unwrap()).unwrap();
    let claims = |v: &Value| without(v["claims"].clone(), &["session_id"]);
    let typed_v = serde_json::to_value(&typed).unwrap();
    assert_eq!(claims(&typed_v), claims(&value));
    assert_eq!(claims(&typed_v), claims(&text));

    // One token, verified and used through each layer on one engine.
    let token = typed.token.clone();
    let verified = serde_json::to_value(ffi::verify_session(&a, &token, None).unwrap()).unwrap();
    assert_eq!(
        verified,
        ffi::verify_session_value(&a, &token, None).unwrap()
    );
    assert_eq!(
        verified,
        serde_json::from_str::<Value>(&ffi::verify_session_json(&a, &token, None).unwrap())
            .unwrap()
    );
    let request = json!({"session": token, "action": "s3:PutObject", "resource": {"type": "Object", "id": "reports/q3.csv"}});
    let typed = ffi::check_session(
        &a,
        &serde_json::from_value::<SessionRequest>(request.clone()).unwrap(),
    )
    .unwrap();
    let typed = comparable(ffi::decision_to_value(&typed));
    assert_eq!(
        typed,
        comparable(ffi::check_session_value(&a, request.clone()).unwrap())
    );
    assert_eq!(
        typed,
        comparable(
            serde_json::from_str(&ffi::check_session_json(&a, &request.to_string()).unwrap())
                .unwrap()
        )
    );
    assert_eq!(typed["decision"], "deny");

    // A forged token is the same error in each layer.
    let forged = format!("{}x", &token[..token.len() - 1]);
    let codes = [
        ffi::verify_session(&a, &forged, None).unwrap_err().code,
        ffi::verify_session_value(&a, &forged, None)
            .unwrap_err()
            .code,
        ffi::verify_session_json(&a, &forged, None)
            .unwrap_err()
            .code,
    ];
    assert!(
        codes
            .iter()
            .all(|c| *c == codes[0] && *c != ErrorCode::Internal),
        "{codes:?}"
    );
    assert_eq!(
        ffi::session_keys_from_json("{").unwrap_err().code,
        ErrorCode::KeyInvalid
    );
}

#[test]
fn the_log_and_errors_agree_in_every_layer() {
    let [a, _, _] = three();
    assert_eq!(ffi::decision_log_head(&a), None);
    assert_eq!(ffi::decision_log_head_value(&a), Value::Null);
    assert_eq!(ffi::decision_log_head_json(&a).unwrap(), "null");
    let (log, queue) = DecisionLog::queue();
    a.set_decision_log(Some(log));
    let request = Request::from_json_value(json!({"agent": "etl", "action": "s3:PutObject",
        "resource": {"type": "Object", "id": "reports/q3.csv"}}))
    .unwrap();
    ffi::check(&a, &request).unwrap();
    let head = ffi::decision_log_head(&a).unwrap();
    assert_eq!(head.seq, 1);
    let value = ffi::decision_log_head_value(&a);
    assert_eq!(value, json!({"seq": head.seq, "hash": head.hash}));
    assert_eq!(
        serde_json::from_str::<Value>(&ffi::decision_log_head_json(&a).unwrap()).unwrap(),
        value
    );
    let records = queue.take();
    assert_eq!(records.len(), 1);
    assert_eq!(
        serde_json::from_str::<Value>(&ffi::records_to_json(&records)).unwrap(),
        ffi::records_to_value(&records)
    );

    let codes = ffi::error_codes();
    let value = ffi::error_codes_value();
    assert_eq!(
        serde_json::from_str::<Value>(&ffi::error_codes_json()).unwrap(),
        value
    );
    assert_eq!(value.as_array().unwrap().len(), codes.len());
    for ((code, family), v) in codes.iter().zip(value.as_array().unwrap()) {
        assert_eq!(v, &json!({"code": code, "family": family}));
    }
    let e = ffi::check_json(&a, "{").unwrap_err();
    assert_eq!(
        serde_json::from_str::<Value>(&ffi::error_to_json(&e)).unwrap(),
        ffi::error_to_value(&e)
    );
    assert_eq!(ffi::error_to_value(&e)["code"], "request_parse");
}
