//! The layers a request passes before its handler: who may call and what
//! it may send.
//!
//! * **Who may call** ([`Access`]): without keys, every route answers only
//!   requests whose `Host` is the listen address ([`host_allowed`]: no DNS
//!   names, so no DNS rebinding); a foreign host gets 403 `Forbidden.Host`.
//!   A request a browser sends from another site (`Origin` not this host,
//!   `Sec-Fetch-Site` cross-site or same-site) is 403 `Forbidden.CrossSite`,
//!   keys or not: a page elsewhere cannot drive the API by a form post or an
//!   image's GET to the loopback address. Control requests need
//!   `x-eci-emulator-token` when a control token is set (always, with keys:
//!   403 `Forbidden.ControlToken`; never `/_emulator/health`, which probes
//!   call; the dashboard also as `?token=`), change state only by `POST`
//!   with `Content-Type: application/json` (`application/octet-stream` for
//!   a state; 405 / 415 otherwise).
//! * **Bounded.** Bodies: 256 KiB on `/`, 64 KiB on `/_emulator/*`,
//!   `--max-state-bytes` for a state, of which one is read at a time (409
//!   for another) and only with its media type (415 before a byte is
//!   read); over the limit 413 `RequestBodyTooLarge`, read within a
//!   deadline (408 `RequestTimeout`); a broken body (bad chunking) is 400
//!   `InvalidParameter`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::App;
use crate::dashboard::DASHBOARD_PATH;
use crate::health::HEALTH_PATH;
use crate::router::error_response;
use crate::signature::media_type;
use crate::transfer::{STATE_MEDIA_TYPE, STATE_PATH};

/// API request bodies above this are refused (413).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Control request bodies above this are refused (413).
pub const MAX_CONTROL_BODY_BYTES: usize = 64 * 1024;

/// Who may call, and the per-request deadlines: what [`router`](crate::router::router) enforces
/// beyond the signatures.
#[derive(Clone, Debug)]
pub struct Access {
    /// The address the server listens on, for the `Host` check.
    pub listen: SocketAddr,
    /// Whether access keys are configured (then the API needs signatures
    /// and the `Host` check is off).
    pub keys_configured: bool,
    /// The control token (`x-eci-emulator-token`); required on
    /// `/_emulator/*` when set.
    pub control_token: Option<String>,
    /// How long reading a request body may take (408 after).
    pub body_read_timeout: Duration,
    /// How long a request may take in all (503 after).
    pub request_timeout: Duration,
    /// The largest body `POST /_emulator/state` takes (413 above).
    pub max_state_bytes: usize,
}

/// The header carrying the control token.
pub const CONTROL_TOKEN_HEADER: &str = "x-eci-emulator-token";

/// Whether a `Host` header names the listen address: the same IP literal
/// and port, `localhost:PORT` when listening on loopback, and when
/// listening on an unspecified address (`0.0.0.0`, `::`: a container) any
/// IP literal or `localhost`, with any port (a published port, `-p
/// 18080:8080`, names its own). DNS names never (DNS rebinding); a missing
/// port means 80.
pub fn host_allowed(host: &str, listen: SocketAddr) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        match after {
            "" => (inside, None),
            p => match p.strip_prefix(':') {
                Some(p) => (inside, Some(p)),
                None => return false,
            },
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) if !n.contains(':') => (n, Some(p)),
            Some(_) => return false,
            None => (host, None),
        }
    };
    let port = match port {
        None => 80,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u16>() {
                Ok(p) => p,
                Err(_) => return false,
            }
        }
        Some(_) => return false,
    };
    let any = listen.ip().is_unspecified();
    if port != listen.port() && !any {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return any || listen.ip().is_loopback();
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => any || ip == listen.ip(),
        Err(_) => false,
    }
}

/// Without keys every route answers only its own `Host`; with a control
/// token (always, with keys) control requests must carry it.
pub(crate) async fn host_guard(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refused) = cross_site(&request) {
        return refused;
    }
    let control = request.uri().path().starts_with("/_emulator/");
    if !access.keys_configured {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        if !host.is_some_and(|h| host_allowed(h, access.listen)) {
            return error_response(
                403,
                "Forbidden.Host",
                format!(
                    "Without access keys the emulator answers only requests for Host {}.",
                    access.listen
                ),
            );
        }
    }
    let probe = request.uri().path() == HEALTH_PATH;
    if control
        && !probe
        && let Some(token) = &access.control_token
    {
        let given: Vec<u8> = match request.headers().get(CONTROL_TOKEN_HEADER) {
            Some(header) => header.as_bytes().to_vec(),
            None => dashboard_token(&request).unwrap_or_default(),
        };
        if !crate::signature::constant_time_eq(&given, token.as_bytes()) {
            return error_response(
                403,
                "Forbidden.ControlToken",
                format!(
                    "Control requests need the {CONTROL_TOKEN_HEADER} header with the control token."
                ),
            );
        }
    }
    next.run(request).await
}

/// A request a browser sent from another site: `Sec-Fetch-Site` other
/// than `same-origin` or `none`, or an `Origin` that is not this `Host`.
/// A page elsewhere could otherwise drive the API by a form post or an
/// image's GET to `http://127.0.0.1:8080/` (403 `Forbidden.CrossSite`).
/// SDKs and command-line clients send neither header.
fn cross_site(request: &Request) -> Option<Response> {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"));
    let fetch_site = text("sec-fetch-site");
    let foreign_fetch = fetch_site.is_some_and(|site| site != "same-origin" && site != "none");
    let host = text("host").unwrap_or("");
    let foreign_origin = text("origin").is_some_and(|origin| {
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        authority.is_none_or(|a| !a.eq_ignore_ascii_case(host))
    });
    (foreign_fetch || foreign_origin).then(|| {
        error_response(
            403,
            "Forbidden.CrossSite",
            "The emulator does not answer requests a browser sends from another site.",
        )
    })
}

/// The token a browser gives the dashboard as `?token=…` (a page load
/// cannot carry a header): on `GET /_emulator/` only.
fn dashboard_token(request: &Request) -> Option<Vec<u8>> {
    if request.method() != Method::GET || request.uri().path() != DASHBOARD_PATH {
        return None;
    }
    form_urlencoded::parse(request.uri().query()?.as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned().into_bytes())
}

/// Control changes state only by `POST` with `Content-Type:
/// application/json` (415 otherwise; a state's type is checked before its
/// body is read, by [`state_guard`]; other methods get 405 from the
/// routes). Neither is a type a cross-site form can send.
pub(crate) async fn control_guard(
    State(_): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::POST
        && request.uri().path() != STATE_PATH
        && !has_media_type(&request, "application/json")
    {
        return unsupported_media_type("application/json");
    }
    next.run(request).await
}

/// Whether the request's `Content-Type` is `expected` (parameters aside).
fn has_media_type(request: &Request, expected: &str) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(media_type)
        .is_some_and(|m| m == expected)
}

/// 415: control changes state only with `expected`.
fn unsupported_media_type(expected: &str) -> Response {
    error_response(
        415,
        "UnsupportedMediaType",
        format!("Control requests change state only with Content-Type: {expected}."),
    )
}

/// Before a state's body is read (it may be large): its media type (415
/// otherwise), and one import at a time (409 while one runs).
pub(crate) async fn state_guard(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || request.uri().path() != STATE_PATH {
        return next.run(request).await;
    }
    if !has_media_type(&request, STATE_MEDIA_TYPE) {
        return unsupported_media_type(STATE_MEDIA_TYPE);
    }
    let Ok(_slot) = app.importing.clone().try_acquire_owned() else {
        return error_response(
            409,
            "Conflict.StateImport",
            "Another state import is running; try again when it has ended.",
        );
    };
    next.run(request).await
}

/// Reads the whole body within the limit of its route and the body
/// deadline: 413 over the limit (by `Content-Length` at once), 408 too
/// slow, 400 malformed (e.g. broken chunking).
pub(crate) async fn read_body(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = if request.uri().path() == STATE_PATH {
        access.max_state_bytes
    } else if request.uri().path().starts_with("/_emulator/") {
        MAX_CONTROL_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let too_large = || {
        error_response(
            413,
            "RequestBodyTooLarge",
            format!("The request body is larger than {limit} bytes."),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let bytes =
        match tokio::time::timeout(access.body_read_timeout, axum::body::to_bytes(body, limit))
            .await
        {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                let over = std::error::Error::source(&e)
                    .into_iter()
                    .chain(std::iter::once(&e as &dyn std::error::Error))
                    .any(|e| e.is::<http_body_util::LengthLimitError>())
                    || e.to_string().contains("length limit exceeded");
                if over {
                    return too_large();
                }
                return error_response(
                    400,
                    "InvalidParameter",
                    format!("The request body is malformed: {e}."),
                );
            }
            Err(_) => {
                return error_response(
                    408,
                    "RequestTimeout",
                    format!(
                        "The request body did not arrive within {} seconds.",
                        access.body_read_timeout.as_secs_f64()
                    ),
                );
            }
        };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
