//! Recent transaction ids (the reference `transaction_history`, 2.7.x): a transaction id
//! is refused again until its expiration has passed.
//!
//! Lookups use a hash map keyed by the id itself: the id already *is* a SHA-256 output,
//! so the map's hasher just takes its first eight bytes and no hashing happens here.
//! The map is never iterated; expiry and the state digest walk `by_expiration`, an
//! ordered map from expiration second to the ids in arrival order, so everything that
//! can affect consensus is deterministic.

use super::journal::{Journal, Journaled};
use crate::protocol::{TimePointSec, TransactionId};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Passes the first eight bytes of an already-uniform id through as the hash.
#[derive(Default)]
pub struct IdPrefixHasher(u64);

impl Hasher for IdPrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Arrays hash as a length (write_usize) and then their bytes.
        let mut buf = [0u8; 8];
        let n = bytes.len().min(8);
        buf[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(buf);
    }
    fn write_usize(&mut self, _len: usize) {}
}

type IdMap = HashMap<TransactionId, TimePointSec, BuildHasherDefault<IdPrefixHasher>>;

enum Change {
    Inserted(TransactionId, TimePointSec),
    Expired(TimePointSec, Vec<TransactionId>),
}

#[derive(Default)]
pub struct TransactionDedup {
    ids: IdMap,
    by_expiration: BTreeMap<TimePointSec, Vec<TransactionId>>,
    journal: Journal<Change>,
}

impl TransactionDedup {
    pub fn contains(&self, id: &TransactionId) -> bool {
        self.ids.contains_key(id)
    }
    /// Records `id` until `expiration`; `false` (and no change) when it is already
    /// recorded. One lookup does both the check and the insertion.
    pub fn insert_new(&mut self, id: TransactionId, expiration: TimePointSec) -> bool {
        match self.ids.entry(id) {
            Entry::Occupied(_) => return false,
            Entry::Vacant(v) => {
                v.insert(expiration);
            }
        }
        self.by_expiration.entry(expiration).or_default().push(id);
        self.journal.push(Change::Inserted(id, expiration));
        true
    }
    /// Forgets every id whose expiration is before `now`.
    pub fn expire(&mut self, now: TimePointSec) {
        while let Some(entry) = self.by_expiration.first_entry() {
            if *entry.key() >= now {
                break;
            }
            let (exp, ids) = entry.remove_entry();
            for id in &ids {
                self.ids.remove(id);
            }
            self.journal.push(Change::Expired(exp, ids));
        }
    }
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// Deterministic walk for the state digest and snapshots.
    pub fn iter_ordered(&self) -> impl Iterator<Item = (TimePointSec, &TransactionId)> {
        self.by_expiration
            .iter()
            .flat_map(|(e, ids)| ids.iter().map(move |id| (*e, id)))
    }
    pub fn reserve(&mut self, n: usize) {
        self.ids.reserve(n);
    }
}

impl Journaled for TransactionDedup {
    fn mark(&self) -> usize {
        self.journal.mark()
    }
    fn rollback_to(&mut self, mark: usize) {
        while let Some(change) = self.journal.pop_after(mark) {
            match change {
                Change::Inserted(id, exp) => {
                    self.ids.remove(&id);
                    let bucket = self
                        .by_expiration
                        .get_mut(&exp)
                        .expect("bucket of an inserted id");
                    let last = bucket.pop();
                    debug_assert_eq!(last, Some(id));
                    if bucket.is_empty() {
                        self.by_expiration.remove(&exp);
                    }
                }
                Change::Expired(exp, ids) => {
                    for id in &ids {
                        self.ids.insert(*id, exp);
                    }
                    self.by_expiration.insert(exp, ids);
                }
            }
        }
    }
    fn forget_before(&mut self, mark: usize) {
        self.journal.forget_before(mark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> TransactionId {
        TransactionId([n; 32])
    }

    #[test]
    fn insert_expire_rollback() {
        let mut d = TransactionDedup::default();
        assert!(d.insert_new(id(1), TimePointSec(10)));
        let m = d.mark();
        assert!(d.insert_new(id(2), TimePointSec(10)));
        assert!(d.insert_new(id(3), TimePointSec(20)));
        assert!(!d.insert_new(id(3), TimePointSec(30)), "already recorded");
        assert_eq!(d.len(), 3);
        assert_eq!(d.mark(), m + 2, "a refused insertion journals nothing");
        d.expire(TimePointSec(11));
        assert!(!d.contains(&id(1)) && !d.contains(&id(2)) && d.contains(&id(3)));
        d.rollback_to(m);
        assert!(d.contains(&id(1)) && !d.contains(&id(2)) && !d.contains(&id(3)));
        assert_eq!(d.iter_ordered().count(), 1);
    }
}
