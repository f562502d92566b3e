//! Bundle loading from strings: the first byte picks which file of the
//! coding-agent example the rest replaces (policies, Cedar schema, JSON
//! schema, inventory YAML, inventory JSON or Cedar entities, agentauthz.toml).
//! Every input is an engine or a coded error, never a crash; a failed reload
//! leaves the example answering.
#![no_main]

use agentauthz::{Bundle, Engine, Source};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn example() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies-examples/coding-agent"
        );
        Bundle::read_dir(dir).unwrap_or_else(|e| panic!("example bundle: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut bundle = example().clone();
    match which % 7 {
        0 => bundle.policies = vec![Source::new("policies.cedar", text)],
        1 => bundle.policies.push(Source::new("extra.cedar", text)),
        2 => bundle.schema = Some(Source::new("schema.cedarschema", text)),
        3 => bundle.schema = Some(Source::new("schema.cedarschema.json", text)),
        4 => bundle.inventory = Some(Source::new("inventory.yaml", text)),
        5 => bundle.inventory = Some(Source::new("inventory.json", text)),
        _ => bundle.config = Some(Source::new("agentauthz.toml", text)),
    }
    if let Ok(engine) = Engine::from_bundle(bundle) {
        let _ = engine.policies();
    }
});
