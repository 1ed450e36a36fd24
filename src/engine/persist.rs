//! Saving and loading an engine's whole state.
//!
//! # Format (version 1)
//!
//! ```text
//! magic "ECIIMCST" (8) | version u32 LE | payload length u64 LE | SHA-256 of payload (32) | payload
//! ```
//!
//! The payload is JSON: the manual clock's time (if the clock is manual),
//! the id generator's key and counter, the token key, and per account and
//! region the records, the creates and updates in progress, and the
//! remembered `ClientToken`s. Timers, counts and alias groups are derived
//! again on load. A file that is not a state file, is truncated or longer
//! than it says, fails its checksum, has a newer version, or holds
//! inconsistent records is rejected with a [`LoadError`], and nothing is
//! loaded.
//!
//! Writing is crash-safe: the bytes go to a temporary file beside the
//! target, which is flushed to disk (`fsync`) and renamed over it, and the
//! directory is synced, so a crash leaves the old file or the new one.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Engine, EngineBuilder, Remembered, TokenAction};
use crate::clock::ManualClock;
use crate::cursor::TokenKey;
use crate::engine::lifecycle::Run;
use crate::ids::IdGenerator;
use crate::record::ImageCache;

const MAGIC: &[u8; 8] = b"ECIIMCST";
/// The version this build writes and the newest it reads.
pub const STATE_VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 32;

/// Why a state file could not be loaded. Nothing was loaded.
///
/// ```
/// use eci_imagecache::engine::{Engine, LoadError};
///
/// let saved = Engine::builder().seed(1).build().to_bytes();
/// assert!(Engine::builder().load_bytes(&saved).is_ok());
/// let e = Engine::builder().load_bytes(b"not a state").unwrap_err();
/// assert!(matches!(e, LoadError::NotAStateFile));
/// let mut flipped = saved.clone();
/// *flipped.last_mut().unwrap() ^= 1;
/// let e = Engine::builder().load_bytes(&flipped).unwrap_err();
/// assert!(matches!(e, LoadError::ChecksumMismatch));
/// assert_eq!(e.to_string(), "state file is corrupt: checksum mismatch");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Reading failed.
    #[error("cannot read the state file: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with the state file's magic bytes.
    #[error("not an eci-imagecache state file")]
    NotAStateFile,
    /// Written by a newer version of this library.
    #[error("state file version {found} is newer than the supported version {supported}")]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The newest this build reads.
        supported: u32,
    },
    /// Shorter or longer than its header says.
    #[error(
        "state file is truncated or has trailing bytes: expected {expected} bytes, found {found}"
    )]
    Truncated {
        /// Bytes the header announces.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The payload does not match its checksum.
    #[error("state file is corrupt: checksum mismatch")]
    ChecksumMismatch,
    /// The payload is not a valid state.
    #[error("state file is corrupt: {0}")]
    Invalid(String),
}

/// Why saving failed. A previous file at the path is left as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// Writing, syncing or renaming failed.
    #[error("cannot write the state file: {0}")]
    Io(#[from] std::io::Error),
}

/// The whole state, as saved (and as a store rebuilds it from its rows).
#[derive(Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) clock: Option<i64>,
    pub(crate) ids: ([u8; 32], u64),
    pub(crate) token_key: [u8; 32],
    pub(crate) regions: Vec<RegionState>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct RegionState {
    pub(crate) account: String,
    pub(crate) region_id: String,
    pub(crate) caches: Vec<ImageCache>,
    pub(crate) runs: Vec<(String, Run)>,
    pub(crate) tokens: Vec<TokenState>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct TokenState {
    pub(crate) action: TokenAction,
    pub(crate) token: String,
    pub(crate) remembered: Remembered,
}

impl Engine {
    /// The whole state as bytes: `"ECIIMCST"`, the format version (u32 LE),
    /// the payload length (u64 LE), the payload's SHA-256, then the payload
    /// (JSON: the manual clock's time, the id generator, the token key, and
    /// per account and region the records, the operations in progress and
    /// the remembered `ClientToken`s). [`EngineBuilder::load_bytes`] reads
    /// it back, refusing anything truncated, corrupt or newer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let state = self.to_state();
        let payload = serde_json::to_vec(&state).expect("the state serialises");
        let mut out = Vec::with_capacity(HEADER + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&STATE_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&payload));
        out.extend_from_slice(&payload);
        out
    }

    /// The whole state (records oldest first per region, runs by id, tokens
    /// by age).
    pub(crate) fn to_state(&self) -> State {
        State {
            clock: self.clock.as_manual().map(|c| {
                use crate::clock::Clock;
                c.now().as_second()
            }),
            ids: self.ids.state(),
            token_key: self.token_key.secret(),
            regions: self
                .regions
                .iter()
                // A region with nothing left is the same as no region.
                .filter(|(_, region)| !region.index.is_empty() || !region.tokens.is_empty())
                .map(|((account, region_id), region)| {
                    let mut caches: Vec<ImageCache> = region.index.iter().cloned().collect();
                    caches.reverse(); // oldest first: re-inserting appends
                    let mut runs: Vec<(String, Run)> = region
                        .runs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    runs.sort_by(|a, b| a.0.cmp(&b.0));
                    let mut tokens: Vec<TokenState> = region
                        .tokens
                        .iter()
                        .map(|((action, token), remembered)| TokenState {
                            action: *action,
                            token: token.clone(),
                            remembered: remembered.clone(),
                        })
                        .collect();
                    tokens.sort_by(|a, b| {
                        (a.remembered.at, &a.token, a.action).cmp(&(
                            b.remembered.at,
                            &b.token,
                            b.action,
                        ))
                    });
                    RegionState {
                        account: account.clone(),
                        region_id: region_id.clone(),
                        caches,
                        runs,
                        tokens,
                    }
                })
                .collect(),
        }
    }

    /// Saves the whole state to `path`, crash-safe: written to a synced
    /// temporary file beside it, then renamed over it, so `path` holds the
    /// old state or the new one, whole, whenever the process dies.
    ///
    /// # Errors
    ///
    /// [`SaveError::Io`] when writing, syncing or renaming fails (a full
    /// disk, a missing folder); `path` then still holds what it held.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SaveError> {
        write_atomically(path.as_ref(), &self.to_bytes())
    }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SaveError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    // One fixed name: a crash mid-write leaves it behind, and the next save
    // overwrites it instead of leaving another.
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(SaveError::Io)
}

impl EngineBuilder {
    /// Builds the engine with this builder's settings and the state saved
    /// in `path`. The saved ids and token key replace any seed. A saved
    /// manual-clock time is resumed: on a new manual clock when none was
    /// given, on the given clock when it is manual; a given system clock
    /// stays.
    ///
    /// # Errors
    ///
    /// [`LoadError::Io`] when the file cannot be read, and the errors of
    /// [`EngineBuilder::load_bytes`].
    pub fn load(self, path: impl AsRef<Path>) -> Result<Engine, LoadError> {
        let bytes = std::fs::read(path)?;
        self.load_bytes(&bytes)
    }

    /// [`EngineBuilder::load`] from bytes made by [`Engine::to_bytes`].
    ///
    /// # Errors
    ///
    /// A [`LoadError`] saying what is wrong with the bytes: not a state
    /// file, from a newer version, truncated or extended, a checksum that
    /// does not match, or a payload that is not a consistent state. Nothing
    /// is built from bytes that fail.
    pub fn load_bytes(self, bytes: &[u8]) -> Result<Engine, LoadError> {
        self.load_state(decode(bytes)?)
    }

    /// [`EngineBuilder::load_bytes`], but a manual clock given to the
    /// builder is left where it is: the saved manual-clock time, if any,
    /// is returned for the caller to set when it chooses. A server sets it
    /// as it swaps the engine in, under its lock, so that no call sees the
    /// new time beside the old engine, and a state that fails to load (or
    /// to be saved) never moves the clock. Without a clock given, the
    /// engine gets a new manual clock at the saved time, as `load_bytes`.
    ///
    /// ```
    /// use eci_imagecache::clock::{Clock, ManualClock};
    /// use eci_imagecache::engine::Engine;
    ///
    /// let saved = Engine::builder().clock(ManualClock::new("2030-01-01T00:00:00Z".parse()?)).build();
    /// let clock = ManualClock::new("2024-05-01T08:00:00Z".parse()?);
    /// let (engine, at) = Engine::builder().clock(clock.clone()).load_bytes_leaving_clock(&saved.to_bytes())?;
    /// assert_eq!(clock.now().to_string(), "2024-05-01T08:00:00Z");
    /// assert_eq!(at.unwrap().to_string(), "2030-01-01T00:00:00Z");
    /// clock.set(at.unwrap());
    /// assert_eq!(engine.now().to_string(), "2030-01-01T00:00:00Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Those of [`EngineBuilder::load_bytes`].
    pub fn load_bytes_leaving_clock(
        self,
        bytes: &[u8],
    ) -> Result<(Engine, Option<jiff::Timestamp>), LoadError> {
        self.load_state_leaving_clock(decode(bytes)?)
    }

    /// Builds the engine from a decoded state, checking it is consistent;
    /// a given manual clock moves to the saved time once it has loaded.
    pub(crate) fn load_state(self, state: State) -> Result<Engine, LoadError> {
        let given = self.clock.as_ref().and_then(|c| c.as_manual().cloned());
        let (engine, saved) = self.load_state_leaving_clock(state)?;
        if let (Some(manual), Some(at)) = (given, saved) {
            manual.set(at);
        }
        Ok(engine)
    }

    /// [`EngineBuilder::load_state`] without moving a given clock: returns
    /// the saved manual-clock time.
    fn load_state_leaving_clock(
        mut self,
        state: State,
    ) -> Result<(Engine, Option<jiff::Timestamp>), LoadError> {
        let saved = state.clock.map(crate::clock::timestamp);
        if let Some(at) = saved
            && self.clock.is_none()
        {
            self = self.clock(ManualClock::new(at));
        }
        let mut engine = self.build();
        engine.ids = IdGenerator::from_state(state.ids.0, state.ids.1);
        engine.token_key = TokenKey::from_secret(state.token_key);
        engine.empty = engine.new_index(b"\0none");
        // Ids are unique in an account, across its regions.
        // foldhash, not SipHash, and sized once: at a million caches the
        // check took most of a second.
        let total = state.regions.iter().map(|r| r.caches.len()).sum();
        let mut seen_ids: HashSet<(&str, &str), foldhash::fast::RandomState> =
            HashSet::with_capacity_and_hasher(total, Default::default());
        for r in &state.regions {
            for cache in &r.caches {
                if !seen_ids.insert((r.account.as_str(), cache.id())) {
                    return Err(LoadError::Invalid(format!(
                        "cache {} appears twice",
                        cache.id()
                    )));
                }
            }
        }
        drop(seen_ids);
        for r in state.regions {
            let key = (r.account, r.region_id);
            if engine.regions.contains_key(&key) {
                return Err(LoadError::Invalid(format!(
                    "region {:?} of account {:?} appears twice",
                    key.1, key.0
                )));
            }
            let region = engine.region_mut(&key);
            for cache in &r.caches {
                if cache.region_id() != key.1 {
                    return Err(LoadError::Invalid(format!(
                        "cache {} of region {:?} is listed under {:?}",
                        cache.id(),
                        cache.region_id(),
                        key.1
                    )));
                }
            }
            region.insert_caches(r.caches);
            for (id, run) in r.runs {
                if region.index.get(&id).is_none() {
                    return Err(LoadError::Invalid(format!(
                        "an operation in progress for unknown cache {id}"
                    )));
                }
                region.runs.insert(id, run);
            }
            region.schedule_all();
            for t in r.tokens {
                region
                    .token_times
                    .insert((t.remembered.at, t.action, t.token.clone()));
                region.tokens.insert((t.action, t.token), t.remembered);
            }
            engine.touched(&key);
        }
        Ok((engine, saved))
    }
}

fn decode(bytes: &[u8]) -> Result<State, LoadError> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(LoadError::NotAStateFile);
    }
    if bytes.len() < HEADER {
        return Err(LoadError::Truncated {
            expected: HEADER as u64,
            found: bytes.len() as u64,
        });
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > STATE_VERSION || version == 0 {
        return Err(LoadError::UnsupportedVersion {
            found: version,
            supported: STATE_VERSION,
        });
    }
    let length = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let found = (bytes.len() - HEADER) as u64;
    if length != found {
        return Err(LoadError::Truncated {
            expected: (HEADER as u64).saturating_add(length),
            found: bytes.len() as u64,
        });
    }
    let payload = &bytes[HEADER..];
    if Sha256::digest(payload).as_slice() != &bytes[20..52] {
        return Err(LoadError::ChecksumMismatch);
    }
    serde_json::from_slice(payload).map_err(|e| LoadError::Invalid(e.to_string()))
}
