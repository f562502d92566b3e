//! MCP (Model Context Protocol): the Cedar schema of a server's tools
//! ([`schema_from_tools`]), the request a `tools/call` becomes
//! ([`call_request`]), which tools a caller may see in `tools/list`
//! ([`listable_tools`]), and the message rules of the stdio proxy
//! ([`Proxy`]): all of it without I/O, so the CLI and every binding share it.
//!
//! A tool `T` of the server named `S` is the action `"S:T"` on the resource
//! `McpServer::"S"`, with the call's `arguments` as `context.input`.
//!
//! **List-time rule.** A tool is listed when some request for it *could* be
//! allowed: some permit's scope applies to (agent, action, `McpServer::"S"`)
//! and no forbid that reads no context always denies it, judged without a
//! request context (as `posture` judges effective permissions). This is an
//! over-approximation: permits and forbids whose conditions read the context
//! (arguments, time, task) are assumed to go the caller's way, so a listed
//! tool may still be denied when called. The call is always checked. An
//! unknown agent, an invalid session or a tool name that is not a valid MCP
//! name lists nothing.

mod guard;
mod proxy;
mod schema;

pub use guard::{
    call_request, check_call, denied_result, is_valid_name, listable_tools, tool_action, Identity,
    DECISION_META, RESOURCE_TYPE,
};
pub use proxy::{
    Proxy, ProxyEvent, ProxyOptions, ServerExit, Step, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_PENDING,
};
pub use schema::{
    merge_schema, schema_from_tools, McpSchema, McpSchemaOptions, McpWarning, DEFAULT_SERVER,
};
