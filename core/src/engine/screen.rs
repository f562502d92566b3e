//! What a snapshot needs to screen requests (`engine::authority` runs the
//! checks), compiled from the bundle.

use crate::bundle::{BundleOptions, Config};
use serde_json::Value;
use std::collections::HashSet;

/// What a snapshot needs to screen requests.
#[derive(Debug, Clone, Default)]
pub(crate) struct Screen {
    /// The bundle has agentauthz's base types: the checks apply (a plain
    /// Cedar bundle keeps Cedar's semantics).
    pub enabled: bool,
    /// `baseline/agent-active` is switched off: lifecycle decisions
    /// (offboarded, suspended at run time) are enforced here instead.
    pub lifecycle_status: bool,
    /// Enumerated entity types: valid by declaration, never in the inventory.
    pub enums: HashSet<String>,
}

impl Screen {
    /// From the bundle's options and configuration and its schema (JSON form).
    pub fn compile(options: &BundleOptions, config: &Config, schema_json: &Value) -> Screen {
        let mut enums = HashSet::new();
        for (ns, def) in schema_json.as_object().into_iter().flatten() {
            let types = def.get("entityTypes").and_then(Value::as_object);
            for (name, decl) in types.into_iter().flatten() {
                if decl.get("enum").is_some() {
                    enums.insert(if ns.is_empty() {
                        name.clone()
                    } else {
                        format!("{ns}::{name}")
                    });
                }
            }
        }
        Screen {
            enabled: options.base_schema,
            lifecycle_status: options.base_schema && !config.baseline.agent_active,
            enums,
        }
    }
}
