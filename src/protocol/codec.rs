//! The canonical binary encoding: borsh (little-endian fixed-width integers, u32
//! length prefixes, one-byte enum/option tags) with strict decoding.
//!
//! Canonical means one value has exactly one encoding: decoding rejects trailing bytes,
//! non-0/1 booleans and option tags, unsorted or duplicate set/map keys
//! (`de_strict_order`), non-UTF-8 strings and non-empty `extensions`. So
//! `encode(decode(b)) == b` for every `b` that decodes. See `docs/PROTOCOL.md`.

use super::sha256_lanes::{sha256_many, Parts};
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

/// The three messages a signed transaction is hashed as, where `signed` is its
/// encoding and the first `unsigned_len` bytes of it the unsigned transaction:
/// `unsigned` (its id), `prefix ‖ unsigned` (its signing digest, with the chain id as
/// `prefix`) and `signed` (its merkle leaf). Each lies where it is, so the hashing
/// reads its whole blocks in place.
pub fn three_messages<'a>(
    prefix: &'a [u8],
    signed: &'a [u8],
    unsigned_len: usize,
) -> [Parts<'a>; 3] {
    let unsigned = &signed[..unsigned_len];
    [[unsigned, &[]], [prefix, unsigned], [signed, &[]]]
}

/// The digests of [`three_messages`], hashed side by side ([`super::sha256_lanes`]).
/// The verify stage hashes a whole batch's messages at once instead.
pub fn sha256_three(prefix: &[u8], signed: &[u8], unsigned_len: usize) -> [[u8; 32]; 3] {
    let mut out = [[0u8; 32]; 3];
    sha256_many(&three_messages(prefix, signed, unsigned_len), &mut out);
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
            let signed = [&unsigned[..], &tail[..]].concat();
            let [id, digest, leaf] = sha256_three(&prefix, &signed, unsigned.len());
            prop_assert_eq!(id, sha256(&[&unsigned]));
            prop_assert_eq!(digest, sha256(&[&prefix, &unsigned]));
            prop_assert_eq!(leaf, sha256(&[&unsigned, &tail]));
        }
    }
}
