//! The JSON-RPC API, shaped like BitShares' (`API.md`): one listen address serves HTTP
//! POST and WebSocket with the same dispatcher.
//!
//! * [`dispatch`]: the wire format: `call` by API name or id, bare method names (the
//!   database API), batch arrays, and the JSON-RPC error codes;
//! * [`apis`]: the methods, one file per API, reading the chain through
//!   [`StateReader`] (the BLP runs a read between batches; it copies what it needs
//!   out, and the JSON is built afterwards);
//! * [`subscribe`]: WebSocket subscriptions and their `notice` pushes;
//! * [`server`]: the axum server: `/` and `/ws` for calls, `/health`, `/metrics`, and
//!   the request size and connection caps.

pub mod apis;
pub mod blocks;
pub mod broadcast;
pub mod dispatch;
pub mod history;
pub mod server;
pub mod subscribe;

use crate::pipeline::{StateReader, Stopped};
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicU64;

/// JSON-RPC error codes.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
}

/// An error answer: a JSON-RPC code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(code::INVALID_PARAMS, message)
    }
}

impl From<Stopped> for RpcError {
    fn from(e: Stopped) -> RpcError {
        RpcError::new(code::INTERNAL_ERROR, e.to_string())
    }
}

/// The maximum `limit` of each listing method. An omitted limit means the maximum;
/// a larger one is refused with an error that names this setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MethodLimits {
    pub lookup_accounts: u32,
    pub list_assets: u32,
    pub get_objects: u32,
    pub get_accounts: u32,
    pub get_assets: u32,
    pub get_account_balances: u32,
    pub get_key_references: u32,
    pub get_full_accounts: u32,
    pub get_blocks: u32,
    pub get_required_fees: u32,
    pub get_account_history: u32,
}

impl Default for MethodLimits {
    fn default() -> MethodLimits {
        MethodLimits {
            lookup_accounts: 1000,
            list_assets: 101,
            get_objects: 100,
            get_accounts: 100,
            get_assets: 100,
            get_account_balances: 100,
            get_key_references: 100,
            get_full_accounts: 50,
            get_blocks: 100,
            get_required_fees: 100,
            get_account_history: 100,
        }
    }
}

/// The RPC server's settings (the `[rpc]` table of the node's configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcConfig {
    /// Where HTTP and WebSocket are served.
    pub listen: std::net::SocketAddr,
    /// Largest request body or WebSocket message, in bytes.
    pub request_bytes_max: usize,
    /// Open connections at most: HTTP requests in progress and WebSocket sessions.
    pub connections_max: usize,
    /// Entries in one batch array at most.
    pub batch_max: usize,
    /// Threads serving RPC (on the hardware profile's `cores.rpc`).
    pub threads: usize,
    /// Objects and accounts one WebSocket connection may watch at most.
    pub subscriptions_max: usize,
    /// Recent blocks kept in memory for the block methods, at most this many blocks
    /// and this many transactions in them (the newest block is always kept).
    pub recent_blocks: usize,
    pub recent_block_transactions: usize,
    pub limits: MethodLimits,
    pub history: history::HistoryConfig,
}

impl Default for RpcConfig {
    fn default() -> RpcConfig {
        RpcConfig {
            listen: "127.0.0.1:8090".parse().expect("a socket address"),
            request_bytes_max: 1 << 20,
            connections_max: 256,
            batch_max: 100,
            threads: 2,
            subscriptions_max: 1000,
            recent_blocks: 1200,
            recent_block_transactions: 2_000_000,
            limits: MethodLimits::default(),
            history: history::HistoryConfig::default(),
        }
    }
}

/// What every API handler reads: the chain and the settings.
pub struct Context {
    pub state: StateReader,
    pub config: RpcConfig,
    /// Calls answered (for `/metrics`).
    pub calls: AtomicU64,
    /// Calls answered with an error.
    pub errors: AtomicU64,
    /// Applied blocks, for WebSocket sessions' notices (the node publishes).
    pub hub: subscribe::Hub,
    /// Recent blocks for the block methods (the node adds them as they are produced).
    pub blocks: std::sync::Arc<blocks::RecentBlocks>,
    /// Where `network_broadcast` submits (the node sets it; `None` refuses).
    pub broadcaster: Option<std::sync::Arc<broadcast::Broadcaster>>,
    /// Operation history (the node records produced blocks into it).
    pub history: std::sync::Arc<history::History>,
    /// Accepted transactions, for pending-transaction notices (the node sets it).
    pub pending: Option<std::sync::Arc<crate::pipeline::pending::PendingFeed>>,
    /// The newest block this node holds durably (the node sets it from its block
    /// log): no block above it is reported as irreversible.
    pub durable: Option<std::sync::Arc<dyn Fn() -> u32 + Send + Sync>>,
}

impl Context {
    pub fn new(state: StateReader, config: RpcConfig) -> Context {
        let (recent_blocks, recent_transactions) =
            (config.recent_blocks, config.recent_block_transactions);
        let history = std::sync::Arc::new(history::History::new(config.history.clone()));
        Context {
            state,
            config,
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            hub: subscribe::Hub::default(),
            blocks: std::sync::Arc::new(blocks::RecentBlocks::new(
                recent_blocks,
                recent_transactions,
            )),
            broadcaster: None,
            history,
            pending: None,
            durable: None,
        }
    }
    /// See [`Context::durable`].
    pub fn durable_head(&self) -> Option<u32> {
        self.durable.as_ref().map(|f| f())
    }
}
