//! The verify stage's batch path: many transactions at once.
//!
//! Stateless checks and hashing per transaction, then every signature of the batch goes
//! through CPU batch verification in chunks of `batch_size` spread over the rayon pool,
//! with public keys decompressed once through a bounded key cache. The verdicts are
//! exactly those of the single path (`verify_transaction`).

use super::cache::KeyedPrefixHash;
use super::cpu::{self, Item};
use super::rule::DecodedKey;
use super::{hash_transaction, Hashed, KeyLookup, VerifyError};
use crate::chain::VerifiedTransaction;
use crate::protocol::{ChainId, PublicKey, SignedTransaction};
use rayon::prelude::*;
use std::collections::HashMap;

/// Decompressed public keys, bounded: when full it is cleared and refilled, so memory
/// stays at `entries_max` keys (about 160 bytes each) whatever the input.
pub struct KeyCache {
    map: HashMap<PublicKey, Option<DecodedKey>, KeyedPrefixHash>,
    entries_max: usize,
}

impl KeyCache {
    pub fn new(entries_max: usize) -> KeyCache {
        KeyCache {
            map: HashMap::with_capacity_and_hasher(
                entries_max.min(1 << 16),
                KeyedPrefixHash::new(),
            ),
            entries_max,
        }
    }
    /// The decoded key, or `None` if the bytes are not a curve point.
    pub fn get(&mut self, key: &PublicKey) -> Option<DecodedKey> {
        if let Some(k) = self.map.get(key) {
            return *k;
        }
        if self.map.len() >= self.entries_max {
            self.map.clear();
        }
        let decoded = DecodedKey::decode(key).ok();
        self.map.insert(*key, decoded);
        decoded
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// For each transaction, its first bad signature (index and key), or `None` when all
/// verify. `None` entries of `hashed` are skipped. `verify` settles one slice of
/// signatures (batch verification; the caller picks sequential or parallel).
pub(crate) fn first_bad_signatures(
    hashed: &[Option<&Hashed>],
    cache: &mut KeyCache,
    verify: impl FnOnce(&[Item<'_>]) -> Vec<bool>,
) -> Vec<Option<(usize, PublicKey)>> {
    let signatures: usize = hashed
        .iter()
        .flatten()
        .map(|h| h.trx.signer_keys.len())
        .sum();
    let mut owners = Vec::with_capacity(signatures);
    let mut decoded = Vec::with_capacity(signatures);
    for (t, h) in hashed.iter().enumerate() {
        if let Some(h) = h {
            for (s, key) in h.trx.signer_keys.iter().enumerate() {
                owners.push((t, s));
                decoded.push(cache.get(key));
            }
        }
    }
    let items: Vec<Item<'_>> = owners
        .iter()
        .zip(&decoded)
        .map(|(&(t, s), d)| {
            let h = hashed[t].expect("gathered from present transactions");
            Item {
                key: &h.trx.signer_keys[s],
                decoded: d.as_ref(),
                message: &h.digest,
                signature: &h.trx.signatures[s],
            }
        })
        .collect();
    let verdicts = verify(&items);
    let mut first_bad = vec![None; hashed.len()];
    for (i, &(t, s)) in owners.iter().enumerate() {
        // A signature without a verdict counts as bad: never accepted unchecked.
        let ok = verdicts.get(i).copied().unwrap_or(false);
        if !ok && first_bad[t].is_none() {
            first_bad[t] = Some((s, *items[i].key));
        }
    }
    first_bad
}

/// Verifies a batch of transactions: results in input order. Hashing and signature
/// batches are spread over the rayon pool, in chunks of `batch_size` signatures.
pub fn verify_transactions(
    batch: Vec<SignedTransaction>,
    chain_id: &ChainId,
    key_ids: &(dyn KeyLookup + Sync),
    cache: &mut KeyCache,
    batch_size: usize,
) -> Vec<Result<VerifiedTransaction, VerifyError>> {
    let checked: Vec<Result<Hashed, VerifyError>> = batch
        .into_par_iter()
        .map(|t| hash_transaction(t, chain_id))
        .collect();
    let present: Vec<Option<&Hashed>> = checked.iter().map(|c| c.as_ref().ok()).collect();
    let first_bad = first_bad_signatures(&present, cache, |items| {
        items
            .par_chunks(batch_size.max(1))
            .flat_map_iter(cpu::verify_batch)
            .collect()
    });
    checked
        .into_iter()
        .zip(first_bad)
        .map(|(c, bad)| {
            let c = c?;
            if let Some((index, key)) = bad {
                return Err(VerifyError::BadSignature {
                    index,
                    key: key.to_string(),
                });
            }
            Ok(c.into_verified(key_ids))
        })
        .collect()
}
