//! `eci-imagecache serve`: the emulator on a socket until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use eci_imagecache::api::RequestIds;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Durations, Engine, EngineBuilder};
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::wire::json::DescribeImageCachesResponse;

use crate::app::{App, router};
use crate::clock::ServerClock;
use crate::faults::Faults;
use crate::signature::Keys;
use crate::store::Store;

/// How to run the emulator.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Snapshot file (and `<FILE>.journal`): loaded at start, every
    /// accepted change durable before its response.
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

/// Builds the application (engine loaded, journal replayed, caches
/// imported) without serving it: for tests and for [`run`].
pub fn build(options: &Options, faults: Faults) -> Result<(Arc<App>, ServerClock), String> {
    let clock = ServerClock::new(options.now);
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
    let (store, mut engine) = match &options.state {
        Some(path) => {
            let (store, engine) = Store::open(path, &builder, &clock, &faults)?;
            (Some(store), engine)
        }
        None => (None, builder().build()),
    };
    if let Some(path) = &options.import {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc: DescribeImageCachesResponse =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for json in doc.image_caches {
            let cache = eci_imagecache::record::ImageCache::try_from(json)?;
            let id = cache.id.clone();
            engine
                .import_as(DEFAULT_ACCOUNT, cache)
                .map_err(|e| format!("{}: {id}: {e}", path.display()))?;
        }
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
    if options.import.is_some() {
        app.checkpoint().map_err(|e| e.to_string())?;
    }
    Ok((app, clock))
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
    let (app, _) = build(&options, Faults::default()).map_err(std::io::Error::other)?;
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
            manual_clock = options.now.is_some(),
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
