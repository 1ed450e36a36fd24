//! `DescribeImageCaches`: the typed request and the page it returns
//! (`shared/spec/behaviour.md` section 4). The rules of matching and order
//! that every engine applies to it live in the crate's private `matching`
//! module.
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

use crate::error::ApiError;
use crate::limits::{DEFAULT_PAGE_SIZE, MAX_MATCH_IMAGES, MAX_TAG_FILTERS};
use crate::record::ImageCache;
use crate::reference::Reference;

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

/// One page of `DescribeImageCaches`: the caches borrow the engine or
/// index that answered, so a page is read (or written out) before the next
/// change.
///
/// ```
/// use eci_imagecache::describe::DescribeRequest;
/// use eci_imagecache::engine::{CreateRequest, Engine};
///
/// let mut engine = Engine::builder().seed(1).instant(true).build();
/// for name in ["a", "b", "c"] {
///     engine.create(&CreateRequest::new("cn-hangzhou", name).image("nginx")?)?;
/// }
/// let page = engine.describe(&DescribeRequest::new("cn-hangzhou").limit(2))?;
/// assert_eq!(page.image_caches.len(), 2);
/// assert_eq!(page.total_count, 3); // across all pages
/// let token = page.next_token.clone().expect("one more page");
/// let next = engine.describe(&DescribeRequest::new("cn-hangzhou").limit(2).next_token(token))?;
/// assert_eq!((next.image_caches.len(), next.next_token), (1, None));
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
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
    ///
    /// # Errors
    ///
    /// `InvalidParameter` naming `MatchImage`, with the parser's reason, for
    /// a reference that does not parse.
    pub fn match_image(mut self, image: &str) -> Result<Self, ApiError> {
        let parsed = Reference::parse(image).map_err(|e| ApiError::invalid("MatchImage", e))?;
        self.match_images.push(parsed);
        Ok(self)
    }

    /// Sets `Image`.
    ///
    /// # Errors
    ///
    /// `InvalidParameter` naming `Image`, with the parser's reason, for
    /// a reference that does not parse.
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
    ///
    /// # Errors
    ///
    /// The first at fault, in this order: the region (`MissingParameter`
    /// or `InvalidParameter`), then `InvalidParameter` naming `MatchImage`
    /// or `Tag` (too many), `Tag.N.Key` (empty), `Tag.N` (over 128
    /// characters), an id or name over 256 bytes, `Limit` or
    /// `ImageMatchCountRequest` of 0.
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
