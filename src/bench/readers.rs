//! RPC readers against the BLP: how much BLP throughput is left while concurrent
//! clients hammer `get_account_balances` and `get_objects` (issue 4: within 10% of the
//! throughput with no readers).
//!
//! The BLP side applies pre-verified transfers the way the BLP stage does: it takes
//! the state's write lock for one batch, applies it, and releases the lock. The
//! readers call the real JSON-RPC dispatcher (request text in, answer JSON out) on a
//! `StateReader` over the same lock, as the RPC server's threads do. The BLP runs
//! pinned to a core of its own and the readers share the others, as in the node, so
//! the figure measures what the design costs (the lock, and the caches the readers
//! disturb), not a CPU shared with the readers.

use super::stages::transfers;
use crate::pipeline::StateReader;
use crate::rpc::{dispatch, Context, RpcConfig};
use crate::test_utils::{preverified, users_genesis, DevChain, TEST_GENESIS_TIME};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct ReadersReport {
    pub readers: usize,
    /// Transactions per BLP batch: one turn of the write lock each, released with a
    /// fair unlock, as the BLP stage does (the profile's `blp.batch`).
    pub batch: usize,
    /// BLP transfers per second with no readers: the mean of a run before and one
    /// after the run with readers.
    pub blp_alone_per_s: f64,
    pub blp_with_readers_per_s: f64,
    /// `blp_with_readers_per_s / blp_alone_per_s`; the target is at least 0.9.
    pub ratio: f64,
    /// Read requests answered per second, all readers together.
    pub reads_per_s: f64,
    /// Whether the BLP and the readers ran on different cores.
    pub pinned: bool,
}

const USERS: usize = 10_000;
const BLOCK: usize = 20_000;

/// Measures for `budget` per phase with `readers` reader threads.
pub fn run(budget: Duration, readers: usize, batch: usize) -> ReadersReport {
    let mut g = users_genesis(USERS, 10_000 * 100_000, TEST_GENESIS_TIME);
    g.initial_parameters.maximum_block_size = 1 << 30;
    let dev = DevChain::with_genesis(g);
    let txs: Vec<_> = transfers(&dev, USERS, BLOCK, false)
        .into_iter()
        .map(|t| preverified(t, &dev.chain))
        .collect();
    let first_user = dev.id("user0").0;
    let state = StateReader::detached(dev.chain);
    let ctx = Arc::new(Context::new(state.clone(), RpcConfig::default()));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = cpus >= 2;
    let blp_cpu = cpus - 1;
    let batch = batch.max(1);

    let phase = |with_readers: usize| -> (f64, f64) {
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..with_readers)
            .map(|r| {
                let (ctx, stop, reads) = (ctx.clone(), stop.clone(), reads.clone());
                std::thread::spawn(move || {
                    if pinned {
                        let _ = affinity::pin_current_thread(r % blp_cpu);
                    }
                    let mut n = r as u64;
                    while !stop.load(Ordering::Relaxed) {
                        let user = n % USERS as u64;
                        let text = if n % 2 == 0 {
                            format!(
                                r#"{{"id":{n},"method":"get_account_balances","params":["user{user}",["1.3.0"]]}}"#
                            )
                        } else {
                            let account = first_user + user;
                            format!(
                                r#"{{"id":{n},"method":"get_objects","params":[["1.2.{account}","2.6.{account}","2.1.0"]]}}"#
                            )
                        };
                        let answer = dispatch::handle_text(&ctx, &text).expect("an answer");
                        // Serialized, as the server would, outside the lock.
                        let body = answer.to_string();
                        assert!(!body.contains("\"error\""), "{body}");
                        reads.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                    }
                })
            })
            .collect();
        let applied = apply_for(&state, &txs, batch, budget);
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            let _ = h.join();
        }
        (
            applied,
            reads.load(Ordering::Relaxed) as f64 / budget.as_secs_f64(),
        )
    };

    // The BLP side runs on this thread, on a core of its own.
    if pinned {
        let _ = affinity::pin_current_thread(blp_cpu);
    }
    let (before, _) = phase(0);
    let (with, reads_per_s) = phase(readers);
    let (after, _) = phase(0);
    let alone = (before + after) / 2.0;
    ReadersReport {
        readers,
        batch,
        blp_alone_per_s: alone,
        blp_with_readers_per_s: with,
        ratio: with / alone,
        reads_per_s,
        pinned,
    }
}

/// Applies `txs` over and over, `batch` per write lock, for about `budget`; the rate.
fn apply_for(
    state: &StateReader,
    txs: &[crate::chain::VerifiedTransaction],
    batch: usize,
    budget: Duration,
) -> f64 {
    let started = Instant::now();
    let mut applied = 0u64;
    while started.elapsed() < budget {
        for chunk in txs.chunks(batch) {
            state
                .write(|chain| {
                    for t in chunk {
                        chain.push_transaction(t).expect("a valid transfer");
                    }
                })
                .expect("a detached state never stops");
            applied += chunk.len() as u64;
        }
        state
            .write(|chain| chain.clear_pending())
            .expect("a detached state never stops");
    }
    applied as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    /// The bench runs and both sides make progress: every read answered without an
    /// error (checked inside), the BLP applying transfers throughout.
    #[test]
    fn readers_and_the_blp_both_progress() {
        let r = super::run(std::time::Duration::from_millis(300), 2, 512);
        assert!(
            r.blp_alone_per_s > 0.0 && r.blp_with_readers_per_s > 0.0,
            "{r:?}"
        );
        assert!(r.reads_per_s > 0.0, "readers starved: {r:?}");
        assert_eq!((r.readers, r.batch), (2, 512));
    }
}
