//! The commands, one file each, and what they share: opening the store, loading the secret,
//! the exit code of a verdict, refusals, time flags.

pub(crate) mod anchor;
pub(crate) mod append;
pub(crate) mod canonical;
pub(crate) mod checkpoint;
pub(crate) mod completions;
pub(crate) mod consistency;
pub(crate) mod demo;
pub(crate) mod export;
pub(crate) mod keygen;
pub(crate) mod list;
pub(crate) mod man;
pub(crate) mod migrate;
pub(crate) mod policy;
pub(crate) mod prove;
pub(crate) mod prune;
pub(crate) mod repair;
pub(crate) mod retention;
pub(crate) mod rotate;
pub(crate) mod seal;
pub(crate) mod show;
pub(crate) mod tiles;
pub(crate) mod verify;
pub(crate) mod verify_bundle;
pub(crate) mod verify_proof;

use std::io::Write;

use trailseal::Keyring;
use trailseal::core::time::Offset;
use trailseal::core::trace::TraceLimits;
use trailseal::secret;
use trailseal::{AuditLog, ChainKey, Format, OpenMode, OpenOptions, Timestamp, Verdict};

use crate::cli::{Cli, Command, FormatArg, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_ERROR, EXIT_OK, EXIT_TAMPERED};

pub(crate) fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Append(args) => append::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::List(args) => list::run(&args),
        Command::Show(args) => show::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Prune(args) => prune::run(&args),
        Command::Policy(args) => policy::run(&args),
        Command::Retention(args) => retention::run(&args),
        Command::Rotate(args) => rotate::run(&args),
        Command::Seal(args) => seal::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Anchor(args) => anchor::run(&args),
        Command::VerifyBundle(args) => verify_bundle::run(&args),
        Command::Checkpoint(args) => checkpoint::run(&args),
        Command::Prove(args) => prove::run(&args),
        Command::Consistency(args) => consistency::run(&args),
        Command::VerifyProof(args) => verify_proof::run(&args),
        Command::Migrate(args) => migrate::run(&args),
        Command::Canonical => canonical::run(),
        Command::Completions(args) => completions::run(&args),
        Command::Man => man::run(),
        Command::Repair(args) => repair::run(&args),
        Command::Tiles(args) => tiles::run(&args),
    }
}

fn format_of(args: &StoreArgs) -> Option<Format> {
    args.format.map(|f| match f {
        FormatArg::Sqlite => Format::Sqlite,
        FormatArg::Jsonl => Format::Jsonl,
    })
}

pub(crate) fn open(
    args: &StoreArgs,
    mode: OpenMode,
    limits: TraceLimits,
) -> Result<AuditLog, CliError> {
    Ok(AuditLog::open(
        &args.store,
        &open_options(args, mode, limits),
    )?)
}

/// The library's options for what the store flags say.
pub(crate) fn open_options(args: &StoreArgs, mode: OpenMode, limits: TraceLimits) -> OpenOptions {
    OpenOptions {
        format: format_of(args),
        mode,
        limits,
        max_record_bytes: args.max_record_bytes,
    }
}

/// The chain key from --secret-file or WEAVER_KERNEL_SECRET; warns about a secret file
/// others can read.
pub(crate) fn load_key(args: &SecretArgs) -> Result<Option<Keyring>, CliError> {
    for path in &args.secret_file {
        warn_shared_file(path, "the secret file");
    }
    let ring = secret::resolve_keyring(&args.secret_file, args.active_key.as_deref())?;
    if let Some(ring) = &ring {
        for key in ring.keys() {
            warn_weak_secret(key);
        }
    }
    Ok(ring)
}

/// Warns on stderr when `path` (a secret or key file) can be read by other users.
pub(crate) fn warn_shared_file(path: &std::path::Path, what: &str) {
    if secret::file_is_shared(path) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "warning: {}: {what} can be read by other users; `chmod 600` it",
            path.display()
        );
    }
}

/// Warns on stderr about a secret that is short or looks like a word (never showing it).
fn warn_weak_secret(key: &ChainKey) {
    let strength = key.strength();
    let what = match (
        strength.shorter_than_recommended(),
        strength.looks_like_a_word(),
    ) {
        (true, true) => "is shorter than 32 bytes and looks like a word",
        (true, false) => "is shorter than 32 bytes",
        (false, true) => "looks like a word",
        (false, false) => return,
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "warning: the chain secret {what}: anyone holding an anchor, a bundle or a disclosed \
         record can test guesses of it offline. New stores should use 32 random bytes: \
         `trailseal keygen --secret --out FILE` makes such a secret (existing stores keep \
         working with theirs)"
    );
}

pub(crate) fn stdout() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

pub(crate) fn verdict_exit(verdict: &Verdict) -> u8 {
    match verdict {
        Verdict::Verified(_) => EXIT_OK,
        Verdict::Tampered(_) => EXIT_TAMPERED,
        _ => EXIT_ERROR,
    }
}

/// A time flag (`--since`, `--before`, ...): RFC 3339, or a date or a time without an offset
/// (UTC).
pub(crate) fn parse_time(flag: &str, value: &str) -> Result<Timestamp, CliError> {
    Timestamp::parse(value, Offset::DefaultUtc).map_err(|e| {
        CliError::new(format!("--{flag} {value:?}: {e}"))
            .hint("use RFC 3339, e.g. 2026-11-27T10:00:00Z, or a date such as 2026-11-27 (UTC)")
    })
}

/// A command refused because the store does not verify (with the verdict's exit code) or by
/// the retention policy; other errors as usual.
pub(crate) fn refused(e: trailseal::Error) -> CliError {
    match e {
        trailseal::Error::NotVerified { verdict } => {
            let code = matches!(*verdict, Verdict::Tampered(_));
            let err = CliError::new(format!(
                "refusing: the store does not verify: {}",
                verdict.detail()
            ))
            .hint("run `trailseal verify` for the full verdict; nothing was changed");
            if code { err.exit(EXIT_TAMPERED) } else { err }
        }
        trailseal::Error::Policy(e) => CliError::new(e.to_string())
            .hint("`trailseal policy --store STORE` shows the minimum retention"),
        other => other.into(),
    }
}
