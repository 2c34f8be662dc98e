//! Tests against the real machine: hwloc topology and pinning.
//!
//! They assume the project's machine (Linux, hwloc 2.x installed, L2 caches reported). Each
//! pinning test pins only threads it spawns, so tests running in parallel do not disturb each
//! other.

use std::collections::BTreeMap;

use affinity::{
    current_thread_cpus, detect, fallback, format_cpu_list, pin_current_thread,
    pin_current_thread_to, PinError, Source, Topology, MAX_CPUS,
};

/// Every allowed CPU is in exactly one core and one NUMA node, and nothing else is.
fn assert_consistent(t: &Topology) {
    assert!(!t.allowed_cpus.is_empty(), "{t:#?}");
    assert!(
        t.allowed_cpus.windows(2).all(|w| w[0] < w[1]),
        "allowed CPUs not ascending: {:?}",
        t.allowed_cpus
    );
    assert!(t.packages >= 1);
    assert!(t.cores_count() >= 1);
    assert_eq!(t.cpus_count(), t.allowed_cpus.len());

    let mut core_count: BTreeMap<usize, usize> = BTreeMap::new();
    for core in &t.cores {
        assert!(!core.pus.is_empty(), "core without PUs: {core:?}");
        assert!(core.pus.windows(2).all(|w| w[0] < w[1]), "{core:?}");
        for &pu in &core.pus {
            *core_count.entry(pu).or_default() += 1;
        }
    }
    for &cpu in &t.allowed_cpus {
        assert_eq!(
            core_count.get(&cpu),
            Some(&1),
            "CPU {cpu} is not in exactly one core: {t:#?}"
        );
        let core = t.core_of_cpu(cpu).expect("core_of_cpu");
        assert!(core.pus.contains(&cpu));
    }
    assert_eq!(
        t.pus(),
        t.allowed_cpus,
        "cores hold CPUs outside the allowed set"
    );

    let indices: Vec<usize> = t.cores.iter().map(|c| c.index).collect();
    let mut unique = indices.clone();
    unique.dedup();
    assert_eq!(indices.len(), unique.len(), "duplicate core indices");

    let mut numa_cpus: Vec<usize> = t
        .numa_nodes
        .iter()
        .flat_map(|n| n.cpus.iter().copied())
        .collect();
    numa_cpus.sort_unstable();
    assert_eq!(
        numa_cpus, t.allowed_cpus,
        "NUMA nodes do not partition the CPUs"
    );
    for core in &t.cores {
        if let Some(node) = core.numa_node {
            let node = t
                .numa_nodes
                .iter()
                .find(|n| n.index == node)
                .expect("core names a NUMA node that is not listed");
            assert!(core.pus.iter().all(|pu| node.cpus.contains(pu)));
        }
    }
}

#[test]
fn detect_reads_this_machine_through_hwloc() {
    let t = detect();
    assert_eq!(t.source, Source::Hwloc, "{}", t.describe());
    assert_consistent(&t);
    assert_eq!(t.allowed_cpus, current_thread_cpus().unwrap());
    assert!(t.cores.iter().all(|c| c.numa_node.is_some()));
    assert!(!t.numa_nodes.is_empty());
    assert!(t
        .numa_nodes
        .iter()
        .all(|n| n.memory_bytes.is_some_and(|m| m > 0)));
    // This machine's hwloc reports L2 (1 MiB per core) and a shared L3.
    for core in &t.cores {
        assert!(core.l2_bytes.is_some_and(|b| b >= 64 * 1024), "{core:?}");
    }
    assert!(!t.cpu_model.is_empty());

    let text = t.describe();
    assert!(text.contains("source: hwloc"), "{text}");
    assert!(
        text.contains(&format!("packages: {}", t.packages)),
        "{text}"
    );
    for core in &t.cores {
        assert!(text.contains(&format!("core {}:", core.index)), "{text}");
    }
    assert!(text.contains("NUMA node"), "{text}");
}

#[test]
fn detect_agrees_with_the_os_cpu_count() {
    let t = detect();
    let n = std::thread::available_parallelism().unwrap().get();
    assert_eq!(t.cpus_count(), n);
    // Repeated reads give the same model.
    assert_eq!(detect(), t);
}

#[test]
fn fallback_model_is_consistent() {
    let t = fallback("hwloc disabled for the test");
    assert_consistent(&t);
    assert_eq!(
        t.source,
        Source::Fallback {
            reason: "hwloc disabled for the test".to_string()
        }
    );
    assert_eq!(t.packages, 1);
    assert_eq!(t.cores_count(), t.cpus_count());
    assert_eq!(t.numa_nodes.len(), 1);
    assert_eq!(t.allowed_cpus, detect().allowed_cpus);
    assert!(t
        .describe()
        .contains("fallback (hwloc disabled for the test)"));
}

#[test]
fn pins_a_thread_to_each_allowed_cpu() {
    let allowed = current_thread_cpus().unwrap();
    for &cpu in &allowed {
        let seen = std::thread::spawn(move || {
            pin_current_thread(cpu).unwrap();
            current_thread_cpus().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(seen, vec![cpu]);
    }
    // This thread was not touched.
    assert_eq!(current_thread_cpus().unwrap(), allowed);
}

#[test]
fn a_pinned_thread_can_be_moved_to_another_allowed_cpu() {
    let allowed = current_thread_cpus().unwrap();
    let first = allowed[0];
    let last = *allowed.last().unwrap();
    std::thread::spawn(move || {
        pin_current_thread(first).unwrap();
        assert_eq!(current_thread_cpus().unwrap(), vec![first]);
        // Not in the thread's mask any more, but still one the process may run on.
        pin_current_thread(last).unwrap();
        assert_eq!(current_thread_cpus().unwrap(), vec![last]);
    })
    .join()
    .unwrap();
}

#[test]
fn pinning_outside_the_allowed_set_is_not_allowed() {
    let allowed = current_thread_cpus().unwrap();
    // 4095: beyond any CPU this machine has; MAX_CPUS and up: refused before the syscall.
    for cpu in [4095, MAX_CPUS, usize::MAX] {
        let before = current_thread_cpus().unwrap();
        match pin_current_thread(cpu) {
            Err(PinError::NotAllowed { cpu: c, allowed: a }) => {
                assert_eq!(c, cpu);
                assert_eq!(a, format_cpu_list(&allowed));
            }
            other => panic!("pinning to CPU {cpu}: expected NotAllowed, got {other:?}"),
        }
        assert_eq!(
            current_thread_cpus().unwrap(),
            before,
            "a failed pin changed the mask"
        );
    }
    let err = pin_current_thread(4095).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "CPU 4095 is not one this process may run on (allowed: {})",
            format_cpu_list(&allowed)
        )
    );
}

#[test]
fn detect_in_a_thread_restricted_to_one_cpu() {
    let allowed = current_thread_cpus().unwrap();
    let full = detect();
    for &cpu in &allowed {
        let (t, after) = std::thread::spawn(move || {
            pin_current_thread(cpu).unwrap();
            let t = detect();
            (t, current_thread_cpus().unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(after, vec![cpu], "detect() changed the thread's mask");
        assert_eq!(t.source, Source::Hwloc, "{}", t.describe());
        assert_consistent(&t);
        assert_eq!(t.allowed_cpus, vec![cpu]);
        assert_eq!(t.cpus_count(), 1);
        assert_eq!(t.cores_count(), 1);
        assert_eq!(t.packages, 1);
        assert_eq!(t.numa_nodes.len(), 1);
        // The one core is the same core as in the full model, narrowed to this CPU.
        let mut expected = full.core_of_cpu(cpu).unwrap().clone();
        expected.pus = vec![cpu];
        assert_eq!(t.cores[0], expected);
    }
}

/// Set in the child process of [`partial_hwloc_topology_is_completed`].
const CHILD_ENV: &str = "AFFINITY_TEST_PARTIAL_HWLOC_CHILD";

/// Runs [`partial_hwloc_child`] in a child process whose hwloc has its Linux and x86 discovery
/// turned off (`HWLOC_COMPONENTS=-linux,-x86`), so it reports PUs and a NUMA node but no cores
/// or caches: what a bare container or an odd VM may give. The environment is set only in the
/// child, never in this process where other tests call hwloc.
#[test]
fn partial_hwloc_topology_is_completed() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "partial_hwloc_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("HWLOC_COMPONENTS", "-linux,-x86")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("partial-hwloc-child-checked"),
        "child did not run:\n{stdout}"
    );
}

/// The child half of [`partial_hwloc_topology_is_completed`]; does nothing in a normal run.
#[test]
fn partial_hwloc_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let t = detect();
    let Source::Fallback { reason } = &t.source else {
        panic!("expected a partial topology:\n{}", t.describe());
    };
    assert!(reason.contains("in no core"), "{reason}");
    assert_consistent(&t);
    assert_eq!(t.allowed_cpus, current_thread_cpus().unwrap());
    assert_eq!(t.cores_count(), t.cpus_count());
    assert!(t
        .cores
        .iter()
        .all(|c| c.pus.len() == 1 && c.l2_bytes.is_none()));
    println!("partial-hwloc-child-checked");
}

#[test]
fn a_thread_can_be_pinned_to_a_set_of_cpus() {
    let allowed = current_thread_cpus().unwrap();
    let set = allowed.clone();
    let seen = std::thread::spawn(move || {
        pin_current_thread_to(&set).unwrap();
        current_thread_cpus().unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(seen, allowed);
    // A set of one is a plain pin; a set with an unusable CPU among usable ones runs
    // on the usable ones.
    let first = allowed[0];
    let seen = std::thread::spawn(move || {
        pin_current_thread_to(&[first, 4095]).unwrap();
        current_thread_cpus().unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(seen, vec![first]);
}

#[test]
fn an_empty_or_unusable_set_is_not_allowed() {
    let before = current_thread_cpus().unwrap();
    for set in [&[][..], &[4095][..], &[0, MAX_CPUS][..]] {
        match pin_current_thread_to(set) {
            Err(PinError::NotAllowed { .. }) => {}
            other => panic!("{set:?}: {other:?}"),
        }
        assert_eq!(current_thread_cpus().unwrap(), before, "{set:?}");
    }
}
