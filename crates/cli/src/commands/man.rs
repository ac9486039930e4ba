//! `trailseal man`: the manual page, generated from the same clap definition the parser uses,
//! so it never drifts from the real flags.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use super::stdout;
use crate::cli::Cli;
use crate::error::{CliError, output};

pub(crate) fn run() -> Result<ExitCode, CliError> {
    let mut out = stdout();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(output)?;
    out.flush().map_err(output)?;
    Ok(ExitCode::SUCCESS)
}
