//! The input and output stages around the business-logic processor.
//!
//! This release has the verify stage's single-threaded core (decode, stateless checks,
//! ids, signing digests, signature checks); the pinned, batched LMAX pipeline with rings
//! and io_uring ingest is built on top of it.

pub mod ring;
pub mod verify;
