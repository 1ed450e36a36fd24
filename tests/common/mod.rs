//! What the root test binaries share: the region and the moment most
//! tests start at, a manual clock there, a reference parsed or the test
//! failing at the caller's line.
//!
//! Each binary that needs it says `mod common;`; a binary uses only some
//! of it.
#![allow(dead_code)]

use eci_imagecache::clock::ManualClock;
use eci_imagecache::reference::Reference;

/// The region the tests use.
pub const REGION: &str = "cn-hangzhou";

/// The moment the tests' clocks start at.
pub const T0: &str = "2024-05-01T08:00:00Z";

/// A manual clock at [`T0`].
pub fn clock_at_t0() -> ManualClock {
    ManualClock::new(T0.parse().expect("T0 is a timestamp"))
}

/// `text` parsed, or the test fails at the caller's line naming it.
#[track_caller]
pub fn reference(text: &str) -> Reference {
    match Reference::parse(text) {
        Ok(r) => r,
        Err(e) => panic!("{text:?} does not parse: {e}"),
    }
}
