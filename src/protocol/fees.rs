//! The fee schedule: per-operation fee parameters plus a global scale.
//!
//! Amounts are in core satoshis. Size-dependent parts use
//! `bytes * price_per_kbyte / 1024`, rounded down, in u128 (`calculate_data_fee`).

use super::asset::MAX_SHARE_SUPPLY;
use super::json;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One unit of the core asset in satoshis (precision 5).
pub const P: u64 = 100_000;
/// The scale at which fees are charged as listed.
pub const FEE_SCALE_100: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeParameters {
    /// A flat fee.
    Flat {
        #[serde(with = "json::int64")]
        fee: u64,
    },
    /// A flat fee plus a price per KiB of the op's data (memo, payload, whole op...).
    WithData {
        #[serde(with = "json::int64")]
        fee: u64,
        price_per_kbyte: u32,
    },
    AccountCreate {
        #[serde(with = "json::int64")]
        basic_fee: u64,
        #[serde(with = "json::int64")]
        premium_fee: u64,
        price_per_kbyte: u32,
    },
    AccountUpgrade {
        #[serde(with = "json::int64")]
        membership_annual_fee: u64,
        #[serde(with = "json::int64")]
        membership_lifetime_fee: u64,
    },
    AssetCreate {
        #[serde(with = "json::int64")]
        symbol3: u64,
        #[serde(with = "json::int64")]
        symbol4: u64,
        #[serde(with = "json::int64")]
        long_symbol: u64,
        price_per_kbyte: u32,
    },
}

impl FeeParameters {
    /// The largest single fee component, for validation.
    fn max_component(&self) -> u64 {
        match *self {
            FeeParameters::Flat { fee } | FeeParameters::WithData { fee, .. } => fee,
            FeeParameters::AccountCreate {
                basic_fee,
                premium_fee,
                ..
            } => basic_fee.max(premium_fee),
            FeeParameters::AccountUpgrade {
                membership_annual_fee,
                membership_lifetime_fee,
            } => membership_annual_fee.max(membership_lifetime_fee),
            FeeParameters::AssetCreate {
                symbol3,
                symbol4,
                long_symbol,
                ..
            } => symbol3.max(symbol4).max(long_symbol),
        }
    }
}

/// `bytes * price_per_kbyte / 1024`, rounded down.
pub fn calculate_data_fee(bytes: usize, price_per_kbyte: u32) -> u64 {
    ((bytes as u128 * price_per_kbyte as u128) / 1024) as u64
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct FeeSchedule {
    /// Operation tag → its parameters.
    #[serde(with = "json::pairs")]
    pub parameters: BTreeMap<u8, FeeParameters>,
    /// Multiplier over 10000 applied to every computed fee.
    pub scale: u32,
}

impl FeeSchedule {
    pub fn validate(&self) -> Result<(), String> {
        for (tag, p) in &self.parameters {
            if p.max_component() > MAX_SHARE_SUPPLY as u64 {
                return Err(format!(
                    "fee for operation tag {tag} exceeds the maximum supply"
                ));
            }
        }
        Ok(())
    }

    /// Applies the global scale to a computed fee; the result is capped at max supply.
    pub fn scaled(&self, fee: u64) -> u64 {
        let v = fee as u128 * self.scale as u128 / FEE_SCALE_100 as u128;
        v.min(MAX_SHARE_SUPPLY as u128) as u64
    }
}
