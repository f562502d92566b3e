//! `DecisionRecord` v2, its fast canonical serialization, and redaction.

use super::canonical::{write_str, write_value};
use crate::bundle::Mode;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Effect, EntityRef, PolicyError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `schema_version` of the records this crate writes. Version 2 added
/// `fail_closed` and, in a keyed log, `kid` and `mac` (both or neither);
/// version 1 records (which have none of them) still verify.
pub const SCHEMA_VERSION: u32 = 2;

/// The oldest `schema_version` this crate reads and verifies.
pub const MIN_SCHEMA_VERSION: u32 = 1;

/// What the caller was told: allow, deny, or an error (the check raised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub enum RecordDecision {
    Allow,
    Deny,
    Error,
    /// Held back for a human's approval (not allowed).
    #[serde(rename = "needs_approval")]
    NeedsApproval,
}

impl RecordDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordDecision::Allow => "allow",
            RecordDecision::Deny => "deny",
            RecordDecision::Error => "error",
            RecordDecision::NeedsApproval => "needs_approval",
        }
    }
}

impl From<Effect> for RecordDecision {
    fn from(e: Effect) -> RecordDecision {
        match e {
            Effect::Allow => RecordDecision::Allow,
            Effect::Deny => RecordDecision::Deny,
            Effect::NeedsApproval => RecordDecision::NeedsApproval,
        }
    }
}

/// Why a check raised instead of deciding (bad input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct RecordError {
    /// The stable error code, e.g. `request_invalid`.
    pub code: String,
    pub message: String,
}

/// One decision, as the decision log stores it (schema version 1).
///
/// Optional members are absent (not `null`) when they do not apply. The
/// `would_*` members are present when the engine runs in `log-only` mode or
/// has `@mode("log-only")` policies: they hold the decision had every policy
/// been enforced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct DecisionRecord {
    pub schema_version: u32,
    /// Position in the chain: 1 for the first record of a log, no gaps.
    #[cfg_attr(test, ts(type = "number"))]
    pub seq: u64,
    /// When the engine decided (engine clock), RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// The `decision_id` the caller got in its Decision.
    pub decision_id: String,
    pub policy_revision: String,
    /// The agent id (agent-form requests, or a Cedar-form principal of type `Agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub principal: EntityRef,
    /// The agent's owner from the inventory, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// The action as requested (`github:push`; `Action::"view"` for Cedar-form requests).
    pub action: String,
    pub resource: EntityRef,
    /// What the caller was told.
    pub decision: RecordDecision,
    /// Policies that determined `decision`, sorted.
    pub reasons: Vec<String>,
    /// Policies whose evaluation errored (Cedar skips them), sorted.
    pub errors: Vec<PolicyError>,
    /// Set when the check raised (`decision` is `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordError>,
    /// `true` when a `forbid` whose evaluation errored denied the request
    /// (`[engine] on_error = "deny"`): in `would_decision` when the record
    /// has one, else in `decision`. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(test, ts(as = "Option<bool>"))]
    pub fail_closed: bool,
    /// The engine's enforcement mode.
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_decision: Option<Effect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_reasons: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_errors: Option<Vec<PolicyError>>,
    /// The request's application context, with the configured fields redacted.
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub context: Map<String, Value>,
    /// The request's own `now`, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_time: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    /// Id of the integrity key of `mac` (keyed logs, version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// HMAC-SHA-256 (hex) of `hash` (which covers the record and its
    /// predecessor's hash) with the key `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl DecisionRecord {
    /// The record as JSON (the form callbacks in other languages receive).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The hash this record should carry (SHA-256 of its canonical form without `hash`).
    pub fn compute_hash(&self) -> String {
        let body = Body::write(&self.view());
        let mut h = sha2::Sha256::default();
        body.feed(&mut h, &self.prev_hash, self.seq);
        super::canonical::hex(&sha2::Digest::finalize(h))
    }
}

impl DecisionRecord {
    /// The record's members, borrowed.
    pub(crate) fn view(&self) -> RecordView<'_> {
        RecordView {
            schema_version: self.schema_version,
            timestamp: &self.timestamp,
            decision_id: &self.decision_id,
            policy_revision: &self.policy_revision,
            agent: self.agent.as_deref(),
            principal: &self.principal,
            owner: self.owner.as_deref(),
            on_behalf_of: self.on_behalf_of.as_deref(),
            task: self.task.as_deref(),
            credential: self.credential.as_deref(),
            action: &self.action,
            resource: &self.resource,
            decision: self.decision,
            reasons: &self.reasons,
            errors: &self.errors,
            error: self.error.as_ref(),
            fail_closed: self.fail_closed,
            mode: self.mode,
            would_decision: self.would_decision,
            would_reasons: self.would_reasons.as_deref(),
            would_errors: self.would_errors.as_deref(),
            context: &self.context,
            request_time: self.request_time.as_deref(),
        }
    }
}

/// A record's members (all but `seq`, `prev_hash`, `hash`), borrowed from the
/// request and the decision: file and stdout sinks serialize records from this
/// without copying them into a [`DecisionRecord`] first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordView<'a> {
    pub schema_version: u32,
    pub timestamp: &'a str,
    pub decision_id: &'a str,
    pub policy_revision: &'a str,
    pub agent: Option<&'a str>,
    pub principal: &'a EntityRef,
    pub owner: Option<&'a str>,
    pub on_behalf_of: Option<&'a str>,
    pub task: Option<&'a str>,
    pub credential: Option<&'a str>,
    pub action: &'a str,
    pub resource: &'a EntityRef,
    pub decision: RecordDecision,
    pub reasons: &'a [String],
    pub errors: &'a [PolicyError],
    pub error: Option<&'a RecordError>,
    pub fail_closed: bool,
    pub mode: Mode,
    pub would_decision: Option<Effect>,
    pub would_reasons: Option<&'a [String]>,
    pub would_errors: Option<&'a [PolicyError]>,
    pub context: &'a Map<String, Value>,
    pub request_time: Option<&'a str>,
}

impl RecordView<'_> {
    /// An owned record (`seq`, `prev_hash` and `hash` still to be set).
    pub fn to_record(self) -> DecisionRecord {
        let own = |s: Option<&str>| s.map(str::to_string);
        DecisionRecord {
            schema_version: self.schema_version,
            seq: 0,
            timestamp: self.timestamp.to_string(),
            decision_id: self.decision_id.to_string(),
            policy_revision: self.policy_revision.to_string(),
            agent: own(self.agent),
            principal: self.principal.clone(),
            owner: own(self.owner),
            on_behalf_of: own(self.on_behalf_of),
            task: own(self.task),
            credential: own(self.credential),
            action: self.action.to_string(),
            resource: self.resource.clone(),
            decision: self.decision,
            reasons: self.reasons.to_vec(),
            errors: self.errors.to_vec(),
            error: self.error.cloned(),
            fail_closed: self.fail_closed,
            mode: self.mode,
            would_decision: self.would_decision,
            would_reasons: self.would_reasons.map(<[String]>::to_vec),
            would_errors: self.would_errors.map(<[PolicyError]>::to_vec),
            context: self.context.clone(),
            request_time: own(self.request_time),
            prev_hash: String::new(),
            hash: String::new(),
            kid: None,
            mac: None,
        }
    }
}

/// A record's canonical form, written once without `prev_hash` and `seq`,
/// which are only known inside the sink's lock. `bytes` is
/// `A ++ B ++ C` where the canonical form is `A ++ prev_hash ++ B ++ seq ++ C`.
#[derive(Debug)]
pub(crate) struct Body {
    pub bytes: Vec<u8>,
    pub prev_at: usize,
    pub seq_at: usize,
}

impl Body {
    /// Members in sorted key order; keep in step with the struct's serde attributes
    /// (a test compares this with the generic canonical form).
    pub fn write(r: &RecordView<'_>) -> Body {
        let mut o = Vec::with_capacity(768);
        o.extend_from_slice(b"{\"action\":");
        write_str(r.action, &mut o);
        opt_str(&mut o, b",\"agent\":", r.agent);
        o.extend_from_slice(b",\"context\":");
        write_map(r.context, &mut o);
        opt_str(&mut o, b",\"credential\":", r.credential);
        o.extend_from_slice(b",\"decision\":\"");
        o.extend_from_slice(r.decision.as_str().as_bytes());
        o.extend_from_slice(b"\",\"decision_id\":");
        write_str(r.decision_id, &mut o);
        if let Some(e) = r.error {
            o.extend_from_slice(b",\"error\":{\"code\":");
            write_str(&e.code, &mut o);
            o.extend_from_slice(b",\"message\":");
            write_str(&e.message, &mut o);
            o.push(b'}');
        }
        o.extend_from_slice(b",\"errors\":");
        write_policy_errors(r.errors, &mut o);
        if r.fail_closed {
            o.extend_from_slice(b",\"fail_closed\":true");
        }
        o.extend_from_slice(b",\"mode\":\"");
        o.extend_from_slice(r.mode.as_str().as_bytes());
        o.push(b'"');
        opt_str(&mut o, b",\"on_behalf_of\":", r.on_behalf_of);
        opt_str(&mut o, b",\"owner\":", r.owner);
        o.extend_from_slice(b",\"policy_revision\":");
        write_str(r.policy_revision, &mut o);
        o.extend_from_slice(b",\"prev_hash\":\"");
        let prev_at = o.len();
        o.extend_from_slice(b"\",\"principal\":");
        write_entity(r.principal, &mut o);
        o.extend_from_slice(b",\"reasons\":");
        write_strs(r.reasons, &mut o);
        opt_str(&mut o, b",\"request_time\":", r.request_time);
        o.extend_from_slice(b",\"resource\":");
        write_entity(r.resource, &mut o);
        o.extend_from_slice(b",\"schema_version\":");
        o.extend_from_slice(decimal(u64::from(r.schema_version), &mut [0; 20]));
        o.extend_from_slice(b",\"seq\":");
        let seq_at = o.len();
        opt_str(&mut o, b",\"task\":", r.task);
        o.extend_from_slice(b",\"timestamp\":");
        write_str(r.timestamp, &mut o);
        if let Some(d) = r.would_decision {
            o.extend_from_slice(b",\"would_decision\":\"");
            o.extend_from_slice(d.as_str().as_bytes());
            o.push(b'"');
        }
        if let Some(e) = r.would_errors {
            o.extend_from_slice(b",\"would_errors\":");
            write_policy_errors(e, &mut o);
        }
        if let Some(reasons) = r.would_reasons {
            o.extend_from_slice(b",\"would_reasons\":");
            write_strs(reasons, &mut o);
        }
        o.push(b'}');
        Body {
            bytes: o,
            prev_at,
            seq_at,
        }
    }

    /// Feeds the canonical form to a hasher.
    pub fn feed(&self, h: &mut sha2::Sha256, prev_hash: &str, seq: u64) {
        use sha2::Digest;
        h.update(&self.bytes[..self.prev_at]);
        self.feed_rest(h, prev_hash, seq);
    }

    /// Feeds everything after `A` (the caller fed `A` already).
    pub fn feed_rest(&self, h: &mut sha2::Sha256, prev_hash: &str, seq: u64) {
        use sha2::Digest;
        h.update(prev_hash.as_bytes());
        h.update(&self.bytes[self.prev_at..self.seq_at]);
        h.update(decimal(seq, &mut [0; 20]));
        h.update(&self.bytes[self.seq_at..]);
    }

    /// The JSON line as written to a file: the canonical form with `hash` appended.
    pub fn write_line(&self, out: &mut Vec<u8>, prev_hash: &str, seq: u64, hash: &str) {
        out.extend_from_slice(&self.bytes[..self.prev_at]);
        out.extend_from_slice(prev_hash.as_bytes());
        out.extend_from_slice(&self.bytes[self.prev_at..self.seq_at]);
        out.extend_from_slice(decimal(seq, &mut [0; 20]));
        let rest = &self.bytes[self.seq_at..];
        out.extend_from_slice(&rest[..rest.len().saturating_sub(1)]);
        out.extend_from_slice(b",\"hash\":\"");
        out.extend_from_slice(hash.as_bytes());
        out.extend_from_slice(b"\"}\n");
    }
}

/// `,"kid":…,"mac":…` as the last members of a written line.
pub(crate) fn add_mac(line: &mut Vec<u8>, mac: Option<(&str, String)>) {
    let Some((kid, mac)) = mac else {
        return;
    };
    // The line ends with `}\n`; key ids are plain (see IntegrityKey::new).
    line.truncate(line.len().saturating_sub(2));
    line.extend_from_slice(b",\"kid\":\"");
    line.extend_from_slice(kid.as_bytes());
    line.extend_from_slice(b"\",\"mac\":\"");
    line.extend_from_slice(mac.as_bytes());
    line.extend_from_slice(b"\"}\n");
}

/// `n` in decimal, without allocating.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

fn opt_str(o: &mut Vec<u8>, key: &[u8], value: Option<&str>) {
    if let Some(v) = value {
        o.extend_from_slice(key);
        write_str(v, o);
    }
}

fn write_strs(items: &[String], o: &mut Vec<u8>) {
    o.push(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        write_str(s, o);
    }
    o.push(b']');
}

fn write_entity(e: &EntityRef, o: &mut Vec<u8>) {
    o.extend_from_slice(b"{\"id\":");
    write_str(&e.id, o);
    o.extend_from_slice(b",\"type\":");
    write_str(&e.type_name, o);
    o.push(b'}');
}

fn write_policy_errors(errors: &[PolicyError], o: &mut Vec<u8>) {
    o.push(b'[');
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"message\":");
        write_str(&e.message, o);
        o.extend_from_slice(b",\"policy\":");
        write_str(&e.policy, o);
        o.push(b'}');
    }
    o.push(b']');
}

fn write_map(map: &Map<String, Value>, o: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    o.push(b'{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        write_str(k, o);
        o.push(b':');
        write_value(v, o);
    }
    o.push(b'}');
}

/// The replacement for a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Context paths to redact, from `[log] redact` (e.g. `input.password`).
///
/// A path is a dot-separated list of member names, relative to the request's
/// context. Where a path meets an array, the rest of the path applies to each
/// element. A redacted value of any type becomes the string `"[redacted]"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    paths: Vec<Vec<String>>,
}

impl Redactor {
    pub fn new(paths: &[String]) -> Result<Redactor> {
        let mut out = Vec::new();
        for p in paths {
            let segments: Vec<String> = p.split('.').map(str::to_string).collect();
            if segments.iter().any(String::is_empty) {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("agentauthz.toml: [log] redact path `{p}` has an empty segment (write e.g. `input.password`)"),
                ));
            }
            out.push(segments);
        }
        Ok(Redactor { paths: out })
    }

    /// Whether any path could apply to `context` (its first member is present).
    pub fn touches(&self, context: &Map<String, Value>) -> bool {
        self.paths
            .iter()
            .any(|p| p.first().is_some_and(|k| context.contains_key(k)))
    }

    /// `context` as a record carries it: copied and redacted only when a
    /// configured path can apply, with the text of every value removed.
    pub fn redacted<'a>(
        &self,
        context: &'a Map<String, Value>,
    ) -> (std::borrow::Cow<'a, Map<String, Value>>, Vec<String>) {
        if !self.touches(context) {
            return (std::borrow::Cow::Borrowed(context), Vec::new());
        }
        let mut copy = context.clone();
        let secrets = self.apply(&mut copy);
        (std::borrow::Cow::Owned(copy), secrets)
    }

    /// Redacts `context` in place; returns the text of every value removed
    /// (strings and numbers, recursively), to scrub them from messages.
    pub fn apply(&self, context: &mut Map<String, Value>) -> Vec<String> {
        let mut secrets = Vec::new();
        for path in &self.paths {
            redact_map(context, path, &mut secrets);
        }
        secrets
    }
}

fn redact_map(map: &mut Map<String, Value>, path: &[String], secrets: &mut Vec<String>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(value) = map.get_mut(first) else {
        return;
    };
    if rest.is_empty() {
        collect_secrets(value, secrets);
        *value = Value::String(REDACTED.into());
    } else {
        redact_value(value, rest, secrets);
    }
}

fn redact_value(value: &mut Value, path: &[String], secrets: &mut Vec<String>) {
    match value {
        Value::Object(m) => redact_map(m, path, secrets),
        Value::Array(items) => {
            for item in items {
                redact_value(item, path, secrets);
            }
        }
        _ => {}
    }
}

fn collect_secrets(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| collect_secrets(v, out)),
        Value::Object(m) => m.values().for_each(|v| collect_secrets(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// Removes every secret (as written raw, JSON-escaped or Rust-escaped) from a
/// message. Secrets shorter than 4 characters are left alone: scrubbing them
/// would shred the message without protecting anything worth a redaction.
pub(crate) fn scrub(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for s in secrets {
        if s.chars().count() < 4 {
            continue;
        }
        let json = serde_json::to_string(s).unwrap_or_default();
        let debug = format!("{s:?}");
        for form in [
            s.as_str(),
            json.get(1..json.len().saturating_sub(1)).unwrap_or(""),
            debug.get(1..debug.len().saturating_sub(1)).unwrap_or(""),
        ] {
            if !form.is_empty() && out.contains(form) {
                out = out.replace(form, REDACTED);
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::audit::canonical::{canonical_json, GENESIS_HASH};
    use serde_json::json;

    pub(crate) fn sample() -> DecisionRecord {
        DecisionRecord {
            schema_version: SCHEMA_VERSION,
            seq: 0,
            timestamp: "2026-11-29T10:00:00.000Z".into(),
            decision_id: "01JDX".into(),
            policy_revision: "sha256:ab".into(),
            agent: Some("ci-bot".into()),
            principal: EntityRef::new("Agent", "ci-bot"),
            owner: Some("alice".into()),
            on_behalf_of: None,
            task: Some("T-42".into()),
            credential: Some("key".into()),
            action: "github:push".into(),
            resource: EntityRef::new("Repo", "acme/\"api\""),
            decision: RecordDecision::Deny,
            reasons: vec!["a".into(), "b".into()],
            errors: vec![PolicyError {
                policy: "p".into(),
                message: "m\n".into(),
            }],
            error: None,
            fail_closed: true,
            mode: Mode::Enforce,
            would_decision: Some(Effect::Allow),
            would_reasons: Some(vec![]),
            would_errors: Some(vec![]),
            context: json!({"z": 1, "branch": "main", "input": {"b": [1, {"y": null, "x": true}], "a": "é"}})
                .as_object()
                .unwrap()
                .clone(),
            request_time: Some("2026-11-29T10:00:00Z".into()),
            prev_hash: String::new(),
            hash: String::new(),
            kid: None,
            mac: None,
        }
    }

    /// The fast writer produces exactly the generic canonical form.
    #[test]
    fn body_matches_generic_canonical_form() {
        let mut records = vec![sample()];
        let mut r = sample();
        r.agent = None;
        r.owner = None;
        r.task = None;
        r.credential = None;
        r.on_behalf_of = Some("bob".into());
        r.would_decision = None;
        r.would_reasons = None;
        r.would_errors = None;
        r.request_time = None;
        r.error = Some(RecordError {
            code: "request_invalid".into(),
            message: "bad \u{1} input".into(),
        });
        r.decision = RecordDecision::Error;
        r.fail_closed = false;
        r.mode = Mode::LogOnly;
        r.context = Map::new();
        records.push(r);
        for mut r in records {
            r.seq = 12345;
            r.prev_hash = GENESIS_HASH.into();
            let body = Body::write(&r.view());
            let mut line = Vec::new();
            body.write_line(&mut line, &r.prev_hash, r.seq, "h");
            let mut expected = serde_json::to_value(&r).unwrap();
            expected.as_object_mut().unwrap().remove("hash");
            let canonical_form = {
                let mut b = Vec::new();
                b.extend_from_slice(&body.bytes[..body.prev_at]);
                b.extend_from_slice(r.prev_hash.as_bytes());
                b.extend_from_slice(&body.bytes[body.prev_at..body.seq_at]);
                b.extend_from_slice(b"12345");
                b.extend_from_slice(&body.bytes[body.seq_at..]);
                b
            };
            assert_eq!(
                String::from_utf8(canonical_form).unwrap(),
                String::from_utf8(canonical_json(&expected)).unwrap()
            );
            // The written line parses back to the record.
            let parsed: DecisionRecord = serde_json::from_slice(&line).unwrap();
            assert_eq!(parsed.hash, "h");
            let mut r2 = r.clone();
            r2.hash = "h".into();
            assert_eq!(parsed, r2);
            // And the record's hash is the generic one.
            let mut v = serde_json::to_value(&r).unwrap();
            v.as_object_mut().unwrap().insert("hash".into(), json!("x"));
            assert_eq!(
                Some(r.compute_hash()),
                crate::audit::canonical::record_hash(&v)
            );
        }
    }

    #[test]
    fn decimal_formats_like_display() {
        for n in [0, 1, 9, 10, 12345, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }

    #[test]
    fn redacts_nested_paths_and_arrays() {
        let red = Redactor::new(&[
            "input.password".into(),
            "input.items.secret".into(),
            "token".into(),
            "missing.path".into(),
        ])
        .unwrap();
        let mut ctx = json!({
            "token": {"a": "tok-123456", "n": 42},
            "input": {"password": "hunter22", "user": "bob",
                      "items": [{"secret": "s3cr3t-1"}, {"secret": 98765}, "plain"]}
        })
        .as_object()
        .unwrap()
        .clone();
        let mut secrets = red.apply(&mut ctx);
        secrets.sort();
        assert_eq!(
            Value::Object(ctx),
            json!({
                "token": "[redacted]",
                "input": {"password": "[redacted]", "user": "bob",
                          "items": [{"secret": "[redacted]"}, {"secret": "[redacted]"}, "plain"]}
            })
        );
        assert_eq!(
            secrets,
            vec!["42", "98765", "hunter22", "s3cr3t-1", "tok-123456"]
        );
        assert_eq!(
            scrub("value \"hunter22\" at input.password; 42", &secrets),
            "value \"[redacted]\" at input.password; 42"
        );
        assert!(Redactor::new(&["input..x".into()]).is_err());
    }
}
