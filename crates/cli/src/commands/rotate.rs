//! `trailseal rotate`: moves a store to another chain secret of the keyring, in place or as a
//! new segment.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use trailseal::core::trace::TraceLimits;
use trailseal::{OpenMode, RotateRequest, now};

use super::{load_key, open, refused, stdout};
use crate::cli::{JsonArg, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};
use crate::json;
use crate::output::plural;

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The secrets: the store's current one and the one to move to (WEAVER_KERNEL_SECRETS,
    /// or --secret-file given for each).
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// The label of the key to move to (a key of the keyring; a --secret-file's path).
    #[arg(long, value_name = "LABEL")]
    pub(crate) to: String,
    /// Rotate as a new segment: the records under the old key go to --archive (which
    /// verifies with the old secret) and the store continues from there under the new key
    /// (weaver-kernel verifies a SQLite store so rotated with the new secret). Without it the
    /// rotation is in place: the records stay under the old key, the chain continues under
    /// the new one, and verifying all of it takes both secrets (weaver-kernel cannot).
    #[arg(long, requires = "archive")]
    pub(crate) segment: bool,
    /// Where the records under the old key go (with --segment), written and fsynced before
    /// anything is removed: a JSONL file, or with a .db/.sqlite/.sqlite3 name a SQLite file
    /// that weaver-kernel verifies with the old secret.
    #[arg(long, value_name = "FILE", requires = "segment")]
    pub(crate) archive: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) output: JsonArg,
}

pub(crate) fn run(args: &RotateArgs) -> Result<u8, CliError> {
    let ring = load_key(&args.secret)?.ok_or_else(|| {
        CliError::no_secret().hint(
            "a rotation needs both secrets: WEAVER_KERNEL_SECRETS='{\"old\": …, \"new\": …}', or --secret-file OLD --secret-file NEW",
        )
    })?;
    let mut log = open(
        &args.store,
        OpenMode::Write { create: false },
        TraceLimits::default(),
    )?
    .with_keyring(ring);
    let report = log
        .rotate(&RotateRequest {
            to: args.to.clone(),
            now: now(),
            archive: args.archive.clone(),
        })
        .map_err(|e| match e {
            e @ trailseal::Error::Rotate { .. } => {
                CliError::from(e).hint("`trailseal rotate --help` says what a rotation needs")
            }
            other => refused(other),
        })?;
    let text = if args.output.json {
        json::rotated(&report) + "\n"
    } else {
        let mut t = String::new();
        if let Some((path, n)) = report.prune.as_ref().and_then(|p| p.archive.as_ref()) {
            t.push_str(&format!(
                "archived {n} record{} under key id {} to {} (it verifies with the old secret: trailseal verify --store {})\n",
                plural(*n),
                report.from_key,
                path.display(),
                path.display()
            ));
        }
        t.push_str(&format!(
            "rotated {} from key id {} to key id {}: records from seq {} on are MAC'd with the new key (receipt {})\n",
            log.location(),
            report.from_key,
            report.to_key,
            report.first_seq,
            report.receipt.index
        ));
        if !report.in_place {
            t.push_str(
                "verify the store with the new secret (weaver-kernel too: it reads the start as a pruning checkpoint); \
                 set WEAVER_KERNEL_ACTIVE_KEY to the new label (or give only the new secret) for every writer\n",
            );
        } else {
            t.push_str(&format!(
                "the records before seq {} stay under the old key: verify with both secrets to check them all (with one, the other key's records are reported as not checked); \
                 set WEAVER_KERNEL_ACTIVE_KEY to the new label for every writer\n",
                report.first_seq
            ));
        }
        t
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(EXIT_OK)
}
