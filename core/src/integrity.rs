//! Integrity keys: HMAC-SHA-256 over journal entries, decision records and
//! decision-log checkpoints, so that a forged or rewritten line is refused.
//!
//! A key has an id (`kid`), written beside every MAC, so keys can be rotated:
//! new lines use the current key, older lines verify with the previous key
//! of their id. Key material comes from an environment variable or a file
//! (`[integrity]` of `agentauthz.toml`), never from the bundle itself.

use crate::error::{Error, ErrorCode, Result};
use crate::limits::{self, Input, Limits};
use crate::session::KeySource;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Keys shorter than this are refused (HMAC-SHA-256 wants 32 bytes of entropy).
pub const MIN_KEY_BYTES: usize = 32;

/// Domain labels: a MAC made for one kind of line never verifies as another.
pub(crate) const JOURNAL_DOMAIN: &[u8] = b"agentauthz journal entry v1";
pub(crate) const RECORD_DOMAIN: &[u8] = b"agentauthz decision record v2";
pub(crate) const CHECKPOINT_DOMAIN: &[u8] = b"agentauthz checkpoint v1";

/// One HMAC key with its id.
#[derive(Clone)]
pub struct IntegrityKey {
    id: String,
    /// HMAC-SHA-256 with the secret already absorbed (its inner and outer
    /// pad blocks): cloned per MAC instead of hashing the pads again on every
    /// decision record.
    keyed: Arc<Hmac<Sha256>>,
}

impl fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrityKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn key_err(message: String) -> Error {
    Error::new(ErrorCode::KeyInvalid, message)
}

impl IntegrityKey {
    /// A key from its secret bytes (at least [`MIN_KEY_BYTES`]).
    pub fn new(id: impl Into<String>, secret: &[u8]) -> Result<IntegrityKey> {
        let id = id.into();
        let id_ok = !id.is_empty()
            && id.len() <= 128
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if !id_ok {
            return Err(key_err(format!(
                "integrity key id {id:?}: use 1 to 128 of A-Z a-z 0-9 - _ . :"
            )));
        }
        if secret.len() < MIN_KEY_BYTES {
            return Err(key_err(format!(
                "integrity key `{id}` is {} bytes; use at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)",
                secret.len()
            )));
        }
        // `new_from_slice` accepts any length for HMAC; the error cannot happen.
        let keyed = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|e| key_err(format!("integrity key `{id}`: {e}")))?;
        Ok(IntegrityKey {
            id,
            keyed: Arc::new(keyed),
        })
    }

    /// A key read from a file or an environment variable; surrounding
    /// whitespace (a trailing newline) is not part of the key.
    pub fn from_source(id: impl Into<String>, source: &KeySource) -> Result<IntegrityKey> {
        let text = source.read()?;
        IntegrityKey::new(id, text.trim().as_bytes())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn hmac(&self, domain: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::clone(&self.keyed);
        mac.update(domain);
        mac.update(&[0]);
        mac.update(self.id.as_bytes());
        for p in parts {
            // Length-prefixed: no two different part lists feed the same bytes.
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p);
        }
        mac
    }

    /// The MAC of `parts` under `domain`, in lowercase hex.
    pub(crate) fn mac(&self, domain: &[u8], parts: &[&[u8]]) -> String {
        hex(&self.hmac(domain, parts).finalize().into_bytes())
    }

    /// Whether `mac_hex` is the MAC of `parts` (constant-time comparison).
    pub(crate) fn verify(&self, domain: &[u8], parts: &[&[u8]], mac_hex: &str) -> bool {
        match unhex(mac_hex) {
            Some(bytes) => self.hmac(domain, parts).verify_slice(&bytes).is_ok(),
            None => false,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [h, l] => Some(digit(*h)? << 4 | digit(*l)?),
            _ => None,
        })
        .collect()
}

/// The key new lines are authenticated with, and older keys by id (rotation).
/// Empty: lines are written and read without MACs (development only;
/// `agentauthz posture` reports it).
#[derive(Debug, Clone, Default)]
pub struct IntegrityKeys {
    current: Option<IntegrityKey>,
    previous: Vec<IntegrityKey>,
}

/// `[integrity]` of `agentauthz.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrityConfig {
    /// Id of the current key (default `default`), written beside every MAC.
    #[serde(default)]
    pub key_id: Option<String>,
    /// Environment variable holding the current key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// File holding the current key, relative to the bundle directory.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Earlier keys by id, still accepted for lines they authenticated:
    /// `"env:VAR"` or `"file:PATH"`.
    #[serde(default)]
    pub previous_keys: BTreeMap<String, String>,
    /// Write a decision-log checkpoint every this many records (default 1000).
    #[serde(default)]
    pub checkpoint_every: Option<u64>,
}

/// Default number of records between two checkpoints of a file sink.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 1000;

impl IntegrityKeys {
    /// No keys: MACs are neither written nor accepted.
    pub fn none() -> IntegrityKeys {
        IntegrityKeys::default()
    }

    /// `key` authenticates new lines.
    pub fn new(key: IntegrityKey) -> IntegrityKeys {
        IntegrityKeys {
            current: Some(key),
            previous: Vec::new(),
        }
    }

    /// Lines authenticated with `key` (an earlier key) still verify.
    pub fn with_previous(mut self, key: IntegrityKey) -> IntegrityKeys {
        self.previous.push(key);
        self
    }

    pub fn is_keyed(&self) -> bool {
        self.current.is_some()
    }

    pub fn current(&self) -> Option<&IntegrityKey> {
        self.current.as_ref()
    }

    /// The key of id `kid`, current or previous.
    pub fn by_id(&self, kid: &str) -> Option<&IntegrityKey> {
        self.current
            .iter()
            .chain(self.previous.iter())
            .find(|k| k.id == kid)
    }

    /// The keys `[integrity]` names, read now (a named key that cannot be
    /// read is an error: an engine configured for integrity never runs without it).
    pub fn from_config(config: &IntegrityConfig, dir: Option<&Path>) -> Result<IntegrityKeys> {
        let resolve = |p: &str| {
            let p = Path::new(p);
            match dir {
                Some(d) if p.is_relative() => d.join(p),
                _ => p.to_path_buf(),
            }
        };
        let source = match (&config.key_env, &config.key_file) {
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    "agentauthz.toml: [integrity] give one of `key_env` and `key_file`",
                ))
            }
            (Some(var), None) => Some(KeySource::Env(var.clone())),
            (None, Some(file)) => Some(KeySource::File(resolve(file))),
            (None, None) => None,
        };
        let Some(source) = source else {
            if !config.previous_keys.is_empty() || config.key_id.is_some() {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    "agentauthz.toml: [integrity] names keys but no current key (`key_env` or `key_file`)",
                ));
            }
            return Ok(IntegrityKeys::none());
        };
        let id = config.key_id.clone().unwrap_or_else(|| "default".into());
        let mut keys = IntegrityKeys::new(IntegrityKey::from_source(id, &source)?);
        for (kid, spec) in &config.previous_keys {
            let source = if let Some(var) = spec.strip_prefix("env:") {
                KeySource::Env(var.to_string())
            } else if let Some(file) = spec.strip_prefix("file:") {
                KeySource::File(resolve(file))
            } else {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    format!("agentauthz.toml: [integrity] previous_keys.{kid}: write \"env:VAR\" or \"file:PATH\""),
                ));
            };
            keys = keys.with_previous(IntegrityKey::from_source(kid.clone(), &source)?);
        }
        Ok(keys)
    }
}

/// Parses one journal or decision-log line with the one strict reader
/// (size and depth bounded, duplicate keys refused: serde_json alone keeps the
/// last key, so `"decision":"allow"` before the real `"decision":"deny"` would
/// read as an allow).
pub(crate) fn parse_strict_json(input: Input, bytes: &[u8]) -> std::result::Result<Value, String> {
    limits::parse_json_bytes(&Limits::default(), input, "line", bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_mac_from_the_kept_keyed_state_is_the_plain_hmac() {
        // RFC 4231 test case 6 (a key longer than a block, hashed first),
        // then the framing `hmac` adds, computed from scratch.
        let secret = [0xaa_u8; 131];
        let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        let mut plain = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        plain.update(data);
        assert_eq!(
            hex(&plain.finalize().into_bytes()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let key = IntegrityKey::new("k1", &secret).unwrap();
        for _ in 0..2 {
            let mut plain = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
            plain.update(b"domain\0k1");
            plain.update(&(data.len() as u64).to_be_bytes());
            plain.update(data);
            let expected = hex(&plain.finalize().into_bytes());
            assert_eq!(key.mac(b"domain", &[data]), expected);
            assert!(key.verify(b"domain", &[data], &expected));
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(parse_strict_json(Input::LogLine, br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        let e = parse_strict_json(Input::LogLine, br#"{"decision":"allow","decision":"deny"}"#)
            .unwrap_err();
        assert!(e.contains("duplicate key `decision`"), "{e}");
        assert!(parse_strict_json(Input::LogLine, br#"{"a":[{"x":1,"x":1}]}"#).is_err());
    }

    #[test]
    fn macs_bind_key_id_domain_and_parts() {
        let k = IntegrityKey::new("k1", &[7; 32]).unwrap();
        let m = k.mac(JOURNAL_DOMAIN, &[b"ab", b"c"]);
        assert!(k.verify(JOURNAL_DOMAIN, &[b"ab", b"c"], &m));
        assert!(!k.verify(JOURNAL_DOMAIN, &[b"a", b"bc"], &m));
        assert!(!k.verify(RECORD_DOMAIN, &[b"ab", b"c"], &m));
        let k2 = IntegrityKey::new("k2", &[7; 32]).unwrap();
        assert!(!k2.verify(JOURNAL_DOMAIN, &[b"ab", b"c"], &m));
        assert!(!k.verify(JOURNAL_DOMAIN, &[b"ab", b"c"], "zz"));
        assert!(IntegrityKey::new("k", &[1; 31]).is_err());
        assert!(!format!("{k:?}").contains('7'));
    }
}
