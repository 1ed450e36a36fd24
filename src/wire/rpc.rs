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
use crate::api::Action;
use crate::describe::{DescribeRequest, TagFilter};
use crate::error::ApiError;
use crate::limits::{MAX_CACHE_IMAGES, MAX_CACHE_TAGS, MAX_MATCH_IMAGES, MAX_TAG_FILTERS};
use crate::record::{
    AcrRegistryInfo, CacheSettings, CachedImage, EliminationStrategy, RegistryCredential, Tag,
};
use crate::reference::Reference;

/// What a decoder does with parameters the action does not know: ignore
/// them and note their names (the default, as the cloud's API gateway
/// ignores them: the official Go SDK sends `VkClientVersion`, bearer-token
/// credentials add `BearerToken`), or reject the first with
/// `InvalidParameter` (strict, for catching typos). Known parameters with a
/// bad value, and malformed list indices, are errors either way.
///
/// ```
/// use eci_imagecache::wire::rpc::{decode_delete_with, UnknownParams};
///
/// let params = [
///     ("RegionId", "cn-hangzhou"),
///     ("ImageCacheId", "imc-0123456789abcdefghij"),
///     ("VkClientVersion", "1.0"),
/// ];
/// let mut unknown = UnknownParams::ignore();
/// decode_delete_with(params, &mut unknown)?;
/// assert_eq!(unknown.names(), ["VkClientVersion"]);
///
/// let e = decode_delete_with(params, &mut UnknownParams::reject()).unwrap_err();
/// assert_eq!(e.code().as_str(), "InvalidParameter");
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnknownParams {
    strict: bool,
    names: Vec<String>,
}

impl UnknownParams {
    /// Ignore unknown parameters, noting their names.
    pub fn ignore() -> Self {
        UnknownParams::default()
    }

    /// Reject the first unknown parameter.
    pub fn reject() -> Self {
        UnknownParams {
            strict: true,
            names: Vec::new(),
        }
    }

    /// Ignores or rejects, as `strict` says.
    pub fn strict(strict: bool) -> Self {
        UnknownParams {
            strict,
            names: Vec::new(),
        }
    }

    /// The names ignored so far, in the order met (sorted within a call).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Takes the names ignored so far.
    pub fn take_names(&mut self) -> Vec<String> {
        std::mem::take(&mut self.names)
    }

    pub(crate) fn note(&mut self, name: String, action: Action) -> Result<(), ApiError> {
        if self.strict {
            return Err(ApiError::invalid(
                &name,
                format_args!("unknown parameter for {action}"),
            ));
        }
        self.names.push(name);
        Ok(())
    }
}

/// Decodes `DescribeImageCaches` from flat parameters (`MatchImage.3`,
/// `Tag.2.Key`, …), ignoring parameters it does not know. Indices are
/// 1-based and may be sparse: lists are ordered by index. Booleans are
/// `true`/`false` in any letter case. Empty values count as absent. A
/// parameter given twice is rejected.
///
/// # Errors
///
/// `MissingParameter` without `RegionId` (or a `Tag.N` without its key);
/// `InvalidParameter` for a bad value, a malformed index or a name given
/// twice; and whatever [`DescribeRequest::validate`] finds.
pub fn decode_describe<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<DescribeRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_describe_with(params, &mut UnknownParams::ignore())
}

/// [`decode_describe`], with unknown parameters ignored or rejected as
/// `unknown` says.
///
/// # Errors
///
/// Those of [`decode_describe`], and, when `unknown` rejects them, `InvalidParameter`
/// naming the first parameter the action does not know.
pub fn decode_describe_with<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
    unknown: &mut UnknownParams,
) -> Result<DescribeRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut p = Flat::new(params)?;
    let region = p.text("RegionId");
    let mut request = DescribeRequest {
        image_cache_id: p.text("ImageCacheId"),
        image_cache_name: p.text("ImageCacheName"),
        snapshot_id: p.text("SnapshotId"),
        resource_group_id: p.text("ResourceGroupId"),
        image: match p.text("Image") {
            Some(value) => Some(reference("Image", &value)?),
            None => None,
        },
        image_full_match: p.boolean("ImageFullMatch")?.unwrap_or(false),
        image_match_count_request: positive(&mut p, "ImageMatchCountRequest")?,
        limit: positive(&mut p, "Limit")?,
        next_token: p.text("NextToken"),
        ..DescribeRequest::default()
    };
    if let Some(list) = p.list("MatchImage")? {
        if list.len() > MAX_MATCH_IMAGES {
            return Err(ApiError::invalid(
                "MatchImage",
                format_args!("at most {MAX_MATCH_IMAGES} images"),
            ));
        }
        for (name, value) in list {
            request.match_images.push(reference(&name, &value)?);
        }
    }
    if let Some(objects) = p.objects("Tag")? {
        if objects.len() > MAX_TAG_FILTERS {
            return Err(ApiError::invalid(
                "Tag",
                format_args!("at most {MAX_TAG_FILTERS} tags"),
            ));
        }
        for (n, mut fields) in objects {
            let key = fields.remove("Key").filter(|k| !k.is_empty());
            let value = fields.remove("Value");
            p.unclaimed("Tag", n, fields);
            let key = key.ok_or_else(|| ApiError::missing(&format!("Tag.{n}.Key")))?;
            request.tags.push(TagFilter { key, value });
        }
    }
    p.finish(Action::DescribeImageCaches, unknown)?;
    request.region_id = region.ok_or_else(|| ApiError::missing("RegionId"))?;
    request.validate()?;
    Ok(request)
}

fn reference(name: &str, value: &str) -> Result<Reference, ApiError> {
    Reference::parse(value).map_err(|e| ApiError::invalid(name, e))
}

/// A decimal integer of at least 1.
fn positive(p: &mut Flat, name: &str) -> Result<Option<u32>, ApiError> {
    match p.integer(name)? {
        Some(0) => Err(ApiError::invalid(name, "must be at least 1")),
        n => Ok(n),
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
///     ("AcrRegistryInfo.1.InstanceId", "cri-1"),
///     ("AcrRegistryInfo.1Domain.1", "team-registry.cn-hangzhou.cr.aliyuncs.com"),
/// ])?;
/// assert_eq!(request.images[0].written(), "nginx:1.25");
/// assert_eq!(request.settings.flash, Some(true));
/// assert_eq!(request.settings.acr_registry_info[0].domains.len(), 1);
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
///
/// # Errors
///
/// `InvalidParameter` for a bad value, a malformed list index or a
/// parameter given twice; `MissingParameter` for a required one absent;
/// then whatever [`crate::engine::CreateRequest::validate`] finds.
pub fn decode_create<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<crate::engine::CreateRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_create_with(params, &mut UnknownParams::ignore())
}

/// [`decode_create`], with unknown parameters ignored or rejected as `unknown`
/// says.
///
/// # Errors
///
/// Those of [`decode_create`], and, when `unknown` rejects them, `InvalidParameter`
/// naming the first parameter the action does not know.
pub fn decode_create_with<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
    unknown: &mut UnknownParams,
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
    // The legacy SDK's Create also sends `OsType`; the API ignores it
    // (not even noted: an official SDK sends it).
    p.raw("OsType");
    p.finish(Action::CreateImageCache, unknown)?;
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
///
/// # Errors
///
/// `InvalidParameter` for a bad value, a malformed list index or a
/// parameter given twice; `MissingParameter` for a required one absent;
/// then whatever [`crate::engine::UpdateRequest::validate`] finds.
pub fn decode_update<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<crate::engine::UpdateRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_update_with(params, &mut UnknownParams::ignore())
}

/// [`decode_update`], with unknown parameters ignored or rejected as `unknown`
/// says.
///
/// # Errors
///
/// Those of [`decode_update`], and, when `unknown` rejects them, `InvalidParameter`
/// naming the first parameter the action does not know.
pub fn decode_update_with<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
    unknown: &mut UnknownParams,
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
    p.finish(Action::UpdateImageCache, unknown)?;
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
///
/// # Errors
///
/// `InvalidParameter` for a bad value, a malformed list index or a
/// parameter given twice; `MissingParameter` for a required one absent;
/// then whatever [`crate::engine::DeleteRequest::validate`] finds.
pub fn decode_delete<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<crate::engine::DeleteRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_delete_with(params, &mut UnknownParams::ignore())
}

/// [`decode_delete`], with unknown parameters ignored or rejected as `unknown`
/// says.
///
/// # Errors
///
/// Those of [`decode_delete`], and, when `unknown` rejects them, `InvalidParameter`
/// naming the first parameter the action does not know.
pub fn decode_delete_with<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
    unknown: &mut UnknownParams,
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
    p.finish(Action::DeleteImageCache, unknown)?;
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
///
/// # Errors
///
/// `InvalidParameter` for a bad value, a malformed list index or a
/// parameter given twice; `MissingParameter` for a required one absent;
/// then whatever [`crate::automatch::AutoMatchRequest::validate`] finds.
pub fn decode_auto_match<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
) -> Result<crate::automatch::AutoMatchRequest, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_auto_match_with(params, &mut UnknownParams::ignore())
}

/// [`decode_auto_match`], with unknown parameters ignored or rejected as `unknown`
/// says.
///
/// # Errors
///
/// Those of [`decode_auto_match`], and, when `unknown` rejects them, `InvalidParameter`
/// naming the first parameter the action does not know.
pub fn decode_auto_match_with<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
    unknown: &mut UnknownParams,
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
    p.finish(Action::AutoMatch, unknown)?;
    r.validate()?;
    Ok(r)
}

/// Decodes the emulator's `MatchPod` call: `Pod` (a Pod or workload
/// manifest, JSON or YAML; see [`crate::pod`]), `RegionId`, `Explain`.
///
/// # Errors
///
/// `MissingParameter` without `RegionId` or `Pod`; `InvalidParameter` for
/// a bad region, a bad `Explain`, or a manifest [`crate::pod`] refuses
/// (the message says where).
#[cfg(feature = "pod")]
pub fn decode_match_pod_with<K, V>(
    params: impl IntoIterator<Item = (K, V)>,
    unknown: &mut UnknownParams,
) -> Result<(crate::pod::PodMatch, bool), ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut p = Flat::new(params)?;
    let region = p.text("RegionId").unwrap_or_default();
    let manifest = p.text("Pod");
    let explain = p.boolean("Explain")?.unwrap_or(false);
    p.finish(Action::MatchPod, unknown)?;
    crate::record::check_region_id(&region)?;
    let manifest = manifest.ok_or_else(|| ApiError::missing("Pod"))?;
    let pod = crate::pod::from_manifest(&manifest, &region)?;
    Ok((pod, explain))
}

fn images(p: &mut Flat) -> Result<Option<Vec<CachedImage>>, ApiError> {
    let Some(list) = p.list("Image")? else {
        return Ok(None);
    };
    if list.len() > MAX_CACHE_IMAGES {
        return Err(ApiError::invalid(
            "Image",
            format_args!("at most {} images", MAX_CACHE_IMAGES),
        ));
    }
    list.into_iter()
        .map(|(name, value)| CachedImage::parse(&value).map_err(|e| ApiError::invalid(&name, e)))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn elimination(p: &mut Flat) -> Result<Option<EliminationStrategy>, ApiError> {
    let Some(text) = p.raw("EliminationStrategy") else {
        return Ok(None);
    };
    match EliminationStrategy::parse(&text) {
        Some(strategy) => Ok(Some(strategy)),
        None => Err(ApiError::invalid(
            "EliminationStrategy",
            format_args!("expected empty or LRU, got {text:?}"),
        )),
    }
}

fn tags(p: &mut Flat) -> Result<Option<Vec<Tag>>, ApiError> {
    let Some(objects) = p.objects("Tag")? else {
        return Ok(None);
    };
    if objects.len() > MAX_CACHE_TAGS {
        return Err(ApiError::invalid(
            "Tag",
            format_args!("at most {} tags", MAX_CACHE_TAGS),
        ));
    }
    objects
        .into_iter()
        .map(|(n, mut fields)| {
            let key = fields.remove("Key").filter(|k| !k.is_empty());
            let value = fields.remove("Value").unwrap_or_default();
            p.unclaimed("Tag", n, fields);
            let key = key.ok_or_else(|| ApiError::missing(&format!("Tag.{n}.Key")))?;
            Ok(Tag::new(key, value))
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
            p.unclaimed("ImageRegistryCredential", n, fields);
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
                            let mut rest = BTreeMap::new();
                            rest.insert(field, value.unwrap_or_default());
                            p.unclaimed("AcrRegistryInfo", n, rest);
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
