//! Output formats: text, Markdown and SARIF 2.1.0 for findings; a table and
//! CSV for the inventory (JSON is the serde form of the reports).

use super::effective::{Permission, PermissionStatus};
use super::report::{Finding, InventoryReport, PostureReport};
use super::rules::RULES;
use serde_json::{json, Value};
use std::fmt::Write;

fn controls_line(f: &Finding) -> String {
    let c = &f.controls;
    let mut parts = Vec::new();
    if !c.nist_ai_rmf.is_empty() {
        parts.push(format!("NIST AI RMF {}", c.nist_ai_rmf.join(", ")));
    }
    if !c.cis_v8.is_empty() {
        parts.push(format!("CIS v8 {}", c.cis_v8.join(", ")));
    }
    if !c.iso_42001.is_empty() {
        parts.push(format!("ISO/IEC 42001 {}", c.iso_42001.join(", ")));
    }
    if !c.owasp_llm.is_empty() {
        parts.push(format!("OWASP {}", c.owasp_llm.join(", ")));
    }
    parts.join("; ")
}

fn summary_line(r: &PostureReport) -> String {
    let counts: Vec<String> = ["critical", "high", "medium", "low", "info"]
        .iter()
        .filter_map(|s| r.summary.by_severity.get(*s).map(|n| format!("{n} {s}")))
        .collect();
    format!(
        "{} findings ({}) over {} agents, {} policies, {} decision records, {} access identities",
        r.findings.len(),
        if counts.is_empty() {
            "none".into()
        } else {
            counts.join(", ")
        },
        r.summary.agents,
        r.summary.policies,
        r.summary.decision_records,
        r.summary.access_identities
    )
}

/// Human-readable findings.
pub fn posture_text(r: &PostureReport) -> String {
    let mut out = String::new();
    for f in &r.findings {
        let _ = writeln!(
            out,
            "{} {:<8} {}  {}",
            f.rule,
            f.severity.as_str().to_uppercase(),
            f.entity,
            f.message
        );
        if let Some(l) = &f.location {
            let _ = writeln!(out, "    at {l}");
        }
        for e in &f.evidence {
            let _ = writeln!(out, "    - {e}");
        }
        let _ = writeln!(out, "    fix: {}", f.remediation);
        let _ = writeln!(out, "    controls: {}", controls_line(f));
        if let Some(p) = &f.suggested_policy {
            let _ = writeln!(out, "    suggested policy:");
            for line in p.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    let _ = writeln!(out, "{}", summary_line(r));
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown report: a summary table, then one section per finding.
pub fn posture_markdown(r: &PostureReport) -> String {
    let mut out = String::from("# agentauthz posture report\n\n");
    let _ = writeln!(
        out,
        "Policy revision `{}`, generated {}.\n\n{}\n",
        r.policy_revision,
        r.generated_at,
        summary_line(r)
    );
    if r.findings.is_empty() {
        return out;
    }
    out.push_str("| rule | severity | entity | finding |\n|---|---|---|---|\n");
    for f in &r.findings {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} |",
            f.rule,
            f.severity.as_str(),
            md_escape(&f.entity),
            md_escape(&f.message)
        );
    }
    for f in &r.findings {
        let _ = writeln!(
            out,
            "\n## {} {}: {}\n",
            f.rule,
            f.name,
            md_escape(&f.entity)
        );
        let _ = writeln!(out, "**{}** — {}\n", f.severity.as_str(), f.message);
        if let Some(l) = &f.location {
            let _ = writeln!(out, "Declared at `{l}`.\n");
        }
        for e in &f.evidence {
            let _ = writeln!(out, "- {}", md_escape(e));
        }
        let _ = writeln!(
            out,
            "\n*Remediation:* {}\n\n*Controls:* {}",
            f.remediation,
            controls_line(f)
        );
        if let Some(p) = &f.suggested_policy {
            let _ = writeln!(out, "\n```cedar\n{p}\n```");
        }
    }
    out
}

/// SARIF 2.1.0 (one run, every rule in the driver, one result per finding).
pub fn posture_sarif(r: &PostureReport, bundle_uri: &str) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            let c = &rule.controls;
            let mut tags = vec!["security".to_string()];
            tags.extend(c.nist_ai_rmf.iter().map(|x| format!("NIST-AI-RMF:{x}")));
            tags.extend(c.cis_v8.iter().map(|x| format!("CIS-v8:{x}")));
            tags.extend(c.iso_42001.iter().map(|x| format!("ISO-42001:{x}")));
            tags.extend(c.owasp_llm.iter().map(|x| format!("OWASP:{x}")));
            json!({
                "id": rule.id,
                "name": rule.name,
                "shortDescription": {"text": rule.title},
                "fullDescription": {"text": rule.title},
                "help": {"text": rule.remediation, "markdown": rule.remediation},
                "defaultConfiguration": {"level": rule.severity.sarif_level()},
                "properties": {
                    "tags": tags,
                    "security-severity": rule.severity.security_severity(),
                    "controls": c,
                }
            })
        })
        .collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let index = RULES.iter().position(|x| x.id == f.rule).unwrap_or(0);
            let (uri, line, column) = match &f.location {
                Some(l) => (l.file.clone(), l.line.max(1), l.column.max(1)),
                None => (bundle_uri.to_string(), 1, 1),
            };
            let mut text = f.message.clone();
            for e in &f.evidence {
                text.push_str("\n- ");
                text.push_str(e);
            }
            json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": f.severity.sarif_level(),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": line, "startColumn": column}
                    },
                    "logicalLocations": [{"fullyQualifiedName": f.entity}]
                }],
                "partialFingerprints": {"agentauthz/v1": format!("{}:{}", f.rule, f.entity)},
                "properties": {
                    "severity": f.severity.as_str(),
                    "security-severity": f.severity.security_severity(),
                    "entity": f.entity,
                    "suggested_policy": f.suggested_policy,
                }
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "agentauthz",
                "version": crate::model::VERSION,
                "informationUri": "https://github.com/agentauthz/agentauthz",
                "rules": rules
            }},
            "results": results
        }]
    })
}

/// `github:push on Repo: acme/api, acme/web`, grouped per (action, type, status).
fn permission_groups(ps: &[Permission]) -> Vec<String> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for p in ps {
        let key = format!(
            "{} {}{}",
            p.action,
            p.resource_type,
            if p.status == PermissionStatus::Conditional {
                " (conditional)"
            } else {
                ""
            }
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ids)) => ids.push(p.resource.clone()),
            None => groups.push((key, vec![p.resource.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(k, ids)| format!("{k}: {}", ids.join(", ")))
        .collect()
}

/// A plain-text table, one block per agent.
pub fn inventory_table(r: &InventoryReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:<14} {:<11} {:<12} {:<6} {:<6} LAST ACTIVITY",
        "AGENT", "OWNER", "STATUS", "ENV", "CREDS", "TASKS"
    );
    for a in &r.agents {
        let owner = match (&a.owner, a.owner_active) {
            (None, _) => "-".to_string(),
            (Some(o), Some(true)) => o.clone(),
            (Some(o), Some(false)) => format!("{o} (inactive)"),
            (Some(o), None) => format!("{o} (unknown)"),
        };
        let _ = writeln!(
            out,
            "{:<20} {:<14} {:<11} {:<12} {:<6} {:<6} {}",
            a.id,
            owner,
            a.status,
            a.environment.as_deref().unwrap_or("-"),
            a.credentials.len(),
            a.open_tasks.len(),
            a.last_activity.as_deref().unwrap_or("-")
        );
        if !a.groups.is_empty() {
            let _ = writeln!(out, "    groups: {}", a.groups.join(", "));
        }
        for c in &a.credentials {
            let _ = writeln!(
                out,
                "    credential {} ({}): age {} days, expires {}{}",
                c.id,
                c.kind,
                c.age_days.map_or("?".into(), |d| d.to_string()),
                c.expires_in_days.map_or("never".into(), |d| if d < 0 {
                    format!("{} days ago", -d)
                } else {
                    format!("in {d} days")
                }),
                if c.revoked { ", revoked" } else { "" }
            );
        }
        for t in &a.open_tasks {
            let _ = writeln!(
                out,
                "    task {} ({}): until {}",
                t.id,
                t.purpose.as_deref().unwrap_or("-"),
                t.not_after.as_deref().unwrap_or("?")
            );
        }
        if a.permissions.is_empty() {
            let _ = writeln!(out, "    permissions: none");
        }
        for g in permission_groups(&a.permissions) {
            let _ = writeln!(out, "    can {g}");
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV, one row per (agent, permission); agents without permissions get one row with empty permission columns.
pub fn inventory_csv(r: &InventoryReport) -> String {
    let mut out = String::from("agent,owner,owner_active,status,environment,groups,credentials,open_tasks,last_activity,action,resource_type,resource,permission,policies\n");
    for a in &r.agents {
        let creds: Vec<String> = a
            .credentials
            .iter()
            .map(|c| {
                format!(
                    "{}:{}:{}",
                    c.id,
                    c.kind,
                    c.expires.as_deref().unwrap_or("never")
                )
            })
            .collect();
        let tasks: Vec<&str> = a.open_tasks.iter().map(|t| t.id.as_str()).collect();
        let head = [
            a.id.clone(),
            a.owner.clone().unwrap_or_default(),
            a.owner_active.map(|b| b.to_string()).unwrap_or_default(),
            a.status.clone(),
            a.environment.clone().unwrap_or_default(),
            a.groups.join(";"),
            creds.join(";"),
            tasks.join(";"),
            a.last_activity.clone().unwrap_or_default(),
        ];
        let rows: Vec<[String; 5]> = if a.permissions.is_empty() {
            vec![Default::default()]
        } else {
            a.permissions
                .iter()
                .map(|p| {
                    [
                        p.action.clone(),
                        p.resource_type.clone(),
                        p.resource.clone(),
                        p.status.as_str().into(),
                        p.policies.join(";"),
                    ]
                })
                .collect()
        };
        for row in rows {
            let fields: Vec<String> = head
                .iter()
                .chain(row.iter())
                .map(|f| csv_field(f))
                .collect();
            let _ = writeln!(out, "{}", fields.join(","));
        }
    }
    out
}
