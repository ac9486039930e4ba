//! Signed tree heads to check the store's Merkle tree against, in the same verification as the
//! chain: C2SP checkpoints given to verify (each must state the store's tree at its size, and
//! no two may be a split view), the `tree` line of head anchors, and the witness quorum each
//! checkpoint must carry.
//!
//! They are checked once the chain and the tree verified, so the stored hashes they are
//! compared with are the ones the records give (§12.5).

use trailseal_core::checkpoint::{Checkpoint, CheckpointError};
use trailseal_core::cosignature::WitnessKey;
use trailseal_core::note::{NoteError, NoteVerifier};
use trailseal_core::tree::{
    Consistency, ConsistencyError, Frontier, FrontierCheck, TreeHead, check_consistency_with,
    check_head_against_frontier,
};
use trailseal_core::witness::{Quorum, evaluate_quorum};
use trailseal_core::{TamperKind, Tampered, Unverifiable, UnverifiableReason, Verdict};
use trailseal_store::{SnapshotHashes, SnapshotReader, StoreError, StoreState};

use super::anchors::AnchorCheck;

/// A signed checkpoint to check the store against, already opened with the log's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointCheck {
    pub checkpoint: Checkpoint,
    /// Where it came from, for messages (a file name).
    pub label: String,
    /// The note as given (its cosignatures are counted from it).
    pub(super) note: String,
    /// The key it opened with.
    pub(super) log: NoteVerifier,
}

impl std::fmt::Debug for WitnessQuorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessQuorum")
            .field("witnesses", &self.witnesses.len())
            .field("quorum", &self.quorum)
            .finish()
    }
}

/// The cosignatures every checkpoint must carry: at least `quorum` of the distinct `witnesses`.
#[derive(Clone)]
pub(super) struct WitnessQuorum {
    pub(super) witnesses: Vec<WitnessKey>,
    pub(super) quorum: usize,
}

/// Opens a checkpoint note with `public`. A note signed by another key, altered, with extension
/// lines or not a checkpoint at all cannot be used: an unverifiable verdict (reason `wrong
/// public key`), never skipped.
pub fn open_checkpoint(
    label: &str,
    note: &str,
    public: &NoteVerifier,
) -> Result<CheckpointCheck, Verdict> {
    let unusable = |detail: String| {
        Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongKey,
            detail,
        })
    };
    match Checkpoint::open(note, public) {
        Ok(checkpoint) => Ok(CheckpointCheck {
            checkpoint,
            label: label.to_owned(),
            note: note.to_owned(),
            log: public.clone(),
        }),
        Err(CheckpointError::Note(NoteError::NotSignedBy { .. })) => Err(unusable(format!(
            "checkpoint {label} is not signed by {} (another key)",
            public.to_key_string()
        ))),
        Err(e) => Err(unusable(format!("checkpoint {label} cannot be used: {e}"))),
    }
}

/// The verdict when a checkpoint lacks the witness quorum (or carries a cosignature by a
/// configured witness that does not verify), before the store is read.
pub(super) fn quorum_verdict(
    checkpoints: &[CheckpointCheck],
    policy: &WitnessQuorum,
) -> Option<Verdict> {
    let unmet = |detail: String| {
        Some(Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WitnessQuorum,
            detail,
        }))
    };
    for c in checkpoints {
        let label = &c.label;
        match evaluate_quorum(&c.note, &c.log, &policy.witnesses, policy.quorum) {
            Ok(Quorum::Met { .. }) => {}
            Ok(Quorum::NotMet { count, needed }) => {
                return unmet(format!(
                    "checkpoint {label}: witness quorum not met: {count} of the {needed} cosignatures needed"
                ));
            }
            Ok(_) => return unmet(format!("checkpoint {label}: witness quorum not met")),
            Err(e) => return unmet(format!("checkpoint {label}: {e}")),
        }
    }
    None
}

/// A signed tree head and what it came from.
struct Pin {
    /// For messages: "checkpoint a.cp", "anchor a.note (signed …)".
    source: String,
    head: TreeHead,
    /// The kind a different root at its size is.
    mismatch: TamperKind,
}

/// What the tree check of the signed heads needs from the verification.
pub(crate) struct Scanned {
    pub(crate) last_seq: Option<u64>,
    pub(crate) records_checked: u64,
}

/// Checks the anchors' `tree` lines and the checkpoints against the snapshot's tree (which
/// verified): `None` when they all hold, else the verdict.
pub(crate) fn check_tree_heads(
    location: &str,
    state: &StoreState,
    reader: &mut dyn SnapshotReader,
    anchors: &[AnchorCheck],
    checkpoints: &[CheckpointCheck],
    verified: &Scanned,
) -> Result<Option<Verdict>, StoreError> {
    let mut pins: Vec<Pin> = anchors
        .iter()
        .filter_map(|a| {
            a.anchor.tree.map(|head| Pin {
                source: format!("anchor {} (signed {})", a.label, a.anchor.time),
                head,
                mismatch: TamperKind::Tree,
            })
        })
        .collect();
    pins.extend(checkpoints.iter().map(|c| Pin {
        source: format!("checkpoint {}", c.label),
        head: TreeHead::of(&c.checkpoint),
        mismatch: TamperKind::Fork,
    }));
    if pins.is_empty() {
        return Ok(None);
    }
    let failed = |e: &dyn std::fmt::Display| StoreError::Tree {
        location: location.to_owned(),
        index: 0,
        problem: e.to_string(),
    };
    let (base, size) = state.tree.map_or((0, 0), |t| (t.base, t.size()));
    let frontier =
        Frontier::from_reader(size, &mut SnapshotHashes(reader)).map_err(|e| failed(&e))?;
    let tampered = |kind, seq: u64, detail: String| {
        Some(Verdict::Tampered(Tampered {
            first_bad_seq: seq,
            kind,
            records_checked: verified.records_checked,
            detail,
        }))
    };
    // The last seq a tree of `m` leaves covers.
    let last_of = |m: u64| base.saturating_add(m).saturating_sub(1);
    let mut checks = Vec::with_capacity(pins.len());
    for pin in &pins {
        checks.push(
            check_head_against_frontier(pin.head, &frontier, &mut SnapshotHashes(reader))
                .map_err(|e| failed(&e))?,
        );
    }
    // A split view names both checkpoints: it comes before what each says about the store.
    let holds: Vec<bool> = checks
        .iter()
        .skip(pins.len().saturating_sub(checkpoints.len()))
        .map(|c| *c == FrontierCheck::Consistent)
        .collect();
    if let Some((older, newer)) = split_view(checkpoints, &holds, reader).map_err(|e| failed(&e))? {
        let seq = last_of(older.checkpoint.size());
        let name = |c: &CheckpointCheck| {
            format!(
                "checkpoint {} ({} size {} root {})",
                c.label,
                c.checkpoint.origin(),
                c.checkpoint.size(),
                TreeHead::of(&c.checkpoint).root
            )
        };
        return Ok(tampered(
            TamperKind::Fork,
            seq,
            format!(
                "seq {seq}: split view: {} and {} are both signed by the log's key and are not consistent with each other",
                name(older),
                name(newer)
            ),
        ));
    }
    for (pin, check) in pins.iter().zip(checks) {
        let (m, root) = (pin.head.size, pin.head.root);
        let source = &pin.source;
        let verdict = match check {
            FrontierCheck::Consistent => continue,
            FrontierCheck::Fork { tree, .. } => {
                let seq = last_of(m);
                tampered(
                    pin.mismatch,
                    seq,
                    format!(
                        "seq {seq}: {source} states the Merkle tree root {root} at size {m}, the store's tree has {} there (a fork: the records up to seq {seq} are not the ones it was signed over)",
                        tree.root
                    ),
                )
            }
            FrontierCheck::AheadOfStore { tree_size, .. } => {
                let chain_end = verified.last_seq.map_or(0, |l| l.saturating_add(1));
                if state.tree.is_none() {
                    tampered(
                        TamperKind::Tree,
                        base,
                        format!(
                            "seq {base}: {source} pins the Merkle tree at size {m}, but the store has no tree (it was removed, or this is another store)"
                        ),
                    )
                } else if chain_end <= last_of(m) {
                    let seq = chain_end.max(base.saturating_add(tree_size));
                    tampered(
                        TamperKind::Truncated,
                        seq,
                        format!(
                            "seq {seq}: {source} pins the Merkle tree at size {m} (records to seq {}), the store's tree holds {tree_size} leaves and its chain ends before seq {seq}: records were removed (truncation, or a rollback to an older copy)",
                            last_of(m)
                        ),
                    )
                } else {
                    let seq = base.saturating_add(tree_size);
                    tampered(
                        TamperKind::Tree,
                        seq,
                        format!(
                            "seq {seq}: {source} pins the Merkle tree at size {m}, the store's tree holds only {tree_size} leaves though the chain holds those records: tree hashes were removed"
                        ),
                    )
                }
            }
            FrontierCheck::StoredHashesDisagree { tree_size, .. } => tampered(
                TamperKind::Tree,
                last_of(m),
                format!(
                    "seq {}: {source}: the store's tree hashes at size {m} do not lead to its root at size {tree_size}",
                    last_of(m)
                ),
            ),
            _ => tampered(
                TamperKind::Tree,
                last_of(m),
                format!(
                    "seq {}: {source}: cannot be compared with the store's tree",
                    last_of(m)
                ),
            ),
        };
        return Ok(verdict);
    }
    Ok(None)
}

/// Two checkpoints of one origin that are not consistent with each other (a split view), the
/// smaller first. `holds[i]`: checkpoint `i` states the store's tree. Equal sizes with different
/// roots need no proof; otherwise the consistency proof comes from the store's tree, which is
/// the larger checkpoint's tree only when that one holds, so only such pairs are compared (a
/// checkpoint that differs from the store is reported as its fork with the store).
fn split_view<'c>(
    checkpoints: &'c [CheckpointCheck],
    holds: &[bool],
    reader: &mut dyn SnapshotReader,
) -> Result<Option<(&'c CheckpointCheck, &'c CheckpointCheck)>, ConsistencyError<StoreError>> {
    for (j, b) in checkpoints.iter().enumerate() {
        for (i, a) in checkpoints.iter().enumerate().take(j) {
            let (older, newer) = if b.checkpoint.size() < a.checkpoint.size() {
                ((b, j), (a, i))
            } else {
                ((a, i), (b, j))
            };
            let (x, y) = (&older.0.checkpoint, &newer.0.checkpoint);
            if x.origin() != y.origin() {
                continue;
            }
            let held = |k: usize| holds.get(k).copied().unwrap_or(false);
            let fork = if x.size() == y.size() {
                x.root() != y.root()
            } else if held(newer.1) && !held(older.1) {
                matches!(
                    check_consistency_with(x, y, &mut SnapshotHashes(reader))?,
                    Consistency::Fork(_)
                )
            } else {
                false
            };
            if fork {
                return Ok(Some((older.0, newer.0)));
            }
        }
    }
    Ok(None)
}
