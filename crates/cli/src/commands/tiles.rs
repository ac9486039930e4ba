//! `trailseal tiles`: the store's Merkle tree published as C2SP tlog-tiles in a directory any
//! static file server can serve.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use trailseal::OpenMode;
use trailseal::core::checkpoint::tree_origin;
use trailseal::core::trace::TraceLimits;
use trailseal::tlog::TilesError;

use super::anchor::{default_origin, signer};
use super::{load_key, open, refused, stdout};
use crate::cli::{SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, EXIT_TAMPERED, output};

#[derive(Debug, Args)]
pub(crate) struct TilesArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// The Ed25519 signing key (from `trailseal keygen`) that signs the checkpoint.
    #[arg(long, value_name = "KEY")]
    pub(crate) signing_key: PathBuf,
    /// The tile directory (created if missing). A directory written before is brought up to
    /// date: only what is new since its checkpoint is written, the checkpoint last.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// The checkpoint's origin (default: the anchor origin followed by /tree,
    /// trailseal.local/<store file name>/tree).
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// First bring the records not in the tree yet (appended by weaver-kernel) into it, each
    /// checked; opens the store for writing.
    #[arg(long)]
    pub(crate) sync_tree: bool,
}

pub(crate) fn run(args: &TilesArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let signer = signer(&args.signing_key)?;
    let origin = match &args.origin {
        Some(origin) => origin.clone(),
        None => tree_origin(&default_origin(&args.store.store))
            .map_err(|e| CliError::new(format!("the default origin: {e}")).hint("pass --origin"))?,
    };
    let mode = if args.sync_tree {
        OpenMode::Write { create: false }
    } else {
        OpenMode::Read
    };
    let mut log = open(&args.store, mode, TraceLimits::default())?.with_keyring(key.clone());
    if args.sync_tree {
        let sync = log.sync_tree()?;
        if let Some((seq, why)) = sync.stopped {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "warning: the tree stops before seq {seq}: {why}; `trailseal verify` gives the verdict"
            );
        }
    }
    let report = log
        .write_tiles(&args.out, &signer, &origin)
        .map_err(tiles_error)?;
    let mut out = stdout();
    let previous = report
        .previous
        .map_or_else(String::new, |p| format!(" (was {p})"));
    if report.checkpoint_written {
        writeln!(
            out,
            "tiles: {} size {}{previous}, root {}: {} hash tiles and {} entry bundles written, {} already there; checkpoint {}",
            report.origin,
            report.size,
            report.root,
            report.hash_tiles,
            report.entry_bundles,
            report.kept,
            args.out.join("checkpoint").display(),
        )
        .map_err(output)?;
    } else {
        writeln!(
            out,
            "tiles: {} size {}, root {}: already up to date (nothing written)",
            report.origin, report.size, report.root,
        )
        .map_err(output)?;
    }
    drop(out);
    let mut err = std::io::stderr().lock();
    if let Some((count, first)) = report.uncovered {
        let _ = writeln!(
            err,
            "note: {count} record(s) from seq {first} are not in the Merkle tree yet, so not published; `--sync-tree` (or the next `trailseal append`) brings them in"
        );
    }
    if report.pruned_bundles > 0 {
        let _ = writeln!(
            err,
            "note: {} entry bundle(s) not written: their records were pruned (the hash tiles are complete)",
            report.pruned_bundles
        );
    }
    Ok(EXIT_OK)
}

fn tiles_error(e: TilesError) -> CliError {
    match e {
        TilesError::Log(e) => refused(e),
        e @ (TilesError::Fork { .. } | TilesError::AheadOfStore { .. }) => {
            CliError::new(e.to_string())
                .hint("the published tiles prove what the store held: run `trailseal verify` on the store; never point a rewritten store at a published directory")
                .exit(EXIT_TAMPERED)
        }
        e @ TilesError::Damaged { .. } => CliError::new(e.to_string())
            .hint("a published tile never changes: restore it from a copy, or publish into a new directory"),
        e @ (TilesError::ForeignCheckpoint { .. } | TilesError::OtherOrigin { .. }) => {
            CliError::new(e.to_string())
                .hint("give this log's directory (and --origin as it was), or a new directory")
        }
        e @ TilesError::NoTree { .. } => CliError::new(e.to_string())
            .hint("`--sync-tree` brings the records into the tree (it needs write access)"),
        other => CliError::new(other.to_string()),
    }
}
