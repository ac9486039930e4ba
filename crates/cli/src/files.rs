//! Reading a command's input file with a size limit; writing its output file atomically,
//! never over a different file silently.

use std::io::Read;
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

/// At most `limit + 1` bytes of `path` (so that a larger file is seen as larger).
pub(crate) fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::new(format!("{}: cannot open: {e}", path.display())))?;
    let mut out = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| CliError::new(format!("{}: cannot read: {e}", path.display())))?;
    Ok(out)
}
