//! agentauthz for Node.js: a napi-rs addon, a thin adapter over `agentauthz::ffi`.
//!
//! Every export takes its JS argument as a `serde_json::Value` (napi's
//! `serde-json` feature) or as JSON text (`check`, `checkBatch`: see there),
//! calls one core function inside `ffi::catch_panic`, and converts the result
//! back. Values cross in the core's wire format (snake_case); `index.js` maps
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

use agentauthz::ffi;
use napi_derive::napi;
use serde_json::Value;

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

/// In-process authorization for agents.
#[napi]
pub struct Engine {
    inner: agentauthz::Engine,
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
        ts_args_type = "dir: string | URL"
    )]
    pub fn load(dir: String) -> napi::Result<Engine, String> {
        call(|| ffi::engine_load(&dir, None)).map(|inner| Engine { inner })
    }

    /// An engine from in-memory texts: `{schema, policies, inventory?, config?}`;
    /// `policies` is one text, a list of texts, or an object of file name to text.
    #[napi(
        factory,
        writable = true,
        configurable = true,
        ts_args_type = "input: StringsInput"
    )]
    pub fn from_strings(input: Value) -> napi::Result<Engine, String> {
        call(|| ffi::engine_from_strings(input, None)).map(|inner| Engine { inner })
    }

    // Natively the request and the Decision cross as JSON text: `index.js`
    // stringifies the request and parses the answer. JSON text keeps every JS
    // number exact, where napi's `serde_json::Value` conversion turns an integer
    // beyond 32 bits into a float (that Cedar then rejects as a `Long`), and it
    // is faster (measured in bench/check.js).
    /// Decides one request. A deny is a `Decision`; only bad input throws.
    #[napi(ts_args_type = "request: CheckRequest", ts_return_type = "Decision")]
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
        call(|| {
            let requests = serde_json::from_str(&requests).map_err(|e| {
                agentauthz::Error::new(
                    agentauthz::ErrorCode::RequestParse,
                    format!("requests are not valid JSON: {e}"),
                )
            })?;
            ffi::check_batch_value(&self.inner, requests).map(|v| v.to_string())
        })
    }

    /// Swaps in a new bundle (a directory, or `{schema, policies, ...}` texts)
    /// atomically. On error the current policies stay active.
    #[napi(ts_args_type = "source: string | URL | StringsInput")]
    pub fn reload(&self, source: Value) -> napi::Result<(), String> {
        match source {
            Value::String(dir) => call(|| self.inner.reload_dir(&dir)),
            input => call(|| ffi::reload_from_strings(&self.inner, input)),
        }
    }

    /// The content hash of the active bundle (`sha256:…`).
    #[napi(getter)]
    pub fn policy_revision(&self) -> napi::Result<String, String> {
        call(|| Ok(self.inner.policy_revision()))
    }
}

/// Every stable error code with its family, from the core.
#[napi(ts_return_type = "ErrorCodeInfo[]")]
pub fn error_codes() -> napi::Result<Value, String> {
    call(|| Ok(ffi::error_codes_value()))
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
