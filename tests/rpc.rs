//! The JSON-RPC API of the real binary: `carbyne node --dev` is started, and every
//! outcome is checked through its HTTP and WebSocket endpoints.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The node, killed when the test ends however it ends.
struct Node {
    child: Child,
    rpc: SocketAddr,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node() -> Node {
    let data = std::env::temp_dir().join(format!("carbyne-rpc-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args(["node", "--dev", "--ingest-listen", "127.0.0.1:0"])
        .args(["--rpc-listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let rpc = loop {
        assert!(Instant::now() < deadline, "no RPC address logged");
        let line = lines
            .next()
            .expect("the node logs its RPC address")
            .unwrap();
        if let Some(rest) = line.split("JSON-RPC on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // Keep draining the log so that the node never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Node { child, rpc }
}

/// One HTTP/1.1 request; (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
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

fn post(node: &Node, request: &Value) -> Value {
    let (status, body) = http(node.rpc, "POST", "/", request.to_string().as_bytes());
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn result(node: &Node, method: &str, params: Value) -> Value {
    let a = post(
        node,
        &json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    );
    assert!(a.get("error").is_none(), "{method}: {a}");
    a["result"].clone()
}

fn error(answer: &Value) -> (i64, String) {
    let e = &answer["error"];
    (
        e["code"].as_i64().unwrap_or(0),
        e["message"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn rpc_over_http_and_websocket() {
    let node = start_node();

    // Health, and the chain id it reports is the API's.
    let (status, body) = http(node.rpc, "GET", "/health", b"");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap();
    let chain_id = result(&node, "get_chain_id", json!([]));
    assert_eq!(health["chain_id"], chain_id);
    assert_eq!(chain_id.as_str().unwrap().len(), 64);

    // The three request forms give the same answer.
    let by_name = post(
        &node,
        &json!({"jsonrpc":"2.0","id":7,"method":"call","params":["database","get_objects",[["1.2.17"]]]}),
    );
    let by_id = post(
        &node,
        &json!({"jsonrpc":"2.0","id":7,"method":"call","params":[0,"get_objects",[["1.2.17"]]]}),
    );
    let bare = post(
        &node,
        &json!({"jsonrpc":"2.0","id":7,"method":"get_objects","params":[["1.2.17"]]}),
    );
    assert_eq!(by_name, by_id);
    assert_eq!(by_name, bare);
    assert_eq!(by_name["id"], 7);
    assert_eq!(by_name["result"][0]["name"], "dev");
    assert_eq!(by_name["result"][0]["id"], "1.2.17");

    // Accounts, balances, assets and the implementation objects.
    let dev = result(&node, "get_account_by_name", json!(["dev"]));
    assert_eq!(dev["id"], "1.2.17");
    assert_eq!(
        dev["membership_expiration_date"], "2106-02-07T06:28:15",
        "a lifetime member"
    );
    let balances = result(&node, "get_account_balances", json!(["dev", ["1.3.0"]]));
    let core = result(&node, "get_objects", json!([["2.3.0"]]))[0].clone();
    assert_eq!(core["id"], "2.3.0");
    assert_eq!(
        balances[0]["amount"], core["current_supply"],
        "dev holds the whole supply: {balances} {core}"
    );
    assert_eq!(balances[0]["asset_id"], "1.3.0");
    let named = result(&node, "get_named_account_balances", json!(["dev", []]));
    assert_eq!(named, balances);
    let assets = result(
        &node,
        "lookup_asset_symbols",
        json!([["CORE", "1.3.0", "NOPE"]]),
    );
    assert_eq!(assets[0]["symbol"], "CORE");
    assert_eq!(assets[0], assets[1]);
    assert!(assets[2].is_null());
    let dgp = result(&node, "get_dynamic_global_properties", json!([]));
    assert_eq!(dgp["id"], "2.1.0");
    for key in [
        "head_block_number",
        "head_block_id",
        "time",
        "current_witness",
        "last_irreversible_block_num",
        "next_maintenance_time",
    ] {
        assert!(dgp.get(key).is_some(), "{key} in {dgp}");
    }
    let names = result(&node, "lookup_accounts", json!(["init", 3]));
    assert_eq!(
        names,
        json!([["init0", "1.2.6"], ["init1", "1.2.7"], ["init10", "1.2.16"]])
    );
    assert_eq!(result(&node, "get_account_count", json!([])), 18);
    assert_eq!(
        result(
            &node,
            "is_public_key_registered",
            json!([dev["options"]["memo_key"]])
        ),
        true
    );
    assert_eq!(
        result(&node, "is_public_key_registered", json!(["CBYnotakey"])),
        false
    );
    let login = post(
        &node,
        &json!({"id":1,"method":"call","params":[1,"login",["",""]]}),
    );
    assert_eq!(login["result"], true);
    let api = post(
        &node,
        &json!({"id":1,"method":"call","params":["login","get_api_by_name",["database"]]}),
    );
    assert_eq!(api["result"], 0);

    // A batch is answered in order; a notification (no id) gets no answer.
    let batch = post(
        &node,
        &json!([
            {"jsonrpc":"2.0","id":"a","method":"get_chain_id","params":[]},
            {"jsonrpc":"2.0","method":"get_chain_id","params":[]},
            {"jsonrpc":"2.0","id":"b","method":"get_account_count","params":[]}
        ]),
    );
    assert_eq!(batch.as_array().unwrap().len(), 2);
    assert_eq!(batch[0]["id"], "a");
    assert_eq!(batch[0]["result"], chain_id);
    assert_eq!(batch[1]["id"], "b");

    // Error shapes.
    let (status, body) = http(node.rpc, "POST", "/", b"{\"id\":1,\"method\":");
    assert_eq!(status, 200);
    let (code, msg) = error(&serde_json::from_str(&body).unwrap());
    assert_eq!(code, -32700, "{msg}");
    let (code, msg) = error(&post(
        &node,
        &json!({"id":1,"method":"get_nothing","params":[]}),
    ));
    assert_eq!(
        (code, msg.as_str()),
        (-32601, "unknown method database.get_nothing")
    );
    let (code, msg) = error(&post(
        &node,
        &json!({"id":1,"method":"call","params":["nosuch","x",[]]}),
    ));
    assert_eq!(code, -32601, "{msg}");
    let (code, msg) = error(&post(
        &node,
        &json!({"id":1,"method":"get_objects","params":[7]}),
    ));
    assert_eq!(code, -32602);
    assert!(
        msg.contains("get_objects: parameter 1 (object ids) is invalid"),
        "{msg}"
    );
    let (code, msg) = error(&post(
        &node,
        &json!({"id":1,"method":"get_objects","params":[["1.2"]]}),
    ));
    assert_eq!(code, -32602, "{msg}");
    let (code, msg) = error(&post(
        &node,
        &json!({"id":1,"method":"lookup_accounts","params":["", 1001]}),
    ));
    assert_eq!(code, -32602);
    assert_eq!(
        msg,
        "lookup_accounts: limit 1001 exceeds the maximum 1000 (rpc.limits.lookup_accounts)"
    );
    let omitted = result(&node, "lookup_accounts", json!([""]));
    assert_eq!(
        omitted.as_array().unwrap().len(),
        18,
        "an omitted limit means the maximum"
    );
    let big = format!(
        "{{\"id\":1,\"method\":\"get_objects\",\"params\":[[\"{}\"]]}}",
        "1".repeat(2 << 20)
    );
    let (status, body) = http(node.rpc, "POST", "/", big.as_bytes());
    assert_eq!(status, 413, "{body}");
    let (code, msg) = error(&serde_json::from_str(&body).unwrap());
    assert_eq!(code, -32600);
    assert!(msg.contains("rpc.request_bytes_max"), "{msg}");

    // The same over a real WebSocket client.
    let (mut ws, _) = tungstenite::connect(format!("ws://{}/ws", node.rpc)).expect("a WebSocket");
    ws.send(tungstenite::Message::text(
        json!({"jsonrpc":"2.0","id":42,"method":"call","params":["database","get_account_by_name",["dev"]]}).to_string(),
    ))
    .unwrap();
    let answer: Value = match ws.read().unwrap() {
        tungstenite::Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("expected text, got {other:?}"),
    };
    assert_eq!(answer["id"], 42);
    assert_eq!(answer["result"], dev);
    ws.send(tungstenite::Message::text("not json")).unwrap();
    let answer: Value = match ws.read().unwrap() {
        tungstenite::Message::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("expected text, got {other:?}"),
    };
    assert_eq!(error(&answer).0, -32700);

    // The node kept producing blocks through all of this.
    let start = result(&node, "get_dynamic_global_properties", json!([]))["head_block_number"]
        .as_u64()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = result(&node, "get_dynamic_global_properties", json!([]))["head_block_number"]
            .as_u64()
            .unwrap();
        if now >= start + 2 {
            break;
        }
        assert!(Instant::now() < deadline, "head stuck at {now}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, metrics) = http(node.rpc, "GET", "/metrics", b"");
    assert_eq!(status, 200);
    assert!(metrics.contains("carbyne_head_block_num "), "{metrics}");
    assert!(metrics.contains("carbyne_rpc_calls_total "), "{metrics}");
    assert!(metrics.contains("carbyne_blp_blocks "), "{metrics}");
}
