//! A bounded single-producer, single-consumer ring between two pipeline stages.
//!
//! Disruptor words: the producer *publishes* into the *ring* at its *sequence*; the
//! consumer is a *batch processor* that reads everything published since its last
//! batch and then advances its own sequence, which is the producer's *barrier*. Slots
//! are allocated once; a full ring refuses the publish (backpressure) instead of growing.
//!
//! With the `loom` feature the ring is built on loom's atomics and cell, and
//! `loom_tests` check every interleaving of a producer and a consumer (run by
//! `scripts/test.sh`: `cargo test --features loom --lib pipeline::ring::loom_tests`).

use std::cell::Cell;
use std::mem::MaybeUninit;

#[cfg(feature = "loom")]
use loom::{
    cell::UnsafeCell,
    sync::atomic::{AtomicU64, Ordering},
    sync::Arc,
};
#[cfg(not(feature = "loom"))]
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

/// std's `UnsafeCell` with loom's access API, so the ring reads the same either way.
#[cfg(not(feature = "loom"))]
struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(feature = "loom"))]
impl<T> UnsafeCell<T> {
    fn new(v: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Keeps the two sequences on separate cache lines.
#[repr(align(128))]
struct Padded(AtomicU64);

struct Shared<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: u64,
    /// Next sequence the producer will write; everything below is published.
    published: Padded,
    /// Next sequence the consumer will read; everything below is free again.
    consumed: Padded,
}

// SAFETY: a slot is written only by the producer while it is outside
// [consumed, published), and read only by the consumer while inside it; the sequences
// are exchanged with release/acquire ordering, so each slot has one owner at a time.
unsafe impl<T: Send> Send for Shared<T> {}
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // `&mut self`: no other thread holds the ring any more.
        let from = self.consumed.0.load(Ordering::Acquire);
        let to = self.published.0.load(Ordering::Acquire);
        for seq in from..to {
            // SAFETY: slots in [consumed, published) hold initialised, unread values.
            self.slots[(seq & self.mask) as usize]
                .with_mut(|slot| unsafe { (*slot).assume_init_drop() });
        }
    }
}

/// The producing end.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Cached copy of the consumer's sequence (refreshed only when the ring looks full).
    barrier: u64,
}

/// The consuming end.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// The producer's sequence as last read. Everything below it stays published, so
    /// it is read again only once the consumer wants past it: a consumer taking one
    /// value at a time does not touch the producer's cache line for every one.
    seen: Cell<u64>,
}

/// Creates a ring of `capacity` slots (a power of two).
pub fn ring<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    assert!(
        capacity.is_power_of_two() && capacity >= 2,
        "ring capacity must be a power of two >= 2"
    );
    let slots = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        slots,
        mask: capacity as u64 - 1,
        published: Padded(AtomicU64::new(0)),
        consumed: Padded(AtomicU64::new(0)),
    });
    (
        Producer {
            shared: shared.clone(),
            barrier: 0,
        },
        Consumer {
            shared,
            seen: Cell::new(0),
        },
    )
}

impl<T: Send> Producer<T> {
    /// Publishes `value`, or gives it back when the ring is full.
    pub fn try_publish(&mut self, value: T) -> Result<(), T> {
        if !self.has_room() {
            return Err(value);
        }
        let s = &*self.shared;
        let seq = s.published.0.load(Ordering::Relaxed);
        // SAFETY: seq is outside [consumed, published), so the consumer does not touch
        // this slot until the release store below.
        s.slots[(seq & s.mask) as usize].with_mut(|slot| unsafe { (*slot).write(value) });
        s.published.0.store(seq + 1, Ordering::Release);
        Ok(())
    }
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }
    /// Whether a publish would succeed now. Reads the consumer's sequence only when
    /// the cached barrier says the ring is full.
    pub fn has_room(&mut self) -> bool {
        let s = &*self.shared;
        let seq = s.published.0.load(Ordering::Relaxed);
        if seq - self.barrier < s.mask + 1 {
            return true;
        }
        self.barrier = s.consumed.0.load(Ordering::Acquire);
        seq - self.barrier < s.mask + 1
    }
    /// Values published and not yet read, as the consumer's sequence stands now.
    pub fn backlog(&self) -> usize {
        let s = &*self.shared;
        (s.published.0.load(Ordering::Relaxed) - s.consumed.0.load(Ordering::Acquire)) as usize
    }
    /// Publishes `value`, waiting while the ring is full (backpressure). `on_full`
    /// runs on every failed attempt (to wake the consumer) and returns `false` to give
    /// up; the value is then dropped and `false` returned.
    pub fn publish_waiting(&mut self, value: T, mut on_full: impl FnMut() -> bool) -> bool {
        let mut item = value;
        let mut spins = 0u32;
        while let Err(back) = self.try_publish(item) {
            item = back;
            if !on_full() {
                return false;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
        true
    }
}

impl<T: Send> Consumer<T> {
    /// Hands up to `max` published values to `f` as one batch; the last call of a batch
    /// has `end_of_batch` set. Returns how many were read.
    pub fn poll_batch(&mut self, max: usize, mut f: impl FnMut(T, bool)) -> usize {
        let s = &*self.shared;
        let from = s.consumed.0.load(Ordering::Relaxed);
        let want = from.saturating_add(max as u64);
        let available = if want <= self.seen.get() {
            self.seen.get()
        } else {
            self.published()
        };
        let to = available.min(want);
        for seq in from..to {
            // SAFETY: seq is in [consumed, published): initialised and owned by us. The
            // sequence advances right after the move, before `f` runs, so a panicking
            // `f` can never leave a moved-out slot inside [consumed, published).
            let v = s.slots[(seq & s.mask) as usize]
                .with_mut(|slot| unsafe { (*slot).assume_init_read() });
            s.consumed.0.store(seq + 1, Ordering::Release);
            f(v, seq + 1 == to);
        }
        (to - from) as usize
    }
    pub fn capacity(&self) -> usize {
        self.shared.slots.len()
    }
    /// Lends the oldest unread value to `f` without reading it; `None` when the ring
    /// is empty.
    pub fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.peek_at(0, f)
    }
    /// Lends the value `ahead` places after the oldest unread one to `f`, without
    /// reading anything; `None` when it is not published yet. (The BLP looks ahead
    /// this way to start loading what it will touch.)
    pub fn peek_at<R>(&self, ahead: usize, f: impl FnOnce(&T) -> R) -> Option<R> {
        let s = &*self.shared;
        let from = s.consumed.0.load(Ordering::Relaxed);
        let at = from.saturating_add(ahead as u64);
        if at >= self.seen.get() && at >= self.published() {
            return None;
        }
        // SAFETY: `at` is in [consumed, published): initialised, and the producer does
        // not write the slot again until the consumer's sequence has passed it, which
        // only this consumer can do, and not while `f` holds the reference.
        Some(
            s.slots[(at & s.mask) as usize]
                .with_mut(|slot| unsafe { f((*slot).assume_init_ref()) }),
        )
    }
    /// Asks the CPU to start loading the slot `ahead` places after the oldest unread
    /// value, if it is published, without reading it.
    pub fn prefetch_at(&self, ahead: usize) {
        let s = &*self.shared;
        let at = s
            .consumed
            .0
            .load(Ordering::Relaxed)
            .saturating_add(ahead as u64);
        if at < self.seen.get() || at < self.published() {
            s.slots[(at & s.mask) as usize].with_mut(|slot| {
                crate::chain::store::prefetch_bytes(slot as *const u8, std::mem::size_of::<T>())
            });
        }
    }
    /// Reads the producer's sequence (acquiring the values below it) and keeps it.
    fn published(&self) -> u64 {
        let p = self.shared.published.0.load(Ordering::Acquire);
        self.seen.set(p);
        p
    }
    /// Values published and not yet read.
    pub fn backlog(&self) -> usize {
        let s = &*self.shared;
        (s.published.0.load(Ordering::Acquire) - s.consumed.0.load(Ordering::Relaxed)) as usize
    }
}

#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;

    #[test]
    fn full_ring_refuses_and_batches_end() {
        let (mut p, mut c) = ring::<u32>(4);
        for i in 0..4 {
            p.try_publish(i).unwrap();
        }
        assert_eq!(p.try_publish(9), Err(9));
        let mut seen = Vec::new();
        assert_eq!(c.poll_batch(3, |v, end| seen.push((v, end))), 3);
        assert_eq!(seen, vec![(0, false), (1, false), (2, true)]);
        p.try_publish(4).unwrap();
        assert_eq!(c.backlog(), 2);
        seen.clear();
        c.poll_batch(10, |v, end| seen.push((v, end)));
        assert_eq!(seen, vec![(3, false), (4, true)]);
        assert_eq!(c.poll_batch(10, |_, _| panic!("empty")), 0);
    }

    #[test]
    fn peek_lends_the_oldest_value_without_reading_it() {
        let (mut p, mut c) = ring::<u32>(4);
        assert_eq!(c.peek(|v| *v), None);
        assert_eq!(p.backlog(), 0);
        p.try_publish(7).unwrap();
        p.try_publish(8).unwrap();
        assert_eq!(p.backlog(), 2);
        assert_eq!(c.peek(|v| *v), Some(7));
        assert_eq!(c.peek(|v| *v), Some(7));
        assert_eq!(c.backlog(), 2);
        c.poll_batch(1, |v, _| assert_eq!(v, 7));
        assert_eq!(c.peek(|v| *v), Some(8));
        assert_eq!(p.backlog(), 1);
        c.poll_batch(1, |_, _| {});
        assert_eq!(c.peek(|v| *v), None);
    }

    #[test]
    fn peek_at_lends_values_further_back_once_published() {
        let (mut p, mut c) = ring::<u32>(8);
        assert_eq!(c.peek_at(0, |v| *v), None);
        for v in 10..13 {
            p.try_publish(v).unwrap();
        }
        assert_eq!(c.peek_at(2, |v| *v), Some(12));
        assert_eq!(c.peek_at(3, |v| *v), None, "not published yet");
        p.try_publish(13).unwrap();
        assert_eq!(c.peek_at(3, |v| *v), Some(13), "seen once published");
        c.poll_batch(2, |_, _| {});
        assert_eq!(c.peek_at(0, |v| *v), Some(12));
        assert_eq!(c.peek_at(1, |v| *v), Some(13));
        assert_eq!(c.peek_at(2, |v| *v), None);
        // A hint: published or not, it reads nothing.
        c.prefetch_at(1);
        c.prefetch_at(1 << 40);
        assert_eq!(c.backlog(), 2);
    }

    #[test]
    fn unread_values_are_dropped_with_the_ring() {
        let item = Arc::new(());
        let (mut p, c) = ring::<Arc<()>>(8);
        for _ in 0..5 {
            p.try_publish(item.clone()).unwrap();
        }
        assert_eq!(Arc::strong_count(&item), 6);
        drop((p, c));
        assert_eq!(Arc::strong_count(&item), 1);
    }

    #[test]
    fn a_panicking_handler_neither_leaks_nor_double_drops() {
        let item = Arc::new(());
        let (mut p, mut c) = ring::<Arc<()>>(8);
        for _ in 0..5 {
            p.try_publish(item.clone()).unwrap();
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut n = 0;
            c.poll_batch(8, |_, _| {
                n += 1;
                assert!(n < 3, "handler fails on the third value");
            });
        }));
        assert!(r.is_err());
        assert_eq!(c.backlog(), 2);
        assert_eq!(Arc::strong_count(&item), 3);
        drop((p, c));
        assert_eq!(Arc::strong_count(&item), 1);
    }

    #[test]
    fn two_threads_lose_and_reorder_nothing() {
        const N: u64 = 200_000;
        let (mut p, mut c) = ring::<u64>(16);
        let producer = std::thread::spawn(move || {
            let mut full = 0u64;
            for i in 0..N {
                let mut v = i;
                while let Err(back) = p.try_publish(v) {
                    v = back;
                    full += 1;
                    std::hint::spin_loop();
                }
            }
            full
        });
        let mut next = 0u64;
        while next < N {
            c.poll_batch(7, |v, _| {
                assert_eq!(v, next, "values arrive in order, none lost");
                next += 1;
            });
        }
        producer.join().unwrap();
        assert_eq!(c.backlog(), 0);
    }
}

/// Every interleaving of one producer and one consumer, under loom's C11 memory
/// model: values arrive once, in order, fully written; the barrier cache never lets
/// the producer overwrite an unread slot; unread values are dropped exactly once.
#[cfg(all(test, feature = "loom"))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicUsize;

    fn publish_spinning(p: &mut Producer<u32>, v: u32) {
        let mut v = v;
        while let Err(back) = p.try_publish(v) {
            v = back;
            loom::thread::yield_now();
        }
    }

    #[test]
    fn values_arrive_once_in_order_through_a_wrapping_ring() {
        loom::model(|| {
            // Capacity 2 and 4 values: the producer wraps and must wait on the barrier.
            let (mut p, mut c) = ring::<u32>(2);
            let producer = loom::thread::spawn(move || {
                for v in 1..=4 {
                    publish_spinning(&mut p, v);
                }
            });
            let mut got = Vec::new();
            while got.len() < 4 {
                if c.poll_batch(2, |v, _| got.push(v)) == 0 {
                    loom::thread::yield_now();
                }
            }
            producer.join().unwrap();
            assert_eq!(got, vec![1, 2, 3, 4]);
            assert_eq!(c.backlog(), 0);
        });
    }

    #[test]
    fn peek_sees_the_value_that_is_then_read() {
        loom::model(|| {
            let (mut p, mut c) = ring::<u32>(2);
            let producer = loom::thread::spawn(move || {
                for v in 1..=3 {
                    publish_spinning(&mut p, v);
                }
            });
            let mut got = Vec::new();
            while got.len() < 3 {
                match c.peek(|v| *v) {
                    Some(seen) => {
                        c.poll_batch(1, |v, _| assert_eq!(v, seen));
                        got.push(seen);
                    }
                    None => loom::thread::yield_now(),
                }
            }
            producer.join().unwrap();
            assert_eq!(got, vec![1, 2, 3]);
        });
    }

    #[test]
    fn has_room_agrees_with_publish() {
        loom::model(|| {
            let (mut p, mut c) = ring::<u32>(2);
            publish_spinning(&mut p, 1);
            publish_spinning(&mut p, 2);
            let consumer = loom::thread::spawn(move || {
                let mut n = 0;
                while n < 1 {
                    n += c.poll_batch(1, |_, _| {});
                    loom::thread::yield_now();
                }
                c
            });
            // Whatever the interleaving, a `true` from has_room means the publish fits.
            loop {
                if p.has_room() {
                    assert!(p.try_publish(3).is_ok());
                    break;
                }
                loom::thread::yield_now();
            }
            let c = consumer.join().unwrap();
            assert_eq!(c.backlog(), 2);
        });
    }

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn unread_values_drop_once_with_the_last_end() {
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (mut p, mut c) = ring::<Counted>(2);
            assert!(p.try_publish(Counted(drops.clone())).is_ok());
            assert!(p.try_publish(Counted(drops.clone())).is_ok());
            let consumer = loom::thread::spawn(move || {
                c.poll_batch(1, |v, _| drop(v));
            });
            drop(p);
            consumer.join().unwrap();
            assert_eq!(drops.load(Ordering::Relaxed), 2);
        });
    }
}
