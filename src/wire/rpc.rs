//! Decoding the flat RPC parameters the SDKs send into typed requests.
//!
//! ```
//! use eci_imagecache::wire::rpc::decode_describe;
//!
//! let request = decode_describe([
//!     ("RegionId", "cn-hangzhou"),
//!     ("MatchImage.2", "redis:7"),
//!     ("MatchImage.1", "nginx"),
//!     ("ImageFullMatch", "True"),
//!     ("Tag.1.Key", "env"),
//!     ("Limit", "20"),
//!     ("OwnerId", "123"),
//! ])?;
//! assert_eq!(request.match_images[0].as_str(), "docker.io/library/nginx:latest");
//! assert!(request.image_full_match);
//! assert_eq!(request.tags[0].key, "env");
//! assert_eq!(request.limit, Some(20));
//! # Ok::<(), eci_imagecache::ApiError>(())
//! ```

use std::collections::BTreeMap;

use super::flat::Flat;
use crate::describe::{DescribeRequest, MAX_MATCH_IMAGES, MAX_TAGS, TagFilter};
use crate::error::ApiError;
use crate::record::{
    AcrRegistryInfo, CacheSettings, CachedImage, EliminationStrategy, RegistryCredential, Tag,
};
use crate::reference::Reference;

use super::flat::ignored;

/// Decodes `DescribeImageCaches` from flat parameters (`MatchImage.3`,
/// `Tag.2.Key`, …). Indices are 1-based and may be sparse: lists are ordered
/// by index. Booleans are `true`/`false` in any letter case. Empty values of
/// string filters count as absent. Unknown parameters, other than the
/// common ones and `Owner*`, are rejected with `InvalidParameter` naming
/// them, as is a parameter given twice.
pub fn decode_describe<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<DescribeRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut request = DescribeRequest::default();
    let mut region = None;
    let mut match_images: BTreeMap<u32, Reference> = BTreeMap::new();
    let mut tags: BTreeMap<u32, (Option<String>, Option<String>)> = BTreeMap::new();
    let mut seen: foldhash::HashSet<String> = foldhash::HashSet::default();

    for (name, value) in params {
        let (name, value) = (name.as_ref(), value.as_ref());
        if !seen.insert(name.to_owned()) {
            return Err(ApiError::invalid(name, "given more than once"));
        }
        let text = || (!value.is_empty()).then(|| value.to_owned());
        match name {
            "RegionId" => region = text(),
            "ImageCacheId" => request.image_cache_id = text(),
            "ImageCacheName" => request.image_cache_name = text(),
            "SnapshotId" => request.snapshot_id = text(),
            "ResourceGroupId" => request.resource_group_id = text(),
            "Image" => {
                if !value.is_empty() {
                    request.image = Some(reference(name, value)?);
                }
            }
            "ImageFullMatch" => request.image_full_match = boolean(name, value)?,
            "ImageMatchCountRequest" => {
                request.image_match_count_request = Some(positive(name, value)?)
            }
            "Limit" => request.limit = Some(positive(name, value)?),
            "NextToken" => request.next_token = text(),
            _ if ignored(name) => {}
            _ => {
                if let Some(rest) = name.strip_prefix("MatchImage.") {
                    let n = super::flat::index(name, rest)?;
                    if match_images.len() == MAX_MATCH_IMAGES {
                        return Err(ApiError::invalid(
                            "MatchImage",
                            format_args!("at most {MAX_MATCH_IMAGES} images"),
                        ));
                    }
                    match_images.insert(n, reference(name, value)?);
                } else if let Some(rest) = name.strip_prefix("Tag.") {
                    let (n, field) = rest.split_once('.').ok_or_else(|| {
                        ApiError::invalid(name, "expected Tag.N.Key or Tag.N.Value")
                    })?;
                    let n = super::flat::index(name, n)?;
                    if !tags.contains_key(&n) && tags.len() == MAX_TAGS {
                        return Err(ApiError::invalid(
                            "Tag",
                            format_args!("at most {MAX_TAGS} tags"),
                        ));
                    }
                    let slot = tags.entry(n).or_default();
                    match field {
                        "Key" => slot.0 = Some(value.to_owned()),
                        "Value" => slot.1 = Some(value.to_owned()),
                        _ => {
                            return Err(ApiError::invalid(
                                name,
                                "expected Tag.N.Key or Tag.N.Value",
                            ));
                        }
                    }
                } else {
                    return Err(ApiError::invalid(
                        name,
                        "unknown parameter for DescribeImageCaches",
                    ));
                }
            }
        }
    }

    request.region_id = region.ok_or_else(|| ApiError::missing("RegionId"))?;
    request.match_images = match_images.into_values().collect();
    request.tags = tags
        .into_iter()
        .map(|(n, (key, value))| match key {
            Some(key) if !key.is_empty() => Ok(TagFilter { key, value }),
            _ => Err(ApiError::missing(&format!("Tag.{n}.Key"))),
        })
        .collect::<Result<_, _>>()?;
    request.validate()?;
    Ok(request)
}

fn reference(name: &str, value: &str) -> Result<Reference, ApiError> {
    Reference::parse(value).map_err(|e| ApiError::invalid(name, e))
}

/// `true` / `false` in any letter case (the Python SDK sends `True`).
fn boolean(name: &str, value: &str) -> Result<bool, ApiError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ApiError::invalid(
            name,
            format_args!("expected true or false, got {value:?}"),
        ))
    }
}

/// A decimal integer of at least 1.
fn positive(name: &str, value: &str) -> Result<u32, ApiError> {
    match value.parse::<u32>() {
        Ok(0) => Err(ApiError::invalid(name, "must be at least 1")),
        Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ApiError::invalid(
            name,
            format_args!("expected an integer, got {value:?}"),
        )),
    }
}

/// Decodes `CreateImageCache` from flat parameters (`Image.N`, `Tag.N.Key`,
/// `ImageRegistryCredential.N.Server`, `AcrRegistryInfo.N.Domain.M`, also
/// in the legacy SDK's `AcrRegistryInfo.NDomain.M` spelling), then checks
/// the limits of section 5.
///
/// ```
/// use eci_imagecache::wire::rpc::decode_create;
///
/// let request = decode_create([
///     ("RegionId", "cn-hangzhou"),
///     ("ImageCacheName", "web"),
///     ("Image.1", "nginx:1.25"),
///     ("Tag.1.Key", "env"),
///     ("Tag.1.Value", "prod"),
///     ("Flash", "True"),
///     ("AcrRegistryInfo.1Domain.1", "team-registry.cn-hangzhou.cr.aliyuncs.com"),
/// ])?;
/// assert_eq!(request.images[0].written(), "nginx:1.25");
/// assert_eq!(request.settings.flash, Some(true));
/// assert_eq!(request.settings.acr_registry_info[0].domains.len(), 1);
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
pub fn decode_create<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<crate::engine::CreateRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut p = Flat::new(params)?;
    let mut r = crate::engine::CreateRequest {
        region_id: p.text("RegionId").unwrap_or_default(),
        image_cache_name: p.text("ImageCacheName").unwrap_or_default(),
        images: images(&mut p)?.unwrap_or_default(),
        image_cache_size: p.integer("ImageCacheSize")?,
        resource_group_id: p.text("ResourceGroupId"),
        elimination_strategy: elimination(&mut p)?.unwrap_or_default(),
        tags: tags(&mut p)?.unwrap_or_default(),
        client_token: p.text("ClientToken"),
        settings: CacheSettings::default(),
    };
    let s = &mut r.settings;
    s.acr_registry_info = acr_registry_info(&mut p)?.unwrap_or_default();
    s.image_registry_credentials = credentials(&mut p)?.unwrap_or_default();
    s.annotations = p.text("Annotations");
    s.auto_match_image_cache = p.boolean("AutoMatchImageCache")?;
    s.eip_instance_id = p.text("EipInstanceId");
    s.security_group_id = p.text("SecurityGroupId");
    s.v_switch_id = p.text("VSwitchId");
    s.zone_id = p.text("ZoneId");
    s.insecure_registry = p.text("InsecureRegistry");
    s.plain_http_registry = p.text("PlainHttpRegistry");
    s.retention_days = p.integer("RetentionDays")?;
    s.flash = p.boolean("Flash")?;
    s.flash_copy_count = p.integer("FlashCopyCount")?;
    s.standard_copy_count = p.integer("StandardCopyCount")?;
    // The legacy SDK's Create also sends `OsType`; the API ignores it.
    p.raw("OsType");
    p.finish("CreateImageCache")?;
    r.validate()?;
    Ok(r)
}

/// Decodes `UpdateImageCache`: absent parameters stay `None` (unchanged);
/// a given list replaces the stored one.
///
/// ```
/// use eci_imagecache::wire::rpc::decode_update;
///
/// let request = decode_update([
///     ("RegionId", "cn-hangzhou"),
///     ("ImageCacheId", "imc-0123456789abcdefghij"),
///     ("Image.1", "nginx:1.26"),
/// ])?;
/// assert_eq!(request.images.as_ref().map(Vec::len), Some(1));
/// assert_eq!(request.tags, None);
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
pub fn decode_update<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<crate::engine::UpdateRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut p = Flat::new(params)?;
    let r = crate::engine::UpdateRequest {
        region_id: p.text("RegionId").unwrap_or_default(),
        image_cache_id: p.text("ImageCacheId").unwrap_or_default(),
        image_cache_name: p.text("ImageCacheName"),
        images: images(&mut p)?,
        image_cache_size: p.integer("ImageCacheSize")?,
        resource_group_id: p.text("ResourceGroupId"),
        elimination_strategy: elimination(&mut p)?,
        tags: tags(&mut p)?,
        client_token: p.text("ClientToken"),
        acr_registry_info: acr_registry_info(&mut p)?,
        image_registry_credentials: credentials(&mut p)?,
        auto_match_image_cache: p.boolean("AutoMatchImageCache")?,
        eip_instance_id: p.text("EipInstanceId"),
        security_group_id: p.text("SecurityGroupId"),
        v_switch_id: p.text("VSwitchId"),
        retention_days: p.integer("RetentionDays")?,
        flash: p.boolean("Flash")?,
        flash_copy_count: p.integer("FlashCopyCount")?,
        standard_copy_count: p.integer("StandardCopyCount")?,
    };
    p.finish("UpdateImageCache")?;
    r.validate()?;
    Ok(r)
}

/// Decodes `DeleteImageCache`.
///
/// ```
/// use eci_imagecache::wire::rpc::decode_delete;
///
/// let e = decode_delete([("RegionId", "cn-hangzhou")]).unwrap_err();
/// assert_eq!(e.code().as_str(), "MissingParameter");
/// ```
pub fn decode_delete<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<crate::engine::DeleteRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut p = Flat::new(params)?;
    let r = crate::engine::DeleteRequest {
        region_id: p.text("RegionId").unwrap_or_default(),
        image_cache_id: p.text("ImageCacheId").unwrap_or_default(),
        client_token: p.text("ClientToken"),
    };
    p.finish("DeleteImageCache")?;
    r.validate()?;
    Ok(r)
}

/// Decodes the emulator's `AutoMatch` call: `Image.N` (the container
/// group's images), `TemporaryStorageSize`, `PerfectMatch`,
/// `MatchCountRequest`, `ImageCacheId`, `ContainerGroupId`, `AutoCreate`.
///
/// ```
/// use eci_imagecache::wire::rpc::decode_auto_match;
///
/// let request = decode_auto_match([
///     ("RegionId", "cn-hangzhou"),
///     ("Image.1", "nginx"),
///     ("PerfectMatch", "true"),
/// ])?;
/// assert!(request.perfect_match);
/// assert_eq!(request.temporary_storage_gib, 30);
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
pub fn decode_auto_match<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<crate::automatch::AutoMatchRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut p = Flat::new(params)?;
    let mut r = crate::automatch::AutoMatchRequest::new(p.text("RegionId").unwrap_or_default());
    for (name, value) in p.list("Image")?.unwrap_or_default() {
        r.images.push(reference(&name, &value)?);
    }
    if let Some(gib) = p.integer("TemporaryStorageSize")? {
        r.temporary_storage_gib = gib;
    }
    r.perfect_match = p.boolean("PerfectMatch")?.unwrap_or(false);
    r.match_count_request = p.integer("MatchCountRequest")?;
    r.image_cache_id = p.text("ImageCacheId");
    r.container_group_id = p.text("ContainerGroupId");
    r.auto_create = p.boolean("AutoCreate")?.unwrap_or(false);
    p.finish("AutoMatch")?;
    r.validate()?;
    Ok(r)
}

fn images(p: &mut Flat) -> Result<Option<Vec<CachedImage>>, ApiError> {
    let Some(list) = p.list("Image")? else {
        return Ok(None);
    };
    if list.len() > crate::engine::MAX_IMAGES {
        return Err(ApiError::invalid(
            "Image",
            format_args!("at most {} images", crate::engine::MAX_IMAGES),
        ));
    }
    list.into_iter()
        .map(|(name, value)| CachedImage::parse(&value).map_err(|e| ApiError::invalid(&name, e)))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn elimination(p: &mut Flat) -> Result<Option<EliminationStrategy>, ApiError> {
    match p.raw("EliminationStrategy").as_deref() {
        None => Ok(None),
        Some("") => Ok(Some(EliminationStrategy::Retain)),
        Some("LRU") => Ok(Some(EliminationStrategy::Lru)),
        Some(other) => Err(ApiError::invalid(
            "EliminationStrategy",
            format_args!("expected empty or LRU, got {other:?}"),
        )),
    }
}

fn tags(p: &mut Flat) -> Result<Option<Vec<Tag>>, ApiError> {
    let Some(objects) = p.objects("Tag")? else {
        return Ok(None);
    };
    if objects.len() > crate::engine::MAX_TAGS {
        return Err(ApiError::invalid(
            "Tag",
            format_args!("at most {} tags", crate::engine::MAX_TAGS),
        ));
    }
    objects
        .into_iter()
        .map(|(n, mut fields)| {
            let key = fields.remove("Key").filter(|k| !k.is_empty());
            let value = fields.remove("Value").unwrap_or_default();
            unknown_field("Tag", n, &fields)?;
            let key = key.ok_or_else(|| ApiError::missing(&format!("Tag.{n}.Key")))?;
            Ok(Tag { key, value })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn credentials(p: &mut Flat) -> Result<Option<Vec<RegistryCredential>>, ApiError> {
    let Some(objects) = p.objects("ImageRegistryCredential")? else {
        return Ok(None);
    };
    objects
        .into_iter()
        .map(|(n, mut fields)| {
            let mut take = |f: &str| fields.remove(f).unwrap_or_default();
            let credential = RegistryCredential {
                server: take("Server"),
                user_name: take("UserName"),
                password: take("Password"),
            };
            unknown_field("ImageRegistryCredential", n, &fields)?;
            Ok(credential)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn acr_registry_info(p: &mut Flat) -> Result<Option<Vec<AcrRegistryInfo>>, ApiError> {
    let Some(objects) = p.objects("AcrRegistryInfo")? else {
        return Ok(None);
    };
    objects
        .into_iter()
        .map(|(n, fields)| {
            let mut info = AcrRegistryInfo::default();
            let mut domains = BTreeMap::new();
            for (field, value) in fields {
                let value = (!value.is_empty()).then_some(value);
                match field.as_str() {
                    "InstanceId" => info.instance_id = value,
                    "InstanceName" => info.instance_name = value,
                    "RegionId" => info.region_id = value,
                    "ArnService" => info.arn_service = value,
                    "ArnUser" => info.arn_user = value,
                    _ => match field.strip_prefix("Domain.") {
                        Some(m) => {
                            let name = format!("AcrRegistryInfo.{n}.{field}");
                            let m = super::flat::index(&name, m)?;
                            // The API text allows several domains in one
                            // value, separated by commas.
                            if let Some(value) = value {
                                domains.insert(m, value);
                            }
                        }
                        None => {
                            return Err(ApiError::invalid(
                                &format!("AcrRegistryInfo.{n}.{field}"),
                                "unknown field",
                            ));
                        }
                    },
                }
            }
            info.domains = domains
                .into_values()
                .flat_map(|v| {
                    v.split(',')
                        .map(|d| d.trim().to_owned())
                        .filter(|d| !d.is_empty())
                        .collect::<Vec<_>>()
                })
                .collect();
            Ok(info)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn unknown_field(prefix: &str, n: u32, rest: &BTreeMap<String, String>) -> Result<(), ApiError> {
    match rest.keys().next() {
        None => Ok(()),
        Some(field) => Err(ApiError::invalid(
            &format!("{prefix}.{n}.{field}"),
            "unknown field",
        )),
    }
}
