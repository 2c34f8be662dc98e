//! Machine topology and thread pinning for Carbyne's pipeline stages.
//!
//! An LMAX-style pipeline gives each busy stage a core of its own and keeps stages that hand
//! each other data on cores that share a cache. This crate answers the two questions that takes:
//!
//! - **What is the machine?** [`detect`] reads packages, cores, their PUs (the OS CPU numbers),
//!   L2/L3 cache sizes and sharing, and NUMA nodes through hwloc 2.x (the `hwlocality`
//!   bindings, linked against the system's `libhwloc`). It never fails: when hwloc cannot load
//!   it falls back to a flat model ([`fallback`]: one core per allowed CPU, one package, one
//!   NUMA node) and says why in [`Source::Fallback`]; when hwloc answers only in part (CPUs in
//!   no core, no NUMA node) the gaps are filled the same way and the reason lists them.
//! - **Run this thread there.** [`pin_current_thread`] binds the calling thread to one CPU with
//!   `sched_setaffinity(2)`, [`pin_current_thread_to`] to a set of CPUs; [`current_thread_cpus`]
//!   reads the mask back.
//!
//! The model covers only the CPUs the caller may use: the calling thread's affinity mask, which
//! the kernel keeps inside the process's cgroup cpuset (see [`Topology::allowed_cpus`]). So in a
//! container limited to CPUs 2-3, or under `taskset -c 2-3`, cores and NUMA nodes list only
//! CPUs 2 and 3. Call [`detect`] once at start-up from the main thread, before pinning anything.
//!
//! [`parse_cpu_list`] and [`format_cpu_list`] convert the kernel's CPU-list text (`"0-3,8"`),
//! e.g. for configuration and logs.
//!
//! ```no_run
//! let topology = affinity::detect();
//! print!("{}", topology.describe());
//! let cpu = topology.cores[0].pus[0];
//! std::thread::spawn(move || {
//!     affinity::pin_current_thread(cpu).expect("pin");
//!     // ... the stage's loop ...
//! });
//! ```
//!
//! Everything is synchronous; the crate starts no thread. Requires the system packages
//! `libhwloc-dev` (hwloc ≥ 2.8), `libudev-dev` and `pkg-config` at build time
//! (`scripts/deps.sh` installs them). Pinning is implemented on Linux only; elsewhere it
//! returns [`PinError::Os`] with `ErrorKind::Unsupported`.

mod cpulist;
mod hwloc;
mod pin;
mod topology;

pub use cpulist::{format_cpu_list, parse_cpu_list, MAX_CPUS};
pub use pin::{current_thread_cpus, pin_current_thread, pin_current_thread_to, PinError};
pub use topology::{detect, fallback, Core, NumaNode, Source, Topology};
