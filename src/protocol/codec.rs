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
