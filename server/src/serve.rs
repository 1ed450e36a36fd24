//! `eci-imagecache serve`: the emulator on a socket until SIGINT/SIGTERM.
//!
//! [`serve_site`] is the connection loop: HTTP/1.1 by hyper with a header
//! read timeout (which also closes idle keep-alive connections), at most
//! [`Limits::max_connections`] connections at once (more wait in the
//! listen backlog until the timeouts free a slot), body-read and request
//! deadlines ([`crate::router::Access`]). On SIGINT/SIGTERM it stops
//! accepting, lets in-flight requests finish for at most
//! [`Limits::shutdown_deadline`], closes what is left (half-sent requests
//! included), and [`run`] then checkpoints the state.
//!
//! With access keys and no `control_token`, [`run`] makes a random control
//! token and logs it once at info level.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use eci_imagecache::engine::Durations;
use hyper::body::Incoming;

use crate::app::App;
use crate::faults::Faults;
use crate::logging::LogFormat;
use crate::router::Access;
use crate::site::Site;
use crate::startup;

pub use crate::startup::{build, import};

/// How to run the emulator.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The state store (SQLite, see `eci_imagecache::store`): loaded at
    /// start, every accepted change committed before its response.
    pub state: Option<PathBuf>,
    /// Caches to import at start (`eci-imagecache gen` output).
    pub import: Option<PathBuf>,
    /// Seed for ids and request ids.
    pub seed: Option<u64>,
    /// A manual clock starting here (else the system clock).
    pub now: Option<jiff::Timestamp>,
    /// Phase durations.
    pub durations: Durations,
    /// Caches per region.
    pub quota: Option<usize>,
    /// Keep registry endpoint variants apart.
    pub strict_references: bool,
    /// The most caches a `DescribeImageCaches` page holds (20, the
    /// cloud's, unless set).
    pub page_cap: u32,
    /// Reject parameters an action does not know (default: ignored and
    /// logged, as the cloud's gateway ignores them).
    pub strict_params: bool,
    /// Access keys (id, secret); empty: signatures are not checked.
    pub access_keys: Vec<(String, String)>,
    /// Refuse signed times outside ±15 minutes and reused nonces (turn off
    /// to replay old captures).
    pub freshness: bool,
    /// The token control requests must carry (`x-eci-emulator-token`);
    /// with keys and none, [`run`] makes a random one.
    pub control_token: Option<String>,
    /// Timeouts and caps.
    pub limits: Limits,
    /// How the log is written.
    pub log_format: LogFormat,
    /// How many API calls `GET /_emulator/requests` keeps (0: none).
    pub request_history: usize,
    /// The largest state `POST /_emulator/state` takes, in bytes.
    pub max_state_bytes: usize,
}

/// The largest state `POST /_emulator/state` takes unless told: 256 MiB.
pub const DEFAULT_MAX_STATE_BYTES: usize = 256 << 20;

/// Timeouts and caps of the connection loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time to send a request's headers, and the most a keep-alive
    /// connection may sit idle (default 10 s).
    pub header_read_timeout: Duration,
    /// Time to send a request's body (default 30 s).
    pub body_read_timeout: Duration,
    /// Time for a whole request, answer included (default 60 s).
    pub request_timeout: Duration,
    /// Connections served at once (default 1024).
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests (default 5 s).
    pub shutdown_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
            shutdown_deadline: Duration::from_secs(5),
        }
    }
}

/// A random control token: 32 hex digits from the OS.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who may call a server on `listener` with `options`.
///
/// # Errors
///
/// The listener's address cannot be read.
pub fn access(listener: &tokio::net::TcpListener, options: &Options) -> std::io::Result<Access> {
    Ok(Access {
        listen: listener.local_addr()?,
        keys_configured: !options.access_keys.is_empty(),
        control_token: options.control_token.clone(),
        body_read_timeout: options.limits.body_read_timeout,
        request_timeout: options.limits.request_timeout,
        max_state_bytes: options.max_state_bytes,
    })
}

/// Serves `site` (loading, then ready) on `listener` until `shutdown`
/// resolves, then drains (see the module docs). Returns when every
/// connection is closed.
///
/// # Errors
///
/// None so far: a failed `accept` is logged and retried.
pub async fn serve_site(
    listener: tokio::net::TcpListener,
    site: Arc<Site>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    tracing::warn!(%e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let site = site.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            site.clone().answer(request.map(axum::body::Body::new))
        });
        let mut stopped = stopped.clone();
        connections.spawn(async move {
            let _permit = permit;
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_deadline, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "shutdown deadline passed: closing the connections left"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

/// Serves until SIGINT or SIGTERM, then saves the state. The socket is
/// bound first (after the state store is opened and locked), and answers
/// "loading" ([`Site`]) until the state is loaded and imported.
///
/// # Errors
///
/// What stops the server from starting (a state that cannot be opened,
/// locked or loaded, an import refused, an address that cannot be bound)
/// or from saving at the end.
pub fn run(options: Options) -> std::io::Result<()> {
    crate::logging::init(options.log_format);
    if options
        .control_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        return Err(std::io::Error::other(
            "the control token (--control-token or ECI_IMAGECACHE_CONTROL_TOKEN) is empty: \
             it would let every request through; give one, or none (with access keys, a \
             random one is made)",
        ));
    }
    let mut options = options;
    let opened = startup::open(&options).map_err(std::io::Error::other)?;
    let manual_clock = opened.clock().manual().is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.listen).await?;
        announce(&listener, &mut options)?;
        let site = Site::loading(access(&listener, &options)?);
        let (loader, failure) = spawn_loader(site.clone(), options.clone(), opened, manual_clock);
        let failed_to_load = Arc::new(std::sync::Mutex::new(None));
        let stop = stop_on_signal_or_failure(failure, site.clone(), failed_to_load.clone());
        serve_site(listener, site.clone(), options.limits, stop).await?;
        if let Some(e) = failed_to_load
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(std::io::Error::other(e));
        }
        if !site.is_ready() {
            // Stopped while loading: nothing was accepted, nothing to save.
            tracing::info!("stopped while loading the state");
            return Ok(());
        }
        if options.state.is_some() {
            tracing::info!("shutting down: saving state");
        } else {
            tracing::info!("shutting down");
        }
        match loader.await {
            Ok(Some(app)) => app.checkpoint(),
            _ => Ok(()),
        }
    });
    // A handler still running (connections were closed) does not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome
}

/// Loads the state on a blocking thread and makes `site` ready with it;
/// a failure is sent on the channel returned (which closes unused when
/// the load succeeds, or when the loader panics).
fn spawn_loader(
    site: Arc<Site>,
    options: Options,
    opened: startup::Opened,
    manual_clock: bool,
) -> (
    tokio::task::JoinHandle<Option<Arc<App>>>,
    tokio::sync::oneshot::Receiver<String>,
) {
    let (failed, failure) = tokio::sync::oneshot::channel::<String>();
    let loader = tokio::task::spawn_blocking(move || {
        match startup::load(&options, opened, Faults::default()) {
            Ok(app) => {
                site.ready(app.clone());
                let state = options.state.as_deref().map(std::path::Path::display);
                tracing::info!(
                    listen = %site.listen(),
                    state = %state.map(|p| p.to_string()).unwrap_or_default(),
                    manual_clock,
                    "eci-imagecache emulator ready"
                );
                Some(app)
            }
            Err(e) => {
                let _ = failed.send(e);
                None
            }
        }
    });
    (loader, failure)
}

/// Resolves on SIGINT/SIGTERM, or when loading fails (then `failed_to_load`
/// says why).
async fn stop_on_signal_or_failure(
    failure: tokio::sync::oneshot::Receiver<String>,
    site: Arc<Site>,
    failed_to_load: Arc<std::sync::Mutex<Option<String>>>,
) {
    let failed = |e: String| {
        *failed_to_load.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    };
    tokio::select! {
        () = shutdown() => {}
        outcome = failure => match outcome {
            Ok(e) => failed(e),
            // The loader ended without a word: it panicked.
            Err(_) if !site.is_ready() => failed("loading the state failed unexpectedly".to_owned()),
            Err(_) => shutdown().await,
        },
    }
}

/// Logs how requests are checked; with keys and no control token, makes
/// one and logs it.
fn announce(listener: &tokio::net::TcpListener, options: &mut Options) -> std::io::Result<()> {
    let ids: Vec<&str> = options
        .access_keys
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    if ids.is_empty() {
        tracing::warn!(
            "no --access-key given: request signatures are NOT checked; only requests for Host {} are answered",
            listener.local_addr()?
        );
        return Ok(());
    }
    tracing::info!(
        ?ids,
        freshness = options.freshness,
        "signatures checked (V3 and V2)"
    );
    if options.control_token.is_none() {
        let token = random_token();
        tracing::info!(%token, "control token (header x-eci-emulator-token) for /_emulator/*");
        options.control_token = Some(token);
    }
    Ok(())
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
