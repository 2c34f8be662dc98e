//! Chain maintenance, run by the first block at or after `next_maintenance_time`.
//!
//! This release advances `next_maintenance_time`, applies pending parameter changes,
//! undoes the interval's account-fee scaling and resets the per-interval counters.
//! Vote tallies, the budget and fee splitting are not built yet.

use super::objects::MAINTENANCE_FLAG;
use super::Chain;
use crate::protocol::fees::FeeParameters;
use crate::protocol::TimePointSec;

impl Chain {
    pub(crate) fn perform_chain_maintenance(&mut self, block_num: u32, block_time: TimePointSec) {
        let registered = self.store.dynamic().accounts_registered_this_interval;
        let pending = self.store.global().pending_parameters.clone();
        self.store.modify_global(|g| {
            let p = &mut g.parameters;
            if p.accounts_per_fee_scale > 0 {
                let steps = registered / p.accounts_per_fee_scale as u32;
                let shift = (p.account_fee_scale_bitshifts as u32)
                    .saturating_mul(steps)
                    .min(63);
                if let Some(FeeParameters::AccountCreate { basic_fee, .. }) =
                    p.current_fees.parameters.get_mut(&5)
                {
                    *basic_fee >>= shift;
                }
            }
            if let Some(new) = pending {
                g.parameters = new;
                g.pending_parameters = None;
            }
        });
        let interval = self.store.global().parameters.maintenance_interval;
        let head_time = self.head_block_time();
        self.store.modify_dynamic(|d| {
            let next = if block_num == 1 {
                (block_time.0 / interval)
                    .saturating_add(1)
                    .saturating_mul(interval)
            } else {
                let behind = head_time.0.saturating_sub(d.next_maintenance_time.0) / interval;
                d.next_maintenance_time
                    .0
                    .saturating_add(behind.saturating_add(1).saturating_mul(interval))
            };
            d.next_maintenance_time = TimePointSec(next);
            d.accounts_registered_this_interval = 0;
        });
    }

    pub(crate) fn set_maintenance_flag(&mut self, on: bool) {
        self.store.modify_dynamic(|d| {
            if on {
                d.dynamic_flags |= MAINTENANCE_FLAG;
            } else {
                d.dynamic_flags &= !MAINTENANCE_FLAG;
            }
        });
    }
}
