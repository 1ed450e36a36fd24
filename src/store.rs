//! A transactional store for an [`Engine`] (feature `sqlite`): every change
//! is written, in one SQLite transaction, before the caller acknowledges it.
//!
//! The store keeps **effects, not requests**: the records a call (or a due
//! transition) changed and their operations in progress (a removed cache's
//! row is deleted), the remembered `ClientToken`s, the id generator and the
//! manual clock's time. [`Store::load`] rebuilds the engine from those rows, identically,
//! whatever the settings it is started with (quota, durations, strictness
//! only govern what happens next).
//!
//! * **Durable**: WAL journal, `synchronous=FULL`, so a commit that
//!   returned `Ok` survives a crash or a power loss.
//! * **One writer**: the database is opened with `locking_mode=EXCLUSIVE`
//!   and locked at once, for the life of the [`Store`]; a second process
//!   gets [`StoreError::Locked`].
//! * **All or nothing**: a failed [`Store::commit`] (disk full, I/O error)
//!   writes nothing; the engine is then ahead of the store, and the caller
//!   must rebuild it with [`Store::load`] before answering anything else.
//!
//! # Tables
//!
//! The file opens in the `sqlite3` shell (when no process holds it):
//!
//! | table | columns |
//! |---|---|
//! | `meta` | `key`, `value`: `format` (`1`), `id_key` (hex), `id_counter` (ids drawn), `token_key` (hex, the `NextToken` MAC key), `clock` (the manual clock's Unix seconds; absent for the system clock) |
//! | `caches` | `account`, `region_id`, `image_cache_id`, `creation_time` (Unix seconds), `record` (the cache as JSON, the export format's record), `run` (the create or update in progress as JSON, or `NULL`) |
//! | `client_tokens` | `account`, `region_id`, `action` (`Create`/`Update`/`Delete`), `token`, `at` (Unix seconds), `remembered` (JSON: the parameters' fingerprint and the answer) |
//!
//! ```sh
//! sqlite3 state.db "SELECT image_cache_id, json_extract(record, '$.status') FROM caches"
//! ```
//!
//! # Example
//!
//! ```
//! use eci_imagecache::clock::ManualClock;
//! use eci_imagecache::engine::{CreateRequest, Engine};
//! use eci_imagecache::store::Store;
//!
//! let dir = std::env::temp_dir().join(format!("eci-store-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("state.db");
//! # let _ = std::fs::remove_file(&path);
//! let clock = ManualClock::new("2024-05-01T08:00:00Z".parse().unwrap());
//! let id = {
//!     let mut store = Store::open(&path)?;
//!     let mut engine = store.load(Engine::builder().clock(clock.clone()).seed(1))?;
//!     let created = engine.create(&CreateRequest::new("cn-hangzhou", "web").image("nginx")?)?;
//!     store.commit(&mut engine)?; // durable: now it may be acknowledged
//!     created.image_cache_id
//! };
//! // Another start, other settings: the same caches, the same ids.
//! let mut store = Store::open(&path)?;
//! let engine = store.load(Engine::builder().quota(1))?;
//! assert!(engine.index("", "cn-hangzhou").unwrap().get(&id).is_some());
//! # drop(store);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::engine::persist::{RegionState, State, TokenState};
use crate::engine::{Engine, EngineBuilder, LoadError};

/// The store format this build writes and reads.
pub const STORE_FORMAT: u32 = 1;

/// The page size of a new store's file.
const STORE_PAGE_SIZE: u32 = 16 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS caches (
    account TEXT NOT NULL,
    region_id TEXT NOT NULL,
    image_cache_id TEXT NOT NULL,
    creation_time INTEGER NOT NULL,
    record TEXT NOT NULL,
    run TEXT,
    PRIMARY KEY (account, region_id, image_cache_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS client_tokens (
    account TEXT NOT NULL,
    region_id TEXT NOT NULL,
    action TEXT NOT NULL,
    token TEXT NOT NULL,
    at INTEGER NOT NULL,
    remembered TEXT NOT NULL,
    PRIMARY KEY (account, region_id, action, token)
) WITHOUT ROWID;
";

/// Why the store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another [`Store`] in this one) holds the state.
    #[error("{}: the state is in use by another process", path.display())]
    Locked {
        /// The state's path.
        path: PathBuf,
    },
    /// The file is not a state store (for example a state file of the
    /// export format, or something else entirely).
    #[error("{}: not an eci-imagecache state store: {why}", path.display())]
    NotAStore {
        /// The state's path.
        path: PathBuf,
        /// What was found.
        why: String,
    },
    /// Written by a newer version of this library.
    #[error("{}: state store format {found} is newer than the supported format {STORE_FORMAT}", path.display())]
    UnsupportedFormat {
        /// The state's path.
        path: PathBuf,
        /// The format found.
        found: String,
    },
    /// The rows do not make a valid state.
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The state's path.
        path: PathBuf,
        /// What is wrong.
        source: LoadError,
    },
    /// SQLite failed (disk full, I/O error, …); nothing was written.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The state's path.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// An open state store, holding its lock. See the [module docs](self).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    fresh: bool,
    /// The id counter and clock as last written, so a commit with nothing
    /// new writes nothing.
    written: Option<(u64, Option<i64>)>,
}

impl Store {
    /// Opens the store at `path`, creating it if missing, and locks it for
    /// the life of the returned value.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] when another process holds it,
    /// [`StoreError::NotAStore`] for a file that is not a store,
    /// [`StoreError::UnsupportedFormat`] for a newer format,
    /// [`StoreError::Sqlite`] when it cannot be created or read.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_owned();
        if let Ok(head) = read_head(&path)
            && head.starts_with(b"ECIIMCST")
        {
            return Err(StoreError::NotAStore {
                path,
                why: "this is a state file of the export format (Engine::save); \
                      load it with EngineBuilder::load and save it into a new store"
                    .to_owned(),
            });
        }
        let error = |source: rusqlite::Error| classify(&path, source);
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(error)?;
        conn.busy_timeout(Duration::ZERO).map_err(error)?;
        // A new file only (an existing one keeps its page size): a cache's
        // row, about 1 KiB of JSON, fits in a 16 KiB page of the
        // WITHOUT ROWID table; in the default 4 KiB pages anything over
        // about 1 000 bytes goes to an overflow page of its own, which
        // made the file 3.8 KiB a cache and the load read it all.
        conn.pragma_update(None, "page_size", STORE_PAGE_SIZE)
            .map_err(error)?;
        // Exclusive before WAL: no shared-memory file, and the lock, once
        // taken, is held until the connection closes.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(error)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotAStore {
                path,
                why: format!("cannot use the WAL journal (journal_mode is {mode})"),
            });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(error)?;
        conn.execute_batch("BEGIN EXCLUSIVE").map_err(error)?;
        let fresh = (|| {
            conn.execute_batch(SCHEMA)?;
            let format: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok::<_, rusqlite::Error>(format)
        })();
        let format = match fresh {
            Ok(format) => format,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(error(e));
            }
        };
        conn.execute_batch("COMMIT").map_err(error)?;
        if let Some(found) = &format
            && found != &STORE_FORMAT.to_string()
        {
            return Err(StoreError::UnsupportedFormat {
                path,
                found: found.clone(),
            });
        }
        Ok(Store {
            conn,
            path,
            fresh: format.is_none(),
            written: None,
        })
    }

    /// Opens an existing store for reading only, for tools that look at a
    /// state without changing it (`eci-imagecache match`): the file is
    /// never created or written, not even its schema; [`Store::commit`]
    /// fails. Refused while a process holds the store.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotAStore`] for a file that is missing, of the export
    /// format or not a state store; [`StoreError::UnsupportedFormat`];
    /// [`StoreError::Locked`] while a server or `run` holds it.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_owned();
        let head = read_head(&path).map_err(|e| StoreError::NotAStore {
            path: path.clone(),
            why: e.to_string(),
        })?;
        if head.starts_with(b"ECIIMCST") {
            return Err(StoreError::NotAStore {
                path,
                why: "this is a state file of the export format (Engine::save)".to_owned(),
            });
        }
        let error = |source: rusqlite::Error| classify(&path, source);
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(error)?;
        conn.busy_timeout(Duration::ZERO).map_err(error)?;
        let format: Result<Option<String>, _> = conn
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                r.get(0)
            })
            .optional();
        let format = match format {
            Ok(format) => format,
            Err(e) => match classify(&path, e) {
                StoreError::Sqlite { source, .. } => {
                    return Err(StoreError::NotAStore {
                        path,
                        why: format!("not a state store ({source})"),
                    });
                }
                other => return Err(other),
            },
        };
        match format {
            None => Err(StoreError::NotAStore {
                path,
                why: "not a state store (it holds no state)".to_owned(),
            }),
            Some(found) if found != STORE_FORMAT.to_string() => {
                Err(StoreError::UnsupportedFormat { path, found })
            }
            Some(_) => Ok(Store {
                conn,
                path,
                fresh: false,
                written: None,
            }),
        }
    }

    /// The path it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store held no state when opened (a first start).
    pub fn is_new(&self) -> bool {
        self.fresh
    }

    /// The manual clock's saved time (`None`: the state runs on the system
    /// clock, or the store is new).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] when reading fails.
    pub fn manual_clock(&self) -> Result<Option<jiff::Timestamp>, StoreError> {
        Ok(self
            .meta("clock")?
            .and_then(|s| s.parse::<i64>().ok())
            .map(crate::clock::timestamp))
    }

    /// The engine the store holds, built with `builder`'s settings (clock,
    /// quota, durations, rules, failure predicate); its saved ids, token key
    /// and manual-clock time replace the builder's, as
    /// [`EngineBuilder::load`] does. A new store gets `builder`'s engine,
    /// written whole by the first [`Store::commit`] (so a first start that
    /// fails before it, say in an import, leaves the store new).
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] when the rows do not make a valid state,
    /// [`StoreError::Sqlite`] when reading or the first write fails.
    pub fn load(&mut self, builder: EngineBuilder) -> Result<Engine, StoreError> {
        if self.fresh {
            let mut engine = builder.build();
            engine.track_changes();
            return Ok(engine);
        }
        let state = self.read_state().map_err(|e| self.error(e))?;
        self.written = Some((state.ids.1, state.clock));
        let mut engine = builder
            .load_state(state)
            .map_err(|source| StoreError::Invalid {
                path: self.path.clone(),
                source,
            })?;
        engine.track_changes();
        Ok(engine)
    }

    /// Writes what changed in `engine` since it was loaded or last
    /// committed, in one transaction. After `Ok`, the changes survive any
    /// crash.
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`] (disk full, I/O error): nothing was written,
    /// and `engine` is ahead of the store; rebuild it with [`Store::load`].
    pub fn commit(&mut self, engine: &mut Engine) -> Result<(), StoreError> {
        if self.fresh {
            // The first write of a new store is the whole state.
            return self.replace(engine);
        }
        let changes = engine.take_changes();
        let (_, id_counter) = engine.id_state();
        let clock = manual_now(engine);
        if changes.caches.is_empty()
            && changes.tokens.is_empty()
            && self.written == Some((id_counter, clock))
        {
            return Ok(());
        }
        self.transact(|tx| {
            for ((account, region), id, now) in &changes.caches {
                match now {
                    Some((record, run)) => put_cache(tx, account, region, record, run.as_ref())?,
                    None => {
                        tx.prepare_cached(
                            "DELETE FROM caches WHERE account = ?1 AND region_id = ?2 AND image_cache_id = ?3",
                        )?
                        .execute(params![account, region, id])?;
                    }
                }
            }
            for ((account, region), action, token, now) in &changes.tokens {
                match now {
                    Some(remembered) => put_token(tx, account, region, *action, token, remembered)?,
                    None => {
                        tx.prepare_cached(
                            "DELETE FROM client_tokens WHERE account = ?1 AND region_id = ?2 AND action = ?3 AND token = ?4",
                        )?
                        .execute(params![account, region, json(action), token])?;
                    }
                }
            }
            write_meta(tx, "id_counter", &id_counter.to_string())?;
            match clock {
                Some(t) => write_meta(tx, "clock", &t.to_string()),
                None => tx
                    .execute("DELETE FROM meta WHERE key = 'clock'", [])
                    .map(drop),
            }
        })?;
        self.written = Some((id_counter, clock));
        Ok(())
    }

    /// Replaces everything the store holds with `engine`'s whole state, in
    /// one transaction (a reset, an import, a first start).
    ///
    /// # Errors
    ///
    /// [`StoreError::Sqlite`]: nothing was written; the store holds what
    /// it held before.
    pub fn replace(&mut self, engine: &mut Engine) -> Result<(), StoreError> {
        let state = engine.to_state();
        self.transact(|tx| {
            tx.execute_batch("DELETE FROM caches; DELETE FROM client_tokens; DELETE FROM meta;")?;
            write_meta(tx, "format", &STORE_FORMAT.to_string())?;
            write_meta(tx, "id_key", &hex(&state.ids.0))?;
            write_meta(tx, "id_counter", &state.ids.1.to_string())?;
            write_meta(tx, "token_key", &hex(&state.token_key))?;
            if let Some(t) = state.clock {
                write_meta(tx, "clock", &t.to_string())?;
            }
            for region in &state.regions {
                let (account, region_id) = (&region.account, &region.region_id);
                let runs: BTreeMap<&str, _> =
                    region.runs.iter().map(|(id, r)| (id.as_str(), r)).collect();
                for c in &region.caches {
                    put_cache(tx, account, region_id, c, runs.get(c.id()).copied())?;
                }
                for t in &region.tokens {
                    put_token(tx, account, region_id, t.action, &t.token, &t.remembered)?;
                }
            }
            Ok(())
        })?;
        engine.forget_changes();
        engine.track_changes();
        self.fresh = false;
        self.written = Some((state.ids.1, state.clock));
        Ok(())
    }

    /// Runs `write` in one transaction and commits it; on any error nothing
    /// is written (and the no-op short-cut of [`Store::commit`] is off until
    /// a write succeeds).
    fn transact(
        &mut self,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<(), StoreError> {
        self.written = None;
        let tx = self
            .conn
            .transaction()
            .map_err(|e| classify(&self.path, e))?;
        // On an error `tx` is dropped, which rolls it back.
        write(&tx).map_err(|e| classify(&self.path, e))?;
        tx.commit().map_err(|e| classify(&self.path, e))
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.meta_row(key).map_err(|e| classify(&self.path, e))
    }

    fn meta_row(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    }

    fn error(&self, why: ReadError) -> StoreError {
        match why {
            ReadError::Sqlite(e) => classify(&self.path, e),
            ReadError::Invalid(why) => StoreError::Invalid {
                path: self.path.clone(),
                source: LoadError::Invalid(why),
            },
        }
    }

    /// Every cache row, decoded, by region. SQLite steps through the rows
    /// on this thread while the other cores decode their JSON,
    /// [`DECODE_BATCH`] rows at a time (decoding is the slower half), with
    /// only a few batches in flight: a read of 100 000 caches takes about
    /// 0.6 s instead of 0.9 s.
    fn read_caches(&self) -> Result<BTreeMap<(String, String), RegionState>, ReadError> {
        // In the table's own key order, which SQLite reads without sorting:
        // the index's build puts them in rank order itself, moving each
        // record once. (In creation order SQLite sorted every record through
        // temporary files first: a load of 100 000 caches took 1.41 s
        // against 1.15 s, `profile_load`.)
        let mut statement = self.conn.prepare(
            "SELECT account, region_id, image_cache_id, record, run FROM caches \
             ORDER BY account, region_id, image_cache_id",
        )?;
        let mut rows = statement.query([])?;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
        let (batches, to_decode) = std::sync::mpsc::sync_channel::<(usize, Batch)>(2 * workers);
        let to_decode = std::sync::Mutex::new(to_decode);
        // The first batch known to hold an invalid row (`usize::MAX`: none).
        let failed_at = std::sync::atomic::AtomicUsize::new(usize::MAX);
        let (read, mut decoded) = std::thread::scope(|scope| {
            let decoders: Vec<_> = (0..workers)
                .map(|_| scope.spawn(|| decode_batches(&to_decode, &failed_at)))
                .collect();
            let mut batch = Batch::default();
            let mut sent = 0;
            let read = loop {
                let row = match rows.next() {
                    Ok(Some(row)) => row,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                };
                if let Err(e) = batch.push(row) {
                    break Err(e);
                }
                if batch.rows.len() == DECODE_BATCH {
                    // Once a row is known to be invalid, the rest need
                    // not be read.
                    if failed_at.load(std::sync::atomic::Ordering::Relaxed) != usize::MAX
                        || batches.send((sent, std::mem::take(&mut batch))).is_err()
                    {
                        break Ok(());
                    }
                    sent += 1;
                }
            };
            // The last rows (dropped unread if a decoder already failed).
            let _ = batches.send((sent, batch));
            drop(batches);
            let decoded: Vec<(usize, Result<Vec<CacheRow>, ReadError>)> = decoders
                .into_iter()
                .flat_map(|d| {
                    d.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect();
            (read, decoded)
        });
        read?;
        // In row order, so the first invalid row is the one named.
        decoded.sort_unstable_by_key(|&(at, _)| at);
        let mut regions: BTreeMap<(String, String), RegionState> = BTreeMap::new();
        for (_, rows) in decoded {
            for row in rows? {
                let r = region_of(&mut regions, row.account, row.region_id);
                if let Some(run) = row.run {
                    r.runs.push((row.cache.id().to_owned(), run));
                }
                r.caches.push(row.cache);
            }
        }
        Ok(regions)
    }

    fn read_state(&self) -> Result<State, ReadError> {
        let meta = |key: &str| -> Result<String, ReadError> {
            self.meta_row(key)?
                .ok_or_else(|| ReadError::Invalid(format!("meta row {key:?} is missing")))
        };
        let id_key = unhex(&meta("id_key")?).ok_or_else(|| invalid("meta id_key"))?;
        let id_counter: u64 = meta("id_counter")?
            .parse()
            .map_err(|_| invalid("meta id_counter"))?;
        let token_key = unhex(&meta("token_key")?).ok_or_else(|| invalid("meta token_key"))?;
        let clock = self
            .meta_row("clock")?
            .map(|s| s.parse::<i64>().map_err(|_| invalid("meta clock")))
            .transpose()?;
        let mut regions = self.read_caches()?;
        let mut statement = self.conn.prepare(
            "SELECT account, region_id, action, token, remembered FROM client_tokens \
             ORDER BY account, region_id, at, token, action",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let (account, region_id): (String, String) = (row.get(0)?, row.get(1)?);
            let (action, token, remembered): (String, String, String) =
                (row.get(2)?, row.get(3)?, row.get(4)?);
            let action = serde_json::from_str(&action)
                .map_err(|e| ReadError::Invalid(format!("token {token:?}: {e}")))?;
            let remembered = serde_json::from_str(&remembered)
                .map_err(|e| ReadError::Invalid(format!("token {token:?}: {e}")))?;
            let r = region_of(&mut regions, account, region_id);
            r.tokens.push(TokenState {
                action,
                token,
                remembered,
            });
        }
        Ok(State {
            clock,
            ids: (id_key, id_counter),
            token_key,
            regions: regions.into_values().collect(),
        })
    }
}

/// A decoding thread of [`Store::read_caches`]: every batch it takes,
/// decoded, by batch number. It takes batches until the channel closes,
/// even after an invalid row (it then only drops those after it), so the
/// reader never waits on a send no one takes; rows before the first
/// invalid one are still decoded, so that one is named.
fn decode_batches(
    to_decode: &std::sync::Mutex<std::sync::mpsc::Receiver<(usize, Batch)>>,
    failed_at: &std::sync::atomic::AtomicUsize,
) -> Vec<(usize, Result<Vec<CacheRow>, ReadError>)> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut out = Vec::new();
    loop {
        // Nothing panics while holding the lock.
        let next = to_decode
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv();
        let Ok((at, batch)) = next else {
            return out;
        };
        if at > failed_at.load(Relaxed) {
            continue;
        }
        // A decoder that panicked would take the load down with it at
        // `join`; its batch is an error like any other.
        let rows = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| batch.decode()))
            .unwrap_or_else(|_| {
                Err(ReadError::Invalid(format!(
                    "the rows of batch {at} could not be decoded"
                )))
            });
        if rows.is_err() {
            failed_at.fetch_min(at, Relaxed);
        }
        out.push((at, rows));
    }
}

/// Cache rows handed to the decoding thread at a time.
const DECODE_BATCH: usize = 1024;

/// Cache rows as SQLite returns them, their text in one buffer (one
/// allocation a batch, not five a row).
#[derive(Default)]
struct Batch {
    text: String,
    rows: Vec<RawRow>,
}

/// Where a row's columns are in its batch's text.
struct RawRow {
    account: std::ops::Range<usize>,
    region_id: std::ops::Range<usize>,
    id: std::ops::Range<usize>,
    record: std::ops::Range<usize>,
    run: Option<std::ops::Range<usize>>,
}

/// A cache row decoded.
struct CacheRow {
    account: String,
    region_id: String,
    cache: crate::record::ImageCache,
    run: Option<crate::engine::lifecycle::Run>,
}

impl Batch {
    /// Appends a row of `SELECT account, region_id, image_cache_id, record,
    /// run`.
    fn push(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        let text = |i: usize| -> rusqlite::Result<Option<&str>> {
            match row.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Ok(None),
                value => value.as_str().map(Some).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(i, value.data_type(), Box::new(e))
                }),
            }
        };
        let required = |i: usize| {
            text(i)?.ok_or(rusqlite::Error::InvalidColumnType(
                i,
                format!("column {i}"),
                rusqlite::types::Type::Null,
            ))
        };
        let mut put = |s: &str| {
            let start = self.text.len();
            self.text.push_str(s);
            start..self.text.len()
        };
        let raw = RawRow {
            account: put(required(0)?),
            region_id: put(required(1)?),
            id: put(required(2)?),
            record: put(required(3)?),
            run: text(4)?.map(&mut put),
        };
        self.rows.push(raw);
        Ok(())
    }

    /// Every row decoded, or the first that does not decode.
    fn decode(&self) -> Result<Vec<CacheRow>, ReadError> {
        let mut region: (&str, &str) = ("", "");
        let (mut account, mut region_id) = (String::new(), String::new());
        let mut out = Vec::with_capacity(self.rows.len());
        for raw in &self.rows {
            let at = |range: &std::ops::Range<usize>| &self.text[range.clone()];
            // The rows of one region share its strings' text.
            if region != (at(&raw.account), at(&raw.region_id)) {
                region = (at(&raw.account), at(&raw.region_id));
                (account, region_id) = (region.0.to_owned(), region.1.to_owned());
            }
            let id = at(&raw.id);
            let cache: crate::record::ImageCache = serde_json::from_str(at(&raw.record))
                .map_err(|e| ReadError::Invalid(format!("cache {id}: {e}")))?;
            if cache.id() != id {
                return Err(ReadError::Invalid(format!(
                    "the row of cache {id} holds cache {}",
                    cache.id()
                )));
            }
            let run = match &raw.run {
                Some(run) => Some(
                    serde_json::from_str(at(run))
                        .map_err(|e| ReadError::Invalid(format!("run of cache {id}: {e}")))?,
                ),
                None => None,
            };
            out.push(CacheRow {
                account: account.clone(),
                region_id: region_id.clone(),
                cache,
                run,
            });
        }
        Ok(out)
    }
}

enum ReadError {
    Sqlite(rusqlite::Error),
    Invalid(String),
}

impl From<rusqlite::Error> for ReadError {
    fn from(e: rusqlite::Error) -> Self {
        ReadError::Sqlite(e)
    }
}

fn region_of(
    regions: &mut BTreeMap<(String, String), RegionState>,
    account: String,
    region_id: String,
) -> &mut RegionState {
    regions
        .entry((account.clone(), region_id.clone()))
        .or_insert_with(|| RegionState {
            account,
            region_id,
            caches: Vec::new(),
            runs: Vec::new(),
            tokens: Vec::new(),
        })
}

fn invalid(what: &str) -> ReadError {
    ReadError::Invalid(format!("{what} is not valid"))
}

fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let path = path.to_owned();
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { path },
        Some(ErrorCode::NotADatabase) => StoreError::NotAStore {
            path,
            why: source.to_string(),
        },
        _ => StoreError::Sqlite { path, source },
    }
}

/// A cache's row, written or replaced.
fn put_cache(
    tx: &rusqlite::Transaction<'_>,
    account: &str,
    region_id: &str,
    record: &crate::record::ImageCache,
    run: Option<&crate::engine::lifecycle::Run>,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO caches VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![
            account,
            region_id,
            record.id(),
            record.creation_time.as_second(),
            json(record),
            run.map(json),
        ])
        .map(drop)
}

/// A remembered `ClientToken`'s row, written or replaced.
fn put_token(
    tx: &rusqlite::Transaction<'_>,
    account: &str,
    region_id: &str,
    action: crate::engine::TokenAction,
    token: &str,
    remembered: &crate::engine::Remembered,
) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO client_tokens VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![
            account,
            region_id,
            json(&action),
            token,
            remembered.at,
            json(remembered),
        ])
        .map(drop)
}

fn write_meta(tx: &rusqlite::Transaction<'_>, key: &str, value: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO meta VALUES (?1, ?2)")?
        .execute([key, value])?;
    Ok(())
}

fn manual_now(engine: &Engine) -> Option<i64> {
    engine
        .clock()
        .as_manual()
        .map(|c| crate::clock::Clock::now(c).as_second())
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("state values serialise")
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(8);
    std::fs::File::open(path)?.take(8).read_to_end(&mut head)?;
    Ok(head)
}
