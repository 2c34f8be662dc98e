//! Ed25519 keys and signatures, with the text forms of `API.md`.
//!
//! * Public key: address prefix (default `CBY`) + base58(32 key bytes ‖ 4-byte
//!   RIPEMD-160 checksum of the key bytes), the same checksum scheme BitShares uses.
//! * Private key: WIF, base58(0x80 ‖ 32 seed bytes ‖ first 4 bytes of SHA-256d).
//!   Private keys implement no `Display`/`Debug` that would print them.
//! * Brain keys: BitShares-style normalisation (upper-case words, single spaces), then
//!   seed = SHA-256(SHA-512(brain_key ‖ " " ‖ sequence)).

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey};
use ripemd::Ripemd160;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256, Sha512};
use std::fmt;
use std::str::FromStr;

pub const DEFAULT_ADDRESS_PREFIX: &str = "CBY";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key {text:?} must start with the prefix {prefix:?}")]
    WrongPrefix { text: String, prefix: String },
    #[error("key text {0:?} is not valid base58")]
    Base58(String),
    #[error("key text {0:?} has the wrong length")]
    Length(String),
    #[error("key text {0:?} fails its checksum")]
    Checksum(String),
    #[error("private key is not in WIF form (version byte 0x80)")]
    WifVersion,
}

#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct PublicKey(pub [u8; 32]);

fn ripemd4(bytes: &[u8]) -> [u8; 4] {
    let h = Ripemd160::digest(bytes);
    [h[0], h[1], h[2], h[3]]
}
fn sha256d4(bytes: &[u8]) -> [u8; 4] {
    let h = Sha256::digest(Sha256::digest(bytes));
    [h[0], h[1], h[2], h[3]]
}

impl PublicKey {
    /// The all-zero key: "no key" (for example a plaintext memo).
    pub const NULL: PublicKey = PublicKey([0; 32]);

    pub fn to_string_with_prefix(&self, prefix: &str) -> String {
        let mut buf = Vec::with_capacity(36);
        buf.extend_from_slice(&self.0);
        buf.extend_from_slice(&ripemd4(&self.0));
        format!("{prefix}{}", bs58::encode(buf).into_string())
    }

    pub fn from_str_with_prefix(s: &str, prefix: &str) -> Result<Self, KeyError> {
        let Some(body) = s.strip_prefix(prefix) else {
            return Err(KeyError::WrongPrefix {
                text: s.to_string(),
                prefix: prefix.to_string(),
            });
        };
        let raw = bs58::decode(body)
            .into_vec()
            .map_err(|_| KeyError::Base58(s.to_string()))?;
        if raw.len() != 36 {
            return Err(KeyError::Length(s.to_string()));
        }
        let (key, sum) = raw.split_at(32);
        if ripemd4(key) != sum {
            return Err(KeyError::Checksum(s.to_string()));
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(key);
        Ok(PublicKey(out))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_with_prefix(DEFAULT_ADDRESS_PREFIX))
    }
}
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        PublicKey::from_str_with_prefix(s, DEFAULT_ADDRESS_PREFIX)
    }
}
impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// A 64-byte Ed25519 signature (R ‖ S).
#[derive(Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}
impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as Deserialize>::deserialize(d)?;
        let v =
            hex::decode(&s).map_err(|e| de::Error::custom(format!("bad signature hex: {e}")))?;
        let arr: [u8; 64] = v
            .try_into()
            .map_err(|_| de::Error::custom("a signature is 64 bytes (128 hex digits)"))?;
        Ok(Signature(arr))
    }
}

/// An Ed25519 private key (the 32-byte seed).
#[derive(Clone)]
pub struct PrivateKey {
    signing: SigningKey,
}

impl PrivateKey {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        PrivateKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is available");
        PrivateKey::from_seed(seed)
    }
    /// A deterministic key derived from a label: for dev chains and tests only.
    pub fn from_label(label: &str) -> Self {
        let h: [u8; 32] = Sha256::digest(label.as_bytes()).into();
        PrivateKey::from_seed(h)
    }
    /// BitShares-style brain key derivation.
    pub fn from_brain_key(brain_key: &str, sequence: u32) -> Self {
        let normalized = normalize_brain_key(brain_key);
        let inner = Sha512::digest(format!("{normalized} {sequence}").as_bytes());
        let seed: [u8; 32] = Sha256::digest(inner).into();
        PrivateKey::from_seed(seed)
    }
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.signing.sign(message).to_bytes())
    }
    pub fn to_wif(&self) -> String {
        let mut buf = Vec::with_capacity(37);
        buf.push(0x80);
        buf.extend_from_slice(&self.seed());
        let sum = sha256d4(&buf);
        buf.extend_from_slice(&sum);
        bs58::encode(buf).into_string()
    }
    pub fn from_wif(s: &str) -> Result<Self, KeyError> {
        // Never echo the private key text in errors.
        let raw = bs58::decode(s.trim())
            .into_vec()
            .map_err(|_| KeyError::Base58("<private key>".into()))?;
        if raw.len() != 37 {
            return Err(KeyError::Length("<private key>".into()));
        }
        if raw[0] != 0x80 {
            return Err(KeyError::WifVersion);
        }
        if sha256d4(&raw[..33]) != raw[33..] {
            return Err(KeyError::Checksum("<private key>".into()));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[1..33]);
        Ok(PrivateKey::from_seed(seed))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(public {})", self.public_key())
    }
}

/// Upper-cases and collapses white space, as the reference wallet does.
pub fn normalize_brain_key(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.to_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        let k = PrivateKey::from_label("alice");
        let p = k.public_key();
        let text = p.to_string();
        assert!(text.starts_with("CBY"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), p);
        let wif = k.to_wif();
        assert_eq!(PrivateKey::from_wif(&wif).unwrap().public_key(), p);
        // A flipped character breaks the checksum.
        let mut bad = text.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'2' { b'3' } else { b'2' };
        assert!(String::from_utf8(bad)
            .unwrap()
            .parse::<PublicKey>()
            .is_err());
        assert!(matches!(
            "BTS1111".parse::<PublicKey>(),
            Err(KeyError::WrongPrefix { .. })
        ));
        assert!(format!("{k:?}").contains("public"));
        assert!(!format!("{k:?}").contains(&wif));
    }

    #[test]
    fn brain_key_normalises() {
        let a = PrivateKey::from_brain_key("  correct horse\tbattery  ", 0);
        let b = PrivateKey::from_brain_key("CORRECT HORSE BATTERY", 0);
        let c = PrivateKey::from_brain_key("CORRECT HORSE BATTERY", 1);
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
    }
}
