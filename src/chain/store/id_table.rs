//! [`IdTable`]: a map from 32-byte ids (transaction ids, public keys) to small values,
//! by open addressing with linear probing.
//!
//! The BLP's duplicate index and the verify stage's caches hold millions of ids, far
//! more than the caches of the CPU: each lookup is a miss to memory. Unlike a library
//! map, this one can say where an id will land ([`IdTable::prefetch`],
//! [`SlotPrefetcher`]), so a caller that knows the ids it will look up next asks for
//! for their control bytes and slots first and the misses overlap instead of adding up.
//!
//! Ids are hashes or keys that a client can grind, so the slot comes from the id's
//! first eight bytes mixed with a per-table secret (as std's `RandomState` does):
//! nobody can aim ids at one run of slots. The secret changes where an id sits, never
//! what the table answers, and nothing iterates the table in an order that matters
//! (the one walk, [`IdTable::retain`], only keeps or drops). Removal shifts the run
//! after the hole back (no tombstones), so lookups stay short however many ids come
//! and go. The table is kept at most half full.
//!
//! Beside the slots, a control byte per slot says whether the slot is used and, if so,
//! holds seven more bits of the id's hash (the scheme of SwissTable and `hashbrown`).
//! A lookup walks the control bytes, sixty-four to a cache line, and reads a slot only
//! where the bits agree (one used slot in 128 that it passes). Most lookups of a fresh
//! id (the common case of the duplicate checks: nearly every transaction is new) then
//! read one line of control bytes (which are a small fraction of the slots' size, so
//! often still cached) instead of the home slot and each slot of the run after it:
//! each of those further reads waits for the one before, so prefetching cannot
//! overlap them. Recording an id compares no slot, but its write still loads the
//! slot's line, so insertions ask for that line too ([`IdTable::prefetch`]).
//!
//! A table may keep only the first `K` bytes of each id, and may align its slots
//! (`A`, such as [`Align32`]): a slot then fits one cache line, so a lookup that
//! misses to memory costs one line instead of two. Ids sharing their first `K` bytes
//! are then one id to the table, so `K` must be large enough that nobody can make two
//! such ids: 24 bytes of a SHA-256 are 192 bits, a collision costs about 2⁹⁶ hashes
//! (the reference's transaction ids are 20 bytes).

use super::{advise_huge_pages, prefetch_bytes};

/// Id → `V`, keeping the first `K` bytes of each id, slots aligned as `A` is (see the
/// module docs).
#[derive(Clone)]
pub struct IdTable<V, const K: usize = 32, A = ()> {
    /// Per slot: [`EMPTY`], or [`tag_of`] the hash of the id it holds.
    ctrl: Vec<u8>,
    slots: Vec<Slot<V, K, A>>,
    /// `slots.len() - 1`; the length is a power of two.
    mask: usize,
    len: usize,
    secret: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot<V, const K: usize, A> {
    id: [u8; K],
    value: V,
    /// Sized zero: gives the slot `A`'s alignment.
    _align: [A; 0],
}

/// Aligns a table's slots to 32 bytes: 32-byte slots then never straddle two cache
/// lines.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(align(32))]
pub struct Align32;

/// Aligns a table's slots to 64 bytes, a cache line.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(align(64))]
pub struct Align64;

/// The first `K` bytes of `id`, the part a table keeps.
#[inline(always)]
fn key_of<const K: usize>(id: &[u8; 32]) -> &[u8; K] {
    id[..K]
        .try_into()
        .expect("a table keeps at most the 32 bytes of an id")
}

const MIN_SLOTS: usize = 16;

/// The control byte of an unused slot. A used slot's has its top bit set.
const EMPTY: u8 = 0;

/// A fresh secret from std's per-process random keys.
pub fn random_secret() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x0063_6172_6279_6e65_u64)
}

/// The hash of `id` under `secret`: SplitMix64's finaliser over the keyed prefix. Its
/// low bits pick the home slot, its top seven the control byte.
#[inline(always)]
fn hash_of(id: &[u8], secret: u64) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&id[..8]);
    let mut z = u64::from_le_bytes(prefix) ^ secret;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The home slot of a hash in a table of `mask + 1` slots (fewer than 2⁵⁷, so the
/// bits it uses are not the tag's).
#[inline(always)]
fn home_of(hash: u64, mask: usize) -> usize {
    hash as usize & mask
}

/// The control byte of a used slot whose id has this hash: never [`EMPTY`].
#[inline(always)]
fn tag_of(hash: u64) -> u8 {
    0x80 | (hash >> 57) as u8
}

impl<V: Copy + Default, const K: usize, A: Copy> Default for IdTable<V, K, A> {
    fn default() -> IdTable<V, K, A> {
        IdTable::with_secret(random_secret(), 0)
    }
}

impl<V: Copy + Default, const K: usize, A: Copy> IdTable<V, K, A> {
    /// Ids are hashed from their first eight bytes, so a table keeps at least those.
    const KEEPS_THE_HASHED_PREFIX: () = assert!(K >= 8 && K <= 32);

    /// A table with room for `capacity` ids before it grows.
    pub fn with_capacity(capacity: usize) -> IdTable<V, K, A> {
        IdTable::with_secret(random_secret(), capacity)
    }
    /// As [`Self::with_capacity`], placing ids under `secret`.
    pub fn with_secret(secret: u64, capacity: usize) -> IdTable<V, K, A> {
        let () = Self::KEEPS_THE_HASHED_PREFIX;
        let n = (capacity.saturating_mul(2))
            .max(MIN_SLOTS)
            .next_power_of_two();
        let empty = Slot {
            id: [0; K],
            value: V::default(),
            _align: [],
        };
        let mut slots = Vec::with_capacity(n);
        advise_huge_pages(
            slots.as_ptr() as *const u8,
            n * std::mem::size_of::<Slot<V, K, A>>(),
        );
        slots.resize(n, empty);
        IdTable {
            ctrl: vec![EMPTY; n],
            slots,
            mask: n - 1,
            len: 0,
            secret,
        }
    }
    pub fn secret(&self) -> u64 {
        self.secret
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Ids the table holds before it must grow.
    pub fn capacity(&self) -> usize {
        self.slots.len() / 2
    }
    #[inline(always)]
    fn hash(&self, key: &[u8; K]) -> u64 {
        hash_of(key, self.secret)
    }
    /// The slot holding `id`, or the empty slot that ends its run.
    #[inline]
    fn find(&self, id: &[u8; 32]) -> (usize, bool) {
        self.find_key(key_of(id))
    }
    #[inline]
    fn find_key(&self, key: &[u8; K]) -> (usize, bool) {
        let hash = self.hash(key);
        let tag = tag_of(hash);
        let mut i = home_of(hash, self.mask);
        loop {
            let c = self.ctrl[i];
            if c == EMPTY {
                return (i, false);
            }
            if c == tag && &self.slots[i].id == key {
                return (i, true);
            }
            i = (i + 1) & self.mask;
        }
    }
    pub fn get(&self, id: &[u8; 32]) -> Option<&V> {
        match self.find(id) {
            (i, true) => Some(&self.slots[i].value),
            _ => None,
        }
    }
    pub fn get_mut(&mut self, id: &[u8; 32]) -> Option<&mut V> {
        match self.find(id) {
            (i, true) => Some(&mut self.slots[i].value),
            _ => None,
        }
    }
    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.find(id).1
    }
    /// Records `id` with `value`; `false` (and no change) when `id` is already there.
    pub fn insert_new(&mut self, id: &[u8; 32], value: V) -> bool {
        self.make_room();
        let (i, found) = self.find(id);
        if found {
            return false;
        }
        self.put(i, id, value);
        true
    }
    /// Sets `id`'s value, whether or not it was there; the value it had.
    pub fn insert(&mut self, id: &[u8; 32], value: V) -> Option<V> {
        self.make_room();
        match self.find(id) {
            (i, true) => Some(std::mem::replace(&mut self.slots[i].value, value)),
            (i, false) => {
                self.put(i, id, value);
                None
            }
        }
    }
    fn make_room(&mut self) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow_for(self.len + 1);
        }
    }
    fn put(&mut self, i: usize, id: &[u8; 32], value: V) {
        let key = key_of(id);
        self.ctrl[i] = tag_of(self.hash(key));
        self.slots[i] = Slot {
            id: *key,
            value,
            _align: [],
        };
        self.len += 1;
    }
    /// Forgets `id`; the value it had.
    pub fn remove(&mut self, id: &[u8; 32]) -> Option<V> {
        let (mut hole, found) = self.find(id);
        if !found {
            return None;
        }
        let value = self.slots[hole].value;
        // Backward shift: walk the run after the hole and move back every entry whose
        // home is not between the hole and its own slot (cyclically), so that every
        // entry stays reachable from its home without crossing an empty slot.
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            if self.ctrl[j] == EMPTY {
                break;
            }
            let home = home_of(self.hash(&self.slots[j].id), self.mask);
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = self.slots[j];
                self.ctrl[hole] = self.ctrl[j];
                hole = j;
            }
        }
        self.ctrl[hole] = EMPTY;
        self.len -= 1;
        Some(value)
    }
    /// Forgets every id, keeping the memory (and so the slots' addresses).
    pub fn clear(&mut self) {
        self.ctrl.fill(EMPTY);
        self.len = 0;
    }
    /// Keeps only the ids for which `keep` is true (given the part of the id the
    /// table keeps), in place: the memory (and so the slots' addresses) stays.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8; K], &V) -> bool) {
        let kept: Vec<Slot<V, K, A>> = self
            .used_slots()
            .filter(|s| keep(&s.id, &s.value))
            .copied()
            .collect();
        self.clear();
        for s in kept {
            self.put_slot(s);
        }
    }
    /// Room for `n` more ids without growing.
    pub fn reserve(&mut self, n: usize) {
        let want = self.len.saturating_add(n);
        if want.saturating_mul(2) > self.slots.len() {
            self.grow_for(want);
        }
    }
    fn grow_for(&mut self, len: usize) {
        let mut bigger = IdTable::with_secret(self.secret, len.max(self.slots.len()));
        for s in self.used_slots() {
            bigger.put_slot(*s);
        }
        *self = bigger;
    }
    /// The used slots, in no meaningful order.
    fn used_slots(&self) -> impl Iterator<Item = &Slot<V, K, A>> {
        self.ctrl
            .iter()
            .zip(&self.slots)
            .filter(|(c, _)| **c != EMPTY)
            .map(|(_, s)| s)
    }
    /// Puts `s` where its id goes; the id must not be in the table.
    fn put_slot(&mut self, s: Slot<V, K, A>) {
        let hash = self.hash(&s.id);
        let mut i = home_of(hash, self.mask);
        while self.ctrl[i] != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.ctrl[i] = tag_of(hash);
        self.slots[i] = s;
        self.len += 1;
    }
    /// Asks the CPU to start loading what a lookup of `id` that finds it reads, or an
    /// insertion of it writes: the control bytes from its home slot on, and the home
    /// slot. A write to a line that is not loaded stalls the core as a read does
    /// (its store waits in the queue), so insertions want both lines.
    #[inline(always)]
    pub fn prefetch(&self, id: &[u8; 32]) {
        self.prefetcher().prefetch(id);
    }
    /// Asks the CPU to start loading what a lookup of `id` that does not find it
    /// reads: the control bytes from its home slot on (see
    /// [`SlotPrefetcher::prefetch_probe`]).
    #[inline(always)]
    pub fn prefetch_probe(&self, id: &[u8; 32]) {
        self.prefetcher().prefetch_probe(id);
    }
    /// Where this table's slots are now, for prefetching without holding the table
    /// (from outside a lock that guards it, say).
    pub fn prefetcher(&self) -> SlotPrefetcher {
        SlotPrefetcher {
            ctrl: self.ctrl.as_ptr() as usize,
            base: self.slots.as_ptr() as usize,
            mask: self.mask,
            secret: self.secret,
            slot_bytes: std::mem::size_of::<Slot<V, K, A>>(),
        }
    }
}

/// Where a table's slots were when it was taken ([`IdTable::prefetcher`]). Prefetching
/// is a hint that reads nothing and never faults, so one taken before the table grew
/// or was dropped only prefetches the wrong memory: results never depend on it.
#[derive(Clone, Copy)]
pub struct SlotPrefetcher {
    ctrl: usize,
    base: usize,
    mask: usize,
    secret: u64,
    slot_bytes: usize,
}

impl SlotPrefetcher {
    /// As [`IdTable::prefetch`]: the control bytes and the home slot, for a lookup
    /// that will likely find `id` or an insertion.
    #[inline(always)]
    pub fn prefetch(&self, id: &[u8; 32]) {
        let i = self.prefetch_ctrl(id);
        let at = self.base.wrapping_add(i.wrapping_mul(self.slot_bytes));
        prefetch_bytes(at as *const u8, self.slot_bytes);
    }
    /// As [`IdTable::prefetch_probe`]: only the control bytes, for a lookup that will
    /// likely not find `id`. One line instead of the slot's too: a lookup of a fresh
    /// id reads its home slot only one time in 128 that it is used.
    #[inline(always)]
    pub fn prefetch_probe(&self, id: &[u8; 32]) {
        self.prefetch_ctrl(id);
    }
    /// Prefetches `id`'s home control byte (its run of them lies mostly in the same
    /// line). Returns its home slot.
    #[inline(always)]
    fn prefetch_ctrl(&self, id: &[u8; 32]) -> usize {
        let i = home_of(hash_of(id, self.secret), self.mask);
        prefetch_bytes(self.ctrl.wrapping_add(i) as *const u8, 1);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::{hash_of, tag_of, Align32, Align64, IdTable, Slot, EMPTY};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn id(prefix: u8, rest: u8) -> [u8; 32] {
        let mut id = [rest; 32];
        id[..8].copy_from_slice(&[prefix; 8]);
        id
    }

    #[derive(Debug, Clone)]
    enum Op {
        InsertNew(u8, u8, u32),
        Insert(u8, u8, u32),
        Remove(u8, u8),
        /// Keep the ids whose value is even.
        RetainEven,
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0u8..6, 0u8..24, any::<u32>()).prop_map(|(p, r, v)| Op::InsertNew(p, r, v)),
            4 => (0u8..6, 0u8..24, any::<u32>()).prop_map(|(p, r, v)| Op::Insert(p, r, v)),
            6 => (0u8..6, 0u8..24).prop_map(|(p, r)| Op::Remove(p, r)),
            1 => Just(Op::RetainEven),
            1 => Just(Op::Clear),
        ]
    }

    /// The table against a model map, with ids that share their first eight bytes in
    /// runs (so runs of slots are long and wrap around the end) and a tiny table that
    /// grows, under random inserts, updates, removals, retains and clears. The ids
    /// differ in every byte past the eighth, so a table keeping only a prefix of them
    /// answers as one keeping all 32 bytes.
    fn agrees_with_a_model<const K: usize, A: Copy>(
        secret: u64,
        reserve: usize,
        ops: Vec<Op>,
    ) -> Result<(), TestCaseError> {
        {
            let mut t = IdTable::<u32, K, A>::with_secret(secret, 0);
            t.reserve(reserve);
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::InsertNew(p, r, v) => {
                        let k = id(p, r);
                        prop_assert_eq!(t.insert_new(&k, v), !model.contains_key(&k));
                        model.entry(k).or_insert(v);
                    }
                    Op::Insert(p, r, v) => {
                        let k = id(p, r);
                        prop_assert_eq!(t.insert(&k, v), model.insert(k, v));
                    }
                    Op::Remove(p, r) => {
                        let k = id(p, r);
                        prop_assert_eq!(t.remove(&k), model.remove(&k));
                    }
                    Op::RetainEven => {
                        let before = t.prefetcher().base;
                        t.retain(|_, v| v % 2 == 0);
                        model.retain(|_, v| *v % 2 == 0);
                        prop_assert_eq!(t.prefetcher().base, before, "retain keeps the memory");
                    }
                    Op::Clear => {
                        t.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                prop_assert!(t.len() * 2 <= t.slots.len());
            }
            for prefix in 0u8..6 {
                for rest in 0u8..24 {
                    let k = id(prefix, rest);
                    prop_assert_eq!(t.get(&k), model.get(&k));
                    prop_assert_eq!(t.contains(&k), model.contains_key(&k));
                }
            }
            prop_assert_eq!(t.used_slots().count(), model.len());
            // Every used slot's control byte is its id's tag; the others are empty.
            for (c, s) in t.ctrl.iter().zip(&t.slots) {
                prop_assert!(*c == EMPTY || *c == tag_of(hash_of(&s.id, t.secret)));
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn whole_ids_agree_with_a_model(
            secret in any::<u64>(),
            reserve in 0usize..40,
            ops in prop::collection::vec(op(), 1..400),
        ) {
            agrees_with_a_model::<32, ()>(secret, reserve, ops)?;
        }

        #[test]
        fn prefixes_in_aligned_slots_agree_with_a_model(
            secret in any::<u64>(),
            reserve in 0usize..40,
            ops in prop::collection::vec(op(), 1..400),
        ) {
            agrees_with_a_model::<24, Align32>(secret, reserve, ops)?;
        }
    }

    /// A 24-byte prefix with a u32 value in 32-byte-aligned slots: one slot is half a
    /// cache line and never straddles two, however the allocator places the table.
    /// The seen cache's shape fills exactly one line.
    #[test]
    fn aligned_slots_fit_a_line() {
        assert_eq!(std::mem::size_of::<Slot<u32, 24, Align32>>(), 32);
        assert_eq!(std::mem::size_of::<Slot<[u8; 28], 24, Align64>>(), 64);
        assert_eq!(std::mem::size_of::<Slot<u32, 32, ()>>(), 36);
        for capacity in [0, 5, 1000, 100_000] {
            let t = IdTable::<u32, 24, Align32>::with_capacity(capacity);
            assert_eq!(t.slots.as_ptr() as usize % 32, 0);
            assert_eq!(t.prefetcher().slot_bytes, 32);
        }
    }

    /// A table keeping 24 bytes treats ids that share them as one id: the caller's
    /// ids must not be able to (see the module docs).
    #[test]
    fn a_prefix_table_keys_on_the_prefix() {
        let mut t = IdTable::<u32, 24, Align32>::with_capacity(4);
        let a = [7u8; 32];
        let mut b = a;
        b[31] = 8;
        assert!(t.insert_new(&a, 1));
        assert!(!t.insert_new(&b, 2), "the same first 24 bytes");
        assert_eq!(t.get(&b), Some(&1));
        let mut c = a;
        c[23] = 8;
        assert!(t.insert_new(&c, 3));
        assert_eq!(t.remove(&b), Some(1));
        assert_eq!((t.get(&a), t.get(&c)), (None, Some(&3)));
    }

    #[test]
    fn get_mut_changes_the_value_in_place() {
        let mut t = IdTable::<u32>::with_capacity(4);
        assert!(t.insert_new(&id(1, 1), 5));
        *t.get_mut(&id(1, 1)).unwrap() += 1;
        assert_eq!(t.get(&id(1, 1)), Some(&6));
        assert!(t.get_mut(&id(1, 2)).is_none());
        assert_eq!(t.capacity(), 8);
    }
}
