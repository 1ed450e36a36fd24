//! A bounded load test on loopback: several concurrent clients send a fixed
//! number of requests, mixing describes and mutations; no request may fail,
//! and the final state must equal what the requests imply. Prints requests
//! per second and latency percentiles (never asserted: benchmarks are not
//! tests). `ECI_LOAD_CLIENTS` / `ECI_LOAD_REQUESTS` (per client) size it;
//! `ECI_LOAD_STATE=1` runs the server on a state store (every accepted
//! change committed before its answer).

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eci_imagecache::engine::Durations;
use serde_json::Value;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn post(addr: SocketAddr, action: &str, query: &str) -> (u16, Value) {
    common::http(
        addr,
        "POST",
        &format!("/?{query}"),
        &[("x-acs-action", action)],
        "",
    )
}

#[test]
fn concurrent_clients_mixed_load() {
    let clients = env("ECI_LOAD_CLIENTS", 8);
    let per_client = env("ECI_LOAD_REQUESTS", 250);
    let mut options = common::options();
    options.seed = Some(3);
    options.now = None;
    options.durations = Durations::instant();
    options.quota = Some(1_000_000);
    let state_dir = std::env::temp_dir().join(format!("eci-load-{}", std::process::id()));
    if env("ECI_LOAD_STATE", 0) == 1 {
        std::fs::create_dir_all(&state_dir).unwrap();
        options.state = Some(state_dir.join("state.db"));
    }
    let server = common::start(options);
    let addr = server.addr;

    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(per_client);
                let mut mine: Vec<String> = Vec::new();
                for i in 0..per_client {
                    let t = Instant::now();
                    let (status, body) = match i % 10 {
                        // 30 %: create
                        0 | 3 | 6 => {
                            let (status, body) = post(addr, "CreateImageCache", &format!("RegionId=cn-hangzhou&ImageCacheName=c{c}-{i}&Image.1=app{}%3Av{i}&Image.2=nginx", i % 7));
                            if status == 200 {
                                mine.push(body["ImageCacheId"].as_str().unwrap().to_owned());
                            }
                            (status, body)
                        }
                        // 10 %: update one of mine
                        1 if !mine.is_empty() => post(addr, "UpdateImageCache", &format!("RegionId=cn-hangzhou&ImageCacheId={}&Image.1=app%3Au{c}-{i}", mine[i % mine.len()])),
                        // 10 %: delete one of mine
                        2 if !mine.is_empty() => {
                            let id = mine.remove(0);
                            post(addr, "DeleteImageCache", &format!("RegionId=cn-hangzhou&ImageCacheId={id}"))
                        }
                        // 10 %: auto-match
                        4 => post(addr, "AutoMatch", "RegionId=cn-hangzhou&Image.1=nginx&Image.2=app3%3Av3"),
                        // the rest: describes
                        _ => post(addr, "DescribeImageCaches", &format!("RegionId=cn-hangzhou&MatchImage.1=app{}%3Av1&MatchImage.2=nginx&Limit=20", i % 7)),
                    };
                    latencies.push(t.elapsed());
                    assert_eq!(status, 200, "client {c} request {i}: {body}");
                }
                (latencies, mine)
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut expected: BTreeSet<String> = BTreeSet::new();
    for h in handles {
        let (l, mine) = h.join().unwrap();
        latencies.extend(l);
        expected.extend(mine);
    }
    let elapsed = started.elapsed();
    // Every page, following NextToken (at most 20 a page, as the cloud).
    let mut present: BTreeSet<String> = BTreeSet::new();
    let mut query = "RegionId=cn-hangzhou".to_owned();
    loop {
        let (status, page) = post(addr, "DescribeImageCaches", &query);
        assert_eq!(status, 200, "{page}");
        let caches = page["ImageCaches"].as_array().unwrap();
        assert!(caches.len() <= 20);
        present.extend(
            caches
                .iter()
                .map(|c| c["ImageCacheId"].as_str().unwrap().to_owned()),
        );
        match page["NextToken"].as_str() {
            Some(token) => query = format!("RegionId=cn-hangzhou&NextToken={token}"),
            None => break,
        }
    }
    assert_eq!(
        present, expected,
        "the final state is what the requests imply"
    );
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    eprintln!(
        "load: {clients} clients × {per_client} requests = {} in {elapsed:.2?}: {:.0} requests/s; latency p50 {:?}, p90 {:?}, p99 {:?}, max {:?}; {} caches at the end",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        latencies.last().unwrap(),
        present.len()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&state_dir);
}
