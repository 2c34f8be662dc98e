//! The LMAX pipeline around the business-logic processor.
//!
//! ```text
//!  netio threads ──┐ ring per (producer, worker)              ring per (producer, worker)
//!  Submitter ──────┴──────────► verify workers (N) ───────────────► BLP ───► output stage
//!                               decode, hash, dedup,                one      answers, block
//!                               batch Ed25519 (ZIP-215)             thread   signing, observers
//! ```
//!
//! Every ring is a bounded SPSC ring (`ring`): a full ring pushes back on whoever
//! feeds it, up to the network thread, which stops reading the connection until there
//! is room (TCP flow control then holds the client back). Each stage counts
//! in local integers and publishes its counters periodically (`counters`). Threads are
//! placed on CPUs as the hardware profile says (`Placement`).

pub mod answer;
pub mod blp;
pub mod counters;
pub mod dispatch;
pub mod message;
pub mod output;
pub mod pending;
pub mod query;
pub mod ring;
pub mod verify;
pub mod wait;

use crate::chain::Chain;
use answer::{Answerer, LocalAnswer};
use blp::{Blp, BlpCounters, BlpCounts, BlpStage, SharedBlp};
use dispatch::{Dispatch, IngestSink, RoomSignal, Submitter};
use output::{OutputCounters, OutputCounts, OutputStage, ProducedBlock, WitnessKeys};
use parking_lot::RwLock;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use verify::cache::{KeyDirectory, SeenCache};
use verify::stage::KeyCache;
use verify::worker::{VerifyCounters, VerifyCounts, VerifyWorker, WorkerShared};
use wait::{Doorbell, SchedPolicy, WaitStrategy};

/// Which CPUs each stage's threads run on (OS CPU numbers). Empty / `None` leaves a
/// thread to the scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// Network thread `i` runs on `ingest[i % len]`.
    pub ingest: Vec<usize>,
    /// Verify worker `i` runs on `verify[i % len]`.
    pub verify: Vec<usize>,
    pub blp: Option<usize>,
    pub output: Option<usize>,
}

/// Everything the pipeline needs to know; the hardware profile fills it.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub verify_workers: usize,
    /// Most transactions per verify batch.
    pub verify_batch: usize,
    /// Depth of each producer → worker ring (a power of two).
    pub ingest_ring: usize,
    /// Depth of each worker → BLP ring (a power of two).
    pub checked_ring: usize,
    /// Depth of the BLP → output ring (a power of two).
    pub outcome_ring: usize,
    /// Most transactions the BLP applies between clock checks.
    pub blp_batch: usize,
    /// Decompressed public keys cached per verify worker.
    pub key_cache_entries: usize,
    /// Recently verified transactions remembered (the signature cache).
    pub seen_cache_entries: usize,
    /// What idle verify workers, the BLP and the output stage do.
    pub verify_wait: WaitStrategy,
    pub blp_wait: WaitStrategy,
    /// The BLP thread's scheduling policy.
    pub blp_policy: SchedPolicy,
    pub output_wait: WaitStrategy,
    pub placement: Placement,
    /// The ingest server; `None` runs without a network port.
    pub ingest: Option<netio::Config>,
    /// Stop after sealing this many blocks.
    pub max_blocks: Option<u32>,
    /// Pending transactions the BLP reserves room for.
    pub pending_reserve: usize,
    /// The block log and snapshots; `None` keeps the chain in memory only.
    pub storage: Option<StorageHooks>,
}

/// How the pipeline reaches the disk: the output stage writes every block to `log`
/// before telling anyone about it; the BLP copies its tables for a snapshot every
/// `snapshot_every` blocks and hands the copy to `snapshots`.
#[derive(Clone)]
pub struct StorageHooks {
    pub log: Arc<crate::storage::blocklog::BlockLog>,
    pub fsync: crate::storage::FsyncPolicy,
    /// Told the number of each block written, for the sync thread (`Irreversible`).
    pub written: Option<mpsc::Sender<u32>>,
    pub snapshot: Option<blp::SnapshotHook>,
}

impl std::fmt::Debug for StorageHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageHooks")
            .field("log", &self.log.log_path())
            .field("fsync", &self.fsync)
            .field("snapshot_every", &self.snapshot.as_ref().map(|s| s.every))
            .finish()
    }
}

impl Default for PipelineConfig {
    fn default() -> PipelineConfig {
        PipelineConfig {
            verify_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            verify_batch: 256,
            ingest_ring: 8192,
            checked_ring: 8192,
            outcome_ring: 65536,
            blp_batch: 4096,
            key_cache_entries: 1 << 16,
            seen_cache_entries: 1 << 20,
            verify_wait: WaitStrategy::Block,
            blp_wait: WaitStrategy::Block,
            blp_policy: SchedPolicy::Normal,
            output_wait: WaitStrategy::Block,
            placement: Placement::default(),
            ingest: None,
            max_blocks: None,
            pending_reserve: 0,
            storage: None,
        }
    }
}

impl PipelineConfig {
    /// Checks the sizes the rings and stages need.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("ingest_ring", self.ingest_ring),
            ("checked_ring", self.checked_ring),
            ("outcome_ring", self.outcome_ring),
        ] {
            if !v.is_power_of_two() || v < 2 {
                return Err(format!("{name} = {v}: ring depths are powers of two >= 2"));
            }
        }
        if self.verify_workers == 0 {
            return Err("verify_workers must be at least 1".into());
        }
        if self.verify_batch == 0 || self.blp_batch == 0 {
            return Err("batch sizes must be at least 1".into());
        }
        Ok(())
    }
}

/// A snapshot of every stage's counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineStats {
    pub verify: VerifyCounts,
    pub verify_workers: Vec<VerifyCounts>,
    pub blp: BlpCounts,
    pub output: OutputCounts,
    #[serde(skip)]
    pub ingest: Option<netio::Stats>,
}

/// A snapshot of the stages' counters (without the ingest server's).
fn collect_stats(
    verify_counters: &[Arc<VerifyCounters>],
    blp: &BlpCounters,
    output: &OutputCounters,
) -> PipelineStats {
    let workers: Vec<VerifyCounts> = verify_counters.iter().map(|c| c.snapshot()).collect();
    let mut verify = VerifyCounts::default();
    for w in &workers {
        verify.add(w);
    }
    PipelineStats {
        verify,
        verify_workers: workers,
        blp: blp.snapshot(),
        output: output.snapshot(),
        ingest: None,
    }
}

/// Read access to the chain state. While the pipeline runs, a read is run by the BLP
/// itself between two batches (see [`query`]): the BLP never waits for a reader, and a
/// reader waits for at most the batch in progress. Keep reads short: copy out what the
/// answer needs. A detached reader (no pipeline) reads under the state's lock.
#[derive(Clone)]
pub struct StateReader {
    blp: SharedBlp,
    reads: Option<Arc<query::Reads>>,
}

/// The pipeline has stopped: there is no live state to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the node is shutting down")]
pub struct Stopped;

impl StateReader {
    /// A reader over `chain` with no pipeline behind it (tests, tools).
    pub fn detached(chain: Chain) -> StateReader {
        StateReader {
            blp: Arc::new(RwLock::new(Some(Blp::new(chain, BTreeSet::new())))),
            reads: None,
        }
    }
    /// A reader over `chain` whose reads are queued on `reads`, for a thread that
    /// plays the BLP's part (benches): it must serve them between its writes.
    pub fn served(chain: Chain, reads: Arc<query::Reads>) -> StateReader {
        StateReader {
            reads: Some(reads),
            ..StateReader::detached(chain)
        }
    }
    /// Runs `f` with the state to change, under the write lock (the BLP's side, for
    /// benches and tools that drive a detached state), then serves the reads queued
    /// for a served reader, as the BLP does between batches.
    pub fn write<R>(&self, f: impl FnOnce(&mut Chain) -> R) -> Result<R, Stopped> {
        self.write_and_serve(f, &mut query::Taken::default())
    }
    /// As [`StateReader::write`], with room for the reads kept by the caller.
    pub fn write_and_serve<R>(
        &self,
        f: impl FnOnce(&mut Chain) -> R,
        taken: &mut query::Taken,
    ) -> Result<R, Stopped> {
        let mut guard = self.blp.write();
        let blp = guard.as_mut().ok_or(Stopped)?;
        let started = std::time::Instant::now();
        let r = f(&mut blp.chain);
        if let Some(reads) = &self.reads {
            reads.serve(&blp.chain, query::reads_budget(started.elapsed()), taken);
        }
        parking_lot::RwLockWriteGuard::unlock_fair(guard);
        Ok(r)
    }
    /// Runs `f` on the current state (the pending state: the head block plus the
    /// transactions applied since).
    pub fn read<R: Send>(&self, f: impl FnOnce(&Chain) -> R + Send) -> Result<R, Stopped> {
        match &self.reads {
            Some(reads) => reads.run(f),
            None => {
                let guard = self.blp.read();
                guard.as_ref().map(|blp| f(&blp.chain)).ok_or(Stopped)
            }
        }
    }
}

pub struct Pipeline {
    stop: Arc<AtomicBool>,
    state: SharedBlp,
    reads: Arc<query::Reads>,
    blp: Option<JoinHandle<Blp>>,
    others: Vec<JoinHandle<()>>,
    server: Option<netio::Server>,
    submitter: Submitter,
    local_answers: Option<Receiver<LocalAnswer>>,
    blocks: Option<Receiver<ProducedBlock>>,
    verify_counters: Vec<Arc<VerifyCounters>>,
    blp_counters: Arc<BlpCounters>,
    output_counters: Arc<OutputCounters>,
    bells: Vec<Arc<Doorbell>>,
    pending_feed: Arc<pending::PendingFeed>,
    failure: Arc<parking_lot::Mutex<Option<String>>>,
}

fn pin(cpu: Option<usize>, what: &str) {
    if let Some(cpu) = cpu {
        match affinity::pin_current_thread(cpu) {
            Ok(()) => tracing::debug!("{what} pinned to CPU {cpu}"),
            Err(e) => tracing::warn!("{what} not pinned: {e}"),
        }
    }
}

fn pick(cpus: &[usize], i: usize) -> Option<usize> {
    (!cpus.is_empty()).then(|| cpus[i % cpus.len()])
}

impl Pipeline {
    /// Starts every stage: the output stage, the BLP over `chain`, the verify workers
    /// and, if configured, the ingest server.
    pub fn start(
        chain: Chain,
        keys: WitnessKeys,
        config: PipelineConfig,
    ) -> anyhow::Result<Pipeline> {
        config.validate().map_err(anyhow::Error::msg)?;
        let workers = config.verify_workers;
        let net_threads = config.ingest.as_ref().map_or(0, |c| c.threads.max(1));
        // Producer 0 is the in-process submitter; 1.. are the network threads.
        let producers = 1 + net_threads;
        let stop = Arc::new(AtomicBool::new(false));
        let blp_finished = Arc::new(AtomicBool::new(false));
        let worker_bells: Vec<Arc<Doorbell>> =
            (0..workers).map(|_| Arc::new(Doorbell::new())).collect();
        let blp_bell = Arc::new(Doorbell::new());
        let output_bell = Arc::new(Doorbell::new());

        let mut worker_inputs: Vec<Vec<_>> = (0..workers).map(|_| Vec::new()).collect();
        let mut worker_outputs: Vec<Vec<_>> = (0..workers).map(|_| Vec::new()).collect();
        let mut worker_room: Vec<Vec<Arc<RoomSignal>>> = (0..workers).map(|_| Vec::new()).collect();
        let mut dispatches = Vec::new();
        let mut blp_inputs = Vec::new();
        for _ in 0..producers {
            let mut to_workers = Vec::new();
            let mut from_workers = Vec::new();
            let mut room = Vec::new();
            for w in 0..workers {
                let (p, c) = ring::ring(config.ingest_ring);
                to_workers.push(p);
                worker_inputs[w].push(c);
                let signal = Arc::new(RoomSignal::default());
                room.push(signal.clone());
                worker_room[w].push(signal);
                let (p, c) = ring::ring(config.checked_ring);
                worker_outputs[w].push(p);
                from_workers.push(c);
            }
            dispatches.push(Dispatch::new(to_workers, worker_bells.clone(), room));
            blp_inputs.push(from_workers);
        }
        let mut dispatches = dispatches.into_iter();
        let submitter = Submitter::new(dispatches.next().expect("producer 0"));

        let server = match &config.ingest {
            Some(net) => {
                let mut sinks: Vec<Option<IngestSink>> = dispatches
                    .map(|dispatch| Some(IngestSink { dispatch }))
                    .collect();
                let cpus = config.placement.ingest.clone();
                let server = netio::Server::start(
                    net.clone(),
                    |i| sinks[i].take().expect("one sink per network thread"),
                    move |i| pin(pick(&cpus, i), &format!("network thread {i}")),
                )?;
                match server.fallback_reason() {
                    Some(why) => tracing::warn!(
                        "ingest on {} uses the fallback backend: {why}",
                        server.local_addr()
                    ),
                    None => tracing::info!(
                        "ingest on {} ({:?} backend, {} threads)",
                        server.local_addr(),
                        server.backend(),
                        net.threads.max(1)
                    ),
                }
                Some(server)
            }
            None => None,
        };
        let (local_tx, local_rx) = mpsc::channel();
        let answers = Answerer::new(server.as_ref().map(|s| s.responder()), Some(local_tx));
        let seen = Arc::new(SeenCache::new(config.seen_cache_entries));
        seen.set_head_time(chain.head_block_time().0);
        let key_dir = Arc::new(KeyDirectory::from_chain(&chain));
        let chain_id = chain.chain_id();
        let producing: BTreeSet<_> = keys.public_keys().collect();

        let mut others = Vec::new();
        let (block_tx, block_rx) = mpsc::channel();
        let output_counters = Arc::new(OutputCounters::default());
        let (outcome_p, outcome_c) = ring::ring(config.outcome_ring);
        let pending_feed = Arc::new(pending::PendingFeed::default());
        let failure: Arc<parking_lot::Mutex<Option<String>>> = Default::default();
        let spare = message::SpareLists::default();
        let stage = OutputStage {
            input: outcome_c,
            spare: spare.clone(),
            pending_feed: Some(pending_feed.clone()),
            bell: output_bell.clone(),
            answers: answers.clone(),
            seen: seen.clone(),
            keys: key_dir.clone(),
            witness_keys: keys,
            chain_id,
            observer: Some(block_tx),
            storage: config.storage.clone(),
            failure: failure.clone(),
            halt: stop.clone(),
            counters: output_counters.clone(),
            blp_finished: blp_finished.clone(),
            wait: config.output_wait,
        };
        let cpu = config.placement.output;
        others.push(
            std::thread::Builder::new()
                .name("output".into())
                .spawn(move || {
                    pin(cpu, "output stage");
                    stage.run()
                })?,
        );

        let blp_counters = Arc::new(BlpCounters::default());
        let mut blp = Blp::with_reserve(chain, producing, config.pending_reserve);
        blp.pending_feed = Some(pending_feed.clone());
        blp.spare = spare;
        blp.snapshot = config.storage.as_ref().and_then(|s| s.snapshot.clone());
        let state: SharedBlp = Arc::new(RwLock::new(Some(blp)));
        let reads = Arc::new(query::Reads::new(blp_bell.clone()));
        let stage = BlpStage {
            blp: state.clone(),
            reads: reads.clone(),
            taken_reads: query::Taken::default(),
            next: vec![0; producers],
            holder: vec![0; producers],
            inputs: blp_inputs,
            output: outcome_p,
            output_bell: output_bell.clone(),
            bell: blp_bell.clone(),
            counters: blp_counters.clone(),
            stop: stop.clone(),
            batch_max: config.blp_batch,
            max_blocks: config.max_blocks,
            wait: config.blp_wait,
        };
        let cpu = config.placement.blp;
        let policy = config.blp_policy;
        let finished = blp_finished.clone();
        let blp = std::thread::Builder::new()
            .name("blp".into())
            .spawn(move || {
                pin(cpu, "BLP");
                if policy != SchedPolicy::Normal {
                    match policy.apply_to_current_thread() {
                        Ok(()) => tracing::debug!("BLP scheduled {policy:?}"),
                        Err(e) => tracing::warn!("BLP not scheduled {policy:?}: {e}"),
                    }
                }
                let blp = stage.run();
                finished.store(true, Ordering::Release);
                blp
            })?;

        let shared = Arc::new(WorkerShared {
            chain_id,
            seen,
            keys: key_dir,
            answers,
            stop: stop.clone(),
            blp_bell: blp_bell.clone(),
        });
        let mut verify_counters = Vec::new();
        for (w, ((inputs, outputs), room)) in worker_inputs
            .into_iter()
            .zip(worker_outputs)
            .zip(worker_room)
            .enumerate()
        {
            let counters = Arc::new(VerifyCounters::default());
            verify_counters.push(counters.clone());
            let worker = VerifyWorker {
                shared: shared.clone(),
                inputs,
                outputs,
                room,
                bell: worker_bells[w].clone(),
                counters,
                key_cache: KeyCache::with_directory(config.key_cache_entries, shared.keys.clone()),
                batch_max: config.verify_batch,
                wait: config.verify_wait,
                bad_per_mille: 0,
            };
            let cpu = pick(&config.placement.verify, w);
            others.push(
                std::thread::Builder::new()
                    .name(format!("verify-{w}"))
                    .spawn(move || {
                        pin(cpu, &format!("verify worker {w}"));
                        worker.run()
                    })?,
            );
        }
        let mut bells = worker_bells;
        bells.push(blp_bell);
        bells.push(output_bell);
        Ok(Pipeline {
            stop,
            state,
            reads,
            blp: Some(blp),
            others,
            server,
            submitter,
            local_answers: Some(local_rx),
            blocks: Some(block_rx),
            verify_counters,
            blp_counters,
            output_counters,
            bells,
            pending_feed,
            failure,
        })
    }

    /// Why the pipeline stopped itself, if it did (a block it could not write).
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().clone()
    }

    /// The chain state for readers (RPC): see [`StateReader`].
    pub fn state(&self) -> StateReader {
        StateReader {
            blp: self.state.clone(),
            reads: Some(self.reads.clone()),
        }
    }
    /// Submits from inside the process (RPC, tests).
    pub fn submitter(&self) -> Submitter {
        self.submitter.clone()
    }
    /// Answers to `Submitter` submissions (can be taken once).
    pub fn take_local_answers(&mut self) -> Option<Receiver<LocalAnswer>> {
        self.local_answers.take()
    }
    /// Pending-transaction notices: watching makes the BLP pass on each transaction
    /// it accepts.
    pub fn pending_feed(&self) -> Arc<pending::PendingFeed> {
        self.pending_feed.clone()
    }
    /// Blocks as they are produced (can be taken once).
    pub fn take_blocks(&mut self) -> Option<Receiver<ProducedBlock>> {
        self.blocks.take()
    }
    pub fn ingest_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref().map(|s| s.local_addr())
    }
    pub fn ingest_backend(&self) -> Option<netio::Backend> {
        self.server.as_ref().map(|s| s.backend())
    }
    pub fn stats(&self) -> PipelineStats {
        let mut s = collect_stats(
            &self.verify_counters,
            &self.blp_counters,
            &self.output_counters,
        );
        s.ingest = self.server.as_ref().map(|s| s.stats());
        s
    }
    /// Reads the stages' counters from another thread (for `/metrics`); the ingest
    /// server's are left out.
    pub fn counters(&self) -> impl Fn() -> PipelineStats + Send + Sync + 'static {
        let verify = self.verify_counters.clone();
        let blp = self.blp_counters.clone();
        let output = self.output_counters.clone();
        move || collect_stats(&verify, &blp, &output)
    }
    /// Whether the BLP has stopped (after `max_blocks`, or on `stop`).
    pub fn is_finished(&self) -> bool {
        self.blp.as_ref().is_none_or(|b| b.is_finished())
    }

    /// Waits for the BLP to stop on its own (`max_blocks`), then stops the rest.
    pub fn join(mut self) -> anyhow::Result<Blp> {
        self.join_inner()
    }

    /// Stops every stage and returns the BLP with the chain state.
    pub fn stop(mut self) -> anyhow::Result<Blp> {
        self.stop.store(true, Ordering::Relaxed);
        for b in &self.bells {
            b.ring();
        }
        self.join_inner()
    }

    fn join_inner(&mut self) -> anyhow::Result<Blp> {
        let blp = self.blp.take().expect("joined once");
        let blp = blp
            .join()
            .map_err(|_| anyhow::anyhow!("the BLP thread panicked"))?;
        self.shutdown();
        Ok(blp)
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for b in &self.bells {
            b.ring();
        }
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
        for t in self.others.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(b) = self.blp.take() {
            for bell in &self.bells {
                bell.ring();
            }
            let _ = b.join();
        }
        self.shutdown();
    }
}
