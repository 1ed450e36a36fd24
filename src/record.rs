//! The image cache record: every field `DescribeImageCaches` returns, plus
//! what `CreateImageCache` and `UpdateImageCache` accept and never echo.

use std::fmt;

use jiff::Timestamp;

use crate::reference::{ParseError, Reference};

/// One image cache (`imc-…`).
///
/// ```
/// use eci_imagecache::record::{CacheStatus, ImageCache};
///
/// let cache = ImageCache::new("imc-0123456789abcdefghij", "web", "cn-hangzhou", "2024-05-01T08:00:00Z".parse().unwrap())
///     .with_images(["nginx:1.25", "registry-vpc.cn-hangzhou.aliyuncs.com/team/app:v1"])
///     .unwrap();
/// assert_eq!(cache.status, CacheStatus::Preparing);
/// assert_eq!(cache.images[1].written(), "registry-vpc.cn-hangzhou.aliyuncs.com/team/app:v1");
/// assert_eq!(cache.images[0].reference().as_str(), "docker.io/library/nginx:1.25");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ImageCache {
    /// `ImageCacheId`.
    pub id: String,
    /// `ImageCacheName`.
    pub name: String,
    /// `RegionId`.
    pub region_id: String,
    /// `ResourceGroupId`.
    pub resource_group_id: Option<String>,
    /// `Images`, echoed exactly as written; matching uses the parsed form.
    pub images: Vec<CachedImage>,
    /// `ImageCacheSize`, GiB.
    pub size_gib: u32,
    /// `Status`.
    pub status: CacheStatus,
    /// `Progress`, in percent (shown as `"42%"`).
    pub progress: u8,
    /// `CreationTime`.
    pub creation_time: Timestamp,
    /// `ExpireDateTime`.
    pub expire_time: Option<Timestamp>,
    /// `LastMatchedTime`.
    pub last_matched_time: Option<Timestamp>,
    /// `ContainerGroupId`.
    pub container_group_id: Option<String>,
    /// `SnapshotId`.
    pub snapshot_id: Option<String>,
    /// `FlashSnapshotId`.
    pub flash_snapshot_id: Option<String>,
    /// `EliminationStrategy`.
    pub elimination_strategy: EliminationStrategy,
    /// `Tags`.
    pub tags: Vec<Tag>,
    /// `Events`, oldest first, at most 50.
    pub events: Vec<Event>,
    /// What Create and Update accept and Describe never returns.
    pub settings: CacheSettings,
}

/// A cached image: the text as the caller wrote it and its parsed form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedImage {
    written: Box<str>,
    reference: Reference,
}

impl CachedImage {
    /// Parses an image as written.
    pub fn parse(written: &str) -> Result<CachedImage, ParseError> {
        Ok(CachedImage {
            reference: Reference::parse(written)?,
            written: written.into(),
        })
    }

    /// The image exactly as written.
    pub fn written(&self) -> &str {
        &self.written
    }

    /// The parsed, normalised reference.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }
}

/// `Status`. Only `Ready` caches are usable for container groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// `Preparing`.
    Preparing,
    /// `Creating`.
    Creating,
    /// `Ready`.
    Ready,
    /// `Failed`.
    Failed,
    /// `Updating`.
    Updating,
    /// `UpdateFailed`.
    UpdateFailed,
}

impl CacheStatus {
    /// The status as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Preparing => "Preparing",
            CacheStatus::Creating => "Creating",
            CacheStatus::Ready => "Ready",
            CacheStatus::Failed => "Failed",
            CacheStatus::Updating => "Updating",
            CacheStatus::UpdateFailed => "UpdateFailed",
        }
    }

    /// Every status, in lifecycle order.
    pub const ALL: [CacheStatus; 6] = [
        CacheStatus::Preparing,
        CacheStatus::Creating,
        CacheStatus::Ready,
        CacheStatus::Failed,
        CacheStatus::Updating,
        CacheStatus::UpdateFailed,
    ];
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `EliminationStrategy`: kept forever, or evicted least recently used first
/// when the quota is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EliminationStrategy {
    /// Empty: always retained.
    #[default]
    Retain,
    /// `LRU`.
    Lru,
}

/// A tag on a cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// `Key`.
    pub key: String,
    /// `Value`.
    pub value: String,
}

impl Tag {
    /// A tag.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// An event of a cache's lifecycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `Type`.
    pub kind: EventKind,
    /// `Reason`.
    pub reason: String,
    /// `Message`.
    pub message: String,
    /// `Name`: `<ImageCacheName>.<16 hex>`.
    pub name: String,
    /// `Count`: how many times it happened.
    pub count: u32,
    /// `FirstTimestamp`.
    pub first_timestamp: Timestamp,
    /// `LastTimestamp`.
    pub last_timestamp: Timestamp,
}

/// An event's `Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

impl EventKind {
    /// The type as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Normal => "Normal",
            EventKind::Warning => "Warning",
        }
    }
}

/// What `CreateImageCache` / `UpdateImageCache` accept and `DescribeImageCaches`
/// never returns. Credentials are never printed: `Debug` hides passwords.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheSettings {
    /// `AcrRegistryInfo.N`.
    pub acr_registry_info: Vec<AcrRegistryInfo>,
    /// `ImageRegistryCredential.N`.
    pub image_registry_credentials: Vec<RegistryCredential>,
    /// `Annotations` (JSON text in practice).
    pub annotations: Option<String>,
    /// `AutoMatchImageCache`.
    pub auto_match_image_cache: Option<bool>,
    /// `EipInstanceId`.
    pub eip_instance_id: Option<String>,
    /// `SecurityGroupId`.
    pub security_group_id: Option<String>,
    /// `VSwitchId`: up to 10 ids separated by commas.
    pub v_switch_id: Option<String>,
    /// `ZoneId`.
    pub zone_id: Option<String>,
    /// `InsecureRegistry`.
    pub insecure_registry: Option<String>,
    /// `PlainHttpRegistry`.
    pub plain_http_registry: Option<String>,
    /// `RetentionDays`.
    pub retention_days: Option<u32>,
    /// `Flash`.
    pub flash: Option<bool>,
    /// `FlashCopyCount`.
    pub flash_copy_count: Option<u32>,
    /// `StandardCopyCount`.
    pub standard_copy_count: Option<u32>,
}

/// `AcrRegistryInfo.N`: an ACR Enterprise instance the cache pulls from.
/// Its domains are aliases of the instance when matching.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcrRegistryInfo {
    /// `InstanceId`.
    pub instance_id: Option<String>,
    /// `InstanceName`.
    pub instance_name: Option<String>,
    /// `RegionId`.
    pub region_id: Option<String>,
    /// `Domain.N`.
    pub domains: Vec<String>,
    /// `ArnService`.
    pub arn_service: Option<String>,
    /// `ArnUser`.
    pub arn_user: Option<String>,
}

/// `ImageRegistryCredential.N`.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredential {
    /// `Server`.
    pub server: String,
    /// `UserName`.
    pub user_name: String,
    /// `Password`: kept, never echoed, never logged.
    pub password: String,
}

impl fmt::Debug for RegistryCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredential")
            .field("server", &self.server)
            .field("user_name", &self.user_name)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl ImageCache {
    /// A new cache in `Preparing`, with no images yet, 20 GiB, `Progress` 0 %.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        region_id: impl Into<String>,
        creation_time: Timestamp,
    ) -> ImageCache {
        ImageCache {
            id: id.into(),
            name: name.into(),
            region_id: region_id.into(),
            resource_group_id: None,
            images: Vec::new(),
            size_gib: 20,
            status: CacheStatus::Preparing,
            progress: 0,
            creation_time,
            expire_time: None,
            last_matched_time: None,
            container_group_id: None,
            snapshot_id: None,
            flash_snapshot_id: None,
            elimination_strategy: EliminationStrategy::Retain,
            tags: Vec::new(),
            events: Vec::new(),
            settings: CacheSettings::default(),
        }
    }

    /// Replaces the images, parsing each; fails on the first bad one.
    pub fn with_images<'a>(
        mut self,
        images: impl IntoIterator<Item = &'a str>,
    ) -> Result<ImageCache, ParseError> {
        self.images = images
            .into_iter()
            .map(CachedImage::parse)
            .collect::<Result<_, _>>()?;
        Ok(self)
    }
}
