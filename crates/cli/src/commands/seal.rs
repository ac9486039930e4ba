//! `trailseal seal`: forward-secure seals of the store. `--init` starts the chain of epoch
//! keys (printing the root public key to keep off the host); without it, the open epoch is
//! closed when it is due (or with `--force`): its seal is written, the next epoch's key drawn
//! and certified, and the previous key erased from the state file.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use trailseal::OpenMode;
use trailseal::core::seal::EpochPolicy;
use trailseal::core::trace::TraceLimits;
use trailseal::seal::SealSetup;

use super::anchor::default_origin;
use super::{load_key, open, refused, stdout};
use crate::cli::{DurationArg, JsonArg, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};
use crate::json;

#[derive(Debug, Args)]
pub(crate) struct SealArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// The seal directory: epoch certificates and seals (to ship off the host, or serve).
    #[arg(long, value_name = "DIR")]
    pub(crate) seal_dir: PathBuf,
    /// The seal state: the open epoch and its private key (mode 0600, rewritten at every
    /// epoch; the previous key is gone once it is).
    #[arg(long, value_name = "STATE")]
    pub(crate) seal_key: PathBuf,
    /// Start sealing: draw epoch 0's key, write its certificate and the state (neither may
    /// exist), and print the root public key.
    #[arg(long)]
    pub(crate) init: bool,
    /// The seals' origin (with --init; default: trailseal.local/<store file name>/seal).
    #[arg(long, requires = "init")]
    pub(crate) origin: Option<String>,
    /// An epoch closes after this many records (with --init).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub(crate) epoch_records: u64,
    /// An epoch closes after this long, idle or not (with --init; whole seconds).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub(crate) epoch_time: DurationArg,
    /// Close the open epoch now, due or not.
    #[arg(long, conflicts_with = "init")]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) output: JsonArg,
}

pub(crate) fn run(args: &SealArgs) -> Result<u8, CliError> {
    let ring = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let mut log = open(
        &args.store,
        OpenMode::Write { create: false },
        TraceLimits::default(),
    )?
    .with_keyring(ring);
    let now = trailseal::now();
    if args.init {
        let seconds = u64::try_from(args.epoch_time.micros() / 1_000_000).unwrap_or(0);
        if seconds == 0 || args.epoch_records == 0 {
            return Err(CliError::new(
                "--epoch-records and --epoch-time must be at least 1 record and 1 second",
            ));
        }
        let origin = args
            .origin
            .clone()
            .unwrap_or_else(|| format!("{}/seal", default_origin(log.location())));
        let root = log
            .seal_init(
                &args.seal_dir,
                &args.seal_key,
                &SealSetup {
                    origin,
                    policy: EpochPolicy {
                        max_records: args.epoch_records,
                        max_seconds: seconds,
                    },
                },
                now,
            )
            .map_err(refused)?;
        let text = if args.output.json {
            format!("{{\"root_public_key\":\"{}\"}}\n", root.to_key_string())
        } else {
            // The key alone on stdout (`seal --init > root.pub`), the advice on stderr.
            let _ = writeln!(
                std::io::stderr().lock(),
                "sealing started: keep this root public key off the host (also in {}/root.pub); verify with --seals {} --seal-public-key FILE",
                args.seal_dir.display(),
                args.seal_dir.display()
            );
            format!("{}\n", root.to_key_string())
        };
        stdout().write_all(text.as_bytes()).map_err(output)?;
        return Ok(EXIT_OK);
    }
    let report = log
        .seal(&args.seal_dir, &args.seal_key, now, args.force)
        .map_err(refused)?;
    let text = if args.output.json {
        json::sealed(&report) + "\n"
    } else {
        match report.sealed {
            Some(e) => format!(
                "sealed epoch {e} at tree size {} ({}); epoch {} is open under a new key, the previous one erased\n",
                report.tree_size,
                report.reason.unwrap_or_default(),
                report.epoch
            ),
            None => format!(
                "epoch {} is not due yet (tree size {}); nothing sealed\n",
                report.epoch, report.tree_size
            ),
        }
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(EXIT_OK)
}
