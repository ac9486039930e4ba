//! `trailseal prove`: a `c2sp.org/tlog-proof@v1` file proving that one record is in the tree
//! a given checkpoint describes, for exactly its size, its leaf entry (and with
//! `--with-trace` the salt and the trace) in `extra` (format.md §12.6).

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use trailseal::OpenMode;
use trailseal::core::note::NoteVerifier;
use trailseal::core::trace::TraceLimits;
use trailseal::signing::read_public_key;
use trailseal::store::atomic::{PRIVATE, PUBLIC};

use super::anchor::signer;
use super::{load_key, open, stdout};
use crate::cli::{SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, EXIT_TAMPERED, output};
use crate::files::{Written, write_once};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("log_key").required(true).args(["public_key", "signing_key"]))]
pub(crate) struct ProveArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// The record to prove.
    #[arg(long, value_name = "N")]
    pub(crate) seq: u64,
    /// The checkpoint to prove it in (from `trailseal checkpoint`): the proof is for exactly
    /// its size, also when the store has grown since.
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint: PathBuf,
    /// Write the proof file here instead of stdout (never over a different file).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Also disclose the record's trace and its salt, so that the trace can be checked with
    /// the public key alone (the file is then written mode 0600).
    #[arg(long)]
    pub(crate) with_trace: bool,
    /// The log's public key (KEY.pub) the checkpoint is signed with.
    #[arg(long, value_name = "KEY.pub")]
    pub(crate) public_key: Option<PathBuf>,
    /// Or the signing key, whose public key is used.
    #[arg(long, value_name = "KEY")]
    pub(crate) signing_key: Option<PathBuf>,
}

/// The log's public key, from --public-key or --signing-key.
fn log_key(args: &ProveArgs) -> Result<NoteVerifier, CliError> {
    match (&args.public_key, &args.signing_key) {
        (Some(p), _) => Ok(read_public_key(p)?),
        (None, Some(s)) => Ok(signer(s)?.verifier()),
        (None, None) => Err(CliError::new("give --public-key or --signing-key")),
    }
}

pub(crate) fn run(args: &ProveArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let verifier = log_key(args)?;
    let shown = args.checkpoint.display();
    let note = std::fs::read_to_string(&args.checkpoint)
        .map_err(|e| CliError::new(format!("{shown}: cannot read the checkpoint: {e}")))?;
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?.with_keyring(key);
    let proved = log
        .prove(args.seq, &note, &verifier, args.with_trace)
        .map_err(|e| {
            let fork = matches!(
                e,
                trailseal::Error::Tlog(
                    trailseal::tlog::TlogError::Fork { .. }
                        | trailseal::tlog::TlogError::CheckpointAhead { .. }
                )
            );
            let err = CliError::from(e);
            if fork {
                err.hint("the signed checkpoint is not of this store's tree: a fork (split view) or a rollback; keep it as evidence; `trailseal verify` shows the store's verdict")
                    .exit(EXIT_TAMPERED)
            } else {
                err
            }
        })?;
    let text = proved.proof.to_text();
    match &args.out {
        Some(path) => {
            let mode = if args.with_trace { PRIVATE } else { PUBLIC };
            let done = write_once(path, mode, text.as_bytes())?;
            writeln!(
                stdout(),
                "{} seq {} (leaf {}) in {} at size {}{} {} {}",
                if done == Written::Created {
                    "proved"
                } else {
                    "already there (file unchanged): proof of"
                },
                proved.seq,
                proved.index,
                proved.checkpoint.origin(),
                proved.checkpoint.size(),
                if proved.with_trace {
                    ", with its trace and salt"
                } else {
                    ""
                },
                if done == Written::Created { "to" } else { "in" },
                path.display()
            )
            .map_err(output)?;
        }
        None => stdout().write_all(text.as_bytes()).map_err(output)?,
    }
    Ok(EXIT_OK)
}
