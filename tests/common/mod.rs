//! Shared by the integration tests that drive the real binary: start a dev node and
//! call its JSON-RPC over HTTP.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The node, killed when the test ends however it ends.
pub struct Node {
    pub child: Child,
    pub rpc: SocketAddr,
    pub ingest: SocketAddr,
    /// Every line the node has logged so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Node {
    /// Whether a logged line contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(text))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_node() -> Node {
    start_node_with(&[])
}

/// A dev node with extra command-line arguments.
pub fn start_node_with(extra: &[&str]) -> Node {
    start_node_at(&temp_data_dir("node"), extra)
}

/// A fresh, empty directory under the system temp dir, unique to this process.
pub fn temp_data_dir(what: &str) -> std::path::PathBuf {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let data = std::env::temp_dir().join(format!("carbyne-{what}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    data
}

/// A dev node on the data directory `data` (which may hold a chain already).
pub fn start_node_at(data: &std::path::Path, extra: &[&str]) -> Node {
    let mut child = Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args(["node", "--dev", "--ingest-listen", "127.0.0.1:0"])
        .args(["--rpc-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ingest = None;
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let rpc = loop {
        assert!(Instant::now() < deadline, "no RPC address logged");
        let line = lines
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "the node exited before logging its RPC address:\n{}",
                    log.lock().unwrap().join("\n")
                )
            })
            .unwrap();
        log.lock().unwrap().push(line.clone());
        if let Some(rest) = line.split("ingest on ").nth(1) {
            ingest = rest.split_whitespace().next().unwrap().parse().ok();
        }
        if let Some(rest) = line.split("JSON-RPC on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // Keep draining the log so that the node never blocks on a full pipe.
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    Node {
        child,
        rpc,
        ingest: ingest.expect("the node logs its ingest address first"),
        log,
    }
}

/// One HTTP/1.1 request; (status, body).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (and close) before it has read an oversize body.
    let _ = s.write_all(body);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

pub fn post(node: &Node, request: &Value) -> Value {
    let (status, body) = http(node.rpc, "POST", "/", request.to_string().as_bytes());
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

pub fn result(node: &Node, method: &str, params: Value) -> Value {
    let a = post(
        node,
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    );
    assert!(a.get("error").is_none(), "{method}: {a}");
    a["result"].clone()
}

/// A transfer of `amount` core satoshis from `from` to `to` with `fee`, referencing
/// the head block that `dgp` (a `get_dynamic_global_properties` answer) describes,
/// expiring `expires_in` seconds after it, signed with `key` for `chain_id`.
#[allow(clippy::too_many_arguments)]
pub fn transfer_at(
    chain_id: &carbyne::protocol::ChainId,
    dgp: &Value,
    from: carbyne::protocol::ids::AccountId,
    to: carbyne::protocol::ids::AccountId,
    amount: i64,
    fee: i64,
    expires_in: u32,
    key: &carbyne::protocol::PrivateKey,
) -> Result<carbyne::protocol::SignedTransaction, String> {
    use carbyne::protocol::operations::TransferOperation;
    use carbyne::protocol::{Asset, BlockId, Operation, SignedTransaction, TimePointSec};
    let head: BlockId = dgp["head_block_id"].as_str().ok_or("no head id")?.parse()?;
    let time: TimePointSec =
        serde_json::from_value(dgp["time"].clone()).map_err(|e| e.to_string())?;
    let trx = carbyne::protocol::Transaction {
        ref_block_num: (dgp["head_block_number"].as_u64().ok_or("no head number")? & 0xffff) as u16,
        ref_block_prefix: head.tapos_prefix(),
        expiration: time.saturating_add(expires_in),
        operations: vec![Operation::Transfer(TransferOperation {
            fee: Asset::core(fee),
            from,
            to,
            amount: Asset::core(amount),
            memo: None,
            extensions: Default::default(),
        })],
        extensions: Default::default(),
    };
    let mut signed = SignedTransaction {
        trx,
        signatures: Default::default(),
        signer_keys: Default::default(),
    };
    signed.sign(key, chain_id);
    Ok(signed)
}
