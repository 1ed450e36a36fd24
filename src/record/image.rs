//! A cached image: the text as written and its parsed reference.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::reference::{ParseError, Reference};

/// A cached image: the text as the caller wrote it and its parsed form.
///
/// The written text is kept only when it differs from the canonical form
/// (two images in three are written canonically), so such an image is one
/// allocation.
///
/// ```
/// use eci_imagecache::record::CachedImage;
///
/// let short = CachedImage::parse("nginx:1.25").unwrap();
/// assert_eq!(short.written(), "nginx:1.25");
/// assert_eq!(short.reference().as_str(), "docker.io/library/nginx:1.25");
/// let canonical = CachedImage::parse("docker.io/library/nginx:1.25").unwrap();
/// assert_eq!(canonical.written(), canonical.reference().as_str());
/// assert_ne!(short, canonical);
/// ```
///
/// # Errors
///
/// [`CachedImage::parse`] fails as [`Reference::parse`] does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CachedImage {
    pub(super) reference: Reference,
    /// The text as written, when it is not `reference.as_str()`.
    pub(super) written: Option<Box<str>>,
}

impl CachedImage {
    /// Parses an image as written.
    ///
    /// # Errors
    ///
    /// The [`ParseError`] of [`Reference::parse`], with its position.
    pub fn parse(written: &str) -> Result<CachedImage, ParseError> {
        let reference = Reference::parse(written)?;
        let written = (reference.as_str() != written).then(|| written.into());
        Ok(CachedImage { reference, written })
    }

    /// The image exactly as written.
    pub fn written(&self) -> &str {
        self.written
            .as_deref()
            .unwrap_or_else(|| self.reference.as_str())
    }

    /// The parsed, normalised reference.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }
}

impl TryFrom<String> for CachedImage {
    type Error = ParseError;

    fn try_from(written: String) -> Result<CachedImage, ParseError> {
        CachedImage::parse(&written)
    }
}

impl From<CachedImage> for String {
    fn from(image: CachedImage) -> String {
        match image.written {
            Some(written) => written.into(),
            None => image.reference.as_str().to_owned(),
        }
    }
}

impl fmt::Debug for CachedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedImage")
            .field("written", &self.written())
            .field("reference", &self.reference)
            .finish()
    }
}
