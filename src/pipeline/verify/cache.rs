//! State the verify workers share: the signature cache of recently verified
//! transactions and the key-id directory.
//!
//! * [`SeenCache`]: transaction id → fingerprint of its signatures, for transactions
//!   whose signatures verified. The fingerprint is the transaction's merkle leaf, the
//!   SHA-256 of its whole signed encoding, which the verify stage computes anyway:
//!   equal leaves mean the same signatures and signer keys over the same
//!   transaction, so an earlier verification still holds. A transaction that arrives
//!   again at ingest is refused as a duplicate without any signature work; one that arrives inside a block with
//!   the same signatures is not verified again. The output stage removes the entry
//!   when the BLP refuses the transaction, so an identical resubmission (after the
//!   account was funded, say) is verified and tried again. It is a cache: an entry
//!   lost to the bound only costs one more verification, because the BLP's own
//!   duplicate index is the authority.
//! * [`KeyDirectory`]: public key → key id, the hints the BLP checks with one array
//!   read. Filled from the chain at start and from each block's new keys by the output
//!   stage; a stale hint is harmless (the BLP checks it).

use crate::chain::objects::KeyId;
use crate::chain::store::id_table::{self, Align64, IdTable, SlotPrefetcher};
use crate::chain::Chain;
use crate::protocol::{PublicKey, TransactionId};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, RwLock};

const SHARDS: usize = 64;

/// Ids and fingerprints are SHA-256 hashes, kept to their first 24 bytes (192 bits:
/// making two that agree costs about 2⁹⁶ hashes), so that a slot fills one cache line.
const HASH_BYTES_KEPT: usize = 24;

type Table = IdTable<Entry, HASH_BYTES_KEPT, Align64>;

/// One shard: its table, and a lower bound on its entries' expirations, so that a
/// full shard with nothing expired is cleared at once instead of scanned first.
struct Shard {
    table: Table,
    earliest: u32,
}

/// The shard holding `id`. Ids are hashes: any byte spreads evenly.
fn shard_of(id: &TransactionId) -> usize {
    id.0[31] as usize % SHARDS
}

#[derive(Clone, Copy, Default)]
struct Entry {
    /// The fingerprint's first `HASH_BYTES_KEPT` bytes.
    fingerprint: [u8; HASH_BYTES_KEPT],
    expiration: u32,
}

/// The part of a fingerprint the cache keeps.
fn kept(fingerprint: &[u8; 32]) -> [u8; HASH_BYTES_KEPT] {
    let mut k = [0; HASH_BYTES_KEPT];
    k.copy_from_slice(&fingerprint[..HASH_BYTES_KEPT]);
    k
}

/// How many ids ahead of the one it looks up a batch call asks for slots: the shards
/// together are far larger than the caches, so every lookup is a miss to memory, and
/// this many of them overlap.
const PREFETCH_AHEAD: usize = 16;

/// The signature cache (see the module docs). Sharded by id so workers rarely contend.
pub struct SeenCache {
    shards: Vec<Mutex<Shard>>,
    /// Where each shard's control bytes and slots are, for prefetching before the lock
    /// is taken. Each shard is sized for its bound at once and never grows (it evicts
    /// instead), so these stay right.
    slots: Vec<SlotPrefetcher>,
    shard_max: usize,
    /// Head block time, published by the output stage: entries expire with their
    /// transaction.
    head_time: AtomicU32,
}

impl SeenCache {
    /// A cache of about `entries_max` transactions (at least one per shard).
    pub fn new(entries_max: usize) -> SeenCache {
        let shard_max = entries_max.div_ceil(SHARDS).max(1);
        let secret = id_table::random_secret();
        let tables: Vec<Table> = (0..SHARDS)
            .map(|_| IdTable::with_secret(secret, shard_max))
            .collect();
        SeenCache {
            slots: tables.iter().map(IdTable::prefetcher).collect(),
            shards: tables
                .into_iter()
                .map(|table| {
                    Mutex::new(Shard {
                        table,
                        earliest: u32::MAX,
                    })
                })
                .collect(),
            shard_max,
            head_time: AtomicU32::new(0),
        }
    }
    fn shard(&self, id: &TransactionId) -> std::sync::MutexGuard<'_, Shard> {
        self.lock(shard_of(id))
    }
    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Shard> {
        // A poisoned shard is still a valid map.
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Calls `f(shard, i)` for every index `i` of `ids`, holding each shard's lock
    /// once for all of its ids: a worker checks and records a whole batch this way,
    /// so a shard's lock (whose cache line the other workers share) is taken about
    /// `SHARDS` times per batch rather than once per transaction. What `f` will read
    /// for the id `PREFETCH_AHEAD` places on is asked for while each one is looked up:
    /// the control bytes where the id would be (`slot` false: nearly every id checked
    /// is fresh, and a lookup that does not find its id reads only those,
    /// `IdTable::prefetch_probe`), or those and the home slot (`slot` true: an
    /// insertion writes there, at best into a line already loaded).
    fn for_each_grouped(
        &self,
        ids: &[&TransactionId],
        slot: bool,
        mut f: impl FnMut(&mut Shard, usize),
    ) {
        let mut order: Vec<(u8, u32)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (shard_of(id) as u8, i as u32))
            .collect();
        order.sort_unstable();
        let prefetch = |k: usize| {
            if let Some(&(s, i)) = order.get(k) {
                let (at, id) = (&self.slots[s as usize], &ids[i as usize].0);
                if slot {
                    at.prefetch(id);
                } else {
                    at.prefetch_probe(id);
                }
            }
        };
        (0..PREFETCH_AHEAD).for_each(prefetch);
        let mut k = 0;
        for run in order.chunk_by(|a, b| a.0 == b.0) {
            let mut shard = self.lock(run[0].0 as usize);
            for &(_, i) in run {
                prefetch(k + PREFETCH_AHEAD);
                k += 1;
                f(&mut shard, i as usize);
            }
        }
    }
    /// For each of `ids`, whether it verified recently (as `contains`, in one pass).
    pub fn contains_many(&self, ids: &[&TransactionId]) -> Vec<bool> {
        let mut found = vec![false; ids.len()];
        self.for_each_grouped(ids, false, |shard, i| {
            found[i] = shard.table.contains(&ids[i].0)
        });
        found
    }
    /// Records many verified transactions (as `insert`, in one pass):
    /// `(id, fingerprint, expiration)` each.
    pub fn insert_many(&self, entries: &[(TransactionId, [u8; 32], u32)]) {
        let now = self.head_time.load(Ordering::Relaxed);
        let ids: Vec<&TransactionId> = entries.iter().map(|e| &e.0).collect();
        self.for_each_grouped(&ids, true, |shard, i| {
            let (id, fingerprint, expiration) = &entries[i];
            self.insert_locked(shard, id, *fingerprint, *expiration, now);
        });
    }
    /// Whether `id` verified recently.
    pub fn contains(&self, id: &TransactionId) -> bool {
        self.shard(id).table.contains(&id.0)
    }
    /// Whether `id` verified recently with exactly these signatures.
    pub fn verified_with(&self, id: &TransactionId, fingerprint: &[u8; 32]) -> bool {
        self.shard(id)
            .table
            .get(&id.0)
            .is_some_and(|e| e.fingerprint == kept(fingerprint))
    }
    /// Records a verified transaction. When its shard is full, expired entries go
    /// first, then the whole shard (the BLP's duplicate index stays the authority).
    /// The expired ones are looked for only when the shard's earliest expiration has
    /// passed: under a steady load nothing has yet, and the scan would keep every
    /// entry (about 20–40 ns per transaction, amortised, at full load).
    pub fn insert(&self, id: &TransactionId, fingerprint: [u8; 32], expiration: u32) {
        let now = self.head_time.load(Ordering::Relaxed);
        self.insert_locked(&mut self.shard(id), id, fingerprint, expiration, now);
    }
    fn insert_locked(
        &self,
        shard: &mut Shard,
        id: &TransactionId,
        fingerprint: [u8; 32],
        expiration: u32,
        now: u32,
    ) {
        let table = &mut shard.table;
        if table.len() >= self.shard_max && !table.contains(&id.0) {
            if shard.earliest <= now {
                let mut earliest = u32::MAX;
                table.retain(|_, e| {
                    let keep = e.expiration > now;
                    if keep {
                        earliest = earliest.min(e.expiration);
                    }
                    keep
                });
                shard.earliest = earliest;
            }
            if table.len() >= self.shard_max {
                table.clear();
                shard.earliest = u32::MAX;
            }
        }
        table.insert(
            &id.0,
            Entry {
                fingerprint: kept(&fingerprint),
                expiration,
            },
        );
        shard.earliest = shard.earliest.min(expiration);
    }
    pub fn remove(&self, id: &TransactionId) {
        self.shard(id).table.remove(&id.0);
    }
    pub fn set_head_time(&self, t: u32) {
        self.head_time.store(t, Ordering::Relaxed);
    }
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).table.len())
            .sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Public key → key id hints (see the module docs).
pub struct KeyDirectory {
    /// Key bytes → key id.
    map: RwLock<IdTable<u32>>,
    /// Ids below this are in the map.
    known: AtomicU32,
}

impl Default for KeyDirectory {
    fn default() -> KeyDirectory {
        KeyDirectory {
            map: RwLock::new(IdTable::default()),
            known: AtomicU32::new(0),
        }
    }
}

impl KeyDirectory {
    /// A directory holding every key the chain has assigned an id.
    pub fn from_chain(chain: &Chain) -> KeyDirectory {
        let d = KeyDirectory::default();
        d.extend(chain, 0);
        d
    }
    /// Adds the keys `from..chain.keys_count()`.
    fn extend(&self, chain: &Chain, from: u32) {
        let to = chain.keys_count();
        let new: Vec<(PublicKey, KeyId)> = (from..to)
            .filter_map(|i| chain.key_by_id(KeyId(i)).map(|k| (k, KeyId(i))))
            .collect();
        self.add(to, new);
    }
    /// Adds keys learned from a block; `known` is the new count of assigned ids.
    pub fn add(&self, known: u32, keys: impl IntoIterator<Item = (PublicKey, KeyId)>) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        for (key, id) in keys {
            map.insert(&key.0, id.0);
        }
        self.known.fetch_max(known, Ordering::Relaxed);
    }
    /// How many ids the directory has seen (the BLP sends keys from here on).
    pub fn known(&self) -> u32 {
        self.known.load(Ordering::Relaxed)
    }
    /// Looks up many keys under one read lock.
    pub fn lookup_all<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a PublicKey>,
        mut f: impl FnMut(Option<KeyId>),
    ) {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            f(map.get(&k.0).map(|&i| KeyId(i)));
        }
    }
    pub fn get(&self, key: &PublicKey) -> Option<KeyId> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key.0)
            .map(|&i| KeyId(i))
    }
}

impl super::KeyLookup for KeyDirectory {
    fn key_id(&self, key: &PublicKey) -> Option<KeyId> {
        self.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> TransactionId {
        let mut b = [0u8; 32];
        b[0] = n;
        b[31] = n;
        TransactionId(b)
    }

    #[test]
    fn seen_cache_binds_signatures_and_stays_bounded() {
        let c = SeenCache::new(SHARDS * 2);
        c.insert(&id(1), [7; 32], 100);
        assert!(c.contains(&id(1)));
        assert!(c.verified_with(&id(1), &[7; 32]));
        assert!(!c.verified_with(&id(1), &[8; 32]), "other signatures");
        c.remove(&id(1));
        assert!(!c.contains(&id(1)));
        // Three ids in one shard of two: the expired one is evicted first.
        let same_shard = |n: u8| {
            let mut b = [n; 32];
            b[31] = 5;
            TransactionId(b)
        };
        c.insert(&same_shard(1), [0; 32], 10);
        c.insert(&same_shard(2), [0; 32], 50);
        c.set_head_time(20);
        c.insert(&same_shard(3), [0; 32], 60);
        assert!(!c.contains(&same_shard(1)), "expired entry evicted");
        assert!(c.contains(&same_shard(2)) && c.contains(&same_shard(3)));
        c.insert(&same_shard(4), [0; 32], 60);
        assert!(c.contains(&same_shard(4)));
        assert!(c.len() <= SHARDS * 2);
    }

    #[test]
    fn batch_calls_agree_with_single_ones() {
        let c = SeenCache::new(1 << 12);
        // Ids spread over every shard, several to a shard, in no particular order.
        let ids: Vec<TransactionId> = (0..200u32)
            .map(|n| {
                let mut b = [0u8; 32];
                b[..4].copy_from_slice(&n.wrapping_mul(2_654_435_761).to_le_bytes());
                b[31] = (n * 37 % 251) as u8;
                TransactionId(b)
            })
            .collect();
        let even: Vec<(TransactionId, [u8; 32], u32)> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(i, id)| (*id, [i as u8; 32], 1_000))
            .collect();
        c.insert_many(&even);
        let refs: Vec<&TransactionId> = ids.iter().collect();
        let found = c.contains_many(&refs);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(found[i], i % 2 == 0, "id {i}");
            assert_eq!(found[i], c.contains(id));
            assert_eq!(c.verified_with(id, &[i as u8; 32]), i % 2 == 0);
        }
        assert_eq!(c.len(), 100);
        assert!(c.contains_many(&[]).is_empty());
    }
}
