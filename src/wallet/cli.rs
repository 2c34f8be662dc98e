//! The wallet's three ways of running: one command and exit, an interactive prompt
//! with line editing and history, or a JSON-RPC server for scripts.

use super::client::NodeClient;
use super::commands::{Output, PasswordSource, Wallet};
use super::file::WalletFile;
use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// The environment variable a password may come from (scripts, tests).
pub const PASSWORD_ENV: &str = "CARBYNE_WALLET_PASSWORD";

#[derive(clap::Args, Debug)]
pub struct WalletArgs {
    /// The wallet file (created by `set_password`).
    #[arg(long, default_value = "wallet.json")]
    pub wallet: PathBuf,
    /// The node's RPC address.
    #[arg(long, short = 's', default_value = "ws://127.0.0.1:8090")]
    pub server: String,
    /// Print results as JSON (one line each).
    #[arg(long)]
    pub json: bool,
    /// Serve the commands as JSON-RPC (HTTP POST) on this address instead.
    #[arg(long)]
    pub rpc_listen: Option<std::net::SocketAddr>,
    /// A command and its arguments; without one, an interactive prompt starts.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The password in the environment; an empty one counts as none.
fn env_password() -> Option<String> {
    std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty())
}

/// Passwords from `CARBYNE_WALLET_PASSWORD`, else from the terminal if `prompt`.
fn password_source(prompt: bool) -> PasswordSource {
    Box::new(move |what: &str| {
        if let Some(p) = env_password() {
            return Ok(p);
        }
        if !prompt {
            bail!(
                "the wallet is locked: give the password (unlock PASSWORD) or set {PASSWORD_ENV}"
            );
        }
        rpassword::prompt_password(format!("{what}: ")).map_err(|e| {
            anyhow!("cannot read a password ({e}): run in a terminal or set {PASSWORD_ENV}")
        })
    })
}

pub fn run(args: WalletArgs) -> Result<()> {
    let file = WalletFile::open(&args.wallet)?;
    let node = NodeClient::new(&args.server)?;
    if let Some(addr) = args.rpc_listen {
        if !args.command.is_empty() {
            bail!("--rpc-listen serves commands; give no command with it");
        }
        let mut wallet = Wallet::new(file, node, password_source(false));
        if env_password().is_some() && !wallet.file.is_new() {
            wallet.run("unlock", &[])?;
        }
        return serve(wallet, addr);
    }
    if args.command.is_empty() {
        return interactive(Wallet::new(file, node, password_source(true)), args.json);
    }
    let mut wallet = Wallet::new(file, node, password_source(true));
    // A password in the environment opens the wallet up front (so that, say, history
    // shows memo texts); a wrong one is reported by the command that needs the keys.
    if env_password().is_some() && !wallet.file.is_new() {
        let _ = wallet.run("unlock", &[]);
    }
    match wallet.run(&args.command[0], &args.command[1..]) {
        Ok(out) => {
            print(&out, args.json);
            Ok(())
        }
        Err(e) => {
            if args.json {
                println!("{}", json!({"error": format!("{e:#}")}));
            }
            Err(e)
        }
    }
}

/// Prints a result; a closed pipe (`| head`) is not an error.
fn print(out: &Output, json: bool) {
    use std::io::Write;
    let text = if json {
        out.value.to_string()
    } else {
        out.render()
    };
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn interactive(mut wallet: Wallet, json: bool) -> Result<()> {
    use rustyline::error::ReadlineError;
    let mut editor = rustyline::DefaultEditor::new().context("cannot start line editing")?;
    let history = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".carbyne_wallet_history");
    let _ = editor.load_history(&history);
    if wallet.file.is_new() {
        println!("Please use the set_password command to create the wallet first.");
    }
    loop {
        let prompt = if wallet.file.is_new() {
            "new >>> "
        } else if wallet.file.is_locked() {
            "locked >>> "
        } else {
            "unlocked >>> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let words = match super::words::split(&line) {
            Ok(w) if w.is_empty() => continue,
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        // Lines with secrets stay out of the history file.
        if !matches!(words[0].as_str(), "unlock" | "set_password" | "import_key") {
            let _ = editor.add_history_entry(line.as_str());
        }
        if matches!(words[0].as_str(), "quit" | "exit") {
            break;
        }
        match wallet.run(&words[0], &words[1..]) {
            Ok(out) => print(&out, json),
            Err(e) => eprintln!("error: {e:#}"),
        }
    }
    let _ = editor.save_history(&history);
    Ok(())
}

/// JSON-RPC 2.0 over HTTP POST: `{"method": COMMAND, "params": [ARGS...]}`. String
/// parameters are passed as they are, others as their JSON text.
fn serve(wallet: Wallet, addr: std::net::SocketAddr) -> Result<()> {
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: the wallet RPC on {addr} is reachable from other machines; \
             anyone who reaches it can spend from an unlocked wallet"
        );
    }
    let wallet = Arc::new(std::sync::Mutex::new(wallet));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        println!("wallet RPC on {}", listener.local_addr()?);
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |body: String| {
                let wallet = wallet.clone();
                async move {
                    let answer = tokio::task::spawn_blocking(move || answer(&wallet, &body))
                        .await
                        .unwrap_or_else(|e| error_answer(Value::Null, -32603, &e.to_string()));
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        answer.to_string(),
                    )
                }
            }),
        );
        axum::serve(listener, app).await?;
        Ok(())
    })
}

fn error_answer(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn answer(wallet: &std::sync::Mutex<Wallet>, body: &str) -> Value {
    let request: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return error_answer(Value::Null, -32700, &format!("malformed JSON: {e}")),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(|m| m.as_str()) else {
        return error_answer(id, -32600, "the request has no method");
    };
    let params: Vec<String> = match request.get("params") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(_) => return error_answer(id, -32602, "params must be an array"),
    };
    let mut wallet = match wallet.lock() {
        Ok(w) => w,
        Err(poisoned) => poisoned.into_inner(),
    };
    match wallet.run(method, &params) {
        Ok(out) => json!({"jsonrpc": "2.0", "id": id, "result": out.value}),
        Err(e) => error_answer(id, -32000, &format!("{e:#}")),
    }
}
