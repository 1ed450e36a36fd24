//! `eci-imagecache serve`: the emulator on a socket until SIGINT/SIGTERM.
//!
//! [`serve_on`] is the connection loop: HTTP/1.1 by hyper with a header
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

use eci_imagecache::engine::{DEFAULT_ACCOUNT, Durations, Engine, EngineBuilder};
use eci_imagecache::ids::RequestIds;
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::store::Store;
use eci_imagecache::wire::json::DescribeImageCachesResponse;

use crate::app::{App, Auth};
use crate::clock::ServerClock;
use crate::faults::Faults;
use crate::router::{Access, router};
use crate::signature::Keys;

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
}

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

/// Serves `app` on `listener` until `shutdown` resolves, then drains (see
/// the module docs). Returns when every connection is closed.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    options: &Options,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let limits = options.limits;
    let access = Access {
        listen: listener.local_addr()?,
        keys_configured: !options.access_keys.is_empty(),
        control_token: options.control_token.clone(),
        body_read_timeout: limits.body_read_timeout,
        request_timeout: limits.request_timeout,
    };
    let service = hyper_util::service::TowerToHyperService::new(router(app, access));
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
        let service = service.clone();
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

/// Builds the application (the state store opened and locked, the engine
/// loaded from it, caches imported) without serving it: for tests and for
/// [`run`].
///
/// # Errors
///
/// A message naming the file: the state is held by another process, is not
/// a state store, cannot be read; the import file cannot be read or holds
/// a bad or duplicate cache.
pub fn build(options: &Options, faults: Faults) -> Result<(Arc<App>, ServerClock), String> {
    let mut store = options
        .state
        .as_ref()
        .map(Store::open)
        .transpose()
        .map_err(|e| e.to_string())?;
    let saved_clock = match &store {
        Some(store) => store.manual_clock().map_err(|e| e.to_string())?,
        None => None,
    };
    if let Some(at) = saved_clock {
        // The clock is part of the acknowledged state: `--now` only starts
        // the manual clock of a new state.
        tracing::info!(%at, now = ?options.now, "the state runs on a manual clock: resuming it");
    }
    let clock = ServerClock::new(saved_clock.or(options.now));
    let (seed, quota, durations, strict) = (
        options.seed,
        options.quota,
        options.durations,
        options.strict_references,
    );
    let (page_cap, strict_params) = (options.page_cap, options.strict_params);
    let builder_clock = clock.clone();
    let predicate = faults.predicate();
    let builder = move || {
        let mut b: EngineBuilder = Engine::builder()
            .clock(builder_clock.clone())
            .durations(durations)
            .page_cap(page_cap)
            .strict_params(strict_params)
            .fail_when(predicate.clone());
        if let Some(seed) = seed {
            b = b.seed(seed);
        }
        if let Some(quota) = quota {
            b = b.quota(quota);
        }
        if strict {
            b = b.aliases(RegistryAliases::strict());
        }
        b
    };
    let first_start = store.as_ref().is_none_or(Store::is_new);
    let mut engine = match &mut store {
        Some(store) => store.load(builder()).map_err(|e| e.to_string())?,
        None => builder().build(),
    };
    match (&options.import, first_start) {
        (Some(path), true) => import(&mut engine, path)?,
        (Some(path), false) => tracing::info!(
            import = %path.display(),
            "the state is not new: its caches were imported on its first start; not importing again"
        ),
        (None, _) => {}
    }
    if let Some(store) = &mut store {
        store.commit(&mut engine).map_err(|e| e.to_string())?;
    }
    let request_ids = match seed {
        Some(seed) => RequestIds::seeded(seed),
        None => RequestIds::random(),
    };
    let keys = Auth::new(
        Keys::new(options.access_keys.iter().cloned()),
        options.freshness,
    );
    let app = App::new(
        engine,
        store,
        keys,
        clock.clone(),
        faults,
        request_ids,
        builder,
    );
    Ok((app, clock))
}

/// Adds the caches of `eci-imagecache gen` output (a `DescribeImageCaches`
/// body) to the default account.
///
/// # Errors
///
/// The file cannot be read or parsed, or a cache is refused
/// ([`Engine::import_all_as`]: then nothing is added); the message names
/// the file (and the cache).
pub fn import(engine: &mut Engine, path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: DescribeImageCachesResponse =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let caches = doc
        .image_caches
        .into_iter()
        .map(eci_imagecache::record::ImageCache::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    engine
        .import_all_as(DEFAULT_ACCOUNT, caches)
        .map_err(|refused| format!("{}: {refused}", path.display()))?;
    Ok(())
}

/// Serves until SIGINT or SIGTERM, then saves the state.
///
/// # Errors
///
/// What stops the server from starting (a state that cannot be opened,
/// locked or loaded, an import refused, an address that cannot be bound)
/// or from saving at the end.
pub fn run(options: Options) -> std::io::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let mut options = options;
    let (app, clock) = build(&options, Faults::default()).map_err(std::io::Error::other)?;
    let app_clock_manual = clock.manual().is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.listen).await?;
        let ids: Vec<String> = options
            .access_keys
            .iter()
            .map(|(id, _)| id.clone())
            .collect();
        if ids.is_empty() {
            tracing::warn!(
                "no --access-key given: request signatures are NOT checked; only requests for Host {} are answered",
                listener.local_addr()?
            );
        } else {
            tracing::info!(?ids, freshness = options.freshness, "signatures checked (V3 and V2)");
            if options.control_token.is_none() {
                let token = random_token();
                tracing::info!(%token, "control token (header x-eci-emulator-token) for /_emulator/*");
                options.control_token = Some(token);
            }
        }
        tracing::info!(
            listen = %listener.local_addr()?,
            state = ?options.state,
            manual_clock = app_clock_manual,
            "eci-imagecache emulator ready"
        );
        serve_on(listener, app.clone(), &options, shutdown()).await?;
        tracing::info!("shutting down: saving state");
        app.checkpoint()
    });
    // A handler still running (connections were closed) does not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    outcome
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
