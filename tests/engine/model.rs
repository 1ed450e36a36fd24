//! A state-machine property test: random sequences of create, update,
//! delete, clock advances, describes and auto-matches, checked after every
//! step against a plain model of the rules (status, progress, expiry, quota,
//! LRU victim, idempotency), and the index against the naive oracle.

use crate::common;

use std::collections::BTreeMap;

use eci_imagecache::automatch::{AutoMatchOutcome, AutoMatchRequest};
use eci_imagecache::clock::ManualClock;
use eci_imagecache::cursor::TokenKey;
use eci_imagecache::describe::DescribeRequest;
use eci_imagecache::engine::{
    CreateRequest, DEFAULT_ACCOUNT, DeleteRequest, Durations, Engine, FailurePredicate,
    UpdateRequest,
};
use eci_imagecache::index::Index;
use eci_imagecache::oracle::NaiveIndex;
use eci_imagecache::record::{CacheStatus, EliminationStrategy};
use eci_imagecache::reference::{Reference, RegistryAliases};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use common::REGION;
const P: i64 = 10;
const C: i64 = 100;
const U: i64 = 50;
const QUOTA: usize = 4;
const IMAGES: &[&str] = &[
    "nginx:1",
    "nginx:2",
    "redis",
    "registry.cn-hangzhou.aliyuncs.com/t/app:1",
    "registry-vpc.cn-hangzhou.aliyuncs.com/t/app:2",
    "fail/x",
];

#[derive(Clone, Debug)]
enum Op {
    Create {
        images: Vec<usize>,
        lru: bool,
        retention: Option<u32>,
        size: u32,
        token: Option<u8>,
    },
    Update {
        pick: usize,
        images: Vec<usize>,
        token: Option<u8>,
    },
    Delete {
        pick: usize,
        token: Option<u8>,
    },
    Advance(i64),
    Describe {
        images: Vec<usize>,
        full: bool,
        limit: Option<u32>,
    },
    AutoMatch {
        images: Vec<usize>,
        storage: u32,
    },
}

fn images() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..IMAGES.len(), 1..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (images(), any::<bool>(), prop::option::weighted(0.2, 1u32..3), prop::sample::select(vec![20u32, 30, 40]), prop::option::weighted(0.3, 0u8..3))
            .prop_map(|(images, lru, retention, size, token)| Op::Create { images, lru, retention, size, token }),
        2 => (any::<usize>(), images(), prop::option::weighted(0.3, 0u8..3)).prop_map(|(pick, images, token)| Op::Update { pick, images, token }),
        1 => (any::<usize>(), prop::option::weighted(0.3, 0u8..3)).prop_map(|(pick, token)| Op::Delete { pick, token }),
        3 => prop_oneof![1i64..30, 30i64..200, Just(86_400i64), 86_400i64..200_000].prop_map(Op::Advance),
        2 => (images(), any::<bool>(), prop::option::of(1u32..4)).prop_map(|(images, full, limit)| Op::Describe { images, full, limit }),
        2 => (images(), prop::sample::select(vec![20u32, 30, 40])).prop_map(|(images, storage)| Op::AutoMatch { images, storage }),
    ]
}

/// What the model knows of a cache.
#[derive(Clone, Debug)]
struct M {
    id: String,
    images: Vec<usize>,
    created: i64,
    started: i64,
    updating: bool,
    fail: bool,
    /// Status after the last update ended (Ready or UpdateFailed), when not running.
    lru: bool,
    last_matched: Option<i64>,
    expire: Option<i64>,
    size: u32,
}

impl M {
    fn state(&self, now: i64) -> (CacheStatus, u8) {
        let e = now - self.started;
        if self.updating {
            if self.fail && e >= U / 2 {
                return (CacheStatus::UpdateFailed, progress(e, U, U / 2));
            }
            if e >= U {
                return (CacheStatus::Ready, 100);
            }
            return (CacheStatus::Updating, progress(e, U, U));
        }
        if e < P {
            return (CacheStatus::Preparing, 0);
        }
        if self.fail && e - P >= C / 2 {
            return (CacheStatus::Failed, progress(e - P, C, C / 2));
        }
        if e - P >= C {
            return (CacheStatus::Ready, 100);
        }
        (CacheStatus::Creating, progress(e - P, C, C))
    }

    fn gone(&self, now: i64) -> bool {
        let failed_create = !self.updating && self.fail && now >= self.started + P + C / 2 + 86_400;
        self.expire.is_some_and(|t| now >= t) || failed_create
    }
}

/// Progress in 10 % steps, frozen at `stop` (where a failure happens).
fn progress(e: i64, length: i64, stop: i64) -> u8 {
    let e = e.min(stop - if stop < length { 1 } else { 0 }).max(0);
    ((e * 10 / length) * 10) as u8
}

fn fails(images: &[usize]) -> bool {
    images.iter().any(|&i| IMAGES[i].starts_with("fail/"))
}

#[track_caller]
fn keys(images: &[usize]) -> Vec<String> {
    let rules = RegistryAliases::default();
    images
        .iter()
        .map(|&i| {
            rules
                .exact_key(&Reference::parse(IMAGES[i]).unwrap())
                .as_str()
                .to_owned()
        })
        .collect()
}

#[track_caller]
fn repo_keys(images: &[usize]) -> Vec<String> {
    let rules = RegistryAliases::default();
    images
        .iter()
        .map(|&i| {
            rules
                .exact_key(&Reference::parse(IMAGES[i]).unwrap())
                .repo()
                .to_owned()
        })
        .collect()
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new("2024-05-01T00:00:00Z".parse().unwrap());
    let mut engine = Engine::builder()
        .clock(clock.clone())
        .seed(11)
        .quota(QUOTA)
        .durations(Durations {
            preparing: P as u32,
            creating: C as u32,
            updating: U as u32,
        })
        .fail_when(FailurePredicate::new(|c| {
            c.images
                .iter()
                .any(|i| i.written().starts_with("fail/"))
                .then(|| "injected".to_owned())
        }))
        .build();
    let t0 = clock_now(&clock);
    let mut now = t0;
    let mut model: Vec<M> = Vec::new();
    // (action, token) -> (parameters, answer)
    let mut tokens: BTreeMap<(u8, u8), (String, Option<String>, i64)> = BTreeMap::new();

    for op in ops {
        model.retain(|m| !m.gone(now));
        tokens.retain(|_, (_, _, at)| *at + 86_400 > now);
        match op {
            Op::Advance(s) => {
                clock.advance_secs(s);
                now += s;
                model.retain(|m| !m.gone(now));
                tokens.retain(|_, (_, _, at)| *at + 86_400 > now);
            }
            Op::Create {
                images,
                lru,
                retention,
                size,
                token,
            } => {
                let mut r = CreateRequest::new(REGION, "cache").size_gib(size);
                for &i in &images {
                    r = r.image(IMAGES[i]).unwrap();
                }
                if lru {
                    r = r.lru();
                }
                r.settings.retention_days = retention;
                let params = format!("{images:?}{lru}{retention:?}{size}");
                if let Some(t) = token {
                    r = r.client_token(format!("t{t}"));
                }
                let got = engine.create(&r);
                let remembered = token.and_then(|t| tokens.get(&(0, t)).cloned());
                match remembered {
                    Some((p, answer, _)) if p == params => {
                        prop_assert_eq!(got.unwrap().image_cache_id, answer.unwrap());
                        continue;
                    }
                    Some(_) => {
                        prop_assert_eq!(
                            got.unwrap_err().code().as_str(),
                            "IdempotentParameterMismatch"
                        );
                        continue;
                    }
                    None => {}
                }
                if model.len() >= QUOTA {
                    // The victim: LRU, not busy, oldest last use (else creation), then id.
                    let victim = model
                        .iter()
                        .filter(|m| {
                            m.lru
                                && !matches!(
                                    m.state(now).0,
                                    CacheStatus::Preparing
                                        | CacheStatus::Creating
                                        | CacheStatus::Updating
                                )
                        })
                        .min_by(|a, b| {
                            (a.last_matched.unwrap_or(a.created), &a.id)
                                .cmp(&(b.last_matched.unwrap_or(b.created), &b.id))
                        })
                        .map(|m| m.id.clone());
                    match victim {
                        Some(v) => model.retain(|m| m.id != v),
                        None => {
                            prop_assert_eq!(got.unwrap_err().code().as_str(), "QuotaExceeded");
                            continue;
                        }
                    }
                }
                let id = got.unwrap().image_cache_id;
                if let Some(t) = token {
                    tokens.insert((0, t), (params, Some(id.clone()), now));
                }
                model.push(M {
                    id,
                    fail: fails(&images),
                    images,
                    created: now,
                    started: now,
                    updating: false,
                    lru,
                    last_matched: None,
                    expire: retention.map(|d| now + d as i64 * 86_400),
                    size,
                });
            }
            Op::Update {
                pick,
                images,
                token,
            } => {
                if model.is_empty() {
                    continue;
                }
                let i = pick % model.len();
                let id = model[i].id.clone();
                let mut r = UpdateRequest::new(REGION, &id);
                r.images = Some(
                    images
                        .iter()
                        .map(|&k| eci_imagecache::record::CachedImage::parse(IMAGES[k]).unwrap())
                        .collect(),
                );
                let params = format!("{id}{images:?}");
                if let Some(t) = token {
                    r = r.client_token(format!("t{t}"));
                }
                let got = engine.update(&r);
                match token.and_then(|t| tokens.get(&(1, t)).cloned()) {
                    Some((p, _, _)) if p == params => {
                        prop_assert!(got.is_ok());
                        continue;
                    }
                    Some(_) => {
                        prop_assert_eq!(
                            got.unwrap_err().code().as_str(),
                            "IdempotentParameterMismatch"
                        );
                        continue;
                    }
                    None => {}
                }
                let m = &mut model[i];
                let status = m.state(now).0;
                if !matches!(status, CacheStatus::Ready | CacheStatus::UpdateFailed) {
                    prop_assert_eq!(got.unwrap_err().code().as_str(), "OperationConflict");
                    continue;
                }
                if m.images == images {
                    prop_assert_eq!(got.unwrap_err().code().as_str(), "NoNeedUpdate");
                    continue;
                }
                prop_assert!(got.is_ok(), "{:?}", got);
                m.images = images;
                m.fail = fails(&m.images);
                m.updating = true;
                m.started = now;
                if let Some(t) = token {
                    tokens.insert((1, t), (params, None, now));
                }
            }
            Op::Delete { pick, token } => {
                let id = if model.is_empty() || pick % 5 == 0 {
                    "imc-00000000000000000000".to_owned()
                } else {
                    model[pick % model.len()].id.clone()
                };
                let mut r = DeleteRequest::new(REGION, &id);
                r.client_token = token.map(|t| format!("t{t}"));
                let got = engine.delete(&r);
                match token.and_then(|t| tokens.get(&(2, t)).cloned()) {
                    Some((p, _, _)) if p == id => {
                        prop_assert!(got.is_ok());
                        continue;
                    }
                    Some(_) => {
                        prop_assert_eq!(
                            got.unwrap_err().code().as_str(),
                            "IdempotentParameterMismatch"
                        );
                        continue;
                    }
                    None => {}
                }
                if model.iter().any(|m| m.id == id) {
                    prop_assert!(got.is_ok());
                    model.retain(|m| m.id != id);
                    if let Some(t) = token {
                        tokens.insert((2, t), (id, None, now));
                    }
                } else {
                    prop_assert_eq!(
                        got.unwrap_err().code().as_str(),
                        "InvalidImageCacheId.NotFound"
                    );
                }
            }
            Op::Describe {
                images,
                full,
                limit,
            } => {
                let mut r = DescribeRequest::new(REGION).full_match(full);
                for &i in &images {
                    r = r.match_image(IMAGES[i]).unwrap();
                }
                if let Some(l) = limit {
                    r = r.limit(l);
                }
                engine.tick();
                let index = engine.index(DEFAULT_ACCOUNT, REGION);
                let empty = Index::new(RegistryAliases::default(), TokenKey::from_seed(0));
                let index = index.unwrap_or(&empty);
                let mut naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(0));
                let mut fresh = Index::new(RegistryAliases::default(), TokenKey::from_seed(0));
                for c in index.iter() {
                    naive.insert(c.clone());
                    fresh.insert(c.clone());
                }
                // The engine's long-lived index pages like a fresh one and like the oracle.
                let mut token = None;
                loop {
                    let mut q = r.clone();
                    if let Some(t) = token.take() {
                        q = q.next_token(t);
                    }
                    let a = fresh.describe(&q).unwrap();
                    let b = naive.describe(&q).unwrap();
                    let ids = |p: &eci_imagecache::describe::DescribePage<'_>| {
                        p.image_caches
                            .iter()
                            .map(|c| c.id().to_owned())
                            .collect::<Vec<_>>()
                    };
                    prop_assert_eq!(ids(&a), ids(&b));
                    prop_assert_eq!(a.total_count, b.total_count);
                    let mut live = engine
                        .describe(&q.clone().next_token(String::new()))
                        .unwrap();
                    if q.next_token.is_none() {
                        prop_assert_eq!(ids(&live), ids(&a));
                        prop_assert_eq!(live.total_count, a.total_count);
                        live.next_token = None;
                    }
                    match a.next_token.clone() {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
            }
            Op::AutoMatch { images, storage } => {
                let mut r = AutoMatchRequest::new(REGION).temporary_storage_gib(storage);
                for &i in &images {
                    r = r.image(IMAGES[i]).unwrap();
                }
                let got = engine.auto_match(&r).unwrap();
                // The model's pick: Ready, fits, F+P >= 1; F, P, |storage-size|, newest, id.
                let q = keys(&images);
                let qr = repo_keys(&images);
                let mut distinct: Vec<(String, String)> = q.into_iter().zip(qr).collect();
                distinct.sort();
                distinct.dedup();
                let best = model
                    .iter()
                    .filter(|m| m.state(now).0 == CacheStatus::Ready && m.size <= storage)
                    .filter_map(|m| {
                        let (mk, mr) = (keys(&m.images), repo_keys(&m.images));
                        let f = distinct.iter().filter(|(e, _)| mk.contains(e)).count() as u32;
                        let p = distinct
                            .iter()
                            .filter(|(e, r)| !mk.contains(e) && mr.contains(r))
                            .count() as u32;
                        (f + p >= 1).then_some((m, f, p))
                    })
                    .min_by(|a, b| {
                        b.1.cmp(&a.1)
                            .then(b.2.cmp(&a.2))
                            .then(storage.abs_diff(a.0.size).cmp(&storage.abs_diff(b.0.size)))
                            .then(b.0.created.cmp(&a.0.created))
                            .then(a.0.id.cmp(&b.0.id))
                    })
                    .map(|(m, f, p)| (m.id.clone(), f, p));
                match (&got, best) {
                    (
                        AutoMatchOutcome::Hit {
                            image_cache_id,
                            exact,
                            partial,
                            ..
                        },
                        Some((id, f, p)),
                    ) => {
                        prop_assert_eq!(
                            (image_cache_id.clone(), *exact, *partial),
                            (id.clone(), f, p)
                        );
                        model.iter_mut().find(|m| m.id == id).unwrap().last_matched = Some(now);
                    }
                    (
                        AutoMatchOutcome::Miss {
                            auto_created: None, ..
                        },
                        None,
                    ) => {}
                    (got, best) => prop_assert!(false, "engine {:?}, model {:?}", got, best),
                }
            }
        }
        check(&mut engine, &model, now)?;
    }
    Ok(())
}

fn clock_now(clock: &ManualClock) -> i64 {
    use eci_imagecache::clock::Clock;
    clock.now().as_second()
}

/// The engine holds exactly the model's caches, each in the model's state,
/// and its LRU order is the model's.
fn check(engine: &mut Engine, model: &[M], now: i64) -> Result<(), TestCaseError> {
    engine.tick();
    let Some(index) = engine.index(DEFAULT_ACCOUNT, REGION) else {
        prop_assert!(model.is_empty());
        return Ok(());
    };
    let mut have: Vec<&str> = index.iter().map(|c| c.id()).collect();
    let mut want: Vec<&str> = model.iter().map(|m| m.id.as_str()).collect();
    have.sort();
    want.sort();
    prop_assert_eq!(have, want);
    for m in model {
        let c = index.get(&m.id).unwrap();
        prop_assert_eq!((c.status, c.progress), m.state(now), "{}", m.id);
        prop_assert_eq!(c.last_matched_time.map(|t| t.as_second()), m.last_matched);
        prop_assert_eq!(c.elimination_strategy == EliminationStrategy::Lru, m.lru);
        // A snapshot exists once the cache was Ready (an update keeps it).
        let ready_once = m.updating || m.state(now).0 == CacheStatus::Ready;
        prop_assert_eq!(c.snapshot_id().is_some(), ready_once);
        prop_assert!(c.events.len() <= 50);
    }
    let lru: Vec<&str> = index.lru_order().map(|c| c.id()).collect();
    let mut want: Vec<&M> = model
        .iter()
        .filter(|m| {
            m.lru
                && !matches!(
                    m.state(now).0,
                    CacheStatus::Preparing | CacheStatus::Creating | CacheStatus::Updating
                )
        })
        .collect();
    want.sort_by(|a, b| {
        (a.last_matched.unwrap_or(a.created), &a.id)
            .cmp(&(b.last_matched.unwrap_or(b.created), &b.id))
    });
    let want: Vec<&str> = want.iter().map(|m| m.id.as_str()).collect();
    prop_assert_eq!(lru, want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_follows_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
