//! Profiling aid: imports N workload caches into an engine, then creates,
//! updates and deletes K caches, printing the mean time of each.
//! `cargo run --release --example profile_mutations -- N K`

use std::time::Instant;

use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{
    CreateRequest, DEFAULT_ACCOUNT, DeleteRequest, Engine, UpdateRequest,
};
use eci_imagecache::record::{CacheStatus, ImageCache};
use eci_imagecache::workload::Workload;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().unwrap());
    let n = args.next().unwrap_or(100_000);
    let k = args.next().unwrap_or(20_000);
    let only = std::env::args().nth(3).unwrap_or_default();
    let workload = Workload::new(1);
    let all: Vec<ImageCache> = workload.caches(n + k).collect();
    let (corpus, fresh) = all.split_at(n);
    let clock = ManualClock::new(corpus.iter().map(|c| c.creation_time).max().unwrap());
    let mut engine = Engine::builder()
        .clock(clock)
        .seed(1)
        .quota(usize::MAX)
        .build();
    for c in corpus {
        engine.import_as(DEFAULT_ACCOUNT, c.clone()).unwrap();
    }
    let t = Instant::now();
    for c in fresh.iter().filter(|_| only.is_empty() || only == "create") {
        let mut r = CreateRequest::new(&c.region_id, &c.name).size_gib(c.size_gib);
        r.images = c.images.clone();
        r.tags = c.tags.clone();
        engine.create(&r).unwrap();
    }
    println!(
        "create {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / k as f64
    );
    let ready: Vec<&ImageCache> = corpus
        .iter()
        .filter(|c| c.status == CacheStatus::Ready)
        .take(2 * k)
        .collect();
    let t = Instant::now();
    for (i, c) in ready[..k]
        .iter()
        .enumerate()
        .filter(|_| only.is_empty() || only == "update")
    {
        let mut r = UpdateRequest::new(&c.region_id, &c.id);
        r.images = Some(fresh[i].images.clone());
        let _ = engine.update(&r);
    }
    println!(
        "update {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / k as f64
    );
    let t = Instant::now();
    for c in ready[k..]
        .iter()
        .filter(|_| only.is_empty() || only == "delete")
    {
        engine
            .delete(&DeleteRequest::new(&c.region_id, &c.id))
            .unwrap();
    }
    println!(
        "delete {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / k as f64
    );
}
