//! Ranks by the text of one single-valued field of their records: the name
//! and the snapshot id.
//!
//! Nearly every cache holds a name and a snapshot id of its own, and a
//! posting list of one rank with an interned copy of the text and a table
//! slot costs about 50 bytes a cache for each field. So a value held by one
//! cache is filed in a table of ranks alone, hashed by the text and
//! compared against the record, as the id table is (about 6 bytes a cache).
//! A value held by several caches (a name many caches share) has a posting
//! list, so no value is ever looked up by walking the records that share
//! it: the second cache with a value moves it from the table to a list.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::postings::{ListRef, Postings};
use super::{Entry, NONE};
use crate::record::ImageCache;

/// Reads the field from a record.
pub(super) type Field = fn(&ImageCache) -> Option<&str>;

/// Where a cache's value of the field is filed (kept in its entry): the
/// table of values held once, a posting list's key id, or [`NONE`].
pub(super) const SINGLE: u32 = u32::MAX - 1;

/// One field's value as a filter resolves it.
#[derive(Clone, Copy)]
pub(super) enum FieldRef {
    /// The value only this rank holds.
    Single(u32),
    /// The value of this posting list's key.
    Shared(u32),
}

/// The hash a single holder with this value of the field is filed under.
pub(super) fn hash_text(hasher: &impl BuildHasher, text: Option<&str>) -> u64 {
    hasher.hash_one(text.unwrap_or_default())
}

/// Every rank whose record has the field, by the field's text.
pub(super) struct ByField {
    /// Ranks holding a value no other rank holds.
    singles: HashTable<u32>,
    /// Values several ranks hold (or held once).
    shared: Postings,
    field: Field,
}

impl ByField {
    pub fn new(field: Field) -> ByField {
        ByField {
            singles: HashTable::new(),
            shared: Postings::default(),
            field,
        }
    }

    /// The field of the record at `rank`, a live rank.
    fn text<'e>(&self, entries: &'e [Option<Entry>], rank: u32) -> Option<&'e str> {
        let entry = entries[rank as usize].as_ref().expect("a live rank");
        (self.field)(&entry.cache)
    }

    /// The rank of the single holder of `text`, if there is one.
    fn single(
        &self,
        hasher: &impl BuildHasher,
        entries: &[Option<Entry>],
        text: &str,
    ) -> Option<u32> {
        self.singles
            .find(hasher.hash_one(text), |&r| {
                self.text(entries, r) == Some(text)
            })
            .copied()
    }

    /// Files `rank`, whose entry is in place; returns where (for its
    /// entry), and when it made a value shared, the rank that held it
    /// alone and the key it now holds.
    pub fn insert(
        &mut self,
        hasher: &impl BuildHasher,
        entries: &[Option<Entry>],
        rank: u32,
    ) -> (u32, Option<(u32, u32)>) {
        let Some(text) = self.text(entries, rank) else {
            return (NONE, None);
        };
        if let Some(k) = self.shared.id(text) {
            self.shared.add_to(k, rank);
            return (k, None);
        }
        let hash = hasher.hash_one(text);
        if let Some(alone) = self.single(hasher, entries, text) {
            self.remove(SINGLE, hash, alone);
            let k = self.shared.add(text, alone);
            self.shared.add_to(k, rank);
            return (k, Some((alone, k)));
        }
        let field = self.field;
        self.singles.insert_unique(hash, rank, |&r| {
            let entry = entries[r as usize].as_ref().expect("a live rank");
            hasher.hash_one(field(&entry.cache).unwrap_or_default())
        });
        (SINGLE, None)
    }

    /// The hash a single holder of the field of `cache` is filed under.
    pub fn hash_of(&self, hasher: &impl BuildHasher, cache: &ImageCache) -> u64 {
        hash_text(hasher, (self.field)(cache))
    }

    /// Unfiles `rank`, filed at `at` (under `hash`, a single holder's).
    pub fn remove(&mut self, at: u32, hash: u64, rank: u32) {
        match at {
            NONE => {}
            SINGLE => {
                if let Ok(found) = self.singles.find_entry(hash, |&r| r == rank) {
                    found.remove();
                }
            }
            k => self.shared.remove(k, rank),
        }
    }

    /// The record filed at `at` (under `hash`) moved from rank `from` to
    /// `to`, with no rank of its list between them.
    pub fn moved(&mut self, at: u32, hash: u64, from: u32, to: u32) {
        match at {
            NONE => {}
            SINGLE => {
                if let Some(r) = self.singles.find_mut(hash, |&r| r == from) {
                    *r = to;
                }
            }
            k => self.shared.shift(k, from, to),
        }
    }

    /// Every rank renumbered through `map` (old rank → new rank).
    pub fn remap(&mut self, map: &[u32]) {
        for r in self.singles.iter_mut() {
            *r = map[*r as usize];
        }
        self.shared.remap(map);
    }

    /// Room for `more` single holders without rehashing.
    pub fn reserve(&mut self, more: usize, hasher: &impl BuildHasher, entries: &[Option<Entry>]) {
        let field = self.field;
        self.singles.reserve(more, |&r| {
            let entry = entries[r as usize].as_ref().expect("a live rank");
            hasher.hash_one(field(&entry.cache).unwrap_or_default())
        });
    }

    /// Where the caches whose field is `text` are, or `None` when none is.
    pub fn find(
        &self,
        hasher: &impl BuildHasher,
        entries: &[Option<Entry>],
        text: &str,
    ) -> Option<FieldRef> {
        match self.shared.id(text) {
            Some(k) => Some(FieldRef::Shared(k)),
            None => self.single(hasher, entries, text).map(FieldRef::Single),
        }
    }

    /// The ranks of a shared value, ascending.
    pub fn list(&self, k: u32) -> ListRef<'_> {
        self.shared.list(k)
    }

    /// How many distinct values are filed.
    pub fn values(&self) -> usize {
        self.singles.len() + self.shared.len()
    }

    /// The tables' memory: a rank and a control byte a single holder's
    /// slot, and the shared values' lists.
    pub fn heap_bytes(&self) -> usize {
        self.singles.capacity() * (std::mem::size_of::<u32>() + 1) + self.shared.heap_bytes()
    }

    /// The shared values' interned text.
    pub fn text_bytes(&self) -> usize {
        self.shared.text_bytes()
    }

    /// Whether each live rank with the field is filed where its entry says
    /// (`at` reads that from an entry), found by its text, and nothing else
    /// is (for tests of the layout).
    #[cfg(test)]
    pub fn check(
        &self,
        hasher: &impl BuildHasher,
        entries: &[Option<Entry>],
        at: impl Fn(&Entry) -> u32,
    ) {
        let mut by_text: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
        for (rank, entry) in entries.iter().enumerate() {
            let Some(e) = entry else { continue };
            match (self.field)(&e.cache) {
                Some(text) => by_text.entry(text).or_default().push(rank as u32),
                None => assert_eq!(at(e), NONE, "rank {rank} has no value"),
            }
        }
        let mut singles = 0;
        for (text, ranks) in &by_text {
            match self.find(hasher, entries, text) {
                Some(FieldRef::Single(r)) => {
                    assert_eq!(ranks, &[r], "the one rank with {text:?}");
                    assert_eq!(at(entries[r as usize].as_ref().unwrap()), SINGLE);
                    singles += 1;
                }
                Some(FieldRef::Shared(k)) => {
                    let list: Vec<u32> = self.list(k).iter().collect();
                    assert_eq!(&list, ranks, "the ranks with {text:?}");
                    for &r in ranks {
                        assert_eq!(at(entries[r as usize].as_ref().unwrap()), k);
                    }
                }
                None => panic!("{text:?} is not filed"),
            }
        }
        assert_eq!(self.singles.len(), singles, "single holders filed");
        assert_eq!(self.values(), by_text.len(), "values filed");
    }
}
