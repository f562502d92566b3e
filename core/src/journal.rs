//! The journal: every run-time change, one JSON line each, synced to disk
//! before the call that made it returns, and replayed when the engine loads.
//!
//! One process owns a journal file at a time: it holds an exclusive OS lock
//! on it while open (released by the OS when the process ends, however it
//! ends). With an integrity key every entry carries a MAC over its canonical
//! form and its predecessor's MAC; a line without one, or whose MAC does not
//! verify, is refused.

use crate::change::Change;
use crate::error::{Detail, Error, ErrorCode, Location, Result};
use crate::integrity::{parse_strict_json, IntegrityKeys, JOURNAL_DOMAIN};
use crate::limits::Input;
use crate::time::parse_rfc3339_millis;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, optional_fields))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct JournalEntry {
    /// 1 for the first entry, no gaps.
    #[cfg_attr(test, ts(type = "number"))]
    pub seq: u64,
    /// When the change was made (engine clock), RFC 3339 UTC.
    pub at: String,
    /// Who made it.
    pub by: String,
    #[serde(flatten)]
    pub change: Change,
    /// For a change that overrides what the inventory says about an entity
    /// (status, owner, credential window): the content hash of that entity in
    /// the bundle's inventory when the change was made. If the inventory has
    /// changed the entity since, the inventory is the newer statement and the
    /// change is skipped on replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The id of the integrity key of `mac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// HMAC-SHA-256 (hex) over the previous entry's MAC and this entry's
    /// canonical form without `mac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// An open journal, positioned at its end, locked by this process.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
    keys: IntegrityKeys,
    /// The last entry's MAC ("" before the first, or when unkeyed).
    last_mac: String,
    recovered: Option<u64>,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::Io,
        format!("journal {}: {what}: {e}", path.display()),
    )
}

fn corrupt(path: &Path, line: usize, message: String) -> Error {
    Error::with_details(
        ErrorCode::JournalCorrupt,
        vec![Detail {
            message,
            location: Some(Location::line_col(&path.display().to_string(), line, 1)),
        }],
    )
}

/// Takes the exclusive lock of a journal or log file, or says who holds it.
pub(crate) fn lock_exclusive(file: &File, path: &Path, code: ErrorCode, what: &str) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(Error::new(
            code,
            format!(
                "{what} {} is open in another writer (another process, or another engine in this one); \
                 one writer at a time: stop it first",
                path.display()
            ),
        )),
        Err(TryLockError::Error(e)) => Err(Error::new(
            ErrorCode::Io,
            format!("{what} {}: cannot lock: {e}", path.display()),
        )),
    }
}

impl Journal {
    /// Opens (or creates) an unauthenticated journal; see [`Journal::open_with`].
    pub fn open(path: impl AsRef<Path>, recover: bool) -> Result<(Journal, Vec<JournalEntry>)> {
        Journal::open_with(path, recover, &IntegrityKeys::none())
    }

    /// Opens (or creates) the journal at `path`, locks it, and reads its
    /// entries, verifying their MACs with `keys`.
    ///
    /// A torn last line (a crash while appending) is an error unless
    /// `recover` is set, in which case it is cut off. A malformed line before
    /// the last is always an error: recovering it would drop later changes.
    /// Another writer holding the journal is `journal_locked`.
    pub fn open_with(
        path: impl AsRef<Path>,
        recover: bool,
        keys: &IntegrityKeys,
    ) -> Result<(Journal, Vec<JournalEntry>)> {
        let path = path.as_ref().to_path_buf();
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io(&path, "cannot open", e))?;
        lock_exclusive(&file, &path, ErrorCode::JournalLocked, "journal")?;
        if created {
            sync_parent(&path)?;
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|e| io(&path, "cannot read", e))?;
        let (entries, good_len) = parse(&path, &text, recover, keys)?;
        let mut recovered = None;
        if good_len < text.len() {
            // Only reached with `recover`: cut the torn line off.
            file.set_len(good_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| io(&path, "cannot truncate the torn last line", e))?;
            file.seek(SeekFrom::End(0))
                .map_err(|e| io(&path, "cannot seek", e))?;
            recovered = Some((text.len() - good_len) as u64);
        }
        let next_seq = entries.last().map_or(1, |e| e.seq + 1);
        let last_mac = entries
            .last()
            .and_then(|e| e.mac.clone())
            .unwrap_or_default();
        Ok((
            Journal {
                path,
                file,
                next_seq,
                keys: keys.clone(),
                last_mac,
                recovered,
            },
            entries,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sequence number the next entry gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Bytes of a torn last line cut off by `recover` when it was opened.
    pub fn recovered(&self) -> Option<u64> {
        self.recovered
    }

    /// Appends one entry and syncs it to disk. On error nothing counts as
    /// written (the caller must not apply the change).
    pub fn append(
        &mut self,
        at: String,
        by: &str,
        change: &Change,
        basis: Option<String>,
    ) -> Result<JournalEntry> {
        let mut entry = JournalEntry {
            seq: self.next_seq,
            at,
            by: by.to_string(),
            change: change.clone(),
            basis,
            kid: None,
            mac: None,
        };
        if let Some(key) = self.keys.current() {
            entry.kid = Some(key.id().to_string());
            let body = entry_body(&entry)?;
            entry.mac = Some(key.mac(JOURNAL_DOMAIN, &[self.last_mac.as_bytes(), &body]));
        }
        let mut line = serde_json::to_vec(&entry)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        line.push(b'\n');
        let before = self
            .file
            .metadata()
            .map_err(|e| io(&self.path, "cannot stat", e))?
            .len();
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Leave no partial line behind for the next append to follow.
            let _ = self.file.set_len(before);
            return Err(io(&self.path, "cannot append", e));
        }
        self.next_seq += 1;
        self.last_mac = entry.mac.clone().unwrap_or_default();
        Ok(entry)
    }
}

/// What an entry's MAC covers: the entry without `mac`, serialized (the
/// member order is the struct's, so reading and writing agree; `read_entry`
/// refuses any line that is not exactly such an entry).
fn entry_body(entry: &JournalEntry) -> Result<Vec<u8>> {
    let unsigned = JournalEntry {
        mac: None,
        ..entry.clone()
    };
    serde_json::to_vec(&unsigned).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
}

/// One line as an entry: strict JSON (no duplicate keys), and exactly the
/// members the entry has (no unknown ones, no other types).
fn read_entry(line: &[u8]) -> std::result::Result<JournalEntry, String> {
    let value = parse_strict_json(Input::JournalLine, line)?;
    let entry: JournalEntry = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let again = serde_json::to_value(&entry).map_err(|e| e.to_string())?;
    if again != value {
        return Err("members that are not part of a journal entry".to_string());
    }
    Ok(entry)
}

/// The entries of a journal text and the length of its intact prefix.
fn parse(
    path: &Path,
    text: &[u8],
    recover: bool,
    keys: &IntegrityKeys,
) -> Result<(Vec<JournalEntry>, usize)> {
    let mut entries: Vec<JournalEntry> = Vec::new();
    let mut offset = 0;
    let mut line_no = 0;
    let mut prev_mac = String::new();
    while offset < text.len() {
        line_no += 1;
        let rest = text.get(offset..).unwrap_or_default();
        let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (rest.get(..i).unwrap_or_default(), true),
            None => (rest, false),
        };
        if !complete {
            // Appends end with a newline: a line without one is torn.
            if recover {
                return Ok((entries, offset));
            }
            return Err(corrupt(
                path,
                line_no,
                "the last line is torn (the process stopped while appending); \
                 load with recover to cut it off"
                    .to_string(),
            ));
        }
        let entry = read_entry(line)
            .map_err(|e| corrupt(path, line_no, format!("malformed journal entry: {e}")))?;
        let expected = entries.last().map_or(1, |e| e.seq + 1);
        if entry.seq != expected {
            return Err(corrupt(
                path,
                line_no,
                format!("entry seq {} where {expected} was expected", entry.seq),
            ));
        }
        if parse_rfc3339_millis(&entry.at).is_none() {
            let message = format!("entry time {:?} is not an RFC 3339 time", entry.at);
            return Err(corrupt(path, line_no, message));
        }
        authenticate(&entry, &prev_mac, keys).map_err(|m| corrupt(path, line_no, m))?;
        prev_mac = entry.mac.clone().unwrap_or_default();
        entries.push(entry);
        offset += line.len() + 1;
    }
    Ok((entries, offset))
}

/// Checks an entry's MAC against the keys (and refuses MACs without keys:
/// an authenticated journal is never read as an unauthenticated one).
fn authenticate(
    entry: &JournalEntry,
    prev_mac: &str,
    keys: &IntegrityKeys,
) -> std::result::Result<(), String> {
    match (&entry.kid, &entry.mac, keys.is_keyed()) {
        (None, None, false) => Ok(()),
        (Some(kid), Some(_), false) => Err(format!(
            "the entry is authenticated (key id `{kid}`) but no integrity key is configured ([integrity] of agentauthz.toml)"
        )),
        (None, None, true) => Err(
            "unauthenticated entry: it has no MAC, and the journal is keyed (forged, or written without the key)"
                .to_string(),
        ),
        (Some(kid), Some(mac), true) => {
            let Some(key) = keys.by_id(kid) else {
                return Err(format!("the entry's key id `{kid}` is not a configured integrity key"));
            };
            let body = entry_body(entry).map_err(|e| e.to_string())?;
            if key.verify(JOURNAL_DOMAIN, &[prev_mac.as_bytes(), &body], mac) {
                Ok(())
            } else {
                Err("the entry's MAC does not verify: it was forged, changed, or moved".to_string())
            }
        }
        _ => Err("the entry has one of `kid` and `mac` without the other".to_string()),
    }
}

/// A new file's directory entry must reach the disk too.
fn sync_parent(path: &Path) -> Result<()> {
    #[cfg(not(unix))]
    let _ = path;
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(path, "cannot sync its directory", e))?;
    }
    Ok(())
}
