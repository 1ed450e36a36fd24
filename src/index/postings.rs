//! Interned string keys, each with a posting list of cache slots kept in
//! result order (the index's order of slots: `CreationTime` newest first,
//! then id), so a list can be read page by page after a cursor.

use std::cmp::Ordering;
use std::sync::Arc;

use foldhash::HashMap;

/// String keys interned to dense `u32` ids, each with the distinct slots of
/// the caches that have it, in the order the caller defines. A key is freed (its id reused) as soon
/// as no cache has it, so a long-running engine does not leak keys.
#[derive(Default)]
pub(crate) struct Postings {
    ids: HashMap<Arc<str>, u32>,
    entries: Vec<Entry>,
    free: Vec<u32>,
}

#[derive(Default)]
struct Entry {
    key: Option<Arc<str>>,
    slots: Vec<u32>,
}

impl Postings {
    /// The id of a key, if any cache has it.
    pub fn id(&self, key: &str) -> Option<u32> {
        self.ids.get(key).copied()
    }

    /// Adds `slot` to the key's list (idempotent) at its place in `order`;
    /// returns the key's id.
    pub fn add(&mut self, key: &str, slot: u32, order: impl Fn(u32, u32) -> Ordering) -> u32 {
        let id = match self.ids.get(key) {
            Some(&id) => id,
            None => {
                let key: Arc<str> = key.into();
                let id = match self.free.pop() {
                    Some(id) => id,
                    None => {
                        self.entries.push(Entry::default());
                        (self.entries.len() - 1) as u32
                    }
                };
                self.entries[id as usize].key = Some(key.clone());
                self.ids.insert(key, id);
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
            if let Some(key) = entry.key.take() {
                self.ids.remove(&*key);
            }
            entry.slots = Vec::new();
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
        self.ids.len()
    }

    /// Bytes of heap used by the lists and the id table (not the key text).
    pub fn heap_bytes(&self) -> usize {
        let lists: usize = self.entries.iter().map(|e| e.slots.capacity() * 4).sum();
        lists
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.free.capacity() * 4
            + self.ids.capacity() * (std::mem::size_of::<(Arc<str>, u32)>() + 1)
    }

    /// Bytes of key text held (once per distinct key).
    pub fn text_bytes(&self) -> usize {
        self.ids.keys().map(|k| k.len()).sum()
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
