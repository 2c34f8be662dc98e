//! RPC readers against the BLP: how much BLP throughput is left while concurrent
//! clients hammer `get_account_balances` and `get_objects` (issue 4: within 10% of the
//! throughput with no readers).
//!
//! The BLP side applies pre-verified transfers the way the BLP stage does: one batch
//! at a time, serving the RPC reads queued meanwhile between batches
//! (`pipeline::query`). The readers are real clients of the real JSON-RPC server (`rpc::server`,
//! HTTP/1.1 with keep-alive on loopback), whose threads read through a
//! `StateReader` as they do in the node. The BLP runs pinned to a CPU of its own (the profile's `cores.blp`); the
//! server's threads run on the profile's `cores.rpc` and the clients on the CPUs that
//! are not the BLP's, as on a witness node whose clients are local. So the figure
//! measures what the design costs (the lock, and the caches the readers disturb), not
//! a CPU shared with the readers.

use super::stages::transfers;
use crate::pipeline::query::{Reads, Taken};
use crate::pipeline::wait::Doorbell;
use crate::pipeline::StateReader;
use crate::rpc::{server, Context, RpcConfig};
use crate::test_utils::{preverified, users_genesis, DevChain, TEST_GENESIS_TIME};
use serde::Serialize;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct ReadersReport {
    /// Client connections, each with one request in flight at a time.
    pub readers: usize,
    /// The RPC server's threads.
    pub rpc_threads: usize,
    /// Transactions per BLP batch, with reads served after each (the profile's
    /// `blp.batch`).
    pub batch: usize,
    /// BLP transfers per second with no readers, and with them: the medians of
    /// alternating runs (`*_runs`: alone, with, alone, ... alone).
    pub blp_alone_per_s: f64,
    pub blp_with_readers_per_s: f64,
    pub blp_alone_runs: Vec<f64>,
    pub blp_with_readers_runs: Vec<f64>,
    /// The median over runs with readers of the run's rate over the mean rate of the
    /// runs alone on either side of it; the target is at least 0.9.
    pub ratio: f64,
    /// The share of the BLP's time spent serving reads while the readers ran, and
    /// the BLP's time per read (running it and waking its reader): the design's
    /// direct cost, which the host's noise does not blur.
    pub blp_share_on_reads: f64,
    pub blp_ns_per_read: f64,
    /// Read requests answered per second, all readers together (median).
    pub reads_per_s: f64,
    /// The BLP's CPU, and the CPUs of the RPC threads (empty: not pinned, on a
    /// one-CPU machine).
    pub blp_cpu: Option<usize>,
    pub rpc_cpus: Vec<usize>,
}

const USERS: usize = 10_000;
/// Runs with readers; each comes between two runs without.
const PAIRS: usize = 8;
const BLOCK: usize = 20_000;

/// Measures for about `budget` × 17 / 3 in all with `readers` client connections; the BLP on
/// `blp_cpu`, the server's `rpc_threads` threads on `rpc_cpus` (neither pinned when
/// `None` / empty).
pub fn run(
    budget: Duration,
    readers: usize,
    batch: usize,
    rpc_threads: usize,
    blp_cpu: Option<usize>,
    rpc_cpus: &[usize],
) -> anyhow::Result<ReadersReport> {
    let mut g = users_genesis(USERS, 10_000 * 100_000, TEST_GENESIS_TIME);
    g.initial_parameters.maximum_block_size = 1 << 30;
    let dev = DevChain::with_genesis(g);
    let txs: Vec<_> = transfers(&dev, USERS, BLOCK, false)
        .into_iter()
        .map(|t| preverified(t, &dev.chain))
        .collect();
    let first_user = dev.id("user0").0;
    // The BLP's doorbell: never rung awake here, as the bench's BLP never idles.
    let reads_queue = Arc::new(Reads::new(Arc::new(Doorbell::new())));
    let state = StateReader::served(dev.chain, reads_queue.clone());
    let config = RpcConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: rpc_threads.max(1),
        ..RpcConfig::default()
    };
    let rpc = server::start(Context::new(state.clone(), config), None, rpc_cpus)?;
    let addr = rpc.local_addr();
    // The clients stay off the BLP's CPU too.
    let client_cpus: Vec<usize> = affinity::current_thread_cpus()
        .unwrap_or_default()
        .into_iter()
        .filter(|&c| Some(c) != blp_cpu)
        .collect();
    let batch = batch.max(1);

    let phase = |with_readers: usize, budget: Duration| -> anyhow::Result<(f64, f64)> {
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..with_readers)
            .map(|r| {
                let (stop, reads, cpus) = (stop.clone(), reads.clone(), client_cpus.clone());
                std::thread::spawn(move || -> anyhow::Result<()> {
                    if !cpus.is_empty() {
                        let _ = affinity::pin_current_thread_to(&cpus);
                    }
                    let mut client = HttpClient::connect(addr)?;
                    let mut n = r as u64;
                    while !stop.load(Ordering::Relaxed) {
                        let user = n % USERS as u64;
                        let text = if n % 2 == 0 {
                            format!(
                                r#"{{"id":{n},"method":"get_account_balances","params":["user{user}",["1.3.0"]]}}"#
                            )
                        } else {
                            let account = first_user + user;
                            format!(
                                r#"{{"id":{n},"method":"get_objects","params":[["1.2.{account}","2.6.{account}","2.1.0"]]}}"#
                            )
                        };
                        let body = client.post(&text)?;
                        anyhow::ensure!(
                            body.contains("\"result\"") && !body.contains("\"error\""),
                            "{body}"
                        );
                        reads.fetch_add(1, Ordering::Relaxed);
                        n += 1;
                    }
                    Ok(())
                })
            })
            .collect();
        let applied = apply_for(&state, &txs, batch, budget);
        stop.store(true, Ordering::Relaxed);
        // The readers' last requests still need the BLP's turn.
        let mut taken = Taken::default();
        while !handles.iter().all(|h| h.is_finished()) {
            state
                .write_and_serve(|_| (), &mut taken)
                .expect("the bench's state is there until it ends");
            std::thread::yield_now();
        }
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a reader panicked"))??;
        }
        Ok((
            applied,
            reads.load(Ordering::Relaxed) as f64 / budget.as_secs_f64(),
        ))
    };

    // The BLP side runs on this thread, on a CPU of its own.
    if let Some(cpu) = blp_cpu {
        let _ = affinity::pin_current_thread(cpu);
    }
    // Short runs alternating, alone first and last; each run with readers is compared
    // with the mean of the runs on either side of it, and the median of those ratios
    // is the figure, so that the host's drift in speed (large on shared machines)
    // cancels out.
    let run_budget = budget / 3;
    let mut alone = vec![phase(0, run_budget)?.0];
    let mut with = Vec::new();
    let mut reads = Vec::new();
    let (served_before, ns_before) = reads_queue.served();
    let mut with_secs = 0.0;
    for _ in 0..PAIRS {
        let started = Instant::now();
        let (w, r) = phase(readers, run_budget)?;
        with_secs += started.elapsed().as_secs_f64();
        with.push(w);
        reads.push(r);
        alone.push(phase(0, run_budget)?.0);
    }
    let (served_after, ns_after) = reads_queue.served();
    reads_queue.close();
    rpc.shutdown();
    let ratios: Vec<f64> = with
        .iter()
        .enumerate()
        .map(|(i, w)| w / ((alone[i] + alone[i + 1]) / 2.0))
        .collect();
    let reads_served = served_after - served_before;
    Ok(ReadersReport {
        readers,
        rpc_threads: rpc_threads.max(1),
        batch,
        blp_alone_per_s: median(&alone),
        blp_with_readers_per_s: median(&with),
        ratio: median(&ratios),
        reads_per_s: median(&reads),
        blp_share_on_reads: (ns_after - ns_before) as f64 / 1e9 / with_secs,
        blp_ns_per_read: (ns_after - ns_before) as f64 / reads_served.max(1) as f64,
        blp_alone_runs: alone,
        blp_with_readers_runs: with,
        blp_cpu,
        rpc_cpus: rpc_cpus.to_vec(),
    })
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A minimal HTTP/1.1 client over one keep-alive connection: enough to post JSON-RPC
/// requests to our own server and read `Content-Length` answers.
struct HttpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    request: Vec<u8>,
}

impl HttpClient {
    fn connect(addr: SocketAddr) -> anyhow::Result<HttpClient> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(HttpClient {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            request: Vec::new(),
        })
    }

    /// Posts `body` to `/` and returns the answer's body.
    fn post(&mut self, body: &str) -> anyhow::Result<String> {
        self.request.clear();
        write!(
            self.request,
            "POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        self.writer.write_all(&self.request)?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        anyhow::ensure!(line.starts_with("HTTP/1.1 200"), "status line {line:?}");
        let mut length = None;
        loop {
            line.clear();
            anyhow::ensure!(self.reader.read_line(&mut line)? > 0, "connection closed");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.trim().parse::<usize>()?);
                }
            }
        }
        let length = length.ok_or_else(|| anyhow::anyhow!("no Content-Length"))?;
        let mut answer = vec![0; length];
        self.reader.read_exact(&mut answer)?;
        Ok(String::from_utf8(answer)?)
    }
}

/// Applies `txs` over and over, `batch` per write lock, for about `budget`; the rate.
fn apply_for(
    state: &StateReader,
    txs: &[crate::chain::VerifiedTransaction],
    batch: usize,
    budget: Duration,
) -> f64 {
    let started = Instant::now();
    let mut applied = 0u64;
    let mut taken = Taken::default();
    while started.elapsed() < budget {
        for chunk in txs.chunks(batch) {
            state
                .write_and_serve(
                    |chain| {
                        for t in chunk {
                            chain.push_transaction(t).expect("a valid transfer");
                        }
                    },
                    &mut taken,
                )
                .expect("the bench's state is there until it ends");
            applied += chunk.len() as u64;
        }
        state
            .write(|chain| chain.clear_pending())
            .expect("the bench's state is there until it ends");
    }
    applied as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    /// The bench runs through the real server and both sides make progress: every
    /// read answered with a result (checked inside), the BLP applying transfers
    /// throughout.
    #[test]
    fn readers_and_the_blp_both_progress() {
        let cpus = affinity::current_thread_cpus().unwrap();
        let blp = (cpus.len() > 1).then(|| *cpus.last().unwrap());
        let rpc: Vec<usize> = cpus.iter().copied().filter(|&c| Some(c) != blp).collect();
        let r = super::run(std::time::Duration::from_millis(300), 2, 512, 2, blp, &rpc)
            .expect("the bench runs");
        assert!(
            r.blp_alone_per_s > 0.0 && r.blp_with_readers_per_s > 0.0,
            "{r:?}"
        );
        assert!(r.reads_per_s > 0.0, "readers starved: {r:?}");
        assert_eq!((r.readers, r.batch, r.rpc_threads), (2, 512, 2));
    }
}
