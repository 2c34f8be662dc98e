//! Object ids: `space.type.instance`, packed into one u64 as 8|8|48 bits.
//!
//! Typed wrappers (`AccountId`, `AssetId`, ...) carry only the instance; their space and
//! type are fixed by the wrapper. Ids are never reused, so an instance is also the index
//! of the object in its dense table.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The largest instance number that fits the 48-bit field.
pub const INSTANCE_MAX: u64 = (1u64 << 48) - 1;

pub const SPACE_PROTOCOL: u8 = 1;
pub const SPACE_IMPLEMENTATION: u8 = 2;

/// A generic, untyped object id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct ObjectId(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed object id {text:?}: {reason}")]
pub struct IdParseError {
    pub text: String,
    pub reason: &'static str,
}

impl ObjectId {
    pub const fn new(space: u8, type_id: u8, instance: u64) -> Self {
        assert!(instance <= INSTANCE_MAX);
        ObjectId(((space as u64) << 56) | ((type_id as u64) << 48) | instance)
    }
    pub const fn space(self) -> u8 {
        (self.0 >> 56) as u8
    }
    pub const fn type_id(self) -> u8 {
        (self.0 >> 48) as u8
    }
    pub const fn instance(self) -> u64 {
        self.0 & INSTANCE_MAX
    }
    pub const fn packed(self) -> u64 {
        self.0
    }
    pub const fn from_packed(v: u64) -> Self {
        ObjectId(v)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.space(), self.type_id(), self.instance())
    }
}
impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ObjectId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| IdParseError {
            text: s.to_string(),
            reason,
        };
        let mut parts = s.split('.');
        let (Some(a), Some(b), Some(c), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err("expected space.type.instance"));
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(a) || !digits(b) || !digits(c) {
            return Err(err("every part must be decimal digits"));
        }
        let space: u8 = a.parse().map_err(|_| err("space exceeds 255"))?;
        let type_id: u8 = b.parse().map_err(|_| err("type exceeds 255"))?;
        let instance: u64 = c.parse().map_err(|_| err("instance exceeds 48 bits"))?;
        if instance > INSTANCE_MAX {
            return Err(err("instance exceeds 48 bits"));
        }
        Ok(ObjectId::new(space, type_id, instance))
    }
}

impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// Declares a typed id: a newtype over the instance number with a fixed space and type.
macro_rules! typed_id {
    ($(#[$m:meta])* $name:ident, $space:expr, $ty:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize)]
        pub struct $name(pub u64);

        impl $name {
            pub const SPACE: u8 = $space;
            pub const TYPE: u8 = $ty;
            pub const fn new(instance: u64) -> Self { $name(instance) }
            pub const fn instance(self) -> u64 { self.0 }
            /// The instance as a table index.
            pub const fn index(self) -> usize { self.0 as usize }
            pub const fn object_id(self) -> ObjectId { ObjectId::new($space, $ty, self.0) }
        }
        impl BorshDeserialize for $name {
            fn deserialize_reader<R: std::io::Read>(r: &mut R) -> std::io::Result<Self> {
                let v = u64::deserialize_reader(r)?;
                if v > INSTANCE_MAX {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData,
                        concat!(stringify!($name), " instance exceeds 48 bits")));
                }
                Ok($name(v))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}.{}.{}", $space, $ty, self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { fmt::Display::fmt(self, f) }
        }
        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let id: ObjectId = s.parse()?;
                if id.space() != $space || id.type_id() != $ty {
                    return Err(IdParseError { text: s.to_string(),
                        reason: concat!("not a ", stringify!($name), " (", $space, ".", $ty, ".x)") });
                }
                Ok($name(id.instance()))
            }
        }
        impl TryFrom<ObjectId> for $name {
            type Error = IdParseError;
            fn try_from(id: ObjectId) -> Result<Self, IdParseError> {
                if id.space() != $space || id.type_id() != $ty {
                    return Err(IdParseError { text: id.to_string(),
                        reason: concat!("not a ", stringify!($name)) });
                }
                Ok($name(id.instance()))
            }
        }
        impl From<$name> for ObjectId {
            fn from(v: $name) -> ObjectId { v.object_id() }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.collect_str(self) }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as Deserialize>::deserialize(d)?;
                s.parse().map_err(de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// 1.2.x
    AccountId, 1, 2);
typed_id!(
    /// 1.3.x; 1.3.0 is the core asset.
    AssetId, 1, 3);
typed_id!(
    /// 1.4.x
    ForceSettlementId, 1, 4);
typed_id!(
    /// 1.5.x
    CommitteeMemberId, 1, 5);
typed_id!(
    /// 1.6.x
    WitnessId, 1, 6);
typed_id!(
    /// 1.7.x
    LimitOrderId, 1, 7);
typed_id!(
    /// 1.8.x
    CallOrderId, 1, 8);
typed_id!(
    /// 1.10.x
    ProposalId, 1, 10);
typed_id!(
    /// 1.11.x
    OperationHistoryId, 1, 11);
typed_id!(
    /// 1.12.x
    WithdrawPermissionId, 1, 12);
typed_id!(
    /// 1.13.x
    VestingBalanceId, 1, 13);
typed_id!(
    /// 1.14.x
    WorkerId, 1, 14);
typed_id!(
    /// 1.15.x genesis balance objects
    BalanceId, 1, 15);
typed_id!(
    /// 2.5.x
    AccountBalanceId, 2, 5);
typed_id!(
    /// 2.6.x
    AccountStatisticsId, 2, 6);
typed_id!(
    /// 2.3.x
    AssetDynamicDataId, 2, 3);
typed_id!(
    /// 2.4.x
    BitassetDataId, 2, 4);

impl AssetId {
    pub const CORE: AssetId = AssetId(0);
}

/// The reserved accounts created at genesis.
impl AccountId {
    pub const COMMITTEE: AccountId = AccountId(0);
    pub const WITNESS: AccountId = AccountId(1);
    pub const RELAXED_COMMITTEE: AccountId = AccountId(2);
    pub const NULL: AccountId = AccountId(3);
    pub const TEMP: AccountId = AccountId(4);
    pub const PROXY_TO_SELF: AccountId = AccountId(5);
    /// Number of reserved accounts; the first ordinary account is this instance.
    pub const RESERVED_COUNT: u64 = 6;

    /// Committee, witness, relaxed committee, null and temp accounts: cashback paid to
    /// them is burned back into the reserve.
    pub const fn is_reserved_fee_sink(self) -> bool {
        self.0 <= 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_prints() {
        let id = ObjectId::new(1, 2, 17);
        assert_eq!(id.to_string(), "1.2.17");
        assert_eq!(id.packed(), (1u64 << 56) | (2u64 << 48) | 17);
        assert_eq!("1.2.17".parse::<ObjectId>().unwrap(), id);
        assert_eq!("1.2.17".parse::<AccountId>().unwrap(), AccountId(17));
        assert!("1.3.17".parse::<AccountId>().is_err());
        assert!("1.2".parse::<ObjectId>().is_err());
        assert!("1.2.x".parse::<ObjectId>().is_err());
        assert!("1.2.-1".parse::<ObjectId>().is_err());
        assert!("256.2.1".parse::<ObjectId>().is_err());
        assert!(format!("1.2.{}", INSTANCE_MAX + 1)
            .parse::<ObjectId>()
            .is_err());
        assert_eq!(serde_json::to_string(&AssetId(3)).unwrap(), "\"1.3.3\"");
    }
}
