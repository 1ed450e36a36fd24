//! Ranks: each cache's place in the reverse of result order, numbered so
//! that posting lists are plain ascending integers.
//!
//! Rank order is `CreationTime` (whole seconds) oldest first, then id
//! descending; result order within a match group is descending rank. The
//! rank space may hold holes (ranks freed by deletes or left by a
//! renumbering), never at its end:
//!
//! * A cache newer than every other (the usual create) takes the next rank:
//!   `O(1)`.
//! * An older one takes a hole between its neighbours when there is one,
//!   else the caches between its place and the nearest hole above or below
//!   (at most [`SHIFT_MAX`] away) move by one towards it:
//!   `O(SHIFT_MAX · keys · log L)`.
//! * When its place is among the newest [`SPREAD_MAX`] / 2 (a burst of
//!   creates in one second, ordered by id) and no hole is within
//!   [`SPREAD_AFTER`] caches, the caches above it and as many below are
//!   spread out with [`SPREAD_GAP`] holes after each, so the next inserts
//!   of the burst find one close by: `O(keys · log L)` a moved cache,
//!   amortised over the holes made (about 2.7 moves a create in a burst of
//!   1 000 to 5 000 creates, against 6 to 8 with one hole and no look
//!   below).
//! * Otherwise, and when holes outnumber caches, every rank is renumbered
//!   in one pass over all postings, leaving a hole after every
//!   [`HOLE_EVERY`] caches so the next out-of-order inserts find one close
//!   by: `O(n + Σ L)`, amortised over the inserts and deletes that made it
//!   necessary.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use super::{Index, LeastRecent};
use crate::record::ImageCache;

/// The most caches an out-of-order insert moves, up or down, to reach a
/// hole before the rank space is spread or renumbered instead.
pub(super) const SHIFT_MAX: usize = 64;

/// An insert spreads out at most this many of the newest ranks (half above
/// its place, half below) rather than renumbering everything.
pub(super) const SPREAD_MAX: usize = if cfg!(test) { 256 } else { 1 << 14 };

/// Among the newest, an insert that would move more than this many caches
/// to reach a hole spreads them out instead.
pub(super) const SPREAD_AFTER: usize = 16;

/// How many holes a spread leaves after each cache it moves.
pub(super) const SPREAD_GAP: usize = 3;

/// A renumbering leaves one hole after every this many caches.
pub(super) const HOLE_EVERY: usize = 16;

/// Below this many ranks holes are never compacted.
const COMPACT_MIN: usize = 64;

/// A cache's place in rank order.
#[derive(Clone, Copy, Debug)]
pub(super) struct RankKey<'a> {
    /// `CreationTime` in seconds.
    pub creation: i64,
    pub id: &'a str,
}

impl<'a> RankKey<'a> {
    pub fn of(cache: &'a ImageCache) -> RankKey<'a> {
        RankKey {
            creation: cache.creation_time.as_second(),
            id: cache.id(),
        }
    }

    /// Rank order: older first, then the larger id first.
    pub fn cmp(&self, other: &RankKey<'_>) -> Ordering {
        self.creation
            .cmp(&other.creation)
            .then_with(|| other.id.cmp(self.id))
    }
}

impl Index {
    pub(super) fn key_at(&self, rank: usize) -> Option<RankKey<'_>> {
        self.entries[rank].as_ref().map(|e| RankKey::of(&e.cache))
    }

    /// The first rank at or after which every cache comes at or after `key`
    /// in rank order: the caches at lower ranks are exactly those before
    /// it (`O(log d)` probes for a place `d` ranks below the top, skipping
    /// holes).
    ///
    /// The search gallops down from the top before it halves: a new cache
    /// is nearly always among the newest (a burst of creates in one second
    /// lands among that second's caches, ordered by id), whose records a
    /// recent insert left in cache, while a plain binary search would first
    /// read records far below, a miss each.
    pub(super) fn lower_bound(&self, key: RankKey<'_>) -> u32 {
        let n = self.entries.len();
        match n.checked_sub(1).and_then(|last| self.key_at(last)) {
            None => return 0,
            Some(last) if last.cmp(&key) == Ordering::Less => return n as u32,
            Some(_) => {}
        }
        // Every cache below `lo` is before `key`; every cache at or above
        // `hi` is not.
        let (mut lo, mut hi) = (0, n - 1);
        let mut step = 1;
        while step < hi {
            let probe = hi - step;
            match self.key_at(probe) {
                Some(k) if k.cmp(&key) == Ordering::Less => {
                    lo = probe + 1;
                    break;
                }
                Some(_) => hi = probe,
                // A hole: the search goes on from the next step.
                None => {}
            }
            step *= 2;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let Some(live) = (mid..hi).find(|&r| self.entries[r].is_some()) else {
                hi = mid;
                continue;
            };
            let probe = self.key_at(live).expect("live");
            if probe.cmp(&key) == Ordering::Less {
                lo = live + 1;
            } else {
                hi = live;
            }
        }
        lo as u32
    }

    /// A free rank for a new cache at `key`: the next rank, a hole between
    /// its neighbours, one made by moving a few caches up or down, by
    /// spreading the newest out, or, failing those, by renumbering. The rank
    /// returned is a hole or the end.
    pub(super) fn make_room(&mut self, key: RankKey<'_>) -> u32 {
        let q = self.lower_bound(key) as usize;
        let n = self.entries.len();
        if q == n || self.entries[q].is_none() {
            return q as u32;
        }
        if q > 0 && self.entries[q - 1].is_none() {
            return (q - 1) as u32;
        }
        let reach = (q + SHIFT_MAX).min(n);
        let up = (q + 1..reach)
            .find(|&r| self.entries[r].is_none())
            .or((n - q <= SHIFT_MAX).then_some(n));
        // A hole below, no farther than the one above: `h + 1..q` would
        // move down instead (`q - 1 - h` caches against `up - q`).
        let below = up.map_or(SHIFT_MAX, |h| h - q).min(q);
        let down = (q - below..q.saturating_sub(1))
            .rev()
            .find(|&r| self.entries[r].is_none());
        let moves = match (up, down) {
            (Some(u), Some(d)) => Some((u - q).min(q - 1 - d)),
            (Some(u), None) => Some(u - q),
            (None, Some(d)) => Some(q - 1 - d),
            (None, None) => None,
        };
        if 2 * (n - q) <= SPREAD_MAX && moves.is_none_or(|m| m > SPREAD_AFTER) {
            // As many ranks below its place as above are spread too: the
            // next inserts of a burst land on either side. Not when the
            // holes made would outnumber the caches (a small index, where
            // every place is among the newest): the next removal would
            // compact them all again.
            let from = q - (n - q).min(q);
            let moved = (from..n).filter(|&r| self.entries[r].is_some()).count();
            if n - self.live + SPREAD_GAP * moved <= self.live {
                return self.spread(from, q) as u32;
            }
        }
        if let Some(h) = down
            && up.is_none_or(|u| q - 1 - h < u - q)
        {
            // `h + 1..q` down by one, bottom first; the new cache takes
            // `q - 1`.
            for r in h + 1..q {
                self.move_entry(r, r - 1);
            }
            return (q - 1) as u32;
        }
        match up {
            Some(h) => {
                // `q..h` up by one.
                for r in (q..h).rev() {
                    self.move_entry(r, r + 1);
                }
                q as u32
            }
            None => {
                self.renumber();
                self.make_room(key)
            }
        }
    }

    /// Spreads the caches of `from..` out with [`SPREAD_GAP`] holes after
    /// each, keeping a free rank before the first at or above `q` for the
    /// new cache, which it returns. No cache moves down (holes among them
    /// may already give room): destinations are found bottom up, then the
    /// caches move top first, each into a rank already left.
    fn spread(&mut self, from: usize, q: usize) -> usize {
        let n = self.entries.len();
        let live: Vec<usize> = (from..n).filter(|&r| self.entries[r].is_some()).collect();
        let mut to = Vec::with_capacity(live.len());
        let mut next = from;
        let mut slot = None;
        for &r in &live {
            if r >= q && slot.is_none() {
                slot = Some(next);
                next += 1 + SPREAD_GAP;
            }
            let d = next.max(r);
            to.push(d);
            next = d + 1 + SPREAD_GAP;
        }
        for (&from, &to) in live.iter().zip(&to).rev() {
            if from != to {
                self.move_entry(from, to);
            }
        }
        slot.unwrap_or(next)
    }

    /// Moves the cache at rank `from` to `to`, a hole or beyond the end,
    /// with no cache between them (callers move runs up top first, and down
    /// bottom first).
    fn move_entry(&mut self, from: usize, to: usize) {
        if to >= self.entries.len() {
            self.entries.resize_with(to + 1, || None);
            self.fit.resize(to + 1, 0);
        }
        let entry = self.entries[from].take().expect("a live rank to move");
        let (old, new) = (from as u32, to as u32);
        self.change_each_key(&entry, old, |postings, k| postings.shift(k, old, new));
        self.for_each_field(&entry, |table, at, hash| table.moved(at, hash, old, new));
        let hash = self.hasher.hash_one(entry.cache.id());
        if let Some(v) = self.by_id.find_mut(hash, |&v| v == old) {
            *v = new;
        }
        if let Some(key) = LeastRecent::of(&entry.cache)
            && let Some(v) = self.lru.get_mut(&key)
        {
            *v = new;
        }
        self.fit[to] = std::mem::take(&mut self.fit[from]);
        self.entries[to] = Some(entry);
    }

    /// After a removal: drops holes at the end, and compacts the rank space
    /// once holes outnumber caches.
    pub(super) fn trim(&mut self) {
        while matches!(self.entries.last(), Some(None)) {
            self.entries.pop();
            self.fit.pop();
        }
        let n = self.entries.len();
        if n > COMPACT_MIN && n > 2 * self.live {
            self.renumber();
        }
    }

    /// Renumbers every cache in rank order, leaving a hole after every
    /// [`HOLE_EVERY`]: one pass over the rank arrays, every posting list,
    /// the id table and the LRU order.
    pub(super) fn renumber(&mut self) {
        let old = std::mem::take(&mut self.entries);
        let old_fit = std::mem::take(&mut self.fit);
        let mut map = vec![u32::MAX; old.len()];
        let capacity = self.live + self.live / HOLE_EVERY + 1;
        self.entries = Vec::with_capacity(capacity);
        self.fit = Vec::with_capacity(capacity);
        let mut placed = 0;
        for (rank, (entry, fit)) in old.into_iter().zip(old_fit).enumerate() {
            let Some(entry) = entry else { continue };
            if placed > 0 && placed % HOLE_EVERY == 0 {
                self.entries.push(None);
                self.fit.push(0);
            }
            map[rank] = self.entries.len() as u32;
            self.entries.push(Some(entry));
            self.fit.push(fit);
            placed += 1;
        }
        for postings in self.tables_mut() {
            postings.remap(&map);
        }
        for table in self.fields_mut() {
            table.remap(&map);
        }
        for rank in self.by_id.iter_mut() {
            *rank = map[*rank as usize];
        }
        for rank in self.lru.values_mut() {
            *rank = map[*rank as usize];
        }
    }

    /// How many ranks are holes (for tests of the layout).
    #[cfg(test)]
    pub(super) fn holes(&self) -> usize {
        self.entries.len() - self.live
    }
}
