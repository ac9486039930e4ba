//! Signing-key transitions (format.md §8.1): a new signing key that the old one vouches for,
//! a folder of transition notes walked from the key a verifier trusts, and anchors and
//! checkpoints opened with the key history instead of one key.

use std::path::Path;

use trailseal_core::note::{NoteSigner, NoteVerifier};
use trailseal_core::transition::{KeyValidity, Transition, TransitionProblem, walk_transitions};
use trailseal_core::{Timestamp, Unverifiable, UnverifiableReason, Verdict};

use crate::error::{Error, KeyError};
use crate::verify::{AnchorCheck, CheckpointCheck, open_anchor, open_checkpoint};

/// The file name ending of transition notes in a transitions folder.
pub const TRANSITION_EXT: &str = "transition";
/// The most transition files read from a folder.
const MAX_FILES: usize = 10_000;
/// The largest transition file read.
const MAX_FILE: u64 = 16 * 1024;

/// A new signing key named `name`, and the transition note that moves from `old` to it: the
/// new key signs from `effective` on, the old one until `old_until` (the overlap). Signed by
/// both keys.
pub fn rotate_signing_key(
    old: &NoteSigner,
    name: &str,
    effective: Timestamp,
    old_until: Timestamp,
) -> Result<(NoteSigner, String), Error> {
    let new = crate::signing::generate_signing_key(name)?;
    if new.verifier() == old.verifier() || name == old.name() {
        return Err(Error::Key(KeyError::Transition(
            "the new key needs another name than the old one".into(),
        )));
    }
    let note = Transition {
        from: old.verifier(),
        to: new.verifier(),
        effective,
        old_until,
    }
    .sign(old, &new)
    .map_err(|e| Error::Key(KeyError::Transition(e.to_string())))?;
    Ok((new, note))
}

/// The transition notes in `dir` (`*.transition`), as `(file name, text)`.
pub fn read_transitions(dir: &Path) -> Result<Vec<(String, String)>, Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: dir.display().to_string(),
        action: "read the key transitions",
        source,
    };
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == TRANSITION_EXT))
        .take(MAX_FILES + 1)
        .collect();
    if entries.len() > MAX_FILES {
        return Err(Error::Key(KeyError::Transition(format!(
            "{}: more than {MAX_FILES} transition files",
            dir.display()
        ))));
    }
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let mut text = String::new();
        let n = std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_FILE + 1).read_to_string(&mut text))
            .map_err(|source| Error::Io {
                path: path.display().to_string(),
                action: "read a key transition",
                source,
            })?;
        if n as u64 > MAX_FILE {
            return Err(Error::Key(KeyError::Transition(format!(
                "{}: larger than {MAX_FILE} bytes",
                path.display()
            ))));
        }
        out.push((e.file_name().to_string_lossy().into_owned(), text));
    }
    Ok(out)
}

/// The key history from `root` through the transitions in `dir`; a history that does not walk
/// is an `unverifiable` verdict (wrong public key): nothing it would vouch for can be used.
pub fn key_history(
    root: &NoteVerifier,
    dir: &Path,
) -> Result<Result<Vec<KeyValidity>, Verdict>, Error> {
    let notes = read_transitions(dir)?;
    Ok(
        walk_transitions(root, &notes).map_err(|p: TransitionProblem| {
            Verdict::Unverifiable(Unverifiable {
                reason: UnverifiableReason::WrongKey,
                detail: format!("the key transitions in {}: {p}", dir.display()),
            })
        }),
    )
}

/// Opens an anchor with the key history: it must carry a valid signature by a key whose
/// validity covers the anchor's time. One signed only by keys of the history outside their
/// validity is `unverifiable` (wrong public key), naming the key and its window.
pub fn open_anchor_with(
    label: &str,
    note: &str,
    keys: &[KeyValidity],
) -> Result<AnchorCheck, Verdict> {
    let mut outside = None;
    let mut first_error = None;
    for k in keys {
        match open_anchor(label, note, &k.key) {
            Ok(check) if k.covers(check.anchor.time) => return Ok(check),
            Ok(check) => {
                outside.get_or_insert_with(|| {
                    format!(
                        "anchor {label} (signed {}) is signed by {}, which is valid {} only",
                        check.anchor.time.to_rfc3339(),
                        k.key.to_key_string(),
                        k.window()
                    )
                });
            }
            Err(v) => {
                first_error.get_or_insert(v);
            }
        }
    }
    if let Some(detail) = outside {
        return Err(Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongKey,
            detail,
        }));
    }
    Err(first_error.unwrap_or_else(|| {
        Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongKey,
            detail: format!("anchor {label}: no key to open it with"),
        })
    }))
}

/// Opens a checkpoint with any key of the history (a checkpoint states no time).
pub fn open_checkpoint_with(
    label: &str,
    note: &str,
    keys: &[KeyValidity],
) -> Result<CheckpointCheck, Verdict> {
    let mut first_error = None;
    for k in keys {
        match open_checkpoint(label, note, &k.key) {
            Ok(check) => return Ok(check),
            Err(v) => {
                first_error.get_or_insert(v);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongKey,
            detail: format!("checkpoint {label}: no key to open it with"),
        })
    }))
}
