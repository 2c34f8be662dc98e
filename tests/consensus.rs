//! DPoS rules: header validation, missed slots, the last irreversible block, genesis JSON
//! and transaction size limits.

use carbyne::chain::genesis::{dev_key, dev_witness_key, GenesisState};
use carbyne::chain::{BlockContext, BlockError, Chain, TxError};
use carbyne::protocol::block::merkle_root;
use carbyne::protocol::codec::encode;
use carbyne::protocol::*;
use carbyne::test_utils::{DevChain, TEST_GENESIS_TIME};

/// A correctly built and signed empty block for `slot`, before any tampering.
fn block_for(dev: &DevChain, slot: u32) -> (BlockHeader, BlockContext, PrivateKey) {
    let witness = dev.chain.scheduled_witness(slot);
    let signing = dev
        .chain
        .store
        .witnesses
        .get(witness.0)
        .unwrap()
        .signing_key;
    let index = (0..11)
        .find(|i| dev_witness_key(*i).public_key() == signing)
        .unwrap();
    let header = BlockHeader {
        previous: dev.chain.store.dynamic().head_block_id,
        timestamp: dev.chain.slot_time(slot),
        witness,
        transaction_merkle_root: merkle_root(&[]),
        extensions: Default::default(),
    };
    let ctx = BlockContext {
        id: header.id(),
        signer: signing,
        packed_size: 148,
    };
    (header, ctx, dev_witness_key(index))
}

fn apply(
    dev: &mut DevChain,
    header: &BlockHeader,
    ctx: &BlockContext,
    key: &PrivateKey,
) -> Result<(), BlockError> {
    let sig = key.sign(&header.signing_digest(&dev.chain.chain_id()).0);
    let block = SignedBlock {
        header: header.clone(),
        witness_signature: sig,
        transactions: vec![],
    };
    dev.chain.apply_block(&block, ctx, &[])
}

#[test]
fn headers_are_validated() {
    let mut dev = DevChain::new();
    dev.produce_block();
    let digest = dev.chain.state_digest();

    let (mut h, ctx, key) = block_for(&dev, 1);
    h.previous = BlockId([9; 32]);
    assert!(matches!(
        apply(&mut dev, &h, &ctx, &key),
        Err(BlockError::NotOnHead { .. })
    ));

    let (mut h, ctx, key) = block_for(&dev, 1);
    h.timestamp = dev.chain.head_block_time();
    assert!(matches!(
        apply(&mut dev, &h, &ctx, &key),
        Err(BlockError::TimestampNotAfterHead { .. })
    ));

    let (mut h, ctx, key) = block_for(&dev, 1);
    h.witness = dev.chain.scheduled_witness(2);
    assert!(matches!(
        apply(&mut dev, &h, &ctx, &key),
        Err(BlockError::WrongWitness { .. })
    ));

    let (h, mut ctx, key) = block_for(&dev, 1);
    ctx.signer = dev_key().public_key();
    assert!(matches!(
        apply(&mut dev, &h, &ctx, &key),
        Err(BlockError::WrongSigner { .. })
    ));

    let (h, mut ctx, key) = block_for(&dev, 1);
    ctx.packed_size = 3_000_000;
    assert!(matches!(
        apply(&mut dev, &h, &ctx, &key),
        Err(BlockError::TooLarge { .. })
    ));

    assert_eq!(
        dev.chain.state_digest(),
        digest,
        "rejected blocks change nothing"
    );
    let (h, ctx, key) = block_for(&dev, 1);
    apply(&mut dev, &h, &ctx, &key).unwrap();
    assert_eq!(dev.chain.head_block_num(), 2);
}

#[test]
fn missed_slots_are_counted_against_their_witnesses() {
    let mut dev = DevChain::new();
    dev.produce_block();
    dev.produce_block();
    let skipped = dev.chain.scheduled_witness(1);
    let producer = dev.chain.scheduled_witness(2);
    assert_ne!(skipped, producer);
    let missed_before = dev
        .chain
        .store
        .witnesses
        .get(skipped.0)
        .unwrap()
        .total_missed;
    let filled = dev.chain.store.dynamic().recent_slots_filled;
    dev.produce_block_at_slot(2);
    assert_eq!(
        dev.chain
            .store
            .witnesses
            .get(skipped.0)
            .unwrap()
            .total_missed,
        missed_before + 1
    );
    assert_eq!(
        dev.chain
            .store
            .witnesses
            .get(producer.0)
            .unwrap()
            .total_missed,
        0
    );
    assert_eq!(
        dev.chain.store.dynamic().recent_slots_filled,
        ((filled << 1) | 1) << 1
    );
    assert_eq!(dev.chain.store.dynamic().current_witness, producer);
}

#[test]
fn lib_is_the_block_seventy_percent_confirmed() {
    let mut dev = DevChain::new();
    // Block 1 and the skipped slots after maintenance: then one block per slot.
    for _ in 0..7 {
        dev.produce_block();
    }
    assert_eq!(
        dev.chain.last_irreversible_block_num(),
        0,
        "7 of 11 confirmations are not enough"
    );
    dev.produce_block();
    // 8 distinct witnesses confirmed blocks 1..8: the 4th smallest is block 1.
    assert_eq!(dev.chain.last_irreversible_block_num(), 1);
    for _ in 0..3 {
        dev.produce_block();
    }
    assert_eq!(dev.chain.head_block_num(), 11);
    assert_eq!(dev.chain.last_irreversible_block_num(), 4);
    // Irreversible blocks can no longer be popped.
    assert_eq!(dev.chain.reversible_blocks(), 7);
    for _ in 0..7 {
        dev.pop_block();
    }
    assert!(matches!(
        dev.chain.pop_block(),
        Err(BlockError::NothingToPop)
    ));
    assert_eq!(dev.chain.head_block_num(), 4);
}

#[test]
fn genesis_json_uses_bitshares_names_and_round_trips() {
    let g = GenesisState::dev(TEST_GENESIS_TIME);
    let json = serde_json::to_value(&g).unwrap();
    for key in [
        "initial_timestamp",
        "max_core_supply",
        "initial_parameters",
        "initial_accounts",
        "initial_assets",
        "initial_balances",
        "initial_active_witnesses",
        "initial_witness_candidates",
        "initial_committee_candidates",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    assert_eq!(json["initial_timestamp"], "2026-01-01T00:00:00");
    assert_eq!(json["max_core_supply"], "1000000000000000");
    let back: GenesisState = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.chain_id(), g.chain_id());
    let mut bad = json;
    bad["surprise"] = serde_json::json!(1);
    assert!(
        serde_json::from_value::<GenesisState>(bad).is_err(),
        "unknown genesis keys are refused"
    );
    let mut few = g.clone();
    few.initial_active_witnesses = 5;
    assert!(Chain::from_genesis(&few, few.chain_id()).is_err());
}

#[test]
fn oversized_transactions_are_refused() {
    let mut dev = DevChain::new();
    let dk = dev_key();
    let memo = carbyne::protocol::memo::Memo {
        from: dk.public_key(),
        to: dk.public_key(),
        nonce: 1,
        message: vec![7; 1000],
    };
    let mut ops = Vec::new();
    for _ in 0..3 {
        let mut op = dev.transfer_op("dev", "init0", 1, 100 * 100_000);
        if let Operation::Transfer(t) = &mut op {
            t.memo = Some(memo.clone());
        }
        ops.push(op);
    }
    let v = dev.verified(dev.transaction(ops), &[&dk]);
    assert!(v.packed_size > 2048);
    assert_eq!(v.packed_size as usize, encode(&*v.trx).len());
    assert!(matches!(
        dev.push(v),
        Err(TxError::TooLarge { max: 2048, .. })
    ));
}
