//! `trailseal checkpoint`: a signed C2SP checkpoint of the store's Merkle tree, made from one
//! verified snapshot (the tree brought up first when the store can be written), optionally
//! cosigned by witnesses. Checkpoint files are replaced only by a checkpoint of the same log
//! that extends them (proven consistent); anything else there is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use trailseal::core::checkpoint::{Checkpoint, tree_origin};
use trailseal::core::note::NoteVerifier;
use trailseal::core::trace::TraceLimits;
use trailseal::core::tree::MerkleHash;
use trailseal::tlog::{CheckpointFileError, CheckpointWrite, TreeCheckpoint};
use trailseal::witness::{CosignError, CosignOptions, WitnessEndpoint, WitnessReport};
use trailseal::{AuditLog, OpenMode};

use super::anchor::{default_origin, signer};
use super::{load_key, open, refused, stdout};
use crate::cli::{DurationArg, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, EXIT_TAMPERED, output};

#[derive(Debug, Args)]
pub(crate) struct CheckpointArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// The Ed25519 signing key (from `trailseal keygen`).
    #[arg(long, value_name = "KEY")]
    pub(crate) signing_key: PathBuf,
    /// The checkpoint's origin (default: the anchor origin followed by /tree,
    /// trailseal.local/<store file name>/tree).
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// Write the checkpoint here instead of stdout. A file already there is replaced only by
    /// a checkpoint of the same log that extends it (checked with a consistency proof);
    /// anything else is refused (a fork or a rollback with exit 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Submit the checkpoint to this C2SP witness (repeatable): its http:// URL, `=`, its
    /// verifier key (vkey).
    #[arg(long = "witness", value_name = "URL=VKEY")]
    pub(crate) witnesses: Vec<WitnessEndpoint>,
    /// Also sign with this key (repeatable): during a signing-key transition's overlap, the
    /// old key and the new one both sign (`trailseal keygen --rotate-from`).
    #[arg(long, value_name = "KEY", conflicts_with = "witnesses")]
    pub(crate) also_signing_key: Vec<PathBuf>,
    /// How many distinct witnesses must cosign.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "witnesses")]
    pub(crate) quorum: usize,
    /// What each witness cosigned (default: <store>.witness-state beside a file store).
    #[arg(long, value_name = "FILE", requires = "witnesses")]
    pub(crate) witness_state: Option<PathBuf>,
    /// The longest one witness request may take.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        requires = "witnesses"
    )]
    pub(crate) witness_timeout: DurationArg,
}

/// The witness state file: as given, or beside a file store.
fn state_path(args: &CheckpointArgs) -> Result<PathBuf, CliError> {
    if let Some(p) = &args.witness_state {
        return Ok(p.clone());
    }
    let store = &args.store.store;
    if store.contains("://") {
        return Err(
            CliError::new("--witness-state: needed for a store that is not a file")
                .hint("give --witness-state FILE: where what each witness cosigned is kept"),
        );
    }
    Ok(PathBuf::from(format!("{store}.witness-state")))
}

/// Opens the store, bringing its tree up first when it can be written.
fn open_and_sync(args: &CheckpointArgs, key: trailseal::Keyring) -> Result<AuditLog, CliError> {
    let limits = TraceLimits::default();
    let mut err = std::io::stderr().lock();
    match open(&args.store, OpenMode::Write { create: false }, limits) {
        Ok(log) => {
            let mut log = log.with_keyring(key);
            match log.sync_tree() {
                Ok(sync) => {
                    if sync.added > 0 {
                        let _ = writeln!(
                            err,
                            "brought {} record{} into the Merkle tree",
                            sync.added,
                            crate::output::plural(sync.added)
                        );
                    }
                    if let Some((seq, why)) = &sync.stopped {
                        let _ = writeln!(err, "warning: the tree stops before seq {seq}: {why}");
                    }
                }
                Err(e) => {
                    let _ = writeln!(
                        err,
                        "warning: the tree could not be brought up ({e}): the checkpoint covers what it holds"
                    );
                }
            }
            Ok(log)
        }
        Err(_) => {
            let log = open(&args.store, OpenMode::Read, limits)?.with_keyring(key);
            let _ = writeln!(
                err,
                "note: the store cannot be opened for writing: its tree was not brought up"
            );
            Ok(log)
        }
    }
}

/// [`AuditLog::write_checkpoint_file`], its refusals with what to do about them.
fn write_checkpoint(
    path: &Path,
    note: &str,
    new: &Checkpoint,
    verifier: &NoteVerifier,
    cosigned: bool,
    log: &mut AuditLog,
) -> Result<CheckpointWrite, CliError> {
    log.write_checkpoint_file(path, note, new, verifier, cosigned)
        .map_err(|e| match e {
            CheckpointFileError::Log(e) => CliError::from(e),
            e @ CheckpointFileError::Foreign { .. } => {
                CliError::new(e.to_string()).hint("choose another --out")
            }
            e @ CheckpointFileError::Fork { .. } => CliError::new(e.to_string())
                .hint("the signed checkpoint there proves the store was rolled back or forked: keep it as evidence; `trailseal verify` shows the store's verdict")
                .exit(EXIT_TAMPERED),
            e => CliError::new(e.to_string()),
        })
}

fn describe(made: &TreeCheckpoint) -> String {
    let c = &made.checkpoint;
    format!(
        "{} size {} (seqs {} to {}), root {}",
        c.origin(),
        c.size(),
        made.head.base,
        made.head.base + c.size() - 1,
        MerkleHash(*c.root()).to_base64()
    )
}

pub(crate) fn run(args: &CheckpointArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let signer = signer(&args.signing_key)?;
    let verifier = signer.verifier();
    let origin = match &args.origin {
        Some(o) => o.clone(),
        None => tree_origin(&default_origin(&args.store.store))
            .map_err(|e| CliError::new(format!("the default origin: {e}")).hint("give --origin"))?,
    };
    let state = if args.witnesses.is_empty() {
        None
    } else {
        Some(state_path(args)?)
    };
    let mut log = open_and_sync(args, key)?;
    let (made, cosigning) = match &state {
        None => (log.checkpoint(&signer, &origin).map_err(refused)?, None),
        Some(state) => {
            let options = CosignOptions {
                quorum: args.quorum,
                timeout: std::time::Duration::from_micros(
                    u64::try_from(args.witness_timeout.micros()).unwrap_or(0),
                ),
                ..CosignOptions::default()
            };
            let (made, result) = log
                .cosigned_checkpoint(
                    &signer,
                    &origin,
                    &args.witnesses,
                    state,
                    &options,
                    &mut |_| std::ops::ControlFlow::Continue(()),
                )
                .map_err(refused)?;
            (made, Some(result))
        }
    };
    if let Some((count, first)) = made.not_in_tree {
        let _ = writeln!(
            std::io::stderr().lock(),
            "note: {count} record{} from seq {first} on {} not in the tree: the checkpoint does not cover {}",
            crate::output::plural(count),
            if count == 1 { "is" } else { "are" },
            if count == 1 { "it" } else { "them" }
        );
    }
    // The note to publish, the witness reports, and the failure to report after writing.
    let (note, reports, failure) = match cosigning {
        None => {
            let mut note = made.note.clone();
            for path in &args.also_signing_key {
                let extra = super::anchor::signer(path)?;
                note = trailseal::core::note::add_signature(&note, &extra)
                    .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
            }
            (Some(note), Vec::new(), None)
        }
        Some(Ok(c)) => (Some(c.note), c.witnesses, None),
        Some(Err(CosignError::QuorumNotMet {
            count,
            needed,
            note,
            witnesses,
        })) => {
            let message = format!("witness quorum {needed} not met: {count} cosigned");
            (
                (count > 0).then_some(note),
                witnesses,
                Some(CliError::new(message)),
            )
        }
        Some(Err(e @ CosignError::Refused(_))) => {
            return Err(CliError::new(e.to_string())
                .hint("the witness state shows a witness cosigned a checkpoint this store no longer extends (a rollback or a fork); nothing was written")
                .exit(EXIT_TAMPERED));
        }
        Some(Err(e)) => {
            return Err(CliError::new(e.to_string()).hint("nothing was written"));
        }
    };
    let report = |out: &mut dyn Write, reports: &[WitnessReport]| -> Result<(), CliError> {
        for r in reports {
            writeln!(out, "{r}").map_err(output)?;
        }
        Ok(())
    };
    match (&args.out, &note) {
        (Some(path), Some(note)) => {
            let placed = write_checkpoint(
                path,
                note,
                &made.checkpoint,
                &verifier,
                state.is_some(),
                &mut log,
            )?;
            let mut out = stdout();
            report(&mut out, &reports)?;
            let to = if matches!(placed, CheckpointWrite::Unchanged) {
                "in"
            } else {
                "to"
            };
            let done = match placed {
                CheckpointWrite::Created => "checkpoint".to_owned(),
                CheckpointWrite::Unchanged => {
                    "already there (file unchanged): checkpoint".to_owned()
                }
                CheckpointWrite::Rewritten => {
                    "rewrote (same checkpoint, its cosignatures now)".to_owned()
                }
                CheckpointWrite::Replaced { old_size } => {
                    format!("replaced the checkpoint of size {old_size} (consistent) with")
                }
            };
            writeln!(out, "{done} {} {to} {}", describe(&made), path.display()).map_err(output)?;
        }
        (None, Some(note)) => {
            report(&mut std::io::stderr().lock(), &reports)?;
            stdout().write_all(note.as_bytes()).map_err(output)?;
        }
        (_, None) => report(&mut std::io::stderr().lock(), &reports)?,
    }
    match failure {
        None => Ok(EXIT_OK),
        Some(e) => Err(match (&args.out, note.is_some()) {
            (Some(path), true) => e.hint(format!(
                "the checkpoint with the cosignatures obtained was written to {}; the witness state records them",
                path.display()
            )),
            (None, true) => e.hint("the checkpoint with the cosignatures obtained was printed"),
            _ => e.hint("no witness cosigned: nothing was written"),
        }),
    }
}
