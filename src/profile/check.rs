//! `carbyne profile check FILE`: does a profile fit this machine, and if not, why.

use super::*;
use affinity::Topology;

pub const GPU_NOT_BUILT: &str =
    "verify.backend = \"gpu\": the wgpu verify backend is not built in this release; use \"cpu\" (or \"auto\", which runs on the CPU until it is)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Severity {
    /// The node refuses the profile.
    Error,
    /// The node runs, but probably not as intended.
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// The key at fault, `section.key`.
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{s}: {}: {}", self.key, self.message)
    }
}

struct Found(Vec<Problem>);
impl Found {
    fn error(&mut self, key: &str, message: String) {
        self.0.push(Problem {
            severity: Severity::Error,
            key: key.into(),
            message,
        });
    }
    fn warn(&mut self, key: &str, message: String) {
        self.0.push(Problem {
            severity: Severity::Warning,
            key: key.into(),
            message,
        });
    }
}

/// Rough bytes per reserved row or cache entry, for the memory estimate.
const ACCOUNT_ROW_BYTES: u64 = 512;
const BALANCE_ROW_BYTES: u64 = 96;
const PENDING_TX_BYTES: u64 = 400;
/// An id and its expiration in the duplicate index: a 40-byte slot in a table kept at
/// most half full, and the id again in the by-expiration list.
const RECENT_TX_BYTES: u64 = 112;
/// A 72-byte slot (id, fingerprint, expiration) in a table at most half full.
const SEEN_ENTRY_BYTES: u64 = 144;
/// A key, its decompressed point and its id hint: a ~256-byte slot, the table at most
/// half full.
const KEY_ENTRY_BYTES: u64 = 512;
const RING_SLOT_BYTES: u64 = 64;

/// What the profile would allocate up front, roughly.
pub fn memory_estimate(p: &Profile) -> u64 {
    let m = &p.memory;
    let v = &p.verify;
    let n = |x: usize| x as u128;
    let producers = 1 + n(p.ingest.threads);
    let workers = n(v.workers);
    let total = n(m.accounts_reserve) * ACCOUNT_ROW_BYTES as u128
        + n(m.balances_reserve) * BALANCE_ROW_BYTES as u128
        + n(m.pending_reserve) * PENDING_TX_BYTES as u128
        + n(m.recent_transactions_reserve) * RECENT_TX_BYTES as u128
        + n(v.seen_cache_entries) * SEEN_ENTRY_BYTES as u128
        + n(v.key_cache_entries) * KEY_ENTRY_BYTES as u128 * workers
        + producers * workers * (n(p.rings.ingest) + n(p.rings.checked)) * RING_SLOT_BYTES as u128
        + n(p.rings.outcome) * RING_SLOT_BYTES as u128
        + n(p.ingest.threads) * p.ingest.buffer_count as u128 * p.ingest.buffer_bytes as u128;
    total.min(u64::MAX as u128) as u64
}

fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Every problem of `p` on the machine `topo`, errors first.
pub fn check(p: &Profile, topo: &Topology) -> Vec<Problem> {
    let mut f = Found(Vec::new());
    let cores = topo.cores_count();
    if p.machine.cores_min > cores {
        f.error(
            "machine.cores_min",
            format!(
                "the profile is for at least {} cores; this machine has {cores}",
                p.machine.cores_min
            ),
        );
    }
    let allowed = &topo.allowed_cpus;
    let allowed_text = affinity::format_cpu_list(allowed);
    let check_cpu = |f: &mut Found, key: &str, cpu: usize| {
        if !allowed.contains(&cpu) {
            f.error(
                key,
                format!("CPU {cpu} is not available to this process (allowed: {allowed_text})"),
            );
        }
    };
    for &c in &p.cores.ingest {
        check_cpu(&mut f, "cores.ingest", c);
    }
    for &c in &p.cores.verify {
        check_cpu(&mut f, "cores.verify", c);
    }
    check_cpu(&mut f, "cores.blp", p.cores.blp);
    check_cpu(&mut f, "cores.output", p.cores.output);
    for &c in &p.cores.rpc {
        check_cpu(&mut f, "cores.rpc", c);
    }
    if p.cores.rpc.is_empty() {
        f.warn("cores.rpc", "empty: RPC threads are not pinned".into());
    } else if p.cores.rpc.contains(&p.cores.blp) && p.cores.rpc.iter().any(|&c| c != p.cores.blp) {
        f.warn(
            "cores.rpc",
            format!(
                "includes the BLP's CPU {}: an RPC thread preempted there while it holds the state's read lock stalls the BLP",
                p.cores.blp
            ),
        );
    }
    if p.cores.ingest.is_empty() {
        f.warn(
            "cores.ingest",
            "empty: network threads are not pinned".into(),
        );
    }
    if p.cores.verify.is_empty() {
        f.warn(
            "cores.verify",
            "empty: verify workers are not pinned".into(),
        );
    }

    // Stages that spin must own their core.
    let spin = |w: WaitStrategy| w == WaitStrategy::BusySpin;
    if spin(p.wait.blp) && p.cores.blp_shares_cpu() {
        f.warn(
            "wait.blp",
            format!(
                "busy-spin, but CPU {} is shared with other stages: the spinning BLP takes their time; use \"block\" or give the BLP its own core",
                p.cores.blp
            ),
        );
    }
    if spin(p.wait.verify)
        && (p.cores.verify.contains(&p.cores.blp)
            || p.cores.verify.iter().any(|c| p.cores.ingest.contains(c)))
    {
        f.warn(
            "wait.verify",
            "busy-spin, but verify cores are shared with the BLP or network threads".into(),
        );
    }
    if spin(p.wait.output) && p.cores.output == 0 {
        f.warn(
            "wait.output",
            "busy-spin on CPU 0, which the kernel and RPC also use".into(),
        );
    }
    if cores < 4
        && [p.wait.verify, p.wait.blp, p.wait.output]
            .iter()
            .any(|&w| spin(w))
    {
        f.warn(
            "wait",
            format!("busy-spin on {cores} cores: every stage shares a core here; use \"block\""),
        );
    }

    // Verify.
    let v = &p.verify;
    match v.backend {
        VerifyBackend::Gpu => f.error("verify.backend", GPU_NOT_BUILT.into()),
        VerifyBackend::Auto => f.warn(
            "verify.backend",
            "auto: the wgpu backend is not built in this release, so every batch runs on the CPU"
                .into(),
        ),
        VerifyBackend::Cpu => {}
    }
    if v.workers == 0 {
        f.error("verify.workers", "must be at least 1".into());
    } else if v.workers > topo.cpus_count() {
        f.warn(
            "verify.workers",
            format!(
                "{} workers on {} CPUs: workers time-share cores and batches wait",
                v.workers,
                topo.cpus_count()
            ),
        );
    }
    if !p.cores.verify.is_empty() && v.workers != p.cores.verify.len() {
        f.warn(
            "verify.workers",
            format!(
                "{} workers but {} verify cores: workers are placed round-robin",
                v.workers,
                p.cores.verify.len()
            ),
        );
    }
    if v.batch == 0 {
        f.error("verify.batch", "must be at least 1".into());
    } else if (32..190).contains(&v.batch) {
        f.warn(
            "verify.batch",
            format!(
                "{}: batches of 32-190 signatures are slower per signature than 16 or 256 (dalek switches algorithms at ~190 points)",
                v.batch
            ),
        );
    } else if v.batch > 16384 {
        f.warn(
            "verify.batch",
            format!(
                "{}: batches this long add latency for no gain on the CPU",
                v.batch
            ),
        );
    }
    if v.key_cache_entries == 0 || v.seen_cache_entries == 0 {
        f.error(
            "verify",
            "key_cache_entries and seen_cache_entries must be at least 1".into(),
        );
    }

    // Rings.
    for (key, d) in [
        ("rings.ingest", p.rings.ingest),
        ("rings.checked", p.rings.checked),
        ("rings.outcome", p.rings.outcome),
    ] {
        if !d.is_power_of_two() || d < 2 {
            f.error(
                key,
                format!("{d}: ring depths are powers of two, at least 2"),
            );
        }
    }
    if p.blp.batch == 0 {
        f.error("blp.batch", "must be at least 1".into());
    }

    // Ingest.
    let i = &p.ingest;
    if i.threads == 0 {
        f.error("ingest.threads", "must be at least 1".into());
    }
    if !p.cores.ingest.is_empty() && i.threads != p.cores.ingest.len() {
        f.warn(
            "ingest.threads",
            format!(
                "{} threads but {} ingest cores: threads are placed round-robin",
                i.threads,
                p.cores.ingest.len()
            ),
        );
    }
    if !i.ring_entries.is_power_of_two() || !(8..=32768).contains(&i.ring_entries) {
        f.error(
            "ingest.ring_entries",
            format!(
                "{}: io_uring takes a power of two from 8 to 32768",
                i.ring_entries
            ),
        );
    }
    if !i.buffer_count.is_power_of_two() || i.buffer_count > 32768 {
        f.error(
            "ingest.buffer_count",
            format!(
                "{}: provided-buffer rings take a power of two up to 32768",
                i.buffer_count
            ),
        );
    }
    if i.buffer_bytes < 4096 {
        f.error(
            "ingest.buffer_bytes",
            format!("{}: at least 4096 (one page)", i.buffer_bytes),
        );
    }
    if i.frame_bytes_max < 64 {
        f.error(
            "ingest.frame_bytes_max",
            format!(
                "{}: too small for any signed transaction",
                i.frame_bytes_max
            ),
        );
    } else if i.frame_bytes_max as usize > crate::pipeline::verify::TRANSACTION_BYTES_MAX {
        f.warn(
            "ingest.frame_bytes_max",
            format!(
                "{}: frames above the decode cap of {} bytes are refused by the verify stage anyway",
                i.frame_bytes_max,
                crate::pipeline::verify::TRANSACTION_BYTES_MAX
            ),
        );
    }
    if i.in_flight_max == 0 || i.connections_max == 0 {
        f.error(
            "ingest",
            "in_flight_max and connections_max must be at least 1".into(),
        );
    }
    if i.idle_timeout_ms == 0 || i.frame_timeout_ms == 0 {
        f.error(
            "ingest",
            "idle_timeout_ms and frame_timeout_ms must be at least 1".into(),
        );
    }
    if i.sqpoll && cores < 4 {
        f.warn(
            "ingest.sqpoll",
            format!("the SQPOLL kernel thread takes a whole core of {cores}; measured slower on 2 cores"),
        );
    }
    if i.backend == IngestBackend::IoUring {
        if let Err(why) = netio::probe_io_uring() {
            f.error(
                "ingest.backend",
                format!("\"io-uring\" is forced but io_uring is not usable here: {why}; use \"auto\" to fall back"),
            );
        }
    }
    let registered = i.buffer_count as u64 * i.buffer_bytes as u64;
    if let Some(limit) = memlock_limit() {
        if registered > limit && !is_root() {
            f.warn(
                "ingest.buffer_count",
                format!(
                    "{registered} bytes of receive buffers per thread exceed the memlock limit of {limit} bytes for this user; raise `ulimit -l` or use fewer buffers"
                ),
            );
        }
    }

    // Placement across NUMA nodes.
    let node_of = |cpu: usize| topo.core_of_cpu(cpu).and_then(|c| c.numa_node);
    if let (Some(a), Some(b)) = (
        node_of(p.cores.blp),
        p.cores.ingest.first().and_then(|&c| node_of(c)),
    ) {
        if a != b {
            f.warn(
                "cores.blp",
                format!("the BLP is on NUMA node {a} and the first network thread on node {b}: every transaction crosses nodes"),
            );
        }
    }

    // Memory.
    let need = memory_estimate(p);
    if let Some(avail) = mem_available() {
        if need > avail {
            f.error(
                "memory",
                format!(
                    "the reservations and caches need about {} MiB; {} MiB are available",
                    need >> 20,
                    avail >> 20
                ),
            );
        } else if need > avail / 2 {
            f.warn(
                "memory",
                format!(
                    "the reservations and caches need about {} MiB of the {} MiB available, leaving little for the state to grow",
                    need >> 20,
                    avail >> 20
                ),
            );
        }
    }
    f.0.sort_by_key(|p| !p.is_error());
    f.0
}

fn memlock_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max locked memory"))?;
    let v = line.split_whitespace().nth(3)?;
    v.parse().ok()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_cores() -> Topology {
        crate::profile::test_topology(2)
    }

    fn keys(problems: &[Problem]) -> Vec<(bool, &str)> {
        problems
            .iter()
            .map(|p| (p.is_error(), p.key.as_str()))
            .collect()
    }

    #[test]
    fn dev_profile_fits_two_cores() {
        let p = Profile::parse(BUILT_IN[0].1).unwrap();
        let problems = check(&p, &two_cores());
        assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
    }

    #[test]
    fn big_profiles_are_explained_on_two_cores() {
        let p = Profile::parse(BUILT_IN[1].1).unwrap();
        let problems = check(&p, &two_cores());
        let k = keys(&problems);
        assert!(k.contains(&(true, "machine.cores_min")), "{k:?}");
        assert!(k.contains(&(true, "cores.verify")), "{k:?}");
        assert!(k.contains(&(true, "cores.blp")), "{k:?}");
        let msg = problems.iter().find(|p| p.key == "cores.blp").unwrap();
        assert!(
            msg.message.contains("CPU 3") && msg.message.contains("0-1"),
            "{msg}"
        );
        let p = Profile::parse(BUILT_IN[2].1).unwrap();
        let problems = check(&p, &two_cores());
        let k = keys(&problems);
        assert!(
            k.contains(&(false, "verify.backend")),
            "auto is explained: {k:?}"
        );
    }

    #[test]
    fn bad_values_are_errors_with_reasons() {
        let mut p = Profile::parse(BUILT_IN[0].1).unwrap();
        p.rings.checked = 1000;
        p.ingest.ring_entries = 3;
        p.verify.backend = VerifyBackend::Gpu;
        p.verify.batch = 64;
        p.wait.blp = WaitStrategy::BusySpin;
        p.memory.accounts_reserve = usize::MAX / 1024;
        let problems = check(&p, &two_cores());
        let k = keys(&problems);
        for want in [
            (true, "rings.checked"),
            (true, "ingest.ring_entries"),
            (true, "verify.backend"),
            (false, "verify.batch"),
            (false, "wait.blp"),
            (true, "memory"),
        ] {
            assert!(k.contains(&want), "{want:?} in {k:?}");
        }
        assert!(problems.first().unwrap().is_error(), "errors come first");
        assert!(p.pipeline_config(None).is_err(), "the node refuses it too");
    }
}
