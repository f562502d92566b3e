//! Short-lived, signed agent sessions: PASETO v4.public tokens (Ed25519).
//!
//! A session token names an agent (and optionally a task) for an audience and
//! a time window. [`issue`] signs [`SessionClaims`] with the active signing key
//! of a [`SessionKeys`]; [`verify`] checks the header, the key id, the
//! signature, the required claims, the audience and the window against an
//! injected `now`, and returns the claims. Revocation (suspended or offboarded
//! agents, revoked tasks or session ids) is the engine's job: it checks the
//! returned [`SessionClaims`].
//!
//! # Token format
//!
//! `v4.public.<base64url(payload || signature)>.<base64url(footer)>`
//! ([PASETO v4.public](https://github.com/paseto-standard/paseto-spec/blob/master/docs/01-Protocol-Versions/Version4.md)).
//! The version and purpose are fixed by the header, so there is no algorithm
//! to choose and no `alg: none`. The footer is `{"kid":"<key id>"}` and is
//! covered by the signature. The payload is JSON with the registered claims
//! `sub` (agent id), `aud`, `jti` (session id), `iat`, `nbf`, `exp` (RFC 3339,
//! UTC, millisecond precision), optionally `iss`, and the custom claim `task`.
//!
//! # Keys
//!
//! Keys are text in one of two encodings:
//! - [PASERK](https://github.com/paseto-standard/paserk): `k4.secret.…`
//!   (64 bytes: seed then public key) and `k4.public.…` (32 bytes);
//! - PEM: `-----BEGIN PRIVATE KEY-----` (PKCS#8 Ed25519, as written by
//!   `openssl genpkey -algorithm ed25519`) and `-----BEGIN PUBLIC KEY-----`
//!   (SubjectPublicKeyInfo, `openssl pkey -pubout`).
//!
//! Text comes from a string, a file or an environment variable ([`KeySource`]).
//! Verification needs only public keys passed as strings, so it works in WASM.
//! Errors name the source (path, variable, key id) and what is wrong, never
//! key material or a token.

pub(crate) mod keys;
mod token;

pub use keys::{KeySource, SessionKeys, MAX_KID_LEN};
pub(crate) use token::{check_window, verify_signature};
pub use token::{
    issue, verify, verify_within, SessionClaims, SessionConfig, DEFAULT_MAX_TTL_MS,
    MAX_CLOCK_SKEW_MS, MAX_TOKEN_LEN, TOKEN_HEADER,
};
