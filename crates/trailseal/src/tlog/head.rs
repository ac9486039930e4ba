//! One snapshot of a store and the tree it holds: what every checkpoint, tile and proof is
//! read from. [`AuditLog::with_verified_tree`] verifies the snapshot first (with the chain
//! secret) and refuses one that does not verify: a checkpoint is signed only over what was
//! checked. [`AuditLog::with_tree`] reads the tree as stored, for proofs, which the reader
//! checks against a signed checkpoint anyway.

use trailseal_core::tree::{MerkleHash, TreeError, prove_record, prove_tree, tree_hash};
use trailseal_core::{Caveat, Verified};
use trailseal_store::{Snapshot, SnapshotHashes, StoreError};

use super::TlogError;
use crate::error::Error;
use crate::log::AuditLog;

/// A store's tree as one snapshot holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// The seq of the record that is leaf 0.
    pub base: u64,
    /// The number of leaves (records `base .. base + size`).
    pub size: u64,
    /// The root of the tree of `size` leaves (`SHA-256("")` for none).
    pub root: MerkleHash,
}

/// One snapshot of a store, its tree's head, and (from [`AuditLog::with_verified_tree`])
/// the verdict it verified with.
pub struct VerifiedTree<'v, 's> {
    location: &'v str,
    snapshot: &'v mut Snapshot<'s>,
    head: TreeHead,
    verified: Option<Verified>,
}

impl std::fmt::Debug for VerifiedTree<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTree")
            .field("location", &self.location)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

/// A tree function's error, for the store at `location`: read errors are the store's.
pub(crate) fn tree_error(location: &str, e: TreeError<StoreError>) -> Error {
    match e {
        TreeError::Read(e) => Error::Store(e),
        TreeError::Input(source) => Error::Tlog(TlogError::Input {
            location: location.to_owned(),
            source,
        }),
        _ => Error::Tlog(TlogError::Internal {
            location: location.to_owned(),
        }),
    }
}

impl<'s> VerifiedTree<'_, 's> {
    /// The tree's base, size and root.
    pub fn head(&self) -> TreeHead {
        self.head
    }

    /// The verdict the snapshot verified with (`None` from [`AuditLog::with_tree`]).
    pub fn verified(&self) -> Option<&Verified> {
        self.verified.as_ref()
    }

    /// The records of the snapshot the tree does not cover (the caveat `tree-incomplete`):
    /// how many, and the first one's seq. Only known for a verified snapshot.
    pub fn not_in_tree(&self) -> Option<(u64, u64)> {
        self.verified
            .as_ref()?
            .caveats
            .iter()
            .find_map(|c| match c {
                Caveat::TreeIncomplete { count, first_seq } => Some((*count, *first_seq)),
                _ => None,
            })
    }

    /// The store's location, as messages name it.
    pub fn location(&self) -> &str {
        self.location
    }

    /// The snapshot itself (its records, for entries and leaves).
    pub fn snapshot(&mut self) -> &mut Snapshot<'s> {
        self.snapshot
    }

    /// The snapshot's stored hashes, for the core's tree functions.
    pub fn hashes(&mut self) -> Result<SnapshotHashes<'_>, Error> {
        let location = self.location;
        match self.snapshot.readers.first_mut() {
            Some(reader) => Ok(SnapshotHashes(reader.as_mut())),
            None => Err(Error::Store(StoreError::Io {
                location: location.to_owned(),
                action: "read the snapshot",
                source: std::io::Error::other("the snapshot has no reader"),
            })),
        }
    }

    /// The tree's root at `size` leaves (at most the tree's size).
    pub fn root_at(&mut self, size: u64) -> Result<MerkleHash, Error> {
        self.within(size)?;
        let location = self.location;
        tree_hash(size, &mut self.hashes()?).map_err(|e| tree_error(location, e))
    }

    /// The RFC 6962 consistency proof from `old` to `new` leaves (`0 < old <= new <=` the
    /// tree's size).
    pub fn prove_tree(&mut self, old: u64, new: u64) -> Result<Vec<MerkleHash>, Error> {
        self.within(new)?;
        let location = self.location;
        prove_tree(new, old, &mut self.hashes()?).map_err(|e| tree_error(location, e))
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn prove_record(&mut self, size: u64, index: u64) -> Result<Vec<MerkleHash>, Error> {
        self.within(size)?;
        let location = self.location;
        prove_record(size, index, &mut self.hashes()?).map_err(|e| tree_error(location, e))
    }

    /// The snapshot's state (its retention log, start, tree).
    pub(crate) fn state(&self) -> &trailseal_store::StoreState {
        &self.snapshot.state
    }

    /// Refuses a size beyond the tree's.
    fn within(&self, size: u64) -> Result<(), Error> {
        if size > self.head.size {
            return Err(Error::Tlog(TlogError::SizeAhead {
                location: self.location.to_owned(),
                size,
                tree_size: self.head.size,
            }));
        }
        Ok(())
    }
}

impl AuditLog {
    /// Opens one snapshot of the store, verifies it with the log's key (a store that does not
    /// verify is [`Error::NotVerified`]), and runs `f` on it and its tree. What `f` signs or
    /// proves is what was verified.
    pub fn with_verified_tree<T>(
        &mut self,
        f: impl FnOnce(&mut VerifiedTree<'_, '_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let key = self.store_key()?;
        let location = self.location().to_owned();
        let (mut snapshot, verified) = self.verified_snapshot(&key, 1)?;
        run_on(&location, &mut snapshot, Some(verified), f)
    }

    /// Opens one snapshot of the store and runs `f` on it and its tree as stored, unverified
    /// (no secret needed): for proofs, which are checked against a signed checkpoint.
    pub fn with_tree<T>(
        &mut self,
        f: impl FnOnce(&mut VerifiedTree<'_, '_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let location = self.location().to_owned();
        let mut snapshot = self.store_mut().snapshot(1)?;
        run_on(&location, &mut snapshot, None, f)
    }
}

fn run_on<T>(
    location: &str,
    snapshot: &mut Snapshot<'_>,
    verified: Option<Verified>,
    f: impl FnOnce(&mut VerifiedTree<'_, '_>) -> Result<T, Error>,
) -> Result<T, Error> {
    let state = &snapshot.state;
    let (base, size) = match state.tree {
        Some(t) => (t.base, t.size()),
        None => (state.start.next_seq, 0),
    };
    let mut tree = VerifiedTree {
        location,
        snapshot,
        head: TreeHead {
            base,
            size,
            root: MerkleHash::empty_tree(),
        },
        verified,
    };
    tree.head.root = tree.root_at(size)?;
    f(&mut tree)
}
