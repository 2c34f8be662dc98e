//! Market-issued assets (SmartCoins): bitasset options, feeds, force and global
//! settlement, and collateral bids on a globally settled asset.

use super::{BitassetOptions, OperationBody};
use crate::protocol::asset::{Asset, Price, MAX_SHARE_SUPPLY};
use crate::protocol::extensions::Extensions;
use crate::protocol::ids::{AccountId, AssetId, ForceSettlementId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Collateral ratios are fixed point over this denominator (1000 = 100%).
pub const COLLATERAL_RATIO_DENOM: u16 = 1000;
/// The smallest valid collateral ratio (100.1%).
pub const COLLATERAL_RATIO_MIN: u16 = 1001;
/// The largest valid collateral ratio (3200%).
pub const COLLATERAL_RATIO_MAX: u16 = 32_000;
pub const DEFAULT_MAINTENANCE_COLLATERAL_RATIO: u16 = 1750;
pub const DEFAULT_MAXIMUM_SHORT_SQUEEZE_RATIO: u16 = 1500;
/// Decode-time bound on a feed producer set. The stateful limit is the chain parameter
/// `maximum_asset_feed_publishers` (default 10), a u8, so no valid set is larger.
pub const FEED_PRODUCERS_MAX: usize = u8::MAX as usize;

/// The reference "null price": every field at its default. Anything else must be a
/// valid price; in particular a price with one zero side is not null, it is invalid.
fn is_null_price(p: &Price) -> bool {
    *p == Price::default()
}

fn check_ratio(what: &str, r: u16) -> Result<(), String> {
    if !(COLLATERAL_RATIO_MIN..=COLLATERAL_RATIO_MAX).contains(&r) {
        return Err(format!(
            "{what} {r} must be in {COLLATERAL_RATIO_MIN}..={COLLATERAL_RATIO_MAX} (per {COLLATERAL_RATIO_DENOM})"
        ));
    }
    Ok(())
}

fn check_positive(what: &str, amount: &Asset) -> Result<(), String> {
    if amount.amount <= 0 || amount.amount > MAX_SHARE_SUPPLY {
        return Err(format!(
            "{what} {} must be in 1..={MAX_SHARE_SUPPLY}",
            amount.amount
        ));
    }
    Ok(())
}

fn check_non_negative(what: &str, amount: &Asset) -> Result<(), String> {
    if amount.amount < 0 || amount.amount > MAX_SHARE_SUPPLY {
        return Err(format!(
            "{what} {} must be in 0..={MAX_SHARE_SUPPLY}",
            amount.amount
        ));
    }
    Ok(())
}

/// A price feed. `settlement_price` is quoted DEBT/COLLATERAL; `core_exchange_rate`
/// is the asset's price in core, used to pay fees in it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PriceFeed {
    pub settlement_price: Price,
    /// Below this ratio (/1000) of collateral to debt a position is margin called.
    pub maintenance_collateral_ratio: u16,
    /// A margin call gives up collateral at up to this ratio (/1000) of its feed value.
    pub maximum_short_squeeze_ratio: u16,
    pub core_exchange_rate: Price,
}

impl Default for PriceFeed {
    /// The null feed, with the reference default ratios.
    fn default() -> Self {
        PriceFeed {
            settlement_price: Price::default(),
            maintenance_collateral_ratio: DEFAULT_MAINTENANCE_COLLATERAL_RATIO,
            maximum_short_squeeze_ratio: DEFAULT_MAXIMUM_SHORT_SQUEEZE_RATIO,
            core_exchange_rate: Price::default(),
        }
    }
}

impl PriceFeed {
    /// The reference `price_feed::validate`: each price is null or valid, and both
    /// ratios are in `COLLATERAL_RATIO_MIN..=COLLATERAL_RATIO_MAX`. (The reference does
    /// not require MCR ≥ MSSR, and neither does this.)
    pub fn validate(&self) -> Result<(), String> {
        if !is_null_price(&self.settlement_price) {
            self.settlement_price
                .validate()
                .map_err(|e| format!("settlement_price: {e}"))?;
        }
        if !is_null_price(&self.core_exchange_rate) {
            self.core_exchange_rate
                .validate()
                .map_err(|e| format!("core_exchange_rate: {e}"))?;
        }
        check_ratio(
            "maintenance_collateral_ratio",
            self.maintenance_collateral_ratio,
        )?;
        check_ratio(
            "maximum_short_squeeze_ratio",
            self.maximum_short_squeeze_ratio,
        )
    }

    /// Whether the feed prices `asset`: its non-null prices must have `asset` as base.
    /// A fully null feed is for any asset.
    pub fn is_for(&self, asset: AssetId) -> bool {
        if !is_null_price(&self.settlement_price) {
            return self.settlement_price.base.asset_id == asset;
        }
        if !is_null_price(&self.core_exchange_rate) {
            return self.core_exchange_rate.base.asset_id == asset;
        }
        true
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetUpdateBitassetOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub asset_to_update: AssetId,
    pub new_options: BitassetOptions,
    pub extensions: Extensions,
}

impl OperationBody for AssetUpdateBitassetOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.new_options.short_backing_asset == self.asset_to_update {
            return Err(format!(
                "{} cannot be backed by itself",
                self.asset_to_update
            ));
        }
        self.new_options.validate()
    }
}

/// Replaces the issuer-chosen feed producers (ignored for witness- or committee-fed
/// assets, which the chain rejects on apply).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetUpdateFeedProducersOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub asset_to_update: AssetId,
    /// May be empty: that removes every producer.
    pub new_feed_producers: BTreeSet<AccountId>,
    pub extensions: Extensions,
}

impl OperationBody for AssetUpdateFeedProducersOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.new_feed_producers.len() > FEED_PRODUCERS_MAX {
            return Err(format!(
                "{} feed producers is more than the {FEED_PRODUCERS_MAX} allowed",
                self.new_feed_producers.len()
            ));
        }
        if self.asset_to_update == AssetId::CORE {
            return Err("the core asset has no price feed".into());
        }
        Ok(())
    }
}

/// Asks to settle `amount` of a SmartCoin for collateral at the feed price after the
/// settlement delay (instantly at the settlement price if globally settled).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetSettleOperation {
    pub fee: Asset,
    pub account: AccountId,
    pub amount: Asset,
    pub extensions: Extensions,
}

impl OperationBody for AssetSettleOperation {
    fn fee_payer(&self) -> AccountId {
        self.account
    }
    fn validate(&self) -> Result<(), String> {
        // The reference accepts 0 here and rejects it on apply; rejecting it
        // statelessly is equivalent and cheaper.
        check_positive("amount", &self.amount)?;
        if self.amount.asset_id == AssetId::CORE {
            return Err("the core asset cannot be force-settled".into());
        }
        Ok(())
    }
}

/// The issuer settles every position at `settle_price` (needs the global_settle
/// permission, checked on apply).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetGlobalSettleOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub asset_to_settle: AssetId,
    /// DEBT/COLLATERAL: base must be `asset_to_settle`.
    pub settle_price: Price,
    pub extensions: Extensions,
}

impl OperationBody for AssetGlobalSettleOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.settle_price.base.asset_id != self.asset_to_settle {
            return Err(format!(
                "settle_price {} must have {} as its base",
                self.settle_price, self.asset_to_settle
            ));
        }
        self.settle_price
            .validate()
            .map_err(|e| format!("settle_price: {e}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetPublishFeedOperation {
    pub fee: Asset,
    pub publisher: AccountId,
    pub asset_id: AssetId,
    pub feed: PriceFeed,
    pub extensions: Extensions,
}

impl OperationBody for AssetPublishFeedOperation {
    fn fee_payer(&self) -> AccountId {
        self.publisher
    }
    fn validate(&self) -> Result<(), String> {
        self.feed.validate()?;
        let (sp, cer) = (&self.feed.settlement_price, &self.feed.core_exchange_rate);
        if is_null_price(sp) {
            return Err("a published feed needs a settlement_price".into());
        }
        if is_null_price(cer) {
            return Err("a published feed needs a core_exchange_rate".into());
        }
        if sp.base.asset_id != cer.base.asset_id {
            return Err(format!(
                "settlement_price {sp} and core_exchange_rate {cer} must have the same base asset"
            ));
        }
        if !self.feed.is_for(self.asset_id) {
            return Err(format!(
                "the feed prices {}, not {}",
                sp.base.asset_id, self.asset_id
            ));
        }
        Ok(())
    }
}

/// Virtual: a pending force settlement was cancelled and its amount returned.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetSettleCancelOperation {
    pub fee: Asset,
    pub settlement: ForceSettlementId,
    pub account: AccountId,
    pub amount: Asset,
    pub extensions: Extensions,
}

impl OperationBody for AssetSettleCancelOperation {
    fn fee_payer(&self) -> AccountId {
        self.account
    }
    fn validate(&self) -> Result<(), String> {
        super::virtual_op("asset_settle_cancel")
    }
}

/// Offers collateral to take over part of a globally settled asset's debt. A bid with
/// `debt_covered` 0 cancels the bidder's bid.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BidCollateralOperation {
    pub fee: Asset,
    pub bidder: AccountId,
    pub additional_collateral: Asset,
    pub debt_covered: Asset,
    pub extensions: Extensions,
}

impl OperationBody for BidCollateralOperation {
    fn fee_payer(&self) -> AccountId {
        self.bidder
    }
    fn validate(&self) -> Result<(), String> {
        if self.additional_collateral.asset_id == self.debt_covered.asset_id {
            return Err(format!(
                "additional_collateral and debt_covered are both in {}: they must be different assets",
                self.debt_covered.asset_id
            ));
        }
        check_non_negative("debt_covered", &self.debt_covered)?;
        check_non_negative("additional_collateral", &self.additional_collateral)?;
        if self.debt_covered.amount > 0 && self.additional_collateral.amount == 0 {
            return Err("a bid covering debt must offer positive additional_collateral".into());
        }
        Ok(())
    }
}

/// Virtual: a collateral bid was taken when the asset was revived.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ExecuteBidOperation {
    pub fee: Asset,
    pub bidder: AccountId,
    pub debt: Asset,
    pub collateral: Asset,
}

impl OperationBody for ExecuteBidOperation {
    fn fee_payer(&self) -> AccountId {
        self.bidder
    }
    fn validate(&self) -> Result<(), String> {
        super::virtual_op("execute_bid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: i64, id: u64) -> Asset {
        Asset::new(n, AssetId(id))
    }

    fn feed() -> PriceFeed {
        PriceFeed {
            settlement_price: Price::new(a(1, 1), a(20, 0)),
            maintenance_collateral_ratio: 1750,
            maximum_short_squeeze_ratio: 1100,
            core_exchange_rate: Price::new(a(1, 1), a(21, 0)),
        }
    }

    #[test]
    fn price_feed() {
        assert!(feed().validate().is_ok());
        assert!(
            PriceFeed::default().validate().is_ok(),
            "the null feed is valid"
        );
        assert!(PriceFeed::default().is_for(AssetId(7)));
        let mut f = feed();
        f.maintenance_collateral_ratio = 1000;
        assert!(f
            .validate()
            .unwrap_err()
            .contains("maintenance_collateral_ratio"));
        let mut f = feed();
        f.maximum_short_squeeze_ratio = 32_001;
        assert!(f
            .validate()
            .unwrap_err()
            .contains("maximum_short_squeeze_ratio"));
        let mut f = feed();
        f.settlement_price.quote.amount = 0;
        assert!(
            f.validate().unwrap_err().contains("settlement_price"),
            "half-zero is not null"
        );
        assert!(feed().is_for(AssetId(1)));
        assert!(!feed().is_for(AssetId(2)));
    }

    #[test]
    fn update_bitasset() {
        let op = AssetUpdateBitassetOperation {
            fee: a(0, 0),
            issuer: AccountId(10),
            asset_to_update: AssetId(1),
            new_options: BitassetOptions::default(),
            extensions: Extensions,
        };
        assert!(op.validate().is_ok());
        let mut bad = op.clone();
        bad.new_options.minimum_feeds = 0;
        assert!(bad.validate().unwrap_err().contains("minimum_feeds"));
        let mut selfie = op;
        selfie.new_options.short_backing_asset = AssetId(1);
        assert!(selfie.validate().unwrap_err().contains("itself"));
    }

    #[test]
    fn update_feed_producers() {
        let op = AssetUpdateFeedProducersOperation {
            fee: a(0, 0),
            issuer: AccountId(10),
            asset_to_update: AssetId(1),
            new_feed_producers: [AccountId(11), AccountId(12)].into(),
            extensions: Extensions,
        };
        assert!(op.validate().is_ok());
        let mut many = op.clone();
        many.new_feed_producers = (0..=FEED_PRODUCERS_MAX as u64).map(AccountId).collect();
        assert!(many.validate().unwrap_err().contains("feed producers"));
        let mut core = op;
        core.asset_to_update = AssetId::CORE;
        assert!(core.validate().is_err());
    }

    #[test]
    fn settle() {
        let op = AssetSettleOperation {
            fee: a(0, 0),
            account: AccountId(10),
            amount: a(5, 1),
            extensions: Extensions,
        };
        assert!(op.validate().is_ok());
        let mut zero = op.clone();
        zero.amount.amount = 0;
        assert!(zero.validate().unwrap_err().contains("amount"));
        let mut core = op;
        core.amount.asset_id = AssetId::CORE;
        assert!(core.validate().is_err());
    }

    #[test]
    fn global_settle() {
        let op = AssetGlobalSettleOperation {
            fee: a(0, 0),
            issuer: AccountId(10),
            asset_to_settle: AssetId(1),
            settle_price: Price::new(a(1, 1), a(20, 0)),
            extensions: Extensions,
        };
        assert!(op.validate().is_ok());
        let mut inverted = op.clone();
        inverted.settle_price = inverted.settle_price.invert();
        assert!(inverted.validate().unwrap_err().contains("base"));
        let mut zero = op;
        zero.settle_price.quote.amount = 0;
        assert!(zero.validate().is_err());
    }

    #[test]
    fn publish_feed() {
        let op = AssetPublishFeedOperation {
            fee: a(0, 0),
            publisher: AccountId(10),
            asset_id: AssetId(1),
            feed: feed(),
            extensions: Extensions,
        };
        assert!(op.validate().is_ok());
        let mut other = op.clone();
        other.asset_id = AssetId(2);
        assert!(other.validate().unwrap_err().contains("not 1.3.2"));
        let mut null = op.clone();
        null.feed.settlement_price = Price::default();
        assert!(null.validate().unwrap_err().contains("settlement_price"));
        let mut no_cer = op.clone();
        no_cer.feed.core_exchange_rate = Price::default();
        assert!(no_cer
            .validate()
            .unwrap_err()
            .contains("core_exchange_rate"));
        let mut mismatch = op.clone();
        mismatch.feed.core_exchange_rate = mismatch.feed.core_exchange_rate.invert();
        assert!(mismatch.validate().unwrap_err().contains("same base"));
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(
            serde_json::from_str::<AssetPublishFeedOperation>(&json).unwrap(),
            op
        );
    }

    #[test]
    fn bid_collateral() {
        let op = BidCollateralOperation {
            fee: a(0, 0),
            bidder: AccountId(10),
            additional_collateral: a(1000, 0),
            debt_covered: a(10, 1),
            extensions: Extensions,
        };
        assert!(op.validate().is_ok());
        let mut cancel = op.clone();
        cancel.debt_covered.amount = 0;
        cancel.additional_collateral.amount = 0;
        assert!(cancel.validate().is_ok());
        let mut free = op.clone();
        free.additional_collateral.amount = 0;
        assert!(free
            .validate()
            .unwrap_err()
            .contains("positive additional_collateral"));
        let mut negative = op.clone();
        negative.debt_covered.amount = -1;
        assert!(negative.validate().is_err());
        let mut same = op;
        same.debt_covered.asset_id = AssetId(0);
        assert!(same.validate().unwrap_err().contains("different assets"));
    }

    #[test]
    fn virtual_ops() {
        let cancel = AssetSettleCancelOperation {
            fee: a(0, 0),
            settlement: ForceSettlementId(1),
            account: AccountId(10),
            amount: a(5, 1),
            extensions: Extensions,
        };
        assert!(cancel.validate().unwrap_err().contains("virtual"));
        assert_eq!(cancel.fee_payer(), AccountId(10));
        let exec = ExecuteBidOperation {
            fee: a(0, 0),
            bidder: AccountId(11),
            debt: a(5, 1),
            collateral: a(100, 0),
        };
        assert!(exec.validate().unwrap_err().contains("virtual"));
        assert_eq!(exec.fee_payer(), AccountId(11));
    }
}
