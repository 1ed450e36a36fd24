//! Request signatures, as the official SDKs make them
//! (`shared/spec/api-shape.md` section 2), verified against known keys.
//!
//! * **V3, `ACS3-HMAC-SHA256`**: the `Authorization` header names the key,
//!   the signed headers and the signature. The canonical request is the
//!   method, the path, the decoded query parameters sorted by name and
//!   re-encoded per RFC 3986, one `name:value` line per signed header (the
//!   list is taken from the header, never assumed), the signed-header list
//!   and the hex SHA-256 of the body; the string to sign is
//!   `ACS3-HMAC-SHA256\n` + its hex SHA-256, signed with HMAC-SHA256 under
//!   the secret.
//! * **V2, HMAC-SHA1**: every query and form parameter but `Signature`
//!   (blank values kept), sorted by name, `pct(name)=pct(value)` joined with
//!   `&`; the string to sign is `METHOD&%2F&` + pct(that); the signature is
//!   the Base64 HMAC-SHA1 under `secret + "&"`.
//!
//! Values are decoded with form rules first (`+` is a space on the wire)
//! and re-encoded with `%20`, so what is signed is what was meant, however
//! the client spelled it. Signatures are compared in constant time.
//!
//! **What runs is what was signed.** [`verify`] returns a [`Verified`]: the
//! key id, the action and the parameters the signature covers, and the
//! server acts on nothing else.
//!
//! * V2: the signed `Action` parameter decides; an `x-acs-action` header
//!   that disagrees is `InvalidParameter` (400); a V2 request without an
//!   `Action` parameter is `MissingParameter`, whatever its headers say.
//!   `SignatureMethod` must be `HMAC-SHA1` and `SignatureVersion` `1.0`
//!   (`MissingParameter` / `InvalidParameter` otherwise), the only values
//!   the cloud's RPC common parameters allow ("SignatureMethod … HMAC-SHA1
//!   is supported currently", "SignatureVersion … The current version is
//!   1.0": Alibaba Cloud's *Common parameters* page, help/doc-detail/28138).
//!   `AccessKeyId`, `Signature`, `SignatureMethod`, `SignatureVersion`,
//!   `Timestamp`, `SignatureNonce` and `Action` may appear only once.
//! * V3: every `x-acs-*` header present must be in `SignedHeaders` (the
//!   V3 signing guide: "all common request headers except Authorization,
//!   if present, must be signed"), so `x-acs-action` is always signed; an
//!   `Action` parameter that disagrees with it is `InvalidParameter`. A
//!   signed header must be there once and be visible ASCII; a given
//!   `x-acs-content-sha256` must equal the body's hash.
//! * Bodies: [`body_params`] is the one media-type parser for both the
//!   server's parameter merging and verification: a non-empty body must be
//!   `application/x-www-form-urlencoded` (type and subtype in any case,
//!   parameters such as `; charset=utf-8` allowed), else `InvalidParameter`
//!   naming `Content-Type`. Form parameters are signed by V2 and covered by
//!   the body hash in V3.
//! * Freshness ([`Freshness`], on unless the server is told otherwise): V2
//!   `Timestamp` and V3 `x-acs-date` within ±15 minutes of the wall clock
//!   (`InvalidTimeStamp.Expired`, `InvalidTimeStamp.Format`), V2
//!   `SignatureNonce` and V3 `x-acs-signature-nonce` never seen in that
//!   window (`SignatureNonceUsed`); missing ones are `MissingParameter`.
//!
//! ```
//! use eci_imagecache_server::signature::{Keys, SignedRequest, verify};
//!
//! let keys = Keys::new([("AKIDEXAMPLE", "SECRETEXAMPLE")]);
//! let request = SignedRequest {
//!     method: "GET",
//!     path: "/",
//!     query: "Action=DescribeImageCaches&RegionId=cn-hangzhou&AccessKeyId=AKIDEXAMPLE&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&Signature=bad",
//!     headers: &[],
//!     body: b"",
//! };
//! let error = verify(&keys, &request).unwrap_err();
//! assert_eq!(error.code(), "SignatureDoesNotMatch");
//! ```

mod freshness;
mod params;
mod v2;
mod v3;

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::refusal::Refusal;

pub use freshness::{FRESHNESS_WINDOW_SECS, Freshness, MAX_NONCES};
pub use params::{FORM, body_params, media_type, request_params, resolve_action};

/// RFC 3986: only `A-Z a-z 0-9 - _ . ~` stay literal.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Access keys: id → secret. `Debug` shows ids only.
#[derive(Clone, Default)]
pub struct Keys {
    secrets: HashMap<String, String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.secrets.keys().collect();
        ids.sort();
        f.debug_struct("Keys")
            .field("ids", &ids)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Keys from (id, secret) pairs.
    pub fn new<I: Into<String>, S: Into<String>>(pairs: impl IntoIterator<Item = (I, S)>) -> Keys {
        Keys {
            secrets: pairs
                .into_iter()
                .map(|(i, s)| (i.into(), s.into()))
                .collect(),
        }
    }

    /// Whether there are none (signatures are then not checked).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    fn secret(&self, id: &str) -> Result<&str, Refusal> {
        self.secrets.get(id).map(String::as_str).ok_or_else(|| {
            Refusal::new(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            )
        })
    }
}

/// What a signature covers, as the server received it.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`.
    pub method: &'a str,
    /// The path (`/`).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    /// The headers (names in any case; a value that was not visible ASCII
    /// on the wire arrives here with non-ASCII characters).
    pub headers: &'a [(String, String)],
    /// The body as received (a form-encoded body's parameters count).
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

/// The signature scheme a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `ACS3-HMAC-SHA256` in the `Authorization` header.
    V3,
    /// HMAC-SHA1 in the `Signature` parameter.
    V2,
}

/// What a valid signature covers: the only inputs the server acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The access key that signed.
    pub key_id: String,
    /// V3 or V2.
    pub scheme: Scheme,
    /// The signed action (V3: the signed `x-acs-action` header, else the
    /// `Action` parameter; V2: the `Action` parameter).
    pub action: Option<String>,
    /// Every parameter (query and form body) the signature covers, in
    /// wire order (V2: all but `Signature`).
    pub params: Vec<(String, String)>,
    /// The signed time (V2 `Timestamp`, V3 `x-acs-date`).
    pub timestamp: Option<String>,
    /// The signed nonce (V2 `SignatureNonce`, V3 `x-acs-signature-nonce`).
    pub nonce: Option<String>,
}

/// Checks a request's signature (V3 when it has an `Authorization`
/// header, else V2): `Ok` with what it covers (see [`Verified`]).
/// Freshness is [`Freshness::check`]'s job.
///
/// # Errors
///
/// `SignatureDoesNotMatch` for a missing, malformed or wrong signature,
/// `InvalidAccessKeyId.NotFound` for an unknown key, `InvalidParameter` /
/// `MissingParameter` for a body of the wrong media type, a bad
/// `SignatureMethod`/`SignatureVersion`, or an action that disagrees with
/// the signed one.
pub fn verify(keys: &Keys, request: &SignedRequest<'_>) -> Result<Verified, Refusal> {
    let params = request_params(request.query, request.header("content-type"), request.body)?;
    if request.header_count("authorization") > 1 {
        return Err(mismatch("the Authorization header is given more than once"));
    }
    if let Some(authorization) = request.header("authorization") {
        return v3::verify(keys, request, authorization, params);
    }
    v2::verify(keys, request, params)
}

fn mismatch(why: &str) -> Refusal {
    Refusal::new(
        400,
        "SignatureDoesNotMatch",
        format!("Specified signature is not matched with our calculation: {why}."),
    )
}

fn pct(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality in time independent of where the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
