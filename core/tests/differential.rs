//! Differential test: the engine (policy index, typed context path) decides
//! exactly as Cedar's `Authorizer` over the whole policy set — same decision,
//! same reasons, same erroring policies — on random schemas, entities,
//! policies (including ones that error at run time) and requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{Bundle, BundleOptions, CedarRequest, Engine, EntityRef, Request, Source};
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

fn schema(seed: u64) -> String {
    let mut rng = Lcg(seed);
    let mut s = String::from(
        "entity G in [G];\nentity U in [G] { level: Long, tag?: String };\n\
         entity F in [F];\nentity R in [F] { owner: U, level: Long };\n\
         action ag0, ag1;\n",
    );
    for a in 0..ACTIONS {
        let groups = match rng.next(3) {
            0 => "",
            1 => " in [ag0]",
            _ => " in [ag0, ag1]",
        };
        s.push_str(&format!(
            "action a{a}{groups} appliesTo {{ principal: [U], resource: [R], context: {{ n: Long, flag?: Bool, ip?: ipaddr, who?: U }} }};\n"
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
}

fn request() -> impl Strategy<Value = Req> {
    (
        0..USERS + 2,
        0..ACTIONS,
        0..RESOURCES + 2,
        -5..15i64,
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![Just("10.1.2.3"), Just("192.168.0.1")]),
        prop::option::of(0..USERS + 1),
    )
        .prop_map(|(principal, action, resource, n, flag, ip, who)| Req {
            principal,
            action,
            resource,
            n,
            flag,
            ip,
            who,
        })
}

fn context_json(r: &Req) -> serde_json::Map<String, Value> {
    let mut c = serde_json::Map::new();
    c.insert("n".into(), json!(r.n));
    if let Some(f) = r.flag {
        c.insert("flag".into(), json!(f));
    }
    if let Some(ip) = r.ip {
        c.insert("ip".into(), json!(ip));
    }
    if let Some(w) = r.who {
        c.insert("who".into(), json!({"type": "U", "id": format!("u{w}")}));
    }
    c
}

type Outcome = (String, BTreeSet<String>, BTreeSet<String>);

fn cedar_decides(schema: &Schema, policies: &PolicySet, entities: &Entities, r: &Req) -> Outcome {
    let action = EntityUid::from_str(&format!("Action::\"a{}\"", r.action)).unwrap();
    let context =
        Context::from_json_value(Value::Object(context_json(r)), Some((schema, &action))).unwrap();
    let request = cedar_policy::Request::new(
        EntityUid::from_str(&format!("U::\"u{}\"", r.principal)).unwrap(),
        action,
        EntityUid::from_str(&format!("R::\"r{}\"", r.resource)).unwrap(),
        context,
        Some(schema),
    )
    .unwrap();
    let response = Authorizer::new().is_authorized(&request, policies, entities);
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
                    e.policy_id().to_string()
                }
            })
            .collect(),
    )
}

fn engine_decides(engine: &Engine, r: &Req) -> Outcome {
    let d = engine
        .check(&Request::Cedar(CedarRequest {
            principal: EntityRef::new("U", format!("u{}", r.principal)),
            action: EntityRef::new("Action", format!("a{}", r.action)),
            resource: EntityRef::new("R", format!("r{}", r.resource)),
            context: context_json(r),
        }))
        .unwrap();
    (
        d.decision.as_str().to_string(),
        d.reasons.into_iter().collect(),
        d.errors.into_iter().map(|e| e.policy).collect(),
    )
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
        let engine = Engine::from_bundle(bundle).unwrap();
        let (schema, _) = Schema::from_cedarschema_str(&schema_text).unwrap();
        let set = PolicySet::from_str(&policy_text).unwrap();
        let entities = Entities::from_json_value(entity_json, Some(&schema)).unwrap();
        for r in &requests {
            prop_assert_eq!(engine_decides(&engine, r), cedar_decides(&schema, &set, &entities, r), "request {:?}", r);
        }
    }
}
