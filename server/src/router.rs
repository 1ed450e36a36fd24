//! The HTTP application: `GET`/`POST /` for the API, `/_emulator/*` for
//! control and inspection, behind the layers of [`crate::guards`] (who may
//! call, what they may send).
//!
//! * **Signed means authorised.** With keys configured, the account, the
//!   action and the parameters come only from what [`verify`](crate::signature::verify) returns, and
//!   [`Freshness`](crate::signature::Freshness) refuses old times and reused nonces (unless turned off).
//!   Without keys, the same body rules apply ([`body_params`](crate::signature::body_params)) and an
//!   `x-acs-action` header that disagrees with an `Action` parameter is
//!   `InvalidParameter`.
//! * **One shape of error.** A request past its deadline is 503
//!   `ServiceUnavailable` ([`Gate`]: never with a change that happened).
//!   Every error response, whatever the route or status, is
//!   `{"RequestId","Code","Message"}` with a fresh `RequestId`, and an API
//!   call refused before its handler ran is logged, counted and kept like
//!   any other.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::Value;

use crate::api::api_handler;
use crate::control::{clock_get, clock_post, faults_get, faults_post, reset};
use crate::dashboard::{DASHBOARD_PATH, dashboard};
use crate::health::{HEALTH_PATH, health};
use crate::history::requests;
use crate::metrics::metrics;
use crate::refusal::Refusal;
use crate::signature::media_type;
use crate::transfer::{self, STATE_PATH};

use crate::app::App;

pub use crate::guards::{
    Access, CONTROL_TOKEN_HEADER, MAX_BODY_BYTES, MAX_CONTROL_BODY_BYTES, host_allowed,
};
use crate::guards::{control_guard, host_guard, read_body, state_guard};

/// The router: the API on `/`, control on `/_emulator/…`, with the access
/// rules, body limits and deadlines of `access` (see the module docs).
pub fn router(app: Arc<App>, access: Access) -> Router {
    let access = Arc::new(access);
    let state = Router::new()
        .route(STATE_PATH, get(transfer::export).post(transfer::import))
        .layer(DefaultBodyLimit::max(access.max_state_bytes));
    let control = Router::new()
        .route("/_emulator/clock", get(clock_get).post(clock_post))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/faults", get(faults_get).post(faults_post))
        .route(HEALTH_PATH, get(health))
        .route("/_emulator/requests", get(requests))
        .route("/_emulator/metrics", get(metrics))
        .route(DASHBOARD_PATH, get(dashboard))
        .layer(DefaultBodyLimit::max(MAX_CONTROL_BODY_BYTES))
        .merge(state)
        .layer(from_fn_with_state(access.clone(), control_guard));
    Router::new()
        .route("/", any(api_handler))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .merge(control)
        .fallback(not_found)
        .layer(from_fn_with_state(access.clone(), read_body))
        .layer(from_fn_with_state(app.clone(), state_guard))
        .layer(from_fn_with_state(access.clone(), host_guard))
        .layer(from_fn_with_state((app.clone(), access), json_errors))
        .with_state(app)
}

pub(crate) fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// An error response whose body [`json_errors`] writes with a fresh
/// RequestId, through [`Refusal::reply`] like every other error body.
pub(crate) fn error_response(
    status: u16,
    code: &'static str,
    message: impl Into<String>,
) -> Response {
    let refusal = Refusal::new(status, code, message);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = status.into_response();
    response.extensions_mut().insert(refusal);
    response
}

/// Whether a request may still run, shared by the deadline and the
/// handler: a request the deadline answered (503) never runs afterwards,
/// and one that began running is answered by its handler, however long it
/// takes, so a 503 never goes with a change that happened.
#[derive(Clone, Debug, Default)]
pub struct Gate(Arc<AtomicU8>);

const PENDING: u8 = 0;

const RUNNING: u8 = 1;

const EXPIRED: u8 = 2;

impl Gate {
    /// Claims the request for its handler; `false` once the deadline has
    /// answered it.
    pub fn begin(&self) -> bool {
        self.0
            .compare_exchange(PENDING, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            || self.0.load(Ordering::SeqCst) == RUNNING
    }

    /// Claims the request for the deadline; `false` when it already runs.
    fn expire(&self) -> bool {
        self.0
            .compare_exchange(PENDING, EXPIRED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }
}

/// The outermost layer: the request deadline, and every error response
/// made `{"RequestId","Code","Message"}` with a fresh RequestId, whoever
/// produced it (axum's 404/405/413/415 rejections, the handlers).
async fn json_errors(
    State((app, access)): State<(Arc<App>, Arc<Access>)>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let api_call = request.uri().path() == "/";
    let gate = Gate::default();
    request.extensions_mut().insert(gate.clone());
    let running = next.run(request);
    tokio::pin!(running);
    let response = tokio::select! {
        r = &mut running => r,
        () = tokio::time::sleep(access.request_timeout) => {
            if gate.expire() {
                error_response(
                    503,
                    "ServiceUnavailable",
                    format!(
                        "The request took longer than {} seconds.",
                        access.request_timeout.as_secs_f64()
                    ),
                )
            } else {
                // It runs: its answer is the truth.
                running.await
            }
        }
    };
    let status = response.status().as_u16();
    if status < 400 {
        return response;
    }
    let refusal = response.extensions().get::<Refusal>().cloned();
    let refused = refusal.is_some();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(media_type)
        .is_some_and(|m| m == "application/json");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let fresh_id = || app.next_request_id();
    let object = match serde_json::from_slice::<Value>(&bytes) {
        // A handler's answer: an error body already (given a RequestId if
        // it lacks one).
        Ok(Value::Object(mut o)) if refusal.is_none() && is_json => {
            if !o.get("RequestId").is_some_and(Value::is_string) {
                o.insert("RequestId".into(), fresh_id().into());
            }
            Value::Object(o)
        }
        _ => {
            refusal
                .unwrap_or_else(|| rejection(status, &bytes))
                .reply(fresh_id())
                .body
        }
    };
    if api_call && (refused || !is_json) {
        // Refused before the API handler ran (Host, size, deadline, …):
        // logged, counted and kept like every other call.
        app.record(crate::history::CallRecord::refused(
            &object,
            status,
            started.elapsed(),
        ));
    }
    let mut response = json_response(status, object);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// A response that is not one of ours (axum's rejections: 404, 405, 413,
/// 415, a body that did not parse) as a refusal with the status's code and
/// its text after the status's default message.
fn rejection(status: u16, text: &[u8]) -> Refusal {
    let (code, default) = match status {
        400 => ("InvalidParameter", "The request is malformed."),
        403 => ("Forbidden", "The request is not allowed."),
        404 => ("NotFound", "No such path."),
        405 => ("MethodNotAllowed", "The method is not allowed here."),
        408 => ("RequestTimeout", "The request took too long to arrive."),
        413 => ("RequestBodyTooLarge", "The request body is too large."),
        415 => ("UnsupportedMediaType", "The media type is not supported."),
        _ => (
            "InternalError",
            "The request processing has failed due to some unknown error.",
        ),
    };
    let text = String::from_utf8_lossy(text);
    let message = if text.trim().is_empty() {
        default.to_owned()
    } else {
        format!("{default} {}", text.trim())
    };
    Refusal::new(status, code, message)
}

async fn not_found(uri: Uri) -> Response {
    error_response(
        404,
        "NotFound",
        format!(
            "No such path: {}",
            uri.path().chars().take(256).collect::<String>()
        ),
    )
}
