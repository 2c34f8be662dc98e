//! Opaque application data (`custom`) and state assertions (`assert`).

use super::{is_valid_name, is_valid_symbol, OperationBody, RequiredAuthorities};
use crate::protocol::asset::Asset;
use crate::protocol::extensions::Extensions;
use crate::protocol::fees::FeeParameters;
use crate::protocol::ids::{AccountId, AssetId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// The largest `custom` payload, in bytes. The transaction-size chain parameter is the
/// real limit; this bounds what stateless checks and fee sizing ever look at.
pub const CUSTOM_DATA_MAX: usize = 64 * 1024;
/// The most accounts `custom` or `assert` may list in `required_auths`. Each must be
/// signed for, and a transaction carries at most 64 signatures.
pub const REQUIRED_AUTHS_MAX: usize = 64;
/// The most predicates one `assert` may carry.
pub const ASSERT_PREDICATES_MAX: usize = 32;

/// Data for higher-level protocols; the chain only charges for it and checks the
/// authorities. `id` names the protocol.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CustomOperation {
    pub fee: Asset,
    pub payer: AccountId,
    /// Accounts whose active authority must also sign.
    pub required_auths: BTreeSet<AccountId>,
    pub id: u16,
    #[serde(with = "crate::protocol::json::hex_bytes")]
    pub data: Vec<u8>,
}

impl OperationBody for CustomOperation {
    fn fee_payer(&self) -> AccountId {
        self.payer
    }
    fn validate(&self) -> Result<(), String> {
        // As the reference: custom data is never free.
        if self.fee.amount <= 0 {
            return Err(format!(
                "fee {} must be positive: custom data always pays",
                self.fee.amount
            ));
        }
        if self.data.len() > CUSTOM_DATA_MAX {
            return Err(format!(
                "data is {} bytes, more than the {CUSTOM_DATA_MAX} allowed",
                self.data.len()
            ));
        }
        if self.required_auths.len() > REQUIRED_AUTHS_MAX {
            return Err(format!(
                "required_auths lists {} accounts, more than the {REQUIRED_AUTHS_MAX} allowed",
                self.required_auths.len()
            ));
        }
        Ok(())
    }
    fn data_size(&self) -> usize {
        self.data.len()
    }
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        auths.active.push(self.payer);
        auths.active.extend(self.required_auths.iter().copied());
    }
}

/// A condition on chain state that `assert` checks on apply. Binary: a one-byte index
/// then the fields. JSON: the reference static-variant form `[index, {fields}]`, with
/// the block id as hex.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Predicate {
    /// The account's name is `name`.
    AccountNameEqLit { account_id: AccountId, name: String },
    /// The asset's symbol is `symbol`.
    AssetSymbolEqLit { asset_id: AssetId, symbol: String },
    /// The block is in the recent history (within the TaPoS window).
    BlockId { id: [u8; 32] },
}

impl Predicate {
    /// Stateless checks: the literal must be a well-formed name or symbol (so a
    /// predicate that can never hold is rejected up front).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Predicate::AccountNameEqLit { name, .. } if !is_valid_name(name) => {
                Err(format!("{name:?} is not a valid account name"))
            }
            Predicate::AssetSymbolEqLit { symbol, .. } if !is_valid_symbol(symbol) => {
                Err(format!("{symbol:?} is not a valid asset symbol"))
            }
            _ => Ok(()),
        }
    }
}

#[derive(Serialize)]
struct AccountNameRef<'a> {
    account_id: AccountId,
    name: &'a str,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountNameBody {
    account_id: AccountId,
    name: String,
}
#[derive(Serialize)]
struct AssetSymbolRef<'a> {
    asset_id: AssetId,
    symbol: &'a str,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetSymbolBody {
    asset_id: AssetId,
    symbol: String,
}
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockIdBody {
    #[serde(with = "hex32")]
    id: [u8; 32],
}

/// A 32-byte value as 64 lowercase hex digits.
mod hex32 {
    use serde::{de, Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(|e| {
            de::Error::custom(format!("expected 64 hex digits for a block id: {e}"))
        })?;
        Ok(out)
    }
}

impl Serialize for Predicate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Predicate::AccountNameEqLit { account_id, name } => Serialize::serialize(
                &(
                    0u8,
                    AccountNameRef {
                        account_id: *account_id,
                        name,
                    },
                ),
                s,
            ),
            Predicate::AssetSymbolEqLit { asset_id, symbol } => Serialize::serialize(
                &(
                    1u8,
                    AssetSymbolRef {
                        asset_id: *asset_id,
                        symbol,
                    },
                ),
                s,
            ),
            Predicate::BlockId { id } => Serialize::serialize(&(2u8, BlockIdBody { id: *id }), s),
        }
    }
}

impl<'de> Deserialize<'de> for Predicate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Predicate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a predicate [index, {fields}] with index 0 (account name), 1 (asset symbol) or 2 (block id)",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let tag: u8 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let missing = || de::Error::invalid_length(1, &self);
                let p = match tag {
                    0 => {
                        let b: AccountNameBody = seq.next_element()?.ok_or_else(missing)?;
                        Predicate::AccountNameEqLit {
                            account_id: b.account_id,
                            name: b.name,
                        }
                    }
                    1 => {
                        let b: AssetSymbolBody = seq.next_element()?.ok_or_else(missing)?;
                        Predicate::AssetSymbolEqLit {
                            asset_id: b.asset_id,
                            symbol: b.symbol,
                        }
                    }
                    2 => {
                        let b: BlockIdBody = seq.next_element()?.ok_or_else(missing)?;
                        Predicate::BlockId { id: b.id }
                    }
                    t => return Err(de::Error::custom(format!("unknown predicate index {t}"))),
                };
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(p)
            }
        }
        d.deserialize_tuple(2, V)
    }
}

/// Fails the transaction unless every predicate holds; changes nothing. The fee is
/// charged per predicate (the reference `fee * predicates.size()`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssertOperation {
    pub fee: Asset,
    pub fee_paying_account: AccountId,
    pub predicates: Vec<Predicate>,
    /// Accounts whose active authority must also sign.
    pub required_auths: BTreeSet<AccountId>,
    pub extensions: Extensions,
}

impl OperationBody for AssertOperation {
    fn fee_payer(&self) -> AccountId {
        self.fee_paying_account
    }
    fn validate(&self) -> Result<(), String> {
        if self.predicates.is_empty() {
            return Err("an assert needs at least one predicate".into());
        }
        if self.predicates.len() > ASSERT_PREDICATES_MAX {
            return Err(format!(
                "{} predicates is more than the {ASSERT_PREDICATES_MAX} allowed",
                self.predicates.len()
            ));
        }
        if self.required_auths.len() > REQUIRED_AUTHS_MAX {
            return Err(format!(
                "required_auths lists {} accounts, more than the {REQUIRED_AUTHS_MAX} allowed",
                self.required_auths.len()
            ));
        }
        for (i, p) in self.predicates.iter().enumerate() {
            p.validate().map_err(|e| format!("predicate {i}: {e}"))?;
        }
        Ok(())
    }
    fn calculate_fee(&self, params: &FeeParameters) -> u64 {
        let n = self.predicates.len() as u64;
        match *params {
            FeeParameters::Flat { fee } => fee.saturating_mul(n),
            ref other => super::default_fee(other, 0).saturating_mul(n),
        }
    }
    fn required_authorities(&self, auths: &mut RequiredAuthorities) {
        auths.active.push(self.fee_paying_account);
        auths.active.extend(self.required_auths.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn custom() -> CustomOperation {
        CustomOperation {
            fee: Asset::core(100),
            payer: AccountId(10),
            required_auths: [AccountId(11)].into(),
            id: 7,
            data: vec![0xde, 0xad, 0xbe, 0xef],
        }
    }

    #[test]
    fn custom_op() {
        let op = custom();
        assert!(op.validate().is_ok());
        assert_eq!(op.data_size(), 4);
        let mut auths = RequiredAuthorities::default();
        op.required_authorities(&mut auths);
        assert_eq!(auths.active.as_slice(), &[AccountId(10), AccountId(11)]);
        let v = serde_json::to_value(&op).unwrap();
        assert_eq!(v["data"], json!("deadbeef"));
        assert_eq!(serde_json::from_value::<CustomOperation>(v).unwrap(), op);

        let mut free = custom();
        free.fee.amount = 0;
        assert!(free.validate().unwrap_err().contains("fee"));
        let mut big = custom();
        big.data = vec![0; CUSTOM_DATA_MAX + 1];
        assert!(big.validate().unwrap_err().contains("data"));
        let mut many = custom();
        many.required_auths = (0..=REQUIRED_AUTHS_MAX as u64).map(AccountId).collect();
        assert!(many.validate().unwrap_err().contains("required_auths"));
    }

    fn assert_op(predicates: Vec<Predicate>) -> AssertOperation {
        AssertOperation {
            fee: Asset::core(0),
            fee_paying_account: AccountId(10),
            predicates,
            required_auths: BTreeSet::new(),
            extensions: Extensions,
        }
    }

    #[test]
    fn assert_operation() {
        let good = vec![
            Predicate::AccountNameEqLit {
                account_id: AccountId(10),
                name: "alice".into(),
            },
            Predicate::AssetSymbolEqLit {
                asset_id: AssetId(1),
                symbol: "USD".into(),
            },
            Predicate::BlockId { id: [0xab; 32] },
        ];
        let op = assert_op(good.clone());
        assert!(op.validate().is_ok());
        assert_eq!(op.calculate_fee(&FeeParameters::Flat { fee: 100 }), 300);
        assert!(assert_op(vec![])
            .validate()
            .unwrap_err()
            .contains("at least one"));
        let bad_name = assert_op(vec![Predicate::AccountNameEqLit {
            account_id: AccountId(1),
            name: "Alice".into(),
        }]);
        assert!(bad_name.validate().unwrap_err().contains("predicate 0"));
        let bad_symbol = assert_op(vec![Predicate::AssetSymbolEqLit {
            asset_id: AssetId(1),
            symbol: "usd".into(),
        }]);
        assert!(bad_symbol.validate().unwrap_err().contains("symbol"));
        let too_many = assert_op(vec![
            Predicate::BlockId { id: [0; 32] };
            ASSERT_PREDICATES_MAX + 1
        ]);
        assert!(too_many.validate().unwrap_err().contains("more than"));

        let v = serde_json::to_value(&op).unwrap();
        assert_eq!(
            v["predicates"][0],
            json!([0, {"account_id": "1.2.10", "name": "alice"}])
        );
        assert_eq!(
            v["predicates"][1],
            json!([1, {"asset_id": "1.3.1", "symbol": "USD"}])
        );
        assert_eq!(v["predicates"][2], json!([2, {"id": "ab".repeat(32)}]));
        assert_eq!(serde_json::from_value::<AssertOperation>(v).unwrap(), op);
        let bytes = borsh::to_vec(&op).unwrap();
        assert_eq!(AssertOperation::try_from_slice(&bytes).unwrap(), op);
        assert!(serde_json::from_str::<Predicate>(r#"[2, {"id": "abcd"}]"#).is_err());
        assert!(serde_json::from_str::<Predicate>(r#"[9, {}]"#).is_err());

        let mut with_auths = op;
        with_auths.required_auths.insert(AccountId(20));
        let mut auths = RequiredAuthorities::default();
        with_auths.required_authorities(&mut auths);
        assert_eq!(auths.active.as_slice(), &[AccountId(10), AccountId(20)]);
    }
}
