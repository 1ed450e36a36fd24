//! Adding existing records as they are: one cache, or a corpus at once.

use std::collections::{BTreeMap, HashSet};

use super::lifecycle::Run;
use super::{Engine, Operation, RegionKey};
use crate::error::ApiError;
use crate::record::{CacheStatus, ImageCache};

impl Engine {
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
        self.check_import(account, &caches)?;
        let added = caches.len();
        // One moment for every region's restarted runs.
        let now = self.clock.now().as_second();
        for (region_id, caches) in by_region(caches) {
            self.import_region((account.to_owned(), region_id), caches, now);
        }
        self.tick();
        Ok(added)
    }

    /// The first cache of `caches` an import refuses: a bad region, no id,
    /// or an id the account already has (in any region) or that comes
    /// twice.
    fn check_import(&self, account: &str, caches: &[ImageCache]) -> Result<(), ImportRefused> {
        let mut seen: HashSet<&str, foldhash::fast::RandomState> =
            HashSet::with_capacity_and_hasher(caches.len(), Default::default());
        for cache in caches {
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
                || super::region_key::of_account(&self.regions, account)
                    .any(|r| r.index.get(cache.id()).is_some())
            {
                return Err(refuse(ApiError::invalid(
                    "ImageCacheId",
                    format_args!("{} already exists", cache.id()),
                )));
            }
        }
        Ok(())
    }

    /// Adds checked caches to one region: a create or update in progress
    /// restarts from its beginning now, the index is built in one pass and
    /// every timer set.
    fn import_region(&mut self, key: RegionKey, mut caches: Vec<ImageCache>, now: i64) {
        let durations = self.config.durations;
        // Importing draws no id, so every restarted run gets the same nonce.
        let nonce = self.ids.nonce();
        let region = self.region_mut(&key);
        // A region without caches has no timers: one pass sets them all.
        let fresh =
            region.index.is_empty() && region.timers.is_empty() && region.timer_of.is_empty();
        for cache in &mut caches {
            let operation = match cache.status {
                CacheStatus::Preparing | CacheStatus::Creating => Operation::Create,
                CacheStatus::Updating => Operation::Update,
                _ => continue,
            };
            if operation == Operation::Create {
                cache.status = CacheStatus::Preparing;
            }
            cache.progress = 0;
            let run = Run::begin(operation, now, durations, None, nonce);
            region.runs.insert(cache.id().to_owned(), run);
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
}

/// The caches by region, in region order. Nearly every import is of one
/// region: its records then stay where they are, with no second array of
/// them (at 100 000 caches such an array is below glibc's mmap threshold,
/// and freeing it leaves a hole in the heap the size of the records).
fn by_region(caches: Vec<ImageCache>) -> Vec<(String, Vec<ImageCache>)> {
    let one_region = caches
        .first()
        .map(|c| c.region_id().to_owned())
        .filter(|first| caches.iter().all(|c| c.region_id() == first));
    if let Some(region_id) = one_region {
        return vec![(region_id, caches)];
    }
    let mut by_region: BTreeMap<String, Vec<ImageCache>> = BTreeMap::new();
    for cache in caches {
        by_region
            .entry(cache.region_id().to_owned())
            .or_default()
            .push(cache);
    }
    by_region.into_iter().collect()
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
