//! Signature verification under ZIP-215 on one core: single (with the key decoded once,
//! as the key cache does) against CPU batches of several sizes, in the same run.

use carbyne::pipeline::verify::{cpu, rule};
use carbyne::protocol::{PrivateKey, PublicKey, Signature};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn signed(n: usize) -> Vec<(PublicKey, Vec<u8>, Signature)> {
    (0..n)
        .map(|i| {
            let k = PrivateKey::from_label(&format!("bench-{i}"));
            let msg = (i as u64).to_le_bytes().repeat(4);
            let sig = k.sign(&msg);
            (k.public_key(), msg, sig)
        })
        .collect()
}

/// Batch items whose keys come decoded from the key cache, as in the verify stage.
fn items<'a>(
    data: &'a [(PublicKey, Vec<u8>, Signature)],
    keys: &'a [rule::DecodedKey],
) -> Vec<cpu::Item<'a>> {
    data.iter()
        .zip(keys)
        .map(|(d, k)| cpu::Item {
            key: &d.0,
            decoded: Some(k),
            message: &d.1,
            signature: &d.2,
        })
        .collect()
}

fn decode_all(data: &[(PublicKey, Vec<u8>, Signature)]) -> Vec<rule::DecodedKey> {
    data.iter()
        .map(|d| rule::DecodedKey::decode(&d.0).unwrap())
        .collect()
}

fn bench_verify(c: &mut Criterion) {
    let data = signed(1024);
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    let decoded = decode_all(&data);
    g.throughput(Throughput::Elements(256));
    g.bench_function("single_x256", |b| {
        b.iter(|| {
            for (i, d) in data[..256].iter().enumerate() {
                assert!(rule::verify_decoded(&decoded[i], &d.1, &d.2).is_ok());
            }
        })
    });
    for size in [16usize, 64, 256, 1024] {
        let items = items(&data[..size], &decoded);
        g.throughput(Throughput::Elements(size as u64));
        g.bench_function(format!("batch_{size}"), |b| {
            b.iter(|| assert!(cpu::verify_batch(&items).iter().all(|v| *v)))
        });
    }
    // The ceiling: batches of 256 over the whole rayon pool (every core verifying).
    {
        use rayon::prelude::*;
        let many = signed(4096);
        let keys = decode_all(&many);
        let items = items(&many, &keys);
        g.throughput(Throughput::Elements(items.len() as u64));
        g.bench_function(
            format!("pool_batch_256_threads_{}", rayon::current_num_threads()),
            |b| {
                b.iter(|| {
                    let ok: usize = items
                        .par_chunks(256)
                        .map(|c| cpu::verify_batch(c).iter().filter(|v| **v).count())
                        .sum();
                    assert_eq!(ok, items.len());
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
