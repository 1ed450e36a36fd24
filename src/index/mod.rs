//! The in-memory index over one engine's caches (one account and region),
//! answering every `DescribeImageCaches` filter without scanning all caches.
//!
//! # Structures
//!
//! * Exact keys and repo keys of cached images, interned to ids, each with a
//!   sorted posting list of the caches that hold it (a cache appears once per
//!   key however many of its images share it). Keys are freed when no cache
//!   uses them.
//! * Tag postings per (key, value) and per key; postings per name, snapshot
//!   id and resource group; a map from id to slot.
//! * The newest-first order (`CreationTime` descending, id ascending) and
//!   the **LRU order** of section 5 (`LastMatchedTime`, else `CreationTime`,
//!   oldest first, id ascending; only `LRU` caches not being created or
//!   updated), both as B-trees.
//!
//! Insert, replace and remove keep every structure consistent; an update is a
//! remove and an insert of the same slot's cache.
//!
//! # Query algorithms and their costs
//!
//! Let `Q` be the distinct query images, `L(k)` the length of key `k`'s
//! posting list, `m` the number of caches passing the filters and `l` the
//! `Limit`.
//!
//! * `MatchImage` (counting): one pass over the exact and repo posting lists
//!   of each query image, counting F and P per cache in scratch arrays
//!   stamped with a generation (never cleared): `O(Σ L(exact q) + L(repo q))`,
//!   which is the floor any exact evaluation that reads postings must pay.
//! * `ImageFullMatch`: smallest-first intersection of the exact lists,
//!   probing the others by binary search: `O(min L · |Q| · log max L)`.
//! * Other filters without `MatchImage`: the shortest posting list among the
//!   filters drives, every other filter is checked per cache in `O(1)` or
//!   `O(log)`: `O(min L · filters)`.
//! * No filter at all: `TotalCount` is the size; the page is read from the
//!   newest-first B-tree after the cursor: `O(log n + l)`.
//! * Paging: the `m` passing caches are reduced to the `l` after the cursor
//!   by selection (`O(m)`) and only those are sorted (`O(l log l)`).
//!
//! A query allocates nothing beyond its result when the caller reuses a
//! [`Scratch`] (decoding a `NextToken` allocates its id, encoding one
//! allocates the token).

mod postings;

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::HashMap;
use smallvec::SmallVec;

use crate::cursor::{self, Position, TokenKey};
use crate::describe::{DescribePage, DescribeRequest, Prepared, SortKey};
use crate::error::ApiError;
use crate::record::{CacheStatus, EliminationStrategy, ImageCache};
use crate::reference::RegistryAliases;
use postings::Postings;

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
    slots: Vec<Option<Entry>>,
    /// `CreationTime` in seconds per slot, dense, so ranking candidates does
    /// not touch their (large, scattered) entries.
    creation: Vec<i64>,
    free_slots: Vec<u32>,
    by_id: HashMap<Arc<str>, u32>,
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
}

struct Entry {
    cache: ImageCache,
    id: Arc<str>,
    exact: Ids,
    repo: Ids,
    tag_pairs: Ids,
    tag_keys: Ids,
    name: u32,
    snapshot: Option<u32>,
    resource_group: Option<u32>,
    lru: Option<i64>,
}

/// `CreationTime` newest first, then id ascending.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct NewestFirst(Reverse<i64>, Arc<str>);

/// Last use (else creation) oldest first, then id ascending.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LeastRecent(i64, Arc<str>);

/// Reusable scratch space for [`Index::describe_with`].
#[derive(Default)]
pub struct Scratch {
    prepared: Prepared,
    fingerprint: Vec<u8>,
    counts: Vec<Counts>,
    generation: u32,
    query_mark: u32,
    touched: Vec<u32>,
    candidates: Vec<Candidate>,
    tag_filters: Vec<TagRef>,
    key_buf: String,
}

#[derive(Clone, Copy, Default)]
struct Counts {
    seen: u32,
    exact_mark: u32,
    f: u16,
    p: u16,
}

#[derive(Clone, Copy)]
struct Candidate {
    f: u16,
    p: u16,
    creation: i64,
    slot: u32,
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
    fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.name.is_none()
            && self.snapshot.is_none()
            && self.resource_group.is_none()
            && self.image.is_none()
    }
}

impl Index {
    /// An empty index with these alias rules, and this key for its tokens.
    pub fn new(rules: RegistryAliases, token_key: TokenKey) -> Index {
        Index {
            rules,
            token_key,
            slots: Vec::new(),
            creation: Vec::new(),
            free_slots: Vec::new(),
            by_id: HashMap::default(),
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
        let slot = *self.by_id.get(id)?;
        Some(&self.entry(slot).cache)
    }

    /// Every cache, newest first (`CreationTime` descending, id ascending).
    pub fn iter(&self) -> impl Iterator<Item = &ImageCache> + '_ {
        self.newest_first
            .values()
            .map(|&slot| &self.entry(slot).cache)
    }

    /// The caches LRU elimination may evict, least recently used first:
    /// `EliminationStrategy` `LRU`, not `Preparing`, `Creating` or `Updating`,
    /// ordered by `LastMatchedTime` (else `CreationTime`), then id.
    pub fn lru_order(&self) -> impl Iterator<Item = &ImageCache> + '_ {
        self.lru.values().map(|&slot| &self.entry(slot).cache)
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
        let entries: usize = self
            .slots
            .iter()
            .flatten()
            .map(|e| {
                [&e.exact, &e.repo, &e.tag_pairs, &e.tag_keys]
                    .iter()
                    .filter(|ids| ids.spilled())
                    .map(|ids| ids.capacity() * 4)
                    .sum::<usize>()
            })
            .sum();
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
                - self.len() * std::mem::size_of::<ImageCache>()
                + entries
                + self.free_slots.capacity() * 4
                + self.by_id.capacity() * (std::mem::size_of::<(Arc<str>, u32)>() + 1)
                + btree(
                    self.newest_first.len(),
                    std::mem::size_of::<(NewestFirst, u32)>(),
                )
                + btree(self.lru.len(), std::mem::size_of::<(LeastRecent, u32)>()),
            key_text_bytes: postings.iter().map(|p| p.text_bytes()).sum::<usize>()
                + self.by_id.keys().map(|k| k.len()).sum::<usize>(),
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
                (self.slots.len() - 1) as u32
            }
        };
        self.creation[slot as usize] = cache.creation_time.as_second();
        let id: Arc<str> = cache.id.as_str().into();

        let (mut exact, mut repo) = (Ids::new(), Ids::new());
        for image in &cache.images {
            let repo_len = self
                .rules
                .write_exact_key(image.reference(), &mut self.key_buf);
            exact.push(self.exact.add(&self.key_buf, slot));
            repo.push(self.repo.add(&self.key_buf[..repo_len], slot));
        }
        let (mut tag_pairs, mut tag_keys) = (Ids::new(), Ids::new());
        for tag in &cache.tags {
            tag_pair_key(&tag.key, &tag.value, &mut self.key_buf);
            tag_pairs.push(self.tag_pairs.add(&self.key_buf, slot));
            tag_keys.push(self.tag_keys.add(&tag.key, slot));
        }
        for ids in [&mut exact, &mut repo, &mut tag_pairs, &mut tag_keys] {
            ids.sort_unstable();
            ids.dedup();
        }
        let name = self.names.add(&cache.name, slot);
        let snapshot = cache
            .snapshot_id
            .as_deref()
            .map(|s| self.snapshots.add(s, slot));
        let resource_group = cache
            .resource_group_id
            .as_deref()
            .map(|g| self.resource_groups.add(g, slot));
        self.newest_first.insert(
            NewestFirst(Reverse(cache.creation_time.as_second()), id.clone()),
            slot,
        );
        let lru = lru_time(&cache);
        if let Some(t) = lru {
            self.lru.insert(LeastRecent(t, id.clone()), slot);
        }
        self.by_id.insert(id.clone(), slot);
        self.slots[slot as usize] = Some(Entry {
            cache,
            id,
            exact,
            repo,
            tag_pairs,
            tag_keys,
            name,
            snapshot,
            resource_group,
            lru,
        });
        old
    }

    /// Removes a cache by id.
    pub fn remove(&mut self, id: &str) -> Option<ImageCache> {
        let slot = self.by_id.remove(id)?;
        let entry = self.slots[slot as usize]
            .take()
            .expect("by_id points at a live slot");
        for &k in &entry.exact {
            self.exact.remove(k, slot);
        }
        for &k in &entry.repo {
            self.repo.remove(k, slot);
        }
        for &k in &entry.tag_pairs {
            self.tag_pairs.remove(k, slot);
        }
        for &k in &entry.tag_keys {
            self.tag_keys.remove(k, slot);
        }
        self.names.remove(entry.name, slot);
        if let Some(k) = entry.snapshot {
            self.snapshots.remove(k, slot);
        }
        if let Some(k) = entry.resource_group {
            self.resource_groups.remove(k, slot);
        }
        let creation = entry.cache.creation_time.as_second();
        self.newest_first
            .remove(&NewestFirst(Reverse(creation), entry.id.clone()));
        if let Some(t) = entry.lru {
            self.lru.remove(&LeastRecent(t, entry.id.clone()));
        }
        self.free_slots.push(slot);
        Some(entry.cache)
    }

    /// Changes a cache in place (status, times, images, tags…), keeping every
    /// structure consistent. Returns `false` when there is no such cache.
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut ImageCache)) -> bool {
        match self.remove(id) {
            Some(mut cache) => {
                change(&mut cache);
                self.insert(cache);
                true
            }
            None => false,
        }
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
        let limit = request.limit.map_or(usize::MAX, |l| l as usize);

        let Some(resolved) = self.resolve(request, scratch) else {
            return Ok(DescribePage {
                image_caches: Vec::new(),
                total_count: 0,
                next_token: None,
            });
        };
        scratch.candidates.clear();
        if scratch.prepared.match_count() > 0 {
            if scratch.prepared.full_match {
                self.full_match_candidates(&resolved, scratch);
            } else {
                self.counted_candidates(&resolved, scratch);
            }
        } else if let Some(driver) = self.driving_list(&resolved, scratch) {
            for &slot in driver {
                if self.passes_filters(slot, &resolved, scratch) {
                    let creation = self.creation[slot as usize];
                    scratch.candidates.push(Candidate {
                        f: 0,
                        p: 0,
                        creation,
                        slot,
                    });
                }
            }
        } else {
            return Ok(self.unfiltered_page(after.as_ref(), limit, &scratch.fingerprint));
        }
        Ok(self.page(after.as_ref(), limit, scratch))
    }

    /// Resolves the non-`MatchImage` filters to ids; `None` when one of them
    /// names something no cache has, so nothing can pass.
    fn resolve(&self, request: &DescribeRequest, scratch: &mut Scratch) -> Option<Resolved> {
        let mut resolved = Resolved::default();
        if let Some(id) = &request.image_cache_id {
            resolved.id = Some(*self.by_id.get(id.as_str())?);
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

    /// The shortest posting list among the filters, or `None` without any.
    fn driving_list<'a>(&'a self, resolved: &'a Resolved, scratch: &Scratch) -> Option<&'a [u32]> {
        let mut best: Option<&[u32]> = resolved.id.as_ref().map(std::slice::from_ref);
        let mut consider = |list: &'a [u32]| {
            if best.is_none_or(|b| list.len() < b.len()) {
                best = Some(list);
            }
        };
        if let Some(k) = resolved.name {
            consider(self.names.slots(k));
        }
        if let Some(k) = resolved.snapshot {
            consider(self.snapshots.slots(k));
        }
        if let Some(k) = resolved.resource_group {
            consider(self.resource_groups.slots(k));
        }
        if let Some((k, name_only)) = resolved.image {
            consider(if name_only {
                self.repo.slots(k)
            } else {
                self.exact.slots(k)
            });
        }
        for tag in &scratch.tag_filters {
            consider(match *tag {
                TagRef::Pair(k) => self.tag_pairs.slots(k),
                TagRef::Key(k) => self.tag_keys.slots(k),
            });
        }
        best
    }

    /// Whether the cache in `slot` passes every filter but `MatchImage`.
    fn passes_filters(&self, slot: u32, resolved: &Resolved, scratch: &Scratch) -> bool {
        let e = self.entry(slot);
        resolved.id.is_none_or(|s| s == slot)
            && resolved.name.is_none_or(|k| k == e.name)
            && resolved.snapshot.is_none_or(|k| Some(k) == e.snapshot)
            && resolved
                .resource_group
                .is_none_or(|k| Some(k) == e.resource_group)
            && resolved.image.is_none_or(|(k, name_only)| {
                let ids = if name_only { &e.repo } else { &e.exact };
                ids.binary_search(&k).is_ok()
            })
            && scratch.tag_filters.iter().all(|tag| match *tag {
                TagRef::Pair(k) => e.tag_pairs.binary_search(&k).is_ok(),
                TagRef::Key(k) => e.tag_keys.binary_search(&k).is_ok(),
            })
    }

    /// `MatchImage` by counting F and P over the posting lists.
    fn counted_candidates(&self, resolved: &Resolved, scratch: &mut Scratch) {
        scratch.begin_counting(self.slots.len());
        let generation = scratch.generation;
        let Scratch {
            prepared,
            counts,
            touched,
            query_mark,
            ..
        } = scratch;
        for (exact, repo) in prepared.match_keys() {
            *query_mark = query_mark.wrapping_add(1);
            let mark = *query_mark;
            for &slot in self.exact.slots_of(exact) {
                let c = &mut counts[slot as usize];
                if c.seen != generation {
                    *c = Counts {
                        seen: generation,
                        exact_mark: 0,
                        f: 0,
                        p: 0,
                    };
                    touched.push(slot);
                }
                c.f += 1;
                c.exact_mark = mark;
            }
            for &slot in self.repo.slots_of(repo) {
                let c = &mut counts[slot as usize];
                if c.seen != generation {
                    *c = Counts {
                        seen: generation,
                        exact_mark: 0,
                        f: 0,
                        p: 0,
                    };
                    touched.push(slot);
                }
                if c.exact_mark != mark {
                    c.p += 1;
                }
            }
        }
        let filtered = !resolved.is_empty() || !scratch.tag_filters.is_empty();
        for i in 0..scratch.touched.len() {
            let slot = scratch.touched[i];
            let c = scratch.counts[slot as usize];
            if scratch.prepared.match_passes(c.f as u32, c.p as u32)
                && (!filtered || self.passes_filters(slot, resolved, scratch))
            {
                let creation = self.creation[slot as usize];
                scratch.candidates.push(Candidate {
                    f: c.f,
                    p: c.p,
                    creation,
                    slot,
                });
            }
        }
    }

    /// `ImageFullMatch`: the caches on every query image's exact list.
    fn full_match_candidates(&self, resolved: &Resolved, scratch: &mut Scratch) {
        let mut lists: SmallVec<[&[u32]; 8]> = SmallVec::new();
        for (exact, _) in scratch.prepared.match_keys() {
            match self.exact.id(exact) {
                Some(k) => lists.push(self.exact.slots(k)),
                None => return,
            }
        }
        lists.sort_unstable_by_key(|l| l.len());
        let (shortest, rest) = lists.split_first().expect("MatchImage is not empty");
        let n = lists.len() as u16;
        for &slot in *shortest {
            if rest.iter().all(|l| l.binary_search(&slot).is_ok())
                && self.passes_filters(slot, resolved, scratch)
            {
                let creation = self.creation[slot as usize];
                scratch.candidates.push(Candidate {
                    f: n,
                    p: 0,
                    creation,
                    slot,
                });
            }
        }
    }

    /// The page of the passing caches after the cursor: selection, then a
    /// sort of only the page.
    fn page<'a>(
        &'a self,
        after: Option<&Position>,
        limit: usize,
        scratch: &mut Scratch,
    ) -> DescribePage<'a> {
        let total_count = scratch.candidates.len();
        if let Some(position) = after {
            let last = position.sort_key();
            scratch.candidates.retain(|c| self.sort_key(c) > last);
        }
        let order = |a: &Candidate, b: &Candidate| self.compare(a, b);
        let remaining = scratch.candidates.len();
        if remaining > limit {
            scratch.candidates.select_nth_unstable_by(limit, order);
            scratch.candidates.truncate(limit);
        }
        scratch.candidates.sort_unstable_by(order);
        let next_token = (remaining > limit).then(|| {
            let last = scratch.candidates.last().expect("limit >= 1");
            cursor::encode(&self.token_key, &scratch.fingerprint, self.sort_key(last))
        });
        DescribePage {
            image_caches: scratch
                .candidates
                .iter()
                .map(|c| &self.entry(c.slot).cache)
                .collect(),
            total_count,
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
        let mut rest = self.newest_first.range((start, Unbounded));
        let image_caches: Vec<&ImageCache> = rest
            .by_ref()
            .take(limit)
            .map(|(_, &slot)| &self.entry(slot).cache)
            .collect();
        let next_token = match (rest.next(), image_caches.last()) {
            (Some(_), Some(last)) => Some(cursor::encode(
                &self.token_key,
                fingerprint,
                SortKey::of(last, 0, 0),
            )),
            _ => None,
        };
        DescribePage {
            image_caches,
            total_count: self.len(),
            next_token,
        }
    }

    fn entry(&self, slot: u32) -> &Entry {
        self.slots[slot as usize].as_ref().expect("a live slot")
    }

    fn sort_key(&self, c: &Candidate) -> SortKey<'_> {
        SortKey {
            f: c.f as u32,
            p: c.p as u32,
            creation: c.creation,
            id: &self.entry(c.slot).id,
        }
    }

    fn compare(&self, a: &Candidate, b: &Candidate) -> Ordering {
        b.f.cmp(&a.f)
            .then(b.p.cmp(&a.p))
            .then(b.creation.cmp(&a.creation))
            .then_with(|| self.entry(a.slot).id.cmp(&self.entry(b.slot).id))
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
    /// posting lists, id tables, per-cache key ids, the two B-tree orders.
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
        let mut read = |list: &[u32]| {
            for &slot in list {
                sum = sum.wrapping_add(slot as u64);
            }
        };
        for (exact, repo) in scratch.prepared.match_keys() {
            read(self.exact.slots_of(exact));
            if !scratch.prepared.full_match {
                read(self.repo.slots_of(repo));
            }
        }
        if scratch.prepared.match_count() == 0 {
            for filter in &request.tags {
                match filter.value() {
                    Some(value) => {
                        tag_pair_key(&filter.key, value, &mut scratch.key_buf);
                        read(self.tag_pairs.slots_of(&scratch.key_buf));
                    }
                    None => read(self.tag_keys.slots_of(&filter.key)),
                }
            }
        }
        sum
    }
}

impl Scratch {
    /// Starts a counting pass over `slots` slots: a new generation marks
    /// every count stale without clearing the array.
    fn begin_counting(&mut self, slots: usize) {
        if self.counts.len() < slots {
            self.counts.resize(slots, Counts::default());
        }
        self.touched.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 || self.query_mark > u32::MAX - 128 {
            self.counts.fill(Counts::default());
            self.generation = 1;
            self.query_mark = 0;
        }
    }
}

/// A (key, value) tag as one unambiguous string: `<key length>:<key><value>`.
fn tag_pair_key(key: &str, value: &str, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let _ = write!(out, "{}:{key}{value}", key.len());
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
