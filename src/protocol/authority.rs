//! Authorities: a weighted threshold over keys and other accounts.

use super::ids::AccountId;
use super::json;
use super::keys::PublicKey;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Authority {
    pub weight_threshold: u32,
    #[serde(with = "json::pairs")]
    pub account_auths: BTreeMap<AccountId, u16>,
    #[serde(with = "json::pairs")]
    pub key_auths: BTreeMap<PublicKey, u16>,
}

impl Authority {
    /// A 1-of-1 key authority.
    pub fn single_key(key: PublicKey) -> Self {
        let mut key_auths = BTreeMap::new();
        key_auths.insert(key, 1);
        Authority {
            weight_threshold: 1,
            account_auths: BTreeMap::new(),
            key_auths,
        }
    }
    /// A 1-of-1 account authority.
    pub fn single_account(account: AccountId) -> Self {
        let mut account_auths = BTreeMap::new();
        account_auths.insert(account, 1);
        Authority {
            weight_threshold: 1,
            account_auths,
            key_auths: BTreeMap::new(),
        }
    }
    /// `{1, null-account: 1}`: nobody can satisfy it.
    pub fn null() -> Self {
        Authority::single_account(AccountId::NULL)
    }
    pub fn num_auths(&self) -> usize {
        self.account_auths.len() + self.key_auths.len()
    }
    pub fn total_weight(&self) -> u64 {
        self.account_auths
            .values()
            .chain(self.key_auths.values())
            .map(|&w| w as u64)
            .sum()
    }
    /// The weights can never reach the threshold (or the threshold is zero, which would
    /// let anybody act: only `temp-account` may have that, and it is made at genesis).
    pub fn is_impossible(&self) -> bool {
        self.total_weight() < self.weight_threshold as u64
    }
    /// Stateless checks shared by `account_create` and `account_update`.
    pub fn validate(&self, which: &str) -> Result<(), String> {
        if self.weight_threshold == 0 {
            return Err(format!("{which} authority has a zero threshold"));
        }
        if self.is_impossible() {
            return Err(format!(
                "{which} authority is impossible: weights sum to {} below threshold {}",
                self.total_weight(),
                self.weight_threshold
            ));
        }
        if self
            .account_auths
            .values()
            .chain(self.key_auths.values())
            .any(|&w| w == 0)
        {
            return Err(format!("{which} authority has an entry with weight 0"));
        }
        Ok(())
    }
}
