//! The consensus signature rule: Ed25519 under ZIP-215.
//!
//! A signature `(R, S)` by key `A` on message `M` is valid exactly when:
//! * `S` is a canonical scalar (`S < L`);
//! * `A` and `R` decode as curve points, where non-canonical encodings of the
//!   y-coordinate (y ≥ p) and a set sign bit on x = 0 are accepted;
//! * the cofactored equation `[8]([S]B − R − [k]A) = 0` holds, with
//!   `k = SHA-512(R_bytes ‖ A_bytes ‖ M) mod L` over the bytes as given.
//!
//! Every verifier (single, CPU batch, GPU) must accept exactly this set; the reference
//! implementations are ed25519-zebra and ed25519-consensus, used as test oracles.

use crate::protocol::{PublicKey, Signature};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};

/// Why a signature is invalid under ZIP-215.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the public key is not a curve point")]
    BadKey,
    #[error("R is not a curve point")]
    BadR,
    #[error("S is not a canonical scalar (S >= L)")]
    NonCanonicalS,
    #[error("the verification equation does not hold")]
    Equation,
}

/// A public key decoded once, for reuse across many verifications.
#[derive(Debug, Clone, Copy)]
pub struct DecodedKey {
    bytes: [u8; 32],
    minus_a: EdwardsPoint,
}

impl DecodedKey {
    pub fn decode(key: &PublicKey) -> Result<DecodedKey, SignatureError> {
        let a = CompressedEdwardsY(key.0)
            .decompress()
            .ok_or(SignatureError::BadKey)?;
        Ok(DecodedKey {
            bytes: key.0,
            minus_a: -a,
        })
    }
}

impl DecodedKey {
    /// The decoded point `A`.
    pub fn point(&self) -> EdwardsPoint {
        -self.minus_a
    }
}

/// `k = SHA-512(R ‖ A ‖ M) mod L`.
pub fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(message);
    let wide: [u8; 64] = h.finalize().into();
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// The parts of a signature that the equation uses: the point R, the canonical scalar
/// S, and the challenge k over the bytes as given.
pub(crate) struct SignatureParts {
    pub r: EdwardsPoint,
    pub s: Scalar,
    pub k: Scalar,
}

/// Decodes R and S under the ZIP-215 rules and computes the challenge.
pub(crate) fn signature_parts(
    key: &DecodedKey,
    message: &[u8],
    sig: &Signature,
) -> Result<SignatureParts, SignatureError> {
    let mut r_bytes = [0u8; 32];
    let mut s_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&sig.0[..32]);
    s_bytes.copy_from_slice(&sig.0[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(SignatureError::NonCanonicalS)?;
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(SignatureError::BadR)?;
    let k = challenge(&r_bytes, &key.bytes, message);
    Ok(SignatureParts { r, s, k })
}

/// Verifies one signature under ZIP-215 with an already decoded key.
pub fn verify_decoded(
    key: &DecodedKey,
    message: &[u8],
    sig: &Signature,
) -> Result<(), SignatureError> {
    let SignatureParts { r, s, k } = signature_parts(key, message, sig)?;
    // [S]B − [k]A − R, then multiply by the cofactor.
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &key.minus_a, &s) - r;
    if check.mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(SignatureError::Equation)
    }
}

/// Verifies one signature under ZIP-215.
pub fn verify(key: &PublicKey, message: &[u8], sig: &Signature) -> Result<(), SignatureError> {
    verify_decoded(&DecodedKey::decode(key)?, message, sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::PrivateKey;

    #[test]
    fn accepts_honest_signatures_and_rejects_tampering() {
        let k = PrivateKey::from_label("zip215");
        let sig = k.sign(b"message");
        assert_eq!(verify(&k.public_key(), b"message", &sig), Ok(()));
        assert_eq!(
            verify(&k.public_key(), b"messagf", &sig),
            Err(SignatureError::Equation)
        );
        let mut high_s = sig;
        high_s.0[63] |= 0xf0;
        assert_eq!(
            verify(&k.public_key(), b"message", &high_s),
            Err(SignatureError::NonCanonicalS)
        );
    }
}
