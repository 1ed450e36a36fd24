//! Why an image reference was rejected, and where.

use std::fmt;

/// An image reference that could not be parsed.
///
/// Every error names what is wrong ([`ErrorKind`]) and the byte offset in the
/// input where the parser noticed it, in the manner of `semver`'s errors.
///
/// ```
/// use eci_imagecache::reference::{ErrorKind, Reference};
///
/// let err = "docker.io/library/Nginx".parse::<Reference>().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::UppercaseInPath);
/// assert_eq!(err.offset(), 18);
/// assert_eq!(
///     err.to_string(),
///     "repository path must be lower case: found 'N' at byte 18"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ErrorKind,
    offset: usize,
    found: Option<char>,
}

/// What is wrong with a rejected image reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is empty.
    Empty,
    /// A character outside ASCII; references are ASCII only.
    NonAscii,
    /// The input is exactly 64 lower-case hex characters: an image id, not a
    /// reference.
    HexIdentifier,
    /// The registry host is not a DNS-like name or a bracketed IPv6 literal.
    InvalidRegistryHost,
    /// The registry port is not a run of decimal digits.
    InvalidRegistryPort,
    /// A repository path component is empty (`a//b`, `a/`, `:tag`).
    EmptyPathComponent,
    /// An upper-case letter in the repository path.
    UppercaseInPath,
    /// A character that cannot appear in a repository path.
    InvalidPathCharacter,
    /// A separator (`.`, `_`, `__`, `-`…) at the start or end of a path
    /// component, or two separators in a row.
    MisplacedSeparator,
    /// The normalised repository path is longer than 255 characters.
    PathTooLong,
    /// The tag after `:` is empty.
    EmptyTag,
    /// A character that cannot appear in a tag (or cannot start one).
    InvalidTagCharacter,
    /// The tag is longer than 128 characters.
    TagTooLong,
    /// The digest algorithm is not `sha256`, `sha384` or `sha512`.
    UnsupportedDigestAlgorithm,
    /// The digest has no `:` between algorithm and hex.
    MissingDigestSeparator,
    /// A character in the digest hex that is not `0-9a-f`.
    InvalidDigestCharacter,
    /// The digest hex has the wrong length for its algorithm.
    InvalidDigestLength,
    /// The reference is too long to store (over 4 GiB).
    TooLong,
}

impl ParseError {
    pub(crate) const fn new(kind: ErrorKind, offset: usize) -> Self {
        ParseError {
            kind,
            offset,
            found: None,
        }
    }

    pub(crate) const fn found(kind: ErrorKind, offset: usize, found: char) -> Self {
        ParseError {
            kind,
            offset,
            found: Some(found),
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The byte offset in the input where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl ErrorKind {
    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Empty => "image reference is empty",
            ErrorKind::NonAscii => "image reference must be ASCII",
            ErrorKind::HexIdentifier => {
                "a 64-character hexadecimal string is an image id, not a reference"
            }
            ErrorKind::InvalidRegistryHost => "invalid registry host",
            ErrorKind::InvalidRegistryPort => "registry port must be decimal digits",
            ErrorKind::EmptyPathComponent => "repository path component is empty",
            ErrorKind::UppercaseInPath => "repository path must be lower case",
            ErrorKind::InvalidPathCharacter => "invalid character in repository path",
            ErrorKind::MisplacedSeparator => {
                "separator must stand between letters or digits in repository path"
            }
            ErrorKind::PathTooLong => "repository path is longer than 255 characters",
            ErrorKind::EmptyTag => "tag is empty",
            ErrorKind::InvalidTagCharacter => "invalid character in tag",
            ErrorKind::TagTooLong => "tag is longer than 128 characters",
            ErrorKind::UnsupportedDigestAlgorithm => {
                "digest algorithm must be sha256, sha384 or sha512"
            }
            ErrorKind::MissingDigestSeparator => "digest must be algorithm:hex",
            ErrorKind::InvalidDigestCharacter => "digest must be lower-case hex",
            ErrorKind::InvalidDigestLength => "digest has the wrong length for its algorithm",
            ErrorKind::TooLong => "image reference is too long",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.found {
            Some(c) => write!(f, "{}: found {:?} at byte {}", self.kind, c, self.offset),
            None => write!(f, "{} (at byte {})", self.kind, self.offset),
        }
    }
}

impl std::error::Error for ParseError {}
