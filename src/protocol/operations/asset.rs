//! User-issued asset operations and the options every asset carries.

use super::{packed_len, OperationBody, RequiredAuthorities};
use crate::protocol::asset::{Asset, Price, MAX_SHARE_SUPPLY, PERCENT_100};
use crate::protocol::extensions::Extensions;
use crate::protocol::fees::{calculate_data_fee, FeeParameters};
use crate::protocol::ids::{AccountId, AssetId};
use crate::protocol::json;
use crate::protocol::memo::Memo;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

pub const ASSET_PRECISION_MAX: u8 = 12;
pub const SYMBOL_LENGTH_MIN: usize = 3;
pub const SYMBOL_LENGTH_MAX: usize = 16;
pub const ASSET_DESCRIPTION_MAX: usize = 4096;
/// Decode-time bound on white/black lists (the chain parameter, default 10, is stateful).
pub const ASSET_LIST_ENTRIES_MAX: usize = 64;

/// Issuer permission / flag bits.
pub mod flags {
    pub const CHARGE_MARKET_FEE: u16 = 0x01;
    pub const WHITE_LIST: u16 = 0x02;
    pub const OVERRIDE_AUTHORITY: u16 = 0x04;
    pub const TRANSFER_RESTRICTED: u16 = 0x08;
    pub const DISABLE_FORCE_SETTLE: u16 = 0x10;
    pub const GLOBAL_SETTLE: u16 = 0x20;
    pub const DISABLE_CONFIDENTIAL: u16 = 0x40;
    pub const WITNESS_FED_ASSET: u16 = 0x80;
    pub const COMMITTEE_FED_ASSET: u16 = 0x100;
    pub const LOCK_MAX_SUPPLY: u16 = 0x200;
    pub const DISABLE_NEW_SUPPLY: u16 = 0x400;
    pub const DISABLE_MCR_UPDATE: u16 = 0x800;
    pub const DISABLE_ICR_UPDATE: u16 = 0x1000;
    pub const DISABLE_MSSR_UPDATE: u16 = 0x2000;
    pub const DISABLE_BSRM_UPDATE: u16 = 0x4000;
    pub const DISABLE_COLLATERAL_BIDDING: u16 = 0x8000;
    /// The bits a user-issued asset may use.
    pub const UIA_MASK: u16 = CHARGE_MARKET_FEE
        | WHITE_LIST
        | OVERRIDE_AUTHORITY
        | TRANSFER_RESTRICTED
        | DISABLE_CONFIDENTIAL
        | LOCK_MAX_SUPPLY
        | DISABLE_NEW_SUPPLY;
    /// Every defined bit (market-issued assets may use them all).
    pub const ALL_MASK: u16 = 0xffff;
    /// Bits that are permissions only, never flags.
    pub const PERMISSION_ONLY: u16 = GLOBAL_SETTLE
        | DISABLE_MCR_UPDATE
        | DISABLE_ICR_UPDATE
        | DISABLE_MSSR_UPDATE
        | DISABLE_BSRM_UPDATE;
    /// "Disable" permission bits: as in the reference, a set bit *takes away* the
    /// issuer's power (to change the flag or the parameter), a clear bit grants it.
    pub const DISABLE_BITS: u16 = LOCK_MAX_SUPPLY
        | DISABLE_NEW_SUPPLY
        | DISABLE_MCR_UPDATE
        | DISABLE_ICR_UPDATE
        | DISABLE_MSSR_UPDATE
        | DISABLE_BSRM_UPDATE
        | DISABLE_COLLATERAL_BIDDING;

    /// The powers the issuer holds under `permissions` (the reference
    /// `get_enabled_issuer_permissions_mask`).
    pub const fn enabled_permissions(permissions: u16) -> u16 {
        (permissions & !DISABLE_BITS) | (!permissions & DISABLE_BITS)
    }
}

/// Symbol rules: 3..=16 characters, not starting with "BIT", first A-Z, last A-Z or 0-9,
/// otherwise A-Z, 0-9 and at most one '.'.
pub fn is_valid_symbol(symbol: &str) -> bool {
    let b = symbol.as_bytes();
    if b.len() < SYMBOL_LENGTH_MIN || b.len() > SYMBOL_LENGTH_MAX || symbol.starts_with("BIT") {
        return false;
    }
    let (first, last) = (b[0], b[b.len() - 1]);
    if !first.is_ascii_uppercase() || !(last.is_ascii_uppercase() || last.is_ascii_digit()) {
        return false;
    }
    let dots = b.iter().filter(|&&c| c == b'.').count();
    dots <= 1
        && b.iter()
            .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'.')
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetOptions {
    #[serde(with = "json::int64")]
    pub max_supply: i64,
    pub market_fee_percent: u16,
    #[serde(with = "json::int64")]
    pub max_market_fee: i64,
    pub issuer_permissions: u16,
    pub flags: u16,
    /// Price of the asset in core, `base`/`quote` with one side core.
    pub core_exchange_rate: Price,
    pub whitelist_authorities: BTreeSet<AccountId>,
    pub blacklist_authorities: BTreeSet<AccountId>,
    pub whitelist_markets: BTreeSet<AssetId>,
    pub blacklist_markets: BTreeSet<AssetId>,
    pub description: String,
    pub extensions: Extensions,
}

impl AssetOptions {
    /// Stateless checks; `asset` is the id that the core_exchange_rate must name on its
    /// non-core side (the not-yet-created asset uses `AssetId(1)` placeholder semantics,
    /// see `validate_cer`).
    pub fn validate(&self) -> Result<(), String> {
        if self.max_supply <= 0 || self.max_supply > MAX_SHARE_SUPPLY {
            return Err(format!(
                "max_supply {} must be in 1..={MAX_SHARE_SUPPLY}",
                self.max_supply
            ));
        }
        if self.market_fee_percent > PERCENT_100 {
            return Err(format!(
                "market_fee_percent {} is above 10000",
                self.market_fee_percent
            ));
        }
        if self.max_market_fee < 0 || self.max_market_fee > MAX_SHARE_SUPPLY {
            return Err(format!(
                "max_market_fee {} out of range",
                self.max_market_fee
            ));
        }
        if self.flags & flags::PERMISSION_ONLY != 0 {
            return Err(format!(
                "flags {:#x} include permission-only bits (global_settle, disable_*_update)",
                self.flags & flags::PERMISSION_ONLY
            ));
        }
        if self.flags & flags::WITNESS_FED_ASSET != 0
            && self.flags & flags::COMMITTEE_FED_ASSET != 0
        {
            return Err("witness_fed_asset and committee_fed_asset are mutually exclusive".into());
        }
        self.core_exchange_rate
            .validate()
            .map_err(|e| format!("core_exchange_rate: {e}"))?;
        let cer = &self.core_exchange_rate;
        if cer.base.asset_id != AssetId::CORE && cer.quote.asset_id != AssetId::CORE {
            return Err(format!(
                "core_exchange_rate {cer} must have the core asset on one side"
            ));
        }
        for (name, list) in [
            ("whitelist_authorities", &self.whitelist_authorities),
            ("blacklist_authorities", &self.blacklist_authorities),
        ] {
            if list.len() > ASSET_LIST_ENTRIES_MAX {
                return Err(format!("{name} lists {} accounts", list.len()));
            }
        }
        if (!self.whitelist_authorities.is_empty() || !self.blacklist_authorities.is_empty())
            && self.flags & flags::WHITE_LIST == 0
        {
            return Err("white/black list authorities need the white_list flag".into());
        }
        if self
            .whitelist_markets
            .intersection(&self.blacklist_markets)
            .next()
            .is_some()
        {
            return Err("whitelist_markets and blacklist_markets must be disjoint".into());
        }
        if self.whitelist_markets.len() > ASSET_LIST_ENTRIES_MAX
            || self.blacklist_markets.len() > ASSET_LIST_ENTRIES_MAX
        {
            return Err("too many markets listed".into());
        }
        if self.description.len() > ASSET_DESCRIPTION_MAX {
            return Err(format!(
                "description is {} bytes, more than {ASSET_DESCRIPTION_MAX}",
                self.description.len()
            ));
        }
        Ok(())
    }
}

/// Options of a market-issued asset (SmartCoin).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BitassetOptions {
    pub feed_lifetime_sec: u32,
    pub minimum_feeds: u8,
    pub force_settlement_delay_sec: u32,
    pub force_settlement_offset_percent: u16,
    pub maximum_force_settlement_volume: u16,
    pub short_backing_asset: AssetId,
    pub extensions: Extensions,
}

impl Default for BitassetOptions {
    fn default() -> Self {
        BitassetOptions {
            feed_lifetime_sec: 86_400,
            minimum_feeds: 1,
            force_settlement_delay_sec: 86_400,
            force_settlement_offset_percent: 0,
            maximum_force_settlement_volume: 2000,
            short_backing_asset: AssetId::CORE,
            extensions: Extensions,
        }
    }
}

impl BitassetOptions {
    pub fn validate(&self) -> Result<(), String> {
        if self.minimum_feeds == 0 {
            return Err("minimum_feeds must be at least 1".into());
        }
        if self.force_settlement_offset_percent > PERCENT_100 {
            return Err("force_settlement_offset_percent is above 10000".into());
        }
        if self.maximum_force_settlement_volume > PERCENT_100 {
            return Err("maximum_force_settlement_volume is above 10000".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetCreateOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub symbol: String,
    pub precision: u8,
    pub common_options: AssetOptions,
    pub bitasset_opts: Option<BitassetOptions>,
    pub is_prediction_market: bool,
    pub extensions: Extensions,
}

impl OperationBody for AssetCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if !is_valid_symbol(&self.symbol) {
            return Err(format!("{:?} is not a valid asset symbol", self.symbol));
        }
        if self.precision > ASSET_PRECISION_MAX {
            return Err(format!(
                "precision {} is above {ASSET_PRECISION_MAX}",
                self.precision
            ));
        }
        self.common_options.validate()?;
        let perms = self.common_options.issuer_permissions;
        let fl = self.common_options.flags;
        match &self.bitasset_opts {
            None => {
                if perms & !flags::UIA_MASK != 0 || fl & !flags::UIA_MASK != 0 {
                    return Err(
                        "a user-issued asset may only use the UIA permission and flag bits".into(),
                    );
                }
                if self.is_prediction_market {
                    return Err("a prediction market must be a market-issued asset".into());
                }
            }
            Some(b) => {
                b.validate()?;
                if self.is_prediction_market && perms & flags::GLOBAL_SETTLE == 0 {
                    return Err("a prediction market needs the global_settle permission".into());
                }
            }
        }
        // As in the reference, flags need no permission at creation: a flag set without
        // its permission simply cannot be changed later.
        let cer = &self.common_options.core_exchange_rate;
        // The new asset's id is unknown here; the non-core side is checked on apply.
        if cer.base.asset_id == cer.quote.asset_id {
            return Err("core_exchange_rate must relate the new asset and core".into());
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        packed_len(self)
    }
    fn calculate_fee(&self, params: &FeeParameters) -> u64 {
        match *params {
            FeeParameters::AssetCreate {
                symbol3,
                symbol4,
                long_symbol,
                price_per_kbyte,
            } => {
                let base = match self.symbol.len() {
                    3 => symbol3,
                    4 => symbol4,
                    _ => long_symbol,
                };
                base.saturating_add(calculate_data_fee(self.data_size(), price_per_kbyte))
            }
            ref other => super::default_fee(other, self.data_size()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetUpdateOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub asset_to_update: AssetId,
    /// Must be absent: the issuer changes through `asset_update_issuer` (owner authority).
    pub new_issuer: Option<AccountId>,
    pub new_options: AssetOptions,
    pub extensions: Extensions,
}

impl OperationBody for AssetUpdateOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.new_issuer.is_some() {
            return Err("new_issuer is not allowed here: use asset_update_issuer".into());
        }
        self.new_options.validate()
    }
    fn data_size(&self) -> usize {
        packed_len(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetUpdateIssuerOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub asset_to_update: AssetId,
    pub new_issuer: AccountId,
    pub extensions: Extensions,
}

impl OperationBody for AssetUpdateIssuerOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.issuer == self.new_issuer {
            return Err("new_issuer is already the issuer".into());
        }
        Ok(())
    }
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        auths.owner.push(self.issuer);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetIssueOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub asset_to_issue: Asset,
    pub issue_to_account: AccountId,
    pub memo: Option<Memo>,
    pub extensions: Extensions,
}

impl OperationBody for AssetIssueOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.asset_to_issue.amount <= 0 || self.asset_to_issue.amount > MAX_SHARE_SUPPLY {
            return Err(format!(
                "amount {} must be in 1..={MAX_SHARE_SUPPLY}",
                self.asset_to_issue.amount
            ));
        }
        if self.asset_to_issue.asset_id == AssetId::CORE {
            return Err("the core asset cannot be issued".into());
        }
        if let Some(m) = &self.memo {
            m.validate()?;
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        self.memo.as_ref().map_or(0, Memo::packed_size)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetReserveOperation {
    pub fee: Asset,
    pub payer: AccountId,
    pub amount_to_reserve: Asset,
    pub extensions: Extensions,
}

impl OperationBody for AssetReserveOperation {
    fn fee_payer(&self) -> AccountId {
        self.payer
    }
    fn validate(&self) -> Result<(), String> {
        if self.amount_to_reserve.amount <= 0 || self.amount_to_reserve.amount > MAX_SHARE_SUPPLY {
            return Err(format!(
                "amount {} must be in 1..={MAX_SHARE_SUPPLY}",
                self.amount_to_reserve.amount
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetFundFeePoolOperation {
    pub fee: Asset,
    pub from_account: AccountId,
    pub asset_id: AssetId,
    /// Core satoshis moved into the pool.
    #[serde(with = "json::int64")]
    pub amount: i64,
    pub extensions: Extensions,
}

impl OperationBody for AssetFundFeePoolOperation {
    fn fee_payer(&self) -> AccountId {
        self.from_account
    }
    fn validate(&self) -> Result<(), String> {
        if self.fee.asset_id != AssetId::CORE {
            return Err("the fee of asset_fund_fee_pool must be paid in the core asset".into());
        }
        if self.amount <= 0 || self.amount > MAX_SHARE_SUPPLY {
            return Err(format!(
                "amount {} must be in 1..={MAX_SHARE_SUPPLY}",
                self.amount
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetClaimFeesOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    /// The accumulated fees to claim; their asset names the asset.
    pub amount_to_claim: Asset,
    pub extensions: Extensions,
}

impl OperationBody for AssetClaimFeesOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.amount_to_claim.amount <= 0 {
            return Err(format!(
                "amount {} must be positive",
                self.amount_to_claim.amount
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssetClaimPoolOperation {
    pub fee: Asset,
    pub issuer: AccountId,
    pub asset_id: AssetId,
    /// Core to take back out of the asset's fee pool.
    pub amount_to_claim: Asset,
    pub extensions: Extensions,
}

impl OperationBody for AssetClaimPoolOperation {
    fn fee_payer(&self) -> AccountId {
        self.issuer
    }
    fn validate(&self) -> Result<(), String> {
        if self.amount_to_claim.amount <= 0 {
            return Err(format!(
                "amount {} must be positive",
                self.amount_to_claim.amount
            ));
        }
        if self.amount_to_claim.asset_id != AssetId::CORE {
            return Err("the fee pool holds core: amount_to_claim must be in 1.3.0".into());
        }
        if self.asset_id == AssetId::CORE {
            return Err("the core asset has no fee pool to claim".into());
        }
        if self.fee.asset_id == self.asset_id {
            return Err("the fee cannot be paid from the pool being claimed".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn symbols() {
        for ok in ["CORE", "USD", "ABC.DEF", "A1B", "ABCDEFGHIJKLMNOP"] {
            assert!(is_valid_symbol(ok), "{ok}");
        }
        for bad in [
            "AB",
            "BITUSD",
            "1AB",
            "AB.",
            "A.B.C",
            "abc",
            "ABCDEFGHIJKLMNOPQ",
            "AB-C",
        ] {
            assert!(!is_valid_symbol(bad), "{bad}");
        }
    }
}
