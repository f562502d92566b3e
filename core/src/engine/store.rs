//! The entities of a snapshot: the ones compiled from the bundle (Cedar's
//! `Entities`, shared by every snapshot derived from it) and the versions
//! run-time changes made since, kept beside them.
//!
//! Why: Cedar's `Entities` is one hash map that can only be replaced whole
//! (its upsert clones the map and scans every entity for stale hierarchy
//! edges, 25-50 ms at 50,000 entities). A change here costs the size of what
//! it changed; folding the changes into a new Cedar map (`compacted`) happens
//! off the change path.
//!
//! A request is decided against the compiled entities as they are unless
//! Cedar could read a changed one while evaluating it. Evaluation only reads
//! entities it reaches from the request (principal, action, resource, entity
//! values in the context), from entity literals in a policy, and from there
//! through attribute and tag values: the closure of those roots over entity
//! references. When that closure holds a changed entity, the request gets a
//! store of exactly the closure, every entity in its current version. An
//! entity outside the closure cannot be read, so both answer as a store with
//! every change applied would. Changes never alter the hierarchy (they edit
//! attributes and add tasks without parents), so an entity's ancestors, which
//! Cedar keeps on the entity itself, stay what the compiled store says.

use super::cache::FxMap;
use crate::error::{Error, ErrorCode, Result};
use cedar_policy::{Entities, Entity, EntityUid, Policy, Request};
use cedar_policy_core::ast;
use cedar_policy_core::entities::{
    Dereference, Entities as CoreEntities, NoEntitiesSchema, TCComputation,
};
use cedar_policy_core::extensions::Extensions;
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

/// Visited uids of a closure: some come from the request, so not Fx (its
/// collisions can be forced).
type Seen<T> = HashSet<T>;

#[derive(Debug, Clone, Default)]
pub(crate) struct EntityStore {
    base: Arc<Entities>,
    /// Entities changed or added since `base`, in their current version.
    changed: Arc<FxMap<ast::EntityUID, Arc<Entity>>>,
    /// Entity literals of every policy that can be evaluated.
    literals: Arc<[EntityUid]>,
    /// The closure of `literals`, when it holds a changed entity (then every
    /// request needs its own store; empty otherwise).
    literal_closure: Arc<[ast::EntityUID]>,
    /// Entities changed since the bundle was compiled, as it stated them
    /// (`None`: added at run time). Folding keeps this, not the old map.
    compiled: Arc<FxMap<EntityUid, Option<Arc<Entity>>>>,
}

impl EntityStore {
    /// A store of `entities` whose policies name `literals` in conditions.
    pub fn new(entities: Arc<Entities>, literals: Vec<EntityUid>) -> EntityStore {
        EntityStore {
            base: entities,
            changed: Arc::default(),
            literals: literals.into(),
            literal_closure: Arc::from([]),
            compiled: Arc::default(),
        }
    }

    /// The compiled entities (the hierarchy is theirs; changes never alter it).
    pub fn base(&self) -> &Entities {
        &self.base
    }

    /// The entity as the bundle's inventory stated it (before run-time changes).
    pub fn as_compiled(&self, uid: &EntityUid) -> Option<&Entity> {
        match self.compiled.get(uid) {
            Some(original) => original.as_deref(),
            None => self.base.get(uid),
        }
    }

    /// How many entities changed since the compiled store.
    pub fn pending(&self) -> usize {
        self.changed.len()
    }

    /// The entity in its current version.
    pub fn get(&self, uid: &EntityUid) -> Option<&Entity> {
        match self.changed.get(uid.as_ref()) {
            Some(e) => Some(e),
            None => self.base.get(uid),
        }
    }

    /// The entity in its current version, as Cedar's core holds it.
    fn core(&self, uid: &ast::EntityUID) -> Option<&ast::Entity> {
        match self.changed.get(uid) {
            Some(e) => Some(AsRef::<ast::Entity>::as_ref(&**e)),
            None => match AsRef::<CoreEntities>::as_ref(&*self.base).entity(uid) {
                Dereference::Data(e) => Some(e),
                _ => None,
            },
        }
    }

    /// The store with `edits` (new versions, new entities) in, and the entity
    /// literals of `extra` policies (grants) added to the roots of every request.
    pub fn with_changes(
        &self,
        edits: impl IntoIterator<Item = Entity>,
        extra: &[&Policy],
    ) -> EntityStore {
        let mut changed = FxMap::clone(&self.changed);
        let mut compiled = None;
        for e in edits {
            let uid = e.uid();
            if !self.compiled.contains_key(&uid) {
                let c = compiled.get_or_insert_with(|| FxMap::clone(&self.compiled));
                c.insert(uid.clone(), self.base.get(&uid).cloned().map(Arc::new));
            }
            changed.insert(AsRef::<ast::EntityUID>::as_ref(&uid).clone(), Arc::new(e));
        }
        let mut next = EntityStore {
            base: self.base.clone(),
            changed: Arc::new(changed),
            literals: self.literals.clone(),
            literal_closure: Arc::from([]),
            compiled: compiled.map_or_else(|| self.compiled.clone(), Arc::new),
        };
        next.refresh_literals(extra);
        next
    }

    fn refresh_literals(&mut self, extra: &[&Policy]) {
        self.literal_closure = Arc::from([]);
        if self.changed.is_empty() {
            return;
        }
        let grants: Vec<EntityUid> = extra.iter().flat_map(|p| condition_literals(p)).collect();
        let roots = self.literals.iter().chain(&grants).map(AsRef::as_ref);
        let mut seen = Seen::default();
        if self.closure(roots, &mut seen) {
            let closure: Vec<ast::EntityUID> = seen.into_iter().cloned().collect();
            self.literal_closure = closure.into();
        }
    }

    /// Adds to `seen` every entity reachable from `roots` through entity
    /// references in attribute and tag values (the roots included, also when
    /// absent); whether one of them changed. No uid is copied.
    fn closure<'a>(
        &'a self,
        roots: impl Iterator<Item = &'a ast::EntityUID>,
        seen: &mut Seen<&'a ast::EntityUID>,
    ) -> bool {
        let mut todo: Vec<&'a ast::EntityUID> = roots.collect();
        let mut hit = false;
        while let Some(uid) = todo.pop() {
            if !seen.insert(uid) {
                continue;
            }
            hit |= self.changed.contains_key(uid);
            if let Some(e) = self.core(uid) {
                for (_, v) in e.attrs().chain(e.tags()) {
                    references(v, &mut todo);
                }
            }
        }
        hit
    }

    /// The entities to decide `request` against: the compiled ones when no
    /// changed entity can be read while deciding it, else the closure of what
    /// it can read.
    pub fn for_request<'a>(&'a self, request: &'a Request) -> Result<Cow<'a, Entities>> {
        if self.changed.is_empty() {
            return Ok(Cow::Borrowed(&self.base));
        }
        let mut roots: Vec<&ast::EntityUID> =
            [request.principal(), request.action(), request.resource()]
                .into_iter()
                .flatten()
                .map(AsRef::as_ref)
                .collect();
        if let Some(context) = request.context() {
            if let ast::Context::Value(map) = AsRef::<ast::Context>::as_ref(context) {
                for v in map.values() {
                    values(v, &mut roots);
                }
            }
        }
        let mut seen = Seen::default();
        let hit = self.closure(roots.into_iter(), &mut seen);
        if !hit && self.literal_closure.is_empty() {
            return Ok(Cow::Borrowed(&self.base));
        }
        seen.extend(self.literal_closure.iter());
        self.slice(seen.into_iter()).map(Cow::Owned)
    }

    /// A Cedar store of the entities `uids` name, each once (absent ones left out).
    fn slice<'a>(&self, uids: impl Iterator<Item = &'a ast::EntityUID>) -> Result<Entities> {
        let list = uids.filter_map(|uid| self.core(uid).cloned());
        // Each entity keeps the ancestors (transitively closed) it has in the
        // full store, so the closure still holds.
        CoreEntities::from_entities(
            list,
            None::<&NoEntitiesSchema>,
            TCComputation::AssumeAlreadyComputed,
            Extensions::all_available(),
        )
        .map(Entities::from)
        .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
    }

    /// Every entity in its current version, as one Cedar store.
    pub fn merged(&self, with_descendants: &HashSet<EntityUid>) -> Result<Entities> {
        if self.changed.is_empty() {
            return Ok(Entities::clone(&self.base));
        }
        let refused = |e: &dyn std::fmt::Display| Error::new(ErrorCode::Internal, e.to_string());
        let edits: Vec<Entity> = self.changed.values().map(|e| Entity::clone(e)).collect();
        // Cedar's upsert strips the hierarchy edges of an edited entity's
        // descendants; its own closure repair puts them back (they are
        // unchanged), the fast path below does not, so it is for entities
        // nothing descends from.
        if edits.iter().any(|e| with_descendants.contains(&e.uid())) {
            return Entities::clone(&self.base)
                .upsert_entities(edits, None)
                .map_err(|e| refused(&e));
        }
        let core = edits
            .into_iter()
            .map(|e| Arc::new(AsRef::<ast::Entity>::as_ref(&e).clone()));
        AsRef::<cedar_policy_core::entities::Entities>::as_ref(&*self.base)
            .clone()
            .upsert_entities(
                core,
                None::<&NoEntitiesSchema>,
                TCComputation::AssumeAlreadyComputed,
                Extensions::all_available(),
            )
            .map(Entities::from)
            .map_err(|e| refused(&e))
    }

    /// This store with its changes folded into a new compiled store.
    pub fn compacted(&self, with_descendants: &HashSet<EntityUid>) -> Result<EntityStore> {
        Ok(EntityStore {
            base: Arc::new(self.merged(with_descendants)?),
            changed: Arc::default(),
            literals: self.literals.clone(),
            literal_closure: Arc::from([]),
            compiled: self.compiled.clone(),
        })
    }

    /// `self` (a newer store on the same compiled entities as `from`) over
    /// `folded`, the compaction of `from`: the changes `from` had are in
    /// `folded`'s compiled entities; later ones stay beside them. `None` when
    /// `self` is not built on `from`'s compiled entities (a reload came
    /// between).
    pub fn rebased(
        &self,
        from: &EntityStore,
        folded: &EntityStore,
        extra: &[&Policy],
    ) -> Option<EntityStore> {
        if !Arc::ptr_eq(&self.base, &from.base) {
            return None;
        }
        let later: FxMap<ast::EntityUID, Arc<Entity>> = self
            .changed
            .iter()
            .filter(|(uid, e)| from.changed.get(*uid).is_none_or(|f| !Arc::ptr_eq(f, e)))
            .map(|(uid, e)| (uid.clone(), e.clone()))
            .collect();
        let mut next = EntityStore {
            base: folded.base.clone(),
            changed: Arc::new(later),
            literals: self.literals.clone(),
            literal_closure: Arc::from([]),
            compiled: self.compiled.clone(),
        };
        next.refresh_literals(extra);
        Some(next)
    }
}

/// Entity references in an attribute or tag value, pushed onto `out`.
fn references<'a>(v: &'a ast::PartialValue, out: &mut Vec<&'a ast::EntityUID>) {
    match v {
        ast::PartialValue::Value(v) => values(v, out),
        // Residuals come only from partial evaluation, which the engine never
        // runs (cedar-policy's `partial-eval` feature is off).
        ast::PartialValue::Residual(_) => {}
    }
}

/// Entity references in a value (an explicit stack: values may nest deeply).
fn values<'a>(v: &'a ast::Value, out: &mut Vec<&'a ast::EntityUID>) {
    let mut stack: Vec<&'a ast::Value> = vec![v];
    while let Some(v) = stack.pop() {
        match &v.value {
            ast::ValueKind::Lit(ast::Literal::EntityUID(uid)) => {
                out.push(uid);
            }
            ast::ValueKind::Set(set) => stack.extend(set.iter()),
            ast::ValueKind::Record(record) => stack.extend(record.values()),
            _ => {}
        }
    }
}

/// The entity literals in the `when`/`unless` conditions of `policies`.
/// Scope literals are left out: `==`, `in` and `is` on them read the
/// request's entity (a root), never the literal's.
pub(crate) fn literals<'a>(policies: impl Iterator<Item = &'a Policy>) -> Vec<EntityUid> {
    let mut set: HashSet<EntityUid> = HashSet::new();
    for p in policies {
        set.extend(condition_literals(p));
    }
    set.into_iter().collect()
}

fn condition_literals(policy: &Policy) -> Vec<EntityUid> {
    let Some(body) = AsRef::<ast::Policy>::as_ref(policy).non_scope_constraints() else {
        return Vec::new();
    };
    body.subexpressions()
        .filter_map(|e| match e.expr_kind() {
            ast::ExprKind::Lit(ast::Literal::EntityUID(uid)) => {
                Some(EntityUid::from(ast::EntityUID::clone(uid)))
            }
            _ => None,
        })
        .collect()
}
