//! The HTTP application: `GET`/`POST /` for the API, `/_emulator/*` for
//! control.
//!
//! * **Signed means authorised.** With keys configured, the account, the
//!   action and the parameters come only from what [`verify`] returns, and
//!   [`Freshness`] refuses old times and reused nonces (unless turned off).
//!   Without keys, the same body rules apply ([`body_params`](crate::signature::body_params)) and an
//!   `x-acs-action` header that disagrees with an `Action` parameter is
//!   `InvalidParameter`.
//! * **Who may call** ([`Access`]): without keys, every route answers only
//!   requests whose `Host` is the listen address ([`host_allowed`]: no DNS
//!   names, so no DNS rebinding, and a cross-site form post to `/` carries
//!   the attacker's host); a foreign host gets 403 `Forbidden.Host`. Control
//!   requests need `x-eci-emulator-token` when a control token is set
//!   (always, with keys: 403 `Forbidden.ControlToken`), change state only by
//!   `POST` with `Content-Type: application/json` (405 / 415 otherwise).
//! * **Bounded.** Bodies: 256 KiB on `/`, 64 KiB on `/_emulator/*` (413
//!   `RequestBodyTooLarge`), read within a deadline (408 `RequestTimeout`);
//!   a broken body (bad chunking) is 400 `InvalidParameter`; a handler
//!   deadline (503 `ServiceUnavailable`). Every error response, whatever
//!   the route or status, is `{"RequestId","Code","Message"}` with a fresh
//!   `RequestId`.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use eci_imagecache::ApiError;
use eci_imagecache::api::{self, Action, Answer, Reply, RequestIds};
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine, EngineBuilder};
use eci_imagecache::wire::json::ErrorBody;
use serde_json::{Value, json};

use crate::clock::ServerClock;
use crate::faults::{ErrorFault, FailureFault, Faults};
use crate::refusal::Refusal;
use crate::signature::{
    Freshness, Keys, SignedRequest, media_type, request_params, resolve_action, verify,
};
use eci_imagecache::store::Store;

/// API request bodies above this are refused (413).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Control request bodies above this are refused (413).
pub const MAX_CONTROL_BODY_BYTES: usize = 64 * 1024;
/// Requests with more parameters than this are refused.
pub const MAX_PARAMETERS: usize = 2_000;

/// Everything the handlers share.
pub struct App {
    /// A write failed and so did rebuilding the engine from the store: the
    /// engine may be ahead of the store, so nothing is answered from it
    /// until a rebuild succeeds. An atomic, so readers need not take `inner`.
    broken: AtomicBool,
    /// Describes share it (read lock); everything else takes it alone.
    engine: RwLock<Engine>,
    inner: Mutex<Inner>,
    keys: Auth,
    clock: ServerClock,
    faults: Faults,
    builder: Box<dyn Fn() -> EngineBuilder + Send + Sync>,
}

/// How API requests are authenticated: the access keys (none: not
/// checked) and, with keys, the freshness check (`None`: off, for
/// replaying old captures).
#[derive(Debug, Default)]
pub struct Auth {
    /// The access keys.
    pub keys: Keys,
    /// Times and nonces; `None` turns the check off.
    pub freshness: Option<Freshness>,
}

impl Auth {
    /// `keys`, with the freshness check when `fresh`.
    pub fn new(keys: Keys, fresh: bool) -> Auth {
        Auth {
            keys,
            freshness: fresh.then(Freshness::default),
        }
    }
}

struct Inner {
    store: Option<Store>,
    request_ids: RequestIds,
}

impl App {
    /// An application over `engine`, persisting to `store` if given.
    /// `builder` gives the settings the engine is rebuilt from the store
    /// with when a commit fails.
    pub fn new(
        engine: Engine,
        store: Option<Store>,
        keys: Auth,
        clock: ServerClock,
        faults: Faults,
        request_ids: RequestIds,
        builder: impl Fn() -> EngineBuilder + Send + Sync + 'static,
    ) -> Arc<App> {
        Arc::new(App {
            broken: AtomicBool::new(false),
            engine: RwLock::new(engine),
            inner: Mutex::new(Inner { store, request_ids }),
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
        if self.broken.load(Ordering::SeqCst) {
            self.rebuild(engine, store)?;
        }
        let Err(e) = store.commit(engine) else {
            return Ok(());
        };
        tracing::error!(%e, "commit failed: the change is undone");
        // The commit's error is the answer, whether the rebuild works or not.
        let _ = self.rebuild(engine, store);
        Err(std::io::Error::other(e.to_string()))
    }

    /// Replaces `engine` with what the store holds; when that fails too,
    /// marks the app `broken` until a rebuild works.
    fn rebuild(&self, engine: &mut Engine, store: &mut Store) -> std::io::Result<()> {
        match store.load((self.builder)()) {
            Ok(reloaded) => {
                *engine = reloaded;
                self.broken.store(false, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => {
                tracing::error!(%e, "the engine cannot be rebuilt from the store");
                self.broken.store(true, Ordering::SeqCst);
                Err(std::io::Error::other(e.to_string()))
            }
        }
    }

    /// Answers one API request (blocking: runs the engine and commits its
    /// changes to the store before answering).
    ///
    /// Runs only if `gate` lets it (see [`Gate`]): a request whose deadline
    /// passed while it waited for the engine is answered 503 unrun.
    pub fn api(
        &self,
        method: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        gate: &Gate,
    ) -> Answer {
        let request_id = self.lock().request_ids.next_id();
        let error = |e: &ApiError| Answer::from(Reply::error(request_id.clone(), e));
        let refuse = |e: Refusal| Answer::from(e.reply(request_id.clone()));
        let query = uri.query().unwrap_or("");
        // Values that are not visible ASCII keep their bytes (lossily), so
        // that verification reports them as not allowed, not as missing.
        let header_pairs: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| {
                let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_owned(), v)
            })
            .collect();
        let header = |name: &str| {
            header_pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let (account, action, params) = if self.keys.keys.is_empty() {
            let params = match request_params(query, header("content-type"), body) {
                Ok(p) => p,
                Err(e) => return refuse(e),
            };
            match resolve_action(header("x-acs-action"), &params) {
                Ok(action) => (DEFAULT_ACCOUNT.to_owned(), action, params),
                Err(e) => return refuse(e),
            }
        } else {
            let signed = SignedRequest {
                method,
                path: uri.path(),
                query,
                headers: &header_pairs,
                body,
            };
            // Only what the signature covers goes on from here.
            let verified = match verify(&self.keys.keys, &signed) {
                Ok(v) => v,
                Err(e) => return refuse(e),
            };
            if let Some(freshness) = &self.keys.freshness
                && let Err(e) = freshness.check(&verified, jiff::Timestamp::now())
            {
                return refuse(e);
            }
            (verified.key_id, verified.action, verified.params)
        };
        if params.len() > MAX_PARAMETERS {
            return error(&ApiError::invalid(
                "parameters",
                format_args!("at most {MAX_PARAMETERS} parameters"),
            ));
        }
        let Some(action) = action else {
            return error(&ApiError::missing("Action"));
        };
        if let Some(injected) = self.faults.take_error(&action) {
            return Answer::from(Reply::new(
                injected.status,
                serde_json::to_value(ErrorBody {
                    request_id,
                    code: injected.code.to_owned(),
                    message: injected.message,
                })
                .expect("serialises"),
            ));
        }
        // Known and only reading: answered under the read lock. (An unknown
        // action is answered by `api::call`, after the faults, as before.)
        let read_only = action.parse::<Action>().ok().filter(|a| a.is_read_only());
        if let Some(read_only) = read_only
            && !self.broken.load(Ordering::SeqCst)
        {
            // Queries run side by side under the read lock.
            let engine = self.read_engine();
            if !gate.begin() {
                return too_late(request_id).into();
            }
            return api::read_only(&engine, &account, read_only, params, request_id)
                .expect("a read-only action");
        }
        let mut engine = self.write_engine();
        let mut inner = self.lock();
        if !gate.begin() {
            return too_late(request_id).into();
        }
        if self.broken.load(Ordering::SeqCst) && self.commit(&mut engine, &mut inner).is_err() {
            return internal_error(request_id).into();
        }
        if let Some(read_only) = read_only {
            // The engine was rebuilt from the store just now.
            engine.tick();
            return api::read_only(&engine, &account, read_only, params, request_id)
                .expect("a read-only action");
        }
        let reply = api::call(
            &mut engine,
            &account,
            &action,
            params.iter().cloned(),
            request_id.clone(),
        );
        let used = self.faults.take_consumed();
        if self.commit(&mut engine, &mut inner).is_err() {
            // Not durable, so undone: the caller must not believe it
            // happened, and the faults it used wait again.
            self.faults.give_back(used);
            return internal_error(request_id).into();
        }
        reply.into()
    }
}

fn internal_error(request_id: String) -> Reply {
    Reply::error(request_id, &ApiError::internal())
}

/// Who may call, and the per-request deadlines: what [`router`] enforces
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
}

impl Access {
    /// Loopback defaults for `listen`: no keys, no token, 30 s body
    /// reads, 60 s requests.
    pub fn new(listen: SocketAddr) -> Access {
        Access {
            listen,
            keys_configured: false,
            control_token: None,
            body_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// The header carrying the control token.
pub const CONTROL_TOKEN_HEADER: &str = "x-eci-emulator-token";

/// Whether a `Host` header names the listen address: the same IP literal
/// and port, `localhost:PORT` when listening on loopback, and when
/// listening on an unspecified address (`0.0.0.0`, `::`) any IP literal or
/// `localhost` with the right port. DNS names never (DNS rebinding); a
/// missing port means 80.
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
    if port != listen.port() {
        return false;
    }
    let any = listen.ip().is_unspecified();
    if name.eq_ignore_ascii_case("localhost") {
        return any || listen.ip().is_loopback();
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => any || ip == listen.ip(),
        Err(_) => false,
    }
}

/// The router: the API on `/`, control on `/_emulator/…`, with the access
/// rules, body limits and deadlines of `access` (see the module docs).
pub fn router(app: Arc<App>, access: Access) -> Router {
    let access = Arc::new(access);
    let control = Router::new()
        .route("/_emulator/clock", get(clock_get).post(clock_post))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/faults", get(faults_get).post(faults_post))
        .layer(from_fn_with_state(access.clone(), control_guard))
        .layer(DefaultBodyLimit::max(MAX_CONTROL_BODY_BYTES));
    Router::new()
        .route("/", any(api_handler))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .merge(control)
        .fallback(not_found)
        .layer(from_fn_with_state(access.clone(), read_body))
        .layer(from_fn_with_state(access.clone(), host_guard))
        .layer(from_fn_with_state((app.clone(), access), json_errors))
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

/// An error body without a RequestId: [`json_errors`] adds a fresh one.
fn error_response(status: u16, code: &str, message: impl Into<String>) -> Response {
    json_response(status, json!({"Code": code, "Message": message.into()}))
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

fn too_late(request_id: String) -> Reply {
    Refusal::new(
        503,
        "ServiceUnavailable",
        "The request was not run: it waited past its deadline.",
    )
    .reply(request_id)
}

/// The outermost layer: the request deadline, and every error response
/// made `{"RequestId","Code","Message"}` with a fresh RequestId, whoever
/// produced it (axum's 404/405/413/415 rejections, the handlers).
async fn json_errors(
    State((app, access)): State<(Arc<App>, Arc<Access>)>,
    mut request: Request,
    next: Next,
) -> Response {
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
    let mut object = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(o)) if is_json => o,
        _ => {
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
            let text = String::from_utf8_lossy(&bytes);
            let message = if text.trim().is_empty() {
                default.to_owned()
            } else {
                format!("{default} {}", text.trim())
            };
            let mut o = serde_json::Map::new();
            o.insert("Code".into(), code.into());
            o.insert("Message".into(), message.into());
            o
        }
    };
    if !object.get("RequestId").is_some_and(Value::is_string) {
        let id = app.lock().request_ids.next_id();
        object.insert("RequestId".into(), id.into());
    }
    let mut response = json_response(status, Value::Object(object));
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name, value.clone());
        }
    }
    response
}

/// Without keys every route answers only its own `Host`; with a control
/// token (always, with keys) control requests must carry it.
async fn host_guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
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
    if control && let Some(token) = &access.control_token {
        let given = request
            .headers()
            .get(CONTROL_TOKEN_HEADER)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !crate::signature::constant_time_eq(given, token.as_bytes()) {
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

/// Control changes state only by `POST` with `Content-Type:
/// application/json` (415 otherwise; other methods get 405 from the routes).
async fn control_guard(State(_): State<Arc<Access>>, request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(media_type)
            .is_some_and(|m| m == "application/json");
        if !json {
            return error_response(
                415,
                "UnsupportedMediaType",
                "Control requests change state only with Content-Type: application/json.",
            );
        }
    }
    next.run(request).await
}

/// Reads the whole body within the limit of its route and the body
/// deadline: 413 over the limit (by `Content-Length` at once), 408 too
/// slow, 400 malformed (e.g. broken chunking).
async fn read_body(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let limit = if request.uri().path().starts_with("/_emulator/") {
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

async fn api_handler(
    State(app): State<Arc<App>>,
    gate: Option<axum::Extension<Gate>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::GET && method != Method::POST {
        return error_response(405, "MethodNotAllowed", "Use GET or POST.");
    }
    let started = std::time::Instant::now();
    let gate = gate.map(|g| g.0).unwrap_or_default();
    let answer =
        tokio::task::spawn_blocking(move || app.api(method.as_str(), &uri, &headers, &body, &gate))
            .await
            .unwrap_or_else(|_| internal_error(String::new()).into());
    let micros = started.elapsed().as_micros() as u64;
    if !answer.ignored_params.is_empty() {
        // Names only (Debug-escaped), never values.
        tracing::info!(
            ignored = ?answer.ignored_params,
            "parameters the action does not know were ignored (--strict-params rejects them)"
        );
    }
    tracing::info!(
        status = answer.http_status,
        code = answer.code,
        micros,
        "api"
    );
    let status =
        StatusCode::from_u16(answer.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
        .into_response()
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

fn control_error(message: impl Into<String>) -> Response {
    error_response(400, "InvalidParameter", message)
}

async fn clock_get(State(app): State<Arc<App>>) -> Response {
    use eci_imagecache::clock::Clock;
    json_response(
        200,
        json!({"Now": eci_imagecache::wire::format_time(app.clock.now()), "Manual": app.clock.manual().is_some()}),
    )
}
/// `{"Advance": SECONDS}` or `{"Set": "RFC3339"}` (manual clock only).
async fn clock_post(
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
        _ => json_response(
            500,
            json!({"Code": "InternalError", "Message": "The clock change could not be saved."}),
        ),
    }
}

/// A fresh, empty engine (and no pending faults). The body is empty or a
/// JSON object (`{}`).
async fn reset(
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

/// `{"FailNext": "CreateImageCache"|"UpdateImageCache", "Reason": "…"}`,
/// `{"Code": "Account.Arrearage", "Count": N, "Action": "…", "Detail": "…"}`
/// or `{"Clear": true}`. `Code` is any code of the seeds' error tables
/// ([`crate::seed_errors`]), `Count` 1 to [`MAX_FAULT_COUNT`], `Action` one
/// of [`Action::ALL`], `Reason` at most [`MAX_FAULT_REASON_CHARS`] characters,
/// `Detail` at most [`crate::faults::MAX_FAULT_DETAIL_CHARS`] characters
/// without control characters, and at most [`crate::faults::MAX_PENDING`]
/// faults wait at once.
async fn faults_post(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return control_error("Expected a JSON object.");
    };
    if request.get("Clear").and_then(Value::as_bool) == Some(true) {
        app.faults.clear();
        return faults_get(State(app)).await;
    }
    if let Some(action) = request.get("FailNext").and_then(Value::as_str) {
        if action != Action::CreateImageCache.as_str()
            && action != Action::UpdateImageCache.as_str()
        {
            return control_error("FailNext takes CreateImageCache or UpdateImageCache.");
        }
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
        let added = app.faults.try_fail_next(FailureFault {
            action: action.to_owned(),
            reason,
        });
        if let Err(e) = added {
            return control_error(e);
        }
        return faults_get(State(app)).await;
    }
    let fault = match serde_json::from_value::<ErrorFault>(request) {
        Ok(fault) => fault,
        Err(e) => return control_error(format!("Expected FailNext, Clear or Code/Count: {e}.")),
    };
    if !(1..=MAX_FAULT_COUNT).contains(&fault.count) {
        return control_error(format!("Count is 1 to {MAX_FAULT_COUNT}."));
    }
    if let Some(action) = &fault.action
        && action.parse::<Action>().is_err()
    {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        return control_error(format!("Action must be one of: {}.", names.join(", ")));
    }
    match app.faults.add_error(fault) {
        Ok(()) => faults_get(State(app)).await,
        Err(e) => control_error(e),
    }
}

/// The largest `Count` of an injected error.
pub const MAX_FAULT_COUNT: u32 = 1000;
/// The longest `Reason` of an injected failure, in characters.
pub const MAX_FAULT_REASON_CHARS: usize = 1024;
