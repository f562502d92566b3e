//! The rule catalogue: stable ids, default severity, remediation and the
//! controls each rule maps to. Ids never change meaning; retired ids are not reused.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Some(match text.to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// SARIF `level`.
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        }
    }

    /// GitHub code scanning's `security-severity` (0.0-10.0).
    pub fn security_severity(self) -> &'static str {
        match self {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "3.0",
            Severity::Info => "1.0",
        }
    }
}

/// Controls a rule maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Controls {
    /// NIST AI RMF 1.0 subcategories.
    pub nist_ai_rmf: &'static [&'static str],
    /// CIS Controls v8 safeguards.
    pub cis_v8: &'static [&'static str],
    /// ISO/IEC 42001:2023 Annex A controls.
    pub iso_42001: &'static [&'static str],
    /// OWASP Top 10 for LLM Applications (2025).
    pub owasp_llm: &'static [&'static str],
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub remediation: &'static str,
    pub controls: Controls,
}

macro_rules! rule {
    ($id:literal, $name:literal, $sev:ident, $title:literal, $rem:literal,
     nist: [$($n:literal),*], cis: [$($c:literal),*], iso: [$($i:literal),*], owasp: [$($o:literal),*]) => {
        Rule {
            id: $id,
            name: $name,
            title: $title,
            severity: Severity::$sev,
            remediation: $rem,
            controls: Controls {
                nist_ai_rmf: &[$($n),*],
                cis_v8: &[$($c),*],
                iso_42001: &[$($i),*],
                owasp_llm: &[$($o),*],
            },
        }
    };
}

/// Every rule, in id order.
pub const RULES: &[Rule] = &[
    rule!("AAZ001", "agent-without-owner", High,
        "Agent has no human owner",
        "Assign an active human owner (`owner:` in the inventory) who answers for the agent's actions and access, or offboard the agent.",
        nist: ["GOVERN 2.1", "GOVERN 1.6"], cis: ["5.1", "5.5"], iso: ["A.3.2"], owasp: []),
    rule!("AAZ002", "owner-inactive", High,
        "Agent's owner is inactive or unknown",
        "Reassign the agent to an active owner; when nobody claims it, suspend and offboard it.",
        nist: ["GOVERN 2.1", "GOVERN 1.7"], cis: ["5.3", "6.2"], iso: ["A.3.2"], owasp: []),
    rule!("AAZ003", "human-credential", High,
        "Agent authenticates with a human's credential",
        "Issue the agent its own short-lived machine credential (service account, workload identity) and revoke the human token.",
        nist: ["GOVERN 1.6", "MEASURE 2.7"], cis: ["5.5", "6.1"], iso: ["A.4.2"], owasp: ["LLM06"]),
    rule!("AAZ004", "credential-without-expiry", Medium,
        "Credential never expires",
        "Give the credential an expiry (`expires:`) no longer than `[posture] max_credential_days`; prefer short-lived tokens.",
        nist: ["MEASURE 2.7"], cis: ["5.2", "6.2"], iso: ["A.4.2"], owasp: []),
    rule!("AAZ005", "credential-lifetime-too-long", Medium,
        "Credential lifetime exceeds the configured maximum",
        "Re-issue the credential with a lifetime within `[posture] max_credential_days`.",
        nist: ["MEASURE 2.7"], cis: ["5.2", "6.2"], iso: ["A.4.2"], owasp: []),
    rule!("AAZ006", "credential-rotation-overdue", Medium,
        "Credential is past its rotation age",
        "Rotate the credential (issue a new one, move the agent to it, revoke the old one).",
        nist: ["MEASURE 2.7"], cis: ["5.2"], iso: ["A.4.2"], owasp: []),
    rule!("AAZ007", "stale-agent", Low,
        "Active agent shows no activity in the decision logs",
        "Confirm with the owner whether the agent is still needed; suspend, then offboard it (status: offboarded) and revoke its credentials.",
        nist: ["GOVERN 1.7", "MANAGE 2.4"], cis: ["5.3", "6.2"], iso: ["A.6.2.6"], owasp: []),
    rule!("AAZ008", "over-broad-policy", High,
        "Permit policy with an unscoped principal or resource on write-class actions",
        "Scope the policy to an agent or agent group (`principal in AgentGroup::\"…\"`), to the resources it needs (`resource in …`) and to named actions; add conditions (task, network) for write actions.",
        nist: ["MEASURE 2.7"], cis: ["6.8", "5.4"], iso: ["A.9.4"], owasp: ["LLM06"]),
    rule!("AAZ009", "unused-permission", Low,
        "Permission granted but never exercised in the decision logs",
        "Replace the policy with the suggested tightened policy, which keeps every logged allow and drops what was never used.",
        nist: ["MANAGE 2.4", "MEASURE 2.7"], cis: ["6.8"], iso: ["A.9.4"], owasp: ["LLM06"]),
    rule!("AAZ010", "expired-entry-declared", Low,
        "Expired task or credential is still declared",
        "Remove expired tasks and expired credentials from the inventory (and revoke the credential at its issuer).",
        nist: ["GOVERN 1.7"], cis: ["6.2"], iso: ["A.6.2.6"], owasp: []),
    rule!("AAZ011", "test-permission-in-production", High,
        "Test-only permissions are active in production",
        "Move test policies and test agents to a test bundle, or remove them; production bundles should hold only production grants.",
        nist: ["GOVERN 1.7", "MANAGE 2.4"], cis: ["6.1", "6.2"], iso: ["A.6.2.5"], owasp: ["LLM06"]),
    rule!("AAZ012", "log-only-policy-would-deny", Medium,
        "Log-only policy would have denied allowed traffic",
        "Review the requests it would deny: fix the policy, or the callers, before switching it to enforce.",
        nist: ["MEASURE 2.7", "MANAGE 4.1"], cis: ["6.7"], iso: ["A.6.2.8"], owasp: []),
    rule!("AAZ013", "shadow-agent", High,
        "Unregistered identity behaves like an AI agent",
        "Find the identity's owner, register it as an agent with its own credential and policies, or disable it.",
        nist: ["GOVERN 1.6"], cis: ["5.1", "5.5", "6.6"], iso: ["A.4.2", "A.6.2.6"], owasp: ["LLM06"]),
    rule!("AAZ014", "agent-on-human-identity", High,
        "Agent traffic runs on a human identity or credential",
        "Give the agent its own machine identity; revoke the human credential it uses and rotate the human's secrets.",
        nist: ["GOVERN 1.6", "MEASURE 2.7"], cis: ["5.5", "6.1"], iso: ["A.3.2", "A.4.2"], owasp: ["LLM06"]),
    rule!("AAZ015", "engine-not-enforcing", High,
        "The engine does not enforce its decisions",
        "Switch `[engine] mode` to `enforce` (log-only returns allow for every request), and `[engine] on_error` back to `deny` (with `skip` a forbid that errors lets a permit allow).",
        nist: ["MANAGE 2.4", "MEASURE 2.7"], cis: ["6.7"], iso: ["A.6.2.8"], owasp: ["LLM06"]),
    rule!("AAZ016", "unauthenticated-state", Medium,
        "Journal or decision log is not authenticated",
        "Set `[integrity] key_env` (or `key_file`) in agentauthz.toml to a random key of at least 32 bytes kept outside the bundle: journal entries, decision records and checkpoints then carry an HMAC-SHA-256, and forged or rewritten lines are refused.",
        nist: ["MEASURE 2.7", "MANAGE 4.1"], cis: ["8.2", "8.3"], iso: ["A.6.2.8"], owasp: []),
    rule!("AAZ017", "store-out-of-sync", High,
        "Engine is out of sync with its fleet's change store",
        "Restore the connection to the PostgreSQL change store (`store_status()` names the last error); until then offboardings and revocations made elsewhere do not apply here. Set `[store] max_staleness_seconds` so checks fail closed (`store/stale`) when this lasts.",
        nist: ["MANAGE 2.4", "MEASURE 2.7"], cis: ["6.2"], iso: ["A.6.2.6"], owasp: []),
];

pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}
