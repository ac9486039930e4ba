//! Anchor files are write-once: an anchor, once written, is never replaced — not by a later
//! anchor for the same size (which is how a truncation followed by new appends would erase the
//! anchor that proves it), not by a rename over it, on any path that writes anchors.
//!
//! A new anchor is written to a temporary file in the target's folder, made durable, and then
//! hard-linked to its final name, which fails if that name exists; the folder is then synced.
//! When the name exists, its anchor is compared instead: the same size and head is the same
//! statement (nothing to do); another head for the same size is a conflict, reported as the
//! tampering it proves.

use std::path::{Path, PathBuf};

use trailseal_core::anchor::Anchor;
use trailseal_core::note::{NoteSigner, NoteVerifier};
use trailseal_core::{Hash32, TamperKind, Tampered, Timestamp, Verdict};
use trailseal_store::atomic::{PRIVATE, WriteError, write_new};
use trailseal_store::{StoreError, StoreState};

use crate::error::Error;
use crate::log::AuditLog;
use trailseal_core::start::StartKind;
use trailseal_core::verify::{Flow, ScanItem};

/// The name an anchor of `size` records takes in an anchor folder.
pub fn anchor_file_name(size: u64) -> String {
    format!("anchor-{size:012}.note")
}

/// The size an anchor folder's file name states, for names [`anchor_file_name`] makes.
pub fn size_of_anchor_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("anchor-")?.strip_suffix(".note")?;
    if digits.len() < 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What [`write_anchor_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorWrite {
    /// The anchor was written.
    Created,
    /// The path already holds an anchor of the same size and head: it was left as it is.
    AlreadyPresent,
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.display().to_string(),
        action,
        source,
    }
}

/// The tampering an anchor proves when the store, whose chain ends before seq `end`, now holds
/// `held` (`None`: no such record) where the anchor vouches for its head.
fn conflict(path: &Path, anchor: &Anchor, held: Option<&[u8]>, end: u64) -> Error {
    let label = path.display();
    let head_seq = anchor.head_seq().unwrap_or(0);
    let tampered = match held {
        None if end > head_seq => Tampered {
            first_bad_seq: head_seq,
            kind: TamperKind::Truncated,
            records_checked: 0,
            detail: format!(
                "seq {head_seq}: anchor {label} vouches for seq {head_seq}, which the store no longer holds (records were removed)"
            ),
        },
        None => Tampered {
            first_bad_seq: end,
            kind: TamperKind::Truncated,
            records_checked: 0,
            detail: format!(
                "seq {end}: anchor {label} vouches for seq {head_seq}, but the chain ends {}: records {end} to {head_seq} were removed (truncation, or a rollback to an older copy)",
                end.checked_sub(1)
                    .map_or_else(|| "before any record".to_owned(), |l| format!("at seq {l}"))
            ),
        },
        Some(_) => Tampered {
            first_bad_seq: head_seq,
            kind: TamperKind::Link,
            records_checked: 0,
            detail: format!(
                "seq {head_seq}: record_hash differs from the one anchor {label} signed (the chain was truncated and rewritten after it was anchored)"
            ),
        },
    };
    Error::AnchorConflict {
        path: label.to_string(),
        verdict: Box::new(Verdict::Tampered(tampered)),
    }
}

/// Compares the anchor already at `path` with `anchor`.
fn compare_existing(
    path: &Path,
    existing: &str,
    anchor: &Anchor,
    public: &NoteVerifier,
) -> Result<AnchorWrite, Error> {
    let exists = |what: String| Error::AnchorExists {
        path: path.display().to_string(),
        what,
    };
    let old = Anchor::open(existing, public)
        .map_err(|e| exists(format!("something that is not an anchor of this key ({e})")))?;
    if old.origin != anchor.origin || old.key_id != anchor.key_id {
        return Err(exists(format!(
            "an anchor of another log ({}, key id {})",
            old.origin, old.key_id
        )));
    }
    if old.size != anchor.size {
        return Err(exists(format!("the anchor of size {}", old.size)));
    }
    if old.head_hash != anchor.head_hash {
        return Err(conflict(
            path,
            &old,
            Some(anchor.head_hash.as_bytes()),
            anchor.size,
        ));
    }
    Ok(AnchorWrite::AlreadyPresent)
}

fn read_existing(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, "read the existing anchor")(e)),
    }
}

/// Writes the signed `note` of `anchor` to `path` unless something is there already, never
/// replacing a file. An existing anchor of the same size and head is left as it is
/// ([`AnchorWrite::AlreadyPresent`]); one with another head is [`Error::AnchorConflict`] (the
/// tampering it proves); anything else there is [`Error::AnchorExists`]. `public` opens the
/// existing file (the signer's public key).
pub fn write_anchor_once(
    path: &Path,
    anchor: &Anchor,
    note: &str,
    public: &NoteVerifier,
) -> Result<AnchorWrite, Error> {
    // Another writer may create the name at any point: whatever is there then is compared.
    let compare_now = || {
        let existing = read_existing(path)?.unwrap_or_default();
        compare_existing(path, &existing, anchor, public)
    };
    if let Some(existing) = read_existing(path)? {
        return compare_existing(path, &existing, anchor, public);
    }
    // Written beside it (mode 0600) and linked into place: a link never replaces its target
    // (nor follows a symbolic link there), so another writer that got there first, between
    // the check above and now, is compared instead.
    match write_new(path, PRIVATE, note.as_bytes()) {
        Ok(()) => Ok(AnchorWrite::Created),
        Err(WriteError::Exists) => compare_now(),
        Err(source) => Err(Error::Write {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The size and head hash an anchor of the store's current state states.
pub(crate) fn head_of(location: &str, state: &StoreState) -> Result<(u64, Hash32), Error> {
    match &state.head {
        Some((seq, hash)) => Ok((
            seq.saturating_add(1),
            Hash32::parse(hash).ok_or_else(|| StoreError::BadHead {
                location: location.to_owned(),
                seq: *seq,
                problem: "its record_hash is not a hash".into(),
            })?,
        )),
        None => Ok((
            state.start.next_seq,
            if state.start.kind == StartKind::Genesis {
                Hash32::GENESIS
            } else {
                Hash32::parse(&state.start.prev_hash).unwrap_or(Hash32::GENESIS)
            },
        )),
    }
}

impl AuditLog {
    /// Anchors the store's head into the anchor folder `dir`, as [`anchor_file_name`], write-once
    /// ([`write_anchor_once`]). Returns the anchor, its path and what was done.
    pub fn anchor_into_dir(
        &mut self,
        dir: &Path,
        signer: &NoteSigner,
        origin: &str,
        now: Timestamp,
    ) -> Result<(Anchor, PathBuf, AnchorWrite), Error> {
        let (anchor, note) = self.anchor(signer, origin, now, false)?;
        let path = dir.join(anchor_file_name(anchor.size));
        let done = write_anchor_once(&path, &anchor, &note, &signer.verifier())?;
        Ok((anchor, path, done))
    }

    /// Checks the store against the newest anchor in the anchor folder `dir` before anything
    /// is appended: the store must still hold the head that anchor vouches for. A store that
    /// ends before it is [`Error::AnchorConflict`] with a `truncated` verdict, one that holds
    /// another record there a `link` verdict. Only the newest anchor is read (`verify` with the
    /// folder's anchors checks them all); a folder that does not exist holds none.
    pub fn check_anchor_dir(&mut self, dir: &Path, public: &NoteVerifier) -> Result<(), Error> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(dir, "read the anchor folder")(e)),
        };
        let mut newest: Option<(u64, PathBuf)> = None;
        for entry in entries {
            let entry = entry.map_err(io(dir, "read the anchor folder"))?;
            let name = entry.file_name();
            if let Some(size) = name.to_str().and_then(size_of_anchor_file_name)
                && newest.as_ref().is_none_or(|(n, _)| size > *n)
            {
                newest = Some((size, entry.path()));
            }
        }
        let Some((size, path)) = newest else {
            return Ok(());
        };
        let text = read_existing(&path)?.unwrap_or_default();
        let anchor = Anchor::open(&text, public).map_err(|e| Error::AnchorExists {
            path: path.display().to_string(),
            what: format!("an anchor that cannot be checked with this key ({e})"),
        })?;
        if anchor.size != size {
            return Err(Error::AnchorExists {
                path: path.display().to_string(),
                what: format!("the anchor of size {} (it was renamed)", anchor.size),
            });
        }
        let state = self.store_mut().state()?;
        let (current, head) = head_of(self.location(), &state)?;
        let Some(head_seq) = anchor.head_seq() else {
            return Ok(());
        };
        if anchor.size > current {
            return Err(conflict(&path, &anchor, None, current));
        }
        let held = if anchor.size == current {
            Some(head.as_bytes().to_vec())
        } else if head_seq < state.start.next_seq {
            // Pruned since: `verify` checks it against the retention log.
            return Ok(());
        } else {
            self.record_hash_at(head_seq)?
        };
        match held {
            Some(h) if h == anchor.head_hash.as_bytes() => self.check_anchor_tree(&path, anchor),
            held => Err(conflict(&path, &anchor, held.as_deref(), current)),
        }
    }

    /// The store's tree must still have the root the anchor's `tree` line pins at its size
    /// (format.md §9): else [`Error::AnchorConflict`] with that verdict (kind `tree`, or
    /// `truncated`). The stored hashes are not recomputed here (`verify` does that).
    fn check_anchor_tree(&mut self, path: &Path, anchor: Anchor) -> Result<(), Error> {
        if anchor.tree.is_none() {
            return Ok(());
        }
        let location = self.location().to_owned();
        let mut snapshot = self.store_mut().snapshot(1)?;
        let state = snapshot.state.clone();
        let Some(reader) = snapshot.readers.first_mut() else {
            return Ok(());
        };
        let label = path.display().to_string();
        let scanned = crate::verify::Scanned {
            last_seq: state.head.as_ref().map(|(seq, _)| *seq),
            records_checked: 0,
        };
        let checks = [crate::verify::AnchorCheck { anchor, label }];
        match crate::verify::check_tree_heads(
            &location,
            &state,
            reader.as_mut(),
            &checks,
            &[],
            &scanned,
        )? {
            None => Ok(()),
            Some(verdict) => Err(Error::AnchorConflict {
                path: path.display().to_string(),
                verdict: Box::new(verdict),
            }),
        }
    }

    /// The stored `record_hash` of the record at `seq`, if the store holds it.
    fn record_hash_at(&mut self, seq: u64) -> Result<Option<Vec<u8>>, Error> {
        let mut found = None;
        self.store_mut().scan(seq, &mut |item| match item {
            ScanItem::Record(r) if r.seq == seq => {
                found = Some(r.record_hash.to_vec());
                Flow::Stop
            }
            ScanItem::Record(r) if r.seq > seq => Flow::Stop,
            _ => Flow::Continue,
        })?;
        Ok(found)
    }
}
