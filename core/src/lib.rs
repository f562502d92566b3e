//! agentauthz: identity-based authorization for AI agents, in process, on Cedar.
//!
//! Load a bundle (schema, policies, inventory), then ask [`Engine::check`]
//! before every tool call. Decisions are exactly Cedar's, plus built-in
//! guardrails that deny unknown, ownerless or inactive agents.

pub mod audit;
mod bundle;
mod engine;
mod error;
pub mod ffi;
mod inventory;
pub mod journal;
mod limits;
mod model;
pub mod posture;
mod schema;
pub mod session;
pub mod testing;

pub use audit::{DecisionLog, DecisionRecord, Mode};
pub use bundle::{
    BaselineConfig, Bundle, BundleOptions, Config, EngineConfig, JournalConfig, LogConfig, LogSink,
    PostureConfig, Source,
};
pub use engine::{
    format_millis, rfc3339_to_cedar, Change, Clock, Engine, EngineBuilder, FixedClock, Grant,
    GrantRequest, ManualClock, PolicyOrigin, SystemClock, TaskSpec,
};
pub use error::{error_codes, Detail, Error, ErrorCode, ErrorFamily, Location, Result};
pub use journal::{Journal, JournalEntry};
pub use limits::{Limits, MAX_DEPTH_CEILING};
pub use model::{
    AgentRequest, CedarRequest, Decision, Effect, EntityRef, PolicyError, Request, SessionRequest,
};
pub use schema::{BASE_TYPES, STANDARD_CONTEXT_FIELDS};
pub use session::{KeySource, SessionClaims, SessionConfig, SessionKeys};

/// The agentauthz version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
