//! Differential test: the engine (policy index, typed context path) decides
//! exactly as Cedar's `Authorizer` over the whole policy set — same decision,
//! same reasons, same erroring policies — on random schemas, entities,
//! policies (including ones that error at run time) and requests, except
//! exactly where a `forbid` errored: there the engine denies, with the
//! erroring forbids among the reasons (fail closed; with `on_error = "skip"`
//! it is Cedar's decision with no exception); and rejects
//! exactly the requests Cedar rejects (wrong principal or resource type for the
//! action, undeclared types, context values of the wrong type, invalid enum
//! entities, missing or unknown context fields), with Cedar's error message.
//! Context values come in every form Cedar's JSON accepts or rejects: plain
//! strings for extension types and `{"type", "id"}` for entities, the
//! `__extn` and `__entity` escapes, and hostile variants of both (another
//! constructor, a name Cedar does not normalize, nested escapes, extra keys,
//! bad or huge text, an escape where the schema wants a string).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{
    Bundle, BundleOptions, CedarRequest, Engine, EntityRef, ErrorCode, OnError, Request, Source,
};
use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicySet, Schema};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::str::FromStr;

const USERS: usize = 12;
const GROUPS: usize = 5;
const RESOURCES: usize = 12;
const FOLDERS: usize = 5;
const ACTIONS: usize = 4;

/// A deterministic generator for the parts that need no shrinking.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// The context type of every action; some schemas declare it as a common type.
const CONTEXT_TYPE: &str =
    "{ n: Long, flag?: Bool, ip?: ipaddr, who?: U, grp?: G, kind?: E, team?: Set<U>, meta?: { k: Long, who?: U }, \
     at?: datetime, amt?: decimal, d?: duration, label?: String, nets?: Set<ipaddr> }";

fn schema(seed: u64) -> String {
    let mut rng = Lcg(seed);
    let mut s = String::from(
        "entity G in [G];\nentity U in [G] { level: Long, tag?: String };\n\
         entity F in [F];\nentity R in [F] { owner: U, level: Long };\n\
         entity E enum [\"e1\", \"e2\"];\n\
         action ag0, ag1;\n",
    );
    let common = rng.next(2) == 0;
    if common {
        s.push_str(&format!("type Ctx = {CONTEXT_TYPE};\n"));
    }
    for a in 0..ACTIONS {
        let groups = match rng.next(3) {
            0 => "",
            1 => " in [ag0]",
            _ => " in [ag0, ag1]",
        };
        let context = if common { "Ctx" } else { CONTEXT_TYPE };
        s.push_str(&format!(
            "action a{a}{groups} appliesTo {{ principal: [U], resource: [R], context: {context} }};\n"
        ));
    }
    s
}

fn entities(seed: u64) -> Value {
    let mut rng = Lcg(seed ^ 0x9E37);
    let mut out = Vec::new();
    for g in 0..GROUPS {
        let parents: Vec<Value> = (0..g)
            .filter(|_| rng.next(3) == 0)
            .map(|p| json!({"type": "G", "id": format!("g{p}")}))
            .collect();
        out.push(
            json!({"uid": {"type": "G", "id": format!("g{g}")}, "attrs": {}, "parents": parents}),
        );
    }
    for u in 0..USERS {
        let parents: Vec<Value> = (0..GROUPS)
            .filter(|_| rng.next(3) == 0)
            .map(|p| json!({"type": "G", "id": format!("g{p}")}))
            .collect();
        let mut attrs = json!({"level": rng.next(10)});
        if rng.next(2) == 0 {
            attrs["tag"] = json!(["x", "y"][rng.next(2)]);
        }
        out.push(json!({"uid": {"type": "U", "id": format!("u{u}")}, "attrs": attrs, "parents": parents}));
    }
    for f in 0..FOLDERS {
        let parents: Vec<Value> = (0..f)
            .filter(|_| rng.next(2) == 0)
            .map(|p| json!({"type": "F", "id": format!("f{p}")}))
            .collect();
        out.push(
            json!({"uid": {"type": "F", "id": format!("f{f}")}, "attrs": {}, "parents": parents}),
        );
    }
    for r in 0..RESOURCES {
        let parents: Vec<Value> = (0..FOLDERS)
            .filter(|_| rng.next(3) == 0)
            .map(|p| json!({"type": "F", "id": format!("f{p}")}))
            .collect();
        out.push(json!({"uid": {"type": "R", "id": format!("r{r}")},
            "attrs": {"owner": {"type": "U", "id": format!("u{}", rng.next(USERS))}, "level": rng.next(10)},
            "parents": parents}));
    }
    Value::Array(out)
}

fn principal_scope() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("principal".to_string()),
        (0..USERS + 2).prop_map(|u| format!("principal == U::\"u{u}\"")),
        (0..GROUPS + 1).prop_map(|g| format!("principal in G::\"g{g}\"")),
        (0..USERS).prop_map(|u| format!("principal in U::\"u{u}\"")),
        Just("principal is U".to_string()),
        (0..GROUPS).prop_map(|g| format!("principal is U in G::\"g{g}\"")),
        Just("principal is R".to_string()),
    ]
}

fn action_scope() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("action".to_string()),
        (0..ACTIONS).prop_map(|a| format!("action == Action::\"a{a}\"")),
        (0..2usize).prop_map(|g| format!("action in Action::\"ag{g}\"")),
        (0..ACTIONS, 0..2usize)
            .prop_map(|(a, g)| format!("action in [Action::\"a{a}\", Action::\"ag{g}\"]")),
    ]
}

fn resource_scope() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("resource".to_string()),
        (0..RESOURCES + 2).prop_map(|r| format!("resource == R::\"r{r}\"")),
        (0..FOLDERS + 1).prop_map(|f| format!("resource in F::\"f{f}\"")),
        Just("resource is R".to_string()),
        (0..FOLDERS).prop_map(|f| format!("resource is R in F::\"f{f}\"")),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (0..10i64).prop_map(|n| format!("when {{ principal.level > {n} }}")),
        Just("when { resource.owner == principal }".to_string()),
        (0..10i64).prop_map(|n| format!("when {{ context.n < {n} }}")),
        Just("when { context has flag && context.flag }".to_string()),
        Just("unless { principal has tag && principal.tag == \"x\" }".to_string()),
        Just("when { resource.level < principal.level }".to_string()),
        // These error at run time for some requests; Cedar skips erroring policies.
        Just("when { principal.tag == \"x\" }".to_string()),
        Just("when { context.n + 9223372036854775800 > 0 }".to_string()),
        Just("when { context.ip.isInRange(ip(\"10.0.0.0/8\")) }".to_string()),
        Just("when { context has who && context.who.level > 3 }".to_string()),
        Just("when { context has grp && principal in context.grp }".to_string()),
        Just("when { context has kind && context.kind == E::\"e1\" }".to_string()),
        Just("when { context has team && context.team.contains(principal) }".to_string()),
        Just("when { context has meta && context.meta.k > 0 }".to_string()),
        // More run-time errors: overflow on request input, attributes of
        // entities that do not exist (u12, u13, r12, r13, a `who` of u12).
        Just("when { context.n * 4611686018427387904 > 0 }".to_string()),
        Just("when { context.n - 9223372036854775807 < 0 }".to_string()),
        Just("when { resource.owner.level > 2 }".to_string()),
        Just("when { context has who && context.who.tag == \"x\" }".to_string()),
        Just("when { context has at && context.at < datetime(\"2026-06-01\") }".to_string()),
        Just("when { context has amt && context.amt.lessThan(decimal(\"1.5\")) }".to_string()),
        Just("when { context has d && context.d < duration(\"1h\") }".to_string()),
        Just("when { context has label && context.label == \"x\" }".to_string()),
        Just("when { context has nets && context.nets.contains(ip(\"10.0.0.1\")) }".to_string()),
    ]
}

fn policy() -> impl Strategy<Value = String> {
    (
        prop::bool::weighted(0.7),
        principal_scope(),
        action_scope(),
        resource_scope(),
        condition(),
    )
        .prop_map(|(permit, p, a, r, c)| {
            format!(
                "{} ({p}, {a}, {r}) {c};",
                if permit { "permit" } else { "forbid" }
            )
        })
}

#[derive(Debug, Clone)]
struct Req {
    principal: usize,
    action: usize,
    resource: usize,
    n: i64,
    flag: Option<bool>,
    ip: Option<&'static str>,
    who: Option<usize>,
    /// Entity-typed and enum-typed context fields, nested records and sets,
    /// valid or not; and scope entity types, valid or not.
    extra: Extra,
    principal_type: &'static str,
    resource_type: &'static str,
}

/// Context variations beyond the valid core; the invalid ones must be errors,
/// exactly when Cedar's own parsing and validation reject the request.
#[derive(Debug, Clone)]
struct Extra {
    grp: Option<(&'static str, usize)>,
    kind: Option<&'static str>,
    team: Option<Vec<(&'static str, usize)>>,
    meta: Option<Value>,
    /// Replaces `n`: missing, or a value of the wrong type.
    n: Option<Value>,
    unknown_field: bool,
    /// Fields set last, in any form Cedar's JSON accepts or rejects.
    escapes: Vec<(&'static str, Value)>,
}

/// Texts for an extension constructor: valid for one of them, or not.
fn extension_texts() -> Vec<String> {
    [
        "10.1.2.3",
        "192.168.0.0/16",
        "::1",
        "1.25",
        "2.5",
        "2026-03-01",
        "2026-11-29T10:00:00Z",
        "2026-11-29T10:00:00.123+0100",
        "90m",
        "-2h30m",
        "not a value",
        "",
    ]
    .into_iter()
    .map(String::from)
    .chain(["9".repeat(20_000)])
    .collect()
}

/// Every form of an extension value for a field whose schema type has
/// constructor `ctor`: plain, escaped, and hostile escapes.
fn extension_forms(ctor: &str, text: &str) -> Vec<Value> {
    let mut out = vec![
        json!(text),
        json!({"__extn": {"fn": ctor, "arg": text}}),
        json!({"__extn": {"fn": ctor, "arg": {"__extn": {"fn": ctor, "arg": text}}}}),
        json!({"__extn": {"fn": ctor, "arg": 7}}),
        json!({"__extn": {"fn": ctor, "arg": text, "x": 1}}),
        json!({"__extn": {"fn": ctor, "arg": text}, "x": 1}),
        json!({"__extn": {"fn": ctor, "args": [text]}}),
        json!({"__extn": {"fn": ctor}}),
        json!({"__extn": [ctor, text]}),
        json!({"fn": ctor, "arg": text}),
        json!({"__entity": {"type": "U", "id": text}}),
        json!({"__expr": format!("{ctor}(\"{text}\")")}),
    ];
    for other in [
        "ip",
        "decimal",
        "datetime",
        "duration",
        "unknown",
        " ip",
        "ip ",
        "ipaddr",
        "Ip",
        "isInRange",
        "offset",
        "__cedar::ip",
    ] {
        if other != ctor {
            out.push(json!({"__extn": {"fn": other, "arg": text}}));
        }
    }
    out
}

fn extension_value(ctor: &'static str) -> impl Strategy<Value = Value> {
    let texts = extension_texts();
    (0..texts.len(), 0..64usize, prop::bool::weighted(0.4)).prop_map(move |(t, f, common)| {
        let forms = extension_forms(ctor, &texts[t]);
        // The plain and the escaped form are the common ones.
        forms[if common { f % 2 } else { f % forms.len() }].clone()
    })
}

/// Every JSON form of a reference to `U::"id"` (and some that are not one).
fn entity_forms(id: &str) -> Vec<Value> {
    vec![
        json!({"type": "U", "id": id}),
        json!({"__entity": {"type": "U", "id": id}}),
        json!({"__entity": {"type": " U", "id": id}}),
        json!({"type": "U ", "id": id}),
        json!({"type": "U", "id": id, "x": 1}),
        json!({"__entity": {"type": "U", "id": id}, "x": 1}),
        json!({"__entity": format!("U::\"{id}\"")}),
        json!({"__entity": {"type": "G", "id": id}}),
        json!({"__entity": {"type": "E", "id": "e1"}}),
        json!({"__entity": {"type": "U", "id": 1}}),
        json!({"__extn": {"fn": "ip", "arg": "10.0.0.1"}}),
        json!(format!("U::\"{id}\"")),
    ]
}

fn entity_value() -> impl Strategy<Value = Value> {
    (0..USERS + 1, 0..64usize, prop::bool::weighted(0.4)).prop_map(|(u, f, common)| {
        let forms = entity_forms(&format!("u{u}"));
        forms[if common { f % 2 } else { f % forms.len() }].clone()
    })
}

/// Where each kind of value goes in the context.
fn placed(field: &'static str, v: Value) -> (&'static str, Value) {
    match field {
        "nets" => ("nets", json!([v, "10.0.0.1"])),
        "team" => ("team", json!([v])),
        "meta" => ("meta", json!({"k": 1, "who": v})),
        f => (f, v),
    }
}

fn escape() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        extension_value("ip").prop_map(|v| ("ip", v)),
        extension_value("datetime").prop_map(|v| ("at", v)),
        extension_value("decimal").prop_map(|v| ("amt", v)),
        extension_value("duration").prop_map(|v| ("d", v)),
        extension_value("ip").prop_map(|v| placed("nets", v)),
        // An escape where the schema wants a string.
        extension_value("ip").prop_map(|v| ("label", v)),
        Just(("label", json!("x"))),
        entity_value().prop_map(|v| ("who", v)),
        entity_value().prop_map(|v| placed("team", v)),
        entity_value().prop_map(|v| placed("meta", v)),
    ]
}

fn entity_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just("U"), 1 => Just("G"), 1 => Just("R")]
}

fn extra() -> impl Strategy<Value = Extra> {
    (
        prop::option::of((entity_type(), 0..GROUPS)),
        prop::option::of(prop_oneof![Just("e1"), Just("e2"), Just("e9")]),
        prop::option::of(prop::collection::vec((entity_type(), 0..USERS), 0..3)),
        prop::option::of(prop_oneof![
            Just(json!({"k": 1})),
            Just(json!({"k": "x"})),
            Just(json!({})),
            Just(json!({"k": 1, "z": 2})),
        ]),
        prop::option::weighted(
            0.1,
            prop_oneof![Just(Value::Null), Just(json!("1")), Just(json!(true))],
        ),
        prop::bool::weighted(0.05),
        prop::collection::vec(escape(), 0..4),
    )
        .prop_map(|(grp, kind, team, meta, n, unknown_field, escapes)| Extra {
            grp: grp.map(|(t, g)| (if t == "U" { "G" } else { t }, g)),
            kind,
            team,
            meta,
            n,
            unknown_field,
            escapes,
        })
}

fn request() -> impl Strategy<Value = Req> {
    (
        (
            0..USERS + 2,
            0..ACTIONS,
            0..RESOURCES + 2,
            -5..15i64,
            prop::option::of(any::<bool>()),
            prop::option::of(prop_oneof![
                4 => Just("10.1.2.3"),
                4 => Just("192.168.0.1"),
                1 => Just("not an ip")
            ]),
            prop::option::of(0..USERS + 1),
        ),
        prop::option::weighted(0.5, extra()),
        prop_oneof![20 => Just("U"), 1 => Just("R"), 1 => Just("G"), 1 => Just("X")],
        prop_oneof![20 => Just("R"), 1 => Just("U"), 1 => Just("F"), 1 => Just("X")],
    )
        .prop_map(
            |((principal, action, resource, n, flag, ip, who), extra, pt, rt)| Req {
                principal,
                action,
                resource,
                n,
                flag,
                ip,
                who,
                extra: extra.unwrap_or(Extra {
                    grp: None,
                    kind: None,
                    team: None,
                    meta: None,
                    n: None,
                    unknown_field: false,
                    escapes: Vec::new(),
                }),
                principal_type: pt,
                resource_type: rt,
            },
        )
}

fn context_json(r: &Req) -> serde_json::Map<String, Value> {
    let mut c = serde_json::Map::new();
    match &r.extra.n {
        None => {
            c.insert("n".into(), json!(r.n));
        }
        Some(Value::Null) => {}
        Some(v) => {
            c.insert("n".into(), v.clone());
        }
    }
    if let Some(f) = r.flag {
        c.insert("flag".into(), json!(f));
    }
    if let Some(ip) = r.ip {
        c.insert("ip".into(), json!(ip));
    }
    if let Some(w) = r.who {
        c.insert("who".into(), json!({"type": "U", "id": format!("u{w}")}));
    }
    let x = &r.extra;
    if let Some((t, g)) = x.grp {
        c.insert("grp".into(), json!({"type": t, "id": format!("g{g}")}));
    }
    if let Some(k) = x.kind {
        c.insert("kind".into(), json!({"type": "E", "id": k}));
    }
    if let Some(team) = &x.team {
        let items: Vec<Value> = team
            .iter()
            .map(|(t, u)| json!({"type": t, "id": format!("u{u}")}))
            .collect();
        c.insert("team".into(), Value::Array(items));
    }
    if let Some(m) = &x.meta {
        c.insert("meta".into(), m.clone());
    }
    if x.unknown_field {
        c.insert("zzz".into(), json!(1));
    }
    for (k, v) in &x.escapes {
        c.insert((*k).into(), v.clone());
    }
    c
}

/// Decision, reasons, and the erroring policies with their error messages.
type Outcome = (String, BTreeSet<String>, BTreeSet<(String, String)>);

/// Cedar's response as an `Outcome`.
fn cedar_outcome(response: &cedar_policy::Response) -> Outcome {
    let decision = match response.decision() {
        cedar_policy::Decision::Allow => "allow",
        cedar_policy::Decision::Deny => "deny",
    };
    (
        decision.to_string(),
        response
            .diagnostics()
            .reason()
            .map(|p| p.to_string())
            .collect(),
        response
            .diagnostics()
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                    (e.policy_id().to_string(), e.inner().to_string())
                }
            })
            .collect(),
    )
}

/// The engine's documented difference from Cedar: if any `forbid` of `set`
/// errored, the request is denied and the erroring forbids join the reasons
/// (a satisfied forbid's reasons stay; a permit's do not). Written from the
/// rule, independently of the engine's code.
fn fail_closed(outcome: Outcome, set: &PolicySet) -> Outcome {
    let (decision, reasons, errors) = outcome;
    let forbids: BTreeSet<String> = errors
        .iter()
        .map(|(id, _)| id.clone())
        .filter(|id| {
            set.policies()
                .any(|p| p.id().to_string() == *id && p.effect() == cedar_policy::Effect::Forbid)
        })
        .collect();
    if forbids.is_empty() {
        return (decision, reasons, errors);
    }
    let mut all = if decision == "deny" {
        reasons
    } else {
        BTreeSet::new()
    };
    all.extend(forbids);
    ("deny".to_string(), all, errors)
}

/// Cedar's decision, or the message the engine gives when Cedar rejects the
/// request (its context does not parse against the schema, or the request
/// does not validate).
fn cedar_decides(
    schema: &Schema,
    policies: &PolicySet,
    entities: &Entities,
    r: &Req,
) -> Result<Outcome, String> {
    let action = EntityUid::from_str(&format!("Action::\"a{}\"", r.action)).unwrap();
    let context = Context::from_json_value(Value::Object(context_json(r)), Some((schema, &action)))
        .map_err(|e| format!("context: {e}"))?;
    let request = cedar_policy::Request::new(
        EntityUid::from_str(&format!("{}::\"u{}\"", r.principal_type, r.principal)).unwrap(),
        action,
        EntityUid::from_str(&format!("{}::\"r{}\"", r.resource_type, r.resource)).unwrap(),
        context,
        Some(schema),
    )
    .map_err(|e| e.to_string())?;
    let response = Authorizer::new().is_authorized(&request, policies, entities);
    Ok(cedar_outcome(&response))
}

/// The engine's decision, or its message when it rejects the request as
/// invalid (any other error fails the test).
fn engine_decides(engine: &Engine, r: &Req) -> Result<Outcome, String> {
    let result = engine.check(&Request::Cedar(CedarRequest {
        principal: EntityRef::new(r.principal_type, format!("u{}", r.principal)),
        action: EntityRef::new("Action", format!("a{}", r.action)),
        resource: EntityRef::new(r.resource_type, format!("r{}", r.resource)),
        context: context_json(r),
    }));
    let d = match result {
        Ok(d) => d,
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::RequestInvalid, "{e}");
            return Err(e.message().to_string());
        }
    };
    Ok((
        d.decision.as_str().to_string(),
        d.reasons.into_iter().collect(),
        d.errors
            .into_iter()
            .map(|e| (e.policy, e.message))
            .collect(),
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn engine_decides_as_cedar(
        seed in any::<u64>(),
        policies in prop::collection::vec(policy(), 1..300),
        requests in prop::collection::vec(request(), 1..24),
    ) {
        let schema_text = schema(seed);
        let policy_text = policies.join("\n");
        let entity_json = entities(seed);
        let bundle = Bundle {
            schema: Some(Source::new("schema.cedarschema", schema_text.clone())),
            policies: vec![Source::new("policies.cedar", policy_text.clone())],
            inventory: Some(Source::new("entities.json", entity_json.to_string())),
            options: BundleOptions { validate_policies: false, ..BundleOptions::plain_cedar() },
            ..Bundle::default()
        };
        let engine = Engine::from_bundle(bundle.clone()).unwrap();
        let skipping = Engine::builder().bundle(bundle).on_error(OnError::Skip).build().unwrap();
        let (schema, _) = Schema::from_cedarschema_str(&schema_text).unwrap();
        let set = PolicySet::from_str(&policy_text).unwrap();
        let entities = Entities::from_json_value(entity_json, Some(&schema)).unwrap();
        for r in &requests {
            let cedar = cedar_decides(&schema, &set, &entities, r);
            prop_assert_eq!(engine_decides(&skipping, r), cedar.clone(), "on_error = skip, request {:?}", r);
            let expected = cedar.map(|o| fail_closed(o, &set));
            prop_assert_eq!(engine_decides(&engine, r), expected, "request {:?}", r);
        }
    }
}

/// Every form of every kind of context value, one request each, on a fixed
/// bundle whose policies read each field: the engine answers as Cedar does,
/// the same decision and reasons, or the same error message.
#[test]
fn every_value_form_decides_as_cedar() {
    let seed = 7;
    let policy_text = [
        "permit (principal, action, resource) when { context.ip.isInRange(ip(\"10.0.0.0/8\")) };",
        "permit (principal, action, resource) when { context has at && context.at < datetime(\"2026-06-01\") };",
        "permit (principal, action, resource) when { context has amt && context.amt.lessThan(decimal(\"1.5\")) };",
        "forbid (principal, action, resource) when { context has d && context.d < duration(\"1h\") };",
        "permit (principal, action, resource) when { context has label && context.label == \"x\" };",
        "permit (principal, action, resource) when { context has nets && context.nets.contains(ip(\"10.1.2.3\")) };",
        "permit (principal, action, resource) when { context has who && context.who.level > 3 };",
        "permit (principal, action, resource) when { context has team && context.team.contains(principal) };",
        "forbid (principal, action, resource) when { context has meta && context.meta has who && context.meta.who == principal };",
    ]
    .join("\n");
    let schema_text = schema(seed);
    let entity_json = entities(seed);
    let bundle = Bundle {
        schema: Some(Source::new("schema.cedarschema", schema_text.clone())),
        policies: vec![Source::new("policies.cedar", policy_text.clone())],
        inventory: Some(Source::new("entities.json", entity_json.to_string())),
        options: BundleOptions {
            validate_policies: false,
            ..BundleOptions::plain_cedar()
        },
        ..Bundle::default()
    };
    let engine = Engine::from_bundle(bundle).unwrap();
    let (schema, _) = Schema::from_cedarschema_str(&schema_text).unwrap();
    let set = PolicySet::from_str(&policy_text).unwrap();
    let entities = Entities::from_json_value(entity_json, Some(&schema)).unwrap();
    let mut values = Vec::new();
    for (field, ctor) in [
        ("ip", "ip"),
        ("at", "datetime"),
        ("amt", "decimal"),
        ("d", "duration"),
        ("nets", "ip"),
        ("label", "ip"),
    ] {
        for text in extension_texts() {
            for v in extension_forms(ctor, &text) {
                values.push(placed(field, v));
            }
        }
    }
    for field in ["who", "team", "meta"] {
        for v in entity_forms("u3") {
            values.push(placed(field, v));
        }
    }
    let (mut allowed, mut denied, mut invalid) = (0, 0, 0);
    for (field, v) in values {
        let mut r = Req {
            principal: 3,
            action: 0,
            resource: 1,
            n: 1,
            flag: None,
            ip: Some("10.1.2.3"),
            who: None,
            extra: Extra {
                grp: None,
                kind: None,
                team: None,
                meta: None,
                n: None,
                unknown_field: false,
                escapes: vec![(field, v)],
            },
            principal_type: "U",
            resource_type: "R",
        };
        if field == "ip" {
            r.ip = None;
        }
        let cedar = cedar_decides(&schema, &set, &entities, &r).map(|o| fail_closed(o, &set));
        match &cedar {
            Ok((d, _, _)) if d == "allow" => allowed += 1,
            Ok(_) => denied += 1,
            Err(_) => invalid += 1,
        }
        assert_eq!(engine_decides(&engine, &r), cedar, "{:?}", r.extra.escapes);
    }
    // The forms do reach every outcome.
    assert!(
        allowed > 50 && denied > 10 && invalid > 1000,
        "{allowed} {denied} {invalid}"
    );
}

// ---------------------------------------------------------------------------
// Agent form: the engine's own request path (standard context fields, the
// verified typed context, the `context has` filter on `task`/`credential`,
// candidates evaluated without their scope) against Cedar's `Authorizer` over
// the engine's whole policy set (bundle policies and baseline guardrails),
// with the request built and validated by Cedar from JSON against the merged
// schema. Requests: every agent-form vector of the example bundles, and
// variants of each without its task, credential, on-behalf-of user or
// context fields, or with a field of the wrong type.

fn agent_requests(vectors: &str) -> Vec<agentauthz::AgentRequest> {
    let text = std::fs::read_to_string(vectors).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for v in doc["vectors"].as_array().unwrap() {
        if v["request"].get("agent").is_none() {
            continue;
        }
        let Ok(Request::Agent(r)) = Request::from_json_value(v["request"].clone()) else {
            continue;
        };
        // Standard fields in `context` are the engine's own error, not Cedar's.
        if agentauthz::STANDARD_CONTEXT_FIELDS
            .iter()
            .any(|f| r.context.contains_key(*f))
        {
            continue;
        }
        out.push(r.clone());
        let mut x = r.clone();
        x.task = None;
        out.push(x);
        let mut x = r.clone();
        x.credential = None;
        x.on_behalf_of = None;
        out.push(x);
        let mut x = r.clone();
        x.context.clear();
        out.push(x);
        for key in r.context.keys() {
            let mut x = r.clone();
            x.context
                .insert(key.clone(), json!({"type": "Task", "id": "t"}));
            out.push(x);
            let mut x = r.clone();
            x.context.insert(key.clone(), json!(12));
            out.push(x);
        }
        let mut x = r.clone();
        x.context.insert("zzz_unknown".into(), json!(true));
        out.push(x);
    }
    out
}

/// The context Cedar is given for an agent-form request: the request's
/// fields plus the standard ones, `now` written plainly or as an `__extn`
/// escape, entities as `__entity` escapes; `None` for an invalid `now`.
fn agent_context(
    r: &agentauthz::AgentRequest,
    now_escaped: bool,
) -> Option<serde_json::Map<String, Value>> {
    let mut context = r.context.clone();
    // An invalid `now` is a request error, as Cedar would reject it.
    let now = agentauthz::rfc3339_to_cedar(r.now.as_deref()?)?;
    if now_escaped {
        context.insert(
            "now".into(),
            json!({"__extn": {"fn": "datetime", "arg": now}}),
        );
    } else {
        context.insert("now".into(), json!(now));
    }
    for (field, ty, id) in [
        ("task", "Task", &r.task),
        ("credential", "Credential", &r.credential),
        ("on_behalf_of", "User", &r.on_behalf_of),
    ] {
        if let Some(id) = id {
            context.insert(field.into(), json!({"__entity": {"type": ty, "id": id}}));
        }
    }
    Some(context)
}

fn agent_action(engine: &Engine, r: &agentauthz::AgentRequest) -> Option<EntityUid> {
    let schema = engine.schema().unwrap();
    let action = schema
        .actions()
        .find(|a| a.id().unescaped() == r.action || a.to_string() == r.action)
        .cloned();
    action
}

/// What the engine puts in `context.usage` for the agent's next check of
/// `r.action` (zeros for an agent or action the bundle does not know).
fn usage_of(engine: &Engine, r: &agentauthz::AgentRequest) -> Value {
    let usage = engine.usage(&r.agent, Some(&r.action)).unwrap_or_default();
    serde_json::to_value(usage).unwrap()
}

/// Cedar's decision for the agent request, given the `usage` the engine
/// counted before it (the engine fills `context.usage` in itself).
fn cedar_decides_agent(
    engine: &Engine,
    r: &agentauthz::AgentRequest,
    usage: Value,
) -> Option<Outcome> {
    cedar_decides_agent_with(engine, r, usage, &engine.policy_set())
}

/// The engine's one addition to Cedar for the agent form: a deny whose
/// reasons are all `@approval` forbids (none erroring) that Cedar would turn
/// into an allow without them is `needs_approval`.
fn with_approvals(
    engine: &Engine,
    r: &agentauthz::AgentRequest,
    usage: Value,
    o: Outcome,
) -> Outcome {
    let set = engine.policy_set();
    let approvable = o.0 == "deny"
        && !o.1.is_empty()
        && o.1.iter().all(|id| {
            set.policy(&cedar_policy::PolicyId::new(id))
                .is_some_and(|p| p.annotation("approval").is_some())
                && !o.2.iter().any(|(e, _)| e == id)
        });
    if !approvable {
        return o;
    }
    let mut without = set.clone();
    for id in &o.1 {
        without
            .remove_static(cedar_policy::PolicyId::new(id))
            .unwrap();
    }
    match cedar_decides_agent_with(engine, r, usage, &without).map(|x| fail_closed(x, &without)) {
        Some(lifted) if lifted.0 == "allow" => ("needs_approval".into(), o.1, o.2),
        _ => o,
    }
}

fn cedar_decides_agent_with(
    engine: &Engine,
    r: &agentauthz::AgentRequest,
    usage: Value,
    policies: &cedar_policy::PolicySet,
) -> Option<Outcome> {
    let schema = engine.schema().unwrap();
    let action = agent_action(engine, r)?;
    let mut context = agent_context(r, false)?;
    context.insert("usage".into(), usage);
    let context =
        Context::from_json_value(Value::Object(context), Some((&schema, &action))).ok()?;
    let uid = |t: &str, id: &str| EntityUid::from_json(json!({"type": t, "id": id})).unwrap();
    let request = cedar_policy::Request::new(
        uid("Agent", &r.agent),
        action,
        uid(&r.resource.type_name, &r.resource.id),
        context,
        Some(&schema),
    )
    .ok()?;
    let response = Authorizer::new().is_authorized(&request, policies, &engine.entities());
    Some(cedar_outcome(&response))
}

fn outcome_of(result: agentauthz::Result<agentauthz::Decision>) -> Option<Outcome> {
    match result {
        Ok(d) => Some((
            d.decision.as_str().to_string(),
            d.reasons.into_iter().collect(),
            d.errors
                .into_iter()
                .map(|e| (e.policy, e.message))
                .collect(),
        )),
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::RequestInvalid, "{e}");
            None
        }
    }
}

/// The same request in the Cedar form, with the context Cedar is given
/// (`now` plain or escaped, entities escaped).
fn cedar_form(engine: &Engine, r: &agentauthz::AgentRequest, now_escaped: bool) -> Option<Request> {
    let action = agent_action(engine, r)?;
    Some(Request::Cedar(CedarRequest {
        principal: EntityRef::new("Agent", r.agent.clone()),
        action: EntityRef::new(
            action.type_name().to_string(),
            action.id().unescaped().to_string(),
        ),
        resource: r.resource.clone(),
        context: agent_context(r, now_escaped)?,
    }))
}

#[test]
fn agent_form_decides_as_cedar() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut compared = 0;
    let mut cedar_compared = 0;
    for example in ["coding-agent", "data-pipeline", "support-agent"] {
        // The vectors fix their own `now`: the engine trusts callers' time.
        let engine = Engine::builder()
            .bundle(
                agentauthz::Bundle::read_dir(format!("{root}/policies-examples/{example}"))
                    .unwrap(),
            )
            .trust_caller_time(true)
            .build()
            .unwrap();
        if engine.mode() != agentauthz::Mode::Enforce {
            continue;
        }
        for r in agent_requests(&format!("{root}/tests/vectors/{example}.json")) {
            // Each check counts when it allows: Cedar gets the counts it saw.
            let usage = usage_of(&engine, &r);
            let ours = outcome_of(engine.check(&Request::Agent(r.clone())));
            // Unknown agents, tasks, ... are denied before Cedar runs.
            let screened = |o: &Option<Outcome>| {
                o.as_ref().is_some_and(|(_, reasons, _)| {
                    reasons.iter().any(|p| p.starts_with("baseline/unknown-"))
                })
            };
            let expected = cedar_decides_agent(&engine, &r, usage.clone())
                .map(|o| fail_closed(o, &engine.policy_set()))
                // Approvals are for the agent form only: the Cedar form gets Cedar's deny.
                .map(|o| with_approvals(&engine, &r, usage.clone(), o));
            if !screened(&ours) {
                assert_eq!(ours, expected, "{example}: {r:?}");
                compared += 1;
            }
            // The Cedar form of the same request (the agent is the principal).
            for escaped in [false, true] {
                let Some(cedar_request) = cedar_form(&engine, &r, escaped) else {
                    continue;
                };
                let usage = usage_of(&engine, &r);
                let theirs = outcome_of(engine.check(&cedar_request));
                let expected = cedar_decides_agent(&engine, &r, usage)
                    .map(|o| fail_closed(o, &engine.policy_set()));
                if !screened(&theirs) {
                    assert_eq!(
                        theirs, expected,
                        "{example} (Cedar form): {cedar_request:?}"
                    );
                    cedar_compared += 1;
                }
            }
        }
    }
    assert!(compared > 200, "only {compared} requests compared");
    assert!(
        cedar_compared > 400,
        "only {cedar_compared} Cedar-form requests compared"
    );
}
