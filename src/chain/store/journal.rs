//! Journaled containers: every change records how to undo it.
//!
//! A journal is a deque of undo entries addressed by absolute position. A session is a
//! position (a mark): rolling back to it undoes every later entry in reverse order;
//! forgetting before it drops history that can no longer be undone (irreversible).
//! Nested sessions are just nested marks, so opening and committing one is O(1).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Anything the store can mark, roll back and trim.
pub trait Journaled {
    /// The absolute journal position now.
    fn mark(&self) -> usize;
    /// Undo every change after `mark`, newest first.
    fn rollback_to(&mut self, mark: usize);
    /// Drop undo entries before `mark` (they became irreversible).
    fn forget_before(&mut self, mark: usize);
}

/// Undo entries, addressed by absolute position.
///
/// The entries live in chunks of at most [`JOURNAL_CHUNK`], so the journal grows
/// without ever copying what it holds. The history between the irreversible block and
/// the head is millions of entries at full load, and a single deque would copy it all
/// at every doubling while it grows to that size. Emptied chunks are kept (a few) for
/// the entries that come next.
#[derive(Debug, Clone)]
pub struct Journal<E> {
    /// Oldest first, none empty; the front one may have lost entries at its front,
    /// only the back one takes new entries.
    chunks: VecDeque<VecDeque<E>>,
    /// Emptied chunks, for reuse.
    spare: Vec<VecDeque<E>>,
    len: usize,
    /// Absolute position of the oldest entry.
    base: usize,
}

/// Entries per chunk of a [`Journal`], at most. Chunks start smaller and grow with the
/// journal, so the journals of tables that rarely change stay small.
const JOURNAL_CHUNK: usize = 4096;
const JOURNAL_CHUNK_MIN: usize = 16;
/// Emptied chunks a journal keeps for reuse.
const SPARE_CHUNKS: usize = 16;

impl<E> Default for Journal<E> {
    fn default() -> Self {
        Journal {
            chunks: VecDeque::new(),
            spare: Vec::new(),
            len: 0,
            base: 0,
        }
    }
}

impl<E> Journal<E> {
    pub fn push(&mut self, e: E) {
        match self.chunks.back_mut() {
            Some(back) if back.len() < back.capacity() => back.push_back(e),
            _ => {
                let mut chunk = self.spare.pop().unwrap_or_else(|| {
                    let n = self
                        .len
                        .max(JOURNAL_CHUNK_MIN)
                        .next_power_of_two()
                        .min(JOURNAL_CHUNK);
                    VecDeque::with_capacity(n)
                });
                chunk.push_back(e);
                self.chunks.push_back(chunk);
            }
        }
        self.len += 1;
    }
    fn retire(&mut self, chunk: VecDeque<E>) {
        if self.spare.len() < SPARE_CHUNKS {
            self.spare.push(chunk);
        }
    }
    pub fn mark(&self) -> usize {
        self.base + self.len
    }
    /// Pops entries newer than `mark`, newest first.
    pub fn pop_after(&mut self, mark: usize) -> Option<E> {
        assert!(
            mark >= self.base,
            "rollback below the retained undo history"
        );
        if self.mark() <= mark {
            return None;
        }
        let back = self.chunks.back_mut()?;
        let e = back.pop_back();
        if back.is_empty() {
            let chunk = self.chunks.pop_back().expect("the back chunk");
            self.retire(chunk);
        }
        self.len -= 1;
        e
    }
    pub fn forget_before(&mut self, mark: usize) {
        while self.base < mark && self.len > 0 {
            let front = self
                .chunks
                .front_mut()
                .expect("a chunk holds the oldest entry");
            // Whole chunks at a time where the mark allows.
            let n = (mark - self.base).min(front.len());
            front.drain(..n);
            if front.is_empty() {
                let chunk = self.chunks.pop_front().expect("the front chunk");
                self.retire(chunk);
            }
            self.base += n;
            self.len -= n;
        }
        self.base = self.base.max(mark.min(self.mark()));
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

enum RowChange<T> {
    Created,
    Modified(u64, T),
    Removed(u64, T),
}

/// Rows per chunk of a [`Table`] (a power of two).
const CHUNK_ROWS: usize = 1024;
const CHUNK_SHIFT: u32 = CHUNK_ROWS.trailing_zeros();

/// A dense table indexed by instance number. Instances are never reused: creation
/// appends, removal leaves a hole.
///
/// Rows live in chunks of [`CHUNK_ROWS`], so that a snapshot's copy
/// ([`Table::clone_committed`]) can share them instead of copying the rows: making
/// the copy turns each chunk into a shared one (moving its buffer behind an `Arc`,
/// not copying it), which costs the BLP a pointer per thousand rows. The first change
/// to a shared chunk takes it back, copying it only if the snapshot still holds it.
/// Owned chunks are plain vectors: the hot path never touches a reference count.
pub struct Table<T> {
    chunks: Vec<Chunk<T>>,
    len: usize,
    journal: Journal<RowChange<T>>,
}

enum Chunk<T> {
    Owned(Vec<Option<T>>),
    Shared(Arc<Vec<Option<T>>>),
}

impl<T: Clone> Chunk<T> {
    fn rows(&self) -> &[Option<T>] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(a) => a,
        }
    }
    fn owned(&mut self) -> &mut Vec<Option<T>> {
        if let Chunk::Shared(a) = self {
            let a = std::mem::replace(a, Arc::new(Vec::new()));
            *self = Chunk::Owned(Arc::try_unwrap(a).unwrap_or_else(|a| (*a).clone()));
        }
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(_) => unreachable!("taken back just above"),
        }
    }
    fn share(&mut self) -> Arc<Vec<Option<T>>> {
        if let Chunk::Owned(v) = self {
            *self = Chunk::Shared(Arc::new(std::mem::take(v)));
        }
        match self {
            Chunk::Shared(a) => a.clone(),
            Chunk::Owned(_) => unreachable!("shared just above"),
        }
    }
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            chunks: Vec::new(),
            len: 0,
            journal: Journal::default(),
        }
    }
}

/// How much of a row [`Table::prefetch`] asks for: two cache lines. An account row is
/// 488 bytes, and asking for all of it (512 was tried against the replay benchmark)
/// measured no better.
const PREFETCH_ROW_BYTES: usize = 128;

fn split(instance: u64) -> (usize, usize) {
    let i = instance as usize;
    (i >> CHUNK_SHIFT, i & (CHUNK_ROWS - 1))
}

impl<T: Clone> Table<T> {
    pub fn get(&self, instance: u64) -> Option<&T> {
        if instance as usize >= self.len {
            return None;
        }
        let (c, r) = split(instance);
        self.chunks[c].rows()[r].as_ref()
    }
    /// Asks the CPU to start loading the row of `instance` (its first cache lines),
    /// without reading it: a hint with no effect on results.
    pub fn prefetch(&self, instance: u64) {
        if (instance as usize) < self.len {
            let (c, r) = split(instance);
            let row = &self.chunks[c].rows()[r];
            let len = std::mem::size_of::<Option<T>>().min(PREFETCH_ROW_BYTES);
            super::prefetch_bytes(row as *const Option<T> as *const u8, len);
        }
    }
    fn slot_mut(&mut self, instance: u64) -> Option<&mut Option<T>> {
        if instance as usize >= self.len {
            return None;
        }
        let (c, r) = split(instance);
        Some(&mut self.chunks[c].owned()[r])
    }
    /// The next instance that `create` will use.
    pub fn next_instance(&self) -> u64 {
        self.len as u64
    }
    pub fn create(&mut self, value: T) -> u64 {
        let id = self.len as u64;
        self.push_row(Some(value));
        self.journal.push(RowChange::Created);
        id
    }
    fn push_row(&mut self, row: Option<T>) {
        if self.len % CHUNK_ROWS == 0 {
            self.chunks
                .push(Chunk::Owned(Vec::with_capacity(CHUNK_ROWS)));
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        last.owned().push(row);
        self.len += 1;
    }
    fn pop_row(&mut self) {
        let last = self.chunks.last_mut().expect("a row to pop");
        let rows = last.owned();
        rows.pop();
        if rows.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
    }
    /// Applies `f` to a row, recording its old value first. `None` if there is no row.
    pub fn modify<R>(&mut self, instance: u64, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let row = self.slot_mut(instance)?.as_mut()?;
        let old = row.clone();
        let r = f(row);
        self.journal.push(RowChange::Modified(instance, old));
        Some(r)
    }
    pub fn remove(&mut self, instance: u64) -> Option<T> {
        let old = self.slot_mut(instance)?.take()?;
        self.journal.push(RowChange::Removed(instance, old.clone()));
        Some(old)
    }
    /// Every row slot, holes included, in instance order.
    pub fn slots(&self) -> impl Iterator<Item = &Option<T>> {
        self.chunks.iter().flat_map(|c| c.rows().iter())
    }
    /// Live rows in instance order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.slots()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|v| (i as u64, v)))
    }
    pub fn len(&self) -> usize {
        self.slots().filter(|r| r.is_some()).count()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Rows including holes (for snapshots of the id space).
    pub fn capacity_rows(&self) -> usize {
        self.len
    }
    pub fn reserve(&mut self, additional: usize) {
        self.chunks.reserve(additional.div_ceil(CHUNK_ROWS));
    }
    /// A table holding `rows` with no undo history (a loaded snapshot).
    pub fn from_rows(rows: Vec<Option<T>>) -> Table<T> {
        let mut t = Table::default();
        for r in rows {
            t.push_row(r);
        }
        t
    }
    /// The rows without the undo history, sharing every chunk with this table (see
    /// the type's documentation): cheap to make, and unaffected by later changes.
    pub fn clone_committed(&mut self) -> Table<T> {
        Table {
            chunks: self
                .chunks
                .iter_mut()
                .map(|c| Chunk::Shared(c.share()))
                .collect(),
            len: self.len,
            journal: Journal::default(),
        }
    }
}

impl<T: Clone> Journaled for Table<T> {
    fn mark(&self) -> usize {
        self.journal.mark()
    }
    fn rollback_to(&mut self, mark: usize) {
        while let Some(change) = self.journal.pop_after(mark) {
            match change {
                RowChange::Created => self.pop_row(),
                RowChange::Modified(i, old) | RowChange::Removed(i, old) => {
                    *self
                        .slot_mut(i)
                        .expect("an undo entry names an existing row") = Some(old);
                }
            }
        }
    }
    fn forget_before(&mut self, mark: usize) {
        self.journal.forget_before(mark);
    }
}

/// An ordered map whose changes can be undone (secondary indexes).
pub struct UndoMap<K, V> {
    map: BTreeMap<K, V>,
    journal: Journal<(K, Option<V>)>,
}

impl<K, V> Default for UndoMap<K, V> {
    fn default() -> Self {
        UndoMap {
            map: BTreeMap::new(),
            journal: Journal::default(),
        }
    }
}

impl<K: Ord + Clone, V: Clone> UndoMap<K, V> {
    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }
    pub fn contains_key(&self, k: &K) -> bool {
        self.map.contains_key(k)
    }
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let old = self.map.insert(k.clone(), v);
        self.journal.push((k, old.clone()));
        old
    }
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let old = self.map.remove(k)?;
        self.journal.push((k.clone(), Some(old.clone())));
        Some(old)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }
    pub fn range<R: std::ops::RangeBounds<K>>(&self, r: R) -> impl Iterator<Item = (&K, &V)> {
        self.map.range(r)
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<K: Ord + Clone, V: Clone> Journaled for UndoMap<K, V> {
    fn mark(&self) -> usize {
        self.journal.mark()
    }
    fn rollback_to(&mut self, mark: usize) {
        while let Some((k, old)) = self.journal.pop_after(mark) {
            match old {
                Some(v) => {
                    self.map.insert(k, v);
                }
                None => {
                    self.map.remove(&k);
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

    mod chunked {
        use super::super::Journal;
        use proptest::prelude::*;
        use std::collections::VecDeque;

        proptest! {
            /// Pushes, rollbacks and forgets across many chunks (entries up to four
            /// chunks deep) give the same marks and the same entries, newest first, as
            /// a plain deque of the history.
            #[test]
            fn agrees_with_a_deque(
                ops in prop::collection::vec((0u8..3, 0usize..20_000), 1..40),
            ) {
                let mut j = Journal::default();
                let (mut model, mut base) = (VecDeque::new(), 0usize);
                let mut next = 0u64;
                for (kind, n) in ops {
                    match kind {
                        0 => for _ in 0..n {
                            j.push(next);
                            model.push_back(next);
                            next += 1;
                        },
                        1 => {
                            let mark = base + n.min(model.len());
                            while let Some(e) = j.pop_after(mark) {
                                prop_assert_eq!(Some(e), model.pop_back());
                            }
                            prop_assert_eq!(base + model.len(), mark);
                        }
                        _ => {
                            let mark = base + n.min(model.len());
                            j.forget_before(mark);
                            while base < mark {
                                model.pop_front();
                                base += 1;
                            }
                        }
                    }
                    prop_assert_eq!(j.mark(), base + model.len());
                    prop_assert_eq!(j.len(), model.len());
                }
                while let Some(e) = j.pop_after(base) {
                    prop_assert_eq!(Some(e), model.pop_back());
                }
                prop_assert!(model.is_empty() && j.is_empty());
            }
        }
    }

    #[test]
    fn nested_rollback() {
        let mut t: Table<i64> = Table::default();
        let a = t.create(10);
        let outer = t.mark();
        t.modify(a, |v| *v += 5);
        let inner = t.mark();
        let b = t.create(7);
        t.modify(a, |v| *v *= 2);
        t.remove(b);
        assert_eq!(t.get(a), Some(&30));
        t.rollback_to(inner);
        assert_eq!(t.get(a), Some(&15));
        assert_eq!(t.get(b), None);
        assert_eq!(t.next_instance(), 1);
        t.rollback_to(outer);
        assert_eq!(t.get(a), Some(&10));
        t.forget_before(outer);
        assert!(t.journal.is_empty());
    }

    #[test]
    fn a_committed_copy_keeps_its_rows_while_the_table_changes() {
        let mut t: Table<u64> = Table::default();
        let n = (CHUNK_ROWS * 2 + 5) as u64;
        for i in 0..n {
            t.create(i);
        }
        let copy = t.clone_committed();
        t.modify(3, |v| *v = 1000);
        t.remove(CHUNK_ROWS as u64 + 1);
        let m = t.mark();
        for i in 0..CHUNK_ROWS as u64 {
            t.create(n + i);
        }
        t.rollback_to(m);
        t.create(77);
        assert_eq!(copy.capacity_rows(), n as usize);
        assert!(
            (0..n).all(|i| copy.get(i) == Some(&i)),
            "the copy never changes"
        );
        assert_eq!(t.get(3), Some(&1000));
        assert_eq!(t.get(CHUNK_ROWS as u64 + 1), None);
        assert_eq!(t.get(n), Some(&77));
        assert_eq!(t.next_instance(), n + 1);
        let rows: Vec<_> = t.slots().cloned().collect();
        let back = Table::from_rows(rows);
        assert!(back.iter().eq(t.iter()));
    }

    #[test]
    fn map_rollback() {
        let mut m: UndoMap<String, u32> = UndoMap::default();
        m.insert("a".into(), 1);
        let mk = m.mark();
        m.insert("a".into(), 2);
        m.insert("b".into(), 3);
        m.remove(&"a".to_string());
        m.rollback_to(mk);
        assert_eq!(m.get(&"a".to_string()), Some(&1));
        assert!(!m.contains_key(&"b".to_string()));
    }

    #[test]
    #[should_panic(expected = "rollback below the retained undo history")]
    fn cannot_undo_forgotten() {
        let mut t: Table<u8> = Table::default();
        t.create(1);
        let m = t.mark();
        t.create(2);
        t.forget_before(t.mark());
        t.rollback_to(m);
    }
}
