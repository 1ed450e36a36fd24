//! The SQLite store (feature `sqlite`): after every commit, the engine the
//! store rebuilds equals the live one byte for byte, whatever the settings
//! it is rebuilt with; lifecycle ids do not depend on when ticks happen;
//! one process holds a state; the export format is not mistaken for it.

#![cfg(feature = "sqlite")]

mod common;

use std::path::PathBuf;

use eci_imagecache::automatch::AutoMatchRequest;
use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{CreateRequest, DeleteRequest, Durations, Engine, UpdateRequest};
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::store::{Store, StoreError};
use proptest::prelude::*;

const REGIONS: &[&str] = &["cn-hangzhou", "cn-beijing"];
const IMAGES: &[&str] = &["nginx:1", "nginx:2", "redis", "busybox"];
use common::clock_at_t0;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "eci-store-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Create {
        region: usize,
        image: usize,
        token: Option<u8>,
    },
    Update {
        pick: usize,
        image: usize,
        token: Option<u8>,
    },
    Delete {
        pick: usize,
    },
    Advance(i64),
    AutoMatch {
        region: usize,
        image: usize,
        auto_create: bool,
    },
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..REGIONS.len(), 0..IMAGES.len(), prop::option::of(0u8..3))
            .prop_map(|(region, image, token)| Op::Create { region, image, token }),
        2 => (0..8usize, 0..IMAGES.len(), prop::option::of(0u8..3))
            .prop_map(|(pick, image, token)| Op::Update { pick, image, token }),
        2 => (0..8usize).prop_map(|pick| Op::Delete { pick }),
        3 => prop_oneof![Just(5i64), Just(60), Just(200), Just(86_400 * 2)].prop_map(Op::Advance),
        2 => (0..REGIONS.len(), 0..IMAGES.len(), any::<bool>())
            .prop_map(|(region, image, auto_create)| Op::AutoMatch { region, image, auto_create }),
        1 => Just(Op::Reset),
    ]
}

fn apply(engine: &mut Engine, op: &Op) {
    let ids: Vec<(String, String)> = REGIONS
        .iter()
        .flat_map(|r| {
            engine
                .index("", r)
                .into_iter()
                .flat_map(|i| {
                    i.iter()
                        .map(|c| (c.region_id().to_owned(), c.id().to_owned()))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let pick = |n: usize| ids.get(n % ids.len().max(1)).cloned();
    match op {
        Op::Create {
            region,
            image,
            token,
        } => {
            let mut r = CreateRequest::new(REGIONS[*region], "c")
                .image(IMAGES[*image])
                .unwrap()
                .retention_days(1);
            if let Some(t) = token {
                r = r.client_token(format!("t{t}"));
            }
            let _ = engine.create(&r);
        }
        Op::Update {
            pick: n,
            image,
            token,
        } => {
            if let Some((region, id)) = pick(*n) {
                let mut r = UpdateRequest::new(region, id)
                    .images([IMAGES[*image]])
                    .unwrap();
                if let Some(t) = token {
                    r = r.client_token(format!("u{t}"));
                }
                let _ = engine.update(&r);
            }
        }
        Op::Delete { pick: n } => {
            if let Some((region, id)) = pick(*n) {
                let _ = engine.delete(&DeleteRequest::new(region, id));
            }
        }
        Op::Advance(secs) => {
            engine.clock().as_manual().unwrap().advance_secs(*secs);
            engine.tick();
        }
        Op::AutoMatch {
            region,
            image,
            auto_create,
        } => {
            let r = AutoMatchRequest::new(REGIONS[*region])
                .image(IMAGES[*image])
                .unwrap()
                .auto_create(*auto_create);
            let _ = engine.auto_match(&r);
        }
        Op::Reset => engine.reset(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    })]

    /// After every step and commit, the store rebuilds exactly the live
    /// engine, under the same settings and under others.
    #[test]
    fn the_store_holds_exactly_the_engine(ops in prop::collection::vec(op(), 1..30)) {
        let dir = Dir::new("model");
        let path = dir.file("state.db");
        let clock = clock_at_t0();
        let builder = || Engine::builder().clock(clock.clone()).seed(3).quota(3);
        let mut store = Store::open(&path).unwrap();
        let mut engine = store.load(builder()).unwrap();
        for op in &ops {
            if matches!(op, Op::Reset) {
                engine.reset();
                store.replace(&mut engine).unwrap();
            } else {
                apply(&mut engine, op);
                store.commit(&mut engine).unwrap();
            }
            let live = engine.to_bytes();
            let other_clock = ManualClock::new("2030-01-01T00:00:00Z".parse().unwrap());
            let other = store
                .load(
                    Engine::builder()
                        .clock(other_clock.clone())
                        .quota(1)
                        .durations(Durations::instant())
                        .aliases(RegistryAliases::strict()),
                )
                .unwrap();
            prop_assert_eq!(other_clock.now_secs(), clock.now_secs());
            prop_assert!(other.to_bytes() == live, "rebuilt under other settings differs after {:?}", op);
            let same = store.load(builder()).unwrap();
            prop_assert!(same.to_bytes() == live);
        }
        drop(store);
        let mut reopened = Store::open(&path).unwrap();
        prop_assert!(reopened.load(builder()).unwrap().to_bytes() == engine.to_bytes());
    }
}

trait NowSecs {
    fn now_secs(&self) -> i64;
}

impl NowSecs for ManualClock {
    fn now_secs(&self) -> i64 {
        eci_imagecache::clock::Clock::now(self).as_second()
    }
}

/// Snapshot ids and event names drawn by the lifecycle are the same
/// whether the engine looked every second or only at the end.
#[test]
fn lifecycle_ids_do_not_depend_on_when_ticks_happen() {
    let run = |look_every_second: bool| {
        let clock = clock_at_t0();
        let mut engine = Engine::builder().clock(clock.clone()).seed(9).build();
        for (i, region) in REGIONS.iter().enumerate() {
            let r = CreateRequest::new(*region, format!("c{i}"))
                .image(IMAGES[i])
                .unwrap();
            engine.create(&r).unwrap();
        }
        for _ in 0..400 {
            clock.advance_secs(1);
            if look_every_second {
                engine.tick();
            }
        }
        engine.tick();
        engine.to_bytes()
    };
    let a = run(true);
    let b = run(false);
    assert!(a == b, "lifecycle ids depend on when the engine ticked");
}

#[test]
fn a_second_store_on_the_same_state_is_refused() {
    let dir = Dir::new("lock");
    let path = dir.file("state.db");
    let first = Store::open(&path).unwrap();
    match Store::open(&path) {
        Err(StoreError::Locked { path: p }) => assert_eq!(p, path),
        other => panic!("expected Locked, got {other:?}"),
    }
    let message = Store::open(&path).unwrap_err().to_string();
    assert_eq!(
        message,
        format!("{}: the state is in use by another process", path.display())
    );
    drop(first);
    Store::open(&path).unwrap();
}

#[test]
fn files_that_are_not_stores_are_refused_and_left_alone() {
    let dir = Dir::new("notastore");
    let export = dir.file("export.state");
    let clock = clock_at_t0();
    Engine::builder()
        .clock(clock)
        .seed(1)
        .build()
        .save(&export)
        .unwrap();
    let before = std::fs::read(&export).unwrap();
    let e = Store::open(&export).unwrap_err();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e:?}");
    assert!(e.to_string().contains("export format"), "{e}");
    assert_eq!(std::fs::read(&export).unwrap(), before);

    let junk = dir.file("junk");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let e = Store::open(&junk).unwrap_err();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e:?}");
    assert_eq!(std::fs::read(&junk).unwrap(), vec![b'x'; 4096]);
}

#[test]
fn a_store_of_a_newer_format_is_refused() {
    let dir = Dir::new("newer");
    let path = dir.file("state.db");
    {
        let mut store = Store::open(&path).unwrap();
        let mut engine = store.load(Engine::builder().seed(1)).unwrap();
        store.commit(&mut engine).unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'format'", [])
        .unwrap();
    drop(conn);
    let e = Store::open(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: state store format 2 is newer than the supported format 1",
            path.display()
        )
    );
}

#[test]
fn rows_that_do_not_make_a_state_are_refused() {
    let dir = Dir::new("invalid");
    let path = dir.file("state.db");
    {
        let mut store = Store::open(&path).unwrap();
        let clock = clock_at_t0();
        let mut engine = store.load(Engine::builder().clock(clock).seed(1)).unwrap();
        engine
            .create(
                &CreateRequest::new("cn-hangzhou", "web")
                    .image("nginx")
                    .unwrap(),
            )
            .unwrap();
        store.commit(&mut engine).unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE caches SET record = '{\"oops\": 1}'", [])
        .unwrap();
    drop(conn);
    let mut store = Store::open(&path).unwrap();
    let e = store.load(Engine::builder()).unwrap_err();
    assert!(matches!(e, StoreError::Invalid { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!("{}: ", path.display())),
        "{e}"
    );
}

/// A save that crashed mid-write leaves its temporary file behind; the next
/// save to the same path reuses and renames it, so none accumulate.
#[test]
fn an_interrupted_export_leaves_no_lasting_temporary_file() {
    let dir = Dir::new("tmpfile");
    let export = dir.file("export.state");
    std::fs::write(dir.file(".export.state.tmp"), b"half a state from a crash").unwrap();
    let clock = clock_at_t0();
    let engine = Engine::builder().clock(clock).seed(1).build();
    engine.save(&export).unwrap();
    engine.save(&export).unwrap();
    let names: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["export.state"]);
}

/// Two runs of one cache in the same second (an instant engine, a clock
/// that does not move) draw different snapshot ids and event names.
#[test]
fn two_runs_in_one_second_draw_different_ids() {
    let clock = clock_at_t0();
    let mut engine = Engine::builder().clock(clock).seed(2).instant(true).build();
    let id = engine
        .create(
            &CreateRequest::new("cn-hangzhou", "web")
                .image("nginx:1")
                .unwrap(),
        )
        .unwrap()
        .image_cache_id;
    let snapshot = |engine: &mut Engine| {
        let page = engine
            .describe(&eci_imagecache::describe::DescribeRequest::new(
                "cn-hangzhou",
            ))
            .unwrap();
        let cache = page.image_caches[0];
        (
            cache.snapshot_id().map(str::to_owned).unwrap(),
            cache
                .events
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>(),
        )
    };
    let (first, _) = snapshot(&mut engine);
    engine
        .update(
            &UpdateRequest::new("cn-hangzhou", &id)
                .images(["nginx:2"])
                .unwrap(),
        )
        .unwrap();
    let (second, _) = snapshot(&mut engine);
    engine
        .update(
            &UpdateRequest::new("cn-hangzhou", &id)
                .images(["nginx:3"])
                .unwrap(),
        )
        .unwrap();
    let (third, names) = snapshot(&mut engine);
    assert!(
        first != second && second != third && first != third,
        "{first} {second} {third}"
    );
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
}

/// A manual clock moved back: tokens expire in the order of their times,
/// the same live and after a rebuild from the store.
#[test]
fn tokens_expire_by_time_live_and_after_a_restart() {
    let dir = Dir::new("tokens");
    let path = dir.file("state.db");
    let clock = clock_at_t0();
    let mut store = Store::open(&path).unwrap();
    let mut engine = store
        .load(Engine::builder().clock(clock.clone()).seed(5))
        .unwrap();
    let create = |engine: &mut Engine, name: &str, token: &str| {
        let r = CreateRequest::new("cn-hangzhou", name)
            .image("nginx")
            .unwrap()
            .client_token(token);
        engine.create(&r).unwrap().image_cache_id
    };
    clock.advance_secs(1000);
    create(&mut engine, "late", "token-late");
    clock.advance_secs(-1000);
    create(&mut engine, "early", "token-early");
    store.commit(&mut engine).unwrap();
    // Past the early token's 24 h, before the late one's.
    clock.advance_secs(24 * 3600 + 10);
    engine.tick();
    let rebuilt_clock = clock_at_t0();
    let mut rebuilt = store
        .load(Engine::builder().clock(rebuilt_clock.clone()))
        .unwrap();
    rebuilt_clock.set(eci_imagecache::clock::Clock::now(&clock));
    rebuilt.tick();
    assert!(rebuilt.to_bytes() == engine.to_bytes());
    // The early token is forgotten (a new cache), the late one replays.
    let again_early = create(&mut engine, "early", "token-early");
    let again_late = create(&mut engine, "late", "token-late");
    assert_eq!(create(&mut rebuilt, "early", "token-early"), again_early);
    assert_eq!(create(&mut rebuilt, "late", "token-late"), again_late);
    assert_eq!(engine.index("", "cn-hangzhou").unwrap().len(), 3);
}

/// A state of `n` workload caches in one region, written whole.
#[track_caller]
fn store_of_workload(dir: &Dir, n: usize) -> (PathBuf, Vec<String>) {
    let path = dir.file("state.db");
    let caches: Vec<_> = eci_imagecache::workload::Workload::new(7)
        .caches(n)
        .collect();
    let mut ids: Vec<String> = caches.iter().map(|c| c.id().to_owned()).collect();
    ids.sort();
    let mut engine = Engine::builder().seed(1).quota(usize::MAX).build();
    engine
        .import_all_as(eci_imagecache::engine::DEFAULT_ACCOUNT, caches)
        .unwrap();
    Store::open(&path).unwrap().replace(&mut engine).unwrap();
    (path, ids)
}

/// Runs `sql` with `params` on the store at `path`, then loads it: the
/// error it must give.
#[track_caller]
fn load_after(path: &std::path::Path, sql: &str, params: &[&String]) -> StoreError {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(sql, rusqlite::params_from_iter(params))
        .unwrap();
    drop(conn);
    let e = Store::open(path)
        .unwrap()
        .load(Engine::builder())
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid { .. }), "{e:?}");
    e
}

/// Rows are decoded on the other cores, a batch at a time: a bad row far
/// into a large state (past the first batches, while SQLite is still
/// reading) is named, and nothing loads.
#[test]
fn a_bad_row_deep_in_a_large_state_is_named() {
    let dir = Dir::new("deep");
    let (path, ids) = store_of_workload(&dir, 5000);
    let victim = &ids[3500];
    let e = load_after(
        &path,
        "UPDATE caches SET record = '{\"oops\": 1}' WHERE image_cache_id = ?1",
        &[victim],
    );
    assert!(e.to_string().contains(&format!("cache {victim}: ")), "{e}");

    // The last row of each of the first two batches invalid: both
    // decoders fail late, after SQLite has filled the channel (this once
    // left the reader waiting forever on a send no decoder took). The
    // first in row order (the table's key order: account, region, id) is
    // named, and the load ends: a thread watches it, so a hang fails the
    // test.
    let dir = Dir::new("late-bad");
    let (path, _) = store_of_workload(&dir, 9000);
    let in_order: Vec<String> = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut st = conn
            .prepare(
                "SELECT image_cache_id FROM caches \
                 ORDER BY account, region_id, image_cache_id",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let (done, finished) = std::sync::mpsc::channel();
    let watched = path.clone();
    let bad = [in_order[1023].clone(), in_order[2047].clone()];
    std::thread::spawn(move || {
        let e = load_after(
            &watched,
            "UPDATE caches SET record = '[]' WHERE image_cache_id IN (?1, ?2)",
            &[&bad[0], &bad[1]],
        );
        let _ = done.send(e.to_string());
    });
    let e = finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the load of a state with invalid rows ends");
    assert!(e.contains(&format!("cache {}: ", in_order[1023])), "{e}");

    // A row holding another cache's record.
    let dir = Dir::new("swapped");
    let (path, ids) = store_of_workload(&dir, 3000);
    let e = load_after(
        &path,
        "UPDATE caches SET record = (SELECT record FROM caches WHERE image_cache_id = ?2) \
         WHERE image_cache_id = ?1",
        &[&ids[2999], &ids[0]],
    );
    assert!(
        e.to_string().ends_with(&format!(
            "the row of cache {} holds cache {}",
            ids[2999], ids[0]
        )),
        "{e}"
    );

    // And the state loads whole when nothing is wrong.
    let dir = Dir::new("whole");
    let (path, ids) = store_of_workload(&dir, 3000);
    let engine = Store::open(&path)
        .unwrap()
        .load(Engine::builder().quota(usize::MAX))
        .unwrap();
    let mut loaded: Vec<String> = engine
        .index(eci_imagecache::engine::DEFAULT_ACCOUNT, "cn-hangzhou")
        .map(|index| index.iter().map(|c| c.id().to_owned()).collect())
        .unwrap_or_default();
    loaded.sort();
    assert_eq!(loaded, ids);
}

/// `(page_size, page_count, rows, total bytes of the rows' records)` of the
/// store at `path`.
#[track_caller]
fn pages_of(path: &std::path::Path) -> (u64, u64, u64, u64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let pragma = |name: &str| -> u64 {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap()
    };
    let (size, count) = (pragma("page_size"), pragma("page_count"));
    let (rows, bytes): (u64, u64) = conn
        .query_row(
            "SELECT count(*), sum(length(record)) FROM caches",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    (size, count, rows, bytes)
}

/// A new store takes 16 KiB pages, where a cache's row (about 1 KiB of
/// JSON) fits in its table's page: with SQLite's default 4 KiB pages, a
/// WITHOUT ROWID row of over about 1 000 bytes spilled into an overflow
/// page of its own, and the file took 3.8 KiB a cache.
#[test]
fn a_new_store_holds_a_cache_in_little_more_than_its_record() {
    let dir = Dir::new("pages");
    let (path, _) = store_of_workload(&dir, 3000);
    let (size, count, rows, bytes) = pages_of(&path);
    assert_eq!((size, rows), (16 * 1024, 3000));
    let per_cache = (size * count) as f64 / rows as f64;
    let record = bytes as f64 / rows as f64;
    assert!(
        per_cache < 1.5 * record,
        "{per_cache:.0} B a cache for records of {record:.0} B"
    );
}

/// A store written before (4 KiB pages) keeps its page size: it loads,
/// takes changes and loads them back.
#[test]
fn a_store_of_four_kib_pages_still_loads_and_takes_changes() {
    let dir = Dir::new("old-pages");
    let path = dir.file("state.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA page_size = 4096; CREATE TABLE made_before (x); DROP TABLE made_before;",
    )
    .unwrap();
    drop(conn);
    let caches: Vec<_> = eci_imagecache::workload::Workload::new(7)
        .caches(500)
        .collect();
    let mut engine = Engine::builder().seed(1).quota(usize::MAX).build();
    engine
        .import_all_as(eci_imagecache::engine::DEFAULT_ACCOUNT, caches)
        .unwrap();
    Store::open(&path).unwrap().replace(&mut engine).unwrap();
    assert_eq!(pages_of(&path).0, 4096);

    let mut store = Store::open(&path).unwrap();
    let mut loaded = store
        .load(Engine::builder().seed(1).quota(usize::MAX))
        .unwrap();
    assert_eq!(caches_of(&loaded), caches_of(&engine));
    let id = loaded
        .create(
            &CreateRequest::new("cn-hangzhou", "after")
                .image("nginx:1")
                .unwrap(),
        )
        .unwrap()
        .image_cache_id;
    store.commit(&mut loaded).unwrap();
    drop(store);
    let again = Store::open(&path)
        .unwrap()
        .load(Engine::builder().seed(1).quota(usize::MAX))
        .unwrap();
    assert_eq!(caches_of(&again), caches_of(&loaded));
    assert!(again.index("", "cn-hangzhou").unwrap().get(&id).is_some());
    assert_eq!(pages_of(&path).0, 4096);
}

/// Every cache of the default account's `cn-hangzhou`, in the index's order.
#[track_caller]
fn caches_of(engine: &Engine) -> Vec<eci_imagecache::record::ImageCache> {
    engine
        .index(eci_imagecache::engine::DEFAULT_ACCOUNT, "cn-hangzhou")
        .unwrap()
        .iter()
        .cloned()
        .collect()
}
