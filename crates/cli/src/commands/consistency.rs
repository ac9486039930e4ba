//! `trailseal consistency`: the RFC 6962 consistency proof between two sizes of the store's
//! Merkle tree, base64 hashes one a line (what a witness or an auditor checks two
//! checkpoints with).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use trailseal::OpenMode;
use trailseal::core::trace::TraceLimits;
use trailseal::store::atomic::PUBLIC;

use super::{open, stdout};
use crate::cli::StoreArgs;
use crate::error::{CliError, EXIT_OK, output};
use crate::files::{Written, write_once};

#[derive(Debug, Args)]
pub(crate) struct ConsistencyArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The older tree size (at least 1).
    #[arg(long, value_name = "N")]
    pub(crate) old: u64,
    /// The newer tree size (default: the store's tree size).
    #[arg(long, value_name = "M")]
    pub(crate) new: Option<u64>,
    /// Write the proof here instead of stdout (never over a different file).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn run(args: &ConsistencyArgs) -> Result<u8, CliError> {
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let new = match args.new {
        Some(n) => n,
        None => log.tree_head()?.size,
    };
    let proof = log.consistency(args.old, new).map_err(|e| {
        CliError::from(e).hint("sizes are leaf counts: 0 < --old <= --new <= the store's tree size")
    })?;
    let text: String = proof.iter().map(|h| h.to_base64() + "\n").collect();
    match &args.out {
        Some(path) => {
            let done = write_once(path, PUBLIC, text.as_bytes())?;
            writeln!(
                stdout(),
                "{} the consistency proof from size {} to {} ({} hash{}) {} {}",
                if done == Written::Created {
                    "wrote"
                } else {
                    "already there (file unchanged):"
                },
                args.old,
                new,
                proof.len(),
                if proof.len() == 1 { "" } else { "es" },
                if done == Written::Created { "to" } else { "in" },
                path.display()
            )
            .map_err(output)?;
        }
        None => stdout().write_all(text.as_bytes()).map_err(output)?,
    }
    Ok(EXIT_OK)
}
