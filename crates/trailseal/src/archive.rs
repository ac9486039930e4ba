//! Archives of pruned records as SQLite files: weaver-kernel's schema, so weaver-kernel
//! verifies them with the secret they were written with, plus trailseal's own tables, which
//! hold what the JSONL archive's header holds (the chain's start, the retention log before the
//! prune, and the prune's receipt as `trailseal_meta.archive_of`).

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use trailseal_core::KeyId;
use trailseal_core::jsonl::Header;
use trailseal_core::start::StoredKeyId;
use trailseal_core::verify::{Flow, ScanItem};
use trailseal_store::{Format, ImportMeta, OpenMode, Snapshot, StoreError, StoreExt};

use crate::error::Error;

/// Records per call to the copy.
const BATCH: usize = 10_000;

/// Whether an archive at `path` is written as SQLite (its name says so).
pub(crate) fn is_sqlite(path: &Path) -> bool {
    Format::from_location(&path.to_string_lossy()) == Some(Format::Sqlite)
}

/// Writes the records `range` of `snapshot` to a new SQLite file at `path` with `header`'s
/// start, retention log and receipt, under `key_id`: built beside it under a temporary name,
/// committed, then renamed into place (never over an existing file) and the directory
/// fsynced. Returns the records written.
pub(crate) fn write_sqlite(
    snapshot: &mut Snapshot<'_>,
    path: &Path,
    header: &Header,
    range: RangeInclusive<u64>,
    key_id: KeyId,
) -> Result<u64, Error> {
    let shown = path.display().to_string();
    let io = |action: &'static str| {
        let shown = shown.clone();
        move |source| Error::Io {
            path: shown.clone(),
            action,
            source,
        }
    };
    if path.symlink_metadata().is_ok() {
        return Err(io("create the archive")(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "a file is already there; a SQLite archive is never written over one",
        )));
    }
    let temp = temp_path(path);
    let _ = std::fs::remove_file(&temp);
    let written = copy(snapshot, &temp, header, range, key_id);
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
    };
    let done = std::fs::File::open(&temp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::hard_link(&temp, path))
        .map_err(io("write the archive"));
    let _ = std::fs::remove_file(&temp);
    done?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync the archive's directory"))?;
    }
    Ok(written)
}

/// `.NAME.tmp-PID.db` beside `path`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}.db", std::process::id()))
}

fn copy(
    snapshot: &mut Snapshot<'_>,
    temp: &Path,
    header: &Header,
    range: RangeInclusive<u64>,
    key_id: KeyId,
) -> Result<u64, Error> {
    let location = temp.to_string_lossy().into_owned();
    let mut store = trailseal_store::open(
        &location,
        Some(Format::Sqlite),
        OpenMode::Write { create: true },
    )?;
    let mut import = store.import(&ImportMeta {
        start: header.start.clone(),
        retention: header.retention.clone(),
        key_id: StoredKeyId::Present(key_id),
        archive_of: header.archive_of.clone(),
    })?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0u64;
    let mut failure: Option<Error> = None;
    let bad = |seq: u64, problem: String| {
        Error::Store(StoreError::BadHead {
            location: location.clone(),
            seq,
            problem,
        })
    };
    snapshot.scan(*range.start(), &mut |item| {
        let record = match item {
            ScanItem::Record(r) if r.seq > *range.end() => return Flow::Stop,
            ScanItem::Record(r) => r,
            ScanItem::Malformed(m) => {
                failure = Some(bad(
                    m.seq.unwrap_or(0),
                    format!("{}: {}", m.location, m.problem),
                ));
                return Flow::Stop;
            }
        };
        let Some(r) = crate::migrate::import_record(record) else {
            failure = Some(bad(
                record.seq,
                "the record cannot be archived (not an export-shape trace with hex hashes)".into(),
            ));
            return Flow::Stop;
        };
        batch.push(r);
        if batch.len() >= BATCH {
            if let Err(e) = import.records(&batch) {
                failure = Some(e.into());
                return Flow::Stop;
            }
            written += batch.len() as u64;
            batch.clear();
        }
        Flow::Continue
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    import.records(&batch)?;
    written += batch.len() as u64;
    import.finish()?;
    Ok(written)
}

/// Adds to a SQLite archive written by this prune the receipts the store's retention log
/// gained meanwhile, and its new prune receipt, in one transaction.
pub(crate) fn reseal_sqlite(path: &Path, added: &[String], receipt: &str) -> Result<(), Error> {
    let mut store = trailseal_store::open(
        &path.to_string_lossy(),
        Some(Format::Sqlite),
        OpenMode::Write { create: false },
    )?;
    let mut tx = store.write()?;
    for r in added {
        tx.push_receipt(r)?;
    }
    tx.set_archive_of(receipt)?;
    tx.commit()?;
    Ok(())
}
