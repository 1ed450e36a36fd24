//! The engine's settings and its builder.

use std::sync::Arc;

use super::{Durations, Engine, FailurePredicate};
use crate::clock::{Clock, SystemClock};
use crate::cursor::TokenKey;
use crate::ids::IdGenerator;
use crate::limits::{DEFAULT_PAGE_SIZE, DEFAULT_QUOTA};
use crate::reference::RegistryAliases;

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
    /// [`DescribeRequest::page_size`](crate::describe::DescribeRequest::page_size).
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
            page_cap: DEFAULT_PAGE_SIZE,
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
    pub(super) config: EngineConfig,
    pub(super) clock: Option<Arc<dyn Clock>>,
    pub(super) seed: Option<u64>,
    pub(super) failure: Option<FailurePredicate>,
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
