//! The in-memory index over one engine's caches (one account and region),
//! answering every `DescribeImageCaches` filter without scanning all caches.
//!
//! # Structures
//!
//! * Exact keys and repo keys of cached images, interned to ids, each with a
//!   posting list of the caches that hold it (a cache appears once per key
//!   however many of its images share it). Keys are freed when no cache uses
//!   them.
//! * Tag postings per (key, value) and per key; postings per name, snapshot
//!   id and resource group; a map from id to slot.
//! * Every posting list is kept in **result order** (`CreationTime` newest
//!   first, then id ascending), the order of section 4.2 within one match
//!   group, so a page can be read straight off a list after a cursor.
//! * The newest-first order of all caches and the **LRU order** of section 5
//!   (`LastMatchedTime`, else `CreationTime`, oldest first, id ascending;
//!   only `LRU` caches not being created or updated), both as B-trees.
//!
//! Insert, replace and remove keep every structure consistent; an update is a
//! remove and an insert.
//!
//! # Query algorithms and their costs
//!
//! Let `L(k)` be the length of key `k`'s posting list, `m` the number of
//! caches passing the filters and `l` the `Limit`.
//!
//! * No filter at all: `TotalCount` is the size; the page is read from the
//!   newest-first B-tree after the cursor: `O(log n + l)`.
//! * Filters without `MatchImage`: the shortest posting list among them
//!   drives; it is already in result order, so the page is its first `l`
//!   passing caches after the cursor (found by binary search). With a single
//!   filter `TotalCount` is the list's length and a page costs
//!   `O(log L + l)`; with more, counting costs `O(min L)`.
//! * One `MatchImage` (with or without `ImageFullMatch` /
//!   `ImageMatchCountRequest`): the answer is the image's exact list (F = 1)
//!   followed by its repo list minus the exact list (P = 1), both in result
//!   order: a merge walk from the cursor, `O(log L + l)` a page.
//! * Several `MatchImage`: one pass over the exact and repo lists of each
//!   query image counts F and P per cache in a scratch array of 4-byte
//!   counters (reset through the list of touched caches, so it stays small
//!   and warm): `O(Σ L(exact q) + L(repo q))`. A histogram of the (F, P)
//!   groups finds the groups the page comes from in `O(m)` integer steps;
//!   only the boundary group is ranked by time and id.
//! * `ImageFullMatch` with several images: smallest-first intersection of the
//!   exact lists, probing the others by binary search:
//!   `O(min L · |Q| · log max L)`.
//!
//! A query allocates nothing beyond its result when the caller reuses a
//! [`Scratch`] (decoding a `NextToken` allocates its id, encoding one
//! allocates the token).

mod postings;

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;
use std::sync::Arc;

use std::hash::BuildHasher;

use hashbrown::HashTable;
use smallvec::SmallVec;

use crate::automatch::{AutoMatchRequest, BestMatch};
use crate::cursor::{self, Position, TokenKey};
use crate::describe::{DEFAULT_PAGE_SIZE, DescribePage, DescribeRequest, Prepared, SortKey};
use crate::error::ApiError;
use crate::record::{CacheStatus, EliminationStrategy, ImageCache};
use crate::reference::RegistryAliases;
use postings::{ListRef, Postings};

type Ids = SmallVec<[u32; 4]>;

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
/// let ids: Vec<&str> = page.image_caches.iter().map(|c| c.id.as_str()).collect();
/// assert_eq!(ids, ["imc-a", "imc-b"]); // exact match first, then partial
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
pub struct Index {
    rules: RegistryAliases,
    token_key: TokenKey,
    /// The most caches a page holds (section 4.3).
    page_cap: u32,
    slots: Vec<Option<Entry>>,
    /// Per slot, dense: `CreationTime` in seconds and the id, the result
    /// order's keys, so ordering slots never touches their entries.
    creation: Vec<i64>,
    /// Per slot, dense, for auto-match: `ImageCacheSize` with [`READY`] set
    /// when the cache is `Ready`, so candidates are judged without reading
    /// their records.
    fit: Vec<u32>,
    ids: Vec<Arc<str>>,
    free_slots: Vec<u32>,
    /// Slots by id: the table holds slots, the id text is `ids[slot]`.
    by_id: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    exact: Postings,
    repo: Postings,
    tag_pairs: Postings,
    tag_keys: Postings,
    names: Postings,
    snapshots: Postings,
    resource_groups: Postings,
    newest_first: BTreeMap<NewestFirst, u32>,
    lru: BTreeMap<LeastRecent, u32>,
    key_buf: String,
    no_id: Arc<str>,
}

struct Entry {
    cache: Box<ImageCache>,
    /// The cache's key ids in four sorted runs: exact keys, repo keys, tag
    /// pairs, tag keys (one exact-sized allocation).
    keys: Box<[u32]>,
    /// Where the repo, tag pair and tag key runs start in `keys`.
    starts: [u32; 3],
    name: u32,
    /// Snapshot id key, or `NONE`.
    snapshot: u32,
    /// Resource group key, or `NONE`.
    resource_group: u32,
    /// Place in LRU order, or `NOT_LRU`.
    lru: i64,
}

/// No key: the cache has no snapshot or resource group.
const NONE: u32 = u32::MAX;
/// Not in LRU order.
const NOT_LRU: i64 = i64::MIN;

impl Entry {
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

/// A posting list read in result order. Lists are stored the other way
/// round (oldest first), so the newest cache, the usual new one, appends.
#[derive(Clone, Copy)]
struct ResultOrder<'a>(ListRef<'a>);

impl<'a> ResultOrder<'a> {
    fn len(self) -> usize {
        self.0.len()
    }

    /// The `i`-th slot in result order.
    fn at(self, i: usize) -> u32 {
        self.0.get(self.0.len() - 1 - i)
    }

    fn get(self, i: usize) -> Option<u32> {
        (i < self.0.len()).then(|| self.at(i))
    }

    /// The slots from position `from` on, in result order.
    fn iter_from(self, from: usize) -> postings::Backward<'a> {
        self.0.backward_from(self.0.len().saturating_sub(from))
    }

    /// The first position in result order where `pred` stops holding (it
    /// must hold for a prefix in result order).
    fn partition_point(self, pred: impl Fn(u32) -> bool) -> usize {
        self.0.len() - self.0.partition_point(|x| !pred(x))
    }
}

/// `CreationTime` newest first, then id ascending.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct NewestFirst(Reverse<i64>, Arc<str>);

/// Caches made by `CreateImageCache` first, then those auto-match created
/// (each its own quota); within each, last use (else creation) oldest
/// first, then id ascending.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LeastRecent(bool, i64, Arc<str>);

/// The result order of slots within one match group: newest first, then id.
#[derive(Clone, Copy)]
struct Order<'a> {
    creation: &'a [i64],
    ids: &'a [Arc<str>],
}

impl Order<'_> {
    fn cmp(&self, a: u32, b: u32) -> Ordering {
        if a == b {
            return Ordering::Equal;
        }
        let (a, b) = (a as usize, b as usize);
        self.creation[b]
            .cmp(&self.creation[a])
            .then_with(|| self.ids[a].cmp(&self.ids[b]))
    }

    /// Whether slot `s` comes after the position (`creation`, `id`).
    fn after(&self, s: u32, creation: i64, id: &str) -> bool {
        let s = s as usize;
        creation
            .cmp(&self.creation[s])
            .then_with(|| (*self.ids[s]).cmp(id))
            == Ordering::Greater
    }
}

/// Reusable scratch space for [`Index::describe_with`].
#[derive(Default)]
pub struct Scratch {
    prepared: Prepared,
    fingerprint: Vec<u8>,
    counts: Vec<Counts>,
    touched: Vec<u32>,
    groups: Vec<(u32, usize)>,
    ranked: Vec<(i64, u32, u32)>,
    candidates: Vec<Candidate>,
    tag_filters: Vec<TagRef>,
    key_buf: String,
}

/// Per-cache counters of one counting pass: exact and partial matches, and
/// the last query image (1-based) that matched exactly. All zero between
/// queries.
#[derive(Clone, Copy, Default)]
struct Counts {
    f: u8,
    p: u8,
    exact_mark: u8,
}

/// A cache that passes, with its match group `F << 16 | P`.
#[derive(Clone, Copy)]
struct Candidate {
    group: u32,
    slot: u32,
}

fn group(f: u32, p: u32) -> u32 {
    (f << 16) | p
}

/// A resolved tag filter: a (key, value) pair id or a key id.
#[derive(Clone, Copy)]
enum TagRef {
    Pair(u32),
    Key(u32),
}

/// The filters other than `MatchImage` and tags, resolved to ids once per
/// query.
#[derive(Default)]
struct Resolved {
    id: Option<u32>,
    name: Option<u32>,
    snapshot: Option<u32>,
    resource_group: Option<u32>,
    /// (id, name only: repo key id, else exact key id)
    image: Option<(u32, bool)>,
}

impl Resolved {
    fn count(&self) -> usize {
        [
            self.id.is_some(),
            self.name.is_some(),
            self.snapshot.is_some(),
            self.resource_group.is_some(),
            self.image.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count()
    }
}

impl Index {
    /// An empty index with these alias rules, and this key for its tokens.
    pub fn new(rules: RegistryAliases, token_key: TokenKey) -> Index {
        Index {
            rules,
            token_key,
            page_cap: DEFAULT_PAGE_SIZE,
            slots: Vec::new(),
            creation: Vec::new(),
            fit: Vec::new(),
            ids: Vec::new(),
            free_slots: Vec::new(),
            by_id: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            exact: Postings::default(),
            repo: Postings::default(),
            tag_pairs: Postings::default(),
            tag_keys: Postings::default(),
            names: Postings::default(),
            snapshots: Postings::default(),
            resource_groups: Postings::default(),
            newest_first: BTreeMap::new(),
            lru: BTreeMap::new(),
            key_buf: String::new(),
            no_id: Arc::from(""),
        }
    }

    /// The alias rules keys are made with.
    pub fn rules(&self) -> &RegistryAliases {
        &self.rules
    }

    /// How many caches there are.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The cache with this id.
    pub fn get(&self, id: &str) -> Option<&ImageCache> {
        Some(self.cache(self.slot_of(id)?))
    }

    fn slot_of(&self, id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.by_id
            .find(hash, |&s| *self.ids[s as usize] == *id)
            .copied()
    }

    /// Every cache, newest first (`CreationTime` descending, id ascending).
    pub fn iter(&self) -> impl Iterator<Item = &ImageCache> + '_ {
        self.newest_first.values().map(|&slot| self.cache(slot))
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
        let from = LeastRecent(auto_created, i64::MIN, Arc::from(""));
        let to = if auto_created {
            Unbounded
        } else {
            Excluded(LeastRecent(true, i64::MIN, Arc::from("")))
        };
        self.lru
            .range((Included(from), to))
            .map(|(_, &slot)| self.cache(slot))
    }

    /// Counts of distinct keys and the index's memory, for monitoring (a
    /// long-running engine must not leak keys) and for the memory targets.
    pub fn stats(&self) -> IndexStats {
        let postings = [
            &self.exact,
            &self.repo,
            &self.tag_pairs,
            &self.tag_keys,
            &self.names,
            &self.snapshots,
            &self.resource_groups,
        ];
        let entry_keys: usize = self.slots.iter().flatten().map(|e| e.keys.len() * 4).sum();
        // B-tree nodes hold up to 11 entries; count them at 2/3 occupancy.
        let btree = |len: usize, entry: usize| len * entry * 3 / 2;
        IndexStats {
            caches: self.len(),
            exact_keys: self.exact.len(),
            repo_keys: self.repo.len(),
            tag_pairs: self.tag_pairs.len(),
            tag_keys: self.tag_keys.len(),
            names: self.names.len(),
            overhead_bytes: postings.iter().map(|p| p.heap_bytes()).sum::<usize>()
                + self.slots.capacity() * std::mem::size_of::<Option<Entry>>()
                + entry_keys
                + self.creation.capacity() * 8
                + self.fit.capacity() * 4
                + self.ids.capacity() * std::mem::size_of::<Arc<str>>()
                + self.free_slots.capacity() * 4
                + self.by_id.capacity() * (std::mem::size_of::<u32>() + 1)
                + btree(
                    self.newest_first.len(),
                    std::mem::size_of::<(NewestFirst, u32)>(),
                )
                + btree(self.lru.len(), std::mem::size_of::<(LeastRecent, u32)>()),
            key_text_bytes: postings.iter().map(|p| p.text_bytes()).sum::<usize>()
                + self.ids.iter().map(|k| k.len()).sum::<usize>(),
        }
    }

    /// Inserts a cache, replacing the one with the same id; returns that one.
    pub fn insert(&mut self, cache: ImageCache) -> Option<ImageCache> {
        let old = self.remove(&cache.id);
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                self.creation.push(0);
                self.fit.push(0);
                self.ids.push(self.no_id.clone());
                (self.slots.len() - 1) as u32
            }
        };
        let id: Arc<str> = cache.id.as_str().into();
        self.creation[slot as usize] = cache.creation_time.as_second();
        self.fit[slot as usize] = fit(&cache);
        self.ids[slot as usize] = id.clone();

        self.newest_first.insert(
            NewestFirst(Reverse(self.creation[slot as usize]), id.clone()),
            slot,
        );
        let lru = lru_time(&cache);
        if let Some(t) = lru {
            self.lru
                .insert(LeastRecent(cache.auto_created, t, id.clone()), slot);
        }
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.by_id.insert_unique(hasher.hash_one(&*id), slot, |&s| {
            hasher.hash_one(&*ids[s as usize])
        });
        // An entry that holds no key yet: re-keying adds every key.
        self.slots[slot as usize] = Some(Entry {
            cache: Box::new(cache),
            keys: Box::new([]),
            starts: [0; 3],
            name: NONE,
            snapshot: NONE,
            resource_group: NONE,
            lru: lru.unwrap_or(NOT_LRU),
        });
        self.rekey(slot);
        old
    }

    /// Removes a cache by id.
    pub fn remove(&mut self, id: &str) -> Option<ImageCache> {
        let hash = self.hasher.hash_one(id);
        let found = self
            .by_id
            .find_entry(hash, |&s| *self.ids[s as usize] == *id)
            .ok()?;
        let slot = found.remove().0;
        let entry = self.slots[slot as usize]
            .take()
            .expect("by_id points at a live slot");
        let order = Order {
            creation: &self.creation,
            ids: &self.ids,
        };
        // Lists are stored oldest first, the reverse of result order, so a
        // new cache (the newest) is appended.
        let by = |a: u32, b: u32| order.cmp(b, a);
        for &k in entry.exact() {
            self.exact.remove(k, slot, by);
        }
        for &k in entry.repo() {
            self.repo.remove(k, slot, by);
        }
        for &k in entry.tag_pairs() {
            self.tag_pairs.remove(k, slot, by);
        }
        for &k in entry.tag_keys() {
            self.tag_keys.remove(k, slot, by);
        }
        self.names.remove(entry.name, slot, by);
        if entry.snapshot != NONE {
            self.snapshots.remove(entry.snapshot, slot, by);
        }
        if entry.resource_group != NONE {
            self.resource_groups.remove(entry.resource_group, slot, by);
        }
        let id = std::mem::replace(&mut self.ids[slot as usize], self.no_id.clone());
        let creation = self.creation[slot as usize];
        self.newest_first
            .remove(&NewestFirst(Reverse(creation), id.clone()));
        if entry.lru != NOT_LRU {
            self.lru
                .remove(&LeastRecent(entry.cache.auto_created, entry.lru, id));
        }
        self.free_slots.push(slot);
        Some(*entry.cache)
    }

    /// Changes a cache in place (status, times, images, tags…), keeping every
    /// structure consistent. Returns `false` when there is no such cache.
    ///
    /// Only what changed is re-indexed: the cache leaves the posting lists of
    /// keys it no longer has and joins those of keys it gained (a change of
    /// status, progress, events or settings touches no list at all), and
    /// moves in LRU order when its last use or eligibility changed. A change
    /// of `CreationTime` re-inserts it everywhere.
    ///
    /// The id cannot change: a change to it is undone.
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut ImageCache)) -> bool {
        let Some(slot) = self.slot_of(id) else {
            return false;
        };
        let entry = self.slots[slot as usize].as_mut().expect("a live slot");
        let (creation, auto_created) = (entry.cache.creation_time, entry.cache.auto_created);
        change(&mut entry.cache);
        if *entry.cache.id != *self.ids[slot as usize] {
            entry.cache.id = self.ids[slot as usize].to_string();
        }
        if entry.cache.creation_time.as_second() != creation.as_second()
            || entry.cache.auto_created != auto_created
        {
            // Its place in every list moves: out with the old place, in
            // with the new.
            let (new_creation, new_auto) = (entry.cache.creation_time, entry.cache.auto_created);
            entry.cache.creation_time = creation;
            entry.cache.auto_created = auto_created;
            let mut cache = self.remove(id).expect("present");
            cache.creation_time = new_creation;
            cache.auto_created = new_auto;
            self.insert(cache);
            return true;
        }
        self.rekey(slot);
        let entry = self.slots[slot as usize].as_mut().expect("a live slot");
        self.fit[slot as usize] = fit(&entry.cache);
        let lru = lru_time(&entry.cache).unwrap_or(NOT_LRU);
        if lru != entry.lru {
            let auto = entry.cache.auto_created;
            let old = std::mem::replace(&mut entry.lru, lru);
            let id = self.ids[slot as usize].clone();
            if old != NOT_LRU {
                self.lru.remove(&LeastRecent(auto, old, id.clone()));
            }
            if lru != NOT_LRU {
                self.lru.insert(LeastRecent(auto, lru, id), slot);
            }
        }
        true
    }

    /// Brings the posting lists of `slot` in line with its record: keys it
    /// kept cost a hash lookup, keys it lost or gained a list change (a new
    /// entry, holding no key, gains them all).
    fn rekey(&mut self, slot: u32) {
        let mut entry = self.slots[slot as usize].take().expect("a live slot");
        let order = Order {
            creation: &self.creation,
            ids: &self.ids,
        };
        // Lists are stored oldest first, the reverse of result order, so a
        // new cache (the newest) is appended.
        let by = |a: u32, b: u32| order.cmp(b, a);
        /// The key's id if the cache already had it, else the id after adding.
        fn keep_or_add(
            postings: &mut Postings,
            key: &str,
            had: &[u32],
            slot: u32,
            by: impl Fn(u32, u32) -> Ordering,
        ) -> u32 {
            if !had.is_empty()
                && let Some(k) = postings.id(key)
                && had.binary_search(&k).is_ok()
            {
                return k;
            }
            postings.add(key, slot, by)
        }
        let (mut exact, mut repo) = (Ids::new(), Ids::new());
        for image in &entry.cache.images {
            let repo_len = self
                .rules
                .write_exact_key(image.reference(), &mut self.key_buf);
            exact.push(keep_or_add(
                &mut self.exact,
                &self.key_buf,
                entry.exact(),
                slot,
                by,
            ));
            repo.push(keep_or_add(
                &mut self.repo,
                &self.key_buf[..repo_len],
                entry.repo(),
                slot,
                by,
            ));
        }
        let (mut tag_pairs, mut tag_keys) = (Ids::new(), Ids::new());
        for tag in &entry.cache.tags {
            tag_pair_key(&tag.key, &tag.value, &mut self.key_buf);
            tag_pairs.push(keep_or_add(
                &mut self.tag_pairs,
                &self.key_buf,
                entry.tag_pairs(),
                slot,
                by,
            ));
            tag_keys.push(keep_or_add(
                &mut self.tag_keys,
                &tag.key,
                entry.tag_keys(),
                slot,
                by,
            ));
        }
        for ids in [&mut exact, &mut repo, &mut tag_pairs, &mut tag_keys] {
            ids.sort_unstable();
            ids.dedup();
        }
        // Leave the lists of keys no longer held.
        for (postings, old, new) in [
            (&mut self.exact, entry.exact(), &exact),
            (&mut self.repo, entry.repo(), &repo),
            (&mut self.tag_pairs, entry.tag_pairs(), &tag_pairs),
            (&mut self.tag_keys, entry.tag_keys(), &tag_keys),
        ] {
            for &k in old {
                if new.binary_search(&k).is_err() {
                    postings.remove(k, slot, by);
                }
            }
        }
        let mut keys: Vec<u32> = Vec::with_capacity(exact.len() + repo.len() + 2 * tag_pairs.len());
        let mut starts = [0u32; 3];
        for (i, ids) in [exact, repo, tag_pairs, tag_keys].into_iter().enumerate() {
            if i > 0 {
                starts[i - 1] = keys.len() as u32;
            }
            keys.extend_from_slice(&ids);
        }
        if keys[..] != entry.keys[..] {
            entry.keys = keys.into_boxed_slice();
        }
        entry.starts = starts;
        /// A single-valued key (name, snapshot, resource group): `NONE` for none.
        fn swap(
            postings: &mut Postings,
            old: u32,
            new: Option<&str>,
            slot: u32,
            by: impl Fn(u32, u32) -> Ordering + Copy,
        ) -> u32 {
            let keep = new
                .filter(|_| old != NONE)
                .and_then(|k| postings.id(k))
                .filter(|&k| k == old);
            if let Some(k) = keep {
                return k;
            }
            let id = new.map_or(NONE, |k| postings.add(k, slot, by));
            if old != NONE {
                postings.remove(old, slot, by);
            }
            id
        }
        entry.name = swap(
            &mut self.names,
            entry.name,
            Some(&entry.cache.name),
            slot,
            by,
        );
        entry.snapshot = swap(
            &mut self.snapshots,
            entry.snapshot,
            entry.cache.snapshot_id.as_deref(),
            slot,
            by,
        );
        entry.resource_group = swap(
            &mut self.resource_groups,
            entry.resource_group,
            entry.cache.resource_group_id.as_deref(),
            slot,
            by,
        );
        self.slots[slot as usize] = Some(entry);
    }

    /// Replaces the alias rules, re-indexing every cache under the new keys
    /// (`O(n)` inserts; for the rare change of `AcrRegistryInfo` domains).
    pub fn set_rules(&mut self, rules: RegistryAliases) {
        let caches: Vec<ImageCache> = self
            .newest_first
            .values()
            .copied()
            .collect::<Vec<u32>>()
            .into_iter()
            .filter_map(|slot| self.slots[slot as usize].take().map(|e| *e.cache))
            .collect();
        let page_cap = self.page_cap;
        *self = Index::new(rules, self.token_key.clone());
        self.page_cap = page_cap;
        for cache in caches {
            self.insert(cache);
        }
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

    /// Answers `DescribeImageCaches` with fresh scratch space.
    pub fn describe(&self, request: &DescribeRequest) -> Result<DescribePage<'_>, ApiError> {
        self.describe_with(request, &mut Scratch::default())
    }

    /// Answers `DescribeImageCaches`, reusing `scratch` between queries.
    pub fn describe_with<'a>(
        &'a self,
        request: &DescribeRequest,
        scratch: &mut Scratch,
    ) -> Result<DescribePage<'a>, ApiError> {
        request.validate()?;
        scratch.prepared.prepare(request, &self.rules);
        scratch
            .prepared
            .fingerprint(request, &mut scratch.fingerprint);
        let after = match request.continuation() {
            Some(token) => Some(cursor::decode(
                &self.token_key,
                &scratch.fingerprint,
                token,
            )?),
            None => None,
        };
        let after = after.as_ref();
        let limit = request.page_size(self.page_cap);

        let Some(resolved) = self.resolve(request, scratch) else {
            return Ok(empty_page());
        };
        let filters = resolved.count() + scratch.tag_filters.len();
        Ok(match scratch.prepared.match_count() {
            0 if filters == 0 => self.unfiltered_page(after, limit, &scratch.fingerprint),
            0 => self.driven_page(&resolved, filters == 1, after, limit, scratch),
            1 => self.single_image_page(&resolved, filters > 0, after, limit, scratch),
            _ => {
                scratch.candidates.clear();
                if scratch.prepared.full_match {
                    self.full_match_candidates(&resolved, scratch);
                } else {
                    self.counted_candidates(&resolved, filters > 0, scratch);
                }
                self.selected_page(after, limit, scratch)
            }
        })
    }

    /// Auto-match: the best `Ready` cache for a container group (ranking of
    /// [`crate::automatch::rank`]), or `None`. One counting pass over the posting
    /// lists of the group's images (an intersection under `perfect_match`),
    /// then one linear pass for the maximum: `O(Σ L)` and no sort. An
    /// explicit `image_cache_id` is not looked at here (the engine handles
    /// it).
    pub fn best_match<'a>(
        &'a self,
        request: &AutoMatchRequest,
        scratch: &mut Scratch,
    ) -> Option<BestMatch<'a>> {
        self.ranked_matches(request, 1, scratch).pop()
    }

    /// Auto-match without choosing: the first `k` candidates in the ranking
    /// of section 7, best first (the first is [`Index::best_match`]).
    ///
    /// Costs one counting pass over the images' posting lists, then
    /// `O(c)` for `k = 1` and `O(c + k log k)` otherwise, for `c`
    /// candidates.
    pub fn ranked_matches<'a>(
        &'a self,
        request: &AutoMatchRequest,
        k: usize,
        scratch: &mut Scratch,
    ) -> Vec<BestMatch<'a>> {
        scratch.prepared.prepare_match(
            &request.images,
            request.perfect_match,
            request.match_count_request,
            &self.rules,
        );
        let images = scratch.prepared.match_count() as u32;
        if images == 0 || k == 0 {
            return Vec::new();
        }
        scratch.candidates.clear();
        scratch.tag_filters.clear();
        let none = Resolved::default();
        if scratch.prepared.full_match {
            self.full_match_candidates(&none, scratch);
        } else {
            self.counted_candidates(&none, false, scratch);
        }
        let storage = request.temporary_storage_gib;
        // The ranking of section 7 on the dense per-slot arrays: (F, P)
        // group, closeness of size, newest, smallest id.
        let order = self.order();
        let before = |a: &(u32, u32, u32), b: &(u32, u32, u32)| {
            b.0.cmp(&a.0)
                .then(a.1.cmp(&b.1))
                .then_with(|| order.cmp(a.2, b.2))
        };
        let fitting = scratch.candidates.iter().filter_map(|c| {
            let fit = self.fit[c.slot as usize];
            let size = fit & !READY;
            (fit & READY != 0 && size <= storage).then(|| (c.group, storage - size, c.slot))
        });
        let mut ranked: Vec<(u32, u32, u32)> = if k == 1 {
            fitting.min_by(|a, b| before(a, b)).into_iter().collect()
        } else {
            let mut all: Vec<(u32, u32, u32)> = fitting.collect();
            if all.len() > k {
                all.select_nth_unstable_by(k - 1, |a, b| before(a, b));
                all.truncate(k);
            }
            all.sort_unstable_by(|a, b| before(a, b));
            all
        };
        ranked
            .drain(..)
            .map(|(group, _, slot)| BestMatch {
                cache: self.cache(slot),
                exact: group >> 16,
                partial: group & 0xffff,
                images,
            })
            .collect()
    }

    /// Every cache that matches at least one of these images exactly or
    /// partially (`F + P ≥ 1`), whatever its status and size, newest first:
    /// one counting pass over the images' posting lists.
    pub fn matching<'a>(
        &'a self,
        images: &[crate::reference::Reference],
        scratch: &mut Scratch,
    ) -> Vec<BestMatch<'a>> {
        scratch
            .prepared
            .prepare_match(images, false, None, &self.rules);
        let distinct = scratch.prepared.match_count() as u32;
        if distinct == 0 {
            return Vec::new();
        }
        scratch.candidates.clear();
        scratch.tag_filters.clear();
        self.counted_candidates(&Resolved::default(), false, scratch);
        let order = self.order();
        let mut slots: Vec<(u32, u32)> = scratch
            .candidates
            .iter()
            .map(|c| (c.group, c.slot))
            .collect();
        slots.sort_unstable_by(|a, b| order.cmp(a.1, b.1));
        slots
            .into_iter()
            .map(|(group, slot)| BestMatch {
                cache: self.cache(slot),
                exact: group >> 16,
                partial: group & 0xffff,
                images: distinct,
            })
            .collect()
    }

    /// How many distinct query images these are under the index's alias
    /// rules (duplicates and endpoint variants of one image count once):
    /// the `F` of a complete match.
    pub fn distinct_images(&self, images: &[crate::reference::Reference]) -> u32 {
        let mut prepared = Prepared::default();
        prepared.prepare_match(images, false, None, &self.rules);
        prepared.match_count() as u32
    }

    /// F and P of one cache for these query images (duplicates count
    /// once), or `None` when there is no such cache.
    pub fn match_counts(
        &self,
        id: &str,
        images: &[crate::reference::Reference],
    ) -> Option<(u32, u32)> {
        let entry = self.entry(self.slot_of(id)?);
        let mut prepared = Prepared::default();
        prepared.prepare_match(images, false, None, &self.rules);
        let (mut f, mut p) = (0, 0);
        for (exact, repo) in prepared.match_keys() {
            if self
                .exact
                .id(exact)
                .is_some_and(|k| entry.exact().binary_search(&k).is_ok())
            {
                f += 1;
            } else if self
                .repo
                .id(repo)
                .is_some_and(|k| entry.repo().binary_search(&k).is_ok())
            {
                p += 1;
            }
        }
        Some((f, p))
    }

    /// Resolves the non-`MatchImage` filters to ids; `None` when one of them
    /// names something no cache has, so nothing can pass.
    fn resolve(&self, request: &DescribeRequest, scratch: &mut Scratch) -> Option<Resolved> {
        let mut resolved = Resolved::default();
        if let Some(id) = &request.image_cache_id {
            resolved.id = Some(self.slot_of(id)?);
        }
        if let Some(name) = &request.image_cache_name {
            resolved.name = Some(self.names.id(name)?);
        }
        if let Some(snapshot) = &request.snapshot_id {
            resolved.snapshot = Some(self.snapshots.id(snapshot)?);
        }
        if let Some(group) = &request.resource_group_id {
            resolved.resource_group = Some(self.resource_groups.id(group)?);
        }
        if let Some((exact, repo, name_only)) = scratch.prepared.image() {
            resolved.image = Some(if name_only {
                (self.repo.id(repo)?, true)
            } else {
                (self.exact.id(exact)?, false)
            });
        }
        scratch.tag_filters.clear();
        for filter in &request.tags {
            let tag = match filter.value() {
                Some(value) => {
                    tag_pair_key(&filter.key, value, &mut scratch.key_buf);
                    TagRef::Pair(self.tag_pairs.id(&scratch.key_buf)?)
                }
                None => TagRef::Key(self.tag_keys.id(&filter.key)?),
            };
            scratch.tag_filters.push(tag);
        }
        Some(resolved)
    }

    /// The shortest posting list among the filters (there is at least one).
    fn driving_list<'a>(&'a self, resolved: &'a Resolved, scratch: &Scratch) -> ListRef<'a> {
        let mut best: Option<ListRef<'a>> = resolved
            .id
            .as_ref()
            .map(|slot| ListRef::Flat(std::slice::from_ref(slot)));
        let mut consider = |list: ListRef<'a>| {
            if best.is_none_or(|b| list.len() < b.len()) {
                best = Some(list);
            }
        };
        if let Some(k) = resolved.name {
            consider(self.names.list(k));
        }
        if let Some(k) = resolved.snapshot {
            consider(self.snapshots.list(k));
        }
        if let Some(k) = resolved.resource_group {
            consider(self.resource_groups.list(k));
        }
        if let Some((k, name_only)) = resolved.image {
            consider(if name_only {
                self.repo.list(k)
            } else {
                self.exact.list(k)
            });
        }
        for tag in &scratch.tag_filters {
            consider(match *tag {
                TagRef::Pair(k) => self.tag_pairs.list(k),
                TagRef::Key(k) => self.tag_keys.list(k),
            });
        }
        best.unwrap_or(ListRef::Flat(&[]))
    }

    /// Whether the cache in `slot` passes every filter but `MatchImage`.
    fn passes_filters(&self, slot: u32, resolved: &Resolved, scratch: &Scratch) -> bool {
        let e = self.entry(slot);
        resolved.id.is_none_or(|s| s == slot)
            && resolved.name.is_none_or(|k| k == e.name)
            && resolved.snapshot.is_none_or(|k| k == e.snapshot)
            && resolved
                .resource_group
                .is_none_or(|k| k == e.resource_group)
            && resolved.image.is_none_or(|(k, name_only)| {
                let ids = if name_only { e.repo() } else { e.exact() };
                ids.binary_search(&k).is_ok()
            })
            && scratch.tag_filters.iter().all(|tag| match *tag {
                TagRef::Pair(k) => e.tag_pairs().binary_search(&k).is_ok(),
                TagRef::Key(k) => e.tag_keys().binary_search(&k).is_ok(),
            })
    }

    /// Where reading `list`, a list of match group `group` in result order,
    /// starts after the cursor.
    fn start(&self, list: ResultOrder<'_>, group: u32, after: Option<&Position>) -> usize {
        let Some(p) = after else { return 0 };
        let cursor_group = self::group(p.f, p.p);
        match cursor_group.cmp(&group) {
            // The cursor is in a better group: all of this one is still to come.
            Ordering::Greater => 0,
            Ordering::Less => list.len(),
            Ordering::Equal => {
                let order = self.order();
                list.partition_point(|s| !order.after(s, p.creation, &p.id))
            }
        }
    }

    /// Filters without `MatchImage`: read the shortest list in result order.
    fn driven_page<'a>(
        &'a self,
        resolved: &Resolved,
        sole: bool,
        after: Option<&Position>,
        limit: usize,
        scratch: &Scratch,
    ) -> DescribePage<'a> {
        let list = ResultOrder(self.driving_list(resolved, scratch));
        let passes = |s: u32| sole || self.passes_filters(s, resolved, scratch);
        let total = if sole {
            list.len()
        } else {
            list.iter_from(0).filter(|&s| passes(s)).count()
        };
        let start = self.start(list, 0, after);
        let walk = list
            .iter_from(start)
            .map(|s| (0, s))
            .filter(|&(_, s)| passes(s));
        self.page_from(walk, total, limit, &scratch.fingerprint)
    }

    /// One `MatchImage`: its exact list (F = 1), then its repo list without
    /// the exact list (P = 1), each already in result order.
    fn single_image_page<'a>(
        &'a self,
        resolved: &Resolved,
        filtered: bool,
        after: Option<&Position>,
        limit: usize,
        scratch: &Scratch,
    ) -> DescribePage<'a> {
        let prepared = &scratch.prepared;
        let (exact, repo) = prepared.match_keys().next().expect("one MatchImage");
        // ImageFullMatch wins over ImageMatchCountRequest; without it, more
        // exact matches than the one query image is impossible.
        if !prepared.full_match && prepared.min_exact.is_some_and(|n| n > 1) {
            return empty_page();
        }
        let exact_only = prepared.full_match || prepared.min_exact.is_some();
        let e = ResultOrder(self.exact.list_of(exact));
        let r = ResultOrder(if exact_only {
            ListRef::Flat(&[])
        } else {
            self.repo.list_of(repo)
        });
        let order = self.order();
        let passes = |s: u32| !filtered || self.passes_filters(s, resolved, scratch);

        // Walks r minus e from position `from`, in order.
        let partial = |from: usize| {
            let j = r.get(from).map_or(e.len(), |first| {
                e.partition_point(|x| order.cmp(x, first) == Ordering::Less)
            });
            // A cursor on e, moved forward only, beside the walk on r.
            let mut exact = e.iter_from(j).peekable();
            r.iter_from(from).filter(move |&s| {
                while exact
                    .next_if(|&x| order.cmp(x, s) == Ordering::Less)
                    .is_some()
                {}
                exact.peek() != Some(&s)
            })
        };
        let total = if filtered {
            e.iter_from(0).filter(|&s| passes(s)).count()
                + partial(0).filter(|&s| passes(s)).count()
        } else {
            // Every cache with the exact key has the repo key too.
            if exact_only { e.len() } else { r.len() }
        };

        let exact_group = group(1, 0);
        let partial_group = group(0, 1);
        let walk = e
            .iter_from(self.start(e, exact_group, after))
            .map(|s| (exact_group, s))
            .chain(partial(self.start(r, partial_group, after)).map(|s| (partial_group, s)))
            .filter(|&(_, s)| passes(s));
        self.page_from(walk, total, limit, &scratch.fingerprint)
    }

    /// Several `MatchImage`: count F and P over the posting lists.
    fn counted_candidates(&self, resolved: &Resolved, filtered: bool, scratch: &mut Scratch) {
        if scratch.counts.len() < self.slots.len() {
            scratch.counts.resize(self.slots.len(), Counts::default());
        }
        let Scratch {
            prepared,
            counts,
            touched,
            ..
        } = scratch;
        touched.clear();
        // At most 100 distinct query images, so marks 1..=100 fit a u8.
        for (mark, (exact, repo)) in (1u8..).zip(prepared.match_keys()) {
            for part in self.exact.list_of(exact).slices() {
                for &slot in part {
                    let c = &mut counts[slot as usize];
                    if c.f == 0 && c.p == 0 {
                        touched.push(slot);
                    }
                    c.f += 1;
                    c.exact_mark = mark;
                }
            }
            for part in self.repo.list_of(repo).slices() {
                for &slot in part {
                    let c = &mut counts[slot as usize];
                    if c.exact_mark != mark {
                        if c.f == 0 && c.p == 0 {
                            touched.push(slot);
                        }
                        c.p += 1;
                    }
                }
            }
        }
        for i in 0..scratch.touched.len() {
            let slot = scratch.touched[i];
            let c = std::mem::take(&mut scratch.counts[slot as usize]);
            let (f, p) = (c.f as u32, c.p as u32);
            if scratch.prepared.match_passes(f, p)
                && (!filtered || self.passes_filters(slot, resolved, scratch))
            {
                scratch.candidates.push(Candidate {
                    group: group(f, p),
                    slot,
                });
            }
        }
    }

    /// `ImageFullMatch` with several images: the caches on every exact list.
    fn full_match_candidates(&self, resolved: &Resolved, scratch: &mut Scratch) {
        let mut lists: SmallVec<[ListRef<'_>; 8]> = SmallVec::new();
        for (exact, _) in scratch.prepared.match_keys() {
            match self.exact.id(exact) {
                Some(k) => lists.push(self.exact.list(k)),
                None => return,
            }
        }
        lists.sort_unstable_by_key(|l| l.len());
        let (shortest, rest) = lists.split_first().expect("MatchImage is not empty");
        let full = group(lists.len() as u32, 0);
        let order = self.order();
        for part in shortest.slices() {
            for &slot in part {
                if rest
                    .iter()
                    .all(|l| l.contains_by(|probe| order.cmp(slot, probe)))
                    && self.passes_filters(slot, resolved, scratch)
                {
                    scratch.candidates.push(Candidate { group: full, slot });
                }
            }
        }
    }

    /// The page of the candidates after the cursor: a histogram of match
    /// groups finds the boundary group, then only that group and the page
    /// are ranked by time and id (times gathered once, not per comparison).
    fn selected_page<'a>(
        &'a self,
        after: Option<&Position>,
        limit: usize,
        scratch: &mut Scratch,
    ) -> DescribePage<'a> {
        let order = self.order();
        let total = scratch.candidates.len();
        if let Some(p) = after {
            let cursor_group = group(p.f, p.p);
            scratch.candidates.retain(|c| {
                c.group < cursor_group
                    || (c.group == cursor_group && order.after(c.slot, p.creation, &p.id))
            });
        }
        let more = scratch.candidates.len() > limit;
        if more {
            // Groups, best first, with their sizes.
            let groups = &mut scratch.groups;
            groups.clear();
            for c in &scratch.candidates {
                match groups.iter_mut().find(|(g, _)| *g == c.group) {
                    Some((_, n)) => *n += 1,
                    None => groups.push((c.group, 1)),
                }
            }
            groups.sort_unstable_by_key(|&(g, _)| Reverse(g));
            let mut above = 0;
            let mut boundary = 0;
            for &(g, n) in groups.iter() {
                boundary = g;
                if above + n >= limit {
                    break;
                }
                above += n;
            }
            // The boundary group, ranked by (creation desc, id) on gathered
            // times; keep the best `limit - above`.
            let need = limit - above;
            scratch.ranked.clear();
            scratch.ranked.extend(
                scratch
                    .candidates
                    .iter()
                    .filter(|c| c.group == boundary)
                    .map(|c| (self.creation[c.slot as usize], c.slot, c.group)),
            );
            let by_time = |a: &(i64, u32, u32), b: &(i64, u32, u32)| {
                b.0.cmp(&a.0)
                    .then_with(|| self.ids[a.1 as usize].cmp(&self.ids[b.1 as usize]))
            };
            if scratch.ranked.len() > need {
                scratch.ranked.select_nth_unstable_by(need - 1, by_time);
                scratch.ranked.truncate(need);
            }
            scratch.candidates.retain(|c| c.group > boundary);
            scratch.candidates.extend(
                scratch
                    .ranked
                    .iter()
                    .map(|&(_, slot, group)| Candidate { group, slot }),
            );
        }
        scratch.candidates.sort_unstable_by(|a, b| {
            b.group
                .cmp(&a.group)
                .then_with(|| order.cmp(a.slot, b.slot))
        });
        let next_token = more.then(|| {
            let last = scratch.candidates.last().expect("limit >= 1");
            cursor::encode(
                &self.token_key,
                &scratch.fingerprint,
                self.sort_key(last.group, last.slot),
            )
        });
        DescribePage {
            image_caches: scratch
                .candidates
                .iter()
                .map(|c| self.cache(c.slot))
                .collect(),
            total_count: total,
            next_token,
        }
    }

    /// No filter at all: read the page straight from the newest-first order.
    fn unfiltered_page<'a>(
        &'a self,
        after: Option<&Position>,
        limit: usize,
        fingerprint: &[u8],
    ) -> DescribePage<'a> {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = match after {
            Some(p) => Excluded(NewestFirst(Reverse(p.creation), p.id.as_str().into())),
            None => Unbounded,
        };
        let walk = self
            .newest_first
            .range((start, Unbounded))
            .map(|(_, &slot)| (0, slot));
        self.page_from(walk, self.len(), limit, fingerprint)
    }

    /// The first `limit` (match group, slot) pairs of `walk`, which yields
    /// the passing caches in result order after the cursor, with a token
    /// when more remain.
    fn page_from<'a>(
        &'a self,
        mut walk: impl Iterator<Item = (u32, u32)>,
        total: usize,
        limit: usize,
        fingerprint: &[u8],
    ) -> DescribePage<'a> {
        let mut image_caches = Vec::new();
        let mut last = None;
        for (group, slot) in walk.by_ref().take(limit) {
            image_caches.push(self.cache(slot));
            last = Some((group, slot));
        }
        let next_token = match (walk.next(), last) {
            (Some(_), Some((group, slot))) => Some(cursor::encode(
                &self.token_key,
                fingerprint,
                self.sort_key(group, slot),
            )),
            _ => None,
        };
        DescribePage {
            image_caches,
            total_count: total,
            next_token,
        }
    }

    fn order(&self) -> Order<'_> {
        Order {
            creation: &self.creation,
            ids: &self.ids,
        }
    }

    fn entry(&self, slot: u32) -> &Entry {
        self.slots[slot as usize].as_ref().expect("a live slot")
    }

    fn cache(&self, slot: u32) -> &ImageCache {
        &self.entry(slot).cache
    }

    fn sort_key(&self, group: u32, slot: u32) -> SortKey<'_> {
        SortKey {
            f: group >> 16,
            p: group & 0xffff,
            creation: self.creation[slot as usize],
            id: &self.ids[slot as usize],
        }
    }
}

/// What [`Index::stats`] reports.
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
    /// posting lists, id tables, slot tables, per-cache key ids, the two
    /// B-tree orders.
    pub overhead_bytes: usize,
    /// Bytes of interned key text and ids (each held once).
    pub key_text_bytes: usize,
}

impl Index {
    /// The floor of `performance.md`: one tight pass over every posting list
    /// the request touches (exact and repo lists of each `MatchImage`, only
    /// exact lists under `ImageFullMatch`, else the tag lists), returning a
    /// checksum so the reads are not optimised away. For the `compare`
    /// command; not part of the API.
    #[doc(hidden)]
    pub fn read_touched_postings(&self, request: &DescribeRequest, scratch: &mut Scratch) -> u64 {
        scratch.prepared.prepare(request, &self.rules);
        let mut sum = 0u64;
        let mut read = |list: ListRef<'_>| {
            for part in list.slices() {
                for &slot in part {
                    sum = sum.wrapping_add(slot as u64);
                }
            }
        };
        for (exact, repo) in scratch.prepared.match_keys() {
            read(self.exact.list_of(exact));
            if !scratch.prepared.full_match {
                read(self.repo.list_of(repo));
            }
        }
        if scratch.prepared.match_count() == 0 {
            for filter in &request.tags {
                match filter.value() {
                    Some(value) => {
                        tag_pair_key(&filter.key, value, &mut scratch.key_buf);
                        read(self.tag_pairs.list_of(&scratch.key_buf));
                    }
                    None => read(self.tag_keys.list_of(&filter.key)),
                }
            }
        }
        sum
    }
}

/// Nothing passes.
fn empty_page<'a>() -> DescribePage<'a> {
    DescribePage {
        image_caches: Vec::new(),
        total_count: 0,
        next_token: None,
    }
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
