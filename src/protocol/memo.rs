//! Memo data carried by transfers and issues. The chain carries it opaquely; the
//! wallet encrypts it (X25519 agreement from the memo keys, then an AEAD).

use super::json;
use super::keys::PublicKey;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The largest memo message accepted, in bytes.
pub const MEMO_MESSAGE_MAX: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Memo {
    pub from: PublicKey,
    pub to: PublicKey,
    #[serde(with = "json::int64")]
    pub nonce: u64,
    #[serde(with = "json::hex_bytes")]
    pub message: Vec<u8>,
}

impl Memo {
    pub fn validate(&self) -> Result<(), String> {
        if self.message.len() > MEMO_MESSAGE_MAX {
            return Err(format!(
                "memo message is {} bytes, more than the {MEMO_MESSAGE_MAX} allowed",
                self.message.len()
            ));
        }
        Ok(())
    }
    /// Bytes charged by `price_per_kbyte`.
    pub fn packed_size(&self) -> usize {
        32 + 32 + 8 + 4 + self.message.len()
    }
}
