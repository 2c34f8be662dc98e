//! Claims of genesis balances (1.15.x), which are owned by a key, not an account.

use super::OperationBody;
use crate::protocol::asset::{Asset, MAX_SHARE_SUPPLY};
use crate::protocol::fees::FeeParameters;
use crate::protocol::ids::{AccountId, BalanceId};
use crate::protocol::keys::PublicKey;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Moves a balance object's funds into `deposit_to_account`. Free: the fee must be zero
/// (the claimant may have nothing else to pay with). Besides the depositing account's
/// active authority, the transaction must be signed by `balance_owner_key` (see
/// `required_key`), which must own the balance (checked on apply).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BalanceClaimOperation {
    pub fee: Asset,
    pub deposit_to_account: AccountId,
    pub balance_to_claim: BalanceId,
    pub balance_owner_key: PublicKey,
    /// For a vesting balance at most what is available; otherwise the whole balance.
    pub total_claimed: Asset,
}

impl BalanceClaimOperation {
    /// The key that must sign (the reference `get_required_authorities`: a 1-of-1
    /// authority of `balance_owner_key`).
    pub fn required_key(&self) -> PublicKey {
        self.balance_owner_key
    }
}

impl OperationBody for BalanceClaimOperation {
    fn fee_payer(&self) -> AccountId {
        self.deposit_to_account
    }
    fn validate(&self) -> Result<(), String> {
        if self.fee != Asset::default() {
            return Err(format!(
                "fee must be 0 of {}, not {}: balance claims are free",
                Asset::default().asset_id,
                self.fee
            ));
        }
        if self.balance_owner_key == PublicKey::NULL {
            return Err("balance_owner_key must not be the null key".into());
        }
        if self.total_claimed.amount <= 0 || self.total_claimed.amount > MAX_SHARE_SUPPLY {
            return Err(format!(
                "total_claimed {} must be in 1..={MAX_SHARE_SUPPLY}",
                self.total_claimed.amount
            ));
        }
        Ok(())
    }
    /// Always free, whatever the schedule says (the reference returns 0).
    fn calculate_fee(&self, _params: &FeeParameters) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ids::AssetId;
    use crate::protocol::operations::{Operation, RequiredAuthorities};

    fn op() -> BalanceClaimOperation {
        BalanceClaimOperation {
            fee: Asset::core(0),
            deposit_to_account: AccountId(10),
            balance_to_claim: BalanceId(0),
            balance_owner_key: PublicKey([3; 32]),
            total_claimed: Asset::core(1_000),
        }
    }

    #[test]
    fn balance_claim() {
        assert!(op().validate().is_ok());
        assert!(Operation::BalanceClaim(op()).validate().is_ok());
        assert_eq!(op().calculate_fee(&FeeParameters::Flat { fee: 500 }), 0);
        assert_eq!(op().required_key(), PublicKey([3; 32]));
        let mut auths = RequiredAuthorities::default();
        op().required_authorities(&mut auths);
        assert_eq!(
            auths,
            RequiredAuthorities {
                active: smallvec::smallvec![AccountId(10)],
                owner: smallvec::smallvec![]
            }
        );

        let mut fee = op();
        fee.fee.amount = 1;
        assert!(fee.validate().unwrap_err().contains("free"));
        let mut fee_asset = op();
        fee_asset.fee.asset_id = AssetId(1);
        assert!(fee_asset.validate().is_err());
        let mut null = op();
        null.balance_owner_key = PublicKey::NULL;
        assert!(null.validate().unwrap_err().contains("null key"));
        let mut zero = op();
        zero.total_claimed.amount = 0;
        assert!(zero.validate().unwrap_err().contains("total_claimed"));
    }
}
