//! Profiling aid: runs one query set on the index in a loop (no baselines).
//! `cargo run --release --example profile_query -- Q1 100000`

use eci_imagecache::cursor::TokenKey;
use eci_imagecache::index::{Index, Scratch};
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::workload::{QuerySet, Workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let set = match args.next().as_deref() {
        Some("Q2") => QuerySet::FullMatch,
        Some("Q3") => QuerySet::MatchCount,
        Some("Q4") => QuerySet::Tags,
        Some("Q5") => QuerySet::Page,
        _ => QuerySet::Match,
    };
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let workload = Workload::new(1);
    let caches: Vec<_> = workload.caches(n).collect();
    let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
    for c in &caches {
        index.insert(c.clone());
    }
    let queries = workload.queries(set, 1000, &caches);
    let mut scratch = Scratch::default();
    let t = std::time::Instant::now();
    let mut results = 0;
    for _ in 0..5 {
        for q in &queries {
            // Q5 pages to the end; the others answer their first page.
            let mut q = q.clone();
            loop {
                let page = index.describe_with(&q, &mut scratch).unwrap();
                results += page.image_caches.len();
                match page.next_token {
                    Some(token) if set == QuerySet::Page => q.next_token = Some(token),
                    _ => break,
                }
            }
        }
    }
    println!("{:?} per query, {results} results", t.elapsed() / 5000);
}
