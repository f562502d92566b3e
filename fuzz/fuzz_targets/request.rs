//! Request JSON (agent and Cedar form, as text and as a value, single and
//! batch) against the coding-agent example bundle: every input is a decision
//! or a coded error, never a crash.
#![no_main]

use agentauthz::{ffi, Bundle, Engine, FixedClock, Request};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies-examples/coding-agent"
        );
        let bundle = Bundle::read_dir(dir).unwrap_or_default();
        Engine::builder()
            .bundle(bundle)
            .clock(Arc::new(FixedClock(1_795_000_000_000)))
            .build()
            .unwrap_or_else(|e| panic!("example bundle: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let engine = engine();
    if let Ok(request) = Request::from_json_str(text) {
        let _ = engine.check(&request);
    }
    let _ = ffi::check_json(engine, text);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = ffi::check_value(engine, value.clone());
        let _ = ffi::check_batch_value(engine, serde_json::Value::Array(vec![value]));
    }
});
