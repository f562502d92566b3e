//! The policy index: only policies whose scope can match a request are
//! evaluated. Cedar evaluates every policy; a policy whose scope does not
//! match is false without error (scope constraints cannot error), so leaving
//! it out changes neither the decision, nor the reasons, nor the errors.
//!
//! The index is exact: the candidates are exactly the policies whose scope
//! matches the request. That is what lets Cedar evaluate a candidate without
//! its scope (see `unscoped`); the differential proptest checks it.
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
//! stops there. Such policies are left out for such requests too. So are
//! policies whose condition starts by comparing a `context.usage` number with
//! an integer (`context.usage.action.calls_1h >= 60`) when the request's
//! counts make that comparison false: a rate or budget limit that is not
//! reached costs no evaluation.

use super::cache::{BoundedCache, FxBuild, FxMap};
use super::context::usage_number;
use super::decide::Compiled;
use super::usage::{UsageCounts, UsageNumber, UsageReads};
use cedar_policy::{
    ActionConstraint, Entities, EntityTypeName, EntityUid, Policy, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};
use cedar_policy_core::ast;
use std::sync::Arc;

/// Candidate lists are cached (one allocation less per check), up to this many.
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
    /// The policy as a check evaluates it for a candidate: without its scope
    /// (see `unscoped`), or as written.
    policy: Compiled,
    principal: Scope,
    resource: Scope,
    action: ActionConstraint,
    /// What the policy's condition tests first, when a request can rule it out.
    leading: Option<Leading>,
}

/// The leftmost operand of a policy's condition, when it is one the index
/// can decide before Cedar runs. Cedar evaluates it first (the scope is true
/// for a candidate) and `&&` stops when it is false: the policy is then
/// false without error, as if it had not been evaluated.
#[derive(Debug)]
enum Leading {
    /// `context has NAME`: false when the context has no `NAME`.
    Has(String),
    /// A comparison of a `context.usage` number with an integer literal.
    Usage(UsageTest),
}

/// `[!](number OP literal)` or `[!](literal OP number)`, with `OP` one of
/// Cedar's `<`, `<=`, `==` (it writes `a >= b` as `!(a < b)`, `a > b` as
/// `!(a <= b)`, `a != b` as `!(a == b)`).
#[derive(Debug, Clone, Copy)]
struct UsageTest {
    number: UsageNumber,
    op: ast::BinaryOp,
    literal: i64,
    number_first: bool,
    negated: bool,
}

impl UsageTest {
    /// The test the policy's condition starts with, read from Cedar's AST.
    fn leading(policy: &Policy) -> Option<UsageTest> {
        use ast::ExprKind;
        let mut e = AsRef::<ast::Policy>::as_ref(policy).non_scope_constraints()?;
        while let ExprKind::And { left, .. } = e.expr_kind() {
            e = left;
        }
        let (negated, e) = match e.expr_kind() {
            ExprKind::UnaryApp {
                op: ast::UnaryOp::Not,
                arg,
            } => (true, arg.as_ref()),
            _ => (false, e),
        };
        let ExprKind::BinaryApp { op, arg1, arg2 } = e.expr_kind() else {
            return None;
        };
        if !matches!(
            op,
            ast::BinaryOp::Less | ast::BinaryOp::LessEq | ast::BinaryOp::Eq
        ) {
            return None;
        }
        let (number, literal, number_first) = match (usage_number(arg1), long(arg2)) {
            (Some(n), Some(l)) => (n, l, true),
            _ => (usage_number(arg2)?, long(arg1)?, false),
        };
        Some(UsageTest {
            number,
            op: *op,
            literal,
            number_first,
            negated,
        })
    }

    /// Whether the comparison is true of `value` (Cedar's integer order).
    fn holds(&self, value: i64) -> bool {
        let (a, b) = if self.number_first {
            (value, self.literal)
        } else {
            (self.literal, value)
        };
        let r = match self.op {
            ast::BinaryOp::Less => a < b,
            ast::BinaryOp::LessEq => a <= b,
            _ => a == b,
        };
        r != self.negated
    }
}

fn long(e: &ast::Expr) -> Option<i64> {
    match e.expr_kind() {
        ast::ExprKind::Lit(ast::Literal::Long(l)) => Some(*l),
        _ => None,
    }
}

/// What a request's context holds that can rule out a candidate: which
/// attributes it has, and the `context.usage` counts the engine put there
/// (with the windows it summed), if it did.
pub(crate) struct Known<F> {
    pub has: F,
    pub usage: Option<(UsageCounts, UsageReads)>,
}

impl<F: Fn(&str) -> bool> Known<F> {
    fn rules_out(&self, leading: &Leading) -> bool {
        match leading {
            Leading::Has(name) => !(self.has)(name),
            Leading::Usage(t) => self
                .usage
                .and_then(|(counts, reads)| counts.number(t.number, reads))
                .is_some_and(|value| !t.holds(value)),
        }
    }
}

/// `NAME` when the policy's first condition is a `when` whose leftmost
/// `&&` operand is `context has NAME`.
///
/// Read from the policy's text: Cedar's own structured forms (JSON, PST) are
/// rebuilt by re-parsing the text, about 170 µs a policy, which would add
/// seconds to loading 10,000 policies. The text is tokenized (strings and
/// comments skipped) and only the plainest form is accepted: after the scope,
/// `when { context has NAME }` or `when { context has NAME && ... }` with no
/// `||` and no `if` outside brackets in that body (`&&` binds tighter than
/// `||`, and `has` tighter than `&&`, so the body is then a left-nested `&&`
/// chain whose leftmost operand is the `has`). Anything else: `None`.
fn required_context_attr(policy: &Policy) -> Option<String> {
    let text = policy.to_cedar()?;
    let (tokens, _) = tokens(&text)?;
    let (_, scope_end) = scope(&tokens)?;
    let mut i = scope_end + 1;
    if tokens.get(i)? != &Tok::Ident("when") || tokens.get(i + 1)? != &Tok::Punct('{') {
        return None;
    }
    i += 1;
    let end = close(&tokens, i)?;
    let body = tokens.get(i + 1..end)?;
    let [Tok::Ident("context"), Tok::Ident("has"), Tok::Ident(name), rest @ ..] = body else {
        return None;
    };
    match rest.first() {
        None => {}
        Some(Tok::And) => {
            let mut depth = 0i32;
            for t in rest {
                match t {
                    Tok::Punct('(' | '[' | '{') => depth += 1,
                    Tok::Punct(')' | ']' | '}') => depth -= 1,
                    Tok::Or | Tok::Ident("if") if depth == 0 => return None,
                    _ => {}
                }
            }
        }
        Some(_) => return None,
    }
    Some(name.to_string())
}

/// The token indices of the brackets around the policy's scope (after the
/// annotations and the effect).
fn scope(tokens: &[Tok<'_>]) -> Option<(usize, usize)> {
    let mut i = 0;
    // Annotations: `@key` or `@key("value")` (strings are single tokens).
    while tokens.get(i) == Some(&Tok::Punct('@')) {
        i += 2;
        if tokens.get(i) == Some(&Tok::Punct('(')) {
            i = close(tokens, i)? + 1;
        }
    }
    match tokens.get(i)? {
        Tok::Ident("permit" | "forbid") => {}
        _ => return None,
    }
    i += 1;
    if tokens.get(i)? != &Tok::Punct('(') {
        return None;
    }
    Some((i, close(tokens, i)?))
}

/// The policy with its scope replaced by `(principal, action, resource)`:
/// for a request the index found it matches, its scope is true and cannot
/// error, so Cedar gives the same result, reasons and errors without
/// evaluating the scope again (`action in [...]` builds a set, `in` walks the
/// hierarchy: a large part of evaluating a policy). `None` when the policy's
/// scope is unconstrained already or its text cannot be rewritten.
fn unscoped(policy: &Policy) -> Option<Policy> {
    let unconstrained = matches!(policy.principal_constraint(), PrincipalConstraint::Any)
        && matches!(policy.action_constraint(), ActionConstraint::Any)
        && matches!(policy.resource_constraint(), ResourceConstraint::Any);
    if unconstrained || !policy.is_static() {
        return None;
    }
    // Built on Cedar's AST (printing and parsing the text again costs about
    // half a millisecond per policy when loading): the same id, effect,
    // annotations, source location and condition, with the scope of any.
    let ast: &ast::Policy = policy.as_ref();
    let p = ast::StaticPolicy::new(
        ast.id().clone(),
        ast.loc().cloned(),
        ast::Annotations::clone(ast.annotations_arc()),
        ast.effect(),
        ast::PrincipalConstraint::any(),
        ast::ActionConstraint::any(),
        ast::ResourceConstraint::any(),
        ast.non_scope_constraints().cloned(),
    )
    .ok()
    .map(Policy::from)?;
    let same = p.effect() == policy.effect()
        && p.id() == policy.id()
        && matches!(p.principal_constraint(), PrincipalConstraint::Any)
        && matches!(p.action_constraint(), ActionConstraint::Any)
        && matches!(p.resource_constraint(), ResourceConstraint::Any);
    same.then_some(p)
}

#[derive(Debug, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    /// A string literal (its content is irrelevant here).
    Str,
    Number,
    And,
    Or,
    /// `::`
    Path,
    Punct(char),
}

/// Cedar tokens of `text`, each with its byte offset; `None` if a string is
/// not terminated.
fn tokens(text: &str) -> Option<(Vec<Tok<'_>>, Vec<usize>)> {
    let mut out = Vec::new();
    let mut at = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '/' if chars.peek().map(|p| p.1) == Some('/') => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        _ => {}
                    }
                }
                if !closed {
                    return None;
                }
                out.push(Tok::Str);
                at.push(start);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut end = start + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Tok::Ident(text.get(start..end)?));
                at.push(start);
            }
            c if c.is_ascii_digit() => {
                while chars.peek().is_some_and(|p| p.1.is_ascii_digit()) {
                    chars.next();
                }
                out.push(Tok::Number);
                at.push(start);
            }
            '&' if chars.peek().map(|p| p.1) == Some('&') => {
                chars.next();
                out.push(Tok::And);
                at.push(start);
            }
            '|' if chars.peek().map(|p| p.1) == Some('|') => {
                chars.next();
                out.push(Tok::Or);
                at.push(start);
            }
            ':' if chars.peek().map(|p| p.1) == Some(':') => {
                chars.next();
                out.push(Tok::Path);
                at.push(start);
            }
            c => {
                out.push(Tok::Punct(c));
                at.push(start);
            }
        }
    }
    Some((out, at))
}

/// The index of the bracket closing the one at `open`.
fn close(tokens: &[Tok<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[derive(Debug)]
pub(crate) struct PolicyIndex {
    entries: Vec<Entry>,
    names: Names,
    /// Per known action: the policies whose action scope matches it.
    by_action: FxMap<EntityUid, Bucket>,
    /// Every entity type of the entities and the scopes, by its written form.
    type_names: FxMap<String, EntityTypeName>,
    sets: BoundedCache<Box<[u32]>, Arc<[Compiled]>, FxBuild>,
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
                policy: Compiled::new(&unscoped(p).unwrap_or_else(|| p.clone())),
                principal: Scope::principal(p.principal_constraint(), &mut names),
                resource: Scope::resource(p.resource_constraint(), &mut names),
                action: p.action_constraint(),
                leading: required_context_attr(p)
                    .map(Leading::Has)
                    .or_else(|| UsageTest::leading(p).map(Leading::Usage)),
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

    /// The policies whose scope matches the request and that what is
    /// `known` of its context does not rule out, to evaluate.
    pub fn candidates(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        entities: &Entities,
        known: &Known<impl Fn(&str) -> bool>,
    ) -> Arc<[Compiled]> {
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
                .is_some_and(|e| e.leading.as_ref().is_none_or(|l| !known.rules_out(l)))
        });
        picked.sort_unstable();
        picked.dedup();
        if let Some(set) = self.sets.get(picked.as_slice()) {
            return set;
        }
        let set: Arc<[Compiled]> = picked
            .iter()
            .filter_map(|&i| self.entries.get(i as usize).map(|e| e.policy.clone()))
            .collect();
        self.sets.insert(picked.into_boxed_slice(), set.clone());
        set
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{required_context_attr, Known, PolicyIndex, UsageTest};
    use crate::engine::decide::{authorize, Outcome};
    use crate::engine::usage::{CallCounts, Units, UsageCounts};
    use cedar_policy::{
        Authorizer, Context, Entities, EntityUid, Policy, PolicyId, PolicySet, Request,
    };
    use proptest::prelude::*;

    /// The same question answered from Cedar's JSON form of the policy (slow, exact).
    fn oracle(policy: &Policy) -> Option<String> {
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

    fn req(text: &str) -> Option<String> {
        let policy = Policy::parse(None, text).unwrap();
        let found = required_context_attr(&policy);
        // Never claims more than the JSON form shows.
        if found.is_some() {
            assert_eq!(found, oracle(&policy), "{text}");
        }
        found
    }

    const SCOPES: [&str; 4] = [
        "permit(principal, action, resource)",
        "@id(\"a(b\") @x forbid (principal == U::\"u)\", action in [Action::\"a\", Action::\"b]\"], resource)",
        "// permit(\n permit(principal is U in G::\"{\", action, resource)",
        "@id(\"x\")\n@y(\"}when{ context has z\")\npermit (\n  principal,\n  action == Action::\"r\",\n  resource\n)",
    ];

    #[test]
    fn leading_context_has_is_found() {
        for p in SCOPES {
            for (cond, want) in [
                ("when { context has task }", "task"),
                ("when { context has a && context.a && context has b } unless { context has c }", "a"),
                ("when {\n  context has source_ip &&\n  context.source_ip.isInRange(ip(\"10.0.0.0/8\")) &&\n  (if context has bytes then context.bytes <= 1 else true)\n}", "source_ip"),
                ("when { context has a && (context.b || context.c) } when { false }", "a"),
                ("when { context has a && [1, 2].contains(3) && {x: 1}.x == 1 }", "a"),
            ] {
                assert_eq!(req(&format!("{p} {cond};")).as_deref(), Some(want), "{p} {cond}");
            }
        }
    }

    #[test]
    fn anything_else_is_not() {
        for p in SCOPES {
            for cond in [
                "",
                "unless { context has a }",
                "when { principal has a && context has a }",
                "when { context has a || true }",
                "when { context has a && true || true }",
                "when { context has a && if true then true else false }",
                "when { (context has a && context.a) && context.b }",
                "when { !(context has a) }",
                "when { context.r has a }",
                "when { context has a.b }",
                "when { context has \"a\" }",
                "when { principal.level > 1 } when { context has a }",
                "when { if context has a then true else true }",
                "when { context has a == true }",
                "when { context has a // c\n || true }",
            ] {
                let text = format!("{p} {cond};");
                if let Ok(policy) = Policy::parse(None, &text) {
                    assert_eq!(required_context_attr(&policy), None, "{text}");
                }
            }
        }
    }

    #[test]
    fn a_leading_usage_comparison_is_found() {
        for cond in [
            "when { context.usage.calls_1h >= 60 }",
            "when { context.usage.calls_1h > 60 && principal.x }",
            "when { 60 <= context.usage.action.calls_1m } unless { context.y }",
            "when { context.usage.units_1d.tokens == 5 }",
            "when { context.usage.units_1h.usd_cents != 5 }",
            "when { context.usage.calls_1d < 0 && (context.a || context.b) }",
            "unless { context.usage.calls_1m < 10 }",
        ] {
            let text = format!("forbid (principal, action, resource) {cond};");
            let policy = Policy::parse(None, &text).unwrap();
            assert!(UsageTest::leading(&policy).is_some(), "{text}");
        }
    }

    #[test]
    fn anything_else_is_not_a_usage_test() {
        for cond in [
            "",
            "when { context.usage.calls_1h + 1 >= 60 }",
            "when { context.usage.calls_1h >= 60 + 1 }",
            "when { context.usage.calls_2h >= 60 }",
            "when { context.usage.action >= 60 }",
            "when { context.usage.action.calls_1h.x >= 60 }",
            "when { context.usage.units_1d.euros >= 60 }",
            "when { context.usage.calls_1h >= context.usage.calls_1d }",
            "when { 1 >= 2 }",
            "when { true && context.usage.calls_1h >= 60 }",
            "when { context.usage.calls_1h >= 60 || true }",
            "when { principal.usage.calls_1h >= 60 }",
            "when { context.other.calls_1h >= 60 }",
            "when { !!(context.usage.calls_1h >= 60) }",
            "when { -context.usage.calls_1h >= 60 }",
            "when { context.usage.calls_1h >= -60 }",
            "when { context.usage[\"calls_1h\"].x >= 60 }",
            "when { principal.x } when { context.usage.calls_1h >= 60 }",
        ] {
            let text = format!("forbid (principal, action, resource) {cond};");
            if let Ok(policy) = Policy::parse(None, &text) {
                // `-60` is a literal to Cedar's parser: the test is then exact too.
                if cond.contains("-60") {
                    continue;
                }
                assert!(UsageTest::leading(&policy).is_none(), "{text}");
            }
        }
    }

    /// One policy whose condition starts with a usage comparison (sometimes
    /// behind `!`, in `unless`, or followed by an operand that errors).
    fn usage_policy() -> impl Strategy<Value = String> {
        let number = prop::sample::select(vec![
            "context.usage.calls_1m",
            "context.usage.calls_1h",
            "context.usage.calls_1d",
            "context.usage.action.calls_1m",
            "context.usage.action.calls_1h",
            "context.usage.action.calls_1d",
            "context.usage.units_1h.tokens",
            "context.usage.units_1d.usd_cents",
        ]);
        let op = prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="]);
        let rest = prop::sample::select(vec![
            "",
            " && context.missing",
            " && principal.missing",
            " && context.usage.calls_1h + 9223372036854775807 > 0",
            " && true",
        ]);
        (
            any::<bool>(),
            number,
            op,
            0i64..8,
            any::<bool>(),
            rest,
            prop::sample::select(vec!["when", "unless"]),
        )
            .prop_map(|(forbid, number, op, literal, number_first, rest, kind)| {
                let (a, b) = if number_first {
                    (number.to_string(), literal.to_string())
                } else {
                    (literal.to_string(), number.to_string())
                };
                let effect = if forbid { "forbid" } else { "permit" };
                format!("{effect} (principal, action, resource) {kind} {{ {a} {op} {b}{rest} }};")
            })
    }

    fn counts(v: [u64; 8]) -> UsageCounts {
        UsageCounts {
            calls_1m: v[0],
            calls_1h: v[1],
            calls_1d: v[2],
            action: CallCounts {
                calls_1m: v[3],
                calls_1h: v[4],
                calls_1d: v[5],
            },
            units_1h: Units {
                tokens: v[6],
                usd_cents: v[7],
            },
            units_1d: Units {
                tokens: v[7],
                usd_cents: v[6],
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Leaving out the policies whose leading usage comparison the counts
        /// make false decides as Cedar on every policy: same decision,
        /// reasons and errors.
        #[test]
        fn ruling_out_by_usage_decides_as_cedar(
            policies in prop::collection::vec(usage_policy(), 1..8),
            values in prop::array::uniform8(0u64..8),
        ) {
            let mut set = PolicySet::new();
            for (i, text) in policies.iter().enumerate() {
                let p = Policy::parse(Some(PolicyId::new(format!("p{i}"))), text).unwrap();
                set.add(p).unwrap();
            }
            let counts = counts(values);
            let principal: EntityUid = r#"Agent::"a""#.parse().unwrap();
            let action: EntityUid = r#"Action::"go""#.parse().unwrap();
            let resource: EntityUid = r#"Thing::"t""#.parse().unwrap();
            let context = Context::from_json_value(serde_json::json!({"usage": counts.json()}), None).unwrap();
            let request = Request::new(principal.clone(), action.clone(), resource.clone(), context, None).unwrap();
            let entities = Entities::empty();
            let reads = crate::engine::context::usage_reads(set.policies());
            let index = PolicyIndex::new(&set, &entities);
            let known = Known { has: |n: &str| n == "usage", usage: Some((counts, reads)) };
            let candidates = index.candidates(&principal, &action, &resource, &entities, &known);
            let all = Outcome::from_response(&Authorizer::new().is_authorized(&request, &set, &entities));
            let some = authorize(&request, candidates.iter(), &entities);
            prop_assert_eq!(&all, &some);
            // The test rules out: a limit that is not reached is not evaluated.
            let tests = policies.iter().filter(|t| !t.contains("unless")).count();
            if tests == policies.len() && all.errors.is_empty() && all.reasons.is_empty() {
                prop_assert!(candidates.len() < set.policies().count());
            }
        }
    }
}
