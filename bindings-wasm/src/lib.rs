//! agentauthz for browsers and edge runtimes: a thin wasm-bindgen adapter over
//! [`agentauthz::ffi`]. Every export converts its arguments to JSON, calls one
//! facade function and converts the answer back; the JS wrapper in `js/`
//! gives it the camelCase API (`Engine.fromStrings`, `engine.check`, ...).
//!
//! Values cross the boundary as JSON text (measured faster than
//! `serde-wasm-bindgen` for `check`, and `serde_json`'s depth limit turns a
//! hostile, deeply nested request into a coded error instead of a stack overflow).

use agentauthz::audit::RecordQueue;
use agentauthz::{ffi, Clock, DecisionLog, Error};
use js_sys::{Array, Object, Reflect};
use serde_json::Value;
use std::sync::{Arc, Mutex, PoisonError};
use wasm_bindgen::prelude::*;

/// The engine clock: JavaScript's `Date.now()` (the core's `SystemClock`
/// reads `SystemTime`, which panics on `wasm32-unknown-unknown`).
#[derive(Debug, Clone, Copy)]
struct JsClock;

impl Clock for JsClock {
    fn now_millis(&self) -> i64 {
        // Milliseconds since the epoch fit an i64 exactly (JS dates stay below 2^53).
        js_sys::Date::now() as i64
    }
}

/// The core error as a JS `Error` carrying `code`, `family` and `details`.
fn js_error(e: &Error) -> JsValue {
    let value = ffi::error_to_value(e);
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("AuthzError");
    if let Value::Object(map) = value {
        for key in ["code", "family", "details"] {
            if let Some(v) = map.get(key) {
                let js = json_to_js(v);
                // Setting a property on a fresh Error cannot fail.
                let _ = Reflect::set(&err, &JsValue::from_str(key), &js);
            }
        }
    }
    err.into()
}

/// A JSON value as a JS value (through `JSON.parse`, which cannot fail on serde_json output).
fn json_to_js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

/// An authorization engine over one bundle given as strings (there is no filesystem).
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmEngine {
    inner: agentauthz::Engine,
    /// Records for the JS callback sink, taken by the wrapper after each check
    /// (a JS function cannot be called from inside the core's sink).
    queue: Mutex<Option<RecordQueue>>,
    /// New waiting requests for the JS `onApprovalRequest` callback, taken
    /// by the wrapper after each call, as the records are.
    approval_queue: Mutex<Option<ffi::ApprovalRequestQueue>>,
}

#[wasm_bindgen]
impl WasmEngine {
    /// `input`: JSON text of `{schema, policies, inventory?, config?}`, policies one
    /// text, an array of texts, or an object of file name to text.
    #[wasm_bindgen(js_name = fromStringsJson)]
    /// `trust_caller_time`: requests may carry their own `now` (tests, replays).
    pub fn from_strings_json(
        input: &str,
        trust_caller_time: Option<bool>,
    ) -> Result<WasmEngine, JsValue> {
        ffi::engine_from_strings_json(
            input,
            Some(Arc::new(JsClock)),
            trust_caller_time.unwrap_or(false),
        )
        .map(|inner| WasmEngine {
            inner,
            queue: Mutex::new(None),
            approval_queue: Mutex::new(None),
        })
        .map_err(|e| js_error(&e))
    }

    /// Decides one request (JSON text, agent or Cedar form); returns the Decision as JSON text.
    #[wasm_bindgen(js_name = checkJson)]
    pub fn check_json(&self, request: &str) -> Result<String, JsValue> {
        ffi::check_json(&self.inner, request).map_err(|e| js_error(&e))
    }

    /// Like `checkJson`, with JS values converted by `serde-wasm-bindgen` (kept to measure against it).
    #[wasm_bindgen(js_name = checkValue)]
    pub fn check_value(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let request: Value = serde_wasm_bindgen::from_value(request).map_err(|e| {
            js_error(&Error::new(
                agentauthz::ErrorCode::RequestParse,
                e.to_string(),
            ))
        })?;
        let decision = ffi::check_value(&self.inner, request).map_err(|e| js_error(&e))?;
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        serde::Serialize::serialize(&decision, &serializer)
            .map_err(|e| js_error(&Error::new(agentauthz::ErrorCode::Internal, e.to_string())))
    }

    /// Decides a JSON array of requests against one snapshot (all or nothing).
    #[wasm_bindgen(js_name = checkBatchJson)]
    pub fn check_batch_json(&self, requests: &str) -> Result<String, JsValue> {
        ffi::check_batch_json(&self.inner, requests).map_err(|e| js_error(&e))
    }

    /// Swaps in a new bundle (same input as `fromStringsJson`); on error the current one stays.
    #[wasm_bindgen(js_name = reloadJson)]
    pub fn reload_json(&self, input: &str) -> Result<(), JsValue> {
        ffi::reload_from_strings_json(&self.inner, input).map_err(|e| js_error(&e))
    }

    /// The content hash of the active bundle.
    #[wasm_bindgen(getter, js_name = policyRevision)]
    pub fn policy_revision(&self) -> String {
        self.inner.policy_revision()
    }

    /// Starts queueing a decision record per check for the wrapper's callback
    /// (`on`), or stops logging (`!on`).
    #[wasm_bindgen(js_name = setDecisionLogQueue)]
    pub fn set_decision_log_queue(&self, on: bool) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let log = on.then(|| {
            let (log, q) = DecisionLog::queue();
            *queue = Some(q);
            log
        });
        if log.is_none() {
            *queue = None;
        }
        self.inner.set_decision_log(log);
    }

    /// The records queued since the last call, as a JSON array text.
    #[wasm_bindgen(js_name = takeDecisionRecordsJson)]
    pub fn take_decision_records_json(&self) -> String {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.as_ref() {
            Some(q) => ffi::records_to_value(&q.take()).to_string(),
            None => "[]".to_string(),
        }
    }

    /// `{seq, hash}` of the last record logged (JSON text; `null` without a sink).
    /// `null`: a WebAssembly engine has no exporting sink.
    #[wasm_bindgen(js_name = decisionLogStatsJson)]
    pub fn decision_log_stats_json(&self) -> Result<String, JsValue> {
        ffi::decision_log_stats_json(&self.inner).map_err(|e| js_error(&e))
    }

    #[wasm_bindgen(js_name = decisionLogHeadJson)]
    pub fn decision_log_head_json(&self) -> String {
        ffi::decision_log_head_value(&self.inner).to_string()
    }

    /// Grants actions on a resource to an agent for a window. `request`: JSON
    /// text of `{agent, actions, resource, ttl_seconds | until, starts?, task?,
    /// reason, granted_by}`; returns the grant as JSON text.
    #[wasm_bindgen(js_name = grantJson)]
    pub fn grant_json(&self, request: &str) -> Result<String, JsValue> {
        ffi::grant_json(&self.inner, request).map_err(|e| js_error(&e))
    }

    /// The grants in force, of one agent or all, as a JSON array text.
    #[wasm_bindgen(js_name = grantsJson)]
    pub fn grants_json(&self, agent: Option<String>) -> String {
        ffi::grants_json(&self.inner, agent.as_deref())
    }

    /// Approves a request held back by `@approval` forbids: JSON text of
    /// `{decision_id | request, by, uses?, ttl_seconds?}`; returns the approval.
    #[wasm_bindgen(js_name = approveJson)]
    pub fn approve_json(&self, args: &str) -> Result<String, JsValue> {
        ffi::approve_json(&self.inner, args).map_err(|e| js_error(&e))
    }

    /// Rejects a waiting request: JSON text of `{decision_id | request, by}`.
    #[wasm_bindgen(js_name = rejectJson)]
    pub fn reject_json(&self, args: &str) -> Result<String, JsValue> {
        ffi::reject_json(&self.inner, args).map_err(|e| js_error(&e))
    }

    /// Requests waiting for approval, of one agent or all, as a JSON array text.
    #[wasm_bindgen(js_name = approvalsJson)]
    pub fn approvals_json(&self, agent: Option<String>) -> String {
        ffi::approvals_json(&self.inner, agent.as_deref())
    }

    /// Starts (`on`) or stops queueing new waiting requests for the wrapper's
    /// `onApprovalRequest` callback.
    #[wasm_bindgen(js_name = setApprovalQueue)]
    pub fn set_approval_queue(&self, on: bool) {
        let mut queue = self
            .approval_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if on {
            *queue = Some(ffi::ApprovalRequestQueue::install(&self.inner));
        } else {
            *queue = None;
            self.inner.on_approval_request(None);
        }
    }

    /// The waiting requests queued since the last call, as a JSON array text.
    #[wasm_bindgen(js_name = takeApprovalRequestsJson)]
    pub fn take_approval_requests_json(&self) -> String {
        let queue = self
            .approval_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match queue.as_ref() {
            Some(q) => q.take_json(),
            None => "[]".to_string(),
        }
    }

    /// The Cedar text of a grant in force, or `undefined`.
    #[wasm_bindgen(js_name = grantPolicyText)]
    pub fn grant_policy_text(&self, grant_id: &str) -> Option<String> {
        self.inner.grant_policy_text(grant_id)
    }

    /// Applies one run-time change in its journal form (JSON text of
    /// `{"op": "suspend", "agent": ...}`, ...) made by `by`; returns the
    /// journal entry as JSON text. Changes live in memory only.
    #[wasm_bindgen(js_name = applyJson)]
    pub fn apply_json(&self, change: &str, by: &str) -> Result<String, JsValue> {
        ffi::apply_change_json(&self.inner, change, by).map_err(|e| js_error(&e))
    }

    /// Records `units` of cost `kind` spent by `agent`.
    #[wasm_bindgen(js_name = recordUsage)]
    pub fn record_usage(&self, agent: &str, units: f64, kind: &str) -> Result<(), JsValue> {
        ffi::record_usage(&self.inner, agent, units, kind).map_err(|e| js_error(&e))
    }

    /// What the agent's next check sees as `context.usage`, as JSON text.
    #[wasm_bindgen(js_name = usageJson)]
    pub fn usage_json(&self, agent: &str, action: Option<String>) -> Result<String, JsValue> {
        ffi::usage_json(&self.inner, agent, action.as_deref()).map_err(|e| js_error(&e))
    }

    /// Decision counters and gauges as JSON text (no latency histogram here).
    #[wasm_bindgen(js_name = metricsJson)]
    pub fn metrics_json(&self) -> Result<String, JsValue> {
        ffi::metrics_json(&self.inner).map_err(|e| js_error(&e))
    }

    /// The emergency stop in force as JSON text (`null` when none).
    #[wasm_bindgen(js_name = lockdownStatusJson)]
    pub fn lockdown_status_json(&self) -> String {
        ffi::lockdown_status_json(&self.inner)
    }

    /// The enforcement mode: `enforce` or `log-only`.
    #[wasm_bindgen(getter)]
    pub fn mode(&self) -> String {
        self.inner.mode().as_str().to_string()
    }

    /// What a forbid whose evaluation errors does: `deny` or `skip`.
    #[wasm_bindgen(getter, js_name = onError)]
    pub fn on_error(&self) -> String {
        self.inner.on_error().as_str().to_string()
    }

    /// Everything needed to rebuild this engine in a fresh instance (bundle
    /// texts, run-time changes with their original times, session keys,
    /// settings) as opaque JSON text for `WasmEngine.restore`. It holds the
    /// session signing key when one is set: keep it as secret as that key.
    #[wasm_bindgen(js_name = engineState)]
    pub fn engine_state(&self) -> Result<String, JsValue> {
        ffi::engine_state_json(&self.inner).map_err(|e| js_error(&e))
    }

    /// Run-time changes this engine has made (a check that used up an
    /// approval is one): the restoring layer saves `engineState()` when it moves.
    #[wasm_bindgen(js_name = changesMade)]
    pub fn changes_made(&self) -> f64 {
        // Exact: a JS number holds integers up to 2^53.
        self.inner.changes_made() as f64
    }

    /// An engine rebuilt from `engineState()` text through the core's journal
    /// replay: changes keep their original times; those that no longer apply
    /// are listed by `skippedChangesJson()`. No decision-log sink is set.
    pub fn restore(state: &str) -> Result<WasmEngine, JsValue> {
        ffi::engine_restore_json(state, Some(Arc::new(JsClock)))
            .map(|inner| WasmEngine {
                inner,
                queue: Mutex::new(None),
                approval_queue: Mutex::new(None),
            })
            .map_err(|e| js_error(&e))
    }

    /// Changes that no longer applied when this engine was built, reloaded or
    /// restored (JSON text: an array of strings, each with its journal seq).
    #[wasm_bindgen(js_name = skippedChangesJson)]
    pub fn skipped_changes_json(&self) -> String {
        ffi::skipped_changes_json(&self.inner)
    }

    /// The load warnings (forbids that may error at run time, or never
    /// match) as JSON text: `[{policy, kind, message, location?}]`.
    #[wasm_bindgen(js_name = warningsJson)]
    pub fn warnings_json(&self) -> String {
        ffi::warnings_json(&self.inner)
    }
}

/// `[{code, family}]` for every stable error code.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Array {
    Array::from(&json_to_js(&ffi::error_codes_value()))
}

/// A decision record (JSON text) as its OCSF 1.5.0 API Activity event (JSON
/// text); `js/api.ts` exposes it as `toOcsf`.
#[wasm_bindgen(js_name = recordToOcsfJson)]
pub fn record_to_ocsf_json(record: &str) -> Result<String, JsValue> {
    ffi::record_to_ocsf_json(record).map_err(|e| js_error(&e))
}

/// The agentauthz version.
#[wasm_bindgen]
pub fn version() -> String {
    agentauthz::VERSION.to_string()
}

/// Deliberately panics, so the test suites can check that a panic surfaces as
/// a thrown `internal` error and that the instance recovers. Not public API.
#[doc(hidden)]
#[wasm_bindgen(js_name = __debugPanic)]
#[allow(clippy::panic)]
pub fn debug_panic(message: &str) {
    panic!("{message}");
}

/// Installs the panic hook once per instance. On `wasm32-unknown-unknown` a
/// panic aborts (no unwinding), leaving the instance's memory in an unknown
/// state; so the hook schedules a fresh instance for the next call and throws
/// the panic message to JS as an `internal` error instead of a bare `unreachable` trap.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!(
            "internal error (the WASM instance was reset; engines created before it are rebuilt by the JS wrapper): panic: {info}"
        );
        wasm_bindgen::handler::schedule_reinit();
        let err = js_sys::Error::new(&message);
        err.set_name("AuthzError");
        let _ = Reflect::set(&err, &"code".into(), &"internal".into());
        let _ = Reflect::set(&err, &"family".into(), &"internal".into());
        let details = Array::new();
        let detail = Object::new();
        let _ = Reflect::set(&detail, &"message".into(), &JsValue::from_str(&message));
        details.push(&detail);
        let _ = Reflect::set(&err, &"details".into(), &details);
        let _ = Reflect::set(&err, &"panic".into(), &JsValue::TRUE);
        wasm_bindgen::throw_val(err.into());
    }));
}

// --- sessions

#[wasm_bindgen]
impl WasmEngine {
    /// Issues a session token: JSON text `{agent, task?, ttl_seconds?, audience?}`
    /// in, `{token, claims}` JSON text out. Needs a signing key (`setSessionKeysJson`).
    #[wasm_bindgen(js_name = issueSessionJson)]
    pub fn issue_session_json(&self, input: &str) -> Result<String, JsValue> {
        ffi::issue_session_json(&self.inner, input).map_err(|e| js_error(&e))
    }

    /// The verified claims of a session token as JSON text (engine clock =
    /// `Date.now()`, revocations, agent standing), or the error that refuses it.
    #[wasm_bindgen(js_name = verifySessionJson)]
    pub fn verify_session_json(
        &self,
        token: &str,
        audience: Option<String>,
    ) -> Result<String, JsValue> {
        ffi::verify_session_json(&self.inner, token, audience.as_deref()).map_err(|e| js_error(&e))
    }

    /// Decides a session-form request (JSON text); returns the Decision as JSON text.
    #[wasm_bindgen(js_name = checkSessionJson)]
    pub fn check_session_json(&self, request: &str) -> Result<String, JsValue> {
        ffi::check_session_json(&self.inner, request).map_err(|e| js_error(&e))
    }

    /// Decides a token-form request (JSON text: an identity provider's token
    /// in place of `agent`); returns the Decision as JSON text.
    #[wasm_bindgen(js_name = checkTokenJson)]
    pub fn check_token_json(&self, request: &str) -> Result<String, JsValue> {
        ffi::check_token_json(&self.inner, request).map_err(|e| js_error(&e))
    }

    /// A verified identity-provider token's claims as JSON text.
    #[wasm_bindgen(js_name = verifyTokenJson)]
    pub fn verify_token_json(&self, token: &str) -> Result<String, JsValue> {
        ffi::verify_token_json(&self.inner, token).map_err(|e| js_error(&e))
    }

    /// Replaces an issuer's keys with a JWKS given as data (JSON text).
    #[wasm_bindgen(js_name = setIssuerJwks)]
    pub fn set_issuer_jwks(&self, issuer: &str, jwks: &str) -> Result<(), JsValue> {
        ffi::set_issuer_jwks(&self.inner, issuer, jwks).map_err(|e| js_error(&e))
    }

    /// Revokes one session by its `session_id`.
    #[wasm_bindgen(js_name = revokeSession)]
    pub fn revoke_session(&self, session_id: &str, by: &str) -> Result<(), JsValue> {
        self.inner
            .revoke_session(session_id, by)
            .map_err(|e| js_error(&e))
    }

    /// Replaces the session keys from JSON text `{signing?: {kid, key}, verifying?: {kid: key}}`.
    #[wasm_bindgen(js_name = setSessionKeysJson)]
    pub fn set_session_keys_json(&self, keys: &str) -> Result<(), JsValue> {
        let keys = ffi::session_keys_from_json(keys).map_err(|e| js_error(&e))?;
        self.inner.set_session_keys(keys);
        Ok(())
    }

    /// The public session keys `{kid: "k4.public.…"}` as JSON text.
    #[wasm_bindgen(js_name = sessionPublicKeysJson)]
    pub fn session_public_keys_json(&self) -> String {
        ffi::session_public_keys_json(&self.inner)
    }
}

/// A new session key pair `{kid, secret, public}` (PASERK) as JSON text.
#[wasm_bindgen(js_name = generateSessionKeyJson)]
pub fn generate_session_key_json(kid: &str) -> Result<String, JsValue> {
    ffi::generate_session_key_json(kid).map_err(|e| js_error(&e))
}

/// Verifies a signed bundle archive against its detached signature with
/// public keys (`{kid: "k4.public.…" | PEM}` as JSON text): `{revision, kid,
/// files}` as JSON text. For browsers that fetch bundles themselves.
#[wasm_bindgen(js_name = verifyBundleJson)]
pub fn verify_bundle_json(
    archive: &[u8],
    signature: &[u8],
    public_keys: &str,
) -> Result<String, JsValue> {
    ffi::catch_panic(|| ffi::verify_bundle_json(archive, signature, public_keys))
        .map_err(|e| js_error(&e))
}

// --- manual clock: `js/api.ts` wraps `WasmManualClock` as `ManualClock` and
// passes it to `fromStringsJsonWithClock`.

/// A clock that reads what it was last set to (tests), over `ffi::manual_clock*`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmManualClock {
    inner: Arc<agentauthz::ManualClock>,
}

#[wasm_bindgen]
impl WasmManualClock {
    /// A clock at `start` (RFC 3339).
    #[wasm_bindgen(constructor)]
    pub fn new(start: &str) -> Result<WasmManualClock, JsValue> {
        ffi::manual_clock(start)
            .map(|inner| WasmManualClock { inner })
            .map_err(|e| js_error(&e))
    }

    /// Sets the clock to `at` (RFC 3339).
    pub fn set(&self, at: &str) -> Result<(), JsValue> {
        ffi::manual_clock_set(&self.inner, at).map_err(|e| js_error(&e))
    }

    /// Moves the clock by `seconds` (negative moves it back).
    pub fn advance(&self, seconds: f64) -> Result<(), JsValue> {
        ffi::manual_clock_advance(&self.inner, seconds).map_err(|e| js_error(&e))
    }

    /// The clock's time, RFC 3339.
    #[wasm_bindgen(getter)]
    pub fn now(&self) -> String {
        ffi::manual_clock_now(&self.inner)
    }
}

#[wasm_bindgen]
impl WasmEngine {
    /// `restore` with the engine clock `clock` instead of `Date.now()`.
    #[wasm_bindgen(js_name = restoreWithClock)]
    pub fn restore_with_clock(state: &str, clock: &WasmManualClock) -> Result<WasmEngine, JsValue> {
        ffi::engine_restore_json(state, Some(clock.inner.clone()))
            .map(|inner| WasmEngine {
                inner,
                queue: Mutex::new(None),
                approval_queue: Mutex::new(None),
            })
            .map_err(|e| js_error(&e))
    }

    /// `fromStringsJson` with the engine clock `clock` instead of `Date.now()`.
    #[wasm_bindgen(js_name = fromStringsJsonWithClock)]
    pub fn from_strings_json_with_clock(
        input: &str,
        trust_caller_time: Option<bool>,
        clock: &WasmManualClock,
    ) -> Result<WasmEngine, JsValue> {
        ffi::engine_from_strings_json(
            input,
            Some(clock.inner.clone()),
            trust_caller_time.unwrap_or(false),
        )
        .map(|inner| WasmEngine {
            inner,
            queue: Mutex::new(None),
            approval_queue: Mutex::new(None),
        })
        .map_err(|e| js_error(&e))
    }
}

// --- tool calls (JSON text in and out)

#[wasm_bindgen]
impl WasmEngine {
    /// Decides a framework's tool call `{tool, action, resource, input?, agent | session, ...}`; the Decision as JSON text.
    #[wasm_bindgen(js_name = checkToolCallJson)]
    pub fn check_tool_call_json(&self, input: &str) -> Result<String, JsValue> {
        ffi::check_tool_call_json(&self.inner, input).map_err(|e| js_error(&e))
    }
}

// --- MCP (JSON text in and out)

#[wasm_bindgen]
impl WasmEngine {
    /// Decides an MCP `tools/call` `{identity, server, namespace?, tool, arguments?}`; the Decision as JSON text.
    #[wasm_bindgen(js_name = mcpCheckCallJson)]
    pub fn mcp_check_call_json(&self, input: &str) -> Result<String, JsValue> {
        ffi::mcp_check_call_json(&self.inner, input).map_err(|e| js_error(&e))
    }

    /// `mcpCheckCallJson` for a guard: `{decision, result}` (the denied call's tool error result, or null).
    #[wasm_bindgen(js_name = mcpGuardCallJson)]
    pub fn mcp_guard_call_json(&self, input: &str) -> Result<String, JsValue> {
        ffi::mcp_guard_call_json(&self.inner, input).map_err(|e| js_error(&e))
    }

    /// Of `tools`, the names listed for the caller `{identity, server, namespace?, tools}` (JSON array text).
    #[wasm_bindgen(js_name = mcpListableToolsJson)]
    pub fn mcp_listable_tools_json(&self, input: &str) -> Result<String, JsValue> {
        ffi::mcp_listable_tools_json(&self.inner, input).map_err(|e| js_error(&e))
    }
}

/// The Cedar schema fragment of a `tools/list` result `{tools, server?, namespace?}` (JSON text in and out).
#[wasm_bindgen(js_name = schemaFromMcpJson)]
pub fn schema_from_mcp_json(input: &str) -> Result<String, JsValue> {
    ffi::schema_from_mcp_json(input).map_err(|e| js_error(&e))
}
