//! Writing a command's output file: atomically, and never over a different file silently.

use std::path::Path;

use trailseal::store::atomic::{WriteError, write_new};

use crate::error::CliError;

/// What [`write_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// The file was created.
    Created,
    /// The file held exactly these bytes already: left as it is.
    Unchanged,
}

/// Writes `bytes` as the new file `path` (mode `mode`; a temporary file linked into place,
/// so an existing file or symbolic link is never replaced or followed). A file already there
/// holding exactly `bytes` is left as it is; anything else there is refused.
pub(crate) fn write_once(path: &Path, mode: u32, bytes: &[u8]) -> Result<Written, CliError> {
    match write_new(path, mode, bytes) {
        Ok(()) => Ok(Written::Created),
        Err(WriteError::Exists) => {
            let same = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
                && std::fs::read(path).is_ok_and(|held| held == bytes);
            if same {
                Ok(Written::Unchanged)
            } else {
                Err(CliError::new(format!(
                    "{}: already exists; nothing was written",
                    path.display()
                ))
                .hint("choose another --out, or remove the file first"))
            }
        }
        Err(e) => Err(CliError::new(format!("{}: {e}", path.display()))),
    }
}
