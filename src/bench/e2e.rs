//! End to end: client connections on loopback send signed transfers among many
//! accounts through the ingest port, the verify workers, the BLP and block
//! production, and time each one from its first submission to the answer that says
//! which block holds it.
//!
//! Each client keeps up to `window` transactions unanswered and otherwise sends as
//! fast as the node reads: when the node's rings are full it stops reading, and the
//! client's writes wait in TCP flow control. Latency counts from the moment a
//! transaction is handed to the socket. A transaction is *dropped* if it never made
//! it into a block. In the flood variant, as many attacker connections send
//! transfers with invalid signatures; the report gives the good throughput.

use super::stages::transfers;
use crate::pipeline::counters::{cpu_ns_by_thread_name, process_cpu_ns};
use crate::pipeline::message::code;
use crate::pipeline::Pipeline;
use crate::profile::Profile;
use crate::protocol::codec::encode;
use crate::protocol::Signature;
use crate::test_utils::{now_genesis_time, users_genesis, DevChain};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct E2eOptions {
    /// How long clients keep sending.
    pub duration: Duration,
    /// Honest client connections.
    pub connections: usize,
    /// Accounts that transfers run among.
    pub accounts: usize,
    /// Pre-signed transactions available (clients stop early when they run out).
    pub transactions: usize,
    /// Unanswered transactions per connection, at most.
    pub window: usize,
    /// Also run as many attacker connections sending bad signatures.
    pub flood: bool,
    /// Measure the verify ceiling (`stages::verify_ceiling` with this budget and
    /// batch) right before the clients start and right after the pipeline stops, so
    /// that the end-to-end rate is compared with the machine's speed at that time.
    pub ceiling: Option<(Duration, usize)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Utilization {
    /// Share of the verify workers' time spent working.
    pub verify: f64,
    pub blp: f64,
    pub output: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct E2eReport {
    /// Sustained: blocks 2.. sealed while the clients were sending, over their span.
    pub tps: f64,
    /// Every block after the first, the drain after the clients stopped included.
    pub tps_with_drain: f64,
    pub sent: u64,
    pub included: u64,
    pub dropped: u64,
    /// Answers other than "included", by code name (attackers' included).
    pub answers: BTreeMap<String, u64>,
    pub latency_us_p50: u64,
    pub latency_us_p99: u64,
    pub latency_us_p999: u64,
    pub latency_us_max: u64,
    pub duration_s: f64,
    pub blocks: usize,
    pub block_interval_s: f64,
    pub ingest_backend: String,
    pub utilization: Utilization,
    /// The verify ceiling measured right before the clients started and right after
    /// the pipeline stopped (with `E2eOptions::ceiling`).
    pub ceiling_before_per_s: Option<f64>,
    pub ceiling_after_per_s: Option<f64>,
    /// The CPU time one signature cost the ceiling (ns; the mean of its two
    /// measurements), and what the pipeline's verify workers spent per signature
    /// inside batch verification (their own CPU time, not wall time). Their ratio says
    /// whether the pipeline's signature work is as cheap as the ceiling's, apart from
    /// everything else the pipeline does.
    pub ceiling_signature_cpu_ns: Option<f64>,
    pub signature_cpu_ns: f64,
    /// CPUs the process kept busy while the clients were sending (its CPU time over
    /// that wall time; the bench's own clients included), and that CPU time per
    /// sustained transaction (ns). With one signature per transaction,
    /// `signature_cpu_ns / cpu_ns_per_transaction` is the share of the machine that
    /// went to signature work, measured inside the window.
    pub cpus_busy: f64,
    pub cpu_ns_per_transaction: f64,
    /// That CPU time per sustained transaction (ns) split by thread name (`verify`,
    /// `blp`, `netio`, `output`, the bench's `bench-writer` and `bench-reader`...):
    /// where a transaction's CPU goes, without a profiler. Empty where the threads'
    /// clocks cannot be read.
    pub cpu_ns_per_transaction_by_thread: BTreeMap<String, f64>,
    /// Signatures per verify batch, on average over the run (the batch equation's
    /// cost per signature falls with its size up to the profile's `verify.batch`).
    pub verify_signatures_per_batch: f64,
    /// Bad-signature transactions sent by attacker connections (flood run).
    pub attack_sent: u64,
    pub attack_rejected: u64,
    /// (seconds since start, transactions per second) per block.
    pub tps_over_time: Vec<(f64, f64)>,
    /// (percentile, latency in µs).
    pub latency_percentiles: Vec<(f64, f64)>,
}

/// One connection's bookkeeping, shared by its writer and reader threads.
struct Conn {
    /// When frame `seq` was handed to the socket, in ns since the run started.
    sent_ns: Vec<AtomicU64>,
    /// Frames written (their `sent_ns` are set).
    sent: AtomicU64,
    answered: AtomicU64,
    writer_done: AtomicBool,
}

struct ConnResult {
    hist: Histogram<u64>,
    answers: BTreeMap<String, u64>,
    included: u64,
    sent_txs: u64,
}

/// The clients' kernel send buffer: small, so that a transaction the node is not
/// ready for waits in the client (timed) rather than in a deep socket buffer.
const CLIENT_SEND_BUFFER: u32 = 64 * 1024;

/// Frames a writer hands to the socket in one write (about 45 KB of transfers). With
/// 64 frames per write, the clients' sends and the kernel's loopback delivery cost
/// about 190 ns of the machine's CPU per transaction; with 256, about 120 ns
/// (`docs/BENCHMARKS.md`, eleventh part). The latency stamp is taken before the write,
/// so time spent blocked in it is still counted.
const WRITE_CHUNK: u64 = 256;

/// One connection's frames, encoded (length prefix and body) back to back before the
/// run, so that a writer hands the socket a slice of this without copying it first.
struct Wire {
    bytes: Vec<u8>,
    /// Where each frame ends in `bytes`.
    ends: Vec<usize>,
}

impl Wire {
    fn new(frames: &[Vec<u8>]) -> Wire {
        let mut w = Wire {
            bytes: Vec::with_capacity(frames.iter().map(|f| f.len() + 4).sum()),
            ends: Vec::with_capacity(frames.len()),
        };
        for f in frames {
            netio::encode_frame(f, &mut w.bytes);
            w.ends.push(w.bytes.len());
        }
        w
    }
    /// The encoded frames `from..to`.
    fn slice(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        &self.bytes[start..self.ends[to - 1]]
    }
}

fn client(
    addr: std::net::SocketAddr,
    wire: Wire,
    opts: &E2eOptions,
    t0: Instant,
    stop_sending: Arc<AtomicBool>,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<std::thread::JoinHandle<ConnResult>> {
    let mut w = netio::client::Client::connect(addr)?;
    w.set_send_buffer(CLIENT_SEND_BUFFER)?;
    let mut r = w.try_clone()?;
    r.set_read_timeout(Some(Duration::from_millis(200)))?;
    let frames = wire.ends.len() as u64;
    let conn = Arc::new(Conn {
        sent_ns: (0..frames).map(|_| AtomicU64::new(0)).collect(),
        sent: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        writer_done: AtomicBool::new(false),
    });
    let window = opts.window.max(1) as u64;
    let c = conn.clone();
    // The writer keeps at most `window` frames unanswered. When the node pushes back
    // (its rings are full and it stops reading), `write` blocks in TCP flow control.
    let writer = std::thread::Builder::new()
        .name("bench-writer".into())
        .spawn(move || -> u64 {
            let mut seq = 0u64;
            let result: std::io::Result<()> = (|| {
                while seq < frames && !stop_sending.load(Ordering::Relaxed) {
                    let unanswered = seq - c.answered.load(Ordering::Acquire);
                    let room = window.saturating_sub(unanswered).min(WRITE_CHUNK);
                    if room == 0 {
                        std::thread::sleep(Duration::from_micros(100));
                        continue;
                    }
                    let end = (seq + room).min(frames);
                    // The chunk is handed to the socket now: one clock read stamps it.
                    let now = t0.elapsed().as_nanos() as u64;
                    for stamp in &c.sent_ns[seq as usize..end as usize] {
                        stamp.store(now, Ordering::Relaxed);
                    }
                    w.send_raw(wire.slice(seq as usize, end as usize))?;
                    seq = end;
                    c.sent.store(seq, Ordering::Release);
                }
                Ok(())
            })();
            c.sent.store(seq, Ordering::Release);
            if let Err(e) = result {
                tracing::warn!("bench client writer stopped: {e}");
            }
            c.writer_done.store(true, Ordering::Release);
            seq
        })?;
    let c = conn;
    Ok(std::thread::Builder::new()
        .name("bench-reader".into())
        .spawn(move || {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
            let mut answers = BTreeMap::new();
            let mut included = 0u64;
            let mut batch = Vec::with_capacity(1024);
            let mut last_answer_ns = t0.elapsed().as_nanos() as u64;
            loop {
                batch.clear();
                match r.recv_answers(&mut batch) {
                    Ok(()) => {
                        // One clock read for everything that one read brought.
                        let now = t0.elapsed().as_nanos() as u64;
                        last_answer_ns = now;
                        let included_before = included;
                        for a in &batch {
                            let Some(sent) = c.sent_ns.get(a.seq as usize) else {
                                continue;
                            };
                            let sent = sent.load(Ordering::Relaxed);
                            if a.code == code::INCLUDED {
                                let us = now.saturating_sub(sent) / 1000;
                                let _ = hist.record(us.max(1));
                                included += 1;
                            } else {
                                *answers.entry(code::name(a.code).to_string()).or_insert(0) += 1;
                            }
                        }
                        progress.fetch_add(included - included_before, Ordering::Relaxed);
                        c.answered.fetch_add(batch.len() as u64, Ordering::Release);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        let done = c.writer_done.load(Ordering::Acquire)
                            && c.answered.load(Ordering::Acquire) >= c.sent.load(Ordering::Acquire);
                        // Give up on answers 10 s after the last one arrived.
                        let quiet = (t0.elapsed().as_nanos() as u64).saturating_sub(last_answer_ns);
                        if done || quiet > 10_000_000_000 {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            let sent_txs = writer.join().unwrap_or(0);
            ConnResult {
                hist,
                answers,
                included,
                sent_txs,
            }
        })?)
}

/// Runs the end-to-end benchmark with `profile` placing the stages.
pub fn run(
    profile: &Profile,
    opts: &E2eOptions,
    mut progress: impl FnMut(&str, u64, u64),
) -> anyhow::Result<E2eReport> {
    let accounts = opts.accounts.max(2);
    progress("signing transactions", 0, 1);
    let mut g = users_genesis(
        accounts,
        1_000_000_000 * 100_000 / accounts as i64,
        now_genesis_time(),
    );
    g.initial_parameters.maximum_block_size = 1 << 30;
    // The first block is a maintenance block, after which the reference skips three
    // slots: a run of a few seconds measures the pipeline, not that pause.
    g.initial_parameters.maintenance_skip_slots = 0;
    let mut dev = DevChain::with_genesis(g);
    profile.reserve(&mut dev.chain);
    let good = transfers(&dev, accounts, opts.transactions, true);
    let mut frames: Vec<Vec<u8>> = good.iter().map(encode).collect();
    let honest = frames.len();
    if opts.flood {
        // Distinct transactions carrying another transaction's signature: each costs
        // a full verification and fails it.
        for (i, t) in good.iter().enumerate() {
            let mut bad = t.clone();
            let next = &good[(i + 1) % good.len()];
            bad.signatures = smallvec::smallvec![next
                .signatures
                .first()
                .copied()
                .unwrap_or(Signature([0; 64]))];
            frames.push(encode(&bad));
        }
    }
    drop(good);
    // Each connection's frames, encoded back to back (see `Wire`): honest connections
    // first, then the attackers'.
    let k = opts.connections.max(1);
    let mut wires: Vec<Wire> = (0..k)
        .map(|c| Wire::new(&frames[(honest * c / k)..(honest * (c + 1) / k)]))
        .collect();
    if opts.flood {
        wires.extend((0..k).map(|c| {
            Wire::new(&frames[(honest + honest * c / k)..(honest + honest * (c + 1) / k)])
        }));
    }
    drop(frames);
    let mut wires = wires.into_iter();

    let mut config = profile
        .pipeline_config(Some("127.0.0.1:0".parse().expect("an address")))
        .map_err(anyhow::Error::msg)?;
    if let Some(net) = config.ingest.as_mut() {
        net.in_flight_max = net.in_flight_max.max(opts.window as u32);
        net.connections_max = net.connections_max.max(2 * opts.connections as u32 + 8);
    }
    let interval = dev.chain.store.global().parameters.block_interval as f64;
    let ceiling_before = opts.ceiling.map(|(budget, batch)| {
        progress("measuring the verify ceiling", 0, 1);
        super::stages::verify_ceiling(budget, batch)
    });
    let mut pipeline = Pipeline::start(dev.chain, dev.witness_keys, config)?;
    let blocks = pipeline.take_blocks().expect("blocks");
    // Only when and how full each block was: holding every block's transactions
    // until the end would grow the heap (and its page faults) through the run.
    let block_log = std::thread::Builder::new()
        .name("bench-blocks".into())
        .spawn(move || -> Vec<(Instant, usize)> {
            blocks
                .iter()
                .map(|b| (b.sealed_at, b.block.transactions.len()))
                .filter(|&(_, n)| n > 0)
                .collect()
        })?;
    let addr = pipeline
        .ingest_addr()
        .ok_or_else(|| anyhow::anyhow!("no ingest port"))?;
    let backend = format!("{:?}", pipeline.ingest_backend());
    let started = Instant::now();
    let cpu_at_start = process_cpu_ns();
    let threads_at_start = cpu_ns_by_thread_name();
    let stop_sending = Arc::new(AtomicBool::new(false));
    let included = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for _ in 0..k {
        handles.push((
            false,
            client(
                addr,
                wires.next().expect("a wire per connection"),
                opts,
                started,
                stop_sending.clone(),
                included.clone(),
            )?,
        ));
    }
    if opts.flood {
        let sink = Arc::new(AtomicU64::new(0));
        for wire in wires {
            handles.push((
                true,
                client(
                    addr,
                    wire,
                    opts,
                    started,
                    stop_sending.clone(),
                    sink.clone(),
                )?,
            ));
        }
    }
    while started.elapsed() < opts.duration && !handles.iter().all(|h| h.1.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        progress("sending", included.load(Ordering::Relaxed), honest as u64);
    }
    stop_sending.store(true, Ordering::Relaxed);
    let send_end = started.elapsed();
    let cpu_sending = process_cpu_ns().saturating_sub(cpu_at_start);
    let threads_sending: BTreeMap<String, u64> = cpu_ns_by_thread_name()
        .into_iter()
        .map(|(name, ns)| {
            let before = threads_at_start.get(&name).copied().unwrap_or(0);
            (name, ns.saturating_sub(before))
        })
        .collect();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
    let mut r = E2eReport {
        ingest_backend: backend,
        block_interval_s: interval,
        ..E2eReport::default()
    };
    for (attacker, h) in handles {
        let c = h
            .join()
            .map_err(|_| anyhow::anyhow!("a bench client panicked"))?;
        if attacker {
            r.attack_sent += c.sent_txs;
            r.attack_rejected += c.answers.values().sum::<u64>();
            continue;
        }
        hist.add(&c.hist).expect("same bounds");
        r.sent += c.sent_txs;
        r.included += c.included;
        for (name, n) in c.answers {
            *r.answers.entry(name).or_insert(0) += n;
        }
        progress("sending", r.included, honest as u64);
    }
    let wall = started.elapsed();
    let stats = pipeline.stats();
    pipeline.stop()?;
    r.dropped = r.sent - r.included;
    r.duration_s = send_end.as_secs_f64();
    let produced = block_log
        .join()
        .map_err(|_| anyhow::anyhow!("the bench's block observer panicked"))?;
    r.blocks = produced.len();
    let ceiling_after = opts.ceiling.map(|(budget, batch)| {
        progress("measuring the verify ceiling again", 0, 1);
        super::stages::verify_ceiling(budget, batch)
    });
    r.ceiling_before_per_s = ceiling_before.map(|c| c.per_s);
    r.ceiling_after_per_s = ceiling_after.map(|c| c.per_s);
    r.ceiling_signature_cpu_ns = ceiling_before
        .zip(ceiling_after)
        .map(|(b, a)| (b.cpu_ns_per_signature + a.cpu_ns_per_signature) / 2.0);
    let mut prev: Option<Instant> = None;
    for &(sealed_at, n) in &produced {
        let t = sealed_at.saturating_duration_since(started).as_secs_f64();
        let span = prev.map_or(interval, |p| sealed_at.duration_since(p).as_secs_f64());
        r.tps_over_time.push((t, n as f64 / span.max(1e-3)));
        prev = Some(sealed_at);
    }
    // Sustained: what the blocks after the first carried, over the time they span, up
    // to the last block sealed while the clients were still sending. The first block
    // holds the ramp-up; blocks sealed after the clients stopped hold the drain of
    // what was queued, and the last of them spans a whole interval with only that in
    // it, so neither measures a sustained rate.
    let rate = |blocks: &[(Instant, usize)]| match (blocks.first(), blocks.last()) {
        (Some(a), Some(b)) if blocks.len() >= 2 => {
            let txs: usize = blocks[1..].iter().map(|b| b.1).sum();
            Some(txs as f64 / b.0.duration_since(a.0).as_secs_f64().max(1e-3))
        }
        _ => None,
    };
    let sending_until = started + send_end;
    let steady = produced.partition_point(|b| b.0 <= sending_until);
    r.tps_with_drain = rate(&produced).unwrap_or(r.included as f64 / wall.as_secs_f64());
    r.tps = rate(&produced[..steady]).unwrap_or(r.tps_with_drain);
    if !hist.is_empty() {
        r.latency_us_p50 = hist.value_at_quantile(0.50);
        r.latency_us_p99 = hist.value_at_quantile(0.99);
        r.latency_us_p999 = hist.value_at_quantile(0.999);
        r.latency_us_max = hist.max();
        for p in [
            0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0, 99.9, 99.99,
            100.0,
        ] {
            r.latency_percentiles
                .push((p, hist.value_at_quantile(p / 100.0) as f64));
        }
    }
    let ns = wall.as_nanos() as f64;
    let workers = stats.verify_workers.len().max(1) as f64;
    r.utilization = Utilization {
        verify: stats.verify.busy_ns as f64 / (ns * workers),
        blp: stats.blp.busy_ns as f64 / ns,
        output: stats.output.busy_ns as f64 / ns,
    };
    r.verify_signatures_per_batch =
        stats.verify.signatures as f64 / stats.verify.batches.max(1) as f64;
    r.signature_cpu_ns =
        stats.verify.signature_cpu_ns as f64 / stats.verify.signatures.max(1) as f64;
    r.cpus_busy = cpu_sending as f64 / send_end.as_nanos().max(1) as f64;
    r.cpu_ns_per_transaction = r.cpus_busy * 1e9 / r.tps.max(1.0);
    let transactions = r.tps.max(1.0) * send_end.as_secs_f64().max(1e-9);
    r.cpu_ns_per_transaction_by_thread = threads_sending
        .into_iter()
        .map(|(name, ns)| (name, ns as f64 / transactions))
        .collect();
    Ok(r)
}
