//! `carbyne node`: the block-producing loop.
//!
//! With `--dev` it starts a one-node chain on the embedded dev genesis, holding the keys
//! of all eleven dev witnesses, and produces a block every slot. Transactions arriving
//! on the inbox are applied to the pending state as they come; the pending set becomes
//! the next block; transactions that did not fit wait for a later block and are dropped
//! once they are no longer valid.

use super::producer::{produce_block, WitnessKeys};
use crate::chain::genesis::{dev_key, dev_witness_key, GenesisState, DEV_WITNESS_COUNT};
use crate::chain::{Chain, TxError, VerifiedTransaction};
use crate::protocol::TimePointSec;
use anyhow::{bail, Context};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// Start a fresh one-node development chain on the embedded genesis.
    #[arg(long)]
    pub dev: bool,
    /// Genesis JSON with the BitShares field names.
    #[arg(long)]
    pub genesis_json: Option<PathBuf>,
    /// Data directory (block log and snapshots arrive in a later release).
    #[arg(long, default_value = "./carbyne-data")]
    pub data_dir: PathBuf,
    /// Stop after producing this many blocks (for scripted runs).
    #[arg(long)]
    pub max_blocks: Option<u32>,
}

/// Pending transactions that are waiting for room in a block.
const OVERFLOW_MAX: usize = 1 << 20;

pub struct Node {
    pub chain: Chain,
    keys: WitnessKeys,
    /// Applied to the pending state, in order: they become the next block.
    pending: Vec<VerifiedTransaction>,
    /// Valid but did not fit into the current block.
    overflow: VecDeque<VerifiedTransaction>,
    inbox: Receiver<VerifiedTransaction>,
    /// (block number, transaction count) of the most recent blocks produced here.
    pub recent_blocks: VecDeque<(u32, usize)>,
}

/// How many `recent_blocks` entries are kept.
const RECENT_BLOCKS_MAX: usize = 1024;

fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

impl Node {
    pub fn new(chain: Chain, keys: WitnessKeys) -> (Node, Sender<VerifiedTransaction>) {
        let (tx, inbox) = mpsc::channel();
        (
            Node {
                chain,
                keys,
                pending: Vec::new(),
                overflow: VecDeque::new(),
                inbox,
                recent_blocks: VecDeque::new(),
            },
            tx,
        )
    }

    /// Applies one arriving transaction to the pending state.
    pub fn accept(&mut self, vtx: VerifiedTransaction) -> Result<(), TxError> {
        match self.chain.push_transaction(&vtx) {
            Ok(_) => {
                self.pending.push(vtx);
                Ok(())
            }
            Err(TxError::PendingFull { .. }) if self.overflow.len() < OVERFLOW_MAX => {
                self.overflow.push_back(vtx);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Produces the block for `slot` if this node holds its witness key.
    fn produce(&mut self, slot: u32) -> anyhow::Result<()> {
        let started = Instant::now();
        let txs = self
            .pending
            .iter()
            .map(|v| (*v.trx).clone())
            .collect::<Vec<_>>();
        let count = txs.len();
        let Some((block, _ctx)) = produce_block(&mut self.chain, &self.keys, slot, txs)? else {
            return Ok(());
        };
        self.pending.clear();
        if self.recent_blocks.len() == RECENT_BLOCKS_MAX {
            self.recent_blocks.pop_front();
        }
        self.recent_blocks.push_back((block.block_num(), count));
        // Retry what did not fit; drop what is no longer valid.
        let waiting = std::mem::take(&mut self.overflow);
        for vtx in waiting {
            let _ = self.accept(vtx);
        }
        tracing::info!(
            "block #{} txs={} apply={}us witness={} lib={}",
            block.block_num(),
            count,
            started.elapsed().as_micros(),
            block.header.witness,
            self.chain.last_irreversible_block_num()
        );
        Ok(())
    }

    /// Runs until `max_blocks` blocks were produced (forever if `None`).
    pub fn run(&mut self, max_blocks: Option<u32>) -> anyhow::Result<()> {
        let mut produced = 0u32;
        loop {
            if max_blocks.is_some_and(|m| produced >= m) {
                return Ok(());
            }
            let now = TimePointSec(now_secs());
            let slot = self.chain.slot_at_time(now) + 1;
            let due = self.chain.slot_time(slot);
            self.wait_until(due);
            // A block this node cannot seal is a bug worth a loud log line, not a reason
            // to stop: the pending state stays and the next slot tries again.
            match self.produce(slot) {
                Ok(()) => produced += 1,
                Err(e) => tracing::error!("could not produce the block for slot {slot}: {e}"),
            }
        }
    }

    /// Applies arriving transactions until the wall clock reaches `due`.
    fn wait_until(&mut self, due: TimePointSec) {
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let target = Duration::from_secs(due.0 as u64);
            let Some(left) = target.checked_sub(now) else {
                return;
            };
            match self.inbox.recv_timeout(left) {
                Ok(vtx) => {
                    if let Err(e) = self.accept(vtx) {
                        tracing::debug!("pending transaction refused: {e}");
                    }
                }
                Err(RecvTimeoutError::Timeout) => return,
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(left),
            }
        }
    }
}

pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stdout)
        .init();
    let (genesis, keys) = match (&args.genesis_json, args.dev) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let g: GenesisState = serde_json::from_str(&text)
                .with_context(|| format!("parsing genesis {}", path.display()))?;
            (g, WitnessKeys::default())
        }
        (None, true) => {
            let interval = 1;
            let start = TimePointSec(now_secs() / interval * interval);
            let mut keys = WitnessKeys::default();
            for i in 0..DEV_WITNESS_COUNT {
                keys.insert(dev_witness_key(i));
            }
            (GenesisState::dev(start), keys)
        }
        (None, false) => bail!("give --dev for a development chain, or --genesis-json FILE"),
    };
    let chain_id = genesis.chain_id();
    let chain = Chain::from_genesis(&genesis, chain_id)?;
    tracing::info!("chain id {chain_id}");
    if args.dev {
        let dev = dev_key();
        tracing::info!(
            "dev account `dev` key: public {} private {}",
            dev.public_key(),
            dev.to_wif()
        );
    }
    tracing::warn!(
        "data dir {}: the block log and snapshots are not built yet in this release; the chain lives in memory only",
        args.data_dir.display()
    );
    let (mut node, _inbox) = Node::new(chain, keys);
    node.run(args.max_blocks)
}
