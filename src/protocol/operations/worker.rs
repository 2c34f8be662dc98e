//! Workers: proposals paid from the reserve by stakeholder vote.

use super::witness::check_url_length;
use super::OperationBody;
use crate::protocol::asset::{Asset, MAX_SHARE_SUPPLY};
use crate::protocol::ids::AccountId;
use crate::protocol::json;
use crate::protocol::time::TimePointSec;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The longest worker name, in bytes (the reference requires
/// `size() < GRAPHENE_MAX_WORKER_NAME_LENGTH` = 63).
pub const WORKER_NAME_LENGTH_MAX: usize = 62;

/// What a worker does with its pay. Binary: a one-byte index (0 refund, 1 vesting,
/// 2 burn) then the fields. JSON: the reference static-variant form `[index, {fields}]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum WorkerInitializer {
    /// Pay goes back to the reserve (`current_supply` shrinks).
    Refund,
    /// Pay goes into a cdd vesting balance that vests over this many days.
    Vesting { pay_vesting_period_days: u16 },
    /// Pay goes to the null account.
    Burn,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VestingBody {
    pay_vesting_period_days: u16,
}

impl Serialize for WorkerInitializer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            WorkerInitializer::Refund => Serialize::serialize(&(0u8, EmptyBody {}), s),
            WorkerInitializer::Vesting {
                pay_vesting_period_days,
            } => Serialize::serialize(
                &(
                    1u8,
                    VestingBody {
                        pay_vesting_period_days,
                    },
                ),
                s,
            ),
            WorkerInitializer::Burn => Serialize::serialize(&(2u8, EmptyBody {}), s),
        }
    }
}

impl<'de> Deserialize<'de> for WorkerInitializer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WorkerInitializer;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a worker initializer [index, {fields}] with index 0 (refund), 1 (vesting) or 2 (burn)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let tag: u8 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let missing = || de::Error::invalid_length(1, &self);
                let init = match tag {
                    0 => {
                        let _: EmptyBody = seq.next_element()?.ok_or_else(missing)?;
                        WorkerInitializer::Refund
                    }
                    1 => {
                        let b: VestingBody = seq.next_element()?.ok_or_else(missing)?;
                        WorkerInitializer::Vesting {
                            pay_vesting_period_days: b.pay_vesting_period_days,
                        }
                    }
                    2 => {
                        let _: EmptyBody = seq.next_element()?.ok_or_else(missing)?;
                        WorkerInitializer::Burn
                    }
                    t => {
                        return Err(de::Error::custom(format!(
                            "unknown worker initializer index {t}"
                        )))
                    }
                };
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(init)
            }
        }
        d.deserialize_tuple(2, V)
    }
}

/// Creates a worker. Workers are immutable: there is no update or delete.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WorkerCreateOperation {
    pub fee: Asset,
    /// Must be a lifetime member (checked on apply).
    pub owner: AccountId,
    /// Must not be in the past (checked on apply).
    pub work_begin_date: TimePointSec,
    pub work_end_date: TimePointSec,
    /// Core satoshis per day, paid pro rata at each maintenance while approved.
    #[serde(with = "json::int64")]
    pub daily_pay: i64,
    pub name: String,
    pub url: String,
    pub initializer: WorkerInitializer,
}

impl OperationBody for WorkerCreateOperation {
    fn fee_payer(&self) -> AccountId {
        self.owner
    }
    fn validate(&self) -> Result<(), String> {
        if self.work_end_date <= self.work_begin_date {
            return Err(format!(
                "work_end_date {} must be after work_begin_date {}",
                self.work_end_date, self.work_begin_date
            ));
        }
        if self.daily_pay <= 0 || self.daily_pay >= MAX_SHARE_SUPPLY {
            return Err(format!(
                "daily_pay {} must be in 1..{MAX_SHARE_SUPPLY}",
                self.daily_pay
            ));
        }
        if self.name.len() > WORKER_NAME_LENGTH_MAX {
            return Err(format!(
                "name is {} bytes, more than the {WORKER_NAME_LENGTH_MAX} allowed",
                self.name.len()
            ));
        }
        check_url_length("url", &self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::super::URL_LENGTH_MAX;
    use super::*;
    use serde_json::json;

    fn op() -> WorkerCreateOperation {
        WorkerCreateOperation {
            fee: Asset::core(0),
            owner: AccountId(10),
            work_begin_date: TimePointSec(1000),
            work_end_date: TimePointSec(2000),
            daily_pay: 5_000_000_000,
            name: "refund-worker".into(),
            url: "https://example.org".into(),
            initializer: WorkerInitializer::Vesting {
                pay_vesting_period_days: 7,
            },
        }
    }

    #[test]
    fn worker_create() {
        assert!(op().validate().is_ok());
        assert_eq!(op().fee_payer(), AccountId(10));
        let mut o = op();
        o.work_end_date = o.work_begin_date;
        assert!(o.validate().unwrap_err().contains("work_end_date"));
        let mut o = op();
        o.daily_pay = 0;
        assert!(o.validate().unwrap_err().contains("daily_pay"));
        let mut o = op();
        o.daily_pay = MAX_SHARE_SUPPLY;
        assert!(o.validate().unwrap_err().contains("daily_pay"));
        let mut o = op();
        o.name = "n".repeat(WORKER_NAME_LENGTH_MAX);
        assert!(o.validate().is_ok());
        o.name.push('n');
        assert!(o.validate().unwrap_err().contains("name"));
        let mut o = op();
        o.url = "u".repeat(URL_LENGTH_MAX + 1);
        assert!(o.validate().unwrap_err().contains("url"));

        let v = serde_json::to_value(op()).unwrap();
        assert_eq!(v["daily_pay"], json!("5000000000"));
        assert_eq!(v["initializer"], json!([1, {"pay_vesting_period_days": 7}]));
        assert_eq!(
            serde_json::from_value::<WorkerCreateOperation>(v).unwrap(),
            op()
        );
    }

    #[test]
    fn initializer_forms() {
        for (init, text) in [
            (WorkerInitializer::Refund, "[0,{}]"),
            (
                WorkerInitializer::Vesting {
                    pay_vesting_period_days: 3,
                },
                r#"[1,{"pay_vesting_period_days":3}]"#,
            ),
            (WorkerInitializer::Burn, "[2,{}]"),
        ] {
            assert_eq!(serde_json::to_string(&init).unwrap(), text);
            assert_eq!(
                serde_json::from_str::<WorkerInitializer>(text).unwrap(),
                init
            );
            let bytes = borsh::to_vec(&init).unwrap();
            assert_eq!(WorkerInitializer::try_from_slice(&bytes).unwrap(), init);
        }
        assert!(serde_json::from_str::<WorkerInitializer>("[3,{}]").is_err());
        assert!(serde_json::from_str::<WorkerInitializer>("[1,{}]").is_err());
        assert!(serde_json::from_str::<WorkerInitializer>(r#"{"Burn":null}"#).is_err());
    }
}
