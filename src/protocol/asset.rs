//! Asset amounts and prices, with explicit rounding.
//!
//! `asset * price` rounds down (the reference `operator*`); `multiply_round_up` rounds
//! up. All products go through u128/i128 and every result is range-checked against
//! `MAX_SHARE_SUPPLY`: overflow is an error, never a wrap or a panic.

use super::ids::AssetId;
use super::json;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// The largest amount of any asset that may exist (10^15 satoshis).
pub const MAX_SHARE_SUPPLY: i64 = 1_000_000_000_000_000;
/// 100% in the fixed-point percent used by fees and market fees.
pub const PERCENT_100: u16 = 10_000;

pub type ShareType = i64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MathError {
    #[error("amount overflow: {context}")]
    Overflow { context: String },
    #[error("price {0} has a zero side")]
    ZeroPrice(String),
    #[error("asset {asset} does not match either side of price {price}")]
    AssetMismatch { asset: AssetId, price: String },
}

#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Asset {
    #[serde(with = "json::int64")]
    pub amount: ShareType,
    pub asset_id: AssetId,
}

impl Asset {
    pub const fn new(amount: ShareType, asset_id: AssetId) -> Self {
        Asset { amount, asset_id }
    }
    pub const fn core(amount: ShareType) -> Self {
        Asset {
            amount,
            asset_id: AssetId::CORE,
        }
    }
    /// Checked addition of two amounts of the same asset.
    pub fn checked_add(self, other: Asset) -> Result<Asset, MathError> {
        debug_assert_eq!(self.asset_id, other.asset_id);
        add_amounts(self.amount, other.amount).map(|a| Asset::new(a, self.asset_id))
    }
}

impl fmt::Debug for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.amount, self.asset_id)
    }
}
impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Checked sum that also stays within the share supply bound.
pub fn add_amounts(a: ShareType, b: ShareType) -> Result<ShareType, MathError> {
    let s = a as i128 + b as i128;
    if s > MAX_SHARE_SUPPLY as i128 || s < -(MAX_SHARE_SUPPLY as i128) {
        return Err(MathError::Overflow {
            context: format!("{a} + {b} exceeds the supply bound"),
        });
    }
    Ok(s as i64)
}

/// `a * p / 10000` rounded down (the reference `cut_fee`); `p = 100%` returns `a`.
pub fn cut_fee(a: ShareType, percent: u16) -> ShareType {
    debug_assert!(a >= 0 && percent <= PERCENT_100);
    if percent == PERCENT_100 {
        return a;
    }
    ((a as u128 * percent as u128) / PERCENT_100 as u128) as i64
}

/// Formats `amount` with `precision` decimals: 1234567 at 5 gives "12.34567".
pub fn format_amount(amount: ShareType, precision: u8) -> String {
    let scale = 10u128.pow(precision as u32);
    let neg = amount < 0;
    let abs = (amount as i128).unsigned_abs();
    let whole = abs / scale;
    let frac = abs % scale;
    let sign = if neg { "-" } else { "" };
    if precision == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac:0width$}", width = precision as usize)
    }
}

/// A price: the ratio `base / quote` of two amounts of different assets.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Price {
    pub base: Asset,
    pub quote: Asset,
}

impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.quote)
    }
}
impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rounding {
    Down,
    Up,
}

impl Price {
    pub const fn new(base: Asset, quote: Asset) -> Self {
        Price { base, quote }
    }
    /// The inverse price, `quote / base`.
    pub const fn invert(self) -> Price {
        Price {
            base: self.quote,
            quote: self.base,
        }
    }
    /// Both sides positive, different assets.
    pub fn validate(&self) -> Result<(), String> {
        if self.base.amount <= 0 || self.quote.amount <= 0 {
            return Err(format!(
                "price {self} must have positive amounts on both sides"
            ));
        }
        if self.base.asset_id == self.quote.asset_id {
            return Err(format!("price {self} must relate two different assets"));
        }
        Ok(())
    }
    pub fn is_null(&self) -> bool {
        self.base.amount == 0 || self.quote.amount == 0
    }

    /// `asset * price`, rounded down.
    pub fn mul_round_down(&self, a: Asset) -> Result<Asset, MathError> {
        self.mul(a, Rounding::Down)
    }
    /// `asset * price`, rounded up (the reference `multiply_and_round_up`).
    pub fn mul_round_up(&self, a: Asset) -> Result<Asset, MathError> {
        self.mul(a, Rounding::Up)
    }

    fn mul(&self, a: Asset, rounding: Rounding) -> Result<Asset, MathError> {
        let (num, den, out) = if a.asset_id == self.base.asset_id {
            (self.quote.amount, self.base.amount, self.quote.asset_id)
        } else if a.asset_id == self.quote.asset_id {
            (self.base.amount, self.quote.amount, self.base.asset_id)
        } else {
            return Err(MathError::AssetMismatch {
                asset: a.asset_id,
                price: self.to_string(),
            });
        };
        if den <= 0 || num < 0 {
            return Err(MathError::ZeroPrice(self.to_string()));
        }
        if a.amount < 0 {
            return Err(MathError::Overflow {
                context: format!("negative amount {a} times {self}"),
            });
        }
        let product = a.amount as u128 * num as u128;
        let den = den as u128;
        let q = match rounding {
            Rounding::Down => product / den,
            Rounding::Up => product.div_ceil(den),
        };
        if q > MAX_SHARE_SUPPLY as u128 {
            return Err(MathError::Overflow {
                context: format!("{a} times {self} exceeds the supply bound"),
            });
        }
        Ok(Asset::new(q as i64, out))
    }

    /// Compares two prices over the same asset pair by cross-multiplication (exact).
    pub fn cmp_same_pair(&self, other: &Price) -> Ordering {
        debug_assert_eq!(self.base.asset_id, other.base.asset_id);
        debug_assert_eq!(self.quote.asset_id, other.quote.asset_id);
        let l = self.base.amount as i128 * other.quote.amount as i128;
        let r = other.base.amount as i128 * self.quote.amount as i128;
        l.cmp(&r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(n: i64, id: u64) -> Asset {
        Asset::new(n, AssetId(id))
    }

    #[test]
    fn rounding() {
        // 1 CORE == 3 of asset 1.3.1, i.e. cer = 3 X / 1 CORE
        let p = Price::new(a(1, 0), a(3, 1));
        assert_eq!(p.mul_round_down(a(10, 1)).unwrap(), a(3, 0));
        assert_eq!(p.mul_round_up(a(10, 1)).unwrap(), a(4, 0));
        assert_eq!(p.mul_round_down(a(10, 0)).unwrap(), a(30, 1));
        assert!(p.mul_round_down(a(10, 2)).is_err());
        assert_eq!(format_amount(1_234_567, 5), "12.34567");
        assert_eq!(format_amount(-5, 2), "-0.05");
        assert_eq!(format_amount(7, 0), "7");
        assert_eq!(cut_fee(999, 2000), 199);
        assert_eq!(cut_fee(999, 10000), 999);
    }

    #[test]
    fn overflow_is_error() {
        let p = Price::new(a(1, 0), a(MAX_SHARE_SUPPLY, 1));
        assert!(p.mul_round_down(a(2, 0)).is_err());
        assert!(add_amounts(MAX_SHARE_SUPPLY, 1).is_err());
        assert!(Price::new(a(0, 0), a(1, 1)).mul_round_down(a(1, 1)).is_ok());
        assert!(Price::new(a(1, 0), a(0, 1))
            .mul_round_down(a(1, 1))
            .is_err());
    }

    proptest! {
        /// The arithmetic never overflows silently: either the exact rational result
        /// (rounded as asked) fits, or an error comes back.
        #[test]
        fn mul_exact_or_error(amount in 0i64..=i64::MAX, b in 1i64..=i64::MAX, q in 1i64..=i64::MAX) {
            let p = Price::new(a(b, 0), a(q, 1));
            let exact_down = (amount as u128 * q as u128) / b as u128;
            let exact_up = (amount as u128 * q as u128).div_ceil(b as u128);
            match p.mul_round_down(a(amount, 0)) {
                Ok(r) => { prop_assert_eq!(r.amount as u128, exact_down); prop_assert!(r.amount <= MAX_SHARE_SUPPLY); }
                Err(_) => prop_assert!(exact_down > MAX_SHARE_SUPPLY as u128),
            }
            match p.mul_round_up(a(amount, 0)) {
                Ok(r) => prop_assert_eq!(r.amount as u128, exact_up),
                Err(_) => prop_assert!(exact_up > MAX_SHARE_SUPPLY as u128),
            }
        }

        #[test]
        fn add_bounded(x in any::<i64>(), y in any::<i64>()) {
            let exact = x as i128 + y as i128;
            match add_amounts(x, y) {
                Ok(s) => prop_assert_eq!(s as i128, exact),
                Err(_) => prop_assert!(exact.abs() > MAX_SHARE_SUPPLY as i128),
            }
        }

        #[test]
        fn cut_fee_bounded(x in 0i64..=MAX_SHARE_SUPPLY, p in 0u16..=10000) {
            let c = cut_fee(x, p);
            prop_assert!(c >= 0 && c <= x);
            prop_assert_eq!(c as i128, (x as i128 * p as i128) / 10000);
        }
    }
}
