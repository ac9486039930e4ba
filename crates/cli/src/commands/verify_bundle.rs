//! `trailseal verify-bundle`: an export bundle checked offline, with the public key (and the
//! chain secret, if given).

use std::io::{BufReader, Write};
use std::path::PathBuf;

use clap::Args;
use trailseal::Verdict;
use trailseal::signing::read_public_key;

use super::{load_key, stdout, verdict_exit};
use crate::cli::{OutputArgs, QUORUM_HINT, SecretArgs, WitnessArgs};
use crate::error::{CliError, output};
use crate::json;
use crate::output::{ProgressLine, verdict_text};

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print the verdict as one JSON object")))]
#[command(mut_arg("quorum", |a| a.help(
    "How many distinct witnesses must have cosigned the tree checkpoint the bundle embeds, \
     else the verdict is unverifiable (`witness quorum not met`), as it is for a bundle \
     without a tree checkpoint (formats 1 and 2)"
)))]
pub(crate) struct VerifyBundleArgs {
    /// The bundle file.
    pub(crate) bundle: PathBuf,
    /// The exporter's public key (KEY.pub).
    #[arg(long, value_name = "KEY.pub")]
    pub(crate) public_key: PathBuf,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Check with the public key only, even when a secret is available.
    #[arg(long)]
    pub(crate) no_secret: bool,
    /// Longest bundle line read, in bytes without its newline: a longer one is reported as
    /// malformed at its seq without being read into memory.
    #[arg(long, value_name = "BYTES", default_value_t = trailseal::core::trace::DEFAULT_MAX_RECORD_BYTES)]
    pub(crate) max_record_bytes: usize,
    #[command(flatten)]
    pub(crate) witness: WitnessArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

pub(crate) fn run(args: &VerifyBundleArgs) -> Result<u8, CliError> {
    let public = read_public_key(&args.public_key)?;
    let mut options = trailseal::BundleVerifyOptions::new().max_line_bytes(args.max_record_bytes);
    if !args.witness.witness_keys.is_empty() {
        options = options
            .witness_quorum(args.witness.witness_keys.clone(), args.witness.quorum)
            .map_err(|e| CliError::new(e.to_string()).hint(QUORUM_HINT))?;
    }
    let key = if args.no_secret {
        None
    } else {
        // A bundle is checked with one key: the active one, or the only one.
        load_key(&args.secret)?
            .and_then(|ring| ring.active().or_else(|| ring.keys().next()).cloned())
    };
    let quiet = args.output.quiet;
    let file = std::fs::File::open(&args.bundle)
        .map_err(|e| CliError::new(format!("{}: cannot open: {e}", args.bundle.display())))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut progress = ProgressLine::new(!quiet);
    let result = trailseal::verify_bundle_with_options(
        &mut reader,
        &public,
        key.as_ref(),
        &options,
        &mut |p| progress.update(p),
    )
    .map_err(|e| CliError::new(format!("{}: cannot read: {e}", args.bundle.display())))?;
    progress.finish();
    let verdict = &result.verdict;
    if !quiet {
        let text = if args.output.json() {
            json::bundle_verdict(&result) + "\n"
        } else {
            let mut t = verdict_text(verdict, &args.bundle.display().to_string());
            if matches!(verdict, Verdict::Verified(_)) {
                let reasons = match result.withheld_reasons {
                    Some(c) => format!(
                        " ({} outside the selection, {} redacted: the bundle says which)",
                        c.filter, c.redacted
                    ),
                    None => String::new(),
                };
                t.push_str(&format!(
                    "  checked: {}\n  origin: {}; {} entries, {} disclosed, {} withheld{reasons}\n",
                    result.level.as_str(),
                    result.origin.as_deref().unwrap_or("?"),
                    result.entries,
                    result.disclosed,
                    result.withheld
                ));
                if let Some(c) = &result.checkpoint {
                    t.push_str(&format!(
                        "  tree: checkpoint {} size {}; {} disclosed record{} checked against it (trace, leaf, inclusion proof)\n",
                        c.origin(),
                        c.size(),
                        result.tree_checked,
                        if result.tree_checked == 1 { "" } else { "s" }
                    ));
                }
                if let Some(n) = result.cosignatures {
                    t.push_str(&format!("  witnesses: {n} cosigned the tree checkpoint\n"));
                }
            }
            t
        };
        stdout().write_all(text.as_bytes()).map_err(output)?;
    }
    Ok(verdict_exit(verdict))
}
