//! Auto-match for schedulers (`shared/spec/behaviour.md` section 7): the best
//! `Ready` cache for a container group's images, the way ECI picks one for
//! `AutoMatchImageCache=true`.
//!
//! The candidates are the caches of the region that are `Ready`, no larger
//! than the group's temporary storage, and match at least one image exactly
//! or partially (`F + P ≥ 1`); `perfect_match` and `match_count_request`
//! filter as `ImageFullMatch` and `ImageMatchCountRequest` do. They are
//! ranked by [`rank`]: `F` desc, `P` desc, `|storage − ImageCacheSize|` asc,
//! `CreationTime` newest first, `ImageCacheId` asc. The index finds the first
//! with one counting pass over the images' posting lists and no sort
//! ([`Index::best_match`](crate::index::Index::best_match)).

use std::cmp::Ordering;

use crate::error::ApiError;
use crate::limits::{DEFAULT_TEMPORARY_STORAGE_GIB, MAX_CONTAINER_GROUP_ID, MAX_GROUP_IMAGES};
use crate::record::{Event, ImageCache};
use crate::reference::Reference;

/// A container group asking for an image cache.
///
/// ```
/// use eci_imagecache::automatch::AutoMatchRequest;
///
/// let request = AutoMatchRequest::new("cn-hangzhou")
///     .image("nginx:1.25")?
///     .image("busybox")? // an init container
///     .temporary_storage_gib(40)
///     .perfect_match(true);
/// assert_eq!(request.images.len(), 2);
/// assert!(request.validate().is_ok());
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoMatchRequest {
    /// The region of the container group.
    pub region_id: String,
    /// The images of every container, init containers included.
    pub images: Vec<Reference>,
    /// Temporary storage, GiB (default 30): larger caches do not fit.
    pub temporary_storage_gib: u32,
    /// `k8s.aliyun.com/imc-perfect-match`: every image must match exactly.
    pub perfect_match: bool,
    /// `k8s.aliyun.com/imc-match-count-request`: at least this many exact
    /// matches.
    pub match_count_request: Option<u32>,
    /// An explicit cache (`k8s.aliyun.com/eci-imc-id`, or the older
    /// `eci-image-snapshot-id`): bypasses ranking, and is used as it is
    /// (no auto-create beside it).
    pub image_cache_id: Option<String>,
    /// The container group; generated when absent.
    pub container_group_id: Option<String>,
    /// When there is no complete match (a miss, or a partial winner),
    /// create a cache for the whole group (`auto-create-for-<id>`), unless
    /// an auto-created cache for the same images exists already.
    pub auto_create: bool,
}

impl AutoMatchRequest {
    /// A request for a region, with no images yet and 30 GiB of storage.
    pub fn new(region_id: impl Into<String>) -> Self {
        AutoMatchRequest {
            region_id: region_id.into(),
            images: Vec::new(),
            temporary_storage_gib: DEFAULT_TEMPORARY_STORAGE_GIB,
            perfect_match: false,
            match_count_request: None,
            image_cache_id: None,
            container_group_id: None,
            auto_create: false,
        }
    }

    /// Adds a container's image.
    ///
    /// # Errors
    ///
    /// `InvalidParameter` naming `Image.N`, with the parser's reason, for
    /// a reference that does not parse.
    pub fn image(mut self, image: &str) -> Result<Self, ApiError> {
        self.images
            .push(Reference::parse(image).map_err(|e| ApiError::invalid("Image", e))?);
        Ok(self)
    }

    /// Sets the temporary storage, GiB.
    pub fn temporary_storage_gib(mut self, gib: u32) -> Self {
        self.temporary_storage_gib = gib;
        self
    }

    /// Requires every image to match exactly.
    pub fn perfect_match(mut self, yes: bool) -> Self {
        self.perfect_match = yes;
        self
    }

    /// Requires at least `n` exact matches.
    pub fn match_count_request(mut self, n: u32) -> Self {
        self.match_count_request = Some(n);
        self
    }

    /// Names the cache to use.
    pub fn image_cache_id(mut self, id: impl Into<String>) -> Self {
        self.image_cache_id = Some(id.into());
        self
    }

    /// Names the container group.
    pub fn container_group_id(mut self, id: impl Into<String>) -> Self {
        self.container_group_id = Some(id.into());
        self
    }

    /// Creates a cache for the group when there is no complete match.
    pub fn auto_create(mut self, yes: bool) -> Self {
        self.auto_create = yes;
        self
    }

    /// Checks what the types cannot: a region, at least one image unless a
    /// cache is named, storage and match count of at least 1.
    ///
    /// # Errors
    ///
    /// The first at fault: the region (`MissingParameter` or
    /// `InvalidParameter`), the container group id, no image
    /// (`MissingParameter` `Image.1`), more than
    /// [`MAX_GROUP_IMAGES`] images, a
    /// storage or match count of 0 (`InvalidParameter`).
    pub fn validate(&self) -> Result<(), ApiError> {
        crate::record::check_region_id(&self.region_id)?;
        if let Some(group) = &self.container_group_id {
            check_container_group_id(group)?;
        }
        if self.images.is_empty() && self.image_cache_id.is_none() {
            return Err(ApiError::missing("Image.1"));
        }
        if self.images.len() > MAX_GROUP_IMAGES {
            return Err(ApiError::invalid(
                "Image",
                format_args!("at most {MAX_GROUP_IMAGES} images"),
            ));
        }
        if self.temporary_storage_gib == 0 {
            return Err(ApiError::invalid(
                "TemporaryStorageSize",
                "must be at least 1",
            ));
        }
        if self.match_count_request == Some(0) {
            return Err(ApiError::invalid("MatchCountRequest", "must be at least 1"));
        }
        Ok(())
    }
}

/// What auto-match decided for a container group.
///
/// ```
/// use eci_imagecache::automatch::{AutoMatchOutcome, AutoMatchRequest};
/// use eci_imagecache::engine::{CreateRequest, Engine};
///
/// let mut engine = Engine::builder().seed(1).instant(true).build();
/// let web = engine.create(&CreateRequest::new("cn-hangzhou", "web").image("nginx:1")?)?;
/// let group = AutoMatchRequest::new("cn-hangzhou").image("nginx:1")?.image("redis:7")?;
/// match engine.auto_match(&group)? {
///     AutoMatchOutcome::Hit { image_cache_id, exact, partial, event, .. } => {
///         assert_eq!(image_cache_id, web.image_cache_id);
///         assert_eq!((exact, partial), (1, 0)); // redis matched nothing
///         assert_eq!(event.reason, "SuccessfulHitImageCache");
///     }
///     AutoMatchOutcome::Miss { .. } => unreachable!("nginx:1 is cached"),
/// }
/// let other = AutoMatchRequest::new("cn-hangzhou").image("busybox")?;
/// assert_eq!(engine.auto_match(&other)?.image_cache_id(), None);
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoMatchOutcome {
    /// A cache was chosen; its `LastMatchedTime` is now.
    Hit {
        /// The cache.
        image_cache_id: String,
        /// Images matched exactly (F).
        exact: u32,
        /// Images matched only by repository (P).
        partial: u32,
        /// The container group.
        container_group_id: String,
        /// The container group's `SuccessfulHitImageCache` event (the
        /// event belongs to the group, not to the cache's `Events`).
        event: Event,
        /// The cache created for the whole group because the hit was not a
        /// complete match (`F` < the distinct images), when asked for.
        auto_created: Option<String>,
    },
    /// No cache fits.
    Miss {
        /// The container group.
        container_group_id: String,
        /// The cache created for the group, when asked for.
        auto_created: Option<String>,
    },
}

impl AutoMatchOutcome {
    /// The container group.
    pub fn container_group_id(&self) -> &str {
        match self {
            AutoMatchOutcome::Hit {
                container_group_id, ..
            }
            | AutoMatchOutcome::Miss {
                container_group_id, ..
            } => container_group_id,
        }
    }

    /// The chosen cache, on a hit.
    pub fn image_cache_id(&self) -> Option<&str> {
        match self {
            AutoMatchOutcome::Hit { image_cache_id, .. } => Some(image_cache_id),
            AutoMatchOutcome::Miss { .. } => None,
        }
    }

    /// The cache auto-created for the group, if any.
    pub fn auto_created(&self) -> Option<&str> {
        match self {
            AutoMatchOutcome::Hit { auto_created, .. }
            | AutoMatchOutcome::Miss { auto_created, .. } => auto_created.as_deref(),
        }
    }
}

/// The reason of the hit event a container group gets.
pub const HIT_EVENT_REASON: &str = "SuccessfulHitImageCache";

/// A cache auto-match would consider, as the side-effect-free evaluation
/// ([`Engine::evaluate_as`](crate::engine::Engine::evaluate_as)) ranks
/// them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// `ImageCacheId`.
    pub image_cache_id: String,
    /// Images matched exactly (F).
    pub exact: u32,
    /// Images matched only by repository (P).
    pub partial: u32,
    /// `|temporary storage − ImageCacheSize|`, GiB.
    pub size_distance_gib: u32,
    /// `CreationTime`, the next tie-breaker (newest first).
    pub creation_time: jiff::Timestamp,
    /// [`score`] of F and P: 0 to 100.
    pub score: u8,
}

impl Candidate {
    /// Why this candidate ranks after `winner`: the first rule of the
    /// ranking that separates them (section 7), in words.
    ///
    /// ```
    /// use eci_imagecache::automatch::Candidate;
    ///
    /// let t = "2024-05-01T08:00:00Z".parse().unwrap();
    /// let winner = Candidate {
    ///     image_cache_id: "imc-a".into(), exact: 2, partial: 0,
    ///     size_distance_gib: 0, creation_time: t, score: 100,
    /// };
    /// let other = Candidate { image_cache_id: "imc-b".into(), exact: 1, score: 50, ..winner.clone() };
    /// assert_eq!(other.behind(&winner), "fewer exact matches (1 < 2)");
    /// ```
    pub fn behind(&self, winner: &Candidate) -> String {
        if self.exact != winner.exact {
            return format!("fewer exact matches ({} < {})", self.exact, winner.exact);
        }
        if self.partial != winner.partial {
            return format!(
                "fewer partial matches ({} < {})",
                self.partial, winner.partial
            );
        }
        if self.size_distance_gib != winner.size_distance_gib {
            return format!(
                "its size is farther from the temporary storage ({} GiB > {} GiB)",
                self.size_distance_gib, winner.size_distance_gib
            );
        }
        if self.creation_time != winner.creation_time {
            return format!(
                "older (created {} before {})",
                crate::wire::format_time(self.creation_time),
                crate::wire::format_time(winner.creation_time)
            );
        }
        format!(
            "same rank; the smaller ImageCacheId wins ({} > {})",
            self.image_cache_id, winner.image_cache_id
        )
    }
}

/// A cache of the region that matches some image but is not a candidate,
/// and why ([`Engine::excluded_as`](crate::engine::Engine::excluded_as)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    /// `ImageCacheId`.
    pub image_cache_id: String,
    /// Images matched exactly (F).
    pub exact: u32,
    /// Images matched only by repository (P).
    pub partial: u32,
    /// Why it is not a candidate, in words.
    pub reason: String,
}

/// The ranked candidates of an auto-match, without recording anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// The distinct query images (duplicates and endpoint variants of one
    /// image count once): a complete match has `exact == images`.
    pub images: u32,
    /// The first candidates in the ranking of section 7, best first; the
    /// first is what [`auto_match`](crate::engine::Engine::auto_match_as)
    /// would choose (with an explicit cache id, that cache alone).
    pub candidates: Vec<Candidate>,
    /// Whether [`auto_match`](crate::engine::Engine::auto_match_as) would
    /// create a cache for the group: `auto_create` asked, no cache named,
    /// no complete match, no auto-created cache for the same images yet,
    /// and room under the auto-created quota.
    pub auto_create: bool,
}

impl Evaluation {
    /// Whether the best candidate is a complete match (every image exactly).
    pub fn complete(&self) -> bool {
        self.candidates
            .first()
            .is_some_and(|c| c.exact == self.images)
    }
}

/// A 0–100 score of how well a cache matches a container group of
/// `images` distinct images, for a scheduler to add to its own scores:
///
/// `score = ⌊100 × (F × (images + 1) + P) / (images × (images + 1))⌋`
///
/// It depends on F and P only and never increases down the ranked list
/// (every extra exact match outweighs any number of partial ones); it is
/// 100 for a complete match and 0 for no match. Rounding down makes nearby (F, P) pairs tie with many
/// images (`score(1, 0, 100) == score(1, 50, 100) == 1`), and a lone
/// partial match among many images scores 0; the ranking then decides, by
/// F, P, the closest size, the newest, the smallest id.
///
/// ```
/// use eci_imagecache::automatch::score;
///
/// assert_eq!(score(2, 0, 2), 100);
/// assert_eq!(score(1, 1, 2), 66);
/// assert_eq!(score(1, 0, 2), 50);
/// assert_eq!(score(0, 2, 2), 33);
/// assert_eq!(score(0, 0, 2), 0);
/// assert!(score(1, 0, 3) > score(0, 3, 3));
/// ```
pub fn score(exact: u32, partial: u32, images: u32) -> u8 {
    if images == 0 {
        return 0;
    }
    let n = images as u64;
    let f = (exact as u64).min(n);
    let p = (partial as u64).min(n - f);
    (100 * (f * (n + 1) + p) / (n * (n + 1))) as u8
}

/// The ranking of section 7 between two candidates, best first:
/// `F` desc, `P` desc, `|storage − ImageCacheSize|` asc, `CreationTime`
/// newest first, `ImageCacheId` asc.
///
/// ```
/// use std::cmp::Ordering;
/// use eci_imagecache::automatch::rank;
/// use eci_imagecache::record::ImageCache;
///
/// let t = "2024-05-01T08:00:00Z".parse().unwrap();
/// let mut small = ImageCache::new("imc-b", "small", "cn-hangzhou", t);
/// small.size_gib = 20;
/// let mut big = ImageCache::new("imc-a", "big", "cn-hangzhou", t);
/// big.size_gib = 35;
/// // Same matches: the size closest to 30 GiB of storage wins.
/// assert_eq!(rank(30, (&big, 1, 0), (&small, 1, 0)), Ordering::Less);
/// // More exact matches win over size.
/// assert_eq!(rank(30, (&small, 2, 0), (&big, 1, 0)), Ordering::Less);
/// ```
pub fn rank(storage_gib: u32, a: (&ImageCache, u32, u32), b: (&ImageCache, u32, u32)) -> Ordering {
    let (ca, fa, pa) = a;
    let (cb, fb, pb) = b;
    fb.cmp(&fa)
        .then(pb.cmp(&pa))
        .then(
            storage_gib
                .abs_diff(ca.size_gib)
                .cmp(&storage_gib.abs_diff(cb.size_gib)),
        )
        .then(cb.creation_time.cmp(&ca.creation_time))
        .then_with(|| ca.id().cmp(cb.id()))
}

/// A candidate the index or the oracle found best.
#[derive(Clone, Copy, Debug)]
pub struct BestMatch<'a> {
    /// The cache.
    pub cache: &'a ImageCache,
    /// Images matched exactly (F).
    pub exact: u32,
    /// Images matched only by repository (P).
    pub partial: u32,
    /// The distinct query images (a complete match has `exact == images`).
    pub images: u32,
}

/// A container group id as ECI makes them (`eci-` and lower-case letters and
/// digits): 1 to 64 of `a-z`, `0-9` and `-`, so an auto-created cache's name
/// `auto-create-for-<id>` is a valid name.
fn check_container_group_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_CONTAINER_GROUP_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "ContainerGroupId",
            format_args!(
                "must be 1 to {MAX_CONTAINER_GROUP_ID} of a-z, 0-9 and '-', not ending with '-'"
            ),
        ))
    }
}
