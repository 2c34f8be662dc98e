//! Recent transaction ids (the reference `transaction_history`, 2.7.x): a transaction id
//! is refused again until its expiration has passed.
//!
//! Lookups go through [`IdTable`], an open-addressing table keyed by the id's first 24
//! bytes in 32-byte slots, one to a half cache line (a lookup misses to memory once).
//! Two transactions whose ids share 24 bytes would be one to the index; finding such
//! a pair costs about 2⁹⁶ SHA-256 hashes (the reference's ids are 20 bytes).
//! It is never iterated; expiry and the state digest walk `by_expiration`, an ordered
//! map from expiration second to the ids in arrival order, so everything that can
//! affect consensus is deterministic.
//!
//! The lookup table is a function of `by_expiration`, so a bulk load (a replay of
//! trusted blocks, a snapshot) can leave it out while it records ids
//! ([`TransactionDedup::defer_index`]) and build it once, at its final size, at the
//! end ([`TransactionDedup::build_index`]). Growing it a doubling at a time costs
//! more than everything else a replay does per transaction: every doubling zeroes
//! fresh memory and rehashes what is there.

use super::id_table::{Align32, IdTable};
use super::journal::{Journal, Journaled};
use crate::protocol::{TimePointSec, TransactionId};
use std::collections::BTreeMap;

/// How much of each id the lookup table keeps (see the module docs).
const ID_BYTES_KEPT: usize = 24;

enum Change {
    Inserted(TransactionId, TimePointSec),
    Expired(TimePointSec, Vec<TransactionId>),
}

#[derive(Default)]
pub struct TransactionDedup {
    /// Id → expiration second (see [`IdTable`]).
    ids: IdTable<u32, ID_BYTES_KEPT, Align32>,
    by_expiration: BTreeMap<TimePointSec, Vec<TransactionId>>,
    journal: Journal<Change>,
    /// `ids` is left empty while ids are recorded in bulk; `by_expiration` holds them.
    index_deferred: bool,
}

impl TransactionDedup {
    pub fn contains(&self, id: &TransactionId) -> bool {
        self.assert_indexed();
        self.ids.get(&id.0).is_some()
    }
    /// Records `id` until `expiration`; `false` (and no change) when it is already
    /// recorded. One lookup does both the check and the insertion.
    pub fn insert_new(&mut self, id: TransactionId, expiration: TimePointSec) -> bool {
        self.assert_indexed();
        if !self.ids.insert_new(&id.0, expiration.0) {
            return false;
        }
        self.record(id, expiration);
        true
    }
    fn record(&mut self, id: TransactionId, expiration: TimePointSec) {
        // Expirations mostly come in rising order: the newest bucket is the likely one,
        // and the walk down the tree's right edge is shorter than a search.
        match self.by_expiration.last_entry() {
            Some(mut last) if *last.key() == expiration => last.get_mut().push(id),
            _ => self.by_expiration.entry(expiration).or_default().push(id),
        }
        self.journal.push(Change::Inserted(id, expiration));
    }
    fn assert_indexed(&self) {
        assert!(
            !self.index_deferred,
            "the duplicate index is deferred: build_index must come first"
        );
    }
    /// Stops keeping the lookup table (and frees it) until [`Self::build_index`]:
    /// ids are then recorded with [`Self::record_unchecked`], and nothing may ask
    /// whether an id is known.
    pub fn defer_index(&mut self) {
        if !self.index_deferred {
            self.ids = IdTable::with_secret(self.ids.secret(), 0);
            self.index_deferred = true;
        }
    }
    pub fn index_deferred(&self) -> bool {
        self.index_deferred
    }
    /// Records `id` without looking for it, while the index is deferred: for ids known
    /// to be new (transactions of blocks that were validated and became irreversible).
    pub fn record_unchecked(&mut self, id: TransactionId, expiration: TimePointSec) {
        debug_assert!(
            self.index_deferred,
            "record_unchecked needs a deferred index"
        );
        self.record(id, expiration);
    }
    /// Builds the lookup table from the recorded ids, at its final size, and keeps it
    /// from then on. An id recorded twice is returned as the error (the records were
    /// not new after all); the index stays deferred then.
    pub fn build_index(&mut self) -> Result<(), TransactionId> {
        if !self.index_deferred {
            return Ok(());
        }
        let n = self.by_expiration.values().map(Vec::len).sum();
        let mut table = IdTable::with_secret(self.ids.secret(), n);
        for (exp, ids) in &self.by_expiration {
            for id in ids {
                if !table.insert_new(&id.0, exp.0) {
                    return Err(*id);
                }
            }
        }
        self.ids = table;
        self.index_deferred = false;
        Ok(())
    }
    /// Forgets every id whose expiration is before `now`.
    pub fn expire(&mut self, now: TimePointSec) {
        while let Some(entry) = self.by_expiration.first_entry() {
            if *entry.key() >= now {
                break;
            }
            let (exp, ids) = entry.remove_entry();
            if !self.index_deferred {
                for id in &ids {
                    self.ids.remove(&id.0);
                }
            }
            self.journal.push(Change::Expired(exp, ids));
        }
    }
    pub fn len(&self) -> usize {
        if self.index_deferred {
            self.by_expiration.values().map(Vec::len).sum()
        } else {
            self.ids.len()
        }
    }
    pub fn is_empty(&self) -> bool {
        self.by_expiration.is_empty()
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
    /// A copy for a snapshot's image: the ids in expiration order, which is all that
    /// [`TransactionDedup::iter_ordered`] (the digest and the image) reads. The copy's
    /// index is deferred: it answers no lookups.
    pub fn clone_committed(&self) -> TransactionDedup {
        TransactionDedup {
            ids: IdTable::default(),
            by_expiration: self.by_expiration.clone(),
            journal: Journal::default(),
            index_deferred: true,
        }
    }
    /// Starts loading the memory that `insert_new(id, ..)` will touch, so that the
    /// BLP can overlap the cache misses of the transactions it is about to apply.
    pub fn prefetch(&self, id: &TransactionId) {
        self.ids.prefetch(&id.0);
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
                    if !self.index_deferred {
                        self.ids.remove(&id.0);
                    }
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
                    if !self.index_deferred {
                        for id in &ids {
                            self.ids.insert_new(&id.0, exp.0);
                        }
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

    #[test]
    fn a_deferred_index_is_built_from_the_records() {
        let mut d = TransactionDedup::default();
        assert!(d.insert_new(id(1), TimePointSec(10)));
        d.defer_index();
        let m = d.mark();
        d.record_unchecked(id(2), TimePointSec(20));
        d.record_unchecked(id(3), TimePointSec(30));
        d.expire(TimePointSec(11));
        assert_eq!(d.len(), 2);
        d.rollback_to(m);
        assert_eq!(d.len(), 1, "id 1 back, 2 and 3 gone");
        d.record_unchecked(id(4), TimePointSec(40));
        d.build_index().unwrap();
        assert!(!d.index_deferred());
        assert!(d.contains(&id(1)) && d.contains(&id(4)));
        assert!(!d.contains(&id(2)) && !d.contains(&id(3)));
        assert!(!d.insert_new(id(4), TimePointSec(50)));
        // A rollback after the build reaches the index too.
        d.rollback_to(m);
        assert!(d.contains(&id(1)) && !d.contains(&id(4)));
        // An id recorded twice is the build's error.
        d.defer_index();
        d.record_unchecked(id(1), TimePointSec(60));
        assert_eq!(d.build_index(), Err(id(1)));
    }

    mod deferred {
        use super::super::TransactionDedup;
        use super::id;
        use crate::chain::store::journal::Journaled;
        use crate::protocol::TimePointSec;
        use proptest::prelude::*;

        proptest! {
            /// Records, expiries and rollbacks with the index deferred from step
            /// `defer_at` on, then built, leave the same ids, in the same order and
            /// with the same answers, as the same steps on a kept index.
            #[test]
            fn agrees_with_a_kept_index(
                defer_at in 0usize..40,
                ops in prop::collection::vec((0u8..4, 0u8..16, 0u32..40), 1..60),
            ) {
                let (mut kept, mut late) = (TransactionDedup::default(), TransactionDedup::default());
                let mut marks = Vec::new();
                for (step, (kind, n, exp)) in ops.into_iter().enumerate() {
                    if step == defer_at {
                        late.defer_index();
                    }
                    match kind {
                        0 => {
                            let new = kept.insert_new(id(n), TimePointSec(exp));
                            if late.index_deferred() {
                                if new {
                                    late.record_unchecked(id(n), TimePointSec(exp));
                                }
                            } else {
                                prop_assert_eq!(late.insert_new(id(n), TimePointSec(exp)), new);
                            }
                        }
                        1 => {
                            kept.expire(TimePointSec(exp));
                            late.expire(TimePointSec(exp));
                        }
                        2 => marks.push((kept.mark(), late.mark())),
                        _ => if let Some((a, b)) = marks.pop() {
                            kept.rollback_to(a);
                            late.rollback_to(b);
                        },
                    }
                    prop_assert_eq!(kept.len(), late.len());
                }
                late.build_index().unwrap();
                let order = |d: &TransactionDedup| d.iter_ordered().map(|(e, i)| (e, *i)).collect::<Vec<_>>();
                prop_assert_eq!(order(&kept), order(&late));
                for n in 0u8..16 {
                    prop_assert_eq!(kept.contains(&id(n)), late.contains(&id(n)));
                }
            }
        }
    }
}
