//! R1: parse + normalise a reference, against `oci-spec`, over the
//! conformance inputs (`tests/data/reference-vectors.tsv`).

use std::hint::black_box;
use std::str::FromStr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eci_imagecache::reference::{Reference, RegistryAliases};

fn inputs(only_valid: bool) -> Vec<&'static str> {
    include_str!("../tests/data/reference-vectors.tsv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split('\t');
            let input = f.next()?;
            let ok = f.next()? == "ok";
            (ok || !only_valid).then_some(input)
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    for (name, only_valid) in [("parse/valid", true), ("parse/all", false)] {
        let inputs = inputs(only_valid);
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(inputs.len() as u64));
        group.bench_function("eci-imagecache", |b| {
            b.iter(|| {
                for input in &inputs {
                    let _ = black_box(Reference::parse(black_box(input)));
                }
            })
        });
        group.bench_function("oci-spec", |b| {
            b.iter(|| {
                for input in &inputs {
                    let _ = black_box(oci_spec::distribution::Reference::from_str(black_box(
                        input,
                    )));
                }
            })
        });
        group.finish();
    }
}

fn keys(c: &mut Criterion) {
    let refs: Vec<Reference> = inputs(true).iter().map(|s| s.parse().unwrap()).collect();
    let rules = RegistryAliases::default();
    let mut group = c.benchmark_group("exact_key");
    group.throughput(Throughput::Elements(refs.len() as u64));
    group.bench_function("write_exact_key (reused buffer)", |b| {
        let mut buf = String::with_capacity(512);
        b.iter(|| {
            for r in &refs {
                black_box(rules.write_exact_key(black_box(r), &mut buf));
            }
        })
    });
    group.bench_function("exact_key (allocating)", |b| {
        b.iter(|| {
            for r in &refs {
                black_box(rules.exact_key(black_box(r)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, parse, keys);
criterion_main!(benches);
