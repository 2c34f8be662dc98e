//! Chain parameters: the committee-controlled rules, with the reference defaults
//! (except `block_interval`, which defaults to 1 s here).

use super::asset::PERCENT_100;
use super::extensions::Extensions;
use super::fees::{FeeSchedule, FEE_SCALE_100, P};
use super::json;
use super::operations::Operation;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

pub const MIN_WITNESS_COUNT: u16 = 11;
pub const MIN_COMMITTEE_MEMBER_COUNT: u16 = 11;
pub const TRANSACTION_SIZE_MIN: u32 = 1024;
pub const BLOCK_SIZE_MIN: u32 = 5120;
pub const MAX_UNDO_HISTORY: u32 = 10_000;
/// 70% of the active witnesses must confirm a block for it to become irreversible.
pub const IRREVERSIBLE_THRESHOLD: u32 = 7000;

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChainParameters {
    pub current_fees: FeeSchedule,
    pub block_interval: u8,
    pub maintenance_interval: u32,
    pub maintenance_skip_slots: u8,
    pub committee_proposal_review_period: u32,
    pub maximum_transaction_size: u32,
    pub maximum_block_size: u32,
    pub maximum_time_until_expiration: u32,
    pub maximum_proposal_lifetime: u32,
    pub maximum_asset_whitelist_authorities: u8,
    pub maximum_asset_feed_publishers: u8,
    pub maximum_witness_count: u16,
    pub maximum_committee_count: u16,
    pub maximum_authority_membership: u16,
    pub reserve_percent_of_fee: u16,
    pub network_percent_of_fee: u16,
    pub lifetime_referrer_percent_of_fee: u16,
    pub cashback_vesting_period_seconds: u32,
    #[serde(with = "json::int64")]
    pub cashback_vesting_threshold: i64,
    pub count_non_member_votes: bool,
    pub allow_non_member_whitelists: bool,
    #[serde(with = "json::int64")]
    pub witness_pay_per_block: i64,
    #[serde(with = "json::int64")]
    pub worker_budget_per_day: i64,
    pub max_predicate_opcode: u16,
    #[serde(with = "json::int64")]
    pub fee_liquidation_threshold: i64,
    pub accounts_per_fee_scale: u16,
    pub account_fee_scale_bitshifts: u8,
    pub max_authority_depth: u8,
    pub extensions: Extensions,
}

impl Default for ChainParameters {
    fn default() -> Self {
        ChainParameters {
            current_fees: FeeSchedule {
                parameters: Operation::default_fee_parameters().into_iter().collect(),
                scale: FEE_SCALE_100,
            },
            block_interval: 1,
            maintenance_interval: 86_400,
            maintenance_skip_slots: 3,
            committee_proposal_review_period: 1_209_600,
            maximum_transaction_size: 2048,
            maximum_block_size: 2_000_000,
            maximum_time_until_expiration: 86_400,
            maximum_proposal_lifetime: 2_419_200,
            maximum_asset_whitelist_authorities: 10,
            maximum_asset_feed_publishers: 10,
            maximum_witness_count: 1001,
            maximum_committee_count: 1001,
            maximum_authority_membership: 10,
            reserve_percent_of_fee: 2000,
            network_percent_of_fee: 2000,
            lifetime_referrer_percent_of_fee: 3000,
            cashback_vesting_period_seconds: 31_536_000,
            cashback_vesting_threshold: 100 * P as i64,
            count_non_member_votes: true,
            allow_non_member_whitelists: false,
            witness_pay_per_block: 10 * P as i64,
            worker_budget_per_day: 500_000 * P as i64,
            max_predicate_opcode: 1,
            fee_liquidation_threshold: 100 * P as i64,
            accounts_per_fee_scale: 1000,
            account_fee_scale_bitshifts: 4,
            max_authority_depth: 2,
            extensions: Extensions,
        }
    }
}

impl ChainParameters {
    pub fn validate(&self) -> Result<(), String> {
        self.current_fees.validate()?;
        if !(1..=30).contains(&self.block_interval) {
            return Err(format!(
                "block_interval {} must be 1..=30 seconds",
                self.block_interval
            ));
        }
        if self.maintenance_interval == 0
            || self.maintenance_interval % self.block_interval as u32 != 0
        {
            return Err(
                "maintenance_interval must be a positive multiple of block_interval".into(),
            );
        }
        if self.maximum_transaction_size < TRANSACTION_SIZE_MIN {
            return Err(format!(
                "maximum_transaction_size must be at least {TRANSACTION_SIZE_MIN}"
            ));
        }
        if self.maximum_block_size < BLOCK_SIZE_MIN {
            return Err(format!(
                "maximum_block_size must be at least {BLOCK_SIZE_MIN}"
            ));
        }
        if self.maximum_time_until_expiration == 0 {
            return Err("maximum_time_until_expiration must be positive".into());
        }
        if self.network_percent_of_fee as u32 + self.lifetime_referrer_percent_of_fee as u32
            > PERCENT_100 as u32
        {
            return Err(
                "network_percent_of_fee + lifetime_referrer_percent_of_fee exceed 100%".into(),
            );
        }
        if self.reserve_percent_of_fee > PERCENT_100 {
            return Err("reserve_percent_of_fee exceeds 100%".into());
        }
        if self.maximum_witness_count < MIN_WITNESS_COUNT
            || self.maximum_committee_count < MIN_COMMITTEE_MEMBER_COUNT
        {
            return Err(
                "maximum witness/committee counts are below the immutable minimum of 11".into(),
            );
        }
        if self.committee_proposal_review_period >= self.maximum_proposal_lifetime {
            return Err(
                "committee_proposal_review_period must be shorter than maximum_proposal_lifetime"
                    .into(),
            );
        }
        if self.max_authority_depth == 0 {
            return Err("max_authority_depth must be at least 1".into());
        }
        if self.cashback_vesting_threshold < 0
            || self.witness_pay_per_block < 0
            || self.worker_budget_per_day < 0
        {
            return Err("threshold and budget parameters must not be negative".into());
        }
        Ok(())
    }
}
