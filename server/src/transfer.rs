//! The whole state over HTTP, in the library's export format
//! ([`Engine::to_bytes`](eci_imagecache::engine::Engine::to_bytes): `"ECIIMCST"`, version, length, SHA-256, payload):
//!
//! * `GET /_emulator/state` exports it (`application/octet-stream`): every
//!   account's caches, the operations in progress, the remembered
//!   `ClientToken`s, the id generator and the manual clock's time.
//! * `POST /_emulator/state` (`Content-Type: application/octet-stream`,
//!   at most `--max-state-bytes`) replaces everything with it, durably:
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
pub(crate) async fn import(
    State(app): State<Arc<App>>,
    gate: Option<axum::Extension<Gate>>,
    body: Bytes,
) -> Response {
    let gate = gate.map(|g| g.0).unwrap_or_default();
    let outcome = tokio::task::spawn_blocking(move || replace(&app, &body, &gate)).await;
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

/// Replaces the engine (and the store's content) with `bytes`' state,
/// under both locks: no call sees a state, or a clock, that is not
/// durable. Returns the caches and regions loaded.
fn replace(app: &App, bytes: &[u8], gate: &Gate) -> Result<(usize, usize), Refused> {
    let mut engine = app.write_engine();
    let mut inner = app.lock();
    if !gate.begin() {
        return Err(Refused::TooLate);
    }
    let clock_before = app.clock.manual().map(|m| {
        use eci_imagecache::clock::Clock;
        m.now()
    });
    let restore_clock = || {
        if let (Some(manual), Some(at)) = (app.clock.manual(), clock_before) {
            manual.set(at);
        }
    };
    let mut loaded = match (app.builder)().load_bytes(bytes) {
        Ok(loaded) => loaded,
        Err(e) => {
            restore_clock();
            return Err(Refused::Invalid(e.to_string()));
        }
    };
    if let Some(store) = &mut inner.store
        && let Err(e) = store.replace(&mut loaded)
    {
        tracing::error!(%e, "importing a state failed: nothing changed");
        restore_clock();
        return Err(Refused::NotSaved);
    }
    *engine = loaded;
    app.broken.store(false, std::sync::atomic::Ordering::SeqCst);
    Ok(crate::health::held(&engine))
}
