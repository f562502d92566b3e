//! A manual clock for tests: an engine built with one judges every request,
//! change and session at the time the clock was last set to, never the
//! machine's. Every binding exposes these four functions as a `ManualClock`.

use crate::error::{Error, ErrorCode, Result};
use crate::time::{format_millis, Clock, FixedClock, ManualClock};
use std::sync::Arc;

/// Milliseconds since the epoch of an RFC 3339 time; `request_invalid` otherwise.
fn millis_of(rfc3339: &str) -> Result<i64> {
    FixedClock::at(rfc3339).map(|c| c.0).ok_or_else(|| {
        Error::new(
            ErrorCode::RequestInvalid,
            format!("clock time {rfc3339:?} is not an RFC 3339 time"),
        )
    })
}

/// A manual clock reading `start` (RFC 3339) until set or advanced.
pub fn manual_clock(start: &str) -> Result<Arc<ManualClock>> {
    Ok(Arc::new(ManualClock::new(millis_of(start)?)))
}

/// Sets the clock to `at` (RFC 3339; earlier than now is allowed).
pub fn manual_clock_set(clock: &ManualClock, at: &str) -> Result<()> {
    clock.set(millis_of(at)?);
    Ok(())
}

/// Moves the clock by `seconds` (fractions to the millisecond; negative
/// moves it back). A step that is not finite, or that would leave the years
/// RFC 3339 can write (0000–9999), is `request_invalid` and moves nothing:
/// a time that cannot be written would be judged as some other time.
pub fn manual_clock_advance(clock: &ManualClock, seconds: f64) -> Result<()> {
    let invalid = || {
        Error::new(
            ErrorCode::RequestInvalid,
            format!("cannot advance the clock by {seconds} seconds"),
        )
    };
    if !seconds.is_finite() || seconds.abs() > 1e15 {
        return Err(invalid());
    }
    // |seconds| ≤ 1e15, so the product fits an i64 exactly enough.
    let step = (seconds * 1000.0).round() as i64;
    // One atomic step: concurrent advances never lose one another.
    let writable = |next: i64| FixedClock::at(&format_millis(next)).map(|c| c.0) == Some(next);
    clock
        .advance_if(step, writable)
        .map(|_| ())
        .ok_or_else(invalid)
}

/// The clock's time as RFC 3339 (`2026-11-29T10:00:00.000Z`).
pub fn manual_clock_now(clock: &ManualClock) -> String {
    format_millis(clock.now_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_advances() -> Result<()> {
        let clock = manual_clock("2026-11-29T10:00:00Z")?;
        assert_eq!(manual_clock_now(&clock), "2026-11-29T10:00:00.000Z");
        manual_clock_advance(&clock, 90.5)?;
        assert_eq!(manual_clock_now(&clock), "2026-11-29T10:01:30.500Z");
        manual_clock_advance(&clock, -3600.0)?;
        assert_eq!(manual_clock_now(&clock), "2026-11-29T09:01:30.500Z");
        manual_clock_set(&clock, "2026-11-29T11:00:00+01:00")?;
        assert_eq!(manual_clock_now(&clock), "2026-11-29T10:00:00.000Z");
        Ok(())
    }

    #[test]
    fn refuses_what_it_cannot_write_and_stays() -> Result<()> {
        let clock = manual_clock("2026-11-29T10:00:00Z")?;
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300] {
            let e = manual_clock_advance(&clock, bad).err().map(|e| e.code);
            assert_eq!(e, Some(ErrorCode::RequestInvalid), "{bad}");
        }
        // Past year 9999 (or before year 0) the time cannot be written: refused.
        let e = manual_clock_advance(&clock, 1e12).err().map(|e| e.code);
        assert_eq!(e, Some(ErrorCode::RequestInvalid));
        let e = manual_clock_advance(&clock, -1e12).err().map(|e| e.code);
        assert_eq!(e, Some(ErrorCode::RequestInvalid));
        for bad in ["tomorrow", "", "2026-11-29", "2026-13-01T00:00:00Z"] {
            let e = manual_clock_set(&clock, bad).err().map(|e| e.code);
            assert_eq!(e, Some(ErrorCode::RequestInvalid), "{bad}");
            assert!(manual_clock(bad).is_err(), "{bad}");
        }
        assert_eq!(manual_clock_now(&clock), "2026-11-29T10:00:00.000Z");
        Ok(())
    }

    #[test]
    fn concurrent_advances_are_never_lost() -> Result<()> {
        let clock = manual_clock("2026-11-29T10:00:00Z")?;
        let start = clock.now_millis();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..20_000 {
                        let _ = manual_clock_advance(&clock, 0.001);
                    }
                });
            }
        });
        assert_eq!(clock.now_millis() - start, 80_000);
        Ok(())
    }
}
