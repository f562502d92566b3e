//! The policy index: only policies whose scope can match a request are
//! evaluated. Cedar evaluates every policy; a policy whose scope does not
//! match is false without error (scope constraints cannot error), so leaving
//! it out changes neither the decision, nor the reasons, nor the errors.
//!
//! Every entity and entity type a policy scope names gets a small integer id
//! when the index is built; a request's principal and resource are turned into
//! those ids once (the entity, its ancestors that some scope names, its type),
//! and from then on matching is integer comparisons.
//!
//! A policy whose first `when` condition starts with `context has NAME` (the
//! leftmost operand of its `&&` chain) is false without error, and without
//! evaluating anything else, for a request whose context has no `NAME`: Cedar
//! evaluates the scope (true for a candidate), then that operand, and `&&`
//! stops there. Such policies are left out for such requests too.

use super::cache::{BoundedCache, FxBuild, FxMap};
use cedar_policy::{
    ActionConstraint, Entities, EntityTypeName, EntityUid, Policy, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};
use std::sync::Arc;

/// Building a `PolicySet` costs about 0.7 µs per policy, more than evaluating
/// the candidates; sets are cached by candidate list, up to this many.
const SET_CACHE_CAPACITY: usize = 16_384;

/// Ids of the entities (`==`/`in` scopes) and entity types (`is` scopes) that
/// policy scopes name.
#[derive(Debug, Default)]
struct Names {
    uids: FxMap<EntityUid, u32>,
    types: FxMap<EntityTypeName, u32>,
}

impl Names {
    fn uid(&mut self, u: EntityUid) -> u32 {
        let next = u32::try_from(self.uids.len()).unwrap_or(u32::MAX);
        *self.uids.entry(u).or_insert(next)
    }
    fn ty(&mut self, t: EntityTypeName) -> u32 {
        let next = u32::try_from(self.types.len()).unwrap_or(u32::MAX);
        *self.types.entry(t).or_insert(next)
    }
}

/// A principal or resource scope constraint, over interned ids.
#[derive(Debug, Clone, Copy)]
enum Scope {
    Any,
    Eq(u32),
    In(u32),
    Is(u32),
    IsIn(u32, u32),
}

impl Scope {
    fn principal(c: PrincipalConstraint, names: &mut Names) -> Scope {
        match c {
            PrincipalConstraint::Any => Scope::Any,
            PrincipalConstraint::Eq(u) => Scope::Eq(names.uid(u)),
            PrincipalConstraint::In(u) => Scope::In(names.uid(u)),
            PrincipalConstraint::Is(t) => Scope::Is(names.ty(t)),
            PrincipalConstraint::IsIn(t, u) => Scope::IsIn(names.ty(t), names.uid(u)),
        }
    }

    fn resource(c: ResourceConstraint, names: &mut Names) -> Scope {
        match c {
            ResourceConstraint::Any => Scope::Any,
            ResourceConstraint::Eq(u) => Scope::Eq(names.uid(u)),
            ResourceConstraint::In(u) => Scope::In(names.uid(u)),
            ResourceConstraint::Is(t) => Scope::Is(names.ty(t)),
            ResourceConstraint::IsIn(t, u) => Scope::IsIn(names.ty(t), names.uid(u)),
        }
    }

    fn matches(self, s: &Subject) -> bool {
        match self {
            Scope::Any => true,
            Scope::Eq(u) => s.own == Some(u),
            Scope::In(u) => s.is_in(u),
            Scope::Is(t) => s.ty == Some(t),
            Scope::IsIn(t, u) => s.ty == Some(t) && s.is_in(u),
        }
    }
}

/// A request entity as the index sees it: its own id (if a scope names it),
/// the ids of itself and of its ancestors (as Cedar's `in` sees them) that
/// scopes name, and its type's id. Names no scope uses cannot match any scope,
/// so they are left out.
pub(crate) struct Subject {
    own: Option<u32>,
    within: Vec<u32>,
    ty: Option<u32>,
}

impl Subject {
    fn new(uid: &EntityUid, entities: &Entities, names: &Names) -> Subject {
        let own = names.uids.get(uid).copied();
        let mut within: Vec<u32> = own.into_iter().collect();
        if let Some(ancestors) = entities.ancestors(uid) {
            for a in ancestors {
                if let Some(&k) = names.uids.get(a) {
                    if !within.contains(&k) {
                        within.push(k);
                    }
                }
            }
        }
        Subject {
            own,
            within,
            ty: names.types.get(uid.type_name()).copied(),
        }
    }

    fn is_in(&self, group: u32) -> bool {
        self.within.contains(&group)
    }
}

/// Policies filed by one scope (principal or resource), so that every policy
/// a subject collects matches that scope exactly: `==` by the entity, `in` by
/// the entity, `is` by the type, `is ... in` by the entity with its type.
#[derive(Debug, Default)]
struct Filed {
    any: Vec<u32>,
    eq: FxMap<u32, Vec<u32>>,
    within: FxMap<u32, Vec<u32>>,
    is: FxMap<u32, Vec<u32>>,
    is_within: FxMap<u32, Vec<(u32, u32)>>,
}

impl Filed {
    fn file(&mut self, i: u32, scope: Scope) {
        match scope {
            Scope::Any => self.any.push(i),
            Scope::Eq(u) => self.eq.entry(u).or_default().push(i),
            Scope::In(u) => self.within.entry(u).or_default().push(i),
            Scope::Is(t) => self.is.entry(t).or_default().push(i),
            Scope::IsIn(t, u) => self.is_within.entry(u).or_default().push((t, i)),
        }
    }

    /// The policies whose scope matches `s`, each once (every policy is filed once).
    fn collect(&self, s: &Subject, out: &mut Vec<u32>) {
        if let Some(v) = s.own.and_then(|u| self.eq.get(&u)) {
            out.extend(v);
        }
        if let Some(v) = s.ty.and_then(|t| self.is.get(&t)) {
            out.extend(v);
        }
        for key in &s.within {
            if let Some(v) = self.within.get(key) {
                out.extend(v);
            }
            if let (Some(v), Some(ty)) = (self.is_within.get(key), s.ty) {
                out.extend(v.iter().filter(|(t, _)| *t == ty).map(|(_, i)| *i));
            }
        }
    }
}

/// Policies of one action: by principal scope; those with an unconstrained
/// principal, by resource scope.
#[derive(Debug, Default)]
struct Bucket {
    by_principal: Filed,
    any_principal: Filed,
}

impl Bucket {
    fn file(&mut self, i: u32, principal: Scope, resource: Scope) {
        match principal {
            Scope::Any => self.any_principal.file(i, resource),
            scope => self.by_principal.file(i, scope),
        }
    }
}

#[derive(Debug)]
struct Entry {
    policy: Policy,
    principal: Scope,
    resource: Scope,
    action: ActionConstraint,
    /// The context attribute the policy's condition starts by testing with `has`.
    requires: Option<String>,
}

/// `NAME` when the policy's first condition is a `when` whose leftmost
/// `&&` operand is `context has NAME`.
fn required_context_attr(policy: &Policy) -> Option<String> {
    let json = policy.to_json().ok()?;
    let first = json.get("conditions")?.as_array()?.first()?;
    if first.get("kind")?.as_str()? != "when" {
        return None;
    }
    let mut e = first.get("body")?;
    while let Some(and) = e.get("&&") {
        e = and.get("left")?;
    }
    let has = e.get("has")?;
    let on_context = has.get("left")?.get("Var")?.as_str()? == "context";
    let attr = has.get("attr")?.as_str()?;
    (on_context && has.as_object()?.len() == 2).then(|| attr.to_string())
}

#[derive(Debug)]
pub(crate) struct PolicyIndex {
    entries: Vec<Entry>,
    names: Names,
    /// Per known action: the policies whose action scope matches it.
    by_action: FxMap<EntityUid, Bucket>,
    /// Every entity type of the entities and the scopes, by its written form.
    type_names: FxMap<String, EntityTypeName>,
    sets: BoundedCache<Box<[u32]>, Arc<PolicySet>, FxBuild>,
}

/// Whether an action scope matches `action`, given its ancestors.
fn action_matches(c: &ActionConstraint, action: &EntityUid, ancestors: &[&EntityUid]) -> bool {
    let is_in = |g: &EntityUid| action == g || ancestors.contains(&g);
    match c {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(u) => action == u,
        ActionConstraint::In(groups) => groups.iter().any(is_in),
    }
}

impl PolicyIndex {
    /// Indexes `policies` for the actions found in `entities` (the schema's
    /// action entities are there); other actions are matched at request time.
    pub fn new(policies: &PolicySet, entities: &Entities) -> PolicyIndex {
        let mut names = Names::default();
        let entries: Vec<Entry> = policies
            .policies()
            .map(|p| Entry {
                policy: p.clone(),
                principal: Scope::principal(p.principal_constraint(), &mut names),
                resource: Scope::resource(p.resource_constraint(), &mut names),
                action: p.action_constraint(),
                requires: required_context_attr(p),
            })
            .collect();
        let mut type_names = FxMap::default();
        let types = entities
            .iter()
            .map(|e| e.uid().type_name().clone())
            .chain(names.uids.keys().map(|u| u.type_name().clone()))
            .chain(names.types.keys().cloned());
        for t in types {
            type_names.entry(t.to_string()).or_insert(t);
        }
        let mut by_action = FxMap::default();
        for action in entities.iter().map(|e| e.uid()) {
            if !action.type_name().basename().eq("Action") {
                continue;
            }
            let bucket = Self::bucket(&entries, &action, entities);
            by_action.insert(action.clone(), bucket);
        }
        PolicyIndex {
            entries,
            names,
            by_action,
            type_names,
            sets: BoundedCache::new(SET_CACHE_CAPACITY),
        }
    }

    fn bucket(entries: &[Entry], action: &EntityUid, entities: &Entities) -> Bucket {
        let ancestors: Vec<&EntityUid> = entities
            .ancestors(action)
            .map(|it| it.collect())
            .unwrap_or_default();
        let mut bucket = Bucket::default();
        for (i, e) in entries.iter().enumerate() {
            if action_matches(&e.action, action, &ancestors) {
                bucket.file(
                    u32::try_from(i).unwrap_or(u32::MAX),
                    e.principal,
                    e.resource,
                );
            }
        }
        bucket
    }

    /// A known entity type by its written form (parsing one costs more than a lookup).
    pub fn type_name(&self, written: &str) -> Option<&EntityTypeName> {
        self.type_names.get(written)
    }

    /// The policies whose scope matches the request and that the request's
    /// context does not rule out (`context_has`: whether it has an attribute),
    /// as a set to evaluate.
    pub fn candidates(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        entities: &Entities,
        context_has: impl Fn(&str) -> bool,
    ) -> Arc<PolicySet> {
        let computed;
        let bucket = match self.by_action.get(action) {
            Some(b) => b,
            None => {
                computed = Self::bucket(&self.entries, action, entities);
                &computed
            }
        };
        let p = Subject::new(principal, entities, &self.names);
        let r = Subject::new(resource, entities, &self.names);
        let mut picked: Vec<u32> = Vec::with_capacity(16);
        bucket.by_principal.collect(&p, &mut picked);
        // Their principal scope matches; check the resource scope.
        picked.retain(|&i| {
            self.entries
                .get(i as usize)
                .is_some_and(|e| e.resource.matches(&r))
        });
        // Unconstrained principal, matching resource scope.
        picked.extend(&bucket.any_principal.any);
        bucket.any_principal.collect(&r, &mut picked);
        picked.retain(|&i| {
            self.entries
                .get(i as usize)
                .is_some_and(|e| e.requires.as_deref().is_none_or(&context_has))
        });
        picked.sort_unstable();
        picked.dedup();
        if let Some(set) = self.sets.get(picked.as_slice()) {
            return set;
        }
        let chosen = picked
            .iter()
            .filter_map(|&i| self.entries.get(i as usize).map(|e| e.policy.clone()));
        // Ids are unique in the source set, so adding cannot fail.
        let set = Arc::new(PolicySet::from_policies(chosen).unwrap_or_default());
        self.sets.insert(picked.into_boxed_slice(), set.clone());
        set
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::required_context_attr;
    use cedar_policy::Policy;

    fn req(text: &str) -> Option<String> {
        required_context_attr(&Policy::parse(None, text).unwrap())
    }

    #[test]
    fn leading_context_has_is_found() {
        let p = "permit(principal, action, resource)";
        assert_eq!(
            req(&format!("{p} when {{ context has task }};")).as_deref(),
            Some("task")
        );
        assert_eq!(
            req(&format!("{p} when {{ context has a && context.a && context has b }} unless {{ context has c }};")).as_deref(),
            Some("a")
        );
        assert_eq!(
            req(&format!(
                "{p} when {{ (context has a && context.a) && context.b }};"
            ))
            .as_deref(),
            Some("a")
        );
    }

    #[test]
    fn anything_else_is_not() {
        let p = "permit(principal, action, resource)";
        for cond in [
            "",
            "unless { context has a }",
            "when { principal has a && context has a }",
            "when { context has a || true }",
            "when { !(context has a) }",
            "when { context.r has a }",
            "when { context has a.b }",
            "when { principal.level > 1 } when { context has a }",
            "when { if context has a then true else true }",
        ] {
            assert_eq!(req(&format!("{p} {cond};")), None, "{cond}");
        }
    }
}
