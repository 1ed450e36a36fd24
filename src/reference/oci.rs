//! Conversions to and from `oci_spec::distribution::Reference` (cargo feature
//! `oci-spec`).
//!
//! ```
//! use eci_imagecache::reference::Reference;
//!
//! let ours: Reference = "nginx:1.25".parse()?;
//! let theirs = oci_spec::distribution::Reference::from(&ours);
//! assert_eq!(theirs.registry(), "docker.io");
//! assert_eq!(theirs.repository(), "library/nginx");
//! assert_eq!(theirs.tag(), Some("1.25"));
//! assert_eq!(Reference::try_from(&theirs)?, ours);
//! # Ok::<(), eci_imagecache::reference::ParseError>(())
//! ```

use oci_spec::distribution::Reference as OciReference;

use super::{ParseError, Reference, Version};

/// `oci-spec` always carries a tag or a digest, so a reference written
/// without either converts with the tag `latest`, as `oci-spec` would parse it.
impl<S: AsRef<str>> From<&Reference<S>> for OciReference {
    fn from(r: &Reference<S>) -> Self {
        let registry = r.registry().to_owned();
        let repository = r.repository().to_owned();
        match (r.tag(), r.version()) {
            (Some(tag), Version::Digest(digest)) => OciReference::with_tag_and_digest(
                registry,
                repository,
                tag.to_owned(),
                digest.to_owned(),
            ),
            (None, Version::Digest(digest)) => {
                OciReference::with_digest(registry, repository, digest.to_owned())
            }
            (_, Version::Tag(tag)) => OciReference::with_tag(registry, repository, tag.to_owned()),
        }
    }
}

impl From<Reference> for OciReference {
    fn from(r: Reference) -> Self {
        OciReference::from(&r)
    }
}

/// Re-parses the `oci-spec` reference's whole string with Docker's rules; it
/// fails where `oci-spec` accepted something Docker rejects (a Unicode tag,
/// an upper-case digest).
impl TryFrom<&OciReference> for Reference {
    type Error = ParseError;

    fn try_from(r: &OciReference) -> Result<Self, Self::Error> {
        Reference::parse(&r.whole())
    }
}

impl TryFrom<OciReference> for Reference {
    type Error = ParseError;

    fn try_from(r: OciReference) -> Result<Self, Self::Error> {
        Reference::try_from(&r)
    }
}
