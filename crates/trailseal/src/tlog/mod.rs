//! The transparency log of a store (format.md §12): signed C2SP checkpoints of its Merkle
//! tree, inclusion proofs as `c2sp.org/tlog-proof@v1` files, consistency proofs, and checking
//! a proof file offline.
//!
//! - [`head`]: one snapshot of the store, verified (or not), and its tree's size and root
//!   ([`VerifiedTree`]): everything signed or proven is read from it.
//! - [`checkpoint`](mod@checkpoint): [`AuditLog::checkpoint`](crate::AuditLog::checkpoint),
//!   also cosigned by witnesses; [`checkpoint_file`]: a checkpoint file kept up to date
//!   ([`AuditLog::write_checkpoint_file`](crate::AuditLog::write_checkpoint_file)).
//! - [`prove`]: [`AuditLog::prove`](crate::AuditLog::prove) and
//!   [`AuditLog::consistency`](crate::AuditLog::consistency).
//! - [`extra`]: what a proof file's `extra` carries (the leaf entry, the salt, the trace).
//! - [`verify_proof`](mod@verify_proof): [`verify_proof()`], a proof file checked with the
//!   log's public key alone; [`ProofVerdict`].
//! - [`tiles`]: [`AuditLog::write_tiles`](crate::AuditLog::write_tiles), the tree published as
//!   C2SP tlog-tiles, incrementally.

pub mod checkpoint;
pub mod checkpoint_file;
mod error;
pub mod extra;
pub mod head;
pub mod prove;
mod tile_dir;
pub mod tiles;
pub mod verify_proof;

pub use checkpoint::TreeCheckpoint;
pub use checkpoint_file::{CheckpointFileError, CheckpointWrite};
pub use error::TlogError;
pub use extra::{ProofExtra, ProofExtraError};
pub use head::{TreeHead, VerifiedTree};
pub use prove::Proved;
pub use tiles::{TilesError, TilesReport};
pub use verify_proof::{
    ProofCheck, ProofTamper, ProofUnverifiable, ProofVerdict, verify_proof, verify_proof_bytes,
};
