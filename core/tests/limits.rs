//! Hostile input: every limit and every repro of a crash or a silent
//! "last key wins" is a coded error with a location.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::{ErrorCode, ErrorFamily, Limits, Request};

#[test]
fn limit_codes_are_stable_and_in_the_limit_family() {
    let codes = agentauthz::error_codes();
    assert!(codes.contains(&("input_too_deep", "limit")));
    assert!(codes.contains(&("input_too_large", "limit")));
    assert_eq!(ErrorCode::InputTooDeep.family(), ErrorFamily::Limit);
    assert_eq!(ErrorCode::InputTooLarge.as_str(), "input_too_large");
}

#[test]
fn duplicate_keys_in_a_request_are_a_request_parse_error() {
    for text in [
        r#"{"agent":"paused-bot","agent":"ci-bot","action":"a","resource":{"type":"R","id":"r"}}"#,
        r#"{"agent":"ci-bot","action":"a","resource":{"type":"R","id":"r","id":"s"}}"#,
        r#"{"agent":"ci-bot","action":"a","resource":{"type":"R","id":"r"},"context":{"x":1,"x":2}}"#,
        r#"{"principal":{"type":"Agent","id":"a"},"principal":{"type":"Agent","id":"b"},
            "action":{"type":"Action","id":"a"},"resource":{"type":"R","id":"r"}}"#,
    ] {
        let e = Request::from_json_str(text).unwrap_err();
        assert_eq!(e.code(), ErrorCode::RequestParse, "{text}: {e}");
        assert!(e.message().contains("duplicate key"), "{e}");
        assert!(e.location().is_some(), "{e}");
    }
}

#[test]
fn deep_request_json_is_input_too_deep() {
    for depth in [65, 1_000, 100_000] {
        let text = format!(
            r#"{{"agent":"ci-bot","action":"a","resource":{{"type":"R","id":"r"}},"context":{{"x":{}1{}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let e = Request::from_json_str(&text).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InputTooDeep, "{depth}: {e}");
        assert_eq!(e.location().map(|l| l.line), Some(1));
    }
    // Within the default limit, a nested context still parses.
    let ok = format!(
        r#"{{"agent":"ci-bot","action":"a","resource":{{"type":"R","id":"r"}},"context":{{"x":{}1{}}}}}"#,
        "[".repeat(60),
        "]".repeat(60)
    );
    assert!(Request::from_json_str(&ok).is_ok());
}

#[test]
fn large_request_is_input_too_large() {
    let text = format!(
        r#"{{"agent":"ci-bot","action":"a","resource":{{"type":"R","id":"r"}},"context":{{"x":"{}"}}}}"#,
        "a".repeat(2 << 20)
    );
    assert_eq!(
        Request::from_json_str(&text).unwrap_err().code(),
        ErrorCode::InputTooLarge
    );
    let roomy = Limits {
        max_request_bytes: 4 << 20,
        ..Limits::default()
    };
    assert!(Request::from_json_str_with(&text, &roomy).is_ok());
}

#[test]
fn deep_request_value_is_input_too_deep() {
    let mut v = serde_json::json!(1);
    for _ in 0..200 {
        v = serde_json::json!([v]);
    }
    let request = serde_json::json!({"agent": "ci-bot", "action": "a",
        "resource": {"type": "R", "id": "r"}, "context": {"x": v}});
    assert_eq!(
        Request::from_json_value(request).unwrap_err().code(),
        ErrorCode::InputTooDeep
    );
}

// ---------------------------------------------------------------- bundles

use agentauthz::{testing, Bundle, Engine, Error, Source};
use std::time::{Duration, Instant};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../policies-examples/coding-agent"
);

fn example() -> Bundle {
    Bundle::read_dir(EXAMPLE).unwrap()
}

const READ: &str = r#"{"agent":"ci-bot","action":"github:read","resource":{"type":"Repo","id":"acme/api"},
    "context":{"source_ip":"10.20.0.7"}}"#;

fn read_allowed(engine: &Engine) -> bool {
    engine
        .check(&Request::from_json_str(READ).unwrap())
        .unwrap()
        .allowed()
}

fn with_policy(text: String) -> Bundle {
    let mut b = example();
    b.policies.push(Source::new("hostile.cedar", text));
    b
}

fn nested_parens(n: usize) -> String {
    format!(
        "@id(\"deep\")\nforbid(principal, action, resource) when {{ {}true{} }};",
        "(".repeat(n),
        ")".repeat(n)
    )
}

fn or_chain(terms: usize) -> String {
    let chain = vec!["resource.visibility == \"x\""; terms].join(" || ");
    format!("@id(\"chain\")\nforbid(principal, action, resource) when {{ {chain} }};")
}

fn deep_set_schema(n: usize) -> String {
    format!(
        "{}\nentity Deep {{ x: {}String{} }};",
        std::fs::read_to_string(format!("{EXAMPLE}/schema.cedarschema")).unwrap(),
        "Set<".repeat(n),
        ">".repeat(n)
    )
}

/// The example inventory with a key nested `n` deep by block sequences on one line.
fn deep_yaml_inventory(n: usize) -> String {
    let s = std::fs::read_to_string(format!("{EXAMPLE}/inventory.yaml")).unwrap();
    format!("{s}extra: {}1\n", "- ".repeat(n))
}

/// The example inventory with a key nested `n` deep by indentation.
fn indented_yaml_inventory(n: usize) -> String {
    let mut s = std::fs::read_to_string(format!("{EXAMPLE}/inventory.yaml")).unwrap();
    s.push_str("extra:\n");
    for i in 0..n {
        s.push_str(&" ".repeat(i + 1));
        s.push_str("a:\n");
    }
    s
}

fn assert_code(result: agentauthz::Result<Engine>, code: ErrorCode, file: &str) -> Error {
    let e = result.err().unwrap_or_else(|| panic!("expected {code}"));
    assert_eq!(e.code(), code, "{e}");
    let loc = e.location().unwrap_or_else(|| panic!("no location: {e}"));
    assert!(loc.file.ends_with(file), "{e}");
    e
}

/// Each pathological bundle of the issue, as a reload of the example.
fn pathological() -> Vec<(&'static str, Bundle, ErrorCode, &'static str)> {
    let mut deep_schema = example();
    deep_schema.schema = Some(Source::new("schema.cedarschema", deep_set_schema(20_000)));
    let mut deep_json_schema = example();
    deep_json_schema.schema = Some(Source::new(
        "schema.cedarschema.json",
        format!(
            "{{\"\": {{\"entityTypes\": {{}}, \"actions\": {{}}, \"x\": {}1{} }}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    ));
    let mut deep_yaml = example();
    deep_yaml.inventory = Some(Source::new("inventory.yaml", deep_yaml_inventory(100_000)));
    let mut indented_yaml = example();
    indented_yaml.inventory = Some(Source::new(
        "inventory.yaml",
        indented_yaml_inventory(1_000),
    ));
    let mut flow_yaml = example();
    flow_yaml.inventory = Some(Source::new(
        "inventory.yaml",
        format!("x: {}", "[".repeat(100_000)),
    ));
    let mut deep_json_inv = example();
    deep_json_inv.inventory = Some(Source::new("inventory.json", "[".repeat(100_000)));
    let mut deep_toml = example();
    deep_toml.config = Some(Source::new(
        "agentauthz.toml",
        format!("x = {}", "[".repeat(100_000)),
    ));
    let mut dotted_toml = example();
    dotted_toml.config = Some(Source::new(
        "agentauthz.toml",
        format!("{} = 1", vec!["a"; 50_000].join(".")),
    ));
    vec![
        (
            "600 nested parentheses",
            with_policy(nested_parens(600)),
            ErrorCode::InputTooDeep,
            "hostile.cedar",
        ),
        (
            "50,000 nested parentheses",
            with_policy(nested_parens(50_000)),
            ErrorCode::InputTooDeep,
            "hostile.cedar",
        ),
        (
            "50,000-term || chain",
            with_policy(or_chain(50_000)),
            ErrorCode::InputTooDeep,
            "hostile.cedar",
        ),
        (
            "20k-deep Set<…> schema",
            deep_schema,
            ErrorCode::InputTooDeep,
            "schema.cedarschema",
        ),
        (
            "deep JSON schema",
            deep_json_schema,
            ErrorCode::InputTooDeep,
            "schema.cedarschema.json",
        ),
        (
            "100k-deep YAML inventory",
            deep_yaml,
            ErrorCode::InputTooDeep,
            "inventory.yaml",
        ),
        (
            "100k flow brackets in YAML",
            flow_yaml,
            ErrorCode::InputTooDeep,
            "inventory.yaml",
        ),
        (
            "deep JSON inventory",
            deep_json_inv,
            ErrorCode::InputTooDeep,
            "inventory.json",
        ),
        (
            "deep agentauthz.toml",
            deep_toml,
            ErrorCode::InputTooDeep,
            "agentauthz.toml",
        ),
        (
            "50,000 dotted keys in agentauthz.toml",
            dotted_toml,
            ErrorCode::InputTooDeep,
            "agentauthz.toml",
        ),
    ]
}

#[test]
fn pathological_bundles_are_coded_errors_fast() {
    for (name, bundle, code, file) in pathological() {
        let started = Instant::now();
        let e = assert_code(Engine::from_bundle(bundle), code, file);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name} took {:?}",
            started.elapsed()
        );
        assert!(e.message().contains("[limits]"), "{name}: {e}");
    }
}

#[test]
fn reload_of_a_pathological_bundle_keeps_the_old_snapshot() {
    let engine = Engine::from_bundle(example()).unwrap();
    let revision = engine.policy_revision();
    assert!(read_allowed(&engine));
    for (name, bundle, code, _) in pathological() {
        let e = engine.reload(bundle).expect_err(name);
        assert_eq!(e.code(), code, "{name}: {e}");
        assert_eq!(engine.policy_revision(), revision, "{name}");
        assert!(read_allowed(&engine), "{name}");
    }
}

#[test]
fn the_hostile_policy_is_located_at_its_deepest_bracket() {
    let e = assert_code(
        Engine::from_bundle(with_policy(nested_parens(600))),
        ErrorCode::InputTooDeep,
        "hostile.cedar",
    );
    let loc = e.location().unwrap();
    assert_eq!(loc.line, 2);
    // 64 brackets fit: the 65th, after `forbid(` and 63 more, is the first too deep.
    assert!(loc.column > 60, "{e}");
}

#[test]
fn real_sized_inputs_stay_within_the_defaults() {
    // A 2,000-term deny list (6,000 operators) and 60 nested parentheses load.
    let mut b = with_policy(or_chain(2_000));
    b.policies.push(Source::new(
        "nested.cedar",
        nested_parens(60).replace("\"deep\"", "\"nested\""),
    ));
    let engine = Engine::from_bundle(b).unwrap();
    assert!(engine.policies().iter().any(|p| p.id == "chain"));
    // Checks against it never crash, on a small thread too: Cedar's
    // evaluator stops with an error where its stack would run out.
    let handle = std::thread::Builder::new()
        .stack_size(512 << 10)
        .spawn(move || {
            engine
                .check(&Request::from_json_str(READ).unwrap())
                .map(|d| d.allowed())
        })
        .unwrap();
    let _ = handle.join().unwrap();
}

#[test]
fn a_long_chain_within_the_operator_limit_drops_on_a_small_thread() {
    // 3,300 terms (~9,900 operators) is just within the default.
    let engine = Engine::from_bundle(with_policy(or_chain(3_300))).unwrap();
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let _ = engine.check(&Request::from_json_str(READ).unwrap());
            drop(engine);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn nested_ifs_within_the_limit_compile_whatever_the_callers_stack() {
    // 3,000 nested `if`s (9,000 operators) recurse in Cedar's parser far past
    // this thread's 1 MiB; the bundle compiles on the engine's own large stack.
    let ifs = format!(
        "@id(\"ifs\")\nforbid(principal, action, resource) when {{ {}false }};",
        "if false then false else ".repeat(3_000)
    );
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let engine = Engine::from_bundle(with_policy(ifs)).map_err(|e| e.to_string())?;
            let d = engine
                .check(&Request::from_json_str(READ).unwrap())
                .map_err(|e| e.to_string())?;
            drop(engine);
            Ok::<_, String>(d)
        })
        .unwrap();
    // Evaluating the forbid on this small stack may hit Cedar's recursion
    // limit: then the forbid errors and denies (fail closed), never allows.
    let d = handle.join().unwrap().unwrap();
    assert!(d.allowed() == d.errors.is_empty(), "{d:?}");
}

#[test]
fn limits_from_the_builder_and_from_agentauthz_toml() {
    let tight = Limits {
        max_depth: 8,
        ..Limits::default()
    };
    let ten = with_policy(nested_parens(10));
    assert!(Engine::from_bundle(ten.clone()).is_ok());
    let e = Engine::builder()
        .bundle(ten.clone())
        .limits(tight)
        .build()
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::InputTooDeep);
    let mut configured = ten.clone();
    configured.config = Some(Source::new("agentauthz.toml", "[limits]\nmax_depth = 8\n"));
    assert_eq!(
        Engine::from_bundle(configured).err().unwrap().code(),
        ErrorCode::InputTooDeep
    );
    // The builder's limits hold for reloads as well.
    let engine = Engine::builder()
        .bundle(example())
        .limits(tight)
        .build()
        .unwrap();
    assert_eq!(engine.limits().max_depth, 8);
    assert_eq!(
        engine.reload(ten).unwrap_err().code(),
        ErrorCode::InputTooDeep
    );
    assert!(read_allowed(&engine));
    // And for requests given to the ffi layer.
    let deep = READ.replace(
        r#""source_ip":"10.20.0.7""#,
        r#""source_ip":"10.20.0.7","x":[[[[[[[[[[1]]]]]]]]]]"#,
    );
    let e = agentauthz::ffi::check_json(&engine, &deep).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InputTooDeep);
}

#[test]
fn size_limits_apply_to_every_file() {
    let tiny = |f: fn(&mut Limits)| {
        let mut l = Limits::default();
        f(&mut l);
        l
    };
    let cases: Vec<(Limits, &str)> = vec![
        (tiny(|l| l.max_policy_bytes = 100), ".cedar"),
        (tiny(|l| l.max_schema_bytes = 100), "schema.cedarschema"),
        (tiny(|l| l.max_inventory_bytes = 100), "inventory.yaml"),
    ];
    for (limits, file) in cases {
        let r = Engine::builder().bundle(example()).limits(limits).build();
        assert_code(r, ErrorCode::InputTooLarge, file);
    }
    let mut b = example();
    b.config = Some(Source::new(
        "agentauthz.toml",
        format!("# {}\n", "x".repeat(2 << 20)),
    ));
    assert_code(
        Engine::from_bundle(b),
        ErrorCode::InputTooLarge,
        "agentauthz.toml",
    );
    let unknown = Source::new("agentauthz.toml", "[limits]\nmax_dept = 3\n");
    let mut b = example();
    b.config = Some(unknown);
    assert_eq!(
        Engine::from_bundle(b).err().unwrap().code(),
        ErrorCode::ConfigInvalid
    );
}

// ---------------------------------------------------------------- duplicate keys

#[test]
fn duplicate_yaml_keys_in_the_inventory_are_an_inventory_parse_error() {
    let mut b = example();
    let text = b.inventory.as_ref().unwrap().text.replace(
        "    status: suspended\n",
        "    status: suspended\n    status: active\n",
    );
    assert!(text.contains("status: suspended\n    status: active"));
    b.inventory = Some(Source::new("inventory.yaml", text));
    let e = assert_code(
        Engine::from_bundle(b),
        ErrorCode::InventoryParse,
        "inventory.yaml",
    );
    assert!(e.message().contains("duplicate key `status`"), "{e}");
    assert!(e.location().unwrap().line > 30, "{e}");
}

#[test]
fn duplicate_keys_in_json_inventories_and_cedar_entities_are_errors() {
    let mut b = example();
    b.inventory = Some(Source::new(
        "inventory.json",
        r#"{"users": [{"id": "alice", "active": false, "active": true}]}"#,
    ));
    assert_code(
        Engine::from_bundle(b),
        ErrorCode::InventoryParse,
        "inventory.json",
    );
    let mut b = example();
    b.inventory = Some(Source::new(
        "entities.json",
        r#"[{"uid": {"type": "User", "id": "alice"}, "attrs": {"active": false, "active": true}, "parents": []}]"#,
    ));
    assert_code(
        Engine::from_bundle(b),
        ErrorCode::InventoryParse,
        "entities.json",
    );
}

/// A JSON inventory object is read straight into its types; a repeated key
/// at any depth (a second `status` would reactivate an offboarded agent) is
/// still a located parse error, as on the YAML path.
#[test]
fn duplicate_keys_at_any_depth_of_a_json_inventory_object_are_located_errors() {
    let agent = r#"{"id": "a", "owner": "alice", "status": "offboarded", "status": "active"}"#;
    for (what, text) in [
        (
            "top level",
            r#"{"users": [], "users": [{"id": "alice"}]}"#.to_string(),
        ),
        (
            "agent",
            format!(
                r#"{{"users": [{{"id": "alice"}}],
 "agents": [{agent}]}}"#
            ),
        ),
        (
            "resource attrs",
            r#"{"resources": [{"type": "Repo", "id": "r",
                "attrs": {"visibility": "private", "visibility": "public"}}]}"#
                .to_string(),
        ),
        (
            "record inside attrs",
            r#"{"resources": [{"type": "Repo", "id": "r",
                "attrs": {"meta": {"tier": 1, "tier": 2}}}]}"#
                .to_string(),
        ),
        (
            "parent reference",
            r#"{"resources": [{"type": "Repo", "id": "r",
                "parents": [{"type": "Org", "id": "x", "id": "y"}]}]}"#
                .to_string(),
        ),
    ] {
        let mut b = example();
        b.inventory = Some(Source::new("inventory.json", text));
        let e = assert_code(
            Engine::from_bundle(b),
            ErrorCode::InventoryParse,
            "inventory.json",
        );
        assert!(e.message().contains("duplicate"), "{what}: {e}");
        let loc = e.location().unwrap();
        assert!(loc.line >= 1 && loc.column > 1, "{what}: {e}");
    }
}

/// The typed reading of a JSON inventory object and the value reading of
/// the same inventory in YAML build the same engine state, and refuse the
/// same malformed entries with the same code.
#[test]
fn a_json_inventory_object_loads_as_its_yaml_twin() {
    for dir in ["coding-agent", "data-pipeline", "support-agent"] {
        let path = format!("{}/../policies-examples/{dir}", env!("CARGO_MANIFEST_DIR"));
        let yaml = Bundle::read_dir(&path).unwrap();
        let src = yaml.inventory.clone().unwrap();
        let value: serde_json::Value = serde_norway::from_str(&src.text).unwrap();
        let mut json = yaml.clone();
        json.inventory = Some(Source::new(
            "inventory.json",
            serde_json::to_string_pretty(&value).unwrap(),
        ));
        let sorted = |engine: Engine| {
            let mut items: Vec<String> = engine
                .entities()
                .iter()
                .map(|e| e.to_json_value().unwrap().to_string())
                .collect();
            items.sort();
            items
        };
        let (a, b) = (
            sorted(Engine::from_bundle(yaml).unwrap()),
            sorted(Engine::from_bundle(json).unwrap()),
        );
        assert!(a.len() > 10, "{dir}: {} entities", a.len());
        assert_eq!(a, b, "{dir}");
    }
    for bad in [
        r#"{"agents": [{"id": "a", "owner": "alice", "colour": "red"}]}"#,
        r#"{"agents": [{"id": "a", "revoked": "yes"}]}"#,
        r#"{"resources": [{"type": "Repo", "id": "r", "attrs": []}]}"#,
        r#"{"resources": [{"type": "Repo", "id": "r", "attrs": null}]}"#,
        r#"{"teams": null}"#,
        r#"{"teams": []} trailing"#,
        r#"{"teams": []"#,
    ] {
        let mut b = example();
        b.inventory = Some(Source::new("inventory.json", bad));
        assert_code(
            Engine::from_bundle(b),
            ErrorCode::InventoryParse,
            "inventory.json",
        );
    }
}

#[test]
fn duplicate_keys_in_a_json_schema_are_a_schema_parse_error() {
    let mut b = example();
    b.schema = Some(Source::new(
        "schema.cedarschema.json",
        r#"{"": {"entityTypes": {"Repo": {}, "Repo": {"shape": {"type": "Record", "attributes": {}}}}, "actions": {}}}"#,
    ));
    assert_code(
        Engine::from_bundle(b),
        ErrorCode::SchemaParse,
        "schema.cedarschema.json",
    );
}

#[test]
fn test_files_are_bounded_and_strict() {
    let bundle = example();
    let engine = Engine::from_bundle(bundle.clone()).unwrap();
    let dup = Source::new(
        "dup.yaml",
        "cases:\n  - name: a\n    request: {agent: ci-bot, agent: paused-bot, action: \"github:read\", resource: {type: Repo, id: acme/api}}\n    expect: allow\n",
    );
    let e = testing::run_file(&engine, &bundle, &dup).unwrap_err();
    assert_eq!(e.code(), ErrorCode::TestInvalid, "{e}");
    assert!(e.message().contains("duplicate key `agent`"), "{e}");
    let deep = Source::new("deep.json", "[".repeat(100_000));
    let e = testing::run_file(&engine, &bundle, &deep).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InputTooDeep, "{e}");
    let deep_yaml = Source::new("deep.yaml", format!("cases: {}", "- ".repeat(100_000)));
    let e = testing::run_file(&engine, &bundle, &deep_yaml).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InputTooDeep, "{e}");
}
