//! Fast context construction. Parsing a context from JSON with the schema
//! costs tens of microseconds; most of it is schema lookups repeated per call.
//! Here each action's context type is resolved once, at compile time, and a
//! request's JSON is turned into typed values directly. Anything the fast path
//! does not fully understand falls back to Cedar's own parser, so values and
//! error messages stay exactly Cedar's; `Request::new` validates the result
//! against the schema either way.

use super::cache::BoundedCache;
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
    Entity,
    Set(Box<AttrType>),
    Record(RecordType),
    Extension(Extension),
}

/// A closed record type: every attribute with whether it is required.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordType {
    pub attrs: HashMap<String, (AttrType, bool)>,
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
    current: &'a str,
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
            "Entity" => Some(AttrType::Entity),
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

    /// A type given by name: a common type, a primitive, an extension or an entity type.
    fn named(&self, name: &str, depth: usize) -> Option<AttrType> {
        if let Some(common) = self.common(name) {
            return self.resolve(common, depth + 1);
        }
        match name.strip_prefix("__cedar::").unwrap_or(name) {
            "String" => Some(AttrType::String),
            "Long" => Some(AttrType::Long),
            "Bool" | "Boolean" => Some(AttrType::Bool),
            n @ ("ipaddr" | "decimal" | "datetime" | "duration") => extension(n),
            _ => Some(AttrType::Entity),
        }
    }

    fn common(&self, name: &str) -> Option<&Value> {
        let (ns, short) = match name.rfind("::") {
            Some(i) => (name.get(..i)?, name.get(i + 2..)?),
            None => (self.current, name),
        };
        let lookup = |ns: &str| {
            self.namespaces
                .get(ns)
                .and_then(|d| d.get("commonTypes"))
                .and_then(|c| c.get(short))
        };
        lookup(ns).or_else(|| {
            (ns == self.current && !ns.is_empty())
                .then(|| lookup(""))
                .flatten()
        })
    }
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

/// Converts the fields of a context object, or `None` to defer to Cedar's parser.
pub(crate) fn fields(
    record: &RecordType,
    values: &Map<String, Value>,
    extra: &[&str],
) -> Option<Vec<(String, RestrictedExpression)>> {
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

fn convert(value: &Value, ty: &AttrType, depth: usize) -> Option<RestrictedExpression> {
    if depth > MAX_DEPTH {
        return None;
    }
    match (ty, value) {
        (AttrType::String, Value::String(s)) => Some(RestrictedExpression::new_string(s.clone())),
        (AttrType::Long, Value::Number(n)) => n.as_i64().map(RestrictedExpression::new_long),
        (AttrType::Bool, Value::Bool(b)) => Some(RestrictedExpression::new_bool(*b)),
        (AttrType::Entity, Value::Object(o)) => {
            if o.len() != 2 {
                return None;
            }
            let type_name = EntityTypeName::from_str(o.get("type")?.as_str()?).ok()?;
            let id = o.get("id")?.as_str()?;
            Some(RestrictedExpression::new_entity_uid(
                EntityUid::from_type_name_and_id(type_name, EntityId::new(id)),
            ))
        }
        (AttrType::Set(element), Value::Array(items)) => {
            let items = items
                .iter()
                .map(|v| convert(v, element, depth + 1))
                .collect::<Option<Vec<_>>>()?;
            Some(RestrictedExpression::new_set(items))
        }
        (AttrType::Record(record), Value::Object(o)) => {
            let pairs = fields(record, o, &[])?;
            RestrictedExpression::new_record(pairs).ok()
        }
        (AttrType::Extension(ext), Value::String(s)) => Some(extension_call(*ext, s)),
        _ => None,
    }
}
