//! Machine topology and thread pinning for Carbyne's pipeline stages.
//!
//! This release reads the CPU count the OS reports; the hwloc topology (packages, cores,
//! caches, NUMA nodes) and pinning arrive with the pipeline.

/// What this crate knows about the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Logical CPUs available to this process.
    pub cpus_count: usize,
}

/// Reads the machine's topology, degrading to one CPU when nothing can be read.
pub fn detect() -> Topology {
    let cpus_count = std::thread::available_parallelism().map_or(1, |n| n.get());
    Topology { cpus_count }
}

#[cfg(test)]
mod tests {
    #[test]
    fn detects_at_least_one_cpu() {
        assert!(super::detect().cpus_count >= 1);
    }
}
