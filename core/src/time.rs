//! Time and identifiers, for every layer: the injectable clock (tests and
//! WASM, where `SystemTime` is unavailable, supply their own), RFC 3339 ↔
//! milliseconds since the epoch, and ids in ULID form.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;
use std::fmt::Debug;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

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
        let t = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
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
    /// Moves the clock by `millis` (saturating at the ends of `i64`).
    pub fn advance(&self, millis: i64) {
        self.advance_if(millis, |_| true);
    }
    /// Moves the clock by `millis` in one atomic step when the new time does
    /// not overflow and `accept`s it; returns the new time, or `None` (and
    /// the clock stays) otherwise. Concurrent steps never lose one another.
    pub fn advance_if(&self, millis: i64, accept: impl Fn(i64) -> bool) -> Option<i64> {
        let mut next = None;
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                next = Some(now.saturating_add(millis)).filter(|&n| accept(n));
                next
            });
        next
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// `2026-11-29T10:00:00.000Z`, the form Cedar's `datetime` accepts (and the
/// decision records' timestamp). Written digit by digit: it runs on every
/// logged decision.
pub fn format_millis(millis: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let Ok(year) = u32::try_from(t.year()) else {
        // Years before 0000: not RFC 3339, kept in the sign-padded form.
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        );
    };
    fn push(s: &mut String, n: u32, width: usize, then: char) {
        let digits = [n / 1000 % 10, n / 100 % 10, n / 10 % 10, n % 10];
        for d in &digits[4 - width..] {
            s.push(char::from(b'0' + *d as u8));
        }
        s.push(then);
    }
    let mut s = String::with_capacity(24);
    push(&mut s, year, 4, '-');
    push(&mut s, u32::from(u8::from(t.month())), 2, '-');
    push(&mut s, u32::from(t.day()), 2, 'T');
    push(&mut s, u32::from(t.hour()), 2, ':');
    push(&mut s, u32::from(t.minute()), 2, ':');
    push(&mut s, u32::from(t.second()), 2, '.');
    push(&mut s, u32::from(t.millisecond()), 3, 'Z');
    s
}

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// [`parse_rfc3339_millis`], also accepting a `YYYY-MM-DD` date (midnight
/// UTC) and surrounding whitespace: inventory dates as people write them.
pub(crate) fn parse_day_or_rfc3339_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    parse_rfc3339_millis(text).or_else(|| {
        let d = ::time::Date::parse(
            text,
            ::time::macros::format_description!("[year]-[month]-[day]"),
        )
        .ok()?;
        i64::try_from(
            d.midnight()
                .assume_utc()
                .unix_timestamp_nanos()
                .div_euclid(1_000_000),
        )
        .ok()
    })
}

/// An RFC 3339 timestamp (any offset, any fraction) in the UTC millisecond
/// form Cedar's `datetime` accepts; `None` if `text` is not RFC 3339.
pub fn rfc3339_to_cedar(text: &str) -> Option<String> {
    parse_rfc3339_millis(text).map(format_millis)
}

/// [`rfc3339_to_cedar`] with a fast path for the common UTC forms (a
/// request's `now`).
pub(crate) fn rfc3339_to_cedar_fast(text: &str) -> Option<String> {
    utc_seconds_to_cedar(text).or_else(|| rfc3339_to_cedar(text))
}

/// `rfc3339_to_cedar` for the common UTC forms `YYYY-MM-DDTHH:MM:SSZ` and
/// `YYYY-MM-DDTHH:MM:SS.mmmZ` with valid fields, which are already Cedar's
/// form but for the milliseconds; `None` for anything else (the general
/// parser decides). Parsing and reformatting costs a few thousand
/// instructions a request.
fn utc_seconds_to_cedar(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let millis = match b.len() {
        20 => "000",
        24 if b.get(19) == Some(&b'.') => text.get(20..23)?,
        _ => return None,
    };
    if b.last() != Some(&b'Z') || !millis.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        let digits = text.get(from..to)?;
        if digits.bytes().all(|c| c.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !separators.iter().all(|&(i, c)| b.get(i) == Some(&c)) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1000 || day == 0 || day > days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut out = String::with_capacity(24);
    out.push_str(text.get(..19)?);
    out.push('.');
    out.push_str(millis);
    out.push('Z');
    Some(out)
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
        ulid(millis, (hi16 << 64) | u128::from(random))
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An id in ULID form: 26 Crockford base32 characters, 48 bits of
/// milliseconds (0 before the epoch), then the low 80 bits of `low80`.
pub(crate) fn ulid(millis: i64, low80: u128) -> String {
    const LOW80: u128 = (1 << 80) - 1;
    let value = ((millis.max(0) as u128 & 0xFFFF_FFFF_FFFF) << 80) | (low80 & LOW80);
    crockford(value)
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

    /// The digit-by-digit form equals the `format!` form (the decision
    /// records' timestamps were once written by a second copy of this).
    #[test]
    fn timestamps_match_the_engine_format() {
        for millis in [
            0,
            1,
            999,
            1_795_946_400_123,
            4_102_444_799_999,
            -1,
            -62_167_219_200_001,
        ] {
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let reference = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            );
            assert_eq!(format_millis(millis), reference);
        }
        assert_eq!(format_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_days_and_rfc3339() {
        assert_eq!(
            parse_day_or_rfc3339_millis(" 1970-01-02 "),
            Some(86_400_000)
        );
        assert_eq!(
            parse_day_or_rfc3339_millis("1970-01-01T00:00:01Z"),
            Some(1_000)
        );
        assert_eq!(parse_day_or_rfc3339_millis("1970-13-01"), None);
        assert_eq!(parse_rfc3339_millis("1970-01-02"), None);
    }

    #[test]
    fn ulids_keep_48_bits_of_time_and_80_of_the_rest() {
        assert_eq!(ulid(0, 0), "00000000000000000000000000");
        assert_eq!(ulid(-5, 1), "00000000000000000000000001");
        assert_eq!(&ulid(1, u128::MAX)[..10], "0000000001");
        assert_eq!(&ulid(1, u128::MAX)[10..], "ZZZZZZZZZZZZZZZZ");
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

    mod fast_path {
        use super::super::{rfc3339_to_cedar, utc_seconds_to_cedar};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

            /// The fast form agrees with the general parser wherever it answers.
            #[test]
            fn utc_fast_path_is_rfc3339_to_cedar(
                year in 900u32..10000,
                month in 0u32..14,
                day in 0u32..33,
                hour in 0u32..25,
                minute in 0u32..61,
                second in 0u32..62,
                millis in prop::option::of(0u32..1000),
                z in prop_oneof![Just("Z"), Just("z"), Just("+00:00")],
            ) {
                let frac = millis.map(|m| format!(".{m:03}")).unwrap_or_default();
                let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{frac}{z}");
                if let Some(fast) = utc_seconds_to_cedar(&text) {
                    prop_assert_eq!(Some(fast), rfc3339_to_cedar(&text), "{}", text);
                } else {
                    // It declines only what it does not handle or what is invalid.
                    let plain = z == "Z" && year >= 1000 && (1..=12).contains(&month)
                        && (1..=28).contains(&day) && hour < 24 && minute < 60 && second < 60;
                    prop_assert!(!plain, "{}", text);
                }
            }
        }

        #[test]
        fn utc_fast_path_examples() {
            for t in [
                "2024-02-29T23:59:59Z",
                "2026-11-29T06:59:11.123Z",
                "2000-02-29T00:00:00Z",
            ] {
                assert_eq!(utc_seconds_to_cedar(t), rfc3339_to_cedar(t), "{t}");
                assert!(utc_seconds_to_cedar(t).is_some());
            }
            for t in [
                "2023-02-29T00:00:00Z",
                "1900-02-29T00:00:00Z",
                "2026-11-29T06:59:11.1Z",
                "2026-11-29 06:59:11Z",
                "2026-11-29T06:59:60Z",
            ] {
                assert_eq!(utc_seconds_to_cedar(t), None, "{t}");
            }
        }
    }
}
