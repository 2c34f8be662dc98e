//! The database API (id 0; bare method names land here): objects, chain properties,
//! accounts, balances, keys and assets.

use super::{object_json, to_json};
use crate::chain::Chain;
use crate::protocol::asset::Asset;
use crate::protocol::ids::*;
use crate::protocol::PublicKey;
use crate::rpc::dispatch::Params;
use crate::rpc::{Context, RpcError};
use serde_json::{json, Value};

pub fn call(ctx: &Context, method: &str, p: &Params) -> Option<Result<Value, RpcError>> {
    let limits = &ctx.config.limits;
    let read = |f: &dyn Fn(&Chain) -> Value| ctx.state.read(f).map_err(RpcError::from);
    Some(match method {
        "get_chain_id" => read(&|c| Value::String(c.chain_id().to_string())),
        "get_dynamic_global_properties" => read(&|c| object_json("2.1.0", c.store.dynamic())),
        "get_global_properties" => read(&|c| object_json("2.0.0", c.store.global())),
        "get_chain_properties" => read(&|c| {
            c.store
                .chain_property
                .as_ref()
                .map_or(Value::Null, |o| object_json("2.11.0", o))
        }),
        "get_config" => Ok(config()),
        "get_objects" => p
            .list::<String>(0, "object ids", limits.get_objects)
            .and_then(|ids| {
                let ids = ids
                    .iter()
                    .map(|s| {
                        s.parse::<ObjectId>().map_err(|e| {
                            RpcError::invalid_params(format!("get_objects: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                read(&|c| Value::Array(ids.iter().map(|id| object(c, *id)).collect()))
            }),
        "get_account_by_name" => p.get::<String>(0, "account name").and_then(|name| {
            read(&|c| {
                c.account_id_by_name(&name)
                    .and_then(|id| c.store.account(id))
                    .map_or(Value::Null, to_json)
            })
        }),
        "get_accounts" | "lookup_account_names" => p
            .list::<String>(0, "account names or ids", limits.get_accounts)
            .and_then(|names| {
                let by_name_only = method == "lookup_account_names";
                read(&|c| {
                    each(&names, |n| {
                        find_account(c, n, by_name_only)
                            .and_then(|id| c.store.account(id))
                            .map(to_json)
                    })
                })
            }),
        "lookup_accounts" => p.get::<String>(0, "lower bound name").and_then(|lower| {
            let limit = p.limit(1, limits.lookup_accounts)?;
            read(&|c| {
                Value::Array(
                    c.store
                        .account_by_name
                        .range(lower.clone()..)
                        .take(limit)
                        .map(|(name, id)| json!([name, id.to_string()]))
                        .collect(),
                )
            })
        }),
        "get_account_count" => read(&|c| Value::from(c.store.accounts.len() as u64)),
        "get_account_balances" | "get_named_account_balances" => p
            .get::<String>(0, "account name or id")
            .and_then(|account| {
                let assets: Vec<AssetId> = p
                    .opt::<Vec<AssetId>>(1, "asset ids")?
                    .unwrap_or_default();
                if assets.len() > limits.get_account_balances as usize {
                    return Err(RpcError::invalid_params(format!(
                        "{method}: {} assets exceed the maximum {} (rpc.limits.get_account_balances)",
                        assets.len(),
                        limits.get_account_balances
                    )));
                }
                let by_name_only = method == "get_named_account_balances";
                let found = ctx.state.read(|c| {
                    find_account(c, &account, by_name_only).map(|id| balances(c, id, &assets))
                })?;
                found.map(|b| to_json(&b)).ok_or_else(|| {
                    RpcError::invalid_params(format!("{method}: no account {account:?}"))
                })
            }),
        "is_public_key_registered" => p.get::<String>(0, "public key").and_then(|text| {
            // BitShares answers false for text that is not a key, not an error.
            match text.parse::<PublicKey>() {
                Ok(key) => read(&|c| Value::Bool(c.key_id(&key).is_some())),
                Err(_) => Ok(Value::Bool(false)),
            }
        }),
        "get_assets" | "lookup_asset_symbols" => p
            .list::<String>(0, "asset symbols or ids", limits.get_assets)
            .and_then(|names| {
                read(&|c| {
                    each(&names, |n| {
                        asset_id(c, n).and_then(|id| c.store.asset(id)).map(to_json)
                    })
                })
            }),
        "list_assets" => p.get::<String>(0, "lower bound symbol").and_then(|lower| {
            let limit = p.limit(1, limits.list_assets)?;
            read(&|c| {
                Value::Array(
                    c.store
                        .asset_by_symbol
                        .range(lower.clone()..)
                        .take(limit)
                        .filter_map(|(_, id)| c.store.asset(*id).map(to_json))
                        .collect(),
                )
            })
        }),
        _ => return None,
    })
}

/// One answer per name, in order: the object as JSON, or null when there is none.
fn each(names: &[String], f: impl Fn(&str) -> Option<Value>) -> Value {
    Value::Array(names.iter().map(|n| f(n).unwrap_or(Value::Null)).collect())
}

/// The account named `s`, or (unless `by_name_only`) with id `s`.
fn find_account(c: &Chain, s: &str, by_name_only: bool) -> Option<AccountId> {
    if by_name_only {
        c.account_id_by_name(s)
    } else {
        account_id(c, s)
    }
}

/// An account named `s`, or with id `s` ("1.2.17").
fn account_id(c: &Chain, s: &str) -> Option<AccountId> {
    match s.parse::<AccountId>() {
        Ok(id) => c.store.account(id).map(|_| id),
        Err(_) => c.account_id_by_name(s),
    }
}

/// An asset with symbol `s`, or with id `s` ("1.3.0").
fn asset_id(c: &Chain, s: &str) -> Option<AssetId> {
    match s.parse::<AssetId>() {
        Ok(id) => c.store.asset(id).map(|_| id),
        Err(_) => c.asset_id_by_symbol(s),
    }
}

/// `account`'s balances in `assets` (every asset it holds when empty), zero included
/// for assets asked for and not held.
fn balances(c: &Chain, account: AccountId, assets: &[AssetId]) -> Vec<Asset> {
    if assets.is_empty() {
        return c
            .store
            .balance_index
            .get(account.0)
            .map(|row| {
                row.iter()
                    .filter_map(|(asset, b)| c.store.balances.get(b.0).map(|b| (asset, b)))
                    .map(|(asset, b)| Asset {
                        amount: b.balance,
                        asset_id: *asset,
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    assets
        .iter()
        .map(|a| Asset {
            amount: c.balance(account, *a),
            asset_id: *a,
        })
        .collect()
}

/// The object with id `id` as JSON, or null when there is none (or its type is not
/// served yet).
fn object(c: &Chain, id: ObjectId) -> Value {
    let s = &c.store;
    let i = id.instance();
    let json = |v: Option<Value>| v.unwrap_or(Value::Null);
    match (id.space(), id.type_id()) {
        (1, 2) => json(s.accounts.get(i).map(to_json)),
        (1, 3) => json(s.assets.get(i).map(to_json)),
        (1, 5) => json(s.committee_members.get(i).map(to_json)),
        (1, 6) => json(s.witnesses.get(i).map(to_json)),
        (2, 0) if i == 0 => object_json(id, s.global()),
        (2, 1) if i == 0 => object_json(id, s.dynamic()),
        (2, 3) => json(s.asset_dynamic.get(i).map(|o| object_json(id, o))),
        (2, 4) => json(s.bitassets.get(i).map(|o| object_json(id, o))),
        (2, 5) => json(s.balances.get(i).map(|o| object_json(id, o))),
        (2, 6) => json(s.account_stats.get(i).map(|o| object_json(id, o))),
        (2, 8) => json(s.block_summaries.get(i).map(|o| object_json(id, o))),
        (2, 11) if i == 0 => json(s.chain_property.as_ref().map(|o| object_json(id, o))),
        (2, 12) if i == 0 => object_json(id, s.witness_schedule()),
        _ => Value::Null,
    }
}

/// The compile-time constants (`get_config`), under BitShares' names.
fn config() -> Value {
    use crate::protocol::asset::MAX_SHARE_SUPPLY;
    use crate::protocol::chain_params::*;
    json!({
        "GRAPHENE_SYMBOL": "CORE",
        "GRAPHENE_ADDRESS_PREFIX": crate::protocol::keys::DEFAULT_ADDRESS_PREFIX,
        "GRAPHENE_MAX_SHARE_SUPPLY": MAX_SHARE_SUPPLY.to_string(),
        "GRAPHENE_MIN_TRANSACTION_SIZE_LIMIT": TRANSACTION_SIZE_MIN,
        "GRAPHENE_MIN_BLOCK_SIZE_LIMIT": BLOCK_SIZE_MIN,
        "GRAPHENE_DEFAULT_MIN_WITNESS_COUNT": MIN_WITNESS_COUNT,
        "GRAPHENE_DEFAULT_MIN_COMMITTEE_MEMBER_COUNT": MIN_COMMITTEE_MEMBER_COUNT,
        "GRAPHENE_MAX_UNDO_HISTORY": MAX_UNDO_HISTORY,
        "GRAPHENE_IRREVERSIBLE_THRESHOLD": IRREVERSIBLE_THRESHOLD,
        "GRAPHENE_COMMITTEE_ACCOUNT": "1.2.0",
        "GRAPHENE_WITNESS_ACCOUNT": "1.2.1",
        "GRAPHENE_NULL_ACCOUNT": "1.2.3",
        "GRAPHENE_TEMP_ACCOUNT": "1.2.4",
        "GRAPHENE_PROXY_TO_SELF_ACCOUNT": "1.2.5",
    })
}
