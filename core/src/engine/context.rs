//! Fast context construction. Parsing a context from JSON with the schema
//! costs tens of microseconds; most of it is schema lookups repeated per call.
//! Here each action's context type is resolved once, at compile time, and a
//! request's JSON is turned into typed values directly. Anything the fast path
//! does not fully understand falls back to Cedar's own parser, so values and
//! error messages stay exactly Cedar's.
//!
//! A context built here conforms to the action's context type by construction
//! (closed records, required attributes, primitive and extension types), except
//! for entity values, whose type `fields` checks against the declared one and
//! reports as `verified`. A verified context need not be validated against the
//! schema again; an unverified one is (by `Request::new`), so its errors stay
//! Cedar's. Type names are resolved as Cedar resolves them; a name whose
//! resolution is in any doubt makes the action's context type unknown here,
//! which sends its requests to Cedar's parser.

use super::cache::{BoundedCache, FxMap};
use cedar_policy::{EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::OnceLock;

/// Cedar parses the extension function's name (`ip`, `datetime`, ...) each
/// time such an expression is built, which costs more than evaluating it;
/// built expressions are kept per (extension, text), up to this many.
const EXTENSION_CACHE_CAPACITY: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Extension {
    Ip,
    Decimal,
    Datetime,
    Duration,
}

type ExtensionKey = (Extension, Box<str>);

fn extension_cache() -> &'static BoundedCache<ExtensionKey, RestrictedExpression> {
    static CACHE: OnceLock<BoundedCache<ExtensionKey, RestrictedExpression>> = OnceLock::new();
    CACHE.get_or_init(|| BoundedCache::new(EXTENSION_CACHE_CAPACITY))
}

/// `ext(text)` as a restricted expression (unevaluated: Cedar evaluates and
/// checks it when the context is built).
pub(crate) fn extension_call(ext: Extension, text: &str) -> RestrictedExpression {
    let key: ExtensionKey = (ext, text.into());
    if let Some(e) = extension_cache().get(&key) {
        return e;
    }
    let e = match ext {
        Extension::Ip => RestrictedExpression::new_ip(text),
        Extension::Decimal => RestrictedExpression::new_decimal(text),
        Extension::Datetime => RestrictedExpression::new_datetime(text),
        Extension::Duration => RestrictedExpression::new_duration(text),
    };
    extension_cache().insert(key, e.clone());
    e
}

#[derive(Debug, Clone)]
pub(crate) enum AttrType {
    String,
    Long,
    Bool,
    /// An entity of this declared type; `None` when the type is enumerated, an
    /// action type or not understood here (the value is then never `verified`).
    Entity(Option<EntityTypeName>),
    Set(Box<AttrType>),
    Record(RecordType),
    Extension(Extension),
}

/// A closed record type: every attribute with whether it is required.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordType {
    pub attrs: FxMap<String, (AttrType, bool)>,
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
            if let Some(AttrType::Record(record)) = resolver.resolve(&context, 0) {
                out.insert(uid, record);
            }
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
    AttrType::Entity(EntityTypeName::from_str(&full).ok())
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
/// parser. `verified` is cleared if an entity value's type is not the declared one.
pub(crate) fn fields(
    record: &RecordType,
    values: &Map<String, Value>,
    extra: &[&str],
    verified: &mut bool,
) -> Option<Vec<(String, RestrictedExpression)>> {
    let mut out = Vec::with_capacity(values.len() + extra.len());
    for (name, (_, required)) in &record.attrs {
        if *required && !values.contains_key(name) && !extra.contains(&name.as_str()) {
            return None;
        }
    }
    for (name, value) in values {
        let (ty, _) = record.attrs.get(name)?;
        out.push((name.clone(), convert(value, ty, 0, verified)?));
    }
    Some(out)
}

/// Whether a standard field of this type (the datetime `now`, or an entity)
/// is what the record declares for it.
pub(crate) fn declares(record: &RecordType, name: &str, value: &AttrType) -> bool {
    match (record.attrs.get(name), value) {
        (Some((AttrType::Extension(a), _)), AttrType::Extension(b)) => a == b,
        (Some((AttrType::Entity(Some(a)), _)), AttrType::Entity(Some(b))) => a == b,
        _ => false,
    }
}

fn convert(
    value: &Value,
    ty: &AttrType,
    depth: usize,
    verified: &mut bool,
) -> Option<RestrictedExpression> {
    if depth > MAX_DEPTH {
        return None;
    }
    match (ty, value) {
        (AttrType::String, Value::String(s)) => Some(RestrictedExpression::new_string(s.clone())),
        (AttrType::Long, Value::Number(n)) => n.as_i64().map(RestrictedExpression::new_long),
        (AttrType::Bool, Value::Bool(b)) => Some(RestrictedExpression::new_bool(*b)),
        (AttrType::Entity(expected), Value::Object(o)) => {
            if o.len() != 2 {
                return None;
            }
            let type_name = EntityTypeName::from_str(o.get("type")?.as_str()?).ok()?;
            let id = o.get("id")?.as_str()?;
            if expected.as_ref() != Some(&type_name) {
                *verified = false;
            }
            Some(RestrictedExpression::new_entity_uid(
                EntityUid::from_type_name_and_id(type_name, EntityId::new(id)),
            ))
        }
        (AttrType::Set(element), Value::Array(items)) => {
            let items = items
                .iter()
                .map(|v| convert(v, element, depth + 1, verified))
                .collect::<Option<Vec<_>>>()?;
            Some(RestrictedExpression::new_set(items))
        }
        (AttrType::Record(record), Value::Object(o)) => {
            let pairs = fields(record, o, &[], verified)?;
            RestrictedExpression::new_record(pairs).ok()
        }
        (AttrType::Extension(ext), Value::String(s)) => Some(extension_call(*ext, s)),
        _ => None,
    }
}
