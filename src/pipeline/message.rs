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
    /// Its transactions in order (with their ids, as the verify stage computed them),
    /// each with where it came from: the BLP's pending list itself. The output stage
    /// hands the emptied list back through [`SpareLists`].
    pub included: Included,
    /// Keys that got ids in this block: (first new id, keys in id order).
    pub new_keys: (u32, Vec<PublicKey>),
    pub last_irreversible: u32,
    /// BLP time spent sealing, in microseconds.
    pub seal_us: u64,
    pub sealed_at: Instant,
}

/// Emptied transaction lists of sealed blocks, on their way back from the output stage
/// to the BLP, whose next pending list reuses one. A block's list is tens of MB at full
/// load; the allocator does not reliably reuse memory freed on another thread, and
/// fresh memory costs a page fault and zeroing per page (`docs/BENCHMARKS.md`).
#[derive(Clone, Default)]
pub struct SpareLists(Arc<parking_lot::Mutex<Vec<Included>>>);

/// A sealed block's transactions with their origins, in order.
pub type Included = Vec<(VerifiedTransaction, Origin)>;

/// Emptied lists kept, at most: one is back long before the next block is sealed.
const SPARE_LISTS: usize = 2;

impl SpareLists {
    /// Gives an emptied list back (dropped when enough are waiting).
    pub fn give(&self, mut list: Included) {
        list.clear();
        let mut spare = self.0.lock();
        if spare.len() < SPARE_LISTS {
            spare.push(list);
        }
    }
    /// An empty list with room for `capacity` transactions: a spare one if there is one.
    pub fn take(&self, capacity: usize) -> Included {
        let mut list = self.0.lock().pop().unwrap_or_default();
        list.reserve(capacity);
        list
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::Signers;
    use crate::protocol::{Transaction, TransactionId};

    fn entry(n: u8) -> (VerifiedTransaction, Origin) {
        let trx = SignedTransaction {
            trx: Transaction {
                ref_block_num: 0,
                ref_block_prefix: 0,
                expiration: Default::default(),
                operations: Vec::new(),
                extensions: Default::default(),
            },
            signatures: Default::default(),
            signer_keys: Default::default(),
        };
        let vtx = VerifiedTransaction {
            trx: Arc::new(trx),
            id: TransactionId([n; 32]),
            packed_size: 0,
            signers: Signers::new(),
            merkle_leaf: [n; 32],
        };
        (vtx, Origin::Local { tag: n as u64 })
    }

    #[test]
    fn spare_lists_come_back_empty_with_their_room() {
        let spare = SpareLists::default();
        let fresh = spare.take(10);
        assert!(fresh.is_empty() && fresh.capacity() >= 10);
        let mut list = Vec::with_capacity(1000);
        list.extend((0..5).map(entry));
        let at = list.as_ptr();
        spare.give(list);
        let again = spare.take(10);
        assert!(again.is_empty(), "given back emptied");
        assert_eq!(again.as_ptr(), at, "the same memory");
        assert!(again.capacity() >= 1000);
        assert!(spare.take(0).capacity() == 0, "only one was waiting");
        for _ in 0..SPARE_LISTS + 3 {
            spare.give(Vec::with_capacity(8));
        }
        assert_eq!(
            spare.0.lock().len(),
            SPARE_LISTS,
            "at most this many are kept"
        );
    }
}
