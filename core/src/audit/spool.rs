//! The export spool: a directory of segment files that holds every record an
//! exporting sink has logged until its receiver acknowledged it, so that an
//! outage of the receiver, a restart or a `kill -9` of the process loses no
//! logged record.
//!
//! Layout: `<first seq, 20 digits>.spool` segments of record lines (the same
//! lines a file sink writes, MAC included when the log is keyed), `acked`
//! (the last acknowledged `seq` and `hash`, authenticated when keyed),
//! `spool.lock` (one writer), `damaged.jsonl` (lines that failed
//! verification, kept for inspection and never sent).
//!
//! A record is sent once its line reached a segment; the sender thread sends
//! in `seq` order and moves `acked` forward only after the transport reports
//! the batch delivered. After a restart it resumes after `acked`: a record is
//! sent again only if the process stopped between the receiver's answer and
//! the `acked` write, so receivers deduplicate by `seq` (or `decision_id`).

use super::record::DecisionRecord;
use crate::bundle::Overflow;
use crate::error::{Error, ErrorCode, Result};
use crate::integrity::IntegrityKeys;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A chain head: `seq` and `hash` of a record.
type Head = (u64, String);

const ACK_DOMAIN: &[u8] = b"agentauthz spool ack v1";
const ACK_FILE: &str = "acked";
const DAMAGED_FILE: &str = "damaged.jsonl";
const SEGMENT_EXT: &str = ".spool";

/// Options of an exporting sink's spool and sender.
#[derive(Clone)]
pub struct SpoolOptions {
    /// The spool directory (created if missing).
    pub dir: PathBuf,
    /// Bytes the spool may hold (unacknowledged records); then `overflow` applies.
    pub max_bytes: u64,
    /// `true`: each record's line is written to the spool before `check`
    /// returns (it survives a crash of the process). `false`: lines are
    /// buffered in memory (up to `buffer_bytes`, then written by the caller)
    /// and written by the sender thread within `flush_interval`.
    pub durable: bool,
    /// What a check does when the spool is full.
    pub overflow: Overflow,
    /// How long `Overflow::Block` waits for the receiver to make room.
    pub block: Duration,
    /// Records per batch handed to the transport.
    pub batch: usize,
    /// Memory buffer of a non-durable spool.
    pub buffer_bytes: usize,
    /// How often the sender looks for new records when idle.
    pub flush_interval: Duration,
    /// Retry delays: from `retry_min`, doubling to `retry_max`, with jitter.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// On close, how long the sender may go on delivering what is spooled.
    pub drain: Duration,
    /// Authenticate records and the `acked` file; verify them when sending.
    pub keys: IntegrityKeys,
}

impl fmt::Debug for SpoolOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpoolOptions")
            .field("dir", &self.dir)
            .field("max_bytes", &self.max_bytes)
            .field("durable", &self.durable)
            .field("overflow", &self.overflow)
            .field("keyed", &self.keys.is_keyed())
            .finish_non_exhaustive()
    }
}

impl SpoolOptions {
    pub fn new(dir: impl Into<PathBuf>) -> SpoolOptions {
        SpoolOptions {
            dir: dir.into(),
            max_bytes: 256 * 1024 * 1024,
            durable: true,
            overflow: Overflow::Block,
            block: Duration::from_millis(200),
            batch: 512,
            buffer_bytes: 64 * 1024,
            flush_interval: Duration::from_millis(50),
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
            drain: Duration::from_secs(2),
            keys: IntegrityKeys::none(),
        }
    }

    fn segment_bytes(&self) -> u64 {
        (self.max_bytes / 8).clamp(4096, 8 * 1024 * 1024)
    }
}

/// One spooled record as a transport receives it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The record's line as spooled (without the newline).
    pub line: Vec<u8>,
    pub record: DecisionRecord,
}

/// Delivers batches of records to a receiver. `send` returns `Ok` only when
/// the receiver acknowledged the whole batch; an `Err` (its text must hold no
/// secret: it is kept in [`ExportStats::last_error`]) makes the sender retry
/// the same batch later. Implementations must time out: a receiver that hangs
/// must turn into an `Err`, not a sender stuck forever.
pub trait Transport: Send {
    fn send(&mut self, batch: &[Outgoing]) -> std::result::Result<(), String>;
}

/// Counters of an exporting sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportStats {
    /// `seq` of the last record written to the spool.
    pub spooled_seq: u64,
    /// `seq` of the last record the receiver acknowledged.
    pub acked_seq: u64,
    /// Records sent and acknowledged since the sink was opened.
    pub sent: u64,
    /// Records not spooled (spool full or not writable): never silent, each
    /// one is counted here, leaves a gap in `seq` and makes `flush` fail.
    pub dropped: u64,
    /// Spooled lines that failed verification (edited, truncated, replayed)
    /// and were moved to `damaged.jsonl` instead of being sent.
    pub damaged: u64,
    /// Failed deliveries (each one retried).
    pub failures: u64,
    /// Bytes in the spool.
    pub spool_bytes: u64,
    /// The last delivery failure.
    pub last_error: Option<String>,
}

struct Segment {
    first: u64,
    path: PathBuf,
    /// Bytes written to the file.
    bytes: u64,
}

struct Writer {
    segments: VecDeque<Segment>,
    file: Option<File>,
    /// Lines not yet written (non-durable spools).
    pending: Vec<u8>,
    pending_records: u64,
    pending_first: u64,
    /// Bytes on disk plus pending.
    total: u64,
    spooled_seq: u64,
    acked_seq: u64,
    stop: bool,
    /// Every record up to here was delivered or set aside (damaged).
    settled_seq: u64,
    /// The sender waits for new lines (at most `flush_interval`): an append
    /// that completes a batch wakes it (else no wake-up call on the check path).
    idle: bool,
    error: Option<Error>,
    last_error: Option<String>,
}

/// The spool and its sender thread.
pub(crate) struct Spool {
    opts: SpoolOptions,
    _lock: File,
    w: Mutex<Writer>,
    /// New lines (for the sender), room made or stop (for writers).
    cv: Condvar,
    dropped: AtomicU64,
    damaged: AtomicU64,
    failures: AtomicU64,
    sent: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error(what: &str, path: &Path, e: impl fmt::Display) -> Error {
    Error::new(
        ErrorCode::Io,
        format!("decision log spool: cannot {what} {}: {e}", path.display()),
    )
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ack {
    seq: u64,
    hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
}

fn ack_parts(seq: u64, hash: &str) -> [Vec<u8>; 2] {
    [seq.to_string().into_bytes(), hash.as_bytes().to_vec()]
}

fn read_ack(dir: &Path, keys: &IntegrityKeys) -> Result<Option<Head>> {
    let path = dir.join(ACK_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", &path, e)),
    };
    let corrupt = |why: &str| {
        Error::new(
            ErrorCode::LogCorrupt,
            format!(
                "decision log spool {}: the `acked` file {why}; it was changed outside agentauthz. \
                 Check what the receiver holds, then remove or restore the file",
                dir.display()
            ),
        )
    };
    let ack: Ack = serde_json::from_slice(&text).map_err(|_| corrupt("is not an ack"))?;
    if keys.is_keyed() {
        let [a, b] = ack_parts(ack.seq, &ack.hash);
        let ok = match (&ack.kid, &ack.mac) {
            (Some(kid), Some(mac)) => keys
                .by_id(kid)
                .is_some_and(|k| k.verify(ACK_DOMAIN, &[&a, &b], mac)),
            _ => false,
        };
        if !ok {
            return Err(corrupt("does not carry a valid MAC"));
        }
    }
    Ok(Some((ack.seq, ack.hash)))
}

fn write_ack(dir: &Path, keys: &IntegrityKeys, seq: u64, hash: &str) -> Result<()> {
    let (kid, mac) = match keys.current() {
        Some(k) => {
            let [a, b] = ack_parts(seq, hash);
            (Some(k.id().to_string()), Some(k.mac(ACK_DOMAIN, &[&a, &b])))
        }
        None => (None, None),
    };
    let ack = Ack {
        seq,
        hash: hash.to_string(),
        kid,
        mac,
    };
    let path = dir.join(ACK_FILE);
    let tmp = dir.join("acked.tmp");
    let text = serde_json::to_vec(&ack).map_err(|e| io_error("write", &path, e))?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| io_error("write", &path, e))
}

fn segment_name(first: u64) -> String {
    format!("{first:020}{SEGMENT_EXT}")
}

use super::verify::verify_record_line as verify_line;

impl Spool {
    /// Opens (or creates) the spool; returns it with the chain head to
    /// continue: the last spooled or acknowledged record.
    pub(crate) fn open(opts: SpoolOptions) -> Result<(Arc<Spool>, Option<Head>)> {
        let dir = opts.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        let lock_path = dir.join("spool.lock");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error("open", &lock_path, e))?;
        crate::journal::lock_exclusive(
            &lock_file,
            &dir,
            ErrorCode::LogLocked,
            "decision log spool",
        )?;
        let ack = read_ack(&dir, &opts.keys)?;
        let mut head = ack.clone();
        let mut segments = VecDeque::new();
        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| io_error("list", &dir, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(first) = name
                .strip_suffix(SEGMENT_EXT)
                .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok())
            {
                names.push((first, entry.path()));
            }
        }
        names.sort();
        let mut damaged = 0;
        let mut total = 0;
        for (first, path) in names {
            let mut bytes = std::fs::read(&path).map_err(|e| io_error("read", &path, e))?;
            // A torn tail (a write cut off, or the file truncated): set aside.
            if bytes.last().is_some_and(|&b| b != b'\n') {
                let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                append_damaged(&dir, &bytes[keep..])?;
                damaged += 1;
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| io_error("open", &path, e))?;
                f.set_len(keep as u64)
                    .map_err(|e| io_error("cut the torn tail of", &path, e))?;
                bytes.truncate(keep);
            }
            for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if let Ok(r) = verify_line(line, &opts.keys) {
                    if head.as_ref().is_none_or(|(s, _)| r.seq > *s) {
                        head = Some((r.seq, r.hash));
                    }
                }
            }
            total += bytes.len() as u64;
            segments.push_back(Segment {
                first,
                path,
                bytes: bytes.len() as u64,
            });
        }
        let spooled_seq = head.as_ref().map_or(0, |(s, _)| *s);
        let spool = Arc::new(Spool {
            _lock: lock_file,
            w: Mutex::new(Writer {
                segments,
                file: None,
                pending: Vec::new(),
                pending_records: 0,
                pending_first: 0,
                total,
                spooled_seq,
                acked_seq: ack.as_ref().map_or(0, |(s, _)| *s),
                stop: false,
                idle: false,
                settled_seq: 0,
                error: None,
                last_error: None,
            }),
            cv: Condvar::new(),
            dropped: AtomicU64::new(0),
            damaged: AtomicU64::new(damaged),
            failures: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            thread: Mutex::new(None),
            closed: AtomicBool::new(false),
            opts,
        });
        // New records go to a new segment: the old ones stay as they were read.
        {
            let mut w = lock(&spool.w);
            spool.roll(&mut w, spooled_seq + 1)?;
        }
        Ok((spool, head))
    }

    /// Starts the sender thread.
    pub(crate) fn start(self: &Arc<Spool>, transport: Box<dyn Transport>) -> Result<()> {
        let me = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("agentauthz-export".into())
            .spawn(move || me.run(transport))
            .map_err(|e| {
                Error::new(
                    ErrorCode::Io,
                    format!("decision log: cannot start the export thread: {e}"),
                )
            })?;
        *lock(&self.thread) = Some(handle);
        Ok(())
    }

    /// Starts a new segment whose first record is `first`.
    fn roll(&self, w: &mut Writer, first: u64) -> Result<()> {
        self.write_pending(w)?;
        let path = self.opts.dir.join(segment_name(first));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_error("open", &path, e))?;
        let bytes = file.metadata().map_or(0, |m| m.len());
        if w.segments.back().is_none_or(|s| s.path != path) {
            w.total += bytes;
            w.segments.push_back(Segment { first, path, bytes });
        }
        w.file = Some(file);
        Ok(())
    }

    fn write_pending(&self, w: &mut Writer) -> Result<()> {
        if w.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut w.pending);
        let records = std::mem::take(&mut w.pending_records);
        let outcome = match (&mut w.file, w.segments.back_mut()) {
            (Some(file), Some(seg)) => match file.write_all(&pending) {
                Ok(()) => {
                    seg.bytes += pending.len() as u64;
                    Ok(())
                }
                Err(e) => Err(io_error("write", &seg.path, e)),
            },
            _ => Err(io_error("write", &self.opts.dir, "no open segment")),
        };
        if outcome.is_err() {
            w.total -= pending.len() as u64;
            self.dropped.fetch_add(records, Ordering::Relaxed);
        }
        w.pending = pending;
        w.pending.clear();
        outcome
    }

    /// Spools one record line (ending in a newline). Returns false (and
    /// counts it) when the record could not be spooled.
    pub(crate) fn append(&self, line: &[u8], seq: u64) -> bool {
        let len = line.len() as u64;
        let mut w = lock(&self.w);
        if w.total + len > self.opts.max_bytes {
            if self.opts.overflow == Overflow::Block {
                let deadline = Instant::now() + self.opts.block;
                while w.total + len > self.opts.max_bytes && !w.stop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    w = self
                        .cv
                        .wait_timeout(w, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
            if w.total + len > self.opts.max_bytes {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                w.error.get_or_insert_with(|| {
                    Error::new(
                        ErrorCode::Io,
                        format!(
                            "decision log spool {} is full ({} bytes): records were dropped (see the export stats)",
                            self.opts.dir.display(),
                            self.opts.max_bytes
                        ),
                    )
                });
                return false;
            }
        }
        let active = w.segments.back().map_or(0, |s| s.bytes) + w.pending.len() as u64;
        if active > 0 && active + len > self.opts.segment_bytes() {
            if let Err(e) = self.roll(&mut w, seq) {
                w.error.get_or_insert(e);
            }
        }
        if w.pending.is_empty() {
            w.pending_first = seq;
        }
        w.pending.extend_from_slice(line);
        w.pending_records += 1;
        w.total += len;
        let mut ok = true;
        if self.opts.durable || w.pending.len() >= self.opts.buffer_bytes {
            if let Err(e) = self.write_pending(&mut w) {
                w.error.get_or_insert(e);
                ok = false;
            }
        }
        if ok {
            w.spooled_seq = seq;
        }
        // Fewer than a batch wait for the sender's own timeout: a wake-up per
        // record cost each check a futex call and the sender a request.
        let waiting = w.spooled_seq.saturating_sub(w.acked_seq.max(w.settled_seq));
        let wake = w.idle && waiting >= self.opts.batch.max(1) as u64;
        drop(w);
        if wake {
            self.cv.notify_all();
        }
        ok
    }

    /// Writes buffered lines; the first error since the last call, and a
    /// report of dropped and damaged records.
    pub(crate) fn flush(&self) -> Result<()> {
        let mut w = lock(&self.w);
        if let Err(e) = self.write_pending(&mut w) {
            w.error.get_or_insert(e);
        }
        match w.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub(crate) fn stats(&self) -> ExportStats {
        let w = lock(&self.w);
        ExportStats {
            spooled_seq: w.spooled_seq,
            acked_seq: w.acked_seq,
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            damaged: self.damaged.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            spool_bytes: w.total,
            last_error: w.last_error.clone(),
        }
    }

    /// Waits until every spooled record is acknowledged (true) or `timeout`.
    pub(crate) fn wait_acked(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut w = lock(&self.w);
        if let Err(e) = self.write_pending(&mut w) {
            w.error.get_or_insert(e);
        }
        self.cv.notify_all();
        loop {
            if w.acked_seq.max(w.settled_seq) >= w.spooled_seq {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            w = self
                .cv
                .wait_timeout(w, left.min(Duration::from_millis(50)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Writes what is buffered, lets the sender deliver what it can within
    /// `drain`, and stops it.
    pub(crate) fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        {
            let mut w = lock(&self.w);
            if let Err(e) = self.write_pending(&mut w) {
                w.error.get_or_insert(e);
            }
            w.stop = true;
        }
        self.cv.notify_all();
        if let Some(handle) = lock(&self.thread).take() {
            let _ = handle.join();
        }
    }

    // ------------------------------------------------------------ sender

    /// Up to `batch` verified records after `after`, from `cursor` on; the
    /// cursor after them. Lines that fail verification are set aside.
    fn read_batch(&self, cursor: &mut (u64, u64), after: u64) -> Vec<(Outgoing, (u64, u64))> {
        let mut out = Vec::new();
        loop {
            let (path, end, is_last, next_first) = {
                let w = lock(&self.w);
                let Some(pos) = w.segments.iter().position(|s| s.first >= cursor.0) else {
                    return out;
                };
                let seg = &w.segments[pos];
                if seg.first != cursor.0 {
                    *cursor = (seg.first, 0);
                }
                (
                    seg.path.clone(),
                    seg.bytes,
                    pos + 1 == w.segments.len(),
                    w.segments.get(pos + 1).map(|s| s.first),
                )
            };
            if cursor.1 < end {
                let mut buf = Vec::new();
                let read = File::open(&path).and_then(|mut f| {
                    f.seek(SeekFrom::Start(cursor.1))?;
                    f.take(end - cursor.1).read_to_end(&mut buf)
                });
                if let Err(e) = read {
                    self.note_failure(format!("cannot read {}: {e}", path.display()));
                    return out;
                }
                let mut offset = cursor.1;
                for line in buf.split_inclusive(|&b| b == b'\n') {
                    if !line.ends_with(b"\n") {
                        break; // written later
                    }
                    offset += line.len() as u64;
                    let text = &line[..line.len() - 1];
                    let last = out
                        .last()
                        .map_or(after, |(o, _): &(Outgoing, _)| o.record.seq);
                    match verify_line(text, &self.opts.keys) {
                        Ok(record) if record.seq > last => {
                            out.push((
                                Outgoing {
                                    line: text.to_vec(),
                                    record,
                                },
                                (cursor.0, offset),
                            ));
                        }
                        Ok(record) if record.seq <= after => {} // acknowledged before
                        Ok(_) => self.set_aside(text, "out of order (replayed or moved)"),
                        Err(why) => self.set_aside(text, &why),
                    }
                    if out.len() >= self.opts.batch.max(1) {
                        cursor.1 = offset;
                        return out;
                    }
                }
                cursor.1 = offset;
            }
            match next_first {
                Some(n) if !is_last => *cursor = (n, 0),
                _ => return out,
            }
        }
    }

    fn set_aside(&self, line: &[u8], why: &str) {
        self.damaged.fetch_add(1, Ordering::Relaxed);
        let _ = append_damaged(&self.opts.dir, line);
        let mut w = lock(&self.w);
        w.error.get_or_insert_with(|| {
            Error::new(
                ErrorCode::LogCorrupt,
                format!(
                    "decision log spool {}: a spooled line failed verification ({why}); it was moved to {DAMAGED_FILE} and not sent",
                    self.opts.dir.display()
                ),
            )
        });
    }

    fn note_failure(&self, message: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        lock(&self.w).last_error = Some(message);
    }

    /// After the receiver acknowledged up to `seq`/`hash` read up to `cursor`:
    /// note it and delete the segments before the cursor.
    fn acknowledge(&self, seq: u64, hash: &str, cursor: (u64, u64), count: u64) {
        if let Err(e) = write_ack(&self.opts.dir, &self.opts.keys, seq, hash) {
            self.note_failure(e.to_string());
        }
        self.sent.fetch_add(count, Ordering::Relaxed);
        let mut w = lock(&self.w);
        w.acked_seq = w.acked_seq.max(seq);
        while w.segments.len() > 1 {
            let done = match (w.segments.front(), w.segments.get(1)) {
                (Some(s), Some(_)) if s.first < cursor.0 => true,
                (Some(s), Some(_)) => s.first == cursor.0 && cursor.1 >= s.bytes,
                _ => false,
            };
            if !done {
                break;
            }
            if let Some(s) = w.segments.pop_front() {
                let _ = std::fs::remove_file(&s.path);
                w.total = w.total.saturating_sub(s.bytes);
            }
        }
        drop(w);
        self.cv.notify_all();
    }

    fn run(self: Arc<Spool>, mut transport: Box<dyn Transport>) {
        let mut cursor = (0u64, 0u64);
        let mut after = lock(&self.w).acked_seq;
        let mut delay = self.opts.retry_min;
        let mut drain_until: Option<Instant> = None;
        loop {
            let (stop, spooled) = {
                let mut w = lock(&self.w);
                if !self.opts.durable {
                    if let Err(e) = self.write_pending(&mut w) {
                        w.error.get_or_insert(e);
                    }
                }
                (w.stop, w.spooled_seq)
            };
            if stop && drain_until.is_none() {
                drain_until = Some(Instant::now() + self.opts.drain);
            }
            let mut next = cursor;
            let batch = self.read_batch(&mut next, after);
            if batch.is_empty() {
                // Whatever was read was acknowledged before or set aside:
                // never read (and set aside) again.
                cursor = next;
                if stop {
                    return;
                }
                let mut w = lock(&self.w);
                // Every record spooled before this read is settled.
                w.settled_seq = w.settled_seq.max(spooled);
                if w.settled_seq >= w.spooled_seq {
                    self.cv.notify_all();
                }
                if w.spooled_seq <= after && !w.stop {
                    w.idle = true;
                    let mut w = self
                        .cv
                        .wait_timeout(w, self.opts.flush_interval)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    w.idle = false;
                }
                continue;
            }
            let outgoing: Vec<Outgoing> = batch.into_iter().map(|(o, _)| o).collect();
            match transport.send(&outgoing) {
                Ok(()) => {
                    delay = self.opts.retry_min;
                    if let Some(last) = outgoing.last() {
                        after = last.record.seq;
                        // Past the batch and any line set aside after it.
                        cursor = next;
                        self.acknowledge(after, &last.record.hash, cursor, outgoing.len() as u64);
                    }
                }
                Err(e) => {
                    self.note_failure(e);
                    if drain_until.is_some_and(|d| Instant::now() >= d) || stop {
                        return;
                    }
                    let wait = jitter(delay);
                    delay = (delay * 2).min(self.opts.retry_max);
                    let w = lock(&self.w);
                    if !w.stop {
                        let _ = self.cv.wait_timeout(w, wait);
                    }
                }
            }
            if drain_until.is_some_and(|d| Instant::now() >= d) {
                return;
            }
        }
    }
}

/// `d` scaled by a random factor in [0.5, 1.0): retries of many senders spread out.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let r = match getrandom::fill(&mut b) {
        Ok(()) => u16::from_le_bytes(b),
        Err(_) => 0x8000,
    };
    d.mul_f64(0.5 + f64::from(r) / 131_072.0)
}

fn append_damaged(dir: &Path, line: &[u8]) -> Result<()> {
    let path = dir.join(DAMAGED_FILE);
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| io_error("open", &path, e))?;
    let mut bytes = line.to_vec();
    bytes.push(b'\n');
    f.write_all(&bytes).map_err(|e| io_error("write", &path, e))
}
