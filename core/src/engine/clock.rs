//! Time and identifiers. The clock is injectable so tests and WASM (where
//! `SystemTime` is unavailable) supply their own.

use std::fmt::Debug;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// The engine's source of "now" for requests that carry none.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

/// The operating system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
    }
}

/// A clock that always reads the same instant (tests, replays).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl FixedClock {
    /// A fixed clock at an RFC 3339 instant.
    pub fn at(rfc3339: &str) -> Option<FixedClock> {
        let t =
            OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(FixedClock)
    }
}

impl Clock for FixedClock {
    fn now_millis(&self) -> i64 {
        self.0
    }
}

/// A clock that reads what it was last set to (tests of expiry, replays).
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(millis: i64) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(millis))
    }
    /// A manual clock at an RFC 3339 instant.
    pub fn at(rfc3339: &str) -> Option<ManualClock> {
        FixedClock::at(rfc3339).map(|c| ManualClock::new(c.0))
    }
    pub fn set(&self, millis: i64) {
        self.0.store(millis, Ordering::SeqCst);
    }
    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// `2026-11-29T10:00:00.000Z`, the form Cedar's `datetime` accepts.
pub fn format_millis(millis: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// An RFC 3339 timestamp (any offset, any fraction) in the UTC millisecond
/// form Cedar's `datetime` accepts; `None` if `text` is not RFC 3339.
pub fn rfc3339_to_cedar(text: &str) -> Option<String> {
    parse_rfc3339_millis(text).map(format_millis)
}

/// Decision ids in ULID form: 48 bits of milliseconds, then 80 bits that are
/// unique within the process (a counter through a bijective mixer, keyed by a
/// per-process seed).
#[derive(Debug)]
pub(crate) struct DecisionIds {
    seed: u64,
    counter: AtomicU64,
}

impl DecisionIds {
    pub fn new(clock_millis: i64) -> DecisionIds {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        // RandomState has no entropy on wasm32; the OS (or crypto.getRandomValues
        // in a browser) does. Best effort: on failure the other inputs remain.
        let mut random = [0u8; 8];
        if getrandom::fill(&mut random).is_ok() {
            h.write(&random);
        }
        h.write_i64(clock_millis);
        h.write_usize(std::ptr::addr_of!(h) as usize);
        DecisionIds {
            seed: h.finish(),
            counter: AtomicU64::new(0),
        }
    }

    pub fn next(&self, millis: i64) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let random = splitmix64(self.seed ^ n);
        let hi16 = (self.seed >> 48) as u128;
        let value: u128 =
            ((millis.max(0) as u128 & 0xFFFF_FFFF_FFFF) << 80) | (hi16 << 64) | u128::from(random);
        crockford(value)
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn crockford(value: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..26)
        .rev()
        .map(|i| char::from(ALPHABET[((value >> (i * 5)) & 0x1F) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_cedar_datetime() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        let c = FixedClock::at("2026-11-29T10:00:00Z").map(|c| c.0);
        assert_eq!(
            c.map(format_millis).as_deref(),
            Some("2026-11-29T10:00:00.000Z")
        );
    }

    #[test]
    fn normalizes_rfc3339() {
        assert_eq!(
            rfc3339_to_cedar("2026-11-29T11:00:00+01:00").as_deref(),
            Some("2026-11-29T10:00:00.000Z")
        );
        assert_eq!(
            rfc3339_to_cedar("2026-11-29T10:00:00.123456z").as_deref(),
            Some("2026-11-29T10:00:00.123Z")
        );
        assert_eq!(rfc3339_to_cedar("yesterday"), None);
    }

    #[test]
    fn decision_ids_are_unique_and_sortable_by_time() {
        let ids = DecisionIds::new(1);
        let a = ids.next(1_000);
        let b = ids.next(1_000);
        let c = ids.next(2_000);
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(c > a && c > b);
    }
}
