//! The posture rules at work: each reads the bundle, its decision logs and
//! API access logs and adds findings (catalogue in `rules`).

use super::effective::{Analyzer, Permission, ANY_RESOURCE};
use super::logs::{LogStats, Triple};
use super::report::{Finding, PostureOptions, PostureReport, PostureSummary};
use super::rules::{self, Severity};
use super::unregistered;
use super::view::{days_between, parse_millis, InventoryView, DAY_MS};
use crate::bundle::{Config, PostureConfig};
use crate::engine::Engine;
use crate::error::{Location, Result};
use crate::time::format_millis;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn config(engine: &Engine) -> Result<PostureConfig> {
    Ok(engine
        .bundle()
        .config
        .as_ref()
        .map(Config::parse)
        .transpose()?
        .unwrap_or_default()
        .posture)
}

/// Action ids that read as write/delete-class (by their name).
const WRITE_WORDS: &[&str] = &[
    "put",
    "write",
    "delete",
    "remove",
    "push",
    "create",
    "update",
    "send",
    "refund",
    "drop",
    "modify",
    "patch",
    "post",
    "exec",
    "deploy",
    "merge",
    "upload",
    "transfer",
    "pay",
    "grant",
    "admin",
    "destroy",
    "terminate",
    "approve",
    "publish",
    "invoke",
    "run",
    "rm",
];

pub(crate) fn is_write_action(id: &str) -> bool {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .flat_map(split_camel)
        .any(|w| WRITE_WORDS.contains(&w.as_str()))
}

/// `PutObject` → `put`, `object`; `delete` → `delete`.
fn split_camel(word: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in word.chars() {
        if c.is_ascii_uppercase() && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Environments whose grants do not belong in a production bundle.
const TEST_ENVIRONMENTS: &[&str] = &[
    "test",
    "testing",
    "dev",
    "development",
    "sandbox",
    "staging",
];

struct Ctx<'a> {
    engine: &'a Engine,
    inv: InventoryView,
    analyzer: Analyzer,
    perms: BTreeMap<String, Vec<Permission>>,
    stats: LogStats,
    config: PostureConfig,
    now: i64,
    findings: Vec<Finding>,
    inventory_src: Option<crate::bundle::Source>,
    origins: BTreeMap<String, Location>,
}

impl Ctx<'_> {
    fn push(
        &mut self,
        id: &str,
        severity: Severity,
        entity: String,
        message: String,
        evidence: Vec<String>,
    ) {
        let Some(rule) = rules::rule(id) else { return };
        let location = if let Some(p) = entity.strip_prefix("Policy::") {
            self.origins.get(p.trim_matches('"')).cloned()
        } else {
            let raw = entity
                .split_once("::")
                .map(|(_, id)| id.trim_matches('"').to_string())
                .unwrap_or_default();
            self.inventory_src
                .as_ref()
                .and_then(|src| crate::inventory::locate_entry(src, &raw))
        };
        self.findings.push(Finding {
            rule: rule.id,
            name: rule.name,
            severity,
            entity,
            message,
            evidence,
            remediation: rule.remediation,
            controls: rule.controls.clone(),
            location,
            suggested_policy: None,
        });
    }

    fn owners(&mut self) {
        let agents: Vec<_> = self.inv.agents.values().cloned().collect();
        for a in agents {
            if a.status == "offboarded" {
                continue;
            }
            let sev = if a.status == "active" {
                Severity::High
            } else {
                Severity::Medium
            };
            let entity = format!("Agent::{:?}", a.id);
            match &a.owner {
                None => self.push(
                    "AAZ001",
                    sev,
                    entity,
                    format!("agent `{}` ({}) has no owner", a.id, a.status),
                    vec![format!("status: {}", a.status), "owner: (none)".into()],
                ),
                Some(o) => match self.inv.users.get(o) {
                    Some(u) if u.active => {}
                    Some(_) => self.push(
                        "AAZ002",
                        sev,
                        entity,
                        format!("agent `{}` is owned by `{o}`, who is inactive", a.id),
                        vec![format!("owner: {o} (active: false)")],
                    ),
                    None => self.push(
                        "AAZ002",
                        sev,
                        entity,
                        format!(
                            "agent `{}` is owned by `{o}`, whom the inventory does not know",
                            a.id
                        ),
                        vec![format!("owner: {o} (not declared)")],
                    ),
                },
            }
        }
    }

    fn credentials(&mut self) {
        let creds: Vec<_> = self.inv.credentials.values().cloned().collect();
        let (max_days, rotation) = (
            i64::from(self.config.max_credential_days),
            i64::from(self.config.rotation_days),
        );
        for c in creds {
            if c.revoked {
                continue;
            }
            let entity = format!("Credential::{:?}", c.id);
            let issued = c.issued.as_deref().and_then(parse_millis);
            let expires = c.expires.as_deref().and_then(parse_millis);
            if expires.is_some_and(|e| e <= self.now) {
                self.push(
                    "AAZ010",
                    Severity::Low,
                    entity,
                    format!(
                        "credential `{}` of agent `{}` expired but is still declared",
                        c.id, c.agent
                    ),
                    vec![format!(
                        "expires: {}",
                        c.expires.clone().unwrap_or_default()
                    )],
                );
                continue;
            }
            if c.kind == "human_token" {
                let mut ev = vec![format!("kind: human_token, agent: {}", c.agent)];
                if let Some(n) = self.stats.credentials_used.get(&c.id) {
                    ev.push(format!("used in {n} logged requests"));
                }
                self.push(
                    "AAZ003",
                    Severity::High,
                    entity.clone(),
                    format!("agent `{}` holds `{}`, a human's token", c.agent, c.id),
                    ev,
                );
            }
            match (issued, expires) {
                (_, None) => self.push(
                    "AAZ004",
                    Severity::Medium,
                    entity.clone(),
                    format!("credential `{}` of agent `{}` has no expiry", c.id, c.agent),
                    vec![format!("kind: {}", c.kind), "expires: (none)".into()],
                ),
                (Some(i), Some(e)) if (e - i) > max_days * DAY_MS => self.push(
                    "AAZ005",
                    Severity::Medium,
                    entity.clone(),
                    format!(
                        "credential `{}` of agent `{}` lives {} days (maximum {max_days})",
                        c.id,
                        c.agent,
                        days_between(i, e)
                    ),
                    vec![
                        format!("issued: {}", c.issued.clone().unwrap_or_default()),
                        format!("expires: {}", c.expires.clone().unwrap_or_default()),
                    ],
                ),
                _ => {}
            }
            if let Some(i) = issued {
                let age = days_between(i, self.now);
                if age > rotation {
                    self.push(
                        "AAZ006",
                        Severity::Medium,
                        entity,
                        format!(
                            "credential `{}` of agent `{}` was issued {age} days ago (rotate every {rotation})",
                            c.id, c.agent
                        ),
                        vec![format!("issued: {}", c.issued.clone().unwrap_or_default())],
                    );
                }
            }
        }
    }

    fn stale(&mut self) {
        if self.stats.records == 0 {
            return;
        }
        let days = i64::from(self.config.stale_days);
        let agents: Vec<_> = self.inv.agents.values().cloned().collect();
        for a in agents {
            if a.status != "active" {
                continue;
            }
            let last = self.stats.activity.get(&a.id).map(|(t, _)| *t);
            let (stale, evidence) = match last {
                None => (true, "no record in the decision logs".to_string()),
                Some(t) if t == i64::MIN => (false, String::new()),
                Some(t) => (
                    days_between(t, self.now) > days,
                    format!(
                        "last activity {} ({} days ago)",
                        format_millis(t),
                        days_between(t, self.now)
                    ),
                ),
            };
            if stale {
                let window = match (self.stats.first, self.stats.last) {
                    (Some(f), Some(l)) => {
                        format!("logs cover {} to {}", format_millis(f), format_millis(l))
                    }
                    _ => format!("{} records", self.stats.records),
                };
                self.push(
                    "AAZ007",
                    Severity::Low,
                    format!("Agent::{:?}", a.id),
                    format!(
                        "active agent `{}` has not acted for more than {days} days",
                        a.id
                    ),
                    vec![evidence, window],
                );
            }
        }
    }

    fn tasks(&mut self) {
        let tasks: Vec<_> = self.inv.tasks.values().cloned().collect();
        for t in tasks {
            if let Some(end) = t.not_after.as_deref().and_then(parse_millis) {
                if end <= self.now {
                    self.push(
                        "AAZ010",
                        Severity::Low,
                        format!("Task::{:?}", t.id),
                        format!(
                            "task `{}` of agent `{}` ended but is still declared",
                            t.id, t.agent
                        ),
                        vec![format!(
                            "not_after: {}",
                            t.not_after.clone().unwrap_or_default()
                        )],
                    );
                }
            }
        }
    }

    fn over_broad(&mut self) -> Result<()> {
        let all_actions = self.analyzer.action_ids();
        for p in self.engine.policy_set().policies() {
            let id = p.id().to_string();
            if id.starts_with("baseline/") || p.effect() != cedar_policy::Effect::Permit {
                continue;
            }
            let est = p.to_json().map_err(|e| {
                crate::error::Error::new(crate::error::ErrorCode::Internal, e.to_string())
            })?;
            let op = |k: &str| {
                est.pointer(&format!("/{k}/op"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            };
            let (any_p, any_a, any_r) = (
                op("principal") == "All",
                op("action") == "All",
                op("resource") == "All",
            );
            let actions: Vec<String> = if any_a {
                all_actions.clone()
            } else {
                let a = &est["action"];
                a.get("entities")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_else(|| a.get("entity").cloned().into_iter().collect())
                    .iter()
                    .filter_map(|e| e.get("id").and_then(Value::as_str).map(str::to_string))
                    .collect()
            };
            let writes: Vec<&String> = actions.iter().filter(|a| is_write_action(a)).collect();
            let conditional = !self.analyzer.unconditional.contains(&id);
            let entity = format!("Policy::{id:?}");
            let mut evidence = vec![format!(
                "scope: principal {}, action {}, resource {}",
                if any_p { "unconstrained" } else { "scoped" },
                if any_a { "unconstrained" } else { "scoped" },
                if any_r { "unconstrained" } else { "scoped" }
            )];
            evidence.push(if conditional {
                "has conditions".into()
            } else {
                "no conditions".into()
            });
            if any_p && any_a && any_r {
                let sev = if conditional {
                    Severity::High
                } else {
                    Severity::Critical
                };
                self.push(
                    "AAZ008",
                    sev,
                    entity,
                    format!("policy `{id}` permits any principal any action on any resource"),
                    evidence,
                );
            } else if (any_p || any_r) && (any_a || !writes.is_empty()) {
                evidence.push(format!(
                    "write-class actions: {}",
                    writes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                let sev = if conditional {
                    Severity::Medium
                } else {
                    Severity::High
                };
                let what = match (any_p, any_r) {
                    (true, true) => "any principal on any resource",
                    (true, false) => "any principal",
                    _ => "any resource",
                };
                self.push(
                    "AAZ008",
                    sev,
                    entity,
                    format!("policy `{id}` permits write-class actions to {what}"),
                    evidence,
                );
            }
        }
        Ok(())
    }

    /// A journal or file decision log without an integrity key: its lines
    /// can be forged or rewritten undetected.
    fn integrity(&mut self, config: &Config) {
        let keyed = config.integrity.key_env.is_some() || config.integrity.key_file.is_some();
        if keyed {
            return;
        }
        let mut evidence = Vec::new();
        if let Some(j) = &config.journal.path {
            evidence.push(format!("[journal] path = {j:?} without [integrity] key"));
        }
        if config.log.sink == crate::bundle::LogSink::File {
            let path = config.log.path.clone().unwrap_or_default();
            evidence.push(format!("[log] file sink {path:?} without [integrity] key"));
        }
        if evidence.is_empty() {
            return;
        }
        self.push(
            "AAZ016",
            Severity::Medium,
            "Config::\"agentauthz.toml\"".to_string(),
            "the journal or the decision log is written without an integrity key: forged or rewritten entries would be accepted".to_string(),
            evidence,
        );
    }

    fn test_in_production(&mut self) {
        if TEST_ENVIRONMENTS.contains(&self.config.environment.to_ascii_lowercase().as_str()) {
            return;
        }
        let prod = self.config.environment.clone();
        for p in self.engine.policy_set().policies() {
            let Some(env) = crate::engine::annotation(p, "environment") else {
                continue;
            };
            if !TEST_ENVIRONMENTS.contains(&env.to_ascii_lowercase().as_str()) {
                continue;
            }
            let id = p.id().to_string();
            let grants: Vec<String> = self
                .perms
                .iter()
                .flat_map(|(a, ps)| {
                    ps.iter()
                        .filter(|x| x.policies.contains(&id))
                        .map(move |x| {
                            format!("{a}: {} on {}::{}", x.action, x.resource_type, x.resource)
                        })
                })
                .collect();
            if grants.is_empty() && p.effect() == cedar_policy::Effect::Permit {
                continue;
            }
            let mut evidence = vec![format!("@environment(\"{env}\") in a `{prod}` bundle")];
            evidence.push(format!(
                "grants {} (agent, action, resource) pairs",
                grants.len()
            ));
            evidence.extend(grants.into_iter().take(5));
            self.push(
                "AAZ011",
                Severity::High,
                format!("Policy::{id:?}"),
                format!("policy `{id}` is marked for `{env}` but is active in `{prod}`"),
                evidence,
            );
        }
        let agents: Vec<_> = self.inv.agents.values().cloned().collect();
        for a in agents {
            let Some(env) = &a.environment else { continue };
            if !TEST_ENVIRONMENTS.contains(&env.to_ascii_lowercase().as_str()) {
                continue;
            }
            let n = self.perms.get(&a.id).map_or(0, Vec::len);
            if n == 0 {
                continue;
            }
            self.push(
                "AAZ011",
                Severity::High,
                format!("Agent::{:?}", a.id),
                format!("agent `{}` (environment `{env}`) can act in `{prod}`", a.id),
                vec![format!("{n} effective permissions in this bundle")],
            );
        }
    }

    /// AAZ017: an engine of a fleet that does not see the fleet's changes
    /// (out of reach, or a change missing): an offboarding made elsewhere
    /// does not apply here.
    fn store_sync(&mut self) {
        let s = self.engine.store_status();
        if s.backend != "postgres" || (s.connected && s.gap_after.is_none() && !s.stale) {
            return;
        }
        let mut evidence = vec![format!(
            "{}: last applied change {}",
            s.location, s.last_applied_seq
        )];
        if let Some(ms) = s.staleness_ms {
            evidence.push(format!("last in sync {} s ago", ms / 1000));
        }
        evidence.push(match s.max_staleness_ms {
            Some(ms) if s.stale => format!(
                "past [store] max_staleness_seconds = {}: every check denies (store/stale)",
                ms / 1000
            ),
            Some(ms) => format!(
                "checks fail closed after [store] max_staleness_seconds = {}",
                ms / 1000
            ),
            None => "no [store] max_staleness_seconds: the last state keeps deciding".into(),
        });
        if let Some(gap) = s.gap_after {
            evidence.push(format!("change {} is missing from the store", gap + 1));
        }
        if let Some(e) = s.last_error {
            evidence.push(e);
        }
        self.push(
            "AAZ017",
            Severity::High,
            "Engine::\"store\"".into(),
            "the engine is out of sync with its fleet's change store: changes made elsewhere (offboardings, revocations) do not apply here".into(),
            evidence,
        );
    }

    /// AAZ015: an engine that allows what its policies deny.
    fn enforcement(&mut self) {
        if self.engine.mode() == crate::audit::Mode::LogOnly {
            self.push(
                "AAZ015",
                Severity::High,
                "Engine::\"mode\"".into(),
                "the engine runs in log-only mode: every request is allowed, denials are only recorded".into(),
                vec!["agentauthz.toml: [engine] mode = \"log-only\"".into()],
            );
        }
        if self.engine.on_error() == crate::bundle::OnError::Skip {
            self.push(
                "AAZ015",
                Severity::High,
                "Engine::\"on_error\"".into(),
                "a forbid whose evaluation errors is skipped: a permit can allow what it would forbid".into(),
                vec!["agentauthz.toml: [engine] on_error = \"skip\"".into()],
            );
        }
    }

    fn would_deny(&mut self) {
        let items: Vec<_> = self.stats.would_deny.clone().into_iter().collect();
        for (policy, w) in items {
            let mut evidence = vec![format!(
                "{} allowed requests would have been denied",
                w.count
            )];
            evidence.extend(w.examples.iter().cloned());
            self.push(
                "AAZ012",
                Severity::Medium,
                format!("Policy::{policy:?}"),
                format!(
                    "log-only policy `{policy}` would have denied {} allowed requests",
                    w.count
                ),
                evidence,
            );
        }
    }

    /// Normalizes a logged triple: resources the inventory does not declare become `*`.
    fn normalize(&self, t: &Triple) -> Triple {
        let declared = self.analyzer.is_declared(&t.2, &t.3);
        (
            t.0.clone(),
            t.1.clone(),
            t.2.clone(),
            if declared {
                t.3.clone()
            } else {
                ANY_RESOURCE.into()
            },
        )
    }

    fn unused(&mut self) -> Result<()> {
        if self.stats.records == 0 {
            return Ok(());
        }
        // Granted triples per permit policy.
        let mut granted: BTreeMap<String, BTreeSet<Triple>> = BTreeMap::new();
        for (agent, ps) in &self.perms {
            for p in ps {
                for pol in &p.policies {
                    granted.entry(pol.clone()).or_default().insert((
                        agent.clone(),
                        p.action.clone(),
                        p.resource_type.clone(),
                        p.resource.clone(),
                    ));
                }
            }
        }
        // Used triples per policy: logged allows whose reasons name it (as logged, and normalized).
        let mut used_raw: BTreeMap<String, BTreeSet<Triple>> = BTreeMap::new();
        let mut used: BTreeMap<String, BTreeSet<Triple>> = BTreeMap::new();
        for (t, reasons) in &self.stats.allowed {
            for r in reasons {
                used_raw.entry(r.clone()).or_default().insert(t.clone());
                used.entry(r.clone()).or_default().insert(self.normalize(t));
            }
        }
        let window = match (self.stats.first, self.stats.last) {
            (Some(f), Some(l)) => format!("window {} to {}", format_millis(f), format_millis(l)),
            _ => format!("{} records", self.stats.records),
        };
        for (policy, g) in granted {
            if policy.starts_with("baseline/") {
                continue;
            }
            let empty = BTreeSet::new();
            let u = used.get(&policy).unwrap_or(&empty);
            let unused: Vec<&Triple> = g.iter().filter(|t| !u.contains(*t)).collect();
            if unused.is_empty() {
                continue;
            }
            let mut evidence = vec![format!(
                "{} of {} granted (agent, action, resource) pairs never exercised; {window}",
                unused.len(),
                g.len()
            )];
            evidence.extend(
                unused
                    .iter()
                    .take(10)
                    .map(|(a, act, rt, r)| format!("unused: {a} {act} {rt}::{r}")),
            );
            let suggestion = match used_raw.get(&policy) {
                Some(raw) if !raw.is_empty() => Some(self.tightened(&policy, raw)?),
                _ => None,
            };
            let message = if suggestion.is_some() {
                format!(
                    "policy `{policy}` grants {} permissions never used in the logs",
                    unused.len()
                )
            } else {
                format!("policy `{policy}` allowed nothing in the logs; all {} of its permissions are unused", g.len())
            };
            self.push(
                "AAZ009",
                Severity::Low,
                format!("Policy::{policy:?}"),
                message,
                evidence,
            );
            if let Some(f) = self.findings.last_mut() {
                f.suggested_policy = Some(suggestion.unwrap_or_else(|| {
                    format!("// remove policy `{policy}`: it allowed no logged request")
                }));
            }
        }
        Ok(())
    }

    /// The policy, restricted to exactly the logged (agent, action, resource) allows it gave.
    fn tightened(&self, policy: &str, used: &BTreeSet<Triple>) -> Result<String> {
        let internal = |e: String| crate::error::Error::new(crate::error::ErrorCode::Internal, e);
        let original = self
            .engine
            .policy_set()
            .policy(&cedar_policy::PolicyId::new(policy))
            .cloned()
            .ok_or_else(|| internal(format!("policy {policy} not found")))?;
        let base = original.to_json().map_err(|e| internal(e.to_string()))?;
        // action -> agent -> resources
        let mut by_action: BTreeMap<&str, AgentResources> = BTreeMap::new();
        for (a, act, rt, r) in used {
            by_action
                .entry(act.as_str())
                .or_default()
                .entry(a.as_str())
                .or_default()
                .insert((rt.as_str(), r.as_str()));
        }
        let mut out = Vec::new();
        for (n, (action, agents)) in by_action.into_iter().enumerate() {
            let Some(action_uid) = self.analyzer.action_uid(action) else {
                continue;
            };
            let clauses: Vec<String> = agents
                .iter()
                .map(|(agent, resources)| {
                    let list: Vec<String> = resources
                        .iter()
                        .map(|(t, r)| format!("{t}::{}", cedar_string(r)))
                        .collect();
                    format!(
                        "(principal == Agent::{} && [{}].contains(resource))",
                        cedar_string(agent),
                        list.join(", ")
                    )
                })
                .collect();
            let text = format!(
                "permit (principal, action, resource) when {{ {} }};",
                clauses.join(" || ")
            );
            let cond: cedar_policy::Policy = text
                .parse()
                .map_err(|e: cedar_policy::ParseErrors| internal(e.to_string()))?;
            let cond = cond.to_json().map_err(|e| internal(e.to_string()))?;
            let mut est = base.clone();
            est["action"] = serde_json::json!({"op": "==", "entity": {"type": action_uid.type_name().to_string(), "id": action}});
            let mut conditions = cond["conditions"].as_array().cloned().unwrap_or_default();
            conditions.extend(base["conditions"].as_array().cloned().unwrap_or_default());
            est["conditions"] = Value::Array(conditions);
            est["annotations"]["id"] = Value::String(format!("{policy}/tightened-{}", n + 1));
            let p =
                cedar_policy::Policy::from_json(None, est).map_err(|e| internal(e.to_string()))?;
            out.push(p.to_string());
        }
        Ok(out.join("\n\n"))
    }

    /// Agents that identity-provider tokens name but the inventory lacks
    /// (each check was denied `baseline/unknown-agent`).
    fn unregistered_token_agents(&mut self) {
        let seen: Vec<_> = self
            .stats
            .token_agents
            .iter()
            .filter(|(agent, _)| !self.inv.agents.contains_key(*agent))
            .map(|(a, t)| (a.clone(), t.clone()))
            .collect();
        for (agent, t) in seen {
            let join = |s: &std::collections::BTreeSet<String>| {
                s.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            let evidence = vec![
                format!("{} checks with identity-provider tokens", t.records),
                format!("issuers: {}", join(&t.issuers)),
                format!("client ids: {}", join(&t.clients)),
            ];
            self.push(
                "AAZ013",
                Severity::High,
                format!("Identity::{agent:?}"),
                format!(
                    "`{agent}` holds valid tokens from {} but is not in the inventory (unregistered agent; its checks are denied)",
                    join(&t.issuers)
                ),
                evidence,
            );
        }
    }

    fn shadow(&mut self, identities: &BTreeMap<String, unregistered::IdentityStats>) {
        for (identity, s) in identities {
            let signals = s.agent_signals();
            // Tokens or identity that name a declared credential.
            let cred = std::iter::once(identity)
                .chain(s.tokens.iter())
                .find_map(|t| self.inv.credentials.get(t))
                .cloned();
            let mut evidence = vec![format!("{} calls", s.calls)];
            if let (Some(f), Some(l)) = (&s.first, &s.last) {
                evidence.push(format!("from {f} to {l}"));
            }
            evidence.push(format!(
                "user agents: {}",
                s.user_agents
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
            evidence.push(format!(
                "source IPs: {}",
                s.source_ips.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            evidence.push(format!(
                "operations: {}",
                s.operations.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            if let Some(c) = cred {
                if c.kind == "human_token" {
                    let mut ev = vec![format!(
                        "credential `{}` (human_token) of agent `{}`",
                        c.id, c.agent
                    )];
                    ev.extend(evidence);
                    self.push(
                        "AAZ014",
                        Severity::High,
                        format!("Agent::{:?}", c.agent),
                        format!(
                            "agent `{}` calls APIs with `{}`, a human's token",
                            c.agent, c.id
                        ),
                        ev,
                    );
                }
                continue;
            }
            if self.inv.agents.contains_key(identity) {
                continue;
            }
            if signals.is_empty() {
                continue;
            }
            let mut ev = signals.clone();
            ev.extend(evidence);
            if self.inv.users.contains_key(identity) {
                self.push(
                    "AAZ014",
                    Severity::High,
                    format!("User::{identity:?}"),
                    format!("human identity `{identity}` is used by an agent or automation"),
                    ev,
                );
            } else {
                self.push(
                    "AAZ013",
                    Severity::High,
                    format!("Identity::{identity:?}"),
                    format!("`{identity}` behaves like an AI agent but is not in the inventory"),
                    ev,
                );
            }
        }
    }
}

/// Agent id → the (resource type, resource id) pairs it used.
type AgentResources<'a> = BTreeMap<&'a str, BTreeSet<(&'a str, &'a str)>>;

/// A Cedar string literal.
fn cedar_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs every rule. Findings are sorted by severity (highest first), rule id and entity.
pub fn posture(engine: &Engine, options: &PostureOptions) -> Result<PostureReport> {
    let bundle = engine.bundle();
    let inv = InventoryView::from_engine(engine)?;
    let analyzer = Analyzer::new(engine)?;
    let perms = analyzer.all(&inv)?;
    let stats = LogStats::read(&options.logs)?;
    let identities = unregistered::read(&options.access_logs)?;
    let origins = engine
        .policies()
        .into_iter()
        .map(|o| (o.id, o.location))
        .collect();
    let mut ctx = Ctx {
        engine,
        inv,
        analyzer,
        perms,
        stats,
        config: config(engine)?,
        now: options.now_millis,
        findings: Vec::new(),
        inventory_src: bundle.inventory.clone(),
        origins,
    };
    ctx.owners();
    ctx.credentials();
    ctx.stale();
    ctx.tasks();
    ctx.over_broad()?;
    ctx.test_in_production();
    let bundle_config = bundle
        .config
        .as_ref()
        .map(Config::parse)
        .transpose()?
        .unwrap_or_default();
    ctx.integrity(&bundle_config);
    ctx.would_deny();
    ctx.unused()?;
    ctx.shadow(&identities);
    ctx.unregistered_token_agents();
    ctx.enforcement();
    ctx.store_sync();
    let mut findings = ctx.findings;
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.rule.cmp(b.rule))
            .then(a.entity.cmp(&b.entity))
    });
    let mut by_severity = BTreeMap::new();
    for f in &findings {
        *by_severity
            .entry(f.severity.as_str().to_string())
            .or_insert(0) += 1;
    }
    Ok(PostureReport {
        policy_revision: engine.policy_revision(),
        generated_at: format_millis(options.now_millis),
        summary: PostureSummary {
            agents: ctx.inv.agents.len(),
            policies: engine.policies().iter().filter(|p| !p.baseline).count(),
            decision_records: ctx.stats.records,
            access_identities: identities.len(),
            by_severity,
        },
        findings,
    })
}
