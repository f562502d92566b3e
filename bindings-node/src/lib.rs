//! agentauthz for Node.js: a napi-rs addon, a thin adapter over `agentauthz::ffi`.
//!
//! Every export takes its JS arguments as strings, numbers or JSON text made
//! by `index.js` (never a JS object converted recursively here: a deep or
//! cyclic object would overflow the native stack; `serde_json` refuses text
//! nested too deep with a coded error), calls one core function inside
//! `ffi::catch_panic`, and converts the result back. Values cross in the core's wire format (snake_case); `index.js` maps
//! them to the JS API (camelCase, `Decision`, `AuthzError` subclasses).
//!
//! A core error is thrown as a JS `Error` whose `code` is the core's stable
//! code and whose message is the core's error JSON (`ffi::error_to_value`),
//! from which `index.js` builds the `AuthzError` subclass.
//!
//! The TypeScript signatures below (`ts_args_type`, `ts_return_type`) describe
//! the public API of `index.js`; the types they name are declared in
//! `index-header.d.ts`, which the build puts in front of the generated
//! `index.d.ts`.

use agentauthz::audit::RecordQueue;
use agentauthz::{ffi, DecisionLog};
use napi_derive::napi;
use serde_json::Value;
use std::sync::{Arc, Mutex, PoisonError};

/// A core error as a JS error: `code` = the stable code, message = the error JSON.
fn js_error(e: &agentauthz::Error) -> napi::Error<String> {
    napi::Error::new(
        e.code.as_str().to_string(),
        ffi::error_to_value(e).to_string(),
    )
}

/// Runs `f` under `ffi::catch_panic` and turns a core error into a JS error.
fn call<T>(f: impl FnOnce() -> agentauthz::Result<T>) -> napi::Result<T, String> {
    ffi::catch_panic(f).map_err(|e| js_error(&e))
}

/// `{store, maxStalenessSeconds}` of `Engine.load` (`index.js` checks the types).
fn store_options(
    postgres: Option<String>,
    max_staleness_seconds: Option<i64>,
) -> agentauthz::Result<ffi::StoreOptions> {
    let max_staleness_seconds = max_staleness_seconds
        .map(|s| {
            u64::try_from(s).map_err(|_| {
                agentauthz::Error::new(
                    agentauthz::ErrorCode::ConfigInvalid,
                    "`maxStalenessSeconds` must be a non-negative integer",
                )
            })
        })
        .transpose()?;
    Ok(ffi::StoreOptions {
        postgres,
        max_staleness_seconds,
        ..ffi::StoreOptions::default()
    })
}

/// In-process authorization for agents.
#[napi]
pub struct Engine {
    inner: agentauthz::Engine,
    /// Records for a JS callback sink: JS functions cannot be called from
    /// inside `check`, so `index.js` takes them right after each check.
    queue: Mutex<Option<RecordQueue>>,
    /// New waiting requests for a JS `onApprovalRequest` callback, taken
    /// by `index.js` right after each call, as the records are.
    approval_queue: Mutex<Option<ffi::ApprovalRequestQueue>>,
}

impl From<agentauthz::Engine> for Engine {
    fn from(inner: agentauthz::Engine) -> Engine {
        Engine {
            inner,
            queue: Mutex::new(None),
            approval_queue: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

#[napi]
impl Engine {
    /// Loads a bundle directory: `schema.cedarschema`, `policies/*.cedar`,
    /// `inventory.yaml|json`, `agentauthz.toml` (optional).
    #[napi(
        factory,
        writable = true,
        configurable = true,
        ts_args_type = "dir: string | URL, options?: LoadOptions"
    )]
    pub fn load(
        dir: String,
        journal: Option<String>,
        recover: Option<bool>,
        trust_caller_time: Option<bool>,
        store: Option<String>,
        max_staleness_seconds: Option<i64>,
    ) -> napi::Result<Engine, String> {
        call(|| {
            ffi::engine_load_stored(
                &dir,
                journal.as_deref(),
                recover.unwrap_or(false),
                None,
                trust_caller_time.unwrap_or(false),
                &store_options(store, max_staleness_seconds)?,
            )
        })
        .map(Engine::from)
    }

    /// An engine from in-memory texts: `{schema, policies, inventory?, config?}`;
    /// `policies` is one text, a list of texts, or an object of file name to text.
    #[napi(
        factory,
        writable = true,
        configurable = true,
        ts_args_type = "input: StringsInput, options?: EngineOptions"
    )]
    pub fn from_strings(
        input: String,
        trust_caller_time: Option<bool>,
    ) -> napi::Result<Engine, String> {
        call(|| ffi::engine_from_strings_json(&input, None, trust_caller_time.unwrap_or(false)))
            .map(Engine::from)
    }

    // Natively the request and the Decision cross as JSON text: `index.js`
    // stringifies the request and parses the answer. JSON text keeps every JS
    // number exact, where napi's `serde_json::Value` conversion turns an integer
    // beyond 32 bits into a float (that Cedar then rejects as a `Long`), and it
    // is faster (measured in bench/check.js).
    /// Decides one request. A deny is a `Decision`; only bad input throws.
    #[napi(
        ts_args_type = "request: CheckRequest | SessionRequest | TokenRequest",
        ts_return_type = "Decision"
    )]
    pub fn check(&self, request: String) -> napi::Result<String, String> {
        call(|| ffi::check_json(&self.inner, &request))
    }

    /// `check` in the core's wire format: the request JSON text in, the
    /// Decision JSON text out (snake_case keys).
    #[napi]
    pub fn check_json(&self, request: String) -> napi::Result<String, String> {
        call(|| ffi::check_json(&self.inner, &request))
    }

    // JSON text in and out, as `check`.
    /// Decides many requests against one policy snapshot. All or nothing: the
    /// first bad request throws, its index in the message.
    #[napi(
        ts_args_type = "requests: CheckRequest[]",
        ts_return_type = "Decision[]"
    )]
    pub fn check_batch(&self, requests: String) -> napi::Result<String, String> {
        call(|| ffi::check_batch_json(&self.inner, &requests))
    }

    /// Swaps in a new bundle (a directory, or `{schema, policies, ...}` texts)
    /// atomically. On error the current policies stay active.
    // `index.js` passes a directory here and texts (as JSON text) to `_reloadJson`.
    #[napi(ts_args_type = "source: string | URL | StringsInput")]
    pub fn reload(&self, dir: String) -> napi::Result<(), String> {
        call(|| self.inner.reload_dir(&dir))
    }

    /// `reload` from the bundle texts `{schema, policies, ...}` as JSON text.
    #[napi(skip_typescript, js_name = "_reloadJson")]
    pub fn reload_json(&self, input: String) -> napi::Result<(), String> {
        call(|| ffi::reload_from_strings_json(&self.inner, &input))
    }

    /// The content hash of the active bundle (`sha256:…`).
    #[napi(getter)]
    pub fn policy_revision(&self) -> napi::Result<String, String> {
        call(|| Ok(self.inner.policy_revision()))
    }

    // `index.js` passes `kind`: "none", "callback" (records queued for it to
    // deliver) or "path" (a JSON-lines file; "-" is standard output).
    /// Sets the decision-log sink: a function (called with each record, in
    /// order, right after the check that made it), a JSON-lines file path
    /// (`'-'`: standard output; rotated at `maxBytes`), or `null` to stop logging.
    #[napi(ts_args_type = "sink: DecisionLogSink | null, options?: DecisionLogOptions")]
    pub fn set_decision_log(
        &self,
        kind: String,
        path: Option<String>,
        max_bytes: Option<f64>,
    ) -> napi::Result<(), String> {
        call(|| {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let log = match (kind.as_str(), path) {
                ("callback", _) => {
                    let (log, q) = DecisionLog::queue();
                    *queue = Some(q);
                    Some(log)
                }
                ("path", Some(path)) => {
                    *queue = None;
                    Some(ffi::decision_log_path_for(
                        &self.inner,
                        &path,
                        max_bytes.map(|n| n as u64),
                        false,
                    )?)
                }
                _ => {
                    *queue = None;
                    None
                }
            };
            self.inner.set_decision_log(log);
            Ok(())
        })
    }

    /// The records queued for a callback sink since the last call, as JSON text.
    #[napi(skip_typescript, js_name = "_takeDecisionRecords")]
    pub fn take_decision_records(&self) -> String {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.as_ref() {
            Some(q) => ffi::records_to_value(&q.take()).to_string(),
            None => "[]".to_string(),
        }
    }

    /// Writes buffered records out; throws the first logging failure since
    /// the previous flush (a failed write, a callback that threw).
    #[napi]
    pub fn flush_decision_log(&self) -> napi::Result<(), String> {
        call(|| self.inner.flush_decision_log())
    }

    /// `{seq, hash}` of the last record logged, or `null` without a sink.
    #[napi(getter, ts_return_type = "DecisionLogHead | null")]
    pub fn decision_log_head(&self) -> napi::Result<Value, String> {
        call(|| Ok(ffi::decision_log_head_value(&self.inner)))
    }

    /// The enforcement mode: `'enforce'` or `'log-only'` (`[engine] mode`).
    /// The exporting sink's counters (`[log.otlp]`, `[log.syslog]`), or null.
    #[napi(getter, ts_return_type = "DecisionLogStats | null")]
    pub fn decision_log_stats(&self) -> napi::Result<Value, String> {
        call(|| ffi::decision_log_stats_value(&self.inner))
    }

    #[napi(getter, ts_return_type = "'enforce' | 'log-only'")]
    pub fn mode(&self) -> String {
        self.inner.mode().as_str().to_string()
    }

    /// What a forbid whose evaluation errors does: `'deny'` (fail closed, the
    /// default) or `'skip'` (Cedar's rule) — `[engine] on_error`.
    #[napi(getter, ts_return_type = "'deny' | 'skip'")]
    pub fn on_error(&self) -> String {
        self.inner.on_error().as_str().to_string()
    }

    /// Forbids of the active bundle that may error at run time (or never
    /// match), with where they are.
    #[napi(ts_return_type = "Array<PolicyWarning>")]
    pub fn warnings(&self) -> napi::Result<Value, String> {
        call(|| Ok(ffi::warnings_value(&self.inner)))
    }

    // ------------------------------------------------------------ run-time changes
    // Grant requests, tasks and changes cross as JSON text (`index.js` maps the
    // JS spellings to the wire's snake_case), as `check` does: every number stays exact.

    /// Grants `actions` on `resource` (and anything in it) to an agent from
    /// `starts` (default: now) for `ttlSeconds` or `until`. Decisions it allows
    /// have the reason `grant/<id>`; a `forbid` still wins.
    #[napi(ts_args_type = "request: GrantRequest", ts_return_type = "Grant")]
    pub fn grant(&self, request: String) -> napi::Result<String, String> {
        call(|| ffi::grant_json(&self.inner, &request))
    }

    /// Ends a grant before its expiry.
    #[napi(ts_args_type = "grantId: string, options: ChangeOptions")]
    pub fn revoke(&self, grant_id: String, by: String) -> napi::Result<(), String> {
        call(|| self.inner.revoke(&grant_id, &by))
    }

    /// The grants in force (not expired, not revoked), of one agent or all, by id.
    #[napi(ts_args_type = "agent?: string | null", ts_return_type = "Grant[]")]
    pub fn grants(&self, agent: Option<String>) -> napi::Result<String, String> {
        call(|| Ok(ffi::grants_json(&self.inner, agent.as_deref())))
    }

    /// Approves a request held back by `@approval` forbids:
    /// `{decision_id | request, by, uses?, ttl_seconds?}` as JSON text.
    #[napi(
        ts_args_type = "target: string | Decision | { request: CheckRequest }, options: ApproveOptions",
        ts_return_type = "Approval"
    )]
    pub fn approve(&self, args: String) -> napi::Result<String, String> {
        call(|| ffi::approve_json(&self.inner, &args))
    }

    /// Rejects a waiting request: `{decision_id | request, by}` as JSON text.
    #[napi(
        ts_args_type = "target: string | Decision | { request: CheckRequest }, options: ChangeOptions",
        ts_return_type = "ApprovalRequest"
    )]
    pub fn reject(&self, args: String) -> napi::Result<String, String> {
        call(|| ffi::reject_json(&self.inner, &args))
    }

    /// Requests waiting for approval, of one agent or all, oldest first.
    #[napi(
        ts_args_type = "agent?: string | null",
        ts_return_type = "ApprovalRequest[]"
    )]
    pub fn approvals(&self, agent: Option<String>) -> napi::Result<String, String> {
        call(|| Ok(ffi::approvals_json(&self.inner, agent.as_deref())))
    }

    /// Sets or removes the callback for new requests waiting for approval
    /// (`index.js` queues them here and calls the JS function after the check).
    #[napi(ts_args_type = "callback: ((request: ApprovalRequest) => void) | null")]
    pub fn on_approval_request(&self, on: bool) {
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

    /// The requests queued for the `onApprovalRequest` callback since the last call (JSON text).
    #[napi(skip_typescript, js_name = "_takeApprovalRequests")]
    pub fn take_approval_requests(&self) -> String {
        let queue = self
            .approval_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match queue.as_ref() {
            Some(q) => q.take_json(),
            None => "[]".to_string(),
        }
    }

    /// The Cedar text of a grant in force, or `null`.
    #[napi]
    pub fn grant_policy_text(&self, grant_id: String) -> napi::Result<Option<String>, String> {
        call(|| Ok(self.inner.grant_policy_text(&grant_id)))
    }

    /// Records `units` (a whole number) of cost `kind` (`tokens`, `usd_cents`)
    /// spent by `agent`; policies see the sums as `context.usage.units_1h.<kind>`.
    #[napi]
    pub fn record_usage(
        &self,
        agent: String,
        units: f64,
        kind: String,
    ) -> napi::Result<(), String> {
        call(|| ffi::record_usage(&self.inner, &agent, units, &kind))
    }

    /// What the agent's next check sees as `context.usage`.
    #[napi(
        ts_args_type = "agent: string, action?: string | null",
        ts_return_type = "Usage"
    )]
    pub fn usage(&self, agent: String, action: Option<String>) -> napi::Result<String, String> {
        call(|| ffi::usage_json(&self.inner, &agent, action.as_deref()))
    }

    /// Decision counters, check latency, log queue depth, spool size, store staleness.
    #[napi(ts_return_type = "EngineMetrics")]
    pub fn metrics(&self) -> napi::Result<String, String> {
        call(|| ffi::metrics_json(&self.inner))
    }

    /// The emergency stop in force `{reason, since, by}`, or `null`.
    #[napi(ts_return_type = "LockdownStatus | null")]
    pub fn lockdown_status(&self) -> napi::Result<String, String> {
        call(|| Ok(ffi::lockdown_status_json(&self.inner)))
    }

    /// Emergency stop: every agent request is denied (`baseline/lockdown`)
    /// until `liftLockdown`; journaled and recorded like every change.
    #[napi(ts_args_type = "reason: string, options: ChangeOptions")]
    pub fn lockdown(&self, reason: String, by: String) -> napi::Result<(), String> {
        call(|| ffi::lockdown(&self.inner, &reason, &by))
    }

    /// Ends the emergency stop.
    #[napi(ts_args_type = "options: ChangeOptions")]
    pub fn lift_lockdown(&self, by: String) -> napi::Result<(), String> {
        call(|| ffi::lift_lockdown(&self.inner, &by))
    }

    /// The agent may not act until reactivated.
    #[napi(ts_args_type = "agent: string, options: ChangeOptions")]
    pub fn suspend(&self, agent: String, by: String) -> napi::Result<(), String> {
        call(|| self.inner.suspend(&agent, &by))
    }

    /// A suspended agent may act again.
    #[napi(ts_args_type = "agent: string, options: ChangeOptions")]
    pub fn reactivate(&self, agent: String, by: String) -> napi::Result<(), String> {
        call(|| self.inner.reactivate(&agent, &by))
    }

    /// Final: the agent is offboarded; its grants and tasks are revoked, its
    /// credentials marked revoked.
    #[napi(ts_args_type = "agent: string, options: ChangeOptions")]
    pub fn offboard(&self, agent: String, by: String) -> napi::Result<(), String> {
        call(|| self.inner.offboard(&agent, &by))
    }

    /// A credential was rotated: issued now, valid until `expires`.
    #[napi(ts_args_type = "credential: string, options: RotateOptions")]
    pub fn rotate_credential(
        &self,
        credential: String,
        expires: String,
        by: String,
    ) -> napi::Result<(), String> {
        call(|| self.inner.rotate_credential(&credential, &expires, &by))
    }

    /// The agent's accountable owner becomes the user `owner`.
    #[napi(ts_args_type = "agent: string, options: TransferOptions")]
    pub fn transfer_owner(
        &self,
        agent: String,
        owner: String,
        by: String,
    ) -> napi::Result<(), String> {
        call(|| self.inner.transfer_owner(&agent, &owner, &by))
    }

    /// Adds a task (a just-in-time scope with a window) for an agent.
    #[napi(ts_args_type = "task: TaskSpec, options: ChangeOptions")]
    pub fn add_task(&self, task: String, by: String) -> napi::Result<(), String> {
        call(|| ffi::add_task_json(&self.inner, &task, &by))
    }

    /// Applies one change in its journal form (`{op: 'suspend', agent}`, ...);
    /// returns the journal entry `{seq, at, by, op, ...}`.
    #[napi(
        ts_args_type = "change: Change, options: ChangeOptions",
        ts_return_type = "JournalEntry"
    )]
    pub fn apply(&self, change: String, by: String) -> napi::Result<String, String> {
        call(|| ffi::apply_change_json(&self.inner, &change, &by))
    }

    /// The journal file, or `null` when run-time changes are not journaled.
    #[napi(getter)]
    pub fn journal_path(&self) -> napi::Result<Option<String>, String> {
        call(|| {
            Ok(self
                .inner
                .journal_path()
                .map(|p| p.to_string_lossy().into_owned()))
        })
    }

    /// How the engine stands with its change store: `{backend, location,
    /// last_applied_seq, staleness_ms?, max_staleness_ms?, stale, connected,
    /// last_error?, ...}`.
    #[napi(ts_return_type = "StoreStatus")]
    pub fn store_status(&self) -> napi::Result<Value, String> {
        call(|| Ok(ffi::store_status_value(&self.inner)))
    }

    /// Where a bundle pulled from a URL (`[bundle] url`) stands: `{url,
    /// revision?, kid?, source?, last_poll?, last_result?, last_error?,
    /// polls, failures}`, or `null` when the bundle is not pulled from a URL.
    #[napi(ts_return_type = "BundleStatus | null")]
    pub fn bundle_status(&self) -> napi::Result<Value, String> {
        call(|| Ok(ffi::bundle_status_value(&self.inner)))
    }

    /// Polls the bundle URL now; returns the status after the poll (a failed
    /// poll keeps the active bundle and says why in `last_error`).
    #[napi(ts_return_type = "BundleStatus")]
    pub fn poll_bundle(&self) -> napi::Result<Value, String> {
        call(|| ffi::poll_bundle_value(&self.inner))
    }

    /// A hash of the run-time state (equal on engines of a fleet that
    /// applied the same changes).
    #[napi]
    pub fn state_hash(&self) -> napi::Result<String, String> {
        call(|| self.inner.state_hash())
    }

    /// Journal changes that no longer applied to the bundle when it was last
    /// loaded or reloaded, described.
    #[napi]
    pub fn skipped_changes(&self) -> napi::Result<Vec<String>, String> {
        call(|| Ok(self.inner.skipped_changes()))
    }

    /// Everything needed to rebuild this engine elsewhere (bundle texts,
    /// run-time changes with their original times, session keys, settings) as
    /// opaque JSON text for `Engine.restore`. It holds the session signing key
    /// when one is set: keep it as secret as that key.
    #[napi]
    pub fn engine_state(&self) -> napi::Result<String, String> {
        call(|| ffi::engine_state_json(&self.inner))
    }

    /// An engine rebuilt from `engineState()` text through the core's journal
    /// replay: changes keep their original times; those that no longer apply
    /// are listed by `skippedChanges()`. It holds no files (no journal, no
    /// decision log).
    #[napi(factory, writable = true, configurable = true)]
    pub fn restore(state: String) -> napi::Result<Engine, String> {
        call(|| ffi::engine_restore_json(&state, None)).map(Engine::from)
    }

    /// Releases the journal and the decision log (flushed, their files and
    /// locks closed) so another engine or process may open them; later
    /// changes throw `LifecycleError`, checks go on unrecorded.
    #[napi]
    pub fn close(&self) -> napi::Result<(), String> {
        call(|| {
            self.inner.close();
            Ok(())
        })
    }
}

/// Writes every buffered decision-log file of the process out (index.js does
/// this when the process exits).
#[napi]
pub fn flush_decision_logs() -> napi::Result<(), String> {
    call(agentauthz::audit::flush_all)
}

/// Every stable error code with its family, from the core.
#[napi(ts_return_type = "ErrorCodeInfo[]")]
pub fn error_codes() -> napi::Result<Value, String> {
    call(|| Ok(ffi::error_codes_value()))
}

/// A decision record (JSON text) as its OCSF 1.5.0 API Activity event (JSON
/// text); `index.js` exposes it as `toOcsf`.
#[napi(skip_typescript, js_name = "_recordToOcsfJson")]
pub fn record_to_ocsf_json(record: String) -> napi::Result<String, String> {
    call(|| ffi::record_to_ocsf_json(&record))
}

/// The agentauthz core version.
#[napi]
pub fn core_version() -> String {
    agentauthz::VERSION.to_string()
}

/// Test hook: panics inside `ffi::catch_panic`, as a bug in the core would.
/// The caller gets an `internal` error; the process keeps running.
#[napi(skip_typescript, js_name = "_panicForTesting")]
#[allow(clippy::panic)] // the panic is the point: it shows that none escapes `catch_panic`
pub fn panic_for_testing(message: String) -> napi::Result<(), String> {
    call(|| std::panic::panic_any(message))
}

// --- sessions

#[napi]
impl Engine {
    /// Issues a session token for an active agent (and a task of its own):
    /// `{token, claims}`. `ttlSeconds` is capped by `[sessions] max_ttl_seconds`.
    #[napi(
        ts_args_type = "input: IssueSessionInput",
        ts_return_type = "IssuedSession"
    )]
    pub fn issue_session(&self, input: String) -> napi::Result<String, String> {
        call(|| ffi::issue_session_json(&self.inner, &input))
    }

    /// The verified claims of a session token (engine clock, revocations,
    /// agent standing); throws the reason it is refused.
    #[napi(
        ts_args_type = "token: string, options?: VerifySessionOptions",
        ts_return_type = "SessionClaims"
    )]
    pub fn verify_session(
        &self,
        token: String,
        audience: Option<String>,
    ) -> napi::Result<String, String> {
        call(|| ffi::verify_session_json(&self.inner, &token, audience.as_deref()))
    }

    /// `check` with a session token in place of `agent` (`index.js` routes
    /// `check({session, ...})` here): the request and Decision as JSON text.
    #[napi(skip_typescript, js_name = "_checkSession")]
    pub fn check_session(&self, request: String) -> napi::Result<String, String> {
        call(|| ffi::check_session_json(&self.inner, &request))
    }

    /// `check` with an identity provider's token in place of `agent`
    /// (`check({token, ...})`): the request and Decision as JSON text.
    #[napi(skip_typescript, js_name = "_checkToken")]
    pub fn check_token(&self, request: String) -> napi::Result<String, String> {
        call(|| ffi::check_token_json(&self.inner, &request))
    }

    /// What an identity provider's token says once verified against
    /// `[identity.issuers]` (engine clock); throws a `TokenError` when refused.
    #[napi(ts_args_type = "token: string", ts_return_type = "TokenClaims")]
    pub fn verify_token(&self, token: String) -> napi::Result<String, String> {
        call(|| ffi::verify_token_json(&self.inner, &token))
    }

    /// Replaces the keys of the configured issuer whose `iss` is `issuer` with
    /// a JWKS given as data (JSON text or object).
    #[napi(ts_args_type = "issuer: string, jwks: string | object")]
    pub fn set_issuer_jwks(&self, issuer: String, jwks: String) -> napi::Result<(), String> {
        call(|| ffi::set_issuer_jwks(&self.inner, &issuer, &jwks))
    }

    /// Revokes one session by its `sessionId`; `by` names who does it.
    #[napi(ts_args_type = "sessionId: string, options: { by: string }")]
    pub fn revoke_session(&self, session_id: String, by: String) -> napi::Result<(), String> {
        call(|| self.inner.revoke_session(&session_id, &by))
    }

    /// Replaces the session keys: `signing: {kid, key}` (a secret key, PASERK
    /// or PEM) and/or `verifying: {kid: publicKey}` (a verifier passes only these).
    #[napi(ts_args_type = "keys: SessionKeysInput")]
    pub fn set_session_keys(&self, keys: String) -> napi::Result<(), String> {
        call(|| {
            self.inner
                .set_session_keys(ffi::session_keys_from_json(&keys)?);
            Ok(())
        })
    }

    /// The public session keys `{kid: 'k4.public.…'}`, to hand to verifiers.
    #[napi(ts_return_type = "Record<string, string>")]
    pub fn session_public_keys(&self) -> napi::Result<Value, String> {
        call(|| Ok(ffi::session_public_keys_value(&self.inner)))
    }
}

/// Creates (or brings up to date) a fleet's PostgreSQL change store at `url`
/// (a URL or `env:VAR`): `agentauthz store init`. Returns where
/// (`postgres HOST:PORT/DB`). `sslmode` and `caFile` are `[store]`'s.
#[napi(
    ts_args_type = "url: string, options?: { sslmode?: 'disable' | 'require' | 'verify-full'; caFile?: string }"
)]
pub fn store_init(
    url: String,
    sslmode: Option<String>,
    ca_file: Option<String>,
) -> napi::Result<String, String> {
    call(|| ffi::store_init(&url, sslmode.as_deref(), ca_file.as_deref()))
}

/// A new session key pair `{kid, secret, public}` (PASERK).
#[napi(ts_return_type = "SessionKeyPair")]
pub fn generate_session_key(kid: String) -> napi::Result<Value, String> {
    call(|| ffi::generate_session_key_value(&kid))
}

/// `verifyBundle` (see `index.js`): the archive and signature bytes, the
/// public keys as JSON text; the verified bundle as JSON text.
#[napi(skip_typescript, js_name = "_verifyBundle")]
pub fn verify_bundle(
    archive: napi::bindgen_prelude::Buffer,
    signature: napi::bindgen_prelude::Buffer,
    public_keys: String,
) -> napi::Result<String, String> {
    call(|| ffi::verify_bundle_json(&archive, &signature, &public_keys))
}

// --- manual clock: `index.js` wraps the native `ManualClock` in a JS class of
// the same shape (time arguments may be Dates) and passes it to
// `_loadWithClock` / `_fromStringsWithClock`.

/// A clock that reads what it was last set to (tests): pass it as `{clock}`
/// to `Engine.load` / `Engine.fromStrings`; every check, change and session
/// is judged at its time. Bad input throws `RequestError` (`request_invalid`).
#[napi]
#[derive(Debug)]
pub struct ManualClock {
    inner: std::sync::Arc<agentauthz::ManualClock>,
}

#[napi]
impl ManualClock {
    /// A clock at `start` (RFC 3339 text or a Date).
    #[napi(constructor, ts_args_type = "start: string | Date")]
    pub fn new(start: String) -> napi::Result<ManualClock, String> {
        call(|| ffi::manual_clock(&start)).map(|inner| ManualClock { inner })
    }

    /// Sets the clock to `at` (RFC 3339 text or a Date; earlier is allowed).
    #[napi(ts_args_type = "at: string | Date")]
    pub fn set(&self, at: String) -> napi::Result<(), String> {
        call(|| ffi::manual_clock_set(&self.inner, &at))
    }

    /// Moves the clock by `seconds` (fractions to the millisecond; negative moves it back).
    #[napi]
    pub fn advance(&self, seconds: f64) -> napi::Result<(), String> {
        call(|| ffi::manual_clock_advance(&self.inner, seconds))
    }

    /// The clock's time, RFC 3339 (`2026-11-29T10:00:00.000Z`).
    #[napi(getter)]
    pub fn now(&self) -> String {
        ffi::manual_clock_now(&self.inner)
    }
}

#[napi]
impl Engine {
    /// `load` with the engine clock `clock`.
    #[napi(factory, skip_typescript, js_name = "_loadWithClock")]
    pub fn load_with_clock(
        dir: String,
        journal: Option<String>,
        recover: Option<bool>,
        trust_caller_time: Option<bool>,
        store: Option<String>,
        max_staleness_seconds: Option<i64>,
        clock: &ManualClock,
    ) -> napi::Result<Engine, String> {
        call(|| {
            ffi::engine_load_stored(
                &dir,
                journal.as_deref(),
                recover.unwrap_or(false),
                Some(clock.inner.clone()),
                trust_caller_time.unwrap_or(false),
                &store_options(store, max_staleness_seconds)?,
            )
        })
        .map(Engine::from)
    }

    /// `fromStrings` with the engine clock `clock`.
    #[napi(factory, skip_typescript, js_name = "_fromStringsWithClock")]
    pub fn from_strings_with_clock(
        input: String,
        trust_caller_time: Option<bool>,
        clock: &ManualClock,
    ) -> napi::Result<Engine, String> {
        call(|| {
            let clock: Arc<dyn agentauthz::Clock> = clock.inner.clone();
            ffi::engine_from_strings_json(&input, Some(clock), trust_caller_time.unwrap_or(false))
        })
        .map(Engine::from)
    }
}

// --- tool calls (JSON text in and out, as `check`)

#[napi]
impl Engine {
    /// Decides a framework's tool call `{tool, action, resource, input?,
    /// agent | session, ...}`: the core's one tool-call mapper.
    #[napi(ts_args_type = "input: ToolCallInput", ts_return_type = "Decision")]
    pub fn check_tool_call(&self, input: String) -> napi::Result<String, String> {
        call(|| ffi::check_tool_call_json(&self.inner, &input))
    }
}

// --- MCP (JSON text in and out, as `check`)

#[napi]
impl Engine {
    /// Decides an MCP `tools/call`: the tool `T` of the server `S` is the
    /// action `"S:T"` on `McpServer::"S"`, its arguments `context.input`.
    #[napi(ts_args_type = "input: McpCallInput", ts_return_type = "Decision")]
    pub fn mcp_check_call(&self, input: String) -> napi::Result<String, String> {
        call(|| ffi::mcp_check_call_json(&self.inner, &input))
    }

    /// `mcpCheckCall` for a guard: `{decision, result}`, `result` the tool
    /// error result that answers a denied call (`null` when allowed).
    #[napi(skip_typescript, js_name = "_mcpGuardCall")]
    pub fn mcp_guard_call(&self, input: String) -> napi::Result<String, String> {
        call(|| ffi::mcp_guard_call_json(&self.inner, &input))
    }

    /// Of `tools`, the names a caller may see in `tools/list` (the list-time
    /// rule: some request for the tool could be allowed).
    #[napi(ts_args_type = "input: McpListInput", ts_return_type = "string[]")]
    pub fn mcp_listable_tools(&self, input: String) -> napi::Result<String, String> {
        call(|| ffi::mcp_listable_tools_json(&self.inner, &input))
    }
}

/// The Cedar schema fragment of a `tools/list` result: one action per tool,
/// `context.input` typed from its `inputSchema`, a warning per construct
/// that could not be mapped.
#[napi(ts_args_type = "input: McpSchemaInput", ts_return_type = "McpSchema")]
pub fn schema_from_mcp(input: String) -> napi::Result<String, String> {
    call(|| ffi::schema_from_mcp_json(&input))
}
