//! Profiling aid: imports N workload caches into an engine, then creates,
//! updates and deletes K caches, printing the median and mean time of each.
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
    engine
        .import_all_as(DEFAULT_ACCOUNT, corpus.to_vec())
        .unwrap();
    // PROFILE_EVICT=1: 8 MiB read between two changes (untimed), so each
    // change finds the caches as `compare` leaves them (SQLite's change
    // between two of ours).
    let evict = std::env::var_os("PROFILE_EVICT").map(|_| vec![1u64; 1 << 20]);
    let mut spoil = 0u64;
    let mut cool = || {
        if let Some(evict) = &evict {
            spoil = spoil.wrapping_add(evict.iter().sum::<u64>());
        }
    };
    let mut times = Vec::new();
    for c in fresh.iter().filter(|_| only.is_empty() || only == "create") {
        cool();
        let mut r = CreateRequest::new(c.region_id(), c.name()).size_gib(c.size_gib);
        r.images = c.images().to_vec();
        r.tags = c.tags().to_vec();
        let t = Instant::now();
        engine.create(&r).unwrap();
        times.push(t.elapsed());
    }
    report("create", &mut times);
    let ready: Vec<&ImageCache> = corpus
        .iter()
        .filter(|c| c.status == CacheStatus::Ready)
        .take(2 * k)
        .collect();
    let mut times = Vec::new();
    for (i, c) in ready[..k]
        .iter()
        .enumerate()
        .filter(|_| only.is_empty() || only == "update")
    {
        let mut r = UpdateRequest::new(c.region_id(), c.id());
        r.images = Some(fresh[i].images().to_vec());
        cool();
        let t = Instant::now();
        let _ = engine.update(&r);
        times.push(t.elapsed());
    }
    report("update", &mut times);
    let mut times = Vec::new();
    for c in ready[k..]
        .iter()
        .filter(|_| only.is_empty() || only == "delete")
    {
        let r = DeleteRequest::new(c.region_id(), c.id());
        cool();
        let t = Instant::now();
        engine.delete(&r).unwrap();
        times.push(t.elapsed());
    }
    report("delete", &mut times);
    std::hint::black_box(spoil);
    // Freeing 100 000 caches would be most of a profile of this run.
    std::mem::forget(engine);
}

/// Prints the median and mean of `times`.
fn report(what: &str, times: &mut [std::time::Duration]) {
    if times.is_empty() {
        return;
    }
    times.sort();
    let mean = times.iter().sum::<std::time::Duration>() / times.len() as u32;
    println!(
        "{what}: median {:.2?}, mean {:.2?} of {}",
        times[times.len() / 2],
        mean,
        times.len()
    );
}
