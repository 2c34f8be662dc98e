//! Vesting balances: funds that unlock over time under a policy.

use super::OperationBody;
use crate::protocol::asset::{Asset, MAX_SHARE_SUPPLY};
use crate::protocol::ids::{AccountId, VestingBalanceId};
use crate::protocol::time::TimePointSec;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// How a new vesting balance unlocks. Binary: a one-byte index (0 linear, 1 cdd,
/// 2 instant) then the fields. JSON: the reference static-variant form
/// `[index, {fields}]`, e.g. `[1, {"start_claim": "...", "vesting_seconds": 86400}]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum VestingPolicyInitializer {
    /// Unlocks linearly over `vesting_duration_seconds` from `begin_timestamp`; nothing
    /// may be withdrawn before `vesting_cliff_seconds` have passed.
    Linear {
        begin_timestamp: TimePointSec,
        vesting_cliff_seconds: u32,
        vesting_duration_seconds: u32,
    },
    /// Coin-days destroyed: a balance becomes fully available after it has aged
    /// `vesting_seconds`; nothing may be claimed before `start_claim`.
    Cdd {
        start_claim: TimePointSec,
        vesting_seconds: u32,
    },
    /// Available at once.
    Instant,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinearBody {
    begin_timestamp: TimePointSec,
    vesting_cliff_seconds: u32,
    vesting_duration_seconds: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CddBody {
    start_claim: TimePointSec,
    vesting_seconds: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstantBody {}

impl Serialize for VestingPolicyInitializer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            VestingPolicyInitializer::Linear {
                begin_timestamp,
                vesting_cliff_seconds,
                vesting_duration_seconds,
            } => Serialize::serialize(
                &(
                    0u8,
                    LinearBody {
                        begin_timestamp,
                        vesting_cliff_seconds,
                        vesting_duration_seconds,
                    },
                ),
                s,
            ),
            VestingPolicyInitializer::Cdd {
                start_claim,
                vesting_seconds,
            } => Serialize::serialize(
                &(
                    1u8,
                    CddBody {
                        start_claim,
                        vesting_seconds,
                    },
                ),
                s,
            ),
            VestingPolicyInitializer::Instant => Serialize::serialize(&(2u8, InstantBody {}), s),
        }
    }
}

impl<'de> Deserialize<'de> for VestingPolicyInitializer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VestingPolicyInitializer;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a vesting policy [index, {fields}] with index 0 (linear), 1 (cdd) or 2 (instant)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let tag: u8 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let missing = || de::Error::invalid_length(1, &self);
                let policy = match tag {
                    0 => {
                        let b: LinearBody = seq.next_element()?.ok_or_else(missing)?;
                        VestingPolicyInitializer::Linear {
                            begin_timestamp: b.begin_timestamp,
                            vesting_cliff_seconds: b.vesting_cliff_seconds,
                            vesting_duration_seconds: b.vesting_duration_seconds,
                        }
                    }
                    1 => {
                        let b: CddBody = seq.next_element()?.ok_or_else(missing)?;
                        VestingPolicyInitializer::Cdd {
                            start_claim: b.start_claim,
                            vesting_seconds: b.vesting_seconds,
                        }
                    }
                    2 => {
                        let _: InstantBody = seq.next_element()?.ok_or_else(missing)?;
                        VestingPolicyInitializer::Instant
                    }
                    t => {
                        return Err(de::Error::custom(format!(
                            "unknown vesting policy index {t}"
                        )))
                    }
                };
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(policy)
            }
        }
        d.deserialize_tuple(2, V)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VestingBalanceCreateOperation {
    pub fee: Asset,
    /// Provides the funds.
    pub creator: AccountId,
    /// May withdraw them.
    pub owner: AccountId,
    pub amount: Asset,
    pub policy: VestingPolicyInitializer,
}

impl OperationBody for VestingBalanceCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.creator
    }
    fn validate(&self) -> Result<(), String> {
        if self.amount.amount <= 0 || self.amount.amount > MAX_SHARE_SUPPLY {
            return Err(format!(
                "amount {} must be in 1..={MAX_SHARE_SUPPLY}",
                self.amount.amount
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VestingBalanceWithdrawOperation {
    pub fee: Asset,
    pub vesting_balance: VestingBalanceId,
    /// Must be the balance's owner (checked on apply).
    pub owner: AccountId,
    pub amount: Asset,
}

impl OperationBody for VestingBalanceWithdrawOperation {
    fn fee_payer(&self) -> AccountId {
        self.owner
    }
    fn validate(&self) -> Result<(), String> {
        if self.amount.amount <= 0 || self.amount.amount > MAX_SHARE_SUPPLY {
            return Err(format!(
                "amount {} must be in 1..={MAX_SHARE_SUPPLY}",
                self.amount.amount
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policy_json_and_binary() {
        let linear = VestingPolicyInitializer::Linear {
            begin_timestamp: TimePointSec(0),
            vesting_cliff_seconds: 10,
            vesting_duration_seconds: 100,
        };
        let cdd = VestingPolicyInitializer::Cdd {
            start_claim: TimePointSec(86_400),
            vesting_seconds: 3600,
        };
        let instant = VestingPolicyInitializer::Instant;
        assert_eq!(
            serde_json::to_value(linear).unwrap(),
            json!([0, {"begin_timestamp": "1970-01-01T00:00:00", "vesting_cliff_seconds": 10, "vesting_duration_seconds": 100}])
        );
        assert_eq!(
            serde_json::to_value(cdd).unwrap(),
            json!([1, {"start_claim": "1970-01-02T00:00:00", "vesting_seconds": 3600}])
        );
        assert_eq!(serde_json::to_value(instant).unwrap(), json!([2, {}]));
        for p in [linear, cdd, instant] {
            let text = serde_json::to_string(&p).unwrap();
            assert_eq!(
                serde_json::from_str::<VestingPolicyInitializer>(&text).unwrap(),
                p
            );
            let bytes = borsh::to_vec(&p).unwrap();
            assert_eq!(VestingPolicyInitializer::try_from_slice(&bytes).unwrap(), p);
        }
        assert_eq!(borsh::to_vec(&instant).unwrap(), vec![2]);
        assert!(serde_json::from_str::<VestingPolicyInitializer>("[3, {}]").is_err());
        assert!(serde_json::from_str::<VestingPolicyInitializer>("[2, {}, 1]").is_err());
        assert!(serde_json::from_str::<VestingPolicyInitializer>("[2]").is_err());
        assert!(
            serde_json::from_str::<VestingPolicyInitializer>(r#"[1, {"vesting_seconds": 1}]"#)
                .is_err()
        );
        assert!(serde_json::from_str::<VestingPolicyInitializer>(r#"[2, {"x": 1}]"#).is_err());
        assert!(VestingPolicyInitializer::try_from_slice(&[3]).is_err());
    }

    #[test]
    fn vesting_balance_create() {
        let op = VestingBalanceCreateOperation {
            fee: Asset::core(0),
            creator: AccountId(10),
            owner: AccountId(11),
            amount: Asset::core(1000),
            policy: VestingPolicyInitializer::Cdd {
                start_claim: TimePointSec(0),
                vesting_seconds: 86_400,
            },
        };
        assert!(op.validate().is_ok());
        assert_eq!(op.fee_payer(), AccountId(10));
        let mut zero = op.clone();
        zero.amount.amount = 0;
        assert!(zero.validate().unwrap_err().contains("amount"));
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(
            serde_json::from_str::<VestingBalanceCreateOperation>(&json).unwrap(),
            op
        );
    }

    #[test]
    fn vesting_balance_withdraw() {
        let op = VestingBalanceWithdrawOperation {
            fee: Asset::core(0),
            vesting_balance: VestingBalanceId(0),
            owner: AccountId(11),
            amount: Asset::core(5),
        };
        assert!(op.validate().is_ok());
        assert_eq!(op.fee_payer(), AccountId(11));
        let mut bad = op;
        bad.amount.amount = -5;
        assert!(bad.validate().unwrap_err().contains("amount"));
    }
}
