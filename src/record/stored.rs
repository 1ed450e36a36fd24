//! A record as the store and the export format keep it: the fields in the
//! order they always had, images as written, tags as `{"key", "value"}`
//! objects, read with its texts borrowed from the input where they need no
//! unescaping, and packed once.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::packed::{FIELDS, ID, NAME, Packed, REGION, RESOURCE_GROUP, Texts};
use super::{
    CacheStatus, CachedImage, EliminationStrategy, Event, ImageCache, Images, Settings, Tags,
};

/// A record as the store keeps it: the fields in this order, images as
/// written, tags as `{"key", "value"}` objects, absent ids as `null`.
#[derive(Serialize)]
struct StoredOut<'a> {
    id: &'a str,
    name: &'a str,
    region_id: &'a str,
    resource_group_id: Option<&'a str>,
    images: WrittenImages<'a>,
    size_gib: u32,
    status: CacheStatus,
    progress: u8,
    creation_time: Timestamp,
    expire_time: Option<Timestamp>,
    last_matched_time: Option<Timestamp>,
    container_group_id: Option<&'a str>,
    snapshot_id: Option<&'a str>,
    flash_snapshot_id: Option<&'a str>,
    elimination_strategy: EliminationStrategy,
    tags: TagObjects<'a>,
    events: &'a [Event],
    settings: &'a Settings,
    auto_created: bool,
}

/// The images as written, serialised without collecting them.
struct WrittenImages<'a>(Images<'a>);

impl Serialize for WrittenImages<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|i| i.written()))
    }
}

/// The tags as `{"key", "value"}` objects, serialised without collecting
/// them.
struct TagObjects<'a>(Tags<'a>);

#[derive(Serialize)]
struct TagOut<'a> {
    key: &'a str,
    value: &'a str,
}

impl Serialize for TagObjects<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(key, value)| TagOut { key, value }))
    }
}

impl Serialize for ImageCache {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredOut {
            id: self.id(),
            name: self.name(),
            region_id: self.region_id(),
            resource_group_id: self.resource_group_id(),
            images: WrittenImages(self.images()),
            size_gib: self.size_gib,
            status: self.status,
            progress: self.progress,
            creation_time: self.creation_time,
            expire_time: self.expire_time,
            last_matched_time: self.last_matched_time,
            container_group_id: self.container_group_id(),
            snapshot_id: self.snapshot_id(),
            flash_snapshot_id: self.flash_snapshot_id(),
            elimination_strategy: self.elimination_strategy,
            tags: TagObjects(self.tags()),
            events: &self.events,
            settings: &self.settings,
            auto_created: self.auto_created,
        }
        .serialize(serializer)
    }
}

/// A record as the store keeps it, read with its texts borrowed from the
/// input where they need no unescaping.
#[derive(Deserialize)]
struct StoredIn<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    region_id: Text<'a>,
    #[serde(borrow)]
    resource_group_id: Option<Text<'a>>,
    #[serde(borrow)]
    images: Vec<Text<'a>>,
    size_gib: u32,
    status: CacheStatus,
    progress: u8,
    creation_time: Timestamp,
    expire_time: Option<Timestamp>,
    last_matched_time: Option<Timestamp>,
    #[serde(borrow)]
    container_group_id: Option<Text<'a>>,
    #[serde(borrow)]
    snapshot_id: Option<Text<'a>>,
    #[serde(borrow)]
    flash_snapshot_id: Option<Text<'a>>,
    elimination_strategy: EliminationStrategy,
    #[serde(borrow)]
    tags: Vec<TagIn<'a>>,
    events: Vec<Event>,
    settings: Settings,
    #[serde(default)]
    auto_created: bool,
}

#[derive(Deserialize)]
struct TagIn<'a> {
    #[serde(borrow)]
    key: Text<'a>,
    #[serde(borrow)]
    value: Text<'a>,
}

/// A string borrowed from the input when it can be, else owned.
struct Text<'a>(std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(v.into()))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(v.to_owned().into()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(v.into()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl<'de> Deserialize<'de> for ImageCache {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ImageCache, D::Error> {
        use serde::de::Error;
        let stored = StoredIn::deserialize(deserializer)?;
        let images = stored
            .images
            .iter()
            .map(|written| CachedImage::parse(&written.0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(D::Error::custom)?;
        let optional = [
            &stored.resource_group_id,
            &stored.container_group_id,
            &stored.snapshot_id,
            &stored.flash_snapshot_id,
        ];
        let mut fields = [""; FIELDS];
        fields[ID] = &stored.id.0;
        fields[NAME] = &stored.name.0;
        fields[REGION] = &stored.region_id.0;
        let mut present = 0;
        for (k, value) in optional.into_iter().enumerate() {
            if let Some(value) = value {
                fields[RESOURCE_GROUP + k] = &value.0;
                present |= 1 << k;
            }
        }
        Ok(ImageCache {
            text: Packed::pack(Texts {
                fields,
                present,
                images: images.iter().map(CachedImage::view),
                tags: stored.tags.iter().map(|t| (&*t.key.0, &*t.value.0)),
            }),
            size_gib: stored.size_gib,
            status: stored.status,
            progress: stored.progress,
            creation_time: stored.creation_time,
            expire_time: stored.expire_time,
            last_matched_time: stored.last_matched_time,
            elimination_strategy: stored.elimination_strategy,
            events: stored.events,
            settings: stored.settings,
            auto_created: stored.auto_created,
        })
    }
}
