//! The API's limits and defaults, each once, by one name: what a request
//! may hold, what a cache keeps, what a page holds.
//!
//! Every check of a request reads these; the documentation of a request
//! type names the ones it enforces. Bounds that protect a parser or a
//! server rather than shape the API stay beside what they protect: the Pod
//! manifest reader's ([`pod`](crate::pod), feature `pod`), the index's
//! counters ([`MAX_COUNTED_IMAGES`](crate::index::MAX_COUNTED_IMAGES)) and
//! the emulator's body and parameter caps.
//!
//! ```
//! use eci_imagecache::limits;
//!
//! // A cache holds at most 20 images; a query or a container group names
//! // at most 100.
//! assert_eq!(limits::MAX_CACHE_IMAGES, 20);
//! assert_eq!(limits::MAX_MATCH_IMAGES, 100);
//! assert_eq!(limits::MAX_GROUP_IMAGES, 100);
//! ```

// A cache: CreateImageCache and UpdateImageCache.

/// At most this many `Image.N` in a cache.
pub const MAX_CACHE_IMAGES: usize = 20;
/// At most this many `Tag.N` on a cache.
pub const MAX_CACHE_TAGS: usize = 20;
/// At most this many `ImageRegistryCredential.N`.
pub const MAX_CREDENTIALS: usize = 10;
/// At most this many ids in `VSwitchId`.
pub const MAX_VSWITCHES: usize = 10;
/// `ImageCacheSize` at least, GiB.
pub const MIN_SIZE_GIB: u32 = 20;
/// `ImageCacheSize` at most, GiB.
pub const MAX_SIZE_GIB: u32 = 32768;
/// `ImageCacheSize` when none is given, GiB.
pub const DEFAULT_SIZE_GIB: u32 = 20;
/// `RetentionDays` at most (the ImageCache CRD documents 1 to 65536).
pub const MAX_RETENTION_DAYS: u32 = 65_536;
/// `ClientToken` at most this many characters.
pub const MAX_CLIENT_TOKEN: usize = 64;
/// `ImageCacheName` at most this many characters.
pub const MAX_CACHE_NAME: usize = 128;
/// Tag keys and values: at most 128 characters, as the cloud's tag rules.
pub const MAX_TAG_TEXT: usize = 128;
/// Resource ids (`ResourceGroupId`, `SecurityGroupId`, `EipInstanceId`,
/// `VSwitchId`s, `ZoneId`, ACR instance fields): at most 256 characters.
pub const MAX_ID_TEXT: usize = 256;
/// Any other free text (`Annotations`, credential fields, registry lists):
/// at most 4096 characters.
pub const MAX_FREE_TEXT: usize = 4096;
/// The longest `RegionId` accepted.
pub const MAX_REGION_ID: usize = 64;
/// At most this many events are kept per cache, the newest.
pub const MAX_EVENTS: usize = 50;
/// Caches per account and region when no quota is configured (and the
/// auto-created caches' own quota).
pub const DEFAULT_QUOTA: usize = 50;

// DescribeImageCaches.

/// At most this many `MatchImage.N`.
pub const MAX_MATCH_IMAGES: usize = 100;
/// At most this many `Tag.N` filters.
pub const MAX_TAG_FILTERS: usize = 20;
/// The page size when `Limit` is absent, and the default page cap: the
/// cloud returns at most 20 caches a page ("A maximum of 20 records can be
/// returned for a query"; every ECI list API: "Default value: 20. Maximum
/// value: 20").
pub const DEFAULT_PAGE_SIZE: u32 = 20;

// Auto-match.

/// At most this many images in one container group (as many as
/// `MatchImage` takes).
pub const MAX_GROUP_IMAGES: usize = MAX_MATCH_IMAGES;
/// The longest `ContainerGroupId` accepted.
pub const MAX_CONTAINER_GROUP_ID: usize = 64;
/// The temporary storage of a container group when none is given, GiB.
pub const DEFAULT_TEMPORARY_STORAGE_GIB: u32 = 30;
/// At most this many `Candidates` and `Excluded` in an explained `MatchPod`
/// answer (`CandidateCount` and `ExcludedCount` give the totals).
pub const MAX_EXPLAINED: usize = 100;
