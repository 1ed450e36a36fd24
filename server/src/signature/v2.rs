//! V2, HMAC-SHA1: the signed query and form parameters, checked against
//! `Signature`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use super::params::single;
use super::{Keys, Scheme, SignedRequest, Verified, constant_time_eq, mismatch, pct};
use crate::refusal::Refusal;

pub(super) fn verify(
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
