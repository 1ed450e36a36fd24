//! Building the application before it serves: the state store opened and
//! locked ([`open`], quick, before the socket is bound), then the engine
//! loaded from it and the caches imported ([`load`], possibly long, while
//! the socket already answers "loading"). [`build`] does both, for tests.

use std::sync::Arc;

use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine, EngineBuilder};
use eci_imagecache::ids::RequestIds;
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::store::Store;
use eci_imagecache::wire::json::DescribeImageCachesResponse;

use crate::app::{App, Auth};
use crate::clock::ServerClock;
use crate::faults::Faults;
use crate::progress;
use crate::serve::Options;
use crate::signature::Keys;

/// The state store opened and locked, and the clock it runs on: what
/// [`load`] goes on from.
#[derive(Debug)]
pub struct Opened {
    store: Option<Store>,
    clock: ServerClock,
}

impl Opened {
    /// The clock the application will run on.
    pub fn clock(&self) -> &ServerClock {
        &self.clock
    }
}

/// Opens and locks the state store, and finds the clock: the store's
/// manual clock if it has one (the clock is part of the acknowledged
/// state: `--now` only starts the manual clock of a new state), else
/// `options.now`'s, else the system clock.
///
/// # Errors
///
/// A message naming the file: the state is held by another process, is not
/// a state store, or cannot be read.
pub fn open(options: &Options) -> Result<Opened, String> {
    let store = options
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
        tracing::info!(%at, now = ?options.now, "the state runs on a manual clock: resuming it");
    }
    Ok(Opened {
        store,
        clock: ServerClock::new(saved_clock.or(options.now)),
    })
}

/// Loads the engine from the opened store, imports `options.import` on the
/// state's first start, and makes the application. Shows progress on a
/// terminal.
///
/// # Errors
///
/// A message naming the file: the state does not load, the import file
/// cannot be read or holds a bad or duplicate cache (nothing is imported,
/// and the state stays new).
pub fn load(options: &Options, opened: Opened, faults: Faults) -> Result<Arc<App>, String> {
    let Opened { mut store, clock } = opened;
    let builder = engine_builder(options, &clock, &faults);
    let first_start = store.as_ref().is_none_or(Store::is_new);
    let mut engine = match &mut store {
        Some(store) => {
            let _shown = progress::spinner(format!("loading {}", store.path().display()));
            store.load(builder()).map_err(|e| e.to_string())?
        }
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
        let _shown = progress::spinner(format!("saving {}", store.path().display()));
        store.commit(&mut engine).map_err(|e| e.to_string())?;
    }
    let request_ids = match options.seed {
        Some(seed) => RequestIds::seeded(seed),
        None => RequestIds::random(),
    };
    let keys = Auth::new(
        Keys::new(options.access_keys.iter().cloned()),
        options.freshness,
    );
    let app = App::new(engine, store, keys, clock, faults, request_ids, builder);
    app.history.set_capacity(options.request_history);
    Ok(app)
}

/// [`open`] then [`load`]: the application, without serving it (for tests).
///
/// # Errors
///
/// Those of [`open`] and [`load`].
pub fn build(options: &Options, faults: Faults) -> Result<(Arc<App>, ServerClock), String> {
    let opened = open(options)?;
    let clock = opened.clock.clone();
    Ok((load(options, opened, faults)?, clock))
}

/// What every engine of this server is built from (at start and whenever
/// it is rebuilt from the store): the options' settings, the clock, the
/// faults' failure predicate.
fn engine_builder(
    options: &Options,
    clock: &ServerClock,
    faults: &Faults,
) -> impl Fn() -> EngineBuilder + Send + Sync + 'static {
    let (seed, quota, durations, strict) = (
        options.seed,
        options.quota,
        options.durations,
        options.strict_references,
    );
    let (page_cap, strict_params) = (options.page_cap, options.strict_params);
    let clock = clock.clone();
    let predicate = faults.predicate();
    move || {
        let mut b: EngineBuilder = Engine::builder()
            .clock(clock.clone())
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
    }
}

/// Adds the caches of `eci-imagecache gen` output (a `DescribeImageCaches`
/// body) to the default account, showing progress on a terminal.
///
/// # Errors
///
/// The file cannot be read or parsed, or a cache is refused
/// ([`Engine::import_all_as`]: then nothing is added); the message names
/// the file (and the cache).
pub fn import(engine: &mut Engine, path: &std::path::Path) -> Result<(), String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let text = progress::read_file(path).map_err(|e| named(&e))?;
    let doc: DescribeImageCachesResponse = {
        let _shown = progress::spinner(format!("parsing {}", path.display()));
        serde_json::from_slice(&text).map_err(|e| named(&e))?
    };
    drop(text);
    let bar = progress::counter(doc.image_caches.len() as u64, "checking caches");
    let caches = doc
        .image_caches
        .into_iter()
        .map(|cache| {
            bar.inc(1);
            eci_imagecache::record::ImageCache::try_from(cache)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| named(&e))?;
    bar.finish_and_clear();
    let _shown = progress::spinner(format!("importing {} caches", caches.len()));
    engine
        .import_all_as(DEFAULT_ACCOUNT, caches)
        .map_err(|refused| named(&refused))?;
    Ok(())
}
