//! `trailseal migrate`: a chain copied between stores (any backends), verified before
//! success is reported; a destination this command created is removed again on failure.

use std::io::Write;

use clap::Args;
use trailseal::{AuditLog, OpenMode};

use super::{load_key, refused, stdout};
use crate::cli::SecretArgs;
use crate::error::{CliError, EXIT_OK, output};
use crate::output::{ProgressLine, plural};

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

pub(crate) fn run(args: &MigrateArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let limits = trailseal::OpenOptions {
        max_record_bytes: args.max_record_bytes,
        ..trailseal::OpenOptions::default()
    };
    let mut from = AuditLog::open(&args.from, &limits)?.with_keyring(key);
    // A destination file this command creates is removed again if the copy fails, so a
    // refused or failed migration leaves the file system as it was.
    let mut created = None;
    let mut progress = ProgressLine::doing(true, "migrating");
    let migrated = from.migrate_into(
        || {
            let path = std::path::Path::new(&args.to);
            let existed = path.exists();
            let store = trailseal::store::open_with(
                &args.to,
                None,
                OpenMode::Write { create: true },
                &trailseal::store::StoreOptions {
                    max_record_bytes: args.max_record_bytes,
                },
            )?;
            if !existed {
                created = file_id(path).map(|id| (path.to_owned(), id));
            }
            Ok(store)
        },
        &mut |p| progress.update(p),
    );
    let (to, report) = match migrated {
        Ok(done) => done,
        Err(e) => {
            progress.finish();
            if let Some((path, id)) = created {
                remove_created(&path, id);
            }
            return Err(refused(e));
        }
    };
    progress.finish();
    writeln!(
        stdout(),
        "copied {} record{} ({}) and {} retention receipt{} from {} to {}; the copy verifies",
        report.records,
        plural(report.records),
        match (report.first_seq, report.last_seq) {
            (Some(a), Some(b)) => format!("seq {a} to {b}"),
            _ => "none".into(),
        },
        report.receipts,
        plural(report.receipts),
        from.location(),
        to.location()
    )
    .map_err(output)?;
    Ok(EXIT_OK)
}

/// A file's identity (device and inode), to tell it from one another process put in its place.
#[cfg(unix)]
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Without inodes nothing is removed.
#[cfg(not(unix))]
fn file_id(_: &std::path::Path) -> Option<(u64, u64)> {
    None
}

/// Removes a store file (and SQLite's side files) that a failed command created: only if it
/// is still that file and holds no record and no receipt, so that a store another process
/// created and wrote meanwhile under the same name is never removed.
fn remove_created(path: &std::path::Path, id: (u64, u64)) {
    if file_id(path) != Some(id) {
        return;
    }
    let empty = path.to_str().is_some_and(|location| {
        trailseal::store::open(location, None, OpenMode::Read)
            .and_then(|mut store| store.state())
            .is_ok_and(|state| state.head.is_none() && state.retention.is_empty())
    });
    if !empty {
        return;
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(std::path::PathBuf::from(name));
    }
}
