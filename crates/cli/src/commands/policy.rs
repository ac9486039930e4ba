//! `trailseal policy`: the store's minimum retention, shown or set (an authenticated policy
//! receipt).

use std::io::Write;

use clap::Args;
use trailseal::core::time::format_duration;
use trailseal::core::trace::TraceLimits;
use trailseal::{OpenMode, now};

use super::{load_key, open, refused, stdout};
use crate::cli::{DurationArg, JsonArg, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};
use crate::json;

#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Refuse to prune records younger than this (e.g. 183d).
    #[arg(long, value_name = "DURATION", conflicts_with = "clear")]
    pub(crate) min_retention: Option<DurationArg>,
    /// Remove the minimum retention.
    #[arg(long)]
    pub(crate) clear: bool,
    /// Allow lowering (or clearing) the minimum retention.
    #[arg(long)]
    pub(crate) allow_decrease: bool,
    #[command(flatten)]
    pub(crate) output: JsonArg,
}

pub(crate) fn run(args: &PolicyArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?;
    let change = match (&args.min_retention, args.clear) {
        (Some(d), _) => Some(Some(d.micros())),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let mut out = stdout();
    let Some(min) = change else {
        let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
        if let Some(key) = key {
            log = log.with_keyring(key);
        }
        let status = log.retention().map_err(refused)?;
        let min = status.min_retention_micros;
        let text = if args.output.json {
            json::policy_status(min, status.verified) + "\n"
        } else {
            format!(
                "minimum retention: {}{}\n",
                min.map_or_else(|| "none".into(), format_duration),
                if status.verified {
                    ""
                } else {
                    " (not verified: no secret)"
                }
            )
        };
        out.write_all(text.as_bytes()).map_err(output)?;
        return Ok(EXIT_OK);
    };
    let key = key.ok_or_else(CliError::no_secret)?;
    let mut log = open(
        &args.store,
        OpenMode::Write { create: false },
        TraceLimits::default(),
    )?
    .with_keyring(key);
    let receipt = log
        .set_min_retention(min, now(), args.allow_decrease)
        .map_err(|e| match e {
            trailseal::Error::Policy(e) => {
                CliError::new(e.to_string()).hint("pass --allow-decrease to lower it")
            }
            other => refused(other),
        })
        .map_err(|e| match &args.min_retention {
            Some(d) => e.context(&format!("--min-retention {d}")),
            None => e,
        })?;
    let text = if args.output.json {
        json::receipt(&receipt) + "\n"
    } else {
        format!(
            "minimum retention set to {} (receipt {})\n",
            match &args.min_retention {
                Some(d) => d.as_written().to_owned(),
                None => min.map_or_else(|| "none".into(), format_duration),
            },
            receipt.index
        )
    };
    out.write_all(text.as_bytes()).map_err(output)?;
    Ok(EXIT_OK)
}
