//! Entities built from the inventory's Cedar JSON typed by the schema.
//! Cedar's JSON entity parser tries every attribute value against each of its
//! escape forms (building and discarding an error for each), which is most of
//! a bundle's load time. Here each attribute is converted by its declared type,
//! as the fast context path converts request contexts, and Cedar then checks
//! the entities against the schema and computes the hierarchy as its parser
//! would. Any item outside the forms understood here sends the whole inventory
//! to Cedar's parser, which gives the authoritative value or error.

use super::context::{self, RecordType};
use cedar_policy::{EntityId, EntityTypeName, EntityUid};
use cedar_policy_core::ast;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Entity types by their name as Cedar prints it, with their attribute types.
type Shapes = HashMap<Box<str>, (EntityTypeName, RecordType)>;

/// The entities of a Cedar entities JSON array with their values as Cedar's
/// parser would read them with this schema, for `Entities::from_entities` to
/// check against the schema; `None` when an item is outside the fast path.
pub(crate) fn entities(items: &Value, schema_json: &Value) -> Option<Vec<cedar_policy::Entity>> {
    let shapes = context::entity_shapes(schema_json);
    items
        .as_array()?
        .iter()
        .map(|item| entity(item, &shapes))
        .collect()
}

fn entity(item: &Value, shapes: &Shapes) -> Option<cedar_policy::Entity> {
    let item = item.as_object()?;
    if item.len() != 3 {
        return None;
    }
    let (id, shape) = uid(item.get("uid")?, shapes)?;
    let attrs = item
        .get("attrs")?
        .as_object()?
        .iter()
        .map(|(name, value)| {
            let (ty, _) = shape.attrs.get(name)?;
            let value = context::convert(value, ty, 0)?;
            Some((name.into(), ast::PartialValue::Value(value)))
        })
        .collect::<Option<Vec<_>>>()?;
    let parents = item
        .get("parents")?
        .as_array()?
        .iter()
        .map(|p| uid(p, shapes).map(|(uid, _)| uid))
        .collect::<Option<HashSet<_>>>()?;
    // Cedar's parser refuses an action under anything but an action.
    if id.is_action() && !parents.iter().all(ast::EntityUID::is_action) {
        return None;
    }
    let entity = ast::Entity::new_with_attr_partial_value(
        id,
        attrs,
        HashSet::new(),
        parents,
        std::iter::empty(),
    );
    Some(cedar_policy::Entity::from(entity))
}

/// `{"type": <a declared type, as Cedar prints it>, "id": "..."}`.
fn uid<'s>(value: &Value, shapes: &'s Shapes) -> Option<(ast::EntityUID, &'s RecordType)> {
    let o: &Map<String, Value> = value.as_object()?;
    if o.len() != 2 {
        return None;
    }
    let (name, shape) = shapes.get(o.get("type")?.as_str()?)?;
    let id = o.get("id")?.as_str()?;
    let uid = EntityUid::from_type_name_and_id(name.clone(), EntityId::new(id));
    Some((ast::EntityUID::from(uid), shape))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use cedar_policy::{Entities, Schema};
    use serde_json::json;

    /// Both steps of the fast path: typed values, then Cedar's checks.
    fn built(items: &Value, schema: &Schema, json: &Value) -> Option<Entities> {
        Entities::from_entities(entities(items, json)?, Some(schema)).ok()
    }

    fn schema(text: &str) -> (Schema, Value) {
        let (fragment, _) = cedar_policy::SchemaFragment::from_cedarschema_str(text).unwrap();
        let json = fragment.to_json_value().unwrap();
        let (schema, _) = Schema::from_cedarschema_str(text).unwrap();
        (schema, json)
    }

    fn sorted(entities: &Entities) -> Vec<Value> {
        let mut items: Vec<Value> = entities
            .iter()
            .map(|e| e.to_json_value().unwrap())
            .collect();
        items.sort_by_key(|v| v["uid"].to_string());
        items
    }

    /// The fast path either declines or builds exactly Cedar's entities; it
    /// never builds entities Cedar refuses.
    fn same_as_cedar(text: &str, items: Value) -> bool {
        let (schema, json) = schema(text);
        let fast = built(&items, &schema, &json);
        let cedar = Entities::from_json_value(items, Some(&schema));
        match (fast, cedar) {
            (Some(fast), Ok(cedar)) => {
                assert_eq!(sorted(&fast), sorted(&cedar));
                true
            }
            (Some(fast), Err(e)) => panic!("Cedar refuses ({e}), the fast path built {fast:?}"),
            (None, _) => false,
        }
    }

    const SCHEMA: &str = r#"
        entity Team;
        entity User in [Team] { name: String, level?: Long, admin: Bool, manager?: User,
            home: ipaddr, joined: datetime, quota?: decimal, ttl?: duration,
            tags: Set<String>, teams?: Set<Team>, profile: { city: String, zip?: Long } };
        entity Color enum ["red", "blue"];
        entity Doc { color?: Color };
        action view appliesTo { principal: User, resource: Doc };
    "#;

    fn alice(attrs: Value) -> Value {
        json!([
            {"uid": {"type": "Team", "id": "t"}, "attrs": {}, "parents": []},
            {"uid": {"type": "User", "id": "bob"}, "attrs": {"name": "B", "admin": false,
                "home": "10.0.0.2", "joined": "2024-01-01", "tags": [],
                "profile": {"city": "X"}}, "parents": []},
            {"uid": {"type": "User", "id": "alice"}, "attrs": attrs, "parents": [{"type": "Team", "id": "t"}]},
        ])
    }

    fn full() -> Map<String, Value> {
        json!({"name": "A", "level": 3, "admin": true, "manager": {"type": "User", "id": "bob"},
            "home": "10.0.0.1/24", "joined": "2024-10-15T11:35:00Z", "quota": "1.5",
            "ttl": "1h30m", "tags": ["x", "y", "x"], "teams": [{"type": "Team", "id": "t"}],
            "profile": {"city": "Y", "zip": 12345}})
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn typed_values_equal_cedars() {
        assert!(same_as_cedar(SCHEMA, alice(Value::Object(full()))));
        let mut escaped = full();
        escaped.insert(
            "home".into(),
            json!({"__extn": {"fn": "ip", "arg": "10.0.0.1"}}),
        );
        escaped.insert(
            "manager".into(),
            json!({"__entity": {"type": "User", "id": "bob"}}),
        );
        assert!(same_as_cedar(SCHEMA, alice(Value::Object(escaped))));
        // Enumerated ids and the schema's own actions, checked by Cedar.
        assert!(same_as_cedar(
            SCHEMA,
            json!([
                {"uid": {"type": "Color", "id": "red"}, "attrs": {}, "parents": []},
                {"uid": {"type": "Action", "id": "view"}, "attrs": {}, "parents": []},
            ])
        ));
    }

    #[test]
    fn anything_cedar_refuses_or_reads_otherwise_is_left_to_cedar() {
        let with = |name: &str, value: Value| {
            let mut attrs = full();
            attrs.insert(name.into(), value);
            alice(Value::Object(attrs))
        };
        let without = |name: &str| {
            let mut attrs = full();
            attrs.remove(name);
            alice(Value::Object(attrs))
        };
        for items in [
            with("level", json!(1.5)),
            with("level", json!(u64::MAX)),
            with("level", json!("3")),
            with("admin", json!("true")),
            with("home", json!("not an address")),
            with("home", json!({"fn": "ip", "arg": "10.0.0.1"})),
            with("home", json!({"__extn": {"fn": "decimal", "arg": "1.0"}})),
            with("joined", json!({"__expr": "datetime(\"2024-01-01\")"})),
            with("manager", json!({"type": "Team", "id": "t"})),
            with("manager", json!({"type": "User", "id": "bob", "x": 1})),
            with("manager", json!("User::\"bob\"")),
            with("tags", json!("x")),
            with("tags", json!([1])),
            with("profile", json!({"city": "Y", "extra": 1})),
            with("profile", json!({"zip": 1})),
            with("profile", json!({"__extn": {"fn": "ip", "arg": "1.2.3.4"}})),
            with("undeclared", json!(1)),
            without("name"),
            json!([{"uid": {"type": "Nope", "id": "x"}, "attrs": {}, "parents": []}]),
            json!([{"uid": {"__entity": {"type": "Team", "id": "x"}}, "attrs": {}, "parents": []}]),
            json!([{"uid": {"type": "Team", "id": "x"}, "attrs": {}}]),
            json!([{"uid": {"type": "Team", "id": "x"}, "attrs": {}, "parents": [], "tags": {}}]),
            json!([{"uid": {"type": "Team", "id": "x"}, "attrs": {}, "parents": [{"type": "User", "id": "bob"}]}]),
            json!([{"uid": {"type": "Color", "id": "green"}, "attrs": {}, "parents": []}]),
            json!([{"uid": {"type": "Action", "id": "edit"}, "attrs": {}, "parents": []}]),
            json!([{"uid": {"type": "Action", "id": "view"}, "attrs": {}, "parents": [{"type": "Team", "id": "t"}]}]),
            json!([{"uid": {"type": "Action", "id": "view"}, "attrs": {"a": 1}, "parents": []}]),
            json!([{"uid": {"type": "Doc", "id": "d"}, "attrs": {"color": {"type": "Color", "id": "red"}}, "parents": []}]),
            json!([{"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": [{"type": "Color", "id": "red"}]}]),
            json!([
                {"uid": {"type": "Team", "id": "x"}, "attrs": {}, "parents": []},
                {"uid": {"type": "Team", "id": "x"}, "attrs": {}, "parents": [{"type": "Team", "id": "y"}]},
            ]),
            json!({"uid": {"type": "Team", "id": "x"}}),
        ] {
            assert!(
                !same_as_cedar(SCHEMA, items.clone()),
                "fast path took {items}"
            );
        }
    }

    /// Every entities file of Cedar's conformance corpus with its schema:
    /// the fast path builds Cedar's entities or declines.
    #[test]
    fn cedar_corpus_entities_equal_cedars() {
        use std::io::Read;
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/cedar-conformance/corpus-tests.tar.gz"
        );
        let file = std::fs::File::open(path).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let mut files: HashMap<String, String> = HashMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().to_string();
            if name.ends_with(".cedarschema") || name.ends_with(".entities.json") {
                let mut text = String::new();
                entry.read_to_string(&mut text).unwrap();
                files.insert(name, text);
            }
        }
        let (mut files_checked, mut fast) = (0, 0);
        for (name, text) in &files {
            let Some(stem) = name.strip_suffix(".cedarschema") else {
                continue;
            };
            let Some(entities_text) = files.get(&format!("{stem}.entities.json")) else {
                continue;
            };
            let (Ok((fragment, _)), Ok((schema, _))) = (
                cedar_policy::SchemaFragment::from_cedarschema_str(text),
                Schema::from_cedarschema_str(text),
            ) else {
                continue;
            };
            let json = fragment.to_json_value().unwrap();
            let items: Value = serde_json::from_str(entities_text).unwrap();
            files_checked += 1;
            if let Some(typed) = built(&items, &schema, &json) {
                let cedar = Entities::from_json_value(items, Some(&schema)).unwrap_or_else(|e| {
                    panic!("{name}: Cedar refuses ({e}), the fast path built them")
                });
                assert_eq!(sorted(&typed), sorted(&cedar), "{name}");
                fast += 1;
            }
        }
        assert!(files_checked > 7_000, "{files_checked} files");
        // Most of the corpus is in the forms the fast path reads.
        assert!(
            fast * 2 > files_checked,
            "fast path took {fast} of {files_checked}"
        );
    }

    #[test]
    fn actions_come_from_the_schema_as_with_cedars_parser() {
        let (schema, json) = schema(SCHEMA);
        let fast = built(&json!([]), &schema, &json).unwrap();
        let cedar = Entities::from_json_value(json!([]), Some(&schema)).unwrap();
        assert_eq!(sorted(&fast), sorted(&cedar));
        assert!(fast
            .iter()
            .any(|e| e.uid().to_string() == "Action::\"view\""));
    }
}
