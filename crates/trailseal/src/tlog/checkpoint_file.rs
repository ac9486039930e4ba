//! A checkpoint file kept up to date: written new, or over a checkpoint of the same log that
//! the new one extends (shown with a consistency proof from the store) or restates; anything
//! else there is refused, and a checkpoint the store's tree does not extend (a rollback, a
//! fork) is left in place as the evidence it is.

use std::io::Write;
use std::path::Path;

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::note::NoteVerifier;
use trailseal_core::tree::{MerkleHash, check_tree};
use trailseal_store::atomic::{AtomicFile, PUBLIC, Perms, WriteError};

use crate::error::Error;
use crate::log::AuditLog;

/// What [`AuditLog::write_checkpoint_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointWrite {
    /// The file was created.
    Created,
    /// It held this checkpoint already: left as it is.
    Unchanged,
    /// It held the same checkpoint (same size and root): rewritten with the cosignatures.
    Rewritten,
    /// It held a smaller checkpoint of the same log, which the new one extends (proven).
    Replaced { old_size: u64 },
}

/// Why a checkpoint file was not written. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointFileError {
    /// The file cannot be looked at, read or written.
    #[error("{path}: {problem}")]
    Io { path: String, problem: String },
    /// The file holds something that is not a checkpoint of this log (another key, another
    /// origin, not a checkpoint at all).
    #[error("{path}: holds {what}; nothing was written")]
    Foreign { path: String, what: String },
    /// The file holds a signed checkpoint of this log that the store's tree does not extend:
    /// the store was rolled back or forked. The file is evidence and is left as it is.
    #[error("{path}: {why}; the file is left as it is")]
    Fork { path: String, why: String },
    /// The consistency proof could not be read from the store.
    #[error(transparent)]
    Log(#[from] Error),
}

impl AuditLog {
    /// Writes `note` (the signed note of `new`, possibly cosigned) to `path`: a new file
    /// (mode 0644), or over a checkpoint of the same log (it opens with `verifier`, for the
    /// same origin) that `new` extends (checked with a consistency proof from the store) or
    /// restates (rewritten only when `cosigned` and the text differs). A checkpoint there of a
    /// larger tree, or of another root, is [`CheckpointFileError::Fork`]; anything else there
    /// is [`CheckpointFileError::Foreign`].
    pub fn write_checkpoint_file(
        &mut self,
        path: &Path,
        note: &str,
        new: &Checkpoint,
        verifier: &NoteVerifier,
        cosigned: bool,
    ) -> Result<CheckpointWrite, CheckpointFileError> {
        let shown = path.display().to_string();
        let io = |problem: String| CheckpointFileError::Io {
            path: shown.clone(),
            problem,
        };
        let existing = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(format!("{e}; nothing was written"))),
            Ok(m) if !m.file_type().is_file() => {
                return Err(io("not a regular file; nothing was written".into()));
            }
            Ok(m) => Some((
                m,
                std::fs::read_to_string(path)
                    .map_err(|e| io(format!("{e}; nothing was written")))?,
            )),
        };
        let write = |perms: Perms<'_>, replace: bool| -> Result<(), CheckpointFileError> {
            let failed = |e: WriteError| io(e.to_string());
            let mut file = AtomicFile::create(path, perms).map_err(failed)?;
            file.writer()
                .write_all(note.as_bytes())
                .map_err(|e| io(format!("{e}; nothing was written")))?;
            if replace {
                file.replace().map_err(failed)
            } else {
                file.create_new().map_err(failed)
            }
        };
        let Some((meta, text)) = existing else {
            write(Perms::Mode(PUBLIC), false)?;
            return Ok(CheckpointWrite::Created);
        };
        let foreign = |what: String| CheckpointFileError::Foreign {
            path: shown.clone(),
            what,
        };
        let old = Checkpoint::open(&text, verifier).map_err(|e| {
            foreign(format!(
                "something that is not a checkpoint of this key ({e})"
            ))
        })?;
        if old.origin() != new.origin() {
            return Err(foreign(format!(
                "a checkpoint of another log ({})",
                old.origin()
            )));
        }
        let fork = |why: String| CheckpointFileError::Fork {
            path: shown.clone(),
            why,
        };
        if old.size() > new.size() {
            return Err(fork(format!(
                "holds a checkpoint of size {}, the store's tree has only {} leaves (records removed, or a rollback)",
                old.size(),
                new.size()
            )));
        }
        if old.size() == new.size() {
            if old.root() != new.root() {
                return Err(fork(format!(
                    "fork: holds another checkpoint of size {} (root {}, the store's is {})",
                    old.size(),
                    MerkleHash(*old.root()).to_base64(),
                    MerkleHash(*new.root()).to_base64()
                )));
            }
            if !cosigned || text == note {
                return Ok(CheckpointWrite::Unchanged);
            }
            write(Perms::SameAs(&meta), true)?;
            return Ok(CheckpointWrite::Rewritten);
        }
        let proof = self.consistency(old.size(), new.size())?;
        let consistent = check_tree(
            &proof,
            new.size(),
            &MerkleHash(*new.root()),
            old.size(),
            &MerkleHash(*old.root()),
        );
        if let Err(e) = consistent {
            return Err(fork(format!(
                "fork: holds a checkpoint of size {} that the store's tree does not extend ({e})",
                old.size()
            )));
        }
        write(Perms::SameAs(&meta), true)?;
        Ok(CheckpointWrite::Replaced {
            old_size: old.size(),
        })
    }
}
