//! `trailseal`: record, verify, list and export tamper-evident audit logs of AI-agent actions.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(trailseal_cli::run(std::env::args_os()))
}
