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
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
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

    /// The protobuf request for a batch.
    pub fn encode(&self, batch: &[Outgoing]) -> Vec<u8> {
        let observed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let log_records = batch.iter().map(|o| self.log_record(o, observed)).collect();
        let request = ExportLogsServiceRequest {
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
        };
        request.encode_to_vec()
    }

    fn log_record(&self, o: &Outgoing, observed: u64) -> LogRecord {
        let r = &o.record;
        let (severity, severity_text) = match r.decision {
            RecordDecision::Allow => (SeverityNumber::Info, "INFO"),
            RecordDecision::Deny | RecordDecision::NeedsApproval => (SeverityNumber::Warn, "WARN"),
            RecordDecision::Error => (SeverityNumber::Error, "ERROR"),
        };
        let body = if self.options.ocsf_body {
            to_ocsf(r).to_string()
        } else {
            // Lines are UTF-8 (JSON this crate wrote): checked, not rewritten.
            match std::str::from_utf8(&o.line) {
                Ok(line) => line.to_owned(),
                Err(_) => String::from_utf8_lossy(&o.line).into_owned(),
            }
        };
        let millis = parse_rfc3339_millis(&r.timestamp).unwrap_or(0);
        LogRecord {
            time_unix_nano: u64::try_from(millis).unwrap_or(0).saturating_mul(1_000_000),
            observed_time_unix_nano: observed,
            severity_number: severity as i32,
            severity_text: severity_text.into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body)),
            }),
            attributes: attributes(r),
            event_name: "agentauthz.decision".into(),
            ..Default::default()
        }
    }
}

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

/// The record's fields as attributes: OpenTelemetry semantic conventions
/// where one exists (`gen_ai.agent.id`, `enduser.id`, `error.type`), the
/// rest under `agentauthz.`.
fn attributes(r: &DecisionRecord) -> Vec<KeyValue> {
    let mut a = vec![
        kv("agentauthz.seq", int(r.seq)),
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
    let mut opt = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            a.push(kv(k, text(v)));
        }
    };
    opt("gen_ai.agent.id", &r.agent);
    opt("enduser.id", &r.on_behalf_of);
    opt("agentauthz.owner", &r.owner);
    opt("agentauthz.task", &r.task);
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
    a
}

fn int(n: u64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(
            i64::try_from(n).unwrap_or(i64::MAX),
        )),
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
    use super::*;

    #[test]
    fn urls_lose_their_secrets_when_shown() {
        assert_eq!(
            redact_url("http://user:pw@host:4318/v1/logs?key=s3cret#x"),
            "http://host:4318/v1/logs"
        );
        assert_eq!(redact_url("http://h/v1/logs"), "http://h/v1/logs");
    }
}
