//! Each pipeline stage alone, timed over a fixed budget: decode and hash, single and
//! batch verification per core and across every core, BLP apply of transfers, and the
//! ring hand-off between two threads.

use crate::pipeline::counters::process_cpu_ns;
use crate::pipeline::ring::ring;
use crate::pipeline::verify::{cpu, hash_decoded_batch, rule, TRANSACTION_BYTES_MAX};
use crate::protocol::codec::{decode, encode};
use crate::protocol::operations::TransferOperation;
use crate::protocol::*;
use crate::test_utils::{preverified, user_key, users_genesis, DevChain, TEST_GENESIS_TIME};
use rayon::prelude::*;
use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default, Serialize)]
pub struct StageReport {
    pub decode_hash_per_core_per_s: f64,
    pub verify_single_per_core_per_s: f64,
    pub verify_batch_per_core_per_s: f64,
    pub verify_batch_size: usize,
    /// Batch rate with every core verifying and nothing else running.
    pub verify_ceiling_per_s: f64,
    pub verify_ceiling_threads: usize,
    pub blp_transfers_per_s: f64,
    pub ring_messages_per_s: f64,
}

/// Runs `f` (which does `per_call` units) until `budget` passes; units per second.
fn rate(budget: Duration, per_call: usize, f: impl FnMut()) -> f64 {
    rate_and_cpu(budget, per_call, f).0
}

/// As `rate`, with the CPU time the process spent per unit (every thread's, so a
/// parallel `f` is charged for all of its threads), in ns.
fn rate_and_cpu(budget: Duration, per_call: usize, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm-up
    let cpu = process_cpu_ns();
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < budget {
        f();
        calls += 1;
    }
    let units = (calls * per_call as u64) as f64;
    let cpu_ns = process_cpu_ns().saturating_sub(cpu) as f64;
    (
        units / started.elapsed().as_secs_f64(),
        cpu_ns / units.max(1.0),
    )
}

struct Signed {
    key: PublicKey,
    decoded: rule::DecodedKey,
    message: Vec<u8>,
    signature: Signature,
}

fn signed(n: usize) -> Vec<Signed> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let k = PrivateKey::from_label(&format!("bench-{i}"));
            let message = (i as u64).to_le_bytes().repeat(4);
            let signature = k.sign(&message);
            Signed {
                key: k.public_key(),
                decoded: rule::DecodedKey::decode(&k.public_key()).expect("a valid key"),
                message,
                signature,
            }
        })
        .collect()
}

fn items(data: &[Signed]) -> Vec<cpu::Item<'_>> {
    data.iter()
        .map(|d| cpu::Item {
            key: &d.key,
            decoded: Some(&d.decoded),
            message: &d.message,
            signature: &d.signature,
        })
        .collect()
}

/// Signed transfers among `users` dev users, for the decode/hash and BLP benches.
pub fn transfers(dev: &DevChain, users: usize, count: usize, sign: bool) -> Vec<SignedTransaction> {
    let base = dev.id("user0").0;
    let chain_id = dev.chain.chain_id();
    let keys: Vec<PrivateKey> = (0..users).map(user_key).collect();
    let head = dev.chain.store.dynamic().head_block_id;
    let head_num = (dev.chain.head_block_num() & 0xffff) as u16;
    let head_time = dev.chain.head_block_time();
    (0..count)
        .into_par_iter()
        .map(|n| {
            let from = n % users;
            let to = (from + 1 + n / users % (users - 1)) % users;
            let trx = Transaction {
                ref_block_num: head_num,
                ref_block_prefix: head.tapos_prefix(),
                expiration: head_time.saturating_add(600 + (n % 3000) as u32),
                operations: vec![Operation::Transfer(TransferOperation {
                    fee: Asset::core(20 * 100_000),
                    from: AccountId(base + from as u64),
                    to: AccountId(base + to as u64),
                    amount: Asset::core(1 + n as i64),
                    memo: None,
                    extensions: Default::default(),
                })],
                extensions: Default::default(),
            };
            let mut s = SignedTransaction {
                trx,
                signatures: Default::default(),
                signer_keys: Default::default(),
            };
            if sign {
                s.sign(&keys[from], &chain_id);
            } else {
                s.signatures.push(Signature([0; 64]));
                s.signer_keys.push(keys[from].public_key());
            }
            s
        })
        .collect()
}

/// The verify ceiling as measured: signatures per second with every core verifying,
/// and the CPU time one signature cost (ns).
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    pub per_s: f64,
    pub cpu_ns_per_signature: f64,
}

/// Batches of `batch` from `all` verified on every core of rayon's pool at once.
fn ceiling_of(budget: Duration, all: &[cpu::Item<'_>], batch: usize) -> Ceiling {
    let (per_s, cpu_ns_per_signature) = rate_and_cpu(budget, all.len(), || {
        let ok: usize = all
            .par_chunks(batch)
            .map(|c| cpu::verify_batch(c).iter().filter(|v| **v).count())
            .sum();
        assert_eq!(ok, all.len());
    });
    Ceiling {
        per_s,
        cpu_ns_per_signature,
    }
}

/// The verify ceiling alone (batch verification on every core, nothing else
/// running), as `run` measures it: for measuring it again later in the same run.
pub fn verify_ceiling(budget: Duration, batch: usize) -> Ceiling {
    let batch = batch.max(1);
    let data = signed(4096.max(batch * 2 * rayon::current_num_threads()));
    ceiling_of(budget, &items(&data), batch)
}

/// Runs every stage bench. `budget` is the time spent on each measurement;
/// `progress` is called with the name of each step as it starts.
pub fn run(budget: Duration, batch: usize, mut progress: impl FnMut(&str)) -> StageReport {
    let batch = batch.max(1);
    let mut r = StageReport {
        verify_batch_size: batch,
        verify_ceiling_threads: rayon::current_num_threads(),
        ..StageReport::default()
    };

    progress("decode and hash");
    let dev = DevChain::with_users(100, 1_000_000 * 100_000);
    let chain_id = dev.chain.chain_id();
    let bytes: Vec<Vec<u8>> = transfers(&dev, 100, 1024, true)
        .iter()
        .map(encode)
        .collect();
    // As a verify worker does it: a batch decoded, then hashed together.
    r.decode_hash_per_core_per_s = rate(budget, bytes.len(), || {
        for chunk in bytes.chunks(batch) {
            let decoded = chunk
                .iter()
                .map(|b| {
                    let t: SignedTransaction =
                        decode("signed transaction", b, TRANSACTION_BYTES_MAX).expect("decodes");
                    (std::sync::Arc::new(t), &b[..])
                })
                .collect();
            for h in hash_decoded_batch(decoded, &chain_id) {
                black_box(h.expect("valid"));
            }
        }
    });

    progress("verify, single, one core");
    let data = signed(4096.max(batch * 2 * r.verify_ceiling_threads));
    r.verify_single_per_core_per_s = rate(budget, 256, || {
        for d in &data[..256] {
            assert!(rule::verify_decoded(&d.decoded, &d.message, &d.signature).is_ok());
        }
    });

    progress("verify, batch, one core");
    let all = items(&data);
    let one = &all[..batch.min(all.len())];
    r.verify_batch_per_core_per_s = rate(budget, one.len(), || {
        assert!(cpu::verify_batch(one).iter().all(|v| *v));
    });

    progress("verify, batch, every core");
    r.verify_ceiling_per_s = ceiling_of(budget, &all, batch).per_s;

    progress("BLP apply of transfers");
    const USERS: usize = 10_000;
    const BLOCK: usize = 20_000;
    let mut g = users_genesis(USERS, 10_000 * 100_000, TEST_GENESIS_TIME);
    g.initial_parameters.maximum_block_size = 1 << 30;
    let mut dev = DevChain::with_genesis(g);
    let txs: Vec<_> = transfers(&dev, USERS, BLOCK, false)
        .into_iter()
        .map(|t| preverified(t, &dev.chain))
        .collect();
    let mut applied = 0u64;
    let mut spent = Duration::ZERO;
    while spent < budget {
        let started = Instant::now();
        for t in &txs {
            dev.chain.push_transaction(t).expect("a valid transfer");
        }
        spent += started.elapsed();
        applied += txs.len() as u64;
        dev.chain.clear_pending();
    }
    r.blp_transfers_per_s = applied as f64 / spent.as_secs_f64();

    progress("ring hand-off");
    const MESSAGES: u64 = 2_000_000;
    let mut best = 0f64;
    let started = Instant::now();
    while started.elapsed() < budget || best == 0.0 {
        let (mut p, mut c) = ring::<u64>(4096);
        let t0 = Instant::now();
        let producer = std::thread::spawn(move || {
            for i in 0..MESSAGES {
                let mut v = i;
                while let Err(back) = p.try_publish(v) {
                    v = back;
                    std::hint::spin_loop();
                }
            }
        });
        let mut got = 0u64;
        while got < MESSAGES {
            got += c.poll_batch(1024, |v, _| {
                black_box(v);
            }) as u64;
        }
        producer.join().expect("producer thread");
        best = best.max(MESSAGES as f64 / t0.elapsed().as_secs_f64());
    }
    r.ring_messages_per_s = best;
    r
}
