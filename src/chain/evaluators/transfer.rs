//! `transfer` and `override_transfer`.

use super::OperationResult;
use crate::chain::error::EvalError;
use crate::chain::Chain;
use crate::protocol::asset::Asset;
use crate::protocol::operations::{flags, OverrideTransferOperation, TransferOperation};
use crate::protocol::Operation;

impl Chain {
    pub(crate) fn apply_transfer(
        &mut self,
        whole: &Operation,
        op: &TransferOperation,
    ) -> Result<OperationResult, EvalError> {
        let paid = self.check_fee(whole)?;
        let asset = self.get_asset(op.amount.asset_id)?;
        let from = self.get_account(op.from)?;
        let to = self.get_account(op.to)?;
        if !self.is_authorized_asset(from, asset) {
            return Err(EvalError::NotAuthorizedForAsset {
                account: from.name.clone(),
                asset: asset.symbol.clone(),
            });
        }
        if !self.is_authorized_asset(to, asset) {
            return Err(EvalError::NotAuthorizedForAsset {
                account: to.name.clone(),
                asset: asset.symbol.clone(),
            });
        }
        if asset.has_flag(flags::TRANSFER_RESTRICTED)
            && asset.issuer != op.from
            && asset.issuer != op.to
        {
            return Err(EvalError::TransferRestricted {
                asset: asset.symbol.clone(),
                issuer: self.account_label(asset.issuer),
            });
        }
        // Check the whole debit first so the message names what is really needed.
        let mut needed = op.amount.amount as i128;
        if op.fee.asset_id == op.amount.asset_id {
            needed += op.fee.amount as i128;
        }
        let has = self.balance(op.from, op.amount.asset_id);
        if (has as i128) < needed {
            return Err(self.insufficient(
                op.from,
                has,
                needed.min(i64::MAX as i128) as i64,
                op.amount.asset_id,
            ));
        }
        self.charge_fee(&paid)?;
        self.adjust_balance(op.from, Asset::new(-op.amount.amount, op.amount.asset_id))?;
        self.adjust_balance(op.to, op.amount)?;
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_override_transfer(
        &mut self,
        whole: &Operation,
        op: &OverrideTransferOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let asset = self.get_asset(op.amount.asset_id)?;
        if !asset.can_override() {
            return Err(EvalError::Rule(format!(
                "{} does not have the override_authority flag set",
                asset.symbol
            )));
        }
        self.require_issuer(op.issuer, asset)?;
        self.require_authorized(op.to, op.amount.asset_id)?;
        self.require_balance(op.from, op.amount)?;
        self.adjust_balance(op.from, Asset::new(-op.amount.amount, op.amount.asset_id))?;
        self.adjust_balance(op.to, op.amount)?;
        Ok(OperationResult::Void)
    }
}
