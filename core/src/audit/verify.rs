//! Chain verification: finds the first broken record of a log and tells what
//! kind of damage it is.

use super::canonical::{hex, record_hash, GENESIS_HASH};
use super::checkpoint;
use super::record::{Body, DecisionRecord, MIN_SCHEMA_VERSION, SCHEMA_VERSION};
use crate::error::{Error, ErrorCode, Result};
use crate::integrity::{parse_strict_json, IntegrityKeys, RECORD_DOMAIN};
use crate::limits::Input;
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// What `verify_files` checks besides the chain itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Keys to check records' MACs with. Without keys, a record that carries
    /// a MAC cannot be verified and is reported `unauthenticated`; with keys,
    /// so is every record without a valid MAC.
    pub keys: IntegrityKeys,
    /// Do not compare the log with its checkpoint (`<last file>.checkpoint`).
    pub ignore_checkpoint: bool,
    /// A head hash recorded earlier (`DecisionLog::head`): it must be the
    /// hash of a record in the log, else the log lost its tail.
    pub expect_head: Option<String>,
    /// Verify a segment: the first record must chain to this hash instead of
    /// the genesis hash (and may have any `seq`).
    pub start_hash: Option<String>,
}

/// The kinds of damage, told apart by hashes and sequence numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DamageKind {
    /// A record's content no longer matches its hash, or a record was
    /// rewritten with a recomputed hash (its successor chains to another hash).
    Changed,
    /// Records are missing: a gap in `seq` whose records appear nowhere.
    Removed,
    /// A record that the chain skips: forged, or a copy of another record.
    Inserted,
    /// Genuine records in the wrong order (including files given out of order).
    Reordered,
    /// A line that is not a decision record (not JSON, missing members, incomplete).
    Malformed,
    /// The expected head (or the checkpoint's) is not in the log: records
    /// were removed from its end.
    Truncated,
    /// A record (or checkpoint) without a valid MAC where one is required,
    /// or with a MAC that cannot be checked (no key given).
    Unauthenticated,
}

impl DamageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DamageKind::Changed => "changed",
            DamageKind::Removed => "removed",
            DamageKind::Inserted => "inserted",
            DamageKind::Reordered => "reordered",
            DamageKind::Malformed => "malformed",
            DamageKind::Truncated => "truncated",
            DamageKind::Unauthenticated => "unauthenticated",
        }
    }
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first broken record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Damage {
    pub kind: DamageKind,
    pub file: String,
    /// 1-based line in `file`.
    pub line: usize,
    /// The `seq` of the record at that line, if it has one.
    pub seq: Option<u64>,
    pub message: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.kind)?;
        if let Some(seq) = self.seq {
            write!(f, " (seq {seq})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The outcome of verifying a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub files: Vec<String>,
    /// Records verified before the first damage (all of them if intact).
    pub records: usize,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The hash of the last verified record.
    pub head: Option<String>,
    /// Whether record MACs were checked (a key was given).
    pub authenticated: bool,
    /// The checkpoint the log was compared with: its `seq`.
    pub checkpoint_seq: Option<u64>,
    pub damage: Option<Damage>,
}

impl VerifyReport {
    pub fn intact(&self) -> bool {
        self.damage.is_none()
    }
}

#[derive(Debug)]
struct Rec {
    seq: u64,
    prev: String,
    hash: String,
    self_ok: bool,
    /// The MAC check: `Err(why)` when the record is not authentic.
    auth: std::result::Result<(), String>,
    record: DecisionRecord,
}

#[derive(Debug)]
struct Entry {
    file: usize,
    line: usize,
    rec: std::result::Result<Rec, String>,
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("cannot read {}: {e}", path.display()),
        )
    })
}

/// Splits a file into lines; an unterminated last line is reported as such.
fn lines(bytes: &[u8]) -> Vec<std::result::Result<&[u8], &[u8]>> {
    let mut out: Vec<std::result::Result<&[u8], &[u8]>> =
        bytes.split(|&b| b == b'\n').map(Ok).collect();
    match out.pop() {
        Some(Ok(last)) if !last.is_empty() => out.push(Err(last)),
        _ => {}
    }
    out
}

/// One line as a record: strict JSON (duplicate keys refused), a known
/// `schema_version`, and only the members a record of that version has.
/// The one reader of records: verify, report and export all use it.
pub(crate) fn parse_line(line: &[u8]) -> std::result::Result<(Value, DecisionRecord), String> {
    let value =
        parse_strict_json(Input::LogLine, line).map_err(|e| format!("not strict JSON: {e}"))?;
    let version = value.get("schema_version").and_then(Value::as_u64);
    match version {
        Some(v) if (u64::from(MIN_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&v) => {}
        Some(v) => return Err(format!("unsupported schema_version {v}")),
        None => return Err("not a decision record (no schema_version)".into()),
    }
    if version == Some(1) {
        if let Some(m) = ["fail_closed", "kid", "mac"]
            .iter()
            .find(|m| value.get(**m).is_some())
        {
            return Err(format!("a schema_version 1 record has no `{m}`"));
        }
    }
    let record: DecisionRecord =
        serde_json::from_value(value.clone()).map_err(|e| format!("not a decision record: {e}"))?;
    Ok((value, record))
}

/// One line of a log as a record that verifies on its own: strict parse,
/// its hash matches its content, its MAC is as `keys` require. (The chain
/// between lines is the caller's to follow.) For streams: stdin, `--follow`,
/// the export spool.
pub fn verify_record_line(
    line: &[u8],
    keys: &IntegrityKeys,
) -> std::result::Result<DecisionRecord, String> {
    if let Some(record) = verify_as_written(line, keys) {
        return Ok(record);
    }
    let (value, record) = parse_line(line)?;
    if record_hash(&value).as_deref() != Some(record.hash.as_str()) {
        return Err("the record's hash does not match its content".into());
    }
    authenticate(&record, keys)?;
    Ok(record)
}

/// [`verify_record_line`] for a line exactly as a sink writes it (the
/// canonical form with `hash`, `kid` and `mac` appended), which is every line
/// this crate wrote: parsed once, written again and compared byte for byte,
/// and hashed as written. It accepts exactly the lines the generic reader
/// accepts (same size and depth bounds, same hash and MAC); anything else
/// (`None`) goes to the generic reader, which also names what is wrong.
fn verify_as_written(line: &[u8], keys: &IntegrityKeys) -> Option<DecisionRecord> {
    let limits = crate::limits::Limits::default();
    limits.check_size(Input::LogLine, "line", line.len()).ok()?;
    // Duplicate members are refused by the derived reader, but not inside
    // `context`: the comparison below refuses those (written once, not twice).
    let record: DecisionRecord = serde_json::from_slice(line).ok()?;
    if record.schema_version != SCHEMA_VERSION {
        return None;
    }
    // The bracket depth of a line as written: `context` nests deepest, the
    // other members at most 3 deep (`errors`: record, array, object).
    let depth = 1 + value_depth_map(&record.context);
    if depth.max(3) > limits.depth() {
        return None;
    }
    let body = Body::write(&record.view());
    let mut again = Vec::with_capacity(line.len() + 1);
    body.write_line(&mut again, &record.prev_hash, record.seq, &record.hash);
    let mac = match (&record.kid, &record.mac) {
        (Some(kid), Some(mac)) => Some((kid.as_str(), mac.clone())),
        (None, None) => None,
        _ => return None,
    };
    super::record::add_mac(&mut again, mac);
    if again.strip_suffix(b"\n") != Some(line) {
        return None;
    }
    let mut h = sha2::Sha256::default();
    body.feed(&mut h, &record.prev_hash, record.seq);
    if hex(&sha2::Digest::finalize(h)) != record.hash {
        return None;
    }
    authenticate(&record, keys).ok()?;
    Some(record)
}

/// Bracket depth of an object as JSON text (`{}` is 1).
fn value_depth_map(map: &serde_json::Map<String, Value>) -> usize {
    1 + map.values().map(value_depth).max().unwrap_or(0)
}

fn value_depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => value_depth_map(map),
        Value::Array(items) => 1 + items.iter().map(value_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Whether a record's MAC is as `keys` require.
pub(crate) fn authenticate(
    record: &DecisionRecord,
    keys: &IntegrityKeys,
) -> std::result::Result<(), String> {
    match (&record.kid, &record.mac, keys.is_keyed()) {
        (None, None, false) => Ok(()),
        (None, None, true) => Err("the record has no MAC but the log is keyed: forged, or written without the key".into()),
        (Some(kid), Some(mac), true) => match keys.by_id(kid) {
            Some(key) if key.verify(RECORD_DOMAIN, &[record.hash.as_bytes()], mac) => Ok(()),
            Some(_) => Err("the record's MAC does not verify: forged, or changed with a recomputed hash".into()),
            None => Err(format!("the record's key id `{kid}` is not a given key")),
        },
        (Some(kid), Some(_), false) => Err(format!(
            "the record carries a MAC (key id `{kid}`): give the key to verify it (--bundle, --key-env or --key-file)"
        )),
        _ => Err("the record has one of `kid` and `mac` without the other".into()),
    }
}

fn parse_entry(
    line: std::result::Result<&[u8], &[u8]>,
    keys: &IntegrityKeys,
) -> std::result::Result<Rec, String> {
    let line =
        line.map_err(|_| "incomplete last line (no newline): a write was cut off".to_string())?;
    let (value, record) = parse_line(line)?;
    let self_ok = record_hash(&value).as_deref() == Some(record.hash.as_str());
    let auth = authenticate(&record, keys);
    Ok(Rec {
        seq: record.seq,
        prev: record.prev_hash.clone(),
        hash: record.hash.clone(),
        self_ok,
        auth,
        record,
    })
}

/// Every record of the files, in order, with where it was read; lines that
/// are not records (strictly: no duplicate keys, no unknown members) come
/// back as `Err(reason)`. Fails only if a file cannot be read. Does not
/// verify the chain: see [`read_verified`].
#[allow(clippy::type_complexity)]
pub fn read_records(
    paths: &[PathBuf],
) -> Result<Vec<(String, usize, std::result::Result<DecisionRecord, String>)>> {
    let mut out = Vec::new();
    for path in paths {
        let bytes = read_file(path)?;
        let name = path.display().to_string();
        for (i, line) in lines(&bytes).into_iter().enumerate() {
            let rec = match line {
                Ok(l) => parse_line(l).map(|(_, r)| r),
                Err(_) => Err("incomplete last line".to_string()),
            };
            out.push((name.clone(), i + 1, rec));
        }
    }
    Ok(out)
}

/// A log read as evidence: the verification report, and the records that
/// are sound on their own (strictly parsed, hash matching, MAC valid when
/// keys are given), in order.
#[derive(Debug, Clone)]
pub struct VerifiedLog {
    pub report: VerifyReport,
    pub records: Vec<DecisionRecord>,
    /// Lines that are not sound records.
    pub unsound: usize,
}

/// Verifies the chain through `paths`, given in chain order (for a rotated
/// log: `decisions.1.jsonl`, `decisions.2.jsonl`, …, `decisions.jsonl`).
/// Fails only if a file cannot be read; damage is part of the report.
pub fn verify_files(paths: &[PathBuf], options: &VerifyOptions) -> Result<VerifyReport> {
    read_verified(paths, options).map(|v| v.report)
}

/// Verifies the log and returns its sound records with the report.
pub fn read_verified(paths: &[PathBuf], options: &VerifyOptions) -> Result<VerifiedLog> {
    let mut entries = Vec::new();
    for (f, path) in paths.iter().enumerate() {
        let bytes = read_file(path)?;
        for (i, line) in lines(&bytes).into_iter().enumerate() {
            entries.push(Entry {
                file: f,
                line: i + 1,
                rec: parse_entry(line, &options.keys),
            });
        }
    }
    let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut report = VerifyReport {
        files: files.clone(),
        records: 0,
        first_seq: None,
        last_seq: None,
        head: None,
        authenticated: options.keys.is_keyed(),
        checkpoint_seq: None,
        damage: None,
    };
    let sound: Vec<DecisionRecord> = entries
        .iter()
        .filter_map(|e| e.rec.as_ref().ok())
        .filter(|r| r.self_ok && r.auth.is_ok())
        .map(|r| r.record.clone())
        .collect();
    let unsound = entries.len() - sound.len();
    let done = |report: VerifyReport| VerifiedLog {
        report,
        records: sound.clone(),
        unsound,
    };
    let mut prev_hash = options
        .start_hash
        .clone()
        .unwrap_or_else(|| GENESIS_HASH.to_string());
    // The seq the next record must have; None: any (a segment's first record).
    let mut expected: Option<u64> = if options.start_hash.is_some() {
        None
    } else {
        Some(1)
    };
    let mut seen_head = false;
    let mut hashes: std::collections::HashMap<u64, String> = std::collections::HashMap::new();
    for i in 0..entries.len() {
        let good = match &entries[i].rec {
            Ok(r) => r.self_ok && r.prev == prev_hash && expected.is_none_or(|x| r.seq == x),
            Err(_) => false,
        };
        if !good {
            report.damage = Some(classify(&entries, i, expected, &prev_hash, &files));
            return Ok(done(report));
        }
        if let Ok(Rec {
            auth: Err(why),
            seq,
            ..
        }) = &entries[i].rec
        {
            report.damage = Some(Damage {
                kind: DamageKind::Unauthenticated,
                file: files[entries[i].file].clone(),
                line: entries[i].line,
                seq: Some(*seq),
                message: why.clone(),
            });
            return Ok(done(report));
        }
        if let Ok(r) = &entries[i].rec {
            hashes.insert(r.seq, r.hash.clone());
            report.records += 1;
            report.first_seq.get_or_insert(r.seq);
            report.last_seq = Some(r.seq);
            report.head = Some(r.hash.clone());
            if options.expect_head.as_deref() == Some(r.hash.as_str()) {
                seen_head = true;
            }
            prev_hash = r.hash.clone();
            expected = Some(r.seq + 1);
        }
    }
    if let Some(expect) = &options.expect_head {
        if !seen_head {
            let (file, line) = entries
                .last()
                .map(|e| (files[e.file].clone(), e.line))
                .unwrap_or_else(|| (files.first().cloned().unwrap_or_default(), 0));
            report.damage = Some(Damage {
                kind: DamageKind::Truncated,
                file,
                line,
                seq: report.last_seq,
                message: format!(
                    "the expected head {expect} is not in the log: records were removed from its end (the log now ends at seq {})",
                    report.last_seq.map_or("-".to_string(), |s| s.to_string())
                ),
            });
            return Ok(done(report));
        }
    }
    if !options.ignore_checkpoint {
        if let Some(last) = paths.last() {
            report.damage = check_checkpoint(last, &options.keys, &report, &hashes, options);
            if report.damage.is_none() {
                report.checkpoint_seq = checkpoint::read(last).ok().flatten().map(|c| c.seq);
            }
        }
    }
    Ok(done(report))
}

/// Compares the log with the checkpoint of its last file, if there is one.
fn check_checkpoint(
    last: &Path,
    keys: &IntegrityKeys,
    report: &VerifyReport,
    hashes: &std::collections::HashMap<u64, String>,
    options: &VerifyOptions,
) -> Option<Damage> {
    let file = checkpoint::checkpoint_path(last).display().to_string();
    let damage = |kind, message| {
        Some(Damage {
            kind,
            file: file.clone(),
            line: 1,
            seq: None,
            message,
        })
    };
    let cp = match checkpoint::read(last) {
        Ok(Some(cp)) => cp,
        Ok(None) => return None,
        Err(why) => return damage(DamageKind::Malformed, why),
    };
    if let Err(why) = checkpoint::authenticate(&cp, keys) {
        return damage(DamageKind::Unauthenticated, why);
    }
    // A segment (--start-hash) may begin after the checkpointed record.
    if options.start_hash.is_some() && report.first_seq.is_some_and(|f| cp.seq < f) {
        return None;
    }
    if cp.seq == 0 {
        return None;
    }
    match hashes.get(&cp.seq) {
        Some(h) if *h == cp.head => None,
        Some(_) => damage(
            DamageKind::Changed,
            format!(
                "the record with seq {} is not the one the checkpoint of {} names: the log was rewritten",
                cp.seq, cp.time
            ),
        ),
        None => damage(
            DamageKind::Truncated,
            format!(
                "the checkpoint of {} names seq {} but the log ends at {}: records were removed from its end",
                cp.time,
                cp.seq,
                report.last_seq.map_or("-".to_string(), |s| s.to_string())
            ),
        ),
    }
}

/// Tells what is wrong at entry `i`, the first that does not continue the chain.
fn classify(
    entries: &[Entry],
    i: usize,
    expected: Option<u64>,
    prev_hash: &str,
    files: &[String],
) -> Damage {
    let at = |j: usize, kind: DamageKind, message: String| {
        let e = &entries[j];
        Damage {
            kind,
            file: files[e.file].clone(),
            line: e.line,
            seq: e.rec.as_ref().ok().map(|r| r.seq),
            message,
        }
    };
    let loc = |j: usize| format!("{}:{}", files[entries[j].file], entries[j].line);
    let expected_text = expected.map_or("the segment's first".to_string(), |x| x.to_string());
    // Would the chain continue if entry `i` were not there?
    let skipped = entries.get(i + 1).is_some_and(|n| {
        n.rec
            .as_ref()
            .is_ok_and(|r| r.self_ok && r.prev == prev_hash && expected.is_none_or(|x| r.seq == x))
    });
    let rec = match &entries[i].rec {
        Err(why) => {
            if skipped {
                return at(
                    i,
                    DamageKind::Inserted,
                    format!("a line that is not a record was inserted ({why})"),
                );
            }
            return at(i, DamageKind::Malformed, why.clone());
        }
        Ok(r) => r,
    };
    if !rec.self_ok {
        if skipped {
            return at(i, DamageKind::Inserted, "a record the chain skips was inserted (its hash does not match its content either)".into());
        }
        return at(
            i,
            DamageKind::Changed,
            "the record's content does not match its hash: it was changed after it was written"
                .into(),
        );
    }
    let duplicate_of = entries.iter().enumerate().find_map(|(j, e)| {
        (j != i && e.rec.as_ref().is_ok_and(|r| r.hash == rec.hash)).then_some(j)
    });
    if let Some(j) = duplicate_of {
        return at(
            i,
            DamageKind::Inserted,
            format!(
                "a copy of the record at {} was inserted (replayed record)",
                loc(j)
            ),
        );
    }
    match expected {
        Some(x) if rec.seq == x => {
            // Right seq, wrong link.
            if skipped {
                return at(i, DamageKind::Inserted, format!("a forged record with seq {x} was inserted; the chain continues after it"));
            }
            if i == 0 {
                return at(i, DamageKind::Changed, "the first record does not chain to the start of the log (genesis or --start-hash): it was rewritten".into());
            }
            at(i - 1, DamageKind::Changed, format!(
                "this record was rewritten with a recomputed hash: the next record (seq {x}, {}) chains to a different hash",
                loc(i)
            ))
        }
        Some(x) if rec.seq > x => {
            if rec.prev == prev_hash {
                return at(i, DamageKind::Changed, format!("the record's seq was rewritten (expected {x}) and its hash recomputed"));
            }
            // A genuine record out of place: its predecessor is elsewhere in the
            // log and no other record claims its place.
            let predecessor = entries.iter().enumerate().find_map(|(j, e)| {
                e.rec.as_ref().ok().filter(|r| r.hash == rec.prev && r.seq + 1 == rec.seq).map(|_| j)
            });
            let rival = entries.iter().enumerate().any(|(j, e)| {
                j != i && e.rec.as_ref().is_ok_and(|r| r.seq == rec.seq && r.prev == rec.prev)
            });
            if let (Some(_), false) = (predecessor, rival) {
                let missing_at = entries.iter().enumerate().skip(i + 1).find_map(|(j, e)| {
                    e.rec.as_ref().ok().filter(|r| r.seq == x && r.prev == prev_hash).map(|_| j)
                });
                let message = match missing_at {
                    Some(j) => format!("records are out of order: seq {x} comes later, at {}", loc(j)),
                    None => format!("records are out of order: seq {} appears before seq {x}", rec.seq),
                };
                return at(i, DamageKind::Reordered, message);
            }
            if skipped || rival {
                return at(i, DamageKind::Inserted, format!("a forged record with seq {} was inserted; the chain continues without it", rec.seq));
            }
            let n = rec.seq - x;
            at(i, DamageKind::Removed, format!(
                "{n} record{} missing before this one (seq {x}{})",
                if n == 1 { " is" } else { "s are" },
                if n == 1 { String::new() } else { format!("..{}", rec.seq - 1) }
            ))
        }
        Some(x) => {
            // A fork: the record before this one claims the same place in the
            // chain. The genuine one is the one the chain continues from.
            let fork_before = i.checked_sub(1).is_some_and(|j| {
                entries[j]
                    .rec
                    .as_ref()
                    .is_ok_and(|p| p.seq == rec.seq && p.prev == rec.prev)
            });
            let continues_from_this = entries.get(i + 1).is_some_and(|n| {
                n.rec.as_ref().is_ok_and(|r| {
                    r.self_ok && r.prev == rec.hash && r.seq == rec.seq + 1
                })
            });
            if fork_before && (continues_from_this || i + 1 == entries.len()) {
                return at(i - 1, DamageKind::Inserted, format!(
                    "a forged record with seq {} was inserted: the next line (a record with the same seq and predecessor) is the one the chain continues from",
                    rec.seq
                ));
            }
            at(i, DamageKind::Inserted, format!(
                "a record with seq {} appears where seq {x} belongs: inserted or replayed",
                rec.seq
            ))
        }
        None => at(i, DamageKind::Removed, format!(
            "the first record does not chain to the start hash: records before it are missing (expected {expected_text})"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::integrity::IntegrityKey;
    use serde_json::json;

    /// A record line as a sink writes it (without the newline).
    fn written(keys: &IntegrityKeys, context: Value) -> Vec<u8> {
        let record: DecisionRecord = serde_json::from_value(json!({
            "schema_version": SCHEMA_VERSION, "seq": 0, "timestamp": "2026-11-29T10:00:00.000Z",
            "decision_id": "01JDX", "policy_revision": "sha256:ab", "agent": "ci-bot",
            "principal": {"type": "Agent", "id": "ci-bot"}, "action": "github:push",
            "resource": {"type": "Repo", "id": "acme/\"api\""}, "decision": "deny",
            "reasons": ["a"], "errors": [{"policy": "p", "message": "m\n"}],
            "mode": "enforce", "context": context, "prev_hash": "", "hash": "",
        }))
        .unwrap();
        let body = Body::write(&record.view());
        let mut h = sha2::Sha256::default();
        body.feed(&mut h, GENESIS_HASH, 7);
        let hash = hex(&sha2::Digest::finalize(h));
        let mut line = Vec::new();
        body.write_line(&mut line, GENESIS_HASH, 7, &hash);
        let mac = keys
            .current()
            .map(|k| (k.id(), k.mac(RECORD_DOMAIN, &[hash.as_bytes()])));
        super::super::record::add_mac(&mut line, mac);
        line.pop();
        line
    }

    /// What the generic reader alone says of a line.
    fn generic(line: &[u8], keys: &IntegrityKeys) -> std::result::Result<DecisionRecord, String> {
        let (value, record) = parse_line(line)?;
        if record_hash(&value).as_deref() != Some(record.hash.as_str()) {
            return Err("hash".into());
        }
        authenticate(&record, keys)?;
        Ok(record)
    }

    fn keyed() -> IntegrityKeys {
        IntegrityKeys::new(IntegrityKey::new("k1", &[7; 32]).unwrap())
    }

    #[test]
    fn written_lines_take_the_fast_path_and_read_as_the_generic_reader_reads_them() {
        let context =
            json!({"z": 1.5, "b": [1, {"y": null, "x": true}], "a": "é\u{1}", "hash": "x"});
        for keys in [IntegrityKeys::none(), keyed()] {
            let line = written(&keys, context.clone());
            let fast = verify_as_written(&line, &keys).expect("fast path");
            assert_eq!(fast, generic(&line, &keys).unwrap());
            assert_eq!(verify_record_line(&line, &keys).unwrap(), fast);
        }
        // The wrong keys: refused on both paths.
        let line = written(&keyed(), context.clone());
        assert!(verify_as_written(&line, &IntegrityKeys::none()).is_none());
        assert!(verify_record_line(&line, &IntegrityKeys::none()).is_err());
        let other = IntegrityKeys::new(IntegrityKey::new("k1", &[8; 32]).unwrap());
        assert!(verify_as_written(&line, &other).is_none());
        assert!(verify_record_line(&line, &other).is_err());
    }

    #[test]
    fn other_lines_go_to_the_generic_reader_and_get_its_verdict() {
        let keys = IntegrityKeys::none();
        let line = String::from_utf8(written(&keys, json!({"a": 1, "b": "x"}))).unwrap();
        // Not as written but the same record (whitespace): accepted, by the generic reader.
        let spaced = line.replacen("{\"action\"", "{ \"action\"", 1);
        assert!(verify_as_written(spaced.as_bytes(), &keys).is_none());
        assert!(verify_record_line(spaced.as_bytes(), &keys).is_ok());
        // A duplicate context member the derived reader would let through.
        let dup = line.replacen("\"context\":{\"a\":1", "\"context\":{\"a\":1,\"a\":1", 1);
        assert_ne!(dup, line);
        assert!(verify_as_written(dup.as_bytes(), &keys).is_none());
        assert!(verify_record_line(dup.as_bytes(), &keys).is_err());
        // An edited value.
        let edited = line.replacen("\"b\":\"x\"", "\"b\":\"y\"", 1);
        assert_ne!(edited, line);
        assert!(verify_as_written(edited.as_bytes(), &keys).is_none());
        assert!(verify_record_line(edited.as_bytes(), &keys).is_err());
        // Depth: the fast path takes exactly what the generic reader takes,
        // either side of the bound (64) and with an empty or a deep member.
        let mut deep = json!(1);
        for n in 1..70 {
            deep = if n % 2 == 0 {
                json!([deep])
            } else {
                json!({"k": deep, "e": {}})
            };
            let line = written(&keys, json!({ "d": deep }));
            let generic_ok = generic(&line, &keys).is_ok();
            assert_eq!(verify_as_written(&line, &keys).is_some(), generic_ok, "{n}");
            assert_eq!(verify_record_line(&line, &keys).is_ok(), generic_ok, "{n}");
            assert_eq!(generic_ok, n < 62, "{n}");
        }
    }
}
