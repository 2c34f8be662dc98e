//! Withdraw permissions: a recurring allowance one account grants another.

use super::OperationBody;
use crate::protocol::asset::{Asset, MAX_SHARE_SUPPLY};
use crate::protocol::ids::{AccountId, WithdrawPermissionId};
use crate::protocol::memo::Memo;
use crate::protocol::time::TimePointSec;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The shared checks of create and update: distinct accounts, a positive limit, a
/// positive period and count, and an expiration (`start + periods * period`) that
/// `TimePointSec` can represent.
fn check_terms(
    from: AccountId,
    authorized: AccountId,
    limit: &Asset,
    period_sec: u32,
    periods: u32,
    start: TimePointSec,
) -> Result<(), String> {
    if from == authorized {
        return Err(format!(
            "{from} cannot grant a withdraw permission to itself"
        ));
    }
    if limit.amount <= 0 || limit.amount > MAX_SHARE_SUPPLY {
        return Err(format!(
            "withdrawal_limit {} must be in 1..={MAX_SHARE_SUPPLY}",
            limit.amount
        ));
    }
    if period_sec == 0 {
        return Err("withdrawal_period_sec must be positive".into());
    }
    if periods == 0 {
        return Err("periods_until_expiration must be positive".into());
    }
    let expiration = start.secs() as u64 + period_sec as u64 * periods as u64;
    if expiration > u32::MAX as u64 {
        return Err(format!(
            "the permission would expire after {}: period_start_time + {periods} × {period_sec} s is out of range",
            TimePointSec::MAX
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WithdrawPermissionCreateOperation {
    pub fee: Asset,
    pub withdraw_from_account: AccountId,
    pub authorized_account: AccountId,
    /// The most that may be withdrawn per period.
    pub withdrawal_limit: Asset,
    pub withdrawal_period_sec: u32,
    pub periods_until_expiration: u32,
    /// Must be in the future (checked on apply).
    pub period_start_time: TimePointSec,
}

impl OperationBody for WithdrawPermissionCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.withdraw_from_account
    }
    fn validate(&self) -> Result<(), String> {
        check_terms(
            self.withdraw_from_account,
            self.authorized_account,
            &self.withdrawal_limit,
            self.withdrawal_period_sec,
            self.periods_until_expiration,
            self.period_start_time,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WithdrawPermissionUpdateOperation {
    pub fee: Asset,
    pub withdraw_from_account: AccountId,
    pub authorized_account: AccountId,
    pub permission_to_update: WithdrawPermissionId,
    pub withdrawal_limit: Asset,
    pub withdrawal_period_sec: u32,
    pub period_start_time: TimePointSec,
    pub periods_until_expiration: u32,
}

impl OperationBody for WithdrawPermissionUpdateOperation {
    fn fee_payer(&self) -> AccountId {
        self.withdraw_from_account
    }
    fn validate(&self) -> Result<(), String> {
        check_terms(
            self.withdraw_from_account,
            self.authorized_account,
            &self.withdrawal_limit,
            self.withdrawal_period_sec,
            self.periods_until_expiration,
            self.period_start_time,
        )
    }
}

/// The authorized account withdraws; it signs and pays the fee.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WithdrawPermissionClaimOperation {
    pub fee: Asset,
    pub withdraw_permission: WithdrawPermissionId,
    pub withdraw_from_account: AccountId,
    /// The permission's authorized account.
    pub withdraw_to_account: AccountId,
    pub amount_to_withdraw: Asset,
    pub memo: Option<Memo>,
}

impl OperationBody for WithdrawPermissionClaimOperation {
    fn fee_payer(&self) -> AccountId {
        self.withdraw_to_account
    }
    fn validate(&self) -> Result<(), String> {
        if self.withdraw_to_account == self.withdraw_from_account {
            return Err(format!(
                "{} cannot withdraw from itself",
                self.withdraw_to_account
            ));
        }
        let amount = self.amount_to_withdraw.amount;
        if amount <= 0 || amount > MAX_SHARE_SUPPLY {
            return Err(format!(
                "amount_to_withdraw {amount} must be in 1..={MAX_SHARE_SUPPLY}"
            ));
        }
        if let Some(m) = &self.memo {
            m.validate()?;
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        self.memo.as_ref().map_or(0, Memo::packed_size)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WithdrawPermissionDeleteOperation {
    pub fee: Asset,
    pub withdraw_from_account: AccountId,
    pub authorized_account: AccountId,
    pub withdrawal_permission: WithdrawPermissionId,
}

impl OperationBody for WithdrawPermissionDeleteOperation {
    fn fee_payer(&self) -> AccountId {
        self.withdraw_from_account
    }
    fn validate(&self) -> Result<(), String> {
        if self.withdraw_from_account == self.authorized_account {
            return Err(format!(
                "{} cannot hold a withdraw permission on itself",
                self.withdraw_from_account
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ids::AssetId;
    use crate::protocol::keys::PublicKey;
    use crate::protocol::memo::MEMO_MESSAGE_MAX;

    fn create() -> WithdrawPermissionCreateOperation {
        WithdrawPermissionCreateOperation {
            fee: Asset::core(0),
            withdraw_from_account: AccountId(10),
            authorized_account: AccountId(11),
            withdrawal_limit: Asset::new(100, AssetId(0)),
            withdrawal_period_sec: 3600,
            periods_until_expiration: 24,
            period_start_time: TimePointSec(1_000_000),
        }
    }

    #[test]
    fn permission_create() {
        assert!(create().validate().is_ok());
        assert_eq!(create().fee_payer(), AccountId(10));
        let mut o = create();
        o.authorized_account = AccountId(10);
        assert!(o.validate().unwrap_err().contains("itself"));
        let mut o = create();
        o.withdrawal_limit.amount = 0;
        assert!(o.validate().unwrap_err().contains("withdrawal_limit"));
        let mut o = create();
        o.withdrawal_period_sec = 0;
        assert!(o.validate().unwrap_err().contains("withdrawal_period_sec"));
        let mut o = create();
        o.periods_until_expiration = 0;
        assert!(o
            .validate()
            .unwrap_err()
            .contains("periods_until_expiration"));
        let mut o = create();
        o.periods_until_expiration = u32::MAX;
        assert!(o.validate().unwrap_err().contains("out of range"));
    }

    #[test]
    fn permission_update() {
        let c = create();
        let op = WithdrawPermissionUpdateOperation {
            fee: c.fee,
            withdraw_from_account: c.withdraw_from_account,
            authorized_account: c.authorized_account,
            permission_to_update: WithdrawPermissionId(0),
            withdrawal_limit: c.withdrawal_limit,
            withdrawal_period_sec: c.withdrawal_period_sec,
            period_start_time: c.period_start_time,
            periods_until_expiration: c.periods_until_expiration,
        };
        assert!(op.validate().is_ok());
        let mut bad = op;
        bad.withdrawal_limit.amount = -1;
        assert!(bad.validate().unwrap_err().contains("withdrawal_limit"));
    }

    #[test]
    fn permission_claim() {
        let memo = Memo {
            from: PublicKey([1; 32]),
            to: PublicKey([2; 32]),
            nonce: 1,
            message: vec![0; 10],
        };
        let op = WithdrawPermissionClaimOperation {
            fee: Asset::core(0),
            withdraw_permission: WithdrawPermissionId(0),
            withdraw_from_account: AccountId(10),
            withdraw_to_account: AccountId(11),
            amount_to_withdraw: Asset::new(50, AssetId(0)),
            memo: Some(memo.clone()),
        };
        assert!(op.validate().is_ok());
        assert_eq!(op.fee_payer(), AccountId(11));
        assert_eq!(op.data_size(), memo.packed_size());
        let mut same = op.clone();
        same.withdraw_to_account = AccountId(10);
        assert!(same.validate().unwrap_err().contains("itself"));
        let mut zero = op.clone();
        zero.amount_to_withdraw.amount = 0;
        assert!(zero.validate().unwrap_err().contains("amount_to_withdraw"));
        let mut big_memo = op;
        big_memo.memo.as_mut().unwrap().message = vec![0; MEMO_MESSAGE_MAX + 1];
        assert!(big_memo.validate().unwrap_err().contains("memo"));
    }

    #[test]
    fn permission_delete() {
        let op = WithdrawPermissionDeleteOperation {
            fee: Asset::core(0),
            withdraw_from_account: AccountId(10),
            authorized_account: AccountId(11),
            withdrawal_permission: WithdrawPermissionId(0),
        };
        assert!(op.validate().is_ok());
        let mut bad = op;
        bad.authorized_account = AccountId(10);
        assert!(bad.validate().unwrap_err().contains("itself"));
    }
}
