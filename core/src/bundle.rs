//! A bundle's inputs: the text of its files, read from a directory or given
//! as strings, plus the options that say how strictly to compile them.

use crate::error::{Error, ErrorCode, Location, Result};
use crate::integrity::IntegrityKeys;
use crate::limits::Limits;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::error::Source;

/// How a bundle is compiled. The defaults are the product's: base types,
/// baseline guardrails, `@id` required, strict validation of everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleOptions {
    /// Merge the base identity types into the schema and add the standard context fields.
    pub base_schema: bool,
    /// Every policy must carry a unique `@id`; otherwise Cedar's `policy0, policy1, ...` ids are kept.
    pub require_policy_ids: bool,
    /// Validate policies against the schema (strict mode).
    pub validate_policies: bool,
    /// Validate every request (and its context) against the schema.
    pub validate_requests: bool,
    /// Input bounds; `[limits]` of `agentauthz.toml`, when present, replaces them.
    pub limits: Limits,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            base_schema: true,
            require_policy_ids: true,
            validate_policies: true,
            validate_requests: true,
            limits: Limits::default(),
        }
    }
}

impl BundleOptions {
    /// Plain Cedar semantics: the schema, policies and entities exactly as given.
    pub fn plain_cedar() -> BundleOptions {
        BundleOptions {
            base_schema: false,
            require_policy_ids: false,
            validate_policies: true,
            validate_requests: true,
            limits: Limits::default(),
        }
    }
}

/// The baseline guardrail switches of `agentauthz.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct BaselineConfig {
    pub owner_required: bool,
    pub agent_active: bool,
    pub task_window: bool,
    pub no_human_credentials: bool,
    pub credential_expired: bool,
    pub on_behalf_of_active: bool,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        BaselineConfig {
            owner_required: true,
            agent_active: true,
            task_window: true,
            no_human_credentials: true,
            credential_expired: true,
            on_behalf_of_active: true,
        }
    }
}

impl BaselineConfig {
    pub fn all_off() -> BaselineConfig {
        BaselineConfig {
            owner_required: false,
            agent_active: false,
            task_window: false,
            no_human_credentials: false,
            credential_expired: false,
            on_behalf_of_active: false,
        }
    }

    /// Whether the guardrail with this id (without the `baseline/` prefix) is on.
    pub fn enabled(&self, name: &str) -> bool {
        match name {
            "owner-required" => self.owner_required,
            "agent-active" => self.agent_active,
            "task-window" => self.task_window,
            "no-human-credentials" => self.no_human_credentials,
            "credential-expired" => self.credential_expired,
            "on-behalf-of-active" => self.on_behalf_of_active,
            _ => true,
        }
    }
}

/// `agentauthz.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub baseline: BaselineConfig,
    /// `[posture]`: thresholds of `agentauthz posture`.
    #[serde(default)]
    pub posture: PostureConfig,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub journal: JournalConfig,
    #[serde(default)]
    pub sessions: SessionsConfig,
    /// `[limits]`: input bounds (see [`Limits`]); replaces the builder's when present.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// `[integrity]`: the key that authenticates the journal and the decision log.
    #[serde(default)]
    pub integrity: crate::integrity::IntegrityConfig,
    /// `[identity]`: identity providers whose tokens name agents.
    #[serde(default)]
    pub identity: crate::identity::IdentityConfig,
    /// `[store]`: a change store shared by a fleet of engines (PostgreSQL).
    #[serde(default)]
    pub store: StoreConfig,
    /// `[metrics]`: decision counters and gauges exported over OTLP.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[bundle]`: pull this bundle, signed, from a URL.
    #[serde(default)]
    pub bundle: BundleUrlConfig,
}

/// `[metrics]`: where the engine's metrics go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `[metrics.otlp]`: OTLP/HTTP metrics export.
    #[serde(default)]
    pub otlp: Option<MetricsOtlpConfig>,
}

/// `[metrics.otlp]`: the engine's counters, histogram and gauges as an
/// `ExportMetricsServiceRequest` (OTLP/HTTP protobuf, cumulative) every
/// `interval_ms`. Not spooled: each export carries the totals, so one that
/// fails is made good by the next.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsOtlpConfig {
    /// The full URL, e.g. `http://127.0.0.1:4318/v1/metrics`.
    pub endpoint: String,
    /// Milliseconds between exports (default 10,000).
    #[serde(default)]
    pub interval_ms: Option<u64>,
    /// Bound on one request (default 5,000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Request headers. Secret: never printed; prefer `headers_from_env`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Request headers whose values are read from environment variables at load.
    #[serde(default)]
    pub headers_from_env: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for MetricsOtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsOtlpConfig")
            .field("interval_ms", &self.interval_ms)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// `[bundle]` of `agentauthz.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleUrlConfig {
    /// `https://…/bundle.tar.gz`; its signature is at the same URL + `.sig`.
    pub url: Option<String>,
    /// Key id → `k4.public.…` / PEM text, `file:PATH` or `env:VAR`.
    #[serde(default)]
    pub public_keys: BTreeMap<String, String>,
    /// Seconds between polls (default 30; 0: fetch at start only).
    #[serde(default)]
    pub poll_seconds: Option<u64>,
    /// Where the last verified bundle is kept (relative to the bundle
    /// directory; default `bundle-cache`).
    #[serde(default)]
    pub cache_dir: Option<String>,
    /// Plain `http://` to any host (default: only to loopback addresses).
    #[serde(default)]
    pub allow_http: bool,
}

/// `[store]`: run-time changes shared by every engine of a fleet through
/// PostgreSQL (instead of a local `[journal]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The connection URL: `"env:VAR"` (recommended: it carries a password),
    /// `"file:PATH"` (relative to the bundle directory), or the URL itself.
    #[serde(default)]
    pub postgres: Option<String>,
    /// `disable` (the default): plain TCP, for a local or private network;
    /// `require`: TLS, the certificate unchecked; `verify-full`: TLS, the
    /// certificate checked against `ca_file` and the URL's host name.
    #[serde(default)]
    pub sslmode: Option<String>,
    /// The CA certificates (PEM) of `verify-full`, relative to the bundle directory.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Checks deny (`store/stale`) once the engine has not been in sync
    /// with the store for this long; unset: the last state keeps deciding.
    #[serde(default)]
    pub max_staleness_seconds: Option<u64>,
    /// How often the engine polls when no notification comes (default 1000).
    #[serde(default)]
    pub poll_ms: Option<u64>,
    /// Who this engine is in the store's `writer` column (default `host/pid`).
    #[serde(default)]
    pub writer: Option<String>,
}

/// `[sessions]`: signed, short-lived agent session tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    /// Longest session lifetime, in seconds (default 900: 15 minutes).
    #[serde(default)]
    pub max_ttl_seconds: Option<u64>,
    /// The audience sessions are issued for and checked against when a call names none.
    #[serde(default)]
    pub audience: Option<String>,
    /// Other audiences a call may name instead of `audience` (issuing or
    /// checking); none by default, so a caller cannot pick another one.
    #[serde(default)]
    pub allowed_audiences: Vec<String>,
    /// `iss` of issued tokens.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Key id of the signing key (default `default`).
    #[serde(default)]
    pub key_id: Option<String>,
    /// File holding the signing key (PASERK `k4.secret.` or PKCS#8 PEM),
    /// relative to the bundle directory.
    #[serde(default)]
    pub signing_key_file: Option<String>,
    /// Environment variable holding the signing key.
    #[serde(default)]
    pub signing_key_env: Option<String>,
    /// More verification keys by key id (rotation): `"file:PATH"`,
    /// `"env:VAR"`, or the public key text (`k4.public.` or PEM).
    #[serde(default)]
    pub verifying_keys: BTreeMap<String, String>,
}

/// `[journal]`: where run-time changes (grants, lifecycle operations) are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// The journal file; relative paths are relative to the bundle directory.
    /// Without one, run-time changes last as long as the process.
    #[serde(default)]
    pub path: Option<String>,
}

/// `[engine]`: how decisions are enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// `enforce` (default) or `log-only`: every check returns allow and the
    /// decision log records what would have been decided.
    #[serde(default)]
    pub mode: Mode,
    /// What a `forbid` whose evaluation errors does: `deny` (default) or
    /// `skip` (Cedar's own rule: the policy is ignored).
    #[serde(default)]
    pub on_error: OnError,
    /// Load fails (`policy_may_error`) when a forbid may error at run time,
    /// instead of reporting it as a warning.
    #[serde(default)]
    pub strict: bool,
}

/// `[engine] on_error`: what a `forbid` whose evaluation errors does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// The request is denied; the erroring forbid is a reason (fail closed).
    #[default]
    Deny,
    /// Cedar's rule: the erroring policy is skipped, so a permit may allow.
    Skip,
}

impl OnError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Deny => "deny",
            OnError::Skip => "skip",
        }
    }
}

/// Where `[log] sink` sends decision records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSink {
    /// No sink from the configuration (one may still be set in code).
    #[default]
    None,
    /// JSON lines appended to `path`.
    File,
    /// JSON lines on standard output.
    Stdout,
}

/// `[log]`: the decision log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub sink: LogSink,
    /// The active file of a `file` sink; relative paths are relative to the bundle directory.
    #[serde(default)]
    pub path: Option<String>,
    /// Rotate the file before it would grow past this many bytes.
    #[serde(default, alias = "max-bytes")]
    pub max_bytes: Option<u64>,
    /// Context paths whose values are replaced by `"[redacted]"` in records, e.g. `input.password`.
    #[serde(default)]
    pub redact: Vec<String>,
    /// `[log.syslog]`: records to a syslog collector (RFC 5424 over TCP).
    #[serde(default)]
    pub syslog: Option<SyslogConfig>,
    /// `[log.otlp]`: records as OpenTelemetry logs over OTLP/HTTP.
    #[serde(default)]
    pub otlp: Option<OtlpConfig>,
}

/// `[log.otlp]`: records as OpenTelemetry log records over OTLP/HTTP
/// (protobuf), spooled on disk until the receiver answered 2xx.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// e.g. `http://127.0.0.1:4318/v1/logs`.
    pub endpoint: String,
    /// Request headers. Secret: never printed; prefer `headers_from_env`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Request headers whose values are read from environment variables at load.
    #[serde(default)]
    pub headers_from_env: std::collections::BTreeMap<String, String>,
    /// The spool directory; relative paths are relative to the bundle directory.
    pub spool: String,
    /// The log body: `record` (the record's JSON line, default) or `ocsf`.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub max_spool_bytes: Option<u64>,
    #[serde(default)]
    pub durable: Option<bool>,
    #[serde(default)]
    pub overflow: Overflow,
    #[serde(default)]
    pub block_ms: Option<u64>,
    #[serde(default)]
    pub batch: Option<usize>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values are secrets (API keys): names only.
        f.debug_struct("OtlpConfig")
            .field("endpoint", &self.endpoint)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("headers_from_env", &self.headers_from_env)
            .field("spool", &self.spool)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl OtlpConfig {
    pub fn export(&self) -> ExportConfig {
        ExportConfig {
            max_spool_bytes: self.max_spool_bytes,
            durable: self.durable,
            overflow: self.overflow,
            block_ms: self.block_ms,
            batch: self.batch,
            timeout_ms: self.timeout_ms,
        }
    }
}

/// What a check does when an exporting sink's spool is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overflow {
    /// Wait up to `block_ms` for the receiver to make room, then drop (counted).
    #[default]
    Block,
    /// Drop the record at once (counted, and reported by `flush`).
    Drop,
}

/// `[log.syslog]`: RFC 5424 messages over TCP with octet-counting framing
/// (RFC 6587), spooled on disk until the collector has read them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// `host:port` of the collector.
    pub address: String,
    /// The spool directory; relative paths are relative to the bundle directory.
    pub spool: String,
    /// APP-NAME of the messages (default `agentauthz`).
    #[serde(default)]
    pub app_name: Option<String>,
    /// Syslog facility number 0..=23 (default 13, log audit).
    #[serde(default)]
    pub facility: Option<u8>,
    #[serde(default)]
    pub max_spool_bytes: Option<u64>,
    #[serde(default)]
    pub durable: Option<bool>,
    #[serde(default)]
    pub overflow: Overflow,
    #[serde(default)]
    pub block_ms: Option<u64>,
    #[serde(default)]
    pub batch: Option<usize>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl SyslogConfig {
    pub fn export(&self) -> ExportConfig {
        ExportConfig {
            max_spool_bytes: self.max_spool_bytes,
            durable: self.durable,
            overflow: self.overflow,
            block_ms: self.block_ms,
            batch: self.batch,
            timeout_ms: self.timeout_ms,
        }
    }
}

/// Spool and delivery settings shared by the exporting sinks (the same keys
/// in `[log.syslog]` and `[log.otlp]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportConfig {
    /// Largest spool, in bytes (default 256 MiB).
    pub max_spool_bytes: Option<u64>,
    /// Write each record to the spool before the check returns (default true).
    pub durable: Option<bool>,
    /// `block` (default) or `drop`.
    pub overflow: Overflow,
    /// How long `block` waits, in milliseconds (default 200).
    pub block_ms: Option<u64>,
    /// Records per batch (default 512).
    pub batch: Option<usize>,
    /// Timeout of one delivery, in milliseconds (default 5000).
    pub timeout_ms: Option<u64>,
}

/// The `[posture]` section of `agentauthz.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostureConfig {
    /// Longest allowed credential lifetime (expires - issued), in days.
    pub max_credential_days: u32,
    /// A credential issued longer ago than this is due for rotation, in days.
    pub rotation_days: u32,
    /// An active agent with no logged activity for this many days is stale.
    pub stale_days: u32,
    /// The environment this bundle governs; policies and agents marked for
    /// another (`test`, `dev`) environment are findings when this is `production`.
    pub environment: String,
}

impl Default for PostureConfig {
    fn default() -> Self {
        PostureConfig {
            max_credential_days: 90,
            rotation_days: 90,
            stale_days: 30,
            environment: "production".into(),
        }
    }
}

impl Config {
    pub fn parse(src: &Source) -> Result<Config> {
        Config::parse_with(src, &Limits::default())
    }

    /// Parses `agentauthz.toml` after checking its size and depth against `limits`.
    pub fn parse_with(src: &Source, limits: &Limits) -> Result<Config> {
        limits.check_toml(&src.name, &src.text)?;
        let config: Config = toml::from_str(&src.text).map_err(|e| {
            let message = e.message().to_string();
            match e.span() {
                Some(span) => Error::at(
                    ErrorCode::ConfigInvalid,
                    Location::at_offset(&src.name, &src.text, span.start),
                    message,
                ),
                None => Error::new(ErrorCode::ConfigInvalid, format!("{}: {message}", src.name)),
            }
        })?;
        let log_section =
            || Location::at_offset(&src.name, &src.text, src.text.find("[log]").unwrap_or(0));
        if config.log.sink == LogSink::File && config.log.path.is_none() {
            return Err(Error::at(
                ErrorCode::ConfigInvalid,
                log_section(),
                "[log] sink = \"file\" needs a `path` (e.g. path = \"decisions.jsonl\")",
            ));
        }
        if let Some(s) = &config.log.syslog {
            let bad = if config.log.sink != LogSink::None {
                Some("[log.syslog] is the decision log's sink: remove `sink` from [log] (the spool keeps the local copy)")
            } else if s.address.trim().is_empty() {
                Some("[log.syslog] needs an `address` (host:port)")
            } else if s.spool.trim().is_empty() {
                Some("[log.syslog] needs a `spool` directory")
            } else if s.facility.is_some_and(|f| f > 23) {
                Some("[log.syslog] facility must be 0..=23")
            } else if s.max_spool_bytes == Some(0) || s.batch == Some(0) || s.timeout_ms == Some(0)
            {
                Some("[log.syslog] max_spool_bytes, batch and timeout_ms must be positive")
            } else {
                None
            };
            if let Some(message) = bad {
                return Err(Error::at(ErrorCode::ConfigInvalid, log_section(), message));
            }
        }
        if let Some(o) = &config.log.otlp {
            let bad = if config.log.sink != LogSink::None || config.log.syslog.is_some() {
                Some("[log.otlp] is the decision log's sink: remove `sink` from [log] and [log.syslog] (one exporting sink per log)")
            } else if o.spool.trim().is_empty() {
                Some("[log.otlp] needs a `spool` directory")
            } else if o
                .body
                .as_deref()
                .is_some_and(|b| b != "record" && b != "ocsf")
            {
                Some("[log.otlp] body must be \"record\" or \"ocsf\"")
            } else if o.max_spool_bytes == Some(0) || o.batch == Some(0) || o.timeout_ms == Some(0)
            {
                Some("[log.otlp] max_spool_bytes, batch and timeout_ms must be positive")
            } else {
                None
            };
            if let Some(message) = bad {
                return Err(Error::at(ErrorCode::ConfigInvalid, log_section(), message));
            }
        }
        if let Some(m) = &config.metrics.otlp {
            let bad = if !m.endpoint.starts_with("http://") {
                Some("[metrics.otlp] endpoint must be an http:// URL, e.g. http://127.0.0.1:4318/v1/metrics (TLS is not built in: use a local collector)")
            } else if m.interval_ms == Some(0) || m.timeout_ms == Some(0) {
                Some("[metrics.otlp] interval_ms and timeout_ms must be positive")
            } else {
                None
            };
            if let Some(message) = bad {
                let at = src.text.find("[metrics").unwrap_or(0);
                return Err(Error::at(
                    ErrorCode::ConfigInvalid,
                    Location::at_offset(&src.name, &src.text, at),
                    message,
                ));
            }
        }
        if config.log.max_bytes == Some(0) {
            return Err(Error::at(
                ErrorCode::ConfigInvalid,
                log_section(),
                "[log] max_bytes must be positive",
            ));
        }
        for p in &config.log.redact {
            if p.is_empty() || p.split('.').any(str::is_empty) {
                return Err(Error::at(
                    ErrorCode::ConfigInvalid,
                    log_section(),
                    format!("[log] redact path `{p}` has an empty segment (write e.g. `input.password`)"),
                ));
            }
        }
        Ok(config)
    }
}

/// Everything a snapshot is compiled from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    /// Cedar schema (`.cedarschema`, or JSON when the name ends in `.json`).
    pub schema: Option<Source>,
    /// Policy files in Cedar syntax, in load order.
    pub policies: Vec<Source>,
    /// `inventory.yaml`/`.json` in agentauthz's format, or a Cedar entities JSON array.
    pub inventory: Option<Source>,
    /// `agentauthz.toml`.
    pub config: Option<Source>,
    pub options: BundleOptions,
    /// The directory the bundle was read from, if any.
    pub dir: Option<PathBuf>,
}

impl Bundle {
    /// A bundle from in-memory strings, with the product defaults.
    pub fn from_strings(schema: &str, policies: &str, inventory: Option<&str>) -> Bundle {
        Bundle {
            schema: Some(Source::new("schema.cedarschema", schema)),
            policies: vec![Source::new("policies.cedar", policies)],
            inventory: inventory.map(|text| Source::new(inventory_name(text), text)),
            ..Bundle::default()
        }
    }

    /// Reads a bundle directory (see the README for its layout).
    pub fn read_dir(dir: impl AsRef<Path>) -> Result<Bundle> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::new(
                ErrorCode::BundleInvalid,
                format!("bundle directory {} does not exist", dir.display()),
            ));
        }
        let schema_path = ["schema.cedarschema", "schema.cedarschema.json"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::BundleInvalid,
                    format!("{}: missing schema.cedarschema", dir.display()),
                )
            })?;
        let policy_dir = dir.join("policies");
        let mut policy_paths = list_files(&policy_dir, "cedar")?;
        policy_paths.sort();
        if policy_paths.is_empty() {
            return Err(Error::new(
                ErrorCode::BundleInvalid,
                format!("{}: no policies/*.cedar files", dir.display()),
            ));
        }
        let inventories: Vec<PathBuf> = ["inventory.yaml", "inventory.yml", "inventory.json"]
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect();
        if inventories.len() > 1 {
            return Err(Error::new(
                ErrorCode::BundleInvalid,
                format!("{}: more than one inventory file", dir.display()),
            ));
        }
        let config_path = dir.join("agentauthz.toml");
        Ok(Bundle {
            schema: Some(Source::read(&schema_path)?),
            policies: policy_paths
                .iter()
                .map(|p| Source::read(p))
                .collect::<Result<_>>()?,
            inventory: inventories.first().map(|p| Source::read(p)).transpose()?,
            config: config_path
                .is_file()
                .then(|| Source::read(&config_path))
                .transpose()?,
            options: BundleOptions::default(),
            dir: Some(dir.to_path_buf()),
        })
    }

    /// A bundle directory, or a directory holding only `agentauthz.toml`
    /// whose `[bundle] url` names where the bundle comes from.
    pub fn read_dir_or_config(dir: impl AsRef<Path>) -> Result<Bundle> {
        let dir = dir.as_ref();
        let config_path = dir.join("agentauthz.toml");
        let has_schema = ["schema.cedarschema", "schema.cedarschema.json"]
            .iter()
            .any(|n| dir.join(n).is_file());
        if !has_schema && config_path.is_file() {
            let config = Source::read(&config_path)?;
            if Config::parse(&config)?.bundle.url.is_some() {
                return Ok(Bundle {
                    config: Some(config),
                    dir: Some(dir.to_path_buf()),
                    ..Bundle::default()
                });
            }
        }
        Bundle::read_dir(dir)
    }

    pub fn with_options(mut self, options: BundleOptions) -> Bundle {
        self.options = options;
        self
    }
}

/// A name that tells the inventory parser which syntax a string is in.
fn inventory_name(text: &str) -> &'static str {
    match text.trim_start().chars().next() {
        Some('{') | Some('[') => "inventory.json",
        _ => "inventory.yaml",
    }
}

/// Regular files in `dir` with extension `ext` (none if `dir` is absent).
pub(crate) fn list_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::new(ErrorCode::Io, format!("cannot list {}: {e}", dir.display())))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot list {}: {e}", dir.display())))?
            .path();
        if path.is_file() && path.extension().is_some_and(|x| x == ext) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// How decisions are enforced.
///
/// Per engine (`[engine] mode = "log-only"` in `agentauthz.toml`): every
/// check returns allow and the decision log records what would have been
/// decided. Per policy (`@mode("log-only")`): the policy is evaluated and its
/// effect recorded, but it does not change the returned decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub enum Mode {
    #[default]
    Enforce,
    LogOnly,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::LogOnly => "log-only",
        }
    }

    /// Reads `enforce` or `log-only`.
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "enforce" => Some(Mode::Enforce),
            "log-only" => Some(Mode::LogOnly),
            _ => None,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl IntegrityKeys {
    /// The keys of a bundle's `[integrity]` (none without a config).
    pub fn for_bundle(bundle: &Bundle) -> Result<IntegrityKeys> {
        let config = match &bundle.config {
            Some(src) => Config::parse(src)?,
            None => return Ok(IntegrityKeys::none()),
        };
        IntegrityKeys::from_config(&config.integrity, bundle.dir.as_deref())
    }
}
