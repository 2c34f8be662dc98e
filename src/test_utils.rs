//! Helpers for tests, benches and the dev node: a dev chain, signed transactions and
//! block production with the dev witness keys.

use crate::chain::genesis::{dev_key, dev_witness_key, GenesisState, DEV_WITNESS_COUNT};
use crate::chain::{BlockContext, Chain, TxError, TxReceipt, VerifiedTransaction};
use crate::node::producer::{produce_block, WitnessKeys};
use crate::pipeline::verify::{verify_transaction, KeyLookup};
use crate::protocol::operations::*;
use crate::protocol::*;

/// The genesis time used by tests: 2026-01-01T00:00:00.
pub const TEST_GENESIS_TIME: TimePointSec = TimePointSec(1_767_225_600);

/// The dev genesis at `time` plus `n` accounts `user0`.. (keys `user_key(i)`), each
/// holding `balance` CORE satoshis.
pub fn users_genesis(n: usize, balance: i64, time: TimePointSec) -> GenesisState {
    use rayon::prelude::*;
    let mut g = GenesisState::dev(time);
    // Deriving a key is a scalar multiplication: spread a million of them.
    let keys: Vec<PublicKey> = (0..n)
        .into_par_iter()
        .map(|i| user_key(i).public_key())
        .collect();
    for (i, key) in keys.into_iter().enumerate() {
        g.initial_accounts
            .push(crate::chain::genesis::GenesisAccount {
                name: format!("user{i}"),
                owner_key: key,
                active_key: key,
                is_lifetime_member: false,
            });
        g.initial_balances
            .push(crate::chain::genesis::GenesisBalance {
                owner: format!("user{i}"),
                asset_symbol: "CORE".into(),
                amount: balance,
            });
    }
    g
}

/// The current second, for chains that a live pipeline extends.
pub fn now_genesis_time() -> TimePointSec {
    TimePointSec(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_secs() as u32,
    )
}

/// A dev chain plus what a producer needs: witness keys and the blocks made so far.
pub struct DevChain {
    pub chain: Chain,
    pub genesis: GenesisState,
    pub witness_keys: WitnessKeys,
    /// Applied blocks in order, with their verified transactions (for pop/re-apply).
    pub blocks: Vec<(SignedBlock, BlockContext, Vec<VerifiedTransaction>)>,
    /// Transactions applied to the pending state, in order.
    pub pending: Vec<VerifiedTransaction>,
    /// Varies expirations so that equal operations make distinct transactions.
    nonce: std::cell::Cell<u32>,
}

impl DevChain {
    pub fn new() -> DevChain {
        DevChain::with_genesis(GenesisState::dev(TEST_GENESIS_TIME))
    }

    /// A dev chain with `n` extra accounts `user0`.. (keys `user_key(i)`), each holding
    /// `balance` CORE satoshis.
    pub fn with_users(n: usize, balance: i64) -> DevChain {
        DevChain::with_users_at(n, balance, TEST_GENESIS_TIME)
    }

    /// As `with_users`, with the genesis at `time` (`now_genesis_time()` for a chain
    /// that a running pipeline extends on the wall clock).
    pub fn with_users_at(n: usize, balance: i64, time: TimePointSec) -> DevChain {
        DevChain::with_genesis(users_genesis(n, balance, time))
    }

    pub fn with_genesis(genesis: GenesisState) -> DevChain {
        let chain = Chain::from_genesis(&genesis, genesis.chain_id()).expect("valid genesis");
        let mut witness_keys = WitnessKeys::default();
        for i in 0..DEV_WITNESS_COUNT {
            witness_keys.insert(dev_witness_key(i));
        }
        DevChain {
            chain,
            genesis,
            witness_keys,
            blocks: Vec::new(),
            pending: Vec::new(),
            nonce: Default::default(),
        }
    }

    pub fn id(&self, name: &str) -> AccountId {
        self.chain
            .account_id_by_name(name)
            .unwrap_or_else(|| panic!("no account {name}"))
    }

    /// An unsigned transaction referencing the head block, expiring in 60 to 1060 s
    /// (varied, so that repeating an operation makes a new transaction).
    pub fn transaction(&self, operations: Vec<Operation>) -> Transaction {
        let head = self.chain.store.dynamic().head_block_id;
        let n = self.nonce.get();
        self.nonce.set(n.wrapping_add(1));
        Transaction {
            ref_block_num: (self.chain.head_block_num() & 0xffff) as u16,
            ref_block_prefix: head.tapos_prefix(),
            expiration: self.chain.head_block_time().saturating_add(60 + n % 1000),
            operations,
            extensions: Default::default(),
        }
    }

    pub fn sign(&self, trx: Transaction, keys: &[&PrivateKey]) -> SignedTransaction {
        let mut s = SignedTransaction {
            trx,
            signatures: Default::default(),
            signer_keys: Default::default(),
        };
        let chain_id = self.chain.chain_id();
        for k in keys {
            s.sign(k, &chain_id);
        }
        s
    }

    /// Signs and runs the verify stage.
    pub fn verified(&self, trx: Transaction, keys: &[&PrivateKey]) -> VerifiedTransaction {
        let signed = self.sign(trx, keys);
        verify_transaction(
            signed,
            &self.chain.chain_id(),
            &self.chain as &dyn KeyLookup,
        )
        .expect("verifies")
    }

    /// Applies to the pending state and remembers the transaction for the next block.
    pub fn push(&mut self, vtx: VerifiedTransaction) -> Result<TxReceipt, TxError> {
        let r = self.chain.push_transaction(&vtx)?;
        self.pending.push(vtx);
        Ok(r)
    }

    /// Builds, signs and pushes a one-op transaction.
    pub fn push_ops(
        &mut self,
        ops: Vec<Operation>,
        keys: &[&PrivateKey],
    ) -> Result<TxReceipt, TxError> {
        let trx = self.transaction(ops);
        let vtx = self.verified(trx, keys);
        self.push(vtx)
    }

    /// Produces the block at the next slot from the pending transactions.
    pub fn produce_block(&mut self) -> SignedBlock {
        self.produce_block_at_slot(1)
    }

    /// Produces a block at slot `slot` (1 = the next one; larger skips witnesses).
    pub fn produce_block_at_slot(&mut self, slot: u32) -> SignedBlock {
        let txs: Vec<SignedTransaction> = self.pending.iter().map(|v| (*v.trx).clone()).collect();
        let (block, ctx) = produce_block(&mut self.chain, &self.witness_keys, slot, txs)
            .expect("own block is valid")
            .expect("the dev chain holds every witness key");
        let verified = std::mem::take(&mut self.pending);
        self.blocks.push((block.clone(), ctx, verified));
        block
    }

    /// Pops the head block; its transactions are returned (not re-applied).
    pub fn pop_block(&mut self) -> Vec<VerifiedTransaction> {
        self.pending.clear();
        self.chain.pop_block().expect("a reversible block");
        self.blocks.pop().map(|(_, _, t)| t).unwrap_or_default()
    }

    /// Re-applies a block as if it came from a peer.
    pub fn apply_block(
        &mut self,
        block: SignedBlock,
        ctx: BlockContext,
        txs: Vec<VerifiedTransaction>,
    ) {
        self.pending.clear();
        self.chain
            .apply_block(&block, &ctx, &txs)
            .expect("block applies");
        self.blocks.push((block, ctx, txs));
    }

    pub fn transfer_op(&self, from: &str, to: &str, amount: i64, fee: i64) -> Operation {
        Operation::Transfer(TransferOperation {
            fee: Asset::core(fee),
            from: self.id(from),
            to: self.id(to),
            amount: Asset::core(amount),
            memo: None,
            extensions: Default::default(),
        })
    }

    /// `account_create` by `registrar` with a single-key authority.
    pub fn create_account_op(
        &self,
        name: &str,
        registrar: &str,
        key: PublicKey,
        fee: i64,
    ) -> Operation {
        let r = self.id(registrar);
        Operation::AccountCreate(AccountCreateOperation {
            fee: Asset::core(fee),
            registrar: r,
            referrer: r,
            referrer_percent: 0,
            name: name.into(),
            owner: Authority::single_key(key),
            active: Authority::single_key(key),
            options: AccountOptions::with_memo_key(key),
            extensions: Default::default(),
        })
    }

    /// Creates `name` registered by `dev`, funded with `funds` CORE satoshis, and
    /// returns its key. Produces a block.
    pub fn create_funded_account(&mut self, name: &str, funds: i64) -> PrivateKey {
        let key = PrivateKey::from_label(name);
        let dev = dev_key();
        let fee = self
            .chain
            .required_fee(&self.create_account_op(name, "dev", key.public_key(), 0))
            .unwrap();
        let op = self.create_account_op(name, "dev", key.public_key(), fee);
        self.push_ops(vec![op], &[&dev]).expect("account created");
        if funds > 0 {
            let fee = 20 * crate::protocol::fees::P as i64;
            let op = Operation::Transfer(TransferOperation {
                fee: Asset::core(fee),
                from: self.id("dev"),
                to: self.id(name),
                amount: Asset::core(funds),
                memo: None,
                extensions: Default::default(),
            });
            self.push_ops(vec![op], &[&dev]).expect("funded");
        }
        self.produce_block();
        key
    }
}

impl Default for DevChain {
    fn default() -> Self {
        DevChain::new()
    }
}

/// The key of `user{i}` in `DevChain::with_users`.
pub fn user_key(i: usize) -> PrivateKey {
    PrivateKey::from_label(&format!("user{i}"))
}

/// Wraps a pre-signed transaction as the verify stage would, without checking
/// signatures (for benches that pre-verify outside the timed loop).
pub fn preverified(trx: SignedTransaction, chain: &Chain) -> VerifiedTransaction {
    crate::pipeline::verify::hash_transaction(trx, &chain.chain_id())
        .expect("a well-formed transaction")
        .into_verified(chain)
}
