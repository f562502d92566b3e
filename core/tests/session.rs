//! Agent session tokens: round trip, time boundaries with a fixed clock,
//! tampering, key ids and rotation, key parsing, TTL cap, malformed input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use agentauthz::session::{self, DEFAULT_MAX_TTL_MS, TOKEN_HEADER};
use agentauthz::{ErrorCode, FixedClock, KeySource, SessionClaims, SessionConfig, SessionKeys};
use proptest::prelude::*;

const AUD: &str = "mcp://tools.example";
const MIN: i64 = 60_000;

fn t0() -> i64 {
    FixedClock::at("2026-11-29T10:00:00Z").map(|c| c.0).unwrap()
}

fn config() -> SessionConfig {
    SessionConfig {
        issuer: Some("agentauthz-test".into()),
        ..SessionConfig::default()
    }
}

fn keys(kid: &str) -> SessionKeys {
    SessionKeys::generate(kid).unwrap()
}

fn claims(ttl_ms: i64) -> SessionClaims {
    config()
        .claims("coder-1", Some("task-42"), Some(ttl_ms), Some(AUD), t0())
        .unwrap()
}

fn code(r: Result<SessionClaims, agentauthz::Error>) -> ErrorCode {
    r.unwrap_err().code
}

/// The three base64url parts of a token: body (payload || signature), footer.
fn parts(token: &str) -> (Vec<u8>, Vec<u8>) {
    let rest = token.strip_prefix(TOKEN_HEADER).unwrap();
    let (body, footer) = rest.split_once('.').unwrap();
    (b64d(body), b64d(footer))
}

fn assemble(header: &str, body: &[u8], footer: &[u8]) -> String {
    format!("{header}{}.{}", b64e(body), b64e(footer))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64e(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn b64d(text: &str) -> Vec<u8> {
    let vals: Vec<u32> = text
        .bytes()
        .map(|c| B64.iter().position(|b| *b == c).unwrap() as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn round_trip() {
    let k = keys("k1");
    let c = claims(5 * MIN);
    let token = session::issue(&k, &c).unwrap();
    assert!(token.starts_with("v4.public."));
    assert_eq!(session::verify(&k, &token, t0(), AUD).unwrap(), c);
    assert_eq!(c.agent, "coder-1");
    assert_eq!(c.task.as_deref(), Some("task-42"));
    assert_eq!(c.issuer.as_deref(), Some("agentauthz-test"));
    assert_eq!(c.issued_at, t0());
    assert_eq!(c.not_before, t0());
    assert_eq!(c.expires_at, t0() + 5 * MIN);
    assert_eq!(c.session_id.len(), 26);

    // Without task or issuer.
    let c2 = SessionConfig::default()
        .claims("a", None, None, Some(AUD), t0())
        .unwrap();
    assert_eq!(c2.task, None);
    assert_eq!(c2.issuer, None);
    let t2 = session::issue(&k, &c2).unwrap();
    assert_eq!(session::verify(&k, &t2, t0(), AUD).unwrap(), c2);

    // A verifier holding only the public key accepts it, and cannot sign.
    let public = k.verifying_only();
    assert_eq!(session::verify(&public, &token, t0(), AUD).unwrap(), c);
    assert_eq!(
        session::issue(&public, &c).unwrap_err().code,
        ErrorCode::KeyInvalid
    );
}

#[test]
fn payload_and_footer_are_the_documented_json() {
    let k = keys("key-2026");
    let c = claims(MIN);
    let (body, footer) = parts(&session::issue(&k, &c).unwrap());
    assert_eq!(footer, br#"{"kid":"key-2026"}"#);
    let payload: serde_json::Value = serde_json::from_slice(&body[..body.len() - 64]).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({
            "iss": "agentauthz-test", "sub": "coder-1", "aud": AUD, "jti": c.session_id,
            "iat": "2026-11-29T10:00:00.000Z", "nbf": "2026-11-29T10:00:00.000Z",
            "exp": "2026-11-29T10:01:00.000Z", "task": "task-42"
        })
    );
}

#[test]
fn session_ids_are_unique() {
    let ids: std::collections::HashSet<String> =
        (0..1000).map(|_| claims(MIN).session_id).collect();
    assert_eq!(ids.len(), 1000);
}

#[test]
fn expiry_boundaries() {
    let k = keys("k1");
    let c = claims(10 * MIN);
    let token = session::issue(&k, &c).unwrap();
    let exp = c.expires_at;
    assert!(session::verify(&k, &token, exp - 1000, AUD).is_ok());
    assert!(session::verify(&k, &token, exp - 1, AUD).is_ok());
    assert_eq!(
        code(session::verify(&k, &token, exp, AUD)),
        ErrorCode::SessionExpired
    );
    assert_eq!(
        code(session::verify(&k, &token, exp + 1000, AUD)),
        ErrorCode::SessionExpired
    );
}

#[test]
fn not_before_boundaries() {
    let k = keys("k1");
    let mut c = claims(10 * MIN);
    c.not_before = t0() + MIN;
    let token = session::issue(&k, &c).unwrap();
    let nbf = c.not_before;
    assert_eq!(
        code(session::verify(&k, &token, nbf - 1000, AUD)),
        ErrorCode::SessionExpired
    );
    assert_eq!(
        code(session::verify(&k, &token, nbf - 1, AUD)),
        ErrorCode::SessionExpired
    );
    assert!(session::verify(&k, &token, nbf, AUD).is_ok());
    assert!(session::verify(&k, &token, nbf + 1000, AUD).is_ok());
}

#[test]
fn wrong_audience() {
    let k = keys("k1");
    let token = session::issue(&k, &claims(MIN)).unwrap();
    let err = session::verify(&k, &token, t0(), "mcp://other").unwrap_err();
    assert_eq!(err.code, ErrorCode::SessionInvalid);
    assert!(err.message().contains("audience"), "{err}");
    assert_eq!(
        code(session::verify(&k, &token, t0(), "")),
        ErrorCode::SessionInvalid
    );
    // A prefix is not a match.
    assert_eq!(
        code(session::verify(&k, &token, t0(), "mcp://tools")),
        ErrorCode::SessionInvalid
    );
}

#[test]
fn tampered_signature_payload_and_footer_fail() {
    let k = keys("k1");
    let token = session::issue(&k, &claims(MIN)).unwrap();
    let (body, footer) = parts(&token);
    assert_eq!(assemble(TOKEN_HEADER, &body, &footer), token);
    // Every byte of payload and signature matters.
    for i in 0..body.len() {
        let mut b = body.clone();
        b[i] ^= 0x01;
        let err = session::verify(&k, &assemble(TOKEN_HEADER, &b, &footer), t0(), AUD).unwrap_err();
        assert_eq!(err.code, ErrorCode::SessionInvalid, "byte {i}");
    }
    // Payload edited to a longer session: the signature no longer matches.
    let sig_at = body.len() - 64;
    let payload = String::from_utf8(body[..sig_at].to_vec()).unwrap();
    let forged = payload.replace("10:01:00.000Z", "23:59:00.000Z");
    assert_ne!(forged, payload);
    let mut b = forged.into_bytes();
    b.extend_from_slice(&body[sig_at..]);
    let err = session::verify(&k, &assemble(TOKEN_HEADER, &b, &footer), t0(), AUD).unwrap_err();
    assert_eq!(err.code, ErrorCode::SessionInvalid);
    assert!(err.message().contains("signature"), "{err}");
    // Truncated signature.
    let err = session::verify(
        &k,
        &assemble(TOKEN_HEADER, &body[..body.len() - 1], &footer),
        t0(),
        AUD,
    );
    assert_eq!(code(err), ErrorCode::SessionInvalid);
}

#[test]
fn changed_header_fails() {
    let k = keys("k1");
    let token = session::issue(&k, &claims(MIN)).unwrap();
    let rest = token.strip_prefix(TOKEN_HEADER).unwrap();
    for header in [
        "v4.local.",
        "v3.public.",
        "v2.public.",
        "V4.public.",
        "v4.public",
        "",
    ] {
        let err = session::verify(&k, &format!("{header}{rest}"), t0(), AUD).unwrap_err();
        assert_eq!(err.code, ErrorCode::SessionInvalid, "{header}");
    }
    // A JWT-style header with alg none is not a PASETO token at all.
    let err = session::verify(&k, &format!("eyJhbGciOiJub25lIn0.{rest}."), t0(), AUD).unwrap_err();
    assert_eq!(err.code, ErrorCode::SessionInvalid);
    assert!(err.message().contains("v4.public"), "{err}");
}

#[test]
fn footer_is_authenticated_swapping_kid_fails() {
    // Two known keys; a token signed under k1 relabelled as k2 must fail,
    // both with k2's key (wrong key) and because the footer is signed.
    let mut k = keys("k1");
    let other = keys("k2");
    k.add_verifying_key(
        "k2",
        &KeySource::Text(other.public_key_paserk("k2").unwrap()),
    )
    .unwrap();
    let token = session::issue(&k, &claims(MIN)).unwrap();
    let (body, _) = parts(&token);
    let swapped = assemble(TOKEN_HEADER, &body, br#"{"kid":"k2"}"#);
    assert_eq!(
        code(session::verify(&k, &swapped, t0(), AUD)),
        ErrorCode::SessionInvalid
    );
    // Same kid, different bytes of footer (extra whitespace): signature fails.
    let spaced = assemble(TOKEN_HEADER, &body, br#"{"kid": "k1"}"#);
    let err = session::verify(&k, &spaced, t0(), AUD).unwrap_err();
    assert_eq!(err.code, ErrorCode::SessionInvalid);
    assert!(err.message().contains("signature"), "{err}");
    // No footer; extra footer fields; non-JSON footer.
    let rest = token.strip_prefix(TOKEN_HEADER).unwrap();
    let no_footer = format!("{TOKEN_HEADER}{}", rest.split('.').next().unwrap());
    for bad in [
        no_footer,
        assemble(TOKEN_HEADER, &body, br#"{"kid":"k1","x":1}"#),
        assemble(TOKEN_HEADER, &body, b"k1"),
    ] {
        assert_eq!(
            code(session::verify(&k, &bad, t0(), AUD)),
            ErrorCode::SessionInvalid
        );
    }
}

#[test]
fn unknown_kid_is_invalid() {
    let signer = keys("k1");
    let token = session::issue(&signer, &claims(MIN)).unwrap();
    let verifier = keys("k9");
    let err = session::verify(&verifier, &token, t0(), AUD).unwrap_err();
    assert_eq!(err.code, ErrorCode::SessionInvalid);
    assert!(err.message().contains("unknown key id \"k1\""), "{err}");
    assert_eq!(
        code(session::verify(&SessionKeys::new(), &token, t0(), AUD)),
        ErrorCode::SessionInvalid
    );
}

#[test]
fn rotation_by_kid() {
    let old = keys("2026-10");
    let new = keys("2026-11");
    let old_token = session::issue(&old, &claims(MIN)).unwrap();

    // The issuer rotates: new signing key, old public key still accepted.
    let mut k = new.clone();
    k.add_verifying_key(
        "2026-10",
        &KeySource::Text(old.public_key_paserk("2026-10").unwrap()),
    )
    .unwrap();
    assert_eq!(k.signing_kid(), Some("2026-11"));
    assert_eq!(k.verifying_kids(), vec!["2026-10", "2026-11"]);
    let new_token = session::issue(&k, &claims(MIN)).unwrap();
    assert!(parts(&new_token).1.ends_with(br#""2026-11"}"#));
    assert!(session::verify(&k, &old_token, t0(), AUD).is_ok());
    assert!(session::verify(&k, &new_token, t0(), AUD).is_ok());
    // The old verifier does not know the new key.
    assert_eq!(
        code(session::verify(&old, &new_token, t0(), AUD)),
        ErrorCode::SessionInvalid
    );

    // Old key removed: its tokens stop verifying, new ones still do.
    assert!(k.remove_key("2026-10"));
    assert!(!k.remove_key("2026-10"));
    assert_eq!(
        code(session::verify(&k, &old_token, t0(), AUD)),
        ErrorCode::SessionInvalid
    );
    assert!(session::verify(&k, &new_token, t0(), AUD).is_ok());

    // Removing the signing kid removes signing too.
    assert!(k.remove_key("2026-11"));
    assert_eq!(k.signing_kid(), None);
    assert_eq!(
        session::issue(&k, &claims(MIN)).unwrap_err().code,
        ErrorCode::KeyInvalid
    );
}

#[test]
fn ttl_is_clamped_to_the_cap() {
    let cfg = SessionConfig::default();
    assert_eq!(cfg.max_ttl_ms, 15 * MIN);
    assert_eq!(DEFAULT_MAX_TTL_MS, 15 * MIN);
    let c = cfg
        .claims("a", None, Some(60 * MIN), Some(AUD), t0())
        .unwrap();
    assert_eq!(c.expires_at, t0() + 15 * MIN);
    let c = cfg
        .claims("a", None, Some(15 * MIN), Some(AUD), t0())
        .unwrap();
    assert_eq!(c.expires_at, t0() + 15 * MIN);
    let c = cfg.claims("a", None, Some(MIN), Some(AUD), t0()).unwrap();
    assert_eq!(c.expires_at, t0() + MIN);
    let c = cfg.claims("a", None, None, Some(AUD), t0()).unwrap();
    assert_eq!(c.expires_at, t0() + 15 * MIN);
    let short = SessionConfig {
        max_ttl_ms: 30_000,
        ..SessionConfig::default()
    };
    let c = short.claims("a", None, Some(MIN), Some(AUD), t0()).unwrap();
    assert_eq!(c.expires_at, t0() + 30_000);
    // The clamped token is rejected at the cap.
    let k = keys("k1");
    let token = session::issue(&k, &c).unwrap();
    assert!(session::verify(&k, &token, t0() + 29_999, AUD).is_ok());
    assert_eq!(
        code(session::verify(&k, &token, t0() + 30_000, AUD)),
        ErrorCode::SessionExpired
    );

    for ttl in [0, -1] {
        let err = cfg
            .claims("a", None, Some(ttl), Some(AUD), t0())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::SessionInvalid);
    }
    let bad = SessionConfig {
        max_ttl_ms: 0,
        ..SessionConfig::default()
    };
    assert_eq!(
        bad.claims("a", None, None, Some(AUD), t0())
            .unwrap_err()
            .code,
        ErrorCode::SessionInvalid
    );
}

#[test]
fn audience_defaults_and_required_fields() {
    let cfg = SessionConfig {
        default_audience: Some("aud-default".into()),
        ..SessionConfig::default()
    };
    assert_eq!(
        cfg.claims("a", None, None, None, t0()).unwrap().audience,
        "aud-default"
    );
    assert_eq!(
        cfg.claims("a", None, None, Some("x"), t0())
            .unwrap()
            .audience,
        "x"
    );
    let none = SessionConfig::default();
    assert_eq!(
        none.claims("a", None, None, None, t0()).unwrap_err().code,
        ErrorCode::SessionInvalid
    );
    assert_eq!(
        none.claims("", None, None, Some(AUD), t0())
            .unwrap_err()
            .code,
        ErrorCode::SessionInvalid
    );

    // issue refuses ill-formed claims.
    let k = keys("k1");
    let mut c = claims(MIN);
    c.expires_at = c.not_before;
    assert_eq!(
        session::issue(&k, &c).unwrap_err().code,
        ErrorCode::SessionInvalid
    );
    let mut c = claims(MIN);
    c.session_id.clear();
    assert_eq!(
        session::issue(&k, &c).unwrap_err().code,
        ErrorCode::SessionInvalid
    );
    let mut c = claims(MIN);
    c.expires_at = i64::MAX;
    assert_eq!(
        session::issue(&k, &c).unwrap_err().code,
        ErrorCode::SessionInvalid
    );
}

#[test]
fn signed_but_ill_typed_claims_are_invalid() {
    // Claims signed by a valid key but missing or mistyped: build them by
    // re-signing with the raw PASETO primitive.
    use pasetors::keys::AsymmetricSecretKey;
    use pasetors::version4::{PublicToken, V4};
    let k = keys("k1");
    let secret =
        AsymmetricSecretKey::<V4>::try_from(k.secret_key_paserk().unwrap().as_str()).unwrap();
    let sign = |payload: &str| {
        PublicToken::sign(&secret, payload.as_bytes(), Some(br#"{"kid":"k1"}"#), None).unwrap()
    };
    let good = r#"{"sub":"a","aud":"mcp://tools.example","jti":"J","iat":"2026-11-29T10:00:00Z","nbf":"2026-11-29T10:00:00Z","exp":"2026-11-29T10:05:00Z"}"#;
    assert_eq!(
        session::verify(&k, &sign(good), t0(), AUD)
            .unwrap()
            .expires_at,
        t0() + 5 * MIN
    );
    for bad in [
        good.replace(r#""sub":"a","#, ""),
        good.replace(r#""exp":"2026-11-29T10:05:00Z""#, r#""exp":1796032800"#),
        good.replace("2026-11-29T10:05:00Z", "tomorrow"),
        good.replace(
            r#""aud":"mcp://tools.example""#,
            r#""aud":["mcp://tools.example"]"#,
        ),
        good.replace(
            r#""nbf":"2026-11-29T10:00:00Z""#,
            r#""nbf":"2026-11-29T10:05:00Z""#,
        ),
        r#"[1,2,3]"#.to_string(),
        "not json".to_string(),
    ] {
        let err = session::verify(&k, &sign(&bad), t0(), AUD).unwrap_err();
        assert_eq!(err.code, ErrorCode::SessionInvalid, "{bad}: {err}");
    }
    // Offsets other than Z are fine.
    let plus = good.replace("2026-11-29T10:05:00Z", "2026-11-29T11:05:00+01:00");
    assert_eq!(
        session::verify(&k, &sign(&plus), t0(), AUD)
            .unwrap()
            .expires_at,
        t0() + 5 * MIN
    );
}

#[test]
fn malformed_tokens_are_invalid_not_panics() {
    let k = keys("k1");
    let token = session::issue(&k, &claims(MIN)).unwrap();
    let mut cases: Vec<String> = vec![
        String::new(),
        "garbage".into(),
        "v4.public.".into(),
        "v4.public..".into(),
        "v4.public.!!!!.e30".into(),
        "v4.public.AAAA".into(),
        "v4.public.AAAA.AAAA.AAAA".into(),
        format!("{token}.extra"),
        "x".repeat(10_000),
        format!("{TOKEN_HEADER}{}", "A".repeat(9000)),
    ];
    for cut in [1, 10, 40, token.len() / 2, token.len() - 1] {
        cases.push(token[..cut].to_string());
    }
    for t in cases {
        let err = session::verify(&k, &t, t0(), AUD).unwrap_err();
        assert_eq!(err.code, ErrorCode::SessionInvalid, "{t:.40}");
        // The message never echoes the token.
        if t.len() > 12 {
            assert!(!err.to_string().contains(&t), "{err}");
        }
    }
}

#[test]
fn errors_never_contain_the_token_or_key_material() {
    let k = keys("k1");
    let secret = k.secret_key_paserk().unwrap();
    let public = k.public_key_paserk("k1").unwrap();
    let token = session::issue(&k, &claims(MIN)).unwrap();
    let body = token
        .strip_prefix(TOKEN_HEADER)
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    let errors = [
        session::verify(&k, &token, t0() + 20 * MIN, AUD).unwrap_err(),
        session::verify(&k, &token, t0(), "other").unwrap_err(),
        session::verify(&keys("k2"), &token, t0(), AUD).unwrap_err(),
    ];
    for e in errors {
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains(body) && !text.contains(&secret[10..]),
            "{text}"
        );
    }
    let dbg = format!("{k:?} {:?}", KeySource::Text(secret.clone()));
    assert!(
        !dbg.contains(&secret[10..]) && !dbg.contains(&public[10..]),
        "{dbg}"
    );
    assert!(dbg.contains("k1"));
}

#[test]
fn keys_from_text_file_and_env() {
    let gen = keys("k1");
    let secret = gen.secret_key_paserk().unwrap();
    let public = gen.public_key_paserk("k1").unwrap();
    assert!(secret.starts_with("k4.secret.") && public.starts_with("k4.public."));

    let from_text = SessionKeys::new()
        .with_signing_key("k1", &KeySource::Text(format!("  {secret}\n")))
        .unwrap();
    assert_eq!(
        from_text.public_key_paserk("k1").as_deref(),
        Some(public.as_str())
    );

    let dir = std::env::temp_dir().join(format!("agentauthz-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("signing.paserk");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    let from_file = SessionKeys::new()
        .with_signing_key("k1", &KeySource::File(path.clone()))
        .unwrap();

    let var = "AGENTAUTHZ_TEST_SESSION_KEY_9c1f";
    std::env::set_var(var, &secret);
    let from_env = SessionKeys::new()
        .with_signing_key("k1", &KeySource::Env(var.into()))
        .unwrap();
    std::env::remove_var(var);

    let verifier = SessionKeys::new()
        .with_verifying_key("k1", &KeySource::Text(public.clone()))
        .unwrap();
    for signer in [&from_text, &from_file, &from_env] {
        let token = session::issue(signer, &claims(MIN)).unwrap();
        assert!(session::verify(&verifier, &token, t0(), AUD).is_ok());
        assert!(session::verify(&gen, &token, t0(), AUD).is_ok());
    }

    // Missing file / variable: key_invalid naming the source.
    let missing = dir.join("nope.pem");
    let err = SessionKeys::new()
        .with_signing_key("k1", &KeySource::File(missing))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::KeyInvalid);
    assert!(err.message().contains("nope.pem"), "{err}");
    let err = SessionKeys::new()
        .with_signing_key("k1", &KeySource::Env(var.into()))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::KeyInvalid);
    assert!(err.message().contains(var), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`; the RFC 8410 §10.3 example key.
const PEM_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
const PEM_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";

#[test]
fn pem_keys() {
    let signer = SessionKeys::new()
        .with_signing_key("pem", &KeySource::Text(PEM_PRIVATE.into()))
        .unwrap();
    let verifier = SessionKeys::new()
        .with_verifying_key("pem", &KeySource::Text(PEM_PUBLIC.into()))
        .unwrap();
    // The public key derived from the private PEM is the one in the public PEM.
    assert_eq!(
        signer.public_key_paserk("pem"),
        verifier.public_key_paserk("pem")
    );
    let token = session::issue(&signer, &claims(MIN)).unwrap();
    assert!(session::verify(&verifier, &token, t0(), AUD).is_ok());
    // PASERK and PEM of the same key are interchangeable.
    let paserk = SessionKeys::new()
        .with_verifying_key(
            "pem",
            &KeySource::Text(verifier.public_key_paserk("pem").unwrap()),
        )
        .unwrap();
    assert!(session::verify(&paserk, &token, t0(), AUD).is_ok());
}

#[test]
fn bad_keys_are_key_invalid_without_secrets() {
    let gen = keys("k1");
    let secret = gen.secret_key_paserk().unwrap();
    let public = gen.public_key_paserk("k1").unwrap();
    let b64 = &secret["k4.secret.".len()..];
    let mut flipped = secret.clone().into_bytes();
    let last = flipped.len() - 3;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let zero_seed = format!("k4.secret.{}", "A".repeat(86));
    let short = format!("k4.secret.{}", b64e(&[7u8; 48]));
    let signing_cases = [
        ("", "no known key format"),
        ("hunter2-supersecret", "no known key format"),
        (public.as_str(), "k4.public"),
        (&flipped, "does not match"),
        (&short, "64 bytes"),
        ("k4.secret.@@@@", "base64url"),
        (&zero_seed, "seed"),
        (PEM_PUBLIC, "PUBLIC KEY"),
        (
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----",
            "PKCS#8",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----",
            "base64",
        ),
        ("k3.secret.AAAA", "k3.secret"),
        ("k4.local.AAAA", "k4.local"),
    ];
    for (text, expect) in signing_cases {
        let err = SessionKeys::new()
            .with_signing_key("k1", &KeySource::Text(text.into()))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::KeyInvalid, "{text:.20}");
        assert!(err.message().contains(expect), "{text:.20}: {err}");
        let shown = err.to_string();
        assert!(
            !shown.contains(&b64[..20]) && !shown.contains("hunter2"),
            "{shown}"
        );
        if text.len() > 20 {
            assert!(!shown.contains(&text[text.len() - 12..]), "{shown}");
        }
    }
    let verifying_cases = [
        (secret.as_str(), "k4.secret"),
        ("k4.public.AAAA", "32 bytes"),
        (PEM_PRIVATE, "PRIVATE KEY"),
        // A point of small order (the identity).
        (
            "k4.public.AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "not a valid Ed25519",
        ),
    ];
    for (text, expect) in verifying_cases {
        let err = SessionKeys::new()
            .with_verifying_key("k1", &KeySource::Text(text.into()))
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::KeyInvalid, "{text:.20}");
        assert!(err.message().contains(expect), "{text:.20}: {err}");
        assert!(!err.to_string().contains(&b64[..20]), "{err}");
    }
    // Key ids are checked.
    for kid in ["", "has space", "quote\"", &"k".repeat(129)] {
        let err = SessionKeys::generate(kid).unwrap_err();
        assert_eq!(err.code, ErrorCode::KeyInvalid, "{kid:.20}");
    }
    // A kid cannot silently point at two different public keys.
    let mut k = keys("k1");
    let other = keys("k2").public_key_paserk("k2").unwrap();
    let err = k
        .add_verifying_key("k1", &KeySource::Text(other))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::KeyInvalid);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn verify_never_panics_on_arbitrary_strings(s in ".{0,300}") {
        let k = SessionKeys::generate("k1").unwrap();
        prop_assert!(session::verify(&k, &s, 0, AUD).is_err());
    }

    #[test]
    fn verify_never_panics_on_header_plus_base64(body in "[A-Za-z0-9_-]{0,200}", footer in proptest::option::of("[A-Za-z0-9_-]{0,60}")) {
        let k = SessionKeys::generate("k1").unwrap();
        let t = match footer {
            Some(f) => format!("{TOKEN_HEADER}{body}.{f}"),
            None => format!("{TOKEN_HEADER}{body}"),
        };
        let err = session::verify(&k, &t, 0, AUD).unwrap_err();
        prop_assert_eq!(err.code, ErrorCode::SessionInvalid);
    }

    #[test]
    fn verify_never_accepts_a_mutated_token(pos in 0usize..400, byte in any::<u8>()) {
        let k = SessionKeys::generate("k1").unwrap();
        let token = session::issue(&k, &claims(MIN)).unwrap();
        let mut bytes = token.clone().into_bytes();
        let i = pos % bytes.len();
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let t = String::from_utf8_lossy(&bytes).into_owned();
        // base64url has unused low bits in the last character: a change there
        // can decode to the same bytes, so only a token that differs after
        // decoding must fail.
        if let Ok(c) = session::verify(&k, &t, t0(), AUD) {
            let (b1, f1) = parts(&token);
            let (b2, f2) = parts(&t);
            prop_assert_eq!((b1, f1), (b2, f2));
            prop_assert_eq!(c.agent, "coder-1");
        }
    }
}
