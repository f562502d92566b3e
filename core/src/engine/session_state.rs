//! Agent sessions in the engine: keys and limits from `[sessions]`, and the
//! revocation checks a verified token still has to pass.

use super::snapshot::{agent_of, entity_uid, status_of, Snapshot};
use crate::bundle::SessionsConfig;
use crate::error::{Error, ErrorCode, Result};
use crate::session::{self, KeySource, SessionClaims, SessionConfig, SessionKeys};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// Signing and verification keys with the issuing limits, and the tokens
/// that verified under these keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions {
    pub keys: SessionKeys,
    pub config: SessionConfig,
    /// Replaced (emptied) whenever `keys` change after the first verification.
    pub verified: Arc<VerifiedTokens>,
}

/// Tokens held at once in the cache; a token only enters it once its
/// signature verified, so only an issuer can fill it, and expired ones make
/// room first.
const VERIFIED_CAPACITY: usize = 4096;
/// Longer tokens (none an issuer of this engine makes) are verified on every use.
const MAX_CACHED_TOKEN: usize = 2048;

/// The claims of tokens whose signature verified, by the whole token (its
/// hash, then all its bytes compared: a token differing in any byte, a forged
/// signature over the same claims included, is verified in full). Only the
/// signature check is saved: the audience, the token's window and the
/// revocation and standing checks run on every use. Never makes a check
/// wait: a busy lock is a miss.
#[derive(Debug, Default)]
pub(crate) struct VerifiedTokens {
    map: RwLock<HashMap<Box<str>, Arc<SessionClaims>>>,
}

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<Arc<SessionClaims>> {
        self.map.try_read().ok()?.get(token).cloned()
    }

    fn insert(&self, token: &str, claims: Arc<SessionClaims>, now: i64) {
        if token.len() > MAX_CACHED_TOKEN {
            return;
        }
        let Ok(mut map) = self.map.try_write() else {
            return;
        };
        if map.len() >= VERIFIED_CAPACITY {
            map.retain(|_, c| c.expires_at > now);
        }
        if map.len() < VERIFIED_CAPACITY {
            map.insert(token.into(), claims);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }
}

impl Sessions {
    /// The claims of `token` for `audience` at `now`: exactly what
    /// `session::verify_within` gives (the same claims or the same error),
    /// with the signature checked only the first time a token is seen.
    pub fn verify(&self, token: &str, audience: &str, now: i64) -> Result<Arc<SessionClaims>> {
        let max_ttl = self.config.max_ttl_ms;
        let claims = match self.verified.get(token) {
            Some(c) => c,
            None => {
                let c = Arc::new(session::verify_signature(&self.keys, token)?);
                session::check_window(&c, now, audience, max_ttl)?;
                self.verified.insert(token, c.clone(), now);
                return Ok(c);
            }
        };
        session::check_window(&claims, now, audience, max_ttl)?;
        Ok(claims)
    }
}

fn source(text: &str, dir: Option<&Path>) -> KeySource {
    let path = |p: &str| match dir {
        Some(d) if Path::new(p).is_relative() => d.join(p),
        _ => Path::new(p).to_path_buf(),
    };
    if let Some(p) = text.strip_prefix("file:") {
        KeySource::File(path(p))
    } else if let Some(v) = text.strip_prefix("env:") {
        KeySource::Env(v.to_string())
    } else {
        KeySource::Text(text.to_string())
    }
}

impl Sessions {
    /// Reads `[sessions]`; relative key files are relative to the bundle directory.
    pub fn from_config(c: &SessionsConfig, dir: Option<&Path>) -> Result<Sessions> {
        let mut config = SessionConfig::default();
        if let Some(s) = c.max_ttl_seconds {
            config.max_ttl_ms = i64::try_from(s)
                .ok()
                .and_then(|s| s.checked_mul(1000))
                .filter(|ms| *ms > 0)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::ConfigInvalid,
                        "[sessions] max_ttl_seconds must be a positive number of seconds",
                    )
                })?;
        }
        config.default_audience = c.audience.clone();
        config.allowed_audiences = c.allowed_audiences.clone();
        config.issuer = c.issuer.clone();
        let mut keys = SessionKeys::new();
        let kid = c.key_id.as_deref().unwrap_or("default");
        let signing = match (&c.signing_key_file, &c.signing_key_env) {
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    "[sessions]: give signing_key_file or signing_key_env, not both",
                ))
            }
            (Some(f), None) => Some(source(&format!("file:{f}"), dir)),
            (None, Some(v)) => Some(KeySource::Env(v.clone())),
            (None, None) => None,
        };
        if let Some(src) = signing {
            keys.set_signing_key(kid, &src)?;
        }
        for (kid, text) in &c.verifying_keys {
            keys.add_verifying_key(kid, &source(text, dir))?;
        }
        Ok(Sessions {
            keys,
            config,
            verified: Arc::default(),
        })
    }
}

fn revoked(message: String) -> Error {
    Error::new(ErrorCode::SessionRevoked, message)
}

/// Whether `agent` (and its `task`) may hold a session now: an active agent
/// in the inventory, a task of its own that was not revoked. `code` is the
/// error for a refusal (`lifecycle_invalid` when issuing, `session_revoked`
/// when a token is used).
pub(crate) fn check_standing(
    snapshot: &Snapshot,
    agent: &str,
    task: Option<&str>,
    code: ErrorCode,
) -> Result<()> {
    let refuse = |m: String| Error::new(code, m);
    let uid = entity_uid(&crate::model::EntityRef::new("Agent", agent))?;
    match snapshot.store.get(&uid).map(status_of).as_deref() {
        None => return Err(refuse(format!("agent `{agent}` is not in the inventory"))),
        Some("active") => {}
        Some(s) => return Err(refuse(format!("agent `{agent}` is {s}"))),
    }
    if let Some(task) = task {
        if snapshot.runtime.revoked_tasks.contains(task) {
            return Err(refuse(format!("task `{task}` was revoked")));
        }
        let task_uid = entity_uid(&crate::model::EntityRef::new("Task", task))?;
        match snapshot.store.get(&task_uid).map(agent_of) {
            Some(Some(a)) if a == uid => {}
            Some(_) => {
                return Err(refuse(format!(
                    "task `{task}` is not a task of agent `{agent}`"
                )))
            }
            None => return Err(refuse(format!("task `{task}` is not in the inventory"))),
        }
    }
    Ok(())
}

/// The end of `task`'s window (ms) when `now` is inside it; issuing a
/// session for a task outside its window is `lifecycle_invalid`.
pub(crate) fn open_task_window(snapshot: &Snapshot, task: &str, now: i64) -> Result<i64> {
    let refuse = |m: String| Error::new(ErrorCode::LifecycleInvalid, m);
    let uid = entity_uid(&crate::model::EntityRef::new("Task", task))?;
    let entity = snapshot
        .store
        .get(&uid)
        .ok_or_else(|| refuse(format!("task `{task}` is not in the inventory")))?;
    let start = datetime_attr(entity, "not_before");
    let end = datetime_attr(entity, "not_after");
    match (start, end) {
        (Some(start), Some(end)) if start <= now && now < end => Ok(end),
        (Some(_), Some(_)) => Err(refuse(format!(
            "task `{task}` is outside its window now; a session for it is refused"
        ))),
        _ => Err(refuse(format!("task `{task}` has no readable window"))),
    }
}

/// A `datetime` attribute of an entity, in ms since the epoch.
fn datetime_attr(entity: &cedar_policy::Entity, name: &str) -> Option<i64> {
    match entity.attr(name)? {
        Ok(cedar_policy::EvalResult::ExtensionValue(text)) => {
            let inner = text
                .strip_prefix("datetime(\"")
                .and_then(|t| t.strip_suffix("\")"))
                .unwrap_or(&text);
            crate::time::parse_rfc3339_millis(inner)
        }
        _ => None,
    }
}

/// Revocation checks on verified claims.
pub(crate) fn check_claims(snapshot: &Snapshot, claims: &SessionClaims) -> Result<()> {
    if snapshot
        .runtime
        .revoked_sessions
        .contains(&claims.session_id)
    {
        return Err(revoked(format!(
            "session {} was revoked",
            claims.session_id
        )));
    }
    check_standing(
        snapshot,
        &claims.agent,
        claims.task.as_deref(),
        ErrorCode::SessionRevoked,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;

    fn claims(expires_at: i64) -> Arc<SessionClaims> {
        Arc::new(SessionClaims {
            session_id: "s".into(),
            agent: "a".into(),
            task: None,
            audience: "aud".into(),
            issuer: None,
            issued_at: 0,
            not_before: 0,
            expires_at,
        })
    }

    fn key(i: usize) -> String {
        format!("v4.public.{i}")
    }

    // The cache never grows past its capacity; expired tokens make room.
    #[test]
    fn the_verified_tokens_stay_bounded() {
        let cache = VerifiedTokens::default();
        for i in 0..VERIFIED_CAPACITY + 100 {
            cache.insert(&key(i), claims(1_000), 0);
        }
        assert_eq!(cache.len(), VERIFIED_CAPACITY);
        assert!(cache.get(&key(VERIFIED_CAPACITY + 1)).is_none());
        // All of them expired by now: one new token replaces them.
        cache.insert(&key(usize::MAX), claims(5_000), 2_000);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&key(usize::MAX)).is_some());
        assert!(cache.get(&key(0)).is_none());
        // Tokens longer than any issuer makes are never kept.
        cache.insert(&"x".repeat(MAX_CACHED_TOKEN + 1), claims(5_000), 2_000);
        assert_eq!(cache.len(), 1);
    }
}
