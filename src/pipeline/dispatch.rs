//! The producers' end of the verify stage: each producer (a network thread, the
//! in-process submitter) numbers its transactions and hands them to the verify
//! workers in runs, through one SPSC ring per (producer, worker). Each run goes to the
//! worker with the shortest backlog, so a worker that gets less CPU (one sharing its
//! core with the BLP, say) gets less work instead of holding the others back. Every
//! result carries its sequence number, and the BLP takes each producer's results in
//! that order from whichever worker holds them, so transactions from one producer
//! (and so from one connection) are applied in arrival order.
//!
//! A full ring pushes back: a network thread's sink answers `Delivery::Full` when every
//! worker's ring is full, and netio stops reading that connection until a worker has
//! room; the in-process submitter returns `Overloaded` to its caller.

use super::message::{Inbound, Origin};
use super::ring::{Consumer, Producer};
use super::wait::Doorbell;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A producer waiting for room in one of its worker rings, and how to wake it.
///
/// The producer announces the wait and looks at the ring once more; the worker, after
/// each read, looks at the announcement. (Dekker, as with `Doorbell`: one of the two
/// always sees the other.) The worker wakes the producer only once it has drained the
/// ring to half, so a paused network thread resumes with room for a burst rather than
/// for one frame at a time.
#[derive(Default)]
pub struct RoomSignal {
    waiting: AtomicBool,
    wake: OnceLock<netio::Waker>,
}

impl RoomSignal {
    /// The worker's side, after reading from `ring`.
    pub(crate) fn after_read<T: Send>(&self, ring: &Consumer<T>) {
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed)
            && ring.backlog() <= ring.capacity() / 2
            && self.waiting.swap(false, Ordering::AcqRel)
        {
            if let Some(w) = self.wake.get() {
                w.wake();
            }
        }
    }
}

/// Transactions a producer hands to one worker before it looks again for the worker
/// with the shortest backlog. Long enough that the BLP rarely has to look for the
/// next transaction in another worker's ring; short next to a batch, so that the
/// workers' shares follow their speeds closely.
const RUN: u32 = 32;

/// One producer's rings into the verify workers.
pub struct Dispatch {
    rings: Vec<Producer<Inbound>>,
    bells: Vec<Arc<Doorbell>>,
    /// Per worker: this producer waiting for room in that worker's ring.
    room: Vec<Arc<RoomSignal>>,
    next: u64,
    /// The worker taking the current run, and how many more transactions it may take.
    current: usize,
    run_left: u32,
    /// Workers that received something since the last `flush`.
    dirty: Vec<bool>,
}

impl Dispatch {
    pub(crate) fn new(
        rings: Vec<Producer<Inbound>>,
        bells: Vec<Arc<Doorbell>>,
        room: Vec<Arc<RoomSignal>>,
    ) -> Dispatch {
        let n = rings.len();
        Dispatch {
            rings,
            bells,
            room,
            next: 0,
            current: 0,
            run_left: 0,
            dirty: vec![false; n],
        }
    }
    /// The worker for the next transaction: the current run's while the run lasts and
    /// its ring has room, else the one with the shortest backlog that has room (ties
    /// go to the workers after the current one, so bursts spread). `None` when every
    /// ring is full.
    fn route(&mut self) -> Option<usize> {
        if self.run_left > 0 && self.rings[self.current].has_room() {
            return Some(self.current);
        }
        let n = self.rings.len();
        let mut best: Option<(usize, usize)> = None;
        for k in 1..=n {
            let w = (self.current + k) % n;
            let backlog = self.rings[w].backlog();
            if backlog < self.rings[w].capacity() && best.is_none_or(|(_, b)| backlog < b) {
                best = Some((w, backlog));
            }
        }
        let (w, _) = best?;
        self.current = w;
        self.run_left = RUN;
        Some(w)
    }
    /// Numbers and publishes the next transaction, or refuses it when every worker's
    /// ring is full (backpressure).
    pub fn try_send(&mut self, origin: Origin, bytes: Vec<u8>) -> Result<(), Overloaded> {
        let w = self.route().ok_or(Overloaded)?;
        let item = Inbound {
            seq: self.next,
            origin,
            bytes,
        };
        self.rings[w].try_publish(item).map_err(|_| Overloaded)?;
        self.next += 1;
        self.run_left -= 1;
        self.dirty[w] = true;
        Ok(())
    }
    /// Whether some worker's ring has a free slot (checked before the frame is
    /// copied). When none has, asks every worker to wake this producer once it has
    /// drained its ring to half (see `RoomSignal`).
    fn has_room_or_wait(&mut self) -> bool {
        if self.route().is_some() {
            return true;
        }
        for r in &self.room {
            r.waiting.store(true, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        if self.route().is_some() {
            for r in &self.room {
                r.waiting.store(false, Ordering::Relaxed);
            }
            return true;
        }
        false
    }
    /// Wakes the workers that got work (once per burst, not per transaction).
    pub fn flush(&mut self) {
        for (w, d) in self.dirty.iter_mut().enumerate() {
            if std::mem::take(d) {
                self.bells[w].ring();
            }
        }
    }
    /// Transactions published so far.
    pub fn published(&self) -> u64 {
        self.next
    }
}

/// The in-process producer (RPC broadcasts, tests): a `Dispatch` behind a lock, for
/// callers that submit at modest rates from any thread.
#[derive(Clone)]
pub struct Submitter {
    inner: Arc<Mutex<Dispatch>>,
}

/// The verify stage's rings are full: try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the verify stage is overloaded; try again")]
pub struct Overloaded;

impl Submitter {
    pub(crate) fn new(d: Dispatch) -> Submitter {
        Submitter {
            inner: Arc::new(Mutex::new(d)),
        }
    }
    /// Submits a signed transaction's canonical bytes; the answer arrives on the
    /// pipeline's local answer channel with `tag`.
    pub fn submit(&self, tag: u64, bytes: Vec<u8>) -> Result<(), Overloaded> {
        let mut d = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let r = d.try_send(Origin::Local { tag }, bytes);
        d.flush();
        r
    }
}

/// A network thread's sink: frames become `Inbound`s.
pub struct IngestSink {
    pub(crate) dispatch: Dispatch,
}

impl netio::Sink for IngestSink {
    fn on_frame(&mut self, conn: netio::ConnId, seq: u64, frame: &[u8]) -> netio::Delivery {
        if !self.dispatch.has_room_or_wait() {
            // Backpressure: the connection pauses and TCP holds the client back until
            // a worker wakes this thread. Wake the workers, in case one parked before
            // our last burst.
            self.dispatch.flush();
            return netio::Delivery::Full;
        }
        match self
            .dispatch
            .try_send(Origin::Ingest { conn, seq }, frame.to_vec())
        {
            Ok(()) => netio::Delivery::Taken,
            Err(_) => netio::Delivery::Full,
        }
    }
    fn end_of_batch(&mut self) {
        self.dispatch.flush();
    }
    fn attach(&mut self, waker: netio::Waker) {
        for r in &self.dispatch.room {
            let _ = r.wake.set(waker.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ring::ring;

    fn dispatch(workers: usize, capacity: usize) -> (Dispatch, Vec<Consumer<Inbound>>) {
        let (producers, consumers) = (0..workers).map(|_| ring(capacity)).unzip();
        let d = Dispatch::new(
            producers,
            (0..workers).map(|_| Arc::new(Doorbell::new())).collect(),
            (0..workers)
                .map(|_| Arc::new(RoomSignal::default()))
                .collect(),
        );
        (d, consumers)
    }

    fn send(d: &mut Dispatch, tag: u64) -> bool {
        d.try_send(Origin::Local { tag }, Vec::new()).is_ok()
    }

    fn drain(c: &mut Consumer<Inbound>) -> Vec<u64> {
        let mut seqs = Vec::new();
        c.poll_batch(usize::MAX, |v, _| {
            assert_eq!(Origin::Local { tag: v.seq }, v.origin, "numbered in order");
            seqs.push(v.seq);
        });
        seqs
    }

    #[test]
    fn runs_go_to_the_shortest_backlog_and_every_seq_once() {
        let (mut d, mut c) = dispatch(2, 128);
        for tag in 0..96 {
            assert!(send(&mut d, tag));
        }
        // Runs of 32 alternate while the backlogs are level.
        assert_eq!((c[0].backlog(), c[1].backlog()), (32, 64));
        // Worker 0 is faster: it has read everything, so the next runs are its own.
        let mut seen = drain(&mut c[0]);
        for tag in 96..160 {
            assert!(send(&mut d, tag));
        }
        assert_eq!((c[0].backlog(), c[1].backlog()), (64, 64));
        seen.extend(drain(&mut c[0]));
        seen.extend(drain(&mut c[1]));
        seen.sort_unstable();
        assert_eq!(seen, (0..160).collect::<Vec<_>>());
        assert_eq!(d.published(), 160);
    }

    #[test]
    fn a_full_run_switches_workers_and_all_full_pushes_back() {
        let (mut d, mut c) = dispatch(2, 16);
        for tag in 0..32 {
            assert!(send(&mut d, tag), "room in one ring or the other");
        }
        assert!(!send(&mut d, 32), "both rings are full");
        assert!(!d.has_room_or_wait());
        assert!(d.room.iter().all(|r| r.waiting.load(Ordering::Relaxed)));
        // Worker 1 drains to half: it is the one that wakes the producer.
        c[1].poll_batch(8, |_, _| {});
        assert!(d.has_room_or_wait());
        assert!(send(&mut d, 32));
        assert_eq!(c[1].backlog(), 9);
        assert_eq!(c[0].backlog(), 16);
    }
}
