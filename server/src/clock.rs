//! The server's clock: the system clock or a manual one, which replaying
//! the journal can pin to each recorded call's time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use eci_imagecache::clock::{Clock, ManualClock, SystemClock};
use jiff::Timestamp;

/// No pinned time.
const UNPINNED: i64 = i64::MIN;

/// A clock that reads the system or a manual clock, unless pinned.
#[derive(Clone, Debug)]
pub struct ServerClock {
    manual: Option<ManualClock>,
    pinned: Arc<AtomicI64>,
}

impl ServerClock {
    /// The system clock, or a manual one starting at `start`.
    pub fn new(start: Option<Timestamp>) -> ServerClock {
        ServerClock {
            manual: start.map(ManualClock::new),
            pinned: Arc::new(AtomicI64::new(UNPINNED)),
        }
    }

    /// The manual clock, if this is one.
    pub fn manual(&self) -> Option<&ManualClock> {
        self.manual.as_ref()
    }

    /// Makes `now` read `at` until [`ServerClock::unpin`].
    pub fn pin(&self, at: i64) {
        self.pinned.store(at, Ordering::SeqCst);
    }

    /// Back to the underlying clock.
    pub fn unpin(&self) {
        self.pinned.store(UNPINNED, Ordering::SeqCst);
    }
}

impl Clock for ServerClock {
    fn now(&self) -> Timestamp {
        let pinned = self.pinned.load(Ordering::SeqCst);
        if pinned != UNPINNED {
            return Timestamp::from_second(pinned).unwrap_or(Timestamp::UNIX_EPOCH);
        }
        match &self.manual {
            Some(m) => m.now(),
            None => SystemClock.now(),
        }
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        self.manual.as_ref()
    }
}
