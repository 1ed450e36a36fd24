//! Interned string keys, each with a sorted posting list of cache slots.

use std::sync::Arc;

use foldhash::HashMap;

/// String keys interned to dense `u32` ids, each with the sorted, distinct
/// slots of the caches that have it. A key is freed (its id reused) as soon
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

    /// Adds `slot` to the key's list (idempotent); returns the key's id.
    pub fn add(&mut self, key: &str, slot: u32) -> u32 {
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
            Some(&last) if last < slot => slots.push(slot),
            Some(_) => {
                if let Err(at) = slots.binary_search(&slot) {
                    slots.insert(at, slot);
                }
            }
        }
        id
    }

    /// Removes `slot` from the list of key `id`, freeing the key when its
    /// list becomes empty.
    pub fn remove(&mut self, id: u32, slot: u32) {
        let entry = &mut self.entries[id as usize];
        if let Ok(at) = entry.slots.binary_search(&slot) {
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

    /// The sorted slots of key `id`.
    pub fn slots(&self, id: u32) -> &[u32] {
        &self.entries[id as usize].slots
    }

    /// The sorted slots of a key; empty when no cache has it.
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
    fn add_is_idempotent_sorted_and_keys_are_freed() {
        let mut p = Postings::default();
        let a = p.add("a", 5);
        assert_eq!(p.add("a", 2), a);
        assert_eq!(p.add("a", 9), a);
        assert_eq!(p.add("a", 5), a);
        assert_eq!(p.slots(a), &[2, 5, 9]);
        let b = p.add("b", 1);
        assert_ne!(a, b);
        p.remove(a, 5);
        p.remove(a, 2);
        assert_eq!(p.slots_of("a"), &[9]);
        p.remove(a, 9);
        assert_eq!(p.id("a"), None);
        assert_eq!(p.len(), 1);
        // The freed id is reused.
        assert_eq!(p.add("c", 3), a);
        assert_eq!(p.slots_of("c"), &[3]);
    }
}
