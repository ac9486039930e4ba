//! `trailseal completions SHELL`: generated from the same clap definition the parser uses, so
//! it never drifts from the real flags.

use std::io::Write;

use clap::{Args, CommandFactory};

use super::stdout;
use crate::cli::Cli;
use crate::error::{CliError, EXIT_OK, output};

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

pub(crate) fn run(args: &CompletionsArgs) -> Result<u8, CliError> {
    let mut command = Cli::command();
    let mut out = stdout();
    clap_complete::generate(args.shell, &mut command, "trailseal", &mut out);
    out.flush().map_err(output)?;
    Ok(EXIT_OK)
}
