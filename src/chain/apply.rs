//! Applying transactions and blocks, the pending state, and popping blocks.
//!
//! Session layout (oldest first): one session per reversible block, then the pending
//! session (transactions applied ahead of the next block), then at most one transaction
//! session. Producing a block turns the pending session into the block's session, so its
//! transactions are not applied twice.

use super::error::{BlockError, TxError};
use super::evaluators::OperationResult;
use super::store::BLOCK_SUMMARY_RING;
use super::verified::VerifiedTransaction;
use super::Chain;
use crate::chain::objects::BlockSummaryObject;
use crate::protocol::block::BLOCK_ENVELOPE_BYTES;
use crate::protocol::chain_params::MAX_UNDO_HISTORY;
use crate::protocol::{BlockHeader, BlockId, Operation, PublicKey, SignedBlock, TransactionId};

/// How many transactions ahead a block's apply loop starts loading memory.
const PREFETCH_AHEAD: usize = 8;

/// What the verify stage learned about a block: its id, its verified signer and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockContext {
    pub id: BlockId,
    pub signer: PublicKey,
    pub packed_size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxReceipt {
    pub id: TransactionId,
    /// One result per operation (inline for single-operation transactions).
    pub results: smallvec::SmallVec<[OperationResult; 1]>,
}

/// How much of a transaction's validation to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Everything: a transaction or block not seen before.
    Full,
    /// A block this node validated in full when it first applied it, and saw become
    /// irreversible (a replay of its own block log). What cannot change the outcome
    /// of a valid block is skipped, as BitShares' reindex skips it: the TaPoS check,
    /// the duplicate lookup (the id is still recorded) and the authority check (its
    /// signatures are not checked either). Operations are applied in full, so the
    /// state is the same as the first time.
    Trusted,
}

impl Chain {
    /// Applies a transaction inside its own undo session: on error nothing changes.
    pub fn apply_transaction(&mut self, vtx: &VerifiedTransaction) -> Result<TxReceipt, TxError> {
        self.store.start_session();
        match self.apply_transaction_body(vtx, Checks::Full) {
            Ok(r) => {
                self.store.merge_session();
                Ok(r)
            }
            Err(e) => {
                self.store.undo_session();
                Err(e)
            }
        }
    }

    fn apply_transaction_body(
        &mut self,
        vtx: &VerifiedTransaction,
        checks: Checks,
    ) -> Result<TxReceipt, TxError> {
        let trx = &vtx.trx.trx;
        let params = &self.store.global().parameters;
        let (max_size, max_expiration) = (
            params.maximum_transaction_size,
            params.maximum_time_until_expiration,
        );
        if vtx.packed_size > max_size {
            return Err(TxError::TooLarge {
                size: vtx.packed_size as usize,
                max: max_size,
            });
        }
        let now = self.head_block_time();
        if trx.expiration < now {
            return Err(TxError::Expired {
                expiration: trx.expiration,
                now,
            });
        }
        if trx.expiration.0 as u64 > now.0 as u64 + max_expiration as u64 {
            return Err(TxError::ExpirationTooFar {
                expiration: trx.expiration,
                now,
                max_secs: max_expiration,
            });
        }
        if checks == Checks::Trusted {
            self.store.dedup.record_unchecked(vtx.id, trx.expiration);
        } else {
            let summary = self
                .store
                .block_summaries
                .get(trx.ref_block_num as u64)
                .copied()
                .unwrap_or_default();
            let expected = summary.block_id.tapos_prefix();
            if expected != trx.ref_block_prefix {
                return Err(TxError::TaposMismatch {
                    ref_block_num: trx.ref_block_num,
                    expected,
                    got: trx.ref_block_prefix,
                });
            }
            // Recorded before the authority check: an error undoes the session, and
            // with it the record.
            if !self.store.dedup.insert_new(vtx.id, trx.expiration) {
                return Err(TxError::Duplicate(vtx.id));
            }
            self.verify_authority(&trx.required_authorities(), &vtx.signers)?;
        }
        let mut results = smallvec::SmallVec::new();
        for (index, op) in trx.operations.iter().enumerate() {
            let r = self
                .apply_operation(op)
                .map_err(|error| TxError::Operation {
                    index,
                    op: op.name(),
                    error,
                })?;
            results.push(r);
        }
        Ok(TxReceipt {
            id: vtx.id,
            results,
        })
    }

    /// Starts loading what applying `vtx` will touch first (its duplicate-index slot,
    /// the transaction and its signers), without reading any of it. A caller that
    /// knows its next transactions calls this a few places ahead, so that their cache
    /// misses overlap the work on the ones before; results never depend on it.
    pub fn prefetch_transaction(&self, vtx: &VerifiedTransaction) {
        self.store.dedup.prefetch(&vtx.id);
        crate::chain::store::prefetch(&*vtx.trx);
        if let Some(signer) = vtx.signers.first() {
            crate::chain::store::prefetch(signer);
        }
    }
    /// The second step of [`Chain::prefetch_transaction`], once the transaction itself
    /// has arrived in the cache: its operations.
    pub fn prefetch_operations(&self, vtx: &VerifiedTransaction) {
        if let Some(op) = vtx.trx.trx.operations.first() {
            crate::chain::store::prefetch(op);
        }
    }
    /// The third step, once the first operation is in the cache: the accounts it
    /// names (its fee payer and, for a transfer, the recipient) and their rows of the
    /// balance index.
    pub fn prefetch_accounts(&self, vtx: &VerifiedTransaction) {
        let Some(op) = vtx.trx.trx.operations.first() else {
            return;
        };
        let (payer, other) = match op {
            Operation::Transfer(t) => (t.from, Some(t.to)),
            op => (op.fee_payer(), None),
        };
        for account in std::iter::once(payer).chain(other) {
            self.store.accounts.prefetch(account.0);
            self.store.balance_index.prefetch(account.0);
        }
    }
    /// The fourth step, once the accounts are in the cache: the balances a transfer
    /// moves and its payer's statistics (where fees are credited), and where the
    /// duplicate index will record the transaction's id.
    pub fn prefetch_balances(&self, vtx: &VerifiedTransaction) {
        self.store.dedup.prefetch_record(vtx.trx.trx.expiration);
        let Some(op) = vtx.trx.trx.operations.first() else {
            return;
        };
        if let Some(stats) = self.store.account(op.fee_payer()).map(|a| a.statistics) {
            self.store.account_stats.prefetch(stats.0);
        }
        if let Operation::Transfer(t) = op {
            for (owner, asset) in [(t.from, t.amount.asset_id), (t.to, t.amount.asset_id)] {
                if let Some(b) = self.store.balance_id(owner, asset) {
                    self.store.balances.prefetch(b.0);
                }
            }
            if t.fee.asset_id != t.amount.asset_id {
                if let Some(b) = self.store.balance_id(t.from, t.fee.asset_id) {
                    self.store.balances.prefetch(b.0);
                }
            }
        }
    }
    /// Applies a transaction to the pending state (ahead of the next block). A
    /// transaction that would overflow the block is refused with `PendingFull`, so the
    /// caller can hold it for the next block.
    pub fn push_transaction(&mut self, vtx: &VerifiedTransaction) -> Result<TxReceipt, TxError> {
        let max_block = self.store.global().parameters.maximum_block_size as usize;
        if BLOCK_ENVELOPE_BYTES + self.pending_bytes + vtx.packed_size as usize > max_block {
            return Err(TxError::PendingFull { max: max_block });
        }
        if !self.pending_open {
            self.store.start_session();
            self.pending_open = true;
        }
        let r = self.apply_transaction(vtx)?;
        self.pending_count += 1;
        self.pending_bytes += vtx.packed_size as usize;
        Ok(r)
    }

    /// Undoes the pending state. The caller keeps the transactions it wants to retry.
    pub fn clear_pending(&mut self) {
        if self.pending_open {
            self.store.undo_session();
            self.pending_open = false;
        }
        self.pending_count = 0;
        self.pending_bytes = 0;
    }

    /// Makes the pending transactions the next block, as `header` describes it. The
    /// caller built the header over exactly the pending transactions, in order.
    pub fn seal_pending_block(
        &mut self,
        header: &BlockHeader,
        ctx: &BlockContext,
    ) -> Result<(), BlockError> {
        self.validate_block_header(header, ctx)?;
        if !self.pending_open {
            self.store.start_session();
        }
        self.pending_open = false;
        self.pending_count = 0;
        self.pending_bytes = 0;
        self.finish_block(header, ctx);
        Ok(())
    }

    /// Applies a block received from elsewhere (peer, log). Any pending state is undone
    /// first; re-applying pending transactions is the caller's job.
    pub fn apply_block(
        &mut self,
        block: &SignedBlock,
        ctx: &BlockContext,
        txs: &[VerifiedTransaction],
    ) -> Result<(), BlockError> {
        if txs.len() != block.transactions.len() {
            self.clear_pending();
            return Err(BlockError::VerificationMismatch);
        }
        self.apply_block_parts(&block.header, ctx, txs)
    }

    /// [`Chain::apply_block`] for a block already split into its header and its
    /// verified transactions (a replay, which hands the transactions over instead of
    /// keeping a second copy).
    pub fn apply_block_parts(
        &mut self,
        header: &BlockHeader,
        ctx: &BlockContext,
        txs: &[VerifiedTransaction],
    ) -> Result<(), BlockError> {
        self.apply_block_checked(header, ctx, txs, Checks::Full)
    }

    /// [`Chain::apply_block_parts`] for a block that this node validated in full when
    /// it first applied it, and saw become irreversible: a replay of its own block
    /// log. The transactions' TaPoS, duplicate and authority checks are skipped (the
    /// caller skips their signatures too), and so is each transaction's own undo
    /// session: a failing transaction fails the block, whose session is undone.
    ///
    /// The duplicate index is deferred by the first such block (transaction ids are
    /// recorded without lookups); [`Chain::index_recent_transactions`] must build it
    /// before anything else is applied.
    pub fn apply_trusted_block_parts(
        &mut self,
        header: &BlockHeader,
        ctx: &BlockContext,
        txs: &[VerifiedTransaction],
    ) -> Result<(), BlockError> {
        self.store.dedup.defer_index();
        self.apply_block_checked(header, ctx, txs, Checks::Trusted)
    }

    /// Builds the duplicate index deferred by [`Chain::apply_trusted_block_parts`].
    /// A transaction id recorded twice (a block log that was not what this node
    /// validated) is the error.
    pub fn index_recent_transactions(&mut self) -> Result<(), TransactionId> {
        self.store.dedup.build_index()
    }

    fn apply_block_checked(
        &mut self,
        header: &BlockHeader,
        ctx: &BlockContext,
        txs: &[VerifiedTransaction],
        checks: Checks,
    ) -> Result<(), BlockError> {
        self.clear_pending();
        self.validate_block_header(header, ctx)?;
        self.store.start_session();
        for (index, vtx) in txs.iter().enumerate() {
            // Overlap the cache misses of the next transactions with this one, one
            // step of dependent loads per distance; results never depend on it.
            if let Some(next) = txs.get(index + PREFETCH_AHEAD) {
                self.prefetch_transaction(next);
            }
            if let Some(next) = txs.get(index + PREFETCH_AHEAD * 3 / 4) {
                self.prefetch_operations(next);
            }
            if let Some(next) = txs.get(index + PREFETCH_AHEAD / 2) {
                self.prefetch_accounts(next);
            }
            if let Some(next) = txs.get(index + PREFETCH_AHEAD / 4) {
                self.prefetch_balances(next);
            }
            let applied = match checks {
                Checks::Full => self.apply_transaction(vtx).map(drop),
                Checks::Trusted => self.apply_transaction_body(vtx, checks).map(drop),
            };
            if let Err(error) = applied {
                self.store.undo_session();
                return Err(BlockError::Transaction { index, error });
            }
        }
        self.finish_block(header, ctx);
        Ok(())
    }

    /// Undoes the head block. Only reversible blocks can be popped.
    pub fn pop_block(&mut self) -> Result<(), BlockError> {
        self.clear_pending();
        if self.reversible_blocks == 0 {
            return Err(BlockError::NothingToPop);
        }
        self.store.undo_session();
        self.reversible_blocks -= 1;
        Ok(())
    }

    /// Blocks above the last irreversible block, which can still be popped.
    pub fn reversible_blocks(&self) -> u32 {
        self.reversible_blocks
    }

    fn validate_block_header(
        &self,
        header: &BlockHeader,
        ctx: &BlockContext,
    ) -> Result<(), BlockError> {
        let dgp = self.store.dynamic();
        if header.previous != dgp.head_block_id {
            return Err(BlockError::NotOnHead {
                num: header.block_num(),
                head: dgp.head_block_id.to_string(),
            });
        }
        if header.timestamp <= dgp.time {
            return Err(BlockError::TimestampNotAfterHead {
                timestamp: header.timestamp,
                head_time: dgp.time,
            });
        }
        let depth = dgp.head_block_number - dgp.last_irreversible_block_num;
        if depth >= MAX_UNDO_HISTORY {
            return Err(BlockError::UndoHistoryFull {
                depth,
                max: MAX_UNDO_HISTORY,
            });
        }
        let max_size = self.store.global().parameters.maximum_block_size;
        if ctx.packed_size > max_size as usize {
            return Err(BlockError::TooLarge {
                size: ctx.packed_size,
                max: max_size,
            });
        }
        let slot = self.slot_at_time(header.timestamp);
        if slot == 0 || self.slot_time(slot) != header.timestamp {
            return Err(BlockError::NotOnSlot(header.timestamp));
        }
        let scheduled = self.scheduled_witness(slot);
        if header.witness != scheduled {
            return Err(BlockError::WrongWitness {
                timestamp: header.timestamp,
                scheduled: scheduled.to_string(),
                named: header.witness.to_string(),
            });
        }
        let witness = self
            .store
            .witnesses
            .get(scheduled.0)
            .expect("scheduled witnesses exist");
        if witness.signing_key != ctx.signer {
            return Err(BlockError::WrongSigner {
                witness: scheduled.to_string(),
                signer: ctx.signer.to_string(),
                expected: witness.signing_key.to_string(),
            });
        }
        Ok(())
    }

    /// The end-of-block steps, in the reference order. The block's session is open.
    fn finish_block(&mut self, header: &BlockHeader, ctx: &BlockContext) {
        let num = header.block_num();
        let maintenance_due = self.store.dynamic().next_maintenance_time <= header.timestamp;
        let missed = self.slot_at_time(header.timestamp) - 1;
        self.account_missed_slots(missed, header.witness);
        let aslot = self.store.modify_dynamic(|d| {
            d.head_block_number = num;
            d.head_block_id = ctx.id;
            d.time = header.timestamp;
            d.current_witness = header.witness;
            let filled = (d.recent_slots_filled << 1) | 1;
            d.recent_slots_filled = filled.checked_shl(missed).unwrap_or(0);
            d.current_aslot += missed as u64 + 1;
            d.current_aslot
        });
        self.store.witnesses.modify(header.witness.0, |w| {
            w.last_aslot = aslot;
            w.last_confirmed_block_num = num;
        });
        self.update_last_irreversible_block();
        if maintenance_due {
            self.perform_chain_maintenance(num, header.timestamp);
        }
        let slot = (num as usize) & (BLOCK_SUMMARY_RING - 1);
        self.store.block_summaries.modify(slot as u64, |s| {
            *s = BlockSummaryObject { block_id: ctx.id }
        });
        let now = self.head_block_time();
        self.store.dedup.expire(now);
        self.set_maintenance_flag(maintenance_due);
        self.update_witness_schedule();
        self.reversible_blocks += 1;
        self.commit_irreversible();
    }

    /// Drops undo history for blocks at or below the last irreversible block.
    fn commit_irreversible(&mut self) {
        let dgp = self.store.dynamic();
        let keep = dgp.head_block_number - dgp.last_irreversible_block_num;
        if self.reversible_blocks > keep {
            let n = self.reversible_blocks - keep;
            self.store.commit_oldest(n as usize);
            self.reversible_blocks = keep;
        }
        assert_eq!(
            self.store.session_depth(),
            self.reversible_blocks as usize,
            "open sessions must equal reversible blocks after a block"
        );
    }
}
