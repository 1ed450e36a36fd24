//! Interned string keys, each with a posting list of cache slots kept in
//! the order the caller defines (the index keeps the reverse of result
//! order: oldest first, so a new cache appends), so a list can be read page
//! by page after a cursor.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use smallvec::SmallVec;

/// String keys interned to dense `u32` ids, each with the distinct slots of
/// the caches that have it, in the order the caller defines. A key is freed (its id reused) as soon
/// as no cache has it, so a long-running engine does not leak keys.
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
    slots: SmallVec<[u32; 2]>,
}

impl Postings {
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

    /// Adds `slot` to the key's list (idempotent) at its place in `order`;
    /// returns the key's id.
    pub fn add(&mut self, key: &str, slot: u32, order: impl Fn(u32, u32) -> Ordering) -> u32 {
        let hash = self.hasher.hash_one(key);
        let id = match self.find(hash, key) {
            Some(id) => id,
            None => {
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
        };
        let slots = &mut self.entries[id as usize].slots;
        match slots.last() {
            None => slots.push(slot),
            Some(&last) if order(last, slot) == Ordering::Less => slots.push(slot),
            Some(_) => {
                if let Err(at) = slots.binary_search_by(|&probe| order(probe, slot)) {
                    slots.insert(at, slot);
                }
            }
        }
        id
    }

    /// Removes `slot` from the list of key `id`, freeing the key when its
    /// list becomes empty. `order` must still place `slot` where `add` did.
    pub fn remove(&mut self, id: u32, slot: u32, order: impl Fn(u32, u32) -> Ordering) {
        let entry = &mut self.entries[id as usize];
        if let Ok(at) = entry.slots.binary_search_by(|&probe| order(probe, slot)) {
            entry.slots.remove(at);
        }
        if entry.slots.is_empty() {
            if let Some(key) = entry.key.take()
                && let Ok(found) = self
                    .table
                    .find_entry(self.hasher.hash_one(&*key), |&i| i == id)
            {
                found.remove();
            }
            entry.slots = SmallVec::new();
            self.free.push(id);
        }
    }

    /// The slots of key `id`, in order.
    pub fn slots(&self, id: u32) -> &[u32] {
        &self.entries[id as usize].slots
    }

    /// The slots of a key, in order; empty when no cache has it.
    pub fn slots_of(&self, key: &str) -> &[u32] {
        self.id(key).map_or(&[], |id| self.slots(id))
    }

    /// How many distinct keys are in use.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes of heap used by the lists and the id table (not the key text).
    pub fn heap_bytes(&self) -> usize {
        let spilled: usize = self
            .entries
            .iter()
            .filter(|e| e.slots.spilled())
            .map(|e| e.slots.capacity() * 4)
            .sum();
        spilled
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.free.capacity() * 4
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
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
        // Descending slot order, to show the order is the caller's.
        let desc = |a: u32, b: u32| b.cmp(&a);
        let mut p = Postings::default();
        let a = p.add("a", 5, desc);
        assert_eq!(p.add("a", 2, desc), a);
        assert_eq!(p.add("a", 9, desc), a);
        assert_eq!(p.add("a", 5, desc), a);
        assert_eq!(p.slots(a), &[9, 5, 2]);
        let b = p.add("b", 1, desc);
        assert_ne!(a, b);
        p.remove(a, 5, desc);
        p.remove(a, 2, desc);
        assert_eq!(p.slots_of("a"), &[9]);
        p.remove(a, 9, desc);
        assert_eq!(p.id("a"), None);
        assert_eq!(p.len(), 1);
        // The freed id is reused.
        assert_eq!(p.add("c", 3, desc), a);
        assert_eq!(p.slots_of("c"), &[3]);
    }
}
