//! The verify stage's work for one transaction or block: everything stateless and
//! cryptographic, so that the BLP receives `VerifiedTransaction`s.
//!
//! Signatures are checked under the consensus rule in `rule` (ZIP-215).

pub mod cache;
pub mod cpu;
pub mod rule;
pub mod stage;
pub mod worker;

use crate::chain::objects::KeyId;
use crate::chain::{BlockContext, Signer, Signers, VerifiedTransaction};
use crate::protocol::block::merkle_root;
use crate::protocol::codec::{self, CodecError};
use crate::protocol::sha256_lanes;
use crate::protocol::transaction::TransactionShapeError;
use crate::protocol::{ChainId, PublicKey, SignedBlock, SignedTransaction};
use std::sync::Arc;

/// Decode-time cap for one transaction (the chain parameter is checked by the BLP).
pub const TRANSACTION_BYTES_MAX: usize = 64 * 1024;
/// Decode-time cap for one block.
pub const BLOCK_BYTES_MAX: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("malformed transaction: {0}")]
    Shape(#[from] TransactionShapeError),
    #[error("signature {index} is not a valid Ed25519 signature by its key {key}")]
    BadSignature { index: usize, key: String },
    #[error("the block's merkle root does not match its transactions")]
    MerkleMismatch,
    #[error("the block is not signed by the key {0}")]
    BadBlockSignature(String),
}

/// Maps keys to key ids (the verify stage's key cache).
pub trait KeyLookup {
    fn key_id(&self, key: &PublicKey) -> Option<KeyId>;
}
impl KeyLookup for crate::chain::Chain {
    fn key_id(&self, key: &PublicKey) -> Option<KeyId> {
        crate::chain::Chain::key_id(self, key)
    }
}
/// No hints: the BLP resolves every key itself.
pub struct NoKeyHints;
impl KeyLookup for NoKeyHints {
    fn key_id(&self, _key: &PublicKey) -> Option<KeyId> {
        None
    }
}

/// A transaction after its stateless checks and hashing, before signature checks.
/// The transaction is already where the BLP will read it (behind the `Arc` of
/// [`VerifiedTransaction::trx`]), so the steps after decoding move a few words, not
/// the whole transaction.
pub struct Hashed {
    pub trx: Arc<SignedTransaction>,
    pub id: crate::protocol::TransactionId,
    /// SHA-256(chain_id ‖ unsigned bytes): the message every signature signs.
    pub digest: [u8; 32],
    /// Bytes of the signed transaction's canonical encoding.
    pub packed_size: u32,
    /// SHA-256 of that encoding (the merkle leaf).
    pub merkle_leaf: [u8; 32],
}

/// Stateless checks, transaction id, signing digest and size.
pub fn hash_transaction(trx: SignedTransaction, chain_id: &ChainId) -> Result<Hashed, VerifyError> {
    let bytes = codec::encode(&trx);
    hash_decoded(trx, &bytes, chain_id)
}

/// As [`hash_transaction`], for a transaction that was decoded from `bytes`. The codec
/// accepts only canonical encodings (`tests/codec_props.rs`), so `bytes` *is* the
/// transaction's encoding, and it is hashed where it lies instead of being encoded
/// again: unsigned transaction ‖ u32 count ‖ 64-byte signatures ‖ u32 count ‖ 32-byte
/// keys. `bytes` must be what `trx` was decoded from: the verify worker passes the
/// frame it decoded. (Bytes shorter than the signature part cannot be, and panic.)
pub fn hash_decoded(
    trx: SignedTransaction,
    bytes: &[u8],
    chain_id: &ChainId,
) -> Result<Hashed, VerifyError> {
    let unsigned = checked_unsigned(&trx, bytes)?;
    let digests = codec::sha256_three(&chain_id.0, bytes, unsigned.len());
    Ok(Hashed::from_digests(
        Arc::new(trx),
        bytes.len() as u32,
        digests,
    ))
}

/// [`hash_decoded`] for each of `items`, in order. The three digests of every
/// transaction that passes its stateless checks are computed together, several
/// messages side by side ([`sha256_lanes`]), which is how the verify worker hashes a
/// batch. The transactions come already behind their `Arc`s, so that nothing moves
/// them again on the way to the BLP.
pub fn hash_decoded_batch(
    items: Vec<(Arc<SignedTransaction>, &[u8])>,
    chain_id: &ChainId,
) -> Vec<Result<Hashed, VerifyError>> {
    let mut valid = Vec::with_capacity(items.len());
    let mut msgs = Vec::with_capacity(3 * items.len());
    for (trx, bytes) in items {
        let unsigned = match checked_unsigned(&trx, bytes) {
            Ok(u) => u,
            Err(e) => {
                valid.push(Err(e));
                continue;
            }
        };
        msgs.extend(codec::three_messages(&chain_id.0, bytes, unsigned.len()));
        valid.push(Ok((trx, bytes.len() as u32)));
    }
    let mut digests = vec![[0u8; 32]; msgs.len()];
    sha256_lanes::sha256_many(&msgs, &mut digests);
    let mut digests = digests.chunks_exact(3);
    valid
        .into_iter()
        .map(|v| {
            let (trx, packed_size) = v?;
            let three = digests.next().expect("three digests each");
            Ok(Hashed::from_digests(
                trx,
                packed_size,
                three.try_into().expect("chunks of three"),
            ))
        })
        .collect()
}

/// `trx`'s stateless checks; then the unsigned transaction's bytes inside `bytes`, which
/// must be what `trx` was decoded from.
fn checked_unsigned<'a>(trx: &SignedTransaction, bytes: &'a [u8]) -> Result<&'a [u8], VerifyError> {
    trx.validate()?;
    let unsigned =
        unsigned_part(trx, bytes).expect("hash_decoded: `bytes` is not the encoding of `trx`");
    debug_assert_eq!(unsigned, &codec::encode(&trx.trx)[..], "canonical encoding");
    Ok(unsigned)
}

/// The unsigned transaction's bytes inside `bytes`, the canonical encoding of `trx`:
/// everything before u32 count ‖ 64-byte signatures ‖ u32 count ‖ 32-byte keys.
/// `None` if `bytes` is too short to be that encoding.
pub fn unsigned_part<'a>(trx: &SignedTransaction, bytes: &'a [u8]) -> Option<&'a [u8]> {
    let tail = 8 + 64 * trx.signatures.len() + 32 * trx.signer_keys.len();
    bytes.get(..bytes.len().checked_sub(tail)?)
}

/// The signers a transaction names, with the key-id hints `keys` has for them.
pub fn signers(trx: &SignedTransaction, keys: &dyn KeyLookup) -> Signers {
    trx.signer_keys
        .iter()
        .map(|k| Signer {
            key: *k,
            key_id: keys.key_id(k),
        })
        .collect()
}

impl Hashed {
    /// From the digests of [`codec::three_messages`]: id, signing digest, merkle leaf.
    fn from_digests(
        trx: Arc<SignedTransaction>,
        packed_size: u32,
        [id, digest, merkle_leaf]: [[u8; 32]; 3],
    ) -> Self {
        Hashed {
            id: crate::protocol::TransactionId(id),
            digest,
            packed_size,
            merkle_leaf,
            trx,
        }
    }
    /// The BLP's input, once every signature has been checked.
    pub(crate) fn into_verified(self, keys: &dyn KeyLookup) -> VerifiedTransaction {
        let signers = signers(&self.trx, keys);
        VerifiedTransaction {
            trx: self.trx,
            id: self.id,
            packed_size: self.packed_size,
            signers,
            merkle_leaf: self.merkle_leaf,
        }
    }
}

/// Checks `trx` statelessly, computes its id and signing digest, and verifies each
/// signature against the key it names.
pub fn verify_transaction(
    trx: SignedTransaction,
    chain_id: &ChainId,
    keys: &dyn KeyLookup,
) -> Result<VerifiedTransaction, VerifyError> {
    let h = hash_transaction(trx, chain_id)?;
    for (index, (sig, key)) in h.trx.signatures.iter().zip(&h.trx.signer_keys).enumerate() {
        if rule::verify(key, &h.digest, sig).is_err() {
            return Err(VerifyError::BadSignature {
                index,
                key: key.to_string(),
            });
        }
    }
    Ok(h.into_verified(keys))
}

/// Decodes a transaction from its canonical bytes, then verifies it.
pub fn verify_transaction_bytes(
    bytes: &[u8],
    chain_id: &ChainId,
    keys: &dyn KeyLookup,
) -> Result<VerifiedTransaction, VerifyError> {
    let trx: SignedTransaction = codec::decode("signed transaction", bytes, TRANSACTION_BYTES_MAX)?;
    verify_transaction(trx, chain_id, keys)
}

/// Stateless block checks: merkle root and the witness signature by `signing_key`.
pub fn verify_block_header(
    block: &SignedBlock,
    chain_id: &ChainId,
    signing_key: &PublicKey,
) -> Result<BlockContext, VerifyError> {
    if merkle_root(&block.transactions) != block.header.transaction_merkle_root {
        return Err(VerifyError::MerkleMismatch);
    }
    let digest = block.header.signing_digest(chain_id);
    if rule::verify(signing_key, &digest.0, &block.witness_signature).is_err() {
        return Err(VerifyError::BadBlockSignature(signing_key.to_string()));
    }
    Ok(BlockContext {
        id: block.id(),
        signer: *signing_key,
        packed_size: codec::encode(block).len(),
    })
}
