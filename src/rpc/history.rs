//! Operation history (the reference account_history plugin): every operation of
//! every produced block becomes an operation-history object `1.11.N`, listed under
//! each account it impacts, newest last. Each account keeps at most
//! `max_ops_per_account` entries; an object no account lists any more is dropped.
//!
//! History is built from produced blocks on the node's block-feed thread, never on
//! the BLP: only a block that creates accounts or assets costs one read, to learn
//! the new objects' ids (the operations' results).

use super::dispatch::Params;
use super::{Context, RpcError};
use crate::protocol::ids::{AccountId, AssetId, ObjectId};
use crate::protocol::operations::impacted_accounts;
use crate::protocol::{Operation, SignedBlock, TimePointSec};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// The `[rpc.history]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Keep operation history at all (costs the block-feed thread about a
    /// microsecond per operation, and memory).
    pub enabled: bool,
    /// Operations kept per account, newest first; older ones are forgotten.
    pub max_ops_per_account: usize,
}

impl Default for HistoryConfig {
    fn default() -> HistoryConfig {
        HistoryConfig {
            enabled: true,
            max_ops_per_account: 1000,
        }
    }
}

/// What an operation produced, as history shows it (`[0, {}]` for nothing,
/// `[1, "1.2.18"]` for a new object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Void,
    Object(ObjectId),
}

/// One operation-history object.
#[derive(Debug)]
pub struct OpRecord {
    pub seq: u64,
    pub op: Operation,
    pub result: OpResult,
    pub block_num: u32,
    pub block_time: TimePointSec,
    pub trx_in_block: u16,
    pub op_in_trx: u16,
}

impl OpRecord {
    pub fn to_json(&self) -> Value {
        let result = match self.result {
            OpResult::Void => json!([0, {}]),
            OpResult::Object(id) => json!([1, id.to_string()]),
        };
        json!({
            "id": format!("1.11.{}", self.seq),
            "op": self.op,
            "result": result,
            "block_num": self.block_num,
            "block_time": self.block_time,
            "trx_in_block": self.trx_in_block,
            "op_in_trx": self.op_in_trx,
            "virtual_op": 0,
            "is_virtual": false,
        })
    }
}

#[derive(Default)]
struct Inner {
    next_seq: u64,
    by_id: BTreeMap<u64, Arc<OpRecord>>,
    /// Lookups only, never iterated: the order of a HashMap does not matter here.
    by_account: HashMap<AccountId, VecDeque<Arc<OpRecord>>>,
}

pub struct History {
    config: HistoryConfig,
    inner: RwLock<Inner>,
}

/// The ids that a block's creating operations produced, looked up after the fact.
#[derive(Default)]
pub struct Created {
    pub accounts: BTreeMap<String, AccountId>,
    pub assets: BTreeMap<String, AssetId>,
}

impl Created {
    /// Names and symbols the block creates (empty for most blocks).
    pub fn wanted(block: &SignedBlock) -> (Vec<String>, Vec<String>) {
        let (mut accounts, mut assets) = (Vec::new(), Vec::new());
        for op in block.transactions.iter().flat_map(|t| &t.trx.operations) {
            match op {
                Operation::AccountCreate(o) => accounts.push(o.name.clone()),
                Operation::AssetCreate(o) => assets.push(o.symbol.clone()),
                _ => {}
            }
        }
        (accounts, assets)
    }

    fn result(&self, op: &Operation) -> OpResult {
        match op {
            Operation::AccountCreate(o) => self
                .accounts
                .get(&o.name)
                .map_or(OpResult::Void, |id| OpResult::Object(id.object_id())),
            Operation::AssetCreate(o) => self
                .assets
                .get(&o.symbol)
                .map_or(OpResult::Void, |id| OpResult::Object(id.object_id())),
            _ => OpResult::Void,
        }
    }
}

impl History {
    pub fn new(config: HistoryConfig) -> History {
        History {
            config,
            inner: RwLock::new(Inner::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// Records every operation of `block`.
    pub fn record_block(&self, block: &SignedBlock, created: &Created) {
        if !self.config.enabled {
            return;
        }
        let cap = self.config.max_ops_per_account.max(1);
        let mut inner = self.inner.write();
        let mut impacted = Vec::new();
        for (t, trx) in block.transactions.iter().enumerate() {
            for (o, op) in trx.trx.operations.iter().enumerate() {
                let result = created.result(op);
                impacted.clear();
                impacted_accounts(op, &mut impacted);
                if let (Operation::AccountCreate(_), OpResult::Object(id)) = (op, &result) {
                    impacted.push(AccountId::new(id.instance()));
                }
                let record = Arc::new(OpRecord {
                    seq: inner.next_seq,
                    op: op.clone(),
                    result,
                    block_num: block.header.block_num(),
                    block_time: block.header.timestamp,
                    trx_in_block: t as u16,
                    op_in_trx: o as u16,
                });
                inner.next_seq += 1;
                inner.by_id.insert(record.seq, record.clone());
                for account in &impacted {
                    let list = inner.by_account.entry(*account).or_default();
                    list.push_back(record.clone());
                    if list.len() > cap {
                        let old = list.pop_front().expect("longer than the cap");
                        // Held by `old` and the id index only: no account lists it.
                        if Arc::strong_count(&old) == 2 {
                            inner.by_id.remove(&old.seq);
                        }
                    }
                }
            }
        }
    }

    /// The operation-history object `1.11.seq`, if still kept.
    pub fn object(&self, seq: u64) -> Option<Value> {
        self.inner.read().by_id.get(&seq).map(|r| r.to_json())
    }

    /// `account`'s operations with ids in `(stop, start]`, newest first (`start` 0:
    /// from the newest; `stop` 0: no lower bound), at most `limit`.
    pub fn account_history(
        &self,
        account: AccountId,
        stop: u64,
        limit: usize,
        start: u64,
    ) -> Vec<Value> {
        let inner = self.inner.read();
        let Some(list) = inner.by_account.get(&account) else {
            return vec![];
        };
        list.iter()
            .rev()
            .skip_while(|r| start != 0 && r.seq > start)
            .take_while(|r| stop == 0 || r.seq > stop)
            .take(limit)
            .map(|r| r.to_json())
            .collect()
    }

    /// `account`'s operations in blocks at or before `before` (all when `None`),
    /// newest first, at most `limit`.
    pub fn account_history_by_time(
        &self,
        account: AccountId,
        before: Option<TimePointSec>,
        limit: usize,
    ) -> Vec<Value> {
        let inner = self.inner.read();
        let Some(list) = inner.by_account.get(&account) else {
            return vec![];
        };
        // Entries are in block order, so times only grow: binary search the cut.
        let end = match before {
            None => list.len(),
            Some(t) => list.partition_point(|r| r.block_time <= t),
        };
        list.range(..end)
            .rev()
            .take(limit)
            .map(|r| r.to_json())
            .collect()
    }
}

fn history_id(p: &Params, i: usize, what: &str) -> Result<u64, RpcError> {
    let Some(text) = p.opt::<String>(i, what)? else {
        return Ok(0);
    };
    let id: ObjectId = text
        .parse()
        .map_err(|e| RpcError::invalid_params(format!("{}: {what}: {e}", p.method)))?;
    if (id.space(), id.type_id()) != (1, 11) {
        return Err(RpcError::invalid_params(format!(
            "{}: {what} {text} is not an operation-history id (1.11.N)",
            p.method
        )));
    }
    Ok(id.instance())
}

/// The `history` API.
pub fn call(ctx: &Context, method: &str, p: &Params) -> Option<Result<Value, RpcError>> {
    let limits = &ctx.config.limits;
    let history = &ctx.history;
    let account = |name: &str| -> Result<AccountId, RpcError> {
        let name_owned = name.to_string();
        ctx.state
            .read(move |c| super::apis::database::account_id(c, &name_owned))
            .map_err(RpcError::from)?
            .ok_or_else(|| RpcError::invalid_params(format!("{method}: no account {name:?}")))
    };
    let disabled = || {
        RpcError::invalid_params(format!(
            "{method}: operation history is off on this node (rpc.history.enabled)"
        ))
    };
    Some(match method {
        "get_account_history" => (|| {
            p.at_most(4)?;
            let name: String = p.get(0, "account name or id")?;
            let stop = history_id(p, 1, "stop")?;
            let limit = p.limit(2, limits.get_account_history)?;
            let start = history_id(p, 3, "start")?;
            if !history.enabled() {
                return Err(disabled());
            }
            let id = account(&name)?;
            Ok(Value::Array(
                history.account_history(id, stop, limit, start),
            ))
        })(),
        "get_account_history_by_time" => (|| {
            p.at_most(3)?;
            let name: String = p.get(0, "account name or id")?;
            let before = p.opt::<TimePointSec>(1, "time (operations at or before it)")?;
            let limit = p.limit(2, limits.get_account_history)?;
            if !history.enabled() {
                return Err(disabled());
            }
            let id = account(&name)?;
            Ok(Value::Array(
                history.account_history_by_time(id, before, limit),
            ))
        })(),
        "get_fill_order_history" | "get_market_history" | "get_market_history_buckets" => {
            Err(RpcError::new(
                super::code::METHOD_NOT_FOUND,
                format!(
                    "history.{method} needs the order book, which this chain does not have yet"
                ),
            ))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::operations::TransferOperation;
    use crate::protocol::{Asset, BlockHeader, SignedTransaction, Transaction};

    fn transfer(from: u64, to: u64) -> SignedTransaction {
        SignedTransaction {
            trx: Transaction {
                operations: vec![Operation::Transfer(TransferOperation {
                    fee: Asset::core(1),
                    from: AccountId(from),
                    to: AccountId(to),
                    amount: Asset::core(5),
                    memo: None,
                    extensions: Default::default(),
                })],
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn block(num: u32, time: u32, transactions: Vec<SignedTransaction>) -> SignedBlock {
        let mut previous = [0u8; 32];
        previous[..4].copy_from_slice(&(num - 1).to_be_bytes());
        SignedBlock {
            header: BlockHeader {
                previous: crate::protocol::BlockId(previous),
                timestamp: TimePointSec(time),
                witness: crate::protocol::WitnessId(0),
                transaction_merkle_root: crate::protocol::transaction::Digest32([0; 32]),
                extensions: Default::default(),
            },
            witness_signature: crate::protocol::Signature([0; 64]),
            transactions,
        }
    }

    fn ids(list: &[Value]) -> Vec<&str> {
        list.iter().map(|v| v["id"].as_str().unwrap()).collect()
    }

    #[test]
    fn history_lists_each_impacted_account_newest_first() {
        let h = History::new(HistoryConfig::default());
        h.record_block(
            &block(1, 100, vec![transfer(17, 18), transfer(18, 19)]),
            &Created::default(),
        );
        h.record_block(&block(2, 103, vec![transfer(17, 19)]), &Created::default());
        assert_eq!(
            ids(&h.account_history(AccountId(17), 0, 10, 0)),
            ["1.11.2", "1.11.0"]
        );
        assert_eq!(
            ids(&h.account_history(AccountId(18), 0, 10, 0)),
            ["1.11.1", "1.11.0"]
        );
        assert_eq!(ids(&h.account_history(AccountId(19), 0, 1, 0)), ["1.11.2"]);
        // (stop, start] bounds.
        assert_eq!(ids(&h.account_history(AccountId(19), 1, 10, 0)), ["1.11.2"]);
        assert_eq!(ids(&h.account_history(AccountId(19), 0, 10, 1)), ["1.11.1"]);
        let r = h.object(2).unwrap();
        assert_eq!(r["block_num"], 2);
        assert_eq!(r["op"][0], 0);
        assert_eq!(r["result"], json!([0, {}]));
        assert!(h.account_history(AccountId(99), 0, 10, 0).is_empty());
        // By time: at or before 101 is the first block only.
        assert_eq!(
            ids(&h.account_history_by_time(AccountId(17), Some(TimePointSec(101)), 10)),
            ["1.11.0"]
        );
        assert_eq!(
            ids(&h.account_history_by_time(AccountId(17), None, 10)),
            ["1.11.2", "1.11.0"]
        );
        assert!(h
            .account_history_by_time(AccountId(17), Some(TimePointSec(99)), 10)
            .is_empty());
    }

    #[test]
    fn the_per_account_cap_forgets_old_operations_and_their_objects() {
        let h = History::new(HistoryConfig {
            enabled: true,
            max_ops_per_account: 2,
        });
        for n in 1..=4 {
            h.record_block(
                &block(n, 100 + n * 3, vec![transfer(17, 18)]),
                &Created::default(),
            );
        }
        h.record_block(&block(5, 200, vec![transfer(20, 21)]), &Created::default());
        assert_eq!(
            ids(&h.account_history(AccountId(17), 0, 10, 0)),
            ["1.11.3", "1.11.2"]
        );
        assert!(
            h.object(0).is_none() && h.object(1).is_none(),
            "no account lists them"
        );
        assert!(h.object(2).is_some() && h.object(4).is_some());
        let off = History::new(HistoryConfig {
            enabled: false,
            max_ops_per_account: 2,
        });
        off.record_block(&block(1, 100, vec![transfer(17, 18)]), &Created::default());
        assert!(off.object(0).is_none());
    }
}
