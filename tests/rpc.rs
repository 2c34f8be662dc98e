//! The JSON-RPC API of the real binary: `carbyne node --dev` is started, and every
//! outcome is checked through its HTTP and WebSocket endpoints.

mod common;

use common::{http, post, result, start_node, start_node_with, Node};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>;

fn ws_send(ws: &mut Ws, request: Value) {
    ws.send(tungstenite::Message::text(request.to_string()))
        .unwrap();
}

fn ws_read(ws: &mut Ws) -> Value {
    loop {
        match ws.read().expect("a WebSocket message") {
            tungstenite::Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// The answer to request `id`, keeping the notices that arrive before it.
fn ws_answer(ws: &mut Ws, id: u64, notices: &mut Vec<Value>) -> Value {
    loop {
        let m = ws_read(ws);
        if m["method"] == "notice" {
            notices.push(m);
        } else {
            assert_eq!(m["id"], id, "{m}");
            return m;
        }
    }
}

/// A transfer of `amount` satoshis from `from` (signed with `key`) to `to`, for the
/// node's chain and head.
fn signed_transfer(
    node: &Node,
    from: &str,
    key: &carbyne::protocol::PrivateKey,
    to: &str,
    amount: i64,
) -> carbyne::protocol::SignedTransaction {
    let chain_id = result(node, "get_chain_id", json!([]))
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let dgp = result(node, "get_dynamic_global_properties", json!([]));
    let id = |name: &str| {
        let a = result(node, "get_account_by_name", json!([name]));
        serde_json::from_value(a["id"].clone()).unwrap()
    };
    common::transfer_at(
        &chain_id,
        &dgp,
        id(from),
        id(to),
        amount,
        TRANSFER_FEE,
        60,
        key,
    )
    .unwrap()
}

/// The fee the tests offer for a transfer: 100 CORE, above the default schedule's.
const TRANSFER_FEE: i64 = 10_000_000;

/// Sends a transfer from `dev` to the node's ingest port and waits for its block.
fn send_transfer(node: &Node, to: &str, amount: i64) {
    let signed = signed_transfer(node, "dev", &carbyne::chain::genesis::dev_key(), to, amount);
    let mut frame = Vec::new();
    netio::encode_frame(&carbyne::protocol::codec::encode(&signed), &mut frame);
    let mut s = TcpStream::connect(node.ingest).unwrap();
    s.write_all(&frame).unwrap();
    // The final answer: u32 length, u64 seq, u8 code (16: included), detail.
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut answer = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut answer).unwrap();
    assert_eq!(
        answer[8],
        16,
        "the transfer was not included: {}",
        String::from_utf8_lossy(&answer[9..])
    );
}

#[test]
fn transactions_broadcast_over_rpc() {
    let node = start_node();
    // Amounts outside the i32 range come as strings.
    let balance = |name: &str| {
        let a = &result(&node, "get_account_balances", json!([name, ["1.3.0"]]))[0]["amount"];
        a.as_i64()
            .or_else(|| a.as_str().and_then(|s| s.parse().ok()))
            .unwrap()
    };
    let (dev_before, init3_before) = (balance("dev"), balance("init3"));

    // Synchronous: the answer names the block and the position in it.
    let dev_key = carbyne::chain::genesis::dev_key();
    let t = signed_transfer(&node, "dev", &dev_key, "init3", 55_000);
    let trx = serde_json::to_value(&t).unwrap();
    let a = result(
        &node,
        "call",
        json!([
            "network_broadcast",
            "broadcast_transaction_synchronous",
            [trx]
        ]),
    );
    assert_eq!(a["id"], t.trx.id().to_string(), "{a}");
    assert!(a["block_num"].as_u64().unwrap() > 0, "{a}");
    assert_eq!(a["trx_num"], 0, "{a}");
    assert_eq!(a["trx"]["signatures"], trx["signatures"], "{a}");
    assert_eq!(balance("init3"), init3_before + 55_000);
    assert_eq!(balance("dev"), dev_before - 55_000 - TRANSFER_FEE);

    // The block and the transaction, read back by number.
    let num = a["block_num"].as_u64().unwrap();
    let block = result(&node, "get_block", json!([num]));
    assert_eq!(block["transaction_ids"], json!([a["id"]]), "{block}");
    assert_eq!(block["transactions"][0]["signatures"], trx["signatures"]);
    assert_eq!(block["block_id"].as_str().unwrap().len(), 64, "{block}");
    assert!(
        block["signing_key"].as_str().unwrap().starts_with("CBY"),
        "{block}"
    );
    let header = result(&node, "get_block_header", json!([num]));
    assert_eq!(header["previous"], block["previous"]);
    assert_eq!(header["witness"], block["witness"]);
    let got = result(&node, "get_transaction", json!([num, 0]));
    assert_eq!(got["signatures"], trx["signatures"]);
    let range = result(
        &node,
        "call",
        json!(["block", "get_blocks", [num, num + 1]]),
    );
    assert!(!range.as_array().unwrap().is_empty(), "{range}");
    assert_eq!(range[0]["block_id"], block["block_id"]);
    assert_eq!(
        result(&node, "get_block", json!([num + 1_000_000])),
        Value::Null
    );
    let a2 = post(
        &node,
        &json!({"id":9,"method":"get_transaction","params":[num, 7]}),
    );
    assert!(error(&a2).1.contains("no index 7"), "{a2}");
    let a2 = post(
        &node,
        &json!({"id":9,"method":"call","params":["block","get_blocks",[1, 1000]]}),
    );
    assert!(error(&a2).1.contains("rpc.limits.get_blocks"), "{a2}");

    // The same transaction again is a duplicate.
    let again = post(
        &node,
        &json!({"id":2,"method":"call","params":[2,"broadcast_transaction",[trx]]}),
    );
    let (code, message) = error(&again);
    assert_eq!(code, -32602, "{again}");
    assert!(message.contains("duplicate"), "{message}");

    // Asynchronous: null once applied to the pending state; then it lands in a block.
    let t = signed_transfer(&node, "dev", &dev_key, "init3", 1_000);
    let a = result(
        &node,
        "call",
        json!(["network_broadcast", "broadcast_transaction", [t]]),
    );
    assert_eq!(a, Value::Null);
    let deadline = Instant::now() + Duration::from_secs(20);
    while balance("init3") != init3_before + 56_000 {
        assert!(Instant::now() < deadline, "the transfer never landed");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Insufficient balance: the message names the account and the amounts.
    let init4 = carbyne::chain::genesis::dev_witness_key(4);
    let poor = balance("init4");
    let t = signed_transfer(&node, "init4", &init4, "dev", poor + 1);
    let a = post(
        &node,
        &json!({"id":3,"method":"call","params":["network_broadcast","broadcast_transaction",[t]]}),
    );
    let (code, message) = error(&a);
    assert_eq!(code, -32602, "{a}");
    assert!(
        message.contains("insufficient balance") && message.contains("init4"),
        "{message}"
    );

    // A malformed transaction is refused before it reaches the pipeline.
    let a = post(
        &node,
        &json!({"id":4,"method":"call","params":["network_broadcast","broadcast_transaction",[{"ref_block_num":"x"}]]}),
    );
    let (code, message) = error(&a);
    assert_eq!(code, -32602, "{a}");
    assert!(message.contains("signed transaction"), "{message}");
}

#[test]
fn notices_for_every_block_and_for_a_subscribed_account() {
    let node = start_node();
    let (mut ws, _) = tungstenite::connect(format!("ws://{}/ws", node.rpc)).expect("a WebSocket");
    let mut notices = Vec::new();
    ws_send(
        &mut ws,
        json!({"id":1,"method":"call","params":["database","set_subscribe_callback",[7,false]]}),
    );
    assert_eq!(ws_answer(&mut ws, 1, &mut notices)["result"], Value::Null);
    ws_send(
        &mut ws,
        json!({"id":2,"method":"call","params":[0,"set_block_applied_callback",[8]]}),
    );
    assert_eq!(ws_answer(&mut ws, 2, &mut notices)["result"], Value::Null);
    ws_send(
        &mut ws,
        json!({"id":3,"method":"get_full_accounts","params":[["init1"],true]}),
    );
    let full = ws_answer(&mut ws, 3, &mut notices);
    let entry = &full["result"][0];
    assert_eq!(entry[0], "init1", "{full}");
    assert_eq!(entry[1]["account"]["name"], "init1", "{full}");
    assert!(entry[1]["statistics"]["owner"].is_string(), "{full}");
    let start = result(&node, "get_account_balances", json!(["init1", ["1.3.0"]]))[0]["amount"]
        .as_i64()
        .unwrap();

    send_transfer(&node, "init1", 12_345);

    // Block notices keep coming, and one object notice shows init1's new balance.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut blocks = std::collections::BTreeSet::new();
    let mut balance_seen = false;
    while !(balance_seen && blocks.len() >= 3) {
        assert!(Instant::now() < deadline, "notices so far: {notices:?}");
        let m = notices.pop().unwrap_or_else(|| ws_read(&mut ws));
        assert_eq!(m["method"], "notice", "{m}");
        match m["params"][0].as_u64() {
            Some(8) => {
                let id = m["params"][1][0].as_str().expect("a block id").to_string();
                // Carbyne's block ids are 32 bytes, the block number first.
                assert!(
                    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{m}"
                );
                blocks.insert(id);
            }
            Some(7) => {
                for object in m["params"][1][0].as_array().expect("changed objects") {
                    if object["id"]
                        .as_str()
                        .is_some_and(|id| id.starts_with("2.5."))
                        && object["asset_type"] == "1.3.0"
                    {
                        assert_eq!(object["balance"], start + 12_345, "{m}");
                        balance_seen = true;
                    }
                }
            }
            _ => panic!("a notice for an unknown callback: {m}"),
        }
    }

    // The same answer over HTTP, where subscribing is refused.
    let full = result(&node, "get_full_accounts", json!([["init1"]]));
    assert_eq!(
        full[0][1]["balances"][0]["balance"],
        start + 12_345,
        "{full}"
    );
    let a = post(
        &node,
        &json!({"id":1,"method":"set_subscribe_callback","params":[1,false]}),
    );
    let (code, message) = error(&a);
    assert_eq!(code, -32600);
    assert!(message.contains("WebSocket"), "{message}");

    // The per-connection cap: 1000 watched objects and accounts by default (init1 is
    // one), then an error naming it.
    for round in 0..10u64 {
        let n = if round < 9 { 100 } else { 99 };
        let ids: Vec<String> = (0..n)
            .map(|i| format!("1.2.{}", 1000 + round * 100 + i))
            .collect();
        ws_send(
            &mut ws,
            json!({"id": 100 + round, "method":"get_objects","params":[ids]}),
        );
        let a = ws_answer(&mut ws, 100 + round, &mut notices);
        assert!(a.get("error").is_none(), "{a}");
    }
    ws_send(
        &mut ws,
        json!({"id": 200, "method":"get_objects","params":[["1.2.0"]]}),
    );
    let a = ws_answer(&mut ws, 200, &mut notices);
    let (code, message) = error(&a);
    assert_eq!(code, -32602, "{a}");
    assert!(message.contains("rpc.subscriptions_max"), "{message}");

    // After cancel_all_subscriptions, no more notices.
    ws_send(
        &mut ws,
        json!({"id": 300, "method":"cancel_all_subscriptions","params":[]}),
    );
    assert_eq!(ws_answer(&mut ws, 300, &mut notices)["result"], Value::Null);
    notices.clear();
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_mut() {
        s.set_read_timeout(Some(Duration::from_millis(2500)))
            .unwrap();
    }
    match ws.read() {
        Err(_) => {}
        Ok(m) => panic!("a message after cancel_all_subscriptions: {m:?}"),
    }
}

/// The node's TOML configuration is read, checked and applied; the data directory
/// gets its layout and a documented default config.
#[test]
fn node_configuration_file_is_applied() {
    let dir = std::env::temp_dir().join(format!("carbyne-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("node.toml");
    std::fs::write(&config, "[rpc.limits]\nget_objects = 2\n").unwrap();
    let node = start_node_with(&["--config", config.to_str().unwrap()]);
    let answer = post(
        &node,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "get_objects",
                "params": [["1.2.0", "1.2.1", "1.2.2"]]}),
    );
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("exceed the maximum 2 (rpc.limits.get_objects)"),
        "{message}"
    );
    assert_eq!(
        result(&node, "get_objects", json!([["1.2.0", "1.2.1"]]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    drop(node);

    // A config with an unknown key: the node refuses to start and names the key.
    std::fs::write(&config, "[rpc]\nlisten_on = \"127.0.0.1:1\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args([
            "node",
            "--dev",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown field `listen_on`") && stderr.contains("node.toml"),
        "{stderr}"
    );
    for sub in ["blockchain", "p2p", "logs", "config.toml"] {
        assert!(dir.join("data").join(sub).exists(), "{sub} in the data dir");
    }
    let written = std::fs::read_to_string(dir.join("data").join("config.toml")).unwrap();
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args(["node", "--print-default-config"])
        .output()
        .unwrap();
    assert_eq!(written, String::from_utf8_lossy(&printed.stdout));
}

/// Witnesses and committee, key references, fee and authority helpers and
/// validate_transaction, against the dev chain.
#[test]
fn governance_keys_fees_and_authority_helpers() {
    let node = start_node();
    let call = |method: &str, params: Value| result(&node, method, params);
    // 11 dev witnesses and the scheduler's null witness 1.6.0, as BitShares counts.
    assert_eq!(call("get_witness_count", json!([])), 12);
    let w = call("get_witness_by_account", json!(["init3"]));
    let witness_id = w["id"].as_str().unwrap().to_string();
    assert_eq!(
        call("get_witnesses", json!([[witness_id]]))[0]["witness_account"],
        w["witness_account"]
    );
    let listed = call("lookup_witness_accounts", json!(["init", 3]));
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(listed[0][0], "init0");
    assert!(call("get_witness_by_account", json!(["dev"])).is_null());
    assert!(call("get_committee_count", json!([])).as_u64().unwrap() > 0);

    // The dev key is dev's owner, active and memo key.
    let dev_key = carbyne::chain::genesis::dev_key().public_key().to_string();
    let refs = call("get_key_references", json!([[dev_key]]));
    assert_eq!(refs, json!([["1.2.17"]]));

    let trx = signed_transfer(
        &node,
        "dev",
        &carbyne::chain::genesis::dev_key(),
        "init1",
        12345,
    );
    let unsigned = json!(trx.trx);
    assert_eq!(
        call("get_potential_signatures", json!([unsigned])),
        json!([dev_key])
    );
    let witness_key = carbyne::chain::genesis::dev_witness_key(0)
        .public_key()
        .to_string();
    assert_eq!(
        call(
            "get_required_signatures",
            json!([unsigned, [witness_key, dev_key]])
        ),
        json!([dev_key])
    );
    let answer = post(
        &node,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "get_required_signatures",
                                     "params": [unsigned, [witness_key]]}),
    );
    assert!(error(&answer).1.contains("missing"), "{answer}");
    assert_eq!(call("verify_authority", json!([trx])), true);
    let hex = call("get_transaction_hex", json!([trx]));
    assert_eq!(
        hex.as_str().unwrap(),
        hex::encode(borsh::to_vec(&trx).unwrap())
    );

    // validate_transaction checks without applying: nothing moves.
    let before = call("get_named_account_balances", json!(["init1", ["1.3.0"]]));
    let checked = call("validate_transaction", json!([trx]));
    assert_eq!(checked["signatures"], json!(trx)["signatures"]);
    assert_eq!(
        call("get_named_account_balances", json!(["init1", ["1.3.0"]])),
        before
    );
    // ...and it can still be applied afterwards (its id was not kept as a duplicate).
    assert_eq!(
        call("validate_transaction", json!([trx]))["ref_block_num"],
        json!(trx)["ref_block_num"]
    );
    let broke = signed_transfer(
        &node,
        "init2",
        &carbyne::chain::genesis::dev_key(),
        "init1",
        1,
    );
    let answer = post(
        &node,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "validate_transaction", "params": [broke]}),
    );
    assert!(error(&answer).1.contains("missing"), "{answer}");

    let fees = call(
        "get_required_fees",
        json!([[json!(trx.trx.operations[0])], "CORE"]),
    );
    assert_eq!(fees[0]["asset_id"], "1.3.0");
    assert!(fees[0]["amount"].as_i64().unwrap() > 0);
    assert_eq!(
        result(
            &node,
            "call",
            json!(["network_node", "get_connected_peers", []])
        ),
        json!([])
    );
    let answer = post(
        &node,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "get_order_book", "params": ["CORE", "X", 10]}),
    );
    assert_eq!(
        error(&answer),
        (
            -32601,
            "database.get_order_book needs the order book, which this chain does not have yet"
                .into()
        )
    );
}

/// A pending-transaction callback hears each transaction the node accepts, before
/// its block; over HTTP the method is refused.
#[test]
fn pending_transaction_notices() {
    let node = start_node();
    let (mut ws, _) = tungstenite::connect(format!("ws://{}/ws", node.rpc)).expect("a WebSocket");
    let mut notices = Vec::new();
    ws_send(
        &mut ws,
        json!({"id":1,"method":"call","params":["database","set_pending_transaction_callback",[9]]}),
    );
    assert_eq!(ws_answer(&mut ws, 1, &mut notices)["result"], Value::Null);
    let trx = signed_transfer(
        &node,
        "dev",
        &carbyne::chain::genesis::dev_key(),
        "init2",
        777,
    );
    let id = trx.trx.id().to_string();
    let sent = result(
        &node,
        "call",
        json!(["network_broadcast", "broadcast_transaction", [trx]]),
    );
    assert_eq!(sent, Value::Null);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no pending notice: {notices:?}");
        let m = notices.pop().unwrap_or_else(|| ws_read(&mut ws));
        assert_eq!(m["params"][0], 9, "{m}");
        let t = &m["params"][1][0];
        if t["id"] == id.as_str() {
            assert_eq!(t["operations"][0][1]["amount"]["amount"], 777, "{m}");
            break;
        }
    }
    // Once in a block, the transaction is found by its id.
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        let t = result(&node, "get_recent_transaction_by_id", json!([id]));
        if !t.is_null() {
            break t;
        }
        assert!(Instant::now() < deadline, "never found by id");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        found["operations"][0][1]["amount"]["amount"], 777,
        "{found}"
    );
    let unknown = "00".repeat(32);
    assert!(result(&node, "get_recent_transaction_by_id", json!([unknown])).is_null());
    // Cancelled: no more pending notices.
    ws_send(
        &mut ws,
        json!({"id":2,"method":"cancel_all_subscriptions","params":[]}),
    );
    let mut after = Vec::new();
    ws_answer(&mut ws, 2, &mut after);
    let answer = post(
        &node,
        &json!({"jsonrpc":"2.0","id":3,"method":"set_pending_transaction_callback","params":[1]}),
    );
    assert!(error(&answer).1.contains("needs a WebSocket"), "{answer}");
}

/// `rpc.connections_max` caps open TCP connections, idle keep-alive ones included:
/// one more is told why and closed; a freed slot is usable again.
#[test]
fn connection_cap_counts_tcp_connections() {
    let dir = std::env::temp_dir().join(format!("carbyne-conncap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("node.toml");
    std::fs::write(&config, "[rpc]\nconnections_max = 2\n").unwrap();
    let node = start_node_with(&["--config", config.to_str().unwrap()]);
    let idle1 = TcpStream::connect(node.rpc).unwrap();
    let idle2 = TcpStream::connect(node.rpc).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (status, body) = http(node.rpc, "GET", "/health", b"");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("connection limit reached: 2 open (rpc.connections_max)"),
        "{body}"
    );
    drop(idle1);
    drop(idle2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let (status, body) = http(node.rpc, "GET", "/health", b"");
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slots never freed: {status} {body}"
        );
    }
}
