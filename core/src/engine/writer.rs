//! The write side of an engine: the store of run-time changes and every
//! change applied since load (kept apart so `follow` needs no engine item).

use super::lifecycle;
use super::snapshot::Snapshot;
use crate::error::{Error, ErrorCode, Result};
use crate::journal::{Journal, JournalEntry};
use crate::store::ChangeStore;
use std::sync::{Mutex, MutexGuard};

/// The write side: the journal and every change applied since load, so a
/// reload can apply them again on top of the new bundle.
#[derive(Debug, Default)]
pub(super) struct Writer {
    pub journal: Option<Journal>,
    pub history: Vec<Applied>,
    /// Journal entries that no longer applied when last replayed.
    pub skipped: Vec<Skipped>,
    /// `close` was called: changes are refused.
    pub closed: bool,
    /// A fleet's shared store (PostgreSQL) instead of the journal.
    pub fleet: Option<Fleet>,
    /// Where the fleet's store was, once `close` let it go (for status).
    pub closed_store: Option<String>,
    /// Rows of the shared store that are not readable changes, as listed.
    pub malformed: Vec<String>,
}

/// The write side's link to a shared store.
#[derive(Debug)]
pub(super) struct Fleet {
    pub store: Box<dyn ChangeStore>,
    /// The last sequence number applied or skipped here.
    pub applied: u64,
}

/// A change in the history: its journal entry (or the in-memory equivalent).
#[derive(Debug, Clone)]
pub(super) struct Applied {
    pub at: i64,
    pub entry: JournalEntry,
}

/// A change replay left out, and why.
#[derive(Debug, Clone)]
pub(super) struct Skipped {
    pub entry: JournalEntry,
    pub reason: String,
}

/// Locks the write side.
pub(super) fn lock(writer: &Mutex<Writer>) -> Result<MutexGuard<'_, Writer>> {
    writer
        .lock()
        .map_err(|_| Error::new(ErrorCode::Internal, "a previous change panicked"))
}

/// `snapshot` with its pending changes folded in (loading: requests start
/// on the compiled store).
pub(super) fn folded(snapshot: Snapshot) -> Result<Snapshot> {
    if snapshot.store.pending() == 0 {
        return Ok(snapshot);
    }
    let store = lifecycle::compacted(&snapshot)?;
    Ok(lifecycle::rebase(&snapshot, &snapshot, &store).unwrap_or(snapshot))
}
