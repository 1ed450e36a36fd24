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

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::refusal::Refusal;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// RFC 3986: only `A-Z a-z 0-9 - _ . ~` stay literal.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

const V3: &str = "ACS3-HMAC-SHA256";

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

/// A `Content-Type` value, parsed: `type/subtype` lower-cased; `None` when
/// malformed (no `/`, characters outside RFC 9110 tokens, a parameter
/// without `name=value`).
pub fn media_type(value: &str) -> Option<String> {
    fn token(s: &str) -> bool {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    }
    let mut parts = value.split(';');
    let essence = parts.next()?.trim();
    let (kind, sub) = essence.split_once('/')?;
    if !token(kind) || !token(sub) {
        return None;
    }
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        let (name, v) = p.split_once('=')?;
        let quoted = v.len() >= 2 && v.starts_with('"') && v.ends_with('"');
        if !token(name.trim_end()) || !(token(v.trim_start()) || quoted) {
            return None;
        }
    }
    Some(essence.to_ascii_lowercase())
}

/// The form media type, the only one a request body may have.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// The parameters of a request body: none for an empty body; a
/// form-encoded body's pairs. The server's merging and [`verify`] both use
/// it.
///
/// # Errors
///
/// `InvalidParameter` (400) naming `Content-Type` for a non-empty body of
/// another, a missing or a malformed media type.
pub fn body_params(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, Refusal> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let Some(value) = content_type else {
        return Err(Refusal::invalid(
            "Content-Type",
            format_args!("a request body needs Content-Type {FORM}"),
        ));
    };
    match media_type(value) {
        Some(m) if m == FORM => Ok(form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()),
        Some(m) => Err(Refusal::invalid(
            "Content-Type",
            format_args!("request bodies must be {FORM}, not {m}"),
        )),
        None => Err(Refusal::invalid(
            "Content-Type",
            "the media type is malformed",
        )),
    }
}

/// Query and body parameters, in that order.
///
/// # Errors
///
/// Those of [`body_params`].
pub fn request_params(
    query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, Refusal> {
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.extend(body_params(content_type, body)?);
    Ok(params)
}

/// The action of a request: the `x-acs-action` header or the `Action`
/// parameter.
///
/// # Errors
///
/// `InvalidParameter` when both are given and disagree, or the parameter
/// is given twice.
pub fn resolve_action(
    header: Option<&str>,
    params: &[(String, String)],
) -> Result<Option<String>, Refusal> {
    let param = single(params, "Action")?;
    match (header, param) {
        (Some(h), Some(p)) if h != p => Err(Refusal::invalid(
            "x-acs-action",
            format_args!("the header names {h:?} but the Action parameter names {p:?}"),
        )),
        (Some(h), _) => Ok(Some(h.to_owned())),
        (None, p) => Ok(p.map(str::to_owned)),
    }
}

/// The one value of a parameter that may appear at most once.
fn single<'p>(params: &'p [(String, String)], name: &str) -> Result<Option<&'p str>, Refusal> {
    let mut found = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let first = found.next();
    if found.next().is_some() {
        return Err(Refusal::invalid(name, "given more than once"));
    }
    Ok(first.map(String::as_str))
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
        return verify_v3(keys, request, authorization, params);
    }
    verify_v2(keys, request, params)
}

fn mismatch(why: &str) -> Refusal {
    Refusal::new(
        400,
        "SignatureDoesNotMatch",
        format!("Specified signature is not matched with our calculation: {why}."),
    )
}

fn visible_ascii(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

fn verify_v3(
    keys: &Keys,
    request: &SignedRequest<'_>,
    authorization: &str,
    params: Vec<(String, String)>,
) -> Result<Verified, Refusal> {
    let V3Fields {
        credential: id,
        signed,
        signature,
    } = V3Fields::parse(authorization)?;
    let secret = keys.secret(id)?;
    let names = signed_header_names(signed)?;
    // Every x-acs-* header present must be signed, so none can steer the call.
    for (name, _) in request.headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-acs-") && !names.contains(&lower.as_str()) {
            return Err(mismatch(&format!("the header {lower} is not signed")));
        }
    }
    let query = canonical_query(request.query);
    let headers = canonical_headers(request, &names)?;
    let payload = hex(&Sha256::digest(request.body));
    if let Some(claimed) = request.header("x-acs-content-sha256")
        && !claimed.trim().eq_ignore_ascii_case(&payload)
    {
        return Err(mismatch("x-acs-content-sha256 is not the body's SHA-256"));
    }
    let canonical = format!(
        "{}\n{}\n{query}\n{headers}\n{signed}\n{payload}",
        request.method, request.path
    );
    let to_sign = format!("{V3}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(to_sign.as_bytes());
    let expected = hex(&mac.finalize().into_bytes());
    if !constant_time_eq(
        expected.as_bytes(),
        signature.to_ascii_lowercase().as_bytes(),
    ) {
        return Err(mismatch("ACS3-HMAC-SHA256"));
    }
    // Signed now: the header (signed, as every x-acs-* header is) and the
    // query or body Action (covered by the canonical query or the body hash).
    let action = resolve_action(request.header("x-acs-action"), &params)?;
    Ok(Verified {
        key_id: id.to_owned(),
        scheme: Scheme::V3,
        action,
        timestamp: request.header("x-acs-date").map(str::to_owned),
        nonce: request.header("x-acs-signature-nonce").map(str::to_owned),
        params,
    })
}

/// The three fields of an `ACS3-HMAC-SHA256` Authorization header, each
/// given once.
struct V3Fields<'a> {
    credential: &'a str,
    signed: &'a str,
    signature: &'a str,
}

impl<'a> V3Fields<'a> {
    fn parse(authorization: &'a str) -> Result<Self, Refusal> {
        let fields = authorization
            .strip_prefix(V3)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| mismatch("the Authorization header is not ACS3-HMAC-SHA256"))?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for field in fields.split(',') {
            let slot = match field.trim().split_once('=') {
                Some(("Credential", v)) => (&mut credential, v),
                Some(("SignedHeaders", v)) => (&mut signed, v),
                Some(("Signature", v)) => (&mut signature, v),
                _ => return Err(mismatch("the Authorization header is malformed")),
            };
            if slot.0.replace(slot.1).is_some() {
                return Err(mismatch("the Authorization header repeats a field"));
            }
        }
        let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature)
        else {
            return Err(mismatch("the Authorization header is incomplete"));
        };
        Ok(V3Fields {
            credential,
            signed,
            signature,
        })
    }
}

/// The names of `SignedHeaders`: lower case, separated by `;`.
fn signed_header_names(signed: &str) -> Result<Vec<&str>, Refusal> {
    let names: Vec<&str> = signed.split(';').collect();
    if names.iter().any(|n| {
        n.is_empty()
            || !n
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    }) {
        return Err(mismatch(
            "SignedHeaders must list lower-case header names separated by ';'",
        ));
    }
    Ok(names)
}

/// The query as V3 signs it: decoded, sorted, each part percent-encoded.
fn canonical_query(query: &str) -> String {
    let mut query_params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    query_params.sort();
    query_params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The signed headers as V3 signs them (`name:value` lines, in the order
/// named), each present once with a visible-ASCII value.
fn canonical_headers(request: &SignedRequest<'_>, names: &[&str]) -> Result<String, Refusal> {
    let mut headers = String::new();
    for name in names {
        let value = request
            .header(name)
            .ok_or_else(|| mismatch("a signed header is missing"))?;
        if request.header_count(name) > 1 {
            return Err(mismatch(&format!(
                "the signed header {name} is given more than once"
            )));
        }
        if !visible_ascii(value) {
            return Err(mismatch(&format!(
                "the signed header {name} has a value that is not visible ASCII, which is not allowed"
            )));
        }
        headers.push_str(name);
        headers.push(':');
        headers.push_str(value.trim());
        headers.push('\n');
    }
    Ok(headers)
}

fn verify_v2(
    keys: &Keys,
    request: &SignedRequest<'_>,
    mut params: Vec<(String, String)>,
) -> Result<Verified, Refusal> {
    let signature = match params.iter().filter(|(k, _)| k == "Signature").count() {
        0 => return Err(mismatch("the request carries no signature")),
        1 => {
            let at = params
                .iter()
                .position(|(k, _)| k == "Signature")
                .expect("counted");
            params.remove(at).1
        }
        _ => return Err(mismatch("the Signature parameter is given more than once")),
    };
    let id = single(&params, "AccessKeyId")?
        .ok_or_else(|| mismatch("the request carries no AccessKeyId"))?
        .to_owned();
    let secret = keys.secret(&id)?;
    match single(&params, "SignatureMethod")? {
        Some("HMAC-SHA1") => {}
        Some(_) => {
            return Err(Refusal::invalid(
                "SignatureMethod",
                "HMAC-SHA1 is the only signature method",
            ));
        }
        None => return Err(Refusal::missing("SignatureMethod")),
    }
    match single(&params, "SignatureVersion")? {
        Some("1.0") => {}
        Some(_) => {
            return Err(Refusal::invalid(
                "SignatureVersion",
                "1.0 is the only signature version",
            ));
        }
        None => return Err(Refusal::missing("SignatureVersion")),
    }
    let timestamp = single(&params, "Timestamp")?.map(str::to_owned);
    let nonce = single(&params, "SignatureNonce")?.map(str::to_owned);
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let joined = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&");
    let to_sign = format!("{}&{}&{}", request.method, pct("/"), pct(&joined));
    let mut mac = <Hmac<sha1::Sha1>>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("any key length");
    mac.update(to_sign.as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        return Err(mismatch("HMAC-SHA1"));
    }
    // The header is not signed: it may only agree with the signed Action.
    let action = single(&params, "Action")?.map(str::to_owned);
    if let (Some(header), Some(signed)) = (request.header("x-acs-action"), &action)
        && header != signed
    {
        return Err(Refusal::invalid(
            "x-acs-action",
            format_args!(
                "the header names {header:?} but the signed Action parameter names {signed:?}"
            ),
        ));
    }
    Ok(Verified {
        key_id: id,
        scheme: Scheme::V2,
        action,
        params,
        timestamp,
        nonce,
    })
}

/// How far a signed time may be from the wall clock, either way.
pub const FRESHNESS_WINDOW_SECS: i64 = 15 * 60;
/// How many nonces [`Freshness`] remembers at most by default.
pub const MAX_NONCES: usize = 1_000_000;

/// Timestamps within ±15 minutes of the wall clock and nonces used once in
/// that window. Memory is bounded: a nonce is forgotten when its request's
/// time leaves the window (a replay then fails on its time), and at most
/// `cap` are kept: past that, new requests get `ServiceUnavailable` (503)
/// until old nonces expire, rather than the set growing.
#[derive(Debug)]
pub struct Freshness {
    cap: usize,
    seen: Mutex<Nonces>,
}

#[derive(Debug, Default)]
struct Nonces {
    expiry: HashMap<[u8; 16], i64>,
    by_expiry: BTreeSet<(i64, [u8; 16])>,
}

impl Default for Freshness {
    fn default() -> Freshness {
        Freshness::with_cap(MAX_NONCES)
    }
}

impl Freshness {
    /// Remembering at most `cap` nonces.
    pub fn with_cap(cap: usize) -> Freshness {
        Freshness {
            cap,
            seen: Mutex::new(Nonces::default()),
        }
    }

    /// How many nonces are remembered now.
    pub fn remembered(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expiry
            .len()
    }

    /// Checks (and, when fresh, remembers) a verified request's time and
    /// nonce against `now`, the wall clock.
    ///
    /// # Errors
    ///
    /// `MissingParameter` without a time or a nonce, `InvalidParameter`
    /// for a nonce over 256 characters, `InvalidTimeStamp.Format` or
    /// `InvalidTimeStamp.Expired` for a time that does not parse or is
    /// more than [`FRESHNESS_WINDOW_SECS`] from `now`, and
    /// `SignatureNonceUsed` for a nonce this key used within the window.
    pub fn check(&self, verified: &Verified, now: jiff::Timestamp) -> Result<(), Refusal> {
        let (time_name, nonce_name) = match verified.scheme {
            Scheme::V2 => ("Timestamp", "SignatureNonce"),
            Scheme::V3 => ("x-acs-date", "x-acs-signature-nonce"),
        };
        let time = verified
            .timestamp
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Refusal::missing(time_name))?;
        let nonce = verified
            .nonce
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Refusal::missing(nonce_name))?;
        if nonce.len() > 256 {
            return Err(Refusal::invalid(nonce_name, "longer than 256 characters"));
        }
        let at = time.parse::<jiff::Timestamp>().map_err(|_| {
            Refusal::new(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            )
        })?;
        let (at, now) = (at.as_second(), now.as_second());
        if (now - at).abs() > FRESHNESS_WINDOW_SECS {
            return Err(Refusal::new(
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            ));
        }
        let mut h = Sha256::new();
        h.update(verified.key_id.as_bytes());
        h.update([0]);
        h.update(nonce.as_bytes());
        let key: [u8; 16] = h.finalize()[..16].try_into().expect("16 bytes");
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(expiry, old)) = seen.by_expiry.first() {
            if expiry >= now {
                break;
            }
            seen.by_expiry.pop_first();
            seen.expiry.remove(&old);
        }
        if seen.expiry.contains_key(&key) {
            return Err(Refusal::new(
                400,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        if seen.expiry.len() >= self.cap {
            return Err(Refusal::new(
                503,
                "ServiceUnavailable",
                format!(
                    "More than {} signature nonces within {} minutes; retry later.",
                    self.cap,
                    FRESHNESS_WINDOW_SECS / 60
                ),
            ));
        }
        let expiry = at + FRESHNESS_WINDOW_SECS;
        seen.expiry.insert(key, expiry);
        seen.by_expiry.insert((expiry, key));
        Ok(())
    }
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
