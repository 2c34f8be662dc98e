//! Durability of the real binary: SIGKILL at random moments under a stream of
//! transfers, damaged block logs and snapshots, an unwritable data dir and a full
//! disk. Each check compares the node's state digest with a from-scratch replay of
//! the same block log.

mod common;

use carbyne::protocol::{ChainId, SignedTransaction};
use common::{start_node_at, temp_data_dir, Node};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// 100 CORE, above the default schedule's transfer fee.
const TRANSFER_FEE: i64 = 10_000_000;

/// One JSON-RPC call over HTTP that reports failures instead of panicking (the node
/// may be killed mid-call).
fn call(addr: SocketAddr, method: &str, params: Value) -> Result<Value, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(body.as_bytes()))
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    let body = text.split("\r\n\r\n").nth(1).ok_or("no HTTP body")?;
    let v: Value = serde_json::from_str(body).map_err(|e| format!("{e}: {body}"))?;
    match v.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(v["result"].clone()),
    }
}

fn must(addr: SocketAddr, method: &str, params: Value) -> Value {
    call(addr, method, params).unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// (head block number, last irreversible block number) as the node reports them.
fn heights(addr: SocketAddr) -> (u64, u64) {
    let d = must(addr, "get_dynamic_global_properties", json!([]));
    (
        d["head_block_number"].as_u64().unwrap(),
        d["last_irreversible_block_num"].as_u64().unwrap(),
    )
}

/// A transfer of `amount` from `dev` to `init{to}`, signed for the current head.
fn transfer(addr: SocketAddr, to: usize, amount: i64) -> Result<SignedTransaction, String> {
    let chain_id: ChainId = call(addr, "get_chain_id", json!([]))?
        .as_str()
        .ok_or("chain id")?
        .parse()?;
    let dgp = call(addr, "get_dynamic_global_properties", json!([]))?;
    let id = |name: &str| -> Result<_, String> {
        let a = call(addr, "get_account_by_name", json!([name]))?;
        serde_json::from_value(a["id"].clone()).map_err(|e| e.to_string())
    };
    let (from, to) = (id("dev")?, id(&format!("init{to}"))?);
    let key = carbyne::chain::genesis::dev_key();
    common::transfer_at(&chain_id, &dgp, from, to, amount, TRANSFER_FEE, 90, &key)
}

/// Transfers sent until `stop`, by a few threads at once; each one confirmed in a
/// block is recorded as (transaction id, block number).
struct Stream {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Stream {
    fn start(
        addr: SocketAddr,
        amounts: &Arc<AtomicI64>,
        confirmed: &Arc<Mutex<Vec<(String, u64)>>>,
    ) -> Stream {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..4)
            .map(|t| {
                let (stop, amounts, confirmed) = (stop.clone(), amounts.clone(), confirmed.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let amount = amounts.fetch_add(1, Ordering::Relaxed);
                        let Ok(trx) = transfer(addr, t, amount) else {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        };
                        let sent = call(
                            addr,
                            "call",
                            json!([
                                "network_broadcast",
                                "broadcast_transaction_synchronous",
                                [serde_json::to_value(&trx).unwrap()]
                            ]),
                        );
                        if let Ok(a) = sent {
                            let num = a["block_num"].as_u64().expect("a block number");
                            assert_eq!(a["id"], trx.trx.id().to_string());
                            confirmed
                                .lock()
                                .unwrap()
                                .push((trx.trx.id().to_string(), num));
                        }
                    }
                })
            })
            .collect();
        Stream { stop, threads }
    }
    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().expect("a stream thread panicked");
        }
    }
}

/// Checks that every confirmed transfer in a block at or below `lib` is in that
/// block, as the node serves it now.
fn check_confirmed(addr: SocketAddr, confirmed: &[(String, u64)], lib: u64, checked: &mut u64) {
    let mut by_block: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (id, num) in confirmed.iter().filter(|(_, n)| *n <= lib && *n > *checked) {
        by_block.entry(*num).or_default().push(id);
    }
    for (num, ids) in by_block {
        let block = must(addr, "get_block", json!([num]));
        let have: Vec<&str> = block["transaction_ids"]
            .as_array()
            .unwrap_or_else(|| panic!("block #{num} is missing: {block}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for id in ids {
            assert!(
                have.contains(&id),
                "transfer {id} was reported in block #{num} (at or below LIB {lib}), which no longer has it"
            );
        }
    }
    *checked = (*checked).max(lib);
}

/// The last line of `carbyne node --data-dir D ARGS` (which must succeed).
fn node_last_line(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args(["node", "--data-dir"])
        .arg(data)
        .args(args)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "node {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_string()
}

/// The state digest the data dir loads to, and the one a from-scratch replay of its
/// block log gives; asserts that they are equal, and returns it.
fn digests_agree(data: &Path) -> String {
    let loaded = node_last_line(data, &["--state-digest"]);
    let replayed = node_last_line(data, &["--replay-blockchain", "--state-digest"]);
    assert_eq!(loaded.len(), 64, "not a digest: {loaded}");
    assert_eq!(
        loaded, replayed,
        "the loaded state differs from a replay of the block log"
    );
    loaded
}

/// A small xorshift generator: the moments of the kills, reproducible from the seed
/// that the test prints.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn write_config(data: &Path, storage: &str) {
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(data.join("config.toml"), format!("[storage]\n{storage}\n")).unwrap();
}

#[test]
fn sigkill_at_random_moments_loses_nothing_reported() {
    let data = temp_data_dir("crash");
    // Snapshots every few blocks, so that kills land around snapshot writes too.
    write_config(&data, "snapshot_every_blocks = 3\nsnapshots_kept = 2");
    let seed = std::env::var("CARBYNE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed {seed} (CARBYNE_CRASH_SEED reproduces it)");
    let mut rng = Rng(seed);
    let amounts = Arc::new(AtomicI64::new(1));
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let (mut lib_seen, mut checked) = (0u64, 0u64);
    for round in 0..=20 {
        let mut node = start_node_at(&data, &[]);
        let (head, _) = heights(node.rpc);
        assert!(
            head >= lib_seen,
            "round {round}: head #{head} after the restart is below the LIB #{lib_seen} reported before the kill"
        );
        check_confirmed(node.rpc, &confirmed.lock().unwrap(), lib_seen, &mut checked);
        if round == 20 {
            break;
        }
        let stream = Stream::start(node.rpc, &amounts, &confirmed);
        let until = Instant::now() + Duration::from_millis(500 + rng.below(3500));
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
            if let Ok(d) = call(node.rpc, "get_dynamic_global_properties", json!([])) {
                lib_seen = lib_seen.max(d["last_irreversible_block_num"].as_u64().unwrap());
            }
        }
        node.child.kill().unwrap(); // SIGKILL
        node.child.wait().unwrap();
        stream.stop();
    }
    let confirmed = confirmed.lock().unwrap().len();
    eprintln!("{confirmed} transfers confirmed; LIB reached #{lib_seen}");
    assert!(
        confirmed > 50,
        "the stream confirmed only {confirmed} transfers"
    );
    assert!(lib_seen > 10, "LIB only reached #{lib_seen}");
    let digest = digests_agree(&data);
    // Checking every signature again gives the same state.
    let revalidated = node_last_line(&data, &["--revalidate-blockchain", "--state-digest"]);
    assert_eq!(revalidated, digest);
}

/// Starts a node on `data`, lets it produce a few blocks with transfers in them,
/// and stops it with SIGTERM (a clean shutdown: a snapshot is written).
fn make_chain(data: &Path, blocks: u64) -> u64 {
    let node = start_node_at(data, &[]);
    let amounts = Arc::new(AtomicI64::new(1));
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let stream = Stream::start(node.rpc, &amounts, &confirmed);
    let deadline = Instant::now() + Duration::from_secs(60);
    while heights(node.rpc).0 < blocks {
        assert!(Instant::now() < deadline, "the node stopped producing");
        std::thread::sleep(Duration::from_millis(100));
    }
    stream.stop();
    terminate(node)
}

/// SIGTERM, then waits; the node must exit 0. Returns its head block.
fn terminate(mut node: Node) -> u64 {
    let (head, _) = heights(node.rpc);
    let pid = node.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = node.child.wait().unwrap();
    assert!(status.success(), "the node exited with {status} on SIGTERM");
    assert!(
        node.logged("stopped cleanly"),
        "no clean-stop line:\n{}",
        node.log.lock().unwrap().join("\n")
    );
    head.max(1)
}

fn blockchain(data: &Path) -> std::path::PathBuf {
    data.join("blockchain")
}

fn snapshots(data: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(blockchain(data).join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    v.sort();
    v
}

/// The node comes back after `damage`, logs `expect`, and its state equals a replay.
fn recovers(data: &Path, expect: &str, head_at_least: u64) {
    let node = start_node_at(data, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !node.logged(expect) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        node.logged(expect),
        "no line with {expect:?}:\n{}",
        node.log.lock().unwrap().join("\n")
    );
    let (head, _) = heights(node.rpc);
    assert!(head >= head_at_least, "head #{head} < #{head_at_least}");
    terminate(node);
    digests_agree(data);
}

#[test]
fn truncated_or_flipped_last_block_and_corrupt_snapshot_are_recovered() {
    let data = temp_data_dir("corrupt");
    write_config(&data, "snapshot_every_blocks = 0");
    let head = make_chain(&data, 4);
    let log = blockchain(&data).join("blocks.log");

    // A torn last block: the log is cut back to the block before it.
    let len = std::fs::metadata(&log).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);
    // The clean shutdown's snapshot is ahead of the log now: it is skipped.
    recovers(&data, "torn frame", head - 1);

    // A flipped byte in the last block.
    let mut bytes = std::fs::read(&log).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x20;
    std::fs::write(&log, bytes).unwrap();
    recovers(&data, "checksum mismatch", 1);

    // A corrupt newest snapshot: the one before it, or a full replay, is used.
    make_chain(&data, heights_of(&data) + 2);
    let newest = snapshots(&data).pop().expect("a snapshot");
    let mut bytes = std::fs::read(&newest).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x01;
    std::fs::write(&newest, bytes).unwrap();
    recovers(&data, "snapshot unusable", 1);
}

/// The head block of the stopped node's data dir.
fn heights_of(data: &Path) -> u64 {
    let node = start_node_at(data, &[]);
    let (head, _) = heights(node.rpc);
    terminate(node);
    head
}

fn mount(args: &[&str], dir: &Path) -> bool {
    Command::new("mount")
        .args(args)
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

fn run_node(data: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args(["node", "--dev", "--rpc-listen", "127.0.0.1:0"])
        .args(["--ingest-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn unwritable_data_dir_is_refused_and_left_intact() {
    let data = temp_data_dir("readonly");
    std::fs::create_dir_all(&data).unwrap();
    let root = mount(&["-t", "tmpfs", "-o", "size=64m", "tmpfs"], &data);
    write_config(&data, "snapshot_every_blocks = 0");
    make_chain(&data, 3);
    let before = digests_agree(&data);
    let listing = |d: &Path| {
        let mut v: Vec<(String, u64)> = walk(d);
        v.sort();
        v
    };
    let files = listing(&data);
    // Root ignores permissions: a read-only remount stands in for them.
    if root {
        assert!(mount(&["-o", "remount,ro"], &data), "remount read-only");
    } else {
        set_mode(&data, 0o555);
        set_mode(&blockchain(&data), 0o555);
    }
    let (ok, out) = run_node(&data);
    assert!(!ok, "the node ran on an unwritable data dir:\n{out}");
    assert!(out.contains("is not writable"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("error: ")) && !out.contains("panicked"),
        "{out}"
    );
    if root {
        assert!(mount(&["-o", "remount,rw"], &data));
    } else {
        set_mode(&blockchain(&data), 0o755);
        set_mode(&data, 0o755);
    }
    assert_eq!(listing(&data), files, "the refused start changed files");
    assert_eq!(digests_agree(&data), before);
    if root {
        let _ = Command::new("umount").arg(&data).status();
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn walk(d: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push((p.display().to_string(), e.metadata().unwrap().len()));
        }
    }
    out
}

#[test]
fn full_disk_stops_the_node_cleanly_and_corrupts_nothing() {
    let data = temp_data_dir("full");
    std::fs::create_dir_all(&data).unwrap();
    if !mount(&["-t", "tmpfs", "-o", "size=16m", "tmpfs"], &data) {
        // Without root: the file-size limit stands in for a full disk (the node
        // turns SIGXFSZ into an error, as a full disk would be).
        eprintln!("no tmpfs (not root?): simulating a full disk with RLIMIT_FSIZE");
        return full_disk_by_rlimit(&data);
    }
    write_config(&data, "snapshot_every_blocks = 0");
    let mut node = start_node_at(&data, &[]);
    let amounts = Arc::new(AtomicI64::new(1));
    let confirmed = Arc::new(Mutex::new(Vec::new()));
    let stream = Stream::start(node.rpc, &amounts, &confirmed);
    while heights(node.rpc).0 < 3 {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Fill what is left of the disk.
    let filler = data.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    drop(f);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = node.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the node kept running on a full disk:\n{}",
            node.log.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    stream.stop();
    assert!(!status.success(), "the node exited 0 on a full disk");
    let log = node.log.lock().unwrap().join("\n");
    assert!(log.contains("No space left on device"), "{log}");
    assert!(log.contains("could not be written"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    // Every block it reported is there, and nothing is torn.
    std::fs::remove_file(&filler).unwrap();
    let node = start_node_at(&data, &[]);
    assert!(
        !node.logged("torn"),
        "{}",
        node.log.lock().unwrap().join("\n")
    );
    let head = heights(node.rpc).0;
    let mut checked = 0;
    check_confirmed(node.rpc, &confirmed.lock().unwrap(), head, &mut checked);
    terminate(node);
    digests_agree(&data);
    let _ = Command::new("umount").arg(&data).status();
}

fn full_disk_by_rlimit(data: &Path) {
    write_config(data, "snapshot_every_blocks = 0");
    make_chain(data, 2);
    let log_len = std::fs::metadata(blockchain(data).join("blocks.log"))
        .unwrap()
        .len();
    let limit = (log_len + 300).to_string();
    let out = Command::new("prlimit")
        .arg(format!("--fsize={limit}"))
        .arg(env!("CARGO_BIN_EXE_carbyne"))
        .args(["node", "--dev", "--rpc-listen", "127.0.0.1:0"])
        .args(["--ingest-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("could not be written"), "{text}");
    digests_agree(data);
}
