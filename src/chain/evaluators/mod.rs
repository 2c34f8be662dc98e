//! Evaluators: the stateful half of each operation, one file per feature area.
//!
//! Each evaluator runs inside the transaction's undo session, so it may check and write
//! in any order: an error anywhere leaves no trace. Fees are charged before the body
//! runs, as in the reference (`prepare_fee` → `convert_fee` → `pay_fee` → `do_apply`).

pub(crate) mod account;
mod asset;
mod transfer;

use super::error::EvalError;
use super::objects::{AccountBalanceObject, AccountObject, AssetObject};
use super::Chain;
use crate::protocol::asset::{add_amounts, Asset};
use crate::protocol::ids::{AccountBalanceId, AccountId, AssetId, ObjectId};
use crate::protocol::operations::{flags, Operation};
use serde::Serialize;

/// What an operation produced (the reference `operation_result`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum OperationResult {
    Void,
    Object(ObjectId),
    Asset(Asset),
}

impl Chain {
    pub(crate) fn apply_operation(&mut self, op: &Operation) -> Result<OperationResult, EvalError> {
        use Operation as O;
        match op {
            O::Transfer(o) => self.apply_transfer(op, o),
            O::OverrideTransfer(o) => self.apply_override_transfer(op, o),
            O::AccountCreate(o) => self.apply_account_create(op, o),
            O::AccountUpdate(o) => self.apply_account_update(op, o),
            O::AccountWhitelist(o) => self.apply_account_whitelist(op, o),
            O::AccountUpgrade(o) => self.apply_account_upgrade(op, o),
            O::AccountTransfer(o) => self.apply_account_transfer(op, o),
            O::AssetCreate(o) => self.apply_asset_create(op, o),
            O::AssetUpdate(o) => self.apply_asset_update(op, o),
            O::AssetUpdateIssuer(o) => self.apply_asset_update_issuer(op, o),
            O::AssetIssue(o) => self.apply_asset_issue(op, o),
            O::AssetReserve(o) => self.apply_asset_reserve(op, o),
            O::AssetFundFeePool(o) => self.apply_asset_fund_fee_pool(op, o),
            O::AssetClaimFees(o) => self.apply_asset_claim_fees(op, o),
            O::AssetClaimPool(o) => self.apply_asset_claim_pool(op, o),
            other => Err(EvalError::NotImplemented { op: other.name() }),
        }
    }

    pub(crate) fn get_account(&self, id: AccountId) -> Result<&AccountObject, EvalError> {
        self.store
            .account(id)
            .ok_or_else(|| EvalError::UnknownAccount(id.to_string()))
    }
    pub(crate) fn get_asset(&self, id: AssetId) -> Result<&AssetObject, EvalError> {
        self.store
            .asset(id)
            .ok_or_else(|| EvalError::UnknownAsset(id.to_string()))
    }

    /// Adds `delta` (possibly negative) to `owner`'s balance. Refuses to go below zero.
    pub(crate) fn adjust_balance(
        &mut self,
        owner: AccountId,
        delta: Asset,
    ) -> Result<(), EvalError> {
        if delta.amount == 0 {
            return Ok(());
        }
        match self.store.balance_id(owner, delta.asset_id) {
            Some(bid) => {
                // One lookup: check and write inside the journaled modify, which only
                // runs when the row exists; a refused debit leaves the row unchanged
                // apart from an identical undo entry.
                let outcome = self.store.balances.modify(bid.0, |b| {
                    let next = b.balance as i128 + delta.amount as i128;
                    if next < 0 || next > crate::protocol::asset::MAX_SHARE_SUPPLY as i128 {
                        Err(b.balance)
                    } else {
                        b.balance = next as i64;
                        Ok(())
                    }
                });
                match outcome.expect("indexed balance rows exist") {
                    Ok(()) => {}
                    Err(current) if delta.amount < 0 => {
                        return Err(self.insufficient(
                            owner,
                            current,
                            -delta.amount,
                            delta.asset_id,
                        ))
                    }
                    Err(current) => add_amounts(current, delta.amount).map(|_| ())?,
                }
            }
            None => {
                if delta.amount < 0 {
                    return Err(self.insufficient(owner, 0, -delta.amount, delta.asset_id));
                }
                self.get_account(owner)?;
                let bid = AccountBalanceId(self.store.balances.create(AccountBalanceObject {
                    owner,
                    asset_type: delta.asset_id,
                    balance: delta.amount,
                }));
                self.store.balance_index.modify(owner.0, |idx| {
                    let pos = idx.partition_point(|(a, _)| *a < delta.asset_id);
                    idx.insert(pos, (delta.asset_id, bid));
                });
            }
        }
        Ok(())
    }

    pub(crate) fn insufficient(
        &self,
        owner: AccountId,
        has: i64,
        needs: i64,
        asset: AssetId,
    ) -> EvalError {
        EvalError::InsufficientBalance {
            account: self.account_label(owner),
            has: self.format_asset(Asset::new(has, asset)),
            needs: self.format_asset(Asset::new(needs, asset)),
        }
    }

    /// Requires `owner` to hold at least `amount`.
    pub(crate) fn require_balance(&self, owner: AccountId, amount: Asset) -> Result<(), EvalError> {
        let has = self.balance(owner, amount.asset_id);
        if has < amount.amount {
            return Err(self.insufficient(owner, has, amount.amount, amount.asset_id));
        }
        Ok(())
    }

    /// Whitelist/blacklist rules (`is_authorized_asset`).
    pub fn is_authorized_asset(&self, account: &AccountObject, asset: &AssetObject) -> bool {
        if !asset.has_flag(flags::WHITE_LIST) {
            return true;
        }
        if account.id == AccountId::COMMITTEE {
            return true;
        }
        let opts = &asset.options;
        if account
            .blacklisting_accounts
            .iter()
            .any(|a| opts.blacklist_authorities.contains(a))
        {
            return false;
        }
        if opts.whitelist_authorities.is_empty() {
            return true;
        }
        account
            .whitelisting_accounts
            .iter()
            .any(|a| opts.whitelist_authorities.contains(a))
    }

    pub(crate) fn require_authorized(
        &self,
        account: AccountId,
        asset: AssetId,
    ) -> Result<(), EvalError> {
        let a = self.get_account(account)?;
        let s = self.get_asset(asset)?;
        if !self.is_authorized_asset(a, s) {
            return Err(EvalError::NotAuthorizedForAsset {
                account: a.name.clone(),
                asset: s.symbol.clone(),
            });
        }
        Ok(())
    }

    pub(crate) fn require_issuer(
        &self,
        account: AccountId,
        asset: &AssetObject,
    ) -> Result<(), EvalError> {
        if asset.issuer != account {
            return Err(EvalError::NotIssuer {
                account: self.account_label(account),
                asset: asset.symbol.clone(),
                issuer: self.account_label(asset.issuer),
            });
        }
        Ok(())
    }
}
