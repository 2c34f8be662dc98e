//! Reading the topology through hwloc (the `hwlocality` bindings to the system's hwloc 2.x).

use std::collections::BTreeSet;

use hwlocality::object::attributes::ObjectAttributes;
use hwlocality::object::types::ObjectType;
use hwlocality::object::TopologyObject;

use crate::cpulist::format_cpu_list;
use crate::topology::{proc_cpu_model, proc_mem_total, Core, NumaNode, Source, Topology};

/// Builds the model from hwloc, restricted to `thread_cpus` (or to the PUs hwloc reports when
/// the thread's mask is unknown). `Err` when hwloc is of no use at all.
pub(crate) fn read(thread_cpus: Option<&[usize]>) -> Result<Topology, String> {
    let topo = hwlocality::Topology::new()
        .map_err(|e| format!("hwloc could not load the topology: {e}"))?;

    let allowed_cpus: Vec<usize> = match thread_cpus {
        Some(cpus) => cpus.to_vec(),
        None => {
            let mut pus: Vec<usize> = topo
                .objects_with_type(ObjectType::PU)
                .filter_map(TopologyObject::os_index)
                .collect();
            pus.sort_unstable();
            pus.dedup();
            pus
        }
    };
    if allowed_cpus.is_empty() {
        return Err("hwloc reported no CPU".to_string());
    }
    let mut gaps: Vec<String> = Vec::new();

    let numa_objects: Vec<&TopologyObject> = topo.objects_with_type(ObjectType::NUMANode).collect();
    let numa_of = |cpu: usize| -> Option<usize> {
        numa_objects
            .iter()
            .find(|node| node.cpuset().is_some_and(|set| set.is_set(cpu)))
            .map(|node| node.logical_index())
    };

    // Cores hwloc knows, restricted to the allowed CPUs.
    let mut cores: Vec<Core> = Vec::new();
    let mut covered: BTreeSet<usize> = BTreeSet::new();
    for obj in topo.objects_with_type(ObjectType::Core) {
        let Some(set) = obj.cpuset() else { continue };
        let pus: Vec<usize> = allowed_cpus
            .iter()
            .copied()
            .filter(|&cpu| !covered.contains(&cpu) && set.is_set(cpu))
            .collect();
        if pus.is_empty() {
            continue;
        }
        covered.extend(pus.iter().copied());
        cores.push(core_from(obj, obj.logical_index(), pus, numa_of));
    }

    // Allowed CPUs in no hwloc core: one core each, with what hwloc knows of the PU if anything.
    let missing: Vec<usize> = allowed_cpus
        .iter()
        .copied()
        .filter(|cpu| !covered.contains(cpu))
        .collect();
    if !missing.is_empty() {
        gaps.push(format!(
            "hwloc placed CPUs {} in no core; each is taken as a core of its own",
            format_cpu_list(&missing)
        ));
        let first_index = cores.iter().map(|c| c.index + 1).max().unwrap_or(0);
        for (next_index, cpu) in (first_index..).zip(missing) {
            let core = match topo.pu_with_os_index(cpu) {
                Some(pu) => core_from(pu, next_index, vec![cpu], numa_of),
                None => Core {
                    index: next_index,
                    package: 0,
                    numa_node: None,
                    pus: vec![cpu],
                    l2_bytes: None,
                    l3_bytes: None,
                    l3_group: None,
                },
            };
            cores.push(core);
        }
    }

    let mut numa_nodes: Vec<NumaNode> = numa_objects
        .iter()
        .filter_map(|node| {
            let set = node.cpuset()?;
            let cpus: Vec<usize> = allowed_cpus
                .iter()
                .copied()
                .filter(|&cpu| set.is_set(cpu))
                .collect();
            if cpus.is_empty() {
                return None;
            }
            let memory_bytes = match node.attributes() {
                Some(ObjectAttributes::NUMANode(attrs)) => attrs.local_memory().map(|m| m.get()),
                _ => None,
            }
            .or_else(|| Some(node.total_memory()).filter(|&m| m > 0));
            Some(NumaNode {
                index: node.logical_index(),
                cpus,
                memory_bytes,
            })
        })
        .collect();
    if numa_nodes.is_empty() {
        gaps.push("hwloc reported no NUMA node for the allowed CPUs; one is assumed".to_string());
        numa_nodes.push(NumaNode {
            index: 0,
            cpus: allowed_cpus.clone(),
            memory_bytes: proc_mem_total(),
        });
        for core in &mut cores {
            core.numa_node = Some(0);
        }
    }

    let packages = cores
        .iter()
        .map(|c| c.package)
        .collect::<BTreeSet<_>>()
        .len()
        .max(1);
    let cpu_model = topo
        .objects_with_type(ObjectType::Package)
        .find_map(|p| p.info("CPUModel"))
        .map(|m| m.to_string_lossy().trim().to_string())
        .filter(|m| !m.is_empty())
        .or_else(proc_cpu_model)
        .unwrap_or_else(|| "unknown".to_string());
    let source = if gaps.is_empty() {
        Source::Hwloc
    } else {
        Source::Fallback {
            reason: gaps.join("; "),
        }
    };
    Ok(Topology {
        source,
        cpu_model,
        packages,
        cores,
        numa_nodes,
        allowed_cpus,
    })
}

/// A core for hwloc object `obj` (a Core, or a lone PU), its package and caches read from its
/// ancestors.
fn core_from(
    obj: &TopologyObject,
    index: usize,
    pus: Vec<usize>,
    numa_of: impl Fn(usize) -> Option<usize>,
) -> Core {
    let package = obj
        .first_ancestor_with_type(ObjectType::Package)
        .map_or(0, TopologyObject::logical_index);
    let l2 = obj.first_ancestor_with_type(ObjectType::L2Cache);
    let l3 = obj.first_ancestor_with_type(ObjectType::L3Cache);
    Core {
        index,
        package,
        numa_node: pus.first().and_then(|&cpu| numa_of(cpu)),
        pus,
        l2_bytes: l2.and_then(cache_size),
        l3_bytes: l3.and_then(cache_size),
        l3_group: l3.map(TopologyObject::logical_index),
    }
}

fn cache_size(obj: &TopologyObject) -> Option<u64> {
    match obj.attributes() {
        Some(ObjectAttributes::Cache(cache)) => cache.size().map(|s| s.get()),
        _ => None,
    }
}
