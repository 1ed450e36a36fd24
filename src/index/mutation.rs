//! Changing the index: insert, remove, update in place, bulk building, and
//! re-keying a cache's posting lists after its record changed.

use std::hash::BuildHasher;

use smallvec::SmallVec;

use super::fields::hash_text;
use super::postings::Postings;
use super::ranks::RankKey;
use super::{Entry, IdKey, Index, LeastRecent, NONE, fit, lru_time, tag_pair_key};
use crate::record::ImageCache;
use crate::reference::RegistryAliases;

pub(super) type Ids = SmallVec<[u32; 8]>;

/// Below this many caches [`Index::extend`] inserts one by one.
const BULK_MIN: usize = 64;

impl Index {
    /// Inserts a cache, replacing the one with the same id; returns that one.
    ///
    /// A cache newer than every other takes the next rank in `O(keys)` list
    /// appends; an older one costs a few more (see the rank layout).
    pub fn insert(&mut self, cache: ImageCache) -> Option<ImageCache> {
        let old = self.remove(cache.id());
        let rank = self.make_room(RankKey::of(&cache));
        self.place(rank, cache);
        old
    }

    /// Inserts many caches at once, replacing those with the same ids (of
    /// two with one id in `caches`, the later wins), as if each were
    /// [`Index::insert`]ed in turn.
    ///
    /// For importing or loading a whole state: the caches, with those
    /// already indexed, are sorted into rank order once, their keys looked
    /// up a batch at a time, and every posting list made at its final size
    /// and filled in rank order: `O(n log n)` comparisons of integers and
    /// `O(Σ keys)` lookups and appends, with no holes left and no list
    /// grown by reallocation.
    ///
    /// ```
    /// use eci_imagecache::cursor::TokenKey;
    /// use eci_imagecache::index::Index;
    /// use eci_imagecache::record::ImageCache;
    /// use eci_imagecache::reference::RegistryAliases;
    ///
    /// let t = |s: &str| s.parse().unwrap();
    /// let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
    /// index.extend([
    ///     ImageCache::new("imc-b", "web", "cn-hangzhou", t("2024-05-02T00:00:00Z")),
    ///     ImageCache::new("imc-a", "web", "cn-hangzhou", t("2024-05-01T00:00:00Z")),
    /// ]);
    /// let ids: Vec<&str> = index.iter().map(|c| c.id()).collect();
    /// assert_eq!(ids, ["imc-b", "imc-a"]);
    /// ```
    pub fn extend(&mut self, caches: impl IntoIterator<Item = ImageCache>) {
        let caches: Vec<ImageCache> = caches.into_iter().collect();
        if caches.len() < BULK_MIN || caches.len() * 4 < self.live {
            for cache in caches {
                self.insert(cache);
            }
            return;
        }
        // Those indexed come first, so a newcomer with the same id wins.
        let all = if self.live == 0 {
            caches
        } else {
            let mut all: Vec<ImageCache> = std::mem::take(&mut self.entries)
                .into_iter()
                .flatten()
                .map(|e| e.cache)
                .collect();
            all.extend(caches);
            all
        };
        self.reset(self.rules.clone());
        self.build(all);
    }

    /// Empties the index, keeping its token key and page cap.
    pub(super) fn reset(&mut self, rules: RegistryAliases) {
        let page_cap = self.page_cap;
        *self = Index::new(rules, self.token_key.clone());
        self.page_cap = page_cap;
    }

    /// Puts a cache at `rank`, a hole or the end, and indexes it.
    fn place(&mut self, rank: u32, cache: ImageCache) {
        self.place_unkeyed(rank, cache);
        // Its keys as a bulk build's batch of one (written, then looked
        // up in one loop), then the rank added to every list.
        let mut batch = std::mem::take(&mut self.key_batch);
        self.intern_batch(&[rank], &mut batch);
        self.key_batch = batch;
        let entry = self.entries[rank as usize].take().expect("a live rank");
        self.change_each_key(&entry, rank, |postings, k| postings.add_to(k, rank));
        self.entries[rank as usize] = Some(entry);
    }

    /// [`Index::place`] but for the posting lists: the entry (holding no
    /// key), its id, fields, `fit` and LRU place (a bulk build keys every
    /// entry afterwards).
    pub(super) fn place_unkeyed(&mut self, rank: u32, cache: ImageCache) {
        let r = rank as usize;
        if r == self.entries.len() {
            self.entries.push(None);
            self.fit.push(0);
        }
        if let Some(key) = LeastRecent::of(&cache) {
            self.lru.insert(key, rank);
        }
        self.fit[r] = fit(&cache);
        let hash = self.hasher.hash_one(cache.id());
        // An entry that holds no key yet: re-keying adds every key.
        self.entries[r] = Some(Entry {
            cache,
            keys: Box::new([]),
            starts: [0; 3],
            name: NONE,
            snapshot: NONE,
            resource_group: NONE,
        });
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.by_id.insert_unique(hash, rank, |&r| {
            let cache = &entries[r as usize].as_ref().expect("live").cache;
            hasher.hash_one(cache.id())
        });
        self.file_fields(rank);
        self.live += 1;
    }

    /// Removes a cache by id. Its rank becomes a hole (holes are compacted
    /// once they outnumber the caches).
    pub fn remove(&mut self, id: &str) -> Option<ImageCache> {
        let cache = self.take(id)?;
        self.trim();
        Some(cache)
    }

    /// Removes a cache by id, leaving its rank a hole even at the end.
    pub(super) fn take(&mut self, id: &str) -> Option<ImageCache> {
        let hash = self.hasher.hash_one(id);
        let entries = &self.entries;
        let found = self
            .by_id
            .find_entry(hash, |&r| {
                entries[r as usize]
                    .as_ref()
                    .is_some_and(|e| e.cache.id() == id)
            })
            .ok()?;
        let rank = found.remove().0;
        let entry = self.entries[rank as usize]
            .take()
            .expect("by_id points at a live rank");
        self.fit[rank as usize] = 0;
        self.change_each_key(&entry, rank, |postings, k| postings.remove(k, rank));
        self.for_each_field(&entry, |table, at, hash| table.remove(at, hash, rank));
        if let Some(key) = LeastRecent::of(&entry.cache) {
            self.lru.remove(&key);
        }
        self.live -= 1;
        Some(entry.cache)
    }

    /// Changes a cache in place (status, times, images, tags…), keeping every
    /// structure consistent. Returns `false` when there is no such cache.
    ///
    /// Only what changed is re-indexed: the cache leaves the posting lists of
    /// keys it no longer has and joins those of keys it gained (a change of
    /// status, progress, events or settings touches no list at all), and
    /// moves in LRU order when its last use or eligibility changed. A change
    /// of `CreationTime` moves it to its new rank.
    ///
    /// The id cannot change: a change to it is undone.
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut ImageCache)) -> bool {
        let Some(rank) = self.rank_of(id) else {
            return false;
        };
        let entry = self.entries[rank as usize].as_mut().expect("a live rank");
        let (creation, auto_created) = (entry.cache.creation_time, entry.cache.auto_created);
        // The name and snapshot id as filed (where and under which hash),
        // to refile them if they change.
        let filed = [
            (
                entry.name,
                hash_text(&self.hasher, Some(entry.cache.name())),
            ),
            (
                entry.snapshot,
                hash_text(&self.hasher, entry.cache.snapshot_id()),
            ),
        ];
        // Its place in LRU order, as (pool, time), before the change.
        let lru_before = lru_time(&entry.cache).map(|t| (entry.cache.auto_created, t));
        // The keyed text as it was, to see what the change kept.
        self.keyed_text[0].write(&entry.cache);
        change(&mut entry.cache);
        if entry.cache.id() != id {
            entry.cache.set_id(id);
        }
        let moves = entry.cache.creation_time.as_second() != creation.as_second()
            || entry.cache.auto_created != auto_created;
        let [before, after] = &mut self.keyed_text;
        after.write(&entry.cache);
        let kept = before.kept(after);
        // Refiled first, so the tables agree with the record whichever way
        // it goes on.
        if !kept.fields {
            let Index {
                names, snapshots, ..
            } = self;
            for (table, (at, hash)) in [names, snapshots].into_iter().zip(filed) {
                table.remove(at, hash, rank);
            }
            let entry = self.entries[rank as usize].as_mut().expect("a live rank");
            (entry.name, entry.snapshot) = (NONE, NONE);
            self.file_fields(rank);
        }
        if moves {
            // Its rank or LRU pool moves: out with the old place, in with
            // the new.
            let entry = self.entries[rank as usize].as_mut().expect("a live rank");
            let (new_creation, new_auto) = (entry.cache.creation_time, entry.cache.auto_created);
            entry.cache.creation_time = creation;
            entry.cache.auto_created = auto_created;
            // Out of LRU order by the place it had: the record that leaves
            // may no longer say it.
            if let Some((auto, t)) = lru_before {
                self.lru.remove(&LeastRecent(auto, t, IdKey::new(id)));
            }
            let mut cache = self.remove(id).expect("present");
            cache.creation_time = new_creation;
            cache.auto_created = new_auto;
            self.insert(cache);
            return true;
        }
        self.rekey(rank, kept);
        let entry = self.entries[rank as usize].as_mut().expect("a live rank");
        self.fit[rank as usize] = fit(&entry.cache);
        self.move_in_lru(rank, id, lru_before);
        true
    }

    /// Records an auto-match hit: the cache's `LastMatchedTime` becomes
    /// `at`, which moves it in LRU order and changes nothing else (no key,
    /// field or rank), so nothing is re-keyed: what
    /// [`Index::update`] does for this change, without comparing the
    /// record's keyed text before and after. Returns `false` when there is
    /// no such cache.
    pub fn set_last_matched(&mut self, id: &str, at: jiff::Timestamp) -> bool {
        let Some(rank) = self.rank_of(id) else {
            return false;
        };
        let entry = self.entries[rank as usize].as_mut().expect("a live rank");
        let lru_before = lru_time(&entry.cache).map(|t| (entry.cache.auto_created, t));
        entry.cache.last_matched_time = Some(at);
        self.move_in_lru(rank, id, lru_before);
        true
    }

    /// Moves the cache at `rank` from its place in LRU order before a
    /// change, `(pool, time)`, to the one its record now gives.
    fn move_in_lru(&mut self, rank: u32, id: &str, before: Option<(bool, i64)>) {
        let entry = self.entries[rank as usize].as_ref().expect("a live rank");
        let now = lru_time(&entry.cache).map(|t| (entry.cache.auto_created, t));
        if now != before {
            let id = IdKey::new(id);
            if let Some((auto, t)) = before {
                self.lru.remove(&LeastRecent(auto, t, id.clone()));
            }
            if let Some((auto, t)) = now {
                self.lru.insert(LeastRecent(auto, t, id), rank);
            }
        }
    }

    /// Replaces the alias rules, re-indexing every cache under the new keys
    /// (a bulk build; for the rare change of `AcrRegistryInfo` domains).
    pub fn set_rules(&mut self, rules: RegistryAliases) {
        let all: Vec<ImageCache> = std::mem::take(&mut self.entries)
            .into_iter()
            .flatten()
            .map(|e| e.cache)
            .collect();
        self.reset(rules);
        self.build(all);
    }

    /// Brings the posting lists of `rank` in line with its record: a part
    /// the change `kept` (by its text) costs nothing; in the others a key it
    /// kept costs a hash lookup, a key it lost or gained a list change (a
    /// new entry, holding no key, gains them all).
    fn rekey(&mut self, rank: u32, kept: Kept) {
        let mut entry = self.entries[rank as usize].take().expect("a live rank");
        if kept.images && kept.tags && kept.resource_group {
            self.entries[rank as usize] = Some(entry);
            return;
        }
        let [exact, repo] = if kept.images {
            [Ids::from(entry.exact()), Ids::from(entry.repo())]
        } else {
            self.key_images(&entry, rank)
        };
        let [tag_pairs, tag_keys] = if kept.tags {
            [Ids::from(entry.tag_pairs()), Ids::from(entry.tag_keys())]
        } else {
            self.key_tags(&entry, rank)
        };
        let keys = [exact, repo, tag_pairs, tag_keys];
        self.leave_lost_keys(&entry, &keys, rank);
        entry.set_keys(keys);
        if !kept.resource_group {
            entry.resource_group = swap_key(
                &mut self.resource_groups,
                entry.resource_group,
                entry.cache.resource_group_id(),
                rank,
            );
        }
        self.entries[rank as usize] = Some(entry);
    }

    /// The exact and repository key ids of the images of `entry`'s record,
    /// sorted, each list gaining `rank` where the entry did not hold it.
    fn key_images(&mut self, entry: &Entry, rank: u32) -> [Ids; 2] {
        let (mut exact, mut repo) = (Ids::new(), Ids::new());
        for image in entry.cache.images().iter() {
            let repo_len = self
                .rules
                .write_exact_key(&image.reference(), &mut self.key_buf);
            exact.push(keep_or_add(
                &mut self.exact,
                &self.key_buf,
                entry.exact(),
                rank,
            ));
            repo.push(keep_or_add(
                &mut self.repo,
                &self.key_buf[..repo_len],
                entry.repo(),
                rank,
            ));
        }
        [sorted_set(exact), sorted_set(repo)]
    }

    /// The tag pair and tag key ids of `entry`'s record, as
    /// [`Index::key_images`] does for images.
    fn key_tags(&mut self, entry: &Entry, rank: u32) -> [Ids; 2] {
        let (mut tag_pairs, mut tag_keys) = (Ids::new(), Ids::new());
        for (key, value) in entry.cache.tags().iter() {
            tag_pair_key(key, value, &mut self.key_buf);
            tag_pairs.push(keep_or_add(
                &mut self.tag_pairs,
                &self.key_buf,
                entry.tag_pairs(),
                rank,
            ));
            tag_keys.push(keep_or_add(&mut self.tag_keys, key, entry.tag_keys(), rank));
        }
        [sorted_set(tag_pairs), sorted_set(tag_keys)]
    }

    /// Takes `rank` out of the lists of the keys `entry` held and `keys`
    /// (exact, repo, tag pairs, tag keys) no longer does, their misses
    /// overlapped as in `Index::change_each_key` (only some keys leave).
    fn leave_lost_keys(&mut self, entry: &Entry, keys: &[Ids; 4], rank: u32) {
        let [exact, repo, tag_pairs, tag_keys] = keys;
        for step in 0..3 {
            for (postings, old, new) in [
                (&mut self.exact, entry.exact(), exact),
                (&mut self.repo, entry.repo(), repo),
                (&mut self.tag_pairs, entry.tag_pairs(), tag_pairs),
                (&mut self.tag_keys, entry.tag_keys(), tag_keys),
            ] {
                for &k in old.iter().filter(|k| new.binary_search(k).is_err()) {
                    match step {
                        0 => postings.prefetch_entry(k),
                        1 => postings.prefetch_list(k, rank),
                        _ => postings.remove(k, rank),
                    }
                }
            }
        }
    }
}

/// The key's id if the cache already had it (`had`, sorted), else the id
/// after adding `rank` to its list.
fn keep_or_add(postings: &mut Postings, key: &str, had: &[u32], rank: u32) -> u32 {
    if had.is_empty() {
        return postings.add(key, rank);
    }
    // One lookup: a key it had stays, a key in use gains the rank.
    match postings.id(key) {
        Some(k) if had.binary_search(&k).is_ok() => k,
        Some(k) => {
            postings.add_to(k, rank);
            k
        }
        None => postings.add(key, rank),
    }
}

/// Sorted, without repeats.
fn sorted_set(mut ids: Ids) -> Ids {
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The resource group's key after a change from key `old` to text `new`
/// (`NONE` for none), moving `rank` between the lists when they differ.
fn swap_key(postings: &mut Postings, old: u32, new: Option<&str>, rank: u32) -> u32 {
    let keep = new
        .filter(|_| old != NONE)
        .and_then(|k| postings.id(k))
        .filter(|&k| k == old);
    if let Some(k) = keep {
        return k;
    }
    let id = new.map_or(NONE, |k| postings.add(k, rank));
    if old != NONE {
        postings.remove(old, rank);
    }
    id
}

/// Which of a record's keyed parts an update kept, by their text: then
/// re-keying does not look their keys up again, nor are the name and
/// snapshot id refiled (a lifecycle step or an auto-match hit keeps all).
#[derive(Clone, Copy)]
pub(super) struct Kept {
    pub(super) images: bool,
    pub(super) tags: bool,
    pub(super) resource_group: bool,
    /// The name and the snapshot id.
    pub(super) fields: bool,
}

/// A record's keyed parts as text, each part encoded on its own and
/// injectively (a count, then every piece after its length): two records
/// have the same images, tags, resource group, or name and snapshot id,
/// exactly when the parts' bytes are equal.
#[derive(Default)]
pub(super) struct KeyedText {
    buf: Vec<u8>,
    /// Where the images, the tags, the resource group and the fields end.
    ends: [usize; 4],
}

impl KeyedText {
    pub(super) fn write(&mut self, cache: &ImageCache) {
        fn piece(out: &mut Vec<u8>, text: &[u8]) {
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
            out.extend_from_slice(text);
        }
        let out = &mut self.buf;
        out.clear();
        piece(out, &(cache.images().len() as u64).to_le_bytes());
        for image in cache.images() {
            piece(out, image.written().as_bytes());
        }
        self.ends[0] = out.len();
        piece(out, &(cache.tags().len() as u64).to_le_bytes());
        for (key, value) in cache.tags() {
            piece(out, key.as_bytes());
            piece(out, value.as_bytes());
        }
        self.ends[1] = out.len();
        fn optional(out: &mut Vec<u8>, text: Option<&str>) {
            match text {
                None => out.push(0),
                Some(text) => {
                    out.push(1);
                    piece(out, text.as_bytes());
                }
            }
        }
        optional(out, cache.resource_group_id());
        self.ends[2] = out.len();
        piece(out, cache.name().as_bytes());
        optional(out, cache.snapshot_id());
        self.ends[3] = out.len();
    }

    fn part(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }

    /// Which parts `after` has as this one does.
    pub(super) fn kept(&self, after: &KeyedText) -> Kept {
        Kept {
            images: self.part(0) == after.part(0),
            tags: self.part(1) == after.part(1),
            resource_group: self.part(2) == after.part(2),
            fields: self.part(3) == after.part(3),
        }
    }
}
