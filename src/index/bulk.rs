//! The bulk build: a whole state indexed at once (an import, a load, a
//! change of alias rules), `O(n log n)` comparisons of integers and
//! `O(Σ keys)` work, with no posting list grown by reallocation.
//!
//! 1. The records are sorted into rank order and moved there in place.
//! 2. Each is placed without keys (its id, fields, `fit` and LRU place); of
//!    two with one id, the later in the input wins.
//! 3. Keys are looked up (or added, with an empty list) a batch of caches
//!    at a time: the batch's keys are all written and hashed first, then
//!    looked up in three loops of independent loads (each key's likely
//!    id, that key's text, the lookup proper), so the misses of the
//!    lookups overlap instead of waiting one behind the other.
//! 4. Each list is made at its final size and filled in rank order; a
//!    long one is turned into containers once.

use std::hash::BuildHasher;

use smallvec::SmallVec;

use super::mutation::Ids;
use super::postings::Postings;
use super::{Entry, Index, NONE, tag_pair_key};
use crate::record::ImageCache;

/// Caches whose keys are written before any of them is looked up.
const BATCH: usize = 32;

/// How many records ahead of its turn a record is asked for.
const AHEAD: usize = 8;

impl Index {
    /// Builds an empty index from `all` (later ones win over earlier ones
    /// with the same id).
    pub(super) fn build(&mut self, mut all: Vec<ImageCache>) {
        let mut order: Vec<(i64, u32)> = all
            .iter()
            .enumerate()
            .map(|(i, c)| (c.creation_time.as_second(), i as u32))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                let id = |i: u32| all[i as usize].id();
                // Rank order: the larger id first; one id twice: input order.
                id(b.1).cmp(id(a.1)).then(a.1.cmp(&b.1))
            })
        });
        self.entries.reserve_exact(all.len());
        self.fit.reserve_exact(all.len());
        // No table rehashes while building: ids and names are about one a
        // cache, exact and repo keys fewer (popular images are shared).
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.by_id.reserve(all.len(), |&r| {
            hasher.hash_one(entries[r as usize].as_ref().expect("live").cache.id())
        });
        let (entries, hasher) = (&self.entries, &self.hasher);
        for table in [&mut self.names, &mut self.snapshots] {
            table.reserve(all.len(), hasher, entries);
        }
        self.exact.reserve(all.len());
        self.repo.reserve(all.len() / 2);
        // The records in rank order, moved in place: no second array of
        // records beside the first.
        let from: Vec<u32> = order.iter().map(|&(_, i)| i).collect();
        gather(&mut all, &from);
        // By rank while building: where each cache came in the input.
        let mut input: Vec<u32> = Vec::with_capacity(all.len());
        // The records lie in input order, not in rank order: each is asked
        // for a few places ahead of its turn.
        for cache in all.iter().take(AHEAD) {
            cache.prefetch();
        }
        let mut records = all.into_iter();
        for i in from {
            let cache = records.next().expect("one record a rank");
            if let Some(later) = records.as_slice().get(AHEAD - 1) {
                later.prefetch();
            }
            if let Some(rank) = self.rank_of(cache.id()) {
                if input[rank as usize] > i {
                    continue;
                }
                // A hole for now: `input` stays parallel to the ranks.
                self.take(cache.id());
            }
            let rank = self.entries.len() as u32;
            input.push(i);
            self.place_unkeyed(rank, cache);
        }
        self.key_all();
        self.trim();
        for postings in [&mut self.exact, &mut self.repo] {
            postings.shrink_to_fit();
        }
    }

    /// Keys every live entry: ids first (a batch of caches at a time), then
    /// every list filled at its final size.
    fn key_all(&mut self) {
        let mut batch = KeyBatch::default();
        let mut ranks: SmallVec<[u32; BATCH]> = SmallVec::new();
        for rank in 0..self.entries.len() as u32 {
            if let Some(entry) = &self.entries[rank as usize] {
                // The records lie in input order, not in rank order: a
                // batch's records are all asked for before any is keyed.
                entry.cache.prefetch();
                ranks.push(rank);
            }
            if ranks.len() == BATCH {
                self.intern_batch(&ranks, &mut batch);
                ranks.clear();
            }
        }
        if !ranks.is_empty() {
            self.intern_batch(&ranks, &mut batch);
        }
        let Index {
            entries,
            exact,
            repo,
            tag_pairs,
            tag_keys,
            resource_groups,
            ..
        } = self;
        let runs = [
            (exact, Entry::exact as fn(&Entry) -> &[u32]),
            (repo, Entry::repo),
            (tag_pairs, Entry::tag_pairs),
            (tag_keys, Entry::tag_keys),
        ];
        for (postings, run) in runs {
            postings.fill(|add| {
                for (rank, entry) in entries.iter().enumerate() {
                    if let Some(entry) = entry {
                        run(entry).iter().for_each(|&k| add(k, rank as u32));
                    }
                }
            });
        }
        resource_groups.fill(|add| {
            for (rank, entry) in entries.iter().enumerate() {
                if let Some(entry) = entry.as_ref().filter(|e| e.resource_group != NONE) {
                    add(entry.resource_group, rank as u32);
                }
            }
        });
    }

    /// Gives the entries at `ranks` their key ids: every key of the batch
    /// written and hashed, then all looked up (or added with an empty
    /// list) in three loops whose misses overlap.
    pub(super) fn intern_batch(&mut self, ranks: &[u32], batch: &mut KeyBatch) {
        batch.clear();
        for &rank in ranks {
            let entry = self.entries[rank as usize].as_ref().expect("a live rank");
            let cache = &entry.cache;
            for image in cache.images().iter() {
                let repo_len = self
                    .rules
                    .write_exact_key(&image.reference(), &mut self.key_buf);
                let start = batch.text.len();
                batch.text.push_str(&self.key_buf);
                batch.push(Table::Exact, start, batch.text.len());
                batch.push(Table::Repo, start, start + repo_len);
            }
            for (key, value) in cache.tags().iter() {
                tag_pair_key(key, value, &mut self.key_buf);
                let start = batch.text.len();
                batch.text.push_str(&self.key_buf);
                batch.push(Table::TagPair, start, batch.text.len());
                let start = batch.text.len();
                batch.text.push_str(key);
                batch.push(Table::TagKey, start, batch.text.len());
            }
            if let Some(group) = cache.resource_group_id() {
                let start = batch.text.len();
                batch.text.push_str(group);
                batch.push(Table::ResourceGroup, start, batch.text.len());
            }
            batch.ends.push(batch.keys.len());
        }
        let tables = self.tables_mut();
        for key in &mut batch.keys {
            let postings: &Postings = tables[key.table as usize];
            key.hash = postings.hash(&batch.text[key.start..key.end]);
        }
        // Three passes, each of loads independent of one another, so the
        // misses of a pass overlap: the table's buckets for each key's
        // likely id, then the text of that key, then the lookups proper,
        // which find both in cache. (One pass of lookups waits on a chain
        // of three misses a key: bucket, entry, text.)
        for key in &mut batch.keys {
            key.id = tables[key.table as usize]
                .candidate(key.hash)
                .unwrap_or(NONE);
        }
        for key in &batch.keys {
            if key.id != NONE {
                tables[key.table as usize].prefetch_key(key.id);
            }
        }
        for key in &mut batch.keys {
            key.id =
                tables[key.table as usize].intern_hashed(key.hash, &batch.text[key.start..key.end]);
        }
        let mut from = 0;
        for (&rank, &to) in ranks.iter().zip(&batch.ends) {
            let mut ids: [Ids; 4] = Default::default();
            let mut group = NONE;
            for key in &batch.keys[from..to] {
                match key.table {
                    Table::ResourceGroup => group = key.id,
                    table => ids[table as usize].push(key.id),
                }
            }
            for run in &mut ids {
                run.sort_unstable();
                run.dedup();
            }
            let entry = self.entries[rank as usize].as_mut().expect("a live rank");
            entry.set_keys(ids);
            entry.resource_group = group;
            from = to;
        }
    }
}

/// The posting tables, in the order of [`Index::tables`].
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Table {
    Exact = 0,
    Repo = 1,
    TagPair = 2,
    TagKey = 3,
    ResourceGroup = 4,
}

/// A batch's keys: their text, and each key's table, place in the text,
/// hash and id; `ends[i]` is where the `i`th cache's keys end.
#[derive(Default)]
pub(super) struct KeyBatch {
    text: String,
    keys: Vec<BatchKey>,
    ends: SmallVec<[usize; BATCH]>,
}

struct BatchKey {
    table: Table,
    start: usize,
    end: usize,
    hash: u64,
    id: u32,
}

impl KeyBatch {
    fn clear(&mut self) {
        self.text.clear();
        self.keys.clear();
        self.ends.clear();
    }

    fn push(&mut self, table: Table, start: usize, end: usize) {
        self.keys.push(BatchKey {
            table,
            start,
            end,
            hash: 0,
            id: NONE,
        });
    }
}

/// Reorders `items` so that item `k` is the one that was at `from[k]`
/// (`from` is a permutation), in place: a cycle at a time, one swap a move.
fn gather<T>(items: &mut [T], from: &[u32]) {
    let mut done = vec![false; items.len()];
    for start in 0..items.len() {
        let mut k = start;
        while !done[k] {
            done[k] = true;
            let next = from[k] as usize;
            if next == start {
                break;
            }
            items.swap(k, next);
            k = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::gather;

    #[test]
    fn gather_applies_every_permutation_of_four() {
        let mut from = [0u32, 1, 2, 3];
        let mut seen = 0;
        loop {
            let mut items = ['a', 'b', 'c', 'd'];
            gather(&mut items, &from);
            let want: Vec<char> = from
                .iter()
                .map(|&i| ['a', 'b', 'c', 'd'][i as usize])
                .collect();
            assert_eq!(items.to_vec(), want, "from {from:?}");
            seen += 1;
            // The next permutation in lexicographic order.
            let Some(i) = (0..3).rev().find(|&i| from[i] < from[i + 1]) else {
                break;
            };
            let j = (i + 1..4).rev().find(|&j| from[j] > from[i]).unwrap();
            from.swap(i, j);
            from[i + 1..].reverse();
        }
        assert_eq!(seen, 24);
    }
}
