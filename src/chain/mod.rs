//! The chain: a pure, deterministic state machine over the object store.
//!
//! It applies pre-verified transactions and blocks exactly as the reference chain does
//! (`SEMANTICS.md`, modern rules). No I/O, no clock, no threads, no floating point, no
//! hash-map iteration. The business-logic processor (BLP) runs this code on one core;
//! signatures, transaction ids and block ids reach it already computed and verified.

pub mod authority;
pub mod consensus;
pub mod error;
pub mod evaluators;
pub mod fees;
pub mod genesis;
pub mod maintenance;
pub mod objects;
pub mod store;
pub mod verified;

mod apply;

pub use apply::{BlockContext, TxReceipt};
pub use error::{BlockError, EvalError, TxError};
pub use verified::{Signer, Signers, VerifiedTransaction};

use crate::protocol::asset::{format_amount, Asset};
use crate::protocol::ids::{AccountId, AssetId};
use crate::protocol::{ChainId, PublicKey, TimePointSec};
use objects::KeyId;
use store::Store;

/// The state machine. `store` holds all consensus state; the rest tracks which undo
/// sessions are open.
pub struct Chain {
    pub store: Store,
    /// Block sessions kept for undo: blocks above the last irreversible block.
    reversible_blocks: u32,
    /// A pending session (transactions applied ahead of the next block) is open.
    pending_open: bool,
    pending_count: u32,
    pending_bytes: usize,
}

impl Chain {
    /// A chain over a store loaded from a snapshot. It has no undo history: the
    /// blocks up to its head cannot be popped.
    pub fn from_store(store: Store) -> Chain {
        Chain {
            store,
            reversible_blocks: 0,
            pending_open: false,
            pending_count: 0,
            pending_bytes: 0,
        }
    }
    pub fn chain_id(&self) -> ChainId {
        self.store
            .chain_property
            .as_ref()
            .expect("chain properties exist after genesis")
            .chain_id
    }
    pub fn head_block_num(&self) -> u32 {
        self.store.dynamic().head_block_number
    }
    pub fn head_block_time(&self) -> TimePointSec {
        self.store.dynamic().time
    }
    pub fn last_irreversible_block_num(&self) -> u32 {
        self.store.dynamic().last_irreversible_block_num
    }
    /// Transactions applied to the pending state and not yet in a block.
    pub fn pending_count(&self) -> u32 {
        self.pending_count
    }
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }
    pub fn state_digest(&self) -> [u8; 32] {
        self.store.state_digest()
    }
    /// The key id of a registered public key.
    pub fn key_id(&self, key: &PublicKey) -> Option<KeyId> {
        self.store.key_index.get(key).copied()
    }
    /// Reserves table rows up front (a hardware-profile setting), so that growth does
    /// not reallocate mid-block.
    pub fn reserve(&mut self, accounts: usize, balances: usize) {
        self.store.accounts.reserve(accounts);
        self.store.account_stats.reserve(accounts);
        self.store.balance_index.reserve(accounts);
        self.store.balances.reserve(balances);
    }
    /// Room in the duplicate index for `n` more transaction ids, so that it does not
    /// rehash while it holds fewer.
    pub fn reserve_recent_transactions(&mut self, n: usize) {
        self.store.dedup.reserve(n);
    }
    /// How many keys have ids: ids `0..keys_count()` are assigned, never reused.
    pub fn keys_count(&self) -> u32 {
        self.store.keys.next_instance() as u32
    }
    /// The key with id `id` (the verify stage's key-id directory is filled from this).
    pub fn key_by_id(&self, id: KeyId) -> Option<PublicKey> {
        self.store.keys.get(id.0 as u64).copied()
    }
    pub fn account_id_by_name(&self, name: &str) -> Option<AccountId> {
        self.store.account_by_name.get(&name.to_string()).copied()
    }
    pub fn asset_id_by_symbol(&self, symbol: &str) -> Option<AssetId> {
        self.store.asset_by_symbol.get(&symbol.to_string()).copied()
    }

    /// `alice` for messages, or the id if the account is unknown.
    pub fn account_label(&self, id: AccountId) -> String {
        self.store
            .account(id)
            .map_or_else(|| id.to_string(), |a| a.name.clone())
    }
    /// `12.34567 CORE` for messages.
    pub fn format_asset(&self, a: Asset) -> String {
        match self.store.asset(a.asset_id) {
            Some(asset) => format!(
                "{} {}",
                format_amount(a.amount, asset.precision),
                asset.symbol
            ),
            None => format!("{} of {}", a.amount, a.asset_id),
        }
    }
    pub fn balance(&self, owner: AccountId, asset: AssetId) -> i64 {
        self.store.balance(owner, asset)
    }
}
