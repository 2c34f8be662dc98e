//! The HTTP and WebSocket server (axum on a small tokio runtime of its own, its threads
//! kept to the profile's `cores.rpc`, off the BLP's core).
//!
//! * `POST /` (or `/rpc`): one request or a batch, answered in the body;
//! * `GET /` or `/ws` with a WebSocket upgrade: requests and answers as text messages;
//! * `GET /health`: head block, irreversible block and sync state, as JSON;
//! * `GET /metrics`: Prometheus text.
//!
//! Caps, each answered with an error that names its setting: the request size
//! (`rpc.request_bytes_max`, also the WebSocket message size), open TCP connections
//! (`rpc.connections_max`: keep-alive HTTP and WebSocket alike; one more is answered
//! 503 and closed) and the batch length (`rpc.batch_max`).

use super::subscribe::{self, Session};
use super::{code, dispatch, Context, RpcError};
use axum::body::Body;
use axum::extract::ws::{
    rejection::WebSocketUpgradeRejection, Message, WebSocket, WebSocketUpgrade,
};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, oneshot, OwnedSemaphorePermit, Semaphore};

/// More Prometheus text for `/metrics` (the node adds the pipeline's counters).
pub type ExtraMetrics = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
struct App {
    ctx: Arc<Context>,
    connections: Arc<Semaphore>,
    extra: Option<ExtraMetrics>,
}

/// A running server; stops when dropped.
pub struct RpcServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RpcServer {
    /// The address it listens on (the port is the real one when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// Stops accepting, lets the requests in progress finish, and waits.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }
    fn stop_and_join(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Binds `ctx.config.listen` and serves until the returned server is shut down. Every
/// thread of the server runs on `cpus` (any of them) when the list is not empty.
pub fn start(
    ctx: Context,
    extra: Option<ExtraMetrics>,
    cpus: &[usize],
) -> anyhow::Result<RpcServer> {
    let listener = std::net::TcpListener::bind(ctx.config.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen for RPC on {}: {e}", ctx.config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let pin = {
        let cpus: Arc<[usize]> = cpus.into();
        move || {
            if !cpus.is_empty() {
                if let Err(e) = affinity::pin_current_thread_to(&cpus) {
                    tracing::warn!("RPC thread not pinned: {e}");
                }
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(ctx.config.threads.max(1))
        .thread_name("rpc")
        .on_thread_start(pin.clone())
        .enable_all()
        .build()?;
    let connections = Arc::new(Semaphore::new(ctx.config.connections_max));
    let connections_max = ctx.config.connections_max;
    let app = App {
        connections: connections.clone(),
        ctx: Arc::new(ctx),
        extra,
    };
    let router = Router::new()
        .route("/", get(ws_or_hello).post(http_call))
        .route("/rpc", get(ws_or_hello).post(http_call))
        .route("/ws", get(ws_or_hello))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(app);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("rpc-server".into())
        .spawn(move || {
            pin();
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("RPC listener: {e}");
                        return;
                    }
                };
                let listener = CappedListener {
                    inner: listener,
                    slots: connections,
                    max: connections_max,
                };
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!("RPC server stopped: {e}");
                }
            });
        })?;
    tracing::info!("JSON-RPC on http://{addr} and ws://{addr}");
    Ok(RpcServer {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn error_response(status: StatusCode, e: &RpcError) -> Response {
    json_response(status, &dispatch::error_answer(Value::Null, e))
}

/// A connection slot, or the error that names the cap.
async fn http_call(State(app): State<App>, body: Body) -> Response {
    let max = app.ctx.config.request_bytes_max;
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &RpcError::new(
                    code::INVALID_REQUEST,
                    format!("request larger than {max} bytes (rpc.request_bytes_max)"),
                ),
            )
        }
    };
    let Ok(text) = String::from_utf8(bytes.into()) else {
        return error_response(
            StatusCode::OK,
            &RpcError::new(code::PARSE_ERROR, "parse error: the request is not UTF-8"),
        );
    };
    match call(&app, text, None).await {
        Ok(Some(answer)) => json_response(StatusCode::OK, &answer),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// Runs `f`, which reads the state, on the runtime's blocking pool: a read waits for
/// the BLP's batch in progress (see `pipeline::query`), and meanwhile the runtime's
/// threads go on serving other connections. A panic in `f` becomes an internal error.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, RpcError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!("an RPC call failed: {e}");
        RpcError::new(code::INTERNAL_ERROR, "internal error (logged by the node)")
    })
}

/// Answers one request text (a call, a batch or notifications), on a WebSocket
/// session's subscriptions if given.
async fn call(
    app: &App,
    text: String,
    session: Option<Arc<Session>>,
) -> Result<Option<Value>, RpcError> {
    let ctx = app.ctx.clone();
    blocking(move || dispatch::handle_text_in(&ctx, &text, session.as_deref())).await
}

async fn ws_or_hello(
    State(app): State<App>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return (
            StatusCode::OK,
            "Carbyne JSON-RPC: POST requests here, or open a WebSocket (see API.md)\n",
        )
            .into_response();
    };
    let max = app.ctx.config.request_bytes_max;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| session(app, socket))
}

async fn session(app: App, mut socket: WebSocket) {
    let subs = Arc::new(Session::default());
    let mut blocks = app.ctx.hub.subscribe();
    // Held while the session has a pending-transaction callback.
    let mut pending: Option<crate::pipeline::pending::PendingWatch> = None;
    loop {
        match (subs.pending_callback(), &pending, &app.ctx.pending) {
            (Some(_), None, Some(feed)) => pending = Some(feed.watch()),
            (None, Some(_), _) => pending = None,
            _ => {}
        }
        let msg = tokio::select! {
            msg = socket.recv() => msg,
            trx = next_pending(&mut pending) => {
                let (Some(trx), Some(cb)) = (trx, subs.pending_callback()) else {
                    continue;
                };
                let notice = subscribe::pending_notice(cb, &trx);
                if socket.send(Message::Text(notice.to_string().into())).await.is_err() {
                    return;
                }
                continue;
            }
            event = blocks.recv() => {
                let event = match event {
                    Ok(e) => e,
                    // Fell behind: the next block's notice carries the latest state.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if !subs.is_active() {
                    continue;
                }
                let (ctx, s) = (app.ctx.clone(), subs.clone());
                let Ok(notices) =
                    blocking(move || subscribe::notices(&ctx, &s, &event)).await
                else {
                    continue;
                };
                for n in notices {
                    if socket.send(Message::Text(n.to_string().into())).await.is_err() {
                        return;
                    }
                }
                continue;
            }
        };
        let Some(Ok(msg)) = msg else {
            return;
        };
        let text = match msg {
            Message::Text(t) => t.as_str().to_owned(),
            Message::Binary(b) => match String::from_utf8(b.into()) {
                Ok(t) => t,
                Err(_) => {
                    let e =
                        RpcError::new(code::PARSE_ERROR, "parse error: the message is not UTF-8");
                    let v = dispatch::error_answer(Value::Null, &e);
                    if socket
                        .send(Message::Text(v.to_string().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            },
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let answer = match call(&app, text, Some(subs.clone())).await {
            Ok(Some(answer)) => answer,
            Ok(None) => continue,
            Err(e) => dispatch::error_answer(Value::Null, &e),
        };
        if socket
            .send(Message::Text(answer.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn health(State(app): State<App>) -> Response {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ctx = app.ctx.clone();
    let answer = blocking(move || {
        let cap = ctx.durable_head().unwrap_or(u32::MAX);
        ctx.state.read(|c| {
            let d = c.store.dynamic();
            let interval = c.store.global().parameters.block_interval.max(1) as u64;
            let behind = now.saturating_sub(d.time.0 as u64);
            json!({
                "chain_id": c.chain_id().to_string(),
                "head_block_num": d.head_block_number,
                "head_block_id": d.head_block_id.to_string(),
                "head_block_time": d.time,
                "last_irreversible_block_num": d.last_irreversible_block_num.min(cap),
                "seconds_behind": behind,
                "sync": if behind <= 3 * interval { "in_sync" } else { "behind" },
            })
        })
    })
    .await;
    match answer {
        Ok(Ok(v)) => json_response(StatusCode::OK, &v),
        Ok(Err(e)) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &RpcError::new(code::INTERNAL_ERROR, e.to_string()),
        ),
        Err(e) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &RpcError::new(code::INTERNAL_ERROR, e.to_string()),
        ),
    }
}

async fn metrics(State(app): State<App>) -> Response {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, v: u64| {
        let _ = writeln!(out, "# HELP carbyne_{name} {help}");
        let _ = writeln!(out, "# TYPE carbyne_{name} {kind}");
        let _ = writeln!(out, "carbyne_{name} {v}");
    };
    let ctx = app.ctx.clone();
    let heights = blocking(move || {
        let cap = ctx.durable_head().unwrap_or(u32::MAX);
        ctx.state.read(|c| {
            (
                c.head_block_num(),
                c.last_irreversible_block_num().min(cap),
                c.pending_count(),
            )
        })
    })
    .await;
    if let Ok(Ok((head, lib, pending))) = heights {
        gauge("head_block_num", "Head block number.", "gauge", head as u64);
        gauge(
            "last_irreversible_block_num",
            "Last irreversible block number.",
            "gauge",
            lib as u64,
        );
        gauge(
            "pending_transactions",
            "Transactions applied since the head block.",
            "gauge",
            pending as u64,
        );
    }
    let ctx = &app.ctx;
    gauge(
        "rpc_calls_total",
        "JSON-RPC calls answered.",
        "counter",
        ctx.calls.load(Ordering::Relaxed),
    );
    gauge(
        "rpc_errors_total",
        "JSON-RPC calls answered with an error.",
        "counter",
        ctx.errors.load(Ordering::Relaxed),
    );
    gauge(
        "rpc_connections",
        "Open RPC TCP connections (keep-alive HTTP and WebSocket).",
        "gauge",
        (ctx.config.connections_max - app.connections.available_permits()) as u64,
    );
    if let Some(extra) = &app.extra {
        out.push_str(&extra());
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

/// Prometheus text for a JSON object of counters: every number at any depth becomes
/// `carbyne_{prefix}_{path}` (a counter), arrays and strings are left out.
pub fn counters_text(prefix: &str, v: &Value) -> String {
    fn walk(out: &mut String, name: &str, v: &Value) {
        match v {
            Value::Number(n) => {
                let _ = writeln!(out, "# TYPE carbyne_{name} counter");
                let _ = writeln!(out, "carbyne_{name} {n}");
            }
            Value::Object(fields) => {
                for (k, v) in fields {
                    walk(out, &format!("{name}_{k}"), v);
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(&mut out, prefix, v);
    out
}

/// The next pending transaction for a session that watches them (`None` when it
/// fell behind and skipped some); never ready for one that does not.
async fn next_pending(
    watch: &mut Option<crate::pipeline::pending::PendingWatch>,
) -> Option<Arc<crate::protocol::SignedTransaction>> {
    match watch {
        Some(w) => match w.rx.recv().await {
            Ok(trx) => Some(trx),
            Err(broadcast::error::RecvError::Lagged(_)) => None,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// The RPC listener: at most `rpc.connections_max` open TCP connections. One over
/// the cap is answered `503` with a JSON-RPC error naming the setting, and closed.
struct CappedListener {
    inner: tokio::net::TcpListener,
    slots: Arc<Semaphore>,
    max: usize,
}

/// An admitted connection; its slot frees when it closes.
struct CappedStream {
    stream: tokio::net::TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl axum::serve::Listener for CappedListener {
    type Io = CappedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CappedStream, SocketAddr) {
        loop {
            let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
            match self.slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    return (
                        CappedStream {
                            stream,
                            _slot: slot,
                        },
                        addr,
                    )
                }
                Err(_) => refuse(stream, self.max),
            }
        }
    }
    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// Tells a connection over the cap why, and closes it.
fn refuse(stream: tokio::net::TcpStream, max: usize) {
    let e = RpcError::new(
        code::INTERNAL_ERROR,
        format!("connection limit reached: {max} open (rpc.connections_max)"),
    );
    let body = dispatch::error_answer(Value::Null, &e).to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // A fresh socket has room for a few hundred bytes: one non-blocking write.
    let _ = stream.try_write(answer.as_bytes());
    if let Ok(s) = stream.into_std() {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
}

impl tokio::io::AsyncRead for CappedStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CappedStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
