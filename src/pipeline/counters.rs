//! Stage counters. Hot loops count in plain local integers and publish them to shared
//! atomics periodically (every batch, at most every few milliseconds), so counting
//! costs the hot path no atomic traffic.

/// Declares a stage's counters: `$name` holds the shared atomics and `$local` the
/// stage's plain copy, which is also the snapshot type readers get.
macro_rules! counters {
    ($(#[$m:meta])* $name:ident / $local:ident { $($(#[$fm:meta])* $field:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[$fm])* pub $field: std::sync::atomic::AtomicU64,)*
        }
        /// The stage's own copy of its counters; also what a snapshot returns.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
        pub struct $local {
            $($(#[$fm])* pub $field: u64,)*
        }
        impl $name {
            /// Makes `local` visible to readers.
            pub fn publish(&self, local: &$local) {
                $(self.$field.store(local.$field, std::sync::atomic::Ordering::Relaxed);)*
            }
            pub fn snapshot(&self) -> $local {
                $local { $($field: self.$field.load(std::sync::atomic::Ordering::Relaxed),)* }
            }
        }
        impl $local {
            /// Field-wise sum (for stages with several workers).
            pub fn add(&mut self, other: &$local) {
                $(self.$field += other.$field;)*
            }
        }
    };
}
pub(crate) use counters;

/// How often a stage publishes its counters when it is busy.
pub const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// CPU time this thread has used, in ns (its own, whatever else shares its core):
/// for costs that must not count the time the thread was switched out.
pub fn thread_cpu_ns() -> u64 {
    cpu_clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time every thread of this process has used, in ns.
pub fn process_cpu_ns() -> u64 {
    cpu_clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time each thread of this process has used, in ns, summed by thread name with a
/// trailing `-N` dropped (`verify-0` and `verify-1` are both `verify`). Threads that
/// have ended are not in it. From `/proc/self/task` and the kernel's per-thread CPU
/// clocks (Linux); empty where those cannot be read.
pub fn cpu_ns_by_thread_name() -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(task.path().join("comm")) else {
            continue;
        };
        let Some(ns) = thread_clock_ns(tid) else {
            continue;
        };
        *by_name
            .entry(thread_group(comm.trim()).to_string())
            .or_insert(0) += ns;
    }
    by_name
}

/// A thread name without a trailing `-N`.
fn thread_group(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((group, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => group,
        _ => name,
    }
}

/// The CPU time of thread `tid` of this process, through its CPU clock: Linux encodes
/// a thread's scheduler clock as `(!tid << 3) | 6` (`MAKE_THREAD_CPUCLOCK(tid,
/// CPUCLOCK_SCHED)` in the kernel's `posix-timers.h`, as glibc's
/// `pthread_getcpuclockid` does). `None` once the thread has ended.
fn thread_clock_ns(tid: i32) -> Option<u64> {
    clock_ns((!tid << 3) | 6)
}

fn cpu_clock_ns(clock: libc::clockid_t) -> u64 {
    // Both clocks exist on every Linux this builds for.
    clock_ns(clock).unwrap_or(0)
}

/// The time on `clock`, in ns; `None` if the clock cannot be read (a thread's clock
/// once the thread has ended).
fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `t` is; a clock id that names
    // no clock makes it fail with EINVAL, and `t` is not read then.
    if unsafe { libc::clock_gettime(clock, &mut t) } != 0 {
        return None;
    }
    Some(
        (t.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_groups_drop_a_numeric_suffix() {
        assert_eq!(thread_group("verify-0"), "verify");
        assert_eq!(thread_group("netio-12"), "netio");
        assert_eq!(thread_group("bench-writer"), "bench-writer");
        assert_eq!(thread_group("blp"), "blp");
        assert_eq!(thread_group("odd-"), "odd-");
    }

    /// Each thread's CPU time is found under its name, and a thread's clock read from
    /// outside agrees with its own.
    #[test]
    fn threads_are_timed_by_name() {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let probe = std::thread::Builder::new()
            .name("cpu-probe-7".into())
            .spawn(move || {
                // Spins until it has used 20 ms of CPU, however busy the machine.
                let started = thread_cpu_ns();
                let mut x = 0u64;
                while thread_cpu_ns() - started < 20_000_000 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
                ready_tx.send(thread_cpu_ns()).unwrap();
                done_rx.recv().ok();
            })
            .unwrap();
        let own = ready_rx.recv().unwrap();
        let seen = cpu_ns_by_thread_name();
        done_tx.send(()).unwrap();
        probe.join().unwrap();
        let probe_ns = seen.get("cpu-probe").copied().unwrap_or(0);
        assert!(
            own >= 20_000_000,
            "the probe spun for 20 ms of CPU: {own} ns"
        );
        assert!(
            probe_ns >= own && probe_ns < own + 20_000_000,
            "read from outside {probe_ns} ns, from inside {own} ns"
        );
    }

    /// A thread's CPU clock advances with its own work and not while it sleeps; the
    /// process's covers its threads.
    #[test]
    fn cpu_clocks_count_work_not_sleep() {
        let (t0, p0) = (thread_cpu_ns(), process_cpu_ns());
        let mut x = 0u64;
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let worked = thread_cpu_ns() - t0;
        assert!(
            worked >= 10_000_000,
            "30 ms of spinning used {worked} ns of CPU"
        );
        assert!(process_cpu_ns() - p0 >= worked);
        let t1 = thread_cpu_ns();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            thread_cpu_ns() - t1 < 20_000_000,
            "sleeping is not CPU time"
        );
    }
}
