//! `trailseal verify`: the verdict on a store's chain, optionally against signed anchors and
//! tree checkpoints (with a witness quorum).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use trailseal::AuditLog;
use trailseal::OpenMode;
use trailseal::core::Verdict;
use trailseal::core::cosignature::WitnessKey;
use trailseal::core::trace::TraceLimits;

use super::{load_key, open_options, stdout, verdict_exit};
use crate::cli::{DurationArg, OutputArgs, SecretArgs, StoreArgs};
use crate::error::{CliError, output};
use crate::json;
use crate::output::{ProgressLine, verdict_text};

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print the verdict as one JSON object")))]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// Signed anchors the store must still match (repeatable); needs --public-key.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    pub(crate) anchor: Vec<PathBuf>,
    /// Check against every anchor in this folder (the anchor-NNNNNNNNNNNN.note files
    /// `append --anchor-dir` writes); needs --public-key.
    #[arg(long, value_name = "DIR", requires = "public_key")]
    pub(crate) anchor_dir: Option<PathBuf>,
    /// Signed C2SP tree checkpoints (repeatable) the store's Merkle tree must match, checked in
    /// the same verification: the same root at each one's size, and no two of them a split
    /// view; needs --public-key (the log's key, which signed them).
    #[arg(long, value_name = "FILE", requires = "public_key")]
    pub(crate) checkpoint: Vec<PathBuf>,
    /// A witness's verifier key (`<name>+<key id>+<base64>`, repeatable): every --checkpoint
    /// must carry valid cosignatures by --quorum of these, else the verdict is unverifiable
    /// (`witness quorum not met`).
    #[arg(long, value_name = "VKEY", requires = "checkpoint")]
    pub(crate) witness_key: Vec<String>,
    /// How many distinct --witness-key witnesses must have cosigned each checkpoint.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "witness_key")]
    pub(crate) quorum: usize,
    /// The public key the anchors and checkpoints are signed with.
    #[arg(long, value_name = "KEY.pub")]
    pub(crate) public_key: Option<PathBuf>,
    /// Walk the signing-key transitions in DIR (`*.transition`, from `trailseal keygen
    /// --rotate-from`) from --public-key: anchors must be signed by a key valid at their time,
    /// checkpoints by any key of the history.
    #[arg(long, value_name = "DIR", requires = "public_key")]
    pub(crate) key_transitions: Option<PathBuf>,
    /// Also check the store against the forward-secure seals in DIR (`trailseal seal`),
    /// walked from --seal-public-key: a forged, altered or missing seal or certificate is
    /// tampered (kind seal); an open epoch overdue at --now is tampered (kind truncated).
    #[arg(long, value_name = "DIR", requires = "seal_public_key")]
    pub(crate) seals: Option<PathBuf>,
    /// The root public key of the seals (epoch 0's, printed by `trailseal seal --init`), kept
    /// where the writer's host cannot change it.
    #[arg(long, value_name = "KEY.pub", requires = "seals")]
    pub(crate) seal_public_key: Option<PathBuf>,
    /// The verifier's time for the seals' deadline (RFC 3339; default: this machine's clock).
    #[arg(long, value_name = "TIME", requires = "seals")]
    pub(crate) now: Option<String>,
    /// How long past its end an epoch may still be open (the writer's clock skew and
    /// downtime).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5m",
        requires = "seals"
    )]
    pub(crate) seal_grace: DurationArg,
}

/// The seals to check, walked from their root key at the verifier's time.
fn seal_walk(
    args: &VerifyArgs,
) -> Result<
    Option<Result<trailseal::core::seal::Walked, trailseal::core::seal::SealProblem>>,
    CliError,
> {
    let (Some(dir), Some(root)) = (&args.seals, &args.seal_public_key) else {
        return Ok(None);
    };
    let root = trailseal::signing::read_public_key(root)?;
    let now = match &args.now {
        Some(text) => trailseal::Timestamp::parse(text, trailseal::core::time::Offset::Required)
            .map_err(|e| CliError::new(format!("--now: {e}")))?,
        None => trailseal::now(),
    };
    Ok(Some(trailseal::seal::read_seals(
        dir,
        &root,
        Some(now),
        args.seal_grace.micros(),
    )?))
}

/// The notes at `paths` (label, text); `what` names them in messages.
fn read_notes(paths: &[PathBuf], what: &str) -> Result<Vec<(String, String)>, CliError> {
    paths
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|e| {
                    CliError::new(format!("{}: cannot read the {what}: {e}", path.display()))
                })
        })
        .collect()
}

/// The --witness-key values.
fn witness_keys(values: &[String]) -> Result<Vec<WitnessKey>, CliError> {
    values
        .iter()
        .enumerate()
        .map(|(i, text)| {
            WitnessKey::parse_vkey(text.trim()).map_err(|e| {
                CliError::new(format!("--witness-key #{}: {e}", i + 1))
                    .hint("give the witness's verifier key, `<name>+<8 hex key id>+<base64 key>`")
            })
        })
        .collect()
}

/// The anchor files of an anchor folder, in size order.
fn anchor_dir_files(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let unreadable = |e| {
        CliError::new(format!(
            "{}: cannot read the anchor folder: {e}",
            dir.display()
        ))
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        if let Some(size) = entry
            .file_name()
            .to_str()
            .and_then(trailseal::size_of_anchor_file_name)
        {
            files.push((size, entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

pub(crate) fn run(args: &VerifyArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?;
    let quiet = args.output.quiet;
    let options = open_options(&args.store, OpenMode::Read, TraceLimits::default());
    let mut hint = None;
    let verdict = match AuditLog::open(&args.store.store, &options) {
        // A store that cannot be opened is a verdict too (unverifiable, or tampered for
        // schema damage), in the same format, with the hint any other command gives for it.
        Err(trailseal::Error::Store(e)) => {
            hint = crate::error::store_hint(&e);
            trailseal::verdict_of_store_error(&e)
        }
        Err(e) => return Err(e.into()),
        Ok(log) => {
            let mut log = match key {
                Some(key) => log.with_keyring(key),
                None => log,
            };
            let mut paths = args.anchor.clone();
            if let Some(dir) = &args.anchor_dir {
                paths.extend(anchor_dir_files(dir)?);
            }
            let anchors = read_notes(&paths, "anchor")?;
            let checkpoints = read_notes(&args.checkpoint, "checkpoint")?;
            let witnesses = witness_keys(&args.witness_key)?;
            let public = args
                .public_key
                .as_deref()
                .map(trailseal::signing::read_public_key)
                .transpose()?;
            let mut progress = ProgressLine::new(!quiet);
            let mut options = trailseal::VerifyOptions::new();
            match (&public, &args.key_transitions) {
                (Some(public), Some(dir)) => {
                    let history = trailseal::transitions::key_history(public, dir)?;
                    options = options.notes_with_history(&anchors, &checkpoints, history);
                }
                (Some(public), None) => {
                    if !anchors.is_empty() {
                        options = options.anchor_notes(&anchors, public);
                    }
                    if !checkpoints.is_empty() {
                        options = options.checkpoint_notes(&checkpoints, public);
                    }
                }
                (None, _) => {}
            }
            if !witnesses.is_empty() {
                options = options.witness_quorum(witnesses, args.quorum);
            }
            if let Some(walked) = seal_walk(args)? {
                options = options.seals(walked);
            }
            let verdict = log.verify_with(&mut options.progress(|p| progress.update(p)));
            progress.finish();
            verdict
        }
    };
    // The library says what is missing; the command line says how to give it.
    let verdict = match verdict {
        Verdict::Unverifiable(u) if u.reason == trailseal::core::UnverifiableReason::NoSecret => {
            Verdict::Unverifiable(trailseal::core::Unverifiable {
                detail: "no secret: set WEAVER_KERNEL_SECRET or pass --secret-file PATH".into(),
                ..u
            })
        }
        other => other,
    };
    if !quiet {
        let text = if args.output.json() {
            json::verdict(&verdict) + "\n"
        } else {
            verdict_text(
                &verdict,
                &trailseal::store::redact_location(&args.store.store),
            )
        };
        stdout().write_all(text.as_bytes()).map_err(output)?;
        if let Some(hint) = hint {
            let _ = writeln!(std::io::stderr().lock(), "hint: {hint}");
        }
    }
    Ok(verdict_exit(&verdict))
}
