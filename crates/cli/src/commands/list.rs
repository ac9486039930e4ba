//! `trailseal list`: traces, optionally filtered, as a table or a JSON array.

use std::io::Write;

use clap::{Args, ValueEnum};
use trailseal::core::trace::{Outcome, TraceLimits};
use trailseal::core::verify::Flow;
use trailseal::{Filter, OpenMode};

use super::{open, parse_time, stdout};
use crate::cli::{JsonArg, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};
use crate::json;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StatusArg {
    /// Ran without an error.
    Succeeded,
    /// Ran and recorded an error.
    Failed,
    /// Refused by the policy (event_type "deny").
    Denied,
}

#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// Only traces of this principal_id.
    #[arg(long)]
    pub(crate) principal: Option<String>,
    /// Only traces of this capability_id.
    #[arg(long)]
    pub(crate) capability: Option<String>,
    /// Only succeeded or failed traces.
    #[arg(long, value_enum)]
    pub(crate) status: Option<StatusArg>,
    /// Only traces invoked at or after this time (RFC 3339; a date or a time without an
    /// offset is UTC).
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only traces invoked strictly before this time.
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// At most this many traces.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
}

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print a JSON array of traces")))]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    #[command(flatten)]
    pub(crate) output: JsonArg,
}

fn filter_of(args: &FilterArgs) -> Result<Filter, CliError> {
    let time =
        |flag, value: &Option<String>| value.as_deref().map(|v| parse_time(flag, v)).transpose();
    Ok(Filter {
        principal: args.principal.clone(),
        capability: args.capability.clone(),
        outcome: args.status.map(|s| match s {
            StatusArg::Succeeded => Outcome::Succeeded,
            StatusArg::Failed => Outcome::Failed,
            StatusArg::Denied => Outcome::Denied,
        }),
        since: time("since", &args.since)?,
        until: time("until", &args.until)?,
        limit: args.limit,
    })
}

pub(crate) fn run(args: &ListArgs) -> Result<u8, CliError> {
    let filter = filter_of(&args.filter)?;
    let as_json = args.output.json;
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let mut out = stdout();
    let mut count = 0usize;
    let mut write_error = None;
    if as_json {
        out.write_all(b"[").map_err(output)?;
    } else {
        writeln!(
            out,
            "{:<6} {:<38} {:<28} {:<24} {:<9} INVOKED_AT",
            "SEQ", "ACTION_ID", "CAPABILITY", "PRINCIPAL", "STATUS"
        )
        .map_err(output)?;
    }
    let unreadable = log.list(&filter, &mut |entry| {
        let s = &entry.summary;
        let result = if as_json {
            let sep = if count == 0 { "\n" } else { ",\n" };
            let item = json::list_item(entry.seq, s.status(), &entry.trace);
            write!(out, "{sep}{item}")
        } else {
            writeln!(
                out,
                "{:<6} {:<38} {:<28} {:<24} {:<9} {}",
                entry.seq,
                s.action_id.as_deref().unwrap_or("?"),
                s.capability_id.as_deref().unwrap_or("?"),
                s.principal_id.as_deref().unwrap_or("?"),
                s.status(),
                s.invoked_at.as_deref().unwrap_or("?")
            )
        };
        count += 1;
        match result {
            Ok(()) => Flow::Continue,
            Err(e) => {
                write_error = Some(e);
                Flow::Stop
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(output(e));
    }
    if as_json {
        out.write_all(if count == 0 { b"]\n" } else { b"\n]\n" })
            .map_err(output)?;
    } else if count == 0 {
        writeln!(out, "no traces matched").map_err(output)?;
    }
    if unreadable > 0 {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "warning: {unreadable} record(s) could not be read and were skipped; run `trailseal verify`"
        );
    }
    Ok(EXIT_OK)
}
