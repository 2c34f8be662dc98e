//! A verify worker: one thread of the verify stage.
//!
//! Each loop it takes a batch from its input rings (one per producer), decodes each
//! transaction (strict, size-capped) and runs its stateless `validate()`, then hashes
//! the batch's ids, signing digests and merkle leaves together (four SHA-256 streams
//! side by side); then the duplicate check against recently verified ids, and
//! finally one batch verification over every signature of the batch (bisected when
//! it fails, so the verdicts are exactly those of the single rule). Rejections are
//! answered here and counted by kind; every input yields one `Checked` on the output
//! ring of its producer, in order, so the BLP can restore the producer's sequence.

use super::cache::{KeyDirectory, SeenCache};
use super::cpu::{self, OnFailure};
use super::stage::{first_bad_signatures, KeyCache};
use super::{hash_decoded_batch, Hashed, VerifyError, TRANSACTION_BYTES_MAX};
use crate::chain::objects::KeyId;
use crate::chain::Signer;
use crate::chain::VerifiedTransaction;
use crate::pipeline::answer::{Answer, Answerer};
use crate::pipeline::counters::{counters, thread_cpu_ns, PUBLISH_EVERY};
use crate::pipeline::dispatch::RoomSignal;
use crate::pipeline::message::{code, Checked, Inbound, Origin};
use crate::pipeline::ring::{Consumer, Producer};
use crate::pipeline::wait::{Doorbell, Idler, WaitStrategy};
use crate::protocol::codec;
use crate::protocol::{ChainId, PublicKey, TransactionId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

counters! {
    /// The verify stage's counters (summed over workers by readers).
    VerifyCounters / VerifyCounts {
        /// Transactions taken from the input rings.
        received,
        /// Passed every check and went on to the BLP.
        verified,
        /// Not a canonical signed transaction.
        decode_errors,
        /// A stateless rule failed.
        invalid,
        /// A signature did not verify.
        bad_signatures,
        /// Verified recently: refused without signature work.
        duplicates,
        /// Signatures checked.
        signatures,
        /// Batches processed.
        batches,
        /// Nanoseconds spent working (not waiting).
        busy_ns,
        /// The thread's own CPU time (not wall time) inside batch verification: the
        /// signature arithmetic, to set against the verify ceiling's cost per signature.
        signature_cpu_ns,
    }
}

/// Shared by every worker of the stage.
pub struct WorkerShared {
    pub chain_id: ChainId,
    pub seen: Arc<SeenCache>,
    pub keys: Arc<KeyDirectory>,
    pub answers: Answerer,
    pub stop: Arc<AtomicBool>,
    /// Rung after results are published.
    pub blp_bell: Arc<Doorbell>,
}

pub struct VerifyWorker {
    pub(crate) shared: Arc<WorkerShared>,
    pub(crate) inputs: Vec<Consumer<Inbound>>,
    pub(crate) outputs: Vec<Producer<Checked>>,
    /// Per producer: its wait for room in this worker's input ring.
    pub(crate) room: Vec<Arc<RoomSignal>>,
    pub(crate) bell: Arc<Doorbell>,
    pub(crate) counters: Arc<VerifyCounters>,
    pub(crate) key_cache: KeyCache,
    pub(crate) batch_max: usize,
    pub(crate) wait: WaitStrategy,
    /// Recent share of transactions with a bad signature, in per mille.
    pub(crate) bad_per_mille: u64,
}

/// From this recent share of bad signatures on (per mille), the worker settles each
/// batch as under a flood (`cpu::verify_flooded`).
const FLOOD_PER_MILLE: u64 = 100;

/// A transaction's first bad signature: its index and key.
type FirstBad = Option<(usize, PublicKey)>;

/// One transaction of a batch on its way through the checks.
enum Step {
    Hashed(Hashed),
    Rejected(u8, String),
}

impl VerifyWorker {
    pub fn run(mut self) {
        self.bell.register_current();
        let mut idler = Idler::new(self.wait);
        let mut local = VerifyCounts::default();
        let mut last_publish = Instant::now();
        let mut batch: Vec<(usize, Inbound)> = Vec::with_capacity(self.batch_max);
        let mut answers = Vec::new();
        while !self.shared.stop.load(Ordering::Relaxed) {
            for (p, input) in self.inputs.iter_mut().enumerate() {
                let room = self.batch_max - batch.len();
                if room == 0 {
                    break;
                }
                if input.poll_batch(room, |v, _| batch.push((p, v))) > 0 {
                    self.room[p].after_read(input);
                }
            }
            if batch.is_empty() {
                if last_publish.elapsed() >= PUBLISH_EVERY {
                    self.counters.publish(&local);
                    last_publish = Instant::now();
                }
                let inputs = &self.inputs;
                idler.idle(&self.bell, Duration::from_millis(5), || {
                    inputs.iter().any(|c| c.backlog() > 0)
                });
                continue;
            }
            idler.worked();
            let started = Instant::now();
            let results = self.process(&mut batch, &mut local, &mut answers);
            for (p, checked) in results {
                self.publish(p, checked);
            }
            self.shared.blp_bell.ring();
            self.shared.answers.send(&mut answers);
            local.busy_ns += started.elapsed().as_nanos() as u64;
            if last_publish.elapsed() >= PUBLISH_EVERY {
                self.counters.publish(&local);
                last_publish = Instant::now();
            }
        }
        self.counters.publish(&local);
    }

    /// Waits for room on the BLP's ring: backpressure flows upstream from here.
    fn publish(&mut self, p: usize, checked: Checked) {
        let shared = &self.shared;
        self.outputs[p].publish_waiting(checked, || {
            shared.blp_bell.ring();
            !shared.stop.load(Ordering::Relaxed)
        });
    }

    fn process(
        &mut self,
        batch: &mut Vec<(usize, Inbound)>,
        local: &mut VerifyCounts,
        answers: &mut Vec<Answer>,
    ) -> Vec<(usize, Checked)> {
        local.batches += 1;
        local.received += batch.len() as u64;
        // Decode each, then hash every decoded one together (several SHA-256 streams
        // side by side).
        let mut decoded = Vec::with_capacity(batch.len());
        let mut failed: Vec<Option<Step>> = Vec::with_capacity(batch.len());
        for (_, inbound) in batch.iter() {
            match codec::decode("signed transaction", &inbound.bytes, TRANSACTION_BYTES_MAX) {
                Ok(trx) => {
                    decoded.push((Arc::new(trx), &inbound.bytes[..]));
                    failed.push(None);
                }
                Err(e) => {
                    local.decode_errors += 1;
                    failed.push(Some(Step::Rejected(code::DECODE, e.to_string())));
                }
            }
        }
        let mut hashed = hash_decoded_batch(decoded, &self.shared.chain_id).into_iter();
        let mut steps: Vec<Step> = failed
            .into_iter()
            .map(|f| {
                f.unwrap_or_else(|| match hashed.next().expect("one per decoded") {
                    Ok(h) => Step::Hashed(h),
                    Err(e) => {
                        local.invalid += 1;
                        Step::Rejected(code::INVALID, e.to_string())
                    }
                })
            })
            .collect();
        self.refuse_duplicates(&mut steps, local);
        let present: Vec<Option<&Hashed>> = steps
            .iter()
            .map(|s| match s {
                Step::Hashed(h) => Some(h),
                Step::Rejected(..) => None,
            })
            .collect();
        local.signatures += present
            .iter()
            .flatten()
            .map(|h| h.trx.signatures.len() as u64)
            .sum::<u64>();
        let (first_bad, hints) = self.verify_signatures(batch, &present, local);
        let mut out = Vec::with_capacity(batch.len());
        let mut seen_new = Vec::with_capacity(batch.len());
        let mut hints = hints.into_iter();
        for (((p, inbound), step), bad) in batch.drain(..).zip(steps).zip(first_bad) {
            let (seq, origin) = (inbound.seq, inbound.origin);
            let checked = match (step, bad) {
                (Step::Rejected(c, detail), _) => self.reject(seq, origin, c, detail, answers),
                (Step::Hashed(h), Some((index, key))) => {
                    hints.by_ref().take(h.trx.signer_keys.len()).for_each(drop);
                    local.bad_signatures += 1;
                    let e = VerifyError::BadSignature {
                        index,
                        key: key.to_string(),
                    };
                    self.reject(seq, origin, code::BAD_SIGNATURE, e.to_string(), answers)
                }
                (Step::Hashed(h), None) => {
                    local.verified += 1;
                    seen_new.push((h.id, h.merkle_leaf, h.trx.trx.expiration.0));
                    Checked::Verified {
                        seq,
                        origin,
                        vtx: to_verified(h, &mut hints),
                    }
                }
            };
            out.push((p, checked));
        }
        // Recorded before any of them is published to the BLP, so the output stage's
        // removal of a refused one always comes after its record.
        self.shared.seen.insert_many(&seen_new);
        out
    }

    /// Refuses, without signature work, the transactions of the batch that verified
    /// recently (one pass over the signature cache for the whole batch).
    fn refuse_duplicates(&self, steps: &mut [Step], local: &mut VerifyCounts) {
        let ids: Vec<&TransactionId> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Hashed(h) => Some(&h.id),
                Step::Rejected(..) => None,
            })
            .collect();
        let mut seen = self.shared.seen.contains_many(&ids).into_iter();
        for step in steps.iter_mut() {
            let Step::Hashed(h) = step else { continue };
            if seen.next() == Some(true) {
                local.duplicates += 1;
                *step = Step::Rejected(
                    code::DUPLICATE,
                    format!("transaction {} was already received", h.id),
                );
            }
        }
    }

    /// Batch-verifies the signatures of `present`. While the recent share of bad
    /// signatures is high, they are grouped by connection so that a flooding
    /// connection's bad signatures share batches with each other rather than with
    /// honest ones, and each connection's run is probed first (`cpu::verify_flooded`);
    /// otherwise they are verified in the batch's order. Returns each
    /// transaction's first bad signature, and the key-id hints of the present
    /// transactions' signers, transaction by transaction in the batch's order.
    fn verify_signatures(
        &mut self,
        batch: &[(usize, Inbound)],
        present: &[Option<&Hashed>],
        local: &mut VerifyCounts,
    ) -> (Vec<FirstBad>, Vec<Option<KeyId>>) {
        let timed = |local: &mut VerifyCounts, verify: &dyn Fn() -> Vec<bool>| {
            let started = thread_cpu_ns();
            let verdicts = verify();
            local.signature_cpu_ns += thread_cpu_ns().saturating_sub(started);
            verdicts
        };
        if self.bad_per_mille < FLOOD_PER_MILLE {
            // No flood: the batch's own order serves, with nothing to sort or undo.
            let mut hints = Vec::new();
            let first_bad =
                first_bad_signatures(present, &mut self.key_cache, &mut hints, |items| {
                    timed(local, &|| cpu::verify_batch_with(items, OnFailure::Bisect))
                });
            self.note_bad_share(present, &first_bad);
            return (first_bad, hints);
        }
        let conn_of = |i: usize| match batch[i].1.origin {
            Origin::Ingest { conn, .. } => conn.0,
            Origin::Local { .. } => u64::MAX,
        };
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| conn_of(i));
        let sorted: Vec<Option<&Hashed>> = order.iter().map(|&i| present[i]).collect();
        // Signatures per connection, in the sorted order: under a flood each
        // connection's run is probed with its first signature, and a run that fails
        // the probe is checked signature by signature instead of sharing batch
        // equations with the others (`cpu::verify_flooded`).
        let mut runs: Vec<usize> = Vec::with_capacity(batch.len());
        let mut last_conn = None;
        for (&i, h) in order.iter().zip(&sorted) {
            let Some(h) = h else { continue };
            let n = h.trx.signer_keys.len();
            match runs.last_mut() {
                Some(r) if last_conn == Some(conn_of(i)) => *r += n,
                _ => runs.push(n),
            }
            last_conn = Some(conn_of(i));
        }
        let group = self.batch_max;
        let mut hints_sorted = Vec::new();
        let bad_sorted =
            first_bad_signatures(&sorted, &mut self.key_cache, &mut hints_sorted, |items| {
                timed(local, &|| cpu::verify_flooded(items, &runs, group))
            });
        let mut first_bad = vec![None; batch.len()];
        // Each present transaction's run of signer hints, by its place in the batch.
        let mut runs_at = vec![(0, 0); batch.len()];
        let mut at = 0;
        for (k, &i) in order.iter().enumerate() {
            first_bad[i] = bad_sorted[k];
            if let Some(h) = sorted[k] {
                runs_at[i] = (at, h.trx.signer_keys.len());
                at += h.trx.signer_keys.len();
            }
        }
        let mut hints = Vec::with_capacity(hints_sorted.len());
        for (i, &(start, n)) in runs_at.iter().enumerate() {
            if present[i].is_some() {
                hints.extend_from_slice(&hints_sorted[start..start + n]);
            }
        }
        self.note_bad_share(present, &first_bad);
        (first_bad, hints)
    }

    /// Folds this batch's share of transactions with a bad signature into the recent
    /// share that decides how the next batches are settled.
    fn note_bad_share(&mut self, present: &[Option<&Hashed>], first_bad: &[FirstBad]) {
        let checked = present.iter().flatten().count() as u64;
        let bad = first_bad.iter().flatten().count() as u64;
        if let Some(share) = (bad * 1000).checked_div(checked) {
            // An exponential average over about eight batches, in per mille.
            self.bad_per_mille = (self.bad_per_mille * 7 + share) / 8;
        }
    }

    fn reject(
        &self,
        seq: u64,
        origin: Origin,
        code: u8,
        detail: String,
        answers: &mut Vec<Answer>,
    ) -> Checked {
        answers.push(Answer {
            origin,
            code,
            detail: detail.into_bytes().into(),
        });
        Checked::Rejected { seq }
    }
}

/// The BLP's input for a transaction whose signatures all verified, with its signers'
/// key-id hints (the next ones of `hints`).
fn to_verified(h: Hashed, hints: &mut impl Iterator<Item = Option<KeyId>>) -> VerifiedTransaction {
    let signers = h
        .trx
        .signer_keys
        .iter()
        .zip(hints)
        .map(|(&key, key_id)| Signer { key, key_id })
        .collect();
    VerifiedTransaction {
        trx: h.trx,
        id: h.id,
        packed_size: h.packed_size,
        signers,
        merkle_leaf: h.merkle_leaf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::verify::cache::KeyDirectory;
    use crate::protocol::codec;
    use crate::test_utils::{user_key, DevChain};

    /// A worker with no rings: `process` is called directly.
    fn worker(dev: &DevChain, keys: Arc<KeyDirectory>) -> VerifyWorker {
        let shared = Arc::new(WorkerShared {
            chain_id: dev.chain.chain_id(),
            seen: Arc::new(SeenCache::new(1 << 12)),
            keys: keys.clone(),
            answers: Answerer::new(None, None),
            stop: Arc::new(AtomicBool::new(false)),
            blp_bell: Arc::new(Doorbell::new()),
        });
        VerifyWorker {
            shared,
            inputs: Vec::new(),
            outputs: Vec::new(),
            room: Vec::new(),
            bell: Arc::new(Doorbell::new()),
            counters: Arc::new(VerifyCounters::default()),
            key_cache: KeyCache::with_directory(64, keys),
            batch_max: 64,
            wait: WaitStrategy::Block,
            bad_per_mille: 0,
        }
    }

    /// A batch mixing transactions with one and two signers, a bad signature, a
    /// duplicate and undecodable bytes, from two connections in interleaved order:
    /// each result keeps its place, and every verified transaction carries its own
    /// signers with their own key ids. Outside a flood the batch is verified in its
    /// order; under one the verify stage looks keys up in an order of its own, by
    /// connection, and puts the hints back in the batch's order.
    #[test]
    fn verdicts_and_key_hints_keep_their_transactions() {
        verdicts_and_key_hints_keep_their_transactions_at(0);
    }

    #[test]
    fn verdicts_and_key_hints_keep_their_transactions_under_a_flood() {
        verdicts_and_key_hints_keep_their_transactions_at(FLOOD_PER_MILLE);
    }

    fn verdicts_and_key_hints_keep_their_transactions_at(bad_per_mille: u64) {
        let dev = DevChain::with_users(4, 1_000_000);
        let keys = Arc::new(KeyDirectory::from_chain(&dev.chain));
        let mut w = worker(&dev, keys);
        w.bad_per_mille = bad_per_mille;
        let signed = |from: usize, signers: &[usize], amount: i64| {
            let op = dev.transfer_op(&format!("user{from}"), "user3", amount, 100);
            let keys: Vec<_> = signers.iter().map(|&i| user_key(i)).collect();
            dev.sign(dev.transaction(vec![op]), &keys.iter().collect::<Vec<_>>())
        };
        let one = signed(0, &[0], 1);
        let two = signed(1, &[1, 2], 2);
        let mut bad = signed(2, &[2], 3);
        bad.signatures[0].0[5] ^= 1;
        let again = signed(0, &[0], 4);
        let txs = [
            codec::encode(&one),
            codec::encode(&two),
            codec::encode(&bad),
            b"not a transaction".to_vec(),
            codec::encode(&again),
            codec::encode(&one),
        ];
        let mut batch: Vec<(usize, Inbound)> = txs
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let conn = netio::ConnId([7, 3][i % 2]);
                let origin = Origin::Ingest {
                    conn,
                    seq: i as u64,
                };
                (
                    0,
                    Inbound {
                        seq: i as u64,
                        origin,
                        bytes: bytes.clone(),
                    },
                )
            })
            .collect();
        let (mut local, mut answers) = (VerifyCounts::default(), Vec::new());
        let out = w.process(&mut batch, &mut local, &mut answers);
        assert_eq!(out.len(), 6);
        let key_id = |i: usize| dev.chain.key_id(&user_key(i).public_key());
        let expect_signers = |k: usize, signers: &[usize], id: TransactionId| match &out[k].1 {
            Checked::Verified { seq, vtx, .. } => {
                assert_eq!(*seq, k as u64);
                assert_eq!(vtx.id, id);
                let got: Vec<_> = vtx.signers.iter().map(|s| (s.key, s.key_id)).collect();
                let want: Vec<_> = signers
                    .iter()
                    .map(|&i| (user_key(i).public_key(), key_id(i)))
                    .collect();
                assert_eq!(got, want, "transaction {k}");
                assert!(want.iter().all(|(_, id)| id.is_some()));
            }
            Checked::Rejected { .. } => panic!("transaction {k} was rejected"),
        };
        expect_signers(0, &[0], one.trx.id());
        expect_signers(1, &[1, 2], two.trx.id());
        expect_signers(4, &[0], again.trx.id());
        for k in [2, 3] {
            assert!(matches!(out[k].1, Checked::Rejected { seq } if seq == k as u64));
        }
        // The sixth repeats the first within the batch: it verified too (the seen
        // cache is checked before the batch's signatures), and the BLP's index refuses
        // it. A later batch refuses it at once.
        expect_signers(5, &[0], one.trx.id());
        let codes: Vec<u8> = answers.iter().map(|a| a.code).collect();
        assert_eq!(codes, vec![code::BAD_SIGNATURE, code::DECODE]);
        assert_eq!(
            (local.verified, local.bad_signatures, local.decode_errors),
            (4, 1, 1)
        );
        let mut again_batch = vec![(
            0,
            Inbound {
                seq: 9,
                origin: Origin::Local { tag: 1 },
                bytes: txs[0].clone(),
            },
        )];
        let out = w.process(&mut again_batch, &mut local, &mut answers);
        assert!(matches!(out[0].1, Checked::Rejected { seq: 9 }));
        assert_eq!(answers.last().map(|a| a.code), Some(code::DUPLICATE));
    }

    /// A key the directory learns after the cache first saw it gets its id on the
    /// next lookup.
    #[test]
    fn the_key_cache_picks_up_ids_the_directory_learns() {
        let dev = DevChain::with_users(2, 1_000_000);
        let dir = Arc::new(KeyDirectory::default());
        let mut cache = KeyCache::with_directory(8, dir.clone());
        let key = user_key(1).public_key();
        let first = cache.lookup(&key);
        assert!(first.decoded.is_some());
        assert_eq!(first.key_id, None);
        let id = dev.chain.key_id(&key).expect("a user key has an id");
        dir.add(id.0 + 1, [(key, id)]);
        assert_eq!(cache.lookup(&key).key_id, Some(id));
        assert_eq!(cache.len(), 1);
        // Bounded: a full cache starts again.
        for i in 10..30 {
            cache.lookup(&user_key(i).public_key());
        }
        assert!(cache.len() <= 8);
        assert_eq!(cache.lookup(&key).key_id, Some(id));
    }
}
