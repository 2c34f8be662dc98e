//! Fee payment (`prepare_fee` → `convert_fee` → `pay_fee` in the reference).
//!
//! A fee may be paid in core or in any asset with a funded fee pool: its core value is
//! `fee * core_exchange_rate`, rounded down, and must cover the required core fee; the
//! pool pays that core value and the asset's `accumulated_fees` receive the fee itself.
//! The core value lands in the payer's statistics as `pending_fees` (above the cashback
//! vesting threshold, so it will vest) or `pending_vested_fees`.

use super::error::EvalError;
use super::Chain;
use crate::protocol::asset::Asset;
use crate::protocol::fees::FeeParameters;
use crate::protocol::ids::{AccountId, AssetId};
use crate::protocol::operations::Operation;

const ACCOUNT_TRANSFER_TAG: u8 = 9;

/// What a fee came to, in core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidFee {
    pub payer: AccountId,
    pub fee: Asset,
    pub core_fee_paid: i64,
}

impl Chain {
    /// The fee `op` must pay, in core satoshis, under the current schedule.
    pub fn required_fee(&self, op: &Operation) -> Result<i64, EvalError> {
        let schedule = &self.store.global().parameters.current_fees;
        let params = schedule.parameters.get(&op.tag()).ok_or_else(|| {
            EvalError::Rule(format!("the fee schedule has no entry for {}", op.name()))
        })?;
        // A sub-asset `X.Y` costs the (otherwise unused in the reference) account_transfer
        // fee plus the data fee, as modern BitShares charges it.
        if let Operation::AssetCreate(create) = op {
            if let (true, Some(FeeParameters::Flat { fee })) = (
                create.symbol.contains('.'),
                schedule.parameters.get(&ACCOUNT_TRANSFER_TAG),
            ) {
                let ppk = match params {
                    FeeParameters::AssetCreate {
                        price_per_kbyte, ..
                    } => *price_per_kbyte,
                    _ => 0,
                };
                let size = crate::protocol::operations::OperationBody::data_size(create);
                let total =
                    fee.saturating_add(crate::protocol::fees::calculate_data_fee(size, ppk));
                return Ok(schedule.scaled(total) as i64);
            }
        }
        Ok(schedule.scaled(op.calculate_fee(params)) as i64)
    }

    /// Checks the fee and charges it; returns its core value.
    pub(crate) fn pay_fee(&mut self, op: &Operation) -> Result<PaidFee, EvalError> {
        let paid = self.check_fee(op)?;
        self.charge_fee(&paid)?;
        Ok(paid)
    }

    /// The read-only half: asset, exchange rate, pool, required amount and balance.
    pub(crate) fn check_fee(&self, op: &Operation) -> Result<PaidFee, EvalError> {
        let fee = op.fee();
        let payer = op.fee_payer();
        let payer_obj = self.get_account(payer)?;
        let core_fee_paid = if fee.asset_id == AssetId::CORE {
            fee.amount
        } else {
            let asset = self.get_asset(fee.asset_id)?;
            if !self.is_authorized_asset(payer_obj, asset) {
                return Err(EvalError::NotAuthorizedForAsset {
                    account: payer_obj.name.clone(),
                    asset: asset.symbol.clone(),
                });
            }
            let core = asset.options.core_exchange_rate.mul_round_down(fee)?;
            let pool = self.store.asset_dynamic_data(asset).fee_pool;
            if core.amount > pool {
                return Err(EvalError::InsufficientFeePool {
                    asset: asset.symbol.clone(),
                    pool: self.format_asset(Asset::core(pool)),
                    needed: self.format_asset(core),
                });
            }
            core.amount
        };
        let required = self.required_fee(op)?;
        if core_fee_paid < required {
            let paid = if fee.asset_id == AssetId::CORE {
                self.format_asset(fee)
            } else {
                format!(
                    "{} (worth {})",
                    self.format_asset(fee),
                    self.format_asset(Asset::core(core_fee_paid))
                )
            };
            return Err(EvalError::InsufficientFee {
                required: self.format_asset(Asset::core(required)),
                paid,
            });
        }
        Ok(PaidFee {
            payer,
            fee,
            core_fee_paid,
        })
    }

    /// The writing half: debit the payer, move pool and accumulated fees, and credit the
    /// payer's pending fees.
    pub(crate) fn charge_fee(&mut self, paid: &PaidFee) -> Result<(), EvalError> {
        self.debit_fee(paid)?;
        self.credit_pending_fees(paid.payer, paid.core_fee_paid)
    }

    /// Debits the payer and, for a non-core fee, moves its core value out of the fee
    /// pool and the fee itself into the asset's accumulated fees.
    pub(crate) fn debit_fee(&mut self, paid: &PaidFee) -> Result<(), EvalError> {
        if paid.fee.amount == 0 {
            return Ok(());
        }
        self.adjust_balance(paid.payer, Asset::new(-paid.fee.amount, paid.fee.asset_id))?;
        if paid.fee.asset_id != AssetId::CORE {
            let dyn_id = self.get_asset(paid.fee.asset_id)?.dynamic_asset_data_id;
            let (fee, core) = (paid.fee.amount, paid.core_fee_paid);
            self.store.asset_dynamic.modify(dyn_id.0, |d| {
                d.accumulated_fees += fee;
                d.fee_pool -= core;
            });
        }
        Ok(())
    }

    /// Adds a core fee to the account's pending buckets.
    pub(crate) fn credit_pending_fees(
        &mut self,
        payer: AccountId,
        core_fee: i64,
    ) -> Result<(), EvalError> {
        if core_fee == 0 {
            return Ok(());
        }
        let threshold = self.store.global().parameters.cashback_vesting_threshold;
        let stats = self.get_account(payer)?.statistics;
        self.store.account_stats.modify(stats.0, |s| {
            if core_fee > threshold {
                s.pending_fees += core_fee;
            } else {
                s.pending_vested_fees += core_fee;
            }
        });
        Ok(())
    }
}
