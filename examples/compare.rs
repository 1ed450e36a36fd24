//! The side-by-side comparison of `shared/spec/performance.md`: each row is
//! measured against its baseline in the same run, interleaved, and reported
//! as medians and a ratio. Benchmarks are never tests; this prints figures.
//!
//! ```text
//! cargo run --release --example compare            # a readable table
//! cargo run --release --example compare -- --json  # one JSON object
//! ```
//!
//! Rows so far: R1 (parse + normalise a reference, against oci-spec, over
//! the 271 conformance inputs that Docker accepts and rejects).

use std::hint::black_box;
use std::str::FromStr;
use std::time::Instant;

use eci_imagecache::reference::Reference;

/// Medians of nanoseconds per item for two contenders, measured in
/// alternating rounds so drift on a noisy machine hits both alike.
fn side_by_side(
    rounds: usize,
    items: usize,
    mut ours: impl FnMut(),
    mut theirs: impl FnMut(),
) -> (f64, f64) {
    let (mut a, mut b) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let t = Instant::now();
        ours();
        a.push(t.elapsed().as_nanos() as f64 / items as f64);
        let t = Instant::now();
        theirs();
        b.push(t.elapsed().as_nanos() as f64 / items as f64);
    }
    (median(&mut a), median(&mut b))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    id: &'static str,
    what: &'static str,
    ours_ns: f64,
    baseline: &'static str,
    baseline_ns: f64,
    target: &'static str,
}

fn r1() -> Row {
    let inputs: Vec<&str> = include_str!("../tests/data/reference-vectors.tsv")
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    const REPEAT: usize = 200;
    let items = inputs.len() * REPEAT;
    let (ours_ns, baseline_ns) = side_by_side(
        31,
        items,
        || {
            for _ in 0..REPEAT {
                for input in &inputs {
                    let _ = black_box(Reference::parse(black_box(input)));
                }
            }
        },
        || {
            for _ in 0..REPEAT {
                for input in &inputs {
                    let _ = black_box(oci_spec::distribution::Reference::from_str(black_box(
                        input,
                    )));
                }
            }
        },
    );
    Row {
        id: "R1",
        what: "parse + normalise a reference",
        ours_ns,
        baseline: "oci_spec",
        baseline_ns,
        target: ">= 10x",
    }
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let rows = [r1()];
    if json {
        let rows: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    r#"{{"id":"{}","ours_ns":{:.1},"{}_ns":{:.1},"speedup":{:.2}}}"#,
                    r.id,
                    r.ours_ns,
                    r.baseline,
                    r.baseline_ns,
                    r.baseline_ns / r.ours_ns
                )
            })
            .collect();
        println!(r#"{{"rows":[{}]}}"#, rows.join(","));
    } else {
        println!(
            "{:<4} {:<32} {:>10} {:>10} {:>12} {:>9} {:>8}",
            "id", "what", "ours ns", "base ns", "baseline", "speedup", "target"
        );
        for r in &rows {
            println!(
                "{:<4} {:<32} {:>10.1} {:>10.1} {:>12} {:>8.1}x {:>8}",
                r.id,
                r.what,
                r.ours_ns,
                r.baseline_ns,
                r.baseline,
                r.baseline_ns / r.ours_ns,
                r.target
            );
        }
    }
}
