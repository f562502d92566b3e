//! The journal: every run-time change, one JSON line each, synced to disk
//! before the call that made it returns, and replayed when the engine loads.
//!
//! One process owns a journal file at a time.

use crate::engine::Change;
use crate::error::{Detail, Error, ErrorCode, Location, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// 1 for the first entry, no gaps.
    pub seq: u64,
    /// When the change was made (engine clock), RFC 3339 UTC.
    pub at: String,
    /// Who made it.
    pub by: String,
    #[serde(flatten)]
    pub change: Change,
}

/// An open journal, positioned at its end.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
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

impl Journal {
    /// Opens (or creates) the journal at `path` and reads its entries.
    ///
    /// A torn last line (a crash while appending) is an error unless
    /// `recover` is set, in which case it is cut off. A malformed line before
    /// the last is always an error: recovering it would drop later changes.
    pub fn open(path: impl AsRef<Path>, recover: bool) -> Result<(Journal, Vec<JournalEntry>)> {
        let path = path.as_ref().to_path_buf();
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| io(&path, "cannot open", e))?;
        if created {
            sync_parent(&path)?;
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|e| io(&path, "cannot read", e))?;
        let (entries, good_len) = parse(&path, &text, recover)?;
        if good_len < text.len() {
            // Only reached with `recover`: cut the torn line off.
            file.set_len(good_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| io(&path, "cannot truncate the torn last line", e))?;
            file.seek(SeekFrom::End(0))
                .map_err(|e| io(&path, "cannot seek", e))?;
        }
        let next_seq = entries.last().map_or(1, |e| e.seq + 1);
        Ok((
            Journal {
                path,
                file,
                next_seq,
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

    /// Appends one entry and syncs it to disk. On error nothing counts as
    /// written (the caller must not apply the change).
    pub fn append(&mut self, at: String, by: &str, change: &Change) -> Result<JournalEntry> {
        let entry = JournalEntry {
            seq: self.next_seq,
            at,
            by: by.to_string(),
            change: change.clone(),
        };
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
        Ok(entry)
    }
}

/// The entries of a journal text and the length of its intact prefix.
fn parse(path: &Path, text: &[u8], recover: bool) -> Result<(Vec<JournalEntry>, usize)> {
    let mut entries: Vec<JournalEntry> = Vec::new();
    let mut offset = 0;
    let mut line_no = 0;
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
        let entry = std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|l| serde_json::from_str::<JournalEntry>(l).map_err(|e| e.to_string()))
            .map_err(|e| corrupt(path, line_no, format!("malformed journal entry: {e}")))?;
        let expected = entries.last().map_or(1, |e| e.seq + 1);
        if entry.seq != expected {
            return Err(corrupt(
                path,
                line_no,
                format!("entry seq {} where {expected} was expected", entry.seq),
            ));
        }
        entries.push(entry);
        offset += line.len() + 1;
    }
    Ok((entries, offset))
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
