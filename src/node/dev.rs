//! `carbyne node`: the witness node.
//!
//! With `--dev` it starts a one-node chain on the embedded dev genesis, holding the keys
//! of all eleven dev witnesses, and produces a block every slot. It runs the whole
//! pipeline (`crate::pipeline`): the ingest port, the verify workers, the BLP and the
//! output stage, placed on cores as the hardware profile says.

use super::producer::WitnessKeys;
use crate::chain::genesis::{dev_key, dev_witness_key, GenesisState, DEV_WITNESS_COUNT};
use crate::pipeline::blp::{SnapshotHook, SnapshotRequest};
use crate::pipeline::{Pipeline, StorageHooks};
use crate::profile::{check, detect, Profile};
use crate::protocol::TimePointSec;
use crate::storage::{self, replay, FsyncPolicy, StartMode, Storage};
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// Start a fresh one-node development chain on the embedded genesis.
    #[arg(long)]
    pub dev: bool,
    /// Genesis JSON with the BitShares field names.
    #[arg(long)]
    pub genesis_json: Option<PathBuf>,
    /// Data directory: config.toml, blockchain/, p2p/ and logs/.
    #[arg(long, default_value = "./carbyne-data")]
    pub data_dir: PathBuf,
    /// The configuration file (TOML; unknown keys are refused). Default:
    /// DATA_DIR/config.toml, written with the defaults when missing.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the default configuration, every key documented, and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Stop after producing this many blocks (for scripted runs).
    #[arg(long)]
    pub max_blocks: Option<u32>,
    /// Hardware profile (TOML, see hw-profiles/); without it one is detected.
    #[arg(long)]
    pub hw_profile: Option<PathBuf>,
    /// The ingest port: length-prefixed signed transactions (docs/PROTOCOL.md).
    /// Default 127.0.0.1:8092, or the config's node.ingest_listen.
    #[arg(long)]
    pub ingest_listen: Option<std::net::SocketAddr>,
    /// JSON-RPC over HTTP and WebSocket. Default 127.0.0.1:8090, or rpc.listen.
    #[arg(long)]
    pub rpc_listen: Option<std::net::SocketAddr>,
    /// The peer-to-peer address (reserved: peer-to-peer is not built yet).
    #[arg(long)]
    pub p2p_listen: Option<std::net::SocketAddr>,
    /// Rebuild the state from genesis through the block log, ignoring snapshots.
    /// Signatures of blocks that were irreversible when written are not checked again.
    #[arg(long)]
    pub replay_blockchain: bool,
    /// As --replay-blockchain, checking every signature (in parallel).
    #[arg(long, conflicts_with = "replay_blockchain")]
    pub revalidate_blockchain: bool,
    /// Delete the block log, its snapshots and the stored genesis, and start over
    /// (a dev chain starts afresh; with peer-to-peer, blocks would be fetched again).
    #[arg(long, conflicts_with_all = ["replay_blockchain", "revalidate_blockchain"])]
    pub resync_blockchain: bool,
    /// Load the state (with --replay-blockchain: replay it), print its state digest
    /// as hex on the last line of output, and exit.
    #[arg(long)]
    pub state_digest: bool,
}

/// The genesis this node runs (the one stored in the data dir wins for `--dev`;
/// a `--genesis-json` must match it) and the witness keys it holds.
fn choose_genesis(
    args: &NodeArgs,
    config: &super::config::NodeConfig,
    blockchain_dir: &std::path::Path,
) -> anyhow::Result<(GenesisState, WitnessKeys)> {
    let stored = storage::stored_genesis(blockchain_dir)?;
    let have_stored = stored.is_some();
    let genesis = match (&args.genesis_json, args.dev, stored) {
        (Some(path), _, stored) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let g: GenesisState = serde_json::from_str(&text)
                .with_context(|| format!("parsing genesis {}", path.display()))?;
            if let Some(s) = stored {
                if s.chain_id() != g.chain_id() {
                    bail!(
                        "{} holds chain {}, but {} is chain {}: use another --data-dir, or --resync-blockchain to delete the stored chain",
                        blockchain_dir.display(),
                        s.chain_id(),
                        path.display(),
                        g.chain_id()
                    );
                }
            }
            g
        }
        (None, true, Some(s)) => {
            tracing::info!(
                "resuming the dev chain stored in {} (--resync-blockchain starts a new one)",
                blockchain_dir.display()
            );
            s
        }
        (None, true, None) => {
            let interval = 1;
            GenesisState::dev(TimePointSec(now_secs() / interval * interval))
        }
        (None, false, Some(s)) => s,
        (None, false, None) => bail!(
            "{} holds no chain yet: give --dev for a development chain, or --genesis-json FILE",
            blockchain_dir.display()
        ),
    };
    if !have_stored {
        storage::store_genesis(blockchain_dir, &genesis)?;
    }
    let mut keys = WitnessKeys::default();
    if args.dev {
        for i in 0..DEV_WITNESS_COUNT {
            keys.insert(dev_witness_key(i));
        }
    }
    if let Some(file) = &config.node.witness_key_file {
        for key in super::config::load_witness_keys(file)? {
            keys.insert(key);
        }
    }
    Ok((genesis, keys))
}

/// The threads beside the pipeline that reach the disk.
struct StorageThreads {
    sync: Option<std::thread::JoinHandle<()>>,
    snapshot: Option<std::thread::JoinHandle<()>>,
}

impl StorageThreads {
    fn join(self) {
        for t in [self.snapshot, self.sync].into_iter().flatten() {
            let _ = t.join();
        }
    }
}

/// Starts the sync thread (`fsync = "irreversible"`) and the snapshot thread, and
/// returns the hooks the pipeline uses to reach them. Both threads end once the
/// pipeline has dropped its hooks.
fn start_storage_threads(storage: &Arc<Storage>) -> (StorageHooks, StorageThreads) {
    let mut threads = StorageThreads {
        sync: None,
        snapshot: None,
    };
    let mut written = None;
    if storage.config.fsync == FsyncPolicy::Irreversible {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        written = Some(tx);
        let log = storage.log.clone();
        threads.sync = std::thread::Builder::new()
            .name("log-sync".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    // One sync covers every block written before it started.
                    while rx.try_recv().is_ok() {}
                    if let Err(e) = log.sync() {
                        tracing::error!(
                            "{e}: blocks written since the last sync are not reported irreversible"
                        );
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
            .map_err(|e| tracing::error!("cannot start the log-sync thread: {e}"))
            .ok();
    }
    let mut snapshot = None;
    if storage.config.snapshot_every_blocks > 0 {
        let (tx, rx) = std::sync::mpsc::channel::<SnapshotRequest>();
        let busy = Arc::new(AtomicBool::new(false));
        snapshot = Some(SnapshotHook {
            every: storage.config.snapshot_every_blocks,
            busy: busy.clone(),
            requests: tx,
        });
        let storage = storage.clone();
        threads.snapshot = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                for req in rx {
                    // The output stage writes the block just after the BLP sealed it.
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while storage.log.head() < req.block_num && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    tracing::info!(
                        "snapshot at block #{}: the BLP paused {} us to copy the state",
                        req.block_num,
                        req.copy_us
                    );
                    if let Err(e) = storage.write_snapshot(&req.store) {
                        tracing::error!("snapshot at block #{} not written: {e:#}", req.block_num);
                    }
                    drop(req);
                    busy.store(false, Ordering::Release);
                }
            })
            .map_err(|e| tracing::error!("cannot start the snapshot thread: {e}"))
            .ok();
    }
    (
        StorageHooks {
            log: storage.log.clone(),
            fsync: storage.config.fsync,
            written,
            snapshot,
        },
        threads,
    )
}

fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// The hardware profile the node runs with: `--hw-profile FILE` checked against the
/// machine, or one detected from the machine.
fn load_profile(hw_profile: Option<&std::path::Path>) -> anyhow::Result<Profile> {
    let topo = affinity::detect();
    let profile = match hw_profile {
        Some(path) => {
            let p = Profile::load(path)?;
            let problems = check::check(&p, &topo);
            for w in problems.iter().filter(|p| !p.is_error()) {
                tracing::warn!("hardware profile {}: {w}", path.display());
            }
            let errors: Vec<String> = problems
                .iter()
                .filter(|p| p.is_error())
                .map(|p| p.to_string())
                .collect();
            if !errors.is_empty() {
                bail!(
                    "hardware profile {} does not fit this machine:\n  {}",
                    path.display(),
                    errors.join("\n  ")
                );
            }
            p
        }
        None => {
            let p = detect::detect(&topo);
            tracing::info!(
                "no --hw-profile given: using a profile detected from this machine ({})",
                p.machine.description
            );
            p
        }
    };
    Ok(profile)
}

pub fn run(args: NodeArgs) -> anyhow::Result<()> {
    if args.print_default_config {
        print!("{}", super::config::DEFAULT_CONFIG);
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stdout)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    // Exceeding a file-size limit (RLIMIT_FSIZE) then fails the write with EFBIG,
    // which the node reports and stops on, instead of killing it mid-write.
    signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        Arc::new(AtomicBool::new(false)),
    )
    .context("installing the SIGXFSZ handler")?;
    let default_config = super::config::prepare_data_dir(&args.data_dir)?;
    let config_path = args.config.clone().unwrap_or(default_config);
    let mut node_config = super::config::NodeConfig::load(&config_path)?;
    tracing::info!("configuration {}", config_path.display());
    if let Some(a) = args.rpc_listen {
        node_config.rpc.listen = a;
    }
    if let Some(a) = args.ingest_listen {
        node_config.node.ingest_listen = a;
    }
    if let Some(a) = args.p2p_listen {
        node_config.node.p2p_listen = a;
    }
    if let Some(p) = &args.hw_profile {
        node_config.node.hw_profile = Some(p.clone());
    }
    let blockchain_dir = args.data_dir.join(storage::BLOCKCHAIN_DIR);
    if args.resync_blockchain {
        tracing::warn!(
            "--resync-blockchain: deleting the block log, snapshots and genesis in {}",
            blockchain_dir.display()
        );
        storage::wipe(&blockchain_dir)?;
    }
    let (genesis, keys) = choose_genesis(&args, &node_config, &blockchain_dir)?;
    let chain_id = genesis.chain_id();
    tracing::info!("chain id {chain_id}");
    let storage = Arc::new(Storage::open(
        &blockchain_dir,
        chain_id,
        node_config.storage.clone(),
    )?);
    let mode = if args.revalidate_blockchain {
        StartMode::Revalidate
    } else if args.replay_blockchain {
        StartMode::Replay
    } else {
        StartMode::Resume
    };
    let chain = storage.load_state(&genesis, chain_id, mode, replay::Progress::Auto)?;
    tracing::info!(
        "state at block #{} ({}), last irreversible #{}",
        chain.head_block_num(),
        chain.store.dynamic().head_block_id,
        chain.last_irreversible_block_num()
    );
    if args.state_digest {
        println!("{}", hex::encode(chain.state_digest()));
        return Ok(());
    }
    if mode != StartMode::Resume && chain.head_block_num() > 0 {
        // The next start resumes from the rebuilt state instead of replaying again.
        storage.write_snapshot(&chain.store)?;
    }
    if args.dev {
        let dev = dev_key();
        tracing::info!(
            "dev account `dev` key: public {} private {}",
            dev.public_key(),
            dev.to_wif()
        );
    }
    tracing::info!(
        "peer-to-peer is not built in this release: {} stays closed",
        node_config.node.p2p_listen
    );
    let profile = load_profile(node_config.node.hw_profile.as_deref())?;
    profile.apply_allocator();
    let mut chain = chain;
    profile.reserve(&mut chain);
    let mut config = profile
        .pipeline_config(Some(node_config.node.ingest_listen))
        .map_err(anyhow::Error::msg)?;
    config.max_blocks = args.max_blocks;
    tracing::info!("placement: {}", profile.describe_placement());
    let (hooks, storage_threads) = start_storage_threads(&storage);
    config.storage = Some(hooks);
    let mut pipeline = Pipeline::start(chain, keys, config)?;
    let counters = pipeline.counters();
    let mut rpc_context = crate::rpc::Context::new(pipeline.state(), node_config.rpc.clone());
    rpc_context.pending = Some(pipeline.pending_feed());
    let log = storage.log.clone();
    let policy = storage.config.fsync;
    rpc_context.durable = Some(Arc::new(move || match policy {
        FsyncPolicy::Never => log.head(),
        _ => log.synced(),
    }));
    rpc_context.broadcaster = Some(crate::rpc::broadcast::Broadcaster::start(
        pipeline.submitter(),
        pipeline
            .take_local_answers()
            .context("the pipeline's local answers were taken already")?,
    )?);
    // Produced blocks go to the RPC sessions' notices and the recent blocks the block
    // methods answer from.
    let hub = rpc_context.hub.clone();
    let recent = rpc_context.blocks.clone();
    recent.set_log(storage.log.clone());
    let history = rpc_context.history.clone();
    let state = rpc_context.state.clone();
    let blocks = pipeline
        .take_blocks()
        .context("the pipeline's blocks were taken already")?;
    let feed = std::thread::Builder::new()
        .name("block-feed".into())
        .spawn(move || {
            for produced in blocks {
                let block = produced.block;
                // History and the block methods are up to date before the notice.
                if history.enabled() {
                    history.record_block(&block, &created_ids(&state, &block));
                }
                let event = crate::rpc::subscribe::BlockEvent {
                    number: block.header.block_num(),
                    id: block.id().to_string(),
                };
                recent.push(block, produced.ids);
                hub.publish(event);
            }
        })?;
    let rpc = crate::rpc::server::start(
        rpc_context,
        Some(std::sync::Arc::new(move || {
            let s = counters();
            let mut text = String::new();
            for (name, part) in [
                ("verify", serde_json::to_value(s.verify)),
                ("blp", serde_json::to_value(s.blp)),
                ("output", serde_json::to_value(s.output)),
            ] {
                if let Ok(v) = part {
                    text.push_str(&crate::rpc::server::counters_text(name, &v));
                }
            }
            text
        })),
        &profile.cores.rpc,
    )?;
    let signalled = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, signalled.clone())
            .context("installing the SIGINT/SIGTERM handlers")?;
    }
    let mut last = Instant::now();
    let mut logged = pipeline.stats();
    while !pipeline.is_finished() && !signalled.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if pipeline.failure().is_some() {
            break;
        }
        if last.elapsed() >= STATS_EVERY {
            let s = pipeline.stats();
            if s.verify != logged.verify || s.blp != logged.blp {
                tracing::info!(
                    "stats: verify received={} verified={} decode={} invalid={} bad_sig={} dup={} | blp applied={} refused={} held={} dropped={} | ingest {:?}",
                    s.verify.received,
                    s.verify.verified,
                    s.verify.decode_errors,
                    s.verify.invalid,
                    s.verify.bad_signatures,
                    s.verify.duplicates,
                    s.blp.applied,
                    s.blp.refused,
                    s.blp.held,
                    s.blp.dropped,
                    s.ingest
                );
            }
            logged = s;
            last = Instant::now();
        }
    }
    if signalled.load(Ordering::Relaxed) {
        tracing::info!("signal received: stopping block production");
    }
    let failure = pipeline.failure();
    // The pipeline first: callers waiting for their transactions' blocks then hear
    // that the node is stopping, and the RPC server is not held up by them.
    let mut blp = if pipeline.is_finished() {
        pipeline.join()?
    } else {
        pipeline.stop()?
    };
    rpc.shutdown();
    let _ = feed.join();
    if let Some(why) = failure {
        // A snapshot in progress may wait for a block that will never be written: it
        // is left unfinished (its temporary file is removed at the next start).
        bail!(
            "{why}. The block log and snapshots on disk are intact up to block #{}",
            storage.log.head()
        );
    }
    // The output stage has written every sealed block; let the snapshot thread
    // finish what it is writing, and the sync thread its last sync.
    blp.snapshot = None;
    storage_threads.join();
    let mut chain = blp.chain;
    // Transactions accepted but not yet in a block are abandoned: none of them was
    // reported as included.
    chain.clear_pending();
    storage.log.sync()?;
    if chain.head_block_num() > 0 {
        storage.write_snapshot(&chain.store)?;
    }
    tracing::info!(
        "stopped cleanly at block #{} (state digest {})",
        chain.head_block_num(),
        hex::encode(chain.state_digest())
    );
    Ok(())
}

/// How often the node logs its counters when they change.
const STATS_EVERY: Duration = Duration::from_secs(10);

/// The ids of the accounts and assets `block` created (one read of the state, only
/// for a block that creates any).
fn created_ids(
    state: &crate::pipeline::StateReader,
    block: &crate::protocol::SignedBlock,
) -> crate::rpc::history::Created {
    let (accounts, assets) = crate::rpc::history::Created::wanted(block);
    if accounts.is_empty() && assets.is_empty() {
        return Default::default();
    }
    state
        .read(move |c| crate::rpc::history::Created {
            accounts: accounts
                .into_iter()
                .filter_map(|n| c.account_id_by_name(&n).map(|id| (n, id)))
                .collect(),
            assets: assets
                .into_iter()
                .filter_map(|s| c.asset_id_by_symbol(&s).map(|id| (s, id)))
                .collect(),
        })
        .unwrap_or_default()
}
