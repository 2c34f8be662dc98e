//! Block production in one call: assemble the header over the pending transactions,
//! hash and sign it, and hand it to the chain. Tests and tools use this synchronous
//! path; the running node seals in the BLP (`pipeline::blp`) and signs in the output
//! stage (`pipeline::output`).

use crate::chain::{BlockContext, BlockError, Chain};
pub use crate::pipeline::output::WitnessKeys;
use crate::protocol::block::merkle_root;
use crate::protocol::codec::encode;
use crate::protocol::{BlockHeader, SignedBlock, SignedTransaction};

/// Seals the pending transactions `txs` (exactly those applied to the pending state, in
/// order) into the block at `slot`. Returns `Ok(None)` when this node does not hold the
/// scheduled witness's key.
pub fn produce_block(
    chain: &mut Chain,
    keys: &WitnessKeys,
    slot: u32,
    txs: Vec<SignedTransaction>,
) -> Result<Option<(SignedBlock, BlockContext)>, BlockError> {
    let when = chain.slot_time(slot);
    let witness = chain.scheduled_witness(slot);
    let signing_key = chain
        .store
        .witnesses
        .get(witness.0)
        .expect("scheduled witnesses exist")
        .signing_key;
    let Some(key) = keys.get(&signing_key) else {
        return Ok(None);
    };
    let header = BlockHeader {
        previous: chain.store.dynamic().head_block_id,
        timestamp: when,
        witness,
        transaction_merkle_root: merkle_root(&txs),
        extensions: Default::default(),
    };
    let witness_signature = key.sign(&header.signing_digest(&chain.chain_id()).0);
    let block = SignedBlock {
        header,
        witness_signature,
        transactions: txs,
    };
    let ctx = BlockContext {
        id: block.id(),
        signer: signing_key,
        packed_size: encode(&block).len(),
    };
    chain.seal_pending_block(&block.header, &ctx)?;
    Ok(Some((block, ctx)))
}
