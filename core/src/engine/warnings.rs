//! Load-time warnings: `forbid` policies that may error at run time (and so
//! deny every request they apply to, or with `on_error = "skip"` let a
//! permit through), and forbids that can never match.
//!
//! The analysis walks each forbid's JSON form (Cedar's EST) with the types of
//! the bundle's schema. A forbid is reported when it
//! * reads an attribute of an entity that may not exist when the request is
//!   decided (`resource`, an entity named in the request's context, a
//!   non-agent principal, an entity literal missing from the inventory)
//!   without `has` guarding that read — or, without a validated schema, any
//!   attribute read without `has`;
//! * does arithmetic (`+`, `-`, `*`, negation, `offset`) on request input
//!   (`context`), which can overflow, or builds an `ip`/`decimal`/`datetime`/
//!   `duration` from request input, which can be malformed;
//! * nests deeper than [`MAX_DEPTH`] (long `||`/`&&` chains): Cedar evaluates
//!   recursively and stops with "recursion limit reached" when the thread's
//!   stack runs low;
//! * is impossible (Cedar's validator: its condition is always false).

use super::origin::PolicyOrigin;
use crate::bundle::{Bundle, Source};
use crate::error::{Detail, Error, ErrorCode, LineIndex, Location};
use cedar_policy::{Effect, Entities, EntityUid, PolicySet};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

/// Deepest expression nesting not reported. Cedar's evaluator recurses once
/// per nesting level and stops ("recursion limit reached") when less than
/// 100 KiB of the thread's stack remain, so the limit depends on the calling
/// thread: a chain of 2,000 `||` terms errors on a 2 MiB thread (Rust's
/// default for spawned threads; `core/tests/fail_closed.rs`). 256 levels
/// stay well clear of that on any thread we expect to be called on.
pub const MAX_DEPTH: usize = 256;

/// One warning about one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyWarning {
    /// The policy's id.
    pub policy: String,
    /// `absent_entity`, `overflow`, `extension`, `depth` or `impossible`.
    pub kind: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl std::fmt::Display for PolicyWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        write!(f, "policy `{}`: {}", self.policy, self.message)
    }
}

/// The warnings as one `policy_may_error` error (strict mode).
pub(crate) fn as_error(warnings: &[PolicyWarning]) -> Error {
    let details = warnings
        .iter()
        .map(|w| Detail {
            message: format!("policy `{}`: {}", w.policy, w.message),
            location: w.location.clone(),
        })
        .collect();
    Error::with_details(ErrorCode::PolicyMayError, details)
}

/// Everything the walk needs from the schema.
struct Types<'a> {
    /// Namespace name → its JSON definition (app fragment; base types in "").
    namespaces: &'a Map<String, Value>,
    base: &'a Map<String, Value>,
    principals: Vec<String>,
    resources: Vec<String>,
    /// Context attributes over all actions: name → (type, namespace).
    context: BTreeMap<String, (Value, String)>,
}

/// What the walk knows of an expression's value.
#[derive(Debug, Clone)]
enum Ty {
    /// An entity of one of these types; `present` when the engine makes sure
    /// it exists before Cedar runs.
    Entity { names: Vec<String>, present: bool },
    /// A record: its attributes' types, in namespace `ns`; entities in it
    /// exist when `present`.
    Record {
        attrs: Map<String, Value>,
        ns: String,
        present: bool,
    },
    /// The request context.
    Context,
    /// Anything else (primitives, sets, extension values).
    Other,
    /// Not known here.
    Unknown,
}

/// A forbid the checks below look at: its id, text and JSON form (which
/// Cedar builds by parsing the policy's text again: it is the costly part, so
/// it is computed while the inventory loads).
pub(crate) struct Forbid {
    id: String,
    text: String,
    json: Option<Value>,
}

/// The bundle's own forbids (not the baseline's), in the policy set's order.
pub(crate) fn forbids(
    policies: &PolicySet,
    origins: &BTreeMap<String, PolicyOrigin>,
) -> Vec<Forbid> {
    policies
        .policies()
        .filter(|p| p.effect() == Effect::Forbid)
        .filter_map(|p| {
            let id = p.id().to_string();
            let origin = origins.get(&id)?;
            (!origin.baseline).then(|| Forbid {
                text: p.to_string(),
                json: p.to_json().ok(),
                id,
            })
        })
        .collect()
}

pub(crate) fn find(
    forbids: &[Forbid],
    origins: &BTreeMap<String, PolicyOrigin>,
    bundle: &Bundle,
    impossible: &[String],
    typed: Option<&Value>,
    entities: &Entities,
) -> Vec<PolicyWarning> {
    let base = super::context::base_entity_types();
    let types = typed
        .and_then(Value::as_object)
        .map(|namespaces| Types::new(namespaces, base));
    let engine_checks = bundle.options.base_schema;
    let mut lines = HashMap::new();
    let mut out = Vec::new();
    for Forbid { id, text, json } in forbids {
        let Some(origin) = origins.get(id) else {
            continue;
        };
        let located = Locator::new(bundle, origin, text, &mut lines);
        if impossible.contains(id) {
            out.push(located.warning(
                id,
                "impossible",
                "this forbid can never match: its condition is always false for every request the schema allows (Cedar's validator)".into(),
                None,
            ));
        }
        let Some(json) = json else {
            continue;
        };
        let depth = json
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("body"))
            .map(|b| nesting(b, 0))
            .max()
            .unwrap_or(0);
        if depth > MAX_DEPTH {
            // Too deep to walk safely; it is reported for its depth alone.
            out.push(located.warning(
                id,
                "depth",
                format!("its condition nests more than {MAX_DEPTH} levels deep: Cedar may stop evaluating it with \"recursion limit reached\" (it errors, and the request is denied); test membership in a set instead, e.g. `[\"a\", \"b\"].contains(x)`"),
                None,
            ));
            continue;
        }
        let mut walk = Walk {
            types: types.as_ref(),
            engine_checks,
            entities,
            scope_principal: scope_type(json.get("principal")),
            scope_resource: scope_type(json.get("resource")),
            found: Vec::new(),
            seen: HashSet::new(),
        };
        for c in json
            .get("conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(body) = c.get("body") {
                walk.expr(body, &Guards::default());
            }
        }
        for (kind, message, needle) in walk.found {
            out.push(located.warning(id, kind, message, needle.as_deref()));
        }
    }
    out
}

impl<'a> Types<'a> {
    fn new(namespaces: &'a Map<String, Value>, base: &'a Map<String, Value>) -> Types<'a> {
        let mut t = Types {
            namespaces,
            base,
            principals: Vec::new(),
            resources: Vec::new(),
            context: BTreeMap::new(),
        };
        for (ns, def) in namespaces {
            let Some(actions) = def.get("actions").and_then(Value::as_object) else {
                continue;
            };
            for action in actions.values() {
                let Some(applies) = action.get("appliesTo") else {
                    continue;
                };
                for key in ["principalTypes", "resourceTypes"] {
                    let names: Vec<String> = applies
                        .get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(|name| t.qualify(name, ns))
                        .collect();
                    let list = if key == "principalTypes" {
                        &mut t.principals
                    } else {
                        &mut t.resources
                    };
                    for full in names {
                        if !list.contains(&full) {
                            list.push(full);
                        }
                    }
                }
                if let Some(Ty::Record { attrs, ns, .. }) =
                    applies.get("context").map(|c| t.resolve(c, ns, false, 0))
                {
                    for (k, v) in attrs {
                        t.context.entry(k).or_insert((v, ns.clone()));
                    }
                }
            }
        }
        t
    }

    /// The entity type declaration `name` (qualified) refers to.
    fn entity_decl(&self, name: &str) -> Option<(&'a Value, String)> {
        let (ns, short) = match name.rfind("::") {
            Some(i) => (name.get(..i)?, name.get(i + 2..)?),
            None => ("", name),
        };
        let found = self
            .namespaces
            .get(ns)
            .and_then(|d| d.get("entityTypes"))
            .and_then(|e| e.get(short));
        match found {
            Some(d) => Some((d, ns.to_string())),
            None if ns.is_empty() => self.base.get(short).map(|d| (d, String::new())),
            None => None,
        }
    }

    /// `name` as written in namespace `ns`, qualified.
    fn qualify(&self, name: &str, ns: &str) -> String {
        if name.contains("::") || ns.is_empty() {
            return name.to_string();
        }
        let full = format!("{ns}::{name}");
        if self.entity_decl(&full).is_some() {
            full
        } else {
            name.to_string()
        }
    }

    fn resolve(&self, ty: &Value, ns: &str, present: bool, depth: usize) -> Ty {
        if depth > 32 {
            return Ty::Unknown;
        }
        let Some(kind) = ty.get("type").and_then(Value::as_str) else {
            return Ty::Unknown;
        };
        match kind {
            "Record" => Ty::Record {
                attrs: ty
                    .get("attributes")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                ns: ns.to_string(),
                present,
            },
            "Entity" => match ty.get("name").and_then(Value::as_str) {
                Some(name) => Ty::Entity {
                    names: vec![self.qualify(name, ns)],
                    present,
                },
                None => Ty::Unknown,
            },
            "String" | "Long" | "Boolean" | "Bool" | "Set" | "Extension" => Ty::Other,
            "EntityOrCommon" => match ty.get("name").and_then(Value::as_str) {
                Some(name) => self.named(name, ns, present, depth),
                None => Ty::Unknown,
            },
            other => self.named(other, ns, present, depth),
        }
    }

    fn named(&self, name: &str, ns: &str, present: bool, depth: usize) -> Ty {
        let short = name.rsplit("::").next().unwrap_or(name);
        let spaces: Vec<&str> = match name.rfind("::") {
            Some(i) => vec![name.get(..i).unwrap_or("")],
            None => vec![ns, ""],
        };
        for space in spaces {
            let def = self.namespaces.get(space);
            if let Some(common) = def
                .and_then(|d| d.get("commonTypes"))
                .and_then(|c| c.get(short))
            {
                return self.resolve(common, space, present, depth + 1);
            }
            let full = if space.is_empty() {
                short.to_string()
            } else {
                format!("{space}::{short}")
            };
            if self.entity_decl(&full).is_some() {
                return Ty::Entity {
                    names: vec![full],
                    present,
                };
            }
        }
        match short {
            "String" | "Long" | "Bool" | "Boolean" | "ipaddr" | "decimal" | "datetime"
            | "duration" => Ty::Other,
            _ => Ty::Unknown,
        }
    }
}

/// The entity type a scope constraint (`is T`, `== T::"id"`) fixes, if any.
fn scope_type(scope: Option<&Value>) -> Option<String> {
    let scope = scope?;
    match scope.get("op")?.as_str()? {
        "is" => Some(scope.get("entity_type")?.as_str()?.to_string()),
        "==" => Some(scope.get("entity")?.get("type")?.as_str()?.to_string()),
        _ => None,
    }
}

/// Attribute reads known to be guarded by `has` where an expression runs.
#[derive(Debug, Clone, Default)]
struct Guards(Vec<(String, String)>);

impl Guards {
    fn has(&self, left: &Value, attr: &str) -> bool {
        let key = left.to_string();
        self.0.iter().any(|(l, a)| *l == key && a == attr)
    }

    /// These guards plus what `cond` being true establishes.
    fn with(&self, cond: &Value) -> Guards {
        let mut g = self.clone();
        established(cond, &mut g.0, 0);
        g
    }

    /// These guards plus what `cond` being false establishes.
    fn without(&self, cond: &Value) -> Guards {
        let mut g = self.clone();
        refuted(cond, &mut g.0, 0);
        g
    }
}

/// The `has` tests that hold when `cond` is false (`!(e has a) || e.a ...`).
fn refuted(cond: &Value, out: &mut Vec<(String, String)>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(arg) = cond.get("!").and_then(|n| n.get("arg")) {
        established(arg, out, depth + 1);
    } else if let Some(or) = cond.get("||") {
        for side in ["left", "right"] {
            if let Some(e) = or.get(side) {
                refuted(e, out, depth + 1);
            }
        }
    }
}

/// The `has` tests that hold when `cond` is true.
fn established(cond: &Value, out: &mut Vec<(String, String)>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(h) = cond.get("has") {
        let Some(left) = h.get("left") else { return };
        match h.get("attr") {
            Some(Value::String(a)) => out.push((left.to_string(), a.clone())),
            Some(Value::Array(path)) => {
                // `e has a.b` holds `e has a` and `e.a has b`.
                let mut cur = left.clone();
                for a in path.iter().filter_map(Value::as_str) {
                    out.push((cur.to_string(), a.to_string()));
                    cur = serde_json::json!({".": {"left": cur, "attr": a}});
                }
            }
            _ => {}
        }
    } else if let Some(and) = cond.get("&&") {
        for side in ["left", "right"] {
            if let Some(e) = and.get(side) {
                established(e, out, depth + 1);
            }
        }
    } else if let Some(arg) = cond.get("!").and_then(|n| n.get("arg")) {
        refuted(arg, out, depth + 1);
    }
}

struct Walk<'a> {
    types: Option<&'a Types<'a>>,
    /// The engine denies unknown agents, users, tasks and credentials before Cedar runs.
    engine_checks: bool,
    entities: &'a Entities,
    scope_principal: Option<String>,
    scope_resource: Option<String>,
    /// (kind, message, text to locate).
    found: Vec<(&'static str, String, Option<String>)>,
    seen: HashSet<String>,
}

impl Walk<'_> {
    fn report(&mut self, kind: &'static str, message: String, needle: Option<String>) {
        if self.seen.insert(format!("{kind}:{message}")) {
            self.found.push((kind, message, needle));
        }
    }

    /// Walks `e`, reporting what may error; returns its type.
    fn expr(&mut self, e: &Value, guards: &Guards) -> Ty {
        let Some(obj) = e.as_object() else {
            return Ty::Unknown;
        };
        let Some((op, arg)) = obj.iter().next() else {
            return Ty::Unknown;
        };
        match op.as_str() {
            "Value" => self.literal(arg),
            "Var" => self.var(arg.as_str().unwrap_or("")),
            "Slot" => Ty::Unknown,
            "." => {
                let (Some(left), Some(attr)) =
                    (arg.get("left"), arg.get("attr").and_then(Value::as_str))
                else {
                    return Ty::Unknown;
                };
                let ty = self.expr(left, guards);
                self.read(left, attr, &ty, guards);
                self.attr_type(&ty, attr)
            }
            "has" => {
                if let Some(left) = arg.get("left") {
                    self.expr(left, guards);
                }
                Ty::Other
            }
            "&&" => {
                let (Some(l), Some(r)) = (arg.get("left"), arg.get("right")) else {
                    return Ty::Other;
                };
                self.expr(l, guards);
                self.expr(r, &guards.with(l));
                Ty::Other
            }
            "||" => {
                let (Some(l), Some(r)) = (arg.get("left"), arg.get("right")) else {
                    return Ty::Other;
                };
                self.expr(l, guards);
                self.expr(r, &guards.without(l));
                Ty::Other
            }
            "if-then-else" => {
                let (Some(c), Some(t), Some(f)) = (arg.get("if"), arg.get("then"), arg.get("else"))
                else {
                    return Ty::Unknown;
                };
                self.expr(c, guards);
                let ty = self.expr(t, &guards.with(c));
                self.expr(f, &guards.without(c));
                ty
            }
            "+" | "-" | "*" => {
                let (Some(l), Some(r)) = (arg.get("left"), arg.get("right")) else {
                    return Ty::Other;
                };
                self.expr(l, guards);
                self.expr(r, guards);
                if reads_context(l, 0) || reads_context(r, 0) {
                    self.report(
                        "overflow",
                        format!("`{op}` on request input (`context`) can overflow a Long and error; bound the input first (e.g. `context.x < 1000000 && ...`) or compare without arithmetic"),
                        Some(format!(" {op} ")),
                    );
                } else if let (Some(a), Some(b)) = (long(l), long(r)) {
                    let v = match op.as_str() {
                        "+" => a.checked_add(b),
                        "-" => a.checked_sub(b),
                        _ => a.checked_mul(b),
                    };
                    if v.is_none() {
                        self.report(
                            "overflow",
                            format!("`{a} {op} {b}` overflows a Long: it always errors"),
                            Some(format!(" {op} ")),
                        );
                    }
                }
                Ty::Other
            }
            "neg" => {
                if let Some(a) = arg.get("arg") {
                    self.expr(a, guards);
                    if reads_context(a, 0) {
                        self.report(
                            "overflow",
                            "negating request input (`context`) can overflow a Long and error"
                                .into(),
                            None,
                        );
                    }
                }
                Ty::Other
            }
            "Set" => {
                for item in arg.as_array().into_iter().flatten() {
                    self.expr(item, guards);
                }
                Ty::Other
            }
            "Record" => {
                for item in arg.as_object().into_iter().flat_map(|m| m.values()) {
                    self.expr(item, guards);
                }
                Ty::Other
            }
            _ => {
                // Unary and binary operators, `like`, `is`, and extension calls.
                if let Some(args) = arg.as_array() {
                    for a in args {
                        self.expr(a, guards);
                    }
                    let untrusted = args.iter().any(|a| reads_context(a, 0));
                    match op.as_str() {
                        "ip" | "decimal" | "datetime" | "duration" if untrusted => self.report(
                            "extension",
                            format!("`{op}(...)` of request input (`context`) errors when the text is not a valid {op}; declare the context field with that type in the schema instead"),
                            Some(format!(" {op}(")),
                        ),
                        "offset" | "durationSince" | "toDate" | "toTime" if untrusted => self.report(
                            "overflow",
                            format!("`{op}` on request input (`context`) can overflow and error"),
                            Some(format!(".{op}(")),
                        ),
                        _ => {}
                    }
                    return Ty::Other;
                }
                if let Some(m) = arg.as_object() {
                    for key in ["arg", "left", "right", "in"] {
                        if let Some(x) = m.get(key) {
                            self.expr(x, guards);
                        }
                    }
                }
                Ty::Other
            }
        }
    }

    fn literal(&self, v: &Value) -> Ty {
        let Some(e) = v.get("__entity") else {
            return Ty::Other;
        };
        let (Some(t), Some(id)) = (
            e.get("type").and_then(Value::as_str),
            e.get("id").and_then(Value::as_str),
        ) else {
            return Ty::Unknown;
        };
        let present = EntityUid::from_str(&format!("{t}::{}", Value::String(id.to_string())))
            .ok()
            .is_some_and(|uid| self.entities.get(&uid).is_some());
        Ty::Entity {
            names: vec![t.to_string()],
            present,
        }
    }

    fn var(&self, name: &str) -> Ty {
        let Some(types) = self.types else {
            return Ty::Unknown;
        };
        match name {
            "principal" => {
                let names = match &self.scope_principal {
                    Some(t) => vec![t.clone()],
                    None => types.principals.clone(),
                };
                // The engine denies a request by an agent or user it does not know.
                let present = self.engine_checks
                    && !names.is_empty()
                    && names.iter().all(|n| n == "Agent" || n == "User");
                Ty::Entity { names, present }
            }
            "resource" => Ty::Entity {
                names: match &self.scope_resource {
                    Some(t) => vec![t.clone()],
                    None => types.resources.clone(),
                },
                present: false,
            },
            "action" => Ty::Entity {
                names: Vec::new(),
                present: true,
            },
            "context" => Ty::Context,
            _ => Ty::Unknown,
        }
    }

    /// Reports reading `attr` of `left` (of type `ty`) where it may error.
    fn read(&mut self, left: &Value, attr: &str, ty: &Ty, guards: &Guards) {
        if guards.has(left, attr) {
            return;
        }
        let what = describe(left);
        let needle = Some(format!(".{attr}"));
        match ty {
            Ty::Entity { present: true, .. } | Ty::Record { .. } | Ty::Context | Ty::Other
                if self.types.is_some() => {}
            Ty::Entity { present: false, .. } => self.report(
                "absent_entity",
                format!("reads `{what}.{attr}` without `{what} has {attr}`: it errors when {what} is not in the inventory (e.g. a resource the inventory does not list)"),
                needle,
            ),
            _ => self.report(
                "absent_entity",
                format!("reads `{what}.{attr}` without `{what} has {attr}`: it errors when {what} does not exist or has no `{attr}`"),
                needle,
            ),
        }
    }

    fn attr_type(&self, ty: &Ty, attr: &str) -> Ty {
        let Some(types) = self.types else {
            return Ty::Unknown;
        };
        match ty {
            Ty::Context => match types.context.get(attr) {
                Some((t, ns)) => {
                    // The engine makes sure the standard fields' entities exist.
                    let present = self.engine_checks
                        && crate::schema::STANDARD_CONTEXT_FIELDS.contains(&attr);
                    types.resolve(t, ns, present, 0)
                }
                None => Ty::Unknown,
            },
            Ty::Record { attrs, ns, present } => match attrs.get(attr) {
                Some(t) => types.resolve(t, ns, *present, 0),
                None => Ty::Unknown,
            },
            Ty::Entity { names, .. } => {
                for name in names {
                    if let Some((decl, ns)) = types.entity_decl(name) {
                        if let Some(t) = decl
                            .get("shape")
                            .and_then(|s| s.get("attributes"))
                            .and_then(|a| a.get(attr))
                        {
                            // The inventory's references must resolve.
                            return types.resolve(t, &ns, true, 0);
                        }
                    }
                }
                Ty::Unknown
            }
            Ty::Other | Ty::Unknown => Ty::Unknown,
        }
    }
}

/// `principal`, `resource.owner`, ... for messages.
fn describe(e: &Value) -> String {
    if let Some(v) = e.get("Var").and_then(Value::as_str) {
        return v.to_string();
    }
    if let Some(g) = e.get(".") {
        if let (Some(l), Some(a)) = (g.get("left"), g.get("attr").and_then(Value::as_str)) {
            return format!("{}.{a}", describe(l));
        }
    }
    if let Some(ent) = e.get("Value").and_then(|v| v.get("__entity")) {
        if let (Some(t), Some(id)) = (
            ent.get("type").and_then(Value::as_str),
            ent.get("id").and_then(Value::as_str),
        ) {
            return format!("{t}::{}", Value::String(id.to_string()));
        }
    }
    "the entity".into()
}

fn long(e: &Value) -> Option<i64> {
    e.get("Value")?.as_i64()
}

/// Whether `e` reads the request context anywhere.
fn reads_context(e: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    match e {
        Value::Object(m) => {
            if m.get("Var").and_then(Value::as_str) == Some("context") {
                return true;
            }
            if m.contains_key("Value") {
                return false;
            }
            m.values().any(|v| reads_context(v, depth + 1))
        }
        Value::Array(items) => items.iter().any(|v| reads_context(v, depth + 1)),
        _ => false,
    }
}

/// How deep an expression nests (operators within operators), counted up
/// to just past [`MAX_DEPTH`].
fn nesting(e: &Value, depth: usize) -> usize {
    if depth > MAX_DEPTH {
        return depth;
    }
    let Some((op, arg)) = e.as_object().and_then(|m| m.iter().next()) else {
        return depth;
    };
    let children: Vec<&Value> = match (op.as_str(), arg) {
        ("Value" | "Var" | "Slot", _) => Vec::new(),
        ("Record", Value::Object(m)) => m.values().collect(),
        (_, Value::Array(items)) => items.iter().collect(),
        (_, Value::Object(m)) => ["arg", "left", "right", "in", "if", "then", "else"]
            .iter()
            .filter_map(|k| m.get(*k))
            .collect(),
        _ => Vec::new(),
    };
    children
        .into_iter()
        .map(|c| nesting(c, depth + 1))
        .max()
        .unwrap_or(depth + 1)
}

/// Finds where in its file a policy, and a piece of it, is.
struct Locator<'a, 'l> {
    src: Option<&'a Source>,
    /// `src`'s line index.
    lines: Option<&'l LineIndex<'a>>,
    /// The policy's text range in `src`.
    range: Option<(usize, usize)>,
    origin: &'a PolicyOrigin,
}

impl<'a, 'l> Locator<'a, 'l> {
    /// `lines`: each source's line index, built on first use. Both searches
    /// start at the policy's own line, so a bundle's warnings cost linear
    /// time in its size, not quadratic.
    fn new(
        bundle: &'a Bundle,
        origin: &'a PolicyOrigin,
        text: &str,
        lines: &'l mut HashMap<&'a str, LineIndex<'a>>,
    ) -> Locator<'a, 'l> {
        let src = bundle
            .policies
            .iter()
            .find(|s| s.name == origin.location.file);
        let index: Option<&'l LineIndex<'a>> = src.map(|s| {
            &*lines
                .entry(s.name.as_str())
                .or_insert_with(|| LineIndex::new(&s.text))
        });
        let range = src.zip(index).and_then(|(s, index)| {
            // The first occurrence of the policy text at its location.
            let mut from = index.line_start(origin.location.line);
            while let Some(i) = s.text.get(from..).and_then(|r| r.find(text)) {
                let start = from + i;
                let at = index.location(&s.name, start);
                let want = &origin.location;
                match (at.line, at.column).cmp(&(want.line, want.column)) {
                    std::cmp::Ordering::Equal => return Some((start, start + text.len())),
                    // Later matches are later in the file still.
                    std::cmp::Ordering::Greater => return None,
                    std::cmp::Ordering::Less => from = start + 1,
                }
            }
            None
        });
        Locator {
            src,
            lines: index,
            range,
            origin,
        }
    }

    fn warning(
        &self,
        policy: &str,
        kind: &'static str,
        message: String,
        needle: Option<&str>,
    ) -> PolicyWarning {
        let location = match (self.src, self.lines, self.range, needle) {
            (Some(src), Some(lines), Some((start, end)), Some(needle)) => src
                .text
                .get(start..end)
                .and_then(|t| t.find(needle))
                .map(|i| lines.location(&src.name, start + i + 1)),
            _ => None,
        };
        PolicyWarning {
            policy: policy.to_string(),
            kind,
            message,
            location: location.or_else(|| Some(self.origin.location.clone())),
        }
    }
}
