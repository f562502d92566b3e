//! Inventory, posture findings and shadow-agent discovery (offline analysis).
//!
//! [`inventory`] lists every agent with its owner, credentials, open tasks,
//! last activity and effective permissions; [`posture`] runs the rules of
//! [`RULES`] over the bundle, its decision logs and API access logs.
//! See docs/posture.md for every rule, the control mapping and the formats.

mod effective;
mod findings;
mod logs;
mod render;
mod report;
mod rules;
mod unregistered;
mod view;

pub use effective::{Permission, PermissionStatus};
pub use findings::posture;
pub use render::{inventory_csv, inventory_table, posture_markdown, posture_sarif, posture_text};
pub use report::{
    AgentEntry, CredentialSummary, Finding, InventoryReport, PostureOptions, PostureReport,
    PostureSummary, TaskSummary,
};
pub use rules::{rule, Controls, Rule, Severity, RULES};

use crate::engine::Engine;
use crate::error::Result;
use crate::time::format_millis;
use effective::Analyzer;
use logs::LogStats;
use view::{days_between, parse_millis, InventoryView};

fn credential_summary(c: &view::CredentialInfo, now: i64) -> CredentialSummary {
    let issued = c.issued.as_deref().and_then(parse_millis);
    let expires = c.expires.as_deref().and_then(parse_millis);
    CredentialSummary {
        id: c.id.clone(),
        kind: c.kind.clone(),
        issued: c.issued.clone(),
        expires: c.expires.clone(),
        age_days: issued.map(|i| days_between(i, now)),
        expires_in_days: expires.map(|e| days_between(now, e)),
        revoked: c.revoked,
    }
}

/// Of `actions`, those `agent` may be permitted on the one resource
/// `resource_type::resource_id` (declared in the inventory or not), judged
/// without a request context as [`Permission`] is: an action is left out only
/// when no permit can apply or a context-free forbid always denies. An
/// over-approximation: being in the set does not mean a request is allowed.
/// An agent the inventory does not declare is permitted nothing.
pub fn permitted_actions(
    engine: &Engine,
    agent: &str,
    actions: &[String],
    resource_type: &str,
    resource_id: &str,
) -> Result<Vec<String>> {
    let analyzer = Analyzer::new(engine)?;
    let mut out = Vec::new();
    if !analyzer.is_declared("Agent", agent) {
        return Ok(out);
    }
    for action in actions {
        if analyzer
            .permission_on(agent, action, resource_type, resource_id)?
            .is_some()
        {
            out.push(action.clone());
        }
    }
    Ok(out)
}

/// Every agent with owner, status, groups, credentials, open tasks, last activity and effective permissions.
pub fn inventory(engine: &Engine, options: &PostureOptions) -> Result<InventoryReport> {
    let inv = InventoryView::from_engine(engine)?;
    let analyzer = Analyzer::new(engine)?;
    let stats = LogStats::read(&options.logs)?;
    let now = options.now_millis;
    let mut agents = Vec::new();
    for a in inv.agents.values() {
        let activity = stats.activity.get(&a.id);
        agents.push(AgentEntry {
            id: a.id.clone(),
            owner: a.owner.clone(),
            owner_active: a
                .owner
                .as_ref()
                .and_then(|o| inv.users.get(o))
                .map(|u| u.active),
            kind: a.kind.clone(),
            status: a.status.clone(),
            environment: a.environment.clone(),
            created: a.created.clone(),
            groups: a.groups.clone(),
            credentials: inv
                .credentials_of(&a.id)
                .map(|c| credential_summary(c, now))
                .collect(),
            open_tasks: inv
                .tasks
                .values()
                .filter(|t| t.agent == a.id)
                .filter(|t| {
                    t.not_after
                        .as_deref()
                        .and_then(parse_millis)
                        .is_none_or(|end| end > now)
                })
                .map(|t| TaskSummary {
                    id: t.id.clone(),
                    purpose: t.purpose.clone(),
                    not_before: t.not_before.clone(),
                    not_after: t.not_after.clone(),
                })
                .collect(),
            last_activity: activity
                .filter(|(t, _)| *t != i64::MIN)
                .map(|(t, _)| format_millis(*t)),
            log_records: activity.map_or(0, |(_, n)| *n),
            permissions: analyzer.permissions(&a.id)?,
        });
    }
    Ok(InventoryReport {
        policy_revision: engine.policy_revision(),
        generated_at: format_millis(now),
        agents,
    })
}
