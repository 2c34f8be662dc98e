//! The output stage: everything that follows the BLP's decisions.
//!
//! * answers submitters: one final answer per ingest frame (included, refused or
//!   dropped), plus "accepted" for in-process submitters;
//! * signs sealed blocks with the witness key, logs them and hands them to observers
//!   (the block log and p2p gossip attach here);
//! * keeps the verify stage's shared state current: new key ids into the key
//!   directory, the head time into the signature cache, and refused transactions out
//!   of it, so that an identical resubmission is verified and tried again.

use super::answer::{Answer, Answerer, Detail};
use super::counters::{counters, PUBLISH_EVERY};
use super::message::{code, Origin, Outcome, SealedBlock, SpareLists};
use super::ring::Consumer;
use super::verify::cache::{KeyDirectory, SeenCache};
use super::wait::{Doorbell, Idler, WaitStrategy};
use crate::chain::objects::KeyId;
use crate::protocol::{ChainId, PrivateKey, PublicKey, SignedBlock};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

counters! {
    /// The output stage's counters.
    OutputCounters / OutputCounts {
        /// In-process submissions told they were accepted (ingest frames hear only
        /// their final answer).
        accepted,
        refused,
        dropped,
        included,
        blocks,
        /// Sealed blocks this node holds no key for (a configuration error).
        unsigned_blocks,
        busy_ns,
    }
}

/// The signing keys this node holds, by public key.
#[derive(Default)]
pub struct WitnessKeys {
    keys: BTreeMap<PublicKey, PrivateKey>,
}

impl WitnessKeys {
    pub fn insert(&mut self, key: PrivateKey) {
        self.keys.insert(key.public_key(), key);
    }
    pub fn get(&self, public: &PublicKey) -> Option<&PrivateKey> {
        self.keys.get(public)
    }
    pub fn public_keys(&self) -> impl Iterator<Item = PublicKey> + '_ {
        self.keys.keys().copied()
    }
}

/// Appends `block` to the log and syncs it as the policy says.
fn write_block(
    storage: &super::StorageHooks,
    block: &SignedBlock,
    last_irreversible: u32,
) -> Result<(), crate::storage::blocklog::LogError> {
    let num = block.header.block_num();
    storage.log.append(
        num,
        last_irreversible,
        &crate::protocol::codec::encode(block),
    )?;
    match storage.fsync {
        crate::storage::FsyncPolicy::EveryBlock => {
            storage.log.sync()?;
        }
        crate::storage::FsyncPolicy::Irreversible => {
            if let Some(tx) = &storage.written {
                let _ = tx.send(num);
            }
        }
        crate::storage::FsyncPolicy::Never => {}
    }
    Ok(())
}

/// A block this node produced, as observers see it.
#[derive(Debug, Clone)]
pub struct ProducedBlock {
    pub block: Arc<SignedBlock>,
    /// The ids of its transactions, in order.
    pub ids: Arc<[crate::protocol::TransactionId]>,
    /// When the BLP sealed it.
    pub sealed_at: Instant,
    pub seal_us: u64,
    pub last_irreversible: u32,
}

pub struct OutputStage {
    pub(crate) input: Consumer<Outcome>,
    /// Where accepted transactions go while someone watches them.
    pub(crate) pending_feed: Option<Arc<super::pending::PendingFeed>>,
    pub(crate) bell: Arc<Doorbell>,
    pub(crate) answers: Answerer,
    /// Where sealed blocks' emptied transaction lists go back to the BLP.
    pub(crate) spare: SpareLists,
    pub(crate) seen: Arc<SeenCache>,
    pub(crate) keys: Arc<KeyDirectory>,
    pub(crate) witness_keys: WitnessKeys,
    pub(crate) chain_id: ChainId,
    pub(crate) observer: Option<Sender<ProducedBlock>>,
    /// The block log: each block is written before anyone hears of it.
    pub(crate) storage: Option<super::StorageHooks>,
    /// Set when a block cannot be written; `halt` then stops the pipeline.
    pub(crate) failure: Arc<parking_lot::Mutex<Option<String>>>,
    pub(crate) halt: Arc<AtomicBool>,
    pub(crate) counters: Arc<OutputCounters>,
    /// Set by the BLP when it has sent its last outcome.
    pub(crate) blp_finished: Arc<AtomicBool>,
    pub(crate) wait: WaitStrategy,
}

/// Outcomes handled per loop before answers are flushed.
const BATCH: usize = 4096;

impl OutputStage {
    pub fn run(mut self) {
        self.bell.register_current();
        let mut idler = Idler::new(self.wait);
        let mut local = OutputCounts::default();
        let mut answers: Vec<Answer> = Vec::with_capacity(BATCH);
        let mut last_publish = Instant::now();
        loop {
            let finished = self.blp_finished.load(Ordering::Acquire);
            let started = Instant::now();
            let mut batch = Vec::new();
            let n = self.input.poll_batch(BATCH, |o, _| batch.push(o));
            for o in batch {
                self.handle(o, &mut answers, &mut local);
            }
            self.answers.send(&mut answers);
            if n > 0 {
                local.busy_ns += started.elapsed().as_nanos() as u64;
                idler.worked();
            }
            if last_publish.elapsed() >= PUBLISH_EVERY {
                self.counters.publish(&local);
                last_publish = Instant::now();
            }
            if n == 0 {
                if finished {
                    break;
                }
                let input = &self.input;
                idler.idle(&self.bell, Duration::from_millis(5), || input.backlog() > 0);
            }
        }
        self.counters.publish(&local);
    }

    fn handle(&mut self, o: Outcome, answers: &mut Vec<Answer>, local: &mut OutputCounts) {
        match o {
            Outcome::Accepted { origin, trx } => {
                if let (Some(trx), Some(feed)) = (trx, &self.pending_feed) {
                    feed.publish(trx);
                }
                // Only in-process submitters hear of acceptance (ingest frames, sent
                // here only while pending transactions are watched, get exactly one
                // answer, the final one).
                if matches!(origin, Origin::Local { .. }) {
                    local.accepted += 1;
                    answers.push(Answer {
                        origin,
                        code: code::ACCEPTED,
                        detail: Detail::new(),
                    });
                }
            }
            Outcome::Refused { origin, id, error } => {
                local.refused += 1;
                self.seen.remove(&id);
                answers.push(Answer {
                    origin,
                    code: code::REFUSED,
                    detail: error.to_string().into_bytes().into(),
                });
            }
            Outcome::Dropped { origin, id, error } => {
                local.dropped += 1;
                self.seen.remove(&id);
                answers.push(Answer {
                    origin,
                    code: code::DROPPED,
                    detail: error.to_string().into_bytes().into(),
                });
            }
            Outcome::Block(b) => self.block(*b, answers, local),
        }
    }

    fn block(&mut self, b: SealedBlock, answers: &mut Vec<Answer>, local: &mut OutputCounts) {
        let (first, keys) = &b.new_keys;
        let known = first + keys.len() as u32;
        self.keys.add(
            known,
            keys.iter()
                .enumerate()
                .map(|(i, k)| (*k, KeyId(first + i as u32))),
        );
        self.seen.set_head_time(b.header.timestamp.0);
        let Some(key) = self.witness_keys.get(&b.signing_key) else {
            local.unsigned_blocks += 1;
            tracing::error!(
                "block #{} was sealed for key {} that this node does not hold",
                b.block_num,
                b.signing_key
            );
            return;
        };
        if self.failure.lock().is_some() {
            // The log has a gap now: nothing after it can be written or answered.
            return;
        }
        let witness_signature = key.sign(&b.header.signing_digest(&self.chain_id).0);
        let mut included = b.included;
        let count = included.len();
        // The answers are made while the list still holds the origins, and taken back
        // if the block cannot be written: nobody hears of a block before it is logged.
        let answered_from = answers.len();
        let num = Detail::from_slice(b.block_num.to_string().as_bytes());
        for (trx_num, (_, origin)) in included.iter().enumerate() {
            answers.push(Answer {
                origin: *origin,
                code: code::INCLUDED,
                // In-process submitters (RPC) also learn the position in the block.
                detail: match origin {
                    Origin::Ingest { .. } => num.clone(),
                    Origin::Local { .. } => {
                        format!("{} {trx_num}", b.block_num).into_bytes().into()
                    }
                },
            });
        }
        let ids: Option<Arc<[crate::protocol::TransactionId]>> = self
            .observer
            .as_ref()
            .map(|_| included.iter().map(|(v, _)| v.id).collect());
        let block = SignedBlock {
            header: b.header,
            witness_signature,
            transactions: included
                .drain(..)
                .map(|(v, _)| Arc::try_unwrap(v.trx).unwrap_or_else(|t| (*t).clone()))
                .collect(),
        };
        self.spare.give(included);
        if let Some(storage) = &self.storage {
            if let Err(e) = write_block(storage, &block, b.last_irreversible) {
                answers.truncate(answered_from);
                let why = format!("block #{} could not be written: {e}", b.block_num);
                tracing::error!("{why}; stopping block production");
                *self.failure.lock() = Some(why);
                self.halt.store(true, Ordering::Relaxed);
                return;
            }
        }
        local.blocks += 1;
        local.included += count as u64;
        tracing::info!(
            "block #{} txs={} apply={}us witness={} lib={}",
            b.block_num,
            count,
            b.seal_us,
            block.header.witness,
            b.last_irreversible
        );
        if let (Some(obs), Some(ids)) = (&self.observer, ids) {
            let _ = obs.send(ProducedBlock {
                block: Arc::new(block),
                ids,
                sealed_at: b.sealed_at,
                seal_us: b.seal_us,
                last_irreversible: b.last_irreversible,
            });
        }
    }
}
