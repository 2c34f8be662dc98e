//! The machine model ([`Topology`]) and how it is read ([`detect`]) or made up ([`fallback`]).

use crate::cpulist::format_cpu_list;
use crate::pin::current_thread_cpus;

/// Where the topology came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// hwloc read the whole topology of the allowed CPUs.
    Hwloc,
    /// hwloc failed or was partial; reason says why.
    ///
    /// With a partial hwloc topology the model still carries what hwloc did report (packages,
    /// caches of the cores it knew); the gaps are filled with the flat model's guesses.
    Fallback { reason: String },
}

/// One physical core, restricted to the CPUs the caller may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Core {
    /// 0-based logical index of the core in the topology.
    ///
    /// This is hwloc's logical index (as `lstopo` shows it), kept when the allowed CPU set
    /// leaves some cores out, so indices need not be contiguous: do not use it to index
    /// [`Topology::cores`]. In the flat fallback model it is the position in `cores`.
    pub index: usize,
    /// Logical index of the package (socket) holding the core; 0 when unknown.
    pub package: usize,
    /// Logical index of the NUMA node holding the core, when known.
    pub numa_node: Option<usize>,
    /// OS CPU numbers (PUs, what sched_setaffinity takes) of this core, ascending.
    ///
    /// Only the allowed ones ([`Topology::allowed_cpus`]); never empty in a detected topology.
    pub pus: Vec<usize>,
    /// Size of the core's L2 cache (possibly shared with other cores), when known.
    pub l2_bytes: Option<u64>,
    /// Size of the core's L3 cache (usually shared), when known.
    pub l3_bytes: Option<u64>,
    /// Cores that share one L3 have the same group number.
    ///
    /// From hwloc it is the L3 cache's logical index.
    pub l3_group: Option<usize>,
}

/// One NUMA node that holds at least one allowed CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaNode {
    /// Logical index of the node (what [`Core::numa_node`] refers to).
    pub index: usize,
    /// The node's allowed OS CPUs, ascending.
    pub cpus: Vec<usize>,
    /// Node-local memory as the OS reports it, when known (VMs may report less than the
    /// machine's memory).
    pub memory_bytes: Option<u64>,
}

/// What this crate knows about the machine, as seen by the thread that called [`detect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Where the model came from.
    pub source: Source,
    /// CPU model name, e.g. from /proc/cpuinfo "model name", or "unknown".
    pub cpu_model: String,
    /// Number of distinct packages among [`Topology::cores`] (at least 1).
    pub packages: usize,
    /// The cores with at least one allowed CPU, in hwloc's logical order.
    pub cores: Vec<Core>,
    /// The NUMA nodes with at least one allowed CPU (memory-only nodes are left out).
    pub numa_nodes: Vec<NumaNode>,
    /// OS CPUs this process may run on (sched_getaffinity), ascending.
    ///
    /// This is the mask of the thread that called [`detect`] (`sched_getaffinity(0, ..)`), which
    /// threads inherit from their parent: call `detect` from the main thread, before pinning,
    /// to see every CPU of the process. A thread narrowed by `taskset` or an earlier pin sees
    /// only its own CPUs. Every allowed CPU is in exactly one core.
    pub allowed_cpus: Vec<usize>,
}

impl Topology {
    /// Number of PUs (allowed ones): the logical CPUs this model spans.
    pub fn cpus_count(&self) -> usize {
        self.allowed_cpus.len()
    }

    /// Number of cores with at least one allowed CPU.
    pub fn cores_count(&self) -> usize {
        self.cores.len()
    }

    /// All PUs of all cores, ascending.
    pub fn pus(&self) -> Vec<usize> {
        let mut pus: Vec<usize> = self
            .cores
            .iter()
            .flat_map(|c| c.pus.iter().copied())
            .collect();
        pus.sort_unstable();
        pus.dedup();
        pus
    }

    /// The core holding OS CPU `cpu`, if it is one of the model's PUs.
    pub fn core_of_cpu(&self, cpu: usize) -> Option<&Core> {
        self.cores.iter().find(|c| c.pus.contains(&cpu))
    }

    /// Human-readable multi-line summary (packages, cores with PUs and caches, NUMA nodes,
    /// source).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let source = match &self.source {
            Source::Hwloc => "hwloc".to_string(),
            Source::Fallback { reason } => format!("fallback ({reason})"),
        };
        out.push_str(&format!("source: {source}\n"));
        out.push_str(&format!("cpu model: {}\n", self.cpu_model));
        out.push_str(&format!(
            "packages: {}, cores: {}, CPUs: {} (allowed: {})\n",
            self.packages,
            self.cores_count(),
            self.cpus_count(),
            format_cpu_list(&self.allowed_cpus)
        ));
        for core in &self.cores {
            let numa = core
                .numa_node
                .map_or_else(|| "?".to_string(), |n| n.to_string());
            out.push_str(&format!(
                "  core {}: package {}, NUMA {}, CPUs {}, L2 {}, L3 {}",
                core.index,
                core.package,
                numa,
                format_cpu_list(&core.pus),
                format_bytes(core.l2_bytes),
                format_bytes(core.l3_bytes),
            ));
            if let Some(group) = core.l3_group {
                out.push_str(&format!(" (L3 group {group})"));
            }
            out.push('\n');
        }
        for node in &self.numa_nodes {
            out.push_str(&format!(
                "  NUMA node {}: CPUs {}, memory {}\n",
                node.index,
                format_cpu_list(&node.cpus),
                format_bytes(node.memory_bytes)
            ));
        }
        out
    }
}

/// `1048576` → `"1 MiB"`, `None` → `"unknown"`.
fn format_bytes(bytes: Option<u64>) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let Some(bytes) = bytes else {
        return "unknown".to_string();
    };
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >= 1u64 << (10 * (unit + 1)) {
        unit += 1;
    }
    let scaled = bytes as f64 / (1u64 << (10 * unit)) as f64;
    if bytes % (1u64 << (10 * unit)) == 0 {
        format!("{} {}", bytes >> (10 * unit), UNITS[unit])
    } else {
        format!("{scaled:.1} {}", UNITS[unit])
    }
}

/// Reads the topology with hwloc; never fails: degrades to a flat model built from
/// sched_getaffinity / available_parallelism (one core per allowed CPU, one package, one NUMA
/// node) with Source::Fallback.
///
/// The model is restricted to the calling thread's CPU mask ([`Topology::allowed_cpus`]), which
/// the kernel keeps inside the process's cgroup cpuset; hwloc's own allowed set (per process)
/// only decides which cores it knows. A partial hwloc answer is completed rather than thrown
/// away, and then reported as [`Source::Fallback`] with the gaps in its reason:
/// - allowed CPUs that hwloc put in no core become one core each;
/// - no NUMA node for the allowed CPUs: one node with all of them is assumed.
///
/// Missing caches are not a gap: `l2_bytes`/`l3_bytes`/`l3_group` are then `None` and the
/// source stays [`Source::Hwloc`]. Loading the topology takes a few milliseconds; call it once
/// at start-up.
pub fn detect() -> Topology {
    let thread_cpus = match current_thread_cpus() {
        Ok(cpus) if !cpus.is_empty() => Some(cpus),
        _ => None,
    };
    let read = std::panic::catch_unwind(|| crate::hwloc::read(thread_cpus.as_deref()));
    match read {
        Ok(Ok(topology)) => topology,
        Ok(Err(reason)) => flat(thread_cpus, reason),
        Err(_) => flat(
            thread_cpus,
            "hwloc panicked while reading the topology".to_string(),
        ),
    }
}

/// The flat fallback model (also used by tests): one core per allowed CPU (the calling thread's
/// mask, or `0..available_parallelism` if that cannot be read), one package, one NUMA node
/// holding every CPU with the memory of /proc/meminfo, no cache sizes.
pub fn fallback(reason: &str) -> Topology {
    let thread_cpus = match current_thread_cpus() {
        Ok(cpus) if !cpus.is_empty() => Some(cpus),
        _ => None,
    };
    flat(thread_cpus, reason.to_string())
}

fn flat(thread_cpus: Option<Vec<usize>>, reason: String) -> Topology {
    let allowed_cpus = thread_cpus.unwrap_or_else(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        (0..n).collect()
    });
    let cores = allowed_cpus
        .iter()
        .enumerate()
        .map(|(index, &cpu)| Core {
            index,
            package: 0,
            numa_node: Some(0),
            pus: vec![cpu],
            l2_bytes: None,
            l3_bytes: None,
            l3_group: None,
        })
        .collect();
    Topology {
        source: Source::Fallback { reason },
        cpu_model: proc_cpu_model().unwrap_or_else(|| "unknown".to_string()),
        packages: 1,
        cores,
        numa_nodes: vec![NumaNode {
            index: 0,
            cpus: allowed_cpus.clone(),
            memory_bytes: proc_mem_total(),
        }],
        allowed_cpus,
    }
}

/// The first "model name" line of /proc/cpuinfo.
pub(crate) fn proc_cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        let value = value.trim();
        (key.trim() == "model name" && !value.is_empty()).then(|| value.to_string())
    })
}

/// MemTotal of /proc/meminfo, in bytes.
pub(crate) fn proc_mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_bytes() {
        assert_eq!(format_bytes(None), "unknown");
        assert_eq!(format_bytes(Some(512)), "512 B");
        assert_eq!(format_bytes(Some(1 << 20)), "1 MiB");
        assert_eq!(format_bytes(Some(32 << 20)), "32 MiB");
        assert_eq!(format_bytes(Some(1536)), "1.5 KiB");
    }

    #[test]
    fn fallback_is_flat_and_consistent() {
        let t = fallback("testing");
        assert_eq!(
            t.source,
            Source::Fallback {
                reason: "testing".into()
            }
        );
        assert_eq!(t.packages, 1);
        assert!(t.cpus_count() >= 1);
        assert_eq!(t.cores_count(), t.cpus_count());
        assert_eq!(t.pus(), t.allowed_cpus);
        assert_eq!(t.numa_nodes.len(), 1);
        assert_eq!(t.numa_nodes[0].cpus, t.allowed_cpus);
        for (i, core) in t.cores.iter().enumerate() {
            assert_eq!(core.index, i);
            assert_eq!(core.pus.len(), 1);
            assert_eq!(core.numa_node, Some(0));
            assert_eq!(t.core_of_cpu(core.pus[0]), Some(core));
        }
        assert!(t.describe().contains("fallback (testing)"));
    }

    #[test]
    fn flat_without_a_mask_uses_available_parallelism() {
        let t = flat(None, "no mask".into());
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(t.allowed_cpus, (0..n).collect::<Vec<_>>());
        assert_eq!(t.cores_count(), n);
    }

    #[test]
    fn helpers_on_a_hand_made_topology() {
        let core = |index, pus: Vec<usize>| Core {
            index,
            package: 0,
            numa_node: None,
            pus,
            l2_bytes: Some(1 << 20),
            l3_bytes: None,
            l3_group: Some(0),
        };
        let t = Topology {
            source: Source::Hwloc,
            cpu_model: "test".into(),
            packages: 1,
            cores: vec![core(0, vec![0, 4]), core(3, vec![1, 5])],
            numa_nodes: vec![],
            allowed_cpus: vec![0, 1, 4, 5],
        };
        assert_eq!(t.cpus_count(), 4);
        assert_eq!(t.cores_count(), 2);
        assert_eq!(t.pus(), vec![0, 1, 4, 5]);
        assert_eq!(t.core_of_cpu(5).map(|c| c.index), Some(3));
        assert_eq!(t.core_of_cpu(2), None);
        let text = t.describe();
        assert!(text.contains("source: hwloc"), "{text}");
        assert!(
            text.contains("core 3: package 0, NUMA ?, CPUs 1,5, L2 1 MiB, L3 unknown (L3 group 0)"),
            "{text}"
        );
    }

    #[test]
    fn proc_readers_work_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(proc_mem_total().is_some_and(|m| m > 0));
        }
    }
}
