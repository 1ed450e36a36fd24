//! The scheduler's side of the engine: auto-create on a miss and beside a
//! partial winner, the hit event in the outcome, side-effect-free
//! evaluation (ranked candidates and scores) against what `auto_match`
//! then records, the index's ranking against the oracle's, and the expiry
//! a failed cache shows.

use crate::common;

use eci_imagecache::automatch::{AutoMatchOutcome, AutoMatchRequest, score};
use eci_imagecache::clock::ManualClock;
use eci_imagecache::cursor::TokenKey;
use eci_imagecache::engine::{CreateRequest, DEFAULT_ACCOUNT, Durations, Engine, FailurePredicate};
use eci_imagecache::index::{Index, Scratch};
use eci_imagecache::oracle::NaiveIndex;
use eci_imagecache::record::{CacheStatus, ImageCache};
use eci_imagecache::reference::RegistryAliases;
use proptest::prelude::*;

use common::{REGION, T0, clock_at_t0};

fn instant(auto_created_quota: usize) -> (Engine, ManualClock) {
    let clock = clock_at_t0();
    let engine = Engine::builder()
        .clock(clock.clone())
        .seed(5)
        .instant(true)
        .auto_created_quota(auto_created_quota)
        .build();
    (engine, clock)
}

#[track_caller]
fn create(engine: &mut Engine, name: &str, images: &[&str]) -> String {
    let mut r = CreateRequest::new(REGION, name);
    for i in images {
        r = r.image(i).unwrap();
    }
    engine.create(&r).unwrap().image_cache_id
}

#[track_caller]
fn group(images: &[&str]) -> AutoMatchRequest {
    images
        .iter()
        .fold(AutoMatchRequest::new(REGION), |r, i| r.image(i).unwrap())
        .auto_create(true)
}

fn names(engine: &mut Engine) -> Vec<String> {
    engine.tick();
    let mut v: Vec<String> = engine
        .index(DEFAULT_ACCOUNT, REGION)
        .map(|i| i.iter().map(|c| c.name().to_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// What auto-match reported: (hit cache, F, P, auto-created cache name).
#[track_caller]
fn outcome(engine: &mut Engine, request: &AutoMatchRequest) -> (Option<String>, u32, u32, bool) {
    match engine.auto_match(request).unwrap() {
        AutoMatchOutcome::Hit {
            image_cache_id,
            exact,
            partial,
            auto_created,
            ..
        } => (Some(image_cache_id), exact, partial, auto_created.is_some()),
        AutoMatchOutcome::Miss { auto_created, .. } => (None, 0, 0, auto_created.is_some()),
    }
}

#[test]
fn auto_create_on_a_miss_and_beside_a_partial_winner_never_beside_a_complete_one() {
    let (mut e, _) = instant(10);
    let nginx1 = create(&mut e, "nginx-one", &["nginx:1"]);
    // Complete match: the hit, nothing created.
    assert_eq!(
        outcome(&mut e, &group(&["nginx:1"]).container_group_id("eci-a")),
        (Some(nginx1.clone()), 1, 0, false)
    );
    // Duplicates and endpoint variants count once: still complete.
    assert_eq!(
        outcome(
            &mut e,
            &group(&["nginx:1", "docker.io/library/nginx:1"]).container_group_id("eci-b")
        ),
        (Some(nginx1.clone()), 1, 0, false)
    );
    assert_eq!(names(&mut e), ["nginx-one"]);
    // Partial winner (nginx:1 for nginx:2): still the hit, and a cache for
    // the whole group is created ("if there is no complete match").
    assert_eq!(
        outcome(&mut e, &group(&["nginx:2"]).container_group_id("eci-c")),
        (Some(nginx1.clone()), 0, 1, true)
    );
    // One image of two matched exactly: not complete either.
    assert_eq!(
        outcome(
            &mut e,
            &group(&["nginx:1", "redis:7"]).container_group_id("eci-d")
        ),
        (Some(nginx1.clone()), 1, 0, true)
    );
    // A miss.
    assert_eq!(
        outcome(&mut e, &group(&["busybox"]).container_group_id("eci-e")),
        (None, 0, 0, true)
    );
    assert_eq!(
        names(&mut e),
        [
            "auto-create-for-eci-c",
            "auto-create-for-eci-d",
            "auto-create-for-eci-e",
            "nginx-one"
        ]
    );
    // The auto-created cache holds the group's images (normalised: the
    // group's references are parsed).
    let index = e.index(DEFAULT_ACCOUNT, REGION).unwrap();
    let d = index
        .iter()
        .find(|c| c.name() == "auto-create-for-eci-d")
        .unwrap();
    let images: Vec<&str> = d.images().iter().map(|i| i.written()).collect();
    assert_eq!(
        images,
        ["docker.io/library/nginx:1", "docker.io/library/redis:7"]
    );
    assert_eq!((d.size_gib, d.status), (30, CacheStatus::Ready));
    // Without auto_create, a partial winner creates nothing.
    let before = names(&mut e);
    let (hit, f, p, created) = outcome(
        &mut e,
        &group(&["nginx:3"])
            .auto_create(false)
            .container_group_id("eci-f"),
    );
    assert_ne!(
        hit.as_deref(),
        Some(nginx1.as_str()),
        "30 GiB fits 30 GiB of storage best"
    );
    assert_eq!((f, p, created), (0, 1, false));
    assert_eq!(names(&mut e), before);
}

#[test]
fn auto_created_quota_evicts_the_least_recently_used_auto_created_cache() {
    let (mut e, clock) = instant(2);
    create(&mut e, "nginx-one", &["nginx:1"]);
    // Two partial hits fill the auto-created quota.
    outcome(&mut e, &group(&["nginx:2"]).container_group_id("eci-a"));
    clock.advance_secs(1);
    outcome(&mut e, &group(&["nginx:3"]).container_group_id("eci-b"));
    clock.advance_secs(1);
    // eci-a's cache is used now (a complete match: nothing new).
    let (hit, f, _, created) = outcome(&mut e, &group(&["nginx:2"]).container_group_id("eci-x"));
    assert_eq!((f, created), (1, false));
    let a = hit.unwrap();
    clock.advance_secs(1);
    // A miss: the least recently used auto-created cache (eci-b's, never
    // matched, created before eci-a's was last used) makes room; the
    // user's cache is untouched.
    assert_eq!(
        outcome(&mut e, &group(&["busybox"]).container_group_id("eci-c")),
        (None, 0, 0, true)
    );
    assert_eq!(
        names(&mut e),
        [
            "auto-create-for-eci-a",
            "auto-create-for-eci-c",
            "nginx-one"
        ]
    );
    assert!(e.index(DEFAULT_ACCOUNT, REGION).unwrap().get(&a).is_some());
    // Quota 0: partial hits and misses still answer, and create nothing.
    let (mut none, _) = instant(0);
    let id = create(&mut none, "nginx-one", &["nginx:1"]);
    assert_eq!(
        outcome(&mut none, &group(&["nginx:2"])),
        (Some(id), 0, 1, false)
    );
    assert_eq!(outcome(&mut none, &group(&["redis"])), (None, 0, 0, false));
    assert_eq!(names(&mut none), ["nginx-one"]);
}

#[test]
fn the_hit_event_is_the_groups_not_the_caches() {
    let (mut e, _) = instant(10);
    let id = create(&mut e, "web", &["nginx:1"]);
    let events_before = e
        .index(DEFAULT_ACCOUNT, REGION)
        .unwrap()
        .get(&id)
        .unwrap()
        .events
        .clone();
    for _ in 0..2 {
        let AutoMatchOutcome::Hit { event, .. } = e
            .auto_match(&AutoMatchRequest::new(REGION).image("nginx:1").unwrap())
            .unwrap()
        else {
            panic!("a hit");
        };
        assert_eq!(
            (event.reason.as_str(), event.message.as_str(), event.count),
            (
                "SuccessfulHitImageCache",
                format!("Successfully hit image cache {id}.").as_str(),
                1
            )
        );
    }
    let cache = e.index(DEFAULT_ACCOUNT, REGION).unwrap().get(&id).unwrap();
    assert_eq!(cache.events, events_before);
    assert!(
        cache
            .events
            .iter()
            .all(|e| e.reason != "SuccessfulHitImageCache")
    );
    assert_eq!(cache.last_matched_time.unwrap().to_string(), T0);
}

#[test]
fn a_failed_cache_shows_when_it_is_removed() {
    let clock = clock_at_t0();
    let mut e = Engine::builder()
        .clock(clock.clone())
        .seed(1)
        .durations(Durations {
            preparing: 10,
            creating: 100,
            updating: 50,
        })
        .fail_when(FailurePredicate::new(|c| {
            (c.image_cache_name == "broken").then(|| "Failed to pull image.".to_owned())
        }))
        .build();
    let get = |e: &mut Engine, id: &str| {
        e.tick();
        e.index(DEFAULT_ACCOUNT, REGION)
            .and_then(|i| i.get(id).cloned())
    };
    let broken = create(&mut e, "broken", &["nginx"]);
    let kept = e
        .create(
            &CreateRequest::new(REGION, "broken")
                .image("redis")
                .unwrap()
                .retention_days(1),
        )
        .unwrap()
        .image_cache_id;
    assert_eq!(get(&mut e, &broken).unwrap().expire_time, None);
    // It fails half-way through Creating: 10 + 50 s after creation.
    clock.advance_secs(60);
    let failed = get(&mut e, &broken).unwrap();
    assert_eq!(failed.status, CacheStatus::Failed);
    assert_eq!(
        failed.expire_time.unwrap().to_string(),
        "2024-05-02T08:01:00Z"
    );
    // RetentionDays ends sooner (1 day after creation): that is shown.
    assert_eq!(
        get(&mut e, &kept).unwrap().expire_time.unwrap().to_string(),
        "2024-05-02T08:00:00Z"
    );
    clock.advance_secs(86_400 - 1);
    assert!(get(&mut e, &broken).is_some());
    assert!(get(&mut e, &kept).is_none());
    clock.advance_secs(1);
    assert!(get(&mut e, &broken).is_none());
}

#[test]
fn evaluation_ranks_scores_and_explains_an_explicit_id() {
    let (mut e, clock) = instant(10);
    let one = create(&mut e, "one", &["nginx:1"]);
    clock.advance_secs(1);
    let both = create(&mut e, "both", &["nginx:1", "redis:7"]);
    clock.advance_secs(1);
    let partial = create(&mut e, "partial", &["nginx:2", "redis:6"]);
    let g = AutoMatchRequest::new(REGION)
        .image("nginx:1")
        .unwrap()
        .image("redis:7")
        .unwrap();
    let evaluation = e.evaluate(&g, 10).unwrap();
    assert_eq!(evaluation.images, 2);
    assert!(evaluation.complete());
    let rows: Vec<(&str, u32, u32, u32, u8)> = evaluation
        .candidates
        .iter()
        .map(|c| {
            (
                c.image_cache_id.as_str(),
                c.exact,
                c.partial,
                c.size_distance_gib,
                c.score,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (both.as_str(), 2, 0, 10, 100),
            (one.as_str(), 1, 0, 10, 50),
            (partial.as_str(), 0, 2, 10, 33),
        ]
    );
    assert_eq!(e.evaluate(&g, 1).unwrap().candidates.len(), 1);
    assert_eq!(e.evaluate(&g, 0).unwrap().candidates.len(), 0);
    // An explicit id: that cache alone, or the errors of auto_match.
    let pinned = e.evaluate(&g.clone().image_cache_id(&one), 10).unwrap();
    assert_eq!(pinned.candidates.len(), 1);
    assert_eq!(
        (pinned.candidates[0].exact, pinned.candidates[0].score),
        (1, 50)
    );
    let missing = e
        .evaluate(&g.clone().image_cache_id("imc-nope"), 10)
        .unwrap_err();
    assert_eq!(missing.code().as_str(), "ImageCacheNotFound");
    // Storage 20 GiB: every cache (20 GiB) fits, distance 0.
    let small = e
        .evaluate(&g.clone().temporary_storage_gib(20), 10)
        .unwrap();
    assert!(small.candidates.iter().all(|c| c.size_distance_gib == 0));
    // Storage 10 GiB: none fits.
    let tiny = e.evaluate(&g.temporary_storage_gib(10), 10).unwrap();
    assert!(tiny.candidates.is_empty() && !tiny.complete());
}

#[test]
fn batches_of_identical_asks_answer_as_one_by_one() {
    let (mut e, _) = instant(10);
    create(&mut e, "one", &["nginx:1"]);
    let mut twin = e.to_bytes();
    let groups: Vec<AutoMatchRequest> = (0..6)
        .map(|i| {
            let images: &[&str] = if i % 2 == 0 {
                &["nginx:1", "redis"]
            } else {
                &["redis", "nginx:1", "redis"]
            };
            group(images).container_group_id(format!("eci-{i}"))
        })
        .collect();
    let batch = e.auto_match_batch(&groups);
    // Each group's choice is the one made alone against the state at the
    // start of the batch.
    for (g, b) in groups.iter().zip(&batch) {
        let mut alone = Engine::builder()
            .clock(clock_at_t0())
            .seed(5)
            .instant(true)
            .auto_created_quota(10)
            .load_bytes(&twin)
            .unwrap();
        let one = alone.auto_match(g).unwrap();
        let b = b.as_ref().unwrap();
        assert_eq!(
            (b.image_cache_id(), b.container_group_id()),
            (one.image_cache_id(), one.container_group_id())
        );
        // Alone, every group would auto-create; in the batch only the
        // first of the (one) image set does.
        assert!(one.auto_created().is_some());
        assert_eq!(
            b.auto_created().is_some(),
            g.container_group_id.as_deref() == Some("eci-0")
        );
        let (
            AutoMatchOutcome::Hit {
                exact: f1,
                partial: p1,
                ..
            },
            AutoMatchOutcome::Hit {
                exact: f2,
                partial: p2,
                ..
            },
        ) = (b, &one)
        else {
            panic!("hits expected");
        };
        assert_eq!((f1, p1), (f2, p2));
    }
    twin.clear();
    // One cache for the image set the six groups share.
    assert_eq!(names(&mut e), ["auto-create-for-eci-0", "one"]);
}

#[test]
fn a_batch_checks_every_request_on_its_own() {
    let (mut e, _) = instant(10);
    let id = create(&mut e, "one", &["nginx:1"]);
    let valid = group(&["nginx:1"]);
    // Same ask (images as a set) as `valid`, but an invalid group id, and
    // 101 copies of one image (over the limit, one distinct image).
    let bad_id = group(&["nginx:1"]).container_group_id("BAD ID!");
    let mut too_many = AutoMatchRequest::new(REGION).auto_create(true);
    for _ in 0..101 {
        too_many = too_many.image("nginx:1").unwrap();
    }
    let before_names = names(&mut e);
    for order in [
        vec![valid.clone(), bad_id.clone(), too_many.clone()],
        vec![bad_id.clone(), too_many.clone(), valid.clone()],
    ] {
        let answers = e.auto_match_batch(&order);
        for (request, answer) in order.iter().zip(&answers) {
            if request.container_group_id.as_deref() == Some("BAD ID!") {
                assert_eq!(
                    answer.as_ref().unwrap_err().code().as_str(),
                    "InvalidParameter"
                );
            } else if request.images.len() == 101 {
                assert_eq!(
                    answer.as_ref().unwrap_err().message(),
                    "The specified parameter \"Image\" is not valid: at most 100 images."
                );
            } else {
                assert_eq!(answer.as_ref().unwrap().image_cache_id(), Some(id.as_str()));
            }
        }
    }
    assert_eq!(
        names(&mut e),
        before_names,
        "nothing created for bad requests"
    );
}

#[test]
fn a_partial_winner_is_never_evicted_by_its_own_auto_create() {
    // Auto-created quota 1: the partial winner is the only auto-created
    // cache, so there is no room, and it stays the hit.
    let (mut e, _) = instant(1);
    outcome(&mut e, &group(&["nginx:1"]).container_group_id("eci-a"));
    let auto = names(&mut e);
    assert_eq!(auto, ["auto-create-for-eci-a"]);
    let (hit, f, p, created) = outcome(&mut e, &group(&["nginx:2"]).container_group_id("eci-b"));
    assert_eq!((f, p, created), (0, 1, false));
    let hit = hit.unwrap();
    assert!(
        e.index(DEFAULT_ACCOUNT, REGION)
            .unwrap()
            .get(&hit)
            .is_some()
    );
    let evaluation = e.evaluate(&group(&["nginx:3"]), 10).unwrap();
    assert!(!evaluation.auto_create, "no room: the hit is not a victim");
}

#[test]
fn a_burst_of_pods_auto_creates_one_cache_per_image_set() {
    // Not instant: auto-created caches stay Creating for a while, so every
    // pod of the burst sees the same partial winner.
    let clock = clock_at_t0();
    let mut e = Engine::builder()
        .clock(clock.clone())
        .seed(5)
        .auto_created_quota(50)
        .build();
    create(&mut e, "one", &["nginx:1"]);
    clock.advance_secs(3600);
    let created: Vec<bool> = (0..5)
        .map(|i| {
            outcome(
                &mut e,
                &group(&["nginx:1", "redis:7"]).container_group_id(format!("eci-{i}")),
            )
            .3
        })
        .collect();
    assert_eq!(created, [true, false, false, false, false]);
    // The same images in another order or with duplicates are the same set.
    assert!(!outcome(&mut e, &group(&["redis:7", "nginx:1", "redis:7"])).3);
    // Other images get their own.
    assert!(outcome(&mut e, &group(&["nginx:1", "redis:6"])).3);
    assert_eq!(names(&mut e).len(), 3);
}

#[test]
fn a_named_cache_is_used_as_it_is_without_auto_create() {
    let (mut e, _) = instant(10);
    let id = create(&mut e, "one", &["nginx:1"]);
    let pinned = group(&["nginx:2", "redis"]).image_cache_id(&id);
    let evaluation = e.evaluate(&pinned, 5).unwrap();
    assert!(!evaluation.auto_create);
    assert_eq!(outcome(&mut e, &pinned), (Some(id.clone()), 0, 1, false));
    assert_eq!(names(&mut e), ["one"]);
    // k = 0: no candidates, even for a named cache.
    assert!(e.evaluate(&pinned, 0).unwrap().candidates.is_empty());
}

#[cfg(feature = "pod")]
#[test]
fn an_explained_match_lists_at_most_a_hundred_of_each() {
    use eci_imagecache::api::match_pod_body;
    use eci_imagecache::limits::MAX_EXPLAINED;
    let mut big = Engine::builder().seed(1).instant(true).quota(300).build();
    for i in 0..105 {
        create(&mut big, &format!("c{i}"), &["nginx:1"]);
        let r = CreateRequest::new(REGION, format!("big{i}"))
            .image("nginx:1")
            .unwrap()
            .size_gib(40);
        big.create(&r).unwrap();
    }
    let pod = eci_imagecache::pod::from_manifest(
        "kind: Pod\nspec:\n  containers:\n  - image: nginx:1\n",
        REGION,
    )
    .unwrap();
    let body = match_pod_body(&big, DEFAULT_ACCOUNT, &pod, true, "r").unwrap();
    assert_eq!(body["CandidateCount"], 105);
    assert_eq!(body["Candidates"].as_array().unwrap().len(), MAX_EXPLAINED);
    assert_eq!(body["ExcludedCount"], 105);
    assert_eq!(body["Excluded"].as_array().unwrap().len(), MAX_EXPLAINED);
    assert_eq!(body["DistinctImages"], 1);
}

// Property: evaluation is what auto_match records, and changes nothing.

#[derive(Clone, Debug)]
struct CacheSpec {
    images: Vec<(usize, usize)>,
    size: u32,
    ready: bool,
    age: u8,
}

const REPOS: [&str; 4] = [
    "nginx",
    "redis",
    "team/app",
    "registry-vpc.cn-hangzhou.aliyuncs.com/ns/api",
];

fn image((repo, tag): (usize, usize)) -> String {
    format!("{}:v{tag}", REPOS[repo])
}

fn cache_spec() -> impl Strategy<Value = CacheSpec> {
    (
        prop::collection::vec((0..4usize, 0..3usize), 1..4),
        prop::sample::select(vec![20u32, 25, 30, 40]),
        prop::bool::weighted(0.8),
        0..5u8,
    )
        .prop_map(|(images, size, ready, age)| CacheSpec {
            images,
            size,
            ready,
            age,
        })
}

/// A container group: images (repo, tag), storage, perfect match, match
/// count, auto-create.
type GroupSpec = (Vec<(usize, usize)>, u32, bool, Option<u32>, bool);

fn group_spec() -> impl Strategy<Value = GroupSpec> {
    (
        prop::collection::vec((0..4usize, 0..3usize), 1..4),
        prop::sample::select(vec![20u32, 30, 35]),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.2, 1..3u32),
        any::<bool>(),
    )
}

#[track_caller]
fn record(i: usize, s: &CacheSpec) -> ImageCache {
    let t: jiff::Timestamp = T0.parse().unwrap();
    let t = t
        .checked_add(jiff::SignedDuration::from_secs(s.age as i64 * 60))
        .unwrap();
    let images: Vec<String> = s.images.iter().map(|&x| image(x)).collect();
    let mut c = ImageCache::new(format!("imc-{i:020}"), format!("c{i}"), REGION, t)
        .with_images(images.iter().map(String::as_str))
        .unwrap();
    c.size_gib = s.size;
    c.status = if s.ready {
        CacheStatus::Ready
    } else {
        CacheStatus::Failed
    };
    c.progress = 100;
    c
}

#[track_caller]
fn request(g: &GroupSpec) -> AutoMatchRequest {
    let mut r = AutoMatchRequest::new(REGION)
        .temporary_storage_gib(g.1)
        .perfect_match(g.2)
        .auto_create(g.4);
    for &x in &g.0 {
        r = r.image(&image(x)).unwrap();
    }
    if let Some(n) = g.3 {
        r = r.match_count_request(n);
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: Some(Box::new(prop::test_runner::FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn evaluation_is_what_auto_match_then_records_and_changes_nothing(
        world in prop::collection::vec(cache_spec(), 0..12),
        groups in prop::collection::vec(group_spec(), 1..6),
    ) {
        let clock = ManualClock::new("2024-05-01T09:00:00Z".parse().unwrap());
        let mut e = Engine::builder().clock(clock).seed(9).instant(true).build();
        for (i, s) in world.iter().enumerate() {
            e.import_as(DEFAULT_ACCOUNT, record(i, s)).unwrap();
        }
        for g in &groups {
            let r = request(g);
            e.tick();
            let before = e.to_bytes();
            let evaluation = e.evaluate(&r, 100).unwrap();
            prop_assert!(e.to_bytes() == before, "evaluating changed the engine");
            // Ranked: non-increasing score, and every score as documented.
            for pair in evaluation.candidates.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score);
            }
            for c in &evaluation.candidates {
                prop_assert_eq!(c.score, score(c.exact, c.partial, evaluation.images));
            }
            let first = evaluation.candidates.first().cloned();
            let outcome = e.auto_match(&r).unwrap();
            prop_assert_eq!(
                outcome.image_cache_id(),
                first.as_ref().map(|c| c.image_cache_id.as_str())
            );
            if let (AutoMatchOutcome::Hit { exact, partial, .. }, Some(c)) = (&outcome, &first) {
                prop_assert_eq!((*exact, *partial), (c.exact, c.partial));
            }
            // Auto-create exactly when the evaluation says so: asked, and
            // the best is not complete (and no auto-created cache holds
            // these images yet, with room under the quota).
            prop_assert_eq!(outcome.auto_created().is_some(), evaluation.auto_create);
            if evaluation.auto_create {
                prop_assert!(r.auto_create && !evaluation.complete());
            }
        }
    }

    #[test]
    fn the_index_ranks_as_the_oracle(
        world in prop::collection::vec(cache_spec(), 0..16),
        groups in prop::collection::vec(group_spec(), 1..6),
        k in 1usize..20,
    ) {
        let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
        let mut naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(1));
        for (i, s) in world.iter().enumerate() {
            index.insert(record(i, s));
            naive.insert(record(i, s));
        }
        let mut scratch = Scratch::default();
        for g in &groups {
            let r = request(g);
            let fast: Vec<(String, u32, u32, u32)> = index
                .ranked_matches(&r, k, &mut scratch)
                .iter()
                .map(|b| (b.cache.id().to_owned(), b.exact, b.partial, b.images))
                .collect();
            let slow: Vec<(String, u32, u32, u32)> = naive
                .ranked_matches(&r, k)
                .iter()
                .map(|b| (b.cache.id().to_owned(), b.exact, b.partial, b.images))
                .collect();
            prop_assert_eq!(&fast, &slow);
            let best = index.best_match(&r, &mut scratch).map(|b| b.cache.id().to_owned());
            prop_assert_eq!(best, naive.best_match(&r).map(|b| b.cache.id().to_owned()));
        }
    }
}
