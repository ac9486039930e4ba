//! A proof file checked offline, with the log's public key alone (no secret, no store): the
//! checkpoint opens with the key (and is read only from the text the signature covers), the
//! index is below its size, the proof has exactly the RFC 6962 length, the leaf entry in
//! `extra` is a trailseal leaf whose hash the proof leads to the checkpoint's root, a
//! disclosed trace (in the file, or given) matches the leaf's commitment with the disclosed
//! salt, and, when witnesses are configured, a quorum of them cosigned the checkpoint.

use std::fmt;

use trailseal_core::checkpoint::{Checkpoint, CheckpointError};
use trailseal_core::cosignature::WitnessKey;
use trailseal_core::json::{self, Mode};
use trailseal_core::leaf::{Leaf, check_trace};
use trailseal_core::note::NoteVerifier;
use trailseal_core::tlog_proof::TlogProof;
use trailseal_core::tree::{MerkleHash, check_record};
use trailseal_core::witness::{Quorum, QuorumError, check_quorum, evaluate_quorum};
use trailseal_core::{PreparedTrace, TraceLimits};

use super::extra::ProofExtra;

/// What a verified proof file showed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProofCheck {
    /// The checkpoint's origin, size and root.
    pub origin: String,
    pub size: u64,
    pub root: MerkleHash,
    /// The leaf index proven.
    pub index: u64,
    /// The seq the leaf entry states (the store's tree base is not known offline: leaf
    /// `index` is seq `base + index`).
    pub seq: u64,
    /// Whether a trace was checked against the leaf's commitment.
    pub trace_checked: bool,
    /// How many distinct configured witnesses cosigned (`None`: no witness configured).
    pub cosignatures: Option<usize>,
}

/// Why a proof file is `tampered`: stable codes ([`ProofTamper::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofTamper {
    /// The checkpoint opened, but the rest is not a trailseal proof for it: an index not
    /// below its size, a proof of the wrong length, an `extra` or a leaf that is not what
    /// trailseal writes.
    Malformed,
    /// The proof does not lead from the leaf to the checkpoint's root.
    Proof,
    /// A trace does not match the leaf's commitment.
    Trace,
}

impl ProofTamper {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Proof => "proof",
            Self::Trace => "trace",
        }
    }
}

/// Why a proof file is `unverifiable`: stable codes ([`ProofUnverifiable::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofUnverifiable {
    /// Not a `c2sp.org/tlog-proof@v1` file, or its checkpoint is not a checkpoint.
    Unreadable,
    /// The checkpoint does not open with the public key (another log, or altered).
    WrongKey,
    /// The file carries no leaf entry (no `extra`): nothing to check the proof with.
    NoLeaf,
    /// A trace was given, but the file carries no salt to check it with.
    NoSalt,
    /// Fewer configured witnesses than the quorum cosigned, or a configured witness's
    /// cosignature line does not verify (as `verify --checkpoint` and `verify-bundle` say it).
    WitnessQuorum,
}

impl ProofUnverifiable {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreadable => "unreadable proof",
            Self::WrongKey => "wrong public key",
            Self::NoLeaf => "no leaf entry",
            Self::NoSalt => "no salt",
            Self::WitnessQuorum => "witness quorum not met",
        }
    }
}

/// The verdict on a proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofVerdict {
    /// Everything listed in [`ProofCheck`] was checked.
    Verified(ProofCheck),
    /// The file states something its own signed checkpoint contradicts.
    Tampered { kind: ProofTamper, detail: String },
    /// It could not be checked.
    Unverifiable {
        reason: ProofUnverifiable,
        detail: String,
    },
}

impl ProofVerdict {
    /// `verified`, `tampered` or `unverifiable`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Verified(_) => "verified",
            Self::Tampered { .. } => "tampered",
            Self::Unverifiable { .. } => "unverifiable",
        }
    }

    /// Whether the proof verified.
    pub fn is_verified(&self) -> bool {
        matches!(self, Self::Verified(_))
    }
}

impl fmt::Display for ProofVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Verified(c) => write!(
                f,
                "leaf {} (seq {}) is in {} at size {} (root {})",
                c.index,
                c.seq,
                c.origin,
                c.size,
                c.root.to_base64()
            ),
            Self::Tampered { detail, .. } | Self::Unverifiable { detail, .. } => {
                f.write_str(detail)
            }
        }
    }
}

fn tampered(kind: ProofTamper, detail: impl Into<String>) -> ProofVerdict {
    ProofVerdict::Tampered {
        kind,
        detail: detail.into(),
    }
}

fn unverifiable(reason: ProofUnverifiable, detail: impl Into<String>) -> ProofVerdict {
    ProofVerdict::Unverifiable {
        reason,
        detail: detail.into(),
    }
}

/// The canonical forms a trace file may have: its canonical JSON, and the trace as
/// trailseal canonicalises what it appends ([`PreparedTrace`], defaults filled in).
fn trace_forms(text: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    if let Ok(doc) = json::parse(text) {
        let mut out = Vec::new();
        if doc.root().write_canonical(&mut out, Mode::Python).is_ok() {
            forms.push(out);
        }
    }
    let limits = TraceLimits {
        max_bytes: text.len().max(TraceLimits::default().max_bytes),
        ..TraceLimits::default()
    };
    if let Ok(prepared) = PreparedTrace::parse(text, &limits) {
        forms.push(prepared.canonical().as_bytes().to_vec());
    }
    forms
}

/// [`verify_proof`] of a proof file's bytes: a file that is not UTF-8 text is
/// [`ProofUnverifiable::Unreadable`].
pub fn verify_proof_bytes(
    bytes: &[u8],
    log: &NoteVerifier,
    trace: Option<&[u8]>,
    witnesses: &[WitnessKey],
    quorum: usize,
) -> Result<ProofVerdict, QuorumError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => verify_proof(text, log, trace, witnesses, quorum),
        Err(_) => Ok(unverifiable(
            ProofUnverifiable::Unreadable,
            "the proof file is not UTF-8 text",
        )),
    }
}

/// Checks the proof file `text` with the log's key `log` (see the module documentation).
/// `trace`: a trace file's bytes, checked against the leaf with the salt the file carries.
/// `witnesses` and `quorum`: the checkpoint must carry valid cosignatures by at least
/// `quorum` distinct ones (none configured: no witness check). The only error is a quorum
/// that cannot be evaluated (0, or more than the distinct witness keys): a usage error.
pub fn verify_proof(
    text: &str,
    log: &NoteVerifier,
    trace: Option<&[u8]>,
    witnesses: &[WitnessKey],
    quorum: usize,
) -> Result<ProofVerdict, QuorumError> {
    if !witnesses.is_empty() {
        // A quorum of 0 or beyond the keys configured is refused before anything is read.
        check_quorum(witnesses, quorum)?;
    }
    let proof = match TlogProof::parse(text) {
        Ok(p) => p,
        Err(e) => return Ok(unverifiable(ProofUnverifiable::Unreadable, e.to_string())),
    };
    let checkpoint = match Checkpoint::open(proof.checkpoint_note(), log) {
        Ok(c) => c,
        Err(CheckpointError::Note(e)) => {
            return Ok(unverifiable(
                ProofUnverifiable::WrongKey,
                format!("the checkpoint does not open with the public key: {e}"),
            ));
        }
        Err(e) => {
            return Ok(unverifiable(
                ProofUnverifiable::Unreadable,
                format!("the checkpoint: {e}"),
            ));
        }
    };
    // Index below the size, exactly the proof length the index and size need.
    if let Err(e) = proof.open_checkpoint(log) {
        return Ok(tampered(ProofTamper::Malformed, e.to_string()));
    }
    let Some(extra) = proof.extra() else {
        return Ok(unverifiable(
            ProofUnverifiable::NoLeaf,
            "the proof file carries no leaf entry (no extra line): nothing to check the proof with",
        ));
    };
    let extra = match ProofExtra::parse(extra) {
        Ok(e) => e,
        Err(e) => return Ok(tampered(ProofTamper::Malformed, e.to_string())),
    };
    let leaf = match Leaf::parse(&extra.leaf) {
        Ok(l) => l,
        Err(e) => return Ok(tampered(ProofTamper::Malformed, format!("extra: {e}"))),
    };
    let index = proof.index();
    let root = MerkleHash(*checkpoint.root());
    let hashes: Vec<MerkleHash> = proof.hashes().iter().copied().map(MerkleHash).collect();
    if let Err(e) = check_record(&hashes, checkpoint.size(), &root, index, &leaf.hash()) {
        return Ok(tampered(
            ProofTamper::Proof,
            format!(
                "leaf {index} (seq {}): {e}: the leaf entry or the proof hashes were altered, or the proof is for another index",
                leaf.seq
            ),
        ));
    }
    let mut trace_checked = false;
    let given = trace.map(trace_forms);
    if extra.trace.is_some() || given.is_some() {
        let Some(salt) = &extra.salt else {
            return Ok(unverifiable(
                ProofUnverifiable::NoSalt,
                format!(
                    "seq {}: the proof file carries no salt: the trace cannot be checked (make the proof with `prove --with-trace`)",
                    leaf.seq
                ),
            ));
        };
        if let Some(embedded) = &extra.trace
            && !check_trace(&leaf, salt, embedded)
        {
            return Ok(tampered(
                ProofTamper::Trace,
                format!(
                    "seq {}: the trace in the proof file does not match the leaf's commitment",
                    leaf.seq
                ),
            ));
        }
        if let Some(forms) = &given
            && !forms.iter().any(|t| check_trace(&leaf, salt, t))
        {
            return Ok(tampered(
                ProofTamper::Trace,
                format!(
                    "seq {}: the trace given does not match the leaf's commitment",
                    leaf.seq
                ),
            ));
        }
        trace_checked = true;
    }
    let mut cosignatures = None;
    if !witnesses.is_empty() {
        match evaluate_quorum(proof.checkpoint_note(), log, witnesses, quorum) {
            Ok(Quorum::Met { count }) => cosignatures = Some(count),
            Ok(Quorum::NotMet { count, needed }) => {
                return Ok(unverifiable(
                    ProofUnverifiable::WitnessQuorum,
                    format!(
                        "witness quorum not met: {count} of the configured witnesses cosigned the checkpoint, {needed} needed"
                    ),
                ));
            }
            Ok(_) => {
                return Ok(unverifiable(
                    ProofUnverifiable::WitnessQuorum,
                    "witness quorum not met",
                ));
            }
            Err(QuorumError::Cosignature(e)) => {
                // A cosignature that does not verify proves nothing: the same verdict as a
                // missing one, and as `verify --checkpoint` and `verify-bundle` give it.
                return Ok(unverifiable(
                    ProofUnverifiable::WitnessQuorum,
                    format!("witness quorum not met: {e}"),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(ProofVerdict::Verified(ProofCheck {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root,
        index,
        seq: leaf.seq,
        trace_checked,
        cosignatures,
    }))
}
