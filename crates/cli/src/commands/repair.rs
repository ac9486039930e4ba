//! `trailseal repair`.

use std::io::Write;
use std::process::ExitCode;

use trailseal::core::trace::TraceLimits;
use trailseal::{OpenMode, RepairReport, TornTail, Verdict};

use super::{load_key, open, stdout};
use crate::cli::RepairArgs;
use crate::error::{CliError, EXIT_TAMPERED, output};
use crate::output::JsonObject;

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

fn tail_json(tail: &TornTail) -> String {
    JsonObject::new()
        .num("line", tail.line)
        .num("offset", tail.offset)
        .num("bytes", tail.bytes)
        .opt_num("claimed_seq", tail.claimed_seq)
        .finish()
}

fn describe(tail: &TornTail) -> String {
    format!(
        "{} byte{} at line {} (byte {}), {}",
        tail.bytes,
        if tail.bytes == 1 { "" } else { "s" },
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
                if v.records_checked == 1 { "" } else { "s" }
            ),
            _ => "0 records".to_owned(),
        },
        other => other.detail(),
    }
}

pub(crate) fn repair(args: &RepairArgs) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let mode = if args.dry_run {
        OpenMode::Read
    } else {
        OpenMode::Write { create: false }
    };
    let mut log = open(&args.store, mode, TraceLimits::default())?.with_key(key);
    let report: RepairReport = log.repair(args.dry_run).map_err(refused)?;
    let location = trailseal::store::redact_location(&args.store.store);
    let text = if args.json {
        let (first, last) = match &report.verdict {
            Verdict::Verified(v) => (v.first_seq, v.last_seq),
            _ => (None, None),
        };
        JsonObject::new()
            .str(
                "status",
                match (&report.torn, report.removed) {
                    (None, _) => "nothing to repair",
                    (Some(_), true) => "repaired",
                    (Some(_), false) => "would repair",
                },
            )
            .bool("dry_run", report.dry_run)
            .bool("removed", report.removed)
            .raw(
                "torn_tail",
                &report
                    .torn
                    .as_ref()
                    .map_or_else(|| "null".into(), tail_json),
            )
            .num("records_checked", report.verdict.records_checked())
            .opt_num("first_seq", first)
            .opt_num("last_seq", last)
            .finish()
            + "\n"
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
    Ok(ExitCode::SUCCESS)
}
