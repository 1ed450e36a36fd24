//! The application state every handler shares: the engine, the state
//! store it commits to, the keys, the clock and the faults.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLockReadGuard, RwLockWriteGuard};

use eci_imagecache::engine::{Engine, EngineBuilder, SharedEngine};
use eci_imagecache::ids::RequestIds;

use crate::clock::ServerClock;
use crate::faults::Faults;
use crate::history::{CallRecord, History};
use crate::metrics::Metrics;
use crate::signature::{Freshness, Keys};
use eci_imagecache::store::Store;

/// Everything the handlers share.
pub struct App {
    /// A write failed and so did rebuilding the engine from the store: the
    /// engine may be ahead of the store, so nothing is answered from it
    /// until a rebuild succeeds. An atomic, so readers need not take `inner`.
    pub(crate) broken: AtomicBool,
    /// Describes share it (read lock); everything else takes it alone.
    pub(crate) engine: SharedEngine,
    pub(crate) inner: Mutex<Inner>,
    /// Its own lock: an error body gets its id while a long commit or
    /// import holds `inner`.
    request_ids: Mutex<RequestIds>,
    pub(crate) keys: Auth,
    pub(crate) clock: ServerClock,
    pub(crate) faults: Faults,
    pub(crate) builder: Box<dyn Fn() -> EngineBuilder + Send + Sync>,
    /// The last API calls (`GET /_emulator/requests`).
    pub history: History,
    /// The metrics (`GET /_emulator/metrics`).
    pub metrics: Metrics,
    /// One `POST /_emulator/state` at a time: taken before the body is
    /// read.
    pub(crate) importing: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("broken", &self.broken)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
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

pub(crate) struct Inner {
    pub(crate) store: Option<Store>,
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
            engine: SharedEngine::new(engine),
            inner: Mutex::new(Inner { store }),
            request_ids: Mutex::new(request_ids),
            keys,
            clock,
            faults,
            builder: Box::new(builder),
            history: History::default(),
            metrics: Metrics::default(),
            importing: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }

    /// Keeps what is said of one API call: its log line, its place in the
    /// history, its metrics.
    pub(crate) fn record(&self, call: CallRecord) {
        crate::logging::call(&call);
        self.metrics.observe(&call);
        self.history.push(call);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `RequestId`.
    pub(crate) fn next_request_id(&self) -> String {
        self.request_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_id()
    }

    pub(crate) fn write_engine(&self) -> RwLockWriteGuard<'_, Engine> {
        self.engine.write()
    }

    /// The engine for reading, with what time has made due applied first.
    pub(crate) fn read_engine(&self) -> RwLockReadGuard<'_, Engine> {
        self.engine.read()
    }

    /// Commits what time has changed since the last call (graceful
    /// shutdown; every accepted change is already committed).
    ///
    /// # Errors
    ///
    /// The store's error when the commit fails; the engine is then rebuilt
    /// from the store, so memory is never ahead of disk.
    pub fn checkpoint(&self) -> std::io::Result<()> {
        let mut engine = self.write_engine();
        engine.tick();
        self.commit(&mut engine, &mut self.lock())
    }

    /// Makes `engine`'s changes durable. On failure, rebuilds the engine
    /// from the store (memory is never ahead of disk) and says why.
    pub(crate) fn commit(&self, engine: &mut Engine, inner: &mut Inner) -> std::io::Result<()> {
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
    pub(crate) fn rebuild(&self, engine: &mut Engine, store: &mut Store) -> std::io::Result<()> {
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
}
