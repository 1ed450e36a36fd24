//! Profiling aid: R11's memory, counted by the allocator rather than read
//! from the RSS. Generates N workload caches, then prints the bytes and
//! allocations the records take, and what an engine importing a copy of
//! them holds (records and index) beside the RSS it adds:
//! `cargo run --release --example profile_memory -- 1000000`.
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use eci_imagecache::clock::ManualClock;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine};
use eci_imagecache::record::ImageCache;
use eci_imagecache::workload::Workload;

/// The system allocator, counting the bytes and allocations live.
struct Counting;

static BYTES: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed through to `System` unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size(), Relaxed);
        COUNT.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        BYTES.fetch_sub(layout.size(), Relaxed);
        COUNT.fetch_sub(1, Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(new_size.wrapping_sub(layout.size()), Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kib * 1024
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let per = |bytes: usize| bytes as f64 / n as f64;
    let (b0, c0) = (BYTES.load(Relaxed), COUNT.load(Relaxed));
    let caches: Vec<ImageCache> = Workload::new(1).caches(n).collect();
    let (b1, c1) = (BYTES.load(Relaxed), COUNT.load(Relaxed));
    println!(
        "records: {:.1} B a cache ({} inline), {:.2} allocations",
        per(b1 - b0),
        std::mem::size_of::<ImageCache>(),
        (c1 - c0) as f64 / n as f64
    );
    let now = caches
        .iter()
        .map(|c| c.creation_time)
        .max()
        .unwrap_or_default();
    let (r0, b0, c0) = (rss(), BYTES.load(Relaxed), COUNT.load(Relaxed));
    let copies = caches.clone();
    let mut engine = Engine::builder()
        .clock(ManualClock::new(now))
        .quota(usize::MAX)
        .build();
    engine
        .import_all_as(DEFAULT_ACCOUNT, copies)
        .expect("imported");
    let (r1, b1, c1) = (rss(), BYTES.load(Relaxed), COUNT.load(Relaxed));
    println!(
        "engine: {:.1} B a cache live in {:.2} allocations, RSS added {:.1} B a cache",
        per(b1 - b0),
        (c1 - c0) as f64 / n as f64,
        per(r1.saturating_sub(r0))
    );
    drop((engine, caches));
}
