//! Profiling aid: runs one query set on the index in a loop (no baselines),
//! then each query beside the floor (best of three each, both warm).
//! `cargo run --release --example profile_query -- Q1 100000` (Q1–Q6);
//! with `PROFILE_BUILD=1`, only the bulk build, three times; `PROFILE_LOOPS=N`
//! runs the set N times (5 by default). Q5 times every
//! page to the end against one unpaged answer (R5), and a page's fixed cost.

use eci_imagecache::automatch::AutoMatchRequest;
use eci_imagecache::cursor::TokenKey;
use eci_imagecache::describe::DescribeRequest;
use eci_imagecache::index::{FloorLists, Index, Scratch};
use eci_imagecache::record::ImageCache;
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::workload::{QuerySet, Workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_default();
    let set = match name.as_str() {
        "Q2" => QuerySet::FullMatch,
        "Q3" => QuerySet::MatchCount,
        "Q4" => QuerySet::Tags,
        "Q5" => QuerySet::Page,
        _ => QuerySet::Match,
    };
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let workload = Workload::new(1);
    let caches: Vec<_> = workload.caches(n).collect();
    let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
    let copies: Vec<_> = caches.to_vec();
    let t = std::time::Instant::now();
    index.extend(copies);
    println!("extend: {:?} for {n} caches", t.elapsed());
    if std::env::var_os("PROFILE_STATS").is_some() {
        println!("{:?}", index.stats());
        return;
    }
    if std::env::var_os("PROFILE_BUILD").is_some() {
        return builds(&caches);
    }
    let mut scratch = Scratch::default();
    if name == "Q6" {
        let groups = workload.container_groups(1000, &caches);
        return auto_match(&index, &groups, &mut scratch);
    }
    let queries = workload.queries(set, 1000, &caches);
    if set == QuerySet::Page {
        return paging(&mut index, &queries, &mut scratch);
    }
    loops(&index, set, &queries, &mut scratch);
    beside_the_floor(&index, &caches, &queries, &mut scratch);
}

/// Profiles building alone: builds again and again from copies.
fn builds(caches: &[ImageCache]) {
    for _ in 0..3 {
        let copies: Vec<_> = caches.to_vec();
        let mut again = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
        let t = std::time::Instant::now();
        again.extend(copies);
        println!("extend: {:?}", t.elapsed());
    }
}

/// Q6: auto-match for the groups twenty times over, then each group's best
/// of three beside the floor.
fn auto_match(index: &Index, groups: &[AutoMatchRequest], scratch: &mut Scratch) {
    let mut lists = FloorLists::default();
    let t = std::time::Instant::now();
    let mut found = 0;
    for _ in 0..20 {
        for g in groups {
            found += usize::from(index.best_match(g, scratch).is_some());
        }
    }
    println!("{:?} per query, {found} found", t.elapsed() / 20_000);
    let (mut index_ns, mut floor_ns) = (Vec::new(), Vec::new());
    let mut sum = 0usize;
    for g in groups {
        let mut q = DescribeRequest::new(&g.region_id);
        q.match_images = g.images.clone();
        index_ns.push(best_of_three(&mut || {
            sum += index
                .best_match(g, scratch)
                .map_or(0, |b| b.cache.id().len())
        }));
        index.touched_postings(&q, scratch, &mut lists);
        floor_ns.push(best_of_three(&mut || {
            sum += index.read_touched_postings(&q, scratch, &lists) as usize
        }));
    }
    index_ns.sort_by(f64::total_cmp);
    floor_ns.sort_by(f64::total_cmp);
    println!(
        "Q6 median index {:.2} µs, floor {:.2} µs ({sum})",
        index_ns[500] / 1e3,
        floor_ns[500] / 1e3
    );
}

/// The set `PROFILE_LOOPS` times (5 by default), for perf; with
/// `PROFILE_FIRST=1` each query's postings brought in first, as `compare`
/// times a query, so a profile shows a first run's costs.
fn loops(index: &Index, set: QuerySet, queries: &[DescribeRequest], scratch: &mut Scratch) {
    let mut lists = FloorLists::default();
    let t = std::time::Instant::now();
    let mut results = 0;
    let mut totals = 0;
    let loops: usize = std::env::var("PROFILE_LOOPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let first = std::env::var_os("PROFILE_FIRST").is_some();
    for _ in 0..loops {
        for q in queries {
            if first {
                index.touched_postings(q, scratch, &mut lists);
            }
            // Q5 pages to the end; the others answer their first page.
            let mut q = q.clone();
            loop {
                let page = index.describe_with(&q, scratch).unwrap();
                results += page.image_caches.len();
                totals += page.total_count;
                match page.next_token {
                    Some(token) if set == QuerySet::Page => q.next_token = Some(token),
                    _ => break,
                }
            }
        }
    }
    let elapsed = t.elapsed();
    println!(
        "{:?} per query, {results} results, {} TotalCount a query",
        elapsed / (loops as u32 * 1000),
        totals / (loops * 1000)
    );
}

/// The floor on the same queries, side by side: each query's best of three
/// on the index and on the floor, so noise spares the ratio; and each
/// query's first run, as `compare` times it (its postings brought in
/// first, its branches not yet learnt).
fn beside_the_floor(
    index: &Index,
    caches: &[ImageCache],
    queries: &[DescribeRequest],
    scratch: &mut Scratch,
) {
    let mut lists = FloorLists::default();
    let mut ratios = Vec::new();
    let (mut index_ns, mut floor_ns) = (Vec::new(), Vec::new());
    let mut sum = 0u64;
    let mut first_ns = Vec::new();
    // PROFILE_TWIN=1 (an experiment): each query first answered by a twin
    // of the index (same records, other memory), so a first run finds its
    // branches learnt but its records cold.
    let twin = std::env::var_os("PROFILE_TWIN").map(|_| {
        let mut twin = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
        twin.extend(caches.to_vec());
        twin
    });
    for q in queries {
        if let Some(twin) = &twin {
            sum = sum.wrapping_add(twin.describe_with(q, scratch).unwrap().total_count as u64);
        }
        index.touched_postings(q, scratch, &mut lists);
        first_ns.push(best_of_one(&mut || {
            sum = sum.wrapping_add(index.describe_with(q, scratch).unwrap().total_count as u64)
        }));
        let a = best_of_three(&mut || {
            sum = sum.wrapping_add(index.describe_with(q, scratch).unwrap().total_count as u64)
        });
        let b = best_of_three(&mut || {
            sum = sum.wrapping_add(index.read_touched_postings(q, scratch, &lists))
        });
        index_ns.push(a);
        floor_ns.push(b);
        ratios.push(a / b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let floor = median(&mut floor_ns);
    println!(
        "median index {:.2} µs, floor {:.2} µs, median ratio {:.1}x; a first run {:.2} µs ({sum})",
        median(&mut index_ns) / 1e3,
        floor / 1e3,
        median(&mut ratios),
        median(&mut first_ns) / 1e3,
    );
}

/// R5 side by side, each query's best of three: all its pages of 50 against
/// one unpaged answer; then the fixed cost of a page, the second page of
/// one cache (a token read, one cache, a token made).
fn paging(index: &mut Index, queries: &[DescribeRequest], scratch: &mut Scratch) {
    index.set_page_cap(u32::MAX);
    let (mut paged, mut unpaged, mut fixed) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = 0usize;
    for q in queries {
        paged.push(best_of_three(&mut || {
            let mut q = q.clone();
            loop {
                let page = index.describe_with(&q, scratch).unwrap();
                seen += page.image_caches.len();
                match page.next_token {
                    Some(token) => q.next_token = Some(token),
                    None => break,
                }
            }
        }));
        let mut all = q.clone();
        all.limit = Some(u32::MAX);
        unpaged.push(best_of_three(&mut || {
            seen += index
                .describe_with(&all, scratch)
                .unwrap()
                .image_caches
                .len();
        }));
        let mut second = q.clone();
        second.limit = Some(1);
        second.next_token = index.describe_with(&second, scratch).unwrap().next_token;
        fixed.push(
            best_of_three(&mut || {
                for _ in 0..100 {
                    seen += index
                        .describe_with(&second, scratch)
                        .unwrap()
                        .image_caches
                        .len();
                }
            }) / 100.0,
        );
    }
    for v in [&mut paged, &mut unpaged, &mut fixed] {
        v.sort_by(f64::total_cmp);
    }
    let mid = queries.len() / 2;
    println!(
        "Q5 median all pages {:.1} µs, unpaged {:.1} µs: {:.2}x; a page's fixed cost {:.0} ns ({seen})",
        paged[mid] / 1e3,
        unpaged[mid] / 1e3,
        paged[mid] / unpaged[mid],
        fixed[mid]
    );
}

/// One run, in nanoseconds.
fn best_of_one(f: &mut dyn FnMut()) -> f64 {
    let t = std::time::Instant::now();
    f();
    t.elapsed().as_nanos() as f64
}

/// The fastest of three runs, in nanoseconds.
fn best_of_three(f: &mut dyn FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_nanos() as f64
        })
        .fold(f64::MAX, f64::min)
}
