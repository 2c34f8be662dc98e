//! Slots and the witness schedule (`db_witness_schedule.cpp` in the reference).
//!
//! Slot `n` (n ≥ 1) is the n-th block interval after the head block's slot; after a
//! maintenance block, `maintenance_skip_slots` extra slots are skipped. The schedule is
//! reshuffled once per round with a xorshift seeded by the head block time, so it is
//! deterministic and predictable.

use crate::chain::objects::MAINTENANCE_FLAG;
use crate::chain::Chain;
use crate::protocol::chain_params::IRREVERSIBLE_THRESHOLD;
use crate::protocol::ids::WitnessId;
use crate::protocol::TimePointSec;

const SHUFFLE_MULTIPLIER: u64 = 2_685_821_657_736_338_717;

/// Fisher–Yates with the reference's xorshift.
pub fn shuffle_witnesses(witnesses: &mut [WitnessId], head_time: TimePointSec) {
    let now_hi = (head_time.0 as u64) << 32;
    let n = witnesses.len();
    for i in 0..n {
        let mut k = now_hi.wrapping_add((i as u64).wrapping_mul(SHUFFLE_MULTIPLIER));
        k ^= k >> 12;
        k ^= k << 25;
        k ^= k >> 27;
        k = k.wrapping_mul(SHUFFLE_MULTIPLIER);
        let jmax = (n - i) as u64;
        let j = i + (k % jmax) as usize;
        witnesses.swap(i, j);
    }
}

impl Chain {
    pub fn block_interval(&self) -> u32 {
        self.store.global().parameters.block_interval as u32
    }

    /// The time of slot `slot_num` (0 means "no slot").
    pub fn slot_time(&self, slot_num: u32) -> TimePointSec {
        if slot_num == 0 {
            return TimePointSec(0);
        }
        let interval = self.block_interval();
        let dgp = self.store.dynamic();
        if dgp.head_block_number == 0 {
            // The genesis time is the time of slot 0.
            return dgp.time.saturating_add(slot_num.saturating_mul(interval));
        }
        let head_slot_time = (dgp.time.0 / interval) * interval;
        let mut slot = slot_num;
        if dgp.dynamic_flags & MAINTENANCE_FLAG != 0 {
            slot =
                slot.saturating_add(self.store.global().parameters.maintenance_skip_slots as u32);
        }
        TimePointSec(head_slot_time).saturating_add(slot.saturating_mul(interval))
    }

    /// The slot whose time is at or before `when`, 0 if `when` precedes slot 1.
    pub fn slot_at_time(&self, when: TimePointSec) -> u32 {
        let first = self.slot_time(1);
        if when < first {
            return 0;
        }
        (when.0 - first.0) / self.block_interval() + 1
    }

    pub fn scheduled_witness(&self, slot_num: u32) -> WitnessId {
        let aslot = self.store.dynamic().current_aslot + slot_num as u64;
        let w = &self.store.witness_schedule().current_shuffled_witnesses;
        w[(aslot % w.len() as u64) as usize]
    }

    /// Counts missed slots against the witnesses scheduled in them and advances the
    /// absolute slot.
    pub(crate) fn account_missed_slots(&mut self, missed: u32, producer: WitnessId) {
        let schedule = self
            .store
            .witness_schedule()
            .current_shuffled_witnesses
            .clone();
        let n = schedule.len() as u64;
        let aslot = self.store.dynamic().current_aslot;
        let full_rounds = missed as u64 / n;
        let rest = missed as u64 % n;
        for (pos, w) in schedule.iter().enumerate() {
            if *w == producer {
                continue;
            }
            // Slots aslot+1 ..= aslot+missed that land on `pos`.
            let first_hit = ((pos as u64 + n - (aslot + 1) % n) % n) + 1;
            let extra = u64::from(first_hit <= rest);
            let count = full_rounds + extra;
            if count > 0 {
                self.store
                    .witnesses
                    .modify(w.0, |wo| wo.total_missed += count);
            }
        }
    }

    /// LIB = the newest block that at least 70% of the active witnesses have confirmed.
    pub(crate) fn update_last_irreversible_block(&mut self) {
        let active = &self.store.global().active_witnesses;
        let mut confirmed: Vec<u32> = active
            .iter()
            .filter_map(|w| {
                self.store
                    .witnesses
                    .get(w.0)
                    .map(|wo| wo.last_confirmed_block_num)
            })
            .collect();
        if confirmed.is_empty() {
            return;
        }
        confirmed.sort_unstable();
        let offset = ((10_000 - IRREVERSIBLE_THRESHOLD) as usize * confirmed.len()) / 10_000;
        let candidate = confirmed[offset];
        if candidate > self.store.dynamic().last_irreversible_block_num {
            self.store
                .modify_dynamic(|d| d.last_irreversible_block_num = candidate);
        }
    }

    /// Reshuffles once per round.
    pub(crate) fn update_witness_schedule(&mut self) {
        let active = self.store.global().active_witnesses.clone();
        if active.is_empty() || self.head_block_num() % active.len() as u32 != 0 {
            return;
        }
        let mut shuffled = active;
        shuffle_witnesses(&mut shuffled, self.head_block_time());
        self.store
            .schedule
            .modify(0, |s| s.current_shuffled_witnesses = shuffled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_deterministic_permutation() {
        let mut a: Vec<WitnessId> = (1..=11).map(WitnessId).collect();
        let mut b = a.clone();
        shuffle_witnesses(&mut a, TimePointSec(1_800_000_000));
        shuffle_witnesses(&mut b, TimePointSec(1_800_000_000));
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=11).map(WitnessId).collect::<Vec<_>>());
        let mut c: Vec<WitnessId> = (1..=11).map(WitnessId).collect();
        shuffle_witnesses(&mut c, TimePointSec(1_800_000_001));
        assert_ne!(a, c);
    }
}
