//! JSON bodies of `DescribeImageCaches`, with the API's keys and types.
//!
//! ```
//! use eci_imagecache::wire::json::DescribeImageCachesResponse;
//!
//! let body = r#"{"RequestId":"r-1","ImageCaches":[],"TotalCount":0}"#;
//! let response: DescribeImageCachesResponse = serde_json::from_str(body).unwrap();
//! assert_eq!(serde_json::to_string(&response).unwrap(), body);
//! ```

use serde::{Deserialize, Serialize};

use crate::describe::{DescribePage, DescribeRequest, TagFilter};
use crate::error::ApiError;
use crate::record::{EliminationStrategy, ImageCache};
use crate::reference::Reference;
use crate::wire::format_time;

/// The `DescribeImageCaches` response body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeImageCachesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `ImageCaches`.
    pub image_caches: Vec<ImageCacheJson>,
    /// `NextToken`: present only when more caches remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// `TotalCount`.
    pub total_count: u64,
}

/// One element of `ImageCaches`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageCacheJson {
    /// `ImageCacheId`.
    pub image_cache_id: String,
    /// `ImageCacheName`.
    pub image_cache_name: String,
    /// `RegionId`.
    pub region_id: String,
    /// `ResourceGroupId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    /// `Images`, as written.
    pub images: Vec<String>,
    /// `ImageCacheSize`, GiB.
    pub image_cache_size: u32,
    /// `Status`.
    pub status: String,
    /// `Progress`, like `"100%"`.
    pub progress: String,
    /// `CreationTime`.
    pub creation_time: String,
    /// `ExpireDateTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_date_time: Option<String>,
    /// `LastMatchedTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_matched_time: Option<String>,
    /// `ContainerGroupId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_group_id: Option<String>,
    /// `SnapshotId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// `FlashSnapshotId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash_snapshot_id: Option<String>,
    /// `EliminationStrategy`: `"LRU"`, or omitted when the cache is retained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elimination_strategy: Option<String>,
    /// `Tags`.
    pub tags: Vec<TagJson>,
    /// `Events`.
    pub events: Vec<EventJson>,
}

/// A tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagJson {
    /// `Key`.
    pub key: String,
    /// `Value`.
    pub value: String,
}

/// An event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventJson {
    /// `Type`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `Reason`.
    pub reason: String,
    /// `Message`.
    pub message: String,
    /// `Name`.
    pub name: String,
    /// `Count`.
    pub count: u32,
    /// `FirstTimestamp`.
    pub first_timestamp: String,
    /// `LastTimestamp`.
    pub last_timestamp: String,
}

impl From<&crate::record::Event> for EventJson {
    fn from(e: &crate::record::Event) -> EventJson {
        EventJson {
            kind: e.kind.as_str().to_owned(),
            reason: e.reason.clone(),
            message: e.message.clone(),
            name: e.name.clone(),
            count: e.count,
            first_timestamp: format_time(e.first_timestamp),
            last_timestamp: format_time(e.last_timestamp),
        }
    }
}

/// An error body: `{"RequestId", "Code", "Message"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    /// `RequestId`.
    pub request_id: String,
    /// `Code`.
    pub code: String,
    /// `Message`.
    pub message: String,
}

impl ErrorBody {
    /// The body of an API error.
    pub fn new(request_id: impl Into<String>, error: &ApiError) -> Self {
        ErrorBody {
            request_id: request_id.into(),
            code: error.code().as_str().to_owned(),
            message: error.message().to_owned(),
        }
    }
}

impl From<&ImageCache> for ImageCacheJson {
    fn from(c: &ImageCache) -> Self {
        ImageCacheJson {
            image_cache_id: c.id().to_owned(),
            image_cache_name: c.name().to_owned(),
            region_id: c.region_id().to_owned(),
            resource_group_id: c.resource_group_id().map(str::to_owned),
            images: c.images().iter().map(|i| i.written().to_owned()).collect(),
            image_cache_size: c.size_gib,
            status: c.status.as_str().to_owned(),
            progress: format!("{}%", c.progress),
            creation_time: format_time(c.creation_time),
            expire_date_time: c.expire_time.map(format_time),
            last_matched_time: c.last_matched_time.map(format_time),
            container_group_id: c.container_group_id().map(str::to_owned),
            snapshot_id: c.snapshot_id().map(str::to_owned),
            flash_snapshot_id: c.flash_snapshot_id().map(str::to_owned),
            elimination_strategy: c.elimination_strategy.as_api().map(str::to_owned),
            tags: c
                .tags()
                .iter()
                .map(|(key, value)| TagJson {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
                .collect(),
            events: c.events.iter().map(EventJson::from).collect(),
        }
    }
}

/// The `DescribeImageCaches` body of a page as JSON text, written one
/// record at a time (the bytes of [`DescribeImageCachesResponse`] as a
/// `serde_json::Value`: keys in the same order).
pub fn page_body(request_id: &str, page: &DescribePage<'_>) -> String {
    use serde::ser::{SerializeMap, SerializeSeq};
    struct Caches<'p, 'a>(&'p [&'a ImageCache]);
    impl Serialize for Caches<'_, '_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for cache in self.0 {
                // One record's tree at a time, for the key order of a Value.
                let one = serde_json::to_value(ImageCacheJson::from(*cache))
                    .map_err(serde::ser::Error::custom)?;
                seq.serialize_element(&one)?;
            }
            seq.end()
        }
    }
    struct Body<'p, 'a> {
        request_id: &'p str,
        page: &'p DescribePage<'a>,
    }
    impl Serialize for Body<'_, '_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("ImageCaches", &Caches(&self.page.image_caches))?;
            if let Some(token) = &self.page.next_token {
                map.serialize_entry("NextToken", token)?;
            }
            map.serialize_entry("RequestId", self.request_id)?;
            map.serialize_entry("TotalCount", &(self.page.total_count as u64))?;
            map.end()
        }
    }
    serde_json::to_string(&Body { request_id, page }).expect("bodies serialise")
}

impl DescribeImageCachesResponse {
    /// The body for a page.
    pub fn new(request_id: impl Into<String>, page: &DescribePage<'_>) -> Self {
        DescribeImageCachesResponse {
            request_id: request_id.into(),
            image_caches: page
                .image_caches
                .iter()
                .map(|c| ImageCacheJson::from(*c))
                .collect(),
            next_token: page.next_token.clone(),
            total_count: page.total_count as u64,
        }
    }
}

/// A `DescribeImageCaches` request as JSON: the parameters with lists as
/// arrays (`"MatchImage": [...]`, `"Tag": [{"Key", "Value"}]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DescribeImageCachesRequestJson {
    /// `RegionId`.
    #[serde(default)]
    pub region_id: String,
    /// `ImageCacheId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_cache_id: Option<String>,
    /// `ImageCacheName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_cache_name: Option<String>,
    /// `SnapshotId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// `ResourceGroupId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    /// `Image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `Tag`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<TagFilterJson>,
    /// `MatchImage`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_image: Vec<String>,
    /// `ImageFullMatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_full_match: Option<bool>,
    /// `ImageMatchCountRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_match_count_request: Option<u32>,
    /// `Limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `NextToken`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `Tag.N` in a JSON request; `Value` may be absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TagFilterJson {
    /// `Key`.
    pub key: String,
    /// `Value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl TryFrom<DescribeImageCachesRequestJson> for DescribeRequest {
    type Error = ApiError;

    fn try_from(j: DescribeImageCachesRequestJson) -> Result<Self, ApiError> {
        let parse =
            |name: &str, s: &str| Reference::parse(s).map_err(|e| ApiError::invalid(name, e));
        let request = DescribeRequest {
            region_id: j.region_id,
            image_cache_id: j.image_cache_id,
            image_cache_name: j.image_cache_name,
            snapshot_id: j.snapshot_id,
            resource_group_id: j.resource_group_id,
            image: j.image.as_deref().map(|s| parse("Image", s)).transpose()?,
            tags: j
                .tag
                .into_iter()
                .map(|t| TagFilter {
                    key: t.key,
                    value: t.value,
                })
                .collect(),
            match_images: j
                .match_image
                .iter()
                .enumerate()
                .map(|(i, s)| parse(&format!("MatchImage.{}", i + 1), s))
                .collect::<Result<_, _>>()?,
            image_full_match: j.image_full_match.unwrap_or(false),
            image_match_count_request: j.image_match_count_request,
            limit: j.limit,
            next_token: j.next_token,
        };
        request.validate()?;
        Ok(request)
    }
}

impl TryFrom<ImageCacheJson> for ImageCache {
    type Error = String;

    /// A record from its JSON (as `eci-imagecache gen` or a Describe answer
    /// writes it), for importing; the Create/Update-only settings are empty.
    ///
    /// ```
    /// use eci_imagecache::record::ImageCache;
    /// use eci_imagecache::wire::json::ImageCacheJson;
    ///
    /// let t = "2024-05-01T08:00:00Z".parse().unwrap();
    /// let cache = ImageCache::new("imc-a", "web", "cn-hangzhou", t).with_images(["nginx"]).unwrap();
    /// let back = ImageCache::try_from(ImageCacheJson::from(&cache)).unwrap();
    /// assert_eq!(back, cache);
    /// ```
    fn try_from(j: ImageCacheJson) -> Result<Self, String> {
        use crate::record::{CacheStatus, CachedImage, Event, EventKind, Tag};
        let time = |name: &str, s: &str| {
            s.parse::<jiff::Timestamp>()
                .map_err(|e| format!("{}: {name} {s:?}: {e}", j.image_cache_id))
        };
        let opt_time =
            |name: &str, s: &Option<String>| s.as_deref().map(|s| time(name, s)).transpose();
        let status = CacheStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == j.status)
            .ok_or_else(|| format!("{}: unknown Status {:?}", j.image_cache_id, j.status))?;
        let progress = j
            .progress
            .strip_suffix('%')
            .and_then(|p| p.parse::<u8>().ok())
            .filter(|&p| p <= 100)
            .ok_or_else(|| format!("{}: bad Progress {:?}", j.image_cache_id, j.progress))?;
        let mut cache = ImageCache::new(
            &j.image_cache_id,
            &j.image_cache_name,
            &j.region_id,
            time("CreationTime", &j.creation_time)?,
        );
        cache.set_resource_group_id(j.resource_group_id.as_deref());
        let images: Vec<CachedImage> = j
            .images
            .iter()
            .map(|i| {
                CachedImage::parse(i).map_err(|e| format!("{}: image {i:?}: {e}", j.image_cache_id))
            })
            .collect::<Result<_, _>>()?;
        cache.set_images(&images);
        cache.size_gib = j.image_cache_size;
        cache.status = status;
        cache.progress = progress;
        cache.expire_time = opt_time("ExpireDateTime", &j.expire_date_time)?;
        cache.last_matched_time = opt_time("LastMatchedTime", &j.last_matched_time)?;
        cache.set_container_group_id(j.container_group_id.as_deref());
        cache.set_snapshot_id(j.snapshot_id.as_deref());
        cache.set_flash_snapshot_id(j.flash_snapshot_id.as_deref());
        let strategy = j.elimination_strategy.as_deref().unwrap_or_default();
        cache.elimination_strategy = EliminationStrategy::parse(strategy)
            .ok_or_else(|| format!("{}: EliminationStrategy {strategy:?}", j.image_cache_id))?;
        let tags: Vec<Tag> = j.tags.iter().map(|t| Tag::new(&t.key, &t.value)).collect();
        cache.set_tags(&tags);
        cache.events = j
            .events
            .iter()
            .map(|e| {
                Ok(Event {
                    kind: if e.kind == "Warning" {
                        EventKind::Warning
                    } else {
                        EventKind::Normal
                    },
                    reason: e.reason.clone(),
                    message: e.message.clone(),
                    name: e.name.clone(),
                    count: e.count,
                    first_timestamp: time("FirstTimestamp", &e.first_timestamp)?,
                    last_timestamp: time("LastTimestamp", &e.last_timestamp)?,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(cache)
    }
}
