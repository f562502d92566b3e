//! Cost of one session-token verification (and of issuing one).
//!
//! `cargo bench -p agentauthz --bench session` (release profile). `verify`
//! covers everything `session::verify` does per call: header and base64
//! decoding, footer JSON and kid lookup, the Ed25519 signature check, claims
//! JSON, RFC 3339 parsing and the audience/window checks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

use agentauthz::session::{self, SessionConfig, SessionKeys};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

const AUD: &str = "mcp://tools.example";
const NOW: i64 = 1_796_032_800_000; // 2026-11-29T10:00:00Z

fn bench(c: &mut Criterion) {
    let keys = SessionKeys::generate("k1").unwrap();
    let claims = SessionConfig::default()
        .claims("coder-1", Some("task-42"), None, Some(AUD), NOW)
        .unwrap();
    let token = session::issue(&keys, &claims).unwrap();
    c.bench_function("session/verify", |b| {
        b.iter(|| session::verify(&keys, black_box(&token), black_box(NOW), AUD).unwrap())
    });
    c.bench_function("session/verify-bad-signature", |b| {
        let mut bad = token.clone().into_bytes();
        let i = "v4.public.".len() + 10;
        bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        b.iter(|| session::verify(&keys, black_box(&bad), NOW, AUD).unwrap_err())
    });
    c.bench_function("session/issue", |b| {
        b.iter(|| {
            let claims = SessionConfig::default()
                .claims("coder-1", Some("task-42"), None, Some(AUD), NOW)
                .unwrap();
            session::issue(&keys, black_box(&claims)).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
