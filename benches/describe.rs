//! The query sets of `performance.md` (Q1–Q5) on the index and the naive
//! oracle, over the seeded workload. `examples/compare.rs` prints the full
//! side-by-side table with SQLite and the `limit` floor; these benches are
//! the micro view of the same queries. The index pages Q5 to the end; the
//! naive oracle reads only the first page of each query (paging it to the
//! end would take minutes).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eci_imagecache::cursor::TokenKey;
use eci_imagecache::index::{Index, Scratch};
use eci_imagecache::oracle::NaiveIndex;
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::workload::{QuerySet, Workload};

const CACHES: usize = 20_000;
const QUERIES: usize = 100;

fn describe(c: &mut Criterion) {
    let workload = Workload::new(1);
    let caches: Vec<_> = workload.caches(CACHES).collect();
    let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
    let mut naive = NaiveIndex::new(RegistryAliases::default(), TokenKey::from_seed(1));
    for cache in &caches {
        index.insert(cache.clone());
        naive.insert(cache.clone());
    }
    for (name, set) in [
        ("Q1 match", QuerySet::Match),
        ("Q2 full", QuerySet::FullMatch),
        ("Q3 count", QuerySet::MatchCount),
        ("Q4 tags", QuerySet::Tags),
        ("Q5 page", QuerySet::Page),
    ] {
        let queries = workload.queries(set, QUERIES, &caches);
        let mut group = c.benchmark_group(format!("describe/{name}"));
        group.throughput(Throughput::Elements(QUERIES as u64));
        group.sample_size(20);
        group.bench_function("index", |b| {
            let mut scratch = Scratch::default();
            b.iter(|| {
                for q in &queries {
                    let mut r = q.clone();
                    // Q5 pages to the end; the others read one page.
                    loop {
                        let page = index.describe_with(black_box(&r), &mut scratch).unwrap();
                        match page.next_token {
                            Some(token) if set == QuerySet::Page => r.next_token = Some(token),
                            _ => break,
                        }
                    }
                }
            })
        });
        group.bench_function("naive", |b| {
            b.iter(|| {
                for q in &queries {
                    black_box(naive.describe(black_box(q)).unwrap());
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, describe);
criterion_main!(benches);
