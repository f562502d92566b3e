//! Schema assembly: the base identity types merged with the bundle's own
//! fragment, and the engine's standard context fields added to every action.

use crate::bundle::Source;
use crate::error::{diagnostics_details, Detail, Error, ErrorCode, Location, Result};
use crate::limits::{self, Input, Limits};
use cedar_policy::{Schema, SchemaFragment};
use serde_json::{json, Map, Value};

pub(crate) const BASE_SCHEMA: &str = include_str!("base.cedarschema");

/// Entity types every bundle shares; an app may not redeclare them.
pub const BASE_TYPES: [&str; 6] = ["Team", "User", "AgentGroup", "Agent", "Credential", "Task"];

/// Context fields the engine fills in itself; an app may not declare them.
pub const STANDARD_CONTEXT_FIELDS: [&str; 5] =
    ["now", "task", "credential", "on_behalf_of", "usage"];

fn standard_context_attributes() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "now".into(),
        json!({"type": "Extension", "name": "datetime", "required": true}),
    );
    m.insert(
        "task".into(),
        json!({"type": "Entity", "name": "Task", "required": false}),
    );
    m.insert(
        "credential".into(),
        json!({"type": "Entity", "name": "Credential", "required": false}),
    );
    m.insert(
        "on_behalf_of".into(),
        json!({"type": "Entity", "name": "User", "required": false}),
    );
    // The agent's calls and cost units so far (counted by the engine).
    m.insert("usage".into(), usage_context_type());
    m
}

/// The kinds of cost units `record_usage` takes; each is a field of
/// `context.usage.units_1h` and `units_1d`.
pub const USAGE_KINDS: [&str; 2] = ["tokens", "usd_cents"];

/// The type of `context.usage` (JSON schema form): the agent's calls in the
/// last minute, hour and day, the same for the request's action, and its
/// cost units by kind in the last hour and day.
pub(crate) fn usage_context_type() -> Value {
    let long = json!({"type": "Long"});
    let calls = json!({"type": "Record", "attributes": {
        "calls_1m": long, "calls_1h": long, "calls_1d": long,
    }});
    let units: Map<String, Value> = USAGE_KINDS
        .iter()
        .map(|k| (k.to_string(), long.clone()))
        .collect();
    let units = json!({"type": "Record", "attributes": units});
    json!({"type": "Record", "required": true, "attributes": {
        "calls_1m": long, "calls_1h": long, "calls_1d": long,
        "action": calls, "units_1h": units, "units_1d": units,
    }})
}

fn parse_fragment(src: &Source, limits: &Limits) -> Result<SchemaFragment> {
    if src.name.ends_with(".json") {
        // Bounded and free of duplicate keys first; Cedar's reader then gives located errors.
        limits::parse_json(limits, Input::Schema, &src.name, &src.text)?;
        SchemaFragment::from_json_str(&src.text).map_err(|e| {
            Error::with_details(
                ErrorCode::SchemaParse,
                diagnostics_details(&e, &src.name, &src.text),
            )
        })
    } else {
        limits.check_cedar_schema(&src.name, &src.text)?;
        SchemaFragment::from_cedarschema_str(&src.text)
            .map(|(fragment, _warnings)| fragment)
            .map_err(|e| {
                Error::with_details(
                    ErrorCode::SchemaParse,
                    diagnostics_details(&e, &src.name, &src.text),
                )
            })
    }
}

fn parse_base() -> Result<SchemaFragment> {
    SchemaFragment::from_cedarschema_str(BASE_SCHEMA)
        .map(|(f, _)| f)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("base schema: {e}")))
}

fn schema_error(e: &cedar_policy::SchemaError, src: &Source) -> Error {
    Error::with_details(
        ErrorCode::SchemaInvalid,
        diagnostics_details(e, &src.name, &src.text),
    )
}

/// A plain Cedar schema, exactly as written (no base types, no added fields),
/// with its JSON form.
pub(crate) fn plain_schema(src: &Source, limits: &Limits) -> Result<(Schema, Value)> {
    let fragment = parse_fragment(src, limits)?;
    let json = fragment.clone().to_json_value().unwrap_or(Value::Null);
    let schema = Schema::from_schema_fragments([fragment]).map_err(|e| schema_error(&e, src))?;
    Ok((schema, json))
}

/// The base types merged with the app fragment, with the standard context
/// fields added; and the app fragment's JSON form as merged.
pub(crate) fn merged_schema(app: &Source, limits: &Limits) -> Result<(Schema, Value)> {
    let fragment = parse_fragment(app, limits)?;
    let mut json = fragment
        .clone()
        .to_json_value()
        .map_err(|e| Error::new(ErrorCode::SchemaInvalid, e.to_string()))?;
    reject_base_types(&json, app)?;
    // Resolve types on the fragment as written, so errors keep their locations.
    Schema::from_schema_fragments([parse_base()?, fragment]).map_err(|e| schema_error(&e, app))?;
    add_standard_context(&mut json, app)?;
    let extended = SchemaFragment::from_json_value(json.clone())
        .map_err(|e| Error::new(ErrorCode::SchemaInvalid, e.to_string()))?;
    let schema = Schema::from_schema_fragments([parse_base()?, extended])
        .map_err(|e| schema_error(&e, app))?;
    Ok((schema, json))
}

fn declaration_location(src: &Source, keyword: &str, name: &str) -> Option<Location> {
    let needle_plain = format!("{keyword} {name}");
    let needle_json = format!("\"{name}\"");
    let offset = src
        .text
        .find(&needle_plain)
        .or_else(|| src.text.find(&needle_json))?;
    Some(Location::at_offset(&src.name, &src.text, offset))
}

fn invalid(src: &Source, keyword: &str, name: &str, message: String) -> Error {
    Error::with_details(
        ErrorCode::SchemaInvalid,
        vec![Detail {
            message,
            location: declaration_location(src, keyword, name),
        }],
    )
}

fn reject_base_types(json: &Value, src: &Source) -> Result<()> {
    let Some(namespaces) = json.as_object() else {
        return Ok(());
    };
    for (ns_name, ns) in namespaces {
        if let Some(types) = ns.get("entityTypes").and_then(Value::as_object) {
            for name in types.keys() {
                if BASE_TYPES.contains(&name.as_str()) {
                    return Err(invalid(
                        src,
                        "entity",
                        name,
                        format!(
                            "entity type `{name}` is a base type of agentauthz and may not be redeclared{}",
                            if ns_name.is_empty() { String::new() } else { format!(" (in namespace `{ns_name}`)") }
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn add_standard_context(json: &mut Value, src: &Source) -> Result<()> {
    let Some(namespaces) = json.as_object_mut() else {
        return Ok(());
    };
    for ns in namespaces.values_mut() {
        let common_types = ns.get("commonTypes").cloned().unwrap_or(Value::Null);
        let Some(actions) = ns.get_mut("actions").and_then(Value::as_object_mut) else {
            continue;
        };
        for (action, def) in actions.iter_mut() {
            let Some(applies) = def.get_mut("appliesTo").and_then(Value::as_object_mut) else {
                continue;
            };
            let context = applies
                .remove("context")
                .unwrap_or_else(|| json!({"type": "Record", "attributes": {}}));
            let mut record = resolve_record(context, &common_types)
                .ok_or_else(|| {
                    invalid(
                        src,
                        "action",
                        action,
                        format!("the context of action `{action}` must be a record or a common record type of its namespace"),
                    )
                })?;
            let attrs = record
                .as_object_mut()
                .and_then(|r| r.get_mut("attributes"))
                .and_then(Value::as_object_mut)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::SchemaInvalid,
                        format!("action `{action}`: malformed context"),
                    )
                })?;
            for (field, ty) in standard_context_attributes() {
                if attrs.contains_key(&field) {
                    return Err(invalid(
                        src,
                        "action",
                        action,
                        format!("action `{action}` declares context field `{field}`, which agentauthz fills in itself"),
                    ));
                }
                attrs.insert(field, ty);
            }
            applies.insert("context".into(), record);
        }
    }
    Ok(())
}

/// The context type as an inline record (common types of the namespace are inlined).
fn resolve_record(context: Value, common_types: &Value) -> Option<Value> {
    match context.get("type").and_then(Value::as_str) {
        Some("Record") => Some(context),
        Some("EntityOrCommon") | Some(_) => {
            let name = context
                .get("name")
                .and_then(Value::as_str)
                .or_else(|| context.get("type").and_then(Value::as_str))?;
            let short = name.rsplit("::").next()?;
            let found = common_types.get(short)?.clone();
            (found.get("type").and_then(Value::as_str) == Some("Record")).then_some(found)
        }
        None => None,
    }
}
