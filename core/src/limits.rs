//! Bounds on untrusted input, checked before any recursive parser sees it.
//!
//! Every text agentauthz reads (requests, policies, schemas, inventories, test
//! files, `agentauthz.toml`, journal and decision-log lines) is first measured
//! by a cheap linear scan: its size, and its nesting depth (brackets, and
//! indentation for YAML). Only then do Cedar's parser, serde_json, the YAML
//! parser or toml see it, so no input can recurse deep enough to overflow the
//! stack. JSON and YAML are then read by one strict reader that also rejects
//! duplicate keys (a silent "last one wins" lets a request say two things).

use crate::error::{Error, ErrorCode, Location, Result, Source};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The deepest nesting any setting may allow: serde_json stops at 128 levels
/// itself, and Cedar's parser and the drop of its syntax trees recurse per level.
pub const MAX_DEPTH_CEILING: usize = 128;

/// Input bounds. The defaults are far above any real bundle or request; set
/// them in `agentauthz.toml` (`[limits]`) or with `EngineBuilder::limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Deepest nesting of brackets (and YAML indentation) in any JSON, YAML,
    /// TOML or Cedar text, and of a request's context value (default 64, at most 128).
    pub max_depth: usize,
    /// Largest request, as JSON text or as a value (default 1 MiB).
    pub max_request_bytes: usize,
    /// Largest policy file (default 8 MiB).
    pub max_policy_bytes: usize,
    /// Most operators (`||`, `&&`, `.`, `if`, comparisons, arithmetic, ...)
    /// in one policy: a long chain nests as deep as it is long (default 10,000).
    pub max_policy_operators: usize,
    /// Largest schema file, Cedar or JSON (default 4 MiB).
    pub max_schema_bytes: usize,
    /// Largest inventory file, YAML or JSON (default 64 MiB).
    pub max_inventory_bytes: usize,
    /// Largest policy test file (default 16 MiB).
    pub max_test_bytes: usize,
    /// Largest `agentauthz.toml` (default 1 MiB).
    pub max_config_bytes: usize,
    /// Longest journal or decision-log line (default 4 MiB).
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_request_bytes: 1 << 20,
            max_policy_bytes: 8 << 20,
            max_policy_operators: 10_000,
            max_schema_bytes: 4 << 20,
            max_inventory_bytes: 64 << 20,
            max_test_bytes: 16 << 20,
            max_config_bytes: 1 << 20,
            max_line_bytes: 4 << 20,
        }
    }
}

/// What kind of input a text is: which size bound applies and which code a
/// syntax error (or a duplicate key) carries.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Request,
    Policy,
    Schema,
    Inventory,
    Test,
    Config,
    JournalLine,
    LogLine,
    /// A serialized engine state (`ffi::engine_restore_json`).
    State,
}

impl Input {
    fn what(self) -> &'static str {
        match self {
            Input::Request => "request",
            Input::Policy => "policy file",
            Input::Schema => "schema",
            Input::Inventory => "inventory",
            Input::Test => "test file",
            Input::Config => "agentauthz.toml",
            Input::JournalLine => "journal line",
            Input::LogLine => "decision-log line",
            Input::State => "engine state",
        }
    }

    /// The code of a syntax error or duplicate key in this kind of input.
    pub fn parse_code(self) -> ErrorCode {
        match self {
            Input::Request => ErrorCode::RequestParse,
            Input::Policy => ErrorCode::PolicyParse,
            Input::Schema => ErrorCode::SchemaParse,
            Input::Inventory => ErrorCode::InventoryParse,
            Input::Test => ErrorCode::TestInvalid,
            Input::Config => ErrorCode::ConfigInvalid,
            Input::JournalLine => ErrorCode::JournalCorrupt,
            // `log verify` reports a bad line as text, never raises this code.
            Input::LogLine => ErrorCode::JournalCorrupt,
            Input::State => ErrorCode::ConfigInvalid,
        }
    }
}

impl Limits {
    /// The depth actually enforced: the setting, capped at [`MAX_DEPTH_CEILING`].
    pub fn depth(&self) -> usize {
        self.max_depth.clamp(1, MAX_DEPTH_CEILING)
    }

    fn max_bytes(&self, input: Input) -> (usize, &'static str) {
        match input {
            Input::Request => (self.max_request_bytes, "max_request_bytes"),
            Input::Policy => (self.max_policy_bytes, "max_policy_bytes"),
            Input::Schema => (self.max_schema_bytes, "max_schema_bytes"),
            Input::Inventory => (self.max_inventory_bytes, "max_inventory_bytes"),
            Input::Test => (self.max_test_bytes, "max_test_bytes"),
            Input::Config => (self.max_config_bytes, "max_config_bytes"),
            Input::JournalLine | Input::LogLine => (self.max_line_bytes, "max_line_bytes"),
            // A state holds a whole bundle and its changes.
            Input::State => (
                self.max_inventory_bytes.saturating_mul(4),
                "max_inventory_bytes, times 4",
            ),
        }
    }

    /// `input_too_large` if `text` is over the size bound of its kind.
    pub(crate) fn check_size(&self, input: Input, name: &str, len: usize) -> Result<()> {
        let (max, setting) = self.max_bytes(input);
        if len > max {
            return Err(Error::at(
                ErrorCode::InputTooLarge,
                Location::line_col(name, 1, 1),
                format!(
                    "{} is {len} bytes, over the limit of {max} ([limits] {setting})",
                    input.what()
                ),
            ));
        }
        Ok(())
    }

    fn too_deep(&self, input: Input, name: &str, text: &str, offset: usize) -> Error {
        Error::at(
            ErrorCode::InputTooDeep,
            Location::at_offset(name, text, offset),
            format!(
                "{} nests deeper than {} levels ([limits] max_depth)",
                input.what(),
                self.depth()
            ),
        )
    }

    /// Size and bracket depth of a JSON text.
    pub(crate) fn check_json(&self, input: Input, name: &str, text: &str) -> Result<()> {
        self.check_size(input, name, text.len())?;
        match json_too_deep(text.as_bytes(), self.depth()) {
            Some(offset) => Err(self.too_deep(input, name, text, offset)),
            None => Ok(()),
        }
    }

    /// Size and nesting depth (flow brackets and indentation) of a YAML text.
    pub(crate) fn check_yaml(&self, input: Input, name: &str, text: &str) -> Result<()> {
        self.check_size(input, name, text.len())?;
        match yaml_too_deep(text, self.depth()) {
            Some(offset) => Err(self.too_deep(input, name, text, offset)),
            None => Ok(()),
        }
    }

    /// Size and nesting depth of a TOML text (brackets and dotted keys).
    pub(crate) fn check_toml(&self, name: &str, text: &str) -> Result<()> {
        self.check_size(Input::Config, name, text.len())?;
        match toml_too_deep(text.as_bytes(), self.depth()) {
            Some(offset) => Err(self.too_deep(Input::Config, name, text, offset)),
            None => Ok(()),
        }
    }

    /// Size, bracket depth and operators per policy of a Cedar policy text.
    pub(crate) fn check_policies(&self, name: &str, text: &str) -> Result<()> {
        self.check_size(Input::Policy, name, text.len())?;
        match cedar_scan(
            text.as_bytes(),
            self.depth(),
            false,
            self.max_policy_operators,
        ) {
            Some((offset, CedarExcess::Depth)) => {
                Err(self.too_deep(Input::Policy, name, text, offset))
            }
            Some((offset, CedarExcess::Operators)) => Err(Error::at(
                ErrorCode::InputTooDeep,
                Location::at_offset(name, text, offset),
                format!(
                    "policy has more than {} operators ([limits] max_policy_operators)",
                    self.max_policy_operators
                ),
            )),
            None => Ok(()),
        }
    }

    /// Size and nesting depth (brackets, `Set<…>`) of a Cedar schema text.
    pub(crate) fn check_cedar_schema(&self, name: &str, text: &str) -> Result<()> {
        self.check_size(Input::Schema, name, text.len())?;
        match cedar_scan(text.as_bytes(), self.depth(), true, usize::MAX) {
            Some((offset, _)) => Err(self.too_deep(Input::Schema, name, text, offset)),
            None => Ok(()),
        }
    }

    /// Depth and approximate size of a JSON value built by a caller (a
    /// binding's request or context), walked without recursion.
    pub fn check_value(&self, what: &str, value: &Value) -> Result<()> {
        let depth = self.depth();
        let mut size = 0usize;
        let mut stack: Vec<(&Value, usize)> = vec![(value, 1)];
        while let Some((v, d)) = stack.pop() {
            size = size.saturating_add(8);
            match v {
                Value::Array(items) => {
                    if d > depth {
                        return Err(Error::new(
                            ErrorCode::InputTooDeep,
                            format!("{what} nests deeper than {depth} levels ([limits] max_depth)"),
                        ));
                    }
                    stack.extend(items.iter().map(|i| (i, d + 1)));
                }
                Value::Object(map) => {
                    if d > depth {
                        return Err(Error::new(
                            ErrorCode::InputTooDeep,
                            format!("{what} nests deeper than {depth} levels ([limits] max_depth)"),
                        ));
                    }
                    for (k, item) in map {
                        size = size.saturating_add(k.len());
                        stack.push((item, d + 1));
                    }
                }
                Value::String(s) => size = size.saturating_add(s.len()),
                _ => {}
            }
            if size > self.max_request_bytes {
                return Err(Error::new(
                    ErrorCode::InputTooLarge,
                    format!(
                        "{what} is over the limit of {} bytes ([limits] max_request_bytes)",
                        self.max_request_bytes
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The one strict JSON reader: size and depth first, then a parse that
/// rejects duplicate keys. Errors are located in `name`; a syntax error or a
/// duplicate key carries the parse code of `input`.
pub fn parse_json(limits: &Limits, input: Input, name: &str, text: &str) -> Result<Value> {
    read_json(limits, input, name, text, |de| StrictValue.deserialize(de))
}

/// [`parse_json`] straight into `T`, without the intermediate value: the same
/// size and depth checks first. A repeated key is refused by `T` itself:
/// serde's derive refuses a repeated field, and free-form maps inside `T`
/// must be read with [`strict_map`].
pub fn parse_json_as<T: serde::de::DeserializeOwned>(
    limits: &Limits,
    input: Input,
    name: &str,
    text: &str,
) -> Result<T> {
    read_json(limits, input, name, text, |de| T::deserialize(de))
}

type JsonReader<'t> = serde_json::Deserializer<serde_json::de::StrRead<'t>>;

/// Size and depth checks, then `read` over the whole text, its errors located.
fn read_json<T>(
    limits: &Limits,
    input: Input,
    name: &str,
    text: &str,
    read: impl FnOnce(&mut JsonReader<'_>) -> serde_json::Result<T>,
) -> Result<T> {
    limits.check_json(input, name, text)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = read(&mut de).and_then(|v| {
        de.end()?;
        Ok(v)
    });
    value.map_err(|e| {
        Error::at(
            input.parse_code(),
            Location::line_col(name, e.line(), e.column()),
            e.to_string(),
        )
    })
}

/// A JSON object read as by [`parse_json`] (a repeated key is an error), for
/// `#[serde(deserialize_with)]` on a free-form map inside a typed document.
pub fn strict_map<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Map<String, Value>, D::Error> {
    match StrictValue.deserialize(d)? {
        Value::Object(map) => Ok(map),
        // Anything else: serde's own "invalid type" error.
        other => serde_json::from_value(other).map_err(serde::de::Error::custom),
    }
}

/// [`parse_json`] for a byte line (journal, decision log): invalid UTF-8 is a syntax error.
pub fn parse_json_bytes(limits: &Limits, input: Input, name: &str, bytes: &[u8]) -> Result<Value> {
    limits.check_size(input, name, bytes.len())?;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::at(
            input.parse_code(),
            Location::line_col(name, 1, e.valid_up_to() + 1),
            format!("not UTF-8: {e}"),
        )
    })?;
    parse_json(limits, input, name, text)
}

/// The strict YAML reader: size and depth first, then a parse into a JSON
/// value that rejects duplicate keys.
pub fn parse_yaml(limits: &Limits, input: Input, name: &str, text: &str) -> Result<Value> {
    limits.check_yaml(input, name, text)?;
    let de = serde_norway::Deserializer::from_str(text);
    StrictValue.deserialize(de).map_err(|e| match e.location() {
        Some(l) => Error::at(
            input.parse_code(),
            Location::line_col(name, l.line(), l.column()),
            e.to_string(),
        ),
        None => Error::at(
            input.parse_code(),
            Location::line_col(name, 1, 1),
            e.to_string(),
        ),
    })
}

/// [`parse_json`] or [`parse_yaml`] by the source's name (`.json` is JSON).
pub fn parse_document(limits: &Limits, input: Input, src: &Source) -> Result<Value> {
    if src.name.ends_with(".json") {
        parse_json(limits, input, &src.name, &src.text)
    } else {
        parse_yaml(limits, input, &src.name, &src.text)
    }
}

/// Deserializes any self-describing format into a [`Value`], rejecting a
/// key that appears twice in one object. Recursion is bounded by the depth
/// scan that runs before it.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number must be finite"))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        StrictValue.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(StrictValue)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Offset of the first bracket that nests deeper than `max` in a JSON text
/// (strings and their escapes skipped).
fn json_too_deep(bytes: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CedarExcess {
    Depth,
    Operators,
}

/// One pass over Cedar text (policies or schema): bracket depth (`<`/`>` too
/// for schemas, where they only open and close `Set<…>`), and for policies
/// the operators of each statement (a statement ends at `;` outside
/// brackets). Strings, their escapes and `//` comments are skipped.
fn cedar_scan(
    bytes: &[u8],
    max_depth: usize,
    angles: bool,
    max_operators: usize,
) -> Option<(usize, CedarExcess)> {
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        match b {
            b'"' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    if c == b'\\' {
                        i += 1;
                    } else if c == b'"' {
                        break;
                    }
                    i += 1;
                }
            }
            b'/' if next == Some(b'/') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Some((i, CedarExcess::Depth));
                }
            }
            b'<' if angles => {
                depth += 1;
                if depth > max_depth {
                    return Some((i, CedarExcess::Depth));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'>' if angles => depth = depth.saturating_sub(1),
            b';' if depth == 0 => operators = 0,
            _ if !angles => {
                let (counted, width) = cedar_operator(b, next, bytes, i);
                if counted {
                    operators += 1;
                    if operators > max_operators {
                        return Some((i, CedarExcess::Operators));
                    }
                }
                i += width;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether the token at `i` is an operator that nests the expression tree one
/// level (binary and unary operators, `.`, `if`/`then`/`else`, `in`, `has`,
/// `like`, `is`),
/// and how many bytes to step over.
fn cedar_operator(b: u8, next: Option<u8>, bytes: &[u8], i: usize) -> (bool, usize) {
    match (b, next) {
        (b'|', Some(b'|')) | (b'&', Some(b'&')) => (true, 2),
        (b'=', Some(b'=')) | (b'!', Some(b'=')) | (b'<', Some(b'=')) | (b'>', Some(b'=')) => {
            (true, 2)
        }
        (b'<' | b'>' | b'+' | b'-' | b'*' | b'!' | b'.', _) => (true, 1),
        (c, _) if c.is_ascii_alphabetic() || c == b'_' => {
            let start = i;
            let mut end = i;
            while bytes
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                end += 1;
            }
            // An identifier glued to a previous one is not a keyword.
            let glued = start > 0
                && bytes
                    .get(start - 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
            let word = bytes.get(start..end).unwrap_or_default();
            let keyword = matches!(
                word,
                b"if" | b"then" | b"else" | b"in" | b"has" | b"like" | b"is"
            );
            (keyword && !glued, (end - start).max(1))
        }
        _ => (false, 1),
    }
}

/// Offset where a TOML text nests deeper than `max`: brackets plus the dots
/// of dotted keys on the same line (each dot is one more table level).
fn toml_too_deep(bytes: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut line_dots = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' | b'\'' => {
                let triple = bytes.get(i + 1) == Some(&b) && bytes.get(i + 2) == Some(&b);
                let basic = b == b'"';
                i += if triple { 3 } else { 1 };
                while let Some(&c) = bytes.get(i) {
                    if basic && c == b'\\' {
                        i += 2;
                        continue;
                    }
                    if c == b {
                        if !triple {
                            break;
                        }
                        if bytes.get(i + 1) == Some(&b) && bytes.get(i + 2) == Some(&b) {
                            i += 2;
                            break;
                        }
                    }
                    if c == b'\n' && !triple {
                        break;
                    }
                    i += 1;
                }
            }
            b'#' => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'\n' => line_dots = 0,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'.' => {
                let digit = |j: Option<&u8>| j.is_some_and(u8::is_ascii_digit);
                if !(digit(i.checked_sub(1).and_then(|j| bytes.get(j))) && digit(bytes.get(i + 1)))
                {
                    line_dots += 1;
                }
            }
            _ => {}
        }
        if depth + line_dots > max {
            return Some(i.min(bytes.len()));
        }
        i += 1;
    }
    None
}

/// Offset where a YAML text nests deeper than `max`. A conservative bound:
/// flow brackets, plus one level per enclosing indentation, plus one per
/// `- ` or `key: ` that opens a nested node on the same line. Block scalars
/// (`|`, `>`) are skipped.
fn yaml_too_deep(text: &str, max: usize) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut block_scalar: Option<usize> = None;
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start_matches(' ').len();
        let rest = content.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        if let Some(parent) = block_scalar {
            if indent > parent {
                continue;
            }
            block_scalar = None;
        }
        if flow == 0 {
            while indents.last().is_some_and(|&top| top >= indent) {
                indents.pop();
            }
            indents.push(indent);
        }
        let mut inline = 0usize;
        let bytes = rest.as_bytes();
        let mut i = 0;
        let mut quote: Option<u8> = None;
        while let Some(&b) = bytes.get(i) {
            match quote {
                Some(q) => {
                    if q == b'"' && b == b'\\' {
                        i += 1;
                    } else if b == q {
                        quote = None;
                    }
                }
                None => match b {
                    b'"' | b'\''
                        if i == 0
                            || matches!(
                                bytes.get(i - 1),
                                Some(b' ' | b'[' | b'{' | b',' | b':')
                            ) =>
                    {
                        quote = Some(b)
                    }
                    b'#' if i > 0 && bytes.get(i - 1) == Some(&b' ') => break,
                    b'[' | b'{' => flow += 1,
                    b']' | b'}' => flow = flow.saturating_sub(1),
                    b'-' | b':' | b'?'
                        if flow == 0
                            && matches!(bytes.get(i + 1), Some(b' ') | None)
                            && (b != b'-' || i == 0 || bytes.get(i - 1) == Some(&b' ')) =>
                    {
                        inline += 1
                    }
                    _ => {}
                },
            }
            if indents.len() + flow + inline > max {
                return Some(start + indent + i);
            }
            i += 1;
        }
        let trimmed = rest.trim_end();
        let tail = trimmed.rsplit(' ').next().unwrap_or("");
        if tail.starts_with(['|', '>'])
            && tail[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
        {
            block_scalar = Some(indent);
        }
    }
    None
}

#[cfg(not(target_family = "wasm"))]
/// Stack size of the thread that compiles a bundle. Cedar's parser, its
/// schema and policy conversions and the drop of their trees recurse once
/// per nesting level without a stack check; the limits above keep that
/// depth bounded, and this stack is sized so the bounded depth always fits
/// whatever thread the caller is on (a Node worker or a Python thread may
/// have far less). Untouched pages are never committed.
const COMPILE_STACK_BYTES: usize = 64 << 20;

/// Runs `f` where threads cannot be started (WebAssembly): the limits alone
/// bound the depth there, and a trap resets the instance rather than the host.
#[cfg(target_family = "wasm")]
pub(crate) fn on_large_stack<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    f()
}

/// Runs `f` on a thread with a known large stack and returns its result.
#[cfg(not(target_family = "wasm"))]
pub(crate) fn on_large_stack<T: Send>(f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| joined(spawn_compile(scope, f)?.join()))
}

/// Runs `background` and `foreground` at once, `background` on a second
/// thread with the compile stack; both results once both are done.
#[cfg(not(target_family = "wasm"))]
pub(crate) fn side_by_side<T: Send, U>(
    background: impl FnOnce() -> Result<T> + Send,
    foreground: impl FnOnce() -> U,
) -> (U, Result<T>) {
    std::thread::scope(|scope| match spawn_compile(scope, background) {
        Ok(handle) => {
            let front = foreground();
            (front, joined(handle.join()))
        }
        Err(e) => (foreground(), Err(e)),
    })
}

/// Starts `f` on a thread with the compile stack.
#[cfg(not(target_family = "wasm"))]
fn spawn_compile<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Result<std::thread::ScopedJoinHandle<'scope, T>> {
    std::thread::Builder::new()
        .name("agentauthz-compile".into())
        .stack_size(COMPILE_STACK_BYTES)
        .spawn_scoped(scope, f)
        .map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot start the compile thread: {e}"),
            )
        })
}

/// A compile thread's result; its panic is an internal error.
#[cfg(not(target_family = "wasm"))]
fn joined<T>(result: std::thread::Result<Result<T>>) -> Result<T> {
    result.unwrap_or_else(|_| {
        Err(Error::new(
            ErrorCode::Internal,
            "compiling the bundle failed unexpectedly",
        ))
    })
}

/// [`side_by_side`] where threads cannot be started (WebAssembly): one after the other.
#[cfg(target_family = "wasm")]
pub(crate) fn side_by_side<T: Send, U>(
    background: impl FnOnce() -> Result<T> + Send,
    foreground: impl FnOnce() -> U,
) -> (U, Result<T>) {
    let front = foreground();
    (front, background())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lim(depth: usize) -> Limits {
        Limits {
            max_depth: depth,
            ..Limits::default()
        }
    }

    #[test]
    fn json_depth_ignores_brackets_in_strings() {
        assert_eq!(json_too_deep(br#"{"a":"[[[[[[\"[[["}"#, 2), None);
        assert_eq!(json_too_deep(br#"[[["#, 2), Some(2));
        assert_eq!(json_too_deep(br#"[[]][[]]"#, 2), None);
    }

    #[test]
    fn strict_json_rejects_duplicate_keys_with_location() {
        let l = Limits::default();
        let e = parse_json(&l, Input::Request, "r", "{\"a\":1,\n \"a\":2}").unwrap_err();
        assert_eq!(e.code, ErrorCode::RequestParse);
        assert!(e.message().contains("duplicate key `a`"), "{e}");
        assert_eq!(e.location().map(|l| l.line), Some(2));
        let nested = r#"{"x":{"b":1,"c":{"b":2,"b":3}}}"#;
        assert!(parse_json(&l, Input::Request, "r", nested).is_err());
        let ok = r#"{"x":{"b":1,"c":{"b":2}},"b":[{"b":1},{"b":2}]}"#;
        assert_eq!(
            parse_json(&l, Input::Request, "r", ok).unwrap(),
            serde_json::from_str::<Value>(ok).unwrap()
        );
    }

    #[test]
    fn strict_json_rejects_trailing_text_and_deep_input() {
        let l = lim(4);
        assert!(parse_json(&l, Input::Request, "r", "{} {}").is_err());
        let e = parse_json(&l, Input::Request, "r", "[[[[[1]]]]]").unwrap_err();
        assert_eq!(e.code, ErrorCode::InputTooDeep);
        assert_eq!(e.location().map(|l| l.column), Some(5));
        let e = parse_json(
            &Limits::default(),
            Input::Request,
            "r",
            &"[".repeat(100_000),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InputTooDeep);
    }

    #[test]
    fn strict_yaml_rejects_duplicate_keys() {
        let l = Limits::default();
        let e = parse_yaml(
            &l,
            Input::Inventory,
            "i.yaml",
            "a:\n  status: suspended\n  status: active\n",
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InventoryParse);
        assert!(e.message().contains("duplicate key `status`"), "{e}");
        let v = parse_yaml(
            &l,
            Input::Inventory,
            "i.yaml",
            "a:\n  - b: 1\n    c: [1, {d: 2}]\n",
        )
        .unwrap();
        assert_eq!(v, serde_json::json!({"a": [{"b": 1, "c": [1, {"d": 2}]}]}));
    }

    #[test]
    fn yaml_depth_counts_indentation_flow_and_inline_nodes() {
        let deep: String = (0..70)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(yaml_too_deep(&deep, 64).is_some());
        let shallow: String = (0..20)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert_eq!(yaml_too_deep(&shallow, 64), None);
        assert!(yaml_too_deep(&"- ".repeat(100), 64).is_some());
        assert!(yaml_too_deep(&"[".repeat(100), 64).is_some());
        assert_eq!(
            yaml_too_deep("a: \"[[[[[[[[[[\"\nb: |\n  [[[[[[[[[\n", 4),
            None
        );
        // Keys of a flow mapping are siblings, not levels.
        let keys: Vec<String> = (0..200).map(|i| format!("k{i}: {i}")).collect();
        let wide = format!("r: [{{{}}}]\n", keys.join(", "));
        assert_eq!(yaml_too_deep(&wide, 8), None);
    }

    #[test]
    fn cedar_scan_counts_brackets_outside_strings_and_comments() {
        let p = format!(
            "permit(principal, action, resource) when {{ {}true{} }};",
            "(".repeat(70),
            ")".repeat(70)
        );
        assert!(cedar_scan(p.as_bytes(), 64, false, usize::MAX).is_some());
        let s =
            "// ((((((((\npermit(principal, action, resource) when { \"((((((\\\"((((\" == \"\" };";
        assert_eq!(cedar_scan(s.as_bytes(), 4, false, usize::MAX), None);
        let schema = format!(
            "entity A {{ x: {}String{} }};",
            "Set<".repeat(70),
            ">".repeat(70)
        );
        assert!(cedar_scan(schema.as_bytes(), 64, true, usize::MAX).is_some());
    }

    #[test]
    fn cedar_scan_counts_operators_per_policy() {
        let chain = vec!["context.a == 1"; 100].join(" || ");
        let p = format!("permit(principal, action, resource) when {{ {chain} }};");
        // 100 `==`, 99 `||`, 100 `.`
        assert_eq!(cedar_scan(p.as_bytes(), 64, false, 299), None);
        assert!(cedar_scan(p.as_bytes(), 64, false, 298).is_some());
        let two = format!("{p}\n{p}");
        assert_eq!(cedar_scan(two.as_bytes(), 64, false, 299), None);
        let words = "permit(principal, action, resource) when { context.inside && context.isx };";
        assert_eq!(cedar_scan(words.as_bytes(), 64, false, 3), None);
    }

    #[test]
    fn toml_depth_counts_brackets_and_dotted_keys() {
        assert!(toml_too_deep(
            format!("a = {}1{}", "[".repeat(70), "]".repeat(70)).as_bytes(),
            64
        )
        .is_some());
        assert!(toml_too_deep(format!("{} = 1", vec!["a"; 70].join(".")).as_bytes(), 64).is_some());
        assert_eq!(
            toml_too_deep(b"x = 1.5\ny = \"[[[[[[[[\"\n[log]\npath = 'a.b.c'\n", 4),
            None
        );
    }

    #[test]
    fn check_value_walks_without_recursion() {
        let l = Limits::default();
        let mut v = Value::Null;
        for _ in 0..100 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(
            l.check_value("request", &v).unwrap_err().code,
            ErrorCode::InputTooDeep
        );
        let big = Value::String("x".repeat(2 << 20));
        assert_eq!(
            l.check_value("request", &big).unwrap_err().code,
            ErrorCode::InputTooLarge
        );
        assert!(l
            .check_value("request", &serde_json::json!({"a": [1, {"b": "c"}]}))
            .is_ok());
    }

    #[test]
    fn configured_depth_is_capped() {
        assert_eq!(lim(1_000_000).depth(), MAX_DEPTH_CEILING);
        assert_eq!(lim(0).depth(), 1);
    }
}
