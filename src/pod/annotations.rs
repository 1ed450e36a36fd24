//! The annotations read, with the meaning ECI gives them ("Use an
//! ImageCache to accelerate pod creation" and "Scale up the temporary
//! storage space" in the Elastic Container Instance documentation).

/// `"true"` (the default) or `"false"`: match an image cache
/// automatically, and create one for the pod when none matches
/// ([`PodMatch::auto_match`](super::PodMatch::auto_match),
/// `AutoMatchRequest::auto_create`).
pub const AUTO_IMC: &str = "k8s.aliyun.com/eci-auto-imc";
/// The image cache to use (`imc-…`): it bypasses ranking, and takes
/// priority over automatic matching
/// (`AutoMatchRequest::image_cache_id`).
pub const IMC_ID: &str = "k8s.aliyun.com/eci-imc-id";
/// The older name of [`IMC_ID`]. Both may be given only with the same
/// value.
pub const IMAGE_SNAPSHOT_ID: &str = "k8s.aliyun.com/eci-image-snapshot-id";
/// `"true"` or `"false"` (the default): every image of the pod must
/// match the cache exactly (`AutoMatchRequest::perfect_match`). With
/// [`IMC_MATCH_COUNT_REQUEST`] as well, perfect match takes priority
/// (auto-match applies that rule).
pub const IMC_PERFECT_MATCH: &str = "k8s.aliyun.com/imc-perfect-match";
/// A whole number of at least 1: how many of the pod's images must match
/// the cache exactly (`AutoMatchRequest::match_count_request`).
pub const IMC_MATCH_COUNT_REQUEST: &str = "k8s.aliyun.com/imc-match-count-request";
/// A Kubernetes quantity (`"50Gi"`, `"20G"`, `"51200Mi"`, bytes …): the
/// temporary storage added to the free 30 GiB. The container group's
/// storage is 30 GiB plus this, in whole GiB rounded up
/// (`AutoMatchRequest::temporary_storage_gib`); see
/// [`extra_storage_gib`].
pub const EXTRA_EPHEMERAL_STORAGE: &str = "k8s.aliyun.com/eci-extra-ephemeral-storage";

use crate::automatch::AutoMatchRequest;
use crate::limits::DEFAULT_TEMPORARY_STORAGE_GIB;

use super::reader::{Reader, annotation_field};
use super::tree::{NodeId, Value};
use super::{PodError, PodErrorKind, extra_storage_gib};

/// The longest image cache id read from an annotation (the engine's bound
/// on ids).
const MAX_CACHE_ID: usize = 256;

/// Applies the ECI annotations of `metadata` to `request`, in a fixed order
/// (so a manifest with several bad ones is refused for the same one each
/// time): first every value must be a string, in document order, then each
/// annotation read is checked in turn. Returns [`AUTO_IMC`].
pub(super) fn read(
    r: &Reader<'_>,
    metadata: Option<NodeId>,
    path: &str,
    request: &mut AutoMatchRequest,
) -> Result<bool, PodError> {
    let Some(map) = metadata
        .map(|m| r.map(m, "annotations", path))
        .transpose()?
        .flatten()
    else {
        return Ok(true);
    };
    let found = Found::collect(r, map, path)?;
    let auto_match = found.boolean(AUTO_IMC, true)?;
    request.perfect_match = found.boolean(IMC_PERFECT_MATCH, false)?;
    if let Some(n) = found.match_count_request()? {
        request.match_count_request = Some(n);
    }
    request.image_cache_id = found.cache_id()?.map(str::to_owned);
    if let Some(extra) = found.extra_storage()? {
        request.temporary_storage_gib = DEFAULT_TEMPORARY_STORAGE_GIB + extra;
    }
    Ok(auto_match)
}

/// The annotations of one `metadata`, every value a string.
struct Found<'r, 'a> {
    r: &'r Reader<'a>,
    /// The path of the `metadata` (`metadata.`, `spec.template.metadata.`).
    path: &'r str,
    /// Key, value and node, in document order.
    entries: Vec<(&'a str, &'a str, NodeId)>,
}

impl<'r, 'a> Found<'r, 'a> {
    /// The annotations of mapping `map`, refusing a value that is not a
    /// string, as Kubernetes does (null reads as "").
    fn collect(r: &'r Reader<'a>, map: NodeId, path: &'r str) -> Result<Self, PodError> {
        let Value::Map(pairs) = r.value(map) else {
            unreachable!("checked by Reader::map")
        };
        let mut entries = Vec::with_capacity(pairs.len());
        for (key, id) in pairs {
            let text = match r.value(*id) {
                Value::Str(s) => &**s,
                Value::Null => "",
                other => {
                    let hint = match other {
                        Value::Bool | Value::Number => " (quote it)",
                        _ => "",
                    };
                    return Err(PodError::new(
                        PodErrorKind::WrongType,
                        Some(annotation_field(path, key)),
                        format_args!(
                            "an annotation value must be a string{hint}, found {}",
                            other.describe()
                        ),
                    )
                    .at(r.doc.node(*id).position));
                }
            };
            entries.push((&**key, text, *id));
        }
        Ok(Found { r, path, entries })
    }

    fn get(&self, name: &str) -> Option<(&'a str, NodeId)> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == name)
            .map(|&(_, v, id)| (v, id))
    }

    fn invalid(&self, name: &str, id: NodeId, reason: impl std::fmt::Display) -> PodError {
        PodError::new(
            PodErrorKind::InvalidAnnotation,
            Some(annotation_field(self.path, name)),
            reason,
        )
        .at(self.r.doc.node(id).position)
    }

    /// `"true"` or `"false"`, `default` when absent.
    fn boolean(&self, name: &str, default: bool) -> Result<bool, PodError> {
        match self.get(name) {
            None => Ok(default),
            Some(("true", _)) => Ok(true),
            Some(("false", _)) => Ok(false),
            Some((v, id)) => Err(self.invalid(
                name,
                id,
                format_args!("must be \"true\" or \"false\", found {v:?}"),
            )),
        }
    }

    /// [`IMC_MATCH_COUNT_REQUEST`]: a whole number of at least 1.
    fn match_count_request(&self) -> Result<Option<u32>, PodError> {
        const NAME: &str = IMC_MATCH_COUNT_REQUEST;
        let Some((v, id)) = self.get(NAME) else {
            return Ok(None);
        };
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.invalid(
                NAME,
                id,
                format_args!("must be a whole number of at least 1, found {v:?}"),
            ));
        }
        // All digits: only too large to fail.
        let n = v
            .parse::<u32>()
            .map_err(|_| self.invalid(NAME, id, format_args!("{v:?} is too large")))?;
        if n == 0 {
            return Err(self.invalid(NAME, id, "must be at least 1, found \"0\""));
        }
        Ok(Some(n))
    }

    /// [`IMC_ID`] or [`IMAGE_SNAPSHOT_ID`]: an image cache id, the same in
    /// both when both are given.
    fn cache_id(&self) -> Result<Option<&'a str>, PodError> {
        let mut cache_id: Option<(&str, &'a str)> = None;
        for name in [IMC_ID, IMAGE_SNAPSHOT_ID] {
            let Some((v, id)) = self.get(name) else {
                continue;
            };
            let bad = v.is_empty()
                || v.chars().count() > MAX_CACHE_ID
                || v.chars().any(|c| c.is_whitespace() || c.is_control());
            if bad {
                return Err(self.invalid(
                    name,
                    id,
                    format_args!(
                        "must be an image cache id (1 to {MAX_CACHE_ID} characters, no spaces), found {v:?}"
                    ),
                ));
            }
            match cache_id {
                Some((first_name, first)) if first != v => {
                    return Err(PodError::new(
                        PodErrorKind::ConflictingAnnotations,
                        Some(annotation_field(self.path, name)),
                        format_args!(
                            "names the image cache {v:?}, but {first_name} names {first:?}"
                        ),
                    )
                    .at(self.r.doc.node(id).position));
                }
                Some(_) => {}
                None => cache_id = Some((name, v)),
            }
        }
        Ok(cache_id.map(|(_, v)| v))
    }

    /// [`EXTRA_EPHEMERAL_STORAGE`], in whole GiB.
    fn extra_storage(&self) -> Result<Option<u32>, PodError> {
        let Some((v, id)) = self.get(EXTRA_EPHEMERAL_STORAGE) else {
            return Ok(None);
        };
        extra_storage_gib(v).map(Some).map_err(|e| {
            let mut e = e.at(self.r.doc.node(id).position);
            e.field = Some(annotation_field(self.path, EXTRA_EPHEMERAL_STORAGE).into());
            e
        })
    }
}
