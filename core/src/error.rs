//! One error type for every surface, with stable codes the bindings map to
//! their own exception classes.

use serde::Serialize;
use std::fmt;

/// Stable, snake_case error codes. Never rename one: bindings and users match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A bundle file could not be read (or, in `mcp proxy`, the MCP server
    /// exited before answering).
    Io,
    /// The bundle directory is missing a required file or has an unexpected layout.
    BundleInvalid,
    /// `agentauthz.toml` is malformed or names an unknown setting.
    ConfigInvalid,
    /// The schema text does not parse.
    SchemaParse,
    /// The schema parses but is not acceptable (unknown types, redeclared base types, ...).
    SchemaInvalid,
    /// A policy file does not parse.
    PolicyParse,
    /// A policy has no `@id` annotation.
    PolicyIdMissing,
    /// Two policies share an `@id`, or a policy uses a reserved `baseline/` id.
    PolicyIdDuplicate,
    /// A policy does not validate against the schema.
    PolicyInvalid,
    /// Strict mode: a `forbid` may error at run time (or can never match).
    PolicyMayError,
    /// The inventory does not parse.
    InventoryParse,
    /// The inventory parses but does not conform to the schema or refers to undeclared entities.
    InventoryInvalid,
    /// A request is not well-formed JSON of the request shape.
    RequestParse,
    /// A request is well-formed but does not conform to the schema.
    RequestInvalid,
    /// A policy test file is malformed.
    TestInvalid,
    /// A just-in-time grant is not acceptable (unknown agent, action or
    /// resource, an action that does not apply to the resource, a bad window).
    GrantInvalid,
    /// A lifecycle operation names something the engine does not know
    /// (agent, user, credential, grant) or is not allowed in the agent's state.
    LifecycleInvalid,
    /// The journal has a torn or malformed line; it is replayed only with an explicit recover.
    JournalCorrupt,
    /// The journal is open in another writer (another process or engine): one writer at a time.
    JournalLocked,
    /// A decision-log file is open in another writer (another process): one writer at a time.
    LogLocked,
    /// A decision log cannot be continued or read as evidence: a torn or
    /// malformed last line (continue it only with an explicit recover), or
    /// records that do not verify (report, export).
    LogCorrupt,
    /// A session token is malformed, its signature does not verify, its key id
    /// is unknown or its audience does not match.
    SessionInvalid,
    /// A session token is expired or not yet valid.
    SessionExpired,
    /// A session token was revoked, or its agent or task no longer may act.
    SessionRevoked,
    /// A session signing or verification key is missing or malformed.
    KeyInvalid,
    /// An identity-provider token is malformed, its algorithm is not
    /// accepted, its signature does not verify, or a claim is missing or malformed.
    TokenInvalid,
    /// An identity-provider token is expired or not yet valid.
    TokenExpired,
    /// An identity-provider token is for another resource (its `aud`).
    TokenAudience,
    /// An identity-provider token's `iss` is not a configured issuer.
    IssuerUnknown,
    /// The issuer's keys (JWKS) could not be fetched or read.
    JwksUnavailable,
    /// An input nests deeper than `[limits] max_depth` (or a policy has more
    /// operators than `max_policy_operators`); refused before any parser recursed.
    InputTooDeep,
    /// An input is larger than its `[limits]` size bound.
    InputTooLarge,
    /// `record_usage` was given an unknown kind, units that are not a whole
    /// number from 0 to the per-record bound, or an agent the bundle does not know.
    UsageInvalid,
    /// An `@approval` annotation is malformed or not on a `forbid`.
    ApprovalAnnotationInvalid,
    /// An approval or rejection names nothing pending (unknown decision id,
    /// an allow or a deny, already approved), a request that needs no
    /// approval, or bad `uses`/`ttl`.
    ApprovalInvalid,
    /// The user may not approve (or reject) this request: the
    /// `agentauthz:approve` check denied it (not an approver, not active).
    ApprovalRefused,
    /// A bundle archive is unsafe or malformed: a path outside the bundle,
    /// a link or device, a duplicate or unexpected entry, too large, a
    /// truncated or corrupt gzip stream, a name that is not UTF-8.
    BundleArchiveInvalid,
    /// A bundle's signature is missing, malformed, by an unknown key id,
    /// does not verify, or signs another revision.
    BundleSignatureInvalid,
    /// A bundle URL could not be fetched (and no verified copy was cached).
    BundleUnavailable,
    /// An internal failure (a bug); the operation was refused.
    Internal,
}

/// Families group codes for bindings that expose one exception class per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorFamily {
    Bundle,
    Schema,
    Policy,
    Inventory,
    Request,
    Test,
    Lifecycle,
    Journal,
    Log,
    Session,
    Limit,
    Token,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 40] = [
        ErrorCode::Io,
        ErrorCode::BundleInvalid,
        ErrorCode::ConfigInvalid,
        ErrorCode::SchemaParse,
        ErrorCode::SchemaInvalid,
        ErrorCode::PolicyParse,
        ErrorCode::PolicyIdMissing,
        ErrorCode::PolicyIdDuplicate,
        ErrorCode::PolicyInvalid,
        ErrorCode::PolicyMayError,
        ErrorCode::InventoryParse,
        ErrorCode::InventoryInvalid,
        ErrorCode::RequestParse,
        ErrorCode::RequestInvalid,
        ErrorCode::TestInvalid,
        ErrorCode::GrantInvalid,
        ErrorCode::LifecycleInvalid,
        ErrorCode::JournalCorrupt,
        ErrorCode::JournalLocked,
        ErrorCode::LogLocked,
        ErrorCode::LogCorrupt,
        ErrorCode::SessionInvalid,
        ErrorCode::SessionExpired,
        ErrorCode::SessionRevoked,
        ErrorCode::KeyInvalid,
        ErrorCode::TokenInvalid,
        ErrorCode::TokenExpired,
        ErrorCode::TokenAudience,
        ErrorCode::IssuerUnknown,
        ErrorCode::JwksUnavailable,
        ErrorCode::InputTooDeep,
        ErrorCode::InputTooLarge,
        ErrorCode::UsageInvalid,
        ErrorCode::ApprovalAnnotationInvalid,
        ErrorCode::ApprovalInvalid,
        ErrorCode::ApprovalRefused,
        ErrorCode::BundleArchiveInvalid,
        ErrorCode::BundleSignatureInvalid,
        ErrorCode::BundleUnavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Io => "io",
            ErrorCode::BundleInvalid => "bundle_invalid",
            ErrorCode::ConfigInvalid => "config_invalid",
            ErrorCode::SchemaParse => "schema_parse",
            ErrorCode::SchemaInvalid => "schema_invalid",
            ErrorCode::PolicyParse => "policy_parse",
            ErrorCode::PolicyIdMissing => "policy_id_missing",
            ErrorCode::PolicyIdDuplicate => "policy_id_duplicate",
            ErrorCode::PolicyInvalid => "policy_invalid",
            ErrorCode::PolicyMayError => "policy_may_error",
            ErrorCode::InventoryParse => "inventory_parse",
            ErrorCode::InventoryInvalid => "inventory_invalid",
            ErrorCode::RequestParse => "request_parse",
            ErrorCode::RequestInvalid => "request_invalid",
            ErrorCode::TestInvalid => "test_invalid",
            ErrorCode::GrantInvalid => "grant_invalid",
            ErrorCode::LifecycleInvalid => "lifecycle_invalid",
            ErrorCode::JournalCorrupt => "journal_corrupt",
            ErrorCode::JournalLocked => "journal_locked",
            ErrorCode::LogLocked => "log_locked",
            ErrorCode::LogCorrupt => "log_corrupt",
            ErrorCode::SessionInvalid => "session_invalid",
            ErrorCode::SessionExpired => "session_expired",
            ErrorCode::SessionRevoked => "session_revoked",
            ErrorCode::KeyInvalid => "key_invalid",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenAudience => "token_audience",
            ErrorCode::IssuerUnknown => "issuer_unknown",
            ErrorCode::JwksUnavailable => "jwks_unavailable",
            ErrorCode::InputTooDeep => "input_too_deep",
            ErrorCode::InputTooLarge => "input_too_large",
            ErrorCode::UsageInvalid => "usage_invalid",
            ErrorCode::ApprovalAnnotationInvalid => "approval_annotation_invalid",
            ErrorCode::ApprovalInvalid => "approval_invalid",
            ErrorCode::ApprovalRefused => "approval_refused",
            ErrorCode::BundleArchiveInvalid => "bundle_archive_invalid",
            ErrorCode::BundleSignatureInvalid => "bundle_signature_invalid",
            ErrorCode::BundleUnavailable => "bundle_unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn family(self) -> ErrorFamily {
        match self {
            ErrorCode::Io
            | ErrorCode::BundleInvalid
            | ErrorCode::ConfigInvalid
            | ErrorCode::BundleArchiveInvalid
            | ErrorCode::BundleSignatureInvalid
            | ErrorCode::BundleUnavailable => ErrorFamily::Bundle,
            ErrorCode::SchemaParse | ErrorCode::SchemaInvalid => ErrorFamily::Schema,
            ErrorCode::PolicyParse
            | ErrorCode::PolicyIdMissing
            | ErrorCode::PolicyIdDuplicate
            | ErrorCode::PolicyInvalid
            | ErrorCode::PolicyMayError
            | ErrorCode::ApprovalAnnotationInvalid => ErrorFamily::Policy,
            ErrorCode::InventoryParse | ErrorCode::InventoryInvalid => ErrorFamily::Inventory,
            ErrorCode::RequestParse | ErrorCode::RequestInvalid | ErrorCode::UsageInvalid => {
                ErrorFamily::Request
            }
            ErrorCode::TestInvalid => ErrorFamily::Test,
            ErrorCode::GrantInvalid
            | ErrorCode::LifecycleInvalid
            | ErrorCode::ApprovalInvalid
            | ErrorCode::ApprovalRefused => ErrorFamily::Lifecycle,
            ErrorCode::JournalCorrupt | ErrorCode::JournalLocked => ErrorFamily::Journal,
            ErrorCode::LogLocked | ErrorCode::LogCorrupt => ErrorFamily::Log,
            ErrorCode::SessionInvalid
            | ErrorCode::SessionExpired
            | ErrorCode::SessionRevoked
            | ErrorCode::KeyInvalid => ErrorFamily::Session,
            ErrorCode::InputTooDeep | ErrorCode::InputTooLarge => ErrorFamily::Limit,
            ErrorCode::TokenInvalid
            | ErrorCode::TokenExpired
            | ErrorCode::TokenAudience
            | ErrorCode::IssuerUnknown
            | ErrorCode::JwksUnavailable => ErrorFamily::Token,
            ErrorCode::Internal => ErrorFamily::Internal,
        }
    }
}

impl ErrorFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorFamily::Bundle => "bundle",
            ErrorFamily::Schema => "schema",
            ErrorFamily::Policy => "policy",
            ErrorFamily::Inventory => "inventory",
            ErrorFamily::Request => "request",
            ErrorFamily::Test => "test",
            ErrorFamily::Lifecycle => "lifecycle",
            ErrorFamily::Journal => "journal",
            ErrorFamily::Log => "log",
            ErrorFamily::Session => "session",
            ErrorFamily::Limit => "limit",
            ErrorFamily::Token => "token",
            ErrorFamily::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every stable error code with its family, for bindings to build their tables from.
pub fn error_codes() -> Vec<(&'static str, &'static str)> {
    ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.family().as_str()))
        .collect()
}

/// Where in a file an error was found (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl Location {
    /// The location of byte `offset` in `text`.
    pub fn at_offset(file: &str, text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Location {
            file: file.to_string(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    pub fn line_col(file: &str, line: usize, column: usize) -> Location {
        Location {
            file: file.to_string(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

/// Line starts of a text, for many offset-to-location lookups in O(log n) each.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    /// The byte offset where 1-based `line` starts (0 for line 0 or 1, the
    /// text's end past its last line).
    pub fn line_start(&self, line: u32) -> usize {
        let i = usize::try_from(line)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        self.starts.get(i).copied().unwrap_or(self.text.len())
    }

    pub fn location(&self, file: &str, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |s| s.chars().count())
            + 1;
        Location::line_col(file, line, column)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One problem; an [`Error`] carries one or more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct Detail {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The one error type of agentauthz: a stable code and at least one located detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Error {
    pub code: ErrorCode,
    pub details: Vec<Detail>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Error {
        Error {
            code,
            details: vec![Detail {
                message: message.into(),
                location: None,
            }],
        }
    }

    pub fn at(code: ErrorCode, location: Location, message: impl Into<String>) -> Error {
        Error {
            code,
            details: vec![Detail {
                message: message.into(),
                location: Some(location),
            }],
        }
    }

    pub fn with_details(code: ErrorCode, details: Vec<Detail>) -> Error {
        Error { code, details }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The first detail's message.
    pub fn message(&self) -> &str {
        self.details.first().map_or("", |d| d.message.as_str())
    }

    pub fn location(&self) -> Option<&Location> {
        self.details.first().and_then(|d| d.location.as_ref())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.code)?;
        for (i, d) in self.details.iter().enumerate() {
            if i == 0 {
                write!(f, " {d}")?;
            } else {
                write!(f, "\n  {d}")?;
            }
        }
        Ok(())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a Cedar diagnostic into details, locating each label in `text`.
pub(crate) fn diagnostic_details(
    diag: &dyn miette::Diagnostic,
    file: &str,
    text: &str,
) -> Vec<Detail> {
    let mut message = diag.to_string();
    if let Some(help) = diag.help() {
        message = format!("{message} (help: {help})");
    }
    let location = diag
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| Location::at_offset(file, text, label.offset()));
    vec![Detail { message, location }]
}

/// Details for a Cedar error that may hold several related diagnostics.
pub(crate) fn diagnostics_details(
    diag: &dyn miette::Diagnostic,
    file: &str,
    text: &str,
) -> Vec<Detail> {
    let related: Vec<Detail> = diag
        .related()
        .map(|it| it.flat_map(|d| diagnostic_details(d, file, text)).collect())
        .unwrap_or_default();
    let mut details = diagnostic_details(diag, file, text);
    if !related.is_empty() && details[0].location.is_none() {
        return related;
    }
    details.extend(related);
    details
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_agrees_with_at_offset() {
        let text = "ab\ncdé\n\nxyz";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() {
            if text.is_char_boundary(offset) {
                assert_eq!(
                    index.location("f", offset),
                    Location::at_offset("f", text, offset),
                    "offset {offset}"
                );
            }
        }
    }
}

/// One input file: a display name (used in error locations) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    pub fn read(path: &std::path::Path) -> Result<Source> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        Ok(Source::new(path.display().to_string(), text))
    }
}
