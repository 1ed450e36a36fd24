//! Interned string keys, each with a posting list of cache ranks: plain
//! ascending integers. A rank is a cache's place in reverse result order
//! (oldest first, so a new cache appends; see `ranks.rs`), so a list read
//! backwards is already in result order, and two lists are compared, merged
//! and counted without looking anything up.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use smallvec::SmallVec;

use super::containers::{self, Containers};
use crate::prefetch::prefetch;

/// String keys interned to dense `u32` ids, each with the ascending ranks
/// of the caches that have it. A key is freed (its id reused) as soon as no
/// cache has it, so a long-running engine does not leak keys.
///
/// The hash table holds only ids (4 bytes a bucket); the key text lives once,
/// in the entry. Lists of up to two slots (unique names, snapshot ids) need
/// no allocation of their own.
#[derive(Default)]
pub(crate) struct Postings {
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    entries: Vec<Entry>,
    free: Vec<u32>,
}

#[derive(Default)]
struct Entry {
    key: Option<Box<str>>,
    list: List,
}

/// A list grows flat up to this length, then becomes containers…
const FLAT_MAX: usize = 1024;
/// …and goes back to flat at or below this one.
const FLAT_AGAIN: usize = 256;

/// One key's ranks, ascending: a flat vector while short (up to two
/// inline), else Roaring-style containers (`containers.rs`), so an insert
/// or a removal in the middle moves at most one container's array (2 KiB),
/// and a dense stretch is a bitmap the counting pass adds a word at a time.
enum List {
    Flat(SmallVec<[u32; 2]>),
    /// Boxed: most keys (names, snapshot ids) never get here.
    Long(Box<Containers>),
}

impl Default for List {
    fn default() -> Self {
        List::Flat(SmallVec::new())
    }
}

/// A posting list, for reading.
#[derive(Clone, Copy)]
pub(crate) enum ListRef<'a> {
    Flat(&'a [u32]),
    Long(&'a Containers),
}

impl<'a> ListRef<'a> {
    pub fn len(self) -> usize {
        match self {
            ListRef::Flat(s) => s.len(),
            ListRef::Long(c) => c.len(),
        }
    }

    /// The rank at position `i` (ascending).
    pub fn get(self, i: usize) -> u32 {
        match self {
            ListRef::Flat(s) => s[i],
            ListRef::Long(c) => c.get(i),
        }
    }

    /// The ranks, ascending.
    pub fn iter(self) -> Box<dyn Iterator<Item = u32> + 'a> {
        match self {
            ListRef::Flat(s) => Box::new(s.iter().copied()),
            ListRef::Long(c) => Box::new(c.iter()),
        }
    }

    /// The ranks at positions `0..end`, last first.
    pub fn backward_from(self, end: usize) -> Backward<'a> {
        match self {
            ListRef::Flat(s) => Backward::Flat(s[..end].iter().rev()),
            ListRef::Long(c) => Backward::Long(c.backward_from(end)),
        }
    }

    /// How many ranks are below `rank`.
    pub fn lower_bound(self, rank: u32) -> usize {
        match self {
            ListRef::Flat(s) => s.partition_point(|&r| r < rank),
            ListRef::Long(c) => c.lower_bound(rank),
        }
    }

    /// Whether the list holds `rank` (no lookups).
    pub fn contains(self, rank: u32) -> bool {
        match self {
            ListRef::Flat(s) => s.binary_search(&rank).is_ok(),
            ListRef::Long(c) => c.contains(rank),
        }
    }
}

/// Walks a list backwards.
pub(crate) enum Backward<'a> {
    Flat(std::iter::Rev<std::slice::Iter<'a, u32>>),
    Long(containers::Backward<'a>),
}

impl Iterator for Backward<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match self {
            Backward::Flat(it) => it.next().copied(),
            Backward::Long(it) => it.next(),
        }
    }
}

impl Postings {
    /// Makes room for `additional` more keys, so a bulk build does not
    /// rehash (reading every key's text) as the table grows.
    pub fn reserve(&mut self, additional: usize) {
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.table.reserve(additional, |&i| {
            hasher.hash_one(entries[i as usize].key.as_deref().unwrap_or_default())
        });
        self.entries.reserve(additional);
    }

    /// Gives back the entries [`Postings::reserve`] took beyond the keys
    /// in use (the table keeps its buckets: shrinking it would rehash).
    pub fn shrink_to_fit(&mut self) {
        for entry in &mut self.entries {
            if let List::Long(c) = &mut entry.list {
                c.shrink_to_fit();
            }
        }
        self.entries.shrink_to_fit();
    }

    /// The id of a key, if any cache has it.
    pub fn id(&self, key: &str) -> Option<u32> {
        self.find(self.hasher.hash_one(key), key)
    }

    fn find(&self, hash: u64, key: &str) -> Option<u32> {
        self.table
            .find(hash, |&id| {
                self.entries[id as usize].key.as_deref() == Some(key)
            })
            .copied()
    }

    /// Adds `rank` to the key's list (idempotent); returns the key's id.
    /// Appending (a rank above every one in the list) is the cheap case.
    pub fn add(&mut self, key: &str, rank: u32) -> u32 {
        let id = self.intern(key);
        self.add_to(id, rank);
        id
    }

    /// The key's id, the key added (its list empty) if it is new. A key
    /// left with an empty list must get a rank before anything removes
    /// from the table (a bulk build's [`Postings::fill`]).
    pub fn intern(&mut self, key: &str) -> u32 {
        self.intern_hashed(self.hash(key), key)
    }

    /// The hash [`Postings::intern_hashed`] takes for `key`.
    pub fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The first key id filed under `hash`'s tag, without comparing any
    /// key: what a lookup of a key with this hash will most likely find. A
    /// bulk build asks for a batch's candidates in one loop, so the misses
    /// on the table overlap, and then for their keys
    /// ([`Postings::prefetch_key`]).
    pub fn candidate(&self, hash: u64) -> Option<u32> {
        self.table.iter_hash(hash).next().copied()
    }

    /// Asks the memory system for the text of key `id` (its entry read
    /// now, its text brought in the background), ahead of a lookup that
    /// will compare with it.
    pub fn prefetch_key(&self, id: u32) {
        if let Some(key) = self.entries.get(id as usize).and_then(|e| e.key.as_deref()) {
            prefetch(key.as_ptr());
        }
    }

    /// [`Postings::intern`] with the key's [`Postings::hash`] computed
    /// beforehand (a bulk build hashes a batch, then looks it up).
    pub fn intern_hashed(&mut self, hash: u64, key: &str) -> u32 {
        if let Some(id) = self.find(hash, key) {
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.entries.push(Entry::default());
                (self.entries.len() - 1) as u32
            }
        };
        self.entries[id as usize].key = Some(key.into());
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.table.insert_unique(hash, id, |&i| {
            hasher.hash_one(entries[i as usize].key.as_deref().unwrap_or_default())
        });
        id
    }

    /// Fills the lists of a bulk build, every one empty before:
    /// `postings` calls its argument with (key id, rank) for every
    /// posting, ranks ascending, a key at most once a rank; it is called
    /// twice, to count and to fill, so each list is made at its final size
    /// (a long one turned into containers once) instead of grown.
    pub fn fill(&mut self, mut postings: impl FnMut(&mut dyn FnMut(u32, u32))) {
        let mut counts = vec![0u32; self.entries.len()];
        postings(&mut |id, _| counts[id as usize] += 1);
        for (entry, &n) in self.entries.iter_mut().zip(&counts) {
            debug_assert!(matches!(&entry.list, List::Flat(s) if s.is_empty()));
            entry.list = List::Flat(SmallVec::with_capacity(n as usize));
        }
        drop(counts);
        let entries = &mut self.entries;
        postings(&mut |id, rank| {
            if let List::Flat(ranks) = &mut entries[id as usize].list {
                debug_assert!(ranks.last().is_none_or(|&last| last < rank));
                ranks.push(rank);
            }
        });
        for entry in &mut self.entries {
            if let List::Flat(ranks) = &entry.list
                && ranks.len() > FLAT_MAX
            {
                entry.list = List::Long(Box::new(Containers::from_sorted(ranks.iter().copied())));
            }
        }
    }

    /// Adds `rank` to the list of key `id`, a key in use (idempotent).
    pub fn add_to(&mut self, id: u32, rank: u32) {
        let list = &mut self.entries[id as usize].list;
        match list {
            List::Flat(ranks) => {
                match ranks.last() {
                    None => ranks.push(rank),
                    Some(&last) if last < rank => ranks.push(rank),
                    Some(_) => {
                        if let Err(at) = ranks.binary_search(&rank) {
                            ranks.insert(at, rank);
                        }
                    }
                }
                if ranks.len() > FLAT_MAX {
                    *list = List::Long(Box::new(Containers::from_sorted(ranks.iter().copied())));
                }
            }
            List::Long(c) => {
                c.add(rank);
            }
        }
    }

    /// Asks the memory system for key `id`'s entry ahead of a change to
    /// its list: a cache's keys are many lists far apart, and their misses
    /// overlap when asked for together rather than one change after another.
    pub fn prefetch_entry(&self, id: u32) {
        if let Some(entry) = self.entries.get(id as usize) {
            prefetch(std::ptr::from_ref(entry).cast());
        }
    }

    /// After [`Postings::prefetch_entry`]: asks for where a search of key
    /// `id`'s list for `rank` starts and where an append goes (a flat
    /// list's middle and end, a long list's container of `rank`).
    pub fn prefetch_list(&self, id: u32, rank: u32) {
        let Some(entry) = self.entries.get(id as usize) else {
            return;
        };
        match &entry.list {
            List::Flat(ranks) => {
                // Where a search starts, and where an append goes.
                for at in [ranks.get(ranks.len() / 2), ranks.last()]
                    .into_iter()
                    .flatten()
                {
                    prefetch(std::ptr::from_ref(at).cast());
                }
            }
            List::Long(c) => c.prefetch(rank),
        }
    }

    /// Removes `rank` from the list of key `id`, freeing the key when its
    /// list becomes empty.
    pub fn remove(&mut self, id: u32, rank: u32) {
        let entry = &mut self.entries[id as usize];
        let empty = match &mut entry.list {
            List::Flat(ranks) => {
                if let Ok(at) = ranks.binary_search(&rank) {
                    ranks.remove(at);
                }
                ranks.is_empty()
            }
            List::Long(c) => {
                c.remove(rank);
                if c.len() <= FLAT_AGAIN {
                    let flat: SmallVec<[u32; 2]> = c.iter().collect();
                    entry.list = List::Flat(flat);
                }
                false
            }
        };
        if empty {
            if let Some(key) = entry.key.take()
                && let Ok(found) = self
                    .table
                    .find_entry(self.hasher.hash_one(&*key), |&i| i == id)
            {
                found.remove();
            }
            entry.list = List::default();
            self.free.push(id);
        }
    }

    /// Moves `from` in key `id`'s list to `to` when no other rank of the
    /// list lies between them (the index moving a run of ranks by one into
    /// a free rank), so the list stays in order.
    pub fn shift(&mut self, id: u32, from: u32, to: u32) {
        match &mut self.entries[id as usize].list {
            List::Flat(ranks) => {
                if let Ok(at) = ranks.binary_search(&from) {
                    debug_assert!(ranks.get(at + 1).is_none_or(|&next| next > to));
                    debug_assert!(at == 0 || ranks[at - 1] < to);
                    ranks[at] = to;
                }
            }
            List::Long(c) => c.shift(from, to),
        }
    }

    /// Renumbers every rank of every list through `map` (`map[old]` is the
    /// new rank), which must keep their order: one pass over all postings.
    pub fn remap(&mut self, map: &[u32]) {
        for entry in &mut self.entries {
            match &mut entry.list {
                List::Flat(ranks) => ranks.iter_mut().for_each(|r| *r = map[*r as usize]),
                List::Long(c) => {
                    **c = Containers::from_sorted(c.iter().map(|r| map[r as usize]));
                }
            }
        }
    }

    /// The list of key `id`.
    pub fn list(&self, id: u32) -> ListRef<'_> {
        match &self.entries[id as usize].list {
            List::Flat(s) => ListRef::Flat(s),
            List::Long(c) => ListRef::Long(c),
        }
    }

    /// The form of key `id`'s list: whether it is containers, and the
    /// length and capacity of a flat one (for tests of the layout).
    #[cfg(test)]
    pub fn shape(&self, id: u32) -> (bool, usize, usize) {
        match &self.entries[id as usize].list {
            List::Flat(s) => (false, s.len(), s.capacity()),
            List::Long(c) => (true, c.len(), c.len()),
        }
    }

    /// The text of key `id` (for tests of the layout).
    #[cfg(test)]
    pub fn key(&self, id: u32) -> Option<&str> {
        self.entries[id as usize].key.as_deref()
    }

    /// The list of a key; empty when no cache has it.
    pub fn list_of(&self, key: &str) -> ListRef<'_> {
        self.id(key).map_or(ListRef::Flat(&[]), |id| self.list(id))
    }

    /// How many distinct keys are in use.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes of heap used by the lists and the id table (not the key text).
    pub fn heap_bytes(&self) -> usize {
        let lists: usize = self
            .entries
            .iter()
            .map(|e| match &e.list {
                List::Flat(s) if s.spilled() => s.capacity() * 4,
                List::Flat(_) => 0,
                List::Long(c) => std::mem::size_of::<Containers>() + c.heap_bytes(),
            })
            .sum();
        lists
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.free.capacity() * 4
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }

    /// How many bitmap containers the lists hold.
    pub fn bitmap_containers(&self) -> usize {
        self.entries
            .iter()
            .map(|e| match &e.list {
                List::Flat(_) => 0,
                List::Long(c) => c.bitmaps(),
            })
            .sum()
    }

    /// Bytes of key text held (once per distinct key).
    pub fn text_bytes(&self) -> usize {
        self.entries
            .iter()
            .filter_map(|e| e.key.as_deref())
            .map(str::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_is_idempotent_ordered_and_keys_are_freed() {
        let mut p = Postings::default();
        let a = p.add("a", 5);
        assert_eq!(p.add("a", 2), a);
        assert_eq!(p.add("a", 9), a);
        assert_eq!(p.add("a", 5), a);
        assert_eq!(p.list(a).iter().collect::<Vec<_>>(), [2, 5, 9]);
        p.shift(a, 5, 6);
        assert_eq!(p.list(a).iter().collect::<Vec<_>>(), [2, 6, 9]);
        let b = p.add("b", 1);
        assert_ne!(a, b);
        p.remove(a, 6);
        p.remove(a, 2);
        assert_eq!(p.list_of("a").len(), 1);
        p.remove(a, 9);
        assert_eq!(p.id("a"), None);
        assert_eq!(p.len(), 1);
        // The freed id is reused.
        assert_eq!(p.add("c", 3), a);
        assert_eq!(p.list_of("c").get(0), 3);
    }
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    /// A long list in ascending slot order, built in shuffled order and
    /// thinned again, reads back like a plain sorted vector through every
    /// reading method, across the flat/chunked boundaries.
    #[test]
    fn chunked_lists_read_like_sorted_vectors() {
        let mut p = Postings::default();
        let mut model: Vec<u32> = Vec::new();
        let mut x = 12345u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let check = |p: &Postings, model: &[u32]| {
            let l = p.list_of("k");
            assert_eq!(l.len(), model.len());
            let all: Vec<u32> = l.iter().collect();
            assert_eq!(all, model);
            for end in [
                0,
                1,
                model.len() / 3,
                model.len().saturating_sub(1),
                model.len(),
            ] {
                let back: Vec<u32> = l.backward_from(end).collect();
                let want: Vec<u32> = model[..end].iter().rev().copied().collect();
                assert_eq!(back, want, "backward from {end}");
            }
            for i in (0..model.len()).step_by(97) {
                assert_eq!(l.get(i), model[i]);
                let v = model[i];
                assert_eq!(l.lower_bound(v), i);
                assert!(l.contains(v));
                assert_eq!(l.contains(v + 1), model.contains(&(v + 1)));
            }
        };
        for _ in 0..5000 {
            let v = (next() % 100_000) as u32;
            p.add("k", v);
            if let Err(at) = model.binary_search(&v) {
                model.insert(at, v);
            }
        }
        assert!(matches!(p.list_of("k"), ListRef::Long(_)));
        check(&p, &model);
        let id = p.id("k").unwrap();
        while model.len() > 100 {
            let i = (next() as usize) % model.len();
            let v = model.remove(i);
            p.remove(id, v);
            if model.len().is_multiple_of(700) {
                check(&p, &model);
            }
        }
        assert!(matches!(p.list_of("k"), ListRef::Flat(_)));
        check(&p, &model);
    }
}
