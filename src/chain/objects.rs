//! The chain's state objects (the rows of the store's tables).
//!
//! Every object derives borsh so that the state digest and snapshots are computed over
//! one canonical encoding.

use crate::protocol::asset::ShareType;
use crate::protocol::authority::Authority;
use crate::protocol::chain_params::ChainParameters;
use crate::protocol::ids::*;
use crate::protocol::operations::{AccountOptions, AssetOptions, BitassetOptions};
use crate::protocol::transaction::ChainId;
use crate::protocol::{BlockId, PublicKey, TimePointSec};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;
use std::collections::BTreeSet;

/// A compact id for a public key that appears in some authority. The verify stage maps
/// signing keys to key ids; the BLP checks authorities by key id alone.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
)]
pub struct KeyId(pub u32);

/// An authority with its keys replaced by key ids, for the hot path.
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct CompiledAuthority {
    pub threshold: u32,
    /// Sorted by key id.
    pub keys: Vec<(KeyId, u16)>,
    /// Sorted by account id.
    pub accounts: Vec<(AccountId, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct AccountObject {
    pub id: AccountId,
    pub name: String,
    pub registrar: AccountId,
    pub referrer: AccountId,
    pub lifetime_referrer: AccountId,
    /// `TimePointSec::MAX` for lifetime members; in the past for basic accounts.
    pub membership_expiration_date: TimePointSec,
    pub network_fee_percentage: u16,
    pub lifetime_referrer_fee_percentage: u16,
    pub referrer_rewards_percentage: u16,
    pub owner: Authority,
    pub active: Authority,
    pub options: AccountOptions,
    pub statistics: AccountStatisticsId,
    /// Accounts that whitelist / blacklist this one.
    pub whitelisting_accounts: BTreeSet<AccountId>,
    pub blacklisting_accounts: BTreeSet<AccountId>,
    /// Accounts this one whitelists / blacklists.
    pub whitelisted_accounts: BTreeSet<AccountId>,
    pub blacklisted_accounts: BTreeSet<AccountId>,
    pub cashback_vb: Option<VestingBalanceId>,
    #[serde(skip)]
    pub owner_compiled: CompiledAuthority,
    #[serde(skip)]
    pub active_compiled: CompiledAuthority,
}

impl AccountObject {
    pub fn is_lifetime_member(&self) -> bool {
        self.membership_expiration_date == TimePointSec::MAX
    }
    pub fn is_basic_account(&self, now: TimePointSec) -> bool {
        now > self.membership_expiration_date
    }
    pub fn is_member(&self, now: TimePointSec) -> bool {
        !self.is_basic_account(now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize)]
pub struct AccountStatisticsObject {
    pub owner: AccountId,
    #[serde(with = "crate::protocol::json::int64")]
    pub total_core_in_orders: ShareType,
    #[serde(with = "crate::protocol::json::int64")]
    pub lifetime_fees_paid: ShareType,
    /// Fees above the cashback vesting threshold: they vest when split.
    #[serde(with = "crate::protocol::json::int64")]
    pub pending_fees: ShareType,
    /// Fees at or below the threshold: paid out already vested when split.
    #[serde(with = "crate::protocol::json::int64")]
    pub pending_vested_fees: ShareType,
    #[serde(with = "crate::protocol::json::int64")]
    pub total_ops: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct AccountBalanceObject {
    pub owner: AccountId,
    pub asset_type: AssetId,
    #[serde(with = "crate::protocol::json::int64")]
    pub balance: ShareType,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct AssetObject {
    pub id: AssetId,
    pub symbol: String,
    pub precision: u8,
    pub issuer: AccountId,
    pub options: AssetOptions,
    pub dynamic_asset_data_id: AssetDynamicDataId,
    pub bitasset_data_id: Option<BitassetDataId>,
}

impl AssetObject {
    pub fn is_market_issued(&self) -> bool {
        self.bitasset_data_id.is_some()
    }
    pub fn has_flag(&self, flag: u16) -> bool {
        self.options.flags & flag != 0
    }
    pub fn can_override(&self) -> bool {
        self.has_flag(crate::protocol::operations::flags::OVERRIDE_AUTHORITY)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize)]
pub struct AssetDynamicDataObject {
    #[serde(with = "crate::protocol::json::int64")]
    pub current_supply: ShareType,
    #[serde(with = "crate::protocol::json::int64")]
    pub confidential_supply: ShareType,
    /// Fees paid in this asset, claimable by the issuer.
    #[serde(with = "crate::protocol::json::int64")]
    pub accumulated_fees: ShareType,
    /// Core set aside to pay fees on behalf of holders of this asset.
    #[serde(with = "crate::protocol::json::int64")]
    pub fee_pool: ShareType,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct BitassetDataObject {
    pub asset_id: AssetId,
    pub options: BitassetOptions,
    pub is_prediction_market: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct WitnessObject {
    pub id: WitnessId,
    pub witness_account: AccountId,
    pub signing_key: PublicKey,
    #[serde(with = "crate::protocol::json::int64")]
    pub last_aslot: u64,
    pub last_confirmed_block_num: u32,
    #[serde(with = "crate::protocol::json::int64")]
    pub total_missed: u64,
    #[serde(with = "crate::protocol::json::int64")]
    pub total_votes: u64,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct CommitteeMemberObject {
    pub id: CommitteeMemberId,
    pub committee_member_account: AccountId,
    #[serde(with = "crate::protocol::json::int64")]
    pub total_votes: u64,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct GlobalPropertyObject {
    pub parameters: ChainParameters,
    pub pending_parameters: Option<ChainParameters>,
    pub next_available_vote_id: u32,
    pub active_committee_members: Vec<CommitteeMemberId>,
    pub active_witnesses: Vec<WitnessId>,
}

/// Dynamic flag: the last block ran maintenance, so the next slot skips
/// `maintenance_skip_slots`.
pub const MAINTENANCE_FLAG: u32 = 0x01;

#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize)]
pub struct DynamicGlobalPropertyObject {
    pub head_block_number: u32,
    pub head_block_id: BlockId,
    pub time: TimePointSec,
    pub current_witness: WitnessId,
    pub next_maintenance_time: TimePointSec,
    pub last_budget_time: TimePointSec,
    #[serde(with = "crate::protocol::json::int64")]
    pub witness_budget: ShareType,
    pub accounts_registered_this_interval: u32,
    /// Absolute slot number of the head block since genesis.
    #[serde(with = "crate::protocol::json::int64")]
    pub current_aslot: u64,
    /// One bit per recent slot: 1 = a block was produced.
    #[serde(serialize_with = "ser_u128")]
    pub recent_slots_filled: u128,
    pub dynamic_flags: u32,
    pub last_irreversible_block_num: u32,
}

fn ser_u128<S: serde::Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct ImmutableChainParameters {
    pub min_committee_member_count: u16,
    pub min_witness_count: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct ChainPropertyObject {
    pub chain_id: ChainId,
    pub immutable_parameters: ImmutableChainParameters,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize)]
pub struct WitnessScheduleObject {
    pub current_shuffled_witnesses: Vec<WitnessId>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize,
)]
pub struct BlockSummaryObject {
    pub block_id: BlockId,
}
