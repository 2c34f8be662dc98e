//! The BLP's input: a transaction that the verify stage has decoded, validated,
//! hashed and whose signatures it has checked.

use super::objects::KeyId;
use crate::protocol::{PublicKey, SignedTransaction, TransactionId};
use std::sync::Arc;

/// A key that produced a valid signature on the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signer {
    pub key: PublicKey,
    /// The verify stage's hint from its key-id cache. The BLP checks the hint with one
    /// array read; without it (a key registered moments ago) it looks the key up.
    pub key_id: Option<KeyId>,
}

/// A transaction's signers: most have one, kept inline (no allocation to make on the
/// verify side and free on the other).
pub type Signers = smallvec::SmallVec<[Signer; 1]>;

/// Only the verify stage constructs these; the BLP trusts that:
/// * `trx.validate()` passed (stateless rules);
/// * `id`, `packed_size` and `merkle_leaf` belong to `trx`;
/// * every `signers` entry made a valid signature over the signing digest, with no key
///   twice.
#[derive(Debug, Clone)]
pub struct VerifiedTransaction {
    pub trx: Arc<SignedTransaction>,
    pub id: TransactionId,
    /// Bytes of the signed transaction's canonical encoding.
    pub packed_size: u32,
    /// The keys that signed it, with their key-id hints: one inline, as most
    /// transactions have.
    pub signers: Signers,
    /// SHA-256 of the signed transaction's canonical encoding: its leaf in the block's
    /// merkle tree, computed by the verify stage so the BLP does not hash it.
    pub merkle_leaf: [u8; 32],
}
