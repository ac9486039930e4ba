//! `trailseal prune`: the oldest records removed with an authenticated receipt.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use trailseal::core::retention::Cutoff;
use trailseal::core::time::format_duration;
use trailseal::core::trace::TraceLimits;
use trailseal::{CutoffSpec, OpenMode, PruneRequest, now};

use super::{load_key, open, parse_time, refused, stdout};
use crate::cli::{DurationArg, JsonArg, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};
use crate::json;
use crate::output::plural;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("cutoff").required(true).args(["before", "older_than", "keep_last"])))]
pub(crate) struct PruneArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Remove the longest prefix of records invoked before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub(crate) before: Option<String>,
    /// Remove the longest prefix of records older than this (e.g. 183d, 12h, 1w2d).
    #[arg(long, value_name = "DURATION")]
    pub(crate) older_than: Option<DurationArg>,
    /// Remove all but the newest N records.
    #[arg(long, value_name = "N")]
    pub(crate) keep_last: Option<u64>,
    /// Say what would be removed; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// First write the removed records to this file (fsynced before anything is removed); it
    /// verifies on its own. A .db/.sqlite/.sqlite3 name writes a SQLite file (weaver-kernel's
    /// schema, so weaver-kernel verifies it too), never over an existing file; any other name
    /// a JSONL file.
    #[arg(long, value_name = "FILE")]
    pub(crate) archive: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) output: JsonArg,
}

pub(crate) fn run(args: &PruneArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let cutoff = match (&args.before, &args.older_than, args.keep_last) {
        (Some(t), _, _) => CutoffSpec::Before(parse_time("before", t)?),
        (_, Some(d), _) => CutoffSpec::OlderThan { micros: d.micros() },
        (_, _, Some(n)) => CutoffSpec::KeepLast(n),
        _ => {
            return Err(CliError::new(
                "say what to prune: --before, --older-than or --keep-last",
            ));
        }
    };
    let mode = if args.dry_run {
        OpenMode::Read
    } else {
        OpenMode::Write { create: false }
    };
    let mut log = open(&args.store, mode, TraceLimits::default())?.with_keyring(key);
    let request = PruneRequest {
        cutoff,
        now: now(),
        dry_run: args.dry_run,
        archive: args.archive.clone(),
    };
    let report = log.prune(&request).map_err(|e| {
        let err = refused(e);
        match &args.older_than {
            Some(d) => err.context(&format!("--older-than {d}")),
            None => err,
        }
    })?;
    let as_written = args.older_than.as_ref().map(DurationArg::as_written);
    let text = if args.output.json {
        json::pruned(&report) + "\n"
    } else {
        let mut t = match (report.range, report.dry_run) {
            (None, _) => format!(
                "nothing to prune: no record at the start of the chain matches {} ({} records verified)\n",
                describe_cutoff(&report.cutoff, as_written),
                report.records_checked
            ),
            (Some((f, l)), true) => format!(
                "would prune {} record{} (seq {f} to {l}), {}; the chain would start at seq {} (dry run: nothing changed)\n",
                report.pruned,
                plural(report.pruned),
                describe_cutoff(&report.cutoff, as_written),
                report.first_retained_seq
            ),
            (Some((f, l)), false) => format!(
                "pruned {} record{} (seq {f} to {l}), {}; the chain now starts at seq {} (receipt {})\n",
                report.pruned,
                plural(report.pruned),
                describe_cutoff(&report.cutoff, as_written),
                report.first_retained_seq,
                report.receipt.as_ref().map_or(0, |r| r.index)
            ),
        };
        if let Some((path, n)) = &report.archive {
            t.push_str(&format!(
                "archived {n} record{} to {} (it verifies on its own: trailseal verify --store {})\n",
                plural(*n),
                path.display(),
                path.display()
            ));
        }
        t
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(EXIT_OK)
}

/// The cutoff in words; `as_written` is the duration as the user spelt it (`26w`, not `182d`).
pub(crate) fn describe_cutoff(cutoff: &Cutoff, as_written: Option<&str>) -> String {
    match cutoff {
        Cutoff::Before(t) => format!("invoked before {t}"),
        Cutoff::OlderThan { micros, before } => format!(
            "older than {} (before {before})",
            as_written.map_or_else(|| format_duration(*micros), str::to_owned)
        ),
        Cutoff::KeepLast(n) => format!("keeping the last {n}"),
    }
}
