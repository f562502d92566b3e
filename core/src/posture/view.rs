//! The inventory as posture sees it: agents, users, credentials and tasks,
//! read back from the Cedar entities the engine decides with (the bundle's
//! inventory and the run-time changes).

use crate::error::Result;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default)]
pub(crate) struct UserInfo {
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct AgentInfo {
    pub id: String,
    pub owner: Option<String>,
    pub kind: String,
    pub status: String,
    pub environment: Option<String>,
    pub created: Option<String>,
    /// Direct parents (`AgentGroup::"x"`, `Team::"y"`), as `Type::id`.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct CredentialInfo {
    pub id: String,
    pub agent: String,
    pub kind: String,
    pub issued: Option<String>,
    pub expires: Option<String>,
    pub revoked: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TaskInfo {
    pub id: String,
    pub agent: String,
    pub purpose: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
}

/// Agents, users, credentials and tasks of a bundle, by id (sorted).
#[derive(Debug, Clone, Default)]
pub(crate) struct InventoryView {
    pub agents: BTreeMap<String, AgentInfo>,
    pub users: BTreeMap<String, UserInfo>,
    pub credentials: BTreeMap<String, CredentialInfo>,
    pub tasks: BTreeMap<String, TaskInfo>,
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The id of an entity reference in Cedar JSON (`{"type","id"}` or `{"__entity": {...}}`).
fn ref_id(v: &Value, key: &str) -> Option<String> {
    let r = v.get(key)?;
    let r = r.get("__entity").unwrap_or(r);
    r.get("id").and_then(Value::as_str).map(str::to_string)
}

/// A datetime attribute: a string, or Cedar's `{"__extn": {"fn": "datetime", "arg": ...}}`.
fn time_attr(v: &Value, key: &str) -> Option<String> {
    let a = v.get(key)?;
    if let Some(t) = a.as_str() {
        return Some(t.to_string());
    }
    a.pointer("/__extn/arg")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl InventoryView {
    /// The engine's entities as it decides with them: the inventory with
    /// the run-time changes applied (an offboarding from the journal or a
    /// fleet's store, a revoked or rotated credential).
    /// Groups stay the inventory's direct parents (the engine's entities
    /// carry every ancestor).
    pub fn from_engine(engine: &crate::engine::Engine) -> Result<InventoryView> {
        let bundle = engine.bundle();
        let declared = match &bundle.inventory {
            Some(src) => crate::inventory::to_cedar_entities(src, &bundle.options.limits)?,
            None => Value::Array(Vec::new()),
        };
        let declared = InventoryView::from_entities_json(&declared);
        let json = engine.entities().to_json_value().map_err(|e| {
            crate::error::Error::new(
                crate::error::ErrorCode::Internal,
                format!("cannot read the engine's entities: {e}"),
            )
        })?;
        let mut view = InventoryView::from_entities_json(&json);
        for (id, agent) in &mut view.agents {
            if let Some(d) = declared.agents.get(id) {
                agent.groups.clone_from(&d.groups);
            }
        }
        Ok(view)
    }

    fn from_entities_json(json: &Value) -> InventoryView {
        let mut view = InventoryView::default();
        for e in json.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let (Some(ty), Some(id)) = (
                e.pointer("/uid/type").and_then(Value::as_str),
                e.pointer("/uid/id").and_then(Value::as_str),
            ) else {
                continue;
            };
            let attrs = e.get("attrs").cloned().unwrap_or(Value::Null);
            let id = id.to_string();
            match ty {
                "User" => {
                    let active = attrs.get("active").and_then(Value::as_bool).unwrap_or(true);
                    view.users.insert(id, UserInfo { active });
                }
                "Agent" => {
                    let groups = e
                        .get("parents")
                        .and_then(Value::as_array)
                        .map(|ps| {
                            ps.iter()
                                .filter_map(|p| {
                                    let p = p.get("__entity").unwrap_or(p);
                                    Some(format!(
                                        "{}::{}",
                                        p.get("type")?.as_str()?,
                                        p.get("id")?.as_str()?
                                    ))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    view.agents.insert(
                        id.clone(),
                        AgentInfo {
                            id,
                            owner: ref_id(&attrs, "owner"),
                            kind: s(&attrs, "kind").unwrap_or_default(),
                            status: s(&attrs, "status").unwrap_or_default(),
                            environment: s(&attrs, "environment"),
                            created: time_attr(&attrs, "created"),
                            groups,
                        },
                    );
                }
                "Credential" => {
                    view.credentials.insert(
                        id.clone(),
                        CredentialInfo {
                            id,
                            agent: ref_id(&attrs, "agent").unwrap_or_default(),
                            kind: s(&attrs, "kind").unwrap_or_default(),
                            issued: time_attr(&attrs, "issued"),
                            expires: time_attr(&attrs, "expires"),
                            revoked: attrs
                                .get("revoked")
                                .and_then(Value::as_bool)
                                .unwrap_or(false),
                        },
                    );
                }
                "Task" => {
                    view.tasks.insert(
                        id.clone(),
                        TaskInfo {
                            id,
                            agent: ref_id(&attrs, "agent").unwrap_or_default(),
                            purpose: s(&attrs, "purpose"),
                            not_before: time_attr(&attrs, "not_before"),
                            not_after: time_attr(&attrs, "not_after"),
                        },
                    );
                }
                _ => {}
            }
        }
        view
    }

    pub fn credentials_of<'a>(
        &'a self,
        agent: &'a str,
    ) -> impl Iterator<Item = &'a CredentialInfo> {
        self.credentials.values().filter(move |c| c.agent == agent)
    }
}

pub(crate) const DAY_MS: i64 = 86_400_000;

pub(crate) use crate::time::parse_day_or_rfc3339_millis as parse_millis;

/// Whole days between two instants (rounded down; negative when `to` is before `from`).
pub(crate) fn days_between(from: i64, to: i64) -> i64 {
    (to - from).div_euclid(DAY_MS)
}
