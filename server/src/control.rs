//! The control endpoints under `/_emulator/`: the clock, reset, faults.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use eci_imagecache::api::Action;
use serde_json::{Value, json};

use crate::faults::{ErrorFault, FailureFault};
use crate::router::{Gate, error_response, json_response};

use crate::app::App;

fn control_error(message: impl Into<String>) -> Response {
    error_response(400, "InvalidParameter", message)
}

pub(crate) async fn clock_get(State(app): State<Arc<App>>) -> Response {
    use eci_imagecache::clock::Clock;
    json_response(
        200,
        json!({"Now": eci_imagecache::wire::format_time(app.clock.now()), "Manual": app.clock.manual().is_some()}),
    )
}

/// `{"Advance": SECONDS}` or `{"Set": "RFC3339"}` (manual clock only).
pub(crate) async fn clock_post(
    State(app): State<Arc<App>>,
    gate: Option<axum::Extension<Gate>>,
    body: Bytes,
) -> Response {
    let Some(manual) = app.clock.manual().cloned() else {
        return control_error(
            "The clock is the system clock; start the server with a manual clock to move it.",
        );
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return control_error("Expected {\"Advance\": SECONDS} or {\"Set\": \"RFC3339\"}.");
    };
    enum Move {
        Advance(i64),
        Set(jiff::Timestamp),
    }
    let to = if let Some(seconds) = request.get("Advance").and_then(Value::as_i64) {
        Move::Advance(seconds)
    } else if let Some(Ok(at)) = request
        .get("Set")
        .and_then(Value::as_str)
        .map(str::parse::<jiff::Timestamp>)
    {
        Move::Set(at)
    } else {
        return control_error("Expected {\"Advance\": SECONDS} or {\"Set\": \"RFC3339\"}.");
    };
    let gate = gate.map(|g| g.0).unwrap_or_default();
    let outcome = tokio::task::spawn_blocking(move || {
        use eci_imagecache::clock::Clock;
        // Under both locks: no call sees the clock move before it is saved.
        let mut engine = app.write_engine();
        let mut inner = app.lock();
        if !gate.begin() {
            return Err(std::io::Error::other("past the deadline"));
        }
        let before = manual.now();
        match to {
            Move::Advance(seconds) => manual.advance_secs(seconds),
            Move::Set(at) => manual.set(at),
        }
        engine.tick();
        if let Err(e) = app.commit(&mut engine, &mut inner) {
            manual.set(before);
            return Err(e);
        }
        Ok::<_, std::io::Error>(eci_imagecache::wire::format_time(app.clock.now()))
    })
    .await;
    match outcome {
        Ok(Ok(now)) => json_response(200, json!({"Now": now})),
        _ => error_response(500, "InternalError", "The clock change could not be saved."),
    }
}

/// A fresh, empty engine (and no pending faults). The body is empty or a
/// JSON object (`{}`).
pub(crate) async fn reset(
    State(app): State<Arc<App>>,
    gate: Option<axum::Extension<Gate>>,
    body: Bytes,
) -> Response {
    if !body.is_empty() && !matches!(serde_json::from_slice(&body), Ok(Value::Object(_))) {
        return control_error("Expected an empty body or {}.");
    }
    let gate = gate.map(|g| g.0).unwrap_or_default();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut engine = app.write_engine();
        let mut inner = app.lock();
        if !gate.begin() {
            return Err("past the deadline".to_owned());
        }
        engine.reset();
        let saved = match &mut inner.store {
            Some(store) => store.replace(&mut engine).map_err(|e| e.to_string()),
            None => Ok(()),
        };
        if let Err(e) = saved {
            tracing::error!(%e, "reset failed: nothing changed");
            if let Some(store) = &mut inner.store {
                let _ = app.rebuild(&mut engine, store);
            }
            return Err(e);
        }
        app.faults.clear();
        Ok(())
    })
    .await;
    match outcome {
        Ok(Ok(())) => json_response(200, json!({"Reset": true})),
        _ => error_response(500, "InternalError", "The reset could not be saved."),
    }
}

pub(crate) async fn faults_get(State(app): State<Arc<App>>) -> Response {
    let (failures, errors) = app.faults.pending();
    json_response(200, json!({"Failures": failures, "Errors": errors}))
}

/// `{"FailNext": "CreateImageCache"|"UpdateImageCache", "Reason": "…"}`,
/// `{"Code": "Account.Arrearage", "Count": N, "Action": "…", "Detail": "…"}`
/// or `{"Clear": true}`. `Code` is any code of the seeds' error tables
/// ([`crate::seed_errors`]), `Count` 1 to [`MAX_FAULT_COUNT`], `Action` one
/// of [`Action::ALL`], `Reason` at most [`MAX_FAULT_REASON_CHARS`] characters,
/// `Detail` at most [`crate::faults::MAX_FAULT_DETAIL_CHARS`] characters
/// without control characters, and at most [`crate::faults::MAX_PENDING`]
/// faults wait at once.
pub(crate) async fn faults_post(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return control_error("Expected a JSON object.");
    };
    if request.get("Clear").and_then(Value::as_bool) == Some(true) {
        app.faults.clear();
        return faults_get(State(app)).await;
    }
    if let Some(action) = request.get("FailNext").and_then(Value::as_str) {
        let action = match action.parse() {
            Ok(action @ (Action::CreateImageCache | Action::UpdateImageCache)) => action,
            _ => return control_error("FailNext takes CreateImageCache or UpdateImageCache."),
        };
        let reason = match request.get("Reason") {
            None => "Failed to pull image: injected failure.",
            Some(Value::String(r)) if r.chars().count() <= MAX_FAULT_REASON_CHARS => r,
            Some(Value::String(_)) => {
                return control_error(format!(
                    "Reason is at most {MAX_FAULT_REASON_CHARS} characters."
                ));
            }
            Some(_) => return control_error("Reason is a string."),
        }
        .to_owned();
        let added = app.faults.try_fail_next(FailureFault { action, reason });
        if let Err(e) = added {
            return control_error(e);
        }
        return faults_get(State(app)).await;
    }
    let fault = match serde_json::from_value::<posted::ErrorFault>(request) {
        Ok(fault) => fault,
        Err(e) => return control_error(format!("Expected FailNext, Clear or Code/Count: {e}.")),
    };
    if !(1..=MAX_FAULT_COUNT).contains(&fault.count) {
        return control_error(format!("Count is 1 to {MAX_FAULT_COUNT}."));
    }
    let action = match fault
        .action
        .as_deref()
        .map(str::parse::<Action>)
        .transpose()
    {
        Ok(action) => action,
        Err(_) => {
            let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
            return control_error(format!("Action must be one of: {}.", names.join(", ")));
        }
    };
    let fault = ErrorFault {
        code: fault.code,
        action,
        count: fault.count,
        detail: fault.detail,
    };
    match app.faults.add_error(fault) {
        Ok(()) => faults_get(State(app)).await,
        Err(e) => control_error(e),
    }
}

/// What the control endpoint reads, before it checks it.
mod posted {
    use serde::Deserialize;

    /// An [`ErrorFault`](crate::faults::ErrorFault) as posted, its `Action`
    /// still text (so that a name that is no action gets the endpoint's own
    /// message, after `Count`'s). Named as the public type is, so serde's
    /// messages read as they did when that type was read directly.
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    pub(super) struct ErrorFault {
        pub(super) code: String,
        #[serde(default)]
        pub(super) action: Option<String>,
        pub(super) count: u32,
        #[serde(default)]
        pub(super) detail: Option<String>,
    }
}

/// The largest `Count` of an injected error.
pub const MAX_FAULT_COUNT: u32 = 1000;

/// The longest `Reason` of an injected failure, in characters.
pub const MAX_FAULT_REASON_CHARS: usize = 1024;
