//! The side-by-side comparison of `shared/spec/performance.md`: every query
//! set runs on the index, the naive oracle, SQLite and the `limit` pass in
//! one run, interleaved query by query so drift on a noisy machine hits all
//! alike, and every answer is cross-checked. Benchmarks are never tests: this
//! prints figures.
//!
//! ```text
//! cargo run --release --example compare -- --caches 100000 --queries 1000        # a table of ratios
//! cargo run --release --example compare -- --caches 100000 --queries 1000 --json # one JSON object
//! ```
//!
//! Options: `--caches N` (default 100 000), `--queries Q` per set (default
//! 1 000), `--naive-queries K` and `--sqlite-queries K` (the slow baselines
//! run on the first K queries of each set, default all; they page Q5 to the
//! end on at most 5 queries), `--seed S`, `--mutations N` (R8: N creates,
//! updates and deletes each, and the fresh caches of M1; 0 skips R8 and M1),
//! `--batch N` (R9: container groups in the batch, default 10 000),
//! `--plot FILE.svg` (runs 10 000, 100 000 and 1 000 000 caches one after
//! the other with the other options, prints each table, and draws every
//! query set's median against N for the index, naive, SQLite and the
//! floor, log scales; at a million caches the naive loop is left out (its
//! build is quadratic) and SQLite's Q5 too (paging it to the end takes tens
//! of minutes)), `--page-baselines K`
//! (Q5 queries the naive loop and SQLite page to the end, default 5).
//!
//! R3 (the index against the floor): each query's first run on the index
//! (`index_ns`) against the floor run just after it (`limit_ns`), the
//! query's postings brought in before either; and, on a line of its own
//! (`index_warm_ns`, `limit_warm_ns` in `--json`), both warm, each query's
//! best of three runs in a row. A first run also pays for what the floor
//! never reads (the page's records, the scratch space, branches not yet
//! learnt), while the floor's copies were just written: the warm figures
//! put both on the same footing.
//!
//! R10 (building the engine): the import of the corpus, and loading it back
//! from a state store (`Store::replace`, then `Store::open` + `load`, what a
//! restarted `serve --state` does), against SQLite building its tables;
//! each the median of three runs (`index_build_runs_ms`,
//! `index_load_runs_ms`), as one run swings with a busy machine. R11
//! (resident memory): the RSS the engine adds per cache against the bytes
//! per cache of `gen`'s JSON for the same corpus.

use std::fmt::Write as _;
use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use eci_imagecache::automatch::AutoMatchRequest;
use eci_imagecache::clock::ManualClock;
use eci_imagecache::cursor::TokenKey;
use eci_imagecache::describe::DescribeRequest;
use eci_imagecache::engine::{
    CreateRequest, DEFAULT_ACCOUNT, DeleteRequest, Engine, UpdateRequest,
};
use eci_imagecache::index::{FloorLists, Index, Scratch};
use eci_imagecache::oracle::NaiveIndex;
use eci_imagecache::record::{CacheStatus, ImageCache};
use eci_imagecache::reference::{Reference, RegistryAliases};
use eci_imagecache::store::Store;
use eci_imagecache::workload::{QuerySet, Workload};
use rusqlite::{Connection, params_from_iter};

#[derive(Clone)]
struct Args {
    caches: usize,
    mutations: usize,
    batch: usize,
    queries: usize,
    naive_queries: Option<usize>,
    sqlite_queries: Option<usize>,
    seed: u64,
    json: bool,
    /// Draw Q1–Q6 against N (10 000, 100 000, 1 000 000) into this SVG.
    plot: Option<String>,
    /// Q5 queries the slow baselines page to the end (default 5).
    page_baselines: usize,
}

fn args() -> Args {
    let mut a = Args {
        caches: 100_000,
        mutations: 1_000,
        batch: 10_000,
        queries: 1_000,
        naive_queries: None,
        sqlite_queries: None,
        seed: 1,
        json: false,
        plot: None,
        page_baselines: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> usize {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{flag} takes a number"))
        };
        match flag.as_str() {
            "--caches" => a.caches = value(),
            "--queries" => a.queries = value(),
            "--mutations" => a.mutations = value(),
            "--batch" => a.batch = value(),
            "--naive-queries" => a.naive_queries = Some(value()),
            "--sqlite-queries" => a.sqlite_queries = Some(value()),
            "--seed" => a.seed = value() as u64,
            "--page-baselines" => a.page_baselines = value(),
            "--json" => a.json = true,
            "--plot" => a.plot = Some(it.next().expect("--plot takes a file name")),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn ns(t: Instant) -> f64 {
    t.elapsed().as_nanos() as f64
}

/// SQLite in memory, as a user would build it: a table of caches and a table
/// of (cache, repo key, exact key) with an index on each key, tags with an
/// index, and the obvious `GROUP BY` with `ORDER BY … LIMIT`.
struct Sqlite {
    db: Connection,
    rules: RegistryAliases,
    next_slot: i64,
}

impl Sqlite {
    fn new(caches: &[ImageCache], rules: RegistryAliases) -> Sqlite {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE caches (slot INTEGER PRIMARY KEY, id TEXT NOT NULL, creation INTEGER NOT NULL, ready INTEGER NOT NULL, size INTEGER NOT NULL);
             CREATE TABLE images (cache INTEGER NOT NULL, repo_key TEXT NOT NULL, exact_key TEXT NOT NULL);
             CREATE TABLE tags (cache INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);",
        )
        .unwrap();
        let tx = db.unchecked_transaction().unwrap();
        {
            let mut cache_row = tx
                .prepare("INSERT INTO caches VALUES (?1, ?2, ?3, ?4, ?5)")
                .unwrap();
            let mut image_row = tx
                .prepare("INSERT INTO images VALUES (?1, ?2, ?3)")
                .unwrap();
            let mut tag_row = tx.prepare("INSERT INTO tags VALUES (?1, ?2, ?3)").unwrap();
            for (slot, c) in caches.iter().enumerate() {
                cache_row
                    .execute((
                        slot as i64,
                        c.id(),
                        c.creation_time.as_second(),
                        (c.status == CacheStatus::Ready) as i64,
                        c.size_gib as i64,
                    ))
                    .unwrap();
                for image in c.images() {
                    let key = rules.exact_key(&image.reference());
                    image_row
                        .execute((slot as i64, key.repo(), key.as_str()))
                        .unwrap();
                }
                for t in c.tags() {
                    tag_row.execute((slot as i64, t.0, t.1)).unwrap();
                }
            }
        }
        tx.commit().unwrap();
        db.execute_batch(
            "CREATE UNIQUE INDEX caches_id ON caches (id);
             CREATE INDEX images_cache ON images (cache);
             CREATE INDEX tags_cache ON tags (cache);
             CREATE INDEX images_repo ON images (repo_key, cache, exact_key);
             CREATE INDEX images_exact ON images (exact_key, cache);
             CREATE INDEX tags_kv ON tags (key, value, cache);
             ANALYZE;",
        )
        .unwrap();
        Sqlite {
            db,
            rules,
            next_slot: caches.len() as i64,
        }
    }

    /// Adds a cache: its row, its image rows, its tag rows, in one
    /// transaction.
    fn insert(&mut self, c: &ImageCache) {
        let slot = self.next_slot;
        self.next_slot += 1;
        let tx = self.db.unchecked_transaction().unwrap();
        tx.prepare_cached("INSERT INTO caches VALUES (?1, ?2, ?3, ?4, ?5)")
            .unwrap()
            .execute((
                slot,
                c.id(),
                c.creation_time.as_second(),
                (c.status == CacheStatus::Ready) as i64,
                c.size_gib as i64,
            ))
            .unwrap();
        self.insert_keys(&tx, slot, c);
        tx.commit().unwrap();
    }

    fn insert_keys(&self, tx: &rusqlite::Transaction<'_>, slot: i64, c: &ImageCache) {
        let mut image_row = tx
            .prepare_cached("INSERT INTO images VALUES (?1, ?2, ?3)")
            .unwrap();
        for image in c.images() {
            let key = self.rules.exact_key(&image.reference());
            image_row.execute((slot, key.repo(), key.as_str())).unwrap();
        }
        let mut tag_row = tx
            .prepare_cached("INSERT INTO tags VALUES (?1, ?2, ?3)")
            .unwrap();
        for t in c.tags() {
            tag_row.execute((slot, t.0, t.1)).unwrap();
        }
    }

    /// Replaces a cache's images and tags and its status, as an update does.
    fn update(&mut self, c: &ImageCache) {
        let tx = self.db.unchecked_transaction().unwrap();
        let slot: i64 = tx
            .prepare_cached("SELECT slot FROM caches WHERE id = ?1")
            .unwrap()
            .query_row([c.id()], |r| r.get(0))
            .unwrap();
        tx.prepare_cached("UPDATE caches SET ready = ?2, size = ?3 WHERE slot = ?1")
            .unwrap()
            .execute((
                slot,
                (c.status == CacheStatus::Ready) as i64,
                c.size_gib as i64,
            ))
            .unwrap();
        tx.prepare_cached("DELETE FROM images WHERE cache = ?1")
            .unwrap()
            .execute([slot])
            .unwrap();
        tx.prepare_cached("DELETE FROM tags WHERE cache = ?1")
            .unwrap()
            .execute([slot])
            .unwrap();
        self.insert_keys(&tx, slot, c);
        tx.commit().unwrap();
    }

    /// Removes a cache and its rows.
    fn delete(&mut self, id: &str) {
        let tx = self.db.unchecked_transaction().unwrap();
        let slot: i64 = tx
            .prepare_cached("SELECT slot FROM caches WHERE id = ?1")
            .unwrap()
            .query_row([id], |r| r.get(0))
            .unwrap();
        for sql in [
            "DELETE FROM images WHERE cache = ?1",
            "DELETE FROM tags WHERE cache = ?1",
            "DELETE FROM caches WHERE slot = ?1",
        ] {
            tx.prepare_cached(sql).unwrap().execute([slot]).unwrap();
        }
        tx.commit().unwrap();
    }

    /// A query's images as distinct (exact key, repository) pairs, and
    /// the `(?n, ?n+1)` placeholders that bind them.
    fn query_keys(&self, images: &[Reference]) -> (Vec<(String, String)>, Vec<String>) {
        let mut keys: Vec<(String, String)> = images
            .iter()
            .map(|m| {
                let k = self.rules.exact_key(m);
                (k.as_str().to_owned(), k.repo().to_owned())
            })
            .collect();
        keys.sort();
        keys.dedup();
        let values = (0..keys.len())
            .map(|i| format!("(?{}, ?{})", 2 * i + 1, 2 * i + 2))
            .collect();
        (keys, values)
    }

    /// Auto-match: the best Ready cache that fits, by the ranking of
    /// section 7, as (id, F, P).
    fn auto_match(&self, g: &AutoMatchRequest) -> Option<(String, u32, u32)> {
        let (keys, values) = self.query_keys(&g.images);
        let storage = g.temporary_storage_gib;
        let sql = format!(
            "WITH q(exact, repo) AS (VALUES {}),
             per AS (SELECT i.cache AS cache, MAX(i.exact_key = q.exact) AS is_exact
                     FROM q JOIN images i ON i.repo_key = q.repo GROUP BY i.cache, q.exact),
             scored AS (SELECT cache, SUM(is_exact) AS f, COUNT(*) - SUM(is_exact) AS p FROM per GROUP BY cache)
             SELECT c.id, s.f, s.p FROM scored s JOIN caches c ON c.slot = s.cache
             WHERE c.ready = 1 AND c.size <= {storage}
             ORDER BY s.f DESC, s.p DESC, ABS({storage} - c.size) ASC, c.creation DESC, c.id ASC LIMIT 1",
            values.join(", ")
        );
        let params: Vec<String> = keys.into_iter().flat_map(|(e, r)| [e, r]).collect();
        self.db
            .prepare_cached(&sql)
            .unwrap()
            .query_row(params_from_iter(params.iter()), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .ok()
    }

    /// (ids of the page, TotalCount).
    fn describe(&self, r: &DescribeRequest, offset: usize) -> (Vec<String>, usize) {
        let mut sql = String::new();
        let mut params: Vec<String> = Vec::new();
        let limit = r.limit.map_or(-1, |l| l as i64);
        if r.match_images.is_empty() {
            sql.push_str("SELECT c.id, COUNT(*) OVER () FROM caches c WHERE 1");
            for t in &r.tags {
                let _ = write!(
                    sql,
                    " AND c.slot IN (SELECT cache FROM tags WHERE key = ?{} AND value = ?{})",
                    params.len() + 1,
                    params.len() + 2
                );
                params.push(t.key.clone());
                params.push(t.value.clone().unwrap_or_default());
            }
            let _ = write!(
                sql,
                " ORDER BY c.creation DESC, c.id ASC LIMIT {limit} OFFSET {offset}"
            );
        } else {
            let (keys, values) = self.query_keys(&r.match_images);
            let having = if r.image_full_match {
                format!("s.f = {}", keys.len())
            } else if let Some(n) = r.image_match_count_request {
                format!("s.f >= {n}")
            } else {
                "1".to_owned()
            };
            let _ = write!(
                sql,
                "WITH q(exact, repo) AS (VALUES {}),
                 per AS (SELECT i.cache AS cache, MAX(i.exact_key = q.exact) AS is_exact
                         FROM q JOIN images i ON i.repo_key = q.repo GROUP BY i.cache, q.exact),
                 scored AS (SELECT cache, SUM(is_exact) AS f, COUNT(*) - SUM(is_exact) AS p FROM per GROUP BY cache)
                 SELECT c.id, COUNT(*) OVER () FROM scored s JOIN caches c ON c.slot = s.cache
                 WHERE {having}
                 ORDER BY s.f DESC, s.p DESC, c.creation DESC, c.id ASC LIMIT {limit} OFFSET {offset}",
                values.join(", ")
            );
            for (exact, repo) in keys {
                params.push(exact);
                params.push(repo);
            }
        }
        let mut statement = self.db.prepare_cached(&sql).unwrap();
        let mut total = 0;
        let ids = statement
            .query_map(params_from_iter(params.iter()), |row| {
                total = row.get::<_, i64>(1)? as usize;
                row.get::<_, String>(0)
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (ids, total)
    }
}

fn ids(caches: &[&ImageCache]) -> Vec<String> {
    caches.iter().map(|c| c.id().to_owned()).collect()
}

struct Row {
    id: &'static str,
    index: f64,
    naive: Option<f64>,
    sqlite: Option<f64>,
    limit: Option<f64>,
    extra: Vec<(&'static str, f64)>,
}

struct Engines<'a> {
    index: &'a Index,
    naive: &'a NaiveIndex,
    sqlite: &'a Sqlite,
    naive_queries: usize,
    sqlite_queries: usize,
    /// Q5 queries the slow baselines page to the end.
    page_baselines: usize,
}

/// One query set: every engine on query i, then on query i + 1…
fn measure(id: &'static str, e: &Engines, queries: &[DescribeRequest]) -> Row {
    let mut scratch = Scratch::default();
    let mut lists = FloorLists::default();
    let (mut fast, mut slow, mut sql, mut floor) = (vec![], vec![], vec![], vec![]);
    let mut warm = Warm::default();
    for (i, q) in queries.iter().enumerate() {
        // The index and the floor are both timed with the query's postings
        // in cache (an untimed floor pass first), so neither profits from
        // the misses the other took.
        e.index.touched_postings(q, &mut scratch, &mut lists);
        let t = Instant::now();
        let page = e.index.describe_with(q, &mut scratch).unwrap();
        fast.push(ns(t));
        let (page_ids, total) = (ids(&page.image_caches), page.total_count);
        drop(page);
        let t = Instant::now();
        black_box(e.index.read_touched_postings(q, &mut scratch, &lists));
        floor.push(ns(t));
        if i < e.naive_queries {
            let t = Instant::now();
            let naive = e.naive.describe(q).unwrap();
            slow.push(ns(t));
            assert_eq!(
                (ids(&naive.image_caches), naive.total_count),
                (page_ids.clone(), total),
                "index vs naive, {id} #{i}"
            );
        }
        if i < e.sqlite_queries {
            let t = Instant::now();
            let answer = e.sqlite.describe(q, 0);
            sql.push(ns(t));
            assert_eq!(answer, (page_ids, total), "index vs sqlite, {id} #{i}");
        }
        warm.time(e.index, q, &mut scratch, &lists, |scratch| {
            e.index.describe_with(q, scratch).unwrap().total_count
        });
    }
    Row {
        id,
        index: median(&mut fast).unwrap(),
        naive: median(&mut slow),
        sqlite: median(&mut sql),
        limit: median(&mut floor),
        extra: warm.extra(),
    }
}

/// Each query's index and floor again, both warm: each the best of three
/// runs in a row. A query's first run (`index_ns`) also pays for what the
/// floor never reads (the page's records, the scratch space, branches not
/// yet learnt), while the floor reads copies just written; here both find
/// everything they read in cache.
#[derive(Default)]
struct Warm {
    index: Vec<f64>,
    limit: Vec<f64>,
}

impl Warm {
    /// Times `answer`, then the floor over `request`'s postings, which
    /// the first-run measurement already copied into `lists`.
    fn time<A>(
        &mut self,
        index: &Index,
        request: &DescribeRequest,
        scratch: &mut Scratch,
        lists: &FloorLists,
        mut answer: impl FnMut(&mut Scratch) -> A,
    ) {
        self.index
            .push(best_of_three(|| drop(black_box(answer(scratch)))));
        self.limit.push(best_of_three(|| {
            black_box(index.read_touched_postings(request, scratch, lists));
        }));
    }

    fn extra(mut self) -> Vec<(&'static str, f64)> {
        vec![
            ("index_warm_ns", median(&mut self.index).unwrap_or(0.0)),
            ("limit_warm_ns", median(&mut self.limit).unwrap_or(0.0)),
        ]
    }
}

fn best_of_three(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            ns(t)
        })
        .fold(f64::MAX, f64::min)
}

/// Q5: every page through `NextToken` (SQLite: through `OFFSET`), and one
/// unpaged query for R5.
fn measure_paging(e: &Engines, queries: &[DescribeRequest]) -> Row {
    let mut scratch = Scratch::default();
    let mut lists = FloorLists::default();
    let (mut paged, mut unpaged, mut slow, mut sql, mut floor) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (i, q) in queries.iter().enumerate() {
        let mut all = q.clone();
        all.limit = Some(u32::MAX);
        // Both timed warm, as in `measure`: the postings, entries and
        // records they read are brought in by an untimed unpaged answer
        // first (before, the pages ran cold and the unpaged answer after
        // them warm).
        e.index.touched_postings(q, &mut scratch, &mut lists);
        black_box(
            e.index
                .describe_with(&all, &mut scratch)
                .unwrap()
                .total_count,
        );
        let t = Instant::now();
        let mut r = q.clone();
        let mut seen: Vec<&ImageCache> = Vec::new();
        loop {
            let page = e.index.describe_with(&r, &mut scratch).unwrap();
            seen.extend_from_slice(&page.image_caches);
            match page.next_token {
                Some(token) => r.next_token = Some(token),
                None => break,
            }
        }
        paged.push(ns(t));
        let seen = ids(&seen);
        let t = Instant::now();
        let whole = e.index.describe_with(&all, &mut scratch).unwrap();
        unpaged.push(ns(t));
        assert_eq!(ids(&whole.image_caches), seen, "Q5 pages #{i}");
        drop(whole);
        let t = Instant::now();
        black_box(e.index.read_touched_postings(q, &mut scratch, &lists));
        floor.push(ns(t));
        // Paging to the end multiplies the slow baselines' cost by the number
        // of pages: they page at most 5 queries.
        if i < e.naive_queries.min(e.page_baselines) {
            let t = Instant::now();
            let mut r = q.clone();
            loop {
                let page = e.naive.describe(&r).unwrap();
                match page.next_token {
                    Some(token) => r.next_token = Some(token),
                    None => break,
                }
            }
            slow.push(ns(t));
        }
        if i < e.sqlite_queries.min(e.page_baselines) {
            let t = Instant::now();
            let mut offset = 0;
            let mut sql_seen = Vec::new();
            loop {
                let (page, total) = e.sqlite.describe(q, offset);
                offset += page.len();
                sql_seen.extend(page);
                if offset >= total {
                    break;
                }
            }
            sql.push(ns(t));
            assert_eq!(sql_seen, seen, "Q5 sqlite #{i}");
        }
    }
    let unpaged = median(&mut unpaged).unwrap();
    Row {
        id: "Q5",
        index: median(&mut paged).unwrap(),
        naive: median(&mut slow),
        sqlite: median(&mut sql),
        limit: median(&mut floor),
        extra: vec![("index_unpaged_ns", unpaged)],
    }
}

/// Q6: auto-match for a container group on the index, the naive oracle and
/// SQLite, and the `limit` pass over the group's posting lists.
fn measure_automatch(e: &Engines, groups: &[AutoMatchRequest]) -> Row {
    let mut scratch = Scratch::default();
    let mut lists = FloorLists::default();
    let (mut fast, mut slow, mut sql, mut floor) = (vec![], vec![], vec![], vec![]);
    let mut warm = Warm::default();
    for (i, g) in groups.iter().enumerate() {
        let mut q = DescribeRequest::new(&g.region_id);
        q.match_images = g.images.clone();
        // Both timed with the postings in cache, as in `measure`.
        e.index.touched_postings(&q, &mut scratch, &mut lists);
        let t = Instant::now();
        let best = e
            .index
            .best_match(g, &mut scratch)
            .map(|b| (b.cache.id().to_owned(), b.exact, b.partial));
        fast.push(ns(t));
        let t = Instant::now();
        black_box(e.index.read_touched_postings(&q, &mut scratch, &lists));
        floor.push(ns(t));
        if i < e.naive_queries {
            let t = Instant::now();
            let naive = e
                .naive
                .best_match(g)
                .map(|b| (b.cache.id().to_owned(), b.exact, b.partial));
            slow.push(ns(t));
            assert_eq!(naive, best, "index vs naive, Q6 #{i}");
        }
        if i < e.sqlite_queries {
            let t = Instant::now();
            let answer = e.sqlite.auto_match(g);
            sql.push(ns(t));
            assert_eq!(answer, best, "index vs sqlite, Q6 #{i}");
        }
        warm.time(e.index, &q, &mut scratch, &lists, |scratch| {
            e.index.best_match(g, scratch).map(|b| b.exact)
        });
    }
    Row {
        id: "Q6",
        index: median(&mut fast).unwrap(),
        naive: median(&mut slow),
        sqlite: median(&mut sql),
        limit: median(&mut floor),
        extra: warm.extra(),
    }
}

/// R9: a batch of auto-matches on a rayon pool of two threads against one.
fn measure_batch(engine: &mut Engine, groups: &[AutoMatchRequest]) -> Row {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let (one, two) = (pool(1), pool(2));
    let (mut single, mut double) = (vec![], vec![]);
    let mut answers = None;
    for _ in 0..5 {
        let t = Instant::now();
        let a = one.install(|| engine.auto_match_batch(groups));
        single.push(ns(t));
        let t = Instant::now();
        let b = two.install(|| engine.auto_match_batch(groups));
        double.push(ns(t));
        // Hits move caches in LRU order, not in the ranking: same answers.
        let ids = |v: &[Result<_, _>]| -> Vec<Option<String>> {
            v.iter()
                .map(|r| match r {
                    Ok(eci_imagecache::automatch::AutoMatchOutcome::Hit {
                        image_cache_id, ..
                    }) => Some(image_cache_id.clone()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(ids(&a), ids(&b), "batch on 1 and 2 threads");
        if let Some(previous) = &answers {
            assert_eq!(previous, &ids(&a));
        }
        answers = Some(ids(&a));
    }
    Row {
        id: "R9",
        index: median(&mut double).unwrap(),
        naive: None,
        sqlite: None,
        limit: None,
        extra: vec![
            ("one_thread_ns", median(&mut single).unwrap()),
            ("groups", groups.len() as f64),
        ],
    }
}

fn create_request(c: &ImageCache) -> CreateRequest {
    let mut r = CreateRequest::new(c.region_id(), c.name()).size_gib(c.size_gib);
    r.images = c.images().to_vec();
    r.tags = c.tags().to_vec();
    r.elimination_strategy = c.elimination_strategy;
    r
}

/// R8: Create, Update and Delete on the engine (100k caches) against the
/// same change in SQLite, each change timed on its own, interleaved.
fn measure_mutations(
    engine: &mut Engine,
    sqlite: &mut Sqlite,
    fresh: &[ImageCache],
    corpus: &[ImageCache],
) -> Vec<Row> {
    let (mut create, mut create_sql) = (vec![], vec![]);
    let record = |engine: &Engine, id: &str| {
        engine
            .index(DEFAULT_ACCOUNT, fresh[0].region_id())
            .unwrap()
            .get(id)
            .unwrap()
            .clone()
    };
    for c in fresh {
        let request = create_request(c);
        let t = Instant::now();
        let id = engine.create(&request).unwrap().image_cache_id;
        create.push(ns(t));
        let r = record(engine, &id);
        let t = Instant::now();
        sqlite.insert(&r);
        create_sql.push(ns(t));
    }
    let ready: Vec<&ImageCache> = corpus
        .iter()
        .filter(|c| c.status == CacheStatus::Ready)
        .take(2 * fresh.len())
        .collect();
    let (to_update, to_delete) = ready.split_at(fresh.len());
    let (mut update, mut update_sql) = (vec![], vec![]);
    for (i, c) in to_update.iter().enumerate() {
        let mut request = UpdateRequest::new(c.region_id(), c.id());
        request.images = Some(fresh[i].images().to_vec());
        let t = Instant::now();
        engine.update(&request).unwrap();
        update.push(ns(t));
        let r = record(engine, c.id());
        let t = Instant::now();
        sqlite.update(&r);
        update_sql.push(ns(t));
    }
    let (mut delete, mut delete_sql) = (vec![], vec![]);
    for c in to_delete {
        let t = Instant::now();
        engine
            .delete(&DeleteRequest::new(c.region_id(), c.id()))
            .unwrap();
        delete.push(ns(t));
        let t = Instant::now();
        sqlite.delete(c.id());
        delete_sql.push(ns(t));
    }
    [
        ("R8-create", create, create_sql),
        ("R8-update", update, update_sql),
        ("R8-delete", delete, delete_sql),
    ]
    .into_iter()
    .map(|(id, mut ours, mut theirs)| Row {
        id,
        index: median(&mut ours).unwrap(),
        naive: None,
        sqlite: median(&mut theirs),
        limit: None,
        extra: vec![],
    })
    .collect()
}

/// M1: a stream of 90 % Q1 and 10 % Create/Update/Delete on the engine, the
/// naive oracle and SQLite (the slow baselines on the first K operations);
/// mean time per operation. The query answers are cross-checked.
#[allow(clippy::too_many_arguments)]
fn measure_churn(
    engine: &mut Engine,
    naive: &mut NaiveIndex,
    sqlite: &mut Sqlite,
    queries: &[DescribeRequest],
    fresh: &[ImageCache],
    corpus: &[ImageCache],
    naive_ops: usize,
    sqlite_ops: usize,
) -> Row {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut churn = Churn {
        region: fresh[0].region_id().to_owned(),
        engine,
        naive,
        sqlite,
        with_naive: false,
        with_sql: false,
        ours: 0.0,
        slow: 0.0,
        sql: 0.0,
    };
    let mut fresh = fresh.iter();
    let mut targets = corpus
        .iter()
        .rev()
        .filter(|c| c.status == CacheStatus::Ready)
        .map(|c| c.id().to_owned());
    let mut created: Vec<String> = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        (churn.with_naive, churn.with_sql) = (i < naive_ops, i < sqlite_ops);
        match next() % 30 {
            0 => created.push(churn.create(fresh.next().expect("enough fresh caches"))),
            1 => {
                let id = targets.next().expect("enough caches");
                let other = &corpus[next() as usize % corpus.len()];
                churn.update(&id, other);
            }
            2 => {
                let id = match created.pop() {
                    Some(id) => id,
                    None => targets.next().expect("enough caches"),
                };
                churn.delete(&id);
            }
            _ => churn.describe(q, i),
        }
    }
    let mean = |total: f64, n: usize| (n > 0).then(|| total / n as f64);
    Row {
        id: "M1",
        index: mean(churn.ours, queries.len()).unwrap(),
        naive: mean(churn.slow, naive_ops.min(queries.len())),
        sqlite: mean(churn.sql, sqlite_ops.min(queries.len())),
        limit: None,
        extra: vec![],
    }
}

/// M1's three engines and their running times (ns): every operation runs
/// on the engine, and on the oracle and SQLite while they are `with_…`.
struct Churn<'a> {
    region: String,
    engine: &'a mut Engine,
    naive: &'a mut NaiveIndex,
    sqlite: &'a mut Sqlite,
    with_naive: bool,
    with_sql: bool,
    ours: f64,
    slow: f64,
    sql: f64,
}

impl Churn<'_> {
    /// Query `i`: the same page and `TotalCount` from every engine.
    fn describe(&mut self, q: &DescribeRequest, i: usize) {
        let t = Instant::now();
        let page = self.engine.describe(q).unwrap();
        self.ours += ns(t);
        let answer = (ids(&page.image_caches), page.total_count);
        if self.with_naive {
            let t = Instant::now();
            let n = self.naive.describe(q).unwrap();
            self.slow += ns(t);
            assert_eq!(
                (ids(&n.image_caches), n.total_count),
                answer,
                "M1 naive #{i}"
            );
        }
        if self.with_sql {
            let t = Instant::now();
            let s = self.sqlite.describe(q, 0);
            self.sql += ns(t);
            assert_eq!(s, answer, "M1 sqlite #{i}");
        }
    }

    /// Creates `c`; the engine's record goes to the others. Returns its id.
    fn create(&mut self, c: &ImageCache) -> String {
        let t = Instant::now();
        let id = self
            .engine
            .create(&create_request(c))
            .unwrap()
            .image_cache_id;
        self.ours += ns(t);
        let r = self.record(&id);
        self.mirror(
            |naive| drop(naive.insert(r.clone())),
            |sqlite| sqlite.insert(&r),
        );
        id
    }

    /// Gives cache `id` the images of `other`; a change the engine made
    /// goes to the others.
    fn update(&mut self, id: &str, other: &ImageCache) {
        let mut request = UpdateRequest::new(&self.region, id);
        request.images = Some(other.images().to_vec());
        let t = Instant::now();
        let changed = self.engine.update(&request).is_ok();
        self.ours += ns(t);
        if !changed {
            return;
        }
        let r = self.record(id);
        self.mirror(
            |naive| drop(naive.insert(r.clone())),
            |sqlite| sqlite.update(&r),
        );
    }

    /// Deletes cache `id` everywhere.
    fn delete(&mut self, id: &str) {
        let t = Instant::now();
        self.engine
            .delete(&DeleteRequest::new(&self.region, id))
            .unwrap();
        self.ours += ns(t);
        self.mirror(|naive| drop(naive.remove(id)), |sqlite| sqlite.delete(id));
    }

    /// A change the engine made, made on the oracle and on SQLite while
    /// they take part, each timed.
    fn mirror(&mut self, naive: impl FnOnce(&mut NaiveIndex), sqlite: impl FnOnce(&mut Sqlite)) {
        if self.with_naive {
            let t = Instant::now();
            naive(self.naive);
            self.slow += ns(t);
        }
        if self.with_sql {
            let t = Instant::now();
            sqlite(self.sqlite);
            self.sql += ns(t);
        }
    }

    /// The engine's record of cache `id`.
    fn record(&self, id: &str) -> ImageCache {
        self.engine
            .index(DEFAULT_ACCOUNT, &self.region)
            .unwrap()
            .get(id)
            .unwrap()
            .clone()
    }
}

/// R1: parse + normalise a reference against oci-spec, over the conformance
/// inputs.
fn r1() -> Row {
    let inputs: Vec<&str> = include_str!("../tests/data/reference-vectors.tsv")
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    const REPEAT: usize = 200;
    let items = (inputs.len() * REPEAT) as f64;
    let (mut ours, mut theirs) = (vec![], vec![]);
    for _ in 0..31 {
        let t = Instant::now();
        for _ in 0..REPEAT {
            for input in &inputs {
                let _ = black_box(Reference::parse(black_box(input)));
            }
        }
        ours.push(ns(t) / items);
        let t = Instant::now();
        for _ in 0..REPEAT {
            for input in &inputs {
                let _ = black_box(oci_spec::distribution::Reference::from_str(black_box(
                    input,
                )));
            }
        }
        theirs.push(ns(t) / items);
    }
    Row {
        id: "R1",
        index: median(&mut ours).unwrap(),
        naive: None,
        sqlite: None,
        limit: None,
        extra: vec![("oci_spec_ns", median(&mut theirs).unwrap())],
    }
}

/// Peak and current resident set size, from /proc (Linux).
fn rss() -> (usize, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Everything one size's run measured.
struct Report {
    caches: usize,
    queries: usize,
    naive_queries: usize,
    sqlite_queries: usize,
    rows: Vec<Row>,
    overhead_bytes: usize,
    key_text_bytes: usize,
    index_rss: usize,
    peak: usize,
    build_index: std::time::Duration,
    build_sqlite: std::time::Duration,
    load_index: std::time::Duration,
    /// Each import's and each load's time, in the order they ran;
    /// `build_index` and `load_index` are their medians.
    build_runs: Vec<std::time::Duration>,
    load_runs: Vec<std::time::Duration>,
    json_bytes: usize,
}

impl Report {
    /// Bytes a cache.
    fn per_cache(&self, bytes: usize) -> f64 {
        bytes as f64 / self.caches.max(1) as f64
    }
}

/// `gen`'s output size for a corpus: the `DescribeImageCaches` document it
/// prints, counted without being kept.
fn json_bytes(seed: u64, caches: &[ImageCache]) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Count(0);
    let head = format!(r#"{{"RequestId":"gen-{seed}","ImageCaches":["#);
    let tail = format!("],\"TotalCount\":{}}}\n", caches.len());
    for (i, c) in caches.iter().enumerate() {
        out.0 += usize::from(i > 0);
        serde_json::to_writer(
            &mut out,
            &eci_imagecache::wire::json::ImageCacheJson::from(c),
        )
        .expect("counts");
    }
    out.0 + head.len() + tail.len()
}

fn run(a: &Args, n: usize) -> Report {
    let workload = Workload::new(a.seed);
    let caches: Vec<ImageCache> = workload.caches(n).collect();
    let rules = RegistryAliases::default();

    // The engine, at the workload's "now", holds the corpus in one region's
    // index; Q1–Q6 read that index, R8, R9 and M1 go through the engine.
    let now = caches
        .iter()
        .map(|c| c.creation_time)
        .max()
        .unwrap_or_default();
    let new_engine = || engine_at(now, a.seed, &rules);
    let (mut engine, first_import, index_rss) = import_measured(&caches, &new_engine);
    let mut build_runs = vec![first_import];
    let region = caches
        .first()
        .map_or("cn-hangzhou".to_owned(), |c| c.region_id().to_owned());
    let empty = Index::new(rules.clone(), TokenKey::from_seed(a.seed));
    let index = engine.index(DEFAULT_ACCOUNT, &region).unwrap_or(&empty);
    let stats = index.stats();

    // A baseline is built only when it will answer queries (at a million
    // caches three copies of the corpus do not fit beside each other).
    let naive_queries = a.naive_queries.unwrap_or(a.queries);
    let sqlite_queries = a.sqlite_queries.unwrap_or(a.queries);
    let (mut naive, mut sqlite, build_sqlite) =
        baselines(a.seed, &rules, &caches, naive_queries, sqlite_queries);

    let engines = Engines {
        index,
        naive: &naive,
        sqlite: &sqlite,
        naive_queries,
        sqlite_queries,
        page_baselines: a.page_baselines,
    };
    let mut rows = query_rows(a, &workload, &caches, &engines);
    let Engines { .. } = engines; // the index is not read after this
    let batch = workload.container_groups(a.batch, &caches);
    rows.push(measure_batch(&mut engine, &batch));
    if a.mutations > 0 {
        let baselines = (&mut naive, &mut sqlite, naive_queries, sqlite_queries);
        rows.extend(mutation_rows(
            a,
            n,
            &workload,
            &mut engine,
            baselines,
            &caches,
        ));
    }
    rows.push(r1());
    let (peak, _) = rss();
    let json_bytes = json_bytes(a.seed, &caches);
    drop((naive, sqlite));
    // R10 from one run swings with the machine (at a million caches by a
    // second either way): two more imports, after `peak` so they do not
    // count in it; the median of the three is reported, and each run
    // printed.
    build_runs.extend(time_imports(&caches, &new_engine, 2));
    drop(caches);

    // R10's load: the engine written whole into a state store, then read
    // back as a restarted server does. After `peak`, so the second engine
    // does not count in it.
    let load_runs = time_loads(engine, n, 3);

    Report {
        caches: n,
        queries: a.queries,
        naive_queries,
        sqlite_queries,
        rows,
        overhead_bytes: stats.overhead_bytes,
        key_text_bytes: stats.key_text_bytes,
        index_rss,
        peak,
        build_index: middle(&build_runs),
        build_sqlite,
        load_index: middle(&load_runs),
        build_runs,
        load_runs,
        json_bytes,
    }
}

/// R10's first import and R11's RSS: a new engine importing copies of
/// `caches` (made before the clock starts: SQLite reads the same records
/// in place), with the time it took and the RSS it added, copies included.
fn import_measured(
    caches: &[ImageCache],
    new_engine: &dyn Fn() -> Engine,
) -> (Engine, Duration, usize) {
    let before = rss().1;
    let copies = caches.to_vec();
    let t = Instant::now();
    let mut engine = new_engine();
    engine.import_all_as(DEFAULT_ACCOUNT, copies).unwrap();
    let took = t.elapsed();
    (engine, took, rss().1.saturating_sub(before))
}

/// The naive oracle holding `caches` when it answers queries, and SQLite
/// holding them when it does (else empty), with SQLite's build time.
fn baselines(
    seed: u64,
    rules: &RegistryAliases,
    caches: &[ImageCache],
    naive_queries: usize,
    sqlite_queries: usize,
) -> (NaiveIndex, Sqlite, Duration) {
    let mut naive = NaiveIndex::new(rules.clone(), TokenKey::from_seed(seed));
    if naive_queries > 0 {
        for c in caches {
            naive.insert(c.clone());
        }
    }
    let t = Instant::now();
    let chosen: &[ImageCache] = if sqlite_queries > 0 { caches } else { &[] };
    let sqlite = Sqlite::new(chosen, rules.clone());
    (naive, sqlite, t.elapsed())
}

/// An engine at the workload's "now" with no quota and no page cap (Q5's
/// one unpaged answer needs the cap lifted; the workload's queries all ask
/// for 20).
fn engine_at(now: jiff::Timestamp, seed: u64, rules: &RegistryAliases) -> Engine {
    Engine::builder()
        .clock(ManualClock::new(now))
        .seed(seed)
        .quota(usize::MAX)
        .page_cap(u32::MAX)
        .aliases(rules.clone())
        .build()
}

/// Q1 to Q6, each on its own query set from the workload.
fn query_rows(a: &Args, workload: &Workload, caches: &[ImageCache], engines: &Engines) -> Vec<Row> {
    let set = |s| workload.queries(s, a.queries, caches);
    let mut rows = vec![
        measure("Q1", engines, &set(QuerySet::Match)),
        measure("Q2", engines, &set(QuerySet::FullMatch)),
        measure("Q3", engines, &set(QuerySet::MatchCount)),
        measure("Q4", engines, &set(QuerySet::Tags)),
        measure_paging(engines, &set(QuerySet::Page)),
    ];
    let groups = workload.container_groups(a.queries, caches);
    rows.push(measure_automatch(engines, &groups));
    rows
}

/// R8 (Create, Update, Delete against SQLite, when SQLite answers) and M1
/// (a churn of queries and changes), on caches the workload makes after
/// the corpus; between the two, the oracle is rebuilt to hold what the
/// engine then holds.
fn mutation_rows(
    a: &Args,
    n: usize,
    workload: &Workload,
    engine: &mut Engine,
    (naive, sqlite, naive_queries, sqlite_queries): (&mut NaiveIndex, &mut Sqlite, usize, usize),
    caches: &[ImageCache],
) -> Vec<Row> {
    let mut rows = Vec::new();
    let fresh: Vec<ImageCache> = workload
        .caches(n + 2 * a.mutations + a.queries)
        .skip(n)
        .collect();
    let (for_r8, for_m1) = fresh.split_at(a.mutations);
    if sqlite_queries > 0 {
        rows.extend(measure_mutations(engine, sqlite, for_r8, caches));
    }
    let churn = workload.queries(QuerySet::Match, a.queries, caches);
    let naive_ops = if naive_queries > 0 {
        naive_queries * 10 / 9
    } else {
        0
    };
    let sqlite_ops = if sqlite_queries > 0 {
        sqlite_queries * 10 / 9
    } else {
        0
    };
    if naive_ops > 0 {
        // The oracle holds what the engine holds now.
        let region = caches.first().map_or("cn-hangzhou", |c| c.region_id());
        *naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(a.seed));
        for c in engine.index(DEFAULT_ACCOUNT, region).unwrap().iter() {
            naive.insert(c.clone());
        }
    }
    rows.push(measure_churn(
        engine,
        naive,
        sqlite,
        &churn,
        for_m1,
        &caches[caches.len() / 2..],
        naive_ops,
        sqlite_ops,
    ));
    rows
}

/// R10's import, `runs` more times: each into an engine of its own, the
/// first engine still held, so these imports do not land in the heap that
/// R8's, R9's and M1's changes left behind it (run after it was dropped,
/// they took 7 234 and 7 290 ms at a million caches against the first's
/// 5 457). The machine needs room for two engines and two copies of the
/// corpus (about 3.5 GiB at a million).
fn time_imports(
    caches: &[ImageCache],
    new_engine: &dyn Fn() -> Engine,
    runs: usize,
) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let copies = caches.to_vec();
            let t = Instant::now();
            let mut again = new_engine();
            again.import_all_as(DEFAULT_ACCOUNT, copies).unwrap();
            let took = t.elapsed();
            drop(again);
            took
        })
        .collect()
}

/// R10's load: `engine` written whole into a state store, dropped, then
/// read back `runs` times as a restarted server does.
fn time_loads(mut engine: Engine, n: usize, runs: usize) -> Vec<Duration> {
    let path = std::env::temp_dir().join(format!("eci-compare-{}-{n}.db", std::process::id()));
    let remove = |path: &std::path::Path| {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    };
    remove(&path);
    let mut store = Store::open(&path).expect("a temporary store");
    store
        .replace(&mut engine)
        .expect("the store takes the engine");
    drop(store);
    drop(engine);
    let load_runs = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let mut store = Store::open(&path).expect("the store opens again");
            let loaded = store
                .load(Engine::builder().quota(usize::MAX).page_cap(u32::MAX))
                .expect("the store loads");
            let took = t.elapsed();
            drop((loaded, store));
            took
        })
        .collect();
    remove(&path);
    load_runs
}

/// Whole milliseconds, comma-separated (a JSON array's insides).
fn millis(runs: &[std::time::Duration]) -> String {
    runs.iter()
        .map(|d| d.as_millis().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The median of three (or any odd number of) durations.
fn middle(runs: &[std::time::Duration]) -> std::time::Duration {
    let mut sorted = runs.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn main() {
    let a = args();
    if let Some(path) = &a.plot {
        let reports: Vec<Report> = [10_000, 100_000, 1_000_000]
            .into_iter()
            .map(|n| {
                // Paging Q5 to the end on the naive loop and SQLite takes
                // tens of minutes at a million caches: their Q5 points stop
                // at 100 000.
                let mut a = Args {
                    plot: None,
                    ..a.clone()
                };
                if n >= 1_000_000 {
                    a.page_baselines = 0;
                    // The oracle's insert replaces by id with a scan:
                    // quadratic to build at a million.
                    a.naive_queries = Some(0);
                }
                let r = run(&a, n);
                print_table(&r);
                println!();
                r
            })
            .collect();
        plot(path, &reports);
        println!("drew {path}");
        return;
    }
    let r = run(&a, a.caches);
    if a.json {
        print_json(&r);
    } else {
        print_table(&r);
    }
}

fn print_json(r: &Report) {
    let Report {
        rows,
        peak,
        build_index,
        build_sqlite,
        ..
    } = r;
    let per_cache = |bytes: usize| r.per_cache(bytes);
    let mut out = format!(r#"{{"caches":{},"rows":["#, r.caches);
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, r#"{{"id":"{}","index_ns":{:.0}"#, r.id, r.index);
        for (name, v) in [
            ("naive_ns", r.naive),
            ("sqlite_ns", r.sqlite),
            ("limit_ns", r.limit),
        ] {
            if let Some(v) = v {
                let _ = write!(out, r#","{name}":{v:.0}"#);
            }
        }
        for (name, v) in &r.extra {
            let _ = write!(out, r#","{name}":{v:.1}"#);
        }
        out.push('}');
    }
    let _ = write!(
        out,
        r#",{{"id":"memory","index_overhead_bytes_per_cache":{:.1},"index_key_text_bytes_per_cache":{:.1},"index_rss_bytes_per_cache":{:.1},"peak_rss_bytes":{peak},"index_build_ms":{},"sqlite_build_ms":{},"index_load_ms":{},"json_bytes_per_cache":{:.1},"index_build_runs_ms":[{}],"index_load_runs_ms":[{}]}}]}}"#,
        per_cache(r.overhead_bytes),
        per_cache(r.key_text_bytes),
        per_cache(r.index_rss),
        build_index.as_millis(),
        build_sqlite.as_millis(),
        r.load_index.as_millis(),
        per_cache(r.json_bytes),
        millis(&r.build_runs),
        millis(&r.load_runs),
    );
    println!("{out}");
}

fn print_table(r: &Report) {
    println!(
        "{} caches, {} queries per set (naive on {}, sqlite on {}); medians in µs (M1: means per operation)",
        r.caches, r.queries, r.naive_queries, r.sqlite_queries
    );
    println!(
        "{:<4} {:>10} {:>10} {:>10} {:>10} {:>11} {:>11} {:>11}",
        "set", "index", "naive", "sqlite", "limit", "naive/idx", "sqlite/idx", "idx/limit"
    );
    for row in &r.rows {
        print_row(row);
    }
    print_memory_and_builds(r);
}

/// Nanoseconds as µs with two decimals, or `-`.
fn us(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{:.2}", v / 1000.0))
}

/// `a / b` as `N.Nx`, or `-`.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}x", a / b),
        _ => "-".to_owned(),
    }
}

/// One row of the table: a query set with its warm and paging lines, or
/// R9's, R8's or R1's line of its own.
fn print_row(r: &Row) {
    if r.id == "R9" {
        let one = r.extra[0].1;
        println!(
            "R9   {:.0} auto-matches in a batch: 1 thread {:.2} ms, 2 threads {:.2} ms: {:.2}x (target >= 1.7x)",
            r.extra[1].1,
            one / 1e6,
            r.index / 1e6,
            one / r.index
        );
        return;
    }
    if r.id.starts_with("R8") {
        println!(
            "{:<9} engine {:>8} µs, sqlite {:>8} µs: {} (target >= 5x)",
            r.id,
            us(Some(r.index)),
            us(r.sqlite),
            ratio(r.sqlite, Some(r.index)),
        );
        return;
    }
    if r.id == "R1" {
        let oci = r.extra[0].1;
        println!(
            "R1   parse {:.1} ns vs oci-spec {:.1} ns: {:.1}x (target >= 10x)",
            r.index,
            oci,
            oci / r.index
        );
        return;
    }
    println!(
        "{:<4} {:>10} {:>10} {:>10} {:>10} {:>11} {:>11} {:>11}",
        r.id,
        us(Some(r.index)),
        us(r.naive),
        us(r.sqlite),
        us(r.limit),
        ratio(r.naive, Some(r.index)),
        ratio(r.sqlite, Some(r.index)),
        ratio(Some(r.index), r.limit),
    );
    let extra = |name: &str| r.extra.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
    if let (Some(index), Some(limit)) = (extra("index_warm_ns"), extra("limit_warm_ns"))
        && limit > 0.0
    {
        println!(
            "     warm, each query's best of 3 on both: index {:.2} µs, limit {:.2} µs: {:.1}x",
            index / 1000.0,
            limit / 1000.0,
            index / limit
        );
    }
    if let Some(unpaged) = extra("index_unpaged_ns") {
        println!(
            "     Q5 all pages / one unpaged query: {:.2}x (target <= 2x)",
            r.index / unpaged
        );
    }
}

/// The memory line, the builds, R10 and R11.
fn print_memory_and_builds(r: &Report) {
    let per_cache = |bytes: usize| r.per_cache(bytes);
    println!(
        "memory: index overhead {:.1} B/cache (target <= 250 at 1M), key text {:.1} B/cache, index RSS {:.1} B/cache, peak RSS {:.1} MiB",
        per_cache(r.overhead_bytes),
        per_cache(r.key_text_bytes),
        per_cache(r.index_rss),
        r.peak as f64 / (1 << 20) as f64
    );
    let (build_index, build_sqlite) = (&r.build_index, &r.build_sqlite);
    println!("build: index {build_index:.2?}, sqlite {build_sqlite:.2?}");
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let sqlite_part = if r.sqlite_queries > 0 {
        format!(
            ", sqlite {:.0} ms: sqlite/import {:.2}x, sqlite/load {:.2}x (target >= 2x at 100k)",
            ms(build_sqlite),
            ms(build_sqlite) / ms(build_index),
            ms(build_sqlite) / ms(&r.load_index)
        )
    } else {
        String::new()
    };
    let runs = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.0}", ms(d)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "R10  build the engine: import {:.0} ms (median of {}), load from a state store {:.0} ms (median of {}){sqlite_part}; 1M/100k <= 12x across runs",
        ms(build_index),
        runs(&r.build_runs),
        ms(&r.load_index),
        runs(&r.load_runs),
    );
    println!(
        "R11  RSS the engine adds {:.1} B/cache vs gen's JSON {:.1} B/cache: {:.2}x (target <= 1.5x at 1M)",
        per_cache(r.index_rss),
        per_cache(r.json_bytes),
        r.index_rss as f64 / r.json_bytes.max(1) as f64
    );
}

/// (label, colour, (caches, µs) points): one engine's line in a panel.
type Series = (&'static str, plotters::style::RGBColor, Vec<(f64, f64)>);

/// Each query set's median against N, log scales: the index, the naive
/// loop, SQLite and the floor (`limit`), one panel per set.
fn plot(path: &str, reports: &[Report]) {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (1200, 760)).into_drawing_area();
    root.fill(&WHITE).expect("draws");
    let (title, panels) = root.split_vertically(40);
    title
        .titled(
            "Median time per query (µs) against the number of caches; log scales",
            ("sans-serif", 20),
        )
        .expect("draws");
    let sets = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"];
    let names = [
        "Q1 match",
        "Q2 full match",
        "Q3 match count",
        "Q4 tags",
        "Q5 all pages",
        "Q6 auto-match",
    ];
    for ((panel, set), name) in panels.split_evenly((2, 3)).iter().zip(sets).zip(names) {
        draw_panel(panel, name, series_of(reports, set));
    }
    root.present().expect("the SVG is written");
}

/// The lines of one query set's panel: each engine's medians, in µs, at
/// each report's number of caches.
fn series_of(reports: &[Report], set: &str) -> Vec<Series> {
    use plotters::style::RGBColor;
    // (label, colour, the figure of a row)
    type Figure = (&'static str, RGBColor, fn(&Row) -> Option<f64>);
    let engines: [Figure; 4] = [
        ("index", RGBColor(0x1f, 0x77, 0xb4), |r| Some(r.index)),
        ("naive", RGBColor(0xd6, 0x27, 0x28), |r| r.naive),
        ("sqlite", RGBColor(0x2c, 0xa0, 0x2c), |r| r.sqlite),
        ("floor", RGBColor(0x7f, 0x7f, 0x7f), |r| r.limit),
    ];
    engines
        .iter()
        .map(|(label, color, pick)| {
            let points = reports
                .iter()
                .filter_map(|rep| {
                    let row = rep.rows.iter().find(|r| r.id == set)?;
                    Some((rep.caches as f64, pick(row)? / 1000.0))
                })
                .filter(|&(_, y)| y > 0.0)
                .collect();
            (*label, *color, points)
        })
        .collect()
}

/// One panel: log scales fitted to the series, a line and points each,
/// and a legend.
fn draw_panel<DB: plotters::prelude::DrawingBackend>(
    panel: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    name: &str,
    series: Vec<Series>,
) {
    use plotters::prelude::*;
    let ys = series.iter().flat_map(|s| s.2.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (lo, hi) = if lo <= hi {
        (lo / 2.0, hi * 2.0)
    } else {
        (0.1, 10.0)
    };
    let mut chart = ChartBuilder::on(panel)
        .caption(name, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d((5_000f64..2_000_000f64).log_scale(), (lo..hi).log_scale())
        .expect("draws");
    chart
        .configure_mesh()
        .x_desc("caches")
        .y_desc("µs")
        .x_label_formatter(&|x| match *x as u64 {
            n if n >= 1_000_000 => format!("{}M", n / 1_000_000),
            n if n >= 1_000 => format!("{}k", n / 1_000),
            n => n.to_string(),
        })
        .draw()
        .expect("draws");
    for (label, color, points) in series {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .expect("draws")
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .expect("draws");
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .expect("draws");
}
