//! Cosignatures joined to a checkpoint note, and the quorum count.
//!
//! [`merge_cosignatures`] adds signature lines to the signature block of a note signed by the
//! log: the body is never changed, the log's signature stays first, the note's other lines
//! keep their order, and each added line replaces any earlier line by the same key (name and
//! key id), so the result holds one line per key (Go's `note.Open` and witnesses refuse two
//! lines by one trusted key). The result is opened again with the log's key before it is
//! returned.

use crate::base64;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::cosignature::{CosignatureError, WitnessKey, open_cosigned};
use crate::note::{NoteError, NoteVerifier, SignatureLine, split_signed};

/// Cosignature lines that cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    #[error("merge: the checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("merge: the cosignature lines are not note signature lines")]
    Lines,
    #[error("merge: a cosignature line is by the log's own key")]
    LogKey,
    #[error("merge: the merged note: {0}")]
    Merged(NoteError),
}

/// The text of one signature line, without its newline (the inverse of the note reader:
/// base64 is canonical, so this is the line as it was read).
pub(crate) fn line_text(line: &SignatureLine<'_>) -> String {
    let mut data = Vec::with_capacity(4 + line.signature.len());
    data.extend_from_slice(&line.key_hash.to_be_bytes());
    data.extend_from_slice(&line.signature);
    format!("\u{2014} {} {}", line.name, base64::encode(&data))
}

/// Adds `lines` (signature lines, each ending in a newline, as [`super::Outcome::Cosigned`]
/// holds them) to `note`, which must open with `log` as a checkpoint. See the module
/// documentation.
pub fn merge_cosignatures(
    note: &str,
    log: &NoteVerifier,
    lines: &str,
) -> Result<String, MergeError> {
    Checkpoint::open(note, log)?;
    let (body, existing) = split_signed(note).map_err(CheckpointError::from)?;
    let new = {
        // Read through the note reader: the same syntax rules as any signature block.
        let holder = format!("{body}\n{lines}");
        let (_, parsed) = split_signed(&holder).map_err(|_| MergeError::Lines)?;
        parsed
            .iter()
            .map(|l| ((l.name.to_owned(), l.key_hash), line_text(l)))
            .collect::<Vec<_>>()
    };
    let is_log = |name: &str, hash: u32| name == log.name() && hash == log.key_hash();
    if new.iter().any(|((n, h), _)| is_log(n, *h)) {
        return Err(MergeError::LogKey);
    }
    // The log's line first, then the others the note held, then the new ones; a key that
    // comes again keeps only its last line.
    let ordered: Vec<((String, u32), String)> = existing
        .iter()
        .filter(|l| is_log(l.name, l.key_hash))
        .chain(existing.iter().filter(|l| !is_log(l.name, l.key_hash)))
        .map(|l| ((l.name.to_owned(), l.key_hash), line_text(l)))
        .chain(new)
        .collect();
    let mut out = format!("{body}\n");
    for (i, (key, text)) in ordered.iter().enumerate() {
        if !ordered.iter().skip(i + 1).any(|(k, _)| k == key) {
            out.push_str(text);
            out.push('\n');
        }
    }
    // The body is the one signed; the log's signature still opens it.
    match Checkpoint::open(&out, log) {
        Ok(_) => Ok(out),
        Err(CheckpointError::Note(e)) => Err(MergeError::Merged(e)),
        Err(e) => Err(MergeError::Checkpoint(e)),
    }
}

/// Whether a note's cosignatures reach the quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Quorum {
    /// At least the quorum of distinct configured witnesses validly cosigned.
    Met { count: usize },
    /// Fewer did.
    NotMet { count: usize, needed: usize },
}

/// A quorum that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuorumError {
    #[error("witness quorum: 0 is no quorum")]
    Zero,
    #[error("witness quorum {quorum}: only {witnesses} distinct witness keys are configured")]
    Unreachable { quorum: usize, witnesses: usize },
    #[error(transparent)]
    Cosignature(#[from] CosignatureError),
}

/// Whether `quorum` can be evaluated over `witnesses`: at least 1 and at most the number of
/// distinct witness keys (one public key counts once, under any name), which is returned.
/// [`evaluate_quorum`] checks this first; a caller refuses an unusable quorum with it before
/// anything is read.
pub fn check_quorum(witnesses: &[WitnessKey], quorum: usize) -> Result<usize, QuorumError> {
    if quorum == 0 {
        return Err(QuorumError::Zero);
    }
    let mut keys: Vec<[u8; 32]> = witnesses.iter().map(WitnessKey::public_key).collect();
    keys.sort_unstable();
    keys.dedup();
    if quorum > keys.len() {
        return Err(QuorumError::Unreachable {
            quorum,
            witnesses: keys.len(),
        });
    }
    Ok(keys.len())
}

/// Opens `note` with the log's key and counts the distinct configured `witnesses` that
/// validly cosigned its body ([`open_cosigned`]: one witness counts once, whatever its lines
/// or names; a bad line by a configured key is an error). A quorum of 0, or one larger than
/// the number of distinct witness keys, is refused: it would be met by nothing, or never.
pub fn evaluate_quorum(
    note: &str,
    log: &NoteVerifier,
    witnesses: &[WitnessKey],
    quorum: usize,
) -> Result<Quorum, QuorumError> {
    check_quorum(witnesses, quorum)?;
    let (_, cosigned) = open_cosigned(note, log, witnesses)?;
    let count = cosigned.len();
    Ok(if count >= quorum {
        Quorum::Met { count }
    } else {
        Quorum::NotMet {
            count,
            needed: quorum,
        }
    })
}
