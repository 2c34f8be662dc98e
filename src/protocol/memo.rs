//! Memo data carried by transfers and issues. The chain carries it opaquely; wallets
//! encrypt it end to end with the two accounts' memo keys:
//!
//! 1. **Agreement.** Each side turns its Ed25519 memo key into X25519: the private
//!    scalar is the clamped first half of SHA-512(seed) (the Ed25519 signing scalar),
//!    the public point is the Edwards point mapped to Montgomery form. The shared
//!    secret is their X25519 product; an all-zero result (a small-order key) is
//!    refused.
//! 2. **Key.** `SHA-256("carbyne-memo-v1" ‖ shared ‖ nonce as u64 little-endian)`.
//! 3. **AEAD.** XChaCha20-Poly1305 under that key with an all-zero 24-byte nonce and
//!    the associated data `from ‖ to ‖ nonce (u64 LE)`; `message` is the ciphertext
//!    with its 16-byte tag. Each memo's random `nonce` gives a fresh key, so the fixed
//!    AEAD nonce never repeats under one key.
//!
//! A memo with `from` and `to` both the null key carries its message in clear.

use super::json;
use super::keys::{PrivateKey, PublicKey};
use borsh::{BorshDeserialize, BorshSerialize};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use curve25519_dalek::edwards::CompressedEdwardsY;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

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

/// Why a memo could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoError {
    #[error("memo key {0} is not a valid curve point")]
    BadKey(PublicKey),
    #[error("memo key {0} has small order: no secret can be agreed with it")]
    WeakKey(PublicKey),
    #[error("none of the given keys is the memo's sender ({from}) or recipient ({to})")]
    NotOurs { from: PublicKey, to: PublicKey },
    #[error("the memo does not decrypt with the memo keys: it is corrupt or for other keys")]
    Corrupt,
    #[error("the memo message is not UTF-8 text")]
    NotText,
    #[error("memo message is {0} bytes, more than the {MEMO_MESSAGE_MAX} allowed")]
    TooLong(usize),
}

/// The X25519 secret of `ours` with `theirs` (both Ed25519 memo keys).
fn shared_secret(ours: &PrivateKey, theirs: &PublicKey) -> Result<[u8; 32], MemoError> {
    let point = CompressedEdwardsY(theirs.0)
        .decompress()
        .ok_or(MemoError::BadKey(*theirs))?;
    let expanded = Sha512::digest(ours.seed());
    let mut scalar = [0u8; 32];
    scalar.copy_from_slice(&expanded[..32]);
    let shared = point.to_montgomery().mul_clamped(scalar).to_bytes();
    if shared == [0u8; 32] {
        return Err(MemoError::WeakKey(*theirs));
    }
    Ok(shared)
}

fn cipher(shared: &[u8; 32], nonce: u64) -> XChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(b"carbyne-memo-v1");
    h.update(shared);
    h.update(nonce.to_le_bytes());
    let key: [u8; 32] = h.finalize().into();
    XChaCha20Poly1305::new(&key.into())
}

fn associated_data(from: &PublicKey, to: &PublicKey, nonce: u64) -> [u8; 72] {
    let mut aad = [0u8; 72];
    aad[..32].copy_from_slice(&from.0);
    aad[32..64].copy_from_slice(&to.0);
    aad[64..].copy_from_slice(&nonce.to_le_bytes());
    aad
}

impl Memo {
    /// Encrypts `text` from the holder of `from` (a memo private key) to `to`, under
    /// a caller-chosen `nonce` (wallets draw it at random).
    pub fn seal(
        from: &PrivateKey,
        to: &PublicKey,
        nonce: u64,
        text: &str,
    ) -> Result<Memo, MemoError> {
        let from_pub = from.public_key();
        let shared = shared_secret(from, to)?;
        let message = cipher(&shared, nonce)
            .encrypt(
                &[0u8; 24].into(),
                Payload {
                    msg: text.as_bytes(),
                    aad: &associated_data(&from_pub, to, nonce),
                },
            )
            .map_err(|_| MemoError::TooLong(text.len()))?;
        if message.len() > MEMO_MESSAGE_MAX {
            return Err(MemoError::TooLong(message.len()));
        }
        Ok(Memo {
            from: from_pub,
            to: *to,
            nonce,
            message,
        })
    }

    /// A memo in clear (both keys null).
    pub fn plain(text: &str) -> Memo {
        Memo {
            from: PublicKey::NULL,
            to: PublicKey::NULL,
            nonce: 0,
            message: text.as_bytes().to_vec(),
        }
    }

    /// Decrypts with whichever of `keys` is the sender's or the recipient's memo key.
    pub fn open(&self, keys: &[PrivateKey]) -> Result<String, MemoError> {
        if self.from == PublicKey::NULL && self.to == PublicKey::NULL {
            return String::from_utf8(self.message.clone()).map_err(|_| MemoError::NotText);
        }
        let (ours, theirs) = keys
            .iter()
            .find_map(|k| {
                let public = k.public_key();
                if public == self.to {
                    Some((k, self.from))
                } else if public == self.from {
                    Some((k, self.to))
                } else {
                    None
                }
            })
            .ok_or(MemoError::NotOurs {
                from: self.from,
                to: self.to,
            })?;
        let shared = shared_secret(ours, &theirs)?;
        let plain = cipher(&shared, self.nonce)
            .decrypt(
                &[0u8; 24].into(),
                Payload {
                    msg: &self.message,
                    aad: &associated_data(&self.from, &self.to, self.nonce),
                },
            )
            .map_err(|_| MemoError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| MemoError::NotText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(label: &str) -> PrivateKey {
        PrivateKey::from_label(label)
    }

    #[test]
    fn both_ends_read_a_sealed_memo_and_nobody_else() {
        let (alice, bob, eve) = (key("alice"), key("bob"), key("eve"));
        let memo = Memo::seal(&alice, &bob.public_key(), 42, "rent for March").unwrap();
        assert_ne!(memo.message, b"rent for March".to_vec());
        assert_eq!(memo.message.len(), "rent for March".len() + 16);
        assert_eq!(
            memo.open(std::slice::from_ref(&bob)).unwrap(),
            "rent for March"
        );
        assert_eq!(
            memo.open(std::slice::from_ref(&alice)).unwrap(),
            "rent for March"
        );
        assert!(matches!(
            memo.open(std::slice::from_ref(&eve)),
            Err(MemoError::NotOurs { .. })
        ));
        // Eve claiming to be the recipient cannot forge the shared secret.
        let mut stolen = memo.clone();
        stolen.to = eve.public_key();
        assert_eq!(stolen.open(&[eve]), Err(MemoError::Corrupt));
    }

    #[test]
    fn tampering_is_detected() {
        let (alice, bob) = (key("alice"), key("bob"));
        let memo = Memo::seal(&alice, &bob.public_key(), 7, "hello").unwrap();
        let mut flipped = memo.clone();
        flipped.message[0] ^= 1;
        assert_eq!(
            flipped.open(std::slice::from_ref(&bob)),
            Err(MemoError::Corrupt)
        );
        let mut renonced = memo.clone();
        renonced.nonce = 8;
        assert_eq!(
            renonced.open(std::slice::from_ref(&bob)),
            Err(MemoError::Corrupt)
        );
        let mut truncated = memo;
        truncated.message.truncate(10);
        assert_eq!(truncated.open(&[bob]), Err(MemoError::Corrupt));
    }

    #[test]
    fn nonces_give_different_ciphertexts_and_clear_memos_read_back() {
        let (alice, bob) = (key("alice"), key("bob"));
        let a = Memo::seal(&alice, &bob.public_key(), 1, "same").unwrap();
        let b = Memo::seal(&alice, &bob.public_key(), 2, "same").unwrap();
        assert_ne!(a.message, b.message);
        assert_eq!(Memo::plain("hi").open(&[]).unwrap(), "hi");
    }

    #[test]
    fn small_order_and_invalid_keys_are_refused() {
        let alice = key("alice");
        // The identity point (y = 1) has order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            Memo::seal(&alice, &PublicKey(identity), 1, "x"),
            Err(MemoError::WeakKey(PublicKey(identity)))
        );
        // y = 2 is not on the curve.
        let mut off_curve = [0u8; 32];
        off_curve[0] = 2;
        assert_eq!(
            Memo::seal(&alice, &PublicKey(off_curve), 1, "x"),
            Err(MemoError::BadKey(PublicKey(off_curve)))
        );
    }

    #[test]
    fn oversize_messages_are_refused() {
        let (alice, bob) = (key("alice"), key("bob"));
        let long = "x".repeat(MEMO_MESSAGE_MAX);
        assert!(matches!(
            Memo::seal(&alice, &bob.public_key(), 1, &long),
            Err(MemoError::TooLong(_))
        ));
    }
}
