//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// List the retention log: prune and policy receipts.
    Retention(RetentionArgs),
    /// Create an Ed25519 signing key (for anchors and bundles) and its public key NAME.pub,
    /// or with --secret a random chain secret.
    Keygen(KeygenArgs),
    /// Sign the store's current head: a C2SP signed note to keep off the host.
    Anchor(AnchorArgs),
    /// Verify an export bundle offline, with the public key (and the secret, if given).
    VerifyBundle(VerifyBundleArgs),
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
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct RepairArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Say what would be removed; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The store to copy from.
    #[arg(long, value_name = "STORE")]
    pub(crate) from: String,
    /// The store to copy to (created; it must be empty).
    #[arg(long, value_name = "STORE")]
    pub(crate) to: String,
    /// Largest record read, in bytes (a JSONL line without its line end): a larger one is
    /// reported as malformed at its seq without being read into memory, and never appended.
    #[arg(long, value_name = "BYTES", default_value_t = trailseal::core::trace::DEFAULT_MAX_RECORD_BYTES)]
    pub(crate) max_record_bytes: usize,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Write the signing key here (mode 0600) and the public key to NAME.pub; with --secret,
    /// the chain secret (never overwritten).
    #[arg(long, value_name = "NAME")]
    pub(crate) out: PathBuf,
    /// The key's name inside signatures (default: the file name).
    #[arg(long, value_name = "KEY_NAME")]
    pub(crate) name: Option<String>,
    /// Make a chain secret instead: 32 random bytes written as 43 characters of base64url
    /// (mode 0600, never printed), for --secret-file or WEAVER_KERNEL_SECRET="$(cat FILE)".
    #[arg(long, conflicts_with = "name")]
    pub(crate) secret: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AnchorArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// The Ed25519 signing key (from `trailseal keygen`).
    #[arg(long, value_name = "KEY")]
    pub(crate) signing_key: PathBuf,
    /// Write the anchor here instead of stdout. Anchors are write-once: a file already there
    /// is never replaced (one holding this same anchored head is left as it is; an anchor of
    /// the same size with another head is reported as the tampering it proves, exit 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// The log's identity in the anchor (default: trailseal.local/<store file name>).
    #[arg(long)]
    pub(crate) origin: Option<String>,
}

#[derive(Debug, Args)]
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
    /// Print the verdict as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// Print nothing; the exit code is the verdict.
    #[arg(long, short)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("cutoff").required(true).args(["before", "older_than", "keep_last"])))]
pub(crate) struct PruneArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Remove the longest prefix of records invoked before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub(crate) before: Option<String>,
    /// Remove the longest prefix of records older than this (e.g. 183d, 12h, 1w2d).
    #[arg(long, value_name = "DURATION")]
    pub(crate) older_than: Option<String>,
    /// Remove all but the newest N records.
    #[arg(long, value_name = "N")]
    pub(crate) keep_last: Option<u64>,
    /// Say what would be removed; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// First write the removed records to this JSONL file (fsynced before anything is
    /// removed); it verifies on its own.
    #[arg(long, value_name = "FILE")]
    pub(crate) archive: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Refuse to prune records younger than this (e.g. 183d).
    #[arg(long, value_name = "DURATION", conflicts_with = "clear")]
    pub(crate) min_retention: Option<String>,
    /// Remove the minimum retention.
    #[arg(long)]
    pub(crate) clear: bool,
    /// Allow lowering (or clearing) the minimum retention.
    #[arg(long)]
    pub(crate) allow_decrease: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RetentionArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Print the receipts as a JSON array.
    #[arg(long)]
    pub(crate) json: bool,
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
    /// WEAVER_KERNEL_SECRET.
    #[arg(long, value_name = "PATH")]
    pub(crate) secret_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to create the demo store.
    #[arg(long, value_name = "PATH", default_value = "audit.db")]
    pub(crate) store: PathBuf,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
}

#[derive(Debug, Args)]
pub(crate) struct AppendArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Commit every N traces instead of all of stdin at once (for long streams; a bad trace
    /// then leaves the batches before it written).
    #[arg(long, value_name = "N")]
    pub(crate) commit_every: Option<usize>,
    /// Largest accepted trace, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = trailseal::core::trace::DEFAULT_MAX_TRACE_BYTES)]
    pub(crate) max_trace_bytes: usize,
    /// Print what was appended as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Print nothing on success (except --progress-json lines).
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// After each commit, once it is durable, print one JSON line to stdout (flushed):
    /// {"committed":N,"total":N,"first_seq":A,"last_seq":B,"head_hash":H,"last_action_id":ID}.
    /// Every trace a printed line covers survives a crash that follows.
    #[arg(long)]
    pub(crate) progress_json: bool,
    /// Write signed anchors of the head into this folder (to ship off the host): after a
    /// commit that crosses a multiple of --anchor-every, when --anchor-interval has passed,
    /// and at the end. Anchor files are never replaced, and the append is refused before it
    /// writes anything if the store no longer holds the newest anchor's head.
    #[arg(long, value_name = "DIR", requires = "signing_key")]
    pub(crate) anchor_dir: Option<PathBuf>,
    /// The Ed25519 signing key for anchors.
    #[arg(long, value_name = "KEY")]
    pub(crate) signing_key: Option<PathBuf>,
    /// Anchor every N records.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) anchor_every: u64,
    /// Anchor at least this often while appending (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION")]
    pub(crate) anchor_interval: Option<String>,
    /// The log's identity in anchors (default: trailseal.local/<store file name>).
    #[arg(long)]
    pub(crate) origin: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Print the verdict as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
    /// Print nothing; the exit code is the verdict.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Signed anchors the store must still match (repeatable); needs --public-key.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    pub(crate) anchor: Vec<PathBuf>,
    /// Check against every anchor in this folder (the anchor-NNNNNNNNNNNN.note files
    /// `append --anchor-dir` writes); needs --public-key.
    #[arg(long, value_name = "DIR", requires = "public_key")]
    pub(crate) anchor_dir: Option<PathBuf>,
    /// The public key the anchors are signed with.
    #[arg(long, value_name = "KEY.pub")]
    pub(crate) public_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StatusArg {
    /// Ran without an error.
    Succeeded,
    /// Ran and recorded an error.
    Failed,
    /// Refused by the policy (event_type "deny").
    Denied,
}

#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// Only traces of this principal_id.
    #[arg(long)]
    pub(crate) principal: Option<String>,
    /// Only traces of this capability_id.
    #[arg(long)]
    pub(crate) capability: Option<String>,
    /// Only succeeded or failed traces.
    #[arg(long, value_enum)]
    pub(crate) status: Option<StatusArg>,
    /// Only traces invoked at or after this time (RFC 3339; a date or a time without an
    /// offset is UTC).
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only traces invoked strictly before this time.
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// At most this many traces.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Print a JSON array of traces.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The action_id to show.
    pub(crate) action_id: String,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

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
}
