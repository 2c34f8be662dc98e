//! Typed rejections with the context a person needs: which operation, which account,
//! which amounts.

use crate::protocol::asset::MathError;
use crate::protocol::transaction::TransactionShapeError;
use crate::protocol::{TimePointSec, TransactionId};

/// Why one operation was rejected. Amounts are already formatted with their precision
/// and symbol, for example `10.00000 CORE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("insufficient balance: {account} has {has}, needs {needs}")]
    InsufficientBalance {
        account: String,
        has: String,
        needs: String,
    },
    #[error("insufficient fee: {required} is required, {paid} was offered")]
    InsufficientFee { required: String, paid: String },
    #[error("fee pool of {asset} holds {pool}, which cannot cover a fee worth {needed}")]
    InsufficientFeePool {
        asset: String,
        pool: String,
        needed: String,
    },
    #[error("unknown account {0}")]
    UnknownAccount(String),
    #[error("unknown asset {0}")]
    UnknownAsset(String),
    #[error("account name {0:?} is already taken")]
    NameTaken(String),
    #[error("asset symbol {0:?} is already taken")]
    SymbolTaken(String),
    #[error("{account} is not authorized to hold or move {asset} (whitelist/blacklist)")]
    NotAuthorizedForAsset { account: String, asset: String },
    #[error("{asset} is transfer-restricted: the issuer {issuer} must send or receive it")]
    TransferRestricted { asset: String, issuer: String },
    #[error("{account} is not the issuer of {asset} (the issuer is {issuer})")]
    NotIssuer {
        account: String,
        asset: String,
        issuer: String,
    },
    #[error("{account} must be a lifetime member to act as {role}")]
    NotLifetimeMember { account: String, role: &'static str },
    #[error("{account} must be a member to act as {role}")]
    NotMember { account: String, role: &'static str },
    #[error("{0}")]
    Rule(String),
    #[error("arithmetic: {0}")]
    Math(#[from] MathError),
    #[error("the {op} evaluator is not built yet in this release of Carbyne")]
    NotImplemented { op: &'static str },
}

/// Why a transaction was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("malformed transaction: {0}")]
    Shape(#[from] TransactionShapeError),
    #[error("transaction is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: u32 },
    #[error("transaction expired at {expiration}; the chain time is {now}")]
    Expired {
        expiration: TimePointSec,
        now: TimePointSec,
    },
    #[error(
        "transaction expiration {expiration} is more than {max_secs}s after the chain time {now}"
    )]
    ExpirationTooFar {
        expiration: TimePointSec,
        now: TimePointSec,
        max_secs: u32,
    },
    #[error("TaPoS mismatch: ref_block_num {ref_block_num} has prefix {expected:#010x} on this chain, the transaction names {got:#010x}")]
    TaposMismatch {
        ref_block_num: u16,
        expected: u32,
        got: u32,
    },
    #[error("duplicate transaction {0}")]
    Duplicate(TransactionId),
    #[error("missing {level} authority of {account}")]
    MissingAuthority {
        account: String,
        level: &'static str,
    },
    #[error("signature by {key} is not needed by any required authority")]
    IrrelevantSignature { key: String },
    #[error("the committee account may only act through proposals")]
    CommitteeNeedsProposal,
    #[error("the next block is full ({max} bytes): the transaction waits for a later block")]
    PendingFull { max: usize },
    #[error("operation {index} ({op}): {error}")]
    Operation {
        index: usize,
        op: &'static str,
        error: EvalError,
    },
}

/// Why a block was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block {num} does not build on the head {head}")]
    NotOnHead { num: u32, head: String },
    #[error("block timestamp {timestamp} is not after the head time {head_time}")]
    TimestampNotAfterHead {
        timestamp: TimePointSec,
        head_time: TimePointSec,
    },
    #[error("block timestamp {0} is not on a slot boundary")]
    NotOnSlot(TimePointSec),
    #[error("slot at {timestamp} belongs to witness {scheduled}, block names {named}")]
    WrongWitness {
        timestamp: TimePointSec,
        scheduled: String,
        named: String,
    },
    #[error("block is signed by {signer}, witness {witness} signs with {expected}")]
    WrongSigner {
        witness: String,
        signer: String,
        expected: String,
    },
    #[error("block is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: u32 },
    #[error("transaction {index} of the block: {error}")]
    Transaction { index: usize, error: TxError },
    #[error("the chain holds {depth} blocks of undo history; it refuses to advance past {max} until blocks become irreversible")]
    UndoHistoryFull { depth: u32, max: u32 },
    #[error("no block to pop: the head is irreversible")]
    NothingToPop,
    #[error("the number of transactions and their verification results differ")]
    VerificationMismatch,
}
