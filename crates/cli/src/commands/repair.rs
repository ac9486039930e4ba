//! `trailseal repair`.

use std::io::Write;

use trailseal::core::trace::TraceLimits;
use trailseal::{OpenMode, RepairReport, TornTail, Verdict};

use clap::Args;

use super::{load_key, open, stdout};
use crate::cli::{JsonArg, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, EXIT_TAMPERED, output};
use crate::json;
use crate::output::plural;

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print the result as one JSON object")))]
pub(crate) struct RepairArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Say what would be removed; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    #[command(flatten)]
    pub(crate) output: JsonArg,
}

/// A refusal keeps the library's message; its exit code is the verdict's, as for `verify`.
fn refused(e: trailseal::Error) -> CliError {
    match &e {
        trailseal::Error::NotRepairable { verdict, .. } => {
            let tampered = matches!(**verdict, Verdict::Tampered(_));
            let err = CliError::new(e.to_string()).hint(
                "`trailseal repair` only removes an interrupted write at the end of a store whose other records verify; `trailseal verify` shows the full verdict",
            );
            if tampered {
                err.exit(EXIT_TAMPERED)
            } else {
                err
            }
        }
        _ => e.into(),
    }
}

fn describe(tail: &TornTail) -> String {
    format!(
        "{} byte{} at line {} (byte {}), {}",
        tail.bytes,
        plural(tail.bytes),
        tail.line,
        tail.offset,
        match tail.claimed_seq {
            Some(seq) => format!("claiming seq {seq}"),
            None => "whose seq cannot be read".to_owned(),
        }
    )
}

fn records(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Verified(v) => match (v.first_seq, v.last_seq) {
            (Some(a), Some(b)) => format!(
                "{} record{} (seq {a} to {b})",
                v.records_checked,
                plural(v.records_checked)
            ),
            _ => "0 records".to_owned(),
        },
        other => other.detail(),
    }
}

pub(crate) fn run(args: &RepairArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let mode = if args.dry_run {
        OpenMode::Read
    } else {
        OpenMode::Write { create: false }
    };
    let mut log = open(&args.store, mode, TraceLimits::default())?.with_keyring(key);
    let report: RepairReport = log.repair(args.dry_run).map_err(refused)?;
    let location = trailseal::store::redact_location(&args.store.store);
    let text = if args.output.json {
        let status = match (&report.torn, report.removed) {
            (None, _) => "nothing to repair",
            (Some(_), true) => "repaired",
            (Some(_), false) => "would repair",
        };
        json::repaired(&report, status) + "\n"
    } else {
        match (&report.torn, report.removed) {
            (None, _) => format!(
                "nothing to repair: no interrupted write in {location}; {} verified\n",
                records(&report.verdict)
            ),
            (Some(tail), true) => format!(
                "repaired {location}: removed an interrupted write, {}; the {} before it verified\n",
                describe(tail),
                records(&report.verdict)
            ),
            (Some(tail), false) => format!(
                "would remove an interrupted write from {location}: {}; the {} before it verify (dry run: nothing changed)\n",
                describe(tail),
                records(&report.verdict)
            ),
        }
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(EXIT_OK)
}
