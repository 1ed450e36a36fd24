//! A single left-to-right pass over the input that validates it and builds
//! the canonical string in one allocation.
//!
//! The accepted language and the normalisation are those of Docker's
//! `distribution/reference` v0.6.0 `ParseNormalizedNamed` (see
//! `shared/spec/references.md`); the regular expressions of that package are
//! unrolled into byte loops here, so parsing costs one pass and one
//! allocation.

use super::Reference;
use super::error::{ErrorKind, ParseError};

pub(super) const DOCKER_HUB: &str = "docker.io";
const LEGACY_DOCKER_HUB: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
pub(super) const DEFAULT_TAG_SUFFIX: &str = ":latest";
const PATH_MAX: usize = 255;
const TAG_MAX: usize = 128;

pub(super) fn parse(input: &str) -> Result<Reference, ParseError> {
    let s = input.as_bytes();
    if s.is_empty() {
        return Err(ParseError::new(ErrorKind::Empty, 0));
    }
    if let Some(i) = s.iter().position(|b| !b.is_ascii()) {
        let c = input[i..].chars().next().unwrap_or('\u{fffd}');
        return Err(ParseError::found(ErrorKind::NonAscii, i, c));
    }
    if s.len() == 64 && s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ParseError::new(ErrorKind::HexIdentifier, 0));
    }

    // Registry: the first component, when it looks like a host.
    let (registry, path_start) = match s.iter().position(|&b| b == b'/') {
        Some(slash) if looks_like_registry(&s[..slash]) => {
            validate_registry(s, slash)?;
            let written = &input[..slash];
            let registry = if written == LEGACY_DOCKER_HUB {
                DOCKER_HUB
            } else {
                written
            };
            (registry, slash + 1)
        }
        _ => (DOCKER_HUB, 0),
    };

    let path_end = scan_path(s, path_start)?;
    let components_one = !s[path_start..path_end].contains(&b'/');
    let library = registry == DOCKER_HUB && components_one;
    let path_len = path_end - path_start + if library { OFFICIAL_PREFIX.len() } else { 0 };
    if path_len > PATH_MAX {
        return Err(ParseError::new(ErrorKind::PathTooLong, path_start));
    }

    let mut at = path_end;
    let tag = if s.get(at) == Some(&b':') {
        let end = scan_tag(s, at + 1)?;
        let tag = at + 1..end;
        at = end;
        Some(tag)
    } else {
        None
    };
    let digest = if s.get(at) == Some(&b'@') {
        scan_digest(s, at + 1)?;
        Some(at + 1..s.len())
    } else {
        None
    };
    debug_assert!(digest.is_some() || at == s.len());

    // Build the canonical string: registry/[library/]path[:tag][@digest],
    // with ":latest" when neither tag nor digest was written.
    let implicit_tag = tag.is_none() && digest.is_none();
    let capacity = registry.len()
        + 1
        + path_len
        + tag.as_ref().map_or(0, |t| t.len() + 1)
        + digest.as_ref().map_or(0, |d| d.len() + 1)
        + if implicit_tag {
            DEFAULT_TAG_SUFFIX.len()
        } else {
            0
        };
    let too_long = || ParseError::new(ErrorKind::TooLong, 0);
    if u32::try_from(capacity).is_err() {
        return Err(too_long());
    }
    let mut canonical = String::with_capacity(capacity);
    canonical.push_str(registry);
    canonical.push('/');
    if library {
        canonical.push_str(OFFICIAL_PREFIX);
    }
    canonical.push_str(&input[path_start..path_end]);
    let name_end = canonical.len();
    match &tag {
        Some(t) => {
            canonical.push(':');
            canonical.push_str(&input[t.clone()]);
        }
        None if implicit_tag => canonical.push_str(DEFAULT_TAG_SUFFIX),
        None => {}
    }
    let tag_end = canonical.len();
    if let Some(d) = &digest {
        canonical.push('@');
        canonical.push_str(&input[d.clone()]);
    }
    debug_assert_eq!(canonical.len(), capacity);

    // Every offset is below `capacity`, which fits in u32 (checked above).
    Ok(Reference {
        registry_len: registry.len() as u32,
        name_end: name_end as u32,
        tag_end: tag_end as u32,
        tag_written: tag.is_some(),
        canonical: canonical.into_boxed_str(),
    })
}

/// Docker's rule for telling a registry from a first path component:
/// `localhost`, anything with `.` or `:`, or anything with an upper-case
/// letter.
fn looks_like_registry(first: &[u8]) -> bool {
    first == b"localhost"
        || first
            .iter()
            .any(|&b| b == b'.' || b == b':' || b.is_ascii_uppercase())
}

/// `host[:port]` where host is DNS-like components or `[ipv6 hex and colons]`.
fn validate_registry(s: &[u8], end: usize) -> Result<(), ParseError> {
    let host_err = |at: usize| match s.get(at) {
        Some(&b) if at < end => ParseError::found(ErrorKind::InvalidRegistryHost, at, b as char),
        _ => ParseError::new(ErrorKind::InvalidRegistryHost, at),
    };
    let mut i = 0;
    if s[0] == b'[' {
        i = 1;
        while i < end && (s[i].is_ascii_hexdigit() || s[i] == b':') {
            i += 1;
        }
        if i == 1 || i >= end || s[i] != b']' {
            return Err(host_err(i));
        }
        i += 1;
    } else {
        loop {
            // One DNS-like component: alphanumerics with inner dashes.
            let start = i;
            while i < end && (s[i].is_ascii_alphanumeric() || s[i] == b'-') {
                i += 1;
            }
            if i == start {
                return Err(host_err(i));
            }
            if s[start] == b'-' {
                return Err(host_err(start));
            }
            if s[i - 1] == b'-' {
                return Err(host_err(i - 1));
            }
            if i < end && s[i] == b'.' {
                i += 1;
                continue;
            }
            break;
        }
    }
    if i == end {
        return Ok(());
    }
    if s[i] != b':' {
        return Err(host_err(i));
    }
    let port = i + 1;
    if port == end {
        return Err(ParseError::new(ErrorKind::InvalidRegistryPort, port));
    }
    match (port..end).find(|&j| !s[j].is_ascii_digit()) {
        Some(j) => Err(ParseError::found(
            ErrorKind::InvalidRegistryPort,
            j,
            s[j] as char,
        )),
        None => Ok(()),
    }
}

/// Path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`.
/// Returns where the path ends (at `:`, `@` or the end of input).
fn scan_path(s: &[u8], start: usize) -> Result<usize, ParseError> {
    let mut i = start;
    loop {
        // Component start: must be an alphanumeric.
        match s.get(i) {
            Some(b'a'..=b'z' | b'0'..=b'9') => {}
            None | Some(b'/' | b':' | b'@') => {
                return Err(ParseError::new(ErrorKind::EmptyPathComponent, i));
            }
            Some(&b) => return Err(path_char_error(b, i)),
        }
        loop {
            while matches!(s.get(i), Some(b'a'..=b'z' | b'0'..=b'9')) {
                i += 1;
            }
            let separator_start = i;
            match s.get(i) {
                Some(b'.') => i += 1,
                Some(b'_') => {
                    i += 1;
                    if s.get(i) == Some(&b'_') {
                        i += 1;
                    }
                }
                Some(b'-') => {
                    while s.get(i) == Some(&b'-') {
                        i += 1;
                    }
                }
                None | Some(b'/' | b':' | b'@') => break,
                Some(&b) => return Err(path_char_error(b, i)),
            }
            match s.get(i) {
                Some(b'a'..=b'z' | b'0'..=b'9') => {}
                Some(&b) if b.is_ascii_uppercase() => return Err(path_char_error(b, i)),
                Some(b'.' | b'_' | b'-') => {
                    return Err(ParseError::found(
                        ErrorKind::MisplacedSeparator,
                        i,
                        s[i] as char,
                    ));
                }
                _ => {
                    return Err(ParseError::found(
                        ErrorKind::MisplacedSeparator,
                        separator_start,
                        s[separator_start] as char,
                    ));
                }
            }
        }
        if s.get(i) == Some(&b'/') {
            i += 1;
            continue;
        }
        return Ok(i);
    }
}

fn path_char_error(b: u8, at: usize) -> ParseError {
    let kind = if b.is_ascii_uppercase() {
        ErrorKind::UppercaseInPath
    } else if matches!(b, b'.' | b'_' | b'-') {
        ErrorKind::MisplacedSeparator
    } else {
        ErrorKind::InvalidPathCharacter
    };
    ParseError::found(kind, at, b as char)
}

/// A tag `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; returns where it ends (`@` or
/// the end of input).
fn scan_tag(s: &[u8], start: usize) -> Result<usize, ParseError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match s.get(start) {
        None | Some(b'@') => return Err(ParseError::new(ErrorKind::EmptyTag, start)),
        Some(&b) if !word(b) => {
            return Err(ParseError::found(
                ErrorKind::InvalidTagCharacter,
                start,
                b as char,
            ));
        }
        Some(_) => {}
    }
    let mut i = start + 1;
    while let Some(&b) = s.get(i) {
        if b == b'@' {
            break;
        }
        if !(word(b) || b == b'.' || b == b'-') {
            return Err(ParseError::found(
                ErrorKind::InvalidTagCharacter,
                i,
                b as char,
            ));
        }
        i += 1;
    }
    if i - start > TAG_MAX {
        return Err(ParseError::new(ErrorKind::TagTooLong, start + TAG_MAX));
    }
    Ok(i)
}

/// A digest `sha256:<64 hex>`, `sha384:<96 hex>` or `sha512:<128 hex>`,
/// lower-case hex, running to the end of input.
fn scan_digest(s: &[u8], start: usize) -> Result<(), ParseError> {
    let rest = &s[start..];
    let Some(colon) = rest.iter().position(|&b| b == b':') else {
        return Err(ParseError::new(ErrorKind::MissingDigestSeparator, s.len()));
    };
    let hex_len = match &rest[..colon] {
        b"sha256" => 64,
        b"sha384" => 96,
        b"sha512" => 128,
        _ => {
            return Err(ParseError::new(
                ErrorKind::UnsupportedDigestAlgorithm,
                start,
            ));
        }
    };
    let hex_start = start + colon + 1;
    if let Some(j) = (hex_start..s.len()).find(|&j| !matches!(s[j], b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ParseError::found(
            ErrorKind::InvalidDigestCharacter,
            j,
            s[j] as char,
        ));
    }
    if s.len() - hex_start != hex_len {
        return Err(ParseError::new(ErrorKind::InvalidDigestLength, hex_start));
    }
    Ok(())
}
