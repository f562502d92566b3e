//! The rules of the stdio proxy, without I/O: each newline-delimited
//! JSON-RPC message from the client or the server goes in, what to send on
//! (to the server, to the client) and what to log comes out.
//!
//! Client → server: every message is read by the strict reader (size, depth,
//! duplicate keys refused). A `tools/call` is checked; when allowed the
//! client's own bytes go to the server, otherwise the proxy answers it (a tool
//! error result for a deny, a JSON-RPC error for bad input) and the server
//! never sees it. Batches, `tools/call` notifications, look-alike methods
//! (`Tools/call`, `tools/call `), unexpected `params` members and an id that
//! is already in flight are refused. Everything else passes unchanged.
//!
//! Server → client: requests and notifications pass unchanged; a response
//! passes only for a request the proxy forwarded and has not seen answered
//! (so a server cannot answer a call the proxy denied, or answer twice); a
//! `tools/list` response is filtered to the listable tools. Malformed
//! messages from the server are dropped and logged.

use super::guard::{check_call, denied_result, listable_tools, Identity};
use crate::engine::Engine;
use crate::error::{Error, ErrorCode};
use crate::limits::{parse_json_bytes, Input, Limits};
use crate::model::Decision;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Largest message either way (16 MiB); larger ones are refused unread.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Most client requests in flight at once.
pub const DEFAULT_MAX_PENDING: usize = 4096;

// JSON-RPC error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;

/// The members a `tools/call`'s `params` may have.
const CALL_PARAMS: [&str; 4] = ["name", "arguments", "_meta", "task"];

/// What the proxy guards and how much it holds.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub server: String,
    pub namespace: Option<String>,
    pub identity: Identity,
    pub max_message_bytes: usize,
    pub max_pending: usize,
}

impl ProxyOptions {
    pub fn new(server: impl Into<String>, identity: Identity) -> ProxyOptions {
        ProxyOptions {
            server: server.into(),
            namespace: None,
            identity,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }
}

/// One line of the proxy's log: a decision or a refused / dropped message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyEvent {
    /// `decision`, `refused` (a client message answered by the proxy),
    /// `dropped` (a server message not passed on), `filtered` (a `tools/list`
    /// answer), `server_exit`.
    pub event: &'static str,
    /// The MCP request id, when the message had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The error code, when the message was refused for an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `filtered`: the tools listed, and how many the server offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offered: Option<usize>,
}

impl ProxyEvent {
    fn new(event: &'static str, mcp_id: Option<&Value>) -> ProxyEvent {
        ProxyEvent {
            event,
            mcp_id: mcp_id.cloned(),
            tool: None,
            decision: None,
            code: None,
            message: None,
            listed: None,
            offered: None,
        }
    }

    fn error(event: &'static str, mcp_id: Option<&Value>, e: &Error) -> ProxyEvent {
        let mut ev = ProxyEvent::new(event, mcp_id);
        ev.code = Some(e.code.as_str());
        ev.message = Some(e.to_string());
        ev
    }
}

/// What one message turns into. Lines carry no trailing newline.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Step {
    pub to_server: Option<Vec<u8>>,
    pub to_client: Vec<Vec<u8>>,
    pub events: Vec<ProxyEvent>,
}

/// How the server ended, for the answers to the requests it left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerExit {
    /// Its output closed (or it exited) with this status, if known.
    Exited(Option<i32>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Initialize,
    List,
    Call,
    Other,
}

/// The proxy's state: the client requests forwarded and not yet answered.
#[derive(Debug)]
pub struct Proxy {
    options: ProxyOptions,
    pending: HashMap<String, Pending>,
    /// The protocol version the server answered `initialize` with.
    protocol_version: Option<String>,
}

/// The `_meta` member a 2026-era request names its protocol version in.
const PROTOCOL_VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";

/// Protocol versions from which a result must carry `resultType` (MCP 2026-07-28).
fn needs_result_type(version: Option<&str>) -> bool {
    version.is_some_and(|v| v >= "2026-07-28")
}

fn error_value(e: &Error) -> Value {
    json!({
        "code": e.code.as_str(),
        "family": e.code.family().as_str(),
        "message": e.to_string(),
        "details": serde_json::to_value(&e.details).unwrap_or(Value::Null),
    })
}

fn line(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn rpc_error(id: Option<&Value>, rpc_code: i64, e: &Error) -> Vec<u8> {
    line(&json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": {"code": rpc_code, "message": e.to_string(), "data": error_value(e)},
    }))
}

/// A request id the proxy accepts: a string or an integer.
fn id_key(id: &Value) -> Option<String> {
    match id {
        Value::String(s) => Some(format!("s:{s}")),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(format!("n:{n}")),
        _ => None,
    }
}

fn refused(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

/// Whether `method` could be read as `tools/call` by a lenient server.
fn looks_like_call(method: &str) -> bool {
    let m: String = method
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    m == "tools/call" || m.trim_matches('/') == "tools/call"
}

impl Proxy {
    pub fn new(options: ProxyOptions) -> Proxy {
        Proxy {
            options,
            pending: HashMap::new(),
            protocol_version: None,
        }
    }

    pub fn options(&self) -> &ProxyOptions {
        &self.options
    }

    /// Client requests forwarded and not yet answered.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn limits(&self, engine: &Engine) -> Limits {
        Limits {
            max_request_bytes: self.options.max_message_bytes,
            ..engine.limits()
        }
    }

    fn answer(step: &mut Step, id: Option<&Value>, rpc_code: i64, e: Error) {
        step.to_client.push(rpc_error(id, rpc_code, &e));
        step.events.push(ProxyEvent::error("refused", id, &e));
    }

    /// A client line longer than the message bound (read and dropped in pieces).
    pub fn client_too_large(&self) -> Step {
        let mut step = Step::default();
        let e = refused(
            ErrorCode::InputTooLarge,
            format!(
                "MCP message larger than {} bytes refused",
                self.options.max_message_bytes
            ),
        );
        Proxy::answer(&mut step, None, INVALID_REQUEST, e);
        step
    }

    /// A server line longer than the message bound: dropped, logged.
    pub fn server_too_large(&self) -> Step {
        let e = refused(
            ErrorCode::InputTooLarge,
            format!(
                "MCP server message larger than {} bytes dropped",
                self.options.max_message_bytes
            ),
        );
        Step {
            events: vec![ProxyEvent::error("dropped", None, &e)],
            ..Step::default()
        }
    }

    /// One line from the client.
    pub fn from_client(&mut self, engine: &Engine, bytes: &[u8]) -> Step {
        let mut step = Step::default();
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return step;
        }
        let msg = match parse_json_bytes(&self.limits(engine), Input::Request, "MCP message", bytes)
        {
            Ok(v) => v,
            Err(e) => {
                let rpc = if e.code == ErrorCode::RequestParse {
                    PARSE_ERROR
                } else {
                    INVALID_REQUEST
                };
                Proxy::answer(&mut step, None, rpc, e);
                return step;
            }
        };
        let Value::Object(obj) = &msg else {
            let what = if msg.is_array() {
                "JSON-RPC batches are not accepted: send one message per line"
            } else {
                "a JSON-RPC message must be an object"
            };
            Proxy::answer(
                &mut step,
                None,
                INVALID_REQUEST,
                refused(ErrorCode::RequestParse, what),
            );
            return step;
        };
        let id = obj.get("id");
        let key = id.and_then(id_key);
        if id.is_some() && key.is_none() {
            let e = refused(
                ErrorCode::RequestParse,
                "a JSON-RPC id must be a string or an integer",
            );
            Proxy::answer(&mut step, None, INVALID_REQUEST, e);
            return step;
        }
        if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
            let e = refused(ErrorCode::RequestParse, "not a JSON-RPC 2.0 message");
            Proxy::answer(&mut step, id, INVALID_REQUEST, e);
            return step;
        }
        let Some(method) = obj.get("method") else {
            // A response to a server request: passes unchanged.
            if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) {
                step.to_server = Some(bytes.to_vec());
            } else {
                let e = refused(ErrorCode::RequestParse, "neither a request nor a response");
                Proxy::answer(&mut step, id, INVALID_REQUEST, e);
            }
            return step;
        };
        let Value::String(method) = method else {
            let e = refused(ErrorCode::RequestParse, "`method` must be a string");
            Proxy::answer(&mut step, id, INVALID_REQUEST, e);
            return step;
        };
        let is_call = looks_like_call(method);
        let Some(key) = key else {
            if is_call {
                // A server may run a notification; a tool call must be answerable.
                let e = refused(
                    ErrorCode::RequestInvalid,
                    "tools/call without an id (a notification) refused",
                );
                step.events.push(ProxyEvent::error("refused", None, &e));
            } else {
                step.to_server = Some(bytes.to_vec());
            }
            return step;
        };
        if self.pending.contains_key(&key) {
            let e = refused(
                ErrorCode::RequestInvalid,
                "this request id is already in flight",
            );
            Proxy::answer(&mut step, id, INVALID_REQUEST, e);
            return step;
        }
        if self.pending.len() >= self.options.max_pending {
            let e = refused(
                ErrorCode::InputTooLarge,
                format!("more than {} requests in flight", self.options.max_pending),
            );
            Proxy::answer(&mut step, id, INTERNAL_ERROR, e);
            return step;
        }
        let kind = if is_call {
            if method != "tools/call" {
                let e = refused(
                    ErrorCode::RequestInvalid,
                    "a method that reads like tools/call but is not exactly it",
                );
                Proxy::answer(&mut step, id, METHOD_NOT_FOUND, e);
                return step;
            }
            match self.check(engine, id, obj.get("params"), &mut step) {
                true => Pending::Call,
                false => return step,
            }
        } else if method == "tools/list" {
            Pending::List
        } else if method == "initialize" {
            Pending::Initialize
        } else {
            Pending::Other
        };
        self.pending.insert(key, kind);
        step.to_server = Some(bytes.to_vec());
        step
    }

    /// Checks a `tools/call`; `true` when it may go to the server (otherwise
    /// the answer is in `step`).
    fn check(
        &self,
        engine: &Engine,
        id: Option<&Value>,
        params: Option<&Value>,
        step: &mut Step,
    ) -> bool {
        let Some(Value::Object(params)) = params else {
            let e = refused(
                ErrorCode::RequestInvalid,
                "tools/call `params` must be an object",
            );
            Proxy::answer(step, id, INVALID_PARAMS, e);
            return false;
        };
        if let Some(other) = params.keys().find(|k| !CALL_PARAMS.contains(&k.as_str())) {
            let e = refused(
                ErrorCode::RequestInvalid,
                format!("tools/call `params` has an unexpected member {other:?}"),
            );
            Proxy::answer(step, id, INVALID_PARAMS, e);
            return false;
        }
        let Some(Value::String(tool)) = params.get("name") else {
            let e = refused(
                ErrorCode::RequestInvalid,
                "tools/call `params.name` must be a string",
            );
            Proxy::answer(step, id, INVALID_PARAMS, e);
            return false;
        };
        let o = &self.options;
        let result = check_call(
            engine,
            &o.identity,
            &o.server,
            o.namespace.as_deref(),
            tool,
            params.get("arguments"),
        );
        match result {
            Ok(decision) => {
                let allowed = decision.allowed();
                if !allowed {
                    let mut result = denied_result(tool, &decision);
                    // 2026-era requests name their version in `_meta`; older ones negotiated it.
                    let version = params
                        .get("_meta")
                        .and_then(|m| m.get(PROTOCOL_VERSION_META))
                        .and_then(Value::as_str)
                        .or(self.protocol_version.as_deref());
                    if needs_result_type(version) {
                        result["resultType"] = json!("complete");
                    }
                    step.to_client.push(line(&json!({
                        "jsonrpc": "2.0",
                        "id": id.cloned().unwrap_or(Value::Null),
                        "result": result,
                    })));
                }
                let mut ev = ProxyEvent::new("decision", id);
                ev.tool = Some(tool.clone());
                ev.decision = Some(decision);
                step.events.push(ev);
                allowed
            }
            Err(e) => {
                step.to_client.push(rpc_error(id, INVALID_PARAMS, &e));
                let mut ev = ProxyEvent::error("refused", id, &e);
                ev.tool = Some(tool.clone());
                step.events.push(ev);
                false
            }
        }
    }

    /// One line from the server.
    pub fn from_server(&mut self, engine: &Engine, bytes: &[u8]) -> Step {
        let mut step = Step::default();
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return step;
        }
        let drop = |step: &mut Step, id: Option<&Value>, why: &str| {
            let e = refused(
                ErrorCode::RequestParse,
                format!("server message dropped: {why}"),
            );
            step.events.push(ProxyEvent::error("dropped", id, &e));
        };
        let msg = match parse_json_bytes(
            &self.limits(engine),
            Input::Request,
            "MCP server message",
            bytes,
        ) {
            Ok(v) => v,
            Err(e) => {
                step.events.push(ProxyEvent::error("dropped", None, &e));
                return step;
            }
        };
        let Value::Object(obj) = &msg else {
            drop(&mut step, None, "not a single JSON-RPC object");
            return step;
        };
        if obj.contains_key("method") {
            step.to_client.push(bytes.to_vec());
            return step;
        }
        let id = obj.get("id");
        let Some(kind) = id.and_then(id_key).and_then(|k| self.pending.remove(&k)) else {
            drop(
                &mut step,
                id,
                "a response to no request in flight (denied, answered or never sent)",
            );
            return step;
        };
        if kind == Pending::Initialize {
            if let Some(v) = obj
                .get("result")
                .and_then(|r| r.get("protocolVersion"))
                .and_then(Value::as_str)
            {
                self.protocol_version = Some(v.to_string());
            }
        }
        if kind != Pending::List {
            step.to_client.push(bytes.to_vec());
            return step;
        }
        let Some(Value::Array(tools)) = obj.get("result").and_then(|r| r.get("tools")) else {
            step.to_client.push(bytes.to_vec());
            return step;
        };
        let names: Vec<String> = tools
            .iter()
            .filter_map(|t| t.get("name").and_then(Value::as_str).map(String::from))
            .collect();
        let o = &self.options;
        let mut ev = ProxyEvent::new("filtered", id);
        let listed = match listable_tools(
            engine,
            &o.identity,
            &o.server,
            o.namespace.as_deref(),
            &names,
        ) {
            Ok(listed) => listed,
            Err(e) => {
                ev.code = Some(e.code.as_str());
                ev.message = Some(e.to_string());
                Vec::new()
            }
        };
        let kept: Vec<Value> = tools
            .iter()
            .filter(|t| {
                t.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| listed.iter().any(|l| l == n))
            })
            .cloned()
            .collect();
        ev.offered = Some(tools.len());
        ev.listed = Some(listed);
        step.events.push(ev);
        let mut out = obj.clone();
        if let Some(Value::Object(result)) = out.get_mut("result") {
            result.insert("tools".into(), Value::Array(kept));
        }
        step.to_client.push(line(&Value::Object(out)));
        step
    }

    /// The server is gone: every request it left open gets a coded error,
    /// so no client waits for ever.
    pub fn server_exited(&mut self, exit: ServerExit) -> Step {
        let ServerExit::Exited(status) = exit;
        let status = status.map_or("unknown".to_string(), |s| s.to_string());
        let e = refused(
            ErrorCode::Io,
            format!("the MCP server exited (status {status}) before answering"),
        );
        let mut step = Step::default();
        let mut keys: Vec<String> = self.pending.drain().map(|(k, _)| k).collect();
        keys.sort();
        for key in keys {
            let id = match key.split_once(':') {
                Some(("s", s)) => Value::String(s.to_string()),
                Some((_, n)) => serde_json::from_str(n).unwrap_or(Value::Null),
                None => Value::Null,
            };
            step.to_client
                .push(rpc_error(Some(&id), INTERNAL_ERROR, &e));
        }
        let mut ev = ProxyEvent::error("server_exit", None, &e);
        ev.message = Some(e.to_string());
        step.events.push(ev);
        step
    }
}
