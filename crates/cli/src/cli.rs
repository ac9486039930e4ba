//! Command-line arguments: the command list and the options several commands share. Each
//! command's own arguments are declared beside it, in `commands/<command>.rs`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::{
    anchor::AnchorArgs, append::AppendArgs, completions::CompletionsArgs, demo::DemoArgs,
    export::ExportArgs, keygen::KeygenArgs, list::ListArgs, migrate::MigrateArgs,
    policy::PolicyArgs, prune::PruneArgs, repair::RepairArgs, retention::RetentionArgs,
    rotate::RotateArgs, seal::SealArgs, show::ShowArgs, tiles::TilesArgs, verify::VerifyArgs,
    verify_bundle::VerifyBundleArgs,
};
use crate::commands::{
    checkpoint::CheckpointArgs, consistency::ConsistencyArgs, prove::ProveArgs,
    verify_proof::VerifyProofArgs,
};

/// Tamper-evident audit log for AI-agent actions.
///
/// Stores are weaver-kernel 0.12.0 compatible: a path ending in .db, .sqlite or .sqlite3 is a
/// SQLite store, .jsonl a JSONL store (--format overrides). The chain secret comes from
/// WEAVER_KERNEL_SECRET or --secret-file.
///
/// Exit codes: 0 success (verified), 1 tampered, 2 unverifiable or error.
#[derive(Debug, Parser)]
#[command(name = "trailseal", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Record a realistic set of agent actions into a new SQLite store, verify it, and show
    /// tampering being caught on a copy.
    Demo(DemoArgs),
    /// Append traces (export shape, one JSON object a line) read from stdin.
    Append(AppendArgs),
    /// Verify a store's chain. Exit 0 verified, 1 tampered, 2 unverifiable.
    Verify(VerifyArgs),
    /// List traces, optionally filtered.
    List(ListArgs),
    /// Show one trace and its chain fields.
    Show(ShowArgs),
    /// Export the chain, chain fields included, to a JSONL file that verifies on its own.
    Export(ExportArgs),
    /// Remove the oldest records (a seq prefix) with an authenticated receipt, so the rest
    /// still verifies.
    Prune(PruneArgs),
    /// Show or set the store's minimum retention (an authenticated policy receipt).
    Policy(PolicyArgs),
    /// List the retention log: prune, policy and rotate receipts.
    Retention(RetentionArgs),
    /// Move the store to another chain secret of the keyring, with a receipt MAC'd by both
    /// (in place, or as a new segment: the old key's records go to an archive).
    Rotate(RotateArgs),
    /// Forward-secure seals: start a chain of epoch keys (--init), or close the open epoch
    /// when it is due (by records or time): its seal is signed, the next key certified, and
    /// the previous key erased.
    Seal(SealArgs),
    /// Create an Ed25519 signing key (for anchors and bundles) and its public key NAME.pub,
    /// or with --secret a random chain secret.
    Keygen(KeygenArgs),
    /// Sign the store's current head: a C2SP signed note to keep off the host.
    Anchor(AnchorArgs),
    /// Verify an export bundle offline, with the public key (and the secret, if given).
    VerifyBundle(VerifyBundleArgs),
    /// Sign a C2SP checkpoint of the store's Merkle tree (from one verified snapshot),
    /// optionally cosigned by witnesses.
    Checkpoint(CheckpointArgs),
    /// Write a c2sp.org/tlog-proof@v1 file: one record's inclusion in a checkpoint's tree.
    Prove(ProveArgs),
    /// Print the RFC 6962 consistency proof between two tree sizes (base64, one a line).
    Consistency(ConsistencyArgs),
    /// Verify a proof file offline, with the log's public key alone. Exit 0 verified, 1
    /// tampered, 2 unverifiable.
    VerifyProof(VerifyProofArgs),
    /// Copy a chain between stores (any backends), every hash, checkpoint and receipt kept;
    /// the copy is verified before success is reported.
    Migrate(MigrateArgs),
    /// Print the canonical form of JSON values read one a line from stdin.
    Canonical,
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout.
    ///
    /// bash: `trailseal completions bash > ~/.local/share/bash-completion/completions/trailseal`;
    /// zsh: into a directory of $fpath as `_trailseal`; fish: `~/.config/fish/completions/trailseal.fish`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) to stdout: `trailseal man | man -l -`.
    Man,
    /// Remove an interrupted write (an incomplete last line of a JSONL store, left by an
    /// append that was killed), once every record before it verifies. Exit 0 repaired or
    /// nothing to repair, 1 the store does not verify (nothing changed), 2 unverifiable.
    Repair(RepairArgs),
    /// Publish the store's Merkle tree as C2SP tlog-tiles: DIR/checkpoint (signed), the hash
    /// tiles and the entry bundles, for any static file server. Verifies the store first;
    /// incremental: full tiles are never rewritten, the checkpoint is written last.
    Tiles(TilesArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    Sqlite,
    Jsonl,
}

#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The store: a SQLite file (.db, .sqlite, .sqlite3), a JSONL file (.jsonl), or a
    /// PostgreSQL URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME]; also
    /// postgresql://). Other paths need --format.
    #[arg(
        long,
        value_name = "STORE",
        env = "TRAILSEAL_STORE",
        hide_env_values = true
    )]
    pub(crate) store: String,
    /// The store format, when the extension does not say.
    #[arg(long, value_enum)]
    pub(crate) format: Option<FormatArg>,
    /// Largest record read, in bytes (a JSONL line without its line end): a larger one is
    /// reported as malformed at its seq without being read into memory, and never appended.
    #[arg(long, value_name = "BYTES", default_value_t = trailseal::core::trace::DEFAULT_MAX_RECORD_BYTES)]
    pub(crate) max_record_bytes: usize,
}

#[derive(Debug, Args)]
pub(crate) struct SecretArgs {
    /// Read the chain secret from this file (one trailing newline is ignored) instead of
    /// WEAVER_KERNEL_SECRET. Given more than once, the files make a keyring (each key
    /// labelled with its path as given), as WEAVER_KERNEL_SECRETS does.
    #[arg(long, value_name = "PATH")]
    pub(crate) secret_file: Vec<PathBuf>,
    /// The key of the keyring that writes (its label); default WEAVER_KERNEL_ACTIVE_KEY, or
    /// the only key.
    #[arg(long, value_name = "LABEL")]
    pub(crate) active_key: Option<String>,
}

/// `--json`, for every command that can print its result as JSON: declared here once (a
/// command words its help for what it prints with `#[command(mut_arg("json", ..))]`).
#[derive(Debug, Args)]
pub(crate) struct JsonArg {
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--json` and `--quiet`, for the commands whose exit code is their answer (declared here
/// once, like [`JsonArg`]).
#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    #[command(flatten)]
    pub(crate) format: JsonArg,
    /// Print nothing; the exit code is the verdict.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

impl OutputArgs {
    pub(crate) fn json(&self) -> bool {
        self.format.json
    }
}

/// `--witness-key VKEY... [--quorum N]`, for the offline checks of a signed checkpoint
/// (`verify-proof`, `verify-bundle`; declared here once).
#[derive(Debug, Args)]
pub(crate) struct WitnessArgs {
    /// A witness's verifier key (vkey) whose cosignature counts (repeatable).
    #[arg(long = "witness-key", value_name = "VKEY", value_parser = parse_witness_key)]
    pub(crate) witness_keys: Vec<trailseal::core::cosignature::WitnessKey>,
    /// How many distinct witnesses must have cosigned the checkpoint.
    #[arg(long, value_name = "N", default_value_t = 1, requires = "witness_keys")]
    pub(crate) quorum: usize,
}

fn parse_witness_key(text: &str) -> Result<trailseal::core::cosignature::WitnessKey, String> {
    trailseal::core::cosignature::WitnessKey::parse_vkey(text).map_err(|e| e.to_string())
}

/// The hint for a quorum that cannot be evaluated.
pub(crate) const QUORUM_HINT: &str =
    "--quorum must be between 1 and the number of distinct --witness-key";

/// A duration flag (`183d`, `12h`, `1w2d`), parsed by clap; it keeps the text as written, so
/// messages echo `26w` rather than `182d`.
#[derive(Debug, Clone)]
pub(crate) struct DurationArg {
    micros: i64,
    written: String,
}

impl DurationArg {
    /// The duration in microseconds.
    pub(crate) fn micros(&self) -> i64 {
        self.micros
    }

    /// The duration as the user wrote it.
    pub(crate) fn as_written(&self) -> &str {
        &self.written
    }
}

impl FromStr for DurationArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match trailseal::core::time::parse_duration(text) {
            Some(micros) => Ok(Self {
                micros,
                written: text.to_owned(),
            }),
            None => Err(
                "not a duration: use a number and a unit: 183d, 26w, 12h, 30m, 45s, or a sum such as 1d12h"
                    .to_owned(),
            ),
        }
    }
}

impl fmt::Display for DurationArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// clap's own consistency checks (every `requires`, `conflicts_with`, group member and
    /// `mut_arg` names an argument that exists).
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_are_parsed_by_clap_and_echoed_as_written() {
        let cli = Cli::try_parse_from([
            "trailseal",
            "prune",
            "--store",
            "s.jsonl",
            "--older-than",
            "26w",
        ])
        .unwrap();
        let Command::Prune(args) = cli.command else {
            panic!("not prune");
        };
        let d = args.older_than.unwrap();
        assert_eq!(d.micros(), 26 * 7 * 86_400 * 1_000_000);
        assert_eq!(d.to_string(), "26w");
        for bad in ["", "26", "w", "1x", "-1d", "99999999999999999999d"] {
            let flag = format!("--min-retention={bad}");
            let e = Cli::try_parse_from(["trailseal", "policy", "--store", "s.jsonl", &flag])
                .unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad:?}");
            assert!(e.to_string().contains("not a duration"), "{bad:?}: {e}");
        }
    }
}
