//! Decision records as OCSF events: class API Activity (6003) with the
//! Security Control profile. The mapping is documented in docs/decision-log.md.

use super::record::{DecisionRecord, RecordDecision};
use crate::model::Effect;
use crate::time::parse_rfc3339_millis;
use serde_json::{json, Map, Value};

/// The OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.5.0";

const CLASS_UID: u64 = 6003;
const CATEGORY_UID: u64 = 6;
const ACTIVITY_OTHER: u64 = 99;

fn entity_text(type_name: &str, id: &str) -> String {
    format!("{type_name}::{id:?}")
}

/// One record as an OCSF API Activity event.
pub fn to_ocsf(r: &DecisionRecord) -> Value {
    let allowed = r.decision == RecordDecision::Allow;
    let would_deny = r.would_decision == Some(Effect::Deny);
    let (action_id, action) = if allowed {
        (1, "Allowed")
    } else {
        (2, "Denied")
    };
    // Allowed but only because of log-only enforcement: the control logged it.
    let (disposition_id, disposition) = match (allowed, would_deny) {
        (true, true) => (17, "Logged"),
        (true, false) => (1, "Allowed"),
        (false, _) => (2, "Blocked"),
    };
    let (severity_id, severity) = match (r.decision, would_deny) {
        (RecordDecision::Allow, false) => (1, "Informational"),
        (RecordDecision::Allow, true) => (2, "Low"),
        (RecordDecision::Deny | RecordDecision::Error | RecordDecision::NeedsApproval, _) => {
            (3, "Medium")
        }
    };
    let (status_id, status) = if allowed {
        (1, "Success")
    } else {
        (2, "Failure")
    };
    let status_detail = match &r.error {
        Some(e) => e.code.clone(),
        None if r.reasons.is_empty() && !allowed => "no policy permits it".to_string(),
        None => r.reasons.join(", "),
    };
    let principal = r
        .agent
        .clone()
        .unwrap_or_else(|| entity_text(&r.principal.type_name, &r.principal.id));

    let mut user = Map::new();
    user.insert("uid".into(), json!(principal));
    user.insert("name".into(), json!(principal));
    if r.agent.is_some() {
        user.insert("type_id".into(), json!(99));
        user.insert("type".into(), json!("AI Agent"));
    }
    let decision_word = r.decision.as_str();
    let authorizations: Vec<Value> = if r.reasons.is_empty() {
        vec![json!({"decision": decision_word})]
    } else {
        r.reasons
            .iter()
            .map(|p| {
                json!({"decision": decision_word,
                       "policy": {"uid": p, "name": p, "version": r.policy_revision}})
            })
            .collect()
    };
    let mut actor = Map::new();
    actor.insert("user".into(), Value::Object(user));
    actor.insert("authorizations".into(), Value::Array(authorizations));
    // The agent's session: its task (a bounded grant) and the credential it presented.
    if r.task.is_some() || r.credential.is_some() {
        let mut session = Map::new();
        if let Some(task) = &r.task {
            session.insert("uid".into(), json!(task));
        }
        if let Some(credential) = &r.credential {
            session.insert("credential_uid".into(), json!(credential));
        }
        actor.insert("session".into(), Value::Object(session));
    }

    let mut api = Map::new();
    api.insert("operation".into(), json!(r.action));
    api.insert("request".into(), json!({"uid": r.decision_id}));
    api.insert("service".into(), json!({"name": "agentauthz"}));
    if let Some(e) = &r.error {
        api.insert(
            "response".into(),
            json!({"error": e.code, "error_message": e.message}),
        );
    }

    let src_endpoint = match r.context.get("source_ip").and_then(Value::as_str) {
        Some(ip) if ip != super::record::REDACTED => json!({"ip": ip}),
        _ => json!({"name": principal}),
    };

    let mut unmapped = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            unmapped.insert(k.into(), v);
        }
    };
    put("schema_version", json!(r.schema_version));
    put("seq", json!(r.seq));
    put("prev_hash", json!(r.prev_hash));
    put("hash", json!(r.hash));
    put("kid", json!(r.kid));
    put("mac", json!(r.mac));
    put("policy_revision", json!(r.policy_revision));
    put("mode", json!(r.mode.as_str()));
    put("decision", json!(decision_word));
    put("reasons", json!(r.reasons));
    put("owner", json!(r.owner));
    put("on_behalf_of", json!(r.on_behalf_of));
    put("credential", json!(r.credential));
    put("task", json!(r.task));
    put("request_time", json!(r.request_time));
    put("context", Value::Object(r.context.clone()));
    if !r.errors.is_empty() {
        put("policy_errors", json!(r.errors));
    }
    if r.fail_closed {
        put("fail_closed", json!(true));
    }
    put(
        "would_decision",
        json!(r.would_decision.map(Effect::as_str)),
    );
    put("would_reasons", json!(r.would_reasons));
    if r.would_errors.as_ref().is_some_and(|e| !e.is_empty()) {
        put("would_errors", json!(r.would_errors));
    }

    let resource = &r.resource;
    let mut event = json!({
        "class_uid": CLASS_UID,
        "class_name": "API Activity",
        "category_uid": CATEGORY_UID,
        "category_name": "Application Activity",
        "activity_id": ACTIVITY_OTHER,
        "activity_name": "Authorize",
        "type_uid": CLASS_UID * 100 + ACTIVITY_OTHER,
        "type_name": "API Activity: Authorize",
        "time": parse_rfc3339_millis(&r.timestamp).unwrap_or(0),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "status_detail": status_detail,
        "action_id": action_id,
        "action": action,
        "disposition_id": disposition_id,
        "disposition": disposition,
        "is_alert": !allowed || would_deny,
        "message": format!(
            "{principal} {} {}: {decision_word}{}",
            r.action,
            entity_text(&resource.type_name, &resource.id),
            if r.reasons.is_empty() { String::new() } else { format!(" ({})", r.reasons.join(", ")) }
        ),
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["security_control", "cloud"],
            "product": {"name": "agentauthz", "vendor_name": "agentauthz", "version": crate::model::VERSION},
            "uid": r.decision_id,
            "sequence": r.seq,
            "log_name": "decisions",
            "original_time": r.timestamp,
        },
        "actor": Value::Object(actor),
        // Required by API Activity; the decision is made in-process, not by a cloud API.
        "cloud": {"provider": "agentauthz"},
        "api": Value::Object(api),
        "src_endpoint": src_endpoint,
        "resources": [{"uid": resource.id, "name": resource.id, "type": resource.type_name}],
        "unmapped": Value::Object(unmapped),
    });
    if let (Some(first), Value::Object(map)) = (r.reasons.first(), &mut event) {
        map.insert(
            "policy".into(),
            json!({"uid": first, "name": first, "version": r.policy_revision}),
        );
    }
    event
}
