//! `eci-imagecache serve`: the emulator on a socket until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use eci_imagecache::api::RequestIds;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Durations, Engine, EngineBuilder};
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::store::Store;
use eci_imagecache::wire::json::DescribeImageCachesResponse;

use crate::app::{App, router};
use crate::clock::ServerClock;
use crate::faults::Faults;
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
    /// Access keys (id, secret); empty: signatures are not checked.
    pub access_keys: Vec<(String, String)>,
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
    if options.now.is_none()
        && let Some(at) = saved_clock
    {
        tracing::info!(%at, "the state runs on a manual clock: resuming it");
    }
    let clock = ServerClock::new(options.now.or(saved_clock));
    let (seed, quota, durations, strict) = (
        options.seed,
        options.quota,
        options.durations,
        options.strict_references,
    );
    let builder_clock = clock.clone();
    let predicate = faults.predicate();
    let builder = move || {
        let mut b: EngineBuilder = Engine::builder()
            .clock(builder_clock.clone())
            .durations(durations)
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
    if let (Some(now), Some(manual)) = (options.now, clock.manual()) {
        // `--now` wins over a saved manual clock.
        manual.set(now);
    }
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
    let keys = Keys::new(options.access_keys.iter().cloned());
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

/// Adds the caches of `eci-imagecache gen` output.
fn import(engine: &mut Engine, path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: DescribeImageCachesResponse =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for json in doc.image_caches {
        let cache = eci_imagecache::record::ImageCache::try_from(json)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let id = cache.id.clone();
        engine
            .import_as(DEFAULT_ACCOUNT, cache)
            .map_err(|e| format!("{}: {id}: {e}", path.display()))?;
    }
    Ok(())
}

/// Serves until SIGINT or SIGTERM, then saves the state.
pub fn run(options: Options) -> std::io::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let (app, clock) = build(&options, Faults::default()).map_err(std::io::Error::other)?;
    let app_clock_manual = clock.manual().is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.listen).await?;
        let ids: Vec<&str> = options
            .access_keys
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        if ids.is_empty() {
            tracing::warn!("no --access-key given: request signatures are NOT checked");
        } else {
            tracing::info!(?ids, "signatures checked (V3 and V2)");
        }
        tracing::info!(
            listen = %listener.local_addr()?,
            state = ?options.state,
            manual_clock = app_clock_manual,
            "eci-imagecache emulator ready"
        );
        axum::serve(listener, router(app.clone()))
            .with_graceful_shutdown(shutdown())
            .await?;
        tracing::info!("shutting down: saving state");
        app.checkpoint()
    })
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
