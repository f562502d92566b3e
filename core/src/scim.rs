//! SCIM 2.0 import: users and teams from an identity provider's export
//! (`ListResponse` documents of `User` and `Group` resources, RFC 7644 §3.4.2)
//! into an inventory, keeping its agents and their `owner` links.
//!
//! - A user's inventory id is its `userName`; `emails` gives the primary (or
//!   first) address; `active: false` is kept, so the agents it owns are
//!   denied by `baseline/owner-required` and listed by posture.
//! - A team's id is the group's `displayName`; membership comes from the
//!   group's `members` and from each user's `groups`.
//! - A user of the inventory that the export no longer holds is kept as
//!   inactive (deprovisioned at the provider), never dropped: agents keep
//!   their owner link and are cut off.
//! - Every other section of the inventory (agents, groups, credentials,
//!   tasks, resources) is kept as it was.

use crate::error::{Error, ErrorCode, Result};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// What an import changed, for the caller to show.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScimImport {
    /// Users in the export.
    pub users: usize,
    /// Of them, `active: false`.
    pub inactive: Vec<String>,
    /// Inventory users the export no longer holds (kept, made inactive).
    pub missing: Vec<String>,
    /// Teams in the export.
    pub teams: usize,
}

fn invalid(what: &str, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InventoryInvalid,
        format!("SCIM {what}: {message}"),
    )
}

/// The `Resources` of a `ListResponse`.
fn resources<'a>(doc: &'a Value, what: &str) -> Result<&'a [Value]> {
    let is_list = doc
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(LIST_RESPONSE)));
    if !is_list {
        return Err(invalid(
            what,
            format!("not a ListResponse (`schemas` lacks {LIST_RESPONSE})"),
        ));
    }
    match doc.get("Resources") {
        None => Ok(&[]),
        Some(Value::Array(r)) => Ok(r),
        Some(_) => Err(invalid(what, "`Resources` is not a list")),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Imports `users` (and `groups`) into `inventory` (its JSON form).
pub fn import_scim(
    inventory: Value,
    users: &Value,
    groups: Option<&Value>,
) -> Result<(Value, ScimImport)> {
    let mut inventory = match inventory {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => return Err(invalid("inventory", "not a mapping")),
    };
    // SCIM id → userName, and userName → (email, active, teams).
    let mut by_scim_id = BTreeMap::new();
    let mut imported: BTreeMap<String, (Option<String>, bool, BTreeSet<String>)> = BTreeMap::new();
    let mut report = ScimImport::default();
    for (i, u) in resources(users, "users")?.iter().enumerate() {
        let name = text(u, "userName")
            .ok_or_else(|| invalid("users", format!("resource {i} has no userName")))?;
        if imported.contains_key(name) {
            return Err(invalid("users", format!("userName {name:?} appears twice")));
        }
        let active = match u.get("active") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(invalid(
                    "users",
                    format!("{name}: `active` is not a boolean"),
                ))
            }
        };
        let emails = u
            .get("emails")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let email = emails
            .iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| emails.first())
            .and_then(|e| text(e, "value"))
            .map(String::from);
        let mut teams = BTreeSet::new();
        for g in u
            .get("groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(d) = text(g, "display") {
                teams.insert(d.to_string());
            }
        }
        if let Some(id) = text(u, "id") {
            by_scim_id.insert(id.to_string(), name.to_string());
        }
        if !active {
            report.inactive.push(name.to_string());
        }
        imported.insert(name.to_string(), (email, active, teams));
    }
    report.users = imported.len();
    let mut team_ids = BTreeSet::new();
    if let Some(groups) = groups {
        for (i, g) in resources(groups, "groups")?.iter().enumerate() {
            let team = text(g, "displayName")
                .ok_or_else(|| invalid("groups", format!("resource {i} has no displayName")))?;
            team_ids.insert(team.to_string());
            for m in g
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let user = text(m, "value").and_then(|id| by_scim_id.get(id));
                if let Some(entry) = user.and_then(|u| imported.get_mut(u)) {
                    entry.2.insert(team.to_string());
                }
            }
        }
    }
    for (_, _, teams) in imported.values() {
        team_ids.extend(teams.iter().cloned());
    }
    report.teams = team_ids.len();
    // Teams: the inventory's, then the export's new ones.
    let mut teams: Vec<Value> = inventory
        .get("teams")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let known: BTreeSet<String> = teams
        .iter()
        .filter_map(|t| text(t, "id"))
        .map(String::from)
        .collect();
    teams.extend(
        team_ids
            .iter()
            .filter(|t| !known.contains(*t))
            .map(|t| json!({"id": t})),
    );
    // Users: the export's; inventory users it lacks become inactive.
    let mut out_users = Vec::new();
    for u in inventory
        .get("users")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = text(u, "id") else { continue };
        if !imported.contains_key(id) {
            let mut kept = u.clone();
            if let Some(o) = kept.as_object_mut() {
                o.insert("active".into(), false.into());
            }
            report.missing.push(id.to_string());
            out_users.push(kept);
        }
    }
    for (name, (email, active, user_teams)) in &imported {
        let mut u = Map::new();
        u.insert("id".into(), name.clone().into());
        if let Some(e) = email {
            u.insert("email".into(), e.clone().into());
        }
        u.insert("active".into(), (*active).into());
        if !user_teams.is_empty() {
            u.insert(
                "teams".into(),
                user_teams.iter().cloned().collect::<Vec<_>>().into(),
            );
        }
        out_users.push(Value::Object(u));
    }
    inventory.insert("teams".into(), teams.into());
    inventory.insert("users".into(), out_users.into());
    Ok((Value::Object(inventory), report))
}
