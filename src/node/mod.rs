//! The node: wires the chain to the clock, the producer keys and (in later releases) the
//! pipeline, storage, RPC and p2p.

pub mod config;
pub mod dev;
pub mod producer;
