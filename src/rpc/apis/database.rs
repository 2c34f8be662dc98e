//! The database API (id 0; bare method names land here): objects, chain properties,
//! accounts, balances, keys and assets.

use super::{object_json, to_json};
use crate::chain::objects::KeyId;
use crate::chain::Chain;
use crate::protocol::asset::Asset;
use crate::protocol::ids::*;
use crate::protocol::PublicKey;
use crate::rpc::dispatch::Params;
use crate::rpc::subscribe::Session;
use crate::rpc::{Context, RpcError};
use serde::Serialize;
use serde_json::{json, Value};

pub fn call(
    ctx: &Context,
    session: Option<&Session>,
    method: &str,
    p: &Params,
) -> Option<Result<Value, RpcError>> {
    let limits = &ctx.config.limits;
    Some(match method {
        "get_chain_id" => read(ctx, |c| c.chain_id()).map(|id| Value::String(id.to_string())),
        "get_dynamic_global_properties" => {
            let cap = ctx.durable_head();
            read(ctx, |c| with_id("2.1.0", c.store.dynamic())).map(|v| {
                let mut v = v();
                cap_irreversible(&mut v, cap);
                v
            })
        }
        "get_global_properties" => read(ctx, |c| with_id("2.0.0", c.store.global())).map(|v| v()),
        "get_chain_properties" => read(ctx, |c| {
            c.store
                .chain_property
                .as_ref()
                .map(|o| with_id("2.11.0", o))
        })
        .map(done),
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
                let cap = ctx.durable_head();
                let found: Vec<Option<Later>> =
                    read(ctx, |c| ids.iter().map(|id| object(c, *id)).collect())?;
                if let Some(session) = session {
                    session.watch_objects(ctx, &ids)?;
                }
                // Operation-history objects live beside the state, not in it.
                Ok(Value::Array(
                    ids.iter()
                        .zip(found)
                        .map(|(id, f)| match (id.space(), id.type_id()) {
                            (1, 11) => ctx.history.object(id.instance()).unwrap_or(Value::Null),
                            (2, 1) => {
                                let mut v = done(f);
                                cap_irreversible(&mut v, cap);
                                v
                            }
                            _ => done(f),
                        })
                        .collect(),
                ))
            }),
        "get_full_accounts" => p
            .list::<String>(0, "account names or ids", limits.get_full_accounts)
            .and_then(|names| {
                let subscribe = p.opt::<bool>(1, "subscribe")?.unwrap_or(false);
                p.at_most(2)?;
                let found = read(ctx, |c| {
                    names
                        .iter()
                        .filter_map(|n| full_account(c, n).map(|f| (n.clone(), f)))
                        .collect::<Vec<_>>()
                })?;
                if subscribe {
                    let session = session.ok_or_else(|| {
                        crate::rpc::subscribe::needs_websocket("get_full_accounts with subscribe")
                    })?;
                    let ids: Vec<AccountId> = found.iter().map(|(_, f)| f.id).collect();
                    session.watch_accounts(ctx, &ids)?;
                }
                Ok(Value::Array(
                    found
                        .into_iter()
                        .map(|(name, f)| json!([name, f.into_json()]))
                        .collect(),
                ))
            }),
        "get_account_by_name" => p.get::<String>(0, "account name").and_then(|name| {
            read(ctx, |c| {
                c.account_id_by_name(&name)
                    .and_then(|id| c.store.account(id))
                    .map(plain)
            })
            .map(done)
        }),
        "get_accounts" | "lookup_account_names" => p
            .list::<String>(0, "account names or ids", limits.get_accounts)
            .and_then(|names| {
                let by_name_only = method == "lookup_account_names";
                read(ctx, |c| {
                    each(&names, |n| {
                        find_account(c, n, by_name_only)
                            .and_then(|id| c.store.account(id))
                            .map(plain)
                    })
                })
                .map(all)
            }),
        "lookup_accounts" => p.get::<String>(0, "lower bound name").and_then(|lower| {
            let limit = p.limit(1, limits.lookup_accounts)?;
            read(ctx, |c| {
                c.store
                    .account_by_name
                    .range(lower.clone()..)
                    .take(limit)
                    .map(|(name, id)| (name.clone(), *id))
                    .collect::<Vec<_>>()
            })
            .map(name_id_pairs)
        }),
        "get_account_count" => read(ctx, |c| c.store.accounts.len() as u64).map(Value::from),
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
                let found = read(ctx, |c| {
                    find_account(c, &account, by_name_only).map(|id| balances(c, id, &assets))
                })?;
                found.map(|b| to_json(&b)).ok_or_else(|| {
                    RpcError::invalid_params(format!("{method}: no account {account:?}"))
                })
            }),
        "is_public_key_registered" => p.get::<String>(0, "public key").and_then(|text| {
            // BitShares answers false for text that is not a key, not an error.
            match text.parse::<PublicKey>() {
                Ok(key) => read(ctx, |c| c.key_id(&key).is_some()).map(Value::Bool),
                Err(_) => Ok(Value::Bool(false)),
            }
        }),
        "get_assets" | "lookup_asset_symbols" => p
            .list::<String>(0, "asset symbols or ids", limits.get_assets)
            .and_then(|names| {
                read(ctx, |c| {
                    each(&names, |n| {
                        asset_id(c, n).and_then(|id| c.store.asset(id)).map(plain)
                    })
                })
                .map(all)
            }),
        "list_assets" => p.get::<String>(0, "lower bound symbol").and_then(|lower| {
            let limit = p.limit(1, limits.list_assets)?;
            read(ctx, |c| {
                c.store
                    .asset_by_symbol
                    .range(lower.clone()..)
                    .take(limit)
                    .filter_map(|(_, id)| c.store.asset(*id).map(plain))
                    .map(Some)
                    .collect::<Vec<_>>()
            })
            .map(all)
        }),
        "get_required_fees" => p
            .list::<crate::protocol::Operation>(0, "operations", limits.get_required_fees)
            .and_then(|ops| {
                let asset = p.opt::<String>(1, "fee asset symbol or id")?;
                p.at_most(2)?;
                let asset = asset.unwrap_or_else(|| "1.3.0".into());
                let fees = read(ctx, |c| required_fees(c, &ops, &asset))??;
                Ok(to_json(&fees))
            }),
        "get_required_signatures" => p
            .get::<crate::protocol::Transaction>(0, "transaction")
            .and_then(|trx| {
                let available: Vec<PublicKey> = p.get(1, "available public keys")?;
                p.at_most(2)?;
                let required = trx.required_authorities();
                read(ctx, |c| c.required_signatures(&required, &available))?
                    .map(|keys| to_json(&keys))
                    .map_err(|e| RpcError::invalid_params(format!("{method}: {e}")))
            }),
        "get_potential_signatures" => p
            .get::<crate::protocol::Transaction>(0, "transaction")
            .and_then(|trx| {
                p.at_most(1)?;
                let required = trx.required_authorities();
                read(ctx, |c| c.potential_signatures(&required)).map(|keys| to_json(&keys))
            }),
        "verify_authority" => p
            .get::<crate::protocol::SignedTransaction>(0, "signed transaction")
            .and_then(|signed| {
                p.at_most(1)?;
                let chain_id = read(ctx, |c| c.chain_id())?;
                let signers = checked_signers(&signed, &chain_id)
                    .map_err(|e| RpcError::invalid_params(format!("{method}: {e}")))?;
                let required = signed.trx.required_authorities();
                read(ctx, |c| c.verify_authority(&required, &signers))?
                    .map(|()| Value::Bool(true))
                    .map_err(|e| RpcError::invalid_params(format!("{method}: {e}")))
            }),
        "get_transaction_hex" => p
            .get::<crate::protocol::SignedTransaction>(0, "signed transaction")
            .and_then(|signed| {
                p.at_most(1)?;
                let bytes = borsh::to_vec(&signed).map_err(|e| {
                    RpcError::invalid_params(format!("{method}: cannot encode: {e}"))
                })?;
                Ok(Value::String(hex::encode(bytes)))
            }),
        "get_witnesses" | "get_committee_members" => p
            .list::<String>(0, "ids", limits.get_objects)
            .and_then(|ids| {
                let witnesses = method == "get_witnesses";
                let ids = ids
                    .iter()
                    .map(|s| {
                        s.parse::<ObjectId>()
                            .map_err(|e| RpcError::invalid_params(format!("{method}: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let wanted = if witnesses { (1, 6) } else { (1, 5) };
                read(ctx, |c| {
                    ids.iter()
                        .map(|id| {
                            ((id.space(), id.type_id()) == wanted)
                                .then(|| object(c, *id))
                                .flatten()
                        })
                        .collect()
                })
                .map(all)
            }),
        "get_witness_by_account" | "get_committee_member_by_account" => p
            .get::<String>(0, "account name or id")
            .and_then(|account| {
                let witness = method == "get_witness_by_account";
                read(ctx, |c| {
                    let id = account_id(c, &account)?;
                    if witness {
                        let w = c.store.witness_by_account.get(&id)?;
                        c.store.witnesses.get(w.0).map(plain)
                    } else {
                        let m = c.store.committee_by_account.get(&id)?;
                        c.store.committee_members.get(m.0).map(plain)
                    }
                })
                .map(done)
            }),
        "lookup_witness_accounts" | "lookup_committee_member_accounts" => p
            .get::<String>(0, "lower bound name")
            .and_then(|lower| {
                let limit = p.limit(1, limits.lookup_accounts)?;
                let witness = method == "lookup_witness_accounts";
                read(ctx, |c| {
                    c.store
                        .account_by_name
                        .range(lower.clone()..)
                        .filter_map(|(name, id)| {
                            let member = if witness {
                                c.store.witness_by_account.get(id).map(|w| w.object_id())
                            } else {
                                c.store.committee_by_account.get(id).map(|m| m.object_id())
                            };
                            member.map(|m| (name.clone(), m))
                        })
                        .take(limit)
                        .collect::<Vec<_>>()
                })
                .map(name_id_pairs)
            }),
        "get_witness_count" => read(ctx, |c| c.store.witnesses.len() as u64).map(Value::from),
        "get_committee_count" => {
            read(ctx, |c| c.store.committee_members.len() as u64).map(Value::from)
        }
        "get_key_references" => p
            .list::<PublicKey>(0, "public keys", limits.get_key_references)
            .and_then(|keys| key_references(ctx, &keys).map(|lists| to_json(&lists))),
        "validate_transaction" => p
            .get::<crate::protocol::SignedTransaction>(0, "signed transaction")
            .and_then(|signed| {
                p.at_most(1)?;
                validate_transaction(ctx, signed)
            }),
        _ => return None,
    })
}

/// `[[name, id], ...]`, as the lookup methods answer.
fn name_id_pairs<I: std::fmt::Display>(found: Vec<(String, I)>) -> Value {
    Value::Array(
        found
            .into_iter()
            .map(|(name, id)| json!([name, id.to_string()]))
            .collect(),
    )
}

/// Accounts scanned per read by `get_key_references`: each read is one short turn
/// of the BLP (about 100 µs), never one long stall.
const KEY_SCAN_CHUNK: u64 = 4096;

/// For each key, the accounts whose owner, active or memo key it is (BitShares
/// keeps an index for this; here the accounts are scanned in short chunks).
fn key_references(ctx: &Context, keys: &[PublicKey]) -> Result<Vec<Vec<AccountId>>, RpcError> {
    let mut found: Vec<Vec<AccountId>> = vec![Vec::new(); keys.len()];
    let mut from = 0u64;
    loop {
        let (chunk, next) = read(ctx, |c| {
            let ids: Vec<KeyId> = keys
                .iter()
                .map(|k| c.key_id(k).unwrap_or(KeyId(u32::MAX)))
                .collect();
            let mut hits = Vec::new();
            let end = from
                .saturating_add(KEY_SCAN_CHUNK)
                .min(c.store.accounts.next_instance());
            for i in from..end {
                let Some(a) = c.store.accounts.get(i) else {
                    continue;
                };
                for (k, (key, id)) in keys.iter().zip(&ids).enumerate() {
                    let in_auth = |auth: &crate::chain::objects::CompiledAuthority| {
                        auth.keys.iter().any(|(kid, _)| kid == id)
                    };
                    if a.options.memo_key == *key
                        || in_auth(&a.owner_compiled)
                        || in_auth(&a.active_compiled)
                    {
                        hits.push((k, a.id));
                    }
                }
            }
            let more = (end < c.store.accounts.next_instance()).then_some(end);
            (hits, more)
        })?;
        for (k, id) in chunk {
            found[k].push(id);
        }
        match next {
            Some(n) => from = n,
            None => return Ok(found),
        }
    }
}

/// Checks `signed` as the chain would apply it now, then undoes it: signatures
/// (on this thread), then everything else on the state in an undo session that is
/// always rolled back. Answers the transaction, or the error that would refuse it.
fn validate_transaction(
    ctx: &Context,
    signed: crate::protocol::SignedTransaction,
) -> Result<Value, RpcError> {
    let chain_id = read(ctx, |c| c.chain_id())?;
    let signers = checked_signers(&signed, &chain_id)
        .map_err(|e| RpcError::invalid_params(format!("validate_transaction: {e}")))?;
    let bytes = borsh::to_vec(&signed)
        .map_err(|e| RpcError::invalid_params(format!("validate_transaction: {e}")))?;
    let vtx = crate::chain::verified::VerifiedTransaction {
        id: signed.trx.id(),
        trx: std::sync::Arc::new(signed),
        packed_size: bytes.len() as u32,
        signers,
        merkle_leaf: [0; 32],
    };
    let outcome = ctx
        .state
        .write(|c| {
            c.store.start_session();
            let r = c.apply_transaction(&vtx);
            c.store.undo_session();
            r
        })
        .map_err(RpcError::from)?;
    match outcome {
        Ok(_) => Ok(to_json(&*vtx.trx)),
        Err(e) => Err(RpcError::invalid_params(format!(
            "validate_transaction: {e}"
        ))),
    }
}

/// The fee each operation needs, in `asset` (the core fee converted at the asset's
/// `core_exchange_rate`, rounded up so that it covers the core fee).
fn required_fees(
    c: &Chain,
    ops: &[crate::protocol::Operation],
    asset: &str,
) -> Result<Vec<Asset>, RpcError> {
    let asset_id = asset_id(c, asset)
        .filter(|id| c.store.asset(*id).is_some())
        .ok_or_else(|| {
            RpcError::invalid_params(format!("get_required_fees: no asset {asset:?}"))
        })?;
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let core = c.required_fee(op).map_err(|e| {
                RpcError::invalid_params(format!("get_required_fees: operation {i}: {e}"))
            })?;
            if asset_id == AssetId::CORE {
                return Ok(Asset::core(core));
            }
            let rate = &c
                .store
                .asset(asset_id)
                .expect("checked above")
                .options
                .core_exchange_rate;
            rate.mul_round_up(Asset::core(core)).map_err(|e| {
                RpcError::invalid_params(format!("get_required_fees: operation {i}: {e}"))
            })
        })
        .collect()
}

/// The transaction's signer keys, each checked against its signature (on the RPC
/// thread: the BLP never verifies signatures).
fn checked_signers(
    signed: &crate::protocol::SignedTransaction,
    chain_id: &crate::protocol::ChainId,
) -> Result<crate::chain::Signers, String> {
    signed.validate().map_err(|e| e.to_string())?;
    let digest = signed.trx.signing_digest(chain_id);
    signed
        .signatures
        .iter()
        .zip(&signed.signer_keys)
        .map(|(sig, key)| {
            crate::pipeline::verify::rule::verify(key, &digest.0, sig)
                .map_err(|e| format!("the signature by {key} does not verify: {e}"))?;
            Ok(crate::chain::verified::Signer {
                key: *key,
                key_id: None,
            })
        })
        .collect()
}

/// Runs `f` on the state (on the BLP's thread, between batches: see
/// `pipeline::query`). `f` only copies out what the answer needs; the JSON is built
/// afterwards, on the RPC thread.
fn read<R: Send>(ctx: &Context, f: impl FnOnce(&Chain) -> R + Send) -> Result<R, RpcError> {
    ctx.state.read(f).map_err(RpcError::from)
}

/// An object copied out of the state, made into JSON later (off the BLP).
pub(crate) type Later = Box<dyn FnOnce() -> Value + Send>;

/// Reports a block as irreversible only once this node has it on disk
/// (`storage::FsyncPolicy`): `cap` is the newest durable block, read before the
/// state was.
pub(crate) fn cap_irreversible(dynamic: &mut Value, cap: Option<u32>) {
    let Some(cap) = cap else { return };
    if let Some(lib) = dynamic
        .get_mut("last_irreversible_block_num")
        .filter(|v| v.as_u64().is_some_and(|l| l > cap as u64))
    {
        *lib = Value::from(cap);
    }
}

/// `object`, copied, for JSON as it serializes.
fn plain<T: Serialize + Clone + Send + 'static>(object: &T) -> Later {
    let object = object.clone();
    Box::new(move || to_json(&object))
}

/// `object`, copied, for JSON with `id` added (rows that do not store their own id).
fn with_id<T: Serialize + Clone + Send + 'static>(
    id: impl std::fmt::Display + Send + 'static,
    object: &T,
) -> Later {
    let object = object.clone();
    Box::new(move || object_json(id, &object))
}

/// One copied object as JSON, or null.
fn done(object: Option<Later>) -> Value {
    object.map_or(Value::Null, |f| f())
}

/// Copied objects as a JSON array, null where there was none.
fn all(objects: Vec<Option<Later>>) -> Value {
    Value::Array(objects.into_iter().map(done).collect())
}

/// One answer per name, in order: the object, or none.
fn each(names: &[String], f: impl Fn(&str) -> Option<Later>) -> Vec<Option<Later>> {
    names.iter().map(|n| f(n)).collect()
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
pub(crate) fn account_id(c: &Chain, s: &str) -> Option<AccountId> {
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

/// An account's balance objects (2.5.x), by asset.
pub(crate) fn balance_ids(c: &Chain, account: AccountId) -> Vec<AccountBalanceId> {
    c.store
        .balance_index
        .get(account.0)
        .map(|row| row.iter().map(|(_, b)| *b).collect())
        .unwrap_or_default()
}

/// What `get_full_accounts` answers for one account, copied out of the state.
struct FullAccount {
    id: AccountId,
    account: Later,
    statistics: Option<Later>,
    registrar_name: String,
    referrer_name: String,
    lifetime_referrer_name: String,
    balances: Vec<Later>,
    assets: Vec<String>,
}

impl FullAccount {
    /// BitShares' shape. The lists for features whose objects do not exist yet
    /// (orders, proposals, vesting balances, withdraw permissions, votes) are empty
    /// because there are none on this chain.
    fn into_json(self) -> Value {
        json!({
            "account": (self.account)(),
            "statistics": done(self.statistics),
            "registrar_name": self.registrar_name,
            "referrer_name": self.referrer_name,
            "lifetime_referrer_name": self.lifetime_referrer_name,
            "votes": [],
            "balances": self.balances.into_iter().map(|b| b()).collect::<Vec<_>>(),
            "vesting_balances": [],
            "limit_orders": [],
            "call_orders": [],
            "settle_orders": [],
            "proposals": [],
            "assets": self.assets,
            "withdraws_from": [],
            "withdraws_to": [],
            "more_data_available": {
                "balances": false, "vesting_balances": false, "limit_orders": false,
                "call_orders": false, "settle_orders": false, "proposals": false,
                "assets": false, "withdraws_from": false, "withdraws_to": false,
            },
        })
    }
}

/// The account named (or with id) `name`, with what hangs off it.
fn full_account(c: &Chain, name: &str) -> Option<FullAccount> {
    let id = account_id(c, name)?;
    let a = c.store.account(id)?;
    let name_of = |id: AccountId| {
        c.store
            .account(id)
            .map_or_else(|| id.to_string(), |a| a.name.clone())
    };
    Some(FullAccount {
        id,
        account: plain(a),
        statistics: object(c, a.statistics.object_id()),
        registrar_name: name_of(a.registrar),
        referrer_name: name_of(a.referrer),
        lifetime_referrer_name: name_of(a.lifetime_referrer),
        balances: balance_ids(c, id)
            .into_iter()
            .filter_map(|b| object(c, b.object_id()))
            .collect(),
        assets: c
            .store
            .assets
            .iter()
            .filter(|(_, asset)| asset.issuer == id)
            .map(|(_, asset)| asset.id.to_string())
            .collect(),
    })
}

/// The object with id `id`, copied, or none (also when its type is not served yet).
pub(crate) fn object(c: &Chain, id: ObjectId) -> Option<Later> {
    let s = &c.store;
    let i = id.instance();
    match (id.space(), id.type_id()) {
        (1, 2) => s.accounts.get(i).map(plain),
        (1, 3) => s.assets.get(i).map(plain),
        (1, 5) => s.committee_members.get(i).map(plain),
        (1, 6) => s.witnesses.get(i).map(plain),
        (2, 0) if i == 0 => Some(with_id(id, s.global())),
        (2, 1) if i == 0 => Some(with_id(id, s.dynamic())),
        (2, 3) => s.asset_dynamic.get(i).map(|o| with_id(id, o)),
        (2, 4) => s.bitassets.get(i).map(|o| with_id(id, o)),
        (2, 5) => s.balances.get(i).map(|o| with_id(id, o)),
        (2, 6) => s.account_stats.get(i).map(|o| with_id(id, o)),
        (2, 8) => s.block_summaries.get(i).map(|o| with_id(id, o)),
        (2, 11) if i == 0 => s.chain_property.as_ref().map(|o| with_id(id, o)),
        (2, 12) if i == 0 => Some(with_id(id, s.witness_schedule())),
        _ => None,
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
