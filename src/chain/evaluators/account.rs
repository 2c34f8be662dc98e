//! Account evaluators: create, update, upgrade, whitelist and transfer.

use super::OperationResult;
use crate::chain::error::EvalError;
use crate::chain::objects::{AccountObject, AccountStatisticsObject};
use crate::chain::Chain;
use crate::protocol::asset::PERCENT_100;
use crate::protocol::authority::Authority;
use crate::protocol::ids::{AccountId, AccountStatisticsId};
use crate::protocol::operations::{
    AccountCreateOperation, AccountOptions, AccountTransferOperation, AccountUpdateOperation,
    AccountUpgradeOperation, AccountWhitelistOperation, VoteId, LISTING_BLACK, LISTING_WHITE,
};
use crate::protocol::{Operation, TimePointSec};
use std::collections::BTreeSet;

impl Chain {
    /// Every account an authority names exists, and the authority is within the
    /// membership limit.
    fn check_authority_accounts(&self, auth: &Authority, which: &str) -> Result<(), EvalError> {
        let max = self.store.global().parameters.maximum_authority_membership as usize;
        if auth.num_auths() > max {
            return Err(EvalError::Rule(format!(
                "{which} authority lists {} entries, more than the {max} allowed",
                auth.num_auths()
            )));
        }
        for a in auth.account_auths.keys() {
            self.get_account(*a)?;
        }
        Ok(())
    }

    /// The voting proxy exists and every vote names an existing vote target.
    fn check_account_options(&self, opts: &AccountOptions) -> Result<(), EvalError> {
        self.get_account(opts.voting_account)?;
        let params = &self.store.global().parameters;
        if opts.num_witness > params.maximum_witness_count
            || opts.num_committee > params.maximum_committee_count
        {
            return Err(EvalError::Rule(format!(
                "num_witness {} / num_committee {} exceed the maximum counts {} / {}",
                opts.num_witness,
                opts.num_committee,
                params.maximum_witness_count,
                params.maximum_committee_count
            )));
        }
        let next = self.store.global().next_available_vote_id;
        if let Some(v) = opts.votes.iter().find(|v| v.instance() >= next) {
            return Err(EvalError::Rule(format!(
                "vote {v} names no witness, committee member or worker"
            )));
        }
        if let Some(v) = opts.votes.iter().find(|v| v.vote_type() == VoteId::WORKER) {
            return Err(EvalError::Rule(format!(
                "vote {v}: worker votes need workers, which are not built yet"
            )));
        }
        Ok(())
    }

    pub(crate) fn apply_account_create(
        &mut self,
        whole: &Operation,
        op: &AccountCreateOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let now = self.head_block_time();
        let registrar = self.get_account(op.registrar)?;
        if !registrar.is_lifetime_member() {
            return Err(EvalError::NotLifetimeMember {
                account: registrar.name.clone(),
                role: "registrar",
            });
        }
        let referrer = self.get_account(op.referrer)?;
        if !referrer.is_member(now) {
            return Err(EvalError::NotMember {
                account: referrer.name.clone(),
                role: "referrer",
            });
        }
        let lifetime_referrer = referrer.lifetime_referrer;
        self.check_authority_accounts(&op.owner, "owner")?;
        self.check_authority_accounts(&op.active, "active")?;
        self.check_account_options(&op.options)?;
        if self.store.account_by_name.contains_key(&op.name) {
            return Err(EvalError::NameTaken(op.name.clone()));
        }
        self.scale_account_fee();
        let params = &self.store.global().parameters;
        let (network, lifetime) = (
            params.network_percent_of_fee,
            params.lifetime_referrer_percent_of_fee,
        );
        let id = self.create_account(AccountDraft {
            name: op.name.clone(),
            registrar: op.registrar,
            referrer: op.referrer,
            lifetime_referrer,
            membership_expiration_date: TimePointSec(0),
            network_fee_percentage: network,
            lifetime_referrer_fee_percentage: lifetime,
            referrer_rewards_percentage: op.referrer_percent,
            owner: op.owner.clone(),
            active: op.active.clone(),
            options: op.options.clone(),
        });
        Ok(OperationResult::Object(id.object_id()))
    }

    /// Every `accounts_per_fee_scale` registrations within a maintenance interval, the
    /// basic account fee is multiplied by `2^account_fee_scale_bitshifts`.
    fn scale_account_fee(&mut self) {
        let count = self.store.modify_dynamic(|d| {
            d.accounts_registered_this_interval += 1;
            d.accounts_registered_this_interval
        });
        let params = &self.store.global().parameters;
        let per_scale = params.accounts_per_fee_scale as u32;
        if per_scale == 0 || count % per_scale != 0 {
            return;
        }
        let shift = params.account_fee_scale_bitshifts as u32;
        self.store.modify_global(|g| {
            if let Some(crate::protocol::fees::FeeParameters::AccountCreate { basic_fee, .. }) =
                g.parameters.current_fees.parameters.get_mut(&5)
            {
                let scaled = (*basic_fee as u128) << shift.min(64);
                *basic_fee = scaled.min(crate::protocol::asset::MAX_SHARE_SUPPLY as u128) as u64;
            }
        });
    }

    /// Creates an account with its statistics and an empty balance index. Used by the
    /// evaluator and by genesis.
    pub(crate) fn create_account(&mut self, d: AccountDraft) -> AccountId {
        let id = AccountId(self.store.accounts.next_instance());
        let stats = AccountStatisticsId(self.store.account_stats.create(AccountStatisticsObject {
            owner: id,
            ..Default::default()
        }));
        let owner_compiled = self.compile_authority(&d.owner);
        let active_compiled = self.compile_authority(&d.active);
        let created = self.store.accounts.create(AccountObject {
            id,
            name: d.name.clone(),
            registrar: d.registrar,
            referrer: d.referrer,
            lifetime_referrer: d.lifetime_referrer,
            membership_expiration_date: d.membership_expiration_date,
            network_fee_percentage: d.network_fee_percentage,
            lifetime_referrer_fee_percentage: d.lifetime_referrer_fee_percentage,
            referrer_rewards_percentage: d.referrer_rewards_percentage,
            owner: d.owner,
            active: d.active,
            options: d.options,
            statistics: stats,
            whitelisting_accounts: BTreeSet::new(),
            blacklisting_accounts: BTreeSet::new(),
            whitelisted_accounts: BTreeSet::new(),
            blacklisted_accounts: BTreeSet::new(),
            cashback_vb: None,
            owner_compiled,
            active_compiled,
        });
        assert_eq!(created, id.0, "account ids are dense");
        let idx = self.store.balance_index.create(Default::default());
        assert_eq!(idx, id.0, "the balance index has one row per account");
        self.store.account_by_name.insert(d.name, id);
        id
    }

    pub(crate) fn apply_account_update(
        &mut self,
        whole: &Operation,
        op: &AccountUpdateOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        self.get_account(op.account)?;
        if let Some(o) = &op.owner {
            self.check_authority_accounts(o, "owner")?;
        }
        if let Some(a) = &op.active {
            self.check_authority_accounts(a, "active")?;
        }
        if let Some(opts) = &op.new_options {
            self.check_account_options(opts)?;
        }
        let owner = op
            .owner
            .as_ref()
            .map(|o| (o.clone(), self.compile_authority(o)));
        let active = op
            .active
            .as_ref()
            .map(|a| (a.clone(), self.compile_authority(a)));
        let options = op.new_options.clone();
        self.store.accounts.modify(op.account.0, |acct| {
            if let Some((auth, compiled)) = owner {
                acct.owner = auth;
                acct.owner_compiled = compiled;
            }
            if let Some((auth, compiled)) = active {
                acct.active = auth;
                acct.active_compiled = compiled;
            }
            if let Some(opts) = options {
                acct.options = opts;
            }
        });
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_account_upgrade(
        &mut self,
        whole: &Operation,
        op: &AccountUpgradeOperation,
    ) -> Result<OperationResult, EvalError> {
        let acct = self.get_account(op.account_to_upgrade)?;
        if acct.is_lifetime_member() {
            return Err(EvalError::Rule(format!(
                "{} is already a lifetime member",
                acct.name
            )));
        }
        self.pay_fee(whole)?;
        // The fees this account paid so far stay pending; they are split at maintenance
        // with the percentages in force then.
        let id = op.account_to_upgrade;
        self.store.accounts.modify(id.0, |a| {
            a.membership_expiration_date = TimePointSec::MAX;
            a.referrer = id;
            a.registrar = id;
            a.lifetime_referrer = id;
            a.lifetime_referrer_fee_percentage = PERCENT_100 - a.network_fee_percentage;
        });
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_account_whitelist(
        &mut self,
        whole: &Operation,
        op: &AccountWhitelistOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        let auth = self.get_account(op.authorizing_account)?;
        let allow = self.store.global().parameters.allow_non_member_whitelists;
        if !allow && !auth.is_lifetime_member() {
            return Err(EvalError::NotLifetimeMember {
                account: auth.name.clone(),
                role: "whitelisting authority",
            });
        }
        self.get_account(op.account_to_list)?;
        let (by, listed) = (op.authorizing_account, op.account_to_list);
        let white = op.new_listing & LISTING_WHITE != 0;
        let black = op.new_listing & LISTING_BLACK != 0;
        self.store.accounts.modify(listed.0, |a| {
            set_membership(&mut a.whitelisting_accounts, by, white);
            set_membership(&mut a.blacklisting_accounts, by, black);
        });
        self.store.accounts.modify(by.0, |a| {
            set_membership(&mut a.whitelisted_accounts, listed, white);
            set_membership(&mut a.blacklisted_accounts, listed, black);
        });
        Ok(OperationResult::Void)
    }

    pub(crate) fn apply_account_transfer(
        &mut self,
        whole: &Operation,
        op: &AccountTransferOperation,
    ) -> Result<OperationResult, EvalError> {
        self.pay_fee(whole)?;
        self.get_account(op.account_id)?;
        self.check_authority_accounts(&op.new_owner, "new owner")?;
        self.check_authority_accounts(&op.new_active, "new active")?;
        let owner_compiled = self.compile_authority(&op.new_owner);
        let active_compiled = self.compile_authority(&op.new_active);
        let (owner, active, memo) = (op.new_owner.clone(), op.new_active.clone(), op.new_memo_key);
        self.store.accounts.modify(op.account_id.0, |a| {
            a.owner = owner;
            a.owner_compiled = owner_compiled;
            a.active = active;
            a.active_compiled = active_compiled;
            a.options.memo_key = memo;
        });
        Ok(OperationResult::Void)
    }
}

fn set_membership(set: &mut BTreeSet<AccountId>, who: AccountId, member: bool) {
    if member {
        set.insert(who);
    } else {
        set.remove(&who);
    }
}

/// The fields of a new account.
pub(crate) struct AccountDraft {
    pub name: String,
    pub registrar: AccountId,
    pub referrer: AccountId,
    pub lifetime_referrer: AccountId,
    pub membership_expiration_date: TimePointSec,
    pub network_fee_percentage: u16,
    pub lifetime_referrer_fee_percentage: u16,
    pub referrer_rewards_percentage: u16,
    pub owner: Authority,
    pub active: Authority,
    pub options: AccountOptions,
}
