//! Hardware profiles: where every stage runs and how big its queues and batches are.
//!
//! A profile is a TOML file (`hw-profiles/*.toml`, documented key by key there).
//! Unknown keys are errors, so a typo never silently falls back to a default.
//! `detect` writes one for the current machine from its hwloc topology; `check`
//! explains what in a profile does not fit the machine; `Profile::pipeline_config`
//! turns one into the pipeline's configuration.

pub mod allocator;
pub mod check;
pub mod detect;

use crate::pipeline::wait::{SchedPolicy, WaitStrategy};
use crate::pipeline::{PipelineConfig, Placement};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub machine: Machine,
    pub cores: Cores,
    pub ingest: Ingest,
    pub verify: Verify,
    pub rings: Rings,
    pub blp: BlpSection,
    pub wait: Wait,
    pub memory: Memory,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The profile expects at least this many cores.
    pub cores_min: usize,
}

/// OS CPU numbers per stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cores {
    pub ingest: Vec<usize>,
    pub verify: Vec<usize>,
    pub blp: usize,
    pub output: usize,
    /// The JSON-RPC server's threads may run on any of these (never the BLP's CPU, so
    /// that a reader preempted while it holds the state's read lock is not holding up
    /// the BLP on its own core).
    pub rpc: Vec<usize>,
}

impl Cores {
    /// Whether the BLP's CPU also runs a verify worker or a network thread.
    pub fn blp_shares_cpu(&self) -> bool {
        self.verify.contains(&self.blp) || self.ingest.contains(&self.blp)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IngestBackend {
    Auto,
    IoUring,
    Fallback,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingest {
    pub backend: IngestBackend,
    pub threads: usize,
    pub ring_entries: u32,
    pub sqpoll: bool,
    pub sqpoll_idle_ms: u32,
    pub buffer_count: u16,
    pub buffer_bytes: u32,
    pub frame_bytes_max: u32,
    pub in_flight_max: u32,
    pub idle_timeout_ms: u64,
    pub frame_timeout_ms: u64,
    pub connections_max: u32,
    pub write_buffer_bytes_max: u32,
    pub recv_buffer_bytes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyBackend {
    Cpu,
    Gpu,
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    pub backend: VerifyBackend,
    pub workers: usize,
    pub batch: usize,
    /// Smallest batch worth sending to the GPU under `auto`.
    pub gpu_batch_min: usize,
    pub key_cache_entries: usize,
    pub seen_cache_entries: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rings {
    pub ingest: usize,
    pub checked: usize,
    pub outcome: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlpSection {
    pub batch: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    pub verify: WaitStrategy,
    pub blp: WaitStrategy,
    pub output: WaitStrategy,
    /// The BLP thread's scheduling policy (optional: older profiles run it `normal`).
    #[serde(default)]
    pub blp_policy: SchedPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// Rows reserved up front in the account tables.
    pub accounts_reserve: usize,
    /// Rows reserved up front in the balance table.
    pub balances_reserve: usize,
    /// Pending transactions reserved up front.
    pub pending_reserve: usize,
    /// Transaction ids reserved up front in the duplicate index, which keeps every
    /// transaction until it expires. (Optional: older profiles reserve none.)
    #[serde(default)]
    pub recent_transactions_reserve: usize,
    /// How long the allocator keeps freed memory before it returns it to the OS, in
    /// ms; -1 never returns it. (Optional: without it the allocator keeps its own
    /// default, 1 s.)
    #[serde(default)]
    pub allocator_purge_delay_ms: Option<i64>,
}

/// The built-in profiles, by file name.
pub const BUILT_IN: [(&str, &str); 3] = [
    (
        "dev-2core.toml",
        include_str!("../../hw-profiles/dev-2core.toml"),
    ),
    (
        "witness-16core.toml",
        include_str!("../../hw-profiles/witness-16core.toml"),
    ),
    (
        "witness-64core-gpu.toml",
        include_str!("../../hw-profiles/witness-64core-gpu.toml"),
    ),
];

impl Profile {
    pub fn parse(text: &str) -> Result<Profile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
    pub fn load(path: &Path) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        Profile::parse(&text).map_err(|e| anyhow::anyhow!("profile {}: {e}", path.display()))
    }
    /// Applies the memory reservations to the chain's tables.
    /// Applies the process-wide allocator settings. Call it before starting the
    /// pipeline's threads (the allocator's options are not synchronised).
    pub fn apply_allocator(&self) {
        if let Some(ms) = self.memory.allocator_purge_delay_ms {
            allocator::set_purge_delay_ms(ms);
        }
    }
    pub fn reserve(&self, chain: &mut crate::chain::Chain) {
        chain.reserve(self.memory.accounts_reserve, self.memory.balances_reserve);
        chain.reserve_recent_transactions(self.memory.recent_transactions_reserve);
    }
    /// One log line: where each stage runs.
    pub fn describe_placement(&self) -> String {
        let list = |v: &[usize]| affinity::format_cpu_list(v);
        format!(
            "profile {}: {} network thread(s) on CPUs {} ({:?} backend, sqpoll {}), {} verify workers on CPUs {} ({:?}, batch {}), BLP on CPU {} ({:?} policy), output on CPU {}, RPC on CPUs {}; rings {}/{}/{}; waits {:?}/{:?}/{:?}; freed memory {}",
            self.machine.name,
            self.ingest.threads,
            list(&self.cores.ingest),
            self.ingest.backend,
            self.ingest.sqpoll,
            self.verify.workers,
            list(&self.cores.verify),
            self.verify.backend,
            self.verify.batch,
            self.cores.blp,
            self.wait.blp_policy,
            self.cores.output,
            list(&self.cores.rpc),
            self.rings.ingest,
            self.rings.checked,
            self.rings.outcome,
            self.wait.verify,
            self.wait.blp,
            self.wait.output,
            match self.memory.allocator_purge_delay_ms {
                None => "returned to the OS after the allocator's default delay".to_string(),
                Some(ms) if ms < 0 => "kept (never returned to the OS)".to_string(),
                Some(ms) => format!("returned to the OS after {ms} ms"),
            },
        )
    }
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("profiles serialize")
    }

    /// The pipeline configuration this profile describes. `listen` is the ingest
    /// address (a node flag, not a hardware property); `None` runs without ingest.
    pub fn pipeline_config(
        &self,
        listen: Option<std::net::SocketAddr>,
    ) -> Result<PipelineConfig, String> {
        if self.verify.backend == VerifyBackend::Gpu {
            return Err(check::GPU_NOT_BUILT.into());
        }
        let ingest = listen.map(|listen| netio::Config {
            listen,
            backend: match self.ingest.backend {
                IngestBackend::Auto => netio::BackendChoice::Auto,
                IngestBackend::IoUring => netio::BackendChoice::IoUring,
                IngestBackend::Fallback => netio::BackendChoice::Fallback,
            },
            threads: self.ingest.threads,
            ring_entries: self.ingest.ring_entries,
            sqpoll: self.ingest.sqpoll,
            sqpoll_idle_ms: self.ingest.sqpoll_idle_ms,
            buffer_count: self.ingest.buffer_count,
            buffer_bytes: self.ingest.buffer_bytes,
            frame_bytes_max: self.ingest.frame_bytes_max,
            in_flight_max: self.ingest.in_flight_max,
            idle_timeout: Duration::from_millis(self.ingest.idle_timeout_ms),
            frame_timeout: Duration::from_millis(self.ingest.frame_timeout_ms),
            connections_max: self.ingest.connections_max,
            write_buffer_bytes_max: self.ingest.write_buffer_bytes_max,
            recv_buffer_bytes: self.ingest.recv_buffer_bytes,
        });
        let config = PipelineConfig {
            verify_workers: self.verify.workers,
            verify_batch: self.verify.batch,
            ingest_ring: self.rings.ingest,
            checked_ring: self.rings.checked,
            outcome_ring: self.rings.outcome,
            blp_batch: self.blp.batch,
            key_cache_entries: self.verify.key_cache_entries,
            seen_cache_entries: self.verify.seen_cache_entries,
            verify_wait: self.wait.verify,
            blp_wait: self.wait.blp,
            blp_policy: self.wait.blp_policy,
            output_wait: self.wait.output,
            placement: Placement {
                ingest: self.cores.ingest.clone(),
                verify: self.cores.verify.clone(),
                blp: Some(self.cores.blp),
                output: Some(self.cores.output),
            },
            ingest,
            max_blocks: None,
            pending_reserve: self.memory.pending_reserve,
            storage: None,
        };
        config.validate()?;
        Ok(config)
    }
}

/// A flat topology of `n` single-PU cores on one package and NUMA node (for tests).
#[cfg(test)]
pub(crate) fn test_topology(n: usize) -> affinity::Topology {
    let mut t = affinity::fallback("test");
    t.cores = (0..n)
        .map(|i| affinity::Core {
            index: i,
            package: 0,
            numa_node: Some(0),
            pus: vec![i],
            l2_bytes: None,
            l3_bytes: None,
            l3_group: None,
        })
        .collect();
    t.allowed_cpus = (0..n).collect();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_profiles_parse_and_round_trip() {
        for (name, text) in BUILT_IN {
            let p = Profile::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(Profile::parse(&p.to_toml()).unwrap(), p, "{name}");
            assert_eq!(format!("{}.toml", p.machine.name), name);
        }
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = BUILT_IN[0].1.replace("[blp]\n", "[blp]\nbatchh = 3\n");
        let e = Profile::parse(&text).unwrap_err();
        assert!(e.contains("batchh"), "{e}");
    }

    #[test]
    fn dev_profile_becomes_a_pipeline_config() {
        let p = Profile::parse(BUILT_IN[0].1).unwrap();
        let c = p
            .pipeline_config(Some("127.0.0.1:0".parse().unwrap()))
            .unwrap();
        assert_eq!(c.verify_workers, p.verify.workers);
        assert_eq!(c.placement.blp, Some(p.cores.blp));
        assert_eq!(c.ingest.unwrap().ring_entries, p.ingest.ring_entries);
    }
}
