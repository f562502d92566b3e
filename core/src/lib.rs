//! agentauthz: identity-based authorization for AI agents, in process, on Cedar.
//!
//! Load a bundle (schema, policies, inventory), then ask [`Engine::check`]
//! before every tool call. Decisions are exactly Cedar's, plus built-in
//! guardrails that deny unknown, ownerless or inactive agents.

mod approval;
pub mod archive;
pub mod audit;
mod bundle;
mod change;
mod engine;
mod error;
pub mod ffi;
#[cfg(not(target_arch = "wasm32"))]
mod http;
pub mod identity;
pub mod integrity;
mod inventory;
pub mod journal;
pub mod limits;
pub mod mcp;
mod model;
pub mod posture;
pub mod remote;
mod schema;
pub mod scim;
pub mod session;
pub mod store;
pub mod testing;
mod time;

pub use approval::{
    parse_approvers, Approval, ApprovalHook, ApprovalRequest, ApprovalTarget, Approver,
    APPROVAL_REASON_PREFIX, DEFAULT_APPROVAL_TTL_SECONDS, MAX_APPROVAL_TTL_SECONDS,
    MAX_APPROVAL_USES,
};
pub use audit::{DecisionLog, DecisionRecord};
pub use bundle::{
    BaselineConfig, Bundle, BundleOptions, BundleUrlConfig, Config, EngineConfig, JournalConfig,
    LogConfig, LogSink, Mode, OnError, PostureConfig, Source, StoreConfig,
};
pub use change::{Change, Grant, GrantRequest, TaskSpec};
pub use engine::units_of_f64;
pub use engine::{
    CallCounts, CheckLatency, DecisionCount, Engine, EngineBuilder, EngineMetrics, LockdownStatus,
    PolicyOrigin, PolicyWarning, Units, UsageCounts, LATENCY_BOUNDS_US, MAX_METRIC_SERIES,
    MAX_POLICY_DEPTH, MAX_UNITS_PER_RECORD, USAGE_KINDS,
};
pub use error::{error_codes, Detail, Error, ErrorCode, ErrorFamily, Location, Result};
pub use identity::{Identity, IdentityConfig, TokenClaims};
pub use integrity::{IntegrityConfig, IntegrityKey, IntegrityKeys};
pub use journal::{Journal, JournalEntry};
pub use limits::{Limits, MAX_DEPTH_CEILING};
pub use model::{
    AgentRequest, CedarRequest, Decision, Effect, EntityRef, PolicyError, Request, SessionRequest,
    TokenRequest, ToolCall, VERSION,
};
pub use schema::{BASE_TYPES, STANDARD_CONTEXT_FIELDS};
pub use session::{KeySource, SessionClaims, SessionConfig, SessionKeys};
pub use store::{ChangeStore, StoreStatus};
pub use time::{format_millis, rfc3339_to_cedar, Clock, FixedClock, ManualClock, SystemClock};
