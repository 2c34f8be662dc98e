//! Determinism: a seeded stream of valid and invalid transactions gives the same state
//! digest on every run, after popping and re-applying blocks, and when a second node
//! applies the same blocks from genesis. Failed transactions change nothing.

use carbyne::chain::{Chain, VerifiedTransaction};
use carbyne::protocol::fees::P;
use carbyne::test_utils::{user_key, DevChain};

const USERS: usize = 40;
const STREAM: usize = 10_000;
const BLOCK_EVERY: usize = 100;

/// xorshift64*: deterministic, seeded.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Outcome {
    digest: [u8; 32],
    accepted: usize,
    rejected: usize,
    dev: DevChain,
}

fn random_tx(
    dev: &DevChain,
    rng: &mut Rng,
    history: &[VerifiedTransaction],
) -> VerifiedTransaction {
    let from = rng.below(USERS as u64) as usize;
    let mut to = rng.below(USERS as u64) as usize;
    if to == from {
        to = (to + 1) % USERS;
    }
    let name = |i: usize| format!("user{i}");
    let key = user_key(from);
    match rng.below(10) {
        // A replay of an earlier transaction.
        0 if !history.is_empty() => history[rng.below(history.len() as u64) as usize].clone(),
        // Signed by the wrong key.
        1 => {
            let t = dev.transfer_op(
                &name(from),
                &name(to),
                1 + rng.below(1000) as i64,
                20 * P as i64,
            );
            dev.verified(dev.transaction(vec![t]), &[&user_key(to)])
        }
        // Bad TaPoS.
        2 => {
            let t = dev.transfer_op(
                &name(from),
                &name(to),
                1 + rng.below(1000) as i64,
                20 * P as i64,
            );
            let mut trx = dev.transaction(vec![t]);
            trx.ref_block_prefix = rng.next() as u32;
            dev.verified(trx, &[&key])
        }
        // An overdraft or an underpaid fee.
        3 => {
            let t = dev.transfer_op(&name(from), &name(to), 500_000 * P as i64, 20 * P as i64);
            dev.verified(dev.transaction(vec![t]), &[&key])
        }
        4 => {
            let t = dev.transfer_op(&name(from), &name(to), 10, rng.below(20 * P) as i64);
            dev.verified(dev.transaction(vec![t]), &[&key])
        }
        // A basic account trying to register another.
        5 => {
            let op = dev.create_account_op(
                &format!("n{}", rng.next() % 100_000),
                &name(from),
                key.public_key(),
                100 * P as i64,
            );
            dev.verified(dev.transaction(vec![op]), &[&key])
        }
        // A valid transfer, sometimes with two operations.
        _ => {
            let mut ops = vec![dev.transfer_op(
                &name(from),
                &name(to),
                1 + rng.below(100 * P) as i64,
                20 * P as i64,
            )];
            if rng.below(4) == 0 {
                ops.push(dev.transfer_op(
                    &name(from),
                    &name(to),
                    1 + rng.below(1000) as i64,
                    20 * P as i64,
                ));
            }
            dev.verified(dev.transaction(ops), &[&key])
        }
    }
}

fn run(seed: u64) -> Outcome {
    let mut dev = DevChain::with_users(USERS, 1_000_000 * P as i64);
    let mut rng = Rng(seed);
    let mut history = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for n in 0..STREAM {
        let vtx = random_tx(&dev, &mut rng, &history);
        let check_unchanged = n % 97 == 0;
        let before = check_unchanged.then(|| dev.chain.state_digest());
        match dev.push(vtx.clone()) {
            Ok(_) => {
                accepted += 1;
                history.push(vtx);
            }
            Err(_) => {
                rejected += 1;
                if let Some(b) = before {
                    assert_eq!(
                        b,
                        dev.chain.state_digest(),
                        "a failed transaction changed the state"
                    );
                }
            }
        }
        if n % BLOCK_EVERY == BLOCK_EVERY - 1 {
            // Now and then a witness misses its slot.
            let slot = if rng.below(8) == 0 { 2 } else { 1 };
            dev.produce_block_at_slot(slot);
        }
    }
    dev.produce_block();
    Outcome {
        digest: dev.chain.state_digest(),
        accepted,
        rejected,
        dev,
    }
}

#[test]
fn same_stream_same_digest_pop_and_replay() {
    let a = run(0x5eed_0001);
    let b = run(0x5eed_0001);
    assert_eq!(a.digest, b.digest);
    assert!(
        a.accepted > 3000 && a.rejected > 2000,
        "accepted {} rejected {}",
        a.accepted,
        a.rejected
    );
    let c = run(0x5eed_0002);
    assert_ne!(a.digest, c.digest);

    // Pop every reversible block, then apply them again as a peer would.
    let mut dev = a.dev;
    let reversible = dev.chain.reversible_blocks() as usize;
    assert!(reversible >= 5, "only {reversible} reversible blocks");
    let head = dev.chain.head_block_num();
    let mut popped = Vec::new();
    for _ in 0..reversible {
        let (block, ctx, txs) = dev.blocks.last().cloned().unwrap();
        dev.pop_block();
        popped.push((block, ctx, txs));
    }
    assert_eq!(dev.chain.head_block_num(), head - reversible as u32);
    assert_ne!(dev.chain.state_digest(), a.digest);
    for (block, ctx, txs) in popped.into_iter().rev() {
        dev.apply_block(block, ctx, txs);
    }
    assert_eq!(dev.chain.state_digest(), a.digest);

    // A second node applies the same blocks from genesis.
    let mut replica = Chain::from_genesis(&dev.genesis, dev.genesis.chain_id()).unwrap();
    for (block, ctx, txs) in &dev.blocks {
        replica.apply_block(block, ctx, txs).unwrap();
    }
    assert_eq!(replica.state_digest(), a.digest);
}
