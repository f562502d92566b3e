//! Policy test files (YAML, JSON and Cedar run-tests arrays) run against the
//! coding-agent example: a report or a coded error, never a crash.
#![no_main]

use agentauthz::{testing, Bundle, Engine, Source};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn example() -> &'static (Bundle, Engine) {
    static EXAMPLE: OnceLock<(Bundle, Engine)> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies-examples/coding-agent"
        );
        let bundle = Bundle::read_dir(dir).unwrap_or_else(|e| panic!("example bundle: {e}"));
        let engine = Engine::from_bundle(bundle.clone()).unwrap_or_else(|e| panic!("example: {e}"));
        (bundle, engine)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let name = if which % 2 == 0 { "t.yaml" } else { "t.json" };
    let (bundle, engine) = example();
    let _ = testing::run_file(engine, bundle, &Source::new(name, text));
});
