//! The ingest path end to end, through both network backends: the io_uring server
//! and the portable fallback. Good transactions are included; malformed, oversized
//! and slow-drip frames, invalid signatures and duplicate floods are answered (or the
//! connection closed), counted, and the node keeps producing blocks.

use carbyne::pipeline::message::code;
use carbyne::pipeline::{Pipeline, PipelineConfig};
use carbyne::protocol::codec::encode;
use carbyne::protocol::fees::P;
use carbyne::protocol::*;
use carbyne::test_utils::{now_genesis_time, user_key, DevChain};
use netio::client::{Answer, Client};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const FEE: i64 = 20 * P as i64;

fn start(backend: netio::BackendChoice) -> (Pipeline, DevChain) {
    let dev = DevChain::with_users_at(4, 100_000 * P as i64, now_genesis_time());
    let helper = DevChain::with_genesis(dev.genesis.clone());
    let config = PipelineConfig {
        verify_workers: 2,
        verify_batch: 64,
        ingest_ring: 1024,
        checked_ring: 1024,
        outcome_ring: 4096,
        ingest: Some(netio::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            backend,
            frame_bytes_max: 4096,
            frame_timeout: Duration::from_millis(400),
            idle_timeout: Duration::from_secs(20),
            ..netio::Config::default()
        }),
        ..PipelineConfig::default()
    };
    let p = Pipeline::start(dev.chain, dev.witness_keys, config).unwrap();
    (p, helper)
}

fn transfer(dev: &DevChain, from: usize, to: usize, amount: i64) -> SignedTransaction {
    let op = dev.transfer_op(&format!("user{from}"), &format!("user{to}"), amount, FEE);
    dev.sign(dev.transaction(vec![op]), &[&user_key(from)])
}

/// Reads answers until every seq in `want` has one (30 s at most).
fn answers(c: &mut Client, want: usize) -> BTreeMap<u64, Answer> {
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = BTreeMap::new();
    while got.len() < want {
        let a = c.recv_answer().expect("an answer");
        assert!(
            got.insert(a.seq, a.clone()).is_none(),
            "one answer per frame: {a:?}"
        );
    }
    got
}

fn closed(c: &mut Client) -> bool {
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    loop {
        match c.recv_answer() {
            Ok(_) => continue,
            Err(e) => return e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }
}

fn scenario(backend: netio::BackendChoice, expect: netio::Backend) {
    let (pipeline, dev) = start(backend);
    assert_eq!(pipeline.ingest_backend(), Some(expect));
    let addr = pipeline.ingest_addr().unwrap();
    let mut c = Client::connect(addr).unwrap();

    // Good, forged, garbage and duplicate frames on one connection.
    let good = transfer(&dev, 0, 1, 100);
    let mut forged = transfer(&dev, 0, 1, 200);
    forged.signatures[0].0[3] ^= 0x80;
    c.send_frame(&encode(&good)).unwrap(); // seq 0
    c.send_frame(&encode(&forged)).unwrap(); // seq 1
    c.send_frame(b"\x01\x02garbage").unwrap(); // seq 2
    c.flush().unwrap();
    let got = answers(&mut c, 3);
    assert_eq!(got[&0].code, code::INCLUDED, "{:?}", got[&0]);
    assert!(
        String::from_utf8_lossy(&got[&0].detail)
            .parse::<u32>()
            .unwrap()
            >= 1
    );
    assert_eq!(got[&1].code, code::BAD_SIGNATURE);
    assert_eq!(got[&2].code, code::DECODE);

    // A duplicate flood: 200 copies of one new transfer, from 4 connections.
    let dup = encode(&transfer(&dev, 2, 3, 7));
    let mut flooders: Vec<Client> = (0..4).map(|_| Client::connect(addr).unwrap()).collect();
    for f in &mut flooders {
        for _ in 0..50 {
            f.send_frame(&dup).unwrap();
        }
        f.flush().unwrap();
    }
    let mut codes: BTreeMap<u8, usize> = BTreeMap::new();
    for f in &mut flooders {
        for a in answers(f, 50).values() {
            *codes.entry(a.code).or_default() += 1;
        }
    }
    assert_eq!(codes.get(&code::INCLUDED), Some(&1), "{codes:?}");
    let refused = codes.get(&code::DUPLICATE).copied().unwrap_or(0)
        + codes.get(&code::REFUSED).copied().unwrap_or(0);
    assert_eq!(refused, 199, "{codes:?}");

    // Oversized: answered TOO_LARGE, then the connection is closed.
    let mut big = Client::connect(addr).unwrap();
    big.send_raw(&(1_000_000u32).to_le_bytes()).unwrap();
    big.flush().unwrap();
    let a = big.recv_answer().unwrap();
    assert_eq!(a.code, code::TOO_LARGE);
    assert!(closed(&mut big));

    // Slow drip: half a frame, then silence past the frame timeout.
    let mut slow = Client::connect(addr).unwrap();
    let frame = encode(&transfer(&dev, 1, 0, 5));
    slow.send_raw(&(frame.len() as u32).to_le_bytes()).unwrap();
    slow.send_raw(&frame[..frame.len() / 2]).unwrap();
    slow.flush().unwrap();
    assert!(closed(&mut slow), "the slow-drip connection is closed");

    // The node still takes good transactions and produces blocks.
    let after = transfer(&dev, 1, 2, 9);
    c.send_frame(&encode(&after)).unwrap();
    c.flush().unwrap();
    let a = answers(&mut c, 1);
    assert_eq!(a[&3].code, code::INCLUDED, "{a:?}");

    let deadline = Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let s = pipeline.stats();
        let i = s.ingest.clone().unwrap();
        if (i.too_large, i.frame_timeouts) == (1, 1) || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let i = stats.ingest.clone().unwrap();
    assert_eq!((i.too_large, i.frame_timeouts), (1, 1), "{i:?}");
    assert_eq!(stats.verify.bad_signatures, 1);
    assert_eq!(stats.verify.decode_errors, 1);
    assert_eq!(
        stats.verify.duplicates + stats.blp.refused,
        199,
        "{stats:?}"
    );
    let blp = pipeline.stop().unwrap();
    let chain = &blp.chain;
    let (u0, u1, u2, u3) = (
        dev.id("user0"),
        dev.id("user1"),
        dev.id("user2"),
        dev.id("user3"),
    );
    let start = 100_000 * P as i64;
    assert_eq!(chain.balance(u0, AssetId::CORE), start - 100 - FEE);
    assert_eq!(chain.balance(u1, AssetId::CORE), start + 100 - 9 - FEE);
    assert_eq!(chain.balance(u2, AssetId::CORE), start - 7 - FEE + 9);
    assert_eq!(chain.balance(u3, AssetId::CORE), start + 7);
}

#[test]
fn ingest_over_io_uring() {
    scenario(netio::BackendChoice::IoUring, netio::Backend::IoUring);
}

#[test]
fn ingest_over_the_fallback() {
    scenario(netio::BackendChoice::Fallback, netio::Backend::Fallback);
}

/// Backpressure: with rings of two slots, a burst of 600 transfers on one connection
/// overruns the verify stage many times over. The node pauses the connection instead
/// of refusing frames: every transfer is included, in order, none is answered
/// "overloaded", and the pauses are counted.
fn backpressure(backend: netio::BackendChoice, expect: netio::Backend) {
    let dev = DevChain::with_users_at(2, 100_000 * P as i64, now_genesis_time());
    let helper = DevChain::with_genesis(dev.genesis.clone());
    let config = PipelineConfig {
        verify_workers: 1,
        verify_batch: 4,
        ingest_ring: 2,
        checked_ring: 2,
        outcome_ring: 4,
        ingest: Some(netio::Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            backend,
            recv_buffer_bytes: 4096,
            ..netio::Config::default()
        }),
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::start(dev.chain, dev.witness_keys, config).unwrap();
    assert_eq!(pipeline.ingest_backend(), Some(expect));
    let mut c = Client::connect(pipeline.ingest_addr().unwrap()).unwrap();
    const N: usize = 600;
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| encode(&transfer(&helper, 0, 1, 1 + i as i64)))
        .collect();
    // A writer thread, so that the client blocks in TCP flow control, not the test.
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for f in &frames {
            w.send_frame(f).unwrap();
        }
        w.flush().unwrap();
    });
    let got = answers(&mut c, N);
    writer.join().unwrap();
    let codes: BTreeMap<u8, usize> = got.values().fold(BTreeMap::new(), |mut m, a| {
        *m.entry(a.code).or_default() += 1;
        m
    });
    assert_eq!(codes, BTreeMap::from([(code::INCLUDED, N)]), "{codes:?}");
    // Applied in arrival order: block numbers never go down as seq goes up.
    let blocks: Vec<u32> = got
        .values()
        .map(|a| String::from_utf8_lossy(&a.detail).parse().unwrap())
        .collect();
    assert!(blocks.windows(2).all(|w| w[0] <= w[1]), "{blocks:?}");
    // The ingest thread publishes its counters on its timer tick, so the answers can
    // arrive before the snapshot that counts their frames: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let i = loop {
        let i = pipeline.stats().ingest.unwrap();
        if i.frames >= N as u64 || std::time::Instant::now() > deadline {
            break i;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(i.frames, N as u64, "{i:?}");
    assert!(
        i.pauses > 0,
        "the burst must have paused the connection: {i:?}"
    );
    assert_eq!((i.sink_refused, i.in_flight_limited), (0, 0), "{i:?}");
    let blp = pipeline.stop().unwrap();
    let sent: i64 = (1..=N as i64).sum();
    let start = 100_000 * P as i64;
    let (u0, u1) = (helper.id("user0"), helper.id("user1"));
    assert_eq!(
        blp.chain.balance(u0, AssetId::CORE),
        start - sent - N as i64 * FEE
    );
    assert_eq!(blp.chain.balance(u1, AssetId::CORE), start + sent);
}

#[test]
fn backpressure_over_io_uring() {
    backpressure(netio::BackendChoice::IoUring, netio::Backend::IoUring);
}

#[test]
fn backpressure_over_the_fallback() {
    backpressure(netio::BackendChoice::Fallback, netio::Backend::Fallback);
}
