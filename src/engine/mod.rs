//! The engine embedders hold: every account's and region's caches, the
//! four operations, auto-match, the lifecycle on an injectable clock, quota
//! and LRU elimination, `ClientToken` idempotency, and saving and loading
//! the whole state.
//!
//! ```
//! use eci_imagecache::clock::ManualClock;
//! use eci_imagecache::describe::DescribeRequest;
//! use eci_imagecache::engine::{CreateRequest, Engine};
//! use eci_imagecache::record::CacheStatus;
//!
//! let clock = ManualClock::new("2024-05-01T08:00:00Z".parse().unwrap());
//! let mut engine = Engine::builder().clock(clock.clone()).seed(1).build();
//! let created = engine.create(&CreateRequest::new("cn-hangzhou", "web").image("nginx:1.25")?)?;
//!
//! let status = |engine: &mut Engine| {
//!     let page = engine.describe(&DescribeRequest::new("cn-hangzhou")).unwrap();
//!     (page.image_caches[0].status, page.image_caches[0].progress)
//! };
//! assert_eq!(status(&mut engine), (CacheStatus::Preparing, 0));
//! clock.advance_secs(70); // 10 s preparing, then half of 120 s creating
//! assert_eq!(status(&mut engine), (CacheStatus::Creating, 50));
//! clock.advance_secs(60);
//! assert_eq!(status(&mut engine), (CacheStatus::Ready, 100));
//! # let _ = created;
//! # Ok::<(), eci_imagecache::ApiError>(())
//! ```
//!
//! # Costs
//!
//! Every operation first applies the transitions that are due (`O(log n)`
//! each, from one ordered set of timers; one timer per cache). Create,
//! update and delete change the index in `O(k log n + Σ L)` for a cache with
//! `k` keys (`L` the lengths of the posting lists it joins or leaves);
//! quota eviction takes the first of the index's LRU order in `O(log n)`.
//! Idempotency tokens are one hash lookup.
//!
//! # Where things are
//!
//! - `builder`: [`EngineConfig`] and [`EngineBuilder`].
//! - `operations`: Describe, Create, Update and Delete.
//! - `auto_match`: auto-match, alone and in a batch; evaluating and
//!   explaining a choice; auto-creating a cache for a group.
//! - `import`: adding records as they are ([`Engine::import_all_as`]).
//! - `region`: one account's caches in one region, and what is kept beside
//!   its index.
//! - `timers` and `lifecycle`: when each cache next changes, and the
//!   change (status, progress, events) of a create or update run.
//! - `client_tokens`: `ClientToken` idempotency.
//! - `persist` (a whole state to and from JSON), `changes` (what a store
//!   writes next) and `shared` ([`SharedEngine`], for many threads).

mod auto_match;
mod builder;
#[cfg(feature = "sqlite")]
mod changes;
mod client_tokens;
mod import;
pub(crate) mod lifecycle;
mod operations;
pub(crate) mod persist;
mod region;
mod region_key;
mod request;
mod shared;
mod timers;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::cursor::TokenKey;
use crate::ids::IdGenerator;
use crate::index::{Index, Scratch};

pub use builder::{EngineBuilder, EngineConfig};
pub(crate) use client_tokens::{Remembered, TokenAction};
pub use import::ImportRefused;
pub use lifecycle::{Durations, FailureCheck, FailurePredicate, Operation};
pub use persist::{LoadError, STATE_VERSION, SaveError};
pub use request::{CreateRequest, CreateResponse, DeleteRequest, UpdateRequest};
pub use shared::SharedEngine;

use region::Region;
pub(crate) use region_key::RegionKey;

/// The account of callers that do not name one.
pub const DEFAULT_ACCOUNT: &str = "";
/// `ClientToken`s are remembered this long (engine time).
pub const CLIENT_TOKEN_TTL_SECS: i64 = 24 * 3600;
/// A `Failed` cache is removed this long after it failed.
pub const FAILED_RETENTION_SECS: i64 = 24 * 3600;
/// An auto-created cache never used is removed this long after creation.
pub const AUTO_CREATED_UNUSED_SECS: i64 = 7 * 24 * 3600;
/// An auto-created cache is removed this long after its last use.
pub const AUTO_CREATED_IDLE_SECS: i64 = 30 * 24 * 3600;
/// The size of an auto-created cache, GiB.
pub const AUTO_CREATED_SIZE_GIB: u32 = 30;

/// The engine: every account's and region's caches and the operations on
/// them. See the [module docs](self) for the lifecycle on a manual clock.
///
/// ```
/// use eci_imagecache::describe::DescribeRequest;
/// use eci_imagecache::engine::{CreateRequest, DeleteRequest, Engine, UpdateRequest};
/// use eci_imagecache::ErrorCode;
///
/// let mut engine = Engine::builder().seed(1).instant(true).build();
/// let created = engine.create(&CreateRequest::new("cn-hangzhou", "web").image("nginx:1")?)?;
/// let id = created.image_cache_id;
/// engine.update(&UpdateRequest::new("cn-hangzhou", &id).images(["nginx:2"])?)?;
/// let page = engine.describe(&DescribeRequest::new("cn-hangzhou").match_image("nginx:2")?)?;
/// assert_eq!(page.image_caches[0].id(), id);
/// engine.delete(&DeleteRequest::new("cn-hangzhou", &id))?;
/// // Each refusal is the cloud's code, and changes nothing.
/// let e = engine.delete(&DeleteRequest::new("cn-hangzhou", &id)).unwrap_err();
/// assert_eq!(e.code(), ErrorCode::InvalidImageCacheIdNotFound);
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
pub struct Engine {
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    ids: IdGenerator,
    token_key: TokenKey,
    regions: BTreeMap<RegionKey, Region>,
    /// (due, region): each region's earliest timer or token expiry (also
    /// kept as the region's `queued`), so a tick looks at the regions with
    /// something due and no others.
    due: BTreeSet<(i64, RegionKey)>,
    /// Regions changed since [`Engine::take_changes`].
    changed_regions: BTreeSet<RegionKey>,
    /// Whether changes are recorded: only once a store holds the engine
    /// ([`Engine::track_changes`]), so an engine without one keeps nothing.
    track: bool,
    failure: Option<FailurePredicate>,
    empty: Index,
    /// Reused by the calls that take `&mut self` (counters and buffers keep
    /// their capacity).
    scratch: Scratch,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("regions", &self.regions.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// A builder with the defaults.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// An engine with the defaults: system clock, random ids, quota 50.
    pub fn new() -> Engine {
        Engine::builder().build()
    }

    fn from_parts(
        config: EngineConfig,
        clock: Arc<dyn Clock>,
        ids: IdGenerator,
        token_key: TokenKey,
        failure: Option<FailurePredicate>,
    ) -> Engine {
        let mut empty = Index::new(config.aliases.clone(), token_key.derive(b"\0none"));
        empty.set_page_cap(config.page_cap);
        Engine {
            config,
            clock,
            ids,
            token_key,
            regions: BTreeMap::new(),
            due: BTreeSet::new(),
            changed_regions: BTreeSet::new(),
            track: false,
            failure,
            empty,
            scratch: Scratch::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The clock's time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The index of an account's region (the default account's with
    /// [`DEFAULT_ACCOUNT`]), for reading: every cache, the LRU order, stats.
    /// As of the last operation; call [`Engine::tick`] first to apply what
    /// became due since.
    pub fn index(&self, account: &str, region_id: &str) -> Option<&Index> {
        self.region(account, region_id).map(|r| &r.index)
    }

    /// An account's region, found without making its key.
    fn region(&self, account: &str, region_id: &str) -> Option<&Region> {
        region_key::find(&self.regions, account, region_id)
    }

    /// The index of an account's region, or an empty one.
    fn region_index(&self, account: &str, region_id: &str) -> &Index {
        self.region(account, region_id)
            .map_or(&self.empty, |r| &r.index)
    }

    /// Every (account, region) that holds caches or tokens.
    pub fn regions(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.regions.keys().map(|(a, r)| (a.as_str(), r.as_str()))
    }

    /// Whether a transition is due that [`Engine::tick`] would apply.
    pub fn is_due(&self) -> bool {
        let now = self.clock.now().as_second();
        self.due.first().is_some_and(|&(t, _)| t <= now)
    }

    /// Applies every transition due by now, in time order: lifecycle steps,
    /// expiry, removal of failed and idle auto-created caches, and forgets
    /// old `ClientToken`s. Every operation does this first.
    ///
    /// Costs `O(log n)` per transition applied, whatever the number of
    /// regions and accounts: one queue orders the regions by their next
    /// due time.
    pub fn tick(&mut self) {
        let now = self.clock.now().as_second();
        while let Some((t, key)) = self.due.first().cloned() {
            if t > now {
                break;
            }
            let region = self.regions.get_mut(&key).expect("a queued region exists");
            region.apply_due(now, &self.ids);
            region.expire_tokens(now);
            self.touched(&key);
        }
    }

    /// Marks a region changed and puts it back in the due queue at its
    /// next due time.
    fn touched(&mut self, key: &RegionKey) {
        if self.track && !self.changed_regions.contains(key) {
            self.changed_regions.insert(key.clone());
        }
        let Some(region) = self.regions.get_mut(key) else {
            return;
        };
        let next = region.next_due();
        if region.queued == next {
            return;
        }
        if let Some(t) = std::mem::replace(&mut region.queued, next) {
            self.due.remove(&(t, key.clone()));
        }
        if let Some(t) = next {
            self.due.insert((t, key.clone()));
        }
    }

    /// Removes every cache, operation and remembered token of every
    /// account and region; keeps the settings, the clock and the id
    /// generator (ids handed out before are never handed out again).
    pub fn reset(&mut self) {
        self.regions.clear();
        self.due.clear();
        self.changed_regions.clear();
    }

    fn region_mut(&mut self, key: &RegionKey) -> &mut Region {
        if !self.regions.contains_key(key) {
            let mut context = key.0.as_bytes().to_vec();
            context.push(0);
            context.extend_from_slice(key.1.as_bytes());
            let mut region = Region::new(self.new_index(&context));
            region.track = self.track;
            self.regions.insert(key.clone(), region);
        }
        self.regions.get_mut(key).expect("just inserted")
    }

    /// An empty index with the engine's rules and page cap, and the token
    /// key derived for `context`.
    pub(crate) fn new_index(&self, context: &[u8]) -> Index {
        let mut index = Index::new(self.config.aliases.clone(), self.token_key.derive(context));
        index.set_page_cap(self.config.page_cap);
        index
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}
