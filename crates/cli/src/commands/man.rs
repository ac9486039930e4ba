//! `trailseal man`: the manual page, generated from the same clap definition the parser uses,
//! so it never drifts from the real flags.

use std::io::Write;

use clap::CommandFactory;

use super::stdout;
use crate::cli::Cli;
use crate::error::{CliError, EXIT_OK, output};

pub(crate) fn run() -> Result<u8, CliError> {
    let mut out = stdout();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(output)?;
    out.flush().map_err(output)?;
    Ok(EXIT_OK)
}
