//! The verify stage's work before any signature check: strict decoding of a signed
//! transfer's canonical bytes, its stateless checks, and the three hashes (id,
//! signing digest, merkle leaf). Per transaction, one core. The `sha256` group sets
//! the three digests one stream at a time (`sha2`) against four side by side
//! (`protocol::sha256_lanes`).

use carbyne::bench::stages::transfers;
use carbyne::pipeline::verify::{
    hash_decoded, hash_decoded_batch, unsigned_part, TRANSACTION_BYTES_MAX,
};
use carbyne::protocol::codec::{decode, encode, three_messages};
use carbyne::protocol::sha256_lanes::{sha256_many, Parts};
use carbyne::protocol::SignedTransaction;
use carbyne::test_utils::DevChain;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::{Digest, Sha256};
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
    g.bench_function("decode_and_hash_batched_256", |b| {
        b.iter(|| {
            for chunk in bytes.chunks(256) {
                let decoded = chunk
                    .iter()
                    .map(|t| {
                        let s: SignedTransaction =
                            decode("signed transaction", t, TRANSACTION_BYTES_MAX)
                                .expect("decodes");
                        (std::sync::Arc::new(s), &t[..])
                    })
                    .collect();
                for h in hash_decoded_batch(decoded, &chain_id) {
                    black_box(h.expect("valid"));
                }
            }
        })
    });
    g.finish();

    // The three digests of each transaction alone, without decoding.
    let split: Vec<(&[u8], usize)> = bytes
        .iter()
        .map(|t| {
            let s: SignedTransaction =
                decode("signed transaction", t, TRANSACTION_BYTES_MAX).expect("decodes");
            (&t[..], unsigned_part(&s, t).expect("canonical").len())
        })
        .collect();
    let mut g = c.benchmark_group("sha256");
    g.sample_size(20);
    g.throughput(Throughput::Elements(TXS as u64));
    g.bench_function("three_digests_one_stream", |b| {
        b.iter(|| {
            for &(signed, unsigned_len) in &split {
                let unsigned = &signed[..unsigned_len];
                let id = Sha256::digest(unsigned);
                let mut d = Sha256::new();
                d.update(chain_id.0);
                d.update(unsigned);
                let leaf = Sha256::digest(signed);
                black_box((id, d.finalize(), leaf));
            }
        })
    });
    let mut out = vec![[0u8; 32]; 3 * TXS];
    g.bench_function("three_digests_four_lanes", |b| {
        b.iter(|| {
            let msgs: Vec<Parts> = split
                .iter()
                .flat_map(|&(signed, unsigned_len)| {
                    three_messages(&chain_id.0, signed, unsigned_len)
                })
                .collect();
            sha256_many(&msgs, &mut out);
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode_hash);
criterion_main!(benches);
