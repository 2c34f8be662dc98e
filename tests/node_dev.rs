//! Runs the real binary: `carbyne node --dev` produces a block about once per second and
//! the last irreversible block follows.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn field(line: &str, key: &str) -> Option<u32> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn dev_node_advances_head_and_lib_every_second() {
    let data = std::env::temp_dir().join(format!("carbyne-node-dev-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args([
            "node",
            "--dev",
            "--ingest-listen",
            "127.0.0.1:0",
            "--rpc-listen",
            "127.0.0.1:0",
            "--max-blocks",
            "14",
            "--data-dir",
        ])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut seen: Vec<(u32, u32, Instant)> = Vec::new();
    let mut saw_key = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        saw_key |= line.contains("dev account `dev` key");
        if let (Some(num), Some(lib)) = (field(&line, "block #"), field(&line, "lib=")) {
            seen.push((num, lib, Instant::now()));
        }
        assert!(Instant::now() < deadline, "the node took too long");
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "node exited with {status}");
    assert!(saw_key, "the dev key is printed at start-up");
    assert_eq!(seen.len(), 14, "{seen:?}");
    // A maintenance block (block 1, then each minute on the dev chain) makes the next
    // block skip 3 slots; otherwise blocks come once per second.
    let (mut one_second, mut after_maintenance) = (0, 0);
    for w in seen.windows(2) {
        assert_eq!(w[1].0, w[0].0 + 1, "head advances by one");
        assert!(w[1].1 >= w[0].1, "LIB never goes back");
        let gap = w[1].2 - w[0].2;
        if gap > Duration::from_millis(500) && gap < Duration::from_millis(1600) {
            one_second += 1;
        } else if gap > Duration::from_millis(3500) && gap < Duration::from_millis(4600) {
            after_maintenance += 1;
        } else {
            panic!(
                "unexpected gap {gap:?} between blocks {} and {}",
                w[0].0, w[1].0
            );
        }
    }
    assert!(
        after_maintenance <= 2 && one_second >= 11,
        "{one_second} 1s gaps, {after_maintenance} 4s gaps"
    );
    let (head, lib, _) = *seen.last().unwrap();
    assert_eq!(head, 14);
    // 8 of the 11 witnesses must build on a block; reshuffles can add a few blocks of lag.
    assert!(
        lib > 0 && lib + 11 >= head,
        "lib {lib} trails head {head} too far"
    );
    let libs: Vec<u32> = seen.iter().map(|s| s.1).collect();
    assert!(
        libs.windows(2).filter(|w| w[1] == w[0] + 1).count() >= 4,
        "LIB advances block by block: {libs:?}"
    );
}
