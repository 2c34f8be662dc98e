//! Reads served by the BLP: how RPC threads read the live state without ever making
//! the BLP wait for them.
//!
//! A reader does not take a lock on the state. It queues its read (a closure over
//! `&Chain`) and rings the BLP's doorbell; between two batches the BLP runs the reads
//! queued at that moment, for at most a sixteenth of the turn's work
//! ([`reads_budget`]; at least one read, so reads always progress), and wakes each reader when its read is done.
//! The BLP never waits on a reader: not for a lock that a preempted reader holds, and
//! not for a reader to be scheduled after a hand-off (which is what a fair lock
//! hand-off costs when the reader's CPU is busy, measured in `docs/BENCHMARKS.md`).
//! Nor does it make a system call for a read: it marks each read done, and a waker
//! thread on the RPC side, which polls while reads are in flight, wakes the readers.
//! (A cross-CPU wake-up costs the waking side 10-16 µs on these VMs, with outliers of
//! milliseconds; a waker woken by the BLP once per turn still cost the BLP 5-8%.)
//! A reader waits for at most the batch in progress. Reads are short by contract:
//! copy out what the answer needs; the bounded `limit`s of every list method keep
//! them so.
//!
//! A read borrows from its caller's stack (`Reads::run` blocks until the BLP has run
//! or dropped it), like a scoped thread. When the pipeline stops, the reads still
//! queued are dropped unrun and their readers get [`Stopped`]; later reads get it at
//! once.

use super::wait::{Doorbell, Idler, WaitStrategy};
use super::Stopped;
use crate::chain::Chain;
use parking_lot::Mutex;
use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// The most BLP time that one turn spends on reads: a sixteenth of the work the turn
/// did (so reads take at most about 6% of a busy BLP), within
/// [`READS_BUDGET_MIN`]..=[`READS_BUDGET_MAX`]. A turn always serves at least one read,
/// and an idle BLP takes turns back to back while reads wait.
pub fn reads_budget(work: Duration) -> Duration {
    (work / READS_SHARE).clamp(READS_BUDGET_MIN, READS_BUDGET_MAX)
}

/// How often the waker thread looks for finished reads while reads are in flight: the
/// latency it adds to a read, at most.
pub const WAKER_POLL: Duration = Duration::from_micros(100);

/// Reads get at most 1/`READS_SHARE` of a busy BLP's time.
pub const READS_SHARE: u32 = 16;
pub const READS_BUDGET_MIN: Duration = Duration::from_micros(10);
/// About 3% of a 4096-transaction batch on a 2-core machine.
pub const READS_BUDGET_MAX: Duration = Duration::from_micros(50);

/// A queued read, its lifetime erased (see [`Reads::run`]).
type ReadFn = Box<dyn FnOnce(&Chain) + Send + 'static>;

/// A read waiting for the BLP.
pub struct Job {
    read: ReadFn,
    done: Arc<Done>,
}

const WAITING: u8 = 0;
const RAN: u8 = 1;
const PANICKED: u8 = 2;
const DROPPED: u8 = 3;

/// A read's outcome, for its reader, who parks until it is set. Setting it takes no
/// lock and makes no system call; the wake-up comes from the waker thread.
struct Done {
    state: AtomicU8,
    /// A panic's payload, set before `state` says `PANICKED`.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    reader: Thread,
}

impl Done {
    fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release);
    }
    fn wait(&self) -> u8 {
        loop {
            match self.state.load(Ordering::Acquire) {
                WAITING => std::thread::park(),
                state => return state,
            }
        }
    }
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    closed: bool,
}

/// The BLP's scratch space for reads, kept between turns so turns do not allocate.
#[derive(Default)]
pub struct Taken {
    jobs: Vec<Job>,
    finished: Vec<Arc<Done>>,
}

/// The queue of reads for the BLP (shared by every reader and the BLP).
pub struct Reads {
    queue: Mutex<Queue>,
    /// Reads queued and not yet taken by the BLP (read without the lock by the BLP's
    /// idle check).
    queued: AtomicUsize,
    /// Reads served, and nanoseconds the BLP spent on them.
    served: AtomicU64,
    served_ns: AtomicU64,
    bell: Arc<Doorbell>,
    /// Reads the BLP has finished, whose readers the waker thread wakes.
    finished: Mutex<Vec<Arc<Done>>>,
    /// Reads submitted whose readers have not returned yet: the waker polls while
    /// there are any, and sleeps on its bell (rung by readers) otherwise.
    in_flight: AtomicUsize,
    waker_bell: Doorbell,
    waker: OnceLock<()>,
    closed: AtomicBool,
}

impl Reads {
    /// A queue whose readers ring `bell`, the BLP's doorbell.
    pub fn new(bell: Arc<Doorbell>) -> Reads {
        Reads {
            queue: Mutex::new(Queue::default()),
            queued: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            served_ns: AtomicU64::new(0),
            bell,
            finished: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            waker_bell: Doorbell::new(),
            waker: OnceLock::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// Runs `f` on the BLP's thread between two batches and returns its result; or
    /// [`Stopped`] once the BLP has stopped. A panic in `f` is caught on the BLP's
    /// thread (the BLP goes on: a read cannot have changed the state) and resumed here.
    ///
    /// The first read starts the waker thread, which inherits this thread's CPUs (an
    /// RPC thread's: off the BLP's core).
    pub fn run<R: Send>(
        self: &Arc<Self>,
        f: impl FnOnce(&Chain) -> R + Send,
    ) -> Result<R, Stopped> {
        self.start_waker();
        let mut out: Option<R> = None;
        let slot = &mut out;
        let read: Box<dyn FnOnce(&Chain) + Send + '_> = Box::new(move |c| *slot = Some(f(c)));
        // SAFETY: the closure borrows `out` and whatever `f` borrows, all of which
        // outlive this call. It is only run or dropped by `serve`/`close`, each of
        // which sets `done`'s state after the closure has been consumed (run, or
        // dropped); this function does not return before that state is set
        // (`Done::wait` cannot fail, and nothing between here and there can unwind
        // except an allocation failure, which aborts). If the queue is closed, the
        // job is dropped right here. So the closure never outlives its borrows.
        let read: ReadFn = unsafe { std::mem::transmute(read) };
        let done = Arc::new(Done {
            state: AtomicU8::new(WAITING),
            panic: Mutex::new(None),
            reader: std::thread::current(),
        });
        {
            let mut q = self.queue.lock();
            if q.closed {
                drop(q);
                drop(read);
                return Err(Stopped);
            }
            q.jobs.push(Job {
                read,
                done: done.clone(),
            });
            self.queued.fetch_add(1, Ordering::Release);
        }
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.waker_bell.ring();
        }
        self.bell.ring();
        let state = done.wait();
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        match state {
            RAN => Ok(out.expect("a read that ran left its result")),
            PANICKED => match done.panic.lock().take() {
                Some(payload) => resume_unwind(payload),
                None => panic!("a read panicked on the BLP's thread"),
            },
            _ => Err(Stopped),
        }
    }

    fn start_waker(self: &Arc<Self>) {
        self.waker.get_or_init(|| {
            let reads = self.clone();
            let spawned = std::thread::Builder::new()
                .name("rpc-waker".into())
                .spawn(move || reads.wake_readers());
            if let Err(e) = spawned {
                // Without a waker the BLP wakes each reader itself (see `serve`).
                tracing::warn!("no waker thread for RPC reads: {e}");
                self.closed.store(true, Ordering::Release);
            }
        });
    }

    /// The waker thread: wakes the readers of finished reads until the queue closes.
    /// While reads are in flight it looks every [`WAKER_POLL`]; otherwise it sleeps
    /// until a reader rings it.
    fn wake_readers(&self) {
        self.waker_bell.register_current();
        let mut idler = Idler::new(WaitStrategy::Block);
        let mut batch = Vec::new();
        loop {
            std::mem::swap(&mut *self.finished.lock(), &mut batch);
            for done in batch.drain(..) {
                done.reader.unpark();
            }
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            if self.in_flight.load(Ordering::Acquire) > 0 {
                std::thread::park_timeout(WAKER_POLL);
            } else {
                idler.idle(&self.waker_bell, Duration::from_millis(100), || {
                    self.in_flight.load(Ordering::Acquire) > 0
                        || self.closed.load(Ordering::Acquire)
                });
            }
        }
    }

    /// Reads served so far, and the BLP's nanoseconds spent on them.
    pub fn served(&self) -> (u64, u64) {
        (
            self.served.load(Ordering::Relaxed),
            self.served_ns.load(Ordering::Relaxed),
        )
    }

    /// Whether reads are waiting for the BLP.
    pub fn pending(&self) -> bool {
        self.queued.load(Ordering::Acquire) > 0
    }

    /// The BLP's side, between batches: runs the reads queued now, for at most
    /// `budget` (at least one); the rest wait for the next turn. Never blocks: if a
    /// reader holds the queue's lock this turn serves nothing, and if the waker holds
    /// its list the BLP wakes this turn's readers itself. Returns the reads run.
    pub fn serve(&self, chain: &Chain, budget: Duration, taken: &mut Taken) -> usize {
        if !self.pending() {
            return 0;
        }
        {
            let Some(mut q) = self.queue.try_lock() else {
                return 0;
            };
            std::mem::swap(&mut q.jobs, &mut taken.jobs);
        }
        let started = Instant::now();
        let mut served = 0;
        let mut rest = taken.jobs.drain(..);
        for job in rest.by_ref() {
            let state = match catch_unwind(AssertUnwindSafe(|| (job.read)(chain))) {
                Ok(()) => RAN,
                Err(payload) => {
                    *job.done.panic.lock() = Some(payload);
                    PANICKED
                }
            };
            job.done.set(state);
            taken.finished.push(job.done);
            served += 1;
            if started.elapsed() >= budget {
                break;
            }
        }
        let unserved: Vec<Job> = rest.collect();
        self.queued.fetch_sub(served, Ordering::Release);
        if !unserved.is_empty() {
            // Back to the front of the queue, in their order, before later reads.
            let mut q = self.queue.lock();
            let later = std::mem::replace(&mut q.jobs, unserved);
            q.jobs.extend(later);
        }
        self.hand_to_waker(&mut taken.finished);
        self.served.fetch_add(served as u64, Ordering::Relaxed);
        self.served_ns
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        served
    }

    fn hand_to_waker(&self, finished: &mut Vec<Arc<Done>>) {
        if finished.is_empty() {
            return;
        }
        // The waker finds them at its next look. Rarely (the waker is swapping the
        // list, or has stopped) the BLP wakes the readers itself.
        let handed = !self.closed.load(Ordering::Acquire)
            && match self.finished.try_lock() {
                Some(mut list) => {
                    list.append(finished);
                    true
                }
                None => false,
            };
        if !handed {
            for done in finished.drain(..) {
                done.reader.unpark();
            }
        }
    }

    /// The BLP has stopped: the reads queued are dropped unrun (their readers get
    /// [`Stopped`]), later reads are refused, and the waker thread ends.
    pub fn close(&self) {
        let jobs = {
            let mut q = self.queue.lock();
            q.closed = true;
            std::mem::take(&mut q.jobs)
        };
        self.queued.fetch_sub(jobs.len(), Ordering::Release);
        for job in jobs {
            drop(job.read);
            job.done.set(DROPPED);
            job.done.reader.unpark();
        }
        self.closed.store(true, Ordering::Release);
        self.waker_bell.ring();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::DevChain;
    use std::sync::atomic::AtomicBool;

    /// A BLP stand-in: serves reads on its own thread until told to stop, then closes.
    fn serving(
        reads: Arc<Reads>,
        chain: Chain,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<usize> {
        std::thread::spawn(move || {
            let mut taken = Taken::default();
            let mut served = 0;
            while !stop.load(Ordering::Relaxed) {
                served += reads.serve(&chain, READS_BUDGET_MAX, &mut taken);
                std::thread::yield_now();
            }
            reads.close();
            served
        })
    }

    #[test]
    fn reads_run_on_the_serving_thread_and_borrow_from_the_caller() {
        let dev = DevChain::new();
        let expected = dev.chain.store.dynamic().head_block_number;
        let reads = Arc::new(Reads::new(Arc::new(Doorbell::new())));
        let stop = Arc::new(AtomicBool::new(false));
        let server = serving(reads.clone(), dev.chain, stop.clone());
        let server_thread = server.thread().id();
        let names = vec!["dev".to_string(), "nobody".to_string()];
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (reads, names) = (reads.clone(), names.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let (head, found, thread) = reads
                            .run(|c| {
                                let found: Vec<bool> = names
                                    .iter()
                                    .map(|n| c.account_id_by_name(n).is_some())
                                    .collect();
                                (
                                    c.store.dynamic().head_block_number,
                                    found,
                                    std::thread::current().id(),
                                )
                            })
                            .unwrap();
                        assert_eq!(head, expected);
                        assert_eq!(found, vec![true, false]);
                        assert_eq!(thread, server_thread);
                    }
                })
            })
            .collect();
        for r in readers {
            r.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        assert_eq!(server.join().unwrap(), 800);
        assert!(!reads.pending());
    }

    #[test]
    fn a_panicking_read_panics_its_reader_and_not_the_server() {
        let reads = Arc::new(Reads::new(Arc::new(Doorbell::new())));
        let stop = Arc::new(AtomicBool::new(false));
        let server = serving(reads.clone(), DevChain::new().chain, stop.clone());
        let r = reads.clone();
        let panicked = std::thread::spawn(move || r.run(|_| -> u32 { panic!("boom") })).join();
        let message = panicked.unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"boom"));
        // The server goes on serving.
        assert_eq!(reads.run(|_| 7), Ok(7));
        stop.store(true, Ordering::Relaxed);
        assert_eq!(server.join().unwrap(), 2);
    }

    #[test]
    fn reads_queued_when_the_server_stops_get_stopped_and_later_reads_too() {
        let reads = Arc::new(Reads::new(Arc::new(Doorbell::new())));
        let waiting: Vec<_> = (0..3)
            .map(|i| {
                let reads = reads.clone();
                std::thread::spawn(move || reads.run(move |_| i))
            })
            .collect();
        while reads.queued.load(Ordering::Acquire) < 3 {
            std::thread::yield_now();
        }
        reads.close();
        for w in waiting {
            assert_eq!(w.join().unwrap(), Err(Stopped));
        }
        assert_eq!(reads.run(|_| 1), Err(Stopped));
        assert!(!reads.pending());
    }

    #[test]
    fn a_turn_keeps_to_its_budget_and_the_rest_keep_their_order() {
        let dev = DevChain::new();
        let reads = Arc::new(Reads::new(Arc::new(Doorbell::new())));
        let order = Arc::new(Mutex::new(Vec::new()));
        let waiting: Vec<_> = (0..5)
            .map(|i| {
                let (r, order) = (reads.clone(), order.clone());
                let t = std::thread::spawn(move || {
                    r.run(move |_| {
                        order.lock().push(i);
                        std::thread::sleep(Duration::from_millis(2));
                    })
                });
                // Queued in this order.
                while reads.queued.load(Ordering::Acquire) < i + 1 {
                    std::thread::yield_now();
                }
                t
            })
            .collect();
        let mut taken = Taken::default();
        // Each read takes longer than the budget: one per turn, in queue order.
        assert_eq!(reads.serve(&dev.chain, READS_BUDGET_MAX, &mut taken), 1);
        assert_eq!(reads.serve(&dev.chain, READS_BUDGET_MAX, &mut taken), 1);
        assert_eq!(reads.queued.load(Ordering::Acquire), 3);
        assert_eq!(
            reads.serve(&dev.chain, Duration::from_secs(1), &mut taken),
            3
        );
        for w in waiting {
            assert_eq!(w.join().unwrap(), Ok(()));
        }
        assert_eq!(*order.lock(), vec![0, 1, 2, 3, 4]);
        assert_eq!(reads.serve(&dev.chain, READS_BUDGET_MAX, &mut taken), 0);
        reads.close();
    }
}
