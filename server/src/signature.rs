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
//! ```
//! use eci_imagecache_server::signature::{Keys, SignedRequest, verify};
//!
//! let keys = Keys::new([("AKIDEXAMPLE", "SECRETEXAMPLE")]);
//! let request = SignedRequest {
//!     method: "GET",
//!     path: "/",
//!     query: "Action=DescribeImageCaches&RegionId=cn-hangzhou&AccessKeyId=AKIDEXAMPLE&Signature=bad",
//!     headers: &[],
//!     body: b"",
//! };
//! let error = verify(&keys, &request).unwrap_err();
//! assert_eq!(error.code().as_str(), "SignatureDoesNotMatch");
//! ```

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use eci_imagecache::{ApiError, ErrorCode};
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

    fn secret(&self, id: &str) -> Result<&str, ApiError> {
        self.secrets.get(id).map(String::as_str).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidAccessKeyIdNotFound,
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
    /// The headers (names in any case).
    pub headers: &'a [(String, String)],
    /// The body as received (a form-encoded body's parameters count for V2).
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is_form(&self) -> bool {
        self.header("content-type").is_some_and(|t| {
            t.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
    }
}

/// Checks a request's signature: `Ok` with the access key id that signed
/// it, `SignatureDoesNotMatch` for a missing, malformed or wrong signature,
/// `InvalidAccessKeyId.NotFound` for an unknown key.
pub fn verify(keys: &Keys, request: &SignedRequest<'_>) -> Result<String, ApiError> {
    if let Some(authorization) = request.header("authorization") {
        return verify_v3(keys, request, authorization);
    }
    let mut params: Vec<(String, String)> = form_urlencoded::parse(request.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if request.is_form() {
        params.extend(
            form_urlencoded::parse(request.body).map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    verify_v2(keys, request.method, params)
}

fn mismatch(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SignatureDoesNotMatch,
        format!("Specified signature is not matched with our calculation: {why}."),
    )
}

fn verify_v3(
    keys: &Keys,
    request: &SignedRequest<'_>,
    authorization: &str,
) -> Result<String, ApiError> {
    let fields = authorization
        .strip_prefix(V3)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| mismatch("the Authorization header is not ACS3-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for field in fields.split(',') {
        match field.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(mismatch("the Authorization header is malformed")),
        }
    }
    let (Some(id), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(mismatch("the Authorization header is incomplete"));
    };
    let secret = keys.secret(id)?;

    let mut params: Vec<(String, String)> = form_urlencoded::parse(request.query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    let query = params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for name in signed.split(';') {
        let value = request
            .header(name)
            .ok_or_else(|| mismatch("a signed header is missing"))?;
        headers.push_str(&name.to_ascii_lowercase());
        headers.push(':');
        headers.push_str(value.trim());
        headers.push('\n');
    }
    let payload = hex(&Sha256::digest(request.body));
    let canonical = format!(
        "{}\n{}\n{query}\n{headers}\n{signed}\n{payload}",
        request.method, request.path
    );
    let to_sign = format!("{V3}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let mut mac = <Hmac<Sha256>>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(to_sign.as_bytes());
    let expected = hex(&mac.finalize().into_bytes());
    if constant_time_eq(
        expected.as_bytes(),
        signature.to_ascii_lowercase().as_bytes(),
    ) {
        Ok(id.to_owned())
    } else {
        Err(mismatch("ACS3-HMAC-SHA256"))
    }
}

fn verify_v2(
    keys: &Keys,
    method: &str,
    mut params: Vec<(String, String)>,
) -> Result<String, ApiError> {
    let signature = params
        .iter()
        .position(|(k, _)| k == "Signature")
        .map(|i| params.remove(i).1)
        .ok_or_else(|| mismatch("the request carries no signature"))?;
    let id = params
        .iter()
        .find(|(k, _)| k == "AccessKeyId")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| mismatch("the request carries no AccessKeyId"))?;
    let secret = keys.secret(&id)?;
    params.sort();
    let joined = params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&");
    let to_sign = format!("{method}&{}&{}", pct("/"), pct(&joined));
    let mut mac = <Hmac<sha1::Sha1>>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("any key length");
    mac.update(to_sign.as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    if constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
        Ok(id)
    } else {
        Err(mismatch("HMAC-SHA1"))
    }
}

fn pct(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
