//! Witness (block producer) registration and updates.

use super::OperationBody;
use crate::protocol::asset::Asset;
use crate::protocol::ids::{AccountId, WitnessId};
use crate::protocol::keys::PublicKey;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The longest URL a witness, committee member or worker may give, in bytes (the
/// reference requires `size() < GRAPHENE_MAX_URL_LENGTH` = 127).
pub const URL_LENGTH_MAX: usize = 126;

pub(super) fn check_url_length(what: &str, url: &str) -> Result<(), String> {
    if url.len() > URL_LENGTH_MAX {
        return Err(format!(
            "{what} is {} bytes, more than the {URL_LENGTH_MAX} allowed",
            url.len()
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WitnessCreateOperation {
    pub fee: Asset,
    /// Must be a lifetime member (checked on apply).
    pub witness_account: AccountId,
    pub url: String,
    pub block_signing_key: PublicKey,
}

impl OperationBody for WitnessCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.witness_account
    }
    fn validate(&self) -> Result<(), String> {
        check_url_length("url", &self.url)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WitnessUpdateOperation {
    pub fee: Asset,
    pub witness: WitnessId,
    /// Must own `witness` (checked on apply).
    pub witness_account: AccountId,
    pub new_url: Option<String>,
    pub new_signing_key: Option<PublicKey>,
}

impl OperationBody for WitnessUpdateOperation {
    fn fee_payer(&self) -> AccountId {
        self.witness_account
    }
    fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.new_url {
            check_url_length("new_url", url)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn witness_create() {
        let op = WitnessCreateOperation {
            fee: Asset::core(0),
            witness_account: AccountId(10),
            url: "https://example.org".into(),
            block_signing_key: PublicKey([7; 32]),
        };
        assert!(op.validate().is_ok());
        let mut edge = op.clone();
        edge.url = "u".repeat(URL_LENGTH_MAX);
        assert!(edge.validate().is_ok());
        let mut long = op;
        long.url = "u".repeat(URL_LENGTH_MAX + 1);
        assert!(long.validate().unwrap_err().contains("more than"));
        let json = serde_json::to_string(&edge).unwrap();
        assert_eq!(
            serde_json::from_str::<WitnessCreateOperation>(&json).unwrap(),
            edge
        );
    }

    #[test]
    fn witness_update() {
        let op = WitnessUpdateOperation {
            fee: Asset::core(0),
            witness: WitnessId(1),
            witness_account: AccountId(10),
            new_url: None,
            new_signing_key: Some(PublicKey([8; 32])),
        };
        assert!(op.validate().is_ok());
        assert_eq!(op.fee_payer(), AccountId(10));
        let mut long = op;
        long.new_url = Some("u".repeat(127));
        assert!(long.validate().unwrap_err().contains("new_url"));
    }
}
