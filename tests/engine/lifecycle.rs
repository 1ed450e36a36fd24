//! The lifecycle on a manual clock, auto-match, persistence and concurrency.

use crate::common;

use eci_imagecache::automatch::{AutoMatchOutcome, AutoMatchRequest};
use eci_imagecache::clock::ManualClock;
use eci_imagecache::describe::DescribeRequest;
use eci_imagecache::engine::{
    CreateRequest, DEFAULT_ACCOUNT, DeleteRequest, Durations, Engine, FailurePredicate, LoadError,
    SharedEngine, UpdateRequest,
};
use eci_imagecache::record::{CacheStatus, ImageCache};

use common::{REGION, clock_at_t0};

fn engine() -> (Engine, ManualClock) {
    let clock = clock_at_t0();
    let engine = Engine::builder()
        .clock(clock.clone())
        .seed(3)
        .durations(Durations {
            preparing: 10,
            creating: 100,
            updating: 50,
        })
        .fail_when(FailurePredicate::new(|c| {
            c.images
                .iter()
                .any(|i| i.written().starts_with("private/"))
                .then(|| "Failed to pull image: unauthorized.".to_owned())
        }))
        .build();
    (engine, clock)
}

fn get(engine: &mut Engine, id: &str) -> Option<ImageCache> {
    engine.tick();
    engine.index(DEFAULT_ACCOUNT, REGION)?.get(id).cloned()
}

fn reasons(cache: &ImageCache) -> Vec<&str> {
    cache.events.iter().map(|e| e.reason.as_str()).collect()
}

#[test]
fn create_climbs_to_ready_with_events_and_snapshots() {
    let (mut e, clock) = engine();
    let mut request = CreateRequest::new(REGION, "web")
        .image("nginx:1.25")
        .unwrap()
        .image("redis")
        .unwrap();
    request.settings.flash = Some(true);
    let id = e.create(&request).unwrap().image_cache_id;
    let c = get(&mut e, &id).unwrap();
    assert_eq!(
        (c.status, c.progress, c.snapshot_id()),
        (CacheStatus::Preparing, 0, None)
    );
    assert_eq!(reasons(&c), ["Started"]);
    let mut seen = Vec::new();
    for _ in 0..12 {
        clock.advance_secs(10);
        let c = get(&mut e, &id).unwrap();
        seen.push((c.status, c.progress));
    }
    use CacheStatus::*;
    assert_eq!(
        seen,
        [
            (Creating, 0),
            (Creating, 10),
            (Creating, 20),
            (Creating, 30),
            (Creating, 40),
            (Creating, 50),
            (Creating, 60),
            (Creating, 70),
            (Creating, 80),
            (Creating, 90),
            (Ready, 100),
            (Ready, 100),
        ]
    );
    let c = get(&mut e, &id).unwrap();
    assert_eq!(
        reasons(&c),
        [
            "Started",
            "Pulling",
            "Pulling",
            "FlashSnapshotCreated",
            "SnapshotCreated",
            "Ready"
        ]
    );
    assert!(c.snapshot_id().unwrap().starts_with("s-"));
    assert_eq!(
        c.flash_snapshot_id(),
        None,
        "the flash snapshot goes once the standard one is ready"
    );
    // Each event carries the time its transition happened, not the time of the look.
    assert_eq!(
        c.events[1].first_timestamp.to_string(),
        "2024-05-01T08:00:10Z"
    );
    assert_eq!(
        c.events[5].first_timestamp.to_string(),
        "2024-05-01T08:01:50Z"
    );
    assert!(
        c.events
            .iter()
            .all(|ev| ev.name.starts_with("web.") && ev.name.len() == 4 + 16)
    );
}

#[test]
fn flash_snapshot_exists_while_creating() {
    let (mut e, clock) = engine();
    let mut request = CreateRequest::new(REGION, "web").image("nginx").unwrap();
    request.settings.flash = Some(true);
    let id = e.create(&request).unwrap().image_cache_id;
    clock.advance_secs(30);
    let c = get(&mut e, &id).unwrap();
    assert_eq!(c.status, CacheStatus::Creating);
    assert!(c.flash_snapshot_id().unwrap().starts_with("s-"));
}

#[test]
fn late_look_applies_every_step_in_order() {
    let (mut e, clock) = engine();
    let id = e
        .create(&CreateRequest::new(REGION, "web").image("nginx").unwrap())
        .unwrap()
        .image_cache_id;
    clock.advance_secs(10_000);
    let c = get(&mut e, &id).unwrap();
    assert_eq!((c.status, c.progress), (CacheStatus::Ready, 100));
    assert_eq!(
        c.events.last().unwrap().last_timestamp.to_string(),
        "2024-05-01T08:01:50Z"
    );
}

#[test]
fn failed_create_warns_and_is_removed_a_day_later() {
    let (mut e, clock) = engine();
    let id = e
        .create(
            &CreateRequest::new(REGION, "bad")
                .image("private/app")
                .unwrap(),
        )
        .unwrap()
        .image_cache_id;
    clock.advance_secs(59);
    assert_eq!(get(&mut e, &id).unwrap().status, CacheStatus::Creating);
    clock.advance_secs(1);
    let c = get(&mut e, &id).unwrap();
    assert_eq!(c.status, CacheStatus::Failed);
    let warning = c.events.last().unwrap();
    assert_eq!(
        (
            warning.kind.as_str(),
            warning.reason.as_str(),
            warning.message.as_str()
        ),
        ("Warning", "Failed", "Failed to pull image: unauthorized.")
    );
    clock.advance_secs(86_399);
    assert!(get(&mut e, &id).is_some());
    clock.advance_secs(1);
    assert!(
        get(&mut e, &id).is_none(),
        "removed one day after it failed"
    );
}

#[test]
fn update_goes_through_updating_and_can_fail() {
    let (mut e, clock) = engine();
    let id = e
        .create(&CreateRequest::new(REGION, "web").image("nginx").unwrap())
        .unwrap()
        .image_cache_id;
    clock.advance_secs(110);
    let before = get(&mut e, &id).unwrap();
    assert_eq!(before.status, CacheStatus::Ready);
    e.update(
        &UpdateRequest::new(REGION, &id)
            .images(["nginx:1.26"])
            .unwrap(),
    )
    .unwrap();
    let c = get(&mut e, &id).unwrap();
    assert_eq!((c.status, c.progress), (CacheStatus::Updating, 0));
    // The index reflects the new images at once.
    let page = e
        .describe(&DescribeRequest::new(REGION).image("nginx:1.26").unwrap())
        .unwrap();
    assert_eq!(page.total_count, 1);
    clock.advance_secs(50);
    let c = get(&mut e, &id).unwrap();
    assert_eq!((c.status, c.progress), (CacheStatus::Ready, 100));
    assert_ne!(c.snapshot_id(), before.snapshot_id(), "a new snapshot");
    assert_eq!(c.creation_time, before.creation_time);
    // A failing update leaves it UpdateFailed, which may be updated again.
    e.update(
        &UpdateRequest::new(REGION, &id)
            .images(["private/app"])
            .unwrap(),
    )
    .unwrap();
    clock.advance_secs(25);
    let c = get(&mut e, &id).unwrap();
    assert_eq!(c.status, CacheStatus::UpdateFailed);
    assert_eq!(c.events.last().unwrap().reason, "UpdateFailed");
    clock.advance_secs(10 * 86_400);
    assert!(
        get(&mut e, &id).is_some(),
        "UpdateFailed caches are not removed"
    );
    e.update(&UpdateRequest::new(REGION, &id).images(["nginx"]).unwrap())
        .unwrap();
}

#[test]
fn retention_days_expire_the_cache() {
    let (mut e, clock) = engine();
    let id = e
        .create(
            &CreateRequest::new(REGION, "web")
                .image("nginx")
                .unwrap()
                .retention_days(2),
        )
        .unwrap()
        .image_cache_id;
    let c = get(&mut e, &id).unwrap();
    assert_eq!(c.expire_time.unwrap().to_string(), "2024-05-03T08:00:00Z");
    clock.advance_secs(2 * 86_400 - 1);
    assert!(get(&mut e, &id).is_some());
    clock.advance_secs(1);
    assert!(get(&mut e, &id).is_none());
}

#[test]
fn repeated_events_count_and_at_most_fifty_are_kept() {
    let (mut e, clock) = engine();
    let id = e
        .create(&CreateRequest::new(REGION, "web").image("nginx").unwrap())
        .unwrap()
        .image_cache_id;
    clock.advance_secs(110);
    let before = get(&mut e, &id).unwrap().events;
    for i in 0..3 {
        clock.advance_secs(5);
        let hit = e
            .auto_match(&AutoMatchRequest::new(REGION).image("nginx").unwrap())
            .unwrap();
        // The hit event is the container group's: in the outcome, once.
        let AutoMatchOutcome::Hit {
            event,
            container_group_id,
            ..
        } = hit
        else {
            panic!("a hit expected");
        };
        assert_eq!(
            (event.reason.as_str(), event.message.clone(), event.count),
            (
                "SuccessfulHitImageCache",
                format!("Successfully hit image cache {id}."),
                1
            )
        );
        assert!(event.name.starts_with(&format!("{container_group_id}.")));
        let at = format!(
            "2024-05-01T08:0{}:{:02}Z",
            1 + (55 + 5 * i) / 60,
            (55 + 5 * i) % 60
        );
        assert_eq!(event.first_timestamp.to_string(), at);
    }
    let c = get(&mut e, &id).unwrap();
    // The cache's events are those of pulling its images: hits add none.
    assert_eq!(c.events, before);
    assert_eq!(
        c.last_matched_time.unwrap().to_string(),
        "2024-05-01T08:02:05Z"
    );
    // A repeated event (same reason and message) counts up.
    for images in [["nginx:2"], ["nginx:1"]] {
        e.update(&UpdateRequest::new(REGION, &id).images(images).unwrap())
            .unwrap();
        clock.advance_secs(60);
    }
    let c = get(&mut e, &id).unwrap();
    let started = c
        .events
        .iter()
        .find(|e| e.reason == "UpdateStarted")
        .unwrap();
    assert_eq!(started.count, 2);
    assert_eq!(started.last_timestamp.to_string(), "2024-05-01T08:03:05Z");
    // Many distinct events: the 50 newest remain.
    let images: Vec<String> = (0..20).map(|i| format!("app{i}")).collect();
    for round in 0..3 {
        let tag = format!("v{round}");
        let list: Vec<String> = images.iter().map(|i| format!("{i}:{tag}")).collect();
        e.update(
            &UpdateRequest::new(REGION, &id)
                .images(list.iter().map(String::as_str))
                .unwrap(),
        )
        .unwrap();
        clock.advance_secs(60);
    }
    let c = get(&mut e, &id).unwrap();
    assert_eq!(c.events.len(), 50);
    assert_eq!(c.events.last().unwrap().reason, "Ready");
}

#[test]
fn auto_match_ranks_and_misses() {
    let (mut e, clock) = engine();
    let mk = |e: &mut Engine, name: &str, images: &[&str], size: u32| {
        let mut r = CreateRequest::new(REGION, name).size_gib(size);
        for i in images {
            r = r.image(i).unwrap();
        }
        e.create(&r).unwrap().image_cache_id
    };
    let a = mk(&mut e, "aa", &["nginx:1.25", "redis:7"], 20);
    clock.advance_secs(1);
    let b = mk(&mut e, "bb", &["nginx:1.25", "redis:6"], 40);
    clock.advance_secs(1);
    let c = mk(&mut e, "cc", &["nginx:1.25", "redis:6"], 30);
    let big = mk(&mut e, "big", &["nginx:1.25", "redis:7", "busybox"], 100);
    let hit = |e: &mut Engine, r: AutoMatchRequest| match e.auto_match(&r).unwrap() {
        AutoMatchOutcome::Hit {
            image_cache_id,
            exact,
            partial,
            ..
        } => Some((image_cache_id, exact, partial)),
        AutoMatchOutcome::Miss { .. } => None,
    };
    let group = || {
        AutoMatchRequest::new(REGION)
            .image("nginx:1.25")
            .unwrap()
            .image("redis:7")
            .unwrap()
    };
    assert_eq!(hit(&mut e, group()), None, "nothing is Ready yet");
    clock.advance_secs(200);
    // F first: `a` has both exactly.
    assert_eq!(hit(&mut e, group()), Some((a.clone(), 2, 0)));
    // With redis:6, b (40 GiB) and c (30 GiB) tie on F and P: the size
    // closest to the storage wins; `big` (100 GiB) never fits.
    let r = AutoMatchRequest::new(REGION)
        .image("nginx:1.25")
        .unwrap()
        .image("redis:6")
        .unwrap()
        .temporary_storage_gib(40);
    assert_eq!(hit(&mut e, r.clone()), Some((b.clone(), 2, 0)));
    assert_eq!(
        hit(&mut e, r.temporary_storage_gib(30)),
        Some((c.clone(), 2, 0))
    );
    // Perfect match with busybox: only `big` has all three, but it is too large.
    let r = group().image("busybox").unwrap().perfect_match(true);
    assert_eq!(hit(&mut e, r.clone()), None);
    assert_eq!(
        hit(&mut e, r.temporary_storage_gib(100)),
        Some((big.clone(), 3, 0))
    );
    // Match count 2 with redis:8: nobody has two exact matches.
    let r = AutoMatchRequest::new(REGION)
        .image("nginx:1.25")
        .unwrap()
        .image("redis:8")
        .unwrap()
        .match_count_request(2);
    assert_eq!(hit(&mut e, r), None);
    // An explicit id bypasses ranking.
    assert_eq!(
        hit(&mut e, group().image_cache_id(&c)),
        Some((c.clone(), 1, 1))
    );
}

#[test]
fn auto_created_caches_have_their_own_quota_and_retention() {
    let clock = clock_at_t0();
    let mut e = Engine::builder()
        .clock(clock.clone())
        .seed(5)
        .instant(true)
        .auto_created_quota(2)
        .quota(1)
        .build();
    let miss = |e: &mut Engine, image: &str, group: &str| match e
        .auto_match(
            &AutoMatchRequest::new(REGION)
                .image(image)
                .unwrap()
                .container_group_id(group)
                .auto_create(true),
        )
        .unwrap()
    {
        AutoMatchOutcome::Miss { auto_created, .. } => auto_created.unwrap(),
        hit => panic!("{hit:?}"),
    };
    let first = miss(&mut e, "nginx", "eci-one");
    let c = get(&mut e, &first).unwrap();
    assert_eq!(
        (c.name(), c.size_gib, c.status, c.auto_created),
        ("auto-create-for-eci-one", 30, CacheStatus::Ready, true)
    );
    clock.advance_secs(10);
    let second = miss(&mut e, "redis", "eci-two");
    // They do not count against the quota of created caches (1 here).
    e.create(&CreateRequest::new(REGION, "mine").image("alpine").unwrap())
        .unwrap();
    // At their own quota, the least recently used auto-created cache goes.
    clock.advance_secs(10);
    assert!(matches!(
        e.auto_match(&AutoMatchRequest::new(REGION).image("nginx").unwrap())
            .unwrap(),
        AutoMatchOutcome::Hit { .. }
    ));
    let third = miss(&mut e, "busybox", "eci-three");
    assert!(
        get(&mut e, &second).is_none(),
        "second was never used: evicted first"
    );
    assert!(get(&mut e, &first).is_some());
    // Never used: removed 7 days after creation; used: 30 days after last use.
    clock.advance_secs(7 * 86_400);
    assert!(get(&mut e, &third).is_none());
    assert!(get(&mut e, &first).is_some());
    clock.advance_secs(23 * 86_400);
    assert!(get(&mut e, &first).is_none());
}

#[test]
fn lru_eviction_follows_last_use() {
    let clock = clock_at_t0();
    let mut e = Engine::builder()
        .clock(clock.clone())
        .seed(6)
        .instant(true)
        .quota(3)
        .build();
    let mut ids = Vec::new();
    for name in ["a1", "b1", "c1"] {
        clock.advance_secs(10);
        ids.push(
            e.create(
                &CreateRequest::new(REGION, name)
                    .image(&format!("{name}-img"))
                    .unwrap()
                    .lru(),
            )
            .unwrap()
            .image_cache_id,
        );
    }
    // Using the oldest makes the second the least recently used.
    clock.advance_secs(10);
    e.auto_match(&AutoMatchRequest::new(REGION).image("a1-img").unwrap())
        .unwrap();
    let order: Vec<String> = e
        .index(DEFAULT_ACCOUNT, REGION)
        .unwrap()
        .lru_order()
        .map(|c| c.id().to_owned())
        .collect();
    assert_eq!(order, [ids[1].clone(), ids[2].clone(), ids[0].clone()]);
    e.create(&CreateRequest::new(REGION, "d1").image("d").unwrap())
        .unwrap();
    assert!(get(&mut e, &ids[1]).is_none());
}

#[test]
fn client_tokens_replay_and_expire_after_a_day() {
    let (mut e, clock) = engine();
    let r = CreateRequest::new(REGION, "web")
        .image("nginx")
        .unwrap()
        .client_token("tok");
    let first = e.create(&r).unwrap();
    assert_eq!(e.create(&r).unwrap(), first);
    assert_eq!(e.index(DEFAULT_ACCOUNT, REGION).unwrap().len(), 1);
    clock.advance_secs(86_399);
    assert_eq!(e.create(&r).unwrap(), first);
    clock.advance_secs(1);
    assert_ne!(e.create(&r).unwrap(), first, "forgotten after 24 hours");
    // Tokens are per action: the same token may name a delete.
    e.delete(&DeleteRequest {
        client_token: Some("tok".into()),
        ..DeleteRequest::new(REGION, &first.image_cache_id)
    })
    .unwrap();
}

#[test]
fn accounts_and_regions_are_separate() {
    let (mut e, _) = engine();
    e.create_as(
        "alice",
        &CreateRequest::new(REGION, "web").image("nginx").unwrap(),
    )
    .unwrap();
    e.create_as(
        "bob",
        &CreateRequest::new("cn-beijing", "web")
            .image("nginx")
            .unwrap(),
    )
    .unwrap();
    let count = |e: &mut Engine, account: &str, region: &str| {
        e.describe_as(account, &DescribeRequest::new(region))
            .unwrap()
            .total_count
    };
    assert_eq!(
        (
            count(&mut e, "alice", REGION),
            count(&mut e, "bob", REGION),
            count(&mut e, "alice", "cn-beijing"),
            count(&mut e, "bob", "cn-beijing")
        ),
        (1, 0, 0, 1)
    );
    // A token from one account's pages is foreign to another's.
    e.create_as(
        "alice",
        &CreateRequest::new(REGION, "api").image("redis").unwrap(),
    )
    .unwrap();
    e.create_as(
        "bob",
        &CreateRequest::new(REGION, "api").image("redis").unwrap(),
    )
    .unwrap();
    e.create_as(
        "bob",
        &CreateRequest::new(REGION, "db").image("redis").unwrap(),
    )
    .unwrap();
    let token = e
        .describe_as("alice", &DescribeRequest::new(REGION).limit(1))
        .unwrap()
        .next_token
        .unwrap();
    let err = e
        .describe_as(
            "bob",
            &DescribeRequest::new(REGION).limit(1).next_token(token),
        )
        .unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidParameter.NextToken");
}

#[test]
fn acr_registry_info_domains_are_aliases() {
    let (mut e, _) = engine();
    let mut r = CreateRequest::new(REGION, "web")
        .image("team.example.com/app/web:v1")
        .unwrap();
    r.settings
        .acr_registry_info
        .push(eci_imagecache::record::AcrRegistryInfo {
            instance_id: Some("cri-1".into()),
            domains: vec![
                "team.example.com".into(),
                "team-registry.cn-hangzhou.cr.aliyuncs.com".into(),
            ],
            ..Default::default()
        });
    let id = e.create(&r).unwrap().image_cache_id;
    let q = DescribeRequest::new(REGION)
        .match_image("team-registry-vpc.cn-hangzhou.cr.aliyuncs.com/app/web:v1")
        .unwrap();
    assert_eq!(e.describe(&q).unwrap().total_count, 1);
    e.delete(&DeleteRequest::new(REGION, &id)).unwrap();
    e.create(
        &CreateRequest::new(REGION, "api")
            .image("team.example.com/app/web:v1")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        e.describe(&q).unwrap().total_count,
        0,
        "aliases go with the caches that named them"
    );
}

/// Every describe a test asks, as JSON, for comparing two engines.
fn answers(e: &mut Engine) -> Vec<String> {
    let requests = [
        DescribeRequest::new(REGION),
        DescribeRequest::new(REGION).limit(2),
        DescribeRequest::new(REGION)
            .match_image("nginx:1.25")
            .unwrap()
            .match_image("redis")
            .unwrap(),
        DescribeRequest::new(REGION).tag("env", None),
    ];
    let mut out = Vec::new();
    for r in &requests {
        let page = e.describe(r).unwrap();
        out.push(
            serde_json::to_string(
                &eci_imagecache::wire::json::DescribeImageCachesResponse::new("r", &page),
            )
            .unwrap(),
        );
        if let Some(token) = page.next_token.clone() {
            let next = e.describe(&r.clone().next_token(token)).unwrap();
            out.push(
                serde_json::to_string(
                    &eci_imagecache::wire::json::DescribeImageCachesResponse::new("r", &next),
                )
                .unwrap(),
            );
        }
    }
    out
}

#[test]
fn persistence_round_trips_and_resumes() {
    let (mut e, clock) = engine();
    let a = e
        .create(
            &CreateRequest::new(REGION, "web")
                .image("nginx:1.25")
                .unwrap()
                .tag("env", "prod")
                .client_token("c1")
                .lru(),
        )
        .unwrap();
    clock.advance_secs(200);
    e.create(
        &CreateRequest::new(REGION, "api")
            .image("redis")
            .unwrap()
            .image("private/x")
            .unwrap(),
    )
    .unwrap();
    e.create_as(
        "bob",
        &CreateRequest::new("cn-beijing", "db")
            .image("mysql")
            .unwrap(),
    )
    .unwrap();
    clock.advance_secs(30); // `api` is mid-create
    let dir = std::env::temp_dir().join(format!("eci-imagecache-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.bin");
    e.save(&path).unwrap();
    let mut loaded = Engine::builder()
        .durations(Durations {
            preparing: 10,
            creating: 100,
            updating: 50,
        })
        .load(&path)
        .unwrap();
    assert_eq!(loaded.now(), e.now(), "the manual clock resumes");
    assert_eq!(answers(&mut loaded), answers(&mut e));
    assert!(loaded.to_bytes() == e.to_bytes());
    // Both go on identically: time, ids, tokens.
    let clock2 = loaded.clock().as_manual().unwrap().clone();
    clock.advance_secs(100);
    clock2.advance_secs(100);
    let x = e
        .create(&CreateRequest::new(REGION, "next").image("alpine").unwrap())
        .unwrap();
    let y = loaded
        .create(&CreateRequest::new(REGION, "next").image("alpine").unwrap())
        .unwrap();
    assert_eq!(x, y);
    assert_eq!(
        loaded
            .create(
                &CreateRequest::new(REGION, "web")
                    .image("nginx:1.25")
                    .unwrap()
                    .tag("env", "prod")
                    .client_token("c1")
                    .lru()
            )
            .unwrap(),
        a
    );
    assert_eq!(answers(&mut loaded), answers(&mut e));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_state_files_are_rejected() {
    let (mut e, _) = engine();
    e.create(
        &CreateRequest::new(REGION, "web")
            .image("nginx:1.25")
            .unwrap(),
    )
    .unwrap();
    let good = e.to_bytes();
    let load = |bytes: &[u8]| Engine::builder().load_bytes(bytes);
    assert!(load(&good).is_ok());
    for cut in [0, 3, 8, 20, 51, 52, good.len() / 2, good.len() - 1] {
        let err = load(&good[..cut]).unwrap_err();
        assert!(
            matches!(err, LoadError::NotAStateFile | LoadError::Truncated { .. }),
            "cut {cut}: {err}"
        );
    }
    let mut longer = good.clone();
    longer.push(b' ');
    assert!(matches!(
        load(&longer).unwrap_err(),
        LoadError::Truncated { .. }
    ));
    // Every single flipped byte is caught.
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x20;
        assert!(load(&bad).is_err(), "flipped byte {i} was accepted");
    }
    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&2u32.to_le_bytes());
    let err = load(&newer).unwrap_err();
    assert_eq!(
        err.to_string(),
        "state file version 2 is newer than the supported version 1"
    );
    assert_eq!(
        load(b"hello").unwrap_err().to_string(),
        "not an eci-imagecache state file"
    );
    // A payload with a valid checksum but inconsistent content.
    let payload = br#"{"clock":null,"ids":[[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],0],"token_key":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"regions":[{"account":"","region_id":"cn-hangzhou","caches":[],"runs":[["imc-x",{"operation":"Create","started":0,"durations":{"preparing":0,"creating":0,"updating":0},"failure":null,"applied":-1}]],"tokens":[]}]}"#;
    let mut forged = b"ECIIMCST".to_vec();
    forged.extend_from_slice(&1u32.to_le_bytes());
    forged.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    use sha2::Digest;
    forged.extend_from_slice(&sha2::Sha256::digest(payload));
    forged.extend_from_slice(payload);
    assert_eq!(
        load(&forged).unwrap_err().to_string(),
        "state file is corrupt: an operation in progress for unknown cache imc-x"
    );
    // Saving over a file replaces it whole.
    let dir = std::env::temp_dir().join(format!("eci-imagecache-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s");
    std::fs::write(&path, b"old").unwrap();
    e.save(&path).unwrap();
    assert!(std::fs::read(&path).unwrap() == good);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no temporary file left behind"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn threads_query_while_others_mutate() {
    let clock = clock_at_t0();
    let shared = SharedEngine::new(
        Engine::builder()
            .clock(clock.clone())
            .seed(9)
            .quota(10_000)
            .durations(Durations {
                preparing: 1,
                creating: 4,
                updating: 2,
            })
            .build(),
    );
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let shared = shared.clone();
            let clock = clock.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..300 {
                    let r = CreateRequest::new(REGION, format!("w{w}-{i}"))
                        .image(&format!("app{}:v{}", i % 7, i % 3))
                        .unwrap()
                        .image("nginx")
                        .unwrap();
                    mine.push(
                        shared
                            .create_as(DEFAULT_ACCOUNT, &r)
                            .unwrap()
                            .image_cache_id,
                    );
                    if i % 3 == 0 {
                        let victim = mine.remove(0);
                        shared
                            .delete_as(DEFAULT_ACCOUNT, &DeleteRequest::new(REGION, &victim))
                            .unwrap();
                    }
                    if i % 10 == 0 {
                        clock.advance_secs(1);
                    }
                }
                mine
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut checks = 0;
                for _ in 0..300 {
                    shared.describe_as(
                        DEFAULT_ACCOUNT,
                        &DescribeRequest::new(REGION).match_image("nginx").unwrap(),
                        |page| {
                            let page = page.unwrap();
                            // A whole mutation or none: every cache holds both
                            // of its images, and the count matches the list.
                            assert_eq!(page.image_caches.len(), page.total_count.min(20));
                            for c in &page.image_caches {
                                assert_eq!(c.images().len(), 2);
                                assert!(matches!(
                                    c.status,
                                    CacheStatus::Preparing
                                        | CacheStatus::Creating
                                        | CacheStatus::Ready
                                ));
                            }
                        },
                    );
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    let mut expected: Vec<String> = writers
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), 300);
    }
    clock.advance_secs(100);
    let engine = shared.read();
    let index = engine.index(DEFAULT_ACCOUNT, REGION).unwrap();
    let mut present: Vec<String> = index.iter().map(|c| c.id().to_owned()).collect();
    expected.sort();
    present.sort();
    assert_eq!(present, expected);
    assert!(index.iter().all(|c| c.status == CacheStatus::Ready));
}

#[test]
fn a_batch_matches_like_one_by_one() {
    use eci_imagecache::workload::Workload;
    let workload = Workload::new(4);
    let caches: Vec<ImageCache> = workload.caches(3_000).collect();
    let groups = workload.container_groups(400, &caches);
    let build = || {
        let clock = ManualClock::new("2026-01-02T00:00:00Z".parse().unwrap());
        let mut e = Engine::builder().clock(clock).seed(8).build();
        for c in &caches {
            e.import_as(DEFAULT_ACCOUNT, c.clone()).unwrap();
        }
        e
    };
    let (mut one, mut many) = (build(), build());
    let singles: Vec<_> = groups.iter().map(|g| one.auto_match(g)).collect();
    let batch = many.auto_match_batch(&groups);
    assert_eq!(batch, singles);
    let hits = singles
        .iter()
        .filter(|r| matches!(r, Ok(AutoMatchOutcome::Hit { .. })))
        .count();
    assert!(hits > 100 && hits < 400, "{hits} hits");
    assert!(one.to_bytes() == many.to_bytes());
}

#[test]
fn import_keeps_records_and_restarts_busy_ones() {
    let (mut e, clock) = engine();
    let t = "2024-04-01T00:00:00Z".parse().unwrap();
    let ready = ImageCache::new("imc-aaaaaaaaaaaaaaaaaaaa", "old", REGION, t)
        .with_images(["nginx"])
        .unwrap();
    let mut ready = ready;
    ready.status = CacheStatus::Ready;
    ready.progress = 100;
    let mut busy = ImageCache::new("imc-bbbbbbbbbbbbbbbbbbbb", "busy", REGION, t)
        .with_images(["redis"])
        .unwrap();
    busy.status = CacheStatus::Creating;
    busy.progress = 40;
    e.import_as(DEFAULT_ACCOUNT, ready.clone()).unwrap();
    e.import_as(DEFAULT_ACCOUNT, busy).unwrap();
    assert_eq!(
        e.import_as(DEFAULT_ACCOUNT, ready.clone())
            .unwrap_err()
            .code()
            .as_str(),
        "InvalidParameter"
    );
    assert_eq!(get(&mut e, ready.id()).unwrap(), ready);
    assert_eq!(
        get(&mut e, "imc-bbbbbbbbbbbbbbbbbbbb").unwrap().status,
        CacheStatus::Preparing
    );
    clock.advance_secs(110);
    assert_eq!(
        get(&mut e, "imc-bbbbbbbbbbbbbbbbbbbb").unwrap().status,
        CacheStatus::Ready
    );
}

/// An id is unique in an account across all its regions, and only there:
/// an import refuses an id the account holds in another region, while
/// another account (named before and after it) takes the same id.
#[test]
fn imported_ids_are_unique_per_account_across_its_regions() {
    let (mut e, _) = engine();
    let t = "2024-04-01T00:00:00Z".parse().unwrap();
    let cache = |region: &str| {
        ImageCache::new("imc-aaaaaaaaaaaaaaaaaaaa", "web", region, t)
            .with_images(["nginx"])
            .unwrap()
    };
    e.import_all_as("acct-b", [cache("cn-hangzhou")]).unwrap();
    let refused = e
        .import_all_as("acct-b", [cache("cn-beijing")])
        .unwrap_err();
    assert_eq!(
        (refused.id.as_str(), refused.error.code().as_str()),
        ("imc-aaaaaaaaaaaaaaaaaaaa", "InvalidParameter")
    );
    let refused = e
        .import_all_as("acct-b", [cache("cn-zhangjiakou")])
        .unwrap_err();
    assert_eq!(refused.error.code().as_str(), "InvalidParameter");
    for account in ["acct-a", "acct-c", "acct-b-2", ""] {
        assert_eq!(
            e.import_all_as(account, [cache("cn-beijing")]),
            Ok(1),
            "{account:?}"
        );
    }
}

/// Importing many at once is all or nothing: a cache refused for any reason
/// (an id already held, the same id twice in the batch, a bad region, an
/// empty id) refuses the batch, names the cache, and changes nothing; an
/// accepted batch is the same engine, byte for byte, as importing each cache
/// in turn.
#[test]
fn import_all_is_all_or_nothing_and_equals_one_by_one() {
    use eci_imagecache::workload::Workload;
    let caches: Vec<ImageCache> = Workload::new(5).caches(500).collect();
    let (mut bulk, _) = engine();
    let (mut single, _) = engine();
    assert_eq!(bulk.import_all_as(DEFAULT_ACCOUNT, caches.clone()), Ok(500));
    for c in &caches {
        single.import_as(DEFAULT_ACCOUNT, c.clone()).unwrap();
    }
    assert!(bulk.to_bytes() == single.to_bytes());

    let before = bulk.to_bytes();
    let fresh = |id: &str| {
        let t = "2024-04-01T00:00:00Z".parse().unwrap();
        ImageCache::new(id, "new", REGION, t)
            .with_images(["nginx"])
            .unwrap()
    };
    let mut bad_region = fresh("imc-cccccccccccccccccccc");
    bad_region.set_region_id("../etc");
    for (batch, id, code) in [
        (
            vec![fresh("imc-aaaaaaaaaaaaaaaaaaaa"), caches[7].clone()],
            caches[7].id(),
            "InvalidParameter",
        ),
        (
            vec![
                fresh("imc-aaaaaaaaaaaaaaaaaaaa"),
                fresh("imc-aaaaaaaaaaaaaaaaaaaa"),
            ],
            "imc-aaaaaaaaaaaaaaaaaaaa",
            "InvalidParameter",
        ),
        (
            vec![fresh("imc-aaaaaaaaaaaaaaaaaaaa"), bad_region],
            "imc-cccccccccccccccccccc",
            "InvalidParameter",
        ),
        (
            vec![fresh("imc-aaaaaaaaaaaaaaaaaaaa"), fresh("")],
            "",
            "MissingParameter",
        ),
    ] {
        let refused = bulk.import_all_as(DEFAULT_ACCOUNT, batch).unwrap_err();
        assert_eq!(
            (refused.id.as_str(), refused.error.code().as_str()),
            (id, code)
        );
        assert!(
            bulk.to_bytes() == before,
            "a refused batch changed the engine ({id:?})"
        );
    }
}
