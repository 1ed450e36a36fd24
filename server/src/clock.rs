//! The server's clock: the system clock or a manual one, moved by
//! `/_emulator/clock`.

use eci_imagecache::clock::{Clock, ManualClock, SystemClock};
use jiff::Timestamp;

/// The system clock, or a manual clock shared with the engine.
#[derive(Clone, Debug)]
pub struct ServerClock {
    manual: Option<ManualClock>,
}

impl ServerClock {
    /// The system clock, or a manual one starting at `start`.
    pub fn new(start: Option<Timestamp>) -> ServerClock {
        ServerClock {
            manual: start.map(ManualClock::new),
        }
    }

    /// The manual clock, if this is one.
    pub fn manual(&self) -> Option<&ManualClock> {
        self.manual.as_ref()
    }
}

impl Clock for ServerClock {
    fn now(&self) -> Timestamp {
        match &self.manual {
            Some(m) => m.now(),
            None => SystemClock.now(),
        }
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        self.manual.as_ref()
    }
}
