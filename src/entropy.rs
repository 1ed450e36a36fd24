//! Secrets from the operating system's randomness, without a dependency of
//! its own: the standard library keys every `RandomState` from the OS.

use std::hash::{BuildHasher, Hasher};

use sha2::{Digest, Sha256};

/// 32 unpredictable bytes: four independently keyed `RandomState` hashes and
/// the time, through SHA-256.
pub(crate) fn random_secret() -> [u8; 32] {
    let mut seed = Sha256::new();
    for i in 0..4u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        seed.update(h.finish().to_le_bytes());
    }
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        seed.update(now.as_nanos().to_le_bytes());
    }
    seed.finalize().into()
}
