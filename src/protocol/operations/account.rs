//! Account operations: create, update, whitelist, upgrade and transfer.

use super::{packed_len, OperationBody, RequiredAuthorities};
use crate::protocol::asset::{Asset, PERCENT_100};
use crate::protocol::authority::Authority;
use crate::protocol::extensions::Extensions;
use crate::protocol::fees::calculate_data_fee;
use crate::protocol::fees::FeeParameters;
use crate::protocol::ids::AccountId;
use crate::protocol::keys::PublicKey;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// The most entries an authority may list (the reference `maximum_authority_membership`
/// chain parameter is checked statefully; this bounds decoding-time work).
pub const AUTHORITY_ENTRIES_MAX: usize = 64;
pub const ACCOUNT_NAME_LENGTH_MAX: usize = 63;

/// A vote target `type:instance`: type 0 committee, 1 witness, 2 worker.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct VoteId(pub u32);

impl VoteId {
    pub const COMMITTEE: u8 = 0;
    pub const WITNESS: u8 = 1;
    pub const WORKER: u8 = 2;
    pub fn new(vote_type: u8, instance: u32) -> Self {
        VoteId((instance << 8) | vote_type as u32)
    }
    pub fn vote_type(self) -> u8 {
        (self.0 & 0xff) as u8
    }
    pub fn instance(self) -> u32 {
        self.0 >> 8
    }
}
impl fmt::Display for VoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.vote_type(), self.instance())
    }
}
impl fmt::Debug for VoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl Serialize for VoteId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for VoteId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let (t, i) = s
            .split_once(':')
            .ok_or_else(|| de::Error::custom("vote id is type:instance"))?;
        let t: u8 = t.parse().map_err(|_| de::Error::custom("bad vote type"))?;
        let i: u32 = i
            .parse()
            .map_err(|_| de::Error::custom("bad vote instance"))?;
        if t > 2 || i >= (1 << 24) {
            return Err(de::Error::custom("vote id out of range"));
        }
        Ok(VoteId::new(t, i))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountOptions {
    pub memo_key: PublicKey,
    /// `proxy-to-self` (1.2.5) to vote directly.
    pub voting_account: AccountId,
    pub num_witness: u16,
    pub num_committee: u16,
    pub votes: BTreeSet<VoteId>,
    pub extensions: Extensions,
}

impl AccountOptions {
    /// Options for a new account: `memo_key`, voting by itself, no votes.
    pub fn new(memo_key: PublicKey) -> AccountOptions {
        AccountOptions {
            memo_key,
            voting_account: AccountId::PROXY_TO_SELF,
            num_witness: 0,
            num_committee: 0,
            votes: Default::default(),
            extensions: Default::default(),
        }
    }
}

impl AccountOptions {
    pub fn with_memo_key(memo_key: PublicKey) -> Self {
        AccountOptions {
            memo_key,
            voting_account: AccountId::PROXY_TO_SELF,
            num_witness: 0,
            num_committee: 0,
            votes: BTreeSet::new(),
            extensions: Extensions,
        }
    }
    pub fn validate(&self) -> Result<(), String> {
        let (mut witnesses, mut committee) = (0usize, 0usize);
        for v in &self.votes {
            match v.vote_type() {
                VoteId::WITNESS => witnesses += 1,
                VoteId::COMMITTEE => committee += 1,
                VoteId::WORKER => {}
                t => return Err(format!("vote {v} has unknown type {t}")),
            }
        }
        if (self.num_witness as usize) < witnesses {
            return Err(format!(
                "num_witness {} is less than the {witnesses} witnesses voted for",
                self.num_witness
            ));
        }
        if (self.num_committee as usize) < committee {
            return Err(format!(
                "num_committee {} is less than the {committee} committee members voted for",
                self.num_committee
            ));
        }
        Ok(())
    }
}

/// Name rules (`is_valid_name`): 1..=63 characters of `.`-separated labels; each label
/// starts with a-z, ends with a-z or 0-9, and holds only a-z, 0-9 and `-`.
pub fn is_valid_name(name: &str) -> bool {
    if name.is_empty() || name.len() > ACCOUNT_NAME_LENGTH_MAX {
        return false;
    }
    name.split('.').all(|label| {
        let b = label.as_bytes();
        let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
            return false;
        };
        first.is_ascii_lowercase()
            && (last.is_ascii_lowercase() || last.is_ascii_digit())
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    })
}

/// Cheap names contain a digit, `.`, `-` or `/`, or no vowel (a e i o u y); every other
/// name pays the premium fee.
pub fn is_cheap_name(name: &str) -> bool {
    let special = name
        .bytes()
        .any(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'/'));
    let vowel = name
        .bytes()
        .any(|c| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y'));
    special || !vowel
}

fn check_authority_shape(auth: &Authority, which: &str) -> Result<(), String> {
    auth.validate(which)?;
    if auth.num_auths() > AUTHORITY_ENTRIES_MAX {
        return Err(format!(
            "{which} authority lists {} entries",
            auth.num_auths()
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountCreateOperation {
    pub fee: Asset,
    pub registrar: AccountId,
    pub referrer: AccountId,
    /// Share of the referral part that goes to the referrer (of 10000).
    pub referrer_percent: u16,
    pub name: String,
    pub owner: Authority,
    pub active: Authority,
    pub options: AccountOptions,
    pub extensions: Extensions,
}

impl OperationBody for AccountCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.registrar
    }
    fn validate(&self) -> Result<(), String> {
        if !is_valid_name(&self.name) {
            return Err(format!("{:?} is not a valid account name", self.name));
        }
        if self.referrer_percent > PERCENT_100 {
            return Err(format!(
                "referrer_percent {} is above 10000",
                self.referrer_percent
            ));
        }
        check_authority_shape(&self.owner, "owner")?;
        check_authority_shape(&self.active, "active")?;
        self.options.validate()
    }
    fn data_size(&self) -> usize {
        packed_len(self)
    }
    fn calculate_fee(&self, params: &FeeParameters) -> u64 {
        match *params {
            FeeParameters::AccountCreate {
                basic_fee,
                premium_fee,
                price_per_kbyte,
            } => {
                let base = if is_cheap_name(&self.name) {
                    basic_fee
                } else {
                    premium_fee
                };
                base.saturating_add(calculate_data_fee(self.data_size(), price_per_kbyte))
            }
            ref other => super::default_fee(other, self.data_size()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountUpdateOperation {
    pub fee: Asset,
    pub account: AccountId,
    pub owner: Option<Authority>,
    pub active: Option<Authority>,
    pub new_options: Option<AccountOptions>,
    pub extensions: Extensions,
}

impl OperationBody for AccountUpdateOperation {
    fn fee_payer(&self) -> AccountId {
        self.account
    }
    fn validate(&self) -> Result<(), String> {
        if self.account == AccountId::TEMP {
            return Err("temp-account cannot be updated".into());
        }
        if self.owner.is_none() && self.active.is_none() && self.new_options.is_none() {
            return Err("nothing to update: give owner, active or new_options".into());
        }
        if let Some(o) = &self.owner {
            check_authority_shape(o, "owner")?;
        }
        if let Some(a) = &self.active {
            check_authority_shape(a, "active")?;
        }
        if let Some(opts) = &self.new_options {
            opts.validate()?;
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        packed_len(self)
    }
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        if self.owner.is_some() {
            auths.owner.push(self.account);
        } else {
            auths.active.push(self.account);
        }
    }
}

/// `new_listing` bits: 1 = white, 2 = black.
pub const LISTING_NONE: u8 = 0;
pub const LISTING_WHITE: u8 = 1;
pub const LISTING_BLACK: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountWhitelistOperation {
    pub fee: Asset,
    pub authorizing_account: AccountId,
    pub account_to_list: AccountId,
    pub new_listing: u8,
    pub extensions: Extensions,
}

impl OperationBody for AccountWhitelistOperation {
    fn fee_payer(&self) -> AccountId {
        self.authorizing_account
    }
    fn validate(&self) -> Result<(), String> {
        if self.new_listing > (LISTING_WHITE | LISTING_BLACK) {
            return Err(format!(
                "new_listing {} has bits other than white (1) and black (2)",
                self.new_listing
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountUpgradeOperation {
    pub fee: Asset,
    pub account_to_upgrade: AccountId,
    pub upgrade_to_lifetime_member: bool,
    pub extensions: Extensions,
}

impl OperationBody for AccountUpgradeOperation {
    fn fee_payer(&self) -> AccountId {
        self.account_to_upgrade
    }
    fn validate(&self) -> Result<(), String> {
        if !self.upgrade_to_lifetime_member {
            return Err(
                "annual membership was retired: only upgrade_to_lifetime_member = true is accepted"
                    .into(),
            );
        }
        Ok(())
    }
    fn calculate_fee(&self, params: &FeeParameters) -> u64 {
        match *params {
            FeeParameters::AccountUpgrade {
                membership_lifetime_fee,
                ..
            } => membership_lifetime_fee,
            ref other => super::default_fee(other, 0),
        }
    }
}

/// Hands a named account to a new owner: owner, active and memo key are replaced in one
/// step. Needs the account's owner authority.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AccountTransferOperation {
    pub fee: Asset,
    pub account_id: AccountId,
    pub new_owner: Authority,
    pub new_active: Authority,
    pub new_memo_key: PublicKey,
    pub extensions: Extensions,
}

impl OperationBody for AccountTransferOperation {
    fn fee_payer(&self) -> AccountId {
        self.account_id
    }
    fn validate(&self) -> Result<(), String> {
        if self.account_id.0 < AccountId::RESERVED_COUNT {
            return Err(format!(
                "reserved account {} cannot be transferred",
                self.account_id
            ));
        }
        check_authority_shape(&self.new_owner, "new owner")?;
        check_authority_shape(&self.new_active, "new active")
    }
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        auths.owner.push(self.account_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "a-0", "aaa.bbb", "init10", "dev", "a.b.c"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "a-",
            "a..b",
            "Alice",
            ".a",
            "a.",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(is_cheap_name("alice1"));
        assert!(is_cheap_name("bob-x"));
        assert!(!is_cheap_name("xyz")); // y is a vowel
        assert!(is_cheap_name("bcdfg"));
        assert!(!is_cheap_name("alice"));
    }

    #[test]
    fn vote_ids() {
        let v = VoteId::new(1, 7);
        assert_eq!(v.to_string(), "1:7");
        assert_eq!(serde_json::from_str::<VoteId>("\"1:7\"").unwrap(), v);
    }
}
