//! BLP apply path: pre-verified core transfers with fee payment, authority by key id,
//! TaPoS, expiration, dedup, and one undo session per block.
//!
//! Signatures are not checked by the BLP, so the transactions carry their signer keys
//! and placeholder signatures; ids are computed outside the timed loop, as the verify
//! stage would.

use carbyne::protocol::operations::TransferOperation;
use carbyne::protocol::*;
use carbyne::test_utils::{preverified, user_key, DevChain};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

// The node binary runs on mimalloc; so does this bench.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USERS: usize = 10_000;
const BLOCK_TXS: usize = 10_000;

fn transfers(dev: &DevChain, count: usize) -> Vec<carbyne::chain::VerifiedTransaction> {
    let keys: Vec<PublicKey> = (0..USERS).map(|i| user_key(i).public_key()).collect();
    let base = dev.id("user0").0;
    (0..count)
        .map(|n| {
            let from = n % USERS;
            let to = (n * 7 + 1) % USERS;
            let to = if to == from { (to + 1) % USERS } else { to };
            let op = Operation::Transfer(TransferOperation {
                fee: Asset::core(20 * 100_000),
                from: AccountId(base + from as u64),
                to: AccountId(base + to as u64),
                amount: Asset::core(1 + (n % 1000) as i64),
                memo: None,
                extensions: Default::default(),
            });
            let mut trx = dev.transaction(vec![op]);
            // Distinct expirations keep every id distinct even for equal transfers.
            trx.expiration = trx.expiration.saturating_add((n / USERS) as u32);
            let signed = SignedTransaction {
                trx,
                signatures: smallvec::smallvec![Signature([0; 64])],
                signer_keys: smallvec::smallvec![keys[from]],
            };
            preverified(signed, &dev.chain)
        })
        .collect()
}

fn bench_blp(c: &mut Criterion) {
    let mut dev = DevChain::with_users(USERS, 10_000 * 100_000);
    dev.produce_block();
    let txs = transfers(&dev, BLOCK_TXS);
    // Sanity: the whole block applies.
    for t in &txs {
        dev.chain.push_transaction(t).expect("transfer applies");
    }
    dev.chain.clear_pending();

    let mut g = c.benchmark_group("blp");
    g.throughput(Throughput::Elements(BLOCK_TXS as u64));
    g.sample_size(20);
    g.bench_function("apply_transfers_block_10k", |b| {
        b.iter_batched(
            || (),
            |_| {
                for t in &txs {
                    dev.chain.push_transaction(t).expect("transfer applies");
                }
                dev.chain.clear_pending();
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_blp);
criterion_main!(benches);
