//! Inclusion proofs as `c2sp.org/tlog-proof@v1` files (format.md §12.1, §12.6), for exactly a
//! given checkpoint's size (also an older checkpoint's: the stored hashes hold every earlier
//! tree), and RFC 6962 consistency proofs between two sizes of a store's tree.

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::leaf::{Leaf, salt_for};
use trailseal_core::note::NoteVerifier;
use trailseal_core::tlog_proof::TlogProof;
use trailseal_core::tree::{HashReader, MerkleHash, check_record, stored_hash_index};
use trailseal_core::verify::{ContentCheck, ContentChecker, Flow, ScanItem};
use trailseal_core::{ChainKey, Hash32};

use super::TlogError;
use super::extra::ProofExtra;
use super::head::VerifiedTree;
use crate::error::Error;
use crate::log::AuditLog;

/// A proof file made by [`AuditLog::prove`].
#[derive(Debug, Clone)]
pub struct Proved {
    /// The proof file (its text: [`TlogProof::to_text`]).
    pub proof: TlogProof,
    /// The checkpoint it proves inclusion in (opened with the log's key).
    pub checkpoint: Checkpoint,
    /// The record's seq.
    pub seq: u64,
    /// Its leaf index (`seq −` the tree's base).
    pub index: u64,
    /// Whether the salt and the trace travel with it.
    pub with_trace: bool,
}

/// The record at `seq` of the snapshot, its MAC checked: its leaf and its canonical trace.
fn read_leaf(
    tree: &mut VerifiedTree<'_, '_>,
    key: Option<&ChainKey>,
    seq: u64,
) -> Result<(Leaf, Vec<u8>), Error> {
    let Some(key) = key else {
        return Err(Error::Tlog(TlogError::Record {
            seq,
            problem: "it is under a key that is not held".into(),
        }));
    };
    let mut found: Result<(Leaf, Vec<u8>), String> = Err("not stored (pruned?)".into());
    let mut checker = ContentChecker::new();
    tree.snapshot().scan(seq, &mut |item| {
        let record = match item {
            ScanItem::Record(r) => r,
            ScanItem::Malformed(m) => {
                found = Err(format!("{}: {}", m.location, m.problem));
                return Flow::Stop;
            }
        };
        if record.seq < seq {
            // A damaged row before it (read from seq 0 on): keep looking.
            return Flow::Continue;
        }
        if record.seq != seq {
            return Flow::Stop;
        }
        let hashes = Hash32::parse(record.prev_hash).zip(Hash32::parse(record.record_hash));
        found = match (hashes, checker.check(key, record)) {
            (Some((prev, hash)), ContentCheck::Ok) => {
                let trace = checker.verified_trace(record);
                Ok((
                    Leaf::for_record(key, seq, &prev, &hash, trace),
                    trace.to_vec(),
                ))
            }
            (None, _) => Err("its hashes are not 64 lowercase hex characters".into()),
            _ => Err("it does not verify with the secret (run `verify`)".into()),
        };
        Flow::Stop
    })?;
    found.map_err(|problem| Error::Tlog(TlogError::Record { seq, problem }))
}

impl AuditLog {
    /// A proof file that record `seq` is in the tree `checkpoint_note` (a checkpoint signed
    /// by `log_key`) describes, for exactly its size. Refused: a checkpoint that does not open
    /// with the key, one of a larger tree than the store holds
    /// ([`TlogError::CheckpointAhead`]), one whose root is not the store's tree root at its
    /// size ([`TlogError::Fork`]), a seq not among its leaves ([`TlogError::NotInTree`]), a
    /// record that does not verify or whose leaf is not the stored one. Needs the key (the
    /// leaf entry is recomputed from the record). With `with_trace`, the proof carries the
    /// record's salt and trace (§12.6): whoever holds it can check the trace.
    pub fn prove(
        &mut self,
        seq: u64,
        checkpoint_note: &str,
        log_key: &NoteVerifier,
        with_trace: bool,
    ) -> Result<Proved, Error> {
        let key = self.store_key()?;
        let ring = self.ring_for(&key);
        let checkpoint = Checkpoint::open(checkpoint_note, log_key).map_err(|source| {
            Error::Tlog(TlogError::Checkpoint {
                what: "the checkpoint".into(),
                source,
            })
        })?;
        self.with_tree(|tree| {
            let location = tree.location().to_owned();
            let head = tree.head();
            let size = checkpoint.size();
            if size > head.size {
                return Err(Error::Tlog(TlogError::CheckpointAhead {
                    location,
                    size,
                    tree_size: head.size,
                }));
            }
            let root = tree.root_at(size)?;
            if root.0 != *checkpoint.root() {
                return Err(Error::Tlog(TlogError::Fork {
                    location,
                    origin: checkpoint.origin().to_owned(),
                    size,
                    checkpoint_root: MerkleHash(*checkpoint.root()),
                    tree_root: root,
                }));
            }
            let not_in_tree = || {
                Error::Tlog(TlogError::NotInTree {
                    seq,
                    base: head.base,
                    size,
                })
            };
            let index = seq
                .checked_sub(head.base)
                .filter(|i| *i < size)
                .ok_or_else(not_in_tree)?;
            let keys = crate::keys::schedule(&ring, &key, &tree.state().retention);
            let key = keys.key_for(seq);
            let (leaf, trace) = read_leaf(tree, key, seq)?;
            let stored_at = stored_hash_index(0, index).ok_or_else(not_in_tree)?;
            let mut stored = [MerkleHash::default()];
            tree.hashes()?.read_hashes(&[stored_at], &mut stored)?;
            if stored != [leaf.hash()] {
                return Err(Error::Tlog(TlogError::Record {
                    seq,
                    problem: "its leaf is not the one the stored tree holds (run `verify`)".into(),
                }));
            }
            let hashes = tree.prove_record(size, index)?;
            // What is handed out must check: the proof against the signed root.
            if check_record(&hashes, size, &root, index, &leaf.hash()).is_err() {
                return Err(Error::Tlog(TlogError::Internal { location }));
            }
            let extra = ProofExtra {
                leaf: leaf.to_bytes(),
                salt: with_trace
                    .then(|| key.map(|key| salt_for(key, seq)))
                    .flatten(),
                trace: with_trace.then_some(trace),
            };
            let proof = TlogProof::new(
                Some(extra.to_bytes()),
                index,
                hashes.iter().map(|h| h.0).collect(),
                checkpoint_note.to_owned(),
            )
            .map_err(|source| Error::Tlog(TlogError::ProofFile { seq, source }))?;
            Ok(Proved {
                proof,
                checkpoint: checkpoint.clone(),
                seq,
                index,
                with_trace,
            })
        })
    }

    /// The RFC 6962 consistency proof from the store's tree of `old` leaves to its tree of
    /// `new` leaves (`0 < old <= new <=` the tree's size; empty when they are equal), read
    /// from the stored hashes as they are (no secret needed: a checker proves it against two
    /// signed checkpoints).
    pub fn consistency(&mut self, old: u64, new: u64) -> Result<Vec<MerkleHash>, Error> {
        self.with_tree(|tree| tree.prove_tree(old, new))
    }

    /// The store's tree as stored: base, size and root (no secret needed, nothing verified).
    pub fn tree_head(&mut self) -> Result<super::TreeHead, Error> {
        self.with_tree(|tree| Ok(tree.head()))
    }
}
