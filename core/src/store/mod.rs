//! Where run-time changes live: a [`ChangeStore`]. Two implementations:
//! the local journal (one writer, locked; see [`crate::journal`]) and
//! PostgreSQL (a fleet: many engines append to one table whose sequence the
//! database assigns, and each follows it), behind the `postgres` feature.
//!
//! A store only carries changes: it reads and writes them as the journal
//! does (`op` plus fields), so a new kind of change flows through every
//! store unchanged. Applying them is the engine's job.

use crate::change::Change;
use crate::error::Result;
use crate::integrity::parse_strict_json;
use crate::journal::{Journal, JournalEntry};
use crate::limits::Input;
use crate::time::parse_rfc3339_millis;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
pub mod postgres;

/// A change read back from a store, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A change as it was appended.
    Entry(Box<JournalEntry>),
    /// A row that is not a change this engine can read (written by a peer
    /// with another version, or garbage): skipped by every engine alike.
    Malformed { seq: u64, reason: String },
}

impl Stored {
    pub fn seq(&self) -> u64 {
        match self {
            Stored::Entry(e) => e.seq,
            Stored::Malformed { seq, .. } => *seq,
        }
    }
}

/// A store of run-time changes, in one global order.
pub trait ChangeStore: Send + std::fmt::Debug {
    /// Appends one change; it is durable (acknowledged) when this returns
    /// `Ok`. Returns every change after `applied` up to and including the
    /// new one, in order (other writers' changes come first), so the caller
    /// applies them in sequence order. On error nothing was appended, or
    /// (the connection failed while committing) it is not known: the change
    /// then arrives through [`ChangeStore::read_after`] if it was.
    fn append(
        &mut self,
        applied: u64,
        at: String,
        by: &str,
        change: &Change,
        basis: Option<String>,
    ) -> Result<Vec<Stored>>;

    /// Changes after `applied`, in order, at most `limit`.
    fn read_after(&mut self, applied: u64, limit: usize) -> Result<Vec<Stored>>;

    /// For status output: `journal FILE`, `postgres HOST:PORT/DB`.
    fn describe(&self) -> String;
}

/// The local journal is its own only writer: nothing arrives that it did
/// not append itself.
impl ChangeStore for Journal {
    fn append(
        &mut self,
        _applied: u64,
        at: String,
        by: &str,
        change: &Change,
        basis: Option<String>,
    ) -> Result<Vec<Stored>> {
        Journal::append(self, at, by, change, basis).map(|e| vec![Stored::Entry(Box::new(e))])
    }

    fn read_after(&mut self, _applied: u64, _limit: usize) -> Result<Vec<Stored>> {
        Ok(Vec::new())
    }

    fn describe(&self) -> String {
        format!("journal {}", self.path().display())
    }
}

/// A stored change's parts as a row holds them, read strictly: the change
/// is strict JSON with exactly the members of a [`Change`], the time RFC 3339.
pub fn read_row(seq: i64, at: String, by: String, change: &str, basis: Option<String>) -> Stored {
    let Ok(seq) = u64::try_from(seq) else {
        // Sequence numbers start at 1; the caller treats this as a gap.
        return Stored::Malformed {
            seq: 0,
            reason: format!("sequence number {seq} is not positive"),
        };
    };
    let reason = |r: String| Stored::Malformed { seq, reason: r };
    let value = match parse_strict_json(Input::JournalLine, change.as_bytes()) {
        Ok(v) => v,
        Err(e) => return reason(format!("the change is not JSON: {e}")),
    };
    let parsed: Change = match serde_json::from_value(value.clone()) {
        Ok(c) => c,
        Err(e) => return reason(format!("not a change this engine knows: {e}")),
    };
    match serde_json::to_value(&parsed) {
        Ok(again) if again == value => {}
        _ => return reason("members that are not part of a change".to_string()),
    }
    if parse_rfc3339_millis(&at).is_none() {
        return reason(format!("time {at:?} is not an RFC 3339 time"));
    }
    if by.trim().is_empty() {
        return reason("no `by`".to_string());
    }
    Stored::Entry(Box::new(JournalEntry {
        seq,
        at,
        by,
        change: parsed,
        basis,
        kid: None,
        mac: None,
    }))
}

/// How an engine stands with a shared store, for `store_status()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStatus {
    /// `postgres`, `journal` or `memory` (no store: changes last as long as the process).
    pub backend: String,
    /// Where: `postgres HOST:PORT/DB`, `journal FILE`.
    pub location: String,
    /// The sequence number of the last change this engine applied (or skipped).
    pub last_applied_seq: u64,
    /// When the engine last knew it had every change (engine clock, RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_synced: Option<String>,
    /// Milliseconds since then (`None`: never, or not a shared store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staleness_ms: Option<i64>,
    /// `[store] max_staleness_seconds` in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_staleness_ms: Option<i64>,
    /// Stale beyond `max_staleness_ms`: every check denies (`store/stale`).
    pub stale: bool,
    /// Whether the follower holds a connection now.
    pub connected: bool,
    /// The last error talking to the store, until the next success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// A change after this sequence number is missing while later ones are
    /// there (deleted, or written around the sequence): the engine applies
    /// nothing past it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_after: Option<u64>,
    /// Changes skipped (did not apply, or unreadable), as `skipped_changes()` lists them.
    pub skipped: usize,
}

/// The follower's progress, shared with the request path (which reads only
/// `synced`, one atomic load, to fail closed when stale).
#[derive(Debug)]
pub struct Health {
    /// Engine-clock millis of the last time every visible change was applied.
    synced: AtomicI64,
    applied: AtomicU64,
    connected: AtomicBool,
    /// 0: no gap; else the sequence number after which one is.
    gap_after: AtomicU64,
    error: Mutex<Option<String>>,
    /// The engine was closed: it follows the store no more, and nothing
    /// marks it in sync again (its staleness grows, checks fail closed).
    closed: AtomicBool,
    /// `None`: never fail closed.
    pub max_staleness_ms: Option<i64>,
}

/// `last_error` of a closed engine's store status.
pub const CLOSED_ERROR: &str =
    "the engine was closed: it no longer follows the store, changes made elsewhere do not apply here";

/// Reason of a check denied because the store is out of reach for too long.
pub const STALE_REASON: &str = "store/stale";

impl Health {
    pub fn new(max_staleness_ms: Option<i64>) -> Health {
        Health {
            synced: AtomicI64::new(i64::MIN),
            applied: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            gap_after: AtomicU64::new(0),
            error: Mutex::new(None),
            closed: AtomicBool::new(false),
            max_staleness_ms,
        }
    }

    /// The engine stopped following the store; final.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.connected.store(false, Ordering::Release);
        if let Ok(mut e) = self.error.lock() {
            *e = Some(CLOSED_ERROR.to_string());
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Every visible change up to `applied` is applied, as of `now`.
    pub fn synced(&self, applied: u64, now: i64) {
        if self.is_closed() {
            return;
        }
        self.applied.store(applied, Ordering::Release);
        self.synced.store(now, Ordering::Release);
        self.gap_after.store(0, Ordering::Release);
        self.connected.store(true, Ordering::Release);
        if let Ok(mut e) = self.error.lock() {
            *e = None;
        }
    }

    /// Changes up to `applied` are applied, but one after it is missing.
    pub fn gap(&self, applied: u64) {
        if self.is_closed() {
            return;
        }
        self.applied.store(applied, Ordering::Release);
        self.gap_after.store(applied, Ordering::Release);
        if let Ok(mut e) = self.error.lock() {
            *e = Some(format!(
                "change {} is missing while later ones are stored; waiting for it",
                applied.saturating_add(1)
            ));
        }
    }

    pub fn failed(&self, message: String) {
        if self.is_closed() {
            return;
        }
        self.connected.store(false, Ordering::Release);
        if let Ok(mut e) = self.error.lock() {
            *e = Some(message);
        }
    }

    /// Whether checks at `now` must fail closed.
    #[inline]
    pub fn is_stale(&self, now: i64) -> bool {
        match self.max_staleness_ms {
            None => false,
            Some(max) => now.saturating_sub(self.synced.load(Ordering::Acquire)) > max,
        }
    }

    pub fn status(&self, backend: &str, location: String, now: i64, skipped: usize) -> StoreStatus {
        let synced = self.synced.load(Ordering::Acquire);
        let gap = self.gap_after.load(Ordering::Acquire);
        StoreStatus {
            backend: backend.to_string(),
            location,
            last_applied_seq: self.applied.load(Ordering::Acquire),
            last_synced: (synced != i64::MIN).then(|| crate::time::format_millis(synced)),
            staleness_ms: (synced != i64::MIN).then(|| now.saturating_sub(synced)),
            max_staleness_ms: self.max_staleness_ms,
            stale: self.is_stale(now),
            connected: self.connected.load(Ordering::Acquire),
            last_error: self.error.lock().ok().and_then(|e| e.clone()),
            gap_after: (gap != 0).then_some(gap),
            skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rows_are_read_strictly() {
        let ok = read_row(
            3,
            "2026-12-01T00:00:00Z".into(),
            "ops".into(),
            r#"{"op":"suspend","agent":"a"}"#,
            None,
        );
        assert!(matches!(ok, Stored::Entry(ref e) if e.seq == 3));
        for bad in [
            "garbage",
            r#"{"op":"suspend","agent":"a","extra":1}"#,
            r#"{"op":"suspend","agent":"a","agent":"b"}"#,
            r#"{"op":"no_such_op"}"#,
            r#"{"op":"suspend"}"#,
        ] {
            let r = read_row(4, "2026-12-01T00:00:00Z".into(), "ops".into(), bad, None);
            assert!(
                matches!(r, Stored::Malformed { seq: 4, .. }),
                "{bad}: {r:?}"
            );
        }
        let r = read_row(
            5,
            "yesterday".into(),
            "ops".into(),
            r#"{"op":"suspend","agent":"a"}"#,
            None,
        );
        assert!(matches!(r, Stored::Malformed { seq: 5, .. }));
    }

    #[test]
    fn staleness_fails_closed_only_when_configured() {
        let h = Health::new(Some(1000));
        assert!(h.is_stale(0), "never synced: stale");
        h.synced(4, 10_000);
        assert!(!h.is_stale(11_000));
        assert!(h.is_stale(11_001));
        h.gap(4);
        assert_eq!(
            h.status("postgres", String::new(), 10_500, 0).gap_after,
            Some(4)
        );
        assert!(!Health::new(None).is_stale(i64::MAX));
    }

    #[test]
    fn a_closed_health_is_never_in_sync_again() {
        let h = Health::new(Some(1000));
        h.synced(4, 10_000);
        h.close();
        // A follower finishing a read after the close does not refresh it.
        h.synced(9, 20_000);
        h.failed("late".into());
        let s = h.status("postgres", String::new(), 20_000, 0);
        assert_eq!(s.last_applied_seq, 4);
        assert_eq!(s.staleness_ms, Some(10_000));
        assert!(s.stale && !s.connected);
        assert_eq!(s.last_error.as_deref(), Some(CLOSED_ERROR));
    }
}
