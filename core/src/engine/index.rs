//! The policy index: only policies whose scope can match a request are
//! evaluated. Cedar evaluates every policy; a policy whose scope does not
//! match is false without error (scope constraints cannot error), so leaving
//! it out changes neither the decision, nor the reasons, nor the errors.

use super::cache::BoundedCache;
use cedar_policy::{
    ActionConstraint, Entities, EntityTypeName, EntityUid, Policy, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};
use std::collections::HashMap;
use std::sync::Arc;

/// Building a `PolicySet` costs about 0.7 µs per policy, more than evaluating
/// the candidates; sets are cached by candidate list, up to this many.
const SET_CACHE_CAPACITY: usize = 16_384;

/// A principal or resource scope constraint.
#[derive(Debug, Clone)]
enum Scope {
    Any,
    Eq(EntityUid),
    In(EntityUid),
    Is(EntityTypeName),
    IsIn(EntityTypeName, EntityUid),
}

impl From<PrincipalConstraint> for Scope {
    fn from(c: PrincipalConstraint) -> Scope {
        match c {
            PrincipalConstraint::Any => Scope::Any,
            PrincipalConstraint::Eq(u) => Scope::Eq(u),
            PrincipalConstraint::In(u) => Scope::In(u),
            PrincipalConstraint::Is(t) => Scope::Is(t),
            PrincipalConstraint::IsIn(t, u) => Scope::IsIn(t, u),
        }
    }
}

impl From<ResourceConstraint> for Scope {
    fn from(c: ResourceConstraint) -> Scope {
        match c {
            ResourceConstraint::Any => Scope::Any,
            ResourceConstraint::Eq(u) => Scope::Eq(u),
            ResourceConstraint::In(u) => Scope::In(u),
            ResourceConstraint::Is(t) => Scope::Is(t),
            ResourceConstraint::IsIn(t, u) => Scope::IsIn(t, u),
        }
    }
}

/// An entity of the request with its ancestors, as Cedar's `in` sees them.
/// Ancestor lists are short, so a vector beats a hash set here.
pub(crate) struct Subject<'a> {
    uid: &'a EntityUid,
    ancestors: Vec<&'a EntityUid>,
}

impl<'a> Subject<'a> {
    pub fn new(uid: &'a EntityUid, entities: &'a Entities) -> Subject<'a> {
        let ancestors = entities
            .ancestors(uid)
            .map(|it| it.collect())
            .unwrap_or_default();
        Subject { uid, ancestors }
    }

    fn is_in(&self, group: &EntityUid) -> bool {
        self.uid == group || self.ancestors.contains(&group)
    }

    /// The keys under which policies scoped to this subject are filed.
    fn keys(&self) -> impl Iterator<Item = &EntityUid> {
        std::iter::once(self.uid).chain(self.ancestors.iter().copied())
    }
}

impl Scope {
    fn matches(&self, s: &Subject<'_>) -> bool {
        match self {
            Scope::Any => true,
            Scope::Eq(u) => s.uid == u,
            Scope::In(u) => s.is_in(u),
            Scope::Is(t) => s.uid.type_name() == t,
            Scope::IsIn(t, u) => s.uid.type_name() == t && s.is_in(u),
        }
    }
}

/// Policies filed by one scope (principal or resource): unconstrained, by the
/// entity of `==`/`in`, or by the type of `is`.
#[derive(Debug, Default)]
struct Filed {
    any: Vec<u32>,
    by_uid: HashMap<EntityUid, Vec<u32>>,
    by_type: HashMap<EntityTypeName, Vec<u32>>,
}

impl Filed {
    fn file(&mut self, i: u32, scope: &Scope) {
        match scope {
            Scope::Any => self.any.push(i),
            Scope::Eq(u) | Scope::In(u) | Scope::IsIn(_, u) => {
                self.by_uid.entry(u.clone()).or_default().push(i)
            }
            Scope::Is(t) => self.by_type.entry(t.clone()).or_default().push(i),
        }
    }

    /// The keyed lists a subject can match (a superset: scopes are checked after).
    fn collect(&self, s: &Subject<'_>, out: &mut Vec<u32>) {
        if let Some(v) = self.by_type.get(s.uid.type_name()) {
            out.extend(v);
        }
        for key in s.keys() {
            if let Some(v) = self.by_uid.get(key) {
                out.extend(v);
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
    fn file(&mut self, i: u32, principal: &Scope, resource: &Scope) {
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
}

#[derive(Debug)]
pub(crate) struct PolicyIndex {
    entries: Vec<Entry>,
    /// Per known action: the policies whose action scope matches it.
    by_action: HashMap<EntityUid, Bucket>,
    sets: BoundedCache<Box<[u32]>, Arc<PolicySet>>,
}

fn action_matches(c: &ActionConstraint, action: &Subject<'_>) -> bool {
    match c {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(u) => action.uid == u,
        ActionConstraint::In(groups) => groups.iter().any(|g| action.is_in(g)),
    }
}

impl PolicyIndex {
    /// Indexes `policies` for the actions found in `entities` (the schema's
    /// action entities are there); other actions are matched at request time.
    pub fn new(policies: &PolicySet, entities: &Entities) -> PolicyIndex {
        let entries: Vec<Entry> = policies
            .policies()
            .map(|p| Entry {
                policy: p.clone(),
                principal: p.principal_constraint().into(),
                resource: p.resource_constraint().into(),
                action: p.action_constraint(),
            })
            .collect();
        let mut by_action = HashMap::new();
        for action in entities.iter().map(|e| e.uid()) {
            if !action.type_name().basename().eq("Action") {
                continue;
            }
            let subject = Subject::new(&action, entities);
            let bucket = Self::bucket(&entries, &subject);
            by_action.insert(action.clone(), bucket);
        }
        PolicyIndex {
            entries,
            by_action,
            sets: BoundedCache::new(SET_CACHE_CAPACITY),
        }
    }

    fn bucket(entries: &[Entry], action: &Subject<'_>) -> Bucket {
        let mut bucket = Bucket::default();
        for (i, e) in entries.iter().enumerate() {
            if action_matches(&e.action, action) {
                bucket.file(
                    u32::try_from(i).unwrap_or(u32::MAX),
                    &e.principal,
                    &e.resource,
                );
            }
        }
        bucket
    }

    /// The policies whose scope matches the request, as a set to evaluate.
    pub fn candidates(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        entities: &Entities,
    ) -> Arc<PolicySet> {
        let p = Subject::new(principal, entities);
        let r = Subject::new(resource, entities);
        let computed;
        let bucket = match self.by_action.get(action) {
            Some(b) => b,
            None => {
                computed = Self::bucket(&self.entries, &Subject::new(action, entities));
                &computed
            }
        };
        let mut picked: Vec<u32> = bucket.any_principal.any.clone();
        bucket.any_principal.collect(&r, &mut picked);
        bucket.by_principal.collect(&p, &mut picked);
        picked.sort_unstable();
        picked.dedup();
        picked.retain(|&i| {
            self.entries
                .get(i as usize)
                .is_some_and(|e| e.principal.matches(&p) && e.resource.matches(&r))
        });
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
