//! `schema from-mcp` in the core: JSON Schema → Cedar types, warnings,
//! hostile names, merging, and the example bundle's schema kept in step.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::ffi;
use agentauthz::mcp::{merge_schema, schema_from_tools, McpSchemaOptions};
use agentauthz::{Engine, ErrorCode};
use cedar_policy::SchemaFragment;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> Value {
    let path = repo().join("cli/tests/fixtures/mcp").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn opts(server: &str) -> McpSchemaOptions {
    McpSchemaOptions {
        server: server.into(),
        namespace: None,
    }
}

/// The generated fragment parses, and its JSON form (actions → context) is returned.
fn parsed(text: &str) -> Value {
    let (frag, _) = SchemaFragment::from_cedarschema_str(text).expect(text);
    frag.to_json_value().unwrap()
}

fn input_attrs(json: &Value, ns: &str, action: &str) -> Value {
    json[ns]["actions"][action]["appliesTo"]["context"]["attributes"]["input"]["attributes"].clone()
}

#[test]
fn reference_server_shapes_map_to_cedar_types() {
    let fs = schema_from_tools(&fixture("filesystem.tools.json"), &opts("fs")).unwrap();
    assert_eq!(fs.actions.len(), 6);
    assert!(fs.warnings.is_empty(), "{:?}", fs.warnings);
    let j = parsed(&fs.text);
    let read = input_attrs(&j, "", "fs:read_file");
    assert_eq!(read["path"]["type"], "EntityOrCommon");
    assert_eq!(read["path"]["name"], "String");
    assert_ne!(read["path"]["required"], Value::Bool(false));
    assert_eq!(read["head"]["name"], "Long");
    assert_eq!(read["head"]["required"], Value::Bool(false));
    let edit = input_attrs(&j, "", "fs:edit_file");
    assert_eq!(edit["edits"]["type"], "Set");
    assert_eq!(edit["edits"]["element"]["type"], "Record");
    assert_eq!(edit["dryRun"]["name"], "Bool");
    // The resource type and the principal.
    assert!(j[""]["entityTypes"]["McpServer"].is_object(), "{j}");
    let applies = &j[""]["actions"]["fs:write_file"]["appliesTo"];
    assert_eq!(applies["principalTypes"], json!(["Agent"]));
    assert_eq!(applies["resourceTypes"], json!(["McpServer"]));

    // A whole JSON-RPC response is accepted too; enums, date-time, nullable.
    let git = schema_from_tools(&fixture("git.tools.json"), &opts("git")).unwrap();
    let j = parsed(&git.text);
    let push = input_attrs(&j, "", "git:git_push");
    assert_eq!(push["remote"]["name"], "String");
    assert!(
        git.text
            .contains(r#""remote"?: String, // one of: "origin", "upstream""#),
        "{}",
        git.text
    );
    let log = input_attrs(&j, "", "git:git_log");
    assert_eq!(log["start_timestamp"]["name"], "datetime");
    assert_eq!(log["start_timestamp"]["required"], Value::Bool(false));

    let fetch = schema_from_tools(&fixture("fetch.tools.json"), &opts("fetch")).unwrap();
    let j = parsed(&fetch.text);
    let f = input_attrs(&j, "", "fetch:fetch");
    assert_eq!(f["source_ip"]["name"], "ipaddr");
    assert!(f.get("timeout").is_none() && f.get("headers").is_none() && f.get("mode").is_none());
    assert_eq!(input_attrs(&j, "", "fetch:no_schema"), json!({}));
}

#[test]
fn every_unmappable_construct_is_a_listed_warning() {
    let fetch = schema_from_tools(&fixture("fetch.tools.json"), &opts("fetch")).unwrap();
    let at = |path: &str, needle: &str| {
        assert!(
            fetch
                .warnings
                .iter()
                .any(|w| w.path == path && w.message.contains(needle)),
            "{path}: {needle} in {:#?}",
            fetch.warnings
        )
    };
    at("input.timeout", "`number`");
    at("input.headers", "a map");
    at("input.mode", "`oneOf`");
    assert!(fetch
        .warnings
        .iter()
        .any(|w| w.message.contains("not a valid MCP tool name")));
    let extra = json!({"tools": [{"name": "t", "inputSchema": {"type": "object",
        "properties": {"a": {"type": "string"}, "n": {"type": "number"}}, "required": ["n"],
        "additionalProperties": true}}]});
    let s = schema_from_tools(&extra, &opts("s")).unwrap();
    let msgs: Vec<&str> = s.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("`additionalProperties`")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("every call of this tool is denied")),
        "{msgs:?}"
    );
}

#[test]
fn hostile_tool_and_property_names_cannot_write_schema_text() {
    let tools = json!({"tools": [
        {"name": "x\" appliesTo { principal: [Agent], resource: [McpServer] }; action \"evil",
         "inputSchema": {"type": "object"}},
        {"name": "ok", "inputSchema": {"type": "object", "properties": {
            "a\": Long, \"b": {"type": "string"},
            "back\\slash": {"type": "string"},
            "line\nbreak": {"type": "string"},
            "e": {"type": "string", "enum": ["v\n}; action \"injected\" appliesTo {principal: [Agent], resource: [McpServer]};\n//"]}
        }}}
    ]});
    let s = schema_from_tools(&tools, &opts("srv")).unwrap();
    let j = parsed(&s.text);
    let actions: Vec<&String> = j[""]["actions"].as_object().unwrap().keys().collect();
    assert_eq!(actions, vec!["srv:ok"], "{}", s.text);
    let attrs = input_attrs(&j, "", "srv:ok");
    let mut names: Vec<&String> = attrs.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, vec!["a\": Long, \"b", "back\\slash", "e"]);
}

#[test]
fn server_names_with_a_colon_are_refused() {
    // "a:b" + tool "c" and "a" + tool "b:c" would both be the action "a:b:c".
    let tools = json!({"tools": [{"name": "c"}]});
    let e = schema_from_tools(&tools, &opts("a:b")).unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaInvalid);
    let tools = json!({"tools": [{"name": "b:c"}]});
    let s = schema_from_tools(&tools, &opts("a")).unwrap();
    assert!(s.actions.is_empty(), "{:?}", s.actions);
}

#[test]
fn deep_input_schemas_are_cut_with_a_warning() {
    let mut schema = json!({"type": "string"});
    for _ in 0..200 {
        schema = json!({"type": "object", "properties": {"x": schema}});
    }
    let tools = json!({"tools": [{"name": "deep", "inputSchema": schema}]});
    let s = schema_from_tools(&tools, &opts("s")).unwrap();
    assert!(s
        .warnings
        .iter()
        .any(|w| w.message.contains("nested deeper")));
    parsed(&s.text);
}

#[test]
fn merge_replaces_only_its_own_block() {
    let hand = "// my types\nentity Repo;\n";
    let fs = schema_from_tools(&fixture("filesystem.tools.json"), &opts("fs")).unwrap();
    let git = schema_from_tools(&fixture("git.tools.json"), &opts("git")).unwrap();
    let merged = merge_schema(&merge_schema(hand, &fs).unwrap(), &git).unwrap();
    assert!(merged.starts_with(hand));
    assert_eq!(merged.matches("entity McpServer;").count(), 1);
    // Regenerating fs with fewer tools drops its old actions, keeps git's.
    let fewer = schema_from_tools(&json!({"tools": [{"name": "read_file"}]}), &opts("fs")).unwrap();
    let again = merge_schema(&merged, &fewer).unwrap();
    let j = parsed(&again);
    let actions: Vec<&String> = j[""]["actions"].as_object().unwrap().keys().collect();
    assert!(actions.contains(&&"fs:read_file".to_string()));
    assert!(!actions.contains(&&"fs:write_file".to_string()));
    assert!(actions.contains(&&"git:git_push".to_string()));
    assert!(again.starts_with(hand));
    // Idempotent.
    assert_eq!(merge_schema(&again, &fewer).unwrap(), again);
    // An unbalanced marker is an error, never a silent cut.
    let broken = format!("{hand}// @agentauthz-mcp begin server=fs\nentity Keep;\n");
    assert_eq!(
        merge_schema(&broken, &fewer).unwrap_err().code,
        ErrorCode::SchemaInvalid
    );
}

#[test]
fn namespaced_fragment_builds_an_engine() {
    let o = McpSchemaOptions {
        server: "fs".into(),
        namespace: Some("Tools".into()),
    };
    let s = schema_from_tools(&fixture("filesystem.tools.json"), &o).unwrap();
    let policy = r#"@id("p") permit (principal, action == Tools::Action::"fs:read_file", resource)
        when { context.input.path like "/w/*" };"#;
    Engine::from_strings(&s.text, policy, None).unwrap();
    assert!(schema_from_tools(
        &json!({"tools": []}),
        &McpSchemaOptions {
            server: "fs".into(),
            namespace: Some("bad ns".into())
        }
    )
    .is_err());
}

/// The example bundle's schema is what `from-mcp` makes of its tool lists.
#[test]
fn example_bundle_schema_is_generated_from_its_tool_lists() {
    let dir = repo().join("policies-examples/mcp-workspace");
    let committed = std::fs::read_to_string(dir.join("schema.cedarschema")).unwrap();
    let mut regenerated = committed.clone();
    for server in ["fs", "git", "fetch"] {
        let tools: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("mcp/{server}.tools.json"))).unwrap(),
        )
        .unwrap();
        regenerated = merge_schema(
            &regenerated,
            &schema_from_tools(&tools, &opts(server)).unwrap(),
        )
        .unwrap();
    }
    assert_eq!(
        regenerated, committed,
        "regenerate with `agentauthz schema from-mcp ... --into`"
    );
    Engine::load(&dir).unwrap();
}

#[test]
fn facade_layers_agree() {
    let tools = fixture("git.tools.json");
    let typed = ffi::schema_from_mcp(&tools, &opts("git")).unwrap();
    let value =
        ffi::schema_from_mcp_value(json!({"tools": tools.clone(), "server": "git"})).unwrap();
    assert_eq!(value["text"], json!(typed.text));
    assert_eq!(value["actions"], json!(typed.actions));
    let text =
        ffi::schema_from_mcp_json(&json!({"tools": tools, "server": "git"}).to_string()).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    assert_eq!(
        ffi::schema_from_mcp_value(json!({"tools": [], "extra": 1}))
            .unwrap_err()
            .code,
        ErrorCode::SchemaInvalid
    );
    assert_eq!(
        ffi::schema_from_mcp_json("{").unwrap_err().code,
        ErrorCode::SchemaInvalid
    );
}
