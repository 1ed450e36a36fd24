//! Durable state for the server: a snapshot (the engine's state file) and a
//! journal of the calls accepted since, one JSON line each, synced to disk
//! before the call's response is sent. Starting replays the journal over
//! the snapshot at each call's recorded time, then writes a new snapshot
//! and empties the journal; so does a graceful shutdown.
//!
//! A crash can leave at most a torn last line (its response was never
//! sent): it is ignored. Anything else unreadable stops the start with an
//! error rather than losing accepted calls.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use eci_imagecache::api::{self, RequestIds};
use eci_imagecache::engine::{Engine, EngineBuilder};
use serde::{Deserialize, Serialize};

use crate::clock::ServerClock;
use crate::faults::{FailureFault, Faults};

/// One accepted change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Engine time of the call, seconds.
    pub at: i64,
    /// What happened.
    #[serde(flatten)]
    pub change: Change,
}

/// The kinds of accepted change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Change {
    /// An API call that succeeded.
    Call {
        /// The account.
        account: String,
        /// The action.
        action: String,
        /// Its flat parameters.
        params: Vec<(String, String)>,
        /// The injected failure it used up, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<FailureFault>,
    },
    /// The manual clock was set to `at`.
    Clock,
}

/// The snapshot and the open journal.
#[derive(Debug)]
pub struct Store {
    snapshot: PathBuf,
    journal: File,
    /// Entries in the journal since the last snapshot.
    entries: usize,
}

/// The journal is folded into a new snapshot after this many entries, so
/// it (and the replay at start) stays bounded in a long run.
pub const COMPACT_AFTER: usize = 10_000;

fn journal_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

impl Store {
    /// Opens the state at `path` (snapshot and journal, either may be
    /// missing), rebuilding the engine with `builder`; returns the store
    /// and the engine, compacted.
    pub fn open(
        path: &Path,
        builder: impl Fn() -> EngineBuilder,
        clock: &ServerClock,
        faults: &Faults,
    ) -> Result<(Store, Engine), String> {
        let mut engine = if path.exists() {
            builder()
                .load(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            builder().build()
        };
        let journal_path = journal_path(path);
        if journal_path.exists() {
            let file = File::open(&journal_path).map_err(|e| e.to_string())?;
            let lines: Vec<String> = BufReader::new(file)
                .lines()
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            let mut ids = RequestIds::seeded(0);
            for (i, line) in lines.iter().enumerate() {
                let entry: Entry = match serde_json::from_str(line) {
                    Ok(e) => e,
                    Err(_) if i + 1 == lines.len() => break, // a torn last line
                    Err(e) => {
                        return Err(format!("{} line {}: {e}", journal_path.display(), i + 1));
                    }
                };
                replay(&mut engine, &entry, clock, faults, &mut ids);
            }
            clock.unpin();
        }
        let journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(|e| format!("{}: {e}", journal_path.display()))?;
        let mut store = Store {
            snapshot: path.to_owned(),
            journal,
            entries: 0,
        };
        store.compact(&engine).map_err(|e| e.to_string())?;
        Ok((store, engine))
    }

    /// Appends an entry and syncs it to disk; every [`COMPACT_AFTER`]
    /// entries, folds the journal into a new snapshot of `engine` (which
    /// already holds the entry's change).
    pub fn record(&mut self, entry: &Entry, engine: &Engine) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).expect("entries serialise");
        line.push(b'\n');
        self.journal.write_all(&line)?;
        self.journal.sync_data()?;
        self.entries += 1;
        if self.entries >= COMPACT_AFTER {
            self.compact(engine)?;
        }
        Ok(())
    }

    /// Writes a snapshot of `engine` (crash-safe) and empties the journal.
    pub fn compact(&mut self, engine: &Engine) -> std::io::Result<()> {
        engine
            .save(&self.snapshot)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.journal.set_len(0)?;
        self.journal.sync_all()?;
        self.entries = 0;
        Ok(())
    }
}

fn replay(
    engine: &mut Engine,
    entry: &Entry,
    clock: &ServerClock,
    faults: &Faults,
    ids: &mut RequestIds,
) {
    clock.pin(entry.at);
    match &entry.change {
        Change::Call {
            account,
            action,
            params,
            fault,
        } => {
            if let Some(f) = fault {
                faults.fail_next(f.clone());
            }
            let _ = api::call(
                engine,
                account,
                action,
                params.iter().cloned(),
                ids.next_id(),
            );
            faults.take_consumed();
        }
        Change::Clock => {
            if let Some(manual) = clock.manual() {
                manual.set(
                    jiff::Timestamp::from_second(entry.at).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                );
            }
        }
    }
}
