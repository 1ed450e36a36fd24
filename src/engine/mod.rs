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

pub(crate) mod lifecycle;
pub(crate) mod persist;
mod request;
mod shared;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::automatch::{AutoMatchOutcome, AutoMatchRequest};
use crate::clock::{self, Clock, SystemClock};
use crate::cursor::TokenKey;
use crate::describe::{DescribePage, DescribeRequest};
use crate::error::{ApiError, ErrorCode};
use crate::index::{Index, Scratch};
use crate::record::{
    CacheStatus, CachedImage, EliminationStrategy, Event, EventKind, IdGenerator, ImageCache,
    StepIds,
};
use crate::reference::RegistryAliases;

pub use lifecycle::{Durations, FailureCheck, FailurePredicate, Operation};
#[doc(hidden)]
pub use persist::fuzz_load;
pub use persist::{LoadError, STATE_VERSION, SaveError};
pub use request::{
    CreateRequest, CreateResponse, DEFAULT_SIZE_GIB, DeleteRequest, MAX_CLIENT_TOKEN,
    MAX_CREDENTIALS, MAX_IMAGES, MAX_SIZE_GIB, MAX_TAGS, MAX_VSWITCHES, MIN_SIZE_GIB,
    UpdateRequest,
};
pub use shared::SharedEngine;

use lifecycle::{Run, Stage};

/// The account of callers that do not name one.
pub const DEFAULT_ACCOUNT: &str = "";
/// Caches per region when no quota is configured.
pub const DEFAULT_QUOTA: usize = 50;
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

/// Settings fixed when the engine is built.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Caches per account and region made by `CreateImageCache`.
    pub quota: usize,
    /// Caches per account and region auto-match may create.
    pub auto_created_quota: usize,
    /// Phase durations of creates and updates.
    pub durations: Durations,
    /// The most caches a `DescribeImageCaches` page holds (default 20, as
    /// the cloud; `u32::MAX` lifts it). See
    /// [`DescribeRequest::page_size`].
    pub page_cap: u32,
    /// Whether the wire decoders reject parameters an action does not know
    /// (default: ignored, as the cloud's API gateway does).
    pub strict_params: bool,
    /// The alias rules references are keyed with (strict or folding,
    /// embedder aliases); each region adds its caches' `AcrRegistryInfo`
    /// domains.
    pub aliases: RegistryAliases,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            quota: DEFAULT_QUOTA,
            auto_created_quota: DEFAULT_QUOTA,
            durations: Durations::default(),
            page_cap: crate::describe::DEFAULT_PAGE_SIZE,
            strict_params: false,
            aliases: RegistryAliases::default(),
        }
    }
}

/// Builds an [`Engine`].
///
/// ```
/// use eci_imagecache::engine::{Engine, FailurePredicate};
///
/// let engine = Engine::builder()
///     .seed(7)            // the same ids and tokens on every run
///     .instant(true)      // new caches are Ready at once
///     .quota(100)
///     .fail_when(FailurePredicate::new(|c| {
///         c.image_cache_name.starts_with("broken").then(|| "injected".to_owned())
///     }))
///     .build();
/// assert_eq!(engine.config().quota, 100);
/// ```
#[derive(Debug, Default)]
pub struct EngineBuilder {
    config: EngineConfig,
    clock: Option<Arc<dyn Clock>>,
    seed: Option<u64>,
    failure: Option<FailurePredicate>,
}

impl EngineBuilder {
    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Seeds the id generator and the token key, for reproducible runs
    /// (default: from the operating system).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The per-region quota of created caches (default 50).
    pub fn quota(mut self, quota: usize) -> Self {
        self.config.quota = quota;
        self
    }

    /// The per-region quota of auto-created caches (default 50).
    pub fn auto_created_quota(mut self, quota: usize) -> Self {
        self.config.auto_created_quota = quota;
        self
    }

    /// Phase durations.
    pub fn durations(mut self, durations: Durations) -> Self {
        self.config.durations = durations;
        self
    }

    /// Whether every phase takes no time.
    pub fn instant(mut self, yes: bool) -> Self {
        if yes {
            self.config.durations = Durations::instant();
        }
        self
    }

    /// The most caches a `DescribeImageCaches` page holds (default 20,
    /// the cloud's maximum; `u32::MAX` lifts it; 0 counts as 1). A page
    /// holds `min(Limit, cap)` caches, 20 when `Limit` is absent.
    pub fn page_cap(mut self, cap: u32) -> Self {
        self.config.page_cap = cap.max(1);
        self
    }

    /// Whether [`api::call`](crate::api::call) rejects parameters an action
    /// does not know with `InvalidParameter` (default: they are ignored,
    /// as the cloud's API gateway ignores them; strict catches typos).
    pub fn strict_params(mut self, yes: bool) -> Self {
        self.config.strict_params = yes;
        self
    }

    /// Alias rules (default: folding endpoint variants).
    pub fn aliases(mut self, aliases: RegistryAliases) -> Self {
        self.config.aliases = aliases;
        self
    }

    /// Makes creates and updates fail when the predicate gives a reason.
    pub fn fail_when(mut self, predicate: FailurePredicate) -> Self {
        self.failure = Some(predicate);
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        let (ids, token_key) = match self.seed {
            Some(seed) => (IdGenerator::seeded(seed), TokenKey::from_seed(seed)),
            None => (IdGenerator::random(), TokenKey::random()),
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        Engine::from_parts(self.config, clock, ids, token_key, self.failure)
    }
}

/// The engine: every account's and region's caches and the operations on
/// them. See the [module docs](self).
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

/// (account, region).
pub(crate) type RegionKey = (String, String);

/// What auto-match chose: the cache with F and P, if any, and the distinct
/// images of the group (for "a complete match").
#[derive(Clone)]
struct Choice {
    chosen: Option<(String, u32, u32)>,
    images: u32,
}

/// One account's caches in one region.
struct Region {
    index: Index,
    /// The engine's alias rules, to which `AcrRegistryInfo` aliases are added.
    base: RegistryAliases,
    /// Creates and updates in progress, and failed creates (until removed).
    runs: HashMap<String, Run, foldhash::fast::RandomState>,
    /// (due, id): one timer per cache that will change.
    timers: BTreeSet<(i64, String)>,
    timer_of: HashMap<String, i64, foldhash::fast::RandomState>,
    tokens: HashMap<(Action, String), Remembered, foldhash::fast::RandomState>,
    /// Tokens by the time they were stored, oldest first, for expiry.
    /// Ordered by time, not by insertion: a manual clock may move back, and
    /// a restart (which sorts) must expire them in the same order.
    token_times: BTreeSet<(i64, Action, String)>,
    /// Caches and tokens changed since [`Engine::take_changes`].
    changed: BTreeSet<String>,
    changed_tokens: BTreeSet<(Action, String)>,
    /// Whether changes are recorded (a store holds the engine).
    track: bool,
    /// Its entry in the engine's due queue, if any.
    queued: Option<i64>,
    /// `AcrRegistryInfo` domain groups of the caches, with use counts.
    acr_groups: BTreeMap<Vec<String>, usize>,
    created: usize,
    auto_created: usize,
}

/// The operations a `ClientToken` belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Action {
    Create,
    Update,
    Delete,
}

/// A successful call under a `ClientToken`: its parameters' fingerprint
/// and its answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Remembered {
    fingerprint: [u8; 32],
    answer: Option<CreateResponse>,
    pub(crate) at: i64,
}

#[cfg(feature = "sqlite")]
/// A cache's record and its operation in progress, as they are now.
pub(crate) type CacheNow = (ImageCache, Option<Run>);

#[cfg(feature = "sqlite")]
/// What changed since the last [`Engine::take_changes`]: per cache its
/// record and run now (`None`: removed), per token what is remembered now.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) caches: Vec<(RegionKey, String, Option<CacheNow>)>,
    pub(crate) tokens: Vec<(RegionKey, Action, String, Option<Remembered>)>,
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
        self.regions
            .get(&(account.to_owned(), region_id.to_owned()))
            .map(|r| &r.index)
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

    #[cfg(feature = "sqlite")]
    /// Everything changed since the last call (for a store that persists
    /// effects): the records, runs and tokens as they are now.
    pub(crate) fn take_changes(&mut self) -> Changes {
        let mut changes = Changes::default();
        for key in std::mem::take(&mut self.changed_regions) {
            let Some(region) = self.regions.get_mut(&key) else {
                continue;
            };
            for id in std::mem::take(&mut region.changed) {
                let now = region
                    .index
                    .get(&id)
                    .map(|c| (c.clone(), region.runs.get(&id).cloned()));
                changes.caches.push((key.clone(), id, now));
            }
            for (action, token) in std::mem::take(&mut region.changed_tokens) {
                let now = region.tokens.get(&(action, token.clone())).cloned();
                changes.tokens.push((key.clone(), action, token, now));
            }
        }
        changes
    }

    /// Removes every cache, operation and remembered token of every
    /// account and region; keeps the settings, the clock and the id
    /// generator (ids handed out before are never handed out again).
    pub fn reset(&mut self) {
        self.regions.clear();
        self.due.clear();
        self.changed_regions.clear();
    }

    /// Records changes from now on, for [`Engine::take_changes`] (a store
    /// holds the engine).
    #[cfg(feature = "sqlite")]
    pub(crate) fn track_changes(&mut self) {
        self.track = true;
        for region in self.regions.values_mut() {
            region.track = true;
        }
    }

    /// Forgets what changed (the engine now equals what a store holds).
    #[cfg(feature = "sqlite")]
    pub(crate) fn forget_changes(&mut self) {
        for key in std::mem::take(&mut self.changed_regions) {
            if let Some(region) = self.regions.get_mut(&key) {
                region.changed.clear();
                region.changed_tokens.clear();
            }
        }
    }

    #[cfg(feature = "sqlite")]
    /// The id generator's state (key, ids drawn), for a store.
    pub(crate) fn id_state(&self) -> ([u8; 32], u64) {
        self.ids.state()
    }

    /// `DescribeImageCaches` for the default account.
    pub fn describe(&mut self, request: &DescribeRequest) -> Result<DescribePage<'_>, ApiError> {
        self.describe_as(DEFAULT_ACCOUNT, request)
    }

    /// `DescribeImageCaches` for an account.
    pub fn describe_as(
        &mut self,
        account: &str,
        request: &DescribeRequest,
    ) -> Result<DescribePage<'_>, ApiError> {
        self.tick();
        let Engine {
            regions,
            empty,
            scratch,
            ..
        } = self;
        let index = regions
            .get(&(account.to_owned(), request.region_id.clone()))
            .map_or(&*empty, |r| &r.index);
        index.describe_with(request, scratch)
    }

    /// `DescribeImageCaches` without applying due transitions first (for
    /// readers that share the engine; see [`SharedEngine`]).
    pub fn describe_as_of_last_tick<'a>(
        &'a self,
        account: &str,
        request: &DescribeRequest,
        scratch: &mut Scratch,
    ) -> Result<DescribePage<'a>, ApiError> {
        let index = self
            .regions
            .get(&(account.to_owned(), request.region_id.clone()))
            .map_or(&self.empty, |r| &r.index);
        index.describe_with(request, scratch)
    }

    /// `CreateImageCache` for the default account.
    pub fn create(&mut self, request: &CreateRequest) -> Result<CreateResponse, ApiError> {
        self.create_as(DEFAULT_ACCOUNT, request)
    }

    /// `CreateImageCache` for an account.
    pub fn create_as(
        &mut self,
        account: &str,
        request: &CreateRequest,
    ) -> Result<CreateResponse, ApiError> {
        request.validate()?;
        self.tick();
        let now = self.clock.now();
        let key = (account.to_owned(), request.region_id.clone());
        let fingerprint = request.client_token.as_ref().map(|_| fingerprint(request));
        if let Some(region) = self.regions.get(&key)
            && let Some(answer) =
                region.replay(Action::Create, request.client_token.as_deref(), fingerprint)?
        {
            return Ok(answer.expect("a create remembers its answer"));
        }
        if let Some(region) = self.regions.get_mut(&key)
            && region.created >= self.config.quota
        {
            let victim = region.index.lru_order().next().map(|c| c.id().to_owned());
            match victim {
                Some(victim) => {
                    region.remove_cache(&victim);
                }
                None => return Err(ApiError::quota_exceeded()),
            }
        } else if self.config.quota == 0 {
            return Err(ApiError::quota_exceeded());
        }
        self.region_mut(&key);
        let id = self.ids.image_cache_id();
        let container_group_id = self.ids.container_group_id();
        let mut cache = ImageCache::created(
            [&id, &request.image_cache_name, &request.region_id],
            [
                request.resource_group_id.as_deref(),
                Some(&container_group_id),
            ],
            &request.images,
            &request.tags,
            now,
        );
        cache.size_gib = request.image_cache_size.unwrap_or(DEFAULT_SIZE_GIB);
        cache.elimination_strategy = request.elimination_strategy;
        cache.settings = request.settings.clone().into();
        cache.expire_time = expiry(now, cache.settings.retention_days);
        let answer = CreateResponse {
            image_cache_id: id,
            container_group_id,
        };
        self.start_create(&key, cache, now);
        if let (Some(token), Some(fingerprint)) = (&request.client_token, fingerprint) {
            self.region_mut(&key).remember(
                Action::Create,
                token,
                fingerprint,
                Some(answer.clone()),
                now.as_second(),
            );
        }
        self.touched(&key);
        Ok(answer)
    }

    /// Inserts a new cache in `Preparing` and starts its create.
    fn start_create(&mut self, key: &RegionKey, mut cache: ImageCache, now: Timestamp) {
        let failure = self.failure.as_ref().and_then(|f| {
            f.check(&FailureCheck {
                operation: Operation::Create,
                region_id: &key.1,
                image_cache_id: cache.id(),
                image_cache_name: cache.name(),
                images: cache.images(),
            })
        });
        let name = self.ids.event_name(cache.name());
        cache.record_event(
            EventKind::Normal,
            "Started",
            "Successfully check image cache resource.",
            now,
            || name,
        );
        let id = cache.id().to_owned();
        let run = Run {
            operation: Operation::Create,
            started: now.as_second(),
            durations: self.config.durations,
            failure,
            applied: -1,
            nonce: self.ids.nonce(),
        }
        .already_at_start();
        let Engine { regions, ids, .. } = self;
        let region = regions.get_mut(key).expect("region exists");
        region.insert_cache(cache);
        region.runs.insert(id.clone(), run);
        region.reschedule(&id);
        region.apply_due(now.as_second(), ids);
        self.touched(key);
    }

    /// `UpdateImageCache` for the default account.
    pub fn update(&mut self, request: &UpdateRequest) -> Result<(), ApiError> {
        self.update_as(DEFAULT_ACCOUNT, request)
    }

    /// `UpdateImageCache` for an account.
    pub fn update_as(&mut self, account: &str, request: &UpdateRequest) -> Result<(), ApiError> {
        request.validate()?;
        self.tick();
        let now = self.clock.now();
        let key = (account.to_owned(), request.region_id.clone());
        let fingerprint = request.client_token.as_ref().map(|_| fingerprint(request));
        let not_found = || ApiError::image_cache_id_not_found(&request.image_cache_id);
        let region = self.regions.get(&key).ok_or_else(not_found)?;
        if region
            .replay(Action::Update, request.client_token.as_deref(), fingerprint)?
            .is_some()
        {
            return Ok(());
        }
        let old = region
            .index
            .get(&request.image_cache_id)
            .ok_or_else(not_found)?;
        if !matches!(old.status, CacheStatus::Ready | CacheStatus::UpdateFailed) {
            return Err(ApiError::operation_conflict());
        }
        let mut new = old.clone();
        apply_update(&mut new, request);
        if new == *old {
            return Err(ApiError::no_need_update());
        }
        let failure = self.failure.as_ref().and_then(|f| {
            f.check(&FailureCheck {
                operation: Operation::Update,
                region_id: &key.1,
                image_cache_id: new.id(),
                image_cache_name: new.name(),
                images: new.images(),
            })
        });
        new.status = CacheStatus::Updating;
        new.progress = 0;
        let name = self.ids.event_name(new.name());
        new.record_event(
            EventKind::Normal,
            "UpdateStarted",
            "Started updating image cache.",
            now,
            || name,
        );
        pulling_events(&mut new, &mut self.ids, now);
        let run = Run {
            operation: Operation::Update,
            started: now.as_second(),
            durations: self.config.durations,
            failure,
            applied: -1,
            nonce: self.ids.nonce(),
        }
        .already_at_start();
        let Engine { regions, ids, .. } = self;
        let region = regions.get_mut(&key).expect("region exists");
        region.replace_cache(new);
        region.runs.insert(request.image_cache_id.clone(), run);
        region.reschedule(&request.image_cache_id);
        region.apply_due(now.as_second(), ids);
        if let (Some(token), Some(fingerprint)) = (&request.client_token, fingerprint) {
            region.remember(Action::Update, token, fingerprint, None, now.as_second());
        }
        self.touched(&key);
        Ok(())
    }

    /// `DeleteImageCache` for the default account.
    pub fn delete(&mut self, request: &DeleteRequest) -> Result<(), ApiError> {
        self.delete_as(DEFAULT_ACCOUNT, request)
    }

    /// `DeleteImageCache` for an account: allowed in every state.
    pub fn delete_as(&mut self, account: &str, request: &DeleteRequest) -> Result<(), ApiError> {
        request.validate()?;
        self.tick();
        let now = self.clock.now().as_second();
        let key = (account.to_owned(), request.region_id.clone());
        let fingerprint = request.client_token.as_ref().map(|_| fingerprint(request));
        let not_found = || ApiError::image_cache_id_not_found(&request.image_cache_id);
        let region = self.regions.get_mut(&key).ok_or_else(not_found)?;
        if region
            .replay(Action::Delete, request.client_token.as_deref(), fingerprint)?
            .is_some()
        {
            return Ok(());
        }
        if !region.remove_cache(&request.image_cache_id) {
            return Err(not_found());
        }
        if let (Some(token), Some(fingerprint)) = (&request.client_token, fingerprint) {
            region.remember(Action::Delete, token, fingerprint, None, now);
        }
        self.touched(&key);
        Ok(())
    }

    /// Auto-match for the default account.
    pub fn auto_match(&mut self, request: &AutoMatchRequest) -> Result<AutoMatchOutcome, ApiError> {
        self.auto_match_as(DEFAULT_ACCOUNT, request)
    }

    /// Auto-match for a container group of an account (section 7): picks
    /// the best `Ready` cache and records the hit (`LastMatchedTime`, a new
    /// place in LRU order; the `SuccessfulHitImageCache` event is the
    /// group's, returned in the outcome), or reports a miss. With
    /// `auto_create`, a cache for the whole group is created when there is
    /// no complete match: on a miss, and beside a partial winner.
    ///
    /// # Errors
    ///
    /// What [`AutoMatchRequest::validate`] finds; with an explicit cache
    /// id, `ImageCacheNotFound` or `ImageCacheNotComplete`.
    pub fn auto_match_as(
        &mut self,
        account: &str,
        request: &AutoMatchRequest,
    ) -> Result<AutoMatchOutcome, ApiError> {
        request.validate()?;
        self.tick();
        let key = (account.to_owned(), request.region_id.clone());
        // The engine's scratch space, so a call allocates no counters.
        let mut scratch = std::mem::take(&mut self.scratch);
        let chosen = self.choose(&key, request, &mut scratch);
        self.scratch = scratch;
        Ok(self.record_match(&key, request, &chosen?))
    }

    /// Auto-match for many container groups of the default account at once.
    pub fn auto_match_batch(
        &mut self,
        requests: &[AutoMatchRequest],
    ) -> Vec<Result<AutoMatchOutcome, ApiError>> {
        self.auto_match_batch_as(DEFAULT_ACCOUNT, requests)
    }

    /// Auto-match for many container groups: the choices are made in
    /// parallel (rayon, one scratch space per worker) against the state at
    /// the start of the batch, then the hits and misses are recorded in
    /// order. The answers are those of matching the groups one by one,
    /// except that a cache auto-created for one group of the batch is not a
    /// candidate for the later ones (it is not `Ready` at once unless the
    /// engine is instant); it does stop them from auto-creating another for
    /// the same images. Each request is checked on its own.
    pub fn auto_match_batch_as(
        &mut self,
        account: &str,
        requests: &[AutoMatchRequest],
    ) -> Vec<Result<AutoMatchOutcome, ApiError>> {
        use rayon::prelude::*;
        use std::hash::BuildHasher;
        self.tick();
        // Each request is checked on its own, and its ask (region, images
        // as a set, storage and settings) hashed, in parallel: groups asking
        // the same thing then get the same choice, each distinct valid ask
        // ranked once. Only what must be in order stays on one thread:
        // grouping the asks, then recording the hits and misses.
        let hasher = foldhash::fast::RandomState::default();
        let asks: Vec<Result<(AskKey<'_>, u64), ApiError>> = requests
            .par_iter()
            .map(|request| {
                request.validate()?;
                let ask = AskKey::of(request);
                let hash = hasher.hash_one(&ask);
                Ok((ask, hash))
            })
            .collect();
        let mut distinct: Vec<&AutoMatchRequest> = Vec::new();
        // (hash, slot, the first request asking it).
        let mut slot_of: hashbrown::HashTable<(u64, usize, usize)> =
            hashbrown::HashTable::with_capacity(requests.len());
        let slots: Vec<Result<usize, ApiError>> = asks
            .iter()
            .zip(requests)
            .enumerate()
            .map(|(at, (ask, request))| {
                let (key, hash) = ask.as_ref().map_err(Clone::clone)?;
                let same = |&(_, _, first): &(u64, usize, usize)| {
                    asks[first].as_ref().is_ok_and(|(other, _)| other == key)
                };
                let entry = slot_of.entry(*hash, same, |&(hash, _, _)| hash);
                Ok(entry
                    .or_insert_with(|| {
                        distinct.push(request);
                        (*hash, distinct.len() - 1, at)
                    })
                    .get()
                    .1)
            })
            .collect();
        let this = &*self;
        let choices: Vec<Result<Choice, ApiError>> = distinct
            .par_iter()
            .map_init(Scratch::default, |scratch, request| {
                let key = (account.to_owned(), request.region_id.clone());
                this.choose(&key, request, scratch)
            })
            .collect();
        // One region key, its region written over only when a request
        // names another.
        let mut key: RegionKey = (account.to_owned(), String::new());
        slots
            .into_iter()
            .zip(requests)
            .map(|(slot, request)| {
                let choice = choices[slot?].as_ref().map_err(Clone::clone)?;
                if key.1 != request.region_id {
                    key.1.clone_from(&request.region_id);
                }
                Ok(self.record_match(&key, request, choice))
            })
            .collect()
    }

    /// Auto-match without recording anything, for the default account.
    pub fn evaluate(
        &self,
        request: &AutoMatchRequest,
        k: usize,
    ) -> Result<crate::automatch::Evaluation, ApiError> {
        self.evaluate_as(DEFAULT_ACCOUNT, request, k)
    }

    /// Auto-match without recording anything: the first `k` candidates in
    /// the ranking of section 7, each with F, P, the size distance and a
    /// 0–100 [`score`](crate::automatch::score), so a scheduler can score
    /// before it decides. The first candidate is what
    /// [`Engine::auto_match_as`] then chooses. As of the last operation or
    /// [`Engine::tick`] (call it first to apply what became due since);
    /// nothing changes, not even the id generator.
    ///
    /// ```
    /// use eci_imagecache::automatch::AutoMatchRequest;
    /// use eci_imagecache::engine::{CreateRequest, Engine};
    ///
    /// let mut engine = Engine::builder().seed(1).instant(true).build();
    /// engine.create(&CreateRequest::new("cn-hangzhou", "one").image("nginx:1")?)?;
    /// engine.create(&CreateRequest::new("cn-hangzhou", "both").image("nginx:1")?.image("redis:7")?)?;
    /// let group = AutoMatchRequest::new("cn-hangzhou").image("nginx:1")?.image("redis:7")?;
    /// let evaluation = engine.evaluate(&group, 10)?;
    /// let scores: Vec<(u32, u8)> =
    ///     evaluation.candidates.iter().map(|c| (c.exact, c.score)).collect();
    /// assert_eq!(scores, [(2, 100), (1, 50)]);
    /// # Ok::<(), eci_imagecache::ApiError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Engine::auto_match_as`].
    pub fn evaluate_as(
        &self,
        account: &str,
        request: &AutoMatchRequest,
        k: usize,
    ) -> Result<crate::automatch::Evaluation, ApiError> {
        use crate::automatch::{Candidate, Evaluation, score};
        request.validate()?;
        let key = (account.to_owned(), request.region_id.clone());
        let index = self.regions.get(&key).map_or(&self.empty, |r| &r.index);
        // (cache, F, P) found, and the distinct images: taken from the
        // ranking when it found any, so the images are prepared once.
        let (found, images) = match &request.image_cache_id {
            Some(id) => {
                let cache = explicit(index.get(id), id)?;
                let (f, p) = index.match_counts(id, &request.images).expect("present");
                (vec![(cache, f, p)], index.distinct_images(&request.images))
            }
            None => {
                let ranked = index.ranked_matches(request, k, &mut Scratch::default());
                let images = match ranked.first() {
                    Some(b) => b.images,
                    None => index.distinct_images(&request.images),
                };
                let found = ranked.into_iter().map(|b| (b.cache, b.exact, b.partial));
                (found.collect(), images)
            }
        };
        let storage = request.temporary_storage_gib;
        let mut candidates: Vec<Candidate> = found
            .into_iter()
            .map(|(cache, exact, partial)| Candidate {
                image_cache_id: cache.id().to_owned(),
                exact,
                partial,
                size_distance_gib: storage.abs_diff(cache.size_gib),
                creation_time: cache.creation_time,
                score: score(exact, partial, images),
            })
            .collect();
        let choice = Choice {
            chosen: candidates
                .first()
                .map(|c| (c.image_cache_id.clone(), c.exact, c.partial)),
            images,
        };
        let auto_create = self.would_auto_create(&key, request, &choice);
        candidates.truncate(k);
        Ok(Evaluation {
            images,
            candidates,
            auto_create,
        })
    }

    /// The caches of the region that match at least one of the group's
    /// images (`F + P ≥ 1`) but are not auto-match candidates, each with
    /// the reason: not `Ready`, larger than the temporary storage, short of
    /// a perfect match or of the match count, newest first. For explaining
    /// a decision; it costs what [`Engine::evaluate_as`] costs plus one
    /// step per matching cache.
    ///
    /// ```
    /// use eci_imagecache::automatch::AutoMatchRequest;
    /// use eci_imagecache::engine::{CreateRequest, Engine};
    ///
    /// let mut engine = Engine::builder().seed(1).instant(true).build();
    /// engine.create(&CreateRequest::new("cn-hangzhou", "big").image("nginx")?.size_gib(40))?;
    /// let group = AutoMatchRequest::new("cn-hangzhou").image("nginx")?;
    /// let excluded = engine.excluded_as("", &group);
    /// assert_eq!(excluded[0].reason, "ImageCacheSize 40 GiB is more than the temporary storage (30 GiB)");
    /// # Ok::<(), eci_imagecache::ApiError>(())
    /// ```
    pub fn excluded_as(
        &self,
        account: &str,
        request: &AutoMatchRequest,
    ) -> Vec<crate::automatch::Exclusion> {
        let Some(region) = self
            .regions
            .get(&(account.to_owned(), request.region_id.clone()))
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let matching = region
            .index
            .matching(&request.images, &mut Scratch::default());
        for m in matching {
            let (cache, f, p, images) = (m.cache, m.exact, m.partial, m.images);
            let reason = if cache.status != CacheStatus::Ready {
                format!("{}: only Ready caches are used", cache.status.as_str())
            } else if cache.size_gib > request.temporary_storage_gib {
                format!(
                    "ImageCacheSize {} GiB is more than the temporary storage ({} GiB)",
                    cache.size_gib, request.temporary_storage_gib
                )
            } else if request.perfect_match && f < images {
                format!("a perfect match is asked: {f} of {images} images match exactly")
            } else if let Some(n) = request
                .match_count_request
                .filter(|&n| !request.perfect_match && f < n)
            {
                format!("{f} exact matches, fewer than the {n} asked")
            } else {
                continue;
            };
            out.push(crate::automatch::Exclusion {
                image_cache_id: cache.id().to_owned(),
                exact: f,
                partial: p,
                reason,
            });
        }
        out
    }

    /// The cache auto-match picks (id, F, P), without changing anything.
    fn choose(
        &self,
        key: &RegionKey,
        request: &AutoMatchRequest,
        scratch: &mut Scratch,
    ) -> Result<Choice, ApiError> {
        let index = self.regions.get(key).map_or(&self.empty, |r| &r.index);
        Ok(match &request.image_cache_id {
            None => match index.best_match(request, scratch) {
                Some(b) => Choice {
                    chosen: Some((b.cache.id().to_owned(), b.exact, b.partial)),
                    images: b.images,
                },
                None => Choice {
                    chosen: None,
                    images: index.distinct_images(&request.images),
                },
            },
            Some(id) => {
                explicit(index.get(id), id)?;
                let (f, p) = index.match_counts(id, &request.images).expect("present");
                // A named cache is used as it is: never an auto-create
                // beside it, so the count of images does not matter.
                Choice {
                    chosen: Some((id.clone(), f, p)),
                    images: 0,
                }
            }
        })
    }

    /// Whether auto-match creates a cache for the group: asked for, no
    /// cache named, no complete match (`F` < the distinct images), no
    /// auto-created cache for the same images already (one is enough while
    /// it is made: a burst of pods makes one), and room under the
    /// auto-created quota, making room by evicting the least recently used
    /// auto-created cache other than the one just chosen.
    fn would_auto_create(
        &self,
        key: &RegionKey,
        request: &AutoMatchRequest,
        choice: &Choice,
    ) -> bool {
        if !request.auto_create || request.images.is_empty() || request.image_cache_id.is_some() {
            return false;
        }
        if choice
            .chosen
            .as_ref()
            .is_some_and(|&(_, exact, _)| exact >= choice.images)
        {
            return false;
        }
        let Some(region) = self.regions.get(key) else {
            return self.config.auto_created_quota > 0;
        };
        // An auto-created cache for the same images, in any state (one being
        // made counts): found among the caches that match the images, with
        // one counting pass over their posting lists.
        let wanted = image_set(request.images.iter().map(|r| r.as_str()));
        if region.auto_created > 0
            && region
                .index
                .matching(&request.images, &mut Scratch::default())
                .iter()
                .any(|m| {
                    m.cache.auto_created
                        && image_set(m.cache.images().iter().map(|i| i.written())) == wanted
                })
        {
            return false;
        }
        let hit = choice.chosen.as_ref().map(|(id, _, _)| id.as_str());
        region.auto_created < self.config.auto_created_quota
            || region
                .index
                .auto_created_lru_order()
                .any(|c| Some(c.id()) != hit)
    }

    /// Records a hit on the chosen cache, or a miss; auto-creates a cache
    /// for the group when asked and the match is not complete.
    fn record_match(
        &mut self,
        key: &RegionKey,
        request: &AutoMatchRequest,
        choice: &Choice,
    ) -> AutoMatchOutcome {
        let now = self.clock.now();
        let container_group_id = match &request.container_group_id {
            Some(id) => id.clone(),
            None => self.ids.container_group_id(),
        };
        let hit = choice.chosen.as_ref().and_then(|(id, exact, partial)| {
            let region = self.regions.get_mut(key)?;
            if !region.index.set_last_matched(id, now) {
                return None;
            }
            region.mark(id);
            region.reschedule(id);
            Some((id.as_str(), *exact, *partial))
        });
        if hit.is_some() {
            self.touched(key);
        }
        let auto_created = if self.would_auto_create(key, request, choice) {
            let keep = hit.map(|(id, _, _)| id);
            self.auto_create(key, request, &container_group_id, keep, now)
        } else {
            None
        };
        match hit {
            Some((image_cache_id, exact, partial)) => {
                let image_cache_id = image_cache_id.to_owned();
                let event = Event {
                    kind: EventKind::Normal,
                    reason: crate::automatch::HIT_EVENT_REASON.to_owned(),
                    message: format!("Successfully hit image cache {image_cache_id}."),
                    name: self.ids.event_name(&container_group_id),
                    count: 1,
                    first_timestamp: now,
                    last_timestamp: now,
                };
                AutoMatchOutcome::Hit {
                    image_cache_id,
                    exact,
                    partial,
                    container_group_id,
                    event,
                    auto_created,
                }
            }
            None => AutoMatchOutcome::Miss {
                container_group_id,
                auto_created,
            },
        }
    }

    /// Adds a cache record as it is (for example one made by
    /// `eci-imagecache gen`), to the account's region named by its
    /// `RegionId`, outside the quota. A cache in `Preparing`, `Creating` or
    /// `Updating` starts that operation again now; expiry and retention
    /// apply. A cache whose id is already there is refused.
    ///
    /// # Errors
    ///
    /// `MissingParameter` for an empty id, `InvalidParameter` for a bad
    /// `RegionId` or an id the account already holds.
    pub fn import_as(&mut self, account: &str, cache: ImageCache) -> Result<(), ApiError> {
        self.import_all_as(account, [cache])
            .map(|_| ())
            .map_err(|refused| refused.error)
    }

    /// [`Engine::import_as`] for many caches at once, all or none: every
    /// cache is checked first, then each region's index is built in one
    /// pass (sorted once, every posting list appended to), which is what
    /// makes importing a large corpus linear. Returns how many were added.
    ///
    /// ```
    /// use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine};
    /// use eci_imagecache::record::{CacheStatus, ImageCache};
    ///
    /// let mut engine = Engine::builder().instant(true).seed(1).build();
    /// let t = "2024-05-01T08:00:00Z".parse().unwrap();
    /// let ready = |id: &str| {
    ///     let mut c = ImageCache::new(id, "web", "cn-hangzhou", t);
    ///     c.status = CacheStatus::Ready;
    ///     c
    /// };
    /// assert_eq!(engine.import_all_as(DEFAULT_ACCOUNT, [ready("imc-a"), ready("imc-b")])?, 2);
    /// // One refused cache refuses the batch: nothing is added.
    /// let refused = engine.import_all_as(DEFAULT_ACCOUNT, [ready("imc-c"), ready("imc-a")]).unwrap_err();
    /// assert_eq!(refused.id, "imc-a");
    /// assert!(engine.index(DEFAULT_ACCOUNT, "cn-hangzhou").unwrap().get("imc-c").is_none());
    /// # Ok::<(), eci_imagecache::engine::ImportRefused>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ImportRefused`] names the first cache [`Engine::import_as`] would
    /// refuse, or that appears twice in `caches`.
    pub fn import_all_as(
        &mut self,
        account: &str,
        caches: impl IntoIterator<Item = ImageCache>,
    ) -> Result<usize, ImportRefused> {
        let caches: Vec<ImageCache> = caches.into_iter().collect();
        // What is due happens first, refused or not, as it always has.
        self.tick();
        let mut seen: HashSet<&str, foldhash::fast::RandomState> =
            HashSet::with_capacity_and_hasher(caches.len(), Default::default());
        for cache in &caches {
            let refuse = |error| ImportRefused {
                id: cache.id().to_owned(),
                error,
            };
            crate::record::check_region_id(cache.region_id()).map_err(refuse)?;
            if cache.id().is_empty() {
                return Err(refuse(ApiError::missing("ImageCacheId")));
            }
            // Ids are unique in an account, across its regions.
            if !seen.insert(cache.id())
                || self
                    .regions
                    .range((account.to_owned(), String::new())..)
                    .take_while(|((a, _), _)| a == account)
                    .any(|(_, r)| r.index.get(cache.id()).is_some())
            {
                return Err(refuse(ApiError::invalid(
                    "ImageCacheId",
                    format_args!("{} already exists", cache.id()),
                )));
            }
        }
        drop(seen);
        let added = caches.len();
        let now = self.clock.now();
        let durations = self.config.durations;
        // Importing draws no id, so every restarted run gets the same nonce.
        let nonce = self.ids.nonce();
        // Nearly every import is of one region: its records stay where they
        // are, with no second array of them (at 100 000 caches such an
        // array is below glibc's mmap threshold, and freeing it leaves a
        // hole in the heap the size of the records).
        let one_region = caches
            .first()
            .map(|c| c.region_id().to_owned())
            .filter(|first| caches.iter().all(|c| c.region_id() == first));
        let groups: Vec<(String, Vec<ImageCache>)> = match one_region {
            Some(region_id) => vec![(region_id, caches)],
            None => {
                let mut by_region: BTreeMap<String, Vec<ImageCache>> = BTreeMap::new();
                for cache in caches {
                    by_region
                        .entry(cache.region_id().to_owned())
                        .or_default()
                        .push(cache);
                }
                by_region.into_iter().collect()
            }
        };
        for (region_id, mut caches) in groups {
            let key = (account.to_owned(), region_id);
            let region = self.region_mut(&key);
            // A region without caches has no timers: one pass sets them all.
            let fresh =
                region.index.is_empty() && region.timers.is_empty() && region.timer_of.is_empty();
            for cache in &mut caches {
                let operation = match cache.status {
                    CacheStatus::Preparing | CacheStatus::Creating => Some(Operation::Create),
                    CacheStatus::Updating => Some(Operation::Update),
                    _ => None,
                };
                if operation == Some(Operation::Create) {
                    cache.status = CacheStatus::Preparing;
                    cache.progress = 0;
                } else if operation == Some(Operation::Update) {
                    cache.progress = 0;
                }
                if let Some(operation) = operation {
                    region.runs.insert(
                        cache.id().to_owned(),
                        Run {
                            operation,
                            started: now.as_second(),
                            durations,
                            failure: None,
                            applied: -1,
                            nonce,
                        }
                        .already_at_start(),
                    );
                }
            }
            let ids: Vec<String> = if fresh {
                Vec::new()
            } else {
                caches.iter().map(|c| c.id().to_owned()).collect()
            };
            region.insert_caches(caches);
            if fresh {
                region.schedule_all();
            }
            for id in &ids {
                region.reschedule(id);
            }
            self.touched(&key);
        }
        self.tick();
        Ok(added)
    }

    /// Creates `auto-create-for-<group>` under the auto-created quota,
    /// evicting the least recently used auto-created cache other than
    /// `keep` (the hit) at the quota.
    fn auto_create(
        &mut self,
        key: &RegionKey,
        request: &AutoMatchRequest,
        container_group_id: &str,
        keep: Option<&str>,
        now: Timestamp,
    ) -> Option<String> {
        let quota = self.config.auto_created_quota;
        let region = self.region_mut(key);
        if region.auto_created >= quota {
            let victim = region
                .index
                .auto_created_lru_order()
                .find(|c| Some(c.id()) != keep)?
                .id()
                .to_owned();
            self.region_mut(key).remove_cache(&victim);
            self.touched(key);
        }
        let id = self.ids.image_cache_id();
        let name = format!("auto-create-for-{container_group_id}");
        let images: Vec<CachedImage> = request
            .images
            .iter()
            .filter_map(|r| CachedImage::parse(r.as_ref()).ok())
            .collect();
        let mut cache = ImageCache::created(
            [&id, &name, &key.1],
            [None, Some(container_group_id)],
            &images,
            &[],
            now,
        );
        cache.size_gib = AUTO_CREATED_SIZE_GIB;
        cache.elimination_strategy = EliminationStrategy::Lru;
        cache.auto_created = true;
        self.start_create(key, cache, now);
        Some(id)
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

/// An explicitly named cache: it must exist and be `Ready`.
fn explicit<'a>(cache: Option<&'a ImageCache>, id: &str) -> Result<&'a ImageCache, ApiError> {
    let Some(cache) = cache else {
        return Err(ApiError::new(
            ErrorCode::ImageCacheNotFound,
            format!("The specified image cache {id} does not exist."),
        ));
    };
    if cache.status != CacheStatus::Ready {
        return Err(ApiError::new(
            ErrorCode::ImageCacheNotComplete,
            format!("The specified image cache {id} is not ready."),
        ));
    }
    Ok(cache)
}

/// What an auto-match asks, without the group's own id and whether to
/// auto-create: groups that ask the same get the same choice. Images as a
/// sorted set of their canonical text.
#[derive(PartialEq, Eq, Hash)]
struct AskKey<'a> {
    region_id: &'a str,
    images: Vec<&'a str>,
    temporary_storage_gib: u32,
    perfect_match: bool,
    match_count_request: Option<u32>,
    image_cache_id: Option<&'a str>,
}

impl<'a> AskKey<'a> {
    fn of(request: &'a AutoMatchRequest) -> Self {
        let mut images: Vec<&str> = request.images.iter().map(|r| r.as_str()).collect();
        images.sort_unstable();
        images.dedup();
        AskKey {
            region_id: &request.region_id,
            images,
            temporary_storage_gib: request.temporary_storage_gib,
            perfect_match: request.perfect_match,
            match_count_request: request.match_count_request,
            image_cache_id: request.image_cache_id.as_deref(),
        }
    }
}

/// A group's or a cache's images as a sorted set of their text (an
/// auto-created cache holds the group's images in canonical form).
fn image_set<'a>(images: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut set: Vec<&str> = images.collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// `CreationTime + RetentionDays`.
fn expiry(creation: Timestamp, retention_days: Option<u32>) -> Option<Timestamp> {
    retention_days.map(|d| clock::timestamp(creation.as_second().saturating_add(d as i64 * 86_400)))
}

/// SHA-256 of a request's parameters other than its `ClientToken`, as
/// canonical JSON (object keys sorted).
fn fingerprint<T: Serialize>(request: &T) -> [u8; 32] {
    let mut value = serde_json::to_value(request).expect("requests serialise");
    if let Some(fields) = value.as_object_mut() {
        fields.remove("client_token");
    }
    Sha256::digest(value.to_string()).into()
}

/// Applies an update's given parameters to a copy of the cache.
fn apply_update(cache: &mut ImageCache, r: &UpdateRequest) {
    if let Some(name) = &r.image_cache_name {
        cache.set_name(name);
    }
    if let Some(images) = &r.images {
        cache.set_images(images);
    }
    if let Some(size) = r.image_cache_size {
        cache.size_gib = size;
    }
    if let Some(group) = &r.resource_group_id {
        cache.set_resource_group_id(Some(group));
    }
    if let Some(strategy) = r.elimination_strategy {
        cache.elimination_strategy = strategy;
    }
    if let Some(tags) = &r.tags {
        cache.set_tags(tags);
    }
    let s = &mut cache.settings;
    if let Some(v) = &r.acr_registry_info {
        s.acr_registry_info.clone_from(v);
    }
    if let Some(v) = &r.image_registry_credentials {
        s.image_registry_credentials.clone_from(v);
    }
    if let Some(v) = r.auto_match_image_cache {
        s.auto_match_image_cache = Some(v);
    }
    if let Some(v) = &r.eip_instance_id {
        s.eip_instance_id = Some(v.clone());
    }
    if let Some(v) = &r.security_group_id {
        s.security_group_id = Some(v.clone());
    }
    if let Some(v) = &r.v_switch_id {
        s.v_switch_id = Some(v.clone());
    }
    if let Some(v) = r.retention_days {
        s.retention_days = Some(v);
        cache.expire_time = expiry(cache.creation_time, Some(v));
    }
    if let Some(v) = r.flash {
        s.flash = Some(v);
    }
    if let Some(v) = r.flash_copy_count {
        s.flash_copy_count = Some(v);
    }
    if let Some(v) = r.standard_copy_count {
        s.standard_copy_count = Some(v);
    }
}

/// The message of each image's `Pulling` event, in order.
fn pulling_messages(cache: &ImageCache) -> Vec<String> {
    cache
        .images()
        .iter()
        .map(|image| format!("Pulling image \"{}\".", image.written()))
        .collect()
}

/// One `Pulling` event per image.
fn pulling_events(cache: &mut ImageCache, ids: &mut IdGenerator, at: Timestamp) {
    for message in pulling_messages(cache) {
        let name = ids.event_name(cache.name());
        cache.record_event(EventKind::Normal, "Pulling", &message, at, || name);
    }
}

impl Region {
    fn new(index: Index) -> Region {
        Region {
            base: index.rules().clone(),
            index,
            runs: HashMap::default(),
            timers: BTreeSet::new(),
            timer_of: HashMap::default(),
            tokens: HashMap::default(),
            token_times: BTreeSet::new(),
            changed: BTreeSet::new(),
            changed_tokens: BTreeSet::new(),
            track: false,
            queued: None,
            acr_groups: BTreeMap::new(),
            created: 0,
            auto_created: 0,
        }
    }

    /// The remembered answer for a token: `Ok(None)` when the token is new
    /// (or absent), `Ok(Some(answer))` to replay, an error on other
    /// parameters.
    fn replay(
        &self,
        action: Action,
        token: Option<&str>,
        fingerprint: Option<[u8; 32]>,
    ) -> Result<Option<Option<CreateResponse>>, ApiError> {
        let Some(token) = token else { return Ok(None) };
        match self.tokens.get(&(action, token.to_owned())) {
            None => Ok(None),
            Some(r) if Some(r.fingerprint) == fingerprint => Ok(Some(r.answer.clone())),
            Some(_) => Err(ApiError::idempotent_mismatch()),
        }
    }

    fn remember(
        &mut self,
        action: Action,
        token: &str,
        fingerprint: [u8; 32],
        answer: Option<CreateResponse>,
        at: i64,
    ) {
        self.tokens.insert(
            (action, token.to_owned()),
            Remembered {
                fingerprint,
                answer,
                at,
            },
        );
        self.token_times.insert((at, action, token.to_owned()));
        self.mark_token(action, token);
    }

    fn mark(&mut self, id: &str) {
        if self.track && !self.changed.contains(id) {
            self.changed.insert(id.to_owned());
        }
    }

    fn mark_token(&mut self, action: Action, token: &str) {
        if self.track {
            self.changed_tokens.insert((action, token.to_owned()));
        }
    }

    /// Forgets the tokens older than [`CLIENT_TOKEN_TTL_SECS`].
    fn expire_tokens(&mut self, now: i64) {
        while let Some(&(t, action, _)) = self.token_times.first() {
            if t + CLIENT_TOKEN_TTL_SECS > now {
                break;
            }
            let (_, _, token) = self.token_times.pop_first().expect("present");
            let key = (action, token);
            if self.tokens.get(&key).is_some_and(|r| r.at == t) {
                self.tokens.remove(&key);
                self.mark_token(key.0, &key.1);
            }
        }
    }

    /// The earliest timer or token expiry.
    fn next_due(&self) -> Option<i64> {
        let timer = self.timers.first().map(|&(t, _)| t);
        let token = self
            .token_times
            .first()
            .map(|&(t, _, _)| t.saturating_add(CLIENT_TOKEN_TTL_SECS));
        match (timer, token) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn insert_cache(&mut self, cache: ImageCache) {
        self.insert_caches(vec![cache]);
    }

    /// [`Region::insert_cache`] for many: the index is built in one pass
    /// (a few are inserted one by one).
    fn insert_caches(&mut self, caches: Vec<ImageCache>) {
        let mut groups = Vec::new();
        for cache in &caches {
            self.mark(cache.id());
            if cache.auto_created {
                self.auto_created += 1;
            } else {
                self.created += 1;
            }
            groups.extend(acr_groups(cache));
        }
        self.count_acr_groups(&groups, 1);
        self.index.extend(caches);
    }

    fn replace_cache(&mut self, cache: ImageCache) {
        let id = cache.id().to_owned();
        self.mark(&id);
        let new_groups = acr_groups(&cache);
        let mut old_groups = Vec::new();
        self.index.update(&id, |c| {
            old_groups = acr_groups(c);
            *c = cache;
        });
        if old_groups != new_groups {
            self.count_acr_groups(&new_groups, 1);
            self.count_acr_groups(&old_groups, -1);
        }
    }

    /// Removes a cache and everything about it; `false` if there is none.
    fn remove_cache(&mut self, id: &str) -> bool {
        let Some(cache) = self.index.remove(id) else {
            return false;
        };
        self.mark(id);
        if cache.auto_created {
            self.auto_created -= 1;
        } else {
            self.created -= 1;
        }
        self.runs.remove(id);
        if let Some(t) = self.timer_of.remove(id) {
            self.timers.remove(&(t, id.to_owned()));
        }
        self.count_acr_groups(&acr_groups(&cache), -1);
        true
    }

    /// Adds (`delta` 1) or removes (-1) domain groups; when the set of
    /// groups changes, re-keys the index under the base rules plus every
    /// group's aliases.
    fn count_acr_groups(&mut self, groups: &[Vec<String>], delta: i64) {
        let mut changed = false;
        for group in groups {
            if delta > 0 {
                let n = self.acr_groups.entry(group.clone()).or_insert(0);
                *n += 1;
                changed |= *n == 1;
            } else if let Some(n) = self.acr_groups.get_mut(group) {
                *n -= 1;
                if *n == 0 {
                    self.acr_groups.remove(group);
                    changed = true;
                }
            }
        }
        if changed {
            let mut rules = self.base.clone();
            for group in self.acr_groups.keys() {
                for domain in &group[1..] {
                    rules.add_alias(domain, &group[0]);
                }
            }
            self.index.set_rules(rules);
        }
    }

    /// Sets every cache's timer in a region whose timers are all unset (a
    /// region just loaded): one pass over the index, no lookup by id.
    fn schedule_all(&mut self) {
        debug_assert!(self.timers.is_empty() && self.timer_of.is_empty());
        let due: Vec<(i64, String)> = self
            .index
            .iter()
            .filter_map(|cache| {
                next_due(cache, self.runs.get(cache.id())).map(|t| (t, cache.id().to_owned()))
            })
            .collect();
        self.timer_of.reserve(due.len());
        for (t, id) in &due {
            self.timer_of.insert(id.clone(), *t);
        }
        // Collected in one go: sorted, then the tree built bottom up, not
        // grown by a search a timer.
        self.timers = due.into_iter().collect();
    }

    /// Sets the cache's one timer to its next change.
    fn reschedule(&mut self, id: &str) {
        if let Some(t) = self.timer_of.remove(id) {
            self.timers.remove(&(t, id.to_owned()));
        }
        let Some(cache) = self.index.get(id) else {
            return;
        };
        if let Some(t) = next_due(cache, self.runs.get(id)) {
            self.timers.insert((t, id.to_owned()));
            self.timer_of.insert(id.to_owned(), t);
        }
    }

    /// Applies every timer due by `now`, earliest first.
    fn apply_due(&mut self, now: i64, ids: &IdGenerator) {
        while let Some((t, id)) = self.timers.first().cloned() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            self.timer_of.remove(&id);
            self.step(&id, t, ids);
        }
    }

    /// Whatever is due for one cache at `t`.
    fn step(&mut self, id: &str, t: i64, ids: &IdGenerator) {
        self.mark(id);
        let Some(cache) = self.index.get(id) else {
            return;
        };
        let run = self.runs.get(id);
        let expired = cache.expire_time.is_some_and(|e| e.as_second() <= t)
            || (cache.auto_created && auto_created_end(cache) <= t)
            || run.and_then(failed_removal).is_some_and(|r| r <= t);
        if expired {
            self.remove_cache(id);
            return;
        }
        if let Some(run) = run {
            let mut run = run.clone();
            let stage = run.stage(t - run.started);
            // Lifecycle steps change status, progress, events and snapshots:
            // the index re-keys only the snapshot.
            self.index
                .update(id, |c| advance(c, &run, stage, clock::timestamp(t), ids));
            run.applied = t - run.started;
            let ended = stage == Stage::Done
                || (stage == Stage::Failed && run.operation == Operation::Update);
            if ended {
                self.runs.remove(id);
            } else {
                self.runs.insert(id.to_owned(), run);
            }
        }
        self.reschedule(id);
    }
}

/// Moves a cache to `stage` of its run at `at`, with the events of every
/// transition crossed.
fn advance(cache: &mut ImageCache, run: &Run, stage: Stage, at: Timestamp, ids: &IdGenerator) {
    let ids = &mut ids.step(cache.id(), run.nonce, at.as_second());
    let event = |ids: &mut StepIds, cache: &mut ImageCache, kind, reason: &str, message: &str| {
        let name = ids.event_name(cache.name());
        cache.record_event(kind, reason, message, at, || name);
    };
    if run.operation == Operation::Create
        && cache.status == CacheStatus::Preparing
        && stage != Stage::Preparing
    {
        cache.status = CacheStatus::Creating;
        for message in pulling_messages(cache) {
            event(ids, cache, EventKind::Normal, "Pulling", &message);
        }
        if cache.settings.flash == Some(true) {
            let id = ids.snapshot_id();
            let message = format!("Successfully created flash snapshot {id}.");
            event(
                ids,
                cache,
                EventKind::Normal,
                "FlashSnapshotCreated",
                &message,
            );
            cache.set_flash_snapshot_id(Some(&id));
        }
    }
    match stage {
        Stage::Preparing => {}
        Stage::Running(progress) => cache.progress = progress,
        Stage::Done => {
            let snapshot = ids.snapshot_id();
            cache.status = CacheStatus::Ready;
            cache.progress = 100;
            cache.set_flash_snapshot_id(None);
            let message = format!("Successfully created snapshot {snapshot}.");
            event(ids, cache, EventKind::Normal, "SnapshotCreated", &message);
            cache.set_snapshot_id(Some(&snapshot));
            event(
                ids,
                cache,
                EventKind::Normal,
                "Ready",
                "The image cache is ready.",
            );
        }
        Stage::Failed => {
            let reason = run.failure.clone().unwrap_or_default();
            match run.operation {
                Operation::Create => {
                    if cache.status != CacheStatus::Failed {
                        cache.status = CacheStatus::Failed;
                        cache.set_flash_snapshot_id(None);
                        // Removed a day after failing: that is its expiry
                        // ("created-failed image caches expire after 24
                        // hours"), unless its retention ends sooner.
                        let removal =
                            clock::timestamp(at.as_second().saturating_add(FAILED_RETENTION_SECS));
                        cache.expire_time =
                            Some(cache.expire_time.map_or(removal, |e| e.min(removal)));
                        event(ids, cache, EventKind::Warning, "Failed", &reason);
                    }
                }
                Operation::Update => {
                    cache.status = CacheStatus::UpdateFailed;
                    event(ids, cache, EventKind::Warning, "UpdateFailed", &reason);
                }
            }
        }
    }
}

/// When a failed create's cache is removed.
fn failed_removal(run: &Run) -> Option<i64> {
    if run.operation != Operation::Create || run.failure.is_none() {
        return None;
    }
    let d = run.durations;
    Some(run.started + d.preparing as i64 + d.creating as i64 / 2 + FAILED_RETENTION_SECS)
}

/// When an auto-created cache is removed: 7 days after creation if never
/// used, else 30 days after its last use.
fn auto_created_end(cache: &ImageCache) -> i64 {
    match cache.last_matched_time {
        Some(t) => t.as_second().saturating_add(AUTO_CREATED_IDLE_SECS),
        None => cache
            .creation_time
            .as_second()
            .saturating_add(AUTO_CREATED_UNUSED_SECS),
    }
}

/// The next time anything happens to a cache.
fn next_due(cache: &ImageCache, run: Option<&Run>) -> Option<i64> {
    let mut due: Option<i64> = None;
    let mut consider = |t: i64| due = Some(due.map_or(t, |d| d.min(t)));
    if let Some(e) = cache.expire_time {
        consider(e.as_second());
    }
    if cache.auto_created {
        consider(auto_created_end(cache));
    }
    if let Some(run) = run {
        if let Some(next) = run.next_change(run.applied) {
            consider(run.started + next);
        }
        if let Some(r) = failed_removal(run) {
            consider(r);
        }
    }
    due
}

/// The `AcrRegistryInfo` domain groups of a cache with two or more domains,
/// each sorted (commas inside a domain value separate domains).
fn acr_groups(cache: &ImageCache) -> Vec<Vec<String>> {
    cache
        .settings
        .acr_registry_info
        .iter()
        .filter_map(|info| {
            let mut domains: Vec<String> = info
                .domains
                .iter()
                .flat_map(|d| d.split(','))
                .map(|d| d.trim().to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect();
            domains.sort();
            domains.dedup();
            (domains.len() >= 2).then_some(domains)
        })
        .collect()
}

/// Why [`Engine::import_all_as`] added nothing: the first cache it refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRefused {
    /// The refused cache's `ImageCacheId` (empty when that was the fault).
    pub id: String,
    /// What [`Engine::import_as`] would have answered.
    pub error: ApiError,
}

impl std::fmt::Display for ImportRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.id, self.error)
    }
}

impl std::error::Error for ImportRefused {}
