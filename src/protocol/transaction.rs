//! Transactions: TaPoS reference, expiration, operations; and their signed form.
//!
//! * unsigned bytes = borsh(`Transaction`);
//! * transaction id = SHA-256(unsigned bytes);
//! * signing digest = SHA-256(chain_id ‖ unsigned bytes);
//! * borsh(`SignedTransaction`) = unsigned bytes ‖ u32 count ‖ 64-byte signatures ‖
//!   u32 count ‖ 32-byte signer keys.
//!
//! Ed25519 signatures do not reveal their key (BitShares recovers secp256k1 keys from
//! signatures), so a signed transaction names the key of each signature in
//! `signer_keys`, in the same order. Verification is then one check per signature.

use super::codec::{encode, sha256};
use super::extensions::Extensions;
use super::keys::{PublicKey, Signature};
use super::operations::{Operation, RequiredAuthorities, ValidationError};
use super::time::TimePointSec;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Decode-time bounds: the chain's `maximum_transaction_size` (default 2048) is the real
/// limit; these only cap work on hostile input.
pub const OPERATIONS_PER_TRANSACTION_MAX: usize = 256;
pub const SIGNATURES_PER_TRANSACTION_MAX: usize = 64;

macro_rules! digest_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize)]
        pub struct $name(pub [u8; 32]);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&hex::encode(self.0)) }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { fmt::Display::fmt(self, f) }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let v = hex::decode(s).map_err(|e| format!("bad hex: {e}"))?;
                let a: [u8; 32] = v.try_into().map_err(|_| "expected 32 bytes (64 hex digits)".to_string())?;
                Ok($name(a))
            }
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
pub(crate) use digest_type;

digest_type!(
    /// SHA-256 of the unsigned transaction bytes.
    TransactionId);
digest_type!(
    /// SHA-256 of the canonical genesis.
    ChainId);
digest_type!(
    /// A generic 32-byte digest (merkle roots, signing digests, state digests).
    Digest32);

#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Transaction {
    /// `block_num & 0xFFFF` of the referenced block.
    pub ref_block_num: u16,
    /// Bytes 4..8 of the referenced block id, little-endian.
    pub ref_block_prefix: u32,
    pub expiration: TimePointSec,
    pub operations: Vec<Operation>,
    pub extensions: Extensions,
}

impl Transaction {
    pub fn id(&self) -> TransactionId {
        TransactionId(sha256(&[&encode(self)]))
    }
    pub fn signing_digest(&self, chain_id: &ChainId) -> Digest32 {
        Digest32(sha256(&[&chain_id.0, &encode(self)]))
    }
    /// Stateless checks of the whole transaction.
    pub fn validate(&self) -> Result<(), TransactionShapeError> {
        if self.operations.is_empty() {
            return Err(TransactionShapeError::NoOperations);
        }
        if self.operations.len() > OPERATIONS_PER_TRANSACTION_MAX {
            return Err(TransactionShapeError::TooManyOperations(
                self.operations.len(),
            ));
        }
        for (index, op) in self.operations.iter().enumerate() {
            op.validate()
                .map_err(|error| TransactionShapeError::Operation { index, error })?;
        }
        Ok(())
    }
    /// The union of the operations' required authorities; an account required as owner
    /// is removed from the active set.
    pub fn required_authorities(&self) -> RequiredAuthorities {
        let mut r = RequiredAuthorities::default();
        for op in &self.operations {
            op.required_authorities(&mut r);
        }
        r.owner.sort_unstable();
        r.owner.dedup();
        r.active.sort_unstable();
        r.active.dedup();
        r.active.retain(|a| r.owner.binary_search(a).is_err());
        r
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionShapeError {
    #[error("a transaction needs at least one operation")]
    NoOperations,
    #[error("{0} operations in one transaction is more than {OPERATIONS_PER_TRANSACTION_MAX}")]
    TooManyOperations(usize),
    #[error("operation {index}: {error}")]
    Operation {
        index: usize,
        error: ValidationError,
    },
    #[error("{0} signatures is more than {SIGNATURES_PER_TRANSACTION_MAX}")]
    TooManySignatures(usize),
    #[error("the same signature appears twice")]
    DuplicateSignature,
    #[error("{signatures} signatures but {keys} signer keys: each signature needs its key")]
    SignerKeysMismatch { signatures: usize, keys: usize },
    #[error("signer key {0} appears twice")]
    DuplicateSigner(String),
}

#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct SignedTransaction {
    #[serde(flatten)]
    pub trx: Transaction,
    #[borsh(
        serialize_with = "inline_seq::serialize",
        deserialize_with = "inline_seq::deserialize"
    )]
    pub signatures: Signatures,
    /// The public key of each signature, in the same order.
    #[borsh(
        serialize_with = "inline_seq::serialize",
        deserialize_with = "inline_seq::deserialize"
    )]
    pub signer_keys: SignerKeys,
}

/// A transaction's signatures: one inline, as most transactions have, so decoding one
/// allocates nothing for them. Encoded as a `Vec` is (u32 count, then each).
pub type Signatures = smallvec::SmallVec<[Signature; 1]>;
/// The key of each signature, in the same order; one inline.
pub type SignerKeys = smallvec::SmallVec<[PublicKey; 1]>;

/// Borsh for inline sequences, byte for byte as for a `Vec`: a u32 count, then each
/// element.
mod inline_seq {
    use borsh::{BorshDeserialize, BorshSerialize};
    use smallvec::{Array, SmallVec};
    use std::io::{Error, ErrorKind, Read, Result, Write};

    pub fn serialize<A, W>(v: &SmallVec<A>, w: &mut W) -> Result<()>
    where
        A: Array,
        A::Item: BorshSerialize,
        W: Write,
    {
        let n = u32::try_from(v.len())
            .map_err(|_| Error::new(ErrorKind::InvalidData, "too many elements"))?;
        n.serialize(w)?;
        v.iter().try_for_each(|e| e.serialize(w))
    }

    /// Elements are read one at a time: a count larger than the input runs out of
    /// bytes (an error) without reserving room for it.
    pub fn deserialize<A, R>(r: &mut R) -> Result<SmallVec<A>>
    where
        A: Array,
        A::Item: BorshDeserialize,
        R: Read,
    {
        let n = u32::deserialize_reader(r)?;
        let mut v = SmallVec::new();
        for _ in 0..n {
            v.push(A::Item::deserialize_reader(r)?);
        }
        Ok(v)
    }
}

impl SignedTransaction {
    pub fn validate(&self) -> Result<(), TransactionShapeError> {
        if self.signatures.len() > SIGNATURES_PER_TRANSACTION_MAX {
            return Err(TransactionShapeError::TooManySignatures(
                self.signatures.len(),
            ));
        }
        if self.signer_keys.len() != self.signatures.len() {
            return Err(TransactionShapeError::SignerKeysMismatch {
                signatures: self.signatures.len(),
                keys: self.signer_keys.len(),
            });
        }
        for (i, s) in self.signatures.iter().enumerate() {
            if self.signatures[..i].contains(s) {
                return Err(TransactionShapeError::DuplicateSignature);
            }
        }
        for (i, k) in self.signer_keys.iter().enumerate() {
            if self.signer_keys[..i].contains(k) {
                return Err(TransactionShapeError::DuplicateSigner(k.to_string()));
            }
        }
        self.trx.validate()
    }
    /// Adds a signature by `key` under `chain_id`.
    pub fn sign(&mut self, key: &super::keys::PrivateKey, chain_id: &ChainId) {
        let digest = self.trx.signing_digest(chain_id);
        self.signatures.push(key.sign(&digest.0));
        self.signer_keys.push(key.public_key());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codec;

    /// Signatures and keys, held inline, encode as a `Vec` of them does (u32 count,
    /// then each) for none, one and several; and a count the bytes cannot hold is a
    /// decode error, not an allocation.
    #[test]
    fn inline_signatures_encode_as_a_vec() {
        for n in 0..3u8 {
            let t = SignedTransaction {
                trx: Transaction::default(),
                signatures: (0..n).map(|i| Signature([i; 64])).collect(),
                signer_keys: (0..n).map(|i| PublicKey([i; 32])).collect(),
            };
            let as_vecs = [
                borsh::to_vec(&t.trx).unwrap(),
                borsh::to_vec(&t.signatures.to_vec()).unwrap(),
                borsh::to_vec(&t.signer_keys.to_vec()).unwrap(),
            ]
            .concat();
            let bytes = codec::encode(&t);
            assert_eq!(bytes, as_vecs, "{n} signatures");
            let back: SignedTransaction = codec::decode("t", &bytes, 1 << 16).unwrap();
            assert_eq!(back, t);
        }
        let mut hostile = borsh::to_vec(&Transaction::default()).unwrap();
        hostile.extend_from_slice(&u32::MAX.to_le_bytes());
        hostile.extend_from_slice(&[7; 64]);
        assert!(codec::decode::<SignedTransaction>("t", &hostile, 1 << 16).is_err());
    }
}
