//! Time, as the embedder controls it: the system clock, or a manual clock
//! that tests and emulators set and advance. The engine never sleeps; it
//! applies every transition that is due whenever it is used.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// A source of the current time, in whole seconds.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> Timestamp;

    /// The manual clock behind this one, if it is one (saved with an
    /// engine's state so a reloaded engine resumes at the same time).
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        Timestamp::from_second(now.as_second()).unwrap_or(now)
    }
}

/// A clock that moves only when told. Clones share one time, so a test can
/// keep a handle while the engine holds another.
///
/// ```
/// use eci_imagecache::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new("2024-05-01T08:00:00Z".parse().unwrap());
/// let handle = clock.clone();
/// handle.advance_secs(90);
/// assert_eq!(clock.now().to_string(), "2024-05-01T08:01:30Z");
/// clock.set("2025-01-01T00:00:00Z".parse().unwrap());
/// assert_eq!(handle.now().to_string(), "2025-01-01T00:00:00Z");
/// ```
#[derive(Clone)]
pub struct ManualClock {
    seconds: Arc<AtomicI64>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManualClock({})", self.now())
    }
}

impl ManualClock {
    /// A clock stopped at `at` (fractions of a second are dropped; kept
    /// within [`EARLIEST`] and [`LATEST`]).
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock {
            seconds: Arc::new(AtomicI64::new(clamp_seconds(at.as_second()))),
        }
    }

    /// Moves the clock to `at` (also backwards; kept within [`EARLIEST`]
    /// and [`LATEST`]).
    pub fn set(&self, at: Timestamp) {
        self.seconds
            .store(clamp_seconds(at.as_second()), Ordering::SeqCst);
    }

    /// Moves the clock forward by `seconds` (backward when negative); stops
    /// at [`EARLIEST`] and [`LATEST`].
    pub fn advance_secs(&self, seconds: i64) {
        let _ = self
            .seconds
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(clamp_seconds(now.saturating_add(seconds)))
            });
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: SignedDuration) {
        self.advance_secs(by.as_secs());
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        timestamp(self.seconds.load(Ordering::SeqCst))
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

/// The earliest time the engine holds, `1970-01-01T00:00:00Z` (Unix
/// seconds): clocks and computed times (expiry, retention) stop here.
pub const EARLIEST: i64 = 0;
/// The latest time the engine holds, `9999-12-30T22:00:00Z` (Unix seconds;
/// the latest `jiff::Timestamp`), so every time is written
/// `YYYY-MM-DDTHH:MM:SSZ`.
pub const LATEST: i64 = 253_402_207_200;

/// Seconds within [`EARLIEST`] and [`LATEST`].
fn clamp_seconds(s: i64) -> i64 {
    s.clamp(EARLIEST, LATEST)
}

/// The timestamp at `seconds` since the Unix epoch, clamped to the range.
pub(crate) fn timestamp(seconds: i64) -> Timestamp {
    Timestamp::from_second(clamp_seconds(seconds)).expect("clamped into range")
}

#[cfg(test)]
mod range_tests {
    use super::{EARLIEST, LATEST, ManualClock, Timestamp};
    use crate::clock::Clock;

    #[test]
    fn the_range_is_what_jiff_holds_and_prints_in_four_digits() {
        assert_eq!(LATEST, Timestamp::MAX.as_second());
        let clock = ManualClock::new(Timestamp::MAX);
        clock.advance_secs(i64::MAX);
        assert_eq!(
            crate::wire::format_time(clock.now()),
            "9999-12-30T22:00:00Z"
        );
        clock.advance_secs(i64::MIN);
        assert_eq!(clock.now().as_second(), EARLIEST);
        assert_eq!(
            crate::wire::format_time(clock.now()),
            "1970-01-01T00:00:00Z"
        );
        clock.set(Timestamp::MIN);
        assert_eq!(clock.now().as_second(), EARLIEST);
    }
}
