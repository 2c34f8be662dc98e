//! `extensions`: reserved for future fields. Today it must be empty, so every encoder
//! writes a zero-length list (four zero bytes in binary, `[]` in JSON) and every decoder
//! rejects anything else. This keeps the encoding canonical.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Extensions;

impl BorshSerialize for Extensions {
    fn serialize<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        BorshSerialize::serialize(&0u32, w)
    }
}
impl BorshDeserialize for Extensions {
    fn deserialize_reader<R: std::io::Read>(r: &mut R) -> std::io::Result<Self> {
        let n = u32::deserialize_reader(r)?;
        if n != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "extensions must be empty: no extension is defined yet",
            ));
        }
        Ok(Extensions)
    }
}
impl Serialize for Extensions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let empty: [u8; 0] = [];
        Serialize::serialize(&empty, s)
    }
}
impl<'de> Deserialize<'de> for Extensions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Vec<de::IgnoredAny> = <Vec<_> as Deserialize>::deserialize(d)?;
        if !v.is_empty() {
            return Err(de::Error::custom(
                "extensions must be empty: no extension is defined yet",
            ));
        }
        Ok(Extensions)
    }
}
