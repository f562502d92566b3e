//! Shadow-AI discovery: API access records → identities that behave like
//! agents.
//!
//! Input, per file, one of:
//! - JSON lines, one access record per line:
//!   `{"identity": "svc-x", "token_id": "AKIA…", "user_agent": "langchain/0.3 openai-python/1.5",
//!     "source_ip": "10.0.0.5", "timestamp": "2026-11-29T10:00:00Z", "operation": "s3:GetObject"}`
//!   (`identity` or `token_id` is required; the rest is optional). A line that
//!   is a CloudTrail record (has `userIdentity`) is read as one.
//! - an AWS CloudTrail log file: `{"Records": [ {userIdentity, userAgent,
//!   sourceIPAddress, eventTime, eventSource, eventName}, … ]}`.

use super::view::parse_millis;
use crate::error::{Error, ErrorCode, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::Path;

/// User-agent fragments of agent frameworks and LLM SDKs (lower case).
pub(crate) const AGENT_MARKERS: &[&str] = &[
    "langchain",
    "langgraph",
    "llama-index",
    "llama_index",
    "llamaindex",
    "crewai",
    "autogen",
    "semantic-kernel",
    "haystack",
    "openai-python",
    "openai/python",
    "openai/js",
    "openai-node",
    "anthropic",
    "pydantic-ai",
    "smolagents",
    "litellm",
    "dspy",
];

/// User-agent fragments of scripted automation (lower case): agent-like only
/// together with a machine-rate or around-the-clock pattern.
pub(crate) const AUTOMATION_MARKERS: &[&str] = &[
    "boto3",
    "botocore",
    "aws-sdk",
    "aws-cli",
    "python-requests",
    "python-httpx",
    "curl/",
    "go-http-client",
    "okhttp",
    "node-fetch",
    "axios",
];

/// Calls within one minute from which a pattern counts as machine rate.
pub(crate) const MACHINE_RATE_PER_MINUTE: u32 = 20;
/// Distinct hours of the day (UTC) with activity from which a pattern counts as around the clock.
pub(crate) const AROUND_THE_CLOCK_HOURS: u32 = 20;

/// One access record, normalized.
#[derive(Debug, Clone, Default)]
pub(crate) struct Access {
    pub identity: Option<String>,
    pub token: Option<String>,
    pub user_agent: Option<String>,
    pub source_ip: Option<String>,
    pub timestamp: Option<String>,
    pub operation: Option<String>,
}

fn str_at(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A CloudTrail record → an access; `None` for AWS service principals.
fn from_cloudtrail(r: &Value) -> Option<Access> {
    let ui = r.get("userIdentity")?;
    if ui.get("type").and_then(Value::as_str) == Some("AWSService") {
        return None;
    }
    let identity = str_at(ui, "/userName")
        .or_else(|| str_at(ui, "/sessionContext/sessionIssuer/userName"))
        .or_else(|| {
            str_at(ui, "/arn").map(|a| a.rsplit(['/', ':']).next().unwrap_or(&a).to_string())
        })
        .or_else(|| str_at(ui, "/principalId"));
    let service = str_at(r, "/eventSource").map(|s| s.split('.').next().unwrap_or(&s).to_string());
    let operation = str_at(r, "/eventName").map(|n| match &service {
        Some(s) => format!("{s}:{n}"),
        None => n,
    });
    Some(Access {
        identity,
        token: str_at(ui, "/accessKeyId"),
        user_agent: str_at(r, "/userAgent"),
        source_ip: str_at(r, "/sourceIPAddress"),
        timestamp: str_at(r, "/eventTime"),
        operation,
    })
}

fn from_line(v: &Value) -> Option<Access> {
    if v.get("userIdentity").is_some() {
        return from_cloudtrail(v);
    }
    let a = Access {
        identity: str_at(v, "/identity"),
        token: str_at(v, "/token_id"),
        user_agent: str_at(v, "/user_agent"),
        source_ip: str_at(v, "/source_ip"),
        timestamp: str_at(v, "/timestamp"),
        operation: str_at(v, "/operation"),
    };
    (a.identity.is_some() || a.token.is_some()).then_some(a)
}

/// Behaviour of one calling identity.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdentityStats {
    pub calls: u64,
    pub tokens: BTreeSet<String>,
    pub user_agents: BTreeSet<String>,
    pub source_ips: BTreeSet<String>,
    pub operations: BTreeSet<String>,
    pub first: Option<String>,
    pub last: Option<String>,
    hours: u32,
    per_minute: HashMap<i64, u32>,
}

const KEEP: usize = 5;

fn keep(set: &mut BTreeSet<String>, v: &Option<String>) {
    if let Some(v) = v {
        if set.len() < KEEP || set.contains(v) {
            set.insert(v.clone());
        }
    }
}

impl IdentityStats {
    fn add(&mut self, a: &Access) {
        self.calls += 1;
        keep(&mut self.tokens, &a.token);
        keep(&mut self.user_agents, &a.user_agent);
        keep(&mut self.source_ips, &a.source_ip);
        keep(&mut self.operations, &a.operation);
        if let Some(ts) = &a.timestamp {
            if let Some(ms) = parse_millis(ts) {
                let minute = ms.div_euclid(60_000);
                *self.per_minute.entry(minute).or_default() += 1;
                let hour = (ms.div_euclid(3_600_000)).rem_euclid(24) as u32;
                self.hours |= 1 << hour;
                if self
                    .first
                    .as_ref()
                    .and_then(|f| parse_millis(f))
                    .is_none_or(|f| ms < f)
                {
                    self.first = Some(ts.clone());
                }
                if self
                    .last
                    .as_ref()
                    .and_then(|l| parse_millis(l))
                    .is_none_or(|l| ms > l)
                {
                    self.last = Some(ts.clone());
                }
            }
        }
    }

    pub fn max_per_minute(&self) -> u32 {
        self.per_minute.values().copied().max().unwrap_or(0)
    }

    pub fn active_hours(&self) -> u32 {
        self.hours.count_ones()
    }

    /// Agent-framework / LLM-SDK markers seen in the user agents.
    pub fn agent_markers(&self) -> Vec<&'static str> {
        markers(&self.user_agents, AGENT_MARKERS)
    }

    pub fn automation_markers(&self) -> Vec<&'static str> {
        markers(&self.user_agents, AUTOMATION_MARKERS)
    }

    /// Why this identity behaves like an agent (empty: it does not).
    pub fn agent_signals(&self) -> Vec<String> {
        let mut strong = Vec::new();
        let framework = self.agent_markers();
        if !framework.is_empty() {
            strong.push(format!(
                "agent-framework/LLM-SDK user agent ({})",
                framework.join(", ")
            ));
        }
        let mut pattern = Vec::new();
        let rate = self.max_per_minute();
        if rate >= MACHINE_RATE_PER_MINUTE {
            pattern.push(format!("machine rate ({rate} calls in one minute)"));
        }
        let hours = self.active_hours();
        if hours >= AROUND_THE_CLOCK_HOURS {
            pattern.push(format!("around the clock (active in {hours} of 24 hours)"));
        }
        let automation = self.automation_markers();
        let pattern_counts = pattern.len() >= 2 || (!pattern.is_empty() && !automation.is_empty());
        if !strong.is_empty() || pattern_counts {
            if !automation.is_empty() {
                pattern.push(format!("automation user agent ({})", automation.join(", ")));
            }
            strong.extend(pattern);
        }
        strong
    }
}

fn markers(uas: &BTreeSet<String>, list: &[&'static str]) -> Vec<&'static str> {
    list.iter()
        .copied()
        .filter(|m| uas.iter().any(|ua| ua.to_ascii_lowercase().contains(m)))
        .collect()
}

/// Reads access logs into per-identity statistics (keyed by identity, or token id when anonymous).
pub(crate) fn read(paths: &[impl AsRef<Path>]) -> Result<BTreeMap<String, IdentityStats>> {
    let mut out: BTreeMap<String, IdentityStats> = BTreeMap::new();
    let mut add = |a: Access| {
        if let Some(key) = a.identity.clone().or_else(|| a.token.clone()) {
            out.entry(key).or_default().add(&a);
        }
    };
    for path in paths {
        let path = path.as_ref();
        let io = |e: std::io::Error| {
            Error::new(
                ErrorCode::Io,
                format!("cannot read {}: {e}", path.display()),
            )
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut lines = std::io::BufReader::new(file).lines();
        let mut first: Option<String> = None;
        for line in lines.by_ref() {
            let line = line.map_err(io)?;
            if !line.trim().is_empty() {
                first = Some(line);
                break;
            }
        }
        let Some(first) = first else { continue };
        let first_value: Option<Value> = serde_json::from_str(&first).ok();
        let is_document = match &first_value {
            Some(v) => v.get("Records").is_some(),
            None => true,
        };
        if is_document {
            let text = std::fs::read_to_string(path).map_err(io)?;
            let doc: Value = serde_json::from_str(&text).map_err(|e| {
                Error::new(
                    ErrorCode::RequestParse,
                    format!(
                        "{}: not JSON lines nor a CloudTrail file: {e}",
                        path.display()
                    ),
                )
            })?;
            for r in doc
                .get("Records")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(a) = from_cloudtrail(r) {
                    add(a);
                }
            }
            continue;
        }
        if let Some(a) = first_value.as_ref().and_then(from_line) {
            add(a);
        }
        for line in lines {
            let line = line.map_err(io)?;
            if let Some(a) = serde_json::from_str::<Value>(&line)
                .ok()
                .as_ref()
                .and_then(from_line)
            {
                add(a);
            }
        }
    }
    Ok(out)
}
