//! The protocol: pure data with stateless `validate()`.
//!
//! Ids, amounts and prices, authorities, keys, memos, operations, transactions, blocks,
//! chain parameters and the canonical codec. Nothing here touches chain state, the clock
//! or I/O.

pub mod asset;
pub mod authority;
pub mod block;
pub mod chain_params;
pub mod codec;
pub mod extensions;
pub mod fees;
pub mod ids;
pub mod json;
pub mod keys;
pub mod memo;
pub mod operations;
pub mod sha256_lanes;
pub mod time;
pub mod transaction;

pub use asset::{Asset, Price, ShareType};
pub use authority::Authority;
pub use block::{BlockHeader, BlockId, SignedBlock};
pub use ids::*;
pub use keys::{PrivateKey, PublicKey, Signature};
pub use operations::Operation;
pub use time::TimePointSec;
pub use transaction::{ChainId, SignedTransaction, Transaction, TransactionId};
