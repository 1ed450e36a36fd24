//! The rank layout's invariants, checked after every change of a long
//! random sequence that crosses each boundary: shifts up and down, spreads
//! of a burst, renumbering, holes at the end, compaction once holes
//! outnumber caches, and bulk builds over an index that has holes.

use std::collections::BTreeMap;

use super::ranks::{HOLE_EVERY, RankKey, SPREAD_AFTER, SPREAD_GAP, SPREAD_MAX};
use super::*;

impl Index {
    /// Panics unless every structure agrees with the records.
    fn check(&self) {
        assert_ne!(
            self.entries.last().map(Option::is_none),
            Some(true),
            "a hole at the end"
        );
        assert_eq!(self.entries.len(), self.fit.len());
        assert_eq!(self.entries.iter().flatten().count(), self.live);
        assert_eq!(self.by_id.len(), self.live);
        let mut previous: Option<RankKey<'_>> = None;
        let mut lists: BTreeMap<(u8, u32), Vec<u32>> = BTreeMap::new();
        for (rank, e) in self.entries.iter().enumerate() {
            let rank32 = rank as u32;
            let Some(e) = e else {
                assert_eq!(self.fit[rank], 0);
                continue;
            };
            let key = RankKey::of(&e.cache);
            if let Some(p) = previous {
                assert_eq!(
                    p.cmp(&key),
                    std::cmp::Ordering::Less,
                    "ranks out of order at {rank}"
                );
            }
            previous = Some(key);
            assert_eq!(self.rank_of(e.cache.id()), Some(rank32));
            assert_eq!(self.fit[rank], fit(&e.cache));
            for (which, keys) in [
                (0, e.exact()),
                (1, e.repo()),
                (2, e.tag_pairs()),
                (3, e.tag_keys()),
            ] {
                for &k in keys {
                    lists.entry((which, k)).or_default().push(rank32);
                }
            }
            if e.resource_group != NONE {
                lists.entry((4, e.resource_group)).or_default().push(rank32);
            }
            if let Some(key) = LeastRecent::of(&e.cache) {
                assert_eq!(self.lru.get(&key), Some(&rank32));
            }
        }
        assert_eq!(
            self.lru.len(),
            self.entries
                .iter()
                .flatten()
                .filter(|e| LeastRecent::of(&e.cache).is_some())
                .count()
        );
        let postings = self.tables();
        let mut keys_in_use = [0usize; 5];
        for (&(which, k), ranks) in &lists {
            let list: Vec<u32> = postings[which as usize].list(k).iter().collect();
            assert_eq!(&list, ranks, "the list of key {k} in table {which}");
            keys_in_use[which as usize] += 1;
        }
        for (which, p) in postings.iter().enumerate() {
            assert_eq!(p.len(), keys_in_use[which], "keys leaked in table {which}");
        }
        self.names.check(&self.hasher, &self.entries, |e| e.name);
        self.snapshots
            .check(&self.hasher, &self.entries, |e| e.snapshot);
    }
}

fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed | 1;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}

fn cache(id: u64, created: i64, r: &mut impl FnMut(u64) -> u64) -> ImageCache {
    let at = jiff::Timestamp::from_second(1_700_000_000 + created).unwrap();
    let images: Vec<String> = (0..1 + r(3))
        .map(|_| format!("team/app{}:{}", r(5), r(3)))
        .collect();
    let mut c = ImageCache::new(
        format!("imc-{id:08}"),
        format!("n{}", r(4)),
        "cn-hangzhou",
        at,
    )
    .with_images(images.iter().map(String::as_str))
    .unwrap();
    if r(2) == 0 {
        c.elimination_strategy = EliminationStrategy::Lru;
    }
    if r(3) == 0 {
        c.set_snapshot_id(Some(&format!("s-{}", r(3))));
    }
    let tags: Vec<_> = (0..r(3))
        .map(|i| crate::record::Tag::new(format!("k{i}"), format!("v{}", r(2))))
        .collect();
    c.set_tags(&tags);
    c.status = CacheStatus::ALL[r(CacheStatus::ALL.len() as u64) as usize];
    c.size_gib = r(40) as u32;
    c
}

fn index() -> Index {
    Index::new(RegistryAliases::default(), TokenKey::from_seed(7))
}

#[test]
fn appends_take_the_next_rank_and_leave_no_holes() {
    let mut r = rng(1);
    let mut index = index();
    for i in 0..500 {
        index.insert(cache(i, i as i64, &mut r));
    }
    index.check();
    assert_eq!((index.entries.len(), index.holes()), (500, 0));
}

/// Enough caches for `Index::extend` to build in bulk, with no holes.
const BULK: usize = 64;

/// A bulk build makes every list at its final size, in the form appends
/// give it (flat up to 1 024 ranks, containers beyond), with the same
/// ranks as inserting the caches one by one, a replaced duplicate's keys
/// included nowhere.
#[test]
fn a_bulk_build_makes_every_list_at_its_final_size() {
    let mut r = rng(9);
    // 3 000 caches on 15 images: lists of about 200 to 1 500 ranks.
    let caches: Vec<ImageCache> = (0..3000u64).map(|i| cache(i, i as i64, &mut r)).collect();
    // The later of two with one id wins: its image is in the index, the
    // earlier one's are not.
    let twice = caches[1234]
        .clone()
        .with_images(["team/only-in-the-duplicate:1"])
        .unwrap();
    let mut bulk = index();
    bulk.extend(caches.iter().cloned().chain([twice.clone()]));
    bulk.check();
    let mut one_by_one = index();
    for c in caches.iter().cloned().chain([twice]) {
        one_by_one.insert(c);
    }
    one_by_one.check();
    let (mut long, mut flat) = (0, 0);
    for (a, b) in bulk.tables().into_iter().zip(one_by_one.tables()) {
        assert_eq!(a.len(), b.len());
        for id in 0..a.len() as u32 {
            let (is_long, len, capacity) = a.shape(id);
            assert_eq!(is_long, len > 1024, "key {id}: {len} ranks");
            if !is_long && len > 2 {
                assert_eq!(capacity, len, "key {id}: a flat list at its final size");
            }
            // The same caches (ranks may differ: holes fall elsewhere).
            let key = a.key(id).expect("a key in use");
            let ours: Vec<&str> = a.list(id).iter().map(|r| bulk.cache(r).id()).collect();
            let theirs: Vec<&str> = b
                .list_of(key)
                .iter()
                .map(|r| one_by_one.cache(r).id())
                .collect();
            assert_eq!(ours, theirs, "the list of {key}");
            long += usize::from(is_long);
            flat += usize::from(!is_long && len > 0);
        }
    }
    assert!(long > 0 && flat > 0, "{long} long lists, {flat} flat ones");
    let duplicate = bulk.rank_of("imc-00001234").unwrap();
    assert_eq!(bulk.entry(duplicate).exact().len(), 1);
    assert!(
        bulk.exact
            .id("docker.io/team/only-in-the-duplicate:1")
            .is_some()
    );
}

#[test]
fn a_near_insert_shifts_a_far_one_spreads_and_a_deep_one_renumbers() {
    let mut r = rng(2);
    // SPREAD_AFTER caches above the place of an older one, no hole: they
    // all move up by one.
    let mut index = index();
    for i in 0..SPREAD_AFTER as u64 {
        index.insert(cache(i, 10, &mut r));
    }
    assert_eq!((index.entries.len(), index.holes()), (SPREAD_AFTER, 0));
    index.insert(cache(1_000, 5, &mut r));
    index.check();
    assert_eq!((index.entries.len(), index.holes()), (SPREAD_AFTER + 1, 0));
    assert_eq!(index.cache(0).id(), "imc-00001000");

    // A hole three caches below and none above: those three move down.
    let mut index = self::index();
    index.extend((0..2 * BULK as u64).map(|i| cache(i, i as i64, &mut r)));
    index.remove("imc-00000005");
    // After the cache of second 8 (a smaller id comes later), before 9.
    let mut newcomer = cache(7, 8, &mut r);
    newcomer.set_id("imc-00000007x");
    index.insert(newcomer);
    index.check();
    assert_eq!((index.entries.len(), index.holes()), (2 * BULK, 0));
    assert_eq!(index.cache(8).id(), "imc-00000007x");
    assert_eq!(index.cache(7).id(), "imc-00000008");

    // BULK caches above and no hole near, among the newest of a larger
    // index: BULK ranks above its place and BULK below spread out with
    // SPREAD_GAP holes after each cache, the newcomer between them.
    let mut index = self::index();
    let older: Vec<ImageCache> = (0..1_000u64).map(|i| cache(i, i as i64, &mut r)).collect();
    let newest: Vec<ImageCache> = (0..BULK as u64)
        .map(|i| cache(5_000 + i, 2_000, &mut r))
        .collect();
    index.extend(older.into_iter().chain(newest));
    assert_eq!(index.holes(), 0);
    index.insert(cache(1_001, 1_500, &mut r));
    index.check();
    assert_eq!(index.holes(), SPREAD_GAP * 2 * BULK);
    let slot = 1_000 - BULK + (SPREAD_GAP + 1) * BULK;
    assert_eq!(index.cache(slot as u32).id(), "imc-00001001");
    // The next out-of-order insert takes a hole without moving anything.
    let before = index.entries.len();
    let mut between = cache(1_002, 2_000, &mut r);
    between.set_id("imc-00005031a");
    index.insert(between);
    index.check();
    assert_eq!(index.entries.len(), before);

    // In a small index every place is among the newest, but a spread would
    // make more holes than caches: the caches move up instead.
    let mut index = self::index();
    index.extend((0..BULK as u64).map(|i| cache(i, 10, &mut r)));
    index.insert(cache(1_003, 1, &mut r));
    index.check();
    assert_eq!((index.entries.len(), index.holes()), (BULK + 1, 0));

    // More than SPREAD_MAX / 2 caches above, no hole near: everything is
    // renumbered with a hole after every HOLE_EVERY.
    let mut index = self::index();
    index.extend((0..=SPREAD_MAX as u64).map(|i| cache(i, 10, &mut r)));
    assert_eq!(index.holes(), 0);
    index.insert(cache(99_999, 5, &mut r));
    index.check();
    assert_eq!(index.cache(0).id(), "imc-00099999");
    // One of its holes was taken by the shift that placed the newcomer.
    assert_eq!(index.holes(), (SPREAD_MAX + 1) / HOLE_EVERY - 1);
}

/// A burst of creates in one second lands at random places among the
/// newest (ids are random): shifts both ways and spreads keep every
/// invariant, and the rank space stays within a few times the caches.
#[test]
fn a_burst_in_one_second_keeps_every_invariant() {
    let mut r = rng(9);
    let mut index = index();
    index.extend((0..500u64).map(|i| cache(i, i as i64, &mut r)));
    // Ids drawn at random, all at the newest second, and some deletes.
    for i in 0..1_500u64 {
        let mut c = cache(10_000 + i, 499, &mut r);
        c.set_id(&format!("imc-{:012}", r(1 << 40)));
        index.insert(c);
        if i % 7 == 0 {
            let victim = format!("imc-{:08}", r(500));
            index.remove(&victim);
        }
        if i % 100 == 0 {
            index.check();
        }
    }
    index.check();
    assert!(
        index.entries.len() <= (SPREAD_GAP + 2) * index.live,
        "{} ranks for {} caches",
        index.entries.len(),
        index.live
    );
}

/// Re-keying skips the parts an update kept, judged by their text: every
/// kind of change, including ones whose text could run together (a tag
/// `ab`/`c` becoming `a`/`bc`), leaves the lists exactly as the records say.
#[test]
fn an_update_re_keys_exactly_the_parts_it_changed() {
    use super::mutation::KeyedText;
    use crate::record::{CachedImage, Tag};
    /// A change, and whether it keeps the images, the tags, the group, and
    /// the name and snapshot id.
    type Case = (&'static str, fn(&mut ImageCache), [bool; 4]);
    let changes: [Case; 13] = [
        (
            "status only",
            |c| c.status = CacheStatus::Failed,
            [true, true, true, true],
        ),
        (
            "one image more",
            |c| {
                let mut images = c.images().to_vec();
                images.push(CachedImage::parse("nginx:1").unwrap());
                c.set_images(&images);
            },
            [false, true, true, true],
        ),
        (
            "an image before the others",
            |c| {
                let mut images = c.images().to_vec();
                images.insert(0, CachedImage::parse("a/b:1").unwrap());
                c.set_images(&images);
            },
            [false, true, true, true],
        ),
        (
            "an image parsed again from its text",
            |c| {
                let mut images = c.images().to_vec();
                images[0] = CachedImage::parse(images[0].written()).unwrap();
                c.set_images(&images);
            },
            [true, true, true, true],
        ),
        (
            "tags set",
            |c| c.set_tags(&[Tag::new("ab", "c")]),
            [true, false, true, true],
        ),
        (
            "tags run together otherwise",
            |c| c.set_tags(&[Tag::new("a", "bc")]),
            [true, false, true, true],
        ),
        (
            "tags cleared",
            |c| c.set_tags(&[]),
            [true, false, true, true],
        ),
        (
            "group set",
            |c| c.set_resource_group_id(Some("rg-1")),
            [true, true, false, true],
        ),
        (
            "group emptied",
            |c| c.set_resource_group_id(Some("")),
            [true, true, false, true],
        ),
        (
            "group cleared",
            |c| c.set_resource_group_id(None),
            [true, true, false, true],
        ),
        (
            "name changed",
            |c| c.set_name(&format!("{}x", c.name())),
            [true, true, true, false],
        ),
        (
            "snapshot set",
            |c| c.set_snapshot_id(Some("s-new")),
            [true, true, true, false],
        ),
        (
            "snapshot cleared",
            |c| c.set_snapshot_id(None),
            [true, true, true, false],
        ),
    ];
    let mut r = rng(11);
    let mut index = index();
    index.extend((0..100u64).map(|i| cache(i, i as i64, &mut r)));
    index.update("imc-00000007", |c| {
        let mut images = c.images().to_vec();
        images.push(CachedImage::parse("x/y:2").unwrap());
        c.set_images(&images);
    });
    for (what, change, kept) in changes {
        let before = index.get("imc-00000007").unwrap().clone();
        let mut after = before.clone();
        change(&mut after);
        let (mut a, mut b) = (KeyedText::default(), KeyedText::default());
        a.write(&before);
        b.write(&after);
        let k = a.kept(&b);
        assert_eq!(
            [k.images, k.tags, k.resource_group, k.fields],
            kept,
            "{what}"
        );
        for id in ["imc-00000007", "imc-00000050", "imc-00000099"] {
            assert!(index.update(id, change), "{what}");
            index.check();
        }
    }
}

#[test]
fn holes_at_the_end_are_dropped_and_many_holes_are_compacted() {
    let mut r = rng(3);
    let mut index = index();
    for i in 0..1_000 {
        index.insert(cache(i, i as i64, &mut r));
    }
    // Deleting the newest leaves no hole at the end.
    index.remove("imc-00000999");
    index.check();
    assert_eq!((index.entries.len(), index.holes()), (999, 0));
    // Deleting every other cache up to half leaves holes...
    for i in (0..998).step_by(2) {
        index.remove(&format!("imc-{i:08}"));
        index.check();
    }
    assert_eq!(index.live, 500);
    assert!(index.holes() <= index.live, "{} holes", index.holes());
    // ...and one more delete than half compacts them.
    for i in (1..600).step_by(2) {
        index.remove(&format!("imc-{i:08}"));
    }
    index.check();
    assert!(
        index.entries.len() <= 2 * index.live.max(32),
        "{} ranks for {}",
        index.entries.len(),
        index.live
    );
}

#[test]
fn a_long_random_sequence_keeps_every_invariant() {
    let mut r = rng(4);
    let mut index = index();
    let mut live: Vec<u64> = Vec::new();
    let mut next = 0;
    for step in 0..6_000 {
        match r(10) {
            0..=4 => {
                // Creation times over a narrow range: ties and inserts
                // anywhere, not only at the end.
                let created = r(200) as i64;
                index.insert(cache(next, created, &mut r));
                live.push(next);
                next += 1;
            }
            5..=7 if !live.is_empty() => {
                let victim = live.swap_remove(r(live.len() as u64) as usize);
                assert!(index.remove(&format!("imc-{victim:08}")).is_some());
            }
            8 if !live.is_empty() => {
                let id = live[r(live.len() as u64) as usize];
                let created = r(200) as i64;
                let lru = r(2) == 0;
                let status = CacheStatus::ALL[r(CacheStatus::ALL.len() as u64) as usize];
                // Sometimes a new name or snapshot id (shared by others, or
                // none), so the field tables move a rank in place.
                let name = (r(3) == 0).then(|| format!("n{}", r(4)));
                let snapshot = match r(4) {
                    0 => Some(None),
                    1 => Some(Some(format!("s-{}", r(3)))),
                    _ => None,
                };
                assert!(index.update(&format!("imc-{id:08}"), |c| {
                    if let Some(name) = name {
                        c.set_name(&name);
                    }
                    if let Some(snapshot) = snapshot {
                        c.set_snapshot_id(snapshot.as_deref());
                    }
                    c.creation_time =
                        jiff::Timestamp::from_second(1_700_000_000 + created).unwrap();
                    c.elimination_strategy = if lru {
                        EliminationStrategy::Lru
                    } else {
                        EliminationStrategy::Retain
                    };
                    c.status = status;
                }));
            }
            _ => {
                // A bulk build over whatever holes there are, with one id
                // given twice (the later wins).
                let batch: Vec<ImageCache> = (0..70 + r(60))
                    .map(|i| cache(next + i, r(200) as i64, &mut r))
                    .collect();
                let twice = cache(next, 999, &mut r);
                let n = batch.len() as u64;
                index.extend(batch.into_iter().chain([twice]));
                assert_eq!(
                    index
                        .get(&format!("imc-{next:08}"))
                        .unwrap()
                        .creation_time
                        .as_second(),
                    1_700_000_999
                );
                live.extend(next..next + n);
                next += n;
            }
        }
        if step % 50 == 0 {
            index.check();
        }
        assert_eq!(index.len(), live.len());
    }
    index.check();
}

/// A spread over a range with holes above the shift window: no cache may
/// move down onto another (found by review: caches were overwritten).
#[test]
fn a_spread_over_holes_never_moves_a_cache_down() {
    let mut r = rng(5);
    let mut index = index();
    for i in 0..300 {
        index.insert(cache(i, i as i64 * 10, &mut r));
    }
    for i in 164..264 {
        assert!(index.remove(&format!("imc-{i:08}")).is_some());
    }
    index.check();
    assert_eq!(index.holes(), 100);
    // Its place is rank 100: no hole within SHIFT_MAX above, 200 ranks to
    // the end, holes beyond the window.
    index.insert(cache(10_000, 1_000, &mut r));
    index.check();
    assert_eq!(index.len(), 201);
    for i in (0..164).chain(264..300) {
        assert!(
            index.get(&format!("imc-{i:08}")).is_some(),
            "imc-{i:08} lost"
        );
    }
    assert_eq!(
        index.lru_order().count(),
        index
            .entries
            .iter()
            .flatten()
            .filter(|e| LeastRecent::of(&e.cache).is_some())
            .count()
    );
}

/// A value many caches share has one posting list: looking it up or adding
/// to it never walks the caches that share it (a name given to thousands
/// of caches costs what a unique one does), while unique values are filed
/// in the table of single holders.
#[test]
fn a_name_many_caches_share_is_one_list_and_unique_ids_are_singles() {
    let mut r = rng(9);
    let mut index = index();
    for i in 0..3_000 {
        let mut c = cache(i, i as i64, &mut r);
        c.set_name("shared");
        c.set_snapshot_id(Some(&format!("s-own-{i}")));
        index.insert(c);
    }
    index.check();
    assert_eq!((index.names.values(), index.snapshots.values()), (1, 3_000));
    let Some(super::fields::FieldRef::Shared(k)) =
        index.names.find(&index.hasher, &index.entries, "shared")
    else {
        panic!("a shared name is a posting list");
    };
    assert_eq!(index.names.list(k).len(), 3_000);
    assert!(matches!(
        index
            .snapshots
            .find(&index.hasher, &index.entries, "s-own-7"),
        Some(super::fields::FieldRef::Single(_))
    ));
    assert!(
        index
            .snapshots
            .find(&index.hasher, &index.entries, "s-own-3000")
            .is_none()
    );
}

/// The dense scan compares counters unsigned: a cache on 130 of 130 exact
/// lists (a counter of `130 << 8`, above `0x7fff`) is found and ranked
/// first, through `Index::best_match`, which takes more images than the
/// API's 100 without validating them. 300 caches make the block dense.
#[test]
fn a_counter_above_0x7fff_is_counted_by_the_dense_scan() {
    let images: Vec<String> = (0..130).map(|i| format!("team/app{i}:1")).collect();
    let mut index = index();
    let at = |s: i64| jiff::Timestamp::from_second(1_700_000_000 + s).unwrap();
    for i in 0..300u64 {
        // Every third cache holds all 130 images; the others half of them.
        let held = if i % 3 == 0 { 130 } else { 65 };
        let mut c = ImageCache::new(format!("imc-{i:08}"), "n", "cn-hangzhou", at(i as i64))
            .with_images(images[..held].iter().map(String::as_str))
            .unwrap();
        c.status = CacheStatus::Ready;
        c.size_gib = 20;
        index.insert(c);
    }
    let mut request = crate::automatch::AutoMatchRequest::new("cn-hangzhou");
    for image in &images {
        request = request.image(image).unwrap();
    }
    let mut scratch = Scratch::default();
    let best = index.best_match(&request, &mut scratch).expect("a match");
    // The newest of those holding all 130: rank order puts it first.
    assert_eq!(
        (best.cache.id(), best.exact, best.partial),
        ("imc-00000297", 130, 0)
    );
    let all130 = index
        .ranked_matches(&request, 300, &mut scratch)
        .iter()
        .filter(|m| m.exact == 130)
        .count();
    assert_eq!(all130, 100);
}

/// An auto-match hit through [`Index::set_last_matched`] leaves the index
/// exactly as the same change through [`Index::update`]: the records, the
/// LRU order and every list, over hits on caches in and out of LRU order
/// (busy, `Retain`), earlier and later than their last use.
#[test]
fn a_hit_moves_in_lru_order_as_an_update_does() {
    let mut r = rng(11);
    let caches: Vec<ImageCache> = (0..300u64).map(|i| cache(i, i as i64, &mut r)).collect();
    let (mut hit, mut updated) = (index(), index());
    hit.extend(caches.iter().cloned());
    updated.extend(caches.iter().cloned());
    for step in 0..600u64 {
        let id = format!("imc-{:08}", r(320));
        let at = jiff::Timestamp::from_second(1_700_000_000 + r(900) as i64).unwrap();
        let found = hit.set_last_matched(&id, at);
        assert_eq!(
            found,
            updated.update(&id, |c| c.last_matched_time = Some(at))
        );
        assert_eq!(found, hit.get(&id).is_some(), "step {step}");
    }
    hit.check();
    updated.check();
    let records = |index: &Index| -> Vec<ImageCache> { index.iter().cloned().collect() };
    assert_eq!(records(&hit), records(&updated));
    let lru = |index: &Index| -> Vec<(String, u32)> {
        index
            .lru
            .iter()
            .map(|(k, &rank)| (index.cache(rank).id().to_owned(), k.1 as u32))
            .collect()
    };
    assert_eq!(lru(&hit), lru(&updated));
    assert!(hit.lru.len() > 50, "{} in LRU order", hit.lru.len());
}

/// The search for a new cache's place, galloping down from the top, puts
/// it after every cache before it and before every other, for keys below,
/// among, tied with and above the caches of a rank space with holes.
#[test]
fn the_place_of_a_key_splits_the_caches_before_it_from_the_rest() {
    let mut r = rng(9);
    let mut index = index();
    for id in 0..400 {
        index.insert(cache(id, r(50) as i64, &mut r));
    }
    for id in (0..400).step_by(3) {
        assert!(index.remove(&format!("imc-{id:08}")).is_some());
    }
    assert!(index.holes() > 0);
    let n = index.entries.len();
    for created in -1..52 {
        for id in [0, 1, 200, 398, 399, 1_000] {
            let id = format!("imc-{id:08}");
            let key = RankKey {
                creation: 1_700_000_000 + created,
                id: &id,
            };
            let place = index.lower_bound(key) as usize;
            assert!(place <= n);
            for rank in 0..n {
                let Some(at) = index.key_at(rank) else {
                    continue;
                };
                assert_eq!(
                    at.cmp(&key) == std::cmp::Ordering::Less,
                    rank < place,
                    "rank {rank}, place {place} of ({created}, {id})"
                );
            }
        }
    }
}
