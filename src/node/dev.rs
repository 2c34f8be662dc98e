//! `carbyne node`: the witness node.
//!
//! With `--dev` it starts a one-node chain on the embedded dev genesis, holding the keys
//! of all eleven dev witnesses, and produces a block every slot. It runs the whole
//! pipeline (`crate::pipeline`): the ingest port, the verify workers, the BLP and the
//! output stage, placed on cores as the hardware profile says.

use super::producer::WitnessKeys;
use crate::chain::genesis::{dev_key, dev_witness_key, GenesisState, DEV_WITNESS_COUNT};
use crate::chain::Chain;
use crate::pipeline::Pipeline;
use crate::profile::{check, detect, Profile};
use crate::protocol::TimePointSec;
use anyhow::{bail, Context};
use std::path::PathBuf;
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
    /// Rebuild the state from the block log (needs the block log: not built yet).
    #[arg(long)]
    pub replay_blockchain: bool,
    /// Rebuild with full validation (needs the block log: not built yet).
    #[arg(long)]
    pub revalidate_blockchain: bool,
    /// Delete the block log and sync again (needs the block log: not built yet).
    #[arg(long)]
    pub resync_blockchain: bool,
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
        .init();
    for (given, flag) in [
        (args.replay_blockchain, "--replay-blockchain"),
        (args.revalidate_blockchain, "--revalidate-blockchain"),
        (args.resync_blockchain, "--resync-blockchain"),
    ] {
        if given {
            bail!("{flag} needs the block log, which this release does not write yet: the chain lives in memory only");
        }
    }
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
    tracing::info!(
        "peer-to-peer is not built in this release: {} stays closed",
        node_config.node.p2p_listen
    );
    let (genesis, keys) = match (&args.genesis_json, args.dev) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let g: GenesisState = serde_json::from_str(&text)
                .with_context(|| format!("parsing genesis {}", path.display()))?;
            let mut keys = WitnessKeys::default();
            if let Some(file) = &node_config.node.witness_key_file {
                for key in super::config::load_witness_keys(file)? {
                    keys.insert(key);
                }
            }
            (g, keys)
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
    let profile = load_profile(node_config.node.hw_profile.as_deref())?;
    profile.apply_allocator();
    let mut chain = chain;
    profile.reserve(&mut chain);
    let mut config = profile
        .pipeline_config(Some(node_config.node.ingest_listen))
        .map_err(anyhow::Error::msg)?;
    config.max_blocks = args.max_blocks;
    tracing::info!("placement: {}", profile.describe_placement());
    let mut pipeline = Pipeline::start(chain, keys, config)?;
    let counters = pipeline.counters();
    let mut rpc_context = crate::rpc::Context::new(pipeline.state(), node_config.rpc.clone());
    rpc_context.pending = Some(pipeline.pending_feed());
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
    let mut last = Instant::now();
    let mut logged = pipeline.stats();
    while !pipeline.is_finished() {
        std::thread::sleep(Duration::from_millis(200));
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
    rpc.shutdown();
    pipeline.join()?;
    let _ = feed.join();
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
