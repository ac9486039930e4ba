//! What an export adds for the store's Merkle tree (bundle format 3): the signed checkpoint of
//! the tree of the verified snapshot the bundle is made from, and for each disclosed record
//! the tree holds, its leaf, salt and inclusion proof in exactly that checkpoint's tree.

use std::io::Write;

use trailseal_core::bundle::{BundleTree, BundleWriter, EntryContent, EntryTree, Withheld};
use trailseal_core::checkpoint::{Checkpoint, tree_origin};
use trailseal_core::leaf::{Leaf, salt_for};
use trailseal_core::note::NoteSigner;
use trailseal_core::tree::{TreeError, prove_record, tree_hash};
use trailseal_core::{ChainKey, Hash32};
use trailseal_store::{SnapshotHashes, SnapshotReader, StoreError, StoredTree};

use crate::error::{BundleProblem, Error};

/// The checkpoint of the snapshot's tree the bundle embeds, named `tree_origin(origin)`:
/// `given` (a checkpoint note signed by `signer`'s key, with whatever cosignatures it carries)
/// when it is one of this tree, at its size; otherwise a new one, of the whole tree. `None`
/// when the store has no tree or an empty one (and nothing is given). The snapshot must have
/// verified.
pub(crate) fn bundle_tree(
    location: &str,
    tree: Option<StoredTree>,
    reader: &mut dyn SnapshotReader,
    signer: &NoteSigner,
    origin: &str,
    given: Option<&str>,
) -> Result<Option<BundleTree>, Error> {
    let problem = |problem| Error::Bundle {
        location: location.to_owned(),
        problem,
    };
    let Some(tree) = tree.filter(|t| t.size() > 0) else {
        return match given {
            None => Ok(None),
            Some(_) => Err(problem(BundleProblem::Tree(
                "the store has no tree: a tree checkpoint cannot be embedded".into(),
            ))),
        };
    };
    if let Some(note) = given {
        return given_tree(location, tree, reader, signer, origin, note).map(Some);
    }
    let root =
        tree_hash(tree.size(), &mut SnapshotHashes(reader)).map_err(|e| tree_error(location, e))?;
    let checkpoint = tree_origin(origin)
        .and_then(|o| Checkpoint::new(&o, tree.size(), root.0))
        .and_then(|c| c.sign(signer))
        .map_err(|e| problem(BundleProblem::Checkpoint(e)))?;
    Ok(Some(BundleTree {
        base: tree.base,
        checkpoint,
    }))
}

/// `note` as the bundle's tree checkpoint, once it is shown to be one of the store's tree:
/// signed by the bundle's key, named the bundle's tree origin, of a size the tree reaches,
/// with the root the stored hashes give at that size.
fn given_tree(
    location: &str,
    tree: StoredTree,
    reader: &mut dyn SnapshotReader,
    signer: &NoteSigner,
    origin: &str,
    note: &str,
) -> Result<BundleTree, Error> {
    let refused = |why: String| Error::Bundle {
        location: location.to_owned(),
        problem: BundleProblem::Tree(format!("the checkpoint to embed {why}")),
    };
    let checkpoint = Checkpoint::open(note, &signer.verifier()).map_err(|e| Error::Bundle {
        location: location.to_owned(),
        problem: BundleProblem::Checkpoint(e),
    })?;
    let expected = tree_origin(origin).map_err(|e| Error::Bundle {
        location: location.to_owned(),
        problem: BundleProblem::Checkpoint(e),
    })?;
    if checkpoint.origin() != expected {
        return Err(refused(format!(
            "names the log {}, the bundle's tree is {expected}",
            checkpoint.origin()
        )));
    }
    let size = checkpoint.size();
    if size > tree.size() {
        return Err(refused(format!(
            "is of a tree of {size} records, the store's holds {}: records it signed are gone (a rollback, or another store)",
            tree.size()
        )));
    }
    let root = tree_hash(size, &mut SnapshotHashes(reader)).map_err(|e| tree_error(location, e))?;
    if root.0 != *checkpoint.root() {
        return Err(refused(format!(
            "has another root than the store's tree at size {size}: a fork, or another store"
        )));
    }
    Ok(BundleTree {
        base: tree.base,
        checkpoint: note.to_owned(),
    })
}

/// A tree error while reading the snapshot's stored hashes.
pub(crate) fn tree_error(location: &str, e: TreeError<StoreError>) -> Error {
    match e {
        TreeError::Read(e) => Error::Store(e),
        other => Error::Bundle {
            location: location.to_owned(),
            problem: BundleProblem::Tree(other.to_string()),
        },
    }
}

/// An entry read from the snapshot, waiting for its proof.
#[derive(Debug)]
pub(crate) struct Pending {
    seq: u64,
    prev_hash: Vec<u8>,
    record_hash: Vec<u8>,
    content: PendingContent,
}

#[derive(Debug)]
enum PendingContent {
    Withheld(Withheld),
    /// The canonical trace, and the leaf when the tree holds the record.
    Disclosed {
        trace: Vec<u8>,
        leaf: Option<[u8; trailseal_core::leaf::LEAF_LEN]>,
    },
}

impl Pending {
    /// A withheld entry.
    pub(crate) fn withheld(seq: u64, prev: &[u8], rec: &[u8], why: Withheld) -> Self {
        Self {
            seq,
            prev_hash: prev.to_vec(),
            record_hash: rec.to_vec(),
            content: PendingContent::Withheld(why),
        }
    }

    /// A disclosed entry; `verified_trace` is what the record's MAC covers (and its leaf
    /// commits to), `trace` the canonical trace the bundle discloses.
    pub(crate) fn disclosed(
        key: &ChainKey,
        writer: &BundleWriter<'_>,
        seq: u64,
        prev: &[u8],
        rec: &[u8],
        verified_trace: &[u8],
        trace: &[u8],
    ) -> Self {
        let in_tree = writer.tree().is_some_and(|t| t.index_of(seq).is_some());
        let leaf = match (in_tree, Hash32::parse(prev), Hash32::parse(rec)) {
            (true, Some(p), Some(r)) => {
                Some(Leaf::for_record(key, seq, &p, &r, verified_trace).to_bytes())
            }
            // Not a hash: the writer refuses the entry.
            _ => None,
        };
        Self {
            seq,
            prev_hash: prev.to_vec(),
            record_hash: rec.to_vec(),
            content: PendingContent::Disclosed {
                trace: trace.to_vec(),
                leaf,
            },
        }
    }

    /// Writes the entry (with its proof, read through `reader`, when the tree holds it).
    pub(crate) fn write(
        self,
        key: &ChainKey,
        location: &str,
        writer: &mut BundleWriter<'_>,
        reader: &mut dyn SnapshotReader,
        out: &mut dyn Write,
    ) -> Result<(), Error> {
        let tree;
        let content = match &self.content {
            PendingContent::Withheld(w) => EntryContent::Withheld(*w),
            PendingContent::Disclosed { trace, leaf: None } => EntryContent::Disclosed(trace),
            PendingContent::Disclosed {
                trace,
                leaf: Some(leaf),
            } => {
                let (size, index) = writer
                    .tree()
                    .and_then(|t| Some((t.checkpoint.size(), t.index_of(self.seq)?)))
                    .ok_or_else(|| Error::Bundle {
                        location: location.to_owned(),
                        problem: BundleProblem::Tree(format!("seq {}: not in the tree", self.seq)),
                    })?;
                let proof = prove_record(size, index, &mut SnapshotHashes(reader))
                    .map_err(|e| tree_error(location, e))?;
                tree = EntryTree {
                    leaf: *leaf,
                    salt: salt_for(key, self.seq),
                    proof,
                };
                EntryContent::DisclosedInTree { trace, tree: &tree }
            }
        };
        let text = writer
            .entry(self.seq, &self.prev_hash, &self.record_hash, content)
            .map_err(|e| crate::bundle::bundle_error(location, e))?;
        out.write_all(text.as_bytes()).map_err(|source| Error::Io {
            path: location.to_owned(),
            action: "write the bundle",
            source,
        })
    }
}
