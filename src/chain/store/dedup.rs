//! Recent transaction ids (the reference `transaction_history`, 2.7.x): a transaction id
//! is refused again until its expiration has passed.
//!
//! Lookups go through [`IdTable`], an open-addressing table keyed by the id's first 24
//! bytes in 32-byte slots, one to a half cache line. A new id (nearly every one) is
//! found absent after reading one line of the table's control bytes and written into
//! its home slot or one soon after; the BLP asks for both lines ahead
//! ([`TransactionDedup::prefetch`]).
//! Two transactions whose ids share 24 bytes would be one to the index; finding such
//! a pair costs about 2⁹⁶ SHA-256 hashes (the reference's ids are 20 bytes).
//! It is never iterated; expiry and the state digest walk `by_expiration`, an ordered
//! map from expiration second to the bucket of ids that expire then, in arrival order,
//! so everything that can affect consensus is deterministic.
//!
//! Recording an id appends it to its second's bucket. Clients choose expirations
//! freely, so thousands of buckets take ids in turn, and each append lands in a
//! different one. The buckets therefore live in a slab (`buckets`), and a small
//! direct-mapped table (`recent`) finds a second's bucket without walking the ordered
//! map; the BLP can then ask for the bucket's end ahead of time
//! ([`TransactionDedup::prefetch_record`]). The undo journal keeps only the second of
//! each recorded id: undoing it drops that bucket's newest id.
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

/// Entries of the direct-mapped bucket finder (a power of two): more than the
/// expiration seconds that are usually live, at 8 bytes each.
const RECENT: usize = 4096;

enum Change {
    /// An id was recorded: the newest of this second's bucket.
    Inserted(TimePointSec),
    /// A second's bucket expired (boxed, so that the common entry stays small).
    Expired(Box<(TimePointSec, Vec<TransactionId>)>),
}

pub struct TransactionDedup {
    /// Id → expiration second (see [`IdTable`]).
    ids: IdTable<u32, ID_BYTES_KEPT, Align32>,
    /// Expiration second → its bucket in `buckets`.
    by_expiration: BTreeMap<TimePointSec, u32>,
    /// Each live second's ids in arrival order, never empty; slots listed in `free`
    /// are unused (and empty).
    buckets: Vec<Vec<TransactionId>>,
    free: Vec<u32>,
    /// `second % RECENT` → `(second, bucket)` for a second whose bucket it names, or
    /// `(0, u32::MAX)`. Whenever an entry names a bucket, `by_expiration` agrees.
    recent: Box<[(u32, u32)]>,
    journal: Journal<Change>,
    /// `ids` is left empty while ids are recorded in bulk; `by_expiration` holds them.
    index_deferred: bool,
}

impl Default for TransactionDedup {
    fn default() -> Self {
        TransactionDedup {
            ids: IdTable::default(),
            by_expiration: BTreeMap::new(),
            buckets: Vec::new(),
            free: Vec::new(),
            recent: vec![NO_BUCKET; RECENT].into_boxed_slice(),
            journal: Journal::default(),
            index_deferred: false,
        }
    }
}

const NO_BUCKET: (u32, u32) = (0, u32::MAX);

fn recent_slot(expiration: TimePointSec) -> usize {
    expiration.0 as usize % RECENT
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
        let b = match self.bucket_of(expiration) {
            Some(b) => b,
            None => self.open_bucket(expiration, Vec::new()),
        };
        self.buckets[b as usize].push(id);
        self.journal.push(Change::Inserted(expiration));
    }
    /// The bucket of `expiration`, if it has one: from the direct-mapped finder, or
    /// from the ordered map (and then remembered by the finder).
    fn bucket_of(&mut self, expiration: TimePointSec) -> Option<u32> {
        if let Some(b) = self.found(expiration) {
            return Some(b);
        }
        let b = *self.by_expiration.get(&expiration)?;
        self.recent[recent_slot(expiration)] = (expiration.0, b);
        Some(b)
    }
    /// The bucket of `expiration`, if the direct-mapped finder names it.
    fn found(&self, expiration: TimePointSec) -> Option<u32> {
        let (second, b) = self.recent[recent_slot(expiration)];
        (second == expiration.0 && b != u32::MAX).then_some(b)
    }
    /// Gives `expiration` (which has no bucket) the bucket `ids`.
    fn open_bucket(&mut self, expiration: TimePointSec, ids: Vec<TransactionId>) -> u32 {
        let b = match self.free.pop() {
            Some(b) => {
                self.buckets[b as usize] = ids;
                b
            }
            None => {
                self.buckets.push(ids);
                u32::try_from(self.buckets.len() - 1).expect("fewer than 2³² live seconds")
            }
        };
        self.by_expiration.insert(expiration, b);
        self.recent[recent_slot(expiration)] = (expiration.0, b);
        b
    }
    /// Takes `expiration`'s bucket away (the second has one); its ids.
    fn close_bucket(&mut self, expiration: TimePointSec) -> Vec<TransactionId> {
        let b = self
            .by_expiration
            .remove(&expiration)
            .expect("a second with ids has a bucket");
        let slot = recent_slot(expiration);
        if self.recent[slot] == (expiration.0, b) {
            self.recent[slot] = NO_BUCKET;
        }
        self.free.push(b);
        std::mem::take(&mut self.buckets[b as usize])
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
        let mut table = IdTable::with_secret(self.ids.secret(), self.len());
        for (exp, id) in self.iter_ordered() {
            if !table.insert_new(&id.0, exp.0) {
                return Err(*id);
            }
        }
        self.ids = table;
        self.index_deferred = false;
        Ok(())
    }
    /// Forgets every id whose expiration is before `now`.
    pub fn expire(&mut self, now: TimePointSec) {
        while let Some((&exp, _)) = self.by_expiration.first_key_value() {
            if exp >= now {
                break;
            }
            let ids = self.close_bucket(exp);
            if !self.index_deferred {
                for id in &ids {
                    self.ids.remove(&id.0);
                }
            }
            self.journal.push(Change::Expired(Box::new((exp, ids))));
        }
    }
    pub fn len(&self) -> usize {
        if self.index_deferred {
            self.by_expiration
                .values()
                .map(|&b| self.buckets[b as usize].len())
                .sum()
        } else {
            self.ids.len()
        }
    }
    pub fn is_empty(&self) -> bool {
        self.by_expiration.is_empty()
    }
    /// Deterministic walk for the state digest and snapshots: by expiration, then in
    /// arrival order.
    pub fn iter_ordered(&self) -> impl Iterator<Item = (TimePointSec, &TransactionId)> {
        self.by_expiration
            .iter()
            .flat_map(|(e, &b)| self.buckets[b as usize].iter().map(move |id| (*e, id)))
    }
    pub fn reserve(&mut self, n: usize) {
        self.ids.reserve(n);
    }
    /// A copy for a snapshot's image: the ids in expiration order, which is all that
    /// [`TransactionDedup::iter_ordered`] (the digest and the image) reads. The copy's
    /// index is deferred: it answers no lookups.
    pub fn clone_committed(&self) -> TransactionDedup {
        let mut copy = TransactionDedup {
            index_deferred: true,
            ..TransactionDedup::default()
        };
        for (&exp, &b) in &self.by_expiration {
            copy.open_bucket(exp, self.buckets[b as usize].clone());
        }
        copy
    }
    /// Starts loading the memory that `insert_new(id, ..)` will touch, so that the
    /// BLP can overlap the cache misses of the transactions it is about to apply.
    pub fn prefetch(&self, id: &TransactionId) {
        self.ids.prefetch(&id.0);
    }
    /// Starts loading where `insert_new(.., expiration)` will append, when the
    /// direct-mapped finder knows the second's bucket (a later step of the BLP's
    /// look-ahead than [`Self::prefetch`]: it reads the finder and the bucket's header).
    pub fn prefetch_record(&self, expiration: TimePointSec) {
        if let Some(bucket) = self.found(expiration).map(|b| &self.buckets[b as usize]) {
            super::prefetch_bytes(
                bucket.as_ptr().wrapping_add(bucket.len()) as *const u8,
                std::mem::size_of::<TransactionId>(),
            );
        }
    }
}

impl Journaled for TransactionDedup {
    fn mark(&self) -> usize {
        self.journal.mark()
    }
    fn rollback_to(&mut self, mark: usize) {
        while let Some(change) = self.journal.pop_after(mark) {
            match change {
                Change::Inserted(exp) => {
                    // Undone newest first: the bucket's newest id is this entry's.
                    let b = self.bucket_of(exp).expect("bucket of an inserted id");
                    let bucket = &mut self.buckets[b as usize];
                    let id = bucket.pop().expect("a bucket is never empty");
                    if bucket.is_empty() {
                        self.close_bucket(exp);
                    }
                    if !self.index_deferred {
                        self.ids.remove(&id.0);
                    }
                }
                Change::Expired(expired) => {
                    let (exp, ids) = *expired;
                    if !self.index_deferred {
                        for id in &ids {
                            self.ids.insert_new(&id.0, exp.0);
                        }
                    }
                    self.open_bucket(exp, ids);
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

    #[test]
    fn a_journal_entry_is_small() {
        assert!(std::mem::size_of::<Change>() <= 16);
    }

    #[test]
    fn seconds_that_share_a_finder_slot_keep_their_own_buckets() {
        let mut d = TransactionDedup::default();
        let (a, b) = (TimePointSec(7), TimePointSec(7 + RECENT as u32));
        assert!(d.insert_new(id(1), a));
        assert!(d.insert_new(id(2), b));
        assert!(d.insert_new(id(3), a));
        assert!(d.insert_new(id(4), b));
        let m = d.mark();
        d.expire(TimePointSec(8));
        assert!(!d.contains(&id(1)) && !d.contains(&id(3)));
        assert!(
            d.insert_new(id(5), a),
            "a second that expired can take ids again"
        );
        d.rollback_to(m);
        let order: Vec<_> = d.iter_ordered().map(|(e, i)| (e, *i)).collect();
        assert_eq!(order, [(a, id(1)), (a, id(3)), (b, id(2)), (b, id(4))]);
    }

    mod model {
        use super::super::{TransactionDedup, RECENT};
        use super::id;
        use crate::chain::store::journal::Journaled;
        use crate::protocol::{TimePointSec, TransactionId};
        use proptest::prelude::*;

        /// The ids in arrival order, each with its second.
        type Model = Vec<(TimePointSec, TransactionId)>;

        fn ordered(m: &Model) -> Model {
            let mut v = m.clone();
            v.sort_by_key(|&(e, _)| e); // stable: arrival order within a second
            v
        }

        proptest! {
            /// Inserts, expiries and rollbacks over seconds that collide in the bucket
            /// finder agree with a plain list of ids: the answers, the length and the
            /// ordered walk; a snapshot's copy walks the same.
            #[test]
            fn agrees_with_a_list(
                ops in prop::collection::vec((0u8..5, 0u8..24, 0u32..6), 1..80),
            ) {
                let second = |k: u32| TimePointSec(10 + k % 3 + (k / 3) * RECENT as u32);
                let mut d = TransactionDedup::default();
                let mut model: Model = Vec::new();
                let mut marks: Vec<(usize, Model)> = Vec::new();
                for (kind, n, k) in ops {
                    match kind {
                        0 | 1 => {
                            let new = !model.iter().any(|&(_, i)| i == id(n));
                            prop_assert_eq!(d.insert_new(id(n), second(k)), new);
                            if new {
                                model.push((second(k), id(n)));
                            }
                        }
                        2 => {
                            d.expire(second(k));
                            model.retain(|&(e, _)| e >= second(k));
                        }
                        3 => marks.push((d.mark(), model.clone())),
                        _ => if let Some((m, old)) = marks.pop() {
                            d.rollback_to(m);
                            model = old;
                        },
                    }
                    prop_assert_eq!(d.len(), model.len());
                    prop_assert_eq!(d.is_empty(), model.is_empty());
                    let walk: Model = d.iter_ordered().map(|(e, i)| (e, *i)).collect();
                    prop_assert_eq!(&walk, &ordered(&model));
                    for n in 0u8..24 {
                        prop_assert_eq!(d.contains(&id(n)), model.iter().any(|&(_, i)| i == id(n)));
                    }
                }
                let copy = d.clone_committed();
                let walk: Model = copy.iter_ordered().map(|(e, i)| (e, *i)).collect();
                prop_assert_eq!(walk, ordered(&model));
            }
        }
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
