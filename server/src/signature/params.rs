//! A request's parameters: the query's, then a form body's (the one
//! media-type parser the server's merging and verification share), and
//! its action.

use crate::refusal::Refusal;

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
/// form-encoded body's pairs. The server's merging and [`verify`](super::verify) both use
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
pub(super) fn single<'p>(
    params: &'p [(String, String)],
    name: &str,
) -> Result<Option<&'p str>, Refusal> {
    let mut found = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    let first = found.next();
    if found.next().is_some() {
        return Err(Refusal::invalid(name, "given more than once"));
    }
    Ok(first.map(String::as_str))
}
