//! The inventory file: users, teams, agents, credentials, tasks and app
//! resources, turned into Cedar entities. A Cedar entities JSON array is accepted too.

use crate::bundle::Source;
use crate::error::{Detail, Error, ErrorCode, Location, Result};
use crate::limits::{self, Input, Limits};
use crate::model::EntityRef;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashSet;

const AGENT_STATUSES: [&str; 3] = ["active", "suspended", "offboarded"];
const CREDENTIAL_KINDS: [&str; 4] = [
    "service_account_key",
    "oauth_grant",
    "api_token",
    "human_token",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inventory {
    #[serde(default)]
    teams: Vec<TeamDef>,
    #[serde(default)]
    users: Vec<UserDef>,
    #[serde(default)]
    agent_groups: Vec<AgentGroupDef>,
    #[serde(default)]
    agents: Vec<AgentDef>,
    #[serde(default)]
    credentials: Vec<CredentialDef>,
    #[serde(default)]
    tasks: Vec<TaskDef>,
    #[serde(default)]
    resources: Vec<ResourceDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamDef {
    id: String,
    #[serde(default)]
    parents: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserDef {
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    teams: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentGroupDef {
    id: String,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    teams: Vec<String>,
}

fn default_agent_kind() -> String {
    "service".into()
}

fn default_status() -> String {
    "active".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentDef {
    id: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default = "default_agent_kind")]
    kind: String,
    #[serde(default = "default_status")]
    status: String,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    teams: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialDef {
    id: String,
    agent: String,
    kind: String,
    #[serde(default)]
    issued: Option<String>,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    revoked: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskDef {
    id: String,
    agent: String,
    #[serde(default)]
    purpose: Option<String>,
    not_before: String,
    not_after: String,
    #[serde(default)]
    on_behalf_of: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceDef {
    #[serde(rename = "type")]
    type_name: String,
    id: String,
    #[serde(default, deserialize_with = "limits::strict_map")]
    attrs: Map<String, Value>,
    #[serde(default)]
    parents: Vec<EntityRef>,
}

/// Reads the inventory source into a Cedar entities JSON array. The Cedar
/// parser then checks it against the schema.
pub(crate) fn to_cedar_entities(src: &Source, limits: &Limits) -> Result<Value> {
    // A JSON inventory object is read straight into its types: no generic
    // value tree to build, walk and drop (a fifth of a large bundle's load).
    let object = src
        .text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{');
    let inventory: Inventory = if object && src.name.ends_with(".json") {
        limits::parse_json_as(limits, Input::Inventory, &src.name, &src.text)?
    } else {
        let value = limits::parse_document(limits, Input::Inventory, src)?;
        if value.is_array() {
            return Ok(value);
        }
        if value.is_null() {
            return Ok(Value::Array(Vec::new()));
        }
        serde_json::from_value(value)
            .map_err(|e| Error::new(ErrorCode::InventoryParse, format!("{}: {e}", src.name)))?
    };
    Converter {
        src,
        inventory: &inventory,
    }
    .convert()
}

/// The base types' closed vocabularies, whatever form the inventory took
/// (the `agents:`/`credentials:` lists, `resources:` entries, a Cedar
/// entities array): an agent's `status` and a credential's `kind` must be one
/// of the documented values, exactly (`Human_Token` is not `human_token`, and
/// would slip past `baseline/no-human-credentials`). Values that are not
/// strings are left to the schema check.
pub(crate) fn check_base_values(src: &Source, items: &[Value]) -> Result<()> {
    for item in items {
        let (Some(ty), Some(id)) = (
            item.pointer("/uid/type").and_then(Value::as_str),
            item.pointer("/uid/id").and_then(Value::as_str),
        ) else {
            continue;
        };
        let (attr, allowed): (&str, &[&str]) = match ty {
            "Agent" => ("status", &AGENT_STATUSES),
            "Credential" => ("kind", &CREDENTIAL_KINDS),
            _ => continue,
        };
        let value = item.get("attrs").and_then(|a| a.get(attr));
        if let Some(Value::String(v)) = value {
            if !allowed.contains(&v.as_str()) {
                return Err(Error::with_details(
                    ErrorCode::InventoryInvalid,
                    vec![Detail {
                        message: format!(
                            "{} `{id}`: {attr} `{v}` is not one of {}",
                            ty.to_lowercase(),
                            allowed.join(", ")
                        ),
                        location: locate_entry(src, id),
                    }],
                ));
            }
        }
    }
    Ok(())
}

/// Best-effort location of an entry, found by its `id:` line.
pub(crate) fn locate_entry(src: &Source, id: &str) -> Option<Location> {
    let candidates = [
        format!("id: {id}"),
        format!("id: \"{id}\""),
        format!("id: '{id}'"),
        format!("\"id\": \"{id}\""),
        format!("\"id\":\"{id}\""),
    ];
    let mut offset = 0;
    for line in src.text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        for c in &candidates {
            if let Some(pos) = trimmed.find(c.as_str()) {
                if trimmed.get(pos + c.len()..).is_none_or(|rest| {
                    !rest.starts_with(|ch: char| ch.is_alphanumeric() || ch == '-' || ch == '_')
                }) {
                    return Some(Location::at_offset(&src.name, &src.text, offset + pos));
                }
            }
        }
        offset += line.len();
    }
    None
}

struct Converter<'a> {
    src: &'a Source,
    inventory: &'a Inventory,
}

/// Base-type timestamps may be any RFC 3339 form; Cedar's `datetime` takes
/// fewer, so those are normalized to UTC. Anything else goes to Cedar as written.
fn datetime(text: &str) -> Value {
    Value::String(crate::time::rfc3339_to_cedar(text).unwrap_or_else(|| text.to_string()))
}

fn uid(type_name: &str, id: &str) -> Value {
    let mut uid = Map::with_capacity(2);
    uid.insert("type".into(), Value::String(type_name.into()));
    uid.insert("id".into(), Value::String(id.into()));
    Value::Object(uid)
}

/// Built by moving the parts in: `json!` would serialize (deep-copy) them.
fn entity(type_name: &str, id: &str, attrs: Map<String, Value>, parents: Vec<Value>) -> Value {
    let mut entity = Map::with_capacity(3);
    entity.insert("uid".into(), uid(type_name, id));
    entity.insert("attrs".into(), Value::Object(attrs));
    entity.insert("parents".into(), Value::Array(parents));
    Value::Object(entity)
}

impl Converter<'_> {
    fn invalid(&self, id: &str, message: String) -> Error {
        Error::with_details(
            ErrorCode::InventoryInvalid,
            vec![Detail {
                message,
                location: locate_entry(self.src, id),
            }],
        )
    }

    fn ids<'b>(
        &self,
        kind: &str,
        ids: impl Iterator<Item = &'b String>,
    ) -> Result<HashSet<&'b str>> {
        let mut set = HashSet::new();
        for id in ids {
            if !set.insert(id.as_str()) {
                return Err(self.invalid(id, format!("{kind} `{id}` is declared twice")));
            }
        }
        Ok(set)
    }

    fn check_ref(
        &self,
        from: &str,
        field: &str,
        kind: &str,
        id: &str,
        known: &HashSet<&str>,
    ) -> Result<()> {
        if known.contains(id) {
            Ok(())
        } else {
            Err(self.invalid(
                from,
                format!("`{from}`: {field} refers to {kind} `{id}`, which the inventory does not declare"),
            ))
        }
    }

    fn convert(&self) -> Result<Value> {
        let inv = self.inventory;
        let teams = self.ids("team", inv.teams.iter().map(|t| &t.id))?;
        let users = self.ids("user", inv.users.iter().map(|u| &u.id))?;
        let groups = self.ids("agent group", inv.agent_groups.iter().map(|g| &g.id))?;
        let agents = self.ids("agent", inv.agents.iter().map(|a| &a.id))?;
        self.ids("credential", inv.credentials.iter().map(|c| &c.id))?;
        self.ids("task", inv.tasks.iter().map(|t| &t.id))?;
        let mut out = Vec::new();

        for t in &inv.teams {
            let mut parents = Vec::new();
            for p in &t.parents {
                self.check_ref(&t.id, "parents", "team", p, &teams)?;
                parents.push(uid("Team", p));
            }
            out.push(entity("Team", &t.id, Map::new(), parents));
        }
        for u in &inv.users {
            let mut attrs = Map::new();
            attrs.insert("active".into(), Value::Bool(u.active));
            if let Some(email) = &u.email {
                attrs.insert("email".into(), Value::String(email.clone()));
            }
            let mut parents = Vec::new();
            for t in &u.teams {
                self.check_ref(&u.id, "teams", "team", t, &teams)?;
                parents.push(uid("Team", t));
            }
            out.push(entity("User", &u.id, attrs, parents));
        }
        for g in &inv.agent_groups {
            let mut parents = Vec::new();
            for p in &g.parents {
                self.check_ref(&g.id, "parents", "agent group", p, &groups)?;
                parents.push(uid("AgentGroup", p));
            }
            for t in &g.teams {
                self.check_ref(&g.id, "teams", "team", t, &teams)?;
                parents.push(uid("Team", t));
            }
            out.push(entity("AgentGroup", &g.id, Map::new(), parents));
        }
        for a in &inv.agents {
            if !AGENT_STATUSES.contains(&a.status.as_str()) {
                return Err(self.invalid(
                    &a.id,
                    format!(
                        "agent `{}`: status `{}` is not one of {}",
                        a.id,
                        a.status,
                        AGENT_STATUSES.join(", ")
                    ),
                ));
            }
            let mut attrs = Map::new();
            attrs.insert("kind".into(), Value::String(a.kind.clone()));
            attrs.insert("status".into(), Value::String(a.status.clone()));
            if let Some(owner) = &a.owner {
                self.check_ref(&a.id, "owner", "user", owner, &users)?;
                attrs.insert("owner".into(), uid("User", owner));
            }
            if let Some(env) = &a.environment {
                attrs.insert("environment".into(), Value::String(env.clone()));
            }
            if let Some(created) = &a.created {
                attrs.insert("created".into(), datetime(created));
            }
            let mut parents = Vec::new();
            for g in &a.groups {
                self.check_ref(&a.id, "groups", "agent group", g, &groups)?;
                parents.push(uid("AgentGroup", g));
            }
            for t in &a.teams {
                self.check_ref(&a.id, "teams", "team", t, &teams)?;
                parents.push(uid("Team", t));
            }
            out.push(entity("Agent", &a.id, attrs, parents));
        }
        for c in &inv.credentials {
            if !CREDENTIAL_KINDS.contains(&c.kind.as_str()) {
                return Err(self.invalid(
                    &c.id,
                    format!(
                        "credential `{}`: kind `{}` is not one of {}",
                        c.id,
                        c.kind,
                        CREDENTIAL_KINDS.join(", ")
                    ),
                ));
            }
            self.check_ref(&c.id, "agent", "agent", &c.agent, &agents)?;
            let mut attrs = Map::new();
            attrs.insert("agent".into(), uid("Agent", &c.agent));
            attrs.insert("kind".into(), Value::String(c.kind.clone()));
            attrs.insert("revoked".into(), Value::Bool(c.revoked));
            if let Some(issued) = &c.issued {
                attrs.insert("issued".into(), datetime(issued));
            }
            if let Some(expires) = &c.expires {
                attrs.insert("expires".into(), datetime(expires));
            }
            out.push(entity("Credential", &c.id, attrs, Vec::new()));
        }
        for t in &inv.tasks {
            self.check_ref(&t.id, "agent", "agent", &t.agent, &agents)?;
            let mut attrs = Map::new();
            attrs.insert("agent".into(), uid("Agent", &t.agent));
            attrs.insert("not_before".into(), datetime(&t.not_before));
            attrs.insert("not_after".into(), datetime(&t.not_after));
            if let Some(purpose) = &t.purpose {
                attrs.insert("purpose".into(), Value::String(purpose.clone()));
            }
            if let Some(user) = &t.on_behalf_of {
                self.check_ref(&t.id, "on_behalf_of", "user", user, &users)?;
                attrs.insert("on_behalf_of".into(), uid("User", user));
            }
            out.push(entity("Task", &t.id, attrs, Vec::new()));
        }
        for r in &inv.resources {
            let parents = r.parents.iter().map(|p| uid(&p.type_name, &p.id)).collect();
            out.push(entity(&r.type_name, &r.id, r.attrs.clone(), parents));
        }
        Ok(Value::Array(out))
    }
}

/// Every entity an inventory entity's attributes (or tags) refer to, in
/// records and sets too, must exist: a policy reading an attribute of a
/// missing entity errors. Parents may name entities the inventory leaves out
/// (`in` on them is simply false). One detail per dangling reference.
pub(crate) fn check_references(entities: &cedar_policy::Entities, src: &Source) -> Result<()> {
    use cedar_policy_core::ast::{Literal, PartialValue, Value as CedarValue, ValueKind};
    use cedar_policy_core::entities::{Dereference, Entities as CoreEntities};
    // Walks Cedar's own values (no conversion per attribute); a path is only
    // spelled out for a dangling reference.
    fn walk<'a>(
        value: &'a CedarValue,
        path: &mut Vec<String>,
        entities: &CoreEntities,
        out: &mut Vec<(String, &'a cedar_policy_core::ast::EntityUID)>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        match &value.value {
            ValueKind::Lit(Literal::EntityUID(uid))
                if !matches!(entities.entity(uid), Dereference::Data(_)) =>
            {
                out.push((path.concat(), uid));
            }
            ValueKind::Set(set) => {
                path.push("[]".into());
                for v in set.iter() {
                    walk(v, path, entities, out, depth + 1);
                }
                path.pop();
            }
            ValueKind::Record(record) => {
                for (k, v) in record.iter() {
                    path.push(format!(".{k}"));
                    walk(v, path, entities, out, depth + 1);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let core: &CoreEntities = entities.as_ref();
    let mut details = Vec::new();
    for e in entities.iter() {
        let uid = e.uid();
        if uid.type_name().basename() == "Action" {
            continue;
        }
        let entity: &cedar_policy_core::ast::Entity = e.as_ref();
        let mut dangling = Vec::new();
        let attrs = entity.attrs().map(|(n, v)| (n.to_string(), v));
        let tags = entity.tags().map(|(n, v)| (format!("tag {n}"), v));
        for (name, value) in attrs.chain(tags) {
            if let PartialValue::Value(v) = value {
                walk(v, &mut vec![name], core, &mut dangling, 0);
            }
        }
        let id = uid.id().unescaped().to_string();
        for (path, target) in dangling {
            details.push(Detail {
                message: format!(
                    "`{uid}`: attribute `{path}` refers to `{target}`, which the inventory does not declare"
                ),
                location: locate_entry(src, &id),
            });
        }
    }
    if details.is_empty() {
        return Ok(());
    }
    details.sort_by(|a, b| a.message.cmp(&b.message));
    Err(Error::with_details(ErrorCode::InventoryInvalid, details))
}
