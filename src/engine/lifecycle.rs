//! The lifecycle of section 3 as a function of time: where a cache stands
//! `e` seconds after its create or update began, and when it next changes.
//!
//! ```text
//! create  0 ─ Preparing ─ P ─ Creating 0%…90% ─ P+C ─ Ready 100%
//!                              └─ failing: Failed at P + C/2
//! update  0 ─ Updating 0%…90% ─ U ─ Ready 100%
//!              └─ failing: UpdateFailed at U/2
//! ```
//!
//! `Progress` climbs in steps of 10 % during `Creating` / `Updating`. The
//! engine keeps one timer per cache (the earliest of its next step, its
//! expiry and its removal) and applies the steps in time order, so every
//! transition and event carries the time it happened at, however late the
//! engine was consulted.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use jiff::Timestamp;

use super::FAILED_RETENTION_SECS;
use crate::clock;
use crate::ids::{IdGenerator, StepIds};
use crate::record::{CacheStatus, EventKind, ImageCache, Images};

/// How long each phase lasts, in seconds.
///
/// ```
/// use eci_imagecache::engine::Durations;
///
/// assert_eq!(Durations::instant(), Durations { preparing: 0, creating: 0, updating: 0 });
/// assert!(Durations::default().creating > 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    /// `Preparing`.
    pub preparing: u32,
    /// `Creating`.
    pub creating: u32,
    /// `Updating`.
    pub updating: u32,
}

impl Default for Durations {
    /// 10 s preparing, 120 s creating, 60 s updating.
    fn default() -> Self {
        Durations {
            preparing: 10,
            creating: 120,
            updating: 60,
        }
    }
}

impl Durations {
    /// Every phase takes no time: a new cache is `Ready` at once.
    pub fn instant() -> Self {
        Durations {
            preparing: 0,
            creating: 0,
            updating: 0,
        }
    }
}

/// Which operation a failure predicate is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// `CreateImageCache`.
    Create,
    /// `UpdateImageCache`.
    Update,
}

/// What a failure predicate sees.
#[derive(Debug)]
pub struct FailureCheck<'a> {
    /// Create or update.
    pub operation: Operation,
    /// `RegionId`.
    pub region_id: &'a str,
    /// `ImageCacheId`.
    pub image_cache_id: &'a str,
    /// `ImageCacheName` (after the update).
    pub image_cache_name: &'a str,
    /// `Images` (after the update).
    pub images: Images<'a>,
}

/// Decides whether a create or update fails, and why (the message of the
/// `Warning` event).
#[derive(Clone)]
pub struct FailurePredicate(Arc<FailureFn>);

type FailureFn = dyn Fn(&FailureCheck<'_>) -> Option<String> + Send + Sync;

impl FailurePredicate {
    /// A predicate from a function returning the reason to fail, or `None`.
    ///
    /// ```
    /// use eci_imagecache::engine::FailurePredicate;
    ///
    /// let fail_private = FailurePredicate::new(|check| {
    ///     check.images.iter()
    ///         .any(|i| i.written().starts_with("private/"))
    ///         .then(|| "Failed to pull image: unauthorized.".to_owned())
    /// });
    /// # let _ = fail_private;
    /// ```
    pub fn new(f: impl Fn(&FailureCheck<'_>) -> Option<String> + Send + Sync + 'static) -> Self {
        FailurePredicate(Arc::new(f))
    }

    pub(crate) fn check(&self, check: &FailureCheck<'_>) -> Option<String> {
        (self.0)(check)
    }
}

impl fmt::Debug for FailurePredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FailurePredicate(..)")
    }
}

/// A create or update in progress (kept until it ends).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Run {
    pub operation: Operation,
    /// When it began, seconds.
    pub started: i64,
    /// The phase durations it runs with (fixed when it began).
    pub durations: Durations,
    /// Why it will fail, if it will.
    pub failure: Option<String>,
    /// The elapsed seconds whose stage the cache shows (-1: none yet).
    pub applied: i64,
    /// Drawn from the id generator when the run began: the ids its steps
    /// draw are derived from it, the cache and the moment, so two runs of
    /// one cache in the same second draw different ids.
    #[serde(default)]
    pub nonce: u64,
}

/// Where an operation stands at some elapsed time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Preparing,
    /// `Creating` or `Updating`, with progress in percent.
    Running(u8),
    Done,
    Failed,
}

impl Run {
    /// A run of `operation` beginning at `started` (seconds): nothing
    /// applied yet but the stage its record already shows.
    pub fn begin(
        operation: Operation,
        started: i64,
        durations: Durations,
        failure: Option<String>,
        nonce: u64,
    ) -> Run {
        Run {
            operation,
            started,
            durations,
            failure,
            applied: -1,
            nonce,
        }
        .already_at_start()
    }

    /// Marks the stage at the start as applied when the record already
    /// shows it (`Preparing` for a create, `Updating` at 0 % for an update),
    /// so no step is scheduled for the very moment the run begins.
    fn already_at_start(mut self) -> Run {
        let initial = match self.operation {
            Operation::Create => Stage::Preparing,
            Operation::Update => Stage::Running(0),
        };
        if self.stage(0) == initial {
            self.applied = 0;
        }
        self
    }

    /// The stage at `elapsed` seconds after the start.
    pub fn stage(&self, elapsed: i64) -> Stage {
        let d = self.durations;
        let (before, run) = match self.operation {
            Operation::Create => (d.preparing as i64, d.creating as i64),
            Operation::Update => (0, d.updating as i64),
        };
        if elapsed < before {
            return Stage::Preparing;
        }
        let into = elapsed - before;
        if self.failure.is_some() && into >= run / 2 {
            return Stage::Failed;
        }
        if into >= run {
            return Stage::Done;
        }
        Stage::Running((into * 10 / run * 10) as u8)
    }

    /// The first time after `elapsed` at which the stage changes, as elapsed
    /// seconds; `None` once it is done or failed.
    pub fn next_change(&self, elapsed: i64) -> Option<i64> {
        let now = self.stage(elapsed);
        if matches!(now, Stage::Done | Stage::Failed) {
            return None;
        }
        let d = self.durations;
        let (before, run) = match self.operation {
            Operation::Create => (d.preparing as i64, d.creating as i64),
            Operation::Update => (0, d.updating as i64),
        };
        // The boundaries: end of preparing, each 10 % step, the end (or the
        // failure at half-way).
        let end = if self.failure.is_some() { run / 2 } else { run };
        let steps = (1..10).map(|k| before + (k * run + 9) / 10);
        std::iter::once(before)
            .chain(steps.filter(|&t| t < before + end))
            .chain(std::iter::once(before + end))
            .find(|&t| t > elapsed && self.stage(t) != now)
    }
}

/// One `Pulling image "…".` event per image of the cache, in order, each
/// named by `event_name` (given the cache's name): a create's when it
/// starts `Creating`, an update's when it begins.
pub(super) fn record_pulling(
    cache: &mut ImageCache,
    at: Timestamp,
    mut event_name: impl FnMut(&str) -> String,
) {
    let messages: Vec<String> = cache
        .images()
        .iter()
        .map(|image| format!("Pulling image \"{}\".", image.written()))
        .collect();
    for message in messages {
        let name = event_name(cache.name());
        cache.record_event(EventKind::Normal, "Pulling", &message, at, || name);
    }
}

/// Moves a cache to `stage` of its run at `at`, with the events of every
/// transition crossed.
pub(super) fn advance(
    cache: &mut ImageCache,
    run: &Run,
    stage: Stage,
    at: Timestamp,
    ids: &IdGenerator,
) {
    let ids = &mut ids.step(cache.id(), run.nonce, at.as_second());
    let event = |ids: &mut StepIds, cache: &mut ImageCache, kind, reason: &str, message: &str| {
        let name = ids.event_name(cache.name());
        cache.record_event(kind, reason, message, at, || name);
    };
    if run.operation == Operation::Create
        && cache.status == CacheStatus::Preparing
        && stage != Stage::Preparing
    {
        cache.status = CacheStatus::Creating;
        record_pulling(cache, at, |name| ids.event_name(name));
        if cache.settings.flash == Some(true) {
            let id = ids.snapshot_id();
            let message = format!("Successfully created flash snapshot {id}.");
            event(
                ids,
                cache,
                EventKind::Normal,
                "FlashSnapshotCreated",
                &message,
            );
            cache.set_flash_snapshot_id(Some(&id));
        }
    }
    match stage {
        Stage::Preparing => {}
        Stage::Running(progress) => cache.progress = progress,
        Stage::Done => {
            let snapshot = ids.snapshot_id();
            cache.status = CacheStatus::Ready;
            cache.progress = 100;
            cache.set_flash_snapshot_id(None);
            let message = format!("Successfully created snapshot {snapshot}.");
            event(ids, cache, EventKind::Normal, "SnapshotCreated", &message);
            cache.set_snapshot_id(Some(&snapshot));
            event(
                ids,
                cache,
                EventKind::Normal,
                "Ready",
                "The image cache is ready.",
            );
        }
        Stage::Failed => {
            let reason = run.failure.clone().unwrap_or_default();
            match run.operation {
                Operation::Create => {
                    if cache.status != CacheStatus::Failed {
                        cache.status = CacheStatus::Failed;
                        cache.set_flash_snapshot_id(None);
                        // Removed a day after failing: that is its expiry
                        // ("created-failed image caches expire after 24
                        // hours"), unless its retention ends sooner.
                        let removal =
                            clock::timestamp(at.as_second().saturating_add(FAILED_RETENTION_SECS));
                        cache.expire_time =
                            Some(cache.expire_time.map_or(removal, |e| e.min(removal)));
                        event(ids, cache, EventKind::Warning, "Failed", &reason);
                    }
                }
                Operation::Update => {
                    cache.status = CacheStatus::UpdateFailed;
                    event(ids, cache, EventKind::Warning, "UpdateFailed", &reason);
                }
            }
        }
    }
}
