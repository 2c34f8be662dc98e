//! Blocks and transactions by number: `get_block`, `get_block_header` and
//! `get_transaction` (database API) and `get_blocks` (block API).
//!
//! The node keeps the most recent blocks it produced in memory for these
//! ([`RecentBlocks`], fed by the node as blocks are produced), within
//! `rpc.recent_blocks` blocks and `rpc.recent_block_transactions` transactions. Older
//! blocks (and, after a restart, every block) are read from the block log when the
//! node has one; without it, an older block is answered with an error that says so. A
//! block number not produced yet is `null`, as in BitShares.

use super::dispatch::Params;
use super::{code, Context, RpcError};
use crate::protocol::ids::WitnessId;
use crate::protocol::{SignedBlock, TransactionId};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// A kept block and its transactions' ids.
type Kept = (Arc<SignedBlock>, Arc<[TransactionId]>);

/// The blocks kept for RPC, oldest first, in consecutive numbers.
pub struct RecentBlocks {
    inner: Mutex<Inner>,
    blocks_max: usize,
    transactions_max: usize,
    /// Where blocks that are not kept are read from (the node sets it).
    log: std::sync::OnceLock<Arc<crate::storage::blocklog::BlockLog>>,
}

#[derive(Default)]
struct Inner {
    blocks: VecDeque<Arc<SignedBlock>>,
    /// Each kept block's transaction ids, in the same order as `blocks`.
    ids: VecDeque<Arc<[TransactionId]>>,
    /// Transaction id → (block number, position), for the kept blocks. Looked up,
    /// never iterated.
    by_id: HashMap<TransactionId, (u32, u32)>,
    transactions: usize,
    /// The newest block number ever evicted (0: none).
    evicted_up_to: u32,
}

impl RecentBlocks {
    pub fn new(blocks_max: usize, transactions_max: usize) -> RecentBlocks {
        RecentBlocks {
            inner: Mutex::new(Inner::default()),
            blocks_max: blocks_max.max(1),
            transactions_max,
            log: std::sync::OnceLock::new(),
        }
    }

    /// Serves blocks that are not kept in memory from `log`.
    pub fn set_log(&self, log: Arc<crate::storage::blocklog::BlockLog>) {
        let _ = self.log.set(log);
    }

    /// Block `num` from the block log, if the node has one and the block is there.
    fn read_logged(&self, method: &str, num: u32) -> Result<Option<Kept>, RpcError> {
        let Some(log) = self.log.get() else {
            return Ok(None);
        };
        let failed = |e: String| RpcError::new(code::INTERNAL_ERROR, format!("{method}: {e}"));
        let Some(raw) = log.read(num).map_err(|e| failed(e.to_string()))? else {
            return Ok(None);
        };
        let block = raw.decode().map_err(failed)?;
        let ids: Arc<[TransactionId]> = block.transactions.iter().map(|t| t.trx.id()).collect();
        Ok(Some((Arc::new(block), ids)))
    }

    /// Keeps `block`, the successor of the newest kept, dropping the oldest beyond
    /// the caps (the newest block is always kept).
    /// `ids` are its transactions' ids, in order.
    pub fn push(&self, block: Arc<SignedBlock>, ids: Arc<[TransactionId]>) {
        let mut s = self.inner.lock();
        if let Some(last) = s.blocks.back() {
            if block.header.block_num() != last.header.block_num() + 1 {
                // A gap (cannot happen with one producer): start over from this one.
                let n = last.header.block_num();
                s.evicted_up_to = s.evicted_up_to.max(n);
                s.blocks.clear();
                s.ids.clear();
                s.by_id.clear();
                s.transactions = 0;
            }
        }
        let num = block.header.block_num();
        for (i, id) in ids.iter().enumerate() {
            s.by_id.insert(*id, (num, i as u32));
        }
        s.transactions += block.transactions.len();
        s.blocks.push_back(block);
        s.ids.push_back(ids);
        while s.blocks.len() > 1
            && (s.blocks.len() > self.blocks_max || s.transactions > self.transactions_max)
        {
            let old = s.blocks.pop_front().expect("more than one block");
            let old_ids = s.ids.pop_front().unwrap_or_else(|| Arc::from(Vec::new()));
            let old_num = old.header.block_num();
            for id in old_ids.iter() {
                // The same id may be in a newer block only if it was resubmitted after
                // expiring; keep that entry.
                if s.by_id.get(id).is_some_and(|(n, _)| *n == old_num) {
                    s.by_id.remove(id);
                }
            }
            s.transactions -= old.transactions.len();
            s.evicted_up_to = old_num;
        }
    }

    /// A kept transaction by id, with its block number and position.
    pub fn transaction(&self, id: &TransactionId) -> Option<(u32, u32, Arc<SignedBlock>)> {
        let s = self.inner.lock();
        let (num, pos) = *s.by_id.get(id)?;
        let first = s.blocks.front()?.header.block_num();
        let block = s.blocks.get(num.checked_sub(first)? as usize)?.clone();
        Some((num, pos, block))
    }

    /// Block `num`: `Ok(None)` if it is not produced yet, an error if it is no longer
    /// kept.
    /// The block comes with its transactions' ids, as the verify stage computed them.
    fn get(&self, method: &str, num: u32) -> Result<Option<Kept>, RpcError> {
        let s = self.inner.lock();
        if let Some(first) = s.blocks.front() {
            let first_num = first.header.block_num();
            if num >= first_num {
                let i = (num - first_num) as usize;
                return Ok(s.blocks.get(i).cloned().zip(s.ids.get(i).cloned()));
            }
        }
        let evicted_up_to = s.evicted_up_to;
        drop(s);
        if num > 0 && self.log.get().is_some() {
            return self.read_logged(method, num);
        }
        if num <= evicted_up_to {
            return Err(RpcError::new(
                code::INTERNAL_ERROR,
                format!(
                    "{method}: block {num} is older than the blocks this node keeps in memory (from {}; rpc.recent_blocks), and this node has no block log to read it from",
                    evicted_up_to + 1
                ),
            ));
        }
        Ok(None)
    }
}

/// The block methods; `None` for any other method. `api` is `database` or `block`.
pub fn call(ctx: &Context, api: &str, method: &str, p: &Params) -> Option<Result<Value, RpcError>> {
    let blocks = &ctx.blocks;
    Some(match (api, method) {
        ("database", "get_recent_transaction_by_id") => (|| {
            let id = p.get::<TransactionId>(0, "transaction id")?;
            p.at_most(1)?;
            Ok(match blocks.transaction(&id) {
                Some((_, pos, block)) => super::apis::to_json(&block.transactions[pos as usize]),
                None => Value::Null,
            })
        })(),
        ("database", "get_block") => (|| {
            let num = p.get::<u32>(0, "block number")?;
            p.at_most(1)?;
            match blocks.get(method, num)? {
                Some((b, ids)) => block_json(ctx, &b, &ids),
                None => Ok(Value::Null),
            }
        })(),
        ("database", "get_block_header") => (|| {
            let num = p.get::<u32>(0, "block number")?;
            p.at_most(1)?;
            Ok(blocks
                .get(method, num)?
                .map_or(Value::Null, |(b, _)| super::apis::to_json(&b.header)))
        })(),
        ("database", "get_transaction") => (|| {
            let num = p.get::<u32>(0, "block number")?;
            let index = p.get::<u32>(1, "transaction index in the block")?;
            p.at_most(2)?;
            let (block, _) = blocks.get(method, num)?.ok_or_else(|| {
                RpcError::invalid_params(format!("{method}: block {num} does not exist yet"))
            })?;
            let trx = block.transactions.get(index as usize).ok_or_else(|| {
                RpcError::invalid_params(format!(
                    "{method}: block {num} has {} transaction(s), no index {index}",
                    block.transactions.len()
                ))
            })?;
            Ok(super::apis::to_json(trx))
        })(),
        ("block", "get_blocks") => (|| {
            let from = p.get::<u32>(0, "first block number")?;
            let to = p.get::<u32>(1, "last block number")?;
            p.at_most(2)?;
            let max = ctx.config.limits.get_blocks;
            if to < from {
                return Err(RpcError::invalid_params(format!(
                    "{method}: the last block {to} is before the first {from}"
                )));
            }
            if u64::from(to - from) + 1 > u64::from(max) {
                return Err(RpcError::invalid_params(format!(
                    "{method}: {} blocks exceed the maximum {max} (rpc.limits.get_blocks)",
                    u64::from(to - from) + 1
                )));
            }
            let mut out = Vec::new();
            for num in from..=to {
                match blocks.get(method, num)? {
                    Some((b, ids)) => out.push(block_json(ctx, &b, &ids)?),
                    None => break,
                }
            }
            Ok(Value::Array(out))
        })(),
        _ => return None,
    })
}

/// A block as BitShares answers it: the signed block with its id, its witness's
/// signing key and its transactions' ids.
fn block_json(ctx: &Context, b: &SignedBlock, ids: &[TransactionId]) -> Result<Value, RpcError> {
    let witness: WitnessId = b.header.witness;
    let signing_key = ctx.state.read(|c| {
        c.store
            .witnesses
            .get(witness.0)
            .map(|w| w.signing_key.to_string())
    })?;
    let mut v = super::apis::to_json(b);
    if let Value::Object(fields) = &mut v {
        fields.insert("block_id".into(), json!(b.header.id().to_string()));
        fields.insert("signing_key".into(), json!(signing_key));
        fields.insert(
            "transaction_ids".into(),
            Value::Array(ids.iter().map(|id| json!(id.to_string())).collect()),
        );
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::BlockHeader;

    fn block(num: u32, txs: usize) -> Arc<SignedBlock> {
        // The block number is the number in the previous block's id, plus one.
        let mut previous = [0u8; 32];
        previous[..4].copy_from_slice(&(num - 1).to_be_bytes());
        let header = BlockHeader {
            previous: crate::protocol::BlockId(previous),
            ..BlockHeader::default()
        };
        Arc::new(SignedBlock {
            header,
            witness_signature: crate::protocol::Signature([0; 64]),
            transactions: vec![Default::default(); txs],
        })
    }

    fn ids(num: u32, txs: usize) -> Arc<[TransactionId]> {
        (0..txs)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..4].copy_from_slice(&num.to_be_bytes());
                id[4] = i as u8;
                TransactionId(id)
            })
            .collect()
    }

    #[test]
    fn transactions_are_found_by_id_while_their_block_is_kept() {
        let r = RecentBlocks::new(2, 100);
        r.push(block(1, 2), ids(1, 2));
        r.push(block(2, 3), ids(2, 3));
        let (num, pos, b) = r.transaction(&ids(2, 3)[2]).unwrap();
        assert_eq!((num, pos, b.header.block_num()), (2, 2, 2));
        assert_eq!(r.transaction(&ids(1, 2)[1]).unwrap().0, 1);
        r.push(block(3, 1), ids(3, 1));
        assert!(
            r.transaction(&ids(1, 2)[1]).is_none(),
            "block 1 was evicted"
        );
        assert_eq!(r.transaction(&ids(3, 1)[0]).unwrap().0, 3);
        assert!(r.transaction(&TransactionId([9; 32])).is_none());
    }

    #[test]
    fn keeps_the_newest_blocks_within_both_caps() {
        let r = RecentBlocks::new(3, 10);
        for n in 1..=5 {
            r.push(block(n, 2), ids(n, 2));
        }
        assert!(r
            .get("m", 1)
            .unwrap_err()
            .message
            .contains("rpc.recent_blocks"));
        assert!(r.get("m", 2).is_err());
        for n in 3..=5 {
            assert_eq!(r.get("m", n).unwrap().unwrap().0.header.block_num(), n);
        }
        assert!(r.get("m", 6).unwrap().is_none());
        // The transaction cap: a block of 9 leaves room for no other.
        r.push(block(6, 9), ids(6, 9));
        assert!(r.get("m", 5).is_err());
        assert_eq!(r.get("m", 6).unwrap().unwrap().0.transactions.len(), 9);
        // One block over the cap on its own is still kept.
        r.push(block(7, 50), ids(7, 50));
        assert_eq!(r.get("m", 7).unwrap().unwrap().0.transactions.len(), 50);
        assert!(r.get("m", 6).is_err());
    }
}
