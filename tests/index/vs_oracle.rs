//! The index answers exactly what the naive oracle answers: same caches, same
//! order, same `TotalCount`, same `NextToken`, on every page; paging while
//! caches come and go never repeats a cache nor skips one that stayed; keys
//! are freed when their last cache goes.

use std::collections::BTreeSet;

use eci_imagecache::automatch::AutoMatchRequest;
use eci_imagecache::cursor::TokenKey;
use eci_imagecache::describe::{DescribePage, DescribeRequest};
use eci_imagecache::index::{Index, Scratch};
use eci_imagecache::oracle::NaiveIndex;
use eci_imagecache::record::{CacheStatus, EliminationStrategy, ImageCache, Tag};
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::{ApiError, ErrorCode};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const REPOS: &[&str] = &[
    "nginx",
    "docker.io/library/nginx",
    "library/redis",
    "team/app",
    "team/api",
    "registry.cn-hangzhou.aliyuncs.com/ns/web",
    "registry-vpc.cn-hangzhou.aliyuncs.com/ns/web",
    "registry.cn-shanghai.aliyuncs.com/ns/web",
    "myinst-registry.cn-shanghai.cr.aliyuncs.com/ns/svc",
    "myinst-registry-vpc.cn-shanghai.cr.aliyuncs.com/ns/svc",
    "example.com:5000/x",
];
const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const VERSIONS: &[&str] = &["", ":1", ":2", ":latest", "@A", "@B", ":1@A"];

fn image(repo: usize, version: usize) -> String {
    let v = VERSIONS[version]
        .replace("@A", &format!("@{A}"))
        .replace("@B", &format!("@{B}"));
    format!("{}{v}", REPOS[repo])
}

fn image_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => (0..REPOS.len(), 0..VERSIONS.len()).prop_map(|(r, v)| image(r, v)),
        1 => Just("unknown/image:1".to_owned()),
    ]
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

#[derive(Clone, Debug)]
struct Spec {
    name: &'static str,
    images: Vec<String>,
    tags: Vec<(&'static str, &'static str)>,
    snapshot: Option<&'static str>,
    group: Option<&'static str>,
    created: i64,
    lru: bool,
    status: usize,
    last_matched: Option<i64>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        pick(&["web", "api", "db"]),
        prop::collection::vec(image_strategy(), 1..5),
        prop::collection::vec(
            (pick(&["env", "team", "tier"]), pick(&["a", "b", ""])),
            0..3,
        ),
        pick(&[None, Some("s-1"), Some("s-2"), Some("s-3")]),
        pick(&[None, Some("rg-1"), Some("rg-2")]),
        0i64..6,
        any::<bool>(),
        0..CacheStatus::ALL.len(),
        prop::option::of(0i64..10),
    )
        .prop_map(
            |(name, images, tags, snapshot, group, created, lru, status, last_matched)| Spec {
                name,
                images,
                tags,
                snapshot,
                group,
                created,
                lru,
                status,
                last_matched,
            },
        )
}

fn cache(id: &str, s: &Spec) -> ImageCache {
    let at = |secs: i64| jiff::Timestamp::from_second(1_700_000_000 + secs * 60).unwrap();
    let mut c = ImageCache::new(id, s.name, "cn-hangzhou", at(s.created))
        .with_images(s.images.iter().map(String::as_str))
        .unwrap();
    c.set_tags(
        &s.tags
            .iter()
            .map(|(k, v)| Tag::new(*k, *v))
            .collect::<Vec<_>>(),
    );
    c.set_snapshot_id(s.snapshot);
    c.set_resource_group_id(s.group);
    c.status = CacheStatus::ALL[s.status];
    c.last_matched_time = s.last_matched.map(at);
    c.elimination_strategy = if s.lru {
        EliminationStrategy::Lru
    } else {
        EliminationStrategy::Retain
    };
    c
}

/// Ids that do not sort in insertion order, so id tie-breaks are exercised.
fn id(i: usize) -> String {
    format!("imc-{:020}", (i * 7919) % 100_003)
}

#[derive(Clone, Debug)]
struct Query {
    match_images: Vec<String>,
    full: bool,
    count: Option<u32>,
    image: Option<String>,
    tags: Vec<(&'static str, Option<&'static str>)>,
    name: Option<&'static str>,
    snapshot: Option<&'static str>,
    group: Option<&'static str>,
    id: Option<usize>,
    limit: Option<u32>,
}

fn query() -> impl Strategy<Value = Query> {
    let image_filter = prop_oneof![(0..REPOS.len()).prop_map(|r| image(r, 0)), image_strategy(),];
    (
        prop::collection::vec(image_strategy(), 0..5),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.3, 1u32..4),
        prop::option::weighted(0.2, image_filter),
        prop::collection::vec(
            (
                pick(&["env", "team", "tier", "none"]),
                pick(&[None, Some(""), Some("a"), Some("b")]),
            ),
            0..2,
        ),
        prop::option::weighted(0.15, pick(&["web", "api", "nope"])),
        prop::option::weighted(0.1, pick(&["s-1", "s-2", "s-9"])),
        prop::option::weighted(0.1, pick(&["rg-1", "rg-2"])),
        prop::option::weighted(0.05, 0usize..40),
        prop::option::weighted(0.7, 1u32..6),
    )
        .prop_map(
            |(match_images, full, count, image, tags, name, snapshot, group, id, limit)| Query {
                match_images,
                full,
                count,
                image,
                tags,
                name,
                snapshot,
                group,
                id,
                limit,
            },
        )
}

#[track_caller]
fn request(q: &Query) -> DescribeRequest {
    let mut r = DescribeRequest::new("cn-hangzhou");
    for m in &q.match_images {
        r = r.match_image(m).unwrap();
    }
    r.image_full_match = q.full;
    r.image_match_count_request = q.count;
    if let Some(i) = &q.image {
        r = r.image(i).unwrap();
    }
    for (k, v) in &q.tags {
        r = r.tag(*k, *v);
    }
    r.image_cache_name = q.name.map(str::to_owned);
    r.snapshot_id = q.snapshot.map(str::to_owned);
    r.resource_group_id = q.group.map(str::to_owned);
    r.image_cache_id = q.id.map(id);
    r.limit = q.limit;
    r
}

fn ids(page: &DescribePage) -> Vec<String> {
    page.image_caches
        .iter()
        .map(|c| c.id().to_owned())
        .collect()
}

fn pair(seed: u64) -> (Index, NaiveIndex) {
    let rules = RegistryAliases::default();
    (
        Index::new(rules.clone(), TokenKey::from_seed(seed)),
        NaiveIndex::new(rules, TokenKey::from_seed(seed)),
    )
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

/// Compares one request on both engines, then pages through it with the
/// index's tokens, comparing every page. Returns the ids in page order.
fn compare_walk(
    index: &Index,
    naive: &NaiveIndex,
    mut r: DescribeRequest,
    scratch: &mut Scratch,
) -> Result<Vec<String>, TestCaseError> {
    let mut seen = Vec::new();
    for _ in 0..200 {
        let fast = index
            .describe_with(&r, scratch)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let slow = naive
            .describe(&r)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ids(&fast), ids(&slow), "request {:?}", r);
        prop_assert_eq!(fast.total_count, slow.total_count);
        prop_assert_eq!(&fast.next_token, &slow.next_token);
        prop_assert!(fast.image_caches.len() <= r.page_size(index.page_cap()));
        if fast.next_token.is_some() {
            prop_assert_eq!(fast.image_caches.len(), r.page_size(index.page_cap()));
        }
        seen.extend(ids(&fast));
        match fast.next_token {
            Some(token) => {
                prop_assert!(!token.is_empty());
                r.next_token = Some(token);
            }
            None => return Ok(seen),
        }
    }
    Err(TestCaseError::fail("paging did not end"))
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn index_equals_oracle_on_every_page(
        world in prop::collection::vec(spec(), 0..40),
        queries in prop::collection::vec(query(), 1..12),
        cap in prop::sample::select(vec![1u32, 3, 20, u32::MAX]),
    ) {
        let (mut index, mut naive) = pair(1);
        // Both engines follow the page cap: min(Limit, cap), 20 without a
        // Limit.
        index.set_page_cap(cap);
        naive.set_page_cap(cap);
        for (i, s) in world.iter().enumerate() {
            index.insert(cache(&id(i), s));
            naive.insert(cache(&id(i), s));
        }
        let mut scratch = Scratch::default();
        for q in &queries {
            let r = request(q);
            let walked = compare_walk(&index, &naive, r.clone(), &mut scratch)?;
            // The pages together are the unpaged answer, in order.
            let mut all = r.clone();
            all.limit = Some(u32::MAX);
            naive.set_page_cap(u32::MAX);
            let whole = naive.describe(&all).unwrap();
            prop_assert_eq!(&walked, &ids(&whole));
            prop_assert_eq!(whole.total_count, walked.len());
            prop_assert_eq!(&whole.next_token, &None);
            drop(whole);
            naive.set_page_cap(cap);
        }
    }

    #[test]
    fn paging_under_churn_never_repeats_nor_skips(
        world in prop::collection::vec(spec(), 1..40),
        q in query(),
        limit in 1u32..4,
        churn in prop::collection::vec((any::<bool>(), 0usize..60, spec()), 0..30),
    ) {
        let (mut index, mut naive) = pair(2);
        let mut live: BTreeSet<usize> = BTreeSet::new();
        for (i, s) in world.iter().enumerate() {
            index.insert(cache(&id(i), s));
            naive.insert(cache(&id(i), s));
            live.insert(i);
        }
        let mut r = request(&q);
        r.limit = Some(limit);
        let mut unpaged = r.clone();
        unpaged.limit = Some(u32::MAX);
        naive.set_page_cap(u32::MAX);
        let at_start: BTreeSet<String> = ids(&naive.describe(&unpaged).unwrap()).into_iter().collect();
        naive.set_page_cap(20);
        let initially_live = live.clone();

        let mut seen: Vec<String> = Vec::new();
        let mut churn = churn.into_iter();
        let mut next_new = 1_000;
        let mut scratch = Scratch::default();
        loop {
            let fast = index.describe_with(&r, &mut scratch).unwrap();
            let slow = naive.describe(&r).unwrap();
            prop_assert_eq!(ids(&fast), ids(&slow));
            prop_assert_eq!(fast.total_count, slow.total_count);
            seen.extend(ids(&fast));
            let Some(token) = fast.next_token else { break };
            r.next_token = Some(token);
            // Between pages: create or delete a cache, in both engines.
            for _ in 0..2 {
                match churn.next() {
                    Some((true, _, s)) => {
                        index.insert(cache(&id(next_new), &s));
                        naive.insert(cache(&id(next_new), &s));
                        live.insert(next_new);
                        next_new += 1;
                    }
                    Some((false, victim, _)) => {
                        if let Some(&v) = live.iter().nth(victim % live.len().max(1)) {
                            prop_assert_eq!(index.remove(&id(v)).is_some(), naive.remove(&id(v)).is_some());
                            live.remove(&v);
                        }
                    }
                    None => {}
                }
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        prop_assert_eq!(unique.len(), seen.len(), "a cache was repeated: {:?}", seen);
        for i in initially_live.intersection(&live) {
            if at_start.contains(&id(*i)) {
                prop_assert!(unique.contains(&id(*i)), "{} stayed but was skipped", id(*i));
            }
        }
    }

    #[test]
    fn keys_are_freed_and_lru_order_is_right(
        world in prop::collection::vec(spec(), 0..40),
        updates in prop::collection::vec((0usize..40, spec(), any::<bool>(), 0u8..4), 0..20),
        queries in prop::collection::vec(query(), 0..4),
    ) {
        let (mut index, mut naive) = pair(3);
        for (i, s) in world.iter().enumerate() {
            index.insert(cache(&id(i), s));
            naive.insert(cache(&id(i), s));
        }
        for (i, s, in_place, part) in &updates {
            if *i >= world.len() {
                continue;
            }
            // A replacement by insert, or a change in place that re-keys only
            // what changed: all of it, or only the images, the tags, or the
            // status and last use.
            let mut new = cache(&id(*i), s);
            if *in_place {
                let old = naive.get(&id(*i)).unwrap().clone();
                match part {
                    0 => {}
                    1 => {
                        let mut kept = old;
                        kept.set_images(&new.images().to_vec());
                        new = kept;
                    }
                    2 => {
                        let mut kept = old;
                        kept.set_tags(&new.tags().to_vec());
                        kept.set_snapshot_id(new.snapshot_id());
                        new = kept;
                    }
                    _ => {
                        let mut kept = old;
                        kept.status = new.status;
                        kept.last_matched_time = new.last_matched_time;
                        new = kept;
                    }
                }
                let replacement = new.clone();
                prop_assert!(index.update(&id(*i), |c| *c = replacement));
            } else {
                index.insert(new.clone());
            }
            naive.insert(new);
        }
        prop_assert_eq!(index.len(), naive.len());
        let mut scratch = Scratch::default();
        for q in &queries {
            compare_walk(&index, &naive, request(q), &mut scratch)?;
        }
        // LRU order against a sort of the plain rule.
        let mut want: Vec<(i64, String)> = (0..world.len())
            .filter_map(|i| naive.get(&id(i)))
            .filter(|c| c.elimination_strategy == EliminationStrategy::Lru
                && !matches!(c.status, CacheStatus::Preparing | CacheStatus::Creating | CacheStatus::Updating))
            .map(|c| (c.last_matched_time.unwrap_or(c.creation_time).as_second(), c.id().to_owned()))
            .collect();
        want.sort();
        let got: Vec<(i64, String)> = index.lru_order()
            .map(|c| (c.last_matched_time.unwrap_or(c.creation_time).as_second(), c.id().to_owned()))
            .collect();
        prop_assert_eq!(got, want);
        // Newest-first iteration.
        let order: Vec<(i64, String)> = index.iter().map(|c| (-c.creation_time.as_second(), c.id().to_owned())).collect();
        let mut sorted = order.clone();
        sorted.sort();
        prop_assert_eq!(order, sorted);
        // Remove everything: no key stays behind.
        for i in 0..world.len() {
            index.remove(&id(i));
        }
        let stats = index.stats();
        prop_assert_eq!((stats.caches, stats.exact_keys, stats.repo_keys, stats.tag_pairs, stats.tag_keys, stats.names), (0, 0, 0, 0, 0, 0));
        prop_assert_eq!(stats.key_text_bytes, 0);
        prop_assert_eq!(index.lru_order().count(), 0);
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Worlds large enough that out-of-order inserts (creation times over
    /// six minutes, ids not in insertion order) move more caches than a
    /// shift may, so the rank space is renumbered; deletes leave holes and
    /// then outnumber the caches, so it is compacted; creation times change
    /// in place; a bulk build runs over the holes. After each phase the
    /// index answers like the oracle on every page.
    #[test]
    fn renumbering_holes_and_compaction_keep_every_answer(
        world in prop::collection::vec(spec(), 100..260),
        deletes in prop::collection::vec(any::<prop::sample::Index>(), 0..260),
        moves in prop::collection::vec((any::<prop::sample::Index>(), 0i64..6), 0..30),
        bulk in prop::collection::vec(spec(), 0..150),
        queries in prop::collection::vec(query(), 1..5),
    ) {
        let (mut index, mut naive) = pair(4);
        index.set_page_cap(u32::MAX);
        naive.set_page_cap(u32::MAX);
        let check = |index: &Index, naive: &NaiveIndex| -> Result<(), TestCaseError> {
            let mut scratch = Scratch::default();
            for q in &queries {
                // Pages of up to 50 (hundreds of caches, at most 200 pages).
                let mut r = request(q);
                r.limit = r.limit.map(|l| l * 10);
                compare_walk(index, naive, r, &mut scratch)?;
            }
            let newest_first = |it: Vec<&ImageCache>| it.into_iter().map(|c| c.id().to_owned()).collect::<Vec<_>>();
            let all = DescribeRequest::new("cn-hangzhou").limit(u32::MAX);
            prop_assert_eq!(
                newest_first(index.iter().collect()),
                newest_first(naive.describe(&all).unwrap().image_caches)
            );
            Ok(())
        };
        for (i, s) in world.iter().enumerate() {
            index.insert(cache(&id(i), s));
            naive.insert(cache(&id(i), s));
        }
        check(&index, &naive)?;
        let mut live: Vec<usize> = (0..world.len()).collect();
        for d in &deletes {
            if live.is_empty() {
                break;
            }
            let victim = live.swap_remove(d.index(live.len()));
            prop_assert!(index.remove(&id(victim)).is_some());
            naive.remove(&id(victim));
        }
        check(&index, &naive)?;
        for (m, minute) in &moves {
            if live.is_empty() {
                break;
            }
            let i = live[m.index(live.len())];
            let at = jiff::Timestamp::from_second(1_700_000_000 + minute * 60).unwrap();
            prop_assert!(index.update(&id(i), |c| c.creation_time = at));
            let mut moved = naive.get(&id(i)).unwrap().clone();
            moved.creation_time = at;
            naive.insert(moved);
        }
        check(&index, &naive)?;
        let newcomers: Vec<ImageCache> = bulk.iter().enumerate().map(|(j, s)| cache(&id(1_000 + j), s)).collect();
        for c in &newcomers {
            naive.insert(c.clone());
        }
        index.extend(newcomers);
        prop_assert_eq!(index.len(), naive.len());
        check(&index, &naive)?;
    }
}

fn world_of(n: usize) -> (Index, NaiveIndex) {
    let (mut index, mut naive) = pair(9);
    for i in 0..n {
        let s = Spec {
            name: "web",
            images: vec![image(i % REPOS.len(), i % VERSIONS.len())],
            tags: vec![("env", if i % 2 == 0 { "a" } else { "b" })],
            snapshot: None,
            group: None,
            created: (i % 3) as i64,
            lru: false,
            status: 2,
            last_matched: None,
        };
        index.insert(cache(&id(i), &s));
        naive.insert(cache(&id(i), &s));
    }
    (index, naive)
}

fn token_error(e: ApiError) -> bool {
    e.code() == ErrorCode::InvalidNextToken
        && e.http_status() == 400
        && e.code().as_str() == "InvalidParameter.NextToken"
}

#[test]
fn bad_tokens_are_rejected_by_both_engines() {
    let (index, naive) = world_of(30);
    let r = DescribeRequest::new("cn-hangzhou")
        .match_image("nginx:1")
        .unwrap()
        .limit(2);
    let token = index.describe(&r).unwrap().next_token.unwrap();
    // The next page works with the token…
    assert!(index.describe(&r.clone().next_token(token.clone())).is_ok());
    let bad = [
        token[..token.len() - 2].to_owned(),       // truncated
        format!("{}A", &token[..token.len() - 1]), // forged last character
        format!("x{token}"),                       // garbage prefix
        "not a token".to_owned(),
        "AAAAAdDWBF2".to_owned(), // the seed's example
    ];
    for t in &bad {
        assert!(
            token_error(
                index
                    .describe(&r.clone().next_token(t.clone()))
                    .unwrap_err()
            ),
            "{t}"
        );
        assert!(
            token_error(
                naive
                    .describe(&r.clone().next_token(t.clone()))
                    .unwrap_err()
            ),
            "{t}"
        );
    }
    // …but not with other filters, nor on another engine instance.
    let other = DescribeRequest::new("cn-hangzhou")
        .match_image("nginx:2")
        .unwrap()
        .limit(2);
    assert!(token_error(
        index
            .describe(&other.next_token(token.clone()))
            .unwrap_err()
    ));
    let foreign = Index::new(RegistryAliases::default(), TokenKey::from_seed(10));
    assert!(token_error(
        foreign
            .describe(&r.clone().next_token(token.clone()))
            .unwrap_err()
    ));
    // Limit is not a filter: a token carries over to another page size.
    assert!(
        index
            .describe(&r.clone().limit(7).next_token(token))
            .is_ok()
    );
    // An empty token is no token.
    let first = index.describe(&r).unwrap();
    let empty = index.describe(&r.clone().next_token("")).unwrap();
    assert_eq!(ids(&first), ids(&empty));
}

#[test]
fn query_images_are_normalised_before_matching() {
    let (index, _) = world_of(0);
    let mut index = index;
    let t = jiff::Timestamp::from_second(1_700_000_000).unwrap();
    index.insert(
        ImageCache::new("imc-1", "web", "cn-hangzhou", t)
            .with_images(["registry-vpc.cn-hangzhou.aliyuncs.com/ns/web:1"])
            .unwrap(),
    );
    let r = DescribeRequest::new("cn-hangzhou")
        .match_image("registry.cn-hangzhou.aliyuncs.com/ns/web:1")
        .unwrap()
        .match_image("REGISTRY-INTERNAL.cn-hangzhou.aliyuncs.com/ns/web:1")
        .unwrap()
        .full_match(true);
    let page = index.describe(&r).unwrap();
    assert_eq!(
        ids(&page),
        ["imc-1"],
        "endpoint variants are one image, and count once"
    );
}

/// At a size where popular keys' lists are long enough to be containers,
/// the index pages exactly like the oracle on every query set (and on
/// `MatchImage` queries with a tag filter beside them), before and after
/// two caches in three go (lists going back to flat) and others come.
/// (Bitmap containers: `bitmaps_and_arrays_in_one_block_agree_with_the_oracle`.)
#[test]
fn long_lists_agree_with_the_oracle() {
    use eci_imagecache::workload::{QuerySet, Workload};
    let workload = Workload::new(9);
    let all: Vec<ImageCache> = workload.caches(7_000).collect();
    let (first, later) = all.split_at(5_000);
    let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(3));
    let mut naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(3));
    for c in first {
        index.insert(c.clone());
        naive.insert(c.clone());
    }
    let compare = |index: &Index, naive: &NaiveIndex| {
        let mut scratch = Scratch::default();
        for set in QuerySet::ALL {
            let queries = workload.queries(set, 8, first);
            // Filtered beside MatchImage: a tag key many caches have.
            let filtered = queries.iter().take(3).map(|q| q.clone().tag("key1", None));
            for q in queries.iter().cloned().chain(filtered) {
                let mut q = q.clone();
                // Short pages; Q5's long lists in pages of 300.
                q.limit = Some(if set == QuerySet::Page { 300 } else { 7 });
                loop {
                    let a = index.describe_with(&q, &mut scratch).unwrap();
                    let b = naive.describe(&q).unwrap();
                    let ids = |p: &DescribePage<'_>| {
                        p.image_caches
                            .iter()
                            .map(|c| c.id().to_owned())
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(
                        (ids(&a), a.total_count, &a.next_token),
                        (ids(&b), b.total_count, &b.next_token),
                        "{set:?}"
                    );
                    match a.next_token.clone() {
                        Some(t) => q.next_token = Some(t),
                        None => break,
                    }
                }
            }
        }
    };
    compare(&index, &naive);
    for (i, c) in first.iter().enumerate() {
        if i % 3 != 0 {
            assert!(index.remove(c.id()).is_some());
            naive.remove(c.id());
        }
    }
    for c in later {
        index.insert(c.clone());
        naive.insert(c.clone());
    }
    compare(&index, &naive);
}

/// An `ImageMatchCountRequest` far above any F (2^24, 2^24 + 1) lets nothing
/// pass, on every query path (found by review: a shift overflowed and let
/// everything through).
#[test]
fn a_huge_match_count_lets_nothing_pass() {
    let (index, naive) = world_of(60);
    let mut scratch = Scratch::default();
    for count in [101, 1 << 24, (1 << 24) + 1, u32::MAX] {
        for images in [&["nginx:1", "team/app:2"][..], &["nginx:1"][..]] {
            let mut r = DescribeRequest::new("cn-hangzhou").match_count(count);
            for i in images {
                r = r.match_image(i).unwrap();
            }
            let fast = index.describe_with(&r, &mut scratch).unwrap();
            let slow = naive.describe(&r).unwrap();
            assert_eq!(
                (ids(&fast), fast.total_count),
                (ids(&slow), slow.total_count)
            );
            assert_eq!(fast.total_count, 0, "count {count}");
        }
    }
}

/// Auto-match on the index ranks exactly like the oracle: the best cache
/// and the first ten, with F and P, over the workload's container groups,
/// plain, with `PerfectMatch`, with a match count and with a small disk
/// (most candidates filtered by size), before and after churn.
#[test]
fn auto_match_ranks_like_the_oracle() {
    use eci_imagecache::workload::Workload;
    let workload = Workload::new(11);
    // Several blocks of ranks, so the counting's bar rises between them.
    let caches: Vec<ImageCache> = workload.caches(20_000).collect();
    let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(5));
    let mut naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(5));
    index.extend(caches.iter().cloned());
    for c in &caches {
        naive.insert(c.clone());
    }
    let groups = workload.container_groups(60, &caches);
    let check = |index: &Index, naive: &NaiveIndex| {
        let mut scratch = Scratch::default();
        let view = |m: &eci_imagecache::automatch::BestMatch<'_>| {
            (m.cache.id().to_owned(), m.exact, m.partial, m.images)
        };
        for g in &groups {
            for variant in 0..4 {
                let mut g = g.clone();
                match variant {
                    1 => g.perfect_match = true,
                    2 => g.match_count_request = Some(2),
                    3 => g.temporary_storage_gib = 8,
                    _ => {}
                }
                let fast: Vec<_> = index
                    .ranked_matches(&g, 10, &mut scratch)
                    .iter()
                    .map(view)
                    .collect();
                let slow: Vec<_> = naive.ranked_matches(&g, 10).iter().map(view).collect();
                assert_eq!(fast, slow, "variant {variant}");
                assert_eq!(
                    index.best_match(&g, &mut scratch).as_ref().map(view),
                    naive.best_match(&g).as_ref().map(view)
                );
            }
        }
    };
    check(&index, &naive);
    for c in caches.iter().step_by(3) {
        index.remove(c.id());
        naive.remove(c.id());
    }
    check(&index, &naive);
}

/// Many caches on few images: the three most popular repositories' lists
/// are thousands long (bitmap containers), their exact lists hundreds
/// (arrays), so counting blocks mix both kinds. `thinned`: then two caches
/// in three removed and 1 500 added, so some bitmaps went back to arrays.
fn dense_world(thinned: bool) -> (Index, NaiveIndex) {
    let (mut index, mut naive) = pair(4);
    index.set_page_cap(u32::MAX);
    naive.set_page_cap(u32::MAX);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as usize
    };
    const POPULAR: [usize; 16] = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9];
    let mut spec = |i: usize| Spec {
        name: ["web", "api"][next() % 2],
        images: (0..1 + next() % 4)
            .map(|_| image(POPULAR[next() % 16], next() % VERSIONS.len()))
            .collect(),
        tags: match next() % 3 {
            0 => vec![],
            1 => vec![("env", ["a", "b"][next() % 2])],
            _ => vec![("env", "a"), ("team", "")],
        },
        snapshot: None,
        group: None,
        created: (i % 500) as i64,
        lru: false,
        status: [2, 2, 2, 0][next() % 4],
        last_matched: None,
    };
    let add = |i: usize, s: &Spec, index: &mut Index, naive: &mut NaiveIndex| {
        index.insert(cache(&id(i), s));
        naive.insert(cache(&id(i), s));
    };
    for i in 0..9_000 {
        let s = spec(i);
        add(i, &s, &mut index, &mut naive);
    }
    if thinned {
        for i in (0..9_000).filter(|i| i % 3 != 0) {
            assert!(index.remove(&id(i)).is_some());
            naive.remove(&id(i));
        }
        for i in 9_000..10_500 {
            let s = spec(i);
            add(i, &s, &mut index, &mut naive);
        }
    }
    (index, naive)
}

static DENSE: std::sync::LazyLock<[(Index, NaiveIndex); 2]> =
    std::sync::LazyLock::new(|| [dense_world(false), dense_world(true)]);

#[test]
fn the_dense_worlds_hold_bitmaps_and_thinning_gave_some_back() {
    let [(dense, _), (thinned, _)] = &*DENSE;
    let (before, after) = (
        dense.stats().bitmap_containers,
        thinned.stats().bitmap_containers,
    );
    assert!(
        before >= 3 && after >= 1 && after < before,
        "{before} then {after} bitmaps"
    );
}

proptest! {
    #![proptest_config(config(24))]

    /// Lists with bitmap containers, mixed with arrays in a block, are
    /// counted, filtered and paged exactly like the oracle, before and
    /// after thinning.
    #[test]
    fn bitmaps_and_arrays_in_one_block_agree_with_the_oracle(
        queries in prop::collection::vec(query(), 1..4),
    ) {
        let mut scratch = Scratch::default();
        for (index, naive) in DENSE.iter() {
            for q in &queries {
                let mut r = request(q);
                // Pages of hundreds, so a walk stays short.
                r.limit = Some(r.limit.map_or(2_000, |l| l * 700));
                compare_walk(index, naive, r, &mut scratch)?;
            }
        }
    }
}

proptest! {
    #![proptest_config(config(400))]

    /// Auto-match on the index picks what the oracle picks and ranks the
    /// first candidates alike, on generated worlds (every status, sizes
    /// around the storage, groups with duplicates and endpoint variants,
    /// perfect matches and match counts), before and after removals.
    #[test]
    fn best_match_equals_the_oracle(
        world in prop::collection::vec((spec(), 1u32..60), 0..40),
        groups in prop::collection::vec(
            (
                prop::collection::vec(image_strategy(), 1..6),
                any::<bool>(),
                prop::option::of(1u32..4),
                prop::sample::select(vec![8u32, 30, 50]),
            ),
            1..8,
        ),
        removed in prop::collection::vec(0usize..40, 0..12),
    ) {
        let (mut index, mut naive) = pair(6);
        for (i, (s, size)) in world.iter().enumerate() {
            let mut c = cache(&id(i), s);
            c.size_gib = *size;
            index.insert(c.clone());
            naive.insert(c);
        }
        let groups: Vec<AutoMatchRequest> = groups
            .iter()
            .map(|(images, perfect, count, storage)| {
                let mut g = AutoMatchRequest::new("cn-hangzhou");
                for image in images {
                    g = g.image(image).unwrap();
                }
                g.perfect_match = *perfect;
                g.match_count_request = *count;
                g.temporary_storage_gib = *storage;
                g
            })
            .collect();
        let view = |m: &eci_imagecache::automatch::BestMatch<'_>| {
            (m.cache.id().to_owned(), m.exact, m.partial, m.images)
        };
        let mut scratch = Scratch::default();
        for round in 0..2 {
            for g in &groups {
                prop_assert_eq!(
                    index.best_match(g, &mut scratch).as_ref().map(view),
                    naive.best_match(g).as_ref().map(view),
                    "round {}: {:?}", round, g
                );
                let fast: Vec<_> = index.ranked_matches(g, 3, &mut scratch).iter().map(view).collect();
                let slow: Vec<_> = naive.ranked_matches(g, 3).iter().map(view).collect();
                prop_assert_eq!(fast, slow, "round {}", round);
            }
            for &i in &removed {
                index.remove(&id(i));
                naive.remove(&id(i));
            }
        }
    }
}

/// Auto-match on the index with more query images than its counters hold
/// (hundreds of tags of one repository, so P would outgrow 8 bits) matches
/// nothing, as the oracle does, and never panics; up to that, beyond the
/// API's 100, both answer alike.
#[test]
fn auto_match_with_more_images_than_counted_matches_nothing() {
    use eci_imagecache::index::MAX_COUNTED_IMAGES;
    use eci_imagecache::limits::MAX_GROUP_IMAGES;
    let (index, naive) = world_of(40);
    let mut scratch = Scratch::default();
    let view = |m: &eci_imagecache::automatch::BestMatch<'_>| {
        (m.cache.id().to_owned(), m.exact, m.partial, m.images)
    };
    for n in [
        MAX_GROUP_IMAGES + 1,
        MAX_COUNTED_IMAGES,
        MAX_COUNTED_IMAGES + 1,
        300,
    ] {
        let mut g = AutoMatchRequest::new("cn-hangzhou");
        g.images = (0..n)
            .map(|i| format!("team/app:{i}").parse().unwrap())
            .collect();
        let fast: Vec<_> = index
            .ranked_matches(&g, 5, &mut scratch)
            .iter()
            .map(view)
            .collect();
        let slow: Vec<_> = naive.ranked_matches(&g, 5).iter().map(view).collect();
        assert_eq!(fast, slow, "{n} images");
        assert_eq!(fast.is_empty(), n > MAX_COUNTED_IMAGES, "{n} images");
        assert_eq!(
            index.best_match(&g, &mut scratch).is_some(),
            n <= MAX_COUNTED_IMAGES
        );
        assert_eq!(
            index.matching(&g.images, &mut scratch).is_empty(),
            n > MAX_COUNTED_IMAGES
        );
    }
}
