//! The node loop: transactions arriving on the inbox are applied as they come, the
//! pending set becomes the block, and what did not fit waits for later blocks.

use carbyne::chain::genesis::{dev_key, dev_witness_key, GenesisState, DEV_WITNESS_COUNT};
use carbyne::chain::Chain;
use carbyne::node::dev::Node;
use carbyne::node::producer::WitnessKeys;
use carbyne::pipeline::verify::verify_transaction;
use carbyne::protocol::fees::P;
use carbyne::protocol::operations::TransferOperation;
use carbyne::protocol::*;
use std::time::{SystemTime, UNIX_EPOCH};

#[test]
fn inbox_transactions_fill_blocks_and_overflow_waits() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let mut genesis = GenesisState::dev(TimePointSec(now));
    // The smallest block the rules allow: about 26 transfers fit.
    genesis.initial_parameters.maximum_block_size = 5120;
    let chain_id = genesis.chain_id();
    let chain = Chain::from_genesis(&genesis, chain_id).unwrap();
    let mut keys = WitnessKeys::default();
    for i in 0..DEV_WITNESS_COUNT {
        keys.insert(dev_witness_key(i));
    }
    let dev_id = chain.account_id_by_name("dev").unwrap();
    let init0 = chain.account_id_by_name("init0").unwrap();
    let before = chain.balance(init0, AssetId::CORE);
    let dk = dev_key();
    let (mut node, inbox) = Node::new(chain, keys);

    const COUNT: i64 = 60;
    for n in 0..COUNT {
        let trx = Transaction {
            ref_block_num: 0,
            ref_block_prefix: 0,
            expiration: TimePointSec(now + 600),
            operations: vec![Operation::Transfer(TransferOperation {
                fee: Asset::core(20 * P as i64),
                from: dev_id,
                to: init0,
                amount: Asset::core(1000 + n),
                memo: None,
                extensions: Default::default(),
            })],
            extensions: Default::default(),
        };
        let mut signed = SignedTransaction {
            trx,
            signatures: vec![],
            signer_keys: vec![],
        };
        signed.sign(&dk, &chain_id);
        inbox
            .send(verify_transaction(signed, &chain_id, &node.chain).unwrap())
            .unwrap();
    }
    node.run(Some(4)).unwrap();

    let received: i64 = (0..COUNT).map(|n| 1000 + n).sum();
    assert_eq!(node.chain.balance(init0, AssetId::CORE), before + received);
    let counts: Vec<usize> = node.recent_blocks.iter().map(|b| b.1).collect();
    assert_eq!(counts.iter().sum::<usize>(), COUNT as usize, "{counts:?}");
    assert!(
        counts.iter().all(|&c| c <= 30),
        "blocks respect the size limit: {counts:?}"
    );
    assert!(
        counts.iter().filter(|&&c| c > 0).count() >= 3,
        "the overflow spans blocks: {counts:?}"
    );
}
