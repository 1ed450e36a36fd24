//! `DescribeImageCaches`: the typed request, the page it returns, and the
//! definitions of matching and order that every engine shares
//! (`shared/spec/behaviour.md` section 4).
//!
//! ```
//! use eci_imagecache::describe::DescribeRequest;
//!
//! let request = DescribeRequest::new("cn-hangzhou")
//!     .match_image("registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.15.10-perl")?
//!     .match_image("redis:7")?
//!     .match_count(1)
//!     .limit(20);
//! assert_eq!(request.match_images.len(), 2);
//! # Ok::<(), eci_imagecache::ApiError>(())
//! ```

use std::cmp::Ordering;

use crate::error::ApiError;
use crate::limits::{DEFAULT_PAGE_SIZE, MAX_MATCH_IMAGES, MAX_TAG_FILTERS};
use crate::record::ImageCache;
use crate::reference::{Reference, RegistryAliases};

/// A `DescribeImageCaches` request. All filters are ANDed; absent ones do not
/// restrict.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DescribeRequest {
    /// `RegionId` (required).
    pub region_id: String,
    /// `ImageCacheId`: exact; an unknown id gives an empty list.
    pub image_cache_id: Option<String>,
    /// `ImageCacheName`: exact, case-sensitive.
    pub image_cache_name: Option<String>,
    /// `SnapshotId`: exact.
    pub snapshot_id: Option<String>,
    /// `ResourceGroupId`: exact.
    pub resource_group_id: Option<String>,
    /// `Image`: without tag or digest, any version of the repository
    /// matches; with one, the exact key must match.
    pub image: Option<Reference>,
    /// `Tag.N.Key` / `Tag.N.Value`: every tag must be on the cache.
    pub tags: Vec<TagFilter>,
    /// `MatchImage.N`: duplicates count once.
    pub match_images: Vec<Reference>,
    /// `ImageFullMatch`: only with `MatchImage`.
    pub image_full_match: bool,
    /// `ImageMatchCountRequest`: only with `MatchImage`.
    pub image_match_count_request: Option<u32>,
    /// `Limit`: absent means [`DEFAULT_PAGE_SIZE`]; above the engine's page
    /// cap means the cap ([`DescribeRequest::page_size`]).
    pub limit: Option<u32>,
    /// `NextToken`: empty is the same as absent.
    pub next_token: Option<String>,
}

/// `Tag.N`: a key, and a value that matches any value when absent or empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TagFilter {
    /// `Tag.N.Key`.
    pub key: String,
    /// `Tag.N.Value`.
    pub value: Option<String>,
}

impl TagFilter {
    /// The value to match, or `None` for any value.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref().filter(|v| !v.is_empty())
    }
}

/// One page of `DescribeImageCaches`.
#[derive(Clone, Debug, PartialEq)]
pub struct DescribePage<'a> {
    /// `ImageCaches`, in the order of section 4.2.
    pub image_caches: Vec<&'a ImageCache>,
    /// `TotalCount`: the caches that pass the filters, across all pages.
    pub total_count: usize,
    /// `NextToken`: present only when more caches remain.
    pub next_token: Option<String>,
}

impl DescribeRequest {
    /// A request for a region, with no filters.
    pub fn new(region_id: impl Into<String>) -> Self {
        DescribeRequest {
            region_id: region_id.into(),
            ..DescribeRequest::default()
        }
    }

    /// Adds a `MatchImage`.
    pub fn match_image(mut self, image: &str) -> Result<Self, ApiError> {
        let parsed = Reference::parse(image).map_err(|e| ApiError::invalid("MatchImage", e))?;
        self.match_images.push(parsed);
        Ok(self)
    }

    /// Sets `Image`.
    pub fn image(mut self, image: &str) -> Result<Self, ApiError> {
        self.image = Some(Reference::parse(image).map_err(|e| ApiError::invalid("Image", e))?);
        Ok(self)
    }

    /// Sets `ImageCacheId`.
    pub fn image_cache_id(mut self, id: impl Into<String>) -> Self {
        self.image_cache_id = Some(id.into());
        self
    }

    /// Sets `ImageCacheName`.
    pub fn image_cache_name(mut self, name: impl Into<String>) -> Self {
        self.image_cache_name = Some(name.into());
        self
    }

    /// Sets `SnapshotId`.
    pub fn snapshot_id(mut self, id: impl Into<String>) -> Self {
        self.snapshot_id = Some(id.into());
        self
    }

    /// Sets `ResourceGroupId`.
    pub fn resource_group_id(mut self, id: impl Into<String>) -> Self {
        self.resource_group_id = Some(id.into());
        self
    }

    /// Adds a `Tag` filter; `None` or `""` matches any value of the key.
    pub fn tag(mut self, key: impl Into<String>, value: Option<&str>) -> Self {
        self.tags.push(TagFilter {
            key: key.into(),
            value: value.map(str::to_owned),
        });
        self
    }

    /// Sets `ImageFullMatch`.
    pub fn full_match(mut self, yes: bool) -> Self {
        self.image_full_match = yes;
        self
    }

    /// Sets `ImageMatchCountRequest`.
    pub fn match_count(mut self, n: u32) -> Self {
        self.image_match_count_request = Some(n);
        self
    }

    /// Sets `Limit`.
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }

    /// Sets `NextToken`.
    pub fn next_token(mut self, token: impl Into<String>) -> Self {
        self.next_token = Some(token.into());
        self
    }

    /// Checks the limits of section 4; every engine calls this first.
    pub fn validate(&self) -> Result<(), ApiError> {
        crate::record::check_region_id(&self.region_id)?;
        if self.match_images.len() > MAX_MATCH_IMAGES {
            return Err(ApiError::invalid(
                "MatchImage",
                format_args!(
                    "at most {MAX_MATCH_IMAGES} images, got {}",
                    self.match_images.len()
                ),
            ));
        }
        if self.tags.len() > MAX_TAG_FILTERS {
            return Err(ApiError::invalid(
                "Tag",
                format_args!("at most {MAX_TAG_FILTERS} tags, got {}", self.tags.len()),
            ));
        }
        if self.tags.iter().any(|t| t.key.is_empty()) {
            return Err(ApiError::invalid(
                "Tag.N.Key",
                "a tag key must not be empty",
            ));
        }
        if self.tags.iter().any(|t| {
            t.key.chars().count() > 128 || t.value().is_some_and(|v| v.chars().count() > 128)
        }) {
            return Err(ApiError::invalid(
                "Tag.N",
                "tag keys and values are at most 128 characters",
            ));
        }
        for (name, value) in [
            ("ImageCacheName", &self.image_cache_name),
            ("ImageCacheId", &self.image_cache_id),
            ("SnapshotId", &self.snapshot_id),
            ("ResourceGroupId", &self.resource_group_id),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > 256) {
                return Err(ApiError::invalid(name, "at most 256 characters"));
            }
        }
        if self.limit == Some(0) {
            return Err(ApiError::invalid("Limit", "must be at least 1"));
        }
        if self.image_match_count_request == Some(0) {
            return Err(ApiError::invalid(
                "ImageMatchCountRequest",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The most caches a page holds under a page cap: `min(Limit, cap)`,
    /// with `Limit` absent meaning [`DEFAULT_PAGE_SIZE`] (section 4.3).
    ///
    /// ```
    /// use eci_imagecache::describe::DescribeRequest;
    ///
    /// let request = DescribeRequest::new("cn-hangzhou");
    /// assert_eq!(request.page_size(20), 20);
    /// assert_eq!(request.clone().limit(1000).page_size(20), 20);
    /// assert_eq!(request.clone().limit(5).page_size(20), 5);
    /// // An embedder that lifts the cap still gets 20 without a Limit.
    /// assert_eq!(request.clone().page_size(u32::MAX), 20);
    /// assert_eq!(request.limit(1000).page_size(u32::MAX), 1000);
    /// ```
    pub fn page_size(&self, cap: u32) -> usize {
        self.limit.unwrap_or(DEFAULT_PAGE_SIZE).min(cap.max(1)) as usize
    }

    /// The `NextToken` to continue from, if any (empty counts as none).
    pub(crate) fn continuation(&self) -> Option<&str> {
        self.next_token.as_deref().filter(|t| !t.is_empty())
    }
}

/// A query key: byte ranges of [`Prepared`]'s text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyRange {
    start: u32,
    repo_end: u32,
    end: u32,
}

/// A request with its images turned into keys under an engine's rules, in
/// buffers that are reused from query to query.
#[derive(Default)]
pub(crate) struct Prepared {
    text: String,
    scratch: String,
    /// Distinct query images, sorted by exact key (duplicates count once).
    keys: Vec<KeyRange>,
    /// `Image`, and whether it was written without tag or digest.
    image: Option<(KeyRange, bool)>,
    /// `ImageFullMatch`, only when there is a `MatchImage`.
    pub full_match: bool,
    /// `ImageMatchCountRequest`, only when there is a `MatchImage`.
    pub min_exact: Option<u32>,
}

impl Prepared {
    /// Fills the buffers for `request`, keeping their capacity.
    pub fn prepare(&mut self, request: &DescribeRequest, rules: &RegistryAliases) {
        self.prepare_match(
            &request.match_images,
            request.image_full_match,
            request.image_match_count_request,
            rules,
        );
        self.image = request
            .image
            .as_ref()
            .map(|r| (self.push_key(r, rules), r.is_name_only()));
    }

    /// Fills the buffers for matching `images` only (auto-match).
    pub fn prepare_match(
        &mut self,
        images: &[crate::reference::Reference],
        full_match: bool,
        min_exact: Option<u32>,
        rules: &RegistryAliases,
    ) {
        self.text.clear();
        self.keys.clear();
        self.image = None;
        for image in images {
            let key = self.push_key(image, rules);
            self.keys.push(key);
        }
        let text = &self.text;
        let exact = |k: &KeyRange| &text[k.start as usize..k.end as usize];
        self.keys.sort_unstable_by(|a, b| exact(a).cmp(exact(b)));
        self.keys.dedup_by(|a, b| exact(a) == exact(b));
        let matching = !self.keys.is_empty();
        self.full_match = matching && full_match;
        self.min_exact = min_exact.filter(|_| matching);
    }

    fn push_key(
        &mut self,
        reference: &crate::reference::Reference,
        rules: &RegistryAliases,
    ) -> KeyRange {
        let repo_len = rules.write_exact_key(reference, &mut self.scratch);
        let start = self.text.len();
        self.text.push_str(&self.scratch);
        KeyRange {
            start: start as u32,
            repo_end: (start + repo_len) as u32,
            end: self.text.len() as u32,
        }
    }

    /// How many distinct query images there are.
    pub fn match_count(&self) -> usize {
        self.keys.len()
    }

    /// The distinct query images as (exact key, repo key).
    pub fn match_keys(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.keys.iter().map(|k| self.key(*k))
    }

    /// `Image` as (exact key, repo key, written without a version).
    pub fn image(&self) -> Option<(&str, &str, bool)> {
        self.image.map(|(k, name_only)| {
            let (exact, repo) = self.key(k);
            (exact, repo, name_only)
        })
    }

    fn key(&self, k: KeyRange) -> (&str, &str) {
        (
            &self.text[k.start as usize..k.end as usize],
            &self.text[k.start as usize..k.repo_end as usize],
        )
    }

    /// Whether a cache with `f` exact and `p` partial matches is returned
    /// (section 4.1). Without `MatchImage` every cache passes.
    pub fn match_passes(&self, f: u32, p: u32) -> bool {
        if self.keys.is_empty() {
            return true;
        }
        if f + p == 0 {
            return false;
        }
        if self.full_match {
            return f as usize == self.keys.len();
        }
        self.min_exact.is_none_or(|n| f >= n)
    }

    /// A canonical encoding of everything but `Limit` and `NextToken`, which
    /// a token is bound to.
    pub fn fingerprint(&self, request: &DescribeRequest, out: &mut Vec<u8>) {
        fn field(out: &mut Vec<u8>, tag: u8, value: Option<&str>) {
            out.push(tag);
            match value {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                    out.extend_from_slice(v.as_bytes());
                }
            }
        }
        out.clear();
        field(out, b'R', Some(&request.region_id));
        field(out, b'I', request.image_cache_id.as_deref());
        field(out, b'N', request.image_cache_name.as_deref());
        field(out, b'S', request.snapshot_id.as_deref());
        field(out, b'G', request.resource_group_id.as_deref());
        match self.image() {
            None => field(out, b'M', None),
            Some((_, repo, true)) => field(out, b'm', Some(repo)),
            Some((exact, _, false)) => field(out, b'M', Some(exact)),
        }
        // Tags in a canonical order, without allocating: repeatedly emit the
        // smallest (key, value) greater than the last one emitted.
        let mut last: Option<(&str, Option<&str>)> = None;
        loop {
            let next = request
                .tags
                .iter()
                .map(|t| (t.key.as_str(), t.value()))
                .filter(|t| last.is_none_or(|l| *t > l))
                .min();
            let Some((key, value)) = next else { break };
            field(out, b'T', Some(key));
            field(out, b'V', value);
            last = next;
        }
        for (exact, _) in self.match_keys() {
            field(out, b'Q', Some(exact));
        }
        out.push(self.full_match as u8);
        out.extend_from_slice(&self.min_exact.unwrap_or(0).to_le_bytes());
    }
}

/// Whether a cache's tags satisfy every tag filter.
pub(crate) fn tags_match(cache: &ImageCache, filters: &[TagFilter]) -> bool {
    filters.iter().all(|filter| {
        cache
            .tags()
            .iter()
            .any(|(key, value)| key == filter.key && filter.value().is_none_or(|v| v == value))
    })
}

/// Where a cache stands in the total order of section 4.2: exact matches
/// descending, partial matches descending, `CreationTime` newest first,
/// `ImageCacheId` ascending. Without `MatchImage`, `f` and `p` are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SortKey<'a> {
    pub f: u32,
    pub p: u32,
    pub creation: i64,
    pub id: &'a str,
}

impl Ord for SortKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .f
            .cmp(&self.f)
            .then(other.p.cmp(&self.p))
            .then(other.creation.cmp(&self.creation))
            .then(self.id.cmp(other.id))
    }
}

impl PartialOrd for SortKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> SortKey<'a> {
    pub fn of(cache: &'a ImageCache, f: u32, p: u32) -> Self {
        SortKey {
            f,
            p,
            creation: cache.creation_time.as_second(),
            id: cache.id(),
        }
    }
}
