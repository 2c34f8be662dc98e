//! The wallet's connection to a node: JSON-RPC over a WebSocket, one call at a time.
//! `notice` pushes (the wallet subscribes to nothing) are skipped.

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::{json, Value};
use std::net::TcpStream;
use std::time::Duration;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Long enough for `broadcast_transaction_synchronous`, which waits for a block.
const READ_TIMEOUT: Duration = Duration::from_secs(90);

pub struct NodeClient {
    url: String,
    socket: Option<WebSocket<MaybeTlsStream<TcpStream>>>,
    next_id: u64,
}

impl NodeClient {
    /// `ws://host:port`; `http://` is read as the same address (the node serves both).
    pub fn new(server: &str) -> Result<NodeClient> {
        let url = if let Some(rest) = server.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if server.starts_with("ws://") {
            server.to_string()
        } else if server.starts_with("wss://") || server.starts_with("https://") {
            bail!(
                "--server {server}: TLS is not built in; put the node behind a local ws:// address"
            )
        } else {
            format!("ws://{server}")
        };
        Ok(NodeClient {
            url,
            socket: None,
            next_id: 1,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn socket(&mut self) -> Result<&mut WebSocket<MaybeTlsStream<TcpStream>>> {
        if self.socket.is_none() {
            let (ws, _) = tungstenite::connect(self.url.as_str())
                .with_context(|| format!("cannot connect to the node at {}", self.url))?;
            if let MaybeTlsStream::Plain(s) = ws.get_ref() {
                s.set_read_timeout(Some(READ_TIMEOUT))?;
            }
            self.socket = Some(ws);
        }
        Ok(self.socket.as_mut().expect("just connected"))
    }

    /// `api.method(params)`; a node error becomes an error with the node's message.
    pub fn call(&mut self, api: &str, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "call",
                             "params": [api, method, params]});
        let url = self.url.clone();
        let result = (|| -> Result<Value> {
            let ws = self.socket()?;
            ws.send(Message::text(request.to_string()))?;
            loop {
                let text = match ws.read()? {
                    Message::Text(t) => t,
                    Message::Close(_) => bail!("the node closed the connection"),
                    _ => continue,
                };
                let answer: Value = serde_json::from_str(text.as_str())
                    .map_err(|e| anyhow!("the node sent malformed JSON: {e}"))?;
                if answer.get("id") != Some(&json!(id)) {
                    continue; // a notice, or an answer to nobody
                }
                if let Some(error) = answer.get("error") {
                    let message = error["message"].as_str().unwrap_or("no message");
                    return Err(NodeError(message.to_string()).into());
                }
                return Ok(answer.get("result").cloned().unwrap_or(Value::Null));
            }
        })();
        if let Err(e) = &result {
            if e.downcast_ref::<NodeError>().is_none() {
                // A transport failure: reconnect next time.
                self.socket = None;
                return Err(anyhow!("{url}: {e}"));
            }
        }
        result
    }

    pub fn db(&mut self, method: &str, params: Value) -> Result<Value> {
        self.call("database", method, params)
    }
}

/// An error the node answered with (its message is meant for people).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NodeError(pub String);
