//! DPoS consensus rules: slots, the shuffled witness schedule, missed blocks and the
//! last irreversible block.

pub mod schedule;
