//! Decision logs, read tolerantly: only the fields posture needs.
//!
//! Relied on (all optional except as noted; unknown fields are ignored):
//! `timestamp` (RFC 3339), `agent` (or `principal` `{type: "Agent", id}`),
//! `action` (as requested, e.g. `github:push`), `resource` `{type, id}`,
//! `decision` (`allow` | `deny` | `error`), `reasons` (policy ids),
//! `credential`, `mode`, `would_decision` and `would_reasons` (present when
//! log-only policies or log-only mode were in effect).
//! Files are streamed line by line; memory grows with the number of distinct
//! (agent, action, resource) triples, not with the number of records.

use super::view::parse_millis;
use crate::error::{Error, ErrorCode, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
struct LogRecord {
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    principal: Option<Value>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    resource: Option<Value>,
    #[serde(default)]
    decision: Option<String>,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    credential: Option<String>,
    /// Read only for `context.token` (identity-provider tokens).
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    would_decision: Option<String>,
    #[serde(default)]
    would_reasons: Option<Vec<String>>,
}

/// (agent, action, resource type, resource id)
pub(crate) type Triple = (String, String, String, String);

/// A log-only policy that would have denied allowed traffic.
#[derive(Debug, Clone, Default)]
pub(crate) struct WouldDeny {
    pub count: u64,
    pub examples: Vec<String>,
}

/// What the decision logs say, aggregated.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogStats {
    pub records: u64,
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Per agent: last activity (ms) and record count.
    pub activity: BTreeMap<String, (i64, u64)>,
    /// Allowed (agent, action, resource) triples, with the permits that allowed them.
    pub allowed: BTreeMap<Triple, BTreeSet<String>>,
    /// Per credential id: records that named it.
    pub credentials_used: BTreeMap<String, u64>,
    /// Per log-only policy id: allowed requests it would have denied.
    pub would_deny: BTreeMap<String, WouldDeny>,
    /// Per agent named by identity-provider tokens: the issuers and client
    /// ids of its tokens and the number of records.
    pub token_agents: BTreeMap<String, TokenAgent>,
    /// Lines that were not JSON objects.
    pub skipped: u64,
}

/// An agent as identity-provider tokens named it (`context.token` of records).
#[derive(Debug, Clone, Default)]
pub(crate) struct TokenAgent {
    pub issuers: BTreeSet<String>,
    pub clients: BTreeSet<String>,
    pub records: u64,
}

/// Strips `Action::"…"` / `Ns::Action::"…"` to the bare id.
pub(crate) fn action_id(action: &str) -> String {
    match action.rfind("Action::\"") {
        Some(i) => action[i + 9..].trim_end_matches('"').to_string(),
        None => action.to_string(),
    }
}

impl LogStats {
    pub fn read(paths: &[impl AsRef<Path>]) -> Result<LogStats> {
        let mut stats = LogStats::default();
        for path in paths {
            let path = path.as_ref();
            let file = std::fs::File::open(path).map_err(|e| {
                Error::new(
                    ErrorCode::Io,
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            for line in std::io::BufReader::new(file).lines() {
                let line = line.map_err(|e| {
                    Error::new(
                        ErrorCode::Io,
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<LogRecord>(&line) {
                    Ok(r) => stats.add(r),
                    Err(_) => stats.skipped += 1,
                }
            }
        }
        Ok(stats)
    }

    fn add(&mut self, r: LogRecord) {
        self.records += 1;
        let t = r.timestamp.as_deref().and_then(parse_millis);
        if let Some(t) = t {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        let agent = r.agent.clone().or_else(|| {
            let p = r.principal.as_ref()?;
            (p.get("type")?.as_str()? == "Agent")
                .then(|| p.get("id")?.as_str().map(str::to_string))?
        });
        let Some(agent) = agent else { return };
        let token = r.context.as_ref().and_then(|c| c.get("token"));
        if let Some(issuer) = token.and_then(|t| t.get("issuer")).and_then(Value::as_str) {
            let seen = self.token_agents.entry(agent.clone()).or_default();
            seen.issuers.insert(issuer.to_string());
            if let Some(c) = token
                .and_then(|t| t.get("client_id"))
                .and_then(Value::as_str)
            {
                seen.clients.insert(c.to_string());
            }
            seen.records += 1;
        }
        let entry = self.activity.entry(agent.clone()).or_insert((i64::MIN, 0));
        entry.0 = entry.0.max(t.unwrap_or(i64::MIN));
        entry.1 += 1;
        if let Some(c) = &r.credential {
            *self.credentials_used.entry(c.clone()).or_default() += 1;
        }
        let action = r.action.as_deref().map(action_id).unwrap_or_default();
        let (rtype, rid) = r
            .resource
            .as_ref()
            .map(|v| {
                (
                    v.get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    v.get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .unwrap_or_default();
        let allowed = r.decision.as_deref() == Some("allow");
        if allowed {
            self.allowed
                .entry((agent.clone(), action.clone(), rtype.clone(), rid.clone()))
                .or_default()
                .extend(r.reasons.iter().cloned());
            if r.would_decision.as_deref() == Some("deny") {
                let enforced: BTreeSet<&String> = r.reasons.iter().collect();
                for p in r.would_reasons.iter().flatten() {
                    if enforced.contains(p) {
                        continue;
                    }
                    let w = self.would_deny.entry(p.clone()).or_default();
                    w.count += 1;
                    if w.examples.len() < 3 {
                        w.examples.push(format!(
                            "{} {agent} {action} {rtype}::{rid}",
                            r.timestamp.as_deref().unwrap_or("?")
                        ));
                    }
                }
            }
        }
    }
}
