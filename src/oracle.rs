//! The naive oracle: the semantics of `DescribeImageCaches` as a plain loop
//! over every cache, comparing pre-normalised keys. Written for obviousness,
//! not speed: the property tests check the [`Index`](crate::index::Index)
//! against it, and the benchmarks use it as the "naive" baseline.

use crate::automatch::{self, AutoMatchRequest, BestMatch};
use crate::cursor::TokenKey;
use crate::describe::{DescribePage, DescribeRequest};
use crate::error::ApiError;
use crate::matching::{Prepared, SortKey, tags_match};
use crate::record::{CacheStatus, ImageCache};
use crate::reference::{ExactKey, RegistryAliases};

/// Every cache in a `Vec`, each with the exact keys of its images.
///
/// ```
/// use eci_imagecache::cursor::TokenKey;
/// use eci_imagecache::describe::DescribeRequest;
/// use eci_imagecache::oracle::NaiveIndex;
/// use eci_imagecache::record::ImageCache;
/// use eci_imagecache::reference::RegistryAliases;
///
/// let mut naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(1));
/// let t = "2024-05-01T08:00:00Z".parse().unwrap();
/// naive.insert(ImageCache::new("imc-a", "web", "cn-hangzhou", t).with_images(["nginx:1.25"]).unwrap());
/// let page = naive.describe(&DescribeRequest::new("cn-hangzhou").match_image("nginx:1.24")?)?;
/// assert_eq!(page.total_count, 1); // a partial match: same repository, other tag
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
pub struct NaiveIndex {
    rules: RegistryAliases,
    token_key: TokenKey,
    page_cap: u32,
    caches: Vec<(ImageCache, Vec<ExactKey>)>,
}

impl std::fmt::Debug for NaiveIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NaiveIndex")
            .field("caches", &self.caches.len())
            .field("page_cap", &self.page_cap)
            .finish_non_exhaustive()
    }
}

impl NaiveIndex {
    /// An empty oracle with these alias rules and token key.
    pub fn new(rules: RegistryAliases, token_key: TokenKey) -> Self {
        NaiveIndex {
            rules,
            token_key,
            page_cap: crate::limits::DEFAULT_PAGE_SIZE,
            caches: Vec::new(),
        }
    }

    /// Sets the most caches a page holds, as
    /// [`Index::set_page_cap`](crate::index::Index::set_page_cap) does.
    pub fn set_page_cap(&mut self, cap: u32) {
        self.page_cap = cap.max(1);
    }

    /// Inserts a cache, replacing the one with the same id; returns it.
    pub fn insert(&mut self, cache: ImageCache) -> Option<ImageCache> {
        let old = self.remove(cache.id());
        let keys = cache
            .images()
            .iter()
            .map(|image| self.rules.exact_key(&image.reference()))
            .collect();
        self.caches.push((cache, keys));
        old
    }

    /// Removes a cache by id.
    pub fn remove(&mut self, id: &str) -> Option<ImageCache> {
        let at = self.caches.iter().position(|(c, _)| c.id() == id)?;
        Some(self.caches.swap_remove(at).0)
    }

    /// The cache with this id.
    pub fn get(&self, id: &str) -> Option<&ImageCache> {
        self.caches.iter().map(|(c, _)| c).find(|c| c.id() == id)
    }

    /// How many caches there are.
    pub fn len(&self) -> usize {
        self.caches.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.caches.is_empty()
    }

    /// Auto-match: the best `Ready` cache for a container group, by trying
    /// every cache and keeping the first in [`automatch::rank`] order.
    pub fn best_match(&self, request: &AutoMatchRequest) -> Option<BestMatch<'_>> {
        self.ranked_matches(request, 1).into_iter().next()
    }

    /// The first `k` auto-match candidates, best first: every cache tried,
    /// all candidates sorted by [`automatch::rank`]. More than
    /// [`crate::index::MAX_COUNTED_IMAGES`] images match nothing, as on the
    /// index.
    pub fn ranked_matches(&self, request: &AutoMatchRequest, k: usize) -> Vec<BestMatch<'_>> {
        if request.images.len() > crate::index::MAX_COUNTED_IMAGES {
            return Vec::new();
        }
        let mut prepared = Prepared::default();
        prepared.prepare_match(
            &request.images,
            request.perfect_match,
            request.match_count_request,
            &self.rules,
        );
        let images = prepared.match_count() as u32;
        if images == 0 {
            return Vec::new();
        }
        let mut candidates: Vec<BestMatch<'_>> = Vec::new();
        for (cache, keys) in &self.caches {
            let (f, p) = counts(&prepared, keys);
            if cache.status == CacheStatus::Ready
                && cache.size_gib <= request.temporary_storage_gib
                && prepared.match_passes(f, p)
            {
                candidates.push(BestMatch {
                    cache,
                    exact: f,
                    partial: p,
                    images,
                });
            }
        }
        candidates.sort_by(|a, b| {
            automatch::rank(
                request.temporary_storage_gib,
                (a.cache, a.exact, a.partial),
                (b.cache, b.exact, b.partial),
            )
        });
        candidates.truncate(k);
        candidates
    }

    /// Answers `DescribeImageCaches`.
    ///
    /// # Errors
    ///
    /// As [`Index::describe_with`](crate::index::Index::describe_with): the
    /// oracle and an index with the same token key make and take the same
    /// tokens.
    pub fn describe(&self, request: &DescribeRequest) -> Result<DescribePage<'_>, ApiError> {
        request.validate()?;
        let mut prepared = Prepared::default();
        prepared.prepare(request, &self.rules);
        let mut fingerprint = Vec::new();
        prepared.fingerprint(request, &mut fingerprint);
        let bound = self.token_key.bind(&fingerprint);
        let mut token_buf = Vec::new();
        let after = match request.continuation() {
            Some(token) => Some(bound.decode(token, &mut token_buf)?),
            None => None,
        };

        let mut passing: Vec<SortKey<'_>> = Vec::new();
        let mut by_id = std::collections::HashMap::new();
        for (cache, keys) in &self.caches {
            let (f, p) = counts(&prepared, keys);
            let image_ok = match prepared.image() {
                None => true,
                Some((_, repo, true)) => keys.iter().any(|k| k.repo() == repo),
                Some((exact, _, false)) => keys.iter().any(|k| k.as_str() == exact),
            };
            let passes = prepared.match_passes(f, p)
                && image_ok
                && request
                    .image_cache_id
                    .as_ref()
                    .is_none_or(|id| *id == cache.id())
                && request
                    .image_cache_name
                    .as_ref()
                    .is_none_or(|n| *n == cache.name())
                && request
                    .snapshot_id
                    .as_ref()
                    .is_none_or(|s| Some(s.as_str()) == cache.snapshot_id())
                && request
                    .resource_group_id
                    .as_ref()
                    .is_none_or(|g| Some(g.as_str()) == cache.resource_group_id())
                && tags_match(cache, &request.tags);
            if passes {
                passing.push(SortKey::of(cache, f, p));
                by_id.insert(cache.id(), cache);
            }
        }
        passing.sort();

        let total_count = passing.len();
        let remaining: Vec<SortKey<'_>> = match &after {
            Some(position) => passing
                .into_iter()
                .filter(|k| *k > position.sort_key())
                .collect(),
            None => passing,
        };
        let limit = request.page_size(self.page_cap);
        let page: Vec<SortKey<'_>> = remaining.iter().copied().take(limit).collect();
        let next_token =
            (remaining.len() > page.len()).then(|| bound.encode(*page.last().expect("limit >= 1")));
        Ok(DescribePage {
            image_caches: page.iter().map(|k| by_id[k.id]).collect(),
            total_count,
            next_token,
        })
    }
}

/// F and P of a cache with these exact keys.
fn counts(prepared: &Prepared, keys: &[ExactKey]) -> (u32, u32) {
    let (mut f, mut p) = (0, 0);
    for (exact, repo) in prepared.match_keys() {
        if keys.iter().any(|k| k.as_str() == exact) {
            f += 1;
        } else if keys.iter().any(|k| k.repo() == repo) {
            p += 1;
        }
    }
    (f, p)
}
