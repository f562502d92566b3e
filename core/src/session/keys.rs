//! Session keys: Ed25519 key pairs under key ids, read from PASERK or PEM
//! text in a string, a file or an environment variable.

use crate::error::{Error, ErrorCode, Result};
use ct_codecs::{Base64, Base64UrlSafeNoPadding, Decoder, Encoder};
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
use pasetors::version4::V4;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Key ids longer than this are rejected.
pub const MAX_KID_LEN: usize = 128;

const PASERK_SECRET: &str = "k4.secret.";
const PASERK_PUBLIC: &str = "k4.public.";
const PEM_PRIVATE: &str = "PRIVATE KEY";
const PEM_PUBLIC: &str = "PUBLIC KEY";
/// DER prefix of a PKCS#8 v1 Ed25519 private key (RFC 8410); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Where key text comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The key text itself (PASERK or PEM).
    Text(String),
    /// A file holding the key text.
    File(PathBuf),
    /// An environment variable holding the key text.
    Env(String),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Text(_) => f.write_str("KeySource::Text(<redacted>)"),
            KeySource::File(p) => write!(f, "KeySource::File({p:?})"),
            KeySource::Env(v) => write!(f, "KeySource::Env({v:?})"),
        }
    }
}

impl KeySource {
    /// Reads the key text. Errors (`key_invalid`) name the file or variable, never the content.
    pub fn read(&self) -> Result<String> {
        match self {
            KeySource::Text(t) => Ok(t.clone()),
            KeySource::File(path) => std::fs::read_to_string(path).map_err(|e| {
                key_err(format!(
                    "cannot read key file {}: {}",
                    path.display(),
                    e.kind()
                ))
            }),
            KeySource::Env(name) => std::env::var(name).map_err(|e| match e {
                std::env::VarError::NotPresent => {
                    key_err(format!("environment variable {name} is not set"))
                }
                std::env::VarError::NotUnicode(_) => {
                    key_err(format!("environment variable {name} is not valid UTF-8"))
                }
            }),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            KeySource::Text(_) => "key text".to_string(),
            KeySource::File(p) => format!("key file {}", p.display()),
            KeySource::Env(v) => format!("environment variable {v}"),
        }
    }
}

pub(super) struct SigningKey {
    pub(super) kid: String,
    pub(super) secret: AsymmetricSecretKey<V4>,
}

/// The keys of a session issuer or verifier: at most one active signing key
/// and any number of verification keys, each under a key id (`kid`).
///
/// Rotation: add the new key pair as the signing key under a new kid; keep the
/// old kid's public key while tokens signed with it may still be alive (at
/// most the TTL cap), then remove it.
#[derive(Clone, Default)]
pub struct SessionKeys {
    pub(super) signing: Option<std::sync::Arc<SigningKey>>,
    pub(super) verifying: BTreeMap<String, AsymmetricPublicKey<V4>>,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("signing_kid", &self.signing_kid())
            .field("verifying_kids", &self.verifying_kids())
            .finish()
    }
}

impl SessionKeys {
    /// No keys: verifies nothing, signs nothing.
    pub fn new() -> SessionKeys {
        SessionKeys::default()
    }

    /// A fresh random Ed25519 key pair under `kid`, as the signing key (and
    /// its public key as a verification key). Needs the platform's randomness.
    pub fn generate(kid: &str) -> Result<SessionKeys> {
        check_kid(kid)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| Error::new(ErrorCode::Internal, format!("no randomness: {e}")))?;
        let mut keys = SessionKeys::new();
        let result = keys.install_seed(kid, &seed, "generated key");
        seed.fill(0);
        result.map(|()| keys)
    }

    /// Sets the signing key (replacing any previous one) from PASERK
    /// `k4.secret.…` or PKCS#8 PEM text, and adds its public key as a
    /// verification key under the same kid.
    pub fn set_signing_key(&mut self, kid: &str, source: &KeySource) -> Result<()> {
        check_kid(kid)?;
        let text = source.read()?;
        let what = format!("{} (kid {kid})", source.describe());
        let seed = parse_secret(text.trim(), &what)?;
        let result = self.install_seed(kid, &seed, &what);
        let mut seed = seed;
        seed.fill(0);
        result
    }

    /// Adds (or replaces) the verification key `kid` from PASERK
    /// `k4.public.…` or SubjectPublicKeyInfo PEM text.
    pub fn add_verifying_key(&mut self, kid: &str, source: &KeySource) -> Result<()> {
        check_kid(kid)?;
        let text = source.read()?;
        let what = format!("{} (kid {kid})", source.describe());
        let public = parse_public(text.trim(), &what)?;
        if let Some(signing) = &self.signing {
            if signing.kid == kid && !self.verifying.get(kid).is_some_and(|pk| *pk == public) {
                return Err(key_err(format!(
                    "{what}: kid {kid} is the signing key's id and names a different public key"
                )));
            }
        }
        self.verifying.insert(kid.to_string(), public);
        Ok(())
    }

    /// [`set_signing_key`](Self::set_signing_key) in builder form.
    pub fn with_signing_key(mut self, kid: &str, source: &KeySource) -> Result<SessionKeys> {
        self.set_signing_key(kid, source)?;
        Ok(self)
    }

    /// [`add_verifying_key`](Self::add_verifying_key) in builder form.
    pub fn with_verifying_key(mut self, kid: &str, source: &KeySource) -> Result<SessionKeys> {
        self.add_verifying_key(kid, source)?;
        Ok(self)
    }

    /// Stops accepting tokens signed under `kid`. If `kid` is the signing
    /// key, the signing key is removed too. Returns whether `kid` was known.
    pub fn remove_key(&mut self, kid: &str) -> bool {
        if self.signing.as_ref().is_some_and(|s| s.kid == kid) {
            self.signing = None;
        }
        self.verifying.remove(kid).is_some()
    }

    /// The same verification keys, without the signing key (to hand to a
    /// verifier, e.g. a WASM page).
    pub fn verifying_only(&self) -> SessionKeys {
        SessionKeys {
            signing: None,
            verifying: self.verifying.clone(),
        }
    }

    /// The kid new tokens are signed under.
    pub fn signing_kid(&self) -> Option<&str> {
        self.signing.as_ref().map(|s| s.kid.as_str())
    }

    /// The kids tokens are accepted under, sorted.
    pub fn verifying_kids(&self) -> Vec<&str> {
        self.verifying.keys().map(String::as_str).collect()
    }

    /// The public key `kid` as PASERK `k4.public.…`.
    pub fn public_key_paserk(&self, kid: &str) -> Option<String> {
        self.verifying
            .get(kid)
            .and_then(|pk| encode_b64url(pk.as_bytes()))
            .map(|b| format!("{PASERK_PUBLIC}{b}"))
    }

    /// The signing key as PASERK `k4.secret.…` (to store a generated key).
    /// This is secret material: never log it.
    pub fn secret_key_paserk(&self) -> Option<String> {
        self.signing
            .as_ref()
            .and_then(|s| encode_b64url(s.secret.as_bytes()))
            .map(|b| format!("{PASERK_SECRET}{b}"))
    }

    fn install_seed(&mut self, kid: &str, seed: &[u8; 32], what: &str) -> Result<()> {
        let (secret, public) = keypair_from_seed(seed, what)?;
        if self.verifying.get(kid).is_some_and(|pk| *pk != public)
            && self.signing.as_ref().is_none_or(|s| s.kid != kid)
        {
            return Err(key_err(format!(
                "{what}: kid {kid} already names a different verification key"
            )));
        }
        self.verifying.insert(kid.to_string(), public);
        self.signing = Some(std::sync::Arc::new(SigningKey {
            kid: kid.to_string(),
            secret,
        }));
        Ok(())
    }
}

pub(super) fn key_err(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::KeyInvalid, message)
}

/// Untrusted text for a message: at most 64 characters, quoted and escaped.
pub(super) fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(64).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    format!("{s:?}")
}

fn check_kid(kid: &str) -> Result<()> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if ok {
        Ok(())
    } else {
        Err(key_err(format!(
            "key id {} is not 1-{MAX_KID_LEN} characters of A-Z a-z 0-9 . _ - :",
            shorten(kid)
        )))
    }
}

fn encode_b64url(bytes: &[u8]) -> Option<String> {
    let mut buf = vec![0u8; Base64UrlSafeNoPadding::encoded_len(bytes.len()).ok()?];
    Base64UrlSafeNoPadding::encode_to_str(&mut buf, bytes)
        .ok()
        .map(str::to_string)
}

fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; text.len()];
    Base64UrlSafeNoPadding::decode(&mut buf, text, None)
        .ok()
        .map(<[u8]>::to_vec)
}

/// The base64 body of a PEM block labelled `label`, decoded.
fn pem_body(text: &str, label: &str, what: &str) -> Result<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body = text
        .strip_prefix(&begin)
        .and_then(|rest| rest.trim_end().strip_suffix(&end))
        .ok_or_else(|| {
            key_err(format!(
                "{what}: not a single PEM block `{begin}` … `{end}`"
            ))
        })?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut buf = vec![0u8; b64.len()];
    Base64::decode(&mut buf, &b64, None)
        .map(<[u8]>::to_vec)
        .map_err(|_| key_err(format!("{what}: PEM body is not valid base64")))
}

/// The PASERK kind (`k4.public`, `k3.secret`, …) or a PEM label, for messages.
fn describe_text(text: &str) -> String {
    if let Some(rest) = text.strip_prefix("-----BEGIN ") {
        let label: String = rest.chars().take_while(|c| *c != '-').take(40).collect();
        return format!("a PEM `{label}` block");
    }
    let mut parts = text.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(v), Some(kind), Some(_))
            if v.len() == 2 && v.starts_with('k') && kind.len() <= 10 =>
        {
            format!("a PASERK {v}.{kind} key")
        }
        _ => "text in no known key format".to_string(),
    }
}

/// The 32-byte Ed25519 seed from `k4.secret.` or PKCS#8 PEM text.
fn parse_secret(text: &str, what: &str) -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    if let Some(b64) = text.strip_prefix(PASERK_SECRET) {
        let mut bytes = decode_b64url(b64)
            .ok_or_else(|| key_err(format!("{what}: k4.secret key is not valid base64url")))?;
        let result = if bytes.len() != 64 {
            Err(key_err(format!(
                "{what}: k4.secret key must be 64 bytes, got {}",
                bytes.len()
            )))
        } else {
            seed.copy_from_slice(&bytes[..32]);
            let public = AsymmetricPublicKey::<V4>::from(&bytes[32..])
                .map_err(|_| key_err(format!("{what}: bad public half")))?;
            keypair_from_seed(&seed, what).and_then(|(_, derived)| {
                if derived == public {
                    Ok(())
                } else {
                    Err(key_err(format!(
                        "{what}: k4.secret key's public half does not match its seed"
                    )))
                }
            })
        };
        bytes.fill(0);
        return result.map(|()| seed);
    }
    if text.starts_with(&format!("-----BEGIN {PEM_PRIVATE}-----")) {
        let mut der = pem_body(text, PEM_PRIVATE, what)?;
        // PKCS#8 v1 (RFC 8410 §7): prefix then the seed. v2 adds the public key.
        let result = match der.strip_prefix(PKCS8_ED25519_PREFIX.as_slice()) {
            Some(rest) if rest.len() == 32 => {
                seed.copy_from_slice(rest);
                Ok(())
            }
            _ => Err(key_err(format!(
                "{what}: PEM private key is not an unencrypted PKCS#8 v1 Ed25519 key"
            ))),
        };
        der.fill(0);
        return result.map(|()| seed);
    }
    Err(key_err(format!(
        "{what}: expected a signing key (PASERK `k4.secret.…` or PEM `PRIVATE KEY`), got {}",
        describe_text(text)
    )))
}

fn parse_public(text: &str, what: &str) -> Result<AsymmetricPublicKey<V4>> {
    let bytes = if let Some(b64) = text.strip_prefix(PASERK_PUBLIC) {
        decode_b64url(b64)
            .ok_or_else(|| key_err(format!("{what}: k4.public key is not valid base64url")))?
    } else if text.starts_with(&format!("-----BEGIN {PEM_PUBLIC}-----")) {
        let der = pem_body(text, PEM_PUBLIC, what)?;
        match der.strip_prefix(SPKI_ED25519_PREFIX.as_slice()) {
            Some(rest) => rest.to_vec(),
            None => {
                return Err(key_err(format!(
                    "{what}: PEM public key is not an Ed25519 SubjectPublicKeyInfo"
                )))
            }
        }
    } else {
        return Err(key_err(format!(
            "{what}: expected a public key (PASERK `k4.public.…` or PEM `PUBLIC KEY`), got {}",
            describe_text(text)
        )));
    };
    if bytes.len() != 32 {
        return Err(key_err(format!(
            "{what}: an Ed25519 public key is 32 bytes, got {}",
            bytes.len()
        )));
    }
    ed25519_compact::PublicKey::from_slice(&bytes)
        .and_then(|pk| pk.validate().map(|()| pk))
        .map_err(|_| key_err(format!("{what}: not a valid Ed25519 public key")))?;
    AsymmetricPublicKey::<V4>::from(&bytes)
        .map_err(|_| key_err(format!("{what}: not a valid Ed25519 public key")))
}

fn keypair_from_seed(
    seed: &[u8; 32],
    what: &str,
) -> Result<(AsymmetricSecretKey<V4>, AsymmetricPublicKey<V4>)> {
    // `KeyPair::from_seed` (and pasetors on top of it) panics on an all-zero seed.
    let kp = ed25519_compact::Seed::from_slice(seed)
        .and_then(ed25519_compact::KeyPair::try_from_seed)
        .map_err(|_| key_err(format!("{what}: not a usable Ed25519 seed")))?;
    let secret = AsymmetricSecretKey::<V4>::from(kp.sk.as_ref())
        .map_err(|_| key_err(format!("{what}: not a usable Ed25519 key")))?;
    let public = AsymmetricPublicKey::<V4>::from(kp.pk.as_ref())
        .map_err(|_| key_err(format!("{what}: not a usable Ed25519 key")))?;
    Ok((secret, public))
}

/// An Ed25519 key pair from signing-key text (`k4.secret.` or PKCS#8 PEM),
/// for other signers than sessions (signed bundles).
pub(crate) fn ed25519_keypair(text: &str, what: &str) -> Result<ed25519_compact::KeyPair> {
    let mut seed = parse_secret(text.trim(), what)?;
    let kp = ed25519_compact::Seed::from_slice(&seed)
        .and_then(ed25519_compact::KeyPair::try_from_seed)
        .map_err(|_| key_err(format!("{what}: not a usable Ed25519 seed")));
    seed.fill(0);
    kp
}

/// An Ed25519 public key from `k4.public.` or PEM `PUBLIC KEY` text.
pub(crate) fn ed25519_public(text: &str, what: &str) -> Result<ed25519_compact::PublicKey> {
    let key = parse_public(text.trim(), what)?;
    ed25519_compact::PublicKey::from_slice(key.as_bytes())
        .map_err(|_| key_err(format!("{what}: not a valid Ed25519 public key")))
}

/// Checks a key id (1-128 characters of `A-Z a-z 0-9 . _ - :`).
pub(crate) fn valid_kid(kid: &str) -> Result<()> {
    check_kid(kid)
}
