//! Sinks: where records go. One chain (sequence numbers and hashes) per sink,
//! assigned under a mutex so concurrent checks produce one gap-free order.

use super::canonical::{hex, GENESIS_HASH};
use super::checkpoint::{self, Checkpoint};
use super::record::{add_mac, Body, DecisionRecord, RecordView};
use super::spool::{ExportStats, Spool, SpoolOptions, Transport};
use crate::error::{Error, ErrorCode, Result};
use crate::integrity::{IntegrityKeys, DEFAULT_CHECKPOINT_EVERY, RECORD_DOMAIN};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

const DEFAULT_BUFFER: usize = 64 * 1024;

/// Options of a JSON-lines file sink.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// The active file, e.g. `decisions.jsonl`.
    pub path: PathBuf,
    /// Start a new file before a record would make the active one larger than this.
    pub max_bytes: Option<u64>,
    /// Size of the write buffer. Records reach the file when it fills, on
    /// [`DecisionLog::flush`], on rotation, and when the last handle is dropped.
    pub buffer_bytes: usize,
    /// Authenticate every record (and checkpoint) with the current key.
    pub keys: IntegrityKeys,
    /// Cut a torn last line off (a crash while writing) and continue the
    /// chain, instead of refusing to open the log (`log_corrupt`).
    pub recover: bool,
    /// Write a checkpoint (`<path>.checkpoint`) every this many records, as
    /// well as on rotation, flush and close.
    pub checkpoint_every: u64,
}

impl FileOptions {
    pub fn new(path: impl Into<PathBuf>) -> FileOptions {
        FileOptions {
            path: path.into(),
            max_bytes: None,
            buffer_bytes: DEFAULT_BUFFER,
            keys: IntegrityKeys::none(),
            recover: false,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
        }
    }

    /// Records and checkpoints carry a MAC with the current key of `keys`.
    pub fn keys(mut self, keys: IntegrityKeys) -> FileOptions {
        self.keys = keys;
        self
    }

    /// Cut a torn last line off instead of refusing to open the log.
    pub fn recover(mut self, recover: bool) -> FileOptions {
        self.recover = recover;
        self
    }

    pub fn max_bytes(mut self, max_bytes: u64) -> FileOptions {
        self.max_bytes = Some(max_bytes);
        self
    }
}

type Callback = Box<dyn Fn(&DecisionRecord) -> std::result::Result<(), String> + Send + Sync>;

enum Target {
    File(FileOptions),
    Stdout,
    Callback(Callback),
    Export(Arc<Spool>),
}

struct Active {
    writer: BufWriter<File>,
    /// The same file, for the checkpoint thread's `fsync`.
    sync: Arc<File>,
    size: u64,
    next_index: u64,
}

struct State {
    seq: u64,
    head: String,
    file: Option<Active>,
    line: Vec<u8>,
    /// The `seq` of the last checkpoint written.
    checkpointed: u64,
    /// The last journal change this log recorded (kept in checkpoints).
    journal_seq: Option<u64>,
}

struct Inner {
    target: Target,
    keys: IntegrityKeys,
    /// Bytes of a torn last line cut off when the file was opened.
    recovered: Option<u64>,
    /// The `seq` of the checkpoint found when the file was opened.
    checkpoint_seq: Option<u64>,
    /// Whether the recovery was recorded (once, by the first engine).
    recovery_noted: std::sync::atomic::AtomicBool,
    /// The exclusive lock of a file sink (`<path>.lock`), held while open.
    _lock: Option<File>,
    state: Mutex<State>,
    /// The first failure since the last `flush`. Its own lock: a nested
    /// check from a callback reports here while `state` is held.
    error: Arc<Mutex<Option<Error>>>,
    /// Writes the checkpoints due on the check path (file sinks).
    checkpointer: Option<Checkpointer>,
}

impl Inner {
    fn fail(&self, e: Error) {
        lock(&self.error).get_or_insert(e);
    }
}

/// A decision-log sink; cheap to clone (clones share one chain).
///
/// Give it to an engine with `Engine::builder().decision_log(log)` or
/// `engine.set_decision_log(Some(log))`; several engines may share one.
/// Logging never changes a decision: a failed write is kept and reported by
/// the next [`flush`](DecisionLog::flush).
#[derive(Clone)]
pub struct DecisionLog {
    inner: Arc<Inner>,
}

impl fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.inner.target {
            Target::File(o) => format!("file {}", o.path.display()),
            Target::Stdout => "stdout".into(),
            Target::Callback(_) => "callback".into(),
            Target::Export(_) => "export".into(),
        };
        let (seq, _) = self.head();
        f.debug_struct("DecisionLog")
            .field("target", &target)
            .field("seq", &seq)
            .finish()
    }
}

/// File sinks open in this process, so a path is opened once and its chain
/// has one writer, and so `flush_all` reaches every buffer.
static OPEN: Mutex<Vec<(PathBuf, Weak<Inner>)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// The sink whose callback is running on this thread (0: none).
    static IN_CALLBACK: Cell<usize> = const { Cell::new(0) };
}

fn io_error(what: &str, path: &Path, e: impl fmt::Display) -> Error {
    Error::new(
        ErrorCode::Io,
        format!("decision log: cannot {what} {}: {e}", path.display()),
    )
}

impl DecisionLog {
    /// A JSON-lines file, without rotation. See [`DecisionLog::file_with`].
    pub fn file(path: impl Into<PathBuf>) -> Result<DecisionLog> {
        DecisionLog::file_with(FileOptions::new(path))
    }

    /// A JSON-lines file, appended to. An existing log is continued: the next
    /// record chains to its last one (found in the active file, or in the
    /// newest rotated file when the active one is empty or absent). Opening a
    /// path that is already open in this process returns that same log.
    pub fn file_with(options: FileOptions) -> Result<DecisionLog> {
        let key = std::path::absolute(&options.path)
            .map_err(|e| io_error("resolve", &options.path, e))?;
        let mut open = lock(&OPEN);
        open.retain(|(_, w)| w.strong_count() > 0);
        if let Some(inner) = open
            .iter()
            .find(|(p, _)| *p == key)
            .and_then(|(_, w)| w.upgrade())
        {
            if let Target::File(existing) = &inner.target {
                if existing.max_bytes != options.max_bytes {
                    return Err(Error::new(
                        ErrorCode::Io,
                        format!(
                            "decision log {} is already open in this process with other options",
                            options.path.display()
                        ),
                    ));
                }
            }
            return Ok(DecisionLog { inner });
        }
        let path = &options.path;
        let lock_file = lock_path(path);
        let lock_handle = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_file)
            .map_err(|e| io_error("open", &lock_file, e))?;
        crate::journal::lock_exclusive(&lock_handle, path, ErrorCode::LogLocked, "decision log")?;
        let rotated = rotated_only(path)?;
        let next_index = rotated.last().map_or(1, |(n, _)| n + 1);
        let mut head = None;
        let mut recovered = None;
        if path.is_file() {
            let (last, cut) = last_record(path, options.recover)?;
            head = last;
            recovered = cut;
        }
        for (_, p) in rotated.iter().rev() {
            if head.is_some() {
                break;
            }
            head = last_record(p, false)?.0;
        }
        let (seq, head) = head.unwrap_or_else(|| (0, GENESIS_HASH.to_string()));
        let opened_checkpoint = checkpoint::read(path).ok().flatten();
        if let Some(cp) = opened_checkpoint.as_ref().filter(|cp| cp.seq > seq) {
            // Appending would hide the cut behind new records.
            return Err(Error::new(
                ErrorCode::LogCorrupt,
                format!(
                    "decision log {}: its checkpoint names record {} but the log ends at {seq}: \
                     records were removed (to start a new log, move the log and its \
                     .checkpoint file away together)",
                    path.display(),
                    cp.seq
                ),
            ));
        }
        let journal_seq = opened_checkpoint.as_ref().and_then(|c| c.journal_seq);
        let error = Arc::new(Mutex::new(None));
        let checkpointer = Checkpointer::start(path, &options.keys, seq, &error);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io_error("open", path, e))?;
        let size = file
            .metadata()
            .map_err(|e| io_error("read the size of", path, e))?
            .len();
        let sync = Arc::new(file.try_clone().map_err(|e| io_error("open", path, e))?);
        let active = Active {
            writer: BufWriter::with_capacity(options.buffer_bytes.max(1), file),
            sync,
            size,
            next_index,
        };
        let mut state = State::new(seq, head, Some(active));
        state.checkpointed = seq;
        state.journal_seq = journal_seq;
        let inner = Arc::new(Inner {
            keys: options.keys.clone(),
            recovered,
            checkpoint_seq: opened_checkpoint.map(|c| c.seq),
            recovery_noted: Default::default(),
            _lock: Some(lock_handle),
            target: Target::File(options),
            state: Mutex::new(state),
            error,
            checkpointer: Some(checkpointer),
        });
        open.push((key, Arc::downgrade(&inner)));
        Ok(DecisionLog { inner })
    }

    /// One JSON line per record on standard output.
    pub fn stdout() -> DecisionLog {
        DecisionLog::with_target(Target::Stdout)
    }

    /// Calls `f` with every record, in sequence order, one at a time, on the
    /// thread that called `check`. `f` must not call `check` on an engine
    /// logging to this same sink (that record would be dropped and reported
    /// by `flush`); a panic in `f` is caught and reported the same way.
    pub fn callback(f: impl Fn(&DecisionRecord) + Send + Sync + 'static) -> DecisionLog {
        DecisionLog::try_callback(move |r| {
            f(r);
            Ok(())
        })
    }

    /// A callback that can fail (e.g. a Python callable that raises): the
    /// first failure since the last flush is returned by [`flush`](DecisionLog::flush).
    pub fn try_callback(
        f: impl Fn(&DecisionRecord) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> DecisionLog {
        DecisionLog::with_target(Target::Callback(Box::new(f)))
    }

    /// A sink that keeps records for the host to collect with
    /// [`RecordQueue::take`]: for hosts whose callbacks cannot be called from
    /// inside `check` (JavaScript functions in Node and WASM), which deliver
    /// the records themselves right after each check, in order.
    pub fn queue() -> (DecisionLog, RecordQueue) {
        let queue = RecordQueue::default();
        let q = queue.clone();
        let log = DecisionLog::callback(move |r| lock(&q.records).push(r.clone()));
        (log, queue)
    }

    /// An exporting sink: each record is written to the spool directory
    /// (`options.dir`) and delivered, in order and in batches, by `transport`
    /// on a background thread; a record leaves the spool once the receiver
    /// acknowledged it. The chain continues from the spool (or from the last
    /// acknowledged record) after a restart. See [`SpoolOptions`].
    pub fn export(options: SpoolOptions, transport: Box<dyn Transport>) -> Result<DecisionLog> {
        let keys = options.keys.clone();
        let (spool, head) = Spool::open(options)?;
        let (seq, head) = head.unwrap_or_else(|| (0, GENESIS_HASH.to_string()));
        spool.start(transport)?;
        let log = DecisionLog::with_target(Target::Export(spool));
        let mut inner = log.inner;
        if let Some(inner) = Arc::get_mut(&mut inner) {
            inner.keys = keys;
            let state = inner
                .state
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            state.seq = seq;
            state.head = head;
        }
        Ok(DecisionLog { inner })
    }

    /// The counters of an exporting sink (`None` for other sinks).
    pub fn export_stats(&self) -> Option<ExportStats> {
        match &self.inner.target {
            Target::Export(spool) => Some(spool.stats()),
            _ => None,
        }
    }

    /// Waits until the receiver acknowledged every record logged so far
    /// (true), or `timeout` passed (false). True at once for other sinks.
    pub fn wait_exported(&self, timeout: std::time::Duration) -> bool {
        match &self.inner.target {
            Target::Export(spool) => spool.wait_acked(timeout),
            _ => true,
        }
    }

    fn with_target(target: Target) -> DecisionLog {
        DecisionLog {
            inner: Arc::new(Inner {
                target,
                keys: IntegrityKeys::none(),
                recovered: None,
                checkpoint_seq: None,
                recovery_noted: Default::default(),
                _lock: None,
                state: Mutex::new(State::new(0, GENESIS_HASH.to_string(), None)),
                error: Arc::new(Mutex::new(None)),
                checkpointer: None,
            }),
        }
    }

    /// Continues a chain from `(seq, hash)` instead of the genesis, e.g. to
    /// resume after a restart. Callback and stdout sinks only: a file sink
    /// continues the chain of the file it opens, and ignores this.
    pub fn resume_from(self, seq: u64, hash: impl Into<String>) -> DecisionLog {
        if !matches!(self.inner.target, Target::File(_)) {
            let mut state = lock(&self.inner.state);
            state.seq = seq;
            state.head = hash.into();
        }
        self
    }

    /// The active file of a file sink.
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.target {
            Target::File(o) => Some(&o.path),
            _ => None,
        }
    }

    /// The last record's `seq` and `hash` (0 and the genesis hash before the
    /// first). Keep the hash somewhere safe to detect a truncated tail later
    /// (`agentauthz log verify --expect-head HASH`).
    pub fn head(&self) -> (u64, String) {
        let state = lock(&self.inner.state);
        (state.seq, state.head.clone())
    }

    /// Writes buffered records to the file; reports the first failure since
    /// the previous flush (a failed write, a failed callback, ...).
    pub fn flush(&self) -> Result<()> {
        {
            let mut state = lock(&self.inner.state);
            let path = self.path().map(Path::to_path_buf).unwrap_or_default();
            if let Some(active) = &mut state.file {
                if let Err(e) = active.writer.flush() {
                    self.inner.fail(io_error("write", &path, e));
                }
            }
            // Also when the thread has not written the last one yet: flush
            // returns with the head on disk.
            if state.seq != self.inner.checkpoint_written(&state) {
                if let Err(e) = self.inner.checkpoint(&mut state) {
                    self.inner.fail(e);
                }
            }
        }
        if let Target::Export(spool) = &self.inner.target {
            if let Err(e) = spool.flush() {
                self.inner.fail(e);
            }
        }
        if matches!(self.inner.target, Target::Stdout) {
            if let Err(e) = std::io::stdout().flush() {
                self.inner.fail(Error::new(
                    ErrorCode::Io,
                    format!("decision log: cannot write to stdout: {e}"),
                ));
            }
        }
        match lock(&self.inner.error).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// Assigns `seq`, `prev_hash` and `hash` and hands the record to the target.
    pub(crate) fn emit(&self, view: &RecordView<'_>) {
        if IN_CALLBACK.with(Cell::get) == self.id() {
            self.inner.fail(Error::new(
                ErrorCode::Internal,
                "decision log: a callback called check on an engine logging to its own sink; that decision was not logged",
            ));
            return;
        }
        // Everything but prev_hash and seq is serialized and hashed outside the lock.
        let body = Body::write(view);
        let mut record = match self.inner.target {
            Target::Callback(_) => Some(view.to_record()),
            _ => None,
        };
        let mut hasher = Sha256::new();
        hasher.update(&body.bytes[..body.prev_at]);

        let mut guard = lock(&self.inner.state);
        let state = &mut *guard;
        let seq = state.seq + 1;
        body.feed_rest(&mut hasher, &state.head, seq);
        let hash = hex(&hasher.finalize());
        let mac = self
            .inner
            .keys
            .current()
            .map(|k| (k.id(), k.mac(RECORD_DOMAIN, &[hash.as_bytes()])));
        match &self.inner.target {
            Target::File(options) => {
                state.line.clear();
                body.write_line(&mut state.line, &state.head, seq, &hash);
                add_mac(&mut state.line, mac);
                match write_file(state, options) {
                    Err(e) => self.inner.fail(e),
                    Ok(rotated) => {
                        state.seq = seq;
                        state.head = hash;
                        if rotated || seq - state.checkpointed >= options.checkpoint_every.max(1) {
                            if let Err(e) = self.inner.checkpoint_later(state) {
                                self.inner.fail(e);
                            }
                        }
                        return;
                    }
                }
            }
            Target::Export(spool) => {
                state.line.clear();
                body.write_line(&mut state.line, &state.head, seq, &hash);
                add_mac(&mut state.line, mac);
                // A record that could not be spooled is counted by the spool
                // and still takes its `seq`: the gap shows downstream too.
                spool.append(&state.line, seq);
            }
            Target::Stdout => {
                state.line.clear();
                body.write_line(&mut state.line, &state.head, seq, &hash);
                add_mac(&mut state.line, mac);
                if let Err(e) = std::io::stdout().lock().write_all(&state.line) {
                    self.inner.fail(Error::new(
                        ErrorCode::Io,
                        format!("decision log: cannot write to stdout: {e}"),
                    ));
                }
            }
            Target::Callback(f) => {
                if let Some(record) = &mut record {
                    record.seq = seq;
                    record.prev_hash = std::mem::take(&mut state.head);
                    record.hash = hash.clone();
                    if let Some((kid, mac)) = &mac {
                        record.kid = Some((*kid).to_string());
                        record.mac = Some(mac.clone());
                    }
                    let previous = IN_CALLBACK.with(|c| c.replace(self.id()));
                    let outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(record)));
                    IN_CALLBACK.with(|c| c.set(previous));
                    let failure = match outcome {
                        Ok(Ok(())) => None,
                        Ok(Err(message)) => Some(format!(
                            "decision log: the callback failed on record {seq}: {message}"
                        )),
                        Err(_) => Some(format!(
                            "decision log: the callback panicked on record {seq}"
                        )),
                    };
                    if let Some(message) = failure {
                        self.inner.fail(Error::new(ErrorCode::Internal, message));
                    }
                }
            }
        }
        state.seq = seq;
        state.head = hash;
    }
}

/// Records kept by a [`DecisionLog::queue`] sink until the host takes them.
#[derive(Debug, Clone, Default)]
pub struct RecordQueue {
    records: Arc<Mutex<Vec<DecisionRecord>>>,
}

impl RecordQueue {
    /// Every record since the last call, in sequence order.
    pub fn take(&self) -> Vec<DecisionRecord> {
        std::mem::take(&mut *lock(&self.records))
    }
}

impl State {
    fn new(seq: u64, head: String, file: Option<Active>) -> State {
        State {
            seq,
            head,
            file,
            line: Vec::with_capacity(1024),
            checkpointed: 0,
            journal_seq: None,
        }
    }
}

impl Inner {
    /// Flushes and syncs the active file, then writes the checkpoint of the
    /// chain's head (file sinks only).
    fn checkpoint(&self, state: &mut State) -> Result<()> {
        let (Target::File(options), Some(cp)) = (&self.target, &self.checkpointer) else {
            return Ok(());
        };
        let path = &options.path;
        let mut sync = None;
        if let Some(active) = &mut state.file {
            active
                .writer
                .flush()
                .map_err(|e| io_error("write", path, e))?;
            sync = Some(&*active.sync);
        }
        cp.shared
            .write(sync, state.seq, &state.head, state.journal_seq, false)?;
        state.checkpointed = state.seq;
        Ok(())
    }

    /// A checkpoint due on the check path: the buffered records reach the
    /// file here (a `write`), the `fsync` and the checkpoint file are left to
    /// the checkpoint thread. It writes checkpoints in order and never one
    /// older than a checkpoint already written.
    fn checkpoint_later(&self, state: &mut State) -> Result<()> {
        let (Target::File(options), Some(cp)) = (&self.target, &self.checkpointer) else {
            return Ok(());
        };
        let Some(sender) = &cp.jobs else {
            return self.checkpoint(state);
        };
        let Some(active) = &mut state.file else {
            return Ok(());
        };
        active
            .writer
            .flush()
            .map_err(|e| io_error("write", &options.path, e))?;
        let job = CheckpointJob {
            sync: Arc::clone(&active.sync),
            seq: state.seq,
            head: state.head.clone(),
            journal_seq: state.journal_seq,
        };
        if sender.send(job).is_err() {
            return self.checkpoint(state);
        }
        state.checkpointed = state.seq;
        Ok(())
    }

    /// The `seq` of the newest checkpoint written (the head when opened, for
    /// sinks without checkpoints).
    fn checkpoint_written(&self, state: &State) -> u64 {
        match &self.checkpointer {
            Some(cp) => *lock(&cp.shared.written),
            None => state.checkpointed,
        }
    }
}

/// The thread that writes a file sink's checkpoints due on the check path.
struct Checkpointer {
    shared: Arc<CheckpointShared>,
    /// `None` where no thread could be started: checkpoints are then written
    /// on the check path.
    jobs: Option<std::sync::mpsc::Sender<CheckpointJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct CheckpointShared {
    path: PathBuf,
    keys: IntegrityKeys,
    /// The `seq` of the newest checkpoint written; held while one is written.
    written: Mutex<u64>,
    /// The sink's first failure since its last flush.
    error: Arc<Mutex<Option<Error>>>,
}

struct CheckpointJob {
    /// The file holding the record `seq` (flushed to the OS already).
    sync: Arc<File>,
    seq: u64,
    head: String,
    journal_seq: Option<u64>,
}

impl Checkpointer {
    fn start(
        path: &Path,
        keys: &IntegrityKeys,
        seq: u64,
        error: &Arc<Mutex<Option<Error>>>,
    ) -> Checkpointer {
        let shared = Arc::new(CheckpointShared {
            path: path.to_path_buf(),
            keys: keys.clone(),
            written: Mutex::new(seq),
            error: Arc::clone(error),
        });
        let (tx, rx) = std::sync::mpsc::channel::<CheckpointJob>();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("agentauthz-checkpoint".into())
            .spawn(move || {
                while let Ok(mut job) = rx.recv() {
                    // Only the newest of the jobs waiting matters.
                    while let Ok(next) = rx.try_recv() {
                        job = next;
                    }
                    let r =
                        worker.write(Some(&job.sync), job.seq, &job.head, job.journal_seq, true);
                    if let Err(e) = r {
                        lock(&worker.error).get_or_insert(e);
                    }
                }
            })
            .ok();
        Checkpointer {
            shared,
            jobs: thread.is_some().then_some(tx),
            thread,
        }
    }

    /// Waits for the checkpoints sent so far to be written.
    fn finish(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl CheckpointShared {
    /// Syncs the file, then writes the checkpoint of `seq`: a checkpoint
    /// never names a record the disk may not hold. `newer_only`: skip it when
    /// a checkpoint of `seq` or later was written meanwhile.
    fn write(
        &self,
        sync: Option<&File>,
        seq: u64,
        head: &str,
        journal_seq: Option<u64>,
        newer_only: bool,
    ) -> Result<()> {
        let mut written = lock(&self.written);
        if newer_only && seq <= *written {
            return Ok(());
        }
        if let Some(file) = sync {
            sync_file(file).map_err(|e| io_error("write", &self.path, e))?;
        }
        let cp = Checkpoint {
            version: checkpoint::VERSION,
            seq,
            head: head.to_string(),
            time: checkpoint::now_rfc3339(),
            journal_seq,
            kid: None,
            mac: None,
        };
        checkpoint::write(&self.path, cp, &self.keys)?;
        *written = seq;
        Ok(())
    }
}

impl DecisionLog {
    /// Bytes of a torn last line that `recover` cut off when the file was opened.
    pub fn recovered(&self) -> Option<u64> {
        self.inner.recovered
    }

    /// [`recovered`](DecisionLog::recovered), the first time only: the engine
    /// that records the cut.
    pub(crate) fn take_recovered(&self) -> Option<u64> {
        let cut = self.inner.recovered?;
        let noted = self
            .inner
            .recovery_noted
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        (!noted).then_some(cut)
    }

    /// Whether records carry a MAC.
    pub fn is_keyed(&self) -> bool {
        self.inner.keys.is_keyed()
    }

    /// The last journal change recorded in this (file) log: from its
    /// checkpoint, and from the records written after the checkpoint.
    /// `None` for other sinks.
    pub(crate) fn recorded_journal_seq(&self) -> Option<u64> {
        let Target::File(options) = &self.inner.target else {
            return None;
        };
        let from_cp = lock(&self.inner.state).journal_seq;
        let after = self.inner.checkpoint_seq;
        let mut best = from_cp.unwrap_or(0);
        // Only the records after the checkpoint can hold later changes.
        if let Ok(text) = std::fs::read(&options.path) {
            for line in text.split(|&b| b == b'\n').rev() {
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                    continue;
                };
                let seq = v.get("seq").and_then(serde_json::Value::as_u64);
                if after.is_some_and(|a| seq.is_some_and(|s| s <= a)) {
                    break;
                }
                if let Some(j) = v
                    .pointer("/context/journal_seq")
                    .and_then(serde_json::Value::as_u64)
                {
                    if v.get("action")
                        .and_then(serde_json::Value::as_str)
                        .is_some_and(|a| a.starts_with("agentauthz:"))
                    {
                        best = best.max(j);
                    }
                }
            }
        }
        Some(best)
    }

    /// After the record of journal change `journal_seq`: the record reaches
    /// the disk and the checkpoint notes the change, so a restart knows
    /// which changes the log already holds.
    /// A failure is kept and reported by the next [`flush`](DecisionLog::flush):
    /// the change itself is made and journaled by then.
    pub(crate) fn sync_change(&self, journal_seq: u64) {
        if !matches!(self.inner.target, Target::File(_)) {
            return;
        }
        let mut state = lock(&self.inner.state);
        state.journal_seq = Some(state.journal_seq.unwrap_or(0).max(journal_seq));
        if let Err(e) = self.inner.checkpoint(&mut state) {
            self.inner.fail(e);
        }
    }
}

/// Writes the line; whether the file was rotated before it.
fn write_file(state: &mut State, options: &FileOptions) -> Result<bool> {
    let path = &options.path;
    let Some(active) = &mut state.file else {
        return Ok(false);
    };
    let len = state.line.len() as u64;
    let mut rotated = false;
    if let Some(max) = options.max_bytes {
        if active.size > 0 && active.size + len > max {
            rotate(active, path)?;
            rotated = true;
        }
    }
    active
        .writer
        .write_all(&state.line)
        .map_err(|e| io_error("write", path, e))?;
    active.size += len;
    Ok(rotated)
}

/// `<path>.lock`: the file whose OS lock makes one process the writer. Named
/// after the canonical path, so every spelling of a log (symlinks, `..`)
/// contends for the same lock.
fn lock_path(path: &Path) -> PathBuf {
    let canonical = std::fs::canonicalize(path).ok().or_else(|| {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
    });
    let path = canonical.as_deref().unwrap_or(path);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

/// Every sync of a log file (unit tests see which file, at which length).
fn sync_file(file: &File) -> std::io::Result<()> {
    file.sync_data()?;
    #[cfg(test)]
    tests::synced(file);
    Ok(())
}

fn rotate(active: &mut Active, path: &Path) -> Result<()> {
    // Synced before it is set aside: later checkpoints sync only the new
    // file, yet name records the old one holds.
    active
        .writer
        .flush()
        .and_then(|()| sync_file(&active.sync))
        .map_err(|e| io_error("write", path, e))?;
    let target = rotated_name(path, active.next_index);
    if target.exists() {
        return Err(io_error(
            "rotate",
            path,
            format!("{} exists already", target.display()),
        ));
    }
    std::fs::rename(path, &target).map_err(|e| io_error("rotate", path, e))?;
    active.next_index += 1;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_error("open", path, e))?;
    let capacity = active.writer.capacity();
    active.sync = Arc::new(file.try_clone().map_err(|e| io_error("open", path, e))?);
    active.writer = BufWriter::with_capacity(capacity, file);
    active.size = 0;
    Ok(())
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Target::Export(spool) = &self.target {
            spool.close();
        }
        if let Some(cp) = &mut self.checkpointer {
            cp.finish();
        }
        let mut state = std::mem::replace(
            self.state.get_mut().unwrap_or_else(PoisonError::into_inner),
            State::new(0, String::new(), None),
        );
        if let Some(active) = &mut state.file {
            let _ = active.writer.flush();
        }
        // At shutdown: anchor the tail (a later truncation shows up in verify).
        if state.seq != self.checkpoint_written(&state) {
            let _ = self.checkpoint(&mut state);
        }
    }
}

/// Flushes every file sink open in this process (bindings call it at exit).
pub fn flush_all() -> Result<()> {
    let logs: Vec<Arc<Inner>> = lock(&OPEN)
        .iter()
        .filter_map(|(_, w)| w.upgrade())
        .collect();
    let mut first = Ok(());
    for inner in logs {
        let r = DecisionLog { inner }.flush();
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// `decisions.jsonl` → (`decisions`, `.jsonl`); a name without a dot has no extension.
fn split_name(path: &Path) -> (String, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.rfind('.') {
        Some(i) if i > 0 => (name[..i].to_string(), name[i..].to_string()),
        _ => (name, String::new()),
    }
}

fn rotated_name(path: &Path, index: u64) -> PathBuf {
    let (stem, ext) = split_name(path);
    path.with_file_name(format!("{stem}.{index}{ext}"))
}

/// Rotated files of `path`, by index.
fn rotated_only(path: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let (stem, ext) = split_name(path);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&dir).map_err(|e| io_error("list", &dir, e))?;
    let prefix = format!("{stem}.");
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let index = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(ext.as_str()))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(index) = index {
            out.push((index, path.with_file_name(name)));
        }
    }
    out.sort();
    Ok(out)
}

/// The files of a rotated log in chain order: `decisions.1.jsonl`,
/// `decisions.2.jsonl`, …, then the active `decisions.jsonl` (if it exists).
pub fn rotated_files(path: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    let path = path.as_ref();
    let mut files: Vec<PathBuf> = rotated_only(path)?.into_iter().map(|(_, p)| p).collect();
    if path.is_file() {
        files.push(path.to_path_buf());
    }
    Ok(files)
}

/// A chain's head: the last record's `seq` and `hash`.
type Head = (u64, String);

fn corrupt_log(path: &Path, what: &str) -> Error {
    Error::new(
        ErrorCode::LogCorrupt,
        format!(
            "decision log {}: {what}, so its chain cannot be continued; check it with `agentauthz log verify`",
            path.display()
        ),
    )
}

/// `(seq, hash)` of the last record of a file (`None` if it has none) and,
/// with `recover`, the bytes of a torn last line cut off.
fn last_record(path: &Path, recover: bool) -> Result<(Option<Head>, Option<u64>)> {
    let len = std::fs::metadata(path)
        .map_err(|e| io_error("read", path, e))?
        .len();
    let mut cut = None;
    if recover && len > 0 {
        let text = std::fs::read(path).map_err(|e| io_error("read", path, e))?;
        if text.last() != Some(&b'\n') {
            let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io_error("open", path, e))?;
            file.set_len(keep as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error("cut the torn last line of", path, e))?;
            cut = Some(len - keep as u64);
        }
    }
    Ok((last_complete_record(path)?, cut))
}

fn last_complete_record(path: &Path) -> Result<Option<(u64, String)>> {
    let mut file = File::open(path).map_err(|e| io_error("open", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| io_error("read", path, e))?
        .len();
    if len == 0 {
        return Ok(None);
    }
    let mut window: u64 = 64 * 1024;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))
            .map_err(|e| io_error("read", path, e))?;
        let mut buf = Vec::new();
        Read::by_ref(&mut file)
            .take(len - start)
            .read_to_end(&mut buf)
            .map_err(|e| io_error("read", path, e))?;
        if buf.last() != Some(&b'\n') {
            return Err(corrupt_log(
                path,
                "the last line is incomplete (a write was cut off; open it with recover to cut it off)",
            ));
        }
        let body = &buf[..buf.len() - 1];
        let line = match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => &body[i + 1..],
            None if start == 0 => body,
            None => {
                window = window.saturating_mul(4);
                continue;
            }
        };
        let parsed: Option<(u64, String)> = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| {
                let seq = v.get("seq")?.as_u64()?;
                let hash = v.get("hash")?.as_str()?.to_string();
                Some((seq, hash))
            });
        return match parsed {
            Some(p) => Ok(Some(p)),
            None => Err(corrupt_log(path, "the last line is not a decision record")),
        };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// (inode, length) of every file synced, by any test of this process.
    static SYNCED: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

    pub(super) fn synced(file: &File) {
        if let Ok(m) = file.metadata() {
            lock(&SYNCED).push((m.ino(), m.len()));
        }
    }

    /// Power lost after a rotation must not take records a checkpoint
    /// already names: every file set aside was synced whole, after its last
    /// write (later checkpoints sync only the new file).
    #[test]
    fn a_rotated_file_is_synced_whole_before_it_is_set_aside() {
        let dir = std::env::temp_dir().join(format!("aaz-rotate-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("decisions.jsonl");
        let mut options = FileOptions::new(&path).max_bytes(2_000);
        options.checkpoint_every = u64::MAX;
        let log = DecisionLog::file_with(options).unwrap();
        let record = crate::audit::record::tests::sample();
        for _ in 0..20 {
            log.emit(&record.view());
        }
        log.flush().unwrap();
        let rotated: Vec<PathBuf> = rotated_files(&path)
            .unwrap()
            .into_iter()
            .filter(|p| *p != path)
            .collect();
        assert!(rotated.len() >= 3, "{rotated:?}");
        let synced = lock(&SYNCED).clone();
        for file in &rotated {
            let m = std::fs::metadata(file).unwrap();
            assert!(
                synced.contains(&(m.ino(), m.len())),
                "{} ({} bytes) was set aside unsynced",
                file.display(),
                m.len()
            );
        }
        drop(log);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rotated_names() {
        assert_eq!(
            rotated_name(Path::new("/x/decisions.jsonl"), 3),
            PathBuf::from("/x/decisions.3.jsonl")
        );
        assert_eq!(rotated_name(Path::new("log"), 1), PathBuf::from("log.1"));
        assert_eq!(
            rotated_name(Path::new("a.b.log"), 12),
            PathBuf::from("a.b.12.log")
        );
    }
}
