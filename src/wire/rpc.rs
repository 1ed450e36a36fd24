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

use crate::describe::{DescribeRequest, MAX_MATCH_IMAGES, MAX_TAGS, TagFilter};
use crate::error::ApiError;
use crate::reference::Reference;

/// Parameters every RPC request may carry that no action reads: those of the
/// classic signature form. `Owner*` and `ResourceOwner*` account fields,
/// which ordinary callers never set, are ignored too.
const IGNORED: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureType",
    "Signature",
    "AccessKeyId",
    "SecurityToken",
];

fn ignored(name: &str) -> bool {
    IGNORED.contains(&name) || name.starts_with("Owner") || name.starts_with("ResourceOwner")
}

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
                    let n = index(name, rest)?;
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
                    let n = index(name, n)?;
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

/// A list index: decimal, 1-based.
fn index(name: &str, text: &str) -> Result<u32, ApiError> {
    match text.parse::<u32>() {
        Ok(n) if n >= 1 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(ApiError::invalid(
            name,
            "list indices are 1-based decimal numbers",
        )),
    }
}
