//! The business-logic processor: one thread that owns the chain state.
//!
//! It reads verified transactions from the verify workers' rings in each producer's
//! sequence order (from whichever worker holds each) and applies them to the pending
//! state. At each of this node's slots it seals the pending state into the next block
//! (the pending transactions become the block without being applied again), hands the
//! block to the output stage for signing and announcement, and retries the
//! transactions that did not fit.
//!
//! It never hashes transactions, verifies signatures or does I/O: ids, signer keys and
//! merkle leaves arrive computed, the witness signature is made by the output stage
//! (the block id does not cover it), and every answer leaves through the output ring.
//! Sealing does hash the merkle tree's inner nodes and the header (one hash per two
//! transactions, about 2% of a core at 100k TPS).

use super::counters::{counters, PUBLISH_EVERY};
use super::message::{Checked, Origin, Outcome, SealedBlock, SpareLists};
use super::pending::PendingFeed;
use super::query::{reads_budget, Reads, Taken};
use super::ring::{Consumer, Producer};
use super::wait::{Doorbell, Idler, WaitStrategy};
use crate::chain::{BlockContext, BlockError, Chain, TxError, VerifiedTransaction};
use crate::protocol::block::{merkle_root_in_place, BLOCK_ENVELOPE_BYTES};
use crate::protocol::{BlockHeader, PublicKey, TimePointSec};
use parking_lot::{RwLock, RwLockWriteGuard};
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

counters! {
    /// The BLP's counters.
    BlpCounters / BlpCounts {
        /// Applied to the pending state.
        applied,
        /// Refused by a state check.
        refused,
        /// Held for a later block because the pending block was full.
        held,
        /// Held or pending, then dropped when retried.
        dropped,
        /// Refused because the hold queue was full too.
        hold_full,
        /// Blocks sealed.
        blocks,
        /// RPC reads served between batches.
        reads,
        /// Transactions in those blocks.
        block_transactions,
        /// Nanoseconds spent working (not waiting).
        busy_ns,
        /// Snapshot copies handed to the snapshot thread.
        snapshots,
        /// Snapshots skipped because the previous one was still being written.
        snapshots_skipped,
        /// The longest pause for a snapshot copy, in microseconds.
        snapshot_copy_us_max,
    }
}

/// A copy of the state at a block boundary, for the snapshot thread to write.
pub struct SnapshotRequest {
    pub store: crate::chain::store::Store,
    pub block_num: u32,
    /// How long the BLP paused to make the copy.
    pub copy_us: u64,
}

/// How the BLP asks for snapshots: every `every` blocks it copies its tables (unless
/// the previous snapshot is still `busy`) and sends the copy.
#[derive(Clone)]
pub struct SnapshotHook {
    pub every: u32,
    pub busy: Arc<AtomicBool>,
    pub requests: std::sync::mpsc::Sender<SnapshotRequest>,
}

/// Valid transactions waiting for room in a block, at most.
pub const HOLD_MAX: usize = 1 << 20;

/// The BLP and its state.
pub struct Blp {
    pub chain: Chain,
    /// Block-signing public keys this node produces for (the private keys stay with
    /// the output stage).
    producing: BTreeSet<PublicKey>,
    /// Applied to the pending state, in order: they become the next block.
    pending: Vec<(VerifiedTransaction, Origin)>,
    /// Valid, but did not fit into the pending block.
    held: VecDeque<(VerifiedTransaction, Origin)>,
    /// The pending block's merkle leaves while it is sealed (kept for the next block).
    leaves: Vec<[u8; 32]>,
    /// Pending lists of sealed blocks, given back by the output stage.
    pub spare: SpareLists,
    /// Key ids the output stage has been told about.
    keys_announced: u32,
    counts: BlpCounts,
    /// Pending-transaction notices, when the node publishes them.
    pub pending_feed: Option<Arc<PendingFeed>>,
    /// Snapshots, when the node keeps them.
    pub snapshot: Option<SnapshotHook>,
}

impl Blp {
    pub fn new(chain: Chain, producing: BTreeSet<PublicKey>) -> Blp {
        Blp::with_reserve(chain, producing, 0)
    }
    /// A BLP with room for `pending` pending transactions reserved.
    pub fn with_reserve(chain: Chain, producing: BTreeSet<PublicKey>, pending: usize) -> Blp {
        let keys_announced = chain.keys_count();
        Blp {
            chain,
            producing,
            pending: Vec::with_capacity(pending),
            held: VecDeque::new(),
            leaves: Vec::new(),
            spare: SpareLists::default(),
            keys_announced,
            counts: BlpCounts::default(),
            pending_feed: None,
            snapshot: None,
        }
    }

    pub fn counts(&self) -> BlpCounts {
        self.counts
    }
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Applies one transaction to the pending state; what to tell its submitter.
    pub fn accept(&mut self, vtx: VerifiedTransaction, origin: Origin) -> Option<Outcome> {
        match self.chain.push_transaction(&vtx) {
            Ok(_) => {
                self.counts.applied += 1;
                let outcome = accepted(origin, &vtx, &self.pending_feed);
                self.pending.push((vtx, origin));
                outcome
            }
            Err(TxError::PendingFull { .. }) if self.held.len() < HOLD_MAX => {
                self.counts.held += 1;
                let outcome = accepted(origin, &vtx, &self.pending_feed);
                self.held.push_back((vtx, origin));
                outcome
            }
            Err(error) => {
                if matches!(error, TxError::PendingFull { .. }) {
                    self.counts.hold_full += 1;
                }
                self.counts.refused += 1;
                Some(Outcome::Refused {
                    origin,
                    id: vtx.id,
                    error,
                })
            }
        }
    }

    /// Seals the pending state into the block at `slot`, if this node holds the
    /// scheduled witness's key. Outcomes of retried held transactions go to `out`.
    pub fn seal(
        &mut self,
        slot: u32,
        out: &mut Vec<Outcome>,
    ) -> Result<Option<SealedBlock>, BlockError> {
        let started = Instant::now();
        let witness = self.chain.scheduled_witness(slot);
        let signing_key = self
            .chain
            .store
            .witnesses
            .get(witness.0)
            .expect("scheduled witnesses exist")
            .signing_key;
        if !self.producing.contains(&signing_key) {
            return Ok(None);
        }
        self.leaves.clear();
        self.leaves
            .extend(self.pending.iter().map(|(v, _)| v.merkle_leaf));
        let header = BlockHeader {
            previous: self.chain.store.dynamic().head_block_id,
            timestamp: self.chain.slot_time(slot),
            witness,
            transaction_merkle_root: merkle_root_in_place(&mut self.leaves),
            extensions: Default::default(),
        };
        let packed_size = BLOCK_ENVELOPE_BYTES
            + self
                .pending
                .iter()
                .map(|(v, _)| v.packed_size as usize)
                .sum::<usize>();
        let ctx = BlockContext {
            id: header.id(),
            signer: signing_key,
            packed_size,
        };
        self.chain.seal_pending_block(&header, &ctx)?;
        self.snapshot_if_due(header.block_num());
        // The pending list becomes the block's; the next one is a list that an earlier
        // block gave back, with its room.
        let next = self.spare.take(self.pending.capacity());
        let included = std::mem::replace(&mut self.pending, next);
        self.counts.blocks += 1;
        self.counts.block_transactions += included.len() as u64;
        let keys_now = self.chain.keys_count();
        let new_keys = (
            self.keys_announced,
            (self.keys_announced..keys_now)
                .filter_map(|i| self.chain.key_by_id(crate::chain::objects::KeyId(i)))
                .collect(),
        );
        self.keys_announced = keys_now;
        let block = SealedBlock {
            block_num: header.block_num(),
            header,
            signing_key,
            included,
            new_keys,
            last_irreversible: self.chain.last_irreversible_block_num(),
            seal_us: started.elapsed().as_micros() as u64,
            sealed_at: Instant::now(),
        };
        // Retry what did not fit; drop what is no longer valid.
        let waiting = std::mem::take(&mut self.held);
        for (vtx, origin) in waiting {
            match self.chain.push_transaction(&vtx) {
                Ok(_) => {
                    self.counts.applied += 1;
                    self.pending.push((vtx, origin));
                }
                Err(TxError::PendingFull { .. }) => self.held.push_back((vtx, origin)),
                Err(error) => {
                    self.counts.dropped += 1;
                    out.push(Outcome::Dropped {
                        origin,
                        id: vtx.id,
                        error,
                    });
                }
            }
        }
        Ok(Some(block))
    }
}

impl Blp {
    /// At a block boundary (nothing pending): copies the tables for the snapshot
    /// thread when one is due. The copy is the BLP's whole share of the work.
    fn snapshot_if_due(&mut self, block_num: u32) {
        let Some(hook) = &self.snapshot else { return };
        if hook.every == 0 || block_num % hook.every != 0 {
            return;
        }
        if hook.busy.swap(true, Ordering::AcqRel) {
            self.counts.snapshots_skipped += 1;
            return;
        }
        let started = Instant::now();
        let store = self.chain.store.clone_committed();
        let copy_us = started.elapsed().as_micros() as u64;
        self.counts.snapshots += 1;
        self.counts.snapshot_copy_us_max = self.counts.snapshot_copy_us_max.max(copy_us);
        let request = SnapshotRequest {
            store,
            block_num,
            copy_us,
        };
        if hook.requests.send(request).is_err() {
            hook.busy.store(false, Ordering::Release);
        }
    }
}

/// What the output stage hears of an accepted transaction: in-process submitters are
/// told at once; an ingest frame gets only its final answer (included, or why not),
/// so nothing is sent for it now. While pending transactions are watched, every
/// accepted one goes to the output stage, with the transaction.
fn accepted(
    origin: Origin,
    vtx: &VerifiedTransaction,
    feed: &Option<Arc<PendingFeed>>,
) -> Option<Outcome> {
    if feed.as_ref().is_some_and(|f| f.watched()) {
        return Some(Outcome::Accepted {
            origin,
            trx: Some(vtx.trx.clone()),
        });
    }
    match origin {
        Origin::Local { .. } => Some(Outcome::Accepted { origin, trx: None }),
        Origin::Ingest { .. } => None,
    }
}

/// Seconds since the Unix epoch, with sub-second precision, from the wall clock. The
/// node's production timing reads the clock; the chain state never does.
fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The worker whose ring for one producer holds that producer's transaction `seq`
/// at its head, looking first at `hint`; `None` until it has arrived.
fn holder_of(rings: &[Consumer<Checked>], seq: u64, hint: usize) -> Option<usize> {
    let n = rings.len();
    (0..n)
        .map(|k| (hint + k) % n)
        .find(|&w| rings[w].peek(Checked::seq) == Some(seq))
}

/// The state's write lock (parking_lot's, which does not poison: readers only read,
/// so one that panicked cannot have left the state half changed).
fn write(shared: &SharedBlp) -> RwLockWriteGuard<'_, Option<Blp>> {
    shared.write()
}

/// The next slot after now and its time.
fn next_slot(chain: &Chain) -> (u32, TimePointSec) {
    let now = TimePointSec(wall_clock().as_secs() as u32);
    let slot = chain.slot_at_time(now) + 1;
    (slot, chain.slot_time(slot))
}

/// Applies up to `batch_max` transactions, taking each producer's in order from
/// whichever worker's ring holds it.
fn take_batch(
    inputs: &mut [Vec<Consumer<Checked>>],
    next: &mut [u64],
    holder: &mut [usize],
    batch_max: usize,
    blp: &mut Blp,
    outcomes: &mut Vec<Outcome>,
) -> usize {
    let mut taken = 0;
    for p in 0..inputs.len() {
        while taken < batch_max {
            let Some(w) = holder_of(&inputs[p], next[p], holder[p]) else {
                break;
            };
            holder[p] = w;
            let ring = &inputs[p][w];
            let chain = &blp.chain;
            ring.prefetch_at(2 * PREFETCH_AHEAD);
            ring.peek_at(PREFETCH_AHEAD, |c| {
                if let Checked::Verified { vtx, .. } = c {
                    chain.prefetch_transaction(vtx);
                }
            });
            ring.peek_at(PREFETCH_AHEAD * 3 / 4, |c| {
                if let Checked::Verified { vtx, .. } = c {
                    chain.prefetch_operations(vtx);
                }
            });
            ring.peek_at(PREFETCH_AHEAD / 2, |c| {
                if let Checked::Verified { vtx, .. } = c {
                    chain.prefetch_accounts(vtx);
                }
            });
            ring.peek_at(PREFETCH_AHEAD / 4, |c| {
                if let Checked::Verified { vtx, .. } = c {
                    chain.prefetch_balances(vtx);
                }
            });
            // Applied where the ring hands it over: one copy of the result fewer.
            inputs[p][w].poll_batch(1, |c, _| {
                if let Checked::Verified { origin, vtx, .. } = c {
                    if let Some(o) = blp.accept(vtx, origin) {
                        outcomes.push(o);
                    }
                }
            });
            next[p] += 1;
            taken += 1;
        }
    }
    taken
}

/// How far ahead in a worker's ring the BLP starts loading a transaction's memory:
/// far enough that a miss to memory (the duplicate index is much larger than the
/// caches) has finished when the transaction's turn comes, near enough that the lines
/// are still cached then. In five steps, each needing what the one before loaded (as
/// a block's apply loop does): the ring slot (written on another core) at twice the
/// distance; then its duplicate-index slot, the transaction and its signers; then at
/// three quarters its operations, at half the accounts they name, and at a quarter
/// the balances and statistics they change.
const PREFETCH_AHEAD: usize = 8;

/// The BLP's state. The BLP thread holds the write lock while it works on a batch (at
/// most `batch_max` transactions, or one seal) and releases it between batches. Live
/// RPC reads do not take it: the BLP runs them itself between batches
/// ([`super::query`]). Only detached readers (tools, tests) and the pipeline's own
/// start and stop take it. Empty once the BLP stopped.
pub type SharedBlp = Arc<RwLock<Option<Blp>>>;

impl Drop for BlpStage {
    /// However the BLP's loop ends (a stop, or a panic), no reader waits on it.
    fn drop(&mut self) {
        self.reads.close();
    }
}

/// The BLP thread: its rings and its loop.
pub struct BlpStage {
    pub blp: SharedBlp,
    /// RPC reads to run between batches.
    pub(crate) reads: Arc<Reads>,
    pub(crate) taken_reads: Taken,
    /// `[producer][worker]`: each worker's results for each producer, in sequence
    /// order. A producer's transaction `seq` is in whichever worker it was routed to.
    pub(crate) inputs: Vec<Vec<Consumer<Checked>>>,
    /// Per producer: the sequence number to apply next.
    pub(crate) next: Vec<u64>,
    /// Per producer: the worker that held the last one (runs go to one worker).
    pub(crate) holder: Vec<usize>,
    pub(crate) output: Producer<Outcome>,
    pub(crate) output_bell: Arc<Doorbell>,
    pub(crate) bell: Arc<Doorbell>,
    pub(crate) counters: Arc<BlpCounters>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) batch_max: usize,
    pub(crate) wait: WaitStrategy,
    pub(crate) max_blocks: Option<u32>,
}

impl BlpStage {
    /// Runs until `stop` is set or `max_blocks` blocks were sealed; returns the BLP.
    pub fn run(mut self) -> Blp {
        self.bell.register_current();
        let mut idler = Idler::new(self.wait);
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(self.batch_max);
        let mut last_publish = Instant::now();
        let mut sealed = 0u32;
        let mut due = next_slot(&self.lock().as_ref().expect("the BLP").chain);
        while !self.stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let mut guard = write(&self.blp);
            let blp = guard.as_mut().expect("the BLP is there until it stops");
            let taken = take_batch(
                &mut self.inputs,
                &mut self.next,
                &mut self.holder,
                self.batch_max,
                blp,
                &mut outcomes,
            );
            let now = wall_clock();
            if now >= Duration::from_secs(due.1 .0 as u64) {
                match blp.seal(due.0, &mut outcomes) {
                    Ok(Some(block)) => {
                        outcomes.push(Outcome::Block(Box::new(block)));
                        sealed += 1;
                    }
                    Ok(None) => {}
                    // A block this node cannot seal is a bug worth a loud log line, not
                    // a reason to stop: the pending state stays and the next slot tries.
                    Err(e) => tracing::error!("could not seal the block for slot {}: {e}", due.0),
                }
                due = next_slot(&blp.chain);
            }
            let read = self.reads.serve(
                &blp.chain,
                reads_budget(started.elapsed()),
                &mut self.taken_reads,
            );
            blp.counts.reads += read as u64;
            let worked = taken > 0 || !outcomes.is_empty() || read > 0;
            if worked {
                blp.counts.busy_ns += started.elapsed().as_nanos() as u64;
            }
            if last_publish.elapsed() >= PUBLISH_EVERY {
                self.counters.publish(&blp.counts);
                last_publish = Instant::now();
            }
            drop(guard);
            self.send(&mut outcomes);
            if self.max_blocks.is_some_and(|m| sealed >= m) {
                break;
            }
            if worked {
                idler.worked();
            } else {
                let left = Duration::from_secs(due.1 .0 as u64)
                    .saturating_sub(wall_clock())
                    .min(Duration::from_millis(5));
                let inputs = &self.inputs;
                let next = &self.next;
                let reads = &self.reads;
                idler.idle(&self.bell, left, || {
                    reads.pending()
                        || inputs
                            .iter()
                            .zip(next)
                            .any(|(rings, &n)| holder_of(rings, n, 0).is_some())
                });
            }
        }
        self.reads.close();
        let blp = self.lock().take().expect("the BLP is taken once");
        self.counters.publish(&blp.counts);
        self.stop.store(true, Ordering::Relaxed);
        self.output_bell.ring();
        blp
    }

    fn lock(&self) -> RwLockWriteGuard<'_, Option<Blp>> {
        write(&self.blp)
    }

    /// Hands outcomes to the output stage, waiting for room when its ring is full.
    fn send(&mut self, outcomes: &mut Vec<Outcome>) {
        if outcomes.is_empty() {
            return;
        }
        let bell = &self.output_bell;
        for o in outcomes.drain(..) {
            // The output stage runs until the BLP has finished, so this never gives up.
            self.output.publish_waiting(o, || {
                bell.ring();
                true
            });
        }
        self.output_bell.ring();
    }
}
