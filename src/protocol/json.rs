//! JSON conventions shared by protocol types (`API.md`).
//!
//! Integers outside the i32 range are written as strings; readers accept both forms.

use serde::{de, Deserialize, Deserializer, Serializer};

/// serde helper for 64-bit integers: `#[serde(with = "json::int64")]`.
pub mod int64 {
    use super::*;
    pub fn serialize<S: Serializer, T: Copy + Into<i128>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        let wide: i128 = (*v).into();
        if wide >= i32::MIN as i128 && wide <= i32::MAX as i128 {
            s.serialize_i64(wide as i64)
        } else {
            s.collect_str(&wide)
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            I(i64),
            U(u64),
            S(String),
        }
        let wide: i128 = match Either::deserialize(d)? {
            Either::I(v) => v as i128,
            Either::U(v) => v as i128,
            Either::S(s) => s
                .trim()
                .parse::<i128>()
                .map_err(|_| de::Error::custom(format!("expected an integer, got {s:?}")))?,
        };
        T::try_from(wide).map_err(|_| de::Error::custom(format!("integer {wide} out of range")))
    }
}

/// serde helper for byte strings as lowercase hex.
pub mod hex_bytes {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        hex::decode(&s).map_err(|e| de::Error::custom(format!("bad hex: {e}")))
    }
}

/// serde helper for ordered maps written as arrays of `[key, value]` pairs.
pub mod pairs {
    use super::*;
    use serde::ser::SerializeSeq;
    use serde::Serialize;
    use std::collections::BTreeMap;
    pub fn serialize<S: Serializer, K: Serialize, V: Serialize>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(m.len()))?;
        for (k, v) in m {
            seq.serialize_element(&(k, v))?;
        }
        seq.end()
    }
    pub fn deserialize<'de, D, K, V>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        D: Deserializer<'de>,
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
    {
        let items: Vec<(K, V)> = <Vec<_> as Deserialize>::deserialize(d)?;
        let len = items.len();
        let map: BTreeMap<K, V> = items.into_iter().collect();
        if map.len() != len {
            return Err(de::Error::custom("duplicate key in map"));
        }
        Ok(map)
    }
}
