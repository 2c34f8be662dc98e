//! Thread pinning with `sched_setaffinity(2)` / `sched_getaffinity(2)`.
//!
//! The masks are sized at run time (not glibc's fixed 1024-CPU `cpu_set_t`), so machines with
//! more than 1024 CPUs work too.

use crate::cpulist::{format_cpu_list, MAX_CPUS};

/// Why [`pin_current_thread`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The kernel does not let this process run on `cpu`: it is offline, does not exist, lies
    /// outside the process's cgroup cpuset, or is at or above [`MAX_CPUS`]. `allowed` is the
    /// calling thread's CPU list at the time of the call (`"unknown"` if it could not be read).
    #[error("CPU {cpu} is not one this process may run on (allowed: {allowed})")]
    NotAllowed { cpu: usize, allowed: String },
    /// Any other failure of `sched_setaffinity`.
    #[error("pinning to CPU {cpu} failed: {source}")]
    Os {
        cpu: usize,
        #[source]
        source: std::io::Error,
    },
}

/// Pins the calling thread to one OS CPU (a PU number, as in [`crate::Core::pus`]).
///
/// A thread whose mask was narrowed earlier may be pinned to any CPU the process may use,
/// not only to one in its current mask: the kernel checks against the cgroup cpuset and the
/// online CPUs, and answers `EINVAL` otherwise, which is reported as [`PinError::NotAllowed`].
/// Only the calling thread changes; threads it spawns afterwards inherit the pin.
pub fn pin_current_thread(cpu: usize) -> Result<(), PinError> {
    pin_current_thread_to(&[cpu])
}

/// Lets the calling thread run on any of `cpus` and nowhere else: for a group of threads
/// that share some CPUs and stay off the others (the RPC threads, away from the BLP).
///
/// An empty list, or one with a CPU at or above [`MAX_CPUS`], is refused as
/// [`PinError::NotAllowed`] (naming the first CPU, or `MAX_CPUS` for an empty list); the
/// kernel refuses a set with no usable CPU the same way. The kernel accepts a set of which
/// only some CPUs are usable and runs the thread on those.
pub fn pin_current_thread_to(cpus: &[usize]) -> Result<(), PinError> {
    let first = cpus.first().copied().unwrap_or(MAX_CPUS);
    let not_allowed = |cpu| PinError::NotAllowed {
        cpu,
        allowed: current_thread_cpus()
            .map_or_else(|_| "unknown".to_string(), |c| format_cpu_list(&c)),
    };
    if let Some(&cpu) = cpus.iter().find(|&&c| c >= MAX_CPUS) {
        return Err(not_allowed(cpu));
    }
    if cpus.is_empty() {
        return Err(not_allowed(first));
    }
    match sys::set_current_thread(cpus) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc_einval()) => Err(not_allowed(first)),
        Err(source) => Err(PinError::Os { cpu: first, source }),
    }
}

/// The OS CPUs the calling thread may run on now (its `sched_getaffinity` mask), ascending.
pub fn current_thread_cpus() -> std::io::Result<Vec<usize>> {
    sys::get_current_thread()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn libc_einval() -> i32 {
    libc::EINVAL
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn libc_einval() -> i32 {
    -1
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys {
    use super::MAX_CPUS;
    use std::io;

    type Word = libc::c_ulong;
    const WORD_BITS: usize = Word::BITS as usize;

    /// Words for a mask holding CPUs `0..cpus`, at least a `cpu_set_t`'s worth.
    fn words_for(cpus: usize) -> usize {
        let min = std::mem::size_of::<libc::cpu_set_t>() / std::mem::size_of::<Word>();
        cpus.div_ceil(WORD_BITS).max(min)
    }

    pub(super) fn get_current_thread() -> io::Result<Vec<usize>> {
        let mut words = words_for(0);
        loop {
            let mut mask: Vec<Word> = vec![0; words];
            // SAFETY: `mask` is a writable buffer of exactly the size passed; pid 0 is the
            // calling thread. The kernel writes at most that many bytes.
            let rc = unsafe {
                libc::sched_getaffinity(
                    0,
                    words * std::mem::size_of::<Word>(),
                    mask.as_mut_ptr().cast::<libc::cpu_set_t>(),
                )
            };
            if rc == 0 {
                let cpus = (0..words * WORD_BITS)
                    .filter(|&cpu| mask[cpu / WORD_BITS] & (1 << (cpu % WORD_BITS)) != 0)
                    .collect();
                return Ok(cpus);
            }
            let err = io::Error::last_os_error();
            // EINVAL: the kernel's mask is larger than our buffer; grow and retry.
            if err.raw_os_error() == Some(libc::EINVAL) && words * WORD_BITS < MAX_CPUS {
                words *= 2;
                continue;
            }
            return Err(err);
        }
    }

    pub(super) fn set_current_thread(cpus: &[usize]) -> io::Result<()> {
        let words = words_for(cpus.iter().max().map_or(0, |c| c + 1));
        let mut mask: Vec<Word> = vec![0; words];
        for &cpu in cpus {
            mask[cpu / WORD_BITS] |= 1 << (cpu % WORD_BITS);
        }
        // SAFETY: `mask` is a readable buffer of exactly the size passed; pid 0 is the
        // calling thread.
        let rc = unsafe {
            libc::sched_setaffinity(
                0,
                words * std::mem::size_of::<Word>(),
                mask.as_ptr().cast::<libc::cpu_set_t>(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod sys {
    use std::io;

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "thread affinity is only implemented on Linux",
        )
    }

    pub(super) fn get_current_thread() -> io::Result<Vec<usize>> {
        Err(unsupported())
    }

    pub(super) fn set_current_thread(_cpus: &[usize]) -> io::Result<()> {
        Err(unsupported())
    }
}
