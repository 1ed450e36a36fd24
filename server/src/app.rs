//! The HTTP application: `GET`/`POST /` for the API, `/_emulator/*` for
//! control.

use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use eci_imagecache::ApiError;
use eci_imagecache::api::{self, Reply, RequestIds};
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine, EngineBuilder};
use eci_imagecache::wire::json::ErrorBody;
use serde_json::{Value, json};

use crate::clock::ServerClock;
use crate::faults::{ErrorFault, FailureFault, Faults};
use crate::signature::{Keys, SignedRequest, verify};
use eci_imagecache::store::Store;

/// Request bodies above this are refused.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Requests with more parameters than this are refused.
pub const MAX_PARAMETERS: usize = 2_000;

/// Everything the handlers share.
pub struct App {
    /// Describes share it (read lock); everything else takes it alone.
    engine: RwLock<Engine>,
    inner: Mutex<Inner>,
    keys: Keys,
    clock: ServerClock,
    faults: Faults,
    builder: Box<dyn Fn() -> EngineBuilder + Send + Sync>,
}

struct Inner {
    store: Option<Store>,
    request_ids: RequestIds,
    /// A commit failed and so did rebuilding the engine from the store: the
    /// engine may be ahead of the store, so nothing is answered until a
    /// rebuild succeeds.
    broken: bool,
}

impl App {
    /// An application over `engine`, persisting to `store` if given.
    /// `builder` gives the settings the engine is rebuilt from the store
    /// with when a commit fails.
    pub fn new(
        engine: Engine,
        store: Option<Store>,
        keys: Keys,
        clock: ServerClock,
        faults: Faults,
        request_ids: RequestIds,
        builder: impl Fn() -> EngineBuilder + Send + Sync + 'static,
    ) -> Arc<App> {
        Arc::new(App {
            engine: RwLock::new(engine),
            inner: Mutex::new(Inner {
                store,
                request_ids,
                broken: false,
            }),
            keys,
            clock,
            faults,
            builder: Box::new(builder),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_engine(&self) -> RwLockWriteGuard<'_, Engine> {
        self.engine.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The engine for reading, with what time has made due applied first.
    fn read_engine(&self) -> RwLockReadGuard<'_, Engine> {
        let engine = self.engine.read().unwrap_or_else(|e| e.into_inner());
        if !engine.is_due() {
            return engine;
        }
        drop(engine);
        self.write_engine().tick();
        self.engine.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Commits what time has changed since the last call (graceful
    /// shutdown; every accepted change is already committed).
    pub fn checkpoint(&self) -> std::io::Result<()> {
        let mut engine = self.write_engine();
        engine.tick();
        self.commit(&mut engine, &mut self.lock())
    }

    /// Makes `engine`'s changes durable. On failure, rebuilds the engine
    /// from the store (memory is never ahead of disk) and says why.
    fn commit(&self, engine: &mut Engine, inner: &mut Inner) -> std::io::Result<()> {
        let Some(store) = &mut inner.store else {
            return Ok(());
        };
        if inner.broken {
            match store.load((self.builder)()) {
                Ok(reloaded) => {
                    *engine = reloaded;
                    inner.broken = false;
                }
                Err(e) => {
                    tracing::error!(%e, "the engine cannot be rebuilt from the store");
                    return Err(std::io::Error::other(e.to_string()));
                }
            }
        }
        let Err(e) = store.commit(engine) else {
            return Ok(());
        };
        tracing::error!(%e, "commit failed: the change is undone");
        match store.load((self.builder)()) {
            Ok(reloaded) => *engine = reloaded,
            Err(e) => {
                tracing::error!(%e, "the engine cannot be rebuilt from the store");
                inner.broken = true;
            }
        }
        Err(std::io::Error::other(e.to_string()))
    }

    /// Answers one API request (blocking: runs the engine and syncs the
    /// journal).
    pub fn api(&self, method: &str, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Reply {
        let request_id = self.lock().request_ids.next_id();
        let error = |e: &ApiError| Reply::error(request_id.clone(), e);
        let query = uri.query().unwrap_or("");
        let header_pairs: Vec<(String, String)> = headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if is_form {
            params.extend(
                form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        if params.len() > MAX_PARAMETERS {
            return error(&ApiError::invalid(
                "parameters",
                format_args!("at most {MAX_PARAMETERS} parameters"),
            ));
        }
        let account = if self.keys.is_empty() {
            DEFAULT_ACCOUNT.to_owned()
        } else {
            let signed = SignedRequest {
                method,
                path: uri.path(),
                query,
                headers: &header_pairs,
                body,
            };
            match verify(&self.keys, &signed) {
                Ok(id) => id,
                Err(e) => return error(&e),
            }
        };
        let action = headers
            .get("x-acs-action")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                params
                    .iter()
                    .find(|(k, _)| k == "Action")
                    .map(|(_, v)| v.clone())
            });
        let Some(action) = action else {
            return error(&ApiError::missing("Action"));
        };
        if let Some((code, status, message)) = self.faults.take_error(&action) {
            return Reply {
                http_status: status,
                body: serde_json::to_value(ErrorBody {
                    request_id,
                    code: code.to_owned(),
                    message: message.to_owned(),
                })
                .expect("serialises"),
            };
        }
        if action == "DescribeImageCaches" {
            // Queries run side by side under the read lock.
            let engine = self.read_engine();
            return api::describe(&engine, &account, params, request_id);
        }
        let mut engine = self.write_engine();
        let mut inner = self.lock();
        if inner.broken && self.commit(&mut engine, &mut inner).is_err() {
            return internal_error(request_id);
        }
        let reply = api::call(
            &mut engine,
            &account,
            &action,
            params.iter().cloned(),
            request_id.clone(),
        );
        let fault = self.faults.take_consumed();
        if self.commit(&mut engine, &mut inner).is_err() {
            // Not durable, so undone: the caller must not believe it happened.
            if let Some(reason) = fault {
                self.faults.fail_next_first(FailureFault {
                    action: action.clone(),
                    reason,
                });
            }
            return internal_error(request_id);
        }
        reply
    }
}

fn internal_error(request_id: String) -> Reply {
    Reply {
        http_status: 500,
        body: json!({"RequestId": request_id, "Code": "InternalError", "Message": "The request processing has failed due to some unknown error."}),
    }
}

/// The router: the API on `/`, control on `/_emulator/…`.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", any(api_handler))
        .route("/_emulator/clock", get(clock_get).post(clock_post))
        .route("/_emulator/reset", any(reset))
        .route(
            "/_emulator/faults",
            get(faults_get).post(faults_post).delete(faults_delete),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .with_state(app)
}

fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn api_handler(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if method != Method::GET && method != Method::POST {
        return json_response(
            405,
            json!({"Code": "MethodNotAllowed", "Message": "Use GET or POST."}),
        );
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        let error = ApiError::invalid(
            "body",
            format_args!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        );
        let request_id = app.lock().request_ids.next_id();
        let reply = Reply::error(request_id, &error);
        return json_response(reply.http_status, reply.body);
    };
    let started = std::time::Instant::now();
    let reply = tokio::task::spawn_blocking(move || app.api(method.as_str(), &uri, &headers, &body))
        .await
        .unwrap_or_else(|_| Reply {
            http_status: 500,
            body: json!({"Code": "InternalError", "Message": "The request processing has failed due to some unknown error."}),
        });
    let code = reply
        .body
        .get("Code")
        .and_then(|c| c.as_str())
        .unwrap_or("");
    let micros = started.elapsed().as_micros() as u64;
    tracing::info!(status = reply.http_status, code, micros, "api");
    json_response(reply.http_status, reply.body)
}

async fn not_found(uri: Uri) -> Response {
    json_response(
        404,
        json!({"Code": "NotFound", "Message": format!("No such path: {}", uri.path())}),
    )
}

fn control_error(message: impl Into<String>) -> Response {
    json_response(
        400,
        json!({"Code": "InvalidParameter", "Message": message.into()}),
    )
}

async fn clock_get(State(app): State<Arc<App>>) -> Response {
    use eci_imagecache::clock::Clock;
    json_response(
        200,
        json!({"Now": eci_imagecache::wire::format_time(app.clock.now()), "Manual": app.clock.manual().is_some()}),
    )
}

/// `{"Advance": SECONDS}` or `{"Set": "RFC3339"}` (manual clock only).
async fn clock_post(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Some(manual) = app.clock.manual().cloned() else {
        return control_error(
            "The clock is the system clock; start the server with a manual clock to move it.",
        );
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return control_error("Expected {\"Advance\": SECONDS} or {\"Set\": \"RFC3339\"}.");
    };
    if let Some(seconds) = request.get("Advance").and_then(Value::as_i64) {
        manual.advance_secs(seconds);
    } else if let Some(Ok(at)) = request
        .get("Set")
        .and_then(Value::as_str)
        .map(str::parse::<jiff::Timestamp>)
    {
        manual.set(at);
    } else {
        return control_error("Expected {\"Advance\": SECONDS} or {\"Set\": \"RFC3339\"}.");
    }
    let outcome = tokio::task::spawn_blocking(move || {
        use eci_imagecache::clock::Clock;
        let mut engine = app.write_engine();
        engine.tick();
        app.commit(&mut engine, &mut app.lock())?;
        Ok::<_, std::io::Error>(eci_imagecache::wire::format_time(app.clock.now()))
    })
    .await;
    match outcome {
        Ok(Ok(now)) => json_response(200, json!({"Now": now})),
        _ => json_response(
            500,
            json!({"Code": "InternalError", "Message": "The clock change could not be saved."}),
        ),
    }
}

/// A fresh, empty engine (and no pending faults).
async fn reset(State(app): State<Arc<App>>) -> Response {
    let outcome = tokio::task::spawn_blocking(move || {
        let mut engine = app.write_engine();
        let mut inner = app.lock();
        engine.reset();
        let saved = match &mut inner.store {
            Some(store) => store.replace(&mut engine).map_err(|e| e.to_string()),
            None => Ok(()),
        };
        if let Err(e) = saved {
            tracing::error!(%e, "reset failed: nothing changed");
            if let Some(store) = &mut inner.store {
                match store.load((app.builder)()) {
                    Ok(reloaded) => *engine = reloaded,
                    Err(_) => inner.broken = true,
                }
            }
            return Err(e);
        }
        app.faults.clear();
        Ok(())
    })
    .await;
    match outcome {
        Ok(Ok(())) => json_response(200, json!({"Reset": true})),
        _ => json_response(
            500,
            json!({"Code": "InternalError", "Message": "The reset could not be saved."}),
        ),
    }
}

async fn faults_get(State(app): State<Arc<App>>) -> Response {
    let (failures, errors) = app.faults.pending();
    json_response(200, json!({"Failures": failures, "Errors": errors}))
}

/// `{"FailNext": "CreateImageCache"|"UpdateImageCache", "Reason": "…"}` or
/// `{"Code": "Account.Arrearage", "Count": N, "Action": "…"}`.
async fn faults_post(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return control_error("Expected a JSON object.");
    };
    if let Some(action) = request.get("FailNext").and_then(Value::as_str) {
        if action != "CreateImageCache" && action != "UpdateImageCache" {
            return control_error("FailNext takes CreateImageCache or UpdateImageCache.");
        }
        let reason = request
            .get("Reason")
            .and_then(Value::as_str)
            .unwrap_or("Failed to pull image: injected failure.")
            .to_owned();
        app.faults.fail_next(FailureFault {
            action: action.to_owned(),
            reason,
        });
        return faults_get(State(app)).await;
    }
    match serde_json::from_value::<ErrorFault>(request) {
        Ok(fault) => match app.faults.add_error(fault) {
            Some(()) => faults_get(State(app)).await,
            None => control_error(format!(
                "Code must be one of: {}.",
                crate::faults::ACCOUNT_ERRORS
                    .iter()
                    .map(|e| e.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        },
        Err(e) => control_error(format!("Expected FailNext or Code/Count: {e}.")),
    }
}

async fn faults_delete(State(app): State<Arc<App>>) -> Response {
    app.faults.clear();
    faults_get(State(app)).await
}
