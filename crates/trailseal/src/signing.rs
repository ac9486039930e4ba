//! Ed25519 signing keys, signed head anchors, and verifying a store against anchors.

use std::path::Path;

use trailseal_core::anchor::Anchor;
use trailseal_core::note::{NoteError, NoteSigner, NoteVerifier};
use trailseal_core::retention::Receipt;
use trailseal_core::{Timestamp, Unverifiable, UnverifiableReason, Verdict};
use zeroize::Zeroizing;

use crate::anchor_file::head_of;
use crate::log::{AuditLog, Error};
use crate::verify::{AnchorCheck, Progress, verify_store_anchored};

/// A new signing key named `name`, from 32 random bytes.
pub fn generate_signing_key(name: &str) -> Result<NoteSigner, Error> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| Error::Key {
        detail: format!("cannot draw random bytes: {e}"),
    })?;
    NoteSigner::from_seed(name, &seed).map_err(|e| Error::Key {
        detail: e.to_string(),
    })
}

/// Reads a signing key file (Go's `PRIVATE+KEY+…` format). The message never shows the key.
///
/// A file every user may write is refused (anyone could have put their own key there, and
/// anchors and bundles would then vouch for what they chose); one others may read is used,
/// and [`crate::secret::file_is_shared`] tells the caller to warn.
pub fn read_signing_key(path: &Path) -> Result<NoteSigner, Error> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.display().to_string(),
        action: "read the signing key",
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // The mode of the file opened, not of whatever the path names later.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(io)?.permissions().mode();
        if mode & 0o002 != 0 {
            return Err(Error::WritableKeyFile {
                path: path.display().to_string(),
                mode: mode & 0o7777,
            });
        }
    }
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text).map_err(io)?;
    NoteSigner::parse(&text).map_err(|e| Error::Key {
        detail: format!("{}: {e}", path.display()),
    })
}

/// Reads a public key file (`<name>+<hash>+<key>`).
pub fn read_public_key(path: &Path) -> Result<NoteVerifier, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        action: "read the public key",
        source,
    })?;
    NoteVerifier::parse(&text).map_err(|e| Error::Key {
        detail: format!("{}: {e}", path.display()),
    })
}

/// Opens an anchor note with `public`: a note signed by another key, or altered, is an
/// unverifiable verdict (the anchor cannot be used), not tampering of the store.
pub fn open_anchor(label: &str, note: &str, public: &NoteVerifier) -> Result<AnchorCheck, Verdict> {
    let unusable = |detail: String| {
        Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongKey,
            detail,
        })
    };
    match Anchor::open(note, public) {
        Ok(anchor) => Ok(AnchorCheck {
            anchor,
            label: label.to_owned(),
        }),
        Err(trailseal_core::anchor::AnchorError::Note(NoteError::NotSignedBy { .. })) => {
            Err(unusable(format!(
                "anchor {label} is not signed by {} (another key)",
                public.to_key_string()
            )))
        }
        Err(e) => Err(unusable(format!("anchor {label} cannot be used: {e}"))),
    }
}

impl AuditLog {
    /// A signed anchor of the store's current head. With `verify_first`, the whole chain is
    /// verified first and a store that does not verify is refused (an anchor vouches for what
    /// it signs). `now` is the anchor's time (the library reads no clock).
    pub fn anchor(
        &mut self,
        signer: &NoteSigner,
        origin: &str,
        now: Timestamp,
        verify_first: bool,
    ) -> Result<(Anchor, String), Error> {
        let key = self.key().cloned().ok_or(Error::NoSecret)?;
        let threads = self.threads();
        let location = self.location().to_owned();
        // The head signed is the one verified: both from one snapshot.
        let mut snapshot = self
            .store_mut()
            .snapshot(if verify_first { threads } else { 1 })?;
        if verify_first {
            let verdict = crate::verify::verify_snapshot(
                &location,
                &mut snapshot,
                &key,
                threads,
                &mut |_| {},
                None,
                &[],
            );
            if !verdict.is_verified() {
                return Err(Error::NotVerified {
                    verdict: Box::new(verdict),
                });
            }
        }
        let state = snapshot.state.clone();
        drop(snapshot);
        let (size, head_hash) = head_of(&state)?;
        let retention = match state.retention.last() {
            Some(text) => {
                let index = state.retention.len() as u64 - 1;
                let r = Receipt::parse(text.as_bytes(), index as usize).map_err(|e| {
                    Error::Retention {
                        detail: format!("retention {e}"),
                    }
                })?;
                Some((index, r.mac))
            }
            None => None,
        };
        let anchor = Anchor {
            origin: origin.to_owned(),
            size,
            head_hash,
            time: now,
            key_id: key.key_id(),
            retention,
        };
        let note = anchor.sign(signer).map_err(|e| Error::Key {
            detail: e.to_string(),
        })?;
        Ok((anchor, note))
    }

    /// Verifies the chain and checks it against signed anchors (label, note text), opened with
    /// `public`.
    pub fn verify_with_anchors(
        &mut self,
        anchors: &[(String, String)],
        public: &NoteVerifier,
        progress: &mut dyn FnMut(Progress),
    ) -> Verdict {
        let mut checks = Vec::with_capacity(anchors.len());
        for (label, note) in anchors {
            match open_anchor(label, note, public) {
                Ok(check) => checks.push(check),
                Err(verdict) => return verdict,
            }
        }
        let key = self.key().cloned();
        let threads = self.threads();
        verify_store_anchored(self.store_mut(), key.as_ref(), threads, progress, &checks)
    }
}
