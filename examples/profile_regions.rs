//! Profiling aid: the cost of a call in one region while many unrelated
//! regions hold caches with timers (section 9: no request's cost grows with
//! the number of unrelated regions). Prints the mean create + delete pair
//! in one region with 1 and with N other regions (default 20 000).
//!
//! `cargo run --release --example profile_regions -- 20000`
use std::time::Instant;

use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{CreateRequest, DeleteRequest, Engine};

fn pairs(others: usize) -> f64 {
    let clock = ManualClock::new("2024-05-01T08:00:00Z".parse().unwrap());
    let mut engine = Engine::builder().clock(clock.clone()).seed(1).build();
    for i in 0..others {
        let request = CreateRequest::new(format!("junk-{i}"), "cc")
            .image("nginx")
            .unwrap()
            .retention_days(30);
        engine.create(&request).unwrap();
    }
    clock.advance_secs(600); // every other cache Ready, its expiry still ahead
    engine.tick();
    let rounds = 10_000;
    let started = Instant::now();
    for i in 0..rounds {
        let request = CreateRequest::new("cn-hangzhou", format!("c{i}"))
            .image("redis")
            .unwrap();
        let id = engine.create(&request).unwrap().image_cache_id;
        engine
            .delete(&DeleteRequest::new("cn-hangzhou", id))
            .unwrap();
    }
    started.elapsed().as_secs_f64() * 1e6 / rounds as f64
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let alone = pairs(1);
    let crowded = pairs(n);
    println!(
        "create + delete in one region: {alone:.2} µs with 1 other region, {crowded:.2} µs with {n} ({:.2}×)",
        crowded / alone
    );
}
