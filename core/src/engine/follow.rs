//! Following a shared change store: changes other engines appended arrive
//! in sequence order and are applied one at a time, exactly as a change made
//! here is (a change that does not apply is skipped, by every engine alike,
//! and listed). A duplicate delivery is ignored; a missing sequence number
//! stops progress there (nothing past it applies, the engine goes stale).

use super::lifecycle;
use super::snapshot::Snapshot;
use super::writer::{folded, lock, Applied, Skipped, Writer};
use crate::audit::{self, DecisionLog};
use crate::error::Result;
use crate::journal::JournalEntry;
use crate::store::{Health, Stored};
use crate::time::{parse_rfc3339_millis, Clock, DecisionIds};
use arc_swap::{ArcSwap, ArcSwapOption};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

/// Changes read per query while catching up.
#[cfg_attr(
    not(all(feature = "postgres", not(target_arch = "wasm32"))),
    allow(dead_code)
)]
pub(super) const PAGE: usize = 2000;

/// Fold pending changes into the compiled entities every this many.
const FOLD_EVERY: usize = 256;

/// What applying stored changes did.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub applied: Vec<Applied>,
    pub skipped: Vec<Skipped>,
    /// A sequence number is missing after `Fleet::applied`.
    pub gap: bool,
}

/// Applies `rows` past `writer`'s last applied change, in order, to the
/// active snapshot. Rows at or below it (a duplicate delivery) are ignored.
pub(super) fn apply_stored(
    slot: &ArcSwap<Snapshot>,
    writer: &mut Writer,
    rows: Vec<Stored>,
) -> Result<Outcome> {
    let Some(fleet) = writer.fleet.as_mut() else {
        return Ok(Outcome::default());
    };
    let mut next = fleet.applied.saturating_add(1);
    let mut batch = Vec::new();
    let mut malformed = Vec::new();
    let mut gap = false;
    for row in rows {
        let seq = row.seq();
        if seq != 0 && seq < next {
            continue;
        }
        if seq != next {
            gap = true;
            break;
        }
        match row {
            Stored::Entry(entry) => match parse_rfc3339_millis(&entry.at) {
                Some(at) => batch.push(Applied { at, entry: *entry }),
                None => malformed.push(format!(
                    "malformed change skipped: bad time (store seq {seq})"
                )),
            },
            Stored::Malformed { reason, .. } => {
                malformed.push(format!(
                    "malformed change skipped: {reason} (store seq {seq})"
                ));
            }
        }
        next += 1;
    }
    let current = slot.load_full();
    let (snapshot, skipped) = replay_each(&current, &batch)?;
    slot.store(Arc::new(snapshot));
    fleet.applied = next - 1;
    writer.history.extend(batch.iter().cloned());
    writer.skipped.extend(skipped.iter().cloned());
    writer.malformed.extend(malformed);
    Ok(Outcome {
        applied: batch,
        skipped,
        gap,
    })
}

/// Applies recorded changes one at a time, each at its own time, as they
/// were applied where they were made: a change that does not apply to the
/// state before it changes nothing and is skipped (with the reason), one
/// made against an inventory statement the bundle has changed since yields.
pub(super) fn replay_each(base: &Snapshot, batch: &[Applied]) -> Result<(Snapshot, Vec<Skipped>)> {
    let mut snapshot = base.clone();
    let mut skipped = Vec::new();
    for a in batch {
        let change = &a.entry.change;
        let superseded = a
            .entry
            .basis
            .as_deref()
            .and_then(|b| lifecycle::superseded(&snapshot, change, b));
        if let Some(why) = superseded {
            skipped.push(Skipped {
                entry: a.entry.clone(),
                reason: format!("{} skipped: {why}", change.op()),
            });
            continue;
        }
        match lifecycle::apply(&snapshot, &[(a.at, change)], true) {
            Ok((next, _)) => snapshot = next,
            Err(e) => skipped.push(Skipped {
                entry: a.entry.clone(),
                reason: format!("{} skipped: {e}", change.op()),
            }),
        }
        if snapshot.store.pending() >= FOLD_EVERY {
            snapshot = folded(snapshot)?;
        }
    }
    // Fewer pending changes stay beside the compiled entities (decisions
    // are the same either way); folding after every small batch would cost
    // a copy of every entity per notification.
    Ok((snapshot, skipped))
}

/// Records applied and skipped changes in the decision log.
pub(super) fn record(
    log: &DecisionLog,
    slot: &ArcSwap<Snapshot>,
    ids: &DecisionIds,
    now: i64,
    outcome: &Outcome,
) {
    let snapshot = slot.load();
    for a in &outcome.applied {
        audit::record_change(
            &snapshot.audit,
            log,
            &snapshot.revision,
            a.at,
            &ids.next(now),
            &a.entry,
            false,
        );
    }
    record_skips(log, &snapshot, ids, now, &outcome.skipped);
}

/// Records each change that was skipped, with the reason.
pub(super) fn record_skips(
    log: &DecisionLog,
    snapshot: &Snapshot,
    ids: &DecisionIds,
    now: i64,
    skipped: &[Skipped],
) {
    for s in skipped {
        let mut context = serde_json::Map::new();
        context.insert("journal_seq".into(), s.entry.seq.into());
        context.insert("op".into(), s.entry.change.op().into());
        context.insert("skipped".into(), s.reason.clone().into());
        audit::record_event(
            &snapshot.audit,
            log,
            &snapshot.revision,
            now,
            &ids.next(now),
            "agentauthz:replay_skip",
            &s.entry.change.subject(),
            audit::RecordDecision::Deny,
            "lifecycle/skipped",
            context,
        );
    }
}

/// The change `seq` as applied, if it is in `outcome`.
pub(super) fn find(outcome: &Outcome, seq: u64) -> Option<&JournalEntry> {
    outcome
        .applied
        .iter()
        .map(|a| &a.entry)
        .find(|e| e.seq == seq)
}

/// Why `seq` was skipped, if it was.
pub(super) fn skip_reason(outcome: &Outcome, seq: u64) -> Option<&str> {
    outcome
        .skipped
        .iter()
        .find(|s| s.entry.seq == seq)
        .map(|s| s.reason.as_str())
}

/// What the follower thread shares with the engine.
#[cfg_attr(
    not(all(feature = "postgres", not(target_arch = "wasm32"))),
    allow(dead_code)
)]
#[derive(Debug, Clone)]
pub(super) struct Shared {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub writer: Arc<Mutex<Writer>>,
    pub log: Arc<ArcSwapOption<DecisionLog>>,
    pub clock: Arc<dyn Clock>,
    pub health: Arc<Health>,
}

#[cfg_attr(
    not(all(feature = "postgres", not(target_arch = "wasm32"))),
    allow(dead_code)
)]
impl Shared {
    /// Reads and applies everything past the last applied change. `true`
    /// when the engine is in sync (no more rows, no gap).
    pub(super) fn catch_up(
        &self,
        ids: &DecisionIds,
        mut read: impl FnMut(u64) -> Result<Vec<Stored>>,
    ) -> Result<bool> {
        loop {
            let now = self.clock.now_millis();
            // Closed: the engine follows the store no more.
            let Some(applied) = self.applied() else {
                return Ok(false);
            };
            let rows = read(applied)?;
            let full = rows.len() >= PAGE;
            let (outcome, applied) = {
                let mut writer = lock(&self.writer)?;
                let Some(applied) = writer.fleet.as_ref().map(|f| f.applied) else {
                    return Ok(false);
                };
                let outcome = apply_stored(&self.snapshot, &mut writer, rows)?;
                let applied = writer.fleet.as_ref().map_or(applied, |f| f.applied);
                (outcome, applied)
            };
            if let Some(log) = self.log.load_full() {
                record(&log, &self.snapshot, ids, now, &outcome);
            }
            if outcome.gap {
                self.health.gap(applied);
                return Ok(false);
            }
            if !full {
                self.health.synced(applied, now);
                return Ok(true);
            }
        }
    }

    /// The last change applied; `None` once the engine let its store go.
    fn applied(&self) -> Option<u64> {
        lock(&self.writer)
            .ok()
            .and_then(|w| w.fleet.as_ref().map(|f| f.applied))
    }
}

/// Stops the follower thread when the engine goes (or is closed).
#[derive(Debug, Default)]
pub(super) struct StopOnDrop(pub Arc<AtomicBool>, pub Mutex<Option<Ending>>);

/// How [`StopOnDrop::stop_and_join`] knows the thread ended: the thread holds
/// the sender of `done` until its last statement.
#[derive(Debug)]
pub(super) struct Ending {
    pub done: Receiver<()>,
    pub thread: std::thread::JoinHandle<()>,
}

impl StopOnDrop {
    pub fn stop(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Stops the thread and waits until it has ended (its connection
    /// closed), at most [`STOP_WAIT`]: the thread looks at the flag every
    /// [`STOP_CHECK`], but a connection attempt in progress runs to its
    /// own timeout. Past that the thread is left to end on its own.
    pub fn stop_and_join(&self) {
        self.stop();
        let ending = self.1.lock().ok().and_then(|mut d| d.take());
        if let Some(ending) = ending {
            if let Err(std::sync::mpsc::RecvTimeoutError::Disconnected) =
                ending.done.recv_timeout(STOP_WAIT)
            {
                // Done with its work: the join returns at once, and the
                // thread is gone from the process when it does.
                let _ = ending.thread.join();
            }
        }
    }
}

/// The longest `close` waits for a follower to end.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a follower waits for a notification before it looks whether it
/// was stopped (`close` waits at most about this long for it).
#[cfg_attr(
    not(all(feature = "postgres", not(target_arch = "wasm32"))),
    allow(dead_code)
)]
pub(super) const STOP_CHECK: std::time::Duration = std::time::Duration::from_millis(50);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
pub(super) mod pg {
    use super::{Shared, StopOnDrop, STOP_CHECK};
    use crate::store::postgres::{wait, Target};
    use crate::time::DecisionIds;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    /// Sleeps `poll`, or less when stopped.
    fn sleep_or_stop(poll: Duration, stop: &AtomicBool) {
        let deadline = Instant::now() + poll;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(left.min(STOP_CHECK));
        }
    }

    /// Waits up to `poll` for a notification, looking at `stop` every
    /// [`STOP_CHECK`]. `Err`: the connection is lost.
    fn wait_or_stop(
        client: &mut postgres::Client,
        poll: Duration,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + poll;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || stop.load(Ordering::Acquire) {
                return Ok(());
            }
            if wait(client, left.min(STOP_CHECK))? {
                return Ok(());
            }
        }
    }

    /// Starts the thread that LISTENs on the store, and polls every `poll`.
    pub(crate) fn start(
        shared: Shared,
        target: Target,
        poll: Duration,
    ) -> std::io::Result<StopOnDrop> {
        let stop = StopOnDrop::default();
        let flag = stop.0.clone();
        let (done, ended) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("agentauthz-follow".into())
            .spawn(move || {
                // Dropped when the thread ends (its connection dropped first).
                let _done = done;
                let ids = DecisionIds::new(shared.clock.now_millis());
                let mut conn = None;
                while !flag.load(Ordering::Acquire) {
                    let client = match &mut conn {
                        Some(c) => c,
                        None => match target.listen() {
                            Ok(c) => conn.insert(c),
                            Err(e) => {
                                shared.health.failed(e.to_string());
                                sleep_or_stop(poll, &flag);
                                continue;
                            }
                        },
                    };
                    // LISTEN is on before this read: nothing committed after
                    // it goes unnoticed.
                    let caught = shared.catch_up(&ids, |applied| {
                        target.read_after(client, applied, super::PAGE)
                    });
                    if let Err(e) = caught {
                        shared.health.failed(e.to_string());
                        conn = None;
                        sleep_or_stop(poll, &flag);
                        continue;
                    }
                    if let Err(e) = wait_or_stop(client, poll, &flag) {
                        shared.health.failed(format!("store connection lost: {e}"));
                        conn = None;
                    }
                }
            })?;
        if let Ok(mut d) = stop.1.lock() {
            *d = Some(super::Ending {
                done: ended,
                thread,
            });
        }
        Ok(stop)
    }
}
