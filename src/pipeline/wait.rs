//! Wait strategies: what a stage does when its input rings are empty.
//!
//! Disruptor words again: a consumer that finds nothing waits by *busy-spinning*,
//! *yielding* or *blocking*. Busy-spinning gives the lowest hand-off latency but burns
//! its core, which only pays when the stage owns a core (a 16-core witness). On a
//! 2-core machine every stage shares cores, so it blocks: a short spin, then it parks
//! until a producer rings its [`Doorbell`] or a timeout passes.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::Duration;

/// How an idle stage waits (a hardware-profile key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitStrategy {
    /// Spin on the ring: lowest latency, one busy core per stage.
    BusySpin,
    /// Spin, yielding the core to the scheduler between polls.
    Yield,
    /// Spin briefly, then park until a producer rings the doorbell.
    Block,
}

impl std::str::FromStr for WaitStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "busy-spin" => Ok(WaitStrategy::BusySpin),
            "yield" => Ok(WaitStrategy::Yield),
            "block" => Ok(WaitStrategy::Block),
            other => Err(format!(
                "unknown wait strategy `{other}` (busy-spin, yield or block)"
            )),
        }
    }
}

/// How the kernel schedules a stage's thread against the other threads of its core
/// (Linux scheduling policies).
///
/// * `normal`: `SCHED_OTHER`. A thread that wakes may preempt the one running.
/// * `batch`: `SCHED_BATCH`. Its wake-ups never preempt: it runs when the running
///   thread's slice ends or that thread blocks. For a stage that shares its core with a
///   verify worker, it trades a few milliseconds of latency for fewer switches and
///   longer runs, for it and for the worker it would have cut off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedPolicy {
    #[default]
    Normal,
    Batch,
}

impl SchedPolicy {
    /// Puts the calling thread under this policy.
    pub fn apply_to_current_thread(self) -> std::io::Result<()> {
        let policy = match self {
            SchedPolicy::Normal => libc::SCHED_OTHER,
            SchedPolicy::Batch => libc::SCHED_BATCH,
        };
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid `sched_param` for the call's duration; pid 0 is
        // the calling thread.
        if unsafe { libc::sched_setscheduler(0, policy, &param) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// A consumer's doorbell: producers ring it after publishing, and it wakes the
/// consumer only if the consumer is parked, so a busy pipeline makes no syscalls.
#[derive(Default)]
pub struct Doorbell {
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Doorbell {
    pub fn new() -> Doorbell {
        Doorbell::default()
    }
    /// Called once by the consuming thread before it first waits.
    pub fn register_current(&self) {
        let _ = self.thread.set(std::thread::current());
    }
    /// Called by a producer after it published.
    pub fn ring(&self) {
        // Orders the producer's publish before reading `sleeping` (Dekker with `wait`).
        fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::Relaxed) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }
}

/// Polls before parking, under `WaitStrategy::Block`.
const SPINS_BEFORE_PARK: u32 = 64;

/// The consumer's side of a wait strategy.
pub struct Idler {
    strategy: WaitStrategy,
    idle_polls: u32,
}

impl Idler {
    pub fn new(strategy: WaitStrategy) -> Idler {
        Idler {
            strategy,
            idle_polls: 0,
        }
    }
    /// The stage found work: the next idle period starts with spinning again.
    pub fn worked(&mut self) {
        self.idle_polls = 0;
    }
    /// The stage found nothing. Waits a little according to the strategy; `has_work`
    /// is checked again after announcing sleep, so no wake-up is lost. Never waits
    /// longer than `at_most`.
    pub fn idle(&mut self, bell: &Doorbell, at_most: Duration, has_work: impl Fn() -> bool) {
        self.idle_polls = self.idle_polls.saturating_add(1);
        match self.strategy {
            WaitStrategy::BusySpin => std::hint::spin_loop(),
            WaitStrategy::Yield => std::thread::yield_now(),
            WaitStrategy::Block => {
                if self.idle_polls < SPINS_BEFORE_PARK {
                    std::hint::spin_loop();
                    return;
                }
                bell.sleeping.store(true, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                if !has_work() {
                    std::thread::park_timeout(at_most);
                }
                bell.sleeping.store(false, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ring::ring;
    use std::sync::Arc;

    #[test]
    fn a_thread_takes_the_batch_policy_and_gives_it_back() {
        let got = std::thread::spawn(|| {
            SchedPolicy::Batch
                .apply_to_current_thread()
                .expect("SCHED_BATCH");
            // SAFETY: a query of the calling thread's policy.
            let batch = unsafe { libc::sched_getscheduler(0) };
            SchedPolicy::Normal
                .apply_to_current_thread()
                .expect("SCHED_OTHER");
            let normal = unsafe { libc::sched_getscheduler(0) };
            (batch, normal)
        })
        .join()
        .unwrap();
        assert_eq!(got, (libc::SCHED_BATCH, libc::SCHED_OTHER));
        assert_eq!(
            toml::from_str::<std::collections::BTreeMap<String, SchedPolicy>>("p = \"batch\"")
                .unwrap()["p"],
            SchedPolicy::Batch
        );
    }

    #[test]
    fn strategies_parse() {
        assert_eq!("block".parse(), Ok(WaitStrategy::Block));
        assert_eq!("busy-spin".parse(), Ok(WaitStrategy::BusySpin));
        assert!("sleepy"
            .parse::<WaitStrategy>()
            .unwrap_err()
            .contains("sleepy"));
    }

    #[test]
    fn a_parked_consumer_wakes_for_every_publish() {
        // With a one-hour park timeout, only the doorbell can wake the consumer: a lost
        // wake-up would hang this test.
        let bell = Arc::new(Doorbell::new());
        let (mut p, mut c) = ring::<u32>(4);
        let b2 = bell.clone();
        let consumer = std::thread::spawn(move || {
            b2.register_current();
            let mut idler = Idler::new(WaitStrategy::Block);
            let mut got = 0u32;
            while got < 2_000 {
                if c.poll_batch(4, |_, _| got += 1) > 0 {
                    idler.worked();
                } else {
                    idler.idle(&b2, Duration::from_secs(3600), || c.backlog() > 0);
                }
            }
            got
        });
        for i in 0..2_000u32 {
            let mut v = i;
            while let Err(back) = p.try_publish(v) {
                v = back;
                std::thread::yield_now();
            }
            bell.ring();
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_eq!(consumer.join().unwrap(), 2_000);
    }
}
