//! The producers' end of the verify stage: each producer (a network thread, the
//! in-process submitter) numbers its transactions and hands transaction `seq` to
//! verify worker `seq % workers`, through one SPSC ring per (producer, worker). The
//! BLP reads the workers' results back in the same sequence order, so transactions
//! from one producer (and so from one connection) are applied in arrival order.
//!
//! A full ring pushes back: a network thread's sink answers `Delivery::Full` and netio
//! stops reading that connection until the ring has room; the in-process submitter
//! returns `Overloaded` to its caller.

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

/// One producer's rings into the verify workers.
pub struct Dispatch {
    rings: Vec<Producer<Inbound>>,
    bells: Vec<Arc<Doorbell>>,
    /// Per worker: this producer waiting for room in that worker's ring.
    room: Vec<Arc<RoomSignal>>,
    next: u64,
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
            dirty: vec![false; n],
        }
    }
    /// Publishes the next transaction, or gives it back when its worker's ring is full
    /// (backpressure: the caller answers "overloaded").
    pub fn try_send(&mut self, item: Inbound) -> Result<(), Inbound> {
        let w = (self.next % self.rings.len() as u64) as usize;
        self.rings[w].try_publish(item)?;
        self.next += 1;
        self.dirty[w] = true;
        Ok(())
    }
    /// Whether the next transaction's worker ring has a free slot (checked before the
    /// frame is copied). When there is none, asks that worker to wake this producer
    /// once it has drained its ring to half (see `RoomSignal`).
    fn has_room_or_wait(&mut self) -> bool {
        let w = (self.next % self.rings.len() as u64) as usize;
        if self.rings[w].has_room() {
            return true;
        }
        self.room[w].waiting.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.rings[w].has_room() {
            self.room[w].waiting.store(false, Ordering::Relaxed);
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
        let r = d.try_send(Inbound {
            origin: Origin::Local { tag },
            bytes,
        });
        d.flush();
        r.map_err(|_| Overloaded)
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
            // the worker wakes this thread. Wake the worker we wait on, in case it
            // parked before our last burst.
            self.dispatch.flush();
            return netio::Delivery::Full;
        }
        match self.dispatch.try_send(Inbound {
            origin: Origin::Ingest { conn, seq },
            bytes: frame.to_vec(),
        }) {
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
