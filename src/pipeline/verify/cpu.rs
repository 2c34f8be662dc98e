//! CPU batch verification under the ZIP-215 rule.
//!
//! A batch holds when `[8]((Σ zᵢSᵢ)B − Σ zᵢRᵢ − Σ (zᵢkᵢ)Aᵢ) = 0` for random 128-bit
//! `zᵢ`: it holds for every batch of signatures that are valid one by one, and a batch
//! holding while some signature is invalid has probability about 2⁻¹²⁸. When a batch
//! fails it is bisected down to single verifications, so the verdicts are exactly those
//! of `rule::verify`, signature by signature.

use super::rule::{self, DecodedKey};
use crate::protocol::{PublicKey, Signature};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

/// Below this many signatures a failed batch is settled one by one.
const BISECT_SINGLE_BELOW: usize = 4;

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub key: &'a PublicKey,
    /// The key already decompressed (from the key cache), if known: saves ~4 µs.
    pub decoded: Option<&'a DecodedKey>,
    pub message: &'a [u8],
    pub signature: &'a Signature,
}

/// A signature whose parts decoded: ready for the batch equation.
struct Prepared {
    minus_a: EdwardsPoint,
    minus_r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

fn prepare(item: &Item<'_>) -> Option<Prepared> {
    let key = match item.decoded {
        Some(k) => *k,
        None => DecodedKey::decode(item.key).ok()?,
    };
    let parts = rule::signature_parts(&key, item.message, item.signature).ok()?;
    Some(Prepared {
        minus_a: -key.point(),
        minus_r: -parts.r,
        s: parts.s,
        k: parts.k,
    })
}

/// Random 128-bit weights from a fresh seed (the verdicts do not depend on them).
struct Weights {
    seed: [u8; 32],
    counter: u64,
}

impl Weights {
    fn new() -> Weights {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS random source is available");
        Weights { seed, counter: 0 }
    }
    fn next(&mut self) -> Scalar {
        self.counter += 1;
        let h = Sha512::new()
            .chain_update(self.seed)
            .chain_update(self.counter.to_le_bytes())
            .finalize();
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&h[..16]);
        Scalar::from_bytes_mod_order(b)
    }
}

/// The single equation `[8]([S]B − [k]A − R) = 0` on decoded parts: exactly
/// `rule::verify_decoded`, without decoding the key and R again.
fn single_holds(p: &Prepared) -> bool {
    let check =
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&p.k, &p.minus_a, &p.s) + p.minus_r;
    check.mul_by_cofactor().is_identity()
}

fn batch_holds(items: &[&Prepared], weights: &mut Weights) -> bool {
    let mut b_coefficient = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(items.len() * 2);
    let mut points = Vec::with_capacity(items.len() * 2);
    for p in items {
        let z = weights.next();
        b_coefficient += z * p.s;
        scalars.push(z);
        points.push(p.minus_r);
        scalars.push(z * p.k);
        points.push(p.minus_a);
    }
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        + EdwardsPoint::mul_base(&b_coefficient);
    sum.mul_by_cofactor().is_identity()
}

/// What to do when a batch equation fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Split it in halves and check each: cheapest when bad signatures are rare.
    Bisect,
    /// Check each signature alone: cheapest when many are bad (a flood), where
    /// bisection would check nearly every level of the tree.
    Singles,
}

/// Verdicts for `items`, in order, identical to `rule::verify` on each.
pub fn verify_batch(items: &[Item<'_>]) -> Vec<bool> {
    verify_batch_with(items, OnFailure::Bisect)
}

/// As `verify_batch`, choosing how a failed batch is settled. The verdicts are the
/// same either way; only the cost differs.
pub fn verify_batch_with(items: &[Item<'_>], on_failure: OnFailure) -> Vec<bool> {
    let mut verdicts = vec![false; items.len()];
    // Sized up front: collected from a `filter_map`, the list would otherwise grow by
    // doubling, copying its ~400-byte entries and taking fresh allocator pages.
    let mut prepared: Vec<(usize, Prepared)> = Vec::with_capacity(items.len());
    prepared.extend(
        items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| prepare(it).map(|p| (i, p))),
    );
    let mut weights = Weights::new();
    settle(&prepared, &mut verdicts, &mut weights, on_failure);
    verdicts
}

/// Verdicts for `items` under a flood of bad signatures, identical to `verify_batch`.
/// `runs` splits `items` into consecutive runs, one per connection. Each run's first
/// signature is checked alone: a run whose first signature fails (a flooding
/// connection's) is checked signature by signature, with no batch equation spent on
/// it; the other runs are pooled and batch-verified in groups of `group`, bisecting a
/// group that fails. Items past the last run are pooled too.
pub fn verify_flooded(items: &[Item<'_>], runs: &[usize], group: usize) -> Vec<bool> {
    let mut verdicts = vec![false; items.len()];
    let mut prepared: Vec<Option<Prepared>> = items.iter().map(prepare).collect();
    let mut pool: Vec<(usize, Prepared)> = Vec::with_capacity(items.len());
    let mut start: usize = 0;
    for &run in runs.iter().chain(std::iter::once(&usize::MAX)) {
        let end = start.saturating_add(run).min(items.len());
        let first = (start..end).find(|&i| prepared[i].is_some());
        let probe_failed = run != usize::MAX
            && first.is_some_and(|i| {
                let p = prepared[i].as_ref().expect("found above");
                verdicts[i] = single_holds(p);
                !verdicts[i]
            });
        for (i, p) in prepared.iter_mut().enumerate().take(end).skip(start) {
            let Some(p) = p.take() else { continue };
            if Some(i) == first && run != usize::MAX {
                continue; // settled by the probe
            }
            if probe_failed {
                verdicts[i] = single_holds(&p);
            } else {
                pool.push((i, p));
            }
        }
        start = end;
        if start >= items.len() {
            break;
        }
    }
    let mut weights = Weights::new();
    for chunk in pool.chunks(group.max(1)) {
        settle(chunk, &mut verdicts, &mut weights, OnFailure::Bisect);
    }
    verdicts
}

fn settle(
    group: &[(usize, Prepared)],
    verdicts: &mut [bool],
    weights: &mut Weights,
    on_failure: OnFailure,
) {
    if group.is_empty() {
        return;
    }
    if group.len() < BISECT_SINGLE_BELOW {
        for (i, p) in group {
            verdicts[*i] = single_holds(p);
        }
        return;
    }
    let refs: Vec<&Prepared> = group.iter().map(|(_, p)| p).collect();
    if batch_holds(&refs, weights) {
        for (i, _) in group {
            verdicts[*i] = true;
        }
        return;
    }
    match on_failure {
        OnFailure::Bisect => {
            let (left, right) = group.split_at(group.len() / 2);
            settle(left, verdicts, weights, on_failure);
            settle(right, verdicts, weights, on_failure);
        }
        OnFailure::Singles => {
            for (i, p) in group {
                verdicts[*i] = single_holds(p);
            }
        }
    }
}
