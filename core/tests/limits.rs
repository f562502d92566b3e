//! Hostile input: every limit and every repro of a crash or a silent
//! "last key wins" is a coded error with a location.

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
