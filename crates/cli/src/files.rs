//! Writing a command's output file: atomically, and never over a different file silently.

use std::path::Path;

use trailseal::store::atomic::WriteError;
pub(crate) use trailseal::store::atomic::Written;

use crate::error::CliError;

/// [`trailseal::store::atomic::write_once`]: `bytes` as the new file `path` (mode `mode`; a
/// temporary file linked into place, so an existing file or symbolic link is never replaced
/// or followed). A file already there holding exactly `bytes` is left as it is; anything else
/// there is refused.
pub(crate) fn write_once(path: &Path, mode: u32, bytes: &[u8]) -> Result<Written, CliError> {
    trailseal::store::atomic::write_once(path, mode, bytes).map_err(|e| match e {
        WriteError::Exists => CliError::new(format!(
            "{}: already exists; nothing was written",
            path.display()
        ))
        .hint("choose another --out, or remove the file first"),
        e => CliError::new(format!("{}: {e}", path.display())),
    })
}
