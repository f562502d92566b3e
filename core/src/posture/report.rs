//! What posture analysis reports: the agent inventory and the findings.

use super::effective::Permission;
use super::rules::{Controls, Severity};
use crate::error::Location;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What to analyse besides the bundle.
#[derive(Debug, Clone, Default)]
pub struct PostureOptions {
    /// The reference time (ms since the epoch): ages, expiry and staleness are measured from it.
    pub now_millis: i64,
    /// Decision logs (DecisionRecord JSON lines).
    pub logs: Vec<PathBuf>,
    /// API access logs (JSON lines, or CloudTrail files) for shadow-agent discovery.
    pub access_logs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CredentialSummary {
    pub id: String,
    pub kind: String,
    pub issued: Option<String>,
    pub expires: Option<String>,
    /// Days since issue.
    pub age_days: Option<i64>,
    /// Days until expiry (negative: expired).
    pub expires_in_days: Option<i64>,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskSummary {
    pub id: String,
    pub purpose: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentEntry {
    pub id: String,
    pub owner: Option<String>,
    /// `None` when the owner is absent or unknown to the inventory.
    pub owner_active: Option<bool>,
    pub kind: String,
    pub status: String,
    pub environment: Option<String>,
    pub created: Option<String>,
    pub groups: Vec<String>,
    pub credentials: Vec<CredentialSummary>,
    /// Tasks whose window has not closed.
    pub open_tasks: Vec<TaskSummary>,
    /// Last decision-log record naming the agent (when logs were given).
    pub last_activity: Option<String>,
    pub log_records: u64,
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InventoryReport {
    pub policy_revision: String,
    pub generated_at: String,
    pub agents: Vec<AgentEntry>,
}

/// One finding of a rule.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// The entity or policy concerned, e.g. `Agent::"ci-bot"`, `Policy::"coding/read"`, `Identity::"svc-x"`.
    pub entity: String,
    pub message: String,
    pub evidence: Vec<String>,
    pub remediation: &'static str,
    pub controls: Controls,
    /// Where the entity or policy is declared, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// A suggested replacement policy (Cedar), for unused permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_policy: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PostureSummary {
    pub agents: usize,
    pub policies: usize,
    pub decision_records: u64,
    pub access_identities: usize,
    pub by_severity: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PostureReport {
    pub policy_revision: String,
    pub generated_at: String,
    pub summary: PostureSummary,
    pub findings: Vec<Finding>,
}

impl PostureReport {
    /// Whether any finding is at or above `threshold` (for `--fail-on`).
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= threshold)
    }
}
