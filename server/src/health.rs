//! `GET /_emulator/health`: whether the emulator answers, for readiness
//! probes (a container's `HEALTHCHECK`, a CI service's `--health-cmd`, a
//! Kubernetes `readinessProbe`).
//!
//! * 200 `{"Status":"ready","Version","Caches","Regions","Clock"}` once the
//!   state is loaded: the caches of every account, the regions holding
//!   any, the emulator's clock.
//! * 503 `{"Status":"loading","Version"}` while the state loads or the
//!   import runs (every other path is then 503 `ServiceUnavailable`).
//! * 503 `{"Status":"unavailable",…}` when a commit failed and so did
//!   rebuilding the engine from the store: nothing is answered until a
//!   rebuild works.
//!
//! It needs no control token (probes carry none) and changes nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::Response;
use eci_imagecache::clock::Clock;
use eci_imagecache::engine::Engine;
use serde_json::json;

use crate::app::App;
use crate::router::json_response;

/// The version the health endpoint reports: the server crate's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The path of the health endpoint.
pub const HEALTH_PATH: &str = "/_emulator/health";

/// 200 and what the emulator holds, or 503 when it cannot answer.
pub(crate) async fn health(State(app): State<Arc<App>>) -> Response {
    let (caches, regions) = held(&app.read_engine());
    let broken = app.broken.load(Ordering::SeqCst);
    json_response(
        if broken { 503 } else { 200 },
        json!({
            "Status": if broken { "unavailable" } else { "ready" },
            "Version": VERSION,
            "Caches": caches,
            "Regions": regions,
            "Clock": eci_imagecache::wire::format_time(app.clock.now()),
        }),
    )
}

/// The caches of every account, and the regions holding any.
pub(crate) fn held(engine: &Engine) -> (usize, usize) {
    let mut caches = 0;
    let mut regions = std::collections::BTreeSet::new();
    for (account, region) in engine.regions() {
        let held = engine.index(account, region).map_or(0, |i| i.len());
        if held > 0 {
            caches += held;
            regions.insert(region);
        }
    }
    (caches, regions.len())
}

/// The body of the health endpoint before the state is loaded.
pub(crate) fn loading_body() -> serde_json::Value {
    json!({"Status": "loading", "Version": VERSION})
}
