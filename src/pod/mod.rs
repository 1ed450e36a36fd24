//! A container group from a Kubernetes Pod manifest (feature `pod`): the
//! [`AutoMatchRequest`] ECI would match a cache for, read from the Pod's
//! images and its ECI annotations, in JSON or YAML.
//!
//! ```
//! use eci_imagecache::pod;
//!
//! let manifest = r#"
//! apiVersion: v1
//! kind: Pod
//! metadata:
//!   name: web
//!   annotations:
//!     k8s.aliyun.com/imc-perfect-match: "true"
//!     k8s.aliyun.com/eci-extra-ephemeral-storage: "20Gi"
//! spec:
//!   initContainers:
//!   - name: init
//!     image: busybox:1.36
//!   containers:
//!   - name: web
//!     image: nginx:1.25
//! "#;
//! let found = pod::from_manifest(manifest, "cn-hangzhou")?;
//! assert_eq!(found.name.as_deref(), Some("web"));
//! assert!(found.auto_match);
//! let request = &found.request;
//! assert_eq!(request.images[0].as_str(), "docker.io/library/busybox:1.36");
//! assert_eq!(request.images[1].as_str(), "docker.io/library/nginx:1.25");
//! assert_eq!(request.temporary_storage_gib, 50); // 30 + 20
//! assert!(request.perfect_match && request.auto_create);
//! # Ok::<(), pod::PodError>(())
//! ```
//!
//! # What is read
//!
//! * **The pod**: `kind: Pod` (`metadata`, `spec`), or the pod template of a
//!   workload, since that is the file users have: `Deployment`,
//!   `StatefulSet`, `DaemonSet`, `ReplicaSet`, `ReplicationController` and
//!   `Job` (`spec.template`), `CronJob` (`spec.jobTemplate.spec.template`)
//!   and `PodTemplate` (`template`). See [`Kind`].
//! * **The images**: `spec.initContainers[].image`, then
//!   `spec.containers[].image`, in that order, each distinct image once
//!   (references compare in their canonical form, so `nginx` and
//!   `docker.io/library/nginx:latest` are one image). Each is parsed by
//!   [`Reference::parse`](crate::reference::Reference::parse); at least one and at most [`MAX_GROUP_IMAGES`].
//! * **The annotations** of the pod's `metadata` (for a workload, the
//!   template's, where ECI reads them); see [`annotations`]. Other
//!   annotations are ignored, but every annotation value must be a string,
//!   as Kubernetes requires: an unquoted `true` or `2` is refused.
//!
//! Everything else (labels, other `spec` fields, `status`) is ignored.
//!
//! # Input
//!
//! A manifest whose first non-blank character is `{` is JSON, read by
//! `serde_json` (its syntax errors give JSON lines and columns); anything
//! else is YAML, read by `saphyr-parser`, a YAML 1.2 parser, with the
//! scalar rules of Kubernetes' own YAML decoder (go-yaml v2, YAML 1.1): a
//! plain `yes`, `on` or `y` is a boolean, `0755` a number, and `<<` merges
//! mappings. Duplicate keys are refused rather than one silently winning.
//!
//! One object per manifest: a `List`, or YAML with a second non-empty
//! document (`---`), is refused rather than read in part. Empty documents
//! (a leading or trailing `---`) are skipped.
//!
//! # Limits
//!
//! A manifest is at most [`MAX_MANIFEST_BYTES`]; it nests at most
//! [`MAX_DEPTH`] collections deep; and with its YAML aliases expanded it
//! stands for at most [`MAX_NODES`] nodes, so a "billion laughs" document
//! is refused as soon as its expansion passes the bound. Aliases are never
//! copied: the memory used is proportional to the text.

mod error;
mod kind;
mod quantity;
mod reader;
mod tree;

use crate::automatch::AutoMatchRequest;
use crate::limits::MAX_GROUP_IMAGES;

pub use error::{PodError, PodErrorKind};
pub use kind::Kind;

use error::Position;
use reader::{Reader, annotation_field};

/// The largest manifest read, in bytes (1 MiB; a pod's manifest is a few
/// KiB).
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// The deepest nesting of sequences and mappings read, the document's own
/// mapping included, in YAML and JSON alike (a pod nests about 10 deep).
pub const MAX_DEPTH: usize = 100;

/// The most nodes a document may stand for with its aliases expanded. An
/// alias-free manifest within [`MAX_MANIFEST_BYTES`] stays well below it (a
/// node takes about two bytes at the least: `[1,1,…]` is 524 288 nodes), so
/// only alias expansion reaches it.
pub const MAX_NODES: u64 = 1_000_000;

/// The largest extra temporary storage read from
/// [`annotations::EXTRA_EPHEMERAL_STORAGE`], GiB (32 TiB). This is a guard
/// against mistakes (`50G` written as `50E`), not a documented ECI limit.
pub const MAX_EXTRA_STORAGE_GIB: u32 = 32_768;

pub mod annotations;

/// What a manifest asks of ECI's image caches.
///
/// ```
/// use eci_imagecache::pod::{self, Kind};
///
/// let found = pod::from_manifest(
///     r#"{"kind": "Pod", "metadata": {"name": "api", "namespace": "prod",
///         "annotations": {"k8s.aliyun.com/eci-imc-id": "imc-2ze0123456789abcdef"}},
///         "spec": {"containers": [{"name": "api", "image": "registry.cn-hangzhou.aliyuncs.com/team/api:v2"}]}}"#,
///     "cn-hangzhou",
/// )?;
/// assert_eq!(found.kind, Kind::Pod);
/// assert_eq!(found.namespace.as_deref(), Some("prod"));
/// assert_eq!(found.request.image_cache_id.as_deref(), Some("imc-2ze0123456789abcdef"));
/// assert!(found.uses_image_cache());
/// # Ok::<(), pod::PodError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodMatch {
    /// The manifest's kind.
    pub kind: Kind,
    /// `metadata.name` of the manifest (the workload's, for a workload).
    pub name: Option<String>,
    /// `metadata.namespace` of the manifest.
    pub namespace: Option<String>,
    /// [`annotations::AUTO_IMC`]: whether ECI matches a cache automatically
    /// (and creates one on a miss). A named cache
    /// ([`annotations::IMC_ID`]) takes priority: auto-match then uses that
    /// cache and ranks nothing.
    pub auto_match: bool,
    /// The container group: region, images, storage and match settings.
    /// `container_group_id` is left empty (the engine makes one).
    pub request: AutoMatchRequest,
}

impl PodMatch {
    /// Whether ECI would use an image cache for the pod at all: a cache is
    /// named, or automatic matching is on. When false, ECI pulls the images
    /// and a scheduler need not call auto-match.
    ///
    /// # Examples
    ///
    /// ```
    /// use eci_imagecache::pod;
    ///
    /// let off = "kind: Pod\nmetadata:\n  annotations:\n    k8s.aliyun.com/eci-auto-imc: \"false\"\nspec:\n  containers:\n  - image: nginx\n";
    /// let found = pod::from_manifest(off, "cn-hangzhou")?;
    /// assert!(!found.auto_match && !found.request.auto_create);
    /// assert!(!found.uses_image_cache());
    /// # Ok::<(), pod::PodError>(())
    /// ```
    pub fn uses_image_cache(&self) -> bool {
        self.auto_match || self.request.image_cache_id.is_some()
    }
}

/// Reads a Pod manifest, or a workload's pod template, into the container
/// group ECI would match an image cache for, in `region_id`.
///
/// See the [module documentation](self) for what is read and the limits.
///
/// # Examples
///
/// ```
/// use eci_imagecache::pod;
///
/// let deployment = r#"
/// apiVersion: apps/v1
/// kind: Deployment
/// metadata:
///   name: shop
/// spec:
///   replicas: 3
///   template:
///     metadata:
///       annotations:
///         k8s.aliyun.com/imc-match-count-request: "1"
///     spec:
///       containers:
///       - name: app
///         image: registry-vpc.cn-hangzhou.aliyuncs.com/shop/app@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
///       - name: proxy
///         image: envoyproxy/envoy:v1.30.1
/// "#;
/// let found = pod::from_manifest(deployment, "cn-hangzhou")?;
/// assert_eq!(found.name.as_deref(), Some("shop"));
/// assert_eq!(found.request.images.len(), 2);
/// assert_eq!(found.request.match_count_request, Some(1));
/// assert_eq!(found.request.temporary_storage_gib, 30);
/// # Ok::<(), pod::PodError>(())
/// ```
///
/// # Errors
///
/// A [`PodError`] (see [`PodErrorKind`]): the manifest is too large, not
/// valid JSON or YAML (with the line and column), too deeply nested or
/// expands too far; it holds several objects; its kind is not one of
/// [`Kind`]; a field has the wrong type, or is missing; a container has no
/// image or an invalid one; there are no images or more than
/// [`MAX_GROUP_IMAGES`]; an ECI annotation has a value ECI would not accept, or
/// the two cache-id annotations disagree; or `region_id` is not a region
/// id.
pub fn from_manifest(text: &str, region_id: &str) -> Result<PodMatch, PodError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(too_large(text.len()));
    }
    crate::record::check_region_id(region_id).map_err(|e| {
        PodError::new(
            PodErrorKind::InvalidRegion,
            Some("RegionId".into()),
            e.message(),
        )
    })?;
    let first = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let (doc, root) = if first.starts_with('{') {
        tree::from_json(text)?
    } else {
        tree::from_yaml(text)?
    };
    reader::read(&Reader { doc: &doc }, root, region_id)
}

/// Like [`from_manifest`], for bytes as read from a file: they must be
/// UTF-8.
///
/// # Examples
///
/// ```
/// use eci_imagecache::pod::{self, PodErrorKind};
///
/// let found = pod::from_manifest_bytes(b"kind: Pod\nspec:\n  containers:\n  - image: redis:7\n", "cn-beijing")?;
/// assert_eq!(found.request.images[0].as_str(), "docker.io/library/redis:7");
///
/// let e = pod::from_manifest_bytes(b"kind: Pod\n\xff\n", "cn-beijing").unwrap_err();
/// assert_eq!(e.kind(), PodErrorKind::Syntax);
/// assert_eq!((e.line(), e.column()), (Some(2), Some(1)));
/// # Ok::<(), pod::PodError>(())
/// ```
///
/// # Errors
///
/// Those of [`from_manifest`], and [`PodErrorKind::Syntax`] for bytes that
/// are not UTF-8 (with the line and column of the first bad byte).
pub fn from_manifest_bytes(bytes: &[u8], region_id: &str) -> Result<PodMatch, PodError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(too_large(bytes.len()));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => from_manifest(text, region_id),
        Err(e) => {
            let before = &bytes[..e.valid_up_to()];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            Err(PodError::new(
                PodErrorKind::Syntax,
                None,
                format_args!("not UTF-8 (byte {})", e.valid_up_to()),
            )
            .at(Some(Position { line, column })))
        }
    }
}

fn too_large(len: usize) -> PodError {
    PodError::new(
        PodErrorKind::TooLarge,
        None,
        format_args!("the manifest has {len} bytes, more than the {MAX_MANIFEST_BYTES} read"),
    )
}

/// The extra temporary storage of
/// [`annotations::EXTRA_EPHEMERAL_STORAGE`], in whole GiB: a Kubernetes
/// quantity, rounded up.
///
/// Binary suffixes are powers of two (`Ki` = 2^10 … `Ei` = 2^60 bytes),
/// decimal ones powers of ten (`m` = 10^-3, none, `k`, `M`, `G`, `T`, `P`,
/// `E` = 10^18 bytes), and `e`/`E` with digits is a decimal exponent. The
/// bytes are computed exactly and rounded up to whole GiB (2^30 bytes), so
/// any positive size is at least 1 GiB.
///
/// # Examples
///
/// ```
/// use eci_imagecache::pod::extra_storage_gib;
///
/// assert_eq!(extra_storage_gib("50Gi")?, 50);
/// assert_eq!(extra_storage_gib("51200Mi")?, 50);
/// assert_eq!(extra_storage_gib("20G")?, 19); // 20 × 10^9 bytes = 18.6 GiB
/// assert_eq!(extra_storage_gib("1Ti")?, 1024);
/// assert_eq!(extra_storage_gib("1e10")?, 10); // 9.3 GiB
/// assert_eq!(extra_storage_gib("0")?, 0);
/// assert!(extra_storage_gib("-1Gi").is_err());
/// # Ok::<(), eci_imagecache::pod::PodError>(())
/// ```
///
/// # Errors
///
/// [`PodErrorKind::InvalidAnnotation`], naming the annotation: not a
/// quantity, negative, more than 20 significant digits, or more than
/// [`MAX_EXTRA_STORAGE_GIB`].
pub fn extra_storage_gib(value: &str) -> Result<u32, PodError> {
    use quantity::QuantityError;
    let reason = match quantity::to_gib(value, u64::from(MAX_EXTRA_STORAGE_GIB)) {
        Ok(gib) => return Ok(u32::try_from(gib).expect("within the limit")),
        Err(QuantityError::Malformed) => format!(
            "{value:?} is not a Kubernetes quantity (such as \"50Gi\", \"20G\" or \"51200Mi\")"
        ),
        Err(QuantityError::Negative) => format!("{value:?} is negative"),
        Err(QuantityError::TooManyDigits) => format!(
            "{value:?} has more than {} significant digits",
            quantity::MAX_DIGITS
        ),
        Err(QuantityError::TooLarge) => {
            format!("{value:?} is more than {MAX_EXTRA_STORAGE_GIB} GiB")
        }
    };
    Err(PodError::new(
        PodErrorKind::InvalidAnnotation,
        Some(annotation_field(
            "metadata.",
            annotations::EXTRA_EPHEMERAL_STORAGE,
        )),
        reason,
    ))
}
