//! Durability: the block log, snapshots, replay and start-up.
//!
//! ```text
//! DATA_DIR/blockchain/
//!   genesis.json          the genesis this data belongs to (the dev chain's too)
//!   blocks.log            every block, framed and checksummed (`blocklog`)
//!   blocks.index          block number → offset (derived; rebuilt when damaged)
//!   snapshots/            the state every N blocks and at shutdown (`snapshot`)
//! ```
//!
//! Nothing here runs on the BLP. The output stage appends each block to the log
//! before it tells anyone about the block; the BLP only copies its tables when a
//! snapshot is due, and a snapshot thread encodes, hashes and writes the copy.
//! Start-up loads the newest snapshot that checks out and replays the log after it.

pub mod blocklog;
pub mod replay;
pub mod snapshot;

use crate::chain::genesis::GenesisState;
use crate::chain::store::Store;
use crate::chain::Chain;
use crate::protocol::{BlockId, ChainId};
use anyhow::{bail, Context as _};
use blocklog::BlockLog;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// When block log writes are forced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// A sync thread syncs the log as blocks arrive, and the node reports a block as
    /// irreversible only once it is synced: nothing reported irreversible is lost,
    /// even to a power cut, and block production never waits for the disk.
    #[default]
    Irreversible,
    /// Sync each block before its transactions are answered as included.
    EveryBlock,
    /// Leave it to the kernel. Blocks survive the process dying, not a power cut.
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub fsync: FsyncPolicy,
    /// A snapshot every this many blocks (0: only at shutdown).
    pub snapshot_every_blocks: u32,
    /// Snapshots kept; older ones are deleted after a new one is written.
    pub snapshots_kept: u32,
}

impl Default for StorageConfig {
    fn default() -> StorageConfig {
        StorageConfig {
            fsync: FsyncPolicy::Irreversible,
            snapshot_every_blocks: 3600,
            snapshots_kept: 3,
        }
    }
}

pub const BLOCKCHAIN_DIR: &str = "blockchain";
pub const SNAPSHOT_DIR: &str = "snapshots";
pub const GENESIS_FILE: &str = "genesis.json";

/// The opened `blockchain/` directory.
pub struct Storage {
    pub dir: PathBuf,
    pub snapshots: PathBuf,
    pub log: Arc<BlockLog>,
    pub config: StorageConfig,
}

/// How the state is rebuilt at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// The newest good snapshot, then the log after it.
    Resume,
    /// From genesis through the whole log; signatures of blocks that were
    /// irreversible when written are not checked again.
    Replay,
    /// From genesis through the whole log, checking every signature.
    Revalidate,
}

/// The genesis stored in `dir`, if any.
pub fn stored_genesis(blockchain_dir: &Path) -> anyhow::Result<Option<GenesisState>> {
    let path = blockchain_dir.join(GENESIS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("parsing {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Records `genesis` in `dir` (atomically), so that later starts use the same chain.
pub fn store_genesis(blockchain_dir: &Path, genesis: &GenesisState) -> anyhow::Result<()> {
    let path = blockchain_dir.join(GENESIS_FILE);
    let tmp = blockchain_dir.join(format!("{GENESIS_FILE}.tmp"));
    let text = serde_json::to_string_pretty(genesis).context("encoding the genesis")?;
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    blocklog::sync_dir(blockchain_dir)
        .with_context(|| format!("syncing {}", blockchain_dir.display()))?;
    Ok(())
}

/// Deletes the block log, its index, the snapshots and the stored genesis
/// (`--resync-blockchain`).
pub fn wipe(blockchain_dir: &Path) -> anyhow::Result<()> {
    for name in [blocklog::LOG_FILE, blocklog::INDEX_FILE, GENESIS_FILE] {
        let p = blockchain_dir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => tracing::info!("removed {}", p.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
        }
    }
    let snaps = blockchain_dir.join(SNAPSHOT_DIR);
    if snaps.exists() {
        std::fs::remove_dir_all(&snaps).with_context(|| format!("removing {}", snaps.display()))?;
        tracing::info!("removed {}", snaps.display());
    }
    Ok(())
}

impl Storage {
    /// Opens the block log in `blockchain_dir` (created if missing) for `chain_id`,
    /// repairing a torn or corrupt tail.
    pub fn open(
        blockchain_dir: &Path,
        chain_id: ChainId,
        config: StorageConfig,
    ) -> anyhow::Result<Storage> {
        let snapshots = blockchain_dir.join(SNAPSHOT_DIR);
        std::fs::create_dir_all(&snapshots)
            .with_context(|| format!("cannot create {}", snapshots.display()))?;
        for p in snapshot::remove_partial(&snapshots)
            .with_context(|| format!("cleaning {}", snapshots.display()))?
        {
            tracing::warn!(
                "removed {}, a snapshot whose writing did not finish",
                p.display()
            );
        }
        let (log, report) = BlockLog::open(blockchain_dir, chain_id)?;
        if let Some(t) = &report.truncated {
            tracing::warn!(
                "block log {}: {} at block #{} (offset {}): cut {} bytes; the log now ends at block #{}. Blocks after it will be produced again or fetched from peers",
                log.log_path().display(),
                t.reason,
                t.first_dropped,
                t.offset,
                t.bytes,
                log.head()
            );
        }
        if report.index_rebuilt > 0 {
            tracing::info!(
                "block log index: {} entries rebuilt from the log",
                report.index_rebuilt
            );
        }
        Ok(Storage {
            dir: blockchain_dir.to_path_buf(),
            snapshots,
            log: Arc::new(log),
            config,
        })
    }

    /// The id of block `num` as the log has it.
    fn logged_block_id(&self, num: u32) -> anyhow::Result<Option<BlockId>> {
        Ok(match self.log.read(num)? {
            Some(raw) => Some(
                raw.decode()
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("block #{num} in the block log"))?
                    .header
                    .id(),
            ),
            None => None,
        })
    }

    /// The newest snapshot that loads, checks out and matches the log, or `None`.
    /// Each one that does not is reported and skipped.
    fn newest_good_snapshot(&self, chain_id: ChainId) -> anyhow::Result<Option<Chain>> {
        let found = snapshot::list(&self.snapshots)
            .with_context(|| format!("listing {}", self.snapshots.display()))?;
        for (num, path) in found {
            if num > self.log.head() {
                tracing::warn!(
                    "snapshot {} is ahead of the block log (which ends at #{}); skipping it",
                    path.display(),
                    self.log.head()
                );
                continue;
            }
            let started = std::time::Instant::now();
            match snapshot::load(&path, chain_id) {
                Ok((meta, store)) => {
                    if num > 0 && self.logged_block_id(num)? != Some(meta.block_id) {
                        tracing::warn!(
                            "snapshot {} holds block {} but the block log has another block #{num}; skipping it",
                            path.display(),
                            meta.block_id
                        );
                        continue;
                    }
                    tracing::info!(
                        "loaded snapshot {} (block #{num}, state digest {}) in {:.2} s",
                        path.display(),
                        hex::encode(meta.state_digest),
                        started.elapsed().as_secs_f64()
                    );
                    return Ok(Some(Chain::from_store(store)));
                }
                Err(e) => tracing::warn!("snapshot unusable, trying an older one: {e}"),
            }
        }
        Ok(None)
    }

    /// Builds the state at the log's head: see [`StartMode`].
    pub fn load_state(
        &self,
        genesis: &GenesisState,
        chain_id: ChainId,
        mode: StartMode,
        progress: replay::Progress,
    ) -> anyhow::Result<Chain> {
        let from_genesis = || -> anyhow::Result<Chain> {
            Chain::from_genesis(genesis, chain_id).context("building the genesis state")
        };
        let mut chain = match mode {
            StartMode::Resume => match self.newest_good_snapshot(chain_id)? {
                Some(c) => c,
                None => {
                    if self.log.head() > 0 {
                        tracing::info!("no usable snapshot: replaying the whole block log");
                    }
                    from_genesis()?
                }
            },
            StartMode::Replay | StartMode::Revalidate => from_genesis()?,
        };
        let trusted_through = match mode {
            StartMode::Revalidate => 0,
            _ => match self.log.read(self.log.head())? {
                Some(last) => last.last_irreversible,
                None => 0,
            },
        };
        if let Err(e) = replay::replay(&mut chain, &self.log, trusted_through, progress) {
            bail!(
                "{e}\nThe state stops at block #{}. If the block log is damaged there, move blocks.log and blocks.index away and start with --resync-blockchain (or restore them from a backup).",
                chain.head_block_num()
            );
        }
        Ok(chain)
    }

    /// Writes a snapshot of `store` (at its head block) and deletes the ones beyond
    /// `snapshots_kept`. The block must already be in the log: it is synced first,
    /// so that no snapshot is ever ahead of the synced log.
    pub fn write_snapshot(&self, store: &Store) -> anyhow::Result<snapshot::SnapshotMeta> {
        let dgp = store.dynamic();
        let (num, id) = (dgp.head_block_number, dgp.head_block_id);
        if self.log.head() < num {
            bail!(
                "snapshot at block #{num} refused: the block log ends at #{}",
                self.log.head()
            );
        }
        self.log.sync()?;
        let started = std::time::Instant::now();
        let (meta, path) = snapshot::write(&self.snapshots, store, num, id)?;
        tracing::info!(
            "snapshot {} written: block #{num}, {} bytes, state digest {}, {:.2} s",
            path.display(),
            meta.body_bytes + snapshot::HEADER_BYTES as u64,
            hex::encode(meta.state_digest),
            started.elapsed().as_secs_f64()
        );
        let keep = self.config.snapshots_kept.max(1) as usize;
        for (_, old) in snapshot::list(&self.snapshots)?.into_iter().skip(keep) {
            if let Err(e) = std::fs::remove_file(&old) {
                tracing::warn!("cannot remove old snapshot {}: {e}", old.display());
            }
        }
        Ok(meta)
    }
}
