//! Committee member registration and updates, and the committee's parameter changes.

use super::witness::check_url_length;
use super::OperationBody;
use crate::protocol::asset::Asset;
use crate::protocol::chain_params::ChainParameters;
use crate::protocol::ids::{AccountId, CommitteeMemberId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitteeMemberCreateOperation {
    pub fee: Asset,
    /// Must be a lifetime member (checked on apply).
    pub committee_member_account: AccountId,
    /// At most `URL_LENGTH_MAX` bytes.
    pub url: String,
}

impl OperationBody for CommitteeMemberCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.committee_member_account
    }
    fn validate(&self) -> Result<(), String> {
        check_url_length("url", &self.url)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitteeMemberUpdateOperation {
    pub fee: Asset,
    pub committee_member: CommitteeMemberId,
    /// Must own `committee_member` (checked on apply).
    pub committee_member_account: AccountId,
    pub new_url: Option<String>,
}

impl OperationBody for CommitteeMemberUpdateOperation {
    fn fee_payer(&self) -> AccountId {
        self.committee_member_account
    }
    fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.new_url {
            check_url_length("new_url", url)?;
        }
        Ok(())
    }
}

/// New chain parameters, effective at the next maintenance. Paid by (and so needing)
/// the committee account: it only works inside a proposal.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitteeMemberUpdateGlobalParametersOperation {
    pub fee: Asset,
    pub new_parameters: ChainParameters,
}

impl OperationBody for CommitteeMemberUpdateGlobalParametersOperation {
    fn fee_payer(&self) -> AccountId {
        AccountId::COMMITTEE
    }
    fn validate(&self) -> Result<(), String> {
        self.new_parameters
            .validate()
            .map_err(|e| format!("new_parameters: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{RequiredAuthorities, URL_LENGTH_MAX};
    use super::*;

    #[test]
    fn committee_member_create() {
        let op = CommitteeMemberCreateOperation {
            fee: Asset::core(0),
            committee_member_account: AccountId(10),
            url: "https://example.org".into(),
        };
        assert!(op.validate().is_ok());
        let mut long = op;
        long.url = "u".repeat(URL_LENGTH_MAX + 1);
        assert!(long.validate().unwrap_err().contains("url"));
    }

    #[test]
    fn committee_member_update() {
        let op = CommitteeMemberUpdateOperation {
            fee: Asset::core(0),
            committee_member: CommitteeMemberId(1),
            committee_member_account: AccountId(10),
            new_url: Some(String::new()),
        };
        assert!(op.validate().is_ok());
        let mut long = op;
        long.new_url = Some("u".repeat(URL_LENGTH_MAX + 1));
        assert!(long.validate().unwrap_err().contains("new_url"));
    }

    #[test]
    fn update_global_parameters() {
        let op = CommitteeMemberUpdateGlobalParametersOperation {
            fee: Asset::core(0),
            new_parameters: ChainParameters::default(),
        };
        assert!(op.validate().is_ok());
        assert_eq!(op.fee_payer(), AccountId::COMMITTEE);
        let mut auths = RequiredAuthorities::default();
        op.required_authorities(&mut auths);
        assert_eq!(auths.active.as_slice(), &[AccountId::COMMITTEE]);
        let mut bad = op;
        bad.new_parameters.block_interval = 0;
        assert!(bad.validate().unwrap_err().contains("block_interval"));
    }
}
