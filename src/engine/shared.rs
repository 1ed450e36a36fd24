//! An engine many threads use at once.

use std::cell::RefCell;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{CreateRequest, CreateResponse, DeleteRequest, Engine, UpdateRequest};
use crate::automatch::{AutoMatchOutcome, AutoMatchRequest};
use crate::describe::{DescribePage, DescribeRequest};
use crate::error::ApiError;
use crate::index::Scratch;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// An [`Engine`] behind a reader-writer lock: queries run in parallel,
/// mutations one at a time, and a query sees the state before or after a
/// mutation, never part of one (every mutation, including the lifecycle
/// steps that time makes due, happens under the write lock).
///
/// Clones share the engine.
///
/// ```
/// use eci_imagecache::describe::DescribeRequest;
/// use eci_imagecache::engine::{CreateRequest, Engine, SharedEngine, DEFAULT_ACCOUNT};
///
/// let shared = SharedEngine::new(Engine::builder().seed(1).instant(true).build());
/// let writer = shared.clone();
/// std::thread::spawn(move || {
///     writer.create_as(DEFAULT_ACCOUNT, &CreateRequest::new("cn-hangzhou", "web").image("nginx").unwrap())
/// }).join().unwrap()?;
/// let total = shared.describe_as(DEFAULT_ACCOUNT, &DescribeRequest::new("cn-hangzhou"), |page| {
///     page.map(|p| p.total_count)
/// })?;
/// assert_eq!(total, 1);
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SharedEngine {
    inner: Arc<RwLock<Engine>>,
}

impl SharedEngine {
    /// Shares an engine.
    pub fn new(engine: Engine) -> Self {
        SharedEngine {
            inner: Arc::new(RwLock::new(engine)),
        }
    }

    /// Read access, after applying whatever time has made due.
    pub fn read(&self) -> RwLockReadGuard<'_, Engine> {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        if !guard.is_due() {
            return guard;
        }
        drop(guard);
        self.write().tick();
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access (one writer at a time).
    pub fn write(&self) -> RwLockWriteGuard<'_, Engine> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// `DescribeImageCaches` under a read lock; `f` sees the page (which
    /// borrows the engine) and returns what the caller keeps. The page is
    /// as of the last tick (see [`Engine::describe_as_of_last_tick`]), so
    /// readers run side by side.
    pub fn describe_as<R>(
        &self,
        account: &str,
        request: &DescribeRequest,
        f: impl FnOnce(Result<DescribePage<'_>, ApiError>) -> R,
    ) -> R {
        let engine = self.read();
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            f(engine.describe_as_of_last_tick(account, request, &mut scratch))
        })
    }

    /// `CreateImageCache` for an account ([`Engine::create_as`]).
    ///
    /// # Errors
    ///
    /// As [`Engine::create_as`].
    pub fn create_as(
        &self,
        account: &str,
        request: &CreateRequest,
    ) -> Result<CreateResponse, ApiError> {
        self.write().create_as(account, request)
    }

    /// `UpdateImageCache` for an account ([`Engine::update_as`]).
    ///
    /// # Errors
    ///
    /// As [`Engine::update_as`].
    pub fn update_as(&self, account: &str, request: &UpdateRequest) -> Result<(), ApiError> {
        self.write().update_as(account, request)
    }

    /// `DeleteImageCache` for an account ([`Engine::delete_as`]).
    ///
    /// # Errors
    ///
    /// As [`Engine::delete_as`].
    pub fn delete_as(&self, account: &str, request: &DeleteRequest) -> Result<(), ApiError> {
        self.write().delete_as(account, request)
    }

    /// Auto-match (a hit changes the cache, so it takes the write lock).
    ///
    /// # Errors
    ///
    /// As [`Engine::auto_match_as`].
    pub fn auto_match_as(
        &self,
        account: &str,
        request: &AutoMatchRequest,
    ) -> Result<AutoMatchOutcome, ApiError> {
        self.write().auto_match_as(account, request)
    }

    /// Saves the state: serialised under a read lock, written without one.
    ///
    /// # Errors
    ///
    /// As [`Engine::save`].
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<(), super::SaveError> {
        let bytes = self.read().to_bytes();
        super::persist::write_atomically(path.as_ref(), &bytes)
    }
}
