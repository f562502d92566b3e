//! The facade every binding and the CLI speak, in three layers per entry, as
//! `cedar-policy`'s own `ffi` is: typed (`check(&Engine, &Request) ->
//! Result<Decision>`), `serde_json::Value` (`check_value`), and JSON text
//! (`check_json`). The `_value` and `_json` layers only convert and call the
//! typed one, so every surface speaks one wire format and decides alike. A
//! binding converts its native values and calls one function here.
//!
//! | topic | typed | `Value` | text |
//! |---|---|---|---|
//! | engine | `engine_from_texts`, `reload_from_texts`, `check`, `check_batch`, `warnings`, `engine_state`, `engine_restore` | `engine_from_strings`, `reload_from_strings`, `check_value`, `check_batch_value`, `warnings_value`, `engine_state_value`, `engine_restore_value` | `engine_from_strings_json`, `reload_from_strings_json`, `check_json`, `check_batch_json`, `warnings_json`, `engine_state_json`, `engine_restore_json` |
//! | approvals | `approve`, `reject`, `approvals` | `approve_value`, `reject_value`, `approvals_value` | `approve_json`, `reject_json`, `approvals_json` |
//! | changes | `grant`, `grants`, `add_task`, `apply_change`, `skipped_changes` | `grant_value`, `grants_value`, `add_task_value`, `apply_change_value`, `skipped_changes_value` | `grant_json`, `grants_json`, `add_task_json`, `apply_change_json`, `skipped_changes_json` |
//! | sessions | `issue_session`, `verify_session`, `check_session`, `session_keys_from`, `session_public_keys`, `generate_session_key` | `…_value`, `session_keys_from_value` | `…_json`, `session_keys_from_json` |
//! | log, metrics | `decision_log_head`, `decision_log_stats`, `metrics`, `decision_log_path(_for)`, `record_to_ocsf` | `decision_log_head_value`, `decision_log_stats_value`, `metrics_value`, `records_to_value`, `record_to_ocsf_value` | `decision_log_head_json`, `decision_log_stats_json`, `metrics_json`, `records_to_json`, `record_to_ocsf_json` |
//! | usage, lockdown | `record_usage`, `usage`, `lockdown`, `lift_lockdown`, `lockdown_status` | `usage_value`, `lockdown_status_value` | `usage_json`, `lockdown_status_json` |
//! | IdP tokens | `check_token`, `verify_token`, `set_issuer_jwks` | `check_token_value`, `verify_token_value` | `check_token_json`, `verify_token_json` |
//! | tool calls | `check_tool_call` | `check_tool_call_value` | `check_tool_call_json` |
//! | mcp | `schema_from_mcp`, `mcp_check_call`, `mcp_denied_result`, `mcp_guard_call` (`_value`/`_json` only), `mcp_listable_tools` | `…_value` | `…_json` |
//! | errors | `catch_panic`, `error_codes` | `error_to_value`, `error_codes_value` | `error_to_json`, `error_codes_json` |
//!
//! Text inputs are read as the bindings always read them (`serde_json`, whose
//! depth limit turns hostile nesting into a coded error); requests and engine
//! states go through the strict, bounded reader of [`crate::limits`].

mod approvals;
mod changes;
mod clock;
mod convert;
mod engine;
mod errors;
mod log;
mod mcp;
mod sessions;
mod tokens;
mod tool_call;
mod usage;

pub use approvals::{
    approvals, approvals_json, approvals_value, approve, approve_json, approve_value, reject,
    reject_json, reject_value, ApprovalArgs, ApprovalRequestQueue,
};
pub use changes::{
    add_task, add_task_json, add_task_value, apply_change, apply_change_json, apply_change_value,
    grant, grant_json, grant_value, grants, grants_json, grants_value, skipped_changes,
    skipped_changes_json, skipped_changes_value,
};
pub use clock::{manual_clock, manual_clock_advance, manual_clock_now, manual_clock_set};
#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
pub use engine::store_init;
pub use engine::{
    bundle_from_strings, bundle_from_strings_json, bundle_from_texts, bundle_status_value, check,
    check_batch, check_batch_json, check_batch_value, check_json, check_value, decision_to_json,
    decision_to_value, engine_from_strings, engine_from_strings_json, engine_from_texts,
    engine_load, engine_load_journaled, engine_load_stored, engine_restore, engine_restore_json,
    engine_restore_value, engine_state, engine_state_json, engine_state_value, poll_bundle_value,
    reload_from_strings, reload_from_strings_json, reload_from_texts, store_status_json,
    store_status_value, verify_bundle, verify_bundle_json, warnings, warnings_json, warnings_value,
    BundleStrings, EngineState, PolicyTexts, StateBundle, StateKeys, StateOptions, StateSettings,
    StateSigningKey, StateSource, StoreOptions, STATE_VERSION,
};
pub use errors::{
    catch_panic, error_codes, error_codes_json, error_codes_value, error_to_json, error_to_value,
};
pub use log::{
    decision_log_head, decision_log_head_json, decision_log_head_value, decision_log_path,
    decision_log_path_for, decision_log_stats, decision_log_stats_json, decision_log_stats_value,
    metrics, metrics_json, metrics_value, record_to_ocsf, record_to_ocsf_json,
    record_to_ocsf_value, records_to_json, records_to_value, LogHead,
};
pub use mcp::{
    mcp_check_call, mcp_check_call_json, mcp_check_call_value, mcp_denied_result,
    mcp_guard_call_json, mcp_guard_call_value, mcp_listable_tools, mcp_listable_tools_json,
    mcp_listable_tools_value, schema_from_mcp, schema_from_mcp_json, schema_from_mcp_value,
};
pub use sessions::{
    check_session, check_session_json, check_session_value, generate_session_key,
    generate_session_key_json, generate_session_key_value, issue_session, issue_session_json,
    issue_session_value, session_keys_from, session_keys_from_json, session_keys_from_value,
    session_public_keys, session_public_keys_json, session_public_keys_value, verify_session,
    verify_session_json, verify_session_value, GeneratedKey, IssueSession, IssuedSession,
    SessionKeysSpec, SigningKeySpec,
};
pub use tokens::{
    check_token, check_token_json, check_token_value, set_issuer_jwks, verify_token,
    verify_token_json, verify_token_value,
};
pub use tool_call::{check_tool_call, check_tool_call_json, check_tool_call_value};
pub use usage::{
    lift_lockdown, lockdown, lockdown_status, lockdown_status_json, lockdown_status_value,
    record_usage, usage, usage_json, usage_value,
};
