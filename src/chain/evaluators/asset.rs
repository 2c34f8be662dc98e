//! Asset evaluators: create, update, issuer change, issue, reserve, fee pool and fee
//! claims.

use super::OperationResult;
use crate::chain::error::EvalError;
use crate::chain::objects::{AssetDynamicDataObject, AssetObject, BitassetDataObject};
use crate::chain::Chain;
use crate::protocol::asset::{add_amounts, Asset};
use crate::protocol::ids::{AssetDynamicDataId, AssetId, BitassetDataId};
use crate::protocol::operations::{
    flags, AssetClaimFeesOperation, AssetClaimPoolOperation, AssetCreateOperation,
    AssetFundFeePoolOperation, AssetIssueOperation, AssetOptions, AssetReserveOperation,
    AssetUpdateIssuerOperation, AssetUpdateOperation,
};
use crate::protocol::Operation;

impl Chain {
    /// White/black list authorities exist and are within the chain's limit.
    fn check_list_authorities(&self, opts: &AssetOptions) -> Result<(), EvalError> {
        let max = self
            .store
            .global()
            .parameters
            .maximum_asset_whitelist_authorities as usize;
        for (name, list) in [
            ("whitelist", &opts.whitelist_authorities),
            ("blacklist", &opts.blacklist_authorities),
        ] {
            if list.len() > max {
                return Err(EvalError::Rule(format!(
                    "{name} authorities list {} accounts, more than the {max} allowed",
                    list.len()
                )));
            }
            for a in list {
                self.get_account(*a)?;
            }
        }
        for m in opts.whitelist_markets.iter().chain(&opts.blacklist_markets) {
            self.get_asset(*m)?;
        }
        Ok(())
    }

    pub(crate) fn apply_asset_create(
        &mut self,
        whole: &Operation,
        op: &AssetCreateOperation,
    ) -> Result<OperationResult, EvalError> {
        let paid = self.check_fee(whole)?;
        if self.store.asset_by_symbol.contains_key(&op.symbol) {
            return Err(EvalError::SymbolTaken(op.symbol.clone()));
        }
        // `X.Y` may only be created by the issuer of `X`.
        if let Some((parent, _)) = op.symbol.split_once('.') {
            let parent_id = self.asset_id_by_symbol(parent).ok_or_else(|| {
                EvalError::Rule(format!(
                    "sub-asset {} needs the asset {parent} to exist",
                    op.symbol
                ))
            })?;
            let parent_asset = self.get_asset(parent_id)?;
            if parent_asset.issuer != op.issuer {
                return Err(EvalError::Rule(format!(
                    "only {}, the issuer of {parent}, may create {}",
                    self.account_label(parent_asset.issuer),
                    op.symbol
                )));
            }
        }
        self.check_list_authorities(&op.common_options)?;
        if let Some(b) = &op.bitasset_opts {
            let backing = self.get_asset(b.short_backing_asset)?;
            let interval = self.store.global().parameters.block_interval as u32;
            if b.feed_lifetime_sec <= interval || b.force_settlement_delay_sec <= interval {
                return Err(EvalError::Rule(
                    "feed_lifetime_sec and force_settlement_delay_sec must exceed the block interval".into(),
                ));
            }
            if op.is_prediction_market && op.precision != backing.precision {
                return Err(EvalError::Rule(format!(
                    "a prediction market must have the precision of its backing asset ({})",
                    backing.precision
                )));
            }
        }
        self.get_account(op.issuer)?;

        // Fee: the payer is charged in full; half (rounded down) seeds the new pool and
        // the rest counts as the issuer's paid fee.
        self.debit_fee(&paid)?;
        let pool_seed = paid.core_fee_paid / 2;
        self.credit_pending_fees(paid.payer, paid.core_fee_paid - pool_seed)?;

        let id = AssetId(self.store.assets.next_instance());
        let dynamic_asset_data_id =
            AssetDynamicDataId(self.store.asset_dynamic.create(AssetDynamicDataObject {
                fee_pool: pool_seed,
                ..Default::default()
            }));
        let bitasset_data_id = op.bitasset_opts.as_ref().map(|b| {
            BitassetDataId(self.store.bitassets.create(BitassetDataObject {
                asset_id: id,
                options: b.clone(),
                is_prediction_market: op.is_prediction_market,
            }))
        });
        let mut options = op.common_options.clone();
        let cer = &mut options.core_exchange_rate;
        if cer.base.asset_id == AssetId::CORE {
            cer.quote.asset_id = id;
        } else {
            cer.base.asset_id = id;
        }
        let created = self.store.assets.create(AssetObject {
            id,
            symbol: op.symbol.clone(),
            precision: op.precision,
            issuer: op.issuer,
            options,
            dynamic_asset_data_id,
            bitasset_data_id,
        });
        assert_eq!(created, id.0, "asset ids are dense");
        self.store.asset_by_symbol.insert(op.symbol.clone(), id);
        Ok(OperationResult::Object(id.object_id()))
    }

    pub(crate) fn apply_asset_update(
        &mut self,
        whole: &Operation,
        op: &AssetUpdateOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let asset = self.get_asset(op.asset_to_update)?;
        self.require_issuer(op.issuer, asset)?;
        let new = &op.new_options;
        let supply = self.store.asset_dynamic_data(asset).current_supply;
        let old_perms = asset.options.issuer_permissions;
        let mask = if asset.is_market_issued() {
            flags::ALL_MASK
        } else {
            flags::UIA_MASK
        };
        if new.issuer_permissions & !mask != 0 || new.flags & !mask != 0 {
            return Err(EvalError::Rule(format!(
                "{} may only use the user-issued asset bits",
                asset.symbol
            )));
        }
        let old_enabled = flags::enabled_permissions(old_perms);
        let new_enabled = flags::enabled_permissions(new.issuer_permissions);
        if supply != 0 && new_enabled & !old_enabled != 0 {
            return Err(EvalError::Rule(format!(
                "{} has supply, so issuer permissions can only be given up: {:#x} would reinstate {:#x}",
                asset.symbol,
                new.issuer_permissions,
                new_enabled & !old_enabled
            )));
        }
        let changed = new.flags ^ asset.options.flags;
        if changed & !old_enabled != 0 {
            return Err(EvalError::Rule(format!(
                "{}: flags {:#x} cannot change without their issuer permission",
                asset.symbol,
                changed & !old_enabled
            )));
        }
        let cer = &new.core_exchange_rate;
        let (b, q) = (cer.base.asset_id, cer.quote.asset_id);
        if !((b == op.asset_to_update && q == AssetId::CORE)
            || (q == op.asset_to_update && b == AssetId::CORE))
        {
            return Err(EvalError::Rule(format!(
                "core_exchange_rate {cer} must relate {} and the core asset",
                asset.symbol
            )));
        }
        if new.max_supply < supply {
            return Err(EvalError::Rule(format!(
                "max_supply {} is below the current supply {}",
                self.format_asset(Asset::new(new.max_supply, asset.id)),
                self.format_asset(Asset::new(supply, asset.id))
            )));
        }
        // The flag in force now decides: unlocking and changing max_supply need two
        // updates, as in the reference.
        if asset.has_flag(flags::LOCK_MAX_SUPPLY) && new.max_supply != asset.options.max_supply {
            return Err(EvalError::Rule(format!(
                "{} has lock_max_supply set",
                asset.symbol
            )));
        }
        self.check_list_authorities(new)?;
        let new = new.clone();
        self.store
            .assets
            .modify(op.asset_to_update.0, |a| a.options = new);
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_asset_update_issuer(
        &mut self,
        whole: &Operation,
        op: &AssetUpdateIssuerOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let asset = self.get_asset(op.asset_to_update)?;
        self.require_issuer(op.issuer, asset)?;
        self.get_account(op.new_issuer)?;
        let new_issuer = op.new_issuer;
        self.store
            .assets
            .modify(op.asset_to_update.0, |a| a.issuer = new_issuer);
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_asset_issue(
        &mut self,
        whole: &Operation,
        op: &AssetIssueOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let asset = self.get_asset(op.asset_to_issue.asset_id)?;
        self.require_issuer(op.issuer, asset)?;
        if asset.is_market_issued() {
            return Err(EvalError::Rule(format!(
                "{} is market-issued: new supply comes from borrowing, not asset_issue",
                asset.symbol
            )));
        }
        if asset.has_flag(flags::DISABLE_NEW_SUPPLY) {
            return Err(EvalError::Rule(format!(
                "{} has disable_new_supply set",
                asset.symbol
            )));
        }
        self.require_authorized(op.issue_to_account, asset.id)?;
        let dyn_id = asset.dynamic_asset_data_id;
        let supply = self.store.asset_dynamic_data(asset).current_supply;
        let new_supply = add_amounts(supply, op.asset_to_issue.amount)?;
        if new_supply > asset.options.max_supply {
            return Err(EvalError::Rule(format!(
                "issuing {} would raise the supply of {} to {}, above its maximum {}",
                self.format_asset(op.asset_to_issue),
                asset.symbol,
                self.format_asset(Asset::new(new_supply, asset.id)),
                self.format_asset(Asset::new(asset.options.max_supply, asset.id))
            )));
        }
        self.store
            .asset_dynamic
            .modify(dyn_id.0, |d| d.current_supply = new_supply);
        self.adjust_balance(op.issue_to_account, op.asset_to_issue)?;
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_asset_reserve(
        &mut self,
        whole: &Operation,
        op: &AssetReserveOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let amount = op.amount_to_reserve;
        let asset = self.get_asset(amount.asset_id)?;
        if asset.is_market_issued() {
            return Err(EvalError::Rule(format!(
                "{} is market-issued: its supply shrinks by repaying debt, not asset_reserve",
                asset.symbol
            )));
        }
        self.require_authorized(op.payer, amount.asset_id)?;
        let dyn_id = asset.dynamic_asset_data_id;
        self.require_balance(op.payer, amount)?;
        self.adjust_balance(op.payer, Asset::new(-amount.amount, amount.asset_id))?;
        self.store
            .asset_dynamic
            .modify(dyn_id.0, |d| d.current_supply -= amount.amount);
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_asset_fund_fee_pool(
        &mut self,
        whole: &Operation,
        op: &AssetFundFeePoolOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        if op.asset_id == AssetId::CORE {
            return Err(EvalError::Rule(
                "the core asset pays its own fees: it has no fee pool to fund".into(),
            ));
        }
        let dyn_id = self.get_asset(op.asset_id)?.dynamic_asset_data_id;
        let amount = Asset::core(op.amount);
        self.require_balance(op.from_account, amount)?;
        self.adjust_balance(op.from_account, Asset::core(-op.amount))?;
        let pool = self
            .store
            .asset_dynamic
            .get(dyn_id.0)
            .map_or(0, |d| d.fee_pool);
        let new_pool = add_amounts(pool, op.amount)?;
        self.store
            .asset_dynamic
            .modify(dyn_id.0, |d| d.fee_pool = new_pool);
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_asset_claim_fees(
        &mut self,
        whole: &Operation,
        op: &AssetClaimFeesOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let claim = op.amount_to_claim;
        let asset = self.get_asset(claim.asset_id)?;
        self.require_issuer(op.issuer, asset)?;
        let dyn_id = asset.dynamic_asset_data_id;
        let accumulated = self.store.asset_dynamic_data(asset).accumulated_fees;
        if claim.amount > accumulated {
            return Err(EvalError::Rule(format!(
                "cannot claim {}: only {} of fees have accumulated",
                self.format_asset(claim),
                self.format_asset(Asset::new(accumulated, claim.asset_id))
            )));
        }
        self.store
            .asset_dynamic
            .modify(dyn_id.0, |d| d.accumulated_fees -= claim.amount);
        self.adjust_balance(op.issuer, claim)?;
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_asset_claim_pool(
        &mut self,
        whole: &Operation,
        op: &AssetClaimPoolOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let asset = self.get_asset(op.asset_id)?;
        self.require_issuer(op.issuer, asset)?;
        let dyn_id = asset.dynamic_asset_data_id;
        let pool = self.store.asset_dynamic_data(asset).fee_pool;
        if op.amount_to_claim.amount > pool {
            return Err(EvalError::Rule(format!(
                "cannot claim {} from the fee pool of {}: it holds {}",
                self.format_asset(op.amount_to_claim),
                asset.symbol,
                self.format_asset(Asset::core(pool))
            )));
        }
        let amount = op.amount_to_claim.amount;
        self.store
            .asset_dynamic
            .modify(dyn_id.0, |d| d.fee_pool -= amount);
        self.adjust_balance(op.issuer, Asset::core(amount))?;
        Ok(OperationResult::Void)
    }
}
