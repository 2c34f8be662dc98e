//! Journaled containers: every change records how to undo it.
//!
//! A journal is a deque of undo entries addressed by absolute position. A session is a
//! position (a mark): rolling back to it undoes every later entry in reverse order;
//! forgetting before it drops history that can no longer be undone (irreversible).
//! Nested sessions are just nested marks, so opening and committing one is O(1).

use std::collections::{BTreeMap, VecDeque};

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
#[derive(Debug, Clone)]
pub struct Journal<E> {
    entries: VecDeque<E>,
    /// Absolute position of `entries[0]`.
    base: usize,
}

impl<E> Default for Journal<E> {
    fn default() -> Self {
        Journal {
            entries: VecDeque::new(),
            base: 0,
        }
    }
}

impl<E> Journal<E> {
    pub fn push(&mut self, e: E) {
        self.entries.push_back(e);
    }
    pub fn mark(&self) -> usize {
        self.base + self.entries.len()
    }
    /// Pops entries newer than `mark`, newest first.
    pub fn pop_after(&mut self, mark: usize) -> Option<E> {
        assert!(
            mark >= self.base,
            "rollback below the retained undo history"
        );
        if self.mark() > mark {
            self.entries.pop_back()
        } else {
            None
        }
    }
    pub fn forget_before(&mut self, mark: usize) {
        while self.base < mark && !self.entries.is_empty() {
            self.entries.pop_front();
            self.base += 1;
        }
        self.base = self.base.max(mark.min(self.mark()));
    }
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

enum RowChange<T> {
    Created,
    Modified(u64, T),
    Removed(u64, T),
}

/// A dense table indexed by instance number. Instances are never reused: creation
/// appends, removal leaves a hole.
pub struct Table<T> {
    rows: Vec<Option<T>>,
    journal: Journal<RowChange<T>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            journal: Journal::default(),
        }
    }
}

impl<T: Clone> Table<T> {
    pub fn get(&self, instance: u64) -> Option<&T> {
        self.rows.get(instance as usize).and_then(Option::as_ref)
    }
    /// The next instance that `create` will use.
    pub fn next_instance(&self) -> u64 {
        self.rows.len() as u64
    }
    pub fn create(&mut self, value: T) -> u64 {
        let id = self.rows.len() as u64;
        self.rows.push(Some(value));
        self.journal.push(RowChange::Created);
        id
    }
    /// Applies `f` to a row, recording its old value first. `None` if there is no row.
    pub fn modify<R>(&mut self, instance: u64, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let row = self.rows.get_mut(instance as usize)?.as_mut()?;
        self.journal
            .push(RowChange::Modified(instance, row.clone()));
        Some(f(row))
    }
    pub fn remove(&mut self, instance: u64) -> Option<T> {
        let old = self.rows.get_mut(instance as usize)?.take()?;
        self.journal.push(RowChange::Removed(instance, old.clone()));
        Some(old)
    }
    /// Live rows in instance order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|v| (i as u64, v)))
    }
    pub fn len(&self) -> usize {
        self.rows.iter().filter(|r| r.is_some()).count()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Rows including holes (for snapshots of the id space).
    pub fn capacity_rows(&self) -> usize {
        self.rows.len()
    }
    pub fn reserve(&mut self, additional: usize) {
        self.rows.reserve(additional);
    }
    /// Every row slot, holes included, in instance order.
    pub fn rows(&self) -> &[Option<T>] {
        &self.rows
    }
    /// A table holding `rows` with no undo history (a loaded snapshot).
    pub fn from_rows(rows: Vec<Option<T>>) -> Table<T> {
        Table {
            rows,
            journal: Journal::default(),
        }
    }
    /// A copy of the rows without the undo history.
    pub fn clone_committed(&self) -> Table<T> {
        Table::from_rows(self.rows.clone())
    }
}

impl<T: Clone> Journaled for Table<T> {
    fn mark(&self) -> usize {
        self.journal.mark()
    }
    fn rollback_to(&mut self, mark: usize) {
        while let Some(change) = self.journal.pop_after(mark) {
            match change {
                RowChange::Created => {
                    self.rows.pop();
                }
                RowChange::Modified(i, old) | RowChange::Removed(i, old) => {
                    self.rows[i as usize] = Some(old);
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
