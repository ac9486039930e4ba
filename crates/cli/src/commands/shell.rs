//! `trailseal completions SHELL` and `trailseal man`: generated from the same clap definition
//! the parser uses, so they never drift from the real flags.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

use super::stdout;
use crate::cli::{Cli, CompletionsArgs};
use crate::error::{CliError, output};

pub(crate) fn completions(args: &CompletionsArgs) -> Result<ExitCode, CliError> {
    let mut command = Cli::command();
    let mut out = stdout();
    clap_complete::generate(args.shell, &mut command, "trailseal", &mut out);
    out.flush().map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn man() -> Result<ExitCode, CliError> {
    let mut out = stdout();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(output)?;
    out.flush().map_err(output)?;
    Ok(ExitCode::SUCCESS)
}
