//! Why a manifest was refused: [`PodError`], its [`PodErrorKind`] and
//! where in the text.

use std::fmt;

use crate::error::ApiError;

/// Where in the manifest: line and column, both from 1 (the column counts
/// characters in YAML and bytes in JSON, as serde_json does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Position {
    pub(super) line: usize,
    pub(super) column: usize,
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
    pub(super) field: Option<Box<str>>,
    message: Box<str>,
    pub(super) position: Option<Position>,
}

/// What is wrong with a refused manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PodErrorKind {
    /// More than [`MAX_MANIFEST_BYTES`](super::MAX_MANIFEST_BYTES).
    TooLarge,
    /// Not JSON or YAML (or not UTF-8).
    Syntax,
    /// A key given twice in one mapping.
    DuplicateKey,
    /// Nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH), more than [`MAX_NODES`](super::MAX_NODES) nodes
    /// with aliases expanded, or an alias inside the node it names.
    TooComplex,
    /// A second object: a `List`, or a second YAML document.
    MultipleDocuments,
    /// A `kind` that is not one of [`Kind`](super::Kind).
    UnknownKind,
    /// A required field is absent (or null): `kind`, `spec`, a template, a
    /// container's `image`; or the manifest is empty.
    MissingField,
    /// A field of the wrong type (an annotation value that is not a string,
    /// `containers` that is not a list …).
    WrongType,
    /// No container has an image.
    NoImages,
    /// More than [`MAX_GROUP_IMAGES`](super::MAX_GROUP_IMAGES) distinct images.
    TooManyImages,
    /// An image that is not a valid reference.
    InvalidImage,
    /// An ECI annotation with a value ECI does not accept.
    InvalidAnnotation,
    /// [`annotations::IMC_ID`](super::annotations::IMC_ID) and [`annotations::IMAGE_SNAPSHOT_ID`](super::annotations::IMAGE_SNAPSHOT_ID) name
    /// different caches.
    ConflictingAnnotations,
    /// The `region_id` argument is not a region id.
    InvalidRegion,
}

impl PodError {
    pub(super) fn new(
        kind: PodErrorKind,
        field: Option<String>,
        message: impl fmt::Display,
    ) -> Self {
        PodError {
            kind,
            field: field.map(String::into_boxed_str),
            message: message.to_string().into_boxed_str(),
            position: None,
        }
    }

    pub(super) fn at(mut self, position: Option<Position>) -> Self {
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
