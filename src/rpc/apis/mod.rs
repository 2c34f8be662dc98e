//! The methods, one module per API. Each reads the chain through the context's
//! `StateReader`, whose reads the BLP runs between batches: the closure only copies
//! out what the answer needs (objects are cloned), and the JSON is built afterwards on
//! the RPC thread, so a read costs the BLP as little as it can.

pub mod database;
pub mod login;

use super::dispatch::Params;
use super::subscribe::{self, Session};
use super::{code, Context, RpcError};
use serde::Serialize;
use serde_json::Value;

/// Calls `api.method(params)`.
pub fn call(
    ctx: &Context,
    session: Option<&Session>,
    api: &str,
    method: &str,
    params: &[Value],
) -> Result<Value, RpcError> {
    let p = Params {
        method,
        values: params,
    };
    let answer = match api {
        "database" => subscribe::call(session, ctx.pending.is_some(), method, &p)
            .or_else(|| super::blocks::call(ctx, api, method, &p))
            .or_else(|| database::call(ctx, session, method, &p)),
        "block" => super::blocks::call(ctx, api, method, &p),
        "login" => login::call(method, &p),
        "network_broadcast" => super::broadcast::call(ctx, method, &p),
        "history" => super::history::call(ctx, method, &p),
        "network_node" => network_node(method, &p),
        "asset" => None,
        other => {
            return Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("unknown API {other:?}"),
            ))
        }
    };
    answer.unwrap_or_else(|| {
        let message = match not_built(method) {
            Some(feature) => {
                format!("{api}.{method} needs {feature}, which this chain does not have yet")
            }
            None => format!("unknown method {api}.{method}"),
        };
        Err(RpcError::new(code::METHOD_NOT_FOUND, message))
    })
}

/// API.md methods whose chain features later issues bring, with the feature.
fn not_built(method: &str) -> Option<&'static str> {
    Some(match method {
        "get_order_book"
        | "get_limit_orders"
        | "get_limit_orders_by_account"
        | "get_call_orders"
        | "get_settle_orders"
        | "get_margin_positions"
        | "get_ticker"
        | "get_24_volume"
        | "get_trade_history"
        | "get_top_markets"
        | "subscribe_to_market"
        | "unsubscribe_from_market" => "the order book",
        "get_all_workers" => "workers",
        "get_proposed_transactions" => "proposals",
        "get_withdraw_permissions_by_giver" | "get_withdraw_permissions_by_recipient" => {
            "withdraw permissions"
        }
        "get_vesting_balances" => "vesting balances (1.13)",
        _ => return None,
    })
}

/// The `network_node` API. Peer-to-peer networking is not built in this release:
/// the node has no peers, and says so.
fn network_node(method: &str, p: &Params) -> Option<Result<Value, RpcError>> {
    Some(match method {
        "get_info" => p.at_most(0).map(|()| {
            serde_json::json!({
                "connection_count": 0,
                "p2p": "peer-to-peer networking is not built in this release; \
                        transactions arrive over RPC and the ingest port",
            })
        }),
        "get_connected_peers" => p.at_most(0).map(|()| Value::Array(vec![])),
        _ => return None,
    })
}

/// An object as JSON with its `id` first among its fields, as BitShares writes every
/// object (some rows do not store their own id).
pub fn object_json(id: impl std::fmt::Display, object: &impl Serialize) -> Value {
    let mut v = to_json(object);
    if let Value::Object(fields) = &mut v {
        fields.insert("id".into(), Value::String(id.to_string()));
    }
    v
}

/// Serializes a value of ours; our types always serialize.
pub fn to_json(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| {
        tracing::error!("could not serialize an RPC answer: {e}");
        Value::Null
    })
}
