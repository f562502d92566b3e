//! Posture rules, inventory permissions and shadow discovery on crafted bundles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::posture::{self, PermissionStatus, PostureOptions, PostureReport, Severity};
use agentauthz::Engine;
use std::path::PathBuf;

const NOW: &str = "2026-11-29T10:00:00Z";

const SCHEMA: &str = r#"
entity Bucket;
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Bucket] };
action "s3:PutObject" appliesTo { principal: [Agent], resource: [Bucket] };
action "s3:DeleteObject" appliesTo { principal: [Agent], resource: [Bucket] };
"#;

const CLEAN_POLICIES: &str = r#"
@id("read")
permit (principal in AgentGroup::"readers", action == Action::"s3:GetObject", resource == Bucket::"data");
@id("put-in-task")
permit (principal in AgentGroup::"readers", action == Action::"s3:PutObject", resource == Bucket::"data")
when { context has task };
"#;

const CLEAN_INVENTORY: &str = r#"
users:
  - id: alice
agent_groups:
  - id: readers
agents:
  - id: good
    owner: alice
    environment: production
    groups: [readers]
credentials:
  - id: good-key
    agent: good
    kind: service_account_key
    issued: "2026-11-19T00:00:00Z"
    expires: "2026-12-19T00:00:00Z"
tasks:
  - id: T-1
    agent: good
    not_before: "2026-11-29T08:00:00Z"
    not_after: "2026-11-29T18:00:00Z"
resources:
  - {type: Bucket, id: data}
  - {type: Bucket, id: backup}
"#;

const DIRTY_POLICIES: &str = r#"
@id("read")
permit (principal in AgentGroup::"readers", action == Action::"s3:GetObject", resource);
@id("broad-put")
permit (principal, action == Action::"s3:PutObject", resource);
@id("test-delete")
@environment("test")
permit (principal == Agent::"good", action == Action::"s3:DeleteObject", resource == Bucket::"data");
"#;

const DIRTY_INVENTORY: &str = r#"
users:
  - id: alice
  - id: bob
    active: false
agent_groups:
  - id: readers
agents:
  - id: good
    owner: alice
    groups: [readers]
  - id: orphan
    groups: [readers]
  - id: gone-owner
    owner: bob
  - id: idle
    owner: alice
  - id: tester
    owner: alice
    environment: test
    groups: [readers]
credentials:
  - id: alice-pat
    agent: good
    kind: human_token
    issued: "2026-11-20T00:00:00Z"
    expires: "2026-12-10T00:00:00Z"
  - id: forever
    agent: good
    kind: api_token
    issued: "2026-11-20T00:00:00Z"
  - id: long-lived
    agent: good
    kind: api_token
    issued: "2026-11-20T00:00:00Z"
    expires: "2027-06-01T00:00:00Z"
  - id: old-key
    agent: idle
    kind: service_account_key
    issued: "2026-03-01T00:00:00Z"
    expires: "2026-12-15T00:00:00Z"
tasks:
  - id: T-OLD
    agent: good
    not_before: "2026-10-01T08:00:00Z"
    not_after: "2026-10-01T18:00:00Z"
resources:
  - {type: Bucket, id: data}
  - {type: Bucket, id: backup}
"#;

fn engine(policies: &str, inventory: &str) -> Engine {
    Engine::builder()
        .schema(SCHEMA)
        .policies(policies)
        .inventory(inventory)
        // Checks here fix their own `now`.
        .trust_caller_time(true)
        .build()
        .unwrap()
}

fn now() -> i64 {
    agentauthz::Clock::now_millis(&agentauthz::FixedClock::at(NOW).unwrap())
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agentauthz-posture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn record(
    agent: &str,
    action: &str,
    bucket: &str,
    decision: &str,
    reasons: &[&str],
    extra: &str,
) -> String {
    let reasons: Vec<String> = reasons.iter().map(|r| format!("{r:?}")).collect();
    format!(
        r#"{{"schema_version":1,"seq":1,"timestamp":"2026-11-28T09:00:00.000Z","agent":"{agent}","principal":{{"type":"Agent","id":"{agent}"}},"action":"{action}","resource":{{"type":"Bucket","id":"{bucket}"}},"decision":"{decision}","reasons":[{}],"errors":[],"mode":"enforce"{extra},"context":{{}},"prev_hash":"x","hash":"y"}}"#,
        reasons.join(",")
    )
}

fn run(e: &Engine, logs: Vec<PathBuf>, access: Vec<PathBuf>) -> PostureReport {
    posture::posture(
        e,
        &PostureOptions {
            now_millis: now(),
            logs,
            access_logs: access,
        },
    )
    .unwrap()
}

fn has(r: &PostureReport, rule: &str, entity: &str) -> bool {
    r.findings
        .iter()
        .any(|f| f.rule == rule && f.entity == entity)
}

#[test]
fn clean_bundle_has_no_findings_with_or_without_logs() {
    let e = engine(CLEAN_POLICIES, CLEAN_INVENTORY);
    let r = run(&e, vec![], vec![]);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    let logs = temp_file(
        "clean.jsonl",
        &[
            record("good", "s3:GetObject", "data", "allow", &["read"], ""),
            record(
                "good",
                "s3:PutObject",
                "data",
                "allow",
                &["put-in-task"],
                "",
            ),
        ]
        .join("\n"),
    );
    let access = temp_file(
        "clean-access.jsonl",
        r#"{"identity":"good","user_agent":"langchain/0.3","timestamp":"2026-11-28T09:00:00Z","operation":"s3:GetObject"}
{"identity":"cron","user_agent":"curl/8.0","timestamp":"2026-11-28T09:00:00Z","operation":"s3:GetObject"}"#,
    );
    let r = run(&e, vec![logs], vec![access]);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

#[test]
fn effective_permissions_are_computed_allowed_or_conditional() {
    let e = engine(CLEAN_POLICIES, CLEAN_INVENTORY);
    let inv = posture::inventory(
        &e,
        &PostureOptions {
            now_millis: now(),
            ..Default::default()
        },
    )
    .unwrap();
    let good = inv.agents.iter().find(|a| a.id == "good").unwrap();
    let perms: Vec<(&str, &str, PermissionStatus)> = good
        .permissions
        .iter()
        .map(|p| (p.action.as_str(), p.resource.as_str(), p.status))
        .collect();
    assert_eq!(
        perms,
        vec![
            ("s3:GetObject", "data", PermissionStatus::Allowed),
            ("s3:PutObject", "data", PermissionStatus::Conditional),
        ]
    );
    assert_eq!(good.open_tasks.len(), 1);
    assert_eq!(good.credentials[0].age_days, Some(10));
    // The baseline guardrails decide on entity data: an ownerless agent has no permissions.
    let e = engine(DIRTY_POLICIES, DIRTY_INVENTORY);
    let inv = posture::inventory(
        &e,
        &PostureOptions {
            now_millis: now(),
            ..Default::default()
        },
    )
    .unwrap();
    let orphan = inv.agents.iter().find(|a| a.id == "orphan").unwrap();
    assert!(orphan.permissions.is_empty());
    let good = inv.agents.iter().find(|a| a.id == "good").unwrap();
    assert!(good
        .permissions
        .iter()
        .any(|p| p.action == "s3:PutObject" && p.resource == "*"));
}

#[test]
fn every_rule_fires_on_the_dirty_bundle() {
    let e = engine(DIRTY_POLICIES, DIRTY_INVENTORY);
    let logs = temp_file(
        "dirty.jsonl",
        &[
            record(
                "good",
                "s3:GetObject",
                "data",
                "allow",
                &["read"],
                r#","credential":"alice-pat""#,
            ),
            record(
                "good",
                "s3:GetObject",
                "data",
                "allow",
                &["read"],
                r#","would_decision":"deny","would_reasons":["shadow-rule"]"#,
            ),
            "not json".to_string(),
        ]
        .join("\n"),
    );
    let mut burst = String::new();
    for i in 0..30 {
        burst.push_str(&format!(
            "{{\"identity\":\"bulk\",\"user_agent\":\"Boto3/1.34 Python/3.12\",\"timestamp\":\"2026-11-28T09:00:{i:02}Z\",\"operation\":\"s3:GetObject\"}}\n"
        ));
    }
    let access = temp_file(
        "dirty-access.jsonl",
        &format!(
            "{}{burst}",
            r#"{"identity":"svc-mystery","source_ip":"10.9.9.9","user_agent":"langchain/0.3 openai-python/1.52","timestamp":"2026-11-28T09:00:00Z","operation":"s3:GetObject"}
{"identity":"alice","user_agent":"crewai/0.80","timestamp":"2026-11-28T03:00:00Z","operation":"s3:GetObject"}
{"token_id":"alice-pat","user_agent":"python-requests/2.32","timestamp":"2026-11-28T03:00:00Z","operation":"s3:GetObject"}
"#
        ),
    );
    let r = run(&e, vec![logs], vec![access]);
    let expect = [
        ("AAZ001", "Agent::\"orphan\""),
        ("AAZ002", "Agent::\"gone-owner\""),
        ("AAZ003", "Credential::\"alice-pat\""),
        ("AAZ004", "Credential::\"forever\""),
        ("AAZ005", "Credential::\"long-lived\""),
        ("AAZ006", "Credential::\"old-key\""),
        ("AAZ007", "Agent::\"idle\""),
        ("AAZ008", "Policy::\"broad-put\""),
        ("AAZ009", "Policy::\"read\""),
        ("AAZ010", "Task::\"T-OLD\""),
        ("AAZ011", "Policy::\"test-delete\""),
        ("AAZ011", "Agent::\"tester\""),
        ("AAZ012", "Policy::\"shadow-rule\""),
        ("AAZ013", "Identity::\"svc-mystery\""),
        ("AAZ013", "Identity::\"bulk\""),
        ("AAZ014", "User::\"alice\""),
        ("AAZ014", "Agent::\"good\""),
    ];
    for (rule, entity) in expect {
        assert!(
            has(&r, rule, entity),
            "{rule} on {entity} missing:\n{}",
            posture::posture_text(&r)
        );
    }
    // Nothing on the well-behaved credential, nor on a registered agent calling with its own identity.
    assert!(!r.findings.iter().any(|f| f.entity == "Identity::\"good\""));
    assert!(!has(&r, "AAZ006", "Credential::\"long-lived\""));
    assert!(
        !has(&r, "AAZ008", "Policy::\"read\""),
        "read-class actions are not over-broad"
    );
    assert!(r.fails(Severity::High));
    let broad = r.findings.iter().find(|f| f.rule == "AAZ008").unwrap();
    assert_eq!(broad.severity, Severity::High);
    assert!(broad.location.as_ref().is_some_and(|l| l.line > 1));
    // Every finding carries its control mapping.
    for f in &r.findings {
        assert!(
            !f.controls.nist_ai_rmf.is_empty()
                && !f.controls.cis_v8.is_empty()
                && !f.controls.iso_42001.is_empty()
        );
    }
}

#[test]
fn suggested_policy_keeps_logged_allows_and_drops_unused() {
    let e = engine(DIRTY_POLICIES, DIRTY_INVENTORY);
    let logs = temp_file(
        "tighten.jsonl",
        &record("good", "s3:GetObject", "data", "allow", &["read"], ""),
    );
    let r = run(&e, vec![logs], vec![]);
    let f = r
        .findings
        .iter()
        .find(|f| f.rule == "AAZ009" && f.entity == "Policy::\"read\"")
        .unwrap();
    let suggestion = f.suggested_policy.clone().unwrap();
    let policies = DIRTY_POLICIES.replace(
        r#"@id("read")
permit (principal in AgentGroup::"readers", action == Action::"s3:GetObject", resource);"#,
        &suggestion,
    );
    assert_ne!(policies, DIRTY_POLICIES);
    let tightened = engine(&policies, DIRTY_INVENTORY);
    let check = |e: &Engine, agent: &str, bucket: &str| {
        let req = agentauthz::Request::from_json_str(&format!(
            r#"{{"agent":"{agent}","action":"s3:GetObject","resource":{{"type":"Bucket","id":"{bucket}"}},"now":"{NOW}"}}"#
        ))
        .unwrap();
        e.check(&req).unwrap().allowed()
    };
    assert!(check(&e, "good", "backup") && check(&e, "tester", "data"));
    assert!(
        check(&tightened, "good", "data"),
        "logged allow kept:\n{suggestion}"
    );
    assert!(
        !check(&tightened, "good", "backup"),
        "unused permission removed"
    );
    assert!(!check(&tightened, "tester", "data"), "unused agent removed");
}

#[test]
fn cloudtrail_records_are_read() {
    let e = engine(CLEAN_POLICIES, CLEAN_INVENTORY);
    let trail = temp_file(
        "trail.json",
        r#"{
  "Records": [
    {"eventTime": "2026-11-28T09:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
     "userIdentity": {"type": "IAMUser", "userName": "llm-etl", "accessKeyId": "AKIAEXAMPLE1", "arn": "arn:aws:iam::123456789012:user/llm-etl"},
     "userAgent": "llama-index/0.10.3 Boto3/1.34.0", "sourceIPAddress": "203.0.113.7"},
    {"eventTime": "2026-11-28T09:00:00Z", "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
     "userIdentity": {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
     "userAgent": "langchain", "sourceIPAddress": "lambda.amazonaws.com"},
    {"eventTime": "2026-11-28T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
     "userIdentity": {"type": "IAMUser", "userName": "carol", "arn": "arn:aws:iam::123456789012:user/carol"},
     "userAgent": "aws-cli/2.15", "sourceIPAddress": "198.51.100.2"}
  ]
}"#,
    );
    let r = run(&e, vec![], vec![trail]);
    assert!(
        has(&r, "AAZ013", "Identity::\"llm-etl\""),
        "{}",
        posture::posture_text(&r)
    );
    assert_eq!(r.findings.len(), 1, "{}", posture::posture_text(&r));
    assert!(r.findings[0]
        .evidence
        .iter()
        .any(|e| e.contains("s3:GetObject")));
}

#[test]
fn sarif_has_the_required_fields() {
    let e = engine(DIRTY_POLICIES, DIRTY_INVENTORY);
    let r = run(&e, vec![], vec![]);
    let s: serde_json::Value =
        serde_json::from_str(&posture::posture_sarif(&r, "bundle").to_string()).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let run = &s["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "agentauthz");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), posture::RULES.len());
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), r.findings.len());
    for res in results {
        let index = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], res["ruleId"]);
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().unwrap()));
        assert!(!res["message"]["text"].as_str().unwrap().is_empty());
        let loc = &res["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].is_string());
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn config_thresholds_apply() {
    let e = Engine::builder()
        .schema(SCHEMA)
        .policies(DIRTY_POLICIES)
        .inventory(DIRTY_INVENTORY)
        .config("[posture]\nmax_credential_days = 400\nrotation_days = 400\n")
        .build()
        .unwrap();
    let r = run(&e, vec![], vec![]);
    assert!(!r
        .findings
        .iter()
        .any(|f| f.rule == "AAZ005" || f.rule == "AAZ006"));
    assert!(has(&r, "AAZ004", "Credential::\"forever\""));
}

#[test]
fn an_engine_that_does_not_enforce_is_a_high_finding() {
    let with_config = |config: &str| {
        Engine::builder()
            .schema(SCHEMA)
            .policies(CLEAN_POLICIES)
            .inventory(CLEAN_INVENTORY)
            .config(config)
            .build()
            .unwrap()
    };
    let r = run(
        &with_config("[engine]\nmode = \"log-only\"\n"),
        vec![],
        vec![],
    );
    let f = r.findings.iter().find(|f| f.rule == "AAZ015").unwrap();
    assert_eq!(
        (f.severity, f.entity.as_str()),
        (Severity::High, "Engine::\"mode\"")
    );
    assert!(r.fails(Severity::High));
    let r = run(
        &with_config("[engine]\non_error = \"skip\"\n"),
        vec![],
        vec![],
    );
    assert!(has(&r, "AAZ015", "Engine::\"on_error\""));
    let r = run(
        &with_config("[engine]\nmode = \"enforce\"\n"),
        vec![],
        vec![],
    );
    assert!(!r.findings.iter().any(|f| f.rule == "AAZ015"));
}
