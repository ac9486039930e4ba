//! Ed25519 signing keys, signed head anchors, and verifying a store against anchors.

use std::path::Path;

use trailseal_core::Timestamp;
use trailseal_core::anchor::Anchor;
use trailseal_core::note::{NoteSigner, NoteVerifier};
use trailseal_core::retention::Receipt;
use zeroize::Zeroizing;

use crate::anchor_file::head_of;
use crate::error::{Error, KeyError, RetentionError};
use crate::log::AuditLog;
pub use crate::verify::open_anchor;

/// A new signing key named `name`, from 32 random bytes.
pub fn generate_signing_key(name: &str) -> Result<NoteSigner, Error> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(KeyError::Random)?;
    Ok(NoteSigner::from_seed(name, &seed).map_err(KeyError::Note)?)
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
    Ok(NoteSigner::parse(&text).map_err(|source| KeyError::File {
        path: path.display().to_string(),
        source,
    })?)
}

/// Reads a public key file (`<name>+<hash>+<key>`).
pub fn read_public_key(path: &Path) -> Result<NoteVerifier, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        action: "read the public key",
        source,
    })?;
    Ok(NoteVerifier::parse(&text).map_err(|source| KeyError::File {
        path: path.display().to_string(),
        source,
    })?)
}

impl AuditLog {
    /// A signed anchor of the store's current head. With `verify_first`, the whole chain is
    /// verified first and a store that does not verify is refused (an anchor vouches for what
    /// it signs). `now` is the anchor's time (the library reads no clock).
    ///
    /// The anchor also pins the store's Merkle tree (its `tree` line): the size the tree has in
    /// the same snapshot and the root its stored hashes give there. A tree that does not reach
    /// the head (records weaver-kernel appended, not yet brought in) is pinned as far as it
    /// goes (the `tree` size is then below `size − base`, `base` being the seq of leaf 0); a
    /// store without a tree gets no `tree` line.
    pub fn anchor(
        &mut self,
        signer: &NoteSigner,
        origin: &str,
        now: Timestamp,
        verify_first: bool,
    ) -> Result<(Anchor, String), Error> {
        let key = self.store_key()?;
        let location = self.location().to_owned();
        // The head signed is the one verified: both from one snapshot.
        let mut snapshot = if verify_first {
            self.verified_snapshot(&key, 1)?.0
        } else {
            self.store_mut().snapshot(1)?
        };
        let state = snapshot.state.clone();
        // The tree pinned is the one of the same snapshot (verified with it when asked).
        let tree = match snapshot.readers.first_mut() {
            Some(reader) => crate::verify::stored_head(&location, &state, reader.as_mut())?,
            None => None,
        };
        drop(snapshot);
        let (size, head_hash) = head_of(&location, &state)?;
        let retention = match state.retention.last() {
            Some(text) => {
                let index = state.retention.len() as u64 - 1;
                let r = Receipt::parse(text.as_bytes(), index as usize)
                    .map_err(RetentionError::Receipt)?;
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
            tree,
        };
        let note = anchor.sign(signer).map_err(KeyError::Anchor)?;
        Ok((anchor, note))
    }
}
