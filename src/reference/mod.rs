//! Image references: parsing, normalisation, and the keys used for matching.
//!
//! [`Reference`] parses a container image reference exactly as Docker's
//! `distribution/reference` (`ParseNormalizedNamed`) does, the parser Docker
//! and containerd use, and keeps it as **one canonical string with offsets**
//! (the way servo's `url` does): `registry/path[:tag][@digest]`, with
//! `:latest` added when neither a tag nor a digest was written.
//!
//! [`RegistryAliases`] turns a reference into the two values matching works
//! on: a [`RepoKey`] (registry and repository) and an [`ExactKey`] (repo key
//! plus the digest, or else the tag). Registry endpoint variants of one Alibaba
//! Cloud Container Registry (ACR) registry, such as `registry.` and
//! `registry-vpc.`, fold to one key, so they match each other; strict mode
//! turns that off.
//!
//! ```
//! use eci_imagecache::reference::{Reference, RegistryAliases};
//!
//! let cached: Reference = "registry-vpc.cn-hangzhou.aliyuncs.com/team/app:v1".parse()?;
//! let query: Reference = "registry.cn-hangzhou.aliyuncs.com/team/app:v1".parse()?;
//! assert_ne!(cached, query); // different references…
//!
//! let rules = RegistryAliases::default();
//! assert_eq!(rules.exact_key(&cached), rules.exact_key(&query)); // …same image
//! assert_eq!(
//!     rules.exact_key(&query).as_str(),
//!     "registry.cn-hangzhou.aliyuncs.com/team/app:v1"
//! );
//! # Ok::<(), eci_imagecache::reference::ParseError>(())
//! ```
//!
//! # Costs
//!
//! Parsing is one left-to-right pass over the input and one allocation of
//! exactly the canonical string's length. Accessors are slices of that string.
//! Computing a key is one more pass over the canonical string, with one
//! allocation, or none with [`RegistryAliases::write_exact_key`] and a reused
//! buffer.

mod alias;
mod error;
#[cfg(feature = "oci-spec")]
mod oci;
mod parse;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

pub use alias::{ExactKey, RegistryAliases, RegistryKey, RepoKey};
pub use error::{ErrorKind, ParseError};

/// A parsed, normalised container image reference.
///
/// Parsing follows Docker's `ParseNormalizedNamed`: `nginx` is
/// `docker.io/library/nginx`, `index.docker.io` becomes `docker.io`, the first
/// path component is a registry only when it is `localhost`, contains `.` or
/// `:`, or has an upper-case letter. Tag and digest may both be present.
///
/// The value remembers whether a tag was written, so `nginx` and
/// `nginx:latest` can still be told apart ([`Reference::tag`],
/// [`Reference::is_name_only`]), although both have the same canonical form
/// and compare equal.
///
/// ```
/// use eci_imagecache::reference::{Reference, Version};
///
/// let r: Reference = "nginx".parse()?;
/// assert_eq!(r.registry(), "docker.io");
/// assert_eq!(r.repository(), "library/nginx");
/// assert_eq!(r.tag(), None);
/// assert_eq!(r.version(), Version::Tag("latest"));
/// assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
/// assert_eq!(r.normalized(), "docker.io/library/nginx");
/// assert!(r.is_name_only());
///
/// assert_eq!(r, "docker.io/library/nginx:latest".parse()?);
/// # Ok::<(), eci_imagecache::reference::ParseError>(())
/// ```
///
/// Equality, ordering and hashing follow the canonical string
/// ([`Reference::as_str`]); whether the tag was written is not part of them.
///
/// The text is held in `S`: a reference of its own (`Box<str>`, the
/// default) or one borrowed from a record's text (`Reference<&str>`, what
/// [`crate::record::ImageView::reference`] hands out). Both read alike.
#[derive(Clone, Copy)]
pub struct Reference<S = Box<str>> {
    /// `registry/path(:tag|:latest)?(@digest)?`.
    canonical: S,
    /// `canonical[..registry_len]` is the registry.
    registry_len: u32,
    /// `canonical[..name_end]` is `registry/path`.
    name_end: u32,
    /// `canonical[name_end..tag_end]` is `:tag`, `:latest` or empty.
    tag_end: u32,
    /// Whether `canonical[name_end..tag_end]` was written by the caller.
    tag_written: bool,
}

/// What a reference pins: a digest when it has one, else its tag (`latest`
/// when none was written). This is the version part of the exact key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version<'a> {
    /// A tag, such as `1.25` or `latest`.
    Tag(&'a str),
    /// A digest, such as `sha256:…`.
    Digest(&'a str),
}

impl Reference {
    /// Parses and normalises an image reference.
    ///
    /// ```
    /// use eci_imagecache::reference::Reference;
    ///
    /// let r = Reference::parse("localhost:5000/app@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")?;
    /// assert_eq!(r.registry(), "localhost:5000");
    /// assert_eq!(r.repository(), "app");
    /// assert!(r.digest().is_some());
    /// # Ok::<(), eci_imagecache::reference::ParseError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ParseError`] with the [`ErrorKind`] of the first fault and the
    /// byte offset where it was found: an empty, non-ASCII or over-long
    /// input, a 64-hex-digit name (an image id), a bad registry host or
    /// port, an empty or upper-case path component or a bad character in
    /// one, a misplaced separator, a bad tag, a bad digest.
    pub fn parse(input: &str) -> Result<Reference, ParseError> {
        parse::parse(input)
    }
}

impl<S: AsRef<str>> Reference<S> {
    /// The same reference, borrowing this one's text.
    ///
    /// ```
    /// use eci_imagecache::reference::Reference;
    ///
    /// let r: Reference = "nginx".parse()?;
    /// assert_eq!(r.borrowed(), r);
    /// assert_eq!(r.borrowed().tag(), None);
    /// # Ok::<(), eci_imagecache::reference::ParseError>(())
    /// ```
    pub fn borrowed(&self) -> Reference<&str> {
        Reference {
            canonical: self.canonical.as_ref(),
            registry_len: self.registry_len,
            name_end: self.name_end,
            tag_end: self.tag_end,
            tag_written: self.tag_written,
        }
    }

    /// The same reference with its own text.
    pub fn to_owned_reference(&self) -> Reference {
        Reference {
            canonical: self.canonical.as_ref().into(),
            registry_len: self.registry_len,
            name_end: self.name_end,
            tag_end: self.tag_end,
            tag_written: self.tag_written,
        }
    }

    /// Where the parts end in [`Reference::as_str`] (the registry's length,
    /// the name's end, the tag's end) and whether the tag was written: what
    /// [`Reference::from_parts`] takes back.
    pub(crate) fn parts(&self) -> (u32, u32, u32, bool) {
        (
            self.registry_len,
            self.name_end,
            self.tag_end,
            self.tag_written,
        )
    }

    /// A reference over `canonical` with the parts [`Reference::parts`]
    /// gave for the same text.
    pub(crate) fn from_parts(
        canonical: S,
        (registry_len, name_end, tag_end, tag_written): (u32, u32, u32, bool),
    ) -> Reference<S> {
        Reference {
            canonical,
            registry_len,
            name_end,
            tag_end,
            tag_written,
        }
    }

    /// The canonical form, `registry/path[:tag][@digest]`, with `:latest`
    /// when neither a tag nor a digest was written. Same as `to_string()`.
    pub fn as_str(&self) -> &str {
        self.canonical.as_ref()
    }

    /// The normalised form as Docker prints it: the canonical form without the
    /// implicit `:latest` (`docker.io/library/nginx` for `nginx`). Parsing it
    /// gives back an equal reference that also remembers the missing tag.
    pub fn normalized(&self) -> &str {
        if self.is_name_only() {
            self.name()
        } else {
            self.canonical.as_ref()
        }
    }

    /// The registry host, with its port if one was written (`docker.io`,
    /// `localhost:5000`, `[::1]:5000`). Case is kept as written.
    pub fn registry(&self) -> &str {
        &self.canonical.as_ref()[..self.registry_len as usize]
    }

    /// The repository path (`library/nginx`, `team/app`).
    pub fn repository(&self) -> &str {
        &self.canonical.as_ref()[self.registry_len as usize + 1..self.name_end as usize]
    }

    /// `registry/path`.
    pub fn name(&self) -> &str {
        &self.canonical.as_ref()[..self.name_end as usize]
    }

    /// The tag as written; `None` when none was written (even though the
    /// canonical form then shows `:latest`).
    pub fn tag(&self) -> Option<&str> {
        self.tag_written
            .then(|| &self.canonical.as_ref()[self.name_end as usize + 1..self.tag_end as usize])
    }

    /// The digest (`sha256:…`), if one was written.
    pub fn digest(&self) -> Option<&str> {
        let tag_end = self.tag_end as usize;
        (tag_end < self.canonical.as_ref().len()).then(|| &self.canonical.as_ref()[tag_end + 1..])
    }

    /// The digest if there is one, else the tag (`latest` when none was
    /// written).
    pub fn version(&self) -> Version<'_> {
        match self.digest() {
            Some(digest) => Version::Digest(digest),
            None => Version::Tag(&self.canonical.as_ref()[self.name_end as usize + 1..]),
        }
    }

    /// True when neither a tag nor a digest was written (`nginx`, not
    /// `nginx:latest`). The `Image` filter of `DescribeImageCaches` matches
    /// any version of the repository for such a reference.
    pub fn is_name_only(&self) -> bool {
        !self.tag_written && self.tag_end as usize == self.canonical.as_ref().len()
    }
}

impl<'a> Reference<&'a str> {
    /// The canonical form, for as long as the text it borrows.
    pub(crate) fn text(&self) -> &'a str {
        self.canonical
    }
}

impl FromStr for Reference {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl<S: AsRef<str>> fmt::Display for Reference<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical.as_ref())
    }
}

impl<S: AsRef<str>> fmt::Debug for Reference<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reference")
            .field("registry", &self.registry())
            .field("repository", &self.repository())
            .field("tag", &self.tag())
            .field("digest", &self.digest())
            .finish()
    }
}

impl<S: AsRef<str>, T: AsRef<str>> PartialEq<Reference<T>> for Reference<S> {
    fn eq(&self, other: &Reference<T>) -> bool {
        self.canonical.as_ref() == other.canonical.as_ref()
    }
}

impl<S: AsRef<str>> Eq for Reference<S> {}

impl<S: AsRef<str>> Hash for Reference<S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical.as_ref().hash(state);
    }
}

impl<S: AsRef<str>> PartialOrd for Reference<S> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<S: AsRef<str>> Ord for Reference<S> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.canonical.as_ref().cmp(other.canonical.as_ref())
    }
}

impl<S: AsRef<str>> AsRef<str> for Reference<S> {
    fn as_ref(&self) -> &str {
        self.canonical.as_ref()
    }
}

/// Serialised as its [normalised](Reference::normalized) string, so a
/// round trip keeps whether a tag was written.
impl<T: AsRef<str>> serde::Serialize for Reference<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.normalized())
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Reference;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a container image reference")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Reference, E> {
                Reference::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}
