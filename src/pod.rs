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
//!   [`Reference::parse`]; at least one and at most [`MAX_GROUP_IMAGES`].
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

mod quantity;
mod tree;

use std::fmt;

use crate::automatch::AutoMatchRequest;
use crate::error::ApiError;
use crate::limits::{DEFAULT_TEMPORARY_STORAGE_GIB, MAX_GROUP_IMAGES};
use crate::reference::Reference;

use tree::{Doc, NodeId, Value};

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

/// The annotations read, with the meaning ECI gives them ("Use an
/// ImageCache to accelerate pod creation" and "Scale up the temporary
/// storage space" in the Elastic Container Instance documentation).
pub mod annotations {
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
    /// [`extra_storage_gib`](super::extra_storage_gib).
    pub const EXTRA_EPHEMERAL_STORAGE: &str = "k8s.aliyun.com/eci-extra-ephemeral-storage";
}

/// The kinds of manifest read, and where each keeps its pod.
///
/// ```
/// use eci_imagecache::pod::Kind;
///
/// assert_eq!(Kind::from_name("CronJob"), Some(Kind::CronJob));
/// assert_eq!(Kind::CronJob.template_path(), "spec.jobTemplate.spec.template.");
/// assert_eq!(Kind::Pod.template_path(), "");
/// assert_eq!(Kind::from_name("Service"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `metadata` and `spec` of the manifest itself.
    Pod,
    /// `spec.template`.
    Deployment,
    /// `spec.template`.
    StatefulSet,
    /// `spec.template`.
    DaemonSet,
    /// `spec.template`.
    ReplicaSet,
    /// `spec.template`.
    ReplicationController,
    /// `spec.template`.
    Job,
    /// `spec.jobTemplate.spec.template`.
    CronJob,
    /// `template`.
    PodTemplate,
}

impl Kind {
    /// Every kind, in the order of the enum.
    pub const ALL: [Kind; 9] = [
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::ReplicaSet,
        Kind::ReplicationController,
        Kind::Job,
        Kind::CronJob,
        Kind::PodTemplate,
    ];

    /// The `kind` as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::ReplicationController => "ReplicationController",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::PodTemplate => "PodTemplate",
        }
    }

    /// The kind with this spelling (case-sensitive, as in Kubernetes).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Where the pod template is: the path to prefix to `metadata` and
    /// `spec` (empty for a Pod).
    pub fn template_path(self) -> &'static str {
        match self {
            Kind::Pod => "",
            Kind::CronJob => "spec.jobTemplate.spec.template.",
            Kind::PodTemplate => "template.",
            _ => "spec.template.",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    read(&Reader { doc: &doc }, root, region_id)
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

// ---------------------------------------------------------------------------
// Errors

/// Where in the manifest: line and column, both from 1 (the column counts
/// characters in YAML and bytes in JSON, as serde_json does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Position {
    line: usize,
    column: usize,
}

/// A manifest that could not be read as a container group.
///
/// It names the field or annotation at fault ([`PodError::field`], a path
/// such as `spec.containers[1].image`) and, when known, the line and column
/// ([`PodError::line`], [`PodError::column`]): always for syntax errors,
/// and for YAML nodes (serde_json keeps no positions past its parse).
///
/// ```
/// use eci_imagecache::pod::{self, PodErrorKind};
///
/// let e = pod::from_manifest("kind: Pod\nspec:\n  containers:\n  - name: web\n    image: Nginx\n", "cn-hangzhou").unwrap_err();
/// assert_eq!(e.kind(), PodErrorKind::InvalidImage);
/// assert_eq!(e.field(), Some("spec.containers[0].image"));
/// assert_eq!((e.line(), e.column()), (Some(5), Some(12)));
/// assert_eq!(
///     e.to_string(),
///     "spec.containers[0].image: container \"web\": not a valid image reference: \
///      repository path must be lower case: found 'N' at byte 0 (line 5, column 12)"
/// );
///
/// // As an API error: InvalidParameter naming the field.
/// let api: eci_imagecache::ApiError = e.into();
/// assert_eq!(api.code().as_str(), "InvalidParameter");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodError {
    kind: PodErrorKind,
    field: Option<Box<str>>,
    message: Box<str>,
    position: Option<Position>,
}

/// What is wrong with a refused manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PodErrorKind {
    /// More than [`MAX_MANIFEST_BYTES`].
    TooLarge,
    /// Not JSON or YAML (or not UTF-8).
    Syntax,
    /// A key given twice in one mapping.
    DuplicateKey,
    /// Nested deeper than [`MAX_DEPTH`], more than [`MAX_NODES`] nodes
    /// with aliases expanded, or an alias inside the node it names.
    TooComplex,
    /// A second object: a `List`, or a second YAML document.
    MultipleDocuments,
    /// A `kind` that is not one of [`Kind`].
    UnknownKind,
    /// A required field is absent (or null): `kind`, `spec`, a template, a
    /// container's `image`; or the manifest is empty.
    MissingField,
    /// A field of the wrong type (an annotation value that is not a string,
    /// `containers` that is not a list …).
    WrongType,
    /// No container has an image.
    NoImages,
    /// More than [`MAX_GROUP_IMAGES`] distinct images.
    TooManyImages,
    /// An image that is not a valid reference.
    InvalidImage,
    /// An ECI annotation with a value ECI does not accept.
    InvalidAnnotation,
    /// [`annotations::IMC_ID`] and [`annotations::IMAGE_SNAPSHOT_ID`] name
    /// different caches.
    ConflictingAnnotations,
    /// The `region_id` argument is not a region id.
    InvalidRegion,
}

impl PodError {
    fn new(kind: PodErrorKind, field: Option<String>, message: impl fmt::Display) -> Self {
        PodError {
            kind,
            field: field.map(String::into_boxed_str),
            message: message.to_string().into_boxed_str(),
            position: None,
        }
    }

    fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> PodErrorKind {
        self.kind
    }

    /// The field or annotation at fault, as a path from the manifest's root
    /// (`spec.template.spec.containers[0].image`,
    /// `metadata.annotations["k8s.aliyun.com/eci-imc-id"]`), or `RegionId`
    /// for the argument; `None` for the manifest as a whole (syntax, size).
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Why, without the field and the position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The line, from 1, when known.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }

    /// The column, from 1, when known.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|p| p.column)
    }
}

impl fmt::Display for PodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(p) = self.position {
            write!(f, " (line {}, column {})", p.line, p.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for PodError {}

/// `InvalidParameter`, naming the field (or `Manifest` for the manifest as
/// a whole), with the message and position as the reason.
impl From<PodError> for ApiError {
    fn from(e: PodError) -> ApiError {
        let mut reason = e.message.to_string();
        if let Some(p) = e.position {
            reason.push_str(&format!(" (line {}, column {})", p.line, p.column));
        }
        ApiError::invalid(e.field.as_deref().unwrap_or("Manifest"), reason)
    }
}

// ---------------------------------------------------------------------------
// Reading

struct Reader<'a> {
    doc: &'a Doc,
}

fn annotation_field(metadata: &str, key: &str) -> String {
    format!("{metadata}annotations[{key:?}]")
}

impl<'a> Reader<'a> {
    fn value(&self, id: NodeId) -> &'a Value {
        &self.doc.node(id).value
    }

    fn wrong_type(&self, id: NodeId, field: String, expected: &str) -> PodError {
        let node = self.doc.node(id);
        PodError::new(
            PodErrorKind::WrongType,
            Some(field),
            format_args!("must be {expected}, found {}", node.value.describe()),
        )
        .at(node.position)
    }

    /// `key` of mapping `map`, `None` when absent or null.
    fn field(&self, map: NodeId, key: &str) -> Option<NodeId> {
        self.doc
            .get(map, key)
            .filter(|&id| !matches!(self.value(id), Value::Null))
    }

    /// A mapping at `key`, if present.
    fn map(&self, map: NodeId, key: &str, path: &str) -> Result<Option<NodeId>, PodError> {
        match self.field(map, key) {
            None => Ok(None),
            Some(id) => match self.value(id) {
                Value::Map(_) => Ok(Some(id)),
                _ => Err(self.wrong_type(id, format!("{path}{key}"), "a mapping")),
            },
        }
    }

    /// A mapping at `key` that must be there.
    fn required_map(&self, map: NodeId, key: &str, path: &str) -> Result<NodeId, PodError> {
        self.map(map, key, path)?.ok_or_else(|| {
            PodError::new(
                PodErrorKind::MissingField,
                Some(format!("{path}{key}")),
                "is missing",
            )
            .at(self.doc.node(map).position)
        })
    }

    /// A string at `key`, if present.
    fn string(&self, map: NodeId, key: &str, path: &str) -> Result<Option<&'a str>, PodError> {
        match self.field(map, key) {
            None => Ok(None),
            Some(id) => match self.value(id) {
                Value::Str(s) => Ok(Some(s)),
                _ => Err(self.wrong_type(id, format!("{path}{key}"), "a string")),
            },
        }
    }
}

fn read(r: &Reader<'_>, root: NodeId, region_id: &str) -> Result<PodMatch, PodError> {
    if !matches!(r.value(root), Value::Map(_)) {
        let node = r.doc.node(root);
        return Err(PodError::new(
            PodErrorKind::WrongType,
            None,
            format_args!(
                "the manifest must be a mapping (a Kubernetes object), found {}",
                node.value.describe()
            ),
        )
        .at(node.position));
    }
    let kind_name = r.string(root, "kind", "")?.ok_or_else(|| {
        PodError::new(
            PodErrorKind::MissingField,
            Some("kind".into()),
            "is missing",
        )
    })?;
    let Some(kind) = Kind::from_name(kind_name) else {
        let at = r
            .doc
            .get(root, "kind")
            .and_then(|id| r.doc.node(id).position);
        let reason = if kind_name.ends_with("List") {
            format!("a {kind_name} holds several objects: give one Pod or workload per manifest")
        } else {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "{kind_name:?} is not a Pod or a workload with a pod template (one of {})",
                known.join(", ")
            )
        };
        let kind = if kind_name.ends_with("List") {
            PodErrorKind::MultipleDocuments
        } else {
            PodErrorKind::UnknownKind
        };
        return Err(PodError::new(kind, Some("kind".into()), reason).at(at));
    };
    let metadata = r.map(root, "metadata", "")?;
    let name = metadata
        .map(|m| r.string(m, "name", "metadata."))
        .transpose()?
        .flatten();
    let namespace = metadata
        .map(|m| r.string(m, "namespace", "metadata."))
        .transpose()?
        .flatten();

    // The pod: the manifest itself, or its template.
    let mut pod = root;
    let mut path = String::new();
    for step in kind.template_path().split_terminator('.') {
        pod = r.required_map(pod, step, &path)?;
        path.push_str(step);
        path.push('.');
    }
    let pod_metadata = r.map(pod, "metadata", &path)?;
    let spec = r.required_map(pod, "spec", &path)?;

    let mut request = AutoMatchRequest::new(region_id);
    request.images = images(r, spec, &format!("{path}spec."))?;
    let auto_match = read_annotations(r, pod_metadata, &format!("{path}metadata."), &mut request)?;
    request.auto_create = auto_match;
    // What the request type checks beyond this module's own checks (none
    // expected to fail: region, images and values were checked above).
    request
        .validate()
        .map_err(|e| PodError::new(PodErrorKind::InvalidAnnotation, None, e.message()))?;
    Ok(PodMatch {
        kind,
        name: name.map(str::to_owned),
        namespace: namespace.map(str::to_owned),
        auto_match,
        request,
    })
}

/// The distinct images of `initContainers` then `containers`.
fn images(r: &Reader<'_>, spec: NodeId, path: &str) -> Result<Vec<Reference>, PodError> {
    let mut images: Vec<Reference> = Vec::new();
    for list in ["initContainers", "containers"] {
        let Some(id) = r.field(spec, list) else {
            continue;
        };
        let Value::Seq(containers) = r.value(id) else {
            return Err(r.wrong_type(id, format!("{path}{list}"), "a list of containers"));
        };
        for (i, &container) in containers.iter().enumerate() {
            let at = format!("{path}{list}[{i}]");
            if !matches!(r.value(container), Value::Map(_)) {
                return Err(r.wrong_type(container, at, "a container (a mapping)"));
            }
            let name = r.string(container, "name", &format!("{at}."))?;
            let label = match name {
                Some(name) => format!("container {name:?}"),
                None => "the container".to_owned(),
            };
            let field = format!("{at}.image");
            let Some(image_node) = r.field(container, "image") else {
                return Err(PodError::new(
                    PodErrorKind::MissingField,
                    Some(field),
                    format_args!("{label} has no image"),
                )
                .at(r.doc.node(container).position));
            };
            let Value::Str(image) = r.value(image_node) else {
                return Err(r.wrong_type(image_node, field, "a string"));
            };
            let reference = Reference::parse(image).map_err(|e| {
                PodError::new(
                    PodErrorKind::InvalidImage,
                    Some(field.clone()),
                    format_args!("{label}: not a valid image reference: {e}"),
                )
                .at(r.doc.node(image_node).position)
            })?;
            if images.contains(&reference) {
                continue;
            }
            if images.len() == MAX_GROUP_IMAGES {
                return Err(PodError::new(
                    PodErrorKind::TooManyImages,
                    Some(field),
                    format_args!("more than {MAX_GROUP_IMAGES} distinct images in one pod"),
                )
                .at(r.doc.node(image_node).position));
            }
            images.push(reference);
        }
    }
    if images.is_empty() {
        return Err(PodError::new(
            PodErrorKind::NoImages,
            Some(format!("{path}containers")),
            "the pod has no container with an image",
        )
        .at(r.doc.node(spec).position));
    }
    Ok(images)
}

/// Applies the ECI annotations of `metadata` to `request`; returns
/// [`annotations::AUTO_IMC`].
fn read_annotations(
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
    let Value::Map(entries) = r.value(map) else {
        unreachable!("checked by map()")
    };
    // Every value a string, as Kubernetes requires (null reads as "").
    let mut found: Vec<(&str, &str, NodeId)> = Vec::new();
    for (key, id) in entries {
        let text = match r.value(*id) {
            Value::Str(s) => &**s,
            Value::Null => "",
            other => {
                let node = r.doc.node(*id);
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
                .at(node.position));
            }
        };
        found.push((key, text, *id));
    }
    let get = |name: &str| {
        found
            .iter()
            .find(|(k, _, _)| *k == name)
            .map(|&(_, v, id)| (v, id))
    };
    let invalid = |name: &str, id: NodeId, reason: String| {
        PodError::new(
            PodErrorKind::InvalidAnnotation,
            Some(annotation_field(path, name)),
            reason,
        )
        .at(r.doc.node(id).position)
    };
    let boolean = |name: &str, default: bool| -> Result<bool, PodError> {
        match get(name) {
            None => Ok(default),
            Some(("true", _)) => Ok(true),
            Some(("false", _)) => Ok(false),
            Some((v, id)) => Err(invalid(
                name,
                id,
                format!("must be \"true\" or \"false\", found {v:?}"),
            )),
        }
    };

    let auto_match = boolean(annotations::AUTO_IMC, true)?;
    request.perfect_match = boolean(annotations::IMC_PERFECT_MATCH, false)?;

    if let Some((v, id)) = get(annotations::IMC_MATCH_COUNT_REQUEST) {
        let n = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            // All digits: only too large to fail.
            v.parse::<u32>().map_err(|_| {
                invalid(
                    annotations::IMC_MATCH_COUNT_REQUEST,
                    id,
                    format!("{v:?} is too large"),
                )
            })?
        } else {
            return Err(invalid(
                annotations::IMC_MATCH_COUNT_REQUEST,
                id,
                format!("must be a whole number of at least 1, found {v:?}"),
            ));
        };
        if n == 0 {
            return Err(invalid(
                annotations::IMC_MATCH_COUNT_REQUEST,
                id,
                "must be at least 1, found \"0\"".to_owned(),
            ));
        }
        request.match_count_request = Some(n);
    }

    let mut cache_id = None;
    for name in [annotations::IMC_ID, annotations::IMAGE_SNAPSHOT_ID] {
        let Some((v, id)) = get(name) else { continue };
        let bad = v.is_empty()
            || v.chars().count() > MAX_CACHE_ID
            || v.chars().any(|c| c.is_whitespace() || c.is_control());
        if bad {
            return Err(invalid(
                name,
                id,
                format!(
                    "must be an image cache id (1 to {MAX_CACHE_ID} characters, no spaces), found {v:?}"
                ),
            ));
        }
        match cache_id {
            Some((first_name, first)) if first != v => {
                return Err(PodError::new(
                    PodErrorKind::ConflictingAnnotations,
                    Some(annotation_field(path, name)),
                    format_args!("names the image cache {v:?}, but {first_name} names {first:?}"),
                )
                .at(r.doc.node(id).position));
            }
            Some(_) => {}
            None => cache_id = Some((name, v)),
        }
    }
    request.image_cache_id = cache_id.map(|(_, v)| v.to_owned());

    if let Some((v, id)) = get(annotations::EXTRA_EPHEMERAL_STORAGE) {
        let extra = extra_storage_gib(v).map_err(|e| {
            let mut e = e.at(r.doc.node(id).position);
            e.field = Some(annotation_field(path, annotations::EXTRA_EPHEMERAL_STORAGE).into());
            e
        })?;
        request.temporary_storage_gib = DEFAULT_TEMPORARY_STORAGE_GIB + extra;
    }
    Ok(auto_match)
}

/// The longest image cache id read from an annotation (the engine's bound
/// on ids).
const MAX_CACHE_ID: usize = 256;
