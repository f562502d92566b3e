//! The wire types every surface shares: requests in, decisions out.

use crate::error::{Error, ErrorCode, Result};
use crate::limits::{self, Input, Limits};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A typed entity reference, `{"type": "Repo", "id": "acme/api"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct EntityRef {
    #[serde(rename = "type")]
    pub type_name: String,
    pub id: String,
}

impl EntityRef {
    pub fn new(type_name: impl Into<String>, id: impl Into<String>) -> EntityRef {
        EntityRef {
            type_name: type_name.into(),
            id: id.into(),
        }
    }
}

/// The agent form: an agent calls a tool (the action) on a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct AgentRequest {
    pub agent: String,
    pub action: String,
    pub resource: EntityRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Application context fields (`source_ip`, `endpoint`, `input`, ...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub context: Map<String, Value>,
    /// RFC 3339 time of the request; the engine clock when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
}

/// An agent-form request made with a session token: the agent and task come
/// from the verified token, never from the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct SessionRequest {
    /// The session token (`v4.public.…`).
    pub session: String,
    pub action: String,
    pub resource: EntityRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub context: Map<String, Value>,
    /// RFC 3339 time the policies see; the token itself is always checked
    /// against the engine clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    /// The audience the token must carry; `[sessions] audience` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

/// An agent-form request made with an identity provider's token (OAuth 2.1
/// / OIDC access token, SPIFFE JWT-SVID): the agent, the on-behalf-of user
/// (RFC 8693 `act`) and `context.token` come from the verified token, never
/// from the caller, and the token is judged at the engine clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct TokenRequest {
    /// The bearer token (a JWT). Never recorded or echoed in errors.
    pub token: String,
    pub action: String,
    pub resource: EntityRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub context: Map<String, Value>,
    /// Refused when present: a token check is judged at the engine clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
}

/// A framework's tool call to decide ([`crate::Engine::check_tool_call`]):
/// the tool's name, the action the caller's mapper gave it (`None`: no
/// action for this tool, which denies with `baseline/unknown-action`), who
/// calls (exactly one of `agent` and `session`), the resource, and the
/// tool's arguments as `input`, which become `context.input` after the
/// coercions of [`crate::Engine::check_tool_call`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct ToolCall {
    /// The framework's tool name (for messages and the record).
    pub tool: String,
    /// The action of the tool; `None` when the caller's mapper has none.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// A session token (`v4.public.…`) in place of `agent` (and `task`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The audience the session token must carry (only with `session`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// An identity provider's bearer token (a JWT) in place of `agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub resource: EntityRef,
    /// The tool's arguments; absent or `null`: no `context.input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub input: Option<Value>,
    /// Other context fields (not `input`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub context: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
}

impl ToolCall {
    /// Reads a tool call from JSON under the given limits (depth and size
    /// first, then the shape: an unknown member is `request_parse`).
    pub fn from_json_value_with(value: Value, limits: &Limits) -> Result<ToolCall> {
        limits.check_value("tool call", &value)?;
        serde_json::from_value(value)
            .map_err(|e| Error::new(ErrorCode::RequestParse, format!("tool call: {e}")))
    }

    /// [`ToolCall::from_json_value_with`] over JSON text, read by the strict, bounded reader.
    pub fn from_json_str_with(text: &str, limits: &Limits) -> Result<ToolCall> {
        let value = limits::parse_json(limits, Input::Request, "tool call", text)?;
        ToolCall::from_json_value_with(value, limits)
    }
}

/// The generic form: any Cedar request, evaluated as-is (no fields are added).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct CedarRequest {
    pub principal: EntityRef,
    pub action: EntityRef,
    pub resource: EntityRef,
    #[serde(default)]
    #[cfg_attr(test, ts(type = "Record<string, unknown>"))]
    pub context: Map<String, Value>,
}

/// A request in either form. On the wire the form is told by the presence of
/// `agent` or `principal`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub enum Request {
    Agent(AgentRequest),
    Cedar(CedarRequest),
}

impl From<AgentRequest> for Request {
    fn from(r: AgentRequest) -> Request {
        Request::Agent(r)
    }
}

impl From<CedarRequest> for Request {
    fn from(r: CedarRequest) -> Request {
        Request::Cedar(r)
    }
}

impl Request {
    /// Reads a request from JSON, with a precise error for the form it looks like.
    /// The value is first bounded by the default [`Limits`] (depth and size).
    pub fn from_json_value(value: Value) -> Result<Request> {
        Request::from_json_value_with(value, &Limits::default())
    }

    /// [`Request::from_json_value`] under the given limits.
    pub fn from_json_value_with(value: Value, limits: &Limits) -> Result<Request> {
        limits.check_value("request", &value)?;
        let form_error = |e: serde_json::Error| Error::new(ErrorCode::RequestParse, e.to_string());
        match &value {
            Value::Object(obj) if obj.contains_key("principal") => {
                with_context(value, |r: &mut CedarRequest, c| r.context = c)
                    .map(Request::Cedar)
                    .map_err(form_error)
            }
            Value::Object(obj) if obj.contains_key("agent") => {
                with_context(value, |r: &mut AgentRequest, c| r.context = c)
                    .map(Request::Agent)
                    .map_err(form_error)
            }
            Value::Object(_) => Err(Error::new(
                ErrorCode::RequestParse,
                "a request needs either `agent` (agent form) or `principal` (Cedar form)",
            )),
            _ => Err(Error::new(
                ErrorCode::RequestParse,
                "a request must be a JSON object",
            )),
        }
    }

    /// Reads a request from JSON text under the default [`Limits`]: too deep
    /// or too large is `input_too_deep`/`input_too_large`, a duplicate key is
    /// `request_parse`, each with a location.
    pub fn from_json_str(text: &str) -> Result<Request> {
        Request::from_json_str_with(text, &Limits::default())
    }

    /// [`Request::from_json_str`] under the given limits.
    pub fn from_json_str_with(text: &str, limits: &Limits) -> Result<Request> {
        let value = limits::parse_json(limits, Input::Request, "request", text)?;
        Request::from_json_value_with(value, limits)
    }
}

/// `serde_json::from_value`, with the `context` object moved into the
/// request instead of rebuilt value by value (most of a request's size).
/// While the rest is read the context is an empty object in its place: any
/// object reads alike there, so the request or the error is serde's own.
fn with_context<T: serde::de::DeserializeOwned>(
    value: Value,
    set: impl FnOnce(&mut T, Map<String, Value>),
) -> serde_json::Result<T> {
    let Value::Object(mut obj) = value else {
        return serde_json::from_value(value);
    };
    let context = match obj.get_mut("context") {
        Some(slot @ Value::Object(_)) => std::mem::replace(slot, Value::Object(Map::new())),
        _ => return serde_json::from_value(Value::Object(obj)),
    };
    let mut request: T = serde_json::from_value(Value::Object(obj))?;
    if let Value::Object(context) = context {
        set(&mut request, context);
    }
    Ok(request)
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Request, D::Error> {
        let value = Value::deserialize(d)?;
        Request::from_json_value(value).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub enum Effect {
    Allow,
    Deny,
    /// Held back only by `@approval` forbids: not allowed until a human
    /// approves this exact request (see [`Decision::requires_approval`]).
    #[serde(rename = "needs_approval")]
    NeedsApproval,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::NeedsApproval => "needs_approval",
        }
    }
}

/// A policy whose evaluation failed. Cedar skips such a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct PolicyError {
    pub policy: String,
    pub message: String,
}

/// The answer to one request. A deny is data, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct Decision {
    pub decision: Effect,
    /// Ids of the policies (or built-in guards) that determined the decision, sorted.
    pub reasons: Vec<String>,
    /// Policies whose evaluation errored, sorted by policy id.
    pub errors: Vec<PolicyError>,
    pub decision_id: String,
    pub policy_revision: String,
    /// `needs_approval`: a human must approve this exact request first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(test, ts(as = "Option<bool>", optional))]
    pub requires_approval: bool,
    /// Who may approve (`owner`, `team:ID`, `user:ID`), when approval is needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, ts(as = "Option<Vec<String>>", optional))]
    pub approvers: Vec<String>,
    /// `sha256:<hex>` of the request, when approval is needed or was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_digest: Option<String>,
}

impl Decision {
    /// Whether a human must approve this exact request before it is allowed.
    pub fn requires_approval(&self) -> bool {
        self.requires_approval
    }
    pub fn approvers(&self) -> &[String] {
        &self.approvers
    }
    pub fn request_digest(&self) -> Option<&str> {
        self.request_digest.as_deref()
    }
    pub fn allowed(&self) -> bool {
        self.decision == Effect::Allow
    }
    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }
    pub fn errors(&self) -> &[PolicyError] {
        &self.errors
    }
    pub fn decision_id(&self) -> &str {
        &self.decision_id
    }
    pub fn policy_revision(&self) -> &str {
        &self.policy_revision
    }
    /// Whether the deny came from a `forbid` whose evaluation errored (it is
    /// both a reason and an error): the engine failed closed where Cedar
    /// would have skipped the policy.
    pub fn fail_closed(&self) -> bool {
        self.decision == Effect::Deny
            && self
                .reasons
                .iter()
                .any(|r| self.errors.iter().any(|e| e.policy == *r))
    }
}

/// The agentauthz version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;
    use serde_json::json;

    // Moving the context in gives what serde gives: the same request, or the
    // same error, on well-formed and malformed requests of both forms.
    #[test]
    fn requests_parse_as_serde_parses_them() {
        let r = json!({"type": "Doc", "id": "d"});
        let cases = [
            json!({"principal": {"type": "U", "id": "u"}, "action": {"type": "Action", "id": "a"}, "resource": r, "context": {"n": 1, "x": {"__extn": {"fn": "ip", "arg": "1.2.3.4"}}}}),
            json!({"principal": {"type": "U", "id": "u"}, "action": {"type": "Action", "id": "a"}, "resource": r}),
            json!({"principal": {"type": "U", "id": "u"}, "action": {"type": "Action", "id": "a"}, "resource": r, "context": [1]}),
            json!({"principal": {"type": "U", "id": "u"}, "action": {"type": "Action", "id": "a"}, "resource": r, "context": null}),
            json!({"principal": {"type": "U", "id": "u"}, "action": {"type": "Action", "id": "a"}, "resource": r, "context": {}, "zz": 1, "aa": 2}),
            json!({"principal": {"type": "U"}, "action": {"type": "Action", "id": "a"}, "resource": r, "context": {"n": 1}}),
            json!({"principal": "U::\"u\"", "action": {"type": "Action", "id": "a"}, "resource": r, "context": {"n": 1}}),
            json!({"principal": {"type": "U", "id": "u"}, "resource": r, "context": {"n": 1}}),
            json!({"agent": "a", "action": "read", "resource": r, "context": {"ip": "10.0.0.1"}, "now": "2026-11-29T10:00:00Z"}),
            json!({"agent": "a", "action": "read", "resource": r, "context": {"ip": "10.0.0.1"}, "task": 7}),
            json!({"agent": "a", "action": "read", "resource": r, "context": "x"}),
            json!({"agent": "a", "action": "read", "resource": r, "context": {}, "principal2": 1}),
            json!({"context": {"n": 1}, "zz": 1, "principal": {"type": "U", "id": "u"}, "action": {"type": "Action", "id": "a"}, "resource": r}),
            json!({"context": {"n": [1, {"a": null}]}, "agent": "a", "action": 5, "resource": r}),
            json!({"agent": "a", "context": {"n": 1}, "action": "read"}),
        ];
        for case in cases {
            let form = |e: serde_json::Error| e.to_string();
            if case.get("principal").is_some() {
                let ours = with_context(case.clone(), |r: &mut CedarRequest, c| r.context = c);
                let serde = serde_json::from_value::<CedarRequest>(case.clone());
                assert_eq!(ours.map_err(form), serde.map_err(form), "{case}");
            } else {
                let ours = with_context(case.clone(), |r: &mut AgentRequest, c| r.context = c);
                let serde = serde_json::from_value::<AgentRequest>(case.clone());
                assert_eq!(ours.map_err(form), serde.map_err(form), "{case}");
            }
        }
    }
}
