//! The whole pipeline in one process, fed through the in-process submitter: verify
//! workers, the BLP and the output stage on their own threads, with a live block
//! clock.

use carbyne::pipeline::answer::LocalAnswer;
use carbyne::pipeline::message::code;
use carbyne::pipeline::output::ProducedBlock;
use carbyne::pipeline::verify::verify_block_header;
use carbyne::pipeline::{Pipeline, PipelineConfig};
use carbyne::protocol::codec::encode;
use carbyne::protocol::fees::P;
use carbyne::protocol::*;
use carbyne::test_utils::{now_genesis_time, user_key, DevChain};
use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const FEE: i64 = 20 * P as i64;

fn config() -> PipelineConfig {
    PipelineConfig {
        verify_workers: 2,
        verify_batch: 64,
        ingest_ring: 256,
        checked_ring: 256,
        outcome_ring: 1024,
        ..PipelineConfig::default()
    }
}

/// Collects answers until `done` holds for them or 30 s pass.
fn collect(
    rx: &Receiver<LocalAnswer>,
    got: &mut BTreeMap<u64, Vec<(u8, String)>>,
    done: impl Fn(&BTreeMap<u64, Vec<(u8, String)>>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(got) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "answers so far: {got:?}");
        if let Ok(a) = rx.recv_timeout(left.min(Duration::from_millis(100))) {
            got.entry(a.tag).or_default().push((a.code, a.detail));
        }
    }
}

fn codes(got: &BTreeMap<u64, Vec<(u8, String)>>, tag: u64) -> Vec<u8> {
    got.get(&tag)
        .map(|v| v.iter().map(|a| a.0).collect())
        .unwrap_or_default()
}

#[test]
fn every_kind_of_transaction_is_answered_counted_and_applied_exactly() {
    let dev = DevChain::with_users_at(4, 10_000 * P as i64, now_genesis_time());
    let transfer = |from: usize, to: usize, amount: i64| {
        let op = dev.transfer_op(&format!("user{from}"), &format!("user{to}"), amount, FEE);
        dev.sign(dev.transaction(vec![op]), &[&user_key(from)])
    };
    let good = transfer(0, 1, 100);
    let mut forged = transfer(0, 1, 200);
    forged.signatures[0].0[9] ^= 1;
    let invalid = transfer(0, 1, 0); // amount must be positive
    let overdraft = transfer(2, 3, 12_000 * P as i64);
    let funding = transfer(0, 2, 5000 * P as i64);
    let (u0, u1, u2, u3) = (
        dev.id("user0"),
        dev.id("user1"),
        dev.id("user2"),
        dev.id("user3"),
    );
    let start = 10_000 * P as i64;

    let mut pipeline = Pipeline::start(dev.chain, dev.witness_keys, config()).unwrap();
    let answers = pipeline.take_local_answers().unwrap();
    let blocks = pipeline.take_blocks().unwrap();
    let sub = pipeline.submitter();
    let mut got = BTreeMap::new();

    sub.submit(1, encode(&good)).unwrap();
    collect(&answers, &mut got, |g| {
        codes(g, 1).contains(&code::ACCEPTED)
    });
    sub.submit(2, encode(&good)).unwrap(); // the same transaction again
    sub.submit(3, encode(&forged)).unwrap();
    sub.submit(4, b"not a transaction".to_vec()).unwrap();
    sub.submit(5, encode(&invalid)).unwrap();
    sub.submit(6, encode(&overdraft)).unwrap();
    collect(&answers, &mut got, |g| (2..=6).all(|t| g.contains_key(&t)));
    assert_eq!(codes(&got, 2), vec![code::DUPLICATE]);
    assert_eq!(codes(&got, 3), vec![code::BAD_SIGNATURE]);
    assert_eq!(codes(&got, 4), vec![code::DECODE]);
    assert_eq!(codes(&got, 5), vec![code::INVALID]);
    assert!(got[&5][0].1.contains("must be positive"), "{:?}", got[&5]);
    assert_eq!(codes(&got, 6), vec![code::REFUSED]);
    assert!(
        got[&6][0].1.contains("insufficient balance"),
        "{:?}",
        got[&6]
    );

    // Once user2 is funded, the refused transaction is verified and applied again:
    // the refusal took it out of the signature cache.
    sub.submit(7, encode(&funding)).unwrap();
    collect(&answers, &mut got, |g| {
        codes(g, 7).contains(&code::ACCEPTED)
    });
    sub.submit(8, encode(&overdraft)).unwrap();
    collect(&answers, &mut got, |g| {
        [1, 7, 8]
            .iter()
            .all(|&t| codes(g, t).contains(&code::INCLUDED))
    });
    for t in [1, 7, 8] {
        assert_eq!(
            codes(&got, t),
            vec![code::ACCEPTED, code::INCLUDED],
            "tag {t}"
        );
        // In-process answers carry the block number and the index in the block.
        let (_, detail) = &got[&t][1];
        let (num, trx_num) = detail.split_once(' ').expect("BLOCK TRX");
        assert!(num.parse::<u32>().unwrap() >= 1, "block number {detail}");
        trx_num.parse::<u32>().expect("a transaction index");
    }

    let stats = pipeline.stats();
    let blp = pipeline.stop().unwrap();
    let chain = &blp.chain;
    assert_eq!(
        chain.balance(u0, AssetId::CORE),
        start - 100 - 5000 * P as i64 - 2 * FEE
    );
    assert_eq!(chain.balance(u1, AssetId::CORE), start + 100);
    assert_eq!(
        chain.balance(u2, AssetId::CORE),
        start + 5000 * P as i64 - 12_000 * P as i64 - FEE
    );
    assert_eq!(chain.balance(u3, AssetId::CORE), start + 12_000 * P as i64);

    let v = stats.verify;
    assert_eq!(
        (
            v.received,
            v.verified,
            v.duplicates,
            v.bad_signatures,
            v.decode_errors,
            v.invalid
        ),
        (8, 4, 1, 1, 1, 1)
    );
    // Signature work is timed on the workers' own CPU clocks: the five transactions
    // that reached batch verification cost some of it.
    assert!(v.signatures >= 5 && v.signature_cpu_ns > 0, "{v:?}");
    assert!(v.signature_cpu_ns <= v.busy_ns, "{v:?}");
    let b = blp.counts();
    assert_eq!((b.applied, b.refused), (3, 1));

    // Produced blocks carry valid witness signatures and link up.
    let produced: Vec<ProducedBlock> = blocks.try_iter().collect();
    assert!(!produced.is_empty());
    let chain_id = chain.chain_id();
    let mut txs = 0;
    for w in produced.windows(2) {
        assert_eq!(w[1].block.header.previous, w[0].block.id());
    }
    for p in &produced {
        let witness = chain.store.witnesses.get(p.block.header.witness.0).unwrap();
        verify_block_header(&p.block, &chain_id, &witness.signing_key).expect("signed block");
        txs += p.block.transactions.len();
    }
    assert_eq!(txs, 3, "the three applied transfers, each in one block");
}

#[test]
fn transactions_that_do_not_fit_wait_for_later_blocks() {
    let mut dev = DevChain::with_users_at(1, 1000 * P as i64, now_genesis_time());
    // The smallest block the rules allow: about 26 transfers fit.
    dev.genesis.initial_parameters.maximum_block_size = 5120;
    let dev = DevChain::with_genesis(dev.genesis.clone());
    let dk = carbyne::chain::genesis::dev_key();
    let user0 = dev.id("user0");
    const COUNT: i64 = 60;
    let txs: Vec<Vec<u8>> = (0..COUNT)
        .map(|n| {
            let op = dev.transfer_op("dev", "user0", 1000 + n, FEE);
            encode(&dev.sign(dev.transaction(vec![op]), &[&dk]))
        })
        .collect();
    let before = dev.chain.balance(user0, AssetId::CORE);
    let mut pipeline = Pipeline::start(dev.chain, dev.witness_keys, config()).unwrap();
    let answers = pipeline.take_local_answers().unwrap();
    let blocks = pipeline.take_blocks().unwrap();
    let sub = pipeline.submitter();
    for (n, bytes) in txs.into_iter().enumerate() {
        sub.submit(n as u64, bytes).unwrap();
    }
    let mut got = BTreeMap::new();
    collect(&answers, &mut got, |g| {
        (0..COUNT as u64).all(|t| codes(g, t).contains(&code::INCLUDED))
    });
    let blp = pipeline.stop().unwrap();
    let received: i64 = (0..COUNT).map(|n| 1000 + n).sum();
    assert_eq!(blp.chain.balance(user0, AssetId::CORE), before + received);
    let counts: Vec<usize> = blocks
        .try_iter()
        .map(|b| b.block.transactions.len())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), COUNT as usize, "{counts:?}");
    assert!(counts.iter().all(|&c| c <= 30), "size limit: {counts:?}");
    assert!(
        counts.iter().filter(|&&c| c > 0).count() >= 3,
        "the overflow spans blocks: {counts:?}"
    );
    assert!(blp.counts().held > 0);
}
