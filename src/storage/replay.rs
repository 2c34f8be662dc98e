//! Replaying the block log into a chain state.
//!
//! Two sides share the work. A preparing thread reads frames in order while the
//! rayon pool decodes the chunk before, hashes its transactions (ids, merkle leaves,
//! sizes) and, for blocks that need it, batch-verifies the transaction signatures
//! under the consensus rule. The calling thread applies the prepared blocks to the
//! chain in order, as the BLP would, and sends each applied chunk back to be freed
//! on the pool. A bounded channel between them keeps the preparing side a few
//! chunks ahead.
//!
//! Blocks at or below `trusted_through` were irreversible when this node wrote them:
//! their signatures were checked then and are not checked again (BitShares'
//! `--replay-blockchain`), and they are applied with
//! [`Chain::apply_trusted_block_parts`] (no TaPoS, duplicate or authority checks; the
//! duplicate index is built once, after them). Every other block gets the full
//! treatment: transaction signatures, the merkle root and the witness signature
//! (`--revalidate-blockchain` passes 0, so that every block is checked).

use super::blocklog::{BlockLog, LogError, LogReader, RawBlock};
use crate::chain::{BlockContext, BlockError, Chain, VerifiedTransaction};
use crate::pipeline::verify::cache::KeyDirectory;
use crate::pipeline::verify::stage::{verify_transactions, KeyCache};
use crate::pipeline::verify::{rule, VerifyError};
use crate::protocol::block::merkle_root_of_leaves;
use crate::protocol::{ChainId, SignedBlock};

use rayon::prelude::*;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Blocks are prepared in chunks of at least this many transactions (or
/// [`CHUNK_BLOCKS_MAX`] blocks), so that the rayon pool gets enough work per call.
const CHUNK_TRANSACTIONS: usize = 8192;
const CHUNK_BLOCKS_MAX: usize = 256;
/// Prepared chunks waiting for the apply thread at most.
const CHUNKS_AHEAD: usize = 3;
/// Signatures per verification batch during a revalidation.
const VERIFY_BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("block #{num} in the block log cannot be decoded: {what}")]
    Decode { num: u32, what: String },
    #[error("block #{num} in the block log fails validation: {error}")]
    Verify { num: u32, error: VerifyError },
    #[error("block #{num} in the block log does not apply: {error}")]
    Apply { num: u32, error: BlockError },
    #[error("the block log holds transaction {0} twice within its expiration, which this node would not have accepted; run --revalidate-blockchain to find the block")]
    RepeatedTransaction(crate::protocol::TransactionId),
}

impl ReplayError {
    /// The block that failed, if the failure belongs to one block.
    pub fn block_num(&self) -> Option<u32> {
        match self {
            ReplayError::Log(LogError::Corrupt { num, .. })
            | ReplayError::Decode { num, .. }
            | ReplayError::Verify { num, .. }
            | ReplayError::Apply { num, .. } => Some(*num),
            _ => None,
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReplayStats {
    pub blocks: u32,
    pub transactions: u64,
    /// Blocks whose signatures were checked.
    pub checked_blocks: u32,
    pub seconds: f64,
    /// Of `seconds`, the time the applying thread spent applying blocks (the rest
    /// it waited for prepared ones): near `seconds` means the apply loop is the limit.
    pub apply_seconds: f64,
    /// The time the preparing side spent reading and preparing blocks (the rest it
    /// waited for the applying thread to take them).
    pub prepare_seconds: f64,
    /// Of `seconds`, building the duplicate index after the trusted blocks.
    pub index_seconds: f64,
}

impl ReplayStats {
    pub fn transactions_per_s(&self) -> f64 {
        self.transactions as f64 / self.seconds.max(1e-9)
    }
    pub fn blocks_per_s(&self) -> f64 {
        self.blocks as f64 / self.seconds.max(1e-9)
    }
}

/// How a replay reports progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar on a terminal, periodic log lines otherwise.
    Auto,
    /// Nothing (benchmarks, tests).
    Quiet,
}

struct Prepared {
    header: crate::protocol::BlockHeader,
    witness_signature: crate::protocol::Signature,
    ctx: BlockContext,
    txs: Vec<VerifiedTransaction>,
    /// Check the witness signature before applying (the key comes from the state).
    check_witness: bool,
}

/// A decoded block: its number, the block, its encoded size, and its transactions
/// already readied when it is trusted.
type Half = (u32, SignedBlock, usize, Option<Vec<VerifiedTransaction>>);

/// Decodes a chunk of frames and readies their transactions, in parallel over the
/// blocks. Trusted blocks are hashed only; the others are verified in full.
fn prepare_chunk(
    raw: Vec<RawBlock>,
    chain_id: &ChainId,
    keys: &KeyDirectory,
    trusted_through: u32,
    key_cache: &mut KeyCache,
) -> (Vec<Prepared>, Option<ReplayError>) {
    let decoded: Vec<Result<Half, ReplayError>> = raw
        .into_par_iter()
        .map(|r| {
            let (block, hashed) = if r.num <= trusted_through {
                let (block, txs) = decode_trusted(&r.payload)
                    .map_err(|what| ReplayError::Decode { num: r.num, what })?;
                (block, Some(txs))
            } else {
                let block = r
                    .decode()
                    .map_err(|what| ReplayError::Decode { num: r.num, what })?;
                (block, None)
            };
            if block.header.block_num() != r.num {
                return Err(ReplayError::Decode {
                    num: r.num,
                    what: format!("the block inside says #{}", block.header.block_num()),
                });
            }
            Ok((r.num, block, r.payload.len(), hashed))
        })
        .collect();
    let mut out = Vec::with_capacity(decoded.len());
    for d in decoded {
        match ready(d, chain_id, keys, key_cache) {
            Ok(p) => out.push(p),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// The sequential part of preparing one block: a full check when it is not trusted.
fn ready(
    d: Result<Half, ReplayError>,
    chain_id: &ChainId,
    keys: &KeyDirectory,
    key_cache: &mut KeyCache,
) -> Result<Prepared, ReplayError> {
    {
        let (num, mut block, packed_size, hashed) = d?;
        let check = hashed.is_none();
        let txs = match hashed {
            Some(txs) => txs,
            None => {
                let trxs = std::mem::take(&mut block.transactions);
                let txs: Vec<VerifiedTransaction> =
                    verify_transactions(trxs, chain_id, keys, key_cache, VERIFY_BATCH)
                        .into_iter()
                        .collect::<Result<_, _>>()
                        .map_err(|error| ReplayError::Verify { num, error })?;
                let root = merkle_root_of_leaves(txs.iter().map(|t| t.merkle_leaf).collect());
                if root != block.header.transaction_merkle_root {
                    return Err(ReplayError::Verify {
                        num,
                        error: VerifyError::MerkleMismatch,
                    });
                }
                txs
            }
        };
        let ctx = BlockContext {
            id: block.header.id(),
            // Filled in by the apply thread from the state (the scheduled witness's
            // key), after checking the signature when `check_witness`.
            signer: Default::default(),
            packed_size,
        };
        Ok(Prepared {
            header: block.header,
            witness_signature: block.witness_signature,
            ctx,
            txs,
            check_witness: check,
        })
    }
}

/// Decodes a block that was irreversible when this node wrote it, readying its
/// transactions with the least work: each transaction's id is hashed from its bytes
/// where they lie in the block, and nothing else is computed (no signing digest, no
/// merkle leaf, no stateless checks, no signers: all were checked when the block was
/// accepted, and [`Chain::apply_trusted_block_parts`] does not look at them). The
/// transactions come without their signatures and signer keys. The returned block has
/// no transactions; they are in the returned list.
fn decode_trusted(payload: &[u8]) -> Result<(SignedBlock, Vec<VerifiedTransaction>), String> {
    const SIGNATURE_BYTES: usize = std::mem::size_of::<crate::protocol::Signature>();
    const KEY_BYTES: usize = std::mem::size_of::<crate::protocol::PublicKey>();
    use borsh::BorshDeserialize;
    let mut rest = payload;
    let bad = |e: std::io::Error| format!("undecodable block: {e}");
    let header = crate::protocol::BlockHeader::deserialize(&mut rest).map_err(bad)?;
    let witness_signature = crate::protocol::Signature::deserialize(&mut rest).map_err(bad)?;
    let count = u32::deserialize(&mut rest).map_err(bad)? as usize;
    if count > rest.len() {
        return Err(format!(
            "undecodable block: {count} transactions in {} bytes",
            rest.len()
        ));
    }
    let mut txs = Vec::with_capacity(count);
    for _ in 0..count {
        let before = rest;
        let trx = crate::protocol::Transaction::deserialize(&mut rest).map_err(bad)?;
        let unsigned = &before[..before.len() - rest.len()];
        // The signatures and their keys are skipped over, not decoded: nothing reads
        // them (`pipeline::verify::unsigned_part` has the layout).
        for width in [SIGNATURE_BYTES, KEY_BYTES] {
            let n = u32::deserialize(&mut rest).map_err(bad)? as usize;
            rest = n
                .checked_mul(width)
                .and_then(|len| rest.get(len..))
                .ok_or("undecodable block: a transaction shorter than its signatures")?;
        }
        let packed_size = before.len() - rest.len();
        txs.push(VerifiedTransaction {
            id: crate::protocol::TransactionId(crate::protocol::codec::sha256(&[unsigned])),
            packed_size: packed_size as u32,
            signers: Default::default(),
            merkle_leaf: [0; 32],
            trx: std::sync::Arc::new(crate::protocol::SignedTransaction {
                trx,
                signatures: Default::default(),
                signer_keys: Default::default(),
            }),
        });
    }
    if !rest.is_empty() {
        return Err(format!(
            "undecodable block: {} bytes after its transactions",
            rest.len()
        ));
    }
    Ok((
        SignedBlock {
            header,
            witness_signature,
            transactions: Vec::new(),
        },
        txs,
    ))
}

/// The next frames from `reader`: at least [`CHUNK_TRANSACTIONS`] transactions or
/// [`CHUNK_BLOCKS_MAX`] blocks, fewer at the end of the log or before a bad frame
/// (the error).
fn read_chunk(reader: &mut LogReader) -> (Vec<RawBlock>, Option<LogError>) {
    let mut raw = Vec::new();
    let mut count = 0usize;
    while count < CHUNK_TRANSACTIONS && raw.len() < CHUNK_BLOCKS_MAX {
        match reader.next() {
            Some(Ok(r)) => {
                // A cheap upper bound on its transactions: their count sits after the
                // header and the signature.
                count += 1 + r.payload.len() / 128;
                raw.push(r);
            }
            Some(Err(e)) => return (raw, Some(e)),
            None => break,
        }
    }
    (raw, None)
}

/// Replays blocks `chain.head_block_num() + 1 ..= log.head()` into `chain`. On error
/// the chain holds every block before the failing one.
pub fn replay(
    chain: &mut Chain,
    log: &BlockLog,
    trusted_through: u32,
    progress: Progress,
) -> Result<ReplayStats, ReplayError> {
    let started = Instant::now();
    let first = chain.head_block_num() + 1;
    let last = log.head();
    let mut stats = ReplayStats::default();
    if first > last {
        return Ok(stats);
    }
    let chain_id = chain.chain_id();
    let keys = KeyDirectory::from_chain(chain);
    let mut reporter = Reporter::new(progress, first, last);
    let reader = log.reader(first)?;
    // The preparing side gets every core but one: the apply loop keeps its own.
    let threads =
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("replay-{i}"))
        .build()
        .map_err(|e| ReplayError::Decode {
            num: first,
            what: format!("cannot start the replay threads: {e}"),
        })?;
    let (result, preparing_busy) = std::thread::scope(|scope| {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<(Vec<Prepared>, Option<ReplayError>)>(CHUNKS_AHEAD);
        // Applied chunks go back, to be freed on the pool that allocated them: a free
        // from another thread costs the allocator several times more.
        let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<Prepared>>();
        let keys = &keys;
        let pool = &pool;
        let preparing = scope.spawn(move || {
            let mut key_cache = KeyCache::new(1 << 16);
            let mut reader = reader;
            let mut busy = Duration::ZERO;
            let mut started = Instant::now();
            let (mut raw, mut failed) = read_chunk(&mut reader);
            while !raw.is_empty() || failed.is_some() {
                let spent: Vec<_> = spent_rx.try_iter().collect();
                let mut chunk = (Vec::new(), None);
                let mut next = (Vec::new(), None);
                // The pool prepares this chunk while this thread reads the next.
                pool.in_place_scope(|s| {
                    s.spawn(|_| {
                        drop(spent);
                        chunk =
                            prepare_chunk(raw, &chain_id, keys, trusted_through, &mut key_cache);
                    });
                    if failed.is_none() {
                        next = read_chunk(&mut reader);
                    }
                });
                let stop = chunk.1.is_some();
                busy += started.elapsed();
                if tx.send(chunk).is_err() || stop {
                    return busy;
                }
                started = Instant::now();
                if let Some(e) = failed {
                    let _ = tx.send((Vec::new(), Some(e.into())));
                    return busy;
                }
                (raw, failed) = next;
            }
            busy
        });
        let applied = (|| {
            for (chunk, failed) in rx {
                let applying = Instant::now();
                for p in &chunk {
                    let num = p.header.block_num();
                    let mut ctx = p.ctx;
                    let witness = chain.store.witnesses.get(p.header.witness.0);
                    ctx.signer = witness.map(|w| w.signing_key).unwrap_or_default();
                    if p.check_witness {
                        let digest = p.header.signing_digest(&chain_id);
                        if rule::verify(&ctx.signer, &digest.0, &p.witness_signature).is_err() {
                            return Err(ReplayError::Verify {
                                num,
                                error: VerifyError::BadBlockSignature(ctx.signer.to_string()),
                            });
                        }
                        stats.checked_blocks += 1;
                    }
                    let keys_before = chain.keys_count();
                    let applied = if p.check_witness {
                        index_recent_transactions(chain)?;
                        chain.apply_block_parts(&p.header, &ctx, &p.txs)
                    } else {
                        chain.apply_trusted_block_parts(&p.header, &ctx, &p.txs)
                    };
                    applied.map_err(|error| ReplayError::Apply { num, error })?;
                    if chain.keys_count() > keys_before {
                        let now = chain.keys_count();
                        keys.add(
                            now,
                            (keys_before..now).filter_map(|i| {
                                let id = crate::chain::objects::KeyId(i);
                                chain.key_by_id(id).map(|k| (k, id))
                            }),
                        );
                    }
                    stats.blocks += 1;
                    stats.transactions += p.txs.len() as u64;
                    reporter.tick(num, stats.transactions);
                }
                stats.apply_seconds += applying.elapsed().as_secs_f64();
                // The preparing thread may be gone (it stops after a failure): then the
                // chunk is freed here.
                let _ = spent_tx.send(chunk);
                if let Some(e) = failed {
                    return Err(e);
                }
            }
            Ok(())
        })();
        let busy = match preparing.join() {
            Ok(busy) => busy,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (applied, busy)
    });
    stats.prepare_seconds = preparing_busy.as_secs_f64();
    // The blocks applied stay applied, whatever failed after them: index their
    // transactions, so that the chain can go on from them.
    let indexing = Instant::now();
    let indexed = index_recent_transactions(chain);
    stats.index_seconds = indexing.elapsed().as_secs_f64();
    stats.seconds = started.elapsed().as_secs_f64();
    reporter.finish(&stats);
    result.and(indexed).map(|()| stats)
}

/// Builds the duplicate index that trusted blocks leave deferred.
fn index_recent_transactions(chain: &mut Chain) -> Result<(), ReplayError> {
    chain
        .index_recent_transactions()
        .map_err(ReplayError::RepeatedTransaction)
}

/// The progress bar (on a terminal) or log lines every few seconds.
struct Reporter {
    mode: Progress,
    bar: Option<indicatif::ProgressBar>,
    first: u32,
    last: u32,
    started: Instant,
    last_line: Instant,
}

const LOG_EVERY: Duration = Duration::from_secs(5);

impl Reporter {
    fn new(mode: Progress, first: u32, last: u32) -> Reporter {
        let bar = (mode == Progress::Auto && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new((last - first + 1) as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "replay {bar:40} block {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .expect("a valid template"),
            );
            bar
        });
        if mode == Progress::Auto {
            tracing::info!("replaying blocks #{first}..=#{last} from the block log");
        }
        Reporter {
            mode,
            bar,
            first,
            last,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    fn tick(&mut self, num: u32, transactions: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position((num - self.first + 1) as u64);
            if num % 64 == 0 {
                let s = self.started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{:.0} trx/s", transactions as f64 / s));
            }
        } else if self.mode == Progress::Auto && self.last_line.elapsed() >= LOG_EVERY {
            self.last_line = Instant::now();
            let s = self.started.elapsed().as_secs_f64().max(1e-9);
            let done = (num - self.first + 1) as f64;
            let rate = done / s;
            let eta = (self.last - num) as f64 / rate.max(1e-9);
            tracing::info!(
                "replay: block #{num} of #{} ({:.0} blocks/s, {:.0} trx/s, ETA {:.0} s)",
                self.last,
                rate,
                transactions as f64 / s,
                eta
            );
        }
    }

    fn finish(&mut self, stats: &ReplayStats) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode == Progress::Auto {
            tracing::info!(
                "replayed {} blocks, {} transactions in {:.2} s ({:.0} blocks/s, {:.0} trx/s; {} blocks had their signatures checked)",
                stats.blocks,
                stats.transactions,
                stats.seconds,
                stats.blocks_per_s(),
                stats.transactions_per_s(),
                stats.checked_blocks
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::genesis::dev_key;
    use crate::protocol::codec::encode;
    use crate::test_utils::DevChain;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("carbyne-replay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A chain of blocks with transfers, written to a log in `dir`; the last block's
    /// first transfer carries `bad_signature` if asked. Returns the producing chain.
    fn chain_and_log(dir: &std::path::Path, bad_signature: bool) -> (DevChain, BlockLog) {
        let mut t = DevChain::new();
        let (log, _) = BlockLog::open(dir, t.chain.chain_id()).unwrap();
        t.create_funded_account("alice", 100_000_000);
        let fee = 20 * crate::protocol::fees::P as i64;
        for round in 0..3 {
            for i in 0..4 {
                let op = t.transfer_op("dev", "alice", 1000 + i, fee);
                let trx = t.transaction(vec![op]);
                let mut signed = t.sign(trx, &[&dev_key()]);
                if bad_signature && round == 2 && i == 0 {
                    signed.signatures[0].0[5] ^= 1;
                }
                // Pushed as the BLP would get it, whatever the signature says.
                t.push(crate::test_utils::preverified(signed, &t.chain))
                    .unwrap();
            }
            t.produce_block();
        }
        for (block, _, _) in &t.blocks {
            let num = block.header.block_num();
            log.append(num, num.saturating_sub(1), &encode(block))
                .unwrap();
        }
        (t, log)
    }

    /// A fresh state at genesis of the chain `t` built.
    fn genesis_chain(t: &DevChain) -> Chain {
        Chain::from_genesis(&t.genesis, t.chain.chain_id()).unwrap()
    }

    /// Writes `block` over the log's last block, with `last_irreversible` in its frame.
    fn replace_head(log: &BlockLog, block: &SignedBlock, last_irreversible: u32) {
        let head = log.head();
        log.truncate_after(head - 1).unwrap();
        log.append(head, last_irreversible, &encode(block)).unwrap();
    }

    #[test]
    fn replay_rebuilds_the_same_state() {
        let dir = tmp("same");
        let (t, log) = chain_and_log(&dir, false);
        for trusted in [0, 2, u32::MAX] {
            let mut chain = genesis_chain(&t);
            let stats = replay(&mut chain, &log, trusted, Progress::Quiet).unwrap();
            assert_eq!(stats.blocks, t.chain.head_block_num());
            assert_eq!(stats.transactions, 2 + 12);
            let checked = t.chain.head_block_num().saturating_sub(trusted.min(4));
            assert_eq!(stats.checked_blocks, checked, "trusted through {trusted}");
            assert_eq!(chain.state_digest(), t.chain.state_digest());
            // The duplicate index is back: a replayed transaction is refused again.
            let (block, _, _) = t.blocks.last().unwrap();
            let again = crate::test_utils::preverified(block.transactions[0].clone(), &chain);
            assert!(
                matches!(
                    chain.push_transaction(&again),
                    Err(crate::chain::TxError::Duplicate(id)) if id == again.id
                ),
                "trusted through {trusted}"
            );
        }
    }

    #[test]
    fn a_transaction_repeated_in_trusted_blocks_is_reported() {
        let dir = tmp("repeat");
        let (t, log) = chain_and_log(&dir, false);
        let head = t.chain.head_block_num();
        // The last block gains a copy of a transaction of the block before it. Its
        // header is unchanged, so only the transactions' own checks can notice.
        let mut block = t.blocks.last().unwrap().0.clone();
        let earlier = t.blocks[t.blocks.len() - 2].0.transactions[0].clone();
        block.transactions.push(earlier);
        replace_head(&log, &block, head);
        let mut chain = genesis_chain(&t);
        let err = replay(&mut chain, &log, head, Progress::Quiet).unwrap_err();
        assert!(matches!(err, ReplayError::RepeatedTransaction(_)), "{err}");
        // Checked in full, the block fails on its merkle root.
        let mut chain = genesis_chain(&t);
        let err = replay(&mut chain, &log, 0, Progress::Quiet).unwrap_err();
        assert!(
            matches!(err, ReplayError::Verify { num, error: VerifyError::MerkleMismatch } if num == head),
            "{err}"
        );
        assert_eq!(chain.head_block_num(), head - 1);
    }

    #[test]
    fn a_bad_signature_fails_a_checked_block_only() {
        let dir = tmp("badsig");
        let (t, log) = chain_and_log(&dir, true);
        let head = t.chain.head_block_num();
        let mut chain = genesis_chain(&t);
        let err = replay(&mut chain, &log, 0, Progress::Quiet).unwrap_err();
        assert!(
            matches!(err, ReplayError::Verify { num, error: VerifyError::BadSignature { .. } } if num == head),
            "{err}"
        );
        assert_eq!(err.block_num(), Some(head));
        assert_eq!(
            chain.head_block_num(),
            head - 1,
            "the blocks before it stay applied"
        );
        // Trusted (irreversible when written), the block is not checked again.
        let mut chain = genesis_chain(&t);
        replay(&mut chain, &log, head, Progress::Quiet).unwrap();
        assert_eq!(chain.state_digest(), t.chain.state_digest());
    }

    #[test]
    fn a_trusted_block_that_does_not_apply_leaves_the_blocks_before_it_usable() {
        let dir = tmp("trusted-apply");
        let (t, log) = chain_and_log(&dir, false);
        let head = t.chain.head_block_num();
        // The last block's second transfer now moves more than the sender has. Its
        // header is unchanged, so a trusted replay notices only when applying it.
        let mut block = t.blocks.last().unwrap().0.clone();
        let crate::protocol::Operation::Transfer(op) = &mut block.transactions[1].trx.operations[0]
        else {
            panic!("a transfer");
        };
        op.amount.amount = i64::MAX / 2;
        replace_head(&log, &block, head);
        let mut chain = genesis_chain(&t);
        let err = replay(&mut chain, &log, head, Progress::Quiet).unwrap_err();
        assert!(
            matches!(err, ReplayError::Apply { num, .. } if num == head),
            "{err}"
        );
        assert_eq!(chain.head_block_num(), head - 1);
        // The duplicate index was built over the blocks that stayed: a transaction of
        // the block before is refused again, and the failed block's first transaction
        // (recorded, then undone with its block) is accepted.
        let earlier = t.blocks[t.blocks.len() - 2].0.transactions[0].clone();
        let earlier = crate::test_utils::preverified(earlier, &chain);
        assert!(matches!(
            chain.push_transaction(&earlier),
            Err(crate::chain::TxError::Duplicate(_))
        ));
        let first = crate::test_utils::preverified(block.transactions[0].clone(), &chain);
        chain.push_transaction(&first).unwrap();
    }

    #[test]
    fn a_block_signed_by_the_wrong_key_fails_when_checked() {
        let dir = tmp("witness");
        let (t, log) = chain_and_log(&dir, false);
        let head = t.chain.head_block_num();
        let mut block = t.blocks.last().unwrap().0.clone();
        block.witness_signature.0[0] ^= 1;
        replace_head(&log, &block, head - 1);
        let mut chain = genesis_chain(&t);
        let err = replay(&mut chain, &log, 0, Progress::Quiet).unwrap_err();
        assert!(
            matches!(
                err,
                ReplayError::Verify {
                    error: VerifyError::BadBlockSignature(_),
                    ..
                }
            ),
            "{err}"
        );
    }
}
