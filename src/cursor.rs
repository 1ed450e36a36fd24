//! `NextToken`: a keyset cursor (the last returned sort key), versioned,
//! bound to the engine instance and to the query's filters by a keyed MAC,
//! and written as base64url without padding (`shared/spec/behaviour.md` 4.3).
//!
//! Layout before encoding: `version (1) | f (4) | p (4) | creation (8) |
//! id length (2) | id | mac (16)`, integers little-endian. The MAC is
//! SipHash-2-4 with its 128-bit output over the length of the filter
//! fingerprint, the fingerprint and the payload (version included), keyed
//! by 128 bits derived from the engine's [`TokenKey`]; the fingerprint
//! itself is not in the token, so a token presented with other filters
//! fails the MAC like a forged one.
//!
//! SipHash is a pseudorandom function designed for exactly this: short
//! inputs under a secret 128-bit key (Aumasson and Bernstein, 2012); the
//! 128-bit output keeps the tag as long as before. A page makes one token
//! and reads one back: HMAC-SHA256 (version 1 of the layout) cost about
//! 150 ns a MAC here, SipHash-2-4-128 about 58 ns, and the whole round trip
//! (base64url, checks, the id) about 300 ns, a few caches' work (`cargo
//! bench --bench token`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use siphasher::sip128::{Hasher128, SipHasher24};

use crate::error::ApiError;
use crate::matching::SortKey;

/// Version 2: SipHash-2-4 (version 1 was HMAC-SHA256).
const VERSION: u8 = 2;
const MAC_LEN: usize = 16;
const FIXED_LEN: usize = 1 + 4 + 4 + 8 + 2;

/// The secret that binds `NextToken`s to one engine instance: a token made
/// by an engine with another key is rejected.
///
/// ```
/// use eci_imagecache::cursor::TokenKey;
///
/// assert_eq!(TokenKey::from_seed(7), TokenKey::from_seed(7));
/// assert_ne!(TokenKey::from_seed(7), TokenKey::from_seed(8));
/// assert_ne!(TokenKey::random(), TokenKey::random());
/// ```
#[derive(Clone)]
pub struct TokenKey {
    secret: [u8; 32],
    /// HMAC state already keyed with `secret`, for deriving keys.
    keyed: Hmac<Sha256>,
    /// The MAC key of tokens: 128 bits derived from `secret`.
    mac_key: [u8; 16],
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl Eq for TokenKey {}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<secret>)")
    }
}

impl TokenKey {
    /// A key from the operating system's randomness (through the standard
    /// library's randomly keyed hasher).
    pub fn random() -> TokenKey {
        TokenKey::from_secret(crate::ids::random_secret())
    }

    /// A key derived from a seed, for reproducible engines and tests.
    pub fn from_seed(seed: u64) -> TokenKey {
        let mut h = Sha256::new();
        h.update(b"eci-imagecache token key\0");
        h.update(seed.to_le_bytes());
        TokenKey::from_secret(h.finalize().into())
    }

    /// A key from its 32-byte secret (as saved by [`TokenKey::secret`]).
    pub fn from_secret(secret: [u8; 32]) -> TokenKey {
        let keyed = <Hmac<Sha256>>::new_from_slice(&secret).expect("HMAC takes any key length");
        let mut derive = keyed.clone();
        derive.update(b"NextToken SipHash-2-4-128 key\0");
        let mut mac_key = [0; 16];
        mac_key.copy_from_slice(&derive.finalize().into_bytes()[..16]);
        TokenKey {
            secret,
            keyed,
            mac_key,
        }
    }

    /// The secret, for saving an engine's state. Handle it like a password.
    pub fn secret(&self) -> [u8; 32] {
        self.secret
    }

    /// A key for one part of an engine (an account and region), derived from
    /// this one, so a token from one part is foreign to every other.
    ///
    /// ```
    /// use eci_imagecache::cursor::TokenKey;
    ///
    /// let engine = TokenKey::from_seed(1);
    /// assert_eq!(engine.derive(b"a"), engine.derive(b"a"));
    /// assert_ne!(engine.derive(b"a"), engine.derive(b"b"));
    /// ```
    pub fn derive(&self, context: &[u8]) -> TokenKey {
        let mut mac = self.keyed.clone();
        mac.update(b"derive\0");
        mac.update(context);
        TokenKey::from_secret(mac.finalize().into_bytes().into())
    }

    /// This key bound to one query's filter fingerprint: the MAC's state
    /// once the fingerprint is absorbed, so a page that reads one token and
    /// makes the next absorbs it once.
    pub(crate) fn bind(&self, fingerprint: &[u8]) -> Bound {
        use std::hash::Hasher;
        let mut state = SipHasher24::new_with_key(&self.mac_key);
        state.write(&(fingerprint.len() as u64).to_le_bytes());
        state.write(fingerprint);
        Bound { state }
    }
}

/// A [`TokenKey`] bound to a filter fingerprint ([`TokenKey::bind`]): it
/// makes and reads the tokens of one query.
#[derive(Clone, Copy)]
pub(crate) struct Bound {
    state: SipHasher24,
}

impl Bound {
    fn mac(&self, payload: &[u8]) -> [u8; MAC_LEN] {
        use std::hash::Hasher;
        let mut mac = self.state;
        mac.write(payload);
        mac.finish128().as_bytes()
    }

    /// The token of a page whose last cache has the sort key `last`.
    pub(crate) fn encode(&self, last: SortKey<'_>) -> String {
        // Ids longer than u16 cannot come from the API; clamp rather than panic.
        let id = &last.id.as_bytes()[..last.id.len().min(u16::MAX as usize)];
        // On the stack for ids of the API's length (at most 128 characters).
        let len = FIXED_LEN + id.len() + MAC_LEN;
        let mut stack = [0u8; 256];
        let mut heap = Vec::new();
        let raw: &mut [u8] = if len <= stack.len() {
            &mut stack[..len]
        } else {
            heap.resize(len, 0);
            &mut heap
        };
        raw[0] = VERSION;
        raw[1..5].copy_from_slice(&last.exact.to_le_bytes());
        raw[5..9].copy_from_slice(&last.partial.to_le_bytes());
        raw[9..17].copy_from_slice(&last.creation.to_le_bytes());
        raw[17..19].copy_from_slice(&(id.len() as u16).to_le_bytes());
        raw[FIXED_LEN..FIXED_LEN + id.len()].copy_from_slice(id);
        let (payload, mac) = raw.split_at_mut(FIXED_LEN + id.len());
        mac.copy_from_slice(&self.mac(payload));
        URL_SAFE_NO_PAD.encode(raw)
    }
}

/// The decoded position: everything up to and including this sort key has
/// been returned. The id is borrowed from the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position<'a> {
    pub exact: u32,
    pub partial: u32,
    pub creation: i64,
    pub id: &'a str,
}

impl Position<'_> {
    pub fn sort_key(&self) -> SortKey<'_> {
        SortKey {
            exact: self.exact,
            partial: self.partial,
            creation: self.creation,
            id: self.id,
        }
    }
}

impl Bound {
    /// Decodes a token into `buf` (cleared first, reused between queries);
    /// anything malformed, forged, foreign or for other filters is
    /// `InvalidParameter.NextToken`.
    pub(crate) fn decode<'b>(
        &self,
        token: &str,
        buf: &'b mut Vec<u8>,
    ) -> Result<Position<'b>, ApiError> {
        let invalid = ApiError::invalid_next_token;
        if token.len() > 4 * 1024 {
            return Err(invalid());
        }
        buf.clear();
        URL_SAFE_NO_PAD
            .decode_vec(token, buf)
            .map_err(|_| invalid())?;
        let raw: &'b [u8] = buf;
        if raw.len() < FIXED_LEN + MAC_LEN || raw[0] != VERSION {
            return Err(invalid());
        }
        let (payload, mac) = raw.split_at(raw.len() - MAC_LEN);
        // Constant-time comparison of the MAC.
        let expected = self.mac(payload);
        if expected
            .iter()
            .zip(mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
        {
            return Err(invalid());
        }
        let u32_at = |i: usize| u32::from_le_bytes(payload[i..i + 4].try_into().unwrap());
        let id_len = u16::from_le_bytes(payload[17..19].try_into().unwrap()) as usize;
        if payload.len() != FIXED_LEN + id_len {
            return Err(invalid());
        }
        let id = std::str::from_utf8(&payload[FIXED_LEN..]).map_err(|_| invalid())?;
        Ok(Position {
            exact: u32_at(1),
            partial: u32_at(5),
            creation: i64::from_le_bytes(payload[9..17].try_into().unwrap()),
            id,
        })
    }
}

/// One token made and read back, for the `token` bench: the fixed cost a
/// page pays for its `NextToken`. Not part of the API.
#[doc(hidden)]
pub fn bench_round_trip(key: &TokenKey, fingerprint: &[u8], id: &str) -> usize {
    let bound = key.bind(fingerprint);
    let token = bound.encode(SortKey {
        exact: 1,
        partial: 2,
        creation: 1_700_000_000,
        id,
    });
    let mut buf = Vec::new();
    bound
        .decode(&token, &mut buf)
        .map_or(0, |p| p.id.len() + token.len())
}

/// Decodes arbitrary text as a token against a fixed key and fingerprint:
/// the fuzz target's entry point. Never panics.
#[doc(hidden)]
pub fn fuzz_decode(token: &str) -> bool {
    let mut buf = Vec::new();
    TokenKey::from_seed(0)
        .bind(b"fuzz")
        .decode(token, &mut buf)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(key: &TokenKey, fingerprint: &[u8], last: SortKey<'_>) -> String {
        key.bind(fingerprint).encode(last)
    }

    /// Decodes, keeping only whether the token was accepted.
    fn decode(key: &TokenKey, fingerprint: &[u8], token: &str) -> Result<(), ApiError> {
        let mut buf = Vec::new();
        key.bind(fingerprint).decode(token, &mut buf).map(|_| ())
    }

    fn key() -> SortKey<'static> {
        SortKey {
            exact: 3,
            partial: 1,
            creation: 1_700_000_000,
            id: "imc-0123456789abcdefghij",
        }
    }

    #[test]
    fn round_trip() {
        let k = TokenKey::from_seed(1);
        let token = encode(&k, b"filters", key());
        assert!(
            !token.contains(['=', '+', '/']),
            "base64url without padding: {token}"
        );
        let mut buf = Vec::new();
        let position = k.bind(b"filters").decode(&token, &mut buf).unwrap();
        assert_eq!(position.sort_key(), key());
    }

    /// A token made by the code before `TokenKey::bind` (38e05cd): the
    /// bytes of a token never change with how the MAC is computed.
    #[test]
    fn a_token_is_byte_for_byte_what_version_2_always_made() {
        let k = TokenKey::from_seed(1);
        assert_eq!(
            encode(&k, b"filters", key()),
            "AgMAAAABAAAAAPFTZQAAAAAYAGltYy0wMTIzNDU2Nzg5YWJjZGVmZ2hpakQkY1gqGaPKIgyX26mbsbg"
        );
    }

    #[test]
    fn rejects_foreign_forged_truncated_and_mismatched_tokens() {
        let k = TokenKey::from_seed(1);
        let token = encode(&k, b"filters", key());
        let rejected = |t: &str, fp: &[u8], k: &TokenKey| {
            decode(k, fp, t).unwrap_err().code() == crate::ErrorCode::InvalidNextToken
        };
        assert!(
            rejected(&token, b"filters", &TokenKey::from_seed(2)),
            "foreign engine"
        );
        assert!(rejected(&token, b"other filters", &k), "other filters");
        assert!(
            rejected(&token[..token.len() - 1], b"filters", &k),
            "truncated"
        );
        assert!(rejected("", b"filters", &k));
        assert!(rejected("!!!", b"filters", &k), "not base64url");
        assert!(rejected(&format!("{token}="), b"filters", &k), "padding");
        // Every single-character change is caught.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..token.len() {
            for c in alphabet.chars().step_by(7) {
                let mut forged = token.clone();
                forged.replace_range(i..i + 1, &c.to_string());
                if forged != token {
                    assert!(rejected(&forged, b"filters", &k), "forged at {i}: {forged}");
                }
            }
        }
        // A wrong version with a valid MAC is still rejected: the old
        // version 1 and a future version 3.
        for version in [1, VERSION + 1] {
            let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
            raw[0] = version;
            let payload_len = raw.len() - MAC_LEN;
            let mac = k.bind(b"filters").mac(&raw[..payload_len]);
            raw[payload_len..].copy_from_slice(&mac);
            assert!(
                rejected(&URL_SAFE_NO_PAD.encode(raw), b"filters", &k),
                "version {version}"
            );
        }
        // Longer than any token the engine makes (decoded on the heap).
        let long = "A".repeat(2_000);
        assert!(rejected(&long, b"filters", &k), "long");
    }
}
