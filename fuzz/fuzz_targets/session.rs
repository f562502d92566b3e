//! Session tokens and keys: the first byte picks a token (verified by an
//! engine with a fixed key), a PASERK/PEM verifying key, or a signing key.
//! Every input is claims or a coded error, never a crash or a forged allow.
#![no_main]

use agentauthz::session::{KeySource, SessionKeys};
use agentauthz::{ffi, Bundle, Engine, ErrorCode, FixedClock, SessionRequest};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies-examples/coding-agent"
        );
        let bundle = Bundle::read_dir(dir).unwrap_or_else(|e| panic!("example bundle: {e}"));
        let keys = SessionKeys::generate("k1").unwrap_or_else(|e| panic!("keys: {e}"));
        Engine::builder()
            .bundle(bundle)
            .config("[sessions]\naudience = \"fuzz\"\n")
            .session_keys(keys)
            .clock(Arc::new(FixedClock(1_795_000_000_000)))
            .build()
            .unwrap_or_else(|e| panic!("example: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 3 {
        0 => {
            let engine = engine();
            // No token the fuzzer writes can carry the engine's signature.
            if let Ok(claims) = engine.verify_session(text, None) {
                panic!("forged session accepted: {claims:?}");
            }
            let request = SessionRequest {
                session: text.to_string(),
                action: "github:read".into(),
                resource: agentauthz::EntityRef::new("Repo", "acme/api"),
                on_behalf_of: None,
                credential: None,
                context: serde_json::Map::new(),
                now: None,
                audience: None,
            };
            if let Ok(d) = engine.check_session(&request) {
                assert!(!d.allowed(), "forged session allowed");
            }
        }
        1 => {
            let mut keys = SessionKeys::new();
            if keys
                .add_verifying_key("k", &KeySource::Text(text.into()))
                .is_ok()
            {
                let _ = keys.public_key_paserk("k");
            }
        }
        _ => {
            let mut keys = SessionKeys::new();
            match keys.set_signing_key("k", &KeySource::Text(text.into())) {
                Ok(()) => {
                    let _ = keys.secret_key_paserk();
                }
                Err(e) => assert_eq!(e.code(), ErrorCode::KeyInvalid, "{e}"),
            }
            let _ = ffi::session_keys_from_value(serde_json::json!({"verifying": {"k": text}}));
        }
    }
});
