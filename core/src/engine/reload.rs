//! What loading and reloading a bundle share: the builder's `[engine]`
//! settings, replaying the recorded changes on a new snapshot, and
//! `[identity]` read again.

use super::lifecycle;
use super::snapshot::{self, Snapshot};
use super::warnings;
use super::writer::{folded, Applied, Skipped};
use crate::bundle::{Bundle, Config, OnError};
use crate::change::Change;
use crate::error::Result;
use crate::identity::Identity;
use crate::model::EntityRef;

/// `[engine]` settings given to the builder.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Overrides {
    pub on_error: Option<OnError>,
    pub strict: Option<bool>,
}

impl Overrides {
    /// Compiles `bundle` with these settings: strict mode refuses a bundle
    /// with warnings (`policy_may_error`).
    pub fn compile(self, bundle: Bundle) -> Result<Snapshot> {
        let mut snapshot = Snapshot::compile(bundle)?;
        if let Some(on_error) = self.on_error {
            snapshot.on_error = on_error;
        }
        if self.strict.unwrap_or(snapshot.strict) && !snapshot.warnings.is_empty() {
            return Err(warnings::as_error(&snapshot.warnings));
        }
        Ok(snapshot)
    }
}

/// Whether the snapshot's inventory has agent `id`.
pub(super) fn request_agent_exists(snapshot: &Snapshot, id: &str) -> bool {
    snapshot.bundle.options.base_schema
        && snapshot::entity_uid(&EntityRef::new("Agent", id))
            .is_ok_and(|uid| snapshot.store.get(&uid).is_some())
}

/// The `agentauthz.toml` of a reloaded bundle.
pub(super) fn reloaded_config(compiled: &Snapshot) -> Result<Config> {
    match &compiled.bundle.config {
        Some(src) => Config::parse_with(src, &compiled.limits),
        None => Ok(Config::default()),
    }
}

/// `[identity]` of a reloaded bundle (read again: keys, issuers, audience),
/// keeping keys the engine already had where the new build has none.
pub(super) fn reloaded_identity(
    compiled: &Snapshot,
    config: &Config,
    old: &Identity,
    now: i64,
) -> Result<Identity> {
    Ok(
        Identity::from_config(&config.identity, compiled.bundle.dir.as_deref(), now)?
            .keeping_keys_of(old),
    )
}

/// Applies recorded changes on top of a freshly compiled snapshot, each at
/// its own time. A change made against an inventory statement the bundle has
/// changed since yields to the bundle (the newest statement about an entity
/// wins); a change that no longer applies is skipped. Both are described.
pub(super) fn replay(compiled: &Snapshot, history: &[Applied]) -> Result<(Snapshot, Vec<Skipped>)> {
    let mut skipped = Vec::new();
    let mut kept: Vec<&Applied> = Vec::new();
    for a in history {
        let superseded = a
            .entry
            .basis
            .as_deref()
            .and_then(|b| lifecycle::superseded(compiled, &a.entry.change, b));
        match superseded {
            Some(why) => skipped.push(Skipped {
                entry: a.entry.clone(),
                reason: format!("{} skipped: {why}", a.entry.change.op()),
            }),
            None => kept.push(a),
        }
    }
    if kept.is_empty() {
        return Ok((compiled.clone(), skipped));
    }
    let changes: Vec<(i64, &Change)> = kept.iter().map(|a| (a.at, &a.entry.change)).collect();
    let (snapshot, failed) = lifecycle::apply(compiled, &changes, false)?;
    let snapshot = folded(snapshot)?;
    for (i, reason) in failed {
        if let Some(a) = kept.get(i) {
            skipped.push(Skipped {
                entry: a.entry.clone(),
                reason,
            });
        }
    }
    skipped.sort_by_key(|s| s.entry.seq);
    Ok((snapshot, skipped))
}
