//! Freshness: a signed request's time within the window of the wall
//! clock, and its nonce never seen in that window.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::refusal::Refusal;

use super::{Scheme, Verified};

/// How far a signed time may be from the wall clock, either way.
pub const FRESHNESS_WINDOW_SECS: i64 = 15 * 60;
/// How many nonces [`Freshness`] remembers at most by default.
pub const MAX_NONCES: usize = 1_000_000;

/// Timestamps within ±15 minutes of the wall clock and nonces used once in
/// that window. Memory is bounded: a nonce is forgotten when its request's
/// time leaves the window (a replay then fails on its time), and at most
/// `cap` are kept: past that, new requests get `ServiceUnavailable` (503)
/// until old nonces expire, rather than the set growing.
#[derive(Debug)]
pub struct Freshness {
    cap: usize,
    seen: Mutex<Nonces>,
}

#[derive(Debug, Default)]
struct Nonces {
    expiry: HashMap<[u8; 16], i64>,
    by_expiry: BTreeSet<(i64, [u8; 16])>,
}

impl Default for Freshness {
    fn default() -> Freshness {
        Freshness::with_cap(MAX_NONCES)
    }
}

impl Freshness {
    /// Remembering at most `cap` nonces.
    pub fn with_cap(cap: usize) -> Freshness {
        Freshness {
            cap,
            seen: Mutex::new(Nonces::default()),
        }
    }

    /// How many nonces are remembered now.
    pub fn remembered(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expiry
            .len()
    }

    /// Checks (and, when fresh, remembers) a verified request's time and
    /// nonce against `now`, the wall clock.
    ///
    /// # Errors
    ///
    /// `MissingParameter` without a time or a nonce, `InvalidParameter`
    /// for a nonce over 256 characters, `InvalidTimeStamp.Format` or
    /// `InvalidTimeStamp.Expired` for a time that does not parse or is
    /// more than [`FRESHNESS_WINDOW_SECS`] from `now`, and
    /// `SignatureNonceUsed` for a nonce this key used within the window.
    pub fn check(&self, verified: &Verified, now: jiff::Timestamp) -> Result<(), Refusal> {
        let (time_name, nonce_name) = match verified.scheme {
            Scheme::V2 => ("Timestamp", "SignatureNonce"),
            Scheme::V3 => ("x-acs-date", "x-acs-signature-nonce"),
        };
        let time = verified
            .timestamp
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Refusal::missing(time_name))?;
        let nonce = verified
            .nonce
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Refusal::missing(nonce_name))?;
        if nonce.len() > 256 {
            return Err(Refusal::invalid(nonce_name, "longer than 256 characters"));
        }
        let at = time.parse::<jiff::Timestamp>().map_err(|_| {
            Refusal::new(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?;
        let (at, now) = (at.as_second(), now.as_second());
        if (now - at).abs() > FRESHNESS_WINDOW_SECS {
            return Err(Refusal::new(
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            ));
        }
        let mut h = Sha256::new();
        h.update(verified.key_id.as_bytes());
        h.update([0]);
        h.update(nonce.as_bytes());
        let key: [u8; 16] = h.finalize()[..16].try_into().expect("16 bytes");
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(expiry, old)) = seen.by_expiry.first() {
            if expiry >= now {
                break;
            }
            seen.by_expiry.pop_first();
            seen.expiry.remove(&old);
        }
        if seen.expiry.contains_key(&key) {
            return Err(Refusal::new(
                400,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        if seen.expiry.len() >= self.cap {
            return Err(Refusal::new(
                503,
                "ServiceUnavailable",
                format!(
                    "More than {} signature nonces within {} minutes; retry later.",
                    self.cap,
                    FRESHNESS_WINDOW_SECS / 60
                ),
            ));
        }
        let expiry = at + FRESHNESS_WINDOW_SECS;
        seen.expiry.insert(key, expiry);
        seen.by_expiry.insert((expiry, key));
        Ok(())
    }
}
