//! Auto-match (section 7): choosing the best cache for a container group,
//! alone or in a parallel batch, recording the hit, auto-creating a cache
//! for the group; and explaining a choice without making it.

use jiff::Timestamp;

use super::{AUTO_CREATED_SIZE_GIB, DEFAULT_ACCOUNT, Engine, RegionKey};
use crate::automatch::{AutoMatchOutcome, AutoMatchRequest};
use crate::error::{ApiError, ErrorCode};
use crate::index::Scratch;
use crate::record::{CacheStatus, CachedImage, EliminationStrategy, Event, EventKind, ImageCache};

/// What auto-match chose: the cache with F and P, if any, and the distinct
/// images of the group (for "a complete match").
#[derive(Clone)]
struct Choice {
    chosen: Option<(String, u32, u32)>,
    images: u32,
}

impl Engine {
    /// Auto-match for the default account.
    ///
    /// # Errors
    ///
    /// As [`Engine::auto_match_as`].
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
        // The engine's scratch space, so a call allocates no counters.
        let mut scratch = std::mem::take(&mut self.scratch);
        let chosen = self.choose(account, request, &mut scratch);
        self.scratch = scratch;
        let key = (account.to_owned(), request.region_id.clone());
        Ok(self.record_match(&key, request, &chosen?))
    }

    /// Auto-match for many container groups of the default account at once.
    ///
    /// Each answer is a `Result` of its own: as [`Engine::auto_match_batch_as`].
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
    ///
    /// # Errors
    ///
    /// Each answer is a `Result` of its own: a request gets the error
    /// [`Engine::auto_match_as`] would give it, and does not stop the
    /// others.
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
                this.choose(account, request, scratch)
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
    ///
    /// # Errors
    ///
    /// As [`Engine::auto_match_as`].
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
        let index = self.region_index(account, &request.region_id);
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
        let auto_create = self.would_auto_create(account, request, &choice);
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
        let Some(region) = self.region(account, &request.region_id) else {
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
        account: &str,
        request: &AutoMatchRequest,
        scratch: &mut Scratch,
    ) -> Result<Choice, ApiError> {
        let index = self.region_index(account, &request.region_id);
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
        account: &str,
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
        let Some(region) = self.region(account, &request.region_id) else {
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
        let auto_created = if self.would_auto_create(&key.0, request, choice) {
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
