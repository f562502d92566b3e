//! Records as OpenTelemetry log records over OTLP/HTTP (binary protobuf,
//! `POST <endpoint>` with `application/x-protobuf`), one request per batch.
//!
//! The message types are the official ones (`opentelemetry-proto`, prost);
//! the client is `ureq` (blocking, no async runtime, no TLS: an `https`
//! endpoint is refused at load; put a TLS-terminating collector next to the
//! process). A 2xx answer acknowledges the batch; anything else (an error
//! status, a timeout, a reset) is a failed delivery retried from the spool.
//! Header values (API keys) never appear in errors or `Debug` output.

use super::ocsf::to_ocsf;
use super::record::{DecisionRecord, RecordDecision};
use super::spool::{Outgoing, Transport};
use crate::error::{Error, ErrorCode, Result};
use crate::time::parse_rfc3339_millis;
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes of a receiver's answer read at most.
const MAX_ANSWER: u64 = 64 * 1024;

/// Settings of the OTLP/HTTP transport.
#[derive(Clone)]
pub struct OtlpOptions {
    /// The full URL, e.g. `http://127.0.0.1:4318/v1/logs`.
    pub endpoint: String,
    /// Extra request headers (e.g. an API key). Secret: never printed.
    pub headers: Vec<(String, String)>,
    /// Bound on one request (connect, send, answer).
    pub timeout: Duration,
    /// The log record's body: the OCSF event (JSON text) instead of the record's line.
    pub ocsf_body: bool,
}

impl fmt::Debug for OtlpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("OtlpOptions")
            .field("endpoint", &redact_url(&self.endpoint))
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .field("ocsf_body", &self.ocsf_body)
            .finish()
    }
}

impl OtlpOptions {
    pub fn new(endpoint: impl Into<String>) -> OtlpOptions {
        OtlpOptions {
            endpoint: endpoint.into(),
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
            ocsf_body: false,
        }
    }
}

/// The OTLP/HTTP log transport (and, through [`Otlp::post`], the metrics client).
pub struct Otlp {
    options: OtlpOptions,
    agent: ureq::Agent,
    shown: String,
}

impl fmt::Debug for Otlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Otlp")
            .field("options", &self.options)
            .finish()
    }
}

/// The URL without user info, query or fragment (they may hold secrets).
fn redact_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

impl Otlp {
    /// Checks the endpoint and headers (`config_invalid`); no connection yet.
    pub fn new(options: OtlpOptions) -> Result<Otlp> {
        let invalid = |m: String| Error::new(ErrorCode::ConfigInvalid, m);
        if !options.endpoint.starts_with("http://") {
            return Err(invalid(format!(
                "[log.otlp] endpoint {} must be an http:// URL (TLS is not built in: use a local collector)",
                redact_url(&options.endpoint)
            )));
        }
        for (name, value) in &options.headers {
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
            if !name_ok {
                return Err(invalid(format!(
                    "[log.otlp] header name {name:?} is not a token"
                )));
            }
            if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
                return Err(invalid(format!(
                    "[log.otlp] header {name}: the value holds control characters"
                )));
            }
        }
        let agent = crate::http::agent(options.timeout);
        Ok(Otlp {
            shown: redact_url(&options.endpoint),
            options,
            agent,
        })
    }

    /// The protobuf request for a batch (an `ExportLogsServiceRequest`).
    pub fn encode(&self, batch: &[Outgoing]) -> Vec<u8> {
        let observed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.encode_at(batch, observed)
    }

    /// Written field by field (no message structs to build, fill and drop
    /// per record); a test decodes it with the official types and compares
    /// it with the request built from them.
    fn encode_at(&self, batch: &[Outgoing], observed: u64) -> Vec<u8> {
        let mut record = Vec::with_capacity(2048);
        let mut scope = Vec::with_capacity(batch.len() * 1536 + 64);
        // ScopeLogs.scope: InstrumentationScope { name, version }
        let version = crate::model::VERSION;
        pb::key(&mut scope, 1, pb::LEN);
        pb::varint(
            &mut scope,
            (pb::str_len(1, "agentauthz") + pb::str_len(2, version)) as u64,
        );
        pb::string(&mut scope, 1, "agentauthz");
        pb::string(&mut scope, 2, version);
        for o in batch {
            record.clear();
            self.log_record(o, observed, &mut record);
            pb::bytes(&mut scope, 2, &record);
        }
        let mut resource = Vec::with_capacity(128);
        pb::kv_str(&mut resource, 1, "service.name", "agentauthz");
        pb::kv_str(&mut resource, 1, "service.version", version);
        // ResourceLogs { resource, scope_logs }
        let inner = pb::field_len(1, resource.len()) + pb::field_len(2, scope.len());
        let mut out = Vec::with_capacity(inner + 16);
        pb::key(&mut out, 1, pb::LEN);
        pb::varint(&mut out, inner as u64);
        pb::bytes(&mut out, 1, &resource);
        pb::bytes(&mut out, 2, &scope);
        out
    }

    /// One `LogRecord`'s fields.
    fn log_record(&self, o: &Outgoing, observed: u64, out: &mut Vec<u8>) {
        let r = &o.record;
        let (severity, severity_text) = severity(r.decision);
        let millis = parse_rfc3339_millis(&r.timestamp).unwrap_or(0);
        let time = u64::try_from(millis).unwrap_or(0).saturating_mul(1_000_000);
        if time != 0 {
            pb::fixed64(out, 1, time);
        }
        if observed != 0 {
            pb::fixed64(out, 11, observed);
        }
        pb::key(out, 2, pb::VARINT);
        pb::varint(out, severity as u64);
        pb::string(out, 3, severity_text);
        if self.options.ocsf_body {
            pb::any_str(out, 5, &to_ocsf(r).to_string());
        } else {
            match std::str::from_utf8(&o.line) {
                Ok(line) => pb::any_str(out, 5, line),
                Err(_) => pb::any_str(out, 5, &String::from_utf8_lossy(&o.line)),
            }
        }
        attributes(r, out);
        pb::string(out, 12, "agentauthz.decision");
    }
}

fn severity(decision: RecordDecision) -> (SeverityNumber, &'static str) {
    match decision {
        RecordDecision::Allow => (SeverityNumber::Info, "INFO"),
        RecordDecision::Deny | RecordDecision::NeedsApproval => (SeverityNumber::Warn, "WARN"),
        RecordDecision::Error => (SeverityNumber::Error, "ERROR"),
    }
}

/// The record's fields as attributes (`LogRecord.attributes`, field 6):
/// OpenTelemetry semantic conventions where one exists (`gen_ai.agent.id`,
/// `enduser.id`, `error.type`), the rest under `agentauthz.`.
fn attributes(r: &DecisionRecord, out: &mut Vec<u8>) {
    const F: u32 = 6;
    pb::kv_int(
        out,
        F,
        "agentauthz.seq",
        i64::try_from(r.seq).unwrap_or(i64::MAX),
    );
    pb::kv_str(out, F, "agentauthz.decision_id", &r.decision_id);
    pb::kv_str(out, F, "agentauthz.decision", r.decision.as_str());
    pb::kv_str(out, F, "agentauthz.action", &r.action);
    pb::kv_str(out, F, "agentauthz.principal.type", &r.principal.type_name);
    pb::kv_str(out, F, "agentauthz.principal.id", &r.principal.id);
    pb::kv_str(out, F, "agentauthz.resource.type", &r.resource.type_name);
    pb::kv_str(out, F, "agentauthz.resource.id", &r.resource.id);
    pb::kv_str(out, F, "agentauthz.policy_revision", &r.policy_revision);
    pb::kv_str(out, F, "agentauthz.mode", r.mode.as_str());
    pb::kv_str(out, F, "agentauthz.hash", &r.hash);
    pb::kv_str(out, F, "agentauthz.prev_hash", &r.prev_hash);
    pb::kv_strs(out, F, "agentauthz.reasons", &r.reasons);
    for (k, v) in [
        ("gen_ai.agent.id", &r.agent),
        ("enduser.id", &r.on_behalf_of),
        ("agentauthz.owner", &r.owner),
        ("agentauthz.task", &r.task),
    ] {
        if let Some(v) = v {
            pb::kv_str(out, F, k, v);
        }
    }
    if let Some(e) = &r.error {
        pb::kv_str(out, F, "error.type", &e.code);
    }
    if r.fail_closed {
        pb::kv_bool(out, F, "agentauthz.fail_closed", true);
    }
}

/// Protobuf wire format, for the few message shapes above.
mod pb {
    pub const VARINT: u32 = 0;
    const I64: u32 = 1;
    pub const LEN: u32 = 2;

    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    pub fn varint_len(v: u64) -> usize {
        (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
    }

    pub fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
        varint(out, u64::from((field << 3) | wire));
    }

    /// Bytes of a length-delimited field holding `len` bytes.
    pub fn field_len(field: u32, len: usize) -> usize {
        varint_len(u64::from(field << 3)) + varint_len(len as u64) + len
    }

    pub fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
        key(out, field, LEN);
        varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }

    /// A plain string field (absent when empty, as proto3 has it).
    pub fn string(out: &mut Vec<u8>, field: u32, s: &str) {
        if !s.is_empty() {
            bytes(out, field, s.as_bytes());
        }
    }

    pub fn str_len(field: u32, s: &str) -> usize {
        if s.is_empty() {
            0
        } else {
            field_len(field, s.len())
        }
    }

    pub fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
        key(out, field, I64);
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// `AnyValue { string_value }` (a oneof member: written even when empty).
    fn any_str_len(s: &str) -> usize {
        field_len(1, s.len())
    }

    pub fn any_str(out: &mut Vec<u8>, field: u32, s: &str) {
        key(out, field, LEN);
        varint(out, any_str_len(s) as u64);
        bytes(out, 1, s.as_bytes());
    }

    /// `KeyValue { key, value }` with the value's length and writer.
    fn kv(out: &mut Vec<u8>, field: u32, k: &str, value_len: usize) {
        key(out, field, LEN);
        varint(out, (str_len(1, k) + field_len(2, value_len)) as u64);
        string(out, 1, k);
        key(out, 2, LEN);
        varint(out, value_len as u64);
    }

    pub fn kv_str(out: &mut Vec<u8>, field: u32, k: &str, v: &str) {
        kv(out, field, k, any_str_len(v));
        bytes(out, 1, v.as_bytes());
    }

    pub fn kv_int(out: &mut Vec<u8>, field: u32, k: &str, n: i64) {
        let n = n as u64;
        kv(out, field, k, 1 + varint_len(n));
        key(out, 3, VARINT);
        varint(out, n);
    }

    pub fn kv_bool(out: &mut Vec<u8>, field: u32, k: &str, b: bool) {
        kv(out, field, k, 2);
        key(out, 2, VARINT);
        varint(out, u64::from(b));
    }

    /// An `ArrayValue` of strings.
    pub fn kv_strs(out: &mut Vec<u8>, field: u32, k: &str, items: &[String]) {
        let array: usize = items.iter().map(|s| field_len(1, any_str_len(s))).sum();
        kv(out, field, k, field_len(5, array));
        key(out, 5, LEN);
        varint(out, array as u64);
        for s in items {
            any_str(out, 1, s);
        }
    }
}

impl Transport for Otlp {
    fn send(&mut self, batch: &[Outgoing]) -> std::result::Result<(), String> {
        let body = self.encode(batch);
        self.post(&body)
    }
}

impl Otlp {
    /// POSTs one protobuf request; `Ok` on a 2xx answer.
    pub fn post(&self, body: &[u8]) -> std::result::Result<(), String> {
        let mut request = self
            .agent
            .post(&self.options.endpoint)
            .content_type("application/x-protobuf");
        for (k, v) in &self.options.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let mut response = request.send(body).map_err(|e| {
            // ureq's own text may quote the request; keep to the kind.
            let kind = match &e {
                ureq::Error::Timeout(_) => "timed out".to_string(),
                ureq::Error::Io(io) => format!("{}", io.kind()),
                ureq::Error::ConnectionFailed => "connection failed".into(),
                ureq::Error::HostNotFound => "host not found".into(),
                _ => "protocol error".into(),
            };
            format!("otlp: {}: {kind}", self.shown)
        })?;
        let status = response.status().as_u16();
        // Read (bounded) and drop the answer so the connection can be reused.
        let _ = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("otlp: {}: HTTP status {status}", self.shown))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
    };
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use prost::Message;
    use serde_json::json;

    fn text(s: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(s.to_string())),
        }
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(value),
            ..Default::default()
        }
    }

    /// The request built from the official message types.
    fn reference(ocsf: bool, batch: &[Outgoing], observed: u64) -> ExportLogsServiceRequest {
        let log_records = batch
            .iter()
            .map(|o| {
                let r = &o.record;
                let (severity, severity_text) = severity(r.decision);
                let body = if ocsf {
                    to_ocsf(r).to_string()
                } else {
                    String::from_utf8_lossy(&o.line).into_owned()
                };
                let mut a = vec![
                    kv(
                        "agentauthz.seq",
                        AnyValue {
                            value: Some(any_value::Value::IntValue(
                                i64::try_from(r.seq).unwrap_or(i64::MAX),
                            )),
                        },
                    ),
                    kv("agentauthz.decision_id", text(&r.decision_id)),
                    kv("agentauthz.decision", text(r.decision.as_str())),
                    kv("agentauthz.action", text(&r.action)),
                    kv("agentauthz.principal.type", text(&r.principal.type_name)),
                    kv("agentauthz.principal.id", text(&r.principal.id)),
                    kv("agentauthz.resource.type", text(&r.resource.type_name)),
                    kv("agentauthz.resource.id", text(&r.resource.id)),
                    kv("agentauthz.policy_revision", text(&r.policy_revision)),
                    kv("agentauthz.mode", text(r.mode.as_str())),
                    kv("agentauthz.hash", text(&r.hash)),
                    kv("agentauthz.prev_hash", text(&r.prev_hash)),
                    kv(
                        "agentauthz.reasons",
                        AnyValue {
                            value: Some(any_value::Value::ArrayValue(ArrayValue {
                                values: r.reasons.iter().map(|s| text(s)).collect(),
                            })),
                        },
                    ),
                ];
                for (k, v) in [
                    ("gen_ai.agent.id", &r.agent),
                    ("enduser.id", &r.on_behalf_of),
                    ("agentauthz.owner", &r.owner),
                    ("agentauthz.task", &r.task),
                ] {
                    if let Some(v) = v {
                        a.push(kv(k, text(v)));
                    }
                }
                if let Some(e) = &r.error {
                    a.push(kv("error.type", text(&e.code)));
                }
                if r.fail_closed {
                    a.push(kv(
                        "agentauthz.fail_closed",
                        AnyValue {
                            value: Some(any_value::Value::BoolValue(true)),
                        },
                    ));
                }
                let millis = parse_rfc3339_millis(&r.timestamp).unwrap_or(0);
                LogRecord {
                    time_unix_nano: u64::try_from(millis).unwrap_or(0).saturating_mul(1_000_000),
                    observed_time_unix_nano: observed,
                    severity_number: severity as i32,
                    severity_text: severity_text.into(),
                    body: Some(text(&body)),
                    attributes: a,
                    event_name: "agentauthz.decision".into(),
                    ..Default::default()
                }
            })
            .collect();
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", text("agentauthz")),
                        kv("service.version", text(crate::model::VERSION)),
                    ],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "agentauthz".into(),
                        version: crate::model::VERSION.into(),
                        ..Default::default()
                    }),
                    log_records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn outgoing(record: serde_json::Value, line: &[u8]) -> Outgoing {
        Outgoing {
            line: line.to_vec(),
            record: serde_json::from_value(record).unwrap(),
        }
    }

    fn batch() -> Vec<Outgoing> {
        let minimal = json!({
            "schema_version": 2, "seq": 1, "timestamp": "2026-11-29T10:00:00.123Z",
            "decision_id": "01JDX", "policy_revision": "sha256:ab",
            "principal": {"type": "Agent", "id": ""}, "action": "repo:read",
            "resource": {"type": "Repo", "id": "api"}, "decision": "allow",
            "reasons": [], "errors": [], "mode": "enforce", "context": {},
            "prev_hash": "0", "hash": "h1",
        });
        let mut full = minimal.clone();
        let m = full.as_object_mut().unwrap();
        for (k, v) in [
            ("seq", json!(u64::MAX)),
            ("timestamp", json!("not a time")),
            ("agent", json!("ci-bot")),
            ("owner", json!("alice")),
            ("on_behalf_of", json!("bob")),
            ("task", json!("T-42 — é")),
            ("decision", json!("error")),
            ("reasons", json!(["a", "", "ü".repeat(200)])),
            (
                "error",
                json!({"code": "request_invalid", "message": "bad"}),
            ),
            ("fail_closed", json!(true)),
            ("mode", json!("log-only")),
        ] {
            m.insert(k.into(), v);
        }
        let mut deny = minimal.clone();
        deny["decision"] = json!("deny");
        deny["seq"] = json!(300);
        let long = "x".repeat(20_000);
        vec![
            outgoing(minimal, b"{\"line\":1}"),
            outgoing(full, long.as_bytes()),
            outgoing(deny, b"not utf-8: \xff\xfe"),
        ]
    }

    /// The hand-written request decodes, with the official types, to the
    /// request built from them.
    #[test]
    fn encoded_requests_decode_to_the_official_message() {
        for ocsf in [false, true] {
            let mut options = OtlpOptions::new("http://127.0.0.1:1/v1/logs");
            options.ocsf_body = ocsf;
            let otlp = Otlp::new(options).unwrap();
            let all = batch();
            for (observed, n) in [(0, 0), (1_764_410_400_000_000_000, 1), (u64::MAX, 3)] {
                let bytes = otlp.encode_at(&all[..n], observed);
                let decoded = ExportLogsServiceRequest::decode(bytes.as_slice()).unwrap();
                assert_eq!(decoded, reference(ocsf, &all[..n], observed), "{ocsf} {n}");
            }
        }
    }

    #[test]
    fn urls_lose_their_secrets_when_shown() {
        assert_eq!(
            redact_url("http://user:pw@host:4318/v1/logs?key=s3cret#x"),
            "http://host:4318/v1/logs"
        );
        assert_eq!(redact_url("http://h/v1/logs"), "http://h/v1/logs");
    }
}
