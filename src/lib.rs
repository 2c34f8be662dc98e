//! Carbyne: a Graphene-style DPoS validator appliance built the LMAX way.
//!
//! Dependencies point one way: `protocol` ← `chain` ← `pipeline` ← `profile` ← `node`. The chain is
//! a pure state machine; the pipeline does the hashing and signature checks before it;
//! the node wires them to the clock and the outside world.

pub mod bench;
pub mod chain;
pub mod node;
pub mod pipeline;
pub mod profile;
pub mod protocol;
pub mod rpc;
pub mod storage;
pub mod test_utils;
pub mod wallet;
