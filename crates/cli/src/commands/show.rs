//! `trailseal show`: one trace and its chain fields.

use std::io::Write;

use clap::Args;
use trailseal::OpenMode;
use trailseal::core::json as core_json;
use trailseal::core::trace::TraceLimits;

use super::{open, stdout};
use crate::cli::{JsonArg, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};
use crate::json;

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print one JSON object")))]
pub(crate) struct ShowArgs {
    /// The action_id to show.
    pub(crate) action_id: String,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) output: JsonArg,
}

pub(crate) fn run(args: &ShowArgs) -> Result<u8, CliError> {
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let record = log.find(&args.action_id)?.ok_or_else(|| {
        CliError::new(format!(
            "{}: no trace with action_id {:?}",
            log.location(),
            args.action_id
        ))
        .hint("`trailseal list` shows the action ids")
    })?;
    let canonical = core_json::parse(record.trace.as_bytes())
        .ok()
        .and_then(|doc| {
            let mut out = Vec::new();
            doc.root()
                .write_canonical(&mut out, core_json::Mode::Python)
                .ok()?;
            String::from_utf8(out).ok()
        })
        .ok_or_else(|| {
            CliError::new(format!(
                "{}: seq {}: the stored trace is not valid JSON",
                log.location(),
                record.seq
            ))
            .hint("run `trailseal verify` to check the chain")
        })?;
    let text = if args.output.json {
        json::shown(&record, &canonical) + "\n"
    } else {
        format!(
            "seq:         {}\nprev_hash:   {}\nrecord_hash: {}\ntrace:\n{}\n",
            record.seq,
            record.prev_hash,
            record.record_hash,
            core_json::pretty(canonical.as_bytes(), 2)
        )
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(EXIT_OK)
}
