//! `trailseal export`: the whole chain as a JSONL store (`--out`), or a signed bundle of a
//! range (`--bundle`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use trailseal::core::trace::TraceLimits;
use trailseal::{BundleSelection, OpenMode, secret};

use super::anchor::{default_origin, signer};
use super::{load_key, open, parse_time, refused, stdout};
use crate::cli::{SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};
use crate::output::{ProgressLine, plural};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["out", "bundle"])))]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Write the whole chain as a JSONL store (replaced atomically).
    #[arg(long, value_name = "FILE.jsonl")]
    pub(crate) out: Option<PathBuf>,
    /// Write a signed bundle of a range instead (needs --signing-key and the secret).
    #[arg(long, value_name = "FILE", requires = "signing_key")]
    pub(crate) bundle: Option<PathBuf>,
    /// The Ed25519 signing key for the bundle.
    #[arg(long, value_name = "KEY")]
    pub(crate) signing_key: Option<PathBuf>,
    /// First seq of the range.
    #[arg(long, value_name = "A", requires = "bundle", conflicts_with_all = ["since", "until"])]
    pub(crate) from_seq: Option<u64>,
    /// Last seq of the range.
    #[arg(long, value_name = "B", requires = "bundle", conflicts_with_all = ["since", "until"])]
    pub(crate) to_seq: Option<u64>,
    /// The range starts at the first record invoked at or after this time.
    #[arg(long, value_name = "T1", requires = "bundle")]
    pub(crate) since: Option<String>,
    /// The range ends at the last record invoked before this time.
    #[arg(long, value_name = "T2", requires = "bundle")]
    pub(crate) until: Option<String>,
    /// Disclose only this principal's records (the others stay as hashes).
    #[arg(long, requires = "bundle")]
    pub(crate) principal: Option<String>,
    /// Disclose only this capability's records (the others stay as hashes).
    #[arg(long, requires = "bundle")]
    pub(crate) capability: Option<String>,
    /// Keep records that hold this field (not null) as hashes only: a path of member names
    /// joined by dots, [] after a name for every element of an array (error, args.email,
    /// args.recipients[].email). A path no record of the range holds is refused. Repeatable.
    #[arg(long, value_name = "PATH", requires = "bundle")]
    pub(crate) redact: Vec<String>,
    /// Say in each hash-only entry why it is withheld (outside the selection, or redacted).
    /// By default every hash-only entry looks the same, so the auditor cannot tell which
    /// selected records held a redacted field.
    #[arg(long, requires = "bundle")]
    pub(crate) withheld_reasons: bool,
    /// The log's identity in the bundle (default: trailseal.local/<store file name>).
    #[arg(long, requires = "bundle")]
    pub(crate) origin: Option<String>,
    /// Embed this tree checkpoint (as `trailseal checkpoint` wrote it, with the witnesses'
    /// cosignatures it carries) instead of signing a new one, so that `verify-bundle
    /// --witness-key` can count them. It must be signed with --signing-key, for the bundle's
    /// origin, and be of the store's tree (another root is refused as a fork); records after
    /// its size are disclosed without a proof.
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub(crate) checkpoint: Option<PathBuf>,
}

/// The largest checkpoint file `--checkpoint` reads (a note with many cosignatures is a few
/// KiB).
const MAX_CHECKPOINT_FILE: usize = 1 << 20;

pub(crate) fn run(args: &ExportArgs) -> Result<u8, CliError> {
    if let Some(bundle) = &args.bundle {
        return export_bundle(args, bundle);
    }
    let out = args
        .out
        .as_deref()
        .ok_or_else(|| CliError::new("say where to export: --out FILE.jsonl or --bundle FILE"))?;
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let mut progress = ProgressLine::doing(true, "exporting");
    let n = log.export_jsonl_with_progress(out, &mut |p| progress.update(p));
    progress.finish();
    let n = n?;
    // The export verifies with the same chain secret, passed the same way.
    let (flag, note) = match args.secret.secret_file.as_slice() {
        [] if std::env::var_os(secret::SECRET_ENV).is_some()
            || std::env::var_os(secret::SECRETS_ENV).is_some() =>
        {
            (String::new(), "")
        }
        [] => (
            String::new(),
            " (with the store's chain secret: set WEAVER_KERNEL_SECRET or add --secret-file FILE)",
        ),
        files => (
            files
                .iter()
                .map(|file| format!(" --secret-file {}", file.display()))
                .collect(),
            "",
        ),
    };
    writeln!(
        stdout(),
        "exported {n} record{} with their chain fields to {}; check it with `trailseal verify --store {}{flag}`{note}",
        plural(n),
        out.display(),
        out.display()
    )
    .map_err(output)?;
    Ok(EXIT_OK)
}

fn export_bundle(args: &ExportArgs, out_path: &Path) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(|| {
        CliError::no_secret().hint("a bundle is exported only after each record's MAC is checked, so it needs the chain secret")
    })?;
    let signing_key = args
        .signing_key
        .as_deref()
        .ok_or_else(|| CliError::new("--bundle needs --signing-key"))?;
    let signer = signer(signing_key)?;
    let time =
        |flag, value: &Option<String>| value.as_deref().map(|v| parse_time(flag, v)).transpose();
    let selection = BundleSelection {
        from_seq: args.from_seq,
        to_seq: args.to_seq,
        since: time("since", &args.since)?,
        until: time("until", &args.until)?,
        principal: args.principal.clone(),
        capability: args.capability.clone(),
        redact: args.redact.clone(),
        withheld_reasons: args.withheld_reasons,
    };
    // Malformed paths are refused before any file is created.
    selection.redact_paths().map_err(redact_refused)?;
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| default_origin(&args.store.store));
    let checkpoint = args
        .checkpoint
        .as_deref()
        .map(|path| {
            let bytes = crate::files::read_limited(path, MAX_CHECKPOINT_FILE)?;
            if bytes.len() > MAX_CHECKPOINT_FILE {
                return Err(CliError::new(format!(
                    "{}: larger than a checkpoint note can be ({MAX_CHECKPOINT_FILE} bytes)",
                    path.display()
                )));
            }
            String::from_utf8(bytes).map_err(|_| {
                CliError::new(format!(
                    "{}: not a checkpoint note (not UTF-8 text)",
                    path.display()
                ))
            })
        })
        .transpose()?;
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?.with_keyring(key);
    let mut progress = ProgressLine::doing(true, "exporting");
    // Traces: private (0600), written beside the target and renamed over it; nothing is left
    // on an error.
    let result = trailseal::write_atomically(out_path, |file| {
        log.export_bundle_at(
            file,
            &signer,
            &origin,
            trailseal::now(),
            &selection,
            checkpoint.as_deref(),
            &mut |p| progress.update(p),
        )
    });
    progress.finish();
    let report = result.map_err(|e| match e {
        trailseal::Error::Redact(e) => redact_refused(e),
        e => refused(e),
    })?;
    writeln!(
        stdout(),
        "bundled seq {} to {} ({} entries: {} disclosed, {} withheld as hashes{}) into {}; check it with `trailseal verify-bundle {} --public-key {}.pub`",
        report.from_seq,
        report.to_seq,
        report.entries,
        report.disclosed,
        report.withheld,
        if args.withheld_reasons {
            ", each saying why"
        } else {
            ""
        },
        out_path.display(),
        out_path.display(),
        signing_key.display()
    )
    .map_err(output)?;
    let tree = match report.tree_size {
        Some(size) if report.disclosed_outside_tree > 0 => format!(
            "the bundle embeds the signed checkpoint of the store's tree (size {size}); {} disclosed record{} after the tree's end {} checked with the chain secret only (the tree is incomplete: the next trailseal append brings {} in)",
            report.disclosed_outside_tree,
            plural(report.disclosed_outside_tree),
            if report.disclosed_outside_tree == 1 { "is" } else { "are" },
            if report.disclosed_outside_tree == 1 { "it" } else { "them" },
        ),
        Some(size) => format!(
            "the bundle embeds the signed checkpoint of the store's tree (size {size}) and every disclosed record's proof: the public key alone checks each disclosed trace"
        ),
        None => "the store has no Merkle tree: without the chain secret, disclosed records are vouched for by the bundle signature only".to_owned(),
    };
    writeln!(stdout(), "{tree}").map_err(output)?;
    Ok(EXIT_OK)
}

fn redact_refused(e: trailseal::RedactError) -> CliError {
    CliError::new(format!("--redact: {e}")).hint(
        "a path is member names joined by dots, [] after a name for every element of an array (args.recipients[].email); no bundle was written",
    )
}
