//! The node's configuration file (`DATA_DIR/config.toml`, or `--config FILE`).
//! Unknown keys are refused; flags given on the command line win over the file.
//! `carbyne node --print-default-config` prints [`DEFAULT_CONFIG`], which documents
//! every key.

use crate::rpc::RpcConfig;
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    pub node: NodeSection,
    pub rpc: RpcConfig,
    pub storage: crate::storage::StorageConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSection {
    pub ingest_listen: SocketAddr,
    pub p2p_listen: SocketAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hw_profile: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness_key_file: Option<PathBuf>,
}

impl Default for NodeSection {
    fn default() -> NodeSection {
        NodeSection {
            ingest_listen: "127.0.0.1:8092".parse().expect("an address"),
            p2p_listen: "127.0.0.1:8091".parse().expect("an address"),
            hw_profile: None,
            witness_key_file: None,
        }
    }
}

/// The default configuration, every key with what it does and why it has its value.
pub const DEFAULT_CONFIG: &str = r#"# Carbyne node configuration (TOML). Unknown keys are refused. Command-line flags
# (--rpc-listen, --ingest-listen, --p2p-listen, --hw-profile) win over this file.

[node]
# Where signed transactions arrive as length-prefixed frames (docs/PROTOCOL.md).
# Loopback by default: open it to the network only behind a firewall you trust.
ingest_listen = "127.0.0.1:8092"
# The peer-to-peer address. Peer-to-peer networking is not built in this release;
# the address is reserved so that several nodes can share one machine later.
p2p_listen = "127.0.0.1:8091"
# The hardware profile (hw-profiles/*.toml) that places every stage on cores.
# Without one, a profile is detected from this machine at start-up.
# hw_profile = "hw-profiles/witness-16core.toml"
# A file of witness signing keys, one WIF private key per line ('#' comments).
# Keys are never written in this file. The node refuses a key file that users
# other than its owner can read (it must have mode 0600).
# witness_key_file = "witness.keys"

[rpc]
# JSON-RPC over HTTP POST and WebSocket, on one address.
listen = "127.0.0.1:8090"
# The largest request body or WebSocket message, in bytes (1 MiB): enough for a
# full transaction, small enough that no client can make the node buffer much.
request_bytes_max = 1048576
# Open connections at most: HTTP requests in progress plus WebSocket sessions.
connections_max = 256
# Requests in one JSON-RPC batch array at most.
batch_max = 100
# Threads that serve RPC, placed on the profile's `cores.rpc` (never the BLP's).
threads = 2
# Objects and accounts one WebSocket connection may watch for notices at most.
subscriptions_max = 1000
# Recent blocks kept in memory for get_block, get_transaction and get_blocks:
# at most this many blocks (20 minutes at one block per second) ...
recent_blocks = 1200
# ... and at most this many transactions in them (the newest block always stays).
recent_block_transactions = 2000000

[rpc.limits]
# The largest `limit` (or list length) each method accepts. An omitted limit
# means this maximum; asking for more is refused with an error naming the key.
lookup_accounts = 1000
list_assets = 101
get_objects = 100
get_accounts = 100
get_assets = 100
get_account_balances = 100
get_key_references = 100
get_full_accounts = 50
get_blocks = 100
get_required_fees = 100
get_account_history = 100

[rpc.history]
# Keep per-account operation history (history.get_account_history and 1.11
# objects). It is built from produced blocks off the BLP's core.
enabled = true
# Operations kept per account; older ones are forgotten (BitShares'
# max-ops-per-account). Memory is about 300 bytes per kept operation.
max_ops_per_account = 1000

[storage]
# When the block log is forced to disk (DATA_DIR/blockchain/blocks.log).
#   "irreversible": a sync thread syncs blocks as they are written, and the node
#       reports a block as irreversible only once it is synced, so nothing reported
#       irreversible is ever lost, not even to a power cut; block production never
#       waits for the disk. The default.
#   "every_block": sync each block before its transactions are answered as
#       included: acknowledged blocks survive a power cut too, at one sync per block.
#   "never": leave it to the kernel. Blocks survive the node being killed, not a
#       power cut.
fsync = "irreversible"
# A snapshot of the whole state every this many blocks (an hour at 1 s blocks),
# and one at every clean shutdown; 0 writes them only at shutdown. Start-up loads
# the newest snapshot and replays only the blocks after it. The BLP pauses only to
# copy its tables; encoding and writing happen on another thread.
snapshot_every_blocks = 3600
# Snapshots kept on disk. A damaged newest snapshot falls back to the one before.
snapshots_kept = 3
"#;

impl NodeConfig {
    /// Reads `path`; every problem names the file and, from TOML, the line.
    pub fn load(path: &Path) -> Result<NodeConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }
}

/// Reads witness signing keys from `path`, refusing a file others can read.
pub fn load_witness_keys(path: &Path) -> Result<Vec<crate::protocol::PrivateKey>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read witness key file {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "witness key file {} can be read by others (mode {mode:o}): run chmod 600 on it",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read witness key file {}", path.display()))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = crate::protocol::PrivateKey::from_wif(line).map_err(|e| {
            anyhow::anyhow!("witness key file {} line {}: {e}", path.display(), n + 1)
        })?;
        keys.push(key);
    }
    Ok(keys)
}

/// Creates the data directory's layout (API.md): `config.toml` (written with the
/// defaults if missing), `blockchain/`, `p2p/` and `logs/`. Returns the config path.
pub fn prepare_data_dir(dir: &Path) -> Result<PathBuf> {
    for sub in ["", "blockchain", "p2p", "logs"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d)
            .with_context(|| format!("cannot create data directory {}", d.display()))?;
    }
    // Refuse a data dir we cannot write now, before anything depends on it.
    let probe = dir.join("blockchain").join(".write-test");
    std::fs::write(&probe, b"carbyne")
        .and_then(|()| std::fs::remove_file(&probe))
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    let config = dir.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, DEFAULT_CONFIG)
            .with_context(|| format!("cannot write {}", config.display()))?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_is_the_default() {
        let parsed: NodeConfig = toml::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(parsed, NodeConfig::default());
    }

    /// Every key of the configuration appears in the printed default, under a
    /// comment that explains it.
    #[test]
    fn every_key_is_documented() {
        fn keys(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
            if let toml::Value::Table(t) = v {
                for (k, v) in t {
                    match v {
                        toml::Value::Table(_) => keys(&format!("{prefix}{k}."), v, out),
                        _ => out.push(k.clone()),
                    }
                }
            }
        }
        let mut full = NodeConfig::default();
        full.node.hw_profile = Some("p.toml".into());
        full.node.witness_key_file = Some("k".into());
        let mut all = Vec::new();
        keys("", &toml::Value::try_from(&full).unwrap(), &mut all);
        assert!(all.len() > 20);
        let lines: Vec<&str> = DEFAULT_CONFIG.lines().collect();
        for key in all {
            let at = lines
                .iter()
                .position(|l| {
                    let l = l.trim_start_matches("# ");
                    l.starts_with(&format!("{key} ="))
                })
                .unwrap_or_else(|| panic!("key {key} is not in the default config"));
            // Documented: a comment above it, or it sits in a block headed by one.
            assert!(
                lines[..at]
                    .iter()
                    .rev()
                    .take_while(|l| !l.starts_with('['))
                    .any(|l| l.starts_with("# ") && !l.contains(" = ")),
                "key {key} has no comment"
            );
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_names() {
        let e = toml::from_str::<NodeConfig>("[rpc]\nlisten_on = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("listen_on"), "{e}");
        let e = toml::from_str::<NodeConfig>("[rpc.limits]\nget_objects = -1\n").unwrap_err();
        assert!(e.to_string().contains("get_objects"), "{e}");
        let c: NodeConfig = toml::from_str("[rpc.history]\nmax_ops_per_account = 5\n").unwrap();
        assert_eq!(c.rpc.history.max_ops_per_account, 5);
        assert_eq!(c.rpc.listen, RpcConfig::default().listen);
    }

    #[test]
    fn key_files_must_be_private_and_well_formed() {
        let dir = std::env::temp_dir().join(format!("carbyne-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("witness.keys");
        let key = crate::protocol::PrivateKey::from_label("w");
        std::fs::write(&path, format!("# witness init0\n{}\n", key.to_wif())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_witness_keys(&path).unwrap_err().to_string();
        assert!(e.contains("can be read by others (mode 644)"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let keys = load_witness_keys(&path).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].public_key(), key.public_key());
        std::fs::write(&path, "not-a-key\n").unwrap();
        let e = load_witness_keys(&path).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        assert!(!e.contains("not-a-key"), "key text is never echoed: {e}");
    }
}
