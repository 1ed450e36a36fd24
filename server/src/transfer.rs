//! The whole state over HTTP, in the library's export format
//! ([`Engine::to_bytes`](eci_imagecache::engine::Engine::to_bytes): `"ECIIMCST"`, version, length, SHA-256, payload):
//!
//! * `GET /_emulator/state` exports it (`application/octet-stream`): every
//!   account's caches, the operations in progress, the remembered
//!   `ClientToken`s, the id generator and the manual clock's time.
//! * `POST /_emulator/state` (`Content-Type: application/octet-stream`,
//!   at most `--max-state-bytes`, one at a time) replaces everything with
//!   it, durably: decoded and built outside the engine's locks (calls go
//!   on meanwhile), then swapped in;
//!   with a state store, the new state is committed in one transaction
//!   before the answer. A body that is not a whole, valid state is
//!   refused (400) and changes nothing, the clock included. Pending
//!   faults stay.
//!
//! A state saved on a manual clock moves a manual clock to its time; a
//! server on the system clock stays on it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use eci_imagecache::engine::Engine;
use serde_json::json;

use crate::app::App;
use crate::router::{Gate, error_response, json_response};

/// The media type of an exported state.
pub const STATE_MEDIA_TYPE: &str = "application/octet-stream";

/// The path of the state endpoint.
pub const STATE_PATH: &str = "/_emulator/state";

/// `GET /_emulator/state`: the state as [`Engine::to_bytes`](eci_imagecache::engine::Engine::to_bytes) writes it.
pub(crate) async fn export(State(app): State<Arc<App>>) -> Response {
    let bytes = tokio::task::spawn_blocking(move || app.read_engine().to_bytes()).await;
    match bytes {
        Ok(bytes) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, STATE_MEDIA_TYPE),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"eci-imagecache.state\"",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => error_response(500, "InternalError", "The state could not be exported."),
    }
}

/// Why an import changed nothing.
enum Refused {
    Invalid(String),
    NotSaved,
    TooLate,
}

/// `POST /_emulator/state`: replaces everything with the posted state.
/// One import runs at a time (the router refuses a second with 409
/// before reading its body).
pub(crate) async fn import(
    State(app): State<Arc<App>>,
    gate: Option<axum::Extension<Gate>>,
    body: Bytes,
) -> Response {
    let gate = gate.map(|g| g.0).unwrap_or_default();
    let outcome = tokio::task::spawn_blocking(move || {
        // Outside the locks, however long a large state takes: decoded,
        // checked and built, the clock left where it is.
        let loaded = (app.builder)()
            .load_bytes_leaving_clock(&body)
            .map_err(|e| Refused::Invalid(e.to_string()))?;
        drop(body);
        replace(&app, loaded, &gate)
    })
    .await;
    match outcome {
        Ok(Ok((caches, regions))) => json_response(
            200,
            json!({"Imported": true, "Caches": caches, "Regions": regions}),
        ),
        Ok(Err(Refused::Invalid(why))) => error_response(
            400,
            "InvalidParameter",
            format!("The body is not a state this emulator can load: {why}."),
        ),
        Ok(Err(Refused::TooLate)) => error_response(
            503,
            "ServiceUnavailable",
            "The request was not run: it waited past its deadline.",
        ),
        Ok(Err(Refused::NotSaved)) | Err(_) => error_response(
            500,
            "InternalError",
            "The state could not be saved; nothing changed.",
        ),
    }
}

/// Swaps `loaded` in (and into the store) with the saved clock's time,
/// under both locks: no call sees a state, or a clock, that is not
/// durable, nor the new time beside the old engine. Returns the caches and
/// regions loaded.
fn replace(
    app: &App,
    (mut loaded, saved_clock): (Engine, Option<jiff::Timestamp>),
    gate: &Gate,
) -> Result<(usize, usize), Refused> {
    let mut engine = app.write_engine();
    let mut inner = app.lock();
    if !gate.begin() {
        return Err(Refused::TooLate);
    }
    let manual = app.clock.manual();
    let clock_before = manual.map(|m| {
        use eci_imagecache::clock::Clock;
        m.now()
    });
    if let (Some(manual), Some(at)) = (manual, saved_clock) {
        manual.set(at);
    }
    if let Some(store) = &mut inner.store
        && let Err(e) = store.replace(&mut loaded)
    {
        tracing::error!(%e, "importing a state failed: nothing changed");
        if let (Some(manual), Some(at)) = (manual, clock_before) {
            manual.set(at);
        }
        return Err(Refused::NotSaved);
    }
    *engine = loaded;
    app.broken.store(false, std::sync::atomic::Ordering::SeqCst);
    Ok(crate::health::held(&engine))
}
