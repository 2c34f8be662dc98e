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
    pub signers: Vec<Signer>,
    /// SHA-256 of the signed transaction's canonical encoding: its leaf in the block's
    /// merkle tree, computed by the verify stage so the BLP does not hash it.
    pub merkle_leaf: [u8; 32],
}
