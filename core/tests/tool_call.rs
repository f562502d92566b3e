//! The one tool-call mapper (`Engine::check_tool_call`): identity forms, an
//! unmapped tool, limits, the coercions of `input` and each of their errors
//! with its path, the MCP guard on the same path, one record per call, and a
//! differential check against hand-written Cedar JSON input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::mcp::{self, Identity};
use agentauthz::{
    ffi, AgentRequest, DecisionLog, DecisionRecord, Effect, Engine, EntityRef, Error, ErrorCode,
    Limits, ManualClock, Request, SessionKeys, ToolCall,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

const NOW: &str = "2026-11-29T10:00:00Z";

const SCHEMA: &str = r#"
entity Account;
entity McpServer;
type Refund = { amount: decimal, currency: String, note?: String };
action "refund" appliesTo {
  principal: [Agent], resource: [Account],
  context: { input: {
    refund: Refund,
    count?: Long,
    tags?: Set<String>,
    items?: Set<{ qty: Long, price: decimal }>,
    source?: ipaddr,
    owner?: User
  } }
};
action "ping" appliesTo { principal: [Agent], resource: [Account] };
action "pay:send" appliesTo {
  principal: [Agent], resource: [McpServer],
  context: { input: { amount: decimal, memo?: String } }
};
"#;

const POLICIES: &str = r#"
@id("refund-small")
permit (principal, action == Action::"refund", resource)
when { context.input.refund.amount.lessThanOrEqual(decimal("100.0")) };

@id("refund-count")
forbid (principal, action == Action::"refund", resource)
when { context.input has count && context.input.count > 10 };

@id("refund-cheap-items")
forbid (principal, action == Action::"refund", resource)
when { context.input has items &&
       context.input.items.contains({qty: 1, price: decimal("0.0")}) };

@id("ping")
permit (principal, action == Action::"ping", resource);

@id("pay-small")
permit (principal, action == Action::"pay:send", resource)
when { context.input.amount.lessThan(decimal("10.0")) };
"#;

const INVENTORY: &str = r#"
users:
  - {id: alice}
agents:
  - {id: ci-bot, owner: alice}
tasks:
  - {id: T-1, agent: ci-bot, not_before: "2026-11-29T09:00:00Z", not_after: "2026-11-29T18:00:00Z"}
resources:
  - {type: Account, id: acme}
  - {type: McpServer, id: pay}
"#;

type Records = Arc<Mutex<Vec<DecisionRecord>>>;

fn engine_with(limits: Limits) -> (Engine, Records) {
    let records: Records = Arc::default();
    let sink = records.clone();
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .config("[sessions]\naudience = \"tools\"\n")
        .clock(Arc::new(ManualClock::at(NOW).unwrap()))
        .session_keys(SessionKeys::generate("k1").unwrap())
        .limits(limits)
        .decision_log(DecisionLog::callback(move |r| {
            sink.lock().unwrap().push(r.clone())
        }))
        .build()
        .unwrap();
    (engine, records)
}

fn engine() -> (Engine, Records) {
    engine_with(Limits::default())
}

fn call(input: Value) -> ToolCall {
    ToolCall {
        tool: "refund_tool".into(),
        action: Some("refund".into()),
        agent: Some("ci-bot".into()),
        session: None,
        audience: None,
        token: None,
        resource: EntityRef::new("Account", "acme"),
        input: Some(input),
        context: Map::new(),
        task: None,
        on_behalf_of: None,
        credential: None,
        now: None,
    }
}

fn refund(amount: Value) -> Value {
    json!({"refund": {"amount": amount, "currency": "EUR"}})
}

fn decide(e: &Engine, input: Value) -> Effect {
    e.check_tool_call(&call(input)).unwrap().decision
}

/// The coded error of a call, which must be `request_invalid` naming `path`.
fn refused(e: &Engine, input: Value, message: &str) -> Error {
    let err = e.check_tool_call(&call(input.clone())).unwrap_err();
    assert_eq!(err.code, ErrorCode::RequestInvalid, "{input}: {err}");
    assert!(
        err.message().contains(message),
        "{input}: {:?} should contain {message:?}",
        err.message()
    );
    err
}

// ---------------------------------------------------------------- decimal

#[test]
fn numbers_become_decimals_exactly() {
    let (e, _) = engine();
    assert_eq!(decide(&e, refund(json!(12.5))), Effect::Allow);
    assert_eq!(decide(&e, refund(json!(100))), Effect::Allow);
    assert_eq!(decide(&e, refund(json!(100.0001))), Effect::Deny);
    assert_eq!(decide(&e, refund(json!(99.9999))), Effect::Allow);
    // -0.0 is zero; a string is Cedar's constructor's, as with `check`.
    assert_eq!(decide(&e, refund(json!(-0.0))), Effect::Allow);
    assert_eq!(decide(&e, refund(json!("12.50"))), Effect::Allow);
    assert_eq!(decide(&e, refund(json!("150.0"))), Effect::Deny);
}

#[test]
fn numbers_that_are_no_decimal_are_refused_never_rounded() {
    let (e, _) = engine();
    refused(
        &e,
        refund(json!(12.34567)),
        "input.refund.amount: 12.34567 has more than 4 fraction digits for decimal",
    );
    refused(
        &e,
        refund(json!(0.00001)),
        "input.refund.amount: 0.00001 has more than 4 fraction digits for decimal",
    );
    // 100.00001 would round to an allowed 100.0.
    refused(&e, refund(json!(100.00001)), "more than 4 fraction digits");
    refused(&e, refund(json!(0.1 + 0.2)), "more than 4 fraction digits");
    refused(
        &e,
        refund(json!(922_337_203_685_478_i64)),
        "out of range for decimal",
    );
    refused(&e, refund(json!(u64::MAX)), "out of range for decimal");
    refused(&e, refund(json!(1e300)), "out of range for decimal");
    refused(&e, refund(json!(-1e20)), "out of range for decimal");
}

#[test]
fn json_text_numbers_read_as_written() {
    let (e, _) = engine();
    let text = |amount: &str| {
        format!(
            r#"{{"tool": "t", "action": "refund", "agent": "ci-bot", "resource": {{"type": "Account", "id": "acme"}},
                "input": {{"refund": {{"amount": {amount}, "currency": "EUR"}}}}}}"#
        )
    };
    let decided = |amount: &str| {
        let out = ffi::check_tool_call_json(&e, &text(amount)).unwrap();
        serde_json::from_str::<Value>(&out).unwrap()["decision"].clone()
    };
    assert_eq!(decided("1e1"), "allow");
    assert_eq!(decided("1e3"), "deny");
    assert_eq!(decided("1E2"), "allow");
    assert_eq!(decided("-0.0"), "allow");
    for bad in [
        "12.34567",
        "0.00001",
        "99999999999999999999",
        "1e400",
        "-1e400",
    ] {
        let err = ffi::check_tool_call_json(&e, &text(bad)).unwrap_err();
        assert!(
            matches!(
                err.code,
                ErrorCode::RequestInvalid | ErrorCode::RequestParse
            ),
            "{bad}: {err}"
        );
    }
}

// ---------------------------------------------------------------- Long

#[test]
fn integral_numbers_become_longs() {
    let (e, _) = engine();
    let with_count = |n: Value| json!({"refund": {"amount": 1, "currency": "EUR"}, "count": n});
    assert_eq!(decide(&e, with_count(json!(3.0))), Effect::Allow);
    assert_eq!(decide(&e, with_count(json!(11.0))), Effect::Deny);
    assert_eq!(decide(&e, with_count(json!(1e1))), Effect::Allow);
    assert_eq!(decide(&e, with_count(json!(-0.0))), Effect::Allow);
    refused(
        &e,
        with_count(json!(3.5)),
        "input.count: 3.5 is not an integer for Long",
    );
    refused(
        &e,
        with_count(json!(u64::MAX)),
        "input.count: 18446744073709551615 is out of range for Long",
    );
    refused(
        &e,
        with_count(json!(9.3e18)),
        "input.count: 9.3e+18 is out of range for Long",
    );
    refused(&e, with_count(json!(1e300)), "is out of range for Long");
}

// ---------------------------------------------------------------- null, records

#[test]
fn null_at_an_optional_attribute_is_dropped() {
    let (e, records) = engine();
    let input = json!({"refund": {"amount": 5, "currency": "EUR", "note": null}, "count": null, "tags": null});
    assert_eq!(decide(&e, input), Effect::Allow);
    // The record holds the input as checked: the nulls are gone.
    let last = records.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.context["input"]["refund"].get("note"), None);
    assert_eq!(last.context["input"].get("count"), None);
}

#[test]
fn null_anywhere_else_is_refused() {
    let (e, _) = engine();
    refused(
        &e,
        json!({"refund": {"amount": 5, "currency": null}}),
        "input.refund.currency: null where String is required",
    );
    refused(
        &e,
        json!({"refund": {"amount": null, "currency": "EUR"}}),
        "input.refund.amount: null where decimal is required",
    );
    refused(&e, json!({"refund": null}), "input.refund: null");
    refused(
        &e,
        json!({"refund": {"amount": 5, "currency": "EUR"}, "tags": ["a", null]}),
        "input.tags[1]: null where String is required",
    );
    refused(
        &e,
        json!({"refund": {"amount": 5, "currency": "EUR"}, "items": [{"qty": 1, "price": 1}, {"qty": null, "price": 1}]}),
        "input.items[1].qty: null",
    );
}

#[test]
fn records_are_closed_and_complete() {
    let (e, _) = engine();
    refused(
        &e,
        json!({"refund": {"amount": 5, "currency": "EUR", "extra": 1}}),
        "input.refund.extra: not an attribute of the declared record type",
    );
    refused(
        &e,
        json!({"refund": {"amount": 5}}),
        "input.refund.currency: required attribute is missing",
    );
    refused(&e, json!({}), "input.refund: required attribute is missing");
    refused(
        &e,
        json!({"refund": {"amount": 5, "currency": "EUR"}, "items": [{"qty": 1, "price": 1, "colour": "red"}]}),
        "input.items[0].colour: not an attribute",
    );
}

#[test]
fn nested_sets_of_records_are_coerced() {
    let (e, _) = engine();
    let items = |price: Value| json!({"refund": {"amount": 5, "currency": "EUR"}, "items": [{"qty": 2.0, "price": 1.25}, {"qty": 1, "price": price}]});
    assert_eq!(decide(&e, items(json!(0.5))), Effect::Allow);
    // {qty: 1, price: 0.0} (from 0 and from -0.0) is the forbidden element.
    assert_eq!(decide(&e, items(json!(0))), Effect::Deny);
    assert_eq!(decide(&e, items(json!(-0.0))), Effect::Deny);
    refused(
        &e,
        items(json!(0.12345)),
        "input.items[1].price: 0.12345 has more than 4 fraction digits",
    );
}

// ---------------------------------------------------------------- left to Cedar

#[test]
fn what_is_not_coerced_stays_cedars_type_error() {
    let (e, _) = engine();
    // A number where String is declared, a string where Long is: no coercion.
    for input in [
        json!({"refund": {"amount": 5, "currency": 12.3}}),
        json!({"refund": {"amount": 5, "currency": "EUR"}, "count": "3"}),
        json!({"refund": {"amount": 5, "currency": "EUR"}, "tags": "a"}),
        json!({"refund": {"amount": 5, "currency": "EUR"}, "source": 10}),
        json!({"refund": {"amount": "12.3.4", "currency": "EUR"}}),
        json!({"refund": {"amount": true, "currency": "EUR"}}),
        json!({"refund": "x"}),
        json!([1]),
    ] {
        let err = e.check_tool_call(&call(input.clone())).unwrap_err();
        assert_eq!(err.code, ErrorCode::RequestInvalid, "{input}: {err}");
    }
    // Strings for extension types go to Cedar's constructors.
    let ok = json!({"refund": {"amount": "1.5", "currency": "EUR"}, "source": "10.0.0.1", "owner": {"type": "User", "id": "alice"}});
    assert_eq!(decide(&e, ok), Effect::Allow);
}

#[test]
fn an_action_without_input_refuses_one() {
    let (e, _) = engine();
    let mut c = call(json!({"a": 1}));
    c.action = Some("ping".into());
    let err = e.check_tool_call(&c).unwrap_err();
    assert_eq!(err.code, ErrorCode::RequestInvalid);
    assert!(err.message().starts_with("input:"), "{err}");
    c.input = None;
    assert!(e.check_tool_call(&c).unwrap().allowed());
}

#[test]
fn input_is_given_once() {
    let (e, _) = engine();
    let mut c = call(refund(json!(1)));
    c.context.insert("input".into(), refund(json!(1)));
    assert_eq!(
        e.check_tool_call(&c).unwrap_err().code,
        ErrorCode::RequestInvalid
    );
    // In `context` alone it is the input too, coerced the same way.
    c.input = None;
    c.context.insert("input".into(), refund(json!(12.5)));
    assert!(e.check_tool_call(&c).unwrap().allowed());
}

// ---------------------------------------------------------------- actions

#[test]
fn an_unmapped_tool_is_a_recorded_deny_never_an_error() {
    let (e, records) = engine();
    let mut c = call(json!({"anything": [null, 1.23456]}));
    c.action = None;
    // The tool's name is an action that exists and would allow: still a deny.
    c.tool = "ping".into();
    let d = e.check_tool_call(&c).unwrap();
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.reasons, ["baseline/unknown-action"]);
    let r = records.lock().unwrap().last().cloned().unwrap();
    assert_eq!(r.decision_id, d.decision_id);
    assert_eq!(r.action, "ping");
    assert_eq!(r.reasons, ["baseline/unknown-action"]);
}

#[test]
fn an_unknown_action_denies_with_the_input_untouched() {
    let (e, _) = engine();
    let mut c = call(json!({"x": null, "y": 1.23456}));
    c.action = Some("no-such-action".into());
    let d = e.check_tool_call(&c).unwrap();
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.reasons, ["baseline/unknown-action"]);
}

// ---------------------------------------------------------------- identity

#[test]
fn identity_is_exactly_one_of_agent_and_session() {
    let (e, _) = engine();
    let (token, _) = e.issue_session("ci-bot", Some("T-1"), None, None).unwrap();
    let mut c = call(refund(json!(12.5)));
    c.agent = None;
    c.session = Some(token.clone());
    assert!(e.check_tool_call(&c).unwrap().allowed());
    c.audience = Some("tools".into());
    assert!(e.check_tool_call(&c).unwrap().allowed());
    // A session's errors are the session check's.
    c.audience = Some("elsewhere".into());
    assert!(e.check_tool_call(&c).is_err());
    c.audience = None;
    c.input = Some(refund(json!(12.34567)));
    assert_eq!(
        e.check_tool_call(&c).unwrap_err().code,
        ErrorCode::RequestInvalid
    );
    c.input = Some(refund(json!(12.5)));
    c.action = None;
    assert_eq!(
        e.check_tool_call(&c).unwrap().reasons,
        ["baseline/unknown-action"]
    );
    c.action = Some("refund".into());
    let wrong = [
        ("both", Some("ci-bot"), Some(token.as_str()), None, None),
        ("neither", None, None, None, None),
        (
            "task with session",
            None,
            Some(token.as_str()),
            None,
            Some("T-1"),
        ),
        (
            "audience with agent",
            Some("ci-bot"),
            None,
            Some("tools"),
            None,
        ),
    ];
    for (case, agent, session, audience, task) in wrong {
        let mut c = call(refund(json!(1)));
        c.agent = agent.map(String::from);
        c.session = session.map(String::from);
        c.audience = audience.map(String::from);
        c.task = task.map(String::from);
        let err = e.check_tool_call(&c).unwrap_err();
        assert_eq!(err.code, ErrorCode::RequestInvalid, "{case}: {err}");
    }
    // A forged token is an error, never a decision.
    c.agent = None;
    c.session = Some(format!("{token}x"));
    assert!(e.check_tool_call(&c).is_err());
    // `now` with a session is refused, as with `check`.
    c.session = Some(token);
    c.now = Some(NOW.into());
    assert_eq!(
        e.check_tool_call(&c).unwrap_err().code,
        ErrorCode::RequestInvalid
    );
}

#[test]
fn an_unknown_agent_denies() {
    let (e, _) = engine();
    let mut c = call(refund(json!(1)));
    c.agent = Some("ghost".into());
    let d = e.check_tool_call(&c).unwrap();
    assert_eq!(d.decision, Effect::Deny);
    assert!(
        d.reasons.iter().any(|r| r == "baseline/unknown-agent"),
        "{d:?}"
    );
}

// ---------------------------------------------------------------- limits

#[test]
fn deep_or_large_input_is_refused_by_the_limits() {
    let limits = Limits {
        max_depth: 16,
        max_request_bytes: 4096,
        ..Limits::default()
    };
    let (e, records) = engine_with(limits);
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!({"a": deep});
    }
    let err = e.check_tool_call(&call(deep.clone())).unwrap_err();
    assert_eq!(err.code, ErrorCode::InputTooDeep);
    let mut c = call(refund(json!(1)));
    c.context.insert("deep".into(), deep);
    assert_eq!(
        e.check_tool_call(&c).unwrap_err().code,
        ErrorCode::InputTooDeep
    );
    let big = json!({"refund": {"amount": 1, "currency": "x".repeat(10_000)}});
    assert_eq!(
        e.check_tool_call(&call(big)).unwrap_err().code,
        ErrorCode::InputTooLarge
    );
    // The JSON layers too.
    let mut text = String::from(
        r#"{"tool": "t", "action": "refund", "agent": "ci-bot", "resource": {"type": "Account", "id": "acme"}, "input": "#,
    );
    text.push_str(&"[".repeat(200));
    text.push_str(&"]".repeat(200));
    text.push('}');
    assert_eq!(
        ffi::check_tool_call_json(&e, &text).unwrap_err().code,
        ErrorCode::InputTooDeep
    );
    assert!(records.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------- records

#[test]
fn one_record_per_call_errors_included() {
    let (e, records) = engine();
    let before = records.lock().unwrap().len();
    let d = e.check_tool_call(&call(refund(json!(12.5)))).unwrap();
    let err = e
        .check_tool_call(&call(refund(json!(12.34567))))
        .unwrap_err();
    let denied = e.check_tool_call(&call(refund(json!(500)))).unwrap();
    let got = records.lock().unwrap()[before..].to_vec();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].decision_id, d.decision_id);
    assert_eq!(got[0].action, "refund");
    assert_eq!(
        got[0].context["input"]["refund"]["amount"],
        json!({"__extn": {"fn": "decimal", "arg": "12.5"}})
    );
    assert_eq!(got[1].decision.as_str(), "error");
    assert_eq!(got[1].error.as_ref().unwrap().code, err.code.as_str());
    assert_eq!(got[2].decision_id, denied.decision_id);
    assert_eq!(got[2].decision.as_str(), "deny");
}

// ---------------------------------------------------------------- wire

#[test]
fn the_wire_form_is_strict() {
    let (e, _) = engine();
    let base = json!({"tool": "t", "action": "refund", "agent": "ci-bot", "resource": {"type": "Account", "id": "acme"}, "input": refund(json!(12.5))});
    let d = ffi::check_tool_call_value(&e, base.clone()).unwrap();
    assert_eq!(d["decision"], "allow");
    let mut unknown = base.clone();
    unknown["inputs"] = json!({});
    assert_eq!(
        ffi::check_tool_call_value(&e, unknown).unwrap_err().code,
        ErrorCode::RequestParse
    );
    let mut unmapped = base.clone();
    unmapped["action"] = Value::Null;
    let d = ffi::check_tool_call_value(&e, unmapped).unwrap();
    assert_eq!(d["reasons"], json!(["baseline/unknown-action"]));
    let mut no_input = base;
    no_input["input"] = Value::Null;
    // No input: the required `context.input` is missing, Cedar's error.
    assert_eq!(
        ffi::check_tool_call_value(&e, no_input).unwrap_err().code,
        ErrorCode::RequestInvalid
    );
    assert_eq!(
        ffi::check_tool_call_json(&e, "[]").unwrap_err().code,
        ErrorCode::RequestParse
    );
}

// ---------------------------------------------------------------- MCP

#[test]
fn the_mcp_guard_coerces_the_same_way() {
    let (e, records) = engine();
    let agent = Identity::Agent("ci-bot".into());
    let check = |args: Value| mcp::check_call(&e, &agent, "pay", None, "send", Some(&args));
    assert!(check(json!({"amount": 5.5, "memo": null}))
        .unwrap()
        .allowed());
    assert!(!check(json!({"amount": 10})).unwrap().allowed());
    let err = check(json!({"amount": 5.55555})).unwrap_err();
    assert_eq!(err.code, ErrorCode::RequestInvalid);
    assert!(
        err.message()
            .contains("input.amount: 5.55555 has more than 4 fraction digits"),
        "{err}"
    );
    assert_eq!(
        check(json!({"amount": 1, "x": 1})).unwrap_err().code,
        ErrorCode::RequestInvalid
    );
    assert_eq!(records.lock().unwrap().last().unwrap().action, "pay:send");
}

// ---------------------------------------------------------------- differential

/// The hand-written Cedar JSON of what a coerced call means.
fn hand_written(amount: &str, count: Option<i64>, note: Option<&str>) -> Request {
    let mut refund =
        json!({"amount": {"__extn": {"fn": "decimal", "arg": amount}}, "currency": "EUR"});
    if let Some(n) = note {
        refund["note"] = json!(n);
    }
    let mut input = json!({"refund": refund});
    if let Some(c) = count {
        input["count"] = json!(c);
    }
    let mut context = Map::new();
    context.insert("input".into(), input);
    Request::Agent(AgentRequest {
        agent: "ci-bot".into(),
        action: "refund".into(),
        resource: EntityRef::new("Account", "acme"),
        task: None,
        on_behalf_of: None,
        credential: None,
        context,
        now: None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    // A coerced call decides exactly as its hand-written Cedar equivalent.
    #[test]
    fn coerced_input_decides_as_hand_written_input(
        units in -2_000i64..2_000,
        frac in 0u32..10_000,
        digits in 0usize..5,
        count in proptest::option::of(-3i64..20),
        count_as_float in any::<bool>(),
        note in proptest::option::of(proptest::option::of("[a-z]{0,4}")),
    ) {
        let (e, _) = engine();
        let frac = format!("{frac:04}");
        let frac = &frac[..digits];
        let text = if frac.is_empty() { format!("{units}") } else { format!("{units}.{frac}") };
        let number: Value = serde_json::from_str(&text).unwrap();
        let mut input = json!({"refund": {"amount": number, "currency": "EUR"}});
        if let Some(note) = &note {
            input["refund"]["note"] = note.as_ref().map_or(Value::Null, |n| json!(n));
        }
        if let Some(c) = count {
            input["count"] = if count_as_float { json!(c as f64) } else { json!(c) };
        }
        let got = e.check_tool_call(&call(input)).unwrap();
        // The decimal Cedar reads from the same text, written by hand.
        let cedar_text = if frac.is_empty() { format!("{units}.0") } else { text.clone() };
        let want = e
            .check(&hand_written(&cedar_text, count, note.flatten().as_deref()))
            .unwrap();
        prop_assert_eq!(got.decision, want.decision, "{}", text);
        prop_assert_eq!(got.reasons, want.reasons, "{}", text);
    }
}
