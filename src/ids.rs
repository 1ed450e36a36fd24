//! Every id the crate hands out, and its secrets: cache, snapshot and
//! container-group ids and event names ([`IdGenerator`], [`StepIds`]),
//! `RequestId`s ([`RequestIds`]), all drawn from one keyed counter
//! (SHA-256 of a 32-byte key and a counter), seeded for reproducible runs
//! or keyed from the operating system's randomness (`random_secret`, which
//! also keys the `NextToken` MAC).

use std::fmt;
use std::hash::{BuildHasher, Hasher};

use sha2::{Digest, Sha256};

/// A 32-byte key and how many blocks were drawn: block `n` is
/// `SHA-256(key ‖ n as 8 little-endian bytes ‖ purpose)`.
#[derive(Clone, PartialEq, Eq)]
struct KeyedCounter {
    key: [u8; 32],
    counter: u64,
}

/// The counter only: the key is a secret (it makes ids unpredictable).
impl fmt::Debug for KeyedCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCounter")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl KeyedCounter {
    /// The key `SHA-256(domain ‖ seed)`: the same on every run.
    fn seeded(domain: &[u8], seed: u64) -> KeyedCounter {
        let mut h = Sha256::new();
        h.update(domain);
        h.update(seed.to_le_bytes());
        KeyedCounter {
            key: h.finalize().into(),
            counter: 0,
        }
    }

    /// A key from the operating system's randomness.
    fn random() -> KeyedCounter {
        KeyedCounter {
            key: random_secret(),
            counter: 0,
        }
    }

    /// The next block, for `purpose` (empty for ids, `event` for event
    /// names).
    fn next_block(&mut self, purpose: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(self.counter.to_le_bytes());
        h.update(purpose);
        self.counter += 1;
        h.finalize().into()
    }
}

/// Generates the ids the API hands out: `imc-` (caches), `s-` (snapshots)
/// and `eci-` (container groups), each followed by 20 lower-case
/// alphanumerics. A seeded generator gives the same ids on every run; its
/// state is a key and a counter, so it can be saved and resumed.
///
/// ```
/// use eci_imagecache::ids::IdGenerator;
///
/// let mut a = IdGenerator::seeded(7);
/// let mut b = IdGenerator::seeded(7);
/// let id = a.image_cache_id();
/// assert_eq!(id, b.image_cache_id());
/// assert!(id.starts_with("imc-") && id.len() == 24);
/// assert!(id[4..].bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
/// assert_ne!(a.image_cache_id(), id);
/// let (key, counter) = a.state();
/// assert_eq!(IdGenerator::from_state(key, counter).snapshot_id(), a.snapshot_id());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct IdGenerator(KeyedCounter);

impl fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdGenerator")
            .field("counter", &self.0.counter)
            .finish_non_exhaustive()
    }
}

impl IdGenerator {
    /// A generator whose ids are the same on every run with this seed.
    pub fn seeded(seed: u64) -> IdGenerator {
        IdGenerator(KeyedCounter::seeded(b"eci-imagecache ids\0", seed))
    }

    /// A generator seeded from the operating system's randomness.
    pub fn random() -> IdGenerator {
        IdGenerator(KeyedCounter::random())
    }

    /// Resumes a generator from [`IdGenerator::state`].
    pub fn from_state(key: [u8; 32], counter: u64) -> IdGenerator {
        IdGenerator(KeyedCounter { key, counter })
    }

    /// The key and the number of ids handed out so far.
    pub fn state(&self) -> ([u8; 32], u64) {
        (self.0.key, self.0.counter)
    }

    /// `imc-` + 20.
    pub fn image_cache_id(&mut self) -> String {
        self.next("imc-")
    }

    /// `s-` + 20.
    pub fn snapshot_id(&mut self) -> String {
        self.next("s-")
    }

    /// `eci-` + 20.
    pub fn container_group_id(&mut self) -> String {
        self.next("eci-")
    }

    /// An event name: `<cache name>.` + 16 lower-case hex digits.
    pub fn event_name(&mut self, cache_name: &str) -> String {
        let block = self.0.next_block(b"event");
        let mut name = String::with_capacity(cache_name.len() + 17);
        name.push_str(cache_name);
        name.push('.');
        for b in &block[..8] {
            name.push(char::from_digit((b >> 4) as u32, 16).expect("hex digit"));
            name.push(char::from_digit((b & 15) as u32, 16).expect("hex digit"));
        }
        name
    }

    /// The number of ids drawn so far: what a create or update run is known
    /// by in [`IdGenerator::step`]. Every run draws ids as it begins (the
    /// cache's id, its first events), so no two runs share it; reading it
    /// draws nothing, so the ids that follow are those they always were.
    pub fn nonce(&self) -> u64 {
        self.0.counter
    }

    /// The ids of what the lifecycle does to one cache at one moment of one
    /// run (snapshots, event names): they depend on the key, the cache, the
    /// run's [`IdGenerator::nonce`] and the moment only, never on how many
    /// ids were drawn since, so a step applied later (after a restart, or by
    /// a later call) draws the same.
    ///
    /// ```
    /// use eci_imagecache::ids::IdGenerator;
    ///
    /// let ids = IdGenerator::seeded(1);
    /// let mut a = ids.step("imc-1", 7, 1_714_550_400);
    /// let mut other = IdGenerator::seeded(1);
    /// other.image_cache_id(); // drawing ids in between changes nothing
    /// let mut b = other.step("imc-1", 7, 1_714_550_400);
    /// assert_eq!(a.snapshot_id(), b.snapshot_id());
    /// assert_eq!(a.event_name("web"), b.event_name("web"));
    /// ```
    pub fn step(&self, cache_id: &str, run: u64, at: i64) -> StepIds {
        let mut h = Sha256::new();
        h.update(self.0.key);
        h.update(b"step\0");
        h.update(cache_id.as_bytes());
        h.update(b"\0");
        h.update(run.to_le_bytes());
        h.update(at.to_le_bytes());
        StepIds {
            ids: IdGenerator(KeyedCounter {
                key: h.finalize().into(),
                counter: 0,
            }),
        }
    }

    fn next(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let block = self.0.next_block(b"");
        let mut id = String::with_capacity(prefix.len() + 20);
        id.push_str(prefix);
        // 20 base-36 digits of a 128-bit value: 2^128 is 2.6e7 times 36^20,
        // so every digit is uniform to within 1e-7.
        let mut n = u128::from_le_bytes(block[..16].try_into().expect("16 bytes"));
        for _ in 0..20 {
            id.push(ALPHABET[(n % 36) as usize] as char);
            n /= 36;
        }
        id
    }
}

/// The ids one lifecycle step draws: see [`IdGenerator::step`].
#[derive(Debug)]
pub struct StepIds {
    ids: IdGenerator,
}

impl StepIds {
    /// `s-` + 20.
    pub fn snapshot_id(&mut self) -> String {
        self.ids.snapshot_id()
    }

    /// `<cache name>.` + 16 lower-case hex digits.
    pub fn event_name(&mut self, cache_name: &str) -> String {
        self.ids.event_name(cache_name)
    }
}

/// `RequestId`s in the cloud's shape (`8-4-4-4-12` upper-case hex), from a
/// seed (the same on every run) or from the operating system.
///
/// ```
/// use eci_imagecache::ids::RequestIds;
///
/// let id = RequestIds::seeded(1).next_id();
/// assert_eq!(id, RequestIds::seeded(1).next_id());
/// assert_eq!(id.len(), 36);
/// assert_eq!(id.matches('-').count(), 4);
/// ```
#[derive(Clone, Debug)]
pub struct RequestIds(KeyedCounter);

impl RequestIds {
    /// Ids that are the same on every run with this seed.
    pub fn seeded(seed: u64) -> Self {
        RequestIds(KeyedCounter::seeded(b"eci-imagecache request ids\0", seed))
    }

    /// Unpredictable ids.
    pub fn random() -> Self {
        RequestIds(KeyedCounter::random())
    }

    /// The next id.
    pub fn next_id(&mut self) -> String {
        let d = self.0.next_block(b"");
        let hex: String = d[..16].iter().map(|b| format!("{b:02X}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

/// Secrets from the operating system's randomness, without a dependency of
/// its own: the standard library keys every `RandomState` from the OS.
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

#[cfg(test)]
mod tests {
    use super::{IdGenerator, RequestIds};

    #[test]
    fn ids_do_not_repeat() {
        let mut ids = IdGenerator::seeded(1);
        let all: std::collections::HashSet<String> =
            (0..100_000).map(|_| ids.image_cache_id()).collect();
        assert_eq!(all.len(), 100_000);
        assert_ne!(
            IdGenerator::seeded(1).image_cache_id(),
            IdGenerator::seeded(2).image_cache_id()
        );
        assert_ne!(
            IdGenerator::random().image_cache_id(),
            IdGenerator::random().image_cache_id()
        );
        let s = IdGenerator::seeded(3).container_group_id();
        assert!(s.starts_with("eci-") && s.len() == 24, "{s}");
    }

    /// The ids a seed gives, pinned: a saved state, a seeded test and a
    /// recorded capture depend on them never changing. (Computed from the
    /// definition: key `SHA-256(domain ‖ seed)`, block `SHA-256(key ‖
    /// counter ‖ purpose)`, 20 base-36 digits of its first 16 bytes.)
    #[test]
    fn seeded_ids_are_the_same_forever() {
        let mut ids = IdGenerator::seeded(1);
        assert_eq!(ids.image_cache_id(), "imc-mk03qx9szs7wktjcmv35");
        assert_eq!(ids.event_name("web"), "web.4d23e52f5c042e0d");
        assert_eq!(ids.snapshot_id(), "s-30dm2puxa7kakknsw7vm");
        assert_eq!(ids.container_group_id(), "eci-gma43s8n8yecuhxa5sak");
        let mut step = IdGenerator::seeded(1).step("imc-1", 7, 1_714_550_400);
        assert_eq!(step.snapshot_id(), "s-zd0yus29t1tvf31jy6r3");
        assert_eq!(step.event_name("web"), "web.28d3d107131a5ad3");
        let mut requests = RequestIds::seeded(1);
        assert_eq!(requests.next_id(), "3D37D6B2-4EF2-B020-1310-C92A6F4C6CC8");
        assert_eq!(requests.next_id(), "E207899A-C201-FDCC-DBA5-A4F52F95A655");
    }
}
