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
            Value::Object(obj) if obj.contains_key("principal") => serde_json::from_value(value)
                .map(Request::Cedar)
                .map_err(form_error),
            Value::Object(obj) if obj.contains_key("agent") => serde_json::from_value(value)
                .map(Request::Agent)
                .map_err(form_error),
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
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
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
}

impl Decision {
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
