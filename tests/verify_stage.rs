//! The verify stage's batch path gives exactly the single path's results.

use carbyne::chain::genesis::dev_key;
use carbyne::pipeline::verify::stage::{verify_transactions, KeyCache};
use carbyne::pipeline::verify::verify_transaction;
use carbyne::protocol::*;
use carbyne::test_utils::{user_key, DevChain};

#[test]
fn batch_results_equal_single_results() {
    let dev = DevChain::with_users(20, 1000 * 100_000);
    let chain_id = dev.chain.chain_id();
    let mut batch = Vec::new();
    for n in 0..150usize {
        let from = n % 20;
        let op = dev.transfer_op(
            &format!("user{from}"),
            &format!("user{}", (from + 1) % 20),
            1 + n as i64,
            2_000_000,
        );
        let mut signed = dev.sign(dev.transaction(vec![op]), &[&user_key(from)]);
        match n % 10 {
            3 => signed.signatures[0].0[7] ^= 0x40,             // forged
            5 => signed.signer_keys.clear(),                    // malformed: keys missing
            7 => signed.sign(&dev_key(), &chain_id),            // two signatures, both valid
            8 => signed.signatures[0].0[63] |= 0xe0,            // S >= L
            9 => signed.signer_keys[0] = PublicKey([0xff; 32]), // not a point
            _ => {}
        }
        batch.push(signed);
    }
    let single: Vec<_> = batch
        .iter()
        .map(|t| verify_transaction(t.clone(), &chain_id, &dev.chain))
        .collect();
    for batch_size in [1usize, 3, 64, 256] {
        let mut cache = KeyCache::new(8);
        let out = verify_transactions(batch.clone(), &chain_id, &dev.chain, &mut cache, batch_size);
        assert!(cache.len() <= 8, "the key cache stays bounded");
        assert_eq!(out.len(), single.len());
        for (i, (b, s)) in out.iter().zip(&single).enumerate() {
            match (b, s) {
                (Ok(b), Ok(s)) => {
                    assert_eq!((b.id, b.packed_size), (s.id, s.packed_size), "tx {i}");
                    assert_eq!(b.signers, s.signers, "tx {i}");
                }
                (Err(b), Err(s)) => assert_eq!(b, s, "tx {i}"),
                _ => panic!("tx {i}: batch {b:?} vs single {s:?}"),
            }
        }
        let good = out.iter().filter(|r| r.is_ok()).count();
        assert_eq!(good, 150 - 4 * 15, "batch size {batch_size}");
    }
}
