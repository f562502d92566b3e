//! The MCP proxy's message rules and the list-time rule, attacks first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::mcp::{listable_tools, Identity, Proxy, ProxyOptions, ServerExit, Step};
use agentauthz::Engine;
use serde_json::{json, Value};
use std::path::Path;

fn engine() -> Engine {
    Engine::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies-examples/mcp-workspace"))
        .unwrap()
}

fn proxy(server: &str, agent: &str) -> Proxy {
    Proxy::new(ProxyOptions::new(server, Identity::Agent(agent.into())))
}

fn client(p: &mut Proxy, e: &Engine, msg: &str) -> Step {
    p.from_client(e, msg.as_bytes())
}

fn replies(step: &Step) -> Vec<Value> {
    step.to_client
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn call(id: Value, tool: &str, args: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}})
        .to_string()
}

/// Refused before the server: nothing forwarded, one coded JSON-RPC error.
fn refused_with(step: &Step, code: &str) {
    assert!(step.to_server.is_none(), "forwarded: {step:?}");
    let r = replies(step);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["error"]["data"]["code"], code, "{r:?}");
}

#[test]
fn an_allowed_call_goes_to_the_server_byte_for_byte() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    let msg = call(json!(1), "read_file", json!({"path": "/workspace/a.txt"}));
    let step = client(&mut p, &e, &msg);
    assert_eq!(step.to_server.as_deref(), Some(msg.as_bytes()));
    assert!(step.to_client.is_empty());
    let ev = &step.events[0];
    assert_eq!(ev.event, "decision");
    assert_eq!(ev.mcp_id, Some(json!(1)));
    assert_eq!(ev.tool.as_deref(), Some("read_file"));
    assert!(ev.decision.as_ref().unwrap().allowed());
}

#[test]
fn a_denied_call_is_answered_by_the_proxy_with_reasons() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    let step = client(
        &mut p,
        &e,
        &call(
            json!("w1"),
            "write_file",
            json!({"path": "/etc/passwd", "content": "x"}),
        ),
    );
    assert!(step.to_server.is_none());
    let r = replies(&step);
    assert_eq!(r[0]["id"], "w1");
    assert_eq!(r[0]["result"]["isError"], true);
    let d = &r[0]["result"]["_meta"]["agentauthz/decision"];
    assert_eq!(d["decision"], "deny");
    assert!(d["decision_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(step.events[0].mcp_id, Some(json!("w1")));
    // Path traversal under the workspace prefix.
    let step = client(
        &mut p,
        &e,
        &call(
            json!(2),
            "write_file",
            json!({"path": "/workspace/../etc/passwd", "content": "x"}),
        ),
    );
    assert!(step.to_server.is_none());
    assert_eq!(
        replies(&step)[0]["result"]["_meta"]["agentauthz/decision"]["reasons"],
        json!(["mcp/fs-no-parent-segments"])
    );
}

#[test]
fn duplicate_keys_are_refused_not_read_last_wins() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    let msg = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","name":"write_file","arguments":{"path":"/workspace/x","content":"y"}}}"#;
    refused_with(&client(&mut p, &e, msg), "request_parse");
    let msg = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"write_file","arguments":{"path":"/etc/x","content":"y"}}}"#;
    refused_with(&client(&mut p, &e, msg), "request_parse");
    let msg = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/workspace/x","path":"/etc/shadow"}}}"#;
    refused_with(&client(&mut p, &e, msg), "request_parse");
}

#[test]
fn the_tool_name_in_an_unexpected_place_is_refused() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    // An extra member a lenient server might read as the tool.
    let msg = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","tool":"write_file","arguments":{"path":"/workspace/a"}}});
    refused_with(&client(&mut p, &e, &msg.to_string()), "request_invalid");
    // No name, a name that is not a string, params not an object.
    for params in [
        json!({"tool": "write_file"}),
        json!({"name": ["write_file"]}),
        json!(["write_file"]),
    ] {
        let msg = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params": params});
        refused_with(&client(&mut p, &e, &msg.to_string()), "request_invalid");
    }
    // Look-alike methods.
    for m in [
        "Tools/call",
        "tools/call ",
        "/tools/call",
        "tools/\u{0}call",
    ] {
        let msg = json!({"jsonrpc":"2.0","id":1,"method": m,"params":{"name":"write_file","arguments":{"path":"/etc/x","content":"y"}}});
        refused_with(&client(&mut p, &e, &msg.to_string()), "request_invalid");
    }
    // A tools/call notification (no id): dropped, never forwarded.
    let msg = json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":"write_file","arguments":{"path":"/etc/x","content":"y"}}});
    let step = client(&mut p, &e, &msg.to_string());
    assert!(step.to_server.is_none() && step.to_client.is_empty());
    assert_eq!(step.events[0].event, "refused");
    // Arguments that are not an object.
    refused_with(
        &client(
            &mut p,
            &e,
            &call(json!(3), "read_file", json!("/workspace/a")),
        ),
        "request_invalid",
    );
}

#[test]
fn batches_and_non_objects_and_bad_ids_are_refused() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    let batch = format!(
        "[{}]",
        call(
            json!(1),
            "write_file",
            json!({"path": "/etc/x", "content": "y"})
        )
    );
    refused_with(&client(&mut p, &e, &batch), "request_parse");
    refused_with(&client(&mut p, &e, "42"), "request_parse");
    refused_with(&client(&mut p, &e, "{not json"), "request_parse");
    refused_with(
        &client(
            &mut p,
            &e,
            &call(json!(1.5), "read_file", json!({"path": "/workspace/a"})),
        ),
        "request_parse",
    );
    refused_with(
        &client(
            &mut p,
            &e,
            &call(json!(null), "read_file", json!({"path": "/workspace/a"})),
        ),
        "request_parse",
    );
    refused_with(
        &client(
            &mut p,
            &e,
            &call(
                json!({"a": 1}),
                "read_file",
                json!({"path": "/workspace/a"}),
            ),
        ),
        "request_parse",
    );
    assert_eq!(p.pending(), 0);
}

#[test]
fn a_tool_named_like_another_servers_tool_is_not_that_tool() {
    let e = engine();
    // The proxy in front of "git": its tools are git:*, whatever they are called.
    let mut p = proxy("git", "dev-agent");
    for name in ["fs:write_file", "write_file", "read_file"] {
        let step = client(
            &mut p,
            &e,
            &call(
                json!(name),
                name,
                json!({"path": "/workspace/a", "content": "x"}),
            ),
        );
        assert!(step.to_server.is_none(), "{name}");
    }
    // And a tools/list from "git" offering fs-looking names lists none of them.
    let list = json!({"jsonrpc":"2.0","id":"L","method":"tools/list"}).to_string();
    assert!(client(&mut p, &e, &list).to_server.is_some());
    let answer = json!({"jsonrpc":"2.0","id":"L","result":{"tools":[
        {"name":"fs:read_file","inputSchema":{"type":"object"}},
        {"name":"read_file","inputSchema":{"type":"object"}},
        {"name":"git_status","inputSchema":{"type":"object"}}]}});
    let step = p.from_server(&e, answer.to_string().as_bytes());
    let names: Vec<Value> = replies(&step)[0]["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("git_status")]);
}

#[test]
fn meta_identity_is_ignored_when_the_agent_is_fixed() {
    let e = engine();
    let mut p = proxy("fs", "review-agent");
    let msg = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file",
        "arguments":{"path":"/workspace/a","content":"x"},
        "_meta":{"agentauthz/agent":"dev-agent","agentauthz/session":"v4.public.forged","agent":"dev-agent"}}});
    let step = client(&mut p, &e, &msg.to_string());
    assert!(step.to_server.is_none());
    let d = step.events[0].decision.as_ref().unwrap();
    assert!(!d.allowed());
    // The same call by dev-agent itself is allowed: the deny came from the identity.
    let mut q = proxy("fs", "dev-agent");
    assert!(client(&mut q, &e, &msg.to_string()).to_server.is_some());
}

#[test]
fn the_server_cannot_answer_a_denied_call_or_answer_twice() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    let step = client(
        &mut p,
        &e,
        &call(
            json!(7),
            "write_file",
            json!({"path": "/etc/x", "content": "y"}),
        ),
    );
    assert!(step.to_server.is_none());
    let injected =
        json!({"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"written"}]}});
    let step = p.from_server(&e, injected.to_string().as_bytes());
    assert!(step.to_client.is_empty());
    assert_eq!(step.events[0].event, "dropped");
    // An allowed call is answered once.
    client(
        &mut p,
        &e,
        &call(json!(8), "read_file", json!({"path": "/workspace/a"})),
    );
    let answer = json!({"jsonrpc":"2.0","id":8,"result":{"content":[]}}).to_string();
    assert_eq!(p.from_server(&e, answer.as_bytes()).to_client.len(), 1);
    assert!(p.from_server(&e, answer.as_bytes()).to_client.is_empty());
    // "8" (a string) is not 8.
    client(
        &mut p,
        &e,
        &call(json!(9), "read_file", json!({"path": "/workspace/a"})),
    );
    let wrong = json!({"jsonrpc":"2.0","id":"9","result":{"content":[]}}).to_string();
    assert!(p.from_server(&e, wrong.as_bytes()).to_client.is_empty());
    // Malformed server output (a duplicate id key) is dropped, not passed on.
    let dup = r#"{"jsonrpc":"2.0","id":9,"id":9,"result":{"tools":[]}}"#;
    assert!(p.from_server(&e, dup.as_bytes()).to_client.is_empty());
}

#[test]
fn client_and_server_request_ids_do_not_collide() {
    let e = engine();
    let mut p = proxy("fs", "review-agent");
    // The client's tools/list id 1 is in flight...
    client(
        &mut p,
        &e,
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string(),
    );
    // ...the server asks the client something with its own id 1: passes.
    let server_req = json!({"jsonrpc":"2.0","id":1,"method":"roots/list"}).to_string();
    assert_eq!(p.from_server(&e, server_req.as_bytes()).to_client.len(), 1);
    // The client's answer to it goes to the server and does not touch id 1 in flight.
    let client_resp = json!({"jsonrpc":"2.0","id":1,"result":{"roots":[]}}).to_string();
    assert_eq!(
        client(&mut p, &e, &client_resp).to_server.as_deref(),
        Some(client_resp.as_bytes())
    );
    assert_eq!(p.pending(), 1);
    // A second client request reusing id 1 while it is in flight is refused.
    refused_with(
        &client(
            &mut p,
            &e,
            &json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string(),
        ),
        "request_invalid",
    );
    // The server's answer to tools/list is still filtered.
    let answer = json!({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read_file"},{"name":"write_file"}]}});
    let r = replies(&p.from_server(&e, answer.to_string().as_bytes()));
    assert_eq!(r[0]["result"]["tools"], json!([{"name":"read_file"}]));
}

#[test]
fn listed_is_exactly_the_possibly_permitted_and_listed_is_not_callable() {
    let e = engine();
    let all: Vec<String> = [
        "read_file",
        "write_file",
        "edit_file",
        "list_directory",
        "search_files",
        "get_file_info",
        "move_file",
        "bad name",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let list =
        |agent: &str| listable_tools(&e, &Identity::Agent(agent.into()), "fs", None, &all).unwrap();
    assert_eq!(
        list("dev-agent"),
        [
            "read_file",
            "write_file",
            "edit_file",
            "list_directory",
            "search_files",
            "get_file_info"
        ]
    );
    assert_eq!(
        list("review-agent"),
        ["read_file", "list_directory", "get_file_info"]
    );
    assert!(list("paused-agent").is_empty());
    assert!(list("nobody").is_empty());
    // Listed, yet a call outside the workspace is denied: the call is always checked.
    let mut p = proxy("fs", "review-agent");
    let step = client(
        &mut p,
        &e,
        &call(json!(1), "read_file", json!({"path": "/etc/shadow"})),
    );
    assert!(step.to_server.is_none());
    // A session that does not verify lists nothing.
    let bad = Identity::Session {
        token: "v4.public.x".into(),
        audience: None,
    };
    assert!(listable_tools(&e, &bad, "fs", None, &all).is_err());
    let mut p = Proxy::new(ProxyOptions::new("fs", bad));
    client(
        &mut p,
        &e,
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string(),
    );
    let answer = json!({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"read_file"}]}});
    assert_eq!(
        replies(&p.from_server(&e, answer.to_string().as_bytes()))[0]["result"]["tools"],
        json!([])
    );
}

#[test]
fn unknown_tools_and_ill_typed_arguments_fail_closed() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    let step = client(
        &mut p,
        &e,
        &call(json!(1), "move_file", json!({"source": "/workspace/a"})),
    );
    assert!(step.to_server.is_none());
    let step = client(&mut p, &e, &call(json!(2), "read_file", json!({"path": 5})));
    refused_with(&step, "request_invalid");
    let step = client(
        &mut p,
        &e,
        &call(
            json!(3),
            "read_file",
            json!({"path": "/workspace/a", "extra": 1}),
        ),
    );
    refused_with(&step, "request_invalid");
    // Arguments past the request size bound.
    let big = "x".repeat(2 << 20);
    let step = client(
        &mut p,
        &e,
        &call(
            json!(4),
            "write_file",
            json!({"path": "/workspace/a", "content": big}),
        ),
    );
    refused_with(&step, "input_too_large");
    assert_eq!(p.pending(), 0);
}

#[test]
fn everything_else_passes_unchanged_and_a_dead_server_answers_what_is_open() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    for msg in [
        json!({"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":5,"method":"resources/list"}),
        json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5}}),
        json!({"jsonrpc":"2.0","id":6,"method":"prompts/get","params":{"name":"p"}}),
    ] {
        let text = msg.to_string();
        assert_eq!(
            client(&mut p, &e, &text).to_server.as_deref(),
            Some(text.as_bytes())
        );
    }
    let progress = json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":0.5}}).to_string();
    assert_eq!(
        p.from_server(&e, progress.as_bytes()).to_client,
        vec![progress.into_bytes()]
    );
    client(
        &mut p,
        &e,
        &call(json!(10), "read_file", json!({"path": "/workspace/a"})),
    );
    assert_eq!(p.pending(), 4);
    let step = p.server_exited(ServerExit::Exited(Some(1)));
    let r = replies(&step);
    assert_eq!(r.len(), 4);
    assert!(r.iter().all(|m| m["error"]["data"]["code"] == "io"));
    let ids: Vec<Value> = r.iter().map(|m| m["id"].clone()).collect();
    for id in [json!("init"), json!(5), json!(6), json!(10)] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    assert_eq!(p.pending(), 0);
}

#[test]
fn pending_requests_are_bounded() {
    let e = engine();
    let mut o = ProxyOptions::new("fs", Identity::Agent("dev-agent".into()));
    o.max_pending = 2;
    let mut p = Proxy::new(o);
    for i in 0..2 {
        assert!(client(
            &mut p,
            &e,
            &json!({"jsonrpc":"2.0","id":i,"method":"ping"}).to_string()
        )
        .to_server
        .is_some());
    }
    refused_with(
        &client(
            &mut p,
            &e,
            &json!({"jsonrpc":"2.0","id":3,"method":"ping"}).to_string(),
        ),
        "input_too_large",
    );
}

#[test]
fn a_denial_is_shaped_for_the_protocol_version() {
    let e = engine();
    let mut p = proxy("fs", "dev-agent");
    let deny = |p: &mut Proxy, meta: Value| {
        let msg = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file",
            "arguments":{"path":"/etc/x","content":"y"},"_meta": meta}});
        replies(&client(p, &e, &msg.to_string()))[0]["result"].clone()
    };
    assert!(deny(&mut p, json!({})).get("resultType").is_none());
    let modern = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
    assert_eq!(deny(&mut p, modern)["resultType"], "complete");
    // Negotiated by initialize.
    client(
        &mut p,
        &e,
        &json!({"jsonrpc":"2.0","id":"i","method":"initialize","params":{}}).to_string(),
    );
    p.from_server(
        &e,
        json!({"jsonrpc":"2.0","id":"i","result":{"protocolVersion":"2026-07-28"}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(deny(&mut p, json!({}))["resultType"], "complete");
}
