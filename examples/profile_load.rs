//! Profiling aid: R10's load. The workload imported into an engine, written
//! whole into a state store, then read back three times, each phase timed:
//! `cargo run --release --example profile_load -- 100000`.
use std::time::Instant;

use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine};
use eci_imagecache::store::Store;
use eci_imagecache::workload::Workload;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    // With `PROFILE_KEEP=1` the store is kept for the next run, which then
    // profiles the loads alone.
    let keep = std::env::var_os("PROFILE_KEEP").is_some();
    // With `PROFILE_IMPORT=1` only the import runs, three times.
    if std::env::var_os("PROFILE_IMPORT").is_some() {
        let caches: Vec<_> = Workload::new(1).caches(n).collect();
        for _ in 0..3 {
            let copies = caches.clone();
            // At the workload's "now", as `compare` imports.
            let now = caches.iter().map(|c| c.creation_time).max();
            let clock = ManualClock::new(now.unwrap_or_default());
            let mut engine = Engine::builder().clock(clock).quota(usize::MAX).build();
            let t = Instant::now();
            engine.import_all_as(DEFAULT_ACCOUNT, copies).unwrap();
            println!("import {:.2?} for {n} caches", t.elapsed());
        }
        return;
    }
    let path = std::env::temp_dir().join(format!("eci-profile-load-{n}.db"));
    if !(keep && path.exists()) {
        let caches: Vec<_> = Workload::new(1).caches(n).collect();
        let mut engine = Engine::builder().quota(usize::MAX).build();
        let t = Instant::now();
        engine.import_all_as(DEFAULT_ACCOUNT, caches).unwrap();
        println!("import {:.2?} for {n} caches", t.elapsed());
        let mut store = Store::open(&path).unwrap();
        let t = Instant::now();
        store.replace(&mut engine).unwrap();
        println!("replace {:.2?}", t.elapsed());
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut store = Store::open(&path).unwrap();
        let loaded = store.load(Engine::builder().quota(usize::MAX)).unwrap();
        times.push(t.elapsed());
        drop((loaded, store));
    }
    times.sort();
    println!("load: best {:.2?}, median {:.2?} of 5", times[0], times[2]);
    if keep {
        return;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
