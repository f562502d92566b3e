//! Cost of a check made with an identity-provider token (verified once, then
//! cached by hash) against the same check by agent id, and of a first
//! (uncached) RS256 verification.
//!
//! `cargo bench -p agentauthz --bench token` (release profile).

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

use agentauthz::{AgentRequest, Engine, EntityRef, FixedClock, Request, TokenRequest};
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Map};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const ISS: &str = "https://idp.test";
const AUD: &str = "https://tools.test/mcp";
const T0: i64 = 1_795_946_400;

const SCHEMA: &str = r#"
entity Tool;
type TokenInfo = { issuer: String, scopes: Set<String>, actors: Set<String> };
action "tools:call" appliesTo {
  principal: [Agent], resource: [Tool], context: { token?: TokenInfo }
};
"#;
const POLICIES: &str = r#"
@id("call") permit (principal, action == Action::"tools:call", resource);
"#;
const INVENTORY: &str = "users:\n  - {id: alice}\nagents:\n  - {id: ci-bot, owner: alice}\n";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/identity/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn sign(jti: u64) -> String {
    let claims = json!({"iss": ISS, "aud": AUD, "client_id": "ci-bot", "exp": T0 + 3600,
        "jti": jti.to_string(), "scope": "tools.call"});
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    // RustCrypto's RSA signer takes PKCS#1 DER.
    let der = std::fs::read(format!(
        "{}/tests/identity/rsa1.pkcs1.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let key = EncodingKey::from_rsa_der(&der);
    encode(&header, &claims, &key).unwrap()
}

fn bench(c: &mut Criterion) {
    let jwks = fixture("jwks.json").replace('\n', "");
    let engine = Engine::builder()
        .schema(SCHEMA)
        .policies(POLICIES)
        .inventory(INVENTORY)
        .config(format!(
            "[identity]\naudience = \"{AUD}\"\n[identity.issuers.corp]\nissuer = \"{ISS}\"\njwks = '{jwks}'\n"
        ))
        .clock(Arc::new(FixedClock(T0 * 1000)))
        .build()
        .unwrap();
    let by_id = Request::Agent(AgentRequest {
        agent: "ci-bot".into(),
        action: "tools:call".into(),
        resource: EntityRef::new("Tool", "search"),
        task: None,
        on_behalf_of: None,
        credential: None,
        context: Map::new(),
        now: None,
    });
    let token = sign(0);
    let by_token = TokenRequest {
        token: token.clone(),
        action: "tools:call".into(),
        resource: EntityRef::new("Tool", "search"),
        task: None,
        credential: None,
        context: Map::new(),
        now: None,
    };
    assert!(engine.check(&by_id).unwrap().allowed());
    assert!(engine.check_token(&by_token).unwrap().allowed());
    let mut g = c.benchmark_group("token");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("check-by-agent-id", |b| {
        b.iter(|| engine.check(black_box(&by_id)).unwrap())
    });
    g.bench_function("check-with-cached-token", |b| {
        b.iter(|| engine.check_token(black_box(&by_token)).unwrap())
    });
    g.finish();
    // First verifications (not cached yet): the RS256 signature and claims in full.
    let fresh: Vec<String> = (1..=500).map(sign).collect();
    let start = std::time::Instant::now();
    for t in &fresh {
        engine.verify_token(black_box(t)).unwrap();
    }
    let per = start.elapsed().as_secs_f64() * 1e6 / fresh.len() as f64;
    println!(
        "token/verify-uncached-rs256: {per:.1} µs per token (mean of {})",
        fresh.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
