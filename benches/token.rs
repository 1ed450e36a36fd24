//! The fixed cost of a page's `NextToken`: making one and reading it back
//! (keyed MAC, base64url), against which performance.md's "under 50 caches'
//! work" is judged.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use eci_imagecache::cursor::{TokenKey, bench_round_trip};

fn token(c: &mut Criterion) {
    let key = TokenKey::from_seed(1);
    // A fingerprint the size of a Q5 request's (one image, a region).
    let fingerprint = b"\x01cn-hangzhou\x02registry.cn-hangzhou.aliyuncs.com/team/app\x00\x00\x00";
    c.bench_function("token/encode+decode", |b| {
        b.iter(|| {
            bench_round_trip(
                black_box(&key),
                black_box(fingerprint),
                "imc-0123456789abcdefghij",
            )
        })
    });
}

/// The two keyed MACs side by side on a token's bytes (fingerprint and
/// payload, about 90 bytes): HMAC-SHA256 (token version 1, pre-keyed) and
/// SipHash-2-4-128 (version 2).
fn macs(c: &mut Criterion) {
    use hmac::{Hmac, Mac};
    use siphasher::sip128::{Hasher128, SipHasher24};
    use std::hash::Hasher;
    let message = [7u8; 90];
    let keyed = <Hmac<sha2::Sha256>>::new_from_slice(&[1; 32]).unwrap();
    c.bench_function("mac/hmac-sha256", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(&message));
            mac.finalize().into_bytes()[0]
        })
    });
    c.bench_function("mac/siphash-2-4-128", |b| {
        b.iter(|| {
            let mut mac = SipHasher24::new_with_key(&[1; 16]);
            mac.write(black_box(&message));
            mac.finish128().as_bytes()[0]
        })
    });
}

criterion_group!(benches, token, macs);
criterion_main!(benches);
