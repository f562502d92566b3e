//! `agentauthz log report`: decisions per agent, action and policy, and the
//! decisions a log-only policy (or log-only mode) would have flipped.

use super::record::{DecisionRecord, RecordDecision};
use crate::bundle::Mode;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Counts of one group of records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub allow: u64,
    pub deny: u64,
    pub error: u64,
    /// Records whose `would_decision` differs from the decision returned.
    pub would_flip: u64,
}

impl Tally {
    fn add(&mut self, r: &DecisionRecord) {
        match r.decision {
            RecordDecision::Allow => self.allow += 1,
            // Not allowed: counted with the denies.
            RecordDecision::Deny | RecordDecision::NeedsApproval => self.deny += 1,
            RecordDecision::Error => self.error += 1,
        }
        if flipped(r) {
            self.would_flip += 1;
        }
    }
}

/// How often a policy determined a decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyTally {
    /// Times it was among the reasons of the returned decision.
    pub determined: u64,
    /// Times it was among the reasons of the would-be decision.
    pub would_determine: u64,
    /// Times it was among the policies behind a flip.
    pub flips: u64,
}

/// A decision that enforcing everything would have changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flip {
    pub seq: u64,
    pub timestamp: String,
    pub decision_id: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub decision: String,
    pub would_decision: String,
    /// The policies that would have made the difference: the would-be
    /// reasons that are not reasons of the returned decision.
    pub policies: Vec<String>,
    /// `policy` (a `@mode("log-only")` policy) or `engine` (log-only engine mode).
    pub cause: String,
}

/// The summary of a set of records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub records: u64,
    /// Lines that were not records (not counted anywhere else).
    pub unreadable: u64,
    pub decisions: Tally,
    pub by_agent: BTreeMap<String, Tally>,
    pub by_action: BTreeMap<String, Tally>,
    pub by_policy: BTreeMap<String, PolicyTally>,
    pub flips: Vec<Flip>,
}

fn flipped(r: &DecisionRecord) -> bool {
    r.decision != RecordDecision::Error
        && r.would_decision
            .is_some_and(|w| RecordDecision::from(w) != r.decision)
}

fn principal(r: &DecisionRecord) -> String {
    match &r.agent {
        Some(a) => a.clone(),
        None => format!("{}::{:?}", r.principal.type_name, r.principal.id),
    }
}

impl Report {
    pub fn from_records<'a>(records: impl IntoIterator<Item = &'a DecisionRecord>) -> Report {
        let mut report = Report::default();
        for r in records {
            report.add(r);
        }
        report
    }

    pub fn add(&mut self, r: &DecisionRecord) {
        self.records += 1;
        self.decisions.add(r);
        self.by_agent.entry(principal(r)).or_default().add(r);
        self.by_action.entry(r.action.clone()).or_default().add(r);
        for p in &r.reasons {
            self.by_policy.entry(p.clone()).or_default().determined += 1;
        }
        for p in r.would_reasons.iter().flatten() {
            self.by_policy.entry(p.clone()).or_default().would_determine += 1;
        }
        if flipped(r) {
            let reasons: BTreeSet<&String> = r.reasons.iter().collect();
            let policies: Vec<String> = r
                .would_reasons
                .iter()
                .flatten()
                .filter(|p| !reasons.contains(p))
                .cloned()
                .collect();
            for p in &policies {
                self.by_policy.entry(p.clone()).or_default().flips += 1;
            }
            // In log-only engine mode a deny is returned as an allow whatever
            // the policies are; otherwise only log-only policies can differ.
            let engine_flip = r.mode == Mode::LogOnly
                && r.decision == RecordDecision::Allow
                && r.would_decision == Some(crate::model::Effect::Deny);
            self.flips.push(Flip {
                seq: r.seq,
                timestamp: r.timestamp.clone(),
                decision_id: r.decision_id.clone(),
                principal: principal(r),
                action: r.action.clone(),
                resource: format!("{}::{:?}", r.resource.type_name, r.resource.id),
                decision: r.decision.as_str().to_string(),
                would_decision: r
                    .would_decision
                    .map(|d| d.as_str().to_string())
                    .unwrap_or_default(),
                policies,
                cause: if engine_flip { "engine" } else { "policy" }.to_string(),
            });
        }
    }

    /// The report as aligned text tables.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let d = &self.decisions;
        let _ = writeln!(
            s,
            "{} records: {} allow, {} deny, {} error; {} would flip under full enforcement",
            self.records, d.allow, d.deny, d.error, d.would_flip
        );
        if self.unreadable > 0 {
            let _ = writeln!(
                s,
                "{} unreadable lines skipped (run `agentauthz log verify`)",
                self.unreadable
            );
        }
        for (title, rows) in [("agent", &self.by_agent), ("action", &self.by_action)] {
            let width = rows
                .keys()
                .map(|k| k.chars().count())
                .max()
                .unwrap_or(0)
                .max(title.len());
            let _ = writeln!(s, "\n{title:<width$}  allow   deny  error  would-flip");
            for (k, t) in rows {
                let _ = writeln!(
                    s,
                    "{k:<width$}  {:>5}  {:>5}  {:>5}  {:>10}",
                    t.allow, t.deny, t.error, t.would_flip
                );
            }
        }
        let width = self
            .by_policy
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0)
            .max("policy".len());
        let _ = writeln!(
            s,
            "\n{:<width$}  determined  would-determine  flips",
            "policy"
        );
        for (k, t) in &self.by_policy {
            let _ = writeln!(
                s,
                "{k:<width$}  {:>10}  {:>15}  {:>5}",
                t.determined, t.would_determine, t.flips
            );
        }
        if self.flips.is_empty() {
            let _ = writeln!(
                s,
                "\nno decision would have been flipped by log-only policies or log-only mode"
            );
        } else {
            let _ = writeln!(
                s,
                "\ndecisions that log-only policies or log-only mode would have flipped:"
            );
            for f in &self.flips {
                let why = if f.cause == "engine" {
                    format!("engine in log-only mode; {}", join(&f.policies))
                } else {
                    join(&f.policies)
                };
                let _ = writeln!(
                    s,
                    "  seq {} {} {} {} {}: {} -> would {} ({})",
                    f.seq,
                    f.timestamp,
                    f.principal,
                    f.action,
                    f.resource,
                    f.decision,
                    f.would_decision,
                    why
                );
            }
        }
        s
    }
}

fn join(items: &[String]) -> String {
    if items.is_empty() {
        "no policy applies".into()
    } else {
        items.join(", ")
    }
}
