//! The in-memory index over one engine's caches (one account and region),
//! answering every `DescribeImageCaches` filter without scanning all caches.
//!
//! # Layout
//!
//! * Every cache has a **rank**: its place in the reverse of result order
//!   (`CreationTime` oldest first, then id descending), so result order
//!   (section 4.2 within one match group) is descending rank. A new cache is
//!   almost always the newest, so it takes the next rank; ranks freed by
//!   deletes stay as holes that a later out-of-order insert can take, and a
//!   renumbering pass compacts them (`ranks.rs`).
//! * The records and their per-cache facts live in arrays by rank: the
//!   record with its key ids, and a dense size/`Ready` word for auto-match.
//! * Exact keys and repo keys of cached images, tag pairs and tag keys,
//!   names, snapshot ids and resource groups are interned to ids, each with
//!   a posting list of ranks: plain ascending integers while short
//!   (`postings.rs`), then Roaring-style containers of 65 536 ranks, each a
//!   sorted array of 16-bit lows or, once one rank in 32 is in it, a bitmap
//!   (`containers.rs`). A list read backwards is in result order; lists are
//!   merged, intersected and counted by comparing integers or adding
//!   bitmap words, never by reading records.
//! * A table from id to rank, and the **LRU order** of section 5
//!   (`LastMatchedTime`, else `CreationTime`, oldest first, id ascending;
//!   only `LRU` caches not being created or updated) as a B-tree.
//!
//! # Query algorithms and their costs
//!
//! Let `L(k)` be the length of key `k`'s posting list, `m` the number of
//! caches passing the filters, `l` the `Limit` and `n` the caches.
//!
//! * No filter at all: `TotalCount` is `n`; the page is read from the rank
//!   array downwards after the cursor: `O(log n + l)` (plus holes skipped).
//! * Filters without `MatchImage`: the shortest posting list among them
//!   drives; read backwards it is in result order, so the page is its first
//!   `l` passing caches after the cursor (found by binary search on ranks).
//!   With a single filter `TotalCount` is the list's length and a page costs
//!   `O(log L + l)`; with more, counting costs `O(min L)`.
//! * One `MatchImage`: the image's exact list (F = 1) followed by its repo
//!   list minus the exact list (P = 1): a merge walk of two integer lists
//!   from the cursor, `O(log L + l)` a page.
//! * Several `MatchImage`: F and P are counted **block by block** over the
//!   rank space (`counting.rs`): every query list is walked in step, one
//!   block of 4 096 ranks at a time, into counters that fit in L1, so the
//!   count is one streaming pass over the postings,
//!   `O(Σ L(exact q) + L(repo q))`; a bitmap's block is 64 words added into
//!   the counters 32 at a time (AVX-512 masked adds where the machine has
//!   them), `O(B)` for `B` blocks whatever its density. The page's `Limit`
//!   best are kept by a bar that rises as candidates arrive, ranks
//!   descending, so most counters are judged 32 at a time against it.
//! * `ImageFullMatch` with several images: the shortest exact list drives,
//!   probing the others by binary search: `O(min L · |Q| · log max L)`.
//!
//! A query allocates nothing beyond its result when the caller reuses a
//! [`Scratch`] (decoding a `NextToken` allocates its id, encoding one
//! allocates the token).

mod bulk;
mod containers;
mod counting;
mod fields;
mod floor;
mod lanes;
mod mutation;
mod pages;
mod postings;
mod ranking;
mod ranks;
mod runs;
mod sink;
mod stats;

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;

use crate::cursor::TokenKey;
use crate::limits::DEFAULT_PAGE_SIZE;
use crate::matching::SortKey;
use crate::record::{CacheStatus, EliminationStrategy, ImageCache};
use crate::reference::RegistryAliases;
use fields::ByField;
use postings::Postings;

pub use counting::Scratch;

/// The most query images auto-match on the index counts: F and P share a
/// 16-bit counter, 8 bits each. A request may hold far fewer
/// ([`crate::limits::MAX_GROUP_IMAGES`], which
/// [`crate::automatch::AutoMatchRequest::validate`] enforces); one of more
/// than this matches nothing (on [`crate::oracle::NaiveIndex`] too).
pub const MAX_COUNTED_IMAGES: usize = 255;
pub use floor::FloorLists;
pub use stats::IndexStats;

/// The index over one engine's caches.
///
/// ```
/// use eci_imagecache::cursor::TokenKey;
/// use eci_imagecache::describe::DescribeRequest;
/// use eci_imagecache::index::Index;
/// use eci_imagecache::record::ImageCache;
/// use eci_imagecache::reference::RegistryAliases;
///
/// let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
/// let t = "2024-05-01T08:00:00Z".parse().unwrap();
/// index.insert(ImageCache::new("imc-a", "web", "cn-hangzhou", t)
///     .with_images(["registry-vpc.cn-hangzhou.aliyuncs.com/team/app:v1", "redis:7"]).unwrap());
/// index.insert(ImageCache::new("imc-b", "api", "cn-hangzhou", t)
///     .with_images(["registry.cn-hangzhou.aliyuncs.com/team/app:v2"]).unwrap());
///
/// let request = DescribeRequest::new("cn-hangzhou")
///     .match_image("registry.cn-hangzhou.aliyuncs.com/team/app:v1")?;
/// let page = index.describe(&request)?;
/// let ids: Vec<&str> = page.image_caches.iter().map(|c| c.id()).collect();
/// assert_eq!(ids, ["imc-a", "imc-b"]); // exact match first, then partial
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
pub struct Index {
    rules: RegistryAliases,
    token_key: TokenKey,
    /// The most caches a page holds (section 4.3).
    page_cap: u32,
    /// By rank: the cache there, or `None` (a hole). The last is never a
    /// hole, so a new newest cache takes `entries.len()`.
    entries: Vec<Option<Entry>>,
    /// By rank, dense, for auto-match: `ImageCacheSize` with [`READY`] set
    /// when the cache is `Ready`, so candidates are judged without reading
    /// their records (0 for a hole).
    fit: Vec<u32>,
    /// Caches indexed (`entries` less its holes).
    live: usize,
    /// Ranks by id: the table holds ranks, the id text is the record's.
    by_id: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    exact: Postings,
    repo: Postings,
    tag_pairs: Postings,
    tag_keys: Postings,
    /// Ranks by name and by snapshot id, values nearly every cache holds
    /// one of its own: tables of ranks, the text is the records'.
    names: ByField,
    snapshots: ByField,
    resource_groups: Postings,
    /// LRU order; values are ranks.
    lru: BTreeMap<LeastRecent, u32>,
    key_buf: String,
    /// A record's keyed text before and after an update, to see what it
    /// kept.
    keyed_text: [mutation::KeyedText; 2],
    /// The keys of a cache being placed, kept for their buffers.
    key_batch: bulk::KeyBatch,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("caches", &self.len())
            .field("page_cap", &self.page_cap)
            .finish_non_exhaustive()
    }
}

/// One cache and the ids of its keys.
struct Entry {
    cache: ImageCache,
    /// The cache's key ids in four sorted runs: exact keys, repo keys, tag
    /// pairs, tag keys (one exact-sized allocation).
    keys: Box<[u32]>,
    /// Where the repo, tag pair and tag key runs start in `keys`.
    starts: [u32; 3],
    /// Where the name and the snapshot id are filed: [`fields::SINGLE`],
    /// a key id of their table's shared values, or `NONE`.
    name: u32,
    snapshot: u32,
    /// Resource group key, or `NONE`.
    resource_group: u32,
}

/// No key: the cache has no resource group (or snapshot).
const NONE: u32 = u32::MAX;

/// Where `entry`'s name (`which` 0) or snapshot id (1) is filed.
fn filed_at(entry: &mut Entry, which: usize) -> &mut u32 {
    if which == 0 {
        &mut entry.name
    } else {
        &mut entry.snapshot
    }
}

impl Entry {
    /// Sets the four runs of key ids (each sorted, without repeats).
    fn set_keys(&mut self, runs: [mutation::Ids; 4]) {
        let mut keys: Vec<u32> = Vec::with_capacity(runs.iter().map(|r| r.len()).sum());
        let mut starts = [0u32; 3];
        for (i, ids) in runs.into_iter().enumerate() {
            if i > 0 {
                starts[i - 1] = keys.len() as u32;
            }
            keys.extend_from_slice(&ids);
        }
        if keys[..] != self.keys[..] {
            self.keys = keys.into_boxed_slice();
        }
        self.starts = starts;
    }

    fn exact(&self) -> &[u32] {
        &self.keys[..self.starts[0] as usize]
    }
    fn repo(&self) -> &[u32] {
        &self.keys[self.starts[0] as usize..self.starts[1] as usize]
    }
    fn tag_pairs(&self) -> &[u32] {
        &self.keys[self.starts[1] as usize..self.starts[2] as usize]
    }
    fn tag_keys(&self) -> &[u32] {
        &self.keys[self.starts[2] as usize..]
    }
}

/// Caches made by `CreateImageCache` first, then those auto-match created
/// (each its own quota); within each, last use (else creation) oldest
/// first, then id ascending.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LeastRecent(bool, i64, IdKey);

impl LeastRecent {
    /// A cache's place in LRU order, if it has one: always read from its
    /// record (an update captures it before the record changes).
    fn of(cache: &ImageCache) -> Option<LeastRecent> {
        lru_time(cache).map(|t| LeastRecent(cache.auto_created, t, IdKey::new(cache.id())))
    }
}

/// An id in a key of the LRU order, ordered as its text: held inline when
/// it is [`IdKey::INLINE`] bytes or shorter, as every id the API hands out
/// is (`imc-` and 20), so neither a key nor a lookup allocates.
#[derive(Clone)]
enum IdKey {
    Inline(u8, [u8; IdKey::INLINE]),
    Long(Arc<str>),
}

impl IdKey {
    const INLINE: usize = 24;

    fn new(id: &str) -> IdKey {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= IdKey::INLINE => {
                let mut bytes = [0; IdKey::INLINE];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                IdKey::Inline(len, bytes)
            }
            _ => IdKey::Long(Arc::from(id)),
        }
    }

    /// The bytes of its shared text (0 inline).
    fn heap_bytes(&self) -> usize {
        match self {
            IdKey::Inline(..) => 0,
            IdKey::Long(id) => id.len() + 16,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            IdKey::Inline(len, bytes) => &bytes[..usize::from(*len)],
            IdKey::Long(id) => id.as_bytes(),
        }
    }
}

impl PartialEq for IdKey {
    fn eq(&self, other: &IdKey) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for IdKey {}

impl PartialOrd for IdKey {
    fn partial_cmp(&self, other: &IdKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdKey {
    fn cmp(&self, other: &IdKey) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Index {
    /// An empty index with these alias rules, and this key for its tokens.
    pub fn new(rules: RegistryAliases, token_key: TokenKey) -> Index {
        Index {
            rules,
            token_key,
            page_cap: DEFAULT_PAGE_SIZE,
            entries: Vec::new(),
            fit: Vec::new(),
            live: 0,
            by_id: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            exact: Postings::default(),
            repo: Postings::default(),
            tag_pairs: Postings::default(),
            tag_keys: Postings::default(),
            names: ByField::new(|c| Some(c.name())),
            snapshots: ByField::new(|c| c.snapshot_id()),
            resource_groups: Postings::default(),
            lru: BTreeMap::new(),
            key_buf: String::new(),
            keyed_text: Default::default(),
            key_batch: Default::default(),
        }
    }

    /// The alias rules keys are made with.
    pub fn rules(&self) -> &RegistryAliases {
        &self.rules
    }

    /// How many caches there are.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The cache with this id.
    pub fn get(&self, id: &str) -> Option<&ImageCache> {
        Some(self.cache(self.rank_of(id)?))
    }

    /// The rank of the cache with this id.
    fn rank_of(&self, id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.by_id
            .find(hash, |&r| self.cache(r).id() == id)
            .copied()
    }

    /// Every cache, newest first (`CreationTime` descending, id ascending).
    pub fn iter(&self) -> impl Iterator<Item = &ImageCache> + '_ {
        self.entries.iter().rev().flatten().map(|e| &e.cache)
    }

    /// The caches LRU elimination may evict, least recently used first:
    /// made by `CreateImageCache`, `EliminationStrategy` `LRU`, not
    /// `Preparing`, `Creating` or `Updating`, ordered by `LastMatchedTime`
    /// (else `CreationTime`), then id. The first is found in `O(log n)`.
    pub fn lru_order(&self) -> impl Iterator<Item = &ImageCache> + '_ {
        self.lru_pool(false)
    }

    /// [`Index::lru_order`] for the caches auto-match created, which have a
    /// quota of their own.
    pub fn auto_created_lru_order(&self) -> impl Iterator<Item = &ImageCache> + '_ {
        self.lru_pool(true)
    }

    fn lru_pool(&self, auto_created: bool) -> impl Iterator<Item = &ImageCache> + '_ {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let from = LeastRecent(auto_created, i64::MIN, IdKey::new(""));
        let to = if auto_created {
            Unbounded
        } else {
            Excluded(LeastRecent(true, i64::MIN, IdKey::new("")))
        };
        self.lru
            .range((Included(from), to))
            .map(|(_, &rank)| self.cache(rank))
    }

    /// Sets the most caches a page holds, [`DEFAULT_PAGE_SIZE`] (20, the
    /// cloud's) unless changed; `u32::MAX` lifts it. A page holds
    /// `min(Limit, cap)` caches, 20 when `Limit` is absent.
    ///
    /// ```
    /// use eci_imagecache::describe::DescribeRequest;
    /// use eci_imagecache::index::Index;
    /// use eci_imagecache::record::ImageCache;
    /// # use eci_imagecache::reference::RegistryAliases;
    /// # use eci_imagecache::cursor::TokenKey;
    ///
    /// let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
    /// let t = "2024-05-01T08:00:00Z".parse().unwrap();
    /// for i in 0..30 {
    ///     index.insert(ImageCache::new(format!("imc-{i:02}"), "c", "cn-hangzhou", t));
    /// }
    /// let request = DescribeRequest::new("cn-hangzhou").limit(100);
    /// assert_eq!(index.describe(&request)?.image_caches.len(), 20);
    /// index.set_page_cap(u32::MAX);
    /// assert_eq!(index.describe(&request)?.image_caches.len(), 30);
    /// # Ok::<(), eci_imagecache::ApiError>(())
    /// ```
    pub fn set_page_cap(&mut self, cap: u32) {
        self.page_cap = cap.max(1);
    }

    /// The most caches a page holds.
    pub fn page_cap(&self) -> u32 {
        self.page_cap
    }

    /// Every posting table, in one order (the index of each is its kind).
    fn tables(&self) -> [&Postings; 5] {
        [
            &self.exact,
            &self.repo,
            &self.tag_pairs,
            &self.tag_keys,
            &self.resource_groups,
        ]
    }

    /// [`Index::tables`], to change.
    fn tables_mut(&mut self) -> [&mut Postings; 5] {
        [
            &mut self.exact,
            &mut self.repo,
            &mut self.tag_pairs,
            &mut self.tag_keys,
            &mut self.resource_groups,
        ]
    }

    /// The tables of ranks by a field's text.
    fn fields_mut(&mut self) -> [&mut ByField; 2] {
        [&mut self.names, &mut self.snapshots]
    }

    /// [`Index::for_each_key`] for a change to every list of `entry` near
    /// `rank`: every key's entry is asked for, then where each search for
    /// `rank` starts, and only then is `f` called for any, so the misses
    /// of lists far apart overlap instead of waiting one behind the other.
    fn change_each_key(&mut self, entry: &Entry, rank: u32, f: impl FnMut(&mut Postings, u32)) {
        self.for_each_key(entry, |postings, k| postings.prefetch_entry(k));
        self.for_each_key(entry, |postings, k| postings.prefetch_list(k, rank));
        self.for_each_key(entry, f);
    }

    /// Calls `f` with each of `entry`'s keys and the table it is in (an
    /// entry taken out of the index, so the tables can change).
    fn for_each_key(&mut self, entry: &Entry, mut f: impl FnMut(&mut Postings, u32)) {
        let [exact, repo, tag_pairs, tag_keys, resource_groups] = self.tables_mut();
        for (postings, keys) in [
            (exact, entry.exact()),
            (repo, entry.repo()),
            (tag_pairs, entry.tag_pairs()),
            (tag_keys, entry.tag_keys()),
        ] {
            for &k in keys {
                f(postings, k);
            }
        }
        if entry.resource_group != NONE {
            f(resource_groups, entry.resource_group);
        }
    }

    /// Calls `f` with each field table, where `entry` is filed there and
    /// the hash its value has (an entry taken out of the index).
    fn for_each_field(&mut self, entry: &Entry, mut f: impl FnMut(&mut ByField, u32, u64)) {
        let Index {
            names,
            snapshots,
            hasher,
            ..
        } = self;
        for (table, at) in [(names, entry.name), (snapshots, entry.snapshot)] {
            let hash = table.hash_of(&*hasher, &entry.cache);
            f(table, at, hash);
        }
    }

    /// Files the fields of the entry at `rank` (in place, filed nowhere).
    fn file_fields(&mut self, rank: u32) {
        let Index {
            names,
            snapshots,
            entries,
            hasher,
            ..
        } = self;
        for (which, table) in [names, snapshots].into_iter().enumerate() {
            let (at, promoted) = table.insert(&*hasher, entries, rank);
            let mut set = |rank: u32, to: u32| {
                *filed_at(entries[rank as usize].as_mut().expect("a live rank"), which) = to;
            };
            set(rank, at);
            if let Some((alone, k)) = promoted {
                set(alone, k);
            }
        }
    }

    fn entry(&self, rank: u32) -> &Entry {
        self.entries[rank as usize].as_ref().expect("a live rank")
    }

    /// Asks the memory system for the entry at `rank` ahead of reading it.
    fn prefetch_record(&self, rank: u32) {
        if let Some(entry) = self.entries.get(rank as usize) {
            crate::prefetch::prefetch(std::ptr::from_ref(entry).cast());
        }
    }

    fn cache(&self, rank: u32) -> &ImageCache {
        &self.entry(rank).cache
    }

    fn sort_key(&self, group: u32, rank: u32) -> SortKey<'_> {
        let cache = self.cache(rank);
        SortKey {
            exact: group >> 16,
            partial: group & 0xffff,
            creation: cache.creation_time.as_second(),
            id: cache.id(),
        }
    }
}

/// A match group `F << 16 | P`: a larger group comes first.
fn group(f: u32, p: u32) -> u32 {
    (f << 16) | p
}

/// A (key, value) tag as one unambiguous string: `<key length>:<key><value>`.
fn tag_pair_key(key: &str, value: &str, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let _ = write!(out, "{}:{key}{value}", key.len());
}

/// Set in the index's `fit` array for `Ready` caches.
const READY: u32 = 1 << 31;

/// A cache's auto-match facts: its size, and whether it is `Ready`.
fn fit(cache: &ImageCache) -> u32 {
    let size = cache.size_gib.min(READY - 1);
    if cache.status == CacheStatus::Ready {
        size | READY
    } else {
        size
    }
}

/// The cache's place in LRU order, if LRU elimination may evict it.
fn lru_time(cache: &ImageCache) -> Option<i64> {
    let busy = matches!(
        cache.status,
        CacheStatus::Preparing | CacheStatus::Creating | CacheStatus::Updating
    );
    (cache.elimination_strategy == EliminationStrategy::Lru && !busy).then(|| {
        cache
            .last_matched_time
            .unwrap_or(cache.creation_time)
            .as_second()
    })
}

#[cfg(test)]
mod layout_tests;
