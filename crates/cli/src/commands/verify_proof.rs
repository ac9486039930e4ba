//! `trailseal verify-proof`: a proof file checked offline, with the log's public key alone
//! (no secret, no store), optionally a trace against its leaf and a witness quorum.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use trailseal::core::tlog_proof::MAX_FILE_LEN;
use trailseal::signing::read_public_key;
use trailseal::tlog::{ProofVerdict, verify_proof_bytes};

use super::stdout;
use crate::cli::{OutputArgs, QUORUM_HINT, WitnessArgs};
use crate::error::{CliError, EXIT_ERROR, EXIT_OK, EXIT_TAMPERED, output};
use crate::files::read_limited;
use crate::json;

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print the verdict as one JSON object")))]
pub(crate) struct VerifyProofArgs {
    /// The proof file (`c2sp.org/tlog-proof@v1`, from `trailseal prove`).
    pub(crate) proof: PathBuf,
    /// The log's public key (KEY.pub) its checkpoint must be signed with.
    #[arg(long, value_name = "KEY.pub")]
    pub(crate) public_key: PathBuf,
    /// A trace (JSON) to check against the proven leaf, with the salt the proof file carries
    /// (made with `prove --with-trace`).
    #[arg(long, value_name = "T.json")]
    pub(crate) trace: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) witness: WitnessArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

fn verdict_text(verdict: &ProofVerdict, path: &str) -> String {
    match verdict {
        ProofVerdict::Verified(c) => {
            let mut t = format!("VERIFIED: {verdict}\n  proof: {path}\n");
            if c.trace_checked {
                t.push_str("  trace: matches the leaf's commitment\n");
            }
            if let Some(n) = c.cosignatures {
                t.push_str(&format!("  witnesses: {n} cosigned the checkpoint\n"));
            }
            t
        }
        ProofVerdict::Tampered { kind, detail } => {
            format!("TAMPERED ({}): {detail}\n  proof: {path}\n", kind.as_str())
        }
        ProofVerdict::Unverifiable { reason, detail } => {
            format!("UNVERIFIABLE ({}): {detail}\n", reason.as_str())
        }
        _ => format!("{}: {verdict}\n", verdict.status()),
    }
}

pub(crate) fn run(args: &VerifyProofArgs) -> Result<u8, CliError> {
    let public = read_public_key(&args.public_key)?;
    let bytes = read_limited(&args.proof, MAX_FILE_LEN)?;
    let trace = args
        .trace
        .as_deref()
        .map(|p| {
            let limit = trailseal::core::trace::DEFAULT_MAX_RECORD_BYTES;
            let bytes = read_limited(p, limit)?;
            if bytes.len() > limit {
                return Err(CliError::new(format!(
                    "{}: larger than {limit} bytes: not a trace",
                    p.display()
                )));
            }
            Ok(bytes)
        })
        .transpose()?;
    let verdict = verify_proof_bytes(
        &bytes,
        &public,
        trace.as_deref(),
        &args.witness.witness_keys,
        args.witness.quorum,
    )
    .map_err(|e| CliError::new(e.to_string()).hint(QUORUM_HINT))?;
    if !args.output.quiet {
        let text = if args.output.json() {
            json::proof_verdict(&verdict) + "\n"
        } else {
            verdict_text(&verdict, &args.proof.display().to_string())
        };
        stdout().write_all(text.as_bytes()).map_err(output)?;
    }
    Ok(match verdict {
        ProofVerdict::Verified(_) => EXIT_OK,
        ProofVerdict::Tampered { .. } => EXIT_TAMPERED,
        _ => EXIT_ERROR,
    })
}
