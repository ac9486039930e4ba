//! `trailseal canonical`: the canonical form of JSON values read one a line from stdin.

use std::io::{BufRead, Write};

use trailseal::core::json;

use super::stdout;
use crate::error::{CliError, EXIT_OK, output};

pub(crate) fn run() -> Result<u8, CliError> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(stdout());
    for (i, line) in stdin.split(b'\n').enumerate() {
        let line = line.map_err(|e| CliError::new(format!("stdin: cannot read: {e}")))?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        let canonical = json::canonicalize(line).map_err(|e| {
            CliError::new(format!("line {}: {e}", i + 1))
                .hint("each line must be one JSON value; NaN, Infinity and lone surrogates have no canonical form")
        })?;
        out.write_all(canonical.as_bytes()).map_err(output)?;
        out.write_all(b"\n").map_err(output)?;
    }
    out.flush().map_err(output)?;
    Ok(EXIT_OK)
}
