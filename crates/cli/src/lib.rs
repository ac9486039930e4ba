//! The `trailseal` command line as a library: [`run`] parses arguments and runs the command,
//! returning its exit code. The `trailseal` binary and the Python package's `trailseal` entry
//! point both call it, so they are the same program.

mod cli;
mod commands;
mod error;
mod files;
pub mod json;
mod output;

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

/// Exit code: verified, or the command succeeded.
pub const EXIT_OK: u8 = error::EXIT_OK;
/// Exit code: tampering was detected.
pub const EXIT_TAMPERED: u8 = error::EXIT_TAMPERED;
/// Exit code: unverifiable, a usage error or a failure.
pub const EXIT_ERROR: u8 = error::EXIT_ERROR;

/// Runs the command line given by `args` (the first is the program name) and returns its exit
/// code: [`EXIT_OK`], [`EXIT_TAMPERED`] or [`EXIT_ERROR`]. Messages go to standard output and
/// standard error as the binary prints them; nothing exits the process.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are "errors" that print to standard output and succeed.
            let _ = e.print();
            let _ = std::io::stdout().flush();
            return if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
        }
    };
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    };
    let _ = std::io::stdout().flush();
    code
}
