//! The decision log: one tamper-evident [`DecisionRecord`] per check, chained
//! by SHA-256, written to a sink (JSON-lines file with rotation, stdout, or a
//! callback); verification, reporting and OCSF export of those records; and
//! the `log-only` enforcement mode (per engine and per policy).
//!
//! # Record and chain
//! Every record carries `seq` (1, 2, 3, … without gaps, per sink), `prev_hash`
//! (the `hash` of the record before it; 64 zeros for the first record of a
//! log) and `hash`: the SHA-256, in lowercase hex, of the record's canonical
//! form *without* its `hash` member (see [`canonical_json`]):
//!
//! * JSON text in UTF-8 with no whitespace outside strings;
//! * object members sorted by key, comparing keys as UTF-8 byte strings
//!   (the same as comparing Unicode code points);
//! * strings escaped minimally: `"` → `\"`, `\` → `\\`, U+0008/0009/000A/000C/000D
//!   → `\b` `\t` `\n` `\f` `\r`, other characters below U+0020 → `\u00XX`
//!   (lowercase hex); everything else, including non-ASCII, written as is;
//! * integers in plain decimal; other numbers in their shortest round-trip
//!   form (records hold integers only unless a request's context holds a float).
//!
//! In Python, `json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
//! produces the same bytes for records whose context holds no floats.
//!
//! A file sink writes each record as one line: the canonical form with
//! `,"hash":"…"` appended as its last member. Verification re-derives the
//! canonical form from the parsed line, so the member order on disk is not
//! part of the contract.
//!
//! # Rotation
//! A file sink with `max_bytes` starts a new file before a record would make
//! the active file larger than that. The active file keeps its name
//! (`decisions.jsonl`); full files become `decisions.1.jsonl`,
//! `decisions.2.jsonl`, … in the order they were filled, so the chain order is
//! `decisions.1.jsonl`, `decisions.2.jsonl`, …, `decisions.jsonl`
//! ([`rotated_files`] lists them in that order). The chain continues across
//! files: the first record of a new file chains to the last of the previous one.
//! A file sink opened on an existing log continues its chain.

mod canonical;
mod checkpoint;
mod ocsf;
#[cfg(not(target_arch = "wasm32"))]
mod otlp;
mod record;
mod recorder;
mod report;
mod sink;
mod spool;
mod syslog;
mod verify;

pub use crate::bundle::OtlpConfig;
pub use crate::bundle::{Overflow, SyslogConfig};
pub use canonical::{canonical_json, record_hash, GENESIS_HASH};
pub use checkpoint::{checkpoint_path, Checkpoint};
pub use ocsf::{to_ocsf, OCSF_VERSION};
#[cfg(not(target_arch = "wasm32"))]
pub use otlp::{Otlp, OtlpOptions};
pub use record::{DecisionRecord, RecordDecision, RecordError, MIN_SCHEMA_VERSION, SCHEMA_VERSION};
pub use report::{Flip, Report, Tally};
pub use sink::{flush_all, rotated_files, DecisionLog, FileOptions, RecordQueue};
pub use spool::{ExportStats, Outgoing, SpoolOptions, Transport};
pub use syslog::{Syslog, SyslogOptions};
pub use verify::{
    read_records, read_verified, verify_files, verify_record_line, Damage, DamageKind, VerifiedLog,
    VerifyOptions, VerifyReport,
};

pub(crate) use verify::parse_line;

pub(crate) use recorder::{
    record_change, record_check, record_check_error, record_event, record_refused_session,
    record_refused_token, SnapshotAudit, WouldBe,
};

/// Moved to the bundle's configuration (issue 16); still named here.
pub use crate::bundle::Mode;
