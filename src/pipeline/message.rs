//! What travels on the rings between stages, and the answer codes clients see.

use crate::chain::{TxError, VerifiedTransaction};
use crate::protocol::{BlockHeader, PublicKey, SignedTransaction, TransactionId};
use std::sync::Arc;
use std::time::Instant;

/// Where a transaction came from, so that its outcome can be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Frame `seq` on ingest connection `conn`.
    Ingest { conn: netio::ConnId, seq: u64 },
    /// A submission inside the process (RPC, tests) with the caller's tag.
    Local { tag: u64 },
}

/// Ingest → verify: the bytes of one signed transaction.
#[derive(Debug)]
pub struct Inbound {
    /// The producer's sequence number, given by `Dispatch`.
    pub seq: u64,
    pub origin: Origin,
    pub bytes: Vec<u8>,
}

/// Verify → BLP, one per `Inbound`, with the `Inbound`'s sequence number: the BLP
/// takes each producer's results in that order, whichever worker holds them. A
/// rejected transaction was already answered by the verify worker; its slot keeps the
/// order.
#[derive(Debug)]
pub enum Checked {
    Verified {
        seq: u64,
        origin: Origin,
        vtx: VerifiedTransaction,
    },
    Rejected {
        seq: u64,
    },
}

impl Checked {
    pub fn seq(&self) -> u64 {
        match self {
            Checked::Verified { seq, .. } | Checked::Rejected { seq } => *seq,
        }
    }
}

/// A block the BLP sealed: the output stage signs it, logs it and answers its
/// transactions as included.
#[derive(Debug)]
pub struct SealedBlock {
    pub header: BlockHeader,
    pub block_num: u32,
    pub signing_key: PublicKey,
    pub transactions: Vec<Arc<SignedTransaction>>,
    /// Their ids, as the verify stage computed them.
    pub ids: Vec<TransactionId>,
    pub origins: Vec<Origin>,
    /// Keys that got ids in this block: (first new id, keys in id order).
    pub new_keys: (u32, Vec<PublicKey>),
    pub last_irreversible: u32,
    /// BLP time spent sealing, in microseconds.
    pub seal_us: u64,
    pub sealed_at: Instant,
}

/// BLP → output stage.
#[derive(Debug)]
pub enum Outcome {
    /// Applied to the pending state (or held for the next block).
    Accepted {
        origin: Origin,
        /// The transaction, for pending-transaction notices, only while someone
        /// watches them (`pipeline::pending`).
        trx: Option<Arc<SignedTransaction>>,
    },
    /// Refused by a state check.
    Refused {
        origin: Origin,
        id: TransactionId,
        error: TxError,
    },
    /// Accepted earlier, then no longer valid when retried after a block.
    Dropped {
        origin: Origin,
        id: TransactionId,
        error: TxError,
    },
    Block(Box<SealedBlock>),
}

/// Answer codes on the ingest port (0–15 are netio's own, see `netio::status`).
pub mod code {
    pub use netio::status::{ACCEPTED, IN_FLIGHT_LIMIT, MALFORMED_FRAME, OVERLOADED, TOO_LARGE};
    /// The transaction is in block `detail` (decimal block number).
    pub const INCLUDED: u8 = 16;
    /// The bytes are not a canonical signed transaction.
    pub const DECODE: u8 = 17;
    /// A stateless rule failed (`validate()`).
    pub const INVALID: u8 = 18;
    /// A signature does not verify under its key.
    pub const BAD_SIGNATURE: u8 = 19;
    /// The same transaction was verified recently.
    pub const DUPLICATE: u8 = 20;
    /// A state check refused it (balance, authority, TaPoS, expiration...).
    pub const REFUSED: u8 = 21;
    /// Accepted, then no longer valid when retried for a later block.
    pub const DROPPED: u8 = 22;

    /// The code's name, for logs and reports.
    pub fn name(code: u8) -> &'static str {
        match code {
            ACCEPTED => "accepted",
            TOO_LARGE => "too_large",
            MALFORMED_FRAME => "malformed_frame",
            IN_FLIGHT_LIMIT => "in_flight_limit",
            OVERLOADED => "overloaded",
            INCLUDED => "included",
            DECODE => "decode",
            INVALID => "invalid",
            BAD_SIGNATURE => "bad_signature",
            DUPLICATE => "duplicate",
            REFUSED => "refused",
            DROPPED => "dropped",
            _ => "unknown",
        }
    }
}
