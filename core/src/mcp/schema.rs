//! `tools/list` → Cedar schema: one action per tool, `context.input` typed
//! from the tool's JSON Schema, a listed warning for every construct that has
//! no Cedar type (and what was done instead).

use super::guard::{is_valid_name, is_valid_server, tool_action, RESOURCE_TYPE};
use crate::error::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The server name used when none is given.
pub const DEFAULT_SERVER: &str = "mcp";

/// Deepest JSON Schema nesting mapped; deeper parts are left out with a warning.
const MAX_SCHEMA_DEPTH: usize = 32;

/// Most tools one `tools/list` may hold.
const MAX_TOOLS: usize = 10_000;

/// How to name what is generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpSchemaOptions {
    /// The server's name: actions are `"<server>:<tool>"`, the resource `McpServer::"<server>"`.
    #[serde(default = "default_server")]
    pub server: String,
    /// A Cedar namespace for the generated entity type and actions.
    #[serde(default)]
    pub namespace: Option<String>,
}

fn default_server() -> String {
    DEFAULT_SERVER.to_string()
}

impl Default for McpSchemaOptions {
    fn default() -> Self {
        McpSchemaOptions {
            server: default_server(),
            namespace: None,
        }
    }
}

/// One construct that could not be mapped, and what was done instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct McpWarning {
    pub tool: String,
    /// Where in the tool's `inputSchema` (`input.path`, `input.items[]`).
    pub path: String,
    pub message: String,
}

/// A generated schema fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct McpSchema {
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The whole fragment: the `McpServer` type block, then the server's actions block.
    pub text: String,
    /// The block declaring the resource type (`entity McpServer;`).
    pub types_block: String,
    /// The block of this server's actions.
    pub server_block: String,
    /// Action ids generated, in tool order.
    pub actions: Vec<String>,
    pub warnings: Vec<McpWarning>,
}

fn begin_marker(label: &str) -> String {
    format!("// @agentauthz-mcp begin {label}")
}

fn end_marker(label: &str) -> String {
    format!("// @agentauthz-mcp end {label}")
}

fn server_label(server: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("server={ns}::{server}"),
        None => format!("server={server}"),
    }
}

fn types_label() -> String {
    "types".to_string()
}

fn is_valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= 256
        && ns.split("::").all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The tools of a `tools/list` result (`{"tools": [...]}`), of a whole
/// JSON-RPC response carrying one, or a bare array of tools.
fn tools_of(value: &Value) -> Result<&Vec<Value>> {
    let tools = match value {
        Value::Array(a) => Some(a),
        Value::Object(m) => match (m.get("tools"), m.get("result")) {
            (Some(Value::Array(a)), _) => Some(a),
            (None, Some(Value::Object(r))) => match r.get("tools") {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    let tools = tools.ok_or_else(|| {
        Error::new(
            ErrorCode::SchemaInvalid,
            "expected a tools/list result: {\"tools\": [...]} (or a JSON-RPC response holding one)",
        )
    })?;
    if tools.len() > MAX_TOOLS {
        return Err(Error::new(
            ErrorCode::InputTooLarge,
            format!(
                "tools/list holds {} tools (at most {MAX_TOOLS})",
                tools.len()
            ),
        ));
    }
    Ok(tools)
}

/// A Cedar string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a `//` comment: printable ASCII only, bounded.
fn comment_text(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect();
    if s.chars().count() > 200 {
        out.push_str("...");
    }
    out
}

/// A Cedar type, rendered.
#[derive(Debug)]
enum Ty {
    Prim(&'static str, Option<String>),
    Set(Box<Ty>),
    Record(Vec<(String, bool, Ty)>),
}

impl Ty {
    fn render(&self, out: &mut String, indent: usize) {
        match self {
            Ty::Prim(name, _) => out.push_str(name),
            Ty::Set(inner) => {
                out.push_str("Set<");
                inner.render(out, indent);
                out.push('>');
            }
            Ty::Record(attrs) => {
                if attrs.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push_str("{\n");
                for (name, required, ty) in attrs {
                    let pad = "  ".repeat(indent + 1);
                    let opt = if *required { "" } else { "?" };
                    let _ = write!(out, "{pad}{}{opt}: ", quote(name));
                    ty.render(out, indent + 1);
                    out.push(',');
                    if let Ty::Prim(_, Some(note)) = ty {
                        let _ = write!(out, " // {}", comment_text(note));
                    }
                    out.push('\n');
                }
                let _ = write!(out, "{}}}", "  ".repeat(indent));
            }
        }
    }
}

struct Mapper<'a> {
    tool: &'a str,
    warnings: &'a mut Vec<McpWarning>,
}

impl Mapper<'_> {
    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(McpWarning {
            tool: self.tool.to_string(),
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// `schema` without a `null` alternative (`["string", "null"]`,
    /// `anyOf: [X, {type: null}]`), or `None` when it is not of that shape.
    fn non_null(&mut self, schema: &Map<String, Value>, path: &str) -> Option<Value> {
        let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
        if let Some(Value::Array(types)) = schema.get("type") {
            let rest: Vec<&Value> = types
                .iter()
                .filter(|t| t.as_str() != Some("null"))
                .collect();
            if let [only] = rest.as_slice() {
                if rest.len() < types.len() {
                    let mut copy = schema.clone();
                    copy.insert("type".into(), (*only).clone());
                    self.warn(
                        path,
                        "`null` has no Cedar type: a call passing null here is denied",
                    );
                    return Some(Value::Object(copy));
                }
            }
            return None;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(alts)) = schema.get(key) {
                let rest: Vec<&Value> = alts.iter().filter(|a| !is_null(a)).collect();
                if let [only] = rest.as_slice() {
                    if rest.len() < alts.len() {
                        self.warn(
                            path,
                            format!("`{key}` with null: mapped as the non-null alternative; a call passing null here is denied"),
                        );
                        return Some((*only).clone());
                    }
                }
            }
        }
        None
    }

    /// The Cedar type of `schema`, or `None` (warned) when it has none.
    fn map(&mut self, schema: &Value, path: &str, depth: usize) -> Option<Ty> {
        if depth > MAX_SCHEMA_DEPTH {
            self.warn(path, format!("nested deeper than {MAX_SCHEMA_DEPTH} levels: left out of the schema, so a call passing it is denied"));
            return None;
        }
        let Value::Object(s) = schema else {
            self.warn(
                path,
                "not a JSON Schema object: left out of the schema, so a call passing it is denied",
            );
            return None;
        };
        if let Some(v) = self.non_null(s, path) {
            return self.map(&v, path, depth + 1);
        }
        for key in [
            "oneOf",
            "anyOf",
            "allOf",
            "not",
            "$ref",
            "if",
            "patternProperties",
        ] {
            if s.contains_key(key) {
                self.warn(
                    path,
                    format!("`{key}` has no Cedar equivalent: left out of the schema, so a call passing it is denied (declare it by hand)"),
                );
                return None;
            }
        }
        let ty = match s.get("type") {
            Some(Value::String(t)) => t.as_str(),
            None if s.contains_key("properties") => "object",
            _ => {
                self.warn(path, "no single `type`: left out of the schema, so a call passing it is denied (declare it by hand)");
                return None;
            }
        };
        match ty {
            "string" => {
                let format = s.get("format").and_then(Value::as_str);
                if let Some(Value::Array(values)) = s.get("enum") {
                    let list: Vec<String> = values.iter().map(Value::to_string).collect();
                    return Some(Ty::Prim(
                        "String",
                        Some(format!("one of: {}", list.join(", "))),
                    ));
                }
                Some(match format {
                    Some("ipv4" | "ipv6") => Ty::Prim("ipaddr", None),
                    Some("date-time") => Ty::Prim("datetime", None),
                    _ => Ty::Prim("String", None),
                })
            }
            "integer" => Some(Ty::Prim("Long", None)),
            "boolean" => Some(Ty::Prim("Bool", None)),
            "number" => {
                self.warn(path, "`number` has no Cedar type (Cedar has Long and decimal, not floating point): left out of the schema, so a call passing it is denied; use `integer` if the tool takes whole numbers");
                None
            }
            "null" => {
                self.warn(path, "`null` has no Cedar type: left out of the schema, so a call passing it is denied");
                None
            }
            "array" => match s.get("items") {
                Some(items @ Value::Object(_)) => {
                    let inner = self.map(items, &format!("{path}[]"), depth + 1)?;
                    Some(Ty::Set(Box::new(inner)))
                }
                _ => {
                    self.warn(path, "an array without one `items` schema: left out of the schema, so a call passing it is denied");
                    None
                }
            },
            "object" => self.object(s, path, depth),
            other => {
                self.warn(path, format!("type `{}` is not JSON Schema: left out of the schema, so a call passing it is denied", comment_text(other)));
                None
            }
        }
    }

    fn object(&mut self, s: &Map<String, Value>, path: &str, depth: usize) -> Option<Ty> {
        let extra = s.get("additionalProperties");
        let props = match s.get("properties") {
            Some(Value::Object(p)) => Some(p),
            None => None,
            Some(_) => {
                self.warn(path, "`properties` is not an object: left out of the schema, so a call passing it is denied");
                return None;
            }
        };
        if props.is_none() && matches!(extra, Some(Value::Object(_)) | Some(Value::Bool(true))) {
            self.warn(path, "a map (`additionalProperties` without `properties`) has no Cedar type: left out of the schema, so a call passing it is denied");
            return None;
        }
        if matches!(extra, Some(v) if v != &Value::Bool(false)) {
            self.warn(path, "`additionalProperties`: Cedar records are closed; only the declared properties are accepted, so a call passing any other is denied");
        }
        let required: Vec<&str> = match s.get("required") {
            Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut attrs = Vec::new();
        for (name, sub) in props.into_iter().flatten() {
            let sub_path = format!("{path}.{name}");
            if name.is_empty() || name.chars().any(char::is_control) {
                self.warn(&comment_text(&sub_path), "a property name that is empty or holds control characters: left out of the schema, so a call passing it is denied");
                continue;
            }
            let is_required = required.contains(&name.as_str());
            match self.map(sub, &sub_path, depth + 1) {
                Some(ty) => attrs.push((name.clone(), is_required, ty)),
                None if is_required => self.warn(
                    &sub_path,
                    "a required argument is left out of the schema: every call of this tool is denied until you declare it",
                ),
                None => {}
            }
        }
        Some(Ty::Record(attrs))
    }
}

/// The Cedar schema fragment of a `tools/list` result: one action per tool
/// (`"<server>:<tool>"`, principal `Agent`, resource `McpServer`) whose
/// context is `{ input: <the tool's inputSchema> }`, and the `McpServer`
/// entity type. Tools with invalid names are skipped with a warning.
pub fn schema_from_tools(tools: &Value, options: &McpSchemaOptions) -> Result<McpSchema> {
    if !is_valid_server(&options.server) {
        return Err(Error::new(
            ErrorCode::SchemaInvalid,
            format!(
                "server name {:?} must be 1-64 of A-Z a-z 0-9 _ . - (no `:`)",
                comment_text(&options.server)
            ),
        ));
    }
    let ns = options.namespace.as_deref();
    if let Some(ns) = ns {
        if !is_valid_namespace(ns) {
            return Err(Error::new(
                ErrorCode::SchemaInvalid,
                format!("namespace {:?} is not a Cedar namespace", comment_text(ns)),
            ));
        }
    }
    let mut warnings = Vec::new();
    let mut actions = Vec::new();
    let mut body = String::new();
    for (i, tool) in tools_of(tools)?.iter().enumerate() {
        let name = match tool.get("name") {
            Some(Value::String(n)) if is_valid_name(n) => n.as_str(),
            other => {
                let shown = other.map(|v| comment_text(&v.to_string()));
                warnings.push(McpWarning {
                    tool: shown.unwrap_or_else(|| format!("#{i}")),
                    path: String::new(),
                    message: "not a valid MCP tool name (1-128 of A-Z a-z 0-9 _ - . /): skipped, so calls to it are denied".into(),
                });
                continue;
            }
        };
        let action = tool_action(&options.server, name)?;
        if actions.contains(&action) {
            warnings.push(McpWarning {
                tool: name.to_string(),
                path: String::new(),
                message: "listed twice: the second is skipped".into(),
            });
            continue;
        }
        let mut mapper = Mapper {
            tool: name,
            warnings: &mut warnings,
        };
        let input = match tool.get("inputSchema") {
            Some(schema) => match mapper.map(schema, "input", 0) {
                Some(Ty::Record(attrs)) => Ty::Record(attrs),
                Some(_) => {
                    mapper.warn("input", "`inputSchema` is not an object schema: input is an empty record, so a call passing arguments is denied");
                    Ty::Record(Vec::new())
                }
                None => Ty::Record(Vec::new()),
            },
            None => Ty::Record(Vec::new()),
        };
        let mut input_text = String::new();
        input.render(&mut input_text, 2);
        let _ = write!(
            body,
            "{pad}// MCP tool {tool}\n{pad}action {action} appliesTo {{\n{pad}  principal: [Agent],\n{pad}  resource: [{RESOURCE_TYPE}],\n{pad}  context: {{\n{pad}    input: {input},\n{pad}  }},\n{pad}}};\n",
            pad = if ns.is_some() { "  " } else { "" },
            tool = quote(name),
            action = quote(&action),
            input = input_text.replace('\n', if ns.is_some() { "\n  " } else { "\n" }),
        );
        actions.push(action);
    }
    let types_inner = format!(
        "{pad}// An MCP server; its tools are the actions \"<server>:<tool>\".\n{pad}entity {RESOURCE_TYPE};\n",
        pad = if ns.is_some() { "  " } else { "" }
    );
    let header = format!(
        "// Generated by `agentauthz schema from-mcp` for MCP server {}; regenerating replaces this block.\n",
        quote(&options.server)
    );
    let block = |label: &str, inner: &str| {
        format!("{}\n{inner}{}\n", begin_marker(label), end_marker(label))
    };
    // Cedar allows one block per namespace: a namespaced server gets its own
    // namespace holding its type and its actions.
    let (types_block, server_block) = match ns {
        Some(ns) => (
            String::new(),
            block(
                &server_label(&options.server, Some(ns)),
                &format!("{header}namespace {ns} {{\n{types_inner}{body}}}\n"),
            ),
        ),
        None => (
            block(&types_label(), &types_inner),
            block(
                &server_label(&options.server, None),
                &format!("{header}{body}"),
            ),
        ),
    };
    let text = if types_block.is_empty() {
        server_block.clone()
    } else {
        format!("{types_block}\n{server_block}")
    };
    Ok(McpSchema {
        server: options.server.clone(),
        namespace: options.namespace.clone(),
        text,
        types_block,
        server_block,
        actions,
        warnings,
    })
}

/// `text` with the block between the markers of `label` (inclusive)
/// replaced by `with`, in place; `None` when there is no such block. An
/// unbalanced marker is an error, so a hand edit is never silently cut.
fn replace_block(text: &str, label: &str, with: &str) -> Result<Option<String>> {
    let begin = begin_marker(label);
    let end = end_marker(label);
    let mut out = String::with_capacity(text.len() + with.len());
    let mut inside = false;
    let mut found = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == begin {
            if inside || found {
                return Err(Error::new(
                    ErrorCode::SchemaInvalid,
                    format!("`{begin}` twice"),
                ));
            }
            inside = true;
            found = true;
        } else if trimmed == end {
            if !inside {
                return Err(Error::new(
                    ErrorCode::SchemaInvalid,
                    format!("`{end}` without `{begin}`"),
                ));
            }
            inside = false;
            out.push_str(with);
        } else if !inside {
            out.push_str(line);
        }
    }
    if inside {
        return Err(Error::new(
            ErrorCode::SchemaInvalid,
            format!("`{begin}` without `{end}`"),
        ));
    }
    Ok(found.then_some(out))
}

/// `existing` schema text with `generated`'s server block in place of the
/// one generated for that server before (or appended), and its type block
/// added unless one is there. Nothing outside the markers changes.
pub fn merge_schema(existing: &str, generated: &McpSchema) -> Result<String> {
    let ns = generated.namespace.as_deref();
    let label = server_label(&generated.server, ns);
    let mut text = match replace_block(existing, &label, &generated.server_block)? {
        Some(done) => return Ok(done),
        None => existing.trim_end().to_string(),
    };
    let has_types = replace_block(&text, &types_label(), "")?.is_some();
    let mut add = |block: &str| {
        if block.is_empty() {
            return;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(block.trim_end());
    };
    if !has_types {
        add(&generated.types_block);
    }
    add(&generated.server_block);
    text.push('\n');
    Ok(text)
}
