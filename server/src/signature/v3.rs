//! V3, `ACS3-HMAC-SHA256`: the `Authorization` header's key, signed
//! headers and signature, checked against the canonical request.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::params::resolve_action;
use super::{Keys, Scheme, SignedRequest, Verified, constant_time_eq, hex, mismatch, pct};
use crate::refusal::Refusal;

pub(super) const V3: &str = "ACS3-HMAC-SHA256";

fn visible_ascii(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

pub(super) fn verify(
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
