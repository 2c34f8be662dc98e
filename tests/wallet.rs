//! `carbyne wallet`, the real binary, against a real dev node: every outcome is
//! checked through the node's RPC.

mod common;

use carbyne::protocol::memo::Memo;
use carbyne::protocol::PrivateKey;
use common::{result, start_node, Node};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The outcome of one wallet command.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        assert!(self.ok, "the command failed: {}", self.stderr);
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
    fn error(&self) -> &str {
        assert!(!self.ok, "the command should fail: {}", self.stdout);
        &self.stderr
    }
}

fn wallet(node: &Node, file: &Path, password: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .arg("wallet")
        .arg("--wallet")
        .arg(file)
        .args(["--server", &format!("ws://{}", node.rpc), "--json"])
        .args(args)
        .env("CARBYNE_WALLET_PASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .expect("the wallet runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

/// Runs a command in `file` (password `pw-alice`) that must fail with `needle`.
fn expect_error(node: &Node, file: &Path, args: &[&str], needle: &str) {
    let e = wallet(node, file, "pw-alice", args);
    assert!(e.error().contains(needle), "{}", e.stderr);
}

/// A fresh directory for one test (tests run in parallel: each has its own).
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("carbyne-wallet-it-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Satoshis of `asset_id` held by `account` (a name), read through RPC.
fn balance(node: &Node, account: &str, asset_id: &str) -> i64 {
    let list = result(
        node,
        "get_named_account_balances",
        json!([account, [asset_id]]),
    );
    let amount = &list[0]["amount"];
    amount
        .as_i64()
        .or_else(|| amount.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("no balance in {list}"))
}

/// The single operation of a transaction the wallet broadcast, and its fee.
fn operation(broadcast: &Value) -> (Value, i64) {
    assert!(broadcast["block_num"].as_u64().unwrap() > 0, "{broadcast}");
    let op = broadcast["trx"]["operations"][0].clone();
    let fee = &op[1]["fee"];
    assert_eq!(fee["asset_id"], "1.3.0");
    let fee = fee["amount"]
        .as_i64()
        .or_else(|| fee["amount"].as_str().and_then(|s| s.parse().ok()))
        .unwrap();
    (op, fee)
}

/// What the node says `op` must pay: the wallet must pay exactly that.
fn required_fee(node: &Node, op: &Value) -> i64 {
    let fees = result(node, "get_required_fees", json!([[op], "1.3.0"]));
    fees[0]["amount"].as_i64().unwrap()
}

/// A transfer's fee from the chain's schedule: the flat fee plus the memo's bytes at
/// the price per kilobyte, scaled (computed here, not by the node).
fn transfer_fee(node: &Node, memo: Option<&Memo>) -> i64 {
    let gp = result(node, "get_global_properties", json!([]));
    let fees = &gp["parameters"]["current_fees"];
    let transfer = fees["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[0] == 0)
        .expect("a transfer fee")[1]["with_data"]
        .clone();
    let fee = transfer["fee"].as_u64().unwrap() as u128;
    let per_kb = transfer["price_per_kbyte"].as_u64().unwrap() as u128;
    let bytes = memo.map_or(0, |m| m.packed_size()) as u128;
    let scale = fees["scale"].as_u64().unwrap() as u128;
    ((fee + bytes * per_kb / 1024) * scale / 10_000) as i64
}

#[test]
fn wallet_drives_accounts_transfers_memos_and_assets() {
    let node = start_node();
    let dir = temp_dir("drive");
    let dev_wallet = dir.join("dev.json");
    let alice_wallet = dir.join("alice.json");
    let dev_wif = carbyne::chain::genesis::dev_key().to_wif();

    // A new wallet: the password creates the file, readable by its owner only, and
    // the keys in it are sealed.
    assert_eq!(
        wallet(&node, &dev_wallet, "pw-dev", &["is_new"]).json(),
        true
    );
    wallet(&node, &dev_wallet, "pw-dev", &["set_password"]).json();
    assert_eq!(
        wallet(
            &node,
            &dev_wallet,
            "pw-dev",
            &["import_key", "dev", &dev_wif]
        )
        .json(),
        true
    );
    let mode = std::fs::metadata(&dev_wallet).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!std::fs::read_to_string(&dev_wallet)
        .unwrap()
        .contains(&dev_wif));
    let e = wallet(&node, &dev_wallet, "wrong", &["dump_private_keys"]);
    assert!(e.error().contains("wrong password"), "{}", e.stderr);
    let listed = wallet(&node, &dev_wallet, "", &["list_my_accounts"]).json();
    assert_eq!(listed[0]["name"], "dev");

    // dev registers alice with keys from a fresh brain key.
    let brain = wallet(&node, &dev_wallet, "", &["suggest_brain_key"]).json();
    let brain = brain["brain_priv_key"].as_str().unwrap().to_string();
    let dev_core_0 = balance(&node, "dev", "1.3.0");
    let created = wallet(
        &node,
        &dev_wallet,
        "pw-dev",
        &[
            "create_account_with_brain_key",
            &brain,
            "alice",
            "dev",
            "dev",
            "true",
        ],
    )
    .json();
    let (op, create_fee) = operation(&created);
    assert_eq!(op[0], 5, "account_create");
    assert_eq!(create_fee, required_fee(&node, &op));
    let alice = result(&node, "get_account_by_name", json!(["alice"]));
    assert_eq!(alice["registrar"], "1.2.17");
    let active = PrivateKey::from_brain_key(&brain, 1);
    assert_eq!(
        alice["options"]["memo_key"],
        active.public_key().to_string()
    );
    assert_eq!(balance(&node, "dev", "1.3.0"), dev_core_0 - create_fee);

    // alice's own wallet holds only her key.
    wallet(
        &node,
        &alice_wallet,
        "pw-alice",
        &["set_password", "pw-alice"],
    )
    .json();
    wallet(
        &node,
        &alice_wallet,
        "pw-alice",
        &["import_key", "alice", &active.to_wif()],
    )
    .json();

    // dev sends alice 250.5 CORE with a memo; she reads it, nobody else can.
    let sent = wallet(
        &node,
        &dev_wallet,
        "pw-dev",
        &[
            "transfer",
            "dev",
            "alice",
            "250.5",
            "CORE",
            "for the rent",
            "true",
        ],
    )
    .json();
    let (op, transfer_paid) = operation(&sent);
    let memo: Memo = serde_json::from_value(op[1]["memo"].clone()).unwrap();
    assert_ne!(
        memo.message,
        b"for the rent".to_vec(),
        "the memo is encrypted"
    );
    assert_eq!(transfer_paid, transfer_fee(&node, Some(&memo)));
    assert_eq!(transfer_paid, required_fee(&node, &op));
    assert_eq!(balance(&node, "alice", "1.3.0"), 25_050_000);
    let memo_json = op[1]["memo"].to_string();
    let read = wallet(&node, &alice_wallet, "pw-alice", &["read_memo", &memo_json]).json();
    assert_eq!(read, "for the rent");
    let eve_wallet = dir.join("eve.json");
    wallet(&node, &eve_wallet, "pw-eve", &["set_password"]).json();
    let e = wallet(&node, &eve_wallet, "pw-eve", &["read_memo", &memo_json]);
    assert!(e.error().contains("none of the given keys"), "{}", e.stderr);

    // dev creates GOLDX (2 decimals) and issues 12.34 of it to alice.
    let made = wallet(
        &node,
        &dev_wallet,
        "pw-dev",
        &[
            "create_asset",
            "dev",
            "GOLDX",
            "2",
            r#"{"description": "gold bars", "max_supply": "100000000"}"#,
            "null",
            "true",
        ],
    )
    .json();
    let (op, asset_fee) = operation(&made);
    assert_eq!(op[0], 10, "asset_create");
    assert_eq!(asset_fee, required_fee(&node, &op));
    let gold = result(&node, "lookup_asset_symbols", json!([["GOLDX"]]))[0].clone();
    assert_eq!(gold["precision"], 2);
    assert_eq!(gold["issuer"], "1.2.17");
    assert_eq!(gold["options"]["description"], "gold bars");
    let gold_id = gold["id"].as_str().unwrap().to_string();
    let issued = wallet(
        &node,
        &dev_wallet,
        "pw-dev",
        &["issue_asset", "alice", "12.34", "GOLDX", "", "true"],
    )
    .json();
    let (op, issue_fee) = operation(&issued);
    assert_eq!(issue_fee, required_fee(&node, &op));
    assert_eq!(balance(&node, "alice", &gold_id), 1234);
    let balances = wallet(
        &node,
        &alice_wallet,
        "",
        &["list_account_balances", "alice"],
    )
    .json();
    let texts: Vec<&str> = balances
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["250.50000 CORE", "12.34 GOLDX"]);

    // Every fee dev paid, and the transfer, and nothing else, left its balance.
    assert_eq!(
        balance(&node, "dev", "1.3.0"),
        dev_core_0 - create_fee - 25_050_000 - transfer_paid - asset_fee - issue_fee
    );

    // alice's history, newest first: the issue, the transfer, her creation (whose
    // result is her new account id).
    let history = result(
        &node,
        "call",
        json!([
            "history",
            "get_account_history",
            ["alice", "1.11.0", 10, "1.11.0"]
        ]),
    );
    let kinds: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["op"][0].as_i64().unwrap())
        .collect();
    assert_eq!(kinds, [14, 0, 5], "{history}");
    assert_eq!(history[2]["result"], json!([1, alice["id"]]));
    let transfer_id = history[1]["id"].as_str().unwrap().to_string();
    let object = result(&node, "get_objects", json!([[transfer_id]]));
    assert_eq!(object[0]["op"], history[1]["op"]);
    // The wallet shows the memos it can read.
    let listed = wallet(
        &node,
        &alice_wallet,
        "pw-alice",
        &["get_account_history", "alice", "2"],
    )
    .json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["memo_text"], "for the rent");
    let too_many = common::post(
        &node,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "call",
                "params": ["history", "get_account_history", ["alice", "1.11.0", 101, "1.11.0"]]}),
    );
    let message = too_many["error"]["message"].as_str().unwrap();
    assert!(message.contains("exceeds the maximum 100"), "{message}");

    // broadcast false signs and prints, and sends nothing.
    let unsent = wallet(
        &node,
        &alice_wallet,
        "pw-alice",
        &["transfer", "alice", "dev", "1", "CORE", "", "false"],
    )
    .json();
    assert_eq!(unsent["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(unsent["signer_keys"][0], active.public_key().to_string());
    assert_eq!(balance(&node, "alice", "1.3.0"), 25_050_000);

    // Clear errors for bad input, and nothing changes.
    expect_error(
        &node,
        &alice_wallet,
        &["transfer", "alice", "nobody", "1", "CORE", "", "true"],
        r#"unknown account "nobody""#,
    );
    expect_error(
        &node,
        &alice_wallet,
        &["transfer", "alice", "dev", "1.2.3", "CORE", "", "true"],
        r#"malformed amount "1.2.3""#,
    );
    expect_error(
        &node,
        &alice_wallet,
        &["transfer", "alice", "dev", "1", "NOPE", "", "true"],
        r#"unknown asset "NOPE""#,
    );
    let e = wallet(
        &node,
        &alice_wallet,
        "pw-alice",
        &["transfer", "alice", "dev", "1000", "CORE", "", "true"],
    );
    let msg = e.error();
    assert!(
        msg.contains("insufficient balance") && msg.contains("alice has 250.50000 CORE"),
        "{msg}"
    );
    // alice's wallet cannot sign for dev.
    let e = wallet(
        &node,
        &alice_wallet,
        "pw-alice",
        &["transfer", "dev", "alice", "1", "CORE", "", "true"],
    );
    assert!(e.error().contains("cannot sign"), "{}", e.stderr);
    assert!(
        e.stdout.contains("\"error\""),
        "--json prints the error as JSON too"
    );
    let e = wallet(
        &node,
        &alice_wallet,
        "pw-alice",
        &["transfer", "alice", "dev"],
    );
    assert!(
        e.error()
            .contains("usage: transfer FROM TO AMOUNT SYMBOL MEMO broadcast"),
        "{}",
        e.stderr
    );
    let e = wallet(&node, &alice_wallet, "pw-alice", &["sell_asset"]);
    assert!(e.error().contains("the order book"), "{}", e.stderr);
    assert_eq!(balance(&node, "alice", "1.3.0"), 25_050_000);
    assert_eq!(balance(&node, "alice", &gold_id), 1234);
}

#[test]
fn wallet_interactive_and_rpc_server_modes() {
    let node = start_node();
    let dir = temp_dir("modes");
    let file = dir.join("w.json");
    let dev_wif = carbyne::chain::genesis::dev_key().to_wif();
    let server = format!("ws://{}", node.rpc);

    // Interactive: commands on standard input, one per line, JSON arguments intact.
    let mut child = Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args(["wallet", "--json", "--server", &server, "--wallet"])
        .arg(&file)
        .env_remove("CARBYNE_WALLET_PASSWORD")
        .env("HOME", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!(
        "set_password secret\nimport_key dev {dev_wif}\nlock\nis_locked\nunlock secret\n\
         is_locked\nbogus_command\nlist_account_balances dev\n\
         add_operation_to_builder_transaction 0 [0, {{}}]\nquit\n"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.contains(&"true") && lines.contains(&"false"),
        "{stdout}"
    );
    assert!(stdout.contains("\"symbol\":\"CORE\""), "{stdout}");
    assert!(
        stderr.contains(r#"unknown command "bogus_command""#),
        "{stderr}"
    );
    assert!(stderr.contains("no builder transaction 0"), "{stderr}");
    // Lines that carry secrets stay out of the history file.
    let history = std::fs::read_to_string(dir.join(".carbyne_wallet_history")).unwrap_or_default();
    assert!(
        !history.contains("secret") && !history.contains(&dev_wif),
        "{history}"
    );

    // JSON-RPC server: commands as methods, arguments as params.
    let mut child = Command::new(env!("CARGO_BIN_EXE_carbyne"))
        .args([
            "wallet",
            "--server",
            &server,
            "--rpc-listen",
            "127.0.0.1:0",
            "--wallet",
        ])
        .arg(&file)
        .env("CARBYNE_WALLET_PASSWORD", "secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line.trim().rsplit(' ').next().unwrap().parse().unwrap();
    let call = |request: Value| -> Value {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let body = request.to_string();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap()
    };
    let before = balance(&node, "init1", "1.3.0");
    let sent = call(json!({"jsonrpc": "2.0", "id": 7, "method": "transfer",
                           "params": ["dev", "init1", "3", "CORE", "", true]}));
    assert_eq!(sent["id"], 7);
    assert!(
        sent["result"]["block_num"].as_u64().is_some_and(|n| n > 0),
        "{sent}"
    );
    assert_eq!(balance(&node, "init1", "1.3.0"), before + 300_000);
    let bad = call(json!({"jsonrpc": "2.0", "id": 8, "method": "transfer",
                          "params": ["dev", "init1", "-3", "CORE", "", true]}));
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed amount"),
        "{bad}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
