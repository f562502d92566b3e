//! Checkpoints: the head of a file log (its last record's `seq` and `hash`),
//! written beside it as `<log>.checkpoint` every N records, on rotation, on
//! flush and at close. `log verify` finds the checkpointed head in the log or
//! reports the log truncated, without the caller remembering a head hash.

use super::canonical::canonical_json;
use crate::error::{Error, ErrorCode, Result};
use crate::integrity::{parse_strict_json, IntegrityKeys, CHECKPOINT_DOMAIN};
use crate::limits::Input;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The checkpoint format version.
pub const VERSION: u32 = 1;

/// One checkpoint (the whole content of `<log>.checkpoint`, one JSON line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub version: u32,
    /// The `seq` of the last record written when the checkpoint was taken.
    pub seq: u64,
    /// That record's `hash`.
    pub head: String,
    /// When (system clock), RFC 3339 UTC.
    pub time: String,
    /// The last journal change the log recorded, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// HMAC-SHA-256 of the canonical form without `mac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// `<log>.checkpoint` of a log's active file.
pub fn checkpoint_path(log: &Path) -> PathBuf {
    let mut name = log.file_name().unwrap_or_default().to_os_string();
    name.push(".checkpoint");
    log.with_file_name(name)
}

fn body(cp: &Checkpoint) -> Vec<u8> {
    let unsigned = Checkpoint {
        mac: None,
        ..cp.clone()
    };
    canonical_json(&serde_json::to_value(&unsigned).unwrap_or_default())
}

pub(crate) fn now_rfc3339() -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Writes `cp` (with a MAC when keyed) atomically: a temporary file, synced,
/// renamed over the previous checkpoint.
pub(crate) fn write(log: &Path, mut cp: Checkpoint, keys: &IntegrityKeys) -> Result<()> {
    if let Some(key) = keys.current() {
        cp.kid = Some(key.id().to_string());
        cp.mac = Some(key.mac(CHECKPOINT_DOMAIN, &[&body(&cp)]));
    }
    let path = checkpoint_path(log);
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let io = |e: std::io::Error| {
        Error::new(
            ErrorCode::Io,
            format!(
                "decision log: cannot write the checkpoint {}: {e}",
                path.display()
            ),
        )
    };
    let mut line =
        serde_json::to_vec(&cp).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
    line.push(b'\n');
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&line).and_then(|()| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(())
}

/// The checkpoint of `log`, if it has one (strictly parsed; not yet authenticated).
pub fn read(log: &Path) -> std::result::Result<Option<Checkpoint>, String> {
    let path = checkpoint_path(log);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let value = parse_strict_json(Input::LogLine, text)?;
    serde_json::from_value(value)
        .map(Some)
        .map_err(|e| format!("{}: not a checkpoint: {e}", path.display()))
}

/// Whether the checkpoint is authentic under `keys` (`Err`: why not).
pub(crate) fn authenticate(
    cp: &Checkpoint,
    keys: &IntegrityKeys,
) -> std::result::Result<(), String> {
    match (&cp.kid, &cp.mac, keys.is_keyed()) {
        (None, None, false) => Ok(()),
        (None, None, true) => Err("the checkpoint has no MAC but a key was given: forged".into()),
        (Some(kid), Some(mac), true) => match keys.by_id(kid) {
            Some(key) if key.verify(CHECKPOINT_DOMAIN, &[&body(cp)], mac) => Ok(()),
            Some(_) => Err("the checkpoint's MAC does not verify: it was forged or changed".into()),
            None => Err(format!(
                "the checkpoint's key id `{kid}` is not a given key"
            )),
        },
        (Some(kid), Some(_), false) => Err(format!(
            "the checkpoint is authenticated (key id `{kid}`): give the key to verify it"
        )),
        _ => Err("the checkpoint has one of `kid` and `mac` without the other".into()),
    }
}
