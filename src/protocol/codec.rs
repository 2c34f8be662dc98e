//! The canonical binary encoding: borsh (little-endian fixed-width integers, u32
//! length prefixes, one-byte enum/option tags) with strict decoding.
//!
//! Canonical means one value has exactly one encoding: decoding rejects trailing bytes,
//! non-0/1 booleans and option tags, unsorted or duplicate set/map keys
//! (`de_strict_order`), non-UTF-8 strings and non-empty `extensions`. So
//! `encode(decode(b)) == b` for every `b` that decodes. See `docs/PROTOCOL.md`.

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("{what} is {len} bytes, more than the {max} allowed")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
}

pub fn encode<T: BorshSerialize>(v: &T) -> Vec<u8> {
    borsh::to_vec(v).expect("encoding into a Vec cannot fail")
}

/// Decodes exactly one value from `bytes`, refusing oversized input and trailing bytes.
pub fn decode<T: BorshDeserialize>(
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<T, CodecError> {
    if bytes.len() > max {
        return Err(CodecError::TooLarge {
            what,
            len: bytes.len(),
            max,
        });
    }
    borsh::from_slice(bytes).map_err(|e| CodecError::Malformed {
        what,
        reason: e.to_string(),
    })
}

pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
pub(crate) const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The three digests of a signed transaction whose encoding is `unsigned ‖ tail`:
/// `(SHA-256(unsigned), SHA-256(prefix ‖ unsigned), SHA-256(unsigned ‖ tail))`, that is
/// its id, its signing digest (with the chain id as `prefix`) and its merkle leaf,
/// hashed side by side ([`super::sha256_lanes`]). The verify stage hashes a whole
/// batch at once with [`super::sha256_lanes::sha256_many`] instead.
pub fn sha256_three(prefix: &[u8], unsigned: &[u8], tail: &[u8]) -> [[u8; 32]; 3] {
    let mut out = [[0u8; 32]; 3];
    super::sha256_lanes::sha256_many(
        &[[unsigned, &[]], [prefix, unsigned], [unsigned, tail]],
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn three_hashes_are_the_separate_hashes(
            prefix in proptest::collection::vec(any::<u8>(), 0..80),
            unsigned in proptest::collection::vec(any::<u8>(), 0..300),
            tail in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let [id, digest, leaf] = sha256_three(&prefix, &unsigned, &tail);
            prop_assert_eq!(id, sha256(&[&unsigned]));
            prop_assert_eq!(digest, sha256(&[&prefix, &unsigned]));
            prop_assert_eq!(leaf, sha256(&[&unsigned, &tail]));
        }
    }
}
