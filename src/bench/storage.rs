//! `carbyne bench --storage`: the durability benchmarks.
//!
//! * replay: a block log of transfers is written (blocks built by the chain itself),
//!   then replayed from genesis into a fresh state as `--replay-blockchain` does,
//!   several times (the median is reported); the rate is compared with the verify
//!   ceiling measured in the same run (the most transactions per second this machine
//!   could check live);
//! * snapshots of a state with a million accounts: the BLP's pause to copy its
//!   tables, the write (encode, digest, sync, rename) and the load (read, checks,
//!   index rebuild, digest check);
//! * the BLP's apply rate while a snapshot is written on another thread, against the
//!   rate with none: how much a snapshot slows block production.

use super::stages::{transfers, verify_ceiling};
use crate::chain::Chain;
use crate::storage::blocklog::BlockLog;
use crate::storage::{replay, snapshot};
use crate::test_utils::{preverified, users_genesis, DevChain, TEST_GENESIS_TIME};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default, Serialize)]
pub struct StorageReport {
    pub replay_transactions: u64,
    pub replay_blocks: u32,
    pub replay_log_bytes: u64,
    pub replay_seconds: f64,
    pub replay_transactions_per_s: f64,
    pub replay_blocks_per_s: f64,
    /// Of `replay_seconds`, the time spent applying (the rest waited for blocks to
    /// be decoded and hashed).
    pub replay_apply_seconds: f64,
    /// The time the preparing side spent reading, decoding and hashing blocks.
    pub replay_prepare_seconds: f64,
    /// Of `replay_seconds`, building the duplicate index at the end.
    pub replay_index_seconds: f64,
    /// The replay runs several times over the same log (`--storage-replays`); the
    /// figures above are the median run's, and this is every run's rate, slowest
    /// first.
    pub replay_runs_transactions_per_s: Vec<f64>,
    /// Batch verification on every core, measured in this run.
    pub verify_ceiling_per_s: f64,
    /// `replay_transactions_per_s / verify_ceiling_per_s` (goal: at least 10).
    pub replay_over_verify_ceiling: f64,
    /// The state replayed equals the state that wrote the log.
    pub replay_digest_matches: bool,
    pub snapshot_accounts: usize,
    pub snapshot_bytes: u64,
    /// The BLP's pause: copying the tables at a block boundary.
    pub snapshot_copy_ms: f64,
    pub snapshot_write_ms: f64,
    pub snapshot_load_ms: f64,
    /// The same load again, into memory the process has used before (the first load
    /// pays for fresh pages, which on a VM can dominate).
    pub snapshot_load_again_ms: f64,
    pub snapshot_load_digest_matches: bool,
    /// BLP transfers per second with no snapshot being written...
    pub blp_transfers_per_s_idle: f64,
    /// ... and while the snapshot thread writes one.
    pub blp_transfers_per_s_during_snapshot: f64,
}

/// Transactions per block in the replay log.
const BLOCK_TRANSACTIONS: usize = 5_000;
const REPLAY_USERS: usize = 100_000;

/// Runs the storage benchmarks in `dir` (created, and emptied afterwards).
/// `transactions` sizes the replay log, `accounts` the snapshot state; the log is
/// replayed `replays` times.
pub fn run(
    dir: &Path,
    transactions: usize,
    accounts: usize,
    replays: usize,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<StorageReport> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let mut r = StorageReport::default();

    progress("replay: building the block log");
    let mut g = users_genesis(REPLAY_USERS, 1_000 * 100_000, TEST_GENESIS_TIME);
    g.initial_parameters.maximum_block_size = 1 << 30;
    let mut dev = DevChain::with_genesis(g.clone());
    let chain_id = dev.chain.chain_id();
    let all = transfers(&dev, REPLAY_USERS, transactions, false);
    let (log, _) = BlockLog::open(dir, chain_id)?;
    for chunk in all.chunks(BLOCK_TRANSACTIONS) {
        for t in chunk {
            let v = preverified(t.clone(), &dev.chain);
            dev.push(v)
                .map_err(|e| anyhow::anyhow!("building the log: {e}"))?;
        }
        let block = dev.produce_block();
        // Every block is written as irreversible, as a replay finds a long log.
        let num = block.header.block_num();
        log.append(num, num, &crate::protocol::codec::encode(&block))?;
        dev.blocks.clear();
    }
    log.sync()?;
    let want = dev.chain.state_digest();
    r.replay_log_bytes = std::fs::metadata(log.log_path())?.len();
    drop(dev);

    let mut runs = Vec::new();
    r.replay_digest_matches = true;
    for run in 1..=replays.max(1) {
        progress(&format!("replay {run} of {replays}"));
        let mut chain = Chain::from_genesis(&g, chain_id)?;
        let stats = replay::replay(&mut chain, &log, u32::MAX, replay::Progress::Quiet)?;
        r.replay_digest_matches &= chain.state_digest() == want;
        runs.push(stats);
    }
    runs.sort_by(|a, b| a.transactions_per_s().total_cmp(&b.transactions_per_s()));
    r.replay_runs_transactions_per_s = runs.iter().map(|s| s.transactions_per_s()).collect();
    let stats = runs[runs.len() / 2];
    r.replay_transactions = stats.transactions;
    r.replay_blocks = stats.blocks;
    r.replay_seconds = stats.seconds;
    r.replay_transactions_per_s = stats.transactions_per_s();
    r.replay_blocks_per_s = stats.blocks_per_s();
    r.replay_apply_seconds = stats.apply_seconds;
    r.replay_prepare_seconds = stats.prepare_seconds;
    r.replay_index_seconds = stats.index_seconds;
    drop(log);

    progress("verify ceiling");
    r.verify_ceiling_per_s = verify_ceiling(Duration::from_secs(2), 256).per_s;
    r.replay_over_verify_ceiling = r.replay_transactions_per_s / r.verify_ceiling_per_s;

    progress("snapshot: a state with the accounts");
    let mut g = users_genesis(accounts, 1_000 * 100_000, TEST_GENESIS_TIME);
    g.initial_parameters.maximum_block_size = 1 << 30;
    let mut dev = DevChain::with_genesis(g);
    dev.produce_block();
    r.snapshot_accounts = dev.chain.store.accounts.len();

    progress("snapshot: copy, write, load");
    let started = Instant::now();
    let copy = dev.chain.store.clone_committed();
    r.snapshot_copy_ms = started.elapsed().as_secs_f64() * 1e3;
    let snaps = dir.join("snapshots");
    std::fs::create_dir_all(&snaps)?;
    let dgp = copy.dynamic().clone();
    let started = Instant::now();
    let (meta, path) = snapshot::write(&snaps, &copy, dgp.head_block_number, dgp.head_block_id)?;
    r.snapshot_write_ms = started.elapsed().as_secs_f64() * 1e3;
    r.snapshot_bytes = std::fs::metadata(&path)?.len();
    let started = Instant::now();
    let (_, loaded) = snapshot::load(&path, dev.chain.chain_id())?;
    r.snapshot_load_ms = started.elapsed().as_secs_f64() * 1e3;
    r.snapshot_load_digest_matches =
        loaded.state_digest() == meta.state_digest && meta.state_digest == copy.state_digest();
    drop(loaded);
    let started = Instant::now();
    let again = snapshot::load(&path, dev.chain.chain_id())?;
    r.snapshot_load_again_ms = started.elapsed().as_secs_f64() * 1e3;
    drop(again);

    progress("BLP apply while a snapshot is written");
    let txs: Vec<_> = transfers(&dev, accounts.min(REPLAY_USERS), 20_000, false)
        .into_iter()
        .map(|t| preverified(t, &dev.chain))
        .collect();
    let apply_for = |chain: &mut Chain, until: &dyn Fn() -> bool| {
        let (mut applied, started) = (0u64, Instant::now());
        loop {
            for t in &txs {
                chain.push_transaction(t).expect("a valid transfer");
            }
            applied += txs.len() as u64;
            chain.clear_pending();
            if until() {
                break;
            }
        }
        applied as f64 / started.elapsed().as_secs_f64()
    };
    let idle_until = Instant::now() + Duration::from_secs(2);
    r.blp_transfers_per_s_idle = apply_for(&mut dev.chain, &|| Instant::now() >= idle_until);
    let done = std::sync::atomic::AtomicBool::new(false);
    let write_path = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let out = snapshot::write(&snaps, &copy, dgp.head_block_number + 1, dgp.head_block_id);
            done.store(true, std::sync::atomic::Ordering::Release);
            out
        });
        r.blp_transfers_per_s_during_snapshot = apply_for(&mut dev.chain, &|| {
            done.load(std::sync::atomic::Ordering::Acquire)
        });
        writer.join().expect("the snapshot writer")
    });
    write_path?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(r)
}
