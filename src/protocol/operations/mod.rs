//! Every protocol operation, with its stable wire tag, default fee parameters and
//! stateless `validate()`.
//!
//! Tags follow the reference `operation` variant order. Tags 39–41 (blind transfers) and
//! 44 (fba_distribute) are reserved: they decode to an error naming them. The binary form
//! of an operation is its tag as one byte followed by the borsh body; the JSON form is
//! `[tag, {fields...}]` with `fee` first.

mod account;
mod asset;
mod balance;
mod committee;
mod custom;
mod impacted;
mod market;
mod proposal;
mod smartcoin;
mod transfer;
mod vesting;
mod withdraw;
mod witness;
mod worker;

pub use account::*;
pub use asset::*;
pub use balance::*;
pub use committee::*;
pub use custom::*;
pub use impacted::impacted_accounts;
pub use market::*;
pub use proposal::*;
pub use smartcoin::*;
pub use transfer::*;
pub use vesting::*;
pub use withdraw::*;
pub use witness::*;
pub use worker::*;

use super::asset::Asset;
use super::fees::{calculate_data_fee, FeeParameters, P};
use super::ids::AccountId;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::Cell;
use std::fmt;
use std::io::{Read, Write};

/// A stateless check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {op}: {reason}")]
pub struct ValidationError {
    pub op: &'static str,
    pub reason: String,
}

/// Account lists that stay inline for the common few-account case.
pub type AccountList = smallvec::SmallVec<[AccountId; 4]>;

/// The accounts whose authority an operation needs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequiredAuthorities {
    pub active: AccountList,
    pub owner: AccountList,
}

/// Behaviour every operation body provides.
pub trait OperationBody {
    fn fee_payer(&self) -> AccountId;
    /// Stateless checks: ranges, sizes, sorting, self-references.
    fn validate(&self) -> Result<(), String>;
    /// Bytes charged by `price_per_kbyte` (memo, payload or the whole op).
    fn data_size(&self) -> usize {
        0
    }
    /// The unscaled fee in core satoshis.
    fn calculate_fee(&self, params: &FeeParameters) -> u64 {
        default_fee(params, self.data_size())
    }
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        auths.active.push(self.fee_payer());
    }
}

/// Flat fee plus the data fee; the basic component for other parameter kinds.
pub fn default_fee(params: &FeeParameters, data_size: usize) -> u64 {
    match *params {
        FeeParameters::Flat { fee } => fee,
        FeeParameters::WithData {
            fee,
            price_per_kbyte,
        } => fee.saturating_add(calculate_data_fee(data_size, price_per_kbyte)),
        FeeParameters::AccountCreate {
            basic_fee,
            price_per_kbyte,
            ..
        } => basic_fee.saturating_add(calculate_data_fee(data_size, price_per_kbyte)),
        FeeParameters::AccountUpgrade {
            membership_lifetime_fee,
            ..
        } => membership_lifetime_fee,
        FeeParameters::AssetCreate {
            long_symbol,
            price_per_kbyte,
            ..
        } => long_symbol.saturating_add(calculate_data_fee(data_size, price_per_kbyte)),
    }
}

/// Shared check: the fee may be zero but never negative.
pub(crate) fn check_fee(fee: &Asset) -> Result<(), String> {
    if fee.amount < 0 {
        return Err(format!("fee {} is negative", fee.amount));
    }
    Ok(())
}

pub(crate) fn virtual_op(name: &str) -> Result<(), String> {
    Err(format!(
        "{name} is a virtual operation: the chain emits it, nobody may submit it"
    ))
}

pub(crate) fn packed_len<T: BorshSerialize>(v: &T) -> usize {
    borsh::object_length(v).unwrap_or(usize::MAX)
}

/// Tags that exist in the reference protocol but that Carbyne keeps reserved.
pub const RESERVED_TAGS: [(u8, &str); 4] = [
    (39, "transfer_to_blind"),
    (40, "blind_transfer"),
    (41, "transfer_from_blind"),
    (44, "fba_distribute"),
];

/// Proposals may nest; decoding bounds the depth so that hostile input cannot exhaust
/// the stack.
pub const OPERATION_NESTING_MAX: u32 = 4;

thread_local! {
    static DECODE_DEPTH: Cell<u32> = const { Cell::new(0) };
}

struct DepthGuard;
impl DepthGuard {
    fn enter() -> Result<DepthGuard, String> {
        DECODE_DEPTH.with(|d| {
            if d.get() >= OPERATION_NESTING_MAX {
                return Err(format!(
                    "operations nested deeper than {OPERATION_NESTING_MAX}"
                ));
            }
            d.set(d.get() + 1);
            Ok(DepthGuard)
        })
    }
}
impl Drop for DepthGuard {
    fn drop(&mut self) {
        DECODE_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

macro_rules! operations {
    ($( $tag:literal => $variant:ident($ty:ty), $name:literal, $fee:expr; )*) => {
        /// A protocol operation. The variant order is irrelevant; the tag is explicit.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Operation {
            $( $variant($ty), )*
        }

        impl Operation {
            pub fn tag(&self) -> u8 {
                match self { $( Operation::$variant(_) => $tag, )* }
            }
            pub fn name(&self) -> &'static str {
                match self { $( Operation::$variant(_) => $name, )* }
            }
            /// The fee the operation offers to pay.
            pub fn fee(&self) -> Asset {
                match self { $( Operation::$variant(o) => o.fee, )* }
            }
            /// Sets the fee offered (wallets fill it in from `get_required_fees`).
            pub fn set_fee(&mut self, fee: Asset) {
                match self { $( Operation::$variant(o) => o.fee = fee, )* }
            }
            pub fn fee_payer(&self) -> AccountId {
                match self { $( Operation::$variant(o) => o.fee_payer(), )* }
            }
            pub fn validate(&self) -> Result<(), ValidationError> {
                let r = match self {
                    $( Operation::$variant(o) => check_fee(&o.fee).and_then(|_| o.validate()), )*
                };
                r.map_err(|reason| ValidationError { op: self.name(), reason })
            }
            pub fn calculate_fee(&self, params: &FeeParameters) -> u64 {
                match self { $( Operation::$variant(o) => o.calculate_fee(params), )* }
            }
            pub fn required_authorities(&self, auths: &mut RequiredAuthorities) {
                match self { $( Operation::$variant(o) => o.required_authorities(auths), )* }
            }
            /// The name for a tag, including the reserved ones.
            pub fn name_of_tag(tag: u8) -> Option<&'static str> {
                match tag {
                    $( $tag => Some($name), )*
                    _ => RESERVED_TAGS.iter().find(|(t, _)| *t == tag).map(|(_, n)| *n),
                }
            }
            /// Every implemented tag with its default fee parameters.
            pub fn default_fee_parameters() -> Vec<(u8, FeeParameters)> {
                vec![ $( ($tag, $fee), )* ]
            }
        }

        impl BorshSerialize for Operation {
            fn serialize<W: Write>(&self, w: &mut W) -> std::io::Result<()> {
                w.write_all(&[self.tag()])?;
                match self { $( Operation::$variant(o) => BorshSerialize::serialize(o, w), )* }
            }
        }

        impl BorshDeserialize for Operation {
            fn deserialize_reader<R: Read>(r: &mut R) -> std::io::Result<Self> {
                let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
                let _guard = DepthGuard::enter().map_err(bad)?;
                let tag = u8::deserialize_reader(r)?;
                match tag {
                    $( $tag => Ok(Operation::$variant(<$ty>::deserialize_reader(r)?)), )*
                    _ => Err(bad(unknown_tag_message(tag))),
                }
            }
        }

        impl Serialize for Operation {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut t = s.serialize_tuple(2)?;
                t.serialize_element(&self.tag())?;
                match self { $( Operation::$variant(o) => t.serialize_element(o)?, )* }
                t.end()
            }
        }

        impl<'de> Deserialize<'de> for Operation {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Operation;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("an operation [tag, {fields}]")
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Operation, A::Error> {
                        let _guard = DepthGuard::enter().map_err(de::Error::custom)?;
                        let tag: u8 = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                        let op = match tag {
                            $( $tag => Operation::$variant(seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?), )*
                            _ => return Err(de::Error::custom(unknown_tag_message(tag))),
                        };
                        if seq.next_element::<de::IgnoredAny>()?.is_some() {
                            return Err(de::Error::invalid_length(3, &self));
                        }
                        Ok(op)
                    }
                }
                d.deserialize_tuple(2, V)
            }
        }
    };
}

fn unknown_tag_message(tag: u8) -> String {
    match RESERVED_TAGS.iter().find(|(t, _)| *t == tag) {
        Some((_, name)) => {
            format!("operation tag {tag} ({name}) is reserved and not supported by Carbyne")
        }
        None => format!("unknown operation tag {tag}"),
    }
}

const fn flat(fee: u64) -> FeeParameters {
    FeeParameters::Flat { fee }
}
const fn data(fee: u64, price_per_kbyte: u32) -> FeeParameters {
    FeeParameters::WithData {
        fee,
        price_per_kbyte,
    }
}
const PK: u32 = P as u32;

operations! {
    0 => Transfer(TransferOperation), "transfer", data(20 * P, 10 * PK);
    1 => LimitOrderCreate(LimitOrderCreateOperation), "limit_order_create", flat(5 * P);
    2 => LimitOrderCancel(LimitOrderCancelOperation), "limit_order_cancel", flat(0);
    3 => CallOrderUpdate(CallOrderUpdateOperation), "call_order_update", flat(20 * P);
    4 => FillOrder(FillOrderOperation), "fill_order", flat(0);
    5 => AccountCreate(AccountCreateOperation), "account_create",
        FeeParameters::AccountCreate { basic_fee: 5 * P, premium_fee: 2000 * P, price_per_kbyte: PK };
    6 => AccountUpdate(AccountUpdateOperation), "account_update", data(20 * P, PK);
    7 => AccountWhitelist(AccountWhitelistOperation), "account_whitelist", flat(300_000);
    8 => AccountUpgrade(AccountUpgradeOperation), "account_upgrade",
        FeeParameters::AccountUpgrade { membership_annual_fee: 2000 * P, membership_lifetime_fee: 10_000 * P };
    9 => AccountTransfer(AccountTransferOperation), "account_transfer", flat(500 * P);
    10 => AssetCreate(AssetCreateOperation), "asset_create",
        FeeParameters::AssetCreate { symbol3: 500_000 * P, symbol4: 300_000 * P, long_symbol: 5000 * P, price_per_kbyte: 10 };
    11 => AssetUpdate(AssetUpdateOperation), "asset_update", data(500 * P, 10);
    12 => AssetUpdateBitasset(AssetUpdateBitassetOperation), "asset_update_bitasset", flat(500 * P);
    13 => AssetUpdateFeedProducers(AssetUpdateFeedProducersOperation), "asset_update_feed_producers", flat(500 * P);
    14 => AssetIssue(AssetIssueOperation), "asset_issue", data(20 * P, PK);
    15 => AssetReserve(AssetReserveOperation), "asset_reserve", flat(20 * P);
    16 => AssetFundFeePool(AssetFundFeePoolOperation), "asset_fund_fee_pool", flat(P);
    17 => AssetSettle(AssetSettleOperation), "asset_settle", flat(100 * P);
    18 => AssetGlobalSettle(AssetGlobalSettleOperation), "asset_global_settle", flat(500 * P);
    19 => AssetPublishFeed(AssetPublishFeedOperation), "asset_publish_feed", flat(P);
    20 => WitnessCreate(WitnessCreateOperation), "witness_create", flat(5000 * P);
    21 => WitnessUpdate(WitnessUpdateOperation), "witness_update", flat(20 * P);
    22 => ProposalCreate(ProposalCreateOperation), "proposal_create", data(20 * P, 10);
    23 => ProposalUpdate(ProposalUpdateOperation), "proposal_update", data(20 * P, 10);
    24 => ProposalDelete(ProposalDeleteOperation), "proposal_delete", flat(P);
    25 => WithdrawPermissionCreate(WithdrawPermissionCreateOperation), "withdraw_permission_create", flat(P);
    26 => WithdrawPermissionUpdate(WithdrawPermissionUpdateOperation), "withdraw_permission_update", flat(P);
    27 => WithdrawPermissionClaim(WithdrawPermissionClaimOperation), "withdraw_permission_claim", data(20 * P, 10);
    28 => WithdrawPermissionDelete(WithdrawPermissionDeleteOperation), "withdraw_permission_delete", flat(0);
    29 => CommitteeMemberCreate(CommitteeMemberCreateOperation), "committee_member_create", flat(5000 * P);
    30 => CommitteeMemberUpdate(CommitteeMemberUpdateOperation), "committee_member_update", flat(20 * P);
    31 => CommitteeMemberUpdateGlobalParameters(CommitteeMemberUpdateGlobalParametersOperation),
        "committee_member_update_global_parameters", flat(P);
    32 => VestingBalanceCreate(VestingBalanceCreateOperation), "vesting_balance_create", flat(P);
    33 => VestingBalanceWithdraw(VestingBalanceWithdrawOperation), "vesting_balance_withdraw", flat(20 * P);
    34 => WorkerCreate(WorkerCreateOperation), "worker_create", flat(5000 * P);
    35 => Custom(CustomOperation), "custom", data(P, 10);
    36 => Assert(AssertOperation), "assert", flat(P);
    37 => BalanceClaim(BalanceClaimOperation), "balance_claim", flat(0);
    38 => OverrideTransfer(OverrideTransferOperation), "override_transfer", data(20 * P, 10 * PK);
    42 => AssetSettleCancel(AssetSettleCancelOperation), "asset_settle_cancel", flat(0);
    43 => AssetClaimFees(AssetClaimFeesOperation), "asset_claim_fees", flat(20 * P);
    45 => BidCollateral(BidCollateralOperation), "bid_collateral", flat(20 * P);
    46 => ExecuteBid(ExecuteBidOperation), "execute_bid", flat(0);
    47 => AssetClaimPool(AssetClaimPoolOperation), "asset_claim_pool", flat(20 * P);
    48 => AssetUpdateIssuer(AssetUpdateIssuerOperation), "asset_update_issuer", flat(20 * P);
}
