//! The order book: limit orders, margin positions (call orders) and the fill record.

use super::OperationBody;
use crate::protocol::asset::{Asset, Price, MAX_SHARE_SUPPLY};
use crate::protocol::extensions::Extensions;
use crate::protocol::ids::{AccountId, LimitOrderId, ObjectId};
use crate::protocol::time::TimePointSec;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// `amount` must be in `1..=MAX_SHARE_SUPPLY`: no more than that can ever exist.
fn check_positive(what: &str, amount: &Asset) -> Result<(), String> {
    if amount.amount <= 0 || amount.amount > MAX_SHARE_SUPPLY {
        return Err(format!(
            "{what} {} must be in 1..={MAX_SHARE_SUPPLY}",
            amount.amount
        ));
    }
    Ok(())
}

/// Offers `amount_to_sell` for at least `min_to_receive`; the order's price is
/// `amount_to_sell / min_to_receive`. The creation fee is deferred until the first fill.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LimitOrderCreateOperation {
    pub fee: Asset,
    pub seller: AccountId,
    pub amount_to_sell: Asset,
    pub min_to_receive: Asset,
    /// The order is cancelled (fee refunded) at this time; `TimePointSec::MAX` = never.
    pub expiration: TimePointSec,
    /// Fail the whole operation unless the order fills completely on creation.
    pub fill_or_kill: bool,
    pub extensions: Extensions,
}

impl OperationBody for LimitOrderCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.seller
    }
    fn validate(&self) -> Result<(), String> {
        if self.amount_to_sell.asset_id == self.min_to_receive.asset_id {
            return Err(format!(
                "amount_to_sell and min_to_receive are both in {}: an order must trade two different assets",
                self.amount_to_sell.asset_id
            ));
        }
        check_positive("amount_to_sell", &self.amount_to_sell)?;
        check_positive("min_to_receive", &self.min_to_receive)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LimitOrderCancelOperation {
    pub fee: Asset,
    /// Must be the order's seller (checked on apply).
    pub fee_paying_account: AccountId,
    pub order: LimitOrderId,
    pub extensions: Extensions,
}

impl OperationBody for LimitOrderCancelOperation {
    fn fee_payer(&self) -> AccountId {
        self.fee_paying_account
    }
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The one extension `call_order_update` defines.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct CallOrderUpdateExtensions {
    /// When margin called, sell only enough collateral to get back to this ratio
    /// (fixed point /1000) instead of closing the whole position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_collateral_ratio: Option<u16>,
}

/// Opens, adjusts or closes the funding account's margin position in `delta_debt`'s
/// asset. Positive deltas add collateral or borrow; negative ones withdraw or repay.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CallOrderUpdateOperation {
    pub fee: Asset,
    pub funding_account: AccountId,
    pub delta_collateral: Asset,
    pub delta_debt: Asset,
    pub extensions: CallOrderUpdateExtensions,
}

impl OperationBody for CallOrderUpdateOperation {
    fn fee_payer(&self) -> AccountId {
        self.funding_account
    }
    fn validate(&self) -> Result<(), String> {
        if self.delta_collateral.asset_id == self.delta_debt.asset_id {
            return Err(format!(
                "delta_collateral and delta_debt are both in {}: collateral and debt must be different assets",
                self.delta_debt.asset_id
            ));
        }
        if self.delta_collateral.amount == 0 && self.delta_debt.amount == 0 {
            return Err("nothing to do: delta_collateral and delta_debt are both zero".into());
        }
        for (what, d) in [
            ("delta_collateral", &self.delta_collateral),
            ("delta_debt", &self.delta_debt),
        ] {
            if d.amount.unsigned_abs() > MAX_SHARE_SUPPLY as u64 {
                return Err(format!("{what} {} is beyond ±{MAX_SHARE_SUPPLY}", d.amount));
            }
        }
        // target_collateral_ratio needs no check: any value is meaningful (values at or
        // below the maintenance ratio behave as the maintenance ratio).
        Ok(())
    }
}

/// Virtual: one side of a match. `fee` is the market fee taken from `receives`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct FillOrderOperation {
    pub fee: Asset,
    /// A limit order (1.7.x), call order (1.8.x) or force settlement (1.4.x).
    pub order_id: ObjectId,
    pub account_id: AccountId,
    pub pays: Asset,
    pub receives: Asset,
    /// The maker's price, at which the match happened.
    pub fill_price: Price,
    pub is_maker: bool,
}

impl OperationBody for FillOrderOperation {
    fn fee_payer(&self) -> AccountId {
        self.account_id
    }
    fn validate(&self) -> Result<(), String> {
        super::virtual_op("fill_order")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ids::AssetId;
    use crate::protocol::operations::Operation;

    fn a(n: i64, id: u64) -> Asset {
        Asset::new(n, AssetId(id))
    }

    fn order() -> LimitOrderCreateOperation {
        LimitOrderCreateOperation {
            fee: a(0, 0),
            seller: AccountId(10),
            amount_to_sell: a(100, 0),
            min_to_receive: a(5, 1),
            expiration: TimePointSec::MAX,
            fill_or_kill: false,
            extensions: Extensions,
        }
    }

    #[test]
    fn limit_order_create() {
        assert!(order().validate().is_ok());
        let mut o = order();
        o.min_to_receive.asset_id = AssetId(0);
        assert!(o.validate().unwrap_err().contains("different assets"));
        let mut o = order();
        o.amount_to_sell.amount = 0;
        assert!(o.validate().unwrap_err().contains("amount_to_sell"));
        let mut o = order();
        o.min_to_receive.amount = -1;
        assert!(o.validate().unwrap_err().contains("min_to_receive"));
        let mut o = order();
        o.min_to_receive.amount = MAX_SHARE_SUPPLY + 1;
        assert!(o.validate().is_err());
        // The fee check runs through Operation::validate.
        let mut o = order();
        o.fee.amount = -1;
        assert!(Operation::LimitOrderCreate(o).validate().is_err());
    }

    #[test]
    fn limit_order_cancel() {
        let op = LimitOrderCancelOperation {
            fee: a(0, 0),
            fee_paying_account: AccountId(10),
            order: LimitOrderId(3),
            extensions: Extensions,
        };
        assert!(op.validate().is_ok());
        assert_eq!(op.fee_payer(), AccountId(10));
        let mut bad = op;
        bad.fee.amount = -5;
        assert!(Operation::LimitOrderCancel(bad)
            .validate()
            .unwrap_err()
            .reason
            .contains("negative"));
    }

    #[test]
    fn call_order_update() {
        let op = CallOrderUpdateOperation {
            fee: a(0, 0),
            funding_account: AccountId(10),
            delta_collateral: a(1000, 0),
            delta_debt: a(10, 1),
            extensions: CallOrderUpdateExtensions {
                target_collateral_ratio: Some(1800),
            },
        };
        assert!(op.validate().is_ok());
        let mut repay = op.clone();
        repay.delta_collateral.amount = 0;
        repay.delta_debt.amount = -10;
        assert!(repay.validate().is_ok());
        let mut same = op.clone();
        same.delta_debt.asset_id = AssetId(0);
        assert!(same.validate().unwrap_err().contains("different assets"));
        let mut nothing = op.clone();
        nothing.delta_collateral.amount = 0;
        nothing.delta_debt.amount = 0;
        assert!(nothing.validate().unwrap_err().contains("nothing to do"));
        let mut huge = op.clone();
        huge.delta_debt.amount = i64::MIN;
        assert!(huge.validate().is_err());

        let json = serde_json::to_value(op.extensions).unwrap();
        assert_eq!(json, serde_json::json!({"target_collateral_ratio": 1800}));
        let none: CallOrderUpdateExtensions = serde_json::from_str("{}").unwrap();
        assert_eq!(none, CallOrderUpdateExtensions::default());
        assert_eq!(serde_json::to_string(&none).unwrap(), "{}");
        assert!(serde_json::from_str::<CallOrderUpdateExtensions>(r#"{"x":1}"#).is_err());
        let bytes = borsh::to_vec(&op).unwrap();
        assert_eq!(
            CallOrderUpdateOperation::try_from_slice(&bytes).unwrap(),
            op
        );
    }

    #[test]
    fn fill_order_is_virtual() {
        let op = FillOrderOperation {
            fee: a(0, 1),
            order_id: LimitOrderId(1).object_id(),
            account_id: AccountId(10),
            pays: a(100, 0),
            receives: a(5, 1),
            fill_price: Price::new(a(100, 0), a(5, 1)),
            is_maker: true,
        };
        assert!(op.validate().unwrap_err().contains("virtual"));
        assert_eq!(op.fee_payer(), AccountId(10));
    }
}
