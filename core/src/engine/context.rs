//! Fast context construction. Parsing a context from JSON with the schema
//! costs tens of microseconds; most of it is schema lookups repeated per call.
//! Here each action's context type is resolved once, at compile time, and a
//! request's JSON is turned into typed values directly. Anything the fast path
//! does not fully understand falls back to Cedar's own parser, so values and
//! error messages stay exactly Cedar's.
//!
//! A context built here conforms to the action's context type by construction
//! (closed records, required attributes, primitive, entity and extension
//! types), and is built from values as Cedar's `Context::from_pairs` would
//! build it, extension values evaluated by Cedar's evaluator. It need not be
//! validated against the schema again (`verified`) unless a standard field the
//! engine adds is not what the type declares. Type names are resolved as Cedar
//! resolves them; a name whose resolution is in any doubt makes the action's
//! context type unknown here,
//! which sends its requests to Cedar's parser.

use super::cache::{BoundedCache, FxMap};
use super::usage::{UsageField, UsageNumber, UsageReads};
use cedar_policy::{EntityId, EntityTypeName, EntityUid};
use cedar_policy_core::ast;
use cedar_policy_core::evaluator::RestrictedEvaluator;
use cedar_policy_core::extensions::Extensions;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::OnceLock;

/// Evaluated extension values are kept per text (source addresses, amounts
/// and the engine clock's `now` repeat), up to this many per extension; a
/// full cache starts over, so values that stop coming do not stay.
const EXTENSION_CACHE_CAPACITY: usize = 4096;
/// Longer texts are evaluated every time: a hostile caller cannot fill the
/// cache with large strings.
const MAX_CACHED_TEXT: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Extension {
    Ip,
    Decimal,
    Datetime,
    Duration,
}

impl Extension {
    /// The name of the one-argument constructor of the extension type.
    fn constructor(self) -> &'static str {
        match self {
            Extension::Ip => "ip",
            Extension::Decimal => "decimal",
            Extension::Datetime => "datetime",
            Extension::Duration => "duration",
        }
    }

    fn index(self) -> usize {
        match self {
            Extension::Ip => 0,
            Extension::Decimal => 1,
            Extension::Datetime => 2,
            Extension::Duration => 3,
        }
    }
}

/// The constructor names, parsed once: Cedar's `RestrictedExpression::new_ip`
/// and friends parse the name on every call, which costs more than the check.
fn constructor_name(ext: Extension) -> Option<&'static ast::Name> {
    static NAMES: OnceLock<[Option<ast::Name>; 4]> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        [
            Extension::Ip,
            Extension::Decimal,
            Extension::Datetime,
            Extension::Duration,
        ]
        .map(|e| ast::Name::from_str(e.constructor()).ok())
    });
    names.get(ext.index())?.as_ref()
}

fn extension_cache(ext: Extension) -> Option<&'static BoundedCache<Box<str>, ast::Value>> {
    static CACHES: OnceLock<[BoundedCache<Box<str>, ast::Value>; 4]> = OnceLock::new();
    CACHES
        .get_or_init(|| std::array::from_fn(|_| BoundedCache::new(EXTENSION_CACHE_CAPACITY)))
        .get(ext.index())
}

/// `ext(text)` evaluated by Cedar's own evaluator (the one `Context::from_pairs`
/// uses), so the value is Cedar's; `None` when Cedar rejects the text (the
/// caller then leaves the whole context to Cedar's parser, for its error).
pub(crate) fn extension_value(ext: Extension, text: &str) -> Option<ast::Value> {
    let cache = (text.len() <= MAX_CACHED_TEXT)
        .then(|| extension_cache(ext))
        .flatten();
    if let Some(v) = cache.and_then(|c| c.get(text)) {
        return Some(v);
    }
    let call = ast::RestrictedExpr::call_extension_fn(
        constructor_name(ext)?.clone(),
        [ast::RestrictedExpr::val(text)],
    );
    let value = RestrictedEvaluator::new(Extensions::all_available())
        .interpret(call.as_borrowed())
        .ok()?;
    if let Some(c) = cache {
        c.insert_evicting(text.into(), value.clone());
    }
    Some(value)
}

/// A context from its attributes, as `Context::from_pairs` would build it from
/// the same values; `None` on a repeated name.
pub(crate) fn context_of(pairs: Vec<(String, ast::Value)>) -> Option<cedar_policy::Context> {
    let n = pairs.len();
    let record = ast::Value::record(pairs, None);
    match record.value {
        ast::ValueKind::Record(attrs) if attrs.len() == n => {
            Some(cedar_policy::Context::from(ast::Context::Value(attrs)))
        }
        _ => None,
    }
}

/// An entity type the fast path accepts by name: only the exact text Cedar
/// would print (and its JSON parser accepts) for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntityType {
    pub name: EntityTypeName,
    text: Box<str>,
}

impl EntityType {
    pub fn new(name: EntityTypeName) -> EntityType {
        let text = name.to_string().into_boxed_str();
        EntityType { name, text }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum AttrType {
    String,
    Long,
    Bool,
    /// An entity of this declared type; `None` when the type is enumerated, an
    /// action type or not understood here (such values go to Cedar's parser).
    Entity(Option<EntityType>),
    Set(Box<AttrType>),
    Record(RecordType),
    Extension(Extension),
}

/// A closed record type: every attribute with whether it is required.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordType {
    pub attrs: FxMap<String, (AttrType, bool)>,
    /// An action's context declares `usage` with the engine's type: compared
    /// once when the schema is read, not on every check.
    pub declares_usage: bool,
}

const MAX_DEPTH: usize = 32;

/// Resolves the context record type of every action of a JSON schema.
/// Actions whose context uses a construct the fast path does not handle are absent.
pub(crate) fn context_types(schema_json: &Value) -> HashMap<EntityUid, RecordType> {
    let mut out = HashMap::new();
    let Some(namespaces) = schema_json.as_object() else {
        return out;
    };
    for (ns, def) in namespaces {
        let resolver = Resolver {
            namespaces,
            base: base_entity_types(),
            current: ns,
        };
        let Some(actions) = def.get("actions").and_then(Value::as_object) else {
            continue;
        };
        for (name, action) in actions {
            let Some(applies) = action.get("appliesTo") else {
                continue;
            };
            let context = applies
                .get("context")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "Record", "attributes": {}}));
            let type_name = if ns.is_empty() {
                "Action".to_string()
            } else {
                format!("{ns}::Action")
            };
            let Ok(type_name) = EntityTypeName::from_str(&type_name) else {
                continue;
            };
            let uid = EntityUid::from_type_name_and_id(type_name, EntityId::new(name));
            if let Some(AttrType::Record(mut record)) = resolver.resolve(&context, 0) {
                record.declares_usage = record
                    .attrs
                    .get("usage")
                    .is_some_and(|(declared, _)| same_type(declared, usage_type()));
                out.insert(uid, record);
            }
        }
    }
    out
}

/// The attribute record type of every entity type of a JSON schema (and of
/// the base types it does not redeclare), by the type's name as Cedar prints
/// it; action types with no attributes. Types whose shape uses a construct the
/// fast path does not handle are absent.
pub(crate) fn entity_shapes(
    schema_json: &Value,
) -> HashMap<Box<str>, (EntityTypeName, RecordType)> {
    let mut out = HashMap::new();
    let empty = Map::new();
    let namespaces = schema_json.as_object().unwrap_or(&empty);
    let declared = |ns: &str| {
        namespaces
            .get(ns)
            .and_then(|d| d.get("entityTypes"))
            .and_then(Value::as_object)
    };
    let mut types: Vec<(&str, &str, Option<&Value>)> = Vec::new();
    for ns in namespaces.keys() {
        for (short, decl) in declared(ns).into_iter().flatten() {
            types.push((ns, short, Some(decl)));
        }
        types.push((ns, "Action", None));
    }
    for (short, decl) in base_entity_types() {
        if declared("").is_none_or(|d| !d.contains_key(short)) {
            types.push(("", short, Some(decl)));
        }
    }
    for (ns, short, decl) in types {
        let resolver = Resolver {
            namespaces,
            base: base_entity_types(),
            current: ns,
        };
        let shape = match decl.and_then(|d| d.get("shape")) {
            None => Some(AttrType::Record(RecordType::default())),
            Some(shape) => resolver.resolve(shape, 0),
        };
        let full = if ns.is_empty() {
            short.to_string()
        } else {
            format!("{ns}::{short}")
        };
        let Ok(name) = EntityTypeName::from_str(&full) else {
            continue;
        };
        // Only the exact text Cedar prints for the name.
        if name.to_string() != full {
            continue;
        }
        if let Some(AttrType::Record(record)) = shape {
            out.insert(full.into_boxed_str(), (name, record));
        }
    }
    out
}

struct Resolver<'a> {
    namespaces: &'a Map<String, Value>,
    /// The base types (empty namespace), which the schema JSON of a bundle
    /// with agentauthz's base types leaves out.
    base: &'a Map<String, Value>,
    current: &'a str,
}

pub(super) fn base_entity_types() -> &'static Map<String, Value> {
    static BASE: OnceLock<Map<String, Value>> = OnceLock::new();
    BASE.get_or_init(|| {
        cedar_policy::SchemaFragment::from_cedarschema_str(crate::schema::BASE_SCHEMA)
            .ok()
            .and_then(|(f, _)| f.to_json_value().ok())
            .and_then(|j| j.get("")?.get("entityTypes")?.as_object().cloned())
            .unwrap_or_default()
    })
}

impl Resolver<'_> {
    fn resolve(&self, ty: &Value, depth: usize) -> Option<AttrType> {
        if depth > MAX_DEPTH {
            return None;
        }
        let kind = ty.get("type")?.as_str()?;
        match kind {
            "String" => Some(AttrType::String),
            "Long" => Some(AttrType::Long),
            "Boolean" => Some(AttrType::Bool),
            "Entity" => self.entity(ty.get("name")?.as_str()?),
            "Set" => Some(AttrType::Set(Box::new(
                self.resolve(ty.get("element")?, depth + 1)?,
            ))),
            "Record" => {
                if ty.get("additionalAttributes").and_then(Value::as_bool) == Some(true) {
                    return None;
                }
                let mut record = RecordType::default();
                for (name, attr) in ty.get("attributes")?.as_object()? {
                    let required = attr
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    record
                        .attrs
                        .insert(name.clone(), (self.resolve(attr, depth + 1)?, required));
                }
                Some(AttrType::Record(record))
            }
            "Extension" => extension(ty.get("name")?.as_str()?),
            "EntityOrCommon" => self.named(ty.get("name")?.as_str()?, depth),
            other => self.named(other, depth),
        }
    }

    /// A type given by name, resolved in Cedar's order: a common type, then an
    /// entity type, of the current namespace; the same in the empty namespace;
    /// then a built-in type. `None` when the name is not understood here.
    fn named(&self, name: &str, depth: usize) -> Option<AttrType> {
        if let Some(builtin) = name.strip_prefix("__cedar::") {
            return builtin_type(builtin);
        }
        let (ns, short) = split(name)?;
        let mut spaces = vec![ns.unwrap_or(self.current)];
        if ns.is_none() && !self.current.is_empty() {
            spaces.push("");
        }
        for space in spaces {
            let def = self.namespaces.get(space);
            if let Some(common) = def
                .and_then(|d| d.get("commonTypes"))
                .and_then(|c| c.get(short))
            {
                // Names inside a common type resolve in its own namespace.
                let inner = Resolver {
                    current: space,
                    ..*self
                };
                return inner.resolve(common, depth + 1);
            }
            if let Some(decl) = self.entity_decl(space, short) {
                return Some(entity_type(space, short, decl));
            }
        }
        if ns.is_some() {
            return Some(AttrType::Entity(None));
        }
        builtin_type(short).or(Some(AttrType::Entity(None)))
    }

    /// An entity type given by name: of the current namespace, else of the empty one.
    fn entity(&self, name: &str) -> Option<AttrType> {
        let (ns, short) = split(name)?;
        let mut spaces = vec![ns.unwrap_or(self.current)];
        if ns.is_none() && !self.current.is_empty() {
            spaces.push("");
        }
        for space in spaces {
            if let Some(decl) = self.entity_decl(space, short) {
                return Some(entity_type(space, short, decl));
            }
        }
        Some(AttrType::Entity(None))
    }

    /// The declaration of entity type `short` of namespace `space`.
    fn entity_decl(&self, space: &str, short: &str) -> Option<&Value> {
        let declared = self
            .namespaces
            .get(space)
            .and_then(|d| d.get("entityTypes"))
            .and_then(|e| e.get(short));
        match declared {
            Some(d) => Some(d),
            None if space.is_empty() => self.base.get(short),
            None => None,
        }
    }
}

/// `ns::short` into its namespace (`None` when unqualified) and short name.
fn split(name: &str) -> Option<(Option<&str>, &str)> {
    match name.rfind("::") {
        Some(i) => Some((Some(name.get(..i)?), name.get(i + 2..)?)),
        None => Some((None, name)),
    }
}

fn builtin_type(name: &str) -> Option<AttrType> {
    match name {
        "String" => Some(AttrType::String),
        "Long" => Some(AttrType::Long),
        "Bool" | "Boolean" => Some(AttrType::Bool),
        n => extension(n),
    }
}

/// A declared entity type; enumerated types and action types (whose ids the
/// schema restricts) are left to Cedar.
fn entity_type(ns: &str, short: &str, decl: &Value) -> AttrType {
    if decl.get("enum").is_some() || short == "Action" {
        return AttrType::Entity(None);
    }
    let full = if ns.is_empty() {
        short.to_string()
    } else {
        format!("{ns}::{short}")
    };
    AttrType::Entity(EntityTypeName::from_str(&full).ok().map(EntityType::new))
}

fn extension(name: &str) -> Option<AttrType> {
    let ext = match name {
        "ipaddr" => Extension::Ip,
        "decimal" => Extension::Decimal,
        "datetime" => Extension::Datetime,
        "duration" => Extension::Duration,
        _ => return None,
    };
    Some(AttrType::Extension(ext))
}

/// Converts the fields of a context object, or `None` to defer to Cedar's
/// parser. Only values whose meaning is certain are converted here: an entity
/// of exactly the declared type, an extension value given as its constructor's
/// argument (plain or as the `__extn` escape of that constructor); anything
/// else (other escapes, mismatched types, bad extension text) goes to Cedar,
/// which gives the authoritative value or error.
pub(crate) fn fields(
    record: &RecordType,
    values: &Map<String, Value>,
    extra: &[&str],
) -> Option<Vec<(String, ast::Value)>> {
    let mut out = Vec::with_capacity(values.len() + extra.len());
    for (name, (_, required)) in &record.attrs {
        if *required && !values.contains_key(name) && !extra.contains(&name.as_str()) {
            return None;
        }
    }
    for (name, value) in values {
        let (ty, _) = record.attrs.get(name)?;
        out.push((name.clone(), convert(value, ty, 0)?));
    }
    Some(out)
}

/// Whether a standard field of this type (the datetime `now`, an entity, or
/// the `usage` record of longs) is what the record declares for it.
pub(crate) fn declares(record: &RecordType, name: &str, value: &AttrType) -> bool {
    if name == "usage" && std::ptr::eq(value, usage_type()) {
        return record.declares_usage;
    }
    match record.attrs.get(name) {
        Some((declared, _)) => same_type(declared, value),
        None => false,
    }
}

fn same_type(declared: &AttrType, value: &AttrType) -> bool {
    match (declared, value) {
        (AttrType::Extension(a), AttrType::Extension(b)) => a == b,
        (AttrType::Entity(Some(a)), AttrType::Entity(Some(b))) => a.name == b.name,
        (AttrType::Long, AttrType::Long) => true,
        (AttrType::Record(a), AttrType::Record(b)) => {
            a.attrs.len() == b.attrs.len()
                && b.attrs.iter().all(|(n, (t, req))| {
                    a.attrs
                        .get(n)
                        .is_some_and(|(d, dreq)| dreq == req && same_type(d, t))
                })
        }
        _ => false,
    }
}

/// The type of `context.usage`, resolved once.
pub(crate) fn usage_type() -> &'static AttrType {
    static USAGE: OnceLock<AttrType> = OnceLock::new();
    USAGE.get_or_init(|| {
        let none = Map::new();
        let resolver = Resolver {
            namespaces: &none,
            base: &none,
            current: "",
        };
        resolver
            .resolve(&crate::schema::usage_context_type(), 0)
            .unwrap_or(AttrType::Record(RecordType::default()))
    })
}

/// Which windows of `context.usage` the policies may read. A policy reads a
/// window when it names one of its numbers (`context.usage.calls_1h`,
/// `context.usage.action.calls_1m`, `context.usage.units_1d.tokens`). Any
/// other use of `context.usage` or of a record in it (as a whole value,
/// through `if`, or asking with `has` which fields it has), or of the whole
/// context (`context == {…}`) may observe every field: all.
pub(crate) fn usage_reads<'a>(
    policies: impl Iterator<Item = &'a cedar_policy::Policy>,
) -> UsageReads {
    let mut reads = UsageReads::NONE;
    for p in policies {
        let Some(body) = AsRef::<ast::Policy>::as_ref(p).non_scope_constraints() else {
            continue;
        };
        match body_usage_reads(body) {
            Some(r) => reads = reads.union(r),
            None => return UsageReads::ALL,
        }
    }
    reads
}

/// One policy's reads, or `None` when it uses usage other than by name.
/// Counts each node (`context`, `context.usage`, `context.usage.action`, …)
/// and the uses of it by `.name` or `has`: any other use is one more node
/// than uses.
fn body_usage_reads(body: &ast::Expr) -> Option<UsageReads> {
    // `context` is named by `.name` or `has`; usage and its records by `.name` only.
    let named = |e: &ast::Expr, parent: &dyn Fn(&ast::Expr) -> bool| match e.expr_kind() {
        ast::ExprKind::GetAttr { expr, .. } => parent(expr),
        ast::ExprKind::HasAttr { expr, .. } | ast::ExprKind::ExtHasAttr { expr, .. } => {
            is_context(expr) && parent(expr)
        }
        _ => false,
    };
    let mut reads = UsageReads::NONE;
    // Nodes of each kind, and their uses by name.
    let (mut contexts, mut usages, mut records) = ([0usize; 2], [0usize; 2], [0usize; 2]);
    for e in body.subexpressions() {
        contexts[0] += usize::from(is_context(e));
        contexts[1] += usize::from(named(e, &is_context));
        usages[0] += usize::from(is_usage(e));
        usages[1] += usize::from(named(e, &is_usage));
        records[0] += usize::from(usage_record(e).is_some());
        records[1] += usize::from(named(e, &|p| usage_record(p).is_some()));
        if let ast::ExprKind::ExtHasAttr { expr, attrs } = e.expr_kind() {
            // `context has usage.calls_1m` asks which fields usage has.
            if is_context(expr) && attrs.first().as_str() == "usage" && attrs.len() > 1 {
                return None;
            }
        }
        if let Some(attr) = attr_of(e, is_usage) {
            match UsageReads::field(attr)? {
                UsageField::Read(r) => reads = reads.union(r),
                UsageField::Record => {}
            }
        }
        if let ast::ExprKind::GetAttr { expr, attr } = e.expr_kind() {
            if let Some(record) = usage_record(expr) {
                reads = reads.union(UsageReads::record_field(record, attr)?);
            }
        }
    }
    (contexts[0] == contexts[1] && usages[0] == usages[1] && records[0] == records[1])
        .then_some(reads)
}

/// `NAME` of `e` when it is `PARENT.NAME` with `parent(PARENT)`.
fn attr_of(e: &ast::Expr, parent: impl Fn(&ast::Expr) -> bool) -> Option<&str> {
    match e.expr_kind() {
        ast::ExprKind::GetAttr { expr, attr } if parent(expr) => Some(attr.as_str()),
        _ => None,
    }
}

fn is_context(e: &ast::Expr) -> bool {
    matches!(e.expr_kind(), ast::ExprKind::Var(ast::Var::Context))
}

/// `context.usage`.
fn is_usage(e: &ast::Expr) -> bool {
    attr_of(e, is_context) == Some("usage")
}

/// `RECORD` of `context.usage.RECORD`, for a record of numbers.
fn usage_record(e: &ast::Expr) -> Option<&str> {
    attr_of(e, is_usage).filter(|a| matches!(UsageReads::field(a), Some(UsageField::Record)))
}

/// The number `e` reads when it is `context.usage.NAME` or
/// `context.usage.RECORD.NAME`.
pub(crate) fn usage_number(e: &ast::Expr) -> Option<UsageNumber> {
    if let Some(name) = attr_of(e, is_usage) {
        return UsageNumber::named(None, name);
    }
    let ast::ExprKind::GetAttr { expr, attr } = e.expr_kind() else {
        return None;
    };
    UsageNumber::named(Some(usage_record(expr)?), attr)
}

/// `context.usage` of an agent with nothing counted, built once.
pub(crate) fn zero_usage() -> &'static ast::Value {
    static ZERO: OnceLock<ast::Value> = OnceLock::new();
    ZERO.get_or_init(|| crate::engine::UsageCounts::default().value(UsageReads::ALL))
}

/// The one member of a JSON object, when it has exactly one.
fn single<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if o.len() == 1 {
        o.get(key)
    } else {
        None
    }
}

pub(crate) fn convert(value: &Value, ty: &AttrType, depth: usize) -> Option<ast::Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    match (ty, value) {
        (AttrType::String, Value::String(s)) => Some(ast::Value::from(s.as_str())),
        (AttrType::Long, Value::Number(n)) => n.as_i64().map(ast::Value::from),
        (AttrType::Bool, Value::Bool(b)) => Some(ast::Value::from(*b)),
        (AttrType::Entity(Some(expected)), Value::Object(o)) => {
            // `{"type", "id"}` or `{"__entity": {"type", "id"}}`.
            let o = match single(o, "__entity") {
                Some(Value::Object(inner)) => inner,
                Some(_) => return None,
                None => o,
            };
            if o.len() != 2 || o.get("type")?.as_str()? != &*expected.text {
                return None;
            }
            let id = o.get("id")?.as_str()?;
            let uid = EntityUid::from_type_name_and_id(expected.name.clone(), EntityId::new(id));
            Some(ast::Value::from(ast::EntityUID::from(uid)))
        }
        (AttrType::Set(element), Value::Array(items)) => {
            let items = items
                .iter()
                .map(|v| convert(v, element, depth + 1))
                .collect::<Option<Vec<_>>>()?;
            Some(ast::Value::set(items, None))
        }
        (AttrType::Record(record), Value::Object(o)) => {
            // An `__extn` member makes Cedar read the object as an escape.
            if o.contains_key("__extn") || o.contains_key("__entity") {
                return None;
            }
            let pairs = fields(record, o, &[])?;
            let n = pairs.len();
            let v = ast::Value::record(pairs, None);
            match &v.value {
                ast::ValueKind::Record(attrs) if attrs.len() == n => Some(v),
                _ => None,
            }
        }
        (AttrType::Extension(ext), Value::String(s)) => extension_value(*ext, s),
        (AttrType::Extension(ext), Value::Object(o)) => {
            // `{"__extn": {"fn": <this type's constructor>, "arg": "<text>"}}`.
            let Value::Object(call) = single(o, "__extn")? else {
                return None;
            };
            if call.len() != 2 || call.get("fn")?.as_str()? != ext.constructor() {
                return None;
            }
            extension_value(*ext, call.get("arg")?.as_str()?)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::usage_reads;
    use crate::engine::usage::UsageReads;
    use cedar_policy::PolicySet;
    use std::str::FromStr;

    fn reads(src: &str) -> UsageReads {
        let set = PolicySet::from_str(src).unwrap();
        usage_reads(set.policies())
    }

    fn window(path: &str) -> UsageReads {
        match path.split_once('.') {
            Some((record, name)) => UsageReads::record_field(record, name).unwrap(),
            None => match UsageReads::field(path) {
                Some(super::UsageField::Read(r)) => r,
                _ => panic!("{path}"),
            },
        }
    }

    #[test]
    fn a_policy_reads_the_usage_windows_it_names() {
        for (src, want) in [
            (
                "forbid(principal, action, resource) when { context.usage.calls_1m > 5 };",
                window("calls_1m"),
            ),
            (
                r#"forbid(principal, action, resource) when { context["usage"]["action"].calls_1h > 5 };"#,
                window("action.calls_1h"),
            ),
            (
                "forbid(principal, action, resource) when { context.a == 1 } unless { context.usage.units_1d.usd_cents < 9 && context.usage.calls_1d == 0 };",
                window("units_1d.usd_cents").union(window("calls_1d")),
            ),
            (
                "permit(principal, action, resource) when { context has usage && context has now };",
                UsageReads::NONE,
            ),
        ] {
            assert_eq!(reads(src), want, "{src}");
        }
    }

    #[test]
    fn any_other_use_of_usage_or_of_the_context_reads_every_window() {
        for src in [
            r#"permit(principal, action, resource) when { context == {"a": 1} };"#,
            "permit(principal, action, resource) when { (if true then context else {}).x == 1 };",
            "permit(principal, action, resource) when { (if true then context.usage else {}).calls_1m == 1 };",
            "permit(principal, action, resource) when { context.usage == {} };",
            "permit(principal, action, resource) when { context.usage.action == {} };",
            "permit(principal, action, resource) when { [context.usage.units_1h].contains(1) };",
            "permit(principal, action, resource) when { context.usage.calls_1y == 1 };",
            "permit(principal, action, resource) when { context.usage.action.tokens == 1 };",
            "permit(principal, action, resource) when { context.usage has calls_1m };",
            "permit(principal, action, resource) when { context.usage.action has calls_1h };",
            "permit(principal, action, resource) when { context has usage.calls_1m };",
            "permit(principal, action, resource) when { context has usage.units_1h.tokens };",
        ] {
            assert_eq!(reads(src), UsageReads::ALL, "{src}");
        }
    }

    #[test]
    fn a_policy_naming_only_other_fields_reads_no_window() {
        for src in [
            "permit(principal, action, resource);",
            "permit(principal, action, resource) when { context.task == Task::\"t\" && context has now };",
            r#"permit(principal, action, resource) when { context["usages"] == 1 && principal.usage == 2 };"#,
        ] {
            assert_eq!(reads(src), UsageReads::NONE, "{src}");
        }
    }
}
