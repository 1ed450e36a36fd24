//! What the index holds and how much memory it uses.

use super::{Entry, Index, LeastRecent};
use crate::record::ImageCache;

/// What [`Index::stats`] reports.
///
/// ```
/// use eci_imagecache::cursor::TokenKey;
/// use eci_imagecache::index::Index;
/// use eci_imagecache::record::ImageCache;
/// use eci_imagecache::reference::RegistryAliases;
///
/// let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
/// let t = "2024-05-01T08:00:00Z".parse().unwrap();
/// index.insert(ImageCache::new("imc-a", "web", "cn-hangzhou", t)
///     .with_images(["nginx:1.25", "docker.io/library/nginx:1.25"]).unwrap());
/// let stats = index.stats();
/// assert_eq!((stats.caches, stats.exact_keys, stats.repo_keys), (1, 1, 1));
/// index.remove("imc-a");
/// assert_eq!(index.stats().exact_keys, 0); // keys are freed with their last cache
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexStats {
    /// Caches indexed.
    pub caches: usize,
    /// Distinct exact keys in use.
    pub exact_keys: usize,
    /// Distinct repo keys in use.
    pub repo_keys: usize,
    /// Distinct tag (key, value) pairs in use.
    pub tag_pairs: usize,
    /// Distinct tag keys in use.
    pub tag_keys: usize,
    /// Distinct cache names in use.
    pub names: usize,
    /// Bytes the index adds beyond the records themselves and the key text:
    /// posting lists, the id, name and snapshot tables, the rank arrays,
    /// per-cache key ids, the LRU order.
    pub overhead_bytes: usize,
    /// Stretches of 65 536 ranks of a posting list held as a bitmap (8 KiB
    /// each) rather than an array: where one rank in 32 or more is in the
    /// list.
    pub bitmap_containers: usize,
    /// Bytes of interned key text (each key held once; ids, and names and
    /// snapshot ids held by one cache, are read from the records instead).
    pub key_text_bytes: usize,
}

impl Index {
    /// Counts of distinct keys and the index's memory, for monitoring (a
    /// long-running engine must not leak keys) and for the memory targets.
    pub fn stats(&self) -> IndexStats {
        let postings = self.tables();
        let entry_keys: usize = self
            .entries
            .iter()
            .flatten()
            .map(|e| e.keys.len() * 4)
            .sum();
        // B-tree nodes hold up to 11 entries; count them at 2/3 occupancy,
        // with each long id's shared text.
        let lru: usize = self.lru.keys().map(|k| k.2.heap_bytes()).sum::<usize>()
            + self.lru.len() * std::mem::size_of::<(LeastRecent, u32)>() * 3 / 2;
        IndexStats {
            caches: self.len(),
            exact_keys: self.exact.len(),
            repo_keys: self.repo.len(),
            tag_pairs: self.tag_pairs.len(),
            tag_keys: self.tag_keys.len(),
            names: self.names.values(),
            overhead_bytes: postings.iter().map(|p| p.heap_bytes()).sum::<usize>()
                + self.names.heap_bytes()
                + self.snapshots.heap_bytes()
                // A live entry holds its record inline: that part is the
                // record's, the rest (and every hole) the index's.
                + self.entries.capacity() * std::mem::size_of::<Option<Entry>>()
                - self.live * std::mem::size_of::<ImageCache>()
                + entry_keys
                + self.fit.capacity() * 4
                + self.by_id.capacity() * (std::mem::size_of::<u32>() + 1)
                + lru,
            bitmap_containers: postings.iter().map(|p| p.bitmap_containers()).sum(),
            key_text_bytes: postings.iter().map(|p| p.text_bytes()).sum::<usize>()
                + self.names.text_bytes()
                + self.snapshots.text_bytes(),
        }
    }
}
