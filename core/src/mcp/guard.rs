//! A `tools/call` as an agentauthz request, and the list-time rule.

use crate::engine::Engine;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{AgentRequest, Decision, EntityRef, Request, ToolCall};
use crate::posture::permitted_actions;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The entity type of an MCP server (the resource of its tools' actions).
pub const RESOURCE_TYPE: &str = "McpServer";

/// Who calls: a fixed agent (a stdio server started for one agent), or an
/// agentauthz session token whose verified claims name the agent and task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Identity {
    Agent(String),
    Session {
        token: String,
        #[serde(default)]
        audience: Option<String>,
    },
    /// An identity provider's bearer token (the MCP request's
    /// `Authorization: Bearer`), verified against `[identity.issuers]`.
    Bearer(String),
}

/// A server name: 1-64 of `A-Z a-z 0-9 _ . -`. No `:`, so `"<server>:<tool>"`
/// splits one way only and one server's tool never names another's.
pub(super) fn is_valid_server(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// An MCP tool name: 1-128 of `A-Z a-z 0-9 _ - . /` (the MCP spec's
/// characters). Anything else (quotes, spaces, controls, `:`) is refused.
pub fn is_valid_name(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
}

/// The action id of `tool` on `server`: `"<server>:<tool>"`.
pub fn tool_action(server: &str, tool: &str) -> Result<String> {
    if !is_valid_server(server) {
        return Err(Error::new(
            ErrorCode::RequestInvalid,
            "MCP server name must be 1-64 of A-Z a-z 0-9 _ . - (no `:`)",
        ));
    }
    if !is_valid_name(tool) {
        return Err(Error::new(
            ErrorCode::RequestInvalid,
            "not a valid MCP tool name (1-128 of A-Z a-z 0-9 _ - . /)",
        ));
    }
    Ok(format!("{server}:{tool}"))
}

fn resource_type(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{ns}::{RESOURCE_TYPE}"),
        None => RESOURCE_TYPE.to_string(),
    }
}

/// The request a `tools/call` of `tool` with `arguments` (absent: `{}`) by
/// `agent` becomes: action `"<server>:<tool>"`, resource `McpServer::"<server>"`,
/// context `{"input": arguments}`.
pub fn call_request(
    agent: &str,
    server: &str,
    namespace: Option<&str>,
    tool: &str,
    arguments: Option<&Value>,
) -> Result<Request> {
    let (action, resource, context) = call_parts(server, namespace, tool, arguments)?;
    Ok(Request::Agent(AgentRequest {
        agent: agent.to_string(),
        action,
        resource,
        task: None,
        on_behalf_of: None,
        credential: None,
        context,
        now: None,
    }))
}

fn call_parts(
    server: &str,
    namespace: Option<&str>,
    tool: &str,
    arguments: Option<&Value>,
) -> Result<(String, EntityRef, Map<String, Value>)> {
    let action = tool_action(server, tool)?;
    let input = match arguments {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(Error::new(
                ErrorCode::RequestInvalid,
                "tools/call `arguments` must be an object",
            ))
        }
    };
    let mut context = Map::new();
    context.insert("input".into(), input);
    Ok((
        action,
        EntityRef::new(resource_type(namespace), server),
        context,
    ))
}

/// Decides a `tools/call`: the request of [`call_request`] for the agent of
/// `identity` (a session's agent and task come from its verified token), as
/// a tool call ([`Engine::check_tool_call`]): the arguments get the same
/// coercions as every framework's tool input.
pub fn check_call(
    engine: &Engine,
    identity: &Identity,
    server: &str,
    namespace: Option<&str>,
    tool: &str,
    arguments: Option<&Value>,
) -> Result<Decision> {
    if let Some(args) = arguments {
        engine.limits().check_value("tools/call arguments", args)?;
    }
    let (action, resource, mut context) = call_parts(server, namespace, tool, arguments)?;
    let input = context.remove("input");
    let (agent, session, audience, token) = match identity {
        Identity::Agent(agent) => (Some(agent.clone()), None, None, None),
        Identity::Session { token, audience } => {
            (None, Some(token.clone()), audience.clone(), None)
        }
        Identity::Bearer(token) => (None, None, None, Some(token.clone())),
    };
    engine.check_tool_call(&ToolCall {
        tool: tool.to_string(),
        action: Some(action),
        agent,
        session,
        audience,
        token,
        resource,
        input,
        context,
        task: None,
        on_behalf_of: None,
        credential: None,
        now: None,
    })
}

/// The `_meta` member of a denied call's result that holds the Decision.
pub const DECISION_META: &str = "agentauthz/decision";

/// The tool error result that answers a denied `tools/call` of `tool` (the
/// handler never runs): a text naming the reasons and `decision_id`, and the
/// Decision under `_meta["agentauthz/decision"]`. The stdio proxy and every
/// binding's guard answer with this one shape.
pub fn denied_result(tool: &str, decision: &Decision) -> Value {
    let text = format!(
        "agentauthz denied tool {tool:?}: reasons {:?}, decision_id {}",
        decision.reasons, decision.decision_id
    );
    let mut meta = Map::new();
    meta.insert(
        DECISION_META.into(),
        serde_json::to_value(decision).unwrap_or(Value::Null),
    );
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
        "_meta": meta,
    })
}

/// Of `tools`, the ones to list for `identity` (see the list-time rule in
/// the module docs), in the given order. Invalid names are never listed; a
/// session that does not verify is an error (list nothing).
pub fn listable_tools(
    engine: &Engine,
    identity: &Identity,
    server: &str,
    namespace: Option<&str>,
    tools: &[String],
) -> Result<Vec<String>> {
    let agent = match identity {
        Identity::Agent(agent) => agent.clone(),
        Identity::Session { token, audience } => {
            engine.verify_session(token, audience.as_deref())?.agent
        }
        Identity::Bearer(token) => engine.verify_token(token)?.agent,
    };
    let mut actions = Vec::new();
    let mut named = Vec::new();
    for tool in tools {
        if let Ok(action) = tool_action(server, tool) {
            actions.push(action);
            named.push(tool.clone());
        }
    }
    let permitted = permitted_actions(engine, &agent, &actions, &resource_type(namespace), server)?;
    Ok(named
        .into_iter()
        .zip(actions)
        .filter(|(_, a)| permitted.contains(a))
        .map(|(t, _)| t)
        .collect())
}
