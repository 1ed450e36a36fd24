//! Profiling aid: R9's batch. N workload caches imported, then a batch of K
//! container groups auto-matched on one thread and on two, alternating,
//! five times each: `cargo run --release --example profile_batch -- N K`.
//! With `PROFILE_ONE=1`, only the one-thread batch, twenty times (for perf:
//! what the batch does outside `choose` is the part two threads cannot
//! share).
use std::time::Instant;

use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine};
use eci_imagecache::workload::Workload;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().unwrap());
    let n = args.next().unwrap_or(100_000);
    let k = args.next().unwrap_or(10_000);
    let workload = Workload::new(1);
    let caches: Vec<_> = workload.caches(n).collect();
    let now = caches
        .iter()
        .map(|c| c.creation_time)
        .max()
        .unwrap_or_default();
    let mut engine = Engine::builder()
        .clock(ManualClock::new(now))
        .seed(1)
        .quota(usize::MAX)
        .build();
    engine
        .import_all_as(DEFAULT_ACCOUNT, caches.clone())
        .unwrap();
    let groups = workload.container_groups(k, &caches);
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let (one, two) = (pool(1), pool(2));
    let only_one = std::env::var_os("PROFILE_ONE").is_some();
    let (mut single, mut double) = (Vec::new(), Vec::new());
    for _ in 0..if only_one { 20 } else { 5 } {
        let t = Instant::now();
        std::hint::black_box(one.install(|| engine.auto_match_batch(&groups)));
        single.push(t.elapsed());
        if !only_one {
            let t = Instant::now();
            std::hint::black_box(two.install(|| engine.auto_match_batch(&groups)));
            double.push(t.elapsed());
        }
    }
    single.sort();
    double.sort();
    let mid = |v: &[std::time::Duration]| v.get(v.len() / 2).copied().unwrap_or_default();
    println!(
        "{k} groups: one thread {:.2?}, two {:.2?}: {:.2}x",
        mid(&single),
        mid(&double),
        mid(&single).as_secs_f64() / mid(&double).as_secs_f64().max(1e-9)
    );
}
