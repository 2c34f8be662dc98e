//! The verify stage's work before any signature check: strict decoding of a signed
//! transfer's canonical bytes, its stateless checks, and the three hashes (id,
//! signing digest, merkle leaf). Per transaction, one core.

use carbyne::bench::stages::transfers;
use carbyne::pipeline::verify::{hash_decoded, TRANSACTION_BYTES_MAX};
use carbyne::protocol::codec::{decode, encode};
use carbyne::protocol::SignedTransaction;
use carbyne::test_utils::DevChain;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const TXS: usize = 1024;

fn bench_decode_hash(c: &mut Criterion) {
    let dev = DevChain::with_users(100, 1_000_000 * 100_000);
    let chain_id = dev.chain.chain_id();
    let bytes: Vec<Vec<u8>> = transfers(&dev, 100, TXS, true).iter().map(encode).collect();
    let mut g = c.benchmark_group("verify_stage");
    g.sample_size(20);
    g.throughput(Throughput::Elements(TXS as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            for t in &bytes {
                let s: SignedTransaction =
                    decode("signed transaction", t, TRANSACTION_BYTES_MAX).expect("decodes");
                black_box(s);
            }
        })
    });
    g.bench_function("decode_and_hash", |b| {
        b.iter(|| {
            for t in &bytes {
                let s: SignedTransaction =
                    decode("signed transaction", t, TRANSACTION_BYTES_MAX).expect("decodes");
                black_box(hash_decoded(s, t, &chain_id).expect("valid"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode_hash);
criterion_main!(benches);
