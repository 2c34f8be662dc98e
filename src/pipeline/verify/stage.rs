//! The verify stage's batch path: many transactions at once.
//!
//! Stateless checks and hashing per transaction, then every signature of the batch goes
//! through CPU batch verification in chunks of `batch_size` spread over the rayon pool,
//! with public keys decompressed once through a bounded key cache. The verdicts are
//! exactly those of the single path (`verify_transaction`).

use super::cache::KeyDirectory;
use super::cpu::{self, Item};
use super::rule::DecodedKey;
use super::{hash_transaction, Hashed, KeyLookup, VerifyError};
use crate::chain::objects::KeyId;
use crate::chain::store::id_table::IdTable;
use crate::chain::VerifiedTransaction;
use crate::protocol::{ChainId, PublicKey, SignedTransaction};
use rayon::prelude::*;
use std::sync::Arc;

/// Per key: its decompressed point and its key-id hint.
#[derive(Clone, Copy, Default)]
pub struct KeyEntry {
    /// `None` if the bytes are not a curve point.
    pub decoded: Option<DecodedKey>,
    /// The key's id, if the directory knew it (a hint the BLP checks).
    pub key_id: Option<KeyId>,
    /// The directory's count of known ids when `key_id` was looked up: a key without
    /// an id is looked up again once the directory has learnt more.
    known: u32,
}

/// Decompressed public keys and their key-id hints, for one verify worker: one lookup
/// per signature answers both. Bounded: when full it is cleared and refilled, so
/// memory stays near `entries_max` keys whatever the input. The table grows with use,
/// so a small working set stays small (and in the caches).
pub struct KeyCache {
    table: IdTable<KeyEntry>,
    entries_max: usize,
    directory: Option<Arc<KeyDirectory>>,
}

impl KeyCache {
    /// A cache without key-id hints.
    pub fn new(entries_max: usize) -> KeyCache {
        KeyCache {
            table: IdTable::default(),
            entries_max: entries_max.max(1),
            directory: None,
        }
    }
    /// A cache that also gives each key's id from `directory`.
    pub fn with_directory(entries_max: usize, directory: Arc<KeyDirectory>) -> KeyCache {
        KeyCache {
            directory: Some(directory),
            ..KeyCache::new(entries_max)
        }
    }
    /// The key's point and id hint, decoding and looking up what is not cached.
    pub fn lookup(&mut self, key: &PublicKey) -> KeyEntry {
        let known = self.directory.as_ref().map_or(0, |d| d.known());
        if let Some(e) = self.table.get_mut(&key.0) {
            if e.key_id.is_none() && e.known != known {
                e.key_id = self.directory.as_ref().and_then(|d| d.get(key));
                e.known = known;
            }
            return *e;
        }
        if self.table.len() >= self.entries_max {
            self.table.clear();
        }
        let entry = KeyEntry {
            decoded: DecodedKey::decode(key).ok(),
            key_id: self.directory.as_ref().and_then(|d| d.get(key)),
            known,
        };
        self.table.insert(&key.0, entry);
        entry
    }
    /// Asks the CPU to start loading where `key` is cached.
    pub fn prefetch(&self, key: &PublicKey) {
        self.table.prefetch(&key.0);
    }
    pub fn len(&self) -> usize {
        self.table.len()
    }
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// How many signatures ahead of the one it looks up `first_bad_signatures` asks for
/// the key's cache slot.
const KEY_PREFETCH_AHEAD: usize = 8;

/// For each transaction, its first bad signature (index and key), or `None` when all
/// verify. `None` entries of `hashed` are skipped. `verify` settles one slice of
/// signatures (batch verification; the caller picks sequential or parallel). The key-id
/// hint of every signer of the present transactions goes to `hints`, in order.
pub(crate) fn first_bad_signatures(
    hashed: &[Option<&Hashed>],
    cache: &mut KeyCache,
    hints: &mut Vec<Option<KeyId>>,
    verify: impl FnOnce(&[Item<'_>]) -> Vec<bool>,
) -> Vec<Option<(usize, PublicKey)>> {
    let signatures: usize = hashed
        .iter()
        .flatten()
        .map(|h| h.trx.signer_keys.len())
        .sum();
    let mut owners = Vec::with_capacity(signatures);
    for (t, h) in hashed.iter().enumerate() {
        if let Some(h) = h {
            owners.extend((0..h.trx.signer_keys.len()).map(|s| (t, s)));
        }
    }
    let key_of = |(t, s): (usize, usize)| {
        &hashed[t]
            .expect("gathered from present transactions")
            .trx
            .signer_keys[s]
    };
    let mut decoded = Vec::with_capacity(signatures);
    hints.reserve(signatures);
    for &owner in owners.iter().take(KEY_PREFETCH_AHEAD) {
        cache.prefetch(key_of(owner));
    }
    for (k, &owner) in owners.iter().enumerate() {
        if let Some(&ahead) = owners.get(k + KEY_PREFETCH_AHEAD) {
            cache.prefetch(key_of(ahead));
        }
        let entry = cache.lookup(key_of(owner));
        decoded.push(entry.decoded);
        hints.push(entry.key_id);
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
    let first_bad = first_bad_signatures(&present, cache, &mut Vec::new(), |items| {
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
