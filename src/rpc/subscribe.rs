//! Subscriptions and `notice` pushes over WebSocket (`API.md`), as BitShares does them:
//! the client passes a number where BitShares takes a callback, and the node later
//! pushes `{"method":"notice","params":[NUMBER,[...]]}`.
//!
//! * `set_block_applied_callback(cb)`: `[cb, [BLOCK_ID]]` for every block applied;
//! * `set_subscribe_callback(cb, notify_remove_create)`: from then on, objects that
//!   `get_objects` returns are watched, and so are the accounts that
//!   `get_full_accounts` is asked to subscribe to (the account, its statistics and its
//!   balances). After each block, `[cb, [[OBJECT, ...]]]` carries every watched
//!   object whose JSON changed in it (an object that disappeared is sent as its id,
//!   one that does not exist yet is not sent; the first block after an object is
//!   watched sends its state then);
//! * `cancel_all_subscriptions()` ends them all.
//!
//! Changes are found by comparing each watched object's JSON after every block with
//! what was last sent, which catches a change whatever operation made it. The objects
//! and accounts watched per connection are capped (`rpc.subscriptions_max`), and going
//! over the cap is an error that names it. A connection that cannot keep up loses
//! intermediate block notices, never its connection: the next notice carries the
//! objects' latest state.
//!
//! `set_pending_transaction_callback` is refused with an error that says so: the
//! pipeline does not publish pending transactions to the RPC side yet.

use super::apis::database;
use super::dispatch::Params;
use super::{code, Context, RpcError};
use crate::chain::Chain;
use crate::protocol::ids::{AccountId, ObjectId};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::broadcast;

/// A block the node applied, as subscribers hear of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEvent {
    pub number: u32,
    pub id: String,
}

/// Where applied blocks are announced to every WebSocket session.
#[derive(Clone)]
pub struct Hub(broadcast::Sender<Arc<BlockEvent>>);

/// Blocks a session may fall behind before it skips to the newest (it then sends one
/// notice per block it still has, and the objects' latest state).
const HUB_DEPTH: usize = 64;

impl Default for Hub {
    fn default() -> Hub {
        Hub(broadcast::channel(HUB_DEPTH).0)
    }
}

impl Hub {
    /// Announces a block (to nobody when no session listens).
    pub fn publish(&self, event: BlockEvent) {
        let _ = self.0.send(Arc::new(event));
    }
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BlockEvent>> {
        self.0.subscribe()
    }
}

/// One WebSocket connection's subscriptions.
#[derive(Default)]
pub struct Session(Mutex<Subs>);

#[derive(Default)]
struct Subs {
    block_callback: Option<u64>,
    callback: Option<u64>,
    objects: BTreeSet<ObjectId>,
    accounts: BTreeSet<AccountId>,
    /// The JSON last sent (or returned) for each watched object.
    last: BTreeMap<ObjectId, Value>,
    pending_callback: Option<u64>,
}

impl Subs {
    fn count(&self) -> usize {
        self.objects.len() + self.accounts.len()
    }
}

impl Session {
    /// Whether anything needs a look after a block.
    pub fn is_active(&self) -> bool {
        let s = self.0.lock();
        s.block_callback.is_some() || s.callback.is_some()
    }

    /// The pending-transaction callback, if one is set.
    pub fn pending_callback(&self) -> Option<u64> {
        self.0.lock().pending_callback
    }

    /// Watches `ids` if a subscribe callback is set (what `get_objects` returned).
    pub fn watch_objects(&self, ctx: &Context, ids: &[ObjectId]) -> Result<(), RpcError> {
        let mut s = self.0.lock();
        if s.callback.is_none() {
            return Ok(());
        }
        let new: Vec<ObjectId> = ids
            .iter()
            .copied()
            .filter(|id| !s.objects.contains(id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        check_cap(ctx, s.count(), new.len())?;
        s.objects.extend(new);
        Ok(())
    }

    /// Watches the accounts `get_full_accounts` was asked to subscribe to.
    pub fn watch_accounts(&self, ctx: &Context, ids: &[AccountId]) -> Result<(), RpcError> {
        let mut s = self.0.lock();
        let new: BTreeSet<AccountId> = ids
            .iter()
            .copied()
            .filter(|id| !s.accounts.contains(id))
            .collect();
        check_cap(ctx, s.count(), new.len())?;
        s.accounts.extend(new);
        Ok(())
    }
}

fn check_cap(ctx: &Context, have: usize, adding: usize) -> Result<(), RpcError> {
    let max = ctx.config.subscriptions_max;
    if have + adding > max {
        return Err(RpcError::invalid_params(format!(
            "subscribing to {adding} more object(s) or account(s) would exceed the maximum {max} per connection (rpc.subscriptions_max); {have} already watched"
        )));
    }
    Ok(())
}

/// The error for a subscribing call made over HTTP.
pub fn needs_websocket(what: &str) -> RpcError {
    RpcError::new(
        code::INVALID_REQUEST,
        format!("{what} needs a WebSocket connection: notices cannot be pushed over HTTP"),
    )
}

/// The subscription methods of the database API; `None` for any other method.
/// `session` is `None` over HTTP, where they are refused.
pub fn call(
    session: Option<&Session>,
    pending_available: bool,
    method: &str,
    p: &Params,
) -> Option<Result<Value, RpcError>> {
    let needs_ws = || needs_websocket(method);
    Some(match method {
        "set_subscribe_callback" => (|| {
            let s = session.ok_or_else(needs_ws)?;
            let cb = p.get::<u64>(0, "callback number")?;
            // BitShares' notify_remove_create: accepted; removals are always sent.
            p.opt::<bool>(1, "notify_remove_create")?;
            p.at_most(2)?;
            let mut subs = s.0.lock();
            subs.callback = Some(cb);
            Ok(Value::Null)
        })(),
        "set_block_applied_callback" => (|| {
            let s = session.ok_or_else(needs_ws)?;
            let cb = p.get::<u64>(0, "callback number")?;
            p.at_most(1)?;
            s.0.lock().block_callback = Some(cb);
            Ok(Value::Null)
        })(),
        "cancel_all_subscriptions" => (|| {
            let s = session.ok_or_else(needs_ws)?;
            p.at_most(0)?;
            *s.0.lock() = Subs::default();
            Ok(Value::Null)
        })(),
        "set_pending_transaction_callback" => (|| {
            let s = session.ok_or_else(needs_ws)?;
            let cb = p.get::<u64>(0, "callback number")?;
            p.at_most(1)?;
            if !pending_available {
                return Err(RpcError::new(
                    code::INVALID_REQUEST,
                    "set_pending_transaction_callback: this node runs without a pipeline, so it has no pending transactions to publish",
                ));
            }
            s.0.lock().pending_callback = Some(cb);
            Ok(Value::Null)
        })(),
        _ => return None,
    })
}

/// The notices owed to `session` for `event`: the block notice, then the watched
/// objects that changed. Reads the state (call it off the async threads).
pub fn notices(ctx: &Context, session: &Session, event: &BlockEvent) -> Vec<Value> {
    let (block_cb, cb, objects, accounts) = {
        let s = session.0.lock();
        (
            s.block_callback,
            s.callback,
            s.objects.clone(),
            s.accounts.clone(),
        )
    };
    let mut out = Vec::new();
    if let Some(cb) = block_cb {
        out.push(notice(cb, json!([event.id])));
    }
    let Some(cb) = cb else {
        return out;
    };
    if objects.is_empty() && accounts.is_empty() {
        return out;
    }
    // Read before the state, as `get_objects` does: the dynamic properties (2.1.0)
    // report no block as irreversible before this node has it on disk.
    let cap = ctx.durable_head();
    let Ok(current) = ctx.state.read(|c| watched(c, &objects, &accounts)) else {
        return out;
    };
    let mut changed = Vec::new();
    let mut s = session.0.lock();
    for (id, object) in current {
        let gone = object.is_none();
        let mut now = object.map_or_else(|| Value::String(id.to_string()), |o| o());
        if (id.space(), id.type_id()) == (2, 1) {
            database::cap_irreversible(&mut now, cap);
        }
        if gone && !s.last.contains_key(&id) {
            // Never seen: nothing disappeared. Remembered, so that nothing is sent
            // until it exists.
            s.last.insert(id, now);
            continue;
        }
        if s.last.get(&id) != Some(&now) {
            s.last.insert(id, now.clone());
            changed.push(now);
        }
    }
    if !changed.is_empty() {
        out.push(notice(cb, json!([changed])));
    }
    out
}

/// Every watched object, copied: the objects by id, and for each account its
/// account, statistics and balance objects.
fn watched(
    c: &Chain,
    objects: &BTreeSet<ObjectId>,
    accounts: &BTreeSet<AccountId>,
) -> Vec<(ObjectId, Option<database::Later>)> {
    let mut ids: BTreeSet<ObjectId> = objects.clone();
    for &a in accounts {
        ids.insert(a.object_id());
        if let Some(account) = c.store.account(a) {
            ids.insert(account.statistics.object_id());
        }
        ids.extend(
            database::balance_ids(c, a)
                .into_iter()
                .map(|b| b.object_id()),
        );
    }
    ids.into_iter()
        .map(|id| (id, database::object(c, id)))
        .collect()
}

fn notice(cb: u64, args: Value) -> Value {
    json!({"method": "notice", "params": [cb, args]})
}

/// The notice for a pending transaction: `[callback, [transaction]]`.
pub fn pending_notice(callback: u64, trx: &crate::protocol::SignedTransaction) -> Value {
    let mut t = serde_json::to_value(trx).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut t {
        fields.insert("id".into(), Value::String(trx.trx.id().to_string()));
    }
    json!({"method": "notice", "params": [callback, [t]]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::StateReader;
    use crate::rpc::RpcConfig;
    use crate::test_utils::DevChain;

    #[test]
    fn watched_objects_are_sent_when_they_change_and_missing_ones_never() {
        let ctx = Context::new(
            StateReader::detached(DevChain::new().chain),
            RpcConfig::default(),
        );
        let session = Session::default();
        let values = [json!(7), json!(false)];
        let p = Params {
            method: "set_subscribe_callback",
            values: &values,
        };
        assert_eq!(
            call(Some(&session), false, p.method, &p).unwrap(),
            Ok(Value::Null)
        );
        let ids: Vec<ObjectId> = ["2.1.0", "1.2.9999"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        session.watch_objects(&ctx, &ids).unwrap();
        let event = BlockEvent {
            number: 1,
            id: "00".repeat(32),
        };
        // First block: the existing object's state; the missing one is not sent.
        let n = notices(&ctx, &session, &event);
        assert_eq!(n.len(), 1, "{n:?}");
        let changed = n[0]["params"][1][0].as_array().unwrap();
        assert_eq!(changed.len(), 1, "{n:?}");
        assert_eq!(changed[0]["id"], "2.1.0");
        // Nothing changed since: nothing to send.
        assert!(notices(&ctx, &session, &event).is_empty());
        // A change is sent.
        ctx.state
            .write(|c| c.store.modify_dynamic(|d| d.head_block_number += 1))
            .unwrap();
        let n = notices(&ctx, &session, &event);
        assert_eq!(n[0]["params"][1][0][0]["id"], "2.1.0", "{n:?}");
    }

    #[test]
    fn watched_dynamic_properties_report_no_lib_above_the_durable_block() {
        let mut t = DevChain::new();
        for _ in 0..4 {
            t.produce_block();
        }
        t.chain
            .store
            .modify_dynamic(|d| d.last_irreversible_block_num = 3);
        let mut ctx = Context::new(StateReader::detached(t.chain), RpcConfig::default());
        ctx.durable = Some(std::sync::Arc::new(|| 1));
        let session = Session::default();
        let values = [json!(7), json!(false)];
        let p = Params {
            method: "set_subscribe_callback",
            values: &values,
        };
        call(Some(&session), false, p.method, &p).unwrap().unwrap();
        session
            .watch_objects(&ctx, &["2.1.0".parse().unwrap()])
            .unwrap();
        let event = BlockEvent {
            number: 4,
            id: "00".repeat(32),
        };
        let n = notices(&ctx, &session, &event);
        let dynamic = &n[0]["params"][1][0][0];
        assert_eq!(dynamic["id"], "2.1.0", "{n:?}");
        assert_eq!(dynamic["last_irreversible_block_num"], 1, "{n:?}");
    }
}
