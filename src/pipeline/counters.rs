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

fn cpu_clock_ns(clock: libc::clockid_t) -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `t` is; both clocks exist on
    // every Linux this builds for. On failure `t` stays zero.
    unsafe { libc::clock_gettime(clock, &mut t) };
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

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
