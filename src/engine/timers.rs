//! Each cache's one timer: the next time anything happens to it (a
//! lifecycle step, expiry, removal), applied in time order.

use super::lifecycle::{Run, Stage, advance};
use super::region::Region;
use super::{
    AUTO_CREATED_IDLE_SECS, AUTO_CREATED_UNUSED_SECS, CLIENT_TOKEN_TTL_SECS, FAILED_RETENTION_SECS,
    Operation,
};
use crate::clock;
use crate::ids::IdGenerator;
use crate::record::ImageCache;

impl Region {
    /// The earliest timer or token expiry.
    pub(super) fn next_due(&self) -> Option<i64> {
        let timer = self.timers.first().map(|&(t, _)| t);
        let token = self
            .token_times
            .first()
            .map(|&(t, _, _)| t.saturating_add(CLIENT_TOKEN_TTL_SECS));
        match (timer, token) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Sets every cache's timer in a region whose timers are all unset (a
    /// region just loaded): one pass over the index, no lookup by id.
    pub(super) fn schedule_all(&mut self) {
        debug_assert!(self.timers.is_empty() && self.timer_of.is_empty());
        let due: Vec<(i64, String)> = self
            .index
            .iter()
            .filter_map(|cache| {
                next_due(cache, self.runs.get(cache.id())).map(|t| (t, cache.id().to_owned()))
            })
            .collect();
        self.timer_of.reserve(due.len());
        for (t, id) in &due {
            self.timer_of.insert(id.clone(), *t);
        }
        // Collected in one go: sorted, then the tree built bottom up, not
        // grown by a search a timer.
        self.timers = due.into_iter().collect();
    }

    /// Sets the cache's one timer to its next change.
    pub(super) fn reschedule(&mut self, id: &str) {
        if let Some(t) = self.timer_of.remove(id) {
            self.timers.remove(&(t, id.to_owned()));
        }
        let Some(cache) = self.index.get(id) else {
            return;
        };
        if let Some(t) = next_due(cache, self.runs.get(id)) {
            self.timers.insert((t, id.to_owned()));
            self.timer_of.insert(id.to_owned(), t);
        }
    }

    /// Applies every timer due by `now`, earliest first.
    pub(super) fn apply_due(&mut self, now: i64, ids: &IdGenerator) {
        while let Some((t, id)) = self.timers.first().cloned() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            self.timer_of.remove(&id);
            self.step(&id, t, ids);
        }
    }

    /// Whatever is due for one cache at `t`.
    fn step(&mut self, id: &str, t: i64, ids: &IdGenerator) {
        self.mark(id);
        let Some(cache) = self.index.get(id) else {
            return;
        };
        let run = self.runs.get(id);
        let expired = cache.expire_time.is_some_and(|e| e.as_second() <= t)
            || (cache.auto_created && auto_created_end(cache) <= t)
            || run.and_then(failed_removal).is_some_and(|r| r <= t);
        if expired {
            self.remove_cache(id);
            return;
        }
        if let Some(run) = run {
            let mut run = run.clone();
            let stage = run.stage(t - run.started);
            // Lifecycle steps change status, progress, events and snapshots:
            // the index re-keys only the snapshot.
            self.index
                .update(id, |c| advance(c, &run, stage, clock::timestamp(t), ids));
            run.applied = t - run.started;
            let ended = stage == Stage::Done
                || (stage == Stage::Failed && run.operation == Operation::Update);
            if ended {
                self.runs.remove(id);
            } else {
                self.runs.insert(id.to_owned(), run);
            }
        }
        self.reschedule(id);
    }
}

/// The next time anything happens to a cache.
fn next_due(cache: &ImageCache, run: Option<&Run>) -> Option<i64> {
    let mut due: Option<i64> = None;
    let mut consider = |t: i64| due = Some(due.map_or(t, |d| d.min(t)));
    if let Some(e) = cache.expire_time {
        consider(e.as_second());
    }
    if cache.auto_created {
        consider(auto_created_end(cache));
    }
    if let Some(run) = run {
        if let Some(next) = run.next_change(run.applied) {
            consider(run.started + next);
        }
        if let Some(r) = failed_removal(run) {
            consider(r);
        }
    }
    due
}

/// When a failed create's cache is removed.
fn failed_removal(run: &Run) -> Option<i64> {
    if run.operation != Operation::Create || run.failure.is_none() {
        return None;
    }
    let d = run.durations;
    Some(run.started + d.preparing as i64 + d.creating as i64 / 2 + FAILED_RETENTION_SECS)
}

/// When an auto-created cache is removed: 7 days after creation if never
/// used, else 30 days after its last use.
fn auto_created_end(cache: &ImageCache) -> i64 {
    match cache.last_matched_time {
        Some(t) => t.as_second().saturating_add(AUTO_CREATED_IDLE_SECS),
        None => cache
            .creation_time
            .as_second()
            .saturating_add(AUTO_CREATED_UNUSED_SECS),
    }
}
