//! Signed C2SP checkpoints of a store's tree (format.md §12.1), alone or cosigned by
//! witnesses (§12.4): from one verified snapshot, of the size its tree has.

use std::ops::ControlFlow;
use std::path::Path;

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::note::NoteSigner;
use trailseal_store::{StoreExt, TreeSync};

use super::TlogError;
use super::head::{TreeHead, VerifiedTree};
use crate::error::Error;
use crate::log::AuditLog;
use crate::witness::{CosignError, CosignOptions, Cosigning, Event, WitnessEndpoint, cosign};

/// A checkpoint signed by the log's key.
#[derive(Debug, Clone)]
pub struct TreeCheckpoint {
    /// What it states: origin, size, root.
    pub checkpoint: Checkpoint,
    /// The signed note (the checkpoint's three lines, a blank line, the log's signature).
    pub note: String,
    /// The tree it was made of (its base: the seq of leaf 0).
    pub head: TreeHead,
    /// Records of the verified snapshot the tree does not cover (how many, the first seq):
    /// the checkpoint does not vouch for them.
    pub not_in_tree: Option<(u64, u64)>,
}

fn sign(
    tree: &VerifiedTree<'_, '_>,
    signer: &NoteSigner,
    origin: &str,
) -> Result<TreeCheckpoint, Error> {
    let head = tree.head();
    if head.size == 0 {
        return Err(Error::Tlog(TlogError::EmptyTree {
            location: tree.location().to_owned(),
        }));
    }
    let checkpoint_error = |source| {
        Error::Tlog(TlogError::Checkpoint {
            what: format!("checkpoint of {}", tree.location()),
            source,
        })
    };
    let checkpoint = Checkpoint::new(origin, head.size, head.root.0).map_err(checkpoint_error)?;
    let note = checkpoint.sign(signer).map_err(checkpoint_error)?;
    Ok(TreeCheckpoint {
        checkpoint,
        note,
        head,
        not_in_tree: tree.not_in_tree(),
    })
}

impl AuditLog {
    /// Brings the store's tree up to its head (records appended by weaver-kernel, or before
    /// the store had a tree; each checked before it is hashed in). Needs the key and a store
    /// opened for writing.
    pub fn sync_tree(&mut self) -> Result<TreeSync, Error> {
        let key = self.store_key()?;
        Ok(self.store_mut().sync_tree(&key)?)
    }

    /// A signed checkpoint of the store's tree, from one snapshot verified with the log's key
    /// (a store that does not verify is refused, [`Error::NotVerified`]; an empty tree is
    /// [`TlogError::EmptyTree`]). `origin` is the checkpoint's origin (by default
    /// [`trailseal_core::checkpoint::tree_origin`] of the anchor origin).
    pub fn checkpoint(
        &mut self,
        signer: &NoteSigner,
        origin: &str,
    ) -> Result<TreeCheckpoint, Error> {
        self.with_verified_tree(|tree| sign(tree, signer, origin))
    }

    /// [`AuditLog::checkpoint`], then submitted to `witnesses` ([`crate::witness::cosign()`],
    /// its state in `state_path`) with consistency proofs read from the same snapshot. The
    /// outer error is the checkpoint's; the inner result is the submission's (its
    /// [`CosignError::QuorumNotMet`] carries the note with the cosignatures obtained).
    pub fn cosigned_checkpoint(
        &mut self,
        signer: &NoteSigner,
        origin: &str,
        witnesses: &[WitnessEndpoint],
        state_path: &Path,
        options: &CosignOptions,
        observer: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
    ) -> Result<(TreeCheckpoint, Result<Cosigning, CosignError>), Error> {
        let verifier = signer.verifier();
        self.with_verified_tree(|tree| {
            let made = sign(tree, signer, origin)?;
            let mut prove = |old: u64, size: u64| tree.prove_tree(old, size);
            let result = cosign(
                &made.note, &verifier, witnesses, state_path, &mut prove, options, observer,
            );
            Ok((made, result))
        })
    }
}
