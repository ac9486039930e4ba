//! `trailseal`: record, verify, list and export tamper-evident audit logs of AI-agent actions.

mod cli;
mod commands;
mod error;
mod json;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}
