//! `carbyne profile detect`: a profile for this machine, from its topology.
//!
//! The layout follows the built-in profiles: on one or two cores every stage shares
//! and blocks; from four cores up CPU 0 is left to the kernel (with the light output
//! stage and the RPC threads), the BLP and the network threads get cores of their own, and every other
//! core verifies, busy-spinning from eight cores up.

use super::*;
use affinity::Topology;

/// A profile for `topo`.
pub fn detect(topo: &Topology) -> Profile {
    // One CPU per core: the first PU of each, so SMT siblings do not share a stage.
    let mut cpus: Vec<usize> = topo
        .cores
        .iter()
        .filter_map(|c| c.pus.first().copied())
        .collect();
    if cpus.is_empty() {
        cpus = topo.allowed_cpus.clone();
    }
    if cpus.is_empty() {
        cpus.push(0);
    }
    let n = cpus.len();
    let base = Profile::parse(super::BUILT_IN[0].1).expect("built-in profile parses");
    let (cores, ingest_threads) = match n {
        1 => (
            Cores {
                ingest: vec![cpus[0]],
                verify: vec![cpus[0]],
                blp: cpus[0],
                output: cpus[0],
                rpc: vec![cpus[0]],
            },
            1,
        ),
        2 | 3 => (
            Cores {
                ingest: vec![cpus[0]],
                verify: cpus.clone(),
                blp: cpus[n - 1],
                output: cpus[0],
                rpc: cpus[..n - 1].to_vec(),
            },
            1,
        ),
        _ => {
            let ingest_threads = (n / 16).clamp(1, 8);
            let ingest: Vec<usize> = cpus[1..1 + ingest_threads].to_vec();
            let blp = cpus[1 + ingest_threads];
            let verify: Vec<usize> = cpus[2 + ingest_threads..].to_vec();
            let verify = if verify.is_empty() {
                vec![cpus[n - 1]]
            } else {
                verify
            };
            (
                Cores {
                    ingest,
                    verify,
                    blp,
                    output: cpus[0],
                    rpc: vec![cpus[0]],
                },
                ingest_threads,
            )
        }
    };
    let spin = n >= 8;
    let big = n >= 16;
    let spin_or_block = if spin {
        WaitStrategy::BusySpin
    } else {
        WaitStrategy::Block
    };
    let workers = cores.verify.len();
    // A BLP that shares its CPU with a verify worker or a network thread should not
    // preempt it at each wake-up (see `SchedPolicy::Batch`).
    let blp_policy = if cores.blp_shares_cpu() {
        SchedPolicy::Batch
    } else {
        SchedPolicy::Normal
    };
    Profile {
        machine: Machine {
            name: format!("detected-{n}core"),
            description: format!(
                "detected: {} ({} packages, {} cores, {} PUs, {} NUMA nodes; topology from {})",
                topo.cpu_model,
                topo.packages,
                topo.cores_count(),
                topo.cpus_count(),
                topo.numa_nodes.len().max(1),
                match &topo.source {
                    affinity::Source::Hwloc => "hwloc".to_string(),
                    affinity::Source::Fallback { reason } => format!("fallback: {reason}"),
                }
            ),
            cores_min: n,
        },
        cores,
        ingest: Ingest {
            threads: ingest_threads,
            ring_entries: if big { 4096 } else { 1024 },
            // SQPOLL costs a core per ring: only where cores are plentiful.
            sqpoll: n >= 32,
            buffer_count: if big { 2048 } else { 512 },
            connections_max: if big { 65536 } else { 4096 },
            ..base.ingest
        },
        verify: Verify {
            workers,
            batch: if n >= 32 {
                1024
            } else if big {
                512
            } else {
                256
            },
            key_cache_entries: if big { 262_144 } else { 65_536 },
            seen_cache_entries: if big { 4 << 20 } else { 1 << 20 },
            ..base.verify
        },
        rings: if big {
            Rings {
                ingest: 16384,
                checked: 16384,
                outcome: 262_144,
            }
        } else {
            base.rings
        },
        blp: BlpSection {
            batch: if big { 8192 } else { 4096 },
        },
        wait: Wait {
            verify: spin_or_block,
            blp: spin_or_block,
            output: WaitStrategy::Block,
            blp_policy,
        },
        memory: if big {
            Memory {
                accounts_reserve: 2_000_000,
                balances_reserve: 4_000_000,
                pending_reserve: 2_000_000,
                recent_transactions_reserve: 16_000_000,
                allocator_purge_delay_ms: Some(-1),
            }
        } else {
            base.memory
        },
    }
}

/// The profile as a commented TOML file.
pub fn render(p: &Profile) -> String {
    format!(
        "# Written by `carbyne profile detect` for this machine.\n\
         # {}\n\
         # The keys are documented in hw-profiles/dev-2core.toml; check a changed file\n\
         # with `carbyne profile check FILE`.\n\n{}",
        p.machine.description,
        p.to_toml()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::profile::test_topology as topo;

    #[test]
    fn layouts_use_every_core_once_for_hot_stages() {
        for n in [1usize, 2, 3, 4, 8, 16, 64, 128] {
            let p = detect(&topo(n));
            assert!(p.pipeline_config(None).is_ok(), "{n} cores");
            if n >= 4 {
                let mut hot: Vec<usize> = p.cores.ingest.clone();
                hot.push(p.cores.blp);
                hot.extend(&p.cores.verify);
                let mut dedup = hot.clone();
                dedup.sort();
                dedup.dedup();
                assert_eq!(dedup.len(), hot.len(), "{n} cores: no hot core shared");
                assert!(!hot.contains(&0), "{n} cores: CPU 0 is left to the system");
            }
            assert_eq!(p.verify.workers, p.cores.verify.len());
            let problems = super::super::check::check(&p, &topo(n));
            assert!(
                problems.iter().all(|x| !x.is_error()),
                "{n} cores: {problems:?}"
            );
        }
    }
}
