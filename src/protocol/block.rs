//! Block headers and signed blocks.
//!
//! * header bytes = borsh(`BlockHeader`);
//! * block id = SHA-256(header bytes) with its first 4 bytes replaced by the block number
//!   big-endian (so the number can be read from the id, as in BitShares);
//! * the witness signs SHA-256(chain_id ‖ header bytes);
//! * `transaction_merkle_root`: leaves are SHA-256 of each signed transaction's bytes;
//!   each level hashes pairs `SHA-256(left ‖ right)`, an odd last node moves up unpaired;
//!   no transactions gives 32 zero bytes.

use super::codec::{encode, sha256};
use super::extensions::Extensions;
use super::ids::WitnessId;
use super::keys::Signature;
use super::sha256_lanes::merkle_level_in_place;
use super::time::TimePointSec;
use super::transaction::{digest_type, ChainId, Digest32, SignedTransaction};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

digest_type!(
    /// A block id; the first four bytes are the block number, big-endian.
    BlockId);

impl BlockId {
    pub fn block_num(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
    /// The TaPoS prefix: bytes 4..8 read little-endian.
    pub fn tapos_prefix(&self) -> u32 {
        u32::from_le_bytes([self.0[4], self.0[5], self.0[6], self.0[7]])
    }
}

#[derive(
    Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct BlockHeader {
    pub previous: BlockId,
    pub timestamp: TimePointSec,
    pub witness: WitnessId,
    pub transaction_merkle_root: Digest32,
    pub extensions: Extensions,
}

impl BlockHeader {
    pub fn block_num(&self) -> u32 {
        self.previous.block_num() + 1
    }
    pub fn id(&self) -> BlockId {
        let mut h = sha256(&[&encode(self)]);
        h[..4].copy_from_slice(&self.block_num().to_be_bytes());
        BlockId(h)
    }
    pub fn signing_digest(&self, chain_id: &ChainId) -> Digest32 {
        Digest32(sha256(&[&chain_id.0, &encode(self)]))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedBlock {
    #[serde(flatten)]
    pub header: BlockHeader,
    pub witness_signature: Signature,
    pub transactions: Vec<SignedTransaction>,
}

/// Bytes of a signed block besides its transactions: header (80), witness signature
/// (64) and the transaction count (4).
pub const BLOCK_ENVELOPE_BYTES: usize = 148;

/// The merkle root over the signed transactions.
pub fn merkle_root(transactions: &[SignedTransaction]) -> Digest32 {
    merkle_root_of_leaves(transactions.iter().map(|t| sha256(&[&encode(t)])).collect())
}

/// The merkle root over precomputed leaves (SHA-256 of each signed transaction's
/// encoding, as the verify stage computes them).
pub fn merkle_root_of_leaves(mut level: Vec<[u8; 32]>) -> Digest32 {
    merkle_root_in_place(&mut level)
}

/// [`merkle_root_of_leaves`] computed over the caller's buffer, which it overwrites.
pub fn merkle_root_in_place(level: &mut [[u8; 32]]) -> Digest32 {
    if level.is_empty() {
        return Digest32::default();
    }
    // Each level is written over the front of the one below it.
    let mut len = level.len();
    while len > 1 {
        merkle_level_in_place(&mut level[..len], len / 2);
        if len % 2 == 1 {
            level[len / 2] = level[len - 1];
        }
        len = len.div_ceil(2);
    }
    Digest32(level[0])
}

impl SignedBlock {
    pub fn block_num(&self) -> u32 {
        self.header.block_num()
    }
    pub fn id(&self) -> BlockId {
        self.header.id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree as docs/PROTOCOL.md 10.3 states it, level by level into new lists.
    fn merkle_by_levels(mut level: Vec<[u8; 32]>) -> Digest32 {
        if level.is_empty() {
            return Digest32::default();
        }
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|p| {
                    if p.len() == 2 {
                        sha256(&[&p[0], &p[1]])
                    } else {
                        p[0]
                    }
                })
                .collect();
        }
        Digest32(level[0])
    }

    #[test]
    fn merkle_root_in_place_agrees_with_the_levels() {
        for n in 0..40u8 {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| sha256(&[&[i]])).collect();
            assert_eq!(
                merkle_root_of_leaves(leaves.clone()),
                merkle_by_levels(leaves),
                "{n} leaves"
            );
        }
    }

    #[test]
    fn envelope_size_is_exact() {
        let empty = SignedBlock {
            header: BlockHeader::default(),
            witness_signature: Signature([0; 64]),
            transactions: vec![],
        };
        assert_eq!(encode(&empty).len(), BLOCK_ENVELOPE_BYTES);
    }
}
