//! `trailseal retention`: the retention log (prune and policy receipts).

use std::io::Write;

use clap::Args;
use trailseal::OpenMode;
use trailseal::core::retention::{Receipt, ReceiptBody};
use trailseal::core::time::format_duration;
use trailseal::core::trace::TraceLimits;

use super::prune::describe_cutoff;
use super::{load_key, open, stdout};
use crate::cli::{JsonArg, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, EXIT_TAMPERED, output};
use crate::json;
use crate::output::plural;

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print the receipts as a JSON array")))]
pub(crate) struct RetentionArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    #[command(flatten)]
    pub(crate) output: JsonArg,
}

fn receipt_line(r: &Receipt) -> String {
    match &r.body {
        ReceiptBody::Prune {
            from,
            last_pruned_seq,
            count,
            cutoff,
            ..
        } => format!(
            "{:<3} prune   {}  seq {} to {last_pruned_seq} ({count} record{}), {}",
            r.index,
            r.at,
            from.next_seq,
            plural(*count),
            describe_cutoff(cutoff, None)
        ),
        ReceiptBody::Policy {
            min_retention_micros,
            ..
        } => format!(
            "{:<3} policy  {}  minimum retention {}",
            r.index,
            r.at,
            min_retention_micros.map_or_else(|| "none".into(), format_duration)
        ),
        ReceiptBody::Rotate {
            first_seq,
            new_key_id,
            ..
        } => format!(
            "{:<3} rotate  {}  key id {} to {new_key_id} from seq {first_seq}",
            r.index, r.at, r.key_id
        ),
    }
}

pub(crate) fn run(args: &RetentionArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?;
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let keys = key.as_ref().map(|ring| {
        ring.entries()
            .map(|(_, id)| id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    });
    if let Some(key) = key {
        log = log.with_keyring(key);
    }
    let status = log.retention().map_err(|e| match e {
        trailseal::Error::Retention(e) => CliError::new(e.to_string())
            .exit(EXIT_TAMPERED)
            .hint("the retention log was altered; run `trailseal verify`"),
        other => other.into(),
    })?;
    let text = if args.output.json {
        json::receipts(&status.receipts) + "\n"
    } else {
        let mut t = format!(
            "retention log of {}: {} receipt{}, {}\n",
            log.location(),
            status.receipts.len(),
            plural(status.receipts.len() as u64),
            match keys {
                Some(ids) if status.verified =>
                    format!("MACs and links verified with key id {ids}"),
                Some(ids) => format!(
                    "MACs and links verified where key id {ids} applies; receipts under other keys not checked"
                ),
                None => "not verified (no secret)".into(),
            }
        );
        for r in &status.receipts {
            t.push_str(&receipt_line(r));
            t.push('\n');
        }
        t
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(EXIT_OK)
}
