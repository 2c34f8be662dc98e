//! The `network_broadcast` API: signed transactions submitted over RPC go into the
//! same pipeline as the ingest port's (verify stage, then the BLP), through the
//! pipeline's in-process [`Submitter`], and the caller waits for the pipeline's answer.
//!
//! * `broadcast_transaction(trx)`: `null` once the BLP has applied it to the pending
//!   state, or an error that says why not (its verify or state check);
//! * `broadcast_transaction_synchronous(trx)`: waits until it is in a block and answers
//!   `{"id", "block_num", "trx_num", "trx"}`, as BitShares does.
//!
//! The transaction is BitShares-shaped JSON with Carbyne's `signer_keys` (Ed25519
//! cannot recover a key from a signature), as `docs/PROTOCOL.md` describes.

use super::dispatch::Params;
use super::{code, Context, RpcError};
use crate::pipeline::answer::LocalAnswer;
use crate::pipeline::dispatch::Submitter;
use crate::pipeline::message::code as status;
use crate::protocol::{codec, SignedTransaction};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How long `broadcast_transaction` waits for the pipeline's first answer.
const ACCEPT_WAIT: Duration = Duration::from_secs(10);
/// How long `broadcast_transaction_synchronous` waits for the transaction's block.
const INCLUDE_WAIT: Duration = Duration::from_secs(60);

/// Submits transactions and routes the pipeline's answers to the callers waiting.
pub struct Broadcaster {
    submitter: Submitter,
    waiters: Mutex<BTreeMap<u64, Sender<LocalAnswer>>>,
    next_tag: AtomicU64,
}

impl Broadcaster {
    /// A broadcaster over the pipeline's submitter and its local answers (a thread
    /// routes them until the pipeline stops).
    pub fn start(
        submitter: Submitter,
        answers: Receiver<LocalAnswer>,
    ) -> std::io::Result<Arc<Broadcaster>> {
        let b = Arc::new(Broadcaster {
            submitter,
            waiters: Mutex::new(BTreeMap::new()),
            next_tag: AtomicU64::new(0),
        });
        let router = b.clone();
        std::thread::Builder::new()
            .name("rpc-answers".into())
            .spawn(move || {
                for a in answers {
                    router.route(a);
                }
                // The pipeline has stopped: no answer will come, so every caller
                // still waiting hears that the node is shutting down.
                router.waiters.lock().clear();
            })?;
        Ok(b)
    }

    fn route(&self, a: LocalAnswer) {
        let mut waiters = self.waiters.lock();
        let tag = a.tag;
        let last = a.code != status::ACCEPTED;
        if let Some(w) = waiters.get(&tag) {
            // A caller that stopped waiting (timed out) does not want it.
            if w.send(a).is_err() || last {
                waiters.remove(&tag);
            }
        }
    }

    /// Submits `trx`; its answers arrive on the receiver.
    fn submit(&self, trx: &SignedTransaction) -> Result<(u64, Receiver<LocalAnswer>), RpcError> {
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.waiters.lock().insert(tag, tx);
        if let Err(e) = self.submitter.submit(tag, codec::encode(trx)) {
            self.waiters.lock().remove(&tag);
            return Err(RpcError::new(code::INTERNAL_ERROR, e.to_string()));
        }
        Ok((tag, rx))
    }

    fn forget(&self, tag: u64) {
        self.waiters.lock().remove(&tag);
    }
}

/// The methods of the `network_broadcast` API; `None` for any other method.
pub fn call(ctx: &Context, method: &str, p: &Params) -> Option<Result<Value, RpcError>> {
    let synchronous = match method {
        "broadcast_transaction" => false,
        "broadcast_transaction_synchronous" => true,
        _ => return None,
    };
    Some((|| {
        let trx: SignedTransaction = p.get(0, "signed transaction")?;
        p.at_most(1)?;
        let b = ctx.broadcaster.as_ref().ok_or_else(|| {
            RpcError::new(
                code::INTERNAL_ERROR,
                format!("{method}: this server has no pipeline to broadcast to"),
            )
        })?;
        let (tag, answers) = b.submit(&trx)?;
        let wait = if synchronous {
            INCLUDE_WAIT
        } else {
            ACCEPT_WAIT
        };
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let a = match answers.recv_timeout(left) {
                Ok(a) => a,
                Err(RecvTimeoutError::Timeout) => {
                    b.forget(tag);
                    return Err(RpcError::new(
                        code::INTERNAL_ERROR,
                        format!(
                            "{method}: no {} within {} s; transaction {} may still be included before it expires at {}",
                            if synchronous { "block" } else { "answer" },
                            wait.as_secs(),
                            trx.trx.id(),
                            trx.trx.expiration
                        ),
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(RpcError::new(
                        code::INTERNAL_ERROR,
                        format!("{method}: the node is shutting down"),
                    ))
                }
            };
            match a.code {
                status::ACCEPTED if !synchronous => {
                    b.forget(tag);
                    return Ok(Value::Null);
                }
                status::ACCEPTED => continue,
                status::INCLUDED => {
                    let mut parts = a.detail.split_whitespace().map(str::parse::<u32>);
                    let (Some(Ok(block_num)), Some(Ok(trx_num))) = (parts.next(), parts.next())
                    else {
                        return Err(RpcError::new(
                            code::INTERNAL_ERROR,
                            format!("{method}: malformed inclusion answer {:?}", a.detail),
                        ));
                    };
                    if !synchronous {
                        return Ok(Value::Null);
                    }
                    return Ok(json!({
                        "id": trx.trx.id().to_string(),
                        "block_num": block_num,
                        "trx_num": trx_num,
                        "trx": trx,
                    }));
                }
                other => {
                    return Err(RpcError::invalid_params(format!(
                        "{method}: transaction {} refused ({}): {}",
                        trx.trx.id(),
                        status::name(other),
                        a.detail
                    )))
                }
            }
        }
    })())
}
