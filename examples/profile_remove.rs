//! Profiling aid: the index's own insert and remove against the engine's.
use std::time::Instant;

use eci_imagecache::cursor::TokenKey;
use eci_imagecache::index::Index;
use eci_imagecache::record::ImageCache;
use eci_imagecache::reference::RegistryAliases;
use eci_imagecache::workload::Workload;

fn main() {
    let n = 100_000;
    let k = 10_000;
    let all: Vec<ImageCache> = Workload::new(1).caches(n).collect();
    let mut index = Index::new(RegistryAliases::default(), TokenKey::from_seed(1));
    let t = Instant::now();
    for c in &all {
        index.insert(c.clone());
    }
    println!(
        "build {:.2?}, overhead {:.1} B/cache",
        t.elapsed(),
        index.stats().overhead_bytes as f64 / n as f64
    );
    let victims: Vec<String> = all
        .iter()
        .step_by(n / k)
        .map(|c| c.id().to_owned())
        .collect();
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut removed = Vec::new();
        for id in &victims {
            removed.push(index.remove(id).unwrap());
        }
        println!(
            "remove {:.2} µs",
            t.elapsed().as_secs_f64() * 1e6 / victims.len() as f64
        );
        let t = Instant::now();
        for c in removed {
            index.insert(c);
        }
        println!(
            "insert (random times) {:.2} µs",
            t.elapsed().as_secs_f64() * 1e6 / victims.len() as f64
        );
    }
    std::process::exit(0);
}
