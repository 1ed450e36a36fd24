//! The image cache record: every field `DescribeImageCaches` returns, plus
//! what `CreateImageCache` and `UpdateImageCache` accept and never echo.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::limits::{MAX_EVENTS, MAX_REGION_ID};
use crate::reference::{ParseError, Reference};

mod packed;
mod stored;
mod views;

use packed::{
    CONTAINER_GROUP, FIELDS, FLASH_SNAPSHOT, ID, NAME, Packed, REGION, RESOURCE_GROUP, SNAPSHOT,
    Texts,
};
pub use views::{Each, ImageView, Images, Tags};

/// One image cache (`imc-…`).
///
/// The texts (ids, name, region, images, tags) are read and changed through
/// methods: a record keeps them end to end in one allocation (see
/// `record/packed.rs`), which is most of what a million caches cost. The
/// other fields are plain.
///
/// ```
/// use eci_imagecache::record::{CacheStatus, ImageCache};
///
/// let mut cache = ImageCache::new("imc-0123456789abcdefghij", "web", "cn-hangzhou", "2024-05-01T08:00:00Z".parse().unwrap())
///     .with_images(["nginx:1.25", "registry-vpc.cn-hangzhou.aliyuncs.com/team/app:v1"])
///     .unwrap();
/// assert_eq!(cache.status, CacheStatus::Preparing);
/// assert_eq!(cache.images().get(1).unwrap().written(), "registry-vpc.cn-hangzhou.aliyuncs.com/team/app:v1");
/// assert_eq!(cache.images().get(0).unwrap().canonical(), "docker.io/library/nginx:1.25");
/// cache.set_snapshot_id(Some("s-0123456789abcdefghij"));
/// assert_eq!((cache.name(), cache.snapshot_id()), ("web", Some("s-0123456789abcdefghij")));
/// ```
#[derive(Clone, PartialEq)]
pub struct ImageCache {
    /// `ImageCacheId`, `ImageCacheName`, `RegionId`, `ResourceGroupId`,
    /// `ContainerGroupId`, `SnapshotId`, `FlashSnapshotId`, `Images` and
    /// `Tags`.
    text: Packed,
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
    /// `EliminationStrategy`.
    pub elimination_strategy: EliminationStrategy,
    /// `Events`, oldest first, at most 50.
    pub events: Vec<Event>,
    /// What Create and Update accept and Describe never returns, held out
    /// of line: nothing is allocated while it is empty.
    pub settings: Settings,
    /// Created by auto-match for a container group (section 7), not by
    /// `CreateImageCache`: counted against its own quota and retention.
    pub auto_created: bool,
}

impl fmt::Debug for ImageCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageCache")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("region_id", &self.region_id())
            .field("resource_group_id", &self.resource_group_id())
            .field("images", &self.images())
            .field("size_gib", &self.size_gib)
            .field("status", &self.status)
            .field("progress", &self.progress)
            .field("creation_time", &self.creation_time)
            .field("expire_time", &self.expire_time)
            .field("last_matched_time", &self.last_matched_time)
            .field("container_group_id", &self.container_group_id())
            .field("snapshot_id", &self.snapshot_id())
            .field("flash_snapshot_id", &self.flash_snapshot_id())
            .field("elimination_strategy", &self.elimination_strategy)
            .field("tags", &self.tags())
            .field("events", &self.events)
            .field("settings", &self.settings)
            .field("auto_created", &self.auto_created)
            .finish()
    }
}

/// Checks a `RegionId`: 1 to [`MAX_REGION_ID`] of `a-z`, `0-9` and `-`,
/// starting and ending with a letter or a digit, as every Alibaba Cloud
/// region id is (`cn-hangzhou`, `ap-southeast-1`, `cn-shanghai-finance-1`).
///
/// ```
/// use eci_imagecache::record::check_region_id;
///
/// assert!(check_region_id("cn-hangzhou").is_ok());
/// let e = check_region_id("../etc").unwrap_err();
/// assert_eq!(e.code().as_str(), "InvalidParameter");
/// assert_eq!(check_region_id("").unwrap_err().code().as_str(), "MissingParameter");
/// ```
///
/// # Errors
///
/// `MissingParameter` when empty, `InvalidParameter` (naming `RegionId`)
/// otherwise.
pub fn check_region_id(region_id: &str) -> Result<(), crate::ApiError> {
    use crate::ApiError;
    if region_id.is_empty() {
        return Err(ApiError::missing("RegionId"));
    }
    let shape = region_id.len() <= MAX_REGION_ID
        && region_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region_id.starts_with('-')
        && !region_id.ends_with('-');
    if shape {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "RegionId",
            format_args!(
                "must be 1 to {MAX_REGION_ID} of a-z, 0-9 and '-', starting and ending with a letter or a digit"
            ),
        ))
    }
}

/// A cached image: the text as the caller wrote it and its parsed form.
///
/// The written text is kept only when it differs from the canonical form
/// (two images in three are written canonically), so such an image is one
/// allocation.
///
/// ```
/// use eci_imagecache::record::CachedImage;
///
/// let short = CachedImage::parse("nginx:1.25").unwrap();
/// assert_eq!(short.written(), "nginx:1.25");
/// assert_eq!(short.reference().as_str(), "docker.io/library/nginx:1.25");
/// let canonical = CachedImage::parse("docker.io/library/nginx:1.25").unwrap();
/// assert_eq!(canonical.written(), canonical.reference().as_str());
/// assert_ne!(short, canonical);
/// ```
///
/// # Errors
///
/// [`CachedImage::parse`] fails as [`Reference::parse`] does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CachedImage {
    reference: Reference,
    /// The text as written, when it is not `reference.as_str()`.
    written: Option<Box<str>>,
}

impl CachedImage {
    /// Parses an image as written.
    ///
    /// # Errors
    ///
    /// The [`ParseError`] of [`Reference::parse`], with its position.
    pub fn parse(written: &str) -> Result<CachedImage, ParseError> {
        let reference = Reference::parse(written)?;
        let written = (reference.as_str() != written).then(|| written.into());
        Ok(CachedImage { reference, written })
    }

    /// The image exactly as written.
    pub fn written(&self) -> &str {
        self.written
            .as_deref()
            .unwrap_or_else(|| self.reference.as_str())
    }

    /// The parsed, normalised reference.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }
}

impl TryFrom<String> for CachedImage {
    type Error = ParseError;

    fn try_from(written: String) -> Result<CachedImage, ParseError> {
        CachedImage::parse(&written)
    }
}

impl From<CachedImage> for String {
    fn from(image: CachedImage) -> String {
        match image.written {
            Some(written) => written.into(),
            None => image.reference.as_str().to_owned(),
        }
    }
}

impl fmt::Debug for CachedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedImage")
            .field("written", &self.written())
            .field("reference", &self.reference)
            .finish()
    }
}

/// `Status`. Only `Ready` caches are usable for container groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EliminationStrategy {
    /// Empty: always retained.
    #[default]
    Retain,
    /// `LRU`.
    Lru,
}

impl EliminationStrategy {
    /// The strategy as the API spells it, in a parameter or a body: empty
    /// for [`Retain`](EliminationStrategy::Retain), `LRU`; `None` for
    /// anything else (the names are case-sensitive).
    ///
    /// ```
    /// use eci_imagecache::record::EliminationStrategy;
    ///
    /// assert_eq!(EliminationStrategy::parse("LRU"), Some(EliminationStrategy::Lru));
    /// assert_eq!(EliminationStrategy::parse(""), Some(EliminationStrategy::Retain));
    /// assert_eq!(EliminationStrategy::parse("lru"), None);
    /// assert_eq!(EliminationStrategy::Lru.as_api(), Some("LRU"));
    /// assert_eq!(EliminationStrategy::Retain.as_api(), None); // omitted
    /// ```
    pub fn parse(text: &str) -> Option<EliminationStrategy> {
        match text {
            "" => Some(EliminationStrategy::Retain),
            "LRU" => Some(EliminationStrategy::Lru),
            _ => None,
        }
    }

    /// As a body writes it: `LRU`, or nothing (the key omitted) for a
    /// retained cache.
    pub fn as_api(self) -> Option<&'static str> {
        match self {
            EliminationStrategy::Retain => None,
            EliminationStrategy::Lru => Some("LRU"),
        }
    }
}

/// A tag on a cache: a key and a value, in one allocation.
///
/// Tags order and compare as (key, value) pairs.
///
/// ```
/// use eci_imagecache::record::Tag;
///
/// let tag = Tag::new("env", "prod");
/// assert_eq!((tag.key(), tag.value()), ("env", "prod"));
/// assert!(Tag::new("a", "bc") < Tag::new("ab", "c"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "TagFields", into = "TagFields")]
pub struct Tag {
    /// The key, then the value.
    text: Box<str>,
    /// `text[..key_len]` is the key.
    key_len: usize,
}

impl Tag {
    /// A tag.
    pub fn new(key: impl AsRef<str>, value: impl AsRef<str>) -> Tag {
        let (key, value) = (key.as_ref(), value.as_ref());
        let mut text = String::with_capacity(key.len() + value.len());
        text.push_str(key);
        text.push_str(value);
        Tag {
            text: text.into_boxed_str(),
            key_len: key.len(),
        }
    }

    /// `Key`.
    pub fn key(&self) -> &str {
        &self.text[..self.key_len]
    }

    /// `Value`.
    pub fn value(&self) -> &str {
        &self.text[self.key_len..]
    }
}

impl Ord for Tag {
    fn cmp(&self, other: &Tag) -> std::cmp::Ordering {
        (self.key(), self.value()).cmp(&(other.key(), other.value()))
    }
}

impl PartialOrd for Tag {
    fn partial_cmp(&self, other: &Tag) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tag")
            .field("key", &self.key())
            .field("value", &self.value())
            .finish()
    }
}

/// A tag as it is stored: `{"key": …, "value": …}`.
#[derive(Clone, Serialize, Deserialize)]
struct TagFields {
    key: String,
    value: String,
}

impl From<TagFields> for Tag {
    fn from(t: TagFields) -> Tag {
        Tag::new(t.key, t.value)
    }
}

impl From<Tag> for TagFields {
    fn from(t: Tag) -> TagFields {
        TagFields {
            key: t.key().to_owned(),
            value: t.value().to_owned(),
        }
    }
}

/// An event of a cache's lifecycle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// A record's [`CacheSettings`], out of line: a pointer, and nothing
/// allocated while every setting is empty, as it is for nearly every cache.
/// It reads as a `CacheSettings` ([`Deref`](std::ops::Deref)); writing through
/// it allocates the first time. It is stored and compared as the settings
/// it holds.
///
/// ```
/// use eci_imagecache::record::{CacheSettings, Settings};
///
/// let mut settings = Settings::default();
/// assert_eq!(settings.zone_id, None);
/// assert_eq!(settings.heap_bytes(), 0);
/// settings.zone_id = Some("cn-hangzhou-k".to_owned());
/// assert!(settings.heap_bytes() > 0);
/// assert_eq!(*settings, CacheSettings { zone_id: Some("cn-hangzhou-k".to_owned()), ..CacheSettings::default() });
/// assert_eq!(Settings::from(CacheSettings::default()), Settings::default());
/// ```
#[derive(Clone, Default)]
pub struct Settings(Option<Box<CacheSettings>>);

/// The settings of every cache that has none.
static NO_SETTINGS: CacheSettings = CacheSettings {
    acr_registry_info: Vec::new(),
    image_registry_credentials: Vec::new(),
    annotations: None,
    auto_match_image_cache: None,
    eip_instance_id: None,
    security_group_id: None,
    v_switch_id: None,
    zone_id: None,
    insecure_registry: None,
    plain_http_registry: None,
    retention_days: None,
    flash: None,
    flash_copy_count: None,
    standard_copy_count: None,
};

impl Settings {
    /// The bytes allocated for the settings' fixed part (0 while empty).
    pub fn heap_bytes(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<CacheSettings>())
    }
}

impl std::ops::Deref for Settings {
    type Target = CacheSettings;

    fn deref(&self) -> &CacheSettings {
        self.0.as_deref().unwrap_or(&NO_SETTINGS)
    }
}

impl std::ops::DerefMut for Settings {
    fn deref_mut(&mut self) -> &mut CacheSettings {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<CacheSettings> for Settings {
    fn from(settings: CacheSettings) -> Settings {
        Settings((settings != NO_SETTINGS).then(|| Box::new(settings)))
    }
}

impl PartialEq for Settings {
    fn eq(&self, other: &Settings) -> bool {
        **self == **other
    }
}

impl Eq for Settings {}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for Settings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Settings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Settings, D::Error> {
        CacheSettings::deserialize(deserializer).map(Settings::from)
    }
}

/// What `CreateImageCache` / `UpdateImageCache` accept and `DescribeImageCaches`
/// never returns. Credentials are never printed: `Debug` hides passwords.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        id: impl AsRef<str>,
        name: impl AsRef<str>,
        region_id: impl AsRef<str>,
        creation_time: Timestamp,
    ) -> ImageCache {
        ImageCache::created(
            [id.as_ref(), name.as_ref(), region_id.as_ref()],
            [None, None],
            &[],
            &[],
            creation_time,
        )
    }

    /// What `CreateImageCache` makes: [`ImageCache::new`] with its images,
    /// tags, `ResourceGroupId` and `ContainerGroupId` set, packed once
    /// (each setter packs the record's text again).
    pub(crate) fn created(
        [id, name, region_id]: [&str; 3],
        [resource_group_id, container_group_id]: [Option<&str>; 2],
        images: &[CachedImage],
        tags: &[Tag],
        creation_time: Timestamp,
    ) -> ImageCache {
        let mut fields = [""; FIELDS];
        fields[ID] = id;
        fields[NAME] = name;
        fields[REGION] = region_id;
        let mut present = 0;
        for (field, value) in [
            (RESOURCE_GROUP, resource_group_id),
            (CONTAINER_GROUP, container_group_id),
        ] {
            if let Some(value) = value {
                fields[field] = value;
                present |= 1 << (field - RESOURCE_GROUP);
            }
        }
        ImageCache {
            text: Packed::pack(Texts {
                fields,
                present,
                images: images.iter().map(CachedImage::view),
                tags: tags.iter().map(|t| (t.key(), t.value())),
            }),
            size_gib: 20,
            status: CacheStatus::Preparing,
            progress: 0,
            creation_time,
            expire_time: None,
            last_matched_time: None,
            elimination_strategy: EliminationStrategy::Retain,
            events: Vec::new(),
            settings: Settings::default(),
            auto_created: false,
        }
    }

    /// Asks the memory system for the record's text ahead of reading it
    /// (a bulk build reads records out of the order they lie in).
    pub(crate) fn prefetch(&self) {
        self.text.prefetch();
    }

    /// `ImageCacheId`.
    pub fn id(&self) -> &str {
        self.text.field(ID)
    }

    /// `ImageCacheName`.
    pub fn name(&self) -> &str {
        self.text.field(NAME)
    }

    /// `RegionId`.
    pub fn region_id(&self) -> &str {
        self.text.field(REGION)
    }

    /// `ResourceGroupId`.
    pub fn resource_group_id(&self) -> Option<&str> {
        self.text.optional(RESOURCE_GROUP)
    }

    /// `ContainerGroupId`.
    pub fn container_group_id(&self) -> Option<&str> {
        self.text.optional(CONTAINER_GROUP)
    }

    /// `SnapshotId`.
    pub fn snapshot_id(&self) -> Option<&str> {
        self.text.optional(SNAPSHOT)
    }

    /// `FlashSnapshotId`.
    pub fn flash_snapshot_id(&self) -> Option<&str> {
        self.text.optional(FLASH_SNAPSHOT)
    }

    /// `Images`, echoed exactly as written; matching uses the parsed form.
    pub fn images(&self) -> Images<'_> {
        Images(&self.text)
    }

    /// `Tags`.
    pub fn tags(&self) -> Tags<'_> {
        Tags(&self.text)
    }

    /// Sets `ImageCacheId`.
    pub fn set_id(&mut self, id: &str) {
        self.set_field(ID, Some(id));
    }

    /// Sets `ImageCacheName`.
    pub fn set_name(&mut self, name: &str) {
        self.set_field(NAME, Some(name));
    }

    /// Sets `RegionId`.
    pub fn set_region_id(&mut self, region_id: &str) {
        self.set_field(REGION, Some(region_id));
    }

    /// Sets or clears `ResourceGroupId`.
    pub fn set_resource_group_id(&mut self, id: Option<&str>) {
        self.set_field(RESOURCE_GROUP, id);
    }

    /// Sets or clears `ContainerGroupId`.
    pub fn set_container_group_id(&mut self, id: Option<&str>) {
        self.set_field(CONTAINER_GROUP, id);
    }

    /// Sets or clears `SnapshotId`.
    pub fn set_snapshot_id(&mut self, id: Option<&str>) {
        self.set_field(SNAPSHOT, id);
    }

    /// Sets or clears `FlashSnapshotId`.
    pub fn set_flash_snapshot_id(&mut self, id: Option<&str>) {
        self.set_field(FLASH_SNAPSHOT, id);
    }

    /// Replaces the images.
    pub fn set_images<'a>(
        &mut self,
        images: impl IntoIterator<Item = &'a CachedImage, IntoIter: Clone>,
    ) {
        let (fields, present) = self.text.fields();
        self.text = Packed::pack(Texts {
            fields,
            present,
            images: images.into_iter().map(CachedImage::view),
            tags: self.tags().iter(),
        });
    }

    /// Replaces the tags.
    pub fn set_tags<'a>(&mut self, tags: impl IntoIterator<Item = &'a Tag, IntoIter: Clone>) {
        let (fields, present) = self.text.fields();
        self.text = Packed::pack(Texts {
            fields,
            present,
            images: self.images().iter(),
            tags: tags.into_iter().map(|t| (t.key(), t.value())),
        });
    }

    /// Replaces the images, parsing each; fails on the first bad one.
    ///
    /// # Errors
    ///
    /// The first image's [`ParseError`] that [`Reference::parse`] gives.
    pub fn with_images<'a>(
        mut self,
        images: impl IntoIterator<Item = &'a str>,
    ) -> Result<ImageCache, ParseError> {
        let images = images
            .into_iter()
            .map(CachedImage::parse)
            .collect::<Result<Vec<_>, _>>()?;
        self.set_images(&images);
        Ok(self)
    }

    /// Replaces the tags.
    pub fn with_tags(mut self, tags: &[Tag]) -> ImageCache {
        self.set_tags(tags);
        self
    }

    /// Sets (or with `None` clears) fixed text `field`.
    fn set_field(&mut self, field: usize, value: Option<&str>) {
        let (mut fields, mut present) = self.text.fields();
        fields[field] = value.unwrap_or("");
        if field >= RESOURCE_GROUP {
            let bit = 1 << (field - RESOURCE_GROUP);
            present = if value.is_some() {
                present | bit
            } else {
                present & !bit
            };
        }
        self.text = Packed::pack(Texts {
            fields,
            present,
            images: self.images().iter(),
            tags: self.tags().iter(),
        });
    }

    /// Records an event at `at`: a repeat of an existing event (same reason
    /// and message) bumps its `Count` and `LastTimestamp` and makes it the
    /// newest; a new one gets `name` (`<ImageCacheName>.<16 hex>`). At most
    /// [`MAX_EVENTS`] are kept, the newest.
    ///
    /// ```
    /// use eci_imagecache::record::{EventKind, ImageCache};
    ///
    /// let t0: jiff::Timestamp = "2024-05-01T08:00:00Z".parse().unwrap();
    /// let mut cache = ImageCache::new("imc-a", "web", "cn-hangzhou", t0);
    /// let later = t0 + jiff::SignedDuration::from_secs(60);
    /// cache.record_event(EventKind::Normal, "Hit", "Hit.", t0, || "web.0000000000000001".into());
    /// cache.record_event(EventKind::Normal, "Hit", "Hit.", later, || unreachable!());
    /// assert_eq!(cache.events.len(), 1);
    /// assert_eq!((cache.events[0].count, cache.events[0].last_timestamp), (2, later));
    /// ```
    pub fn record_event(
        &mut self,
        kind: EventKind,
        reason: &str,
        message: &str,
        at: Timestamp,
        name: impl FnOnce() -> String,
    ) {
        if let Some(i) = self
            .events
            .iter()
            .position(|e| e.reason == reason && e.message == message)
        {
            let mut event = self.events.remove(i);
            event.count += 1;
            event.last_timestamp = at;
            event.kind = kind;
            self.events.push(event);
            return;
        }
        if self.events.len() == MAX_EVENTS {
            self.events.remove(0);
        }
        self.events.push(Event {
            kind,
            reason: reason.to_owned(),
            message: message.to_owned(),
            name: name(),
            count: 1,
            first_timestamp: at,
            last_timestamp: at,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{CachedImage, ImageCache, Tag, Timestamp};

    /// A created record, packed once, is the one the setters build.
    #[test]
    fn a_created_record_is_the_one_the_setters_build() {
        let t0: Timestamp = "2024-05-01T08:00:00Z".parse().unwrap();
        let images: Vec<CachedImage> = ["nginx:1.25", "registry.cn-hangzhou.aliyuncs.com/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]
            .into_iter()
            .map(|i| CachedImage::parse(i).unwrap())
            .collect();
        let tags = [Tag::new("team", "web"), Tag::new("env", "")];
        for groups in [
            [None, None],
            [Some("rg-1"), None],
            [None, Some("eci-1")],
            [Some(""), Some("eci-2")],
        ] {
            for (images, tags) in [(&images[..], &tags[..]), (&[][..], &[][..])] {
                let mut want = ImageCache::new("imc-1", "web", "cn-hangzhou", t0);
                want.set_images(images);
                want.set_resource_group_id(groups[0]);
                want.set_tags(tags);
                want.set_container_group_id(groups[1]);
                let got =
                    ImageCache::created(["imc-1", "web", "cn-hangzhou"], groups, images, tags, t0);
                assert_eq!(got, want, "{groups:?}");
            }
        }
    }

    /// The store keeps records as JSON: tags stay `{"key", "value"}`
    /// objects, settings stay the whole `CacheSettings` object (empty or
    /// not), and images stay their written text, so a state written before
    /// tags, settings and images changed representation reads the same.
    #[test]
    fn a_record_is_stored_as_it_always_was() {
        use super::{CacheSettings, ImageCache, Tag};
        let at = "2024-05-01T08:00:00Z".parse().unwrap();
        let mut cache = ImageCache::new("imc-0123456789abcdefghij", "web", "cn-hangzhou", at)
            .with_images(["nginx:1.25", "docker.io/library/redis:7"])
            .unwrap();
        cache.set_tags(&[Tag::new("env", "prod")]);
        let json = serde_json::to_value(&cache).unwrap();
        assert_eq!(
            json["tags"],
            serde_json::json!([{"key": "env", "value": "prod"}])
        );
        assert_eq!(
            json["images"],
            serde_json::json!(["nginx:1.25", "docker.io/library/redis:7"])
        );
        assert_eq!(
            json["settings"],
            serde_json::to_value(CacheSettings::default()).unwrap()
        );
        assert_eq!(serde_json::from_value::<ImageCache>(json).unwrap(), cache);

        cache.settings.zone_id = Some("cn-hangzhou-k".to_owned());
        let json = serde_json::to_value(&cache).unwrap();
        assert_eq!(json["settings"]["zone_id"], "cn-hangzhou-k");
        assert_eq!(serde_json::from_value::<ImageCache>(json).unwrap(), cache);
    }
}
