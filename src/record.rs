//! The image cache record: every field `DescribeImageCaches` returns, plus
//! what `CreateImageCache` and `UpdateImageCache` accept and never echo.

use std::fmt;

use jiff::Timestamp;

use crate::limits::{MAX_EVENTS, MAX_REGION_ID};
use crate::reference::ParseError;

mod event;
mod image;
mod packed;
mod settings;
mod status;
mod stored;
mod tag;
mod views;

pub use event::{Event, EventKind};
pub use image::CachedImage;
use packed::{
    CONTAINER_GROUP, FIELDS, FLASH_SNAPSHOT, ID, NAME, Packed, REGION, RESOURCE_GROUP, SNAPSHOT,
    Texts,
};
pub use settings::{AcrRegistryInfo, CacheSettings, RegistryCredential, Settings};
pub use status::{CacheStatus, EliminationStrategy};
pub use tag::Tag;
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
    /// The first image's [`ParseError`] that [`Reference::parse`](crate::reference::Reference::parse) gives.
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
