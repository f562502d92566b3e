//! MCP: the schema of a server's tools, a `tools/call` decided, the tools a
//! caller may see listed.

use super::convert::{from_value, parse_text, to_text, to_value};
use crate::engine::Engine;
use crate::error::{ErrorCode, Result};
use crate::mcp::{self, Identity, McpSchema, McpSchemaOptions};
use crate::model::Decision;
use serde::Deserialize;
use serde_json::{json, Value};

/// The Cedar schema fragment of a `tools/list` result
/// ([`crate::mcp::schema_from_tools`]).
pub fn schema_from_mcp(tools: &Value, options: &McpSchemaOptions) -> Result<McpSchema> {
    mcp::schema_from_tools(tools, options)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaInput {
    tools: Value,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

/// [`schema_from_mcp`] over `{tools, server?, namespace?}`; returns
/// `{server, namespace?, text, types_block, server_block, actions, warnings}`.
pub fn schema_from_mcp_value(input: Value) -> Result<Value> {
    let input: SchemaInput = from_value(
        input,
        ErrorCode::SchemaInvalid,
        "expected {tools, server?, namespace?}",
    )?;
    let mut options = McpSchemaOptions::default();
    if let Some(server) = input.server {
        options.server = server;
    }
    options.namespace = input.namespace;
    Ok(to_value(&schema_from_mcp(&input.tools, &options)?))
}

/// [`schema_from_mcp_value`] over JSON text.
pub fn schema_from_mcp_json(input: &str) -> Result<String> {
    let value = parse_text(input, "MCP schema input", ErrorCode::SchemaInvalid)?;
    to_text(&schema_from_mcp_value(value)?)
}

/// Decides a `tools/call` ([`crate::mcp::check_call`]).
pub fn mcp_check_call(
    engine: &Engine,
    identity: &Identity,
    server: &str,
    namespace: Option<&str>,
    tool: &str,
    arguments: Option<&Value>,
) -> Result<Decision> {
    mcp::check_call(engine, identity, server, namespace, tool, arguments)
}

/// Of `tools`, those listed for `identity` ([`crate::mcp::listable_tools`]).
pub fn mcp_listable_tools(
    engine: &Engine,
    identity: &Identity,
    server: &str,
    namespace: Option<&str>,
    tools: &[String],
) -> Result<Vec<String>> {
    mcp::listable_tools(engine, identity, server, namespace, tools)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallInput {
    identity: Identity,
    server: String,
    #[serde(default)]
    namespace: Option<String>,
    tool: String,
    #[serde(default)]
    arguments: Option<Value>,
}

/// [`mcp_check_call`] over `{identity: {"agent": A} | {"session": {token,
/// audience?}}, server, namespace?, tool, arguments?}`; returns the Decision.
pub fn mcp_check_call_value(engine: &Engine, input: Value) -> Result<Value> {
    let i: CallInput = from_value(input, ErrorCode::RequestParse, "MCP tools/call input")?;
    let d = mcp_check_call(
        engine,
        &i.identity,
        &i.server,
        i.namespace.as_deref(),
        &i.tool,
        i.arguments.as_ref(),
    )?;
    Ok(to_value(&d))
}

/// [`mcp_check_call_value`] over JSON text.
pub fn mcp_check_call_json(engine: &Engine, input: &str) -> Result<String> {
    let value = parse_text(input, "MCP tools/call input", ErrorCode::RequestParse)?;
    to_text(&mcp_check_call_value(engine, value)?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListInput {
    identity: Identity,
    server: String,
    #[serde(default)]
    namespace: Option<String>,
    tools: Vec<String>,
}

/// [`mcp_listable_tools`] over `{identity, server, namespace?, tools}`; returns the names listed.
pub fn mcp_listable_tools_value(engine: &Engine, input: Value) -> Result<Value> {
    let i: ListInput = from_value(input, ErrorCode::RequestParse, "MCP tools/list input")?;
    let listed = mcp_listable_tools(
        engine,
        &i.identity,
        &i.server,
        i.namespace.as_deref(),
        &i.tools,
    )?;
    Ok(to_value(&listed))
}

/// [`mcp_listable_tools_value`] over JSON text.
pub fn mcp_listable_tools_json(engine: &Engine, input: &str) -> Result<String> {
    let value = parse_text(input, "MCP tools/list input", ErrorCode::RequestParse)?;
    to_text(&mcp_listable_tools_value(engine, value)?)
}

/// The tool error result that answers a denied `tools/call` of `tool`
/// ([`crate::mcp::denied_result`]: the proxy's answer, and every guard's).
pub fn mcp_denied_result(tool: &str, decision: &Decision) -> Value {
    mcp::denied_result(tool, decision)
}

/// A guard's check of a `tools/call` over the input of
/// [`mcp_check_call_value`]: `{decision, result}`, where `result` is the tool
/// error result that answers a denied call ([`crate::mcp::denied_result`],
/// the proxy's answer too) and `null` when the call is allowed.
pub fn mcp_guard_call_value(engine: &Engine, input: Value) -> Result<Value> {
    let i: CallInput = from_value(input, ErrorCode::RequestParse, "MCP tools/call input")?;
    let d = mcp_check_call(
        engine,
        &i.identity,
        &i.server,
        i.namespace.as_deref(),
        &i.tool,
        i.arguments.as_ref(),
    )?;
    let result = if d.allowed() {
        Value::Null
    } else {
        mcp::denied_result(&i.tool, &d)
    };
    Ok(json!({"decision": to_value(&d), "result": result}))
}

/// [`mcp_guard_call_value`] over JSON text.
pub fn mcp_guard_call_json(engine: &Engine, input: &str) -> Result<String> {
    let value = parse_text(input, "MCP tools/call input", ErrorCode::RequestParse)?;
    to_text(&mcp_guard_call_value(engine, value)?)
}
